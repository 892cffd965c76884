//! Every SSH key type git signs with, end to end through the installed
//! hooks: a push override and a commit override signed with the developer's
//! key, `tollgate verify` in a CI clone, and the README's by-hand
//! `ssh-keygen -Y verify`, for ed25519, ECDSA P-256, RSA and ed25519-sk (on
//! OpenSSH's software authenticator from Debian's `openssh-tests`). The
//! signer list mixes every supported type with lines tollgate cannot use,
//! which must be reported and skipped, never fail the whole file.

use crate::common;

use std::path::PathBuf;

use common::{aws_line, mint, Repo};

/// OpenSSH's software FIDO authenticator (installed by `.ci/run`).
const SK_DUMMY: &str = "/usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so";
const NOTES: &str = "--ref=refs/notes/tollgate";

/// ssh-keygen finds the authenticator through this; harmless for other keys.
fn sk_env() -> [(&'static str, &'static str); 1] {
    assert!(
        std::path::Path::new(SK_DUMMY).is_file(),
        "{SK_DUMMY} is missing: install Debian's `openssh-tests` (as .ci/run does)"
    );
    [("SSH_SK_PROVIDER", SK_DUMMY)]
}

/// A key pair made by ssh-keygen with `args`; returns the private key's
/// path and the public key line.
fn keygen(repo: &Repo, name: &str, args: &[&str]) -> (PathBuf, String) {
    let dir = repo.tmp.path().join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec!["-q", "-N", "", "-C", name, "-f", name];
    all.extend_from_slice(args);
    if args.iter().any(|a| a.ends_with("-sk")) {
        all.extend_from_slice(&["-w", SK_DUMMY]);
    }
    repo.run_in(&dir, "ssh-keygen", &all).success();
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (dir.join(name), public.trim().to_string())
}

/// Teammates' lines of every supported type, and two lines tollgate cannot
/// use (a DSA key, a certificate authority).
fn teammates(repo: &Repo) -> String {
    let mut list = String::new();
    for (i, args) in [
        &["-t", "ed25519"][..],
        &["-t", "ecdsa", "-b", "256"],
        &["-t", "ecdsa", "-b", "384"],
        &["-t", "ecdsa", "-b", "521"],
        &["-t", "rsa", "-b", "2048"],
        &["-t", "ed25519-sk"],
        &["-t", "ecdsa-sk"],
    ]
    .iter()
    .enumerate()
    {
        let (_, public) = keygen(repo, &format!("mate{i}"), args);
        list.push_str(&format!("mate{i}@example.com {public}\n"));
    }
    let (_, dsa) = keygen(repo, "old-dsa", &["-t", "dsa"]);
    let (_, ca) = keygen(repo, "team-ca", &["-t", "ed25519"]);
    list.push_str(&format!("old@example.com {dsa}\n"));
    list.push_str(&format!("*@example.com cert-authority {ca}\n"));
    list
}

/// One developer's key type, and how `ssh-keygen -Y verify` names it.
struct Kind {
    name: &'static str,
    keygen: &'static [&'static str],
    shown_as: &'static str,
}

const KINDS: [Kind; 4] = [
    Kind {
        name: "ed25519",
        keygen: &["-t", "ed25519"],
        shown_as: "with ED25519 key",
    },
    Kind {
        name: "ecdsa-p256",
        keygen: &["-t", "ecdsa", "-b", "256"],
        shown_as: "with ECDSA key",
    },
    Kind {
        name: "rsa",
        keygen: &["-t", "rsa", "-b", "3072"],
        shown_as: "with RSA key",
    },
    Kind {
        name: "ed25519-sk",
        keygen: &["-t", "ed25519-sk"],
        shown_as: "with ED25519-SK key",
    },
];

/// The README's by-hand check, for the record on `commit`.
fn by_hand(ci: &Repo, commit: &str) -> common::Run {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("<!-- verify-by-hand -->\n```sh\n")
        .expect("README has the verify-by-hand block");
    let body = &readme[start..];
    let body = &body[body.find("```sh\n").unwrap() + 6..];
    let script = body[..body.find("```").unwrap()]
        .replace("commit=$(git rev-parse HEAD)", &format!("commit={commit}"));
    ci.run_in(&ci.root, "bash", ["-euo", "pipefail", "-c", &script])
}

#[test]
fn push_commit_verify_and_by_hand_with_every_key_type() {
    for kind in &KINDS {
        let env = sk_env();
        let dev = Repo::installed().with_remote();
        // Git's own SSH signing configuration, as a developer has it.
        let (key, public) = keygen(&dev, &format!("dev-{}", kind.name), kind.keygen);
        dev.git(&["config", "gpg.format", "ssh"]).success();
        dev.git(&["config", "user.signingkey", key.to_str().unwrap()])
            .success();
        let mut signers = teammates(&dev);
        signers.push_str(&format!("author@example.com {public}\n"));
        dev.write(".tollgate/allowed_signers", &signers);
        dev.write("README", "hello\n");
        let base = dev.commit_all("base: the team's signers");
        dev.write("README", "two\n");
        let two = dev.commit_all("two");
        dev.git(&["push", "-q", "origin", "main"]).success();

        // A force push of main, passed with a token.
        dev.write("README", "two, amended\n");
        dev.git(&["add", "README"]).success();
        dev.git(&["commit", "-q", "--amend", "-m", "two, amended"])
            .success();
        let amended = dev.head().unwrap();
        dev.git(&["push", "-q", "-f", "origin", "main"])
            .code(1)
            .stderr_has("no-force-push-protected");
        let token = mint(&dev, "B1", &[], &env);
        let push = dev.git_env(
            &["push", "-q", "-f", "origin", "main"],
            &[("TOLLGATE_TOKEN", &token), env[0]],
        );
        assert!(push.ok(), "{}: {push}", kind.name);
        assert_eq!(dev.remote_ref("main").as_deref(), Some(amended.as_str()));
        assert_eq!(dev.records(&amended).len(), 1, "{}", kind.name);

        // A secret, passed at commit time with a token; the push carries it.
        dev.write("config.py", aws_line());
        dev.git(&["add", "config.py"]).success();
        dev.git(&["commit", "-qm", "add key"])
            .code(1)
            .stderr_has("aws-access-key-id");
        let token = mint(&dev, "B1", &[], &env);
        let commit = dev.git_env(
            &["commit", "-qm", "add key"],
            &[("TOLLGATE_TOKEN", &token), env[0]],
        );
        assert!(commit.ok(), "{}: {commit}", kind.name);
        let leak = dev.head().unwrap();
        assert_eq!(dev.records(&leak).len(), 1, "{}", kind.name);
        // tollgate's own pre-push verifies the record in process.
        dev.git_env(&["push", "origin", "main"], &env)
            .success()
            .stderr_has("passed by the audit record of Test Author <author@example.com>");

        // CI: a fresh clone, with the records fetched.
        let ci = dev.ci_clone();
        ci.git(&["fetch", "-q", "origin", &two]).success();
        let r = ci.tollgate(&["verify", "--old", &two, "--new", &amended, "--ref", "main"]);
        assert!(r.ok(), "{}: {r}", kind.name);
        r.stderr_has("covered    B1  `no-force-push-protected`")
            // The unusable lines are named, and only they are ignored.
            .stderr_has("line 8: key type `ssh-dss` is not supported")
            .stderr_has("line 9: `cert-authority` is not supported");
        let r = ci.tollgate(&[
            "verify", "--base", &amended, "--head", &leak, "--ref", "main",
        ]);
        assert!(r.ok(), "{}: {r}", kind.name);
        r.stderr_has("covered    B1  `aws-access-key-id`");
        assert_ne!(base, amended);

        // By hand, with OpenSSH, both records.
        for c in [&amended, &leak] {
            let r = by_hand(&ci, c);
            assert!(r.ok(), "{}: {r}", kind.name);
            assert!(
                r.all()
                    .contains("Good \"tollgate\" signature for author@example.com")
                    && r.all().contains(kind.shown_as),
                "{}: {r}",
                kind.name
            );
        }
        // And both checks fail on an edited record.
        let line = ci.records(&leak)[0].replace("fixture for the demo", "fixture for the dema");
        ci.git(&["notes", NOTES, "add", "-f", "-m", &line, &leak])
            .success();
        assert!(!by_hand(&ci, &leak).ok(), "{}", kind.name);
        ci.tollgate(&[
            "verify", "--base", &amended, "--head", &leak, "--ref", "main",
        ])
        .code(1)
        .stderr_has("does not verify");
    }
}

#[test]
fn a_security_key_record_made_without_a_touch_fails_until_its_line_allows_it() {
    let env = sk_env();
    let dev = Repo::installed().with_remote();
    // A key enrolled with `no-touch-required` signs without the
    // user-presence flag: anything running as the developer could sign.
    let (key, public) = keygen(
        &dev,
        "touchless",
        &["-t", "ed25519-sk", "-O", "no-touch-required"],
    );
    dev.git(&["config", "tollgate.signingKey", key.to_str().unwrap()])
        .success();
    dev.write(
        ".tollgate/allowed_signers",
        format!("author@example.com {public}\n"),
    );
    dev.write("README", "hello\n");
    let base = dev.commit_all("base");
    dev.git(&["push", "-q", "origin", "main"]).success();

    dev.write("config.py", aws_line());
    dev.git(&["add", "config.py"]).success();
    dev.git(&["commit", "-qm", "add key"]).code(1);
    // The grant it would sign lacks the flag: nothing is minted.
    let (code, out, err, screen) =
        common::override_in_pty(&dev, &["B1", "--reason", "fixture"], &env, &[None]);
    assert_eq!(code, 1, "{out}\n{err}\n{screen}");
    assert!(err.contains("lacks the user-presence flag"), "{err}");
    assert!(err.contains("no token was minted"), "{err}");
    // Locally relaxed (the work tree's list, not committed): it mints, and
    // the record it leaves is judged by the base's list in CI.
    dev.write(
        ".tollgate/allowed_signers",
        format!("author@example.com no-touch-required {public}\n"),
    );
    let token = mint(&dev, "B1", &[], &env);
    dev.git_env(
        &["commit", "-qm", "add key"],
        &[("TOLLGATE_TOKEN", &token), env[0]],
    )
    .success();
    let head = dev.head().unwrap();
    dev.git_env(&["push", "origin", "main"], &env).success();

    let ci = dev.ci_clone();
    ci.tollgate(&["verify", "--base", &base, "--head", &head])
        .code(1)
        .stderr_has("lacks the user-presence flag")
        .stderr_has("uncovered B1");
    // A signer list that says `no-touch-required` for the key accepts it.
    let relaxed = ci.tmp.path().join("relaxed_signers");
    std::fs::write(
        &relaxed,
        format!("author@example.com no-touch-required {public}\n"),
    )
    .unwrap();
    ci.tollgate(&[
        "verify",
        "--base",
        &base,
        "--head",
        &head,
        "--allowed-signers",
        relaxed.to_str().unwrap(),
    ])
    .success();
}

#[test]
fn no_token_is_minted_for_a_key_that_cannot_sign() {
    let repo = Repo::installed();
    let (dsa, _) = keygen(&repo, "dsa", &["-t", "dsa"]);
    repo.git(&["config", "tollgate.signingKey", dsa.to_str().unwrap()])
        .success();
    repo.write("config.py", aws_line());
    repo.git(&["add", "config.py"]).success();
    repo.git(&["commit", "-qm", "x"]).code(1);
    // Refused before any challenge: no terminal is needed to see it.
    repo.tollgate(&["override", "B1", "--reason", "fixture"])
        .code(1)
        .stderr_has("no token was minted")
        .stderr_has("key type `ssh-dss` is not supported");
    // A key literal whose private half is in no agent is refused too.
    let (_, public) = keygen(&repo, "agentless", &["-t", "ecdsa"]);
    repo.git(&["config", "tollgate.signingKey", &format!("key::{public}")])
        .success();
    repo.tollgate(&["override", "B1", "--reason", "fixture"])
        .code(1)
        .stderr_has("no token was minted")
        .stderr_has("`SSH_AUTH_SOCK` is not set");
    let list = repo.tollgate(&["override", "list", "--all", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&list.out()).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(0), "{list}");
}
