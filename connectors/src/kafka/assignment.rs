//! Which subtask reads which partition, and the id a partition has for watermarks and
//! checkpoints. Both are pure functions of the topic name and partition number, so every
//! subtask, every run and every parallelism agree on them.

use xxhash_rust::xxh3::xxh3_64;

/// The subtask (out of `parallelism`) that reads `partition` of `topic`: the topic's
/// partitions are dealt round-robin starting at a subtask chosen by the topic's name, so
/// several topics spread evenly and partitions added later land predictably.
pub fn subtask_of(topic: &str, partition: i32, parallelism: usize) -> usize {
    let start = (xxh3_64(topic.as_bytes()) % parallelism as u64) as usize;
    (start + partition.max(0) as usize) % parallelism
}

/// The source-partition id of `partition` of `topic`: 16 bits of the topic's hash, then
/// the partition number (partitions beyond 65,535 share ids, which only merges their
/// event-time tracking).
pub fn partition_id(topic: &str, partition: i32) -> u32 {
    let topic_bits = (xxh3_64(topic.as_bytes()) & 0xFFFF) as u32;
    (topic_bits << 16) | (partition.max(0) as u32 & 0xFFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_spread_evenly_and_ids_are_pinned() {
        for parallelism in 1..=4 {
            let mut load = vec![0; parallelism];
            for p in 0..12 {
                load[subtask_of("events", p, parallelism)] += 1;
            }
            assert!(load.iter().all(|&n| n == 12 / parallelism), "{load:?}");
        }
        // Pinned: changing these would move partitions between subtasks across versions.
        let events: Vec<usize> = (0..6).map(|p| subtask_of("events", p, 4)).collect();
        assert_eq!(events, vec![3, 0, 1, 2, 3, 0]);
        assert_eq!(partition_id("events", 2), 0xe8af_0002);
        assert_eq!(partition_id("logs", 2), 0x9e6b_0002);
    }
}
