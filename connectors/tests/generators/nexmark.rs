//! Nexmark: proportions, hot items and sizes as the reference generator's rules give them.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
use weir_connectors::generator::{NexmarkConfig, NexmarkGenerator};
use weir_engine::SourcePlan;

use super::support::{check_determinism, concat, read_all};

fn small(seed: u64) -> Arc<dyn SourcePlan> {
    NexmarkGenerator::new(NexmarkConfig {
        seed,
        events: Some(20_011),
        partitions: 3,
        batch_size: 1000,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn nexmark_is_deterministic_at_any_parallelism_and_restores_exactly() {
    check_determinism(small, 7);
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch.column_by_name(name).unwrap().as_ref()
}

fn ints<'a>(batch: &'a RecordBatch, name: &str) -> &'a arrow::array::Int64Array {
    column(batch, name).as_primitive::<Int64Type>()
}

fn texts<'a>(batch: &'a RecordBatch, name: &str) -> &'a StringArray {
    column(batch, name).as_string::<i32>()
}

/// Mean of the byte sizes of the rows `rows`, counted as the reference counts them.
fn mean(sizes: impl Iterator<Item = usize>) -> f64 {
    let (sum, n) = sizes.fold((0, 0), |(s, n), size| (s + size, n + 1));
    sum as f64 / n as f64
}

#[test]
fn a_million_events_have_the_reference_proportions_hot_items_and_sizes() {
    let plan = NexmarkGenerator::new(NexmarkConfig {
        events: Some(1_000_000),
        ..Default::default()
    })
    .unwrap();
    let all = concat(plan.as_ref(), &read_all(plan.as_ref(), 1));
    assert_eq!(all.num_rows(), 1_000_000);
    let kind = column(&all, "event_type").as_primitive::<Int32Type>();
    let rows_of = |k: i32| -> Vec<usize> {
        (0..all.num_rows())
            .filter(|r| kind.value(*r) == k)
            .collect()
    };
    let (people, auctions, bids) = (rows_of(0), rows_of(1), rows_of(2));
    // 1, 3 and 46 of every 50 events: exactly, since 1,000,000 is a multiple of 50.
    assert_eq!(
        (people.len(), auctions.len(), bids.len()),
        (20_000, 60_000, 920_000)
    );

    // Person ids are 1000 onwards without gaps; every column of a person row is set and
    // those of the other kinds are null.
    let person_id = ints(&all, "person_id");
    let mut ids: Vec<i64> = people.iter().map(|r| person_id.value(*r)).collect();
    ids.sort_unstable();
    assert!(ids.iter().enumerate().all(|(n, id)| *id == 1000 + n as i64));
    assert_eq!(person_id.null_count(), 980_000);
    assert_eq!(ints(&all, "bid_price").null_count(), 80_000);

    // Hot auctions. A bid goes to the hot auction (the first of the last batch of 100,
    // base-0 id a multiple of 100) with probability 1 - 1/2, and otherwise to a uniform
    // pick among the 111 most recent ids (100 in flight + the last + 10 ahead); any 111
    // consecutive ids hold 1.11 multiples of 100 on average, so 1% of those picks land on a
    // multiple of 100 as well: expected share 1/2 + 1/2 * 1/100 = 0.505.
    let share = |hits: usize, of: usize| hits as f64 / of as f64;
    let bid_auction = ints(&all, "bid_auction");
    let hot_auctions = bids
        .iter()
        .filter(|r| (bid_auction.value(**r) - 1000) % 100 == 0)
        .count();
    let hot_auction_share = share(hot_auctions, bids.len());
    assert!(
        (hot_auction_share / 0.505 - 1.0).abs() < 0.01,
        "{hot_auction_share}"
    );

    // Hot bidders: the second of the last batch of 100 people (base-0 id 1 mod 100) with
    // probability 1 - 1/4, otherwise a uniform pick among the 1010 active people and leads,
    // 1% of which is 1 mod 100: 3/4 + 1/4 * 1/100 = 0.7525. Hot sellers likewise (0 mod 100).
    let bidder = ints(&all, "bid_bidder");
    let hot_bidders = bids
        .iter()
        .filter(|r| (bidder.value(**r) - 1000) % 100 == 1)
        .count();
    let hot_bidder_share = share(hot_bidders, bids.len());
    assert!(
        (hot_bidder_share / 0.7525 - 1.0).abs() < 0.01,
        "{hot_bidder_share}"
    );
    let seller = ints(&all, "auction_seller");
    let hot_sellers = auctions
        .iter()
        .filter(|r| (seller.value(**r) - 1000) % 100 == 0)
        .count();
    let hot_seller_share = share(hot_sellers, auctions.len());
    assert!(
        (hot_seller_share / 0.7525 - 1.0).abs() < 0.01,
        "{hot_seller_share}"
    );

    // Sizes as the reference counts them: 8 bytes per number, the text fields, the extra.
    let len = |name: &str, r: usize| texts(&all, name).value(r).len();
    let person_size = mean(people.iter().map(|r| {
        8 + [
            "name",
            "email_address",
            "credit_card",
            "city",
            "state",
            "extra",
        ]
        .iter()
        .map(|f| len(&format!("person_{f}"), *r))
        .sum::<usize>()
    }));
    let auction_size = mean(auctions.iter().map(|r| {
        8 + 8 * 5
            + len("auction_item_name", *r)
            + len("auction_description", *r)
            + len("auction_extra", *r)
    }));
    let bid_size = mean(bids.iter().map(|r| 8 * 4 + len("bid_extra", *r)));
    // The padding is uniform in [desired - 20%, desired + 20%), so the mean is half a byte
    // under the configured average.
    assert!((person_size - 200.0).abs() < 2.0, "{person_size}");
    assert!((auction_size - 500.0).abs() < 2.0, "{auction_size}");
    assert!((bid_size - 100.0).abs() < 1.0, "{bid_size}");

    // Auctions: category 10..15, reserve above the initial bid, expiring after creation.
    let time = column(&all, "event_time").as_primitive::<TimestampMillisecondType>();
    let expires = column(&all, "auction_expires").as_primitive::<TimestampMillisecondType>();
    let (category, initial, reserve) = (
        ints(&all, "auction_category"),
        ints(&all, "auction_initial_bid"),
        ints(&all, "auction_reserve"),
    );
    assert!(auctions
        .iter()
        .all(|r| (10..15).contains(&category.value(*r))
            && reserve.value(*r) > initial.value(*r)
            && expires.value(*r) > time.value(*r)));
    // 10,000 events per second of event time.
    assert_eq!(time.value(999_999) - time.value(0), 99_999);
    let channels = texts(&all, "bid_channel");
    let hot_channels = bids
        .iter()
        .filter(|r| !channels.value(**r).starts_with("channel-"))
        .count();
    let hot_channel_share = share(hot_channels, bids.len());
    assert!(
        (hot_channel_share - 0.5).abs() < 0.005,
        "{hot_channel_share}"
    );
    println!(
        "nexmark over 1,000,000 events: people {} auctions {} bids {}, hot auction share \
         {hot_auction_share:.4}, hot bidder share {hot_bidder_share:.4}, hot seller share \
         {hot_seller_share:.4}, sizes person {person_size:.1} auction {auction_size:.1} bid \
         {bid_size:.1}",
        people.len(),
        auctions.len(),
        bids.len()
    );
}

#[test]
fn the_stream_of_a_seed_is_pinned() {
    // Row 0 is event 0, a person; row 4 is event 12 (partition 0 of 3 comes first), a bid.
    let all = concat(small(1).as_ref(), &read_all(small(1).as_ref(), 1));
    let bid = 4;
    assert_eq!(
        (
            texts(&all, "person_name").value(0),
            texts(&all, "person_email_address").value(0),
            texts(&all, "person_credit_card").value(0),
            ints(&all, "bid_auction").value(bid),
            ints(&all, "bid_bidder").value(bid),
            ints(&all, "bid_price").value(bid),
            texts(&all, "bid_channel").value(bid),
            texts(&all, "bid_url").value(bid),
        ),
        (
            "Paul Jones",
            "zf wxb@zvp.com",
            "7241 8183 5025 0064",
            1000,
            1001,
            4_595_130,
            "Facebook",
            "https://www.nexmark.com/lyg/cut_/nkd/item.htm?query=1"
        )
    );
}
