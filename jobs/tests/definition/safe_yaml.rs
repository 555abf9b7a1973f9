//! What a job file may cost to read, and that variables fill in values without adding
//! structure.

use weir_connectors::generator::GeneratorConfig;
use weir_jobs::sources::SourceConfig;
use weir_jobs::JobDefinition;

use super::parse;

const SMALL: &str = "name: small
checkpoints:
  location: ${LOCATION:-checkpoints/small}
sources:
  s:
    type: generator
    kind: bids
    events: 10
sinks:
  out: {type: discard, inputs: [s]}
";

fn with_env(text: &str, vars: &[(&str, &str)]) -> Result<JobDefinition, String> {
    JobDefinition::from_yaml(text, "job.yaml", |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .map_err(|e| e.to_string())
}

fn generated_events(job: &JobDefinition) -> Option<u64> {
    match &job.sources["s"].connector {
        SourceConfig::Generator(GeneratorConfig::Bids(bids)) => bids.events,
        other => panic!("not a bid generator: {other:?}"),
    }
}

/// A job whose transform `t` holds `value` (a transform's settings are read whole, so
/// every part of `value` is read before any field is checked).
fn transform_holding(value: &str) -> String {
    format!(
        "name: j
sources:
  s: {{type: generator, kind: bids, events: 10}}
transforms:
  t:
    type: filter
    inputs: [s]
{value}
sinks:
  out: {{type: discard, inputs: [t]}}
"
    )
}

#[test]
fn an_alias_bomb_is_refused() {
    let mut bomb = String::from("    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (level, previous) in ('b'..='i').zip('a'..) {
        let row = vec![format!("*{previous}"); 10].join(", ");
        bomb.push_str(&format!("    {level}: &{level} [{row}]\n"));
    }
    assert_eq!(
        parse(&transform_holding(&bomb)).unwrap_err(),
        "job.yaml:12:40: alias replay limit exceeded: total_replayed_events=100001 > 100000"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let flow = format!("    predicate: {}", "[".repeat(100_000));
    assert_eq!(
        parse(&transform_holding(&flow)).unwrap_err(),
        "job.yaml:8:48: the document nests deeper than 32 levels, the most a job file may"
    );
    let block = format!("    predicate:\n      {}x", "- ".repeat(100_000));
    assert_eq!(
        parse(&transform_holding(&block)).unwrap_err(),
        "job.yaml:9:65: the document nests deeper than 32 levels, the most a job file may"
    );
}

#[test]
fn a_100_mb_document_is_refused() {
    let text = format!("name: big\n#{}\n", "x".repeat(100 << 20));
    assert_eq!(
        parse(&text).unwrap_err(),
        "job.yaml: the job file is larger than 1048576 bytes (1 MiB), the most a job file may be"
    );
}

#[test]
fn a_100_mb_file_is_refused_after_reading_one_mib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let e = JobDefinition::from_file(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the job file is larger than 1048576 bytes (1 MiB), the most a job file may be",
            path.display()
        )
    );
}

#[test]
fn a_variable_cannot_add_structure() {
    let value = "a\nsinks: {x: {type: discard, inputs: [y]}}";
    let job = with_env(SMALL, &[("LOCATION", value)]).unwrap();
    assert_eq!(job.checkpoints.location.as_deref(), Some(value));
    assert_eq!(job.sinks.keys().collect::<Vec<_>>(), ["out"]);
    let named = SMALL.replace("name: small", "name: ${NAME}");
    assert_eq!(
        with_env(&named, &[("NAME", value)]).unwrap_err(),
        format!("job.yaml: job name '{value}' must be letters, digits, '_' or '-'")
    );
    let listed = SMALL.replace("events: 10", "events: ${EVENTS}");
    assert_eq!(
        with_env(&listed, &[("EVENTS", "[10]")]).unwrap_err(),
        "job.yaml:8:13: sources.s.events: invalid type: string \"[10]\", expected u64"
    );
}

#[test]
fn a_variable_that_is_a_whole_value_is_read_as_a_scalar() {
    let text = "name: ${NAME}
parallelism: ${PARALLELISM:-2}
sources:
  s:
    type: generator
    kind: bids
    events: ${EVENTS:-100000}
sinks:
  out: {type: discard, inputs: [s]}
";
    let job = with_env(text, &[("NAME", "numbers")]).unwrap();
    assert_eq!(
        (job.name.as_str(), job.parallelism, generated_events(&job)),
        ("numbers", 2, Some(100_000))
    );
    let vars = [("NAME", "n"), ("PARALLELISM", "4"), ("EVENTS", "null")];
    let job = with_env(text, &vars).unwrap();
    assert_eq!((job.parallelism, generated_events(&job)), (4, None));
    let e = with_env(text, &[("NAME", "n"), ("PARALLELISM", "four")]).unwrap_err();
    assert_eq!(
        e,
        "job.yaml:2:14: parallelism: invalid type: string \"four\", expected usize"
    );
}

#[test]
fn quoted_values_and_escapes_stay_literal() {
    let text = SMALL.replace(
        "${LOCATION:-checkpoints/small}",
        "\"${LOCATION}\"\n  retained: 5",
    );
    let job = with_env(&text, &[("LOCATION", "elsewhere")]).unwrap();
    assert_eq!(job.checkpoints.location.as_deref(), Some("${LOCATION}"));
    let text = SMALL.replace("${LOCATION:-checkpoints/small}", "$${LOCATION}/$$x");
    let job = with_env(&text, &[("LOCATION", "elsewhere")]).unwrap();
    assert_eq!(job.checkpoints.location.as_deref(), Some("${LOCATION}/$x"));
}

#[test]
fn a_variable_inside_flow_braces_says_to_use_block_style() {
    let text = SMALL.replace("inputs: [s]", "inputs: [${INPUT}]");
    assert_eq!(
        with_env(&text, &[("INPUT", "s")]).unwrap_err(),
        "job.yaml:10:34: while parsing a flow sequence, expected ',' or ']' \
         (inside [...] or {...} a `${VAR}` must be in block style: YAML reads its braces as flow syntax)"
    );
}

#[test]
fn malformed_references_name_their_place() {
    let text = SMALL.replace("${LOCATION:-checkpoints/small}", "a/${A B}");
    assert_eq!(
        with_env(&text, &[]).unwrap_err(),
        "job.yaml:3:13: `${A B}` is not a variable reference (letters, digits and _ only)"
    );
}
