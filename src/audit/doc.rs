//! What every signed tollgate document shares (two-key requests and
//! approvals, mint-time grants): RFC 8785 JSON with an inline `signature`
//! over the canonical JSON without it, carried as one copy-pasteable
//! string (a prefix such as `tgreq1_` and the base64url of the JSON).
//!
//! It owns the encoding, strict decoding, and the signing and verification
//! against a named [`Identity`]; what each document means is its own
//! module's business.

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::allowed_signers::AllowedSigners;
use super::identity::Identity;
use super::jcs::canonicalize;
use super::sshsig::{self, SigningKey, VerifiedSigner};
use super::AuditError;

pub(super) fn invalid(why: impl Into<String>) -> AuditError {
    AuditError::InvalidRecord { why: why.into() }
}

/// The canonical bytes of `value` without its `signature` member.
pub(super) fn signed_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, AuditError> {
    let mut v = serde_json::to_value(value).map_err(|source| AuditError::Json { source })?;
    if let Value::Object(map) = &mut v {
        map.remove("signature");
    }
    Ok(canonicalize(&v)?.into_bytes())
}

/// `prefix` and the base64url of the canonical JSON of `value`.
pub(super) fn encode<T: Serialize>(prefix: &str, value: &T) -> Result<String, AuditError> {
    let v = serde_json::to_value(value).map_err(|source| AuditError::Json { source })?;
    let line = canonicalize(&v)?;
    Ok(format!(
        "{prefix}{}",
        Base64UrlUnpadded::encode_string(line.as_bytes())
    ))
}

/// Decodes strictly: the prefix, base64url, UTF-8, canonical JSON and the
/// document's own fields (unknown ones refused by its serde attributes).
pub(super) fn decode<T: for<'de> Deserialize<'de> + Serialize>(
    prefix: &str,
    what: &str,
    s: &str,
) -> Result<T, AuditError> {
    let body = s.trim().strip_prefix(prefix).ok_or_else(|| {
        invalid(format!(
            "not a tollgate {what}: it must start with `{prefix}`"
        ))
    })?;
    let bytes = Base64UrlUnpadded::decode_vec(body)
        .map_err(|_| invalid(format!("the {what} is damaged: not base64url")))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid(format!("the {what} is not UTF-8")))?;
    let value: Value = serde_json::from_str(&text).map_err(|source| AuditError::Json { source })?;
    if canonicalize(&value)? != text {
        return Err(AuditError::NotCanonical);
    }
    serde_json::from_value(value).map_err(|e| invalid(format!("the {what} is not valid: {e}")))
}

/// Refuses to sign for `who` with another key than theirs.
pub(super) fn check_key(key: &SigningKey, who: &Identity) -> Result<(), AuditError> {
    let fingerprint = key.key_fingerprint()?;
    if fingerprint != who.key_fingerprint {
        return Err(AuditError::KeyMismatch {
            named: who.key_fingerprint.clone(),
            signed_by: fingerprint,
        });
    }
    Ok(())
}

/// Signs `doc` as `who` with `key` and encodes it with `prefix`;
/// `set_signature` stores the signature in the document.
pub(super) fn sign_and_encode<T: Serialize>(
    mut doc: T,
    key: &SigningKey,
    who: &Identity,
    prefix: &str,
    set_signature: impl FnOnce(&mut T, String),
) -> Result<String, AuditError> {
    check_key(key, who)?;
    let signature = sshsig::sign(key, &signed_bytes(&doc)?)?;
    set_signature(&mut doc, signature);
    encode(prefix, &doc)
}

/// Verifies that `signature` over `bytes` was made by `who`'s key, which
/// `signers` allows for `who.email` at `at`.
pub(super) fn verify_by(
    bytes: &[u8],
    signature: &str,
    signers: &AllowedSigners,
    who: &Identity,
    at: DateTime<Utc>,
) -> Result<VerifiedSigner, AuditError> {
    let v = super::allowed_signers::verify(bytes, signature, signers, &who.email, at)?;
    if v.key_fingerprint != who.key_fingerprint {
        return Err(AuditError::KeyMismatch {
            named: who.key_fingerprint.clone(),
            signed_by: v.key_fingerprint,
        });
    }
    Ok(v)
}

/// Whether a verified signature carries a security key's user-presence
/// flag: only a touch of the key sets it.
pub(crate) fn user_present(v: &VerifiedSigner) -> bool {
    v.presence() != super::sshsig::Presence::None
}
