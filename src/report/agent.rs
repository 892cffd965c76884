//! Recognising a coding agent's session, only to choose what tollgate
//! says: nothing about trust depends on it, since an agent can unset any
//! variable. An agent is told that a blocker needs its person, what it
//! must not do, and exactly what to ask its person to run.

/// The variables coding agents set in the shells they spawn, as their
/// makers document or ship them, with the agent's name.
pub const AGENT_VARIABLES: &[(&str, &str)] = &[
    ("CLAUDECODE", "Claude Code"),
    ("CODEX_SANDBOX", "Codex CLI"),
    ("CURSOR_AGENT", "Cursor"),
    ("GEMINI_CLI", "Gemini CLI"),
    ("VSCODE_AGENT", "GitHub Copilot in VS Code"),
    ("AUGMENT_AGENT", "Augment"),
    ("CLINE_ACTIVE", "Cline"),
    ("OPENCODE_CLIENT", "OpenCode"),
    ("GOOSE_TERMINAL", "Goose"),
    ("TRAE_AI_SHELL_ID", "TRAE"),
    ("AIDER_MODEL", "Aider"),
    // The proposed vendor-neutral conventions (`AGENT=<name>`).
    ("AGENT", "a coding agent"),
    ("AI_AGENT", "a coding agent"),
];

/// A recognised agent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSession {
    /// The agent's name, for messages.
    pub name: &'static str,
    /// The variable that named it.
    pub variable: &'static str,
}

/// The agent whose variable `get` returns a non-empty value for, first in
/// [`AGENT_VARIABLES`] order.
pub fn detect(get: impl Fn(&str) -> Option<String>) -> Option<AgentSession> {
    AGENT_VARIABLES.iter().find_map(|(var, name)| {
        get(var)
            .filter(|v| !v.trim().is_empty() && v.trim() != "0" && v.trim() != "false")
            .map(|_| AgentSession {
                name,
                variable: var,
            })
    })
}

/// The command an agent (or any session without a terminal) runs to hand
/// a blocker to its person.
pub fn request_command(id: &str) -> String {
    format!("tollgate override request {id} --reason \"<why this should pass>\"")
}

/// What an agent is told when a blocker stops it; `who` names the agent,
/// `exe` how tollgate is run from a shell here (`tollgate`, or its path).
pub fn instructions(who: &str, id: &str, tier: crate::policy::Tier, exe: &str) -> Vec<String> {
    let how = match tier {
        crate::policy::Tier::TwoKey => "a second person must approve it with their own key",
        crate::policy::Tier::Presence => {
            "your user must approve it with a touch of their security key"
        }
        crate::policy::Tier::Challenge => "your user must approve it at their own terminal",
    };
    vec![
        format!("note to {who}: this blocker needs a person's approval ({how})."),
        "Do not try to approve it yourself, do not bypass the hooks (`--no-verify`, `core.hooksPath`), and do not edit the policy, `.tollgate/` or `.git/tollgate/`: CI's `tollgate verify` judges every override from signed data and will fail the change.".to_string(),
        format!(
            "Ask your user instead: record the request with `{}`,",
            request_command(id).replacen("tollgate", exe, 1)
        ),
        format!("then ask them to run `{exe} override pending` in their own terminal, and retry the same operation with the `TOLLGATE_TOKEN` that `override request` printed once they have approved."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_documented_variables_and_ignores_empty_or_false() {
        let env = |k: &str| (k == "CLAUDECODE").then(|| "1".to_string());
        assert_eq!(
            detect(env),
            Some(AgentSession {
                name: "Claude Code",
                variable: "CLAUDECODE"
            })
        );
        assert_eq!(detect(|_| None), None);
        assert_eq!(detect(|k| (k == "GEMINI_CLI").then(|| "0".into())), None);
        assert_eq!(detect(|k| (k == "AGENT").then(|| "".into())), None);
        assert_eq!(
            detect(|k| (k == "AGENT").then(|| "goose".into())).map(|a| a.variable),
            Some("AGENT")
        );
    }
}
