//! tollgate's files under the common git dir (`.git/tollgate/`): written
//! atomically (temporary file, fsync, rename, fsync of the directory), so a
//! crash leaves the old content or the new, never a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::allow::Shown;

/// Writes `bytes` to `path` atomically, creating the directory if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The last blocked run, so that `tollgate override B1` can name a blocker
/// and re-evaluate the same event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LastRun {
    /// Always `tollgate/last-run/v1`.
    pub schema: String,
    /// `commit` or `push`.
    pub event: crate::check::EventKind,
    /// For a push: the remote name or URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// For a push: the pre-push lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push_lines: Vec<String>,
    /// The findings as numbered then.
    pub findings: Vec<Shown>,
}

impl LastRun {
    /// Where it is kept.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("last-run.json")
    }

    /// Saves it atomically.
    pub fn save(&self, state_dir: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomic(&Self::path(state_dir), &json)
    }

    /// Loads it; `Ok(None)` when there is none.
    pub fn load(state_dir: &Path) -> io::Result<Option<LastRun>> {
        match fs::read(Self::path(state_dir)) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", Self::path(state_dir).display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
