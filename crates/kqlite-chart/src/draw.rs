//! Drawing [`ChartData`] with plotters' SVG backend.

use crate::data::{stack_floor, ChartData, XAxis};
use crate::{ChartError, ChartSize};
use kqlite_engine::visualization::{AxisScale, ChartKind, Legend, SeriesLayout, YSplit};
use kqlite_engine::Visualization;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Series colours: distinct on white, in the order series appear.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// Anomaly markers stand out from every series colour.
const ANOMALY: RGBColor = RGBColor(0xe0, 0x00, 0x00);

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Plotters' errors as [`ChartError::Draw`].
fn drawn<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, ChartError> {
    result.map_err(|e| ChartError::Draw(e.to_string()))
}

/// How an x/y chart draws each series.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Line,
    Area,
    Points,
}

pub(crate) fn draw(data: &ChartData, viz: &Visualization, size: ChartSize) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (size.width, size.height)).into_drawing_area();
        drawn(root.fill(&WHITE))?;
        match viz.chart {
            ChartKind::PieChart => pie(&root, data, viz)?,
            ChartKind::ColumnChart => bars(&root, data, viz, false)?,
            ChartKind::BarChart => bars(&root, data, viz, true)?,
            ChartKind::ScatterChart => xy_panels(&root, data, viz, Mark::Points)?,
            ChartKind::AreaChart | ChartKind::StackedAreaChart => xy_panels(&root, data, viz, Mark::Area)?,
            _ => xy_panels(&root, data, viz, Mark::Line)?,
        }
        drawn(root.present())?;
    }
    Ok(svg)
}

/// The y axis's values: log10 of positive values on a log axis (drawn on
/// a linear scale with labels `10^v`), the values themselves otherwise.
struct YScale {
    log: bool,
}

impl YScale {
    fn map(&self, y: f64) -> Option<f64> {
        match self.log {
            true if y > 0.0 => Some(y.log10()),
            true => None,
            false => Some(y),
        }
    }

    fn label(&self, v: f64) -> String {
        if self.log {
            number_label(10f64.powf(v))
        } else {
            number_label(v)
        }
    }
}

/// A number as an axis label: short, without float noise.
fn number_label(v: f64) -> String {
    let rounded = (v * 1e6).round() / 1e6;
    if rounded.abs() >= 1e6 || (rounded != 0.0 && rounded.abs() < 1e-3) {
        format!("{rounded:.2e}")
    } else {
        kqlite_engine::convert::format_real(rounded + 0.0)
    }
}

/// An instant as an axis label, as precise as the axis's span needs.
fn time_label(nanos: f64, span: f64) -> String {
    const DAY: f64 = 86_400e9;
    let format = if span >= 10.0 * DAY {
        "yyyy-MM-dd"
    } else if span >= 120e9 {
        "MM-dd HH:mm"
    } else {
        "HH:mm:ss"
    };
    kqlite_engine::time::format_datetime_custom(nanos as i64, format)
}

/// `[min, max]` padded so a flat or single-point range still has height.
fn padded(min: f64, max: f64, fraction: f64) -> (f64, f64) {
    if !min.is_finite() || !max.is_finite() {
        return (0.0, 1.0);
    }
    if min == max {
        let pad = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
        return (min - pad, max + pad);
    }
    let pad = (max - min) * fraction;
    (min - pad, max + pad)
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The chart title, the axis titles and whether the legend shows.
struct Labels {
    title: String,
    x: String,
    y: String,
    legend: bool,
}

fn labels(data: &ChartData, viz: &Visualization) -> Labels {
    Labels {
        title: viz.title.clone().unwrap_or_default(),
        x: viz.xtitle.clone().unwrap_or_else(|| data.x_name.clone()),
        y: viz.ytitle.clone().unwrap_or_else(|| {
            if data.y_names.len() == 1 {
                data.y_names[0].clone()
            } else {
                String::new()
            }
        }),
        legend: viz.legend != Some(Legend::Hidden),
    }
}

fn label_style() -> TextStyle<'static> {
    TextStyle::from(("sans-serif", 15).into_font())
}

fn axis_title_style() -> TextStyle<'static> {
    TextStyle::from(("sans-serif", 17).into_font())
}

fn caption_style() -> TextStyle<'static> {
    TextStyle::from(("sans-serif", 22).into_font())
}

/// `ysplit=panels`: one panel per y column, stacked top to bottom, each
/// with that column's series; otherwise one chart.
fn xy_panels(
    root: &DrawingArea<SVGBackend, Shift>,
    data: &ChartData,
    viz: &Visualization,
    mark: Mark,
) -> Result<(), ChartError> {
    if viz.ysplit != Some(YSplit::Panels) || data.y_names.len() < 2 {
        return xy(root, data, viz, mark, 0);
    }
    let panels = root.split_evenly((data.y_names.len(), 1));
    let mut colors_used = 0;
    for (i, (panel, y_name)) in panels.iter().zip(&data.y_names).enumerate() {
        let part = ChartData {
            x_axis: data.x_axis.clone(),
            x_name: data.x_name.clone(),
            y_names: vec![y_name.clone()],
            series: data.series.iter().filter(|s| &s.y_column == y_name).cloned().collect(),
        };
        let mut panel_viz = viz.clone();
        if i > 0 {
            panel_viz.title = None;
        }
        panel_viz.ytitle = Some(y_name.clone());
        xy(panel, &part, &panel_viz, mark, colors_used)?;
        colors_used += part.series.len();
    }
    Ok(())
}

/// Time, line, area, scatter and anomaly charts; series colours start at
/// `first_color` (panels keep each series' colour).
fn xy(
    root: &DrawingArea<SVGBackend, Shift>,
    data: &ChartData,
    viz: &Visualization,
    mark: Mark,
    first_color: usize,
) -> Result<(), ChartError> {
    let text = labels(data, viz);
    let scale = YScale { log: viz.yaxis == Some(AxisScale::Log) };
    let x_log = viz.xaxis == Some(AxisScale::Log) && data.x_axis == XAxis::Numbers;
    let map_x = |x: f64| if x_log { (x > 0.0).then(|| x.log10()) } else { Some(x) };
    // Points as drawn: log axes map values, and what a log axis cannot show is left out.
    let series: Vec<Vec<(f64, f64)>> = data
        .series
        .iter()
        .map(|s| s.points.iter().filter_map(|&(x, y)| Some((map_x(x)?, scale.map(y)?))).collect())
        .collect();
    let (mut x0, mut x1) = min_max(series.iter().flatten().map(|p| p.0));
    if let XAxis::Categories(names) = &data.x_axis {
        (x0, x1) = (-0.5, names.len() as f64 - 0.5);
    } else {
        (x0, x1) = padded(x0, x1, 0.0);
    }
    if let Some(b) = viz.xmin.and_then(|b| map_x(b.as_f64())) {
        x0 = b;
    }
    if let Some(b) = viz.xmax.and_then(|b| map_x(b.as_f64())) {
        x1 = b;
    }
    let (mut y0, mut y1) = min_max(series.iter().flatten().map(|p| p.1));
    if mark == Mark::Area && !scale.log {
        y0 = y0.min(0.0);
    }
    (y0, y1) = padded(y0, y1, 0.05);
    y1 += (y1 - y0) * legend_headroom(text.legend, data.series.len(), root);
    if let Some(b) = viz.ymin.and_then(|b| scale.map(b)) {
        y0 = b;
    }
    if let Some(b) = viz.ymax.and_then(|b| scale.map(b)) {
        y1 = b;
    }
    let mut builder = ChartBuilder::on(root);
    builder.margin(16).x_label_area_size(48).y_label_area_size(72);
    if !text.title.is_empty() {
        builder.caption(&text.title, caption_style());
    }
    let mut chart = drawn(builder.build_cartesian_2d(x0..x1, y0..y1))?;
    let span = x1 - x0;
    let x_format = |x: &f64| match &data.x_axis {
        XAxis::Times => time_label(*x, span),
        XAxis::Numbers if x_log => number_label(10f64.powf(*x)),
        XAxis::Numbers => number_label(*x),
        XAxis::Categories(names) => category_label(names, *x),
    };
    let y_format = |y: &f64| scale.label(*y);
    drawn(
        chart
            .configure_mesh()
            .x_desc(text.x.as_str())
            .y_desc(text.y.as_str())
            .x_labels(match &data.x_axis {
                XAxis::Categories(names) => (names.len() + 1).min(MAX_CATEGORY_LABELS),
                _ => 8,
            })
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .label_style(label_style())
            .axis_desc_style(axis_title_style())
            .draw(),
    )?;
    // Stacked areas: the top of the stack first, each lower series over it.
    let order: Vec<usize> = if mark == Mark::Area && is_stacked(viz) {
        (0..series.len()).rev().collect()
    } else {
        (0..series.len()).collect()
    };
    for i in order {
        let c = color(first_color + i);
        let points = series[i].clone();
        let drawn_series = match mark {
            Mark::Line => drawn(chart.draw_series(LineSeries::new(points, c.stroke_width(2))))?,
            Mark::Points => drawn(chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, c.filled()))))?,
            Mark::Area => {
                let fill = if is_stacked(viz) { c.mix(0.9) } else { c.mix(0.3) };
                let base = if scale.log { y0 } else { 0.0 };
                drawn(chart.draw_series(AreaSeries::new(points, base, fill).border_style(c.stroke_width(2))))?
            }
        };
        drawn_series
            .label(data.series[i].name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    let anomalies: Vec<(f64, f64)> = data
        .series
        .iter()
        .flat_map(|s| s.anomalies.iter())
        .filter_map(|&(x, y)| Some((map_x(x)?, scale.map(y)?)))
        .collect();
    if !anomalies.is_empty() {
        drawn(chart.draw_series(anomalies.into_iter().map(|p| Circle::new(p, 5, ANOMALY.filled()))))?
            .label("anomalies")
            .legend(|(x, y)| Circle::new((x + 7, y), 5, ANOMALY.filled()));
    }
    if text.legend {
        drawn(
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(label_style())
                .draw(),
        )?;
    }
    Ok(())
}

/// Category names written on an axis at most (more would overlap).
const MAX_CATEGORY_LABELS: usize = 24;

/// How much taller the value range gets so the legend in the upper right
/// corner does not hide the highest values: its height over the plot's.
fn legend_headroom(shown: bool, entries: usize, root: &DrawingArea<SVGBackend, Shift>) -> f64 {
    if !shown {
        return 0.0;
    }
    let plot_height = f64::from(root.dim_in_pixel().1.saturating_sub(120).max(100));
    let legend_height = 20.0 * entries as f64 + 16.0;
    (legend_height / plot_height).min(0.5)
}

fn is_stacked(viz: &Visualization) -> bool {
    viz.chart == ChartKind::StackedAreaChart
        || matches!(viz.kind, Some(SeriesLayout::Stacked | SeriesLayout::Stacked100))
}

/// The category at an axis position, or nothing between categories.
fn category_label(names: &[String], x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 1e-6 || index < 0.0 {
        return String::new();
    }
    names.get(index as usize).cloned().unwrap_or_default()
}

/// Column charts (vertical bars) and bar charts (horizontal bars): one bar
/// per category and series, side by side, or stacked with `kind=stacked`.
fn bars(
    root: &DrawingArea<SVGBackend, Shift>,
    data: &ChartData,
    viz: &Visualization,
    horizontal: bool,
) -> Result<(), ChartError> {
    let text = labels(data, viz);
    let XAxis::Categories(names) = &data.x_axis else {
        return Err(ChartError::Draw("bars need categories".to_string()));
    };
    let n = names.len().max(1);
    let stacked = is_stacked(viz);
    let (mut v0, mut v1) = min_max(data.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    v0 = v0.min(0.0);
    v1 = v1.max(0.0);
    (v0, v1) = padded(v0, v1, 0.05);
    if horizontal {
        // The first bars are at the top, where the legend is: room to their right.
        v1 += (v1 - v0) * if text.legend { 0.25 } else { 0.0 };
    } else {
        v1 += (v1 - v0) * legend_headroom(text.legend, data.series.len(), root);
    }
    if v0 < 0.0 && min_max(data.series.iter().flat_map(|s| s.points.iter().map(|p| p.1))).0 >= 0.0 {
        v0 = 0.0;
    }
    if let Some(b) = viz.ymin {
        v0 = b;
    }
    if let Some(b) = viz.ymax {
        v1 = b;
    }
    let categories = (-0.5, n as f64 - 0.5);
    // Horizontal bars list the first category at the top.
    let place = |c: f64| if horizontal { n as f64 - 1.0 - c } else { c };
    let mut builder = ChartBuilder::on(root);
    builder.margin(16).x_label_area_size(48).y_label_area_size(if horizontal { 120 } else { 72 });
    if !text.title.is_empty() {
        builder.caption(&text.title, caption_style());
    }
    let (xr, yr) = if horizontal { ((v0, v1), categories) } else { (categories, (v0, v1)) };
    let mut chart = drawn(builder.build_cartesian_2d(xr.0..xr.1, yr.0..yr.1))?;
    let category_at = |v: &f64| category_label(names, place(*v));
    let value_at = |v: &f64| number_label(*v);
    {
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(RGBColor(0xee, 0xee, 0xee))
            .label_style(label_style())
            .axis_desc_style(axis_title_style());
        if horizontal {
            mesh.y_labels((n + 1).min(MAX_CATEGORY_LABELS))
                .y_label_formatter(&category_at)
                .x_label_formatter(&value_at);
            mesh.y_desc(text.x.as_str()).x_desc(text.y.as_str()).disable_y_mesh();
        } else {
            mesh.x_labels((n + 1).min(MAX_CATEGORY_LABELS))
                .x_label_formatter(&category_at)
                .y_label_formatter(&value_at);
            mesh.x_desc(text.x.as_str()).y_desc(text.y.as_str()).disable_x_mesh();
        }
        drawn(mesh.draw())?;
    }
    let k = data.series.len().max(1) as f64;
    for (i, series) in data.series.iter().enumerate() {
        let c = color(i);
        let rects: Vec<Rectangle<(f64, f64)>> = series
            .points
            .iter()
            .map(|&(x, y)| {
                let at = place(x);
                let (lo, hi, from, to) = if stacked {
                    (at - 0.4, at + 0.4, stack_floor(&data.series, i, x), y)
                } else {
                    let width = 0.8 / k;
                    let lo = at - 0.4 + width * i as f64;
                    (lo, lo + width, 0.0, y)
                };
                let corners = if horizontal { [(from, lo), (to, hi)] } else { [(lo, from), (hi, to)] };
                Rectangle::new(corners, c.filled())
            })
            .collect();
        drawn(chart.draw_series(rects))?
            .label(series.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], c.filled()));
    }
    if text.legend {
        drawn(
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(label_style())
                .draw(),
        )?;
    }
    Ok(())
}

/// Pie charts: the first series' value per category, one slice each, and
/// a legend of the categories.
fn pie(root: &DrawingArea<SVGBackend, Shift>, data: &ChartData, viz: &Visualization) -> Result<(), ChartError> {
    let text = labels(data, viz);
    let XAxis::Categories(names) = &data.x_axis else {
        return Err(ChartError::Draw("a pie needs categories".to_string()));
    };
    let area = if text.title.is_empty() { root.clone() } else { drawn(root.titled(&text.title, caption_style()))? };
    // Slices with a positive size, in category order.
    let mut sizes = Vec::new();
    let mut slice_names = Vec::new();
    let mut colors = Vec::new();
    for &(x, y) in &data.series[0].points {
        if y > 0.0 && y.is_finite() {
            let index = x as usize;
            sizes.push(y);
            slice_names.push(names.get(index).cloned().unwrap_or_default());
            colors.push(color(sizes.len() - 1));
        }
    }
    if sizes.is_empty() {
        return Err(ChartError::NoPoints);
    }
    let (width, height) = area.dim_in_pixel();
    let center = ((width as i32 - 200) / 2, height as i32 / 2);
    let radius = f64::from(width.saturating_sub(200).min(height)) * 0.38;
    let mut slices = Pie::new(&center, &radius, &sizes, &colors, &slice_names);
    slices.start_angle(-90.0);
    slices.label_style(("sans-serif", 14).into_font().color(&BLACK));
    slices.percentages(("sans-serif", 12).into_font().color(&WHITE));
    drawn(area.draw(&slices))?;
    if text.legend {
        let x = width as i32 - 190;
        let rows = (height as usize).saturating_sub(40) / 22;
        for (i, name) in slice_names.iter().enumerate().take(rows) {
            let y = 30 + 22 * i as i32;
            drawn(area.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], colors[i].filled())))?;
            drawn(area.draw(&Text::new(name.clone(), (x + 20, y - 7), ("sans-serif", 14).into_font())))?;
        }
    }
    Ok(())
}
