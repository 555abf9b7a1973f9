//! The transforms a job file can name by `type`: every operator registered in the engine,
//! plus the connectors' `parse` (decoding a text column with a format) and `enrich` (a
//! lookup join against a dimension table).

use std::sync::Arc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use weir_connectors::enrich::EnrichConfig;
use weir_connectors::parse::ParseConfig;
use weir_engine::{OperatorConfig, OperatorFactory, OperatorPlan, PlanContext};

/// A transform's configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformConfig {
    /// An engine operator (`filter`, `project`, `window_aggregate`, `dedup`, `union`, ...).
    Operator(OperatorConfig),
    /// `type: parse`: decode a text column with a format.
    Parse(ParseConfig),
    /// `type: enrich`: add columns from a dimension table, looked up by key.
    Enrich(EnrichConfig),
}

impl<'de> Deserialize<'de> for TransformConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        let kind = value.get("type").and_then(serde_json::Value::as_str);
        if matches!(kind, Some("parse" | "enrich")) {
            let enrich = kind == Some("enrich");
            if let Some(map) = value.as_object_mut() {
                map.remove("type");
            }
            return if enrich {
                EnrichConfig::deserialize(value).map(Self::Enrich)
            } else {
                ParseConfig::deserialize(value).map(Self::Parse)
            }
            .map_err(D::Error::custom);
        }
        OperatorConfig::deserialize(value)
            .map(Self::Operator)
            .map_err(|e| {
                D::Error::custom(
                    e.to_string()
                        .replace("expected one of ", "expected one of `enrich`, `parse`, "),
                )
            })
    }
}

impl OperatorFactory for TransformConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        match self {
            Self::Operator(config) => config.plan(ctx),
            Self::Parse(config) => config.plan(ctx),
            Self::Enrich(config) => config.plan(ctx),
        }
    }

    fn key_columns(&self) -> Option<Vec<String>> {
        match self {
            Self::Operator(config) => config.key_columns(),
            Self::Parse(_) | Self::Enrich(_) => None,
        }
    }
}
