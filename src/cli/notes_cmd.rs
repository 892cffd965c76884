//! `tollgate notes push|fetch`: move the audit records by hand, the same way
//! the pre-push hook does (union merge, retry when another writer got there
//! first).

use clap::Subcommand;

use super::records;
use super::{Ctx, Outcome};
use crate::git::{tracking_ref, NotesPush, Repo, NOTES_REF};

/// `tollgate notes …`.
#[derive(Debug, Subcommand)]
pub enum NotesCommand {
    /// Push refs/notes/tollgate (merging the remote's records first when needed)
    Push {
        /// Remote name or URL (default: the current branch's remote, else `origin`)
        remote: Option<String>,
    },
    /// Fetch the remote's records and merge them into refs/notes/tollgate
    Fetch {
        /// Remote name or URL (default: the current branch's remote, else `origin`)
        remote: Option<String>,
    },
}

/// Runs `notes`.
pub fn run(ctx: &Ctx, cmd: NotesCommand) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    match cmd {
        NotesCommand::Push { remote } => {
            records::flush_and_report(&ctx.printer, &repo);
            let remote = remote.unwrap_or_else(|| default_remote(&repo));
            let pushed = repo
                .notes_push_budget()
                .and_then(|budget| repo.push_notes(&remote, budget));
            if let Err(e) = &pushed {
                explain_removal(&ctx.printer, e);
            }
            match pushed? {
                NotesPush::NothingLocal => ctx
                    .printer
                    .info(&format!("tollgate: no local {NOTES_REF}; nothing to push")),
                NotesPush::UpToDate => ctx
                    .printer
                    .info(&format!("tollgate: `{remote}` already has every record")),
                NotesPush::Pushed { merges } => ctx.printer.info(&format!(
                    "tollgate: {NOTES_REF} pushed to `{remote}` ({merges} merge{} with other writers)",
                    if merges == 1 { "" } else { "s" }
                )),
            }
        }
        NotesCommand::Fetch { remote } => {
            let remote = remote.unwrap_or_else(|| default_remote(&repo));
            if repo.fetch_notes(&remote)? {
                ctx.printer.info(&format!(
                    "tollgate: `{remote}`'s records fetched into {} and merged into {NOTES_REF}",
                    tracking_ref(&remote)
                ));
            } else {
                ctx.printer
                    .info(&format!("tollgate: `{remote}` has no {NOTES_REF} yet"));
            }
        }
    }
    Ok(Outcome::Pass)
}

/// Names each record a refused removal would have deleted.
pub(super) fn explain_removal(printer: &crate::report::Printer, e: &crate::git::GitError) {
    if let crate::git::GitError::NotesRemoval { removed, .. } = e {
        for (commit, line) in removed {
            printer.error(&format!(
                "would remove {}",
                crate::audit::trail::RecordRef::of(commit, line)
            ));
        }
    }
}

/// The current branch's remote, else `origin`.
fn default_remote(repo: &Repo) -> String {
    repo.raw()
        .head()
        .ok()
        .and_then(|h| h.shorthand().map(str::to_string))
        .and_then(|b| repo.config_string(&format!("branch.{b}.remote")))
        .unwrap_or_else(|| "origin".into())
}
