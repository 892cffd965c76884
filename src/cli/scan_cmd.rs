//! `tollgate scan [PATH…]` and `tollgate scan -`: files, directories and
//! stdin, inside or outside a repository, with the rules, output formats
//! and exit codes of `check` (blockers exit 1; warnings are printed). The
//! walking and reading are `crate::scan`'s.

use std::path::PathBuf;

use clap::Args;

use super::check::{emit, Format};
use super::gate::{self, Acknowledge};
use super::{Ctx, Outcome};
use crate::check::{Engine, Findings};
use crate::git::Repo;
use crate::policy::WarningMode;
use crate::scan::{self, WalkOptions};

/// Arguments of `tollgate scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default: `.`); `-` reads stdin
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also scan what `.gitignore`, `.ignore` and git's exclude files leave out
    #[arg(long)]
    no_ignore: bool,
    /// The path to report for stdin's content (path rules apply to it)
    #[arg(long, value_name = "PATH", default_value = "<stdin>")]
    stdin_name: String,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Runs the scan.
pub fn run(ctx: &Ctx, args: ScanArgs) -> anyhow::Result<Outcome> {
    // Inside a repository its policy (and baseline) apply; outside, the
    // `--policy` file or the builtin pack.
    let repo = Repo::open().ok();
    let policy = ctx.policy(repo.as_ref())?;
    let engine = Engine::new(&policy);
    let mut out = Findings::default();
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin {
        if args.paths.len() > 1 {
            anyhow::bail!("`-` (stdin) cannot be combined with paths; scan them in a second run");
        }
        scan::scan_reader(
            &engine,
            &mut std::io::stdin().lock(),
            &args.stdin_name,
            &mut out,
        )?;
    } else {
        let paths = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        let mut progress = ctx.printer.progress();
        let files = scan::scan_paths(
            &engine,
            &paths,
            WalkOptions {
                respect_ignore: !args.no_ignore,
            },
            &mut out,
            &mut |n| progress.files(n),
        )?;
        progress.done();
        ctx.printer.debug(&format!(
            "scanned {files} file{}",
            if files == 1 { "" } else { "s" }
        ));
    }
    let mut shown = crate::check::allow::number(out.into_vec());
    crate::check::allow::apply_allows(&policy, &mut shown, &[], crate::clock::now().date_naive());
    crate::check::allow::apply_baseline(&policy, &mut shown);
    let covered: Vec<(usize, String)> = shown
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            if let Some(rule) = &s.allowed_by {
                return Some((i, format!("by allow rule `{rule}`")));
            }
            let reason = s.baselined.as_ref()?;
            Some((
                i,
                format!(
                    "baselined in `{}` ({reason})",
                    crate::baseline::BASELINE_PATH
                ),
            ))
        })
        .collect();
    ctx.printer.findings(&shown, &covered);
    let remaining: Vec<_> = shown
        .iter()
        .enumerate()
        .filter(|(i, _)| !covered.iter().any(|(c, _)| c == i))
        .map(|(_, s)| s.clone())
        .collect();
    let ack = Acknowledge {
        yes: false,
        mode: WarningMode::Print,
        no_terminal: policy.warnings_without_terminal,
    };
    let outcome = gate::decide(&ctx.printer, &remaining, &ack, "scan", None, &policy);
    emit(ctx, &policy, args.format, ("scan", None), outcome, &shown);
    Ok(outcome)
}
