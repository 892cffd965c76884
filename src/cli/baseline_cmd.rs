//! `tollgate baseline`: record the findings present now (the whole history,
//! or a range) in `.tollgate/baseline.toml`, so that an existing repository
//! can adopt tollgate without its old findings blocking. The format and the
//! lookup are `crate::baseline`'s; this only scans, prints and writes.

use clap::Args;

use super::check::parse_range;
use super::{Ctx, Outcome};
use crate::baseline::BASELINE_PATH;
use crate::check::Engine;
use crate::gate::{self, Event};
use crate::policy::OverrideMode;

/// Arguments of `tollgate baseline`.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Why these findings are accepted, recorded with each (for example "rotated in 2024-03; predates tollgate")
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Record the findings of a range like `origin/main..HEAD` instead of every commit reachable from any ref
    #[arg(long, value_name = "A..B")]
    range: Option<String>,
    /// Print what would be recorded; write nothing
    #[arg(long)]
    dry_run: bool,
}

/// Scans and writes the baseline.
pub fn run(ctx: &Ctx, args: BaselineArgs) -> anyhow::Result<Outcome> {
    if args.reason.trim().is_empty() {
        anyhow::bail!("`--reason` is empty; say why these findings are accepted");
    }
    let repo = ctx.repo()?;
    let root = repo
        .workdir()
        .ok_or_else(|| {
            anyhow::anyhow!("a bare repository has no working tree to keep `{BASELINE_PATH}` in")
        })?
        .to_path_buf();
    let mut policy = ctx.policy(Some(&repo))?;
    let mut baseline = std::mem::take(&mut policy.baseline);
    let engine = Engine::new(&policy);
    let event = match &args.range {
        Some(r) => {
            let (base, head) = parse_range(&repo, r)?;
            Event::Range { base, head }
        }
        None => Event::History,
    };
    let mut shown = crate::check::allow::number(gate::evaluate(&repo, &engine, &event)?);
    crate::check::allow::apply_allows(&policy, &mut shown, &[], crate::clock::now().date_naive());
    let open: Vec<_> = shown
        .iter()
        .filter(|s| s.allowed_by.is_none())
        .map(|s| &s.finding)
        .collect();
    let never = open
        .iter()
        .filter(|f| f.override_mode == OverrideMode::Never)
        .count();
    let before = baseline.findings.len();
    let added = baseline.record(open.iter().copied(), args.reason.trim());
    for e in &baseline.findings[before..] {
        ctx.printer.info(&format!(
            "  {} at `{}`{}",
            e.constraint,
            e.path.as_deref().unwrap_or("-"),
            e.commit
                .as_deref()
                .map(|c| format!(" (commit {})", &c[..c.len().min(12)]))
                .unwrap_or_default()
        ));
    }
    if never > 0 {
        ctx.printer.warning(&format!(
            "{never} finding{} of constraints with `override = \"never\"` cannot be baselined and still block",
            if never == 1 { "" } else { "s" }
        ));
    }
    let kept = open.len() - added - never;
    let summary = format!(
        "{added} finding{} to baseline{}",
        if added == 1 { "" } else { "s" },
        if kept > 0 {
            format!(" ({kept} already there)")
        } else {
            String::new()
        }
    );
    if args.dry_run {
        ctx.printer
            .info(&format!("tollgate: {summary}; nothing written (--dry-run)"));
        return Ok(Outcome::Pass);
    }
    if added == 0 {
        ctx.printer
            .info(&format!("tollgate: {summary}; `{BASELINE_PATH}` unchanged"));
        return Ok(Outcome::Pass);
    }
    let path = root.join(BASELINE_PATH);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
    }
    crate::state::write_atomic(&path, baseline.to_toml().as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
    ctx.printer
        .info(&format!("tollgate: wrote {summary} in `{BASELINE_PATH}`"));
    ctx.printer.hint(&format!(
        "commit `{BASELINE_PATH}` through a reviewed change: it is policy, and `verify` reads it from the trusted base"
    ));
    Ok(Outcome::Pass)
}
