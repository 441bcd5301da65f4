//! Manifests as users write them beyond the notes: what the plan makes of them.

use rbox_kube::plan::{PodFacts, VolumeSource, WorkloadKind};
use rbox_kube::types::{HostPathType, RestartPolicy, Strategy};
use rbox_kube::{parse, plan, IntOrString};

const APP: &str = r#"
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  user: YWRtaW4=
  password: b2xk
stringData:
  password: new
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 4
  revisionHistoryLimit: 2
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 50%
      maxUnavailable: 1
  selector:
    matchExpressions:
    - {key: app, operator: In, values: [api, api-canary]}
  template:
    metadata:
      labels:
        app: api
    spec:
      terminationGracePeriodSeconds: 5
      hostAliases:
      - ip: 10.0.0.1
        hostnames: [db.local]
      initContainers:
      - name: first
        image: busybox
        command: [sh, -c, "echo 1 > /work/order"]
        volumeMounts: [{name: work, mountPath: /work}]
      - name: second
        image: busybox
        command: [sh, -c, "echo 2 >> /work/order"]
        volumeMounts: [{name: work, mountPath: /work}]
      containers:
      - name: api
        image: busybox:1.36
        imagePullPolicy: Never
        workingDir: /srv
        env:
        - name: DB_USER
          valueFrom:
            secretKeyRef: {name: db, key: user}
        - name: POD_NAME
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
        - name: NS
          valueFrom:
            fieldRef: {fieldPath: metadata.namespace}
        resources:
          requests: {cpu: 0.25, memory: 1e6}
          limits: {cpu: 1, memory: 1.5Gi}
        startupProbe:
          exec: {command: [cat, /tmp/ready]}
          failureThreshold: 30
          periodSeconds: 1
        securityContext:
          readOnlyRootFilesystem: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: work, mountPath: /work, readOnly: true}
        - {name: secrets, mountPath: /etc/secrets}
        - {name: logs, mountPath: /var/log/api, subPath: api}
      volumes:
      - name: work
        emptyDir: {}
      - name: secrets
        secret:
          secretName: db
          defaultMode: 0400
          items:
          - {key: password, path: db/password}
      - name: logs
        hostPath: {path: /var/log, type: DirectoryOrCreate}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers: [{name: agent, image: busybox, stdin: true, tty: true}]
"#;

#[test]
fn a_deployment_as_users_write_them() {
    let p = parse("app.yaml", APP).unwrap();
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let plan = plan(&p.objects).unwrap();
    let w = &plan.workloads[0];
    assert_eq!((w.kind, w.replicas), (WorkloadKind::Deployment, 4));
    let r = w.rollout.as_ref().unwrap();
    assert_eq!(r.revision_history_limit, 2);
    assert_eq!(
        r.strategy,
        Strategy::RollingUpdate {
            max_surge: IntOrString::String("50%".into()),
            max_unavailable: IntOrString::Int(1)
        }
    );
    let pod = &w.pod;
    assert_eq!(pod.termination_grace_seconds, 5);
    assert_eq!(pod.host_aliases[0].hostnames, ["db.local"]);
    let init: Vec<&str> = pod
        .init_containers
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(init, ["first", "second"]);
    let c = &pod.containers[0];
    let env = c.env_for(&PodFacts {
        name: "api-abc-xyz12".into(),
        ..Default::default()
    });
    assert_eq!(
        env,
        [
            ("DB_USER".to_string(), "admin".to_string()),
            ("POD_NAME".into(), "api-abc-xyz12".into()),
            ("NS".into(), "default".into())
        ]
    );
    assert_eq!(c.working_dir.as_deref(), Some("/srv"));
    assert_eq!(
        (c.resources.cpu_request_millis, c.resources.cpu_limit_millis),
        (Some(250), Some(1000))
    );
    assert_eq!(
        (
            c.resources.memory_request_bytes,
            c.resources.memory_limit_bytes
        ),
        (Some(1_000_000), Some(3 << 29))
    );
    let startup = c.startup.as_ref().unwrap();
    assert_eq!(startup.command, ["cat", "/tmp/ready"]);
    assert_eq!((startup.retries, startup.interval_seconds), (30, 1));
    assert!(c.security.read_only_root_filesystem);
    assert_eq!(c.security.allow_privilege_escalation, Some(false));
    assert_eq!(c.security.capabilities_drop, ["ALL"]);
    assert!(c.mounts[0].read_only);
    assert_eq!(c.mounts[2].sub_path.as_deref(), Some("api"));
    assert_eq!(
        pod.volumes[0].source,
        VolumeSource::PodVolume { size_bytes: None }
    );
    let VolumeSource::Files { secret, files } = &pod.volumes[1].source else {
        panic!("{:?}", pod.volumes[1])
    };
    assert!(*secret);
    assert_eq!(files.len(), 1);
    // stringData wins over data; the mode is octal as Kubernetes reads YAML.
    assert_eq!(
        (
            files[0].path.as_str(),
            files[0].contents.as_slice(),
            files[0].mode
        ),
        ("db/password", &b"new"[..], 0o400)
    );
    assert_eq!(
        pod.volumes[2].source,
        VolumeSource::Bind {
            path: "/var/log".into(),
            check: HostPathType::DirectoryOrCreate
        }
    );

    let ds = &plan.workloads[1];
    assert_eq!((ds.kind, ds.replicas), (WorkloadKind::DaemonSet, 1));
    assert!(ds.pod.host_network);
    assert!(ds.pod.containers[0].stdin && ds.pod.containers[0].tty);
    assert_eq!(ds.pod.restart_policy, RestartPolicy::Always);
    assert!(ds.pod_names.next().starts_with("agent-"));
}

#[test]
fn what_kubernetes_refuses_is_refused_with_every_reason() {
    let bad = APP
        .replace("values: [api, api-canary]", "values: [web]")
        .replace("maxUnavailable: 1", "maxUnavailable: lots")
        .replace("- name: second", "- name: first");
    let p = parse("app.yaml", &bad).unwrap();
    let e = plan(&p.objects).unwrap_err().to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines,
        [
            "app.yaml:24: Deployment/api: spec.strategy.rollingUpdate.maxUnavailable: \"lots\" is neither a number nor a percentage",
            "app.yaml:30: Deployment/api: spec.template.metadata.labels: `selector` does not match template `labels`",
            "app.yaml:42: Deployment/api: spec.template.spec.initContainers[1].name: a second container named \"first\"",
        ]
    );
}
