//! Output. One `Printer`: human text to stderr (with `error:`, `warning:`,
//! `hint:` prefixes, readable without colour), machine output (JSON,
//! SARIF) to stdout. A closed pipe is not an error.
//!
//! It owns the rendering of findings ([`Printer::findings`], [`json`],
//! [`sarif`]), of `verify`'s report ([`verify`]) and what tollgate says to a
//! coding agent ([`agent`]). It renders values it is given and decides
//! nothing: which finding is covered, and whether a range passes, are the
//! gate's.

pub mod agent;
pub mod json;
pub mod sarif;
pub mod verify;

use std::io::{IsTerminal, Write};

use crate::check::allow::Shown;
use crate::policy::Severity;

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stderr is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Adds the author, date and subject of each finding's commit, read once
/// per commit through `meta` (the git layer's `Repo::commit_meta`).
pub fn add_commit_meta(
    shown: &mut [Shown],
    mut meta: impl FnMut(&str) -> Option<crate::git::CommitMeta>,
) {
    let mut cache: std::collections::HashMap<String, Option<crate::git::CommitMeta>> =
        std::collections::HashMap::new();
    for s in shown.iter_mut() {
        let Some(commit) = &s.finding.location.commit else {
            continue;
        };
        let m = cache.entry(commit.clone()).or_insert_with(|| meta(commit));
        if let Some(m) = m {
            s.author = Some(m.author.clone());
            s.date = Some(m.date.clone());
            s.subject = Some(m.subject.clone());
        }
    }
}

/// A progress line on stderr for scans longer than about a second
/// ([`crate::clock::progress_delay`]): only when stderr is a terminal,
/// never with `-q` or `NO_COLOR`, never on stdout. The line is rewritten
/// in place (`\r`) at most five times a second and erased when done.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    start: std::time::Instant,
    delay: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl Progress {
    /// Shows `line` unless it is too early or too soon after the last one.
    pub fn show(&mut self, line: impl FnOnce() -> String) {
        if !self.enabled || self.start.elapsed() < self.delay {
            return;
        }
        if self
            .last
            .is_some_and(|l| l.elapsed() < std::time::Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(std::time::Instant::now());
        let _ = write!(std::io::stderr().lock(), "\r\x1b[Ktollgate: {}", line());
    }

    /// `scanning commit n/total (p%)`.
    pub fn commits(&mut self, done: usize, total: usize) {
        self.show(|| {
            format!(
                "scanning commit {done}/{total} ({}%)…",
                done * 100 / total.max(1)
            )
        });
    }

    /// `scanned n files`.
    pub fn files(&mut self, done: usize) {
        self.show(|| format!("scanned {done} file{}…", if done == 1 { "" } else { "s" }));
    }

    /// Erases the line, if one was shown, so that what follows starts clean.
    pub fn done(&mut self) {
        if self.last.take().is_some() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}

/// The one output path.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    color: bool,
    quiet: bool,
    verbose: bool,
}

impl Printer {
    /// A printer; colour is decided here once from the choice, `NO_COLOR`
    /// and whether stderr is a terminal.
    pub fn new(choice: ColorChoice, quiet: bool, verbose: bool) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Printer {
            color,
            quiet,
            verbose,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn err_line(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// `error: …` (always shown, even with `-q`).
    pub fn error(&self, msg: &str) {
        self.err_line(&format!("{} {msg}", self.paint("1;31", "error:")));
    }

    /// `warning: …`.
    pub fn warning(&self, msg: &str) {
        if !self.quiet {
            self.err_line(&format!("{} {msg}", self.paint("1;33", "warning:")));
        }
    }

    /// `hint: …`.
    pub fn hint(&self, msg: &str) {
        if !self.quiet {
            self.err_line(&format!("{} {msg}", self.paint("1;36", "hint:")));
        }
    }

    /// A plain informational line.
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            self.err_line(msg);
        }
    }

    /// Only with `-v`.
    pub fn debug(&self, msg: &str) {
        if self.verbose && !self.quiet {
            self.err_line(&self.paint("2", msg));
        }
    }

    /// A progress line for a long scan (see [`Progress`]).
    pub fn progress(&self) -> Progress {
        Progress {
            enabled: !self.quiet
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal(),
            start: std::time::Instant::now(),
            delay: crate::clock::progress_delay(),
            last: None,
        }
    }

    /// Text on stdout (machine output, or what a command exists to print).
    pub fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    }

    /// Lists findings on stderr; blockers are shown even with `-q`.
    /// `covered` pairs a finding's index with what passes it (`by override
    /// token tok_…`, `by the audit record of …`).
    pub fn findings(&self, shown: &[Shown], covered: &[(usize, String)]) {
        for (i, s) in shown.iter().enumerate() {
            let f = &s.finding;
            if self.quiet && f.severity == Severity::Warn {
                continue;
            }
            let (code, word) = match f.severity {
                Severity::Block => ("1;31", "blocker"),
                Severity::Warn => ("1;33", "warning"),
            };
            self.err_line(&format!(
                "{} {} `{}` ({}) at {}",
                self.paint(code, &format!("{:<3}", s.id)),
                word,
                f.constraint,
                f.kind,
                f.location
            ));
            self.err_line(&format!(
                "    {}  fingerprint {}",
                crate::text::escape_controls(&f.evidence),
                crate::text::short_sha(&f.fingerprint)
            ));
            if let Some((_, how)) = covered.iter().find(|(c, _)| *c == i) {
                self.err_line(&format!("    {} {how}", self.paint("1;32", "passed")));
            }
        }
    }
}
