//! `tollgate init`: the first run in a repository. Writes a commented
//! starter `.tollgate.toml` (extending the recommended pack) and, when this
//! person has an SSH signing key configured, `.tollgate/allowed_signers`
//! naming them; then prints the next steps. An existing file is never
//! overwritten without `--force`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{Ctx, Outcome};
use crate::audit::config::signing_key;
use crate::git::Repo;

/// The starter policy. Every commented example is valid once uncommented
/// (a unit test below checks this).
pub const STARTER_POLICY: &str = r#"# tollgate policy: the constraints every commit and push in this repository
# must pass. Commit this file. `tollgate policy check` validates it;
# `tollgate policy show` prints the effective policy with the pack merged in.
#
# The builtin recommended pack blocks live credentials (68 secret formats),
# private key and environment files, and force pushes or deletions of main,
# master and release branches. `builtin:strict` also blocks direct commits to
# those branches.
extends = ["builtin:recommended"]

# What happens when only warnings remain: "acknowledge" (the default: answer
# the prompt, or pass --yes / TOLLGATE_YES=1) or "print" (shown, not asked).
# [settings]
# warnings = "acknowledge"

# Override tokens: the longest any may live (never above 24h), and reason
# codes that `tollgate override --code` must then use.
# [overrides]
# max-ttl = "4h"
# reasons = ["hotfix", "false-positive", "test-fixture"]

# Constraints of your own. Ids are unique and kebab-case; a constraint with
# the id of one in the pack replaces it.
#
# [[secret]]
# id = "internal-api-key"
# description = "Keys for the internal API"
# severity = "block"
# regex = '''\bIAK_[0-9a-f]{32}\b'''
# keywords = ["iak_"]
#
# [[forbidden-path]]
# id = "no-database-dumps"
# description = "Database dumps stay out of the repository"
# severity = "block"
# paths = ["*.sql.gz", "dumps/"]
#
# [[max-file-size]]
# id = "max-file-size"
# description = "Large files belong in Git LFS"
# severity = "warn"
# bytes = 10485760
"#;

/// Where the signer list lives, relative to the work tree.
pub const ALLOWED_SIGNERS: &str = ".tollgate/allowed_signers";

/// Arguments of `tollgate init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite `.tollgate.toml` and `.tollgate/allowed_signers` when they exist
    #[arg(long)]
    force: bool,
}

/// The `allowed_signers` line for this person, or why there is none.
fn signer_line(repo: &Repo) -> Result<String, String> {
    let email = repo
        .config_string("user.email")
        .filter(|e| !e.trim().is_empty())
        .ok_or("`user.email` is not set")?;
    let (key, _) = signing_key(repo).map_err(|e| e.to_string())?;
    let public = key.public_key().map_err(|e| e.to_string())?;
    let text = public
        .to_openssh()
        .map_err(|e| format!("cannot encode the public key: {e}"))?;
    // The comment is dropped: the principal names the person.
    let mut parts = text.split_whitespace();
    let (Some(algo), Some(data)) = (parts.next(), parts.next()) else {
        return Err("cannot encode the public key".into());
    };
    Ok(format!(
        "{} namespaces=\"tollgate\" {algo} {data}",
        email.trim()
    ))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
    }
    crate::state::write_atomic(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))
}

/// Writes the starter files and prints the next steps.
pub fn run(ctx: &Ctx, args: InitArgs) -> anyhow::Result<Outcome> {
    let repo = ctx.repo()?;
    let root: PathBuf = repo
        .workdir()
        .ok_or_else(|| anyhow::anyhow!("`tollgate init` needs a repository with a work tree"))?
        .to_path_buf();
    let p = &ctx.printer;
    let policy_path = root.join(".tollgate.toml");
    let signers_path = root.join(ALLOWED_SIGNERS);
    let mut written = Vec::new();
    let mut kept = Vec::new();

    if policy_path.exists() && !args.force {
        kept.push(".tollgate.toml");
    } else {
        write(&policy_path, STARTER_POLICY)?;
        written.push(".tollgate.toml");
    }

    let signer = signer_line(&repo);
    match &signer {
        Ok(line) if signers_path.exists() && !args.force => {
            kept.push(ALLOWED_SIGNERS);
            let listed = std::fs::read_to_string(&signers_path)
                .is_ok_and(|t| t.lines().any(|l| l.trim() == line));
            if !listed {
                p.hint(&format!(
                    "to be able to sign audit records, add this line to `{ALLOWED_SIGNERS}` (through a reviewed change):"
                ));
                p.hint(&format!("    {line}"));
            }
        }
        Ok(line) => {
            let text = format!(
                "# Who may sign tollgate audit records, in git's allowed_signers format:\n\
                 # <principal (git user.email)> namespaces=\"tollgate\" <key type> <public key>\n\
                 # Changes to this file deserve review: CI trusts the base branch's copy.\n\
                 {line}\n"
            );
            write(&signers_path, &text)?;
            written.push(ALLOWED_SIGNERS);
        }
        Err(why) => p.warning(&format!(
            "no SSH signing key to list in `{ALLOWED_SIGNERS}`: {why}"
        )),
    }

    for f in &written {
        p.info(&format!("tollgate: wrote `{f}`"));
    }
    for f in &kept {
        p.warning(&format!(
            "`{f}` exists; left as it is (`tollgate init --force` overwrites it)"
        ));
    }
    if written.is_empty() {
        return Err(anyhow::Error::new(super::Reported(
            "nothing written: the files exist; use `--force` to overwrite them".into(),
        )));
    }

    p.info("");
    p.info("next steps:");
    let mut n = 0;
    let mut step = |s: &str| {
        n += 1;
        p.info(&format!("  {n}. {s}"));
    };
    step("review `.tollgate.toml` (`tollgate policy show` prints the merged policy)");
    if signer.is_err() {
        step("configure an SSH signing key, then run `tollgate init` again to list it in `.tollgate/allowed_signers`:");
        p.info("       git config gpg.format ssh");
        p.info("       git config user.signingkey ~/.ssh/id_ed25519.pub");
    }
    step("install the hooks: `tollgate install` (or add tollgate to `.pre-commit-config.yaml`)");
    let files = if signers_path.exists() {
        format!(".tollgate.toml {ALLOWED_SIGNERS}")
    } else {
        ".tollgate.toml".to_string()
    };
    step(&format!("commit them: `git add {files} && git commit`"));
    step("check the setup: `tollgate doctor`");
    Ok(Outcome::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_policy_loads() {
        let p = crate::policy::load(
            Some(crate::policy::Source::new(".tollgate.toml", STARTER_POLICY)),
            crate::clock::now().date_naive(),
        )
        .unwrap();
        assert_eq!(p.sources[0], "builtin:recommended");
    }

    #[test]
    fn every_commented_example_is_valid_once_uncommented() {
        // Uncomment every `# key = …` / `# [table]` line.
        let text: String = STARTER_POLICY
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(text.contains("\n[[forbidden-path]]\n"), "{text}");
        let p = crate::policy::load(
            Some(crate::policy::Source::new(".tollgate.toml", text)),
            crate::clock::now().date_naive(),
        )
        .unwrap_or_else(|d| panic!("{d}"));
        assert!(p.constraint("no-database-dumps").is_some());
        assert!(p.constraint("internal-api-key").is_some());
    }
}
