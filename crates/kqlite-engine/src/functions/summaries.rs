//! Less common aggregates: the bitwise `binary_all_and/or/xor`, the
//! predicate forms of the population statistics (`variancepif`,
//! `covariancepif`) and `buildschema`, the schema of dynamic values.

use super::{coerce, expect_one_of, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::types::{KqlType, NANOS_PER_TICK};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_binary_array;
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    cast, lit, when, Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.aggregate("binary_all_and", 1, 1, "binary_all_and", |_, a| bitwise("binary_all_and", a, agg::bit_and));
    r.aggregate("binary_all_or", 1, 1, "binary_all_or", |_, a| bitwise("binary_all_or", a, agg::bit_or));
    r.aggregate("binary_all_xor", 1, 1, "binary_all_xor", |_, a| bitwise("binary_all_xor", a, agg::bit_xor));
    r.aggregate("variancepif", 2, 2, "variancepif", |_, a| {
        let mut a = a.into_iter();
        let x = statistic_input("variancepif", 0, a.next().expect("value"))?;
        let p = coerce("variancepif", 1, a.next().expect("predicate"), KqlType::Bool)?;
        Ok(Bound::new(agg::var_pop(only_if(x, p.expr)), KqlType::Real))
    });
    r.aggregate("covariancepif", 3, 3, "covariancepif", |_, a| {
        let mut a = a.into_iter();
        let x = statistic_input("covariancepif", 0, a.next().expect("x"))?;
        let y = statistic_input("covariancepif", 1, a.next().expect("y"))?;
        let p = coerce("covariancepif", 2, a.next().expect("predicate"), KqlType::Bool)?;
        Ok(Bound::new(agg::covar_pop(only_if(y, p.expr.clone()), only_if(x, p.expr)), KqlType::Real))
    });
    r.aggregate("buildschema", 1, 1, "schema", |_, a| {
        let value = coerce("buildschema", 0, a.into_iter().next().expect("value"), KqlType::Dynamic)?;
        let udaf =
            AggregateUDF::new_from_impl(SchemaUdaf { signature: Signature::user_defined(Volatility::Immutable) });
        Ok(Bound::new(udaf.call(vec![value.expr]), KqlType::Dynamic))
    });
}

/// `binary_all_*(x)`: the bitwise fold of the integers, typed as the input.
fn bitwise(name: &str, a: Vec<Bound>, fold: fn(Expr) -> Expr) -> CallResult<Bound> {
    let value = a.into_iter().next().expect("value");
    expect_one_of(name, 0, &value, &[KqlType::Int, KqlType::Long])?;
    Ok(Bound::new(fold(value.expr), value.ty))
}

fn only_if(value: Expr, predicate: Expr) -> Expr {
    when(predicate, value).otherwise(lit(ScalarValue::Float64(None))).expect("well-formed case")
}

/// A statistics input as a real; timespans and datetimes count in ticks, as
/// the other statistics aggregates do.
fn statistic_input(name: &str, index: usize, value: Bound) -> CallResult<Expr> {
    use KqlType::*;
    expect_one_of(name, index, &value, &[Int, Long, Real, Decimal, Timespan, Datetime])?;
    let real = cast(value.expr, DataType::Float64);
    Ok(if matches!(value.ty, Timespan | Datetime) { real / lit(NANOS_PER_TICK as f64) } else { real })
}

/// The key `buildschema` gives the elements of arrays.
const INDEXER: &str = "`indexer`";

/// A schema: the alternatives seen at one place, in first-seen order. A
/// type name is a scalar alternative; objects (and arrays, as objects keyed
/// by [`INDEXER`]) are merged into one object alternative.
#[derive(Debug, Default, Clone, PartialEq)]
struct Schema {
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq)]
enum Alternative {
    Type(&'static str),
    Object(Vec<(String, Schema)>),
}

impl Schema {
    /// Adds what one value shows.
    fn add_value(&mut self, value: DynRef<'_>) {
        match value.kind() {
            DynKind::Null => {}
            DynKind::Object => {
                let mut fields = Vec::new();
                for (key, item) in value.entries() {
                    let mut s = Schema::default();
                    s.add_value(item);
                    if !s.alternatives.is_empty() {
                        fields.push((key.to_string(), s));
                    }
                }
                self.add_alternative(Alternative::Object(fields));
            }
            DynKind::Array => {
                let mut items = Schema::default();
                value.array_items().for_each(|item| items.add_value(item));
                let fields = if items.alternatives.is_empty() { Vec::new() } else { vec![(INDEXER.into(), items)] };
                self.add_alternative(Alternative::Object(fields));
            }
            kind => self.add_alternative(Alternative::Type(type_name(kind))),
        }
    }

    fn add_alternative(&mut self, alternative: Alternative) {
        match alternative {
            Alternative::Type(t) => {
                if !self.alternatives.contains(&Alternative::Type(t)) {
                    self.alternatives.push(Alternative::Type(t));
                }
            }
            Alternative::Object(fields) => {
                let existing = self.alternatives.iter_mut().find_map(|a| match a {
                    Alternative::Object(f) => Some(f),
                    _ => None,
                });
                match existing {
                    Some(existing) => {
                        for (key, schema) in fields {
                            match existing.iter_mut().find(|(k, _)| *k == key) {
                                Some((_, s)) => s.merge(schema),
                                None => existing.push((key, schema)),
                            }
                        }
                    }
                    None => self.alternatives.push(Alternative::Object(fields)),
                }
            }
        }
    }

    fn merge(&mut self, other: Schema) {
        other.alternatives.into_iter().for_each(|a| self.add_alternative(a));
    }

    /// The schema as Kusto prints it: a single alternative as itself,
    /// several as an array; `None` when nothing but nulls was seen.
    fn to_value(&self) -> Option<DynValue> {
        let alternative = |a: &Alternative| match a {
            Alternative::Type(t) => DynValue::String(t.to_string()),
            Alternative::Object(fields) => {
                DynValue::Object(fields.iter().filter_map(|(k, s)| Some((k.clone(), s.to_value()?))).collect())
            }
        };
        match self.alternatives.as_slice() {
            [] => None,
            [one] => Some(alternative(one)),
            many => Some(DynValue::Array(many.iter().map(alternative).collect())),
        }
    }

    /// Reads back a schema [`Schema::to_value`] wrote (the aggregate's state).
    fn from_value(value: DynRef<'_>) -> Schema {
        let mut s = Schema::default();
        let mut add = |v: DynRef<'_>| match v.kind() {
            DynKind::String => {
                if let Some(t) = v.as_str().and_then(known_type_name) {
                    s.add_alternative(Alternative::Type(t));
                }
            }
            DynKind::Object => s.add_alternative(Alternative::Object(
                v.entries().map(|(k, item)| (k.to_string(), Schema::from_value(item))).collect(),
            )),
            _ => {}
        };
        if value.kind() == DynKind::Array {
            value.array_items().for_each(&mut add);
        } else {
            add(value);
        }
        s
    }
}

/// Kusto's name for a scalar dynamic value's type in a schema.
fn type_name(kind: DynKind) -> &'static str {
    match kind {
        DynKind::Bool => "bool",
        DynKind::Long => "long",
        DynKind::Real => "double",
        DynKind::Datetime => "datetime",
        DynKind::Timespan => "timespan",
        DynKind::Guid => "guid",
        _ => "string",
    }
}

fn known_type_name(name: &str) -> Option<&'static str> {
    ["bool", "long", "double", "datetime", "timespan", "guid", "string"].into_iter().find(|t| *t == name)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SchemaUdaf {
    signature: Signature,
}

impl AggregateUDFImpl for SchemaUdaf {
    fn name(&self) -> &str {
        "kql_buildschema"
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
        Ok(Box::new(SchemaAccumulator { schema: Schema::default() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(format!("{}_schema", args.name), DataType::Binary, true))])
    }
}

#[derive(Debug)]
struct SchemaAccumulator {
    schema: Schema,
}

impl SchemaAccumulator {
    fn encoded(&self) -> ScalarValue {
        ScalarValue::Binary(self.schema.to_value().map(|v| v.encode()))
    }
}

impl Accumulator for SchemaAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&values[0])?;
        for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
            self.schema.add_value(DynRef::new(input.value(i)));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.encoded())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.schema.alternatives.capacity() * 64
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.encoded()])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let input = as_binary_array(&states[0])?;
        for i in (0..input.len()).filter(|i| input.is_valid(*i)) {
            self.schema.merge(Schema::from_value(DynRef::new(input.value(i))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Kusto's buildschema page: three bags give the union of
    /// their keys, with each key's types in first-seen order.
    #[test]
    fn schemas_merge_keys_types_and_array_elements() {
        let values = [
            r#"{"x":1, "y":3.5}"#,
            r#"{"x":"somevalue", "z":[1, 2, 3]}"#,
            r#"{"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]}"#,
        ];
        let mut s = Schema::default();
        for v in values {
            s.add_value(DynRef::new(&crate::dynamic::parse_json(v).unwrap()));
        }
        let json = DynRef::new(&s.to_value().unwrap().encode()).to_json();
        assert_eq!(
            json,
            r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#
        );
        assert_eq!(Schema::from_value(DynRef::new(&s.to_value().unwrap().encode())), s);
    }
}
