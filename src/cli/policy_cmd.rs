//! `tollgate policy check` and `tollgate policy show`.

use clap::Subcommand;

use super::{Ctx, Outcome};

/// `tollgate policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy; every problem is reported with file, line and column
    Check,
    /// Print the effective merged policy as TOML
    Show,
}

/// Runs a policy subcommand.
pub fn run(ctx: &Ctx, cmd: PolicyCommand) -> anyhow::Result<Outcome> {
    let repo = ctx.repo().ok();
    let policy = ctx.policy(repo.as_ref())?;
    match cmd {
        PolicyCommand::Check => {
            ctx.printer.info(&format!(
                "policy ok: {} constraint{} from {}",
                policy.constraints.len(),
                if policy.constraints.len() == 1 {
                    ""
                } else {
                    "s"
                },
                policy.sources.join(", ")
            ));
        }
        PolicyCommand::Show => ctx.printer.stdout(&policy.to_toml()),
    }
    Ok(Outcome::Pass)
}
