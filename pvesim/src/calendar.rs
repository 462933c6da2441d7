//! Calendar arithmetic on unix seconds, in the simulated nodes' time zone (UTC): the date
//! stamps in backup names and task logs, and the buckets of PVE's retention rules (hour, day,
//! ISO week, month, year).

/// A moment split into its civil parts (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil(secs: u64) -> Civil {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    Civil {
        year,
        month,
        day,
        hour: u32::try_from(hour).unwrap_or(0),
        minute: u32::try_from(minute).unwrap_or(0),
        second: u32::try_from(second).unwrap_or(0),
    }
}

/// Unix seconds of a civil moment (UTC).
pub fn unix(c: Civil) -> u64 {
    let days = days_from_civil(c.year, c.month, c.day);
    u64::try_from(days * 86_400 + i64::from(c.hour * 3600 + c.minute * 60 + c.second)).unwrap_or(0)
}

/// The stamp in a backup's name: `2026_01_15-10_00_00`.
pub fn stamp(secs: u64) -> String {
    let c = civil(secs);
    format!("{:04}_{:02}_{:02}-{:02}_{:02}_{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// A backup name's stamp back to unix seconds.
pub fn parse_stamp(text: &str) -> Option<u64> {
    let (date, time) = text.split_once('-')?;
    let d: Vec<&str> = date.split('_').collect();
    let t: Vec<&str> = time.split('_').collect();
    let [y, m, dd] = d.as_slice() else { return None };
    let [h, mi, s] = t.as_slice() else { return None };
    let c = Civil {
        year: y.parse().ok()?,
        month: m.parse().ok()?,
        day: dd.parse().ok()?,
        hour: h.parse().ok()?,
        minute: mi.parse().ok()?,
        second: s.parse().ok()?,
    };
    (y.len() == 4 && (1..=12).contains(&c.month) && (1..=31).contains(&c.day) && c.hour < 24 && c.minute < 60)
        .then(|| unix(c))
}

/// `2026-01-15 10:00:00`, as vzdump prints start and end times.
pub fn log_time(secs: u64) -> String {
    let c = civil(secs);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// Day of the week, Monday = 0.
pub fn weekday(secs: u64) -> u32 {
    // 1970-01-01 was a Thursday.
    u32::try_from((secs / 86_400 + 3) % 7).unwrap_or(0)
}

/// ISO 8601 week-year and week (`%G`, `%V`): 2019-12-31 is in 2020-W01.
pub fn iso_week(secs: u64) -> (i64, u32) {
    let c = civil(secs);
    let days = days_from_civil(c.year, c.month, c.day);
    // The Thursday of this week decides the year.
    let thursday = days - i64::from(weekday(secs)) + 3;
    let t = civil(u64::try_from(thursday * 86_400).unwrap_or(0));
    let jan1 = days_from_civil(t.year, 1, 1);
    let week = u32::try_from((thursday - jan1) / 7 + 1).unwrap_or(1);
    (t.year, week)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        assert_eq!(stamp(0), "1970_01_01-00_00_00");
        assert_eq!(stamp(1_768_471_200), "2026_01_15-10_00_00");
        assert_eq!(parse_stamp("2026_01_15-10_00_00"), Some(1_768_471_200));
        assert_eq!(parse_stamp("2026_13_15-10_00_00"), None);
        assert_eq!(log_time(1_768_471_200), "2026-01-15 10:00:00");
    }

    #[test]
    fn iso_weeks_cross_the_year() {
        let at = |s: &str| parse_stamp(s).unwrap_or(0);
        assert_eq!(iso_week(at("2019_12_31-11_18_21")), (2020, 1));
        assert_eq!(iso_week(at("2020_01_01-11_18_21")), (2020, 1));
        assert_eq!(iso_week(at("2018_05_26-11_18_21")), (2018, 21));
        assert_eq!(iso_week(at("2021_01_03-00_00_00")), (2020, 53));
        assert_eq!(weekday(at("2026_01_15-10_00_00")), 3); // a Thursday
    }
}
