//! The policy: loading TOML (a repository file and the builtin packs it
//! extends), validating it with exact diagnostics, and the compiled model the
//! engine runs.
//!
//! Split by job: the file as written (`model`: serde types, spans kept),
//! the compiled model (this file: [`Policy`], [`Constraint`], [`Kind`]),
//! loading and its second pass (`load`, [`load()`]), durations
//! (`duration`), allow rules as data ([`allow`]), globs and patterns, the
//! builtin packs and the diagnostics with line, column and caret.
//!
//! Loading is pure: callers hand in the file's text and today's date (allow
//! rules are judged on it); no file, clock or environment is read. Every
//! problem in a file is reported before loading stops. It knows no finding:
//! matching allow rules and the baseline against findings is the engine's
//! (`check::allow`).

pub mod allow;
mod diag;
mod duration;
mod glob;
pub mod import_gitleaks;
mod load;
pub mod model;
mod packs;
mod pattern;
mod rules;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use allow::AllowRule;
pub use diag::{Diagnostic, Diagnostics};
pub use duration::{format_duration, parse_duration, parse_ttl, MAX_TTL};
pub use glob::{BranchSet, PathSet};
pub use load::load;
use model::*;
pub use model::{BranchOp, Confidence, NoTerminal, OverrideMode, Severity, Tier, WarningMode};
#[cfg(test)]
pub use packs::SECRET_CASES;
pub use packs::{builtin_pack, builtin_parts, BUILTIN_PACKS, SECRET_FAMILIES};
pub use pattern::Pattern;
pub use rules::{RuleInfo, RuleList};

/// A policy file's name and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// How the file is named in diagnostics (`.tollgate.toml`, `builtin:recommended`).
    pub name: String,
    /// The file's text.
    pub text: Arc<str>,
}

impl Source {
    /// A source from a name and its text.
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// The merged, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Constraints in order: packs first, then the file's own.
    pub constraints: Vec<Constraint>,
    /// `[settings]`.
    pub warnings: WarningMode,
    /// `[settings] unscanned`: how a blob whose content could not be read
    /// is judged (a warning unless the policy says `block`).
    pub unscanned: Severity,
    /// `[settings] warnings-without-terminal`.
    pub warnings_without_terminal: NoTerminal,
    /// `[overrides] max-ttl`.
    pub max_ttl: Option<Duration>,
    /// `[overrides] reasons`: when non-empty, `--code` must be one of them.
    pub reasons: Vec<String>,
    /// `[overrides] approval`: the weakest tier accepted for any blocker.
    pub approval: Tier,
    /// `[overrides] approvers`: who may approve when the tier is
    /// `two-key` and a constraint names no approvers of its own.
    pub approvers: Vec<String>,
    /// `[overrides] approver-presence`: a two-key approver's signature
    /// must itself show a security key's user-presence flag.
    pub approver_presence: bool,
    /// Names of the sources merged, in order (`builtin:recommended`, `.tollgate.toml`).
    pub sources: Vec<String>,
    /// `[[allow]]` rules, validated.
    pub allows: Vec<AllowRule>,
    /// The findings baselined in `.tollgate/baseline.toml` (set by whoever
    /// loads the policy, from the same tree; empty by default).
    pub baseline: crate::baseline::Baseline,
    raw_settings: RawSettings,
    raw_overrides: RawOverrides,
}

/// One constraint: the fields every kind has, plus its kind.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// Unique kebab-case id.
    pub id: String,
    /// One line for people.
    pub description: String,
    /// Warning or blocker.
    pub severity: Severity,
    /// How a blocker may be passed.
    pub override_mode: OverrideMode,
    /// This constraint's own ceiling for token lifetimes.
    pub max_ttl: Option<Duration>,
    /// For two-key constraints: principal patterns allowed to approve.
    pub approvers: Vec<String>,
    /// How many overrides of this constraint a week `verify` accepts.
    pub max_overrides_per_week: Option<u32>,
    /// The constraint's own approval tier (`approval`, or `two-key` for
    /// `override = "two-key"`); the policy's `[overrides] approval` may
    /// raise it, never lower it: see [`Policy::tier_for`].
    pub approval: Tier,
    /// The kind and its compiled fields.
    pub kind: Kind,
    /// Where it was defined (`builtin:recommended`, `.tollgate.toml`).
    pub origin: String,
    /// As written (for `policy show`); boxed, as most of the constraint's
    /// size is here and a hook never reads it.
    raw: Box<RawConstraint>,
}

/// The closed set of constraint kinds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A non-fast-forward update of a matching branch.
    ForcePush { branches: BranchSet },
    /// A commit, push or deletion of a matching branch.
    ProtectedBranch {
        branches: BranchSet,
        on: Vec<BranchOp>,
    },
    /// A secret pattern in added lines.
    Secret(Box<SecretSpec>),
    /// A blob larger than `bytes`.
    MaxFileSize { bytes: u64, paths: Option<PathSet> },
    /// A file at a forbidden path.
    ForbiddenPath { paths: PathSet },
    /// A change to the policy, the signer list or the CI configuration.
    PolicyChange(Box<PolicyChangeSpec>),
}

/// The compiled `policy-change` constraint: which paths it guards.
#[derive(Debug, Clone)]
pub struct PolicyChangeSpec {
    /// Globs of guarded paths (the builtin ones and the policy's own).
    pub paths: PathSet,
    /// The globs as written, for output.
    pub patterns: Vec<String>,
    /// Exact repository-relative paths guarded as well: the policy file
    /// named by `--policy` when it lies inside the repository.
    pub files: Vec<String>,
}

impl PolicyChangeSpec {
    /// Whether a change to `path` is a policy change.
    pub fn guards(&self, path: &[u8]) -> bool {
        self.paths.matches(path) || self.files.iter().any(|f| f.as_bytes() == path)
    }
}

/// The id of the builtin `policy-change` constraint, present in every
/// effective policy.
pub const POLICY_CHANGE_ID: &str = "tollgate-policy-change";

/// The paths the builtin `policy-change` constraint always guards: the
/// policy, everything under `.tollgate/` (signers, baselines), and the CI
/// configuration that runs `tollgate verify`.
pub const POLICY_CHANGE_PATHS: &[&str] = &[
    "/.tollgate.toml",
    ".tollgate/**",
    ".github/workflows/**",
    "/.gitlab-ci.yml",
    "/.pre-commit-config.yaml",
];

impl Kind {
    /// The kind's name as in the policy file (`force-push`, `secret`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::ForcePush { .. } => "force-push",
            Kind::ProtectedBranch { .. } => "protected-branch",
            Kind::Secret(_) => "secret",
            Kind::MaxFileSize { .. } => "max-file-size",
            Kind::ForbiddenPath { .. } => "forbidden-path",
            Kind::PolicyChange(_) => "policy-change",
        }
    }
}

/// A compiled `[[secret]]`.
#[derive(Debug, Clone)]
pub struct SecretSpec {
    /// The pattern, multi-line mode, over bytes; compiled on first use.
    pub regex: Pattern,
    /// Lower-case literals; the regex runs only on text containing one.
    pub keywords: Vec<String>,
    /// Capture group that holds the secret.
    pub secret_group: usize,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    pub entropy: Option<f64>,
    /// Only these paths, when set.
    pub paths: Option<PathSet>,
    /// Never these paths.
    pub exclude_paths: Option<PathSet>,
    /// A secret matching any of these is a known placeholder.
    pub allow: Vec<Pattern>,
    /// How sure a match is a live credential (required in builtin packs).
    pub confidence: Option<Confidence>,
    /// The vendor or service whose credential this is.
    pub service: Option<String>,
    /// The offline validator of the token's own checksum or structure.
    pub checksum: Option<crate::detect::Checksum>,
}

impl Policy {
    /// The tier a blocker of `c` needs: the stronger of the policy's
    /// `[overrides] approval` and the constraint's own.
    pub fn tier_for(&self, c: &Constraint) -> Tier {
        self.approval.max(c.approval)
    }

    /// Who may approve a two-key override of `c`: its own `approvers`,
    /// else `[overrides] approvers`.
    pub fn approvers_for<'a>(&'a self, c: &'a Constraint) -> &'a [String] {
        if c.approvers.is_empty() {
            &self.approvers
        } else {
            &c.approvers
        }
    }

    /// The strictest tier this policy asks for anywhere.
    pub fn strictest_tier(&self) -> Tier {
        self.constraints
            .iter()
            .filter(|c| c.override_mode != OverrideMode::Never)
            .map(|c| self.tier_for(c))
            .max()
            .unwrap_or(self.approval)
            .max(self.approval)
    }

    /// The constraint with this id.
    pub fn constraint(&self, id: &str) -> Option<&Constraint> {
        self.constraints.iter().find(|c| c.id == id)
    }

    /// Guards `path` (repository-relative) as a policy file too: the file
    /// named by `--policy` when it lies inside the repository.
    pub fn guard_policy_file(&mut self, path: &str) {
        for c in &mut self.constraints {
            if let Kind::PolicyChange(spec) = &mut c.kind {
                if !spec.files.iter().any(|f| f == path) {
                    spec.files.push(path.to_string());
                }
            }
        }
    }

    /// The effective merged policy as TOML, as `tollgate policy show` prints it.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        #[serde(rename_all = "kebab-case")]
        struct View<'a> {
            settings: &'a RawSettings,
            overrides: &'a RawOverrides,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            force_push: Vec<&'a RawForcePush>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            protected_branch: Vec<&'a RawProtectedBranch>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            secret: Vec<&'a RawSecret>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            max_file_size: Vec<&'a RawMaxFileSize>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            forbidden_path: Vec<&'a RawForbiddenPath>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            policy_change: Vec<&'a RawPolicyChange>,
        }
        let mut view = View {
            settings: &self.raw_settings,
            overrides: &self.raw_overrides,
            force_push: vec![],
            protected_branch: vec![],
            secret: vec![],
            max_file_size: vec![],
            forbidden_path: vec![],
            policy_change: vec![],
        };
        for c in &self.constraints {
            match &*c.raw {
                RawConstraint::ForcePush(r) => view.force_push.push(r),
                RawConstraint::ProtectedBranch(r) => view.protected_branch.push(r),
                RawConstraint::Secret(r) => view.secret.push(r),
                RawConstraint::MaxFileSize(r) => view.max_file_size.push(r),
                RawConstraint::ForbiddenPath(r) => view.forbidden_path.push(r),
                RawConstraint::PolicyChange(r) => view.policy_change.push(r),
            }
        }
        let header = format!(
            "# effective policy, merged from: {}\n",
            self.sources.join(", ")
        );
        header + &toml::to_string(&view).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// sha256 of the effective policy, recorded in audit records.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.to_toml().as_bytes()))
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests;
