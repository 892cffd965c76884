//! tollgate under the real pre-commit framework (https://pre-commit.com).
//!
//! A scratch repository's `.pre-commit-config.yaml` points at this
//! repository (its path, its current `HEAD` commit), so the framework clones
//! it and builds tollgate with `cargo install` exactly as a user's machine
//! would, then runs the hooks of `.pre-commit-hooks.yaml` on real commits and
//! pushes. What is tested is therefore the *committed* `HEAD`, not the
//! working tree.
//!
//! The framework comes from PyPI: `scripts/test` installs it into
//! `target/ci-venv` and exports `TOLLGATE_PRE_COMMIT`. When it is missing the
//! test fails (it never passes without running) and says how to get it.
//!
//! Slow the first time at a given commit (the framework builds tollgate,
//! about a minute or more on two cores); fast afterwards, because
//! `PRE_COMMIT_HOME` and the build directory are kept under `target/`.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{aws_line, Repo, AWS_KEY};

/// This repository (what the scratch repository's config points at).
fn tollgate_repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `pre-commit` executable: `TOLLGATE_PRE_COMMIT`, else the one `scripts/test`
/// puts in `target/ci-venv`.
fn pre_commit_exe() -> PathBuf {
    let from_env = std::env::var_os("TOLLGATE_PRE_COMMIT").filter(|v| !v.is_empty());
    let candidate = from_env
        .map(PathBuf::from)
        .unwrap_or_else(|| tollgate_repo().join("target/ci-venv/bin/pre-commit"));
    assert!(
        candidate.is_file(),
        "the pre-commit framework is not installed at `{}`.\n\
         Run `scripts/test` (the README's test command; it installs pre-commit from PyPI into target/ci-venv), \
         or set TOLLGATE_PRE_COMMIT to a pre-commit executable.",
        candidate.display()
    );
    candidate
}

/// Where cargo and rustup live for the user running the tests (the harness
/// moves `HOME` into the temp dir, so they must be named explicitly).
fn toolchain_env() -> Vec<(String, PathBuf)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let dir = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(default)))
    };
    let mut out = Vec::new();
    if let Some(d) = dir("CARGO_HOME", ".cargo") {
        out.push(("CARGO_HOME".to_string(), d));
    }
    if let Some(d) = dir("RUSTUP_HOME", ".rustup") {
        out.push(("RUSTUP_HOME".to_string(), d));
    }
    // The framework runs `cargo install`: the cargo running these tests
    // comes first on PATH (the framework puts its own tollgate before it).
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let cargo_dir = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|c| c.parent().map(Path::to_path_buf));
    let path = std::env::join_paths(
        cargo_dir
            .into_iter()
            .chain(std::env::split_paths(&inherited)),
    )
    .expect("PATH entries are joinable");
    out.push(("PATH".to_string(), PathBuf::from(path)));
    out
}

/// The commit the scratch config pins, and a note when the working tree
/// has changes that the test therefore does not see.
fn tollgate_head() -> String {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(tollgate_repo())
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let head = git(&["rev-parse", "HEAD"]);
    assert_eq!(
        head.len(),
        40,
        "cannot resolve HEAD of {}",
        tollgate_repo().display()
    );
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]);
    if !dirty.is_empty() {
        eprintln!(
            "note: the framework builds the committed HEAD {head}; uncommitted changes are not tested:\n{dirty}"
        );
    }
    head
}

/// A scratch repository whose hooks are the framework's, configured with the
/// three tollgate hooks at this repository's `HEAD`.
struct Scratch {
    repo: Repo,
    exe: PathBuf,
    env: Vec<(String, String)>,
}

impl Scratch {
    fn new() -> Scratch {
        let exe = pre_commit_exe();
        let head = tollgate_head();
        let target = tollgate_repo().join("target");
        let mut env: Vec<(String, String)> = toolchain_env()
            .into_iter()
            .map(|(k, v)| (k, v.display().to_string()))
            .collect();
        let s = |p: &Path| p.display().to_string();
        env.extend([
            // Kept between runs: the framework's clone and built environment,
            // and cargo's build directory (only tollgate itself is rebuilt
            // when HEAD moves).
            ("PRE_COMMIT_HOME".into(), s(&target.join("pre-commit-home"))),
            (
                "CARGO_TARGET_DIR".into(),
                s(&target.join("pre-commit-build")),
            ),
            // A quicker release build; the hooks' behaviour does not depend on it.
            ("CARGO_PROFILE_RELEASE_LTO".into(), "off".into()),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL".into(), "1".into()),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS".into(), "16".into()),
            // The framework's `cargo install` ignores Cargo.lock; offline, it
            // resolves to the crates already downloaded for this build (the
            // locked versions) and needs no network.
            ("CARGO_NET_OFFLINE".into(), "true".into()),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("PRE_COMMIT_COLOR".into(), "never".into()),
        ]);
        let repo = Repo::new().with_remote();
        repo.write(
            ".pre-commit-config.yaml",
            format!(
                "repos:\n  - repo: {}\n    rev: {head}\n    hooks:\n      - id: tollgate\n      - id: tollgate-push\n      - id: tollgate-post-commit\n",
                tollgate_repo().display()
            ),
        );
        let scratch = Scratch { repo, exe, env };
        // The framework uses the system toolchain only when `cargo --version`
        // works from `/` in this environment; otherwise it would try to
        // download one.
        let mut cargo = scratch.repo.command("cargo");
        cargo.arg("--version").current_dir("/");
        for (k, v) in &scratch.env {
            cargo.env(k, v);
        }
        let cargo = Repo::output(cargo);
        assert!(
            cargo.ok(),
            "cargo is not usable with the framework's environment (PATH, CARGO_HOME, RUSTUP_HOME)\n{cargo}"
        );
        scratch
            .pre_commit(&[
                "install",
                "--hook-type",
                "pre-commit",
                "--hook-type",
                "pre-push",
                "--hook-type",
                "post-commit",
            ])
            .success();
        scratch
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    fn pre_commit(&self, args: &[&str]) -> common::Run {
        let mut c = self.repo.command(&self.exe);
        c.args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        Repo::output(c)
    }

    /// `git args…` with the framework's environment: every git command
    /// that may run a hook goes through here, or the framework would start
    /// over in the temporary `HOME` (and fetch a toolchain there).
    fn git(&self, args: &[&str], extra: &[(&str, &str)]) -> common::Run {
        let env = self.env(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.repo.git_env(args, &env)
    }
}

/// The command a blocked hook's hint names for `override B1` (the text
/// between `hint:` and ` override B1`), unquoted.
fn hinted_command(output: &str) -> String {
    let line = output
        .lines()
        .find(|l| l.starts_with("hint:") && l.contains(" override B1 --reason"))
        .unwrap_or_else(|| panic!("no override hint in:\n{output}"));
    let cmd = line["hint:".len()..]
        .trim_start()
        .split(" override B1")
        .next()
        .unwrap();
    cmd.trim_matches('\'').to_string()
}

/// Runs `exe override args…` in a pseudo-terminal, types the challenge
/// code back, and returns the token printed on stdout.
fn mint_in_pty(repo: &Repo, exe: &str, args: &[&str]) -> String {
    let out = repo.tmp.path().join("override.out");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "'{}' override {} >'{}'",
        exe,
        quoted.join(" "),
        out.display()
    );
    let mut p = repo.pty("sh", &["-c", &script], &[]);
    let (_, code) = p
        .exp_regex("type this code: [A-Z2-9]{6}")
        .expect("the challenge reaches the terminal");
    p.exp_string("> ").expect("a prompt");
    p.send_line(code.trim_start_matches("type this code: "))
        .unwrap();
    p.exp_eof().expect("override ends");
    let stdout = std::fs::read_to_string(out).unwrap_or_default();
    stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("TOLLGATE_TOKEN="))
        .unwrap_or_else(|| panic!("no token on stdout:\n{stdout}"))
        .to_string()
}

#[test]
fn the_framework_runs_tollgate_on_commits_and_pushes() {
    let started = Instant::now();
    let s = Scratch::new();
    let repo = &s.repo;

    // A clean commit passes (and builds tollgate's environment the first time).
    repo.write("README", "hello\n");
    repo.git(&["add", "README", ".pre-commit-config.yaml"])
        .success();
    let first = s.git(&["commit", "-m", "first"], &[]);
    first.success();
    assert!(first.all().contains("tollgate (staged changes)"), "{first}");
    eprintln!(
        "framework environment ready and first commit made in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let base = repo.head().expect("the first commit was made");

    // A staged secret fails, naming the constraint, never showing the secret.
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    let blocked = s.git(&["commit", "-m", "add config"], &[]);
    blocked.code(1).never_shows(AWS_KEY);
    let all = blocked.all();
    assert!(all.contains("aws-access-key-id"), "{blocked}");
    assert!(all.contains("commit blocked"), "{blocked}");
    assert_eq!(repo.head().as_deref(), Some(base.as_str()));
    // The hint names a command that works from the user's shell, where
    // `tollgate` is not on `PATH` (the framework puts its build of tollgate
    // on the hook's `PATH` only): that build, by its full path.
    let hinted = hinted_command(&all);
    assert!(
        hinted.starts_with(
            &s.env(&[])
                .iter()
                .find(|(k, _)| k == "PRE_COMMIT_HOME")
                .unwrap()
                .1
        ) && Path::new(&hinted).is_file(),
        "the hint names `{hinted}`:\n{blocked}"
    );
    let which = repo.run_in(&repo.root, "sh", ["-c", "command -v tollgate"]);
    assert!(!which.ok(), "tollgate is on the test's PATH: {which}");
    for line in all.lines().filter(|l| l.contains("override pending")) {
        assert!(
            line.contains(&format!("`{hinted} override pending`")),
            "{line}"
        );
    }

    // The same secret staged but removed from the file on disk is still
    // blocked: tollgate reads the index, not the working tree.
    repo.write("config.txt", "nothing here\n");
    s.git(&["commit", "-m", "add config"], &[])
        .code(1)
        .never_shows(AWS_KEY);
    assert_eq!(repo.head().as_deref(), Some(base.as_str()));
    repo.git(&["reset", "-q", "--", "config.txt"]).success();

    // An unstaged secret (a modified tracked file and an untracked file) is
    // ignored: the commit of the clean staged change passes.
    repo.write("notes.txt", "plain notes\n");
    repo.git(&["add", "notes.txt"]).success();
    repo.write("notes.txt", format!("plain notes\n{}", aws_line()));
    let clean = s.git(&["commit", "-m", "notes"], &[]);
    clean.success().never_shows(AWS_KEY);
    let tip = repo.head().expect("committed");
    assert_ne!(tip, base);
    repo.write("notes.txt", "plain notes\n");
    std::fs::remove_file(repo.path("config.txt")).unwrap();

    // A first push of `main` passes through `tollgate-push`.
    let pushed = s.git(&["push", "origin", "main"], &[]);
    pushed.success();
    assert!(
        pushed.all().contains("tollgate (push, first ref only)"),
        "{pushed}"
    );
    assert_eq!(repo.remote_ref("main").as_deref(), Some(tip.as_str()));

    // A force push of the first ref is blocked by the pack's constraint.
    // (`--no-verify` skips pre-commit; the framework's post-commit runs.)
    s.git(
        &["commit", "-q", "--amend", "--no-verify", "-m", "rewritten"],
        &[],
    )
    .success();
    let forced = s.git(&["push", "--force", "origin", "main"], &[]);
    forced.code(1);
    assert!(forced.all().contains("no-force-push-protected"), "{forced}");
    assert_eq!(repo.remote_ref("main").as_deref(), Some(tip.as_str()));

    // An override works through the framework: the challenge is answered on
    // the terminal, and `TOLLGATE_TOKEN` reaches the hook the framework runs.
    // Consuming a token needs a signing key for the audit record.
    let (key, _) = repo.ssh_keygen("author");
    repo.git(&["config", "tollgate.signingKey", key.to_str().unwrap()])
        .success();
    // The override is minted with the command the hint named.
    let token = mint_in_pty(repo, &hinted, &["B1", "--reason", "history rewrite agreed"]);
    let passed = s.git(
        &["push", "--force", "origin", "main"],
        &[("TOLLGATE_TOKEN", &token)],
    );
    passed.success().never_shows(&token);
    assert_eq!(repo.remote_ref("main"), repo.head());
    // The signed record went to the remote before the branch.
    let remote = repo.remote.as_ref().unwrap().to_str().unwrap().to_string();
    let head = repo.head().unwrap();
    repo.git(&[
        "--git-dir",
        &remote,
        "notes",
        "--ref=refs/notes/tollgate",
        "show",
        &head,
    ])
    .success();

    // A warning's question reaches the terminal through the framework too.
    repo.write(
        ".tollgate.toml",
        "extends = [\"builtin:recommended\"]\n\n[[secret]]\nid = \"todo-token\"\nseverity = \"warn\"\nregex = 'TODO_TOKEN_[0-9]+'\n",
    );
    repo.write("todo.txt", "TODO_TOKEN_7\n");
    repo.git(&["add", "todo.txt"]).success();
    let env = s.env(&[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut p = repo.pty("git", &["commit", "-q", "-m", "todo"], &env);
    p.exp_string("Proceed with the commit? [y/N]")
        .expect("the warning's question reaches the terminal");
    p.send_line("y").unwrap();
    p.exp_eof().expect("the commit ends");
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s"]).out().trim(),
        "todo",
        "the acknowledged commit is made"
    );

    eprintln!(
        "pre-commit framework test took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
