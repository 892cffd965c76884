//! Judging someone else's two-key request before approving it, in the
//! approver's own clone: the document's signature and lifetime, that the
//! approver is not the requester, and that this repository's policy makes
//! the constraint two-key with the approver among its approvers. Each
//! refusal is the message to print; nothing here prints, prompts or signs.
//! What is approved is then recomputed from the request's scope
//! ([`super::recompute`]), never taken from the requester's words.

use chrono::{DateTime, Utc};

use crate::audit::approval::{self, Request};
use crate::audit::grant::Scope;
use crate::audit::{AllowedSigners, Identity};
use crate::policy::{Policy, Tier};

/// The request's signature holds against `signers` and it has not expired
/// at `now`. (That the approver is not the requester is
/// [`approval::same_person_refused`], checked next with the approver's key.)
pub fn check_document(
    req: &Request,
    signers: &AllowedSigners,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if let Err(e) = req.verify(signers) {
        return Err(format!(
            "refused: the request's signature does not hold: {e}"
        ));
    }
    if now >= req.expires {
        return Err(format!(
            "refused: the request expired at {}",
            crate::clock::show(&req.expires)
        ));
    }
    Ok(())
}

/// The scope the blocker is recomputed from, when `policy` makes the
/// request's constraint two-key with `me` among its approvers.
pub fn check_against_policy<'a>(
    req: &'a Request,
    policy: &Policy,
    me: &Identity,
) -> Result<&'a Scope, String> {
    let Some(c) = policy.constraint(&req.constraint) else {
        return Err(format!(
            "refused: this repository's policy has no constraint `{}`",
            req.constraint
        ));
    };
    if policy.tier_for(c) != Tier::TwoKey {
        return Err(format!(
            "refused: constraint `{}` is not a two-key constraint here",
            c.id
        ));
    }
    if let Err(e) = approval::approver_allowed(me, &c.id, policy.approvers_for(c)) {
        return Err(format!("refused: {e}"));
    }
    let Some(scope) = &req.scope else {
        return Err("refused: the request names no scope, so the blocker cannot be computed here; ask for a new request".into());
    };
    Ok(scope)
}
