//! What fuzzing (`fuzz/`) found, kept as ordinary tests: every crashing
//! input becomes a test here that feeds it to the same library call and
//! expects a clean `Ok` or `Err`. The committed fuzz corpora are replayed
//! too, so `cargo test` re-checks the fuzz targets' properties on them
//! without needing a nightly toolchain.

use std::path::{Path, PathBuf};

use tollgate::audit::jcs::canonicalize;
use tollgate::audit::{parse_line, parse_note, AllowedSigners, PatternList};
use tollgate::git::{parse_push_lines, parse_receive_lines};
use tollgate::policy::{load, Source};

/// Every file of `fuzz/corpus/<target>`, by path and contents.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("a directory entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            (path, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
}

/// The `policy` target's checks.
fn check_policy(text: &str) {
    match load(
        Some(Source::new("fuzz.toml", text)),
        chrono::Utc::now().date_naive(),
    ) {
        Ok(policy) => {
            let shown = policy.to_toml();
            let again = load(
                Some(Source::new("shown.toml", shown.as_str())),
                chrono::Utc::now().date_naive(),
            )
            .unwrap_or_else(|d| panic!("`to_toml` output does not load:\n{d}"));
            let body = |s: &str| {
                s.split_once('\n')
                    .map_or(s.to_owned(), |(_, b)| b.to_owned())
            };
            assert_eq!(body(&again.to_toml()), body(&shown));
        }
        Err(diags) => {
            assert!(!diags.0.is_empty());
            assert!(diags.to_string().starts_with("error: "));
        }
    }
}

/// The `audit_record` target's parsing checks (verification needs the
/// target's fixed key and is left to it).
fn check_record_line(line: &str) {
    if let Ok(record) = parse_line(line) {
        let out = record.to_line().expect("a parsed record has a line");
        assert_eq!(out, line.strip_suffix('\n').unwrap_or(line));
        assert_eq!(parse_line(&out).expect("to_line output parses"), record);
        record
            .canonical_bytes()
            .expect("a parsed record canonicalizes");
    }
}

/// The `jcs` target's checks.
fn check_jcs(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(canonical) = canonicalize(&value) {
        let reparsed: serde_json::Value =
            serde_json::from_str(&canonical).expect("canonical JSON parses");
        assert_eq!(reparsed, value);
        assert_eq!(canonicalize(&reparsed).expect("canonicalizes"), canonical);
    }
}

/// The fixed test key of `fuzz/fuzz_targets/audit_record.rs`.
const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILzoYMbOTZJ8k1Ch8Yv3wc1FMfyRC6EezxVR3Xqxr+4B";

/// `allowed_signers` crash (minimized): the principal `* ="le.com` with any
/// signer line. A `*` in a pattern was compared as a literal first, so it
/// matched the `*` in the principal and lost its place to backtrack to:
/// `*` did not match `* ="le.com`.
#[test]
fn star_matches_a_principal_that_contains_a_star() {
    let star = PatternList::parse("*").expect("parses");
    assert!(star.matches("* =\"le.com"));
    assert!(star.matches("*"));
    assert!(PatternList::parse("a*").expect("parses").matches("a*b"));
    assert!(PatternList::parse("*@example.com")
        .expect("parses")
        .matches("*x@example.com"));
    let signers = AllowedSigners::parse(&format!("\"camm\" {KEY}\n* {KEY}\n"), Path::new("f"))
        .expect("parses");
    let at = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time");
    assert!(signers.entries()[0]
        .permits("* =\"le.com", "tollgate", at)
        .is_err());
    assert!(signers.entries()[1]
        .permits("* =\"le.com", "tollgate", at)
        .is_ok());
}

/// The same bug failed open through a negation: `!a*@example.com` did not
/// exclude `a*b@example.com`, so `*,!a*@example.com` let that principal sign.
#[test]
fn negated_wildcard_excludes_a_principal_that_contains_a_star() {
    let signers = AllowedSigners::parse(
        &format!("*,!a*@example.com namespaces=\"tollgate\" {KEY}\n"),
        Path::new("f"),
    )
    .expect("parses");
    let at = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time");
    let entry = &signers.entries()[0];
    let refused = entry
        .permits("a*b@example.com", "tollgate", at)
        .expect_err("a negated principal is refused");
    assert!(refused.contains("does not match"), "{refused}");
    assert!(entry.permits("bob@example.com", "tollgate", at).is_ok());
}

#[test]
fn policy_corpus() {
    for (path, data) in corpus("policy") {
        if let Ok(text) = std::str::from_utf8(&data) {
            eprintln!("{}", path.display());
            check_policy(text);
        }
    }
}

#[test]
fn audit_record_corpus() {
    let mut parsed = 0;
    for (_, data) in corpus("audit_record") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        check_record_line(text);
        let lines: Vec<&str> = text.lines().collect();
        for (n, result) in parse_note(text) {
            if result.is_ok() {
                parsed += 1;
                check_record_line(lines[n - 1]);
            }
        }
    }
    // The signed seed records are in the corpus and parse.
    assert!(parsed >= 3, "only {parsed} records parsed");
}

#[test]
fn allowed_signers_corpus() {
    let at = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time");
    for (_, data) in corpus("allowed_signers") {
        let Ok(input) = std::str::from_utf8(&data) else {
            continue;
        };
        let (principal, text) = input
            .split_once('\0')
            .unwrap_or(("alice@example.com", input));
        if let Ok(signers) = AllowedSigners::parse(text, Path::new("f")) {
            for entry in signers.entries() {
                let _ = entry.permits(principal, "tollgate", at);
                let _ = entry.permits(
                    principal,
                    "tollgate",
                    chrono::DateTime::<chrono::Utc>::MAX_UTC,
                );
                let _ = entry.permits(
                    principal,
                    "tollgate",
                    chrono::DateTime::<chrono::Utc>::MIN_UTC,
                );
            }
        }
    }
}

#[test]
fn push_lines_corpus() {
    for (_, data) in corpus("push_lines") {
        if let Ok(lines) = parse_push_lines(&data) {
            for line in &lines {
                let again = parse_push_lines(line.to_line().as_bytes()).expect("parses");
                assert_eq!(again.as_slice(), std::slice::from_ref(line));
            }
        }
        let _ = parse_receive_lines(&data);
    }
}

#[test]
fn jcs_corpus() {
    for (_, data) in corpus("jcs") {
        check_jcs(&data);
    }
}

#[test]
fn two_key_corpus() {
    use tollgate::audit::approval::{check_pair, Approval, Request};
    // No key in this list signed anything in the corpus.
    let signers = AllowedSigners::parse(
        "*@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJiOm/dj5GYGcb5nQ4WtCbd2kiJeJpqRrRyhkH71jGhy fuzz\n",
        Path::new("fuzz_signers"),
    )
    .unwrap();
    let mut decoded = 0;
    for (_, data) in corpus("two_key") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let (a, b) = text.split_once('\0').unwrap_or((text, text));
        for s in [a, b] {
            if let Ok(r) = Request::decode(s) {
                decoded += 1;
                assert!(r.verify(&signers).is_err());
            }
            if let Ok(ap) = Approval::decode(s) {
                assert!(ap.verify(&signers).is_err());
            }
        }
        assert!(check_pair(a, b, &signers, &["*@example.com".into()]).is_err());
    }
    assert!(decoded > 0, "the corpus keeps at least one real request");
}
