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

/// What `verify` or `pre-receive` judges, resolved: the range, the ref
/// update, and the anchor whose policy and signers judge it.
pub struct Plan {
    /// The commit the range starts after (`None`: all of `head`'s history).
    pub base: Option<git2::Oid>,
    /// The last commit of the range (`None`: the ref was deleted).
    pub head: Option<git2::Oid>,
    /// The ref update judged itself (force push, protected branch).
    pub update: Option<crate::check::RefUpdate>,
    /// The commit whose policy and signers judge, and how it was chosen.
    pub anchor: Option<Anchor>,
}
