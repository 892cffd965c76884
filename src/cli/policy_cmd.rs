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
        /// Show a builtin pack (`recommended`, `strict`) instead of the effective policy
        #[arg(long, value_name = "PACK")]
        builtin: Option<String>,
    },
    /// Translate a gitleaks configuration into tollgate constraints (printed, or written with --output); what has no equivalent is listed with its line
    ImportGitleaks {
        /// The gitleaks file (`.gitleaks.toml`)
        file: std::path::PathBuf,
        /// Write the policy here instead of printing it (refuses to overwrite)
        #[arg(long, short = 'o', value_name = "PATH")]
        output: Option<std::path::PathBuf>,
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
    /// A Markdown table (`docs/rules.md` is this, for `--builtin recommended`).
    Markdown,
}

/// Runs a policy subcommand.
pub fn run(ctx: &Ctx, cmd: PolicyCommand) -> anyhow::Result<Outcome> {
    if let PolicyCommand::ImportGitleaks { file, output } = &cmd {
        return import_gitleaks(ctx, file, output.as_deref());
    }
    let repo = ctx.repo().ok();
    let builtin = match &cmd {
        PolicyCommand::Show {
            builtin: Some(name),
            ..
        } => Some(name.clone()),
        _ => None,
    };
    let (policy, name) = match &builtin {
        Some(pack) => {
            if crate::policy::builtin_pack(pack).is_none() {
                anyhow::bail!(
                    "unknown builtin pack `{pack}`; the builtin packs are {}",
                    crate::policy::BUILTIN_PACKS
                        .iter()
                        .map(|(n, _)| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let name = format!("builtin:{pack}");
            let source =
                crate::policy::Source::new(name.clone(), format!("extends = [\"{name}\"]\n"));
            (ctx.load_policy(Some(source))?, name)
        }
        None => {
            let policy = ctx.policy(repo.as_ref())?;
            let name = policy.sources.join(", ");
            (policy, name)
        }
    };
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
            ..
        } => {
            let list = policy.rule_list();
            match format {
                RulesFormat::Human => ctx.printer.stdout(&list.to_text()),
                RulesFormat::Json => ctx
                    .printer
                    .stdout(&format!("{}\n", serde_json::to_string_pretty(&list)?)),
                RulesFormat::Markdown => ctx.printer.stdout(&list.to_markdown(&name)),
            }
        }
        PolicyCommand::ImportGitleaks { .. } => unreachable!("handled above"),
    }
    Ok(Outcome::Pass)
}

fn import_gitleaks(
    ctx: &Ctx,
    file: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<Outcome> {
    let name = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read `{name}`: {e}"))?;
    let imported = crate::policy::import_gitleaks::import(&name, &text)?;
    for n in &imported.notes {
        ctx.printer
            .warning(&format!("{name}:{}: {}", n.line, n.message));
    }
    // The result must load as a policy, or it is not written.
    let shown = output.map_or("<imported>".to_string(), |p| p.display().to_string());
    ctx.load_policy(Some(crate::policy::Source::new(
        shown.clone(),
        imported.policy.clone(),
    )))?;
    match output {
        Some(path) => {
            if path.exists() {
                anyhow::bail!("`{shown}` exists; choose another --output or merge by hand");
            }
            std::fs::write(path, &imported.policy)
                .map_err(|e| anyhow::anyhow!("cannot write `{shown}`: {e}"))?;
            ctx.printer.info(&format!(
                "tollgate: wrote {} constraint{} to `{shown}` ({} note{} above)",
                imported.constraints,
                if imported.constraints == 1 { "" } else { "s" },
                imported.notes.len(),
                if imported.notes.len() == 1 { "" } else { "s" }
            ));
        }
        None => ctx.printer.stdout(&imported.policy),
    }
    Ok(Outcome::Pass)
}
