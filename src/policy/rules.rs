//! The secret rules of a policy as a table: what `tollgate policy show
//! --rules` prints, and the count of distinct services they cover.

use serde::Serialize;

use super::{Kind, Policy};

/// One secret rule as listed.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    /// Constraint id.
    pub id: String,
    /// Vendor or service (`-` when the policy does not say).
    pub service: String,
    /// `high`, `medium`, or `-` when the policy does not say.
    pub confidence: String,
    /// `block` or `warn`.
    pub severity: String,
    /// The offline checksum validator, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// The rule's description.
    pub description: String,
    /// Where it was defined.
    pub origin: String,
}

/// The listing.
#[derive(Debug, Clone, Serialize)]
pub struct RuleList {
    /// Always `tollgate/v1`.
    pub schema: &'static str,
    /// Every secret rule, in policy order.
    pub rules: Vec<RuleInfo>,
    /// Number of rules.
    pub rule_count: usize,
    /// Distinct services, sorted case-insensitively.
    pub services: Vec<String>,
    /// Number of distinct services.
    pub service_count: usize,
}

impl Policy {
    /// The secret rules with their service, confidence and severity.
    pub fn rule_list(&self) -> RuleList {
        let rules: Vec<RuleInfo> = self
            .constraints
            .iter()
            .filter_map(|c| match &c.kind {
                Kind::Secret(s) => Some(RuleInfo {
                    id: c.id.clone(),
                    service: s.service.clone().unwrap_or_else(|| "-".into()),
                    confidence: s
                        .confidence
                        .map_or("-", super::Confidence::as_str)
                        .to_string(),
                    severity: c.severity.as_str().to_string(),
                    checksum: s.checksum.map(|k| k.name().to_string()),
                    description: c.description.clone(),
                    origin: c.origin.clone(),
                }),
                _ => None,
            })
            .collect();
        let mut services: Vec<String> = rules
            .iter()
            .filter(|r| r.service != "-")
            .map(|r| r.service.clone())
            .collect();
        services.sort_by_key(|s| s.to_lowercase());
        services.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        RuleList {
            schema: "tollgate/v1",
            rule_count: rules.len(),
            service_count: services.len(),
            rules,
            services,
        }
    }
}

impl RuleList {
    /// The table for people: one rule a line, then the counts.
    pub fn to_text(&self) -> String {
        let w_id = self
            .rules
            .iter()
            .map(|r| r.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let w_svc = self
            .rules
            .iter()
            .map(|r| r.service.chars().count())
            .max()
            .unwrap_or(7)
            .max(7);
        let mut out = format!(
            "{:w_id$}  {:w_svc$}  {:10}  {:8}  description\n",
            "id", "service", "confidence", "severity"
        );
        for r in &self.rules {
            let desc = match &r.checksum {
                Some(c) => format!("{} [checksum: {c}]", r.description),
                None => r.description.clone(),
            };
            out.push_str(&format!(
                "{:w_id$}  {:w_svc$}  {:10}  {:8}  {}\n",
                r.id,
                r.service,
                r.confidence,
                r.severity,
                crate::text::escape_controls(&desc)
            ));
        }
        out.push_str(&format!(
            "{} secret rule{}, {} distinct service{}\n",
            self.rule_count,
            if self.rule_count == 1 { "" } else { "s" },
            self.service_count,
            if self.service_count == 1 { "" } else { "s" }
        ));
        out
    }
}
