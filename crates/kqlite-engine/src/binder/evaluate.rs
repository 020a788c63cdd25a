//! `evaluate` plugins. `bag_unpack` turns the keys of a dynamic bag column
//! into columns and `pivot` the values of a column into columns; their
//! output schemas depend on the data, so the keys are read with a query
//! while binding. `ipv4_lookup` joins rows to the IPv4 ranges that hold
//! their address; `basket` mines the frequent patterns of column values
//! and `autocluster` the few that summarise them;
//! `sequence_detect` has a module of its own.

use super::scalar::RowScope;
use super::tabular::{project_outputs, project_plan};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::Bound;
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::JoinType;
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

/// Restricts every aggregate call in `expr` to the rows where `predicate` holds.
fn filter_aggregates(expr: Expr, predicate: &Expr) -> Expr {
    expr.transform(|e| match e {
        Expr::AggregateFunction(mut a) => {
            let filter = match a.params.filter.take() {
                Some(existing) => existing.and(predicate.clone()),
                None => predicate.clone(),
            };
            a.params.filter = Some(Box::new(filter));
            Ok(Transformed::yes(Expr::AggregateFunction(a)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .expect("adding a filter cannot fail")
}

/// A column name given as a plugin argument.
fn column_argument<'a>(arg: &'a ast::Arg, input: &Relation, plugin: &str) -> BindResult<(&'a str, KqlType)> {
    let ExprKind::Name(id) = &arg.value.kind else {
        return Err(BindError::new(arg.value.span, format!("{plugin}(): expected a column name here")));
    };
    match input.column(&id.name) {
        Some(c) => Ok((id.name.as_str(), c.ty)),
        None => Err(BindError::new(id.span, format!("{plugin}(): unknown column '{}'", id.name))),
    }
}

/// Plugins that call services, other clusters or other languages: kqlite
/// runs offline and in-process, so `evaluate` reports why each cannot run.
const OFFLINE_PLUGINS: &[(&str, &str)] = &[
    ("http_request", "it sends an HTTP request to an outside service"),
    ("http_request_post", "it sends an HTTP request to an outside service"),
    ("sql_request", "it queries an outside SQL Server database"),
    ("mysql_request", "it queries an outside MySQL database"),
    ("postgresql_request", "it queries an outside PostgreSQL database"),
    ("cosmosdb_sql_request", "it queries an outside Cosmos DB database"),
    ("azure_digital_twins_query_request", "it queries an outside Azure Digital Twins instance"),
    ("dax_request", "it queries an outside Power BI / Analysis Services model"),
    ("python", "it runs a Python script in a sandbox on the cluster"),
    ("r", "it runs an R script in a sandbox on the cluster"),
    ("csharp", "it runs C# code in a sandbox on the cluster"),
    ("ai_embed_text", "it calls an Azure OpenAI model"),
    ("ai_embeddings", "it calls an Azure OpenAI model"),
    ("ai_chat_completion", "it calls an Azure OpenAI model"),
    ("ai_chat_completion_prompt", "it calls an Azure OpenAI model"),
    ("execute_query", "it runs a query on another cluster"),
    ("execute_show_command", "it runs a management command on another cluster"),
    ("infer_storage_schema", "it reads files in outside storage"),
    ("infer_storage_schema_with_suggestions", "it reads files in outside storage"),
    ("external_datatable", "it reads an external table in outside storage"),
    ("estimate_rows_count", "it reads the cluster's extent statistics"),
    ("identity", "it is an internal plugin of the Kusto service"),
    ("identity_v3", "it is an internal plugin of the Kusto service"),
];

/// The error of an `evaluate` of a plugin kqlite does not know.
fn unknown_plugin_message(name: &str) -> String {
    format!("the evaluate plugin '{name}' is not supported")
}

/// Every plugin of the KQL reference (as Microsoft's front end lists them),
/// for [`supported_plugins`] to ask the binder about.
const REFERENCE_PLUGINS: &[&str] = &[
    "active_users_count",
    "activity_counts_metrics",
    "activity_engagement",
    "activity_metrics",
    "autocluster",
    "bag_unpack",
    "basket",
    "dcount_intersect",
    "diffpatterns",
    "funnel_sequence",
    "funnel_sequence_completion",
    "geo_line_lookup",
    "geo_polygon_lookup",
    "ipv4_lookup",
    "ipv6_lookup",
    "narrow",
    "new_activity_metrics",
    "pivot",
    "preview",
    "rolling_percentile",
    "rows_near",
    "sequence_detect",
    "session_count",
    "sliding_window_counts",
];

/// The `evaluate` plugins kqlite binds, sorted: each plugin of the
/// reference that the binder's dispatch knows (asked by binding a call of
/// it with no arguments and telling the unknown-plugin error apart from an
/// argument error), for `kqlite functions --plugins`.
pub fn supported_plugins() -> Vec<&'static str> {
    struct NoTables;
    impl super::TableResolver for NoTables {
        fn table(&self, _: &str) -> Option<(datafusion::logical_expr::LogicalPlan, Vec<ColumnDef>)> {
            None
        }
        fn table_names(&self) -> Vec<String> {
            Vec::new()
        }
        fn registered_table_names(&self) -> Vec<String> {
            Vec::new()
        }
        fn temporary(
            &self,
            _: datafusion::arrow::record_batch::RecordBatch,
        ) -> datafusion::common::Result<(datafusion::logical_expr::LogicalPlan, String)> {
            Err(datafusion::common::DataFusionError::Plan("no tables while listing plugins".into()))
        }
        fn bag_keys(
            &self,
            _: datafusion::logical_expr::LogicalPlan,
            _: &str,
        ) -> Result<Vec<String>, super::KeyScanError> {
            Ok(Vec::new())
        }
        fn collect(
            &self,
            _: datafusion::logical_expr::LogicalPlan,
        ) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, super::KeyScanError> {
            Ok(Vec::new())
        }
    }
    let resolver = NoTables;
    let mut names: Vec<&'static str> = REFERENCE_PLUGINS
        .iter()
        .copied()
        .filter(|name| {
            let mut binder = Binder::new(&resolver, 0);
            let empty = datafusion::logical_expr::LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                produce_one_row: false,
                schema: std::sync::Arc::new(datafusion::common::DFSchema::empty()),
            });
            let input = Relation { plan: empty, columns: Vec::new() };
            let call = ast::Expr::new(
                ExprKind::Call { func: ast::Ident::new(*name, Span::default()), args: Vec::new() },
                Span::default(),
            );
            // A plugin whose binding panics on missing arguments is still
            // one the dispatch knows.
            let probe = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                binder.evaluate(input, &call, None, Span::default())
            }));
            !matches!(probe, Ok(Err(e)) if e.message == unknown_plugin_message(name))
        })
        .collect();
    names.sort_unstable();
    names
}

impl<'r> Binder<'r> {
    /// `evaluate plugin(args) [: (output schema)]`.
    pub(super) fn evaluate(
        &mut self,
        input: Relation,
        call: &ast::Expr,
        output: Option<&ast::TabularSchema>,
        span: Span,
    ) -> BindResult<Relation> {
        let ExprKind::Call { func, args } = &call.kind else {
            return Err(BindError::new(call.span, "evaluate needs a plugin call, such as bag_unpack(Column)"));
        };
        let result = match func.name.as_str() {
            "bag_unpack" => return self.bag_unpack(input, args, output, span),
            "pivot" => self.pivot(input, args, span),
            "ipv4_lookup" => self.ip_lookup(input, args, IpFamily::V4, span),
            "ipv6_lookup" => self.ip_lookup(input, args, IpFamily::V6, span),
            "basket" => self.basket(input, args, span),
            "autocluster" => self.autocluster(input, args, span),
            "sequence_detect" => self.sequence_detect(input, args, span),
            "activity_counts_metrics" => self.activity_counts_metrics(input, args, span),
            "activity_engagement" => self.activity_engagement(input, args, span),
            "activity_metrics" => self.activity_metrics(input, args, span),
            "active_users_count" => self.active_users_count(input, args, span),
            "new_activity_metrics" => self.new_activity_metrics(input, args, span),
            "session_count" => self.session_count(input, args, span),
            "sliding_window_counts" => self.sliding_window_counts(input, args, span),
            "rolling_percentile" => self.rolling_percentile(input, args, span),
            "rows_near" => self.rows_near(input, args, span),
            "dcount_intersect" => self.dcount_intersect(input, args, span),
            "narrow" => self.narrow(input, args, span),
            "preview" => self.preview(input, args, span),
            "diffpatterns" => self.diffpatterns(input, args, span),
            "funnel_sequence" => self.funnel_sequence(input, args, span),
            "funnel_sequence_completion" => self.funnel_sequence_completion(input, args, span),
            "geo_polygon_lookup" => self.geo_lookup(input, args, span, super::evaluate_geo_lookup::GeoLookup::Polygon),
            "geo_line_lookup" => self.geo_lookup(input, args, span, super::evaluate_geo_lookup::GeoLookup::Line),
            other => {
                if let Some((_, why)) = OFFLINE_PLUGINS.iter().find(|(name, _)| *name == other) {
                    return Err(BindError::new(
                        func.span,
                        format!("the evaluate plugin '{other}' cannot run in kqlite: {why}, and kqlite runs offline"),
                    ));
                }
                return Err(BindError::new(func.span, unknown_plugin_message(other)));
            }
        }?;
        match output {
            Some(schema) => apply_output_schema(result, schema, span),
            None => Ok(result),
        }
    }

    /// `bag_unpack(Column [, prefix] [, columnsConflict] [, ignoredProperties])`.
    fn bag_unpack(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        output: Option<&ast::TabularSchema>,
        span: Span,
    ) -> BindResult<Relation> {
        let Some(first) = args.first() else {
            return Err(BindError::new(span, "bag_unpack() needs the dynamic column to unpack"));
        };
        let ExprKind::Name(column) = &first.value.kind else {
            return Err(BindError::new(first.value.span, "bag_unpack() unpacks a column: pass its name"));
        };
        let Some(def) = input.column(&column.name) else {
            return Err(BindError::new(column.span, format!("unknown column '{}'", column.name)));
        };
        if def.ty != KqlType::Dynamic {
            return Err(BindError::new(
                column.span,
                format!("bag_unpack() needs a dynamic column, '{}' is {}", column.name, def.ty),
            ));
        }
        // Positional or named optional arguments.
        let mut prefix = String::new();
        let mut conflict = "error".to_string();
        let mut ignored: Vec<String> = Vec::new();
        for (i, arg) in args.iter().enumerate().skip(1) {
            let role = match arg.name.as_ref().map(|n| n.name.as_str()) {
                Some("OutputColumnPrefix") => 1,
                Some("columnsConflict") => 2,
                Some("ignoredProperties") => 3,
                Some(other) => {
                    return Err(BindError::new(arg.value.span, format!("bag_unpack() has no parameter '{other}'")))
                }
                None => i,
            };
            let value = self.constant(&arg.value)?;
            let text = crate::convert::evaluate_constant(&value.expr);
            match (role, text) {
                (1, Some(datafusion::common::ScalarValue::Utf8(Some(s)))) => prefix = s,
                (2, Some(datafusion::common::ScalarValue::Utf8(Some(s)))) => conflict = s,
                (3, Some(datafusion::common::ScalarValue::Binary(Some(b)))) => {
                    ignored = crate::dynamic::DynRef::new(&b).array_items().map(|v| v.to_kql_string()).collect()
                }
                _ => return Err(BindError::new(arg.value.span, "bag_unpack(): this argument must be a constant")),
            }
        }
        let bag = Bound::new(col_ref(&column.name), KqlType::Dynamic);
        let slot = |key: &str, ty: KqlType| {
            let value = functions::dynamic::get_key(bag.clone(), Bound::new(lit(key.to_string()), KqlType::String));
            crate::convert::implicit(value, ty).expect("dynamic converts to every type")
        };
        if let Some(schema) = output {
            // The declared columns, typed as declared; `*` keeps the input's
            // other columns (before them, as Microsoft's binder orders them).
            let mut outputs: Vec<(String, Bound)> = Vec::new();
            let declared: Vec<String> = schema.columns.iter().map(|c| c.name.name.clone()).collect();
            if schema.open {
                outputs.extend(
                    input
                        .columns
                        .iter()
                        .filter(|c| c.name != column.name && !declared.contains(&c.name))
                        .map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))),
                );
            }
            for decl in &schema.columns {
                let ty = self.type_name(&decl.ty)?;
                let key = decl.name.name.strip_prefix(prefix.as_str()).unwrap_or(&decl.name.name);
                outputs.push((decl.name.name.clone(), slot(key, ty)));
            }
            return project_outputs(input.plan, outputs, span);
        }
        let keys = self.resolver.bag_keys(input.plan.clone(), &column.name).map_err(|e| {
            BindError::new(span, format!("bag_unpack() could not read the keys of '{}': {e}", column.name))
        })?;
        let types = self.bag_slot_types(&input, &column.name, span)?;
        let mut outputs: Vec<(String, Bound)> = input
            .columns
            .iter()
            .filter(|c| c.name != column.name)
            .map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty)))
            .collect();
        for key in keys.into_iter().filter(|k| !ignored.contains(k)) {
            let name = format!("{prefix}{key}");
            let value = slot(&key, types.get(&key).copied().unwrap_or(KqlType::Dynamic));
            match outputs.iter().position(|(n, _)| *n == name) {
                Some(existing) => match conflict.as_str() {
                    "keep_source" => {}
                    "replace_source" => outputs[existing].1 = value,
                    _ => {
                        return Err(BindError::new(
                            span,
                            format!("bag_unpack(): key '{key}' collides with column '{name}'; pass columnsConflict='replace_source' or 'keep_source', or a prefix"),
                        ))
                    }
                },
                None => outputs.push((name, value)),
            }
        }
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(input.plan, exprs).at(span)?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }
}

impl<'r> Binder<'r> {
    /// The type of each slot of the bags in `column`: the type of its
    /// non-null values when they all have one, else `dynamic` (the
    /// bag_unpack reference page). Slots whose values are all null are left
    /// out (they stay dynamic).
    fn bag_slot_types(
        &mut self,
        input: &Relation,
        column: &str,
        span: Span,
    ) -> BindResult<std::collections::HashMap<String, KqlType>> {
        let tagged = crate::udf::call(
            "kql_bag_slot_types",
            datafusion::arrow::datatypes::DataType::Binary,
            bag_slot_types_kernel,
            vec![col_ref(column)],
        );
        let plan = LogicalPlanBuilder::from(input.plan.clone())
            .project(vec![tagged.alias("__bag_slot_types")])
            .and_then(|b| b.build())
            .at(span)?;
        let tags = self.resolver.bag_keys(plan, "__bag_slot_types").map_err(|e| {
            BindError::new(span, format!("bag_unpack() could not read the value types of '{column}': {e}"))
        })?;
        let mut types: std::collections::HashMap<String, KqlType> = std::collections::HashMap::new();
        for tag in tags {
            let Some((key, ty)) = tag.rsplit_once(SLOT_TYPE_SEPARATOR) else { continue };
            let ty = KqlType::from_name(ty).unwrap_or(KqlType::Dynamic);
            types
                .entry(key.to_string())
                .and_modify(|known| {
                    if *known != ty {
                        *known = KqlType::Dynamic
                    }
                })
                .or_insert(ty);
        }
        Ok(types)
    }
}

/// Between a slot's key and its value's type in [`bag_slot_types_kernel`]'s keys.
const SLOT_TYPE_SEPARATOR: char = '\u{1}';

/// `kql_bag_slot_types(bag)`: a bag with a key `<slot>\u{1}<type>` for each
/// slot of `bag` whose value is not null, so that the distinct keys of a
/// column of them name every (slot, type) pair.
fn bag_slot_types_kernel(
    args: &[datafusion::logical_expr::ColumnarValue],
    rows: usize,
) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
    use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
    use datafusion::arrow::array::{Array, BinaryBuilder};
    let n = crate::udf::rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = datafusion::common::cast::as_binary_array(&array)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let bag = DynRef::new(if input.is_null(i) { ENCODED_NULL } else { input.value(i) });
        if bag.kind() != DynKind::Object {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let slots = bag
            .entries()
            .filter(|(_, v)| !v.is_null())
            .map(|(key, value)| {
                let ty = match value.kind() {
                    DynKind::Bool => KqlType::Bool,
                    DynKind::Long => KqlType::Long,
                    DynKind::Real => KqlType::Real,
                    DynKind::String => KqlType::String,
                    DynKind::Datetime => KqlType::Datetime,
                    DynKind::Timespan => KqlType::Timespan,
                    DynKind::Guid => KqlType::Guid,
                    DynKind::Null | DynKind::Array | DynKind::Object => KqlType::Dynamic,
                };
                (format!("{key}{SLOT_TYPE_SEPARATOR}{ty}"), DynValue::Bool(true))
            })
            .collect();
        out.append_value(DynValue::Object(slots).encode());
    }
    crate::udf::maybe_scalar(args, std::sync::Arc::new(out.finish()))
}

/// Shapes a plugin's result to its declared output schema: the declared
/// columns in order, converted to the declared types (null where the result
/// has no such column), after the result's other columns when the schema
/// is open (`*`).
fn apply_output_schema(result: Relation, schema: &ast::TabularSchema, span: Span) -> BindResult<Relation> {
    let declared: Vec<&str> = schema.columns.iter().map(|c| c.name.name.as_str()).collect();
    let mut outputs: Vec<(String, Bound)> = Vec::new();
    if schema.open {
        outputs.extend(
            result
                .columns
                .iter()
                .filter(|c| !declared.contains(&c.name.as_str()))
                .map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))),
        );
    }
    for decl in &schema.columns {
        let ty = KqlType::from_name(&decl.ty.name)
            .ok_or_else(|| BindError::new(decl.ty.span, format!("unknown type '{}'", decl.ty.name)))?;
        let value = match result.column(&decl.name.name) {
            Some(c) => {
                let value = Bound::new(col_ref(&c.name), c.ty);
                match crate::convert::implicit(value.clone(), ty) {
                    Some(v) => v,
                    None => crate::convert::implicit(
                        crate::convert::implicit(value, KqlType::Dynamic).expect("to dynamic"),
                        ty,
                    )
                    .ok_or_else(|| {
                        BindError::new(
                            decl.span,
                            format!("the output schema declares '{}' as {ty}, but it is {}", c.name, c.ty),
                        )
                    })?,
                }
            }
            None => Bound::new(
                lit(datafusion::common::ScalarValue::try_from(&ty.arrow())
                    .map_err(|e| BindError::new(span, e.to_string()))?),
                ty,
            ),
        };
        outputs.push((decl.name.name.clone(), value));
    }
    project_outputs(result.plan, outputs, span)
}

impl<'r> Binder<'r> {
    /// `pivot(PivotColumn [, aggregation(Column)] [, GroupColumn…])`: one
    /// output column per distinct value of `PivotColumn` (as text), holding
    /// the aggregation (default `count()`) over the rows with that value,
    /// per group. Without group columns, every column other than the pivot
    /// and the aggregated one groups. Rows whose pivot value is empty make
    /// no column.
    fn pivot(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        let Some(first) = args.first() else {
            return Err(BindError::new(span, "pivot() needs the column whose values become columns"));
        };
        let (pivot, pivot_ty) = column_argument(first, &input, "pivot")?;
        let pivot = pivot.to_string();
        let aggregation = match args.get(1) {
            Some(a) => a.value.clone(),
            None => ast::Expr::new(ExprKind::Call { func: ast::Ident::new("count", span), args: Vec::new() }, span),
        };
        let aggregated_column = match &aggregation.kind {
            ExprKind::Call { args, .. } => args.first().and_then(|a| match &a.value.kind {
                ExprKind::Name(id) => Some(id.name.clone()),
                _ => None,
            }),
            _ => None,
        };
        let mut groups: Vec<String> = Vec::new();
        for arg in args.iter().skip(2) {
            groups.push(column_argument(arg, &input, "pivot")?.0.to_string());
        }
        if args.len() <= 2 {
            groups = input
                .columns
                .iter()
                .filter(|c| c.name != pivot && Some(&c.name) != aggregated_column.as_ref())
                .map(|c| c.name.clone())
                .collect();
        }
        // The distinct pivot values, read as the keys of one-key bags.
        let text = crate::convert::to_string(Bound::new(col_ref(&pivot), pivot_ty));
        let pack = functions::registry().lookup_scalar("bag_pack").expect("bag_pack is registered");
        let bag = (pack.bind)(&self.call, vec![text.clone(), Bound::new(lit(1i64), KqlType::Long)])
            .map_err(|e| BindError::new(span, e.to_string()))?;
        let keys_plan = LogicalPlanBuilder::from(input.plan.clone())
            .project(vec![bag.expr.alias("__pivot_keys")])
            .and_then(|b| b.build())
            .at(span)?;
        let keys = self
            .resolver
            .bag_keys(keys_plan, "__pivot_keys")
            .map_err(|e| BindError::new(span, format!("pivot() could not read the values of '{pivot}': {e}")))?;
        let mut scope = RowScope { columns: &input.columns, join: None, aggregates: Some(Vec::new()), windows: None };
        let mut outputs: Vec<(String, Bound)> = Vec::new();
        let mut group_exprs = Vec::new();
        for g in &groups {
            let ty = input.column(g).expect("checked above").ty;
            group_exprs.push(col_ref(g));
            outputs.push((g.clone(), Bound::new(col_ref(g), ty)));
        }
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
            let before = scope.aggregates.as_ref().map_or(0, Vec::len);
            let value = self.scalar(&aggregation, &mut scope)?;
            let collected = scope.aggregates.as_mut().expect("summarize scope");
            if collected.len() == before {
                return Err(BindError::new(
                    aggregation.span,
                    "pivot(): the second argument must be an aggregation such as count() or any(Column)",
                ));
            }
            let predicate = text.expr.clone().eq(lit(key.clone()));
            for slot in &mut collected[before..] {
                slot.1 = filter_aggregates(slot.1.clone(), &predicate);
            }
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            outputs.push((naming::unique_name(&key, &taken), value));
        }
        let aggregates: Vec<Expr> =
            scope.aggregates.take().unwrap_or_default().into_iter().map(|(alias, e)| e.alias(alias)).collect();
        let plan = if aggregates.is_empty() && group_exprs.is_empty() {
            // No values and no groups: an empty result with no columns.
            LogicalPlanBuilder::from(input.plan)
                .limit(0, Some(0))
                .and_then(|b| b.project(Vec::<Expr>::new()))
                .and_then(|b| b.build())
        } else {
            LogicalPlanBuilder::from(input.plan).aggregate(group_exprs, aggregates).and_then(|b| b.build())
        }
        .at(span)?;
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(plan, exprs).at(span)?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }

    /// `ipv4_lookup(LookupTable, SourceIPv4Key, IPv4LookupKey [, ExtraKey…] [, return_unmatched])`
    /// and `ipv6_lookup(LookupTable, SourceIPv6Key, IPv6LookupKey [, return_unmatched])`:
    /// the source rows joined to the lookup rows whose address or CIDR
    /// range (the lookup key) holds the source address, and whose extra keys
    /// are equal. Unmatched source rows are dropped unless
    /// `return_unmatched = true`. Every matching range gives a row.
    fn ip_lookup(&mut self, input: Relation, args: &[ast::Arg], family: IpFamily, span: Span) -> BindResult<Relation> {
        let plugin = family.plugin();
        let mut return_unmatched = false;
        let mut positional = Vec::new();
        for arg in args {
            match arg.name.as_ref().map(|n| n.name.as_str()) {
                Some("return_unmatched") => {
                    let value = self.constant(&arg.value)?;
                    return_unmatched = match crate::convert::evaluate_constant(&value.expr) {
                        Some(datafusion::common::ScalarValue::Boolean(Some(b))) => b,
                        _ => {
                            return Err(BindError::new(
                                arg.value.span,
                                format!("{plugin}(): return_unmatched must be true or false"),
                            ))
                        }
                    };
                }
                Some(other) => {
                    return Err(BindError::new(arg.value.span, format!("{plugin}() has no parameter '{other}'")))
                }
                None => positional.push(arg),
            }
        }
        let [table, source_key, lookup_key, extra @ ..] = positional.as_slice() else {
            return Err(BindError::new(
                span,
                format!("{plugin}() needs the lookup table, the source address column and the lookup range column"),
            ));
        };
        // A trailing positional bool is return_unmatched.
        let mut extra: Vec<&ast::Arg> = extra.to_vec();
        if let Some(last) = extra.last() {
            if let ExprKind::Literal(ast::Literal::Bool(b)) = last.value.kind {
                return_unmatched = b;
                extra.pop();
            }
        }
        let lookup = self.tabular(&table.value)?;
        let (source, source_ty) = column_argument(source_key, &input, plugin)?;
        let (range, range_ty) = column_argument(lookup_key, &lookup, plugin)?;
        let tag = self.fresh("ip");
        let right_name = |name: &str| format!("{tag}_{name}");
        let renamed: Vec<Expr> = lookup.columns.iter().map(|c| col_ref(&c.name).alias(right_name(&c.name))).collect();
        let right_plan = project_plan(lookup.plan.clone(), renamed).at(span)?;
        let in_range =
            functions::registry().lookup_scalar(family.in_range()).expect("the in-range function is registered");
        let matches = (in_range.bind)(
            &self.call,
            vec![Bound::new(col_ref(source), source_ty), Bound::new(col_ref(&right_name(range)), range_ty)],
        )
        .map_err(|e| BindError::new(span, format!("{plugin}(): {e}")))?;
        let mut conditions = vec![matches.expr];
        let mut shared: Vec<String> = Vec::new();
        for key in extra {
            let (name, _) = column_argument(key, &input, plugin)?;
            column_argument(key, &lookup, plugin)?;
            conditions.push(col_ref(name).eq(col_ref(&right_name(name))));
            shared.push(name.to_string());
        }
        let join_type = if return_unmatched { JoinType::Left } else { JoinType::Inner };
        let plan = LogicalPlanBuilder::from(input.plan.clone())
            .join_on(right_plan, join_type, conditions)
            .and_then(|b| b.build())
            .at(span)?;
        // Source columns, then the lookup's (extra keys once).
        let mut outputs: Vec<(String, Bound)> =
            input.columns.iter().map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))).collect();
        for c in lookup.columns.iter().filter(|c| !shared.contains(&c.name)) {
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            outputs.push((naming::unique_name(&c.name, &taken), Bound::new(col_ref(&right_name(&c.name)), c.ty)));
        }
        project_outputs(plan, outputs, span)
    }
}

/// The leading columns of `basket` and `autocluster` rows.
const BASKET_COLUMNS: &[(&str, KqlType)] =
    &[("SegmentId", KqlType::Long), ("Count", KqlType::Long), ("Percent", KqlType::Real)];

/// The leading columns of `diffpatterns` rows.
const DIFFPATTERNS_COLUMNS: &[(&str, KqlType)] = &[
    ("SegmentId", KqlType::Long),
    ("CountA", KqlType::Long),
    ("CountB", KqlType::Long),
    ("PercentA", KqlType::Real),
    ("PercentB", KqlType::Real),
    ("PercentDiffAB", KqlType::Real),
];

/// The address family of an `ipv4_lookup` / `ipv6_lookup`.
#[derive(Clone, Copy)]
enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    fn plugin(self) -> &'static str {
        match self {
            IpFamily::V4 => "ipv4_lookup",
            IpFamily::V6 => "ipv6_lookup",
        }
    }

    /// The scalar function that tells whether an address is in a range.
    fn in_range(self) -> &'static str {
        match self {
            IpFamily::V4 => "ipv4_is_in_range",
            IpFamily::V6 => "ipv6_is_in_range",
        }
    }
}

impl<'r> Binder<'r> {
    /// `basket([Threshold [, WeightColumn [, MaxDimensions [, CustomWildcard…]]]])`:
    /// one row per frequent pattern of column values (functions::basket),
    /// with `SegmentId`, `Count`, `Percent` and the input's columns, where
    /// a column the pattern leaves open holds the wildcard: null, the empty
    /// string for strings, or the custom wildcard given for its type.
    fn basket(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        use datafusion::common::ScalarValue;
        let mut threshold = 0.05;
        let mut weight: Option<String> = None;
        let mut max_dims = 5i64;
        let mut wildcards: Vec<Bound> = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            if i == 1 {
                if let ExprKind::Name(id) = &arg.value.kind {
                    column_argument(arg, &input, "basket")?;
                    weight = Some(id.name.clone());
                    continue;
                }
            }
            let value = self.constant(&arg.value)?;
            let constant = crate::convert::evaluate_constant(&value.expr);
            match (i, constant) {
                (0, Some(ScalarValue::Float64(Some(t)))) => threshold = t,
                (0, Some(ScalarValue::Int64(Some(t)))) => threshold = t as f64,
                (0, Some(ScalarValue::Int32(Some(t)))) => threshold = t as f64,
                (2, Some(ScalarValue::Int64(Some(d)))) => max_dims = d,
                (2, Some(ScalarValue::Int32(Some(d)))) => max_dims = d as i64,
                (0..=2, Some(v)) if v.is_null() => {}
                (i, _) if i >= 3 => wildcards.push(value),
                _ => {
                    return Err(BindError::new(
                        arg.value.span,
                        "basket(): expected a constant threshold, a weight column and a maximum dimension count",
                    ))
                }
            }
        }
        // The reference documents 0.015 to 1, but Microsoft's binder takes
        // any value and Microsoft ships rules with 0.01
        // (InsiderRiskyAccessByApplication.yaml): only a ratio outside
        // (0, 1] has no meaning.
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(BindError::new(
                span,
                format!("basket(): the threshold must be between 0 (exclusive) and 1, got {threshold}"),
            ));
        }
        if max_dims < 1 {
            return Err(BindError::new(span, "basket(): the maximum dimension count must be at least 1"));
        }
        self.pattern_rows(input, weight, wildcards, span, BASKET_COLUMNS, None, |rows| {
            crate::udf::call(
                "kql_basket",
                datafusion::arrow::datatypes::DataType::Binary,
                functions::basket::basket_kernel,
                vec![rows, lit(threshold), lit(max_dims)],
            )
        })
    }

    /// `autocluster([SizeWeight [, WeightColumn [, NumSeeds [, CustomWildcard…]]]])`:
    /// the few patterns that summarise the rows (functions::basket::cluster_patterns),
    /// in `basket`'s columns. The search is deterministic, so `NumSeeds`
    /// (the count of random starting points) is checked and not needed.
    fn autocluster(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        use datafusion::common::ScalarValue;
        let mut size_weight = 0.5;
        let mut weight: Option<String> = None;
        let mut wildcards: Vec<Bound> = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            if i == 1 {
                if let ExprKind::Name(id) = &arg.value.kind {
                    column_argument(arg, &input, "autocluster")?;
                    weight = Some(id.name.clone());
                    continue;
                }
            }
            let value = self.constant(&arg.value)?;
            let constant = crate::convert::evaluate_constant(&value.expr);
            match (i, constant) {
                (0, Some(ScalarValue::Float64(Some(w)))) => size_weight = w,
                (0, Some(ScalarValue::Int64(Some(w)))) => size_weight = w as f64,
                (2, Some(ScalarValue::Int64(Some(seeds)))) if seeds >= 1 => {}
                (2, Some(ScalarValue::Int32(Some(seeds)))) if seeds >= 1 => {}
                (0..=2, Some(v)) if v.is_null() => {}
                (i, _) if i >= 3 => wildcards.push(value),
                _ => {
                    return Err(BindError::new(
                        arg.value.span,
                        "autocluster(): expected a constant size weight, a weight column and a positive seed count",
                    ))
                }
            }
        }
        if !(0.0..=1.0).contains(&size_weight) {
            return Err(BindError::new(
                span,
                format!("autocluster(): the size weight must be between 0 and 1, got {size_weight}"),
            ));
        }
        self.pattern_rows(input, weight, wildcards, span, BASKET_COLUMNS, None, |rows| {
            crate::udf::call(
                "kql_autocluster",
                datafusion::arrow::datatypes::DataType::Binary,
                functions::basket::autocluster_kernel,
                vec![rows, lit(size_weight)],
            )
        })
    }

    /// `diffpatterns(SplitColumn, SplitValueA, SplitValueB [, WeightColumn, Threshold, MaxDimensions, CustomWildcard…])`:
    /// the patterns of column values whose shares of the rows with split
    /// value A and with split value B differ by at least `Threshold`
    /// (functions::basket::diff_patterns), with `SegmentId`, `CountA`,
    /// `CountB`, `PercentA`, `PercentB`, `PercentDiffAB` and the input's
    /// other columns (wildcards where a pattern leaves a column open). `"~"`
    /// stands for an optional argument's default.
    fn diffpatterns(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        use datafusion::common::ScalarValue;
        let [split, value_a, value_b, rest @ ..] = args else {
            return Err(BindError::new(span, "diffpatterns() needs the split column and the two split values"));
        };
        let (split, _) = column_argument(split, &input, "diffpatterns")?;
        let split = split.to_string();
        let mut split_value = |arg: &ast::Arg| -> BindResult<String> {
            let value = self.constant(&arg.value)?;
            // The value as text, as the split column's values are compared.
            match crate::convert::evaluate_constant(&value.expr) {
                Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
                    Ok(s)
                }
                Some(ScalarValue::Int64(Some(v))) => Ok(v.to_string()),
                Some(ScalarValue::Int32(Some(v))) => Ok(v.to_string()),
                Some(ScalarValue::Float64(Some(v))) => Ok(v.to_string()),
                Some(ScalarValue::Boolean(Some(v))) => Ok(v.to_string()),
                _ => Err(BindError::new(arg.value.span, "diffpatterns(): the split values must be constants")),
            }
        };
        let (value_a, value_b) = (split_value(value_a)?, split_value(value_b)?);
        let is_default = |arg: &ast::Arg| matches!(&arg.value.kind, ExprKind::Literal(ast::Literal::String { value, .. }) if value == "~");
        let mut weight: Option<String> = None;
        let mut threshold = 0.05;
        let mut max_dims: Option<i64> = None;
        let mut wildcards: Vec<Bound> = Vec::new();
        for (i, arg) in rest.iter().enumerate() {
            if is_default(arg) {
                continue;
            }
            if i == 0 {
                weight = Some(column_argument(arg, &input, "diffpatterns")?.0.to_string());
                continue;
            }
            let value = self.constant(&arg.value)?;
            match (i, crate::convert::evaluate_constant(&value.expr)) {
                (1, Some(ScalarValue::Float64(Some(t)))) => threshold = t,
                (2, Some(ScalarValue::Int64(Some(d)))) if d >= 1 => max_dims = Some(d),
                (2, Some(ScalarValue::Int32(Some(d)))) if d >= 1 => max_dims = Some(d as i64),
                (i, _) if i >= 3 => wildcards.push(value),
                _ => {
                    return Err(BindError::new(
                        arg.value.span,
                        "diffpatterns(): expected a weight column, a threshold between 0 and 1 and a positive dimension count (or \"~\")",
                    ))
                }
            }
        }
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(BindError::new(
                span,
                format!("diffpatterns(): the threshold must be between 0 and 1, got {threshold}"),
            ));
        }
        let split_index = input
            .columns
            .iter()
            .filter(|c| Some(&c.name) != weight.as_ref())
            .position(|c| c.name == split)
            .expect("the split column is an input column");
        let hidden = split.clone();
        self.pattern_rows(input, weight, wildcards, span, DIFFPATTERNS_COLUMNS, Some(&hidden), |rows| {
            crate::udf::call(
                "kql_diffpatterns",
                datafusion::arrow::datatypes::DataType::Binary,
                functions::basket::diffpatterns_kernel,
                vec![
                    rows,
                    lit(split_index as i64),
                    lit(value_a),
                    lit(value_b),
                    lit(threshold),
                    lit(ScalarValue::Int64(max_dims)),
                ],
            )
        })
    }

    /// The rows of `basket` and `autocluster`: `mine` turns the column of
    /// the input's distinct rows (`[v1, …, vn, weight]` each) into patterns.
    #[allow(clippy::too_many_arguments)]
    fn pattern_rows(
        &mut self,
        input: Relation,
        weight: Option<String>,
        wildcards: Vec<Bound>,
        span: Span,
        prefix: &[(&str, KqlType)],
        hidden: Option<&str>,
        mine: impl FnOnce(Expr) -> Expr,
    ) -> BindResult<Relation> {
        use datafusion::common::ScalarValue;
        let dims: Vec<ColumnDef> = input.columns.iter().filter(|c| Some(&c.name) != weight.as_ref()).cloned().collect();
        let registry = functions::registry();
        // 1. Weight per distinct combination of dimension values.
        let count = match &weight {
            Some(w) => {
                let ty = input.column(w).expect("checked above").ty;
                (registry.lookup_aggregate("sum").expect("sum").bind)(&self.call, vec![Bound::new(col_ref(w), ty)])
            }
            None => (registry.lookup_aggregate("count").expect("count").bind)(&self.call, Vec::new()),
        }
        .map_err(|e| BindError::new(span, e.to_string()))?;
        let plan = LogicalPlanBuilder::from(input.plan.clone())
            .aggregate(dims.iter().map(|c| col_ref(&c.name)).collect::<Vec<_>>(), vec![count.expr.alias("__basket_n")])
            .and_then(|b| b.build())
            .at(span)?;
        // 2. All combinations as one array of [v1, …, vn, weight].
        let mut cells: Vec<Bound> = dims.iter().map(|c| Bound::new(col_ref(&c.name), c.ty)).collect();
        cells.push(Bound::new(col_ref("__basket_n"), count.ty));
        let row = functions::dynamic::pack_array(cells);
        let list = (registry.lookup_aggregate("make_list").expect("make_list").bind)(
            &self.call,
            vec![row, Bound::new(lit(i64::MAX), KqlType::Long)],
        )
        .map_err(|e| BindError::new(span, e.to_string()))?;
        // 3. The patterns, one row each.
        let patterns = mine(col_ref("__basket_rows"));
        let plan = LogicalPlanBuilder::from(plan)
            .aggregate(Vec::<Expr>::new(), vec![list.expr.alias("__basket_rows")])
            .and_then(|b| {
                b.project(vec![
                    functions::dynamic::to_list(Bound::new(patterns, KqlType::Dynamic), None).alias("__basket_p")
                ])
            })
            .and_then(|b| {
                b.unnest_columns_with_options(
                    vec![datafusion::common::Column::from_name("__basket_p")],
                    datafusion::common::UnnestOptions::new().with_preserve_nulls(false),
                )
            })
            .and_then(|b| b.build())
            .at(span)?;
        // 4. Typed columns: [segment, count, percent, [is_set…], v1, …, vn].
        let pattern = Bound::new(col_ref("__basket_p"), KqlType::Dynamic);
        let at = |base: &Bound, i: usize| {
            functions::dynamic::get_index(base.clone(), Bound::new(lit(i as i64), KqlType::Long))
        };
        let typed = |b: Bound, ty: KqlType| crate::convert::implicit(b, ty).expect("dynamic converts to every type");
        let mut outputs: Vec<(String, Bound)> =
            prefix.iter().enumerate().map(|(i, (name, ty))| (name.to_string(), typed(at(&pattern, i), *ty))).collect();
        let flags = at(&pattern, prefix.len());
        for c in input.columns.iter().filter(|c| Some(c.name.as_str()) != hidden) {
            let wildcard = match wildcards.iter().find(|w| w.ty == c.ty) {
                Some(w) => w.expr.clone(),
                None if c.ty == KqlType::String => lit(""),
                None => lit(ScalarValue::try_from(&c.ty.arrow()).map_err(|e| BindError::new(span, e.to_string()))?),
            };
            let value = match dims.iter().position(|d| d.name == c.name) {
                Some(i) => {
                    let is_set = typed(at(&flags, i), KqlType::Bool).expr;
                    let value = typed(at(&pattern, prefix.len() + 1 + i), c.ty).expr;
                    datafusion::logical_expr::when(is_set, value).otherwise(wildcard).at(span)?
                }
                None => wildcard,
            };
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            outputs.push((naming::unique_name(&c.name, &taken), Bound::new(value, c.ty)));
        }
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(plan, exprs).at(span)?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }
}
