//! Date and time functions. Datetimes and timespans are `Int64`
//! nanoseconds, so most of these are integer arithmetic; calendar parts
//! (months, years, ISO weeks) go through chrono's proleptic Gregorian
//! calendar. Kusto's datetimes have 100 ns ticks, so "end of" functions
//! stop one tick before the next period.
//!
//! Most kernels take a leading literal code (which part, which period) so
//! one kernel serves a family of functions.

use super::{coerce, expect_one_of, CallError, CallResult, Registry, NUMERIC};
use crate::convert::Bound;
use crate::time::{format_datetime_custom, format_timespan_custom};
use crate::types::*;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use chrono::{Datelike, NaiveDate, Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::cast::{as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{cast, lit, ColumnarValue};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("now", 0, 1, |ctx, a| {
        let offset = match a.first() {
            Some(b) => {
                expect_one_of("now", 0, b, &[KqlType::Timespan])?;
                b.expr.clone()
            }
            None => lit(0i64),
        };
        Ok(Bound::new(lit(ctx.now) + offset, KqlType::Datetime))
    });
    r.scalar("ago", 1, 1, |ctx, a| {
        expect_one_of("ago", 0, &a[0], &[KqlType::Timespan])?;
        Ok(Bound::new(lit(ctx.now) - a[0].expr.clone(), KqlType::Datetime))
    });
    r.scalar("hourofday", 1, 1, |_, a| {
        expect_one_of("hourofday", 0, &a[0], &[KqlType::Datetime])?;
        let expr = udf::call("kql_hourofday", DataType::Int32, hour_of_day, vec![a[0].expr.clone()]);
        Ok(Bound::new(expr, KqlType::Int))
    });
    r.scalar("dayofweek", 1, 1, |_, a| {
        expect_one_of("dayofweek", 0, &a[0], &[KqlType::Datetime])?;
        let expr = udf::call("kql_dayofweek", DataType::Int64, day_of_week, vec![a[0].expr.clone()]);
        Ok(Bound::new(expr, KqlType::Timespan))
    });

    r.scalar("startofday", 1, 2, |_, a| period_bound("startofday", Period::Day, false, a));
    r.scalar("startofweek", 1, 2, |_, a| period_bound("startofweek", Period::Week, false, a));
    r.scalar("startofmonth", 1, 2, |_, a| period_bound("startofmonth", Period::Month, false, a));
    r.scalar("startofyear", 1, 2, |_, a| period_bound("startofyear", Period::Year, false, a));
    r.scalar("endofday", 1, 2, |_, a| period_bound("endofday", Period::Day, true, a));
    r.scalar("endofweek", 1, 2, |_, a| period_bound("endofweek", Period::Week, true, a));
    r.scalar("endofmonth", 1, 2, |_, a| period_bound("endofmonth", Period::Month, true, a));
    r.scalar("endofyear", 1, 2, |_, a| period_bound("endofyear", Period::Year, true, a));

    r.scalar("datetime_part", 2, 2, |_, a| datetime_part("datetime_part", a));
    r.scalar("datepart", 2, 2, |_, a| datetime_part("datepart", a));
    r.scalar("getyear", 1, 1, |_, a| part_of("getyear", Part::Year, a));
    r.scalar("getmonth", 1, 1, |_, a| part_of("getmonth", Part::Month, a));
    r.scalar("monthofyear", 1, 1, |_, a| part_of("monthofyear", Part::Month, a));
    r.scalar("dayofmonth", 1, 1, |_, a| part_of("dayofmonth", Part::Day, a));
    r.scalar("dayofyear", 1, 1, |_, a| part_of("dayofyear", Part::DayOfYear, a));
    r.scalar("week_of_year", 1, 1, |_, a| part_of("week_of_year", Part::WeekOfYear, a));
    // Deprecated alias; Kusto now computes the ISO 8601 week for both.
    r.scalar("weekofyear", 1, 1, |_, a| part_of("weekofyear", Part::WeekOfYear, a));

    r.scalar("datetime_diff", 3, 3, |_, a| {
        let part = period_part("datetime_diff", &a[0])?;
        expect_one_of("datetime_diff", 1, &a[1], &[KqlType::Datetime])?;
        expect_one_of("datetime_diff", 2, &a[2], &[KqlType::Datetime])?;
        let args = vec![lit(part as i64), a[1].expr.clone(), a[2].expr.clone()];
        Ok(Bound::new(udf::call("kql_datetime_diff", DataType::Int64, datetime_diff, args), KqlType::Long))
    });
    r.scalar("datetime_add", 3, 3, |_, mut a| {
        let part = period_part("datetime_add", &a[0])?;
        expect_one_of("datetime_add", 1, &a[1], &[KqlType::Int, KqlType::Long])?;
        expect_one_of("datetime_add", 2, &a[2], &[KqlType::Datetime])?;
        let datetime = a.pop().expect("three arguments").expr;
        let amount = coerce("datetime_add", 1, a.pop().expect("three arguments"), KqlType::Long)?.expr;
        let args = vec![lit(part as i64), amount, datetime];
        Ok(Bound::new(udf::call("kql_datetime_add", DataType::Int64, datetime_add, args), KqlType::Datetime))
    });

    r.scalar("format_datetime", 2, 2, |_, a| format("format_datetime", KqlType::Datetime, a));
    r.scalar("format_timespan", 2, 2, |_, a| format("format_timespan", KqlType::Timespan, a));

    r.scalar("make_datetime", 1, 6, |_, a| match a.len() {
        // One argument: Kusto converts it as todatetime() does (Microsoft's
        // binder types make_datetime(Message['occured']) datetime; ESET's parser).
        1 => Ok(super::conversion::convert(a.into_iter().next().expect("one argument"), KqlType::Datetime)),
        2 => Err(CallError::Arity { function: "make_datetime".into(), expected: "1 or 3 to 6 arguments" }),
        _ => make("make_datetime", a),
    });
    r.scalar("make_timespan", 2, 4, |_, a| make("make_timespan", a));

    r.scalar("unixtime_seconds_todatetime", 1, 1, |_, a| unixtime("unixtime_seconds_todatetime", NANOS_PER_SECOND, a));
    r.scalar("unixtime_milliseconds_todatetime", 1, 1, |_, a| {
        unixtime("unixtime_milliseconds_todatetime", NANOS_PER_MILLI, a)
    });
    r.scalar("unixtime_microseconds_todatetime", 1, 1, |_, a| {
        unixtime("unixtime_microseconds_todatetime", NANOS_PER_MICRO, a)
    });
    r.scalar("unixtime_nanoseconds_todatetime", 1, 1, |_, a| unixtime("unixtime_nanoseconds_todatetime", 1, a));

    r.scalar("datetime_utc_to_local", 2, 2, |_, a| zone("datetime_utc_to_local", true, a));
    r.scalar("datetime_local_to_utc", 2, 2, |_, a| zone("datetime_local_to_utc", false, a));

    r.scalar("bin_at", 3, 3, |_, a| bin_at(a));
}

// ---------------------------------------------------------------------------
// Calendar helpers

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// The calendar date and the time of day (ns) of a datetime; also correct
/// before 1970.
fn civil(t: i64) -> (NaiveDate, i64) {
    let days = t.div_euclid(NANOS_PER_DAY) + EPOCH_DAYS_FROM_CE;
    // Every i64 of nanoseconds lies within years 1677..2262.
    let date = NaiveDate::from_num_days_from_ce_opt(days as i32).expect("i64 nanoseconds are within chrono's range");
    (date, t.rem_euclid(NANOS_PER_DAY))
}

/// The inverse of [`civil`]; `None` when out of the i64 nanosecond range.
fn from_civil(date: NaiveDate, time_of_day: i64) -> Option<i64> {
    let days = i64::from(date.num_days_from_ce()) - EPOCH_DAYS_FROM_CE;
    days.checked_mul(NANOS_PER_DAY)?.checked_add(time_of_day)
}

/// Adds calendar months, clamping the day to the target month's length
/// (2017-01-31 + 1 month = 2017-02-28), as .NET's `AddMonths` does.
fn add_months(t: i64, months: i64) -> Option<i64> {
    let (date, time_of_day) = civil(t);
    let index = (i64::from(date.year()) * 12 + i64::from(date.month0())).checked_add(months)?;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = index.rem_euclid(12) as u32 + 1;
    let day = date.day().min(days_in_month(year, month));
    from_civil(NaiveDate::from_ymd_opt(year, month, day)?, time_of_day)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if NaiveDate::from_ymd_opt(year, 2, 29).is_some() => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whole days since the Sunday on or before 1970-01-01 (a Thursday).
fn days_since_sunday_epoch(t: i64) -> i64 {
    t.div_euclid(NANOS_PER_DAY) + 4
}

// ---------------------------------------------------------------------------
// startof… / endof…

#[derive(Clone, Copy)]
enum Period {
    Day,
    Week,
    Month,
    Year,
}

/// `startofX(date [, offset])` / `endofX(date [, offset])`: the first (or
/// last tick) of the period `offset` periods away from the one holding `date`.
fn period_bound(name: &str, period: Period, end: bool, mut a: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of(name, 0, &a[0], &[KqlType::Datetime])?;
    let offset = match a.len() {
        2 => {
            expect_one_of(name, 1, &a[1], &[KqlType::Int, KqlType::Long])?;
            coerce(name, 1, a.pop().expect("two arguments"), KqlType::Long)?.expr
        }
        _ => lit(0i64),
    };
    let code = period as i64 * 2 + end as i64;
    let args = vec![lit(code), a[0].expr.clone(), offset];
    Ok(Bound::new(udf::call("kql_period_bound", DataType::Int64, period_bound_kernel, args), KqlType::Datetime))
}

fn period_bound_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, _| {
        let (code, t, offset) = (v[0], v[1], v[2]);
        let end = code % 2 == 1;
        let start = |shift: i64| -> Option<i64> {
            let shift = offset.checked_add(shift)?;
            match code / 2 {
                0 => t.div_euclid(NANOS_PER_DAY).checked_add(shift)?.checked_mul(NANOS_PER_DAY),
                1 => {
                    let sunday = t.div_euclid(NANOS_PER_DAY) - days_since_sunday_epoch(t).rem_euclid(7);
                    shift.checked_mul(7)?.checked_add(sunday)?.checked_mul(NANOS_PER_DAY)
                }
                2 => add_months(from_civil(civil(t).0.with_day(1)?, 0)?, shift),
                _ => add_months(from_civil(civil(t).0.with_ordinal(1)?, 0)?, shift.checked_mul(12)?),
            }
        };
        if end {
            start(1)?.checked_sub(NANOS_PER_TICK)
        } else {
            start(0)
        }
    })
}

// ---------------------------------------------------------------------------
// Parts: datetime_part, datetime_diff, datetime_add and the getX functions

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
    WeekOfYear,
    DayOfYear,
}

const PARTS: [Part; 13] = [
    Part::Year,
    Part::Quarter,
    Part::Month,
    Part::Week,
    Part::Day,
    Part::Hour,
    Part::Minute,
    Part::Second,
    Part::Millisecond,
    Part::Microsecond,
    Part::Nanosecond,
    Part::WeekOfYear,
    Part::DayOfYear,
];

impl Part {
    fn from_code(code: i64) -> Part {
        PARTS[code as usize]
    }

    fn parse(name: &str) -> Option<Part> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" => Part::Year,
            "quarter" => Part::Quarter,
            "month" => Part::Month,
            "week" => Part::Week,
            "day" => Part::Day,
            "hour" => Part::Hour,
            "minute" => Part::Minute,
            "second" => Part::Second,
            "millisecond" => Part::Millisecond,
            "microsecond" => Part::Microsecond,
            "nanosecond" => Part::Nanosecond,
            "week_of_year" => Part::WeekOfYear,
            "dayofyear" => Part::DayOfYear,
            _ => return None,
        })
    }

    /// The fixed length of a unit from `day` down; calendar units have none.
    fn nanos(self) -> Option<i64> {
        Some(match self {
            Part::Week => 7 * NANOS_PER_DAY,
            Part::Day => NANOS_PER_DAY,
            Part::Hour => NANOS_PER_HOUR,
            Part::Minute => NANOS_PER_MINUTE,
            Part::Second => NANOS_PER_SECOND,
            Part::Millisecond => NANOS_PER_MILLI,
            Part::Microsecond => NANOS_PER_MICRO,
            Part::Nanosecond => 1,
            _ => return None,
        })
    }
}

/// The string literal of a part or format argument, which Kusto requires
/// to be a constant.
fn literal_string(name: &str, index: usize, b: &Bound) -> CallResult<String> {
    expect_one_of(name, index, b, &[KqlType::String])?;
    match crate::convert::evaluate_constant(&b.expr) {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => Ok(s),
        _ => Err(CallError::not_constant(name, index, "a string literal")),
    }
}

/// The period of `datetime_diff` / `datetime_add`.
fn period_part(name: &str, b: &Bound) -> CallResult<Part> {
    let text = literal_string(name, 0, b)?;
    match Part::parse(&text) {
        Some(p) if p.nanos().is_some() || matches!(p, Part::Year | Part::Quarter | Part::Month) => Ok(p),
        _ => Err(CallError::invalid(
            name,
            format!(
                "'{text}' is not one of year, quarter, month, week, day, hour, minute, second, \
                 millisecond, microsecond or nanosecond"
            ),
        )),
    }
}

fn datetime_part(name: &str, a: Vec<Bound>) -> CallResult<Bound> {
    let text = literal_string(name, 0, &a[0])?;
    match Part::parse(&text) {
        Some(p) if p != Part::Week => part_of(name, p, a[1..].to_vec()),
        _ => Err(CallError::invalid(
            name,
            format!(
                "'{text}' is not one of year, quarter, month, week_of_year, day, dayofyear, hour, minute, \
                 second, millisecond, microsecond or nanosecond"
            ),
        )),
    }
}

/// One calendar or clock part of a datetime, as an int.
fn part_of(name: &str, part: Part, a: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of(name, 0, &a[0], &[KqlType::Datetime])?;
    let args = vec![lit(part as i64), a[0].expr.clone()];
    Ok(Bound::new(udf::call("kql_datetime_part", DataType::Int32, datetime_part_kernel, args), KqlType::Int))
}

fn datetime_part_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int32Type>(args, rows, |v, _| {
        let t = v[1];
        let (date, time_of_day) = civil(t);
        let fraction = t.rem_euclid(NANOS_PER_SECOND);
        let value = match Part::from_code(v[0]) {
            Part::Year => date.year() as i64,
            Part::Quarter => date.month0() as i64 / 3 + 1,
            Part::Month => date.month() as i64,
            Part::WeekOfYear | Part::Week => date.iso_week().week() as i64,
            Part::Day => date.day() as i64,
            Part::DayOfYear => date.ordinal() as i64,
            Part::Hour => time_of_day / NANOS_PER_HOUR,
            Part::Minute => time_of_day / NANOS_PER_MINUTE % 60,
            Part::Second => time_of_day / NANOS_PER_SECOND % 60,
            Part::Millisecond => fraction / NANOS_PER_MILLI,
            Part::Microsecond => fraction / NANOS_PER_MICRO,
            Part::Nanosecond => fraction,
        };
        Some(value as i32)
    })
}

/// Kusto's `datetime_diff`: the number of period boundaries between the
/// two datetimes (calendar years, quarters and months; Sunday-based weeks;
/// whole days, hours, … counted from midnight), `dt1 - dt2`.
fn datetime_diff(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, _| {
        let (a, b) = (v[1], v[2]);
        let months = |t: i64| {
            let date = civil(t).0;
            i64::from(date.year()) * 12 + i64::from(date.month0())
        };
        Some(match Part::from_code(v[0]) {
            Part::Year => i64::from(civil(a).0.year() - civil(b).0.year()),
            Part::Quarter => months(a).div_euclid(3) - months(b).div_euclid(3),
            Part::Month => months(a) - months(b),
            Part::Week => days_since_sunday_epoch(a).div_euclid(7) - days_since_sunday_epoch(b).div_euclid(7),
            Part::Nanosecond => a.checked_sub(b)?,
            part => {
                let unit = part.nanos()?;
                a.div_euclid(unit) - b.div_euclid(unit)
            }
        })
    })
}

fn datetime_add(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, _| {
        let (amount, t) = (v[1], v[2]);
        match Part::from_code(v[0]) {
            Part::Year => add_months(t, amount.checked_mul(12)?),
            Part::Quarter => add_months(t, amount.checked_mul(3)?),
            Part::Month => add_months(t, amount),
            part => t.checked_add(amount.checked_mul(part.nanos()?)?),
        }
    })
}

// ---------------------------------------------------------------------------
// format_datetime, format_timespan

/// `format_datetime(date, format)` / `format_timespan(span, format)`; the
/// format must be a literal. Null values format as "".
fn format(name: &str, ty: KqlType, a: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of(name, 0, &a[0], &[ty])?;
    let format = literal_string(name, 1, &a[1])?;
    let kernel: udf::Kernel = if ty == KqlType::Datetime { format_datetime_kernel } else { format_timespan_kernel };
    let expr = udf::call(&format!("kql_{name}"), DataType::Utf8, kernel, vec![a[0].expr.clone(), lit(format)]);
    Ok(Bound::new(expr, KqlType::String))
}

fn format_datetime_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    format_kernel(args, rows, format_datetime_custom)
}

fn format_timespan_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    format_kernel(args, rows, format_timespan_custom)
}

fn format_kernel(args: &[ColumnarValue], rows: usize, f: fn(i64, &str) -> String) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, formats) = (args[0].to_array(n)?, args[1].to_array(n)?);
    let (values, formats) = (as_int64_array(&values)?, as_string_array(&formats)?);
    let out: StringArray = values
        .iter()
        .zip(formats.iter())
        .map(|(v, fmt)| Some(v.zip(fmt).map(|(v, fmt)| f(v, fmt)).unwrap_or_default()))
        .collect();
    maybe_scalar(args, Arc::new(out))
}

// ---------------------------------------------------------------------------
// make_datetime, make_timespan

/// `make_datetime(year, month, day [, hour, minute [, second]])` and
/// `make_timespan([day,] hour, minute [, second])`: null when a component
/// is out of range (month 13, hour 24, second 60, February 30).
fn make(name: &str, a: Vec<Bound>) -> CallResult<Bound> {
    for (i, b) in a.iter().enumerate() {
        expect_one_of(name, i, b, NUMERIC)?;
    }
    let as_long = |b: &Bound| cast(b.expr.clone(), DataType::Int64);
    let second = |b: Option<&Bound>| b.map_or(lit(0f64), |b| cast(b.expr.clone(), DataType::Float64));
    let (kernel, ty, args): (udf::Kernel, _, _) = if name == "make_datetime" {
        let mut args: Vec<_> = a.iter().take(5).map(as_long).collect();
        args.resize(5, lit(0i64));
        args.push(second(a.get(5)));
        (make_datetime, KqlType::Datetime, args)
    } else {
        // (hour, minute [, second]) or (day, hour, minute, second)
        let (day, rest) = if a.len() == 4 { (as_long(&a[0]), &a[1..]) } else { (lit(0i64), &a[..]) };
        (make_timespan, KqlType::Timespan, vec![day, as_long(&rest[0]), as_long(&rest[1]), second(rest.get(2))])
    };
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Int64, kernel, args), ty))
}

/// Seconds to 100 ns ticks in nanoseconds, if in `0 <= s < 60`.
fn second_nanos(seconds: f64) -> Option<i64> {
    (0.0..60.0).contains(&seconds).then(|| (seconds * 1e7).round() as i64 * NANOS_PER_TICK)
}

fn make_datetime(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, second| {
        let [year, month, day, hour, minute] = [v[0], v[1], v[2], v[3], v[4]];
        if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return None;
        }
        let date =
            NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, u32::try_from(month).ok()?, u32::try_from(day).ok()?)?;
        from_civil(date, hour * NANOS_PER_HOUR + minute * NANOS_PER_MINUTE + second_nanos(second)?)
    })
}

fn make_timespan(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, second| {
        let [day, hour, minute] = [v[0], v[1], v[2]];
        if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
            return None;
        }
        day.checked_mul(NANOS_PER_DAY)?
            .checked_add(hour * NANOS_PER_HOUR + minute * NANOS_PER_MINUTE + second_nanos(second)?)
    })
}

// ---------------------------------------------------------------------------
// unixtime_*_todatetime

/// `unixtime_<unit>_todatetime(n)`: `n` units after 1970-01-01, truncated
/// to Kusto's 100 ns ticks; null when out of range.
fn unixtime(name: &str, unit: i64, a: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of(name, 0, &a[0], NUMERIC)?;
    let expr = if matches!(a[0].ty, KqlType::Int | KqlType::Long) {
        let args = vec![lit(unit), cast(a[0].expr.clone(), DataType::Int64)];
        udf::call("kql_unixtime_long", DataType::Int64, unixtime_long, args)
    } else {
        let args = vec![lit(unit), cast(a[0].expr.clone(), DataType::Float64)];
        udf::call("kql_unixtime_real", DataType::Int64, unixtime_real, args)
    };
    Ok(Bound::new(expr, KqlType::Datetime))
}

fn unixtime_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, _| Some(v[1].checked_mul(v[0])? / NANOS_PER_TICK * NANOS_PER_TICK))
}

fn unixtime_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, value| {
        let ticks = (value * (v[0] as f64 / NANOS_PER_TICK as f64)).round();
        (ticks.is_finite() && ticks.abs() < (i64::MAX / NANOS_PER_TICK) as f64).then(|| ticks as i64 * NANOS_PER_TICK)
    })
}

// ---------------------------------------------------------------------------
// Time zones

/// `datetime_utc_to_local(dt, zone)` / `datetime_local_to_utc(dt, zone)`
/// with IANA zone names (chrono-tz, through arrow); null for an unknown
/// zone. A local time skipped by a DST change is read with the offset in
/// force after the change; a repeated one as the later (standard) time.
fn zone(name: &str, to_local: bool, a: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of(name, 0, &a[0], &[KqlType::Datetime])?;
    expect_one_of(name, 1, &a[1], &[KqlType::String])?;
    let args = vec![lit(to_local), a[0].expr.clone(), a[1].expr.clone()];
    Ok(Bound::new(udf::call("kql_datetime_zone", DataType::Int64, zone_kernel, args), KqlType::Datetime))
}

fn zone_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let to_local = matches!(args[0], ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
    let n = rows_to_compute(args, rows);
    let (times, zones) = (args[1].to_array(n)?, args[2].to_array(n)?);
    let (times, zones) = (as_int64_array(&times)?, as_string_array(&zones)?);
    let mut cache: Option<(String, Option<Tz>)> = None;
    let out: Int64Array = times
        .iter()
        .zip(zones.iter())
        .map(|(t, z)| {
            let (t, z) = (t?, z?);
            if cache.as_ref().is_none_or(|(name, _)| name != z) {
                cache = Some((z.to_string(), z.parse::<Tz>().ok()));
            }
            let tz = cache.as_ref()?.1?;
            let offset_at = |utc: i64| -> Option<i64> {
                let naive = chrono::DateTime::from_timestamp_nanos(utc).naive_utc();
                Some(i64::from(tz.offset_from_utc_datetime(&naive).fix().local_minus_utc()) * NANOS_PER_SECOND)
            };
            if to_local {
                return t.checked_add(offset_at(t)?);
            }
            let local = chrono::DateTime::from_timestamp_nanos(t).naive_utc();
            let offset = match tz.offset_from_local_datetime(&local) {
                chrono::LocalResult::Single(o) | chrono::LocalResult::Ambiguous(_, o) => {
                    i64::from(o.fix().local_minus_utc()) * NANOS_PER_SECOND
                }
                // In a DST gap: the offset after the change.
                chrono::LocalResult::None => offset_at(t.checked_sub(offset_at(t.checked_sub(NANOS_PER_DAY)?)?)?)?,
            };
            t.checked_sub(offset)
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

// ---------------------------------------------------------------------------
// bin_at

/// `bin_at(value, size, fixed_point)`: `bin` with bins aligned to
/// `fixed_point` instead of zero. Datetimes and timespans take a timespan
/// size and a fixed point of their own type; numbers give long, or real
/// when any argument is real. Null for a zero size.
fn bin_at(a: Vec<Bound>) -> CallResult<Bound> {
    let (value, size, fixed) = (&a[0], &a[1], &a[2]);
    let (name, kernel, ty, arrow): (_, udf::Kernel, _, _) = match value.ty {
        KqlType::Datetime | KqlType::Timespan => {
            expect_one_of("bin_at", 1, size, &[KqlType::Timespan])?;
            expect_one_of("bin_at", 2, fixed, &[value.ty])?;
            ("kql_bin_at_long", bin_at_long, value.ty, DataType::Int64)
        }
        t if t.is_numeric() => {
            expect_one_of("bin_at", 1, size, NUMERIC)?;
            expect_one_of("bin_at", 2, fixed, NUMERIC)?;
            if a.iter().all(|b| matches!(b.ty, KqlType::Int | KqlType::Long)) {
                ("kql_bin_at_long", bin_at_long, KqlType::Long, DataType::Int64)
            } else {
                ("kql_bin_at_real", bin_at_real, KqlType::Real, DataType::Float64)
            }
        }
        t => return Err(CallError::CannotRound { function: "bin_at".to_string(), actual: t }),
    };
    let args = a.iter().map(|b| cast(b.expr.clone(), arrow.clone())).collect();
    Ok(Bound::new(udf::call(name, arrow, kernel, args), ty))
}

fn bin_at_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |v, _| {
        let (value, size, fixed) = (v[0] as i128, v[1] as i128, v[2] as i128);
        if size == 0 {
            return None;
        }
        i64::try_from((value - fixed).div_euclid(size) * size + fixed).ok()
    })
}

fn bin_at_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let [value, size, fixed] = [0, 1, 2].map(|i| as_float64_array(&arrays[i]));
    let (value, size, fixed) = (value?, size?, fixed?);
    let out: Float64Array = (0..n)
        .map(|i| {
            if value.is_null(i) || size.is_null(i) || fixed.is_null(i) || size.value(i) == 0.0 {
                return None;
            }
            let (v, s, f) = (value.value(i), size.value(i), fixed.value(i));
            Some(((v - f) / s).floor() * s + f)
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

// ---------------------------------------------------------------------------
// Kernels

fn hour_of_day(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int32Type>(args, rows, |t, _| Some((t[0].rem_euclid(NANOS_PER_DAY) / NANOS_PER_HOUR) as i32))
}

/// Days since the previous Sunday, as a timespan (Kusto's `dayofweek`).
fn day_of_week(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_rows::<Int64Type>(args, rows, |t, _| Some(days_since_sunday_epoch(t[0]).rem_euclid(7) * NANOS_PER_DAY))
}

/// Applies `f` to each row of Int64 arguments, optionally followed by one
/// Float64 argument (the seconds of `make_datetime`, the value of
/// `unixtime_…`), passed as the second parameter (0 when absent). A null
/// argument gives null without calling `f`.
fn map_rows<T: ArrowPrimitiveType>(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[i64], f64) -> Option<T::Native>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let (ints, real) = match arrays.split_last() {
        Some((last, rest)) if last.data_type() == &DataType::Float64 => (rest, Some(as_float64_array(last)?)),
        _ => (&arrays[..], None),
    };
    let ints = ints.iter().map(|a| as_int64_array(a)).collect::<Result<Vec<_>>>()?;
    let mut values = vec![0i64; ints.len()];
    let out: PrimitiveArray<T> = (0..n)
        .map(|i| {
            if real.is_some_and(|r| r.is_null(i)) || ints.iter().any(|a| a.is_null(i)) {
                return None;
            }
            for (v, a) in values.iter_mut().zip(&ints) {
                *v = a.value(i);
            }
            f(&values, real.map_or(0.0, |r| r.value(i)))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}
