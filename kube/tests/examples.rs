//! The Kubernetes manifests of the project's notes (EXAMPLES.md), read as a user would see them.

use rbox_kube::plan::{PodFacts, PodNaming, ServiceKind, WorkloadKind};
use rbox_kube::{naming, parse, plan, Resource};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(names: &[&str]) -> Vec<rbox_kube::Object> {
    let mut objects = Vec::new();
    for name in names {
        let p = parse(name, &fixture(name)).unwrap_or_else(|e| panic!("{e}"));
        assert!(p.warnings.is_empty(), "{name}: {:?}", p.warnings);
        objects.extend(p.objects);
    }
    objects
}

#[test]
fn the_pod_of_two_containers() {
    let objects = read(&["simple-pod.yaml"]);
    let plan = plan(&objects).unwrap();
    assert!(plan.warnings.is_empty());
    let w = &plan.workloads[0];
    assert_eq!(
        (w.kind, w.name.as_str(), w.replicas),
        (WorkloadKind::Pod, "simple-echo", 1)
    );
    assert_eq!(w.pod_names, PodNaming::Fixed("simple-echo".into()));
    let names: Vec<&str> = w.pod.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["nginx", "echo"]);
    let nginx = &w.pod.containers[0];
    assert_eq!(nginx.image, "gihyodocker/nginx-proxy:latest");
    assert_eq!(
        nginx.env_for(&PodFacts::default()),
        [("BACKEND_HOST".to_string(), "localhost:8080".to_string())]
    );
    assert_eq!(nginx.ports[0].container_port, 80);
    assert_eq!(w.pod.containers[1].ports[0].container_port, 8080);
    // Nothing is published on the host: the pod's ports are reached on its address.
    assert_eq!(w.pod.published_ports().count(), 0);
    // The image's own entrypoint and command run.
    assert_eq!(
        nginx.argv(&["/entry".into()], &["nginx".into()], &[]),
        ["/entry", "nginx"]
    );
}

#[test]
fn the_replicaset_of_three() {
    let objects = read(&["simple-replicaset.yaml"]);
    let plan = plan(&objects).unwrap();
    let w = &plan.workloads[0];
    assert_eq!(
        (w.kind, w.name.as_str(), w.replicas),
        (WorkloadKind::ReplicaSet, "echo", 3)
    );
    let pod = w.pod_names.next();
    assert!(
        pod.starts_with("echo-") && pod.len() == "echo-".len() + 5,
        "{pod}"
    );
    assert_eq!(w.pod.labels.get("app").map(String::as_str), Some("echo"));
    assert_eq!(w.labels.get("app").map(String::as_str), Some("echo"));
}

#[test]
fn the_deployment_names_pods_as_kubernetes_does() {
    let objects = read(&["simple-deployment.yaml"]);
    let plan = plan(&objects).unwrap();
    let w = &plan.workloads[0];
    assert_eq!((w.kind, w.replicas), (WorkloadKind::Deployment, 3));
    let rollout = w.rollout.as_ref().unwrap();
    // echo-567f778dbb-cm765: the ReplicaSet is the Deployment and its template hash.
    assert_eq!(rollout.replica_set, format!("echo-{}", w.template_hash));
    assert!(w
        .template_hash
        .chars()
        .all(|c| naming::ALPHABET.contains(&(c as u8))));
    let pod = w.pod_names.next();
    assert_eq!(pod.len(), rollout.replica_set.len() + 6);
    assert_eq!(w.pod.labels[naming::POD_TEMPLATE_HASH], w.template_hash);
    assert_eq!(rollout.revision_history_limit, 10);

    // Adding pods changes no revision; changing the template does.
    let Resource::Deployment(d) = &objects[0].resource else {
        panic!()
    };
    let mut history = rbox_kube::rollout::History::new("echo");
    history.record(&d.spec.template, &w.template_hash, None);
    let mut more = d.clone();
    more.spec.replicas = Some(5);
    assert_eq!(naming::template_hash(&more.spec.template), w.template_hash);
    let mut changed = d.clone();
    changed.spec.template.spec.containers[1].image = Some("gihyodocker/echo:v2".into());
    let hash2 = naming::template_hash(&changed.spec.template);
    assert_ne!(hash2, w.template_hash);
    history.record(&changed.spec.template, &hash2, None);
    assert_eq!(
        history.table(),
        "deployment.apps/echo\nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );
    let back = history.undo(None).unwrap();
    assert_eq!(
        (back.number, back.template_hash.as_str()),
        (3, w.template_hash.as_str())
    );
}

#[test]
fn services_select_the_deployment() {
    let objects = read(&["simple-deployment.yaml", "services.yaml"]);
    let plan = plan(&objects).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let s: Vec<_> = plan
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.kind.clone(), s.workloads.clone()))
        .collect();
    assert_eq!(
        s,
        [
            (
                "echo",
                ServiceKind::ClusterIp { headless: false },
                vec!["echo".to_string()]
            ),
            (
                "echo-nodeport",
                ServiceKind::NodePort,
                vec!["echo".to_string()]
            ),
            (
                "gihyo",
                ServiceKind::ExternalName("gihyo.jp".into()),
                vec![]
            ),
        ]
    );
    assert_eq!(plan.services[1].ports[0].node_port, Some(30080));
    assert_eq!(plan.services[1].ports[0].targets[0].container_port, 8080);
}

#[test]
fn all_in_one_file() {
    let text = ["simple-pod.yaml", "simple-deployment.yaml", "services.yaml"]
        .map(fixture)
        .join("---\n");
    let p = parse("all.yaml", &text).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.objects.len(), 5);
    assert_eq!(p.objects[1].line, 19);
}
