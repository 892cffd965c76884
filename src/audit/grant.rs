//! The grant: the signed document an override token is minted with.
//!
//! A grant binds the token's hash to one blocker (constraint, fingerprint,
//! location and the scope it was computed from), its lifetime, the person
//! who asked and the person (or key) that approved, and the approval tier.
//! The audit record carries it, so single use, the lifetime and the tier
//! are judged at verify time from signed data, never from the ledger.
//!
//! - tier `challenge`: signed by the requester's own signing key after the
//!   terminal challenge. Anything that key can sign, an agent running as
//!   the developer can sign too: such grants are *self-attested*.
//! - tier `presence`: signed by the approver's FIDO security key
//!   (`tollgate.approvalKey`); the signature's user-presence flag (and
//!   user-verification flag where the signer list says `verify-required`)
//!   shows that a person touched the key.
//!
//! Two-key tokens have no grant: their request and approval (see
//! [`super::approval`]) are the signed documents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::allowed_signers::AllowedSigners;
use super::doc::{self, decode, invalid, signed_bytes, user_present, verify_by};
use super::identity::Identity;
use super::sshsig::{SigningKey, VerifiedSigner};
use super::AuditError;
use crate::check::{EventKind, Location};
use crate::policy::{Severity, Tier};

/// Prefix of an encoded grant.
pub const GRANT_PREFIX: &str = "tggrant1_";

/// What a blocker was computed from: the operation and the fingerprint's
/// scope fields (lower-case hex of each field's bytes: a ref, shas, a path,
/// a blob id or a secret's sha256, never a secret). Another clone
/// recomputes the fingerprint from them, so what is shown to an approver is
/// bound to what the token passes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The operation that was blocked.
    pub event: EventKind,
    /// The fingerprint's scope fields, hex.
    pub fields: Vec<String>,
}

/// The signed document a token is minted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Format version: 1.
    pub v: u32,
    /// Always `grant`.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// sha256 of the token, lower-case hex; never the token.
    pub token_sha256: String,
    /// The blocker's constraint id.
    pub constraint: String,
    /// The constraint's kind.
    pub kind: String,
    /// The blocker's severity.
    pub severity: Severity,
    /// The blocker's fingerprint: what the token passes.
    pub fingerprint: String,
    /// Where the blocker is.
    pub location: Location,
    /// What the blocker was computed from.
    pub scope: Scope,
    /// Why, in the requester's words.
    pub reason: String,
    /// Reason code, if the policy lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Who asked for the token (and will consume it).
    pub requester: Identity,
    /// Who approved; the signer. For `challenge`, the requester; for
    /// `presence`, the person with their security key.
    pub approver: Identity,
    /// `challenge` or `presence`.
    pub tier: Tier,
    /// When the token was minted.
    #[serde(with = "super::identity::rfc3339")]
    pub minted: DateTime<Utc>,
    /// When it stops being valid.
    #[serde(with = "super::identity::rfc3339")]
    pub expires: DateTime<Utc>,
    /// sha256 of the effective policy at mint time.
    pub policy_sha256: String,
    /// The approver's signature.
    pub signature: String,
}

impl Grant {
    /// Signs with `key` (which must be the approver's) and encodes.
    pub fn sign_and_encode(self, key: &SigningKey) -> Result<String, AuditError> {
        if self.tier == Tier::TwoKey {
            return Err(invalid(
                "a two-key token is minted from a signed request and approval, not a grant",
            ));
        }
        let who = self.approver.clone();
        doc::sign_and_encode(self, key, &who, GRANT_PREFIX, |d, s| d.signature = s)
    }

    /// Decodes strictly.
    pub fn decode(s: &str) -> Result<Grant, AuditError> {
        let g: Grant = decode(GRANT_PREFIX, "grant", s)?;
        if g.v != 1 || g.doc_type != "grant" {
            return Err(invalid("not a version-1 tollgate grant"));
        }
        if g.tier == Tier::TwoKey {
            return Err(invalid("a grant cannot claim the `two-key` tier"));
        }
        if g.expires <= g.minted {
            return Err(invalid("the grant expires before it was minted"));
        }
        if g.tier == Tier::Challenge && g.approver != g.requester {
            return Err(invalid(
                "a `challenge` grant is approved by its requester's own key",
            ));
        }
        if g.requester.email.is_empty() || g.approver.email.is_empty() {
            return Err(invalid("the grant names no requester or approver"));
        }
        Ok(g)
    }

    /// Verifies the approver's signature against `signers` at mint time,
    /// and for `presence` that the signature shows what the tier needs: the
    /// security key's user-presence flag (user verification is checked by
    /// the signature itself where the signer list says `verify-required`).
    pub fn verify(&self, signers: &AllowedSigners) -> Result<VerifiedSigner, AuditError> {
        let v = verify_by(
            &signed_bytes(self)?,
            &self.signature,
            signers,
            &self.approver,
            self.minted,
        )?;
        if self.tier == Tier::Presence && !user_present(&v) {
            return Err(invalid(format!(
                "the `presence` grant's signature by {} shows no user presence: it was not made by a touch of a security key",
                v.key_fingerprint
            )));
        }
        Ok(v)
    }
}
