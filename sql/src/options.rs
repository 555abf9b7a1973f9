//! weir's own session settings, next to DataFusion's (`weir.*` keys).

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// Settings of a lake query session that DataFusion does not have.
    pub struct WeirOptions {
        /// Group `Utf8View` columns by integer ids ([`crate::string_ids`]) instead of by
        /// their strings.
        pub group_by_string_ids: bool, default = true
        /// Order a filter's conditions cheapest first ([`crate::cheap_conjuncts_first`]).
        pub cheap_conjuncts_first: bool, default = true
    }
}

impl ConfigExtension for WeirOptions {
    const PREFIX: &'static str = "weir";
}
