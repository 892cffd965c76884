//! `allowed_signers` parsing on arbitrary text, and `permits` for every
//! parsed entry. Input: `<principal> NUL <file>`, or just `<file>` (the
//! principal is then `alice@example.com`).
#![no_main]

use std::path::Path;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use tollgate::audit::{AllowedSigners, PatternList};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (principal, text) = input
        .split_once('\0')
        .unwrap_or(("alice@example.com", input));
    if let Ok(list) = PatternList::parse(principal) {
        let shown = list.to_string();
        assert_eq!(PatternList::parse(&shown).as_ref(), Ok(&list));
        let _ = list.matches(principal);
    }
    let Ok(signers) = AllowedSigners::parse(text, Path::new("f")) else {
        return;
    };
    let times = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::UNIX_EPOCH,
        DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time"),
        DateTime::<Utc>::MAX_UTC,
    ];
    for entry in signers.entries() {
        let _ = entry.key_fingerprint();
        // `*` matches every principal.
        assert!(PatternList::parse("*")
            .expect("`*` parses")
            .matches(principal));
        for at in times {
            for ns in ["tollgate", "git", principal] {
                let _ = entry.permits(principal, ns, at);
            }
        }
        // The edges of the validity window are inside it.
        for at in [entry.valid_after, entry.valid_before]
            .into_iter()
            .flatten()
        {
            let _ = entry.permits(principal, "tollgate", at);
        }
    }
});
