use super::*;
use crate::parse;

fn plan_of(text: &str) -> Result<Plan, Error> {
    plan(&parse("p.yaml", text).unwrap().objects)
}

const APP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {MODE: prod, app.conf: 'port=80'}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
data: {password: cGFzc3dvcmQ=}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: first}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - {name: setup, image: busybox, command: [sh, -c, 'echo init']}
      containers:
      - name: web
        image: busybox:1.36
        args: [httpd, -f, -p, '$(PORT)']
        env:
        - {name: PORT, value: '8080'}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
        - name: IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        - name: APP
          valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}
        envFrom:
        - {configMapRef: {name: cfg}, prefix: CFG_}
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /, port: http}}
        resources: {limits: {cpu: 500m, memory: 64Mi}}
        volumeMounts:
        - {name: conf, mountPath: /etc/app}
        - {name: cache, mountPath: /cache}
        - {name: data, mountPath: /data}
      volumes:
      - name: conf
        configMap: {name: cfg, items: [{key: app.conf, path: conf/app.conf, mode: 0400}]}
      - {name: cache, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
      - {name: data, persistentVolumeClaim: {claimName: data}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
";

#[test]
fn a_deployment_with_everything() {
    let p = plan_of(APP).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let w = &p.workloads[0];
    assert_eq!((w.kind, w.replicas), (WorkloadKind::Deployment, 2));
    let rs = format!("web-{}", w.template_hash);
    assert_eq!(w.pod_names, PodNaming::Generated(rs.clone()));
    assert!(w.pod_names.next().starts_with(&format!("{rs}-")));
    assert_eq!(w.pod.labels[naming::POD_TEMPLATE_HASH], w.template_hash);
    let rollout = w.rollout.as_ref().unwrap();
    assert_eq!(
        (
            rollout.change_cause.as_deref(),
            rollout.revision_history_limit
        ),
        (Some("first"), 10)
    );
    assert_eq!(w.pod.init_containers[0].name, "setup");
    let c = &w.pod.containers[0];
    let env = c.env_for(&PodFacts {
        name: "web-x".into(),
        ip: "10.0.0.9".into(),
        ..Default::default()
    });
    let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("CFG_MODE"), Some("prod"));
    assert_eq!(get("PASSWORD"), Some("password"));
    assert_eq!(get("IP"), Some("10.0.0.9"));
    assert_eq!(get("APP"), Some("web"));
    assert_eq!(
        c.argv(&["/bin/sh".into()], &[], &env),
        ["/bin/sh", "httpd", "-f", "-p", "8080"]
    );
    assert_eq!(c.resources.cpu_limit_millis, Some(500));
    assert_eq!(c.resources.memory_request_bytes, Some(64 << 20));
    let r = c.readiness.as_ref().unwrap();
    assert!(matches!(r.test, ProbeTest::Http { port: 8080, .. }));
    assert_eq!(c.pull_policy, PullPolicy::IfNotPresent);
    assert!(c.mounts[0].read_only);
    let VolumeSource::Files {
        files,
        secret: false,
    } = &w.pod.volumes[0].source
    else {
        panic!()
    };
    assert_eq!(
        (
            files[0].path.as_str(),
            files[0].contents.as_slice(),
            files[0].mode
        ),
        ("conf/app.conf", &b"port=80"[..], 0o400)
    );
    assert_eq!(
        w.pod.volumes[1].source,
        VolumeSource::Tmpfs {
            size_bytes: Some(16 << 20)
        }
    );
    assert_eq!(
        w.pod.volumes[2].source,
        VolumeSource::Claim {
            claim: "data".into(),
            read_only: false
        }
    );
    assert_eq!(p.claims[0].size_bytes, Some(1 << 30));
    let s = &p.services[0];
    assert_eq!(
        (s.kind.clone(), s.workloads.clone()),
        (ServiceKind::NodePort, vec!["web".to_string()])
    );
    assert_eq!(
        s.ports[0].targets,
        [ServiceTarget {
            workload: "web".into(),
            container_port: 8080
        }]
    );
    assert_eq!(s.ports[0].node_port, Some(30080));
}

#[test]
fn missing_keys_are_errors_unless_optional() {
    let text = APP.replace("key: password}", "key: nope}");
    let e = plan_of(&text).unwrap_err().to_string();
    assert_eq!(
        e,
        "p.yaml:31: Deployment/web: spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef: Secret \"db\" has no key \"nope\" (optional: true allows it)"
    );
    let text = APP.replace("key: password}", "key: nope, optional: true}");
    let p = plan_of(&text).unwrap();
    assert!(!p.workloads[0].pod.containers[0]
        .env
        .iter()
        .any(|e| e.name == "PASSWORD"));
    let e = plan_of(&APP.replace("{configMapRef: {name: cfg}", "{configMapRef: {name: other}"))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("envFrom[0]: no ConfigMap \"other\" in the input"),
        "{e}"
    );
}

#[test]
fn jobs_pods_and_host_ports() {
    let text = "\
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  completions: 3
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{name: c, image: busybox, command: ['true']}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  hostname: box
  containers:
  - name: c
    image: busybox
    ports: [{containerPort: 80, hostPort: 8080}]
    securityContext: {runAsUser: 1000, capabilities: {add: [NET_ADMIN]}}
    livenessProbe: {tcpSocket: {port: 80}, periodSeconds: 2}
    resources: {limits: {nvidia.com/gpu: 1}}
";
    let p = plan_of(text).unwrap();
    let job = &p.workloads[0];
    assert_eq!(
        job.job,
        Some(JobPlan {
            completions: 3,
            parallelism: 1,
            backoff_limit: 6,
            active_deadline_seconds: None
        })
    );
    assert_eq!(job.pod.restart_policy, RestartPolicy::OnFailure);
    assert_eq!(job.pod.labels["job-name"], "once");
    let pod = &p.workloads[1];
    assert_eq!(
        (pod.pod_names.next(), pod.replicas),
        ("solo".to_string(), 1)
    );
    assert_eq!(
        pod.pod.published_ports().next().unwrap().host_port,
        Some(8080)
    );
    let c = &pod.pod.containers[0];
    assert_eq!(
        (c.security.run_as_user, c.security.capabilities_add.clone()),
        (Some(1000), vec!["NET_ADMIN".to_string()])
    );
    assert_eq!(c.liveness.as_ref().unwrap().interval_seconds, 2);
    assert_eq!(
        p.warnings[0].to_string(),
        "p.yaml:22: spec.containers[0].resources.limits.nvidia.com/gpu is not supported; ignored"
    );
    let e = plan_of("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r}\nspec:\n  replicas: 3\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 80}]}]\n").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("3 replicas cannot all publish host port 80 on one host"),
        "{e}"
    );
}

#[test]
fn a_host_port_is_published_once() {
    let pod = |name: &str, port: u16| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{app: {name}}}}}\nspec:\n  containers: [{{name: c, image: busybox, ports: [{{containerPort: 80, hostPort: {port}}}]}}]\n---\n")
    };
    let e = plan_of(&format!("{}{}", pod("a", 30080), pod("b", 30080))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.yaml:7: Pod/b: hostPort: host port 30080/tcp is published by Pod/a too"
    );
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: NodePort\n  selector: {app: b}\n  ports: [{port: 80, nodePort: 30080}]\n";
    let e = plan_of(&format!("{}{svc}", pod("a", 30080))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "p.yaml:13: Service/s: spec.ports[0].nodePort: node port 30080 is published by Pod/a too"
    );
    let p = plan_of(&format!("{}{}", pod("a", 30080), pod("b", 30081))).unwrap();
    let ports: Vec<(u16, String)> = p
        .host_ports()
        .into_iter()
        .map(|h| (h.port, h.owner))
        .collect();
    assert_eq!(
        ports,
        [(30080, "Pod/a".to_string()), (30081, "Pod/b".to_string())]
    );
}

#[test]
fn grpc_probes_are_left_out_with_a_warning() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    livenessProbe: {grpc: {port: 9000}}\n";
    let p = plan_of(text).unwrap();
    assert!(p.workloads[0].pod.containers[0].liveness.is_none());
    assert_eq!(p.warnings[0].to_string(), "p.yaml:8: spec.containers[0].livenessProbe: grpc probes are not supported; the probe is ignored");
}
