//! The terminal challenge: a fresh code written to `/dev/tty` (never to
//! stdout, stderr or a file) that a person types back, within a window and
//! a number of attempts. An automated agent that runs git cannot read the
//! code back to approve its own override. Used by `override`, `override
//! pending` and `override approve`; it decides nothing else. After an
//! approval, [`sign_approved`] asks for the security-key touch (when the
//! tier needs one) and has the grant signed.

use std::time::{Duration, Instant};

use super::tty::Tty;
use crate::check::Finding;
use crate::overrides::new_code;
use crate::text::{escape_controls, plural};

/// Signs the grant of `entry` once the person approved at the terminal:
/// with the approval key when the tier has one (telling the person to touch
/// it first), else with the developer's key.
pub(super) fn sign_approved(
    tty: &mut Tty,
    repo: &crate::git::Repo,
    signer: &crate::audit::pipeline::Signer,
    approver_key: Option<&(crate::audit::sshsig::SigningKey, String)>,
    entry: &crate::overrides::ledger::Entry,
    scope: &crate::audit::grant::Scope,
    policy_sha256: &str,
) -> Result<String, String> {
    if approver_key.is_some() {
        let _ = tty.write("Touch your security key to approve…\n");
    }
    crate::audit::pipeline::sign_grant(repo, signer, approver_key, entry, scope, policy_sha256)
}

/// How long a person has to answer the challenge.
const CHALLENGE_WINDOW: Duration = Duration::from_secs(300);
/// How many answers a person may give.
const ATTEMPTS: usize = 3;

/// How a challenge ended.
pub(super) enum Answer {
    /// The person typed the code.
    Approved,
    /// Wrong code three times, or `deny`.
    Denied,
    /// No answer within the window.
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
        "\ntollgate override for blocker `{}` ({}, {}) at {}\n  reason (their words): \"{}\"\n{context}To approve, type this code: {code}\n",
        escape_controls(&f.constraint),
        escape_controls(&f.kind),
        f.severity.as_str(),
        f.location,
        escape_controls(reason),
    ))?;
    let deadline = Instant::now() + CHALLENGE_WINDOW;
    for attempt in 1..=ATTEMPTS {
        tty.write("> ")?;
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(answer) = tty.read_line(left) else {
            tty.write("\nTimed out.\n")?;
            return Ok(Answer::Timeout);
        };
        if answer.trim().eq_ignore_ascii_case("deny") {
            tty.write("Denied.\n")?;
            return Ok(Answer::Denied);
        }
        if answer.trim() == code {
            tty.write("Approved.\n")?;
            return Ok(Answer::Approved);
        }
        let remaining = ATTEMPTS - attempt;
        if remaining > 0 {
            tty.write(&format!(
                "Invalid code. {remaining} attempt{} remaining.\n",
                plural(remaining)
            ))?;
        }
    }
    tty.write("Invalid code. Override denied.\n")?;
    Ok(Answer::Denied)
}
