//! Reading generators the way the runtime does: one reader per subtask, batch by batch.

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::row::{RowConverter, SortField};
use weir_engine::{Source, SourceBatch, SourcePlan, SubtaskInfo};

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn reader(plan: &dyn SourcePlan, index: usize, parallelism: usize) -> Box<dyn Source> {
    let info = SubtaskInfo {
        gauges: Default::default(),
        node: "generator".into(),
        index,
        parallelism,
        max_parallelism: 128,
    };
    plan.create(&info).unwrap()
}

/// Every batch of one reader until the end, with its partition.
pub fn drain(source: &mut dyn Source) -> Vec<(u32, RecordBatch)> {
    let runtime = runtime();
    let mut out = Vec::new();
    while let Some(SourceBatch {
        partition, batch, ..
    }) = runtime.block_on(source.next_batch()).unwrap()
    {
        out.push((partition, batch));
    }
    out
}

/// Every batch of every subtask at `parallelism`, subtask after subtask.
pub fn read_all(plan: &dyn SourcePlan, parallelism: usize) -> Vec<(u32, RecordBatch)> {
    (0..parallelism)
        .flat_map(|index| drain(reader(plan, index, parallelism).as_mut()))
        .collect()
}

/// All rows in one batch.
pub fn concat(plan: &dyn SourcePlan, batches: &[(u32, RecordBatch)]) -> RecordBatch {
    let batches: Vec<&RecordBatch> = batches.iter().map(|(_, b)| b).collect();
    concat_batches(&plan.schema(), batches).unwrap()
}

/// The rows as a sorted list of encoded rows: equal for equal multisets of rows.
pub fn multiset(plan: &dyn SourcePlan, batches: &[(u32, RecordBatch)]) -> Vec<Vec<u8>> {
    let fields = plan
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).unwrap();
    let mut rows: Vec<Vec<u8>> = batches
        .iter()
        .flat_map(|(_, batch)| {
            let rows = converter.convert_columns(batch.columns()).unwrap();
            rows.iter().map(|r| r.as_ref().to_vec()).collect::<Vec<_>>()
        })
        .collect();
    rows.sort();
    rows
}

/// The properties every generator has: the same seed gives the same batches, another seed
/// other ones; parallelism 1 and 3 give the same rows; a reader restored from a snapshot
/// taken after `k` batches continues exactly like the reader that took it.
pub fn check_determinism(make: impl Fn(u64) -> std::sync::Arc<dyn SourcePlan>, k: usize) {
    let plan = make(1);
    let first = read_all(plan.as_ref(), 1);
    assert!(first.len() > k + 1, "too few batches for the test");
    assert_eq!(first, read_all(make(1).as_ref(), 1));
    assert_ne!(
        multiset(plan.as_ref(), &first),
        multiset(plan.as_ref(), &read_all(make(2).as_ref(), 1))
    );
    assert_eq!(
        multiset(plan.as_ref(), &first),
        multiset(plan.as_ref(), &read_all(plan.as_ref(), 3))
    );

    let runtime = runtime();
    let mut original = reader(plan.as_ref(), 0, 1);
    for _ in 0..k {
        runtime.block_on(original.next_batch()).unwrap().unwrap();
    }
    let snapshot = original.snapshot().unwrap();
    let mut restored = reader(plan.as_ref(), 0, 1);
    restored.restore(snapshot).unwrap();
    let rest = drain(original.as_mut());
    assert_eq!(rest, drain(restored.as_mut()));
    assert_eq!(rest, first[k..]);
}
