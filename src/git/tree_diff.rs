//! Tree-to-tree diffs that cost what the change costs, not what the tree
//! holds.
//!
//! libgit2's `diff_tree_to_tree` walks every entry of both trees, however
//! little differs: on a 3,000-file tree that is 6,000 entries, and as many
//! subtrees inflated and parsed, for a commit that touches one file (a
//! 316-commit range took 5.9× `git log -p`). git itself skips a subtree
//! whose id is the same on both sides. [`changed_paths`] does that walk and
//! hands libgit2 the paths it found as a literal path list, which libgit2's
//! tree iterator uses to skip every other subtree unread: the deltas, and
//! the rename detection run on them, are libgit2's own, exactly as before.

use git2::{Diff, DiffOptions, Repository, Tree, TreeEntry};

/// A tree entry's mode bits for a subtree.
const TREE_MODE: i32 = 0o040000;

fn is_tree(e: &TreeEntry<'_>) -> bool {
    e.filemode() & 0o170000 == TREE_MODE
}

/// Git's tree order: names compared as bytes, a subtree's name as if it
/// ended in `/`.
fn order(a: &TreeEntry<'_>, b: &TreeEntry<'_>) -> std::cmp::Ordering {
    let (an, bn) = (a.name_bytes(), b.name_bytes());
    let n = an.len().min(bn.len());
    an[..n].cmp(&bn[..n]).then_with(|| {
        // Past the common part: the next byte, a subtree's `/` if its name
        // ends there, or nothing. Names hold no `/`, so one byte decides.
        let next = |name: &[u8], tree: bool| name.get(n).copied().or(tree.then_some(b'/'));
        next(an, is_tree(a)).cmp(&next(bn, is_tree(b)))
    })
}

/// Joins `prefix` and an entry name into a repository path.
fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(prefix.len() + name.len() + 1);
    if !prefix.is_empty() {
        p.extend_from_slice(prefix);
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// Every path at which `old` and `new` differ, sorted and deduplicated: a
/// file whose id or mode changed, or that one side lacks; a subtree that
/// one side lacks (or where the other side has a file) as its own path,
/// which covers everything under it. Subtrees with the same id on both
/// sides are never read.
pub(super) fn changed_paths(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
) -> Result<Vec<Vec<u8>>, git2::Error> {
    let mut out = Vec::new();
    walk(repo, old, new, &[], &mut out)?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
    prefix: &[u8],
    out: &mut Vec<Vec<u8>>,
) -> Result<(), git2::Error> {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        let ord = match (a.peek(), b.peek()) {
            (None, None) => return Ok(()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => order(x, y),
        };
        match ord {
            std::cmp::Ordering::Less => {
                let Some(x) = a.next() else { continue };
                out.push(join(prefix, x.name_bytes()));
            }
            std::cmp::Ordering::Greater => {
                let Some(y) = b.next() else { continue };
                out.push(join(prefix, y.name_bytes()));
            }
            std::cmp::Ordering::Equal => {
                let (Some(x), Some(y)) = (a.next(), b.next()) else {
                    continue;
                };
                if x.id() == y.id() && x.filemode() == y.filemode() {
                    continue;
                }
                let path = join(prefix, x.name_bytes());
                if is_tree(&x) && is_tree(&y) {
                    let (xt, yt) = (repo.find_tree(x.id())?, repo.find_tree(y.id())?);
                    walk(repo, &xt, &yt, &path, out)?;
                } else {
                    out.push(path);
                }
            }
        }
    }
}

/// The diff from `old` (the empty tree for `None`) to `new` with `opts`,
/// reading only the subtrees that differ.
pub(super) fn diff_trees<'r>(
    repo: &'r Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
    opts: &mut DiffOptions,
) -> Result<Diff<'r>, git2::Error> {
    if let Some(old) = old {
        let paths = changed_paths(repo, old, new)?;
        if paths.is_empty() {
            // An empty path list would mean "everything": the same trees
            // have no deltas, and two empty sides give that for free.
            return repo.diff_tree_to_tree(None, None, Some(opts));
        }
        opts.disable_pathspec_match(true);
        for p in paths {
            opts.pathspec(p);
        }
    }
    repo.diff_tree_to_tree(old, Some(new), Some(opts))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use git2::{DiffFindOptions, Oid};
    use std::path::Path;
    use std::process::Command;

    /// Runs hermetic `git` in `dir`.
    pub(in crate::git) fn git(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_SYSTEM", "/dev/null")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    }

    /// Writes `text` at `rel` under `dir`, making directories.
    pub(in crate::git) fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// The deltas of a diff after exact rename detection, as comparable rows.
    pub(in crate::git) fn rows(mut diff: Diff<'_>) -> Vec<String> {
        diff.find_similar(Some(
            DiffFindOptions::new().renames(true).exact_match_only(true),
        ))
        .unwrap();
        diff.deltas()
            .map(|d| {
                format!(
                    "{:?} {:?}:{}:{:o} -> {:?}:{}:{:o}",
                    d.status(),
                    d.old_file().path(),
                    d.old_file().id(),
                    u32::from(d.old_file().mode()),
                    d.new_file().path(),
                    d.new_file().id(),
                    u32::from(d.new_file().mode()),
                )
            })
            .collect()
    }

    /// The diff options tollgate's deltas use, for the comparisons here.
    pub(in crate::git) fn options() -> DiffOptions {
        let mut o = DiffOptions::new();
        o.context_lines(0)
            .ignore_submodules(true)
            .include_typechange(true)
            .skip_binary_check(true);
        o
    }

    #[test]
    fn the_path_list_diff_has_the_deltas_of_the_whole_tree_diff() {
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
            ("run.sh", "echo\n"),
        ] {
            write(d, p, t);
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        // Edits, an addition, a deletion, exact renames (one across
        // directories), a typechange file -> directory and directory ->
        // file, a mode change, and a copy of an unchanged file.
        write(d, "a/b/c.txt", "c2\n");
        write(d, "e/new.txt", "new\n");
        std::fs::remove_file(d.join("g.txt")).unwrap();
        git(d, &["mv", "a/d.txt", "e/d-moved.txt"]);
        git(d, &["mv", "a.txt", "a/dot.txt"]);
        std::fs::remove_file(d.join("k")).unwrap();
        write(d, "k/inside.txt", "now a dir\n");
        std::fs::remove_dir_all(d.join("h")).unwrap();
        write(d, "h", "now a file\n");
        write(d, "copy/same.txt", "same\n");
        git(d, &["update-index", "--chmod=+x", "run.sh"]);
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "two"]);
        // A commit that changes nothing.
        git(d, &["commit", "-q", "--allow-empty", "-m", "three"]);

        let repo = Repository::open(d).unwrap();
        let mut walk = repo.revwalk().unwrap();
        walk.push_head().unwrap();
        let commits: Vec<Oid> = walk.map(Result::unwrap).collect();
        assert_eq!(commits.len(), 3);
        for id in commits {
            let c = repo.find_commit(id).unwrap();
            let tree = c.tree().unwrap();
            let parent = c.parents().next().map(|p| p.tree().unwrap());
            let whole = repo
                .diff_tree_to_tree(parent.as_ref(), Some(&tree), Some(&mut options()))
                .unwrap();
            let listed = diff_trees(&repo, parent.as_ref(), &tree, &mut options()).unwrap();
            let (whole, listed) = (rows(whole), rows(listed));
            assert_eq!(whole, listed, "commit {id}");
            if c.parent_count() == 1 && c.summary() == Some("two") {
                assert!(whole.len() >= 10, "{whole:#?}");
                assert!(whole.iter().any(|r| r.starts_with("Renamed")), "{whole:#?}");
            }
        }
    }
}
