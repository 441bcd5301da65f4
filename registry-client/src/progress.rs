//! What a pull or push reports as it goes, for the CLI to show as lines or bars.

use crate::manifest::Blob;

/// One step of a transfer.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// The blob is already where it is going: in the store (pull) or in the repository
    /// (push).
    Exists(&'a Blob),
    /// The transfer of a blob starts.
    Started(&'a Blob),
    /// Bytes of a blob transferred so far.
    Progress(&'a Blob, u64),
    /// A blob is transferred (and, when pulled, verified and stored).
    Done(&'a Blob),
    /// A blob was mounted from another repository of the registry, with no upload.
    Mounted(&'a Blob, &'a str),
    /// The layers are being unpacked.
    Extracting,
}

/// Receives events, possibly from several threads at once.
pub type Progress<'a> = &'a (dyn Fn(Event<'_>) + Sync);

/// A receiver that ignores everything.
pub fn silent(_: Event<'_>) {}

/// How often `Progress` events come, in bytes.
pub(crate) const PROGRESS_STEP: u64 = 512 * 1024;
