//! The range judgement shared by `verify` (CI) and `pre-receive` (the
//! server): what is judged ([`plan`], [`pick_anchor`]), the trusted policy
//! and signer list loaded from the anchor, never from the pushed commits
//! ([`Trusted`]), the notes a push brings and whether the trail stays
//! append-only ([`pushed_notes`]), and every blocker of the range judged
//! against the signed records ([`judge_commits`]).
//!
//! It returns values (warnings and refusals as text) and prints nothing;
//! the CLI renders them (`report::verify`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use git2::Oid;

use crate::audit::verify::{self, Blocker, Judgement};
use crate::audit::{trail, AllowedSigners, ALLOWED_SIGNERS};
use crate::check::allow::{apply_allows, apply_baseline, number, Shown};
use crate::check::{Engine, Findings, RefUpdate};
use crate::git::{ReceiveLine, Repo, NOTES_REF};
use crate::policy::{Policy, Severity, Source};
use crate::text::short_sha;
use crate::trust::{Anchor, AnchorRequest, Plan};

/// What `verify` was asked to judge, as named on its command line.
#[derive(Debug, Default, Clone, Copy)]
pub struct PlanRequest<'a> {
    /// `--base`: the commit the range starts after.
    pub base: Option<&'a str>,
    /// `--head`: the last commit of the range.
    pub head: Option<&'a str>,
    /// `--ref`: the ref that was updated.
    pub ref_name: Option<&'a str>,
    /// `--old`: the ref's sha before the push.
    pub old: Option<&'a str>,
    /// `--new`: the ref's sha after the push.
    pub new: Option<&'a str>,
    /// `--anchor`: the commit whose policy and signers judge.
    pub anchor: Option<&'a str>,
}

/// Picks the anchor of `plan` (named, else the merge-base with the default
/// branch) and starts the range there when it has no base. With both trust
/// files named (`explicit_trust`) and no anchor named, a missing anchor is
/// no error: the files judge, and the whole history is judged.
pub fn pick_anchor(
    repo: &Repo,
    plan: &mut Plan,
    named: Option<&str>,
    explicit_trust: bool,
) -> anyhow::Result<()> {
    let request = AnchorRequest {
        named,
        base: plan.base,
        head: plan.head,
        update: plan.update.as_ref(),
    };
    match crate::trust::pick(repo, &request) {
        Ok(a) => plan.anchor = Some(a),
        Err(_) if explicit_trust && named.is_none() => {}
        Err(e) => return Err(e.into()),
    }
    let anchor = plan.anchor.as_ref().map(|a| a.commit);
    // A new ref, tag or orphan judged from its anchor: the range starts there.
    plan.base = plan.base.or(anchor);
    Ok(())
}

/// The judgement of one range: the findings as shown, each blocker judged
/// against the records, and what the allow rules did.
#[derive(Debug)]
pub struct RangeJudgement {
    /// Every finding, numbered, with the allow rule or baseline that passed it.
    pub shown: Vec<Shown>,
    /// Blockers, records and which record covers which blocker.
    pub judgement: Judgement,
    /// Allow rules that expired or matched nothing, as notes.
    pub allow_notes: Vec<String>,
}

/// The policy and signer list that judge, with where each came from.
pub struct Trusted {
    /// Where the policy came from (`.tollgate.toml@<sha>`, a path, `builtin:recommended`).
    pub policy_source: String,
    /// The policy that judges.
    pub policy: Policy,
    /// Where the signer list came from.
    pub signers_source: String,
    /// The signer list that judges.
    pub signers: AllowedSigners,
    /// What the caller should tell: a missing signer list, lines that
    /// grant nothing.
    pub warnings: Vec<String>,
}

impl Trusted {
    /// Explicit files where given, else `.tollgate.toml` and
    /// `.tollgate/allowed_signers` in `base`'s tree (no policy file: the
    /// builtin `recommended` pack; no signer list: no record is valid).
    /// A policy with problems is an error holding its
    /// [`crate::policy::Diagnostics`]. Allow rules are judged on `today`.
    pub fn load(
        repo: &Repo,
        base: Option<Oid>,
        policy: Option<Source>,
        signers: Option<&Path>,
        today: NaiveDate,
    ) -> anyhow::Result<Trusted> {
        let load_policy = |source: Option<Source>| -> anyhow::Result<Policy> {
            Ok(crate::policy::load(source, today)?)
        };
        let base_name = base.map(|b| short_sha(&b.to_string()).to_string());
        let mut warnings = Vec::new();
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
            Some(src) => (src.name.clone(), load_policy(Some(src))?),
            None => match from_base(".tollgate.toml")? {
                Some((name, text)) => (name.clone(), load_policy(Some(Source::new(name, text)))?),
                None => ("builtin:recommended".into(), load_policy(None)?),
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
                        warnings.push(format!(
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
        warnings.extend(signers.skipped().iter().map(|s| s.to_string()));
        Ok(Trusted {
            policy_source,
            policy,
            signers_source,
            signers,
            warnings,
        })
    }
}

/// Re-runs every constraint over `commits` (and the ref update, if any)
/// and judges each blocker against the records in `notes`, of which those
/// on the judged commits are reported; token ids are counted over all.
/// Allow rules apply on `today`. `progress` hears of each commit scanned.
pub fn judge_commits(
    progress: &mut dyn FnMut(usize, usize),
    repo: &Repo,
    trusted: &Trusted,
    commits: &[Oid],
    update: Option<&RefUpdate>,
    notes: &[(String, String)],
    today: NaiveDate,
) -> anyhow::Result<RangeJudgement> {
    let scanned = scan_range(progress, repo, trusted, commits, update, today)?;
    judge_scanned(repo, trusted, commits, scanned, notes, None)
}

/// What the judgement of a range reads from the records before it knows
/// the blockers: every record line on the range's commits, read and its
/// signature checked, and how often each token id is used. `verify`
/// computes it on the thread that read the notes, while the range is
/// scanned.
pub struct ReadAhead {
    lines: verify::LineReads,
    uses: HashMap<String, usize>,
}

/// [`ReadAhead`] for `commits`, from the records in `notes`.
pub fn read_ahead(
    repo: &Repo,
    trusted: &Trusted,
    commits: &[Oid],
    notes: &[(String, String)],
) -> ReadAhead {
    let on: HashSet<String> = commits.iter().map(|c| c.to_string()).collect();
    let on_range = notes_on(notes, &on);
    let shapes = |c: &str| repo.shape_of(c);
    ReadAhead {
        lines: verify::read_lines(&on_range, &trusted.signers, &shapes, &|c| {
            commit_time(repo, c)
        }),
        uses: verify::token_uses(notes, &shapes),
    }
}

/// The notes of `notes` on the commits of `on`.
fn notes_on(notes: &[(String, String)], on: &HashSet<String>) -> Vec<(String, String)> {
    notes
        .iter()
        .filter(|(c, _)| on.contains(c))
        .cloned()
        .collect()
}

/// The committer time of `commit` (full hex), which judges a record's key.
fn commit_time(repo: &Repo, commit: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    Oid::from_str(commit).ok().and_then(|o| repo.commit_time(o))
}

/// A range's findings before the records judge them ([`scan_range`]).
pub struct ScannedRange<'t> {
    engine: Engine<'t>,
    shown: Vec<Shown>,
    allow_notes: Vec<String>,
    blockers: Vec<Blocker>,
}

/// The half of [`judge_commits`] that needs no records: every constraint
/// re-run over `commits` and the update, the allow rules and the baseline
/// applied, the blockers picked out. `verify` reads the notes meanwhile.
pub fn scan_range<'t>(
    progress: &mut dyn FnMut(usize, usize),
    repo: &Repo,
    trusted: &'t Trusted,
    commits: &[Oid],
    update: Option<&RefUpdate>,
    today: NaiveDate,
) -> anyhow::Result<ScannedRange<'t>> {
    let policy = &trusted.policy;
    let engine = Engine::new(policy);
    let mut out = Findings::default();
    crate::gate::scan_commits_with(repo, &engine, commits, &mut out, progress)?;
    if let Some(u) = update {
        engine.check_ref_update(u, &mut out);
    }
    let mut shown = number(out.into_vec());
    crate::report::add_commit_meta(&mut shown, |c| repo.commit_meta(c));
    let branches: Vec<String> = update.map(|u| u.remote_ref.clone()).into_iter().collect();
    let used = apply_allows(policy, &mut shown, &branches, today);
    apply_baseline(policy, &mut shown);
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
    Ok(ScannedRange {
        engine,
        shown,
        allow_notes,
        blockers,
    })
}

/// The other half of [`judge_commits`]: each blocker of `scanned` judged
/// against the records in `notes`.
pub fn judge_scanned(
    repo: &Repo,
    trusted: &Trusted,
    commits: &[Oid],
    scanned: ScannedRange<'_>,
    notes: &[(String, String)],
    ahead: Option<ReadAhead>,
) -> anyhow::Result<RangeJudgement> {
    let (policy, signers) = (&trusted.policy, &trusted.signers);
    let ScannedRange {
        engine,
        shown,
        allow_notes,
        blockers,
    } = scanned;
    let mut judged: HashSet<String> = commits.iter().map(|c| c.to_string()).collect();
    judged.extend(blockers.iter().map(|b| b.commit.clone()));
    let on_judged = notes_on(notes, &judged);
    let shapes = |c: &str| repo.shape_of(c);
    let commit_time = |c: &str| commit_time(repo, c);
    let ReadAhead { lines, uses } = match ahead {
        Some(a) => a,
        None => ReadAhead {
            lines: verify::LineReads::new(),
            uses: verify::token_uses(notes, &shapes),
        },
    };
    // A line read ahead was read exactly as here (same signers, same
    // repository); a blocker's commit outside the range is read now.
    let read = |c: &str, l: &str| match lines.get(&(c.to_string(), l.to_string())) {
        Some(r) => r.clone(),
        None => verify::read_line_at(c, l, signers, &shapes, commit_time(c)),
    };
    let mut judgement = verify::judge_read(policy, signers, blockers, &on_judged, &uses, &read);
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
        // Only the constraints this range overrides are counted, so only
        // their lines are read (each holds `"constraint":<its id>`
        // verbatim: a record line is canonical JSON), not every
        // signature in the trail.
        let keys: Vec<String> = judgement
            .covered_by
            .iter()
            .flatten()
            .filter_map(|r| judgement.records[*r].record.as_ref())
            .map(|r| {
                format!(
                    "\"constraint\":{}",
                    serde_json::Value::from(r.constraint.as_str())
                )
            })
            .collect();
        let theirs: Vec<(String, String)> = notes
            .iter()
            .filter_map(|(c, text)| {
                let kept: Vec<&str> = text
                    .lines()
                    .filter(|l| keys.iter().any(|k| l.contains(k.as_str())))
                    .collect();
                (!kept.is_empty()).then(|| (c.clone(), kept.join("\n")))
            })
            .collect();
        let weekly = verify::weekly_counts(&verify::valid_records(&theirs, signers, &shapes));
        judgement.check_budgets(policy, &weekly);
    }
    Ok(RangeJudgement {
        shown,
        judgement,
        allow_notes,
    })
}

/// Resolves what is judged from the names given (`verify`'s `--base`,
/// `--head`, `--ref`, `--old`, `--new`, `--anchor`); the anchor itself is
/// picked by [`pick_anchor`].
pub fn plan(repo: &Repo, args: &PlanRequest<'_>) -> anyhow::Result<Plan> {
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
    let (old, new) = match (args.old, args.new) {
        (Some(o), Some(n)) => (old_sha(o)?, sha(n)?),
        _ => (None, None),
    };
    let old_present = old.filter(|o| repo.has_commit(*o));
    let explicit_update = args.old.is_some();
    let base = match args.base {
        Some(b) => Some(repo.resolve_commit(b)?),
        None if explicit_update => old_present,
        None if args.anchor.is_some() => None,
        None => anyhow::bail!(
            "`--base <rev>` is required (or `--old`, `--new` and `--ref`, or `--anchor`)"
        ),
    };
    let head = match args.head {
        Some(h) => Some(repo.resolve_commit(h)?),
        None if explicit_update => new,
        None => Some(repo.resolve_commit("HEAD")?),
    };
    let update = args.ref_name.map(|r| {
        let remote_ref = if r.starts_with("refs/") {
            r.to_string()
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

/// The audit notes a push is judged with: the server's, plus those the
/// push brings on `refs/notes/tollgate`, and why a notes update is refused
/// (deleting the ref, rewinding it, dropping a record line).
#[derive(Debug, Default)]
pub struct PushedNotes {
    /// `(commit, note text)` with the lines of both merged.
    pub notes: Vec<(String, String)>,
    /// One message per refused notes update.
    pub refusals: Vec<String>,
}

/// Merges the server's records with those `lines` bring, and judges the
/// notes ref's own update: it only ever moves forward and only gains
/// record lines (`audit::trail`).
pub fn pushed_notes(repo: &Repo, lines: &[ReceiveLine]) -> anyhow::Result<PushedNotes> {
    let mut merged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |notes: Vec<(String, String)>| {
        for (commit, text) in notes {
            let set = merged.entry(commit).or_default();
            set.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
        }
    };
    add(repo.all_notes(NOTES_REF)?);
    let mut refusals = Vec::new();
    for l in lines.iter().filter(|l| l.ref_name == NOTES_REF) {
        match (l.old, l.new) {
            (_, None) => {
                refusals.push(format!(
                    "refused: deleting `{NOTES_REF}` would remove audit records"
                ));
            }
            (Some(old), Some(new)) if !repo.is_fast_forward(old, new) => {
                refusals.push(format!(
                    "refused: `{NOTES_REF}` may only move forward (records are never rewritten); fetch and merge the server's records first (`tollgate notes push` does)"
                ));
            }
            (_, Some(new)) => {
                // Append-only: every old line kept, only record lines added.
                for problem in trail::check_update(repo, l.old, new)? {
                    refusals.push(format!("refused: this `{NOTES_REF}` update {problem}"));
                }
                add(repo.notes_in_commit(new)?)
            }
        }
    }
    let notes: Vec<(String, String)> = merged
        .into_iter()
        .map(|(c, lines)| {
            let mut text = lines.into_iter().collect::<Vec<_>>().join("\n");
            text.push('\n');
            (c, text)
        })
        .collect();
    Ok(PushedNotes { notes, refusals })
}

/// Judges one pushed ref update other than the notes ref (branches, tags,
/// other notes refs, custom refs), like a branch: the commits it brings
/// are scanned, and the update itself is checked.
pub fn judge_ref(
    repo: &Repo,
    trusted: &Trusted,
    l: &ReceiveLine,
    notes: &[(String, String)],
    today: NaiveDate,
) -> anyhow::Result<(RefUpdate, RangeJudgement)> {
    let commits = match l.new {
        Some(new) if l.ref_name.starts_with("refs/notes/") => repo.commits_beyond_all_refs(new)?,
        Some(new) => repo.new_commits(new)?,
        None => Vec::new(),
    };
    let update = RefUpdate {
        remote_ref: l.ref_name.clone(),
        old: l.old.map(|o| o.to_string()),
        new: l.new.map(|n| n.to_string()),
        forced: match (l.old, l.new) {
            (Some(o), Some(n)) => !repo.is_fast_forward(o, n),
            _ => false,
        },
    };
    // The server shows no progress line: its stderr goes to the pusher.
    let judged = judge_commits(
        &mut |_, _| {},
        repo,
        trusted,
        &commits,
        Some(&update),
        notes,
        today,
    )?;
    Ok((update, judged))
}

/// The anchor of a push judged on the server: the default branch's tip
/// before the push.
pub fn server_anchor(tip: Option<Oid>) -> Option<Anchor> {
    tip.map(|commit| Anchor {
        commit,
        how: "the server's default branch (`HEAD`) before this push".into(),
    })
}
