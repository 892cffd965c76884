//! The GitHub Action's shell logic (`scripts/action-verify.sh`, run by
//! `action.yml`), run as GitHub runs it: the variables and event payload file
//! a runner sets, a shallow CI checkout of a real bare remote, and the release
//! asset made by `scripts/release-package.sh` from the binary under test, so
//! the checksum (and signature) checks run for real.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{aws_line, commit_secret_with_override, tollgate_bin, Repo, Run};

const ZERO: &str = "0000000000000000000000000000000000000000";
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// What the script picks for `RUNNER_OS=Linux`, `RUNNER_ARCH=X64`.
const TARGET: &str = "x86_64-unknown-linux-musl";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn asset() -> String {
    format!("tollgate-v{VERSION}-{TARGET}.tar.gz")
}

/// A local "release": the archive of the binary under test and SHA256SUMS,
/// as the release workflow makes them.
fn release_dir(repo: &Repo) -> PathBuf {
    let dir = repo.tmp.path().join("release");
    let r = repo.run_in(
        repo.tmp.path(),
        "bash",
        [
            script("release-package.sh").to_str().unwrap(),
            tollgate_bin().to_str().unwrap(),
            TARGET,
            VERSION,
            dir.to_str().unwrap(),
        ],
    );
    r.success();
    let line = fs::read_to_string(dir.join(format!("{}.sha256", asset()))).unwrap();
    fs::write(dir.join("SHA256SUMS"), line).unwrap();
    dir
}

/// A shallow clone of the remote, as `actions/checkout` leaves it (depth 1,
/// no notes), at `sha`.
fn ci_checkout(repo: &Repo, sha: &str) -> PathBuf {
    let remote = repo.remote.as_ref().unwrap();
    let ci = repo.tmp.path().join("ci");
    let _ = fs::remove_dir_all(&ci);
    repo.run_in(
        repo.tmp.path(),
        "git",
        [
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            &format!("file://{}", remote.display()),
            "ci",
        ],
    )
    .success();
    repo.run_in(&ci, "git", ["fetch", "-q", "--depth", "1", "origin", sha])
        .success();
    repo.run_in(&ci, "git", ["checkout", "-q", "--detach", sha])
        .success();
    ci
}

struct Action<'a> {
    repo: &'a Repo,
    ci: PathBuf,
    env: Vec<(String, String)>,
}

impl<'a> Action<'a> {
    fn new(repo: &'a Repo, ci: PathBuf, event: &str, payload: serde_json::Value) -> Self {
        let runner = repo.tmp.path().join("runner");
        fs::create_dir_all(&runner).unwrap();
        let event_path = runner.join("event.json");
        fs::write(&event_path, payload.to_string()).unwrap();
        let output = runner.join("output");
        let _ = fs::remove_file(&output);
        let env = [
            ("GITHUB_EVENT_NAME", event.to_string()),
            ("GITHUB_EVENT_PATH", event_path.display().to_string()),
            ("GITHUB_WORKSPACE", ci.display().to_string()),
            ("GITHUB_OUTPUT", output.display().to_string()),
            ("RUNNER_OS", "Linux".into()),
            ("RUNNER_ARCH", "X64".into()),
            ("RUNNER_TEMP", runner.display().to_string()),
            ("TOLLGATE_VERSION", format!("v{VERSION}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Action { repo, ci, env }
    }

    fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.into()));
        self
    }

    fn run(&self) -> Run {
        let mut c = self.repo.command("bash");
        c.arg(script("action-verify.sh")).current_dir(&self.ci);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        Repo::output(c)
    }

    /// The `key=value` lines the script wrote to `GITHUB_OUTPUT`.
    fn output(&self, key: &str) -> Option<String> {
        let path = self.repo.tmp.path().join("runner/output");
        fs::read_to_string(path).ok()?.lines().find_map(|l| {
            l.strip_prefix(&format!("{key}="))
                .map(std::string::ToString::to_string)
        })
    }
}

fn push_payload(before: &str, after: &str, r#ref: &str) -> serde_json::Value {
    serde_json::json!({
        "ref": r#ref,
        "before": before,
        "after": after,
        "created": before == ZERO,
        "deleted": after == ZERO,
        "forced": false,
        "repository": { "default_branch": "main" },
    })
}

/// A repository with a remote and one clean commit pushed on `main`.
fn project() -> (Repo, String) {
    let repo = Repo::new().with_remote();
    repo.write("README.md", "hello\n");
    let first = repo.commit_all("first");
    repo.git(&["push", "-q", "origin", "main"]).success();
    (repo, first)
}

#[test]
fn a_clean_push_passes_with_the_checksummed_release_binary() {
    let (repo, first) = project();
    repo.write("src.txt", "more\n");
    let second = repo.commit_all("second");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let release = release_dir(&repo);
    let ci = ci_checkout(&repo, &second);

    let action = Action::new(
        &repo,
        ci.clone(),
        "push",
        push_payload(&first, &second, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    let r = action.run();
    r.success()
        .stderr_has(&format!("checksum of `{}` matches", asset()))
        .stderr_has("unshallowing the checkout")
        .stderr_has(&format!(
            "tollgate verify --old {first} --new {second} --ref refs/heads/main --base {first}"
        ))
        .stderr_has(&format!("using tollgate {VERSION} ("));
    assert_eq!(action.output("result").as_deref(), Some("pass"));
    // The binary it ran is the unpacked release asset, not the one under test.
    let used = action.output("tollgate").unwrap();
    assert!(
        used.ends_with(&format!("tollgate-v{VERSION}-{TARGET}/tollgate")),
        "{used}"
    );
    // The checkout is no longer shallow: the range's history is there.
    let shallow = repo.run_in(&ci, "git", ["rev-parse", "--is-shallow-repository"]);
    assert_eq!(shallow.out().trim(), "false");
}

#[test]
fn a_pushed_secret_without_a_record_is_blocked() {
    let (repo, first) = project();
    let bad = repo.commit_unchecked("deploy.txt", aws_line(), "add key");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let release = release_dir(&repo);
    let ci = ci_checkout(&repo, &bad);
    let action = Action::new(
        &repo,
        ci,
        "push",
        push_payload(&first, &bad, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    action
        .run()
        .code(1)
        .stderr_has("aws-access-key-id")
        .stderr_has("no audit records")
        .never_shows(common::AWS_KEY);
    assert_eq!(action.output("result").as_deref(), Some("blocked"));
}

#[test]
fn a_tampered_release_binary_is_refused_and_never_run() {
    let (repo, first) = project();
    let bad = repo.commit_unchecked("deploy.txt", aws_line(), "add key");
    repo.git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    let release = release_dir(&repo);

    // Swap the archive for one whose `tollgate` passes everything (and leaves
    // a mark when it runs); SHA256SUMS stays the published one.
    let mark = repo.tmp.path().join("fake-ran");
    let stage = repo.tmp.path().join("evil");
    let inner = stage.join(format!("tollgate-v{VERSION}-{TARGET}"));
    fs::create_dir_all(&inner).unwrap();
    Repo::write_script(
        &inner.join("tollgate"),
        &format!("#!/bin/sh\ntouch '{}'\nexit 0\n", mark.display()),
    );
    repo.run_in(
        &stage,
        "tar",
        [
            "-czf",
            release.join(asset()).to_str().unwrap(),
            &format!("tollgate-v{VERSION}-{TARGET}"),
        ],
    )
    .success();

    let ci = ci_checkout(&repo, &bad);
    let action = Action::new(
        &repo,
        ci,
        "push",
        push_payload(&first, &bad, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    action
        .run()
        .code(2)
        .stderr_has(&format!("checksum mismatch for `{}`", asset()))
        .stderr_has("refusing to run it");
    assert!(!mark.exists(), "the tampered binary ran");
    assert_eq!(action.output("result"), None);

    // An archive the checksum file does not list is refused too.
    let sums = release.join("SHA256SUMS");
    fs::write(&sums, "0000  tollgate-v9.9.9-other.tar.gz\n").unwrap();
    action
        .run()
        .code(2)
        .stderr_has("is not listed in the checksum file");
    assert!(!mark.exists());
}

#[test]
fn the_checksum_file_must_carry_the_release_signature_when_a_signer_list_is_given() {
    let (repo, first) = project();
    repo.write("src.txt", "more\n");
    let second = repo.commit_all("second");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let release = release_dir(&repo);
    let (key, public) = repo.ssh_keygen("release");
    let signers = repo.tmp.path().join("release-signers");
    fs::write(
        &signers,
        format!("tollgate-release namespaces=\"tollgate-release\" {public}\n"),
    )
    .unwrap();
    let sign = |key: &Path| {
        let _ = fs::remove_file(release.join("SHA256SUMS.sig"));
        repo.run_in(
            &release,
            "ssh-keygen",
            [
                "-Y",
                "sign",
                "-f",
                key.to_str().unwrap(),
                "-n",
                "tollgate-release",
                "SHA256SUMS",
            ],
        )
        .success();
    };
    let ci = ci_checkout(&repo, &second);
    let action = Action::new(
        &repo,
        ci,
        "push",
        push_payload(&first, &second, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string())
    .set("TOLLGATE_RELEASE_SIGNERS", signers.display().to_string());

    // Unsigned: refused (the .sig is missing).
    action
        .run()
        .code(2)
        .stderr_has("release asset `SHA256SUMS.sig` not found");

    // Signed by the project's release key: passes.
    sign(&key);
    action
        .run()
        .success()
        .stderr_has("Good \"tollgate-release\" signature")
        .stderr_lacks("signature is not checked");

    // An attacker who controls the download rewrites SHA256SUMS for a
    // binary of theirs and signs with a key of their own: refused.
    let (other, _) = repo.ssh_keygen("attacker");
    let sums = release.join("SHA256SUMS");
    let text = fs::read_to_string(&sums).unwrap();
    fs::write(&sums, format!("{text}# tampered\n")).unwrap();
    sign(&other);
    action
        .run()
        .code(2)
        .stderr_has("the signature of the checksum file does not verify");

    // The same namespace matters: a signature made for git (`-n git`) by
    // the release key does not verify either.
    fs::write(&sums, &text).unwrap();
    let _ = fs::remove_file(release.join("SHA256SUMS.sig"));
    repo.run_in(
        &release,
        "ssh-keygen",
        [
            "-Y",
            "sign",
            "-f",
            key.to_str().unwrap(),
            "-n",
            "git",
            "SHA256SUMS",
        ],
    )
    .success();
    action
        .run()
        .code(2)
        .stderr_has("the signature of the checksum file does not verify");

    // Without a signer list the script says it did not check.
    let unsigned = Action::new(
        &repo,
        repo.tmp.path().join("ci"),
        "push",
        push_payload(&first, &second, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    unsigned
        .run()
        .success()
        .stderr_has("signature is not checked");
}

#[test]
fn a_pull_request_is_judged_from_its_merge_base_and_reports_go_to_files() {
    let (repo, _first) = project();
    repo.git(&["checkout", "-q", "-b", "feature"]).success();
    let bad = repo.commit_unchecked("deploy.txt", aws_line(), "add key");
    repo.git(&["push", "-q", "--no-verify", "origin", "feature"])
        .success();
    repo.git(&["checkout", "-q", "main"]).success();
    repo.write("main.txt", "main moves on\n");
    let main = repo.commit_all("main moves");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let base = repo.rev("main~1").unwrap();
    let release = release_dir(&repo);
    let ci = ci_checkout(&repo, &bad);
    let out = repo.tmp.path().join("reports");
    let payload = serde_json::json!({
        "pull_request": { "base": { "sha": main, "ref": "main" }, "head": { "sha": bad, "ref": "feature" } },
    });
    let action = Action::new(&repo, ci, "pull_request", payload)
        .set("TOLLGATE_RELEASE_DIR", release.display().to_string())
        .set("TOLLGATE_FORMATS", "human,json,sarif")
        .set("TOLLGATE_OUTPUT_DIR", out.display().to_string());
    action
        .run()
        .code(1)
        .stderr_has(&format!("tollgate verify --base {base} --head {bad}"))
        .stderr_has("aws-access-key-id");
    assert_eq!(action.output("result").as_deref(), Some("blocked"));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("tollgate-verify.json")).unwrap())
            .unwrap();
    assert_eq!(json["result"], "fail");
    let sarif: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("tollgate-verify.sarif")).unwrap())
            .unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
    assert_eq!(
        action.output("sarif-file").as_deref(),
        Some(out.join("tollgate-verify.sarif").to_str().unwrap())
    );
}

#[test]
fn a_new_branch_is_judged_from_where_it_forked_from_the_default_branch() {
    let (repo, first) = project();
    repo.git(&["checkout", "-q", "-b", "topic"]).success();
    let bad = repo.commit_unchecked("deploy.txt", aws_line(), "add key");
    repo.git(&["push", "-q", "--no-verify", "origin", "topic"])
        .success();
    let release = release_dir(&repo);
    let ci = ci_checkout(&repo, &bad);
    let action = Action::new(
        &repo,
        ci,
        "push",
        push_payload(ZERO, &bad, "refs/heads/topic"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    action
        .run()
        .code(1)
        .stderr_has(&format!(
            "tollgate verify --old {ZERO} --new {bad} --ref refs/heads/topic --base {first}"
        ))
        .stderr_has("aws-access-key-id");
}

#[test]
fn a_covered_blocker_passes_once_the_action_fetched_the_pushed_records() {
    let repo = Repo::installed().with_remote();
    repo.signing_key("alice");
    let first = repo.commit_all("allow alice's signing key");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let covered = commit_secret_with_override(&repo, "deploy.txt");
    repo.git(&["push", "-q", "origin", "main"]).success();
    let release = release_dir(&repo);
    let ci = ci_checkout(&repo, &covered);
    // The checkout has no records of its own.
    let notes = repo.run_in(
        &ci,
        "git",
        ["rev-parse", "-q", "--verify", "refs/notes/tollgate"],
    );
    assert!(!notes.ok());
    let action = Action::new(
        &repo,
        ci,
        "push",
        push_payload(&first, &covered, "refs/heads/main"),
    )
    .set("TOLLGATE_RELEASE_DIR", release.display().to_string());
    action
        .run()
        .success()
        .stderr_has("fetched refs/notes/tollgate")
        .stderr_has("covered");
    assert_eq!(action.output("result").as_deref(), Some("pass"));
}

#[test]
fn wrong_events_and_missing_inputs_are_errors() {
    let (repo, first) = project();
    let ci = ci_checkout(&repo, &first);
    let bin = tollgate_bin().display().to_string();

    Action::new(
        &repo,
        ci.clone(),
        "workflow_dispatch",
        serde_json::json!({}),
    )
    .set("TOLLGATE_BIN", bin.clone())
    .run()
    .code(2)
    .stderr_has("runs on push and pull_request events, not `workflow_dispatch`");

    Action::new(
        &repo,
        ci.clone(),
        "push",
        serde_json::json!({ "ref": "refs/heads/main" }),
    )
    .set("TOLLGATE_BIN", bin.clone())
    .run()
    .code(2)
    .stderr_has("the push event has no before/after/ref");

    // No version (the action used at a branch, not a release tag) and no
    // source build asked for.
    Action::new(
        &repo,
        ci.clone(),
        "push",
        push_payload(&first, &first, "refs/heads/main"),
    )
    .set("TOLLGATE_VERSION", "main")
    .run()
    .code(2)
    .stderr_has("`main` is not a release version");

    // A runner with no release binary.
    Action::new(
        &repo,
        ci.clone(),
        "push",
        push_payload(&first, &first, "refs/heads/main"),
    )
    .set("RUNNER_ARCH", "ARM")
    .set("TOLLGATE_RELEASE_DIR", "/nonexistent")
    .run()
    .code(2)
    .stderr_has("no tollgate release binary for Linux/ARM");

    // An anchor needs a tollgate that knows `verify --anchor`.
    let anchor = Action::new(
        &repo,
        ci,
        "push",
        push_payload(&first, &first, "refs/heads/main"),
    )
    .set("TOLLGATE_BIN", bin)
    .set("TOLLGATE_ANCHOR", first.clone());
    let r = anchor.run();
    let help = Repo::output({
        let mut c = repo.command(tollgate_bin());
        c.args(["verify", "--help"]);
        c
    });
    if help.out().contains("--anchor") {
        r.success();
    } else {
        r.code(2).stderr_has("has no `verify --anchor`");
    }
}
