//! Reading blobs for the engine: whole in memory up to
//! [`MAX_SCAN_BYTES`](crate::check::MAX_SCAN_BYTES), streamed in overlapping
//! windows beyond it, decoded by [`crate::check::content`] either way.
//!
//! A large blob is read through `git cat-file blob`, which streams loose
//! objects and undeltified packed ones (git stores files over
//! `core.bigFileThreshold` that way) and fails cleanly on a corrupt one. Window `k` holds the bytes
//! `[kW - O, (k+1)W + O)` and reports only matches that start in
//! `[kW, (k+1)W)`: a secret up to `O` bytes long that straddles a window
//! boundary is seen whole, with its left context, and reported once.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use git2::{Oid, Repository};
use imara_diff::{Algorithm, Diff, InternedInput};

use crate::check::content::{self, Form};
use crate::check::{AddedChunk, ContentChange, RunAt};

/// Bytes each window of a streamed blob reports on.
pub const WINDOW: usize = 8 << 20;

/// Bytes of context on each side of a window: the longest match that is
/// guaranteed to be found whole across a window boundary.
pub const OVERLAP: usize = 64 << 10;

/// The text of a change, as owned buffers the chunks borrow from.
pub(super) enum Added<'a> {
    /// Lines: `(first line, text)`.
    Lines(Vec<(u32, Cow<'a, [u8]>)>),
    /// Text runs of binary content.
    Runs(Vec<content::Run<'a>>),
}

impl Added<'_> {
    /// The chunks the engine reads.
    pub(super) fn chunks(&self) -> Vec<AddedChunk<'_>> {
        match self {
            Added::Lines(v) => v.iter().map(|(l, t)| AddedChunk::lines(*l, t)).collect(),
            Added::Runs(v) => v
                .iter()
                .map(|r| AddedChunk {
                    first_line: 0,
                    text: &r.text,
                    run: Some(RunAt {
                        offset: r.start as u64,
                        stride: r.stride,
                    }),
                    report: 0..usize::MAX,
                })
                .collect(),
        }
    }
}

/// The added text of `new` against `old` (`None`: all of `new` is added).
pub(super) fn added<'a>(new: &'a [u8], old: Option<&[u8]>) -> Added<'a> {
    let form = content::classify(new, content::has_nul(new));
    match form {
        Form::Text => match old {
            None => Added::Lines(vec![(1, Cow::Borrowed(new))]),
            Some(old) => Added::Lines(diff_lines(&as_text(old), new)),
        },
        Form::Utf16 { big_endian, bom } => {
            let text = content::decode_utf16(new, big_endian, bom);
            match old {
                None => Added::Lines(vec![(1, Cow::Owned(text))]),
                Some(old) => Added::Lines(diff_lines(&as_text(old), &text)),
            }
        }
        Form::Binary => {
            let runs = content::text_runs(new);
            match old {
                None => Added::Runs(runs),
                Some(old) => {
                    // Runs the old version already had are not added here.
                    let before: HashSet<Vec<u8>> = content::text_runs(old)
                        .into_iter()
                        .map(|r| r.text.into_owned())
                        .collect();
                    Added::Runs(
                        runs.into_iter()
                            .filter(|r| !before.contains(&*r.text))
                            .collect(),
                    )
                }
            }
        }
    }
}

/// An old version as the text its lines are compared in.
fn as_text(old: &[u8]) -> Cow<'_, [u8]> {
    match content::classify(old, content::has_nul(old)) {
        Form::Utf16 { big_endian, bom } => Cow::Owned(content::decode_utf16(old, big_endian, bom)),
        _ => Cow::Borrowed(old),
    }
}

/// Added lines: each line's 1-based number and its bytes.
type AddedLines = Vec<(u32, Cow<'static, [u8]>)>;

/// Runs of added lines of `new` against `old`, compared as text whatever
/// bytes they hold.
fn diff_lines(old: &[u8], new: &[u8]) -> AddedLines {
    // Lines keep their terminators, as git compares them: a line that only
    // gained or lost its newline (or `\r`) is changed.
    let input = InternedInput::new(old, new);
    let diff = Diff::compute(Algorithm::Histogram, &input);
    // Where each line of `new` starts; its added runs are slices of it.
    let mut starts = Vec::with_capacity(input.after.len() + 1);
    let mut at = 0usize;
    for t in &input.after {
        starts.push(at);
        at += input.interner[*t].len();
    }
    starts.push(at);
    let mut out: AddedLines = Vec::new();
    for h in diff.hunks() {
        if h.after.is_empty() {
            continue;
        }
        let (a, b) = (h.after.start as usize, h.after.end as usize);
        out.push((
            h.after.start + 1,
            Cow::Owned(new[starts[a]..starts[b]].to_vec()),
        ));
    }
    out
}

/// A blob's byte stream: `git cat-file blob`'s stdout. (libgit2's ODB
/// stream reads loose objects only, and spins without end on a truncated
/// one; git streams loose and packed objects and fails cleanly.)
struct Stream {
    child: Child,
    out: ChildStdout,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.out.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let status = self.child.wait()?;
            if !status.success() {
                let mut err = String::new();
                if let Some(e) = self.child.stderr.as_mut() {
                    let _ = e.take(4096).read_to_string(&mut err);
                }
                return Err(std::io::Error::other(format!(
                    "`git cat-file` failed: {}",
                    err.trim()
                )));
            }
        }
        Ok(n)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn open(repo: &Repository, oid: Oid) -> std::io::Result<Stream> {
    let git_dir: &Path = repo.path();
    // git streams a packed blob only when it is larger than
    // `core.bigFileThreshold`; below it, it reads the blob whole.
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["-c", "core.bigFileThreshold=1m"])
        .args(["cat-file", "blob", &oid.to_string()])
        .current_dir(git_dir)
        .env("LC_MESSAGES", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout from `git cat-file`"))?;
    Ok(Stream { child, out })
}

/// One window of a streamed blob.
pub(super) struct Window<'a> {
    /// The bytes, context on both sides included.
    pub bytes: &'a [u8],
    /// Offset of `bytes[0]` in the blob.
    pub start: u64,
    /// The part this window reports on.
    pub report: Range<usize>,
    /// The last window.
    pub last: bool,
}

/// Reads blob `oid` of `size` bytes window by window. Memory stays at one
/// window plus its context whatever the size.
pub(super) fn stream(
    repo: &Repository,
    oid: Oid,
    size: u64,
    f: &mut dyn FnMut(Window<'_>),
) -> std::io::Result<()> {
    let mut reader = open(repo, oid)?;
    // One buffer for the whole blob, filled in place: `len` bytes of it
    // hold data.
    let mut buf = vec![0u8; WINDOW + 2 * OVERLAP];
    let mut len = 0usize;
    let mut start = 0u64;
    let mut first = true;
    loop {
        let from = if first { 0 } else { OVERLAP };
        let want = from + WINDOW + OVERLAP;
        while len < want {
            match reader.read(&mut buf[len..want]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let end = start + len as u64;
        let last = len < want || end >= size;
        if last && end != size {
            return Err(std::io::Error::other(format!(
                "the blob stream ended at byte {end} of {size}"
            )));
        }
        let to = if last { len } else { from + WINDOW };
        f(Window {
            bytes: &buf[..len],
            start,
            report: from..to,
            last,
        });
        if last {
            return Ok(());
        }
        // The last 2 × OVERLAP bytes are the next window's left context
        // and the start of its own part.
        buf.copy_within(to - OVERLAP..len, 0);
        len -= to - OVERLAP;
        start += (to - OVERLAP) as u64;
        first = false;
    }
}

/// Turns streamed windows into changes: the first window decides how the
/// blob is read (text, UTF-16 or binary runs), line numbers carry over.
pub(super) fn stream_changes(
    repo: &Repository,
    base: &ContentChange<'_>,
    oid: Oid,
    f: &mut dyn FnMut(&ContentChange<'_>),
) -> std::io::Result<()> {
    let mut form: Option<Form> = None;
    let mut lines_before = 0u32;
    stream(repo, oid, base.size, &mut |w: Window<'_>| {
        let form = *form.get_or_insert_with(|| {
            let head = &w.bytes[..w.bytes.len().min(1 << 16)];
            content::classify(head, content::has_nul(w.bytes))
        });
        let decoded: Vec<u8>;
        let runs: Vec<content::Run<'_>>;
        let chunks: Vec<AddedChunk<'_>> = match form {
            Form::Text => vec![AddedChunk {
                first_line: lines_before.saturating_add(1),
                text: w.bytes,
                run: None,
                report: w.report.clone(),
            }],
            Form::Utf16 { big_endian, bom } => {
                // Decoded in three parts so the reported range maps exactly.
                let b = w.bytes;
                let (r0, r1) = (w.report.start, w.report.end);
                let mut text = content::decode_utf16(&b[..r0], big_endian, false);
                let lo = text.len();
                text.extend(content::decode_utf16(
                    &b[r0..r1],
                    big_endian,
                    bom && w.start == 0,
                ));
                let hi = text.len();
                text.extend(content::decode_utf16(&b[r1..], big_endian, false));
                decoded = text;
                vec![AddedChunk {
                    first_line: lines_before.saturating_add(1),
                    text: &decoded,
                    run: None,
                    report: lo..hi,
                }]
            }
            Form::Binary => {
                runs = content::text_runs(w.bytes);
                runs.iter()
                    .filter_map(|r| {
                        let stride = usize::from(r.stride);
                        let char_at = |raw: usize| raw.saturating_sub(r.start).div_ceil(stride);
                        let report = char_at(w.report.start)..char_at(w.report.end);
                        (report.start < report.end.min(r.text.len())).then(|| AddedChunk {
                            first_line: 0,
                            text: &r.text,
                            run: Some(RunAt {
                                offset: w.start + r.start as u64,
                                stride: r.stride,
                            }),
                            report,
                        })
                    })
                    .collect()
            }
        };
        f(&ContentChange {
            added: &chunks,
            ..base.clone()
        });
        if !w.last {
            let drained = &w.bytes[..w.report.end - OVERLAP];
            let n = match form {
                Form::Utf16 { big_endian, .. } => content::utf16_newlines(drained, big_endian),
                _ => content::newlines(drained),
            };
            lines_before = lines_before.saturating_add(n);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reported match, as (offset in the blob, text), over all windows.
    fn reported(repo: &Repository, data: &[u8], re: &regex::bytes::Regex) -> Vec<(u64, Vec<u8>)> {
        let oid = repo.blob(data).unwrap();
        let mut out = Vec::new();
        let mut windows = 0;
        stream(repo, oid, data.len() as u64, &mut |w: Window<'_>| {
            windows += 1;
            assert!(w.bytes.len() <= WINDOW + 2 * OVERLAP);
            for m in re.find_iter(w.bytes) {
                if w.report.contains(&m.start()) {
                    out.push((w.start + m.start() as u64, m.as_bytes().to_vec()));
                }
            }
        })
        .unwrap();
        // The last window takes up to OVERLAP bytes past its own part.
        assert_eq!(windows, (data.len() - OVERLAP).div_ceil(WINDOW));
        out
    }

    #[test]
    fn a_match_straddling_any_window_edge_is_reported_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let re = regex::bytes::Regex::new(r"KEY[0-9]{30}").unwrap();
        let key = b"KEY123456789012345678901234567890";
        let size = 3 * WINDOW + OVERLAP + 12345;
        let mut data = vec![b'.'; size];
        // Just before, across and just after each edge, and at both ends.
        let mut at = vec![0, size - key.len()];
        for edge in [WINDOW, 2 * WINDOW, 3 * WINDOW] {
            at.extend([edge - key.len(), edge - 5, edge, edge + 1]);
            at.push(edge - OVERLAP - 3);
            at.push(edge + OVERLAP - 3);
        }
        at.sort();
        for &a in &at {
            data[a..a + key.len()].copy_from_slice(key);
        }
        let got = reported(&repo, &data, &re);
        let offsets: Vec<u64> = got.iter().map(|(o, _)| *o).collect();
        // Keys closer than their length overlap; the regex sees the
        // leftmost of each cluster, exactly as a scan of the whole blob.
        let whole: Vec<u64> = re.find_iter(&data).map(|m| m.start() as u64).collect();
        assert_eq!(offsets, whole);
        assert!(got.iter().all(|(_, t)| t == key));
    }

    #[test]
    fn streamed_text_keeps_line_numbers_and_binary_keeps_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut text = Vec::new();
        let mut line = 1u32;
        while text.len() < 2 * WINDOW + 100 {
            text.extend(b"0123456789abcdef\n");
            line += 1;
        }
        text.extend(b"KEY123456789012345678901234567890\n");
        let oid = repo.blob(&text).unwrap();
        let base = ContentChange {
            path: b"t",
            blob: "0",
            size: text.len() as u64,
            commit: None,
            new_path: true,
            added: &[],
            unscanned: false,
        };
        let mut seen = Vec::new();
        stream_changes(&repo, &base, oid, &mut |c: &ContentChange<'_>| {
            for ch in c.added {
                if let Some(i) = memchr::memmem::find(ch.text, b"KEY1") {
                    if ch.report.contains(&i) {
                        seen.push(ch.first_line + content::newlines(&ch.text[..i]));
                    }
                }
            }
        })
        .unwrap();
        assert_eq!(seen, [line]);

        let mut bin = vec![0u8; WINDOW + 16];
        bin[WINDOW - 4..WINDOW + 2].copy_from_slice(b"\0\0\0\0\0\0");
        let at = WINDOW - 10;
        for (i, b) in b"KEY12345".iter().enumerate() {
            bin[at + 2 * i] = *b;
        }
        bin.resize(WINDOW + OVERLAP * 3, 0);
        let oid = repo.blob(&bin).unwrap();
        let base = ContentChange {
            size: bin.len() as u64,
            ..base
        };
        let mut offsets = Vec::new();
        stream_changes(&repo, &base, oid, &mut |c: &ContentChange<'_>| {
            for ch in c.added {
                if let Some(run) = ch.run {
                    if ch.report.contains(&0) {
                        offsets.push((run.offset, run.stride, ch.text.to_vec()));
                    }
                }
            }
        })
        .unwrap();
        assert_eq!(offsets, [(at as u64, 2, b"KEY12345".to_vec())]);
    }
}
