//! `tollgate audit log|show`: read the audit records in `refs/notes/tollgate`
//! (who passed what, why and when, and whether the signature holds).

use std::collections::HashSet;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use super::check::parse_range;
use super::records;
use super::{Ctx, Outcome};
use crate::audit::pending::PendingDir;
use crate::audit::{AllowedSigners, AuditRecord};
use crate::git::{Repo, NOTES_REF};

/// Output format of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditFormat {
    /// Text for people.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
}

/// Output format of `audit log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Text for people.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
    /// SARIF 2.1.0 on stdout: a result per record (an accepted suppression with its reason; an error when the record is not valid).
    Sarif,
}

/// `tollgate audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List the records, newest consumption first (all, or on the commits of a range)
    Log {
        /// Only records on the commits of `A..B` (`REV` alone: all of its history)
        #[arg(value_name = "RANGE")]
        range: Option<String>,
        /// Signer list to check signatures against (default: the work tree's `.tollgate/allowed_signers`)
        #[arg(long, value_name = "PATH")]
        allowed_signers: Option<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = LogFormat::Human)]
        format: LogFormat,
    },
    /// Summarise the overrides: per constraint, person, reason code, week and approval
    Report {
        /// Only records consumed in this window (`90d`, `4w`, `12h`; default 90d)
        #[arg(long, value_name = "DURATION", default_value = "90d")]
        since: String,
        /// Signer list to check signatures against (default: the work tree's `.tollgate/allowed_signers`)
        #[arg(long, value_name = "PATH")]
        allowed_signers: Option<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
        format: AuditFormat,
    },
    /// Show every record on one commit in full
    Show {
        /// The commit
        commit: String,
        /// Signer list to check signatures against (default: the work tree's `.tollgate/allowed_signers`)
        #[arg(long, value_name = "PATH")]
        allowed_signers: Option<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
        format: AuditFormat,
    },
}

/// One record line and its signature check.
#[derive(Serialize)]
struct Line {
    commit: String,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<AuditRecord>,
    signature: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

/// Runs `audit`.
pub fn run(ctx: &Ctx, cmd: AuditCommand) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    records::flush_and_report(&ctx.printer, &repo);
    match cmd {
        AuditCommand::Log {
            range,
            allowed_signers,
            format,
        } => {
            let signers = signers(&repo, allowed_signers)?;
            let mut notes = repo.all_notes(NOTES_REF)?;
            if let Some(r) = range {
                let (base, head) = parse_range(&repo, &r)?;
                let commits: HashSet<String> = repo
                    .range_commits(base, head)?
                    .into_iter()
                    .map(|c| c.to_string())
                    .collect();
                notes.retain(|(c, _)| commits.contains(c));
            }
            let mut lines = judge(&repo, &notes, &signers);
            lines.sort_by(|a, b| {
                let t = |l: &Line| l.record.as_ref().map(|r| r.consumed);
                t(b).cmp(&t(a))
            });
            let pending = PendingDir::at(&repo.state_dir()).list()?;
            match format {
                LogFormat::Sarif => ctx.printer.stdout(&sarif(&lines)),
                LogFormat::Json => {
                    let pending: Vec<String> = pending
                        .iter()
                        .filter_map(|(_, p)| p.as_ref().ok()?.record().ok())
                        .map(|r| crate::overrides::token_id(&r.token_id))
                        .collect();
                    ctx.printer.stdout(&json(&serde_json::json!({
                        "schema": "tollgate/v1",
                        "command": "audit log",
                        "records": lines,
                        "pending": pending,
                    })));
                }
                LogFormat::Human => {
                    for l in &lines {
                        ctx.printer.stdout(&format!("{}\n", summary(l)));
                    }
                    for (path, p) in &pending {
                        match p.as_ref().map_err(Clone::clone).and_then(|p| p.record()) {
                            Ok(r) => ctx.printer.stdout(&format!(
                                "pending      {}  `{}` {}: not yet in {NOTES_REF}\n",
                                crate::overrides::token_id(&r.token_id),
                                crate::text::escape_controls(&r.constraint),
                                if r.commit.is_empty() {
                                    "waits for its commit"
                                } else {
                                    "signed"
                                }
                            )),
                            Err(e) => ctx.printer.warning(&format!(
                                "unreadable pending record `{}`: {e}",
                                path.display()
                            )),
                        }
                    }
                    if lines.is_empty() && pending.is_empty() {
                        ctx.printer.info("tollgate: no audit records");
                    }
                }
            }
            Ok(Outcome::Pass)
        }
        AuditCommand::Report {
            since,
            allowed_signers,
            format,
        } => report(ctx, &repo, &since, allowed_signers, format),
        AuditCommand::Show {
            commit,
            allowed_signers,
            format,
        } => {
            let signers = signers(&repo, allowed_signers)?;
            let oid = repo.resolve_commit(&commit)?;
            let text = repo.note(NOTES_REF, oid)?.unwrap_or_default();
            let lines = judge(&repo, &[(oid.to_string(), text)], &signers);
            match format {
                AuditFormat::Json => ctx.printer.stdout(&json(&serde_json::json!({
                    "schema": "tollgate/v1",
                    "command": "audit show",
                    "commit": oid.to_string(),
                    "records": lines,
                }))),
                AuditFormat::Human => {
                    if lines.is_empty() {
                        ctx.printer
                            .info(&format!("tollgate: no audit records on commit {oid}"));
                    }
                    for l in &lines {
                        ctx.printer.stdout(&detail(l));
                    }
                }
            }
            Ok(Outcome::Pass)
        }
    }
}

/// Counts, largest first (ties by name).
fn tally(items: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut m: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    let mut v: Vec<(String, usize)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn report(
    ctx: &Ctx,
    repo: &Repo,
    since: &str,
    allowed_signers: Option<PathBuf>,
    format: AuditFormat,
) -> anyhow::Result<Outcome> {
    let window =
        crate::policy::parse_duration(since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let now = crate::clock::now();
    let from = now - chrono::Duration::from_std(window)?;
    let signers = signers(repo, allowed_signers)?;
    let notes = repo.all_notes(NOTES_REF)?;
    let total_lines: usize = notes
        .iter()
        .map(|(_, t)| t.lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    let all = crate::audit::verify::valid_records(&notes, &signers, &|c: &str| repo.shape_of(c));
    let invalid = total_lines - all.len();
    let records: Vec<&AuditRecord> = all.iter().filter(|r| r.consumed >= from).collect();
    let policy = ctx.policy(Some(repo))?;
    let weekly = crate::audit::verify::weekly_counts(&all);
    let over = crate::audit::verify::over_budget(&policy, &weekly);
    let groups: [(&str, Vec<(String, usize)>); 5] = [
        (
            "constraint",
            tally(records.iter().map(|r| r.constraint.clone())),
        ),
        (
            "person",
            tally(records.iter().map(|r| r.requester.email.clone())),
        ),
        (
            "reason code",
            tally(
                records
                    .iter()
                    .map(|r| r.reason_code.clone().unwrap_or_else(|| "(none)".into())),
            ),
        ),
        (
            "week",
            tally(
                records
                    .iter()
                    .map(|r| crate::audit::verify::iso_week(r.consumed)),
            ),
        ),
        (
            "approval",
            tally(records.iter().map(|r| r.approval.as_str().to_string())),
        ),
    ];
    match format {
        AuditFormat::Json => {
            let mut by = serde_json::Map::new();
            for (name, counts) in &groups {
                let obj: serde_json::Map<String, serde_json::Value> = counts
                    .iter()
                    .map(|(k, n)| (k.clone(), serde_json::Value::from(*n)))
                    .collect();
                by.insert(name.replace(' ', "_"), serde_json::Value::Object(obj));
            }
            ctx.printer.stdout(&json(&serde_json::json!({
                "schema": "tollgate/v1",
                "command": "audit report",
                "since": from.to_rfc3339(),
                "overrides": records.len(),
                "invalid_records": invalid,
                "by": by,
                "over_budget": over,
            })));
        }
        AuditFormat::Human => {
            let mut out = format!(
                "{} override{} since {} ({} invalid record{} not counted)\n",
                records.len(),
                if records.len() == 1 { "" } else { "s" },
                from.format("%Y-%m-%d"),
                invalid,
                if invalid == 1 { "" } else { "s" }
            );
            for (name, counts) in &groups {
                out.push_str(&format!("\nby {name}:\n"));
                for (k, n) in counts {
                    out.push_str(&format!("  {n:>5}  {}\n", esc(k)));
                }
            }
            if !over.is_empty() {
                out.push_str("\nover budget (max-overrides-per-week):\n");
                for o in &over {
                    out.push_str(&format!("  {o}\n"));
                }
            }
            ctx.printer.stdout(&out);
        }
    }
    Ok(Outcome::Pass)
}

fn signers(repo: &Repo, path: Option<PathBuf>) -> anyhow::Result<AllowedSigners> {
    match path {
        Some(p) => Ok(AllowedSigners::load(&p)?),
        None => Ok(crate::audit::pipeline::local_signers(repo)?.0),
    }
}

fn judge(repo: &Repo, notes: &[(String, String)], signers: &AllowedSigners) -> Vec<Line> {
    let shapes = |c: &str| repo.shape_of(c);
    let mut out = Vec::new();
    for (commit, text) in notes {
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let (record, why) = crate::audit::verify::read_line(commit, raw, signers, &shapes);
            let line = Line {
                commit: commit.clone(),
                line: i + 1,
                record,
                signature: if why.is_none() { "valid" } else { "invalid" },
                why,
            };
            out.push(line);
        }
    }
    out
}

/// The records as SARIF: each an accepted suppression of its constraint's
/// rule, justified by its reason; a record whose signature fails is an error.
fn sarif(lines: &[Line]) -> String {
    use crate::report::sarif::{Level, Rule, SarifBuilder, SarifResult};
    let mut log = SarifBuilder::new(env!("CARGO_PKG_VERSION"));
    log.run_property("schema", "tollgate/v1")
        .run_property("command", "audit log");
    let mut rules: Vec<&str> = Vec::new();
    for l in lines {
        let rule = l
            .record
            .as_ref()
            .map_or("tollgate/invalid-audit-record", |r| r.constraint.as_str());
        if !rules.contains(&rule) {
            rules.push(rule);
            log.rule(Rule::new(
                rule,
                format!("overrides of `{rule}`"),
                Level::Note,
            ));
        }
        let (level, text) = match (&l.record, &l.why) {
            (Some(r), None) => (
                Level::Note,
                format!(
                    "`{}` overridden by {} <{}> at {}: {}",
                    r.constraint, r.requester.name, r.requester.email, r.location, r.reason
                ),
            ),
            (_, Some(why)) => (Level::Error, format!("invalid audit record: {why}")),
            (None, None) => continue,
        };
        let mut res = SarifResult::new(rule, level, text);
        res.logical = Some(format!("commit {}", l.commit));
        res.properties
            .insert("commit".into(), serde_json::Value::String(l.commit.clone()));
        if let (Some(r), None) = (&l.record, &l.why) {
            res.path = r.location.path.clone();
            res.line = r.location.line;
            res.fingerprint = Some(r.fingerprint.clone());
            res.suppression = Some(crate::report::sarif::Suppression {
                justification: r.reason.clone(),
            });
            res.properties.insert(
                "tokenId".into(),
                serde_json::Value::String(crate::overrides::token_id(&r.token_id)),
            );
        }
        log.result(res);
    }
    log.to_json()
}

fn summary(l: &Line) -> String {
    let sig = match &l.why {
        None => "signature valid".to_string(),
        Some(w) => format!("INVALID: {}", esc(w)),
    };
    match &l.record {
        Some(r) => format!(
            "{}  {}  {} <{}>  `{}` at {}  \"{}\"  [{sig}]",
            short(&l.commit),
            r.consumed.format("%Y-%m-%d %H:%M:%SZ"),
            esc(&r.requester.name),
            esc(&r.requester.email),
            esc(&r.constraint),
            r.location,
            esc(&r.reason)
        ),
        None => format!("{}  line {}  [{sig}]", short(&l.commit), l.line),
    }
}

fn detail(l: &Line) -> String {
    let mut s = format!("record on commit {} (line {})\n", l.commit, l.line);
    match &l.why {
        None => s.push_str("  signature:   valid (namespace tollgate)\n"),
        Some(w) => s.push_str(&format!("  signature:   INVALID: {}\n", esc(w))),
    }
    if let Some(r) = &l.record {
        let rows = [
            ("token", crate::overrides::token_id(&r.token_id)),
            (
                "constraint",
                format!(
                    "{} ({}, {})",
                    esc(&r.constraint),
                    esc(&r.kind),
                    r.severity.as_str()
                ),
            ),
            ("location", r.location.to_string()),
            ("fingerprint", r.fingerprint.clone()),
            (
                "reason",
                match &r.reason_code {
                    Some(c) => format!("[{}] {}", esc(c), esc(&r.reason)),
                    None => esc(&r.reason).into_owned(),
                },
            ),
            (
                "requester",
                format!(
                    "{} <{}> {}",
                    esc(&r.requester.name),
                    esc(&r.requester.email),
                    r.requester.key_fingerprint
                ),
            ),
            (
                "approver",
                format!(
                    "{} <{}> {} ({}{})",
                    esc(&r.approver.name),
                    esc(&r.approver.email),
                    r.approver.key_fingerprint,
                    r.approval.as_str(),
                    if r.approval == crate::policy::Tier::Challenge {
                        ", self-attested"
                    } else {
                        ""
                    }
                ),
            ),
            ("minted", crate::clock::show(&r.minted)),
            ("expires", crate::clock::show(&r.expires)),
            ("consumed", crate::clock::show(&r.consumed)),
            ("policy", format!("sha256:{}", r.policy_sha256)),
            ("tool", format!("tollgate {}", r.tool_version)),
        ];
        for (k, v) in rows {
            s.push_str(&format!("  {:<12} {v}\n", format!("{k}:")));
        }
    }
    s.push('\n');
    s
}

fn json(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Anything a person typed, as shown on a terminal: control and bidi
/// characters escaped (JSON output keeps the exact text).
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_controls(s)
}

use crate::text::short_sha as short;
