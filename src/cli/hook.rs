//! `tollgate hook <name>`: what the installed shims run. Hooks fail closed:
//! any error exits non-zero, which stops the commit or push.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use clap::{Args, ValueEnum};

use super::gate::{self, Acknowledge};
use super::install::CHAINED_SUFFIX;
use super::records;
use super::{Ctx, Outcome};
use crate::check::Engine;
use crate::gate::Event;
use crate::git::{parse_push_lines, NotesPush, Repo, NOTES_REF};

/// The hooks tollgate runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    /// Checks the staged changes.
    PreCommit,
    /// Checks every ref of a push and the commits it brings.
    PrePush,
    /// Runs after a commit is made.
    PostCommit,
    /// On a server: judges a push before any ref moves.
    PreReceive,
}

impl HookName {
    fn as_str(self) -> &'static str {
        match self {
            HookName::PreCommit => "pre-commit",
            HookName::PrePush => "pre-push",
            HookName::PostCommit => "post-commit",
            HookName::PreReceive => "pre-receive",
        }
    }
}

/// Arguments of `tollgate hook`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// Run under the pre-commit framework: pre-push reads the one ref update
    /// the framework passes in `PRE_COMMIT_*` variables instead of stdin
    #[arg(long)]
    from_framework: bool,
    /// Run the gate only, not a hook kept as `<name>.tollgate-chained`: for
    /// hook managers (husky, lefthook, overcommit) that run the other hooks themselves
    #[arg(long)]
    no_chain: bool,
    /// Which hook
    #[arg(value_enum)]
    name: HookName,
    /// The arguments git passed to the hook
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs a hook.
pub fn run(ctx: &Ctx, args: HookArgs) -> anyhow::Result<Outcome> {
    if args.from_framework {
        super::gate::set_under_framework();
    }
    let repo = ctx.repo()?;
    let mut stdin = Vec::new();
    // Under the pre-commit framework there is no chained hook (the framework
    // runs the others) and a push arrives in `PRE_COMMIT_*` variables.
    if matches!(args.name, HookName::PrePush | HookName::PreReceive) && !args.from_framework {
        std::io::stdin()
            .read_to_end(&mut stdin)
            .map_err(|e| anyhow::anyhow!("cannot read the pre-push input: {e}"))?;
    }
    if !args.from_framework
        && !args.no_chain
        && run_chained(ctx, &repo, args.name, &args.args, &stdin)? == Outcome::Blocked
    {
        return Ok(Outcome::Blocked);
    }
    if args.name == HookName::PreReceive {
        return super::receive::run(ctx, &stdin);
    }
    // Records that an earlier `post-commit` could not write go first, so
    // that a push carries them and honours them.
    records::flush_and_report(&ctx.printer, &repo);
    if args.name == HookName::PostCommit {
        // The commit is made whatever happens here; a record that could not
        // be written stays pending and the next run writes it.
        return Ok(Outcome::Pass);
    }
    // The hook process ends right after this run: the policy (hundreds of
    // rules, their regexes and globs) is never freed, which would cost more
    // than a typical commit's scan.
    let policy: &'static _ = Box::leak(Box::new(ctx.policy(Some(&repo))?));
    let engine = Engine::new(policy);
    let event = match args.name {
        HookName::PostCommit | HookName::PreReceive => unreachable!("returned above"),
        HookName::PreCommit => Event::Staged,
        HookName::PrePush if args.from_framework => match framework_push_line(&repo)? {
            Some((remote, line)) => {
                ctx.printer
                    .debug(&format!("pre-push under the pre-commit framework: {line}"));
                Event::Push {
                    remote,
                    lines: parse_push_lines(line.as_bytes())?,
                }
            }
            None => {
                ctx.printer.warning(
                    "the pre-commit framework named no pushed ref (not run by `git push`?); nothing to check",
                );
                return Ok(Outcome::Pass);
            }
        },
        HookName::PrePush => {
            let remote = args.args.first().cloned().ok_or_else(|| {
                anyhow::anyhow!("pre-push needs the remote name as its first argument")
            })?;
            Event::Push {
                remote,
                lines: parse_push_lines(&stdin)?,
            }
        }
    };
    let ack = Acknowledge {
        yes: gate::env_yes(),
        mode: policy.warnings,
        no_terminal: policy.warnings_without_terminal,
    };
    let (outcome, _) = gate::run(
        &ctx.printer,
        &repo,
        &engine,
        &event,
        &ack,
        &gate::env_tokens(),
    )?;
    if let (Outcome::Pass, Event::Push { remote, .. }) = (outcome, &event) {
        return Ok(push_notes(ctx, &repo, remote));
    }
    Ok(outcome)
}

/// Pushes the audit records before the branch: a push that passed only
/// because of a record must never reach the remote without it.
fn push_notes(ctx: &Ctx, repo: &Repo, remote: &str) -> Outcome {
    match repo
        .notes_push_budget()
        .and_then(|budget| repo.push_notes(remote, budget))
    {
        Ok(NotesPush::NothingLocal | NotesPush::UpToDate) => Outcome::Pass,
        Ok(NotesPush::Pushed { merges }) => {
            ctx.printer.info(&format!(
                "tollgate: audit records pushed to `{remote}` ({NOTES_REF}{})",
                if merges > 0 {
                    format!(", merged with other writers' records {merges} time(s)")
                } else {
                    String::new()
                }
            ));
            Outcome::Pass
        }
        Err(e) => {
            ctx.printer.error(&format!(
                "push stopped: the audit records ({NOTES_REF}) could not be pushed to `{remote}`: {e}"
            ));
            super::notes_cmd::explain_removal(&ctx.printer, &e);
            ctx.printer.hint(&format!(
                "the branch is not pushed without its records; fix the cause, then run `{} notes push {remote}` or push again",
                super::gate::self_command()
            ));
            Outcome::Blocked
        }
    }
}

/// The one ref update the pre-commit framework describes, as a pre-push
/// line, with the remote's name.
///
/// The framework reads git's pre-push input itself and keeps only the first
/// ref that is not a deletion. When the remote's old sha is known locally it
/// passes it as `PRE_COMMIT_FROM_REF`; otherwise (a new branch, or a remote
/// tip this clone never fetched) `PRE_COMMIT_FROM_REF` is the parent of the
/// first commit not on any remote-tracking ref, or is missing when the push
/// carries the root commit. So a force push over history this clone has not
/// fetched looks like a fast-forward here: best-effort, which is why the
/// native pre-push hook (`tollgate install`) is the recommended one.
fn framework_push_line(repo: &Repo) -> anyhow::Result<Option<(String, String)>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (Some(remote), Some(remote_ref)) = (
        var("PRE_COMMIT_REMOTE_NAME"),
        var("PRE_COMMIT_REMOTE_BRANCH"),
    ) else {
        if var("PRE_COMMIT_TO_REF").is_some() {
            anyhow::bail!(
                "the pre-commit framework set `PRE_COMMIT_TO_REF` without `PRE_COMMIT_REMOTE_NAME` and `PRE_COMMIT_REMOTE_BRANCH`; cannot tell what is pushed where"
            );
        }
        return Ok(None);
    };
    let local_ref = var("PRE_COMMIT_LOCAL_BRANCH").unwrap_or_else(|| "HEAD".into());
    let to = match var("PRE_COMMIT_TO_REF") {
        Some(t) => repo.resolve_commit(&t)?,
        None => repo.resolve_commit(&local_ref)?,
    };
    let from = match var("PRE_COMMIT_FROM_REF") {
        Some(f) => repo.resolve_commit(&f)?.to_string(),
        None => "0".repeat(to.to_string().len()),
    };
    Ok(Some((
        remote,
        format!("{local_ref} {to} {remote_ref} {from}"),
    )))
}

/// Runs the hook that was there before tollgate, with the same arguments
/// and input; its failure blocks.
fn run_chained(
    ctx: &Ctx,
    repo: &Repo,
    name: HookName,
    args: &[String],
    stdin: &[u8],
) -> anyhow::Result<Outcome> {
    // The shim says where it lives, which spares a `git rev-parse` on
    // every hook run; asking git is the fallback.
    let dir = match std::env::var_os("TOLLGATE_HOOKS_DIR") {
        Some(d) if !d.is_empty() => std::path::PathBuf::from(d),
        _ => repo.hooks_dir()?,
    };
    let path = dir.join(format!("{}{CHAINED_SUFFIX}", name.as_str()));
    // Like git, a hook that is not executable is switched off: it stays so.
    let executable =
        std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        if path.exists() {
            ctx.printer.debug(&format!(
                "`{}` is not executable; git would not run it, so tollgate does not either",
                path.display()
            ));
        }
        return Ok(Outcome::Pass);
    }
    let mut child = Command::new(&path)
        .args(args)
        .stdin(
            if matches!(name, HookName::PrePush | HookName::PreReceive) {
                Stdio::piped()
            } else {
                Stdio::inherit()
            },
        )
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run the chained hook `{}`: {e}", path.display()))?;
    if let Some(mut pipe) = child.stdin.take() {
        // A hook that exits without reading its input is not an error.
        let _ = pipe.write_all(stdin);
    }
    let status = child.wait().map_err(|e| {
        anyhow::anyhow!("cannot wait for the chained hook `{}`: {e}", path.display())
    })?;
    if status.success() {
        Ok(Outcome::Pass)
    } else {
        ctx.printer.error(&format!(
            "the existing `{}` hook (kept by tollgate as `{}`) failed; stopped",
            name.as_str(),
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        Ok(Outcome::Blocked)
    }
}
