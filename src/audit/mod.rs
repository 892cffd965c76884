//! Audit records and the signed documents around them: what a consumed
//! override token leaves behind, and the grants and two-key approvals a
//! record carries.
//!
//! It owns the document formats ([`record`], [`grant`], [`approval`], with
//! the parts they share in [`identity`] and `doc`), their canonical bytes
//! ([`jcs`], RFC 8785), SSH signatures over them ([`sshsig`], namespace
//! `tollgate`) and the signer list that says whose signatures count
//! ([`allowed_signers`]); judging records against blockers ([`verify`](mod@verify):
//! signatures, tier, lifetime, single use, weekly budgets); who signs and the
//! record pipeline ([`config`], [`pipeline`]: the signing key, records made
//! and kept pending, then flushed into the notes); the append-only check of
//! the notes history ([`trail`]) and the hooks' token index ([`index`]).
//!
//! It reaches git only through [`crate::git::Repo`], and never prints, reads
//! the terminal or the clock (times are passed in). Which blockers a range
//! has and whose policy and signers judge them are the gate's
//! (`gate::range`): they arrive here as values.

pub mod allowed_signers;
pub mod approval;
pub mod config;
pub(crate) mod doc;
pub mod grant;
pub mod identity;
pub mod index;
pub mod jcs;
pub mod pending;
pub mod pipeline;
pub mod record;
pub mod sshsig;
pub mod trail;
pub mod verify;

use std::path::PathBuf;

pub use allowed_signers::{AllowedSigners, PatternList, SignerEntry, SkippedLine};
pub use config::{approval_key, approval_key_usable, signing_key, KeySource};

/// Where the signer list lives in a repository.
pub const ALLOWED_SIGNERS: &str = ".tollgate/allowed_signers";
pub use allowed_signers::verify;
pub use identity::Identity;
pub use record::{parse_line, parse_note, Attach, AuditRecord, FORMAT_VERSION};
pub use sshsig::{
    sign, sign_in_process, sign_with_ssh_keygen, KeyAlgorithm, Presence, SignVia, SigningKey,
    SkFlags, UsableKey, VerifiedSigner, NAMESPACE,
};

/// What went wrong with an audit record, a signature or the signer list.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A record line is not valid JSON.
    #[error("cannot parse audit record: {source}")]
    Json {
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A record is JSON but not a valid version-1 record.
    #[error("invalid audit record: {why}")]
    InvalidRecord {
        /// What is wrong.
        why: String,
    },
    /// A record's `v` is not one this tollgate reads.
    #[error(
        "unsupported audit record version {found} (this tollgate reads versions 1 and {FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version found, as written.
        found: String,
    },
    /// A record line has no (or an empty) `signature`.
    #[error("audit record has no signature")]
    MissingSignature,
    /// A record line parses but is not byte-for-byte its canonical form.
    #[error("audit record is not in canonical form (RFC 8785); it was altered after signing or written by another tool")]
    NotCanonical,
    /// A value cannot be canonicalized (floats and unsafe integers).
    #[error("cannot canonicalize number `{number}`: audit records hold integers in [-(2^53-1), 2^53-1] only")]
    Number {
        /// The number as parsed.
        number: String,
    },
    /// A line of an `allowed_signers` file is invalid.
    #[error("`{path}` line {line}: {why}")]
    AllowedSigners {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {what} `{path}`: {source}")]
    Io {
        /// `read`, `write`, …
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No SSH signing key is configured.
    #[error("no SSH signing key is configured ({why}); overrides are only consumed with a signed audit record. Configure one with `git config tollgate.signingKey ~/.ssh/id_ed25519.pub` (or `git config gpg.format ssh` and `git config user.signingkey …`), and add its public key to `.tollgate/allowed_signers`")]
    NoSigningKey {
        /// What is set and what is missing.
        why: String,
    },
    /// `ssh-keygen` is not on `PATH`.
    #[error("`ssh-keygen` was not found on PATH")]
    SshKeygenMissing,
    /// `ssh-keygen` ran and failed.
    #[error("`ssh-keygen -Y sign -n tollgate` failed ({status}): {stderr}")]
    SshKeygen {
        /// Exit status.
        status: String,
        /// What it wrote to stderr (trimmed).
        stderr: String,
    },
    /// A signing key cannot be used.
    #[error("cannot use signing key `{key}`: {why}")]
    SigningKey {
        /// The key path or literal (public material only).
        key: String,
        /// What is wrong.
        why: String,
    },
    /// A signature is not a well-formed SSHSIG blob.
    #[error("malformed signature: {why}")]
    MalformedSignature {
        /// What is wrong.
        why: String,
    },
    /// A signature was made for another namespace (`git`, `file`, …).
    #[error("signature namespace is `{found}`, expected `tollgate`")]
    WrongNamespace {
        /// The namespace in the signature.
        found: String,
    },
    /// A signature or key of a type tollgate refuses (`ssh-rsa` SHA-1
    /// signatures, DSA, short RSA keys, unknown types).
    #[error("signature algorithm `{algorithm}` is refused: {why}")]
    UnsupportedAlgorithm {
        /// The algorithm or key type as named in the signature.
        algorithm: String,
        /// Why, and what to use instead.
        why: String,
    },
    /// The signature does not match the message and key.
    #[error("signature by `{key_fingerprint}` does not verify: the signed bytes were changed or the signature is forged")]
    BadSignature {
        /// `SHA256:…` of the key in the signature.
        key_fingerprint: String,
    },
    /// The signing key is valid but not allowed to sign for this principal.
    #[error(
        "key `{key_fingerprint}` is not an allowed signer for `{principal}` in `{path}`: {why}"
    )]
    SignerNotAllowed {
        /// `SHA256:…` of the key in the signature.
        key_fingerprint: String,
        /// The principal that was required.
        principal: String,
        /// The `allowed_signers` file.
        path: PathBuf,
        /// Why each candidate line was refused.
        why: String,
    },
    /// The key in the signature is not the one the record names.
    #[error("audit record names key `{named}` but was signed by `{signed_by}`")]
    KeyMismatch {
        /// `requester.key_fingerprint` in the record.
        named: String,
        /// `SHA256:…` of the key in the signature.
        signed_by: String,
    },
}
