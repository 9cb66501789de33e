//! Joins and groupings on key domains run on dictionary codes. The host codes the columns of a
//! key domain (one plate in `judgments` and in `vehicles`) against one dictionary of distinct
//! values, so two of them hold equal text exactly where they hold equal codes. DataFusion would
//! hash and compare the text in every join and group-by; this rewrite of the optimized plan makes
//! it compare 4-byte codes instead, wherever both sides of an equi-join key, or a grouping key, are
//! plain columns of one domain, and turns a grouped code back into its text with one lookup per
//! group. Everything the query returns is the same; the rest of the plan is left as it was.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::default_table_source::provider_as_source;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::logical_plan::{
    Aggregate, Filter, Join, JoinType, Projection, SubqueryAlias, TableScan, TableScanBuilder,
};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF, Volatility};

use crate::per_value::{self, PerValue, Values};
use crate::tables::{Dictionaries, LoadedTable};

/// Expressions of a domain are evaluated per value when its largest table has at least this many
/// rows per distinct value.
const PER_VALUE_RATIO: usize = 4;

/// Whether `expr` alone gives the same result for the same input values wherever it is evaluated
/// (no aggregate, window, subquery, placeholder or volatile function), so that evaluating it once
/// per value of its one column gives what each row would.
fn per_row(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_)
        | Expr::Literal(..)
        | Expr::BinaryExpr(_)
        | Expr::Not(_)
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotUnknown(_)
        | Expr::Negative(_)
        | Expr::Between(_)
        | Expr::Case(_)
        | Expr::Cast(_)
        | Expr::TryCast(_)
        | Expr::Like(_)
        | Expr::SimilarTo(_)
        | Expr::InList(_) => true,
        Expr::ScalarFunction(f) => f.func.signature().volatility == Volatility::Immutable,
        _ => false,
    }
}

/// The codes column a field is a function of, and what each code stands for in that field.
type Valued = (Column, Arc<Values>);

/// A plan after the rewrite: which of its output fields are the original ones (in order); for a
/// text field that has one, the field holding its codes and their domain; and for a field that
/// is a function of some codes (a coded column, or an expression of one), the field holding
/// those codes and what each stands for.
struct Coded {
    plan: LogicalPlan,
    original: Vec<usize>,
    twins: HashMap<usize, (usize, usize)>,
    valued: HashMap<usize, (usize, Arc<Values>)>,
}

impl Coded {
    fn plain(plan: LogicalPlan) -> Coded {
        let original = (0..plan.schema().fields().len()).collect();
        Coded { plan, original, twins: HashMap::new(), valued: HashMap::new() }
    }

    /// The codes column `column` is a function of, and what each code stands for there.
    fn valued(&self, column: &Column) -> Option<Valued> {
        let at = self.plan.schema().maybe_index_of_column(column)?;
        let (codes, values) = self.valued.get(&at)?;
        Some((self.column(*codes), values.clone()))
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
        if self.original.len() == self.plan.schema().fields().len() {
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
    /// Per domain, its values, where it has few enough for expressions to be evaluated per value.
    values: Vec<Option<Arc<Values>>>,
    /// Numbers the functions and columns the rewrite adds, so that no two share a name.
    added: Cell<usize>,
}

impl Rewrite {
    /// A rewrite over `tables` (by name), whose coded columns' domains are `dictionaries`'.
    pub fn new(tables: HashMap<String, LoadedTable>, dictionaries: &Dictionaries) -> Rewrite {
        // A domain's rows: those of the largest table coded against it.
        let mut rows = vec![0usize; dictionaries.len()];
        for table in tables.values() {
            for &(_, domain) in table.coded() {
                rows[domain] = rows[domain].max(table.rows());
            }
        }
        let (mut decoders, mut values) = (Vec::new(), Vec::new());
        for (domain, rows) in rows.into_iter().enumerate() {
            let Some(dictionary) = dictionaries.values(domain) else { continue };
            let text = Values::dictionary(dictionary);
            // Turns the domain's codes back into its text.
            let decode = PerValue::new(format!("__sieve_decode_{domain}"), text.clone(), DataType::Utf8View);
            decoders.push(Arc::new(ScalarUDF::new_from_impl(decode)));
            // Evaluating every value pays where values repeat: a few per row would not.
            values.push((dictionary.len() * PER_VALUE_RATIO <= rows).then_some(text));
        }
        Rewrite { tables, decoders, values, added: Cell::new(0) }
    }

    /// `plan`, joining and grouping on codes where it can, and evaluating expressions of one coded
    /// column per value; the same output fields. `state` plans those expressions.
    pub fn apply(&self, plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
        self.visit(plan, state)?.strip()
    }

    /// What `domain`'s codes stand for, where expressions of it are evaluated per value.
    fn domain_values(&self, domain: usize) -> Option<Arc<Values>> {
        self.values.get(domain).cloned().flatten()
    }

    /// A name no other function or column of the plan has.
    fn fresh(&self, what: &str) -> String {
        let n = self.added.get();
        self.added.set(n + 1);
        format!("__sieve_{what}_{n}")
    }

    fn visit(&self, plan: LogicalPlan, state: &SessionState) -> Result<Coded> {
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(projection) => self.projection(projection, state),
            LogicalPlan::Join(join) => self.join(join, state),
            LogicalPlan::Aggregate(aggregate) => self.aggregate(aggregate, state),
            // Fields pass through one for one.
            LogicalPlan::Filter(Filter { predicate, input, .. }) => {
                let input = self.visit(Arc::unwrap_or_clone(input), state)?;
                let (predicate, _) = self.per_value(predicate, &input, state)?;
                let plan = LogicalPlan::Filter(Filter::try_new(predicate, Arc::new(input.plan))?);
                Ok(Coded { plan, ..input })
            }
            LogicalPlan::SubqueryAlias(SubqueryAlias { input, alias, .. }) => {
                let input = self.visit(Arc::unwrap_or_clone(input), state)?;
                let plan = LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(Arc::new(input.plan), alias)?);
                Ok(Coded { plan, ..input })
            }
            LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => {
                let input = self.visit(plan.inputs()[0].clone(), state)?;
                let plan = plan.with_new_exprs(plan.expressions(), vec![input.plan.clone()])?;
                Ok(Coded { plan, ..input })
            }
            // Anything else sees its inputs as they were.
            other => {
                let inputs = other
                    .inputs()
                    .into_iter()
                    .map(|input| self.visit(input.clone(), state)?.strip())
                    .collect::<Result<Vec<_>>>()?;
                Ok(Coded::plain(other.with_new_exprs(other.expressions(), inputs)?))
            }
        }
    }

    /// `expr` with each largest part that depends on one coded column alone evaluated per value
    /// (see [`crate::per_value`]); and, when that is the whole of it (under any alias), the
    /// codes it is a function of and what each then stands for.
    fn per_value(&self, expr: Expr, input: &Coded, state: &SessionState) -> Result<(Expr, Option<Valued>)> {
        let (inner, alias) = match expr {
            Expr::Alias(alias) => (*alias.expr, Some((alias.relation, alias.name))),
            other => (other, None),
        };
        let realias = |e: Expr| match &alias {
            Some((relation, name)) => e.alias_qualified(relation.clone(), name),
            None => e,
        };
        // A column that is itself a function of codes stays as it is.
        if let Expr::Column(column) = &inner {
            let whole = input.valued(column);
            return Ok((realias(inner), whole));
        }
        if let Some((call, whole)) = self.evaluated_per_value(&inner, input, state)? {
            return Ok((realias(call), Some(whole)));
        }
        let rewritten = inner.transform_down(|e| {
            Ok(match self.evaluated_per_value(&e, input, state)? {
                Some((call, _)) => Transformed::new(call, true, TreeNodeRecursion::Jump),
                None => Transformed::no(e),
            })
        })?;
        Ok((realias(rewritten.data), None))
    }

    /// `expr` as a call of a function of codes, with those codes and what each stands for under
    /// it, if it depends on one coded column alone, only through functions that always give the
    /// same result for the same value.
    fn evaluated_per_value(
        &self,
        expr: &Expr,
        input: &Coded,
        state: &SessionState,
    ) -> Result<Option<(Expr, Valued)>> {
        if matches!(expr, Expr::Column(_) | Expr::Literal(..) | Expr::Alias(_))
            || expr.exists(|e| Ok(!per_row(e)))?
        {
            return Ok(None);
        }
        let columns = expr.column_refs();
        let [column] = columns.into_iter().collect::<Vec<_>>()[..] else { return Ok(None) };
        let Some((codes, from)) = input.valued(column) else { return Ok(None) };
        let (_, field) = input.plan.schema().qualified_field_from_column(column)?;
        let value = Column::from_name(per_value::VALUE);
        let over_value = expr
            .clone()
            .transform(|e| {
                Ok(match e {
                    Expr::Column(c) if &c == column => Transformed::yes(Expr::Column(value.clone())),
                    other => Transformed::no(other),
                })
            })?
            .data;
        let schema = DFSchema::try_from(Schema::new(vec![Field::new(
            per_value::VALUE,
            field.data_type().clone(),
            true,
        )]))?;
        let Ok(physical) = state.create_physical_expr(over_value, &schema) else { return Ok(None) };
        let return_type = expr.get_type(input.plan.schema())?;
        let values = Values::derived(from, physical);
        let function = PerValue::new(self.fresh("per_value"), values.clone(), return_type);
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(function)),
            vec![Expr::Column(codes.clone())],
        ));
        Ok(Some((call, (codes, values))))
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
        let valued = twins
            .iter()
            .filter_map(|(&at, &(twin, domain))| Some((at, (twin, self.domain_values(domain)?))))
            .collect();
        let source = provider_as_source(Arc::new(table.with_codes()));
        let plan = TableScanBuilder::new(scan.table_name, source)
            .with_projection(Some(projection))
            .with_filters(scan.filters)
            .with_fetch(scan.fetch)
            .build()?;
        Ok(Coded { plan: LogicalPlan::TableScan(plan), original: (0..width).collect(), twins, valued })
    }

    fn projection(&self, projection: Projection, state: &SessionState) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(projection.input), state)?;
        let mut exprs = projection.expr;
        let width = exprs.len();
        let mut twins = HashMap::new();
        let mut valued = HashMap::new();
        // Each codes column of the input this projection passes on, and where.
        let mut passed: HashMap<Column, usize> = HashMap::new();
        for at in 0..width {
            let plain = match &exprs[at] {
                Expr::Column(c) => Some((c.clone(), c.relation.clone(), c.name.clone())),
                Expr::Alias(alias) => match alias.expr.as_ref() {
                    Expr::Column(c) => Some((c.clone(), alias.relation.clone(), alias.name.clone())),
                    _ => None,
                },
                _ => None,
            };
            if let Some((column, relation, name)) = plain
                && let Some((twin, domain)) = input.twin(&Expr::Column(column))
            {
                twins.insert(at, (exprs.len(), domain));
                passed.insert(twin.clone(), exprs.len());
                exprs.push(Expr::Column(twin).alias_qualified(relation, crate::tables::code_column(&name)));
            }
        }
        for at in 0..width {
            let (expr, whole) = self.per_value(exprs[at].clone(), &input, state)?;
            exprs[at] = expr;
            if let Some((codes, values)) = whole {
                let passed_at = match passed.get(&codes) {
                    Some(&passed_at) => passed_at,
                    None => {
                        exprs.push(Expr::Column(codes.clone()).alias(self.fresh("codes")));
                        passed.insert(codes, exprs.len() - 1);
                        exprs.len() - 1
                    }
                };
                valued.insert(at, (passed_at, values));
            }
        }
        let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input.plan))?);
        Ok(Coded { plan, original: (0..width).collect(), twins, valued })
    }

    fn join(&self, join: Join, state: &SessionState) -> Result<Coded> {
        let left = self.visit(Arc::unwrap_or_clone(join.left), state)?;
        let right = self.visit(Arc::unwrap_or_clone(join.right), state)?;
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
        let mut valued = HashMap::new();
        if keeps_left {
            original.extend(left.original.iter().copied());
            twins.extend(left.twins);
            valued.extend(left.valued);
        }
        if keeps_right {
            let base = if keeps_left { left_width } else { 0 };
            original.extend(right.original.iter().map(|i| base + i));
            twins.extend(right.twins.into_iter().map(|(i, (t, d))| (base + i, (base + t, d))));
            valued.extend(right.valued.into_iter().map(|(i, (t, v))| (base + i, (base + t, v))));
        }
        // A mark join adds its mark after the side it keeps.
        let width = plan.schema().fields().len();
        let kept = if keeps_left { left_width } else { right_width };
        original.extend(kept..width);
        Ok(Coded { plan, original, twins, valued })
    }

    fn aggregate(&self, aggregate: Aggregate, state: &SessionState) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(aggregate.input), state)?;
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
        let mut valued = HashMap::new();
        for &(at, domain, _) in &coded {
            twins.insert(at, (exprs.len(), domain));
            if let Some(values) = self.domain_values(domain) {
                valued.insert(at, (exprs.len(), values));
            }
            exprs.push(Expr::Column(Column::from(plan.schema().qualified_field(at))));
        }
        let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(plan))?);
        Ok(Coded { plan, original: (0..width).collect(), twins, valued })
    }
}
