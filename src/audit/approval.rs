//! Two-key approvals: the signed request a requester sends to an approver,
//! and the signed approval the approver sends back.
//!
//! Each is an RFC 8785 JSON object with an inline `signature` (SSHSIG,
//! namespace `tollgate`, over the canonical JSON without `signature`),
//! carried as one copy-pasteable string: `tgreq1_` or `tgapp1_` and the
//! base64url of that JSON. A `type` member inside the signed bytes keeps a
//! request, an approval and an audit record from ever passing for one
//! another. The audit record of a two-key token carries both strings, so
//! `verify` can check both signatures and the approver's standing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::allowed_signers::AllowedSigners;
use super::doc::{self, decode, invalid, signed_bytes, verify_by};
use super::identity::Identity;
use super::sshsig::{SigningKey, VerifiedSigner};
use super::AuditError;
use crate::check::{EventKind, Location};
use crate::policy::Severity;

/// Prefix of an encoded request.
pub const REQUEST_PREFIX: &str = "tgreq1_";
/// Prefix of an encoded approval.
pub const APPROVAL_PREFIX: &str = "tgapp1_";

/// What a requester asks an approver to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Format version: 1.
    pub v: u32,
    /// Always `request`.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// `req_…`: random, names the request in the ledger.
    pub id: String,
    /// The blocker's constraint id.
    pub constraint: String,
    /// The constraint's kind.
    pub kind: String,
    /// The blocker's severity.
    pub severity: Severity,
    /// The blocker's fingerprint: what the token will pass.
    pub fingerprint: String,
    /// Where the blocker is.
    pub location: Location,
    /// The operation that was blocked.
    pub event: EventKind,
    /// What the blocker was computed from: the approver's tollgate
    /// computes it again from this, in their own clone, and refuses when
    /// the fingerprint differs. Requests made before scopes existed have
    /// none and cannot be approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<super::grant::Scope>,
    /// The repository (its `origin` URL, else its directory name).
    pub repository: String,
    /// Why.
    pub reason: String,
    /// Reason code, if the policy lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Who asks; the signer.
    pub requester: Identity,
    /// When it was made.
    #[serde(with = "super::identity::rfc3339")]
    pub created: DateTime<Utc>,
    /// When it lapses; the token minted from it expires then too.
    #[serde(with = "super::identity::rfc3339")]
    pub expires: DateTime<Utc>,
    /// The requester's signature.
    pub signature: String,
}

/// What an approver signs: this exact request, for this blocker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Format version: 1.
    pub v: u32,
    /// Always `approval`.
    #[serde(rename = "type")]
    pub doc_type: String,
    /// sha256 of the encoded request string, lower-case hex.
    pub request_sha256: String,
    /// The request's id.
    pub request_id: String,
    /// The blocker's fingerprint (as in the request).
    pub fingerprint: String,
    /// The constraint (as in the request).
    pub constraint: String,
    /// Who approves; the signer.
    pub approver: Identity,
    /// When.
    #[serde(with = "super::identity::rfc3339")]
    pub approved: DateTime<Utc>,
    /// The request's expiry.
    #[serde(with = "super::identity::rfc3339")]
    pub expires: DateTime<Utc>,
    /// The approver's signature.
    pub signature: String,
}

/// The two strings a two-key audit record carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwoKeyProof {
    /// The encoded request (`tgreq1_…`).
    pub request: String,
    /// The encoded approval (`tgapp1_…`).
    pub approval: String,
}

/// sha256 of an encoded string, lower-case hex.
pub fn digest(encoded: &str) -> String {
    crate::policy::hex(&Sha256::digest(encoded.trim().as_bytes()))
}

impl Request {
    /// Signs with `key` (which must be the requester's) and encodes.
    pub fn sign_and_encode(self, key: &SigningKey) -> Result<String, AuditError> {
        let who = self.requester.clone();
        doc::sign_and_encode(self, key, &who, REQUEST_PREFIX, |d, s| d.signature = s)
    }

    /// Decodes strictly (prefix, base64url, canonical JSON, known fields).
    pub fn decode(s: &str) -> Result<Request, AuditError> {
        let r: Request = decode(REQUEST_PREFIX, "request", s)?;
        if r.v != 1 || r.doc_type != "request" {
            return Err(invalid("not a version-1 tollgate request"));
        }
        Ok(r)
    }

    /// Verifies the requester's signature against `signers` at creation.
    pub fn verify(&self, signers: &AllowedSigners) -> Result<VerifiedSigner, AuditError> {
        verify_by(
            &signed_bytes(self)?,
            &self.signature,
            signers,
            &self.requester,
            self.created,
        )
    }
}

impl Approval {
    /// Signs with `key` (which must be the approver's) and encodes.
    pub fn sign_and_encode(self, key: &SigningKey) -> Result<String, AuditError> {
        let who = self.approver.clone();
        doc::sign_and_encode(self, key, &who, APPROVAL_PREFIX, |d, s| d.signature = s)
    }

    /// Decodes strictly.
    pub fn decode(s: &str) -> Result<Approval, AuditError> {
        let a: Approval = decode(APPROVAL_PREFIX, "approval", s)?;
        if a.v != 1 || a.doc_type != "approval" {
            return Err(invalid("not a version-1 tollgate approval"));
        }
        Ok(a)
    }

    /// Verifies the approver's signature against `signers` at approval.
    pub fn verify(&self, signers: &AllowedSigners) -> Result<VerifiedSigner, AuditError> {
        verify_by(
            &signed_bytes(self)?,
            &self.signature,
            signers,
            &self.approver,
            self.approved,
        )
    }
}

/// Checks a request and its approval together: both signatures, the same
/// request, the same blocker, two different keys and two different people,
/// and the approval made before the request lapsed. `approvers` are the
/// constraint's principal patterns. Returns both documents.
pub fn check_pair(
    request: &str,
    approval: &str,
    signers: &AllowedSigners,
    approvers: &[String],
) -> Result<(Request, Approval), AuditError> {
    let req = Request::decode(request)?;
    let app = Approval::decode(approval)?;
    req.verify(signers)
        .map_err(|e| invalid(format!("the request's signature: {e}")))?;
    app.verify(signers)
        .map_err(|e| invalid(format!("the approval's signature: {e}")))?;
    if app.request_sha256 != digest(request) || app.request_id != req.id {
        return Err(invalid("the approval is for another request"));
    }
    if app.fingerprint != req.fingerprint || app.constraint != req.constraint {
        return Err(invalid(
            "the approval names another blocker than the request",
        ));
    }
    same_person_refused(&req.requester, &app.approver)?;
    approver_allowed(&app.approver, &req.constraint, approvers)?;
    if app.approved > req.expires || app.approved < req.created {
        return Err(invalid(
            "the approval was made outside the request's lifetime",
        ));
    }
    Ok((req, app))
}

/// Where the policy says `approver-presence = true`: the approver's
/// signature must show a security key's user-presence flag.
pub fn approval_presence(app: &Approval, signers: &AllowedSigners) -> Result<(), AuditError> {
    let v = app.verify(signers)?;
    if doc::user_present(&v) {
        Ok(())
    } else {
        Err(invalid(format!(
            "the policy needs the approver's security-key touch (`approver-presence`), and {}'s signature by {} shows no user presence",
            app.approver.email, v.key_fingerprint
        )))
    }
}

/// The same key or the same principal can never satisfy both keys.
pub fn same_person_refused(requester: &Identity, approver: &Identity) -> Result<(), AuditError> {
    if requester.key_fingerprint == approver.key_fingerprint {
        return Err(invalid(
            "the approver used the requester's key: one key cannot satisfy both keys",
        ));
    }
    if requester.email.eq_ignore_ascii_case(&approver.email) {
        return Err(invalid(format!(
            "`{}` cannot approve their own request: a second person must",
            approver.email
        )));
    }
    Ok(())
}

/// Whether `approver` matches the constraint's `approvers` patterns.
pub fn approver_allowed(
    approver: &Identity,
    constraint: &str,
    approvers: &[String],
) -> Result<(), AuditError> {
    let ok =
        super::PatternList::parse(&approvers.join(",")).is_ok_and(|p| p.matches(&approver.email));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "`{}` is not among the approvers of `{constraint}` ({})",
            approver.email,
            approvers.join(", ")
        )))
    }
}
