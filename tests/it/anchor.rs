//! The trust anchor of `tollgate verify`: named in every output format,
//! chosen from the remote's default branch, and a clear error (what to
//! pass or fetch) where there is none.

use crate::common;

use common::{aws_line, Repo};

/// A developer clone with `main` pushed (two commits), and a CI clone.
fn setup() -> (Repo, Repo, String) {
    let dev = Repo::installed().with_remote();
    dev.signing_key("alice");
    dev.write("README", "hello\n");
    dev.commit_all("root");
    dev.write("a.txt", "one\n");
    let base = dev.commit_all("one");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let ci = dev.clone_as("ci", "ci@example.com", false);
    (dev, ci, base)
}

#[test]
fn every_format_names_the_anchor_and_how_it_was_chosen() {
    let (dev, ci, base) = setup();
    dev.git(&["checkout", "-q", "-b", "topic"]).success();
    let head = dev.commit_unchecked("leak.py", aws_line(), "leak");
    dev.git(&["push", "-q", "--no-verify", "origin", "topic"])
        .success();
    ci.git(&["fetch", "-q", "origin"]).success();
    let args = ["verify", "--base", &base, "--head", &head];
    let human = ci.tollgate(&args);
    human
        .code(1)
        .stderr_has(&format!(
            "anchor {} (merge-base of the range's base",
            &base[..12]
        ))
        .stderr_has("with `origin/main`");
    let mut json = args.to_vec();
    json.extend(["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&ci.tollgate(&json).out()).unwrap();
    assert_eq!(v["anchor"]["commit"], base.as_str());
    assert!(
        v["anchor"]["how"]
            .as_str()
            .unwrap()
            .contains("`origin/main`"),
        "{v}"
    );
    let mut sarif = args.to_vec();
    sarif.extend(["--format", "sarif"]);
    let v: serde_json::Value = serde_json::from_str(&ci.tollgate(&sarif).out()).unwrap();
    let anchor = v["runs"][0]["properties"]["anchor"].as_str().unwrap();
    assert!(anchor.starts_with(&base), "{anchor}");
    // Named explicitly.
    ci.tollgate(&[
        "verify",
        "--base",
        &base,
        "--head",
        &head,
        "--anchor",
        "origin/main",
    ])
    .code(1)
    .stderr_has("named by `--anchor origin/main`");
}

#[test]
fn without_an_anchor_verify_says_what_to_pass_or_fetch() {
    let (dev, ci, base) = setup();
    // An orphan branch: no merge-base with main.
    dev.git(&["checkout", "-q", "--orphan", "lonely"]).success();
    let orphan = dev.commit_unchecked("x.txt", "x\n", "orphan");
    dev.git(&["push", "-q", "--no-verify", "origin", "lonely"])
        .success();
    ci.git(&["fetch", "-q", "origin"]).success();
    let zero = "0".repeat(40);
    ci.tollgate(&[
        "verify", "--old", &zero, "--new", &orphan, "--ref", "lonely",
    ])
    .code(2)
    .stderr_has("shares no history with the default branch `origin/main`")
    .stderr_has("--anchor <rev>");
    ci.tollgate(&[
        "verify",
        "--old",
        &zero,
        "--new",
        &orphan,
        "--ref",
        "lonely",
        "--anchor",
        "origin/main",
    ])
    .success();

    // A forced update of main whose old tip this clone never had.
    dev.git(&["checkout", "-q", "main"]).success();
    dev.write("a.txt", "secretly rewritten\n");
    dev.git(&["add", "a.txt"]).success();
    dev.git(&["commit", "-q", "--amend", "--no-verify", "-m", "rewritten"])
        .success();
    let rewritten = dev.head().unwrap();
    dev.git(&["push", "-q", "-f", "--no-verify", "origin", "main"])
        .success();
    // Cloned through the transport (a local path would copy every object,
    // the unreachable old tip included), as a CI checkout is.
    let remote = dev.remote.clone().unwrap();
    let url = format!("file://{}", remote.display());
    dev.run_in(dev.tmp.path(), "git", ["clone", "-q", &url, "fresh"])
        .success();
    let fresh = Repo {
        tmp: std::rc::Rc::clone(&dev.tmp),
        root: dev.tmp.path().join("fresh"),
        home: dev.home.clone(),
        remote: Some(remote),
    };
    assert!(
        fresh.rev(&base).is_none(),
        "the old tip is not in the clone"
    );
    let r = fresh.tollgate(&[
        "verify", "--old", &base, "--new", &rewritten, "--ref", "main",
    ]);
    r.code(2)
        .stderr_has(&format!("its tip before the push, commit {base}"))
        .stderr_has(&format!("git fetch origin {base}"))
        .stderr_lacks("unknown revision");
    // With the anchor named, the force push itself is judged by its shas.
    fresh
        .tollgate(&[
            "verify",
            "--old",
            &base,
            "--new",
            &rewritten,
            "--ref",
            "main",
            "--anchor",
            &format!("{rewritten}~1"),
        ])
        .code(1)
        .stderr_has("uncovered B1  `no-force-push-protected`");
}
