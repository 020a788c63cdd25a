//! One self-contained HTML page: a query's result table, and its chart
//! when the query has a `render` kqlite draws.

use crate::{draw_svg, is_drawn, ChartError};
use kqlite_engine::QueryResult;

/// Rows written into a page at most: a page stays small enough to open.
pub const MAX_PAGE_ROWS: usize = 10_000;

/// A page and, when the query asked for a chart that could not be drawn, why.
pub struct HtmlPage {
    pub html: String,
    pub chart_error: Option<ChartError>,
}

/// Text safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222}\
h1{font-size:20px}pre{background:#f5f5f5;padding:8px;white-space:pre-wrap}\
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\
th{background:#f0f0f0}.chart{margin:16px 0}.note{color:#a33}";

/// The page for `result` of `query`: the query text, the chart (inline
/// SVG) when the result has a visualization kqlite draws, and the table.
pub fn html_page(result: &QueryResult, query: &str) -> HtmlPage {
    let mut html = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let title = result.visualization.as_ref().and_then(|v| v.title.clone()).unwrap_or_else(|| "kqlite query".into());
    html.push_str(&format!("<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n", escape(&title)));
    html.push_str(&format!("<h1>{}</h1>\n<pre class=\"query\">{}</pre>\n", escape(&title), escape(query.trim())));
    let mut chart_error = None;
    if let Some(viz) = &result.visualization {
        if is_drawn(viz.chart) {
            match draw_svg(result, viz) {
                Ok(svg) => {
                    html.push_str("<div class=\"chart\">\n");
                    html.push_str(&svg);
                    html.push_str("\n</div>\n");
                }
                Err(e) => {
                    html.push_str(&format!("<p class=\"note\">No chart: {}</p>\n", escape(&e.to_string())));
                    chart_error = Some(e);
                }
            }
        }
    }
    write_table(&mut html, result);
    html.push_str("</body>\n</html>\n");
    HtmlPage { html, chart_error }
}

fn write_table(html: &mut String, result: &QueryResult) {
    let total = result.row_count();
    html.push_str(&format!("<p>{total} row{}</p>\n", if total == 1 { "" } else { "s" }));
    html.push_str("<table>\n<thead><tr>");
    for column in &result.columns {
        html.push_str(&format!("<th title=\"{}\">{}</th>", column.ty.name(), escape(&column.name)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    let mut written = 0;
    'batches: for batch in &result.batches {
        for row in 0..batch.num_rows() {
            if written == MAX_PAGE_ROWS {
                break 'batches;
            }
            html.push_str("<tr>");
            for (i, column) in result.columns.iter().enumerate() {
                let text = kqlite_engine::output::cell_text(batch.column(i).as_ref(), row, column.ty);
                html.push_str(&format!("<td>{}</td>", escape(&text)));
            }
            html.push_str("</tr>\n");
            written += 1;
        }
    }
    html.push_str("</tbody>\n</table>\n");
    if written < total {
        html.push_str(&format!("<p class=\"note\">The first {written} of {total} rows are shown.</p>\n"));
    }
}
