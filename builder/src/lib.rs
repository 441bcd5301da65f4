//! rbox-builder: `rbox build`, from a Dockerfile and a context to a layered OCI image.
//!
//! A Dockerfile goes through three layers, as in BuildKit's Dockerfile frontend:
//! - [`syntax`]: text → nodes (comments, directives, continuations, flags, JSON and shell
//!   forms, heredocs), each with its line range, knowing nothing of what instructions mean;
//! - [`instructions`]: nodes → typed [`Instruction`]s grouped into [`Stage`]s, with every
//!   problem reported with its line ([`parse`]);
//! - [`expand`]: Docker's word expansion, applied to each instruction once, as the executor
//!   dispatches it ([`Instruction::expand`], with the ARG and ENV values of its step).
//!
//! [`dockerignore`] decides which files of the build context are used.
//!
//! [`build`] is the executor: the plan of stages, RUN in a container over the stage's
//! snapshots, COPY and ADD into a fresh layer (context.rs: sources kept inside the context,
//! hashed for the cache), the cache keys, and the image written to the store. [`commit`] makes an image of a container's
//! changes through the same layer code (layer.rs: upper directories read relative to open
//! directory fds, following no link). [`progress`] holds the events of a build's steps and
//! the live view a terminal shows of them (`--progress tty`).

pub mod build;
pub mod commit;
mod context;
pub mod dockerignore;
pub mod expand;
pub mod fetch;
pub mod instructions;
mod layer;
pub mod progress;
pub mod syntax;

pub use instructions::{
    parse, ArgDecl, Diagnostic, Dockerfile, Healthcheck, Heredoc, Instruction, Located,
    ShellOrExec, Stage,
};
/// A directory as a tar stream, read by directory fds (for `export` too).
pub use layer::write_layer;
