//! `system prune`: stopped containers first (the images they held become unused), then
//! images, networks and, when asked, anonymous volumes.

use rbox_image::Store;

use crate::ops::networks;
use crate::ops::prune::{self, ContainersPruned, ImagesPruned};
use crate::store::containers::Containers;

/// What `system prune` removed.
#[derive(Debug, Clone, Default)]
pub struct Pruned {
    /// The containers.
    pub containers: ContainersPruned,
    /// The images.
    pub images: ImagesPruned,
    /// The names of the networks.
    pub networks: Vec<String>,
    /// The names of the volumes.
    pub volumes: Vec<String>,
}

impl Pruned {
    /// Bytes freed by containers and images.
    pub fn space(&self) -> u64 {
        self.containers.space + self.images.space
    }
}

/// Removes the stopped containers, the dangling images (`all_images`: every image no
/// container uses), the unused networks and (`volumes`) the unused anonymous volumes.
pub fn prune(
    store: &Store,
    containers: &Containers,
    all_images: bool,
    volumes: bool,
) -> crate::Result<Pruned> {
    let cs = prune::prune_containers(containers)?;
    let images = prune::prune_images(store, containers, all_images)?;
    let nets = networks::prune(containers)?;
    let vols = if volumes {
        containers.prune_volumes(false)?
    } else {
        Vec::new()
    };
    Ok(Pruned {
        containers: cs,
        images,
        networks: nets,
        volumes: vols,
    })
}
