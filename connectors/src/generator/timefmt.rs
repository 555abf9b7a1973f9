//! Text timestamps for generated log lines, written without allocating.

/// A UTC calendar time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Milliseconds since the Unix epoch as a proleptic Gregorian UTC time (Howard Hinnant's
/// `civil_from_days`).
fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
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
        hour: (in_day / 3_600_000) as u32,
        minute: (in_day / 60_000 % 60) as u32,
        second: (in_day / 1000 % 60) as u32,
        milli: (in_day % 1000) as u32,
    }
}

fn push_digits(out: &mut String, value: u64, width: u32) {
    for k in (0..width).rev() {
        out.push((b'0' + (value / 10u64.pow(k) % 10) as u8) as char);
    }
}

/// Appends the Common Log Format time, `01/Jan/2026:00:00:00 +0000`.
pub(crate) fn push_clf(out: &mut String, ms: i64) {
    let t = civil(ms);
    push_digits(out, t.day.into(), 2);
    out.push('/');
    out.push_str(MONTHS[t.month as usize - 1]);
    out.push('/');
    push_digits(out, t.year as u64, 4);
    out.push(':');
    push_digits(out, t.hour.into(), 2);
    out.push(':');
    push_digits(out, t.minute.into(), 2);
    out.push(':');
    push_digits(out, t.second.into(), 2);
    out.push_str(" +0000");
}

/// Appends the RFC 3339 time with milliseconds, `2026-01-01T00:00:00.000Z`.
pub(crate) fn push_rfc3339(out: &mut String, ms: i64) {
    let t = civil(ms);
    push_digits(out, t.year as u64, 4);
    out.push('-');
    push_digits(out, t.month.into(), 2);
    out.push('-');
    push_digits(out, t.day.into(), 2);
    out.push('T');
    push_digits(out, t.hour.into(), 2);
    out.push(':');
    push_digits(out, t.minute.into(), 2);
    out.push(':');
    push_digits(out, t.second.into(), 2);
    out.push('.');
    push_digits(out, t.milli.into(), 3);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_calendar() {
        let mut out = String::new();
        // 2024-02-29T23:59:58.007Z, a leap day.
        push_rfc3339(&mut out, 1_709_251_198_007);
        out.push(' ');
        push_clf(&mut out, 1_709_251_198_007);
        out.push(' ');
        push_rfc3339(&mut out, 0);
        assert_eq!(
            out,
            "2024-02-29T23:59:58.007Z 29/Feb/2024:23:59:58 +0000 1970-01-01T00:00:00.000Z"
        );
    }
}
