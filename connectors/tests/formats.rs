//! The record formats: golden rows, malformed records as dead letters, round trips through
//! the encoders, YAML configuration, and a property test that no decoder panics.

#[path = "formats/access_log.rs"]
mod access_log;
#[path = "formats/csv.rs"]
mod csv;
#[path = "formats/json.rs"]
mod json;
#[path = "formats/lines.rs"]
mod lines;
#[path = "formats/no_panic.rs"]
mod no_panic;
#[path = "formats/regex.rs"]
mod regex;
#[path = "formats/round_trip.rs"]
mod round_trip;
#[path = "formats/support.rs"]
mod support;
#[path = "formats/syslog.rs"]
mod syslog;
#[path = "formats/yaml.rs"]
mod yaml;
