//! Which files a compaction rewrites, and in which groups: per partition, small files
//! bin-packed up to the target size, or (when clustering) the files not yet clustered on
//! the asked columns, in groups bounded in bytes so a group's rows fit in memory.

use std::collections::BTreeMap;

use deltalake::kernel::LogicalFileView;

/// The tag a clustered file carries in its `add` action: the clustering columns, joined
/// by commas. A file with this tag for the asked columns is left alone.
pub const CLUSTER_TAG: &str = "weir.clusterBy";

/// Files of one partition rewritten together.
#[derive(Clone)]
pub struct Group {
    /// The files, in the table's log order; all of one partition.
    pub files: Vec<LogicalFileView>,
    /// Their bytes together.
    pub bytes: u64,
}

/// What to pick: bins of small files, or files to cluster on `columns`.
pub enum Pick<'a> {
    /// Files under `target` bytes, packed into bins of at most `target` bytes with files
    /// of their size tier ([`tier`]), where a partition holds at least `min_files` of a
    /// tier; a bin of one file is left alone.
    BinPack { target: u64, min_files: usize },
    /// Files not clustered on `columns`, in groups of at most `max_group` bytes, in
    /// partitions holding at least `min_files` of them (a lone small file is rewritten
    /// too when that is 1: sorted, its row groups skip by the key).
    Cluster {
        columns: &'a [String],
        max_group: u64,
        min_files: usize,
    },
}

/// The clustering columns a file was written with, from its tag.
#[allow(deprecated)] // tags are only reachable through the add action
fn clustered_on(file: &LogicalFileView) -> Option<String> {
    file.add_action()
        .tags
        .and_then(|tags| tags.get(CLUSTER_TAG).cloned().flatten())
}

/// A partition's identity: its values by column, in column order.
fn partition_key(file: &LogicalFileView) -> Vec<(String, Option<String>)> {
    let mut key: Vec<_> = file.partition_values_map().into_iter().collect();
    key.sort();
    key
}

/// The groups to rewrite among `files` (the table's files that the partition filter
/// kept). Files with deletion vectors are never picked: their rows are not all live.
pub fn groups(files: Vec<LogicalFileView>, pick: &Pick<'_>) -> Vec<Group> {
    let mut partitions: BTreeMap<Vec<(String, Option<String>)>, Vec<LogicalFileView>> =
        BTreeMap::new();
    for file in files {
        if file.deletion_vector_descriptor().is_some() {
            continue;
        }
        partitions
            .entry(partition_key(&file))
            .or_default()
            .push(file);
    }
    let mut groups = Vec::new();
    for files in partitions.into_values() {
        match pick {
            Pick::BinPack { target, min_files } => {
                let mut tiers: BTreeMap<u32, Vec<LogicalFileView>> = BTreeMap::new();
                for file in files.into_iter().filter(|f| (f.size() as u64) < *target) {
                    tiers
                        .entry(tier(file.size() as u64))
                        .or_default()
                        .push(file);
                }
                for small in tiers.into_values() {
                    if small.len() >= *min_files {
                        groups.extend(bins(small, *target));
                    }
                }
            }
            Pick::Cluster {
                columns,
                max_group,
                min_files,
            } => {
                let wanted = columns.join(",");
                let unclustered: Vec<_> = files
                    .into_iter()
                    .filter(|f| clustered_on(f).as_deref() != Some(wanted.as_str()))
                    .collect();
                if unclustered.len() >= *min_files {
                    groups.extend(chunks(unclustered, *max_group));
                }
            }
        }
    }
    groups
}

/// Files under this size are all of one tier.
const TIER_BASE: u64 = 1 << 20;

/// The size tier of a file of `size` bytes: 0 under 1 MiB, then one tier per factor of 4
/// (1-4 MiB, 4-16 MiB, ...). Files are bin-packed with files of their tier only, so a
/// compacted file is merged again only once as many bytes of its size have gathered,
/// not each time a few small files arrive: each byte of a stream is rewritten about
/// log4(target / 1 MiB) + 1 times on its way to the target size (5 for 128 MiB), not once
/// per compaction.
fn tier(size: u64) -> u32 {
    if size < TIER_BASE {
        0
    } else {
        (size / TIER_BASE).ilog(4) + 1
    }
}

/// Small files (each under `target`) packed greedily, in log order, into bins of at
/// most `target` bytes; bins of one file are dropped (rewriting one file gains nothing).
fn bins(small: Vec<LogicalFileView>, target: u64) -> Vec<Group> {
    let mut bins: Vec<Group> = Vec::new();
    let mut open = Group {
        files: Vec::new(),
        bytes: 0,
    };
    for file in small {
        let size = file.size() as u64;
        if !open.files.is_empty() && open.bytes + size > target {
            bins.push(std::mem::replace(
                &mut open,
                Group {
                    files: Vec::new(),
                    bytes: 0,
                },
            ));
        }
        open.bytes += size;
        open.files.push(file);
    }
    bins.push(open);
    bins.retain(|bin| bin.files.len() >= 2);
    bins
}

/// `files` cut, in log order, into groups of at most `max` bytes (a larger file is a
/// group of its own).
fn chunks(files: Vec<LogicalFileView>, max: u64) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for file in files {
        let size = file.size() as u64;
        match groups.last_mut() {
            Some(last) if last.bytes + size <= max => {
                last.bytes += size;
                last.files.push(file);
            }
            _ => groups.push(Group {
                files: vec![file],
                bytes: size,
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_tiers_grow_by_a_factor_of_four_above_one_mebibyte() {
        let mib = 1 << 20;
        let tiers = [0, mib - 1, mib, 4 * mib - 1, 4 * mib, 16 * mib, 127 * mib].map(tier);
        assert_eq!(tiers, [0, 0, 1, 1, 2, 3, 4]);
    }
}
