//! Two-key overrides end to end: three people with their own generated
//! keys and clones; request, approve (challenge on the approver's
//! terminal), accept, commit, push, and `verify` in a CI clone.

use crate::common;

use common::{override_in_pty, Repo};

const POLICY: &str = r#"extends = ["builtin:recommended"]

[[forbidden-path]]
id = "no-prod-config"
description = "Production configuration changes need a second person"
paths = ["deploy/prod.cfg"]
override = "two-key"
approvers = ["bob@example.com", "*@security.example.com"]
"#;

struct People {
    alice: Repo,
    bob: Repo,
    carol: Repo,
    base: String,
}

fn people() -> People {
    let alice = Repo::installed().with_remote();
    alice.signing_key("alice");
    let (bob_key, bob_pub) = alice.ssh_keygen("bob");
    let (carol_key, carol_pub) = alice.ssh_keygen("carol");
    let signers = std::fs::read_to_string(alice.path(".tollgate/allowed_signers")).unwrap();
    alice.write(
        ".tollgate/allowed_signers",
        format!("{signers}bob@example.com {bob_pub}\ncarol@example.com {carol_pub}\n"),
    );
    alice.policy(POLICY);
    let base = alice.commit_all("base: policy and signers");
    alice.git(&["push", "-q", "origin", "main"]).success();
    let bob = alice.clone_as("bob", "bob@example.com", true);
    bob.git(&["config", "tollgate.signingKey", bob_key.to_str().unwrap()])
        .success();
    let carol = alice.clone_as("carol", "carol@example.com", true);
    carol
        .git(&["config", "tollgate.signingKey", carol_key.to_str().unwrap()])
        .success();
    People {
        alice,
        bob,
        carol,
        base,
    }
}

/// Flips one character in the middle of an encoded document.
fn tamper(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[test]
fn request_approve_accept_push_and_verify() {
    let p = people();
    let alice = &p.alice;
    alice.write("deploy/prod.cfg", "replicas = 3\n");
    alice.git(&["add", "deploy/prod.cfg"]).success();
    alice
        .git(&["commit", "-qm", "scale prod"])
        .code(1)
        .stderr_has("no-prod-config");

    // One key is not enough.
    alice
        .tollgate(&["override", "B1", "--reason", "hotfix"])
        .code(1)
        .stderr_has("needs a second person's approval")
        .stderr_has("bob@example.com");

    let r = alice.tollgate(&[
        "override",
        "request",
        "B1",
        "--reason",
        "INC-7 hotfix",
        "--ttl",
        "2h",
    ]);
    r.success()
        .stderr_has("send it to one of `no-prod-config`'s approvers");
    let request = r.out().trim().to_string();
    assert!(request.starts_with("tgreq1_"), "{r}");
    let list = alice.tollgate(&["override", "list", "--all"]);
    assert!(list.out().contains("REQUESTED"), "{list}");

    // Approving one's own request is refused (before any terminal prompt).
    alice
        .tollgate(&["override", "approve", &request])
        .code(1)
        .stderr_has("one key cannot satisfy both keys");
    // A signer outside `approvers` is refused.
    p.carol
        .tollgate(&["override", "approve", &request])
        .code(1)
        .stderr_has("`carol@example.com` is not among the approvers of `no-prod-config`");
    // A tampered request is refused.
    let r = p.bob.tollgate(&["override", "approve", &tamper(&request)]);
    r.code(1).stderr_has("refused:");

    // Bob approves at his terminal.
    let (code, out, err, screen) = override_in_pty(&p.bob, &["approve", &request], &[], &[None]);
    assert_eq!(code, 0, "{out}\n{err}\n{screen}");
    assert!(
        screen.contains("requested by: Test Author <author@example.com>")
            && screen.contains("INC-7 hotfix"),
        "{screen}"
    );
    let approval = out.trim().to_string();
    assert!(approval.starts_with("tgapp1_"), "{out}");

    // A tampered approval is refused; the real one mints the token.
    alice
        .tollgate(&["override", "accept", &tamper(&approval)])
        .code(1)
        .stderr_has("refused:");
    let r = alice.tollgate(&["override", "accept", &approval]);
    r.success()
        .stderr_has("bob@example.com approved request req_");
    let token = r
        .out()
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("TOLLGATE_TOKEN=")
        .to_string();
    assert!(token.starts_with("tgt1_"), "{r}");
    // Accepting twice does nothing.
    alice
        .tollgate(&["override", "accept", &approval])
        .code(1)
        .stderr_has("no open request");

    alice
        .git_env(
            &["commit", "-qm", "scale prod"],
            &[("TOLLGATE_TOKEN", &token)],
        )
        .success()
        .never_shows(&token);
    let head = alice.head().unwrap();
    let records = alice.records(&head);
    assert_eq!(records.len(), 1);
    assert!(
        records[0].contains("\"approval\":\"two-key\""),
        "{records:?}"
    );
    assert!(records[0].contains("\"email\":\"bob@example.com\""));
    assert!(records[0].contains("\"two_key\":{\"approval\":\"tgapp1_"));
    alice
        .git(&["push", "origin", "main"])
        .success()
        .stderr_has("passed by the audit record");

    let ci = alice.ci_clone();
    ci.tollgate(&["verify", "--base", &p.base, "--head", &head])
        .success()
        .stderr_has("covered    B1  `no-prod-config`");

    // A record whose approval is swapped for a tampered one no longer counts.
    let forged = records[0].replace(&approval, &tamper(&approval));
    ci.git(&[
        "notes",
        "--ref=refs/notes/tollgate",
        "add",
        "-f",
        "-m",
        &forged,
        &head,
    ])
    .success();
    ci.tollgate(&["verify", "--base", &p.base, "--head", &head])
        .code(1)
        .stderr_has("uncovered B1");
}

/// A two-key force push of `main`: Alice's history rewrite, blocked.
fn forced_main(p: &People) -> String {
    let alice = &p.alice;
    alice.policy(
        "extends = [\"builtin:recommended\"]\n\n[[force-push]]\nid = \"no-force-push-protected\"\nbranches = [\"main\", \"release/*\"]\noverride = \"two-key\"\napprovers = [\"bob@example.com\"]\n",
    );
    // Set-up, not under test: past the hooks.
    alice.git(&["add", "-A"]).success();
    alice
        .git(&["commit", "-q", "--no-verify", "-m", "two-key force pushes"])
        .success();
    alice.write("work.txt", "shared work\n");
    alice.commit_all("shared work");
    alice
        .git(&["push", "-q", "--no-verify", "origin", "main"])
        .success();
    alice.git(&["fetch", "-q", "origin"]).success();
    p.bob.git(&["pull", "-q", "origin", "main"]).success();
    alice.git(&["reset", "-q", "--hard", "HEAD~1"]).success();
    alice.write("rewritten.txt", "history rewrite\n");
    alice.commit_all("rewrite");
    alice
        .git(&["push", "--force", "origin", "main"])
        .code(1)
        .stderr_has("no-force-push-protected");
    let r = alice.tollgate(&["override", "request", "B1", "--reason", "INC-9 rollback"]);
    r.success();
    r.out().trim().to_string()
}

#[test]
fn approve_judges_the_blocker_it_computes_not_the_requesters_words() {
    use tollgate::audit::approval::Request;
    use tollgate::audit::SigningKey;
    let p = people();
    let request = forced_main(&p);
    let alice_key = SigningKey::File(
        p.alice
            .git(&["config", "tollgate.signingKey"])
            .out()
            .trim()
            .into(),
    );
    // The requester rewrites what the request shows (a scratch branch,
    // "nothing ships from it") and its scope, keeps the fingerprint of the
    // force push of `main`, and signs it again with their own key.
    let mut req = Request::decode(&request).unwrap();
    let scope = req.scope.clone().unwrap();
    let hex = |s: &str| tollgate::policy::hex(s.as_bytes());
    let mut lying = req.clone();
    lying.location.ref_name = Some("refs/heads/release/0.0-scratch".into());
    lying.reason = "scratch branch, nothing ships from it".into();
    let mut s2 = scope.clone();
    s2.fields[0] = hex("refs/heads/release/0.0-scratch");
    lying.scope = Some(s2);
    lying.signature = String::new();
    let lying = lying.sign_and_encode(&alice_key).unwrap();
    p.bob
        .tollgate(&["override", "approve", &lying])
        .code(1)
        .stderr_has("fingerprint mismatch")
        .stderr_has("refs/heads/release/0.0-scratch")
        .stderr_has("is not what would be approved");
    // Only the displayed ref is changed (the scope still names `main`):
    // the approver is shown `main`, computed from the scope, and the
    // requester's location nowhere as fact.
    req.location.ref_name = Some("refs/heads/release/0.0-scratch".into());
    req.signature = String::new();
    let relabelled = req.sign_and_encode(&alice_key).unwrap();
    let (code, out, err, screen) = override_in_pty(
        &p.bob,
        &["approve", &relabelled],
        &[],
        &[Some("WRONG1"), Some("WRONG2"), Some("WRONG3")],
    );
    assert_eq!(code, 1, "{out}\n{err}\n{screen}");
    assert!(
        screen.contains("computed here from the request's scope")
            && screen.contains("ref `refs/heads/main`"),
        "{screen}"
    );
    assert!(!screen.contains("release/0.0-scratch"), "{screen}");
    // The honest request is approved, showing the same computed scope.
    let (code, out, err, screen) = override_in_pty(&p.bob, &["approve", &request], &[], &[None]);
    assert_eq!(code, 0, "{out}\n{err}\n{screen}");
    assert!(screen.contains("ref `refs/heads/main`"), "{screen}");
    assert!(
        screen.contains("reason (their words): \"INC-9 rollback\""),
        "{screen}"
    );
}
