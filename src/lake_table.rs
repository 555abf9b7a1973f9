//! A table of the lake named on the command line (`weir compact`, `weir vacuum`).

use anyhow::{bail, Context, Result};
use weir_sql::Lake;

use crate::sql::{flat, lake_location};

/// The lake's location as given (`--lake`, `$WEIR_LAKE` or `./lake`) and the URL of
/// `table` in it: its SQL name (`logs.requests`) or its folder (`logs/requests`), never a
/// path out of the lake.
pub fn locate(lake: Option<String>, table: &str) -> Result<(String, String)> {
    let location = lake_location(lake);
    let root = Lake::open(&location).map_err(flat)?.root().clone();
    let folder = table.replace('.', "/");
    if folder
        .split('/')
        .any(|part| part.is_empty() || part == "..")
    {
        bail!("'{table}' is not a table name of the lake");
    }
    let url = root
        .join(&folder)
        .with_context(|| format!("the location of table '{table}'"))?;
    Ok((location, url.to_string()))
}
