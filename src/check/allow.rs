//! What passes a finding without an override: the policy's `[[allow]]`
//! rules and the baseline, applied to the engine's findings.
//!
//! It owns the matching ([`AllowRule::passes`], [`Baseline::baselined`],
//! [`apply_allows`], [`apply_baseline`]) and the numbered finding
//! ([`Shown`]) that carries which rule or baseline entry passed it. The
//! rules themselves are policy data (`policy::allow`, `baseline`): they
//! are parsed and validated there and never see a finding. Like the rest
//! of the engine, it reads no clock (`today` is passed in), no repository
//! and prints nothing.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::Finding;
use crate::baseline::{Baseline, Entry};
use crate::policy::{AllowRule, OverrideMode, Severity};

impl AllowRule {
    /// Whether the rule passes `f` on `today`, for an event targeting
    /// `branches` (full ref names; empty when unknown).
    pub fn passes(&self, f: &Finding, branches: &[String], today: NaiveDate) -> bool {
        if f.constraint != self.constraint || today > self.expires {
            return false;
        }
        let Some(path) = &f.location.path else {
            return false;
        };
        if !self.paths.matches(path.as_bytes()) {
            return false;
        }
        match &self.branches {
            None => true,
            Some(set) => !branches.is_empty() && branches.iter().all(|b| set.matches_ref(b)),
        }
    }
}

// The baseline's lookup and recording take findings, so they live here
// with the engine rather than with the file format.
impl Baseline {
    /// For each finding, the entry that baselines it, if any.
    pub fn baselined<'a, 'f>(
        &'a self,
        findings: impl IntoIterator<Item = &'f Finding>,
    ) -> Vec<Option<&'a Entry>> {
        let by_fp: HashMap<&str, &Entry> = self
            .findings
            .iter()
            .map(|e| (e.fingerprint.as_str(), e))
            .collect();
        findings
            .into_iter()
            .map(|f| {
                // `override = "never"` is stronger than any baseline, as it
                // is stronger than any allow rule.
                if f.override_mode == OverrideMode::Never {
                    return None;
                }
                by_fp
                    .get(f.fingerprint.as_str())
                    .copied()
                    .filter(|e| e.constraint == f.constraint)
            })
            .collect()
    }

    /// Adds every finding not yet listed, with `reason`; returns how many
    /// were added. Existing entries (and their reasons) are kept.
    pub fn record<'f>(
        &mut self,
        findings: impl IntoIterator<Item = &'f Finding>,
        reason: &str,
    ) -> usize {
        let mut added = 0;
        for f in findings {
            if f.override_mode == OverrideMode::Never {
                continue;
            }
            if self.findings.iter().any(|e| e.fingerprint == f.fingerprint) {
                continue;
            }
            self.findings.push(Entry {
                fingerprint: f.fingerprint.clone(),
                constraint: f.constraint.clone(),
                path: f.location.path.clone(),
                commit: f.location.commit.clone(),
                evidence: Some(f.evidence.clone()),
                reason: reason.to_string(),
            });
            added += 1;
        }
        added
    }
}

/// A finding as shown, with its short id (`B1`, `W1`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shown {
    /// `B1`, `B2` for blockers, `W1` for warnings.
    pub id: String,
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The `[[allow]]` rule that passes it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// The reason given in `.tollgate/baseline.toml`, when the finding is
    /// baselined (reported, never a blocker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baselined: Option<String>,
    /// The author (`Name <email>`) of the finding's commit; absent for
    /// findings with no commit (staged changes, `scan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The author date of the finding's commit, RFC 3339 to the second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// The subject line of the finding's commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// Numbers findings: blockers `B1…`, warnings `W1…`, in the order found.
pub fn number(findings: Vec<Finding>) -> Vec<Shown> {
    let (mut b, mut w) = (0, 0);
    findings
        .into_iter()
        .map(|finding| {
            let id = match finding.severity {
                Severity::Block => {
                    b += 1;
                    format!("B{b}")
                }
                Severity::Warn => {
                    w += 1;
                    format!("W{w}")
                }
            };
            Shown {
                id,
                finding,
                allowed_by: None,
                baselined: None,
                author: None,
                date: None,
                subject: None,
            }
        })
        .collect()
}

/// Marks the findings an `[[allow]]` rule of `policy` passes on `today`,
/// for an event targeting `branches` (full ref names). Returns, for each
/// rule, whether it passed anything.
pub fn apply_allows(
    policy: &crate::policy::Policy,
    shown: &mut [Shown],
    branches: &[String],
    today: chrono::NaiveDate,
) -> Vec<bool> {
    let mut used = vec![false; policy.allows.len()];
    for s in shown.iter_mut() {
        if let Some(i) = policy
            .allows
            .iter()
            .position(|r| r.passes(&s.finding, branches, today))
        {
            used[i] = true;
            s.allowed_by = Some(policy.allows[i].name.clone());
        }
    }
    used
}

/// Marks the findings the policy's baseline lists (those no allow rule
/// already passes); returns how many.
pub fn apply_baseline(policy: &crate::policy::Policy, shown: &mut [Shown]) -> usize {
    if policy.baseline.findings.is_empty() {
        return 0;
    }
    let hits: Vec<Option<String>> = policy
        .baseline
        .baselined(shown.iter().map(|s| &s.finding))
        .into_iter()
        .map(|e| e.map(|e| e.reason.clone()))
        .collect();
    let mut n = 0;
    for (s, hit) in shown.iter_mut().zip(hits) {
        if s.allowed_by.is_none() && hit.is_some() {
            s.baselined = hit;
            n += 1;
        }
    }
    n
}
