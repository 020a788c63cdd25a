//! Date and time functions. Datetimes and timespans are `Int64`
//! nanoseconds, so most of these are integer arithmetic.

use super::{expect_one_of, Registry};
use crate::convert::Bound;
use crate::types::*;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_int64_array;
use datafusion::common::Result;
use datafusion::logical_expr::{lit, ColumnarValue};
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
    r.scalar("startofday", 1, 2, |_, a| {
        expect_one_of("startofday", 0, &a[0], &[KqlType::Datetime])?;
        let floored = super::math::floor_multiple(a[0].expr.clone(), lit(NANOS_PER_DAY));
        Ok(Bound::new(floored, KqlType::Datetime))
    });
    r.scalar("dayofweek", 1, 1, |_, a| {
        expect_one_of("dayofweek", 0, &a[0], &[KqlType::Datetime])?;
        let expr = udf::call("kql_dayofweek", DataType::Int64, day_of_week, vec![a[0].expr.clone()]);
        Ok(Bound::new(expr, KqlType::Timespan))
    });
}

fn hour_of_day(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_int64_array(&array)?;
    let out: Int32Array =
        input.iter().map(|v| v.map(|t| (t.rem_euclid(NANOS_PER_DAY) / NANOS_PER_HOUR) as i32)).collect();
    maybe_scalar(args, Arc::new(out))
}

/// Days since the previous Sunday, as a timespan (Kusto's `dayofweek`).
fn day_of_week(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_int64_array(&array)?;
    // 1970-01-01 was a Thursday (4 days after Sunday).
    let out: Int64Array =
        input.iter().map(|v| v.map(|t| ((t.div_euclid(NANOS_PER_DAY) + 4).rem_euclid(7)) * NANOS_PER_DAY)).collect();
    maybe_scalar(args, Arc::new(out))
}
