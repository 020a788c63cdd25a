//! t-digests: the `tdigest` and `merge_tdigest` aggregates and the scalar
//! functions over their results (`percentile_tdigest`,
//! `percentiles_array_tdigest`, `rank_tdigest`, `percentrank_tdigest`, and
//! the scalar `merge_tdigest`).
//!
//! Kusto's digest is an opaque `dynamic` value. kqlite's is exact: the
//! distinct values seen with their total weights, in value order, as the
//! dynamic array `["tdigest", [v1, v2, …], [w1, w2, …]]`. A percentile of it
//! is therefore the nearest-rank percentile `percentile()` computes, which is
//! within the error bound Kusto documents for its estimate. Values keep
//! their KQL type (long, real, datetime, timespan), so `percentile_tdigest`
//! without a type argument returns a dynamic value of the summarized type.

use super::{coerce, expect_one_of, CallError, CallResult, Registry};
use crate::convert::{to_dynamic, Bound};
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, BinaryBuilder, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    cast, Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, Signature, Volatility,
};
use std::cmp::Ordering;
use std::sync::Arc;

/// The first element of every digest kqlite writes.
const DIGEST_TAG: &str = "tdigest";

pub fn register(r: &mut Registry) {
    r.aggregate("tdigest", 1, 2, "tdigest", |_, a| tdigest_aggregate(a));
    r.aggregate("merge_tdigest", 1, 1, "merge_tdigests", |_, a| merge_aggregate("merge_tdigest", a));
    r.aggregate("tdigest_merge", 1, 1, "merge_tdigests", |_, a| merge_aggregate("tdigest_merge", a));
    r.scalar("merge_tdigest", 2, 16, |_, a| merge_scalar("merge_tdigest", a));
    r.scalar("tdigest_merge", 2, 16, |_, a| merge_scalar("tdigest_merge", a));
    r.scalar("percentile_tdigest", 2, 2, |_, a| {
        let mut a = a.into_iter();
        let digest = coerce("percentile_tdigest", 0, a.next().expect("digest"), KqlType::Dynamic)?;
        let p = percentile_argument("percentile_tdigest", 1, a.next().expect("percentile"))?;
        let expr = udf::call("kql_percentile_tdigest", DataType::Binary, percentile_kernel, vec![digest.expr, p]);
        Ok(Bound::new(expr, KqlType::Dynamic))
    });
    r.scalar("percentiles_array_tdigest", 2, usize::MAX, |_, a| {
        let mut args = Vec::with_capacity(a.len());
        for (i, b) in a.into_iter().enumerate() {
            args.push(match (i, b.ty) {
                (_, KqlType::Dynamic) => b.expr,
                (0, _) => coerce("percentiles_array_tdigest", 0, b, KqlType::Dynamic)?.expr,
                _ => percentile_argument("percentiles_array_tdigest", i, b)?,
            });
        }
        let expr = udf::call("kql_percentiles_array_tdigest", DataType::Binary, percentiles_array_kernel, args);
        Ok(Bound::new(expr, KqlType::Dynamic))
    });
    r.scalar("rank_tdigest", 2, 2, |_, a| rank("rank_tdigest", a, false));
    r.scalar("percentrank_tdigest", 2, 2, |_, a| rank("percentrank_tdigest", a, true));
}

/// A percentile argument as a real.
fn percentile_argument(name: &str, index: usize, value: Bound) -> CallResult<Expr> {
    expect_one_of(name, index, &value, super::NUMERIC)?;
    Ok(coerce(name, index, value, KqlType::Real)?.expr)
}

/// `tdigest(x [, weight])`: numbers, datetimes and timespans ("summable"
/// values, as Microsoft's binder requires).
fn tdigest_aggregate(a: Vec<Bound>) -> CallResult<Bound> {
    use KqlType::*;
    let mut a = a.into_iter();
    let value = a.next().expect("value");
    if !matches!(value.ty, Int | Long | Real | Decimal | Datetime | Timespan) {
        return Err(CallError::argument_type("tdigest", 0, "a number, timespan or datetime", value.ty));
    }
    let (kind, input) = match value.ty {
        Int | Long => (ValueKind::Long, cast(value.expr, DataType::Int64)),
        Real | Decimal => (ValueKind::Real, cast(value.expr, DataType::Float64)),
        Datetime => (ValueKind::Datetime, value.expr),
        _ => (ValueKind::Timespan, value.expr),
    };
    let mut args = vec![input];
    if let Some(weight) = a.next() {
        expect_one_of("tdigest", 1, &weight, &[Int, Long])?;
        args.push(cast(weight.expr, DataType::Int64));
    }
    let udaf = DigestUdaf::new(Input::Values(kind), args.len() == 2);
    Ok(Bound::new(AggregateUDF::new_from_impl(udaf).call(args), Dynamic))
}

/// `merge_tdigest(digest)` in summarize: one digest of every group's digests.
fn merge_aggregate(name: &str, a: Vec<Bound>) -> CallResult<Bound> {
    let digest = coerce(name, 0, a.into_iter().next().expect("digest"), KqlType::Dynamic)?;
    let udaf = DigestUdaf::new(Input::Digests, false);
    Ok(Bound::new(AggregateUDF::new_from_impl(udaf).call(vec![digest.expr]), KqlType::Dynamic))
}

/// The scalar `merge_tdigest(d1, d2, …)`: one digest of the row's digests.
fn merge_scalar(name: &str, a: Vec<Bound>) -> CallResult<Bound> {
    let args = a.into_iter().enumerate().map(|(i, b)| coerce(name, i, b, KqlType::Dynamic).map(|b| b.expr));
    let args = args.collect::<CallResult<Vec<_>>>()?;
    Ok(Bound::new(udf::call("kql_merge_tdigest", DataType::Binary, merge_kernel, args), KqlType::Dynamic))
}

/// `rank_tdigest(digest, value)`: the total weight of values at most
/// `value`; `percentrank_tdigest`: that weight as a percentage of all.
fn rank(name: &str, a: Vec<Bound>, percent: bool) -> CallResult<Bound> {
    use KqlType::*;
    let mut a = a.into_iter();
    let digest = coerce(name, 0, a.next().expect("digest"), Dynamic)?;
    let value = a.next().expect("value");
    expect_one_of(name, 1, &value, &[Int, Long, Real, Decimal, Datetime, Timespan, Dynamic])?;
    let value = to_dynamic(value);
    let (kernel_name, kernel): (&str, udf::Kernel) =
        if percent { ("kql_percentrank_tdigest", percentrank_kernel) } else { ("kql_rank_tdigest", rank_kernel) };
    Ok(Bound::new(udf::call(kernel_name, DataType::Float64, kernel, vec![digest.expr, value.expr]), Real))
}

/// The KQL type of the values a digest summarizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ValueKind {
    Long,
    Real,
    Datetime,
    Timespan,
}

impl ValueKind {
    fn value(self, v: i64) -> DynValue {
        match self {
            ValueKind::Datetime => DynValue::Datetime(v),
            ValueKind::Timespan => DynValue::Timespan(v),
            _ => DynValue::Long(v),
        }
    }
}

/// What the aggregate reads: values (of a kind) or digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Input {
    Values(ValueKind),
    Digests,
}

/// Orders two digest values: integers (longs, datetimes, timespans) exactly,
/// anything else as reals.
fn compare(a: &DynValue, b: &DynValue) -> Ordering {
    fn int(v: &DynValue) -> Option<i64> {
        match v {
            DynValue::Long(x) | DynValue::Datetime(x) | DynValue::Timespan(x) => Some(*x),
            _ => None,
        }
    }
    fn real(v: &DynValue) -> f64 {
        match v {
            DynValue::Long(x) | DynValue::Datetime(x) | DynValue::Timespan(x) => *x as f64,
            DynValue::Real(x) => *x,
            _ => f64::NAN,
        }
    }
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => real(a).total_cmp(&real(b)),
    }
}

/// The exact digest: values with their weights.
#[derive(Debug, Default)]
struct Digest {
    points: Vec<(DynValue, u64)>,
    /// Whether `points` is sorted with equal values merged.
    compact: bool,
}

impl Digest {
    fn add(&mut self, value: DynValue, weight: u64) {
        self.points.push((value, weight));
        self.compact = false;
    }

    /// Adds every point of an encoded digest; anything else is ignored, as
    /// a function over a malformed digest gives null rather than failing.
    fn add_encoded(&mut self, bytes: &[u8]) {
        let d = DynRef::new(bytes);
        let (Some(tag), Some(values), Some(weights)) = (d.index(0), d.index(1), d.index(2)) else { return };
        if tag.as_str() != Some(DIGEST_TAG) || values.kind() != DynKind::Array {
            return;
        }
        for (value, weight) in values.array_items().zip(weights.array_items()) {
            if let Some(w) = weight.as_long().filter(|w| *w > 0) {
                self.add(value.to_value(), w as u64);
            }
        }
    }

    fn compact(&mut self) {
        if self.compact {
            return;
        }
        self.points.sort_by(|a, b| compare(&a.0, &b.0));
        let mut merged: Vec<(DynValue, u64)> = Vec::with_capacity(self.points.len());
        for (value, weight) in self.points.drain(..) {
            match merged.last_mut() {
                Some(last) if compare(&last.0, &value) == Ordering::Equal && last.0 == value => last.1 += weight,
                _ => merged.push((value, weight)),
            }
        }
        self.points = merged;
        self.compact = true;
    }

    fn total(&self) -> u64 {
        self.points.iter().map(|(_, w)| w).sum()
    }

    /// The encoded digest, or `None` when it is empty (Kusto's null).
    fn encode(&mut self) -> Option<Vec<u8>> {
        self.compact();
        if self.points.is_empty() {
            return None;
        }
        let values = self.points.iter().map(|(v, _)| v.clone()).collect();
        let weights = self.points.iter().map(|(_, w)| DynValue::Long(*w as i64)).collect();
        Some(
            DynValue::Array(vec![
                DynValue::String(DIGEST_TAG.into()),
                DynValue::Array(values),
                DynValue::Array(weights),
            ])
            .encode(),
        )
    }

    /// The nearest-rank `p`th percentile (as `percentile()` computes it).
    fn percentile(&mut self, p: f64) -> Option<DynValue> {
        self.compact();
        if self.points.is_empty() || p.is_nan() {
            return None;
        }
        let target = p.clamp(0.0, 100.0) * self.total() as f64 / 100.0;
        let mut cumulative = 0u64;
        for (value, weight) in &self.points {
            cumulative += weight;
            if cumulative as f64 >= target - 1e-9 {
                return Some(value.clone());
            }
        }
        self.points.last().map(|(v, _)| v.clone())
    }

    /// The total weight of values at most `value`.
    fn rank(&mut self, value: &DynValue) -> Option<u64> {
        self.compact();
        if self.points.is_empty() {
            return None;
        }
        Some(self.points.iter().take_while(|(v, _)| compare(v, value) != Ordering::Greater).map(|(_, w)| w).sum())
    }
}

/// A digest read from one encoded value.
fn decode(bytes: &[u8]) -> Digest {
    let mut d = Digest::default();
    d.add_encoded(bytes);
    d
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DigestUdaf {
    name: String,
    input: Input,
    weighted: bool,
    signature: Signature,
}

impl DigestUdaf {
    fn new(input: Input, weighted: bool) -> Self {
        let name = match input {
            Input::Values(kind) => format!("kql_tdigest_{kind:?}{}", if weighted { "_weighted" } else { "" }),
            Input::Digests => "kql_merge_tdigest".to_string(),
        };
        DigestUdaf { name, input, weighted, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for DigestUdaf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DigestAccumulator { input: self.input, digest: Digest::default() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_digest", args.name), DataType::Binary, true))])
    }
}

#[derive(Debug)]
struct DigestAccumulator {
    input: Input,
    digest: Digest,
}

impl Accumulator for DigestAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let input = &values[0];
        let weights = values.get(1).map(|w| as_int64_array(w)).transpose()?;
        let weight = |i: usize| match weights {
            None => Some(1u64),
            Some(w) if w.is_null(i) || w.value(i) <= 0 => None,
            Some(w) => Some(w.value(i) as u64),
        };
        match self.input {
            Input::Digests => {
                let input = as_binary_array(input)?;
                for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
                    self.digest.add_encoded(input.value(i));
                }
            }
            Input::Values(ValueKind::Real) => {
                let input = as_float64_array(input)?;
                for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
                    if let Some(w) = weight(i).filter(|_| !input.value(i).is_nan()) {
                        self.digest.add(DynValue::Real(input.value(i)), w);
                    }
                }
            }
            Input::Values(kind) => {
                let input = as_int64_array(input)?;
                for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
                    if let Some(w) = weight(i) {
                        self.digest.add(kind.value(input.value(i)), w);
                    }
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(self.digest.encode()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.digest.points.capacity() * 48
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(self.digest.encode())])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&states[0])?;
        for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
            self.digest.add_encoded(input.value(i));
        }
        Ok(())
    }
}

/// Builds a dynamic column from one optional value per row.
fn dynamic_column(args: &[ColumnarValue], values: impl Iterator<Item = Option<Vec<u8>>>) -> Result<ColumnarValue> {
    let mut out = BinaryBuilder::new();
    for v in values {
        match v {
            Some(bytes) => out.append_value(bytes),
            None => out.append_null(),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn merge_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let digests = arrays.iter().map(|a| as_binary_array(a)).collect::<Result<Vec<_>>>()?;
    dynamic_column(
        args,
        (0..n).map(|row| {
            let mut d = Digest::default();
            for digest in digests.iter().filter(|d| d.is_valid(row)) {
                d.add_encoded(digest.value(row));
            }
            d.encode()
        }),
    )
}

fn percentile_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (digests, ps) = (as_binary_array(&arrays[0])?, as_float64_array(&arrays[1])?);
    dynamic_column(
        args,
        (0..n).map(|row| {
            if digests.is_null(row) || ps.is_null(row) {
                return None;
            }
            decode(digests.value(row)).percentile(ps.value(row)).map(|v| v.encode())
        }),
    )
}

/// `percentiles_array_tdigest(digest, p1, p2, …)` or `(digest, dynamic([p1, …]))`.
fn percentiles_array_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let digests = as_binary_array(&arrays[0])?;
    dynamic_column(
        args,
        (0..n).map(|row| {
            if digests.is_null(row) {
                return None;
            }
            let mut ps = Vec::new();
            for a in &arrays[1..] {
                if a.is_null(row) {
                    return None;
                }
                if let Ok(reals) = as_float64_array(a) {
                    ps.push(reals.value(row));
                } else if let Ok(dynamic) = as_binary_array(a) {
                    let d = DynRef::new(dynamic.value(row));
                    if d.kind() == DynKind::Array {
                        ps.extend(d.array_items().map(|p| p.as_real().unwrap_or(f64::NAN)));
                    } else {
                        ps.push(d.as_real().unwrap_or(f64::NAN));
                    }
                }
            }
            let mut digest = decode(digests.value(row));
            let picked = ps.into_iter().map(|p| digest.percentile(p)).collect::<Option<Vec<_>>>()?;
            Some(DynValue::Array(picked).encode())
        }),
    )
}

fn rank_with(args: &[ColumnarValue], rows: usize, percent: bool) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (digests, values) = (as_binary_array(&arrays[0])?, as_binary_array(&arrays[1])?);
    let out: Float64Array = (0..n)
        .map(|row| {
            if digests.is_null(row) || values.is_null(row) {
                return None;
            }
            let value = DynRef::new(values.value(row)).to_value();
            if !matches!(value, DynValue::Long(_) | DynValue::Real(_) | DynValue::Datetime(_) | DynValue::Timespan(_)) {
                return None;
            }
            let mut digest = decode(digests.value(row));
            let rank = digest.rank(&value)?;
            Some(if percent { rank as f64 * 100.0 / digest.total() as f64 } else { rank as f64 })
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

fn rank_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    rank_with(args, rows, false)
}

fn percentrank_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    rank_with(args, rows, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(values: &[i64]) -> Digest {
        let mut d = Digest::default();
        values.iter().for_each(|v| d.add(DynValue::Long(*v), 1));
        d
    }

    #[test]
    fn percentiles_are_nearest_rank_over_the_values_seen() {
        let mut d = digest_of(&[5, 1, 3, 2, 4, 3]);
        assert_eq!(d.percentile(0.0), Some(DynValue::Long(1)));
        assert_eq!(d.percentile(50.0), Some(DynValue::Long(3)));
        assert_eq!(d.percentile(100.0), Some(DynValue::Long(5)));
        assert_eq!(d.rank(&DynValue::Long(3)), Some(4));
    }

    #[test]
    fn a_digest_survives_encoding_and_merging() {
        let mut a = digest_of(&[1, 2, 3]);
        let mut b = digest_of(&[3, 10]);
        let mut merged = Digest::default();
        merged.add_encoded(&a.encode().unwrap());
        merged.add_encoded(&b.encode().unwrap());
        assert_eq!(merged.total(), 5);
        assert_eq!(merged.percentile(100.0), Some(DynValue::Long(10)));
        assert_eq!(merged.percentile(60.0), Some(DynValue::Long(3)));
        assert!(Digest::default().encode().is_none());
    }
}
