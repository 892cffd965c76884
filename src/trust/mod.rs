//! Trust: which commit's policy and signer list judge a range (the
//! anchor), and when an audit record made on one commit covers the same
//! change on the commit a squash or rebase merge made from it (carrying).
//!
//! Nothing here prints or reads the terminal; git is reached through
//! [`crate::git::Repo`] only. What the pushed commits say about their own
//! trust is never consulted: the anchor is chosen from the remote's
//! default branch or named by the caller.

pub mod anchor;
pub mod carry;

pub use anchor::{pick, Anchor, AnchorError, AnchorRequest};
pub use carry::{carry, Carried};
