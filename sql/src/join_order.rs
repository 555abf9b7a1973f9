//! Inner joins reordered so that small, filtered inputs join first.
//!
//! DataFusion joins tables in the order the query names them, each join building its hash
//! table from its left input. TPC-H's Q7 names supplier, lineitem, orders, customer and
//! two nations, so the 1.8 million lineitem rows of its date range become the build side
//! of a join with orders, and the result the build side of the next, although the two
//! nations it filters keep fewer than a tenth of them. This rule takes each tree of inner
//! joins apart into its inputs and conditions and puts it together again in the order
//! whose estimated work (the rows of every join result, [`crate::join_estimate`], from
//! the Delta log's statistics) is least, the smaller part of each join as its build side:
//! all orders weighed by dynamic programming over sets of inputs for up to
//! `EXHAUSTIVE_INPUTS` inputs, greedily beyond. The new order replaces the query's only
//! when its estimated work is under `KEEP_SHARE` of the query's order, so a query whose
//! order is already good keeps it, and a second pass over the new plan changes nothing.
//! Inner joins give the same rows in any order; the columns come out in the query's order.
//!
//! DataFusion's physical planner swaps a join's sides by its own estimates, which after a
//! selective filter on a dimension table fall to one row for every join above it; for a
//! statement whose joins this rule placed ([`Reordered`]), the session turns that swap
//! off.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::logical_plan::{Join, JoinConstraint, JoinType, Projection};
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::join_estimate::{self, Estimate, Key};
use crate::options::logical_rule_on;
use crate::skipping::HandedOut;

/// The share of the query's estimated work under which a new join order replaces it.
const KEEP_SHARE: f64 = 0.7;
/// The most inputs of one join tree this rule reorders (a leaf set is a bit mask).
const MAX_INPUTS: usize = 16;
/// The most inputs whose orders are all weighed (`3^n` splits); larger trees are ordered
/// greedily.
const EXHAUSTIVE_INPUTS: usize = 10;

/// The logical optimizer rule reordering trees of three or more inner joins whose inputs
/// are lake table scans (under filters, projections, aliases, semi joins and aggregates).
/// Off when the session's `weir.join_order`
/// ([`WeirOptions`](crate::options::WeirOptions)) is false. It runs after DataFusion's
/// rules, which have turned `WHERE` equalities into join keys.
#[derive(Debug)]
pub struct JoinOrder {
    handed: Arc<HandedOut>,
    reordered: Arc<Reordered>,
}

/// Whether [`JoinOrder`] reordered a join tree since it was last asked: the physical
/// planner must then keep each join's sides as the rule placed them.
#[derive(Debug, Default)]
pub struct Reordered(AtomicBool);

impl Reordered {
    /// Whether a tree was reordered since the last call.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

impl JoinOrder {
    /// The rule, finding the figures of the lake tables a statement scans in `handed` and
    /// noting in `reordered` when it reorders.
    pub fn new(handed: Arc<HandedOut>, reordered: Arc<Reordered>) -> Self {
        Self { handed, reordered }
    }

    /// `node` reordered when it is the top of a tree of inner joins worth reordering.
    fn reorder(&self, node: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
        if !is_inner_join(&node) {
            return Ok(Transformed::no(node));
        }
        let mut tree = Tree::default();
        let shape = tree.gather(&node);
        let top = node.schema().columns();
        let Some(graph) = Graph::new(&tree, top.clone(), |leaf| {
            join_estimate::leaf(leaf, &|scan| self.handed.scan_figures(scan))
        }) else {
            return Ok(Transformed::no(node));
        };
        let Some((current, _)) = graph.cost(&shape) else {
            return Ok(Transformed::no(node));
        };
        let Some(chosen) = graph.cheapest() else {
            return Ok(Transformed::no(node));
        };
        let Some((work, _)) = graph.cost(&chosen) else {
            return Ok(Transformed::no(node));
        };
        if work >= current * KEEP_SHARE {
            return Ok(Transformed::no(node));
        }
        let leaves = tree
            .leaves
            .into_iter()
            .map(|leaf| {
                leaf.transform_down_with_subqueries(|n| self.reorder(n))
                    .map(|t| t.data)
            })
            .collect::<Result<Vec<_>>>()?;
        let built = graph.build(&chosen, &leaves)?;
        let columns: Vec<Expr> = top.into_iter().map(Expr::Column).collect();
        let plan = LogicalPlan::Projection(Projection::try_new(columns, Arc::new(built))?);
        self.reordered.0.store(true, Ordering::Relaxed);
        Ok(Transformed::new(plan, true, TreeNodeRecursion::Jump))
    }
}

impl OptimizerRule for JoinOrder {
    fn name(&self) -> &str {
        "weir_join_order"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        None
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let enabled = logical_rule_on(config, |on| on.join_order);
        if !enabled {
            return Ok(Transformed::no(plan));
        }
        plan.transform_down_with_subqueries(|node| self.reorder(node))
    }
}

fn is_inner_join(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Join(join) if join.join_type == JoinType::Inner
        && join.null_equality == NullEquality::NullEqualsNothing
        && !join.null_aware)
}

/// How a join tree combines its inputs (by their index).
#[derive(Debug, Clone)]
enum Shape {
    Leaf(usize),
    Join(Box<Shape>, Box<Shape>),
}

/// A tree of inner joins taken apart: its inputs, its key pairs and its other conditions.
#[derive(Default)]
struct Tree {
    leaves: Vec<LogicalPlan>,
    keys: Vec<(Expr, Expr)>,
    filters: Vec<Expr>,
}

impl Tree {
    /// Takes `plan` apart, looking through the projections that only pick columns between
    /// its joins; returns how it combined its inputs.
    fn gather(&mut self, plan: &LogicalPlan) -> Shape {
        match plan {
            LogicalPlan::Join(join) if is_inner_join(plan) => {
                let left = self.gather(&join.left);
                let right = self.gather(&join.right);
                self.keys.extend(join.on.iter().cloned());
                if let Some(filter) = &join.filter {
                    self.filters.extend(split_conjunction_owned(filter.clone()));
                }
                Shape::Join(Box::new(left), Box::new(right))
            }
            LogicalPlan::Projection(projection)
                if is_inner_join(&projection.input)
                    && projection.expr.iter().all(|e| matches!(e, Expr::Column(_))) =>
            {
                self.gather(&projection.input)
            }
            _ => {
                self.leaves.push(plan.clone());
                Shape::Leaf(self.leaves.len() - 1)
            }
        }
    }
}

/// The classes of columns `keys` (pairs of equal expressions) make equal to each other:
/// `a = b` and `b = c` put `a`, `b` and `c` in one class.
fn equal_columns(keys: &[(Expr, Expr)]) -> Vec<Vec<Column>> {
    let mut classes: Vec<Vec<Column>> = Vec::new();
    for (left, right) in keys {
        let (Expr::Column(left), Expr::Column(right)) = (left, right) else {
            continue;
        };
        let holding =
            |c: &Column, classes: &[Vec<Column>]| classes.iter().position(|k| k.contains(c));
        match (holding(left, &classes), holding(right, &classes)) {
            (Some(a), Some(b)) if a != b => {
                let merged = classes.remove(a.max(b));
                classes[a.min(b)].extend(merged);
            }
            (Some(_), Some(_)) => {}
            (Some(a), None) => classes[a].push(right.clone()),
            (None, Some(b)) => classes[b].push(left.clone()),
            (None, None) => classes.push(vec![left.clone(), right.clone()]),
        }
    }
    classes
}

/// The column equalities of `classes` that `keys` do not state: `a = b` and `b = c` imply
/// `a = c`, which may join two parts directly (TPC-H's Q5 states customer = supplier and
/// supplier = nation, so customer can join the one nation it keeps first). An implied
/// equality holds on every row the stated ones keep, so applying it changes no result.
fn implied_keys(keys: &[(Expr, Expr)], classes: &[Vec<Column>]) -> Vec<(Expr, Expr)> {
    let stated = |a: &Column, b: &Column| {
        keys.iter().any(|(l, r)| {
            matches!((l, r), (Expr::Column(l), Expr::Column(r))
                if (l == a && r == b) || (l == b && r == a))
        })
    };
    let mut implied = Vec::new();
    for class in classes {
        for (i, a) in class.iter().enumerate() {
            for b in &class[i + 1..] {
                if !stated(a, b) {
                    implied.push((Expr::Column(a.clone()), Expr::Column(b.clone())));
                }
            }
        }
    }
    implied
}

/// A condition of the tree with the inputs (a bit mask) whose columns it reads.
#[derive(Debug, Clone)]
enum Condition {
    Key {
        /// Keys of one class of equal columns share it.
        class: usize,
        left: Expr,
        right: Expr,
        left_inputs: u32,
        right_inputs: u32,
    },
    Filter {
        expr: Expr,
        inputs: u32,
    },
}

/// A part of the tree being put together: the inputs it joins and its estimate.
#[derive(Debug, Clone)]
struct Part {
    shape: Shape,
    inputs: u32,
    estimate: Estimate,
}

/// The join graph of a tree: the inputs' estimates, the conditions and the columns the
/// tree's top must still give.
struct Graph {
    estimates: Vec<Estimate>,
    conditions: Vec<Condition>,
    top: Vec<Column>,
}

impl Graph {
    /// The graph of `tree`; `None` when the tree is too small or too large, an input
    /// cannot be estimated, or a condition reads no column or a column no single input
    /// has.
    fn new(
        tree: &Tree,
        top: Vec<Column>,
        estimate: impl Fn(&LogicalPlan) -> Option<Estimate>,
    ) -> Option<Self> {
        if tree.leaves.len() < 3 || tree.leaves.len() > MAX_INPUTS {
            return None;
        }
        let inputs_of = |expr: &Expr| -> Option<u32> {
            let mut mask = 0u32;
            for column in expr.column_refs() {
                let mut holders = tree
                    .leaves
                    .iter()
                    .enumerate()
                    .filter(|(_, leaf)| leaf.schema().has_column(column));
                let (index, _) = holders.next()?;
                if holders.next().is_some() {
                    return None;
                }
                mask |= 1 << index;
            }
            (mask != 0).then_some(mask)
        };
        let classes = equal_columns(&tree.keys);
        let mut conditions = Vec::new();
        let implied = implied_keys(&tree.keys, &classes);
        for (index, (left, right)) in tree.keys.iter().chain(&implied).enumerate() {
            let class = match left {
                Expr::Column(c) => classes.iter().position(|k| k.contains(c)),
                _ => None,
            };
            conditions.push(Condition::Key {
                class: class.unwrap_or(classes.len() + index),
                left: left.clone(),
                right: right.clone(),
                left_inputs: inputs_of(left)?,
                right_inputs: inputs_of(right)?,
            });
        }
        for filter in &tree.filters {
            conditions.push(Condition::Filter {
                expr: filter.clone(),
                inputs: inputs_of(filter)?,
            });
        }
        let estimates = tree
            .leaves
            .iter()
            .map(estimate)
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            estimates,
            conditions,
            top,
        })
    }

    /// The key pairs (oriented left, right, with their class) and the filters of joining
    /// `left` and `right`.
    fn between(&self, left: u32, right: u32) -> (Vec<Key>, Vec<Expr>) {
        let both = left | right;
        let first_here =
            |inputs: u32| inputs & !both == 0 && inputs & !left != 0 && inputs & !right != 0;
        let (mut keys, mut filters) = (Vec::new(), Vec::new());
        for condition in &self.conditions {
            match condition {
                Condition::Key {
                    class,
                    left: l,
                    right: r,
                    left_inputs,
                    right_inputs,
                } => {
                    if left_inputs & !left == 0 && right_inputs & !right == 0 {
                        keys.push((l.clone(), r.clone(), *class));
                    } else if left_inputs & !right == 0 && right_inputs & !left == 0 {
                        keys.push((r.clone(), l.clone(), *class));
                    } else if first_here(left_inputs | right_inputs) {
                        filters.push(l.clone().eq(r.clone()));
                    }
                }
                Condition::Filter { expr, inputs } => {
                    if first_here(*inputs) {
                        filters.push(expr.clone());
                    }
                }
            }
        }
        (keys, filters)
    }

    fn joined(&self, left: &Part, right: &Part) -> Part {
        let (keys, filters) = self.between(left.inputs, right.inputs);
        Part {
            shape: Shape::Join(Box::new(left.shape.clone()), Box::new(right.shape.clone())),
            inputs: left.inputs | right.inputs,
            estimate: join_estimate::joined(&left.estimate, &right.estimate, &keys, &filters),
        }
    }

    fn leaf(&self, index: usize) -> Part {
        Part {
            shape: Shape::Leaf(index),
            inputs: 1 << index,
            estimate: self.estimates[index].clone(),
        }
    }

    /// The estimated work of `shape` (the rows of all its join results) and its part;
    /// `None` for a shape that is not a tree over the graph's inputs.
    fn cost(&self, shape: &Shape) -> Option<(f64, Part)> {
        match shape {
            Shape::Leaf(index) => (*index < self.estimates.len()).then(|| (0.0, self.leaf(*index))),
            Shape::Join(left, right) => {
                let (left_work, left) = self.cost(left)?;
                let (right_work, right) = self.cost(right)?;
                let joined = self.joined(&left, &right);
                Some((left_work + right_work + joined.estimate.rows, joined))
            }
        }
    }

    /// The cheapest order found: by dynamic programming over the sets of inputs when there
    /// are at most `EXHAUSTIVE_INPUTS`, else greedily. `None` when no key joins two parts
    /// of what is left (a cross join).
    fn cheapest(&self) -> Option<Shape> {
        if self.estimates.len() <= EXHAUSTIVE_INPUTS {
            self.exhaustive()
        } else {
            self.greedy()
        }
    }

    /// For every set of inputs, smallest first, the cheapest way of joining two disjoint
    /// subsets a key joins (bushy trees included); the cheapest for all inputs.
    fn exhaustive(&self) -> Option<Shape> {
        let inputs = self.estimates.len();
        let all = (1u32 << inputs) - 1;
        let mut best: Vec<Option<(f64, Part)>> = vec![None; 1 << inputs];
        for index in 0..inputs {
            best[1 << index] = Some((0.0, self.leaf(index)));
        }
        for set in 1..=all {
            if set.count_ones() < 2 {
                continue;
            }
            let mut found: Option<(f64, Part)> = None;
            // Each split once: the subset holding the set's lowest input on the left.
            let lowest = set & set.wrapping_neg();
            let mut left = (set - 1) & set;
            while left > 0 {
                if left & lowest != 0 {
                    let right = set & !left;
                    if let (Some((left_work, a)), Some((right_work, b))) =
                        (&best[left as usize], &best[right as usize])
                    {
                        let (keys, _) = self.between(a.inputs, b.inputs);
                        if !keys.is_empty() {
                            let joined = self.joined(a, b);
                            let work = left_work + right_work + joined.estimate.rows;
                            if found.as_ref().is_none_or(|(w, _)| work < *w) {
                                found = Some((work, joined));
                            }
                        }
                    }
                }
                left = (left - 1) & set;
            }
            best[set as usize] = found;
        }
        best[all as usize].take().map(|(_, part)| part.shape)
    }

    /// Greedy operator ordering: while more than one part is left, the two parts a key
    /// joins whose result is estimated smallest join. `None` when no key joins what is
    /// left (a cross join).
    fn greedy(&self) -> Option<Shape> {
        let mut parts: Vec<Part> = (0..self.estimates.len()).map(|i| self.leaf(i)).collect();
        while parts.len() > 1 {
            let mut best: Option<(usize, usize, Part)> = None;
            for i in 0..parts.len() {
                for j in i + 1..parts.len() {
                    let (keys, _) = self.between(parts[i].inputs, parts[j].inputs);
                    if keys.is_empty() {
                        continue;
                    }
                    let joined = self.joined(&parts[i], &parts[j]);
                    if best
                        .as_ref()
                        .is_none_or(|(_, _, b)| joined.estimate.rows < b.estimate.rows)
                    {
                        best = Some((i, j, joined));
                    }
                }
            }
            let (i, j, joined) = best?;
            parts.remove(j);
            parts[i] = joined;
        }
        parts.pop().map(|part| part.shape)
    }

    /// The plan of `shape` over `leaves`, the smaller estimated side of each join as its
    /// left (build) side, each join keeping only the columns the tree's top or a later
    /// condition reads.
    fn build(&self, shape: &Shape, leaves: &[LogicalPlan]) -> Result<LogicalPlan> {
        Ok(self.built(shape, leaves)?.0)
    }

    fn built(&self, shape: &Shape, leaves: &[LogicalPlan]) -> Result<(LogicalPlan, Part)> {
        match shape {
            Shape::Leaf(index) => Ok((leaves[*index].clone(), self.leaf(*index))),
            Shape::Join(a, b) => {
                let (a, b) = (self.built(a, leaves)?, self.built(b, leaves)?);
                let ((left, left_part), (right, right_part)) =
                    if b.1.estimate.rows < a.1.estimate.rows {
                        (b, a)
                    } else {
                        (a, b)
                    };
                let (keys, filters) = self.between(left_part.inputs, right_part.inputs);
                let joined = self.joined(&left_part, &right_part);
                let join = LogicalPlan::Join(Join::try_new(
                    Arc::new(left),
                    Arc::new(right),
                    keys.into_iter().map(|(l, r, _)| (l, r)).collect(),
                    conjunction(filters),
                    JoinType::Inner,
                    JoinConstraint::On,
                    NullEquality::NullEqualsNothing,
                    false,
                )?);
                Ok((self.pruned(join, joined.inputs)?, joined))
            }
        }
    }

    /// `join` (of the inputs `inputs`) keeping only the columns read above it.
    fn pruned(&self, join: LogicalPlan, inputs: u32) -> Result<LogicalPlan> {
        let mut needed: Vec<Column> = Vec::new();
        for condition in &self.conditions {
            let (exprs, reads) = match condition {
                Condition::Key {
                    left,
                    right,
                    left_inputs,
                    right_inputs,
                    ..
                } => (vec![left, right], left_inputs | right_inputs),
                Condition::Filter { expr, inputs } => (vec![expr], *inputs),
            };
            if reads & !inputs != 0 {
                needed.extend(exprs.iter().flat_map(|e| e.column_refs()).cloned());
            }
        }
        let kept: Vec<Column> = join
            .schema()
            .columns()
            .into_iter()
            .filter(|c| needed.contains(c) || self.top.contains(c))
            .collect();
        if kept.len() == join.schema().fields().len() {
            return Ok(join);
        }
        let exprs = kept.into_iter().map(Expr::Column).collect();
        Ok(LogicalPlan::Projection(Projection::try_new(
            exprs,
            Arc::new(join),
        )?))
    }
}
