//! Plans carry codes, not text. The host codes each key domain's columns (one plate in
//! `judgments` and in `vehicles`) against one dictionary of distinct values, so two of them hold
//! equal text exactly where they hold equal codes; a text column outside any domain takes its row
//! numbers as its codes. This rewrite of the optimized plan scans every text column as its codes
//! and keeps them so, through filters, projections, joins, groupings, windows and unions, for as
//! long as the plan only passes the column on or compares it whole within its domain (an
//! equi-join key, a grouping key, a partition key, `IS NULL`). Where the plan reads the text (an
//! expression, a sort, a comparison across domains, the query's result), it turns the codes into
//! text there, for the rows that reach that point only: DataFusion would make the text of every
//! row at the scan, and hash and compare it in every join and group-by. Everything the query
//! returns is the same; the plan's shape is left as it was.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::catalog::default_table_source::{provider_as_source, source_as_provider};
use datafusion::common::NullEquality;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::logical_plan::{
    Aggregate, Filter, Join, JoinType, Projection, SubqueryAlias, TableScan, TableScanBuilder, Union, Window,
};
use datafusion::logical_expr::{
    BinaryExpr, Expr, LogicalPlan, Operator, ScalarUDF, ScalarUDFImpl, Volatility,
};

use crate::pack::{self, Pack, Unpack};
use crate::per_value::{self, PerValue, Values};
use crate::share;
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

/// Whether `expr` holds a subquery, whose plan this rewrite does not enter: the fields it reads
/// from outside must then be text.
fn has_subquery(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) | Expr::OuterReferenceColumn(..)
        ))
    })
    .unwrap_or(true)
}

/// The codes column a field is a function of, and what each code stands for in that field.
type Valued = (Column, Arc<Values>);

/// A plan after the rewrite: which of its output fields are the original ones (in order); which
/// fields hold codes in place of their text, and of which domain; and for a field that is a
/// function of some codes (a field of codes, or an expression of one), the field holding those
/// codes and what each stands for.
struct Coded {
    plan: LogicalPlan,
    original: Vec<usize>,
    lazy: HashMap<usize, usize>,
    valued: HashMap<usize, (usize, Arc<Values>)>,
}

impl Coded {
    fn plain(plan: LogicalPlan) -> Coded {
        let original = (0..plan.schema().fields().len()).collect();
        Coded { plan, original, lazy: HashMap::new(), valued: HashMap::new() }
    }

    /// The field `column` names.
    fn at(&self, column: &Column) -> Option<usize> {
        self.plan.schema().maybe_index_of_column(column)
    }

    /// The domain of the codes `column` holds in place of its text, if it does.
    fn lazy(&self, column: &Column) -> Option<usize> {
        self.lazy.get(&self.at(column)?).copied()
    }

    /// The codes column `column` is a function of, and what each code stands for there.
    fn valued(&self, column: &Column) -> Option<Valued> {
        let (codes, values) = self.valued.get(&self.at(column)?)?;
        Some((self.column(*codes), values.clone()))
    }

    fn column(&self, i: usize) -> Column {
        Column::from(self.plan.schema().qualified_field(i))
    }
}

/// What the rewrite knows of a domain.
struct Domain {
    /// Turns its codes into their text.
    decoder: Arc<ScalarUDF>,
    /// Whether equal codes are equal text (a dictionary's), so that its codes may be compared.
    distinct: bool,
    /// Its values, where it has few enough for expressions to be evaluated per value.
    values: Option<Arc<Values>>,
    /// How many values it has: every code is below it.
    len: usize,
}

/// The rewrite, over a run's loaded tables.
pub struct Rewrite {
    tables: HashMap<String, LoadedTable>,
    domains: Vec<Domain>,
    /// Numbers the functions and columns the rewrite adds, so that no two share a name.
    added: Cell<usize>,
    /// The key of each grouping keyed by one domain's codes, by the name it was given, and the
    /// size of its domain: see [`crate::dense`].
    dense: RefCell<HashMap<String, usize>>,
}

impl Rewrite {
    /// A rewrite over `tables` (by name), whose text columns' domains are `dictionaries`'.
    pub fn new(tables: HashMap<String, LoadedTable>, dictionaries: &Dictionaries) -> Rewrite {
        // A domain's rows: those of the largest table coded against it.
        let mut rows = vec![0usize; dictionaries.len()];
        for table in tables.values() {
            for &(_, domain) in table.coded() {
                rows[domain] = rows[domain].max(table.rows());
            }
        }
        let mut domains = Vec::new();
        for (domain, (text, rows)) in dictionaries.texts().zip(rows).enumerate() {
            let distinct = text.distinct();
            // Evaluating every value pays where values repeat: a few per row would not.
            let few = distinct && text.len() * PER_VALUE_RATIO <= rows;
            let len = text.len();
            let text = Values::text(text.clone());
            let decode = PerValue::new(format!("__sieve_decode_{domain}"), text.clone(), DataType::Utf8View);
            let decoder = Arc::new(ScalarUDF::new_from_impl(decode));
            domains.push(Domain { decoder, distinct, values: few.then_some(text), len });
        }
        Rewrite { tables, domains, added: Cell::new(0), dense: RefCell::new(HashMap::new()) }
    }

    /// `plan`, carrying codes where it can, and evaluating expressions of one coded column per
    /// value; the same output fields. `state` plans those expressions.
    pub fn apply(&self, plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
        let coded = self.visit(plan, state)?;
        self.strip(coded)
    }

    /// `plan` carrying codes, as [`Rewrite::apply`] makes it, but giving its fields of codes as
    /// codes: the same fields in order, and the domain of each one that holds codes. A shared
    /// part's rows are kept so, and its uses join and group on them (see [`crate::share`]).
    pub fn apply_keeping_codes(
        &self,
        plan: LogicalPlan,
        state: &SessionState,
    ) -> Result<(LogicalPlan, Vec<Option<usize>>)> {
        let coded = self.visit(plan, state)?;
        let domains = coded.original.iter().map(|i| coded.lazy.get(i).copied()).collect();
        let width = coded.plan.schema().fields().len();
        if coded.original.iter().copied().eq(0..width) {
            return Ok((coded.plan, domains));
        }
        let exprs = coded.original.iter().map(|&i| Expr::Column(coded.column(i))).collect();
        Ok((LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(coded.plan))?), domains))
    }

    /// The groupings keyed by one domain's codes that the rewrite has named, with the size of
    /// each one's domain.
    pub fn dense_keys(&self) -> HashMap<String, usize> {
        self.dense.borrow().clone()
    }

    /// What `domain`'s codes stand for, where expressions of it are evaluated per value.
    fn domain_values(&self, domain: usize) -> Option<Arc<Values>> {
        self.domains.get(domain).and_then(|d| d.values.clone())
    }

    /// Whether `domain`'s codes are equal exactly where their text is.
    fn distinct(&self, domain: usize) -> bool {
        self.domains.get(domain).is_some_and(|d| d.distinct)
    }

    /// The domain of `expr`, when it is a plain column holding codes that may be compared.
    fn comparable(&self, expr: &Expr, input: &Coded) -> Option<usize> {
        let Expr::Column(column) = expr else { return None };
        input.lazy(column).filter(|&domain| self.distinct(domain))
    }

    /// Whether `left` and `right` are columns holding codes of one domain whose codes compare.
    fn same_distinct_domain(
        &self,
        left: &Expr,
        right: &Expr,
        lazy: &dyn Fn(&Column) -> Option<usize>,
    ) -> bool {
        match (left, right) {
            (Expr::Column(l), Expr::Column(r)) => match (lazy(l), lazy(r)) {
                (Some(a), Some(b)) => a == b && self.distinct(a),
                _ => false,
            },
            _ => false,
        }
    }

    /// The text of `codes`, of `domain`.
    fn decode(&self, domain: usize, codes: Expr) -> Result<Expr> {
        let Some(domain) = self.domains.get(domain) else {
            return datafusion::common::plan_err!("codes of an unknown domain {domain}");
        };
        Ok(Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(&domain.decoder), vec![codes])))
    }

    /// A call of `function` on `args`.
    fn call(&self, function: impl ScalarUDFImpl + 'static, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(ScalarUDF::new_from_impl(function)), args))
    }

    /// A name no other function or column of the plan has.
    fn fresh(&self, what: &str) -> String {
        let n = self.added.get();
        self.added.set(n + 1);
        format!("__sieve_{what}_{n}")
    }

    /// The plan with its original fields only, in their order, each as text.
    fn strip(&self, coded: Coded) -> Result<LogicalPlan> {
        let plain = coded.original.iter().all(|i| !coded.lazy.contains_key(i));
        if plain && coded.original.len() == coded.plan.schema().fields().len() {
            return Ok(coded.plan);
        }
        self.original_fields(coded, &|_| false)
    }

    /// The plan with its original fields only, in their order: each as text but those whose
    /// position `keep_codes` names, which stay codes.
    fn original_fields(&self, coded: Coded, keep_codes: &dyn Fn(usize) -> bool) -> Result<LogicalPlan> {
        let exprs = coded
            .original
            .iter()
            .enumerate()
            .map(|(position, &i)| {
                let column = Expr::Column(coded.column(i));
                match coded.lazy.get(&i) {
                    Some(&domain) if !keep_codes(position) => {
                        let (relation, field) = coded.plan.schema().qualified_field(i);
                        Ok(self.decode(domain, column)?.alias_qualified(relation.cloned(), field.name()))
                    }
                    _ => Ok(column),
                }
            })
            .collect::<Result<_>>()?;
        Ok(LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(coded.plan))?))
    }

    /// `input` with its fields `fields` turned from codes into their text, under their own names
    /// (the codes stay on, as an added field, where another field is a function of them).
    fn decoded(&self, input: Coded, fields: &HashSet<usize>) -> Result<Coded> {
        if !fields.iter().any(|i| input.lazy.contains_key(i)) {
            return Ok(input);
        }
        let schema = Arc::clone(input.plan.schema());
        let mut exprs = Vec::with_capacity(schema.fields().len());
        let mut lazy = input.lazy.clone();
        for i in 0..schema.fields().len() {
            let column = Expr::Column(input.column(i));
            match input.lazy.get(&i) {
                Some(&domain) if fields.contains(&i) => {
                    let (relation, field) = schema.qualified_field(i);
                    exprs.push(self.decode(domain, column)?.alias_qualified(relation.cloned(), field.name()));
                    lazy.remove(&i);
                }
                _ => exprs.push(column),
            }
        }
        let mut kept = HashMap::new();
        let mut valued = HashMap::new();
        for (&at, (codes, values)) in &input.valued {
            let codes = match lazy.contains_key(codes) || !input.lazy.contains_key(codes) {
                true => *codes,
                false => *kept.entry(*codes).or_insert_with(|| {
                    exprs.push(Expr::Column(input.column(*codes)).alias(self.fresh("codes")));
                    exprs.len() - 1
                }),
            };
            valued.insert(at, (codes, values.clone()));
        }
        let plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(input.plan))?);
        Ok(Coded { plan, original: input.original, lazy, valued })
    }

    /// The fields of `input` that `exprs` read.
    fn read(exprs: &[&Expr], input: &Coded) -> HashSet<usize> {
        let mut columns = HashSet::new();
        for expr in exprs {
            expr.add_column_refs(&mut columns);
        }
        columns.into_iter().filter_map(|c| input.at(c)).collect()
    }

    /// `expr` with each field of codes it reads turned into their text, where it reads them;
    /// `lazy` says which fields hold codes. Whether a row's text is null is whether its code is:
    /// `IS [NOT] NULL` of codes is left as it is.
    fn materialize(&self, expr: Expr, lazy: &dyn Fn(&Column) -> Option<usize>) -> Result<Expr> {
        let rewritten = expr.transform_down(|e| {
            let domain = match &e {
                // The rewrite's own functions take codes.
                Expr::ScalarFunction(f) if f.func.name().starts_with("__sieve_") => {
                    return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
                }
                Expr::IsNull(inner) | Expr::IsNotNull(inner)
                    if matches!(inner.as_ref(), Expr::Column(c) if lazy(c).is_some()) =>
                {
                    return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
                }
                // Two columns of one dictionary domain are equal exactly where their codes are.
                Expr::BinaryExpr(BinaryExpr { left, op, right })
                    if matches!(
                        op,
                        Operator::Eq | Operator::NotEq | Operator::IsDistinctFrom | Operator::IsNotDistinctFrom
                    ) && self.same_distinct_domain(left, right, lazy) =>
                {
                    return Ok(Transformed::new(e, false, TreeNodeRecursion::Jump));
                }
                // Counting the rows that are not null needs no text.
                Expr::AggregateFunction(f)
                    if f.func.name() == "count"
                        && !f.params.distinct
                        && !f.params.args.is_empty()
                        && f.params.args.iter().all(|a| matches!(a, Expr::Column(c) if lazy(c).is_some())) =>
                {
                    let mut f = f.clone();
                    if let Some(filter) = f.params.filter.take() {
                        f.params.filter = Some(Box::new(self.materialize(*filter, lazy)?));
                    }
                    return Ok(Transformed::new(Expr::AggregateFunction(f), true, TreeNodeRecursion::Jump));
                }
                Expr::Column(c) => lazy(c),
                _ => None,
            };
            Ok(match domain {
                Some(domain) => Transformed::new(self.decode(domain, e)?, true, TreeNodeRecursion::Jump),
                None => Transformed::no(e),
            })
        })?;
        Ok(rewritten.data)
    }

    fn visit(&self, plan: LogicalPlan, state: &SessionState) -> Result<Coded> {
        // A node whose expressions hold a subquery sees its inputs as text.
        if plan.expressions().iter().any(has_subquery) {
            return self.other(plan, state);
        }
        match plan {
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Projection(projection) => self.projection(projection, state),
            LogicalPlan::Join(join) => self.join(join, state),
            LogicalPlan::Aggregate(aggregate) => self.aggregate(aggregate, state),
            LogicalPlan::Window(window) => self.window(window, state),
            LogicalPlan::Union(union) => self.union(union, state),
            // Fields pass through one for one.
            LogicalPlan::Filter(Filter { predicate, input, .. }) => {
                let input = self.visit(Arc::unwrap_or_clone(input), state)?;
                let (predicate, _) = self.expression(predicate, &input, state)?;
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
                // A sort compares text: what it sorts by is made text below it.
                let exprs = plan.expressions();
                let read = Self::read(&exprs.iter().collect::<Vec<_>>(), &input);
                let input = self.decoded(input, &read)?;
                let plan = plan.with_new_exprs(exprs, vec![input.plan.clone()])?;
                Ok(Coded { plan, ..input })
            }
            other => self.other(other, state),
        }
    }

    /// A node the rewrite does not know: its inputs as they were, text.
    fn other(&self, plan: LogicalPlan, state: &SessionState) -> Result<Coded> {
        let inputs = plan
            .inputs()
            .into_iter()
            .map(|input| {
                let coded = self.visit(input.clone(), state)?;
                self.strip(coded)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Coded::plain(plan.with_new_exprs(plan.expressions(), inputs)?))
    }

    /// A union (`UNION ALL`) gives codes in each field where every input gives codes of one
    /// domain, and text where they do not: T5's trips, attributed to a debtor by the trip's
    /// person id or by its passport, are then joined and grouped on the debtor's codes.
    fn union(&self, union: Union, state: &SessionState) -> Result<Coded> {
        let planned = union.clone();
        let inputs = union
            .inputs
            .iter()
            .map(|input| self.visit(input.as_ref().clone(), state))
            .collect::<Result<Vec<_>>>()?;
        let width = union.schema.fields().len();
        let domain_at =
            |input: &Coded, i: usize| input.original.get(i).and_then(|at| input.lazy.get(at)).copied();
        let kept: Vec<Option<usize>> = (0..width)
            .map(|i| {
                let first = inputs.first().and_then(|input| domain_at(input, i));
                first.filter(|&domain| inputs.iter().all(|input| domain_at(input, i) == Some(domain)))
            })
            .collect();
        let plans = inputs
            .into_iter()
            .map(|input| {
                Ok(Arc::new(
                    self.original_fields(input, &|position| kept.get(position).is_some_and(Option::is_some))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // Inputs whose fields differ in type other than by codes (the planner coerces them
        // alike) are left as planned, as text.
        let Ok(union) = Union::try_new(plans) else { return self.other(LogicalPlan::Union(planned), state) };
        let lazy =
            kept.iter().enumerate().filter_map(|(i, domain)| domain.map(|domain| (i, domain))).collect();
        Ok(Coded {
            plan: LogicalPlan::Union(union),
            original: (0..width).collect(),
            lazy,
            valued: HashMap::new(),
        })
    }

    /// `expr` over `input`: each largest part of it that depends on one coded column alone
    /// evaluated per value (see [`crate::per_value`]), and codes read elsewhere made text; and,
    /// when the whole of it (under any alias) is a function of some codes, those codes and what
    /// each then stands for.
    fn expression(&self, expr: Expr, input: &Coded, state: &SessionState) -> Result<(Expr, Option<Valued>)> {
        let (expr, whole) = self.per_value(expr, input, state)?;
        Ok((self.materialize(expr, &|c| input.lazy(c))?, whole))
    }

    /// `expr` with each largest part that depends on one coded column alone evaluated per value;
    /// and, when that is the whole of it (under any alias), the codes it is a function of and
    /// what each then stands for.
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
        // The column's own type: text, where the plan holds its codes.
        let data_type = match input.lazy(column) {
            Some(_) => DataType::Utf8View,
            None => input.plan.schema().qualified_field_from_column(column)?.1.data_type().clone(),
        };
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
        let schema = DFSchema::try_from(Schema::new(vec![Field::new(per_value::VALUE, data_type, true)]))?;
        let Ok(physical) = state.create_physical_expr(over_value, &schema) else { return Ok(None) };
        let return_type = physical.data_type(schema.as_arrow())?;
        let values = Values::derived(from, physical);
        let function = PerValue::new(self.fresh("per_value"), values.clone(), return_type);
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(function)),
            vec![Expr::Column(codes.clone())],
        ));
        Ok(Some((call, (codes, values))))
    }

    fn scan(&self, scan: TableScan) -> Result<Coded> {
        let schema = scan.source.schema();
        // The domain of each field of the table that holds codes, and the table giving them.
        let (domains, with_codes): (Vec<Option<usize>>, Arc<dyn TableProvider>) = match self
            .tables
            .get(scan.table_name.table())
        {
            // A table without text gives nothing as codes.
            Some(table) if table.coded().is_empty() => return Ok(Coded::plain(LogicalPlan::TableScan(scan))),
            Some(table) => {
                let domains = schema
                    .fields()
                    .iter()
                    .map(|f| table.coded().iter().find(|(column, _)| column == f.name()).map(|&(_, d)| d))
                    .collect();
                (domains, Arc::new(table.with_codes()))
            }
            None => match source_as_provider(&scan.source).ok().and_then(|p| share::coded(&p)) {
                Some((domains, with_codes)) => (domains, with_codes),
                None => return Ok(Coded::plain(LogicalPlan::TableScan(scan))),
            },
        };
        let projection = scan.projection.clone().unwrap_or_else(|| (0..schema.fields().len()).collect());
        let mut lazy = HashMap::new();
        let mut valued = HashMap::new();
        for (at, &i) in projection.iter().enumerate() {
            if let Some(&Some(domain)) = domains.get(i) {
                lazy.insert(at, domain);
                if let Some(values) = self.domain_values(domain) {
                    valued.insert(at, (at, values));
                }
            }
        }
        if lazy.is_empty() {
            return Ok(Coded::plain(LogicalPlan::TableScan(scan)));
        }
        let width = projection.len();
        let source = provider_as_source(with_codes);
        let plan = TableScanBuilder::new(scan.table_name, source)
            .with_projection(Some(projection))
            .with_filters(scan.filters)
            .with_fetch(scan.fetch)
            .build()?;
        Ok(Coded { plan: LogicalPlan::TableScan(plan), original: (0..width).collect(), lazy, valued })
    }

    fn projection(&self, projection: Projection, state: &SessionState) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(projection.input), state)?;
        let mut exprs = projection.expr;
        let width = exprs.len();
        let mut lazy = HashMap::new();
        let mut valued = HashMap::new();
        // Each codes field of the input this projection passes on, and where.
        let mut passed: HashMap<Column, usize> = HashMap::new();
        for (at, expr) in exprs.iter().enumerate() {
            let column = match expr {
                Expr::Column(c) => c,
                Expr::Alias(alias) => match alias.expr.as_ref() {
                    Expr::Column(c) => c,
                    _ => continue,
                },
                _ => continue,
            };
            if let Some(i) = input.at(column)
                && let Some(&domain) = input.lazy.get(&i)
            {
                lazy.insert(at, domain);
                passed.insert(input.column(i), at);
            }
        }
        for at in 0..width {
            let (expr, whole) = self.expression(exprs[at].clone(), &input, state)?;
            if !lazy.contains_key(&at) {
                exprs[at] = expr;
            }
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
        Ok(Coded { plan, original: (0..width).collect(), lazy, valued })
    }

    fn join(&self, join: Join, state: &SessionState) -> Result<Coded> {
        let left = self.visit(Arc::unwrap_or_clone(join.left), state)?;
        let right = self.visit(Arc::unwrap_or_clone(join.right), state)?;
        // Keys of one domain compare codes; any other key, its text.
        let on = join
            .on
            .into_iter()
            .map(|(l, r)| match (self.comparable(&l, &left), self.comparable(&r, &right)) {
                (Some(a), Some(b)) if a == b => Ok((l, r)),
                _ => Ok((self.materialize(l, &|c| left.lazy(c))?, self.materialize(r, &|c| right.lazy(c))?)),
            })
            .collect::<Result<Vec<_>>>()?;
        // Keyed by several pairs of columns of codes, it is keyed by one number packing each
        // side's (see `crate::pack`).
        let sizes: Option<Vec<usize>> = on
            .iter()
            .map(|(l, r)| match (self.comparable(l, &left), self.comparable(r, &right)) {
                (Some(a), Some(b)) if a == b => self.domains.get(a).map(|d| d.len),
                _ => None,
            })
            .collect();
        let on = match sizes.filter(|s| s.len() > 1).and_then(|s| pack::bases(&s)) {
            Some(bases) => {
                let null_is_a_key = join.null_equality == NullEquality::NullEqualsNull;
                let (l, r): (Vec<Expr>, Vec<Expr>) = on.into_iter().unzip();
                let l = self.call(Pack::new(self.fresh("pack"), bases.clone(), null_is_a_key), l);
                let r = self.call(Pack::new(self.fresh("pack"), bases, null_is_a_key), r);
                vec![(l, r)]
            }
            None => on,
        };
        let filter = match join.filter {
            Some(filter) => Some(self.materialize(filter, &|c| left.lazy(c).or_else(|| right.lazy(c)))?),
            None => None,
        };
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
            filter,
            join.join_type,
            join.join_constraint,
            join.null_equality,
            join.null_aware,
        )?);
        let mut original = Vec::new();
        let mut lazy = HashMap::new();
        let mut valued = HashMap::new();
        if keeps_left {
            original.extend(left.original.iter().copied());
            lazy.extend(left.lazy);
            valued.extend(left.valued);
        }
        if keeps_right {
            let base = if keeps_left { left_width } else { 0 };
            original.extend(right.original.iter().map(|i| base + i));
            lazy.extend(right.lazy.into_iter().map(|(i, d)| (base + i, d)));
            valued.extend(right.valued.into_iter().map(|(i, (t, v))| (base + i, (base + t, v))));
        }
        // A mark join adds its mark after the side it keeps.
        let width = plan.schema().fields().len();
        let kept = if keeps_left { left_width } else { right_width };
        original.extend(kept..width);
        Ok(Coded { plan, original, lazy, valued })
    }

    fn aggregate(&self, aggregate: Aggregate, state: &SessionState) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(aggregate.input), state)?;
        let grouping_set = aggregate.group_expr.iter().any(|e| matches!(e, Expr::GroupingSet(_)));
        // Grouping keys of a domain whose codes compare group on codes, and stay codes above;
        // whatever else the grouping is keyed on is made text below it.
        let mut kept = HashMap::new();
        let mut text = Vec::new();
        for (at, expr) in aggregate.group_expr.iter().enumerate() {
            match self.comparable(expr, &input) {
                Some(domain) if !grouping_set => {
                    kept.insert(at, domain);
                }
                _ => text.push(expr),
            }
        }
        // Under grouping sets, the aggregates read text too.
        if grouping_set {
            text.extend(aggregate.aggr_expr.iter());
        }
        let read = Self::read(&text, &input);
        let input = self.decoded(input, &read)?;
        // A key also read as text is text now.
        kept.retain(|&at, _| self.comparable(&aggregate.group_expr[at], &input).is_some());
        // The aggregates read codes where they can (a condition on one coded column per value, a
        // count of them as it is) and text where they must; each keeps its name.
        let mut aggr_expr = Vec::with_capacity(aggregate.aggr_expr.len());
        for (i, expr) in aggregate.aggr_expr.into_iter().enumerate() {
            let (rewritten, _) = self.expression(expr.clone(), &input, state)?;
            if rewritten == expr || grouping_set {
                aggr_expr.push(expr);
                continue;
            }
            let (relation, field) = aggregate.schema.qualified_field(aggregate.group_expr.len() + i);
            let rewritten = match rewritten {
                Expr::Alias(alias) => *alias.expr,
                other => other,
            };
            aggr_expr.push(rewritten.alias_qualified(relation.cloned(), field.name()));
        }
        // Keyed by one domain's codes alone, it indexes an array by them, under a name the
        // physical plan keeps (see `crate::dense`); keyed by several columns of codes, by one
        // number packing them (see `crate::pack`). A projection gives the keys back.
        let mut group_expr = aggregate.group_expr;
        let keys = group_expr.len();
        let sizes: Option<Vec<usize>> =
            (0..keys).map(|at| kept.get(&at).and_then(|&d| self.domains.get(d)).map(|d| d.len)).collect();
        let rekeyed = match sizes {
            Some(sizes) if keys == 1 => {
                let name = self.fresh("dense");
                self.dense.borrow_mut().insert(name.clone(), sizes[0]);
                group_expr = vec![group_expr[0].clone().alias(&name)];
                Some((name, None))
            }
            Some(sizes) if keys > 1 => pack::bases(&sizes).map(|bases| {
                let name = self.fresh("packed");
                let packed =
                    self.call(Pack::new(self.fresh("pack"), bases.clone(), true), group_expr.clone());
                group_expr = vec![packed.alias(&name)];
                (name, Some(bases))
            }),
            _ => None,
        };
        let mut plan =
            LogicalPlan::Aggregate(Aggregate::try_new(Arc::new(input.plan), group_expr, aggr_expr)?);
        // The keys under their own names again.
        if let Some((name, bases)) = rekeyed {
            let key = Expr::Column(Column::from_name(name));
            let mut exprs = (0..keys)
                .map(|at| {
                    let (relation, field) = aggregate.schema.qualified_field(at);
                    let code = match &bases {
                        Some(bases) => {
                            self.call(Unpack::new(self.fresh("unpack"), bases, at), vec![key.clone()])
                        }
                        None => key.clone(),
                    };
                    code.alias_qualified(relation.cloned(), field.name())
                })
                .collect::<Vec<_>>();
            exprs.extend(
                (1..plan.schema().fields().len())
                    .map(|i| Expr::Column(Column::from(plan.schema().qualified_field(i)))),
            );
            plan = LogicalPlan::Projection(Projection::try_new(exprs, Arc::new(plan))?);
        }
        let valued =
            kept.iter().filter_map(|(&at, &domain)| Some((at, (at, self.domain_values(domain)?)))).collect();
        let width = plan.schema().fields().len();
        Ok(Coded { plan, original: (0..width).collect(), lazy: kept, valued })
    }

    fn window(&self, window: Window, state: &SessionState) -> Result<Coded> {
        let input = self.visit(Arc::unwrap_or_clone(window.input), state)?;
        // Partition keys of a domain whose codes compare partition on codes; whatever else the
        // window reads (its arguments, its order) is made text below it.
        let mut text = Vec::new();
        for expr in &window.window_expr {
            expr.apply(|e| {
                let Expr::WindowFunction(function) = e else { return Ok(TreeNodeRecursion::Continue) };
                let params = &function.params;
                text.extend(params.partition_by.iter().filter(|p| self.comparable(p, &input).is_none()));
                text.extend(params.args.iter());
                text.extend(params.order_by.iter().map(|sort| &sort.expr));
                text.extend(params.filter.as_deref());
                Ok(TreeNodeRecursion::Jump)
            })?;
            // Anything outside a window function (none is expected) is read as text.
            if !matches!(expr, Expr::WindowFunction(_))
                && !matches!(expr, Expr::Alias(a) if matches!(a.expr.as_ref(), Expr::WindowFunction(_)))
            {
                text.push(expr);
            }
        }
        let read = Self::read(&text, &input);
        let input = self.decoded(input, &read)?;
        let input_width = input.plan.schema().fields().len();
        let plan = LogicalPlan::Window(Window::try_new(window.window_expr, Arc::new(input.plan))?);
        let width = plan.schema().fields().len();
        let mut original = input.original;
        original.extend(input_width..width);
        Ok(Coded { plan, original, lazy: input.lazy, valued: input.valued })
    }
}
