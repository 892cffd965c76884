//! End-to-end: `tollgate install`, then real `git commit` / `git push`
//! through the installed shims, against real repositories and a bare remote.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use common::{aws_line, contains, Repo, AWS_KEY, AWS_KEY_REDACTED};
use rexpect::process::wait::WaitStatus;

/// A policy with one warning-only secret and nothing else.
const WARN_POLICY: &str = r#"
[[secret]]
id = "todo-token"
severity = "warn"
regex = 'TODO_TOKEN_[0-9]+'
"#;

/// The exit code of a finished pty child.
fn pty_exit(session: &rexpect::session::PtySession) -> i32 {
    match session.process.wait().expect("wait for the pty child") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the pty child did not exit normally: {other:?}"),
    }
}

// 1 ------------------------------------------------------------------------

#[test]
fn staged_aws_key_blocks_the_commit_without_leaking_it() {
    let repo = Repo::installed(); // builtin pack: no .tollgate.toml
    repo.write("README", "hello\n");
    repo.commit_all("first");
    let before = repo.head();
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();

    let run = repo.git(&["commit", "-m", "add config"]);
    run.code(1)
        .stderr_has("B1  blocker `aws-access-key-id` (secret) at `config.txt:1`")
        .stderr_has(AWS_KEY_REDACTED)
        .stderr_has("fingerprint ")
        .stderr_has("error: commit blocked: 1 blocker (B1)")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head(), before, "the commit must not happen");

    let last =
        fs::read(repo.git_dir().join("tollgate/last-run.json")).expect("last-run.json saved");
    assert!(
        contains(&last, "aws-access-key-id"),
        "{}",
        String::from_utf8_lossy(&last)
    );
    assert!(
        !contains(&repo.state_bytes(), AWS_KEY),
        "the secret leaked into .git/tollgate/"
    );
}

// 2 ------------------------------------------------------------------------

#[test]
fn secret_committed_with_no_verify_is_blocked_on_push() {
    let repo = Repo::installed().with_remote();
    let secret = repo.commit_unchecked("config.txt", aws_line(), "sneak it in");

    let run = repo.git(&["push", "origin", "main"]);
    run.code(1)
        .stderr_has("`aws-access-key-id` (secret)")
        .stderr_has(&format!("commit {}", &secret[..12]))
        .stderr_has("error: push blocked: 1 blocker (B1)")
        .never_shows(AWS_KEY);
    assert_eq!(
        repo.remote_ref("main"),
        None,
        "nothing may reach the remote"
    );
    assert!(!contains(&repo.state_bytes(), AWS_KEY));
}

// 3 ------------------------------------------------------------------------

#[test]
fn force_push_to_main_is_blocked_and_to_a_feature_branch_allowed() {
    let repo = Repo::installed().with_remote();
    repo.write("a.txt", "one\n");
    let first = repo.commit_all("one");
    repo.git(&["push", "-q", "origin", "main"]).success();
    assert_eq!(repo.remote_ref("main").as_deref(), Some(first.as_str()));

    repo.git(&["commit", "-q", "--amend", "-m", "one, reworded"])
        .success();
    let run = repo.git(&["push", "-f", "origin", "main"]);
    run.code(1)
        .stderr_has("`no-force-push-protected` (force-push) at `refs/heads/main`")
        .stderr_has("error: push blocked");
    assert_eq!(
        repo.remote_ref("main").as_deref(),
        Some(first.as_str()),
        "remote main unchanged"
    );

    repo.git(&["checkout", "-q", "-b", "feature"]).success();
    repo.write("b.txt", "two\n");
    repo.commit_all("two");
    repo.git(&["push", "-q", "origin", "feature"]).success();
    repo.git(&["commit", "-q", "--amend", "-m", "two, reworded"])
        .success();
    let rewritten = repo.head().unwrap();
    repo.git(&["push", "-f", "origin", "feature"])
        .success()
        .stderr_lacks("blocker");
    assert_eq!(
        repo.remote_ref("feature"),
        Some(rewritten),
        "a feature branch may be force-pushed"
    );
}

// 4 ------------------------------------------------------------------------

#[test]
fn deleting_main_on_the_remote_is_blocked() {
    let repo = Repo::installed().with_remote();
    repo.write("a.txt", "one\n");
    let head = repo.commit_all("one");
    repo.git(&["push", "-q", "origin", "main", "main:feature"])
        .success();

    repo.git(&["push", "origin", ":main"])
        .code(1)
        .stderr_has("`no-delete-protected` (protected-branch) at `refs/heads/main`")
        .stderr_has("deletes the branch");
    repo.git(&["push", "origin", "--delete", "main"])
        .code(1)
        .stderr_has("no-delete-protected");
    assert_eq!(
        repo.remote_ref("main"),
        Some(head),
        "remote main still there"
    );

    // Control: deleting an unprotected branch goes through.
    repo.git(&["push", "origin", "--delete", "feature"])
        .success();
    assert_eq!(repo.remote_ref("feature"), None);
}

// 5 ------------------------------------------------------------------------

#[test]
fn a_two_ref_push_is_blocked_by_its_second_ref() {
    let repo = Repo::installed().with_remote();
    repo.write("a.txt", "one\n");
    repo.commit_all("base");
    repo.git(&["push", "-q", "origin", "main"]).success();

    repo.git(&["checkout", "-q", "-b", "ok-branch"]).success();
    repo.write("ok.txt", "fine\n");
    repo.commit_all("ok");
    repo.git(&["checkout", "-q", "-b", "bad-branch"]).success();
    let bad = repo.commit_unchecked("bad.txt", aws_line(), "bad");

    repo.git(&["push", "origin", "ok-branch", "bad-branch"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `bad.txt:1`")
        .stderr_has(&format!("commit {}", &bad[..12]))
        .never_shows(AWS_KEY);
    assert_eq!(
        repo.remote_ref("ok-branch"),
        None,
        "a blocked push pushes nothing"
    );
    assert_eq!(repo.remote_ref("bad-branch"), None);
}

#[test]
fn a_two_ref_push_is_blocked_by_a_forced_main_as_its_second_ref() {
    let repo = Repo::installed().with_remote();
    repo.write("a.txt", "one\n");
    let first = repo.commit_all("base");
    repo.git(&["push", "-q", "origin", "main"]).success();
    repo.git(&["branch", "ok-branch"]).success();
    repo.git(&["commit", "-q", "--amend", "-m", "base, reworded"])
        .success();

    repo.git(&["push", "-f", "origin", "ok-branch", "main"])
        .code(1)
        .stderr_has("`no-force-push-protected` (force-push) at `refs/heads/main`");
    assert_eq!(repo.remote_ref("main"), Some(first));
    assert_eq!(repo.remote_ref("ok-branch"), None);
}

// 6 ------------------------------------------------------------------------

#[test]
fn the_first_commit_of_an_empty_repository_is_checked() {
    let repo = Repo::installed();
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "first"])
        .code(1)
        .stderr_has("B1  blocker `aws-access-key-id` (secret) at `config.txt:1`")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head(), None, "no first commit");

    repo.git(&["rm", "-q", "--cached", "config.txt"]).success();
    fs::remove_file(repo.path("config.txt")).unwrap();
    repo.write("README", "hello\n");
    repo.git(&["add", "README"]).success();
    repo.git(&["commit", "-q", "-m", "first"])
        .success()
        .stderr_lacks("blocker");
    assert!(repo.head().is_some());
}

// 7 ------------------------------------------------------------------------

#[test]
fn a_detached_head_commit_is_checked() {
    let repo = Repo::installed();
    repo.write("a.txt", "one\n");
    let base = repo.commit_all("base");
    repo.git(&["checkout", "-q", "--detach"]).success();

    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "detached secret"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:1`")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head().as_deref(), Some(base.as_str()));

    repo.write("config.txt", "region = eu-west-1\n");
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-q", "-m", "detached clean"])
        .success();
    assert_ne!(repo.head().as_deref(), Some(base.as_str()));
    assert!(
        !repo.git(&["symbolic-ref", "-q", "HEAD"]).ok(),
        "still detached"
    );
}

// 8 ------------------------------------------------------------------------

#[test]
fn a_binary_file_is_scanned_through_its_text_runs() {
    let repo = Repo::installed();
    let mut bytes = b"\x00\x01binary header\x00".to_vec();
    bytes.extend_from_slice(aws_line().as_bytes());
    repo.write("blob.bin", &bytes);
    repo.git(&["add", "blob.bin"]).success();
    // One NUL byte does not hide the key: it is found in the text run, by
    // byte offset.
    repo.git(&["commit", "-q", "-m", "binary"])
        .code(1)
        .stderr_has("blocker `aws-access-key-id`")
        .stderr_has("(binary, byte ");
    assert!(repo.head().is_none());

    // A binary without a key passes.
    repo.write("blob.bin", b"\x00\x01binary header\x00 nothing here\n");
    repo.git(&["add", "blob.bin"]).success();
    repo.git(&["commit", "-q", "-m", "binary"])
        .success()
        .stderr_lacks("blocker");
}

// 9 ------------------------------------------------------------------------

#[test]
fn a_non_utf8_path_is_checked_and_shown_lossily() {
    let repo = Repo::installed();
    let secret_name = OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(repo.path(secret_name), aws_line()).unwrap();
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-m", "latin-1 name"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `caf\u{FFFD}.txt:1`")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head(), None);

    fs::write(repo.path(secret_name), "nothing to see\n").unwrap();
    fs::write(repo.path(OsStr::from_bytes(b"na\xefve.txt")), "plain\n").unwrap();
    repo.git(&["add", "-A"]).success();
    repo.git(&["commit", "-q", "-m", "latin-1 names, clean"])
        .success();
    let files = repo.git(&["ls-files", "-z"]);
    assert!(
        files
            .stdout
            .split(|&b| b == 0)
            .any(|p| p == b"na\xefve.txt"),
        "{files}"
    );
}

// 10 -----------------------------------------------------------------------

#[test]
fn warnings_without_a_terminal_stop_the_commit() {
    let repo = Repo::installed();
    repo.policy(WARN_POLICY);
    repo.write("notes.txt", "TODO_TOKEN_42\n");
    repo.git(&["add", "notes.txt"]).success();
    repo.git(&["commit", "-m", "notes"])
        .code(1)
        .stderr_has("W1  warning `todo-token` (secret) at `notes.txt:1`")
        .stderr_has("error: commit stopped: 1 warning needs acknowledgement and there is no terminal to ask")
        .stderr_has("TOLLGATE_YES=1")
        .stderr_lacks("Proceed with the commit?");
    assert_eq!(repo.head(), None);
}

#[test]
fn tollgate_yes_acknowledges_warnings() {
    let repo = Repo::installed();
    repo.policy(WARN_POLICY);
    repo.write("notes.txt", "TODO_TOKEN_42\n");
    repo.git(&["add", "notes.txt"]).success();
    repo.git_env(&["commit", "-q", "-m", "notes"], &[("TOLLGATE_YES", "1")])
        .success()
        .stderr_has("W1  warning `todo-token`")
        .stderr_has("warning: 1 warning acknowledged");
    assert!(repo.head().is_some());
}

#[test]
fn warnings_at_a_terminal_ask_and_y_proceeds() {
    let repo = Repo::installed();
    repo.policy(WARN_POLICY);
    repo.write("notes.txt", "TODO_TOKEN_42\n");
    repo.git(&["add", "notes.txt"]).success();

    let mut s = repo.pty("git", &["commit", "-m", "notes"], &[]);
    s.exp_string("`todo-token`").expect("the warning is listed");
    s.exp_string("tollgate: 1 warning above. Proceed with the commit? [y/N] ")
        .expect("prompt on the terminal");
    s.send_line("y").unwrap();
    let rest = s.exp_eof().expect("git finishes");
    assert_eq!(pty_exit(&s), 0, "after `y`:\n{rest}");
    assert!(repo.head().is_some(), "the commit was made");
}

#[test]
fn warnings_at_a_terminal_ask_and_n_stops() {
    let repo = Repo::installed();
    repo.policy(WARN_POLICY);
    repo.write("notes.txt", "TODO_TOKEN_42\n");
    repo.git(&["add", "notes.txt"]).success();

    let mut s = repo.pty("git", &["commit", "-m", "notes"], &[]);
    s.exp_string("Proceed with the commit? [y/N] ")
        .expect("prompt on the terminal");
    s.send_line("n").unwrap();
    s.exp_string("commit stopped: the warnings were not acknowledged")
        .expect("the refusal is reported");
    s.exp_eof().expect("git finishes");
    assert_eq!(pty_exit(&s), 1);
    assert_eq!(repo.head(), None, "no commit after `n`");
}

#[test]
fn yes_never_passes_a_blocker() {
    let repo = Repo::installed(); // builtin pack
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();

    repo.git_env(&["commit", "-m", "with yes"], &[("TOLLGATE_YES", "1")])
        .code(1)
        .stderr_has("error: commit blocked: 1 blocker (B1)")
        .stderr_has("never pass a blocker")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head(), None);

    repo.tollgate(&["check", "--staged", "--yes"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:1`")
        .stderr_has("never pass a blocker")
        .never_shows(AWS_KEY);
}

// 11 -----------------------------------------------------------------------

/// A pre-existing hook that records its run in `marker` and exits `code`.
fn legacy_hook(marker: &std::path::Path, code: i32) -> String {
    format!(
        "#!/bin/sh\necho \"legacy pre-commit ran\" >> '{}'\nexit {code}\n",
        marker.display()
    )
}

#[test]
fn an_existing_hook_is_kept_and_run_first() {
    let repo = Repo::new();
    let marker = repo.tmp.path().join("marker");
    let hook = repo.git_dir().join("hooks/pre-commit");
    let original = legacy_hook(&marker, 0);
    Repo::write_script(&hook, &original);

    repo.tollgate(&["install"])
        .success()
        .stderr_has("kept the existing `pre-commit` hook; tollgate runs it first");
    let chained = repo.git_dir().join("hooks/pre-commit.tollgate-chained");
    assert_eq!(fs::read_to_string(&chained).unwrap(), original);
    assert!(fs::read_to_string(&hook)
        .unwrap()
        .contains("tollgate-managed-hook"));

    // A clean commit: the old hook ran, tollgate passed.
    repo.write("a.txt", "one\n");
    repo.commit_all("one");
    assert_eq!(
        fs::read_to_string(&marker).unwrap(),
        "legacy pre-commit ran\n"
    );

    // tollgate still gates after the old hook passes.
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "secret"])
        .code(1)
        .stderr_has("aws-access-key-id");
    assert_eq!(fs::read_to_string(&marker).unwrap().lines().count(), 2);
}

#[test]
fn a_failing_existing_hook_blocks_even_a_clean_commit() {
    let repo = Repo::new();
    let marker = repo.tmp.path().join("marker");
    Repo::write_script(
        &repo.git_dir().join("hooks/pre-commit"),
        &legacy_hook(&marker, 1),
    );
    repo.tollgate(&["install"]).success();

    repo.write("a.txt", "clean\n");
    repo.git(&["add", "a.txt"]).success();
    repo.git(&["commit", "-m", "clean"]).code(1).stderr_has(
        "the existing `pre-commit` hook (kept by tollgate as `pre-commit.tollgate-chained`) failed",
    );
    assert_eq!(repo.head(), None);
    assert!(marker.exists(), "the old hook ran");

    // It runs first: with a secret staged too, tollgate never gets to scan.
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "secret"])
        .code(1)
        .stderr_has("the existing `pre-commit` hook")
        .stderr_lacks("aws-access-key-id");
}

#[test]
fn install_is_idempotent_and_uninstall_restores_the_original_hook() {
    let repo = Repo::new();
    let hooks = repo.git_dir().join("hooks");
    let marker = repo.tmp.path().join("marker");
    let original = legacy_hook(&marker, 0);
    Repo::write_script(&hooks.join("pre-commit"), &original);

    repo.tollgate(&["install"]).success();
    let shim = fs::read(hooks.join("pre-commit")).unwrap();
    repo.tollgate(&["install"])
        .success()
        .stderr_lacks("kept the existing");
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit.tollgate-chained")).unwrap(),
        original
    );
    assert_eq!(
        fs::read(hooks.join("pre-commit")).unwrap(),
        shim,
        "same shim twice"
    );
    for name in ["pre-commit", "pre-push", "post-commit"] {
        let text = fs::read_to_string(hooks.join(name)).unwrap();
        assert!(text.contains("tollgate-managed-hook"), "{name}: {text}");
        assert!(
            text.contains(
                common::tollgate_bin()
                    .canonicalize()
                    .unwrap()
                    .to_str()
                    .unwrap()
            ),
            "{name}: {text}"
        );
    }

    repo.tollgate(&["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        original,
        "byte-for-byte"
    );
    let mode = fs::metadata(hooks.join("pre-commit"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "still executable");
    assert!(!hooks.join("pre-push").exists());
    assert!(!hooks.join("post-commit").exists());
    assert!(!hooks.join("pre-commit.tollgate-chained").exists());

    // And git is back to the original behaviour only.
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-q", "-m", "no gate"]).success();
    assert!(marker.exists());
}

// 12 -----------------------------------------------------------------------

#[test]
fn core_hooks_path_is_honoured() {
    let repo = Repo::new();
    repo.git(&["config", "core.hooksPath", ".githooks"])
        .success();
    repo.tollgate(&["install"])
        .success()
        .stderr_has(".githooks");
    assert!(fs::read_to_string(repo.path(".githooks/pre-commit"))
        .unwrap()
        .contains("tollgate-managed-hook"));
    assert!(
        !repo.git_dir().join("hooks/pre-commit").exists(),
        "not in .git/hooks"
    );

    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "secret"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:1`");
    assert_eq!(repo.head(), None);
}

// 13 -----------------------------------------------------------------------

#[test]
fn a_missing_binary_fails_closed() {
    let repo = Repo::installed();
    let shim_path = repo.git_dir().join("hooks/pre-commit");
    let shim = fs::read_to_string(&shim_path).unwrap();
    let recorded = common::tollgate_bin().canonicalize().unwrap();
    let recorded = recorded.to_str().unwrap();
    assert!(shim.contains(recorded), "{shim}");
    fs::write(&shim_path, shim.replace(recorded, "/nonexistent/tollgate")).unwrap();
    // Precondition: no `tollgate` on the hermetic PATH either.
    assert!(!repo
        .run_in(&repo.root, "sh", ["-c", "command -v tollgate"])
        .ok());

    repo.write("a.txt", "clean\n");
    repo.git(&["add", "a.txt"]).success();
    repo.git(&["commit", "-m", "clean"])
        .code(1)
        .stderr_has("error: the tollgate binary is missing, so the pre-commit hook cannot run; the commit is stopped");
    assert_eq!(repo.head(), None);
}

// 14 -----------------------------------------------------------------------

#[test]
fn check_range_reports_the_secret_commit_as_json() {
    let repo = Repo::new();
    repo.write("a.txt", "one\n");
    let a = repo.commit_all("a");
    let secret = repo.commit_unchecked("config.txt", aws_line(), "secret");
    repo.write("b.txt", "two\n");
    let b = repo.commit_all("b");

    let run = repo.tollgate(&["check", "--range", &format!("{a}..{b}"), "--format", "json"]);
    run.code(1).never_shows(AWS_KEY);
    let json: serde_json::Value =
        serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(json["schema"], "tollgate/v1", "{json:#}");
    assert_eq!(json["result"], "blocked", "{json:#}");
    let findings = json["findings"].as_array().expect("findings[]");
    let f = findings
        .iter()
        .find(|f| f["constraint"] == "aws-access-key-id")
        .unwrap_or_else(|| panic!("no aws finding: {json:#}"));
    assert_eq!(f["id"], "B1");
    assert_eq!(f["kind"], "secret");
    assert_eq!(f["severity"], "block");
    assert_eq!(f["location"]["path"], "config.txt");
    assert_eq!(f["location"]["line"], 1);
    assert_eq!(f["location"]["commit"], secret.as_str());
    assert_eq!(f["evidence"], AWS_KEY_REDACTED);
    let fp = f["fingerprint"].as_str().unwrap();
    assert!(
        fp.len() == 64 && fp.bytes().all(|c| c.is_ascii_hexdigit()),
        "{fp}"
    );

    // A range that leaves the secret commit out passes.
    let run = repo.tollgate(&[
        "check",
        "--range",
        &format!("{secret}..{b}"),
        "--format",
        "json",
    ]);
    run.success();
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(json["result"], "pass", "{json:#}");
    assert_eq!(
        json["findings"].as_array().map(Vec::len),
        Some(0),
        "{json:#}"
    );
}

#[test]
fn a_secret_removed_later_in_the_same_push_is_still_blocked() {
    let repo = Repo::installed().with_remote();
    repo.write("a.txt", "one\n");
    repo.commit_all("base");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let base = repo.remote_ref("main");

    let added = repo.commit_unchecked("config.txt", aws_line(), "oops");
    repo.git(&["rm", "-q", "config.txt"]).success();
    repo.git(&["commit", "-q", "-m", "remove it again"])
        .success();

    repo.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:1`")
        .stderr_has(&format!("commit {}", &added[..12]))
        .never_shows(AWS_KEY);
    assert_eq!(repo.remote_ref("main"), base, "remote main unchanged");
}

// Beyond the list: how git really calls the hooks ----------------------------

#[test]
fn commit_all_and_partial_commits_are_checked_through_their_temporary_index() {
    let repo = Repo::installed();
    repo.write("config.txt", "region = eu-west-1\n");
    let base = repo.commit_all("base");

    // `git commit -a`: the change is not staged in .git/index; git builds a
    // temporary index and passes it as GIT_INDEX_FILE.
    repo.write("config.txt", format!("region = eu-west-1\n{}", aws_line()));
    repo.git(&["commit", "-a", "-m", "all"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:2`")
        .never_shows(AWS_KEY);
    assert_eq!(repo.head().as_deref(), Some(base.as_str()));

    // `git commit -- <path>` (a partial commit) likewise.
    repo.git(&["commit", "-m", "only", "--", "config.txt"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:2`");
    assert_eq!(repo.head().as_deref(), Some(base.as_str()));
}

#[test]
fn an_existing_pre_push_hook_gets_the_same_input_and_tollgate_still_sees_it() {
    let repo = Repo::new().with_remote();
    let seen = repo.tmp.path().join("pre-push-input");
    Repo::write_script(
        &repo.git_dir().join("hooks/pre-push"),
        &format!(
            "#!/bin/sh\necho \"$1 $2\" > '{0}'\ncat >> '{0}'\n",
            seen.display()
        ),
    );
    repo.tollgate(&["install"]).success();
    let secret = repo.commit_unchecked("config.txt", aws_line(), "secret");

    repo.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret)");
    let input = fs::read_to_string(&seen).expect("the old pre-push hook ran");
    let remote = repo.remote.as_ref().unwrap();
    assert!(
        input.starts_with(&format!("origin {}\n", remote.display())),
        "{input}"
    );
    assert!(
        input.contains(&format!(
            "refs/heads/main {secret} refs/heads/main {}",
            "0".repeat(40)
        )),
        "{input}"
    );
    assert_eq!(repo.remote_ref("main"), None);
}

#[test]
fn a_secret_commit_in_a_linked_worktree_is_blocked() {
    let repo = Repo::installed();
    repo.write("a.txt", "one\n");
    repo.commit_all("base");
    let wt = repo.tmp.path().join("wt");
    repo.git(&["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()])
        .success();

    fs::write(wt.join("config.txt"), aws_line()).unwrap();
    repo.run_in(&wt, "git", ["add", "config.txt"]).success();
    repo.run_in(&wt, "git", ["commit", "-m", "secret in worktree"])
        .code(1)
        .stderr_has("`aws-access-key-id` (secret) at `config.txt:1`")
        .never_shows(AWS_KEY);
    assert_eq!(repo.rev("side"), repo.rev("main"), "no commit on `side`");
    assert!(
        repo.git_dir().join("tollgate/last-run.json").exists(),
        "state in the common dir"
    );
}

#[test]
fn a_non_executable_existing_hook_stays_disabled_after_install() {
    // git ignores a hook that is not executable. Installing tollgate must not
    // turn such a disabled hook into one that stops every commit.
    let repo = Repo::new();
    let hook = repo.git_dir().join("hooks/pre-commit");
    fs::write(&hook, "#!/bin/sh\nexit 1\n").unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).unwrap();
    repo.write("a.txt", "one\n");
    repo.commit_all("before install: the hook is ignored");

    repo.tollgate(&["install"]).success();
    repo.write("b.txt", "two\n");
    repo.git(&["add", "b.txt"]).success();
    let before = repo.head();
    repo.git(&["commit", "-q", "-m", "after install"])
        .success()
        .stderr_lacks("cannot run the chained hook");
    assert_ne!(repo.head(), before, "the commit was made");
}

#[test]
fn the_post_commit_shim_starts_tollgate_only_when_a_record_waits() {
    let repo = Repo::installed();
    // A wrapper in place of the binary the shims name logs every start.
    let hooks = repo.git_dir().join("hooks");
    let log = repo.tmp.path().join("starts.log");
    let wrapper = repo.tmp.path().join("tollgate-wrapper");
    let shim = fs::read_to_string(hooks.join("post-commit")).unwrap();
    let real = shim
        .lines()
        .find_map(|l| l.strip_prefix("tollgate_bin='"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("the shim names its binary")
        .to_string();
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["pre-commit", "post-commit"] {
        let text = fs::read_to_string(hooks.join(name)).unwrap();
        let text = text.replace(&real, &wrapper.display().to_string());
        fs::write(hooks.join(name), text).unwrap();
    }
    let starts = || fs::read_to_string(&log).unwrap_or_default();

    repo.write("a.txt", "one\n");
    repo.commit_all("nothing waits");
    assert!(starts().contains("hook pre-commit"), "{}", starts());
    assert!(!starts().contains("hook post-commit"), "{}", starts());

    // A commit passed by an override token leaves its audit record
    // pending for post-commit: the shim hands over and the record is
    // written onto the new commit.
    repo.signing_key("author");
    repo.write("cfg.py", aws_line());
    repo.git(&["add", "cfg.py"]).success();
    repo.git(&["commit", "-qm", "secret"]).code(1);
    let token = common::mint(&repo, "B1", &[], &[]);
    fs::write(log.as_path(), "").unwrap();
    repo.git_env(
        &["commit", "-qm", "with token"],
        &[("TOLLGATE_TOKEN", &token)],
    )
    .success();
    assert!(starts().contains("hook post-commit"), "{}", starts());
    let head = repo.head().expect("the commit was made");
    assert_eq!(repo.records(&head).len(), 1);

    // An earlier post-commit hook kept by install: always handed over.
    fs::write(log.as_path(), "").unwrap();
    let marker = repo.tmp.path().join("chained-ran");
    fs::write(
        hooks.join("post-commit.tollgate-chained"),
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(
        hooks.join("post-commit.tollgate-chained"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    repo.write("a.txt", "three\n");
    repo.git(&["commit", "-qam", "a hook is chained"]).success();
    assert!(starts().contains("hook post-commit"), "{}", starts());
    assert!(marker.exists(), "the chained post-commit hook ran");

    // In a linked worktree (git sets GIT_DIR) tollgate always decides.
    fs::remove_file(hooks.join("post-commit.tollgate-chained")).unwrap();
    fs::write(log.as_path(), "").unwrap();
    let wt = repo.tmp.path().join("wt");
    repo.git(&["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()])
        .success();
    fs::write(wt.join("b.txt"), "b\n").unwrap();
    repo.run_in(&wt, "git", ["add", "b.txt"]).success();
    repo.run_in(&wt, "git", ["commit", "-qm", "in a worktree"])
        .success();
    assert!(starts().contains("hook post-commit"), "{}", starts());
}
