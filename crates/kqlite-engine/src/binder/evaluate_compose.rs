//! `evaluate` plugins that are compositions of KQL operators: each is a
//! KQL template over the plugin's input (`__plugin_input`), its scalar
//! arguments (`__plugin_<name>` lets) and its column arguments (quoted
//! names), bound like a query. The templates follow the plugins' reference
//! pages (data-explorer/kusto/query/<plugin>-plugin.md): arguments, output
//! columns and their names, and the documented examples' results.

use super::scalar::RowScope;
use super::tabular::project_plan;
use super::{naming, BindError, BindResult, Binder, Binding, Relation};
use crate::convert::{evaluate_constant, Bound};
use crate::types::{ColumnDef, KqlType};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

use super::AtSpan;

/// The name of the input relation inside a plugin template.
const INPUT: &str = "__plugin_input";

/// `name` as a KQL identifier that may hold any character: `["name"]`.
pub(super) fn quoted(name: &str) -> String {
    let mut text = String::with_capacity(name.len() + 4);
    text.push('[');
    crate::dynamic::write_json_string(&mut text, name);
    text.push(']');
    text
}

/// `, ["d1"], ["d2"]` for the dimension columns (empty without any).
fn dims_tail(dims: &[String]) -> String {
    dims.iter().map(|d| format!(", {}", quoted(d))).collect()
}

/// The KQL name of a column type, for `mv-expand … to typeof(T)`.
fn type_name(ty: KqlType) -> String {
    ty.to_string()
}

/// A constant number given to a plugin, for output column names.
fn constant_number_text(value: &Bound) -> Option<String> {
    let text = match evaluate_constant(&value.expr)? {
        ScalarValue::Int64(Some(v)) => v.to_string(),
        ScalarValue::Int32(Some(v)) => v.to_string(),
        ScalarValue::Float64(Some(v)) => v.to_string(),
        _ => return None,
    };
    Some(text.replace(['.', '-'], "_"))
}

/// The positional arguments of a plugin call; named ones are an error
/// (these plugins take none).
pub(super) fn positional<'a>(args: &'a [ast::Arg], plugin: &str) -> BindResult<Vec<&'a ast::Arg>> {
    args.iter()
        .map(|a| match &a.name {
            Some(n) => Err(BindError::new(n.span, format!("{plugin}() has no parameter '{}'", n.name))),
            None => Ok(a),
        })
        .collect()
}

/// Checks the count of positional arguments.
pub(super) fn arity(
    args: &[&ast::Arg],
    min: usize,
    max: usize,
    plugin: &str,
    usage: &str,
    span: Span,
) -> BindResult<()> {
    if args.len() < min || args.len() > max {
        return Err(BindError::new(span, format!("{plugin}() takes {usage}")));
    }
    Ok(())
}

impl<'r> Binder<'r> {
    /// Binds a plugin's KQL `template` with `bindings` (and the input as
    /// `__plugin_input`) in scope; its errors are reported at the plugin.
    pub(super) fn bind_plugin_template(
        &mut self,
        plugin: &str,
        template: &str,
        input: Relation,
        bindings: Vec<(String, Binding)>,
        span: Span,
    ) -> BindResult<Relation> {
        let parsed = kqlite_syntax::parse(template);
        if let Some(d) = parsed.diagnostics.first() {
            return Err(BindError::new(span, format!("{plugin}(): cannot build its plan: {}", d.message)));
        }
        // Templates read their input several times: a nondeterministic one
        // (built with `rand()`) must give each read the same rows.
        let input = if super::materialize::is_volatile(&input.plan) { self.computed_once(input, span)? } else { input };
        let mut scope: std::collections::HashMap<String, Binding> = bindings.into_iter().collect();
        scope.insert(INPUT.to_string(), Binding::Tabular(input));
        self.scopes.push(scope);
        let mut result = None;
        let mut error = None;
        for statement in &parsed.query.statements {
            match self.statement(statement) {
                Ok(Some(r)) => result = Some(r),
                Ok(None) => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        self.scopes.pop();
        if let Some(e) = error {
            return Err(BindError::new(span, format!("{plugin}(): {}", e.message)));
        }
        result.ok_or_else(|| BindError::new(span, format!("{plugin}(): its plan has no result")))
    }

    /// The columns that row arguments (column names or expressions) stand
    /// for: a column of the input by name, else the expression's value as a
    /// new column of the returned input (named after the expression, or a
    /// hidden name when `hidden`).
    pub(super) fn plugin_columns(
        &mut self,
        mut input: Relation,
        args: &[&ast::Arg],
        hidden: bool,
    ) -> BindResult<(Relation, Vec<String>)> {
        let mut names = Vec::new();
        let mut added: Vec<(String, Bound)> = Vec::new();
        for arg in args {
            if let ExprKind::Name(id) = &arg.value.kind {
                if input.column(&id.name).is_some() {
                    names.push(id.name.clone());
                    continue;
                }
            }
            let value = self.scalar(&arg.value, &mut RowScope::new(&input.columns))?;
            let mut taken: Vec<String> = input.columns.iter().map(|c| c.name.clone()).collect();
            taken.extend(added.iter().map(|(n, _)| n.clone()));
            let name = if hidden {
                self.fresh("plugin_arg")
            } else {
                let wanted =
                    naming::expression_name(&arg.value).unwrap_or_else(|| format!("Column{}", names.len() + 1));
                naming::unique_name(&wanted, &taken)
            };
            names.push(name.clone());
            added.push((name, value));
        }
        if !added.is_empty() {
            let mut exprs: Vec<Expr> = input.columns.iter().map(|c| super::col_ref(&c.name)).collect();
            exprs.extend(added.iter().map(|(n, b)| b.expr.clone().alias(n)));
            let span = args.first().map(|a| a.value.span).unwrap_or_default();
            input.plan = project_plan(input.plan, exprs).at(span)?;
            input.columns.extend(added.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)));
        }
        Ok((input, names))
    }

    /// A plugin's key columns, the arguments at `keys`, then its dimensions,
    /// every argument from `first_dimension` on, bound as columns of `input`
    /// ([`Self::plugin_columns`]).
    pub(super) fn key_and_dimension_columns(
        &mut self,
        input: Relation,
        args: &[&ast::Arg],
        keys: &[usize],
        first_dimension: usize,
    ) -> BindResult<(Relation, Vec<String>)> {
        let mut columns: Vec<&ast::Arg> = keys.iter().map(|&k| args[k]).collect();
        columns.extend(&args[first_dimension.min(args.len())..]);
        self.plugin_columns(input, &columns, false)
    }

    /// Scalar arguments as `__plugin_<name>` lets.
    pub(super) fn plugin_scalars(&mut self, named: &[(&str, &ast::Arg)]) -> BindResult<Vec<(String, Binding)>> {
        named
            .iter()
            .map(|(name, arg)| Ok((format!("__plugin_{name}"), Binding::Scalar(self.constant(&arg.value)?))))
            .collect()
    }

    /// `activity_counts_metrics(IdColumn, TimelineColumn, Start, End, Step [, Dim…])`:
    /// per step window from `Start` to `End`, the count of records, the
    /// distinct ids, the ids never seen in an earlier window, and the
    /// distinct ids seen from `Start` up to this window.
    pub(super) fn activity_counts_metrics(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "activity_counts_metrics";
        let args = positional(args, P)?;
        arity(&args, 5, usize::MAX, P, "IdColumn, TimelineColumn, Start, End, Step and optional dimensions", span)?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], 5)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let t_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let bindings = self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("step", args[4])])?;
        let d = dims_tail(dims);
        let template = format!(
            "let __rows = {INPUT} | extend __bin = bin_at({t}, __plugin_step, __plugin_start) \
               | where __bin >= __plugin_start and __bin <= __plugin_end;\n\
             let __firsts = __rows | summarize __first = min(__bin) by __id = {id}{d};\n\
             let __new = __firsts | summarize __new = count() by __bin = __first{d};\n\
             let __total = __firsts | extend __bins = range(__first, __plugin_end, __plugin_step) \
               | mv-expand __bin = __bins to typeof({t_ty}) | summarize __total = count() by __bin{d};\n\
             __rows | summarize __count = count(), __dcount = dcount({id}) by __bin{d}\n\
             | lookup kind=leftouter __new on __bin{d}\n\
             | lookup kind=leftouter __total on __bin{d}\n\
             | order by __bin asc\n\
             | project {t} = __bin{d}, ['count'] = __count, dcount = __dcount, new_dcount = coalesce(__new, 0), \
               aggregated_dcount = coalesce(__total, 0)"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `sliding_window_counts(IdColumn, TimelineColumn, Start, End, LookbackWindow, Bin [, Dim…])`:
    /// per bin from `Start` to `End`, the count of records and of distinct
    /// ids in the lookback window that ends with the bin.
    pub(super) fn sliding_window_counts(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "sliding_window_counts";
        let args = positional(args, P)?;
        arity(
            &args,
            6,
            usize::MAX,
            P,
            "IdColumn, TimelineColumn, Start, End, LookbackWindow, Bin and optional dimensions",
            span,
        )?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], 6)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let t_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let bindings =
            self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("lookback", args[4]), ("bin", args[5])])?;
        let d = dims_tail(dims);
        // A record of bin b is in the windows of bins b … b + lookback - bin.
        let template = format!(
            "{INPUT} | extend __bin = bin_at({t}, __plugin_bin, __plugin_start)\n\
             | extend __bins = range(__bin, __bin + __plugin_lookback - __plugin_bin, __plugin_bin)\n\
             | mv-expand __to = __bins to typeof({t_ty})\n\
             | where __to >= __plugin_start and __to <= __plugin_end\n\
             | summarize Count = count(), dcount = dcount({id}) by __to{d}\n\
             | order by __to asc\n\
             | project {t} = __to{d}, Count, dcount"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `rolling_percentile(ValueColumn, Percentile, IndexColumn, BinSize, BinsPerWindow [, Dim…])`:
    /// per bin of the index, the percentile of the values in the window of
    /// `BinsPerWindow` bins that ends with it, in the column
    /// `rolling_<BinsPerWindow>_percentile_<ValueColumn>_<Percentile>`.
    pub(super) fn rolling_percentile(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "rolling_percentile";
        let args = positional(args, P)?;
        arity(
            &args,
            5,
            usize::MAX,
            P,
            "ValueColumn, Percentile, IndexColumn, BinSize, BinsPerWindow and optional dimensions",
            span,
        )?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 2], 5)?;
        let (value, index, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let index_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let bindings = self.plugin_scalars(&[("percentile", args[1]), ("binsize", args[3]), ("window", args[4])])?;
        let constant_text = |b: &Binding, what: &str| match b {
            Binding::Scalar(v) => constant_number_text(v)
                .ok_or_else(|| BindError::new(span, format!("{P}(): {what} must be a constant number"))),
            _ => Err(BindError::new(span, format!("{P}(): {what} must be a constant number"))),
        };
        let percentile = constant_text(&bindings[0].1, "the percentile")?;
        let window = constant_text(&bindings[2].1, "the bins per window")?;
        let output = quoted(&format!("rolling_{window}_percentile_{}_{percentile}", names[0]));
        let d = dims_tail(dims);
        // A value of bin b is in the windows of bins b … b + (n-1)·size,
        // up to the last bin with data.
        let template = format!(
            "let __rows = {INPUT} | extend __bin = bin({index}, __plugin_binsize);\n\
             let __last = toscalar(__rows | summarize max(__bin));\n\
             __rows\n\
             | extend __bins = range(__bin, __bin + (__plugin_window - 1) * __plugin_binsize, __plugin_binsize)\n\
             | mv-expand __to = __bins to typeof({index_ty})\n\
             | where __to <= __last\n\
             | summarize __p = percentile({value}, __plugin_percentile) by __to{d}\n\
             | order by __to asc\n\
             | project {index} = __to{d}, {output} = __p"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `rows_near(Condition, NumRows [, NumRowsAfter])`: the rows within
    /// `NumRows` rows before and `NumRowsAfter` (default `NumRows`) rows
    /// after a row where `Condition` holds, in the input's order.
    pub(super) fn rows_near(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        const P: &str = "rows_near";
        let args = positional(args, P)?;
        arity(&args, 2, 3, P, "a condition, the rows before and optionally the rows after", span)?;
        let output: Vec<String> = input.columns.iter().map(|c| quoted(&c.name)).collect();
        let (input, names) = self.plugin_columns(input, &args[..1], true)?;
        if input.column(&names[0]).map(|c| c.ty) != Some(KqlType::Bool) {
            return Err(BindError::new(args[0].value.span, format!("{P}(): the condition must be a boolean")));
        }
        let condition = quoted(&names[0]);
        let after = args.get(2).copied().unwrap_or(args[1]);
        let bindings = self.plugin_scalars(&[("before", args[1]), ("after", after)])?;
        let template = format!(
            "let __rows = {INPUT} | serialize __rn = row_number();\n\
             let __near = __rows | where {condition}\n\
               | extend __range = range(__rn - __plugin_before, __rn + __plugin_after, 1)\n\
               | mv-expand __n = __range to typeof(long) | distinct __n;\n\
             __rows | where __rn in (__near) | order by __rn asc | project {}",
            output.join(", ")
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `dcount_intersect(hll1, hll2, …)`: the input with `s0 … s(n-1)`,
    /// where `s_i` is the distinct count of the values in all of the first
    /// `i + 1` sketches (kqlite's sketches are exact sets).
    pub(super) fn dcount_intersect(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        const P: &str = "dcount_intersect";
        let args = positional(args, P)?;
        arity(&args, 1, 16, P, "1 to 16 hll sketches", span)?;
        let output: Vec<String> = input.columns.iter().map(|c| quoted(&c.name)).collect();
        let (input, names) = self.plugin_columns(input, &args, true)?;
        for (name, arg) in names.iter().zip(&args) {
            if input.column(name).map(|c| c.ty) != Some(KqlType::Dynamic) {
                return Err(BindError::new(arg.value.span, format!("{P}(): expected an hll sketch (dynamic)")));
            }
        }
        let sketches: Vec<String> = names.iter().map(|n| quoted(n)).collect();
        let mut counts = vec![format!("s0 = dcount_hll({})", sketches[0])];
        for i in 1..sketches.len() {
            counts.push(format!("s{i} = coalesce(array_length(set_intersect({})), 0)", sketches[..=i].join(", ")));
        }
        let mut projected = output;
        projected.extend((0..sketches.len()).map(|i| format!("s{i}")));
        let template = format!("{INPUT} | extend {} | project {}", counts.join(", "), projected.join(", "));
        self.bind_plugin_template(P, &template, input, Vec::new(), span)
    }

    /// `narrow()`: each cell of the input as a row of `Row` (the input row's
    /// number from 0), `Column` (its name) and `Value` (as text).
    pub(super) fn narrow(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        let args = positional(args, "narrow")?;
        arity(&args, 0, 0, "narrow", "no arguments", span)?;
        let template = format!(
            "{INPUT} | extend __bag = pack_all() | serialize Row = row_number() - 1\n\
             | mv-expand __bag | extend Column = tostring(bag_keys(__bag)[0])\n\
             | project Row, Column, Value = tostring(__bag[Column])"
        );
        self.bind_plugin_template("narrow", &template, input, Vec::new(), span)
    }

    /// `preview(NumberOfRows)`: the first rows of the input. (Kusto also
    /// returns a second table with the total count; a kqlite query has one
    /// result.)
    pub(super) fn preview(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        let args = positional(args, "preview")?;
        arity(&args, 1, 1, "preview", "the number of rows", span)?;
        let bindings = self.plugin_scalars(&[("rows", args[0])])?;
        self.bind_plugin_template("preview", &format!("{INPUT} | take __plugin_rows"), input, bindings, span)
    }

    /// `session_count(IdColumn, TimelineColumn, Start, End, Bin, LookBackWindow [, Dim…])`:
    /// per bin from `Start` to `End`, `count_sessions`: the distinct ids
    /// with a session in the bin, an id's session lasting from each of its
    /// records for `LookBackWindow` (a record within the lookback of an
    /// earlier one continues its session).
    pub(super) fn session_count(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        const P: &str = "session_count";
        let args = positional(args, P)?;
        arity(
            &args,
            6,
            usize::MAX,
            P,
            "IdColumn, TimelineColumn, Start, End, Bin, LookBackWindow and optional dimensions",
            span,
        )?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], 6)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let t_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let bindings =
            self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("bin", args[4]), ("lookback", args[5])])?;
        let d = dims_tail(dims);
        let template = format!(
            "{INPUT} | extend __bin = bin_at({t}, __plugin_bin, __plugin_start)\n\
             | extend __bins = range(__bin, bin_at({t} + __plugin_lookback, __plugin_bin, __plugin_start), __plugin_bin)\n\
             | mv-expand __to = __bins to typeof({t_ty})\n\
             | where __to >= __plugin_start and __to <= __plugin_end\n\
             | summarize count_sessions = dcount({id}) by __to{d}\n\
             | order by __to asc\n\
             | project {t} = __to{d}, count_sessions"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `active_users_count(IdColumn, TimelineColumn, Start, End, LookbackWindow, Period, ActivePeriodsCount, Bin [, Dim…])`:
    /// per bin from `Start`, the distinct ids with a record in the bin that
    /// is active: the id has records in at least `ActivePeriodsCount`
    /// distinct periods within (record - LookbackWindow, record].
    pub(super) fn active_users_count(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "active_users_count";
        let args = positional(args, P)?;
        arity(
            &args,
            8,
            usize::MAX,
            P,
            "IdColumn, TimelineColumn, Start, End, LookbackWindow, Period, ActivePeriodsCount, Bin and optional dimensions",
            span,
        )?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], 8)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let bindings = self.plugin_scalars(&[
            ("start", args[2]),
            ("end", args[3]),
            ("lookback", args[4]),
            ("period", args[5]),
            ("active", args[6]),
            ("bin", args[7]),
        ])?;
        let d = dims_tail(dims);
        let template = format!(
            "let __a = {INPUT} | project __id = {id}, __t = {t}{d};\n\
             __a | where __t >= __plugin_start and __t <= __plugin_end\n\
             | join kind=inner (__a | project __id, __t2 = __t{d}) on __id{d}\n\
             | where __t2 > __t - __plugin_lookback and __t2 <= __t\n\
             | summarize __periods = dcount(bin(__t2, __plugin_period)) by __id, __t{d}\n\
             | where __periods >= __plugin_active\n\
             | summarize dcount = dcount(__id) by __bin = bin_at(__t, __plugin_bin, __plugin_start){d}\n\
             | order by __bin asc\n\
             | project {t} = __bin{d}, dcount"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `activity_engagement(IdColumn, TimelineColumn, [Start, End,] InnerActivityWindow, OuterActivityWindow [, Dim…])`:
    /// per inner window, the distinct ids in it, in the outer window that
    /// ends with it, and their ratio. Without `Start`/`End` the data's
    /// first and last times bound the analysis.
    pub(super) fn activity_engagement(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "activity_engagement";
        let args = positional(args, P)?;
        arity(
            &args,
            4,
            usize::MAX,
            P,
            "IdColumn, TimelineColumn, [Start, End,] InnerActivityWindow, OuterActivityWindow and optional dimensions",
            span,
        )?;
        // The third argument is a datetime when Start and End are given.
        let third = self.constant(&args[2].value)?;
        let bounded = third.ty == KqlType::Datetime && args.len() >= 6;
        let first_dim = if bounded { 6 } else { 4 };
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], first_dim)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let t_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let bindings = if bounded {
            self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("inner", args[4]), ("outer", args[5])])?
        } else {
            self.plugin_scalars(&[("inner", args[2]), ("outer", args[3])])?
        };
        let bounds = if bounded {
            String::new()
        } else {
            format!(
                "let __plugin_start = toscalar({INPUT} | summarize min({t}));\n\
                 let __plugin_end = toscalar({INPUT} | summarize max({t}));\n"
            )
        };
        let d = dims_tail(dims);
        // A record of bin b is in the outer windows of bins b … b + outer - inner.
        let template = format!(
            "{bounds}\
             let __rows = {INPUT} | extend __bin = bin_at({t}, __plugin_inner, __plugin_start)\n\
               | where __bin >= __plugin_start and __bin <= __plugin_end;\n\
             let __inner = __rows | summarize __inner = dcount({id}) by __bin{d};\n\
             __rows | extend __bins = range(__bin, __bin + __plugin_outer - __plugin_inner, __plugin_inner)\n\
             | mv-expand __to = __bins to typeof({t_ty})\n\
             | where __to <= __plugin_end\n\
             | summarize __outer = dcount({id}) by __bin = __to{d}\n\
             | lookup kind=leftouter __inner on __bin{d}\n\
             | extend __inner = coalesce(__inner, 0)\n\
             | order by __bin asc\n\
             | project {t} = __bin, dcount_activities_inner = __inner, dcount_activities_outer = __outer, \
               activity_ratio = todouble(__inner) / __outer{d}"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `activity_metrics(IdColumn, TimelineColumn, Start, End, Window [, Dim…])`:
    /// per window, the distinct ids (`dcount_values`), those not seen in an
    /// earlier window (`dcount_newvalues`), and the share of the previous
    /// window's ids seen again (`retention_rate`) or not (`churn_rate`);
    /// NaN for the first window.
    pub(super) fn activity_metrics(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        const P: &str = "activity_metrics";
        let args = positional(args, P)?;
        arity(&args, 5, usize::MAX, P, "IdColumn, TimelineColumn, Start, End, Window and optional dimensions", span)?;
        let (input, names) = self.key_and_dimension_columns(input, &args, &[0, 1], 5)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let bindings = self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("window", args[4])])?;
        let d = dims_tail(dims);
        let template = format!(
            "let __present = {INPUT} | extend __bin = bin_at({t}, __plugin_window, __plugin_start)\n\
               | where __bin >= __plugin_start and __bin <= __plugin_end | summarize by __id = {id}, __bin{d};\n\
             let __firsts = __present | summarize __first = min(__bin) by __id{d};\n\
             let __counts = __present | lookup kind=leftouter __firsts on __id{d}\n\
               | summarize dcount_values = count(), dcount_newvalues = countif(__first == __bin) by __bin{d};\n\
             let __prev = __counts | project __bin = __bin + __plugin_window, __prev = dcount_values{d};\n\
             let __retained = __present | extend __bin = __bin + __plugin_window\n\
               | join kind=inner __present on __id, __bin{d} | summarize __retained = count() by __bin{d};\n\
             __counts\n\
             | lookup kind=leftouter __prev on __bin{d}\n\
             | lookup kind=leftouter __retained on __bin{d}\n\
             | extend retention_rate = iff(isnull(__prev), real(nan), todouble(coalesce(__retained, 0)) / __prev)\n\
             | order by __bin asc\n\
             | project {t} = __bin, dcount_values, dcount_newvalues, retention_rate, churn_rate = 1.0 - retention_rate{d}"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }

    /// `new_activity_metrics(IdColumn, TimelineColumn, Start, End, Window [, Cohort] [, Dim…] [, Lookback])`:
    /// for each cohort (the ids first seen in a window, ids of the
    /// `Lookback` table never new) and each later window: the ids of that
    /// window not seen up to the cohort's window, the cohort's ids seen in
    /// it and not, and their shares of the cohort.
    pub(super) fn new_activity_metrics(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "new_activity_metrics";
        let args = positional(args, P)?;
        arity(
            &args,
            5,
            usize::MAX,
            P,
            "IdColumn, TimelineColumn, Start, End, Window, [Cohort,] [dimensions…,] [Lookback]",
            span,
        )?;
        let mut rest: Vec<&ast::Arg> = args[5..].to_vec();
        let lookback = match rest.last() {
            Some(last)
                if !matches!(&last.value.kind, ExprKind::Name(id) if input.column(&id.name).is_some())
                    && self.is_tabular(&last.value) =>
            {
                let arg = rest.pop().expect("a last argument");
                Some(self.tabular(&arg.value)?)
            }
            _ => None,
        };
        // A constant datetime before the dimensions is the cohort.
        let cohort = match rest.first() {
            Some(first)
                if !matches!(&first.value.kind, ExprKind::Name(id) if input.column(&id.name).is_some())
                    && self.constant(&first.value).is_ok_and(|b| b.ty == KqlType::Datetime) =>
            {
                Some(rest.remove(0))
            }
            _ => None,
        };
        let mut columns = vec![args[0], args[1]];
        columns.extend(rest);
        let (input, names) = self.plugin_columns(input, &columns, false)?;
        let (id, t, dims) = (quoted(&names[0]), quoted(&names[1]), &names[2..]);
        let t_ty = type_name(input.column(&names[1]).expect("a column").ty);
        let mut scalars = vec![("start", args[2]), ("end", args[3]), ("window", args[4])];
        if let Some(c) = cohort {
            scalars.push(("cohort", c));
        }
        let mut bindings = self.plugin_scalars(&scalars)?;
        let d = dims_tail(dims);
        let not_lookback = match lookback {
            Some(table) => {
                if table.column(&names[0]).is_none() {
                    return Err(BindError::new(
                        span,
                        format!("{P}(): the lookback table has no column '{}'", names[0]),
                    ));
                }
                bindings.push(("__plugin_lookback".to_string(), Binding::Tabular(table)));
                format!(" | join kind=leftanti (__plugin_lookback | distinct __id = {id}) on __id")
            }
            None => String::new(),
        };
        let only_cohort = if cohort.is_some() {
            " | where __from == bin_at(__plugin_cohort, __plugin_window, __plugin_start)"
        } else {
            ""
        };
        let from = quoted(&format!("from_{}", names[1]));
        let to = quoted(&format!("to_{}", names[1]));
        // New ids of window `to` for cohort `from`: first seen after `from`,
        // or (for to == from) the cohort itself.
        let template = format!(
            "let __present = {INPUT} | extend __bin = bin_at({t}, __plugin_window, __plugin_start)\n\
               | where __bin >= __plugin_start and __bin <= __plugin_end | summarize by __id = {id}, __bin{d};\n\
             let __firsts = __present | summarize __first = min(__bin) by __id{d}{not_lookback};\n\
             let __cohorts = __firsts | summarize __cohort = count() by __from = __first{d}{only_cohort};\n\
             let __pairs = __present | lookup kind=inner __firsts on __id{d};\n\
             let __retained = __pairs | summarize __retained = count() by __from = __first, __to = __bin{d};\n\
             let __new = __pairs\n\
               | extend __froms = range(__plugin_start, iff(__first == __bin, __first, __first - __plugin_window), __plugin_window)\n\
               | mv-expand __from = __froms to typeof({t_ty})\n\
               | summarize __new = count() by __from, __to = __bin{d};\n\
             __cohorts | extend __tos = range(__from, __plugin_end, __plugin_window)\n\
             | mv-expand __to = __tos to typeof({t_ty})\n\
             | lookup kind=leftouter __retained on __from, __to{d}\n\
             | lookup kind=leftouter __new on __from, __to{d}\n\
             | extend __retained = coalesce(__retained, 0), __new = coalesce(__new, 0)\n\
             | project {from} = __from, {to} = __to, dcount_new_values = __new, dcount_retained_values = __retained, \
               dcount_churn_values = __cohort - __retained, retention_rate = todouble(__retained) / __cohort, \
               churn_rate = todouble(__cohort - __retained) / __cohort{d}"
        );
        self.bind_plugin_template(P, &template, input, bindings, span)
    }
}
