//! rbox-network: network namespaces, bridges, veths, address allocation and port publishing.
//!
//! It holds no code yet.
