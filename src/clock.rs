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
