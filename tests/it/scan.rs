//! `tollgate scan`: directories (respecting `.gitignore`), files and stdin,
//! inside and outside a repository, with `check`'s rules, formats and exit
//! codes; and user-facing errors outside a repository carry no libgit2
//! class codes.

use crate::common;

use std::fs;
use std::io::Write;
use std::process::Stdio;

use common::{aws_line, tollgate_bin, Repo, AWS_KEY};

fn plain_dir() -> (assert_fs::TempDir, std::path::PathBuf) {
    let tmp = assert_fs::TempDir::new().unwrap();
    let dir = tmp.path().join("not-a-repo");
    fs::create_dir_all(dir.join("src/deep")).unwrap();
    fs::write(dir.join("src/deep/settings.py"), aws_line()).unwrap();
    fs::write(dir.join(".env"), format!("AWS_KEY={AWS_KEY}\n")).unwrap();
    fs::write(dir.join("ignored.log"), aws_line()).unwrap();
    fs::write(dir.join(".gitignore"), "*.log\n").unwrap();
    fs::write(dir.join("clean.txt"), "nothing\n").unwrap();
    (tmp, dir)
}

fn tollgate_in(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> common::Run {
    // Outside any repository: a Repo only provides the hermetic environment.
    let env = Repo::new();
    let mut c = env.command(tollgate_bin());
    c.args(args)
        .current_dir(dir)
        .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap());
    if let Some(input) = stdin {
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        return common::Run {
            what: format!("tollgate {args:?}"),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        };
    }
    Repo::output(c)
}

#[test]
fn a_directory_outside_a_repository_is_scanned_respecting_gitignore() {
    let (_tmp, dir) = plain_dir();
    let run = tollgate_in(&dir, &["scan"], None);
    run.code(1)
        .stderr_has("`src/deep/settings.py:1`")
        .stderr_has("`.env:1`")
        .stderr_lacks("ignored.log")
        .never_shows(AWS_KEY);
    let all = tollgate_in(&dir, &["scan", "--no-ignore"], None);
    all.code(1).stderr_has("`ignored.log:1`");

    // JSON and SARIF as for `check`.
    let json = tollgate_in(&dir, &["scan", "--format", "json", "src"], None);
    json.code(1);
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["event"], "scan");
    assert_eq!(v["result"], "blocked");
    assert_eq!(v["findings"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(v["findings"][0]["location"]["path"], "src/deep/settings.py");
    let sarif = tollgate_in(&dir, &["scan", "--format", "sarif", "clean.txt"], None);
    sarif.success();
    assert!(sarif.out().contains("\"version\": \"2.1.0\""), "{sarif}");

    // A clean file passes; a missing one is an error.
    tollgate_in(&dir, &["scan", "clean.txt"], None)
        .success()
        .stderr_has("no findings");
    tollgate_in(&dir, &["scan", "missing.txt"], None)
        .code(2)
        .stderr_has("cannot read `missing.txt`");
}

#[test]
fn stdin_is_scanned_with_path_rules_applied_to_its_name() {
    let (_tmp, dir) = plain_dir();
    tollgate_in(&dir, &["scan", "-"], Some(&aws_line()))
        .code(1)
        .stderr_has("`<stdin>:1`");
    tollgate_in(&dir, &["scan", "-"], Some("hello\n")).success();
    tollgate_in(&dir, &["scan", "-", "clean.txt"], Some("x"))
        .code(2)
        .stderr_has("cannot be combined");
    // Path rules apply to the name given.
    fs::write(
        dir.join("policy.toml"),
        "[[forbidden-path]]\nid = \"no-pem\"\npaths = [\"**/*.pem\"]\n",
    )
    .unwrap();
    tollgate_in(
        &dir,
        &[
            "--policy",
            "policy.toml",
            "scan",
            "-",
            "--stdin-name",
            "keys/a.pem",
        ],
        Some("hello\n"),
    )
    .code(1)
    .stderr_has("`no-pem`");
    tollgate_in(
        &dir,
        &[
            "--policy",
            "policy.toml",
            "scan",
            "-",
            "--stdin-name",
            "keys/a.txt",
        ],
        Some("hello\n"),
    )
    .success();
}

#[test]
fn inside_a_repository_its_policy_applies() {
    let repo = Repo::new();
    repo.policy("[[forbidden-path]]\nid = \"no-pem\"\npaths = [\"**/*.pem\"]\n");
    repo.write("keys/server.pem", "not really\n");
    repo.tollgate(&["scan"]).code(1).stderr_has("`no-pem`");
}

#[test]
fn errors_outside_a_repository_name_no_libgit2_codes() {
    let (_tmp, dir) = plain_dir();
    for args in [
        &["check"][..],
        &["doctor"],
        &["install"],
        &["check", "--history"],
    ] {
        let run = tollgate_in(&dir, args, None);
        run.code(2)
            .stderr_has("not a git repository (or any parent up to /): run inside a git repository")
            .stderr_lacks("class=")
            .stderr_lacks("code=");
    }
}

#[test]
fn inline_allow_markers_are_answered_never_honoured() {
    let (_tmp, dir) = plain_dir();
    for marker in ["gitleaks:allow", "tollgate:allow"] {
        tollgate_in(
            &dir,
            &["scan", "-"],
            Some(&format!("key = {AWS_KEY} # {marker}\n")),
        )
        .code(1)
        .stderr_has(&format!("the inline `{marker}` marker is not honoured"))
        .stderr_has("[[allow]] rule");
    }
}
