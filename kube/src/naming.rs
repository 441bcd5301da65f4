//! Names Kubernetes gives what its controllers make: the pod-template hash, ReplicaSet and
//! pod names, and the labels it adds to them.
//!
//! rbox adds `pod-template-hash` (Deployment's ReplicaSets and their pods),
//! `controller-revision-hash` (DaemonSet pods), and `job-name` with
//! `batch.kubernetes.io/job-name` (Job pods). It adds no `controller-uid`: objects here have
//! no UIDs, and the labels above with the owner's name already tell pods apart.

use sha2::{Digest, Sha256};

use crate::types::PodTemplateSpec;

/// Kubernetes' `SafeEncodeString` alphabet: no vowels (no words), no 0/1/3 (no look-alikes).
pub const ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// The label of the template hash on a Deployment's ReplicaSets and pods.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The label of the template hash on a DaemonSet's pods.
pub const CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// The labels naming a Job on its pods.
pub const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// Kubernetes' `SafeEncodeString`: each byte as one letter of [`ALPHABET`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The hash of a pod template, as a ReplicaSet name carries it (`567f778dbb`).
///
/// Kubernetes hashes with FNV-32a over go-spew's `%#v` printing of its own Go structs (Go's
/// type names, field order and pointer markers in the text), which cannot be reproduced
/// outside Go: this is the first 32 bits of SHA-256 over the template's canonical JSON
/// (fields in declaration order, maps sorted, unset fields left out), printed in decimal and
/// encoded as Kubernetes encodes its own, so it looks the same and changes exactly when the
/// template does — but is not the value a cluster would print.
pub fn template_hash(template: &PodTemplateSpec) -> String {
    let json = serde_json::to_vec(template).expect("a template serializes");
    let digest = Sha256::digest(&json);
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    safe_encode(&n.to_string())
}

/// A ReplicaSet's name for a Deployment's template: `<deployment>-<hash>`.
pub fn replica_set_name(deployment: &str, hash: &str) -> String {
    format!("{deployment}-{hash}")
}

/// `n` random letters of [`ALPHABET`], from the system's generator.
pub fn random_suffix(n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 16];
    while out.len() < n {
        getrandom::getrandom(&mut buf).expect("the system's random generator");
        // 243 = 9 × 27: bytes above it would favour the first letters.
        for b in buf.iter().filter(|b| **b < 243) {
            if out.len() < n {
                out.push(ALPHABET[*b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// A pod's name under its owner (a ReplicaSet, DaemonSet or Job): `<owner>-<5 letters>`,
/// as Kubernetes' generateName makes it (the owner's name cut to 58 characters).
pub fn pod_name(owner: &str) -> String {
    let mut base = owner.to_string();
    base.truncate(58);
    format!("{base}-{}", random_suffix(5))
}

/// The volume an on-disk emptyDir of a pod is made as: `<pod>-<volume>`, removed with the pod.
pub fn pod_volume_name(pod: &str, volume: &str) -> String {
    format!("{pod}-{volume}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Container, ObjectMeta, PodSpec};

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: ObjectMeta::default(),
            spec: PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        }
    }

    #[test]
    fn hashes_look_like_kubernetes_and_follow_the_template() {
        let a = template_hash(&template("busybox:1"));
        assert_eq!(a, template_hash(&template("busybox:1")));
        assert_ne!(a, template_hash(&template("busybox:2")));
        assert!(
            a.len() <= 10 && a.chars().all(|c| "456789bcdf".contains(c)),
            "{a}"
        );
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    #[test]
    fn pod_names() {
        let n = pod_name("echo-567f778dbb");
        assert!(n.starts_with("echo-567f778dbb-") && n.len() == 21, "{n}");
        assert!(n[16..].bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(random_suffix(5), random_suffix(5).repeat(0));
        assert_eq!(pod_name(&"a".repeat(70)).len(), 64);
    }
}
