//! What a released binary says about itself and ships beside itself: the
//! build stamp (`--version`, `tollgate version`) and the man pages.
//!
//! Owns no decisions about git, policies or records; reads nothing at run
//! time except what the build script compiled in.

pub mod build;
pub mod man;
