//! The ledger: every override request and token with its state, and an
//! append-only trail of state changes, in `<common git dir>/tollgate/ledger.json`.
//!
//! Every change happens under an exclusive lock (`ledger.lock`, released by
//! the OS if the process dies) and is written by write-and-rename, so a
//! crash leaves the old ledger or the new one. A ledger that cannot be read
//! or parsed is an error that blocks; it is never reset or overwritten.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::check::{EventKind, Location};
use crate::policy::{Severity, Tier};
use crate::state::write_atomic;

/// What went wrong with the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Reading, locking or writing failed.
    #[error("cannot {what} the override ledger `{path}`: {source}")]
    Io {
        /// `read`, `lock`, `write`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid ledger; it is left exactly as it is.
    #[error("the override ledger `{path}` is corrupt ({why}); it was left untouched: restore it from a backup or move it aside to start a new one (overrides stay blocked until then)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        why: String,
    },
}

/// The state of a request or token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Two-key: waiting for the second signature.
    Requested,
    /// Minted and usable.
    Active,
    /// Consumed once; never again.
    Used,
    /// Past its expiry, unused.
    Expired,
    /// Revoked by a person.
    Revoked,
    /// The challenge was failed.
    Denied,
    /// The challenge was not answered in time.
    Timeout,
}

impl State {
    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "REQUESTED",
            State::Active => "ACTIVE",
            State::Used => "USED",
            State::Expired => "EXPIRED",
            State::Revoked => "REVOKED",
            State::Denied => "DENIED",
            State::Timeout => "TIMEOUT",
        }
    }
}

/// Who did something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    /// `user.name`.
    pub name: String,
    /// `user.email`.
    pub email: String,
    /// The operating-system user.
    pub os_user: String,
}

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}> ({})", self.name, self.email, self.os_user)
    }
}

/// One request or token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `tok_…`: derived from the token's hash.
    pub id: String,
    /// `sha256(token)`; `None` when no token was minted (DENIED, TIMEOUT).
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// Current state (ACTIVE past `expires` reads as EXPIRED).
    pub state: State,
    /// The blocker's fingerprint: the only thing this token passes.
    pub fingerprint: String,
    /// The blocker's constraint.
    pub constraint: String,
    /// The constraint's kind.
    pub kind: String,
    /// The blocker's severity.
    pub severity: Severity,
    /// Where the blocker was.
    pub location: Location,
    /// The operation it was minted for.
    pub event: EventKind,
    /// Why the person overrode it.
    pub reason: String,
    /// Reason code from `[overrides] reasons`.
    #[serde(default)]
    pub code: Option<String>,
    /// Who requested it.
    pub who: Who,
    /// The approval tier it was minted with.
    pub method: Tier,
    /// When requested / minted.
    pub minted: DateTime<Utc>,
    /// When it stops being valid.
    pub expires: DateTime<Utc>,
    /// When it was consumed.
    #[serde(default)]
    pub used_at: Option<DateTime<Utc>>,
    /// What consumed it.
    #[serde(default)]
    pub used_for: Option<String>,
    /// `challenge` and `presence`: the signed grant (`tggrant1_…`) that
    /// binds the token's hash to the blocker; the audit record carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    /// Two-key: the signed request (`tgreq1_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Two-key: the signed approval (`tgapp1_…`), once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

impl Entry {
    /// The state as of `now`: an ACTIVE token past its expiry is EXPIRED.
    pub fn state_at(&self, now: DateTime<Utc>) -> State {
        if matches!(self.state, State::Active | State::Requested) && now >= self.expires {
            State::Expired
        } else {
            self.state
        }
    }
}

impl Entry {
    /// A new entry for the blocker `f`, met in an event of `event`, with
    /// no token yet and no approval documents: the caller sets `id`,
    /// `token_sha256` and the grant or two-key documents.
    #[allow(clippy::too_many_arguments)]
    pub fn for_finding(
        f: &crate::check::Finding,
        event: EventKind,
        state: State,
        reason: String,
        code: Option<String>,
        who: Who,
        method: Tier,
        minted: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Entry {
        Entry {
            id: String::new(),
            token_sha256: None,
            state,
            fingerprint: f.fingerprint.clone(),
            constraint: f.constraint.clone(),
            kind: f.kind.clone(),
            severity: f.severity,
            location: f.location.clone(),
            event,
            reason,
            code,
            who,
            method,
            grant: None,
            minted,
            expires,
            used_at: None,
            used_for: None,
            request: None,
            approval: None,
        }
    }
}

/// One state change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrailEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Which request or token.
    pub id: String,
    /// The state before (`None` when created).
    pub from: Option<State>,
    /// The state after.
    pub to: State,
    /// Who made the change.
    pub who: String,
    /// Why.
    pub why: String,
}

/// The whole ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerData {
    /// `tollgate/ledger/v1`.
    pub schema: String,
    /// Every request and token, oldest first.
    pub entries: Vec<Entry>,
    /// Every state change, oldest first; only ever appended to.
    pub trail: Vec<TrailEntry>,
}

const SCHEMA: &str = "tollgate/ledger/v1";

impl Default for LedgerData {
    fn default() -> Self {
        LedgerData {
            schema: SCHEMA.into(),
            entries: Vec::new(),
            trail: Vec::new(),
        }
    }
}

impl LedgerData {
    /// Adds a new entry and its creation to the trail.
    pub fn add(&mut self, entry: Entry, who: &str, why: &str, now: DateTime<Utc>) {
        self.trail.push(TrailEntry {
            at: now,
            id: entry.id.clone(),
            from: None,
            to: entry.state,
            who: who.into(),
            why: why.into(),
        });
        self.entries.push(entry);
    }

    /// Changes an entry's state and appends the change to the trail.
    pub fn transition(
        &mut self,
        index: usize,
        to: State,
        who: &str,
        why: &str,
        now: DateTime<Utc>,
    ) {
        let e = &mut self.entries[index];
        let from = e.state;
        e.state = to;
        self.trail.push(TrailEntry {
            at: now,
            id: e.id.clone(),
            from: Some(from),
            to,
            who: who.into(),
            why: why.into(),
        });
    }

    /// Records ACTIVE tokens past their expiry as EXPIRED.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        for i in 0..self.entries.len() {
            if self.entries[i].state == State::Active && now >= self.entries[i].expires {
                self.transition(i, State::Expired, "tollgate", "expiry passed", now);
            }
        }
    }

    /// The index of the request `id` while it still waits for approval
    /// (`None` once it was approved, denied or accepted meanwhile).
    pub fn requested(&self, id: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.id == id && e.state == State::Requested)
    }

    /// The entry whose id starts with `prefix` (`tok_…`, or the hex after it).
    pub fn find(&self, prefix: &str) -> Result<usize, String> {
        let p = prefix.trim();
        let hits: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                !p.is_empty()
                    && (e.id.starts_with(p) || e.id.trim_start_matches("tok_").starts_with(p))
            })
            .map(|(i, _)| i)
            .collect();
        match hits[..] {
            [i] => Ok(i),
            [] => Err(format!("no override `{p}` in the ledger")),
            _ => Err(format!(
                "`{p}` names {} overrides; give more of the id",
                hits.len()
            )),
        }
    }

    /// The entry holding this token hash.
    pub fn by_hash(&self, hash: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.token_sha256.as_deref() == Some(hash))
    }
}

/// The ledger file and its lock.
pub struct Ledger {
    path: PathBuf,
    lock_path: PathBuf,
}

impl Ledger {
    /// The ledger in a state directory (`.git/tollgate`).
    pub fn at(state_dir: &Path) -> Ledger {
        Ledger {
            path: state_dir.join("ledger.json"),
            lock_path: state_dir.join("ledger.lock"),
        }
    }

    /// The ledger's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the ledger (an absent file is an empty ledger). Safe without
    /// the lock: writes replace the file whole.
    pub fn read(&self) -> Result<LedgerData, LedgerError> {
        match fs::read(&self.path) {
            Ok(bytes) => parse(&self.path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LedgerData::default()),
            Err(source) => Err(LedgerError::Io {
                what: "read",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Runs `f` on the ledger under the exclusive lock and writes the result
    /// atomically when `f` succeeds. When `f` fails nothing is written.
    pub fn update<T, E: From<LedgerError>>(
        &self,
        f: impl FnOnce(&mut LedgerData) -> Result<T, E>,
    ) -> Result<T, E> {
        let _lock = self.lock()?;
        let mut data = self.read()?;
        let out = f(&mut data)?;
        let json = serde_json::to_vec_pretty(&data).map_err(|e| LedgerError::Io {
            what: "write",
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.path, &json).map_err(|source| LedgerError::Io {
            what: "write",
            path: self.path.clone(),
            source,
        })?;
        Ok(out)
    }

    fn lock(&self) -> Result<File, LedgerError> {
        let io_err = |source| LedgerError::Io {
            what: "lock",
            path: self.lock_path.clone(),
            source,
        };
        if let Some(dir) = self.lock_path.parent() {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(io_err)?;
        f.lock().map_err(io_err)?;
        Ok(f)
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<LedgerData, LedgerError> {
    let data: LedgerData = serde_json::from_slice(bytes).map_err(|e| LedgerError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    if data.schema != SCHEMA {
        return Err(LedgerError::Corrupt {
            path: path.to_path_buf(),
            why: format!("unknown schema `{}`", data.schema),
        });
    }
    Ok(data)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ACTIVE test entry that expires at `expires` (shared with the
    /// sibling modules' tests).
    pub(crate) fn entry(id: &str, expires: DateTime<Utc>) -> Entry {
        Entry {
            id: id.into(),
            token_sha256: Some(format!("hash-{id}")),
            state: State::Active,
            fingerprint: "f".into(),
            constraint: "c".into(),
            kind: "secret".into(),
            severity: Severity::Block,
            location: Location::default(),
            event: crate::check::EventKind::Commit,
            reason: "r".into(),
            code: None,
            who: Who::default(),
            method: Tier::Challenge,
            grant: None,
            minted: expires - chrono::Duration::hours(1),
            expires,
            used_at: None,
            used_for: None,
            request: None,
            approval: None,
        }
    }

    #[test]
    fn corrupt_ledger_is_an_error_and_is_left_untouched() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ledger = Ledger::at(dir.path());
        fs::write(ledger.path(), b"{ not json").unwrap();
        let err = ledger
            .update(|d: &mut LedgerData| Ok::<_, LedgerError>(d.entries.len()))
            .unwrap_err();
        assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read(ledger.path()).unwrap(), b"{ not json");
    }

    #[test]
    fn updates_persist_and_trail_only_grows() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ledger = Ledger::at(dir.path());
        let now = Utc::now();
        ledger
            .update(|d| {
                d.add(
                    entry("tok_a", now + chrono::Duration::hours(1)),
                    "me",
                    "minted",
                    now,
                );
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        ledger
            .update(|d| {
                let i = d.find("tok_a").unwrap();
                d.transition(i, State::Used, "me", "used", now);
                Ok::<_, LedgerError>(())
            })
            .unwrap();
        let d = ledger.read().unwrap();
        assert_eq!(d.entries[0].state, State::Used);
        assert_eq!(d.trail.len(), 2);
        assert_eq!(d.trail[1].from, Some(State::Active));
    }

    #[test]
    fn a_failed_update_writes_nothing() {
        let dir = assert_fs::TempDir::new().unwrap();
        let ledger = Ledger::at(dir.path());
        let r: Result<(), LedgerError> = ledger.update(|d| {
            d.add(entry("tok_b", Utc::now()), "me", "x", Utc::now());
            Err(LedgerError::Corrupt {
                path: "x".into(),
                why: "abort".into(),
            })
        });
        assert!(r.is_err());
        assert!(!ledger.path().exists());
    }

    #[test]
    fn expiry_is_derived_and_recorded() {
        let now = Utc::now();
        let mut d = LedgerData::default();
        d.add(
            entry("tok_c", now - chrono::Duration::seconds(1)),
            "me",
            "x",
            now,
        );
        assert_eq!(d.entries[0].state_at(now), State::Expired);
        d.expire(now);
        assert_eq!(d.entries[0].state, State::Expired);
        assert_eq!(d.trail.last().unwrap().to, State::Expired);
    }
}
