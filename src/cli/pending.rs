//! Asking, not approving: `tollgate override request` for a blocker whose
//! tier a person approves on this machine (`challenge`, `presence`), made
//! without a terminal (by a coding agent, an IDE, a script), and
//! `tollgate override pending`, where the person approves or denies each
//! request at their own terminal after tollgate recomputes its blocker.
//!
//! The request holds the hash of a token whose plain value only the asker
//! gets; the token passes nothing until the person's approval signs a grant
//! that binds that hash to the recomputed blocker. The asker never sees a
//! challenge code.

use chrono::{DateTime, Utc};

use super::challenge::{challenge, sign_approved, Answer};
use super::tty::Tty;
use super::{Ctx, Outcome};
use crate::audit::pipeline::approver_key_for;
use crate::gate::prepare::{Asked, Prepared, Want};
use crate::git::Repo;
use crate::overrides::ledger::{Entry, Ledger, State};
use crate::overrides::{new_token, token_hash, token_id};

/// Records a request that a person approves with `override pending`, and
/// prints the token it will activate.
pub fn request_for_person(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    p: Prepared,
) -> anyhow::Result<Outcome> {
    let f = &p.finding;
    let Some(kind) = p.event.kind() else {
        return ctx.refuse("only a commit or a push can be overridden");
    };
    if let Err(e) = crate::audit::pipeline::signer(repo) {
        return ctx.refuse(&format!("{e:#}; no request was recorded, because using its token must leave a signed audit record"));
    }
    let token = new_token();
    let hash = token_hash(&token);
    let who = super::gate::who(repo);
    let id = token_id(&hash);
    let entry = Entry {
        id: id.clone(),
        token_sha256: Some(hash),
        ..Entry::for_finding(
            f,
            kind,
            State::Requested,
            p.reason.clone(),
            p.code.clone(),
            who.clone(),
            p.tier,
            now,
            now + chrono::Duration::from_std(p.ttl)?,
        )
    };
    let fingerprint = f.fingerprint.clone();
    ledger.update(|d| {
        if crate::overrides::lifecycle::open_for(d, &fingerprint, now).is_some() {
            anyhow::bail!(
                "a request or token for this blocker is already open: see `tollgate override list`"
            );
        }
        d.add(
            entry,
            &who.to_string(),
            "requested; waits for a person's approval (`tollgate override pending`)",
            now,
        );
        Ok(())
    })?;
    ctx.printer.info(&format!(
        "tollgate: request {id} for `{}` at {} recorded; it needs a person's approval (tier `{}`)",
        f.constraint,
        f.location,
        p.tier.as_str()
    ));
    ctx.printer.hint("ask your user to run `tollgate override pending` in their own terminal; once they approve, re-run the same operation with the token below (it passes this one blocker, once, until it expires)");
    ctx.printer
        .stdout(&crate::gate::rerun::token_printout(repo, &p.event, &token));
    Ok(Outcome::Pass)
}

/// `override pending`: each open request, its blocker recomputed here, then
/// approved (the tier's challenge, and a security-key touch for
/// `presence`) or denied by the person at the terminal.
pub fn pending(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let data = ledger.read()?;
    let open: Vec<Entry> = data
        .entries
        .iter()
        .filter(|e| e.state_at(now) == State::Requested && e.request.is_none())
        .cloned()
        .collect();
    if open.is_empty() {
        ctx.printer.info("tollgate: no pending requests");
        return Ok(Outcome::Pass);
    }
    for e in &open {
        ctx.printer.info(&format!(
            "pending {}  `{}` asked by {} at {}",
            e.id,
            e.constraint,
            crate::text::escape_controls(&e.who.to_string()),
            e.minted.format("%Y-%m-%d %H:%M:%SZ")
        ));
    }
    let Some(mut tty) = Tty::open() else {
        return ctx.refuse("approving a request needs a terminal: a person must answer there (no controlling terminal found)");
    };
    let signer = crate::audit::pipeline::signer(repo)?;
    let mut outcome = Outcome::Pass;
    for e in open {
        // Recomputed now, in this clone: the blocker as tollgate sees it.
        let asked = Asked {
            finding: e.fingerprint.clone(),
            reason: Some(e.reason.clone()),
            code: e.code.clone(),
            ttl: None,
        };
        let p = match crate::gate::prepare::prepare_in(
            repo,
            &ctx.policy(Some(repo))?,
            ledger,
            now,
            asked,
            Want::Request,
        )? {
            Ok(p) => p,
            Err(why) => {
                ctx.printer
                    .error(&format!("request {} cannot be approved: {why}", e.id));
                outcome = Outcome::Blocked;
                continue;
            }
        };
        let approver_key = match approver_key_for(repo, p.tier, &e.constraint) {
            Ok(k) => k,
            Err(why) => {
                ctx.printer.error(&format!("request {}: {why}", e.id));
                outcome = Outcome::Blocked;
                continue;
            }
        };
        let context = format!(
            "  request {} asked by {} (it never sees this code)\n  approval: tier `{}`{}\n  to deny it, type `deny`\n",
            e.id,
            crate::text::escape_controls(&e.who.to_string()),
            p.tier.as_str(),
            if approver_key.is_some() {
                "; after the code, touch your security key"
            } else {
                " (self-attested)"
            }
        );
        let answer = challenge(&mut tty, &p.finding, &e.reason, &context)?;
        let id = e.id.clone();
        let who = super::gate::who(repo).to_string();
        match answer {
            Answer::Approved => {
                let grant = match sign_approved(
                    &mut tty,
                    repo,
                    &signer,
                    approver_key.as_ref(),
                    &e,
                    &p.scope,
                    &p.policy_sha256,
                ) {
                    Ok(g) => g,
                    Err(why) => {
                        ctx.printer
                            .error(&format!("request {id}: {why}; it stays pending"));
                        outcome = Outcome::Blocked;
                        continue;
                    }
                };
                ledger.update(|d| {
                    let i = d
                        .requested(&id)
                        .ok_or_else(|| anyhow::anyhow!("request {id} changed meanwhile"))?;
                    d.entries[i].grant = Some(grant.clone());
                    d.transition(i, State::Active, &who, "approved at the terminal", now);
                    Ok::<_, anyhow::Error>(())
                })?;
                ctx.printer.info(&format!(
                    "tollgate: request {id} approved; its token passes `{}` once, until {}",
                    e.constraint,
                    crate::clock::show(&e.expires)
                ));
            }
            Answer::Denied | Answer::Timeout => {
                ledger.update(|d| {
                    if let Some(i) = d.requested(&id) {
                        d.transition(i, State::Denied, &who, "denied at the terminal", now);
                    }
                    Ok::<_, anyhow::Error>(())
                })?;
                ctx.printer.info(&format!("tollgate: request {id} denied"));
            }
        }
    }
    Ok(outcome)
}
