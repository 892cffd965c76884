//! The README's test command on a fresh clone: `scripts/test` is committed,
//! executable, and `.ci/run` runs exactly it; in the clone, `--check-only`
//! finds every tool the suite needs where the script installs them, and
//! names the script when they are missing. (It does not run the suite
//! again inside the suite.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn this_repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_fresh_clone_has_the_test_script_and_ci_runs_exactly_it() {
    let tmp = tempfile::tempdir().unwrap();
    let clone = tmp.path().join("clone");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--no-local",
            this_repo().to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let mode = git(&clone, &["ls-files", "-s", "scripts/test", ".ci/run"]);
    for line in mode.lines() {
        assert!(line.starts_with("100755 "), "not executable in git: {line}");
    }
    assert_eq!(mode.lines().count(), 2, "{mode}");
    let ci = std::fs::read_to_string(clone.join(".ci/run")).unwrap();
    let commands: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(commands.last(), Some(&"exec scripts/test \"$@\""), "{ci}");
    let readme = std::fs::read_to_string(clone.join("README.md")).unwrap();
    assert!(
        readme.contains("\nscripts/test\n"),
        "the README names the script"
    );

    // Tools missing (an empty target dir): fails, and says what to run.
    let empty = tmp.path().join("empty-target");
    let run = Command::new(clone.join("scripts/test"))
        .arg("--check-only")
        .env("CARGO_TARGET_DIR", &empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("pre-commit framework"), "{err}");
    assert!(err.contains("husky and lefthook"), "{err}");
    assert!(err.contains("run scripts/test"), "{err}");

    // With the tools `scripts/test` installed for this checkout, the clone's
    // script finds them all.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| this_repo().join("target"));
    let run = Command::new(clone.join("scripts/test"))
        .arg("--check-only")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "run `scripts/test` once (the README's test command) to install the tools:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
