//! The walk behind `verify`'s append-only check: every notes commit
//! compared with each of its parents, at the cost of what changed.
//!
//! A notes history is one commit per record, each changing one note of a
//! tree that holds every note, so comparing two commits through
//! `notes_diff` (a libgit2 diff, the note blobs read on both sides) cost
//! about 0.65 ms a commit: 65 s for 100,000 records. Here each commit's
//! trees are read raw (through `git cat-file --batch`, see
//! `git::cat_file`) and compared entry by
//! entry; a subtree with the same id on both sides is never read, the
//! parent's side is usually still in a small cache (it is the tree the
//! commit before wrote), and a note blob is read only when the parent had
//! a note the commit changed or dropped. An added note costs nothing more
//! than finding it.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use std::path::Path;

use git2::{Oid, Repository, Sort};

use super::cat_file::CatFile;
use super::GitError;

/// A subtree's mode.
const TREE_MODE: u32 = 0o040000;

/// One entry of a raw tree object.
struct Entry<'a> {
    mode: u32,
    name: &'a [u8],
    id: Oid,
}

impl Entry<'_> {
    fn is_tree(&self) -> bool {
        self.mode & 0o170000 == TREE_MODE
    }
}

/// The entries of a raw tree object, in its order. `None` when it is
/// malformed.
fn entries(data: &[u8]) -> Option<Vec<Entry<'_>>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let mode = u32::from_str_radix(std::str::from_utf8(&rest[..space]).ok()?, 8).ok()?;
        rest = &rest[space + 1..];
        let nul = rest.iter().position(|&b| b == 0)?;
        let name = &rest[..nul];
        rest = &rest[nul + 1..];
        if rest.len() < 20 {
            return None;
        }
        let id = Oid::from_bytes(&rest[..20]).ok()?;
        rest = &rest[20..];
        out.push(Entry { mode, name, id });
    }
    Some(out)
}

/// Git's tree order: names as bytes, a subtree's name as if it ended in `/`.
fn order(a: &Entry<'_>, b: &Entry<'_>) -> std::cmp::Ordering {
    let n = a.name.len().min(b.name.len());
    a.name[..n].cmp(&b.name[..n]).then_with(|| {
        let next = |e: &Entry<'_>| e.name.get(n).copied().or(e.is_tree().then_some(b'/'));
        next(a).cmp(&next(b))
    })
}

/// Raw trees by id, the recent ones kept: two generations of about
/// `CACHE` trees each, so what the commit before read is still here.
struct Trees {
    objects: CatFile,
    now: HashMap<Oid, Rc<[u8]>>,
    before: HashMap<Oid, Rc<[u8]>>,
}

const CACHE: usize = 2048;

impl Trees {
    fn get(&mut self, id: Oid) -> Result<Rc<[u8]>, GitError> {
        if let Some(t) = self.now.get(&id) {
            return Ok(t.clone());
        }
        let t = match self.before.remove(&id) {
            Some(t) => t,
            None => {
                let (kind, data) = self.objects.read(id)?;
                if kind != "tree" {
                    return Err(malformed(id, "not a tree"));
                }
                Rc::from(data)
            }
        };
        if self.now.len() >= CACHE {
            self.before = std::mem::take(&mut self.now);
        }
        self.now.insert(id, t.clone());
        Ok(t)
    }
}

/// The notes (annotated commit, blob) on each side of one comparison,
/// for the parts of the two trees that differ.
#[derive(Default)]
struct Sides {
    old: Vec<(String, Oid)>,
    new: Vec<(String, Oid)>,
}

fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if prefix.is_empty() {
        name.into_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Compares two trees (`None`: absent), collecting the notes that differ.
fn compare(
    trees: &mut Trees,
    old: Option<Oid>,
    new: Option<Oid>,
    prefix: &str,
    sides: &mut Sides,
) -> Result<(), GitError> {
    if old == new {
        return Ok(());
    }
    let bad = |id: Oid| malformed(id, "a malformed tree");
    let (od, nd) = (
        old.map(|o| trees.get(o)).transpose()?,
        new.map(|n| trees.get(n)).transpose()?,
    );
    let oe = match (&od, old) {
        (Some(d), Some(id)) => entries(d).ok_or_else(|| bad(id))?,
        _ => Vec::new(),
    };
    let ne = match (&nd, new) {
        (Some(d), Some(id)) => entries(d).ok_or_else(|| bad(id))?,
        _ => Vec::new(),
    };
    let (mut a, mut b) = (oe.iter().peekable(), ne.iter().peekable());
    loop {
        let ord = match (a.peek(), b.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => order(x, y),
        };
        let (x, y) = match ord {
            std::cmp::Ordering::Less => (a.next(), None),
            std::cmp::Ordering::Greater => (None, b.next()),
            std::cmp::Ordering::Equal => (a.next(), b.next()),
        };
        if let (Some(x), Some(y)) = (x, y) {
            if x.id == y.id && x.mode == y.mode {
                continue;
            }
        }
        // A subtree on either side is compared with the subtree (or
        // nothing) at the same name on the other; a note is collected.
        let subtree = |e: Option<&Entry<'_>>| e.filter(|e| e.is_tree()).map(|e| e.id);
        let (xt, yt) = (subtree(x), subtree(y));
        if xt.is_some() || yt.is_some() {
            let name = x.or(y).map(|e| e.name).unwrap_or_default();
            compare(trees, xt, yt, &join(prefix, name), sides)?;
        }
        let is_blob = |e: &&Entry<'_>| !e.is_tree() && e.mode & 0o170000 == 0o100000;
        if let Some(x) = x.filter(is_blob) {
            if let Some(c) = note_path_commit(&join(prefix, x.name)) {
                sides.old.push((c, x.id));
            }
        }
        if let Some(y) = y.filter(is_blob) {
            if let Some(c) = note_path_commit(&join(prefix, y.name)) {
                sides.new.push((c, y.id));
            }
        }
    }
}

fn malformed(id: Oid, what: &str) -> GitError {
    GitError::Command {
        args: format!("cat-file --batch ({id})"),
        why: what.to_string(),
    }
}

fn blob_text(objects: &mut CatFile, id: Oid) -> Result<String, GitError> {
    let (kind, data) = objects.read(id)?;
    if kind != "blob" {
        return Err(malformed(id, "not a blob"));
    }
    Ok(String::from_utf8_lossy(&data).into_owned())
}

/// Every `(annotated commit, line)` that some notes commit up to `tip`
/// dropped from a parent's note (a line removed, or changed,
/// or its note deleted), with the first notes commit in history order that
/// dropped it. Whether the tip still has the line is the caller's check.
pub(super) fn dropped_lines(
    repo: &Repository,
    dir: &Path,
    tip: Oid,
) -> Result<BTreeMap<(String, String), String>, GitError> {
    let git = |e: git2::Error| GitError::Git2 {
        what: format!("cannot walk the notes history to {tip}"),
        source: e,
    };
    let mut walk = repo.revwalk().map_err(git)?;
    // Newest first: git stores an older tree as a delta on a newer one,
    // so walking back in time reads each tree from a base just read
    // (oldest first, every tree unpacked its whole delta chain again: 48 s
    // for 100,000 notes commits).
    walk.set_sorting(Sort::TOPOLOGICAL).map_err(git)?;
    walk.push(tip).map_err(git)?;
    let mut trees = Trees {
        objects: CatFile::start(dir)?,
        now: HashMap::new(),
        before: HashMap::new(),
    };
    let mut dropped: BTreeMap<(String, String), String> = BTreeMap::new();
    for id in walk {
        let id = id.map_err(git)?;
        let commit = repo.find_commit(id).map_err(git)?;
        let tree = commit.tree_id();
        for parent in commit.parent_ids() {
            let ptree = repo.find_commit(parent).map_err(git)?.tree_id();
            if ptree == tree {
                continue;
            }
            let mut sides = Sides::default();
            compare(&mut trees, Some(ptree), Some(tree), "", &mut sides)?;
            if sides.old.is_empty() {
                continue; // only notes added
            }
            // A note that moved to another fan-out level is unchanged.
            let new: HashMap<&str, Oid> = sides.new.iter().map(|(c, b)| (c.as_str(), *b)).collect();
            for (annotated, ob) in &sides.old {
                let nb = new.get(annotated.as_str()).copied();
                if nb == Some(*ob) {
                    continue;
                }
                let before = blob_text(&mut trees.objects, *ob)?;
                let after = match nb {
                    Some(b) => blob_text(&mut trees.objects, b)?,
                    None => String::new(),
                };
                for line in lines_missing(&before, &after) {
                    // The walk goes back in time: the last one seen
                    // dropped it first.
                    dropped.insert((annotated.clone(), line.to_string()), id.to_string());
                }
            }
        }
    }
    Ok(dropped)
}

/// The annotated commit a notes tree path names: a full hex object id
/// split into two-character fan-out directories (`ab/cdef…`, `ab/cd/ef…`)
/// or flat. `None` for any other path.
pub fn note_path_commit(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let last = parts.pop()?;
    if parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let joined: String = parts.iter().copied().chain([last]).collect();
    let hex = joined.len() == 40 || joined.len() == 64;
    (hex && joined
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    .then_some(joined)
}

/// The lines of `before` that `after` lacks (each once, in order).
pub fn lines_missing<'a>(before: &'a str, after: &str) -> Vec<&'a str> {
    let kept: std::collections::HashSet<&str> = after.lines().collect();
    let mut seen = std::collections::HashSet::new();
    before
        .lines()
        .filter(|l| !l.is_empty() && !kept.contains(l) && seen.insert(*l))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_entries_parse_and_a_truncated_tree_is_refused() {
        let mut raw = b"40000 ab\0".to_vec();
        raw.extend([1u8; 20]);
        raw.extend(b"100644 cdef\0");
        raw.extend([2u8; 20]);
        let e = entries(&raw).unwrap();
        assert_eq!(e.len(), 2);
        assert!(e[0].is_tree() && !e[1].is_tree());
        assert_eq!(e[1].name, b"cdef");
        assert!(entries(&raw[..raw.len() - 1]).is_none());
    }
}
