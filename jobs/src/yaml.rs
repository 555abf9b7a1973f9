//! Reading YAML within fixed bounds. A job file is small and shallow, so the reader refuses
//! anything that would cost more than a job file can need: a file over
//! [`MAX_JOB_FILE_BYTES`], nesting deeper than [`MAX_DEPTH`], more than [`MAX_ALIASES`]
//! aliases or [`MAX_ALIAS_REPLAYED_EVENTS`] parser events replayed through them (an alias
//! bomb), more than [`MAX_NODES`] values. Each refusal is an error naming the file, line
//! and column; none is reached by reading or expanding the whole input first.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{budget, options, DefaultMessageFormatter, Error, MessageFormatter};

use crate::error::{JobError, Result};
use crate::located::{self, Located};

/// The largest job file accepted, in bytes (1 MiB).
pub const MAX_JOB_FILE_BYTES: usize = 1024 * 1024;
/// The deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 32;
/// The most anchors (`&name`), and separately the most aliases (`*name`), a job file may use.
pub const MAX_ALIASES: usize = 1_000;
/// The most parser events that aliases may replay in total.
pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 100_000;
/// The most values (scalars, mappings and sequences) a job file may hold.
pub const MAX_NODES: usize = 100_000;

/// Deserializes `text`, substituting `variables` into plain scalar values; `file` names
/// the text in errors, each at the line and column of the field at fault.
pub(crate) fn from_str<T: DeserializeOwned>(
    text: &str,
    file: &str,
    variables: HashMap<String, String>,
) -> Result<T> {
    located::deserialize(&parse(text, file, variables)?, file)
}

/// Parses `text` into a tree of values with their positions, substituting `variables` into
/// plain scalar values; `file` names the text in errors.
pub(crate) fn parse(text: &str, file: &str, variables: HashMap<String, String>) -> Result<Located> {
    check_size(text.len(), file)?;
    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAYED_EVENTS;
    let options = options! {
        budget: budget! {
            max_depth: MAX_DEPTH,
            max_aliases: MAX_ALIASES,
            max_anchors: MAX_ALIASES,
            max_nodes: MAX_NODES,
            max_total_scalar_bytes: MAX_JOB_FILE_BYTES,
            max_documents: 1,
            flow_nesting_limit: MAX_DEPTH,
        },
        alias_limits: alias_limits,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    }
    .with_properties(variables);
    serde_saphyr::from_str_with_options(text, options).map_err(|e| definition_error(&e, text, file))
}

/// Reads the job file at `path`: its name for messages, and its text. Reads at most
/// [`MAX_JOB_FILE_BYTES`] (and one byte more, to refuse a larger file), whatever the
/// file's size.
pub fn read_job_file(path: &Path) -> Result<(String, String)> {
    let label = path.display().to_string();
    let mut text = String::new();
    File::open(path)
        .and_then(|file| {
            file.take(MAX_JOB_FILE_BYTES as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| JobError::Definition {
            location: label.clone(),
            message: format!("cannot read the job file: {e}"),
        })?;
    check_size(text.len(), &label)?;
    Ok((label, text))
}

/// Refuses a job file of `bytes` bytes if it is over [`MAX_JOB_FILE_BYTES`].
pub(crate) fn check_size(bytes: usize, file: &str) -> Result<()> {
    if bytes <= MAX_JOB_FILE_BYTES {
        return Ok(());
    }
    Err(JobError::Definition {
        location: file.to_string(),
        message: format!(
            "the job file is larger than {MAX_JOB_FILE_BYTES} bytes (1 MiB), the most a job file may be"
        ),
    })
}

/// `error` as a [`JobError::Definition`] at its file, line and column, in a job file's terms
/// where the parser's wording would not say what to do.
fn definition_error(error: &Error, text: &str, file: &str) -> JobError {
    let line = error.location().map_or(0, |at| at.line());
    let message = match error {
        Error::UnresolvedProperty { name, .. } => format!(
            "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
        ),
        Error::InvalidPropertyName { name, .. } => {
            format!("`{name}` is not a variable reference (letters, digits and _ only)")
        }
        Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => too_deep(),
        other => {
            let message = DefaultMessageFormatter.format_message(other);
            // The parser's own limit on nested `[...]` / `{...}`, set to the same depth.
            if message == "recursion limit exceeded" {
                return JobError::Definition {
                    location: location(error, file),
                    message: too_deep(),
                };
            }
            let in_flow_with_variable =
                message.starts_with("while parsing a flow") && line_text(text, line).contains("${");
            if in_flow_with_variable {
                format!(
                    "{message} (inside [...] or {{...}} a `${{VAR}}` must be in block style: YAML reads its braces as flow syntax)"
                )
            } else {
                message.into_owned()
            }
        }
    };
    JobError::Definition {
        location: location(error, file),
        message,
    }
}

fn too_deep() -> String {
    format!("the document nests deeper than {MAX_DEPTH} levels, the most a job file may")
}

/// `file:line:column` of `error`, or `file` where the parser knows no position.
fn location(error: &Error, file: &str) -> String {
    match error.location() {
        Some(at) if at.line() > 0 => format!("{file}:{}:{}", at.line(), at.column()),
        _ => file.to_string(),
    }
}

/// Line `line` (1-based) of `text`; empty if there is none.
fn line_text(text: &str, line: u64) -> &str {
    usize::try_from(line)
        .ok()
        .and_then(|line| text.lines().nth(line.checked_sub(1)?))
        .unwrap_or("")
}
