//! rbox-builder: turns a Dockerfile and a build context into a layered OCI image.
//!
//! It will own the Dockerfile syntax layer, typed instructions, word expansion, the build
//! executor and its cache, and `.dockerignore`. It holds no code yet: `rbox build` does not
//! exist until it does.
