//! Aggregation functions for `summarize`.
//!
//! `dcount` counts exactly: Kusto's estimate is exact for small sets and
//! within its documented error bound above them, and an exact count is
//! within that bound too. `make_set`/`make_list` keep first-seen order.

use super::{coerce, expect_one_of, Registry, NUMERIC};
use crate::convert::{to_dynamic, Bound};
use crate::dynamic::{ArrayEncoder, DynKind, DynRef, ObjectEncoder};
use crate::types::KqlType;
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{cast::as_binary_array, cast::as_int64_array, Result, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    cast, lit, when, Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use std::collections::HashSet;
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.aggregate("count", 0, 1, "count", |_, a| {
        let e = match a.first() {
            Some(b) if b.ty == KqlType::String => b.expr.clone(),
            Some(b) => b.expr.clone(),
            None => lit(1i64),
        };
        Ok(Bound::new(agg::count(e), KqlType::Long))
    });
    r.aggregate("countif", 1, 1, "countif", |_, mut a| {
        let p = coerce("countif", 0, a.swap_remove(0), KqlType::Bool)?;
        let one = when(p.expr, lit(1i64)).otherwise(lit(0i64)).map_err(|e| e.to_string())?;
        Ok(Bound::new(datafusion::functions::expr_fn::coalesce(vec![agg::sum(one), lit(0i64)]), KqlType::Long))
    });
    r.aggregate("sum", 1, 1, "sum", |_, a| sum(a.into_iter().next().expect("one arg"), None));
    r.aggregate("sumif", 2, 2, "sumif", |_, mut a| {
        let p = coerce("sumif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        sum(a.pop().expect("two args"), Some(p))
    });
    r.aggregate("avg", 1, 1, "avg", |_, a| {
        expect_one_of("avg", 0, &a[0], NUMERIC)?;
        Ok(Bound::new(agg::avg(cast(a[0].expr.clone(), DataType::Float64)), KqlType::Real))
    });
    r.aggregate("avgif", 2, 2, "avgif", |_, mut a| {
        let p = coerce("avgif", 1, a.pop().expect("two args"), KqlType::Bool)?;
        expect_one_of("avgif", 0, &a[0], NUMERIC)?;
        Ok(Bound::new(agg::avg(only_if(cast(a[0].expr.clone(), DataType::Float64), p)), KqlType::Real))
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
    r.aggregate("dcount", 1, 2, "dcount", |_, a| {
        Ok(Bound::new(agg::count_distinct(distinct_key(&a[0])), KqlType::Long))
    });
    r.aggregate("dcountif", 2, 3, "dcountif", |_, a| {
        let p = coerce("dcountif", 1, a[1].clone(), KqlType::Bool)?;
        Ok(Bound::new(agg::count_distinct(only_if(distinct_key(&a[0]), p)), KqlType::Long))
    });
    r.aggregate("make_set", 1, 2, "set", |_, a| collect(a, Collect::Set, None));
    r.aggregate("makeset", 1, 2, "set", |_, a| collect(a, Collect::Set, None));
    r.aggregate("make_list", 1, 2, "list", |_, a| collect(a, Collect::List, None));
    r.aggregate("makelist", 1, 2, "list", |_, a| collect(a, Collect::List, None));
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
    r.aggregate("take_any", 1, 1, "any", |_, a| Ok(Bound::new(agg::first_value(a[0].expr.clone(), vec![]), a[0].ty)));
    r.aggregate("any", 1, 1, "any", |_, a| Ok(Bound::new(agg::first_value(a[0].expr.clone(), vec![]), a[0].ty)));
}

fn only_if(value: Expr, predicate: Bound) -> Expr {
    when(predicate.expr, value).otherwise(lit(ScalarValue::Null)).expect("well-formed case")
}

fn sum(value: Bound, predicate: Option<Bound>) -> Result<Bound, String> {
    expect_one_of(
        "sum",
        0,
        &value,
        &[KqlType::Int, KqlType::Long, KqlType::Real, KqlType::Decimal, KqlType::Timespan],
    )?;
    let ty = match value.ty {
        KqlType::Int => KqlType::Long,
        t => t,
    };
    let e = cast(value.expr, ty.arrow());
    let e = match predicate {
        Some(p) => only_if(e, p),
        None => e,
    };
    Ok(Bound::new(agg::sum(e), ty))
}

fn extreme(a: Vec<Bound>, is_max: bool, predicate: Option<Bound>) -> Result<Bound, String> {
    let value = a.into_iter().next().expect("one arg");
    if value.ty == KqlType::Dynamic {
        return Err(format!(
            "{}() cannot order dynamic values; convert them first",
            if is_max { "max" } else { "min" }
        ));
    }
    let e = match predicate {
        Some(p) => only_if(value.expr, p),
        None => value.expr,
    };
    Ok(Bound::new(if is_max { agg::max(e) } else { agg::min(e) }, value.ty))
}

/// The value `dcount` compares: strings and numbers as they are, dynamic by
/// its deterministic encoding.
fn distinct_key(value: &Bound) -> Expr {
    value.expr.clone()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Collect {
    Set,
    List,
    Bag,
}

/// Kusto's default cap on `make_set`/`make_list` sizes.
const DEFAULT_MAX_SIZE: i64 = 1_048_576;

fn collect(args: Vec<Bound>, kind: Collect, predicate: Option<Bound>) -> Result<Bound, String> {
    let mut args = args.into_iter();
    let value = to_dynamic(args.next().expect("one arg"));
    let limit = match args.next() {
        Some(l) => coerce("make_set", 1, l, KqlType::Long)?.expr,
        None => lit(DEFAULT_MAX_SIZE),
    };
    let value = match predicate {
        Some(p) => only_if(value.expr, p),
        None => value.expr,
    };
    let udaf = AggregateUDF::new_from_impl(CollectUdaf::new(kind));
    Ok(Bound::new(udaf.call(vec![value, limit]), KqlType::Dynamic))
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
            Collect::Bag => "kql_make_bag",
        }
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
        Ok(Box::new(CollectAccumulator { kind: self.kind, items: Vec::new(), seen: HashSet::new(), limit: None }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_items", args.name), DataType::Binary, true))])
    }
}

#[derive(Debug)]
struct CollectAccumulator {
    kind: Collect,
    /// Encoded values (or single-entry bags) in first-seen order.
    items: Vec<(Option<String>, Vec<u8>)>,
    seen: HashSet<Vec<u8>>,
    limit: Option<usize>,
}

impl CollectAccumulator {
    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.items.len() >= l)
    }

    fn add(&mut self, value: DynRef<'_>) {
        match self.kind {
            Collect::List => {
                if !value.is_null() && !self.full() {
                    self.items.push((None, value.bytes().to_vec()));
                }
            }
            Collect::Set => {
                // make_set of an array unions its elements.
                if value.kind() == DynKind::Array {
                    for item in value.array_items() {
                        self.add_set_item(item);
                    }
                } else {
                    self.add_set_item(value);
                }
            }
            Collect::Bag => {
                for (key, v) in value.entries() {
                    if self.full() {
                        break;
                    }
                    if self.seen.insert(key.as_bytes().to_vec()) {
                        self.items.push((Some(key.to_string()), v.bytes().to_vec()));
                    }
                }
            }
        }
    }

    fn add_set_item(&mut self, item: DynRef<'_>) {
        if item.is_null() || self.full() {
            return;
        }
        if self.seen.insert(item.bytes().to_vec()) {
            self.items.push((None, item.bytes().to_vec()));
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.kind {
            Collect::Bag => {
                let mut enc = ObjectEncoder::new(&mut out);
                for (k, v) in &self.items {
                    enc.push_encoded(k.as_deref().unwrap_or(""), v);
                }
                enc.finish();
            }
            _ => {
                let mut enc = ArrayEncoder::new(&mut out);
                for (_, v) in &self.items {
                    enc.push_encoded(v);
                }
                enc.finish();
            }
        }
        out
    }
}

impl Accumulator for CollectAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&values[0])?;
        if self.limit.is_none() {
            if let Some(limits) = values.get(1) {
                let limits = as_int64_array(limits)?;
                if !limits.is_empty() && !limits.is_null(0) {
                    self.limit = Some(limits.value(0).max(0) as usize);
                }
            }
        }
        for i in 0..input.len() {
            if !input.is_null(i) {
                self.add(DynRef::new(input.value(i)));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.encode())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.iter().map(|(k, v)| v.len() + k.as_ref().map_or(0, String::len) + 48).sum::<usize>() * 2
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.encode()))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&states[0])?;
        for i in 0..input.len() {
            if input.is_null(i) {
                continue;
            }
            let partial = DynRef::new(input.value(i));
            match self.kind {
                Collect::Bag => self.add(partial),
                Collect::Set => {
                    for item in partial.array_items() {
                        self.add_set_item(item);
                    }
                }
                Collect::List => {
                    for item in partial.array_items() {
                        if !self.full() {
                            self.items.push((None, item.bytes().to_vec()));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
