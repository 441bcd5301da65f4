//! `system prune`: stopped containers first (the images they held become unused), then
//! images, networks and, when asked, anonymous volumes. `system boot`: what an init
//! system runs once at boot, so restart policies outlive a reboot without a daemon.

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

/// What `system boot` did.
#[derive(Debug, Default)]
pub struct Booted {
    /// The names of the containers started.
    pub started: Vec<String>,
    /// The containers that could not start, with why.
    pub failed: Vec<(String, crate::Error)>,
}

/// Once at boot: what runs no more is recorded as ended and its leftovers undone (mounts,
/// network namespaces, addresses, cgroups: see `ops::lifecycle::reconcile`), then every
/// container whose policy says so is started again: `always`, and `unless-stopped`
/// unless the user stopped it, of those that ran before.
pub fn boot(containers: &Containers) -> crate::Result<Booted> {
    let all = crate::ops::lifecycle::reconcile_all(containers)?;
    crate::host::net::sweep_addresses(containers);
    let mut out = Booted::default();
    for c in all.into_iter().rev() {
        let s = &c.state;
        let wanted = s.started_at.is_some()
            && !s.is_running()
            && match c.config.host.restart_policy.name.as_str() {
                "always" => true,
                "unless-stopped" => !s.stopped_by_user,
                _ => false,
            };
        if !wanted {
            continue;
        }
        match crate::ops::run::start_detached(containers, &c.config.id) {
            Ok(()) => out.started.push(c.config.name.clone()),
            Err(e) => out.failed.push((c.config.name.clone(), e)),
        }
    }
    Ok(out)
}

/// Removes the stopped containers, the dangling images (`all_images`: every image no
/// container uses), the unused networks and (`volumes`) the unused anonymous volumes,
/// each that `filter` admits.
pub fn prune(
    store: &Store,
    containers: &Containers,
    all_images: bool,
    volumes: bool,
    filter: &crate::model::prune_filter::PruneFilter,
) -> crate::Result<Pruned> {
    let cs = prune::prune_containers(containers, filter)?;
    let images = prune::prune_images(store, containers, all_images, filter)?;
    let nets = networks::prune(containers, filter)?;
    let vols = if volumes {
        containers.prune_volumes(false, filter)?
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
