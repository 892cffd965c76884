//! Which SSH key signs this person's audit records, from git config.

use super::sshsig::SigningKey;
use super::AuditError;
use crate::git::Repo;

/// Where the key came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `tollgate.signingKey`.
    Tollgate,
    /// `user.signingkey` with `gpg.format = ssh`.
    Git,
}

impl KeySource {
    /// The config key that named it.
    pub fn config_key(self) -> &'static str {
        match self {
            KeySource::Tollgate => "tollgate.signingKey",
            KeySource::Git => "user.signingkey",
        }
    }
}

/// The configured signing key: `tollgate.signingKey`, else git's
/// `user.signingkey` when `gpg.format = ssh`. A `user.signingkey` meant for
/// GPG is never used. No key is an error that says how to configure one,
/// because an override is never consumed without a signed record.
pub fn signing_key(repo: &Repo) -> Result<(SigningKey, KeySource), AuditError> {
    let set = |key: &str| repo.config_string(key).filter(|v| !v.trim().is_empty());
    if let Some(v) = set("tollgate.signingKey") {
        return Ok((SigningKey::from_config(&v), KeySource::Tollgate));
    }
    let ssh_format = set("gpg.format").is_some_and(|f| f.trim().eq_ignore_ascii_case("ssh"));
    match set("user.signingkey") {
        Some(v) if ssh_format => Ok((SigningKey::from_config(&v), KeySource::Git)),
        Some(_) => Err(AuditError::NoSigningKey {
            why: "`user.signingkey` is set for GPG (`gpg.format` is not `ssh`)".into(),
        }),
        None => Err(AuditError::NoSigningKey {
            why: "neither `tollgate.signingKey` nor `user.signingkey` (with `gpg.format = ssh`) is set".into(),
        }),
    }
}

/// The security key that signs `presence` approvals:
/// `tollgate.approvalKey`, separate from the commit signing key so that a
/// touch asked for an approval is never mistaken for a commit signature.
/// `None` when unset. It must be a FIDO key (`sk-ssh-ed25519@openssh.com`
/// or `sk-ecdsa-sha2-nistp256@openssh.com`); [`approval_key_usable`] says
/// why one is not.
pub fn approval_key(repo: &Repo) -> Option<SigningKey> {
    repo.config_string("tollgate.approvalKey")
        .filter(|v| !v.trim().is_empty())
        .map(|v| SigningKey::from_config(&v))
}

/// Checks before anything is minted that `key` can sign a `presence`
/// approval: its public half is readable and it is a security key.
pub fn approval_key_usable(key: &SigningKey) -> Result<String, AuditError> {
    let public = key.public_key()?;
    let algorithm = public.algorithm();
    if !matches!(
        algorithm,
        ssh_key::Algorithm::SkEd25519 | ssh_key::Algorithm::SkEcdsaSha2NistP256
    ) {
        return Err(AuditError::SigningKey {
            key: key.to_string(),
            why: format!(
                "`tollgate.approvalKey` is a `{}` key; `presence` approvals need a FIDO security key (`ssh-keygen -t ed25519-sk`)",
                algorithm.as_str()
            ),
        });
    }
    key.key_fingerprint()
}
