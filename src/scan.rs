//! Scanning files and streams outside a git diff (`tollgate scan`): a
//! directory tree (respecting `.gitignore`, `.ignore` and git's exclude
//! files through the `ignore` crate, as ripgrep does), single files, or
//! stdin. Each file is judged as if it were added whole: the same content
//! constraints as a commit (secrets, forbidden paths, file size), with the
//! same findings and fingerprints.
//!
//! This module walks and reads; it decides nothing and prints nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::check::{AddedChunk, ContentChange, Engine, Findings, MAX_SCAN_BYTES};

/// What went wrong walking or reading.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory walk failed.
    #[error("cannot walk `{path}`: {source}")]
    Walk {
        /// The path given.
        path: PathBuf,
        /// The cause.
        #[source]
        source: ignore::Error,
    },
}

/// How to walk.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Honour `.gitignore`, `.ignore` and git's excludes (the default).
    pub respect_ignore: bool,
}

/// Scans every file under `paths` (files or directories); `.git`
/// directories are never entered. Calls `progress` with the count of files
/// scanned so far after each file.
pub fn scan_paths(
    engine: &Engine<'_>,
    paths: &[PathBuf],
    opts: WalkOptions,
    out: &mut Findings,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, ScanError> {
    let mut count = 0;
    for root in paths {
        std::fs::metadata(root).map_err(|source| ScanError::Read {
            path: root.clone(),
            source,
        })?;
        let walk = ignore::WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(opts.respect_ignore)
            .git_exclude(opts.respect_ignore)
            .git_global(opts.respect_ignore)
            .ignore(opts.respect_ignore)
            .parents(opts.respect_ignore)
            .require_git(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walk {
            let entry = entry.map_err(|source| ScanError::Walk {
                path: root.clone(),
                source,
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            scan_file(engine, path, &shown_path(root, path), out)?;
            count += 1;
            progress(count);
        }
    }
    Ok(count)
}

/// The path as shown in findings: as given on the command line, joined
/// with the part below it, without a leading `./`.
fn shown_path(root: &Path, path: &Path) -> String {
    let p = path.to_string_lossy();
    let p = p.strip_prefix("./").unwrap_or(&p).to_string();
    if p.is_empty() {
        root.to_string_lossy().into_owned()
    } else {
        p
    }
}

/// Scans one file; one larger than [`MAX_SCAN_BYTES`] is judged by size
/// and path only.
pub fn scan_file(
    engine: &Engine<'_>,
    path: &Path,
    shown: &str,
    out: &mut Findings,
) -> Result<(), ScanError> {
    let err = |source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(err)?.len();
    if size > MAX_SCAN_BYTES {
        check_bytes(engine, shown.as_bytes(), size, None, out);
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(err)?;
    check_bytes(engine, shown.as_bytes(), size, Some(&bytes), out);
    Ok(())
}

/// Scans a stream (stdin) as one file named `name`.
pub fn scan_reader(
    engine: &Engine<'_>,
    reader: &mut dyn Read,
    name: &str,
    out: &mut Findings,
) -> Result<(), ScanError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_SCAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ScanError::Read {
            path: PathBuf::from(name),
            source,
        })?;
    let size = bytes.len() as u64;
    let content = (size <= MAX_SCAN_BYTES).then_some(bytes.as_slice());
    check_bytes(engine, name.as_bytes(), size, content, out);
    Ok(())
}

/// Judges `bytes` as a whole new file at `path`; binary content (a NUL in
/// the first 8 KiB, git's rule) has no lines to scan; `None` means too
/// large to read.
pub fn check_bytes(
    engine: &Engine<'_>,
    path: &[u8],
    size: u64,
    bytes: Option<&[u8]>,
    out: &mut Findings,
) {
    let text = bytes.filter(|b| !b[..b.len().min(8000)].contains(&0));
    let chunk = text.map(|t| AddedChunk::lines(1, t));
    let added: Vec<AddedChunk<'_>> = chunk.into_iter().collect();
    // The git blob id, so that path and size findings fingerprint as they
    // would in a commit of the same content.
    let blob = bytes
        .and_then(|b| git2::Oid::hash_object(git2::ObjectType::Blob, b).ok())
        .map(|o| o.to_string())
        .unwrap_or_default();
    engine.check_content(
        &ContentChange {
            path,
            blob: &blob,
            size,
            commit: None,
            new_path: true,
            added: &added,
            unscanned: bytes.is_none(),
        },
        out,
    );
}
