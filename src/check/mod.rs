//! The engine: events in, findings out.
//!
//! It owns the constraint kinds, one module per kind with one `evaluate`
//! each, dispatched by an exhaustive `match`; the finding and its
//! fingerprint; and what passes a finding without an override: allow rules
//! and the baseline ([`allow`]).
//!
//! The git layer walks what changed and feeds it here one piece at a time
//! (content of one file in one commit, one ref update, one commit target), so
//! memory stays bounded by the largest file rather than the whole change.
//! The engine is pure: it reads no environment, clock, terminal or
//! repository, writes nothing, and prints nothing. It depends only on the
//! policy and the detectors, never on the gate, overrides, audit or report.

pub mod allow;
pub mod content;
mod fingerprint;
mod forbidden_path;
mod force_push;
mod keywords;
mod max_file_size;
mod policy_change;
mod protected_branch;
mod secret;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::text::{escape_controls, is_hostile};
pub use fingerprint::fingerprint;
pub use secret::{redact, shannon_entropy};

// Kept here too because the engine is where hostile text is first met.

use crate::policy::{Constraint, Kind, OverrideMode, Policy, Severity};

/// Refuses text a person typed (a reason, a code) that holds a control or
/// bidi character, naming where: such text could rewrite what an approver
/// sees on their terminal.
pub fn refuse_hostile(what: &str, s: &str) -> Result<(), String> {
    match s.char_indices().find(|(_, c)| is_hostile(*c)) {
        None => Ok(()),
        Some((i, c)) => Err(format!(
            "{what} holds the control character {} at byte {i}: control and bidirectional characters are refused, because they can change what a person reads on a terminal",
            c.escape_unicode()
        )),
    }
}

/// The content of one file as changed by one commit (or by the index).
#[derive(Debug, Clone)]
pub struct ContentChange<'a> {
    /// Repository-relative path, raw bytes (may be non-UTF-8).
    pub path: &'a [u8],
    /// Blob id of the new content (hex).
    pub blob: &'a str,
    /// Size of the new blob in bytes.
    pub size: u64,
    /// The commit that introduces it; `None` for the staged index.
    pub commit: Option<&'a str>,
    /// Whether the file is new at this path (added, copied or renamed here).
    pub new_path: bool,
    /// Added text: runs of added lines, decoded UTF-16 lines, or the text
    /// runs of binary content. A blob larger than [`MAX_SCAN_BYTES`] comes
    /// as several changes, one per window of it.
    pub added: &'a [AddedChunk<'a>],
    /// The blob could not be read (its stream failed): its size and path
    /// are judged, its content is not.
    pub unscanned: bool,
}

/// Blobs larger than this are not read into memory at once: they are
/// streamed in overlapping windows.
pub const MAX_SCAN_BYTES: u64 = 64 << 20;

/// The id of the finding for a blob whose content could not be read.
pub const UNSCANNED: &str = "tollgate-unscanned-large-file";

/// One side of a [`PathChange`]: the blob id and, when small enough to
/// read, its content.
#[derive(Debug, Clone)]
pub struct BlobSide<'a> {
    /// Blob id (hex).
    pub id: &'a str,
    /// The content; `None` when larger than [`MAX_POLICY_FILE_BYTES`].
    pub text: Option<&'a [u8]>,
}

/// Policy files larger than this are judged by blob id only.
pub const MAX_POLICY_FILE_BYTES: u64 = 1 << 20;

/// A file a commit adds, modifies or deletes, with both sides: what the
/// `policy-change` constraint judges (deletions included).
#[derive(Debug, Clone)]
pub struct PathChange<'a> {
    /// Repository-relative path, raw bytes.
    pub path: &'a [u8],
    /// The commit that makes the change.
    pub commit: &'a str,
    /// The commit has no parent: it starts a history.
    pub root: bool,
    /// The file before (first parent); `None` when it is added.
    pub old: Option<BlobSide<'a>>,
    /// The file after; `None` when it is deleted.
    pub new: Option<BlobSide<'a>>,
}

/// Added text.
#[derive(Debug, Clone)]
pub struct AddedChunk<'a> {
    /// 1-based line number of the first line in the new file (text only).
    pub first_line: u32,
    /// The lines, each ending in `\n` except possibly the last; or one text
    /// run of binary content, one byte per character.
    pub text: &'a [u8],
    /// Set for a text run of binary content: where it is in the blob.
    pub run: Option<RunAt>,
    /// Only matches starting in this range of `text` are reported; the
    /// others belong to a neighbouring window of a streamed blob.
    pub report: std::ops::Range<usize>,
}

impl<'a> AddedChunk<'a> {
    /// Lines of text starting at `first_line`, every match reported.
    pub fn lines(first_line: u32, text: &'a [u8]) -> Self {
        AddedChunk {
            first_line,
            text,
            run: None,
            report: 0..usize::MAX,
        }
    }
}

/// Where a text run of binary content is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAt {
    /// Byte offset in the blob of the run's first character.
    pub offset: u64,
    /// Bytes per character (1 ASCII, 2 UTF-16).
    pub stride: u8,
}

/// One ref update of a push (or a range judged in CI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// The ref on the remote (`refs/heads/main`).
    pub remote_ref: String,
    /// The remote's current sha; `None` when the ref is new.
    pub old: Option<String>,
    /// The pushed sha; `None` for a deletion.
    pub new: Option<String>,
    /// Not a fast-forward: `old` is unknown locally or not an ancestor of `new`.
    pub forced: bool,
}

/// The all-zero sha git writes for "no commit" (a new or deleted ref).
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// The operation a blocker stops, as written in ledgers, requests, grants
/// and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A local commit (the staged index against `HEAD`).
    #[default]
    Commit,
    /// A push (ref updates and the commits they bring).
    Push,
}

impl EventKind {
    /// `commit` or `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::Push => "push",
        }
    }
}

/// The branch a local commit is about to land on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitTarget {
    /// Branch name (`main`), `None` on a detached `HEAD`.
    pub branch: Option<String>,
    /// Current `HEAD` sha; `None` for the first commit.
    pub parent: Option<String>,
    /// The staged tree sha.
    pub tree: String,
}

/// Where a finding is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Path (lossy UTF-8 for display).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column of the match in its line, in Unicode code points
    /// (text findings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// Byte offset in the blob, for text found in binary content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Commit sha.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Ref name (`refs/heads/main`).
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.path {
            let p = escape_controls(p);
            parts.push(match (self.line, self.offset) {
                (Some(l), _) => format!("`{p}:{l}`"),
                (None, Some(o)) => format!("`{p}` (binary, byte {o})"),
                (None, None) => format!("`{p}`"),
            });
        }
        if let Some(r) = &self.ref_name {
            parts.push(format!("`{}`", escape_controls(r)));
        }
        if let Some(c) = &self.commit {
            parts.push(format!("commit {}", &c[..c.len().min(12)]));
        }
        if parts.is_empty() {
            parts.push("staged changes".into());
        }
        f.write_str(&parts.join(" "))
    }
}

/// One failed constraint at one place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The constraint's id.
    pub constraint: String,
    /// The constraint's kind (`secret`, `force-push`, …).
    pub kind: String,
    /// Warning or blocker.
    pub severity: Severity,
    /// How it may be overridden.
    #[serde(rename = "override")]
    pub override_mode: OverrideMode,
    /// Where.
    pub location: Location,
    /// What was seen, redacted: never a whole secret.
    pub evidence: String,
    /// sha256 of the constraint id, kind and scope: what a token is bound to.
    pub fingerprint: String,
    /// The scope fields the fingerprint was computed from, each as
    /// lower-case hex of its bytes (a path, a sha, a secret's sha256; never
    /// a secret). Grants and two-key requests carry them so that another
    /// clone can recompute the fingerprint and show what it binds.
    #[serde(skip)]
    pub scope: Vec<String>,
}

/// The engine for one policy.
pub struct Engine<'p> {
    policy: &'p Policy,
    secrets: secret::Matcher<'p>,
}

impl<'p> Engine<'p> {
    /// Prepares the engine (keyword prefilter over every secret constraint).
    pub fn new(policy: &'p Policy) -> Self {
        Engine {
            policy,
            secrets: secret::Matcher::new(policy),
        }
    }

    /// The policy this engine runs.
    pub fn policy(&self) -> &'p Policy {
        self.policy
    }

    /// Checks one file's change: secrets in added lines, size, forbidden paths.
    pub fn check_content(&self, change: &ContentChange<'_>, out: &mut Findings) {
        for c in &self.policy.constraints {
            match &c.kind {
                Kind::MaxFileSize { bytes, paths } => {
                    max_file_size::evaluate(c, *bytes, paths.as_ref(), change, out)
                }
                Kind::ForbiddenPath { paths } => forbidden_path::evaluate(c, paths, change, out),
                Kind::Secret(_)
                | Kind::ForcePush { .. }
                | Kind::ProtectedBranch { .. }
                | Kind::PolicyChange(_) => {}
            }
        }
        if change.unscanned {
            out.push(unscanned(change, self.policy.unscanned));
        } else {
            self.secrets.evaluate(change, out);
        }
    }

    /// Whether content moved from `old` to `new` unchanged (a pure rename)
    /// must be scanned again at its new path: when any secret constraint's
    /// path filters, or any allow rule's paths, judge the two paths
    /// differently. Otherwise the verdict at the new path is the verdict
    /// the content already had.
    pub fn rename_needs_rescan(&self, old: &[u8], new: &[u8]) -> bool {
        let differs = |set: Option<&crate::policy::PathSet>| {
            set.is_some_and(|s| s.matches(old) != s.matches(new))
        };
        self.policy.constraints.iter().any(|c| match &c.kind {
            Kind::Secret(s) => differs(s.paths.as_ref()) || differs(s.exclude_paths.as_ref()),
            _ => false,
        }) || self.policy.allows.iter().any(|a| differs(Some(&a.paths)))
    }

    /// Checks one ref update: force pushes, protected branches.
    pub fn check_ref_update(&self, update: &RefUpdate, out: &mut Findings) {
        for c in &self.policy.constraints {
            match &c.kind {
                Kind::ForcePush { branches } => force_push::evaluate(c, branches, update, out),
                Kind::ProtectedBranch { branches, on } => {
                    protected_branch::evaluate_update(c, branches, on, update, out)
                }
                Kind::Secret(_)
                | Kind::MaxFileSize { .. }
                | Kind::ForbiddenPath { .. }
                | Kind::PolicyChange(_) => {}
            }
        }
    }

    /// Whether a change to `path` is judged by a `policy-change` constraint
    /// (the git layer reads both sides of such a change only).
    pub fn guards_path(&self, path: &[u8]) -> bool {
        self.policy
            .constraints
            .iter()
            .any(|c| matches!(&c.kind, Kind::PolicyChange(s) if s.guards(path)))
    }

    /// Checks one file added, modified or deleted by a commit: policy changes.
    pub fn check_path_change(&self, change: &PathChange<'_>, out: &mut Findings) {
        for c in &self.policy.constraints {
            if let Kind::PolicyChange(spec) = &c.kind {
                policy_change::evaluate(c, spec, change, out)
            }
        }
    }

    /// Whether any constraint judges where a local commit lands; when none
    /// does, the caller need not compute the staged tree at all.
    pub fn needs_commit_target(&self) -> bool {
        self.policy.constraints.iter().any(|c| {
            matches!(&c.kind, Kind::ProtectedBranch { on, .. } if on.contains(&crate::policy::BranchOp::Commit))
        })
    }

    /// Checks where a local commit is about to land: protected branches.
    pub fn check_commit_target(&self, target: &CommitTarget, out: &mut Findings) {
        for c in &self.policy.constraints {
            if let Kind::ProtectedBranch { branches, on } = &c.kind {
                protected_branch::evaluate_commit(c, branches, on, target, out)
            }
        }
    }
}

/// Findings collected over one event, one per fingerprint: the same secret
/// pushed in several commits is one blocker, at the first commit seen.
#[derive(Debug, Default)]
pub struct Findings {
    list: Vec<Finding>,
    seen: HashSet<String>,
}

impl Findings {
    /// Adds a finding unless one with the same fingerprint is already here.
    pub fn push(&mut self, f: Finding) {
        if self.seen.insert(f.fingerprint.clone()) {
            self.list.push(f);
        }
    }

    /// The findings, in the order found.
    pub fn into_vec(self) -> Vec<Finding> {
        self.list
    }

    /// Number of findings so far.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Builds a finding for constraint `c`; the fingerprint comes from `scope`.
pub(crate) fn finding(
    c: &Constraint,
    scope: &[&[u8]],
    location: Location,
    evidence: String,
) -> Finding {
    Finding {
        constraint: c.id.clone(),
        kind: c.kind.name().to_string(),
        severity: c.severity,
        override_mode: c.override_mode,
        fingerprint: fingerprint(&c.id, c.kind.name(), scope),
        scope: scope.iter().map(|b| crate::policy::hex(b)).collect(),
        location,
        evidence,
    }
}

/// The warning that a blob was too large to scan for secrets.
fn unscanned(change: &ContentChange<'_>, severity: Severity) -> Finding {
    Finding {
        constraint: UNSCANNED.into(),
        kind: "unscanned".into(),
        severity,
        override_mode: OverrideMode::Token,
        fingerprint: fingerprint(
            UNSCANNED,
            "unscanned",
            &[change.path, change.blob.as_bytes()],
        ),
        scope: vec![
            crate::policy::hex(change.path),
            crate::policy::hex(change.blob.as_bytes()),
        ],
        location: Location {
            path: Some(display_path(change.path)),
            commit: change.commit.map(str::to_string),
            ..Location::default()
        },
        evidence: format!(
            "{} MiB: its content could not be read, so it was not scanned for secrets",
            change.size >> 20,
        ),
    }
}

/// Display form of a raw path.
pub(crate) fn display_path(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

#[cfg(test)]
mod pack_cases;
#[cfg(test)]
pub(crate) mod tests;
