//! `[[policy-change]]` (and the builtin `tollgate-policy-change` the loader
//! always adds): a commit that adds, modifies or deletes the policy, the
//! signer list, anything else under `.tollgate/`, or the CI configuration.
//!
//! Scope: path, old blob id, new blob id (all zeros for a side that does
//! not exist), so a token approves exactly one change of one file. The
//! evidence says what the change does, computed here from the two blobs,
//! never from text the requester wrote: "adds signer `bot@…` (ED25519
//! SHA256:…)", "adds allow rule …", "changes `extends` …".
//!
//! A root commit (no parent) starts a history instead of changing one: the
//! first push of a repository establishes its trust configuration. An
//! orphan history merged into a judged branch is caught at the merge, whose
//! change against its first parent holds every file it brings.

use std::collections::BTreeMap;

use base64ct::{Base64, Base64Unpadded, Encoding};
use sha2::{Digest, Sha256};

use super::{finding, Findings, Location, PathChange};
use crate::policy::{Constraint, PolicyChangeSpec};
use crate::text::escape_controls;

use super::ZERO_SHA as ZERO;

/// At most this many items of evidence are listed; the rest are counted.
const MAX_ITEMS: usize = 6;

/// Adds a blocker when `change` touches a guarded path.
pub fn evaluate(
    c: &Constraint,
    spec: &PolicyChangeSpec,
    change: &PathChange<'_>,
    out: &mut Findings,
) {
    if change.root || !spec.guards(change.path) {
        return;
    }
    let old_id = change.old.as_ref().map_or(ZERO, |b| b.id);
    let new_id = change.new.as_ref().map_or(ZERO, |b| b.id);
    if old_id == new_id {
        return; // a mode change or a pure rename target already judged
    }
    let path = super::display_path(change.path);
    out.push(finding(
        c,
        &[change.path, old_id.as_bytes(), new_id.as_bytes()],
        Location {
            path: Some(path.clone()),
            commit: Some(change.commit.to_string()),
            ..Location::default()
        },
        describe(&path, change, spec),
    ));
}

/// What the change does, in a few items joined by `; `.
fn describe(path: &str, change: &PathChange<'_>, spec: &PolicyChangeSpec) -> String {
    let shown = escape_controls(path).into_owned();
    let old = change.old.as_ref().map(|b| b.text);
    let new = change.new.as_ref().map(|b| b.text);
    let mut items = match (old, new) {
        (_, None) => vec![format!("deletes `{shown}`")],
        (None, Some(_)) => vec![format!("adds `{shown}`")],
        (Some(_), Some(_)) => Vec::new(),
    };
    let is_policy = path == ".tollgate.toml" || spec.files.iter().any(|f| f == path);
    let is_signers = path.rsplit('/').next() == Some("allowed_signers");
    fn text(t: Option<Option<&[u8]>>) -> Option<std::borrow::Cow<'_, str>> {
        t.flatten().map(String::from_utf8_lossy)
    }
    if is_signers {
        items.extend(signer_changes(
            text(old).as_deref().unwrap_or(""),
            text(new).as_deref().unwrap_or(""),
        ));
    } else if is_policy {
        // No file means the builtin `recommended` pack, as the loader has it.
        items.extend(policy_changes(
            text(old).as_deref(),
            text(new).as_deref(),
            &shown,
        ));
    }
    if items.is_empty() {
        items.push(format!("modifies `{shown}`"));
    }
    let extra = items.len().saturating_sub(MAX_ITEMS);
    items.truncate(MAX_ITEMS);
    let mut s = items.join("; ");
    if extra > 0 {
        s.push_str(&format!("; and {extra} more"));
    }
    s
}

/// One line of an `allowed_signers` file, as far as the evidence needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SignerLine {
    principals: String,
    key_type: String,
    key: String,
    options: String,
}

impl SignerLine {
    fn parse(line: &str) -> Option<SignerLine> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let at = tokens.iter().position(|t| key_label(t).is_some())?;
        let key = tokens.get(at + 1)?;
        Some(SignerLine {
            principals: tokens.first()?.to_string(),
            key_type: tokens[at].to_string(),
            key: key.to_string(),
            options: tokens[1..at].join(" "),
        })
    }

    /// `bot@example.com` (ED25519 SHA256:…), as `ssh-keygen -l` names keys.
    fn shown(&self) -> String {
        let label = key_label(&self.key_type).unwrap_or("KEY");
        let fp = Base64::decode_vec(&self.key)
            .map(|blob| {
                let digest = Sha256::digest(&blob);
                format!("SHA256:{}", Base64Unpadded::encode_string(&digest))
            })
            .unwrap_or_else(|_| "an unreadable key".into());
        format!(
            "`{}` ({label} {fp})",
            escape_controls(&self.principals).into_owned()
        )
    }
}

/// The name `ssh-keygen -l` gives a key type.
fn key_label(t: &str) -> Option<&'static str> {
    Some(match t {
        "ssh-ed25519" => "ED25519",
        "sk-ssh-ed25519@openssh.com" => "ED25519-SK",
        "ssh-rsa" => "RSA",
        "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" => "ECDSA",
        "sk-ecdsa-sha2-nistp256@openssh.com" => "ECDSA-SK",
        "ssh-dss" => "DSA",
        _ => return None,
    })
}

/// Signers added, removed or with changed options.
fn signer_changes(old: &str, new: &str) -> Vec<String> {
    let set = |t: &str| -> Vec<SignerLine> {
        let mut v: Vec<SignerLine> = t.lines().filter_map(SignerLine::parse).collect();
        v.sort();
        v.dedup();
        v
    };
    let (old, new) = (set(old), set(new));
    let added: Vec<&SignerLine> = new.iter().filter(|l| !old.contains(l)).collect();
    let removed: Vec<&SignerLine> = old.iter().filter(|l| !new.contains(l)).collect();
    let same_key = |a: &SignerLine, b: &SignerLine| a.principals == b.principals && a.key == b.key;
    let mut items = Vec::new();
    for a in &added {
        match removed.iter().find(|r| same_key(r, a)) {
            Some(r) => items.push(format!(
                "changes the options of signer {} from `{}` to `{}`",
                a.shown(),
                escape_controls(&r.options),
                escape_controls(&a.options)
            )),
            None => items.push(format!("adds signer {}", a.shown())),
        }
    }
    for r in &removed {
        if !added.iter().any(|a| same_key(a, r)) {
            items.push(format!("removes signer {}", r.shown()));
        }
    }
    items
}

/// What a policy file's change does: `extends`, allow rules, constraints,
/// `[settings]` and `[overrides]`. `None` is a missing file.
fn policy_changes(old: Option<&str>, new: Option<&str>, shown: &str) -> Vec<String> {
    let parse = |t: Option<&str>| -> Result<Option<toml::Table>, ()> {
        match t {
            None => Ok(None),
            Some(t) => t.parse::<toml::Table>().map(Some).map_err(|_| ()),
        }
    };
    let Ok(new_t) = parse(new) else {
        return vec![format!(
            "modifies `{shown}` so that it is not valid TOML (the policy would fail to load)"
        )];
    };
    let old_t = parse(old).unwrap_or_default();
    let mut items = Vec::new();
    let extends = |t: &Option<toml::Table>| -> Vec<String> {
        match t {
            // No file: the loader uses the builtin `recommended` pack.
            None => vec!["builtin:recommended".into()],
            Some(t) => t
                .get("extends")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("?").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    let (eo, en) = (extends(&old_t), extends(&new_t));
    if eo != en {
        items.push(format!(
            "changes `extends` from {} to {}",
            list(&eo),
            list(&en)
        ));
    }
    let empty = toml::Table::new();
    let (ot, nt) = (
        old_t.as_ref().unwrap_or(&empty),
        new_t.as_ref().unwrap_or(&empty),
    );
    let entries = |t: &toml::Table, key: &str| -> Vec<toml::Value> {
        t.get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let (oa, na) = (entries(ot, "allow"), entries(nt, "allow"));
    for a in na.iter().filter(|a| !oa.contains(a)) {
        items.push(format!("adds allow rule {}", allow_shown(a)));
    }
    for a in oa.iter().filter(|a| !na.contains(a)) {
        items.push(format!("removes allow rule {}", allow_shown(a)));
    }
    for kind in [
        "force-push",
        "protected-branch",
        "secret",
        "max-file-size",
        "forbidden-path",
        "policy-change",
    ] {
        let by_id = |t: &toml::Table| -> BTreeMap<String, toml::Value> {
            entries(t, kind)
                .into_iter()
                .map(|v| {
                    let id = v
                        .get("id")
                        .and_then(|i| i.as_str())
                        .unwrap_or("?")
                        .to_string();
                    (id, v)
                })
                .collect()
        };
        let (o, n) = (by_id(ot), by_id(nt));
        for (id, v) in &n {
            let id = escape_controls(id);
            match o.get(id.as_ref()) {
                None => items.push(format!("adds {kind} constraint `{id}`")),
                Some(old) if old != v => items.push(format!(
                    "changes {kind} constraint `{id}` ({})",
                    changed_keys(old, v)
                )),
                Some(_) => {}
            }
        }
        for id in o.keys().filter(|id| !n.contains_key(*id)) {
            items.push(format!(
                "removes {kind} constraint `{}`",
                escape_controls(id)
            ));
        }
    }
    for table in ["settings", "overrides"] {
        if ot.get(table) != nt.get(table) {
            items.push(format!("changes `[{table}]`"));
        }
    }
    if items.is_empty() && old.is_some() && new.is_some() {
        items.push(format!("modifies `{shown}` (comments or layout only)"));
    }
    items
}

/// `["a", "b"]`.
fn list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|s| format!("\"{}\"", escape_controls(s)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `` `name` (constraint `c`) for `src/**` ``.
fn allow_shown(a: &toml::Value) -> String {
    let s = |k: &str| {
        a.get(k)
            .and_then(|v| v.as_str())
            .map(|v| escape_controls(v).into_owned())
    };
    let constraint = s("constraint").unwrap_or_else(|| "?".into());
    let paths = a
        .get("paths")
        .and_then(|p| p.as_array())
        .map(|p| {
            p.iter()
                .map(|v| format!("`{}`", escape_controls(v.as_str().unwrap_or("?"))))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    match s("id") {
        Some(id) => format!("`{id}` of `{constraint}` for {paths}"),
        None => format!("of `{constraint}` for {paths}"),
    }
}

/// The keys whose values differ between two tables: `` `severity`, `paths` ``.
fn changed_keys(old: &toml::Value, new: &toml::Value) -> String {
    let (Some(o), Some(n)) = (old.as_table(), new.as_table()) else {
        return "replaced".into();
    };
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| o.get(*k) != n.get(*k))
        .map(|k| format!("`{}`", escape_controls(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_changes_name_the_principal_and_key() {
        let key = "AAAAC3NzaC1lZDI1NTE5AAAAIOb8r0qH9o7u6lCH1b1Y2b8fQ0w7e3V0rM7o2iJj1q2b";
        let old = format!("alice@example.com ssh-ed25519 {key}\n");
        let new = format!(
            "{old}bot@security.example.com namespaces=\"tollgate\" ssh-ed25519 {key} bot\n"
        );
        let items = signer_changes(&old, &new);
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(
            items[0].starts_with("adds signer `bot@security.example.com` (ED25519 SHA256:"),
            "{items:?}"
        );
        let items = signer_changes(&new, &old);
        assert!(items[0].starts_with("removes signer `bot@"), "{items:?}");
        let later = new.replace("namespaces=\"tollgate\"", "valid-before=\"20200101\"");
        let items = signer_changes(&new, &later);
        assert!(
            items[0].starts_with("changes the options of signer"),
            "{items:?}"
        );
    }

    #[test]
    fn policy_changes_say_what_weakens() {
        let old = "extends = [\"builtin:recommended\"]\n";
        let new = "extends = []\n[[allow]]\nid = \"x\"\nconstraint = \"aws-access-key-id\"\npaths = [\"src/**\"]\nreason = \"r\"\nexpires = 2099-01-01\n";
        let items = policy_changes(Some(old), Some(new), ".tollgate.toml");
        assert_eq!(
            items,
            vec![
                "changes `extends` from [\"builtin:recommended\"] to []".to_string(),
                "adds allow rule `x` of `aws-access-key-id` for `src/**`".to_string(),
            ]
        );
        // A new file without `extends` drops the builtin pack.
        let items = policy_changes(None, Some("[settings]\n"), ".tollgate.toml");
        assert!(items[0].contains("to []"), "{items:?}");
        let items = policy_changes(Some(old), Some("extends = ["), ".tollgate.toml");
        assert!(items[0].contains("not valid TOML"), "{items:?}");
        let items = policy_changes(Some(old), Some(&format!("# note\n{old}")), "p");
        assert!(items[0].contains("comments or layout only"), "{items:?}");
        let a = "[[secret]]\nid = \"k\"\nregex = \"a\"\n";
        let b = "[[secret]]\nid = \"k\"\nregex = \"a\"\nseverity = \"warn\"\n";
        let items = policy_changes(Some(a), Some(b), "p");
        assert!(
            items[0].contains("changes secret constraint `k` (`severity`)"),
            "{items:?}"
        );
        let items = policy_changes(Some(a), Some(""), "p");
        assert!(
            items.iter().any(|i| i == "removes secret constraint `k`"),
            "{items:?}"
        );
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::check::{BlobSide, Engine, Findings, PathChange};
    use crate::policy::{load, Source, POLICY_CHANGE_ID};

    fn run(
        path: &str,
        root: bool,
        old: Option<&str>,
        new: Option<&str>,
    ) -> Vec<crate::check::Finding> {
        let policy = load(
            Some(Source::new("t.toml", "extends = []\n")),
            crate::clock::now().date_naive(),
        )
        .unwrap();
        let engine = Engine::new(&policy);
        let mut out = Findings::default();
        let side = |id: &'static str, t: &'static str| BlobSide {
            id,
            text: Some(t.as_bytes()),
        };
        let change = PathChange {
            path: path.as_bytes(),
            commit: "c0ffee",
            root,
            old: old.map(|_| side("1111111111111111111111111111111111111111", "# old\n")),
            new: new.map(|_| side("2222222222222222222222222222222222222222", "# new\n")),
        };
        if engine.guards_path(change.path) {
            engine.check_path_change(&change, &mut out);
        }
        out.into_vec()
    }

    #[test]
    fn a_change_to_a_guarded_path_is_a_blocker_scoped_to_both_blobs() {
        let f = run(".github/workflows/ci.yml", false, Some(""), Some(""));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].constraint, POLICY_CHANGE_ID);
        assert_eq!(f[0].evidence, "modifies `.github/workflows/ci.yml`");
        let deleted = run(".github/workflows/ci.yml", false, Some(""), None);
        assert_eq!(deleted[0].evidence, "deletes `.github/workflows/ci.yml`");
        assert_ne!(f[0].fingerprint, deleted[0].fingerprint);
        let added = run(".tollgate.toml", false, None, Some(""));
        assert!(
            added[0].evidence.starts_with("adds `.tollgate.toml`"),
            "{}",
            added[0].evidence
        );
        // A root commit starts a history; other paths are not guarded.
        assert!(run(".tollgate.toml", true, None, Some("")).is_empty());
        assert!(run("src/lib.rs", false, Some(""), Some("")).is_empty());
    }
}
