//! Judging blockers against audit records: the logic of `tollgate verify`,
//! also used by the pre-push hook to honour records made at commit time.
//!
//! A record is *valid* when it parses strictly, names the commit it is
//! attached to, carries a `tollgate` signature by a key the signer list
//! allows for its requester at the moment of consumption, was consumed
//! before its token expired within the lifetime ceilings, and its token id
//! appears in no other record. A valid record *covers* a blocker on the same
//! commit with the same constraint and fingerprint whose constraint may be
//! overridden that way. Everything here is pure: notes and findings in,
//! verdicts out.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::allowed_signers::AllowedSigners;
use super::approval;
use super::grant::Grant;
use super::record::{parse_line, AuditRecord};
use crate::check::Finding;
use crate::policy::{OverrideMode, Policy, Tier, MAX_TTL};
use crate::text::short_sha as short;

/// The tree and first parent of a commit, by full hex id; `None` when the
/// commit is unknown. Lets a commit-time record be matched to its commit
/// without the judge reading the repository itself.
pub type Shapes<'a> = &'a dyn Fn(&str) -> Option<(String, Option<String>)>;

/// A blocker and the commit its record must be attached to.
#[derive(Debug, Clone)]
pub struct Blocker {
    /// The finding.
    pub finding: Finding,
    /// Full sha of the commit the blocker concerns.
    pub commit: String,
}

/// One line of a note, as judged.
#[derive(Debug, Clone)]
pub struct RecordReport {
    /// The annotated commit.
    pub commit: String,
    /// 1-based line within the note.
    pub line: usize,
    /// The record, when the line parsed.
    pub record: Option<AuditRecord>,
    /// The verdict.
    pub status: RecordStatus,
}

/// What a record amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// Valid, and covers the blocker with this index.
    Covers(usize),
    /// Valid, but no blocker judged here matches it (a record made under
    /// another policy or for a ref update judged elsewhere).
    Unattached,
    /// Not a valid record; the reason.
    Invalid(String),
}

/// The verdict on a set of blockers and records.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// The blockers, in order.
    pub blockers: Vec<Blocker>,
    /// For each blocker, the index of the record that covers it.
    pub covered_by: Vec<Option<usize>>,
    /// Every record line seen on the blockers' commits (and any others
    /// passed in).
    pub records: Vec<RecordReport>,
    /// Override budgets (`max-overrides-per-week`) this range exceeds.
    pub over_budget: Vec<String>,
}

impl Judgement {
    /// Blockers without a covering record.
    pub fn uncovered(&self) -> usize {
        self.covered_by.iter().filter(|c| c.is_none()).count()
    }

    /// Records that are not valid.
    pub fn invalid(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.status, RecordStatus::Invalid(_)))
            .count()
    }

    /// Whether everything is covered, every record is valid and no
    /// override budget is exceeded.
    pub fn passed(&self) -> bool {
        self.uncovered() == 0 && self.invalid() == 0 && self.over_budget.is_empty()
    }

    /// Checks the budgets of the constraints this range overrides: the
    /// valid records of each in the ISO week a covering record was consumed
    /// (`weekly`, counted over the whole notes ref) against its
    /// `max-overrides-per-week`.
    pub fn check_budgets(&mut self, policy: &Policy, weekly: &HashMap<(String, String), usize>) {
        let mut seen = std::collections::HashSet::new();
        for r in self.covered_by.iter().flatten() {
            let Some(rec) = &self.records[*r].record else {
                continue;
            };
            let Some(max) = policy
                .constraint(&rec.constraint)
                .and_then(|c| c.max_overrides_per_week)
            else {
                continue;
            };
            let week = iso_week(rec.consumed);
            let key = (rec.constraint.clone(), week.clone());
            let n = weekly.get(&key).copied().unwrap_or(0);
            if n > max as usize && seen.insert(key) {
                self.over_budget.push(format!(
                    "`{}` was overridden {n} times in {week}; its budget is {max} a week (`max-overrides-per-week`)",
                    rec.constraint
                ));
            }
        }
    }
}

/// Judges `blockers` against the records in `notes` (`(commit, note text)`).
/// `token_uses` counts every token id across all records known (the whole
/// notes ref), so a token id that appears twice anywhere is refused.
pub fn judge(
    policy: &Policy,
    signers: &AllowedSigners,
    blockers: Vec<Blocker>,
    notes: &[(String, String)],
    token_uses: &HashMap<String, usize>,
    shapes: Shapes<'_>,
) -> Judgement {
    judge_at(
        policy,
        signers,
        blockers,
        notes,
        token_uses,
        shapes,
        &|_| None,
    )
}

/// [`judge`], with each signing key's validity judged at the later of the
/// record's `consumed` and `commit_time` of the commit it is attached to
/// (the committer time, which the signer cannot move back once the commit
/// is pushed), so a record dated before its key expired cannot be attached
/// to a commit made after.
pub fn judge_at(
    policy: &Policy,
    signers: &AllowedSigners,
    blockers: Vec<Blocker>,
    notes: &[(String, String)],
    token_uses: &HashMap<String, usize>,
    shapes: Shapes<'_>,
    commit_time: &dyn Fn(&str) -> Option<DateTime<Utc>>,
) -> Judgement {
    let read =
        |commit: &str, line: &str| read_line_at(commit, line, signers, shapes, commit_time(commit));
    judge_read(policy, signers, blockers, notes, token_uses, &read)
}

/// A note line as [`read_line_at`] reads it: the record, and why it does
/// not count.
pub type LineRead = (Option<AuditRecord>, Option<String>);

/// Note lines read ahead of the judgement, by `(commit, line)`.
pub type LineReads = HashMap<(String, String), LineRead>;

/// Reads every line of `notes` with [`read_line_at`] (what
/// [`judge_at`] would), so that the signatures can be checked before the
/// blockers are known.
pub fn read_lines(
    notes: &[(String, String)],
    signers: &AllowedSigners,
    shapes: Shapes<'_>,
    commit_time: &dyn Fn(&str) -> Option<DateTime<Utc>>,
) -> LineReads {
    let mut out = LineReads::new();
    for (commit, text) in notes {
        let at = commit_time(commit);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let read = read_line_at(commit, line, signers, shapes, at);
            out.insert((commit.clone(), line.to_string()), read);
        }
    }
    out
}

/// [`judge_at`], with each note line read by `read` (`(commit, line)`).
pub fn judge_read(
    policy: &Policy,
    signers: &AllowedSigners,
    blockers: Vec<Blocker>,
    notes: &[(String, String)],
    token_uses: &HashMap<String, usize>,
    read: &dyn Fn(&str, &str) -> LineRead,
) -> Judgement {
    let mut covered_by = vec![None; blockers.len()];
    let mut records = Vec::new();
    for (commit, text) in notes {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut report = RecordReport {
                commit: commit.clone(),
                line: i + 1,
                record: None,
                status: RecordStatus::Unattached,
            };
            let (record, why) = read(commit, line);
            let why = why.or_else(|| {
                record
                    .as_ref()
                    .and_then(|r| lifetime_and_use(r, token_uses).err())
            });
            report.status = match (&record, why) {
                (_, Some(why)) => RecordStatus::Invalid(why),
                (Some(r), None) => attach(policy, signers, r, commit, &blockers),
                (None, None) => RecordStatus::Invalid("unreadable record".into()),
            };
            if let RecordStatus::Covers(b) = report.status {
                if covered_by[b].is_none() {
                    covered_by[b] = Some(records.len());
                }
            }
            report.record = record;
            records.push(report);
        }
    }
    Judgement {
        blockers,
        covered_by,
        records,
        over_budget: Vec::new(),
    }
}

/// `2026-W47`: the ISO week of `t`.
pub fn iso_week(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// One note line as a reader sees it: the record when it parses, and why
/// it does not count (unparseable, attached to another commit than it names,
/// or a signature `signers` does not accept at its consumption).
pub fn read_line(
    commit: &str,
    line: &str,
    signers: &AllowedSigners,
    shapes: Shapes<'_>,
) -> (Option<AuditRecord>, Option<String>) {
    read_line_at(commit, line, signers, shapes, None)
}

/// [`read_line`], judging the key at the later of the record's `consumed`
/// and `commit_time` when given.
pub fn read_line_at(
    commit: &str,
    line: &str,
    signers: &AllowedSigners,
    shapes: Shapes<'_>,
    commit_time: Option<DateTime<Utc>>,
) -> (Option<AuditRecord>, Option<String>) {
    match parse_line(line) {
        Err(e) => (None, Some(e.to_string())),
        Ok(r) if !belongs(&r, commit, shapes) => {
            let why = format!(
                "the record names {} but is attached to commit {}: records are never copied",
                if r.commit.is_empty() {
                    format!("the commit of {}", r.target())
                } else {
                    format!("commit {}", r.target())
                },
                short(commit)
            );
            (Some(r), Some(why))
        }
        Ok(r) => {
            let at = commit_time.map_or(r.consumed, |t| t.max(r.consumed));
            let why = r.verify(signers, at).err().map(|e| e.to_string());
            (Some(r), why)
        }
    }
}

/// Whether `r` may sit on `commit`.
fn belongs(r: &AuditRecord, commit: &str, shapes: Shapes<'_>) -> bool {
    if !r.commit.is_empty() {
        return r.commit == commit;
    }
    let shape = shapes(commit);
    r.belongs_on(
        commit,
        shape.as_ref().map(|(t, p)| (t.as_str(), p.as_deref())),
    )
}

/// Every valid record line in `notes` (on the commit it names, with a
/// signature `signers` accepts), parsed. The lines are parsed and matched
/// to their commits here; their signatures, nearly all of the cost, are
/// checked on every core (100,000 records are an `audit report`).
pub fn valid_records(
    notes: &[(String, String)],
    signers: &AllowedSigners,
    shapes: Shapes<'_>,
) -> Vec<AuditRecord> {
    let mut placed = Vec::new();
    for (commit, text) in notes {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match parse_line(line) {
                Ok(r) if belongs(&r, commit, shapes) => placed.push(r),
                _ => {}
            }
        }
    }
    let signed = signatures_hold(&placed, signers);
    placed
        .into_iter()
        .zip(signed)
        .filter_map(|(r, ok)| ok.then_some(r))
        .collect()
}

/// Whether each record's signature is one `signers` accepts at its
/// consumption (what [`read_line`] checks last), on up to
/// `available_parallelism` threads.
fn signatures_hold(records: &[AuditRecord], signers: &AllowedSigners) -> Vec<bool> {
    let check = |r: &AuditRecord| r.verify(signers, r.consumed).is_ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || records.len() < 64 {
        return records.iter().map(check).collect();
    }
    let size = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = records
            .chunks(size)
            .map(|part| scope.spawn(move || part.iter().map(check).collect::<Vec<bool>>()))
            .collect();
        // A thread that died counts its records as not valid: fewer
        // records, never a forged one.
        let mut out = Vec::with_capacity(records.len());
        for (part, handle) in records.chunks(size).zip(parts) {
            match handle.join() {
                Ok(v) => out.extend(v),
                Err(_) => out.extend(std::iter::repeat_n(false, part.len())),
            }
        }
        out
    })
}

/// Valid records per `(constraint, ISO week of consumption)`.
pub fn weekly_counts(records: &[AuditRecord]) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for r in records {
        *counts
            .entry((r.constraint.clone(), iso_week(r.consumed)))
            .or_insert(0) += 1;
    }
    counts
}

/// Every constraint and ISO week in `weekly` ([`weekly_counts`]) with more
/// overrides than the constraint's `max-overrides-per-week`, as
/// `` `id`: n in week (budget max) ``, sorted.
pub fn over_budget(policy: &Policy, weekly: &HashMap<(String, String), usize>) -> Vec<String> {
    let mut over: Vec<String> = Vec::new();
    for ((constraint, week), n) in weekly {
        if let Some(max) = policy
            .constraint(constraint)
            .and_then(|c| c.max_overrides_per_week)
        {
            if *n > max as usize {
                over.push(format!("`{constraint}`: {n} in {week} (budget {max})"));
            }
        }
    }
    over.sort();
    over
}

/// Counts token ids (and two-key approval digests) over the record lines
/// in `notes` that sit on the commit they name, for every id that more
/// than one line carries: an id left out is used at most once, which is
/// all the single-use check asks. Unparseable lines and copies on another
/// commit are not counted (they are invalid for their own reasons, and a
/// copy must not discredit the original).
///
/// Only the lines that could be a reuse are parsed. A line that parses as
/// a record is its canonical JSON (`parse_line` refuses any other form),
/// so it holds `"token_id":"<id>"` verbatim: a token id found in one line
/// only is used at most once, and a trail of distinct tokens costs a
/// substring search per line, not a parse and a re-serialisation.
/// Two-key lines are always parsed (their approval digest is not in the
/// text).
pub fn token_uses(notes: &[(String, String)], shapes: Shapes<'_>) -> HashMap<String, usize> {
    const KEY: &str = "\"token_id\":\"";
    let mut candidates: HashMap<&str, Vec<(&String, &str)>> = HashMap::new();
    let mut uses: HashMap<String, usize> = HashMap::new();
    for (commit, text) in notes {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // Every occurrence, so that text before the real key cannot
            // hide it.
            let mut ids = Vec::new();
            let mut rest = line;
            while let Some(at) = rest.find(KEY) {
                rest = &rest[at + KEY.len()..];
                ids.push(&rest[..rest.find('"').unwrap_or(rest.len())]);
            }
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                candidates.entry(id).or_default().push((commit, line));
            }
            if line.contains("\"two_key\"") {
                if let Ok(r) = parse_line(line) {
                    if let Some(p) = r.two_key.as_ref().filter(|_| belongs(&r, commit, shapes)) {
                        // A two-key approval is single-use too, whatever
                        // token it was turned into.
                        *uses.entry(approval::digest(&p.approval)).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    for (id, lines) in candidates {
        if lines.len() < 2 {
            continue;
        }
        let n = lines
            .iter()
            .filter(|(commit, line)| {
                parse_line(line).is_ok_and(|r| r.token_id == id && belongs(&r, commit, shapes))
            })
            .count();
        if n > 0 {
            *uses.entry(id.to_string()).or_insert(0) += n;
        }
    }
    uses.retain(|_, n| *n > 1);
    uses
}

/// The checks of a signed record that do not depend on the blockers: its
/// token's lifetime, and a token id used once.
fn lifetime_and_use(
    record: &AuditRecord,
    token_uses: &HashMap<String, usize>,
) -> Result<(), String> {
    if record.consumed > record.expires {
        return Err(format!(
            "consumed at {} after the token expired at {}",
            crate::clock::show(&record.consumed),
            crate::clock::show(&record.expires)
        ));
    }
    if record.consumed < record.minted {
        return Err("consumed before it was minted".into());
    }
    if record.expires - record.minted > to_chrono(MAX_TTL) {
        return Err("the token lived longer than the 24h ceiling".into());
    }
    if token_uses.get(&record.token_id).copied().unwrap_or(0) > 1 {
        return Err(format!(
            "token {} appears in more than one record: a token is single-use",
            crate::overrides::token_id(&record.token_id)
        ));
    }
    if let Some(p) = &record.two_key {
        if token_uses
            .get(&approval::digest(&p.approval))
            .copied()
            .unwrap_or(0)
            > 1
        {
            return Err(
                "its two-key approval appears in more than one record: an approval is single-use"
                    .into(),
            );
        }
    }
    Ok(())
}

/// What a record's signed documents prove about who approved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proven {
    /// The tier the signed data shows.
    pub tier: Tier,
    /// Whether only the requester's own key vouches for it (`challenge`).
    pub self_attested: bool,
}

/// Checks a record's approval documents against the signer list and the
/// record itself, returning the tier they prove: a version-1 `challenge`
/// record proves `challenge`; a grant proves its tier when its signature
/// (and for `presence`, the security key's flags) verify and it binds this
/// record's token, blocker, lifetime and people; a two-key pair proves
/// `two-key` (checked with the constraint in [`attach`]).
pub fn proven_tier(record: &AuditRecord, signers: &AllowedSigners) -> Result<Proven, String> {
    match (record.approval, &record.grant) {
        (Tier::TwoKey, _) => Ok(Proven {
            tier: Tier::TwoKey,
            self_attested: false,
        }),
        (Tier::Challenge, None) if record.v == 1 => Ok(Proven {
            tier: Tier::Challenge,
            self_attested: true,
        }),
        (_, None) => Err("the record carries no signed grant".into()),
        (claimed, Some(text)) => {
            let g = Grant::decode(text).map_err(|e| format!("its grant: {e}"))?;
            let binds = g.token_sha256 == record.token_id
                && g.fingerprint == record.fingerprint
                && g.constraint == record.constraint
                && g.kind == record.kind
                && g.minted == record.minted
                && g.expires == record.expires
                && g.requester == record.requester
                && g.approver == record.approver
                && g.tier == claimed;
            if !binds {
                return Err(
                    "its grant is for another token, blocker, lifetime or person than the record"
                        .into(),
                );
            }
            g.verify(signers)
                .map_err(|e| format!("its grant's signature: {e}"))?;
            Ok(Proven {
                tier: g.tier,
                self_attested: g.tier == Tier::Challenge,
            })
        }
    }
}

/// Finds the blocker a valid record covers, and checks that its constraint
/// may be overridden the way the record says.
fn attach(
    policy: &Policy,
    signers: &AllowedSigners,
    record: &AuditRecord,
    commit: &str,
    blockers: &[Blocker],
) -> RecordStatus {
    let Some(b) = blockers.iter().position(|b| {
        b.commit == commit
            && b.finding.fingerprint == record.fingerprint
            && b.finding.constraint == record.constraint
    }) else {
        return RecordStatus::Unattached;
    };
    let Some(c) = policy
        .constraints
        .iter()
        .find(|c| c.id == record.constraint)
    else {
        return RecordStatus::Unattached;
    };
    if c.override_mode == OverrideMode::Never {
        return RecordStatus::Invalid(format!(
            "`{}` has `override = \"never\"`: no record passes it",
            c.id
        ));
    }
    let required = policy.tier_for(c);
    let proven = match proven_tier(record, signers) {
        Ok(p) => p,
        Err(why) => return RecordStatus::Invalid(why),
    };
    if proven.tier < required {
        return RecordStatus::Invalid(format!(
            "`{}` needs approval tier `{}`; this record's approval is `{}`{}",
            c.id,
            required.as_str(),
            proven.tier.as_str(),
            if proven.self_attested {
                " (self-attested)"
            } else {
                ""
            }
        ));
    }
    if proven.tier == Tier::TwoKey {
        let Some(proof) = &record.two_key else {
            return RecordStatus::Invalid(
                "a two-key record without its request and approval".into(),
            );
        };
        let approvers = policy.approvers_for(c);
        match approval::check_pair(&proof.request, &proof.approval, signers, approvers) {
            Err(e) => return RecordStatus::Invalid(format!("two-key approval: {e}")),
            Ok((req, app)) => {
                if app.approver != record.approver
                    || req.requester != record.requester
                    || req.fingerprint != record.fingerprint
                    || req.expires != record.expires
                {
                    return RecordStatus::Invalid(
                        "the record's request and approval are for another person or blocker"
                            .into(),
                    );
                }
                if policy.approver_presence {
                    if let Err(e) = approval::approval_presence(&app, signers) {
                        return RecordStatus::Invalid(format!("two-key approval: {e}"));
                    }
                }
            }
        }
    }
    let ceiling = c.max_ttl.or(policy.max_ttl);
    if let Some(max) = ceiling {
        if record.expires - record.minted > to_chrono(max) {
            return RecordStatus::Invalid(format!(
                "the token lived longer than `{}`'s ceiling of {}",
                c.id,
                crate::policy::format_duration(max)
            ));
        }
    }
    RecordStatus::Covers(b)
}

fn to_chrono(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::*;
    use crate::audit::record::tests::record;
    use crate::audit::SigningKey;
    use crate::check::Location;
    use crate::policy::{OverrideMode, Severity, Source};

    /// A signer list with one fresh key for alice, and a record signed by it.
    fn signed(dir: &Path, edit: impl FnOnce(&mut AuditRecord)) -> (AllowedSigners, AuditRecord) {
        let key = dir.join("key");
        if !key.exists() {
            let out = Command::new("ssh-keygen")
                .env("LC_ALL", "C")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f"])
                .arg(&key)
                .output()
                .unwrap();
            assert!(out.status.success());
        }
        let signing = SigningKey::File(key.clone());
        let public = std::fs::read_to_string(dir.join("key.pub")).unwrap();
        let signers =
            AllowedSigners::parse(&format!("alice@example.com {public}"), Path::new("s")).unwrap();
        let mut r = record();
        r.requester.key_fingerprint = signing.key_fingerprint().unwrap();
        r.approver = r.requester.clone();
        edit(&mut r);
        r.sign(&signing).unwrap();
        (signers, r)
    }

    #[test]
    fn valid_records_checks_many_signatures_on_several_threads_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = Vec::new();
        let mut signers = None;
        for i in 0..80 {
            let (s, mut r) = signed(dir.path(), |r| r.reason = format!("reason {i}"));
            if i == 9 || i == 70 {
                r.reason = format!("edited {i}"); // after signing: invalid
            }
            lines.push(r.to_line().unwrap());
            signers = Some(s);
        }
        let notes = [("c".repeat(40), lines.join("\n") + "\n")];
        let valid = valid_records(&notes, &signers.unwrap(), &|_| None);
        let reasons: Vec<String> = valid.iter().map(|r| r.reason.clone()).collect();
        let expected: Vec<String> = (0..80)
            .filter(|i| *i != 9 && *i != 70)
            .map(|i| format!("reason {i}"))
            .collect();
        assert_eq!(reasons, expected);
    }

    fn policy(mode: &str, extra: &str) -> Policy {
        let text = format!(
            "[[force-push]]\nid = \"no-force-main\"\nbranches = [\"main\"]\noverride = \"{mode}\"\n{extra}"
        );
        crate::policy::load(
            Some(Source::new("p.toml", text)),
            crate::clock::now().date_naive(),
        )
        .unwrap()
    }

    fn blocker(r: &AuditRecord, mode: OverrideMode) -> Blocker {
        Blocker {
            finding: Finding {
                constraint: r.constraint.clone(),
                kind: r.kind.clone(),
                severity: Severity::Block,
                override_mode: mode,
                location: Location::default(),
                evidence: String::new(),
                fingerprint: r.fingerprint.clone(),
                scope: Vec::new(),
            },
            commit: r.commit.clone(),
        }
    }

    fn run(policy: &Policy, signers: &AllowedSigners, r: &AuditRecord) -> Judgement {
        let notes = vec![(r.commit.clone(), r.to_line().unwrap())];
        let uses = token_uses(&notes, &no_shapes);
        judge(
            policy,
            signers,
            vec![blocker(r, OverrideMode::Token)],
            &notes,
            &uses,
            &no_shapes,
        )
    }

    fn no_shapes(_: &str) -> Option<(String, Option<String>)> {
        None
    }

    #[test]
    fn a_valid_record_covers_its_blocker_only_as_the_policy_allows() {
        let dir = tempfile::TempDir::new().unwrap();
        let (signers, r) = signed(dir.path(), |_| {});
        let j = run(&policy("token", ""), &signers, &r);
        assert!(j.passed(), "{:?}", j.records);
        assert_eq!(j.covered_by, vec![Some(0)]);

        let j = run(&policy("never", ""), &signers, &r);
        assert!(!j.passed());
        assert!(
            matches!(&j.records[0].status, RecordStatus::Invalid(w) if w.contains("no record passes it"))
        );

        let j = run(
            &policy("two-key", "approvers = [\"bob@example.com\"]\n"),
            &signers,
            &r,
        );
        assert!(
            matches!(&j.records[0].status, RecordStatus::Invalid(w) if w.contains("needs approval tier `two-key`; this record's approval is `challenge` (self-attested)"))
        );

        // The record's token lived 1h; a 30m ceiling refuses it.
        let j = run(&policy("token", "max-ttl = \"30m\"\n"), &signers, &r);
        assert!(
            matches!(&j.records[0].status, RecordStatus::Invalid(w) if w.contains("ceiling of 30m"))
        );
    }

    #[test]
    fn a_token_on_two_records_is_counted_and_both_are_invalid() {
        let dir = tempfile::TempDir::new().unwrap();
        let (signers, r) = signed(dir.path(), |_| {});
        let (_, r2) = signed(dir.path(), |r| r.reason = "another use".into());
        assert_eq!(r.token_id, r2.token_id);
        let (a, b) = (r.to_line().unwrap(), r2.to_line().unwrap());
        // Unrelated lines, one quoting the key in its reason, change nothing.
        let noise = "{\"reason\":\"\\\"token_id\\\":\\\"x\"}";
        let notes = vec![(r.commit.clone(), format!("{a}\n{noise}\n{b}\n"))];
        let uses = token_uses(&notes, &no_shapes);
        assert_eq!(uses.get(&r.token_id), Some(&2));
        let j = run(&policy("token", ""), &signers, &r);
        assert!(j.passed(), "alone, the record is valid");
        let j = judge(
            &policy("token", ""),
            &signers,
            vec![blocker(&r, OverrideMode::Token)],
            &notes,
            &uses,
            &no_shapes,
        );
        assert!(
            matches!(&j.records[0].status, RecordStatus::Invalid(w) if w.contains("more than one record")),
            "{:?}",
            j.records[0].status
        );
    }

    #[test]
    fn a_record_on_another_commit_is_invalid_and_does_not_discredit_the_original() {
        let dir = tempfile::TempDir::new().unwrap();
        let (signers, r) = signed(dir.path(), |_| {});
        let line = r.to_line().unwrap();
        let other = "e".repeat(40);
        let notes = vec![(r.commit.clone(), line.clone()), (other.clone(), line)];
        let uses = token_uses(&notes, &no_shapes);
        // Used once: left out of the counts (only reuses are counted).
        assert_eq!(uses.get(&r.token_id), None);
        let j = judge(
            &policy("token", ""),
            &signers,
            vec![blocker(&r, OverrideMode::Token)],
            &notes,
            &uses,
            &no_shapes,
        );
        assert_eq!(j.covered_by, vec![Some(0)]);
        assert!(
            matches!(&j.records[1].status, RecordStatus::Invalid(w) if w.contains("never copied"))
        );
        assert_eq!(j.invalid(), 1);
    }

    #[test]
    fn a_record_matching_no_blocker_is_unattached_not_invalid() {
        let dir = tempfile::TempDir::new().unwrap();
        let (signers, r) = signed(dir.path(), |_| {});
        let notes = vec![(r.commit.clone(), r.to_line().unwrap())];
        let uses = token_uses(&notes, &no_shapes);
        let j = judge(
            &policy("token", ""),
            &signers,
            Vec::new(),
            &notes,
            &uses,
            &no_shapes,
        );
        assert_eq!(j.records[0].status, RecordStatus::Unattached);
        assert!(j.passed());
    }
}
