//! The `allowed_signers` file, in the format git and `ssh-keygen -Y verify`
//! read (see `ssh-keygen(1)`, "ALLOWED SIGNERS"):
//!
//! ```text
//! # comment
//! alice@example.com,*@ops.example.com,!mallory@ops.example.com namespaces="tollgate",valid-before="20301231Z" ssh-ed25519 AAAA… alice
//! ```
//!
//! Each line is `principals [options] keytype base64-key [comment]`. This
//! module parses the file and answers "may this key sign for this principal
//! in this namespace at this time"; it does not verify signatures.
//! `cert-authority` lines are refused: tollgate verifies plain keys only, and
//! silently ignoring such a line would make a signer list mean something
//! else than it does to `ssh-keygen`.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::{HashAlg, PublicKey};

use super::AuditError;

/// A comma-separated list of `*`/`?` patterns, some negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList(Vec<String>);

impl PatternList {
    /// Parses `a,b*,!c`; empty patterns are refused.
    pub fn parse(list: &str) -> Result<PatternList, String> {
        let patterns: Vec<String> = list.split(',').map(str::to_owned).collect();
        if patterns.iter().any(|p| p.is_empty() || p == "!") {
            return Err(format!("empty pattern in `{list}`"));
        }
        Ok(PatternList(patterns))
    }

    /// True if a positive pattern matches `s` and no negated one does
    /// (OpenSSH's `match_pattern_list`, case-sensitive).
    pub fn matches(&self, s: &str) -> bool {
        let mut positive = false;
        for p in &self.0 {
            match p.strip_prefix('!') {
                Some(neg) if glob_match(neg, s) => return false,
                Some(_) => {}
                None => positive |= glob_match(p, s),
            }
        }
        positive
    }
}

impl fmt::Display for PatternList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// `*` matches any run of characters, `?` exactly one.
fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // `*` first: as a literal it would also match a `*` in the text
        // and lose its place to backtrack to.
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// One line of the file: a key and where it may be used.
#[derive(Debug, Clone)]
pub struct SignerEntry {
    /// 1-based line number in the file.
    pub line: usize,
    /// Who this key may sign for.
    pub principals: PatternList,
    /// `namespaces="…"`: where it may sign; `None` means any namespace.
    pub namespaces: Option<PatternList>,
    /// `valid-after="…"`, as a UTC instant.
    pub valid_after: Option<DateTime<Utc>>,
    /// `valid-before="…"`, as a UTC instant.
    pub valid_before: Option<DateTime<Utc>>,
    /// The public key.
    pub key: PublicKey,
}

impl SignerEntry {
    /// `SHA256:…` of the key.
    pub fn key_fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Whether this line lets its key sign for `principal` in `namespace` at
    /// `at`; the error says which condition failed.
    pub fn permits(
        &self,
        principal: &str,
        namespace: &str,
        at: DateTime<Utc>,
    ) -> Result<(), String> {
        if !self.principals.matches(principal) {
            return Err(format!(
                "line {}: principal `{principal}` does not match `{}`",
                self.line, self.principals
            ));
        }
        if let Some(ns) = &self.namespaces {
            if !ns.matches(namespace) {
                return Err(format!(
                    "line {}: namespace `{namespace}` not in namespaces=\"{ns}\"",
                    self.line
                ));
            }
        }
        // Same comparisons as OpenSSH's sshsig.c: valid from `valid-after`
        // on, invalid once strictly past `valid-before`.
        if let Some(after) = self.valid_after {
            if at < after {
                return Err(format!(
                    "line {}: key not yet valid at {} (valid-after {})",
                    self.line,
                    at.to_rfc3339(),
                    after.to_rfc3339()
                ));
            }
        }
        if let Some(before) = self.valid_before {
            if at > before {
                return Err(format!(
                    "line {}: key expired at {} (valid-before {})",
                    self.line,
                    at.to_rfc3339(),
                    before.to_rfc3339()
                ));
            }
        }
        Ok(())
    }
}

/// A parsed `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    path: PathBuf,
    entries: Vec<SignerEntry>,
}

impl AllowedSigners {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<AllowedSigners, AuditError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        })?;
        AllowedSigners::parse(&text, path)
    }

    /// Parses `text`; `path` names it in errors (it need not exist, e.g.
    /// when the file was read from the base commit's tree).
    pub fn parse(text: &str, path: &Path) -> Result<AllowedSigners, AuditError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let entry = parse_line(trimmed, line).map_err(|why| AuditError::AllowedSigners {
                path: path.to_owned(),
                line,
                why,
            })?;
            entries.push(entry);
        }
        Ok(AllowedSigners {
            path: path.to_owned(),
            entries,
        })
    }

    /// The file these signers came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every line, in file order.
    pub fn entries(&self) -> &[SignerEntry] {
        &self.entries
    }
}

/// Splits off the first field: up to unquoted whitespace. Quotes are kept
/// (options need them), except around a whole quoted field.
fn next_field(s: &str) -> Result<(&str, &str), String> {
    let s = s.trim_start();
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => return Ok((&s[..i], &s[i..])),
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quote".into());
    }
    Ok((s, ""))
}

fn parse_line(text: &str, line: usize) -> Result<SignerEntry, String> {
    let (principals, rest) = next_field(text)?;
    // A quoted principals field (OpenSSH allows one) is a plain list.
    let principals = match principals
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
    {
        Some(inner) => inner,
        None if principals.contains('"') => {
            return Err(format!("stray quote in principals `{principals}`"))
        }
        None => principals,
    };
    let principals = PatternList::parse(principals).map_err(|e| format!("principals: {e}"))?;

    let (second, after_second) = next_field(rest)?;
    if second.is_empty() {
        return Err("missing public key".into());
    }
    // A key type is a bare word; an option list has `=` or is a bare
    // `cert-authority`. Deciding by shape (not by trying to parse a key)
    // keeps the error about the right field.
    let is_options = second.contains('=')
        || second
            .split(',')
            .any(|o| o.eq_ignore_ascii_case("cert-authority"));
    let mut entry_opts = Options::default();
    let key_text = if is_options {
        entry_opts = parse_options(second)?;
        after_second
    } else {
        rest
    };
    let key = parse_key(key_text)?;
    Ok(SignerEntry {
        line,
        principals,
        namespaces: entry_opts.namespaces,
        valid_after: entry_opts.valid_after,
        valid_before: entry_opts.valid_before,
        key,
    })
}

#[derive(Default)]
struct Options {
    namespaces: Option<PatternList>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
}

fn parse_options(list: &str) -> Result<Options, String> {
    let mut opts = Options::default();
    for opt in split_unquoted_commas(list)? {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (opt, None),
        };
        let name_lc = name.to_ascii_lowercase();
        if name_lc == "cert-authority" {
            return Err("`cert-authority` is not supported: tollgate verifies plain keys, not certificates; list each signer's key instead".into());
        }
        let value = match value {
            Some(v) => v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains('"'))
                .ok_or_else(|| format!("option `{name}` needs a double-quoted value"))?,
            None => return Err(format!("unknown option `{name}`")),
        };
        let duplicate = || format!("option `{name}` given twice");
        match name_lc.as_str() {
            "namespaces" => {
                if opts.namespaces.is_some() {
                    return Err(duplicate());
                }
                opts.namespaces =
                    Some(PatternList::parse(value).map_err(|e| format!("namespaces: {e}"))?);
            }
            "valid-after" => {
                if opts.valid_after.is_some() {
                    return Err(duplicate());
                }
                opts.valid_after =
                    Some(parse_time(value).map_err(|e| format!("valid-after: {e}"))?);
            }
            "valid-before" => {
                if opts.valid_before.is_some() {
                    return Err(duplicate());
                }
                opts.valid_before =
                    Some(parse_time(value).map_err(|e| format!("valid-before: {e}"))?);
            }
            _ => return Err(format!("unknown option `{name}`")),
        }
    }
    Ok(opts)
}

fn split_unquoted_commas(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quote in options".into());
    }
    out.push(&s[start..]);
    if out.iter().any(|o| o.is_empty()) {
        return Err(format!("empty option in `{s}`"));
    }
    Ok(out)
}

/// `YYYYMMDD[HHMM[SS]][Z]`: UTC with `Z`, else the local time zone (as
/// `ssh-keygen` reads it).
fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let (digits, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (s, false),
    };
    let bad = || format!("`{s}` is not YYYYMMDD[HHMM[SS]][Z]");
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let naive = match digits.len() {
        8 => NaiveDate::parse_from_str(digits, "%Y%m%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0)),
        12 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M").ok(),
        14 => NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok(),
        _ => None,
    }
    .ok_or_else(bad)?;
    if utc {
        Ok(naive.and_utc())
    } else {
        Local
            .from_local_datetime(&naive)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                format!("`{s}` is ambiguous or does not exist in the local time zone; add `Z`")
            })
    }
}

fn parse_key(text: &str) -> Result<PublicKey, String> {
    let mut parts = text.split_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err("missing public key (expected `keytype base64-key`)".into());
    };
    if kind.contains("-cert-v01@") {
        return Err(format!(
            "`{kind}` is a certificate: tollgate verifies plain keys only"
        ));
    }
    let key = PublicKey::from_openssh(&format!("{kind} {b64}"))
        .map_err(|e| format!("cannot parse `{kind}` public key: {e}"))?;
    if key.algorithm().as_str() != kind {
        return Err(format!(
            "key type `{kind}` does not match the key data (`{}`)",
            key.algorithm().as_str()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    fn parse(text: &str) -> Result<AllowedSigners, AuditError> {
        AllowedSigners::parse(text, Path::new(".tollgate/allowed_signers"))
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn err_of(text: &str) -> (usize, String) {
        match parse(text) {
            Err(AuditError::AllowedSigners { line, why, .. }) => (line, why),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn patterns() {
        assert!(glob_match("*@example.com", "a@example.com"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(!glob_match("alice@example.com", "Alice@example.com"));
        let list = PatternList::parse("*@example.com,!mallory@example.com").unwrap();
        assert!(list.matches("alice@example.com"));
        assert!(!list.matches("mallory@example.com"));
        assert!(!list.matches("alice@other.com"));
        // Only negations: nothing matches.
        assert!(!PatternList::parse("!a").unwrap().matches("b"));
        assert!(PatternList::parse("a,,b").is_err());
    }

    #[test]
    fn comments_blank_lines_and_comment_after_key() {
        let s = parse(&format!(
            "# signers\n\n   \nalice@example.com {KEY} alice's laptop\n  # indented comment\n"
        ))
        .unwrap();
        assert_eq!(s.entries().len(), 1);
        let e = &s.entries()[0];
        assert_eq!(e.line, 4);
        assert!(e.namespaces.is_none());
        assert!(e.key_fingerprint().starts_with("SHA256:"));
    }

    #[test]
    fn options() {
        let s = parse(&format!(
            "a@x.com,b@x.com namespaces=\"git,tollgate\",valid-after=\"20240101Z\",valid-before=\"203001021530Z\" {KEY}\n"
        ))
        .unwrap();
        let e = &s.entries()[0];
        assert_eq!(e.namespaces.as_ref().unwrap().to_string(), "git,tollgate");
        assert_eq!(e.valid_after, Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(e.valid_before, Some(at("2030-01-02T15:30:00Z")));
        assert!(e
            .permits("b@x.com", "tollgate", at("2025-01-01T00:00:00Z"))
            .is_ok());
        let why = e
            .permits("b@x.com", "file", at("2025-01-01T00:00:00Z"))
            .unwrap_err();
        assert!(why.contains("namespace `file`"), "{why}");
        let why = e
            .permits("c@x.com", "tollgate", at("2025-01-01T00:00:00Z"))
            .unwrap_err();
        assert!(why.contains("principal `c@x.com`"), "{why}");
        let why = e
            .permits("a@x.com", "tollgate", at("2023-12-31T23:59:59Z"))
            .unwrap_err();
        assert!(why.contains("not yet valid"), "{why}");
        let why = e
            .permits("a@x.com", "tollgate", at("2030-01-02T15:30:01Z"))
            .unwrap_err();
        assert!(why.contains("expired"), "{why}");
        // Boundaries are inclusive, as in OpenSSH.
        assert!(e
            .permits("a@x.com", "tollgate", at("2030-01-02T15:30:00Z"))
            .is_ok());
        assert!(e
            .permits("a@x.com", "tollgate", at("2024-01-01T00:00:00Z"))
            .is_ok());
    }

    #[test]
    fn time_formats() {
        assert_eq!(
            parse_time("20240229235959Z").unwrap(),
            at("2024-02-29T23:59:59Z")
        );
        assert_eq!(parse_time("20240229z").unwrap(), at("2024-02-29T00:00:00Z"));
        assert!(parse_time("20240229").is_ok());
        for bad in [
            "2024",
            "20240230Z",
            "2024-01-01",
            "202401011Z",
            "20240101T1200Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negated_principal_in_file() {
        let s = parse(&format!("*@x.com,!eve@x.com {KEY}")).unwrap();
        let e = &s.entries()[0];
        let now = at("2025-01-01T00:00:00Z");
        assert!(e.permits("bob@x.com", "tollgate", now).is_ok());
        assert!(e.permits("eve@x.com", "tollgate", now).is_err());
    }

    #[test]
    fn quoted_principals() {
        let s = parse(&format!("\"a@x.com,b@x.com\" {KEY}")).unwrap();
        assert!(s.entries()[0].principals.matches("b@x.com"));
    }

    #[test]
    fn cert_authority_is_refused_with_its_line() {
        let (line, why) = err_of(&format!("# ca\n*@x.com cert-authority {KEY}\n"));
        assert_eq!(line, 2);
        assert!(why.contains("cert-authority"), "{why}");
        let (line, why) = err_of(&format!(
            "a@x.com {KEY}\n*@x.com cert-authority,namespaces=\"git\" {KEY}\n"
        ));
        assert_eq!(line, 2);
        assert!(why.contains("cert-authority"), "{why}");
        let e = parse(&format!("\n*@x.com cert-authority {KEY}")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`.tollgate/allowed_signers` line 2: `cert-authority` is not supported: tollgate verifies plain keys, not certificates; list each signer's key instead"
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let cases = [
            (
                format!("a@x.com bogus=\"1\" {KEY}"),
                "unknown option `bogus`",
            ),
            (format!("a@x.com namespaces=git {KEY}"), "double-quoted"),
            (
                format!("a@x.com namespaces=\"git {KEY}"),
                "unterminated quote",
            ),
            (
                format!("a@x.com valid-before=\"tomorrow\" {KEY}"),
                "valid-before",
            ),
            (
                format!("a@x.com namespaces=\"a\",namespaces=\"b\" {KEY}"),
                "given twice",
            ),
            ("a@x.com".to_string(), "missing public key"),
            ("a@x.com ssh-ed25519".to_string(), "missing public key"),
            (
                "a@x.com ssh-ed25519 AAAAnotakey".to_string(),
                "cannot parse",
            ),
            (
                format!("a@x.com {}", KEY.replace("ssh-ed25519", "ssh-rsa")),
                "ssh-rsa",
            ),
            (format!("a@x.com,,b@x.com {KEY}"), "empty pattern"),
        ];
        for (text, expect) in cases {
            let (line, why) = err_of(&format!("# header\n{text}\n"));
            assert_eq!(line, 2, "{text}");
            assert!(why.contains(expect), "{text}: {why}");
        }
    }
}
