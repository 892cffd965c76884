//! Snapshots of the human output of `check`, `verify`, `override list` and
//! `audit report`: a change of wording, order or layout is a visible diff
//! in `tests/it/snapshots/`. The binary's and temporary paths, shas,
//! hashes, token ids and key fingerprints are replaced by placeholders; the clock is fixed
//! (`TOLLGATE_TEST_NOW`) so times are exact.

use crate::common::{self, aws_line, Repo, AWS_KEY};

/// The time every command of these tests runs at.
const NOW: &str = "2026-11-20T10:00:00Z";

fn at() -> [(&'static str, &'static str); 1] {
    [("TOLLGATE_TEST_NOW", NOW)]
}

/// Placeholders for what differs between runs or machines, most specific
/// first.
fn filters(repo: &Repo) -> Vec<(String, &'static str)> {
    let bin = common::tollgate_bin();
    let bin = bin.canonicalize().unwrap_or(bin);
    vec![
        (regex_escape(&bin.display().to_string()), "[TOLLGATE]"),
        (
            regex_escape(&repo.tmp.path().display().to_string()),
            "[TMP]",
        ),
        (r"SHA256:[A-Za-z0-9+/]{43}".to_string(), "[KEY]"),
        (r"\btok_[0-9a-f]{12}\b".to_string(), "tok_[ID]"),
        (r"\breq_[0-9a-f]{12,16}\b".to_string(), "req_[ID]"),
        (r"\b[0-9a-f]{64}\b".to_string(), "[HASH]"),
        (r"\b[0-9a-f]{40}\b".to_string(), "[SHA]"),
        (r"\b[0-9a-f]{12}\b".to_string(), "[SHORT]"),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Asserts the snapshot `name` of `text` with [`filters`] applied.
fn snapshot(repo: &Repo, name: &str, text: &str) {
    let f = filters(repo);
    let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => f }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn check_and_verify_of_an_uncovered_blocker() {
    let repo = Repo::new();
    let base = repo.commit_unchecked("README", "hello\n", "first");
    let head = repo.commit_unchecked("config.txt", aws_line(), "add config");

    let check = repo.tollgate_env(&["check", "--range", &format!("{base}..HEAD")], &at());
    check.code(1).never_shows(AWS_KEY);
    snapshot(&repo, "check_range_blocked", &check.err());

    let verify = repo.tollgate_env(
        &["verify", "--base", &base, "--head", &head, "--ref", "main"],
        &at(),
    );
    verify.code(1).never_shows(AWS_KEY);
    snapshot(&repo, "verify_uncovered", &verify.err());
}

#[test]
fn override_list_audit_report_and_verify_of_a_covered_blocker() {
    let repo = Repo::installed();
    repo.signing_key("author");
    repo.write("README", "hello\n");
    let base = repo.commit_all("base");

    repo.write("config.py", aws_line());
    repo.git(&["add", "config.py"]).success();
    let blocked = repo.git_env(&["commit", "-qm", "add key"], &at());
    blocked.code(1).never_shows(AWS_KEY);
    snapshot(&repo, "commit_blocked", &blocked.err());

    let token = common::mint(&repo, "B1", &[], &at());
    let list = repo.tollgate_env(&["override", "list"], &at());
    list.success();
    snapshot(&repo, "override_list_active", &list.all());

    repo.git_env(
        &["commit", "-qm", "add key"],
        &[("TOLLGATE_TOKEN", token.as_str()), at()[0]],
    )
    .success();
    let head = repo.head().unwrap();
    let list = repo.tollgate_env(&["override", "list", "--all"], &at());
    list.success();
    snapshot(&repo, "override_list_used", &list.all());

    let report = repo.tollgate_env(&["audit", "report", "--since", "30d"], &at());
    report.success();
    snapshot(&repo, "audit_report", &report.all());

    let verify = repo.tollgate_env(
        &["verify", "--base", &base, "--head", &head, "--ref", "main"],
        &at(),
    );
    verify.success().never_shows(AWS_KEY);
    snapshot(&repo, "verify_covered", &verify.err());
}
