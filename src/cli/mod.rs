//! The command line: argument parsing (clap), one module per subcommand, and
//! the mapping of outcomes to exit codes (0 pass, 1 blocked, 2 error).

mod audit_cmd;
mod baseline_cmd;
mod challenge;
mod check;
mod doctor;
mod gate;
mod hook;
mod init;
mod install;
mod notes_cmd;
mod override_cmd;
mod pending;
mod policy_cmd;
mod receive;
mod records;
mod scan_cmd;
mod ship_cmd;
pub mod tty;
mod two_key;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::git::Repo;
use crate::policy::{self, Policy, Source};
use crate::report::{ColorChoice, Printer};

/// tollgate: a git safety gate with scoped, single-use, audited overrides.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version = crate::ship::build::LONG_VERSION,
    about,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// `tollgate hook …` alone, the command every commit and push runs: the
/// same arguments as [`Cli`]'s `hook`, parsed without building every other
/// subcommand's (which costs a hook more than reading the repository).
/// Anything else, help and every error included, goes to [`Cli`].
#[derive(Debug, Parser)]
#[command(name = "tollgate", max_term_width = 100)]
struct HookCli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: HookOnly,
}

#[derive(Debug, Subcommand)]
enum HookOnly {
    Hook(hook::HookArgs),
}

impl HookCli {
    /// The arguments as [`Cli`] parses them, when they are a valid
    /// `tollgate hook …` with the subcommand first.
    fn parse_hook() -> Option<Cli> {
        if std::env::args_os().nth(1).is_none_or(|a| a != "hook") {
            return None;
        }
        let HookCli {
            global,
            command: HookOnly::Hook(args),
        } = HookCli::try_parse().ok()?;
        Some(Cli {
            global,
            command: Command::Hook(args),
        })
    }
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Policy file (default: `.tollgate.toml` at the repository root, else the builtin `recommended` pack)
    #[arg(long, global = true, env = "TOLLGATE_POLICY", value_name = "PATH")]
    policy: Option<PathBuf>,
    /// When to use colour
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Print only errors and blockers
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more about what tollgate does
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the staged changes, a range of commits, or the whole history
    Check(check::CheckArgs),
    /// Record the findings present now in `.tollgate/baseline.toml`: reported as baselined, never blockers
    Baseline(baseline_cmd::BaselineArgs),
    /// Scan files, directories (respecting `.gitignore`) or stdin (`-`), inside or outside a repository
    Scan(scan_cmd::ScanArgs),
    /// Validate or print the policy
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Install tollgate's hooks into this repository (existing hooks are kept and run first)
    Install(install::InstallArgs),
    /// Remove tollgate's hooks and restore what was there before
    Uninstall,
    /// Mint a single-use token for one blocker (after a challenge on the terminal), or manage tokens
    Override(override_cmd::OverrideArgs),
    /// Re-check a pushed range in CI: every blocker must be covered by a valid signed audit record
    Verify(verify::VerifyArgs),
    /// Read the audit records in refs/notes/tollgate
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Push or fetch the audit records (refs/notes/tollgate)
    #[command(subcommand)]
    Notes(notes_cmd::NotesCommand),
    /// Run as a git hook (called by the installed hook shims)
    Hook(hook::HookArgs),
    /// Write a starter `.tollgate.toml` and `.tollgate/allowed_signers`, then print the next steps
    Init(init::InitArgs),
    /// Report what is set up here and what is missing, with a fix for each
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script (`tollgate completions bash > …`)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the version, commit, build date, target and features (for bug reports)
    Version(ship_cmd::VersionArgs),
    /// Write a man page for tollgate and each subcommand into a folder
    Man(ship_cmd::ManArgs),
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Pass,
    /// Exit 1: a blocker stands, warnings were not acknowledged, or verification failed.
    Blocked,
}

/// Shared by every subcommand.
pub struct Ctx {
    /// The one output path.
    pub printer: Printer,
    global: Global,
}

/// An error already reported to the user (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

impl Ctx {
    /// Prints `msg` as an error and ends the command blocked (exit 1).
    pub fn refuse(&self, msg: &str) -> anyhow::Result<Outcome> {
        self.printer.error(msg);
        Ok(Outcome::Blocked)
    }

    /// Opens the repository git would use here.
    pub fn repo(&self) -> anyhow::Result<Repo> {
        Ok(Repo::open()?)
    }

    /// Loads the effective policy for `repo`; diagnostics are printed and
    /// turned into an error.
    pub fn policy(&self, repo: Option<&Repo>) -> anyhow::Result<Policy> {
        let path = match &self.global.policy {
            Some(p) => Some(p.clone()),
            None => repo
                .and_then(|r| r.workdir())
                .map(|w| w.join(".tollgate.toml"))
                .filter(|p| p.exists()),
        };
        let source = match path {
            Some(p) => {
                let name = repo
                    .and_then(|r| r.workdir())
                    .and_then(|w| p.strip_prefix(w).ok())
                    .unwrap_or(&p)
                    .display()
                    .to_string();
                Some(read_source(&p, name)?)
            }
            None => None,
        };
        let mut policy = self.load_policy(source)?;
        if let Some(rel) = repo.and_then(|r| self.explicit_policy_in(r)) {
            policy.guard_policy_file(&rel);
        }
        if let Some(root) = repo.and_then(|r| r.workdir()) {
            let path = root.join(crate::baseline::BASELINE_PATH);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    policy.baseline =
                        crate::baseline::Baseline::parse(crate::baseline::BASELINE_PATH, &text)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => anyhow::bail!("cannot read `{}`: {e}", path.display()),
            }
        }
        Ok(policy)
    }

    /// The policy file named by `--policy`, as a path relative to `repo`'s
    /// work tree when it lies inside it: the policy-change constraint
    /// guards it like `.tollgate.toml`.
    pub fn explicit_policy_in(&self, repo: &Repo) -> Option<String> {
        let p = self.global.policy.as_ref()?;
        let abs = std::fs::canonicalize(p).ok()?;
        let work = std::fs::canonicalize(repo.workdir()?).ok()?;
        let rel = abs.strip_prefix(&work).ok()?;
        Some(rel.to_string_lossy().into_owned())
    }

    /// The policy file named by `--policy` / `TOLLGATE_POLICY`, if any.
    pub fn explicit_policy(&self) -> anyhow::Result<Option<Source>> {
        self.global
            .policy
            .as_ref()
            .map(|p| read_source(p, p.display().to_string()))
            .transpose()
    }

    /// Loads a policy from `source` (`None`: the builtin `recommended`
    /// pack); diagnostics are printed and turned into an error.
    pub fn load_policy(&self, source: Option<Source>) -> anyhow::Result<Policy> {
        policy::load(source, crate::clock::now().date_naive())
            .map_err(|d| self.policy_error(anyhow::Error::new(d)))
    }

    /// A policy's diagnostics are printed (stderr) and become an error
    /// already reported; any other error is returned as it is.
    pub fn policy_error(&self, e: anyhow::Error) -> anyhow::Error {
        match e.downcast::<policy::Diagnostics>() {
            Ok(d) => {
                eprintln!("{d}");
                eprintln!();
                anyhow::Error::new(Reported(format!(
                    "the policy has {} problem{}; nothing was checked",
                    d.0.len(),
                    crate::text::plural(d.0.len())
                )))
            }
            Err(e) => e,
        }
    }
}

fn read_source(path: &std::path::Path, name: String) -> anyhow::Result<Source> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read policy `{}`: {e}", path.display()))?;
    Ok(Source::new(name, text))
}

/// Parses arguments, runs, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match HookCli::parse_hook().map_or_else(Cli::try_parse, Ok) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let printer = Printer::new(cli.global.color, cli.global.quiet, cli.global.verbose);
    let ctx = Ctx {
        printer,
        global: cli.global,
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&ctx, args),
        Command::Policy(cmd) => policy_cmd::run(&ctx, cmd),
        Command::Baseline(args) => baseline_cmd::run(&ctx, args),
        Command::Scan(args) => scan_cmd::run(&ctx, args),
        Command::Install(args) => install::install(&ctx, args),
        Command::Uninstall => install::uninstall(&ctx),
        Command::Override(args) => override_cmd::run(&ctx, args),
        Command::Hook(args) => hook::run(&ctx, args),
        Command::Verify(args) => verify::run(&ctx, args),
        Command::Audit(cmd) => audit_cmd::run(&ctx, cmd),
        Command::Notes(cmd) => notes_cmd::run(&ctx, cmd),
        Command::Init(args) => init::run(&ctx, args),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tollgate", &mut out);
            ctx.printer.stdout(&String::from_utf8_lossy(&out));
            Ok(Outcome::Pass)
        }
        Command::Version(args) => ship_cmd::version(&ctx, args),
        Command::Man(args) => ship_cmd::man(&ctx, args),
    };
    match result {
        Ok(Outcome::Pass) => ExitCode::SUCCESS,
        Ok(Outcome::Blocked) => ExitCode::from(1),
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                // libgit2's class and code numbers mean nothing to a user.
                let c = match cause.downcast_ref::<git2::Error>() {
                    Some(g)
                        if g.code() == git2::ErrorCode::NotFound
                            && msg.starts_with("not a git repository") =>
                    {
                        continue
                    }
                    Some(g) => g.message().to_string(),
                    None => cause.to_string(),
                };
                if !msg.contains(&c) {
                    msg = format!("{msg}: {c}");
                }
            }
            ctx.printer.error(&msg);
            ExitCode::from(2)
        }
    }
}
