//! The quality gate's part of the Delta committer: the writers' metric states of each
//! epoch, merged and judged when the committer stages the epoch (a failed `fail` rule
//! fails the barrier, so nothing of the epoch is ever committed), alerts on a change of
//! verdict, and the commit of the epoch's quarantined rows into the quarantine table
//! with the same epoch number. What the gate remembers between epochs (the volume
//! history, each rule's last verdict for alerts, the keys of uniqueness rules with a
//! horizon) is in the committer's checkpoints.

use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int64Type, SchemaRef, UInt64Type};
use arrow::ipc::reader::StreamReader;
use deltalake::kernel::Add;
use weir_engine::state::{state_batch, StateChunk, StateTable};
use weir_lake::epoch::EpochCommitter;
use weir_lake::table::open_or_create;
use weir_quality::alert::{AlertMessage, AlertState};
use weir_quality::horizon::Horizons;
use weir_quality::Verdict;

use super::{DeltaSinkConfig, SinkGate};
use crate::error::ConnectorError;

/// The committer's state table of staged epochs' verdicts (`epoch`, verdicts as JSON).
pub(super) const VERDICTS_TABLE: &str = "verdicts";
/// The committer's state table of staged quarantine files (`epoch`, `add` as JSON).
pub(super) const QUARANTINED_TABLE: &str = "quarantined";
/// The committer's state table of the row counts of the epochs judged (`position`,
/// `rows`), oldest first: a volume rule's history survives restarts.
pub(super) const VOLUME_TABLE: &str = "volume_history";
/// The committer's state table of each rule's last verdict (`rule`, `passed`), to alert
/// on changes across restarts.
pub(super) const ALERTS_TABLE: &str = "alert_state";
/// The committer's state table of the keys of uniqueness rules with a horizon (`rule`,
/// the key's hash as `key_high` and `key_low`, `committed_ms`).
pub(super) const KEYS_TABLE: &str = "unique_keys";
/// The most epochs' row counts kept for volume rules.
const VOLUME_HISTORY: usize = 1_000;

pub(super) fn alerts_table() -> StateTable {
    StateTable::new(
        ALERTS_TABLE,
        [
            Arc::new(Field::new("rule", DataType::Utf8, false)),
            Arc::new(Field::new("passed", DataType::Boolean, false)),
        ],
    )
}

pub(super) fn keys_table() -> StateTable {
    StateTable::new(
        KEYS_TABLE,
        [
            Arc::new(Field::new("rule", DataType::Utf8, false)),
            Arc::new(Field::new("key_high", DataType::UInt64, false)),
            Arc::new(Field::new("key_low", DataType::UInt64, false)),
            Arc::new(Field::new("committed_ms", DataType::Int64, false)),
        ],
    )
}

pub(super) fn volume_table() -> StateTable {
    StateTable::new(
        VOLUME_TABLE,
        [
            Arc::new(Field::new("position", DataType::UInt64, false)),
            Arc::new(Field::new("rows", DataType::UInt64, false)),
        ],
    )
}

pub(super) fn verdicts_table() -> StateTable {
    StateTable::new(
        VERDICTS_TABLE,
        [
            Arc::new(Field::new("epoch", DataType::UInt64, false)),
            Arc::new(Field::new("verdicts", DataType::Utf8, false)),
        ],
    )
}

pub(super) fn quarantined_table() -> StateTable {
    StateTable::new(
        QUARANTINED_TABLE,
        [
            Arc::new(Field::new("epoch", DataType::UInt64, false)),
            Arc::new(Field::new("add", DataType::Utf8, false)),
        ],
    )
}

/// A committer's quality rules and what it keeps between epochs for them.
pub(super) struct EpochGate {
    gate: SinkGate,
    /// The writers' metric states received since the last barrier.
    pending_states: Vec<RecordBatch>,
    /// Rows of the epochs judged so far in this run, oldest first, for volume rules.
    volume_history: Vec<u64>,
    /// The verdicts of the last epoch judged, to alert on changes.
    alerts: AlertState,
    /// The keys earlier epochs committed, for uniqueness rules with a horizon.
    horizons: Horizons,
    /// The newest event-time watermark the writers forwarded (none at the start, or
    /// when the sink's input has none): what freshness is judged against.
    watermark: Option<i64>,
    /// The quarantine table's epoch committer, opened with the first quarantined files.
    quarantine_committer: Option<EpochCommitter>,
}

impl EpochGate {
    pub fn new(gate: SinkGate) -> Self {
        Self {
            gate,
            pending_states: Vec::new(),
            volume_history: Vec::new(),
            alerts: AlertState::default(),
            horizons: Horizons::default(),
            watermark: None,
            quarantine_committer: None,
        }
    }

    /// What the gate remembers between epochs, as state chunks.
    pub fn snapshot(&self) -> weir_engine::Result<Vec<StateChunk>> {
        let mut chunks = Vec::new();
        let shard = |n: usize| Arc::new(UInt32Array::from_value(0, n));
        let n = self.volume_history.len();
        if n > 0 {
            let positions = Arc::new(UInt64Array::from_iter_values(0..n as u64));
            let rows = Arc::new(UInt64Array::from_iter_values(
                self.volume_history.iter().copied(),
            ));
            chunks.push(StateChunk::new(
                VOLUME_TABLE,
                state_batch(&volume_table(), shard(n), vec![positions, rows])?,
            ));
        }
        let (rules, passed): (Vec<&str>, Vec<bool>) = self.alerts.remembered().unzip();
        if !rules.is_empty() {
            let n = rules.len();
            chunks.push(StateChunk::new(
                ALERTS_TABLE,
                state_batch(
                    &alerts_table(),
                    shard(n),
                    vec![
                        Arc::new(StringArray::from(rules)),
                        Arc::new(BooleanArray::from(passed)),
                    ],
                )?,
            ));
        }
        let keys: Vec<(&str, u128, i64)> = self.horizons.entries().collect();
        if !keys.is_empty() {
            let n = keys.len();
            chunks.push(StateChunk::new(
                KEYS_TABLE,
                state_batch(
                    &keys_table(),
                    shard(n),
                    vec![
                        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| k.0))),
                        Arc::new(UInt64Array::from_iter_values(
                            keys.iter().map(|k| (k.1 >> 64) as u64),
                        )),
                        Arc::new(UInt64Array::from_iter_values(
                            keys.iter().map(|k| k.1 as u64),
                        )),
                        Arc::new(Int64Array::from_iter_values(keys.iter().map(|k| k.2))),
                    ],
                )?,
            ));
        }
        Ok(chunks)
    }

    /// Takes back what the gate remembered from the chunks of a checkpoint.
    pub fn restore(&mut self, chunks: &[StateChunk]) {
        let mut history: Vec<(u64, u64)> = Vec::new();
        let mut alerts = Vec::new();
        let mut keys = Vec::new();
        for chunk in chunks {
            let batch = &chunk.batch;
            match chunk.table.as_str() {
                VOLUME_TABLE => {
                    let positions = batch.column(1).as_primitive::<UInt64Type>();
                    let rows = batch.column(2).as_primitive::<UInt64Type>();
                    history
                        .extend((0..batch.num_rows()).map(|r| (positions.value(r), rows.value(r))));
                }
                ALERTS_TABLE => {
                    let rules = batch.column(1).as_string::<i32>();
                    let passed = batch.column(2).as_boolean();
                    alerts.extend(
                        (0..batch.num_rows())
                            .filter(|&r| rules.is_valid(r))
                            .map(|r| (rules.value(r).to_string(), passed.value(r))),
                    );
                }
                KEYS_TABLE => {
                    let rules = batch.column(1).as_string::<i32>();
                    let high = batch.column(2).as_primitive::<UInt64Type>();
                    let low = batch.column(3).as_primitive::<UInt64Type>();
                    let at = batch.column(4).as_primitive::<Int64Type>();
                    keys.extend(
                        (0..batch.num_rows())
                            .filter(|&r| rules.is_valid(r))
                            .map(|r| {
                                (
                                    rules.value(r).to_string(),
                                    (u128::from(high.value(r)) << 64) | u128::from(low.value(r)),
                                    at.value(r),
                                )
                            }),
                    );
                }
                _ => {}
            }
        }
        history.sort_unstable();
        self.volume_history = history.into_iter().map(|(_, rows)| rows).collect();
        self.alerts = alerts.into_iter().collect();
        self.horizons = Horizons::from_entries(keys);
    }

    /// Notes the combined watermark of the writers; the end of input's (the largest
    /// time there is) says nothing about the rows' age and is left out.
    pub fn observe_watermark(&mut self, watermark: i64) {
        if watermark > i64::MIN && watermark < i64::MAX {
            self.watermark = Some(watermark);
        }
    }

    /// Keeps the metric states (Arrow IPC streams) a writer handed over.
    pub fn receive(&mut self, states: &BinaryArray) -> Result<(), ConnectorError> {
        for bytes in states.iter().flatten() {
            let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
            for state in reader {
                self.pending_states.push(state?);
            }
        }
        Ok(())
    }

    /// Judges epoch `epoch` of the sink of `config` (rows of `rows`) from the metric
    /// states received since the last barrier; fails when a `fail` rule failed, so the
    /// epoch is never committed.
    pub fn judge(
        &mut self,
        epoch: u64,
        config: &DeltaSinkConfig,
        rows: &SchemaRef,
    ) -> weir_engine::Result<Vec<Verdict>> {
        let states = std::mem::take(&mut self.pending_states);
        let quality = |e: weir_quality::QualityError| {
            ConnectorError::Quality(format!("judging epoch {epoch} of {}: {e}", config.table))
        };
        let merged = self.gate.metrics.merge(&states).map_err(quality)?;
        let now = std::time::SystemTime::now();
        // Freshness against event time when the stream has it: a replayed or backfilled
        // stream is as fresh as its watermark says.
        let freshness_now = self.watermark.map_or(now, |w| {
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(w.max(0) as u64)
        });
        let mut verdicts =
            self.gate
                .rules
                .judge_merged(&merged, rows, freshness_now, &self.volume_history);
        let keys = self
            .horizons
            .judge(&self.gate.rules, &merged, &mut verdicts, now);
        let changed = self.alerts.changes(&verdicts);
        if let (Some(alert), false) = (self.gate.alert.clone(), changed.is_empty()) {
            // Delivered on the side: the epoch is not held up by a slow webhook.
            let message = AlertMessage {
                table: config.table.clone(),
                version: epoch as i64,
                changed,
            };
            tokio::spawn(async move { alert.send(&message).await });
        }
        if let Some(failed) = weir_quality::gate::failure(&verdicts) {
            return Err(ConnectorError::Quality(format!(
                "epoch {epoch} of {} is not committed: {failed}",
                config.table
            ))
            .into());
        }
        self.horizons.remember(keys);
        let counted = verdicts.first().map_or(0, |v| v.rows_checked);
        self.volume_history.push(counted);
        if self.volume_history.len() > VOLUME_HISTORY {
            self.volume_history.remove(0);
        }
        Ok(verdicts)
    }

    /// Commits the quarantine table's files (`add` actions as JSON) of the epochs up to
    /// `epoch` as its epoch `epoch` (the same number as the table's), once.
    pub async fn commit_quarantined(
        &mut self,
        config: &DeltaSinkConfig,
        epoch: u64,
        quarantined: &[String],
    ) -> weir_engine::Result<()> {
        let adds = quarantined
            .iter()
            .map(|json| serde_json::from_str::<Add>(json))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                ConnectorError::Delta(format!("quarantined file of epoch {epoch}: {err}"))
            })?;
        if self.quarantine_committer.is_none() {
            let Some(quarantine) = self.gate.quarantine.clone() else {
                return Err(ConnectorError::Quality(
                    "quarantined files arrived for a sink without quarantine rules".into(),
                )
                .into());
            };
            let uri = weir_quality::quarantine::quarantine_table(&config.table);
            let table = open_or_create(&uri, &quarantine.schema(), &[])
                .await
                .map_err(ConnectorError::from)?;
            let committer = EpochCommitter::open(&table, &config.app_id)
                .await
                .map_err(ConnectorError::from)?;
            self.quarantine_committer = Some(committer);
        }
        let committer = self.quarantine_committer.as_mut().expect("opened above");
        committer
            .commit(epoch as i64, adds, None)
            .await
            .map_err(ConnectorError::from)?;
        Ok(())
    }
}
