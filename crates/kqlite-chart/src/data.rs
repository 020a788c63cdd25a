//! From a result and its visualization to what is drawn: the x axis, and
//! one series of points per y column (and per distinct value of the
//! `series` columns), with Kusto's defaults for what the query leaves out.

use crate::ChartError;
use datafusion::arrow::array::{Array, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array};
use kqlite_engine::dynamic::{DynKind, DynRef};
use kqlite_engine::visualization::{ChartKind, SeriesLayout};
use kqlite_engine::{ColumnDef, KqlType, QueryResult, Visualization};

/// One value of a result cell, as the chart sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Number(f64),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
    Text(String),
    /// A `dynamic` array (`make-series` output): its items.
    Array(Vec<Value>),
}

impl Value {
    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(*v),
            Value::Time(t) => Some(*t as f64),
            _ => None,
        }
    }

    /// The value as a category name or legend text.
    pub(crate) fn label(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Number(v) => kqlite_engine::convert::format_real(*v),
            Value::Time(t) => kqlite_engine::time::format_datetime(*t),
            Value::Text(s) => s.clone(),
            Value::Array(items) => {
                let parts: Vec<String> = items.iter().map(Value::label).collect();
                format!("[{}]", parts.join(","))
            }
        }
    }
}

/// What the x axis holds.
#[derive(Clone, Debug, PartialEq)]
pub enum XAxis {
    Numbers,
    /// Instants (nanoseconds since the Unix epoch).
    Times,
    /// Names, drawn at 0, 1, 2, … in order of first appearance.
    Categories(Vec<String>),
}

/// One line, set of bars or slices: a name for the legend and its points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    /// The y column its values come from.
    pub y_column: String,
    /// `(x, y)`: x is a number, an instant in nanoseconds, or a category's index.
    pub points: Vec<(f64, f64)>,
    /// The x of points an anomaly column marks (anomaly charts).
    pub anomalies: Vec<(f64, f64)>,
}

/// Everything a chart draws.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub x_axis: XAxis,
    pub x_name: String,
    pub y_names: Vec<String>,
    pub series: Vec<Series>,
}

/// Whether a column's values can be a y measure.
fn is_numeric(ty: KqlType) -> bool {
    matches!(ty, KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal)
}

/// Whether a column can name a series (Kusto groups by string columns).
fn is_label(ty: KqlType) -> bool {
    matches!(ty, KqlType::String | KqlType::Guid | KqlType::Bool)
}

/// A result column's values, row by row.
fn column_values(result: &QueryResult, index: usize) -> Vec<Value> {
    let ty = result.columns[index].ty;
    let mut out = Vec::with_capacity(result.row_count());
    for batch in &result.batches {
        let array = batch.column(index).as_ref();
        for row in 0..batch.num_rows() {
            out.push(cell(array, row, ty));
        }
    }
    out
}

fn cell(array: &dyn Array, row: usize, ty: KqlType) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let any = array.as_any();
    let value = match ty {
        KqlType::Int => any.downcast_ref::<Int32Array>().map(|a| Value::Number(f64::from(a.value(row)))),
        KqlType::Long => any.downcast_ref::<Int64Array>().map(|a| Value::Number(a.value(row) as f64)),
        KqlType::Real | KqlType::Decimal => any.downcast_ref::<Float64Array>().map(|a| Value::Number(a.value(row))),
        KqlType::Datetime => any.downcast_ref::<Int64Array>().map(|a| Value::Time(a.value(row))),
        KqlType::Bool => any.downcast_ref::<BooleanArray>().map(|a| Value::Text(a.value(row).to_string())),
        KqlType::Dynamic => any.downcast_ref::<BinaryArray>().map(|a| dynamic_value(DynRef::new(a.value(row)))),
        KqlType::String | KqlType::Guid | KqlType::Timespan => {
            Some(Value::Text(kqlite_engine::output::cell_text(array, row, ty)))
        }
    };
    value.unwrap_or(Value::Null)
}

fn dynamic_value(value: DynRef<'_>) -> Value {
    match value.kind() {
        DynKind::Null => Value::Null,
        DynKind::Long | DynKind::Real => value.as_real().map_or(Value::Null, Value::Number),
        DynKind::Datetime => value.as_long().map_or(Value::Null, Value::Time),
        DynKind::Array => Value::Array(value.array_items().map(dynamic_value).collect()),
        DynKind::String => {
            let text = value.as_str().unwrap_or_default();
            match kqlite_engine::time::parse_datetime(text) {
                Some(t) if text.len() >= 10 && text.as_bytes()[4] == b'-' => Value::Time(t),
                _ => Value::Text(text.to_string()),
            }
        }
        _ => Value::Text(value.to_kql_string()),
    }
}

fn find(columns: &[ColumnDef], name: &str) -> Result<usize, ChartError> {
    columns.iter().position(|c| c.name == name).ok_or_else(|| ChartError::UnknownColumn(name.to_string()))
}

/// The column kinds of a `make-series` result: arrays of numbers (y) and
/// one array of instants (x), told apart by their first non-empty row.
fn dynamic_kinds(values: &[Value]) -> Option<bool> {
    values.iter().find_map(|v| match v {
        Value::Array(items) => items.iter().find(|i| **i != Value::Null).map(|i| matches!(i, Value::Time(_))),
        _ => None,
    })
}

/// Chooses the x, y and series columns as Kusto's user agents do when the
/// query leaves them out, then gathers the points.
pub fn chart_data(result: &QueryResult, viz: &Visualization) -> Result<ChartData, ChartError> {
    let columns = &result.columns;
    if columns.is_empty() {
        return Err(ChartError::NoColumns);
    }
    let values: Vec<Vec<Value>> = (0..columns.len()).map(|i| column_values(result, i)).collect();
    // Dynamic columns holding arrays: `make-series` output, one series per row.
    let array_of_times: Vec<Option<bool>> = values.iter().map(|v| dynamic_kinds(v)).collect();
    let numeric = |i: usize| is_numeric(columns[i].ty) || array_of_times[i] == Some(false);
    let anomaly: Vec<usize> = viz.anomaly_columns.iter().map(|n| find(columns, n)).collect::<Result<_, _>>()?;

    let x = match &viz.xcolumn {
        Some(name) => find(columns, name)?,
        None => default_x(viz.chart, columns, &array_of_times),
    };
    let series_columns: Vec<usize> = if viz.series.is_empty() {
        // One string column groups the rows into series; others are ignored.
        if viz.ycolumns.is_empty() {
            (0..columns.len()).find(|&i| i != x && is_label(columns[i].ty)).into_iter().collect()
        } else {
            Vec::new()
        }
    } else {
        viz.series.iter().map(|n| find(columns, n)).collect::<Result<_, _>>()?
    };
    let y: Vec<usize> = if viz.ycolumns.is_empty() {
        (0..columns.len())
            .filter(|&i| i != x && !series_columns.contains(&i) && !anomaly.contains(&i) && numeric(i))
            .collect()
    } else {
        viz.ycolumns.iter().map(|n| find(columns, n)).collect::<Result<_, _>>()?
    };
    if y.is_empty() {
        return Err(ChartError::NoNumericColumn { chart: viz.chart.name() });
    }
    if let Some(&bad) = y.iter().find(|&&i| !numeric(i)) {
        return Err(ChartError::NotNumeric { column: columns[bad].name.clone(), ty: columns[bad].ty.name() });
    }

    let x_is_array = array_of_times[x].is_some();
    let x_axis = axis_of(viz.chart, columns[x].ty, &values[x], x_is_array);
    let mut series: Vec<Series> = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    let rows = values[x].len();
    // `row` indexes every column's values (`values[c][row]`), not one slice.
    #[allow(clippy::needless_range_loop)]
    for row in 0..rows {
        let key: Vec<String> = series_columns.iter().map(|&c| values[c][row].label()).collect();
        let key = key.join(", ");
        let xs: Vec<Value> = match &values[x][row] {
            Value::Array(items) if x_is_array => items.clone(),
            other => vec![other.clone()],
        };
        for &yc in &y {
            let name = match (key.is_empty(), y.len()) {
                (true, _) => columns[yc].name.clone(),
                (false, 1) => key.clone(),
                (false, _) => format!("{key}:{}", columns[yc].name),
            };
            let ys: Vec<Value> = match &values[yc][row] {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            // Anomalies mark the first y column's points.
            let marks: Vec<Value> = anomaly
                .first()
                .filter(|_| yc == y[0])
                .map(|&a| match &values[a][row] {
                    Value::Array(items) => items.clone(),
                    other => vec![other.clone()],
                })
                .unwrap_or_default();
            let index = match series.iter().position(|s| s.name == name) {
                Some(i) => i,
                None => {
                    let y_column = columns[yc].name.clone();
                    series.push(Series { name, y_column, points: Vec::new(), anomalies: Vec::new() });
                    series.len() - 1
                }
            };
            for (i, (xv, yv)) in xs.iter().zip(&ys).enumerate() {
                // Nulls and NaN are gaps, not points.
                let Some(yv) = yv.as_number().filter(|v| v.is_finite()) else { continue };
                let xf = match &x_axis {
                    XAxis::Categories(_) => {
                        let label = xv.label();
                        match categories.iter().position(|c| *c == label) {
                            Some(c) => c as f64,
                            None => {
                                categories.push(label);
                                (categories.len() - 1) as f64
                            }
                        }
                    }
                    _ => match xv.as_number() {
                        Some(v) => v,
                        None => continue,
                    },
                };
                series[index].points.push((xf, yv));
                if marks.get(i).and_then(Value::as_number).is_some_and(|m| m != 0.0) {
                    series[index].anomalies.push((xf, yv));
                }
            }
        }
    }
    let x_axis = match x_axis {
        XAxis::Categories(_) => XAxis::Categories(categories),
        other => {
            // Lines join points in x order whatever the row order (categories
            // keep the rows' order: sorting the query orders them).
            for series in &mut series {
                series.points.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            other
        }
    };
    let mut data = ChartData {
        x_axis,
        x_name: columns[x].name.clone(),
        y_names: y.iter().map(|&i| columns[i].name.clone()).collect(),
        series,
    };
    if viz.accumulate {
        accumulate(&mut data);
    }
    if matches!(viz.kind, Some(SeriesLayout::Stacked | SeriesLayout::Stacked100))
        || viz.chart == ChartKind::StackedAreaChart
    {
        stack(&mut data, viz.kind == Some(SeriesLayout::Stacked100));
    }
    Ok(data)
}

/// The x column Kusto takes by default: the first datetime column for
/// time charts, else the first column.
fn default_x(chart: ChartKind, columns: &[ColumnDef], array_of_times: &[Option<bool>]) -> usize {
    let timed = matches!(chart, ChartKind::TimeChart | ChartKind::AnomalyChart | ChartKind::TimePivot);
    if timed {
        if let Some(i) =
            (0..columns.len()).find(|&i| columns[i].ty == KqlType::Datetime || array_of_times[i] == Some(true))
        {
            return i;
        }
    }
    (0..columns.len()).find(|&i| array_of_times[i] == Some(true)).unwrap_or(0)
}

/// Bars and pies name their x values; lines and points place them.
fn axis_of(chart: ChartKind, ty: KqlType, values: &[Value], x_is_array: bool) -> XAxis {
    let categorical_chart = matches!(chart, ChartKind::BarChart | ChartKind::ColumnChart | ChartKind::PieChart);
    if categorical_chart {
        return XAxis::Categories(Vec::new());
    }
    if x_is_array || ty == KqlType::Datetime {
        let times = values.iter().all(|v| match v {
            Value::Array(items) => items.iter().all(|i| matches!(i, Value::Time(_) | Value::Null)),
            Value::Time(_) | Value::Null => true,
            _ => false,
        });
        if times {
            return XAxis::Times;
        }
    }
    if is_numeric(ty) || x_is_array {
        XAxis::Numbers
    } else {
        XAxis::Categories(Vec::new())
    }
}

/// `accumulate=true`: each y adds to the ones before it in its series.
fn accumulate(data: &mut ChartData) {
    for series in &mut data.series {
        let mut total = 0.0;
        for point in &mut series.points {
            total += point.1;
            point.1 = total;
        }
    }
}

/// `kind=stacked`/`stacked100`: each series starts where the ones before
/// it end at the same x; with `percent`, each x's stack sums to 100.
fn stack(data: &mut ChartData, percent: bool) {
    let mut base: Vec<(f64, f64)> = Vec::new();
    let mut totals: Vec<(f64, f64)> = Vec::new();
    if percent {
        for series in &data.series {
            for &(x, y) in &series.points {
                match totals.iter_mut().find(|(tx, _)| *tx == x) {
                    Some(t) => t.1 += y,
                    None => totals.push((x, y)),
                }
            }
        }
    }
    for series in &mut data.series {
        for point in &mut series.points {
            let mut y = point.1;
            if percent {
                let total = totals.iter().find(|(tx, _)| *tx == point.0).map_or(0.0, |t| t.1);
                y = if total == 0.0 { 0.0 } else { y * 100.0 / total };
            }
            let under = match base.iter_mut().find(|(bx, _)| *bx == point.0) {
                Some(b) => {
                    let under = b.1;
                    b.1 += y;
                    under
                }
                None => {
                    base.push((point.0, y));
                    0.0
                }
            };
            point.1 = under + y;
        }
    }
}

/// Where each stacked series starts at `x`: the top of the one before it.
pub(crate) fn stack_floor(series: &[Series], index: usize, x: f64) -> f64 {
    series[..index].iter().rev().find_map(|s| s.points.iter().find(|p| p.0 == x).map(|p| p.1)).unwrap_or(0.0)
}
