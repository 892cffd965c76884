//! Preparing an override: the blocker re-evaluated now and every rule a
//! token or a two-key request must meet (tier, reason and code, lifetime
//! ceilings, one active token per blocker), returned as a typed refusal.
//! Nothing here prints, prompts or mints.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::check::{Engine, EventKind, Finding};
use crate::git::{parse_push_lines, Repo};
use crate::overrides::ledger::LedgerData;
use crate::overrides::lifecycle::{active_for, resolve_ttl};
use crate::policy::{OverrideMode, Policy, Severity, Tier};
use crate::state::LastRun;

use super::Event;

/// What the caller will make of a prepared blocker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Mint a token now, at this terminal (refused for `two-key`).
    Token,
    /// Record a request for a person to approve (any tier): a signed
    /// two-key request, or a pending request approved with
    /// `tollgate override pending`.
    Request,
}

/// Why an override is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `B1` was asked for, but no blocked run is remembered.
    NoBlockedRun(String),
    /// The last blocked run has no finding with that id.
    NoSuchFinding {
        /// `commit` or `push`.
        event: EventKind,
        /// The id asked for.
        id: String,
    },
    /// The blocker does not exist now.
    Gone {
        /// The id asked for.
        id: String,
        /// The event re-evaluated.
        event: &'static str,
    },
    /// It is a warning.
    Warning(String),
    /// `override = "never"`.
    Never(String),
    /// The tier is `two-key`: a request is needed.
    NeedsTwoKey {
        /// The constraint.
        constraint: String,
        /// The id asked for.
        id: String,
        /// Who may approve.
        approvers: Vec<String>,
    },
    /// No (or an empty) reason.
    NoReason,
    /// A reason or code holding control characters (the message).
    Hostile(String),
    /// The policy lists reason codes and none was given.
    NoCode(Vec<String>),
    /// A code the policy does not list.
    UnknownCode {
        /// The code given.
        code: String,
        /// The policy's.
        codes: Vec<String>,
    },
    /// `--ttl` is invalid or over a ceiling (the message).
    Ttl(String),
    /// An active token for this blocker exists.
    ActiveExists {
        /// Its id.
        id: String,
        /// When it expires.
        expires: DateTime<Utc>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoBlockedRun(id) => write!(f, "no blocked run to take `{id}` from: run the commit or push first, or give a fingerprint prefix"),
            Refusal::NoSuchFinding { event, id } => write!(f, "the last blocked {} has no finding `{id}`", event.as_str()),
            Refusal::Gone { id, event } => write!(f, "blocker `{id}` does not exist now: the {event} changed or no longer violates the policy; re-run it to see the current blockers"),
            Refusal::Warning(id) => write!(f, "`{id}` is a warning: warnings need no token; acknowledge them with `--yes` or `TOLLGATE_YES=1`"),
            Refusal::Never(c) => write!(f, "constraint `{c}` cannot be overridden (override = \"never\")"),
            Refusal::NeedsTwoKey { constraint, id, approvers } => write!(f, "constraint `{constraint}` needs a second person's approval: run `tollgate override request {id} --reason \"…\"` and have one of its approvers ({}) sign it", approvers.join(", ")),
            Refusal::NoReason => write!(f, "an override needs a reason: `--reason \"<why this blocker should pass>\"`"),
            Refusal::Hostile(why) | Refusal::Ttl(why) => write!(f, "{why}"),
            Refusal::NoCode(codes) => write!(f, "the policy requires a reason code: `--code <{}>`", codes.join("|")),
            Refusal::UnknownCode { code, codes } => write!(f, "reason code `{}` is not one of the policy's: {}", crate::text::escape_controls(code), codes.join(", ")),
            Refusal::ActiveExists { id, expires } => write!(f, "an active token for this blocker already exists ({id}, expires {}); use it, or revoke it with `tollgate override revoke {id}`", crate::clock::show(expires)),
        }
    }
}

/// The event to re-evaluate: the push that was last blocked, else the index.
pub fn current_event(last: Option<&LastRun>) -> anyhow::Result<Event> {
    match last {
        Some(l) if l.event == EventKind::Push => Ok(Event::Push {
            remote: l.remote.clone().unwrap_or_else(|| "origin".into()),
            lines: parse_push_lines(l.push_lines.join("\n").as_bytes())?,
        }),
        _ => Ok(Event::Staged),
    }
}

/// What the person asked for.
pub struct Asked {
    /// `B1`, or a fingerprint prefix.
    pub finding: String,
    /// `--reason`.
    pub reason: Option<String>,
    /// `--code`.
    pub code: Option<String>,
    /// `--ttl`.
    pub ttl: Option<String>,
}

/// The blocker, re-evaluated now, with everything checked that a token or
/// a request needs.
pub struct Prepared {
    /// The event re-evaluated.
    pub event: Event,
    /// What the blocker was computed from.
    pub scope: crate::audit::grant::Scope,
    /// The approval tier the policy demands for it.
    pub tier: Tier,
    /// sha256 of the effective policy.
    pub policy_sha256: String,
    /// Who may approve it (two-key).
    pub approvers: Vec<String>,
    /// The blocker.
    pub finding: Finding,
    /// Its constraint.
    pub constraint: crate::policy::Constraint,
    /// The reason, trimmed.
    pub reason: String,
    /// The reason code.
    pub code: Option<String>,
    /// The token lifetime.
    pub ttl: Duration,
}

/// Resolves `asked.finding`, re-evaluates the blocker with `policy` and
/// checks everything a token (or a request) needs: the
/// tier, the reason and code, the lifetime, no other active token.
/// `Err(refusal)` inside `Ok` is a refusal to show the person; the outer
/// error is a failure (git, state files).
pub fn prepare(
    repo: &Repo,
    policy: &Policy,
    ledger: &LedgerData,
    last: Option<&LastRun>,
    now: DateTime<Utc>,
    asked: Asked,
    want: Want,
) -> anyhow::Result<Result<Prepared, Refusal>> {
    let wanted = asked.finding;
    // Name → fingerprint prefix.
    let upper = wanted.to_ascii_uppercase();
    let is_short =
        (upper.starts_with('B') || upper.starts_with('W')) && upper[1..].parse::<u32>().is_ok();
    let prefix = if is_short {
        let Some(last) = last else {
            return Ok(Err(Refusal::NoBlockedRun(wanted)));
        };
        let Some(s) = last.findings.iter().find(|s| s.id == upper) else {
            return Ok(Err(Refusal::NoSuchFinding {
                event: last.event,
                id: upper,
            }));
        };
        s.finding.fingerprint.clone()
    } else if wanted.len() >= 8 && wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
        wanted.to_ascii_lowercase()
    } else {
        anyhow::bail!("`{wanted}` is neither a short id like `B1` nor a fingerprint prefix of at least 8 hex digits");
    };
    // Re-evaluate now: the blocker must still exist.
    let engine = Engine::new(policy);
    let event = current_event(last)?;
    let findings = super::evaluate(repo, &engine, &event)?;
    let matches: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.fingerprint.starts_with(&prefix))
        .collect();
    let f = match matches[..] {
        [f] => f,
        [] => {
            return Ok(Err(Refusal::Gone {
                id: wanted,
                event: event.name(),
            }))
        }
        _ => anyhow::bail!(
            "fingerprint prefix `{wanted}` matches {} findings; give more digits",
            matches.len()
        ),
    };
    let Some(c) = policy.constraint(&f.constraint) else {
        anyhow::bail!("constraint `{}` is not in the policy", f.constraint);
    };
    if f.severity == Severity::Warn {
        return Ok(Err(Refusal::Warning(wanted)));
    }
    let tier = policy.tier_for(c);
    if c.override_mode == OverrideMode::Never {
        return Ok(Err(Refusal::Never(c.id.clone())));
    }
    if tier == Tier::TwoKey && want == Want::Token {
        return Ok(Err(Refusal::NeedsTwoKey {
            constraint: c.id.clone(),
            id: wanted,
            approvers: policy.approvers_for(c).to_vec(),
        }));
    }
    let reason = asked.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return Ok(Err(Refusal::NoReason));
    }
    if let Err(why) = crate::check::refuse_hostile("--reason", &reason) {
        return Ok(Err(Refusal::Hostile(why)));
    }
    if let Some(code) = &asked.code {
        if let Err(why) = crate::check::refuse_hostile("--code", code) {
            return Ok(Err(Refusal::Hostile(why)));
        }
    }
    if !policy.reasons.is_empty() {
        match &asked.code {
            None => return Ok(Err(Refusal::NoCode(policy.reasons.clone()))),
            Some(code) if !policy.reasons.contains(code) => {
                return Ok(Err(Refusal::UnknownCode {
                    code: code.clone(),
                    codes: policy.reasons.clone(),
                }))
            }
            Some(_) => {}
        }
    }
    let scope = super::scope::scope_of(event.kind().unwrap_or(EventKind::Commit), f);
    let ttl = match resolve_ttl(policy, c, asked.ttl.as_deref()) {
        Ok(t) => t,
        Err(msg) => return Ok(Err(Refusal::Ttl(msg))),
    };
    if let Some(e) = active_for(ledger, &f.fingerprint, now) {
        return Ok(Err(Refusal::ActiveExists {
            id: e.id.clone(),
            expires: e.expires,
        }));
    }
    Ok(Ok(Prepared {
        event,
        scope,
        tier,
        policy_sha256: policy.digest(),
        approvers: policy.approvers_for(c).to_vec(),
        finding: f.clone(),
        constraint: c.clone(),
        reason: reason.trim().to_string(),
        code: asked.code,
        ttl,
    }))
}

/// [`prepare`] with what this clone remembers: the last blocked run and
/// the ledger, read now.
pub fn prepare_in(
    repo: &Repo,
    policy: &Policy,
    ledger: &crate::overrides::ledger::Ledger,
    now: DateTime<Utc>,
    asked: Asked,
    want: Want,
) -> anyhow::Result<Result<Prepared, Refusal>> {
    let last = LastRun::load(&repo.state_dir())?;
    let data = ledger.read()?;
    prepare(repo, policy, &data, last.as_ref(), now, asked, want)
}
