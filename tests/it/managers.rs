//! tollgate beside the hook managers teams already use, with the real tools:
//! husky 9 and lefthook from the npm registry (`scripts/test` installs them
//! into `target/ci-node`), and a committed `core.hooksPath` directory. For
//! each: `install` leaves the manager's files alone and prints its entry,
//! `--integrate` writes it, the manager's own hook still blocks, tollgate
//! still blocks, `doctor` is healthy, and `uninstall` puts every file back.
//! (The pre-commit framework's own test is `tests/it/precommit_framework.rs`.)

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{aws_line, tollgate_bin, Repo};

/// The npm tools: `TOLLGATE_NODE_MODULES`, else `target/ci-node/node_modules`.
/// Missing tools fail the test (never skip) and name the script.
fn node_modules() -> PathBuf {
    let dir = std::env::var_os("TOLLGATE_NODE_MODULES")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-node/node_modules")
        });
    for tool in ["husky", "lefthook"] {
        assert!(
            dir.join(".bin").join(tool).exists(),
            "`{tool}` is not installed under `{}`.\nRun `scripts/test` (the README's test command; \
             it installs husky and lefthook from npm into target/ci-node), \
             or set TOLLGATE_NODE_MODULES to a node_modules directory that has them.",
            dir.display()
        );
    }
    dir
}

/// `PATH` for commands that run the managers: the npm tools and a
/// directory whose `tollgate` is the binary under test (a manager's entry
/// runs `tollgate` from `PATH`, as on a developer's machine).
fn path_with_tools(repo: &Repo) -> String {
    let bin = repo.tmp.path().join("bin");
    if !bin.exists() {
        fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(tollgate_bin(), bin.join("tollgate")).unwrap();
    }
    let inherited = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    let rest: Vec<&str> = inherited
        .split(':')
        .filter(|d| !Path::new(d).join("tollgate").exists())
        .collect();
    format!(
        "{}:{}:{}",
        bin.display(),
        node_modules().join(".bin").display(),
        rest.join(":")
    )
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn run_tool(repo: &Repo, path: &str, program: &str, args: &[&str]) -> common::Run {
    let mut c = repo.command(program);
    c.args(args).env("PATH", path);
    Repo::output(c)
}

fn git(repo: &Repo, path: &str, args: &[&str]) -> common::Run {
    repo.git_env(args, &[("PATH", path)])
}

fn tollgate(repo: &Repo, path: &str, args: &[&str]) -> common::Run {
    repo.tollgate_env(args, &[("PATH", path)])
}

/// The manager's own hook blocks (a file `block-me` is staged), tollgate
/// blocks a secret, and a clean commit passes.
fn both_gate(repo: &Repo, path: &str, manager_says: &str) {
    repo.write("a.txt", "clean\n");
    git(repo, path, &["add", "a.txt"]).success();
    git(repo, path, &["commit", "-q", "-m", "clean"]).success();

    repo.write("block-me", "x\n");
    git(repo, path, &["add", "block-me"]).success();
    git(repo, path, &["commit", "-m", "theirs"])
        .code(1)
        .stderr_has(manager_says);
    git(repo, path, &["rm", "-q", "--cached", "block-me"]).success();
    fs::remove_file(repo.path("block-me")).unwrap();

    repo.write("config.txt", aws_line());
    git(repo, path, &["add", "config.txt"]).success();
    git(repo, path, &["commit", "-m", "secret"])
        .code(1)
        .stderr_has("aws-access-key-id");
    git(repo, path, &["rm", "-q", "--cached", "config.txt"]).success();
}

#[test]
fn husky_9_keeps_its_hooks_and_runs_tollgate_from_its_own_scripts() {
    let repo = Repo::new();
    let path = path_with_tools(&repo);
    run_tool(&repo, &path, "husky", &[]).success();
    assert_eq!(
        git(&repo, &path, &["config", "core.hooksPath"])
            .out()
            .trim(),
        ".husky/_"
    );
    let own = "test ! -e block-me || { echo 'husky hook: block-me is staged' >&2; exit 1; }\n";
    repo.write(".husky/pre-commit", own);
    let generated = snapshot(&repo.path(".husky/_"));

    // Plain install: refuses, changes nothing, prints husky's entry.
    let run = tollgate(&repo, &path, &["install"]);
    run.code(1)
        .stderr_has("husky (v9) owns the hooks in `.husky/_`")
        .stderr_has("tollgate install --integrate");
    assert!(
        run.out()
            .contains(".husky/pre-commit:  tollgate hook --no-chain pre-commit \"$@\" || exit $?"),
        "{run}"
    );
    assert_eq!(snapshot(&repo.path(".husky/_")), generated);
    assert_eq!(
        fs::read_to_string(repo.path(".husky/pre-commit")).unwrap(),
        own
    );
    tollgate(&repo, &path, &["doctor"])
        .code(1)
        .stdout_has("tollgate install --integrate");

    tollgate(&repo, &path, &["install", "--integrate"])
        .success()
        .stderr_has("added tollgate's entry to `.husky/pre-commit`");
    assert_eq!(
        snapshot(&repo.path(".husky/_")),
        generated,
        "generated files untouched"
    );
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.success();
    for h in ["pre-commit", "pre-push", "post-commit"] {
        assert!(
            doctor.out().contains(&format!(
                "ok    {h} hook: run by husky (v9) (`.husky/{h}` runs tollgate)"
            )),
            "{doctor}"
        );
    }
    both_gate(&repo, &path, "husky hook: block-me is staged");

    // `npx husky` (every `npm install`) regenerates `.husky/_`: tollgate stays.
    run_tool(&repo, &path, "husky", &[]).success();
    repo.write("config.txt", aws_line());
    git(&repo, &path, &["add", "config.txt"]).success();
    git(&repo, &path, &["commit", "-m", "secret"])
        .code(1)
        .stderr_has("aws-access-key-id");
    git(&repo, &path, &["rm", "-q", "--cached", "config.txt"]).success();

    // A second integrate is a no-op.
    tollgate(&repo, &path, &["install", "--integrate"])
        .success()
        .stderr_has("nothing to install");

    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".husky/pre-commit")).unwrap(),
        own
    );
    assert!(!repo.path(".husky/pre-push").exists());
    assert!(!repo.path(".husky/post-commit").exists());
    assert_eq!(snapshot(&repo.path(".husky/_")), generated);
    // husky still blocks; tollgate no longer runs.
    repo.write("block-me", "x\n");
    git(&repo, &path, &["add", "block-me"]).success();
    git(&repo, &path, &["commit", "-m", "theirs"])
        .code(1)
        .stderr_has("husky hook: block-me is staged");
    git(&repo, &path, &["rm", "-q", "--cached", "block-me"]).success();
    fs::remove_file(repo.path("block-me")).unwrap();
    repo.write("config.txt", aws_line());
    git(&repo, &path, &["add", "config.txt"]).success();
    git(&repo, &path, &["commit", "-q", "-m", "no gate"]).success();
}

#[test]
fn husky_9_pre_push_entry_passes_gits_input_to_tollgate_and_to_the_rest_of_the_script() {
    let repo = Repo::new().with_remote();
    let path = path_with_tools(&repo);
    run_tool(&repo, &path, "husky", &[]).success();
    let marker = repo.tmp.path().join("pushed-lines");
    repo.write(".husky/pre-push", format!("cat > '{}'\n", marker.display()));
    tollgate(&repo, &path, &["install", "--integrate"]).success();
    repo.write("a.txt", "one\n");
    git(&repo, &path, &["add", "a.txt"]).success();
    git(&repo, &path, &["commit", "-q", "-m", "one"]).success();
    git(&repo, &path, &["push", "-q", "origin", "main"]).success();
    let seen = fs::read_to_string(&marker).unwrap();
    assert!(seen.starts_with("refs/heads/main "), "{seen:?}");

    // A commit carrying a secret (made with the hooks skipped) cannot be pushed.
    repo.write("config.txt", aws_line());
    git(&repo, &path, &["add", "config.txt"]).success();
    git(
        &repo,
        &path,
        &["commit", "-q", "--no-verify", "-m", "secret"],
    )
    .success();
    git(&repo, &path, &["push", "origin", "main"])
        .code(1)
        .stderr_has("aws-access-key-id");
}

#[test]
fn lefthook_keeps_its_hooks_and_runs_tollgate_from_its_config() {
    let repo = Repo::new();
    let path = path_with_tools(&repo);
    let config = "pre-commit:\n  commands:\n    own:\n      run: \"test ! -e block-me || { echo 'lefthook hook: block-me is staged'; exit 1; }\"\n";
    repo.write("lefthook.yml", config);
    run_tool(&repo, &path, "lefthook", &["install"]).success();
    let hooks = repo.git_dir().join("hooks");
    let generated = snapshot(&hooks);
    assert!(fs::read_to_string(hooks.join("pre-commit"))
        .unwrap()
        .contains("lefthook"));

    let run = tollgate(&repo, &path, &["install"]);
    run.code(1)
        .stderr_has("lefthook owns the hooks in `.git/hooks`");
    assert!(
        run.out()
            .contains("run: tollgate hook --no-chain pre-push {1} {2}"),
        "{run}"
    );
    assert_eq!(snapshot(&hooks), generated);

    tollgate(&repo, &path, &["install", "--integrate"])
        .success()
        .stderr_has("added tollgate's entry to `lefthook.yml`")
        .stderr_has("lefthook install");
    // lefthook reads its config as it runs; `lefthook install` adds the
    // hooks the config now names.
    run_tool(&repo, &path, "lefthook", &["install"]).success();
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.success();
    for h in ["pre-commit", "pre-push", "post-commit"] {
        assert!(
            doctor.out().contains(&format!(
                "ok    {h} hook: run by lefthook (`lefthook.yml` runs tollgate)"
            )),
            "{doctor}"
        );
    }
    both_gate(&repo, &path, "lefthook hook: block-me is staged");

    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path("lefthook.yml")).unwrap(),
        config
    );
    // lefthook still blocks with its own command; tollgate no longer runs.
    repo.write("block-me", "x\n");
    git(&repo, &path, &["add", "block-me"]).success();
    git(&repo, &path, &["commit", "-m", "theirs"])
        .code(1)
        .stderr_has("lefthook hook: block-me is staged");
    git(&repo, &path, &["rm", "-q", "--cached", "block-me"]).success();
    fs::remove_file(repo.path("block-me")).unwrap();
    repo.write("config.txt", aws_line());
    git(&repo, &path, &["add", "config.txt"]).success();
    git(&repo, &path, &["commit", "-q", "-m", "no gate"]).success();
}

#[test]
fn a_committed_hooks_directory_is_not_rewritten_without_force() {
    let repo = Repo::new();
    let path = path_with_tools(&repo);
    repo.git(&["config", "core.hooksPath", ".githooks"])
        .success();
    let own = "#!/bin/sh\ntest ! -e block-me || { echo 'team hook: block-me is staged' >&2; exit 1; }\nexit 0\n";
    Repo::write_script(&repo.path(".githooks/pre-commit"), own);
    repo.git(&["add", ".githooks/pre-commit"]).success();
    repo.git(&["commit", "-q", "-m", "team hooks"]).success();

    let run = tollgate(&repo, &path, &["install"]);
    run.code(1)
        .stderr_has("the committed hooks directory `.githooks` owns the hooks")
        .stderr_has("tollgate install --force");
    assert_eq!(
        fs::read_to_string(repo.path(".githooks/pre-commit")).unwrap(),
        own
    );
    assert!(!repo.path(".githooks/pre-push").exists());

    // --integrate: one line at the top of the committed hook (before its
    // `exit 0`), with no machine path in it.
    tollgate(&repo, &path, &["install", "--integrate"]).success();
    let new = fs::read_to_string(repo.path(".githooks/pre-commit")).unwrap();
    assert!(!new.contains(tollgate_bin().to_str().unwrap()), "{new}");
    assert!(
        new.lines()
            .nth(1)
            .unwrap()
            .starts_with("tollgate hook --no-chain pre-commit"),
        "{new}"
    );
    tollgate(&repo, &path, &["doctor"]).success();
    both_gate(&repo, &path, "team hook: block-me is staged");
    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".githooks/pre-commit")).unwrap(),
        own
    );

    // --force: the shim goes in, with a warning, and uninstall restores the file.
    tollgate(&repo, &path, &["install", "--force"])
        .success()
        .stderr_has("is committed; --force replaces it");
    assert!(fs::read_to_string(repo.path(".githooks/pre-commit"))
        .unwrap()
        .contains("tollgate-managed-hook"));
    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".githooks/pre-commit")).unwrap(),
        own
    );
    assert_eq!(repo.git(&["status", "--porcelain", ".githooks"]).out(), "");
}
