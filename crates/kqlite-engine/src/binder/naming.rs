//! Names Kusto gives to output columns.

use kqlite_syntax::ast::{self, ExprKind};

/// Functions whose result keeps the name of their first argument
/// (`tostring(Account)` is named `Account`), as Microsoft's binder names them.
const KEEPS_ARGUMENT_NAME: &[&str] = &[
    // Swept with Microsoft's binder: `project f(c)` for every visible
    // scalar function and argument type; these name the column `c`.
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "bin",
    "bin_at",
    "binary_and",
    "binary_not",
    "binary_or",
    "binary_shift_left",
    "binary_shift_right",
    "binary_xor",
    "bitset_count_ones",
    "ceiling",
    "cos",
    "erf",
    "erfc",
    "exp",
    "exp10",
    "exp2",
    "floor",
    "format_bytes",
    // `format_datetime(Timestamp, 'y-M-d')` is `Timestamp` (Anomaly of
    // MailItemAccess by GraphAPI [Nobelium].yaml).
    "format_datetime",
    "format_timespan",
    "gamma",
    "log",
    "log10",
    "log2",
    "loggamma",
    "parse_csv",
    "parse_json",
    "parse_xml",
    "pow",
    "round",
    "series_fill_backward",
    "series_fill_const",
    "series_fill_forward",
    "series_fill_linear",
    "series_fir",
    "series_iir",
    "series_outliers",
    "sin",
    "split",
    "sqrt",
    "startofday",
    "tan",
    "tobool",
    "toboolean",
    "todatetime",
    "todecimal",
    "todouble",
    "todynamic",
    "toguid",
    "tohex",
    "toint",
    "tolong",
    "toreal",
    "tostring",
    "totimespan",
    // Hidden or deprecated names the sweep does not list, kept as before.
    "toobject",
    "parsejson",
    "bin_auto",
];

/// Functions named `<prefix>_<argument>` (`strlen(a)` is `strlen_a`).
const PREFIXES_ARGUMENT_NAME: &[(&str, &str)] = &[
    ("strlen", "strlen"),
    ("string_size", "string_size"),
    ("gettype", "type"),
    ("dcount_hll", "dcount_hll"),
    ("percentile_tdigest", "percentile_tdigest"),
    ("percentiles_array_tdigest", "percentile_tdigest"),
    ("repeat", "repeat"),
    ("treepath", "tree"),
];

/// Functions named `<argument>_<suffix>`: `array_sort_asc(a)` is `a_sorted`
/// (Microsoft's binder).
const SUFFIXES_ARGUMENT_NAME: &[(&str, &str)] = &[("array_sort_asc", "sorted"), ("array_sort_desc", "sorted")];

/// Functions whose column has a fixed name: `hll_merge(a, b)` is
/// `hll_merged_result` (Microsoft's binder).
const FIXED_NAME: &[(&str, &str)] = &[("hll_merge", "hll_merged_result")];

/// The name of an unnamed output column when Kusto derives one from the
/// expression: a column keeps its name, `d.a.b` becomes `d_a_b`,
/// conversions and rounding keep their argument's name. `None` means the
/// caller numbers it (`Column1`, `print_0`, …).
pub fn expression_name(expr: &ast::Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Paren(inner) => expression_name(inner),
        ExprKind::Member { target, name } => {
            let base = expression_name(target)?;
            Some(format!("{base}_{}", name.name))
        }
        ExprKind::Index { target, index } => {
            let base = expression_name(target)?;
            match &index.kind {
                ExprKind::Literal(ast::Literal::String { value, .. }) => Some(format!("{base}_{value}")),
                ExprKind::Literal(ast::Literal::Long(n)) => Some(format!("{base}_{n}")),
                _ => None,
            }
        }
        // A named argument names the column: `round(FailureRate = x * 100)`
        // is `FailureRate` (LoginSpikeWithIncreaseFailureRate.yaml).
        ExprKind::Call { func, args } if KEEPS_ARGUMENT_NAME.contains(&func.name.as_str()) => {
            let first = args.first()?;
            first.name.as_ref().map(|n| n.name.clone()).or_else(|| expression_name(&first.value))
        }
        ExprKind::Call { func, .. } if FIXED_NAME.iter().any(|(f, _)| *f == func.name) => {
            FIXED_NAME.iter().find(|(f, _)| *f == func.name).map(|(_, name)| name.to_string())
        }
        ExprKind::Call { func, args } => {
            let arg = args.first().and_then(|a| expression_name(&a.value))?;
            if let Some((_, suffix)) = SUFFIXES_ARGUMENT_NAME.iter().find(|(f, _)| *f == func.name) {
                return Some(format!("{arg}_{suffix}"));
            }
            let (_, prefix) = PREFIXES_ARGUMENT_NAME.iter().find(|(f, _)| *f == func.name)?;
            Some(format!("{prefix}_{arg}"))
        }
        _ => None,
    }
}

/// The name of an unnamed summarize item that wraps an aggregation in
/// name-keeping calls, as Microsoft's binder names it: `tostring(make_set(p))`
/// is `set_p`, `strlen(tostring(make_list(p)))` is `strlen_list_p`.
/// `prefix_of` gives an aggregation's name prefix.
pub fn wrapped_aggregate_name(expr: &ast::Expr, prefix_of: &dyn Fn(&str) -> Option<&'static str>) -> Option<String> {
    let ExprKind::Call { func, args } = &expr.kind else { return None };
    if let Some(prefix) = prefix_of(&func.name) {
        return Some(aggregate_name(prefix, expr));
    }
    let first = &args.first()?.value;
    if KEEPS_ARGUMENT_NAME.contains(&func.name.as_str()) {
        return wrapped_aggregate_name(first, prefix_of);
    }
    let (_, prefix) = PREFIXES_ARGUMENT_NAME.iter().find(|(f, _)| *f == func.name)?;
    Some(format!("{prefix}_{}", wrapped_aggregate_name(first, prefix_of)?))
}

/// The first column an expression reads, for names Kusto takes from it
/// (`mv-expand split(s, ";")` expands into `s`).
pub fn first_column(expr: &ast::Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Paren(inner) => first_column(inner),
        ExprKind::Member { target, .. } | ExprKind::Index { target, .. } => first_column(target),
        ExprKind::Call { args, .. } => args.iter().find_map(|a| first_column(&a.value)),
        _ => None,
    }
}

/// The name of an unnamed aggregate: `count()` → `count_`,
/// `dcount(Computer)` → `dcount_Computer`, `make_set(x)` → `set_x`.
pub fn aggregate_name(prefix: &str, expr: &ast::Expr) -> String {
    let ExprKind::Call { func, args } = &expr.kind else { return format!("{prefix}_") };
    let arg = args.first().and_then(|a| expression_name(&a.value));
    match (func.name.as_str(), arg) {
        // `take_any(a)` keeps the column's name.
        ("take_any" | "take_anyif", Some(arg)) => arg,
        // `percentile(x, 95)` is `percentile_x_95`, and `percentilew(x, w,
        // 99.9)` is `percentile_x_99_9` (Microsoft's binder).
        (name @ ("percentile" | "percentilew"), Some(arg)) => {
            match args.get(if name == "percentile" { 1 } else { 2 }).map(|a| &a.value.kind) {
                Some(ExprKind::Literal(ast::Literal::Long(p) | ast::Literal::Real(p))) => {
                    format!("{prefix}_{arg}_{}", p.replace('.', "_"))
                }
                _ => format!("{prefix}_{arg}"),
            }
        }
        (_, Some(arg)) => format!("{prefix}_{arg}"),
        (_, None) => format!("{prefix}_"),
    }
}

/// Makes `name` unique among `taken` the way Kusto does for joins: `Name1`,
/// `Name2`, …
pub fn unique_name(name: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == name) {
        return name.to_string();
    }
    (1..).map(|i| format!("{name}{i}")).find(|candidate| !taken.iter().any(|t| t == candidate)).expect("unbounded")
}
