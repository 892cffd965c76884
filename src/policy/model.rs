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

/// How sure a secret rule's match is a live credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// A vendor prefix, a fixed structure or a checksum: blocks in the
    /// builtin packs.
    High,
    /// Depends on context (a name near an unprefixed value): warns in the
    /// builtin packs.
    Medium,
}

impl Confidence {
    /// The word used in policy files, output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
        }
    }

    /// The severity a builtin rule of this confidence must have.
    pub fn builtin_severity(self) -> Severity {
        match self {
            Confidence::High => Severity::Block,
            Confidence::Medium => Severity::Warn,
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

/// What must approve an override, weakest first: `verify` and
/// `pre-receive` refuse a record whose approval is below the tier the
/// trusted policy demands for its constraint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Deserialize, Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The terminal challenge code: stops a tool without a terminal and a
    /// reflexive `--yes`, not a determined program. Self-attested.
    #[default]
    Challenge,
    /// An approval signed at mint time by the person's FIDO security key
    /// with the user-presence flag: only a touch makes it.
    Presence,
    /// A second person, with their own key, signs the approval.
    TwoKey,
}

impl Tier {
    /// The word used in policy files, records and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Challenge => "challenge",
            Tier::Presence => "presence",
            Tier::TwoKey => "two-key",
        }
    }

    /// Parses the word of [`Tier::as_str`].
    pub fn parse(s: &str) -> Option<Tier> {
        match s {
            "challenge" => Some(Tier::Challenge),
            "presence" => Some(Tier::Presence),
            "two-key" => Some(Tier::TwoKey),
            _ => None,
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
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub approval: Option<Spanned<Tier>>,
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<Spanned<Confidence>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<Spanned<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checksum: Option<Spanned<String>>,
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

raw_constraint!(
    /// `[[policy-change]]`: a change to the policy, the signer list or the
    /// CI configuration. The loader always adds the builtin one
    /// (`tollgate-policy-change`); a policy may widen or raise it, never
    /// remove or lower it.
    RawPolicyChange {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        paths: Vec<Spanned<String>>,
    }
);

/// `[settings]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<WarningMode>,
    /// Severity of a blob whose content could not be read (`warn`, `block`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unscanned: Option<Severity>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Spanned<Tier>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_presence: Option<Spanned<bool>>,
}

/// The raw entry of any kind.
// One per constraint, kept for `to_toml`: their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum RawConstraint {
    /// `[[force-push]]`.
    ForcePush(RawForcePush),
    /// `[[protected-branch]]`.
    ProtectedBranch(RawProtectedBranch),
    /// `[[secret]]`.
    Secret(RawSecret),
    /// `[[max-file-size]]`.
    MaxFileSize(RawMaxFileSize),
    /// `[[forbidden-path]]`.
    ForbiddenPath(RawForbiddenPath),
    /// `[[policy-change]]`.
    PolicyChange(RawPolicyChange),
}
