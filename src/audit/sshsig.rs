//! SSH signatures (SSHSIG, `PROTOCOL.sshsig`) over audit records, always in
//! the namespace `tollgate`, never `git`: a signature made for a commit can
//! then never pass as an audit record, nor the other way round.
//!
//! Key types ([`KeyAlgorithm`]): ed25519, ECDSA P-256/P-384/P-521, RSA
//! (`rsa-sha2-256` / `rsa-sha2-512` signatures; `ssh-rsa` SHA-1 signatures
//! are refused, as OpenSSH refuses them), and the FIDO security-key types
//! `sk-ssh-ed25519@openssh.com` and `sk-ecdsa-sha2-nistp256@openssh.com`.
//!
//! Signing goes through `ssh-keygen -Y sign` so that keys held by ssh-agent,
//! hardware keys and passphrase prompts work exactly as they do for git;
//! when `ssh-keygen` is missing, an unencrypted ed25519 or ECDSA private key
//! file is signed in-process. RSA keys are never used in-process: the `rsa`
//! crate's private-key operations are open to the Marvin timing attack
//! (RUSTSEC-2023-0071), and tollgate only ever *verifies* RSA signatures,
//! which that advisory does not concern. Security keys need the
//! authenticator, so they sign only through `ssh-keygen`.
//!
//! Verification is always in-process (no subprocess on the CI path) against
//! an [`AllowedSigners`](super::allowed_signers::AllowedSigners) list. For security keys the signed data carries the
//! authenticator's flags and counter (`PROTOCOL.u2f`); `ssh-key` checks them
//! as part of the signature, and this module then applies the signer line's
//! rules: the user-presence flag is required unless the line says
//! `no-touch-required`, the user-verification flag when it says
//! `verify-required` (the rules `sshd` applies to `authorized_keys`).
//! [`VerifiedSigner::presence`] tells callers what the signature proves.
//!
//! A signature travels as the base64 body of the armored
//! `-----BEGIN SSH SIGNATURE-----` block, on one line, so a record stays one
//! line.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64, Encoding as _};
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use super::AuditError;

/// The SSHSIG namespace of every tollgate signature.
pub const NAMESPACE: &str = "tollgate";

const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";
/// `ssh-keygen` wraps the armored body at 70 characters.
const ARMOR_WIDTH: usize = 70;

/// The smallest RSA modulus `ssh-key` verifies with (and OpenSSH's default
/// has been larger for years); a shorter key is refused up front rather
/// than failing later as a bad signature.
pub const RSA_MIN_BITS: usize = 2048;

/// `PROTOCOL.u2f`: the flag an authenticator sets when it was touched.
pub const SK_USER_PRESENT: u8 = 0x01;
/// `PROTOCOL.u2f`: the flag an authenticator sets when it verified the user
/// (PIN or biometric).
pub const SK_USER_VERIFIED: u8 = 0x04;

/// The key types tollgate signs with and verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAlgorithm {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
    /// `ssh-rsa` keys (signatures `rsa-sha2-256` / `rsa-sha2-512` only).
    Rsa,
    /// `sk-ssh-ed25519@openssh.com`: ed25519 on a FIDO security key.
    SkEd25519,
    /// `sk-ecdsa-sha2-nistp256@openssh.com`: P-256 on a FIDO security key.
    SkEcdsaP256,
}

impl KeyAlgorithm {
    /// Every supported type, for messages.
    pub const ALL: [KeyAlgorithm; 7] = [
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::EcdsaP521,
        KeyAlgorithm::Rsa,
        KeyAlgorithm::SkEd25519,
        KeyAlgorithm::SkEcdsaP256,
    ];

    /// The key type of `key`, or why tollgate cannot use it.
    pub fn of(key: &KeyData) -> Result<KeyAlgorithm, String> {
        let alg = match key.algorithm() {
            Algorithm::Ed25519 => KeyAlgorithm::Ed25519,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            } => KeyAlgorithm::EcdsaP256,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP384,
            } => KeyAlgorithm::EcdsaP384,
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP521,
            } => KeyAlgorithm::EcdsaP521,
            Algorithm::Rsa { .. } => {
                let bits = key
                    .rsa()
                    .and_then(|k| k.n.as_positive_bytes())
                    .map(|n| n.len() * 8 - n[0].leading_zeros() as usize)
                    .unwrap_or(0);
                if bits < RSA_MIN_BITS {
                    return Err(format!(
                        "RSA key of {bits} bits is too short: tollgate needs at least {RSA_MIN_BITS}"
                    ));
                }
                KeyAlgorithm::Rsa
            }
            Algorithm::SkEd25519 => KeyAlgorithm::SkEd25519,
            Algorithm::SkEcdsaSha2NistP256 => KeyAlgorithm::SkEcdsaP256,
            other => return Err(unsupported_type(other.as_str())),
        };
        Ok(alg)
    }

    /// The OpenSSH key type name, as written in `allowed_signers`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ssh-ed25519",
            KeyAlgorithm::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-sha2-nistp384",
            KeyAlgorithm::EcdsaP521 => "ecdsa-sha2-nistp521",
            KeyAlgorithm::Rsa => "ssh-rsa",
            KeyAlgorithm::SkEd25519 => "sk-ssh-ed25519@openssh.com",
            KeyAlgorithm::SkEcdsaP256 => "sk-ecdsa-sha2-nistp256@openssh.com",
        }
    }

    /// Whether the key lives on a FIDO security key (its signatures carry
    /// user-presence and user-verification flags).
    pub fn is_security_key(self) -> bool {
        matches!(self, KeyAlgorithm::SkEd25519 | KeyAlgorithm::SkEcdsaP256)
    }

    /// Whether a signature of type `sig` may come from a key of this type
    /// (OpenSSH's rule: the same type, and for RSA only the SHA-2 forms).
    fn accepts_signature(self, sig: &Algorithm) -> bool {
        match (self, sig) {
            (KeyAlgorithm::Ed25519, Algorithm::Ed25519) => true,
            (KeyAlgorithm::EcdsaP256, Algorithm::Ecdsa { curve }) => *curve == EcdsaCurve::NistP256,
            (KeyAlgorithm::EcdsaP384, Algorithm::Ecdsa { curve }) => *curve == EcdsaCurve::NistP384,
            (KeyAlgorithm::EcdsaP521, Algorithm::Ecdsa { curve }) => *curve == EcdsaCurve::NistP521,
            (KeyAlgorithm::Rsa, Algorithm::Rsa { hash }) => {
                matches!(hash, Some(HashAlg::Sha256 | HashAlg::Sha512))
            }
            (KeyAlgorithm::SkEd25519, Algorithm::SkEd25519) => true,
            (KeyAlgorithm::SkEcdsaP256, Algorithm::SkEcdsaSha2NistP256) => true,
            _ => false,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message for a key type tollgate does not handle.
pub(crate) fn unsupported_type(kind: &str) -> String {
    let all: Vec<&str> = KeyAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
    format!(
        "key type `{kind}` is not supported (tollgate uses {})",
        all.join(", ")
    )
}

/// Parses an OpenSSH public key line, with a message naming the key type
/// when `ssh-key` does not know it (its own says only "unknown algorithm").
pub(crate) fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let kind = text.split_whitespace().next().unwrap_or("");
    if kind.contains("-cert-v01@") {
        return Err(format!(
            "`{kind}` is a certificate: tollgate verifies plain keys only"
        ));
    }
    if !KeyAlgorithm::ALL.iter().any(|a| a.as_str() == kind) {
        return Err(unsupported_type(kind));
    }
    let key = PublicKey::from_openssh(text)
        .map_err(|e| format!("cannot parse `{kind}` public key: {e}"))?;
    KeyAlgorithm::of(key.key_data())?;
    Ok(key)
}

/// What a security key's flags say about the person at the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Presence {
    /// No proof that anyone touched a key: a plain key, or a security-key
    /// signature without the user-presence flag.
    None,
    /// A security key was touched (user-presence flag).
    Present,
    /// Touched, and the key verified the user (PIN or biometric): both the
    /// user-presence and user-verification flags.
    PresentVerified,
}

impl Presence {
    /// `none`, `present` or `present+verified`, for messages and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::None => "none",
            Presence::Present => "present",
            Presence::PresentVerified => "present+verified",
        }
    }
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticator data of a security-key signature (`PROTOCOL.u2f`):
/// flags and counter, both covered by the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkFlags {
    /// The raw flags byte.
    pub flags: u8,
    /// The authenticator's signature counter.
    pub counter: u32,
}

impl SkFlags {
    /// Flag 0x01: the key was touched.
    pub fn user_present(self) -> bool {
        self.flags & SK_USER_PRESENT != 0
    }

    /// Flag 0x04: the key verified the user (PIN or biometric).
    pub fn user_verified(self) -> bool {
        self.flags & SK_USER_VERIFIED != 0
    }

    /// Flags and counter from the raw signature bytes of an `sk-` signature,
    /// which `ssh-key` keeps as the signature followed by the flags byte and
    /// the big-endian counter.
    fn from_signature(bytes: &[u8]) -> Option<SkFlags> {
        let tail = bytes.len().checked_sub(5).map(|at| &bytes[at..])?;
        Some(SkFlags {
            flags: tail[0],
            counter: u32::from_be_bytes([tail[1], tail[2], tail[3], tail[4]]),
        })
    }
}

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

/// How a usable key will sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignVia {
    /// `ssh-keygen -Y sign` with the private key file (it may prompt for a
    /// passphrase, a PIN or a touch).
    SshKeygen,
    /// `ssh-keygen -Y sign -U`: the private half is in ssh-agent.
    SshAgent,
    /// In-process, from an unencrypted ed25519 or ECDSA key file
    /// (`ssh-keygen` is not on `PATH`).
    InProcess,
}

/// What [`SigningKey::check_usable`] found out about a key.
#[derive(Debug, Clone)]
pub struct UsableKey {
    /// The public key.
    pub public_key: PublicKey,
    /// Its type.
    pub algorithm: KeyAlgorithm,
    /// `SHA256:…` of the public key.
    pub key_fingerprint: String,
    /// How it will sign.
    pub via: SignVia,
}

impl SigningKey {
    /// Whether something is there to sign with: ssh-agent (`agent`: it is
    /// running) for a key literal, or for a key file the private key beside
    /// its `.pub` (or ssh-agent holding it).
    pub fn has_signer(&self, agent: bool) -> bool {
        match self {
            SigningKey::Agent(_) => agent,
            SigningKey::File(path) => {
                let private = if path.extension().is_some_and(|e| e == "pub") {
                    path.with_extension("")
                } else {
                    path.clone()
                };
                private.is_file() || agent
            }
        }
    }

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
                parse_public_key(literal).map_err(|e| bad(format!("not a usable public key: {e}")))
            }
            SigningKey::File(path) => {
                let pub_path = self.pub_path().unwrap_or_else(|| path.clone());
                if pub_path.is_file() {
                    let text =
                        std::fs::read_to_string(&pub_path).map_err(|source| AuditError::Io {
                            what: "read",
                            path: pub_path.clone(),
                            source,
                        })?;
                    return parse_public_key(text.trim()).map_err(|e| {
                        bad(format!(
                            "`{}` is not a usable public key: {e}",
                            pub_path.display()
                        ))
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

    /// Checks, without signing anything (no touch, no passphrase), that
    /// this key can make a tollgate signature that verifies: its public key
    /// resolves to a supported type, and there is a way to sign with it
    /// (`ssh-keygen` with the private key file, ssh-agent holding the key,
    /// or an in-process fallback). Call it before minting a token, so that
    /// no token is minted that could not be consumed.
    pub fn check_usable(&self) -> Result<UsableKey, AuditError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let sock = std::env::var_os("SSH_AUTH_SOCK");
        self.check_usable_with(&path, sock.as_deref())
    }

    fn check_usable_with(
        &self,
        search_path: &OsStr,
        auth_sock: Option<&OsStr>,
    ) -> Result<UsableKey, AuditError> {
        let bad = |why: String| AuditError::SigningKey {
            key: self.to_string(),
            why,
        };
        let public_key = self.public_key()?;
        let algorithm = KeyAlgorithm::of(public_key.key_data()).map_err(bad)?;
        let key_fingerprint = public_key.fingerprint(HashAlg::Sha256).to_string();
        let keygen = find_program(search_path, "ssh-keygen");
        let usable = |via| UsableKey {
            public_key: public_key.clone(),
            algorithm,
            key_fingerprint: key_fingerprint.clone(),
            via,
        };
        if let Some(private) = self.private_path() {
            if keygen.is_some() {
                return Ok(usable(SignVia::SshKeygen));
            }
            if algorithm == KeyAlgorithm::Rsa {
                return Err(bad("`ssh-keygen` is not on PATH, and RSA keys sign only through it (tollgate does no RSA private-key operations itself)".into()));
            }
            if algorithm.is_security_key() {
                return Err(bad(
                    "`ssh-keygen` is not on PATH, and a security key signs only through it".into(),
                ));
            }
            read_private_key(&private)?;
            return Ok(usable(SignVia::InProcess));
        }
        // Only the public half is here: the private half must be in ssh-agent.
        if keygen.is_none() {
            return Err(bad("`ssh-keygen` is not on PATH, and a key held by ssh-agent can only be used through it".into()));
        }
        let Some(sock) = auth_sock.filter(|s| !s.is_empty()) else {
            return Err(bad("no private key file beside it and `SSH_AUTH_SOCK` is not set: start ssh-agent and `ssh-add` the key, or point the setting at the private key file".into()));
        };
        if let Some(ssh_add) = find_program(search_path, "ssh-add") {
            let listed = Command::new(ssh_add)
                .arg("-L")
                .env("SSH_AUTH_SOCK", sock)
                .env("LC_ALL", "C")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output();
            if let Ok(out) = listed {
                let text = String::from_utf8_lossy(&out.stdout);
                let held = text.lines().any(|l| {
                    PublicKey::from_openssh(l.trim())
                        .is_ok_and(|k| k.key_data() == public_key.key_data())
                });
                if !held {
                    return Err(bad(format!(
                        "ssh-agent at `{}` does not hold this key ({key_fingerprint}), or is not running: `ssh-add` it, or point the setting at the private key file",
                        Path::new(sock).display()
                    )));
                }
            }
        }
        Ok(usable(SignVia::SshAgent))
    }

    /// The `.pub` file that holds this key's public half, when it is a file.
    fn pub_path(&self) -> Option<PathBuf> {
        let SigningKey::File(path) = self else {
            return None;
        };
        if path.extension() == Some(OsStr::new("pub")) {
            return Some(path.clone());
        }
        let mut p = path.clone().into_os_string();
        p.push(".pub");
        Some(PathBuf::from(p))
    }

    /// The private key file, when there is one (`ssh-keygen -Y sign -f
    /// key.pub` finds the private key beside it, as git relies on).
    fn private_path(&self) -> Option<PathBuf> {
        let SigningKey::File(path) = self else {
            return None;
        };
        let private = if path.extension() == Some(OsStr::new("pub")) {
            path.with_extension("")
        } else {
            path.clone()
        };
        private.is_file().then_some(private)
    }
}

/// `name` in one of the directories of `search_path`, when it is there.
fn find_program(search_path: &OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(search_path)
        .map(|d| d.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Who signed, and what the signature proves, once it has verified.
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
    /// The signing key's type.
    pub algorithm: KeyAlgorithm,
    /// The signature algorithm (`rsa-sha2-512`, `ssh-ed25519`, …).
    pub signature_algorithm: String,
    /// For a security key: the authenticator's flags and counter, as signed.
    pub sk: Option<SkFlags>,
}

impl VerifiedSigner {
    /// What the signature proves about a person at the key: `None` for a
    /// plain key (anything with the key file or agent can sign) and for a
    /// security-key signature without the user-presence flag.
    pub fn presence(&self) -> Presence {
        match self.sk {
            Some(f) if f.user_present() && f.user_verified() => Presence::PresentVerified,
            Some(f) if f.user_present() => Presence::Present,
            _ => Presence::None,
        }
    }
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
    let io_err =
        |what: &'static str, path: PathBuf| move |source| AuditError::Io { what, path, source };
    // A security key may ask for a touch and a PIN. ssh-keygen reads the PIN
    // from stdin when stdin is not a terminal, so the message goes in a file
    // and stdin and stderr stay the person's (the touch prompt is OpenSSH's
    // own). Other keys get the message on stdin and their stderr captured.
    let security_key = key
        .public_key()
        .ok()
        .and_then(|k| KeyAlgorithm::of(k.key_data()).ok())
        .is_some_and(KeyAlgorithm::is_security_key);
    let mut cmd = Command::new(program);
    cmd.env("LC_ALL", "C");
    if security_key {
        // Quiet leaves only the prompts ("Confirm user presence for key …").
        cmd.arg("-q");
    }
    cmd.args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .stdout(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    // Kept alive until ssh-keygen has finished with them.
    let _literal_file;
    let message_dir;
    match key {
        SigningKey::File(path) => {
            cmd.arg(path);
        }
        SigningKey::Agent(literal) => {
            let file = write_literal(literal).map_err(io_err(
                "write a temporary public key file for",
                PathBuf::from(key.to_string()),
            ))?;
            // `-U`: the private half is in ssh-agent (what git passes too).
            cmd.arg(file.path()).arg("-U");
            _literal_file = file;
        }
    }
    let sig_file = if security_key {
        message_dir = tempfile::Builder::new()
            .prefix(".tollgate-sign-")
            .tempdir()
            .map_err(io_err(
                "create a temporary directory in",
                std::env::temp_dir(),
            ))?;
        let msg = message_dir.path().join("message");
        std::fs::write(&msg, message).map_err(io_err("write", msg.clone()))?;
        cmd.arg(&msg)
            .stdin(Stdio::inherit())
            .stderr(Stdio::inherit());
        Some(message_dir.path().join("message.sig"))
    } else {
        cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
        None
    };
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
    let out = child
        .wait_with_output()
        .map_err(io_err("run", PathBuf::from(program)))?;
    let stderr = if security_key {
        "(its message is above)".to_owned()
    } else {
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    };
    if !out.status.success() {
        return Err(AuditError::SshKeygen {
            status: out.status.to_string(),
            stderr,
        });
    }
    let armored = match &sig_file {
        Some(p) => std::fs::read_to_string(p).map_err(io_err("read", p.clone()))?,
        None => String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    let body = dearmor(&armored).ok_or_else(|| AuditError::SshKeygen {
        status: "no signature in its output".into(),
        stderr: stderr.clone(),
    })?;
    // Refuse to hand back anything that would not verify as ours: the right
    // namespace, over exactly `message` (a PIN read from the message, a
    // wrapper script or a confused agent would show here, not in CI).
    let sig = decode(&body)?;
    if sig.namespace() != NAMESPACE {
        return Err(AuditError::WrongNamespace {
            found: sig.namespace().to_owned(),
        });
    }
    let signer = PublicKey::from(sig.public_key().clone());
    signer
        .verify(NAMESPACE, message, &sig)
        .map_err(|_| AuditError::SshKeygen {
            status: "its signature does not verify over the message".into(),
            stderr,
        })?;
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

/// Signs `message` in-process with an unencrypted OpenSSH ed25519 or ECDSA
/// private key file (SHA-512, as `ssh-keygen` does); returns the base64
/// SSHSIG blob. RSA and security keys are refused (see the module notes).
pub fn sign_in_process(private_key: &Path, message: &[u8]) -> Result<String, AuditError> {
    let bad = |why: String| AuditError::SigningKey {
        key: private_key.display().to_string(),
        why,
    };
    let key = read_private_key(private_key)?;
    match KeyAlgorithm::of(key.public_key().key_data()).map_err(bad)? {
        KeyAlgorithm::Ed25519
        | KeyAlgorithm::EcdsaP256
        | KeyAlgorithm::EcdsaP384
        | KeyAlgorithm::EcdsaP521 => {}
        KeyAlgorithm::Rsa => {
            return Err(bad("RSA keys sign only through `ssh-keygen` (tollgate does no RSA private-key operations itself); install it".into()))
        }
        KeyAlgorithm::SkEd25519 | KeyAlgorithm::SkEcdsaP256 => {
            return Err(bad(
                "a security key signs only through `ssh-keygen`; install it".into(),
            ))
        }
    }
    let sig = key
        .sign(NAMESPACE, HashAlg::Sha512, message)
        .map_err(|e| bad(format!("cannot sign: {e}")))?;
    encode(&sig)
}

fn read_private_key(path: &Path) -> Result<PrivateKey, AuditError> {
    let bad = |why: String| AuditError::SigningKey {
        key: path.display().to_string(),
        why,
    };
    let key = PrivateKey::read_openssh_file(path).map_err(|e| match e {
        // ssh-key 0.6.7 reads an ECDSA private scalar only at its full
        // width, so a key whose scalar starts with a zero byte (about half
        // of all P-521 keys, 1 in 256 others) cannot be read in-process.
        // (`ssh_key::Error::Encoding(Length)`; the encoding error type is
        // not public, so it is recognised by its message.)
        ssh_key::Error::Encoding(_) if e.to_string() == "length invalid" => bad(format!(
            "cannot read the private key in-process ({e}; some ECDSA keys cannot be read without `ssh-keygen`): install `ssh-keygen` to sign through it"
        )),
        e => bad(format!("not an OpenSSH private key: {e}")),
    })?;
    if key.is_encrypted() {
        return Err(bad(
            "the key is passphrase-protected; in-process signing needs an unencrypted key (install `ssh-keygen` to sign through it or ssh-agent)"
                .into(),
        ));
    }
    Ok(key)
}

/// A signature whose bytes verified against the key inside it: the key
/// is not yet known to be anyone's (`allowed_signers::verify` looks it up).
#[derive(Debug, Clone)]
pub struct CheckedSignature {
    /// The key that made it, as carried in the signature.
    pub key: ssh_key::public::KeyData,
    /// `SHA256:…` of that key.
    pub key_fingerprint: String,
    /// `sha256` or `sha512`.
    pub hash_alg: &'static str,
    /// The key's type.
    pub algorithm: KeyAlgorithm,
    /// The signature algorithm (`rsa-sha2-512`, `ssh-ed25519`, …).
    pub signature_algorithm: String,
    /// For a security key: the flags and counter, as signed.
    pub sk: Option<SkFlags>,
}

/// Checks that `signature_b64` is a well-formed `tollgate` signature over
/// `message` by the key it carries. Who that key belongs to is the signer
/// list's question, not this one's.
pub fn check_signature(
    message: &[u8],
    signature_b64: &str,
) -> Result<CheckedSignature, AuditError> {
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
    let algorithm =
        KeyAlgorithm::of(sig.public_key()).map_err(|why| AuditError::UnsupportedAlgorithm {
            algorithm: sig.public_key().algorithm().as_str().to_owned(),
            why,
        })?;
    let sig_alg = sig.signature().algorithm();
    if !algorithm.accepts_signature(&sig_alg) {
        return Err(AuditError::MalformedSignature {
            why: format!(
                "a `{}` signature cannot come from a `{algorithm}` key",
                sig_alg.as_str()
            ),
        });
    }
    key.verify(NAMESPACE, message, &sig)
        .map_err(|_| AuditError::BadSignature {
            key_fingerprint: key_fingerprint.clone(),
        })?;
    // The flags are part of what was signed (`ssh-key` rebuilds the signed
    // data from them), so they can be trusted once the signature verified.
    let sk = if algorithm.is_security_key() {
        Some(
            SkFlags::from_signature(sig.signature().as_bytes()).ok_or_else(|| {
                AuditError::MalformedSignature {
                    why: "security-key signature without flags and counter".into(),
                }
            })?,
        )
    } else {
        None
    };
    Ok(CheckedSignature {
        key: sig.public_key().clone(),
        key_fingerprint,
        hash_alg,
        algorithm,
        signature_algorithm: sig_alg.as_str().to_owned(),
        sk,
    })
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
    SshSig::from_pem(armor(signature_b64)).map_err(|e| {
        // `ssh-key` cannot even decode an `ssh-rsa` (SHA-1) signature; say
        // so plainly rather than "malformed".
        match peek_signature_algorithm(signature_b64).as_deref() {
            Some("ssh-rsa") => AuditError::UnsupportedAlgorithm {
                algorithm: "ssh-rsa".into(),
                why: "RSA signatures with SHA-1 are refused, as OpenSSH refuses them for SSHSIG; sign with `rsa-sha2-512` (what `ssh-keygen -Y sign` makes)".into(),
            },
            _ => malformed(e.to_string()),
        }
    })
}

/// The signature algorithm named inside an SSHSIG blob (`PROTOCOL.sshsig`:
/// magic, version, public key, namespace, reserved, hash algorithm, then the
/// signature whose first string is its algorithm), for error messages only.
fn peek_signature_algorithm(signature_b64: &str) -> Option<String> {
    fn string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let s = b.get(4..4usize.checked_add(len)?)?;
        *b = &b[4 + len..];
        Some(s)
    }
    let blob = Base64::decode_vec(signature_b64).ok()?;
    let mut b = blob.strip_prefix(b"SSHSIG")?.get(4..)?;
    for _ in 0..4 {
        string(&mut b)?; // public key, namespace, reserved, hash algorithm
    }
    let mut sig = string(&mut b)?;
    let alg = string(&mut sig)?;
    String::from_utf8(alg.to_vec()).ok()
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
    use crate::audit::allowed_signers::{verify, AllowedSigners};
    use chrono::{DateTime, Utc};
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
        let _agent = start_agent(&sock);
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

    /// OpenSSH's software FIDO authenticator, from Debian's `openssh-tests`
    /// (installed by `.ci/run`).
    const SK_DUMMY: &str = "/usr/lib/openssh/regress/misc/sk-dummy/sk-dummy.so";

    fn sk_provider() -> &'static OsStr {
        assert!(
            Path::new(SK_DUMMY).is_file(),
            "{SK_DUMMY} is missing: install Debian's `openssh-tests` (as .ci/run does)"
        );
        OsStr::new(SK_DUMMY)
    }

    /// A key pair `<dir>/<name>` made by ssh-keygen with `args` (`-t …`);
    /// security keys are made on the software authenticator.
    fn keygen_typed(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
        let path = dir.join(name);
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-N", "", "-C", name]).args(args);
        if args.iter().any(|a| a.ends_with("-sk")) {
            cmd.arg("-w").arg(sk_provider());
        }
        run(cmd.arg("-f").arg(&path).stdin(Stdio::null()));
        path
    }

    /// Every key type, as `ssh-keygen -t` makes it, with what it is.
    const TYPES: [(&str, &[&str], KeyAlgorithm); 7] = [
        ("ed25519", &["-t", "ed25519"], KeyAlgorithm::Ed25519),
        (
            "p256",
            &["-t", "ecdsa", "-b", "256"],
            KeyAlgorithm::EcdsaP256,
        ),
        (
            "p384",
            &["-t", "ecdsa", "-b", "384"],
            KeyAlgorithm::EcdsaP384,
        ),
        (
            "p521",
            &["-t", "ecdsa", "-b", "521"],
            KeyAlgorithm::EcdsaP521,
        ),
        ("rsa", &["-t", "rsa", "-b", "3072"], KeyAlgorithm::Rsa),
        ("sk-ed25519", &["-t", "ed25519-sk"], KeyAlgorithm::SkEd25519),
        ("sk-p256", &["-t", "ecdsa-sk"], KeyAlgorithm::SkEcdsaP256),
    ];

    /// The environment ssh-keygen needs to sign with any of [`TYPES`]: the
    /// software authenticator, and a PIN from an askpass program (never the
    /// terminal of whoever runs the tests).
    fn sign_env(dir: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
        let askpass = dir.join("askpass.sh");
        fs::write(&askpass, "#!/bin/sh\necho 1234\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&askpass, fs::Permissions::from_mode(0o755)).unwrap();
        vec![
            ("SSH_SK_PROVIDER", sk_provider().to_owned()),
            ("SSH_ASKPASS", askpass.into_os_string()),
            ("SSH_ASKPASS_REQUIRE", "force".into()),
        ]
    }

    fn sign_keygen_env(dir: &Path, key: &Path, msg: &[u8]) -> String {
        let env = sign_env(dir);
        let envs: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
        keygen_sign(
            OsStr::new("ssh-keygen"),
            &SigningKey::File(key.to_owned()),
            msg,
            &envs,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", key.display()))
    }

    #[test]
    fn every_key_type_signs_with_ssh_keygen_and_verifies_both_ways() {
        let dir = TempDir::new().unwrap();
        for (name, args, algorithm) in TYPES {
            let key = keygen_typed(dir.path(), name, args);
            let sig = sign_keygen_env(dir.path(), &key, MSG);
            let line = format!("alice@example.com {}\n", public(&key));
            let allowed = signers(&line);
            assert_eq!(allowed.entries()[0].algorithm, algorithm, "{name}");
            let who = verify(MSG, &sig, &allowed, "alice@example.com", now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(who.algorithm, algorithm, "{name}");
            assert_eq!(who.hash_alg, "sha512", "{name}");
            assert_eq!(
                who.key_fingerprint,
                SigningKey::File(key.clone()).key_fingerprint().unwrap()
            );
            let expected_sig_alg = match algorithm {
                // What `ssh-keygen -Y sign` makes for an RSA key.
                KeyAlgorithm::Rsa => "rsa-sha2-512",
                other => other.as_str(),
            };
            assert_eq!(who.signature_algorithm, expected_sig_alg, "{name}");
            if algorithm.is_security_key() {
                // sk-dummy signs with the flags the key asks for (touch) and
                // a fixed counter.
                let sk = who.sk.expect("security-key flags");
                assert_eq!(sk.flags, SK_USER_PRESENT, "{name}");
                assert_eq!(sk.counter, 0x1234_5678, "{name}");
                assert_eq!(who.presence(), Presence::Present, "{name}");
            } else {
                assert_eq!(who.sk, None, "{name}");
                assert_eq!(who.presence(), Presence::None, "{name}");
            }
            // OpenSSH agrees, and both refuse a tampered message.
            assert!(
                keygen_verify(dir.path(), &line, "alice@example.com", &sig, MSG),
                "{name}: ssh-keygen -Y verify refused a good signature"
            );
            assert!(
                !keygen_verify(dir.path(), &line, "alice@example.com", &sig, b"other"),
                "{name}"
            );
            let err = verify(b"other", &sig, &allowed, "alice@example.com", now()).unwrap_err();
            assert!(
                matches!(err, AuditError::BadSignature { .. }),
                "{name}: {err}"
            );
            // A signature by one type is never taken for another's key.
            let other = keygen_typed(dir.path(), &format!("{name}-other"), args);
            let wrong = signers(&format!("alice@example.com {}\n", public(&other)));
            assert!(verify(MSG, &sig, &wrong, "alice@example.com", now()).is_err());
        }
    }

    #[test]
    fn ed25519_and_ecdsa_sign_in_process_and_ssh_keygen_accepts_them() {
        let dir = TempDir::new().unwrap();
        for (name, args, algorithm) in &TYPES[..4] {
            // Some ECDSA keys cannot be read in-process (see
            // `read_private_key`); try fresh keys until one can, and check
            // that the others say why.
            let mut attempt = 0;
            let (key, sig) = loop {
                attempt += 1;
                let key = keygen_typed(dir.path(), &format!("{name}-{attempt}"), args);
                match sign_in_process(&key, MSG) {
                    Ok(sig) => break (key, sig),
                    Err(e) if attempt < 30 && *algorithm != KeyAlgorithm::Ed25519 => {
                        assert!(e.to_string().contains("install `ssh-keygen`"), "{e}")
                    }
                    Err(e) => panic!("{name}: {e}"),
                }
            };
            let line = format!("a@x.com {}\n", public(&key));
            assert!(
                keygen_verify(dir.path(), &line, "a@x.com", &sig, MSG),
                "{name}"
            );
            let who = verify(MSG, &sig, &signers(&line), "a@x.com", now()).unwrap();
            assert_eq!(who.algorithm, *algorithm);
        }
    }

    #[test]
    fn rsa_and_security_keys_never_sign_in_process() {
        let dir = TempDir::new().unwrap();
        for (name, args, _) in &TYPES[4..] {
            let key = keygen_typed(dir.path(), name, args);
            let err = sign_in_process(&key, MSG).unwrap_err().to_string();
            assert!(err.contains("only through `ssh-keygen`"), "{name}: {err}");
            // Nor does the fallback when ssh-keygen is missing.
            let missing = OsStr::new("/nonexistent/ssh-keygen");
            let err = sign_via(missing, &SigningKey::File(key.clone()), MSG, &[]).unwrap_err();
            assert!(
                err.to_string().contains("only through `ssh-keygen`"),
                "{name}: {err}"
            );
        }
    }

    /// An SSHSIG blob for `key` (an RSA key pair made by ssh-keygen) whose
    /// signature is made by `openssl dgst -<digest>` (PKCS#1 v1.5) and named
    /// `sig_alg`: how a client other than ssh-keygen would sign.
    fn openssl_rsa_sshsig(dir: &Path, key: &Path, digest: &str, sig_alg: &str) -> String {
        // A PEM copy of the private key, which openssl reads.
        let pem = dir.join(format!("rsa-{digest}.pem"));
        fs::copy(key, &pem).unwrap();
        run(Command::new("ssh-keygen")
            .args(["-q", "-p", "-m", "PEM", "-N", "", "-P", "", "-f"])
            .arg(&pem));
        let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, MSG).unwrap();
        let data_path = dir.join("signed-data");
        fs::write(&data_path, &data).unwrap();
        let out = run(Command::new("openssl")
            .args(["dgst", &format!("-{digest}"), "-sign"])
            .arg(&pem)
            .arg(&data_path));
        fn string(out: &mut Vec<u8>, s: &[u8]) {
            out.extend((s.len() as u32).to_be_bytes());
            out.extend(s);
        }
        let public_blob = PublicKey::from_openssh(&public(key))
            .unwrap()
            .to_bytes()
            .unwrap();
        let mut inner = Vec::new();
        string(&mut inner, sig_alg.as_bytes());
        string(&mut inner, &out.stdout);
        let mut blob = b"SSHSIG".to_vec();
        blob.extend(1u32.to_be_bytes());
        string(&mut blob, &public_blob);
        string(&mut blob, NAMESPACE.as_bytes());
        string(&mut blob, b"");
        string(&mut blob, b"sha512");
        string(&mut blob, &inner);
        Base64::encode_string(&blob)
    }

    #[test]
    fn rsa_sha2_256_is_accepted_and_ssh_rsa_sha1_refused_as_openssh_does() {
        let dir = TempDir::new().unwrap();
        let key = keygen_typed(dir.path(), "rsa", &["-t", "rsa", "-b", "2048"]);
        let line = format!("a@x.com {}\n", public(&key));
        let allowed = signers(&line);

        let sha256 = openssl_rsa_sshsig(dir.path(), &key, "sha256", "rsa-sha2-256");
        let who = verify(MSG, &sha256, &allowed, "a@x.com", now()).unwrap();
        assert_eq!(who.signature_algorithm, "rsa-sha2-256");
        assert!(keygen_verify(dir.path(), &line, "a@x.com", &sha256, MSG));

        // A genuine SHA-1 signature by the same key, named `ssh-rsa`.
        let sha1 = openssl_rsa_sshsig(dir.path(), &key, "sha1", "ssh-rsa");
        assert!(
            !keygen_verify(dir.path(), &line, "a@x.com", &sha1, MSG),
            "OpenSSH refuses ssh-rsa SSHSIG signatures"
        );
        let err = verify(MSG, &sha1, &allowed, "a@x.com", now()).unwrap_err();
        assert!(
            matches!(&err, AuditError::UnsupportedAlgorithm { algorithm, .. } if algorithm == "ssh-rsa"),
            "{err}"
        );
        assert!(err.to_string().contains("SHA-1"), "{err}");
        // A SHA-256 signature relabelled as another algorithm fails too.
        let relabelled = openssl_rsa_sshsig(dir.path(), &key, "sha256", "rsa-sha2-512");
        assert!(verify(MSG, &relabelled, &allowed, "a@x.com", now()).is_err());
    }

    #[test]
    fn a_security_key_signature_without_the_presence_flag_fails_unless_the_line_allows_it() {
        let dir = TempDir::new().unwrap();
        for (name, t) in [("ed", "ed25519-sk"), ("ec", "ecdsa-sk")] {
            // `-O no-touch-required`: the authenticator signs without a touch.
            let key = keygen_typed(dir.path(), name, &["-t", t, "-O", "no-touch-required"]);
            let sig = sign_keygen_env(dir.path(), &key, MSG);
            let pk = public(&key);
            let strict = format!("a@x.com {pk}\n");
            let err = verify(MSG, &sig, &signers(&strict), "a@x.com", now()).unwrap_err();
            assert!(matches!(err, AuditError::SignerNotAllowed { .. }), "{err}");
            assert!(
                err.to_string().contains("lacks the user-presence flag"),
                "{name}: {err}"
            );
            // OpenSSH's `ssh-keygen -Y verify` does not look at the flag: it
            // accepts what tollgate refuses.
            assert!(keygen_verify(dir.path(), &strict, "a@x.com", &sig, MSG));

            let relaxed = format!("a@x.com no-touch-required {pk}\n");
            let who = verify(MSG, &sig, &signers(&relaxed), "a@x.com", now()).unwrap();
            assert_eq!(who.sk.unwrap().flags, 0, "{name}");
            // Accepted as a signature, but it proves no presence.
            assert_eq!(who.presence(), Presence::None);
        }
    }

    #[test]
    fn verify_required_needs_the_user_verification_flag() {
        let dir = TempDir::new().unwrap();
        let touch = keygen_typed(dir.path(), "touch", &["-t", "ed25519-sk"]);
        let sig = sign_keygen_env(dir.path(), &touch, MSG);
        let line = format!("a@x.com verify-required {}\n", public(&touch));
        let err = verify(MSG, &sig, &signers(&line), "a@x.com", now()).unwrap_err();
        assert!(
            err.to_string().contains("lacks the user-verification flag"),
            "{err}"
        );
        // A key made with `-O verify-required` asks for a PIN; sk-dummy then
        // sets the user-verification flag (0x04) beside presence (0x01).
        let pin = keygen_typed(
            dir.path(),
            "pin",
            &["-t", "ed25519-sk", "-O", "verify-required"],
        );
        let sig = sign_keygen_env(dir.path(), &pin, MSG);
        let line = format!("a@x.com verify-required {}\n", public(&pin));
        let who = verify(MSG, &sig, &signers(&line), "a@x.com", now()).unwrap();
        assert_eq!(who.sk.unwrap().flags, SK_USER_PRESENT | SK_USER_VERIFIED);
        assert_eq!(who.presence(), Presence::PresentVerified);
        // A plain key never meets `verify-required`.
        let plain = keygen(dir.path(), "plain", "");
        let sig = sign_in_process(&plain, MSG).unwrap();
        let line = format!("a@x.com verify-required {}\n", public(&plain));
        let err = verify(MSG, &sig, &signers(&line), "a@x.com", now()).unwrap_err();
        assert!(err.to_string().contains("needs a security key"), "{err}");
    }

    #[test]
    fn an_ignored_line_for_the_signing_key_is_named_in_the_refusal() {
        let dir = TempDir::new().unwrap();
        let key = keygen(dir.path(), "key", "");
        let sig = sign_in_process(&key, MSG).unwrap();
        let allowed = signers(&format!(
            "# team\na@x.com namespaces=\"tollgate\",bogus=\"1\" {}\n",
            public(&key)
        ));
        assert_eq!(allowed.entries().len(), 0);
        let err = verify(MSG, &sig, &allowed, "a@x.com", now()).unwrap_err();
        assert!(
            err.to_string()
                .contains("line 2 lists this key but is ignored: unknown option `bogus`"),
            "{err}"
        );
    }

    #[test]
    fn check_usable_resolves_every_type_and_how_it_signs() {
        let dir = TempDir::new().unwrap();
        let path = std::env::var_os("PATH").unwrap();
        let no_path = OsStr::new("");
        for (name, args, algorithm) in TYPES {
            let key = keygen_typed(dir.path(), name, args);
            let file = SigningKey::File(key.clone());
            let usable = file.check_usable_with(&path, None).unwrap();
            assert_eq!(usable.algorithm, algorithm);
            assert_eq!(usable.via, SignVia::SshKeygen);
            assert_eq!(usable.key_fingerprint, file.key_fingerprint().unwrap());
            // Without ssh-keygen only ed25519 and ECDSA can sign, and an
            // ECDSA key only when ssh-key can read it (said before minting).
            let alone = file.check_usable_with(no_path, None);
            match algorithm {
                KeyAlgorithm::Rsa | KeyAlgorithm::SkEd25519 | KeyAlgorithm::SkEcdsaP256 => {
                    let err = alone.unwrap_err().to_string();
                    assert!(err.contains("only through it"), "{name}: {err}");
                }
                KeyAlgorithm::Ed25519 => assert_eq!(alone.unwrap().via, SignVia::InProcess),
                _ => match alone {
                    Ok(u) => assert_eq!(u.via, SignVia::InProcess, "{name}"),
                    Err(e) => assert!(
                        e.to_string()
                            .contains("cannot be read without `ssh-keygen`"),
                        "{name}: {e}"
                    ),
                },
            }
            // The `.pub` path finds the private key beside it.
            let mut pub_path = key.clone().into_os_string();
            pub_path.push(".pub");
            let by_pub = SigningKey::File(pub_path.into());
            assert_eq!(
                by_pub.check_usable_with(&path, None).unwrap().via,
                SignVia::SshKeygen
            );
        }
    }

    #[test]
    fn check_usable_refuses_unsupported_and_unsignable_keys() {
        let dir = TempDir::new().unwrap();
        let path = std::env::var_os("PATH").unwrap();
        // DSA: OpenSSH still makes it, tollgate refuses it by name.
        let dsa = keygen_typed(dir.path(), "dsa", &["-t", "dsa"]);
        let err = SigningKey::File(dsa)
            .check_usable_with(&path, None)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("key type `ssh-dss` is not supported"),
            "{err}"
        );
        let short = keygen_typed(dir.path(), "short", &["-t", "rsa", "-b", "1024"]);
        let err = SigningKey::File(short)
            .check_usable_with(&path, None)
            .unwrap_err();
        assert!(err.to_string().contains("1024 bits is too short"), "{err}");
        // A literal (agent) key needs an agent that holds it.
        let key = keygen(dir.path(), "key", "");
        let literal = SigningKey::Agent(public(&key));
        let err = literal.check_usable_with(&path, None).unwrap_err();
        assert!(
            err.to_string().contains("`SSH_AUTH_SOCK` is not set"),
            "{err}"
        );
        let err = literal
            .check_usable_with(&path, Some(OsStr::new("/nonexistent/agent.sock")))
            .unwrap_err();
        assert!(err.to_string().contains("does not hold this key"), "{err}");
        // An encrypted key file signs through ssh-keygen (which prompts),
        // but not in-process.
        let locked = keygen(dir.path(), "locked", "pass phrase");
        let file = SigningKey::File(locked);
        assert_eq!(
            file.check_usable_with(&path, None).unwrap().via,
            SignVia::SshKeygen
        );
        let err = file.check_usable_with(OsStr::new(""), None).unwrap_err();
        assert!(err.to_string().contains("passphrase-protected"), "{err}");
    }

    #[test]
    fn check_usable_accepts_a_key_the_agent_holds() {
        let dir = TempDir::new().unwrap();
        let key = keygen_typed(dir.path(), "p256", &["-t", "ecdsa"]);
        let sock = dir.path().join("agent.sock");
        let _agent = start_agent(&sock);
        run(Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", &sock)
            .arg(&key));
        fs::rename(&key, dir.path().join("moved")).unwrap();
        let path = std::env::var_os("PATH").unwrap();
        let literal = SigningKey::from_config(&format!("key::{}", public(&key)));
        let usable = literal
            .check_usable_with(&path, Some(sock.as_os_str()))
            .unwrap();
        assert_eq!(usable.via, SignVia::SshAgent);
        assert_eq!(usable.algorithm, KeyAlgorithm::EcdsaP256);
        // And it really signs through the agent.
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

    /// Stops the agent even when an assertion fails.
    struct AgentGuard(std::process::Child);
    impl Drop for AgentGuard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn start_agent(sock: &Path) -> AgentGuard {
        let agent = AgentGuard(
            Command::new("ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(sock)
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
        agent
    }

    #[test]
    fn presence_follows_the_flags() {
        let signer = |sk: Option<SkFlags>| VerifiedSigner {
            principal: "a@x.com".into(),
            key_fingerprint: "SHA256:x".into(),
            line: 1,
            hash_alg: "sha512",
            algorithm: KeyAlgorithm::SkEd25519,
            signature_algorithm: "sk-ssh-ed25519@openssh.com".into(),
            sk,
        };
        let flags = |flags| Some(SkFlags { flags, counter: 7 });
        assert_eq!(signer(None).presence(), Presence::None);
        assert_eq!(signer(flags(0)).presence(), Presence::None);
        assert_eq!(signer(flags(0x01)).presence(), Presence::Present);
        assert_eq!(signer(flags(0x05)).presence(), Presence::PresentVerified);
        // Verification without a touch proves no one was there (a PIN can
        // be typed by a program that knows it).
        assert_eq!(signer(flags(0x04)).presence(), Presence::None);
        assert!(
            Presence::None < Presence::Present && Presence::Present < Presence::PresentVerified
        );
    }
}
