//! Audit records in the CLI: made when tokens are consumed, written into
//! `refs/notes/tollgate` (at once for a push, by `post-commit` for a
//! commit), and honoured by the pre-push hook so that a blocker passed at
//! commit time does not stop the push of that commit.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use git2::Oid;

use crate::audit::pending::{Pending, PendingDir};
use crate::audit::verify::{self, Blocker};
use crate::audit::{self, AllowedSigners, AuditRecord, Identity, SigningKey};
use crate::check::Finding;
use crate::git::{Repo, NOTES_REF};
use crate::overrides::ledger::Entry;
use crate::policy::Policy;
use crate::report::{Printer, Shown};

/// Where the signer list lives in a repository.
pub const ALLOWED_SIGNERS: &str = ".tollgate/allowed_signers";

/// How far back from `HEAD` a commit-time record looks for its commit.
const FLUSH_DEPTH: usize = 200;

/// The person consuming tokens and the key that signs their records.
pub struct Signer {
    /// The configured key.
    pub key: SigningKey,
    /// Name, email and key fingerprint, as written in records.
    pub identity: Identity,
}

/// The configured signer. Without an SSH signing key, or without
/// `user.email` (the principal the signer list is searched for), no record
/// can be made, so no token may be consumed.
pub fn signer(repo: &Repo) -> anyhow::Result<Signer> {
    let (key, source) = audit::signing_key(repo)?;
    let key_fingerprint = key
        .key_fingerprint()
        .with_context(|| format!("the signing key from `{}` is unusable", source.config_key()))?;
    let email = repo
        .config_string("user.email")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`user.email` is not set; it names you in audit records and in `{ALLOWED_SIGNERS}` (set it with `git config user.email you@example.com`)"
            )
        })?;
    Ok(Signer {
        key,
        identity: Identity {
            name: repo.config_string("user.name").unwrap_or_default(),
            email,
            key_fingerprint,
        },
    })
}

/// The signer list the local hooks judge records by: the working tree's
/// `.tollgate/allowed_signers`, else (no file yet) only the configured
/// signer's own key. The bool says whether the file was found.
pub fn local_signers(repo: &Repo) -> anyhow::Result<(AllowedSigners, bool)> {
    if let Some(path) = repo.workdir().map(|w| w.join(ALLOWED_SIGNERS)) {
        if path.is_file() {
            return Ok((AllowedSigners::load(&path)?, true));
        }
    }
    let own = match signer(repo) {
        Ok(s) => {
            let public = s.key.public_key()?.to_openssh()?;
            format!("{} {public}\n", s.identity.email)
        }
        Err(_) => String::new(),
    };
    Ok((
        AllowedSigners::parse(&own, Path::new("(your own signing key)"))?,
        false,
    ))
}

/// Builds the records of the tokens about to be consumed: `covered` pairs
/// a finding with its ledger entry. A push record names its commit and is
/// signed now; a commit record waits for its commit.
pub fn prepare(
    repo: &Repo,
    signer: &Signer,
    policy: &Policy,
    covered: &[(&Finding, &Entry)],
    at_commit: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Pending>> {
    let digest = policy.digest();
    let target = if at_commit {
        Some(repo.commit_target()?)
    } else {
        None
    };
    let mut out = Vec::new();
    for (finding, entry) in covered {
        let commit = match &target {
            // A placeholder that passes validation; the real commit is
            // filled in when it exists, before the record is signed.
            Some(_) => "0".repeat(40),
            None => finding.location.commit.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "blocker `{}` at {} concerns no commit, so no audit record can be attached",
                    finding.constraint,
                    finding.location
                )
            })?,
        };
        let approver = match (&entry.request, &entry.approval) {
            (Some(request), Some(approval)) => Some((
                audit::approval::Approval::decode(approval)?.approver,
                audit::approval::TwoKeyProof {
                    request: request.clone(),
                    approval: approval.clone(),
                },
            )),
            _ => None,
        };
        let mut record = AuditRecord::from_entry(
            entry,
            &commit,
            signer.identity.clone(),
            approver,
            now,
            &digest,
        )?;
        out.push(match &target {
            Some(t) => {
                record.commit.clear();
                Pending::for_commit(record, t.tree.clone(), t.parent.clone())
            }
            None => {
                record
                    .sign(&signer.key)
                    .context("cannot sign the audit record")?;
                Pending::signed(record)
            }
        });
    }
    Ok(out)
}

/// Saves records before their tokens are consumed; returns their files so
/// that they can be dropped if the consumption does not happen.
pub fn save(repo: &Repo, pending: &[Pending]) -> anyhow::Result<Vec<PathBuf>> {
    let dir = PendingDir::at(&repo.state_dir());
    let mut saved = Vec::new();
    for p in pending {
        match dir.save(p) {
            Ok(path) => saved.push(path),
            Err(e) => {
                discard(repo, &saved);
                anyhow::bail!("cannot save the pending audit record: {e}");
            }
        }
    }
    Ok(saved)
}

/// Drops saved records whose tokens were not consumed after all.
pub fn discard(repo: &Repo, saved: &[PathBuf]) {
    let dir = PendingDir::at(&repo.state_dir());
    for p in saved {
        let _ = dir.remove(p);
    }
}

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Records written into notes.
    pub written: usize,
    /// Records still waiting (their commit does not exist yet, or signing
    /// failed), with the reason.
    pub waiting: Vec<String>,
}

/// Writes every pending record whose commit exists into
/// `refs/notes/tollgate`, signing commit-time records first. A record that
/// cannot be written stays pending and is reported; nothing is dropped.
pub fn flush(repo: &Repo) -> anyhow::Result<Flushed> {
    let dir = PendingDir::at(&repo.state_dir());
    let mut done = Flushed::default();
    if dir.is_empty() {
        return Ok(done);
    }
    let mut signer_cache: Option<Signer> = None;
    let ledger = crate::overrides::ledger::Ledger::at(&repo.state_dir()).read()?;
    let now = crate::clock::now();
    for (path, pending) in dir.list()? {
        let mut pending = match pending {
            Ok(p) => p,
            Err(e) => {
                done.waiting.push(format!(
                    "`{}` cannot be read ({e}); it was left in place",
                    path.display()
                ));
                continue;
            }
        };
        let id = crate::overrides::token_id(&pending.record.token_id);
        // Only the record of the run that consumed the token is written. A
        // run killed between saving its record and consuming leaves an
        // orphan: kept while the token is still usable (its run may be in
        // flight), dropped once the token is spent or can no longer be.
        match ledger
            .by_hash(&pending.record.token_id)
            .map(|i| &ledger.entries[i])
        {
            Some(e) if e.state == crate::overrides::ledger::State::Used => {
                let ours = e.used_at.map(|t| t.timestamp_millis())
                    == Some(pending.record.consumed.timestamp_millis());
                if !ours {
                    dir.remove(&path)
                        .with_context(|| format!("cannot remove `{}`", path.display()))?;
                    continue;
                }
            }
            Some(e) if e.state_at(now) == crate::overrides::ledger::State::Active => {
                done.waiting
                    .push(format!("record of {id} waits for its token to be consumed"));
                continue;
            }
            Some(_) => {
                dir.remove(&path)
                    .with_context(|| format!("cannot remove `{}`", path.display()))?;
                continue;
            }
            // Not in this ledger (it was moved aside): keep it, never lose it.
            None => {}
        }
        if pending.awaits_commit() {
            let Some(commit) = find_commit(repo, &pending)? else {
                done.waiting.push(format!(
                    "record of {id} waits for its commit (tree {})",
                    short(pending.tree.as_deref().unwrap_or(""))
                ));
                continue;
            };
            pending.record.commit = commit.to_string();
            if signer_cache.is_none() {
                signer_cache = Some(signer(repo)?);
            }
            let key = &signer_cache.as_ref().expect("set above").key;
            if let Err(e) = pending.record.sign(key) {
                done.waiting
                    .push(format!("record of {id} could not be signed: {e}"));
                continue;
            }
        }
        let line = pending.record.to_line()?;
        let commit = Oid::from_str(&pending.record.commit)
            .with_context(|| format!("record of {id} names an invalid commit"))?;
        repo.append_note(commit, &[line])?;
        dir.remove(&path)
            .with_context(|| format!("cannot remove `{}`", path.display()))?;
        done.written += 1;
    }
    Ok(done)
}

/// Flushes, reporting on stderr; a failure is a warning (the records stay
/// pending for the next run).
pub fn flush_and_report(printer: &Printer, repo: &Repo) {
    match flush(repo) {
        Ok(f) => {
            if f.written > 0 {
                printer.info(&format!(
                    "tollgate: {} audit record{} written to {NOTES_REF}",
                    f.written,
                    if f.written == 1 { "" } else { "s" }
                ));
            }
            for w in &f.waiting {
                printer.debug(w);
            }
        }
        Err(e) => printer.warning(&format!(
            "pending audit records could not be written ({e:#}); they stay pending"
        )),
    }
}

/// The commit a commit-time record was made for: the one with its tree and
/// parent, searched along `HEAD`'s first parents.
fn find_commit(repo: &Repo, pending: &Pending) -> anyhow::Result<Option<Oid>> {
    let Some(mut at) = repo.ref_target("HEAD") else {
        return Ok(None);
    };
    for _ in 0..FLUSH_DEPTH {
        let (parent, tree, _) = repo.commit_shape(at)?;
        if Some(tree.to_string()) == pending.tree && parent.map(|p| p.to_string()) == pending.parent
        {
            return Ok(Some(at));
        }
        match parent {
            Some(p) => at = p,
            None => break,
        }
    }
    Ok(None)
}

/// The blockers among `shown` that valid records in the local notes
/// already cover, as `(index, how)`; invalid records on those commits are
/// reported as warnings.
pub fn covered_by_records(
    printer: &Printer,
    repo: &Repo,
    policy: &Policy,
    shown: &[Shown],
) -> anyhow::Result<Vec<(usize, String)>> {
    if repo.ref_target(NOTES_REF).is_none() {
        return Ok(Vec::new());
    }
    let mut index = Vec::new();
    let mut blockers = Vec::new();
    for (i, s) in shown.iter().enumerate() {
        if s.finding.severity != crate::policy::Severity::Block {
            continue;
        }
        if let Some(commit) = &s.finding.location.commit {
            index.push(i);
            blockers.push(Blocker {
                finding: s.finding.clone(),
                commit: commit.clone(),
            });
        }
    }
    let mut notes = Vec::new();
    for b in &blockers {
        if notes.iter().any(|(c, _)| c == &b.commit) {
            continue;
        }
        if let Ok(oid) = Oid::from_str(&b.commit) {
            if let Some(text) = repo.note(NOTES_REF, oid)? {
                notes.push((b.commit.clone(), text));
            }
        }
    }
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let (signers, _) = local_signers(repo)?;
    // Token ids over the whole trail, from the cache (only notes changed
    // since it was made are read).
    let uses = crate::audit::index::token_uses(repo, NOTES_REF)?;
    let j = verify::judge(policy, &signers, blockers, &notes, &uses);
    for r in &j.records {
        if let verify::RecordStatus::Invalid(why) = &r.status {
            printer.warning(&format!(
                "audit record on commit {} (line {}) does not count: {why}",
                short(&r.commit),
                r.line
            ));
        }
    }
    Ok(j.covered_by
        .iter()
        .enumerate()
        .filter_map(|(b, r)| {
            let rec = j.records[(*r)?].record.as_ref()?;
            Some((
                index[b],
                format!(
                    "by the audit record of {} <{}> ({}): {}",
                    rec.requester.name,
                    rec.requester.email,
                    crate::overrides::token_id(&rec.token_id),
                    rec.reason
                ),
            ))
        })
        .collect())
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
