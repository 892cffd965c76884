//! SSH signatures (SSHSIG, `PROTOCOL.sshsig`) over audit records, always in
//! the namespace `tollgate`, never `git`: a signature made for a commit can
//! then never pass as an audit record, nor the other way round.
//!
//! Signing goes through `ssh-keygen -Y sign` so that keys held by ssh-agent,
//! hardware keys and passphrase prompts work exactly as they do for git;
//! when `ssh-keygen` is missing, an unencrypted private key file is signed
//! in-process. Verification is always in-process (no subprocess on the CI
//! path) against an [`AllowedSigners`] list. A signature travels as the
//! base64 body of the armored `-----BEGIN SSH SIGNATURE-----` block, on one
//! line, so a record stays one line.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use super::allowed_signers::AllowedSigners;
use super::AuditError;

/// The SSHSIG namespace of every tollgate signature.
pub const NAMESPACE: &str = "tollgate";

const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";
/// `ssh-keygen` wraps the armored body at 70 characters.
const ARMOR_WIDTH: usize = 70;

/// The key to sign with, as git's `user.signingkey` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// A key file: a private key, or a public key whose private half is in
    /// ssh-agent.
    File(PathBuf),
    /// A public key literal (`ssh-ed25519 AAAA… [comment]`) whose private
    /// half is in ssh-agent.
    Agent(String),
}

impl SigningKey {
    /// Reads a `user.signingkey` / `tollgate.signingKey` value the way git
    /// does: `key::…` or a value starting with `ssh-` is a literal public
    /// key, anything else is a path (`~/` is the home directory).
    pub fn from_config(value: &str) -> SigningKey {
        let value = value.trim();
        if let Some(literal) = value.strip_prefix("key::") {
            return SigningKey::Agent(literal.trim().to_owned());
        }
        if value.starts_with("ssh-") {
            return SigningKey::Agent(value.to_owned());
        }
        match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => SigningKey::File(Path::new(&home).join(rest)),
            _ => SigningKey::File(PathBuf::from(value)),
        }
    }

    /// The public key, without reading any secret when avoidable: a literal,
    /// a `.pub` path, the `.pub` beside a private key, or else the public
    /// half of an unencrypted private key file.
    pub fn public_key(&self) -> Result<PublicKey, AuditError> {
        let bad = |why: String| AuditError::SigningKey {
            key: self.to_string(),
            why,
        };
        match self {
            SigningKey::Agent(literal) => {
                PublicKey::from_openssh(literal).map_err(|e| bad(format!("not a public key: {e}")))
            }
            SigningKey::File(path) => {
                let is_pub = path.extension() == Some(OsStr::new("pub"));
                let pub_path = if is_pub {
                    path.clone()
                } else {
                    let mut p = path.clone().into_os_string();
                    p.push(".pub");
                    PathBuf::from(p)
                };
                if is_pub || pub_path.is_file() {
                    let text =
                        std::fs::read_to_string(&pub_path).map_err(|source| AuditError::Io {
                            what: "read",
                            path: pub_path.clone(),
                            source,
                        })?;
                    return PublicKey::from_openssh(text.trim()).map_err(|e| {
                        bad(format!("`{}` is not a public key: {e}", pub_path.display()))
                    });
                }
                let key = read_private_key(path)?;
                Ok(key.public_key().clone())
            }
        }
    }

    /// `SHA256:…` of the public key, as `ssh-keygen -l` prints it.
    pub fn key_fingerprint(&self) -> Result<String, AuditError> {
        Ok(self.public_key()?.fingerprint(HashAlg::Sha256).to_string())
    }
}

impl std::fmt::Display for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::File(p) => write!(f, "{}", p.display()),
            SigningKey::Agent(lit) => {
                // Type and the start of the key are enough to recognise it.
                let mut parts = lit.split_whitespace();
                let kind = parts.next().unwrap_or("");
                let data = parts.next().unwrap_or("");
                let start: String = data.chars().take(24).collect();
                write!(f, "key::{kind} {start}…")
            }
        }
    }
}

/// Who signed, once a signature has verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSigner {
    /// The principal that was checked (the record's requester email).
    pub principal: String,
    /// `SHA256:…` of the signing key.
    pub key_fingerprint: String,
    /// The `allowed_signers` line that allowed it.
    pub line: usize,
    /// `sha256` or `sha512`: the hash the signature was made over.
    pub hash_alg: &'static str,
}

/// Signs `message` with `ssh-keygen`, or in-process when `ssh-keygen` is
/// not on `PATH` and the key is a private key file.
pub fn sign(key: &SigningKey, message: &[u8]) -> Result<String, AuditError> {
    sign_via(OsStr::new("ssh-keygen"), key, message, &[])
}

fn sign_via(
    program: &OsStr,
    key: &SigningKey,
    message: &[u8],
    envs: &[(&str, &OsStr)],
) -> Result<String, AuditError> {
    match keygen_sign(program, key, message, envs) {
        Err(AuditError::SshKeygenMissing) => match key {
            SigningKey::File(path) => sign_in_process(path, message),
            SigningKey::Agent(_) => Err(AuditError::SigningKey {
                key: key.to_string(),
                why: "`ssh-keygen` is not on PATH, and a key held by ssh-agent can only be used through it".into(),
            }),
        },
        other => other,
    }
}

/// Signs `message` with `ssh-keygen -Y sign -n tollgate`; returns the
/// base64 SSHSIG blob.
pub fn sign_with_ssh_keygen(key: &SigningKey, message: &[u8]) -> Result<String, AuditError> {
    keygen_sign(OsStr::new("ssh-keygen"), key, message, &[])
}

fn keygen_sign(
    program: &OsStr,
    key: &SigningKey,
    message: &[u8],
    envs: &[(&str, &OsStr)],
) -> Result<String, AuditError> {
    let mut cmd = Command::new(program);
    cmd.env("LC_ALL", "C")
        .args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // Kept alive until ssh-keygen has finished with it.
    let _literal_file;
    match key {
        SigningKey::File(path) => {
            cmd.arg(path);
        }
        SigningKey::Agent(literal) => {
            let file = write_literal(literal).map_err(|source| AuditError::Io {
                what: "write a temporary public key file for",
                path: PathBuf::from(key.to_string()),
                source,
            })?;
            // `-U`: the private half is in ssh-agent (what git passes too).
            cmd.arg(file.path()).arg("-U");
            _literal_file = file;
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(AuditError::SshKeygenMissing),
        Err(source) => {
            return Err(AuditError::Io {
                what: "run",
                path: PathBuf::from(program),
                source,
            })
        }
    };
    // ssh-keygen reads all of stdin before it writes anything, so writing
    // first cannot dead-lock. A broken pipe means it failed early: its exit
    // status and stderr say why.
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(message) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(AuditError::Io {
                    what: "write the message to",
                    path: PathBuf::from(program),
                    source,
                });
            }
        }
    }
    let out = child.wait_with_output().map_err(|source| AuditError::Io {
        what: "run",
        path: PathBuf::from(program),
        source,
    })?;
    if !out.status.success() {
        return Err(AuditError::SshKeygen {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let body = dearmor(&stdout).ok_or_else(|| AuditError::SshKeygen {
        status: "no signature in its output".into(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })?;
    // Refuse to hand back anything that would not verify as ours.
    let sig = decode(&body)?;
    if sig.namespace() != NAMESPACE {
        return Err(AuditError::WrongNamespace {
            found: sig.namespace().to_owned(),
        });
    }
    Ok(body)
}

fn write_literal(literal: &str) -> io::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(".tollgate-signingkey-")
        .suffix(".pub")
        .tempfile()?;
    writeln!(file, "{}", literal.trim())?;
    file.flush()?;
    Ok(file)
}

/// Signs `message` in-process with an unencrypted OpenSSH private key file
/// (SHA-512, as `ssh-keygen` does); returns the base64 SSHSIG blob.
pub fn sign_in_process(private_key: &Path, message: &[u8]) -> Result<String, AuditError> {
    let key = read_private_key(private_key)?;
    let sig =
        key.sign(NAMESPACE, HashAlg::Sha512, message)
            .map_err(|e| AuditError::SigningKey {
                key: private_key.display().to_string(),
                why: format!("cannot sign: {e}"),
            })?;
    encode(&sig)
}

fn read_private_key(path: &Path) -> Result<PrivateKey, AuditError> {
    let bad = |why: String| AuditError::SigningKey {
        key: path.display().to_string(),
        why,
    };
    let key = PrivateKey::read_openssh_file(path)
        .map_err(|e| bad(format!("not an OpenSSH private key: {e}")))?;
    if key.is_encrypted() {
        return Err(bad(
            "the key is passphrase-protected; in-process signing needs an unencrypted key (install `ssh-keygen` to sign through it or ssh-agent)"
                .into(),
        ));
    }
    Ok(key)
}

/// Verifies that `signature_b64` is a `tollgate` signature over `message`
/// by a key that `signers` allows for `principal` at `at`.
pub fn verify(
    message: &[u8],
    signature_b64: &str,
    signers: &AllowedSigners,
    principal: &str,
    at: DateTime<Utc>,
) -> Result<VerifiedSigner, AuditError> {
    let sig = decode(signature_b64)?;
    if sig.version() != SshSig::VERSION {
        return Err(AuditError::MalformedSignature {
            why: format!("unsupported SSHSIG version {}", sig.version()),
        });
    }
    if sig.namespace() != NAMESPACE {
        return Err(AuditError::WrongNamespace {
            found: sig.namespace().to_owned(),
        });
    }
    let hash_alg = match sig.hash_alg() {
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha512 => "sha512",
        other => {
            return Err(AuditError::MalformedSignature {
                why: format!("hash algorithm `{other}` is not allowed"),
            })
        }
    };
    let key = PublicKey::from(sig.public_key().clone());
    let key_fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    key.verify(NAMESPACE, message, &sig)
        .map_err(|_| AuditError::BadSignature {
            key_fingerprint: key_fingerprint.clone(),
        })?;

    let not_allowed = |why: String| AuditError::SignerNotAllowed {
        key_fingerprint: key_fingerprint.clone(),
        principal: principal.to_owned(),
        path: signers.path().to_owned(),
        why,
    };
    let mut refusals = Vec::new();
    for entry in signers
        .entries()
        .iter()
        .filter(|e| e.key.key_data() == sig.public_key())
    {
        match entry.permits(principal, NAMESPACE, at) {
            Ok(()) => {
                return Ok(VerifiedSigner {
                    principal: principal.to_owned(),
                    key_fingerprint,
                    line: entry.line,
                    hash_alg,
                })
            }
            Err(why) => refusals.push(why),
        }
    }
    if refusals.is_empty() {
        Err(not_allowed("the key is not listed".into()))
    } else {
        Err(not_allowed(refusals.join("; ")))
    }
}

/// `SHA256:…` of the key that made a signature (without verifying it).
pub fn signature_key_fingerprint(signature_b64: &str) -> Result<String, AuditError> {
    let sig = decode(signature_b64)?;
    Ok(PublicKey::from(sig.public_key().clone())
        .fingerprint(HashAlg::Sha256)
        .to_string())
}

/// The armored form `ssh-keygen -Y verify -s` reads, from the one-line
/// base64 body.
pub fn armor(signature_b64: &str) -> String {
    let mut out = String::with_capacity(signature_b64.len() + 80);
    out.push_str(ARMOR_BEGIN);
    out.push('\n');
    let bytes = signature_b64.as_bytes();
    for chunk in bytes.chunks(ARMOR_WIDTH) {
        // The body is checked to be ASCII before it gets here or it fails
        // to decode afterwards; lossy conversion cannot hide anything.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(ARMOR_END);
    out.push('\n');
    out
}

/// The base64 body of an armored signature, without line breaks.
fn dearmor(text: &str) -> Option<String> {
    let start = text.find(ARMOR_BEGIN)? + ARMOR_BEGIN.len();
    let end = start + text[start..].find(ARMOR_END)?;
    let body: String = text[start..end].split_whitespace().collect();
    (!body.is_empty()).then_some(body)
}

fn decode(signature_b64: &str) -> Result<SshSig, AuditError> {
    let malformed = |why: String| AuditError::MalformedSignature { why };
    if signature_b64.is_empty() {
        return Err(malformed("empty".into()));
    }
    if let Some(c) = signature_b64
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(malformed(format!("{c:?} is not a base64 character")));
    }
    SshSig::from_pem(armor(signature_b64)).map_err(|e| malformed(e.to_string()))
}

fn encode(sig: &SshSig) -> Result<String, AuditError> {
    let pem = sig
        .to_pem(LineEnding::LF)
        .map_err(|e| AuditError::MalformedSignature {
            why: format!("cannot encode: {e}"),
        })?;
    dearmor(&pem).ok_or_else(|| AuditError::MalformedSignature {
        why: "cannot encode: no armored body".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tempfile::TempDir;

    const MSG: &[u8] = b"{\"v\":1,\"reason\":\"hotfix\"}";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn run(cmd: &mut Command) -> std::process::Output {
        let out = cmd.env("LC_ALL", "C").output().expect("run ssh-keygen");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A fresh ed25519 key pair `<dir>/<name>` (+ `.pub`), made by ssh-keygen.
    fn keygen(dir: &Path, name: &str, passphrase: &str) -> PathBuf {
        let path = dir.join(name);
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "test", "-f"])
            .arg(&path));
        path
    }

    fn public(key: &Path) -> String {
        let mut p = key.as_os_str().to_owned();
        p.push(".pub");
        fs::read_to_string(p).unwrap().trim().to_owned()
    }

    fn signers(text: &str) -> AllowedSigners {
        AllowedSigners::parse(text, Path::new("allowed_signers")).unwrap()
    }

    /// Signs with a raw ssh-keygen call in namespace `ns`.
    fn keygen_sign_raw(dir: &Path, key: &Path, ns: &str) -> String {
        let msg = dir.join("msg");
        fs::write(&msg, MSG).unwrap();
        let _ = fs::remove_file(dir.join("msg.sig"));
        run(Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", ns, "-f"])
            .arg(key)
            .arg(&msg));
        let armored = fs::read_to_string(dir.join("msg.sig")).unwrap();
        dearmor(&armored).unwrap()
    }

    /// `ssh-keygen -Y verify` on our one-line signature.
    fn keygen_verify(
        dir: &Path,
        allowed: &str,
        principal: &str,
        sig_b64: &str,
        msg: &[u8],
    ) -> bool {
        fs::write(dir.join("as"), allowed).unwrap();
        fs::write(dir.join("sig"), armor(sig_b64)).unwrap();
        let mut child = Command::new("ssh-keygen")
            .env("LC_ALL", "C")
            .args(["-Y", "verify", "-n", "tollgate", "-f"])
            .arg(dir.join("as"))
            .args(["-I", principal, "-s"])
            .arg(dir.join("sig"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(msg).unwrap();
        child.wait().unwrap().success()
    }

    #[test]
    fn ssh_keygen_signature_verifies_in_process() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_with_ssh_keygen(&SigningKey::File(key.clone()), MSG).unwrap();
        assert!(!sig.contains('\n') && !sig.contains("BEGIN"));
        let allowed = signers(&format!("alice@example.com {}\n", public(&key)));
        let who = verify(MSG, &sig, &allowed, "alice@example.com", now()).unwrap();
        assert_eq!(who.line, 1);
        assert_eq!(who.hash_alg, "sha512");
        assert_eq!(
            who.key_fingerprint,
            SigningKey::File(key.clone()).key_fingerprint().unwrap()
        );
        assert_eq!(
            signature_key_fingerprint(&sig).unwrap(),
            who.key_fingerprint
        );
        // Same fingerprint as `ssh-keygen -l` prints.
        let listed = run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(dir.path().join("key.pub")));
        assert!(String::from_utf8_lossy(&listed.stdout).contains(&who.key_fingerprint));
    }

    #[test]
    fn in_process_signature_verifies_with_ssh_keygen() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let allowed = format!(
            "alice@example.com namespaces=\"tollgate\" {}\n",
            public(&key)
        );
        assert!(keygen_verify(
            dir.path(),
            &allowed,
            "alice@example.com",
            &sig,
            MSG
        ));
        // The same check fails on another message, principal or namespace,
        // so the positive result above means something.
        assert!(!keygen_verify(
            dir.path(),
            &allowed,
            "alice@example.com",
            &sig,
            b"other"
        ));
        assert!(!keygen_verify(
            dir.path(),
            &allowed,
            "bob@example.com",
            &sig,
            MSG
        ));
        verify(MSG, &sig, &signers(&allowed), "alice@example.com", now()).unwrap();
    }

    #[test]
    fn falls_back_to_in_process_without_ssh_keygen() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let missing = OsStr::new("/nonexistent/ssh-keygen");
        let sig = sign_via(missing, &SigningKey::File(key.clone()), MSG, &[]).unwrap();
        let allowed = signers(&format!("a@x.com {}", public(&key)));
        verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap();
        // A key in ssh-agent cannot be used without ssh-keygen.
        let agent = SigningKey::Agent(public(&key));
        let err = sign_via(missing, &agent, MSG, &[]).unwrap_err();
        assert!(err.to_string().contains("not on PATH"), "{err}");
    }

    #[test]
    fn encrypted_key_is_refused_in_process() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "correct horse");
        let err = sign_in_process(&key, MSG).unwrap_err();
        assert!(err.to_string().contains("passphrase-protected"), "{err}");
        // Its public key is still readable from the `.pub` beside it.
        assert!(SigningKey::File(key)
            .key_fingerprint()
            .unwrap()
            .starts_with("SHA256:"));
    }

    #[test]
    fn agent_held_key_signs_through_ssh_keygen() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sock = dir.path().join("agent.sock");
        /// Stops the agent even when an assertion fails.
        struct Agent(std::process::Child);
        impl Drop for Agent {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let _agent = Agent(
            Command::new("ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(&sock)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        // Wait for the agent to listen (a process to start, not time to pass).
        for _ in 0..500 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        run(Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", &sock)
            .arg(&key));
        // Move the private key away: only the agent can sign now.
        fs::rename(&key, dir.path().join("moved")).unwrap();
        let literal = SigningKey::from_config(&format!("key::{}", public(&key)));
        assert!(matches!(literal, SigningKey::Agent(_)));
        let sig = sign_via(
            OsStr::new("ssh-keygen"),
            &literal,
            MSG,
            &[("SSH_AUTH_SOCK", sock.as_os_str())],
        )
        .unwrap();
        let allowed = signers(&format!("a@x.com {}", public(&key)));
        verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap();
    }

    #[test]
    fn ssh_keygen_failure_is_reported() {
        let dir = TempDir::new().unwrap();
        let err =
            sign_with_ssh_keygen(&SigningKey::File(dir.path().join("nope")), MSG).unwrap_err();
        assert!(matches!(err, AuditError::SshKeygen { .. }), "{err}");
    }

    #[test]
    fn wrong_namespace_is_refused() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = keygen_sign_raw(dir.path(), &key, "git");
        let allowed = signers(&format!("a@x.com {}", public(&key)));
        let err = verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap_err();
        assert!(
            matches!(&err, AuditError::WrongNamespace { found } if found == "git"),
            "{err}"
        );
        // While a `tollgate` one from the same key passes.
        let sig = keygen_sign_raw(dir.path(), &key, "tollgate");
        verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap();
    }

    #[test]
    fn key_not_listed_is_refused() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let other = keygen(dir.path(), "other", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let allowed = signers(&format!("a@x.com {}", public(&other)));
        let err = verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("the key is not listed"), "{err}");
    }

    #[test]
    fn principal_mismatch_and_negation_are_refused() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let allowed = signers(&format!("alice@x.com {}", public(&key)));
        let err = verify(MSG, &sig, &allowed, "bob@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("principal `bob@x.com`"), "{err}");

        let allowed = signers(&format!("*@x.com,!eve@x.com {}", public(&key)));
        verify(MSG, &sig, &allowed, "bob@x.com", now()).unwrap();
        let err = verify(MSG, &sig, &allowed, "eve@x.com", now()).unwrap_err();
        assert!(matches!(err, AuditError::SignerNotAllowed { .. }), "{err}");
    }

    #[test]
    fn namespaces_option_is_enforced() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let allowed = signers(&format!("a@x.com namespaces=\"git\" {}", public(&key)));
        let err = verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("namespace `tollgate`"), "{err}");
    }

    #[test]
    fn validity_window_is_enforced_and_a_later_line_can_allow() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let pk = public(&key);
        let expired = format!("a@x.com valid-before=\"20250101Z\" {pk}\n");
        let err = verify(MSG, &sig, &signers(&expired), "a@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        let future = format!("a@x.com valid-after=\"20300101Z\" {pk}\n");
        let err = verify(MSG, &sig, &signers(&future), "a@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("not yet valid"), "{err}");
        // A key rotated back in on a later line.
        let both = format!("{expired}a@x.com valid-after=\"20250501Z\" {pk}\n");
        assert_eq!(
            verify(MSG, &sig, &signers(&both), "a@x.com", now())
                .unwrap()
                .line,
            2
        );
    }

    #[test]
    fn tampered_message_and_truncated_signature_are_refused() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_with_ssh_keygen(&SigningKey::File(key.clone()), MSG).unwrap();
        let allowed = signers(&format!("a@x.com {}", public(&key)));
        let err = verify(
            b"{\"v\":1,\"reason\":\"hotfix!\"}",
            &sig,
            &allowed,
            "a@x.com",
            now(),
        )
        .unwrap_err();
        assert!(matches!(err, AuditError::BadSignature { .. }), "{err}");

        for bad in [
            &sig[..sig.len() - 8],
            &sig[..20],
            "",
            "!!!!",
            "c2lnbmF0dXJl",
        ] {
            let err = verify(MSG, bad, &allowed, "a@x.com", now()).unwrap_err();
            assert!(
                matches!(err, AuditError::MalformedSignature { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn signing_key_from_config() {
        assert_eq!(
            SigningKey::from_config("key::ssh-ed25519 AAAA c"),
            SigningKey::Agent("ssh-ed25519 AAAA c".into())
        );
        assert_eq!(
            SigningKey::from_config("ssh-ed25519 AAAA"),
            SigningKey::Agent("ssh-ed25519 AAAA".into())
        );
        assert_eq!(
            SigningKey::from_config("/k/id_ed25519"),
            SigningKey::File("/k/id_ed25519".into())
        );
    }
}
