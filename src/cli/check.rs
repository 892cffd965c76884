//! `tollgate check`: the staged changes (what the pre-commit hook checks), a
//! range of commits, or the whole history.

use clap::Args;

use super::gate::{self, Acknowledge};
use super::{Ctx, Outcome};
use crate::check::Engine;
use crate::gate::Event;
use crate::git::Repo;
use crate::policy::Severity;
use crate::report::json::CheckReport;
use crate::report::sarif::{SarifBuilder, SarifResult};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Text for people, on stderr.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
    /// SARIF 2.1.0 on stdout (code scanning).
    Sarif,
}

/// Arguments of `tollgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check the staged changes against HEAD (the default; what the pre-commit hook does)
    #[arg(long, group = "what")]
    staged: bool,
    /// Check the commits in a range, like `origin/main..HEAD` (`REV` alone: all of its history)
    #[arg(long, value_name = "A..B", group = "what")]
    range: Option<String>,
    /// Check every commit reachable from any ref
    #[arg(long, group = "what")]
    history: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Acknowledge warnings (never passes a blocker); also `TOLLGATE_YES=1`
    #[arg(short = 'y', long)]
    yes: bool,
}

/// Resolves `A..B` (`A..`: up to `HEAD`; `REV` alone: all of its history).
pub fn parse_range(repo: &Repo, r: &str) -> anyhow::Result<(Option<git2::Oid>, git2::Oid)> {
    let (base, head) = match r.split_once("..") {
        Some((_, h)) if h.starts_with('.') => {
            anyhow::bail!("symmetric ranges (`A...B`) are not supported; use `A..B`")
        }
        Some((b, h)) => (
            (!b.is_empty()).then_some(b),
            if h.is_empty() { "HEAD" } else { h },
        ),
        None => (None, r),
    };
    Ok((
        base.map(|b| repo.resolve_commit(b)).transpose()?,
        repo.resolve_commit(head)?,
    ))
}

/// Runs the check. For staged changes the decision is the pre-commit hook's
/// (warnings need acknowledgement); for ranges and history, only blockers fail.
pub fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let policy = ctx.policy(Some(&repo))?;
    let engine = Engine::new(&policy);
    let event = match (&args.range, args.history) {
        (Some(r), _) => {
            let (base, head) = parse_range(&repo, r)?;
            Event::Range { base, head }
        }
        (None, true) => Event::History,
        (None, false) => Event::Staged,
    };
    let ack = Acknowledge {
        yes: args.yes || gate::env_yes(),
        mode: match event {
            Event::Staged => policy.warnings,
            _ => crate::policy::WarningMode::Print,
        },
        no_terminal: policy.warnings_without_terminal,
    };
    let (outcome, shown) = gate::run(
        &ctx.printer,
        &repo,
        &engine,
        &event,
        &ack,
        &gate::env_tokens(),
    )?;
    emit(
        ctx,
        &policy,
        args.format,
        (event.name(), event.kind()),
        outcome,
        &shown,
    );
    Ok(outcome)
}

/// Prints the result of a check or scan in `format`: JSON or SARIF on
/// stdout, or the human summary line. `event` is its name and, for a
/// commit or push, its kind.
pub fn emit(
    ctx: &Ctx,
    policy: &crate::policy::Policy,
    format: Format,
    (event, kind): (&str, Option<crate::check::EventKind>),
    outcome: Outcome,
    shown: &[crate::check::allow::Shown],
) {
    let blocked = shown.iter().any(|s| s.finding.severity == Severity::Block);
    let result = match outcome {
        Outcome::Blocked if blocked => "blocked",
        Outcome::Blocked => "unacknowledged",
        Outcome::Pass if shown.is_empty() => "pass",
        Outcome::Pass => "warn",
    };
    match format {
        Format::Json => {
            let report = CheckReport::new(event, result, shown);
            // Only a commit or a push is overridden by a person; a range
            // or history is what CI judges.
            let report = if kind.is_some() {
                report.with_people(
                    policy,
                    crate::report::agent::detect(|k| std::env::var(k).ok()).as_ref(),
                )
            } else {
                report
            };
            ctx.printer.stdout(&report.to_json())
        }
        Format::Sarif => {
            let mut log = SarifBuilder::new(env!("CARGO_PKG_VERSION"));
            log.policy_rules(policy)
                .run_property("schema", "tollgate/v1")
                .run_property("event", event)
                .run_property("result", result);
            for s in shown {
                // A check that passes with blockers in it passed them with
                // override tokens (`--yes` never passes a blocker).
                let passed = outcome == Outcome::Pass && s.finding.severity == Severity::Block;
                let why = match (&s.allowed_by, &s.baselined) {
                    (Some(rule), _) => Some(format!("passed by allow rule `{rule}`")),
                    (None, Some(reason)) => Some(format!(
                        "baselined in `{}`: {reason}",
                        crate::baseline::BASELINE_PATH
                    )),
                    (None, None) => {
                        passed.then(|| "passed by a single-use override token".to_string())
                    }
                };
                log.result(SarifResult::from_finding(s, why));
            }
            ctx.printer.stdout(&log.to_json());
        }
        Format::Human => {
            if outcome == Outcome::Pass && shown.is_empty() {
                ctx.printer.info("tollgate: no findings");
            }
        }
    }
}
