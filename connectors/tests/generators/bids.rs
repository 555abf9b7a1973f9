//! Bids: the shared partition machinery keeps the bid generator's guarantees.

use std::sync::Arc;

use weir_connectors::generator::{BidGenerator, BidGeneratorConfig};
use weir_engine::SourcePlan;

use super::support::check_determinism;

#[test]
fn bids_are_deterministic_at_any_parallelism_and_restore_exactly() {
    check_determinism(
        |seed| -> Arc<dyn SourcePlan> {
            BidGenerator::new(BidGeneratorConfig {
                seed,
                events: Some(10_007),
                partitions: 3,
                batch_size: 1000,
                ..Default::default()
            })
            .unwrap()
        },
        4,
    );
}
