//! Coverage and consumption for one commit or push: which findings an
//! allow rule, the baseline, a signed record (for a push) or a presented
//! token passes, and spending the covering tokens so that each leaves its
//! signed audit record.
//!
//! The hooks and `check` call [`cover`] after the engine ran, then
//! [`consume`] only when the operation would otherwise proceed. Both
//! return what happened (messages included) and print nothing; the clock
//! and the acting person are passed in.

use chrono::{DateTime, Utc};

use crate::audit::pipeline;
use crate::check::allow::{apply_allows, apply_baseline, number, Shown};
use crate::check::Finding;
use crate::git::Repo;
use crate::overrides::ledger::{Entry, Ledger, LedgerData};
use crate::overrides::{self, Coverage};
use crate::policy::Policy;

use super::{event_branches, used_for, Event};

/// What passes which finding of one run.
#[derive(Debug)]
pub struct Covered {
    /// The findings, numbered, with the allow rule or baseline entry that
    /// passes each.
    pub shown: Vec<Shown>,
    /// `(index into shown, how it is covered)`, for the report.
    pub covered: Vec<(usize, String)>,
    /// Records on the pushed commits that could not count, and why.
    pub not_counted: Vec<String>,
    /// One message per presented token that covers nothing.
    pub unused: Vec<String>,
    /// `(index into shown, index of the ledger entry)` for each finding a
    /// presented token covers.
    pub by_token: Vec<(usize, usize)>,
    /// The open findings (not passed by a rule, baseline or record), in
    /// order: what tokens are matched against.
    pub open: Vec<usize>,
    /// The ledger as read, when tokens were presented (read once).
    pub ledger: Option<LedgerData>,
}

impl Covered {
    /// Whether finding `i` of [`Covered::shown`] is covered.
    pub fn is_covered(&self, i: usize) -> bool {
        self.covered.iter().any(|(c, _)| *c == i)
    }

    /// The findings nothing covers: what the decision is made on.
    pub fn remaining(&self) -> Vec<Shown> {
        self.shown
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_covered(*i))
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// The open findings, as matched against tokens.
    pub fn open_findings(&self) -> Vec<&Finding> {
        self.open.iter().map(|&i| &self.shown[i].finding).collect()
    }

    /// Each token-covered finding with the ledger entry that covers it.
    pub fn token_pairs(&self) -> Vec<(&Finding, &Entry)> {
        match &self.ledger {
            Some(d) => self
                .by_token
                .iter()
                .map(|&(i, ei)| (&self.shown[i].finding, &d.entries[ei]))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Numbers `findings` and works out what covers each: allow rules (on
/// `now`'s date), the baseline, for a push the signed records already on
/// its commits, and the presented token hashes `tokens` (the ledger is read
/// only when some are presented).
pub fn cover(
    repo: &Repo,
    policy: &Policy,
    event: &Event,
    findings: Vec<Finding>,
    ledger: &Ledger,
    tokens: &[String],
    now: DateTime<Utc>,
) -> anyhow::Result<Covered> {
    let mut shown = number(findings);
    crate::report::add_commit_meta(&mut shown, |c| repo.commit_meta(c));
    if !shown.is_empty() && !policy.allows.is_empty() {
        // The branch is looked up only when a rule could need it.
        let branches = if policy.allows.iter().any(|r| r.branches.is_some()) {
            event_branches(repo, event)
        } else {
            Vec::new()
        };
        apply_allows(policy, &mut shown, &branches, now.date_naive());
    }
    apply_baseline(policy, &mut shown);
    let mut covered: Vec<(usize, String)> = shown
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let name = s.allowed_by.as_ref()?;
            let rule = policy.allows.iter().find(|r| &r.name == name)?;
            Some((
                i,
                format!(
                    "by allow rule `{name}` ({}; until {})",
                    rule.reason, rule.expires
                ),
            ))
        })
        .collect();
    covered.extend(shown.iter().enumerate().filter_map(|(i, s)| {
        let reason = s.baselined.as_ref()?;
        Some((
            i,
            format!(
                "baselined in `{}` ({reason})",
                crate::baseline::BASELINE_PATH
            ),
        ))
    }));
    // A blocker passed at commit time left a signed record on its commit;
    // the push of that commit honours it, as CI's `verify` will.
    let mut not_counted = Vec::new();
    if let Event::Push { .. } = event {
        let by_records = pipeline::covered_by_records(repo, policy, &shown)?;
        not_counted = by_records.not_counted;
        for (i, how) in by_records.covered {
            if !covered.iter().any(|(c, _)| *c == i) {
                covered.push((i, how));
            }
        }
    }
    let open_index: Vec<usize> = (0..shown.len())
        .filter(|i| !covered.iter().any(|(c, _)| c == i))
        .collect();
    let open: Vec<&Finding> = open_index.iter().map(|&i| &shown[i].finding).collect();
    // The ledger is read only when tokens are presented, and once.
    let data = if tokens.is_empty() {
        None
    } else {
        Some(ledger.read()?)
    };
    let coverage = match &data {
        Some(d) => overrides::match_tokens(d, tokens, &open, now),
        None => Coverage::default(),
    };
    let by_token: Vec<(usize, usize)> = coverage
        .covered
        .iter()
        .map(|&(fi, ei)| (open_index[fi], ei))
        .collect();
    if let Some(d) = &data {
        for &(i, ei) in &by_token {
            covered.push((i, format!("by override token {}", d.entries[ei].id)));
        }
    }
    Ok(Covered {
        shown,
        covered,
        not_counted,
        unused: coverage.unused,
        by_token,
        open: open_index,
        ledger: data,
    })
}

/// What [`consume`] did.
#[derive(Debug)]
pub struct Consumed {
    /// What the person should know, in order (a signing key CI will not
    /// accept, a repository without a signer list), even on failure.
    pub warnings: Vec<String>,
    /// How many tokens were consumed, or why none was.
    pub result: anyhow::Result<usize>,
    /// A commit's records wait for `post-commit`; a push's are flushed
    /// into the notes by the caller at once.
    pub at_commit: bool,
}

/// Consumes the covering tokens and leaves their signed records: the
/// records are made (and, for a push, signed) and saved as pending first,
/// then the tokens are consumed under the ledger lock, re-read at that
/// moment. Any failure before the consumption consumes nothing. `who` is
/// the acting person, as the ledger writes it.
#[allow(clippy::too_many_arguments)]
pub fn consume(
    repo: &Repo,
    policy: &Policy,
    event: &Event,
    ledger: &Ledger,
    tokens: &[String],
    open: &[&Finding],
    pairs: &[(&Finding, &Entry)],
    who: &str,
    now: DateTime<Utc>,
) -> Consumed {
    let at_commit = !matches!(event, Event::Push { .. });
    let mut warnings = Vec::new();
    let result = consume_inner(
        repo,
        policy,
        event,
        ledger,
        tokens,
        open,
        pairs,
        who,
        now,
        &mut warnings,
    );
    Consumed {
        warnings,
        result,
        at_commit,
    }
}

#[allow(clippy::too_many_arguments)]
fn consume_inner(
    repo: &Repo,
    policy: &Policy,
    event: &Event,
    ledger: &Ledger,
    tokens: &[String],
    open: &[&Finding],
    pairs: &[(&Finding, &Entry)],
    who: &str,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<usize> {
    let signer = pipeline::signer(repo)?;
    let at_commit = !matches!(event, Event::Push { .. });
    let (local, listed) = pipeline::local_signers(repo)?;
    for (finding, entry) in pairs {
        if let Err(why) = pipeline::check_entry(entry, finding, policy, &local, &signer.identity) {
            anyhow::bail!("{why}; nothing was consumed");
        }
    }
    let pending = pipeline::prepare(repo, &signer, policy, pairs, at_commit, now)?;
    match (&local, listed) {
        (signers, true)
            if !signers
                .entries()
                .iter()
                .any(|e| e.key_fingerprint() == signer.identity.key_fingerprint) =>
        {
            warnings.push(format!(
                "your signing key {} is not in `{}`: CI's `tollgate verify` will not accept this record until it is",
                signer.identity.key_fingerprint,
                crate::audit::ALLOWED_SIGNERS
            ));
        }
        (_, false) => warnings.push(format!(
            "this repository has no `{}`: CI's `tollgate verify` cannot accept any record until it lists its signers",
            crate::audit::ALLOWED_SIGNERS
        )),
        _ => {}
    }
    let saved = pipeline::save(repo, &pending)?;
    let used_for = used_for(event, repo);
    let result = ledger.update(|data| {
        Ok::<_, anyhow::Error>(overrides::consume(
            data,
            tokens,
            open,
            pairs.len(),
            &used_for,
            who,
            now,
        ))
    });
    match result {
        Ok(Ok(used)) => Ok(used.len()),
        Ok(Err(why)) => {
            pipeline::discard(repo, &saved);
            anyhow::bail!(why);
        }
        Err(e) => {
            pipeline::discard(repo, &saved);
            Err(e)
        }
    }
}
