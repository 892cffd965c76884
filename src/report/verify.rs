//! `verify`'s report (also what `pre-receive` prints): one row per blocker
//! (covered by which record, or not), per record, per finding an allow rule
//! passed, per deleted record, and the summary; rendered as text for
//! people, `tollgate/v1` JSON, or SARIF 2.1.0. It renders a judgement made
//! by `gate::range` and decides nothing.

use serde::Serialize;

use super::Printer;
use crate::audit::verify::{Judgement, RecordStatus};
use crate::audit::AuditRecord;
use crate::check::allow::Shown;
use crate::check::{Finding, Location, RefUpdate, ZERO_SHA};
use crate::policy::Policy;
use crate::text::short_sha;

/// The `tollgate/v1` JSON of a verification.
#[derive(Serialize)]
pub struct Report<'a> {
    schema: &'static str,
    command: &'static str,
    result: &'static str,
    base: Option<String>,
    head: Option<String>,
    anchor: Option<AnchorOut<'a>>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    ref_update: Option<&'a RefUpdate>,
    policy: &'a str,
    allowed_signers: &'a str,
    blockers: Vec<BlockerOut<'a>>,
    records: Vec<RecordOut<'a>>,
    over_budget: &'a [String],
    allowed: Vec<AllowedOut<'a>>,
    allow_rules: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted_records: Vec<DeletedOut>,
    summary: Summary,
}

/// The anchor: the commit whose policy and signer list judged, and how it
/// was chosen.
#[derive(Serialize)]
struct AnchorOut<'a> {
    commit: String,
    how: &'a str,
}

/// A record the notes history lost.
#[derive(Serialize)]
struct DeletedOut {
    commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraint: Option<String>,
    dropped_in: String,
    message: String,
}

#[derive(Serialize)]
struct AllowedOut<'a> {
    id: &'a str,
    constraint: &'a str,
    location: &'a Location,
    rule: &'a str,
}

#[derive(Serialize)]
struct BlockerOut<'a> {
    id: &'a str,
    constraint: &'a str,
    kind: &'a str,
    location: &'a Location,
    evidence: &'a str,
    fingerprint: &'a str,
    commit: &'a str,
    /// The commit's author, author date and subject (as in `check`'s JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    covered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<RecordRef<'a>>,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    commit: &'a str,
    line: usize,
    token_id: &'a str,
    requester: &'a str,
    key_fingerprint: &'a str,
    approval: &'a str,
    /// Only the requester's own key vouches for the approval (`challenge`):
    /// it proves the developer's machine made it, not that a person did.
    self_attested: bool,
    approver: &'a str,
    approver_key_fingerprint: &'a str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason_code: Option<&'a str>,
    consumed: String,
    /// Set when the record sits on another commit holding the same change
    /// (a squash or rebase merge carried it here).
    #[serde(skip_serializing_if = "Option::is_none")]
    carried_from: Option<&'a str>,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    commit: &'a str,
    line: usize,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requester: Option<&'a str>,
}

#[derive(Serialize)]
struct Summary {
    blockers: usize,
    covered: usize,
    uncovered: usize,
    records: usize,
    invalid_records: usize,
    unattached_records: usize,
}

impl<'a> Report<'a> {
    /// The report of a judgement of `plan` by the named policy and signers.
    pub fn new(
        plan: &'a crate::trust::Plan,
        policy: &'a str,
        signers: &'a str,
        j: &'a Judgement,
        shown: &'a [Shown],
        allow_notes: &'a [String],
    ) -> Report<'a> {
        let shown_of = |f: &Finding| {
            shown
                .iter()
                .find(|s| s.finding.fingerprint == f.fingerprint)
        };
        let id_of = |f: &Finding| shown_of(f).map(|s| s.id.as_str()).unwrap_or("");
        let blockers = j
            .blockers
            .iter()
            .zip(&j.covered_by)
            .map(|(b, c)| {
                let record = c.and_then(|r| {
                    let rep = &j.records[r];
                    let rec = rep.record.as_ref()?;
                    let mut r = record_ref(rep.commit.as_str(), rep.line, rec);
                    if rep.commit != b.commit {
                        r.carried_from = Some(rep.commit.as_str());
                    }
                    Some(r)
                });
                let meta = shown_of(&b.finding);
                BlockerOut {
                    id: id_of(&b.finding),
                    author: meta.and_then(|s| s.author.as_deref()),
                    date: meta.and_then(|s| s.date.as_deref()),
                    subject: meta.and_then(|s| s.subject.as_deref()),
                    constraint: &b.finding.constraint,
                    kind: &b.finding.kind,
                    location: &b.finding.location,
                    evidence: &b.finding.evidence,
                    fingerprint: &b.finding.fingerprint,
                    commit: &b.commit,
                    covered: record.is_some(),
                    record,
                }
            })
            .collect();
        let records = j
            .records
            .iter()
            .map(|r| {
                let (status, why, blocker) = match &r.status {
                    RecordStatus::Covers(b) => (
                        "covers",
                        None,
                        Some(id_of(&j.blockers[*b].finding).to_string()),
                    ),
                    RecordStatus::Unattached => ("unattached", None, None),
                    RecordStatus::Invalid(w) => ("invalid", Some(w.as_str()), None),
                };
                RecordOut {
                    commit: &r.commit,
                    line: r.line,
                    status,
                    why,
                    blocker,
                    constraint: r.record.as_ref().map(|x| x.constraint.as_str()),
                    requester: r.record.as_ref().map(|x| x.requester.email.as_str()),
                }
            })
            .collect();
        let unattached = j
            .records
            .iter()
            .filter(|r| r.status == RecordStatus::Unattached)
            .count();
        Report {
            schema: "tollgate/v1",
            command: "verify",
            result: if j.passed() { "pass" } else { "fail" },
            base: plan.base.map(|o| o.to_string()),
            head: plan.head.map(|o| o.to_string()),
            anchor: plan.anchor.as_ref().map(|a| AnchorOut {
                commit: a.commit.to_string(),
                how: &a.how,
            }),
            ref_update: plan.update.as_ref(),
            policy,
            allowed_signers: signers,
            blockers,
            records,
            over_budget: &j.over_budget,
            allowed: shown
                .iter()
                .filter_map(|s| {
                    Some(AllowedOut {
                        id: &s.id,
                        constraint: &s.finding.constraint,
                        location: &s.finding.location,
                        rule: s.allowed_by.as_deref()?,
                    })
                })
                .collect(),
            allow_rules: allow_notes,
            deleted_records: Vec::new(),
            summary: Summary {
                blockers: j.blockers.len(),
                covered: j.blockers.len() - j.uncovered(),
                uncovered: j.uncovered(),
                records: j.records.len(),
                invalid_records: j.invalid(),
                unattached_records: unattached,
            },
        }
    }

    /// Adds the records the notes history lost; any fails the report.
    pub fn with_deleted(mut self, deleted: &[crate::audit::trail::DeletedRecord]) -> Report<'a> {
        self.deleted_records = deleted
            .iter()
            .map(|d| DeletedOut {
                commit: d.record.commit.clone(),
                token_id: d.record.token_id.clone(),
                constraint: d.record.constraint.clone(),
                dropped_in: d.dropped_in.clone(),
                message: d.to_string(),
            })
            .collect();
        if !self.deleted_records.is_empty() {
            self.result = "fail";
        }
        self
    }

    /// The report as pretty JSON, with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

fn record_ref<'a>(commit: &'a str, line: usize, rec: &'a AuditRecord) -> RecordRef<'a> {
    RecordRef {
        commit,
        line,
        token_id: &rec.token_id,
        requester: &rec.requester.email,
        key_fingerprint: &rec.requester.key_fingerprint,
        approval: rec.approval.as_str(),
        self_attested: rec.approval == crate::policy::Tier::Challenge,
        approver: &rec.approver.email,
        approver_key_fingerprint: &rec.approver.key_fingerprint,
        reason: &rec.reason,
        reason_code: rec.reason_code.as_deref(),
        consumed: rec.consumed.to_rfc3339(),
        carried_from: None,
    }
}

/// The report as text for people, through the printer (stderr).
pub fn human(p: &Printer, r: &Report<'_>) {
    p.info(&format!(
        "tollgate verify: {}..{} judged by {} and {}",
        r.base.as_deref().map(short).unwrap_or("(none)"),
        r.head.as_deref().map(short).unwrap_or("(deleted)"),
        r.policy,
        r.allowed_signers
    ));
    match &r.anchor {
        Some(a) => p.info(&format!("tollgate verify: anchor {} ({})", short(&a.commit), a.how)),
        None => p.info("tollgate verify: anchor none (`--policy` and `--allowed-signers` named; the whole history is judged)"),
    }
    for b in &r.blockers {
        match &b.record {
            Some(rec) => {
                let carried = rec
                    .carried_from
                    .map(|c| {
                        format!(
                            "\n             carried from commit {}: the same change, rewritten by a squash or rebase",
                            short(c)
                        )
                    })
                    .unwrap_or_default();
                p.info(&format!(
                    "  covered    {:<3} `{}` at {}\n             by {} ({}), {}, approval `{}`{}: \"{}\"{carried}",
                    b.id,
                    b.constraint,
                    b.location,
                    esc(rec.requester),
                    rec.key_fingerprint,
                    crate::overrides::token_id(rec.token_id),
                    rec.approval,
                    if rec.self_attested {
                        " (self-attested)"
                    } else if rec.approver != rec.requester {
                        " by a second person"
                    } else {
                        " (security-key touch)"
                    },
                    esc(rec.reason)
                ))
            }
            None => p.error(&format!(
                "uncovered {:<3} `{}` at {}: {}  (fingerprint {})",
                b.id,
                b.constraint,
                b.location,
                b.evidence,
                short_sha(b.fingerprint)
            )),
        }
    }
    for rec in &r.records {
        match rec.status {
            "invalid" => p.error(&format!(
                "invalid record on commit {} (line {}): {}",
                short(rec.commit),
                rec.line,
                rec.why.unwrap_or("")
            )),
            "unattached" => p.info(&format!(
                "  note: the record on commit {} (line {}) matches no blocker judged here",
                short(rec.commit),
                rec.line
            )),
            _ => {}
        }
    }
    for a in &r.allowed {
        p.info(&format!(
            "  allowed    {:<3} `{}` at {} by allow rule `{}`",
            a.id, a.constraint, a.location, a.rule
        ));
    }
    for n in r.allow_rules {
        p.info(&format!("  note: {n}"));
    }
    for b in r.over_budget {
        p.error(&format!("over budget: {b}"));
    }
    for d in &r.deleted_records {
        p.error(&d.message);
    }
    let s = &r.summary;
    let line = format!(
        "{} blocker{}: {} covered, {} uncovered; {} record{}, {} invalid",
        s.blockers,
        if s.blockers == 1 { "" } else { "s" },
        s.covered,
        s.uncovered,
        s.records,
        if s.records == 1 { "" } else { "s" },
        s.invalid_records
    );
    if r.result == "pass" {
        p.info(&format!("tollgate verify: passed ({line})"));
    } else {
        p.error(&format!("verification failed ({line})"));
    }
}

fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_controls(s)
}

/// A sha as shown here: the zero sha of a created or deleted ref as seven
/// zeros.
fn short(sha: &str) -> &str {
    if sha == ZERO_SHA {
        return "0000000";
    }
    short_sha(sha)
}

/// The verification as SARIF 2.1.0: a result per blocker (covered ones
/// suppressed with the record's justification), per finding an allow rule
/// passed (suppressed, naming the rule), and per invalid record.
pub fn sarif(policy: &Policy, shown: &[Shown], j: &Judgement, report: &Report<'_>) -> String {
    use super::sarif::{Level, Rule, SarifBuilder, SarifResult};
    let mut log = SarifBuilder::new(env!("CARGO_PKG_VERSION"));
    log.policy_rules(policy)
        .rule(Rule::new(
            INVALID_RECORD_RULE,
            "An audit record on a judged commit is not valid (unparseable, forged, copied, expired or reusing a token)",
            Level::Error,
        ))
        .run_property("schema", "tollgate/v1")
        .run_property("command", "verify")
        .run_property("result", report.result)
        .run_property("policy", report.policy)
        .run_property(
            "anchor",
            report
                .anchor
                .as_ref()
                .map(|a| format!("{} ({})", a.commit, a.how))
                .unwrap_or_else(|| "none".into()),
        )
        .run_property("allowedSigners", report.allowed_signers);
    for (b, covered) in j.blockers.iter().zip(&j.covered_by) {
        let Some(s) = shown
            .iter()
            .find(|s| s.finding.fingerprint == b.finding.fingerprint)
        else {
            continue;
        };
        let why = covered.and_then(|r| {
            let rec = j.records[r].record.as_ref()?;
            let carried = if j.records[r].commit != b.commit {
                format!(" (carried from commit {})", short(&j.records[r].commit))
            } else {
                String::new()
            };
            Some(format!(
                "covered by the signed audit record of {} <{}> ({}, approval `{}`{}){carried}: {}",
                rec.requester.name,
                rec.requester.email,
                crate::overrides::token_id(&rec.token_id),
                rec.approval.as_str(),
                if rec.approval == crate::policy::Tier::Challenge {
                    ", self-attested"
                } else {
                    ""
                },
                rec.reason
            ))
        });
        let mut res = SarifResult::from_finding(s, why);
        if let Some(rec) = covered.and_then(|r| j.records[r].record.as_ref()) {
            res.properties.insert(
                "approval".into(),
                serde_json::Value::String(rec.approval.as_str().into()),
            );
            res.properties.insert(
                "selfAttested".into(),
                serde_json::Value::Bool(rec.approval == crate::policy::Tier::Challenge),
            );
        }
        log.result(res);
    }
    for s in shown.iter().filter(|s| s.allowed_by.is_some()) {
        let rule = s.allowed_by.clone().unwrap_or_default();
        log.result(SarifResult::from_finding(
            s,
            Some(format!("passed by allow rule `{rule}`")),
        ));
    }
    for r in &j.records {
        if let RecordStatus::Invalid(why) = &r.status {
            let mut res = SarifResult::new(
                INVALID_RECORD_RULE,
                Level::Error,
                format!("invalid audit record (line {}): {why}", r.line),
            );
            res.logical = Some(format!("commit {}", r.commit));
            res.properties
                .insert("commit".into(), serde_json::Value::String(r.commit.clone()));
            log.result(res);
        }
    }
    if !report.deleted_records.is_empty() {
        log.rule(Rule::new(
            DELETED_RECORD_RULE,
            "A record line that an earlier commit of the notes history had is gone from its tip",
            Level::Error,
        ));
    }
    for d in &report.deleted_records {
        let mut res = SarifResult::new(DELETED_RECORD_RULE, Level::Error, d.message.clone());
        res.logical = Some(format!("commit {}", d.commit));
        res.properties
            .insert("commit".into(), serde_json::Value::String(d.commit.clone()));
        log.result(res);
    }
    log.to_json()
}

/// The SARIF rule id of a record deleted from the notes history.
const DELETED_RECORD_RULE: &str = "tollgate/deleted-audit-record";

/// The SARIF rule id of an invalid audit record.
const INVALID_RECORD_RULE: &str = "tollgate/invalid-audit-record";
