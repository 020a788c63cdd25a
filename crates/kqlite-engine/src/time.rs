//! Datetime and timespan values: parsing Kusto's literal forms and printing
//! Kusto's text forms. Both are nanoseconds in an `i64` (see [`crate::types`]).

use crate::types::*;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

/// Parses the text of a timespan literal: `1d`, `1.5h`, `100ms`,
/// `10microsecond`, `1tick`, or the `[-][d.]hh:mm[:ss[.fffffff]]` form used
/// inside `timespan(…)`.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let value = if body.contains(':') { parse_clock_timespan(body)? } else { parse_unit_timespan(body)? };
    Some(if negative { -value } else { value })
}

fn parse_unit_timespan(text: &str) -> Option<i64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let unit_nanos = match unit.trim().to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => NANOS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => NANOS_PER_HOUR,
        "m" | "min" | "mins" | "minute" | "minutes" => NANOS_PER_MINUTE,
        "s" | "sec" | "secs" | "second" | "seconds" => NANOS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisec" | "millisecond" | "milliseconds" => NANOS_PER_MILLI,
        "micro" | "micros" | "microsec" | "microsecond" | "microseconds" => NANOS_PER_MICRO,
        "nano" | "nanos" | "nanosec" | "nanosecond" | "nanoseconds" => 1,
        "tick" | "ticks" => NANOS_PER_TICK,
        // A bare number inside timespan(…) means days.
        "" => NANOS_PER_DAY,
        _ => return None,
    };
    let nanos = number * unit_nanos as f64;
    nanos.is_finite().then(|| nanos.round() as i64)
}

/// `d.hh:mm:ss.fffffff`, `hh:mm:ss`, `hh:mm`.
fn parse_clock_timespan(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (days, hours) = match parts[0].split_once('.') {
        Some((d, h)) => (d.parse::<i64>().ok()?, h.parse::<i64>().ok()?),
        None => (0, parts[0].parse::<i64>().ok()?),
    };
    let minutes: i64 = parts[1].parse().ok()?;
    let (seconds, fraction) = match parts.get(2) {
        Some(s) => match s.split_once('.') {
            Some((whole, frac)) => (whole.parse::<i64>().ok()?, fraction_nanos(frac)?),
            None => (s.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    Some(
        days * NANOS_PER_DAY
            + hours * NANOS_PER_HOUR
            + minutes * NANOS_PER_MINUTE
            + seconds * NANOS_PER_SECOND
            + fraction,
    )
}

fn fraction_nanos(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut padded: String = digits.chars().take(9).collect();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().ok()
}

/// Parses datetime text as Kusto accepts it in `datetime(…)` and
/// `todatetime()`: ISO 8601 with or without `T`, zone and fraction, a bare
/// date, or RFC 1123 / RFC 2822 forms. Times without a zone are UTC.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return dt.with_timezone(&Utc).timestamp_nanos_opt();
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(text) {
        return dt.with_timezone(&Utc).timestamp_nanos_opt();
    }
    let trimmed = text.trim_end_matches('Z').trim_end_matches('z');
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H",
        "%Y-%m-%d %H",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Utc.from_utc_datetime(&naive).timestamp_nanos_opt();
        }
    }
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%m-%d-%Y", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(trimmed, format) {
            return Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)).timestamp_nanos_opt();
        }
    }
    // US portal exports: `7/28/2023, 8:07:14.552 PM`.
    for format in
        ["%m/%d/%Y, %I:%M:%S%.f %p", "%m/%d/%Y %I:%M:%S%.f %p", "%m/%d/%Y %H:%M:%S%.f", "%m/%d/%Y, %H:%M:%S%.f"]
    {
        if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Utc.from_utc_datetime(&naive).timestamp_nanos_opt();
        }
    }
    year_month_day_list(trimmed)
}

/// A date written as three numbers, year first, between commas or spaced
/// hyphens, as .NET's lenient parser reads it: `datetime(2025, 6, 14)` (the
/// startofweek page) and `datetime(2017 - 08 - 01)` (the
/// sliding_window_counts page) are 2025-06-14 and 2017-08-01.
fn year_month_day_list(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split([',', '-']).map(str::trim).collect();
    let [year, month, day] = parts.as_slice() else { return None };
    if year.len() != 4 || ![year, month, day].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)?;
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)).timestamp_nanos_opt()
}

/// `2017-01-01T00:00:00Z`, with a fraction only when it is not zero.
pub fn format_datetime(nanos: i64) -> String {
    let mut out = String::with_capacity(30);
    write_datetime(&mut out, nanos);
    out
}

/// [`format_datetime`], appended to `out` (digits written by hand: output
/// of many rows formats a datetime per cell).
pub fn write_datetime(out: &mut String, nanos: i64) {
    write_datetime_with(out, nanos, false);
}

/// A datetime as Kusto converts it to text (`tostring`, `strcat`, values in
/// `dynamic`): always seven fraction digits (100 ns ticks), e.g.
/// `2024-01-01T00:00:00.0000000Z`; the KQL reference shows
/// `range(datetime(2007-01-01), …)` as `["2007-01-01T00:00:00.0000000Z", …]`.
pub fn format_datetime_text(nanos: i64) -> String {
    let mut out = String::with_capacity(28);
    write_datetime_with(&mut out, nanos, true);
    out
}

fn write_datetime_with(out: &mut String, nanos: i64, ticks: bool) {
    let secs = nanos.div_euclid(NANOS_PER_SECOND);
    let frac = nanos.rem_euclid(NANOS_PER_SECOND);
    let Some(dt) = DateTime::from_timestamp(secs, 0) else { return };
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&dt.format("%Y-%m-%dT%H:%M:%S").to_string());
    } else {
        fn digits(out: &mut String, value: u32, width: usize) {
            let mut buffer = [b'0'; 4];
            let mut v = value;
            for slot in buffer[..width].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            out.push_str(std::str::from_utf8(&buffer[..width]).unwrap_or_default());
        }
        digits(out, year as u32, 4);
        out.push('-');
        digits(out, dt.month(), 2);
        out.push('-');
        digits(out, dt.day(), 2);
        out.push('T');
        digits(out, dt.hour(), 2);
        out.push(':');
        digits(out, dt.minute(), 2);
        out.push(':');
        digits(out, dt.second(), 2);
    }
    if ticks {
        let mut buffer = [b'0'; 7];
        let mut v = frac / NANOS_PER_TICK;
        for slot in buffer.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.push('.');
        out.push_str(std::str::from_utf8(&buffer).unwrap_or_default());
    } else if frac != 0 {
        let mut buffer = [b'0'; 9];
        let mut v = frac;
        for slot in buffer.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let end = buffer.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1);
        out.push('.');
        out.push_str(std::str::from_utf8(&buffer[..end]).unwrap_or_default());
    }
    out.push('Z');
}

/// Kusto's timespan text: `[-][d.]hh:mm:ss[.fffffff]`, e.g. `1.02:03:04.5000000`.
pub fn format_timespan(nanos: i64) -> String {
    let negative = nanos < 0;
    let total = nanos.unsigned_abs();
    let ticks = total / NANOS_PER_TICK as u64;
    let days = ticks / (NANOS_PER_DAY / NANOS_PER_TICK) as u64;
    let rem = ticks % (NANOS_PER_DAY / NANOS_PER_TICK) as u64;
    let hours = rem / (NANOS_PER_HOUR / NANOS_PER_TICK) as u64;
    let rem = rem % (NANOS_PER_HOUR / NANOS_PER_TICK) as u64;
    let minutes = rem / (NANOS_PER_MINUTE / NANOS_PER_TICK) as u64;
    let rem = rem % (NANOS_PER_MINUTE / NANOS_PER_TICK) as u64;
    let seconds = rem / (NANOS_PER_SECOND / NANOS_PER_TICK) as u64;
    let fraction = rem % (NANOS_PER_SECOND / NANOS_PER_TICK) as u64;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{hours:02}:{minutes:02}:{seconds:02}"));
    if fraction > 0 {
        out.push_str(&format!(".{fraction:07}"));
    }
    out
}

/// Formats a datetime with a .NET-style custom format, as Kusto's
/// `format_datetime` does: `yyyy`/`yy`/`y`, `MM`/`M` (`MMM`, `MMMM` names),
/// `dd`/`d` (`ddd`, `dddd` day names), `HH`/`H`, `hh`/`h`, `mm`/`m`,
/// `ss`/`s`, `f…` (fixed digits), `F…` (trailing zeros dropped, and a `.`
/// before an empty `F` field too), `tt`/`t`. Anything else is copied.
pub fn format_datetime_custom(nanos: i64, format: &str) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    let frac = nanos.rem_euclid(NANOS_PER_SECOND);
    let Some(dt) = DateTime::from_timestamp(nanos.div_euclid(NANOS_PER_SECOND), 0) else { return String::new() };
    let hour = dt.hour() as i64;
    format_custom(format, |c, run, out| {
        let number = |out: &mut String, v: i64| out.push_str(&format!("{v:0width$}", width = run.min(2)));
        match c {
            'y' if run <= 2 => number(out, i64::from(dt.year()).rem_euclid(100)),
            'y' => out.push_str(&format!("{:0run$}", dt.year())),
            'M' if run >= 4 => out.push_str(MONTHS[dt.month0() as usize]),
            'M' if run == 3 => out.push_str(&MONTHS[dt.month0() as usize][..3]),
            'M' => number(out, dt.month() as i64),
            'd' if run >= 4 => out.push_str(DAYS[dt.weekday().num_days_from_sunday() as usize]),
            'd' if run == 3 => out.push_str(&DAYS[dt.weekday().num_days_from_sunday() as usize][..3]),
            'd' => number(out, dt.day() as i64),
            'H' => number(out, hour),
            'h' => number(out, if hour % 12 == 0 { 12 } else { hour % 12 }),
            'm' => number(out, dt.minute() as i64),
            's' => number(out, dt.second() as i64),
            'f' | 'F' => push_fraction(out, frac, run, c == 'F', true),
            't' => out.push_str(&(if hour < 12 { "AM" } else { "PM" })[..run.min(2)]),
            'z' => out.push_str(["+0", "+00", "+00:00"][run.min(3) - 1]),
            'K' => out.push('Z'),
            _ => return false,
        }
        true
    })
}

/// Formats a timespan with a .NET-style custom format, as Kusto's
/// `format_timespan` does: `d…` (days, zero-padded to the run length),
/// `hh`/`h` (also `HH`/`H`), `mm`/`m`, `ss`/`s`, `f…`, `F…`. Components
/// are those of the absolute value, as in .NET.
pub fn format_timespan_custom(nanos: i64, format: &str) -> String {
    let total = nanos.unsigned_abs();
    let (day, frac) = (NANOS_PER_DAY as u64, (total % NANOS_PER_SECOND as u64) as i64);
    let days = total / day;
    let time = total % day;
    let hours = time / NANOS_PER_HOUR as u64;
    let minutes = time / NANOS_PER_MINUTE as u64 % 60;
    let seconds = time / NANOS_PER_SECOND as u64 % 60;
    format_custom(format, |c, run, out| {
        let width = run.min(2);
        match c {
            'd' => out.push_str(&format!("{days:0run$}")),
            'h' | 'H' => out.push_str(&format!("{hours:0width$}")),
            'm' => out.push_str(&format!("{minutes:0width$}")),
            's' => out.push_str(&format!("{seconds:0width$}")),
            'f' | 'F' => push_fraction(out, frac, run, c == 'F', false),
            _ => return false,
        }
        true
    })
}

/// Walks a custom format: quoted text (`'…'`, `"…"`) and `\x` are
/// literal, `%` is dropped, and each run of one character goes to `field`,
/// which returns false for characters that are not specifiers (copied).
fn format_custom(format: &str, mut field: impl FnMut(char, usize, &mut String) -> bool) -> String {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = chars[i + 1..].iter().position(|&q| q == c).map_or(chars.len(), |p| i + 1 + p);
                out.extend(&chars[i + 1..end]);
                i = end + 1;
            }
            '\\' => {
                out.extend(chars.get(i + 1));
                i += 2;
            }
            '%' => i += 1,
            _ => {
                let run = chars[i..].iter().take_while(|&&x| x == c).count();
                if !field(c, run, &mut out) {
                    out.extend(&chars[i..i + run]);
                }
                i += run;
            }
        }
    }
    out
}

/// The first `digits` digits of a second's fraction. `trim` (the `F`
/// specifiers) drops trailing zeros; for datetimes an empty `F` field also
/// drops the `.` before it, as .NET does.
fn push_fraction(out: &mut String, frac_nanos: i64, digits: usize, trim: bool, drop_dot: bool) {
    let all = format!("{frac_nanos:09}");
    let mut text = &all[..digits.min(9)];
    if trim {
        text = text.trim_end_matches('0');
        if text.is_empty() && drop_dot && out.ends_with('.') {
            out.pop();
        }
    }
    out.push_str(text);
}

/// Current time in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

#[cfg(test)]
mod tests {

    #[test]
    fn datetimes_print_as_chrono_would() {
        let reference = |nanos: i64| {
            let secs = nanos.div_euclid(NANOS_PER_SECOND);
            let frac = nanos.rem_euclid(NANOS_PER_SECOND);
            let mut out = DateTime::from_timestamp(secs, 0).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string();
            if frac != 0 {
                out.push('.');
                out.push_str(format!("{frac:09}").trim_end_matches('0'));
            }
            out + "Z"
        };
        let mut x: i64 = 0x1E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            // Any i64 of nanoseconds (years 1677..2262), any fraction.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let nanos = if x % 3 == 0 { x / 1_000_000 * 1_000_000 } else { x };
            assert_eq!(format_datetime(nanos), reference(nanos), "{nanos}");
        }
        for nanos in [0, 1, -1, 999_999_999, 1_000_000_000, 1_714_568_683_943_000_000, i64::MIN, i64::MAX] {
            assert_eq!(format_datetime(nanos), reference(nanos), "{nanos}");
        }
        assert_eq!(format_datetime(1_714_568_683_943_000_000), "2024-05-01T13:04:43.943Z");
    }
    use super::*;

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("1d"), Some(NANOS_PER_DAY));
        assert_eq!(parse_timespan("1.5h"), Some(NANOS_PER_HOUR * 3 / 2));
        assert_eq!(parse_timespan("100ms"), Some(100 * NANOS_PER_MILLI));
        assert_eq!(parse_timespan("10microsecond"), Some(10_000));
        assert_eq!(parse_timespan("1tick"), Some(100));
        assert_eq!(
            parse_timespan("1.02:03:04.5"),
            Some(NANOS_PER_DAY + 2 * NANOS_PER_HOUR + 3 * NANOS_PER_MINUTE + 4 * NANOS_PER_SECOND + 500_000_000)
        );
        assert_eq!(format_timespan(parse_timespan("1.02:03:04.5").unwrap()), "1.02:03:04.5000000");
        assert_eq!(format_timespan(-NANOS_PER_HOUR), "-01:00:00");
        assert_eq!(parse_timespan("2"), Some(2 * NANOS_PER_DAY));
    }

    #[test]
    fn datetimes() {
        let t = parse_datetime("2017-01-01").unwrap();
        assert_eq!(format_datetime(t), "2017-01-01T00:00:00Z");
        assert_eq!(format_datetime(parse_datetime("2015-12-31 23:59:59.9").unwrap()), "2015-12-31T23:59:59.9Z");
        assert_eq!(parse_datetime("2017-01-01T10:00:00Z"), parse_datetime("2017-01-01 10:00"));
        assert_eq!(format_datetime(parse_datetime("7/28/2023, 8:07:14.552 PM").unwrap()), "2023-07-28T20:07:14.552Z");
        assert!(parse_datetime("not a date").is_none());
    }
}
