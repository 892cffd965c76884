//! Records that follow a change through a squash or rebase merge.
//!
//! A squash or rebase merge writes new commits on the target branch, so a
//! record attached to the pull request's commit is not on the commit the
//! target branch's `verify` judges. A blocker left uncovered there is
//! covered by a record on another commit only when
//!
//! - the record is valid for a blocker of the same constraint and
//!   fingerprint *on its own commit*, judged exactly as any record is
//!   (signature at the later of consumption and that commit's time,
//!   lifetime, approval mode, single token use);
//! - its own commit really holds that blocker when re-scanned (`holds`),
//!   so the record is not an approval of something that never happened;
//! - the blocker's kind is scoped by the change itself: a secret (path and
//!   secret hash), a file (path and blob id), a policy change (path, old
//!   and new blob id). Ref updates (force pushes, protected branches) are
//!   their own events and never carry.
//!
//! The record is found among every record of the notes ref (the pull
//! request's commit need not be reachable from the branch). Nothing is
//! copied: the record stays one line on one commit, so budgets count it
//! once and its token id stays single-use.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::audit::verify::{judge_at, Blocker, Judgement, RecordStatus, Shapes};
use crate::audit::AllowedSigners;
use crate::check::Finding;
use crate::policy::Policy;

/// A blocker covered by a record on another commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    /// Index of the blocker in the judgement.
    pub blocker: usize,
    /// Index of the record in the judgement's records.
    pub record: usize,
    /// The commit the record is attached to.
    pub from: String,
}

/// Kinds whose fingerprint is the change itself.
const CARRIED_KINDS: &[&str] = &["secret", "forbidden-path", "max-file-size", "policy-change"];

/// Covers what it can of `judgement`'s uncovered blockers with records on
/// other commits (see the module documentation); adds those records to
/// `judgement.records` and returns what it carried.
#[allow(clippy::too_many_arguments)] // the judge's inputs, plus the re-scan
pub fn carry<E>(
    policy: &Policy,
    signers: &AllowedSigners,
    judgement: &mut Judgement,
    notes: &[(String, String)],
    token_uses: &HashMap<String, usize>,
    shapes: Shapes<'_>,
    commit_time: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    holds: &mut dyn FnMut(&str, &Finding) -> Result<bool, E>,
) -> Result<Vec<Carried>, E> {
    let mut out = Vec::new();
    for b in 0..judgement.blockers.len() {
        if judgement.covered_by[b].is_some() {
            continue;
        }
        let blocker = judgement.blockers[b].clone();
        if !CARRIED_KINDS.contains(&blocker.finding.kind.as_str()) {
            continue;
        }
        for (commit, text) in notes {
            if *commit == blocker.commit || !text.contains(&blocker.finding.fingerprint) {
                continue;
            }
            let there = Blocker {
                finding: blocker.finding.clone(),
                commit: commit.clone(),
            };
            let single = [(commit.clone(), text.clone())];
            let j = judge_at(
                policy,
                signers,
                vec![there],
                &single,
                token_uses,
                shapes,
                commit_time,
            );
            let Some(r) = j.covered_by[0] else { continue };
            if !holds(commit, &blocker.finding)? {
                continue;
            }
            let mut report = j.records[r].clone();
            report.status = RecordStatus::Covers(b);
            judgement.records.push(report);
            let record = judgement.records.len() - 1;
            judgement.covered_by[b] = Some(record);
            out.push(Carried {
                blocker: b,
                record,
                from: commit.clone(),
            });
            break;
        }
    }
    Ok(out)
}
