//! `tollgate baseline` on a repository with old secrets: the history then
//! passes with the old findings reported as baselined, a new copy of the
//! same secret at another path still blocks (in `check --history`,
//! `--range`, the pre-commit hook and `verify`), and the baseline file holds
//! no secret.

use crate::common;

use std::fs;

use common::{aws_line, Repo, AWS_KEY};

const BASELINE: &str = ".tollgate/baseline.toml";

fn old_repo() -> (Repo, String) {
    let repo = Repo::new();
    repo.commit_unchecked("README.md", "hello\n", "start");
    let old = repo.commit_unchecked("deploy/old.env", aws_line(), "years ago");
    repo.commit_unchecked("README.md", "hello again\n", "later");
    (repo, old)
}

#[test]
fn the_history_passes_after_a_baseline_and_a_new_copy_elsewhere_still_blocks() {
    let (repo, old) = old_repo();
    repo.tollgate(&["check", "--history"])
        .code(1)
        .stderr_has("`deploy/old.env:1`");

    // A reason is required.
    repo.tollgate(&["baseline"]).code(2).stderr_has("--reason");
    repo.tollgate(&["baseline", "--reason", " "])
        .code(2)
        .stderr_has("`--reason` is empty");
    repo.tollgate(&["baseline", "--reason", "rotated in 2023", "--dry-run"])
        .success()
        .stderr_has("1 finding to baseline; nothing written");
    assert!(!repo.path(BASELINE).exists());

    repo.tollgate(&["baseline", "--reason", "rotated in 2023"])
        .success()
        .stderr_has("wrote 1 finding to baseline in `.tollgate/baseline.toml`")
        .stderr_has("reviewed change");
    let text = fs::read_to_string(repo.path(BASELINE)).unwrap();
    assert!(
        !text.contains(AWS_KEY),
        "no secret in the baseline:\n{text}"
    );
    for needle in [
        "constraint = \"aws-access-key-id\"",
        "path = \"deploy/old.env\"",
        &format!("commit = \"{old}\""),
        "reason = \"rotated in 2023\"",
        "fingerprint = \"",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    // Running it again adds nothing.
    repo.tollgate(&["baseline", "--reason", "again"])
        .success()
        .stderr_has("0 findings to baseline (1 already there)");
    assert_eq!(fs::read_to_string(repo.path(BASELINE)).unwrap(), text);

    let run = repo.tollgate(&["check", "--history"]);
    run.success()
        .stderr_has("baselined in `.tollgate/baseline.toml` (rotated in 2023)");
    let json = repo.tollgate(&["check", "--history", "--format", "json"]);
    json.success();
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["result"], "warn", "{json}");
    assert_eq!(v["findings"][0]["baselined"], "rotated in 2023", "{json}");

    // The same secret at another path is a new finding: it blocks.
    let copy = repo.commit_unchecked("src/settings.py", aws_line(), "copied");
    repo.tollgate(&["check", "--history"])
        .code(1)
        .stderr_has("`src/settings.py:1`");
    repo.tollgate(&["check", "--range", &format!("{old}..{copy}")])
        .code(1)
        .stderr_has("`src/settings.py:1`");
    repo.tollgate(&["check", "--range", &format!("{old}~1..{old}")])
        .success()
        .stderr_has("baselined");

    // And through the installed hook.
    repo.tollgate(&["install"]).success();
    repo.write("other/keys.txt", aws_line());
    repo.git(&["add", "other/keys.txt"]).success();
    repo.git(&["commit", "-m", "again"])
        .code(1)
        .stderr_has("`other/keys.txt:1`");
}

#[test]
fn verify_takes_the_baseline_from_the_trusted_base() {
    let (repo, _) = old_repo();
    repo.tollgate(&["baseline", "--reason", "rotated in 2023"])
        .success();
    let base = repo.commit_unchecked(BASELINE, fs::read(repo.path(BASELINE)).unwrap(), "baseline");
    // The old file is touched again (same secret, same path): baselined.
    repo.commit_unchecked(
        "deploy/old.env",
        format!("key = {AWS_KEY} # rotated\n"),
        "touch",
    );
    repo.tollgate(&["verify", "--base", &base])
        .success()
        .stderr_has("1 finding baselined in `.tollgate/baseline.toml`");

    // A copy elsewhere is a blocker in verify.
    let copy = repo.commit_unchecked("src/settings.py", aws_line(), "copied");
    repo.tollgate(&["verify", "--base", &base])
        .code(1)
        .stderr_has("src/settings.py");

    // A baseline entry added in the range being judged does not count: the
    // base's baseline judges.
    repo.tollgate(&["baseline", "--reason", "sneaky"]).success();
    repo.commit_unchecked(BASELINE, fs::read(repo.path(BASELINE)).unwrap(), "widen");
    repo.tollgate(&["verify", "--base", &base])
        .code(1)
        .stderr_has("src/settings.py");
    // While `check` (the working tree's baseline) now passes it.
    repo.tollgate(&["check", "--range", &format!("{base}..{copy}")])
        .success();
}

#[test]
fn a_broken_baseline_fails_closed_with_its_position() {
    let (repo, _) = old_repo();
    repo.write(BASELINE, "version = 1\n[[finding]]\nfingerprnt = \"x\"\n");
    repo.tollgate(&["check", "--history"])
        .code(2)
        .stderr_has(".tollgate/baseline.toml:3:1");
    repo.tollgate(&["install"]).success();
    repo.write("a.txt", "clean\n");
    repo.git(&["add", "a.txt"]).success();
    // The hook fails closed (git reports any hook failure as 1).
    repo.git(&["commit", "-m", "clean"])
        .code(1)
        .stderr_has(".tollgate/baseline.toml:3:1: unknown field `fingerprnt`");
    assert_eq!(repo.head(), repo.rev("HEAD"));
}
