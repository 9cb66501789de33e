//! Joins and groupings on key domains run on dictionary codes. The host codes the columns of a
//! key domain (one plate in `judgments` and in `vehicles`) against one dictionary of distinct
//! values, so two of them hold equal text exactly where they hold equal codes. DataFusion would
//! hash and compare the text in every join and group-by; this rewrite of the optimized plan makes
//! it compare 4-byte codes instead, wherever both sides of an equi-join key, or a grouping key, are
//! plain columns of one domain, and turns a grouped code back into its text with one lookup per
//! group. Everything the query returns is the same; the rest of the plan is left as it was.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringViewArray};
use datafusion::arrow::datatypes::{DataType, UInt32Type};
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::logical_plan::{
    Aggregate, Filter, Join, JoinType, Projection, SubqueryAlias, TableScan, TableScanBuilder,
};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::tables::{Dictionaries, LoadedTable, decode};

/// Turns a domain's codes back into its text.
#[derive(Debug)]
struct Decode {
    name: String,
    domain: usize,
    values: StringViewArray,
    signature: Signature,
}

impl PartialEq for Decode {
    fn eq(&self, other: &Self) -> bool {
        self.domain == other.domain
    }
}

impl Eq for Decode {}

impl Hash for Decode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.domain.hash(state);
    }
}

impl ScalarUDFImpl for Decode {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8View)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let codes = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(decode(&self.values, codes.as_primitive::<UInt32Type>()))))
    }
}

/// A plan after the rewrite: which of its output fields are the original ones (in order), and
/// for a text field that has one, the field holding its codes and their domain.
struct Coded {
    plan: LogicalPlan,
    original: Vec<usize>,
    twins: HashMap<usize, (usize, usize)>,
}

impl Coded {
    fn plain(plan: LogicalPlan) -> Coded {
        let original = (0..plan.schema().fields().len()).collect();
        Coded { plan, original, twins: HashMap::new() }
    }

    fn column(&self, i: usize) -> Column {
        Column::from(self.plan.schema().qualified_field(i))
    }

    /// The codes column of `expr`, when it is a plain column that has one, and its domain.
    fn twin(&self, expr: &Expr) -> Option<(Column, usize)> {
        let Expr::Column(column) = expr else { return None };
        let at = self.plan.schema().maybe_index_of_column(column)?;
        let &(twin, domain) = self.twins.get(&at)?;
        Some((self.column(twin), domain))
    }

    /// The plan with its original fields only, in their order.
    fn strip(self) -> Result<LogicalPlan> {
        if self.twins.is_empty() && self.original.len() == self.plan.schema().fields().len() {
            return Ok(self.plan);
        }
        let exprs = self.original.iter().map(|&i| Expr::Column(self.column(i))).collect();
        Ok(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(self.plan))?))
    }
}

/// The rewrite, over a run's loaded tables.
pub struct Rewrite {
    tables: HashMap<String, LoadedTable>,
    decoders: Vec<Arc<ScalarUDF>>,
}

impl Rewrite {
    /// A rewrite over `tables` (by name), whose coded columns' domains are `dictionaries`'.
    pub fn new(tables: HashMap<String, LoadedTable>, dictionaries: &Dictionaries) -> Rewrite {
        let decoders = (0..dictionaries.len())
            .filter_map(|domain| {
                let values = dictionaries.values(domain)?.clone();
                let decode = Decode {
                    name: format!("__sieve_decode_{domain}"),
                    domain,
                    values,
                    signature: Signature::exact(vec![DataType::UInt32], Volatility::Immutable),
                };
                Some(Arc::new(ScalarUDF::new_from_impl(decode)))
            })
            .collect();
        Rewrite { tables, decoders }
    }

    /// `plan`, joining and grouping on codes where it can; the same output fields.
    pub fn apply(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        self.visit(plan)?.strip()
    }

    fn visit(&self, plan: LogicalPlan) -> Result<Coded> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(projection) => self.projection(projection),
            LogicalPlan::Join(join) => self.join(join),
            LogicalPlan::Aggregate(aggregate) => self.aggregate(aggregate),
            // Fields pass through one for one.
            LogicalPlan::Filter(Filter { predicate, input, .. }) => {
                let input = self.visit(Arc::unwrap_or_clone(input))?;
                let plan = LogicalPlan::Filter(Filter::try_new(predicate, Arc::new(input.plan))?);
                Ok(Coded { plan, ..input })
            }
            LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => {
                let input = self.visit(Arc::unwrap_or_clone(input))?;
                let plan = LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(input.plan), alias)?);
                Ok(Coded { plan, ..input })
            }
            LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => {
                let input = self.visit(plan.inputs()[0].clone())?;
                let plan = plan.with_new_exprs(plan.expressions(), vec![input.plan.clone()])?;
                Ok(Coded { plan, ..input })
            }
            // Anything else sees its inputs as they were.
            other => {
                let inputs = other
                    .inputs()
                    .into_iter()
                    .map(|input| self.visit(input.clone())?.strip())
                    .collect::<Result<Vec<_>>>()?;
                Ok(Coded::plain(other.with_new_exprs(other.expressions(), inputs)?))
            }
        }
    }

    fn scan(&self, scan: TableScan) -> Result<Coded> {
        let Some(table) = self.tables.get(scan.table_name.table()).filter(|t| !t.coded().is_empty()) else {
            return Ok(Coded::plain(LogicalPlan::TableScan(scan)));
        };
        let contract = scan.source.schema();
        let mut projection =
            scan.projection.clone().unwrap_or_else(|| (0..contract.fields().len()).collect());
        let width = projection.len();
        let mut twins = HashMap::new();
        for at in 0..width {
            let name = contract.field(projection[at]).name();
            if let Some(k) = table.coded().iter().position(|(column, _)| column == name) {
                twins.insert(at, (projection.len(), table.coded()[k].1));
                projection.push(contract.fields().len() + k);
            }
        }
        if twins.is_empty() {
            return Ok(Coded::plain(LogicalPlan::TableScan(scan)));
        }
        let source = provider_as_source(Arc::new(table.with_codes()));
        let plan = TableScanBuilder::new(scan.table_name, source)
            .with_projection(Some(projection))
            .with_filters(scan.filters)
            .with_fetch(scan.fetch)
            .build()?;
        Ok(Coded { plan: LogicalPlan::TableScan(plan), original: (0..width).collect(), twins })
    }

    fn projection(&self, projection: Projection) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(projection.input))?;
        let mut exprs = projection.expr;
        let width = exprs.len();
        let mut twins = HashMap::new();
        for at in 0..width {
            let (column, relation, name) = match &exprs[at] {
                Expr::Column(c) => (c, c.relation.clone(), c.name.clone()),
                Expr::Alias(alias) => match alias.expr.as_ref() {
                    Expr::Column(c) => (c, alias.relation.clone(), alias.name.clone()),
                    _ => continue,
                },
                _ => continue,
            };
            if let Some((twin, domain)) = input.twin(&Expr::Column(column.clone())) {
                twins.insert(at, (exprs.len(), domain));
                exprs.push(Expr::Column(twin).alias_qualified(relation, crate::tables::code_column(&name)));
            }
        }
        let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input.plan))?);
        Ok(Coded { plan, original: (0..width).collect(), twins })
    }

    fn join(&self, join: Join) -> Result<Coded> {
        let left = self.visit(Arc::unwrap_or_clone(join.left))?;
        let right = self.visit(Arc::unwrap_or_clone(join.right))?;
        let on = join
            .on
            .into_iter()
            .map(|(l, r)| match (left.twin(&l), right.twin(&r)) {
                (Some((l, a)), Some((r, b))) if a == b => (Expr::Column(l), Expr::Column(r)),
                _ => (l, r),
            })
            .collect();
        // Which side's fields the join returns, and where the right side's start.
        let (keeps_left, keeps_right) = match join.join_type {
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => (true, true),
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => (true, false),
            JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => (false, true),
        };
        let left_width = left.plan.schema().fields().len();
        let right_width = right.plan.schema().fields().len();
        let plan = LogicalPlan::Join(Join::try_new(
            Arc::new(left.plan),
            Arc::new(right.plan),
            on,
            join.filter,
            join.join_type,
            join.join_constraint,
            join.null_equality,
            join.null_aware,
        )?);
        let mut original = Vec::new();
        let mut twins = HashMap::new();
        if keeps_left {
            original.extend(left.original.iter().copied());
            twins.extend(left.twins);
        }
        if keeps_right {
            let base = if keeps_left { left_width } else { 0 };
            original.extend(right.original.iter().map(|i| base + i));
            twins.extend(right.twins.into_iter().map(|(i, (t, d))| (base + i, (base + t, d))));
        }
        // A mark join adds its mark after the side it keeps.
        let width = plan.schema().fields().len();
        let kept = if keeps_left { left_width } else { right_width };
        original.extend(kept..width);
        Ok(Coded { plan, original, twins })
    }

    fn aggregate(&self, aggregate: Aggregate) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(aggregate.input))?;
        let grouping_set = aggregate.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_)));
        let mut group = aggregate.group_expr;
        let mut coded = Vec::new();
        if !grouping_set {
            for (at, expr) in group.iter_mut().enumerate() {
                if let Some((twin, domain)) = input.twin(expr)
                    && let Some(decoder) = self.decoders.get(domain)
                {
                    *expr = Expr::Column(twin);
                    coded.push((at, domain, decoder));
                }
            }
        }
        let original_schema = aggregate.schema;
        let plan =
            LogicalPlan::Aggregate(Aggregate::try_new(Arc::new(input.plan), group, aggregate.aggr_expr)?);
        if coded.is_empty() {
            return Ok(Coded::plain(plan));
        }
        // Above the grouping: each coded key back as its text, under its own name, then its codes.
        let width = original_schema.fields().len();
        let mut exprs: Vec<Expr> = (0..width)
            .map(|i| {
                let column = Expr::Column(Column::from(plan.schema().qualified_field(i)));
                match coded.iter().find(|(at, _, _)| *at == i) {
                    Some((_, _, decoder)) => {
                        let (relation, field) = original_schema.qualified_field(i);
                        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(decoder), vec![column]))
                            .alias_qualified(relation.cloned(), field.name())
                    }
                    None => column,
                }
            })
            .collect();
        let mut twins = HashMap::new();
        for &(at, domain, _) in &coded {
            twins.insert(at, (exprs.len(), domain));
            exprs.push(Expr::Column(Column::from(plan.schema().qualified_field(at))));
        }
        let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(plan))?);
        Ok(Coded { plan, original: (0..width).collect(), twins })
    }
}
