//! The policy file as written: serde types for each array of tables, with
//! spans kept on every value that a later check may need to point at.
//!
//! Nothing here validates beyond what serde does (types, unknown keys); the
//! second pass in `policy::load` compiles regexes and globs and checks what
//! spans entries.

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// How bad a failed constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Printed and acknowledged; never needs a token.
    Warn,
    /// Stops the operation; only an override token passes it.
    Block,
}

impl Severity {
    /// The word used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }
}

/// How a blocker of this constraint may be passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverrideMode {
    /// A token minted after a challenge on the terminal.
    #[default]
    Token,
    /// A token minted only after a second person signs an approval.
    TwoKey,
    /// Never: an explicit deny is stronger than any override or allow rule.
    Never,
}

impl OverrideMode {
    /// The word used in output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideMode::Token => "token",
            OverrideMode::TwoKey => "two-key",
            OverrideMode::Never => "never",
        }
    }
}

/// Which operations a protected branch constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BranchOp {
    /// A local commit while the branch is checked out.
    Commit,
    /// Any push that updates the branch on a remote.
    Push,
    /// A push that deletes the branch on a remote.
    Delete,
}

/// Declares one raw constraint type: the fields every constraint has, then
/// the kind's own fields. A macro rather than `#[serde(flatten)]`, which
/// would lose error positions.
macro_rules! raw_constraint {
    ($(#[$doc:meta])* $name:ident { $($(#[$m:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            pub id: Spanned<String>,
            #[serde(default, skip_serializing_if = "String::is_empty")]
            pub description: String,
            #[serde(default = "default_severity")]
            pub severity: Severity,
            #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
            pub override_mode: Option<Spanned<OverrideMode>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_ttl: Option<Spanned<String>>,
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub approvers: Vec<Spanned<String>>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_overrides_per_week: Option<Spanned<u32>>,
            $($(#[$m])* pub $field: $ty),*
        }
    };
}

fn default_severity() -> Severity {
    Severity::Block
}

raw_constraint!(
    /// `[[force-push]]`: a non-fast-forward update of a matching branch.
    RawForcePush {
        branches: Spanned<Vec<Spanned<String>>>,
    }
);

raw_constraint!(
    /// `[[protected-branch]]`: commits, pushes or deletions of a matching branch.
    RawProtectedBranch {
        branches: Spanned<Vec<Spanned<String>>>,
        on: Spanned<Vec<BranchOp>>,
    }
);

raw_constraint!(
    /// `[[secret]]`: a regex over added lines.
    RawSecret {
        regex: Spanned<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keywords: Vec<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_group: Option<Spanned<usize>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entropy: Option<Spanned<f64>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        paths: Vec<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        exclude_paths: Vec<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allow_regex: Vec<Spanned<String>>,
    }
);

raw_constraint!(
    /// `[[max-file-size]]`: a staged or pushed blob larger than `bytes`.
    RawMaxFileSize {
        bytes: Spanned<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        paths: Vec<Spanned<String>>,
    }
);

raw_constraint!(
    /// `[[forbidden-path]]`: a file added at a matching path.
    RawForbiddenPath {
        paths: Spanned<Vec<Spanned<String>>>,
    }
);

/// `[settings]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<WarningMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings_without_terminal: Option<NoTerminal>,
}

/// What happens to warnings that need acknowledgement when there is no
/// terminal to ask on (an IDE's commit button, a GUI client, a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoTerminal {
    /// The operation stops (unless `TOLLGATE_YES=1` acknowledges them).
    #[default]
    Block,
    /// The warnings are printed and the operation proceeds.
    Print,
}

/// What happens when only warnings remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningMode {
    /// The operation proceeds only when the warnings are acknowledged.
    #[default]
    Acknowledge,
    /// Warnings are printed and the operation proceeds.
    Print,
}

/// `[overrides]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_allow_days: Option<Spanned<u32>>,
}
