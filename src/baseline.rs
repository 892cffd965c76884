//! The baseline: findings that predate tollgate in a repository, recorded
//! once by `tollgate baseline` in `.tollgate/baseline.toml` and reviewed
//! like the policy. A baselined finding is reported as baselined and never
//! as a blocker; everything else is judged as before.
//!
//! A finding is baselined when its fingerprint is listed. A secret's
//! fingerprint covers the constraint, the path and a hash of the secret (not
//! the commit), so the same old secret in the same file stays baselined in
//! later commits, while the same secret at another path is a new finding
//! and blocks. Entries hold no secret: a redacted excerpt at most.
//!
//! This module owns the file format; matching findings against it
//! ([`Baseline::baselined`]) is the engine's, in `check::allow`. It reads
//! no repository and knows no finding. Which tree the file is read from (the working
//! tree for hooks and `check`; the trusted base for `verify` and
//! `pre-receive`) is the caller's.

use serde::{Deserialize, Serialize};

/// Where the baseline lives, relative to the repository root.
pub const BASELINE_PATH: &str = ".tollgate/baseline.toml";

/// The schema version written and accepted.
const VERSION: u32 = 1;

/// What is wrong with a baseline file.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not valid TOML, or an unknown or missing key.
    #[error("{name}:{line}:{col}: {message}")]
    Parse {
        /// The file's name as shown.
        name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// A value that parses but cannot be right.
    #[error("{name}: finding {index}: {why}")]
    Invalid {
        /// The file's name as shown.
        name: String,
        /// 1-based position of the `[[finding]]` entry.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// A version this tollgate does not know.
    #[error("{name}: version {version} is not supported (this tollgate reads version {VERSION})")]
    Version {
        /// The file's name as shown.
        name: String,
        /// The version found.
        version: u32,
    },
}

/// The baseline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Baseline {
    /// Schema version (1).
    #[serde(default = "version")]
    pub version: u32,
    /// The baselined findings.
    #[serde(default, rename = "finding", skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Entry>,
}

fn version() -> u32 {
    VERSION
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            version: VERSION,
            findings: Vec::new(),
        }
    }
}

/// One baselined finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Entry {
    /// The finding's fingerprint (64 hex characters): what is matched.
    pub fingerprint: String,
    /// The constraint's id.
    pub constraint: String,
    /// Where it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The first commit it was found in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The redacted excerpt, for the reviewer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Why it is accepted (for example "rotated in 2023").
    pub reason: String,
}

impl Baseline {
    /// Parses a baseline; `name` is how the file is shown in errors.
    pub fn parse(name: &str, text: &str) -> Result<Baseline, BaselineError> {
        let b: Baseline = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            BaselineError::Parse {
                name: name.to_string(),
                line,
                col,
                message: e.message().to_string(),
            }
        })?;
        if b.version != VERSION {
            return Err(BaselineError::Version {
                name: name.to_string(),
                version: b.version,
            });
        }
        for (i, e) in b.findings.iter().enumerate() {
            let bad = |why: &str| BaselineError::Invalid {
                name: name.to_string(),
                index: i + 1,
                why: why.to_string(),
            };
            if e.fingerprint.len() != 64 || !e.fingerprint.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad("`fingerprint` must be 64 hex characters"));
            }
            if e.reason.trim().is_empty() {
                return Err(bad("`reason` is empty; say why this finding is accepted"));
            }
        }
        Ok(b)
    }

    /// The file's text, with a header that says what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# tollgate baseline: findings that predate tollgate here, written by\n\
             # `tollgate baseline`. Each is reported as baselined and never blocks.\n\
             # This file is policy: review a change to it like a change to `.tollgate.toml`.\n\
             \n{body}"
        )
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Finding, Location};
    use crate::policy::OverrideMode;
    use crate::policy::Severity;

    fn finding(fp: char, path: &str) -> Finding {
        Finding {
            constraint: "aws-access-key-id".into(),
            kind: "secret".into(),
            severity: Severity::Block,
            override_mode: OverrideMode::Token,
            location: Location {
                path: Some(path.into()),
                line: Some(3),
                commit: Some("c0ffee".into()),
                ..Location::default()
            },
            evidence: "AKIA…[redacted]".into(),
            fingerprint: fp.to_string().repeat(64),
            scope: Vec::new(),
        }
    }

    #[test]
    fn recorded_findings_are_baselined_and_others_are_not() {
        let mut b = Baseline::default();
        let old = finding('a', "old.env");
        assert_eq!(b.record([&old], "rotated in 2023"), 1);
        assert_eq!(b.record([&old], "again"), 0, "kept once");
        let text = b.to_toml();
        let back = Baseline::parse("b.toml", &text).unwrap();
        assert_eq!(back, b);
        assert!(!text.contains("AKIAZ"), "no secret in the file");
        let new = finding('b', "elsewhere.env");
        let hits = back.baselined([&old, &new]);
        assert_eq!(hits[0].map(|e| e.reason.as_str()), Some("rotated in 2023"));
        assert!(hits[1].is_none());
        // Same fingerprint under another constraint id: not baselined.
        let mut other = old.clone();
        other.constraint = "generic-secret".into();
        assert!(back.baselined([&other])[0].is_none());
        // `override = "never"` findings are neither recorded nor baselined.
        let mut never = old.clone();
        never.override_mode = OverrideMode::Never;
        assert!(back.baselined([&never])[0].is_none());
        assert_eq!(b.record([&never], "x"), 0);
    }

    #[test]
    fn bad_files_are_errors_with_positions() {
        let e = Baseline::parse("b.toml", "version = 1\n[[finding]]\nfingerprint = \"x\"\nconstraint = \"c\"\nreason = \"r\"\ncolour = 1\n")
            .unwrap_err();
        assert!(e.to_string().starts_with("b.toml:"), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
        let e = Baseline::parse(
            "b.toml",
            "[[finding]]\nfingerprint = \"x\"\nconstraint = \"c\"\nreason = \"r\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "b.toml: finding 1: `fingerprint` must be 64 hex characters"
        );
        let fp = "a".repeat(64);
        let e = Baseline::parse(
            "b.toml",
            &format!("[[finding]]\nfingerprint = \"{fp}\"\nconstraint = \"c\"\nreason = \" \"\n"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("`reason` is empty"), "{e}");
        let e = Baseline::parse("b.toml", "version = 2\n").unwrap_err();
        assert!(e.to_string().contains("version 2 is not supported"), "{e}");
    }
}
