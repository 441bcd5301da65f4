//! `kube generate`'s YAML against Kubernetes' own schemas, strictly (no unknown field), with
//! kubernetes-validate (PyPI; it bundles the schemas and runs offline). `make deps` installs
//! it into target/venv.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use rbox_kube::generate::{ContainerInput, MountInput, MountSource, PortInput, WorkloadInput};
use rbox_kube::types::{HostPathType, Protocol, RestartPolicy};

/// The Kubernetes version whose schemas the YAML must satisfy.
const KUBERNETES_VERSION: &str = "1.37.0";

fn tool() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin/kubernetes-validate");
    assert!(
        path.exists(),
        "{} is missing: run `make deps` (it installs kubernetes-validate into target/venv)",
        path.display()
    );
    path
}

fn validate(name: &str, yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new(tool())
        .args(["--strict", "-k", KUBERNETES_VERSION])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stdout.contains("WARN") && !stdout.contains("ERROR"),
        "kubernetes-validate refused {name}:\n{stdout}{stderr}\n--- the YAML:\n{yaml}"
    );
}

fn compose_like_project() -> Vec<WorkloadInput> {
    let container = |name: &str, image: &str| ContainerInput {
        name: name.into(),
        image: image.into(),
        ..Default::default()
    };
    vec![
        WorkloadInput {
            name: "db".into(),
            replicas: Some(1),
            labels: BTreeMap::from([("com.docker.compose.project".into(), "web".into())]),
            containers: vec![ContainerInput {
                args: vec!["--default-authentication-plugin=mysql_native_password".into()],
                // Strings YAML 1.1 (Kubernetes', PyYAML's) would read as booleans and numbers.
                env: vec![
                    ("MYSQL_DATABASE".into(), "app".into()),
                    ("DEBUG".into(), "yes".into()),
                    ("TLS".into(), "off".into()),
                    ("ZIP".into(), "01234".into()),
                    ("AT".into(), "1:30".into()),
                ],
                ports: vec![PortInput {
                    container_port: 3306,
                    host_port: Some(3306),
                    protocol: Protocol::Tcp,
                }],
                mounts: vec![MountInput {
                    target: "/var/lib/mysql".into(),
                    source: MountSource::Volume {
                        name: "db_data".into(),
                    },
                    read_only: false,
                }],
                memory_bytes: Some(512 << 20),
                cpu_millis: Some(1500),
                ..container("db", "mysql:5.7")
            }],
            ..Default::default()
        },
        WorkloadInput {
            name: "php_fpm".into(),
            replicas: Some(3),
            containers: vec![ContainerInput {
                ports: vec![PortInput {
                    container_port: 9001,
                    host_port: Some(9000),
                    protocol: Protocol::Tcp,
                }],
                mounts: vec![
                    MountInput {
                        target: "/var/www/symfony".into(),
                        source: MountSource::Bind {
                            path: "/srv/symfony".into(),
                            kind: Some(HostPathType::Directory),
                        },
                        read_only: false,
                    },
                    MountInput {
                        target: "/run/cache".into(),
                        source: MountSource::Tmpfs {
                            size_bytes: Some(64 << 20),
                        },
                        read_only: false,
                    },
                ],
                working_dir: Some("/var/www/symfony".into()),
                user: Some("33:33".into()),
                ..container("php", "localhost:5000/php-fpm:latest")
            }],
            ..Default::default()
        },
        WorkloadInput {
            name: "simple-echo".into(),
            restart_policy: RestartPolicy::OnFailure,
            hostname: Some("echo".into()),
            containers: vec![
                ContainerInput {
                    env: vec![("BACKEND_HOST".into(), "localhost:8080".into())],
                    ports: vec![PortInput {
                        container_port: 80,
                        host_port: Some(30080),
                        protocol: Protocol::Tcp,
                    }],
                    tty: true,
                    stdin: true,
                    ..container("nginx", "gihyodocker/nginx-proxy:latest")
                },
                ContainerInput {
                    command: vec!["sh".into(), "-c".into()],
                    args: vec!["nc -lk -p 8080 -e echo hello".into()],
                    ports: vec![
                        PortInput {
                            container_port: 8080,
                            host_port: None,
                            protocol: Protocol::Tcp,
                        },
                        PortInput {
                            container_port: 5353,
                            host_port: Some(5353),
                            protocol: Protocol::Udp,
                        },
                    ],
                    ..container("echo", "busybox")
                },
            ],
            ..Default::default()
        },
    ]
}

#[test]
fn generated_yaml_is_valid_kubernetes() {
    let g = rbox_kube::generate(&compose_like_project());
    validate("generated.yaml", &g.yaml);
    // And it plays back here without a word.
    let parsed = rbox_kube::parse("generated.yaml", &g.yaml).unwrap();
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let plan = rbox_kube::plan(&parsed.objects).unwrap();
    let replicas: Vec<u32> = plan.workloads.iter().map(|w| w.replicas).collect();
    assert_eq!(replicas, [1, 3, 1]);
    assert_eq!(plan.claims[0].name, "db-data");
    let env = plan.workloads[0].pod.containers[0].env_for(&Default::default());
    assert_eq!(env[1], ("DEBUG".to_string(), "yes".to_string()));
    assert_eq!(env[3], ("ZIP".to_string(), "01234".to_string()));
}

#[test]
fn the_notes_manifests_are_valid_kubernetes() {
    for name in [
        "simple-pod.yaml",
        "simple-replicaset.yaml",
        "simple-deployment.yaml",
        "services.yaml",
    ] {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        validate(name, &std::fs::read_to_string(path).unwrap());
    }
}
