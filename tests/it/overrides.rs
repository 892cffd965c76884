//! Override tokens end to end: the challenge is read off a real
//! pseudo-terminal and typed back as a person would; tokens are presented to
//! the installed hooks through real `git commit` / `git push`.

use crate::common;

use std::process::Stdio;

use common::{contains, mint, override_in_pty, tollgate_bin, Repo, AWS_KEY};

const T0: &str = "2026-11-22T10:00:00Z";

fn staged_secret(repo: &Repo, file: &str) {
    repo.write(file, format!("key = \"{AWS_KEY}\"\n"));
    repo.git(&["add", file]).success();
}

#[test]
fn a_minted_token_passes_its_blocker_once() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "secret"])
        .code(1)
        .stderr_has("B1");
    let token = mint(&repo, "B1", &[], &[]);

    let r = repo.git_env(
        &["commit", "-qm", "with token"],
        &[("TOLLGATE_TOKEN", &token)],
    );
    r.success()
        .stderr_has("passed by override token tok_")
        .never_shows(&token)
        .never_shows(AWS_KEY);
    let head = repo.head().expect("the commit was made");
    // post-commit wrote the signed record onto the new commit.
    let records = repo.records(&head);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].contains("\"constraint\":\"aws-access-key-id\""));
    // Signed before the commit existed, it names the commit's tree and
    // parent, and sits on the commit that has them.
    let tree = repo
        .git(&["rev-parse", &format!("{head}^{{tree}}")])
        .out()
        .trim()
        .to_string();
    assert!(
        records[0].contains(&format!("\"tree\":\"{tree}\"")),
        "{records:?}"
    );
    assert!(records[0].contains("\"commit\":\"\""), "{records:?}");
    assert!(!records[0].contains(AWS_KEY) && !records[0].contains(&token));
    assert!(!repo
        .git_dir()
        .join("tollgate/pending")
        .read_dir()
        .unwrap()
        .any(|_| true));

    // Same blocker again (same path and secret): the used token no longer passes.
    repo.write("cfg.py", format!("key = \"{AWS_KEY}\"\nmore = 1\n"));
    repo.git(&["rm", "-q", "--cached", "cfg.py"]).success();
    repo.git(&["commit", "-qm", "remove"]).success();
    staged_secret(&repo, "cfg.py");
    repo.git_env(&["commit", "-qm", "again"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("already used at");

    // Nothing under the git dir holds the token in plain form.
    assert!(!contains(&repo.state_bytes(), &token));
    assert!(!contains(&repo.state_bytes(), &token["tgt1_".len()..]));
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    list.success();
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v[0]["state"], "USED");
    assert!(v[0].get("token_sha256").is_none());
}

#[test]
fn a_token_for_b1_does_not_pass_b2_and_is_not_spent() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "a.py");
    staged_secret(&repo, "b.py");
    repo.git(&["commit", "-qm", "two"])
        .code(1)
        .stderr_has("B1")
        .stderr_has("B2");
    let token = mint(&repo, "B1", &[], &[]);

    repo.git_env(&["commit", "-qm", "two"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("passed by override token")
        .stderr_has("commit blocked: 1 blocker");
    let list = repo.tollgate(&["override", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(
        v[0]["state"], "ACTIVE",
        "a blocked attempt must not spend the token"
    );

    // Without B2, the same token now passes.
    repo.git(&["rm", "-q", "--cached", "b.py"]).success();
    repo.git_env(&["commit", "-qm", "one"], &[("TOLLGATE_TOKEN", &token)])
        .success();
}

#[test]
fn expiry_is_enforced_with_the_injected_clock() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TEST_NOW", T0)])
        .code(1);
    let token = mint(&repo, "B1", &["--ttl", "30m"], &[("TOLLGATE_TEST_NOW", T0)]);
    repo.git_env(
        &["commit", "-qm", "late"],
        &[
            ("TOLLGATE_TOKEN", &token),
            ("TOLLGATE_TEST_NOW", "2026-11-22T10:31:00Z"),
        ],
    )
    .code(1)
    .stderr_has("expired at 2026-11-22T10:30:00");
    repo.git_env(
        &["commit", "-qm", "in time"],
        &[
            ("TOLLGATE_TOKEN", &token),
            ("TOLLGATE_TEST_NOW", "2026-11-22T10:29:00Z"),
        ],
    )
    .success();
}

#[test]
fn a_revoked_token_passes_nothing() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    let list = repo.tollgate(&["override", "list"]);
    let id = list.out().split_whitespace().next().unwrap().to_string();
    assert!(id.starts_with("tok_"), "{list}");
    repo.tollgate(&["override", "revoke", &id, "--reason", "mistake"])
        .success();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("was revoked");
    let status = repo.tollgate(&["override", "status", &id]);
    status.success();
    assert!(
        status.out().contains("REVOKED") && status.out().contains("mistake"),
        "{status}"
    );
    let history = repo.tollgate(&["override", "history", "--constraint", "aws-access-key-id"]);
    assert!(
        history.out().contains("ACTIVE") && history.out().contains("REVOKED"),
        "{history}"
    );
}

#[test]
fn refusals_each_have_their_own_message() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    // No terminal: refused, nothing minted.
    repo.tollgate(&["override", "B1", "--reason", "r"])
        .code(1)
        .stderr_has("override approval needs a terminal");
    // Over 24 hours.
    let (code, err) = refusal_in_pty(&repo, &["B1", "--reason", "r", "--ttl", "25h"]);
    assert_eq!(code, 1);
    assert!(err.contains("maximum duration is 24 hours"), "{err}");
    // Empty reason.
    repo.tollgate(&["override", "B1", "--reason", " "])
        .code(1)
        .stderr_has("needs a reason");
    // A blocker that no longer exists.
    repo.git(&["rm", "-q", "--cached", "cfg.py"]).success();
    repo.tollgate(&["override", "B1", "--reason", "r"])
        .code(1)
        .stderr_has("does not exist now");
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    assert_eq!(
        list.out().trim(),
        "[]",
        "nothing may be minted by a refusal"
    );
}

/// Runs an override that must be refused before any challenge, with a
/// terminal present (so the refusal is not just "no terminal"); returns
/// the exit code and stderr.
fn refusal_in_pty(repo: &Repo, args: &[&str]) -> (i32, String) {
    let err = repo.tmp.path().join("refusal.err");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "'{}' override {} 2>'{}'",
        tollgate_bin().display(),
        quoted.join(" "),
        err.display()
    );
    let mut p = repo.pty("sh", &["-c", &script], &[]);
    let screen = p.exp_eof().unwrap_or_default();
    assert!(
        !screen.contains("type this code"),
        "no challenge may be shown: {screen}"
    );
    let code = match p.process.wait().expect("wait") {
        rexpect::process::wait::WaitStatus::Exited(_, c) => c,
        other => panic!("override did not exit normally: {other:?}"),
    };
    (code, std::fs::read_to_string(err).unwrap_or_default())
}

#[test]
fn never_constraints_cannot_be_overridden() {
    let repo = Repo::installed();
    repo.policy(
        "[[secret]]\nid = \"no-launch-codes\"\nseverity = \"block\"\noverride = \"never\"\nregex = 'LAUNCH-[0-9]{6}'\n",
    );
    repo.write("plan.txt", "LAUNCH-123456\n");
    repo.git(&["add", "plan.txt"]).success();
    repo.git(&["commit", "-qm", "x"]).code(1);
    let r = refusal_in_pty(&repo, &["B1", "--reason", "please"]);
    assert_eq!(r.0, 1);
    assert!(
        r.1.contains("constraint `no-launch-codes` cannot be overridden"),
        "{}",
        r.1
    );
}

#[test]
fn three_wrong_codes_deny_and_mint_nothing() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    let (code, out, _, screen) = override_in_pty(
        &repo,
        &["B1", "--reason", "r"],
        &[],
        &[Some("AAAAAA"), Some("BBBBBB"), Some("CCCCCC")],
    );
    assert_eq!(code, 1);
    assert!(
        screen.contains("Invalid code. 2 attempts remaining."),
        "{screen}"
    );
    assert!(
        screen.contains("Invalid code. 1 attempt remaining."),
        "{screen}"
    );
    assert!(!out.contains("TOLLGATE_TOKEN"), "{out}");
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v[0]["state"], "DENIED");
    assert_eq!(v.as_array().unwrap().len(), 1);
}

#[test]
fn a_force_push_to_main_passes_with_a_token() {
    let repo = Repo::installed().with_remote();
    repo.signing_key("author");
    repo.write("a.txt", "one\n");
    repo.commit_all("one");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let before = repo.remote_ref("main");
    repo.write("a.txt", "rewritten\n");
    repo.git(&["add", "a.txt"]).success();
    repo.git(&["commit", "-q", "--amend", "-m", "rewritten"])
        .success();
    repo.git(&["push", "-q", "-f", "origin", "main"])
        .code(1)
        .stderr_has("no-force-push-protected");
    assert_eq!(repo.remote_ref("main"), before);

    let (code, out, err, _) = override_in_pty(
        &repo,
        &["B1", "--reason", "history rewrite agreed"],
        &[],
        &[None],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let token = out
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("TOLLGATE_TOKEN=")
        .to_string();
    let rerun = out.lines().nth(1).unwrap();
    assert!(
        rerun.contains("git push origin +refs/heads/main:refs/heads/main"),
        "{rerun}"
    );

    repo.git_env(
        &["push", "-q", "-f", "origin", "main"],
        &[("TOLLGATE_TOKEN", &token)],
    )
    .success()
    .never_shows(&token);
    assert_eq!(repo.remote_ref("main"), repo.head());
    // The record is on the pushed tip, and reached the remote first.
    let head = repo.head().unwrap();
    assert_eq!(repo.records(&head).len(), 1);
    let remote = repo.remote.as_ref().unwrap().to_str().unwrap();
    repo.git(&[
        "--git-dir",
        remote,
        "notes",
        "--ref=refs/notes/tollgate",
        "show",
        &head,
    ])
    .success();
}

#[test]
fn no_token_is_minted_or_consumed_without_a_signing_key() {
    let repo = Repo::installed();
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    // Without a key no token is minted: it could never be consumed.
    let (code, err) = refusal_in_pty(&repo, &["B1", "--reason", "r"]);
    assert_eq!(code, 1);
    assert!(err.contains("no SSH signing key is configured"), "{err}");
    assert!(err.contains("no token was minted"), "{err}");
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    assert_eq!(list.out().trim(), "[]");
    // Minted with a key that is then unset: not consumed.
    repo.signing_key("author");
    let key = repo
        .git(&["config", "tollgate.signingKey"])
        .out()
        .trim()
        .to_string();
    let token = mint(&repo, "B1", &[], &[]);
    repo.git(&["config", "--unset", "tollgate.signingKey"])
        .success();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("no SSH signing key is configured")
        .stderr_has("git config tollgate.signingKey");
    assert!(repo.head().is_none());
    let list = repo.tollgate(&["override", "list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v[0]["state"], "ACTIVE", "the token must stay unspent");
    // A GPG signing key is not taken for an SSH one.
    repo.git(&["config", "user.signingkey", "ABCDEF0123456789"])
        .success();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("`user.signingkey` is set for GPG");
    // Another SSH key than the one the token was minted for is refused.
    let (other, _) = repo.ssh_keygen("other-key");
    repo.git(&["config", "gpg.format", "ssh"]).success();
    repo.git(&["config", "user.signingkey", other.to_str().unwrap()])
        .success();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("was minted for");
    // With git's own SSH signing configuration naming the same key, it passes.
    repo.git(&["config", "user.signingkey", &key]).success();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    assert_eq!(repo.records(&repo.head().unwrap()).len(), 1);
}

#[test]
fn of_eight_hooks_racing_with_one_token_exactly_one_passes() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut c = repo.command(tollgate_bin());
            c.args(["hook", "pre-commit"])
                .env("TOLLGATE_TOKEN", &token)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            c.spawn().expect("spawn hook")
        })
        .collect();
    let mut passed = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(!contains(&out.stderr, &token) && !contains(&out.stdout, &token));
        match out.status.code() {
            Some(0) => passed += 1,
            Some(1) => {}
            other => panic!(
                "unexpected exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!(passed, 1, "exactly one hook may consume the token");
}

#[test]
fn a_corrupt_ledger_blocks_and_is_kept() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    let ledger = repo.git_dir().join("tollgate/ledger.json");
    std::fs::write(
        &ledger,
        b"{\"schema\": \"tollgate/ledger/v1\", \"entries\": [",
    )
    .unwrap();
    let r = repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)]);
    assert_ne!(r.code, Some(0));
    r.stderr_has("is corrupt");
    assert_eq!(
        std::fs::read(&ledger).unwrap(),
        b"{\"schema\": \"tollgate/ledger/v1\", \"entries\": ["
    );
    assert!(repo.head().is_none());
}

#[test]
fn reason_codes_are_required_when_the_policy_lists_them() {
    let repo = Repo::installed();
    repo.signing_key("author");
    repo.policy(
        "extends = [\"builtin:recommended\"]\n[overrides]\nreasons = [\"hotfix\", \"false-positive\"]\n",
    );
    staged_secret(&repo, "cfg.py");
    repo.git(&["commit", "-qm", "x"]).code(1);
    repo.tollgate(&["override", "B1", "--reason", "r"])
        .code(1)
        .stderr_has("the policy requires a reason code: `--code <hotfix|false-positive>`");
    repo.tollgate(&["override", "B1", "--reason", "r", "--code", "because"])
        .code(1)
        .stderr_has("reason code `because` is not one of the policy's");
    let token = mint(&repo, "B1", &["--code", "false-positive"], &[]);
    let list = repo.tollgate(&["override", "list", "--active", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v[0]["code"], "false-positive");
    assert_eq!(v[0]["state"], "ACTIVE");
    assert!(v[0]["id"].as_str().unwrap().starts_with("tok_"));
    assert!(v[0]["expires"].is_string() && v[0]["fingerprint"].is_string());
    assert!(!list.out().contains(&token));
}
