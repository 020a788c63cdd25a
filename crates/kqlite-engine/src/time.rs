//! Datetime and timespan values: parsing Kusto's literal forms and printing
//! Kusto's text forms. Both are nanoseconds in an `i64` (see [`crate::types`]).

use crate::types::*;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

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
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y"] {
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
    None
}

/// `2017-01-01T00:00:00Z`, with a fraction only when it is not zero.
pub fn format_datetime(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SECOND);
    let frac = nanos.rem_euclid(NANOS_PER_SECOND);
    let Some(dt) = DateTime::from_timestamp(secs, 0) else { return String::new() };
    let mut out = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if frac != 0 {
        let digits = format!("{:09}", frac);
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
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

/// Current time in nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

#[cfg(test)]
mod tests {
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
