//! `tollgate install` and `tollgate uninstall`: the hook shims, written into
//! the directory git actually uses (`git rev-parse --git-path hooks`, so
//! `core.hooksPath` and worktrees are honoured).
//!
//! An existing hook that is not tollgate's is kept as
//! `<name>.tollgate-chained` and run first by `tollgate hook` (its failure
//! blocks); uninstall puts it back exactly.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clap::Args;

use super::{Ctx, Outcome};

/// The hooks tollgate installs, with their shim templates.
pub const HOOKS: [(&str, &str); 3] = [
    ("pre-commit", include_str!("../../hooks/pre-commit")),
    ("pre-push", include_str!("../../hooks/pre-push")),
    ("post-commit", include_str!("../../hooks/post-commit")),
];

/// The hook `tollgate install --server` installs in a server's repository.
pub const SERVER_HOOKS: [(&str, &str); 1] =
    [("pre-receive", include_str!("../../hooks/pre-receive"))];

/// Marks a hook file as tollgate's own.
pub const MARKER: &str = "tollgate-managed-hook";

/// Suffix of a pre-existing hook that tollgate runs first.
pub const CHAINED_SUFFIX: &str = ".tollgate-chained";

/// Arguments of `tollgate install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install the server-side `pre-receive` hook (in the bare repository a server pushes to) instead of the client hooks
    #[arg(long)]
    server: bool,
}

fn is_ours(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|t| t.contains(MARKER))
}

/// Installs (or refreshes) the shims. Idempotent.
pub fn install(ctx: &Ctx, args: InstallArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let dir = repo.hooks_dir()?;
    fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| anyhow::anyhow!("cannot locate the tollgate binary: {e}"))?;
    let quoted = exe.to_string_lossy().replace('\'', "'\\''");
    let hooks: &[(&str, &str)] = if args.server { &SERVER_HOOKS } else { &HOOKS };
    for &(name, template) in hooks {
        let path = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        if path.exists() && !is_ours(&path) {
            if chained.exists() {
                anyhow::bail!(
                    "both `{}` and `{}` exist and neither is tollgate's; move one away and run `tollgate install` again",
                    path.display(),
                    chained.display()
                );
            }
            fs::rename(&path, &chained).map_err(|e| {
                anyhow::anyhow!("cannot keep the existing `{}`: {e}", path.display())
            })?;
            ctx.printer.info(&format!(
                "kept the existing `{name}` hook; tollgate runs it first"
            ));
        }
        let text = template.replace("@TOLLGATE_BIN@", &quoted);
        crate::state::write_atomic(&path, text.as_bytes())
            .and_then(|_| fs::set_permissions(&path, fs::Permissions::from_mode(0o755)))
            .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
    }
    let names: Vec<&str> = hooks.iter().map(|(n, _)| *n).collect();
    ctx.printer.info(&format!(
        "tollgate: installed the {} hook{} in `{}`",
        names.join(", "),
        if names.len() == 1 { "" } else { "s" },
        dir.display()
    ));
    Ok(Outcome::Pass)
}

/// Removes the shims and restores chained hooks.
pub fn uninstall(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let dir = repo.hooks_dir()?;
    for (name, _) in HOOKS.iter().chain(SERVER_HOOKS.iter()) {
        let path = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        if path.exists() {
            if !is_ours(&path) {
                ctx.printer.warning(&format!(
                    "`{}` is not tollgate's; left as it is",
                    path.display()
                ));
                continue;
            }
            fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("cannot remove `{}`: {e}", path.display()))?;
        }
        if chained.exists() {
            fs::rename(&chained, &path)
                .map_err(|e| anyhow::anyhow!("cannot restore `{}`: {e}", path.display()))?;
        }
    }
    ctx.printer
        .info(&format!("tollgate: hooks removed from `{}`", dir.display()));
    Ok(Outcome::Pass)
}
