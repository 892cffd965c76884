//! Pending audit records: written before a token is consumed, removed only
//! once the record is in `refs/notes/tollgate`, so that a crash between the
//! two never loses a record.
//!
//! Every pending record is complete and signed by the run that consumed
//! its token: a commit-time record names the staged tree and parent
//! instead of a commit, and the `post-commit` hook (or any later run)
//! attaches it to the commit with exactly that tree and parent. Nothing
//! found here is ever signed: a file that is not a signed record is
//! reported and moved aside, never lost and never trusted.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{parse_line, AuditRecord};
use crate::state::write_atomic;

const SCHEMA: &str = "tollgate/pending/v2";

/// A pending file larger than this is not a record (a record is a few KiB).
const MAX_PENDING_BYTES: u64 = 1 << 20;

/// A signed record waiting for its note.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    /// Always `tollgate/pending/v2`.
    pub schema: String,
    /// The signed record line.
    pub line: String,
}

impl Pending {
    /// A signed record.
    pub fn signed(record: &AuditRecord) -> Result<Pending, super::AuditError> {
        Ok(Pending {
            schema: SCHEMA.into(),
            line: record.to_line()?,
        })
    }

    /// The record, parsed strictly.
    pub fn record(&self) -> Result<AuditRecord, String> {
        parse_line(&self.line).map_err(|e| e.to_string())
    }
}

/// The pending records of one repository: `<state dir>/pending/`.
pub struct PendingDir {
    dir: PathBuf,
}

impl PendingDir {
    /// The directory under tollgate's state dir.
    pub fn at(state_dir: &Path) -> PendingDir {
        PendingDir {
            dir: state_dir.join("pending"),
        }
    }

    /// Writes a pending record atomically. Its file is named by the token
    /// and this process, so that of several processes racing to consume
    /// one token, each drops only its own file.
    pub fn save(&self, pending: &Pending) -> io::Result<PathBuf> {
        let token = pending.record().map(|r| r.token_id).unwrap_or_default();
        let path = self
            .dir
            .join(format!("{token}-{}.json", std::process::id()));
        let mut json = serde_json::to_vec_pretty(pending).map_err(io::Error::other)?;
        json.push(b'\n');
        write_atomic(&path, &json)?;
        Ok(path)
    }

    /// Every pending record, oldest name first; a file that cannot be read
    /// is returned with its error (and left in place).
    pub fn list(&self) -> io::Result<Vec<(PathBuf, Result<Pending, String>)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        Ok(paths
            .into_iter()
            .map(|p| {
                let parsed = read_bounded(&p).and_then(|b| {
                    let pending = serde_json::from_slice::<Pending>(&b)
                        .map_err(|e| format!("not a pending record: {e}"))?;
                    if pending.schema == SCHEMA {
                        Ok(pending)
                    } else {
                        Err(format!(
                            "unknown schema `{}`",
                            crate::text::escape_controls(&pending.schema)
                        ))
                    }
                });
                (p, parsed)
            })
            .collect())
    }

    /// Moves a file that is not a usable record to `pending/rejected/`, so
    /// it is neither trusted nor lost; returns where it went.
    pub fn reject(&self, path: &Path) -> io::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        fs::create_dir_all(&dir)?;
        let name = path.file_name().unwrap_or_default();
        let to = dir.join(name);
        fs::rename(path, &to)?;
        Ok(to)
    }

    /// Whether any pending file exists (cheap: one directory read).
    pub fn is_empty(&self) -> bool {
        fs::read_dir(&self.dir).map_or(true, |mut e| {
            !e.any(|d| d.is_ok_and(|d| d.path().extension().is_some_and(|x| x == "json")))
        })
    }

    /// Removes a pending record once its note is written.
    pub fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Reads a pending file that is a regular file (not a symlink) of at most
/// [`MAX_PENDING_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let meta = fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_file() {
        return Err("not a regular file (a symlink or something else)".into());
    }
    if meta.len() > MAX_PENDING_BYTES {
        return Err(format!("{} bytes: too large to be a record", meta.len()));
    }
    let mut buf = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_PENDING_BYTES + 1).read_to_end(&mut buf))
        .map_err(|e| e.to_string())?;
    Ok(buf)
}
