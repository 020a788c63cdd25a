//! Tabular values computed once per query: `materialize(T)`, and plugin
//! inputs that the plugin's plan reads more than once.
//!
//! Kusto's `materialize()` "captures the value of a tabular expression for
//! the duration of the query execution so that it can be referenced
//! multiple times by the query without recalculation", which matters when
//! the expression is nondeterministic (`rand()`): every reference must see
//! the same rows. A [`MaterializedTable`] is a table provider holding the
//! expression's plan; every scan of it (one per reference) reads the rows
//! that the first scan computed. Walkers of the plan that look for the
//! tables a query reads see through it with [`plans_within`].

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session as PlanningSession, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableType};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// A tabular expression's plan, computed on its first scan and read from
/// memory by every scan after.
#[derive(Debug)]
pub struct MaterializedTable {
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: futures::lock::Mutex<Option<Arc<Vec<RecordBatch>>>>,
}

impl MaterializedTable {
    /// The plan whose rows this table holds.
    pub fn plan(&self) -> &LogicalPlan {
        &self.plan
    }
}

/// A plan that scans `plan`'s rows, computed once however many times the
/// returned plan (or clones of it) is read in one query. `name` names the
/// scan (a fresh name of the binder's).
pub fn materialize(plan: LogicalPlan, name: &str) -> Result<LogicalPlan> {
    let schema = SchemaRef::new(plan.schema().as_arrow().clone());
    let table = Arc::new(MaterializedTable { plan, schema, rows: futures::lock::Mutex::new(None) });
    LogicalPlanBuilder::scan(name, provider_as_source(table), None)?.build()
}

/// `plan` and the plans of the materialized tables it reads, recursively:
/// what a walker looking for table scans must visit.
pub fn plans_within(plan: &LogicalPlan) -> Vec<LogicalPlan> {
    let mut plans = vec![plan.clone()];
    let mut next = 0;
    while next < plans.len() {
        let mut inner = Vec::new();
        let _ = plans[next].apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let provider = datafusion::datasource::source_as_provider(&scan.source).ok();
                if let Some(table) = provider.as_ref().and_then(|p| p.downcast_ref::<MaterializedTable>()) {
                    inner.push(table.plan().clone());
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
        plans.extend(inner);
        next += 1;
    }
    plans
}

#[async_trait::async_trait]
impl TableProvider for MaterializedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn PlanningSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The lock is held while the rows are computed, so a second scan
        // planned meanwhile waits for them instead of computing them again.
        let mut rows = self.rows.lock().await;
        let batches = match rows.as_ref() {
            Some(batches) => batches.clone(),
            None => {
                let physical = state.create_physical_plan(&self.plan).await?;
                let batches = Arc::new(datafusion::physical_plan::collect(physical, state.task_ctx()).await?);
                *rows = Some(batches.clone());
                batches
            }
        };
        Ok(MemorySourceConfig::try_new_exec(&[batches.as_ref().clone()], self.schema.clone(), projection.cloned())?)
    }
}
