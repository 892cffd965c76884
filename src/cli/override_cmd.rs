//! `tollgate override`: mint a token for one blocker after a person answers
//! a challenge on the terminal; and `override list|status|revoke|history`.
//!
//! The challenge code goes to `/dev/tty` only, never to stdout, stderr or a
//! file: an automated agent that runs git cannot read it back to approve
//! its own override.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::check::Format;
use super::gate::{self, Event};
use super::tty::Tty;
use super::{records, Ctx, Outcome};
use crate::check::{Engine, Finding};
use crate::git::{parse_push_lines, Repo};
use crate::overrides::ledger::{Entry, Ledger, LedgerData, State};
use crate::overrides::{new_code, new_token, token_hash, token_id};
use crate::policy::{parse_duration, OverrideMode, Policy, Severity, MAX_TTL};
use crate::state::LastRun;

/// How long a person has to answer the challenge.
const CHALLENGE_WINDOW: Duration = Duration::from_secs(300);
/// How many answers a person may give.
const ATTEMPTS: usize = 3;
/// Token lifetime when `--ttl` is not given.
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Arguments of `tollgate override`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OverrideArgs {
    #[command(subcommand)]
    command: Option<OverrideCommand>,
    /// The blocker: a short id from the last blocked run (`B1`) or a fingerprint prefix (8+ hex digits)
    #[arg(required = true)]
    finding: Option<String>,
    #[command(flatten)]
    why: Why,
}

/// Why and for how long, for a token or a two-key request.
#[derive(Debug, Args)]
struct Why {
    /// Why this blocker should pass (recorded in the ledger and the audit record)
    #[arg(long)]
    reason: Option<String>,
    /// Reason code, one of the policy's `[overrides] reasons`
    #[arg(long)]
    code: Option<String>,
    /// How long the token (or request) stays valid: `30m`, `2h`, `1d` (default 1h, at most 24h)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
}

#[derive(Debug, Subcommand)]
enum OverrideCommand {
    /// Two-key: ask for a second person's approval of one blocker (prints a signed request)
    Request {
        /// The blocker: a short id from the last blocked run (`B1`) or a fingerprint prefix
        finding: String,
        #[command(flatten)]
        why: Why,
        /// Also write the request to this file
        #[arg(long, value_name = "PATH")]
        out: Option<std::path::PathBuf>,
    },
    /// Two-key: approve someone else's request with your own key (after a challenge on the terminal)
    Approve {
        /// The request (`tgreq1_…`), or `@FILE` to read it from a file
        request: String,
        /// Also write the approval to this file
        #[arg(long, value_name = "PATH")]
        out: Option<std::path::PathBuf>,
    },
    /// Two-key: turn an approval of your request into a token
    Accept {
        /// The approval (`tgapp1_…`), or `@FILE` to read it from a file
        approval: String,
    },
    /// List tokens (active ones by default)
    List {
        /// Only active tokens (the default)
        #[arg(long, group = "which")]
        active: bool,
        /// Only expired tokens
        #[arg(long, group = "which")]
        expired: bool,
        /// Every request and token
        #[arg(long, group = "which")]
        all: bool,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show one token and its history
    Status {
        /// Token id (`tok_…`) or a prefix of it
        id: String,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Revoke an active token
    Revoke {
        /// Token id (`tok_…`) or a prefix of it
        id: String,
        /// Why it is revoked
        #[arg(long, default_value = "revoked by hand")]
        reason: String,
    },
    /// Every state change, newest last
    History {
        /// Only this constraint
        #[arg(long, value_name = "ID")]
        constraint: Option<String>,
        /// Only the last N days
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
}

/// Runs `tollgate override …`.
pub fn run(ctx: &Ctx, args: OverrideArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let ledger = Ledger::at(&repo.state_dir());
    let now = crate::clock::now();
    match args.command {
        Some(OverrideCommand::List {
            expired,
            all,
            format,
            ..
        }) => list(ctx, &ledger, now, expired, all, format),
        Some(OverrideCommand::Status { id, format }) => status(ctx, &ledger, now, &id, format),
        Some(OverrideCommand::Revoke { id, reason }) => {
            revoke(ctx, &repo, &ledger, now, &id, &reason)
        }
        Some(OverrideCommand::History {
            constraint,
            days,
            format,
        }) => history(ctx, &ledger, now, constraint.as_deref(), days, format),
        Some(OverrideCommand::Request { finding, why, out }) => {
            let asked = Asked::new(finding, why);
            super::two_key::request(ctx, &repo, &ledger, now, asked, out.as_deref())
        }
        Some(OverrideCommand::Approve { request, out }) => {
            super::two_key::approve(ctx, &repo, now, &request, out.as_deref())
        }
        Some(OverrideCommand::Accept { approval }) => {
            super::two_key::accept(ctx, &repo, &ledger, now, &approval)
        }
        None => {
            let asked = Asked::new(args.finding.unwrap_or_default(), args.why);
            mint(ctx, &repo, &ledger, now, asked)
        }
    }
}

pub(super) fn refuse(ctx: &Ctx, msg: &str) -> anyhow::Result<Outcome> {
    ctx.printer.error(msg);
    Ok(Outcome::Blocked)
}

/// The event to re-evaluate: the push that was last blocked, else the index.
pub(super) fn current_event(last: Option<&LastRun>) -> anyhow::Result<Event> {
    match last {
        Some(l) if l.event == "push" => Ok(Event::Push {
            remote: l.remote.clone().unwrap_or_else(|| "origin".into()),
            lines: parse_push_lines(l.push_lines.join("\n").as_bytes())?,
        }),
        _ => Ok(Event::Staged),
    }
}

/// The exact command that re-runs the blocked operation with the token.
pub(super) fn rerun_command(repo: &Repo, event: &Event, token: &str) -> String {
    match event {
        Event::Push { remote, lines } => {
            let forced = repo
                .push_plan(remote, lines)
                .map(|p| p.updates)
                .unwrap_or_default();
            let specs: Vec<String> = lines
                .iter()
                .map(|l| {
                    let force = forced
                        .iter()
                        .any(|u| u.remote_ref == l.remote_ref && u.forced);
                    let src = if l.local_sha.is_none() {
                        ""
                    } else {
                        l.local_ref.as_str()
                    };
                    shell_quote(&format!(
                        "{}{src}:{}",
                        if force { "+" } else { "" },
                        l.remote_ref
                    ))
                })
                .collect();
            format!(
                "TOLLGATE_TOKEN={token} git push {} {}",
                shell_quote(remote),
                specs.join(" ")
            )
        }
        _ => format!("TOLLGATE_TOKEN={token} git commit"),
    }
}

/// Quotes `s` for a POSIX shell when it holds anything but plain
/// characters, so a printed command is safe to paste whatever a ref or
/// remote is called.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_./:@=,%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn resolve_ttl(
    policy: &Policy,
    c: &crate::policy::Constraint,
    asked: Option<&str>,
) -> Result<Duration, String> {
    let ceiling = [Some(MAX_TTL), policy.max_ttl, c.max_ttl]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(MAX_TTL);
    let Some(asked) = asked else {
        return Ok(DEFAULT_TTL.min(ceiling));
    };
    let ttl = parse_duration(asked).map_err(|e| format!("--ttl: {e}"))?;
    if ttl > MAX_TTL {
        return Err(format!(
            "--ttl `{asked}` is too long: maximum duration is 24 hours"
        ));
    }
    if c.max_ttl.is_some_and(|m| ttl > m) {
        return Err(format!(
            "--ttl `{asked}` is longer than constraint `{}` allows ({})",
            c.id,
            crate::policy::format_duration(c.max_ttl.unwrap_or(MAX_TTL))
        ));
    }
    if policy.max_ttl.is_some_and(|m| ttl > m) {
        return Err(format!(
            "--ttl `{asked}` is longer than the policy's `[overrides] max-ttl` ({})",
            crate::policy::format_duration(policy.max_ttl.unwrap_or(MAX_TTL))
        ));
    }
    Ok(ttl)
}

/// What the person asked for.
pub(super) struct Asked {
    pub finding: String,
    pub reason: Option<String>,
    pub code: Option<String>,
    pub ttl: Option<String>,
}

impl Asked {
    fn new(finding: String, why: Why) -> Asked {
        Asked {
            finding,
            reason: why.reason,
            code: why.code,
            ttl: why.ttl,
        }
    }
}

/// The blocker, re-evaluated now, with everything checked that a token or
/// a request needs.
pub(super) struct Prepared {
    pub event: Event,
    pub finding: Finding,
    pub constraint: crate::policy::Constraint,
    pub reason: String,
    pub code: Option<String>,
    pub ttl: Duration,
}

/// Resolves `asked.finding`, re-evaluates the blocker and checks the
/// reason, code and TTL. `Err(message)` inside `Ok` is a refusal.
pub(super) fn prepare(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    asked: Asked,
    two_key: bool,
) -> anyhow::Result<Result<Prepared, String>> {
    let wanted = asked.finding;
    let last = LastRun::load(&repo.state_dir())?;
    // Name → fingerprint prefix.
    let upper = wanted.to_ascii_uppercase();
    let is_short =
        (upper.starts_with('B') || upper.starts_with('W')) && upper[1..].parse::<u32>().is_ok();
    let prefix = if is_short {
        let Some(last) = &last else {
            return Ok(Err(format!("no blocked run to take `{wanted}` from: run the commit or push first, or give a fingerprint prefix")));
        };
        let Some(s) = last.findings.iter().find(|s| s.id == upper) else {
            return Ok(Err(format!(
                "the last blocked {} has no finding `{upper}`",
                last.event
            )));
        };
        s.finding.fingerprint.clone()
    } else if wanted.len() >= 8 && wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        wanted.to_ascii_lowercase()
    } else {
        anyhow::bail!("`{wanted}` is neither a short id like `B1` nor a fingerprint prefix of at least 8 hex digits");
    };
    // Re-evaluate now: the blocker must still exist.
    let policy = ctx.policy(Some(repo))?;
    let engine = Engine::new(&policy);
    let event = current_event(last.as_ref())?;
    let findings = gate::evaluate(repo, &engine, &event)?;
    let matches: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.fingerprint.starts_with(&prefix))
        .collect();
    let f = match matches[..] {
        [f] => f,
        [] => {
            return Ok(Err(format!(
                "blocker `{wanted}` does not exist now: the {} changed or no longer violates the policy; re-run it to see the current blockers",
                event.name()
            )))
        }
        _ => anyhow::bail!("fingerprint prefix `{wanted}` matches {} findings; give more digits", matches.len()),
    };
    let Some(c) = policy.constraint(&f.constraint) else {
        anyhow::bail!("constraint `{}` is not in the policy", f.constraint);
    };
    if f.severity == Severity::Warn {
        return Ok(Err(format!("`{wanted}` is a warning: warnings need no token; acknowledge them with `--yes` or `TOLLGATE_YES=1`")));
    }
    match (c.override_mode, two_key) {
        (OverrideMode::Never, _) => {
            return Ok(Err(format!(
                "constraint `{}` cannot be overridden (override = \"never\")",
                c.id
            )))
        }
        (OverrideMode::TwoKey, false) => {
            return Ok(Err(format!(
                "constraint `{}` needs a second person's approval: run `tollgate override request {wanted} --reason \"…\"` and have one of its approvers ({}) sign it",
                c.id,
                c.approvers.join(", ")
            )))
        }
        (OverrideMode::Token, true) => {
            return Ok(Err(format!(
                "constraint `{}` needs no second approval: run `tollgate override {wanted} --reason \"…\"`",
                c.id
            )))
        }
        _ => {}
    }
    let reason = asked.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return Ok(Err(
            "an override needs a reason: `--reason \"<why this blocker should pass>\"`".into(),
        ));
    }
    if !policy.reasons.is_empty() {
        match &asked.code {
            None => {
                return Ok(Err(format!(
                    "the policy requires a reason code: `--code <{}>`",
                    policy.reasons.join("|")
                )))
            }
            Some(code) if !policy.reasons.contains(code) => {
                return Ok(Err(format!(
                    "reason code `{code}` is not one of the policy's: {}",
                    policy.reasons.join(", ")
                )))
            }
            Some(_) => {}
        }
    }
    let ttl = match resolve_ttl(&policy, c, asked.ttl.as_deref()) {
        Ok(t) => t,
        Err(msg) => return Ok(Err(msg)),
    };
    if let Some(e) = active_for(&ledger.read()?, &f.fingerprint, now) {
        return Ok(Err(format!(
            "an active token for this blocker already exists ({}, expires {}); use it, or revoke it with `tollgate override revoke {}`",
            e.id,
            e.expires.to_rfc3339(),
            e.id
        )));
    }
    Ok(Ok(Prepared {
        event,
        finding: f.clone(),
        constraint: c.clone(),
        reason: reason.trim().to_string(),
        code: asked.code,
        ttl,
    }))
}

fn mint(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    asked: Asked,
) -> anyhow::Result<Outcome> {
    let p = match prepare(ctx, repo, ledger, now, asked, false)? {
        Ok(p) => p,
        Err(msg) => return refuse(ctx, &msg),
    };
    let (event, f, ttl) = (p.event, &p.finding, p.ttl);
    // The token is consumed with a signed audit record: refuse now, before
    // the challenge, when the configured key cannot sign one.
    if let Err(e) = records::signer(repo).and_then(|s| Ok(s.key.check_usable()?)) {
        return refuse(ctx, &format!("no token minted: {e:#}"));
    }
    // The person at the terminal.
    let Some(mut tty) = Tty::open() else {
        return refuse(ctx, "override approval needs a terminal: a person must type the challenge code shown there (no controlling terminal found)");
    };
    let who = gate::who(repo);
    let mut entry = Entry {
        id: String::new(),
        token_sha256: None,
        state: State::Active,
        fingerprint: f.fingerprint.clone(),
        constraint: f.constraint.clone(),
        kind: f.kind.clone(),
        severity: f.severity,
        location: f.location.clone(),
        event: event.name().into(),
        reason: p.reason.clone(),
        code: p.code.clone(),
        who: who.clone(),
        method: "challenge".into(),
        minted: now,
        expires: now + chrono::Duration::from_std(ttl)?,
        used_at: None,
        used_for: None,
        request: None,
        approval: None,
    };
    match challenge(&mut tty, f, &entry.reason, "")? {
        Answer::Approved => {}
        failed => {
            let (state, msg) = match failed {
                Answer::Timeout => (
                    State::Timeout,
                    "the challenge was not answered within 5 minutes",
                ),
                _ => (State::Denied, "the challenge code was wrong 3 times"),
            };
            entry.state = state;
            entry.id = format!("req_{}", &token_hash(&new_token())[..12]);
            ledger.update(|d| {
                d.add(entry, &who.to_string(), msg, now);
                Ok::<_, anyhow::Error>(())
            })?;
            return refuse(
                ctx,
                &format!("override {}: {msg}; no token was minted", state.as_str()),
            );
        }
    }
    let token = new_token();
    let hash = token_hash(&token);
    entry.id = token_id(&hash);
    entry.token_sha256 = Some(hash);
    let id = entry.id.clone();
    let expires = entry.expires;
    let fingerprint = entry.fingerprint.clone();
    ledger.update(|d| {
        if let Some(e) = active_for(d, &fingerprint, now) {
            anyhow::bail!(
                "an active token for this blocker was minted meanwhile ({})",
                e.id
            );
        }
        d.add(
            entry,
            &who.to_string(),
            "minted after the terminal challenge",
            now,
        );
        Ok(())
    })?;
    ctx.printer.info(&format!(
        "tollgate: token {id} passes `{}` at {} once, until {}",
        f.constraint,
        f.location,
        expires.to_rfc3339()
    ));
    ctx.printer.stdout(&format!(
        "TOLLGATE_TOKEN={token}\n{}\n",
        rerun_command(repo, &event, &token)
    ));
    Ok(Outcome::Pass)
}

pub(super) fn active_for<'a>(
    d: &'a LedgerData,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Option<&'a Entry> {
    d.entries
        .iter()
        .find(|e| e.fingerprint == fingerprint && e.state_at(now) == State::Active)
}

pub(super) enum Answer {
    Approved,
    Denied,
    Timeout,
}

/// Shows the blocker (and `context`, lines such as who asks) and a fresh
/// code on the terminal and reads it back.
pub(super) fn challenge(
    tty: &mut Tty,
    f: &Finding,
    reason: &str,
    context: &str,
) -> anyhow::Result<Answer> {
    let code = new_code();
    tty.write(&format!(
        "\ntollgate override for blocker `{}` ({}, {}) at {}\n  reason: {reason}\n{context}To approve, type this code: {code}\n",
        f.constraint,
        f.kind,
        f.severity.as_str(),
        f.location
    ))?;
    let deadline = Instant::now() + CHALLENGE_WINDOW;
    for attempt in 1..=ATTEMPTS {
        tty.write("> ")?;
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(answer) = tty.read_line(left) else {
            tty.write("\nTimed out.\n")?;
            return Ok(Answer::Timeout);
        };
        if answer.trim() == code {
            tty.write("Approved.\n")?;
            return Ok(Answer::Approved);
        }
        let remaining = ATTEMPTS - attempt;
        if remaining > 0 {
            tty.write(&format!(
                "Invalid code. {remaining} attempt{} remaining.\n",
                if remaining == 1 { "" } else { "s" }
            ))?;
        }
    }
    tty.write("Invalid code. Override denied.\n")?;
    Ok(Answer::Denied)
}

fn entry_json(e: &Entry, now: DateTime<Utc>) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("state".into(), e.state_at(now).as_str().into());
        o.remove("token_sha256");
    }
    v
}

fn list(
    ctx: &Ctx,
    ledger: &Ledger,
    now: DateTime<Utc>,
    expired: bool,
    all: bool,
    format: Format,
) -> anyhow::Result<Outcome> {
    let data = ledger.read()?;
    let shown: Vec<&Entry> = data
        .entries
        .iter()
        .filter(|e| {
            let s = e.state_at(now);
            all || (expired && s == State::Expired) || (!expired && s == State::Active)
        })
        .collect();
    if format == Format::Json {
        let arr: Vec<_> = shown.iter().map(|e| entry_json(e, now)).collect();
        ctx.printer
            .stdout(&(serde_json::to_string_pretty(&arr)? + "\n"));
        return Ok(Outcome::Pass);
    }
    if shown.is_empty() {
        ctx.printer.info("no overrides to list");
    }
    let mut out = String::new();
    for e in shown {
        out += &format!(
            "{:<16} {:<8} {:<28} expires {}  {}\n",
            e.id,
            e.state_at(now).as_str(),
            e.constraint,
            e.expires.format("%Y-%m-%d %H:%M:%SZ"),
            e.reason
        );
    }
    ctx.printer.stdout(&out);
    Ok(Outcome::Pass)
}

fn status(
    ctx: &Ctx,
    ledger: &Ledger,
    now: DateTime<Utc>,
    id: &str,
    format: Format,
) -> anyhow::Result<Outcome> {
    let data = ledger.read()?;
    let i = data.find(id).map_err(anyhow::Error::msg)?;
    let e = &data.entries[i];
    let trail: Vec<_> = data.trail.iter().filter(|t| t.id == e.id).collect();
    if format == Format::Json {
        let mut v = entry_json(e, now);
        if let Some(o) = v.as_object_mut() {
            o.insert("trail".into(), serde_json::to_value(&trail)?);
        }
        ctx.printer
            .stdout(&(serde_json::to_string_pretty(&v)? + "\n"));
        return Ok(Outcome::Pass);
    }
    let mut out = format!(
        "{}  {}\n  constraint  {} ({}, {})\n  at          {}\n  fingerprint {}\n  reason      {}{}\n  requested   by {}\n  minted      {}\n  expires     {}\n",
        e.id,
        e.state_at(now).as_str(),
        e.constraint,
        e.kind,
        e.severity.as_str(),
        e.location,
        e.fingerprint,
        e.reason,
        e.code.as_ref().map(|c| format!(" [{c}]")).unwrap_or_default(),
        e.who,
        e.minted.to_rfc3339(),
        e.expires.to_rfc3339(),
    );
    if let (Some(at), Some(what)) = (e.used_at, &e.used_for) {
        out += &format!("  used        {} for {what}\n", at.to_rfc3339());
    }
    for t in trail {
        out += &format!(
            "  {}  {} -> {}  by {}: {}\n",
            t.at.to_rfc3339(),
            t.from.map_or("-", |s| s.as_str()),
            t.to.as_str(),
            t.who,
            t.why
        );
    }
    ctx.printer.stdout(&out);
    Ok(Outcome::Pass)
}

fn revoke(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    id: &str,
    reason: &str,
) -> anyhow::Result<Outcome> {
    let who = gate::who(repo).to_string();
    let revoked = ledger.update(|d| {
        let i = d.find(id).map_err(anyhow::Error::msg)?;
        let state = d.entries[i].state_at(now);
        if state != State::Active {
            anyhow::bail!(
                "{} is {}; only ACTIVE tokens can be revoked",
                d.entries[i].id,
                state.as_str()
            );
        }
        d.transition(i, State::Revoked, &who, reason, now);
        Ok(d.entries[i].id.clone())
    })?;
    ctx.printer
        .info(&format!("tollgate: token {revoked} revoked"));
    Ok(Outcome::Pass)
}

fn history(
    ctx: &Ctx,
    ledger: &Ledger,
    now: DateTime<Utc>,
    constraint: Option<&str>,
    days: Option<u32>,
    format: Format,
) -> anyhow::Result<Outcome> {
    let data = ledger.read()?;
    let since = days.map(|d| now - chrono::Duration::days(i64::from(d)));
    let rows: Vec<_> = data
        .trail
        .iter()
        .filter(|t| since.is_none_or(|s| t.at >= s))
        .filter_map(|t| {
            let e = data.entries.iter().find(|e| e.id == t.id)?;
            constraint
                .is_none_or(|c| e.constraint == c)
                .then_some((t, e))
        })
        .collect();
    if format == Format::Json {
        let arr: Vec<_> = rows
            .iter()
            .map(|(t, e)| {
                serde_json::json!({
                    "at": t.at, "id": t.id, "from": t.from.map(|s| s.as_str()), "to": t.to.as_str(),
                    "who": t.who, "why": t.why, "constraint": e.constraint, "fingerprint": e.fingerprint,
                })
            })
            .collect();
        ctx.printer
            .stdout(&(serde_json::to_string_pretty(&arr)? + "\n"));
        return Ok(Outcome::Pass);
    }
    let mut out = String::new();
    for (t, e) in rows {
        out += &format!(
            "{}  {:<16} {:<9} -> {:<9} {:<28} {}: {}\n",
            t.at.format("%Y-%m-%d %H:%M:%SZ"),
            t.id,
            t.from.map_or("-", |s| s.as_str()),
            t.to.as_str(),
            e.constraint,
            t.who,
            t.why
        );
    }
    ctx.printer.stdout(&out);
    Ok(Outcome::Pass)
}
