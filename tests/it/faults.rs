//! Faults: a hook killed at any moment, a file-size limit standing in for a
//! full disk, corrupt notes. Nothing lets a blocker through, nothing is
//! lost, and every failure says what happened.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::{aws_line, mint, tollgate_bin, Repo, AWS_KEY};

fn staged_secret(repo: &Repo) {
    repo.write("cfg.py", aws_line());
    repo.git(&["add", "cfg.py"]).success();
}

/// The token's state in the ledger, read through the CLI (which fails on a
/// torn or corrupt ledger).
fn state(repo: &Repo) -> String {
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    list.success();
    let v: serde_json::Value = serde_json::from_str(&list.out()).expect("the ledger parses");
    v[0]["state"].as_str().unwrap().to_string()
}

/// The pending records of the token's consuming run: those whose
/// consumption time is the ledger's `used_at` (to the millisecond).
fn records_of_the_consumption(repo: &Repo) -> usize {
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    let Some(used_at) = v[0]["used_at"].as_str() else {
        return 0;
    };
    let used_at: chrono::DateTime<chrono::Utc> = used_at.parse().unwrap();
    std::fs::read_dir(repo.git_dir().join("tollgate/pending"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .filter(|e| {
                    let p: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                    // A pending file holds the signed record line.
                    let record: serde_json::Value =
                        serde_json::from_str(p["line"].as_str().unwrap()).unwrap();
                    let consumed: chrono::DateTime<chrono::Utc> =
                        record["consumed"].as_str().unwrap().parse().unwrap();
                    consumed.timestamp_millis() == used_at.timestamp_millis()
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn a_hook_killed_at_any_moment_leaves_a_valid_ledger_and_no_lost_record() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo);
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    let mut consumed_at = None;
    // Kill after 0, 0.5, 2, 4.5 … ms (growing, so that a slow machine still
    // reaches the consumption), until a few runs after it happened.
    for i in 0..80u64 {
        if consumed_at.is_some_and(|c| i > c + 4) {
            break;
        }
        let mut c = repo.command(tollgate_bin());
        c.args(["hook", "pre-commit"])
            .env("TOLLGATE_TOKEN", &token)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_micros(i * i * 500));
        // setsid --wait runs tollgate as its child; kill the whole session.
        let _ = std::process::Command::new("pkill")
            .args(["-KILL", "-s", &child.id().to_string()])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        let s = state(&repo);
        let records = records_of_the_consumption(&repo);
        match s.as_str() {
            // Not consumed (yet): an orphan record of a killed run may exist.
            "ACTIVE" => {}
            "USED" => {
                assert_eq!(
                    records, 1,
                    "iteration {i}: the consumed token's record is lost"
                );
                consumed_at.get_or_insert(i);
            }
            other => panic!("iteration {i}: unexpected state {other}"),
        }
    }
    assert!(
        consumed_at.is_some(),
        "no iteration reached the consumption; the kill window is too short"
    );
    // Orphans of killed runs are dropped by the next flush; the consuming
    // run's record stays (it waits for its commit, which was never made).
    repo.tollgate(&["audit", "log"]).success();
    // (A run killed inside a write leaves only its temporary file, which
    // is never read.)
    let pending = std::fs::read_dir(repo.git_dir().join("tollgate/pending"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(pending, 1, "only the consuming run's record is kept");
    assert!(!repo
        .state_bytes()
        .windows(token.len())
        .any(|w| w == token.as_bytes()));
}

#[test]
fn a_write_that_fails_blocks_with_a_clear_error_and_spends_nothing() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo);
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    // A file-size limit of 1 KiB (with SIGXFSZ ignored, writes fail with
    // EFBIG) stands in for a full disk: the pending record cannot be saved.
    let script = "trap '' XFSZ; ulimit -f 1; exec git commit -qm x";
    let mut c = repo.command("bash");
    c.args(["-c", script]).env("TOLLGATE_TOKEN", &token);
    Repo::output(c)
        .code(1)
        .stderr_has("cannot save the pending audit record")
        .stderr_has("File too large")
        .never_shows(&token)
        .never_shows(AWS_KEY);
    assert_eq!(state(&repo), "ACTIVE", "the token must stay unspent");
    assert!(repo.head().is_none());
    // Without the limit, the same token passes.
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    assert_eq!(state(&repo), "USED");
}

#[test]
fn an_unwritable_state_dir_blocks_with_a_clear_error() {
    let repo = Repo::installed();
    repo.signing_key("author");
    staged_secret(&repo);
    repo.git(&["commit", "-qm", "x"]).code(1);
    let token = mint(&repo, "B1", &[], &[]);
    // `pending` taken by a file: no directory can be made there (this holds
    // even for root, unlike permission bits).
    std::fs::write(repo.git_dir().join("tollgate/pending"), b"").unwrap();
    repo.git_env(&["commit", "-qm", "x"], &[("TOLLGATE_TOKEN", &token)])
        .code(1)
        .stderr_has("cannot save the pending audit record");
    assert_eq!(state(&repo), "ACTIVE");
}

#[test]
fn corrupt_notes_are_reported_not_crashed_on() {
    let repo = Repo::installed().with_remote();
    repo.signing_key("author");
    repo.write("README", "x\n");
    let base = repo.commit_all("base");
    let head = repo.commit_unchecked("cfg.py", aws_line(), "leak");
    // A note that is not a record.
    repo.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-m",
        "{\"v\":1,garbage",
        &head,
    ])
    .success();
    repo.tollgate(&["verify", "--base", &base, "--head", &head])
        .code(1)
        .stderr_has("invalid record on commit")
        .stderr_has("cannot parse audit record")
        .stderr_has("uncovered B1");
    repo.tollgate(&["audit", "log"]).success();
    // A notes ref that points at a blob, not a notes commit.
    let blob = repo
        .git(&["hash-object", "-w", "README"])
        .out()
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/notes/tollgate", &blob])
        .success();
    let r = repo.tollgate(&["verify", "--base", &base, "--head", &head]);
    r.code(2).stderr_has("refs/notes/tollgate");
    assert!(!r.err().contains("panicked"), "{r}");
}

/// A bad revision or range, and a damaged `.git` (unreadable `HEAD`,
/// malformed config, unreadable objects), give an error that names what is
/// wrong, exit 2 and no libgit2 class or code numbers; a history whose
/// objects cannot be read is never reported as clean.
#[test]
fn git_errors_name_no_libgit2_codes_and_damage_never_looks_clean() {
    let plain = |run: &common::Run| {
        run.code(2).stderr_lacks("class=").stderr_lacks("code=");
    };
    let repo = Repo::new();
    let head = repo.commit_unchecked("cfg.py", aws_line(), "add key");
    for (args, says) in [
        (
            &["check", "--range", "nope..HEAD"][..],
            "unknown revision `nope`",
        ),
        (
            &["check", "--range", "HEAD~5..HEAD"],
            "unknown revision `HEAD~5`",
        ),
        (&["check", "--range", "HEAD...main"], "symmetric ranges"),
        (
            &["verify", "--base", "nope", "--head", "HEAD"],
            "unknown revision `nope`",
        ),
        (
            &["baseline", "--reason", "old", "--range", "nope..HEAD"],
            "unknown revision `nope`",
        ),
    ] {
        let run = repo.tollgate(args);
        plain(&run);
        run.stderr_has(says);
    }

    // Damaged copies of the same repository.
    let damaged = |what: &str, damage: &dyn Fn(&std::path::Path)| {
        let copy = repo.tmp.path().join(what);
        let cp = std::process::Command::new("cp")
            .arg("-r")
            .arg(&repo.root)
            .arg(&copy)
            .status()
            .unwrap();
        assert!(cp.success());
        damage(&copy.join(".git"));
        copy
    };
    let head_garbage = damaged("head", &|git| {
        std::fs::write(git.join("HEAD"), "garbage\n").unwrap()
    });
    let bad_config = damaged("config", &|git| {
        std::fs::write(git.join("config"), "[core\nbad").unwrap()
    });
    let bad_objects = damaged("objects", &|git| {
        let mut stack = vec![git.join("objects")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let mut perm = std::fs::metadata(&p).unwrap().permissions();
                    #[allow(clippy::permissions_set_readonly_false)]
                    perm.set_readonly(false);
                    std::fs::set_permissions(&p, perm).unwrap();
                    std::fs::write(&p, "x\n").unwrap();
                }
            }
        }
    });
    for (dir, args, says) in [
        (&head_garbage, &["check"][..], "HEAD"),
        (&bad_config, &["check"], "config"),
        (&bad_config, &["check", "--history"], "config"),
        (&bad_objects, &["check", "--history"], &head[..12]),
        (
            &bad_objects,
            &["check", "--range", &head],
            "unknown revision",
        ),
    ] {
        let run = repo.run_in(dir, tollgate_bin(), args);
        plain(&run);
        run.stderr_has(says).stderr_lacks("no findings");
    }
}
