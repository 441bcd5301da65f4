//! A subset of the Kubernetes API types, read from manifests and written for a cluster.
