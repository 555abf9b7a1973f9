//! weir's own session settings, next to DataFusion's (`weir.*` keys).

use std::sync::Arc;

use datafusion::common::config::{ConfigExtension, ConfigOptions};
use datafusion::common::extensions_options;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::Result;
use datafusion::optimizer::OptimizerConfig;
use datafusion::physical_plan::ExecutionPlan;

extensions_options! {
    /// Settings of a lake query session that DataFusion does not have.
    pub struct WeirOptions {
        /// Group `Utf8View` columns by integer ids ([`crate::indexed_groups`]) instead
        /// of by their strings.
        pub group_by_string_ids: bool, default = true
        /// Group `Int32` and `Int64` columns by dense indices found in a window of slots
        /// ([`crate::indexed_groups`]) instead of in a hash table.
        pub group_by_integer_indices: bool, default = true
        /// Order a filter's conditions cheapest first ([`crate::cheap_conjuncts_first`]).
        pub cheap_conjuncts_first: bool, default = true
        /// Move semi and anti joins below the inner joins they filter
        /// ([`crate::semi_joins_first`]).
        pub semi_joins_first: bool, default = true
        /// Reorder trees of inner joins by estimated result sizes
        /// ([`crate::join_order`]).
        pub join_order: bool, default = true
        /// Narrow an aggregate joined on its group columns to the groups the join can
        /// match ([`crate::joined_groups_only`]).
        pub joined_groups_only: bool, default = true
        /// Compute an aggregate a statement repeats once ([`crate::shared_aggregates`]).
        pub shared_aggregates: bool, default = true
        /// Compare `Utf8View` columns with string literals on their views
        /// ([`crate::view_equality`]).
        pub view_equality: bool, default = true
        /// Compute a decimal `avg(x)` from the aggregate's `sum(x)` and a count
        /// ([`crate::averages_from_sums`]).
        pub averages_from_sums: bool, default = true
        /// Write a decimal literal added to or subtracted from a decimal of a larger
        /// scale at that scale ([`crate::decimal_literal_scale`]).
        pub scaled_decimal_literals: bool, default = true
        /// Scan a Delta version that needs no deletion vectors or column mapping as its
        /// Parquet files, by DataFusion's scan ([`crate::direct_scan`]).
        pub direct_scan: bool, default = true
        /// Merge overlapping closed ranges of one column that a filter ORs together
        /// ([`crate::merged_ranges`]).
        pub merged_ranges: bool, default = true
        /// Aggregate the large side of a join with a small table by its join key before
        /// the join ([`crate::aggregated_before_join`]).
        pub aggregate_before_join: bool, default = true
    }
}

impl ConfigExtension for WeirOptions {
    const PREFIX: &'static str = "weir";
}

/// Whether the session's [`WeirOptions`] turn on the logical rule `pick` names (they do in
/// a session without them).
pub fn logical_rule_on(config: &dyn OptimizerConfig, pick: impl Fn(&WeirOptions) -> bool) -> bool {
    physical_rule_on(&config.options(), pick)
}

/// Whether the session's [`WeirOptions`] turn on the physical rule `pick` names (they do
/// in a session without them).
pub fn physical_rule_on(config: &ConfigOptions, pick: impl Fn(&WeirOptions) -> bool) -> bool {
    config.extensions.get::<WeirOptions>().is_none_or(pick)
}

/// `plan` with every node `rewrite` returns a replacement for replaced (bottom up), when
/// `enabled` says the session's [`WeirOptions`] turn the rule on (they do in a session
/// without them); else `plan` as it is. The body of weir's physical optimizer rules.
pub fn rewrite_nodes_if(
    config: &ConfigOptions,
    enabled: impl Fn(&WeirOptions) -> bool,
    plan: Arc<dyn ExecutionPlan>,
    mut rewrite: impl FnMut(&Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if !physical_rule_on(config, enabled) {
        return Ok(plan);
    }
    plan.transform_up(|node| {
        Ok(match rewrite(&node)? {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .data()
}
