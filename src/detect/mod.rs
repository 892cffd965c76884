//! Detection facts that are not regexes: offline checksum and structure
//! validators named by `[[secret]] checksum = "…"`, and the values that are
//! public by design (vendors' documented example keys, Firebase web config)
//! which no rule reports as a blocker.

pub mod checksum;
pub mod public;

pub use checksum::{Checksum, CHECKSUM_NAMES};
pub use public::{KnownPublic, PublicError, KNOWN_PUBLIC};
