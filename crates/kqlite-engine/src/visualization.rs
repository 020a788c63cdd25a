//! What `render` asks of a query's result: the chart kind and its
//! properties, kept with the result as Kusto keeps them (the
//! `Visualization` row of `@ExtendedProperties` in REST responses), for
//! whoever draws it (`kqlite-chart`) or serves it (`kqlite-server`).

use serde_json::{json, Value};

/// The chart `render` names, as Microsoft's parser accepts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    Table,
    List,
    BarChart,
    PieChart,
    LadderChart,
    TimeChart,
    LineChart,
    AnomalyChart,
    PivotChart,
    AreaChart,
    StackedAreaChart,
    ScatterChart,
    TimePivot,
    ColumnChart,
    Timeline,
    ThreeDChart,
    Card,
    TreeMap,
    Plotly,
    Graph,
    Sankey,
}

impl ChartKind {
    /// Every kind, in the order Microsoft's parser lists them.
    pub const ALL: [ChartKind; 21] = [
        ChartKind::Table,
        ChartKind::List,
        ChartKind::BarChart,
        ChartKind::PieChart,
        ChartKind::LadderChart,
        ChartKind::TimeChart,
        ChartKind::LineChart,
        ChartKind::AnomalyChart,
        ChartKind::PivotChart,
        ChartKind::AreaChart,
        ChartKind::StackedAreaChart,
        ChartKind::ScatterChart,
        ChartKind::TimePivot,
        ChartKind::ColumnChart,
        ChartKind::Timeline,
        ChartKind::ThreeDChart,
        ChartKind::Card,
        ChartKind::TreeMap,
        ChartKind::Plotly,
        ChartKind::Graph,
        ChartKind::Sankey,
    ];

    /// The name as written after `render` (and sent in `Visualization`).
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Table => "table",
            ChartKind::List => "list",
            ChartKind::BarChart => "barchart",
            ChartKind::PieChart => "piechart",
            ChartKind::LadderChart => "ladderchart",
            ChartKind::TimeChart => "timechart",
            ChartKind::LineChart => "linechart",
            ChartKind::AnomalyChart => "anomalychart",
            ChartKind::PivotChart => "pivotchart",
            ChartKind::AreaChart => "areachart",
            ChartKind::StackedAreaChart => "stackedareachart",
            ChartKind::ScatterChart => "scatterchart",
            ChartKind::TimePivot => "timepivot",
            ChartKind::ColumnChart => "columnchart",
            ChartKind::Timeline => "timeline",
            ChartKind::ThreeDChart => "3Dchart",
            ChartKind::Card => "card",
            ChartKind::TreeMap => "treemap",
            ChartKind::Plotly => "plotly",
            ChartKind::Graph => "graph",
            ChartKind::Sankey => "sankey",
        }
    }

    /// The kind named `name` (case-insensitive, as Kusto's parser).
    pub fn parse(name: &str) -> Option<ChartKind> {
        ChartKind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// `kind=` of a chart: how several series share the chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesLayout {
    Default,
    Unstacked,
    Stacked,
    /// Stacked, each point scaled so the stack is 100%.
    Stacked100,
    /// For scatter charts: points on a map (drawn as a plain scatter offline).
    Map,
}

impl SeriesLayout {
    pub const ALL: [SeriesLayout; 5] = [
        SeriesLayout::Default,
        SeriesLayout::Unstacked,
        SeriesLayout::Stacked,
        SeriesLayout::Stacked100,
        SeriesLayout::Map,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SeriesLayout::Default => "default",
            SeriesLayout::Unstacked => "unstacked",
            SeriesLayout::Stacked => "stacked",
            SeriesLayout::Stacked100 => "stacked100",
            SeriesLayout::Map => "map",
        }
    }
}

/// `xaxis=`/`yaxis=`: the axis scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisScale {
    Linear,
    Log,
}

impl AxisScale {
    pub const ALL: [AxisScale; 2] = [AxisScale::Linear, AxisScale::Log];

    pub fn name(self) -> &'static str {
        match self {
            AxisScale::Linear => "linear",
            AxisScale::Log => "log",
        }
    }
}

/// `legend=`: whether the legend is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    Visible,
    Hidden,
}

impl Legend {
    pub const ALL: [Legend; 2] = [Legend::Visible, Legend::Hidden];

    pub fn name(self) -> &'static str {
        match self {
            Legend::Visible => "visible",
            Legend::Hidden => "hidden",
        }
    }
}

/// `ysplit=`: whether each y column gets its own axis or panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YSplit {
    None,
    Axes,
    Panels,
}

impl YSplit {
    pub const ALL: [YSplit; 3] = [YSplit::None, YSplit::Axes, YSplit::Panels];

    pub fn name(self) -> &'static str {
        match self {
            YSplit::None => "none",
            YSplit::Axes => "axes",
            YSplit::Panels => "panels",
        }
    }
}

/// `xmin=`/`xmax=`: a number, or an instant on a time axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AxisBound {
    Real(f64),
    /// Nanoseconds since the Unix epoch.
    Datetime(i64),
}

impl AxisBound {
    /// The bound on a numeric axis (instants as nanoseconds).
    pub fn as_f64(self) -> f64 {
        match self {
            AxisBound::Real(v) => v,
            AxisBound::Datetime(t) => t as f64,
        }
    }

    fn to_json(self) -> Value {
        match self {
            AxisBound::Real(v) => real_json(v),
            AxisBound::Datetime(t) => json!(crate::time::format_datetime_text(t)),
        }
    }
}

/// The visualization of a query result: `render`'s chart and properties.
/// Absent properties are `None` (or empty lists), so the drawer applies
/// Kusto's defaults and the REST response sends `null`.
#[derive(Clone, Debug, PartialEq)]
pub struct Visualization {
    pub chart: ChartKind,
    pub kind: Option<SeriesLayout>,
    pub title: Option<String>,
    pub xcolumn: Option<String>,
    pub ycolumns: Vec<String>,
    /// Columns whose values together name a series.
    pub series: Vec<String>,
    /// For anomaly charts: columns whose non-zero values mark anomalies.
    pub anomaly_columns: Vec<String>,
    pub xtitle: Option<String>,
    pub ytitle: Option<String>,
    pub xaxis: Option<AxisScale>,
    pub yaxis: Option<AxisScale>,
    pub legend: Option<Legend>,
    pub ysplit: Option<YSplit>,
    /// Whether each y value adds to the previous ones.
    pub accumulate: bool,
    pub ymin: Option<f64>,
    pub ymax: Option<f64>,
    pub xmin: Option<AxisBound>,
    pub xmax: Option<AxisBound>,
}

impl Visualization {
    /// A chart with no properties set.
    pub fn new(chart: ChartKind) -> Visualization {
        Visualization {
            chart,
            kind: None,
            title: None,
            xcolumn: None,
            ycolumns: Vec::new(),
            series: Vec::new(),
            anomaly_columns: Vec::new(),
            xtitle: None,
            ytitle: None,
            xaxis: None,
            yaxis: None,
            legend: None,
            ysplit: None,
            accumulate: false,
            ymin: None,
            ymax: None,
            xmin: None,
            xmax: None,
        }
    }

    /// The `Visualization` value of Kusto's `@ExtendedProperties` table:
    /// the same keys in the same order, lists joined with commas, `null`
    /// for what is unset and `"NaN"` for unset y bounds.
    pub fn to_kusto_json(&self) -> Value {
        let list = |names: &[String]| if names.is_empty() { Value::Null } else { json!(names.join(",")) };
        json!({
            "Visualization": self.chart.name(),
            "Title": self.title,
            "XColumn": self.xcolumn,
            "Series": list(&self.series),
            "YColumns": list(&self.ycolumns),
            "AnomalyColumns": list(&self.anomaly_columns),
            "XTitle": self.xtitle,
            "YTitle": self.ytitle,
            "XAxis": self.xaxis.map(AxisScale::name),
            "YAxis": self.yaxis.map(AxisScale::name),
            "Legend": self.legend.map(Legend::name),
            "YSplit": self.ysplit.map(YSplit::name),
            "Accumulate": self.accumulate,
            "IsQuerySorted": false,
            "Kind": self.kind.map(SeriesLayout::name),
            "Ymin": real_json(self.ymin.unwrap_or(f64::NAN)),
            "Ymax": real_json(self.ymax.unwrap_or(f64::NAN)),
            "Xmin": self.xmin.map_or(Value::Null, AxisBound::to_json),
            "Xmax": self.xmax.map_or(Value::Null, AxisBound::to_json),
        })
    }

    /// The `render` property of a Log Analytics response (sent when the
    /// request says `Prefer: include-render=true`): the documented keys
    /// (`visualization`, `title`, `accumulate`, `isQuerySorted`, `kind`,
    /// `annotation`, `by`) always, Kusto's other properties, camel-cased,
    /// only where the query set them.
    pub fn to_log_analytics_json(&self) -> Value {
        let mut value = json!({
            "visualization": self.chart.name(),
            "title": self.title.as_deref().unwrap_or_default(),
            "accumulate": self.accumulate,
            "isQuerySorted": false,
            "kind": self.kind.unwrap_or(SeriesLayout::Default).name(),
            "annotation": "",
            "by": if self.series.is_empty() { Value::Null } else { json!(self.series) },
        });
        let object = value.as_object_mut().expect("a JSON object");
        let mut set = |key: &str, property: Option<Value>| {
            if let Some(property) = property {
                object.insert(key.to_string(), property);
            }
        };
        let list = |names: &[String]| (!names.is_empty()).then(|| json!(names));
        set("xColumn", self.xcolumn.as_ref().map(|c| json!(c)));
        set("yColumns", list(&self.ycolumns));
        set("anomalyColumns", list(&self.anomaly_columns));
        set("xTitle", self.xtitle.as_ref().map(|t| json!(t)));
        set("yTitle", self.ytitle.as_ref().map(|t| json!(t)));
        set("xAxis", self.xaxis.map(|a| json!(a.name())));
        set("yAxis", self.yaxis.map(|a| json!(a.name())));
        set("legend", self.legend.map(|l| json!(l.name())));
        set("ySplit", self.ysplit.map(|s| json!(s.name())));
        set("ymin", self.ymin.map(real_json));
        set("ymax", self.ymax.map(real_json));
        set("xmin", self.xmin.map(AxisBound::to_json));
        set("xmax", self.xmax.map(AxisBound::to_json));
        value
    }

    /// The value Kusto sends when the query has no `render`: every
    /// property null.
    pub fn kusto_json_none() -> Value {
        let mut value = Visualization::new(ChartKind::Table).to_kusto_json();
        value["Visualization"] = Value::Null;
        value
    }
}

/// A real as Kusto's JSON writes it: non-finite values as strings.
fn real_json(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}
