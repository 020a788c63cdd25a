//! `evaluate geo_polygon_lookup(LookupTable, PolygonKey, Longitude,
//! Latitude [, radius] [, return_unmatched] [, lookup_area_radius]
//! [, return_lookup_key])` and `evaluate geo_line_lookup(LookupTable,
//! LineKey, Longitude, Latitude, radius [, …])`: each input row joined to
//! the lookup rows whose polygon holds its point (or lies within `radius`
//! meters of it) or whose line lies within `radius` meters of it.
//!
//! The output is the input's columns, then the lookup table's; the key
//! column only with `return_lookup_key = true`. With
//! `return_unmatched = true` rows without a match are kept, with nulls.
//! `lookup_area_radius` is a performance hint and changes no result.

use super::tabular::{project_outputs, project_plan};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::{evaluate_constant, Bound};
use crate::functions;
use crate::types::KqlType;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

/// Which shapes a geo lookup matches points against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum GeoLookup {
    Polygon,
    Line,
}

impl GeoLookup {
    fn plugin(self) -> &'static str {
        match self {
            GeoLookup::Polygon => "geo_polygon_lookup",
            GeoLookup::Line => "geo_line_lookup",
        }
    }
}

/// The named optional parameters, in their positional order after the
/// four required arguments.
const OPTIONAL: [&str; 4] = ["radius", "return_unmatched", "lookup_area_radius", "return_lookup_key"];

/// A column given by name, and its type.
fn named_column<'a>(arg: &'a ast::Arg, relation: &Relation, plugin: &str) -> BindResult<(&'a str, KqlType)> {
    let ExprKind::Name(id) = &arg.value.kind else {
        return Err(BindError::new(arg.value.span, format!("{plugin}(): expected a column name here")));
    };
    match relation.column(&id.name) {
        Some(c) => Ok((id.name.as_str(), c.ty)),
        None => Err(BindError::new(id.span, format!("{plugin}(): unknown column '{}'", id.name))),
    }
}

impl<'r> Binder<'r> {
    pub(super) fn geo_lookup(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
        kind: GeoLookup,
    ) -> BindResult<Relation> {
        let plugin = kind.plugin();
        let mut positional: Vec<&ast::Arg> = Vec::new();
        let mut optional: [Option<&ast::Arg>; 4] = [None; 4];
        for arg in args {
            match arg.name.as_ref().map(|n| n.name.as_str()) {
                Some(name) => match OPTIONAL.iter().position(|o| *o == name) {
                    Some(i) => optional[i] = Some(arg),
                    None => {
                        return Err(BindError::new(arg.value.span, format!("{plugin}() has no parameter '{name}'")))
                    }
                },
                None => positional.push(arg),
            }
        }
        let [table, key, longitude, latitude, rest @ ..] = positional.as_slice() else {
            return Err(BindError::new(
                span,
                format!("{plugin}() needs the lookup table, its shape column, and the longitude and latitude columns"),
            ));
        };
        if rest.len() > OPTIONAL.len() {
            return Err(BindError::new(span, format!("{plugin}() takes at most 8 arguments")));
        }
        for (i, arg) in rest.iter().enumerate() {
            optional[i] = Some(arg);
        }
        let radius = match optional[0] {
            Some(arg) => Some(self.constant_real(arg, plugin, "radius")?),
            None => None,
        };
        if kind == GeoLookup::Line && radius.is_none() {
            return Err(BindError::new(span, "geo_line_lookup() needs the radius in meters"));
        }
        let return_unmatched = self.constant_flag(optional[1], plugin, "return_unmatched")?;
        if let Some(arg) = optional[2] {
            self.constant_real(arg, plugin, "lookup_area_radius")?;
        }
        let return_lookup_key = self.constant_flag(optional[3], plugin, "return_lookup_key")?;

        let lookup = self.tabular(&table.value)?;
        let (key, key_ty) = named_column(key, &lookup, plugin)?;
        let (lng, lng_ty) = named_column(longitude, &input, plugin)?;
        let (lat, lat_ty) = named_column(latitude, &input, plugin)?;
        if key_ty != KqlType::Dynamic {
            return Err(BindError::new(
                span,
                format!("{plugin}(): the key column '{key}' must be dynamic, it is {key_ty}"),
            ));
        }
        let tag = self.fresh("geo");
        let right_name = |name: &str| format!("{tag}_{name}");
        let renamed: Vec<Expr> = lookup.columns.iter().map(|c| col_ref(&c.name).alias(right_name(&c.name))).collect();
        let right_plan = project_plan(lookup.plan.clone(), renamed).at(span)?;
        let call = |name: &str, binder: &Self| -> BindResult<Expr> {
            let spec = functions::registry().lookup_scalar(name).expect("geo functions are registered");
            let args = vec![
                Bound::new(col_ref(lng), lng_ty),
                Bound::new(col_ref(lat), lat_ty),
                Bound::new(col_ref(&right_name(key)), KqlType::Dynamic),
            ];
            (spec.bind)(&binder.call, args)
                .map(|b| b.expr)
                .map_err(|e| BindError::new(span, format!("{plugin}(): {e}")))
        };
        let matches = match (kind, radius) {
            (GeoLookup::Polygon, None) => call("geo_point_in_polygon", self)?,
            (GeoLookup::Polygon, Some(r)) => call("geo_distance_point_to_polygon", self)?.lt_eq(lit(r)),
            (GeoLookup::Line, r) => call("geo_distance_point_to_line", self)?.lt_eq(lit(r.unwrap_or(0.0))),
        };
        let join_type = if return_unmatched { JoinType::Left } else { JoinType::Inner };
        let plan = LogicalPlanBuilder::from(input.plan.clone())
            .join_on(right_plan, join_type, vec![matches])
            .and_then(|b| b.build())
            .at(span)?;
        let mut outputs: Vec<(String, Bound)> =
            input.columns.iter().map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))).collect();
        for c in lookup.columns.iter().filter(|c| return_lookup_key || c.name != key) {
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            let mut value = col_ref(&right_name(&c.name));
            // Unmatched rows get nulls, but a Kusto string is never null.
            if c.ty == KqlType::String && return_unmatched {
                value = datafusion::functions::expr_fn::coalesce(vec![value, lit("")]);
            }
            outputs.push((naming::unique_name(&c.name, &taken), Bound::new(value, c.ty)));
        }
        project_outputs(plan, outputs, span)
    }

    /// A constant number argument of a geo lookup.
    fn constant_real(&mut self, arg: &ast::Arg, plugin: &str, what: &str) -> BindResult<f64> {
        let value = self.constant(&arg.value)?;
        match evaluate_constant(&value.expr) {
            Some(ScalarValue::Float64(Some(x))) => Ok(x),
            Some(ScalarValue::Int64(Some(x))) => Ok(x as f64),
            Some(ScalarValue::Int32(Some(x))) => Ok(f64::from(x)),
            _ => Err(BindError::new(arg.value.span, format!("{plugin}(): {what} must be a constant number"))),
        }
    }

    /// A constant bool argument of a geo lookup (false when absent).
    fn constant_flag(&mut self, arg: Option<&ast::Arg>, plugin: &str, what: &str) -> BindResult<bool> {
        let Some(arg) = arg else { return Ok(false) };
        let value = self.constant(&arg.value)?;
        match evaluate_constant(&value.expr) {
            Some(ScalarValue::Boolean(Some(b))) => Ok(b),
            _ => Err(BindError::new(arg.value.span, format!("{plugin}(): {what} must be true or false"))),
        }
    }
}
