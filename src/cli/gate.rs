//! The gate shared by hooks and `check`: build the event through the git
//! layer, run the engine, then decide (blockers stop; warnings need an
//! acknowledgement; `--yes` never passes a blocker).

use std::time::Duration;

use crate::check::allow::Shown;
use crate::check::Engine;
use crate::gate::cover::{consume, cover};
use crate::gate::verdict::Verdict;
use crate::gate::{evaluate, evaluate_with, Event};
use crate::git::{PushLine, Repo};
use crate::overrides::{self, ledger::Ledger};
use crate::policy::Severity;
use crate::report::Printer;

use super::records;
use super::tty::Tty;
use super::Outcome;

pub use crate::gate::verdict::Acknowledge;

/// Whether `TOLLGATE_YES` is set to a true value.
pub fn env_yes() -> bool {
    std::env::var("TOLLGATE_YES").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "y"))
}

/// Prints the verdict on `shown` (the findings coverage left) for an event
/// of `kind` named `action` (`commit`, `push`, `range`, `scan`, …), asking
/// the person at the terminal when warnings need it.
pub fn decide(
    printer: &Printer,
    shown: &[Shown],
    ack: &Acknowledge,
    action: &str,
    kind: Option<crate::check::EventKind>,
    policy: &crate::policy::Policy,
) -> Outcome {
    // The terminal is opened only when a person must be asked.
    let mut tty: Option<Tty> = None;
    let left = shown.iter().map(|s| (s.id.as_str(), &s.finding));
    let verdict = crate::gate::verdict::verdict(policy, left, kind, ack, &mut || {
        tty = Tty::open();
        tty.is_some()
    });
    match verdict {
        Verdict::Blocked {
            ids,
            overridable,
            tier,
        } => {
            let what = if overridable {
                format!("{action} blocked")
            } else {
                format!("{action} check failed")
            };
            printer.error(&format!(
                "{what}: {} blocker{} ({})",
                ids.len(),
                plural(ids.len()),
                ids.join(", ")
            ));
            if ack.yes {
                printer.hint(
                    "`--yes` and `TOLLGATE_YES` acknowledge warnings only; they never pass a blocker",
                );
            }
            if overridable {
                blocked_hints(printer, &ids[0], tier, Tty::open().is_some());
            }
            Outcome::Blocked
        }
        Verdict::Pass => Outcome::Pass,
        Verdict::Acknowledged(n) => {
            printer.warning(&format!("{n} warning{} acknowledged", plural(n)));
            Outcome::Pass
        }
        Verdict::Ask(n) => {
            let answer = tty.as_mut().and_then(|tty| {
                tty.write(&format!(
                    "tollgate: {n} warning{} above. Proceed with the {action}? [y/N] ",
                    plural(n)
                ))
                .ok()
                .and_then(|_| tty.read_line(Duration::from_secs(300)))
            });
            if answer.is_some_and(|a| matches!(a.trim(), "y" | "Y" | "yes")) {
                Outcome::Pass
            } else {
                printer.error(&format!(
                    "{action} stopped: the warnings were not acknowledged"
                ));
                Outcome::Blocked
            }
        }
        Verdict::PrintedWithoutTerminal(n) => {
            printer.warning(&format!(
                "{n} warning{} printed, not acknowledged: there is no terminal to ask, and `[settings] warnings-without-terminal = \"print\"` lets the {action} proceed",
                plural(n)
            ));
            Outcome::Pass
        }
        Verdict::StoppedWithoutTerminal(n) => {
            printer.error(&format!(
                "{action} stopped: {n} warning{} need{} acknowledgement and there is no terminal to ask",
                plural(n),
                if n == 1 { "s" } else { "" }
            ));
            printer.hint(&match kind {
                Some(_) => format!(
                    "acknowledge them with `TOLLGATE_YES=1 git {action} …` (git {action} has no `--yes`), or let warnings pass where there is no terminal (IDEs) with `warnings-without-terminal = \"print\"` in `[settings]`"
                ),
                None => "re-run with `--yes` (or `TOLLGATE_YES=1`) to acknowledge them".to_string(),
            });
            Outcome::Blocked
        }
    }
}

/// What to do about a blocker of a commit or push: addressed to an agent
/// (or whatever runs git without a terminal), or to the person at one.
fn blocked_hints(printer: &Printer, first: &str, tier: crate::policy::Tier, terminal: bool) {
    let agent = crate::report::agent::detect(|k| std::env::var(k).ok());
    if agent.is_some() || !terminal {
        // Addressed to whoever runs git without a person at a terminal: say
        // what it must not do and what to ask.
        let who = agent.as_ref().map_or_else(
            || "the program running git (there is no terminal)".to_string(),
            |a| format!("{} (`{}` is set)", a.name, a.variable),
        );
        for line in crate::report::agent::instructions(&who, first, tier, &self_command()) {
            printer.hint(&line);
        }
        if agent.is_none() {
            // A person without a terminal here (an IDE) can still run the
            // override from one.
            printer.hint("a person at a terminal can also run:");
            printer.hint(&format!(
                "    {} override {first} --reason \"<why>\"",
                self_command()
            ));
        }
    } else {
        printer.hint("fix the change, or if it is intended, request a scoped one-time override:");
        printer.hint(&format!(
            "    {} override {first} --reason \"<why>\"",
            self_command()
        ));
    }
}

/// Set when tollgate runs as a hook of the pre-commit framework
/// (`tollgate hook --from-framework`): the framework puts its own build of
/// tollgate first on the hook's `PATH`, which is not the user's `PATH`.
static UNDER_FRAMEWORK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that this run is a pre-commit framework hook, so that hints name
/// tollgate by its full path ([`self_command`]).
pub fn set_under_framework() {
    UNDER_FRAMEWORK.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// How to name tollgate in a hint: `tollgate` when that is what `PATH`
/// finds, else this binary's full path (quoted for a shell when needed).
/// Under the pre-commit framework it is always the full path: the hook's
/// `PATH` holds the framework's environment, the user's shell does not.
pub fn self_command() -> String {
    let exe = std::env::current_exe().and_then(|p| p.canonicalize()).ok();
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tollgate"))
            .find(|p| p.is_file())
    });
    let framework = UNDER_FRAMEWORK.load(std::sync::atomic::Ordering::Relaxed);
    match (exe, on_path) {
        (Some(exe), Some(found))
            if !framework && found.canonicalize().ok().as_ref() == Some(&exe) =>
        {
            "tollgate".into()
        }
        (Some(exe), _) => {
            let s = exe.display().to_string();
            if s.contains(|c: char| !(c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))) {
                format!("'{}'", s.replace('\'', "'\\''"))
            } else {
                s
            }
        }
        (None, _) => "tollgate".into(),
    }
}

use crate::text::plural;

/// Who is acting, for the ledger: git identity and OS user.
pub fn who(repo: &Repo) -> crate::overrides::ledger::Who {
    crate::overrides::ledger::Who {
        name: repo.config_string("user.name").unwrap_or_default(),
        email: repo.config_string("user.email").unwrap_or_default(),
        os_user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default(),
    }
}

/// Evaluates, applies presented tokens, prints, decides, and remembers a
/// blocked commit or push so that `tollgate override B1` can name its
/// blockers. A token is spent only when the operation would otherwise
/// proceed; the ledger is re-read under its lock at that moment. What
/// covers what, and the consumption, are the gate's ([`cover`],
/// [`consume`]); this prints them and talks to the terminal.
pub fn run(
    printer: &Printer,
    repo: &Repo,
    engine: &Engine<'_>,
    event: &Event,
    ack: &Acknowledge,
    tokens: &[String],
) -> anyhow::Result<(Outcome, Vec<Shown>)> {
    let now = crate::clock::now();
    let findings = match event {
        Event::Range { .. } | Event::History => {
            let mut progress = printer.progress();
            let findings = evaluate_with(repo, engine, event, &mut |d, t| progress.commits(d, t))?;
            progress.done();
            findings
        }
        _ => evaluate(repo, engine, event)?,
    };
    let policy = engine.policy();
    let ledger = Ledger::at(&repo.state_dir());
    let c = cover(repo, policy, event, findings, &ledger, tokens, now)?;
    for why in &c.not_counted {
        printer.warning(why);
    }
    printer.findings(&c.shown, &c.covered);
    for why in &c.unused {
        printer.warning(why);
    }
    let remaining = c.remaining();
    let action = event.name();
    let mut outcome = decide(printer, &remaining, ack, action, event.kind(), policy);
    if outcome == Outcome::Pass && !c.by_token.is_empty() {
        let open = c.open_findings();
        let pairs = c.token_pairs();
        let who = who(repo).to_string();
        let done = consume(
            repo, policy, event, &ledger, tokens, &open, &pairs, &who, now,
        );
        for w in &done.warnings {
            printer.warning(w);
        }
        match done.result {
            Ok(used) => {
                printer.info(&format!(
                    "tollgate: {used} override token{} consumed",
                    plural(used)
                ));
                if done.at_commit {
                    printer.info(
                        "tollgate: the signed audit record is written when the commit is made",
                    );
                } else {
                    records::flush_and_report(printer, repo);
                }
            }
            Err(e) => {
                printer.error(&format!("{action} blocked: {e:#}"));
                outcome = Outcome::Blocked;
            }
        }
    }
    let shown = c.shown;
    if outcome == Outcome::Blocked
        && remaining
            .iter()
            .any(|s| s.finding.severity == Severity::Block)
    {
        let (remote, push_lines) = match event {
            Event::Push { remote, lines } => (
                Some(remote.clone()),
                lines.iter().map(PushLine::to_line).collect(),
            ),
            _ => (None, Vec::new()),
        };
        let last = crate::state::LastRun {
            schema: "tollgate/last-run/v1".into(),
            event: event.kind().unwrap_or(crate::check::EventKind::Commit),
            remote,
            push_lines,
            findings: shown.clone(),
        };
        if let Err(e) = last.save(&repo.state_dir()) {
            printer.warning(&format!(
                "cannot remember this run for `tollgate override`: {e}"
            ));
        }
    }
    Ok((outcome, shown))
}

/// The hashes of the tokens in `TOLLGATE_TOKEN`.
pub fn env_tokens() -> Vec<String> {
    std::env::var("TOLLGATE_TOKEN")
        .map(|v| overrides::presented_hashes(&v))
        .unwrap_or_default()
}
