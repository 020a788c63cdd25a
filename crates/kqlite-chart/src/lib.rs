//! Query results drawn as the charts `render` asks for.
//!
//! [`draw_svg`] turns a [`QueryResult`] and its [`Visualization`] into one
//! self-contained SVG document drawn with `plotters` (its SVG backend
//! writes text as `<text>`, so no fonts are read): time, line, area,
//! stacked area, scatter and anomaly charts on x/y axes, column and bar
//! charts over categories, and pie charts. [`html_page`] wraps the result
//! table and its chart in one HTML page. Which columns are x, y and series
//! follows the query's `render` properties, and Kusto's defaults for those
//! it leaves out (see [`data::chart_data`]).

pub mod data;
mod draw;
mod html;

pub use data::{chart_data, ChartData, Series, XAxis};
pub use html::{html_page, HtmlPage};
use kqlite_engine::visualization::ChartKind;
use kqlite_engine::{QueryResult, Visualization};
use thiserror::Error;

/// Why a result cannot be drawn.
#[derive(Debug, Error, PartialEq)]
pub enum ChartError {
    #[error("the result has no columns to draw")]
    NoColumns,
    #[error("a {chart} needs a numeric column (int, long, real or decimal) to plot, and the result has none")]
    NoNumericColumn { chart: &'static str },
    #[error("column '{column}' is {ty}; a chart plots only numeric columns on the y axis")]
    NotNumeric { column: String, ty: &'static str },
    #[error("the result has no column named '{0}'")]
    UnknownColumn(String),
    #[error("kqlite draws timechart, linechart, anomalychart, areachart, stackedareachart, scatterchart, columnchart, barchart and piechart; '{0}' is not drawn")]
    Unsupported(&'static str),
    #[error("the result has no values to plot")]
    NoPoints,
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// Width and height of a chart, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl Default for ChartSize {
    fn default() -> Self {
        ChartSize { width: 960, height: 540 }
    }
}

/// Whether kqlite draws `chart` (others are a table to it).
pub fn is_drawn(chart: ChartKind) -> bool {
    matches!(
        chart,
        ChartKind::TimeChart
            | ChartKind::LineChart
            | ChartKind::AnomalyChart
            | ChartKind::AreaChart
            | ChartKind::StackedAreaChart
            | ChartKind::ScatterChart
            | ChartKind::ColumnChart
            | ChartKind::BarChart
            | ChartKind::PieChart
    )
}

/// The chart of `result` as `viz` describes it: an SVG document.
pub fn draw_svg(result: &QueryResult, viz: &Visualization) -> Result<String, ChartError> {
    draw_svg_sized(result, viz, ChartSize::default())
}

/// [`draw_svg`] at a given size.
pub fn draw_svg_sized(result: &QueryResult, viz: &Visualization, size: ChartSize) -> Result<String, ChartError> {
    if !is_drawn(viz.chart) {
        return Err(ChartError::Unsupported(viz.chart.name()));
    }
    let data = chart_data(result, viz)?;
    if data.series.iter().all(|s| s.points.is_empty()) {
        return Err(ChartError::NoPoints);
    }
    draw::draw(&data, viz, size)
}
