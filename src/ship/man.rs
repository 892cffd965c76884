//! Man pages generated from the clap definitions (`clap_mangen`): one page
//! for `tollgate` and one for every subcommand at every depth
//! (`tollgate-verify.1`, `tollgate-audit-log.1`, …), so `man tollgate-verify`
//! works once the folder is on `MANPATH`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the man pages could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ManError {
    /// The output folder could not be created.
    #[error("cannot create man page folder `{path}`")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A page could not be written.
    #[error("cannot write man page `{path}`")]
    Write {
        /// The page.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `<name>.1` for `cmd` and each of its subcommands (hidden ones and
/// clap's `help` left out) into `out_dir`, creating it; returns the pages
/// written, parents before children.
pub fn write_all(cmd: clap::Command, out_dir: &Path) -> Result<Vec<PathBuf>, ManError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ManError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut cmd = cmd.disable_help_subcommand(true);
    // Building sets each subcommand's display name (`tollgate-verify`),
    // which names its page and its NAME section.
    cmd.build();
    let info = super::build::BuildInfo::current();
    let source = format!("{} {}", info.name, info.version);
    let mut written = Vec::new();
    write_one(&cmd, out_dir, info.date, &source, &mut written)?;
    Ok(written)
}

fn write_one(
    cmd: &clap::Command,
    out_dir: &Path,
    date: &str,
    source: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), ManError> {
    let man = clap_mangen::Man::new(cmd.clone())
        .date(date)
        .source(source)
        .manual("tollgate manual");
    let path = out_dir.join(man.get_filename());
    let mut page = Vec::new();
    let write = |page: &mut Vec<u8>| -> std::io::Result<()> {
        man.render(page)?;
        if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
            see_also(cmd, page)?;
        }
        Ok(())
    };
    write(&mut page)
        .and_then(|()| {
            let mut f = std::fs::File::create(&path)?;
            f.write_all(&page)?;
            f.flush()
        })
        .map_err(|source| ManError::Write {
            path: path.clone(),
            source,
        })?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_one(sub, out_dir, date, source, written)?;
    }
    Ok(())
}

/// A SEE ALSO section naming the subcommands' pages.
fn see_also(cmd: &clap::Command, w: &mut Vec<u8>) -> std::io::Result<()> {
    writeln!(w, ".SH \"SEE ALSO\"")?;
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!(".BR {} (1)", s.get_display_name().unwrap_or(s.get_name())))
        .collect();
    for (i, n) in names.iter().enumerate() {
        if i + 1 < names.len() {
            writeln!(w, "{n},")?;
        } else {
            writeln!(w, "{n}")?;
        }
    }
    Ok(())
}
