//! tollgate beside the hook managers teams already use, with the real tools:
//! husky 9, husky 8, husky 4 and lefthook from the npm registry
//! (`scripts/test` installs them into `target/ci-node`, the older huskies
//! as `husky8` and `husky4` into `target/ci-node/old`), overcommit as the files it lays out (it is a
//! Ruby gem, and the suite needs no Ruby), and a committed `core.hooksPath`
//! directory. For
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

/// The `node_modules` of the older huskies: `old/node_modules` beside the
/// npm tools' (their own prefix, so that husky 8's `husky` command does not
/// replace husky 9's).
fn old_node_modules() -> PathBuf {
    node_modules()
        .parent()
        .expect("node_modules has a parent")
        .join("old/node_modules")
}

/// An older husky, installed under an npm alias (`husky8`, `husky4`);
/// missing, the test fails and names the script.
fn old_husky(name: &str) -> PathBuf {
    let dir = old_node_modules().join(name);
    assert!(
        dir.join("package.json").exists(),
        "`{name}` is not installed under `{}`.\nRun `scripts/test` (the README's test command; \
         it installs it from npm into target/ci-node).",
        dir.display()
    );
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

/// Under husky (v5 and later): plain `install` refuses, prints husky's
/// entry and changes nothing (`generated`, the `.husky/_` files, and `own`,
/// husky's pre-commit script); doctor asks for `--integrate`, which adds the
/// entry, leaves `.husky/_` as it was, and makes doctor healthy for every
/// hook. `husky` is how tollgate names the version (`husky (v9)`), `dir` the
/// hooks directory it names.
fn husky_install_refuses_then_integrates(
    repo: &Repo,
    path: &str,
    husky: &str,
    dir: &str,
    own: &str,
    generated: &[(PathBuf, Vec<u8>)],
) {
    let run = tollgate(repo, path, &["install"]);
    run.code(1)
        .stderr_has(&format!("{husky} owns the hooks in `{dir}`"))
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
    tollgate(repo, path, &["doctor"])
        .code(1)
        .stdout_has("tollgate install --integrate");

    tollgate(repo, path, &["install", "--integrate"])
        .success()
        .stderr_has("added tollgate's entry to `.husky/pre-commit`");
    assert_eq!(
        snapshot(&repo.path(".husky/_")),
        generated,
        "generated files untouched"
    );
    let doctor = tollgate(repo, path, &["doctor"]);
    doctor.success();
    for h in ["pre-commit", "pre-push", "post-commit"] {
        assert!(
            doctor.out().contains(&format!(
                "ok    {h} hook: run by {husky} (`.husky/{h}` runs tollgate)"
            )),
            "{doctor}"
        );
    }
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
    husky_install_refuses_then_integrates(&repo, &path, "husky (v9)", ".husky/_", own, &generated);
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

/// A husky command that stops the commit when `block-me` is staged.
const HUSKY_OWN: &str =
    "test ! -e block-me || { echo 'husky hook: block-me is staged' >&2; exit 1; }";

#[test]
fn husky_8_keeps_its_hooks_and_runs_tollgate_from_its_own_scripts() {
    let repo = Repo::new();
    let path = path_with_tools(&repo);
    let bin = old_husky("husky8").join("lib/bin.js");
    let bin = bin.to_str().unwrap();
    // What `npx husky install` and `npx husky add` do in husky 5 to 8.
    run_tool(&repo, &path, "node", &[bin, "install"]).success();
    assert_eq!(
        git(&repo, &path, &["config", "core.hooksPath"])
            .out()
            .trim(),
        ".husky"
    );
    assert!(repo.path(".husky/_/husky.sh").is_file());
    run_tool(
        &repo,
        &path,
        "node",
        &[bin, "add", ".husky/pre-commit", HUSKY_OWN],
    )
    .success();
    let own = fs::read_to_string(repo.path(".husky/pre-commit")).unwrap();
    assert!(
        own.contains("_/husky.sh") && own.contains(HUSKY_OWN),
        "{own}"
    );
    let generated = snapshot(&repo.path(".husky/_"));

    husky_install_refuses_then_integrates(
        &repo,
        &path,
        "husky (v5 to v8)",
        ".husky",
        &own,
        &generated,
    );
    both_gate(&repo, &path, "husky hook: block-me is staged");

    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".husky/pre-commit")).unwrap(),
        own
    );
    assert!(!repo.path(".husky/pre-push").exists());
    assert!(!repo.path(".husky/post-commit").exists());
    assert_eq!(snapshot(&repo.path(".husky/_")), generated);
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

/// `package.json` with husky 4's `hooks`.
fn husky4_package(hooks: &[(&str, String)]) -> String {
    let hooks: serde_json::Map<String, serde_json::Value> = hooks
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
        .collect();
    let v = serde_json::json!({"name": "app", "private": true, "husky": {"hooks": hooks}});
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

#[test]
fn husky_4_keeps_its_scripts_in_git_hooks_and_runs_tollgate_from_package_json() {
    let repo = Repo::new().with_remote();
    let path = path_with_tools(&repo);
    let package = husky4_package(&[("pre-commit", HUSKY_OWN.to_string())]);
    repo.write("package.json", &package);
    repo.write(".gitignore", "node_modules/\n");
    // husky 4 installs itself from its npm `install` script, run in its own
    // package directory inside the project: the same here, with the
    // project's node_modules a copy of husky 4's (husky 4 as `husky`).
    old_husky("husky4");
    let modules = repo.path("node_modules");
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(old_node_modules())
        .arg(&modules)
        .status()
        .unwrap();
    assert!(cp.success());
    fs::rename(modules.join("husky4"), modules.join("husky")).unwrap();
    let _ = fs::remove_file(modules.join(".bin/husky-run"));
    std::os::unix::fs::symlink("../husky/bin/run.js", modules.join(".bin/husky-run")).unwrap();
    let root = repo.root.to_str().unwrap().to_string();
    let env = [
        ("PATH", path.as_str()),
        ("INIT_CWD", root.as_str()),
        ("npm_config_user_agent", "npm/9.2.0 node/v18.0.0 linux x64"),
    ];
    let mut c = repo.command("node");
    c.args(["husky", "install"])
        .current_dir(modules.join("husky"));
    for (k, v) in env {
        c.env(k, v);
    }
    let installed = Repo::output(c);
    installed.success();
    assert!(installed.out().contains("husky > Done"), "{installed}");
    let hooks = repo.git_dir().join("hooks");
    let pre_commit = fs::read_to_string(hooks.join("pre-commit")).unwrap();
    assert!(
        pre_commit.contains("# husky") && pre_commit.contains("husky.sh"),
        "{pre_commit}"
    );
    let generated = snapshot(&hooks);

    // Plain install: refuses, changes nothing, prints the `package.json`
    // entry; `--integrate` is not offered (tollgate does not rewrite it).
    let run = tollgate(&repo, &path, &["install"]);
    run.code(1)
        .stderr_has("husky (v4) owns the hooks in `.git/hooks`")
        .stderr_has("add the entry above to `package.json` by hand")
        .stderr_lacks("--integrate");
    assert!(
        run.out()
            .contains("\"pre-commit\": \"tollgate hook --no-chain pre-commit $HUSKY_GIT_PARAMS\""),
        "{run}"
    );
    assert!(
        run.out().contains("\"pre-push\": \"echo \\\"$HUSKY_GIT_STDIN\\\" | tollgate hook --no-chain pre-push $HUSKY_GIT_PARAMS\""),
        "{run}"
    );
    assert_eq!(snapshot(&hooks), generated);
    assert_eq!(
        fs::read_to_string(repo.path("package.json")).unwrap(),
        package
    );
    tollgate(&repo, &path, &["install", "--integrate"])
        .code(2)
        .stderr_has("husky v4 keeps its hooks in `package.json`");
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.code(1).stdout_has("by hand");
    assert!(!doctor.out().contains("--integrate"), "{doctor}");

    // A pre-push entry that drops husky's copy of git's input would check
    // an empty push: doctor does not count it.
    repo.write(
        "package.json",
        husky4_package(&[(
            "pre-push",
            "tollgate hook --no-chain pre-push $HUSKY_GIT_PARAMS".to_string(),
        )]),
    );
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.code(1);
    assert!(
        doctor.out().contains("FAIL  pre-push hook: `.git/hooks/pre-push` is not tollgate's: it is husky (v4)'s, and `package.json` does not run tollgate for it"),
        "{doctor}"
    );

    // The entry added by hand, as printed.
    let with_tollgate = husky4_package(&[
        (
            "pre-commit",
            format!("{HUSKY_OWN} && tollgate hook --no-chain pre-commit $HUSKY_GIT_PARAMS"),
        ),
        (
            "pre-push",
            "echo \"$HUSKY_GIT_STDIN\" | tollgate hook --no-chain pre-push $HUSKY_GIT_PARAMS"
                .to_string(),
        ),
        (
            "post-commit",
            "tollgate hook --no-chain post-commit $HUSKY_GIT_PARAMS".to_string(),
        ),
    ]);
    repo.write("package.json", &with_tollgate);
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.success();
    for h in ["pre-commit", "pre-push", "post-commit"] {
        assert!(
            doctor.out().contains(&format!(
                "ok    {h} hook: run by husky (v4) (`package.json` runs tollgate)"
            )),
            "{doctor}"
        );
    }
    git(&repo, &path, &["add", "package.json", ".gitignore"]).success();
    both_gate(&repo, &path, "husky hook: block-me is staged");

    // A push passes husky's stdin on to tollgate: a pushed secret blocks.
    git(&repo, &path, &["push", "-q", "origin", "main"]).success();
    let pushed = repo.head();
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
    assert_eq!(repo.remote_ref("main"), pushed);

    // tollgate wrote nothing of husky's: uninstall leaves it all.
    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(snapshot(&hooks), generated);
}

/// What overcommit lays out (`overcommit --install`): its hook script as
/// `.git/hooks/overcommit-hook`, and each hook a copy of it (newer
/// versions) or a symbolic link to it (older ones). The script here is a
/// stand-in of the same shape; the suite does not run Ruby.
fn overcommit_layout(repo: &Repo) -> PathBuf {
    let hooks = repo.git_dir().join("hooks");
    fs::create_dir_all(&hooks).unwrap();
    let script = "#!/usr/bin/env ruby\n\n# Entrypoint for Overcommit hook integration (stand-in for the tests).\nhook_type = File.basename($0)\nrequire 'overcommit'\nexit(Overcommit::HookRunner.new.run ? 0 : 65)\n";
    Repo::write_script(&hooks.join("overcommit-hook"), script);
    Repo::write_script(&hooks.join("pre-commit"), script);
    Repo::write_script(&hooks.join("post-commit"), script);
    std::os::unix::fs::symlink("overcommit-hook", hooks.join("pre-push")).unwrap();
    hooks
}

#[test]
fn overcommit_keeps_its_hooks_and_gets_tollgate_in_its_config() {
    let repo = Repo::new();
    let path = path_with_tools(&repo);
    let config = "PreCommit:\n  TrailingWhitespace:\n    enabled: true\n";
    repo.write(".overcommit.yml", config);
    let hooks = overcommit_layout(&repo);
    let laid_out = snapshot(&hooks);

    let run = tollgate(&repo, &path, &["install"]);
    run.code(1)
        .stderr_has("overcommit owns the hooks in `.git/hooks`")
        .stderr_has("tollgate install --integrate");
    for (section, hook) in [
        ("PreCommit", "pre-commit"),
        ("PrePush", "pre-push"),
        ("PostCommit", "post-commit"),
    ] {
        assert!(
            run.out().contains(&format!(
                "{section}:\n  Tollgate:\n    enabled: true\n    description: 'tollgate'\n    required_executable: 'tollgate'\n    command: ['tollgate', 'hook', '--no-chain', '{hook}']\n"
            )),
            "{run}"
        );
    }
    assert_eq!(snapshot(&hooks), laid_out);
    assert_eq!(
        fs::read_to_string(repo.path(".overcommit.yml")).unwrap(),
        config
    );
    tollgate(&repo, &path, &["doctor"])
        .code(1)
        .stdout_has("tollgate install --integrate");

    tollgate(&repo, &path, &["install", "--integrate"])
        .success()
        .stderr_has("added tollgate's entry to `.overcommit.yml`")
        .stderr_has("overcommit --sign");
    let written = fs::read_to_string(repo.path(".overcommit.yml")).unwrap();
    assert!(
        written.contains("TrailingWhitespace:\n    enabled: true"),
        "{written}"
    );
    assert!(
        written.contains("command: ['tollgate', 'hook', '--no-chain', 'pre-push']"),
        "{written}"
    );
    assert_eq!(snapshot(&hooks), laid_out, "overcommit's hooks untouched");
    let doctor = tollgate(&repo, &path, &["doctor"]);
    doctor.success();
    for h in ["pre-commit", "pre-push", "post-commit"] {
        assert!(
            doctor.out().contains(&format!(
                "ok    {h} hook: run by overcommit (`.overcommit.yml` runs tollgate)"
            )),
            "{doctor}"
        );
    }

    tollgate(&repo, &path, &["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".overcommit.yml")).unwrap(),
        config
    );
    assert_eq!(snapshot(&hooks), laid_out);
}
