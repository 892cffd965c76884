//! The audit trail at team scale: many pushers at once against one bare
//! remote (with and without tollgate's `pre-receive`), an append-only
//! server, `verify` reporting a deleted record, and a notes push killed at
//! growing delays. Records that many clones need are signed with
//! tollgate's own library and a real key listed in the committed signer
//! list (the same bytes `tollgate override` would write).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{aws_line, commit_secret_with_override, tollgate_bin, Repo};
use tollgate::audit::{AuditRecord, Identity, SigningKey};
use tollgate::check::Location;
use tollgate::policy::{Severity, Tier};

const NOTES: &str = "--ref=refs/notes/tollgate";

/// A developer repository with hooks, a remote (with tollgate's
/// `pre-receive` when `server`), alice's key committed in the signer list,
/// and that base pushed.
fn team(server: bool) -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    if server {
        let remote = dev.remote.clone().unwrap();
        dev.run_in(&remote, tollgate_bin(), ["install", "--server"])
            .success();
    }
    dev.signing_key("alice");
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

fn key(dev: &Repo) -> PathBuf {
    dev.tmp.path().join("keys/alice")
}

/// The first blocker `check` finds in `range` of `repo`, as JSON.
fn blocker(repo: &Repo, range: &str) -> serde_json::Value {
    let r = repo.tollgate(&["check", "--range", range, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.out()).unwrap_or_else(|_| panic!("{r}"));
    v["findings"][0].clone()
}

fn t0() -> DateTime<Utc> {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

/// A signed record line for `finding`, as alice, for token `token`.
fn record_line(key: &Path, finding: &serde_json::Value, token: &str) -> String {
    let key = SigningKey::File(key.to_path_buf());
    let me = Identity {
        name: "Test Author".into(),
        email: "author@example.com".into(),
        key_fingerprint: key.key_fingerprint().unwrap(),
    };
    let location: Location = serde_json::from_value(finding["location"].clone()).unwrap();
    let mut r = AuditRecord {
        v: 1,
        token_id: tollgate::overrides::token_hash(token),
        constraint: finding["constraint"].as_str().unwrap().into(),
        kind: finding["kind"].as_str().unwrap().into(),
        severity: Severity::Block,
        fingerprint: finding["fingerprint"].as_str().unwrap().into(),
        commit: location.commit.clone().unwrap(),
        tree: None,
        parent: None,
        location,
        reason: "fixture for the demo".into(),
        reason_code: None,
        requester: me.clone(),
        approver: me,
        approval: Tier::Challenge,
        grant: None,
        two_key: None,
        minted: t0(),
        expires: t0() + chrono::Duration::minutes(30),
        consumed: t0() + chrono::Duration::minutes(5),
        policy_sha256: "0".repeat(64),
        tool_version: "0.1.0".into(),
        signature: String::new(),
    };
    r.sign(&key).unwrap();
    r.to_line().unwrap()
}

/// `(annotated commit, line)` of every line in `notes_ref` of the
/// repository at `git_dir`.
fn lines_in(dev: &Repo, git_dir: &Path, notes_ref: &str) -> Vec<(String, String)> {
    let gd = git_dir.to_str().unwrap();
    let list = dev.git(&[
        "--git-dir",
        gd,
        "notes",
        &format!("--ref={notes_ref}"),
        "list",
    ]);
    assert!(list.ok(), "the notes ref must stay readable\n{list}");
    let mut out = Vec::new();
    for l in list.out().lines() {
        let (blob, commit) = l.split_once(' ').unwrap();
        let text = dev.git(&["--git-dir", gd, "cat-file", "blob", blob]);
        text.success();
        out.extend(
            text.out()
                .lines()
                .filter(|l| !l.is_empty())
                .map(|x| (commit.to_string(), x.to_string())),
        );
    }
    out
}

/// A clone of the remote for pusher `name` with tollgate's hooks, alice's
/// key, and `branch` fetched from `dev`.
fn pusher(dev: &Repo, name: &str, branch: &str) -> Repo {
    let p = dev.clone_as(name, "author@example.com", true);
    p.git(&["config", "tollgate.signingKey", key(dev).to_str().unwrap()])
        .success();
    p.git(&[
        "fetch",
        "-q",
        dev.root.to_str().unwrap(),
        &format!("{branch}:{branch}"),
    ])
    .success();
    p.git(&["switch", "-q", branch]).success();
    p
}

/// The 32-pusher tests and the kill test measure timing under contention;
/// run in parallel with each other (or with the other heavy tests of the
/// suite) on two cores they starve one another, so they take turns.
use crate::common::HEAVY;

fn many_pushers_at_once(server: bool, n: usize) {
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let (dev, base) = team(server);
    // Each pusher's branch: one commit holding a secret, blocked without
    // its record.
    let mut work = Vec::new();
    for i in 0..n {
        let branch = format!("w{i}");
        dev.git(&["switch", "-q", "-c", &branch, "main"]).success();
        let head = dev.commit_unchecked(&format!("s{i}.py"), aws_line(), "leak");
        let finding = blocker(&dev, &format!("{base}..{head}"));
        assert_eq!(finding["location"]["commit"], head.as_str());
        work.push((
            branch,
            head,
            record_line(&key(&dev), &finding, &format!("tgt1_{i}")),
        ));
    }
    dev.git(&["switch", "-q", "main"]).success();
    let clones: Vec<Repo> = work
        .iter()
        .enumerate()
        .map(|(i, (branch, head, line))| {
            let p = pusher(&dev, &format!("p{i}"), branch);
            p.git(&["notes", NOTES, "add", "-m", line, head]).success();
            p
        })
        .collect();
    // Without its record a pusher's branch is blocked (the test can fail).
    let bare = dev.clone_as("bare", "author@example.com", true);
    bare.git(&["fetch", "-q", dev.root.to_str().unwrap(), "w0:w0"])
        .success();
    bare.git(&["push", "origin", "w0"])
        .code(1)
        .stderr_has("aws-access-key-id");

    let barrier = Arc::new(Barrier::new(n));
    let started = Instant::now();
    let threads: Vec<_> = clones
        .iter()
        .zip(&work)
        .map(|(p, (branch, _, _))| {
            let mut c = p.command("git");
            c.args(["push", "origin", branch.as_str()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let out = c.output().unwrap();
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    let mut merged = 0;
    for (i, (code, err)) in results.iter().enumerate() {
        assert_eq!(
            *code,
            Some(0),
            "pusher {i} (server hook: {server}) failed:\n{err}"
        );
        merged += usize::from(err.contains("merged with other writers"));
    }
    eprintln!(
        "{n} pushers (server hook: {server}): all passed in {:.1} s; {merged} merged other writers' records",
        took.as_secs_f64()
    );
    let remote = dev.remote.clone().unwrap();
    let lines = lines_in(&dev, &remote, "refs/notes/tollgate");
    assert_eq!(
        lines.len(),
        n,
        "the remote holds every record once: {lines:?}"
    );
    for (branch, head, line) in &work {
        assert_eq!(dev.remote_ref(branch).as_deref(), Some(head.as_str()));
        let on_head: Vec<_> = lines.iter().filter(|(c, _)| c == head).collect();
        assert_eq!(on_head.len(), 1, "one record on {head}");
        assert_eq!(&on_head[0].1, line, "the record arrived unchanged");
    }
    // And the remote's notes history lost nothing on the way.
    let ci = dev.ci_clone();
    let (_, head, _) = &work[0];
    ci.tollgate(&["verify", "--base", &base, "--head", head])
        .success()
        .stderr_lacks("record deleted");
}

#[test]
fn thirty_two_pushers_at_once_all_pass_on_a_plain_remote() {
    many_pushers_at_once(false, 32);
}

#[test]
fn thirty_two_pushers_at_once_all_pass_through_the_server_hook() {
    many_pushers_at_once(true, 32);
}

/// A fast-forward notes commit that drops the record on `head`.
fn drop_record(dev: &Repo, head: &str) {
    dev.git(&["notes", NOTES, "remove", head]).success();
}

#[test]
fn a_notes_update_removing_a_record_is_refused_by_the_server() {
    let (dev, _) = team(true);
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let remote = dev.remote.clone().unwrap();
    let before = lines_in(&dev, &remote, "refs/notes/tollgate");
    assert_eq!(before.len(), 1);
    drop_record(&dev, &head);
    // tollgate never pushes a removal…
    dev.tollgate(&["notes", "push"])
        .code(2)
        .stderr_has("a removal is never pushed")
        .stderr_has("would remove the record of tok_")
        .stderr_has("for `aws-access-key-id` on commit");
    // …and the server refuses it when git pushes it directly.
    dev.git(&["push", "--no-verify", "origin", "refs/notes/tollgate"])
        .code(1)
        .stderr_has("refused: this `refs/notes/tollgate` update removes the record of tok_")
        .stderr_has(&format!(
            "for `aws-access-key-id` on commit {}",
            &head[..12]
        ));
    // A record line changed in place is a removal too.
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-f",
        "-m",
        &before[0].1.replace("fixture", "changed"),
        &head,
    ])
    .success();
    dev.git(&["push", "--no-verify", "origin", "refs/notes/tollgate"])
        .code(1)
        .stderr_has("update removes the record of tok_");
    assert_eq!(lines_in(&dev, &remote, "refs/notes/tollgate"), before);
    // With the record put back, the same notes history is pushable again.
    dev.git(&["notes", NOTES, "add", "-f", "-m", &before[0].1, &head])
        .success();
    dev.tollgate(&["notes", "push"]).success();
    assert_eq!(lines_in(&dev, &remote, "refs/notes/tollgate"), before);
}

#[test]
fn a_merge_brings_back_a_record_the_local_notes_dropped() {
    let (dev, _) = team(false);
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let before = dev.records(&head);
    drop_record(&dev, &head);
    // A three-way `git notes merge` would keep the removal (the local side
    // descends from the remote's); tollgate's union brings the line back.
    dev.tollgate(&["notes", "fetch"]).success();
    assert_eq!(dev.records(&head), before);
    dev.tollgate(&["notes", "push"]).success();
}

#[test]
fn verify_reports_a_record_deleted_from_the_notes_history() {
    // A plain remote accepts the removal; verify in CI finds it.
    let (dev, base) = team(false);
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let token_id = {
        let line = &dev.records(&head)[0];
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["token_id"].as_str().unwrap().to_string()
    };
    drop_record(&dev, &head);
    // Keep the commit and add an unrelated note so the ref is not empty.
    dev.git(&["notes", NOTES, "add", "-m", "x", &base])
        .success();
    dev.git(&["push", "-q", "--no-verify", "origin", "refs/notes/tollgate"])
        .success();
    let ci = dev.ci_clone();
    let short = &token_id[..12];
    ci.tollgate(&["verify", "--base", &base, "--head", &head])
        .code(1)
        .stderr_has(&format!(
            "record deleted: the record of tok_{short} for `aws-access-key-id` on commit {}",
            &head[..12]
        ));
    let json = ci.tollgate(&[
        "verify", "--base", &base, "--head", &head, "--format", "json",
    ]);
    json.code(1);
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["result"], "fail");
    assert_eq!(v["deleted_records"][0]["token_id"], token_id.as_str());
    assert_eq!(v["deleted_records"][0]["constraint"], "aws-access-key-id");
    assert_eq!(v["deleted_records"][0]["commit"], head.as_str());
    let sarif = ci.tollgate(&[
        "verify", "--base", &base, "--head", &head, "--format", "sarif",
    ]);
    assert!(
        sarif.out().contains("tollgate/deleted-audit-record"),
        "{sarif}"
    );
    // The same history without the deletion passes.
    let clean = dev.clone_as("clean", "ci@example.com", false);
    let good = dev.rev("refs/notes/tollgate~2").unwrap();
    clean
        .git(&[
            "fetch",
            "-q",
            "origin",
            "+refs/notes/tollgate:refs/notes/remote",
        ])
        .success();
    clean
        .git(&["update-ref", "refs/notes/tollgate", &good])
        .success();
    clean
        .tollgate(&["verify", "--base", &base, "--head", &head])
        .success()
        .stderr_lacks("record deleted");
}

/// Appends `n` notes commits to `refs/notes/tollgate` in one `git
/// fast-import`, each adding a note to a new commit of `refs/heads/filler`
/// (git re-fans the notes tree out as the count grows, moving every note).
fn many_notes_commits(dev: &Repo, n: usize) {
    let mut stream = String::new();
    for i in 1..=n {
        stream.push_str(&format!(
            "commit refs/heads/filler\nmark :{i}\ncommitter T <t@example.com> {} +0000\ndata 2\nf\n\n",
            1_700_000_000 + i
        ));
    }
    stream.push_str("commit refs/notes/tollgate\ncommitter T <t@example.com> 1700000000 +0000\ndata 2\nn\nfrom refs/notes/tollgate^0\n\n");
    for i in 1..=n {
        let note = format!("filler note {i}\n");
        stream.push_str(&format!(
            "commit refs/notes/tollgate\ncommitter T <t@example.com> {} +0000\ndata 2\nn\nN inline :{i}\ndata {}\n{note}\n",
            1_700_000_000 + i,
            note.len()
        ));
    }
    let file = dev.path("fast-import.txt");
    std::fs::write(&file, stream).unwrap();
    let mut c = dev.command("sh");
    c.args(["-c", "git fast-import --quiet < fast-import.txt"]);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_record_deleted_early_in_a_long_notes_history_is_found() {
    // The notes history is compared in windows of a few hundred commits;
    // a deletion before several windows of later notes (and the fan-out
    // moves between them) is still found, and only it.
    let (dev, base) = team(false);
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    drop_record(&dev, &head);
    let dropped_in = dev.rev("refs/notes/tollgate").unwrap();
    many_notes_commits(&dev, 700);
    assert_eq!(
        dev.git(&["rev-list", "--count", "refs/notes/tollgate"])
            .out()
            .trim(),
        "703"
    );
    dev.git(&["push", "-q", "--no-verify", "origin", "refs/notes/tollgate"])
        .success();
    let ci = dev.ci_clone();
    let json = ci.tollgate(&[
        "verify", "--base", &base, "--head", &head, "--format", "json",
    ]);
    json.code(1);
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    let deleted = v["deleted_records"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert_eq!(deleted[0]["commit"], head.as_str());
    assert_eq!(deleted[0]["dropped_in"], dropped_in.as_str(), "{deleted:?}");
}

#[test]
fn a_deleted_record_is_caught_by_verify_warm_and_with_a_forged_cache() {
    // The developer's own clone: verify runs there again and again (warm),
    // and the agent can write anything under `.git/tollgate/`.
    let (dev, base) = team(false);
    let head = commit_secret_with_override(&dev, "config.py");
    let verify = |repo: &Repo| repo.tollgate(&["verify", "--base", &base, "--head", &head]);
    verify(&dev).success().stderr_lacks("record deleted");
    verify(&dev).success();
    // One record is rewritten in place (a removal plus an addition), then
    // the notes move on with an unrelated note.
    let line = dev.records(&head)[0].clone();
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-f",
        "-m",
        &line.replace("fixture", "changed"),
        &head,
    ])
    .success();
    dev.git(&["notes", NOTES, "add", "-m", "x", &base])
        .success();
    // Every cache file claims the new tip was checked and complete.
    let tip = dev.rev("refs/notes/tollgate").unwrap();
    let index = dev.git_dir().join("tollgate/index");
    std::fs::create_dir_all(&index).unwrap();
    let existing = std::fs::read_dir(&index)
        .unwrap()
        .flatten()
        .map(|e| e.path());
    let forged = ["complete-history-forged", "token-uses-forged"].map(|n| index.join(n));
    for path in existing.chain(forged) {
        std::fs::write(path, format!("tollgate complete-history v1 {tip}\n")).unwrap();
    }
    for _ in 0..2 {
        verify(&dev)
            .code(1)
            .stderr_has("record deleted: the record of tok_")
            .stderr_has(&format!("on commit {}", &head[..12]));
    }
    // And a fresh clone of the same history (cold) says the same.
    dev.git(&[
        "push",
        "-q",
        "--no-verify",
        "-f",
        "origin",
        "main",
        "refs/notes/tollgate",
    ])
    .success();
    let ci = dev.ci_clone();
    verify(&ci)
        .code(1)
        .stderr_has("record deleted: the record of tok_");
}

#[test]
fn a_secret_pushed_to_another_notes_ref_or_a_tag_is_refused() {
    let (dev, base) = team(true);
    let leak = dev.commit_unchecked("config.py", aws_line(), "leak");
    dev.git(&["reset", "-q", "--hard", &base]).success();
    dev.git(&[
        "push",
        "--no-verify",
        "origin",
        &format!("{leak}:refs/notes/evil"),
    ])
    .code(1)
    .stderr_has("remote: error: uncovered B1  `aws-access-key-id`");
    // A notes commit whose note holds the secret.
    dev.git(&[
        "notes",
        "--ref=refs/notes/evil2",
        "add",
        "-m",
        &aws_line(),
        &base,
    ])
    .success();
    dev.git(&["push", "--no-verify", "origin", "refs/notes/evil2"])
        .code(1)
        .stderr_has("`aws-access-key-id`");
    dev.git(&["tag", "v1", &leak]).success();
    dev.git(&["push", "--no-verify", "origin", "refs/tags/v1"])
        .code(1)
        .stderr_has("`aws-access-key-id`");
    dev.git(&[
        "push",
        "--no-verify",
        "origin",
        &format!("{leak}:refs/custom/x"),
    ])
    .code(1)
    .stderr_has("`aws-access-key-id`");
    // Other notes without a secret are accepted, judged like a branch.
    dev.git(&[
        "notes",
        "--ref=refs/notes/review",
        "add",
        "-m",
        "looks good",
        &base,
    ])
    .success();
    dev.git(&["push", "--no-verify", "origin", "refs/notes/review"])
        .success();
    let remote = dev.remote.clone().unwrap();
    for r in [
        "refs/notes/evil",
        "refs/notes/evil2",
        "refs/tags/v1",
        "refs/custom/x",
    ] {
        let out = dev.git(&[
            "--git-dir",
            remote.to_str().unwrap(),
            "rev-parse",
            "-q",
            "--verify",
            r,
        ]);
        assert!(!out.ok(), "{r} reached the server");
    }
}

#[test]
fn a_key_planted_in_the_notes_tree_is_refused() {
    let (dev, _) = team(true);
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let (planted, _) = dev.ssh_keygen("planted");
    // A file at a path that is no note.
    let blob = dev.git(&["hash-object", "-w", planted.to_str().unwrap()]);
    let blob = blob.out().trim().to_string();
    let index = dev.tmp.path().join("notes.index");
    let idx = [("GIT_INDEX_FILE", index.to_str().unwrap())];
    dev.git_env(&["read-tree", "refs/notes/tollgate"], &idx)
        .success();
    dev.git_env(
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},keys/id_ed25519"),
        ],
        &idx,
    )
    .success();
    let tree = dev.git_env(&["write-tree"], &idx).out().trim().to_string();
    let tip = dev.rev("refs/notes/tollgate").unwrap();
    let planted_commit = dev
        .git(&["commit-tree", &tree, "-p", &tip, "-m", "notes"])
        .out()
        .trim()
        .to_string();
    dev.git(&["push", "--no-verify", "origin", &format!("{planted_commit}:refs/notes/tollgate")])
        .code(1)
        .stderr_has("refused: this `refs/notes/tollgate` update adds `keys/id_ed25519`, a file at a path that is not a note");
    // The key as a note on a commit: not record lines.
    let key_text = std::fs::read_to_string(&planted).unwrap();
    dev.git(&["notes", NOTES, "add", "-m", &key_text, "HEAD~1"])
        .success();
    dev.git(&["push", "--no-verify", "origin", "refs/notes/tollgate"])
        .code(1)
        .stderr_has("adds a line that is not an audit record to the note on commit");
    // A record copied onto another commit is not a record line there.
    dev.git(&["notes", NOTES, "remove", "HEAD~1"]).success();
    let line = dev.records(&head)[0].clone();
    dev.git(&["notes", NOTES, "add", "-m", &line, "HEAD~1"])
        .success();
    dev.git(&["push", "--no-verify", "origin", "refs/notes/tollgate"])
        .code(1)
        .stderr_has("records are never copied");
    // A genuine new record still goes through.
    dev.git(&["notes", NOTES, "remove", "HEAD~1"]).success();
    let second = commit_secret_with_override(&dev, "other.py");
    dev.git(&["push", "origin", "main"])
        .success()
        .stderr_has("audit records pushed to `origin`");
    assert_eq!(dev.records(&second).len(), 1);
}

/// Waits until every process of session `sid` has exited.
fn wait_session(sid: u32) {
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let out = Command::new("pgrep")
            .args(["-s", &sid.to_string()])
            .output()
            .unwrap();
        if !out.status.success() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("session {sid} did not finish");
}

#[test]
fn a_notes_push_killed_at_growing_delays_loses_nothing_and_the_next_run_finishes() {
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let (alice, base) = team(false);
    let bob = alice.clone_as("bob", "bob@example.com", true);
    let leak = alice.commit_unchecked("a.py", aws_line(), "leak");
    alice
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    bob.git(&["pull", "-q", "--ff-only"]).success();
    let finding = blocker(&alice, &format!("{base}..{leak}"));
    let remote = alice.remote.clone().unwrap();
    let mut ours = Vec::new();
    let mut killed_mid_way = 0;
    for i in 0..24u64 {
        // Another writer moves the remote's notes; alice writes a record:
        // her push has to fetch, merge and push.
        let theirs = record_line(&key(&alice), &finding, &format!("tgt1_bob_{i}"));
        bob.git(&["notes", NOTES, "append", "-m", &theirs, &leak])
            .success();
        bob.tollgate(&["notes", "push"]).success();
        let mine = record_line(&key(&alice), &finding, &format!("tgt1_alice_{i}"));
        alice
            .git(&["notes", NOTES, "append", "-m", &mine, &leak])
            .success();
        ours.push(mine);
        let remote_before = lines_in(&alice, &remote, "refs/notes/tollgate");

        let mut c = Command::new("setsid");
        c.arg(tollgate_bin()).args(["notes", "push"]);
        alice.hermetic(&mut c);
        c.current_dir(&alice.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_micros(i * i * 1500));
        // Only tollgate dies; git processes it started run to their end,
        // as they would when a laptop's tollgate is killed.
        let _ = child.kill();
        let status = child.wait().unwrap();
        killed_mid_way += usize::from(status.code().is_none());
        wait_session(child.id());

        let local = lines_in(&alice, &alice.git_dir(), "refs/notes/tollgate");
        for l in &ours {
            assert!(
                local.iter().any(|(_, x)| x == l),
                "iteration {i}: a local record is lost"
            );
        }
        let remote_now = lines_in(&alice, &remote, "refs/notes/tollgate");
        for l in &remote_before {
            assert!(
                remote_now.contains(l),
                "iteration {i}: the remote lost a record"
            );
        }
        // The next run finishes the job.
        alice.tollgate(&["notes", "push"]).success();
        let remote_after = lines_in(&alice, &remote, "refs/notes/tollgate");
        for l in &ours {
            assert!(
                remote_after.iter().any(|(_, x)| x == l),
                "iteration {i}: not pushed"
            );
        }
        assert_eq!(remote_after.len(), 2 * (i as usize + 1), "each record once");
    }
    assert!(
        killed_mid_way > 3,
        "the kills must land mid-way ({killed_mid_way})"
    );
    alice
        .tollgate(&["verify", "--base", &base, "--head", &leak])
        .stderr_lacks("record deleted");
}

#[test]
fn a_bad_budget_is_a_clear_error() {
    let (dev, _) = team(false);
    dev.git(&["config", "tollgate.notesPushTimeout", "soon"])
        .success();
    dev.git(&["notes", NOTES, "add", "-m", "x", "HEAD"])
        .success();
    dev.tollgate(&["notes", "push"])
        .code(2)
        .stderr_has("bad value `soon` for `tollgate.notesPushTimeout`");
    dev.tollgate_env(
        &["notes", "push"],
        &[("TOLLGATE_NOTES_PUSH_TIMEOUT", "30s")],
    )
    .success();
}

#[test]
fn the_hooks_token_index_follows_new_records_and_a_stale_cache_is_rebuilt() {
    let (dev, base) = team(false);
    let first = dev.commit_unchecked("a.py", aws_line(), "leak a");
    let f = blocker(&dev, &format!("{base}..{first}"));
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-m",
        &record_line(&key(&dev), &f, "tgt1_same"),
        &first,
    ])
    .success();
    dev.git(&["push", "origin", "main"]).success();
    let index = dev.git_dir().join("tollgate/index");
    assert!(
        std::fs::read_dir(&index).unwrap().count() > 0,
        "the hook keeps a token index"
    );
    // A second record reusing the token: the index (made before it
    // existed) is brought up to date, and the reuse is caught.
    let second = dev.commit_unchecked("b.py", aws_line(), "leak b");
    let f2 = blocker(&dev, &format!("{first}..{second}"));
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-m",
        &record_line(&key(&dev), &f2, "tgt1_same"),
        &second,
    ])
    .success();
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("appears in more than one record");
    // A cache for another notes commit (here: none that exists) is rebuilt
    // from the notes.
    for e in std::fs::read_dir(&index).unwrap().flatten() {
        std::fs::write(
            e.path(),
            "tollgate token-uses v1 0000000000000000000000000000000000000000\n",
        )
        .unwrap();
    }
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("appears in more than one record");
}

#[test]
fn a_push_that_runs_out_of_budget_fails_closed_and_says_what_to_run() {
    let (dev, base) = team(false);
    let other = dev.clone_as("other", "author@example.com", true);
    other
        .git(&["notes", NOTES, "add", "-m", "x", &base])
        .success();
    other.tollgate(&["notes", "push"]).success();
    // The remote moved since this clone last looked: the first attempt
    // loses, and a zero budget leaves no time for another.
    let leak = dev.commit_unchecked("a.py", aws_line(), "leak");
    let f = blocker(&dev, &format!("{base}..{leak}"));
    dev.git(&[
        "notes",
        NOTES,
        "add",
        "-m",
        &record_line(&key(&dev), &f, "tgt1_x"),
        &leak,
    ])
    .success();
    dev.git_env(
        &["push", "origin", "main"],
        &[("TOLLGATE_NOTES_PUSH_TIMEOUT", "0")],
    )
    .code(1)
    .stderr_has("push stopped: the audit records (refs/notes/tollgate) could not be pushed")
    .stderr_has("kept moving `refs/notes/tollgate` for 0 s")
    .stderr_has(
        "the records are safe in the local `refs/notes/tollgate`: run `tollgate notes push origin`",
    );
    assert_ne!(dev.remote_ref("main").as_deref(), Some(leak.as_str()));
    // With the default budget the same push waits its turn and passes.
    dev.git(&["push", "origin", "main"]).success();
    assert_eq!(dev.remote_ref("main").as_deref(), Some(leak.as_str()));
}
