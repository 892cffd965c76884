//! `tollgate policy import-gitleaks`: a gitleaks configuration translated
//! into tollgate constraints. What maps: each `[[rules]]` entry's `id`,
//! `description`, `regex`, `secretGroup`, `entropy` and `keywords`, and its
//! allowlists' `regexes` (which, as in gitleaks by default, match the
//! secret) as `allow-regex`; `[extend] useDefault` as
//! `extends = ["builtin:recommended"]`. What has no equivalent (path
//! regexes, stopwords, commit allowlists, other regex targets, tags used as
//! filters) is reported with its line, never silently dropped; path
//! allowlists become notes asking for narrow `[[allow]]` rules, whose
//! globs and reason a person must write.
//!
//! Pure: text in, text and notes out. The caller validates the result by
//! loading it as a policy.

use toml::Value;

/// One thing that did not translate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// 1-based line in the gitleaks file (0 when unknown).
    pub line: usize,
    /// What did not translate and what to do.
    pub message: String,
}

/// What went wrong reading the gitleaks file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not TOML.
    #[error("{name}:{line}:{col}: {message}")]
    Parse {
        /// The file's name as shown.
        name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
}

/// The translation: a policy text and the notes.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The `.tollgate.toml` text.
    pub policy: String,
    /// What has no equivalent, by line.
    pub notes: Vec<Note>,
    /// How many rules became constraints.
    pub constraints: usize,
}

/// Translates a gitleaks configuration named `name`.
pub fn import(name: &str, text: &str) -> Result<Imported, ImportError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        ImportError::Parse {
            name: name.to_string(),
            line,
            col,
            message: e.message().to_string(),
        }
    })?;
    let lines = Lines::new(text);
    let mut notes = Vec::new();
    let mut out = format!("# Imported from `{name}` by `tollgate policy import-gitleaks`.\n");
    let mut constraints = 0;
    for (key, value) in &doc {
        match key.as_str() {
            "title" | "rules" | "allowlist" | "allowlists" => {}
            "extend" => {
                let use_default = value.get("useDefault").and_then(Value::as_bool) == Some(true);
                if use_default {
                    out.push_str("# gitleaks' default rules are not imported; tollgate's own builtin pack stands in for them.\nextends = [\"builtin:recommended\"]\n");
                }
                if value.get("path").is_some() || value.get("url").is_some() {
                    notes.push(Note {
                        line: lines.find("[extend]", 0),
                        message: "`[extend] path`/`url` (another gitleaks file) has no equivalent; import that file too and merge the constraints".into(),
                    });
                }
            }
            other => notes.push(Note {
                line: lines.find(other, 0),
                message: format!("top-level `{other}` has no equivalent; left out"),
            }),
        }
    }
    for (key, at) in [
        ("allowlist", "[allowlist]"),
        ("allowlists", "[[allowlists]]"),
    ] {
        if let Some(v) = doc.get(key) {
            let line = lines.find(at, 0);
            let lists: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            for l in lists {
                allowlist_notes(l, line, "the global allowlist", &mut notes, &mut Vec::new());
            }
        }
    }
    let rules = doc
        .get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut from = 0;
    for rule in &rules {
        let start = lines.find("[[rules]]", from);
        from = start;
        let id = rule.get("id").and_then(Value::as_str).unwrap_or("");
        let Some(regex) = rule.get("regex").and_then(Value::as_str) else {
            notes.push(Note {
                line: start,
                message: format!(
                    "rule `{id}` has no `regex` (a path-only rule); write a [[forbidden-path]] constraint with globs for it"
                ),
            });
            continue;
        };
        let tid = kebab(id);
        out.push_str("\n[[secret]]\n");
        out.push_str(&format!("id = {}\n", quote(&tid)));
        if let Some(d) = rule.get("description").and_then(Value::as_str) {
            out.push_str(&format!("description = {}\n", quote(d)));
        }
        out.push_str(&format!("regex = {}\n", literal(regex)));
        if let Some(g) = rule.get("secretGroup").and_then(Value::as_integer) {
            out.push_str(&format!("secret-group = {g}\n"));
        }
        if let Some(e) = rule
            .get("entropy")
            .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
        {
            out.push_str(&format!("entropy = {e:?}\n"));
        }
        if let Some(k) = rule.get("keywords").and_then(Value::as_array) {
            let ks: Vec<String> = k.iter().filter_map(Value::as_str).map(quote).collect();
            if !ks.is_empty() {
                out.push_str(&format!("keywords = [{}]\n", ks.join(", ")));
            }
        }
        let mut allow_regex = Vec::new();
        for (k, v) in rule.as_table().into_iter().flatten() {
            match k.as_str() {
                "id" | "description" | "regex" | "secretGroup" | "entropy" | "keywords" => {}
                "tags" => {}
                "allowlist" | "allowlists" => {
                    let lists: Vec<&Value> = match v {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for l in lists {
                        allowlist_notes(l, lines.find(&format!("rules.{k}"), start), &format!("rule `{id}`"), &mut notes, &mut allow_regex);
                    }
                }
                "path" => notes.push(Note {
                    line: lines.find("path", start),
                    message: format!(
                        "rule `{id}`: `path` is a regex; tollgate's `paths` are globs: add `paths = [\"…\"]` to `{tid}` by hand"
                    ),
                }),
                other => notes.push(Note {
                    line: lines.find(other, start),
                    message: format!("rule `{id}`: `{other}` has no equivalent; left out"),
                }),
            }
        }
        if !allow_regex.is_empty() {
            let rs: Vec<String> = allow_regex.iter().map(|r| literal(r)).collect();
            out.push_str(&format!("allow-regex = [{}]\n", rs.join(", ")));
        }
        constraints += 1;
    }
    notes.sort_by_key(|n| n.line);
    Ok(Imported {
        policy: out,
        notes,
        constraints,
    })
}

/// Notes for an allowlist; its secret regexes go to `allow_regex`.
fn allowlist_notes(
    list: &Value,
    line: usize,
    whose: &str,
    notes: &mut Vec<Note>,
    allow_regex: &mut Vec<String>,
) {
    let target = list
        .get("regexTarget")
        .and_then(Value::as_str)
        .unwrap_or("secret");
    for (k, v) in list.as_table().into_iter().flatten() {
        match k.as_str() {
            "regexes" if target == "secret" && whose != "the global allowlist" => {
                allow_regex.extend(v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string));
            }
            "description" | "regexTarget" | "condition" => {}
            "paths" => notes.push(Note {
                line,
                message: format!(
                    "{whose}: allowlisted paths {} are regexes; write a narrow [[allow]] rule per path with globs, a `reason` and an `expires` date (tollgate never allows a path for every constraint)",
                    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                ),
            }),
            other => notes.push(Note {
                line,
                message: format!("{whose}: allowlist `{other}`{} has no equivalent; left out", if k == "regexes" { format!(" (target `{target}`)") } else { String::new() }),
            }),
        }
    }
}

struct Lines<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            lines: text.lines().collect(),
        }
    }

    /// The 1-based line at or after `from` (1-based) that starts with
    /// `needle` once trimmed; `from` itself when none does.
    fn find(&self, needle: &str, from: usize) -> usize {
        let start = from.saturating_sub(1);
        self.lines
            .iter()
            .enumerate()
            .skip(if from == 0 { 0 } else { start + 1 })
            .find(|(_, l)| {
                let t = l.trim_start();
                t.starts_with(needle) || t.trim_start_matches('[').starts_with(needle)
            })
            .map_or(from, |(i, _)| i + 1)
    }
}

fn kebab(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "imported-rule".into()
    } else {
        s
    }
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A TOML literal string when the text allows it (regexes read best so).
fn literal(s: &str) -> String {
    if !s.contains("'''") && !s.contains('\n') && !s.ends_with('\'') {
        format!("'''{s}'''")
    } else {
        quote(s)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    )
}
