//! What a person runs once a token is minted: the token and the exact
//! command that re-runs the blocked commit or push with it. The one token
//! printout, shared by `override`, `override pending` and `override accept`.
//! It returns text and prints nothing.

use crate::git::Repo;

use super::Event;

/// The token printout: `TOLLGATE_TOKEN=…` and the command to re-run.
pub fn token_printout(repo: &Repo, event: &Event, token: &str) -> String {
    format!(
        "TOLLGATE_TOKEN={token}\n{}\n",
        rerun_command(repo, event, token)
    )
}

/// The exact command that re-runs the blocked operation with the token.
pub fn rerun_command(repo: &Repo, event: &Event, token: &str) -> String {
    match event {
        Event::Push { remote, lines } => {
            let forced = repo
                .push_plan(remote, lines)
                .map(|p| p.updates)
                .unwrap_or_default();
            let specs: Vec<String> = lines
                .iter()
                .map(|l| {
                    let force = forced
                        .iter()
                        .any(|u| u.remote_ref == l.remote_ref && u.forced);
                    let src = if l.local_sha.is_none() {
                        ""
                    } else {
                        l.local_ref.as_str()
                    };
                    shell_quote(&format!(
                        "{}{src}:{}",
                        if force { "+" } else { "" },
                        l.remote_ref
                    ))
                })
                .collect();
            format!(
                "TOLLGATE_TOKEN={token} git push {} {}",
                shell_quote(remote),
                specs.join(" ")
            )
        }
        _ => format!("TOLLGATE_TOKEN={token} git commit"),
    }
}

/// Quotes `s` for a POSIX shell when it holds anything but plain
/// characters, so a printed command is safe to paste whatever a ref or
/// remote is called.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_./:@=,%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
