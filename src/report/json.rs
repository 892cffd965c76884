//! JSON output, schema `tollgate/v1`: stable field names, no colour codes.

use serde::Serialize;

use crate::check::allow::Shown;
use crate::policy::Severity;

/// The result of a check, as JSON.
#[derive(Debug, Serialize)]
pub struct CheckReport<'a> {
    /// Always `tollgate/v1`.
    pub schema: &'static str,
    /// `commit`, `push`, `range` or `history`.
    pub event: &'a str,
    /// `pass`, `warn` (passed with acknowledged warnings) or `blocked`.
    pub result: &'a str,
    /// Counts.
    pub summary: Summary,
    /// Every finding, numbered.
    pub findings: &'a [Shown],
    /// Each standing blocker that can be overridden needs a person: the
    /// tier the policy demands and the command that asks them (which works
    /// without a terminal). Empty when nothing is blocked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_person: Vec<PersonNeeded>,
    /// The coding agent recognised from the environment, if any (it only
    /// changes what tollgate says, never what it allows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'static str>,
}

/// A blocker only a person can pass.
#[derive(Debug, Serialize)]
pub struct PersonNeeded {
    /// The finding's short id (`B1`).
    pub id: String,
    /// Its constraint.
    pub constraint: String,
    /// Always true: an agent must not approve it itself.
    pub needs_person: bool,
    /// `challenge`, `presence` or `two-key`.
    pub tier: &'static str,
    /// The command that records a request for the person.
    pub request_command: String,
}

/// Counts of findings by severity.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Blockers still standing.
    pub blockers: usize,
    /// Warnings.
    pub warnings: usize,
}

impl<'a> CheckReport<'a> {
    /// Builds the report for `findings`.
    pub fn new(event: &'a str, result: &'a str, findings: &'a [Shown]) -> Self {
        let blockers = findings
            .iter()
            .filter(|s| s.finding.severity == Severity::Block)
            .count();
        CheckReport {
            schema: "tollgate/v1",
            event,
            result,
            summary: Summary {
                blockers,
                warnings: findings.len() - blockers,
            },
            findings,
            needs_person: Vec::new(),
            agent: None,
        }
    }

    /// Adds what a person must approve, by `policy`'s tiers, and the agent.
    pub fn with_people(
        mut self,
        policy: &crate::policy::Policy,
        agent: Option<&crate::report::agent::AgentSession>,
    ) -> Self {
        self.agent = agent.map(|a| a.name);
        self.needs_person = self
            .findings
            .iter()
            .filter(|s| s.finding.severity == Severity::Block && s.allowed_by.is_none())
            .filter_map(|s| {
                let c = policy.constraint(&s.finding.constraint)?;
                (c.override_mode != crate::policy::OverrideMode::Never).then(|| PersonNeeded {
                    id: s.id.clone(),
                    constraint: c.id.clone(),
                    needs_person: true,
                    tier: policy.tier_for(c).as_str(),
                    request_command: crate::report::agent::request_command(&s.id),
                })
            })
            .collect();
        self
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .map_or_else(|e| format!("{{\"error\":\"{e}\"}}\n"), |s| s + "\n")
    }
}
