//! The two-step weakening, tried as an attacker would: push 1 weakens the
//! policy or adds a signer (and holds no other blocker), push 2 would use
//! it. Push 1 is refused by the builtin policy-change constraint in the
//! local pre-push hook, in CI's `verify` and by the server's pre-receive
//! hook; the same change with an approved override passes all three.

use crate::common;

use common::{mint, tollgate_bin, Repo};

/// A developer clone with a signing key in the committed signer list, and
/// a server running tollgate's pre-receive hook, both at `base`.
fn setup(server_hook: bool) -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    if server_hook {
        let server = dev.remote.clone().unwrap();
        dev.run_in(&server, tollgate_bin(), ["install", "--server"])
            .success();
    }
    dev.signing_key("alice");
    dev.policy("extends = [\"builtin:recommended\"]\n");
    dev.write("README", "hello\n");
    let base = dev.commit_all("base: policy and signers");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

/// Applies weakening `i` of push 1 to the work tree; returns what it is
/// and the evidence the policy-change blocker must show.
fn weaken(dev: &Repo, i: usize) -> (&'static str, &'static str) {
    match i {
        0 => {
            dev.policy("extends = [\"builtin:recommended\"]\n\n[[allow]]\nid = \"src-anything\"\nconstraint = \"aws-access-key-id\"\npaths = [\"src/**\"]\nreason = \"fixtures\"\nexpires = 2027-01-31\n");
            (
                "allow rule",
                "adds allow rule `src-anything` of `aws-access-key-id` for `src/**`",
            )
        }
        1 => {
            dev.policy("extends = []\n");
            (
                "extends = []",
                "changes `extends` from [\"builtin:recommended\"] to []",
            )
        }
        _ => {
            let (_, public) = dev.ssh_keygen("bot");
            let path = dev.path(".tollgate/allowed_signers");
            let mut list = std::fs::read_to_string(path).unwrap();
            list.push_str(&format!("bot@security.example.com {public}\n"));
            dev.write(".tollgate/allowed_signers", list);
            (
                "added signer",
                "adds signer `bot@security.example.com` (ED25519 SHA256:",
            )
        }
    }
}

#[test]
fn push_one_of_a_two_step_weakening_is_refused_by_the_hook_and_verify() {
    for i in 0..3 {
        let (dev, base) = setup(false);
        let (what, evidence) = weaken(&dev, i);
        dev.git(&["add", "-A"]).success();
        // Committing is not judged (the commit hook would judge with the
        // very file being changed); the push is.
        dev.git(&["commit", "-q", "-m", what]).success();
        let head = dev.head().unwrap();
        dev.git(&["push", "origin", "main"])
            .code(1)
            .stderr_has("tollgate-policy-change")
            .stderr_has(evidence);
        assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));

        // Pushed past the hook, CI's verify refuses it, judged by base.
        dev.git(&["push", "-q", "--no-verify", "origin", "main"])
            .success();
        let ci = dev.clone_as(&format!("ci{i}"), "ci@example.com", false);
        ci.tollgate(&["verify", "--old", &base, "--new", &head, "--ref", "main"])
            .code(1)
            .stderr_has("uncovered B1  `tollgate-policy-change`")
            .stderr_has(evidence)
            .stderr_has(&format!("anchor {}", &base[..12]));
    }
}

#[test]
fn the_server_refuses_each_weakening() {
    for i in 0..3 {
        let (dev, base) = setup(true);
        let (what, evidence) = weaken(&dev, i);
        dev.git(&["add", "-A"]).success();
        dev.git(&["commit", "-q", "-m", what]).success();
        dev.git(&["push", "--no-verify", "origin", "main"])
            .code(1)
            .stderr_has("remote: error: uncovered B1  `tollgate-policy-change`")
            .stderr_has(evidence)
            .stderr_has("remote: error: push refused by tollgate on the server");
        assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));
    }
}

#[test]
fn the_server_refuses_push_one_and_accepts_it_approved() {
    let (dev, base) = setup(true);
    dev.policy("extends = []\n");
    dev.git(&["add", "-A"]).success();
    dev.git(&["commit", "-q", "-m", "drop the pack"]).success();
    dev.git(&["push", "--no-verify", "origin", "main"])
        .code(1)
        .stderr_has("remote: error: uncovered B1  `tollgate-policy-change` at `.tollgate.toml`")
        .stderr_has("changes `extends` from [\"builtin:recommended\"] to []")
        .stderr_has("remote: error: push refused by tollgate on the server");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));

    // The hook names the blocker; an approved token passes it everywhere.
    dev.git(&["push", "origin", "main"]).code(1);
    let token = mint(&dev, "B1", &[], &[]);
    dev.git_env(&["push", "origin", "main"], &[("TOLLGATE_TOKEN", &token)])
        .success()
        .stderr_has("audit records pushed to `origin`");
    let head = dev.head().unwrap();
    assert_eq!(dev.remote_ref("main").as_deref(), Some(head.as_str()));

    let ci = dev.ci_clone();
    ci.tollgate(&["verify", "--old", &base, "--new", &head, "--ref", "main"])
        .success()
        .stderr_has("covered    B1  `tollgate-policy-change`");
    let json = ci.tollgate(&[
        "verify", "--old", &base, "--new", &head, "--ref", "main", "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.out()).unwrap();
    assert_eq!(v["anchor"]["commit"], base.as_str());
    assert_eq!(v["result"], "pass");
}

#[test]
fn a_base_with_two_key_constraints_makes_policy_changes_two_key() {
    let dev = Repo::installed().with_remote();
    dev.signing_key("alice");
    dev.policy(
        "extends = [\"builtin:recommended\"]\n\n[[force-push]]\nid = \"force-main\"\nbranches = [\"main\"]\noverride = \"two-key\"\napprovers = [\"*@security.example.com\"]\n",
    );
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();
    let shown = dev.tollgate(&["policy", "show"]);
    shown.success();
    assert!(
        shown.out().contains("[[policy-change]]") && shown.out().contains("*@security.example.com"),
        "{shown}"
    );
    dev.policy("extends = [\"builtin:recommended\"]\n");
    dev.git(&["add", "-A"]).success();
    dev.git(&["commit", "-q", "-m", "drop the two-key constraint"])
        .success();
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("tollgate-policy-change")
        .stderr_has("removes force-push constraint `force-main`");
    // The local hook judges with the work tree's policy, which no longer
    // has a two-key constraint, so a plain token passes it…
    let token = mint(&dev, "B1", &[], &[]);
    dev.git_env(&["push", "origin", "main"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    let head = dev.head().unwrap();
    // …but CI judges with base's policy: the change needed two keys.
    let ci = dev.ci_clone();
    ci.tollgate(&["verify", "--old", &base, "--new", &head, "--ref", "main"])
        .code(1)
        .stderr_has("`tollgate-policy-change` needs approval tier `two-key`")
        .stderr_has("uncovered B1  `tollgate-policy-change`");
}

#[test]
fn moving_or_deleting_the_policy_is_a_policy_change() {
    let (dev, base) = setup(false);
    dev.git(&["mv", ".tollgate.toml", "old-policy.toml"])
        .success();
    dev.git(&["commit", "-q", "-m", "move the policy away"])
        .success();
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("deletes `.tollgate.toml`");
    dev.git(&["rm", "-q", "-r", ".tollgate"]).success();
    dev.git(&["commit", "-q", "-m", "and the signers"])
        .success();
    dev.git(&["push", "origin", "main"])
        .code(1)
        .stderr_has("deletes `.tollgate/allowed_signers`; removes signer `author@example.com`");
    assert_eq!(dev.remote_ref("main").as_deref(), Some(base.as_str()));
}
