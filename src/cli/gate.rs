//! The gate shared by hooks and `check`: build the event through the git
//! layer, run the engine, then decide (blockers stop; warnings need an
//! acknowledgement; `--yes` never passes a blocker).

use std::time::Duration;

use crate::check::{Engine, Finding};
use crate::gate::{evaluate, event_branches, used_for, Event};
use crate::git::{PushLine, Repo};
use crate::overrides::{self, ledger::Ledger, Coverage};
use crate::policy::{Severity, WarningMode};
use crate::report::{Printer, Shown};

use super::records;
use super::tty::Tty;
use super::Outcome;
use crate::audit::pipeline;

/// How warnings may be acknowledged for this run.
pub struct Acknowledge {
    /// `--yes` or `TOLLGATE_YES=1`.
    pub yes: bool,
    /// The policy's `[settings] warnings`.
    pub mode: WarningMode,
    /// The policy's `[settings] warnings-without-terminal`.
    pub no_terminal: crate::policy::NoTerminal,
}

/// Whether `TOLLGATE_YES` is set to a true value.
pub fn env_yes() -> bool {
    std::env::var("TOLLGATE_YES").is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes" | "y"))
}

/// Decides: any blocker stops; otherwise warnings must be acknowledged.
/// `action` is `commit` or `push`, for the messages.
pub fn decide(
    printer: &Printer,
    shown: &[Shown],
    ack: &Acknowledge,
    action: &str,
    policy: &crate::policy::Policy,
) -> Outcome {
    let blockers: Vec<&Shown> = shown
        .iter()
        .filter(|s| s.finding.severity == Severity::Block)
        .collect();
    let warnings = shown.len() - blockers.len();
    if !blockers.is_empty() {
        let ids: Vec<&str> = blockers.iter().map(|s| s.id.as_str()).collect();
        let overridable = matches!(action, "commit" | "push");
        let what = if overridable {
            format!("{action} blocked")
        } else {
            format!("{action} check failed")
        };
        printer.error(&format!(
            "{what}: {} blocker{} ({})",
            blockers.len(),
            plural(blockers.len()),
            ids.join(", ")
        ));
        if ack.yes {
            printer.hint(
                "`--yes` and `TOLLGATE_YES` acknowledge warnings only; they never pass a blocker",
            );
        }
        if overridable {
            let agent = crate::report::agent::detect(|k| std::env::var(k).ok());
            let terminal = Tty::open().is_some();
            if agent.is_some() || !terminal {
                // Addressed to whoever runs git without a person at a
                // terminal: say what it must not do and what to ask.
                let who = agent.as_ref().map_or_else(
                    || "the program running git (there is no terminal)".to_string(),
                    |a| format!("{} (`{}` is set)", a.name, a.variable),
                );
                let tier = blockers
                    .iter()
                    .filter_map(|s| policy.constraint(&s.finding.constraint))
                    .map(|c| policy.tier_for(c))
                    .max()
                    .unwrap_or(policy.approval);
                for line in crate::report::agent::instructions(&who, ids[0], tier) {
                    printer.hint(&line);
                }
                if agent.is_none() {
                    // A person without a terminal here (an IDE) can still
                    // run the override from one.
                    printer.hint("a person at a terminal can also run:");
                    printer.hint(&format!(
                        "    {} override {} --reason \"<why>\"",
                        self_command(),
                        ids[0]
                    ));
                }
            } else {
                printer.hint(
                    "fix the change, or if it is intended, request a scoped one-time override:",
                );
                printer.hint(&format!(
                    "    {} override {} --reason \"<why>\"",
                    self_command(),
                    ids[0]
                ));
            }
        }
        return Outcome::Blocked;
    }
    if warnings == 0 || ack.mode == WarningMode::Print {
        return Outcome::Pass;
    }
    if ack.yes {
        printer.warning(&format!(
            "{warnings} warning{} acknowledged",
            plural(warnings)
        ));
        return Outcome::Pass;
    }
    match Tty::open() {
        Some(mut tty) => {
            let asked = tty.write(&format!(
                "tollgate: {warnings} warning{} above. Proceed with the {action}? [y/N] ",
                plural(warnings)
            ));
            let answer = asked
                .ok()
                .and_then(|_| tty.read_line(Duration::from_secs(300)));
            if answer.is_some_and(|a| matches!(a.trim(), "y" | "Y" | "yes")) {
                Outcome::Pass
            } else {
                printer.error(&format!(
                    "{action} stopped: the warnings were not acknowledged"
                ));
                Outcome::Blocked
            }
        }
        None if ack.no_terminal == crate::policy::NoTerminal::Print => {
            printer.warning(&format!(
                "{warnings} warning{} printed, not acknowledged: there is no terminal to ask, and `[settings] warnings-without-terminal = \"print\"` lets the {action} proceed",
                plural(warnings)
            ));
            Outcome::Pass
        }
        None => {
            printer.error(&format!(
                "{action} stopped: {warnings} warning{} need{} acknowledgement and there is no terminal to ask",
                plural(warnings),
                if warnings == 1 { "s" } else { "" }
            ));
            printer.hint(&match action {
                "commit" | "push" => format!(
                    "acknowledge them with `TOLLGATE_YES=1 git {action} …` (git {action} has no `--yes`), or let warnings pass where there is no terminal (IDEs) with `warnings-without-terminal = \"print\"` in `[settings]`"
                ),
                _ => "re-run with `--yes` (or `TOLLGATE_YES=1`) to acknowledge them".to_string(),
            });
            Outcome::Blocked
        }
    }
}

/// How to name tollgate in a hint: `tollgate` when that is what `PATH`
/// finds, else this binary's full path (the pre-commit framework runs
/// tollgate from its own environment, which is not on the user's `PATH`).
pub fn self_command() -> String {
    let exe = std::env::current_exe().and_then(|p| p.canonicalize()).ok();
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tollgate"))
            .find(|p| p.is_file())
    });
    match (exe, on_path) {
        (Some(exe), Some(found)) if found.canonicalize().ok().as_ref() == Some(&exe) => {
            "tollgate".into()
        }
        (Some(exe), _) => {
            let s = exe.display().to_string();
            if s.contains([' ', '\'', '"']) {
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
/// proceed; the ledger is re-read under its lock at that moment.
pub fn run(
    printer: &Printer,
    repo: &Repo,
    engine: &Engine<'_>,
    event: &Event,
    ack: &Acknowledge,
    tokens: &[String],
) -> anyhow::Result<(Outcome, Vec<Shown>)> {
    let now = crate::clock::now();
    let findings = evaluate(repo, engine, event)?;
    let mut shown = crate::report::number(findings);
    let policy = engine.policy();
    if !shown.is_empty() && !policy.allows.is_empty() {
        // The branch is looked up only when a rule could need it.
        let branches = if policy.allows.iter().any(|r| r.branches.is_some()) {
            event_branches(repo, event)
        } else {
            Vec::new()
        };
        crate::check::allow::apply_allows(policy, &mut shown, &branches, now.date_naive());
    }
    crate::check::allow::apply_baseline(policy, &mut shown);
    let ledger = Ledger::at(&repo.state_dir());
    let mut covered: Vec<(usize, String)> = shown
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let name = s.allowed_by.as_ref()?;
            let rule = policy.allows.iter().find(|r| &r.name == name)?;
            Some((
                i,
                format!(
                    "by allow rule `{name}` ({}; until {})",
                    rule.reason, rule.expires
                ),
            ))
        })
        .collect();
    covered.extend(shown.iter().enumerate().filter_map(|(i, s)| {
        let reason = s.baselined.as_ref()?;
        Some((
            i,
            format!(
                "baselined in `{}` ({reason})",
                crate::baseline::BASELINE_PATH
            ),
        ))
    }));
    // A blocker passed at commit time left a signed record on its commit;
    // the push of that commit honours it, as CI's `verify` will.
    if let Event::Push { .. } = event {
        let by_records = pipeline::covered_by_records(repo, policy, &shown)?;
        for why in &by_records.not_counted {
            printer.warning(why);
        }
        for (i, how) in by_records.covered {
            if !covered.iter().any(|(c, _)| *c == i) {
                covered.push((i, how));
            }
        }
    }
    let open: Vec<&Finding> = shown
        .iter()
        .enumerate()
        .filter(|(i, _)| !covered.iter().any(|(c, _)| c == i))
        .map(|(_, s)| &s.finding)
        .collect();
    let open_index: Vec<usize> = (0..shown.len())
        .filter(|i| !covered.iter().any(|(c, _)| c == i))
        .collect();
    // The ledger is read only when tokens are presented, and once.
    let data = if tokens.is_empty() {
        None
    } else {
        Some(ledger.read()?)
    };
    let coverage = match &data {
        Some(d) => overrides::match_tokens(d, tokens, &open, now),
        None => Coverage::default(),
    };
    let by_token: Vec<(usize, usize)> = coverage
        .covered
        .iter()
        .map(|&(fi, ei)| (open_index[fi], ei))
        .collect();
    if let Some(d) = &data {
        for &(i, ei) in &by_token {
            covered.push((i, format!("by override token {}", d.entries[ei].id)));
        }
    }
    printer.findings(&shown, &covered);
    for why in &coverage.unused {
        printer.warning(why);
    }
    let remaining: Vec<Shown> = shown
        .iter()
        .enumerate()
        .filter(|(i, _)| !covered.iter().any(|(c, _)| c == i))
        .map(|(_, s)| s.clone())
        .collect();
    let action = event.name();
    let mut outcome = decide(printer, &remaining, ack, action, policy);
    if let (Outcome::Pass, Some(d)) = (outcome, &data) {
        if !by_token.is_empty() {
            let pairs: Vec<(&Finding, &crate::overrides::ledger::Entry)> = by_token
                .iter()
                .map(|&(i, ei)| (&shown[i].finding, &d.entries[ei]))
                .collect();
            if let Err(e) = consume(
                printer, repo, engine, event, &ledger, tokens, &open, &pairs, now,
            ) {
                printer.error(&format!("{action} blocked: {e:#}"));
                outcome = Outcome::Blocked;
            }
        }
    }
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

/// Consumes the covering tokens and leaves their signed records: the
/// records are made (and, for a push, signed) and saved as pending first,
/// then the tokens are consumed under the ledger lock, then a push's records
/// go into the notes at once (a commit's wait for `post-commit`). Any
/// failure before the consumption consumes nothing.
#[allow(clippy::too_many_arguments)]
fn consume(
    printer: &Printer,
    repo: &Repo,
    engine: &Engine<'_>,
    event: &Event,
    ledger: &Ledger,
    tokens: &[String],
    open: &[&Finding],
    pairs: &[(&Finding, &crate::overrides::ledger::Entry)],
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let signer = pipeline::signer(repo)?;
    let at_commit = !matches!(event, Event::Push { .. });
    let (local, listed) = pipeline::local_signers(repo)?;
    for (finding, entry) in pairs {
        if let Err(why) =
            pipeline::check_entry(entry, finding, engine.policy(), &local, &signer.identity)
        {
            anyhow::bail!("{why}; nothing was consumed");
        }
    }
    let pending = pipeline::prepare(repo, &signer, engine.policy(), pairs, at_commit, now)?;
    match (&local, listed) {
        (signers, true)
            if !signers
                .entries()
                .iter()
                .any(|e| e.key_fingerprint() == signer.identity.key_fingerprint) =>
        {
            printer.warning(&format!(
                "your signing key {} is not in `{}`: CI's `tollgate verify` will not accept this record until it is",
                signer.identity.key_fingerprint,
                crate::audit::ALLOWED_SIGNERS
            ));
        }
        (_, false) => printer.warning(&format!(
            "this repository has no `{}`: CI's `tollgate verify` cannot accept any record until it lists its signers",
            crate::audit::ALLOWED_SIGNERS
        )),
        _ => {}
    }
    let saved = pipeline::save(repo, &pending)?;
    let who = who(repo);
    let used_for = used_for(event, repo);
    let result = ledger.update(|data| {
        Ok::<_, anyhow::Error>(overrides::consume(
            data,
            tokens,
            open,
            pairs.len(),
            &used_for,
            &who.to_string(),
            now,
        ))
    });
    match result {
        Ok(Ok(used)) => printer.info(&format!(
            "tollgate: {} override token{} consumed",
            used.len(),
            if used.len() == 1 { "" } else { "s" }
        )),
        Ok(Err(why)) => {
            pipeline::discard(repo, &saved);
            anyhow::bail!(why);
        }
        Err(e) => {
            pipeline::discard(repo, &saved);
            return Err(e);
        }
    }
    if at_commit {
        printer.info("tollgate: the signed audit record is written when the commit is made");
    } else {
        records::flush_and_report(printer, repo);
    }
    Ok(())
}

/// The hashes of the tokens in `TOLLGATE_TOKEN`.
pub fn env_tokens() -> Vec<String> {
    std::env::var("TOLLGATE_TOKEN")
        .map(|v| overrides::presented_hashes(&v))
        .unwrap_or_default()
}
