//! Which paths the index changes against `HEAD`, found the way git finds
//! them: without reading the subtrees the index's cache-tree proves
//! unchanged.
//!
//! libgit2's `diff_tree_to_index` reads every tree of `HEAD` and compares
//! every index entry; in a 10,000-file repository that is most of a commit
//! hook's time (about 30 ms, where `git diff --cached` takes 6). git keeps,
//! in the index's `TREE` extension, the tree id each directory of the index
//! would write; git adds invalidate it along the path they change, and
//! `git commit` writes a still-valid directory's recorded id without
//! looking at its entries. So a directory whose recorded id is the id of
//! the same directory in `HEAD` is committed unchanged, and nothing under it
//! can be a staged change. [`changed`] reads the index file, skips
//! those directories, and compares the remaining entries with `HEAD`'s
//! files. The caller diffs `HEAD` against an in-memory index holding only
//! the entries at those paths, restricted to them as a path list, so the
//! deltas (and the rename detection on them) are libgit2's, as before, and
//! libgit2 never loads the whole index: in a 10,000-file repository that
//! load (its SHA-1 check and path validation of every entry) cost more
//! than the rest of the hook.
//!
//! Anything this reader does not understand (another index version, a
//! split or sparse index, a SHA-256 repository, a truncated file) gives
//! `None`, and the caller diffs the whole tree as before.

use std::borrow::Cow;
use std::collections::HashMap;

use git2::{IndexEntry, IndexTime, Oid, Repository, Tree};

/// One index entry as this module needs it.
struct Entry<'a> {
    /// Borrowed from the file (index versions 2 and 3), or rebuilt from
    /// its prefix compression (version 4).
    path: Cow<'a, [u8]>,
    mode: u32,
    size: u32,
    id: [u8; 20],
    /// The entry's flags as stored (stage bits and more; the name length
    /// bits are recomputed by libgit2) and its extended flags.
    flags: u16,
    ext: u16,
    /// Conflict stage, or intent-to-add: always handed to libgit2.
    special: bool,
}

impl Entry<'_> {
    /// The entry as libgit2 takes it (stat data is not compared by a
    /// tree-to-index diff and is left zero).
    fn to_git2(&self) -> Option<IndexEntry> {
        let zero = IndexTime::new(0, 0);
        Some(IndexEntry {
            ctime: zero,
            mtime: zero,
            dev: 0,
            ino: 0,
            mode: self.mode,
            uid: 0,
            gid: 0,
            file_size: self.size,
            id: Oid::from_bytes(&self.id).ok()?,
            flags: self.flags,
            flags_extended: self.ext,
            path: self.path.to_vec(),
        })
    }
}

/// What the index file holds: its entries (in index order) and the
/// directories whose cache-tree id is valid.
struct IndexFile<'a> {
    entries: Vec<Entry<'a>>,
    valid: HashMap<Vec<u8>, Oid>,
}

/// What the index changes against `HEAD`.
pub(super) struct Staged {
    /// Every path at which the index differs from `HEAD`, sorted.
    pub paths: Vec<Vec<u8>>,
    /// The index's entries at those paths (a path only `HEAD` has has
    /// none), in index order.
    pub entries: Vec<IndexEntry>,
}

impl Staged {
    /// An in-memory index holding only [`Staged::entries`]: diffed against
    /// `HEAD` with [`Staged::paths`] as a literal path list, it gives the
    /// deltas of the whole index (every other path is the same on both
    /// sides, and no unchanged entry lies under a listed path).
    pub fn index(&self) -> Result<git2::Index, git2::Error> {
        let mut mem = git2::Index::new()?;
        for e in &self.entries {
            mem.add(e)?;
        }
        Ok(mem)
    }
}

/// A cursor over the index file's bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    /// Bytes up to the next NUL, which is consumed.
    fn until_nul(&mut self) -> Option<&'a [u8]> {
        let rest = self.buf.get(self.at..)?;
        let n = memchr::memchr(0, rest)?;
        self.at += n + 1;
        Some(&rest[..n])
    }

    /// git's offset varint (index version 4).
    fn varint(&mut self) -> Option<usize> {
        let mut c = *self.take(1)?.first()?;
        let mut v = usize::from(c & 0x7f);
        while c & 0x80 != 0 {
            c = *self.take(1)?.first()?;
            v = v.checked_add(1)?.checked_mul(128)? + usize::from(c & 0x7f);
        }
        Some(v)
    }
}

/// Size of the SHA-1 trailer (and of every id in a SHA-1 index).
const ID: usize = 20;

fn parse(buf: &[u8]) -> Option<IndexFile<'_>> {
    let body = buf.get(..buf.len().checked_sub(ID)?)?;
    let mut c = Cursor { buf: body, at: 0 };
    if c.take(4)? != b"DIRC" {
        return None;
    }
    let version = c.u32()?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = c.u32()? as usize;
    let mut entries = Vec::with_capacity(count.min(1 << 20));
    let mut path: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = c.at;
        c.take(24)?; // ctime, mtime, dev, ino
        let mode = c.u32()?;
        c.take(8)?; // uid, gid
        let size = c.u32()?;
        let id: [u8; ID] = c.take(ID)?.try_into().ok()?;
        let flags = c.u16()?;
        let mut ext = 0u16;
        if flags & 0x4000 != 0 {
            if version < 3 {
                return None;
            }
            ext = c.u16()?;
        }
        let name: Cow<'_, [u8]> = if version == 4 {
            let strip = c.varint()?;
            path.truncate(path.len().checked_sub(strip)?);
            path.extend_from_slice(c.until_nul()?);
            Cow::Owned(path.clone())
        } else {
            let name = c.until_nul()?;
            // Entries are padded with NULs to a multiple of 8 bytes.
            let len = (c.at - 1 - start + 8) & !7;
            c.at = start.checked_add(len)?;
            if c.at > body.len() {
                return None;
            }
            Cow::Borrowed(name)
        };
        // A directory entry is a sparse index: not read here.
        if mode & 0o170000 == 0o040000 {
            return None;
        }
        let stage = (flags >> 12) & 3;
        let intent_to_add = ext & 0x2000 != 0;
        entries.push(Entry {
            path: name,
            mode,
            size,
            id,
            flags,
            ext,
            special: stage != 0 || intent_to_add,
        });
    }
    let mut valid = HashMap::new();
    while c.at < body.len() {
        let sig = c.take(4)?;
        let size = c.u32()? as usize;
        let data = c.take(size)?;
        match sig {
            // A split index keeps entries in another file; a sparse one
            // has directory entries.
            b"link" | b"sdir" => return None,
            b"TREE" => {
                let mut t = Cursor { buf: data, at: 0 };
                tree_node(&mut t, &[], &mut valid)?;
            }
            _ => {}
        }
    }
    Some(IndexFile { entries, valid })
}

/// One cache-tree node and its subtrees, depth first.
fn tree_node(c: &mut Cursor<'_>, parent: &[u8], valid: &mut HashMap<Vec<u8>, Oid>) -> Option<()> {
    let name = c.until_nul()?;
    let mut path = parent.to_vec();
    if !name.is_empty() {
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
    }
    let rest = c.buf.get(c.at..)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let line = std::str::from_utf8(&rest[..nl]).ok()?;
    c.at += nl + 1;
    let (count, subtrees) = line.split_once(' ')?;
    let count: i64 = count.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    if count >= 0 {
        let id = Oid::from_bytes(c.take(ID)?).ok()?;
        valid.insert(path.clone(), id);
    }
    for _ in 0..subtrees {
        tree_node(c, &path, valid)?;
    }
    Some(())
}

/// A file of `HEAD` outside the directories proven unchanged.
struct HeadFile {
    path: Vec<u8>,
    mode: u32,
    id: Oid,
}

/// Collects `HEAD`'s files under `tree`, skipping each subtree whose id the
/// cache-tree records for the same directory (whose path goes to `skipped`).
fn head_files(
    repo: &Repository,
    tree: &Tree<'_>,
    prefix: &[u8],
    valid: &HashMap<Vec<u8>, Oid>,
    files: &mut Vec<HeadFile>,
    skipped: &mut Vec<Vec<u8>>,
) -> Result<(), git2::Error> {
    for e in tree.iter() {
        let mut path = prefix.to_vec();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(e.name_bytes());
        let mode = e.filemode() as u32;
        if mode & 0o170000 == 0o040000 {
            if valid.get(&path) == Some(&e.id()) {
                skipped.push(path);
            } else {
                let sub = repo.find_tree(e.id())?;
                head_files(repo, &sub, &path, valid, files, skipped)?;
            }
        } else {
            files.push(HeadFile {
                path,
                mode,
                id: e.id(),
            });
        }
    }
    Ok(())
}

/// What the index at `index_path` changes against `head` (no paths when
/// nothing is staged), or `None` when the index file cannot be read here
/// and the whole index must be compared.
pub(super) fn changed(
    repo: &Repository,
    index_path: &std::path::Path,
    head: &Tree<'_>,
) -> Option<Staged> {
    let buf = std::fs::read(index_path).ok()?;
    let index = parse(&buf)?;
    if index.valid.get(&b""[..]) == Some(&head.id()) {
        return Some(Staged {
            paths: Vec::new(),
            entries: Vec::new(),
        });
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    head_files(repo, head, &[], &index.valid, &mut files, &mut skipped).ok()?;
    // Index entries in a skipped directory are committed as that
    // directory's recorded tree: they change nothing.
    // Compared as `dir/`, the order they were walked in.
    let skipped: Vec<Vec<u8>> = skipped
        .into_iter()
        .map(|mut d| {
            d.push(b'/');
            d
        })
        .collect();
    let mut skip = skipped.iter().peekable();
    let entries = index.entries.iter().filter(|e| {
        while let Some(d) = skip.peek() {
            if e.path.starts_with(d) {
                return false;
            }
            if d.as_slice() < &*e.path {
                skip.next();
            } else {
                break;
            }
        }
        true
    });
    // Both lists are in full-path byte order: git's tree order walked
    // depth first is the index's order.
    let mut out = Vec::new();
    let mut changed = Vec::new();
    let mut head = files.iter().peekable();
    for e in entries {
        while let Some(h) = head.peek() {
            if h.path.as_slice() < &*e.path {
                out.push(h.path.clone());
                head.next();
            } else {
                break;
            }
        }
        match head.peek() {
            Some(h) if h.path.as_slice() == &*e.path => {
                if e.special || h.mode != e.mode || h.id.as_bytes() != e.id {
                    out.push(e.path.to_vec());
                    changed.push(e);
                }
                // Conflict stages repeat the path: the first match consumes it.
                if !e.special {
                    head.next();
                }
            }
            _ => {
                out.push(e.path.to_vec());
                changed.push(e);
            }
        }
    }
    out.extend(head.map(|h| h.path.clone()));
    out.sort();
    out.dedup();
    // An entry whose path is also a changed directory of `HEAD` (a file
    // that replaced a directory) is listed by its own path above.
    let entries = changed
        .iter()
        .map(|e| e.to_git2())
        .collect::<Option<Vec<_>>>()?;
    Some(Staged {
        paths: out,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::tree_diff::tests::{git, options, rows, write};

    /// The staged deltas with and without the path list, and the paths.
    fn both(d: &std::path::Path) -> (Vec<String>, Vec<String>, Option<Vec<Vec<u8>>>) {
        let repo = Repository::open(d).unwrap();
        let head = repo.head().unwrap().peel_to_tree().unwrap();
        let index = repo.index().unwrap();
        let whole = rows(
            repo.diff_tree_to_index(Some(&head), Some(&index), Some(&mut options()))
                .unwrap(),
        );
        let staged = changed(&repo, index.path().unwrap(), &head);
        let listed = match &staged {
            Some(s) if s.paths.is_empty() => Vec::new(),
            Some(s) => {
                let mut o = options();
                o.disable_pathspec_match(true);
                for x in &s.paths {
                    o.pathspec(x.clone());
                }
                // Only the changed entries, in an index of their own.
                let mem = s.index().unwrap();
                rows(
                    repo.diff_tree_to_index(Some(&head), Some(&mem), Some(&mut o))
                        .unwrap(),
                )
            }
            None => panic!("the index was not read"),
        };
        (whole, listed, staged.map(|s| s.paths))
    }

    #[test]
    fn the_staged_paths_give_the_deltas_of_the_whole_index_diff() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        for (p, t) in [
            ("a/b/c.txt", "c\n"),
            ("a/b/same.txt", "same\n"),
            ("a/d.txt", "d\n"),
            ("a-b.txt", "dash\n"),
            ("a.txt", "dot\n"),
            ("e/f.txt", "f\n"),
            ("g.txt", "g\n"),
            ("h/i/j.txt", "j\n"),
            ("k", "file then dir\n"),
            ("untouched/x/y.txt", "y\n"),
        ] {
            write(d, p, t);
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        // Just committed: the cache-tree is whole and nothing is staged.
        let (whole, listed, paths) = both(d);
        assert!(whole.is_empty() && listed.is_empty());
        assert_eq!(paths, Some(Vec::new()));

        write(d, "a/b/c.txt", "c2\n");
        write(d, "e/new.txt", "new\n");
        std::fs::remove_file(d.join("g.txt")).unwrap();
        git(d, &["mv", "a/d.txt", "e/d-moved.txt"]);
        git(d, &["mv", "a.txt", "a/dot.txt"]);
        std::fs::remove_file(d.join("k")).unwrap();
        write(d, "k/inside.txt", "now a dir\n");
        std::fs::remove_dir_all(d.join("h")).unwrap();
        write(d, "h", "now a file\n");
        git(d, &["add", "-A"]);
        let (whole, listed, paths) = both(d);
        assert_eq!(whole, listed);
        assert!(whole.len() >= 8, "{whole:#?}");
        let paths = paths.unwrap();
        // The untouched directory was never read.
        assert!(
            !paths.iter().any(|p| p.starts_with(b"untouched")),
            "{paths:?}"
        );

        // An index without a cache-tree (as `read-tree --empty` plus adds
        // leave it) still gives the same deltas.
        git(d, &["read-tree", "--empty"]);
        git(d, &["add", "-A"]);
        let (whole, listed, _) = both(d);
        assert_eq!(whole, listed);
        assert!(whole.len() >= 8, "{whole:#?}");

        // A forged index (not a DIRC file) is not read: whole-tree diff.
        let repo = Repository::open(d).unwrap();
        let head = repo.head().unwrap().peel_to_tree().unwrap();
        let junk = d.join("junk-index");
        std::fs::write(&junk, b"not an index at all, long enough to have a trailer").unwrap();
        assert!(changed(&repo, &junk, &head).is_none());
    }

    #[test]
    fn index_versions_3_and_4_and_intent_to_add_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        write(d, "a/one.txt", "1\n");
        write(d, "b/two.txt", "2\n");
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        write(d, "a/one.txt", "1b\n");
        write(d, "a/long-name-to-share-a-prefix-1.txt", "x\n");
        write(d, "a/long-name-to-share-a-prefix-2.txt", "y\n");
        git(d, &["add", "-A"]);
        write(d, "c/ita.txt", "intent\n");
        git(d, &["add", "-N", "c/ita.txt"]);
        for v in ["3", "4"] {
            git(d, &["update-index", "--index-version", v]);
            let (whole, listed, paths) = both(d);
            assert_eq!(whole, listed, "index version {v}");
            let paths = paths.unwrap();
            assert!(paths.contains(&b"c/ita.txt".to_vec()), "{paths:?}");
            assert!(paths.contains(&b"a/long-name-to-share-a-prefix-2.txt".to_vec()));
        }
    }
}
