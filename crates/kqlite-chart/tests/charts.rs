//! Charts drawn from queries written like the KQL reference's `render`
//! examples (the visualization pages: timechart, linechart, columnchart,
//! barchart, piechart, areachart, scatterchart, anomalychart), over
//! datatables written here. Each SVG is parsed as XML and checked for its
//! titles, axis labels, legend entries and one mark per series or point;
//! with `/usr/bin/chromium`, each page is also loaded headless.

use kqlite_chart::{chart_data, draw_svg, html_page, ChartError, XAxis};
use kqlite_engine::visualization::{AxisScale, ChartKind, Legend, SeriesLayout};
use kqlite_engine::{QueryResult, Session, Visualization};
use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;

async fn run(query: &str) -> QueryResult {
    Session::new().query(query).await.unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn visualization(result: &QueryResult) -> &Visualization {
    result.visualization.as_ref().expect("the query has a render")
}

/// One element of an SVG document: its name, attributes and text.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: HashMap<String, String>,
    text: String,
}

/// Parses `svg` as XML (failing the test when it is not well formed).
fn elements(svg: &str) -> Vec<Element> {
    let mut reader = Reader::from_str(svg);
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not XML: {e}\n{svg}")) {
            Event::Start(e) => {
                out.push(element(&e));
                open.push(out.len() - 1);
            }
            Event::Empty(e) => out.push(element(&e)),
            Event::End(_) => {
                open.pop().expect("balanced tags");
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(t.unescape().unwrap().trim());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    assert_eq!(out.first().map(|e| e.name.as_str()), Some("svg"));
    out
}

fn element(e: &quick_xml::events::BytesStart) -> Element {
    let attributes = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            (String::from_utf8_lossy(a.key.as_ref()).into_owned(), a.unescape_value().unwrap().into_owned())
        })
        .collect();
    Element { name: String::from_utf8_lossy(e.name().as_ref()).into_owned(), attributes, text: String::new() }
}

fn texts(svg: &[Element]) -> Vec<&str> {
    svg.iter().filter(|e| e.name == "text").map(|e| e.text.as_str()).collect()
}

/// Elements named `name` filled or stroked (`attribute`) with `color`.
fn marks(svg: &[Element], name: &str, attribute: &str, color: &str) -> usize {
    svg.iter().filter(|e| e.name == name && e.attributes.get(attribute).map(String::as_str) == Some(color)).count()
}

/// The legend's background boxes (drawn at 85% opacity).
fn legend_boxes(svg: &[Element]) -> usize {
    svg.iter().filter(|e| e.name == "rect" && e.attributes.get("opacity").map(String::as_str) == Some("0.85")).count()
}

/// The series colours, in order (the drawer's palette).
const COLORS: [&str; 4] = ["#1F77B4", "#FF7F0E", "#2CA02C", "#D62728"];

/// With `/usr/bin/chromium`, the page loads headless and its DOM holds the
/// chart; without it, says why the check is skipped.
fn check_in_chromium(name: &str, html: &str) {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        println!("{name}: headless Chromium check skipped: /usr/bin/chromium does not exist");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kqlite-chart-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, html).unwrap();
    let out = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{name}: chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<svg") && dom.contains("<table>"), "{name}: chromium's DOM lacks the chart or table");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sample of two sensors' readings over four hours (the shape of the
/// reference's `demo_make_series` tables).
const READINGS: &str = "let Readings = datatable(TimeStamp: datetime, sid: string, num: real)[
    datetime(2017-01-05 00:00), 'TS1', 10.0, datetime(2017-01-05 01:00), 'TS1', 12.0,
    datetime(2017-01-05 02:00), 'TS1', 11.0, datetime(2017-01-05 03:00), 'TS1', 40.0,
    datetime(2017-01-05 00:00), 'TS2', 20.0, datetime(2017-01-05 01:00), 'TS2', 21.0,
    datetime(2017-01-05 02:00), 'TS2', 19.0, datetime(2017-01-05 03:00), 'TS2', 22.0];\n";

/// visualization-timechart: `make-series … by sid | render timechart`
/// draws one line per row of the series table, named by its `sid`.
#[tokio::test]
async fn timechart_of_make_series_draws_a_line_per_series() {
    let query = format!(
        "{READINGS}Readings | make-series num=avg(num) on TimeStamp from datetime(2017-01-05) \
         to datetime(2017-01-05 04:00) step 1h by sid | render timechart with (title='Readings by sensor')"
    );
    let result = run(&query).await;
    let viz = visualization(&result);
    assert_eq!(viz.chart, ChartKind::TimeChart);
    assert_eq!(viz.title.as_deref(), Some("Readings by sensor"));
    let svg = elements(&draw_svg(&result, viz).unwrap());
    let text = texts(&svg);
    for expected in ["Readings by sensor", "TS1", "TS2", "TimeStamp", "num"] {
        assert!(text.contains(&expected), "{expected:?} in {text:?}");
    }
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[0]), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[1]), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[2]), 0);
    // Four points per line.
    let line = svg.iter().find(|e| e.attributes.get("stroke").map(String::as_str) == Some(COLORS[0])).unwrap();
    assert_eq!(line.attributes["points"].split_whitespace().count(), 4);
    check_in_chromium("timechart", &html_page(&result, &query).html);
}

/// visualization-linechart: `render linechart with (xtitle=…, ytitle=…)`;
/// every numeric column but x is a line (two here), titled as asked.
#[tokio::test]
async fn linechart_draws_each_numeric_column_with_axis_titles() {
    let query = "datatable(Day: long, Injuries: long, Deaths: long)[1, 5, 1, 2, 7, 0, 3, 2, 2]
                 | render linechart with (xtitle='Day of the month', ytitle='People', legend=visible)";
    let result = run(query).await;
    let viz = visualization(&result);
    assert_eq!((viz.xtitle.as_deref(), viz.legend), (Some("Day of the month"), Some(Legend::Visible)));
    let svg = elements(&draw_svg(&result, viz).unwrap());
    let text = texts(&svg);
    for expected in ["Day of the month", "People", "Injuries", "Deaths"] {
        assert!(text.contains(&expected), "{expected:?} in {text:?}");
    }
    assert_eq!(legend_boxes(&svg), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[0]), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[1]), 1);
}

/// visualization-columnchart: `summarize event_count=count() by State |
/// render columnchart`: one bar per state, each state on the x axis.
#[tokio::test]
async fn columnchart_draws_a_bar_per_category() {
    let query = "datatable(State: string, EventType: string)['TEXAS','Hail','TEXAS','Flood','KANSAS','Hail',
                 'IOWA','Hail','TEXAS','Hail','IOWA','Flood']
                 | summarize event_count=count() by State | order by State asc | render columnchart";
    let result = run(query).await;
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    assert_eq!(marks(&svg, "rect", "fill", COLORS[0]), 3 + 1, "three bars and the legend's swatch");
    let text = texts(&svg);
    for expected in ["IOWA", "KANSAS", "TEXAS", "State", "event_count"] {
        assert!(text.contains(&expected), "{expected:?} in {text:?}");
    }
}

/// visualization-columnchart, `kind=stacked` with a `series` column: one
/// bar per category and series, the second on top of the first.
#[tokio::test]
async fn stacked_columnchart_draws_a_bar_per_category_and_series() {
    let query = "datatable(State: string, EventType: string, n: long)['TEXAS','Hail',3,'TEXAS','Flood',1,
                 'KANSAS','Hail',2,'KANSAS','Flood',4]
                 | render columnchart with (kind=stacked, series=EventType, ycolumns=n, xcolumn=State)";
    let result = run(query).await;
    let viz = visualization(&result);
    assert_eq!(viz.kind, Some(SeriesLayout::Stacked));
    assert_eq!(
        (viz.series.as_slice(), viz.ycolumns.as_slice()),
        (&["EventType".to_string()][..], &["n".to_string()][..])
    );
    let svg = elements(&draw_svg(&result, viz).unwrap());
    assert_eq!(marks(&svg, "rect", "fill", COLORS[0]), 2 + 1);
    assert_eq!(marks(&svg, "rect", "fill", COLORS[1]), 2 + 1);
    let text = texts(&svg);
    assert!(text.contains(&"Hail") && text.contains(&"Flood"), "{text:?}");
    // Stacked: TEXAS's Flood bar (second series) starts where its Hail bar ends.
    let bars = |color: &str| -> Vec<(f64, f64)> {
        svg.iter()
            .filter(|e| e.name == "rect" && e.attributes.get("fill").map(String::as_str) == Some(color))
            .map(|e| (e.attributes["y"].parse().unwrap(), e.attributes["height"].parse().unwrap()))
            .collect()
    };
    let (hail, flood) = (bars(COLORS[0])[0], bars(COLORS[1])[0]);
    assert!((flood.0 + flood.1 - hail.0).abs() <= 1.0, "flood {flood:?} sits on hail {hail:?}");
}

/// visualization-barchart: `project State, event_count | render barchart`:
/// horizontal bars, one per state.
#[tokio::test]
async fn barchart_draws_horizontal_bars() {
    let query = "datatable(State: string, event_count: long)['TEXAS', 4701, 'KANSAS', 3166, 'IOWA', 2337]
                 | render barchart with (title='Storm events')";
    let result = run(query).await;
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    let bars: Vec<&Element> = svg
        .iter()
        .filter(|e| e.name == "rect" && e.attributes.get("fill").map(String::as_str) == Some(COLORS[0]))
        .collect();
    assert_eq!(bars.len(), 3 + 1);
    // Horizontal: the longest bar (TEXAS) is wider than it is tall.
    let widest = bars.iter().map(|e| e.attributes["width"].parse::<f64>().unwrap()).fold(0.0, f64::max);
    let tallest = bars.iter().map(|e| e.attributes["height"].parse::<f64>().unwrap()).fold(0.0, f64::max);
    assert!(widest > tallest, "{widest} wide, {tallest} tall");
    let text = texts(&svg);
    for expected in ["Storm events", "TEXAS", "KANSAS", "IOWA"] {
        assert!(text.contains(&expected), "{expected:?} in {text:?}");
    }
}

/// visualization-piechart: `summarize count() by State | render piechart
/// with(title="Storm Events by State")`: a slice and a legend entry per state.
#[tokio::test]
async fn piechart_draws_a_slice_per_category() {
    let query = "datatable(State: string)['TEXAS','TEXAS','TEXAS','KANSAS','KANSAS','IOWA']
                 | summarize count() by State | render piechart with(title='Storm Events by State')";
    let result = run(query).await;
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    let slices = svg.iter().filter(|e| e.name == "polygon").count();
    assert_eq!(slices, 3, "{svg:?}");
    let text = texts(&svg);
    for expected in ["Storm Events by State", "TEXAS", "KANSAS", "IOWA", "50.0%"] {
        assert!(text.iter().any(|t| t.contains(expected)), "{expected:?} in {text:?}");
    }
}

/// visualization-areachart and stackedareachart: a filled area per series.
#[tokio::test]
async fn areacharts_fill_an_area_per_series() {
    for chart in ["areachart", "stackedareachart"] {
        let query =
            format!("datatable(Hour: long, Hail: long, Flood: long)[0, 1, 2, 1, 3, 1, 2, 2, 4] | render {chart}");
        let result = run(&query).await;
        let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
        let areas = svg.iter().filter(|e| e.name == "polygon").count();
        assert_eq!(areas, 2, "{chart}");
        let text = texts(&svg);
        assert!(text.contains(&"Hail") && text.contains(&"Flood"), "{chart}: {text:?}");
    }
}

/// visualization-scatterchart: one point per row, here by event type.
#[tokio::test]
async fn scatterchart_draws_a_point_per_row() {
    let query = "datatable(BeginLon: real, BeginLat: real, EventType: string)[-120.1, 37.2, 'Hail',
                 -119.5, 36.1, 'Hail', -121.0, 38.5, 'Flood']
                 | render scatterchart with (xcolumn=BeginLon, ycolumns=BeginLat, series=EventType)";
    let result = run(query).await;
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    assert_eq!(marks(&svg, "circle", "fill", COLORS[0]), 2);
    assert_eq!(marks(&svg, "circle", "fill", COLORS[1]), 1);
}

/// visualization-anomalychart: `extend anomalies =
/// series_decompose_anomalies(num, 1.5) | render anomalychart
/// with(anomalycolumns=anomalies)`: the line, and a marker at each
/// anomaly the column flags.
#[tokio::test]
async fn anomalychart_marks_each_flagged_point() {
    let query = "let s = datatable(t: datetime, num: real)[
        datetime(2024-01-01), 10, datetime(2024-01-02), 11, datetime(2024-01-03), 10, datetime(2024-01-04), 11,
        datetime(2024-01-05), 10, datetime(2024-01-06), 11, datetime(2024-01-07), 90, datetime(2024-01-08), 11,
        datetime(2024-01-09), 10, datetime(2024-01-10), 11];
        s | make-series num=avg(num) on t from datetime(2024-01-01) to datetime(2024-01-11) step 1d
        | extend anomalies = series_decompose_anomalies(num, 1.5, 0)
        | render anomalychart with(anomalycolumns=anomalies, title='Traffic, anomalies')";
    let result = run(query).await;
    let viz = visualization(&result);
    assert_eq!(viz.anomaly_columns, ["anomalies"]);
    // The flags, read back from the result.
    let json: serde_json::Value = {
        let mut out = Vec::new();
        kqlite_engine::output::write(&result, kqlite_engine::output::Format::Json, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    };
    let column = json["columns"].as_array().unwrap().iter().position(|c| c["name"] == "anomalies").unwrap();
    let flags = json["rows"][0][column].as_array().unwrap();
    let flagged = flags.iter().filter(|v| v.as_f64() != Some(0.0)).count();
    assert!(flagged >= 1, "the spike is an anomaly: {json}");
    let svg = elements(&draw_svg(&result, viz).unwrap());
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[0]), 1, "one line: anomalies are not a series");
    assert_eq!(marks(&svg, "circle", "fill", "#E00000"), flagged + 1, "a marker per anomaly and the legend's");
    assert!(texts(&svg).contains(&"anomalies"));
}

/// Axis scales, bounds and a hidden legend are drawn as asked.
#[tokio::test]
async fn log_axis_bounds_and_hidden_legend() {
    let query = "datatable(x: long, y: long)[1, 1, 2, 10, 3, 100, 4, 1000]
                 | render linechart with (yaxis=log, ymin=1, ymax=10000, legend=hidden, accumulate=false)";
    let result = run(query).await;
    let viz = visualization(&result);
    assert_eq!((viz.yaxis, viz.ymin, viz.ymax), (Some(AxisScale::Log), Some(1.0), Some(10000.0)));
    let svg = elements(&draw_svg(&result, viz).unwrap());
    assert_eq!(legend_boxes(&svg), 0, "legend=hidden");
    // On a log axis the points are evenly spaced in height.
    let line = svg.iter().find(|e| e.attributes.get("stroke").map(String::as_str) == Some(COLORS[0])).unwrap();
    let ys: Vec<f64> =
        line.attributes["points"].split_whitespace().map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let steps: Vec<f64> = ys.windows(2).map(|w| w[0] - w[1]).collect();
    assert!(steps.iter().all(|s| (s - steps[0]).abs() <= 1.0), "{ys:?}");
}

/// `ysplit=panels`: each y column in a panel of its own, with its own y title.
#[tokio::test]
async fn ysplit_panels_draws_a_panel_per_y_column() {
    let query = "datatable(Day: long, Injuries: long, Deaths: long)[1, 5, 1, 2, 7, 0, 3, 2, 2]
                 | render linechart with (ysplit=panels, title='Casualties')";
    let result = run(query).await;
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    // Two plotting areas (each with its x axis title), one line each.
    assert_eq!(texts(&svg).iter().filter(|t| **t == "Day").count(), 2);
    assert_eq!(texts(&svg).iter().filter(|t| **t == "Casualties").count(), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[0]), 1);
    assert_eq!(marks(&svg, "polyline", "stroke", COLORS[1]), 1);
    assert_eq!(legend_boxes(&svg), 2);
}

/// Kusto's defaults when the query names no columns (render operator
/// page: user agents guess x, series and y): a time chart's x is its first
/// datetime column wherever it is, the first string column names the
/// series, every other numeric column is a y.
#[tokio::test]
async fn defaults_pick_x_series_and_y_columns() {
    let query = "datatable(Computer: string, t: datetime, Logons: long, Note: string)[
                 'dc1', datetime(2024-01-01), 3, 'a', 'ws1', datetime(2024-01-01), 1, 'b',
                 'dc1', datetime(2024-01-02), 5, 'c'] | render timechart";
    let result = run(query).await;
    let data = chart_data(&result, visualization(&result)).unwrap();
    assert_eq!((data.x_axis.clone(), data.x_name.as_str()), (XAxis::Times, "t"));
    assert_eq!(data.y_names, ["Logons"]);
    let names: Vec<&str> = data.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dc1", "ws1"]);
    const DAY: f64 = 86_400e9;
    let jan1 = 1_704_067_200e9;
    assert_eq!(data.series[0].points, [(jan1, 3.0), (jan1 + DAY, 5.0)]);
    // Rows out of time order still make a line from left to right.
    let result =
        run("datatable(t: datetime, n: long)[datetime(2024-01-02), 5, datetime(2024-01-01), 3] | render timechart")
            .await;
    let data = chart_data(&result, visualization(&result)).unwrap();
    assert_eq!(data.series[0].points, [(jan1, 3.0), (jan1 + DAY, 5.0)]);
}

/// `accumulate=true` sums each series; `kind=stacked100` scales each x's
/// stack to 100 (the tops of the stacks).
#[tokio::test]
async fn accumulate_and_stacked100_transform_the_values() {
    let query = "datatable(x: long, a: long, b: long)[1, 1, 3, 2, 2, 2] | render areachart with (accumulate=true)";
    let result = run(query).await;
    let data = chart_data(&result, visualization(&result)).unwrap();
    assert_eq!(data.series[0].points, [(1.0, 1.0), (2.0, 3.0)]);
    assert_eq!(data.series[1].points, [(1.0, 3.0), (2.0, 5.0)]);
    let query =
        "datatable(x: string, a: long, b: long)['p', 1, 3, 'q', 2, 2] | render columnchart with (kind=stacked100)";
    let result = run(query).await;
    let data = chart_data(&result, visualization(&result)).unwrap();
    assert_eq!(data.x_axis, XAxis::Categories(vec!["p".into(), "q".into()]));
    assert_eq!(data.series[0].points, [(0.0, 25.0), (1.0, 50.0)]);
    assert_eq!(data.series[1].points, [(0.0, 100.0), (1.0, 100.0)]);
}

/// Null and NaN measures are left out rather than drawn at a bad place.
#[tokio::test]
async fn null_and_nan_values_are_gaps() {
    let query = "datatable(x: long, y: real)[1, real(nan), 2, 2.0, 3, real(null), 4, 3.0] | render linechart";
    let result = run(query).await;
    let data = chart_data(&result, visualization(&result)).unwrap();
    assert_eq!(data.series[0].points, [(2.0, 2.0), (4.0, 3.0)]);
    let svg = elements(&draw_svg(&result, visualization(&result)).unwrap());
    let line = svg.iter().find(|e| e.attributes.get("stroke").map(String::as_str) == Some(COLORS[0])).unwrap();
    assert_eq!(line.attributes["points"].split_whitespace().count(), 2);
}

/// Errors say what is missing, and a non-chart visualization is not drawn.
#[tokio::test]
async fn results_without_numbers_are_typed_errors() {
    let result = run("datatable(a: string, b: string)['x', 'y'] | render columnchart").await;
    assert_eq!(draw_svg(&result, visualization(&result)), Err(ChartError::NoNumericColumn { chart: "columnchart" }));
    let result = run("datatable(a: long, b: string)[1, 'y'] | render linechart with (ycolumns=b)").await;
    assert_eq!(
        draw_svg(&result, visualization(&result)),
        Err(ChartError::NotNumeric { column: "b".to_string(), ty: "string" })
    );
    let result = run("print a = 1 | render card").await;
    assert_eq!(draw_svg(&result, visualization(&result)), Err(ChartError::Unsupported("card")));
    // The page still has the table, and says why there is no chart.
    let result = run("datatable(a: string)['<x>'] | render piechart").await;
    let page = html_page(&result, "q");
    assert!(page.chart_error.is_some() && page.html.contains("&lt;x&gt;") && !page.html.contains("<svg"));
}

/// render's properties as Microsoft's binder checks them: the last
/// `render` wins, columns must exist, enumerated values are listed.
#[tokio::test]
async fn render_properties_are_checked_when_bound() {
    let session = Session::new();
    let result = session
        .query("print x = 1, y = 2 | render table | render columnchart with (ycolumns=y, xcolumn=x, ysplit=panels)")
        .await
        .unwrap();
    let viz = visualization(&result);
    assert_eq!((viz.chart, viz.xcolumn.as_deref()), (ChartKind::ColumnChart, Some("x")));
    assert!(session.query("print x = 1").await.unwrap().visualization.is_none());
    for (query, message) in [
        ("print x=1 | render timechart with (ycolumns=y)", "The name 'y' does not refer"),
        ("print x=1 | render timechart kind=foo", "Expected one of: default, unstacked, stacked, stacked100, map"),
        ("print x=1 | render timechart with (xaxis=foo)", "Expected one of: linear, log"),
        ("print x=1 | render timechart with (legend=foo)", "Expected one of: visible, hidden"),
        ("print x=1 | render foo", "Expected one of: table, list, barchart"),
        ("print x=1 | render timechart with (title=x)", "'x'"),
    ] {
        let error = session.query(query).await.err().unwrap_or_else(|| panic!("{query} binds")).to_string();
        assert!(error.contains(message), "{query}: {error}");
    }
    let result = session.query("print x=1 | render timechart with (title='a \\' b')").await.unwrap();
    assert_eq!(visualization(&result).title.as_deref(), Some("a ' b"));
}

/// The `Visualization` JSON ADX sends: its keys in order, lists joined by
/// commas, unset y bounds as "NaN".
#[tokio::test]
async fn visualization_json_has_kusto_keys() {
    let result =
        run("print t=now(), a=1, b=2 | render timechart with (ycolumns=a, b, title='T', ymax=5, accumulate=true)")
            .await;
    let json = visualization(&result).to_kusto_json();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "Visualization",
            "Title",
            "XColumn",
            "Series",
            "YColumns",
            "AnomalyColumns",
            "XTitle",
            "YTitle",
            "XAxis",
            "YAxis",
            "Legend",
            "YSplit",
            "Accumulate",
            "IsQuerySorted",
            "Kind",
            "Ymin",
            "Ymax",
            "Xmin",
            "Xmax"
        ]
    );
    assert_eq!(json["Visualization"], "timechart");
    assert_eq!(json["YColumns"], "a,b");
    assert_eq!(json["Ymin"], "NaN");
    assert_eq!(json["Ymax"], 5.0);
    assert_eq!(json["Accumulate"], true);
    assert!(json["XColumn"].is_null());
}
