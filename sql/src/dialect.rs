//! The lake's SQL dialect: sqlparser's generic dialect (DataFusion's default) that also
//! parses Delta/Databricks time travel after a table name, `t VERSION AS OF 3` and
//! `t TIMESTAMP AS OF '2026-01-01 00:00:00'`. The parser treats it as the generic dialect
//! everywhere else ([`Dialect::dialect`] answers the generic dialect's type).

use std::any::TypeId;

use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect};

/// [`GenericDialect`] plus table versioning.
#[derive(Debug, Default, Clone, Copy)]
pub struct LakeDialect;

/// Forwards each listed `fn(&self) -> bool` to the generic dialect: the ones
/// `GenericDialect` overrides in sqlparser 0.62 (the rest keep the trait's defaults, as
/// they do for the generic dialect).
macro_rules! generic {
    ($($name:ident),* $(,)?) => {
        $(fn $name(&self) -> bool {
            GenericDialect.$name()
        })*
    };
}

impl Dialect for LakeDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<GenericDialect>()
    }

    fn supports_table_versioning(&self) -> bool {
        true
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_delimited_identifier_start(ch)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        GenericDialect.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        GenericDialect.is_identifier_part(ch)
    }

    generic! {
        supports_unicode_string_literal,
        supports_partition_by_after_order_by,
        supports_array_join_syntax,
        supports_group_by_expr,
        supports_group_by_with_modifier,
        supports_left_associative_joins_without_parens,
        supports_connect_by,
        supports_match_recognize,
        supports_pipe_operator,
        supports_start_transaction_modifier,
        supports_window_function_null_treatment_arg,
        supports_dictionary_syntax,
        supports_window_clause_named_window_reference,
        supports_parenthesized_set_variables,
        supports_select_wildcard_except,
        support_map_literal_syntax,
        allow_extract_custom,
        allow_extract_single_quotes,
        supports_extract_comma_syntax,
        supports_create_view_comment_syntax,
        supports_parens_around_table_factor,
        supports_values_as_table_factor,
        supports_create_index_with_clause,
        supports_explain_with_utility_options,
        supports_limit_comma,
        supports_update_order_by,
        supports_from_first_select,
        supports_projection_trailing_commas,
        supports_asc_desc_in_column_definition,
        supports_try_convert,
        supports_bitwise_shift_operators,
        supports_comment_on,
        supports_load_extension,
        supports_named_fn_args_with_assignment_operator,
        supports_struct_literal,
        supports_empty_projections,
        supports_nested_comments,
        supports_multiline_comment_hints,
        supports_user_host_grantee,
        supports_string_escape_constant,
        supports_array_typedef_with_brackets,
        supports_match_against,
        supports_set_names,
        supports_comma_separated_set_assignments,
        supports_filter_during_aggregation,
        supports_select_wildcard_exclude,
        supports_data_type_signed_suffix,
        supports_interval_options,
        supports_quote_delimited_string,
        supports_select_wildcard_replace,
        supports_select_wildcard_ilike,
        supports_select_wildcard_rename,
        supports_optimize_table,
        supports_install,
        supports_detach,
        supports_prewhere,
        supports_with_fill,
        supports_limit_by,
        supports_interpolate,
        supports_settings,
        supports_select_format,
        supports_comment_optimizer_hint,
        supports_constraint_keyword_without_name,
        supports_key_column_option,
        supports_comma_separated_trim,
        supports_cte_without_as,
        supports_select_item_multi_column_alias,
        supports_xml_expressions,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParserBuilder;

    use super::*;

    fn parse(sql: &str, dialect: &dyn Dialect) -> String {
        match DFParserBuilder::new(sql).with_dialect(dialect).build() {
            Ok(mut parser) => match parser.parse_statements() {
                Ok(statements) => format!("{statements:?}"),
                Err(e) => format!("error: {e}"),
            },
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn parses_like_the_generic_dialect() {
        for sql in [
            "SELECT a, \"B\", count(*) FILTER (WHERE c > 1) FROM t GROUP BY ALL",
            "SELECT * EXCLUDE (a) FROM t AS x(a, b) WHERE a::int IN (1, 2) LIMIT 3",
            "SELECT {'a': 1}, [1, 2][1], x -> 'k', 1 << 2 FROM s.t ORDER BY 1 NULLS LAST",
            "SELECT * FROM generate_series(1, 3) JOIN t USING (value)",
            "EXPLAIN ANALYZE SELECT 1; SHOW TABLES; DESCRIBE t; SET x.y = 3",
            "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp'",
            "COPY t TO '/tmp/x'",
            "SELECT * FROM t WHERE",
        ] {
            assert_eq!(
                parse(sql, &LakeDialect),
                parse(sql, &GenericDialect),
                "{sql}"
            );
        }
    }

    #[test]
    fn parses_time_travel_after_a_table_name() {
        let parsed = parse(
            "SELECT * FROM t VERSION AS OF 3 JOIN s.u TIMESTAMP AS OF '2026-01-01' x USING (a)",
            &LakeDialect,
        );
        assert!(parsed.contains("VersionAsOf"), "{parsed}");
        assert!(parsed.contains("TimestampAsOf"), "{parsed}");
        let generic = parse("SELECT * FROM t VERSION AS OF 3", &GenericDialect);
        assert!(generic.starts_with("error"), "{generic}");
    }
}
