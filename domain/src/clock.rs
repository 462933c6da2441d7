//! Time as stored: UTC unix milliseconds. The database keeps plain integers so both dialects
//! store and compare times the same way; formatting for people happens at the edges.

use time::OffsetDateTime;

/// Milliseconds since the unix epoch, UTC.
pub fn now_ms() -> i64 {
    let now = OffsetDateTime::now_utc();
    // i128 → i64 cannot overflow for any date this program will see (year ±292 million).
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 in UTC (`2026-11-26T12:00:00.000Z`), the form every API response uses for times.
pub fn to_rfc3339(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "invalid-time".to_owned())
}

/// `YYYY-MM-DD` (UTC) to unix seconds at its start.
pub fn parse_day(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok().map(|d| d.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_day("2026-01-15"), Some(1_768_435_200));
        assert_eq!(parse_day("2026-13-15"), None);
        assert_eq!(to_rfc3339(1_795_003_200_123), "2026-11-18T12:00:00.123Z");
    }

    #[test]
    fn now_is_after_2026() {
        assert!(now_ms() > 1_767_225_600_000);
    }
}
