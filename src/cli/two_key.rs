//! Two-key overrides: `tollgate override request | approve | accept`.
//!
//! The requester signs a request for one blocker; a *different* person,
//! named by the constraint's `approvers` and listed in the signer list,
//! checks it on their own machine, answers the terminal challenge and signs
//! an approval; only that approval, accepted by the requester, mints the
//! token. The same key or the same principal never satisfies both keys, and
//! the audit record carries both signed documents for `verify` to check.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::challenge::{challenge, Answer};
use super::tty::Tty;
use super::{Ctx, Outcome};
use crate::audit::approval::{self, Approval, Request};
use crate::gate::approve;
use crate::gate::prepare::Asked;
use crate::git::Repo;
use crate::overrides::ledger::{Entry, Ledger, State};
use crate::overrides::{new_token, token_hash};
use crate::policy::Tier;

/// Reads `value`, or the file it names with a leading `@`.
fn read_arg(value: &str) -> anyhow::Result<String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| anyhow::anyhow!("cannot read `{path}`: {e}")),
        None => Ok(value.trim().to_string()),
    }
}

fn write_out(ctx: &Ctx, out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    if let Some(p) = out {
        std::fs::write(p, format!("{text}\n"))
            .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", p.display()))?;
        ctx.printer.info(&format!("written to `{}`", p.display()));
    }
    Ok(())
}

/// The repository as a request names it: `origin`'s URL, else the
/// directory name.
fn repository(repo: &Repo) -> String {
    repo.config_string("remote.origin.url").unwrap_or_else(|| {
        repo.workdir()
            .and_then(|w| w.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// `override request`: a signed request for one two-key blocker.
pub fn request(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    asked: Asked,
    out: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let p = match crate::gate::prepare::prepare_in(
        repo,
        &ctx.policy(Some(repo))?,
        ledger,
        now,
        asked,
        crate::gate::prepare::Want::Request,
    )? {
        Ok(p) => p,
        Err(why) => return ctx.refuse(&why.to_string()),
    };
    if p.tier != Tier::TwoKey {
        return super::pending::request_for_person(ctx, repo, ledger, now, p);
    }
    let signer = crate::audit::pipeline::signer(repo)?;
    let f = &p.finding;
    let expires = now + chrono::Duration::from_std(p.ttl)?;
    let hash = token_hash(&new_token());
    let id = format!("req_{}", hash.get(..16).unwrap_or(&hash));
    let req = Request {
        v: 1,
        doc_type: "request".into(),
        id: id.clone(),
        constraint: f.constraint.clone(),
        kind: f.kind.clone(),
        severity: f.severity,
        fingerprint: f.fingerprint.clone(),
        location: f.location.clone(),
        event: p.scope.event,
        scope: Some(p.scope.clone()),
        repository: repository(repo),
        reason: p.reason.clone(),
        reason_code: p.code.clone(),
        requester: signer.identity.clone(),
        created: now,
        expires,
        signature: String::new(),
    };
    let encoded = req.sign_and_encode(&signer.key)?;
    let who = super::gate::who(repo);
    let entry = Entry {
        id: id.clone(),
        request: Some(encoded.clone()),
        ..Entry::for_finding(
            f,
            p.scope.event,
            State::Requested,
            p.reason,
            p.code,
            who.clone(),
            Tier::TwoKey,
            now,
            expires,
        )
    };
    ledger.update(|d| {
        d.add(entry, &who.to_string(), "two-key request signed", now);
        Ok::<_, anyhow::Error>(())
    })?;
    write_out(ctx, out, &encoded)?;
    ctx.printer.info(&format!(
        "tollgate: request {id} for `{}` at {}, valid until {}",
        f.constraint,
        f.location,
        crate::clock::show(&expires)
    ));
    ctx.printer.hint(&format!(
        "send it to one of `{}`'s approvers ({}): they run `tollgate override approve <request>`; then run `tollgate override accept <approval>`",
        p.constraint.id,
        p.approvers.join(", ")
    ));
    ctx.printer.stdout(&format!("{encoded}\n"));
    Ok(Outcome::Pass)
}

/// `override approve`: checks someone else's request and signs an
/// approval after the terminal challenge.
pub fn approve(
    ctx: &Ctx,
    repo: &Repo,
    now: DateTime<Utc>,
    value: &str,
    out: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let encoded = read_arg(value)?;
    let req = match Request::decode(&encoded) {
        Ok(r) => r,
        Err(e) => return ctx.refuse(&format!("refused: {e}")),
    };
    let (signers, _) = crate::audit::pipeline::local_signers(repo)?;
    if let Err(why) = approve::check_document(&req, &signers, now) {
        return ctx.refuse(&why);
    }
    let me = crate::audit::pipeline::signer(repo)?;
    if let Err(e) = approval::same_person_refused(&req.requester, &me.identity) {
        return ctx.refuse(&format!("refused: {e}"));
    }
    let policy = ctx.policy(Some(repo))?;
    // What is approved is what this clone computes from the request's
    // scope, never what the requester wrote.
    let scope = match approve::check_against_policy(&req, &policy, &me.identity) {
        Ok(s) => s,
        Err(why) => return ctx.refuse(&why),
    };
    let remote = "origin";
    let missing =
        crate::gate::recompute::missing(repo, &req.kind, scope, req.location.commit.as_deref());
    if !missing.is_empty() {
        // Fetch what the request names, then the remote's refs.
        let mut args = vec!["fetch", "--quiet", "--no-tags", remote];
        args.extend(missing.iter().map(String::as_str));
        if crate::git::git_command(repo.common_dir(), &args).is_err() {
            let _ = crate::git::git_command(repo.common_dir(), &["fetch", "--quiet", remote]);
        }
    }
    let recomputed = match crate::gate::recompute::recompute(
        repo,
        &policy,
        &req.constraint,
        &req.kind,
        scope,
        &req.fingerprint,
        req.location.commit.as_deref(),
    )? {
        Ok(r) => r,
        Err(why) => {
            return ctx.refuse(&format!(
                    "refused: {why}; the requester's description (`{}` at {}) is not what would be approved",
                    crate::text::escape_controls(&req.constraint),
                    req.location
                ),
            )
        }
    };
    let Some(mut tty) = Tty::open() else {
        return ctx.refuse("approval needs a terminal: the approver must type the challenge code shown there (no controlling terminal found)");
    };
    let f = recomputed.finding.clone();
    let mut context = String::from("  computed here from the request's scope:\n");
    for line in &recomputed.shown {
        context.push_str(&format!("    {line}\n"));
    }
    context.push_str(&format!(
        "  requested by: {} <{}> ({})\n  repository (their words): {}\n  fingerprint: {}\n  valid until: {}\n",
        crate::text::escape_controls(&req.requester.name),
        crate::text::escape_controls(&req.requester.email),
        req.requester.key_fingerprint,
        crate::text::escape_controls(&req.repository),
        req.fingerprint,
        crate::clock::show(&req.expires)
    ));
    match challenge(&mut tty, &f, &req.reason, &context)? {
        Answer::Approved => {}
        Answer::Timeout => return ctx.refuse("approval timed out; nothing was signed"),
        Answer::Denied => {
            return ctx.refuse("the challenge code was wrong 3 times; nothing was signed")
        }
    }
    let app = Approval {
        v: 1,
        doc_type: "approval".into(),
        request_sha256: approval::digest(&encoded),
        request_id: req.id.clone(),
        fingerprint: req.fingerprint.clone(),
        constraint: req.constraint.clone(),
        approver: me.identity.clone(),
        approved: now,
        expires: req.expires,
        signature: String::new(),
    };
    let signed = app.sign_and_encode(&me.key)?;
    write_out(ctx, out, &signed)?;
    ctx.printer.info(&format!(
        "tollgate: approved request {} of {}; send this approval back to them",
        req.id, req.requester.email
    ));
    ctx.printer.stdout(&format!("{signed}\n"));
    Ok(Outcome::Pass)
}

/// `override accept`: checks an approval of one's own request and mints
/// the token.
pub fn accept(
    ctx: &Ctx,
    repo: &Repo,
    ledger: &Ledger,
    now: DateTime<Utc>,
    value: &str,
) -> anyhow::Result<Outcome> {
    let encoded = read_arg(value)?;
    let app = match Approval::decode(&encoded) {
        Ok(a) => a,
        Err(e) => return ctx.refuse(&format!("refused: {e}")),
    };
    let data = ledger.read()?;
    let Some(entry) = data.entries.iter().find(|e| {
        e.state == State::Requested
            && e.request
                .as_deref()
                .is_some_and(|r| approval::digest(r) == app.request_sha256)
    }) else {
        return ctx.refuse("refused: no open request in this repository matches the approval (it was made for another request, or already accepted)");
    };
    let request = entry.request.clone().unwrap_or_default();
    let policy = ctx.policy(Some(repo))?;
    let approvers = policy
        .constraint(&entry.constraint)
        .map(|c| policy.approvers_for(c).to_vec())
        .unwrap_or_default();
    let (signers, _) = crate::audit::pipeline::local_signers(repo)?;
    if let Err(e) = approval::check_pair(&request, &encoded, &signers, &approvers) {
        return ctx.refuse(&format!("refused: {e}"));
    }
    if now >= entry.expires {
        return ctx.refuse(&format!(
            "refused: the request expired at {}",
            crate::clock::show(&entry.expires)
        ));
    }
    let id = entry.id.clone();
    let token = new_token();
    let hash = token_hash(&token);
    let who = super::gate::who(repo);
    ledger.update(|d| {
        let i = d
            .requested(&id)
            .ok_or_else(|| anyhow::anyhow!("request {id} was accepted meanwhile"))?;
        d.entries[i].token_sha256 = Some(hash.clone());
        d.entries[i].approval = Some(encoded.clone());
        d.transition(
            i,
            State::Active,
            &who.to_string(),
            &format!("approved by {}", app.approver.email),
            now,
        );
        Ok::<_, anyhow::Error>(())
    })?;
    ctx.printer.info(&format!(
        "tollgate: {} approved request {id}; the token passes `{}` once, until {}",
        app.approver.email,
        app.constraint,
        crate::clock::show(&entry.expires)
    ));
    let last = crate::state::LastRun::load(&repo.state_dir())?;
    let event = crate::gate::prepare::current_event(last.as_ref())?;
    ctx.printer
        .stdout(&crate::gate::rerun::token_printout(repo, &event, &token));
    Ok(Outcome::Pass)
}
