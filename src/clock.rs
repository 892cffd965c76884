//! The one place tollgate reads the time. Everything else takes `now` as an
//! argument, so tests inject it instead of sleeping.

use chrono::{DateTime, Utc};

/// The current time. Builds with the `test-clock` feature (the test suite
/// only) honour `TOLLGATE_TEST_NOW` (RFC 3339); release builds never do.
pub fn now() -> DateTime<Utc> {
    #[cfg(feature = "test-clock")]
    if let Some(t) = std::env::var("TOLLGATE_TEST_NOW")
        .ok()
        .and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
    {
        return t.with_timezone(&Utc);
    }
    Utc::now()
}

/// How long a scan runs before it shows a progress line: about a second.
/// Builds with the `test-clock` feature honour
/// `TOLLGATE_TEST_PROGRESS_AFTER_MS`, so a test sees the line on a short
/// scan instead of sleeping.
pub fn progress_delay() -> std::time::Duration {
    #[cfg(feature = "test-clock")]
    if let Some(ms) = std::env::var("TOLLGATE_TEST_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return std::time::Duration::from_millis(ms);
    }
    std::time::Duration::from_secs(1)
}

/// A time as shown to people: RFC 3339 in UTC, to the second
/// (`2026-12-02T00:26:43Z`), never with fractions of a second.
pub fn show(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_shown_to_the_second() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-02T00:26:43.123456789+00:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(super::show(&t), "2026-12-02T00:26:43Z");
    }
}
