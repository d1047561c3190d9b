//! JavaScript `Date` text forms, in UTC: `toJSON` (what clients receive for a Date that
//! crossed Redis as msgpack) and `toString` (the `handshake.time` of a fetched socket).

use std::time::{SystemTime, UNIX_EPOCH};

/// The largest absolute time value of a valid JavaScript Date (ms since the epoch).
const MAX_DATE_MS: i128 = 8_640_000_000_000_000;

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    weekday: usize,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Days to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: rem / 3_600_000,
        minute: rem / 60_000 % 60,
        second: rem / 1000 % 60,
        millis: rem % 1000,
    }
}

/// `Date#toJSON` of `ms` (`2023-11-14T22:13:20.123Z`); `None` for an invalid date
/// (beyond ±8.64e15 ms), which `JSON.stringify` writes as `null`.
pub(crate) fn iso_string(ms: i128) -> Option<String> {
    if ms.abs() > MAX_DATE_MS {
        return None;
    }
    let c = civil(ms as i64);
    let year = if (0..=9999).contains(&c.year) {
        format!("{:04}", c.year)
    } else if c.year < 0 {
        format!("-{:06}", -c.year)
    } else {
        format!("+{:06}", c.year)
    };
    Some(format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.month, c.day, c.hour, c.minute, c.second, c.millis
    ))
}

/// `Date#toString` in the UTC time zone
/// (`Mon Nov 23 2026 00:07:14 GMT+0000 (Coordinated Universal Time)`).
pub(crate) fn js_string(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(epoch_ms(t));
    format!(
        "{} {} {:02} {:04} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[c.weekday],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Milliseconds since the epoch.
pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_javascript() {
        // node: new Date(1700000000123).toJSON()
        assert_eq!(
            iso_string(1_700_000_000_123).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(iso_string(0).unwrap(), "1970-01-01T00:00:00.000Z");
        // new Date(-1).toJSON() → "1969-12-31T23:59:59.999Z"
        assert_eq!(iso_string(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        // new Date(8.64e15).toJSON() → "+275760-09-13T00:00:00.000Z"
        assert_eq!(
            iso_string(8_640_000_000_000_000).unwrap(),
            "+275760-09-13T00:00:00.000Z"
        );
        // new Date(-62198755200000).toJSON() → "-000001-01-01T00:00:00.000Z"
        assert_eq!(
            iso_string(-62_198_755_200_000).unwrap(),
            "-000001-01-01T00:00:00.000Z"
        );
        assert_eq!(iso_string(8_640_000_000_000_001), None);
        // new Date(1795392434962).toString() in UTC
        let t = UNIX_EPOCH + Duration::from_millis(1_795_392_434_962);
        assert_eq!(
            js_string(t),
            "Mon Nov 23 2026 00:07:14 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(epoch_ms(t), 1_795_392_434_962);
    }
}
