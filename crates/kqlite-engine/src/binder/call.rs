//! Binding function calls: registry functions and aggregates, the special
//! forms the binder implements itself (`iff`, `case`, windows, …) and calls
//! of user-defined functions.

use super::scalar::{err, scalar_subquery, RowScope};
use super::scalar_operators::{boolean, join_types, unify};
use super::{col_ref, BindError, BindResult, Binder, Binding, Function};
use crate::convert::{evaluate_constant, implicit, Bound};
use crate::functions::row_window::RowWindow;
use crate::functions::{self, SpecialForm, WindowFunction};
use crate::types::KqlType;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{lit, when, Expr};
use kqlite_syntax::ast::{self, ExprKind, Literal};
use kqlite_syntax::suggest::{suggest, MaxDistance};
use kqlite_syntax::Span;
use std::collections::HashMap;

impl<'r> Binder<'r> {
    pub(super) fn call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let name = func.name.as_str();
        if let Some(Binding::Function(def)) = self.lookup(name) {
            return self.user_function_call(&def, args, span, scope);
        }
        match functions::special_form(name) {
            Some(SpecialForm::ToScalar) => {
                let [arg] = args else { return err(span, "toscalar() takes one tabular argument") };
                return match self.tabular(&arg.value) {
                    Ok(relation) => scalar_subquery(relation, arg.value.span),
                    // `toscalar(1.5)`: a scalar expression is its own value;
                    // when neither reading binds, the tabular error is the
                    // one that says what toscalar() expects.
                    Err(tabular_error) => self.scalar(&arg.value, scope).map_err(|_| tabular_error),
                };
            }
            Some(SpecialForm::Case) => return self.case(args, span, scope),
            Some(SpecialForm::Iff) => {
                let [c, t, e] = args else {
                    return err(
                        span,
                        format!("{name}() takes 3 arguments (condition, then, else), got {}", args.len()),
                    );
                };
                let c = self.scalar(&c.value, scope)?;
                let c = boolean(c, span)?;
                let t = self.scalar(&t.value, scope)?;
                let e = self.scalar(&e.value, scope)?;
                let (t, e, ty) = unify(t, e)
                    .ok_or_else(|| BindError::new(span, format!("{name}(): then and else must have the same type")))?;
                let expr = when(c, t).otherwise(e).map_err(|e| BindError::new(span, e.to_string()))?;
                return Ok(Bound::new(expr, ty));
            }
            Some(SpecialForm::ColumnIfExists) => {
                let [column, default] = args else {
                    return err(span, "column_ifexists() takes 2 arguments (name, default)");
                };
                // The name is a constant: a literal, or (in ASIM's helper
                // functions, `column_ifexists(field, "")`) a parameter or
                // `let` holding one.
                let column_name = match &column.value.kind {
                    ExprKind::Literal(Literal::String { value, .. }) => value.clone(),
                    _ => match self.constant(&column.value).ok().and_then(|b| evaluate_constant(&b.expr)) {
                        Some(ScalarValue::Utf8(Some(name)) | ScalarValue::LargeUtf8(Some(name))) => name,
                        _ => {
                            return err(
                                column.value.span,
                                "column_ifexists(): the column name must be a constant string (a literal, or a parameter or let holding one)",
                            )
                        }
                    },
                };
                let column_name = &column_name;
                // The result has the default's type, as Microsoft's binder
                // types it: an existing column is converted to it.
                let default = self.scalar(&default.value, scope)?;
                if let Some(c) = scope.columns.iter().find(|c| &c.name == column_name) {
                    let column = Bound::new(col_ref(column_name), c.ty);
                    return Ok(functions::conversion::convert(column, default.ty));
                }
                return Ok(default);
            }
            Some(SpecialForm::Window(function)) => return self.window_call(function, name, args, span, scope),
            Some(SpecialForm::MultiOutput) => {
                return err(
                    span,
                    format!("{name}() returns several columns: use it on its own in extend or project, as `extend {name}(x)` or `extend (a, b) = {name}(x)`"),
                );
            }
            Some(SpecialForm::PackAll) => {
                let ignore_null_empty = match args {
                    [] => false,
                    [flag] => {
                        let flag = self.scalar(&flag.value, scope)?;
                        match (flag.ty, evaluate_constant(&flag.expr)) {
                            (KqlType::Bool, Some(ScalarValue::Boolean(Some(b)))) => b,
                            _ => return err(span, "pack_all(): ignore_null_empty must be a constant bool"),
                        }
                    }
                    _ => return err(span, format!("pack_all() takes 0 or 1 arguments, got {}", args.len())),
                };
                let columns =
                    scope.columns.iter().map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))).collect();
                return Ok(functions::dynamic::pack_all(columns, ignore_null_empty));
            }
            Some(SpecialForm::ColumnNamesOf) => {
                let [table] = args else { return err(span, "column_names_of() takes one tabular argument") };
                let relation = self.tabular(&table.value)?;
                return Ok(functions::metadata::column_names(relation.columns.into_iter().map(|c| c.name)));
            }
            Some(SpecialForm::IngestionTime) if args.is_empty() => {
                // Records loaded by kqlite have no ingestion-time policy; Kusto
                // returns null for such tables.
                return Ok(Bound::new(lit(ScalarValue::Int64(None)), KqlType::Datetime));
            }
            _ => {}
        }
        if let Some(bound) = self.typed_extract(name, args, span, scope)? {
            return Ok(bound);
        }
        let aggregate = functions::registry().lookup_aggregate(name).copied();
        // `hll_merge(a, b)` is also a scalar function outside summarize.
        let aggregate =
            aggregate.filter(|_| scope.aggregates.is_some() || functions::registry().lookup_scalar(name).is_none());
        if let Some(spec) = aggregate {
            let Some(collected) = scope.aggregates.as_mut().map(|v| v.len()) else {
                return err(
                    span,
                    format!("{name}() is an aggregation; it can only be used in summarize (or make-series)"),
                );
            };
            check_arity(name, args.len(), spec.min_args, spec.max_args, span)?;
            let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: None };
            let bound = args
                .iter()
                .map(|a| match a.value.kind {
                    ExprKind::Star => Ok(Bound::new(lit(1i64), KqlType::Long)),
                    _ => self.scalar(&a.value, &mut inner),
                })
                .collect::<BindResult<Vec<_>>>()?;
            let aggregate = (spec.bind)(&self.call, bound).map_err(|e| BindError::new(span, e.to_string()))?;
            let alias = format!("__agg{collected}");
            scope.aggregates.as_mut().expect("checked above").push((alias.clone(), aggregate.expr));
            return Ok(Bound::new(col_ref(&alias), aggregate.ty));
        }
        let Some(spec) = functions::registry().lookup_scalar(name).copied() else {
            let known: Vec<&str> = functions::registry().names().collect();
            let hint = suggest(name, known.iter().copied(), MaxDistance::Name)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return err(func.span, format!("unknown function '{name}'{hint}"));
        };
        check_arity(name, args.len(), spec.min_args, spec.max_args, span)?;
        let bound = args.iter().map(|a| self.scalar(&a.value, scope)).collect::<BindResult<Vec<_>>>()?;
        (spec.bind)(&self.call, bound).map_err(|e| BindError::new(span, e.to_string()))
    }

    /// `prev(x[, offset[, default]])`, `next(…)`, `row_number([start])`,
    /// `row_cumsum(x)` over the serialized input, in its order.
    fn window_call(
        &mut self,
        function: WindowFunction,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        use datafusion::functions_window::expr_fn as window;
        if scope.windows.is_none() {
            return err(
                span,
                format!("{name}() needs a serialized row order; use it in extend or project after sort or serialize"),
            );
        }
        // Row windows, and row_number/row_cumsum with a restart condition
        // (`row_number(1, prev(Hour) != Hour)`), whose arguments may read
        // other windows.
        let row_window = match (function, args.len()) {
            (WindowFunction::Row(kind), _) => Some(kind),
            (WindowFunction::RowNumber, 2) => Some(RowWindow::Number),
            (WindowFunction::RowCumsum, 2) => Some(RowWindow::Cumsum),
            _ => None,
        };
        if let Some(kind) = row_window {
            return self.row_window_call(kind, name, args, span, scope);
        }
        let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: None };
        let bound = args.iter().map(|a| self.scalar(&a.value, &mut inner)).collect::<BindResult<Vec<_>>>()?;
        let constant_i64 = |b: &Bound| match evaluate_constant(&b.expr) {
            Some(ScalarValue::Int64(Some(v))) => Some(v),
            Some(ScalarValue::Int32(Some(v))) => Some(v as i64),
            _ => None,
        };
        let (expr, ty) = match function {
            WindowFunction::Prev | WindowFunction::Next => {
                let Some(value) = bound.first() else { return err(span, format!("{name}() needs the column to read")) };
                if bound.len() > 3 {
                    return err(
                        span,
                        format!("the function call has an incorrect number of arguments: {name}() takes 1 to 3"),
                    );
                }
                let offset = match bound.get(1) {
                    Some(b) => Some(constant_i64(b).ok_or_else(|| {
                        BindError::new(span, format!("{name}(): the offset must be a constant integer"))
                    })?),
                    // DataFusion reads a missing offset as 0; Kusto's default is 1.
                    None => Some(1),
                };
                let default = match bound.get(2) {
                    Some(b) => Some(
                        evaluate_constant(
                            &implicit(b.clone(), value.ty).map(|b| b.expr).unwrap_or_else(|| b.expr.clone()),
                        )
                        .ok_or_else(|| BindError::new(span, format!("{name}(): the default must be a constant")))?,
                    ),
                    None => None,
                };
                let e = if function == WindowFunction::Prev {
                    window::lag(value.expr.clone(), offset, default)
                } else {
                    window::lead(value.expr.clone(), offset, default)
                };
                (e, value.ty)
            }
            WindowFunction::RowNumber => {
                let start = match bound.first() {
                    Some(b) => constant_i64(b)
                        .ok_or_else(|| BindError::new(span, "row_number(): the start must be a constant integer"))?,
                    None => 1,
                };
                // The window step computes the raw row number; the offset is
                // applied in the projection (window steps take only window calls).
                let windows = scope.windows.as_mut().expect("checked above");
                let alias = format!("__win{}", windows.len());
                windows.push((alias.clone(), window::row_number()));
                let expr = datafusion::logical_expr::cast(col_ref(&alias), DataType::Int64) + lit(start - 1);
                return Ok(Bound::new(expr, KqlType::Long));
            }
            WindowFunction::RowCumsum | WindowFunction::Row(_) => {
                let Some(value) = bound.first() else { return err(span, "row_cumsum() needs the value to sum") };
                if !value.ty.is_numeric() {
                    return err(span, format!("row_cumsum() sums numbers, not {}", value.ty));
                }
                use datafusion::logical_expr::{ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits};
                // Rows from the first up to the current one, in input order.
                let frame = WindowFrame::new_bounds(
                    WindowFrameUnits::Rows,
                    WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                    WindowFrameBound::CurrentRow,
                );
                let sum = datafusion::functions_aggregate::expr_fn::sum(value.expr.clone());
                let e = match sum {
                    Expr::AggregateFunction(a) => Expr::from(datafusion::logical_expr::expr::WindowFunction::new(
                        datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(a.func),
                        a.params.args,
                    ))
                    .window_frame(frame)
                    .build()
                    .map_err(|e| BindError::new(span, e.to_string()))?,
                    other => other,
                };
                (e, if value.ty == KqlType::Int { KqlType::Long } else { value.ty })
            }
        };
        let windows = scope.windows.as_mut().expect("checked above");
        let alias = format!("__win{}", windows.len());
        windows.push((alias.clone(), expr));
        Ok(Bound::new(col_ref(&alias), ty))
    }

    /// `extract(regex, group, text, typeof(T))` and `extractjson(path, json,
    /// typeof(T))`: the text result converted to `T`.
    fn typed_extract(
        &mut self,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Option<Bound>> {
        let typed =
            matches!((name, args.len()), ("extract", 4) | ("extractjson" | "extract_json" | "percentile_tdigest", 3));
        let Some(ExprKind::TypeOf(type_arg)) = args.last().filter(|_| typed).map(|a| &a.value.kind) else {
            return Ok(None);
        };
        let ast::TypeOfArg::Scalar(type_name) = type_arg else {
            return err(span, format!("{name}(): the type must be a scalar type such as typeof(long)"));
        };
        let target = self.type_name(type_name)?;
        let spec = functions::registry().lookup_scalar(name).copied().expect("extract functions are registered");
        let bound =
            args[..args.len() - 1].iter().map(|a| self.scalar(&a.value, scope)).collect::<BindResult<Vec<_>>>()?;
        let text = (spec.bind)(&self.call, bound).map_err(|e| BindError::new(span, e.to_string()))?;
        Ok(Some(functions::conversion::convert(text, target)))
    }

    /// `row_window_session(…)`, `row_rank_dense(x)`, `row_rank_min(x)`. Their
    /// arguments may use `prev()`/`next()` (a session restart condition
    /// often does): those windows are computed in an earlier window step.
    fn row_window_call(
        &mut self,
        kind: RowWindow,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let (min, max) = match kind {
            RowWindow::Session => (3, 4),
            RowWindow::Number | RowWindow::Cumsum => (2, 2),
            RowWindow::RankDense | RowWindow::RankMin => (1, 2),
        };
        check_arity(name, args.len(), min, max, span)?;
        let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: Some(Vec::new()) };
        let bound = args.iter().map(|a| self.scalar(&a.value, &mut inner)).collect::<BindResult<Vec<_>>>()?;
        let outer = scope.windows.as_mut().expect("checked by window_call");
        let mut renames: HashMap<String, String> = HashMap::new();
        for (alias, window) in inner.windows.take().unwrap_or_default() {
            let fresh = format!("__win{}", outer.len());
            outer.push((fresh.clone(), rename_columns(window, &renames)));
            renames.insert(alias, fresh);
        }
        let bound: Vec<Bound> = bound.into_iter().map(|b| Bound::new(rename_columns(b.expr, &renames), b.ty)).collect();
        let (exprs, ty) = match kind {
            RowWindow::Session => {
                let value = &bound[0];
                if !matches!(value.ty, KqlType::Datetime | KqlType::Long | KqlType::Int | KqlType::Timespan) {
                    return err(span, format!("row_window_session() needs a datetime value, not {}", value.ty));
                }
                let mut exprs = vec![datafusion::logical_expr::cast(value.expr.clone(), DataType::Int64)];
                for (i, limit) in bound[1..3].iter().enumerate() {
                    if !matches!(limit.ty, KqlType::Timespan | KqlType::Long | KqlType::Int) {
                        return err(
                            span,
                            format!("argument {} of row_window_session() must be a timespan, not {}", i + 2, limit.ty),
                        );
                    }
                    exprs.push(datafusion::logical_expr::cast(limit.expr.clone(), DataType::Int64));
                }
                if let Some(restart) = bound.get(3) {
                    exprs.push(boolean(restart.clone(), span)?);
                }
                let ty = if value.ty == KqlType::Int { KqlType::Long } else { value.ty };
                (exprs, ty)
            }
            RowWindow::Number => {
                let start = match evaluate_constant(&bound[0].expr) {
                    Some(ScalarValue::Int64(Some(v))) => v,
                    Some(ScalarValue::Int32(Some(v))) => i64::from(v),
                    _ => return err(span, "row_number(): the start must be a constant integer"),
                };
                (vec![lit(start), boolean(bound[1].clone(), span)?], KqlType::Long)
            }
            RowWindow::Cumsum => {
                let ty = match bound[0].ty {
                    KqlType::Int | KqlType::Long => KqlType::Long,
                    KqlType::Real => KqlType::Real,
                    other => return err(span, format!("row_cumsum() with a restart sums longs or reals, not {other}")),
                };
                let term = datafusion::logical_expr::cast(bound[0].expr.clone(), ty.arrow());
                (vec![term, boolean(bound[1].clone(), span)?], ty)
            }
            _ => {
                let mut exprs = vec![bound[0].expr.clone()];
                if let Some(restart) = bound.get(1) {
                    exprs.push(boolean(restart.clone(), span)?);
                }
                (exprs, KqlType::Long)
            }
        };
        let alias = format!("__win{}", outer.len());
        outer.push((alias.clone(), functions::row_window::call(kind, exprs)));
        Ok(Bound::new(col_ref(&alias), ty))
    }

    /// `case(p1, v1, p2, v2, …, else)`: pairs plus a final else, so an odd
    /// number of arguments (Kusto's binder reports KS121 otherwise).
    fn case(&mut self, args: &[ast::Arg], span: Span, scope: &mut RowScope<'_>) -> BindResult<Bound> {
        if args.len() < 3 || args.len().is_multiple_of(2) {
            let hint = if args.len() >= 2 && args.len().is_multiple_of(2) {
                let last = &args[args.len() - 1].value;
                let before = &args[args.len() - 2].value;
                let literal_true = matches!(before.kind, ExprKind::Literal(Literal::Bool(true)));
                if literal_true {
                    format!(
                        "; the last pair `true, {last}` is an else written as a condition: drop `true,` so the call ends with the else value `{last}`"
                    )
                } else {
                    "; add the value to return when no condition holds as the last argument".to_string()
                }
            } else {
                String::new()
            };
            return err(
                span,
                format!(
                    "the function call has an incorrect number of arguments: case() takes pairs of (condition, value) followed by an else value, an odd number of at least 3, got {}{hint}",
                    args.len()
                ),
            );
        }
        let mut pairs = Vec::new();
        let mut values = Vec::new();
        for pair in args[..args.len() - 1].chunks(2) {
            let c = self.scalar(&pair[0].value, scope)?;
            let c = boolean(c, pair[0].value.span)?;
            let v = self.scalar(&pair[1].value, scope)?;
            pairs.push(c);
            values.push(v);
        }
        values.push(self.scalar(&args[args.len() - 1].value, scope)?);
        let ty = values.iter().skip(1).try_fold(values[0].ty, |t, v| join_types(t, v.ty));
        let Some(ty) = ty else {
            return err(span, "case(): all values must have the same type");
        };
        let mut values: Vec<Expr> = values.into_iter().map(|v| implicit(v, ty).expect("joined type").expr).collect();
        let otherwise = values.pop().expect("else value");
        let mut builder = when(pairs[0].clone(), values[0].clone());
        for (c, v) in pairs.iter().zip(&values).skip(1) {
            builder = builder.when(c.clone(), v.clone());
        }
        let expr = builder.otherwise(otherwise).map_err(|e| BindError::new(span, e.to_string()))?;
        Ok(Bound::new(expr, ty))
    }

    fn user_function_call(
        &mut self,
        def: &Function,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let values = self.bind_arguments(def, args, span, scope)?;
        self.scalar_function_body(def, values, span, scope)
    }

    /// Binds call arguments to a user function's parameters (positional,
    /// named, defaults).
    pub(super) fn bind_arguments(
        &mut self,
        def: &ast::FunctionDef,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Vec<(String, Binding)>> {
        if args.len() > def.params.len() {
            return err(span, format!("the function takes {} arguments, got {}", def.params.len(), args.len()));
        }
        let mut out = Vec::new();
        for (i, param) in def.params.iter().enumerate() {
            let arg = args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == param.name.name))
                .or_else(|| args.get(i).filter(|a| a.name.is_none()));
            let binding = match (&param.ty, arg) {
                (ast::ParamType::Tabular(_), Some(a)) => Binding::Tabular(self.tabular(&a.value)?),
                (ast::ParamType::Scalar(ty), Some(a)) => {
                    // Microsoft's binder takes any scalar for a typed
                    // parameter (a datetime for `startTimeSpan:timespan`,
                    // AuditLogs rules do) and types the parameter as
                    // declared: convert as the `to*` function would.
                    let ty = self.type_name(ty)?;
                    if ty == KqlType::Dynamic && self.is_table_argument(&a.value, scope) {
                        // A single-column table given for a dynamic parameter
                        // is its column's values as an array, as Microsoft's
                        // binder takes it (`_Im_WebSession(url_has_any =
                        // domains)` with `let domains = iocs | project IoC`).
                        let relation = self.tabular(&a.value)?;
                        if relation.columns.len() != 1 {
                            return err(
                                a.value.span,
                                format!(
                                    "parameter '{}' is dynamic: a table given for it must have one column, not {}",
                                    param.name.name,
                                    relation.columns.len()
                                ),
                            );
                        }
                        out.push((
                            param.name.name.clone(),
                            Binding::Scalar(self.first_column_as_array(relation, a.value.span)?),
                        ));
                        continue;
                    }
                    let v = self.scalar(&a.value, scope)?;
                    Binding::Scalar(implicit(v.clone(), ty).unwrap_or_else(|| functions::conversion::convert(v, ty)))
                }
                (ast::ParamType::Scalar(ty), None) => match &param.default {
                    Some(d) => {
                        let ty = self.type_name(ty)?;
                        let v = self.constant(d)?;
                        Binding::Scalar(implicit(v, ty).unwrap_or_else(|| self.constant(d).expect("bound above")))
                    }
                    None => return err(span, format!("missing argument for parameter '{}'", param.name.name)),
                },
                (ast::ParamType::Tabular(_), None) => {
                    return err(span, format!("missing tabular argument for parameter '{}'", param.name.name))
                }
            };
            out.push((param.name.name.clone(), binding));
        }
        Ok(out)
    }

    /// Whether a call argument is a table: a column of the row in scope of
    /// the same name as a table is the column.
    fn is_table_argument(&self, arg: &ast::Expr, scope: &RowScope<'_>) -> bool {
        let column = |e: &ast::Expr| match &e.kind {
            ExprKind::Name(id) => scope.columns.iter().any(|c| c.name == id.name),
            _ => false,
        };
        !column(arg) && self.is_tabular(arg)
    }

    pub(super) fn scalar_function_body(
        &mut self,
        def: &Function,
        params: Vec<(String, Binding)>,
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        self.function_body(def, params, span, |b, e| b.scalar(e, scope))
    }

    /// Binds a user function's body in a scope of its parameters: the
    /// `let` statements, then the final expression with `last`.
    /// Errors in a stored function's body are reported at the call, with
    /// the body's place in its file.
    pub(super) fn function_body<T>(
        &mut self,
        def: &Function,
        params: Vec<(String, Binding)>,
        span: Span,
        last: impl FnOnce(&mut Self, &ast::Expr) -> BindResult<T>,
    ) -> BindResult<T> {
        // Kusto has no recursive functions; a body that calls itself (or a
        // cycle of functions) would otherwise bind until the stack overflows.
        if self.function_depth >= MAX_FUNCTION_DEPTH {
            return err(
                span,
                format!(
                    "function calls nest more than {MAX_FUNCTION_DEPTH} deep: a function that calls itself, \
                     directly or through others? Kusto does not allow recursive functions"
                ),
            );
        }
        self.function_depth += 1;
        self.scopes.push(params.into_iter().collect());
        self.active_stored.extend(def.stored.clone());
        let result = (|| {
            let (tail, lets) =
                def.body.statements.split_last().ok_or_else(|| BindError::new(span, "empty function body"))?;
            for s in lets {
                self.statement(s)?;
            }
            match tail {
                ast::Statement::Expr(e) => last(self, e),
                _ => err(span, "a function body must end with an expression"),
            }
        })();
        self.function_depth -= 1;
        self.scopes.pop();
        if def.stored.is_some() {
            self.active_stored.pop();
        }
        match &def.stored {
            Some(stored) => result.map_err(|e| stored.locate_error(e, span)),
            None => result,
        }
    }
}

/// How deep function bodies may nest while binding: far beyond real
/// content (ASIM's unifying parsers nest about five), well within the stack.
const MAX_FUNCTION_DEPTH: usize = 48;

pub(super) fn check_arity(name: &str, got: usize, min: usize, max: usize, span: Span) -> BindResult<()> {
    if got < min || got > max {
        let expected = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return err(
            span,
            format!("the function call has an incorrect number of arguments: {name}() takes {expected}, got {got}"),
        );
    }
    Ok(())
}

/// Renames column references (window aliases moved between scopes).
fn rename_columns(expr: Expr, renames: &HashMap<String, String>) -> Expr {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    if renames.is_empty() {
        return expr;
    }
    expr.transform(|e| {
        Ok(match &e {
            Expr::Column(c) => match renames.get(&c.name) {
                Some(new) => Transformed::yes(col_ref(new)),
                None => Transformed::no(e),
            },
            _ => Transformed::no(e),
        })
    })
    .map(|t| t.data)
    .expect("renaming columns cannot fail")
}
