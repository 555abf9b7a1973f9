//! Rules files (`weir quality check --rules rules.yaml`): the same `rules:` list a Delta
//! sink's `quality:` section holds, read within the job file's bounds, every mistake
//! placed at its file, line and column.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use weir_quality::Rule;

use crate::error::Result;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
}

/// The rules of the rules file `text` (named `file` in errors).
pub fn rules_from_str(text: &str, file: &str) -> Result<Vec<Rule>> {
    let parsed: RulesFile = crate::yaml::from_str(text, file, HashMap::new())?;
    Ok(parsed.rules)
}

/// The rules of the rules file at `path`.
pub fn rules_from_file(path: &Path) -> Result<Vec<Rule>> {
    let (label, text) = crate::yaml::read_job_file(path)?;
    rules_from_str(&text, &label)
}
