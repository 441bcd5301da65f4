//! Compose files: found, merged, interpolated and checked into one typed project.

pub mod error;
pub mod node;
pub mod de;
pub mod dotenv;
pub mod interp;
pub mod mounts;
pub mod ports;
pub mod units;
