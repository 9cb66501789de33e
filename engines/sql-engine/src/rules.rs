//! The physical optimizer rules the engine runs: DataFusion's, less the walks of the plan that
//! can change nothing over batches in memory on one thread. Each part of a query is planned on
//! its own, so every rule walks three or four plans a run, and planning is a fifth to a quarter
//! of a small model's run (T7's).

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::TreeNode;
use datafusion::config::ConfigOptions;
use datafusion::physical_expr::Distribution;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::{PhysicalOptimizerContext, PhysicalOptimizerRule};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// Rules left out: pushing a filter into the scan below it (the logical optimizer has put it as
/// low as it goes, and scans of batches in memory take none; the later pass that hands joins'
/// dynamic filters to a sort stays), marking scans to yield to other tasks (one task runs), and
/// the rules for sorted or partitioned sources and buffered probe sides, which batches in memory
/// never are.
const UNNEEDED: [&str; 5] =
    ["FilterPushdown", "EnsureCooperative", "PushdownSort", "TopKRepartition", "HashJoinBuffering"];

/// DataFusion's physical optimizer rules, less [`UNNEEDED`], with `EnsureRequirements` run only
/// on a plan that has a requirement to ensure (see [`WhenRequired`]).
pub fn physical() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    PhysicalOptimizer::new()
        .rules
        .into_iter()
        .filter(|rule| !UNNEEDED.contains(&rule.name()))
        .map(|rule| match rule.name() {
            "EnsureRequirements" => {
                Arc::new(WhenRequired { rule }) as Arc<dyn PhysicalOptimizerRule + Send + Sync>
            }
            _ => rule,
        })
        .collect()
}

/// A rule that sorts and repartitions inputs to meet what their operators require, run only on
/// a plan where some operator requires an order, a partitioning by key, or is a sort or a window,
/// or where some operator has more than one partition. On any other plan of one partition it
/// changes nothing, yet it walks the plan several times and works out the statistics of every
/// input of every operator (a quarter of T7's physical planning).
#[derive(Debug)]
struct WhenRequired {
    rule: Arc<dyn PhysicalOptimizerRule + Send + Sync>,
}

/// Whether some operator of `plan` has what [`WhenRequired`] runs its rule for.
fn requires_something(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    plan.exists(|node| {
        let name = node.name();
        Ok(node.output_partitioning().partition_count() != 1
            || name.contains("Sort")
            || name.contains("Window")
            || node.required_input_ordering().iter().any(Option::is_some)
            || node
                .input_distribution_requirements()
                .into_per_child()
                .iter()
                .any(|d| !matches!(d, Distribution::UnspecifiedDistribution | Distribution::SinglePartition)))
    })
}

impl PhysicalOptimizerRule for WhenRequired {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match requires_something(&plan)? {
            true => self.rule.optimize(plan, config),
            false => Ok(plan),
        }
    }

    fn optimize_with_context(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        context: &dyn PhysicalOptimizerContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match requires_something(&plan)? {
            true => self.rule.optimize_with_context(plan, context),
            false => Ok(plan),
        }
    }

    fn name(&self) -> &str {
        self.rule.name()
    }

    fn schema_check(&self) -> bool {
        self.rule.schema_check()
    }
}
