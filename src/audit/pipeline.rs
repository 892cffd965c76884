//! The audit-record pipeline: who signs, the records of consumed tokens
//! (made and signed by the run that consumed them, for the scopes it
//! computed), pending files, and writing them into `refs/notes/tollgate`
//! (at once for a push; for a commit by `post-commit`, which only attaches
//! records that are already signed and never signs anything itself).
//! Also the lookup the pre-push hook uses to honour records made at commit
//! time. Nothing here prints: outcomes are returned as values.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use git2::Oid;

use super::pending::{Pending, PendingDir};
use super::verify::{self, Blocker};
use super::{AllowedSigners, Attach, AuditRecord, Identity, SigningKey};
use crate::check::allow::Shown;
use crate::check::Finding;
use crate::git::{Repo, NOTES_REF};
use crate::overrides::ledger::Entry;
use crate::policy::Policy;
use crate::text::short_sha as short;

use super::ALLOWED_SIGNERS;

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
    let (key, source) = super::signing_key(repo)?;
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
    let mut own = match signer(repo) {
        Ok(s) => {
            let public = s.key.public_key()?.to_openssh()?;
            format!("{} {public}\n", s.identity.email)
        }
        Err(_) => String::new(),
    };
    // Your own security key, for the `presence` grants you made yourself.
    if let (Some(key), Some(email)) = (super::approval_key(repo), repo.config_string("user.email"))
    {
        if let Ok(public) = key.public_key().and_then(|p| {
            p.to_openssh().map_err(|e| super::AuditError::SigningKey {
                key: key.to_string(),
                why: e.to_string(),
            })
        }) {
            own.push_str(&format!("{email} {public}\n"));
        }
    }
    Ok((
        AllowedSigners::parse(&own, Path::new("(your own signing key)"))?,
        false,
    ))
}

/// Builds and signs the records of the tokens about to be consumed:
/// `covered` pairs a finding with its ledger entry. A push record names
/// its commit; a commit record names the staged tree and parent of the
/// commit about to be made. Either is signed now, by this run.
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
        let attach = match &target {
            Some(t) => Attach::Tree {
                tree: t.tree.clone(),
                parent: t.parent.clone(),
            },
            None => Attach::Commit(finding.location.commit.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "blocker `{}` at {} concerns no commit, so no audit record can be attached",
                    finding.constraint,
                    finding.location
                )
            })?),
        };
        let approver = match (&entry.request, &entry.approval) {
            (Some(request), Some(approval)) => Some((
                super::approval::Approval::decode(approval)?.approver,
                super::approval::TwoKeyProof {
                    request: request.clone(),
                    approval: approval.clone(),
                },
            )),
            _ => None,
        };
        let mut record = AuditRecord::from_entry(
            entry,
            attach,
            signer.identity.clone(),
            approver,
            now,
            &digest,
        )?;
        record
            .sign(&signer.key)
            .context("cannot sign the audit record")?;
        out.push(Pending::signed(&record)?);
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
    /// Records still waiting (their commit does not exist yet), with the
    /// reason.
    pub waiting: Vec<String>,
    /// Files that are not records this repository's signer made: moved
    /// to `pending/rejected/`, never signed, never written.
    pub rejected: Vec<String>,
}

/// Writes every pending record whose commit exists into
/// `refs/notes/tollgate`. Only complete records signed by the configured
/// signer are written; nothing is signed here, so a file planted in the
/// state directory gains nothing. A record that cannot be written yet
/// stays pending and is reported; nothing is dropped silently.
pub fn flush(repo: &Repo, now: DateTime<Utc>) -> anyhow::Result<Flushed> {
    let dir = PendingDir::at(&repo.state_dir());
    let mut done = Flushed::default();
    if dir.is_empty() {
        return Ok(done);
    }
    // Records signed by this repository's signer (judged with the signer
    // list the hooks use, so its options such as `no-touch-required` apply).
    let me = signer(repo).ok().map(|s| s.identity.key_fingerprint);
    let own: Option<AllowedSigners> = local_signers(repo).ok().map(|(l, _)| l);
    let ledger = crate::overrides::ledger::Ledger::at(&repo.state_dir()).read()?;
    for (path, pending) in dir.list()? {
        let shown = path.display().to_string();
        let record = match pending.and_then(|p| p.record()) {
            Ok(r) => r,
            Err(e) => {
                let to = dir
                    .reject(&path)
                    .map_or_else(|_| shown.clone(), |p| p.display().to_string());
                done.rejected.push(format!(
                    "`{shown}` is not a signed audit record ({e}); moved to `{to}`"
                ));
                continue;
            }
        };
        let id = crate::overrides::token_id(&record.token_id);
        let ours = me.as_deref() == Some(record.requester.key_fingerprint.as_str())
            && own
                .as_ref()
                .is_some_and(|o| record.verify(o, record.consumed).is_ok());
        if !ours {
            let to = dir
                .reject(&path)
                .map_or_else(|_| shown.clone(), |p| p.display().to_string());
            done.rejected.push(format!(
                "`{shown}` (record of {id}) is not signed by your signing key; moved to `{to}`"
            ));
            continue;
        }
        // Only the record of the run that consumed the token is written. A
        // run killed between saving its record and consuming leaves an
        // orphan: kept while the token is still usable (its run may be in
        // flight), dropped once the token is spent or can no longer be.
        match ledger.by_hash(&record.token_id).map(|i| &ledger.entries[i]) {
            Some(e) if e.state == crate::overrides::ledger::State::Used => {
                let ours = e.used_at.map(|t| t.timestamp_millis())
                    == Some(record.consumed.timestamp_millis());
                if !ours {
                    dir.remove(&path)
                        .with_context(|| format!("cannot remove `{shown}`"))?;
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
                    .with_context(|| format!("cannot remove `{shown}`"))?;
                continue;
            }
            // Not in this ledger (it was moved aside): keep it, never lose it.
            None => {}
        }
        let commit = if record.commit.is_empty() {
            match find_commit(repo, &record)? {
                Some(c) => c,
                None => {
                    done.waiting.push(format!(
                        "record of {id} waits for its commit ({})",
                        record.target()
                    ));
                    continue;
                }
            }
        } else {
            Oid::from_str(&record.commit)
                .with_context(|| format!("record of {id} names an invalid commit"))?
        };
        repo.append_note(commit, &[record.to_line()?])?;
        dir.remove(&path)
            .with_context(|| format!("cannot remove `{shown}`"))?;
        done.written += 1;
    }
    Ok(done)
}

/// The commit a commit-time record was made for: the one with its tree and
/// parent, searched along `HEAD`'s first parents.
fn find_commit(repo: &Repo, record: &AuditRecord) -> anyhow::Result<Option<Oid>> {
    let Some(mut at) = repo.ref_target("HEAD") else {
        return Ok(None);
    };
    for _ in 0..FLUSH_DEPTH {
        let (parent, tree, _) = repo.commit_shape(at)?;
        if Some(tree.to_string()) == record.tree && parent.map(|p| p.to_string()) == record.parent {
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
    repo: &Repo,
    policy: &Policy,
    shown: &[Shown],
) -> anyhow::Result<RecordCoverage> {
    let mut out = RecordCoverage::default();
    if repo.ref_target(NOTES_REF).is_none() {
        return Ok(out);
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
        return Ok(out);
    }
    let (signers, _) = local_signers(repo)?;
    let shapes = |c: &str| repo.shape_of(c);
    // Token ids over the whole trail, from the cache (only notes changed
    // since it was made are read).
    let uses = super::index::token_uses(repo, NOTES_REF)?;
    let j = verify::judge(policy, &signers, blockers, &notes, &uses, &shapes);
    for r in &j.records {
        if let verify::RecordStatus::Invalid(why) = &r.status {
            out.not_counted.push(format!(
                "audit record on commit {} (line {}) does not count: {why}",
                short(&r.commit),
                r.line
            ));
        }
    }
    out.covered = j
        .covered_by
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
        .collect();
    Ok(out)
}

/// Which blockers valid records cover, and why other records on their
/// commits do not count.
#[derive(Debug, Default)]
pub struct RecordCoverage {
    /// `(index into shown, how)`.
    pub covered: Vec<(usize, String)>,
    /// One line per record that does not count.
    pub not_counted: Vec<String>,
}

/// Checks, before a ledger entry's token is consumed, what `verify` will
/// check later: the entry's signed grant (or two-key documents) verifies
/// against `signers`, binds this token's hash to this blocker and this
/// lifetime, and meets the tier `policy` demands. The ledger is a local
/// cache: an entry added or edited by hand fails here and is reported.
pub fn check_entry(
    entry: &Entry,
    finding: &Finding,
    policy: &Policy,
    signers: &AllowedSigners,
    consumer: &Identity,
) -> Result<(), String> {
    use crate::policy::Tier;
    let id = &entry.id;
    let required = policy
        .constraint(&finding.constraint)
        .map_or(policy.approval, |c| policy.tier_for(c));
    if entry.method < required {
        return Err(format!(
            "token {id} was approved by `{}`, and `{}` now needs `{}`: mint a new one",
            entry.method.as_str(),
            finding.constraint,
            required.as_str()
        ));
    }
    let token = entry.token_sha256.as_deref().unwrap_or_default();
    match entry.method {
        Tier::TwoKey => {
            let (Some(request), Some(approval)) = (&entry.request, &entry.approval) else {
                return Err(format!(
                    "ledger entry {id} is two-key but carries no signed request and approval"
                ));
            };
            let approvers = policy
                .constraint(&finding.constraint)
                .map(|c| policy.approvers_for(c).to_vec())
                .unwrap_or_default();
            let (req, _) = super::approval::check_pair(request, approval, signers, &approvers)
                .map_err(|e| format!("ledger entry {id}: {e}"))?;
            same_consumer(id, &req.requester, consumer)?;
            if req.fingerprint != finding.fingerprint || req.expires != entry.expires {
                return Err(format!(
                    "ledger entry {id} does not match its signed request (blocker or lifetime edited)"
                ));
            }
        }
        tier => {
            let text = entry.grant.as_deref().ok_or_else(|| {
                format!("ledger entry {id} carries no signed grant: it was not minted by `tollgate override` (the ledger is only a cache of signed grants)")
            })?;
            let g =
                super::grant::Grant::decode(text).map_err(|e| format!("ledger entry {id}: {e}"))?;
            if g.token_sha256 != token
                || g.fingerprint != finding.fingerprint
                || g.constraint != finding.constraint
                || g.expires != entry.expires
                || g.minted != entry.minted
                || g.tier != tier
            {
                return Err(format!(
                    "ledger entry {id} does not match its signed grant (token, blocker, tier or lifetime edited)"
                ));
            }
            same_consumer(id, &g.requester, consumer)?;
            g.verify(signers)
                .map_err(|e| format!("ledger entry {id}: its grant: {e}"))?;
        }
    }
    Ok(())
}

/// A token is consumed only by the person (key and principal) it was
/// minted for.
fn same_consumer(id: &str, minted_for: &Identity, consumer: &Identity) -> Result<(), String> {
    if minted_for.key_fingerprint == consumer.key_fingerprint
        && minted_for.email.eq_ignore_ascii_case(&consumer.email)
    {
        return Ok(());
    }
    Err(format!(
        "token {id} was minted for {} ({}); you are signing as {} ({}): only the person it was minted for can use it",
        minted_for.email, minted_for.key_fingerprint, consumer.email, consumer.key_fingerprint
    ))
}
/// The security key a `presence` approval is signed with, checked before
/// anything is minted; `None` for other tiers.
pub fn approver_key_for(
    repo: &Repo,
    tier: crate::policy::Tier,
    constraint: &str,
) -> Result<Option<(SigningKey, String)>, String> {
    if tier != crate::policy::Tier::Presence {
        return Ok(None);
    }
    match super::approval_key(repo) {
        None => Err(format!(
            "`{constraint}` needs approval tier `presence`: a touch of your FIDO security key. Configure one with `git config tollgate.approvalKey ~/.ssh/id_ed25519_sk.pub` (made with `ssh-keygen -t ed25519-sk`) and list it for you in `{}`",
            ALLOWED_SIGNERS
        )),
        Some(k) => match super::approval_key_usable(&k) {
            Ok(fp) => Ok(Some((k, fp))),
            Err(e) => Err(format!("{e}; no token was minted")),
        },
    }
}

/// Signs the grant of `entry` (its token hash, blocker, lifetime, people,
/// tier) with the approval key for `presence`, else the signer's own key,
/// and checks it the way consumption and `verify` will.
pub fn sign_grant(
    repo: &Repo,
    signer: &Signer,
    approver_key: Option<&(SigningKey, String)>,
    entry: &Entry,
    scope: &super::grant::Scope,
    policy_sha256: &str,
) -> Result<String, String> {
    let approver = match approver_key {
        Some((_, fp)) => Identity {
            key_fingerprint: fp.clone(),
            ..signer.identity.clone()
        },
        None => signer.identity.clone(),
    };
    let grant = super::grant::Grant {
        v: 1,
        doc_type: "grant".into(),
        token_sha256: entry.token_sha256.clone().unwrap_or_default(),
        constraint: entry.constraint.clone(),
        kind: entry.kind.clone(),
        severity: entry.severity,
        fingerprint: entry.fingerprint.clone(),
        location: entry.location.clone(),
        scope: scope.clone(),
        reason: entry.reason.clone(),
        reason_code: entry.code.clone(),
        requester: signer.identity.clone(),
        approver,
        tier: entry.method,
        minted: entry.minted,
        expires: entry.expires,
        policy_sha256: policy_sha256.to_string(),
        signature: String::new(),
    };
    let key = approver_key.map_or(&signer.key, |(k, _)| k);
    let grant = grant
        .sign_and_encode(key)
        .map_err(|e| format!("cannot sign the approval ({e})"))?;
    // What consumption and `verify` will check, checked now: a grant that
    // does not verify (a key without the touch flag, a key the signer list
    // does not name) mints nothing.
    let (local, _) = local_signers(repo).map_err(|e| format!("{e:#}"))?;
    super::grant::Grant::decode(&grant)
        .and_then(|g| g.verify(&local))
        .map_err(|e| format!("the approval does not verify ({e})"))?;
    Ok(grant)
}
