//! Pending audit records: written before a token is consumed, removed only
//! once the record is in `refs/notes/tollgate`, so that a crash or a failed
//! signature between the two never loses a record.
//!
//! A record made at commit time cannot name its commit yet: it waits with
//! the staged tree and parent it was made for, and the `post-commit` hook
//! (or any later tollgate run) attaches it to the commit with exactly that
//! tree and parent. A record made at push time is complete and signed; it
//! waits only for the note to be written.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::AuditRecord;
use crate::state::write_atomic;

const SCHEMA: &str = "tollgate/pending/v1";

/// A record waiting for its note.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    /// Always `tollgate/pending/v1`.
    pub schema: String,
    /// The record; `commit` and `signature` are empty while it waits for
    /// its commit.
    pub record: AuditRecord,
    /// For a commit-time record: the commit it belongs to has this tree…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<String>,
    /// …and this first parent (`None` for a root commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

impl Pending {
    /// A record that waits for the commit of `tree` on `parent`.
    pub fn for_commit(record: AuditRecord, tree: String, parent: Option<String>) -> Pending {
        Pending {
            schema: SCHEMA.into(),
            record,
            tree: Some(tree),
            parent,
        }
    }

    /// A complete, signed record that waits for its note.
    pub fn signed(record: AuditRecord) -> Pending {
        Pending {
            schema: SCHEMA.into(),
            record,
            tree: None,
            parent: None,
        }
    }

    /// Whether it still needs its commit.
    pub fn awaits_commit(&self) -> bool {
        self.record.commit.is_empty()
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
        let path = self.dir.join(format!(
            "{}-{}.json",
            pending.record.token_id,
            std::process::id()
        ));
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
                let parsed = fs::read(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice::<Pending>(&b).map_err(|e| e.to_string()))
                    .and_then(|pending| {
                        if pending.schema == SCHEMA {
                            Ok(pending)
                        } else {
                            Err(format!("unknown schema `{}`", pending.schema))
                        }
                    });
                (p, parsed)
            })
            .collect())
    }

    /// Whether any pending file exists (cheap: one directory read).
    pub fn is_empty(&self) -> bool {
        fs::read_dir(&self.dir).map_or(true, |mut e| e.next().is_none())
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
