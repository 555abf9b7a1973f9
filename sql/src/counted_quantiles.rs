//! Exact `percentile_cont` and `median` over counts of distinct values.
//!
//! DataFusion's exact percentiles keep every value of a group: the partial phase sends
//! them all, as lists, through the repartition to the final phase (76 MB for the 10
//! million latencies of `examples/sql_bench.rs`), which selects the percentile among them.
//! Measurements, latencies, prices and counts repeat their values, so here a group keeps
//! each distinct value once with how often it came; the partial states carry those pairs,
//! and the percentile is found by walking the sorted distinct values' counts. The answer
//! is DataFusion's, computed the same way from the same sorted values (interpolation
//! included); only `Float64` inputs without `DISTINCT` take this path, others keep
//! DataFusion's accumulators.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Float64Builder, ListArray, ListBuilder,
    UInt64Builder,
};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::functions_aggregate::median::median_udaf;
use datafusion::functions_aggregate::percentile_cont::percentile_cont_udaf;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    Signature,
};
use datafusion::physical_expr::expressions::Literal;
use datafusion::prelude::SessionContext;

/// DataFusion's rounding of the interpolation weight (`percentile_cont.rs`).
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;

/// Replaces the session's `percentile_cont` and `median` by their counted versions (same
/// names, aliases, arguments and results).
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::new_from_impl(CountedQuantile {
        inner: percentile_cont_udaf(),
        median: false,
    }));
    ctx.register_udaf(AggregateUDF::new_from_impl(CountedQuantile {
        inner: median_udaf(),
        median: true,
    }));
}

/// `percentile_cont` (or `median`) counting distinct values for `Float64` inputs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CountedQuantile {
    inner: Arc<AggregateUDF>,
    median: bool,
}

impl CountedQuantile {
    /// Whether the counted accumulators take an input of `input` type.
    fn counts(input: &DataType, distinct: bool) -> bool {
        *input == DataType::Float64 && !distinct
    }

    /// The quantile asked for: 0.5 for a median; else the literal percentile, reversed
    /// for `WITHIN GROUP (ORDER BY .. DESC)`.
    fn quantile(&self, args: &AccumulatorArgs) -> Result<Quantile> {
        if self.median {
            return Ok(Quantile::Median);
        }
        let literal = args.exprs.get(1).and_then(|e| e.downcast_ref::<Literal>());
        let Some(Ok(ScalarValue::Float64(Some(p)))) =
            literal.map(|l| l.value().cast_to(&DataType::Float64))
        else {
            return exec_err!("PERCENTILE_CONT's percentile must be a literal number");
        };
        if !(0.0..=1.0).contains(&p) {
            return exec_err!("PERCENTILE_CONT's percentile must be between 0 and 1, not {p}");
        }
        let descending = args.order_bys.first().is_some_and(|s| s.options.descending);
        Ok(Quantile::Percentile(if descending { 1.0 - p } else { p }))
    }
}

impl AggregateUDFImpl for CountedQuantile {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if !Self::counts(args.input_fields[0].data_type(), args.is_distinct) {
            return self.inner.state_fields(args);
        }
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::List(Arc::new(Field::new_list_field(item, true))),
                true,
            ))
        };
        Ok(vec![
            list("values", DataType::Float64),
            list("counts", DataType::UInt64),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if !Self::counts(args.expr_fields[0].data_type(), args.is_distinct) {
            return self.inner.accumulator(args);
        }
        Ok(Box::new(CountedAccumulator {
            groups: CountedGroups::new(self.quantile(&args)?),
        }))
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        if Self::counts(args.expr_fields[0].data_type(), args.is_distinct) {
            return true;
        }
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if !Self::counts(args.expr_fields[0].data_type(), args.is_distinct) {
            return self.inner.create_groups_accumulator(args);
        }
        Ok(Box::new(CountedGroups::new(self.quantile(&args)?)))
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        self.inner.simplify()
    }

    fn supports_within_group_clause(&self) -> bool {
        self.inner.inner().supports_within_group_clause()
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// Which quantile a group's counts give.
#[derive(Debug, Clone, Copy)]
enum Quantile {
    /// `percentile_cont(p)`: the value at `p * (n - 1)`, interpolated.
    Percentile(f64),
    /// `median`: the middle value, or the mean of the two middle ones.
    Median,
}

/// Distinct values a group counts before it checks whether they repeat enough.
const COUNTED_DISTINCT: usize = 4096;

/// One group's values: counted while they repeat; held one by one (as DataFusion holds
/// them) once more than `COUNTED_DISTINCT` are distinct and they average under two rows
/// each, where counting would cost more than it saves.
#[derive(Debug, Clone)]
enum Group {
    Counted {
        counts: HashMap<u64, u64>,
        rows: u64,
    },
    Held(Vec<f64>),
}

impl Default for Group {
    fn default() -> Self {
        Group::Counted {
            counts: HashMap::new(),
            rows: 0,
        }
    }
}

impl Group {
    fn add(&mut self, value: f64, count: u64) {
        match self {
            Group::Counted { counts, rows } => {
                *counts.entry(value.to_bits()).or_insert(0) += count;
                *rows += count;
                if counts.len() > COUNTED_DISTINCT && counts.len() as u64 * 2 > *rows {
                    let held = counts
                        .iter()
                        .flat_map(|(bits, n)| {
                            std::iter::repeat_n(f64::from_bits(*bits), *n as usize)
                        })
                        .collect();
                    *self = Group::Held(held);
                }
            }
            Group::Held(values) => values.extend(std::iter::repeat_n(value, count as usize)),
        }
    }

    fn size(&self) -> usize {
        match self {
            // A map entry: the value's bits, its count and the table's control byte.
            Group::Counted { counts, .. } => counts.capacity() * (2 * size_of::<u64>() + 1),
            Group::Held(values) => values.capacity() * size_of::<f64>(),
        }
    }

    /// The group's `quantile`; `None` for a group without values.
    fn result(self, quantile: Quantile) -> Option<f64> {
        let mut at: Box<dyn FnMut(u64) -> f64>;
        let total;
        match self {
            Group::Counted { counts, rows } => {
                let mut values: Vec<(f64, u64)> = counts
                    .into_iter()
                    .map(|(bits, n)| (f64::from_bits(bits), n))
                    .collect();
                values.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                total = rows;
                // The value at a position of the sorted values with repeats.
                at = Box::new(move |position| {
                    let mut seen = 0;
                    values
                        .iter()
                        .find(|(_, n)| {
                            seen += n;
                            seen > position
                        })
                        .map_or(f64::NAN, |(v, _)| *v)
                });
            }
            Group::Held(mut values) => {
                total = values.len() as u64;
                at = Box::new(move |position| {
                    *values
                        .select_nth_unstable_by(position as usize, f64::total_cmp)
                        .1
                });
            }
        }
        if total == 0 {
            return None;
        }
        Some(match quantile {
            Quantile::Median if total.is_multiple_of(2) => {
                (at(total / 2 - 1) + at(total / 2)) / 2.0
            }
            Quantile::Median => at(total / 2),
            Quantile::Percentile(p) => {
                let index = p * ((total - 1) as f64);
                let (lower, upper) = (index.floor() as u64, index.ceil() as u64);
                if lower == upper {
                    at(lower)
                } else {
                    let fraction = index - lower as f64;
                    let weight = ((fraction * INTERPOLATION_PRECISION) as usize) as f64
                        / INTERPOLATION_PRECISION;
                    let (low, high) = (at(lower), at(upper));
                    low + (high - low) * weight
                }
            }
        })
    }
}

/// The partial states of `groups`: per group a list of values and a list of their counts
/// (null for a group holding its values one by one: once each).
fn states(groups: &[Group]) -> Vec<ArrayRef> {
    let mut values = ListBuilder::new(Float64Builder::new());
    let mut counts = ListBuilder::new(UInt64Builder::new());
    for group in groups {
        match group {
            Group::Counted { counts: kept, .. } => {
                for (bits, n) in kept {
                    values.values().append_value(f64::from_bits(*bits));
                    counts.values().append_value(*n);
                }
                counts.append(true);
            }
            Group::Held(held) => {
                values.values().append_slice(held);
                counts.append(false);
            }
        }
        values.append(true);
    }
    let (values, counts): (ListArray, ListArray) = (values.finish(), counts.finish());
    vec![Arc::new(values), Arc::new(counts)]
}

/// Per group, its values ([`Group`]).
#[derive(Debug)]
struct CountedGroups {
    quantile: Quantile,
    groups: Vec<Group>,
}

impl CountedGroups {
    fn new(quantile: Quantile) -> Self {
        Self {
            quantile,
            groups: Vec::new(),
        }
    }

    /// The groups `emit_to` names, taken out.
    fn take(&mut self, emit_to: EmitTo) -> Vec<Group> {
        emit_to.take_needed(&mut self.groups)
    }
}

impl GroupsAccumulator for CountedGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Group::default);
        let input = values[0].as_primitive::<Float64Type>();
        for (row, group) in group_indices.iter().enumerate() {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if kept && input.is_valid(row) {
                self.groups[*group].add(input.value(row), 1);
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Group::default);
        let (value_lists, count_lists) = (values[0].as_list::<i32>(), values[1].as_list::<i32>());
        for (row, group) in group_indices.iter().enumerate() {
            if value_lists.is_null(row) {
                continue;
            }
            let row_values = value_lists.value(row);
            let row_values = row_values.as_primitive::<Float64Type>().values();
            // A held group's values come without counts: once each.
            if count_lists.is_null(row) {
                for value in row_values {
                    self.groups[*group].add(*value, 1);
                }
                continue;
            }
            let row_counts = count_lists.value(row);
            let row_counts = row_counts.as_primitive::<UInt64Type>().values();
            for (value, count) in row_values.iter().zip(row_counts) {
                self.groups[*group].add(*value, *count);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let quantile = self.quantile;
        let groups = self.take(emit_to);
        let results: Float64Array = groups.into_iter().map(|g| g.result(quantile)).collect();
        Ok(Arc::new(results))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(states(&self.take(emit_to)))
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let input = values[0].as_primitive::<Float64Type>();
        let mut lists = ListBuilder::new(Float64Builder::new());
        let mut counts = ListBuilder::new(UInt64Builder::new());
        for row in 0..input.len() {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if kept && input.is_valid(row) {
                lists.values().append_value(input.value(row));
                counts.values().append_value(1);
            }
            lists.append(true);
            counts.append(true);
        }
        let (lists, counts): (ListArray, ListArray) = (lists.finish(), counts.finish());
        Ok(vec![Arc::new(lists), Arc::new(counts)])
    }

    fn size(&self) -> usize {
        self.groups.iter().map(Group::size).sum::<usize>()
            + self.groups.capacity() * size_of::<Group>()
    }
}

/// The same counts for a statement without groups (one group).
#[derive(Debug)]
struct CountedAccumulator {
    groups: CountedGroups,
}

impl Accumulator for CountedAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values[0].len();
        self.groups.update_batch(values, &vec![0; rows], None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[0].len();
        self.groups.merge_batch(states, &vec![0; rows], 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.groups.groups.resize_with(1, Group::default);
        states(&self.groups.groups)
            .iter()
            .map(|array| ScalarValue::try_from_array(array, 0))
            .collect()
    }

    /// Leaves the values in place: a window evaluates the same accumulator again.
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let group = self.groups.groups.first().cloned().unwrap_or_default();
        Ok(ScalarValue::Float64(group.result(self.groups.quantile)))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.groups.size()
    }
}
