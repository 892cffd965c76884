//! Writes a `git fast-import` stream of many signed audit records on
//! `refs/notes/tollgate`, for `bench/run`'s audit-trail step: one notes
//! commit per record (as `tollgate` writes them), records spread over the
//! given commits, each signed in-process with a real Ed25519 key.
//!
//! ```text
//! bench-records <key> <email> <commits-file> <records> <finding.json> > stream
//! ```
//!
//! `commits-file` lists commit ids, one a line; `finding.json` is the first
//! finding of `tollgate check --format json` for the last commit: its record
//! is the real one (the blocker a push and `verify` judge), the others
//! cover blockers elsewhere in history (same constraint, their own
//! fingerprints and token ids).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use tollgate::audit::{sign_in_process, AuditRecord, Identity, SigningKey};
use tollgate::check::Location;
use tollgate::policy::Severity;
use tollgate::policy::Tier;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, key, email, commits, records, finding] = &args[..] else {
        anyhow::bail!("usage: bench-records <key> <email> <commits-file> <records> <finding.json>");
    };
    let key = PathBuf::from(key);
    let commits: Vec<String> = std::fs::read_to_string(commits)?
        .lines()
        .map(str::to_string)
        .collect();
    let n: usize = records.parse()?;
    let finding: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(finding)?)?;
    let me = Identity {
        name: "Bench Author".into(),
        email: email.clone(),
        key_fingerprint: SigningKey::File(key.clone()).key_fingerprint()?,
    };
    let t0: DateTime<Utc> = "2026-11-02T09:00:00Z".parse()?;
    let real_location: Location = serde_json::from_value(finding["location"].clone())?;
    let real_commit = real_location.commit.clone().unwrap_or_default();
    let mut notes: HashMap<String, Vec<String>> = HashMap::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for k in 0..n {
        let real = k + 1 == n;
        let (commit, fingerprint, location) = if real {
            (
                real_commit.clone(),
                finding["fingerprint"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                real_location.clone(),
            )
        } else {
            let c = commits[k % commits.len()].clone();
            let fp = hex(&Sha256::digest(format!("filler {k}")));
            let mut l = real_location.clone();
            l.commit = Some(c.clone());
            l.path = Some(format!("src/f{k}.py"));
            (c, fp, l)
        };
        let minted = t0 + Duration::minutes(k as i64);
        let mut r = AuditRecord {
            v: 1,
            token_id: hex(&Sha256::digest(format!("tgt1_bench_{k}"))),
            constraint: finding["constraint"].as_str().unwrap_or_default().into(),
            kind: finding["kind"].as_str().unwrap_or_default().into(),
            severity: Severity::Block,
            fingerprint,
            location,
            commit: commit.clone(),
            tree: None,
            parent: None,
            reason: "bench fixture".into(),
            reason_code: None,
            requester: me.clone(),
            approver: me.clone(),
            approval: Tier::Challenge,
            grant: None,
            two_key: None,
            minted,
            expires: minted + Duration::minutes(30),
            consumed: minted + Duration::minutes(1),
            policy_sha256: "0".repeat(64),
            tool_version: "0.1.0".into(),
            signature: String::new(),
        };
        r.sign_with(|bytes| sign_in_process(&key, bytes))?;
        let lines = notes.entry(commit.clone()).or_default();
        lines.push(r.to_line()?);
        lines.sort();
        let mut text = lines.join("\n");
        text.push('\n');
        writeln!(out, "commit refs/notes/tollgate")?;
        writeln!(
            out,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + k
        )?;
        writeln!(out, "data 6\nrecord")?;
        writeln!(out, "N inline {commit}")?;
        writeln!(out, "data {}\n{text}", text.len())?;
    }
    out.flush()?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
