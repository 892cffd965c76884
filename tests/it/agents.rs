//! A commit and a push the way a coding agent makes them: no terminal, an
//! agent's variable set. The agent is told what to ask, records a request
//! without a terminal, and its retry passes once a person approved in their
//! own terminal (another process, on a pseudo-terminal) — exactly once.

use crate::common;

use common::{aws_line, override_in_pty, Repo, AWS_KEY};
use serde_json::Value;

const AGENT: (&str, &str) = ("CLAUDECODE", "1");

fn token_of(run: &common::Run) -> String {
    run.out()
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("TOLLGATE_TOKEN="))
        .expect("the first stdout line carries the token")
        .to_string()
}

fn state(repo: &Repo, i: usize) -> String {
    let l = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    let v: Value = serde_json::from_str(&l.out()).unwrap();
    v[i]["state"].as_str().unwrap_or_default().to_string()
}

#[test]
fn an_agent_is_told_what_to_ask_and_its_request_passes_once_a_person_approves() {
    let repo = Repo::installed();
    repo.signing_key("author");
    repo.write("README", "hello\n");
    repo.commit_all("base");
    repo.write("config.py", aws_line());
    repo.git(&["add", "config.py"]).success();
    // The agent's commit: blocked, with words addressed to it.
    repo.git_env(&["commit", "-qm", "add key"], &[AGENT])
        .code(1)
        .stderr_has(
            "note to Claude Code (`CLAUDECODE` is set): this blocker needs a person's approval",
        )
        .stderr_has("Do not try to approve it yourself, do not bypass the hooks")
        .stderr_has("tollgate override request B1 --reason")
        .stderr_has("tollgate override pending")
        .never_shows(AWS_KEY);
    let json = repo.tollgate_env(&["check", "--format", "json"], &[AGENT]);
    json.code(1);
    let v: Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["agent"], "Claude Code", "{v}");
    assert_eq!(v["needs_person"][0]["id"], "B1", "{v}");
    assert_eq!(v["needs_person"][0]["needs_person"], true, "{v}");
    assert_eq!(v["needs_person"][0]["tier"], "challenge", "{v}");
    assert!(v["needs_person"][0]["request_command"]
        .as_str()
        .unwrap()
        .starts_with("tollgate override request B1"));

    // It asks (no terminal needed) and gets a token that passes nothing yet.
    let asked = repo.tollgate_env(
        &[
            "override",
            "request",
            "B1",
            "--reason",
            "demo fixture, rotated key",
        ],
        &[AGENT],
    );
    asked
        .success()
        .stderr_has("needs a person's approval (tier `challenge`)")
        .stderr_has("tollgate override pending");
    let token = token_of(&asked);
    assert_eq!(state(&repo, 0), "REQUESTED");
    repo.git_env(
        &["commit", "-qm", "add key"],
        &[AGENT, ("TOLLGATE_TOKEN", &token)],
    )
    .code(1)
    .stderr_has("waits for a person's approval");

    // The person, in their own terminal, sees the blocker as tollgate
    // computes it and approves; the agent never sees the code.
    let (code, out, err, screen) = override_in_pty(&repo, &["pending"], &[], &[None]);
    assert_eq!(code, 0, "{out}\n{err}\n{screen}");
    assert!(screen.contains("`aws-access-key-id`"), "{screen}");
    assert!(
        screen.contains("reason (their words): \"demo fixture, rotated key\""),
        "{screen}"
    );
    assert!(err.contains("approved"), "{err}");
    assert_eq!(state(&repo, 0), "ACTIVE");

    // The agent's retry passes, once.
    repo.git_env(
        &["commit", "-qm", "add key"],
        &[AGENT, ("TOLLGATE_TOKEN", &token)],
    )
    .success()
    .stderr_has("passed by override token");
    let head = repo.head().unwrap();
    assert_eq!(repo.records(&head).len(), 1);
    repo.git(&["reset", "-q", "--soft", "HEAD~1"]).success();
    repo.git_env(
        &["commit", "-qm", "add key"],
        &[AGENT, ("TOLLGATE_TOKEN", &token)],
    )
    .code(1)
    .stderr_has("already used");
}

#[test]
fn a_denied_request_is_reported_to_the_agent() {
    let repo = Repo::installed().with_remote();
    repo.signing_key("author");
    repo.write("README", "hello\n");
    repo.commit_all("base");
    repo.git(&["push", "-q", "origin", "main"]).success();
    // A push, as an agent makes it: a commit that skipped the hooks.
    repo.commit_unchecked("b.py", aws_line(), "add key");
    repo.git_env(&["push", "origin", "main"], &[AGENT])
        .code(1)
        .stderr_has("note to Claude Code")
        .stderr_has("tollgate override request B1");
    let asked = repo.tollgate_env(
        &["override", "request", "B1", "--reason", "please"],
        &[AGENT],
    );
    asked.success();
    let token = token_of(&asked);
    let (code, out, err, screen) = override_in_pty(&repo, &["pending"], &[], &[Some("deny")]);
    assert_eq!(code, 0, "{out}\n{err}\n{screen}");
    assert!(screen.contains("Denied."), "{screen}");
    assert_eq!(state(&repo, 0), "DENIED");
    repo.git_env(
        &["push", "origin", "main"],
        &[AGENT, ("TOLLGATE_TOKEN", &token)],
    )
    .code(1)
    .stderr_has("was denied by a person");
    // Without a terminal, `pending` lists but approves nothing.
    let again = repo.tollgate_env(
        &["override", "request", "B1", "--reason", "please"],
        &[AGENT],
    );
    again.success();
    repo.tollgate(&["override", "pending"])
        .code(1)
        .stderr_has("needs a terminal");
}
