//! `tollgate doctor`: what is set up in this repository and what is missing,
//! each with a fix. Exits 1 when something essential is missing (the hooks
//! that gate commits and pushes, a valid policy); the rest (signing key,
//! signer list, notes ref) is reported as a warning, because tollgate gates
//! without it and only overrides need it.

use std::path::Path;

use clap::Args;

use super::install::{CHAINED_SUFFIX, HOOKS, MARKER};
use super::{Ctx, Outcome};
use crate::audit::allowed_signers::AllowedSigners;
use crate::audit::config::signing_key;
use crate::audit::sshsig::SigningKey;
use crate::git::Repo;

use super::init::ALLOWED_SIGNERS;

/// The notes ref that holds audit records.
pub const NOTES_REF: &str = "refs/notes/tollgate";

/// Arguments of `tollgate doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

struct Report<'a> {
    ctx: &'a Ctx,
    failed: bool,
    warned: bool,
}

impl Report<'_> {
    fn line(&mut self, status: Status, what: &str, msg: &str, fix: Option<&str>) {
        let tag = match status {
            Status::Ok => "ok  ",
            Status::Warn => {
                self.warned = true;
                "warn"
            }
            Status::Fail => {
                self.failed = true;
                "FAIL"
            }
        };
        let mut text = format!("{tag}  {what}: {msg}\n");
        if let Some(fix) = fix {
            text.push_str(&format!("      fix: {fix}\n"));
        }
        self.ctx.printer.stdout(&text);
    }
}

/// Runs every check and prints one line per check (with a fix when needed).
pub fn run(ctx: &Ctx, _args: DoctorArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let mut r = Report {
        ctx,
        failed: false,
        warned: false,
    };
    hooks(&repo, &mut r)?;
    policy(ctx, &repo, &mut r);
    let key = key(&repo, &mut r);
    signers(&repo, key.as_ref(), &mut r);
    notes(&repo, &mut r);
    if r.failed {
        ctx.printer
            .error("tollgate is not fully set up here; see the fixes above");
        Ok(Outcome::Blocked)
    } else {
        if r.warned {
            ctx.printer.info(
                "tollgate: commits and pushes are gated; see the warnings above for overrides",
            );
        } else {
            ctx.printer.info("tollgate: everything is in place");
        }
        Ok(Outcome::Pass)
    }
}

/// The shim `tollgate install` would write now, for comparison.
fn expected_shim(template: &str) -> Option<String> {
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .ok()?;
    let quoted = exe.to_string_lossy().replace('\'', "'\\''");
    Some(template.replace("@TOLLGATE_BIN@", &quoted))
}

fn hooks(repo: &Repo, r: &mut Report<'_>) -> anyhow::Result<()> {
    let dir = repo.hooks_dir()?;
    let shown = display(repo, &dir);
    // Who owns the hooks is decided for the directory (a committed
    // directory may hold untracked hooks beside tracked ones).
    let owner = super::install::owner(repo, &dir, false);
    for (name, template) in HOOKS {
        let path = dir.join(name);
        let what = format!("{name} hook");
        // post-commit only writes audit records of consumed tokens; the
        // other two are what gates commits and pushes.
        let missing = if name == "post-commit" {
            Status::Warn
        } else {
            Status::Fail
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            let fix = match &owner {
                Some(crate::hooks::Manager::Lefthook(_)) => {
                    "tollgate install --integrate, then lefthook install"
                }
                Some(crate::hooks::Manager::PreCommit) => {
                    "tollgate install --integrate, then pre-commit install --hook-type <hook>"
                }
                Some(_) => "tollgate install --integrate",
                None => "tollgate install",
            };
            r.line(
                missing,
                &what,
                &format!("not installed in `{shown}`"),
                Some(fix),
            );
            continue;
        };
        if !text.contains(MARKER) {
            match (owner.clone(), repo.workdir()) {
                (Some(m), Some(root)) if m.runs_tollgate(root, name) => r.line(
                    Status::Ok,
                    &what,
                    &match m {
                        crate::hooks::Manager::PreCommit => format!(
                            "run by the pre-commit framework (`{}` in `.pre-commit-config.yaml`)",
                            crate::hooks::framework_id(name)
                        ),
                        _ => format!("run by {} (`{}` runs tollgate)", m.name(), m.config_file(name)),
                    },
                    None,
                ),
                (Some(m), Some(_)) => r.line(
                    missing,
                    &what,
                    &format!(
                        "`{shown}/{name}` is not tollgate's: it is {}'s, and `{}` does not run tollgate for it",
                        m.name(),
                        m.config_file(name)
                    ),
                    Some(&match m {
                        crate::hooks::Manager::Husky(crate::hooks::Husky::V4) => format!(
                            "add the entry `tollgate install` prints to `{}` by hand",
                            m.config_file(name)
                        ),
                        _ => format!(
                            "tollgate install --integrate (adds tollgate's entry to `{}`)",
                            m.config_file(name)
                        ),
                    }),
                ),
                _ => r.line(
                    missing,
                    &what,
                    &format!("`{shown}/{name}` is not tollgate's"),
                    Some("tollgate install (keeps the existing hook and runs it first)"),
                ),
            }
            continue;
        }
        let executable = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
        };
        if !executable {
            r.line(
                missing,
                &what,
                "installed but not executable, so git skips it",
                Some("tollgate install"),
            );
        } else if expected_shim(template).as_deref() != Some(text.as_str()) {
            r.line(
                Status::Warn,
                &what,
                "installed by another tollgate binary or version (the shim differs from what this one writes)",
                Some("tollgate install"),
            );
        } else {
            let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
            let note = if chained.exists() {
                " (runs the earlier hook first)"
            } else {
                ""
            };
            r.line(
                Status::Ok,
                &what,
                &format!("installed and current{note}"),
                None,
            );
        }
    }
    Ok(())
}

fn display(repo: &Repo, p: &Path) -> String {
    repo.workdir()
        .and_then(|w| p.strip_prefix(w).ok())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn policy(ctx: &Ctx, repo: &Repo, r: &mut Report<'_>) {
    match ctx.policy(Some(repo)) {
        Ok(p) => {
            let msg = format!(
                "valid: {} constraint{} from {}",
                p.constraints.len(),
                if p.constraints.len() == 1 { "" } else { "s" },
                p.sources
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if p.sources.iter().all(|s| s.starts_with("builtin:")) {
                r.line(
                    Status::Warn,
                    "policy",
                    &format!("{msg} (no `.tollgate.toml`: the builtin pack applies)"),
                    Some("tollgate init (writes a starter `.tollgate.toml` to commit)"),
                );
            } else {
                r.line(Status::Ok, "policy", &msg, None);
            }
        }
        Err(e) => r.line(
            Status::Fail,
            "policy",
            &e.to_string(),
            Some("correct the problems printed above; `tollgate policy check` repeats them"),
        ),
    }
}

fn key(repo: &Repo, r: &mut Report<'_>) -> Option<SigningKey> {
    const FIX: &str =
        "git config gpg.format ssh && git config user.signingkey ~/.ssh/id_ed25519.pub (or set tollgate.signingKey)";
    let (key, source) = match signing_key(repo) {
        Ok(k) => k,
        Err(e) => {
            r.line(Status::Warn, "signing key", &e.to_string(), Some(FIX));
            return None;
        }
    };
    let fingerprint = match key.key_fingerprint() {
        Ok(f) => f,
        Err(e) => {
            r.line(
                Status::Warn,
                "signing key",
                &format!(
                    "`{}` names `{key}`, which is not usable: {e}",
                    source.config_key()
                ),
                Some(FIX),
            );
            return None;
        }
    };
    let usable = key.has_signer(agent_available());
    if usable {
        r.line(
            Status::Ok,
            "signing key",
            &format!("{fingerprint} from `{}`", source.config_key()),
            None,
        );
    } else {
        r.line(
            Status::Warn,
            "signing key",
            &format!(
                "{fingerprint} from `{}`, but neither its private key file nor ssh-agent is there to sign with",
                source.config_key()
            ),
            Some("ssh-add the key, or point the setting at a key file whose private half is beside it"),
        );
    }
    Some(key)
}

fn agent_available() -> bool {
    std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| Path::new(&s).exists())
}

fn signers(repo: &Repo, key: Option<&SigningKey>, r: &mut Report<'_>) {
    let Some(root) = repo.workdir() else {
        return;
    };
    let path = root.join(ALLOWED_SIGNERS);
    if !path.exists() {
        r.line(
            Status::Warn,
            "allowed signers",
            &format!("`{ALLOWED_SIGNERS}` does not exist; no audit record can verify"),
            Some("tollgate init (lists your signing key), then commit the file"),
        );
        return;
    }
    // Strict: a line `verify` would skip is a mistake to fix now.
    let signers = match AllowedSigners::load(&path).and_then(AllowedSigners::strict) {
        Ok(s) => s,
        Err(e) => {
            r.line(
                Status::Fail,
                "allowed signers",
                &e.to_string(),
                Some("correct the line named above"),
            );
            return;
        }
    };
    let email = repo.config_string("user.email").unwrap_or_default();
    let Some(fingerprint) = key.and_then(|k| k.key_fingerprint().ok()) else {
        r.line(
            Status::Warn,
            "allowed signers",
            &format!("`{ALLOWED_SIGNERS}` has {} entr{}; cannot tell whether it lists you without a signing key", signers.entries().len(), if signers.entries().len() == 1 { "y" } else { "ies" }),
            None,
        );
        return;
    };
    let now = crate::clock::now();
    let listed = signers.entries().iter().find(|e| {
        e.key_fingerprint() == fingerprint && e.permits(email.trim(), "tollgate", now).is_ok()
    });
    match listed {
        Some(e) => r.line(
            Status::Ok,
            "allowed signers",
            &format!(
                "`{ALLOWED_SIGNERS}` line {} lets `{}` sign with {fingerprint}",
                e.line,
                email.trim()
            ),
            None,
        ),
        None => r.line(
            Status::Warn,
            "allowed signers",
            &format!(
                "`{ALLOWED_SIGNERS}` does not let `{}` sign with {fingerprint}",
                email.trim()
            ),
            Some("tollgate init prints the line to add (through a reviewed change)"),
        ),
    }
}

fn notes(repo: &Repo, r: &mut Report<'_>) {
    if repo.raw().find_reference(NOTES_REF).is_ok() {
        r.line(
            Status::Ok,
            "audit notes",
            &format!("`{NOTES_REF}` is present"),
            None,
        );
    } else {
        r.line(
            Status::Warn,
            "audit notes",
            &format!("`{NOTES_REF}` is not here (normal until an override is consumed, or until it is fetched)"),
            Some("git fetch origin refs/notes/tollgate:refs/notes/tollgate"),
        );
    }
}
