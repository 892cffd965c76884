//! The first run in a repository: `tollgate init` then `tollgate doctor`,
//! with a real SSH key made by `ssh-keygen`; and `tollgate completions`.

use crate::common;

use std::fs;

use common::Repo;

/// Makes an ed25519 key in `HOME/.ssh` and configures it as git's SSH
/// signing key; returns the public key line.
fn with_signing_key(repo: &Repo) -> String {
    let key = repo.home.join(".ssh/id_ed25519");
    fs::create_dir_all(key.parent().unwrap()).unwrap();
    repo.run_in(
        repo.tmp.path(),
        "ssh-keygen",
        [
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "author laptop",
            "-f",
            key.to_str().unwrap(),
        ],
    )
    .success();
    repo.git(&["config", "gpg.format", "ssh"]).success();
    repo.git(&["config", "user.signingkey", "~/.ssh/id_ed25519.pub"])
        .success();
    fs::read_to_string(key.with_extension("pub")).unwrap()
}

#[test]
fn init_then_doctor_on_a_fresh_repository() {
    let repo = Repo::new();
    let public = with_signing_key(&repo);

    // Before anything: the gating hooks are missing (exit 1), each with a fix.
    let before = repo.tollgate(&["doctor"]);
    before
        .code(1)
        .stderr_has("error: tollgate is not fully set up here");
    let out = before.out();
    assert!(
        out.contains("FAIL  pre-commit hook: not installed"),
        "{before}"
    );
    assert!(
        out.contains("FAIL  pre-push hook: not installed"),
        "{before}"
    );
    assert!(out.contains("fix: tollgate install"), "{before}");
    assert!(out.contains("warn  policy:"), "{before}");
    assert!(out.contains("fix: tollgate init"), "{before}");

    let init = repo.tollgate(&["init"]);
    init.success()
        .stderr_has("tollgate: wrote `.tollgate.toml`")
        .stderr_has("tollgate: wrote `.tollgate/allowed_signers`")
        .stderr_has("next steps:")
        .stderr_has("tollgate install")
        .stderr_has("git add .tollgate.toml .tollgate/allowed_signers");
    let policy = fs::read_to_string(repo.path(".tollgate.toml")).unwrap();
    assert!(
        policy.contains("\nextends = [\"builtin:recommended\"]\n"),
        "{policy}"
    );
    assert!(policy.starts_with("# tollgate policy"), "{policy}");
    let signers = fs::read_to_string(repo.path(".tollgate/allowed_signers")).unwrap();
    let key_data = public.split_whitespace().nth(1).unwrap();
    assert!(
        signers.contains(&format!(
            "author@example.com namespaces=\"tollgate\" ssh-ed25519 {key_data}\n"
        )),
        "{signers}"
    );
    repo.tollgate(&["policy", "check"]).success();

    // The same file is never overwritten without --force.
    fs::write(repo.path(".tollgate.toml"), "# mine\n").unwrap();
    let again = repo.tollgate(&["init"]);
    again
        .code(2)
        .stderr_has("`.tollgate.toml` exists; left as it is")
        .stderr_has("nothing written");
    assert_eq!(
        fs::read_to_string(repo.path(".tollgate.toml")).unwrap(),
        "# mine\n"
    );
    repo.tollgate(&["init", "--force"]).success();
    assert_eq!(
        fs::read_to_string(repo.path(".tollgate.toml")).unwrap(),
        policy
    );

    repo.tollgate(&["install"]).success();
    let doctor = repo.tollgate(&["doctor"]);
    doctor.success();
    let out = doctor.out();
    for line in [
        "ok    pre-commit hook: installed and current",
        "ok    pre-push hook: installed and current",
        "ok    post-commit hook: installed and current",
        "ok    policy: valid:",
        "ok    signing key: SHA256:",
        "ok    allowed signers: `.tollgate/allowed_signers` line 4 lets `author@example.com` sign with SHA256:",
        "warn  audit notes: `refs/notes/tollgate` is not here",
    ] {
        assert!(out.contains(line), "missing {line:?}\n{doctor}");
    }
    assert!(!out.contains("FAIL"), "{doctor}");

    // A notes ref fetched or written locally is seen.
    repo.write("README", "hello\n");
    repo.commit_all("first");
    repo.git(&["notes", "--ref", "tollgate", "add", "-m", "{}"])
        .success();
    let doctor = repo.tollgate(&["doctor"]);
    assert!(
        doctor
            .out()
            .contains("ok    audit notes: `refs/notes/tollgate` is present"),
        "{doctor}"
    );

    // A shim from another binary is reported as not current; a hook that
    // is not executable fails.
    let hook = repo.git_dir().join("hooks/pre-push");
    let text = fs::read_to_string(&hook).unwrap();
    fs::write(
        &hook,
        text.replace("tollgate_bin='", "tollgate_bin='/elsewhere"),
    )
    .unwrap();
    let stale = repo.tollgate(&["doctor"]);
    stale.success();
    assert!(
        stale
            .out()
            .contains("warn  pre-push hook: installed by another tollgate binary"),
        "{stale}"
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).unwrap();
    let off = repo.tollgate(&["doctor"]);
    off.code(1);
    assert!(
        off.out()
            .contains("FAIL  pre-push hook: installed but not executable"),
        "{off}"
    );
}

#[test]
fn init_without_a_signing_key_writes_the_policy_and_says_how_to_add_one() {
    let repo = Repo::new();
    let init = repo.tollgate(&["init"]);
    init.success()
        .stderr_has("warning: no SSH signing key to list in `.tollgate/allowed_signers`")
        .stderr_has("git config gpg.format ssh");
    assert!(repo.path(".tollgate.toml").exists());
    assert!(!repo.path(".tollgate/allowed_signers").exists());

    // Once a key is configured, init again adds the signer list and keeps the policy.
    with_signing_key(&repo);
    let again = repo.tollgate(&["init"]);
    again
        .success()
        .stderr_has("tollgate: wrote `.tollgate/allowed_signers`")
        .stderr_has("`.tollgate.toml` exists; left as it is");

    let doctor = repo.tollgate(&["doctor"]);
    assert!(doctor.out().contains("ok    allowed signers:"), "{doctor}");
}

#[test]
fn doctor_reports_an_invalid_policy_as_a_failure() {
    let repo = Repo::installed();
    repo.policy("[[secret]]\nid = \"x\"\nregx = \"a\"\n");
    let run = repo.tollgate(&["doctor"]);
    run.code(1).stderr_has("unknown field `regx`");
    assert!(run.out().contains("FAIL  policy:"), "{run}");
    assert!(
        run.out()
            .contains("ok    pre-commit hook: installed and current"),
        "{run}"
    );
}

#[test]
fn doctor_accepts_hooks_run_by_the_pre_commit_framework() {
    let repo = Repo::new();
    repo.write(
        ".pre-commit-config.yaml",
        "repos:\n  - repo: /somewhere/tollgate\n    rev: v0.1.0\n    hooks: [{id: tollgate}, {id: tollgate-push}]\n",
    );
    let hook = "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\nexec pre-commit hook-impl \"$@\"\n";
    for name in ["pre-commit", "pre-push", "post-commit"] {
        Repo::write_script(&repo.git_dir().join("hooks").join(name), hook);
    }
    let run = repo.tollgate(&["doctor"]);
    run.success();
    let out = run.out();
    assert!(
        out.contains("ok    pre-commit hook: run by the pre-commit framework (`tollgate` in"),
        "{run}"
    );
    assert!(
        out.contains("ok    pre-push hook: run by the pre-commit framework (`tollgate-push` in"),
        "{run}"
    );
    // The config does not name tollgate-post-commit: that hook is not tollgate's.
    assert!(
        out.contains("warn  post-commit hook: `.git/hooks/post-commit` is not tollgate's"),
        "{run}"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    let repo = Repo::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = repo.tollgate(&["completions", shell]);
        run.success();
        let out = run.out();
        assert!(out.contains("tollgate"), "{shell}: {out}");
        assert!(
            out.contains("doctor"),
            "{shell} completions lack subcommands"
        );
    }
    repo.tollgate(&["completions", "tcsh"]).code(2);
}

#[test]
fn colour_follows_the_terminal_no_color_and_color() {
    let repo = Repo::new();
    repo.write("config.txt", common::aws_line());
    repo.git(&["add", "config.txt"]).success();
    let bin = common::tollgate_bin();
    let bin = bin.to_str().unwrap();
    let screen = |args: &[&str], env: &[(&str, &str)]| {
        let mut p = repo.pty(bin, args, env);
        p.exp_eof().expect("tollgate ends")
    };
    // On a terminal, `auto` paints; NO_COLOR turns it off; `--color never` too.
    assert!(screen(&["check"], &[]).contains("\x1b[1;31m"));
    assert!(!screen(&["check"], &[("NO_COLOR", "1")]).contains('\x1b'));
    assert!(!screen(&["--color", "never", "check"], &[]).contains('\x1b'));
    // Not a terminal: plain, unless `--color always`.
    let piped = repo.tollgate(&["check"]);
    piped.code(1);
    assert!(!piped.err().contains('\x1b'), "{piped}");
    let always = repo.tollgate(&["--color", "always", "check"]);
    assert!(always.err().contains("\x1b[1;31m"), "{always}");
    // Machine output never carries colour codes.
    let json = repo.tollgate(&["--color", "always", "check", "--format", "json"]);
    assert!(!json.out().contains('\x1b'), "{json}");
}
