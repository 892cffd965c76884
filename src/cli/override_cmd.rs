//! `tollgate override`: mint a token for one blocker after a person answers
//! a challenge on the terminal; and `override list|status|revoke|history`.
//!
//! The challenge code goes to `/dev/tty` only, never to stdout, stderr or a
//! file: an automated agent that runs git cannot read it back to approve
//! its own override.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::challenge::{challenge, sign_approved, Answer};
use super::check::Format;
use super::gate;
use super::tty::Tty;
use super::{Ctx, Outcome};
use crate::audit::pipeline::approver_key_for;
use crate::gate::prepare::Asked;
use crate::git::Repo;
use crate::overrides::ledger::{Entry, Ledger, State};
use crate::overrides::lifecycle::active_for;
use crate::overrides::{new_token, token_hash, token_id};

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
    /// Ask a person to approve one blocker, without a terminal: a pending request (approved with `override pending`), or for two-key a signed request for a second person
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
    /// Approve or deny, at your terminal, the requests recorded without one (by a coding agent, an IDE, a script)
    Pending,
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

fn asked(finding: String, why: Why) -> Asked {
    Asked {
        finding,
        reason: why.reason,
        code: why.code,
        ttl: why.ttl,
    }
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
            let asked = asked(finding, why);
            super::two_key::request(ctx, &repo, &ledger, now, asked, out.as_deref())
        }
        Some(OverrideCommand::Pending) => super::pending::pending(ctx, &repo, &ledger, now),
        Some(OverrideCommand::Approve { request, out }) => {
            super::two_key::approve(ctx, &repo, now, &request, out.as_deref())
        }
        Some(OverrideCommand::Accept { approval }) => {
            super::two_key::accept(ctx, &repo, &ledger, now, &approval)
        }
        None => {
            let asked = asked(args.finding.unwrap_or_default(), args.why);
            mint(ctx, &repo, &ledger, now, asked)
        }
    }
}

fn mint(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    asked: Asked,
) -> anyhow::Result<Outcome> {
    let p = match crate::gate::prepare::prepare_in(
        repo,
        &ctx.policy(Some(repo))?,
        ledger,
        now,
        asked,
        crate::gate::prepare::Want::Token,
    )? {
        Ok(p) => p,
        Err(why) => return ctx.refuse(&why.to_string()),
    };
    let (event, f, ttl) = (p.event, &p.finding, p.ttl);
    let Some(kind) = event.kind() else {
        return ctx.refuse("only a commit or a push can be overridden");
    };
    // Everything a token needs to be consumed is checked before it is
    // minted, so that no token exists that cannot be used.
    let signer = match crate::audit::pipeline::signer(repo).and_then(|s| {
        s.key.check_usable()?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            return ctx.refuse(&format!(
                "{e:#}; no token was minted, because consuming it must leave a signed audit record"
            ))
        }
    };
    let approver_key = match approver_key_for(repo, p.tier, &f.constraint) {
        Ok(k) => k,
        Err(why) => return ctx.refuse(&why),
    };
    // The person at the terminal.
    let Some(mut tty) = Tty::open() else {
        return ctx.refuse("override approval needs a terminal: a person must type the challenge code shown there (no controlling terminal found)");
    };
    let who = gate::who(repo);
    let mut entry = Entry::for_finding(
        f,
        kind,
        State::Active,
        p.reason.clone(),
        p.code.clone(),
        who.clone(),
        p.tier,
        now,
        now + chrono::Duration::from_std(ttl)?,
    );
    let context = match &approver_key {
        Some((_, fp)) => {
            format!("  approval: tier `presence`; after the code, touch your security key ({fp})\n")
        }
        None => "  approval: tier `challenge` (self-attested: your own key signs it)\n".to_string(),
    };
    match challenge(&mut tty, f, &entry.reason, &context)? {
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
            entry.id = format!("req_{}", crate::text::short_sha(&token_hash(&new_token())));
            ledger.update(|d| {
                d.add(entry, &who.to_string(), msg, now);
                Ok::<_, anyhow::Error>(())
            })?;
            return ctx.refuse(&format!(
                "override {}: {msg}; no token was minted",
                state.as_str()
            ));
        }
    }
    let token = new_token();
    let hash = token_hash(&token);
    entry.token_sha256 = Some(hash.clone());
    let grant = match sign_approved(
        &mut tty,
        repo,
        &signer,
        approver_key.as_ref(),
        &entry,
        &p.scope,
        &p.policy_sha256,
    ) {
        Ok(g) => g,
        Err(why) => return ctx.refuse(&format!("{why}; no token was minted")),
    };
    entry.grant = Some(grant);
    entry.id = token_id(&hash);
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
            &format!(
                "minted after the terminal challenge (tier `{}`)",
                p.tier.as_str()
            ),
            now,
        );
        Ok(())
    })?;
    ctx.printer.info(&format!(
        "tollgate: token {id} passes `{}` at {} once, until {}",
        f.constraint,
        f.location,
        crate::clock::show(&expires)
    ));
    ctx.printer
        .stdout(&crate::gate::rerun::token_printout(repo, &event, &token));
    Ok(Outcome::Pass)
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
            esc(&e.reason)
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
        esc(&e.reason),
        e.code
            .as_ref()
            .map(|c| format!(" [{}]", esc(c)))
            .unwrap_or_default(),
        esc(&e.who.to_string()),
        crate::clock::show(&e.minted),
        crate::clock::show(&e.expires),
    );
    if let (Some(at), Some(what)) = (e.used_at, &e.used_for) {
        out += &format!("  used        {} for {what}\n", crate::clock::show(&at));
    }
    for t in trail {
        out += &format!(
            "  {}  {} -> {}  by {}: {}\n",
            crate::clock::show(&t.at),
            t.from.map_or("-", |s| s.as_str()),
            t.to.as_str(),
            esc(&t.who),
            esc(&t.why)
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

/// Anything a person typed, as shown on a terminal: control and bidi
/// characters escaped.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    crate::text::escape_controls(s)
}
