//! `tollgate install` and `tollgate uninstall`: the hook shims, written into
//! the directory git actually uses (`git rev-parse --git-path hooks`, so
//! `core.hooksPath` and worktrees are honoured).
//!
//! An existing hook that is not tollgate's is kept as
//! `<name>.tollgate-chained` and run first by `tollgate hook` (its failure
//! blocks); uninstall puts it back exactly.
//!
//! Where a hook manager owns the hooks (husky, lefthook, the pre-commit
//! framework, overcommit) or the hook files are committed, nothing is
//! written into the hooks directory: the manager's entry that runs tollgate
//! is printed, or with `--integrate` written into its configuration (see
//! `crate::hooks`). A committed hook is replaced only with `--force`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clap::Args;

use super::{Ctx, Outcome};
use crate::hooks::{self, Manager};

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
    /// Where a hook manager owns the hooks (or the hooks are committed), write tollgate's entry into its configuration instead of only printing it
    #[arg(long, conflicts_with = "server")]
    integrate: bool,
    /// Replace committed (tracked) hook files with tollgate's shims anyway (they then hold this machine's binary path: do not commit them)
    #[arg(long)]
    force: bool,
}

/// The owner of the client hooks in `dir`, when a manager owns them (or the
/// hooks are committed and `--force` is not given).
pub fn owner(repo: &crate::git::Repo, dir: &Path, force: bool) -> Option<Manager> {
    let root = repo.workdir();
    let mut found = None;
    for (name, _) in HOOKS {
        let path = dir.join(name);
        let text = fs::read_to_string(&path).ok();
        if text.as_deref().is_some_and(|t| t.contains(MARKER)) {
            continue;
        }
        let tracked = text.is_some() && repo.is_tracked(&path);
        match hooks::detect(root, dir, text.as_deref(), tracked) {
            Some(Manager::Committed(_)) if force => {}
            // A manager's own hook outranks a committed file.
            Some(m) if found.is_none() || matches!(found, Some(Manager::Committed(_))) => {
                found = Some(m);
            }
            Some(_) => {}
            None => {}
        }
    }
    found
}

/// Prints (or with `--integrate` writes) the manager's entry; nothing in the
/// hooks directory changes.
fn with_manager(
    ctx: &Ctx,
    root: &Path,
    dir: &Path,
    m: &Manager,
    integrate: bool,
) -> anyhow::Result<Outcome> {
    let names: Vec<&str> = HOOKS.iter().map(|(n, _)| *n).collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|h| !m.runs_tollgate(root, h))
        .collect();
    if missing.is_empty() {
        ctx.printer.info(&format!(
            "tollgate: {} runs tollgate for {}; nothing to install",
            m.name(),
            names.join(", ")
        ));
        return Ok(Outcome::Pass);
    }
    let shown_dir = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    if integrate {
        let changed = m.integrate(root, &missing).inspect_err(|_| {
            ctx.printer.stdout(&m.entry(&missing));
        })?;
        for path in &changed {
            ctx.printer.info(&format!(
                "tollgate: added tollgate's entry to `{}`",
                path.strip_prefix(root).unwrap_or(path).display()
            ));
        }
        let next = match m {
            Manager::Lefthook(_) => "commit the change, and run `lefthook install` so that git runs lefthook for every hook",
            Manager::PreCommit => "commit the change, and run `pre-commit install --hook-type pre-commit --hook-type pre-push --hook-type post-commit`",
            Manager::Overcommit => "commit the change, and run `overcommit --sign` (overcommit asks for it after a config change)",
            _ => "commit the change; every clone then runs tollgate (each developer needs `tollgate` on PATH)",
        };
        ctx.printer.hint(next);
        return Ok(Outcome::Pass);
    }
    ctx.printer.error(&format!(
        "{} owns the hooks in `{shown_dir}`; tollgate does not overwrite its files",
        m.name()
    ));
    ctx.printer.stdout(&m.entry(&missing));
    ctx.printer.hint(&match m {
        // `--integrate` refuses to rewrite `package.json`: do not offer it.
        Manager::Husky(crate::hooks::Husky::V4) => format!(
            "add the entry above to `{}` by hand (tollgate does not rewrite it)",
            m.config_file(missing[0])
        ),
        _ => format!(
            "add the entry above to `{}`, or run `tollgate install --integrate` to add it",
            m.config_file(missing[0])
        ),
    });
    if let Manager::Committed(_) = m {
        ctx.printer.hint(
            "or `tollgate install --force` to replace the committed hooks with this machine's shims (not to be committed)",
        );
    }
    Ok(Outcome::Blocked)
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
    if !args.server {
        if let (Some(root), Some(m)) = (repo.workdir(), owner(&repo, &dir, args.force)) {
            return with_manager(ctx, root, &dir, &m, args.integrate);
        }
    }
    let hooks: &[(&str, &str)] = if args.server { &SERVER_HOOKS } else { &HOOKS };
    for &(name, template) in hooks {
        let path = dir.join(name);
        if path.exists() && !is_ours(&path) && repo.is_tracked(&path) {
            ctx.printer.warning(&format!(
                "`{}` is committed; --force replaces it with a shim that holds this machine's path `{}`: do not commit that change (`tollgate uninstall` puts the file back)",
                path.display(),
                exe.display()
            ));
        }
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

/// Removes the shims and restores chained hooks, and removes the entries
/// `--integrate` added to a manager's configuration.
pub fn uninstall(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let dir = repo.hooks_dir()?;
    if let Some(root) = repo.workdir() {
        let names: Vec<&str> = HOOKS.iter().map(|(n, _)| *n).collect();
        for path in hooks::remove_integration(root, &names, std::slice::from_ref(&dir))? {
            ctx.printer.info(&format!(
                "tollgate: removed tollgate's entry from `{}`",
                path.strip_prefix(root).unwrap_or(&path).display()
            ));
        }
    }
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
