//! RFC 8785 canonicalization on any JSON value serde_json parses: never a
//! panic; canonical text parses back to the same value and is a fixed
//! point of `canonicalize`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tollgate::audit::jcs::canonicalize;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(canonical) = canonicalize(&value) else {
        return;
    };
    let reparsed: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
    assert_eq!(reparsed, value, "canonical JSON means another value");
    let again = canonicalize(&reparsed).expect("canonical JSON canonicalizes");
    assert_eq!(again, canonical, "canonicalize is not idempotent");
});
