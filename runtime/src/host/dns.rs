//! The resolver of user networks (rbox_network::dns) from a run's side: the container's
//! names (its name and aliases) registered on each user network as its run attaches, the
//! network's resolver started if it is not running, and the names taken back as the run
//! detaches (the resolver ends with its network's last names).

use rbox_network::dns::{server, Names};
use rbox_network::store::DEFAULT_NETWORK;
use rbox_network::Networks;

use crate::model::container::ContainerConfig;
use crate::store::containers::Containers;

/// Registers a starting container's names and makes sure its networks' resolvers run.
pub fn attached(containers: &Containers, config: &ContainerConfig) {
    let root = containers.root();
    let names = Names::open(root);
    let nets = Networks::open(root);
    for ep in config
        .host
        .networks
        .iter()
        .filter(|e| e.network != DEFAULT_NETWORK)
    {
        let Ok(net) = nets.get(&ep.network_id) else {
            continue;
        };
        let mut own = vec![config.name.clone()];
        own.extend(ep.aliases.iter().cloned());
        if let Err(e) = names.register(&net, ep.ip_address, &config.id, &own) {
            tracing::warn!(network = %net.name, error = %e, "registering names");
            continue;
        }
        if let Err(e) = server::ensure(root, &net) {
            tracing::warn!(network = %net.name, error = %e, "starting the network's resolver");
        }
    }
}

/// Takes a stopping container's names back.
pub fn detached(containers: &Containers, config: &ContainerConfig) {
    let names = Names::open(containers.root());
    let nets = Networks::open(containers.root());
    for ep in &config.host.networks {
        if let Ok(net) = nets.get(&ep.network_id) {
            names.unregister(&net, ep.ip_address, &config.id);
        }
    }
}
