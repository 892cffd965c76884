//! The scope of a blocker: the fields its fingerprint was computed from,
//! written into grants and two-key requests so that another clone can
//! recompute the fingerprint and show, from the fields themselves, what a
//! token would pass.

use crate::audit::grant::Scope;
use crate::check::{fingerprint, EventKind, Finding};

/// The scope of `finding`, met in an event of `kind`.
pub fn scope_of(kind: EventKind, finding: &Finding) -> Scope {
    Scope {
        event: kind,
        fields: finding.scope.clone(),
    }
}

/// One scope field, named for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// What it is (`ref`, `old`, `path`, …).
    pub name: &'static str,
    /// Its value as text (lossy UTF-8 for a path; hex for digests).
    pub value: String,
}

/// Decodes a scope's fields and names them by the constraint's kind; `Err`
/// when a field is not hex or the count does not fit the kind.
pub fn fields(kind: &str, scope: &Scope) -> Result<Vec<Field>, String> {
    let bytes: Vec<Vec<u8>> = scope
        .fields
        .iter()
        .map(|h| unhex(h).ok_or_else(|| format!("scope field `{h}` is not hex")))
        .collect::<Result<_, _>>()?;
    let names: &[&'static str] = match (kind, scope.event, bytes.len()) {
        ("force-push", _, 3) => &["ref", "old", "new"],
        ("protected-branch", EventKind::Commit, 3) => &["branch", "parent", "tree"],
        ("protected-branch", EventKind::Push, 3) => &["ref", "old", "new"],
        ("secret", _, 2) => &["path", "secret sha256"],
        (_, _, 2) => &["path", "blob"],
        (_, _, 3) => &["path", "old blob", "new blob"],
        _ => return Err(format!("a `{kind}` scope with {} fields", bytes.len())),
    };
    Ok(names
        .iter()
        .zip(bytes)
        .map(|(name, b)| Field {
            name,
            value: if *name == "secret sha256" {
                crate::policy::hex(&b)
            } else {
                String::from_utf8_lossy(&b).into_owned()
            },
        })
        .collect())
}

/// The fingerprint that `constraint` of `kind` has over `scope`.
pub fn fingerprint_of(constraint: &str, kind: &str, scope: &Scope) -> Option<String> {
    let bytes: Vec<Vec<u8>> = scope
        .fields
        .iter()
        .map(|h| unhex(h))
        .collect::<Option<_>>()?;
    let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    Some(fingerprint(constraint, kind, &refs))
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    if !h.len().is_multiple_of(2) {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_bind_the_fingerprint() {
        let scope = Scope {
            event: EventKind::Push,
            fields: ["refs/heads/main", "a1", "b2"]
                .iter()
                .map(|s| crate::policy::hex(s.as_bytes()))
                .collect(),
        };
        let f = fields("force-push", &scope).unwrap();
        assert_eq!(f[0].name, "ref");
        assert_eq!(f[0].value, "refs/heads/main");
        assert_eq!(
            fingerprint_of("no-force", "force-push", &scope).unwrap(),
            fingerprint(
                "no-force",
                "force-push",
                &[b"refs/heads/main", b"a1", b"b2"]
            )
        );
        let bad = Scope {
            event: EventKind::Push,
            fields: vec!["zz".into()],
        };
        assert!(fields("force-push", &bad).is_err());
        assert!(fingerprint_of("x", "force-push", &bad).is_none());
    }
}
