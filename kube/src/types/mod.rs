//! The subset of the Kubernetes API types rbox reads and writes.
//!
//! Written by hand rather than taken from a generated crate (k8s-openapi is about 100k lines
//! of every kind and version): these are the kinds and fields rbox acts on, each field here
//! has a meaning in the plan, and a field not here is reported when read.

mod config;
mod meta;
mod pod;
mod volume;
mod workload;

pub use config::*;
pub use meta::*;
pub use pod::*;
pub use volume::*;
pub use workload::*;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The field names Kubernetes spells outside camelCase's rule.
    #[test]
    fn field_names_as_kubernetes_spells_them() {
        let spec = ServiceSpec {
            type_: Some(ServiceType::ClusterIP),
            cluster_ip: Some("None".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            json!({"type": "ClusterIP", "clusterIP": "None"})
        );
        let port = ContainerPort {
            container_port: 80,
            host_ip: Some("127.0.0.1".into()),
            protocol: Some(Protocol::Udp),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&port).unwrap(),
            json!({"containerPort": 80, "hostIP": "127.0.0.1", "protocol": "UDP"})
        );
        let pod = PodSpec {
            host_pid: Some(true),
            host_ipc: Some(false),
            restart_policy: Some(RestartPolicy::OnFailure),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&pod).unwrap(),
            json!({"containers": [], "restartPolicy": "OnFailure", "hostPID": true, "hostIPC": false})
        );
        let v: Volume =
            serde_json::from_value(json!({"name": "h", "hostPath": {"path": "/x", "type": ""}}))
                .unwrap();
        assert_eq!(v.host_path.unwrap().type_, Some(HostPathType::Unchecked));
        let e: EmptyDirVolumeSource =
            serde_json::from_value(json!({"medium": "Memory", "sizeLimit": "1Gi"})).unwrap();
        assert_eq!(
            (e.medium, e.size_limit.unwrap().bytes()),
            (Some(StorageMedium::Memory), Ok(1 << 30))
        );
    }

    #[test]
    fn defaults_as_kubernetes_fills_them() {
        let d = DeploymentSpec::default();
        assert_eq!((d.replicas(), d.revision_history_limit()), (1, 10));
        assert_eq!(
            d.strategy(),
            Strategy::RollingUpdate {
                max_surge: crate::IntOrString::String("25%".into()),
                max_unavailable: crate::IntOrString::String("25%".into())
            }
        );
        assert_eq!(PodSpec::default().restart_policy(), RestartPolicy::Always);
        assert_eq!(ObjectMeta::default().namespace(), "default");
    }
}
