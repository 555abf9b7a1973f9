//! Parsing `order_by` entries: `column [ASC|DESC] [NULLS FIRST|NULLS LAST]`.

use arrow::compute::SortOptions;

/// One sort key: a column name and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortKey {
    pub column: String,
    pub options: SortOptions,
}

/// Parses `hits DESC`, `path`, `latency ASC NULLS FIRST`. Keywords are case-insensitive;
/// the column is the text before them, as written. As in SQL, `ASC` is the default, and
/// nulls come last in ascending and first in descending order unless `NULLS` says otherwise.
pub(crate) fn parse_sort_key(entry: &str) -> Result<SortKey, String> {
    let mut words: Vec<&str> = entry.split_whitespace().collect();
    let keyword = |words: &[&str], from_end: usize, word: &str| {
        words.len() > from_end && words[words.len() - 1 - from_end].eq_ignore_ascii_case(word)
    };
    let mut nulls_first = None;
    if keyword(&words, 1, "NULLS") {
        if keyword(&words, 0, "FIRST") {
            nulls_first = Some(true);
        } else if keyword(&words, 0, "LAST") {
            nulls_first = Some(false);
        } else {
            return Err(format!(
                "order_by entry '{entry}': NULLS must be followed by FIRST or LAST"
            ));
        }
        words.truncate(words.len() - 2);
    }
    let mut descending = false;
    if keyword(&words, 0, "DESC") {
        descending = true;
        words.pop();
    } else if keyword(&words, 0, "ASC") {
        words.pop();
    }
    if words.is_empty() {
        return Err(format!(
            "order_by entry '{entry}' names no column; write 'column [ASC|DESC] [NULLS FIRST|NULLS LAST]'"
        ));
    }
    Ok(SortKey {
        column: words.join(" "),
        options: SortOptions {
            descending,
            nulls_first: nulls_first.unwrap_or(descending),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(column: &str, descending: bool, nulls_first: bool) -> SortKey {
        SortKey {
            column: column.into(),
            options: SortOptions {
                descending,
                nulls_first,
            },
        }
    }

    #[test]
    fn sort_keys_follow_sql_defaults() {
        assert_eq!(parse_sort_key("hits DESC"), Ok(key("hits", true, true)));
        assert_eq!(parse_sort_key("path"), Ok(key("path", false, false)));
        assert_eq!(parse_sort_key(" path  asc "), Ok(key("path", false, false)));
        assert_eq!(
            parse_sort_key("p99 desc nulls last"),
            Ok(key("p99", true, false))
        );
        assert_eq!(
            parse_sort_key("p99 NULLS FIRST"),
            Ok(key("p99", false, true))
        );
        assert!(parse_sort_key("DESC")
            .unwrap_err()
            .contains("names no column"));
        assert!(parse_sort_key("a NULLS MIDDLE")
            .unwrap_err()
            .contains("FIRST or LAST"));
    }
}
