//! How deeply a JSON record nests, found by one scan of its bytes before it is parsed, so
//! that no record can make a recursive step of the parser (or of its error messages)
//! exhaust the stack.

/// The deepest nesting of arrays and objects a record may have; the record's own object
/// is level 1.
pub const MAX_DEPTH: usize = 128;

/// The nesting of one record's arrays and objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// Every bracket opened is closed, none more, and no string is left open.
    Balanced,
    /// Brackets or a string left open, or a bracket closed that was not opened: the
    /// record is not one complete value (the parser says why).
    Unbalanced,
    /// Level `MAX_DEPTH + 1` opens at this byte.
    TooDeep(usize),
}

/// Scans `record`: brackets inside strings do not count.
pub fn nesting(record: &[u8]) -> Nesting {
    let mut depth = 0usize;
    let mut balanced = true;
    let mut in_string = false;
    let mut escaped = false;
    for (at, &byte) in record.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Nesting::TooDeep(at);
                }
            }
            b'}' | b']' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => balanced = false,
            },
            _ => {}
        }
    }
    if balanced && depth == 0 && !in_string {
        Nesting::Balanced
    } else {
        Nesting::Unbalanced
    }
}

/// Why a record nesting too deeply is refused.
pub fn too_deep(at: usize) -> String {
    format!("nested deeper than {MAX_DEPTH} levels at byte {at}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_do_not_count() {
        assert_eq!(nesting(br#"{"a":[1,{"b":"[[{\"}"}]}"#), Nesting::Balanced);
        assert_eq!(nesting(br#"{"a":"\\"}"#), Nesting::Balanced);
        assert_eq!(nesting(br#"{"a":"}"#), Nesting::Unbalanced);
        assert_eq!(nesting(b"{}}{"), Nesting::Unbalanced);
        assert_eq!(nesting(b"[[1]"), Nesting::Unbalanced);
    }

    #[test]
    fn level_129_is_too_deep() {
        let deepest = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(nesting(deepest.as_bytes()), Nesting::Balanced);
        let deeper = format!(r#"{{"a": {}"#, "[".repeat(200));
        assert_eq!(nesting(deeper.as_bytes()), Nesting::TooDeep(6 + 127));
    }
}
