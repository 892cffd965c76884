//! Audit record parsing and verification on arbitrary strings: a record
//! that parses is its own canonical line and round-trips; verifying any
//! record against a fixed signer never panics and succeeds only for the
//! exact records that signer signed (`fixtures/audit_records.txt`).
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollgate::audit::{parse_line, parse_note, AllowedSigners, AuditRecord};

/// The key that signed `fixtures/audit_records.txt` (a throwaway test key).
const SIGNERS: &str = "alice@example.com namespaces=\"tollgate\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILzoYMbOTZJ8k1Ch8Yv3wc1FMfyRC6EezxVR3Xqxr+4B alice@example.com\n";

static ALLOWED: LazyLock<AllowedSigners> = LazyLock::new(|| {
    AllowedSigners::parse(SIGNERS, Path::new("allowed_signers")).expect("fixed signers parse")
});

/// The canonical bytes that the fixed key really signed.
static SIGNED: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    include_str!("../fixtures/audit_records.txt")
        .lines()
        .map(|l| {
            let r = parse_line(l).expect("fixture record parses");
            r.verify(&ALLOWED, r.consumed)
                .expect("fixture record verifies");
            r.canonical_bytes().expect("fixture record canonicalizes")
        })
        .collect()
});

fn check(line: &str, record: &AuditRecord) {
    let bytes = record
        .canonical_bytes()
        .expect("a parsed record canonicalizes");
    let out = record.to_line().expect("a parsed record has a line");
    assert_eq!(
        out,
        line.strip_suffix('\n').unwrap_or(line),
        "parse_line accepted a non-canonical line"
    );
    assert_eq!(&parse_line(&out).expect("to_line output parses"), record);
    if record.verify(&ALLOWED, record.consumed).is_ok() {
        assert!(
            SIGNED.contains(&bytes),
            "a record the fixed key never signed verified:\n{out}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    LazyLock::force(&SIGNED);
    if let Ok(record) = parse_line(text) {
        check(text, &record);
    }
    let lines: Vec<&str> = text.lines().collect();
    for (n, result) in parse_note(text) {
        assert!(n >= 1 && n <= lines.len());
        if let Ok(record) = result {
            check(lines[n - 1], &record);
        }
    }
});
