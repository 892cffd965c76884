//! `scripts/ci-verify.sh`, the shell of `examples/github-actions.yml`, fed
//! what each GitHub Actions event gives (`GITHUB_EVENT_NAME` and a payload
//! at `GITHUB_EVENT_PATH`) in a fresh CI clone of a bare remote, as
//! `actions/checkout` with `fetch-depth: 0` makes it. Every case passes
//! when its blockers are covered and fails (exit 1, never 2) when not.

use crate::common;

use std::path::PathBuf;

use common::{aws_line, commit_secret_with_override, mint, tollgate_bin, Repo, Run};
use serde_json::json;

const ZERO: &str = "0000000000000000000000000000000000000000";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/ci-verify.sh")
}

/// A developer clone with hooks, a signing key in the committed signer
/// list, and `main` pushed. The remote serves any commit by sha, as
/// GitHub does (a force-pushed old tip included).
fn team() -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    let remote = dev.remote.clone().unwrap();
    dev.git(&[
        "--git-dir",
        remote.to_str().unwrap(),
        "config",
        "uploadpack.allowAnySHA1InWant",
        "true",
    ])
    .success();
    dev.signing_key("alice");
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

/// Runs the recipe for one event in a fresh CI clone named `name`.
fn ci(dev: &Repo, name: &str, event: &str, payload: serde_json::Value) -> Run {
    // Through the transport, as `actions/checkout` fetches (a clone of a
    // local path would copy every object, unreachable old tips included).
    let remote = dev.remote.clone().unwrap();
    let url = format!("file://{}", remote.display());
    dev.run_in(dev.tmp.path(), "git", ["clone", "-q", &url, name])
        .success();
    let ci = Repo {
        tmp: std::rc::Rc::clone(&dev.tmp),
        root: dev.tmp.path().join(name),
        home: dev.home.clone(),
        remote: Some(remote),
    };
    let path = dev.tmp.path().join(format!("{name}.event.json"));
    std::fs::write(&path, payload.to_string()).unwrap();
    let mut c = ci.command("sh");
    c.arg(script())
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &path)
        .env("TOLLGATE", tollgate_bin());
    let r = Repo::output(c);
    assert!(
        !r.err().contains("unknown revision"),
        "an ordinary event must never fail on a missing revision\n{r}"
    );
    assert_ne!(
        r.code,
        Some(2),
        "an ordinary event must never be an error\n{r}"
    );
    r
}

fn push_event(ref_name: &str, before: &str, after: &str, forced: bool) -> serde_json::Value {
    json!({
        "ref": ref_name,
        "before": before,
        "after": after,
        "forced": forced,
        "created": before == ZERO,
        "deleted": after == ZERO,
        "repository": { "default_branch": "main" },
    })
}

#[test]
fn a_force_push_passes_when_overridden_and_fails_when_not() {
    let (dev, _) = team();
    dev.write("a.txt", "one\n");
    let one = dev.commit_all("one");
    dev.git(&["push", "-q", "origin", "main"]).success();
    dev.write("a.txt", "rewritten\n");
    dev.git(&["add", "a.txt"]).success();
    dev.git(&["commit", "-q", "--amend", "-m", "rewritten"])
        .success();
    let rewritten = dev.head().unwrap();
    // Skipping the hook: the old tip is gone from the remote's branches.
    dev.git(&["push", "-q", "-f", "--no-verify", "origin", "main"])
        .success();
    ci(
        &dev,
        "ci1",
        "push",
        push_event("refs/heads/main", &one, &rewritten, true),
    )
    .code(1)
    .stderr_has("uncovered B1  `no-force-push-protected` at `refs/heads/main`");

    // The next rewrite goes through the hook with a token.
    dev.write("a.txt", "rewritten again\n");
    dev.git(&["add", "a.txt"]).success();
    dev.git(&["commit", "-q", "--amend", "-m", "again"])
        .success();
    let again = dev.head().unwrap();
    dev.git(&["push", "-q", "-f", "origin", "main"]).code(1);
    let token = mint(&dev, "B1", &[], &[]);
    dev.git_env(
        &["push", "-q", "-f", "origin", "main"],
        &[("TOLLGATE_TOKEN", &token)],
    )
    .success();
    ci(
        &dev,
        "ci2",
        "push",
        push_event("refs/heads/main", &rewritten, &again, true),
    )
    .success()
    .stderr_has("covered    B1  `no-force-push-protected`")
    .stderr_has(&format!("anchor {}", &rewritten[..12]));
}

#[test]
fn a_new_branch_and_a_tag_are_judged_from_the_default_branch() {
    let (dev, base) = team();
    dev.git(&["checkout", "-q", "-b", "topic"]).success();
    let leak = dev.commit_unchecked("leak.py", aws_line(), "leak");
    dev.git(&["push", "-q", "--no-verify", "origin", "topic"])
        .success();
    ci(
        &dev,
        "ci1",
        "push",
        push_event("refs/heads/topic", ZERO, &leak, false),
    )
    .code(1)
    .stderr_has("uncovered B1  `aws-access-key-id`")
    .stderr_has(&format!("anchor {}", &base[..12]));

    dev.git(&["checkout", "-q", "-b", "covered", "main"])
        .success();
    let covered = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "covered"]).success();
    ci(
        &dev,
        "ci2",
        "push",
        push_event("refs/heads/covered", ZERO, &covered, false),
    )
    .success()
    .stderr_has("covered    B1  `aws-access-key-id`");

    // Tags: an annotated tag on the uncovered commit, one on the covered.
    dev.git(&["tag", "-a", "-m", "v1", "v1", &leak]).success();
    dev.git(&["tag", "-a", "-m", "v2", "v2", &covered])
        .success();
    dev.git(&["push", "-q", "--no-verify", "origin", "v1", "v2"])
        .success();
    let tag = |t: &str| dev.git(&["rev-parse", t]).out().trim().to_string();
    ci(
        &dev,
        "ci3",
        "push",
        push_event("refs/tags/v1", ZERO, &tag("v1"), false),
    )
    .code(1)
    .stderr_has("uncovered B1  `aws-access-key-id`");
    ci(
        &dev,
        "ci4",
        "push",
        push_event("refs/tags/v2", ZERO, &tag("v2"), false),
    )
    .success();
}

#[test]
fn an_orphan_branch_is_judged_whole_by_the_default_branch() {
    let (dev, _) = team();
    dev.git(&["checkout", "-q", "--orphan", "lonely"]).success();
    let leak = dev.commit_unchecked("leak.py", aws_line(), "orphan leak");
    dev.git(&["push", "-q", "--no-verify", "origin", "lonely"])
        .success();
    ci(
        &dev,
        "ci1",
        "push",
        push_event("refs/heads/lonely", ZERO, &leak, false),
    )
    .code(1)
    .stderr_has("shares no history with `main`")
    .stderr_has("uncovered B1  `aws-access-key-id`");

    dev.git(&["checkout", "-q", "--orphan", "island", "main"])
        .success();
    let covered = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "island"]).success();
    ci(
        &dev,
        "ci2",
        "push",
        push_event("refs/heads/island", ZERO, &covered, false),
    )
    .success()
    .stderr_has("covered    B1  `aws-access-key-id`");
}

/// A pull request from a fork: the contributor's branch and records are
/// on the fork; GitHub puts the head into the base repository as
/// `refs/pull/<n>/head`.
#[test]
fn a_pull_request_from_a_fork_needs_no_secret_and_reads_the_forks_records() {
    let (dev, base) = team();
    let remote = dev.remote.clone().unwrap();
    let fork = dev.tmp.path().join("fork.git");
    dev.run_in(
        dev.tmp.path(),
        "git",
        [
            "clone",
            "-q",
            "--bare",
            remote.to_str().unwrap(),
            "fork.git",
        ],
    )
    .success();
    dev.git(&["remote", "add", "fork", fork.to_str().unwrap()])
        .success();
    let pr = |n: u32, head: &str| {
        json!({
            "number": n,
            "pull_request": {
                "base": { "sha": base, "repo": { "clone_url": remote } },
                "head": { "sha": head, "repo": { "clone_url": fork } },
            },
            "repository": { "default_branch": "main" },
        })
    };
    dev.git(&["checkout", "-q", "-b", "feature"]).success();
    let covered = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "fork", "feature"]).success();
    dev.git(&[
        "push",
        "-q",
        "--no-verify",
        "origin",
        "feature:refs/pull/1/head",
    ])
    .success();
    // The base repository has no record: they are on the fork.
    ci(&dev, "ci1", "pull_request", pr(1, &covered))
        .success()
        .stderr_has("covered    B1  `aws-access-key-id`")
        .stderr_has(&format!("anchor {}", &base[..12]));

    dev.git(&["checkout", "-q", "-b", "sneaky", "main"])
        .success();
    let leak = dev.commit_unchecked("leak.py", aws_line(), "leak");
    dev.git(&["push", "-q", "--no-verify", "fork", "sneaky"])
        .success();
    dev.git(&[
        "push",
        "-q",
        "--no-verify",
        "origin",
        "sneaky:refs/pull/2/head",
    ])
    .success();
    ci(&dev, "ci2", "pull_request", pr(2, &leak))
        .code(1)
        .stderr_has("uncovered B1  `aws-access-key-id`");
}

/// Squash and rebase merges write new commits on `main`; the records made
/// on the pull request's commits carry over when the change is the same.
#[test]
fn squash_and_rebase_merges_carry_records_of_the_same_change_only() {
    let (dev, _) = team();
    // The pull request: a covered secret and an ordinary commit.
    dev.git(&["checkout", "-q", "-b", "feature"]).success();
    let covered = commit_secret_with_override(&dev, "config.py");
    dev.write("b.txt", "more\n");
    dev.commit_all("more");
    dev.git(&["push", "-q", "origin", "feature:refs/pull/1/head"])
        .success();
    // Meanwhile main moves on, so a rebase rewrites the commits.
    dev.git(&["checkout", "-q", "main"]).success();
    dev.write("c.txt", "main moves\n");
    dev.commit_all("main moves");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let main_before = dev.head().unwrap();
    let no_hooks = ["-c", "core.hooksPath=/dev/null"];
    let run = |args: &[&str]| {
        let mut all = no_hooks.to_vec();
        all.extend_from_slice(args);
        dev.git(&all).success();
    };

    // Squash merge, as GitHub does it: one new commit on main.
    run(&["merge", "-q", "--squash", "feature"]);
    run(&["commit", "-q", "-m", "Feature (#1)"]);
    let squashed = dev.head().unwrap();
    run(&["push", "-q", "--no-verify", "origin", "main"]);
    ci(
        &dev,
        "ci1",
        "push",
        push_event("refs/heads/main", &main_before, &squashed, false),
    )
    .success()
    .stderr_has("covered    B1  `aws-access-key-id`")
    .stderr_has(&format!("carried from commit {}", &covered[..12]));

    // Rebase merge: the pull request's commits replayed onto main.
    run(&["reset", "-q", "--hard", &main_before]);
    run(&[
        "rebase",
        "-q",
        "--onto",
        &main_before,
        "feature~2",
        "feature",
    ]);
    let rebased = dev.head().unwrap();
    assert_ne!(dev.rev("HEAD~1").unwrap(), covered, "the rebase rewrote it");
    run(&["checkout", "-q", "main"]);
    run(&["merge", "-q", "--ff-only", "feature"]);
    run(&["push", "-q", "-f", "--no-verify", "origin", "main"]);
    ci(
        &dev,
        "ci2",
        "push",
        push_event("refs/heads/main", &squashed, &rebased, true),
    )
    .code(1) // the forced update of main itself is a blocker…
    .stderr_has("covered    B1  `aws-access-key-id`") // …the carried secret is not
    .stderr_has("uncovered B2  `no-force-push-protected`")
    .stderr_has(&format!("carried from commit {}", &covered[..12]));
    ci(
        &dev,
        "ci3",
        "push",
        push_event("refs/heads/main", &main_before, &rebased, false),
    )
    .success()
    .stderr_has("carried from commit");

    // A squash of a pull request whose secret nobody approved stays
    // uncovered: no record of another change carries.
    run(&["checkout", "-q", "-b", "other", &main_before]);
    dev.commit_unchecked("other.py", aws_line().replace("3TUV", "3TUW"), "other leak");
    run(&[
        "push",
        "-q",
        "--no-verify",
        "origin",
        "other:refs/pull/2/head",
    ]);
    run(&["checkout", "-q", "main"]);
    run(&["reset", "-q", "--hard", &main_before]);
    run(&["merge", "-q", "--squash", "other"]);
    run(&["commit", "-q", "-m", "Other (#2)"]);
    let bad = dev.head().unwrap();
    run(&["push", "-q", "-f", "--no-verify", "origin", "main"]);
    ci(
        &dev,
        "ci4",
        "push",
        push_event("refs/heads/main", &main_before, &bad, false),
    )
    .code(1)
    .stderr_has("uncovered B1  `aws-access-key-id` at `other.py:1`")
    .stderr_lacks("carried from");
}
