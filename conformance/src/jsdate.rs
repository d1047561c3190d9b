//! JavaScript `Date` string forms, in UTC, for the fixture's replies: `toJSON`
//! (`2026-11-23T00:46:33.546Z`) and `toString`
//! (`Mon Nov 23 2026 00:46:33 GMT+0000 (Coordinated Universal Time)`).

use std::time::{SystemTime, UNIX_EPOCH};

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    weekday: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u64,
}

fn civil(t: SystemTime) -> Civil {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let days = (ms / 86_400_000) as i64;
    let rem = ms % 86_400_000;
    // Days to civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        weekday: ((days + 4).rem_euclid(7)) as u32, // 1970-01-01 was a Thursday
        hour: rem / 3_600_000,
        minute: rem / 60_000 % 60,
        second: rem / 1000 % 60,
        millis: rem % 1000,
    }
}

/// `Date#toJSON`.
pub(crate) fn to_json(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// `Date#toString` in the UTC time zone.
pub(crate) fn to_string(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(t);
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[c.weekday as usize],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_javascript() {
        // new Date(1795394793546): 2026-11-23T00:46:33.546Z, a Monday
        let t = UNIX_EPOCH + Duration::from_millis(1_795_394_793_546);
        assert_eq!(to_json(t), "2026-11-23T00:46:33.546Z");
        assert_eq!(
            to_string(t),
            "Mon Nov 23 2026 00:46:33 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(to_json(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // leap day
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_000);
        assert_eq!(to_json(t), "2000-02-29T00:00:00.000Z");
    }
}
