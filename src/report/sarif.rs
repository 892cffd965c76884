//! SARIF 2.1.0 output, for code-scanning dashboards and CI annotations.
//!
//! A small builder rather than a full object model: tollgate's commands
//! (`check` today; `verify` and `audit log` reuse it) add *rules* (one per
//! constraint of the policy) and *results* (one per finding), and the
//! builder writes a log that validates against the official 2.1.0 schema
//! (checked by `tests/it/output_formats.rs`). Paths become `%SRCROOT%`-relative URIs;
//! finding fingerprints become `partialFingerprints`; a blocker passed by an
//! override token (or covered by an audit record) is a result with an
//! accepted suppression and its justification, not a missing result.
//!
//! Nothing here prints or reads the repository.

use serde_json::{json, Map, Value};

use crate::check::allow::Shown;
use crate::policy::{Policy, Severity};

/// The SARIF version written.
pub const VERSION: &str = "2.1.0";

/// Where the 2.1.0 schema lives (the `$schema` of every log).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The key under which a finding's fingerprint goes in `partialFingerprints`.
pub const FINGERPRINT_KEY: &str = "tollgateFingerprint/v1";

/// The base id that relative artifact URIs are resolved against.
pub const SRCROOT: &str = "%SRCROOT%";

/// A result's level (`error`, `warning`, `note`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A blocker.
    Error,
    /// A warning.
    Warning,
    /// Informational.
    Note,
    /// Not a problem (a passing check, when a tool lists those).
    None,
}

impl Level {
    /// The SARIF word.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
            Level::None => "none",
        }
    }
}

impl From<Severity> for Level {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Block => Level::Error,
            Severity::Warn => Level::Warning,
        }
    }
}

/// One rule: what a constraint checks.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The constraint id.
    pub id: String,
    /// One line for people (the constraint's description, else its id).
    pub description: String,
    /// The level its results have unless a result says otherwise.
    pub level: Level,
    /// Extra properties (`kind`, `override`, `origin`, …).
    pub properties: Map<String, Value>,
}

impl Rule {
    /// A rule with no extra properties.
    pub fn new(id: impl Into<String>, description: impl Into<String>, level: Level) -> Self {
        Rule {
            id: id.into(),
            description: description.into(),
            level,
            properties: Map::new(),
        }
    }

    /// Adds a property (builder style).
    pub fn property(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(key.to_string(), value.into());
        self
    }
}

/// Why a result is suppressed (a blocker passed by a token, or covered by a
/// signed audit record).
#[derive(Debug, Clone)]
pub struct Suppression {
    /// Who or what justified it, in words (`override token T3`, the record's reason).
    pub justification: String,
}

/// One result: one finding at one place.
#[derive(Debug, Clone)]
pub struct SarifResult {
    /// The rule (constraint id) it belongs to.
    pub rule_id: String,
    /// Its level.
    pub level: Level,
    /// The message for people (never a whole secret).
    pub message: String,
    /// Repository-relative path, when the finding has one.
    pub path: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column, in Unicode code points (the run's `columnKind`).
    pub column: Option<u32>,
    /// Byte offset, for text found in binary content.
    pub offset: Option<u64>,
    /// A logical place when there is no path (a ref such as `refs/heads/main`).
    pub logical: Option<String>,
    /// The finding's fingerprint (`partialFingerprints`).
    pub fingerprint: Option<String>,
    /// Set when the result no longer stops anything.
    pub suppression: Option<Suppression>,
    /// Extra properties (`commit`, `findingId`, …).
    pub properties: Map<String, Value>,
}

impl SarifResult {
    /// A result with a rule, level and message; everything else empty.
    pub fn new(rule_id: impl Into<String>, level: Level, message: impl Into<String>) -> Self {
        SarifResult {
            rule_id: rule_id.into(),
            level,
            message: message.into(),
            path: None,
            line: None,
            column: None,
            offset: None,
            logical: None,
            fingerprint: None,
            suppression: None,
            properties: Map::new(),
        }
    }

    /// The result for one shown finding; `suppressed` carries the
    /// justification when a token or record passes it.
    pub fn from_finding(shown: &Shown, suppressed: Option<String>) -> Self {
        let f = &shown.finding;
        let mut r = SarifResult::new(
            &f.constraint,
            f.severity.into(),
            format!(
                "{} `{}` ({}): {}",
                match f.severity {
                    Severity::Block => "blocker",
                    Severity::Warn => "warning",
                },
                f.constraint,
                f.kind,
                f.evidence
            ),
        );
        r.path = f.location.path.clone();
        r.line = f.location.line;
        r.column = f.location.column;
        r.offset = f.location.offset;
        r.logical = f.location.ref_name.clone();
        r.fingerprint = Some(f.fingerprint.clone());
        r.suppression = suppressed.map(|justification| Suppression { justification });
        r.properties
            .insert("findingId".into(), Value::String(shown.id.clone()));
        r.properties
            .insert("kind".into(), Value::String(f.kind.clone()));
        r.properties.insert(
            "override".into(),
            Value::String(f.override_mode.as_str().into()),
        );
        if let Some(c) = &f.location.commit {
            r.properties
                .insert("commit".into(), Value::String(c.clone()));
        }
        for (key, value) in [
            ("author", &shown.author),
            ("date", &shown.date),
            ("subject", &shown.subject),
        ] {
            if let Some(v) = value {
                r.properties.insert(key.into(), Value::String(v.clone()));
            }
        }
        r
    }
}

/// Collects rules and results, then writes one SARIF log with one run.
#[derive(Debug, Clone)]
pub struct SarifBuilder {
    tool_version: String,
    rules: Vec<Rule>,
    results: Vec<SarifResult>,
    run_properties: Map<String, Value>,
}

impl SarifBuilder {
    /// A builder for tollgate at `tool_version`.
    pub fn new(tool_version: impl Into<String>) -> Self {
        SarifBuilder {
            tool_version: tool_version.into(),
            rules: Vec::new(),
            results: Vec::new(),
            run_properties: Map::new(),
        }
    }

    /// Adds a rule; a second rule with the same id is ignored.
    pub fn rule(&mut self, rule: Rule) -> &mut Self {
        if !self.rules.iter().any(|r| r.id == rule.id) {
            self.rules.push(rule);
        }
        self
    }

    /// Adds one rule per constraint of `policy`, in policy order.
    pub fn policy_rules(&mut self, policy: &Policy) -> &mut Self {
        for c in &policy.constraints {
            let description = if c.description.trim().is_empty() {
                c.id.clone()
            } else {
                c.description.clone()
            };
            self.rule(
                Rule::new(&c.id, description, c.severity.into())
                    .property("kind", c.kind.name())
                    .property("severity", c.severity.as_str())
                    .property("override", c.override_mode.as_str())
                    .property("origin", c.origin.as_str()),
            );
        }
        self
    }

    /// Adds a result. A result whose rule is unknown gets a bare rule, so
    /// that every `ruleIndex` points somewhere.
    pub fn result(&mut self, result: SarifResult) -> &mut Self {
        if !self.rules.iter().any(|r| r.id == result.rule_id) {
            let id = result.rule_id.clone();
            self.rule(Rule::new(&id, &id, result.level));
        }
        self.results.push(result);
        self
    }

    /// Adds a property to the run (`event`, `result`, …).
    pub fn run_property(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.run_properties.insert(key.to_string(), value.into());
        self
    }

    /// The log as a JSON value.
    pub fn to_value(&self) -> Value {
        let rules: Vec<Value> = self.rules.iter().map(rule_json).collect();
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let index = self.rules.iter().position(|x| x.id == r.rule_id);
                result_json(r, index)
            })
            .collect();
        let mut run = json!({
            "tool": {
                "driver": {
                    "name": "tollgate",
                    "semanticVersion": self.tool_version,
                    "version": self.tool_version,
                    "rules": rules,
                }
            },
            "originalUriBaseIds": {
                SRCROOT: { "description": { "text": "The repository's working tree" } }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        });
        if !self.run_properties.is_empty() {
            run["properties"] = Value::Object(self.run_properties.clone());
        }
        json!({
            "$schema": SCHEMA_URI,
            "version": VERSION,
            "runs": [run],
        })
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.to_value())
            .map_or_else(|e| format!("{{\"error\":\"{e}\"}}\n"), |s| s + "\n")
    }
}

fn rule_json(r: &Rule) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.id,
        "shortDescription": { "text": r.description },
        "defaultConfiguration": { "level": r.level.as_str() },
    });
    if !r.properties.is_empty() {
        v["properties"] = Value::Object(r.properties.clone());
    }
    v
}

fn result_json(r: &SarifResult, rule_index: Option<usize>) -> Value {
    let mut v = json!({
        "ruleId": r.rule_id,
        "level": r.level.as_str(),
        "message": { "text": r.message },
    });
    if let Some(i) = rule_index {
        v["ruleIndex"] = json!(i);
    }
    let mut location = Map::new();
    if let Some(p) = &r.path {
        let mut physical = json!({
            "artifactLocation": { "uri": uri_path(p), "uriBaseId": SRCROOT },
        });
        if let Some(line) = r.line.filter(|l| *l > 0) {
            physical["region"] = match r.column.filter(|c| *c > 0) {
                Some(column) => json!({ "startLine": line, "startColumn": column }),
                None => json!({ "startLine": line }),
            };
        } else if let Some(offset) = r.offset {
            physical["region"] = json!({ "byteOffset": offset });
        }
        location.insert("physicalLocation".into(), physical);
    }
    if let Some(l) = &r.logical {
        location.insert(
            "logicalLocations".into(),
            json!([{ "fullyQualifiedName": l, "kind": "ref" }]),
        );
    }
    if !location.is_empty() {
        v["locations"] = json!([Value::Object(location)]);
    }
    if let Some(fp) = &r.fingerprint {
        v["partialFingerprints"] = json!({ FINGERPRINT_KEY: fp });
    }
    if let Some(s) = &r.suppression {
        v["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": s.justification,
        }]);
    }
    if !r.properties.is_empty() {
        v["properties"] = Value::Object(r.properties.clone());
    }
    v
}

/// A repository-relative path as a relative URI reference: every byte
/// outside the unreserved set and `/` is percent-encoded, so spaces, `#`,
/// `?` and non-ASCII names survive.
pub fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_are_percent_encoded() {
        assert_eq!(uri_path("src/a b#c.txt"), "src/a%20b%23c.txt");
        assert_eq!(uri_path("é"), "%C3%A9");
        assert_eq!(uri_path("plain/path_1.rs"), "plain/path_1.rs");
    }

    #[test]
    fn every_result_points_at_a_rule() {
        let mut b = SarifBuilder::new("0.0.0");
        b.rule(Rule::new("a", "A", Level::Error));
        let mut r = SarifResult::new("b", Level::Warning, "m");
        r.logical = Some("refs/heads/main".into());
        b.result(r);
        let v = b.to_value();
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["rules"][1]["id"], "b");
        assert_eq!(run["results"][0]["ruleIndex"], 1);
        assert_eq!(
            run["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "refs/heads/main"
        );
        assert!(run["results"][0].get("suppressions").is_none());
    }

    #[test]
    fn suppressed_results_keep_their_justification() {
        let mut b = SarifBuilder::new("0.0.0");
        let mut r = SarifResult::new("a", Level::Error, "m");
        r.suppression = Some(Suppression {
            justification: "override token".into(),
        });
        r.fingerprint = Some("ab".into());
        b.result(r);
        let v = b.to_value();
        let res = &v["runs"][0]["results"][0];
        assert_eq!(res["suppressions"][0]["status"], "accepted");
        assert_eq!(res["suppressions"][0]["justification"], "override token");
        assert_eq!(res["partialFingerprints"][FINGERPRINT_KEY], "ab");
    }
}
