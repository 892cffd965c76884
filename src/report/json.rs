//! JSON output, schema `tollgate/v1`: stable field names, no colour codes.

use serde::Serialize;

use super::Shown;
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
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .map_or_else(|e| format!("{{\"error\":\"{e}\"}}\n"), |s| s + "\n")
    }
}
