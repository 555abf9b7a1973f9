//! Mistakes inside a source, transform or sink are reported at the field's own line and
//! column, however deep the field sits, when a job file is read (as `weir run` reads it).

use weir_connectors::delta::DeltaSinkConfig;
use weir_jobs::sinks::SinkConfig;

use super::parse;

const KAFKA: &str = "name: k
sources:
  events:
    type: kafka
    brokers: b:9092
    topics: [t]
    format:
      type: json
      columns:
        - {name: a, type: int64}
        - {name: b, typ: string}
sinks:
  out: {type: discard, inputs: [events]}
";

#[test]
fn a_mistake_inside_a_nested_setting_is_placed_at_its_key() {
    assert_eq!(
        parse(KAFKA).unwrap_err(),
        "job.yaml:11:21: sources.events.format.columns[1]: unknown field `typ`, expected one of `name`, `type`, `nullable`"
    );
}

#[test]
fn a_wrong_type_is_placed_at_the_value() {
    let text = KAFKA
        .replace("typ: string", "type: string")
        .replace("topics: [t]", "topics: [t]\n    batch_size: lots");
    assert_eq!(
        parse(&text).unwrap_err(),
        "job.yaml:7:17: sources.events.batch_size: invalid type: string \"lots\", expected usize"
    );
}

#[test]
fn an_unknown_type_is_placed_at_its_name() {
    let text = KAFKA.replace("type: kafka", "type: kafkaa");
    assert_eq!(
        parse(&text).unwrap_err(),
        "job.yaml:4:11: sources.events.type: unknown variant `kafkaa`, expected one of `kafka`, `file`, `delta`, `generator`, `compaction`, `quality`"
    );
}

#[test]
fn a_mistake_in_a_node_setting_read_directly_is_placed_at_it() {
    let text = KAFKA.replace("typ: string", "type: string").replace(
        "  out: {type: discard, inputs: [events]}",
        "  out: {type: discard, inputs: events}",
    );
    assert_eq!(
        parse(&text).unwrap_err(),
        "job.yaml:13:32: sinks.out.inputs: invalid type: string \"events\", expected a sequence"
    );
}

/// Inside a source or sink, which serde reads through a buffer, a plain number is a
/// number: text that looks like one is quoted, and the error says where.
#[test]
fn a_number_where_text_is_expected_is_placed() {
    let text = KAFKA.replace("typ: string", "type: string").replace(
        "  out: {type: discard, inputs: [events]}",
        "  out: {type: delta, inputs: [events], table: t, app_id: 2024}",
    );
    assert_eq!(
        parse(&text).unwrap_err(),
        "job.yaml:13:58: sinks.out.app_id: invalid type: integer `2024`, expected a string"
    );
    let job = parse(&text.replace("app_id: 2024", "app_id: '2024'")).unwrap();
    let SinkConfig::Delta(DeltaSinkConfig { app_id, .. }) = &job.sinks["out"].connector else {
        panic!("not a delta sink");
    };
    assert_eq!(app_id, "2024");
}
