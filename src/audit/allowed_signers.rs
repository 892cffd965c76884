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
//! in this namespace at this time, with these security-key flags"; it does
//! not verify signatures.
//!
//! Options: `namespaces="…"`, `valid-after="…"`, `valid-before="…"` as
//! `ssh-keygen -Y verify` reads them, and `no-touch-required` /
//! `verify-required` with the meaning `sshd` gives them in
//! `authorized_keys`: a security-key signature must carry the user-presence
//! flag unless its line says `no-touch-required`, and the user-verification
//! flag when it says `verify-required` (which a plain key, having no flags,
//! never satisfies). `ssh-keygen -Y verify` knows neither of these two: it
//! refuses a line that has them, and it accepts a security-key signature
//! without the user-presence flag, so tollgate is the stricter of the two.
//! `cert-authority` is not supported: tollgate verifies plain keys only.
//!
//! A line that cannot be used (an unknown key type, `cert-authority`, a bad
//! option, a typo) is skipped and reported in [`AllowedSigners::skipped`],
//! never an error for the whole file: lines only ever *grant*, so leaving
//! one out can only refuse that line's key, and one teammate's unusual key
//! never stops everyone else's records from verifying.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ssh_key::{HashAlg, PublicKey};

use super::sshsig::{
    check_signature, parse_public_key, CheckedSignature, KeyAlgorithm, SkFlags, VerifiedSigner,
    NAMESPACE,
};
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
    /// `no-touch-required`: a security-key signature need not carry the
    /// user-presence flag.
    pub no_touch_required: bool,
    /// `verify-required`: a signature must carry the user-verification
    /// flag (only a security key can).
    pub verify_required: bool,
    /// The public key.
    pub key: PublicKey,
    /// Its type.
    pub algorithm: KeyAlgorithm,
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
                    crate::clock::show(&at),
                    crate::clock::show(&after)
                ));
            }
        }
        if let Some(before) = self.valid_before {
            if at > before {
                return Err(format!(
                    "line {}: key expired at {} (valid-before {})",
                    self.line,
                    crate::clock::show(&at),
                    crate::clock::show(&before)
                ));
            }
        }
        Ok(())
    }

    /// Whether a signature by this line's key (of type `algorithm`) with
    /// security-key flags `sk` (`None` for a plain key) meets the line's
    /// `no-touch-required` / `verify-required` rules; the error says which
    /// flag is missing.
    pub fn permits_flags(
        &self,
        algorithm: KeyAlgorithm,
        sk: Option<SkFlags>,
    ) -> Result<(), String> {
        match sk {
            None if algorithm.is_security_key() => Err(format!(
                "line {}: the security-key signature carries no flags",
                self.line
            )),
            None if self.verify_required => Err(format!(
                "line {}: `verify-required` needs a security key's user-verification flag, and a `{algorithm}` key has none",
                self.line
            )),
            None => Ok(()),
            Some(f) if !f.user_present() && !self.no_touch_required => Err(format!(
                "line {}: the security-key signature lacks the user-presence flag (the key was not touched; flags 0x{:02x}), and the line does not say `no-touch-required`",
                self.line, f.flags
            )),
            Some(f) if self.verify_required && !f.user_verified() => Err(format!(
                "line {}: the line says `verify-required` but the signature lacks the user-verification flag (no PIN or biometric; flags 0x{:02x})",
                self.line, f.flags
            )),
            Some(_) => Ok(()),
        }
    }
}

/// A line of the file that grants nothing because it cannot be used.
#[derive(Debug, Clone)]
pub struct SkippedLine {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Why it cannot be used.
    pub why: String,
    /// Its key, when the key itself could be read (so a signature by it can
    /// say which line would have allowed it).
    pub key: Option<PublicKey>,
}

impl fmt::Display for SkippedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` line {}: {}; the line is ignored (its key is not allowed to sign)",
            self.path.display(),
            self.line,
            self.why
        )
    }
}

/// A parsed `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    path: PathBuf,
    entries: Vec<SignerEntry>,
    skipped: Vec<SkippedLine>,
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

    /// Parses `text`; `path` names it in messages (it need not exist, e.g.
    /// when the file was read from the base commit's tree). Lines that
    /// cannot be used are skipped and listed in [`AllowedSigners::skipped`];
    /// the caller shows them as warnings. (The `Result` stays for callers
    /// and for errors that concern the whole text.)
    pub fn parse(text: &str, path: &Path) -> Result<AllowedSigners, AuditError> {
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match parse_line(trimmed, line) {
                Ok(entry) => entries.push(entry),
                Err((why, key)) => skipped.push(SkippedLine {
                    path: path.to_owned(),
                    line,
                    why,
                    key: key.map(|k| *k),
                }),
            }
        }
        Ok(AllowedSigners {
            path: path.to_owned(),
            entries,
            skipped,
        })
    }

    /// The same list, or the first unusable line as an error: for callers
    /// that check a file someone is editing (`doctor`, `init`), where a
    /// skipped line is a mistake to fix now.
    pub fn strict(self) -> Result<AllowedSigners, AuditError> {
        match self.skipped.first() {
            Some(s) => Err(AuditError::AllowedSigners {
                path: s.path.clone(),
                line: s.line,
                why: s.why.clone(),
            }),
            None => Ok(self),
        }
    }

    /// The lines that grant nothing because they cannot be used, in file
    /// order.
    pub fn skipped(&self) -> &[SkippedLine] {
        &self.skipped
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

/// One line; on failure, why and (when it could be read) the line's key.
/// (The key is boxed: a `PublicKey` makes the error large.)
fn parse_line(text: &str, line: usize) -> Result<SignerEntry, (String, Option<Box<PublicKey>>)> {
    let (principals, rest) = next_field(text).map_err(|e| (e, None))?;
    let (second, after_second) = next_field(rest).map_err(|e| (e, None))?;
    if second.is_empty() {
        return Err(("missing public key".into(), None));
    }
    // A key type is a bare word; an option list has `=` or is made of flag
    // options. Deciding by shape (not by trying to parse a key) keeps the
    // error about the right field.
    let is_options = second.contains('=')
        || second.split(',').any(|o| {
            ["cert-authority", "no-touch-required", "verify-required"]
                .iter()
                .any(|flag| o.eq_ignore_ascii_case(flag))
        });
    let (options, key_text) = if is_options {
        (Some(second), after_second)
    } else {
        (None, rest)
    };
    // The key first, so that a line refused for its options still names
    // its key in a signer's refusal.
    let key = parse_key(key_text).map_err(|e| (e, None))?;
    let fail = |why: String| (why, Some(Box::new(key.clone())));
    // A quoted principals field (OpenSSH allows one) is a plain list.
    let principals = match principals
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
    {
        Some(inner) => inner,
        None if principals.contains('"') => {
            return Err(fail(format!("stray quote in principals `{principals}`")))
        }
        None => principals,
    };
    let principals =
        PatternList::parse(principals).map_err(|e| fail(format!("principals: {e}")))?;
    let opts = match options {
        Some(list) => parse_options(list).map_err(fail)?,
        None => Options::default(),
    };
    if let (Some(after), Some(before)) = (opts.valid_after, opts.valid_before) {
        if before <= after {
            return Err(fail("`valid-before` is not after `valid-after`".into()));
        }
    }
    let algorithm = KeyAlgorithm::of(key.key_data()).map_err(fail)?;
    Ok(SignerEntry {
        line,
        principals,
        namespaces: opts.namespaces,
        valid_after: opts.valid_after,
        valid_before: opts.valid_before,
        no_touch_required: opts.no_touch_required,
        verify_required: opts.verify_required,
        key,
        algorithm,
    })
}

#[derive(Default)]
struct Options {
    namespaces: Option<PatternList>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
    no_touch_required: bool,
    verify_required: bool,
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
        if name_lc == "no-touch-required" || name_lc == "verify-required" {
            if value.is_some() {
                return Err(format!("option `{name}` takes no value"));
            }
            if name_lc == "no-touch-required" {
                opts.no_touch_required = true;
            } else {
                opts.verify_required = true;
            }
            continue;
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
    let key = parse_public_key(&format!("{kind} {b64}"))?;
    if key.algorithm().as_str() != kind {
        return Err(format!(
            "key type `{kind}` does not match the key data (`{}`)",
            key.algorithm().as_str()
        ));
    }
    Ok(key)
}

/// Verifies that `signature_b64` is a `tollgate` signature over `message`
/// by a key that `signers` allows for `principal` at `at`, with the
/// security-key flags its line requires.
pub fn verify(
    message: &[u8],
    signature_b64: &str,
    signers: &AllowedSigners,
    principal: &str,
    at: DateTime<Utc>,
) -> Result<VerifiedSigner, AuditError> {
    let CheckedSignature {
        key,
        key_fingerprint,
        hash_alg,
        algorithm,
        signature_algorithm,
        sk,
    } = check_signature(message, signature_b64)?;
    let not_allowed = |why: String| AuditError::SignerNotAllowed {
        key_fingerprint: key_fingerprint.clone(),
        principal: principal.to_owned(),
        path: signers.path().to_owned(),
        why,
    };
    let mut refusals = Vec::new();
    for entry in signers
        .entries()
        .iter()
        .filter(|e| e.key.key_data() == &key)
    {
        match entry
            .permits(principal, NAMESPACE, at)
            .and_then(|()| entry.permits_flags(algorithm, sk))
        {
            Ok(()) => {
                return Ok(VerifiedSigner {
                    principal: principal.to_owned(),
                    key_fingerprint,
                    line: entry.line,
                    hash_alg,
                    algorithm,
                    signature_algorithm,
                    sk,
                })
            }
            Err(why) => refusals.push(why),
        }
    }
    // A line that lists this key but could not be used says why here, so
    // a typo in a teammate's line is not reported as "not listed".
    for skipped in signers.skipped() {
        if skipped.key.as_ref().is_some_and(|k| k.key_data() == &key) {
            refusals.push(format!(
                "line {} lists this key but is ignored: {}",
                skipped.line, skipped.why
            ));
        }
    }
    if refusals.is_empty() {
        Err(not_allowed("the key is not listed".into()))
    } else {
        Err(not_allowed(refusals.join("; ")))
    }
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

    /// The one skipped line of `text`: its number and why.
    fn err_of(text: &str) -> (usize, String) {
        let s = parse(text).expect("a bad line never fails the whole file");
        match s.skipped() {
            [one] => (one.line, one.why.clone()),
            other => panic!("expected one skipped line, got {other:?}"),
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
        let s = parse(&format!("\n*@x.com cert-authority {KEY}")).unwrap();
        assert!(s.entries().is_empty());
        assert_eq!(
            s.skipped()[0].to_string(),
            "`.tollgate/allowed_signers` line 2: `cert-authority` is not supported: tollgate verifies plain keys, not certificates; list each signer's key instead; the line is ignored (its key is not allowed to sign)"
        );
        // Its key is remembered, so a signature by it can name the line.
        assert!(s.skipped()[0].key.is_some());
        // `strict` turns it into the positioned error `doctor` shows.
        let e = s.strict().unwrap_err();
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
            (
                format!("a@x.com no-touch-required=\"yes\" {KEY}"),
                "takes no value",
            ),
            (
                format!("a@x.com valid-after=\"20300101Z\",valid-before=\"20250101Z\" {KEY}"),
                "`valid-before` is not after `valid-after`",
            ),
            (
                "a@x.com ssh-dss AAAAB3NzaC1kc3MAAACBAP".to_string(),
                "key type `ssh-dss` is not supported",
            ),
            (
                "a@x.com ssh-future-type@example.com AAAAI3NzaC1mdXR1cmU".to_string(),
                "is not supported",
            ),
            (
                format!(
                    "a@x.com {}",
                    KEY.replace("ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com")
                ),
                "is a certificate",
            ),
        ];
        for (text, expect) in cases {
            let (line, why) = err_of(&format!("# header\n{text}\n"));
            assert_eq!(line, 2, "{text}");
            assert!(why.contains(expect), "{text}: {why}");
        }
    }

    #[test]
    fn a_bad_line_is_skipped_and_the_others_still_load() {
        let s = parse(&format!(
            "alice@x.com {KEY}\nbob@x.com ssh-dss AAAAB3NzaC1kc3MAAACBAP\ncarol@x.com cert-authority {KEY}\ndave@x.com {KEY}\n"
        ))
        .unwrap();
        let lines: Vec<usize> = s.entries().iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 4]);
        let skipped: Vec<usize> = s.skipped().iter().map(|e| e.line).collect();
        assert_eq!(skipped, [2, 3]);
        // The unknown type has no key to remember; the cert-authority line has.
        assert!(s.skipped()[0].key.is_none());
        assert!(s.skipped()[1].key.is_some());
        assert!(s.skipped()[0]
            .to_string()
            .contains("line 2: key type `ssh-dss`"));
    }

    #[test]
    fn flag_options_are_parsed() {
        let s = parse(&format!(
            "a@x.com no-touch-required {KEY}\nb@x.com verify-required,namespaces=\"tollgate\" {KEY}\nc@x.com NO-TOUCH-REQUIRED,Verify-Required {KEY}\nd@x.com {KEY}\n"
        ))
        .unwrap();
        assert!(s.skipped().is_empty(), "{:?}", s.skipped());
        let flags: Vec<(bool, bool)> = s
            .entries()
            .iter()
            .map(|e| (e.no_touch_required, e.verify_required))
            .collect();
        assert_eq!(
            flags,
            [(true, false), (false, true), (true, true), (false, false)]
        );
        assert!(s.entries()[1].namespaces.is_some());
    }

    #[test]
    fn flag_rules_for_every_combination() {
        let s = parse(&format!(
            "a@x.com {KEY}\na@x.com no-touch-required {KEY}\na@x.com verify-required {KEY}\na@x.com no-touch-required,verify-required {KEY}\n"
        ))
        .unwrap();
        let [plain, no_touch, verify, both] = s.entries() else {
            panic!("four lines")
        };
        let sk = KeyAlgorithm::SkEd25519;
        let f = |flags| Some(SkFlags { flags, counter: 1 });
        // Default: a touch is required.
        assert!(plain.permits_flags(sk, f(0x01)).is_ok());
        assert!(plain.permits_flags(sk, f(0x05)).is_ok());
        let why = plain.permits_flags(sk, f(0x00)).unwrap_err();
        assert!(why.contains("lacks the user-presence flag"), "{why}");
        assert!(plain.permits_flags(sk, f(0x04)).is_err());
        // A security-key type with no flags at all is never accepted.
        assert!(plain.permits_flags(sk, None).is_err());
        // no-touch-required.
        assert!(no_touch.permits_flags(sk, f(0x00)).is_ok());
        assert!(no_touch.permits_flags(sk, f(0x01)).is_ok());
        // verify-required: presence and verification.
        assert!(verify.permits_flags(sk, f(0x05)).is_ok());
        let why = verify.permits_flags(sk, f(0x01)).unwrap_err();
        assert!(why.contains("lacks the user-verification flag"), "{why}");
        assert!(verify.permits_flags(sk, f(0x04)).is_err());
        // Both: verification without a touch.
        assert!(both.permits_flags(sk, f(0x04)).is_ok());
        assert!(both.permits_flags(sk, f(0x00)).is_err());
        // Plain keys have no flags: fine, except under verify-required.
        let ed = KeyAlgorithm::Ed25519;
        assert!(plain.permits_flags(ed, None).is_ok());
        assert!(no_touch.permits_flags(ed, None).is_ok());
        assert!(verify.permits_flags(ed, None).is_err());
    }
}
