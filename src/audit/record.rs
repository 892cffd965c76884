//! The audit record: the signed statement that one override token was
//! consumed against one blocker, one line of a `refs/notes/tollgate` note.
//!
//! A record line is the RFC 8785 canonical JSON of the record with its
//! signature. The signature covers the canonical JSON of the record without
//! the `signature` member. Keeping the signature inline and the whole record
//! on one line lets notes written by different people on the same commit
//! merge by union of lines (`cat_sort_uniq`) without breaking any signature.
//! Parsing is strict: unknown fields, another version, a missing signature
//! or a line that is not exactly its own canonical form are refused, so
//! every record has one byte representation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::allowed_signers::AllowedSigners;
use super::jcs::canonicalize;
use super::sshsig::{self, SigningKey, VerifiedSigner};
use super::AuditError;
use crate::check::Location;
use crate::overrides::ledger::Entry;
use crate::policy::{Severity, Tier};
use crate::text::short_sha as short;

/// The record format this tollgate writes.
///
/// Version 2 carries the signed grant of a `challenge` or `presence` token
/// and attaches a commit-time record by the commit's tree and parent (so
/// the consuming run signs it before the commit exists). Version 1 records
/// (no grant; `commit` always named) are still read: their approval is
/// judged as `challenge` (self-attested) or as their two-key documents.
pub const FORMAT_VERSION: u32 = 2;

/// Every record version this tollgate reads.
pub const READ_VERSIONS: [u32; 2] = [1, 2];

use super::identity::Identity;

/// One consumed token, as recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Format version: [`FORMAT_VERSION`].
    pub v: u32,
    /// sha256 of the token, lower-case hex; never the token.
    pub token_id: String,
    /// The blocker's constraint id.
    pub constraint: String,
    /// The constraint's kind (`force-push`, `secret`, …).
    pub kind: String,
    /// The blocker's severity.
    pub severity: Severity,
    /// The blocker's fingerprint: what the token was bound to.
    pub fingerprint: String,
    /// Where the blocker was.
    pub location: Location,
    /// The commit this record is attached to as a note; empty for a
    /// version-2 commit-time record, which names `tree` and `parent`.
    pub commit: String,
    /// Version 2, commit-time: the tree of the commit it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// Version 2, commit-time: that commit's first parent (`None` for a
    /// root commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Why the person overrode the blocker.
    pub reason: String,
    /// Reason code from `[overrides] reasons`, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    /// Who asked for (and consumed) the token; the signer of the record.
    pub requester: Identity,
    /// Who approved it: the requester for `challenge`, the second key for
    /// `two-key`.
    pub approver: Identity,
    /// The approval tier the token was minted with.
    pub approval: Tier,
    /// Version 2, `challenge` and `presence`: the signed grant
    /// (`tggrant1_…`) the token was minted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// For `two-key`: the signed request and the signed approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_key: Option<super::approval::TwoKeyProof>,
    /// When the token was minted.
    #[serde(with = "rfc3339")]
    pub minted: DateTime<Utc>,
    /// When the token stopped being valid.
    #[serde(with = "rfc3339")]
    pub expires: DateTime<Utc>,
    /// When it was consumed.
    #[serde(with = "rfc3339")]
    pub consumed: DateTime<Utc>,
    /// sha256 of the effective policy, lower-case hex.
    pub policy_sha256: String,
    /// The tollgate version that wrote the record.
    pub tool_version: String,
    /// base64 SSHSIG blob over [`AuditRecord::canonical_bytes`]; empty until
    /// signed.
    pub signature: String,
}

impl AuditRecord {
    /// An unsigned record for a consumed ledger entry.
    ///
    /// `requester` is the person consuming the token (whose key signs the
    /// record). A `challenge` or `presence` entry carries its grant; a
    /// `two-key` entry its request and approval, and `approver` names the
    /// second signer. `attach` is the commit the record is attached to, or
    /// for a commit not made yet its tree and parent.
    pub fn from_entry(
        entry: &Entry,
        attach: Attach,
        requester: Identity,
        approver: Option<(Identity, super::approval::TwoKeyProof)>,
        consumed: DateTime<Utc>,
        policy_sha256: &str,
    ) -> Result<AuditRecord, AuditError> {
        let invalid = |why: String| AuditError::InvalidRecord { why };
        let token_id = entry
            .token_sha256
            .clone()
            .ok_or_else(|| invalid(format!("ledger entry `{}` has no token", entry.id)))?;
        let (approver, two_key, grant) = match (entry.method, approver) {
            (Tier::TwoKey, Some((a, proof))) => (a, Some(proof), None),
            (Tier::TwoKey, None) => {
                return Err(invalid("a two-key token needs its approver".into()))
            }
            (_, Some(_)) => {
                return Err(invalid("only a two-key token has a second approver".into()))
            }
            (tier, None) => {
                let text = entry.grant.clone().ok_or_else(|| {
                    invalid(format!(
                        "ledger entry `{}` carries no signed grant",
                        entry.id
                    ))
                })?;
                let g = super::grant::Grant::decode(&text)?;
                if g.tier != tier {
                    return Err(invalid(format!(
                        "ledger entry `{}` says `{}` but its grant says `{}`",
                        entry.id,
                        tier.as_str(),
                        g.tier.as_str()
                    )));
                }
                (g.approver, None, Some(text))
            }
        };
        let (commit, tree, parent) = match attach {
            Attach::Commit(c) => (c, None, None),
            Attach::Tree { tree, parent } => (String::new(), Some(tree), parent),
        };
        let record = AuditRecord {
            v: FORMAT_VERSION,
            token_id,
            constraint: entry.constraint.clone(),
            kind: entry.kind.clone(),
            severity: entry.severity,
            fingerprint: entry.fingerprint.clone(),
            location: entry.location.clone(),
            commit,
            tree,
            parent,
            reason: entry.reason.clone(),
            reason_code: entry.code.clone(),
            requester,
            approver,
            approval: entry.method,
            grant,
            two_key,
            minted: entry.minted,
            expires: entry.expires,
            consumed,
            policy_sha256: policy_sha256.to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            signature: String::new(),
        };
        record.validate()?;
        Ok(record)
    }

    /// Whether this record may sit on `commit`, whose tree and first
    /// parent are `shape`: a record naming its commit sits on that commit
    /// only; a commit-time record on a commit with its tree and parent.
    pub fn belongs_on(&self, commit: &str, shape: Option<(&str, Option<&str>)>) -> bool {
        if !self.commit.is_empty() {
            return self.commit == commit;
        }
        match (shape, &self.tree) {
            (Some((tree, parent)), Some(t)) => tree == t && parent == self.parent.as_deref(),
            _ => false,
        }
    }

    /// The commit the record names, or `tree …` for a commit-time record.
    pub fn target(&self) -> String {
        if self.commit.is_empty() {
            format!("tree {}", short(self.tree.as_deref().unwrap_or("")))
        } else {
            short(&self.commit).to_string()
        }
    }

    /// The bytes that are signed: RFC 8785 JSON of the record without
    /// `signature`.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, AuditError> {
        let mut value = self.to_value()?;
        if let Value::Object(map) = &mut value {
            map.remove("signature");
        }
        Ok(canonicalize(&value)?.into_bytes())
    }

    /// The note line (without a newline): RFC 8785 JSON of the whole
    /// record. Refused for an unsigned record.
    pub fn to_line(&self) -> Result<String, AuditError> {
        if self.signature.is_empty() {
            return Err(AuditError::MissingSignature);
        }
        canonicalize(&self.to_value()?)
    }

    fn to_value(&self) -> Result<Value, AuditError> {
        serde_json::to_value(self).map_err(|source| AuditError::Json { source })
    }

    /// Signs the record with `key` (through `ssh-keygen`, or in-process
    /// when it is missing), after checking that `key` is the key the record
    /// names for its requester.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), AuditError> {
        let fingerprint = key.key_fingerprint()?;
        if fingerprint != self.requester.key_fingerprint {
            return Err(AuditError::KeyMismatch {
                named: self.requester.key_fingerprint.clone(),
                signed_by: fingerprint,
            });
        }
        self.sign_with(|bytes| sshsig::sign(key, bytes))
    }

    /// Signs the record with any signer that returns a base64 SSHSIG blob
    /// over the bytes it is given.
    pub fn sign_with(
        &mut self,
        signer: impl FnOnce(&[u8]) -> Result<String, AuditError>,
    ) -> Result<(), AuditError> {
        self.validate()?;
        let bytes = self.canonical_bytes()?;
        self.signature = signer(&bytes)?;
        Ok(())
    }

    /// Verifies the signature: made in namespace `tollgate` over the
    /// canonical bytes, by the key the record names, which `signers` allows
    /// for the requester's email at `at`.
    pub fn verify(
        &self,
        signers: &AllowedSigners,
        at: DateTime<Utc>,
    ) -> Result<VerifiedSigner, AuditError> {
        if self.signature.is_empty() {
            return Err(AuditError::MissingSignature);
        }
        let bytes = self.canonical_bytes()?;
        let who = super::allowed_signers::verify(
            &bytes,
            &self.signature,
            signers,
            &self.requester.email,
            at,
        )?;
        if who.key_fingerprint != self.requester.key_fingerprint {
            return Err(AuditError::KeyMismatch {
                named: self.requester.key_fingerprint.clone(),
                signed_by: who.key_fingerprint,
            });
        }
        Ok(who)
    }

    /// Field checks that serde cannot express.
    fn validate(&self) -> Result<(), AuditError> {
        let invalid = |why: String| Err(AuditError::InvalidRecord { why });
        if !READ_VERSIONS.contains(&self.v) {
            return Err(AuditError::UnsupportedVersion {
                found: self.v.to_string(),
            });
        }
        if self.v == 1 && (self.grant.is_some() || self.tree.is_some() || self.parent.is_some()) {
            return invalid("a version-1 record has no `grant`, `tree` or `parent`".into());
        }
        if self.v == 1 && self.approval == Tier::Presence {
            return invalid("a version-1 record cannot claim `presence`".into());
        }
        if self.v >= 2 && (self.approval == Tier::TwoKey) == self.grant.is_some() {
            return invalid(
                "a version-2 record carries a grant unless it is `two-key`, and only then".into(),
            );
        }
        for (name, value) in [
            ("token_id", &self.token_id),
            ("policy_sha256", &self.policy_sha256),
            ("fingerprint", &self.fingerprint),
        ] {
            if !is_hex(value, &[64]) {
                return invalid(format!("`{name}` must be 64 lower-case hex digits"));
            }
        }
        match (&self.tree, self.commit.is_empty()) {
            (None, _) if !is_hex(&self.commit, &[40, 64]) => {
                return invalid("`commit` must be a full lower-case hex object id".into());
            }
            (Some(t), true)
                if !is_hex(t, &[40, 64])
                    || self
                        .parent
                        .as_deref()
                        .is_some_and(|p| !is_hex(p, &[40, 64])) =>
            {
                return invalid(
                    "`tree` and `parent` must be full lower-case hex object ids".into(),
                );
            }
            (Some(_), false) => {
                return invalid("a record names its `commit` or its `tree`, not both".into());
            }
            (None, _) if self.parent.is_some() => {
                return invalid("`parent` goes with `tree`".into());
            }
            _ => {}
        }
        for (name, who) in [("requester", &self.requester), ("approver", &self.approver)] {
            if !who.key_fingerprint.starts_with("SHA256:") {
                return invalid(format!(
                    "`{name}.key_fingerprint` must start with `SHA256:`"
                ));
            }
            if who.email.is_empty() {
                return invalid(format!("`{name}.email` is empty"));
            }
        }
        if self.approval == Tier::Challenge && self.approver != self.requester {
            return invalid("a `challenge` record's approver must be its requester".into());
        }
        if self.approval == Tier::TwoKey
            && self.approver.key_fingerprint == self.requester.key_fingerprint
        {
            return invalid("a `two-key` record's approver used the requester's key".into());
        }
        if (self.approval == Tier::TwoKey) != self.two_key.is_some() {
            return invalid(
                "a `two-key` record, and only one, carries the signed request and approval".into(),
            );
        }
        for (name, value) in [
            ("constraint", &self.constraint),
            ("kind", &self.kind),
            ("reason", &self.reason),
            ("tool_version", &self.tool_version),
        ] {
            if value.is_empty() {
                return invalid(format!("`{name}` is empty"));
            }
        }
        Ok(())
    }
}

/// Where a record goes: a commit, or (commit-time) the tree and parent of
/// the commit about to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// The commit, full hex.
    Commit(String),
    /// The staged tree and `HEAD` (`None` before the first commit).
    Tree {
        /// The staged tree, full hex.
        tree: String,
        /// The parent, full hex.
        parent: Option<String>,
    },
}

fn is_hex(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses one note line strictly (a trailing `\n` is allowed).
pub fn parse_line(line: &str) -> Result<AuditRecord, AuditError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let value: Value = serde_json::from_str(line).map_err(|source| AuditError::Json { source })?;
    let Value::Object(map) = &value else {
        return Err(AuditError::InvalidRecord {
            why: "not a JSON object".into(),
        });
    };
    // Version first: a newer record may have fields this version refuses.
    match map.get("v") {
        Some(Value::Number(n))
            if n.as_u64()
                .is_some_and(|v| READ_VERSIONS.iter().any(|r| u64::from(*r) == v)) => {}
        Some(v) => {
            return Err(AuditError::UnsupportedVersion {
                found: v.to_string(),
            })
        }
        None => {
            return Err(AuditError::InvalidRecord {
                why: "missing field `v`".into(),
            })
        }
    }
    match map.get("signature") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(AuditError::MissingSignature),
    }
    let record: AuditRecord = serde_json::from_value(value)
        .map_err(|e| AuditError::InvalidRecord { why: e.to_string() })?;
    record.validate()?;
    if record.to_line()? != line {
        return Err(AuditError::NotCanonical);
    }
    Ok(record)
}

/// Parses every non-blank line of a note; each result carries its 1-based
/// line number, so one bad line does not hide the others.
pub fn parse_note(note: &str) -> Vec<(usize, Result<AuditRecord, AuditError>)> {
    note.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, parse_line(l)))
        .collect()
}

/// RFC 3339 in UTC with `Z`, and fractional seconds only when there are
/// any, so a time has exactly one written form.
pub(crate) use super::identity::rfc3339;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::overrides::ledger::{State, Who};
    use std::path::Path;
    use std::process::Command;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn alice() -> Identity {
        Identity {
            name: "Alice Ñandú".into(),
            email: "alice@example.com".into(),
            key_fingerprint: "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
        }
    }

    /// A complete record (with a placeholder signature) for tests.
    pub(crate) fn record() -> AuditRecord {
        AuditRecord {
            v: 1,
            token_id: "a".repeat(64),
            constraint: "no-force-main".into(),
            kind: "force-push".into(),
            severity: Severity::Block,
            fingerprint: "b".repeat(64),
            location: Location {
                ref_name: Some("refs/heads/main".into()),
                ..Location::default()
            },
            commit: "c".repeat(40),
            tree: None,
            parent: None,
            reason: "revert \"bad\" merge\\\n\tsee INC-42 \u{1}".into(),
            reason_code: Some("incident".into()),
            requester: alice(),
            approver: alice(),
            approval: Tier::Challenge,
            grant: None,
            two_key: None,
            minted: t("2025-06-01T10:00:00Z"),
            expires: t("2025-06-01T11:00:00Z"),
            consumed: t("2025-06-01T10:05:00.250Z"),
            policy_sha256: "d".repeat(64),
            tool_version: "0.1.0".into(),
            signature: "U1NIU0lH".into(),
        }
    }

    #[test]
    fn canonical_bytes_exclude_signature_and_sort_keys() {
        let r = record();
        let bytes = String::from_utf8(r.canonical_bytes().unwrap()).unwrap();
        assert!(!bytes.contains("signature"));
        assert!(bytes.starts_with("{\"approval\":\"challenge\",\"approver\":{\"email\":\"alice@example.com\",\"key_fingerprint\":"));
        assert!(bytes.contains("\"consumed\":\"2025-06-01T10:05:00.250Z\""));
        assert!(bytes.contains("\"location\":{\"ref\":\"refs/heads/main\"}"));
        assert!(
            bytes.contains("\"reason\":\"revert \\\"bad\\\" merge\\\\\\n\\tsee INC-42 \\u0001\"")
        );
        assert!(bytes.ends_with(",\"tool_version\":\"0.1.0\",\"v\":1}"));
        // Signing does not change the signed bytes.
        let mut other = r.clone();
        other.signature = "ZGlmZmVyZW50".into();
        assert_eq!(
            other.canonical_bytes().unwrap(),
            r.canonical_bytes().unwrap()
        );
    }

    #[test]
    fn round_trip() {
        let r = record();
        let line = r.to_line().unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(parse_line(&line).unwrap(), r);
        assert_eq!(parse_line(&format!("{line}\n")).unwrap(), r);
        let mut no_code = r.clone();
        no_code.reason_code = None;
        let line = no_code.to_line().unwrap();
        assert!(!line.contains("reason_code"));
        assert_eq!(parse_line(&line).unwrap(), no_code);
    }

    #[test]
    fn tampering_changes_canonical_bytes() {
        let r = record();
        let mut edited = r.clone();
        edited.reason.push('!');
        assert_ne!(
            edited.canonical_bytes().unwrap(),
            r.canonical_bytes().unwrap()
        );
        let mut edited = r.clone();
        edited.expires = t("2025-06-02T11:00:00Z");
        assert_ne!(
            edited.canonical_bytes().unwrap(),
            r.canonical_bytes().unwrap()
        );
    }

    #[test]
    fn strict_parsing() {
        let line = record().to_line().unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut v = v.clone();
            f(v.as_object_mut().unwrap());
            canonicalize(&v).unwrap()
        };
        let unknown = edit(&|m| {
            m.insert("extra".into(), Value::Bool(true));
        });
        assert!(
            matches!(parse_line(&unknown), Err(AuditError::InvalidRecord { why }) if why.contains("unknown field"))
        );
        let unknown_nested = edit(&|m| {
            m["requester"]["extra"] = Value::Bool(true);
        });
        assert!(parse_line(&unknown_nested).is_err());
        let v3 = edit(&|m| {
            m.insert("v".into(), Value::from(3));
        });
        let err = parse_line(&v3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported audit record version 3 (this tollgate reads versions 1 and 2)"
        );
        // A version-2 challenge record must carry its grant.
        let v2 = edit(&|m| {
            m.insert("v".into(), Value::from(2));
        });
        assert!(
            matches!(parse_line(&v2), Err(AuditError::InvalidRecord { why }) if why.contains("carries a grant")),
        );
        let vfloat = line.replace(",\"v\":1}", ",\"v\":1.0}");
        assert!(
            matches!(parse_line(&vfloat), Err(AuditError::UnsupportedVersion { found }) if found == "1.0")
        );
        let vstring = line.replace(",\"v\":1}", ",\"v\":\"1\"}");
        assert!(matches!(
            parse_line(&vstring),
            Err(AuditError::UnsupportedVersion { .. })
        ));
        let unsigned = edit(&|m| {
            m.remove("signature");
        });
        assert!(matches!(
            parse_line(&unsigned),
            Err(AuditError::MissingSignature)
        ));
        let empty_sig = edit(&|m| {
            m.insert("signature".into(), Value::from(""));
        });
        assert!(matches!(
            parse_line(&empty_sig),
            Err(AuditError::MissingSignature)
        ));
        let token = edit(&|m| {
            m.insert("token_id".into(), Value::from("tok_secret"));
        });
        assert!(matches!(
            parse_line(&token),
            Err(AuditError::InvalidRecord { .. })
        ));
        let approval = edit(&|m| {
            m.insert("approval".into(), Value::from("waved-through"));
        });
        assert!(parse_line(&approval).is_err());
        // Not canonical: whitespace, other key order, another time form,
        // an explicit null, a duplicate key.
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert!(matches!(parse_line(&pretty), Err(AuditError::NotCanonical)));
        let reordered = format!("{{\"v\":1,{}", &line[1..].replace(",\"v\":1}", "}"));
        assert!(matches!(
            parse_line(&reordered),
            Err(AuditError::NotCanonical)
        ));
        let offset = line.replace("2025-06-01T10:00:00Z", "2025-06-01T12:00:00+02:00");
        assert!(matches!(parse_line(&offset), Err(AuditError::NotCanonical)));
        let null_code = edit(&|m| {
            m.insert("reason_code".into(), Value::Null);
        });
        assert!(matches!(
            parse_line(&null_code),
            Err(AuditError::NotCanonical)
        ));
        let dup = line.replacen("{", "{\"approval\":\"two-key\",", 1);
        assert!(matches!(parse_line(&dup), Err(AuditError::NotCanonical)));
        assert!(parse_line("not json").is_err());
        assert!(parse_line("[1]").is_err());
    }

    #[test]
    fn parse_note_reports_each_line() {
        let line = record().to_line().unwrap();
        let note = format!("{line}\n\ngarbage\n{line}\n");
        let results = parse_note(&note);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].0, 1);
        assert!(results[0].1.is_ok());
        assert_eq!(results[1].0, 3);
        assert!(results[1].1.is_err());
        assert_eq!(results[2].0, 4);
    }

    /// An encoded (unsigned) grant for `entry`'s token, as a test stand-in.
    fn grant_for(e: &Entry) -> String {
        let g = super::super::grant::Grant {
            v: 1,
            doc_type: "grant".into(),
            token_sha256: e.token_sha256.clone().unwrap_or_default(),
            constraint: e.constraint.clone(),
            kind: e.kind.clone(),
            severity: e.severity,
            fingerprint: e.fingerprint.clone(),
            location: e.location.clone(),
            scope: super::super::grant::Scope::default(),
            reason: e.reason.clone(),
            reason_code: None,
            requester: alice(),
            approver: alice(),
            tier: e.method,
            minted: e.minted,
            expires: e.expires,
            policy_sha256: "d".repeat(64),
            signature: "U1NIU0lH".into(),
        };
        super::super::doc::encode(super::super::grant::GRANT_PREFIX, &g).unwrap()
    }

    fn entry(method: &str) -> Entry {
        let mut e = Entry {
            id: "tok_1".into(),
            token_sha256: Some("e".repeat(64)),
            state: State::Used,
            fingerprint: "b".repeat(64),
            constraint: "no-force-main".into(),
            kind: "force-push".into(),
            severity: Severity::Block,
            location: Location::default(),
            event: crate::check::EventKind::Push,
            reason: "hotfix".into(),
            code: None,
            who: Who::default(),
            method: Tier::parse(method).unwrap(),
            grant: None,
            minted: t("2025-06-01T10:00:00Z"),
            expires: t("2025-06-01T11:00:00Z"),
            used_at: None,
            used_for: None,
            request: None,
            approval: None,
        };
        if e.method != Tier::TwoKey {
            e.grant = Some(grant_for(&e));
        }
        e
    }

    fn proof() -> super::super::approval::TwoKeyProof {
        super::super::approval::TwoKeyProof {
            request: "tgreq1_x".into(),
            approval: "tgapp1_y".into(),
        }
    }

    #[test]
    fn from_entry_fills_approver() {
        let c = Attach::Commit("f".repeat(40));
        let consumed = t("2025-06-01T10:30:00Z");
        let r = AuditRecord::from_entry(
            &entry("challenge"),
            c.clone(),
            alice(),
            None,
            consumed,
            &"d".repeat(64),
        )
        .unwrap();
        assert_eq!(r.approver, r.requester);
        assert_eq!(r.token_id, "e".repeat(64));
        assert!(r.signature.is_empty());
        assert!(matches!(r.to_line(), Err(AuditError::MissingSignature)));
        let bob = Identity {
            name: "Bob".into(),
            email: "bob@example.com".into(),
            key_fingerprint: "SHA256:bob".into(),
        };
        let r = AuditRecord::from_entry(
            &entry("two-key"),
            c.clone(),
            alice(),
            Some((bob.clone(), proof())),
            consumed,
            &"d".repeat(64),
        )
        .unwrap();
        assert_eq!(r.approval, Tier::TwoKey);
        assert_eq!(r.approver, bob);
        assert!(AuditRecord::from_entry(
            &entry("two-key"),
            c.clone(),
            alice(),
            None,
            consumed,
            &"d".repeat(64)
        )
        .is_err());
        assert!(AuditRecord::from_entry(
            &entry("two-key"),
            c.clone(),
            alice(),
            Some((alice(), proof())),
            consumed,
            &"d".repeat(64)
        )
        .is_err());
        let mut no_token = entry("challenge");
        no_token.token_sha256 = None;
        assert!(AuditRecord::from_entry(
            &no_token,
            c.clone(),
            alice(),
            None,
            consumed,
            &"d".repeat(64)
        )
        .is_err());
    }

    #[test]
    fn signed_record_verifies_and_edits_break_it() {
        let dir = tempfile::TempDir::new().unwrap();
        let key = dir.path().join("key");
        let out = Command::new("ssh-keygen")
            .env("LC_ALL", "C")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        let signing = SigningKey::File(key.clone());
        let pubkey = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
        let signers = AllowedSigners::parse(
            &format!("alice@example.com namespaces=\"tollgate\" {pubkey}"),
            Path::new("allowed_signers"),
        )
        .unwrap();

        let mut r = record();
        r.signature.clear();
        // The key must be the one the record names.
        assert!(matches!(
            r.sign(&signing),
            Err(AuditError::KeyMismatch { .. })
        ));
        r.requester.key_fingerprint = signing.key_fingerprint().unwrap();
        r.approver = r.requester.clone();
        r.sign(&signing).unwrap();

        let line = r.to_line().unwrap();
        let parsed = parse_line(&line).unwrap();
        let who = parsed.verify(&signers, r.consumed).unwrap();
        assert_eq!(who.principal, "alice@example.com");

        // Edit the reason in the line itself: still canonical, no longer valid.
        let forged = line.replace("see INC-42", "see INC-43");
        let forged = parse_line(&forged).unwrap();
        assert!(matches!(
            forged.verify(&signers, r.consumed),
            Err(AuditError::BadSignature { .. })
        ));

        // A record naming another key than the one that signed it.
        let mut other = parsed.clone();
        other.requester.key_fingerprint = "SHA256:someoneelse".into();
        other.approver = other.requester.clone();
        assert!(other.verify(&signers, r.consumed).is_err());
    }
}
