//! Signed audit records and `tollgate verify`, end to end: SSH keys made in
//! the test, overrides through the installed hooks, records pushed to a bare
//! remote as `refs/notes/tollgate`, and a separate CI clone that fetches them
//! and verifies. Records that a modified client could write (expired, reused
//! token ids) are forged with tollgate's own library and a real key.

use crate::common;

use std::process::Stdio;

use chrono::{DateTime, Duration, Utc};
use common::{aws_line, commit_secret_with_override, Repo, AWS_KEY};
use tollgate::audit::{AuditRecord, Identity, SigningKey};
use tollgate::check::Location;
use tollgate::policy::{Severity, Tier};

const NOTES: &str = "--ref=refs/notes/tollgate";

/// A developer repository with hooks, a remote, a signing key listed in the
/// committed `.tollgate/allowed_signers`, and that base pushed.
struct Team {
    dev: Repo,
    base: String,
}

fn team() -> Team {
    let dev = Repo::installed().with_remote();
    dev.signing_key("alice");
    dev.write("README", "hello\n");
    let base = dev.commit_all("base: allow alice's signing key");
    dev.git(&["push", "-q", "origin", "main"]).success();
    Team { dev, base }
}

/// A clone of the remote as CI sees it, with the records fetched.
fn ci(team: &Team) -> Repo {
    let ci = team.dev.clone_as("ci", "ci@example.com", false);
    let fetch = ci.git(&[
        "fetch",
        "-q",
        "origin",
        "+refs/notes/tollgate:refs/notes/tollgate",
    ]);
    // A remote that never received a record has no notes ref.
    assert!(
        fetch.ok() || fetch.err().contains("couldn't find remote ref"),
        "{fetch}"
    );
    ci
}

fn verify(ci: &Repo, base: &str, head: &str) -> common::Run {
    ci.tollgate(&["verify", "--base", base, "--head", head, "--ref", "main"])
}

#[test]
fn override_push_and_ci_verify_end_to_end() {
    let t = team();
    let dev = &t.dev;
    let head = commit_secret_with_override(dev, "config.py");
    // The push carries the commit passed at commit time: its record covers
    // the blocker, and the records reach the remote before the branch.
    dev.git(&["push", "origin", "main"])
        .success()
        .stderr_has("passed by the audit record of Test Author <author@example.com>")
        .stderr_has("audit records pushed to `origin`");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(head.as_str()));
    let remote = dev.remote.as_ref().unwrap().to_str().unwrap().to_string();
    dev.git(&["--git-dir", &remote, "notes", NOTES, "show", &head])
        .success();

    let ci = ci(&t);
    let r = verify(&ci, &t.base, &head);
    r.success()
        .stderr_has("covered    B1  `aws-access-key-id`")
        .stderr_has("by author@example.com (SHA256:")
        .stderr_has("\"fixture for the demo\"")
        .stderr_has("tollgate verify: passed (1 blocker: 1 covered, 0 uncovered")
        .never_shows(AWS_KEY);
    let json = ci.tollgate(&[
        "verify", "--base", &t.base, "--head", &head, "--format", "json",
    ]);
    json.success();
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["schema"], "tollgate/v1");
    assert_eq!(v["result"], "pass");
    assert_eq!(v["summary"]["covered"], 1);
    assert_eq!(
        v["blockers"][0]["record"]["requester"],
        "author@example.com"
    );
    assert_eq!(v["policy"], "builtin:recommended");

    // The audit log in the CI clone reads the same record.
    let log = ci.tollgate(&["audit", "log"]);
    log.success();
    assert!(
        log.out().contains("`aws-access-key-id`") && log.out().contains("[signature valid]"),
        "{log}"
    );
    ci.tollgate(&["audit", "show", &head]).success();
}

/// The block of shell the README gives for checking a record by hand.
fn readme_verify_by_hand() -> String {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- verify-by-hand -->\n```sh\n")
        .expect("README has the verify-by-hand block");
    let rest = &readme[start..];
    let body = &rest[rest.find("```sh\n").unwrap() + 6..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn a_record_checks_out_with_ssh_keygen_as_the_readme_says() {
    let t = team();
    let head = commit_secret_with_override(&t.dev, "config.py");
    t.dev.git(&["push", "-q", "origin", "main"]).success();
    let ci = ci(&t);
    let script = readme_verify_by_hand();
    let r = ci.run_in(&ci.root, "bash", ["-euo", "pipefail", "-c", &script]);
    r.success();
    assert!(
        r.all()
            .contains("Good \"tollgate\" signature for author@example.com"),
        "{r}"
    );
    assert_eq!(ci.head().unwrap(), head);

    // The same check fails once the record's reason is edited.
    let line = ci.records(&head)[0].replace("fixture for the demo", "fixture for the dema");
    ci.git(&["notes", NOTES, "add", "-f", "-m", &line, &head])
        .success();
    let r = ci.run_in(&ci.root, "bash", ["-euo", "pipefail", "-c", &script]);
    assert_ne!(r.code, Some(0), "{r}");
}

#[test]
fn verify_rejects_a_no_verify_push_without_a_record() {
    let t = team();
    let head = t
        .dev
        .commit_unchecked("config.py", aws_line(), "skip the hooks");
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    verify(&ci, &t.base, &head)
        .code(1)
        .stderr_has("uncovered B1  `aws-access-key-id` at `config.py:1`")
        .stderr_has("verification failed (1 blocker: 0 covered, 1 uncovered")
        .never_shows(AWS_KEY);
}

#[test]
fn verify_rejects_a_record_whose_reason_was_edited() {
    let t = team();
    let head = commit_secret_with_override(&t.dev, "config.py");
    t.dev.git(&["push", "-q", "origin", "main"]).success();
    let ci = ci(&t);
    verify(&ci, &t.base, &head).success();
    let line = ci.records(&head)[0].replace("fixture for the demo", "approved by the CTO!");
    ci.git(&["notes", NOTES, "add", "-f", "-m", &line, &head])
        .success();
    verify(&ci, &t.base, &head)
        .code(1)
        .stderr_has("invalid record on commit")
        .stderr_has("does not verify")
        .stderr_has("uncovered B1");
}

#[test]
fn verify_rejects_a_record_copied_onto_another_commit() {
    let t = team();
    let first = commit_secret_with_override(&t.dev, "a.py");
    let second = t
        .dev
        .commit_unchecked("b.py", aws_line(), "same key, other file");
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    t.dev.tollgate(&["notes", "push", "origin"]).success();
    let ci = ci(&t);
    // first's record, copied onto second (which has its own blocker).
    let line = ci.records(&first)[0].clone();
    ci.git(&["notes", NOTES, "add", "-m", &line, &second])
        .success();
    verify(&ci, &t.base, &second)
        .code(1)
        .stderr_has("records are never copied")
        .stderr_has("covered    B1  `aws-access-key-id` at `a.py:1`")
        .stderr_has("uncovered B2  `aws-access-key-id` at `b.py:1`");
}

#[test]
fn verify_judges_signers_by_base_even_when_head_adds_a_key() {
    let t = team();
    let dev = &t.dev;
    // A key base does not list signs the record; the pushed commit adds it
    // to the signer list.
    let (mallory, public) = dev.ssh_keygen("mallory");
    dev.git(&["config", "tollgate.signingKey", mallory.to_str().unwrap()])
        .success();
    dev.write(
        ".tollgate/allowed_signers",
        format!(
            "{}author@example.com {public}\n",
            std::fs::read_to_string(dev.path(".tollgate/allowed_signers")).unwrap()
        ),
    );
    dev.git(&["add", ".tollgate/allowed_signers"]).success();
    let head = commit_secret_with_override(dev, "config.py");
    // The pre-push hook refuses the signer change itself…
    dev.git(&["push", "-q", "origin", "main"])
        .code(1)
        .stderr_has("tollgate-policy-change")
        .stderr_has("adds signer `author@example.com` (ED25519 SHA256:");
    // …so the push skips it, and the records are pushed by hand.
    dev.git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    dev.tollgate(&["notes", "push", "origin"]).success();
    let ci = ci(&t);
    verify(&ci, &t.base, &head)
        .code(1)
        .stderr_has("is not an allowed signer for `author@example.com`")
        .stderr_has("uncovered B1")
        .stderr_has("uncovered B2  `tollgate-policy-change`");
    // Judged by head's list (named explicitly), the record is fine, and
    // the signer change is still a blocker nobody approved.
    ci.tollgate(&[
        "verify",
        "--base",
        &t.base,
        "--head",
        &head,
        "--allowed-signers",
        ".tollgate/allowed_signers",
    ])
    .code(1)
    .stderr_has("covered    B1  `aws-access-key-id`")
    .stderr_has("uncovered B2  `tollgate-policy-change`");
}

/// A validly signed record that only a modified client would write.
struct Forge<'a> {
    ci: &'a Repo,
    key: std::path::PathBuf,
}

/// The finding on `commit` among `found`.
fn finding_at(found: &[serde_json::Value], commit: &str) -> serde_json::Value {
    found
        .iter()
        .find(|f| f["location"]["commit"] == commit)
        .unwrap_or_else(|| panic!("no finding on {commit}"))
        .clone()
}

impl<'a> Forge<'a> {
    /// Forges with alice's key (the one base's signer list allows).
    fn alice(ci: &'a Repo) -> Forge<'a> {
        Forge {
            ci,
            key: ci.tmp.path().join("keys/alice"),
        }
    }

    /// The blockers `check` finds in `range`, as JSON.
    fn findings(&self, range: &str) -> Vec<serde_json::Value> {
        let r = self
            .ci
            .tollgate(&["check", "--range", range, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
        v["findings"].as_array().unwrap().clone()
    }

    fn record(
        &self,
        finding: &serde_json::Value,
        token: &str,
        minted: DateTime<Utc>,
        consumed: DateTime<Utc>,
    ) -> String {
        let key = SigningKey::File(self.key.clone());
        let me = Identity {
            name: "Test Author".into(),
            email: "author@example.com".into(),
            key_fingerprint: key.key_fingerprint().unwrap(),
        };
        let location: Location = serde_json::from_value(finding["location"].clone()).unwrap();
        let mut r = AuditRecord {
            v: 1,
            token_id: tollgate::overrides::token_hash(token),
            constraint: finding["constraint"].as_str().unwrap().into(),
            kind: finding["kind"].as_str().unwrap().into(),
            severity: Severity::Block,
            fingerprint: finding["fingerprint"].as_str().unwrap().into(),
            commit: location.commit.clone().unwrap(),
            tree: None,
            parent: None,
            location,
            reason: "forged by a modified client".into(),
            reason_code: None,
            requester: me.clone(),
            approver: me,
            approval: Tier::Challenge,
            grant: None,
            two_key: None,
            minted,
            expires: minted + Duration::hours(1),
            consumed,
            policy_sha256: "0".repeat(64),
            tool_version: "0.1.0".into(),
            signature: String::new(),
        };
        r.sign(&key).unwrap();
        r.to_line().unwrap()
    }

    fn attach(&self, line: &str, commit: &str) {
        self.ci
            .git(&["notes", NOTES, "add", "-f", "-m", line, commit])
            .success();
    }
}

fn t0() -> DateTime<Utc> {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

#[test]
fn verify_rejects_a_record_consumed_after_expiry() {
    let t = team();
    let head = t.dev.commit_unchecked("config.py", aws_line(), "key");
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    let forge = Forge::alice(&ci);
    let f = &forge.findings(&format!("{}..{head}", t.base))[0];
    // Consumed within the hour: covered.
    let on_time = forge.record(f, "tgt1_a", t0(), t0() + Duration::minutes(30));
    forge.attach(&on_time, &head);
    verify(&ci, &t.base, &head).success();
    // Consumed after the token expired: invalid, and the blocker stands.
    let late = forge.record(f, "tgt1_a", t0(), t0() + Duration::minutes(61));
    forge.attach(&late, &head);
    verify(&ci, &t.base, &head)
        .code(1)
        .stderr_has("after the token expired at 2026-11-22T11:00:00")
        .stderr_has("uncovered B1");
}

#[test]
fn verify_rejects_one_token_id_used_twice() {
    let t = team();
    let first = t.dev.commit_unchecked("a.py", aws_line(), "a");
    let second = t.dev.commit_unchecked("b.py", aws_line(), "b");
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    let forge = Forge::alice(&ci);
    let found = forge.findings(&format!("{}..{second}", t.base));
    assert_eq!(found.len(), 2);
    let at = |c: &str| finding_at(&found, c);
    let minted = t0();
    let consumed = t0() + Duration::minutes(1);
    forge.attach(
        &forge.record(&at(&first), "tgt1_one", minted, consumed),
        &first,
    );
    forge.attach(
        &forge.record(&at(&second), "tgt1_two", minted, consumed),
        &second,
    );
    verify(&ci, &t.base, &second).success();
    // The same token id on both: a single-use token cannot cover two blockers.
    forge.attach(
        &forge.record(&at(&second), "tgt1_one", minted, consumed),
        &second,
    );
    verify(&ci, &t.base, &second)
        .code(1)
        .stderr_has("appears in more than one record")
        .stderr_has("uncovered B1")
        .stderr_has("uncovered B2");
}

#[test]
fn verify_judges_by_base_policy_when_head_weakens_it() {
    let t = team();
    let dev = &t.dev;
    dev.policy("[[force-push]]\nid = \"only-this\"\nbranches = [\"main\"]\n");
    dev.write("config.py", aws_line());
    dev.git(&["add", "-A"]).success();
    dev.git(&["commit", "-q", "--no-verify", "-m", "weaken and leak"])
        .success();
    let head = dev.head().unwrap();
    dev.git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    // Head's own policy misses the key, but not its own weakening (the
    // policy-change constraint is in every policy)…
    ci.tollgate(&["check", "--range", &format!("{}..{head}", t.base)])
        .code(1)
        .stderr_has("tollgate-policy-change")
        .stderr_lacks("aws-access-key-id");
    // …and base's judges the range.
    verify(&ci, &t.base, &head)
        .code(1)
        .stderr_has("judged by builtin:recommended")
        .stderr_has("uncovered B1  `aws-access-key-id`")
        .stderr_has("uncovered B2  `tollgate-policy-change`")
        .stderr_has(
            "adds `.tollgate.toml`; changes `extends` from [\"builtin:recommended\"] to []",
        );
}

#[test]
fn verify_judges_a_force_push_by_old_and_new() {
    let t = team();
    let dev = &t.dev;
    dev.write("README", "rewritten\n");
    dev.git(&["add", "README"]).success();
    dev.git(&["commit", "-q", "--amend", "--no-verify", "-m", "rewritten"])
        .success();
    let new = dev.head().unwrap();
    dev.git(&["push", "-q", "-f", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    ci.git(&["fetch", "-q", "origin", &t.base]).success();
    ci.tollgate(&["verify", "--old", &t.base, "--new", &new, "--ref", "main"])
        .code(1)
        .stderr_has("uncovered B1  `no-force-push-protected` at `refs/heads/main`");
}

#[test]
fn two_clones_pushing_records_at_once_keep_every_record() {
    let t = team();
    let alice = &t.dev;
    let bob = alice.clone_as("bob", "bob@example.com", true);
    bob.signing_key("bob");
    alice.git(&["switch", "-q", "-c", "alice-work"]).success();
    bob.git(&["switch", "-q", "-c", "bob-work"]).success();
    let a = commit_secret_with_override(alice, "a.py");
    let b = commit_secret_with_override(&bob, "b.py");

    let push = |r: &Repo, branch: &str| {
        let mut c = r.command("git");
        c.args(["push", "origin", branch])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let children = [push(alice, "alice-work"), push(&bob, "bob-work")];
    let mut merged = false;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        merged |= err.contains("merged with other writers' records");
    }
    // Whoever came second was rejected, merged the other's records, retried.
    assert!(merged, "one push had to merge the other's records");
    let remote = alice.remote.as_ref().unwrap().to_str().unwrap().to_string();
    for (commit, who) in [(&a, "author@example.com"), (&b, "bob@example.com")] {
        let note = alice.git(&["--git-dir", &remote, "notes", NOTES, "show", commit]);
        note.success();
        assert!(note.out().contains(who), "{note}");
    }
    // Each can fetch the other's records by hand.
    for (r, other) in [(alice, &b), (&bob, &a)] {
        r.tollgate(&["notes", "fetch"])
            .success()
            .stderr_has("merged into refs/notes/tollgate");
        assert_eq!(r.records(other).len(), 1);
    }
}

#[test]
fn a_branch_push_stops_when_its_records_cannot_be_pushed() {
    let t = team();
    let dev = &t.dev;
    let remote = dev.remote.clone().unwrap();
    Repo::write_script(
        &remote.join("hooks/pre-receive"),
        "#!/bin/sh\nwhile read old new ref; do case $ref in refs/notes/*) echo 'notes are not accepted here' >&2; exit 1;; esac; done\n",
    );
    let head = commit_secret_with_override(dev, "config.py");
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has(
            "push stopped: the audit records (refs/notes/tollgate) could not be pushed to `origin`",
        )
        .stderr_has("notes are not accepted here");
    assert_ne!(dev.remote_ref("main").as_deref(), Some(head.as_str()));
}

#[test]
fn a_record_that_post_commit_missed_is_written_by_the_next_run() {
    let t = team();
    let dev = &t.dev;
    std::fs::remove_file(dev.git_dir().join("hooks/post-commit")).unwrap();
    let head = commit_secret_with_override(dev, "config.py");
    assert!(dev.records(&head).is_empty());
    let log = dev.tollgate(&["audit", "log"]);
    log.success()
        .stderr_has("tollgate: 1 audit record written to refs/notes/tollgate");
    assert!(log.out().contains("[signature valid]"), "{log}");
    assert_eq!(dev.records(&head).len(), 1, "{log}");
    // And the push that follows carries it.
    dev.git(&["push", "-q", "origin", "main"]).success();
    let ci = ci(&t);
    verify(&ci, &t.base, &head).success();
}

#[test]
fn audit_report_counts_overrides_and_a_budget_fails_verify() {
    let t = team();
    let dev = &t.dev;
    dev.policy(
        "extends = [\"builtin:recommended\"]\n[[forbidden-path]]\nid = \"no-dumps\"\npaths = [\"*.dump\"]\nmax-overrides-per-week = 2\n",
    );
    let base = dev.commit_all("budget overrides of no-dumps");
    let commits: Vec<String> = (1..=3)
        .map(|i| dev.commit_unchecked(&format!("db{i}.dump"), "rows\n", "dump"))
        .collect();
    dev.git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    let forge = Forge::alice(&ci);
    let found = forge.findings(&format!("{base}..{}", commits[2]));
    let at = |c: &str| finding_at(&found, c);
    for (i, c) in commits.iter().take(2).enumerate() {
        let line = forge.record(
            &at(c),
            &format!("tgt1_{i}"),
            t0(),
            t0() + Duration::minutes(5),
        );
        forge.attach(&line, c);
    }
    ci.tollgate(&["verify", "--base", &base, "--head", &commits[1]])
        .success();
    // A third override of `no-dumps` in the same week exceeds the budget.
    let line = forge.record(
        &at(&commits[2]),
        "tgt1_2",
        t0(),
        t0() + Duration::minutes(5),
    );
    forge.attach(&line, &commits[2]);
    ci.tollgate(&["verify", "--base", &base, "--head", &commits[2]])
        .code(1)
        .stderr_has(
            "over budget: `no-dumps` was overridden 3 times in 2026-W47; its budget is 2 a week",
        );

    let r = ci.tollgate(&["audit", "report", "--since", "3650d", "--format", "json"]);
    r.success();
    let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
    assert_eq!(v["overrides"], 3);
    assert_eq!(v["by"]["constraint"]["no-dumps"], 3);
    assert_eq!(v["by"]["person"]["author@example.com"], 3);
    assert_eq!(v["by"]["week"]["2026-W47"], 3);
    assert_eq!(v["by"]["approval"]["challenge"], 3);
    assert_eq!(v["by"]["reason_code"]["(none)"], 3);
    assert_eq!(v["over_budget"][0], "`no-dumps`: 3 in 2026-W47 (budget 2)");
    let human = ci.tollgate(&["audit", "report", "--since", "3650d"]);
    assert!(
        human.out().contains("3 overrides since") && human.out().contains("      3  no-dumps"),
        "{human}"
    );
    // A window that ends before the records counts none.
    let r = ci.tollgate_env(
        &["audit", "report", "--since", "1d", "--format", "json"],
        &[("TOLLGATE_TEST_NOW", "2027-01-01T00:00:00Z")],
    );
    let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap();
    assert_eq!(v["overrides"], 0);
}

/// Key validity is judged at the later of the record's own `consumed` and
/// the committer time of the commit it is attached to: a record backdated
/// to before its key expired does not pass on a commit made after.
#[test]
fn a_backdated_record_on_a_later_commit_is_refused() {
    let now = t0();
    let dev = Repo::installed().with_remote();
    let public = dev.signing_key("alice");
    // The key stopped being valid ten days ago.
    let expired = (now - Duration::days(10)).format("%Y%m%d").to_string();
    dev.write(
        ".tollgate/allowed_signers",
        format!("author@example.com valid-before=\"{expired}\" {public}\n"),
    );
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let t = Team { dev, base };
    // A leak committed now, and one committed before the key expired.
    let at = |when: DateTime<Utc>| when.to_rfc3339();
    let commit = |file: &str, when: DateTime<Utc>| {
        t.dev.write(file, aws_line());
        t.dev.git(&["add", file]).success();
        t.dev
            .git_env(
                &["commit", "-q", "--no-verify", "-m", file],
                &[
                    ("GIT_COMMITTER_DATE", &at(when)),
                    ("GIT_AUTHOR_DATE", &at(when)),
                ],
            )
            .success();
        t.dev.head().unwrap()
    };
    let old = commit("old.py", now - Duration::days(12) - Duration::hours(1));
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let ci = ci(&t);
    let forge = Forge::alice(&ci);
    let minted = now - Duration::days(12);
    let f = &forge.findings(&format!("{}..{old}", t.base))[0];
    forge.attach(
        &forge.record(f, "tgt1_old", minted, minted + Duration::minutes(5)),
        &old,
    );
    // A record made back then, on a commit made back then: valid.
    verify(&ci, &t.base, &old).success();

    let new = commit("new.py", now);
    t.dev
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    ci.git(&["fetch", "-q", "origin"]).success();
    let found = forge.findings(&format!("{old}..{new}"));
    let f = finding_at(&found, &new);
    // Signed now with the expired key, dated twelve days ago.
    forge.attach(
        &forge.record(&f, "tgt1_new", minted, minted + Duration::minutes(5)),
        &new,
    );
    verify(&ci, &old, &new)
        .code(1)
        .stderr_has("key expired at 2026-11-22T10:00:00Z")
        .stderr_has("uncovered B1  `aws-access-key-id`");
}
