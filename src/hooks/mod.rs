//! Living beside the hook managers a team already uses: husky (the layouts
//! of v4 to v9), lefthook, the pre-commit framework and overcommit, plus a
//! committed hooks directory (`core.hooksPath` pointing at tracked files).
//!
//! This module recognises who owns a hook, says which entry in that owner's
//! own configuration runs tollgate, tells whether that entry is present, and
//! writes or removes it (`tollgate install --integrate`, `tollgate
//! uninstall`). It never writes into a manager's generated hook files: those
//! are the manager's, and it regenerates them (husky on every `npm install`,
//! lefthook on `lefthook install`), which would silently drop tollgate.
//!
//! What tollgate writes into a configuration is one block between marker
//! lines ([`BEGIN`], [`END`]) or one marked line, so that uninstall removes
//! exactly that and leaves the file as it was. Printing and the decision to
//! refuse are the CLI's.

use std::fs;
use std::path::{Path, PathBuf};

/// The first line of every block tollgate adds to a manager's configuration.
pub const BEGIN: &str = "# >>> tollgate: added by `tollgate install --integrate`; `tollgate uninstall` removes this block";
/// The last line of that block.
pub const END: &str = "# <<< tollgate";
/// Ends the one line tollgate adds to a shell hook file (husky, a committed hook).
pub const LINE_MARK: &str = "# tollgate-integration";

/// What went wrong reading or writing a manager's configuration.
#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// A configuration or hook file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A configuration or hook file could not be written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration already has the hook's section, so a block cannot
    /// be appended without editing the user's own entries.
    #[error(
        "`{path}` already has a `{section}` section; add the entry printed above to it by hand"
    )]
    SectionExists {
        /// The file.
        path: PathBuf,
        /// The section (a hook name, or `repos`).
        section: String,
    },
    /// The manager's configuration is not one tollgate can append to.
    #[error("{0}")]
    CannotIntegrate(String),
}

/// The husky layouts, which differ in where the user's hook scripts live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Husky {
    /// v4: husky's scripts in `.git/hooks`, the commands in `package.json`
    /// (`"husky": {"hooks": {…}}`) or `.huskyrc`.
    V4,
    /// v5 to v8: `core.hooksPath=.husky`, user scripts `.husky/<hook>` that
    /// source `.husky/_/husky.sh`.
    V5To8,
    /// v9: `core.hooksPath=.husky/_` (generated, git-ignored), user scripts
    /// `.husky/<hook>` run by `.husky/_/h`.
    V9,
}

/// Who owns the hooks of a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// husky, in one of its layouts.
    Husky(Husky),
    /// lefthook, with its configuration file (relative to the root), if any.
    Lefthook(Option<String>),
    /// The pre-commit framework (`.pre-commit-config.yaml`).
    PreCommit,
    /// overcommit (`.overcommit.yml`).
    Overcommit,
    /// A hooks directory whose hook files are committed (tracked): shared by
    /// the team, so no machine path may go into them. The directory is
    /// relative to the root.
    Committed(String),
}

/// The configuration names lefthook reads, in its order.
const LEFTHOOK_CONFIGS: [&str; 8] = [
    "lefthook.yml",
    ".lefthook.yml",
    "lefthook.yaml",
    ".lefthook.yaml",
    ".config/lefthook.yml",
    ".config/lefthook.yaml",
    "lefthook.toml",
    "lefthook.json",
];

/// Where the pre-commit framework snippet points: `Cargo.toml`'s
/// `repository`, when the build has one.
pub const REPO_URL: &str = env!("CARGO_PKG_REPOSITORY");

/// [`REPO_URL`], or a placeholder to fill in when the build has none.
fn repo_url() -> &'static str {
    if REPO_URL.is_empty() {
        "<tollgate repository URL>"
    } else {
        REPO_URL
    }
}
/// The tag the framework snippet pins.
pub const REV: &str = "v0.2.0";

/// The command a manager runs for git hook `hook`. `--no-chain`: the manager
/// runs the team's other hooks itself.
pub fn command(hook: &str) -> String {
    format!("tollgate hook --no-chain {hook} \"$@\"")
}

/// The pre-commit framework's hook id for git hook `hook`.
pub fn framework_id(hook: &str) -> &'static str {
    match hook {
        "pre-push" => "tollgate-push",
        "post-commit" => "tollgate-post-commit",
        _ => "tollgate",
    }
}

/// Recognises the owner of git hook `hook`: `hooks_dir` is the directory git
/// uses, `hook_text` the hook file's content when it exists, `tracked`
/// whether that file is committed. `None`: nobody (tollgate may install its
/// shim and chain what is there).
pub fn detect(
    root: Option<&Path>,
    hooks_dir: &Path,
    hook_text: Option<&str>,
    tracked: bool,
) -> Option<Manager> {
    let text = hook_text.unwrap_or("");
    let in_root = |rel: &str| root.is_some_and(|r| r.join(rel).exists());
    // husky v9: the generated hooks source `h` beside them.
    let dir_name = hooks_dir.file_name().and_then(|n| n.to_str());
    let parent_name = hooks_dir
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str());
    if dir_name == Some("_") && parent_name == Some(".husky") && hooks_dir.join("h").exists() {
        return Some(Manager::Husky(Husky::V9));
    }
    if dir_name == Some(".husky") && hooks_dir.join("_/husky.sh").exists() {
        return Some(Manager::Husky(Husky::V5To8));
    }
    if text.contains("File generated by pre-commit") {
        return Some(Manager::PreCommit);
    }
    if text.contains("call_lefthook") || text.contains("lefthook run") {
        let config = LEFTHOOK_CONFIGS
            .iter()
            .find(|c| in_root(c))
            .map(|c| c.to_string());
        return Some(Manager::Lefthook(config));
    }
    if text.contains("husky.sh") && (text.contains("husky") || in_root(".huskyrc")) {
        return Some(Manager::Husky(Husky::V4));
    }
    if text.to_ascii_lowercase().contains("overcommit") {
        return Some(Manager::Overcommit);
    }
    if tracked {
        let rel = root
            .and_then(|r| hooks_dir.strip_prefix(r).ok())
            .unwrap_or(hooks_dir)
            .display()
            .to_string();
        return Some(Manager::Committed(rel));
    }
    None
}

impl Manager {
    /// Its name in messages.
    pub fn name(&self) -> String {
        match self {
            Manager::Husky(Husky::V4) => "husky (v4)".into(),
            Manager::Husky(Husky::V5To8) => "husky (v5 to v8)".into(),
            Manager::Husky(Husky::V9) => "husky (v9)".into(),
            Manager::Lefthook(_) => "lefthook".into(),
            Manager::PreCommit => "the pre-commit framework".into(),
            Manager::Overcommit => "overcommit".into(),
            Manager::Committed(dir) => format!("the committed hooks directory `{dir}`"),
        }
    }

    /// The file (relative to the root) where the entry for `hook` goes.
    pub fn config_file(&self, hook: &str) -> String {
        match self {
            Manager::Husky(Husky::V4) => "package.json".into(),
            Manager::Husky(_) => format!(".husky/{hook}"),
            Manager::Lefthook(c) => c.clone().unwrap_or_else(|| "lefthook.yml".into()),
            Manager::PreCommit => ".pre-commit-config.yaml".into(),
            Manager::Overcommit => ".overcommit.yml".into(),
            Manager::Committed(dir) => format!("{dir}/{hook}"),
        }
    }

    /// The entry that runs tollgate for `hooks`, in the manager's own words
    /// (what is printed, and what `--integrate` writes where it can).
    pub fn entry(&self, hooks: &[&str]) -> String {
        match self {
            Manager::Husky(Husky::V4) => {
                let lines: Vec<String> = hooks
                    .iter()
                    .map(|h| {
                        // husky 4's `husky.sh` reads a pre-push hook's stdin
                        // into `HUSKY_GIT_STDIN` before it runs the command:
                        // the ref updates must be passed on from there, or
                        // tollgate would see an empty push and pass it.
                        let run = match *h {
                            "pre-push" => format!(
                                "echo \"$HUSKY_GIT_STDIN\" | tollgate hook --no-chain {h} $HUSKY_GIT_PARAMS"
                            ),
                            _ => format!("tollgate hook --no-chain {h} $HUSKY_GIT_PARAMS"),
                        };
                        format!("      \"{h}\": \"{}\"", run.replace('"', "\\\""))
                    })
                    .collect();
                format!(
                    "  \"husky\": {{\n    \"hooks\": {{\n{}\n    }}\n  }}\n",
                    lines.join(",\n")
                )
            }
            Manager::Husky(_) | Manager::Committed(_) => hooks
                .iter()
                .map(|h| format!("{}:  {}\n", self.config_file(h), shell_line(h)))
                .collect(),
            Manager::Lefthook(_) => lefthook_block(hooks),
            Manager::PreCommit => framework_block(hooks, "  "),
            Manager::Overcommit => overcommit_block(hooks),
        }
    }

    /// Whether the manager's configuration already runs tollgate for `hook`.
    pub fn runs_tollgate(&self, root: &Path, hook: &str) -> bool {
        let read = |rel: &str| fs::read_to_string(root.join(rel)).unwrap_or_default();
        match self {
            Manager::Husky(Husky::V4) => {
                let text = read("package.json") + &read(".huskyrc") + &read(".huskyrc.json");
                // A pre-push entry that does not pass `HUSKY_GIT_STDIN` on
                // gives tollgate an empty push (husky 4 has read the input):
                // it does not count.
                text.lines().any(|l| {
                    l.contains(&format!("\"{hook}\""))
                        && runs_hook(l, hook)
                        && (hook != "pre-push" || l.contains("HUSKY_GIT_STDIN"))
                })
            }
            Manager::Husky(_) | Manager::Committed(_) => {
                let text = read(&self.config_file(hook));
                text.lines()
                    .any(|l| !l.trim_start().starts_with('#') && runs_hook(l, hook))
            }
            Manager::Lefthook(_) => {
                let text = read(&self.config_file(hook));
                section(&text, hook).is_some_and(|body| body.lines().any(|l| runs_hook(l, hook)))
            }
            Manager::PreCommit => {
                let text = read(".pre-commit-config.yaml");
                let needle = format!("id: {}", framework_id(hook));
                text.match_indices(&needle).any(|(i, _)| {
                    !text[i + needle.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
            }
            Manager::Overcommit => {
                let text = read(".overcommit.yml");
                let key = overcommit_section(hook);
                section(&text, key).is_some_and(|body| body.lines().any(|l| runs_hook(l, hook)))
            }
        }
    }

    /// Writes the entry for `hooks` into the manager's configuration;
    /// returns the files changed. Refuses (without writing anything) where
    /// it would have to edit the user's own entries.
    pub fn integrate(&self, root: &Path, hooks: &[&str]) -> Result<Vec<PathBuf>, HooksError> {
        let hooks: Vec<&str> = hooks
            .iter()
            .copied()
            .filter(|h| !self.runs_tollgate(root, h))
            .collect();
        if hooks.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Manager::Husky(Husky::V4) => Err(HooksError::CannotIntegrate(
                "husky v4 keeps its hooks in `package.json`, which tollgate does not rewrite; add the entry printed above by hand".into(),
            )),
            Manager::Husky(_) | Manager::Committed(_) => {
                let mut changed = Vec::new();
                for h in &hooks {
                    let path = root.join(self.config_file(h));
                    let old = match fs::read_to_string(&path) {
                        Ok(t) => t,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                        Err(source) => return Err(HooksError::Read { path, source }),
                    };
                    let new = insert_shell_line(&old, h);
                    write_keeping_mode(&path, &new, old.is_empty())?;
                    changed.push(path);
                }
                Ok(changed)
            }
            Manager::Lefthook(_) | Manager::Overcommit => {
                let path = root.join(self.config_file(hooks[0]));
                if path.extension().is_some_and(|e| e == "toml" || e == "json") {
                    return Err(HooksError::CannotIntegrate(format!(
                        "tollgate writes only YAML lefthook configurations; add the entry printed above to `{}` by hand",
                        path.display()
                    )));
                }
                let mut text = read_or_empty(&path)?;
                let mut appended = Vec::new();
                for h in &hooks {
                    let overcommit = matches!(self, Manager::Overcommit);
                    let key = if overcommit { overcommit_section(h) } else { h };
                    match section_span(&text, key) {
                        Some(span) => {
                            text = if overcommit {
                                insert_child(&text, span, &|ci| overcommit_entry(h, ci), None)
                            } else {
                                insert_child(&text, span, &|ci| lefthook_entry(h, ci, false), Some(("commands", &|ci| lefthook_entry(h, ci, true))))
                            }
                            .ok_or_else(|| HooksError::SectionExists {
                                path: path.clone(),
                                section: key.to_string(),
                            })?;
                        }
                        None => appended.push(*h),
                    }
                }
                if !appended.is_empty() {
                    let block = match self {
                        Manager::Overcommit => overcommit_block(&appended),
                        _ => lefthook_block(&appended),
                    };
                    text = append_block(&text, &block);
                }
                write_keeping_mode(&path, &text, false)?;
                Ok(vec![path])
            }
            Manager::PreCommit => {
                let path = root.join(".pre-commit-config.yaml");
                if REPO_URL.is_empty() {
                    return Err(HooksError::CannotIntegrate(
                        "this tollgate build does not know its repository URL (`repository` in Cargo.toml); add the entry printed above with the URL or path of your tollgate source".into(),
                    ));
                }
                let old = read_or_empty(&path)?;
                // The block is a list item under `repos:`; appending it is
                // right only when `repos:` is the last top-level key.
                let last_key = old
                    .lines()
                    .rfind(|l| !l.starts_with([' ', '\t', '#', '-']) && l.contains(':'));
                if last_key.is_some_and(|l| !l.starts_with("repos:")) {
                    return Err(HooksError::CannotIntegrate(format!(
                        "`{}` has keys after `repos:`; add the entry printed above to `repos:` by hand",
                        path.display()
                    )));
                }
                let indent = old
                    .lines()
                    .find(|l| l.trim_start().starts_with("- repo:"))
                    .map(|l| l[..l.len() - l.trim_start().len()].to_string())
                    .unwrap_or_else(|| "  ".into());
                let mut base = old.clone();
                if last_key.is_none() {
                    base.push_str("repos:\n");
                }
                write_keeping_mode(
                    &path,
                    &append_block(&base, &framework_block(&hooks, &indent)),
                    false,
                )?;
                Ok(vec![path])
            }
        }
    }
}

/// Removes what `--integrate` wrote from every file it may have written in
/// `root` (marked blocks and marked lines); returns the files changed.
pub fn remove_integration(
    root: &Path,
    hooks: &[&str],
    extra_dirs: &[PathBuf],
) -> Result<Vec<PathBuf>, HooksError> {
    let mut candidates: Vec<PathBuf> = LEFTHOOK_CONFIGS
        .iter()
        .chain([".pre-commit-config.yaml", ".overcommit.yml"].iter())
        .map(|c| root.join(c))
        .collect();
    for h in hooks {
        candidates.push(root.join(".husky").join(h));
        for d in extra_dirs {
            candidates.push(d.join(h));
        }
    }
    let mut changed = Vec::new();
    for path in candidates {
        let Ok(old) = fs::read_to_string(&path) else {
            continue;
        };
        let new = strip_integration(&old);
        if new != old {
            if new
                .lines()
                .all(|l| l.starts_with("#!") || l.trim().is_empty())
            {
                // The file held nothing but what tollgate wrote.
                fs::remove_file(&path).map_err(|source| HooksError::Write {
                    path: path.clone(),
                    source,
                })?;
            } else {
                write_keeping_mode(&path, &new, false)?;
            }
            changed.push(path);
        }
    }
    Ok(changed)
}

/// `text` without tollgate's marked blocks and lines.
pub fn strip_integration(text: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == BEGIN {
            in_block = true;
            continue;
        }
        if in_block {
            if bare == END {
                in_block = false;
            }
            continue;
        }
        if bare.ends_with(LINE_MARK) {
            continue;
        }
        out.push_str(line);
    }
    // The block was appended after one blank line; take that back too.
    if text.contains(BEGIN) && out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Whether a configuration line runs `tollgate hook … <hook>`.
fn runs_hook(line: &str, hook: &str) -> bool {
    // Shell words (`tollgate hook --no-chain pre-push`) or a YAML argument
    // list (overcommit's `command: ['tollgate', 'hook', '--no-chain', …]`).
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || "[]'\",".contains(c))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .position(|w| w[0].ends_with("tollgate") && w[1] == "hook")
        .is_some_and(|i| words[i + 2..].contains(&hook))
}

/// The line tollgate adds to a shell hook (husky's `.husky/<hook>`, a
/// committed hook). It fails closed: when `tollgate` is not on `PATH` the
/// shell's 127 stops the commit. A pre-push line keeps git's input for the
/// lines after it.
fn shell_line(hook: &str) -> String {
    let cmd = command(hook);
    match hook {
        // The input goes to a file that tollgate reads and that then becomes
        // the script's stdin again (the file is removed once open).
        "pre-push" => format!(
            "tollgate_in=$(mktemp) && cat >\"$tollgate_in\" && {cmd} <\"$tollgate_in\" && exec <\"$tollgate_in\" && rm -f \"$tollgate_in\" || {{ rm -f \"$tollgate_in\"; exit 1; }}  {LINE_MARK}"
        ),
        _ => format!("{cmd} || exit $?  {LINE_MARK}"),
    }
}

/// `text` with tollgate's line added after the shebang, before anything
/// else: an `exit 0` later in the script cannot skip tollgate, and a
/// pre-push script's own `read`/`cat` cannot take git's input first (which
/// would leave tollgate nothing to check).
fn insert_shell_line(text: &str, hook: &str) -> String {
    let line = shell_line(hook);
    if text.is_empty() {
        return format!("#!/bin/sh\n{line}\n");
    }
    let mut out = String::new();
    let mut placed = false;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if !(placed || i == 0 && l.starts_with("#!")) {
            out.push_str(&line);
            out.push('\n');
            placed = true;
        }
        out.push_str(l);
    }
    if !placed {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The body of top-level key `key:` in a YAML text (up to the next
/// top-level key), if the key is there.
fn section<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let top = !line.starts_with([' ', '\t', '#', '\n', '\r']) && !line.trim().is_empty();
        if let Some(s) = start {
            if top {
                return Some(&text[s..offset]);
            }
        } else if top {
            let k = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if k == key {
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    start.map(|s| &text[s..])
}

/// The byte range of the lines of top-level key `key:` (its header line
/// included) in a YAML text.
fn section_span(text: &str, key: &str) -> Option<(usize, usize)> {
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let top = !line.starts_with([' ', '\t', '#', '\n', '\r']) && !line.trim().is_empty();
        if let Some(s) = start {
            if top {
                return Some((s, offset));
            }
        } else if top {
            let k = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if k == key {
                start = Some(offset);
            }
        }
        offset += line.len();
    }
    start.map(|s| (s, text.len()))
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Inserts a marked entry into the section at `span`: under its `sub:` key
/// when the section has one (`commands:` for lefthook), else as a direct
/// child (`entry` gets the child indentation). `None` when the section is
/// written inline (`pre-commit: {…}`), which tollgate does not edit.
#[allow(clippy::type_complexity)]
fn insert_child(
    text: &str,
    span: (usize, usize),
    entry: &dyn Fn(&str) -> String,
    sub: Option<(&str, &dyn Fn(&str) -> String)>,
) -> Option<String> {
    let body = &text[span.0..span.1];
    let mut lines = body.split_inclusive('\n');
    let header = lines.next()?;
    let after_colon = header.split_once(':').map(|(_, v)| v.trim()).unwrap_or("");
    if !(after_colon.is_empty() || after_colon.starts_with('#')) {
        return None;
    }
    let meaningful = |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let child_indent = body
        .split_inclusive('\n')
        .skip(1)
        .find(meaningful)
        .map(indent_of)
        .unwrap_or(2);
    let mut at = span.0 + header.len();
    let mut block_indent = " ".repeat(child_indent);
    let mut make: &dyn Fn(&str) -> String = entry;
    if let Some((key, nested)) = sub {
        let mut offset = span.0 + header.len();
        let rest: Vec<&str> = lines.collect();
        for (i, l) in rest.iter().enumerate() {
            offset += l.len();
            if indent_of(l) == child_indent && l.trim() == format!("{key}:") {
                let inner = rest[i + 1..]
                    .iter()
                    .copied()
                    .find(meaningful)
                    .map(indent_of)
                    .filter(|&n| n > child_indent)
                    .unwrap_or(child_indent + 2);
                at = offset;
                block_indent = " ".repeat(inner);
                make = nested;
                break;
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 200);
    out.push_str(&text[..at]);
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(&make(&block_indent));
    out.push_str(END);
    out.push('\n');
    out.push_str(&text[at..]);
    Some(out)
}

/// lefthook's entry for `hook` at indentation `ci`: a `commands:` child
/// (`nested`), or a `commands:` key with it (added under the hook's key).
fn lefthook_entry(hook: &str, ci: &str, nested: bool) -> String {
    let (lead, inner) = if nested {
        (String::new(), ci.to_string())
    } else {
        (format!("{ci}commands:\n"), format!("{ci}  "))
    };
    let run = match hook {
        "pre-push" => format!("{inner}  run: tollgate hook --no-chain pre-push {{1}} {{2}}\n{inner}  use_stdin: true\n"),
        _ => format!("{inner}  run: tollgate hook --no-chain {hook}\n"),
    };
    format!("{lead}{inner}tollgate:\n{run}")
}

fn overcommit_entry(hook: &str, ci: &str) -> String {
    format!(
        "{ci}Tollgate:\n{ci}  enabled: true\n{ci}  description: 'tollgate'\n{ci}  required_executable: 'tollgate'\n{ci}  command: ['tollgate', 'hook', '--no-chain', '{hook}']\n"
    )
}

fn lefthook_block(hooks: &[&str]) -> String {
    let mut out = String::new();
    for h in hooks {
        out.push_str(&format!("{h}:\n  commands:\n    tollgate:\n"));
        match *h {
            "pre-push" => out.push_str(
                "      run: tollgate hook --no-chain pre-push {1} {2}\n      use_stdin: true\n",
            ),
            _ => out.push_str(&format!("      run: tollgate hook --no-chain {h}\n")),
        }
    }
    out
}

fn framework_block(hooks: &[&str], indent: &str) -> String {
    let mut out = format!(
        "{indent}- repo: {}\n{indent}  rev: {REV}\n{indent}  hooks:\n",
        repo_url()
    );
    for h in hooks {
        out.push_str(&format!("{indent}    - id: {}\n", framework_id(h)));
    }
    out
}

fn overcommit_section(hook: &str) -> &'static str {
    match hook {
        "pre-push" => "PrePush",
        "post-commit" => "PostCommit",
        _ => "PreCommit",
    }
}

fn overcommit_block(hooks: &[&str]) -> String {
    let mut out = String::new();
    for h in hooks {
        out.push_str(&format!(
            "{}:\n  Tollgate:\n    enabled: true\n    description: 'tollgate'\n    required_executable: 'tollgate'\n    command: ['tollgate', 'hook', '--no-chain', '{h}']\n",
            overcommit_section(h)
        ));
    }
    out
}

fn append_block(old: &str, block: &str) -> String {
    let mut out = old.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(block);
    out.push_str(END);
    out.push('\n');
    out
}

fn read_or_empty(path: &Path) -> Result<String, HooksError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(HooksError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `text`, keeping the file's permissions; a new file is made
/// executable when `executable`.
fn write_keeping_mode(path: &Path, text: &str, executable: bool) -> Result<(), HooksError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok().map(|m| m.permissions().mode());
    let err = |source| HooksError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    crate::state::write_atomic(path, text.as_bytes()).map_err(err)?;
    let mode = mode.unwrap_or(if executable { 0o755 } else { 0o644 });
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(err)
}

#[cfg(test)]
mod tests;
