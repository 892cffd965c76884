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
    /// The entry's bytes as stored (mode, name and id): two entries with
    /// the same bytes are the same.
    raw: &'a [u8],
    mode: u32,
    name: &'a [u8],
    id: Oid,
}

impl Entry<'_> {
    fn is_tree(&self) -> bool {
        self.mode & 0o170000 == TREE_MODE
    }
}

/// The first entry of the raw tree bytes `rest` (not empty). `None` when
/// it is malformed.
fn entry(rest: &[u8]) -> Option<Entry<'_>> {
    let space = rest.iter().position(|&b| b == b' ')?;
    if space == 0 || space > 7 {
        return None;
    }
    let mut mode = 0u32;
    for &d in &rest[..space] {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        mode = mode * 8 + u32::from(d - b'0');
    }
    let nul = space + 1 + rest[space + 1..].iter().position(|&b| b == 0)?;
    let end = nul + 1 + 20;
    if rest.len() < end {
        return None;
    }
    Some(Entry {
        raw: &rest[..end],
        mode,
        name: &rest[space + 1..nul],
        id: Oid::from_bytes(&rest[nul + 1..end]).ok()?,
    })
}

/// The entries of a raw tree object, in its order. `None` when it is
/// malformed.
#[cfg(test)]
fn entries(data: &[u8]) -> Option<Vec<Entry<'_>>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let e = entry(rest)?;
        rest = &rest[e.raw.len()..];
        out.push(e);
    }
    Some(out)
}

/// Where the entries two raw trees share at their start end: a byte
/// offset at an entry boundary of both (their bytes are the same up to
/// it). Only the name's terminating NUL is looked for in each entry.
fn shared_start(a: &[u8], b: &[u8]) -> usize {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let mut at = 0;
    while let Some(nul) = a[at..same].iter().position(|&c| c == 0) {
        let end = at + nul + 1 + 20;
        if end > same {
            break;
        }
        at = end;
    }
    at
}

/// The entries of one side of a comparison, parsed one at a time.
struct Side<'a> {
    rest: &'a [u8],
    head: Option<Entry<'a>>,
    id: Option<Oid>,
}

impl<'a> Side<'a> {
    fn new(rest: &'a [u8], id: Option<Oid>) -> Result<Side<'a>, GitError> {
        let mut side = Side {
            rest,
            head: None,
            id,
        };
        side.parse()?;
        Ok(side)
    }

    fn parse(&mut self) -> Result<(), GitError> {
        self.head =
            match self.rest.is_empty() {
                true => None,
                false => Some(entry(self.rest).ok_or_else(|| {
                    malformed(self.id.unwrap_or_else(Oid::zero), "a malformed tree")
                })?),
            };
        if let Some(e) = &self.head {
            self.rest = &self.rest[e.raw.len()..];
        }
        Ok(())
    }

    /// The bytes from the head entry on.
    fn left(&self) -> usize {
        self.head.as_ref().map_or(0, |e| e.raw.len()) + self.rest.len()
    }

    fn take(&mut self) -> Result<Option<Entry<'a>>, GitError> {
        let head = self.head.take();
        self.parse()?;
        Ok(head)
    }
}

/// Git's tree order: names as bytes, a subtree's name as if it ended in `/`.
fn order(a: &Entry<'_>, b: &Entry<'_>) -> std::cmp::Ordering {
    let n = a.name.len().min(b.name.len());
    a.name[..n].cmp(&b.name[..n]).then_with(|| {
        let next = |e: &Entry<'_>| e.name.get(n).copied().or(e.is_tree().then_some(b'/'));
        next(a).cmp(&next(b))
    })
}

/// Raw trees by id: those of the window being compared and of the one
/// before it (the first commit of a window compares with a tree the last
/// window read). Missing trees are asked for all at once.
struct Trees {
    objects: CatFile,
    now: HashMap<Oid, Rc<[u8]>>,
    before: HashMap<Oid, Rc<[u8]>>,
}

impl Trees {
    /// A new window: what the last one read becomes the older generation.
    fn next_window(&mut self) {
        self.before = std::mem::take(&mut self.now);
    }

    /// Makes every tree of `ids` available to [`Trees::get`], reading the
    /// missing ones through one pipelined request.
    fn fetch(&mut self, ids: &[Oid]) -> Result<(), GitError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut missing = Vec::new();
        for id in ids {
            if self.now.contains_key(&id) {
                continue;
            }
            match self.before.remove(&id) {
                Some(t) => {
                    self.now.insert(id, t);
                }
                None => missing.push(id),
            }
        }
        for (id, data) in missing.iter().zip(self.objects.read_all(&missing, "tree")?) {
            self.now.insert(*id, Rc::from(data));
        }
        Ok(())
    }

    fn get(&self, id: Oid) -> Result<Rc<[u8]>, GitError> {
        self.now
            .get(&id)
            .cloned()
            .ok_or_else(|| malformed(id, "a tree that was not read"))
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

/// Two trees (`None`: absent) to compare, at `prefix`, for comparison
/// `pair` of a window.
struct Pending {
    old: Option<Oid>,
    new: Option<Oid>,
    prefix: String,
    pair: usize,
}

/// Compares the tree pairs of one window level by level, collecting the
/// notes that differ into `sides[pair]`: each level's missing trees are
/// read in one request, and a subtree with the same id on both sides is
/// never read.
fn compare_all(
    trees: &mut Trees,
    mut level: Vec<Pending>,
    sides: &mut [Sides],
) -> Result<(), GitError> {
    while !level.is_empty() {
        let ids: Vec<Oid> = level
            .iter()
            .flat_map(|p| [p.old, p.new])
            .flatten()
            .collect();
        trees.fetch(&ids)?;
        let mut next = Vec::new();
        for p in &level {
            compare(trees, p, &mut sides[p.pair], &mut next)?;
        }
        level = next;
    }
    Ok(())
}

/// Compares the two trees of `p` (already read), collecting the notes
/// that differ and queueing the subtrees that differ on `next`.
fn compare(
    trees: &Trees,
    p: &Pending,
    sides: &mut Sides,
    next: &mut Vec<Pending>,
) -> Result<(), GitError> {
    let (od, nd) = (
        p.old.map(|o| trees.get(o)).transpose()?,
        p.new.map(|n| trees.get(n)).transpose()?,
    );
    let (o, n): (&[u8], &[u8]) = (
        od.as_deref().unwrap_or_default(),
        nd.as_deref().unwrap_or_default(),
    );
    // Entries the two trees share at their start and at their end are
    // never parsed: a note commit changes one entry of each tree it
    // touches, so this is nearly all of them.
    let start = shared_start(o, n);
    let tail = o[start..]
        .iter()
        .rev()
        .zip(n[start..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mut a, mut b) = (
        Side::new(&o[start..], p.old)?,
        Side::new(&n[start..], p.new)?,
    );
    loop {
        // Both at an entry boundary with the same bytes left, all of them
        // in the shared tail: the rest is the same entries.
        if a.left() == b.left() && a.left() <= tail {
            return Ok(());
        }
        let ord = match (&a.head, &b.head) {
            (None, None) => return Ok(()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.raw == y.raw => {
                a.take()?;
                b.take()?;
                continue;
            }
            (Some(x), Some(y)) => order(x, y),
        };
        let (x, y) = match ord {
            std::cmp::Ordering::Less => (a.take()?, None),
            std::cmp::Ordering::Greater => (None, b.take()?),
            std::cmp::Ordering::Equal => (a.take()?, b.take()?),
        };
        let (x, y) = (x.as_ref(), y.as_ref());
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
            next.push(Pending {
                old: xt,
                new: yt,
                prefix: join(&p.prefix, name),
                pair: p.pair,
            });
        }
        let is_blob = |e: &&Entry<'_>| !e.is_tree() && e.mode & 0o170000 == 0o100000;
        if let Some(x) = x.filter(is_blob) {
            if let Some(c) = note_path_commit(&join(&p.prefix, x.name)) {
                sides.old.push((c, x.id));
            }
        }
        if let Some(y) = y.filter(is_blob) {
            if let Some(c) = note_path_commit(&join(&p.prefix, y.name)) {
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

/// Notes commits compared per window: their trees are read in a few
/// pipelined requests (one per tree level) instead of one round trip each.
const WINDOW: usize = 256;

/// A note some notes commit changed or dropped: its annotated commit,
/// the blob before and the blob after (`None`: deleted).
struct Change {
    notes_commit: Oid,
    annotated: String,
    before: Oid,
    after: Option<Oid>,
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
    let mut blobs = CatFile::start(dir)?;
    // Each commit read once: a parent's tree and parents are kept from
    // when it was first met as a parent until the walk reaches it.
    let mut met: HashMap<Oid, (Oid, Vec<Oid>)> = HashMap::new();
    let read = |met: &mut HashMap<Oid, (Oid, Vec<Oid>)>, id: Oid| {
        if let Some(known) = met.remove(&id) {
            return Ok(known);
        }
        let c = repo.find_commit(id).map_err(git)?;
        Ok::<_, GitError>((c.tree_id(), c.parent_ids().collect::<Vec<_>>()))
    };
    let mut dropped: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut window: Vec<(Oid, Oid, Oid)> = Vec::with_capacity(WINDOW);
    let mut walk = walk.peekable();
    while let Some(id) = walk.next() {
        let id = id.map_err(git)?;
        let (tree, parents) = read(&mut met, id)?;
        for parent in parents {
            let (ptree, pparents) = read(&mut met, parent)?;
            met.insert(parent, (ptree, pparents));
            if ptree != tree {
                window.push((id, ptree, tree));
            }
        }
        if window.len() >= WINDOW || (walk.peek().is_none() && !window.is_empty()) {
            let changes = window_changes(&mut trees, &window)?;
            window.clear();
            record_dropped(&mut blobs, &changes, &mut dropped)?;
        }
    }
    Ok(dropped)
}

/// The notes each `(notes commit, parent tree, tree)` comparison of a
/// window changed or dropped, in window order.
fn window_changes(trees: &mut Trees, window: &[(Oid, Oid, Oid)]) -> Result<Vec<Change>, GitError> {
    trees.next_window();
    let mut sides: Vec<Sides> = window.iter().map(|_| Sides::default()).collect();
    let level = window
        .iter()
        .enumerate()
        .map(|(pair, &(_, ptree, tree))| Pending {
            old: Some(ptree),
            new: Some(tree),
            prefix: String::new(),
            pair,
        })
        .collect();
    compare_all(trees, level, &mut sides)?;
    let mut changes = Vec::new();
    for (&(id, _, _), sides) in window.iter().zip(sides) {
        if sides.old.is_empty() {
            continue; // only notes added
        }
        // A note that moved to another fan-out level is unchanged.
        let new: HashMap<&str, Oid> = sides.new.iter().map(|(c, b)| (c.as_str(), *b)).collect();
        for (annotated, before) in sides.old {
            let after = new.get(annotated.as_str()).copied();
            if after != Some(before) {
                changes.push(Change {
                    notes_commit: id,
                    annotated,
                    before,
                    after,
                });
            }
        }
    }
    Ok(changes)
}

/// Reads the blobs of `changes` (pipelined) and records each line a
/// change dropped. The walk goes back in time, so a later change's notes
/// commit dropped the line first and replaces an earlier one's.
fn record_dropped(
    blobs: &mut CatFile,
    changes: &[Change],
    dropped: &mut BTreeMap<(String, String), String>,
) -> Result<(), GitError> {
    for batch in changes.chunks(WINDOW) {
        let mut ids: Vec<Oid> = batch
            .iter()
            .flat_map(|c| [Some(c.before), c.after])
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let texts: HashMap<Oid, String> = ids
            .iter()
            .zip(blobs.read_all(&ids, "blob")?)
            .map(|(id, data)| (*id, String::from_utf8_lossy(&data).into_owned()))
            .collect();
        for c in batch {
            let text = |id: Oid| texts.get(&id).map_or("", String::as_str);
            let after = c.after.map_or("", text);
            for line in lines_missing(text(c.before), after) {
                dropped.insert(
                    (c.annotated.clone(), line.to_string()),
                    c.notes_commit.to_string(),
                );
            }
        }
    }
    Ok(())
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
        assert_eq!(e[1].mode, 0o100644);
        assert_eq!(e[0].raw.len() + e[1].raw.len(), raw.len());
        assert!(entries(&raw[..raw.len() - 1]).is_none());
        let mut bad_mode = b"10064x cdef\0".to_vec();
        bad_mode.extend([2u8; 20]);
        assert!(entries(&bad_mode).is_none());
    }

    #[test]
    fn the_shared_start_ends_at_an_entry_boundary_even_with_nul_bytes_in_ids() {
        let tree = |ids: [u8; 3]| {
            let mut raw = Vec::new();
            for (name, id) in [b"aa", b"bb", b"cc"].iter().zip(ids) {
                raw.extend(b"100644 ");
                raw.extend(*name);
                raw.push(0);
                raw.extend([0u8; 19]);
                raw.push(id);
            }
            raw
        };
        let entry = 7 + 2 + 1 + 20;
        let (a, b) = (tree([0, 0, 0]), tree([0, 1, 0]));
        assert_eq!(shared_start(&a, &b), entry);
        assert_eq!(shared_start(&a, &a), a.len());
        assert_eq!(shared_start(&a, &tree([1, 0, 0])), 0);
        assert_eq!(shared_start(&a, &a[..entry * 2]), entry * 2);
    }
}
