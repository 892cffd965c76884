//! The `presence` tier end to end: an override whose grant is signed by a
//! FIDO security key (OpenSSH's software authenticator from Debian's
//! `openssh-tests`, `sk-dummy.so`, which sets the flags a real key sets on
//! a touch) through commit, push, the server's pre-receive hook and CI's
//! `verify`; and the same kind of key without the user-presence flag, or
//! without user verification where the signer list demands it, refused.

use crate::common;

use std::path::PathBuf;

use common::{aws_line, mint, override_in_pty, tollgate_bin, Repo};

const SK_DUMMY: &str = "/usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so";

fn sk_env() -> [(&'static str, &'static str); 1] {
    assert!(
        std::path::Path::new(SK_DUMMY).is_file(),
        "{SK_DUMMY} is missing: install Debian's `openssh-tests` (as .ci/run does)"
    );
    [("SSH_SK_PROVIDER", SK_DUMMY)]
}

/// An `ed25519-sk` key on the software authenticator, made with `extra`
/// options (`-O no-touch-required`); returns its path and public line.
fn sk_key(repo: &Repo, name: &str, extra: &[&str]) -> (PathBuf, String) {
    let dir = repo.tmp.path().join("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec![
        "-q",
        "-t",
        "ed25519-sk",
        "-w",
        SK_DUMMY,
        "-N",
        "",
        "-C",
        name,
        "-f",
        name,
    ];
    args.extend_from_slice(extra);
    repo.run_in(&dir, "ssh-keygen", &args).success();
    let public = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (dir.join(name), public.trim().to_string())
}

const PRESENCE: &str =
    "extends = [\"builtin:recommended\"]\n\n[overrides]\napproval = \"presence\"\n";

/// A developer with a commit signing key, an approval key made with
/// `key_opts` and listed with `line_opts`, the `presence` policy, and a
/// server that runs tollgate's pre-receive hook.
fn setup(key_opts: &[&str], line_opts: &str) -> (Repo, String) {
    let dev = Repo::installed().with_remote();
    let server = dev.remote.clone().unwrap();
    dev.run_in(&server, tollgate_bin(), ["install", "--server"])
        .success();
    dev.signing_key("author");
    let (key, public) = sk_key(&dev, "approval", key_opts);
    dev.git(&["config", "tollgate.approvalKey", key.to_str().unwrap()])
        .success();
    let list = std::fs::read_to_string(dev.path(".tollgate/allowed_signers")).unwrap();
    dev.write(
        ".tollgate/allowed_signers",
        format!("{list}author@example.com {line_opts}{public}\n"),
    );
    dev.policy(PRESENCE);
    dev.write("README", "hello\n");
    let base = dev.commit_all("base: presence policy, signing and approval keys");
    dev.git(&["push", "-q", "origin", "main"]).success();
    (dev, base)
}

fn blocked(dev: &Repo) {
    dev.write("config.py", aws_line());
    dev.git(&["add", "config.py"]).success();
    dev.git(&["commit", "-qm", "add key"]).code(1);
}

#[test]
fn a_presence_override_passes_commit_push_server_and_ci() {
    let (dev, base) = setup(&[], "");
    blocked(&dev);
    let token = mint(&dev, "B1", &[], &sk_env());
    dev.git_env(&["commit", "-qm", "add key"], &[("TOLLGATE_TOKEN", &token)])
        .success();
    let head = dev.head().unwrap();
    let record = dev.records(&head)[0].clone();
    assert!(record.contains("\"approval\":\"presence\""), "{record}");
    assert!(record.contains("\"grant\":\"tggrant1_"), "{record}");
    // The server judges the push with the same rules.
    dev.git(&["push", "origin", "main"]).success();
    let ci = dev.ci_clone();
    ci.tollgate(&["verify", "--base", &base, "--head", &head])
        .success()
        .stderr_has("approval `presence` (security-key touch)");
    // By hand, with OpenSSH alone: the record's signature…
    let signers = ci.path(".tollgate/allowed_signers");
    let v: serde_json::Value = serde_json::from_str(&record).unwrap();
    let (ok, out) = verify_by_hand(&dev, "record", &v, &signers);
    assert!(ok, "{out}");
    // …and the grant's, made by the security key, with its flags.
    let grant = tollgate::audit::grant::Grant::decode(v["grant"].as_str().unwrap()).unwrap();
    let (ok, out) = verify_by_hand(
        &dev,
        "grant",
        &serde_json::to_value(&grant).unwrap(),
        &signers,
    );
    assert!(ok, "{out}");
    assert!(out.contains("ED25519-SK"), "{out}");
    let mut edited = serde_json::to_value(&grant).unwrap();
    edited["reason"] = "edited after the touch".into();
    let (ok, out) = verify_by_hand(&dev, "edited", &edited, &signers);
    assert!(!ok, "an edited grant must not verify: {out}");
}

#[test]
fn without_a_security_key_presence_is_refused_before_minting() {
    let (dev, _) = setup(&[], "");
    dev.git(&["config", "--unset", "tollgate.approvalKey"])
        .success();
    blocked(&dev);
    let (code, _, err, _) = refusal(&dev);
    assert_eq!(code, 1);
    assert!(err.contains("needs approval tier `presence`"), "{err}");
    assert!(err.contains("git config tollgate.approvalKey"), "{err}");
    // A plain key is not a security key.
    let plain = dev.git(&["config", "tollgate.signingKey"]).out();
    dev.git(&["config", "tollgate.approvalKey", plain.trim()])
        .success();
    let (code, _, err, _) = refusal(&dev);
    assert_eq!(code, 1);
    assert!(err.contains("need a FIDO security key"), "{err}");
    let list = dev.tollgate(&["override", "list", "--all", "--format", "json"]);
    assert_eq!(list.out().trim(), "[]", "nothing was minted");
}

/// `override B1` in a terminal that must refuse before any challenge.
fn refusal(dev: &Repo) -> (i32, String, String, String) {
    let r = dev.tollgate_env(&["override", "B1", "--reason", "r"], &sk_env());
    (r.code.unwrap_or(-1), r.out(), r.err(), String::new())
}

#[test]
fn a_signature_without_the_presence_flag_fails() {
    // A key made not to need a touch signs without the flag; even listed
    // with `no-touch-required`, it cannot satisfy `presence`.
    for line_opts in ["", "no-touch-required "] {
        let (dev, _) = setup(&["-O", "no-touch-required"], line_opts);
        blocked(&dev);
        let (code, out, err, screen) =
            override_in_pty(&dev, &["B1", "--reason", "INC-1"], &sk_env(), &[None]);
        assert_eq!(code, 1, "{out}\n{err}\n{screen}");
        // Refused by the signature check (no `no-touch-required` on the
        // line) or by the tier (with it): either way, no presence.
        assert!(
            err.contains("lacks the user-presence flag") || err.contains("shows no user presence"),
            "{err}"
        );
        assert!(err.contains("no token was minted"), "{err}");
        let list = dev.tollgate(&["override", "list", "--all", "--format", "json"]);
        assert_eq!(list.out().trim(), "[]", "nothing was minted");
    }
}

#[test]
fn verify_required_without_user_verification_fails() {
    // sk-dummy signs without the user-verified flag (it has no PIN).
    let (dev, _) = setup(&[], "verify-required ");
    blocked(&dev);
    let (code, out, err, screen) =
        override_in_pty(&dev, &["B1", "--reason", "INC-1"], &sk_env(), &[None]);
    assert_eq!(code, 1, "{out}\n{err}\n{screen}");
    assert!(err.contains("verif"), "{err}");
    assert!(err.contains("no token was minted"), "{err}");
}

/// `ssh-keygen -Y verify -n tollgate` of a signed tollgate document (its
/// canonical JSON without `signature`, against `signature`), as a person
/// checks one by hand; returns whether it passed and what it printed.
fn verify_by_hand(
    dev: &Repo,
    name: &str,
    doc: &serde_json::Value,
    signers: &std::path::Path,
) -> (bool, String) {
    let dir = dev.tmp.path();
    let mut unsigned = doc.clone();
    let sig = unsigned
        .as_object_mut()
        .unwrap()
        .remove("signature")
        .unwrap();
    let body = dir.join(format!("{name}.json"));
    let armored = dir.join(format!("{name}.sig"));
    std::fs::write(
        &body,
        tollgate::audit::jcs::canonicalize(&unsigned).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &armored,
        tollgate::audit::sshsig::armor(sig.as_str().unwrap()),
    )
    .unwrap();
    let check = std::process::Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "tollgate",
            "-I",
            "author@example.com",
            "-f",
        ])
        .arg(signers)
        .arg("-s")
        .arg(&armored)
        .stdin(std::fs::File::open(&body).unwrap())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    (check.status.success(), out)
}
