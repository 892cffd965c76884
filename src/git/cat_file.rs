//! Bulk object reads through one `git cat-file --batch`.
//!
//! libgit2 caches only the full object at the bottom of a delta chain, so
//! every object it unpacks re-applies its whole chain (up to 50 deltas,
//! each inflated). A notes history is nothing but long chains: reading the
//! 50,000 note blobs of a 100,000-record trail took libgit2 over 15 s,
//! `git cat-file --batch` 2.6 s, and walking the 100,000 notes commits'
//! trees 30 s against a few. git keeps the intermediate bases. Objects
//! are read from the same repository (the environment is inherited, so a
//! quarantine's object directories are seen too).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use git2::Oid;

use super::GitError;

/// Ids written before their answers are read: 256 of them (at most
/// 65 bytes each with SHA-256) stay well under a pipe's 64 KiB.
const PIPELINE: usize = 256;

/// One running `git cat-file --batch`.
pub(super) struct CatFile {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl CatFile {
    /// Starts `git cat-file --batch` in `dir`.
    pub(super) fn start(dir: &Path) -> Result<CatFile, GitError> {
        let fail = |why: String| GitError::Command {
            args: "cat-file --batch".into(),
            why,
        };
        let mut child = Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(dir)
            .env("LC_MESSAGES", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(fail("no pipes".into()));
        };
        Ok(CatFile {
            child,
            input,
            output: BufReader::with_capacity(1 << 16, output),
        })
    }

    /// The contents of `ids`, in their order (each must be a `kind`). The
    /// ids go out in batches of [`PIPELINE`] before their answers are
    /// read, so that a thousand notes cost a few round trips instead of a
    /// thousand (a batch's ids fit in the pipe, so neither side can block
    /// on a full pipe while the other waits).
    pub(super) fn read_all(&mut self, ids: &[Oid], want: &str) -> Result<Vec<Vec<u8>>, GitError> {
        let mut out = Vec::with_capacity(ids.len());
        for batch in ids.chunks(PIPELINE) {
            self.ask(batch)?;
            for &id in batch {
                let (kind, data) = self.answer(id)?;
                if kind != want {
                    return Err(GitError::Command {
                        args: format!("cat-file --batch ({id})"),
                        why: format!("a {kind}, not a {want}"),
                    });
                }
                out.push(data);
            }
        }
        Ok(out)
    }

    fn ask(&mut self, ids: &[Oid]) -> Result<(), GitError> {
        let mut request = String::with_capacity(ids.len() * 65);
        for id in ids {
            request.push_str(&id.to_string());
            request.push('\n');
        }
        self.input
            .write_all(request.as_bytes())
            .and_then(|()| self.input.flush())
            .map_err(|e| GitError::Command {
                args: "cat-file --batch".into(),
                why: e.to_string(),
            })
    }

    /// The type and content of `id`, the next answer; an error when it
    /// is missing.
    fn answer(&mut self, id: Oid) -> Result<(String, Vec<u8>), GitError> {
        let fail = |why: String| GitError::Command {
            args: format!("cat-file --batch ({id})"),
            why,
        };
        let mut header = String::new();
        self.output
            .read_line(&mut header)
            .map_err(|e| fail(e.to_string()))?;
        // `<id> <type> <size>`, or `<id> missing`.
        let mut parts = header.split_whitespace();
        let (Some(_), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(fail(format!("the object is {}", header.trim())));
        };
        let size: usize = size
            .parse()
            .map_err(|_| fail(format!("bad header {header:?}")))?;
        let mut data = vec![0; size + 1];
        self.output
            .read_exact(&mut data)
            .map_err(|e| fail(e.to_string()))?;
        data.pop(); // the newline after the content
        Ok((kind.to_string(), data))
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
