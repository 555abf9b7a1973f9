//! weir-quality: data-quality rules and their verdicts. One YAML syntax ([`Rule`]) serves
//! a Delta sink's `quality:` gate and `kind: quality` jobs; all rules of a table are
//! compiled into one aggregate query ([`RuleSet::evaluate`]) computing every metric in one
//! scan, plus one query per rule that needs its own (custom SQL, referential).

pub mod alert;
pub mod distinct_rows;
pub mod error;
pub mod evaluate;
pub mod gate;
pub mod history;
pub mod horizon;
mod judge;
pub mod partial;
pub mod quarantine;
pub mod rule;
pub mod verdict;

pub use error::{QualityError, Result};
pub use evaluate::RuleSet;
pub use rule::{Check, Rule, Severity};
pub use verdict::Verdict;
