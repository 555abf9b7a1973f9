//! The built-in operators and the one place they are registered.
//!
//! A new operator is one file with a configuration type implementing [`OperatorFactory`],
//! plus one line in `register_operators!` below; job files then name it by its `type`.

pub mod dedup;
pub mod filter;
pub mod project;
pub mod route;
pub mod top_n;
pub mod union;
pub mod window;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::operator::{OperatorFactory, OperatorPlan, PlanContext};

macro_rules! register_operators {
    ($($tag:literal => $variant:ident($config:ty)),* $(,)?) => {
        /// The configuration of any built-in operator, tagged by `type` in job files.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum OperatorConfig {
            $(#[serde(rename = $tag)] $variant($config),)*
        }

        impl OperatorFactory for OperatorConfig {
            fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
                match self {
                    $(Self::$variant(config) => config.plan(ctx),)*
                }
            }

            fn key_columns(&self) -> Option<Vec<String>> {
                match self {
                    $(Self::$variant(config) => config.key_columns(),)*
                }
            }
        }
    };
}

register_operators! {
    "dedup" => Dedup(dedup::DedupConfig),
    "filter" => Filter(filter::FilterConfig),
    "project" => Project(project::ProjectConfig),
    "route" => Route(route::RouteConfig),
    "top_n" => TopN(top_n::TopNConfig),
    "union" => Union(union::UnionConfig),
    "window_aggregate" => WindowAggregate(window::WindowAggregateConfig),
}
