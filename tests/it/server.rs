//! `tollgate hook pre-receive` on a bare "server" repository: the server
//! judges every push like `verify`, whatever the client skipped.

use crate::common;

use common::{aws_line, commit_secret_with_override, tollgate_bin, Repo};

/// A developer clone with a signing key listed in the committed signer
/// list, and a server with tollgate's pre-receive hook that has that base.
fn setup() -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    let server = dev.remote.clone().unwrap();
    dev.run_in(&server, tollgate_bin(), ["install", "--server"])
        .success()
        .stderr_has("installed the pre-receive hook");
    dev.signing_key("alice");
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

#[test]
fn a_no_verify_push_carrying_a_secret_is_refused_by_the_server() {
    let (dev, base) = setup();
    dev.commit_unchecked("config.py", aws_line(), "leak");
    dev.git(&["push", "--no-verify", "origin", "main"])
        .code(1)
        .stderr_has("remote: error: uncovered B1  `aws-access-key-id` at `config.py:1`")
        .stderr_has("remote: error: push refused by tollgate on the server")
        .stderr_has("pre-receive hook declined");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));
}

#[test]
fn the_same_push_with_a_valid_record_is_accepted() {
    let (dev, _) = setup();
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "origin", "main"])
        .success()
        .stderr_has("audit records pushed to `origin`");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(head.as_str()));
}

#[test]
fn a_record_arriving_in_the_same_push_counts() {
    let (dev, _) = setup();
    let head = commit_secret_with_override(&dev, "config.py");
    // Skip the client hook: the branch and the notes travel together.
    dev.git(&[
        "push",
        "--no-verify",
        "origin",
        "main",
        "refs/notes/tollgate:refs/notes/tollgate",
    ])
    .success()
    .stderr_has("remote:   covered    B1");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(head.as_str()));
}

#[test]
fn a_forged_record_is_refused() {
    let (dev, base) = setup();
    let head = commit_secret_with_override(&dev, "config.py");
    let line = dev.records(&head)[0].replace("fixture for the demo", "the CTO said so");
    dev.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-f",
        "-m",
        &line,
        &head,
    ])
    .success();
    // The client's own hook already refuses to count it…
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("does not count: signature by");
    // …and the server refuses it when the client hook is skipped.
    dev.git(&[
        "push",
        "--no-verify",
        "origin",
        "main",
        "refs/notes/tollgate:refs/notes/tollgate",
    ])
    .code(1)
    .stderr_has("remote: error: invalid record on commit")
    .stderr_has("does not verify")
    .stderr_has("remote: error: uncovered B1");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));
}

#[test]
fn records_on_the_server_only_move_forward() {
    let (dev, _) = setup();
    let head = commit_secret_with_override(&dev, "config.py");
    dev.git(&["push", "-q", "origin", "main"]).success();
    dev.git(&["push", "--no-verify", "origin", ":refs/notes/tollgate"])
        .code(1)
        .stderr_has("deleting `refs/notes/tollgate` would remove audit records");
    // A notes history that drops the record, forced over the server's.
    dev.git(&["update-ref", "-d", "refs/notes/tollgate"])
        .success();
    dev.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-m",
        "nothing",
        &head,
    ])
    .success();
    dev.git(&[
        "push",
        "--no-verify",
        "-f",
        "origin",
        "refs/notes/tollgate:refs/notes/tollgate",
    ])
    .code(1)
    .stderr_has("may only move forward");
}

#[test]
fn a_malformed_pre_receive_input_is_refused() {
    let (dev, _) = setup();
    let server = dev.remote.clone().unwrap();
    let mut c = dev.command(tollgate_bin());
    c.args(["hook", "pre-receive"]).current_dir(&server);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"not a line\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
}
