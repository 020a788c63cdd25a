//! Aggregation functions for `summarize`.
//!
//! The estimating aggregates are exact here: `dcount` counts exactly,
//! `percentile` ranks exactly and `hll` keeps the set of distinct values.
//! Kusto's estimates are exact for small inputs and within a documented
//! error bound above them, and an exact answer is within that bound too.
//! `make_set`/`make_list` keep first-seen order.

use super::collect::{add_value, merge_partial, Collect, CollectedItems, GroupedItems, Items as _};
use super::{coerce, expect_one_of, CallError, CallResult, Registry};
use crate::convert::{to_dynamic, Bound};
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::types::{KqlType, NANOS_PER_TICK};
use crate::udf;
use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, Int64Array, Int64Builder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions::expr_fn::{coalesce, nullif};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::expr::NullTreatment;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    cast, lit, when, Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, Expr, ExprFunctionExt, GroupsAccumulator,
    Signature, Volatility,
};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.aggregate("count", 0, 1, "count", |_, a| {
        let e = match a.first() {
            Some(b) => b.expr.clone(),
            None => lit(1i64),
        };
        Ok(Bound::new(agg::count(e), KqlType::Long))
    });
    r.aggregate("countif", 1, 1, "countif", |_, mut a| {
        let p = coerce("countif", 0, a.swap_remove(0), KqlType::Bool)?;
        let one = when(p.expr, lit(1i64)).otherwise(lit(0i64))?;
        Ok(Bound::new(coalesce(vec![agg::sum(one), lit(0i64)]), KqlType::Long))
    });
    r.aggregate("sum", 1, 1, "sum", |_, a| sum("sum", a.into_iter().next().expect("one arg"), None));
    r.aggregate("sumif", 2, 2, "sumif", |_, mut a| {
        let p = coerce("sumif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        sum("sumif", a.pop().expect("two args"), Some(p))
    });
    r.aggregate("avg", 1, 1, "avg", |_, a| avg("avg", a.into_iter().next().expect("one arg"), None));
    r.aggregate("avgif", 2, 2, "avgif", |_, mut a| {
        let p = coerce("avgif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        avg("avgif", a.pop().expect("two args"), Some(p))
    });
    r.aggregate("min", 1, 1, "min", |_, a| extreme(a, false, None));
    r.aggregate("max", 1, 1, "max", |_, a| extreme(a, true, None));
    r.aggregate("minif", 2, 2, "minif", |_, mut a| {
        let p = coerce("minif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        extreme(a, false, Some(p))
    });
    r.aggregate("maxif", 2, 2, "maxif", |_, mut a| {
        let p = coerce("maxif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        extreme(a, true, Some(p))
    });
    r.aggregate("dcount", 1, 2, "dcount", |_, a| Ok(Bound::new(distinct_count(&a[0], None), KqlType::Long)));
    r.aggregate("dcountif", 2, 3, "dcountif", |_, a| {
        let p = coerce("dcountif", 1, a[1].clone(), KqlType::Bool)?;
        Ok(Bound::new(distinct_count(&a[0], Some(p)), KqlType::Long))
    });
    r.aggregate("count_distinct", 1, 1, "count_distinct", |_, a| count_distinct("count_distinct", &a[0], None));
    r.aggregate("count_distinctif", 2, 2, "count_distinctif", |_, a| {
        let p = coerce("count_distinctif", 1, a[1].clone(), KqlType::Bool)?;
        count_distinct("count_distinctif", &a[0], Some(p))
    });
    r.aggregate("stdev", 1, 1, "stdev", |_, a| spread("stdev", a, Spread::Stdev, None));
    r.aggregate("stdevp", 1, 1, "stdevp", |_, a| spread("stdevp", a, Spread::StdevP, None));
    r.aggregate("variance", 1, 1, "variance", |_, a| spread("variance", a, Spread::Variance, None));
    r.aggregate("variancep", 1, 1, "variancep", |_, a| spread("variancep", a, Spread::VarianceP, None));
    r.aggregate("stdevif", 2, 2, "stdevif", |_, mut a| {
        let p = coerce("stdevif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        spread("stdevif", a, Spread::Stdev, Some(p))
    });
    r.aggregate("varianceif", 2, 2, "varianceif", |_, mut a| {
        let p = coerce("varianceif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        spread("varianceif", a, Spread::Variance, Some(p))
    });
    r.aggregate("covariance", 2, 2, "covariance", |_, a| covariance("covariance", a, true, None));
    r.aggregate("covariancep", 2, 2, "covariancep", |_, a| covariance("covariancep", a, false, None));
    r.aggregate("covarianceif", 3, 3, "covarianceif", |_, mut a| {
        let p = coerce("covarianceif", 2, a.pop().expect("three args"), KqlType::Bool)?;
        covariance("covarianceif", a, true, Some(p))
    });
    r.aggregate("percentile", 2, 2, "percentile", |_, a| percentiles("percentile", a, false, Shape::Single));
    r.aggregate("percentiles", 2, usize::MAX, "percentile", |_, a| percentiles("percentiles", a, false, Shape::Single));
    r.aggregate("percentiles_array", 2, usize::MAX, "percentiles", |_, a| {
        percentiles("percentiles_array", a, false, Shape::Array)
    });
    r.aggregate("percentilew", 3, 3, "percentile", |_, a| percentiles("percentilew", a, true, Shape::Single));
    r.aggregate("percentilesw", 3, usize::MAX, "percentile", |_, a| {
        percentiles("percentilesw", a, true, Shape::Single)
    });
    // The docs' example names it `percentile_x` (Kusto.Language says `percentiles_x`).
    r.aggregate("percentilesw_array", 3, usize::MAX, "percentile", |_, a| {
        percentiles("percentilesw_array", a, true, Shape::Array)
    });
    r.aggregate("make_set", 1, 2, "set", |_, a| collect(a, Collect::Set, None));
    r.aggregate("makeset", 1, 2, "set", |_, a| collect(a, Collect::Set, None));
    r.aggregate("make_list", 1, 2, "list", |_, a| collect(a, Collect::List, None));
    r.aggregate("makelist", 1, 2, "list", |_, a| collect(a, Collect::List, None));
    r.aggregate("make_list_with_nulls", 1, 2, "list", |_, a| collect(a, Collect::ListWithNulls, None));
    r.aggregate("make_bag", 1, 2, "bag", |_, a| collect(a, Collect::Bag, None));
    r.aggregate("make_set_if", 2, 3, "set", |_, mut a| {
        let p = coerce("make_set_if", 1, a.remove(1), KqlType::Bool)?;
        collect(a, Collect::Set, Some(p))
    });
    r.aggregate("make_list_if", 2, 3, "list", |_, mut a| {
        let p = coerce("make_list_if", 1, a.remove(1), KqlType::Bool)?;
        collect(a, Collect::List, Some(p))
    });
    r.aggregate("make_bag_if", 2, 3, "bag", |_, mut a| {
        let p = coerce("make_bag_if", 1, a.remove(1), KqlType::Bool)?;
        collect(a, Collect::Bag, Some(p))
    });
    r.aggregate("take_any", 1, 1, "any", |_, a| take_any(a, None));
    r.aggregate("any", 1, 1, "any", |_, a| take_any(a, None));
    r.aggregate("take_anyif", 2, 2, "any", |_, mut a| {
        let p = coerce("take_anyif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        take_any(a, Some(p))
    });
    r.aggregate("anyif", 2, 2, "anyif", |_, mut a| {
        let p = coerce("anyif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        take_any(a, Some(p))
    });
    r.aggregate("hll", 1, 2, "hll", |_, a| hll(a, None));
    r.aggregate("hll_if", 2, 3, "hll_if", |_, mut a| {
        let p = coerce("hll_if", 1, a.remove(1), KqlType::Bool)?;
        hll(a, Some(p))
    });
    r.aggregate("hll_merge", 1, 1, "hll_merge", |_, a| {
        let sketch = coerce("hll_merge", 0, a.into_iter().next().expect("one arg"), KqlType::Dynamic)?;
        Ok(Bound::new(collect_udaf(Collect::Set, sketch.expr, lit(ScalarValue::Int64(None))), KqlType::Dynamic))
    });
    r.scalar("hll_merge", 2, usize::MAX, |_, a| {
        // The scalar form: sketches are exact sets here, so merging is a union.
        let args = a.into_iter().enumerate().map(|(i, b)| coerce("hll_merge", i, b, KqlType::Dynamic).map(|b| b.expr));
        let args = args.collect::<Result<Vec<_>, _>>()?;
        Ok(Bound::new(
            udf::call("kql_hll_merge", DataType::Binary, super::dynamic::set_union_kernel, args),
            KqlType::Dynamic,
        ))
    });
    r.scalar("dcount_hll", 1, 1, |_, a| {
        let sketch = coerce("dcount_hll", 0, a.into_iter().next().expect("one arg"), KqlType::Dynamic)?;
        let len = udf::call("kql_dcount_hll", DataType::Int64, super::dynamic::array_length_kernel, vec![sketch.expr]);
        Ok(Bound::new(coalesce(vec![len, lit(0i64)]), KqlType::Long))
    });
}

fn only_if(value: Expr, predicate: Bound) -> Expr {
    when(predicate.expr, value).otherwise(lit(ScalarValue::Null)).expect("well-formed case")
}

/// `sum`: Kusto's default for a group without values is 0, not null.
fn sum(name: &str, value: Bound, predicate: Option<Bound>) -> CallResult<Bound> {
    use KqlType::*;
    expect_one_of(name, 0, &value, &[Int, Long, Real, Decimal, Timespan, Datetime])?;
    let ty = if value.ty == Int { Long } else { value.ty };
    let e = cast(value.expr, ty.arrow());
    let total = agg::sum(filtered(e, predicate));
    let total = match ty {
        Long | Timespan => coalesce(vec![total, lit(0i64)]),
        Real | Decimal => coalesce(vec![total, lit(0f64)]),
        _ => total,
    };
    Ok(Bound::new(total, ty))
}

/// `avg`: a real (NaN without values, as Kusto's sum/count gives); the
/// average of datetimes or timespans keeps the type, computed exactly.
fn avg(name: &str, value: Bound, predicate: Option<Bound>) -> CallResult<Bound> {
    use KqlType::*;
    expect_one_of(name, 0, &value, &[Int, Long, Real, Decimal, Timespan, Datetime])?;
    Ok(match value.ty {
        Datetime | Timespan => {
            let exact = cast(value.expr, DataType::Decimal128(38, 0));
            Bound::new(cast(agg::avg(filtered(exact, predicate)), DataType::Int64), value.ty)
        }
        ty => {
            let mean = agg::avg(filtered(cast(value.expr, DataType::Float64), predicate));
            let ty = if ty == Decimal { Decimal } else { Real };
            Bound::new(if ty == Real { coalesce(vec![mean, lit(f64::NAN)]) } else { mean }, ty)
        }
    })
}

fn filtered(value: Expr, predicate: Option<Bound>) -> Expr {
    match predicate {
        Some(p) => only_if(value, p),
        None => value,
    }
}

/// `count_distinct`: exact, like `dcount` here; Kusto rejects dynamic.
fn count_distinct(name: &str, value: &Bound, predicate: Option<Bound>) -> CallResult<Bound> {
    if value.ty == KqlType::Dynamic {
        return Err(CallError::DynamicArgument { function: name.to_string(), position: 1 });
    }
    Ok(Bound::new(distinct_count(value, predicate), KqlType::Long))
}

/// The exact number of distinct non-null values (0 for none).
fn distinct_count(value: &Bound, predicate: Option<Bound>) -> Expr {
    let key = filtered(to_dynamic(value.clone()).expr, predicate);
    coalesce(vec![collect_udaf(Collect::Distinct, key, lit(i64::MAX)), lit(0i64)])
}

#[derive(Clone, Copy, PartialEq)]
enum Spread {
    Stdev,
    StdevP,
    Variance,
    VarianceP,
}

/// A numeric argument of the statistics aggregates as a real: timespans and
/// datetimes count in ticks (100ns), Kusto's unit for them.
fn statistic_input(name: &str, index: usize, value: Bound) -> CallResult<Expr> {
    use KqlType::*;
    expect_one_of(name, index, &value, &[Int, Long, Real, Decimal, Timespan, Datetime])?;
    let real = cast(value.expr, DataType::Float64);
    Ok(if matches!(value.ty, Timespan | Datetime) { real / lit(NANOS_PER_TICK as f64) } else { real })
}

/// `stdev`, `variance` (sample) and their population forms. The sample
/// forms are 0 for a group of fewer than two values, Kusto's default.
fn spread(name: &str, a: Vec<Bound>, kind: Spread, predicate: Option<Bound>) -> CallResult<Bound> {
    let value = filtered(statistic_input(name, 0, a.into_iter().next().expect("one arg"))?, predicate);
    let e = match kind {
        Spread::Stdev => coalesce(vec![agg::stddev(value), lit(0f64)]),
        Spread::Variance => coalesce(vec![agg::var_sample(value), lit(0f64)]),
        Spread::StdevP => agg::stddev_pop(value),
        Spread::VarianceP => agg::var_pop(value),
    };
    Ok(Bound::new(e, KqlType::Real))
}

/// `covariance(x, y)` (sample) and `covariancep(x, y)` (population).
fn covariance(name: &str, a: Vec<Bound>, sample: bool, predicate: Option<Bound>) -> CallResult<Bound> {
    let mut a = a.into_iter();
    let x = statistic_input(name, 0, a.next().expect("two args"))?;
    let y = statistic_input(name, 1, a.next().expect("two args"))?;
    let (x, y) = match predicate {
        Some(p) => (only_if(x, p.clone()), only_if(y, p)),
        None => (x, y),
    };
    Ok(Bound::new(if sample { agg::covar_samp(y, x) } else { agg::covar_pop(y, x) }, KqlType::Real))
}

/// `take_any`/`take_anyif`: prefers a non-null (for strings, non-empty)
/// value, as Kusto's does.
fn take_any(a: Vec<Bound>, predicate: Option<Bound>) -> CallResult<Bound> {
    let value = a.into_iter().next().expect("one arg");
    let e = match value.ty {
        KqlType::String => nullif(value.expr, lit("")),
        _ => value.expr,
    };
    let e = first_value_udaf().call(vec![filtered(e, predicate)]).null_treatment(NullTreatment::IgnoreNulls).build()?;
    Ok(Bound::new(e, value.ty))
}

/// `hll(x)`: the sketch is the exact set of distinct values (a dynamic
/// array), so `hll_merge` is a union and `dcount_hll` its length — exact,
/// hence within Kusto's error bound. The accuracy argument is accepted.
fn hll(a: Vec<Bound>, predicate: Option<Bound>) -> CallResult<Bound> {
    let value = to_dynamic(a.into_iter().next().expect("one arg"));
    let udaf = collect_udaf(Collect::Hll, filtered(value.expr, predicate), lit(ScalarValue::Int64(None)));
    Ok(Bound::new(udaf, KqlType::Dynamic))
}

fn extreme(a: Vec<Bound>, is_max: bool, predicate: Option<Bound>) -> CallResult<Bound> {
    let value = a.into_iter().next().expect("one arg");
    if value.ty == KqlType::Dynamic {
        return Err(CallError::CannotOrderDynamic { function: if is_max { "max" } else { "min" }.to_string() });
    }
    let e = match predicate {
        Some(p) => only_if(value.expr, p),
        None => value.expr,
    };
    Ok(Bound::new(if is_max { agg::max(e) } else { agg::min(e) }, value.ty))
}

/// Kusto's default cap on `make_set`/`make_list` sizes.
const DEFAULT_MAX_SIZE: i64 = 1_048_576;

fn collect(args: Vec<Bound>, kind: Collect, predicate: Option<Bound>) -> CallResult<Bound> {
    let mut args = args.into_iter();
    let value = to_dynamic(args.next().expect("one arg"));
    let limit = match args.next() {
        Some(l) => coerce("make_set", 1, l, KqlType::Long)?.expr,
        None => lit(DEFAULT_MAX_SIZE),
    };
    Ok(Bound::new(collect_udaf(kind, filtered(value.expr, predicate), limit), KqlType::Dynamic))
}

fn collect_udaf(kind: Collect, value: Expr, limit: Expr) -> Expr {
    AggregateUDF::new_from_impl(CollectUdaf::new(kind)).call(vec![value, limit])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct CollectUdaf {
    kind: Collect,
    signature: Signature,
}

impl CollectUdaf {
    fn new(kind: Collect) -> Self {
        CollectUdaf { kind, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for CollectUdaf {
    fn name(&self) -> &str {
        match self.kind {
            Collect::Set => "kql_make_set",
            Collect::List => "kql_make_list",
            Collect::ListWithNulls => "kql_make_list_with_nulls",
            Collect::Bag => "kql_make_bag",
            Collect::Hll => "kql_hll",
            Collect::Distinct => "kql_dcount",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.kind == Collect::Distinct { DataType::Int64 } else { DataType::Binary })
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CollectAccumulator::new(self.kind)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(CollectGroups { kind: self.kind, groups: GroupedItems::default() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}_items", args.name), DataType::Binary, true)),
            Arc::new(Field::new(format!("{}_limit", args.name), DataType::Int64, true)),
        ])
    }
}

/// One collection, for DataFusion's per-group path.
#[derive(Debug)]
struct CollectAccumulator {
    kind: Collect,
    /// Encoded values (bag entries for `make_bag`) in first-seen order.
    items: CollectedItems,
    limit: Option<usize>,
}

impl CollectAccumulator {
    fn new(kind: Collect) -> Self {
        CollectAccumulator { kind, items: CollectedItems::default(), limit: None }
    }

    /// Adds row `row` of an input batch (a null counts only in
    /// `make_list_with_nulls`).
    fn add_row(&mut self, input: &BinaryArray, row: usize) -> Result<()> {
        let value = (!input.is_null(row)).then(|| DynRef::new(input.value(row)));
        add_value(self.kind, &mut self.items, self.limit, value)
    }

    /// Kusto's `hll()` of no values is null.
    fn evaluates_to_null(&self) -> bool {
        self.kind == Collect::Hll && self.items.is_empty()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.items.encode_into(self.kind.entries(), &mut out);
        out
    }
}

/// A limit as the state carries it.
fn limit_state(limit: Option<usize>) -> Option<i64> {
    limit.map(|l| l.min(i64::MAX as usize) as i64)
}

/// A limit read from a state.
fn limit_of_state(limits: &Int64Array, row: usize) -> Option<usize> {
    (!limits.is_null(row)).then(|| limits.value(row).max(0) as usize)
}

impl Accumulator for CollectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&values[0])?;
        if self.limit.is_none() {
            self.limit = batch_limit(values)?;
        }
        for i in 0..input.len() {
            self.add_row(input, i)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.kind == Collect::Distinct {
            return Ok(ScalarValue::Int64(Some(self.items.len() as i64)));
        }
        if self.evaluates_to_null() {
            return Ok(ScalarValue::Binary(None));
        }
        Ok(ScalarValue::Binary(Some(self.encode())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.items.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.encode())), ScalarValue::Int64(limit_state(self.limit))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&states[0])?;
        let limits = as_int64_array(&states[1])?;
        for i in 0..input.len() {
            if self.limit.is_none() {
                self.limit = limit_of_state(limits, i);
            }
            if !input.is_null(i) {
                merge_partial(self.kind, &mut self.items, self.limit, DynRef::new(input.value(i)))?;
            }
        }
        Ok(())
    }
}

/// The same collection for every group at once ([`GroupedItems`]):
/// DataFusion's per-group `Accumulator` path slices the input for each
/// group of each batch, which is slow and memory-hungry with many groups.
struct CollectGroups {
    kind: Collect,
    groups: GroupedItems,
}

/// The size limit of a batch's collect arguments (the second, a constant).
fn batch_limit(values: &[ArrayRef]) -> Result<Option<usize>> {
    Ok(match values.get(1) {
        Some(limits) => {
            let limits = as_int64_array(limits)?;
            (!limits.is_empty() && !limits.is_null(0)).then(|| limits.value(0).max(0) as usize)
        }
        None => None,
    })
}

/// Whether DataFusion's filter leaves row `row` out.
fn filtered_out(opt_filter: Option<&BooleanArray>, row: usize) -> bool {
    opt_filter.is_some_and(|f| !f.value(row) || f.is_null(row))
}

impl CollectGroups {
    /// The groups `emit_to` asks for, in order; the others stay, renumbered
    /// from 0 as DataFusion expects.
    fn emit(&mut self, emit_to: EmitTo, mut each: impl FnMut(&GroupedItems, usize)) {
        let n = match emit_to {
            EmitTo::All => self.groups.num_groups(),
            EmitTo::First(n) => n.min(self.groups.num_groups()),
        };
        for group in 0..n {
            each(&self.groups, group);
        }
        match emit_to {
            EmitTo::All => self.groups.clear(),
            EmitTo::First(n) => self.groups.drop_first(n),
        }
    }
}

impl GroupsAccumulator for CollectGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.grow(total_num_groups);
        let input = as_binary_array(&values[0])?;
        let limit = batch_limit(values)?;
        for (row, &group) in group_indices.iter().enumerate() {
            if filtered_out(opt_filter, row) {
                continue;
            }
            self.groups.set_limit_once(group, limit);
            let limit = self.groups.limit(group);
            let value = (!input.is_null(row)).then(|| DynRef::new(input.value(row)));
            add_value(self.kind, &mut self.groups.view(group), limit, value)?;
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let kind = self.kind;
        if kind == Collect::Distinct {
            let mut counts = Int64Builder::new();
            self.emit(emit_to, |groups, g| counts.append_value(groups.len(g) as i64));
            return Ok(Arc::new(counts.finish()));
        }
        let mut out = BinaryBuilder::new();
        let mut scratch = Vec::new();
        self.emit(emit_to, |groups, g| {
            // Kusto's `hll()` of no values is null.
            if kind == Collect::Hll && groups.len(g) == 0 {
                out.append_null();
                return;
            }
            scratch.clear();
            groups.encode_into(g, kind.entries(), &mut scratch);
            out.append_value(&scratch);
        });
        Ok(Arc::new(out.finish()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let kind = self.kind;
        let mut items = BinaryBuilder::new();
        let mut limits = Int64Builder::new();
        let mut scratch = Vec::new();
        self.emit(emit_to, |groups, g| {
            scratch.clear();
            groups.encode_into(g, kind.entries(), &mut scratch);
            items.append_value(&scratch);
            limits.append_option(limit_state(groups.limit(g)));
        });
        Ok(vec![Arc::new(items.finish()), Arc::new(limits.finish())])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.groups.grow(total_num_groups);
        let input = as_binary_array(&values[0])?;
        let limits = as_int64_array(&values[1])?;
        for (row, &group) in group_indices.iter().enumerate() {
            self.groups.set_limit_once(group, limit_of_state(limits, row));
            if !input.is_null(row) {
                let limit = self.groups.limit(group);
                merge_partial(self.kind, &mut self.groups.view(group), limit, DynRef::new(input.value(row)))?;
            }
        }
        Ok(())
    }

    /// Each input row as its own partial state (used when DataFusion skips
    /// partial aggregation for high-cardinality groups): what `update_batch`
    /// of a fresh group per row and then `state` give, through one reused
    /// accumulator.
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let input = as_binary_array(&values[0])?;
        let limit = batch_limit(values)?;
        let rows = input.len();
        let mut items = BinaryBuilder::with_capacity(rows, input.values().len() + rows * 8);
        let mut limits = Int64Builder::with_capacity(rows);
        let mut scratch = CollectAccumulator::new(self.kind);
        let mut encoded = Vec::new();
        for row in 0..rows {
            scratch.items.clear();
            scratch.limit = None;
            if !filtered_out(opt_filter, row) {
                scratch.limit = limit;
                scratch.add_row(input, row)?;
            }
            encoded.clear();
            scratch.items.encode_into(self.kind.entries(), &mut encoded);
            items.append_value(&encoded);
            limits.append_option(limit_state(scratch.limit));
        }
        Ok(vec![Arc::new(items.finish()), Arc::new(limits.finish())])
    }

    fn size(&self) -> usize {
        self.groups.heap_size()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// One column per percentile; only one percentile fits one expression.
    Single,
    /// `percentiles_array`: a dynamic array of the percentiles.
    Array,
}

/// `percentile(s)[w][_array]`: Kusto's nearest-rank percentile, computed
/// exactly (Kusto estimates with a t-digest; the exact value is within its
/// error bound). `percentiles(x, p1, p2, …)` makes one column per
/// percentile, which one bound expression cannot, so it takes a single one.
fn percentiles(name: &str, a: Vec<Bound>, weighted: bool, shape: Shape) -> CallResult<Bound> {
    use KqlType::*;
    let mut a = a.into_iter();
    let value = a.next().expect("value");
    let weight = match weighted {
        true => Some(coerce(name, 1, a.next().expect("weight"), Long)?.expr),
        false => None,
    };
    let first = if weighted { 2 } else { 1 };
    let mut ps = Vec::new();
    for (i, p) in a.enumerate() {
        let constant = constant(&p.expr);
        match (p.ty, constant) {
            (Dynamic, Some(ScalarValue::Binary(Some(bytes)))) if shape == Shape::Array => {
                let d = DynRef::new(&bytes);
                if d.kind() != DynKind::Array {
                    return Err(CallError::InvalidLiteral {
                        function: name.to_string(),
                        position: first + i + 1,
                        expected: "an array of numbers",
                    });
                }
                for item in d.array_items() {
                    ps.push(
                        item.as_real().ok_or_else(|| CallError::invalid(name, "every percentile must be a number"))?,
                    );
                }
            }
            (Int | Long | Real | Decimal, Some(v)) => match v.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(f))) => ps.push(f),
                _ => return Err(CallError::not_constant(name, first + i, "a constant number")),
            },
            _ => return Err(CallError::not_constant(name, first + i, "a constant number")),
        }
    }
    if shape == Shape::Single && ps.len() != 1 {
        return Err(CallError::SeveralPercentiles { function: name.to_string() });
    }
    let (input, physical, result) = match value.ty {
        Int | Long => (cast(value.expr, DataType::Int64), DataType::Int64, Long),
        Datetime | Timespan => (value.expr, DataType::Int64, value.ty),
        Bool => (cast(value.expr, DataType::Int64), DataType::Int64, Bool),
        Real | Decimal => (cast(value.expr, DataType::Float64), DataType::Float64, Real),
        String | Guid => (value.expr, DataType::Utf8, value.ty),
        Dynamic => return Err(CallError::CannotOrderDynamic { function: name.to_string() }),
    };
    let udaf = PercentileUdaf {
        // The percentiles are not arguments, so they must tell calls apart.
        name: format!(
            "kql_percentile{}_{}",
            if shape == Shape::Array { "s_array" } else { "" },
            ps.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("_")
        ),
        percentiles: ps.iter().map(|p| p.to_bits()).collect(),
        ty: result,
        physical,
        array: shape == Shape::Array,
        signature: Signature::user_defined(Volatility::Immutable),
    };
    let mut args = vec![input];
    args.extend(weight);
    let call = AggregateUDF::new_from_impl(udaf).call(args);
    Ok(match shape {
        Shape::Array => Bound::new(call, Dynamic),
        Shape::Single if result == Bool => Bound::new(cast(call, DataType::Boolean), Bool),
        Shape::Single => Bound::new(call, result),
    })
}

/// The value of a constant expression (a literal, possibly cast or negated).
fn constant(e: &Expr) -> Option<ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v.clone()),
        Expr::Cast(c) => constant(&c.expr)?.cast_to(c.field.data_type()).ok(),
        Expr::Negative(inner) => constant(inner)?.arithmetic_negate().ok(),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PercentileUdaf {
    name: std::string::String,
    /// The percentiles' bits (f64 is neither `Eq` nor `Hash`).
    percentiles: Vec<u64>,
    /// The KQL type of the result values.
    ty: KqlType,
    /// Int64, Float64 or Utf8.
    physical: DataType,
    array: bool,
    signature: Signature,
}

impl AggregateUDFImpl for PercentileUdaf {
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
        Ok(if self.array { DataType::Binary } else { self.physical.clone() })
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let values = match self.physical {
            DataType::Int64 => Values::Long(Vec::new()),
            DataType::Float64 => Values::Real(Vec::new()),
            _ => Values::Text(Vec::new()),
        };
        let percentiles = self.percentiles.iter().map(|b| f64::from_bits(*b)).collect();
        Ok(Box::new(PercentileAccumulator { values, percentiles, ty: self.ty, array: self.array }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_values", args.name), DataType::Binary, true))])
    }
}

/// The values seen with their weights.
#[derive(Debug)]
enum Values {
    Long(Vec<(i64, u64)>),
    Real(Vec<(f64, u64)>),
    Text(Vec<(String, u64)>),
}

#[derive(Debug)]
struct PercentileAccumulator {
    values: Values,
    percentiles: Vec<f64>,
    ty: KqlType,
    array: bool,
}

/// The index of the nearest-rank `p`th percentile among weights sorted by
/// value: the first whose cumulative weight reaches `p`% of the total.
fn nearest_rank(weights: &[u64], p: f64) -> usize {
    let total: u64 = weights.iter().sum();
    let target = p.clamp(0.0, 100.0) * total as f64 / 100.0;
    let mut cumulative = 0u64;
    for (i, w) in weights.iter().enumerate() {
        cumulative += w;
        if cumulative as f64 >= target - 1e-9 {
            return i;
        }
    }
    weights.len() - 1
}

impl PercentileAccumulator {
    fn dyn_value(&self, v: ScalarValue) -> DynValue {
        match (v, self.ty) {
            (ScalarValue::Int64(Some(v)), KqlType::Datetime) => DynValue::Datetime(v),
            (ScalarValue::Int64(Some(v)), KqlType::Timespan) => DynValue::Timespan(v),
            (ScalarValue::Int64(Some(v)), KqlType::Bool) => DynValue::Bool(v != 0),
            (ScalarValue::Int64(Some(v)), _) => DynValue::Long(v),
            (ScalarValue::Float64(Some(v)), _) => DynValue::Real(v),
            (ScalarValue::Utf8(Some(s)), KqlType::Guid) => DynValue::Guid(s),
            (ScalarValue::Utf8(Some(s)), _) => DynValue::String(s),
            _ => DynValue::Null,
        }
    }
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let weights = values.get(1).map(|w| as_int64_array(w)).transpose()?;
        let input = &values[0];
        let weight = |i: usize| match weights {
            None => Some(1u64),
            Some(w) if w.is_null(i) || w.value(i) <= 0 => None,
            Some(w) => Some(w.value(i) as u64),
        };
        for i in 0..input.len() {
            let Some(w) = weight(i).filter(|_| !input.is_null(i)) else { continue };
            match &mut self.values {
                Values::Long(v) => v.push((as_int64_array(input)?.value(i), w)),
                Values::Real(v) => v.push((as_float64_array(input)?.value(i), w)),
                Values::Text(v) => v.push((as_string_array(input)?.value(i).to_string(), w)),
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let ps = &self.percentiles;
        let picks = |weights: &[u64]| -> Vec<usize> { ps.iter().map(|p| nearest_rank(weights, *p)).collect() };
        let picked: Vec<ScalarValue> = match &mut self.values {
            Values::Long(v) if !v.is_empty() => {
                v.sort_unstable_by_key(|(x, _)| *x);
                let weights: Vec<u64> = v.iter().map(|(_, w)| *w).collect();
                let v = &*v;
                picks(&weights).into_iter().map(|i| ScalarValue::Int64(Some(v[i].0))).collect()
            }
            Values::Real(v) if !v.is_empty() => {
                v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let weights: Vec<u64> = v.iter().map(|(_, w)| *w).collect();
                let v = &*v;
                picks(&weights).into_iter().map(|i| ScalarValue::Float64(Some(v[i].0))).collect()
            }
            Values::Text(v) if !v.is_empty() => {
                v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                let weights: Vec<u64> = v.iter().map(|(_, w)| *w).collect();
                let v = &*v;
                picks(&weights).into_iter().map(|i| ScalarValue::Utf8(Some(v[i].0.clone()))).collect()
            }
            _ => Vec::new(),
        };
        if self.array {
            if picked.is_empty() {
                return Ok(ScalarValue::Binary(None));
            }
            let items = picked.into_iter().map(|v| self.dyn_value(v)).collect();
            return Ok(ScalarValue::Binary(Some(DynValue::Array(items).encode())));
        }
        match picked.into_iter().next() {
            Some(v) => Ok(v),
            None => ScalarValue::try_from(match &self.values {
                Values::Long(_) => DataType::Int64,
                Values::Real(_) => DataType::Float64,
                Values::Text(_) => DataType::Utf8,
            }),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + match &self.values {
                Values::Long(v) => v.capacity() * 16,
                Values::Real(v) => v.capacity() * 16,
                Values::Text(v) => v.iter().map(|(s, _)| s.len() + 32).sum(),
            }
    }

    /// The values as `value weight` pairs: 8-byte little-endian numbers, or
    /// a 4-byte length and the text.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut out = Vec::new();
        match &self.values {
            Values::Long(v) => v.iter().for_each(|(x, w)| {
                out.extend_from_slice(&x.to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }),
            Values::Real(v) => v.iter().for_each(|(x, w)| {
                out.extend_from_slice(&x.to_le_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }),
            Values::Text(v) => v.iter().for_each(|(s, w)| {
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(&w.to_le_bytes());
            }),
        }
        Ok(vec![ScalarValue::Binary(Some(out))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&states[0])?;
        let word = |b: &[u8], at: usize| b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")));
        for i in (0..input.len()).filter(|i| !input.is_null(*i)) {
            let b = input.value(i);
            let mut at = 0;
            while at < b.len() {
                match &mut self.values {
                    Values::Long(v) => {
                        let (Some(x), Some(w)) = (word(b, at), word(b, at + 8)) else { break };
                        v.push((x as i64, w));
                        at += 16;
                    }
                    Values::Real(v) => {
                        let (Some(x), Some(w)) = (word(b, at), word(b, at + 8)) else { break };
                        v.push((f64::from_bits(x), w));
                        at += 16;
                    }
                    Values::Text(v) => {
                        let Some(len) =
                            b.get(at..at + 4).map(|s| u32::from_le_bytes(s.try_into().expect("4")) as usize)
                        else {
                            break;
                        };
                        let (Some(text), Some(w)) = (b.get(at + 4..at + 4 + len), word(b, at + 4 + len)) else { break };
                        v.push((std::string::String::from_utf8_lossy(text).into_owned(), w));
                        at += 12 + len;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `convert_to_state` must equal a fresh group per row, updated and
    /// then asked for its state (what DataFusion assumes when it skips
    /// partial aggregation).
    #[test]
    fn states_converted_row_by_row_are_the_states_of_one_row_groups() {
        let values = [
            Some(DynValue::String("host1".into())),
            None,
            Some(DynValue::Array(vec![DynValue::Long(1), DynValue::Long(1), DynValue::String("x".into())])),
            Some(DynValue::Object(vec![("a".into(), DynValue::Long(1)), ("b".into(), DynValue::Null)])),
            Some(DynValue::Null),
            Some(DynValue::String("host1".into())),
        ];
        let encoded: Vec<Option<Vec<u8>>> = values.iter().map(|v| v.as_ref().map(DynValue::encode)).collect();
        let input: ArrayRef = Arc::new(BinaryArray::from_iter(encoded.iter().map(|v| v.as_deref())));
        let filter = BooleanArray::from(vec![Some(true), Some(true), Some(false), Some(true), None, Some(true)]);
        for limit in [None, Some(1), Some(1_048_576)] {
            let limits: ArrayRef = Arc::new(Int64Array::from(vec![limit; values.len()]));
            for kind in
                [Collect::Set, Collect::List, Collect::ListWithNulls, Collect::Bag, Collect::Hll, Collect::Distinct]
            {
                for filter in [None, Some(&filter)] {
                    let groups = || CollectGroups { kind, groups: GroupedItems::default() };
                    let args = [input.clone(), limits.clone()];
                    let converted = groups().convert_to_state(&args, filter).unwrap();
                    let rows: Vec<usize> = (0..values.len()).collect();
                    let mut expected = groups();
                    expected.update_batch(&args, &rows, filter, rows.len()).unwrap();
                    let expected = expected.state(EmitTo::All).unwrap();
                    assert_eq!(converted.len(), expected.len());
                    for (c, e) in converted.iter().zip(&expected) {
                        assert_eq!(c.to_data(), e.to_data(), "{kind:?} limit {limit:?} filtered {}", filter.is_some());
                    }
                }
            }
        }
    }

    /// Groups emitted a few at a time (`EmitTo::First`) evaluate as when all
    /// are emitted at once, and the states of one accumulator merged into
    /// another give the same sets.
    #[test]
    fn groups_emitted_first_and_merged_states_match_one_pass() {
        let values: Vec<Vec<u8>> = (0..200).map(|i| DynValue::Long(i % 37).encode()).collect();
        let input: ArrayRef = Arc::new(BinaryArray::from_iter(values.iter().map(|v| Some(v.as_slice()))));
        let limits: ArrayRef = Arc::new(Int64Array::from(vec![Some(1_048_576i64); values.len()]));
        let args = [input, limits];
        let group_of: Vec<usize> = (0..values.len()).map(|i| i % 5).collect();
        let evaluate_all = |emits: &[EmitTo]| {
            let mut groups = CollectGroups { kind: Collect::Set, groups: GroupedItems::default() };
            groups.update_batch(&args, &group_of, None, 5).unwrap();
            let mut out = Vec::new();
            for emit in emits {
                let array = groups.evaluate(*emit).unwrap();
                let array = as_binary_array(&array).unwrap();
                out.extend((0..array.len()).map(|i| array.value(i).to_vec()));
            }
            out
        };
        let at_once = evaluate_all(&[EmitTo::All]);
        assert_eq!(at_once.len(), 5);
        assert_eq!(evaluate_all(&[EmitTo::First(2), EmitTo::First(1), EmitTo::All]), at_once);
        // Partial states of two halves, merged.
        let mut merged = CollectGroups { kind: Collect::Set, groups: GroupedItems::default() };
        for half in [0..100, 100..200] {
            let mut partial = CollectGroups { kind: Collect::Set, groups: GroupedItems::default() };
            let sliced: Vec<ArrayRef> = args.iter().map(|a| a.slice(half.start, half.len())).collect();
            partial.update_batch(&sliced, &group_of[half.clone()], None, 5).unwrap();
            let state = partial.state(EmitTo::All).unwrap();
            merged.merge_batch(&state, &[0, 1, 2, 3, 4], 5).unwrap();
        }
        let array = merged.evaluate(EmitTo::All).unwrap();
        let array = as_binary_array(&array).unwrap();
        for (g, expected) in at_once.iter().enumerate() {
            let mut got: Vec<i64> = DynRef::new(array.value(g)).array_items().filter_map(|d| d.as_long()).collect();
            let mut want: Vec<i64> = DynRef::new(expected).array_items().filter_map(|d| d.as_long()).collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "group {g}");
        }
    }
}
