//! The verdict on what coverage left: blockers stop the run; warnings pass,
//! are acknowledged, are put to the person at the terminal, or stop the run
//! where there is none, as the policy's settings say. The CLI prints the
//! verdict and asks the question; the rules are here.

use crate::check::{EventKind, Finding};
use crate::policy::{NoTerminal, Policy, Severity, Tier, WarningMode};

/// How warnings are acknowledged in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledge {
    /// `--yes` or `TOLLGATE_YES=1`.
    pub yes: bool,
    /// The policy's `[settings] warnings`.
    pub mode: WarningMode,
    /// The policy's `[settings] warnings-without-terminal`.
    pub no_terminal: NoTerminal,
}

/// What the run comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Blockers remain (their short ids, in order).
    Blocked {
        /// `B1`, `B2`, … of the blockers left.
        ids: Vec<String>,
        /// A commit or push, whose blockers an override token can pass
        /// (`check --range`, `--history` and `scan` have none).
        overridable: bool,
        /// The strictest approval tier among the blockers' constraints:
        /// what a person will be asked for.
        tier: Tier,
    },
    /// Nothing to acknowledge: no warnings, or `warnings = "print"`.
    Pass,
    /// This many warnings, acknowledged by `--yes` / `TOLLGATE_YES`.
    Acknowledged(usize),
    /// This many warnings to put to the person at the terminal.
    Ask(usize),
    /// This many warnings printed and passed: no terminal, and the policy
    /// says `warnings-without-terminal = "print"`.
    PrintedWithoutTerminal(usize),
    /// This many warnings stop the run: no terminal to ask.
    StoppedWithoutTerminal(usize),
}

/// The verdict on `left` (the findings no allow rule, baseline, record or
/// token covers), for an event of `kind` (`None`: a scan with no override).
/// `terminal` says whether there is a terminal to ask; it is called only
/// when warnings need a person, so a clean run opens nothing.
pub fn verdict<'a>(
    policy: &Policy,
    left: impl IntoIterator<Item = (&'a str, &'a Finding)>,
    kind: Option<EventKind>,
    ack: &Acknowledge,
    terminal: &mut dyn FnMut() -> bool,
) -> Verdict {
    let (mut ids, mut tier, mut warnings) = (Vec::new(), None::<Tier>, 0);
    for (id, f) in left {
        match f.severity {
            Severity::Block => {
                ids.push(id.to_string());
                if let Some(c) = policy.constraint(&f.constraint) {
                    let t = policy.tier_for(c);
                    tier = Some(tier.map_or(t, |x| x.max(t)));
                }
            }
            Severity::Warn => warnings += 1,
        }
    }
    if !ids.is_empty() {
        return Verdict::Blocked {
            ids,
            overridable: kind.is_some(),
            tier: tier.unwrap_or(policy.approval),
        };
    }
    if warnings == 0 || ack.mode == WarningMode::Print {
        Verdict::Pass
    } else if ack.yes {
        Verdict::Acknowledged(warnings)
    } else if terminal() {
        Verdict::Ask(warnings)
    } else if ack.no_terminal == NoTerminal::Print {
        Verdict::PrintedWithoutTerminal(warnings)
    } else {
        Verdict::StoppedWithoutTerminal(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Location;

    fn policy() -> Policy {
        crate::policy::load(
            Some(crate::policy::Source::new(
                "t",
                "extends = []\n\n[overrides]\napproval = \"challenge\"\n\n\
                 [[force-push]]\nid = \"fp\"\nbranches = [\"main\"]\napproval = \"presence\"\n\n\
                 [[forbidden-path]]\nid = \"env\"\npaths = [\".env\"]\n",
            )),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        )
        .unwrap()
    }

    fn finding(constraint: &str, severity: Severity) -> Finding {
        Finding {
            constraint: constraint.into(),
            kind: "forbidden-path".into(),
            severity,
            location: Location::default(),
            override_mode: crate::policy::OverrideMode::Token,
            evidence: String::new(),
            fingerprint: constraint.into(),
            scope: Vec::new(),
        }
    }

    /// For verdicts that must not look for a terminal.
    fn no_terminal_asked() -> bool {
        panic!("the terminal was looked for")
    }

    const ASK: Acknowledge = Acknowledge {
        yes: false,
        mode: WarningMode::Acknowledge,
        no_terminal: NoTerminal::Block,
    };

    #[test]
    fn blockers_stop_with_the_strictest_tier_whatever_acknowledges_warnings() {
        let p = policy();
        let (a, b, w) = (
            finding("env", Severity::Block),
            finding("fp", Severity::Block),
            finding("env", Severity::Warn),
        );
        let left = [("B1", &a), ("B2", &b), ("W1", &w)];
        for (kind, overridable) in [
            (Some(EventKind::Commit), true),
            (Some(EventKind::Push), true),
            (None, false),
        ] {
            for yes in [false, true] {
                let ack = Acknowledge { yes, ..ASK };
                assert_eq!(
                    verdict(&p, left, kind, &ack, &mut no_terminal_asked),
                    Verdict::Blocked {
                        ids: vec!["B1".into(), "B2".into()],
                        overridable,
                        tier: Tier::Presence,
                    }
                );
            }
        }
        // Only challenge-tier blockers: the policy's floor.
        assert_eq!(
            verdict(&p, [("B1", &a)], None, &ASK, &mut no_terminal_asked),
            Verdict::Blocked {
                ids: vec!["B1".into()],
                overridable: false,
                tier: Tier::Challenge
            }
        );
    }

    #[test]
    fn warnings_follow_the_settings_and_the_terminal() {
        let p = policy();
        let w = finding("env", Severity::Warn);
        let left = [("W1", &w), ("W2", &w)];
        let cases = [
            // (yes, mode, no_terminal, terminal) -> verdict
            (
                false,
                WarningMode::Acknowledge,
                NoTerminal::Block,
                true,
                Verdict::Ask(2),
            ),
            (
                true,
                WarningMode::Acknowledge,
                NoTerminal::Block,
                true,
                Verdict::Acknowledged(2),
            ),
            (
                true,
                WarningMode::Acknowledge,
                NoTerminal::Block,
                false,
                Verdict::Acknowledged(2),
            ),
            (
                false,
                WarningMode::Print,
                NoTerminal::Block,
                false,
                Verdict::Pass,
            ),
            (
                false,
                WarningMode::Acknowledge,
                NoTerminal::Block,
                false,
                Verdict::StoppedWithoutTerminal(2),
            ),
            (
                false,
                WarningMode::Acknowledge,
                NoTerminal::Print,
                false,
                Verdict::PrintedWithoutTerminal(2),
            ),
            (
                false,
                WarningMode::Acknowledge,
                NoTerminal::Print,
                true,
                Verdict::Ask(2),
            ),
        ];
        for (yes, mode, no_terminal, terminal, want) in cases {
            let ack = Acknowledge {
                yes,
                mode,
                no_terminal,
            };
            let asked = std::cell::Cell::new(false);
            let mut probe = || {
                asked.set(true);
                terminal
            };
            assert_eq!(
                verdict(&p, left, Some(EventKind::Commit), &ack, &mut probe),
                want,
                "{ack:?} terminal={terminal}"
            );
            // The terminal is looked for only when warnings need a person.
            assert_eq!(asked.get(), !yes && mode == WarningMode::Acknowledge);
        }
        assert_eq!(
            verdict(&p, [], None, &ASK, &mut no_terminal_asked),
            Verdict::Pass
        );
    }
}
