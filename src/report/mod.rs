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

pub use crate::check::allow::{number, Shown};
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
                crate::check::escape_controls(&f.evidence),
                crate::text::short_sha(&f.fingerprint)
            ));
            if let Some((_, how)) = covered.iter().find(|(c, _)| *c == i) {
                self.err_line(&format!("    {} {how}", self.paint("1;32", "passed")));
            }
        }
    }
}
