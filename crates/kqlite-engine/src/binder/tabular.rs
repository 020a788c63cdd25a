//! Binding tabular expressions: table references, pipelines and operators.

use super::literal::literal;
use super::scalar::RowScope;
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Binding, Function, Relation};
use crate::convert::evaluate_constant;
use crate::convert::{implicit, Bound};
use crate::functions::{self, SpecialForm};
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{lit, Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use kqlite_syntax::ast::{self, ExprKind, NamedExpr, OperatorKind};
use kqlite_syntax::suggest::{suggest, MaxDistance};
use kqlite_syntax::Span;
use std::sync::Arc;

/// A named output column.
type NamedBound = (String, Bound);
/// A named window expression, computed in a step of its own.
type NamedWindow = (String, Expr);

fn err<T>(span: Span, message: impl Into<String>) -> BindResult<T> {
    Err(BindError::new(span, message))
}

impl<'r> Binder<'r> {
    pub(super) fn tabular(&mut self, expr: &ast::Expr) -> BindResult<Relation> {
        match &expr.kind {
            ExprKind::Name(id) => self.table_name(&id.name, id.span),
            ExprKind::Paren(inner) => self.tabular(inner),
            ExprKind::Pipe { input, operator } => {
                let input = self.tabular(input)?;
                self.operator(input, operator)
            }
            ExprKind::Source(op) => self.source(op),
            ExprKind::Call { func, args } => self.tabular_call(func, args, expr.span),
            _ => err(expr.span, "expected a table here"),
        }
    }

    pub(super) fn table_name(&mut self, name: &str, span: Span) -> BindResult<Relation> {
        // `let`s shadow tables; tables come before stored functions (Log
        // Analytics keeps their names apart; a parser file named after a
        // table must not hide it).
        let binding = match self.lookup_let(name) {
            Some(binding) => Some(binding.clone()),
            None if self.resolver.table(name).is_some() => None,
            None => self.lookup(name),
        };
        match binding {
            Some(Binding::Tabular(r)) => return Ok(r),
            Some(Binding::Function(f)) if f.callable_as_view() => {
                let values = self.bind_arguments(&f, &[], span, &mut RowScope::empty())?;
                return self.tabular_function_body(&f, values, span);
            }
            Some(Binding::Scalar(_)) => return err(span, format!("'{name}' is a scalar value, not a table")),
            _ => {}
        }
        let Some((plan, columns)) = self.resolver.table(name) else {
            if let Some(error) = self.stored_error(name, span) {
                return Err(error);
            }
            let tables = self.resolver.table_names();
            let mut candidates: Vec<String> = tables;
            for scope in &self.scopes {
                candidates.extend(scope.keys().cloned());
            }
            let hint = suggest(name, candidates.iter().map(String::as_str), MaxDistance::Name)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(BindError::unresolved(span, name, format!("unknown table '{name}'{hint}")));
        };
        Ok(Relation { plan, columns })
    }

    fn tabular_call(&mut self, func: &ast::Ident, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        if let Some(Binding::Function(def)) = self.lookup(&func.name) {
            let values = self.bind_arguments(&def, args, span, &mut RowScope::empty())?;
            return self.tabular_function_body(&def, values, span);
        }
        match (functions::special_form(&func.name), args) {
            (Some(SpecialForm::Materialize), [arg]) => {
                let relation = self.tabular(&arg.value)?;
                self.computed_once(relation, span)
            }
            (Some(SpecialForm::Table), [arg]) => {
                // Kusto takes any constant string: a literal, a `let` name or
                // a function's string parameter (`table(tableName)`).
                let name = self.constant(&arg.value)?;
                match evaluate_constant(&name.expr) {
                    Some(
                        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
                    ) if name.ty == KqlType::String => self.table_name(&s, arg.value.span),
                    _ => err(arg.value.span, "table() needs the table name as a constant string"),
                }
            }
            _ => Err(self.stored_error(&func.name, func.span).unwrap_or_else(|| {
                BindError::unresolved(func.span, &func.name, format!("unknown tabular function '{}'", func.name))
            })),
        }
    }

    fn tabular_function_body(
        &mut self,
        def: &Function,
        params: Vec<(String, Binding)>,
        span: Span,
    ) -> BindResult<Relation> {
        self.function_body(def, params, span, |b, e| b.tabular(e))
    }

    /// Binds named output expressions against `columns`.
    fn named_exprs(
        &mut self,
        items: &[NamedExpr],
        columns: &[ColumnDef],
        default_prefix: &str,
    ) -> BindResult<Vec<(String, Bound)>> {
        let (out, windows) = self.named_exprs_with_windows(items, columns, default_prefix)?;
        if let Some((_, first)) = windows.first() {
            return err(
                items[0].span,
                format!("window functions such as {first} are only allowed in extend and project"),
            );
        }
        Ok(out)
    }

    /// Binds named expressions that may call window functions (`prev`,
    /// `next`, `row_number`); those are returned separately, to be computed
    /// by a window step before the projection.
    fn named_exprs_with_windows(
        &mut self,
        items: &[NamedExpr],
        columns: &[ColumnDef],
        default_prefix: &str,
    ) -> BindResult<(Vec<NamedBound>, Vec<NamedWindow>)> {
        let mut out: Vec<(String, Bound)> = Vec::new();
        let mut windows: Vec<(String, Expr)> = Vec::new();
        let mut counter = 0;
        for (position, item) in items.iter().enumerate() {
            let mut scope = RowScope { columns, join: None, aggregates: None, windows: Some(Vec::new()) };
            if let Some(several) = self.multi_output(item, &mut scope)? {
                for (alias, window) in scope.windows.take().unwrap_or_default() {
                    windows.push((format!("{alias}_{position}"), rename_window_expr(window, position)));
                }
                out.extend(several.into_iter().map(|(name, b)| (name, rename_window_refs(b, position))));
                continue;
            }
            let bound = self.scalar(&item.expr, &mut scope)?;
            for (alias, window) in scope.windows.take().unwrap_or_default() {
                // Aliases restart per item; make them unique across items.
                let unique = format!("{alias}_{position}");
                windows.push((unique, rename_window_expr(window, position)));
            }
            let bound = rename_window_refs(bound, position);
            let derived = if default_prefix == "print_" { None } else { naming::expression_name(&item.expr) };
            let name = match item.names.as_slice() {
                // `print` numbers unnamed columns by position: print_0, print_2.
                [] if default_prefix == "print_" => format!("print_{position}"),
                [] => match derived {
                    // A name derived from a call or member (`tostring(n)`
                    // beside `n`) is numbered like Kusto's: n1, n2, … (only
                    // a repeated plain column is an error; Microsoft's binder).
                    Some(n) if !matches!(item.expr.kind, ExprKind::Name(_)) => {
                        naming::unique_name(&n, &out.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())
                    }
                    Some(n) => n,
                    None => loop {
                        let candidate = format!("{default_prefix}{}", counter + 1);
                        counter += 1;
                        if !columns.iter().any(|c| c.name == candidate) && !out.iter().any(|(n, _)| *n == candidate) {
                            break candidate;
                        }
                    },
                },
                [one] => one.name.clone(),
                _ => return err(item.span, "a tuple of names needs a function that returns several columns"),
            };
            out.push((name, bound));
        }
        Ok((out, windows))
    }

    /// Adds window columns to `input` before a projection that reads them.
    fn with_windows(&self, input: Relation, windows: Vec<(String, Expr)>, span: Span) -> BindResult<Relation> {
        if windows.is_empty() {
            return Ok(input);
        }
        // A window whose argument reads another window (a session restart
        // condition using prev()) goes in a later step.
        let mut plan = input.plan;
        let mut pending = windows;
        while !pending.is_empty() {
            let waiting: Vec<String> = pending.iter().map(|(alias, _)| alias.clone()).collect();
            let (ready, later): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|(_, w)| !w.column_refs().iter().any(|c| waiting.contains(&c.name)));
            if ready.is_empty() {
                return err(span, "window functions refer to each other in a cycle");
            }
            // Identical windows (two items reading prev(x)) are computed
            // once: DataFusion's common-subexpression pass would otherwise
            // move the shared window call out of the window step.
            let mut unique: Vec<(String, Expr)> = Vec::new();
            let mut copies: Vec<(String, String)> = Vec::new();
            for (alias, w) in ready {
                match unique.iter().find(|(_, e)| *e == w) {
                    Some((first, _)) => copies.push((alias, first.clone())),
                    None => unique.push((alias, w)),
                }
            }
            // A step that later steps read is followed by a projection that
            // renames its outputs: DataFusion's common-subexpression pass
            // treats adjacent window steps as one and would compute a
            // sub-expression of the later step's arguments (`__win0 IS NULL`
            // of a null-safe `prev(h) != h`) below the earlier step, before
            // the window column it reads exists. A renaming projection is
            // never removed as redundant, so the steps stay apart.
            let barrier = !later.is_empty();
            let raw = |alias: &str| if barrier { format!("{alias}__step") } else { alias.to_string() };
            let exprs: Vec<Expr> = unique.iter().map(|(alias, w)| w.clone().alias(raw(alias))).collect();
            let input_columns = plan.schema().columns();
            plan = LogicalPlanBuilder::from(plan).window(exprs).and_then(|b| b.build()).at(span)?;
            if barrier || !copies.is_empty() {
                let mut exprs: Vec<Expr> = input_columns.into_iter().map(Expr::Column).collect();
                exprs.extend(unique.iter().map(|(alias, _)| {
                    if barrier {
                        col_ref(&raw(alias)).alias(alias)
                    } else {
                        col_ref(alias)
                    }
                }));
                exprs.extend(copies.into_iter().map(|(alias, first)| col_ref(&raw(&first)).alias(alias)));
                plan = project_plan(plan, exprs).at(span)?;
            }
            pending = later;
        }
        Ok(Relation { plan, columns: input.columns })
    }

    pub(super) fn print_relation(&mut self, columns: Vec<(String, Bound)>) -> BindResult<Relation> {
        let exprs: Vec<Expr> = columns.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = LogicalPlanBuilder::empty(true).project(exprs).and_then(|b| b.build()).at(Span::default())?;
        Ok(Relation { plan, columns: columns.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }

    /// Projects `relation` to `outputs` (name, expression) in order.
    fn project(&self, relation: Relation, outputs: Vec<(String, Bound)>, span: Span) -> BindResult<Relation> {
        project_outputs(relation.plan, outputs, span)
    }

    /// Every column of `relation`, unchanged, as outputs to add to or replace.
    pub(super) fn keep_all(relation: &Relation) -> Vec<(String, Bound)> {
        relation.columns.iter().map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))).collect()
    }

    pub(super) fn operator(&mut self, input: Relation, op: &ast::Operator) -> BindResult<Relation> {
        let span = op.span;
        match &op.kind {
            OperatorKind::Where { predicate } => {
                let mut scope = RowScope::new(&input.columns);
                let p = self.scalar(predicate, &mut scope)?;
                let p = match p.ty {
                    KqlType::Bool => p.expr,
                    KqlType::Dynamic => implicit(p, KqlType::Bool).expect("dynamic to bool").expr,
                    t => return err(predicate.span, format!("where needs a bool predicate, but this is {t}")),
                };
                let plan = LogicalPlanBuilder::from(input.plan).filter(p).and_then(|b| b.build()).at(span)?;
                Ok(Relation { plan, columns: input.columns })
            }
            OperatorKind::Extend { columns } => {
                let (new, windows) = self.named_exprs_with_windows(columns, &input.columns, "Column")?;
                check_unique(&new, span)?;
                let input = self.with_windows(input, windows, span)?;
                let mut outputs = Self::keep_all(&input);
                for (name, bound) in new {
                    set_output(&mut outputs, name, computed_here_if_read_twice(bound));
                }
                self.project(input, outputs, span)
            }
            OperatorKind::Project { columns } => {
                let (outputs, windows) = self.named_exprs_with_windows(columns, &input.columns, "Column")?;
                let input = self.with_windows(input, windows, span)?;
                check_unique(&outputs, span)?;
                let outputs = outputs.into_iter().map(|(name, b)| (name, computed_here_if_read_twice(b))).collect();
                self.project(input, outputs, span)
            }
            OperatorKind::ProjectAway { columns } => {
                let drop = self.match_patterns(columns, &input.columns)?;
                let outputs = Self::keep_all(&input).into_iter().filter(|(n, _)| !drop.contains(n)).collect();
                self.project(input, outputs, span)
            }
            OperatorKind::ProjectKeep { columns } => {
                let keep = self.match_patterns(columns, &input.columns)?;
                let outputs = Self::keep_all(&input).into_iter().filter(|(n, _)| keep.contains(n)).collect();
                self.project(input, outputs, span)
            }
            OperatorKind::ProjectRename { renames } => {
                let mut outputs = Self::keep_all(&input);
                for (new, old) in renames {
                    let ExprKind::Name(old) = &old.kind else {
                        return err(old.span, "project-rename needs an existing column name on the right of '='");
                    };
                    let Some(slot) = outputs.iter_mut().find(|(n, _)| *n == old.name) else {
                        return self.unknown_column(&old.name, old.span, &input.columns);
                    };
                    slot.0 = new.name.clone();
                }
                check_unique(&outputs, span)?;
                self.project(input, outputs, span)
            }
            OperatorKind::ProjectReorder { columns } => {
                let patterns: Vec<ast::Expr> = columns.iter().map(|k| k.expr.clone()).collect();
                let mut first: Vec<String> = Vec::new();
                for p in &patterns {
                    for name in self.match_patterns(std::slice::from_ref(p), &input.columns)? {
                        if !first.contains(&name) {
                            first.push(name);
                        }
                    }
                }
                let all = Self::keep_all(&input);
                let mut outputs: Vec<(String, Bound)> =
                    first.iter().filter_map(|n| all.iter().find(|(m, _)| m == n).cloned()).collect();
                outputs.extend(all.into_iter().filter(|(n, _)| !first.contains(n)));
                self.project(input, outputs, span)
            }
            OperatorKind::Summarize { aggregates, by, .. } => self.summarize(input, aggregates, by, span),
            OperatorKind::Sort { keys, .. } => {
                let sort = self.sort_keys(keys, &input.columns)?;
                // Kusto sorts what reaches it: `take 2 | order by x` sorts two
                // rows. DataFusion 55's EnforceSorting pushes a sort without a
                // fetch below a limit (turning it into a top-N over all rows,
                // apache/datafusion#25378); a sort whose fetch is the input's
                // bound is kept above the limit. The bound is computed
                // without overflow (DataFusion's `max_rows` overflows on
                // joins of a few thousand rows).
                let fetch = super::row_bound::max_rows_checked(&input.plan);
                let plan = LogicalPlanBuilder::from(input.plan)
                    .sort_with_limit(sort, fetch)
                    .and_then(|b| b.build())
                    .at(span)?;
                Ok(Relation { plan, columns: input.columns })
            }
            OperatorKind::Top { count, by } => {
                let n = self.count_value(count)?;
                let sort = self.sort_keys(std::slice::from_ref(by), &input.columns)?;
                let plan = LogicalPlanBuilder::from(input.plan)
                    .sort_with_limit(sort, Some(n))
                    .and_then(|b| b.build())
                    .at(span)?;
                Ok(Relation { plan, columns: input.columns })
            }
            OperatorKind::Sample { count } => self.sample(input, count, span),
            OperatorKind::SampleDistinct { count, of } => self.sample_distinct(input, count, of, span),
            OperatorKind::Take { count, .. } => {
                let n = self.count_value(count)?;
                let plan = LogicalPlanBuilder::from(input.plan).limit(0, Some(n)).and_then(|b| b.build()).at(span)?;
                Ok(Relation { plan, columns: input.columns })
            }
            OperatorKind::Count => {
                let count = datafusion::functions_aggregate::expr_fn::count(lit(1i64)).alias("Count");
                let plan = LogicalPlanBuilder::from(input.plan)
                    .aggregate(Vec::<Expr>::new(), vec![count])
                    .and_then(|b| b.build())
                    .at(span)?;
                Ok(Relation { plan, columns: vec![ColumnDef::new("Count", KqlType::Long)] })
            }
            OperatorKind::Distinct { columns, .. } => {
                let projected = if matches!(columns.as_slice(), [c] if matches!(c.expr.kind, ExprKind::Star)) {
                    input
                } else {
                    let outputs = self.named_exprs(columns, &input.columns, "Column")?;
                    self.project(input, outputs, span)?
                };
                let plan = LogicalPlanBuilder::from(projected.plan).distinct().and_then(|b| b.build()).at(span)?;
                Ok(Relation { plan, columns: projected.columns })
            }
            OperatorKind::Serialize { columns } => {
                if columns.is_empty() {
                    return Ok(input);
                }
                let ext = ast::Operator { kind: OperatorKind::Extend { columns: columns.clone() }, span };
                self.operator(input, &ext)
            }
            OperatorKind::As { name, params } => {
                let materialized = param_name(params, "hint.materialized").is_some_and(|v| v == "true");
                let input = if materialized { self.computed_once(input, span)? } else { input };
                self.scopes.last_mut().expect("scope").insert(name.name.clone(), Binding::Tabular(input.clone()));
                Ok(input)
            }
            OperatorKind::Render { chart, properties } => self.render(input, chart, properties),
            OperatorKind::GetSchema => self.getschema(&input),
            OperatorKind::Join { params, right, on } => {
                let kind = param_name(params, "kind").unwrap_or_else(|| "innerunique".to_string());
                let right = self.tabular(right)?;
                self.join(input, right, &kind, on, span, false)
            }
            OperatorKind::Lookup { params, right, on } => {
                let kind = param_name(params, "kind").unwrap_or_else(|| "leftouter".to_string());
                let right = self.tabular(right)?;
                self.join(input, right, &kind, on, span, true)
            }
            OperatorKind::Union { params, tables } => {
                let mut inputs = vec![(None, input)];
                inputs.extend(self.union_inputs(params, tables, true)?);
                self.union(inputs, params, span)
            }
            OperatorKind::MvExpand { params, items, limit, .. } => {
                self.mv_expand(input, params, items, limit.as_ref(), span)
            }
            OperatorKind::Parse { params, source, pattern, is_where } => {
                self.parse_operator(input, params, source, pattern, *is_where, span)
            }
            OperatorKind::Invoke { call } => match &call.kind {
                ExprKind::Call { func, args } => {
                    let Some(Binding::Function(def)) = self.lookup(&func.name) else {
                        return err(func.span, format!("unknown function '{}'", func.name));
                    };
                    let Some(first) = def.params.first() else {
                        return err(span, "invoke needs a function whose first parameter is a table");
                    };
                    let mut values = vec![(first.name.name.clone(), Binding::Tabular(input))];
                    let rest = ast::FunctionDef { params: def.params[1..].to_vec(), ..(*def).clone() };
                    values.extend(self.bind_arguments(&rest, args, span, &mut RowScope::empty())?);
                    self.tabular_function_body(&def, values, span)
                }
                _ => err(span, "invoke needs a function call"),
            },
            OperatorKind::Input => Ok(input),
            OperatorKind::Evaluate { call, output, .. } => self.evaluate(input, call, output.as_ref(), span),
            OperatorKind::ParseKv { source, columns, options } => self.parse_kv(input, source, columns, options, span),
            OperatorKind::MvApply { params, items, limit, on } => {
                self.mv_apply(input, params, items, limit.as_ref(), on, span)
            }
            OperatorKind::TopNested { clauses } => self.top_nested(input, clauses, span),
            OperatorKind::MakeSeries(series) => self.make_series(input, series, span),
            OperatorKind::Scan { params, declare, steps } => self.scan(input, params, declare, steps, span),
            OperatorKind::Partition { by, body, .. } => self.partition(input, by, body, span),
            OperatorKind::ProjectByNames { columns } => self.project_by_names(input, columns, span),
            OperatorKind::Fork { branches } => self.fork(input, branches, span),
            OperatorKind::Facet { by, with } => self.facet(input, by, with.as_deref(), span),
            OperatorKind::Consume { .. } => self.consume(input, span),
            // Microsoft's parser takes `project-smart` only as the last
            // clause of `find`/`search` ("Query operator expected" after `|`).
            OperatorKind::ProjectSmart => err(span, "project-smart is only a clause of find: find … project-smart"),
            OperatorKind::Reduce { params, by, with } => self.reduce(input, params, by, with, span),
            OperatorKind::TopHitters { count, of, by } => self.top_hitters(input, count, of, by.as_ref(), span),
            other => err(span, format!("the {} operator is not supported yet", other.name())),
        }
    }

    /// Union legs, with wildcard patterns (`Device*`) expanded to the
    /// matching tables (those of the catalog too, empty or not; `*` alone:
    /// the tables with data). With
    /// `isfuzzy=true`, a leg naming a table or function that does not exist
    /// is left out with a notice, as Kusto does; the union fails only when
    /// no leg is left (`piped`: the input piped into `union` is one).
    pub(super) fn union_inputs(
        &mut self,
        params: &[ast::OperatorParam],
        tables: &[ast::Expr],
        piped: bool,
    ) -> BindResult<Vec<(Option<String>, Relation)>> {
        let fuzzy = param_name(params, "isfuzzy").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut inputs = Vec::new();
        let mut skipped = Vec::new();
        for t in tables {
            if let ExprKind::NamePattern(pattern) = &t.kind {
                // `*` alone is every table with data: a workspace holds only
                // the tables its connectors fill, and hundreds of empty
                // catalog tables would make a result of thousands of
                // columns that no workspace gives.
                let candidates = match pattern.as_str() {
                    "*" => self.resolver.registered_table_names(),
                    _ => self.resolver.table_names(),
                };
                let names: Vec<String> = candidates.into_iter().filter(|n| wildcard_match(pattern, n)).collect();
                for name in names {
                    inputs.push((Some(name.clone()), self.table_name(&name, t.span)?));
                }
                continue;
            }
            match self.tabular(t) {
                Ok(relation) => inputs.push((table_label(t), relation)),
                Err(e) if fuzzy && e.unresolved.is_some() => skipped.push(e),
                Err(e) => return Err(e),
            }
        }
        if inputs.is_empty() {
            match skipped.first() {
                None => {
                    let span = tables.first().map_or(Span::default(), |t| t.span);
                    return err(span, "no table matches the union's patterns");
                }
                Some(first) if !piped => return Err(first.clone()),
                Some(_) => {}
            }
        }
        for e in skipped {
            self.notices.push(format!("union isfuzzy=true left out a leg: {}", e.message));
        }
        Ok(inputs)
    }

    fn unknown_column<T>(&self, name: &str, span: Span, columns: &[ColumnDef]) -> BindResult<T> {
        let hint = suggest(name, columns.iter().map(|c| c.name.as_str()), MaxDistance::Name)
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        err(span, format!("unknown column '{name}'{hint}"))
    }

    /// Column names matched by names or wildcard patterns (`Prefix*`).
    fn match_patterns(&self, patterns: &[ast::Expr], columns: &[ColumnDef]) -> BindResult<Vec<String>> {
        let mut out = Vec::new();
        for p in patterns {
            match &p.kind {
                ExprKind::Name(id) => {
                    if !columns.iter().any(|c| c.name == id.name) {
                        return self.unknown_column(&id.name, id.span, columns);
                    }
                    out.push(id.name.clone());
                }
                ExprKind::NamePattern(pattern) => {
                    out.extend(columns.iter().filter(|c| wildcard_match(pattern, &c.name)).map(|c| c.name.clone()))
                }
                _ => return err(p.span, "expected a column name or a wildcard pattern"),
            }
        }
        Ok(out)
    }

    pub(super) fn count_value(&mut self, count: &ast::Expr) -> BindResult<usize> {
        let b = self.constant(count)?;
        match evaluate_constant(&b.expr) {
            Some(ScalarValue::Int64(Some(n))) if n >= 0 => Ok(n as usize),
            Some(ScalarValue::Int32(Some(n))) if n >= 0 => Ok(n as usize),
            _ => err(count.span, "expected a non-negative constant row count"),
        }
    }

    /// Sort keys; Kusto sorts descending by default, nulls last when
    /// descending and first when ascending.
    fn sort_keys(&mut self, keys: &[ast::SortKey], columns: &[ColumnDef]) -> BindResult<Vec<SortExpr>> {
        keys.iter().map(|k| self.sort_key(k, columns)).collect()
    }

    /// One sort key, with the defaults of [`Self::sort_keys`].
    pub(super) fn sort_key(&mut self, key: &ast::SortKey, columns: &[ColumnDef]) -> BindResult<SortExpr> {
        let b = self.scalar(&key.expr, &mut RowScope::new(columns))?;
        if b.ty == KqlType::Dynamic {
            return err(key.expr.span, "cannot sort by a dynamic value; convert it with tostring(), tolong(), …");
        }
        let asc = key.order == Some(ast::SortOrder::Asc);
        let nulls_first = match key.nulls {
            Some(ast::NullsOrder::First) => true,
            Some(ast::NullsOrder::Last) => false,
            None => asc,
        };
        let expr = if b.ty == KqlType::Real { nan_beside_nulls(b.expr, asc, nulls_first) } else { b.expr };
        Ok(SortExpr::new(expr, asc, nulls_first))
    }

    fn summarize(
        &mut self,
        input: Relation,
        aggregates: &[NamedExpr],
        by: &[NamedExpr],
        span: Span,
    ) -> BindResult<Relation> {
        // Group keys; a repeated name gets a number (`a`, `a1`), as Kusto names it.
        let mut keys = self.named_exprs(by, &input.columns, "Column")?;
        for i in 1..keys.len() {
            let taken: Vec<String> = keys[..i].iter().map(|(n, _)| n.clone()).collect();
            keys[i].0 = naming::unique_name(&keys[i].0, &taken);
        }
        let mut group_exprs = Vec::new();
        for (name, b) in &keys {
            if b.ty == KqlType::Dynamic {
                // Grouping by dynamic works on the encoding, which is deterministic.
            }
            group_exprs.push(b.expr.clone().alias(name));
        }
        // Aggregates, possibly inside scalar expressions: collect the calls,
        // aggregate, then compute the expressions over the results.
        let mut scope = RowScope { columns: &input.columns, join: None, aggregates: Some(Vec::new()), windows: None };
        let mut outputs: Vec<(String, Bound)> =
            keys.iter().map(|(n, b)| (n.clone(), Bound::new(col_ref(n), b.ty))).collect();
        let mut counter = 0;
        for item in aggregates {
            if let ExprKind::Call { func, args } = &item.expr.kind {
                if let Some(SpecialForm::ArgExtreme { is_max }) = functions::special_form(&func.name) {
                    let expanded = self.arg_extreme(is_max, args, item, &input, &keys, &mut scope, item.span)?;
                    for (name, bound) in expanded {
                        let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
                        outputs.push((naming::unique_name(&name, &taken), bound));
                    }
                    continue;
                }
            }
            if let Some(expanded) = expand_percentiles(item) {
                // `percentiles(x, 50, 95)`: one `percentile_x_<p>` column each.
                for (i, single) in expanded.into_iter().enumerate() {
                    let bound = self.scalar(&single, &mut scope)?;
                    let name = match item.names.get(i) {
                        Some(n) => n.name.clone(),
                        None => naming::aggregate_name("percentile", &single),
                    };
                    let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
                    outputs.push((naming::unique_name(&name, &taken), bound));
                }
                continue;
            }
            let bound = self.scalar(&item.expr, &mut scope)?;
            let name = match item.names.as_slice() {
                [one] => one.name.clone(),
                [] => match &item.expr.kind {
                    ExprKind::Call { func, .. } => match functions::registry().lookup_aggregate(&func.name) {
                        Some(spec) => naming::aggregate_name(spec.name_prefix, &item.expr),
                        None => {
                            let prefix_of =
                                |n: &str| functions::registry().lookup_aggregate(n).map(|spec| spec.name_prefix);
                            match naming::wrapped_aggregate_name(&item.expr, &prefix_of) {
                                Some(name) => name,
                                None => {
                                    counter += 1;
                                    format!("Column{counter}")
                                }
                            }
                        }
                    },
                    _ => {
                        counter += 1;
                        format!("Column{counter}")
                    }
                },
                _ => return err(item.span, "a tuple of names needs arg_max() or arg_min()"),
            };
            // Kusto numbers a name that is taken, even an explicit one (`d`
            // after `arg_max(x, *)` produced a `d` becomes `d1`).
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            let name = naming::unique_name(&name, &taken);
            outputs.push((name, bound));
        }
        let collected = scope.aggregates.take().unwrap_or_default();
        if collected.is_empty() && group_exprs.is_empty() {
            return err(span, "summarize needs at least one aggregation or a 'by' clause");
        }
        let aggr_exprs: Vec<Expr> = collected.into_iter().map(|(alias, e)| e.alias(alias)).collect();
        let plan =
            LogicalPlanBuilder::from(input.plan).aggregate(group_exprs, aggr_exprs).and_then(|b| b.build()).at(span)?;
        let aggregated = Relation { plan, columns: Vec::new() };
        check_unique(&outputs, span)?;
        self.project(aggregated, outputs, span)
    }

    /// `arg_max(x, *)`, `arg_max(x, a, b)`: the row with the largest `x`.
    #[allow(clippy::too_many_arguments)]
    fn arg_extreme(
        &mut self,
        is_max: bool,
        args: &[ast::Arg],
        item: &NamedExpr,
        input: &Relation,
        keys: &[(String, Bound)],
        scope: &mut RowScope<'_>,
        span: Span,
    ) -> BindResult<Vec<(String, Bound)>> {
        let Some((by_arg, rest)) = args.split_first() else {
            return err(span, "arg_max()/arg_min() need the expression to maximise and the columns to return");
        };
        let by = self.scalar(&by_arg.value, &mut RowScope::new(&input.columns))?;
        let order = vec![SortExpr::new(by.expr.clone(), !is_max, false)];
        let by_name = naming::expression_name(&by_arg.value)
            .unwrap_or_else(|| format!("{}_", if is_max { "max" } else { "min" }));
        let mut wanted: Vec<(String, Bound)> = vec![(by_name, by.clone())];
        for a in rest {
            if matches!(a.value.kind, ExprKind::Star) {
                for c in &input.columns {
                    let is_key = keys
                        .iter()
                        .any(|(n, b)| *n == c.name && matches!(&b.expr, Expr::Column(col) if col.name == c.name));
                    if !wanted.iter().any(|(n, _)| *n == c.name) && !is_key {
                        wanted.push((c.name.clone(), Bound::new(col_ref(&c.name), c.ty)));
                    }
                }
            } else {
                let b = self.scalar(&a.value, &mut RowScope::new(&input.columns))?;
                let name = naming::expression_name(&a.value).unwrap_or_else(|| format!("Column{}", wanted.len()));
                wanted.push((name, b));
            }
        }
        if !item.names.is_empty() {
            for (slot, name) in wanted.iter_mut().zip(&item.names) {
                slot.0 = name.name.clone();
            }
        }
        let collector = scope.aggregates.as_mut().expect("summarize scope");
        let mut out = Vec::new();
        for (name, b) in wanted {
            let alias = format!("__agg{}", collector.len());
            let agg = datafusion::functions_aggregate::expr_fn::first_value(b.expr, order.clone());
            collector.push((alias.clone(), agg));
            out.push((name, Bound::new(col_ref(&alias), b.ty)));
        }
        Ok(out)
    }

    fn getschema(&mut self, input: &Relation) -> BindResult<Relation> {
        let rows: Vec<Vec<Expr>> = input
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                vec![
                    lit(c.name.clone()),
                    lit(i as i64),
                    lit(format!("System.{}", dotnet_type(c.ty))),
                    lit(c.ty.name().to_string()),
                ]
            })
            .collect();
        let columns = vec![
            ColumnDef::new("ColumnName", KqlType::String),
            ColumnDef::new("ColumnOrdinal", KqlType::Long),
            ColumnDef::new("DataType", KqlType::String),
            ColumnDef::new("ColumnType", KqlType::String),
        ];
        self.values_relation(rows, columns, Span::default())
    }

    fn values_relation(&mut self, rows: Vec<Vec<Expr>>, columns: Vec<ColumnDef>, span: Span) -> BindResult<Relation> {
        if rows.is_empty() {
            let batch = RecordBatch::new_empty(crate::types::arrow_schema(&columns));
            let (plan, _) = self.resolver.temporary(batch).at(span)?;
            return Ok(Relation { plan, columns });
        }
        let plan = LogicalPlanBuilder::values(rows).and_then(|b| b.build()).at(span)?;
        // VALUES names its columns column1, column2…: rename to ours.
        let exprs: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .zip(&columns)
            .map(|(c, def)| Expr::Column(c).alias(&def.name))
            .collect();
        let plan = project_plan(plan, exprs).at(span)?;
        Ok(Relation { plan, columns })
    }

    fn source(&mut self, op: &ast::Operator) -> BindResult<Relation> {
        let span = op.span;
        match &op.kind {
            OperatorKind::Print { columns } => {
                let outputs = self.named_exprs(columns, &[], "print_")?;
                self.print_relation(outputs)
            }
            OperatorKind::Range { column, from, to, step } => {
                let from_b = self.constant(from)?;
                let to_b = self.constant(to)?;
                let step_b = self.constant(step)?;
                let ty = from_b.ty;
                let as_i64 = |b: &Bound| match evaluate_constant(&b.expr) {
                    Some(ScalarValue::Int64(Some(v))) => Some(v),
                    Some(ScalarValue::Int32(Some(v))) => Some(v as i64),
                    _ => None,
                };
                let as_f64 = |b: &Bound| match evaluate_constant(&b.expr) {
                    Some(ScalarValue::Float64(Some(v))) => Some(v),
                    _ => as_i64(b).map(|v| v as f64),
                };
                // Real bounds or step make a real column (`range x from 1.0 to 3.0 step 0.5`).
                let real = [&from_b, &to_b, &step_b].iter().any(|b| b.ty == KqlType::Real);
                let (values, ty): (ArrayRef, KqlType) = if real {
                    let (Some(a), Some(b), Some(s)) = (as_f64(&from_b), as_f64(&to_b), as_f64(&step_b)) else {
                        return err(span, "range needs constant integer, real, datetime or timespan bounds and step");
                    };
                    if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
                        return err(step.span, "range step must be a non-zero finite number");
                    }
                    // A step away from the end gives no rows, as in Kusto.
                    let count = ((b - a) / s).floor() + 1.0;
                    let count = if count > 0.0 { count as usize } else { 0 };
                    if count > 100_000_000 {
                        return err(span, format!("range would produce {count} rows"));
                    }
                    crate::memory::check_table_fits("range", count * 8, self.resolver.memory_budget())
                        .map_err(|e| BindError::new(span, e))?;
                    let values: Float64Array = (0..count).map(|i| Some(a + i as f64 * s)).collect();
                    (Arc::new(values), KqlType::Real)
                } else {
                    let (Some(a), Some(b), Some(s)) = (as_i64(&from_b), as_i64(&to_b), as_i64(&step_b)) else {
                        return err(span, "range needs constant integer, real, datetime or timespan bounds and step");
                    };
                    if s == 0 {
                        return err(step.span, "range step must be non-zero");
                    }
                    // A step away from the end gives no rows, as in Kusto.
                    let count = if (b - a).signum() * s.signum() < 0 { 0 } else { ((b - a) / s + 1).max(0) as usize };
                    if count > 100_000_000 {
                        return err(span, format!("range would produce {count} rows"));
                    }
                    crate::memory::check_table_fits("range", count * 8, self.resolver.memory_budget())
                        .map_err(|e| BindError::new(span, e))?;
                    // Values without a validity bitmap, filled in place: a
                    // range of 10^8 rows built through `Option`s took seconds
                    // (before the query could be cancelled).
                    let values = Int64Array::from_iter_values((0..count as i64).map(|i| a + i * s));
                    (Arc::new(values), if ty == KqlType::Int { KqlType::Long } else { ty })
                };
                let schema = Arc::new(Schema::new(vec![Field::new(&column.name, ty.arrow(), true)]));
                let batch =
                    RecordBatch::try_new(schema, vec![values]).map_err(|e| BindError::new(span, e.to_string()))?;
                let (plan, _) = self.resolver.temporary(batch).at(span)?;
                Ok(Relation { plan, columns: vec![ColumnDef::new(column.name.clone(), ty)] })
            }
            OperatorKind::Datatable { schema, values } => {
                let mut columns = Vec::new();
                for c in &schema.columns {
                    columns.push(ColumnDef::new(c.name.name.clone(), self.type_name(&c.ty)?));
                }
                if columns.is_empty() {
                    return err(span, "datatable needs at least one column");
                }
                if values.len() % columns.len() != 0 {
                    return err(
                        span,
                        format!(
                            "datatable has {} columns but {} values, not a whole number of rows",
                            columns.len(),
                            values.len()
                        ),
                    );
                }
                let mut rows = Vec::new();
                for chunk in values.chunks(columns.len()) {
                    let mut row = Vec::new();
                    for (value, column) in chunk.iter().zip(&columns) {
                        let b = match &value.kind {
                            ExprKind::Literal(l) => literal(l, value.span)?,
                            _ => self.constant(value)?,
                        };
                        let actual = b.ty;
                        // Literals narrow to the declared column type (`int` from `10`).
                        let converted = if actual.is_numeric() && column.ty.is_numeric() {
                            Some(Bound::new(datafusion::logical_expr::cast(b.expr, column.ty.arrow()), column.ty))
                        } else {
                            implicit(b, column.ty)
                        };
                        let Some(converted) = converted else {
                            return err(
                                value.span,
                                format!("column '{}' is {}, this value is {actual}", column.name, column.ty),
                            );
                        };
                        row.push(converted.expr);
                    }
                    rows.push(row);
                }
                self.values_relation(rows, columns, span)
            }
            OperatorKind::Union { params, tables } => {
                let inputs = self.union_inputs(params, tables, false)?;
                self.union(inputs, params, span)
            }
            OperatorKind::ExternalData { schema, uris, .. } => {
                let mut columns = Vec::new();
                for c in &schema.columns {
                    columns.push(ColumnDef::new(c.name.name.clone(), self.type_name(&c.ty)?));
                }
                let sources: Vec<String> = uris
                    .iter()
                    .map(|u| match &u.kind {
                        ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
                        _ => "(an expression)".to_string(),
                    })
                    .collect();
                // kqlite runs offline: the table has its declared schema and no rows.
                self.notices.push(format!(
                    "externaldata is empty: kqlite runs offline and does not fetch {}; load the data with --table instead",
                    sources.join(", ")
                ));
                self.values_relation(Vec::new(), columns, span)
            }
            OperatorKind::Find { params, tables, predicate, project } => {
                self.find(params, tables.as_deref(), predicate, project.as_ref(), span)
            }
            other => err(span, format!("the {} operator is not supported yet", other.name())),
        }
    }
}

fn check_unique(outputs: &[(String, Bound)], span: Span) -> BindResult<()> {
    for (i, (name, _)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(n, _)| n == name) {
            return err(span, format!("column '{name}' is produced twice"));
        }
    }
    Ok(())
}

pub(super) fn param_name(params: &[ast::OperatorParam], name: &str) -> Option<String> {
    params.iter().find(|p| p.name == name).and_then(|p| match &p.value.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Literal(ast::Literal::String { value, .. }) => Some(value.clone()),
        ExprKind::Literal(ast::Literal::Bool(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// The name `withsource=` reports for a union leg: a table's name, or the
/// name given by a trailing `as`.
fn table_label(expr: &ast::Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Paren(inner) => table_label(inner),
        ExprKind::Pipe { operator, .. } => match &operator.kind {
            OperatorKind::As { name, .. } => Some(name.name.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `*` matches any run of characters.
pub(super) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn dotnet_type(ty: KqlType) -> &'static str {
    match ty {
        KqlType::Bool => "Boolean",
        KqlType::Int => "Int32",
        KqlType::Long => "Int64",
        KqlType::Real => "Double",
        KqlType::Decimal => "Data.SqlTypes.SqlDecimal",
        KqlType::String => "String",
        KqlType::Datetime => "DateTime",
        KqlType::Timespan => "TimeSpan",
        KqlType::Guid => "Guid",
        KqlType::Dynamic => "Object",
    }
}

/// Window aliases are numbered per expression; suffix them with the item's
/// position so several items can use windows.
fn rename_window_refs(bound: Bound, position: usize) -> Bound {
    Bound::new(rename_window_expr(bound.expr, position), bound.ty)
}

fn rename_window_expr(expr: Expr, position: usize) -> Expr {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    expr.transform(|e| {
        Ok(match &e {
            Expr::Column(c) if c.name.starts_with("__win") => {
                Transformed::yes(col_ref(&format!("{}_{position}", c.name)))
            }
            _ => Transformed::no(e),
        })
    })
    .map(|t| t.data)
    .expect("renaming columns cannot fail")
}

/// `percentiles(x, p1, p2, …)` → `percentile(x, p1)`, `percentile(x, p2)`, …;
/// `percentilesw(x, w, p…)` likewise with `percentilew`.
fn expand_percentiles(item: &NamedExpr) -> Option<Vec<ast::Expr>> {
    let ExprKind::Call { func, args } = &item.expr.kind else { return None };
    let (single, fixed) = match func.name.as_str() {
        "percentiles" => ("percentile", 1),
        "percentilesw" => ("percentilew", 2),
        _ => return None,
    };
    if args.len() <= fixed + 1 {
        return None;
    }
    Some(
        args[fixed..]
            .iter()
            .map(|p| {
                let mut call_args = args[..fixed].to_vec();
                call_args.push(p.clone());
                let func = ast::Ident::new(single, func.span);
                ast::Expr::new(ExprKind::Call { func, args: call_args }, item.expr.span)
            })
            .collect(),
    )
}

/// Projects `plan` onto `outputs` (name, value), in order.
pub(super) fn project_outputs(plan: LogicalPlan, outputs: Vec<(String, Bound)>, span: Span) -> BindResult<Relation> {
    let exprs: Vec<Expr> = outputs
        .iter()
        .map(|(name, b)| match &b.expr {
            Expr::Column(c) if c.name == *name => b.expr.clone(),
            e => e.clone().alias(name),
        })
        .collect();
    let plan = project_plan(plan, exprs).at(span)?;
    Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
}

/// `LogicalPlanBuilder::project`, without its walk of the whole input plan
/// for each column an expression names (to find USING joins, which the
/// binder never makes): that walk made a query of n pipes cost O(n^4) to
/// bind. Columns are resolved against the input's schemas as it does.
pub(super) fn project_plan(plan: LogicalPlan, exprs: Vec<Expr>) -> datafusion::common::Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    let schema = plan.schema().clone();
    let by_name = unique_field_names(&schema);
    if let Some(by_name) = by_name {
        return project_by_names(plan, exprs, &by_name);
    }
    let fallback = plan.fallback_normalize_schemas();
    let schemas: [&[&datafusion::common::DFSchema]; 2] = [&[schema.as_ref()], &fallback];
    let mut projected = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let normalized = expr
            .transform(|e| match e {
                Expr::Column(c) => {
                    Ok(Transformed::yes(Expr::Column(c.normalize_with_schemas_and_ambiguity_check(&schemas, &[])?)))
                }
                e => Ok(Transformed::no(e)),
            })?
            .data;
        projected.push((datafusion::logical_expr::utils::columnize_expr(normalized, &plan)?, false));
    }
    datafusion::logical_expr::logical_plan::builder::validate_unique_names(
        "Projections",
        projected.iter().map(|(e, _)| e),
    )?;
    LogicalPlanBuilder::from(plan).project_with_validation(projected)?.build()
}

/// Each field's index by its (unqualified) name, when no two fields share
/// a name: then a column resolves with one lookup.
fn unique_field_names(schema: &datafusion::common::DFSchema) -> Option<std::collections::HashMap<&str, usize>> {
    let mut by_name = std::collections::HashMap::with_capacity(schema.fields().len());
    for (i, field) in schema.fields().iter().enumerate() {
        if by_name.insert(field.name().as_str(), i).is_some() {
            return None;
        }
    }
    Some(by_name)
}

/// [`project_plan`] over an input whose field names are unique: columns
/// resolve through `by_name` and the output schema is built from the input's
/// fields, so a projection of k columns costs O(k) rather than DataFusion's
/// O(k²) of linear lookups (3,000 chained `extend`s bound in about a minute).
fn project_by_names(
    plan: LogicalPlan,
    exprs: Vec<Expr>,
    by_name: &std::collections::HashMap<&str, usize>,
) -> datafusion::common::Result<LogicalPlan> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::common::{plan_datafusion_err, DFSchema};
    use datafusion::logical_expr::{ExprSchemable, Projection};
    let input = plan.schema().clone();
    let resolve = |c: &datafusion::common::Column| -> datafusion::common::Result<datafusion::common::Column> {
        match by_name.get(c.name.as_str()) {
            Some(&i) if c.relation.is_none() || input.qualified_field(i).0 == c.relation.as_ref() => {
                Ok(datafusion::common::Column::from(input.qualified_field(i)))
            }
            _ => Err(plan_datafusion_err!("no column named {}", c.flat_name())),
        }
    };
    let mut projected = Vec::with_capacity(exprs.len());
    let mut fields = Vec::with_capacity(exprs.len());
    for expr in exprs {
        match expr {
            Expr::Column(c) => {
                let column = resolve(&c)?;
                let i = by_name[column.name.as_str()];
                let (qualifier, field) = input.qualified_field(i);
                fields.push((qualifier.cloned(), field.clone()));
                projected.push(Expr::Column(column));
            }
            computed => {
                let normalized = computed
                    .transform(|e| match e {
                        Expr::Column(c) => Ok(Transformed::yes(Expr::Column(resolve(&c)?))),
                        e => Ok(Transformed::no(e)),
                    })?
                    .data;
                let normalized = datafusion::logical_expr::utils::columnize_expr(normalized, &plan)?;
                fields.push(normalized.to_field(&input)?);
                projected.push(normalized);
            }
        }
    }
    datafusion::logical_expr::logical_plan::builder::validate_unique_names("Projections", projected.iter())?;
    let schema = DFSchema::new_with_metadata(fields, input.metadata().clone())?;
    Ok(LogicalPlan::Projection(Projection::try_new_with_schema(projected, Arc::new(plan), Arc::new(schema))?))
}

/// `bound`, kept from being copied into filters ([`crate::udf::computed_here`])
/// when it reads some column more than once: a chain of such steps would
/// otherwise give a pushed-down filter an expression that doubles per step.
fn computed_here_if_read_twice(bound: Bound) -> Bound {
    if bound.expr.column_refs_counts().values().all(|&n| n < 2) {
        return bound;
    }
    Bound::new(crate::udf::computed_here(bound.expr, bound.ty.arrow()), bound.ty)
}

/// Sets output column `name`: a column of that name is replaced in place
/// (Kusto keeps its position), else the column is appended.
pub(super) fn set_output(outputs: &mut Vec<(String, Bound)>, name: String, value: Bound) {
    match outputs.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => outputs.push((name, value)),
    }
}

/// A real sort key whose NaNs sort next to the nulls, as Kusto's sort
/// does: ascending with nulls first `null, NaN, -inf, …, +inf`, with nulls
/// last `-inf, …, +inf, NaN, null`; descending with nulls first `null, NaN,
/// +inf, …`, with nulls last `+inf, …, -inf, NaN, null` (sort operator,
/// "Using special floating-point values"). Arrow's total order puts a
/// positive NaN above `+inf` and a negative one below `-inf`, so the key
/// gives every NaN the sign that places it on the nulls' side.
fn nan_beside_nulls(key: Expr, asc: bool, nulls_first: bool) -> Expr {
    use datafusion::logical_expr::{lit, when};
    // Where the nulls are, in the key's own (ascending) order.
    let nulls_low = asc == nulls_first;
    let (misplaced, nan) = if nulls_low {
        (key.clone().gt(lit(f64::INFINITY)), lit(-f64::NAN))
    } else {
        (key.clone().lt(lit(f64::NEG_INFINITY)), lit(f64::NAN))
    };
    when(misplaced, nan).otherwise(key.clone()).unwrap_or(key)
}
