//! `rbox kube` end to end, with busybox standing in for the notes' images.

mod harness;

use harness::{busybox, eventually, free_test_subnet, TestRoot};

/// A test's root with busybox and the kube network on a free subnet; every pod removed at
/// the end, whatever the test did.
struct Kube {
    t: TestRoot,
}

impl Kube {
    fn new() -> Kube {
        let t = busybox();
        t.ok(["network", "create", "--subnet", &free_test_subnet(), "kube"]);
        Kube { t }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.t.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn play(&self, name: &str, text: &str) -> String {
        let f = self.file(name, text);
        self.t.ok(["kube", "play", &f])
    }

    /// `kube down FILE`, after which no pod and no container is left.
    fn down_leaves_nothing(&self, f: &str) {
        self.t.ok(["kube", "down", f]);
        assert_eq!(self.t.ok(["pod", "ls", "-q"]), "");
        assert_eq!(self.t.ok(["ps", "-a", "-q"]), "");
    }

    /// `kube get pods` rows: (name, ready, status).
    fn pods(&self) -> Vec<(String, String, String)> {
        self.t
            .ok(["kube", "get", "pods"])
            .lines()
            .skip(1)
            .map(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                (c[0].into(), c[1].into(), c[2].into())
            })
            .collect()
    }

    fn logs(&self, pod: &str, c: &str) -> String {
        self.t.run(["kube", "logs", pod, "-c", c]).stdout
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        for id in self.t.run(["pod", "ls", "-q", "--no-trunc"]).stdout.lines() {
            let _ = self.t.run(["pod", "rm", "-f", id]);
        }
    }
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: simple-echo
spec:
  containers:
  - name: nginx
    image: busybox
    env:
    - name: BACKEND_HOST
      value: localhost:8080
    command: ["sh", "-c", "while true; do wget -q -O - http://$BACKEND_HOST/ && break; sleep 0.2; done; exec sleep 600"]
    ports:
    - containerPort: 80
  - name: echo
    image: busybox
    command: ["sh", "-c", "echo Hello > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    ports:
    - containerPort: 8080
"#;

#[test]
fn the_notes_pod_of_two_containers_talks_over_localhost() {
    let k = Kube::new();
    k.play("pod.yaml", POD);
    assert!(
        eventually(10, || k.logs("simple-echo", "nginx").contains("Hello")),
        "{}",
        k.logs("simple-echo", "nginx")
    );
    assert_eq!(
        k.pods(),
        vec![("simple-echo".into(), "2/2".into(), "Running".into())]
    );
    let out = k.t.ok([
        "kube",
        "exec",
        "simple-echo",
        "-c",
        "echo",
        "--",
        "hostname",
    ]);
    assert_eq!(out.trim(), "simple-echo");
    // Played again: unchanged, nothing made.
    let again = k.play("pod.yaml", POD);
    assert!(!again.contains("created"), "{again}");
    let f = k.file("pod.yaml", POD);
    k.down_leaves_nothing(&f);
}

fn replica_set(n: u32) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: echo
  labels:
    app: echo
spec:
  replicas: {n}
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: echo
        image: busybox
        command: ["sleep", "600"]
"#
    )
}

#[test]
fn a_replica_set_of_three_lowered_to_two() {
    let k = Kube::new();
    k.play("rs.yaml", &replica_set(3));
    let three: Vec<String> = k.pods().into_iter().map(|p| p.0).collect();
    assert_eq!(three.len(), 3, "{three:?}");
    for n in &three {
        assert!(
            n.starts_with("echo-") && n.len() == "echo-".len() + 5,
            "{n}"
        );
    }
    let rs = k.t.ok(["kube", "get", "replicasets"]);
    assert!(rs.contains("echo") && rs.contains("3"), "{rs}");
    k.play("rs.yaml", &replica_set(2));
    let two: Vec<String> = k.pods().into_iter().map(|p| p.0).collect();
    assert_eq!(two.len(), 2);
    assert!(
        two.iter().all(|n| three.contains(n)),
        "the others stay: {two:?}"
    );
    let sel =
        k.t.ok(["kube", "get", "pods", "-l", "app=echo", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&sel).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    assert_eq!(k.t.ok(["kube", "get", "pods", "-l", "app=other"]), "");
    let f = k.file("rs.yaml", &replica_set(2));
    k.t.ok(["kube", "down", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
}

fn deployment(greeting: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  labels:
    app: echo
spec:
  replicas: 2
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: echo
        image: busybox
        env:
        - name: GREETING
          value: "{greeting}"
        command: ["sh", "-c", "echo $GREETING; touch /tmp/ready; exec sleep 600"]
        readinessProbe:
          exec:
            command: ["cat", "/tmp/ready"]
          periodSeconds: 1
"#
    )
}

#[test]
fn a_deployment_changed_twice_has_three_revisions_and_undo_goes_back_to_the_first() {
    let k = Kube::new();
    k.play("d.yaml", &deployment("one"));
    let first: Vec<String> = k.pods().into_iter().map(|p| p.0).collect();
    assert_eq!(first.len(), 2);
    let hash1 = first[0].split('-').nth(1).unwrap().to_owned();
    assert!(first
        .iter()
        .all(|n| n.starts_with(&format!("echo-{hash1}-"))));
    assert!(eventually(20, || k.pods().iter().all(|p| p.1 == "1/1")));
    k.play("d.yaml", &deployment("two"));
    k.play("d.yaml", &deployment("three"));
    let now = k.pods();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().all(|p| !p.0.contains(&hash1)));
    assert!(k.logs(&now[0].0, "echo").contains("three"));
    let h = k.t.ok(["kube", "rollout", "history", "deployment/echo"]);
    let revs: Vec<&str> = h
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(revs.len(), 3, "{h}");
    let r1 =
        k.t.ok(["kube", "rollout", "history", "echo", "--revision", "1"]);
    assert!(r1.contains("one"), "{r1}");
    k.t.ok(["kube", "rollout", "undo", "echo", "--to-revision", "1"]);
    let back = k.pods();
    assert_eq!(back.len(), 2, "{back:?}");
    assert!(
        back.iter()
            .all(|p| p.0.starts_with(&format!("echo-{hash1}-"))),
        "{back:?}"
    );
    assert!(k.logs(&back[0].0, "echo").contains("one"));
    let d = k.t.ok(["kube", "get", "deployments"]);
    assert!(
        d.contains("NAME") && d.contains("UP-TO-DATE") && d.contains("echo"),
        "{d}"
    );
    let f = k.file("d.yaml", &deployment("three"));
    k.t.ok(["kube", "delete", "-f", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
}

#[test]
fn configmaps_and_secrets_as_env_and_files_hostpath_emptydir_and_init_containers_in_order() {
    let k = Kube::new();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("from-host"), "host-file\n").unwrap();
    let yaml = format!(
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  color: blue
  app.conf: "setting=1"
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: s3cret
---
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  restartPolicy: Never
  initContainers:
  - name: first
    image: busybox
    command: ["sh", "-c", "echo first >> /work/order"]
    volumeMounts:
    - name: scratch
      mountPath: /work
  - name: second
    image: busybox
    command: ["sh", "-c", "echo second >> /work/order"]
    volumeMounts:
    - name: scratch
      mountPath: /work
  containers:
  - name: main
    image: busybox
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef:
          name: conf
          key: color
    - name: PASSWORD
      valueFrom:
        secretKeyRef:
          name: creds
          key: password
    envFrom:
    - configMapRef:
        name: conf
      prefix: CM_
    command: ["sh", "-c", "echo color=$COLOR pw=$PASSWORD; cat /work/order /etc/app/app.conf /etc/creds/pw /host/from-host; echo; stat -c %a /etc/creds/pw; exec sleep 600"]
    volumeMounts:
    - name: scratch
      mountPath: /work
    - name: config
      mountPath: /etc/app
    - name: secret
      mountPath: /etc/creds
    - name: host
      mountPath: /host
  volumes:
  - name: scratch
    emptyDir: {{}}
  - name: config
    configMap:
      name: conf
      items:
      - key: app.conf
        path: app.conf
  - name: secret
    secret:
      secretName: creds
      defaultMode: 0400
      items:
      - key: password
        path: pw
  - name: host
    hostPath:
      path: {}
      type: Directory
"#,
        host.path().display()
    );
    k.play("app.yaml", &yaml);
    assert!(eventually(10, || k.logs("app", "main").contains("400")));
    let out = k.logs("app", "main");
    assert!(out.contains("color=blue pw=s3cret"), "{out}");
    assert!(
        out.contains("first\nsecond\n"),
        "init containers in order: {out}"
    );
    assert!(out.contains("setting=1"), "{out}");
    assert!(out.contains("s3cret") && out.contains("host-file"), "{out}");
    let env =
        k.t.ok(["kube", "exec", "app", "--", "sh", "-c", "echo $CM_color"]);
    assert_eq!(env.trim(), "blue");
    let f = k.file("app.yaml", &yaml);
    k.t.ok(["kube", "down", &f]);
    assert_eq!(
        k.t.ok(["volume", "ls", "-q"]),
        "",
        "the emptyDir goes with its pod"
    );
}

fn job(name: &str, script: &str, backoff: u32) -> String {
    format!(
        r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  backoffLimit: {backoff}
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", "{script}"]
"#
    )
}

#[test]
fn a_job_completes_and_one_fails_past_its_backoff_limit() {
    let k = Kube::new();
    k.play("ok.yaml", &job("ok", "echo done", 2));
    let pods = k.pods();
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert!(
        pods[0].0.starts_with("ok-") && pods[0].2 == "Completed",
        "{pods:?}"
    );
    assert_eq!(k.logs(&pods[0].0, "work"), "done\n");
    let f = k.file("bad.yaml", &job("bad", "exit 3", 1));
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("backoffLimit"), "{err}");
    let failed: Vec<_> = k
        .pods()
        .into_iter()
        .filter(|p| p.0.starts_with("bad-"))
        .collect();
    assert_eq!(failed.len(), 2, "one try and one retry: {failed:?}");
    assert!(failed.iter().all(|p| p.2 == "Error"));
    k.t.ok(["kube", "down", &f]);
    let f = k.file("ok.yaml", &job("ok", "echo done", 2));
    k.t.ok(["kube", "down", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
}

#[test]
fn a_service_name_resolves_to_all_its_pods() {
    let k = Kube::new();
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sleep", "600"]
---
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  selector:
    app: web
  ports:
  - port: 80
"#;
    k.play("svc.yaml", yaml);
    let wide = k.t.ok(["kube", "get", "pods", "-o", "wide"]);
    let ips: Vec<String> = wide
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(5).unwrap().to_owned())
        .collect();
    assert_eq!(ips.len(), 3, "{wide}");
    let pod = k.pods()[0].0.clone();
    let hosts = k.t.ok(["kube", "exec", &pod, "--", "cat", "/etc/hosts"]);
    for ip in &ips {
        assert!(hosts.contains(&format!("{ip}\tweb-svc\n")), "{ip}: {hosts}");
    }
    // And by the network's resolver.
    let looked_up = k.t.ok(["kube", "exec", &pod, "--", "nslookup", "web-svc"]);
    for ip in &ips {
        assert!(looked_up.contains(ip.as_str()), "{ip}: {looked_up}");
    }
    let svc = k.t.ok(["kube", "get", "services"]);
    assert!(
        svc.contains("web-svc") && svc.contains("ClusterIP") && svc.contains("80/TCP"),
        "{svc}"
    );
    let f = k.file("svc.yaml", yaml);
    k.t.ok(["kube", "down", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
    assert_eq!(k.t.ok(["kube", "get", "services"]), "");
}

#[test]
fn bad_input_is_refused_with_nothing_made() {
    let k = Kube::new();
    let f = k.file(
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n",
    );
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("broken.yaml:"), "{err}");
    let missing_key = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  a: "1"
---
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: busybox
    env:
    - name: B
      valueFrom:
        configMapKeyRef:
          name: conf
          key: b
"#;
    let f = k.file("key.yaml", missing_key);
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("b"), "{err}");
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let taken = format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "60"]
    ports:
    - containerPort: 80
      hostPort: {port}
"#
    );
    let f = k.file("port.yaml", &taken);
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains(&port.to_string()), "{err}");
    let mismatch = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels:
      app: a
  template:
    metadata:
      labels:
        app: b
    spec:
      containers:
      - name: c
        image: busybox
"#;
    let f = k.file("sel.yaml", mismatch);
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("selector"), "{err}");
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
    assert_eq!(k.t.ok(["ps", "-a", "-q"]), "");
    drop(held);
}

/// kubernetes-validate (`make deps` installs it into target/venv), strictly, for the
/// Kubernetes version kube's own tests check against.
fn validate_strictly(k: &Kube, name: &str, yaml: &str) {
    let tool = harness::workspace().join("target/venv/bin/kubernetes-validate");
    assert!(
        tool.exists(),
        "run `make deps`: {} is missing",
        tool.display()
    );
    let f = k.file(name, yaml);
    let out = std::process::Command::new(tool)
        .args(["--strict", "-k", "1.37.0", &f])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !stdout.contains("ERROR") && !stdout.contains("WARN"),
        "{stdout}{}\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generated_yaml_validates_strictly_and_plays_back() {
    let k = Kube::new();
    let t = &k.t;
    t.ok([
        "pod",
        "create",
        "--name",
        "gen",
        "--network",
        "kube",
        "-p",
        "8080",
    ]);
    t.ok([
        "run",
        "-d",
        "--pod",
        "gen",
        "--name",
        "gen-web",
        "-e",
        "GREETING=hi",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    t.ok([
        "run", "-d", "--pod", "gen", "--name", "gen-side", "busybox", "sleep", "600",
    ]);
    let pod_yaml = t.ok(["kube", "generate", "gen"]);
    assert!(
        pod_yaml.contains("kind: Pod") && pod_yaml.contains("GREETING"),
        "{pod_yaml}"
    );
    validate_strictly(&k, "gen-pod.yaml", &pod_yaml);
    t.ok([
        "run", "-d", "--name", "solo", "--memory", "64m", "busybox", "sleep", "600",
    ]);
    let dep_yaml = t.ok(["kube", "generate", "--replicas", "2", "solo"]);
    assert!(
        dep_yaml.contains("kind: Deployment") && dep_yaml.contains("replicas: 2"),
        "{dep_yaml}"
    );
    validate_strictly(&k, "gen-deploy.yaml", &dep_yaml);
    // Played back here, after what they came from is gone.
    t.ok(["pod", "rm", "-f", "gen"]);
    t.ok(["rm", "-f", "solo"]);
    let f = k.file("gen-pod.yaml", &pod_yaml);
    t.ok(["kube", "play", &f]);
    let pods = k.pods();
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert_eq!(pods[0].0, "gen");
    assert!(eventually(10, || k.pods()[0].1 == "2/2"), "{:?}", k.pods());
    let g = k.file("gen-deploy.yaml", &dep_yaml);
    t.ok(["kube", "play", &g]);
    assert_eq!(k.pods().len(), 3);
    t.ok(["kube", "down", &f, &g]);
    assert_eq!(t.ok(["pod", "ls", "-q"]), "");
}

/// A TCP port free on the host now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The body of `GET /` on 127.0.0.1:`port`, if it answers.
fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn host_ports_and_node_ports_are_published_and_security_and_resources_apply() {
    let k = Kube::new();
    let (host_port, node_port) = (free_port(), free_port());
    let yaml = format!(
        r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sh", "-c", "echo served-by-web > /www/index.html; exec httpd -f -p 8080 -h /www"]
        volumeMounts:
        - name: www
          mountPath: /www
        ports:
        - containerPort: 8080
          hostPort: {host_port}
        resources:
          limits:
            memory: 64Mi
            cpu: 500m
        securityContext:
          runAsUser: 1000
          runAsGroup: 1000
          readOnlyRootFilesystem: true
          capabilities:
            drop: ["ALL"]
      volumes:
      - name: www
        emptyDir:
          medium: Memory
---
apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
    nodePort: {node_port}
"#
    );
    k.play("np.yaml", &yaml);
    let pods = k.pods();
    assert_eq!(pods.len(), 1, "a DaemonSet has one pod here: {pods:?}");
    let pod = pods[0].0.clone();
    assert!(pod.starts_with("web-"), "{pod}");
    for port in [host_port, node_port] {
        assert!(
            eventually(10, || http_get(port)
                .is_some_and(|b| b.contains("served-by-web"))),
            "port {port}: {:?}",
            http_get(port)
        );
    }
    let id = k.t.ok(["kube", "exec", &pod, "--", "id", "-u"]);
    assert_eq!(id.trim(), "1000");
    let ro = k.t.run(["kube", "exec", &pod, "--", "touch", "/x"]);
    assert_ne!(ro.code, 0, "a read-only root");
    let c = harness::inspect(&k.t, &format!("{pod}-web"));
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20, "{}", c["HostConfig"]);
    assert_eq!(c["HostConfig"]["NanoCpus"], 500_000_000u64);
    let f = k.file("np.yaml", &yaml);
    k.t.ok(["kube", "down", &f]);
    assert!(http_get(host_port).is_none() && http_get(node_port).is_none());
}

#[test]
fn a_play_reads_standard_input() {
    let k = Kube::new();
    let mut c = k.t.cmd(["kube", "play", "-"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), replica_set(1).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(k.pods().len(), 1);
    let f = k.file("rs.yaml", &replica_set(1));
    k.t.ok(["kube", "down", &f]);
}

#[test]
fn a_compose_project_generates_deployments_that_validate_and_play() {
    let k = Kube::new();
    let dir = k.t.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            r#"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080"]
    ports: ["8080"]
    volumes: ["data:/data"]
  worker:
    image: busybox
    command: ["sleep", "600"]
networks:
  default:
    ipam:
      config:
        - subnet: {}
volumes:
  data: {{}}
"#,
            free_test_subnet()
        ),
    )
    .unwrap();
    let compose = dir.join("compose.yaml").display().to_string();
    k.t.ok(["compose", "-f", &compose, "-p", "gp", "up", "-d"]);
    let yaml = k.t.ok(["kube", "generate", "--compose", "gp"]);
    k.t.ok(["compose", "-f", &compose, "-p", "gp", "down", "-v"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("name: worker"),
        "{yaml}"
    );
    assert!(yaml.contains("kind: PersistentVolumeClaim"), "{yaml}");
    validate_strictly(&k, "gp.yaml", &yaml);
    let f = k.file("gp.yaml", &yaml);
    k.t.ok(["kube", "play", &f]);
    let pods = k.pods();
    assert_eq!(pods.len(), 2, "{pods:?}");
    k.t.ok(["kube", "down", "--force", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
    assert_eq!(
        k.t.ok(["volume", "ls", "-q"]),
        "",
        "--force: the claims' volumes too"
    );
}

/// Each container of pod `pod` as `kube get pods -o json` has it: (name, ready, started,
/// restartCount).
fn container_statuses(k: &Kube, pod: &str) -> Vec<(String, bool, bool, u64)> {
    let out = k.t.ok(["kube", "get", "pods", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let item = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == pod)
        .unwrap_or_else(|| panic!("no pod {pod}: {out}"))
        .clone();
    item["status"]["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["ready"].as_bool().unwrap(),
                c["started"].as_bool().unwrap(),
                c["restartCount"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A `kube get pods` row's RESTARTS.
fn restarts(k: &Kube, pod: &str) -> u64 {
    let out = k.t.ok(["kube", "get", "pods"]);
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(pod))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pod {pod}: {out}"))
}

const LIVENESS: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: probes
spec:
  containers:
  - name: flaky
    image: busybox
    # Healthy for 2 s after each start, then its liveness probe fails.
    command: ["sh", "-c", "echo up; rm -f /tmp/sick; sleep 2; touch /tmp/sick; exec sleep 600"]
    readinessProbe:
      exec:
        command: ["true"]
      periodSeconds: 1
    livenessProbe:
      exec:
        command: ["sh", "-c", "test ! -e /tmp/sick"]
      periodSeconds: 1
      failureThreshold: 2
  - name: steady
    image: busybox
    command: ["sleep", "600"]
    readinessProbe:
      exec:
        command: ["test", "-e", "/tmp/never"]
      periodSeconds: 1
    livenessProbe:
      exec:
        command: ["true"]
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  restartPolicy: Never
  containers:
  - name: once
    image: busybox
    command: ["sleep", "600"]
    livenessProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 1
"#;

#[test]
fn a_failing_liveness_probe_restarts_the_container_and_ready_counts_readiness() {
    let k = Kube::new();
    let f = k.file("probes.yaml", LIVENESS);
    let out = k.t.run(["kube", "play", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("livenessProbe"), "{}", out.stderr);
    // The flaky container is killed and made again by its restartPolicy (Always), each
    // restart counted; the other one, whose liveness probe passes, never restarts.
    assert!(
        eventually(30, || restarts(&k, "probes") >= 2),
        "{}",
        k.t.ok(["kube", "get", "pods"])
    );
    assert!(eventually(10, || k
        .logs("probes", "flaky")
        .matches("up\n")
        .count()
        >= 3));
    let st = container_statuses(&k, "probes");
    let steady = st.iter().find(|c| c.0 == "steady").unwrap();
    assert_eq!(steady.3, 0, "{st:?}");
    // READY counts the readiness probes: the steady one's never passes.
    assert!(!steady.1, "{st:?}");
    assert!(
        eventually(10, || container_statuses(&k, "probes")
            .iter()
            .any(|c| c.0 == "flaky" && c.1)),
        "the flaky one is ready between its restarts"
    );
    assert!(k.pods().iter().all(|p| p.1 != "2/2"));
    // Under restartPolicy Never, the killed container stays down.
    assert!(
        eventually(15, || k
            .pods()
            .iter()
            .any(|p| p.0 == "never" && p.2 == "Error")),
        "{:?}",
        k.pods()
    );
    assert_eq!(restarts(&k, "never"), 0);
    k.down_leaves_nothing(&f);
}

const STARTUP: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: slow
spec:
  containers:
  - name: slow
    image: busybox
    command: ["sh", "-c", "echo up; rm -f /tmp/up; sleep 3; touch /tmp/up; exec sleep 600"]
    startupProbe:
      exec:
        command: ["test", "-e", "/tmp/up"]
      periodSeconds: 1
      failureThreshold: 10
    # Would kill it at once if it counted before the startup probe succeeds.
    livenessProbe:
      exec:
        command: ["test", "-e", "/tmp/up"]
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: stuck
spec:
  containers:
  - name: stuck
    image: busybox
    command: ["sh", "-c", "echo up; exec sleep 600"]
    startupProbe:
      exec:
        command: ["false"]
      periodSeconds: 1
      failureThreshold: 2
"#;

#[test]
fn a_startup_probe_holds_the_other_probes_and_kills_past_its_threshold() {
    let k = Kube::new();
    let f = k.file("startup.yaml", STARTUP);
    let out = k.t.run(["kube", "play", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("startupProbe"), "{}", out.stderr);
    // Not started, so not ready, while its startup probe fails.
    let early = container_statuses(&k, "slow");
    assert!(!early[0].1, "{early:?}");
    assert!(!early[0].2, "{early:?}");
    assert!(
        eventually(15, || container_statuses(&k, "slow")[0].1),
        "{:?}",
        container_statuses(&k, "slow")
    );
    let slow = container_statuses(&k, "slow");
    assert!(slow[0].2, "started: {slow:?}");
    assert_eq!(slow[0].3, 0, "the liveness probe waited: {slow:?}");
    // failureThreshold × periodSeconds (2 s) of failures kill it, and it is made again.
    assert!(
        eventually(20, || restarts(&k, "stuck") >= 2),
        "{}",
        k.t.ok(["kube", "get", "pods"])
    );
    assert!(eventually(10, || k
        .logs("stuck", "stuck")
        .matches("up\n")
        .count()
        >= 3));
    assert!(!container_statuses(&k, "stuck")[0].2);
    k.down_leaves_nothing(&f);
}

/// The namespace `ns` (`net`, `pid`, …) of this test process, as /proc names it.
fn own_namespace(ns: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn host_network_pid_and_ipc_are_the_hosts() {
    let k = Kube::new();
    // Bound to the host's loopback from inside the pod: only reachable if its network is
    // the host's.
    let port = free_port();
    let yaml = format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: onhost
spec:
  hostNetwork: true
  hostPID: true
  hostIPC: true
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "echo on-the-host > /tmp/index.html; exec httpd -f -p 127.0.0.1:{port} -h /tmp"]
---
apiVersion: v1
kind: Pod
metadata:
  name: own
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "600"]
"#
    );
    let f = k.file("host.yaml", &yaml);
    let out = k.t.run(["kube", "play", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("host"), "{}", out.stderr);
    assert!(
        eventually(10, || http_get(port)
            .is_some_and(|b| b.contains("on-the-host"))),
        "{:?}",
        http_get(port)
    );
    for ns in ["net", "pid", "ipc", "uts"] {
        let inside = k.t.ok([
            "kube",
            "exec",
            "onhost",
            "--",
            "readlink",
            &format!("/proc/self/ns/{ns}"),
        ]);
        assert_eq!(inside.trim(), own_namespace(ns), "{ns}");
        // A pod without them has its own.
        let other = k.t.ok([
            "kube",
            "exec",
            "own",
            "--",
            "readlink",
            &format!("/proc/self/ns/{ns}"),
        ]);
        assert_ne!(other.trim(), own_namespace(ns), "{ns}");
    }
    // The host's processes are in sight.
    let me = std::process::id().to_string();
    k.t.ok([
        "kube",
        "exec",
        "onhost",
        "--",
        "test",
        "-d",
        &format!("/proc/{me}"),
    ]);
    k.t.ok(["kube", "down", &f]);
    assert!(http_get(port).is_none());
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
    assert_eq!(k.t.ok(["ps", "-a", "-q"]), "");
}

#[test]
fn share_process_namespace_puts_the_containers_in_one_pid_namespace() {
    let k = Kube::new();
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  name: shared
spec:
  shareProcessNamespace: true
  containers:
  - name: first
    image: busybox
    command: ["sleep", "601"]
  - name: second
    image: busybox
    command: ["sleep", "602"]
---
apiVersion: v1
kind: Pod
metadata:
  name: apart
spec:
  containers:
  - name: first
    image: busybox
    command: ["sleep", "603"]
  - name: second
    image: busybox
    command: ["sleep", "604"]
"#;
    let f = k.file("pid.yaml", yaml);
    k.t.ok(["kube", "play", &f]);
    let ps =
        k.t.ok(["kube", "exec", "shared", "-c", "second", "--", "ps"]);
    assert!(ps.contains("sleep 601") && ps.contains("sleep 602"), "{ps}");
    let ps =
        k.t.ok(["kube", "exec", "apart", "-c", "second", "--", "ps"]);
    assert!(
        !ps.contains("sleep 603") && ps.contains("sleep 604"),
        "{ps}"
    );
    k.down_leaves_nothing(&f);
}

#[test]
fn dns_config_searches_and_options_reach_resolv_conf() {
    let k = Kube::new();
    let yaml = r#"
apiVersion: v1
kind: Pod
metadata:
  name: dns
spec:
  dnsConfig:
    searches: ["corp.example", "svc.example"]
    options:
    - name: ndots
      value: "3"
    - name: edns0
  initContainers:
  - name: init
    image: busybox
    command: ["sh", "-c", "grep -q 'search corp.example svc.example' /etc/resolv.conf"]
  containers:
  - name: a
    image: busybox
    command: ["sleep", "600"]
  - name: b
    image: busybox
    command: ["sleep", "600"]
"#;
    let f = k.file("dns.yaml", yaml);
    let out = k.t.run(["kube", "play", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("dnsConfig"), "{}", out.stderr);
    for c in ["a", "b"] {
        let r = k.t.ok([
            "kube",
            "exec",
            "dns",
            "-c",
            c,
            "--",
            "cat",
            "/etc/resolv.conf",
        ]);
        assert!(r.contains("search corp.example svc.example\n"), "{r}");
        assert!(r.contains("options ndots:3 edns0\n"), "{r}");
        // Still the kube network's resolver.
        assert!(r.lines().any(|l| l.starts_with("nameserver ")), "{r}");
    }
    k.t.ok(["kube", "down", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
}

#[test]
fn an_external_name_service_resolves_as_the_name_it_stands_for() {
    let k = Kube::new();
    // The resolver's upstream: a server of the test's own on loopback that knows one
    // outside name (192.0.2.7, a documentation address nothing is sent to).
    let upstream = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let at = upstream.local_addr().unwrap();
    upstream
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let (asked, stop) = (asked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((n, from)) = upstream.recv_from(&mut buf) else {
                    continue;
                };
                let Some(q) = rbox_network::dns::codec::parse(&buf[..n]) else {
                    continue;
                };
                asked.lock().unwrap().push(q.name.clone());
                let ips: &[std::net::Ipv4Addr] = if q.name == "db.example.com" {
                    &[std::net::Ipv4Addr::new(192, 0, 2, 7)]
                } else {
                    &[]
                };
                let rcode = if ips.is_empty() { 3 } else { 0 };
                let a = rbox_network::dns::codec::answer(&q, rcode, ips, 30);
                let _ = upstream.send_to(&a, from);
            }
        })
    };
    std::fs::write(
        k.t.path().join("defaults.json"),
        format!(r#"{{"dns-forward": ["{at}"]}}"#),
    )
    .unwrap();
    let pods = |extra: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sh", "-c", "echo served-by-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
---
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  selector:
    app: web
  ports:
  - port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web-alias
spec:
  type: ExternalName
  externalName: web-svc.default.svc.cluster.local
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "600"]
{extra}"#
        )
    };
    k.play("ext.yaml", &pods(""));
    let wide =
        k.t.ok(["kube", "get", "pods", "-l", "app=web", "-o", "wide"]);
    let ips: Vec<String> = wide
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(5).unwrap().to_owned())
        .collect();
    assert_eq!(ips.len(), 2, "{wide}");
    // The name resolves as the Service it names: by the network's resolver and in
    // /etc/hosts, and it leads there.
    let looked_up =
        k.t.ok(["kube", "exec", "client", "--", "nslookup", "web-alias"]);
    let hosts =
        k.t.ok(["kube", "exec", "client", "--", "cat", "/etc/hosts"]);
    for ip in &ips {
        assert!(looked_up.contains(ip.as_str()), "{ip}: {looked_up}");
        assert!(
            hosts.contains(&format!("{ip}\tweb-alias\n")),
            "{ip}: {hosts}"
        );
    }
    let body = k.t.ok([
        "kube",
        "exec",
        "client",
        "--",
        "wget",
        "-q",
        "-O",
        "-",
        "http://web-alias.default:8080/",
    ]);
    assert_eq!(body, "served-by-web\n");
    // An address on the test's own network that no pod has: the pods' /etc/hosts has it.
    let unused = format!("{}.250", ips[0].rsplit_once('.').unwrap().0);
    let extra = format!(
        r#"---
apiVersion: v1
kind: Service
metadata:
  name: by-address
spec:
  type: ExternalName
  externalName: {unused}
---
apiVersion: v1
kind: Service
metadata:
  name: outside
spec:
  type: ExternalName
  externalName: db.example.com
"#
    );
    let f = k.file("ext.yaml", &pods(&extra));
    let out = k.t.run(["kube", "play", &f]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("Service web-alias"), "{}", out.stderr);
    // An outside name: a CNAME to it, and the addresses the upstream gives for it.
    let looked_up =
        k.t.ok(["kube", "exec", "client", "--", "nslookup", "outside"]);
    assert!(
        looked_up.contains("db.example.com") && looked_up.contains("192.0.2.7"),
        "{looked_up}"
    );
    assert!(
        asked.lock().unwrap().iter().all(|n| n == "db.example.com"),
        "only the outside name is forwarded: {:?}",
        asked.lock().unwrap()
    );
    let hosts =
        k.t.ok(["kube", "exec", "client", "--", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{unused}\tby-address\n")),
        "{hosts}"
    );
    assert!(!hosts.contains("outside"), "{hosts}");
    k.t.ok(["kube", "down", &f]);
    assert_eq!(k.t.ok(["pod", "ls", "-q"]), "");
    assert_eq!(k.t.ok(["kube", "get", "services"]), "");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().unwrap();
}

fn job_on_failure(name: &str, script: &str, backoff: u32) -> String {
    job(name, script, backoff).replace("restartPolicy: Never", "restartPolicy: OnFailure")
}

#[test]
fn a_job_under_on_failure_restarts_its_container_in_place_up_to_its_backoff_limit() {
    let k = Kube::new();
    // Fails twice, then succeeds: its writable layer keeps the count across restarts in
    // place (a new pod would start from 0).
    let count = "n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/n; echo try $n; [ $n -ge 3 ]";
    k.play("ok.yaml", &job_on_failure("third", count, 3));
    let pods = k.pods();
    assert_eq!(pods.len(), 1, "one pod, restarted in place: {pods:?}");
    assert_eq!(pods[0].2, "Completed", "{pods:?}");
    assert_eq!(restarts(&k, &pods[0].0), 2);
    assert_eq!(k.logs(&pods[0].0, "work"), "try 1\ntry 2\ntry 3\n");
    let ok = k.file("ok.yaml", &job_on_failure("third", count, 3));
    k.t.ok(["kube", "down", &ok]);
    // Past its backoffLimit: the Job fails, after 1 + backoffLimit tries in the one pod.
    let f = k.file("bad.yaml", &job_on_failure("bad", "echo try; exit 3", 2));
    let (code, err) = k.t.fails(["kube", "play", &f]);
    assert_ne!(code, 0);
    assert!(err.contains("backoffLimit"), "{err}");
    let pods = k.pods();
    assert_eq!(pods.len(), 1, "{pods:?}");
    assert_eq!(pods[0].2, "Error", "{pods:?}");
    assert_eq!(restarts(&k, &pods[0].0), 2);
    assert_eq!(k.logs(&pods[0].0, "work"), "try\ntry\ntry\n");
    k.down_leaves_nothing(&f);
}

#[test]
fn a_node_port_spreads_connections_over_every_pod_of_its_service() {
    let k = Kube::new();
    let node_port = free_port();
    let yaml = |n: u32| {
        format!(
            r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: spread
spec:
  replicas: {n}
  selector:
    matchLabels:
      app: spread
  template:
    metadata:
      labels:
        app: spread
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sh", "-c", "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata:
  name: spread
spec:
  type: NodePort
  selector:
    app: spread
  ports:
  - port: 80
    targetPort: 8080
    nodePort: {node_port}
"#
        )
    };
    // Which pods answer on the node port, over enough new connections to see each.
    let answering = || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..12 {
            if let Some(body) = http_get(node_port) {
                if let Some(name) = body.lines().last() {
                    seen.insert(name.trim().to_string());
                }
            }
        }
        seen
    };
    let names = |k: &Kube| -> std::collections::BTreeSet<String> {
        k.pods().into_iter().map(|p| p.0).collect()
    };
    k.play("spread.yaml", &yaml(3));
    let pods = names(&k);
    assert_eq!(pods.len(), 3, "{pods:?}");
    assert!(
        eventually(10, || answering() == pods),
        "answering {:?}, pods {pods:?}",
        answering()
    );
    k.play("spread.yaml", &yaml(2));
    let pods = names(&k);
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert!(
        eventually(10, || answering() == pods),
        "answering {:?}, pods {pods:?}",
        answering()
    );
    let f = k.file("spread.yaml", &yaml(2));
    k.t.ok(["kube", "down", &f]);
    assert!(http_get(node_port).is_none());
}
