//! Compose files: found, merged, interpolated and checked into one typed project.
