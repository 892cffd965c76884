//! `tollgate policy check` and `tollgate policy show`.

use clap::Subcommand;

use super::{Ctx, Outcome};

/// `tollgate policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policy; every problem is reported with file, line and column
    Check,
    /// Print the effective merged policy as TOML
    Show {
        /// List the secret rules instead (id, service, confidence, severity, description) and count the distinct services
        #[arg(long)]
        rules: bool,
        /// Output format of `--rules`
        #[arg(long, value_enum, default_value_t = RulesFormat::Human, requires = "rules")]
        format: RulesFormat,
    },
}

/// Output format of `policy show --rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RulesFormat {
    /// A table for people.
    #[default]
    Human,
    /// JSON (`tollgate/v1`) on stdout.
    Json,
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
        PolicyCommand::Show { rules: false, .. } => ctx.printer.stdout(&policy.to_toml()),
        PolicyCommand::Show {
            rules: true,
            format,
        } => {
            let list = policy.rule_list();
            match format {
                RulesFormat::Human => ctx.printer.stdout(&list.to_text()),
                RulesFormat::Json => ctx
                    .printer
                    .stdout(&format!("{}\n", serde_json::to_string_pretty(&list)?)),
            }
        }
    }
    Ok(Outcome::Pass)
}
