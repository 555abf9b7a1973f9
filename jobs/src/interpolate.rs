//! `${NAME}` and `${NAME:-default}` in job files, replaced by environment variables before
//! the YAML is parsed (as Vector and docker compose do); `$$` is a literal `$`.

use crate::error::{JobError, Result};

/// Replaces every `${NAME}` / `${NAME:-default}` in `text` with the value `lookup` gives;
/// a variable that is not set and has no default is an error naming it and its line.
pub fn interpolate(
    text: &str,
    file: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(body) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let line = text[..text.len() - tail.len()].matches('\n').count() + 1;
        let error = |message: String| JobError::Definition {
            location: format!("{file}:{line}"),
            message,
        };
        let end = body
            .find('}')
            .ok_or_else(|| error("`${` without a closing `}`".into()))?;
        let expression = &body[..end];
        let (name, default) = match expression.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (expression, None),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(error(format!(
                "`${{{expression}}}` is not a variable reference (letters, digits and _ only)"
            )));
        }
        match (lookup(name), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(error(format!(
                    "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                )))
            }
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "BROKERS").then(|| "127.0.0.1:9092".to_string())
    }

    #[test]
    fn replaces_variables_defaults_and_escapes() {
        let text = "a: ${BROKERS}\nb: ${MISSING:-x y}\nc: $$HOME and $5\n";
        assert_eq!(
            interpolate(text, "job.yaml", env).unwrap(),
            "a: 127.0.0.1:9092\nb: x y\nc: $HOME and $5\n"
        );
    }

    #[test]
    fn a_missing_variable_names_itself_and_its_line() {
        let e = interpolate("a: 1\nb: ${NOPE}\n", "job.yaml", env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "job.yaml:2: environment variable NOPE is not set (write ${NOPE:-default} to give a default)"
        );
        let e = interpolate("a: ${BROKERS", "job.yaml", env).unwrap_err();
        assert_eq!(e.to_string(), "job.yaml:1: `${` without a closing `}`");
        let e = interpolate("a: ${A B}", "job.yaml", env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "job.yaml:1: `${A B}` is not a variable reference (letters, digits and _ only)"
        );
    }
}
