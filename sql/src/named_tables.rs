//! The lake tables a statement names, so that a session looks up only those before
//! planning it instead of listing the whole lake (a lake of a hundred tables costs a
//! hundred folder look-ups, or listing requests on S3, per statement).

use datafusion::common::TableReference;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::resolve::resolve_table_references;

use crate::lake::DEFAULT_SCHEMA;
use crate::travel;

/// A table a statement names: its schema (`None` for a top-level table) and its name.
pub type TableName = (Option<String>, String);

/// The tables `statement` reads (after `FROM` and `JOIN`, and as the first argument of
/// the lake's table functions), or `None` when it needs the lake's whole listing: it
/// reads `information_schema` (`SHOW TABLES`...) or names a table of another catalog.
/// A statement reading no table names none.
pub fn named_tables(statement: &DFStatement) -> Option<Vec<TableName>> {
    let (relations, _) = resolve_table_references(statement, true).ok()?;
    let mut names = Vec::new();
    for relation in &relations {
        let (schema, table) = match relation {
            TableReference::Bare { table } => (None, table.as_ref()),
            TableReference::Partial { schema, table } => (Some(schema.as_ref()), table.as_ref()),
            TableReference::Full {
                catalog,
                schema,
                table,
            } if catalog.as_ref() == "datafusion" => (Some(schema.as_ref()), table.as_ref()),
            TableReference::Full { .. } => return None,
        };
        if schema == Some("information_schema") {
            return None;
        }
        if schema.is_none() && travel::is_lake_function(table) {
            continue;
        }
        names.push(table_name(schema, table));
    }
    for called in travel::called_tables(statement) {
        match called.split_once('.') {
            Some((schema, table)) => names.push(table_name(Some(schema), table)),
            None => names.push((None, called)),
        }
    }
    names.sort();
    names.dedup();
    Some(names)
}

fn table_name(schema: Option<&str>, table: &str) -> TableName {
    (
        schema.filter(|s| *s != DEFAULT_SCHEMA).map(str::to_string),
        table.to_string(),
    )
}
