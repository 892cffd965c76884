//! Commits without a terminal (an IDE's commit button): warnings follow
//! `[settings] warnings-without-terminal`, and every hint names a command
//! that works there (`git commit` takes no `--yes`; the override hint names
//! a tollgate that can be run).

use crate::common;

use common::{aws_line, tollgate_bin, Repo};

const WARN_POLICY: &str =
    "[[forbidden-path]]\nid = \"no-logs\"\nseverity = \"warn\"\npaths = [\"*.log\"]\n";

#[test]
fn warnings_without_a_terminal_block_by_default_and_the_hint_works_in_git() {
    let repo = Repo::installed();
    repo.policy(WARN_POLICY);
    repo.write("build.log", "x\n");
    repo.git(&["add", "build.log"]).success();
    repo.git(&["commit", "-m", "log"])
        .code(1)
        .stderr_has("no terminal to ask")
        .stderr_has("`TOLLGATE_YES=1 git commit …` (git commit has no `--yes`)")
        .stderr_has("warnings-without-terminal = \"print\"");
    assert_eq!(repo.head(), None);
    repo.git_env(&["commit", "-q", "-m", "log"], &[("TOLLGATE_YES", "1")])
        .success();
}

#[test]
fn warnings_without_terminal_print_lets_an_ide_commit_and_still_blocks_blockers() {
    let repo = Repo::installed();
    repo.policy(&format!(
        "extends = [\"builtin:recommended\"]\n[settings]\nwarnings-without-terminal = \"print\"\n{WARN_POLICY}"
    ));
    repo.write("build.log", "x\n");
    repo.git(&["add", "build.log"]).success();
    repo.git(&["commit", "-q", "-m", "log"])
        .success()
        .stderr_has("warning `no-logs`")
        .stderr_has("lets the commit proceed");
    // A blocker still blocks.
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    repo.git(&["commit", "-m", "secret"])
        .code(1)
        .stderr_has("aws-access-key-id");
    // An invalid value is a policy error with its position.
    repo.policy("[settings]\nwarnings-without-terminal = \"ask\"\n");
    repo.tollgate(&["policy", "check"])
        .code(2)
        .stderr_has(".tollgate.toml:2:29");
}

#[test]
fn the_override_hint_names_a_tollgate_that_runs() {
    let repo = Repo::installed();
    repo.write("config.txt", aws_line());
    repo.git(&["add", "config.txt"]).success();
    // The test PATH has no tollgate: the hint gives the binary's path.
    let exe = tollgate_bin().canonicalize().unwrap();
    repo.git(&["commit", "-m", "secret"])
        .code(1)
        .stderr_has(&format!("    {} override B1 --reason", exe.display()));
    // With tollgate on PATH, its name.
    let bin = repo.tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(&exe, bin.join("tollgate")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    repo.git_env(&["commit", "-m", "secret"], &[("PATH", &path)])
        .code(1)
        .stderr_has("hint:     tollgate override B1 --reason");
}
