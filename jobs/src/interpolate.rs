//! `${NAME}` and `${NAME:-default}` in job files. The YAML reader substitutes them inside
//! plain (unquoted) scalar values after parsing, never in the text before it, so a value
//! cannot add structure to the document; `$$` is a literal `$`. This module only finds
//! which variables a file names, so that their values can be looked up once.

use std::collections::HashMap;

/// The variables `text` references (`${NAME` anywhere, defaults included) that `lookup`
/// knows, with their values. Names `lookup` does not know are left out: a reference to one
/// without a default is then reported where it is used.
pub(crate) fn referenced_variables(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for (at, _) in text.match_indices("${") {
        let name = variable_name(&text[at + 2..]);
        if name.is_empty() || found.contains_key(name) {
            continue;
        }
        if let Some(value) = lookup(name) {
            found.insert(name.to_string(), value);
        }
    }
    found
}

/// The longest prefix of `text` that is a variable name (letters, digits and `_`, not
/// starting with a digit); empty if there is none.
fn variable_name(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..end];
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        ""
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "BROKERS" => Some("127.0.0.1:9092".into()),
            "TOPIC" => Some("bids".into()),
            _ => None,
        }
    }

    #[test]
    fn finds_the_known_variables_a_text_names() {
        let text = "a: ${BROKERS}\nb: ${MISSING:-${TOPIC}}\nc: $$HOME ${1X} ${} $5\n";
        let found = referenced_variables(text, env);
        assert_eq!(
            found,
            HashMap::from([
                ("BROKERS".to_string(), "127.0.0.1:9092".to_string()),
                ("TOPIC".to_string(), "bids".to_string()),
            ])
        );
    }
}
