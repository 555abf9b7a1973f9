//! Job-file parsing never panics: arbitrary text and structure-aware mutations of the
//! shipped job files each give a job definition or an error naming a place in the file.

use proptest::prelude::*;
use weir_jobs::JobDefinition;

const SHIPPED: [&str; 13] = [
    include_str!("../../../examples/jobs/access_logs_to_lake.yaml"),
    include_str!("../../../examples/jobs/app_logs_to_lake.yaml"),
    include_str!("../../../examples/jobs/bids_to_lake.yaml"),
    include_str!("../../../examples/jobs/clickstream_sessions.yaml"),
    include_str!("../../../examples/jobs/compact_requests.yaml"),
    include_str!("../../../examples/jobs/kafka_to_lake.yaml"),
    include_str!("../../../examples/jobs/lake_requests_per_level.yaml"),
    include_str!("../../../examples/jobs/log_analytics.yaml"),
    include_str!("../../../examples/jobs/log_pipeline.yaml"),
    include_str!("../../../examples/jobs/log_pipeline_files.yaml"),
    include_str!("../../../examples/jobs/log_pipeline_kafka.yaml"),
    include_str!("../../../docker/jobs/bids_from_kafka.yaml"),
    include_str!("../../../docker/jobs/produce_bids.yaml"),
];

/// Pieces of YAML and job-file syntax spliced into the shipped files.
const TOKENS: [&str; 18] = [
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "&a ",
    "*a",
    "${X}",
    "${X:-",
    "\n  ",
    "\n",
    "'",
    "\"",
    "!!str ",
    "null",
    "-1",
    "99999999999999999999",
];

/// Parses `text`; an error must name the file.
fn parse(text: &str) {
    let lookup = |name: &str| (name == "X").then(|| "1".to_string());
    if let Err(e) = JobDefinition::from_yaml(text, "job.yaml", lookup) {
        let message = e.to_string();
        assert!(message.contains("job.yaml"), "{message}");
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, &'static str),
    Repeat(usize, usize, usize),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), proptest::sample::select(TOKENS.to_vec()))
            .prop_map(|(at, t)| Edit::Insert(at, t)),
        (any::<usize>(), 1..40usize, 1..200usize).prop_map(|(at, len, n)| Edit::Repeat(at, len, n)),
        (any::<usize>(), 1..60usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// The byte index at or before `at % (len + 1)` that is a character boundary of `text`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edit: &Edit) -> String {
    match *edit {
        Edit::Insert(at, token) => {
            let i = boundary(text, at);
            format!("{}{token}{}", &text[..i], &text[i..])
        }
        Edit::Repeat(at, len, n) => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start));
            let piece = &text[start..end];
            format!("{}{}{}", &text[..start], piece.repeat(n), &text[start..])
        }
        Edit::Delete(at, len) => {
            let start = boundary(text, at);
            let end = boundary(text, start + len.min(text.len() - start));
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::Truncate(at) => text[..boundary(text, at)].to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_is_a_job_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_shipped_files_are_jobs_or_errors(
        file in 0..SHIPPED.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let text = edits.iter().fold(SHIPPED[file].to_string(), |text, e| apply(&text, e));
        parse(&text);
    }
}
