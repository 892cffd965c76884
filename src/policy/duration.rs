//! Durations as a policy writes them (`90s`, `30m`, `2h`, `1d`) and the
//! token lifetime ceiling.

use std::time::Duration;

/// The longest any override token may live, whatever the policy says.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `90s`, `30m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("invalid duration `{s}`: write a number and a unit, like `30m`, `2h` or `1d`")
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86400),
        _ => {
            return Err(format!(
                "invalid duration `{s}`: the unit must be `s`, `m`, `h` or `d`"
            ))
        }
    };
    if secs == 0 {
        return Err("a duration must be greater than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Writes a duration the way [`parse_duration`] reads it (`90s`, `30m`, `2h`, `1d`).
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86400) => format!("{}d", s / 86400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// Parses a token lifetime: a duration of at most 24 hours.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > MAX_TTL {
        return Err(format!("`{s}` is too long: maximum duration is 24 hours"));
    }
    Ok(d)
}
