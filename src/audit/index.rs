//! A cache for the audit trail's hot paths, so that years of records do
//! not make every push read every note.
//!
//! One entry under `.git/tollgate/index/`, keyed by the notes commit it
//! describes: **token uses**, how many record lines (on the commit they
//! name) carry each token id, which the pre-push hook's single-use check
//! needs for the whole trail. When the notes moved, only the notes whose
//! blobs differ between the cached commit and the tip are read
//! (`Repo::notes_diff`), so one new record costs one note, not a hundred
//! thousand.
//!
//! `verify` uses no cache: the agent can edit anything under `.git/`, and
//! a cache that named a notes commit "already checked" would let it hide a
//! deleted record.
//!
//! It is a cache, never trusted more than the notes: a missing, unreadable,
//! foreign or inconsistent file is rebuilt from the notes, a write that
//! fails is ignored, and a CI clone (which starts without one) computes
//! everything from the notes. What it saves is time, never a check.

use std::collections::HashMap;
use std::path::PathBuf;

use git2::Oid;
use sha2::{Digest, Sha256};

use super::record::parse_line;
use crate::git::{GitError, Repo};

const USES_HEADER: &str = "tollgate token-uses v1";

/// Token uses over `notes_ref` (see the module docs): token id → number of
/// record lines carrying it on the commit they name.
pub fn token_uses(repo: &Repo, notes_ref: &str) -> Result<HashMap<String, usize>, GitError> {
    let Some(tip) = repo.ref_target(notes_ref) else {
        return Ok(HashMap::new());
    };
    let path = cache_path(repo, "token-uses", notes_ref);
    if let Some((cached, mut uses)) = read_uses(&path) {
        if cached == tip {
            return Ok(uses);
        }
        if repo.raw().find_commit(cached).is_ok() && update_uses(repo, cached, tip, &mut uses)? {
            write(&path, &render_uses(tip, &uses));
            return Ok(uses);
        }
    }
    let mut uses = HashMap::new();
    for (commit, text) in repo.all_notes(notes_ref)? {
        count(repo, &commit, &text, &mut uses, 1);
    }
    write(&path, &render_uses(tip, &uses));
    Ok(uses)
}

/// Applies the notes that differ between `from` and `to`; false when the
/// cache does not add up (it is then rebuilt).
fn update_uses(
    repo: &Repo,
    from: Oid,
    to: Oid,
    uses: &mut HashMap<String, usize>,
) -> Result<bool, GitError> {
    let diff = repo.notes_diff(Some(from), to)?;
    let mut delta: HashMap<String, i64> = HashMap::new();
    for c in &diff.changed {
        let mut before = HashMap::new();
        let mut after = HashMap::new();
        count(
            repo,
            &c.commit,
            c.old.as_deref().unwrap_or(""),
            &mut before,
            1,
        );
        count(
            repo,
            &c.commit,
            c.new.as_deref().unwrap_or(""),
            &mut after,
            1,
        );
        for (t, n) in before {
            *delta.entry(t).or_default() -= n as i64;
        }
        for (t, n) in after {
            *delta.entry(t).or_default() += n as i64;
        }
    }
    for (t, d) in delta {
        let now = uses.get(&t).copied().unwrap_or(0) as i64 + d;
        match now {
            n if n < 0 => return Ok(false),
            0 => {
                uses.remove(&t);
            }
            n => {
                uses.insert(t, n as usize);
            }
        }
    }
    Ok(true)
}

/// Adds the token ids of `text`'s record lines on `commit` to `uses`.
fn count(repo: &Repo, commit: &str, text: &str, uses: &mut HashMap<String, usize>, by: usize) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Ok(r) = parse_line(line) {
            if super::trail::attached_right(repo, &r, commit) {
                if let Some(p) = &r.two_key {
                    *uses
                        .entry(super::approval::digest(&p.approval))
                        .or_insert(0) += by;
                }
                *uses.entry(r.token_id).or_insert(0) += by;
            }
        }
    }
}

fn cache_path(repo: &Repo, what: &str, notes_ref: &str) -> PathBuf {
    let digest = Sha256::digest(notes_ref.as_bytes());
    let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    repo.state_dir().join("index").join(format!("{what}-{tag}"))
}

fn read_uses(path: &std::path::Path) -> Option<(Oid, HashMap<String, usize>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let oid = Oid::from_str(lines.next()?.strip_prefix(USES_HEADER)?.trim()).ok()?;
    let mut uses = HashMap::new();
    for l in lines {
        let (t, n) = l.split_once(' ')?;
        uses.insert(t.to_string(), n.parse().ok()?);
    }
    Some((oid, uses))
}

fn render_uses(tip: Oid, uses: &HashMap<String, usize>) -> String {
    let mut s = format!("{USES_HEADER} {tip}\n");
    for (t, n) in uses {
        s.push_str(&format!("{t} {n}\n"));
    }
    s
}

/// Writes a cache file; a failure only costs time next run.
fn write(path: &std::path::Path, text: &str) {
    let _ = crate::state::write_atomic(path, text.as_bytes());
}
