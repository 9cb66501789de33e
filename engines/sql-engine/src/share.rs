//! A subquery the query names in more than one place (a CTE used twice: grouped in one place and
//! joined back in another) is computed once. DataFusion plans a CTE wherever it is named, so each
//! use would compute it, with everything under it, again. Here each such subquery becomes a part
//! of its own, computed first; its uses scan the part's result. Only a subquery worth keeping is
//! shared (one that joins, groups, orders or computes a window): scanning a table twice costs no
//! more than scanning a copy of it. Parts are planned and optimized on their own, so a filter of
//! one use is no longer pushed into the CTE; the rows each use sees are the same.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::default_table_source::{provider_as_source, source_as_provider};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::logical_plan::{LogicalPlanBuilder, Projection, SubqueryAlias};
use datafusion::logical_expr::{Expr, LogicalPlan, lit};
use datafusion::physical_plan::ExecutionPlan;

use crate::tables::DomainText;

/// The name of the table holding part `k`'s result.
fn part_name(k: usize) -> String {
    format!("__sieve_shared_{k}")
}

/// A part's rows, each text column as codes where the part's plan carried them to its end.
#[derive(Debug)]
struct Kept {
    /// The part's schema, but `UInt32` for each column of codes.
    schema: SchemaRef,
    /// In that schema.
    batches: Vec<RecordBatch>,
    /// For each column, its domain and the text behind it, where it holds codes.
    coded: Vec<Option<(usize, Arc<DomainText>)>>,
}

/// A part's result, as a table its uses scan: filled once the part has run, which is before any
/// plan that scans it runs. A scan gives its text (the part's planned schema), or, where a use's
/// plan carries codes, its columns of codes as codes.
#[derive(Debug)]
pub struct PartTable {
    schema: SchemaRef,
    result: Arc<OnceLock<Kept>>,
    gives_codes: bool,
}

/// The domain of each column of a table that holds codes (`None` where it holds values), and
/// the table giving those columns as codes.
pub type CodedTable = (Vec<Option<usize>>, Arc<dyn TableProvider>);

/// The domain of each column of the part `provider` reads, where it holds codes, and the table
/// giving those columns as codes; `None` for a table that is not a part or holds no codes.
pub fn coded(provider: &Arc<dyn TableProvider>) -> Option<CodedTable> {
    let part = provider.downcast_ref::<PartTable>()?;
    let kept = part.result.get()?;
    if kept.coded.iter().all(Option::is_none) {
        return None;
    }
    let domains = kept.coded.iter().map(|c| c.as_ref().map(|(domain, _)| *domain)).collect();
    let with_codes =
        PartTable { schema: kept.schema.clone(), result: part.result.clone(), gives_codes: true };
    Some((domains, Arc::new(with_codes)))
}

#[async_trait::async_trait]
impl TableProvider for PartTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(kept) = self.result.get() else {
            return plan_err!("a shared subquery was scanned before it ran");
        };
        if self.gives_codes || kept.coded.iter().all(Option::is_none) {
            return Ok(MemorySourceConfig::try_new_exec(
                std::slice::from_ref(&kept.batches),
                self.schema.clone(),
                projection.cloned(),
            )?);
        }
        // Read as text: the text of each column of codes it reads, made for this scan.
        let wanted = projection.cloned().unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let projected = Arc::new(self.schema.project(&wanted)?);
        let batches = kept
            .batches
            .iter()
            .map(|batch| {
                let columns = wanted
                    .iter()
                    .map(|&i| match &kept.coded[i] {
                        Some((_, text)) => {
                            Ok(Arc::new(text.decode(batch.column(i).as_primitive())?) as ArrayRef)
                        }
                        None => Ok(batch.column(i).clone()),
                    })
                    .collect::<Result<_>>()?;
                Ok(RecordBatch::try_new(projected.clone(), columns)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MemorySourceConfig::try_new_exec(&[batches], projected, None)?)
    }
}

/// Whether `scan` reads a part's result rather than a table of the task.
pub fn reads_part(scan: &datafusion::logical_expr::TableScan) -> bool {
    source_as_provider(&scan.source).is_ok_and(|p| p.is::<PartTable>())
}

/// A part: its plan, the name of the table its uses scan, and where its result goes.
pub struct Part {
    pub plan: LogicalPlan,
    name: String,
    schema: SchemaRef,
    result: Arc<OnceLock<Kept>>,
}

impl Part {
    /// The part's plan computing only the columns that `plans` (every plan that may scan it,
    /// optimized) read of it; each other column holds its type's default value, which nothing
    /// reads, so that the part reads no input column for it. `None` where it reads them all.
    pub fn pruned(&self, plans: &[&LogicalPlan]) -> Result<Option<LogicalPlan>> {
        let mut read = vec![false; self.schema.fields().len()];
        for plan in plans {
            plan.apply_with_subqueries(|node| {
                if let LogicalPlan::TableScan(scan) = node
                    && reads_part(scan)
                    && scan.table_name.table() == self.name
                {
                    match &scan.projection {
                        Some(columns) => columns.iter().for_each(|&i| read[i] = true),
                        None => read.iter_mut().for_each(|r| *r = true),
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        if read.iter().all(|&r| r) {
            return Ok(None);
        }
        let schema = self.plan.schema().clone();
        let exprs = read
            .iter()
            .enumerate()
            .map(|(i, &read)| {
                let (relation, field) = schema.qualified_field(i);
                Ok(match read {
                    true => Expr::Column(Column::from((relation, field))),
                    false => lit(ScalarValue::new_default(field.data_type())?)
                        .alias_qualified(relation.cloned(), field.name()),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(self.plan.clone()))?)))
    }

    /// Keep `batches`, the part's rows, for the plans that scan it, in the schema they were
    /// planned against (the same columns, names and types, but `UInt32` for each column that
    /// `coded` gives a domain and its text, which holds that domain's codes).
    pub fn keep(self, batches: Vec<RecordBatch>, coded: Vec<Option<(usize, Arc<DomainText>)>>) -> Result<()> {
        if coded.len() != self.schema.fields().len() {
            return plan_err!(
                "a shared subquery gave {} columns where {} were planned",
                coded.len(),
                self.schema.fields().len()
            );
        }
        let fields: Vec<Field> = self
            .schema
            .fields()
            .iter()
            .zip(&coded)
            .map(|(f, coded)| match coded {
                Some(_) => Field::new(f.name(), DataType::UInt32, true),
                None => f.as_ref().clone(),
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let batches = batches
            .into_iter()
            .map(|batch| RecordBatch::try_new(schema.clone(), batch.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let _ = self.result.set(Kept { schema, batches, coded });
        Ok(())
    }
}

/// Whether computing `plan` once is worth keeping its result, and it can be computed on its own
/// (nothing in it reads a column of a query around it).
fn worth_sharing(plan: &LogicalPlan) -> bool {
    let costly = plan.exists(|node| {
        Ok(matches!(
            node,
            LogicalPlan::Join(_) | LogicalPlan::Aggregate(_) | LogicalPlan::Window(_) | LogicalPlan::Sort(_)
        ))
    });
    let reads_outside = plan.exists(|node| Ok(node.contains_outer_reference()));
    matches!((costly, reads_outside), (Ok(true), Ok(false)))
}

/// How many nodes `plan` has.
fn size(plan: &LogicalPlan) -> usize {
    let mut nodes = 0;
    let _ = plan.apply(|_| {
        nodes += 1;
        Ok(TreeNodeRecursion::Continue)
    });
    nodes
}

/// `plan` (as planned, before optimizing) with each subquery that is named in two or more places
/// read from a part; and the parts, in the order they must run.
pub fn split(plan: LogicalPlan) -> Result<(LogicalPlan, Vec<Part>)> {
    // The plans: the query's own first, then each part's.
    let mut plans = vec![plan];
    let mut results = Vec::new();
    loop {
        // Every subquery under an alias, wherever it is named (the largest first: sharing it
        // shares what it names too).
        let mut named: Vec<(LogicalPlan, usize)> = Vec::new();
        for plan in &plans {
            plan.apply_with_subqueries(|node| {
                if let LogicalPlan::SubqueryAlias(alias) = node
                    && worth_sharing(&alias.input)
                {
                    match named.iter_mut().find(|(p, _)| p == alias.input.as_ref()) {
                        Some((_, uses)) => *uses += 1,
                        None => named.push((alias.input.as_ref().clone(), 1)),
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        let Some(shared) = named.into_iter().filter(|(_, uses)| *uses > 1).map(|(p, _)| p).max_by_key(size)
        else {
            break;
        };
        let result = Arc::new(OnceLock::new());
        let schema: SchemaRef = Arc::new(shared.schema().as_arrow().clone());
        let table = PartTable { schema: schema.clone(), result: result.clone(), gives_codes: false };
        let scan =
            LogicalPlanBuilder::scan(part_name(results.len()), provider_as_source(Arc::new(table)), None)?
                .build()?;
        plans = plans
            .into_iter()
            .map(|plan| {
                let replaced = plan.transform_down_with_subqueries(|node| match node {
                    LogicalPlan::SubqueryAlias(alias) if alias.input.as_ref() == &shared => {
                        let aliased = SubqueryAlias::try_new(Arc::new(scan.clone()), alias.alias)?;
                        Ok(Transformed::new(
                            LogicalPlan::SubqueryAlias(aliased),
                            true,
                            TreeNodeRecursion::Jump,
                        ))
                    }
                    other => Ok(Transformed::no(other)),
                })?;
                Ok(replaced.data)
            })
            .collect::<Result<_>>()?;
        plans.push(shared);
        results.push((part_name(results.len()), schema, result));
    }
    let main = plans.remove(0);
    // A part found later is named inside one found earlier (or beside it): it runs first.
    let parts = plans
        .into_iter()
        .zip(results)
        .map(|(plan, (name, schema, result))| Part { plan, name, schema, result })
        .rev()
        .collect();
    Ok((main, parts))
}
