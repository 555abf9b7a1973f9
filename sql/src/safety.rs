//! The read-only query surface: which statements run, which table names and table
//! functions a query may use. Everything is decided on the parsed statement, before any
//! planning, so a refused statement never touches the lake or the file system.
//!
//! Allowed: queries, `EXPLAIN` of an allowed statement, `SHOW ...`, `DESCRIBE table`, and
//! `SET` of the few settings in [`SETTABLE`], a numeric one only to a value in its range.
//! Everything else (DDL, DML, `COPY`, `CREATE EXTERNAL TABLE`, `RESET`, other `SET`s) is
//! refused with its kind named.
//! Table names are names in the lake's catalog: a name part holding a path separator,
//! `..`, a leading `/` or a URL scheme is refused, and only the table functions in
//! [`TABLE_FUNCTIONS`] may be called (none of them reads a path).

use std::ops::{ControlFlow, RangeInclusive};

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, ObjectName, Set, Statement, TableFactor, TableVersion, Value, Visit, Visitor,
};

use crate::error::{Result, SqlError};

/// A setting a session may change with `SET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settable {
    pub name: &'static str,
    /// The whole numbers a numeric setting may be set to; `None` for a setting whose
    /// values (booleans, names) DataFusion checks itself.
    pub range: Option<RangeInclusive<u64>>,
}

const fn any_value(name: &'static str) -> Settable {
    Settable { name, range: None }
}

const fn in_range(name: &'static str, range: RangeInclusive<u64>) -> Settable {
    Settable {
        name,
        range: Some(range),
    }
}

/// Every setting a session may change with `SET`. A numeric setting has a range that
/// keeps a statement from asking for absurd allocations (a batch of 10^11 rows aborts
/// the process before any memory limit is asked).
pub const SETTABLE: &[Settable] = &[
    any_value("datafusion.execution.time_zone"),
    in_range("datafusion.execution.batch_size", 1..=1 << 20),
    any_value("datafusion.explain.logical_plan_only"),
    any_value("datafusion.explain.physical_plan_only"),
    any_value("datafusion.explain.show_statistics"),
    any_value("datafusion.explain.show_sizes"),
    any_value("datafusion.explain.show_schema"),
    any_value("datafusion.explain.format"),
    in_range("datafusion.explain.tree_maximum_render_width", 20..=10_000),
    any_value("datafusion.explain.analyze_level"),
    any_value("datafusion.explain.analyze_categories"),
    any_value("weir.group_by_string_ids"),
    any_value("weir.group_by_integer_indices"),
    any_value("weir.cheap_conjuncts_first"),
    any_value("weir.semi_joins_first"),
    any_value("weir.join_order"),
    any_value("weir.joined_groups_only"),
    any_value("weir.averages_from_sums"),
    any_value("weir.scaled_decimal_literals"),
    any_value("weir.direct_scan"),
    any_value("weir.merged_ranges"),
    any_value("weir.aggregate_before_join"),
    any_value("weir.shared_aggregates"),
    any_value("weir.view_equality"),
];

/// The table functions a query may call: the lake's own and DataFusion's generators.
pub const TABLE_FUNCTIONS: &[&str] = &[
    "table_version",
    "table_timestamp",
    "table_history",
    "table_details",
    "table_quality",
    "generate_series",
    "range",
];

const READ_ONLY: &str = "the query surface is read-only";

/// Refuses any statement the read-only surface does not run.
pub fn check(statement: &DFStatement) -> Result<()> {
    match statement {
        DFStatement::Statement(inner) => check_sql(inner),
        DFStatement::Explain(explain) => check(&explain.statement),
        DFStatement::CreateExternalTable(_) => Err(refused(
            "CREATE EXTERNAL TABLE",
            &format!("{READ_ONLY}; every Delta table of the lake is already in the catalog"),
        )),
        DFStatement::CopyTo(_) => Err(refused("COPY", READ_ONLY)),
        DFStatement::Reset(_) => Err(refused(
            "RESET",
            "settings are changed only with SET of the allowed few",
        )),
    }
}

fn check_sql(statement: &Statement) -> Result<()> {
    match statement {
        Statement::Query(_) => check_relations(statement),
        Statement::Explain { statement, .. } => check_sql(statement),
        Statement::ExplainTable { table_name, .. } => check_name(table_name),
        Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowSchemas { .. } => check_relations(statement),
        Statement::Set(set) => check_set(set),
        other => Err(refused(&kind(other), READ_ONLY)),
    }
}

fn check_set(set: &Set) -> Result<()> {
    let Set::SingleAssignment {
        variable, values, ..
    } = set
    else {
        return Err(refused(
            "this SET",
            "only SET name = value of a few settings",
        ));
    };
    let name = variable.to_string().to_ascii_lowercase();
    let Some(setting) = SETTABLE.iter().find(|s| s.name == name) else {
        let names: Vec<&str> = SETTABLE.iter().map(|s| s.name).collect();
        return Err(refused(
            &format!("SET {name}"),
            &format!("a session may only set {}", names.join(", ")),
        ));
    };
    let Some(range) = &setting.range else {
        return Ok(());
    };
    let shown: Vec<String> = values.iter().map(ToString::to_string).collect();
    let number = match values.as_slice() {
        [Expr::Value(value)] => match &value.value {
            Value::Number(text, _) | Value::SingleQuotedString(text) => {
                text.trim().parse::<u64>().ok()
            }
            _ => None,
        },
        _ => None,
    };
    match number {
        Some(n) if range.contains(&n) => Ok(()),
        _ => Err(SqlError::SettingOutOfRange {
            name,
            value: shown.join(", "),
            allowed: format!("a whole number from {} to {}", range.start(), range.end()),
        }),
    }
}

/// Checks every table name and table function call in the statement.
fn check_relations(statement: &Statement) -> Result<()> {
    struct Check(Option<SqlError>);
    impl Visitor for Check {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
            let outcome = match factor {
                TableFactor::Table {
                    version: Some(version),
                    ..
                } if !matches!(
                    version,
                    TableVersion::VersionAsOf(_) | TableVersion::TimestampAsOf(_)
                ) =>
                {
                    Err(refused(
                        &format!("{version}"),
                        "time travel is `t VERSION AS OF 3` or `t TIMESTAMP AS OF '2026-01-01 00:00:00'`",
                    ))
                }
                TableFactor::Table {
                    name,
                    args: Some(_),
                    ..
                } => check_function(name),
                TableFactor::Table { name, .. } => check_name(name),
                TableFactor::TableFunction { .. } | TableFactor::Function { .. } => Err(refused(
                    "TABLE(...)",
                    "call a table function as FROM name(args)",
                )),
                _ => Ok(()),
            };
            match outcome {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    self.0 = Some(e);
                    ControlFlow::Break(())
                }
            }
        }
    }
    let mut check = Check(None);
    let _ = statement.visit(&mut check);
    check.0.map_or(Ok(()), Err)
}

fn check_function(name: &ObjectName) -> Result<()> {
    let called = name.to_string().to_ascii_lowercase();
    if TABLE_FUNCTIONS.contains(&called.as_str()) {
        Ok(())
    } else {
        Err(refused(
            &format!("table function {called}"),
            &format!(
                "only the lake's table functions can be called ({})",
                TABLE_FUNCTIONS.join(", ")
            ),
        ))
    }
}

fn check_name(name: &ObjectName) -> Result<()> {
    for part in &name.0 {
        let text = match part.as_ident() {
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        };
        check_table_name(&text)?;
    }
    Ok(())
}

/// Refuses a table name (or one part of a qualified name) that could name something
/// outside the lake: a path, `..`, or a URL.
pub fn check_table_name(name: &str) -> Result<()> {
    let reason = if name.contains("://") || name.contains(':') {
        Some("URLs and other schemes cannot be queried; tables are named by their folder in the lake")
    } else if name.starts_with('/') || name.starts_with('\\') {
        Some("absolute paths cannot be queried; tables are named by their folder in the lake")
    } else if name.split(['/', '\\']).any(|p| p == "..") || name == "." {
        Some("'..' would leave the lake root")
    } else if name.contains('/') || name.contains('\\') {
        Some("paths cannot be queried; a nested table is named schema.table")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SqlError::TableName {
            name: name.to_string(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

fn refused(kind: &str, reason: &str) -> SqlError {
    SqlError::Refused {
        kind: kind.to_string(),
        reason: reason.to_string(),
    }
}

/// The statement's kind as its leading keywords: `INSERT`, `CREATE TABLE`, `DROP`...
fn kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = words
        .first()
        .map_or("statement", |w| w)
        .to_ascii_uppercase();
    let take = match first.as_str() {
        "CREATE" | "ALTER" | "DROP" => {
            // CREATE [OR REPLACE] [TEMPORARY|EXTERNAL|UNIQUE] TABLE|VIEW|...
            let mut n = 2;
            for w in words.iter().skip(1) {
                let w = w.to_ascii_uppercase();
                if matches!(
                    w.as_str(),
                    "OR" | "REPLACE"
                        | "TEMPORARY"
                        | "TEMP"
                        | "EXTERNAL"
                        | "UNIQUE"
                        | "IF"
                        | "NOT"
                        | "EXISTS"
                        | "MATERIALIZED"
                ) {
                    n += 1;
                } else {
                    break;
                }
            }
            n
        }
        _ => 1,
    };
    words
        .iter()
        .take(take)
        .map(|w| w.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn verdict(sql: &str) -> String {
        let mut statements = DFParser::parse_sql(sql).unwrap();
        assert_eq!(statements.len(), 1, "{sql}");
        match check(&statements.pop_front().unwrap()) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn queries_and_introspection_are_allowed() {
        for sql in [
            "SELECT 1",
            "SELECT * FROM bids WHERE price > 3",
            "WITH x AS (SELECT * FROM logs.access) SELECT count(*) FROM x",
            "EXPLAIN SELECT * FROM bids",
            "EXPLAIN ANALYZE SELECT * FROM bids",
            "SHOW TABLES",
            "SHOW COLUMNS FROM bids",
            "DESCRIBE bids",
            "SELECT * FROM table_version('bids', 3)",
            "SELECT * FROM table_history('logs.access')",
            "SELECT * FROM generate_series(1, 3)",
            "SET datafusion.execution.time_zone = 'UTC'",
            "SET datafusion.explain.format = 'tree'",
            "SET datafusion.execution.batch_size = 1",
            "SET datafusion.execution.batch_size = 1048576",
            "SET datafusion.execution.batch_size TO '8192'",
            "SET datafusion.explain.tree_maximum_render_width = 240",
            "SET weir.group_by_string_ids = false",
        ] {
            assert_eq!(verdict(sql), "ok", "{sql}");
        }
    }

    #[test]
    fn writes_and_ddl_are_refused_by_kind() {
        let cases = [
            ("INSERT INTO bids VALUES (1)", "INSERT is not allowed"),
            ("UPDATE bids SET price = 0", "UPDATE is not allowed"),
            ("DELETE FROM bids", "DELETE is not allowed"),
            (
                "MERGE INTO bids USING x ON bids.a = x.a WHEN MATCHED THEN DELETE",
                "MERGE is not allowed",
            ),
            ("CREATE TABLE t (a INT)", "CREATE TABLE is not allowed"),
            ("CREATE TABLE t AS SELECT 1", "CREATE TABLE is not allowed"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW is not allowed"),
            (
                "CREATE OR REPLACE VIEW v AS SELECT 1",
                "CREATE OR REPLACE VIEW is not allowed",
            ),
            ("DROP TABLE bids", "DROP TABLE is not allowed"),
            (
                "ALTER TABLE bids ADD COLUMN b INT",
                "ALTER TABLE is not allowed",
            ),
            ("TRUNCATE TABLE bids", "TRUNCATE is not allowed"),
            (
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
                "CREATE EXTERNAL TABLE is not allowed",
            ),
            ("COPY bids TO '/tmp/out.parquet'", "COPY is not allowed"),
            (
                "EXPLAIN INSERT INTO bids VALUES (1)",
                "INSERT is not allowed",
            ),
            (
                "SET datafusion.runtime.memory_limit = '100G'",
                "SET datafusion.runtime.memory_limit is not allowed",
            ),
            (
                "SET datafusion.catalog.information_schema = false",
                "SET datafusion.catalog.information_schema is not allowed",
            ),
            (
                "SET datafusion.execution.target_partitions = 1000000",
                "SET datafusion.execution.target_partitions is not allowed",
            ),
            (
                "SET datafusion.format.null = 'x'",
                "SET datafusion.format.null is not allowed",
            ),
            (
                "SELECT * FROM read_parquet('/etc/passwd')",
                "table function read_parquet is not allowed",
            ),
        ];
        for (sql, expected) in cases {
            let got = verdict(sql);
            assert!(got.starts_with(expected), "{sql}: {got}");
        }
    }

    #[test]
    fn numeric_settings_stay_in_their_range() {
        let cases = [
            (
                "SET datafusion.execution.batch_size = 99999999999",
                "SET datafusion.execution.batch_size = 99999999999: datafusion.execution.batch_size must be a whole number from 1 to 1048576",
            ),
            (
                "SET datafusion.execution.batch_size = 0",
                "SET datafusion.execution.batch_size = 0: datafusion.execution.batch_size must be a whole number from 1 to 1048576",
            ),
            (
                "SET datafusion.execution.batch_size = -1",
                "SET datafusion.execution.batch_size = -1: datafusion.execution.batch_size must be a whole number from 1 to 1048576",
            ),
            (
                "SET datafusion.execution.batch_size = 'lots'",
                "SET datafusion.execution.batch_size = 'lots': datafusion.execution.batch_size must be a whole number from 1 to 1048576",
            ),
            (
                "SET datafusion.explain.tree_maximum_render_width = 99999999999",
                "SET datafusion.explain.tree_maximum_render_width = 99999999999: datafusion.explain.tree_maximum_render_width must be a whole number from 20 to 10000",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(verdict(sql), expected, "{sql}");
        }
    }

    /// Every settable name is a setting of a lake session (no name the session would not
    /// know), and every weir setting is settable.
    #[test]
    fn settable_names_are_the_sessions_settings() {
        use crate::options::WeirOptions;
        use datafusion::common::config::{ConfigExtension, ConfigOptions, ExtensionOptions};
        let weir: Vec<String> = WeirOptions::default()
            .entries()
            .into_iter()
            .map(|e| format!("{}.{}", WeirOptions::PREFIX, e.key))
            .collect();
        let mut known: Vec<String> = ConfigOptions::new()
            .entries()
            .into_iter()
            .map(|e| e.key)
            .collect();
        known.extend(weir.iter().cloned());
        for setting in SETTABLE {
            assert!(known.iter().any(|k| k == setting.name), "{}", setting.name);
        }
        assert!(!weir.is_empty());
        for name in &weir {
            assert!(SETTABLE.iter().any(|s| s.name == name), "{name}");
        }
    }

    #[test]
    fn table_names_cannot_leave_the_lake() {
        let cases = [
            (
                "SELECT * FROM '/etc/passwd'",
                "table name '/etc/passwd' is not allowed: absolute paths",
            ),
            (
                "SELECT * FROM \"../other/t\"",
                "table name '../other/t' is not allowed: '..'",
            ),
            (
                "SELECT * FROM \"..\".bids",
                "table name '..' is not allowed: '..'",
            ),
            (
                "SELECT * FROM 'logs/access'",
                "table name 'logs/access' is not allowed: paths",
            ),
            (
                "SELECT * FROM 's3://bucket/t'",
                "table name 's3://bucket/t' is not allowed: URLs",
            ),
            (
                "SELECT * FROM bids JOIN 'file:///etc/x' USING (a)",
                "table name 'file:///etc/x' is not allowed: URLs",
            ),
            (
                "SELECT * FROM (SELECT * FROM \"/abs\") s",
                "table name '/abs' is not allowed: absolute paths",
            ),
            ("DESCRIBE \"../t\"", "table name '../t' is not allowed"),
        ];
        for (sql, expected) in cases {
            let got = verdict(sql);
            assert!(got.starts_with(expected), "{sql}: {got}");
        }
    }
}
