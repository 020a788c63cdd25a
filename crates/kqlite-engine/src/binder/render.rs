//! `render`: checks the chart and its properties as Microsoft's binder does
//! and records them as the query's [`Visualization`]; the rows pass
//! through unchanged. The last `render` bound wins.

use super::{BindError, BindResult, Binder, Relation};
use crate::convert::evaluate_constant;
use crate::types::KqlType;
use crate::visualization::{AxisBound, AxisScale, ChartKind, Legend, SeriesLayout, Visualization, YSplit};
use datafusion::common::ScalarValue;
use kqlite_syntax::ast::{self, ExprKind, RenderValue};

impl Binder<'_> {
    /// Binds `render chart [with (…)]` over `input`.
    pub(super) fn render(
        &mut self,
        input: Relation,
        chart: &ast::Ident,
        properties: &[ast::RenderProperty],
    ) -> BindResult<Relation> {
        let kind = ChartKind::parse(&chart.name).ok_or_else(|| {
            let names: Vec<&str> = ChartKind::ALL.iter().map(|k| k.name()).collect();
            BindError::new(chart.span, format!("Expected one of: {}", names.join(", ")))
        })?;
        let mut visualization = Visualization::new(kind);
        for property in properties {
            self.render_property(&input, &mut visualization, property)?;
        }
        self.visualization = Some(visualization);
        Ok(input)
    }

    fn render_property(
        &mut self,
        input: &Relation,
        v: &mut Visualization,
        property: &ast::RenderProperty,
    ) -> BindResult<()> {
        let name = property.name.to_ascii_lowercase();
        match (&property.value, name.as_str()) {
            (RenderValue::Columns(columns), list) => {
                let mut names = Vec::with_capacity(columns.len());
                for column in columns {
                    if input.column(&column.name).is_none() {
                        return Err(BindError::unresolved(
                            column.span,
                            &column.name,
                            format!(
                                "The name '{}' does not refer to any known column, table, variable or function.",
                                column.name
                            ),
                        ));
                    }
                    names.push(column.name.clone());
                }
                match list {
                    "ycolumns" => v.ycolumns = names,
                    "series" => v.series = names,
                    _ => v.anomaly_columns = names,
                }
            }
            (RenderValue::Expr(expr), "xcolumn") => {
                let column = match &expr.kind {
                    ExprKind::Name(ident) if input.column(&ident.name).is_some() => ident.name.clone(),
                    ExprKind::Name(ident) => {
                        return Err(BindError::unresolved(
                            ident.span,
                            &ident.name,
                            format!(
                                "The name '{}' does not refer to any known column, table, variable or function.",
                                ident.name
                            ),
                        ))
                    }
                    _ => return Err(BindError::new(expr.span, "xcolumn takes a column name")),
                };
                v.xcolumn = Some(column);
            }
            (RenderValue::Expr(expr), "kind") => v.kind = Some(choice(expr, &SeriesLayout::ALL, SeriesLayout::name)?),
            (RenderValue::Expr(expr), "xaxis") => v.xaxis = Some(choice(expr, &AxisScale::ALL, AxisScale::name)?),
            (RenderValue::Expr(expr), "yaxis") => v.yaxis = Some(choice(expr, &AxisScale::ALL, AxisScale::name)?),
            (RenderValue::Expr(expr), "legend") => v.legend = Some(choice(expr, &Legend::ALL, Legend::name)?),
            (RenderValue::Expr(expr), "ysplit") => v.ysplit = Some(choice(expr, &YSplit::ALL, YSplit::name)?),
            (RenderValue::Expr(expr), "title" | "xtitle" | "ytitle") => {
                let text = self.constant_string(expr)?;
                match name.as_str() {
                    "title" => v.title = Some(text),
                    "xtitle" => v.xtitle = Some(text),
                    _ => v.ytitle = Some(text),
                }
            }
            (RenderValue::Expr(expr), "accumulate") => match self.constant_value(expr)? {
                ScalarValue::Boolean(Some(b)) => v.accumulate = b,
                _ => return Err(BindError::new(expr.span, "accumulate takes true or false")),
            },
            (RenderValue::Expr(expr), "ymin" | "ymax") => {
                let bound = match self.axis_bound(expr)? {
                    AxisBound::Real(r) => r,
                    AxisBound::Datetime(_) => return Err(BindError::new(expr.span, "ymin and ymax take numbers")),
                };
                if name == "ymin" {
                    v.ymin = Some(bound);
                } else {
                    v.ymax = Some(bound);
                }
            }
            (RenderValue::Expr(expr), _) => {
                let bound = self.axis_bound(expr)?;
                if name == "xmin" {
                    v.xmin = Some(bound);
                } else {
                    v.xmax = Some(bound);
                }
            }
        }
        Ok(())
    }

    /// A constant expression's value (no column may be named).
    fn constant_value(&mut self, expr: &ast::Expr) -> BindResult<ScalarValue> {
        let bound = self.constant(expr)?;
        evaluate_constant(&bound.expr).ok_or_else(|| BindError::new(expr.span, "expected a constant value"))
    }

    /// `title`, `xtitle` and `ytitle`: any constant string expression.
    fn constant_string(&mut self, expr: &ast::Expr) -> BindResult<String> {
        let bound = self.constant(expr)?;
        if !matches!(bound.ty, KqlType::String | KqlType::Dynamic) {
            return Err(BindError::new(expr.span, "The expression must have one of the types: string or dynamic."));
        }
        match evaluate_constant(&bound.expr) {
            Some(ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s)) => {
                Ok(s.unwrap_or_default())
            }
            _ => Err(BindError::new(expr.span, "The expression must be a constant string.")),
        }
    }

    /// `xmin`/`xmax`/`ymin`/`ymax`: a constant number or datetime.
    fn axis_bound(&mut self, expr: &ast::Expr) -> BindResult<AxisBound> {
        let bound = self.constant(expr)?;
        let value = evaluate_constant(&bound.expr);
        let number = match (&bound.ty, value) {
            (KqlType::Datetime, Some(ScalarValue::Int64(Some(t)))) => return Ok(AxisBound::Datetime(t)),
            (_, Some(ScalarValue::Int64(Some(n)))) => n as f64,
            (_, Some(ScalarValue::Int32(Some(n)))) => f64::from(n),
            (_, Some(ScalarValue::Float64(Some(r)))) => r,
            _ => return Err(BindError::new(expr.span, "axis bounds take a constant number or datetime")),
        };
        Ok(AxisBound::Real(number))
    }
}

/// An enumerated property value written as a bare word (`kind=stacked`,
/// `xaxis=log`), or as a string; Microsoft's messages list the choices.
fn choice<T: Copy>(expr: &ast::Expr, all: &[T], name: fn(T) -> &'static str) -> BindResult<T> {
    let word = match &expr.kind {
        ExprKind::Name(ident) => Some(ident.name.as_str()),
        ExprKind::Literal(ast::Literal::String { value, .. }) => Some(value.as_str()),
        _ => None,
    };
    word.and_then(|w| all.iter().copied().find(|c| name(*c).eq_ignore_ascii_case(w))).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|c| name(*c)).collect();
        BindError::new(expr.span, format!("Expected one of: {}", names.join(", ")))
    })
}
