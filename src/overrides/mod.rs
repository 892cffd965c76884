//! Overrides: tokens that pass exactly one blocker, once, before they expire.
//!
//! It owns the token ([`token`]: the random value, its hash and id, the
//! challenge code), the ledger, a local cache of minted tokens and their
//! states under `.git/tollgate/` ([`ledger`], changed only under its lock),
//! the lifecycle rules ([`lifecycle`]: lifetime ceilings, one active token
//! per blocker), and which presented tokens cover which blockers and their
//! consumption ([`match_tokens`], [`consume`]).
//!
//! It knows findings and the policy, nothing of audit records or git. It
//! never talks to the terminal and never prints (the challenge lives in the
//! CLI, `cli/challenge.rs`), and the time is passed in. CI trusts nothing
//! here: `verify` judges the signed records.

pub mod ledger;
pub mod lifecycle;
pub mod token;

use chrono::{DateTime, Utc};

use crate::check::Finding;
use ledger::{LedgerData, State};
pub use token::{new_code, new_token, token_hash, token_id};

/// Which blockers presented tokens cover, and why other tokens were not used.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// `(index of the blocker in the findings, index of the ledger entry)`.
    pub covered: Vec<(usize, usize)>,
    /// One message per presented token that covers nothing.
    pub unused: Vec<String>,
}

/// Matches presented token hashes against the blockers among `findings`.
/// A token covers a blocker only when it is ACTIVE at `now` and was minted
/// for exactly that blocker's fingerprint.
pub fn match_tokens(
    data: &LedgerData,
    hashes: &[String],
    findings: &[&Finding],
    now: DateTime<Utc>,
) -> Coverage {
    let mut cov = Coverage::default();
    for hash in hashes {
        let Some(ei) = data.by_hash(hash) else {
            cov.unused.push(format!(
                "token {} is not in this repository's override ledger; it was ignored",
                token_id(hash)
            ));
            continue;
        };
        let e = &data.entries[ei];
        let state = e.state_at(now);
        let why = match state {
            State::Active => None,
            State::Used => Some(format!(
                "token {} already used at {} for {}",
                e.id,
                e.used_at.map(|t| crate::clock::show(&t)).unwrap_or_default(),
                e.used_for.as_deref().unwrap_or("an earlier operation")
            )),
            State::Expired if e.grant.is_none() && e.request.is_none() => Some(format!(
                "request {} expired at {} without a person's approval",
                e.id,
                crate::clock::show(&e.expires)
            )),
            State::Expired => Some(format!(
                "token {} expired at {}",
                e.id,
                crate::clock::show(&e.expires)
            )),
            State::Revoked => Some(format!("token {} was revoked", e.id)),
            State::Requested if e.grant.is_none() && e.request.is_none() => Some(format!(
                "request {} waits for a person's approval: ask your user to run `tollgate override pending` in their own terminal, then retry",
                e.id
            )),
            State::Denied if e.token_sha256.is_some() => Some(format!(
                "request {} was denied by a person: do not retry it; change the commit or push, or ask your user",
                e.id
            )),
            other => Some(format!("token {} is not active ({})", e.id, other.as_str())),
        };
        if let Some(why) = why {
            cov.unused.push(why);
            continue;
        }
        match findings.iter().position(|f| f.fingerprint == e.fingerprint) {
            Some(fi) if !cov.covered.iter().any(|&(f, _)| f == fi) => cov.covered.push((fi, ei)),
            Some(_) => cov.unused.push(format!(
                "token {} covers a blocker already covered by another token; it was not used",
                e.id
            )),
            None => cov.unused.push(format!(
                "token {} is for a different blocker (`{}` at {}); it was not used",
                e.id, e.constraint, e.location
            )),
        }
    }
    cov
}

/// Marks the covering tokens USED. Called under the ledger lock, after the
/// coverage was computed again from the locked ledger; fails (consuming
/// nothing) if any token is no longer usable, so of several hooks racing
/// with one token exactly one passes.
pub fn consume(
    data: &mut LedgerData,
    hashes: &[String],
    findings: &[&Finding],
    expected: usize,
    used_for: &str,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Vec<usize>, String> {
    let cov = match_tokens(data, hashes, findings, now);
    if cov.covered.len() < expected {
        return Err(cov
            .unused
            .first()
            .cloned()
            .unwrap_or_else(|| "a token was used by another operation at the same moment".into()));
    }
    let mut used = Vec::new();
    for &(_, ei) in &cov.covered {
        data.transition(ei, State::Used, who, used_for, now);
        data.entries[ei].used_at = Some(now);
        data.entries[ei].used_for = Some(used_for.to_string());
        used.push(ei);
    }
    Ok(used)
}

/// Parses `TOLLGATE_TOKEN`: tokens separated by commas (or white space),
/// returned as hashes so the plain tokens go no further.
pub fn presented_hashes(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(token_hash)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Location;
    use crate::policy::{OverrideMode, Severity};

    fn finding(fp: &str) -> Finding {
        Finding {
            constraint: "c".into(),
            kind: "secret".into(),
            severity: Severity::Block,
            override_mode: OverrideMode::Token,
            location: Location::default(),
            evidence: String::new(),
            fingerprint: fp.into(),
            scope: Vec::new(),
        }
    }

    fn ledger_with(token: &str, fp: &str, now: DateTime<Utc>) -> LedgerData {
        let hash = token_hash(token);
        let mut e = super::ledger::tests::entry(&token_id(&hash), now + chrono::Duration::hours(1));
        e.token_sha256 = Some(hash);
        e.fingerprint = fp.into();
        let mut d = LedgerData::default();
        d.add(e, "me", "minted", now);
        d
    }

    #[test]
    fn a_token_covers_only_its_own_blocker() {
        let now = Utc::now();
        let d = ledger_with("tgt1_a", "fp1", now);
        let (b1, b2) = (finding("fp1"), finding("fp2"));
        let cov = match_tokens(&d, &presented_hashes("tgt1_a"), &[&b2, &b1], now);
        assert_eq!(cov.covered, vec![(1, 0)]);
        let cov = match_tokens(&d, &presented_hashes("tgt1_a"), &[&b2], now);
        assert!(cov.covered.is_empty());
        assert!(
            cov.unused[0].contains("different blocker"),
            "{:?}",
            cov.unused
        );
    }

    #[test]
    fn consumption_is_single_use() {
        let now = Utc::now();
        let mut d = ledger_with("tgt1_a", "fp1", now);
        let b1 = finding("fp1");
        let hashes = presented_hashes("tgt1_a");
        consume(&mut d, &hashes, &[&b1], 1, "commit", "me", now).unwrap();
        let err = consume(&mut d, &hashes, &[&b1], 1, "commit", "me", now).unwrap_err();
        assert!(err.contains("already used"), "{err}");
    }

    #[test]
    fn expired_and_revoked_tokens_say_so() {
        let now = Utc::now();
        let mut d = ledger_with("tgt1_a", "fp1", now);
        let b1 = finding("fp1");
        let hashes = presented_hashes(" tgt1_a ,");
        let later = now + chrono::Duration::hours(2);
        let cov = match_tokens(&d, &hashes, &[&b1], later);
        assert!(cov.unused[0].contains("expired at"), "{:?}", cov.unused);
        d.transition(0, State::Revoked, "me", "no", now);
        let cov = match_tokens(&d, &hashes, &[&b1], now);
        assert!(cov.unused[0].contains("was revoked"), "{:?}", cov.unused);
    }

    #[test]
    fn unknown_tokens_are_named_by_id_only() {
        let now = Utc::now();
        let d = LedgerData::default();
        let cov = match_tokens(&d, &presented_hashes("tgt1_secretvalue"), &[], now);
        assert!(!cov.unused[0].contains("secretvalue"));
    }
}
