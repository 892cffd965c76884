//! `tollgate version` and `tollgate man`: thin wiring over `crate::ship`.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use super::{Cli, Ctx, Outcome};
use crate::ship::build::BuildInfo;
use crate::ship::man;

/// Output format of `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VersionFormat {
    /// Lines for people, on stdout.
    #[default]
    Human,
    /// One JSON object on stdout.
    Json,
}

/// Arguments of `tollgate version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = VersionFormat::Human)]
    format: VersionFormat,
}

/// Arguments of `tollgate man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write the pages into (created if missing), e.g. `~/.local/share/man/man1`
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
}

/// Prints the build stamp.
pub fn version(ctx: &Ctx, args: VersionArgs) -> anyhow::Result<Outcome> {
    let info = BuildInfo::current();
    ctx.printer.stdout(&match args.format {
        VersionFormat::Human => info.to_text(),
        VersionFormat::Json => info.to_json(),
    });
    Ok(Outcome::Pass)
}

/// Writes the man pages.
pub fn man(ctx: &Ctx, args: ManArgs) -> anyhow::Result<Outcome> {
    let pages = man::write_all(Cli::command(), &args.out_dir)?;
    ctx.printer.info(&format!(
        "wrote {} man pages into `{}`",
        pages.len(),
        args.out_dir.display()
    ));
    Ok(Outcome::Pass)
}
