//! `tollgate verify`: what CI runs, because client hooks can be skipped.
//!
//! The policy and the signer list come from the **base** commit (or from
//! files named explicitly), never from the commits being judged: a pushed
//! commit that weakens the policy or adds its author's key changes nothing
//! about how it is judged. Every constraint is re-run over the range, and
//! every blocker needs a valid signed record on the commit it concerns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Args;
use git2::Oid;
use serde::Serialize;

use super::{Ctx, Outcome};
use crate::audit::verify::{self, Blocker, Judgement, RecordStatus};
use crate::audit::ALLOWED_SIGNERS;
use crate::audit::{AllowedSigners, AuditRecord};
use crate::check::{Engine, Finding, Findings, Location, RefUpdate};
use crate::git::{Repo, NOTES_REF};
use crate::policy::{Policy, Severity, Source};
use crate::report::{Printer, Shown};

use crate::check::ZERO_SHA as ZERO;

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VerifyFormat {
    /// Text for people, on stderr.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
    /// SARIF 2.1.0 on stdout: a result per blocker; covered ones carry a suppression.
    Sarif,
}

/// Arguments of `tollgate verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The commit the range starts after; its policy and signer list judge the range
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// The last commit of the range (default: `--new`, else HEAD)
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// The ref that was updated (`main` or `refs/heads/main`): judges the update itself (force push, protected branch)
    #[arg(long = "ref", value_name = "NAME")]
    ref_name: Option<String>,
    /// The ref's sha before the push (all zeros: the ref was created)
    #[arg(long, value_name = "SHA", requires_all = ["new", "ref_name"])]
    old: Option<String>,
    /// The ref's sha after the push (all zeros: the ref was deleted)
    #[arg(long, value_name = "SHA", requires_all = ["old", "ref_name"])]
    new: Option<String>,
    /// The commit whose policy and signer list judge (default: the merge-base of the range with the remote's default branch, `origin/HEAD`)
    #[arg(long, value_name = "REV")]
    anchor: Option<String>,
    /// Signer list to use instead of the anchor's `.tollgate/allowed_signers`
    #[arg(long, value_name = "PATH")]
    allowed_signers: Option<PathBuf>,
    /// Notes ref holding the audit records
    #[arg(long, value_name = "REF", default_value = NOTES_REF)]
    notes_ref: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    format: VerifyFormat,
}

/// What is judged, resolved.
pub(super) struct Plan {
    pub base: Option<Oid>,
    pub head: Option<Oid>,
    pub update: Option<RefUpdate>,
    /// The commit whose policy and signers judge, and how it was chosen.
    pub anchor: Option<crate::trust::Anchor>,
}

/// Runs the verification.
pub fn run(ctx: &Ctx, args: VerifyArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let mut plan = plan(&repo, &args)?;
    let explicit_policy = ctx.explicit_policy()?;
    let explicit_trust = explicit_policy.is_some() && args.allowed_signers.is_some();
    let request = crate::trust::AnchorRequest {
        named: args.anchor.as_deref(),
        base: plan.base,
        head: plan.head,
        update: plan.update.as_ref(),
    };
    match crate::trust::pick(&repo, &request) {
        Ok(a) => plan.anchor = Some(a),
        // Both files named: they judge, and the whole history is judged.
        Err(_) if explicit_trust && args.anchor.is_none() => {}
        Err(e) => return Err(e.into()),
    }
    let anchor = plan.anchor.as_ref().map(|a| a.commit);
    // A new ref, tag or orphan judged from its anchor: the range starts there.
    let base = plan.base.or(anchor);
    plan.base = base;
    let trusted = Trusted::load(
        ctx,
        &repo,
        anchor,
        explicit_policy,
        args.allowed_signers.as_deref(),
    )?;
    let mut policy = trusted.policy;
    if let Some(rel) = ctx.explicit_policy_in(&repo) {
        policy.guard_policy_file(&rel);
    }
    let (policy_source, signers_source, signers) = (
        trusted.policy_source,
        trusted.signers_source,
        trusted.signers,
    );

    let commits = match plan.head {
        Some(head) => repo.range_commits(base, head)?,
        None => Vec::new(),
    };
    let all = repo.all_notes(&args.notes_ref)?;
    // The trail is append-only: a record some notes commit had is still there.
    let deleted = crate::audit::index::deleted_records(&repo, &args.notes_ref)?;
    let (shown, judgement, allow_notes) = judge_commits(
        &repo,
        &policy,
        &signers,
        &commits,
        plan.update.as_ref(),
        &all,
    )?;

    let baselined = shown.iter().filter(|s| s.baselined.is_some()).count();
    if baselined > 0 && args.format == VerifyFormat::Human {
        ctx.printer.info(&format!(
            "tollgate: {baselined} finding{} baselined in `{}` (reported, not blockers)",
            if baselined == 1 { "" } else { "s" },
            crate::baseline::BASELINE_PATH
        ));
    }
    if repo.ref_target(&args.notes_ref).is_none() && !judgement.blockers.is_empty() {
        ctx.printer.hint(&format!(
            "this clone has no `{}`; fetch the records first: git fetch origin '+{NOTES_REF}:{NOTES_REF}'",
            args.notes_ref
        ));
    }
    let report = Report::new(
        &plan,
        &policy_source,
        &signers_source,
        &judgement,
        &shown,
        &allow_notes,
    )
    .with_deleted(&deleted);
    match args.format {
        VerifyFormat::Human => human(&ctx.printer, &report),
        VerifyFormat::Json => ctx.printer.stdout(&report.to_json()),
        VerifyFormat::Sarif => ctx
            .printer
            .stdout(&sarif(&policy, &shown, &judgement, &report)),
    }
    Ok(if judgement.passed() && deleted.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Blocked
    })
}

/// The policy and signer list that judge, with where each came from.
pub(super) struct Trusted {
    pub policy_source: String,
    pub policy: Policy,
    pub signers_source: String,
    pub signers: AllowedSigners,
}

impl Trusted {
    /// Explicit files where given, else `.tollgate.toml` and
    /// `.tollgate/allowed_signers` in `base`'s tree (no policy file: the
    /// builtin `recommended` pack; no signer list: no record is valid).
    pub fn load(
        ctx: &Ctx,
        repo: &Repo,
        base: Option<Oid>,
        policy: Option<Source>,
        signers: Option<&Path>,
    ) -> anyhow::Result<Trusted> {
        let base_name = base.map(|b| short(&b.to_string()).to_string());
        let from_base = |path: &str| -> anyhow::Result<Option<(String, String)>> {
            let (Some(b), Some(n)) = (base, &base_name) else {
                return Ok(None);
            };
            let name = format!("{path}@{n}");
            match repo.file_at(b, path)? {
                Some(bytes) => {
                    let text = String::from_utf8(bytes)
                        .map_err(|_| anyhow::anyhow!("`{name}` is not UTF-8"))?;
                    Ok(Some((name, text)))
                }
                None => Ok(None),
            }
        };
        let (policy_source, mut policy) = match policy {
            Some(src) => (src.name.clone(), ctx.load_policy(Some(src))?),
            None => match from_base(".tollgate.toml")? {
                Some((name, text)) => (
                    name.clone(),
                    ctx.load_policy(Some(Source::new(name, text)))?,
                ),
                None => ("builtin:recommended".into(), ctx.load_policy(None)?),
            },
        };
        // The baseline is policy data: from the same trusted tree.
        if let Some((name, text)) = from_base(crate::baseline::BASELINE_PATH)? {
            policy.baseline = crate::baseline::Baseline::parse(&name, &text)?;
        }
        let (signers_source, signers) = match signers {
            Some(p) => (p.display().to_string(), AllowedSigners::load(p)?),
            None => {
                let name = format!("{ALLOWED_SIGNERS}@{}", base_name.as_deref().unwrap_or(""));
                let text = match from_base(ALLOWED_SIGNERS)? {
                    Some((_, text)) => text,
                    None => {
                        ctx.printer.warning(&format!(
                            "no `{ALLOWED_SIGNERS}` in the trusted tree: no audit record can be valid"
                        ));
                        String::new()
                    }
                };
                (
                    name.clone(),
                    AllowedSigners::parse(&text, Path::new(&name))?,
                )
            }
        };
        // Lines that grant nothing are said, never fatal for everyone else.
        for skipped in signers.skipped() {
            ctx.printer.warning(&skipped.to_string());
        }
        Ok(Trusted {
            policy_source,
            policy,
            signers_source,
            signers,
        })
    }
}

/// The verification as SARIF 2.1.0: a result per blocker (covered ones
/// suppressed with the record's justification), per finding an allow rule
/// passed (suppressed, naming the rule), and per invalid record.
fn sarif(policy: &Policy, shown: &[Shown], j: &Judgement, report: &Report<'_>) -> String {
    use crate::report::sarif::{Level, Rule, SarifBuilder, SarifResult};
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

/// Re-runs every constraint over `commits` (and the ref update, if any)
/// and judges each blocker against the records in `notes`, of which those
/// on the judged commits are reported; token ids are counted over all.
pub(super) fn judge_commits(
    repo: &Repo,
    policy: &Policy,
    signers: &AllowedSigners,
    commits: &[Oid],
    update: Option<&RefUpdate>,
    notes: &[(String, String)],
) -> anyhow::Result<(Vec<Shown>, Judgement, Vec<String>)> {
    let engine = Engine::new(policy);
    let mut out = Findings::default();
    crate::gate::scan_commits(repo, &engine, commits, &mut out)?;
    if let Some(u) = update {
        engine.check_ref_update(u, &mut out);
    }
    let mut shown = crate::report::number(out.into_vec());
    let branches: Vec<String> = update.map(|u| u.remote_ref.clone()).into_iter().collect();
    let today = crate::clock::now().date_naive();
    let used = crate::check::allow::apply_allows(policy, &mut shown, &branches, today);
    crate::check::allow::apply_baseline(policy, &mut shown);
    let mut allow_notes = Vec::new();
    for (rule, used) in policy.allows.iter().zip(used) {
        if rule.expired(today) {
            allow_notes.push(format!(
                "allow rule `{}` expired on {}; it no longer applies",
                rule.name, rule.expires
            ));
        } else if !used {
            allow_notes.push(format!(
                "allow rule `{}` ({} at {}) matched nothing here",
                rule.name,
                rule.constraint,
                rule.path_patterns.join(", ")
            ));
        }
    }
    let blockers: Vec<Blocker> = shown
        .iter()
        .filter(|s| {
            s.finding.severity == Severity::Block && s.allowed_by.is_none() && s.baselined.is_none()
        })
        .filter_map(|s| {
            Some(Blocker {
                finding: s.finding.clone(),
                commit: s.finding.location.commit.clone()?,
            })
        })
        .collect();
    let mut judged: HashSet<String> = commits.iter().map(|c| c.to_string()).collect();
    judged.extend(blockers.iter().map(|b| b.commit.clone()));
    let on_judged: Vec<(String, String)> = notes
        .iter()
        .filter(|(c, _)| judged.contains(c))
        .cloned()
        .collect();
    let shapes = |c: &str| repo.shape_of(c);
    let uses = verify::token_uses(notes, &shapes);
    let commit_time = |c: &str| Oid::from_str(c).ok().and_then(|o| repo.commit_time(o));
    let mut judgement = verify::judge_at(
        policy,
        signers,
        blockers,
        &on_judged,
        &uses,
        &shapes,
        &commit_time,
    );
    // Squash and rebase merges: a record on the commit the same change was
    // made in covers it here, once that commit is re-scanned and holds it.
    crate::trust::carry(
        policy,
        signers,
        &mut judgement,
        notes,
        &uses,
        &shapes,
        &commit_time,
        &mut |commit, finding| -> anyhow::Result<bool> {
            let Ok(id) = Oid::from_str(commit) else {
                return Ok(false);
            };
            if !repo.has_commit(id) {
                return Ok(false);
            }
            let mut there = Findings::default();
            crate::gate::scan_commits(repo, &engine, &[id], &mut there)?;
            Ok(there.into_vec().iter().any(|f| {
                f.fingerprint == finding.fingerprint && f.constraint == finding.constraint
            }))
        },
    )?;
    if policy
        .constraints
        .iter()
        .any(|c| c.max_overrides_per_week.is_some())
        && judgement.covered_by.iter().any(Option::is_some)
    {
        let weekly = verify::weekly_counts(&verify::valid_records(notes, signers, &shapes));
        judgement.check_budgets(policy, &weekly);
    }
    Ok((shown, judgement, allow_notes))
}

fn plan(repo: &Repo, args: &VerifyArgs) -> anyhow::Result<Plan> {
    let sha = |s: &str| -> anyhow::Result<Option<Oid>> {
        if s.chars().all(|c| c == '0') {
            return Ok(None);
        }
        Ok(Some(repo.resolve_commit(s)?))
    };
    // The old tip of a force push may be missing from this clone: it is
    // only needed as a sha (the force-push finding's scope), and the
    // anchor says what to fetch when it is needed as a commit.
    let old_sha = |s: &str| -> anyhow::Result<Option<Oid>> {
        if s.chars().all(|c| c == '0') {
            return Ok(None);
        }
        match repo.resolve_commit(s) {
            Ok(o) => Ok(Some(o)),
            Err(_) => Oid::from_str(s).map(Some).map_err(|_| {
                anyhow::anyhow!("`--old {s}` is neither a commit in this clone nor a full sha")
            }),
        }
    };
    let (old, new) = match (&args.old, &args.new) {
        (Some(o), Some(n)) => (old_sha(o)?, sha(n)?),
        _ => (None, None),
    };
    let old_present = old.filter(|o| repo.has_commit(*o));
    let explicit_update = args.old.is_some();
    let base = match &args.base {
        Some(b) => Some(repo.resolve_commit(b)?),
        None if explicit_update => old_present,
        None if args.anchor.is_some() => None,
        None => anyhow::bail!(
            "`--base <rev>` is required (or `--old`, `--new` and `--ref`, or `--anchor`)"
        ),
    };
    let head = match &args.head {
        Some(h) => Some(repo.resolve_commit(h)?),
        None if explicit_update => new,
        None => Some(repo.resolve_commit("HEAD")?),
    };
    let update = args.ref_name.as_ref().map(|r| {
        let remote_ref = if r.starts_with("refs/") {
            r.clone()
        } else {
            format!("refs/heads/{r}")
        };
        let (old, new) = if explicit_update {
            (old, new)
        } else {
            (base, head)
        };
        let forced = match (old, new) {
            // An old tip this clone lacks is no ancestor of the new one.
            (Some(o), Some(n)) => !repo.has_commit(o) || !repo.is_fast_forward(o, n),
            _ => false,
        };
        RefUpdate {
            remote_ref,
            old: old.map(|o| o.to_string()),
            new: new.map(|n| n.to_string()),
            forced,
        }
    });
    Ok(Plan {
        base,
        head,
        update,
        anchor: None,
    })
}

/// The `tollgate/v1` JSON of a verification.
#[derive(Serialize)]
pub(super) struct Report<'a> {
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
    pub fn new(
        plan: &'a Plan,
        policy: &'a str,
        signers: &'a str,
        j: &'a Judgement,
        shown: &'a [crate::report::Shown],
        allow_notes: &'a [String],
    ) -> Report<'a> {
        let id_of = |f: &Finding| {
            shown
                .iter()
                .find(|s| s.finding.fingerprint == f.fingerprint)
                .map(|s| s.id.as_str())
                .unwrap_or("")
        };
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
                BlockerOut {
                    id: id_of(&b.finding),
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

    fn to_json(&self) -> String {
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

pub(super) fn human(p: &Printer, r: &Report<'_>) {
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
                &b.fingerprint[..12]
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
    crate::check::escape_controls(s)
}

fn short(sha: &str) -> &str {
    if sha == ZERO {
        return "0000000";
    }
    &sha[..sha.len().min(12)]
}
