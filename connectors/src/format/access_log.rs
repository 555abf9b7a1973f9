//! Web server access logs in the NCSA common and combined formats (Apache, nginx):
//!
//! `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`
//! (common), followed by ` "referer" "user agent"` (combined).
//!
//! `-` is null for ident, user, bytes, referer and user agent. The request must be
//! `METHOD PATH PROTOCOL`, or `-` (a connection closed before its request: method, path
//! and protocol null). In quoted fields `\"` and `\\` stand for `"` and `\`; other
//! escapes are kept as written. Nothing may follow the last field.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::columns::{shown, Value};
use super::text::{month, TextParser};
use crate::error::Result;

/// The `access_log` format's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogConfig {
    pub variant: AccessLogVariant,
}

/// Which fields a line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLogVariant {
    /// `host ident user [time] "request" status bytes`.
    Common,
    /// Common, then `"referer" "user agent"`.
    Combined,
}

/// `client_ip` (not null), `ident, user`, `timestamp` (ms, UTC, not null), `method, path,
/// protocol`, `status` (int32, not null), `bytes` (int64), and for combined `referer,
/// user_agent`.
pub fn access_log_schema(variant: AccessLogVariant) -> SchemaRef {
    let text = |name| Field::new(name, DataType::Utf8, true);
    let mut fields = vec![
        Field::new("client_ip", DataType::Utf8, false),
        text("ident"),
        text("user"),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        text("method"),
        text("path"),
        text("protocol"),
        Field::new("status", DataType::Int32, false),
        Field::new("bytes", DataType::Int64, true),
    ];
    if variant == AccessLogVariant::Combined {
        fields.extend([text("referer"), text("user_agent")]);
    }
    Arc::new(Schema::new(fields))
}

/// Decodes access log lines into rows of [`access_log_schema`].
pub struct AccessLogDecoder {
    schema: SchemaRef,
    variant: AccessLogVariant,
    max_record_bytes: usize,
}

impl AccessLogDecoder {
    /// Records longer than `max_record_bytes` are refused.
    pub fn new(config: &AccessLogConfig, max_record_bytes: usize) -> Self {
        Self {
            schema: access_log_schema(config.variant),
            variant: config.variant,
            max_record_bytes,
        }
    }
}

impl TextParser for AccessLogDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
        let (client_ip, rest) = word(text, "client_ip")?;
        let (ident, rest) = word(rest, "ident")?;
        let (user, rest) = word(rest, "user")?;
        let (stamp, rest) = rest
            .strip_prefix('[')
            .ok_or("timestamp does not start with '['")?
            .split_once(']')
            .ok_or("timestamp is not closed by ']' (truncated line?)")?;
        let timestamp = clf_millis(stamp).ok_or_else(|| {
            format!(
                "timestamp {} is not 'dd/Mon/yyyy:hh:mm:ss +zzzz'",
                shown(stamp)
            )
        })?;
        let rest = rest
            .strip_prefix(' ')
            .ok_or("no space after the timestamp")?;
        let (request, rest) = quoted(rest, "request")?;
        let rest = rest.strip_prefix(' ').ok_or("no space after the request")?;
        let (status, rest) = word(rest, "status")?;
        let status = status
            .parse::<i32>()
            .ok()
            .filter(|_| status.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("status {} is not a number", shown(status)))?;
        let (bytes, rest) = match self.variant {
            AccessLogVariant::Common => match rest.split_once(' ') {
                Some((_, extra)) => {
                    return Err(format!("unexpected text after bytes: {}", shown(extra)))
                }
                None => (rest, ""),
            },
            AccessLogVariant::Combined => word(rest, "bytes")?,
        };
        let bytes = match bytes {
            "-" => Value::Null,
            b => Value::Int64(
                b.parse::<i64>()
                    .ok()
                    .filter(|_| b.bytes().all(|c| c.is_ascii_digit()))
                    .ok_or_else(|| format!("bytes {} is not a number or '-'", shown(b)))?,
            ),
        };
        row.extend([
            Value::Text(Cow::Borrowed(client_ip)),
            dash(Cow::Borrowed(ident)),
            dash(Cow::Borrowed(user)),
            Value::Millis(timestamp),
        ]);
        row.extend(request_line(request)?);
        row.extend([Value::Int32(status), bytes]);
        if self.variant == AccessLogVariant::Combined {
            let (referer, rest) = quoted(rest, "referer")?;
            let rest = rest.strip_prefix(' ').ok_or("no space after the referer")?;
            let (user_agent, rest) = quoted(rest, "user_agent")?;
            if !rest.is_empty() {
                return Err(format!("unexpected text after user_agent: {}", shown(rest)));
            }
            row.extend([dash(referer), dash(user_agent)]);
        }
        Ok(())
    }
}

/// The field `name` up to the next space, and the text after that space.
fn word<'a>(rest: &'a str, name: &str) -> Result<(&'a str, &'a str), String> {
    match rest.split_once(' ') {
        Some(("", _)) => Err(format!("{name} is empty")),
        Some(split) => Ok(split),
        None => Err(format!("the line ends at {name} (truncated line?)")),
    }
}

/// A string column's value: null for `-`.
fn dash(value: Cow<'_, str>) -> Value<'_> {
    if value == "-" {
        Value::Null
    } else {
        Value::Text(value)
    }
}

/// The quoted field `name` at the start of `rest`, unescaped, and the text after it.
fn quoted<'a>(rest: &'a str, name: &str) -> Result<(Cow<'a, str>, &'a str), String> {
    if !rest.starts_with('"') {
        return Err(format!("{name} does not start with '\"'"));
    }
    let bytes = rest.as_bytes();
    let mut escaped = false;
    let mut i = 1;
    loop {
        match bytes.get(i) {
            None => return Err(format!("{name} is not closed by '\"' (truncated line?)")),
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(b'"') => break,
            Some(_) => i += 1,
        }
    }
    let inner = &rest[1..i];
    let value = if escaped {
        Cow::Owned(unescape(inner))
    } else {
        Cow::Borrowed(inner)
    };
    Ok((value, &rest[i + 1..]))
}

/// `\"` and `\\` as `"` and `\`; other backslashes kept.
fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\\')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `METHOD PATH PROTOCOL` into three values; `-` into three nulls.
fn request_line(request: Cow<'_, str>) -> Result<[Value<'_>; 3], String> {
    if request == "-" {
        return Ok([Value::Null, Value::Null, Value::Null]);
    }
    let parts = |r: &str| -> Option<(usize, usize)> {
        let (method, rest) = r.split_once(' ')?;
        let (path, protocol) = rest.split_once(' ')?;
        let valid = !method.is_empty()
            && method.bytes().all(|b| b.is_ascii_alphabetic())
            && !path.is_empty()
            && !protocol.is_empty()
            && !protocol.contains(' ');
        valid.then_some((method.len(), method.len() + 1 + path.len()))
    };
    let (a, b) = parts(&request)
        .ok_or_else(|| format!("request {} is not 'METHOD PATH PROTOCOL'", shown(&request)))?;
    Ok(match request {
        Cow::Borrowed(r) => [
            Value::Text(Cow::Borrowed(&r[..a])),
            Value::Text(Cow::Borrowed(&r[a + 1..b])),
            Value::Text(Cow::Borrowed(&r[b + 1..])),
        ],
        Cow::Owned(r) => [
            Value::Text(Cow::Owned(r[..a].to_owned())),
            Value::Text(Cow::Owned(r[a + 1..b].to_owned())),
            Value::Text(Cow::Owned(r[b + 1..].to_owned())),
        ],
    })
}

/// `10/Oct/2000:13:55:36 -0700` as epoch milliseconds.
fn clf_millis(stamp: &str) -> Option<i64> {
    let s = stamp.as_bytes();
    if s.len() != 26
        || s[2] != b'/'
        || s[6] != b'/'
        || s[11] != b':'
        || s[14] != b':'
        || s[17] != b':'
        || s[20] != b' '
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        s[from..to].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let month = month(&s[3..6])?;
    let local = NaiveDate::from_ymd_opt(num(7, 11)? as i32, month, num(0, 2)?)?.and_hms_opt(
        num(12, 14)?,
        num(15, 17)?,
        num(18, 20)?,
    )?;
    let offset = i64::from(num(22, 24)? * 60 + num(24, 26)?) * 60_000;
    let offset = match s[21] {
        b'+' => offset,
        b'-' => -offset,
        _ => return None,
    };
    Some(local.and_utc().timestamp_millis() - offset)
}
