//! Every format's YAML configuration, with its defaults, and what is refused.

use weir_connectors::format::{
    AccessLogConfig, AccessLogVariant, ColumnSpec, CsvConfig, FormatConfig, LinesConfig,
    RegexConfig, SyslogConfig, SyslogRfc,
};

use crate::support::{format, format_config};

fn error(yaml: &str) -> String {
    format_config(yaml).unwrap_err().to_string()
}

#[test]
fn every_variant_parses() {
    assert_eq!(
        format("type: json\ncolumns: [{name: a, type: int64, nullable: false}]"),
        FormatConfig::Json {
            columns: vec![ColumnSpec {
                nullable: false,
                ..ColumnSpec::new("a", "int64")
            }]
        }
    );
    assert_eq!(
        format("type: csv\ncolumns: [{name: a, type: string}]"),
        FormatConfig::Csv(CsvConfig {
            columns: vec![ColumnSpec::new("a", "string")],
            delimiter: ',',
            quote: '"',
            header: false,
        })
    );
    assert_eq!(
        format("type: csv\ncolumns: [{name: a, type: string}]\ndelimiter: \"\\t\"\nquote: \"'\"\nheader: true"),
        FormatConfig::Csv(CsvConfig {
            columns: vec![ColumnSpec::new("a", "string")],
            delimiter: '\t',
            quote: '\'',
            header: true,
        })
    );
    assert_eq!(
        format("type: lines"),
        FormatConfig::Lines(LinesConfig {
            column: "line".into()
        })
    );
    assert_eq!(
        format("type: lines\ncolumn: raw"),
        FormatConfig::Lines(LinesConfig {
            column: "raw".into()
        })
    );
    assert_eq!(
        format("type: syslog"),
        FormatConfig::Syslog(SyslogConfig {
            rfc: SyslogRfc::Auto,
            year: None
        })
    );
    assert_eq!(
        format("type: syslog\nrfc: 5424"),
        FormatConfig::Syslog(SyslogConfig {
            rfc: SyslogRfc::Rfc5424,
            year: None
        })
    );
    assert_eq!(
        format("type: syslog\nrfc: '3164'\nyear: 2024"),
        FormatConfig::Syslog(SyslogConfig {
            rfc: SyslogRfc::Rfc3164,
            year: Some(2024)
        })
    );
    assert_eq!(
        format("type: access_log\nvariant: combined"),
        FormatConfig::AccessLog(AccessLogConfig {
            variant: AccessLogVariant::Combined
        })
    );
    assert_eq!(
        format("type: regex\npattern: '(?P<a>.)'"),
        FormatConfig::Regex(RegexConfig {
            pattern: "(?P<a>.)".into(),
            columns: vec![]
        })
    );
}

#[test]
fn serialized_configs_read_back() {
    for yaml in [
        "type: csv\ncolumns: [{name: a, type: string}]\ndelimiter: ';'",
        "type: syslog\nrfc: 3164\nyear: 2001",
        "type: syslog",
        "type: access_log\nvariant: common",
        "type: regex\npattern: '(?P<a>.)'\ncolumns: [{name: a, type: int32}]",
        "type: lines\ncolumn: x",
    ] {
        let config = format(yaml);
        let written = serde_saphyr::to_string(&config).unwrap();
        assert_eq!(format(&written), config, "{written}");
    }
}

#[test]
fn mistakes_are_refused() {
    assert!(error("type: xml").contains("unknown variant `xml`"));
    assert!(error("type: lines\ncolumns: x").contains("unknown field `columns`"));
    assert!(error("type: csv\ncolumns: []\ndelimeter: ';'").contains("unknown field `delimeter`"));
    assert!(error("type: syslog\nrfc: 3339")
        .contains("unknown syslog rfc 3339, expected 5424, 3164 or auto"));
    assert!(error("type: access_log\nvariant: extended").contains("unknown variant `extended`"));
    assert!(error("type: access_log").contains("missing field `variant`"));
    assert!(error("type: csv\ncolumns: []\ndelimiter: ';;'").contains("expected a character"));
}

#[test]
fn invalid_settings_fail_when_building_the_decoder() {
    let build = |yaml: &str| format(yaml).decoder(100).err().unwrap().to_string();
    assert_eq!(
        build("type: csv\ncolumns: [{name: a, type: string}]\ndelimiter: '\"'"),
        "invalid csv format configuration: delimiter and quote are both '\"'"
    );
    assert_eq!(
        build("type: csv\ncolumns: [{name: a, type: string}]\ndelimiter: 'é'"),
        "invalid csv format configuration: delimiter 'é' must be one ASCII character other than a line end"
    );
    assert!(build("type: csv\ncolumns: [{name: a, type: uuid}]").contains("unknown type 'uuid'"));
}
