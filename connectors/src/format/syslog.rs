//! Syslog lines, RFC 5424 and RFC 3164 (BSD), into a fixed schema.
//!
//! RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`, the
//! NILVALUE `-` being null; `structured_data` keeps the SD elements as written. RFC 3164:
//! `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`; its timestamp has no year and no zone:
//! it is read as UTC in the configured `year`, or else in the current year (the previous
//! one if that puts it more than a day in the future, for December lines read in
//! January). An RFC 3339 timestamp in its place is accepted too. A missing timestamp,
//! hostname or tag leaves those columns null and the text is the message.
//!
//! Syslog daemons write RFC 3164 lines to files (`/var/log/syslog`, `auth.log`,
//! `messages`) without the `<PRI>`: such a line must start with its timestamp, and its
//! `priority`, `facility` and `severity` are null. Runs of spaces between the header
//! fields and before the message (`Jun  4`, `sudo:    alice : ...`) count as one.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::columns::{shown, Value};
use super::text::{month, TextParser};
use crate::error::Result;

/// The `syslog` format's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// Which RFC the lines follow (default `auto`).
    #[serde(default)]
    pub rfc: SyslogRfc,
    /// The year of RFC 3164 timestamps (default: the current year, see the module docs).
    #[serde(default)]
    pub year: Option<i32>,
}

/// `5424`, `3164` or `auto`: a line whose `<PRI>` is followed by the version `1 ` is RFC
/// 5424 (and refused if it is not valid RFC 5424), any other RFC 3164.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum SyslogRfc {
    #[serde(rename = "5424")]
    Rfc5424,
    #[serde(rename = "3164")]
    Rfc3164,
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

impl<'de> Deserialize<'de> for SyslogRfc {
    /// Accepts `5424` and `3164` as numbers or strings (YAML reads `rfc: 5424` as a number).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(5424) => Ok(SyslogRfc::Rfc5424),
            Written::Number(3164) => Ok(SyslogRfc::Rfc3164),
            Written::Text(t) if t == "5424" => Ok(SyslogRfc::Rfc5424),
            Written::Text(t) if t == "3164" => Ok(SyslogRfc::Rfc3164),
            Written::Text(t) if t == "auto" => Ok(SyslogRfc::Auto),
            Written::Number(n) => Err(serde::de::Error::custom(format!(
                "unknown syslog rfc {n}, expected 5424, 3164 or auto"
            ))),
            Written::Text(t) => Err(serde::de::Error::custom(format!(
                "unknown syslog rfc '{t}', expected 5424, 3164 or auto"
            ))),
        }
    }
}

/// `priority, facility, severity` (int32, null for a line without `<PRI>`), `timestamp`
/// (ms, UTC), `hostname, app_name, proc_id, msg_id, structured_data, message` (strings);
/// all nullable.
pub fn syslog_schema() -> SchemaRef {
    let text = |name| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("priority", DataType::Int32, true),
        Field::new("facility", DataType::Int32, true),
        Field::new("severity", DataType::Int32, true),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        text("hostname"),
        text("app_name"),
        text("proc_id"),
        text("msg_id"),
        text("structured_data"),
        text("message"),
    ]))
}

/// Decodes syslog lines into rows of [`syslog_schema`].
pub struct SyslogDecoder {
    schema: SchemaRef,
    config: SyslogConfig,
    max_record_bytes: usize,
}

impl SyslogDecoder {
    /// Records longer than `max_record_bytes` are refused.
    pub fn new(config: &SyslogConfig, max_record_bytes: usize) -> Self {
        Self {
            schema: syslog_schema(),
            config: config.clone(),
            max_record_bytes,
        }
    }
}

impl TextParser for SyslogDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
        let (priority, rest) = pri(text)?;
        row.extend(match priority {
            Some(p) => [Value::Int32(p), Value::Int32(p / 8), Value::Int32(p % 8)],
            None => [Value::Null, Value::Null, Value::Null],
        });
        let year = self.config.year;
        match (self.config.rfc, priority) {
            (SyslogRfc::Rfc5424, None) => {
                Err("no <PRI> at the start of the line (RFC 5424 requires one)".into())
            }
            (SyslogRfc::Rfc5424, Some(_)) => rfc5424(rest, row),
            (SyslogRfc::Auto, Some(_)) if rest.starts_with("1 ") => rfc5424(rest, row),
            (_, Some(_)) => rfc3164(rest, year, row),
            (_, None) => rfc3164_file_line(rest, year, row),
        }
    }
}

/// `<PRI>` at the start, if the line starts with `<`: its value (0 to 191) and the text
/// after it.
fn pri(text: &str) -> Result<(Option<i32>, &str), String> {
    let Some(rest) = text.strip_prefix('<') else {
        return Ok((None, text));
    };
    let close = rest
        .bytes()
        .take(4)
        .position(|b| b == b'>')
        .ok_or("<PRI> is not 1 to 3 digits closed by '>'")?;
    let digits = &rest[..close];
    match digits.parse::<i32>() {
        Ok(p) if (0..=191).contains(&p) && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((Some(p), &rest[close + 1..]))
        }
        _ => Err(format!("PRI '{digits}' is not a number from 0 to 191")),
    }
}

/// A string column's value: null for the NILVALUE `-`.
fn nil(token: &str) -> Value<'_> {
    match token {
        "-" => Value::Null,
        t => Value::Text(Cow::Borrowed(t)),
    }
}

fn text(value: Option<&str>) -> Value<'_> {
    value.map_or(Value::Null, |t| Value::Text(Cow::Borrowed(t)))
}

/// The header field `name` up to the next space, and the text after that space.
fn header<'a>(rest: &'a str, name: &str) -> Result<(&'a str, &'a str), String> {
    match rest.split_once(' ') {
        Some(("", _)) => Err(format!("{name} is empty")),
        Some(split) => Ok(split),
        None => Err(format!("the line ends at {name} (truncated line?)")),
    }
}

/// An RFC 5424 line after its `<PRI>`.
fn rfc5424<'a>(rest: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
    let rest = rest
        .strip_prefix("1 ")
        .ok_or("no VERSION 1 after <PRI> (not RFC 5424)")?;
    let (timestamp, rest) = header(rest, "TIMESTAMP")?;
    let (hostname, rest) = header(rest, "HOSTNAME")?;
    let (app_name, rest) = header(rest, "APP-NAME")?;
    let (proc_id, rest) = header(rest, "PROCID")?;
    let (msg_id, rest) = header(rest, "MSGID")?;
    let (structured_data, rest) = structured_data(rest)?;
    let message = match rest.strip_prefix(' ') {
        Some(m) => Some(m.strip_prefix('\u{feff}').unwrap_or(m)),
        None if rest.is_empty() => None,
        None => return Err("no space between STRUCTURED-DATA and MSG".into()),
    };
    let timestamp = match timestamp {
        "-" => Value::Null,
        t => Value::Millis(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| format!("TIMESTAMP {} is not an RFC 3339 date-time", shown(t)))?
                .timestamp_millis(),
        ),
    };
    row.extend([
        timestamp,
        nil(hostname),
        nil(app_name),
        nil(proc_id),
        nil(msg_id),
        text(structured_data),
        text(message),
    ]);
    Ok(())
}

/// STRUCTURED-DATA: `None` for `-`, else the SD elements as written, and the rest.
fn structured_data(rest: &str) -> Result<(Option<&str>, &str), String> {
    if let Some(after) = rest.strip_prefix('-') {
        return Ok((None, after));
    }
    if !rest.starts_with('[') {
        return Err("STRUCTURED-DATA is neither '-' nor '[...]'".into());
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    while bytes.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match bytes.get(i) {
                None => return Err("STRUCTURED-DATA is not closed by ']' (truncated line?)".into()),
                Some(b'\\') if quoted => i += 2,
                Some(b'"') => {
                    quoted = !quoted;
                    i += 1;
                }
                Some(b']') if !quoted => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
    Ok((Some(&rest[..i]), &rest[i..]))
}

/// An RFC 3164 line as written to a file, without `<PRI>`: it must start with a
/// timestamp.
fn rfc3164_file_line<'a>(
    line: &'a str,
    year: Option<i32>,
    row: &mut Vec<Value<'a>>,
) -> Result<(), String> {
    match timestamp3164(line, year)? {
        Some(stamped) => after_timestamp(stamped, row),
        None => Err(
            "no <PRI> and no TIMESTAMP ('Mmm dd hh:mm:ss' or RFC 3339) at the start of the line"
                .into(),
        ),
    }
}

/// An RFC 3164 line after its `<PRI>`.
fn rfc3164<'a>(rest: &'a str, year: Option<i32>, row: &mut Vec<Value<'a>>) -> Result<(), String> {
    if rest.trim_ascii().is_empty() {
        return Err("nothing after <PRI> (truncated line?)".into());
    }
    match timestamp3164(rest, year)? {
        Some(stamped) => after_timestamp(stamped, row),
        None => {
            row.extend([Value::Null, Value::Null]);
            content(rest, row);
            Ok(())
        }
    }
}

/// The rest of an RFC 3164 line after its timestamp (`millis`): `HOSTNAME TAG[PID]: MSG`,
/// the hostname left out when the first word is the tag.
fn after_timestamp<'a>(
    (millis, after): (i64, &'a str),
    row: &mut Vec<Value<'a>>,
) -> Result<(), String> {
    let after = after
        .strip_prefix(' ')
        .map(|a| a.trim_start_matches(' '))
        .filter(|a| !a.is_empty())
        .ok_or("nothing after TIMESTAMP (truncated line?)")?;
    row.push(Value::Millis(millis));
    match after.split_once(' ') {
        Some((host, _)) if host.ends_with(':') || host.contains('[') => {
            row.push(Value::Null);
            content(after, row);
        }
        Some((host, rest)) => {
            row.push(text(Some(host)));
            content(rest.trim_start_matches(' '), row);
        }
        None => return Err("nothing after HOSTNAME (truncated line?)".into()),
    }
    Ok(())
}

/// The columns from `app_name` on of an RFC 3164 line's content (`TAG[PID]: MSG`).
fn content<'a>(content: &'a str, row: &mut Vec<Value<'a>>) {
    let (app_name, proc_id, message) = tag(content);
    row.extend([
        text(app_name),
        text(proc_id),
        Value::Null,
        Value::Null,
        Value::Text(Cow::Borrowed(message)),
    ]);
}

/// The timestamp at the start of an RFC 3164 line, if there is one, and the text after it.
fn timestamp3164(rest: &str, year: Option<i32>) -> Result<Option<(i64, &str)>, String> {
    let bytes = rest.as_bytes();
    let Some(month) = bytes
        .get(..3)
        .and_then(month)
        .filter(|_| bytes.get(3) == Some(&b' '))
    else {
        let token = rest.split(' ').next().unwrap_or(rest);
        return Ok(DateTime::parse_from_rfc3339(token)
            .ok()
            .map(|t| (t.timestamp_millis(), &rest[token.len()..])));
    };
    let stamp = rest.get(..15).unwrap_or(rest);
    let bad = || format!("TIMESTAMP {} is not 'Mmm dd hh:mm:ss'", shown(stamp));
    let s = stamp.as_bytes();
    let number = |at: usize| -> Option<u32> {
        let (a, b) = (*s.get(at)?, *s.get(at + 1)?);
        let tens = if a == b' ' {
            0
        } else {
            u32::from(a.checked_sub(b'0')?)
        };
        let ones = u32::from(b.checked_sub(b'0')?);
        (tens < 10 && ones < 10).then_some(tens * 10 + ones)
    };
    let shape = stamp.len() == 15 && s[6] == b' ' && s[9] == b':' && s[12] == b':';
    let (Some(day), Some(h), Some(m), Some(sec), true) =
        (number(4), number(7), number(10), number(13), shape)
    else {
        return Err(bad());
    };
    let at = |year: i32| {
        NaiveDate::from_ymd_opt(year, month, day)?
            .and_hms_opt(h, m, sec)
            .map(|t| t.and_utc().timestamp_millis())
    };
    let millis = match year {
        Some(year) => at(year),
        None => {
            let now = Utc::now();
            at(now.year()).map(|t| {
                if t > now.timestamp_millis() + 86_400_000 {
                    at(now.year() - 1).unwrap_or(t)
                } else {
                    t
                }
            })
        }
    }
    .ok_or_else(|| format!("TIMESTAMP {} is not a valid date", shown(stamp)))?;
    Ok(Some((millis, &rest[15..])))
}

/// `TAG[PID]: MSG` or `TAG: MSG` into app name, process id and message (without the
/// spaces before it); text without a tag is all message.
fn tag(content: &str) -> (Option<&str>, Option<&str>, &str) {
    let end = content.find([':', '[', ' ']).unwrap_or(content.len());
    let (name, after) = content.split_at(end);
    if !name.is_empty() {
        if let Some(m) = after.strip_prefix(':') {
            return (Some(name), None, m.trim_start_matches(' '));
        }
        if let Some((pid, m)) = after
            .strip_prefix('[')
            .and_then(|a| a.split_once(']'))
            .and_then(|(pid, a)| Some((pid, a.strip_prefix(':')?)))
        {
            return (Some(name), Some(pid), m.trim_start_matches(' '));
        }
    }
    (None, None, content)
}
