//! The token lifecycle rules that do not need the blocker itself: how
//! long a token may live (every ceiling: 24 hours, the policy's
//! `[overrides] max-ttl`, the constraint's own `max-ttl`), and one active
//! token per blocker. `gate::prepare` applies them when an override is
//! asked for; minting applies the second again under the ledger lock.
//! Pure: the time is passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::ledger::{Entry, LedgerData, State};
use crate::policy::{parse_duration, Policy, MAX_TTL};

/// Token lifetime when `--ttl` is not given.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// The token lifetime: `asked`, within every ceiling; else the default.
pub fn resolve_ttl(
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

/// The active token for `fingerprint`, if any.
pub fn active_for<'a>(
    d: &'a LedgerData,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Option<&'a Entry> {
    d.entries
        .iter()
        .find(|e| e.fingerprint == fingerprint && e.state_at(now) == State::Active)
}

/// The open request or active token for `fingerprint` (not a two-key
/// request, which `override accept` turns into a token): one at a time per
/// blocker.
pub fn open_for<'a>(d: &'a LedgerData, fingerprint: &str, now: DateTime<Utc>) -> Option<&'a Entry> {
    d.entries.iter().find(|e| {
        e.fingerprint == fingerprint
            && matches!(e.state_at(now), State::Requested | State::Active)
            && e.request.is_none()
    })
}
