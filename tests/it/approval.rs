//! Approval that an agent running as the developer cannot produce: what
//! each approval tier proves, judged by `verify` and `pre-receive` from
//! signed data only. The attacker here has the developer's shell, files
//! and signing key; everything it forges is signed with that real key.

use crate::common;

use chrono::{Duration, Utc};
use common::{aws_line, mint, override_in_pty, tollgate_bin, Repo, AWS_KEY};
use serde_json::Value;
use tollgate::audit::grant::{Grant, Scope};
use tollgate::audit::{AuditRecord, Identity, SigningKey};
use tollgate::check::{EventKind, Location};
use tollgate::policy::{Severity, Tier};

const NOTES: &str = "--ref=refs/notes/tollgate";

/// The developer's repository with its signer list and `policy` committed
/// and pushed to a remote that runs tollgate's pre-receive hook.
fn team(policy: &str) -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    let server = dev.remote.clone().unwrap();
    dev.run_in(&server, tollgate_bin(), ["install", "--server"])
        .success();
    dev.signing_key("author");
    if !policy.is_empty() {
        dev.policy(policy);
    }
    dev.write("README", "hello\n");
    let base = dev.commit_all("base: policy and signers");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

fn me(dev: &Repo) -> (SigningKey, Identity) {
    let key = SigningKey::File(
        dev.git(&["config", "tollgate.signingKey"])
            .out()
            .trim()
            .into(),
    );
    let id = Identity {
        name: "Test Author".into(),
        email: "author@example.com".into(),
        key_fingerprint: key.key_fingerprint().unwrap(),
    };
    (key, id)
}

/// What an agent can write by hand: a record for the blocker `finding`
/// (from `check --format json`) claiming `claim`, with a grant (for
/// version 2) signed by the developer's own key.
fn forge(dev: &Repo, finding: &Value, claim: Tier, v: u32) -> String {
    let (key, id) = me(dev);
    let token_id = tollgate::overrides::token_hash("tgt1_forged_by_an_agent_0000000000000000");
    let location: Location = serde_json::from_value(finding["location"].clone()).unwrap();
    let minted = Utc::now() - Duration::minutes(5);
    let expires = minted + Duration::hours(1);
    let grant = (v == 2).then(|| {
        Grant {
            v: 1,
            doc_type: "grant".into(),
            token_sha256: token_id.clone(),
            constraint: finding["constraint"].as_str().unwrap().into(),
            kind: finding["kind"].as_str().unwrap().into(),
            severity: Severity::Block,
            fingerprint: finding["fingerprint"].as_str().unwrap().into(),
            location: location.clone(),
            scope: Scope {
                event: EventKind::Commit,
                fields: Vec::new(),
            },
            reason: "approved, honest".into(),
            reason_code: None,
            requester: id.clone(),
            approver: id.clone(),
            tier: claim,
            minted,
            expires,
            policy_sha256: "0".repeat(64),
            signature: String::new(),
        }
        .sign_and_encode(&key)
        .unwrap()
    });
    let mut r = AuditRecord {
        v,
        token_id,
        constraint: finding["constraint"].as_str().unwrap().into(),
        kind: finding["kind"].as_str().unwrap().into(),
        severity: Severity::Block,
        fingerprint: finding["fingerprint"].as_str().unwrap().into(),
        commit: location.commit.clone().unwrap(),
        tree: None,
        parent: None,
        location,
        reason: "approved, honest".into(),
        reason_code: None,
        requester: id.clone(),
        approver: id,
        approval: claim,
        grant,
        two_key: None,
        minted,
        expires,
        consumed: minted + Duration::minutes(1),
        policy_sha256: "0".repeat(64),
        tool_version: "0.2.0".into(),
        signature: String::new(),
    };
    r.sign(&key).unwrap();
    r.to_line().unwrap()
}

/// Commits a secret past the hooks, attaches a forged record, and returns
/// (the commit, a CI clone's `verify` run, the server's verdict on a push
/// of the branch and notes).
fn forged_push(policy: &str, claim: Tier, v: u32) -> (Repo, String, common::Run, common::Run) {
    let (dev, base) = team(policy);
    let head = dev.commit_unchecked("config.py", aws_line(), "add key");
    let r = dev.tollgate(&[
        "check",
        "--range",
        &format!("{base}..{head}"),
        "--format",
        "json",
    ]);
    let v_json: Value = serde_json::from_str(&r.out()).unwrap();
    let finding = v_json["findings"][0].clone();
    let line = forge(&dev, &finding, claim, v);
    dev.git(&["notes", NOTES, "add", "-f", "-m", &line, &head])
        .success();
    let server = dev.git(&[
        "push",
        "--no-verify",
        "origin",
        "main",
        "refs/notes/tollgate:refs/notes/tollgate",
    ]);
    // CI judges the same notes, pushed to a plain remote.
    let ci = dev.clone_as("ci", "ci@example.com", false);
    ci.git(&[
        "fetch",
        "-q",
        &dev.path("").to_string_lossy(),
        "+refs/notes/tollgate:refs/notes/tollgate",
        "+main:refs/remotes/dev/main",
    ])
    .success();
    let verify = ci.tollgate(&["verify", "--base", &base, "--head", "refs/remotes/dev/main"]);
    (ci, head, verify, server)
}

const PRESENCE: &str =
    "extends = [\"builtin:recommended\"]\n\n[overrides]\napproval = \"presence\"\n";
const TWO_KEY: &str = "extends = [\"builtin:recommended\"]\n\n[overrides]\napproval = \"two-key\"\napprovers = [\"*@security.example.com\"]\n";

#[test]
fn a_hand_forged_record_fails_under_presence_and_two_key() {
    for (policy, tier) in [(PRESENCE, "presence"), (TWO_KEY, "two-key")] {
        // A version-1 record (no grant), and a version-2 record whose grant
        // claims `presence`, both signed with the developer's real key.
        for (claim, v) in [(Tier::Challenge, 1), (Tier::Presence, 2)] {
            let (_, _, verify, server) = forged_push(policy, claim, v);
            verify.code(1).stderr_has("uncovered B1");
            let why = if v == 1 {
                format!("needs approval tier `{tier}`; this record's approval is `challenge` (self-attested)")
            } else {
                "shows no user presence".to_string()
            };
            verify.stderr_has(&why);
            server
                .code(1)
                .stderr_has("remote: error: uncovered B1")
                .stderr_has(&why);
        }
    }
}

#[test]
fn under_challenge_a_forged_record_passes_marked_self_attested() {
    let (ci, head, verify, server) = forged_push("", Tier::Challenge, 2);
    verify
        .success()
        .stderr_has("approval `challenge` (self-attested)");
    server.success();
    let json = ci.tollgate(&[
        "verify",
        "--base",
        &format!("{head}~1"),
        "--head",
        &head,
        "--format",
        "json",
    ]);
    json.success();
    let v: Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["blockers"][0]["record"]["self_attested"], true, "{v}");
    assert_eq!(v["blockers"][0]["record"]["approval"], "challenge", "{v}");
    let sarif = ci.tollgate(&[
        "verify",
        "--base",
        &format!("{head}~1"),
        "--head",
        &head,
        "--format",
        "sarif",
    ]);
    let s: Value = serde_json::from_str(&sarif.out()).unwrap();
    let res = &s["runs"][0]["results"][0];
    assert_eq!(res["properties"]["selfAttested"], true, "{res}");
    assert!(
        res["suppressions"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("self-attested"),
        "{res}"
    );
}

/// A developer blocked on a staged secret who mints a token; returns it.
fn blocked_with_token(dev: &Repo) -> String {
    dev.write("config.py", aws_line());
    dev.git(&["add", "config.py"]).success();
    dev.git(&["commit", "-qm", "add key"]).code(1);
    mint(dev, "B1", &[], &[])
}

fn ledger(dev: &Repo) -> Value {
    serde_json::from_slice(&std::fs::read(dev.git_dir().join("tollgate/ledger.json")).unwrap())
        .unwrap()
}

fn write_ledger(dev: &Repo, v: &Value) {
    std::fs::write(
        dev.git_dir().join("tollgate/ledger.json"),
        serde_json::to_vec_pretty(v).unwrap(),
    )
    .unwrap();
}

#[test]
fn an_edited_ledger_gains_nothing() {
    let (dev, base) = team("");
    let token = blocked_with_token(&dev);
    let original = std::fs::read(dev.git_dir().join("tollgate/ledger.json")).unwrap();
    // 1. An entry appended by hand for a token the attacker chose.
    let mut l = ledger(&dev);
    let mut fake = l["entries"][0].clone();
    let chosen = "tgt1_chosen_by_the_agent_000000000000000000";
    fake["id"] = "tok_agent".into();
    fake["token_sha256"] = tollgate::overrides::token_hash(chosen).into();
    fake["grant"] = Value::Null;
    l["entries"].as_array_mut().unwrap().push(fake.clone());
    write_ledger(&dev, &l);
    dev.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", chosen)])
        .code(1)
        .stderr_has("carries no signed grant");
    // 2. The same, with the real entry's grant copied over: it binds
    //    another token.
    fake["grant"] = l["entries"][0]["grant"].clone();
    l["entries"].as_array_mut().unwrap().pop();
    l["entries"].as_array_mut().unwrap().push(fake);
    write_ledger(&dev, &l);
    dev.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", chosen)])
        .code(1)
        .stderr_has("does not match its signed grant");
    // 3. The real token with its lifetime stretched to a week.
    let mut l: Value = serde_json::from_slice(&original).unwrap();
    l["entries"][0]["expires"] = (Utc::now() + Duration::days(7)).to_rfc3339().into();
    write_ledger(&dev, &l);
    dev.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("does not match its signed grant");
    assert_eq!(
        dev.head().as_deref(),
        Some(base.as_str()),
        "nothing was committed"
    );
    // The untouched ledger: the legitimate token passes, exactly once.
    std::fs::write(dev.git_dir().join("tollgate/ledger.json"), &original).unwrap();
    dev.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    let first = dev.head().unwrap();
    dev.git(&["push", "-q", "origin", "main"]).success();
    // 4. The spent token set back to ACTIVE, its note removed, the commit
    //    rewritten and pushed with the rewritten notes: CI refuses.
    let mut l = ledger(&dev);
    l["entries"][0]["state"] = "ACTIVE".into();
    l["entries"][0]["used_at"] = Value::Null;
    write_ledger(&dev, &l);
    dev.git(&["notes", NOTES, "remove", &first]).success();
    dev.git(&["reset", "-q", "--soft", "HEAD~1"]).success();
    dev.git_env(&["commit", "-qm", "x again"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    let second = dev.head().unwrap();
    let ci = dev.clone_as("ci", "ci@example.com", false);
    ci.git(&[
        "fetch",
        "-q",
        &dev.path("").to_string_lossy(),
        "+refs/notes/tollgate:refs/notes/tollgate",
        "+main:refs/remotes/dev/main",
    ])
    .success();
    let v = ci.tollgate(&["verify", "--base", &base, "--head", &second]);
    v.code(1);
    assert!(
        v.err().contains("deleted") || v.err().contains("more than one record"),
        "{v}"
    );
}

#[test]
fn a_planted_pending_record_is_never_signed_and_garbage_never_panics() {
    let (dev, _) = team("");
    let pending = dev.git_dir().join("tollgate/pending");
    std::fs::create_dir_all(&pending).unwrap();
    // An unsigned record-shaped file naming no token, as the old format had.
    std::fs::write(
        pending.join("planted.json"),
        r#"{"schema":"tollgate/pending/v1","record":{"v":1},"tree":"é€ non-ASCII tree"}"#,
    )
    .unwrap();
    // A current-schema file with garbage in it, and one that is huge.
    std::fs::write(
        pending.join("garbage.json"),
        r#"{"schema":"tollgate/pending/v2","line":"{\"v\":2,\"commit\":\"ü\"}"}"#,
    )
    .unwrap();
    std::fs::write(pending.join("huge.json"), vec![b'{'; 2 << 20]).unwrap();
    dev.write("notes.txt", "ordinary work\n");
    dev.git(&["add", "notes.txt"]).success();
    let r = dev.git(&["commit", "-qm", "ordinary commit"]);
    r.success()
        .stderr_has("pending audit record refused")
        .stderr_lacks("panicked");
    let head = dev.head().unwrap();
    assert!(dev.records(&head).is_empty(), "nothing planted was signed");
    assert!(
        dev.git(&["notes", NOTES, "list"]).out().trim().is_empty(),
        "no record was written"
    );
    // Kept for inspection, not lost.
    assert_eq!(
        std::fs::read_dir(pending.join("rejected")).unwrap().count(),
        3
    );
    // A ledger that is garbage, or not UTF-8: a clear error, not a panic.
    for bytes in [&b"{\"entries\": 5}"[..], &[0xff, 0xfe, 0x00, 0x01][..]] {
        std::fs::write(dev.git_dir().join("tollgate/ledger.json"), bytes).unwrap();
        dev.write("config.py", aws_line());
        dev.git(&["add", "config.py"]).success();
        let r = dev.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", "tgt1_x")]);
        assert!(!r.ok(), "{r}");
        r.stderr_has("corrupt").stderr_lacks("panicked");
        dev.tollgate(&["override", "list"])
            .code(2)
            .stderr_has("corrupt")
            .stderr_lacks("panicked");
    }
}

#[test]
fn a_reason_with_terminal_escapes_is_refused_and_old_ones_are_shown_escaped() {
    let (dev, base) = team("");
    dev.write("config.py", aws_line());
    dev.git(&["add", "config.py"]).success();
    dev.git(&["commit", "-qm", "x"]).code(1);
    let hostile = "fine\u{1b}[1A\r\u{1b}[2Kwarning `jwt` at `docs/example.md:3`";
    dev.tollgate(&["override", "B1", "--reason", hostile])
        .code(1)
        .stderr_has("--reason holds the control character \\u{1b}");
    dev.tollgate(&["override", "B1", "--reason", "ok", "--code", "a\u{202e}b"])
        .code(1)
        .stderr_has("--code holds the control character \\u{202e}");
    // A record written by an older tollgate with such a reason is shown
    // escaped by every human output, and kept exact in JSON.
    dev.git(&["reset", "-q", "--hard"]).success();
    let head = dev.commit_unchecked("config.py", aws_line(), "add key");
    let r = dev.tollgate(&[
        "check",
        "--range",
        &format!("{base}..{head}"),
        "--format",
        "json",
    ]);
    let finding = serde_json::from_str::<Value>(&r.out()).unwrap()["findings"][0].clone();
    let line = forge(&dev, &finding, Tier::Challenge, 1).replace("approved, honest", "x");
    // Re-sign with the hostile reason (the replace broke the signature).
    let mut rec = tollgate::audit::parse_line(&forge(&dev, &finding, Tier::Challenge, 1)).unwrap();
    let _ = line;
    rec.reason = hostile.into();
    rec.sign(&me(&dev).0).unwrap();
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-f",
        "-m",
        &rec.to_line().unwrap(),
        &head,
    ])
    .success();
    for args in [&["audit", "log"][..], &["audit", "show", &head][..]] {
        let out = dev.tollgate(args);
        out.success();
        assert!(
            !out.all().contains('\u{1b}'),
            "raw escape in `{args:?}`: {out}"
        );
        assert!(out.all().contains("\\u{1b}[1A"), "{out}");
    }
    let json = dev.tollgate(&["audit", "log", "--format", "json"]);
    let v: Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["records"][0]["record"]["reason"], hostile, "{v}");
    let verify = dev.tollgate(&["verify", "--base", &base, "--head", &head]);
    verify.success();
    assert!(!verify.all().contains('\u{1b}'), "{verify}");
    let _ = AWS_KEY;
    let _ = override_in_pty;
}
