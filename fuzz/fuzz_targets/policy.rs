//! Policy loading and validation on arbitrary UTF-8: `load` must return a
//! policy or diagnostics, never panic, and what `policy show` prints for a
//! loaded policy must load again to the same effective policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::policy::{load, Source};

/// `to_toml` starts with a comment naming the sources; the rest is the policy.
fn body(toml: &str) -> &str {
    toml.split_once('\n').map_or(toml, |(_, rest)| rest)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load(Some(Source::new("fuzz.toml", text)), chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()) {
        Ok(policy) => {
            let shown = policy.to_toml();
            let _ = policy.digest();
            let again = load(Some(Source::new("shown.toml", shown.as_str())), chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default())
                .unwrap_or_else(|d| panic!("`to_toml` output does not load:\n{d}\n---\n{shown}"));
            assert_eq!(body(&again.to_toml()), body(&shown));
        }
        Err(diags) => {
            assert!(!diags.0.is_empty(), "an error without diagnostics");
            let _ = diags.to_string();
            for d in &diags.0 {
                let _ = d.line_col();
                let _ = d.to_string();
            }
        }
    }
});
