//! `/api/v1/sql` and `/api/v1/tables`: read-only SQL over the lake with the limits of
//! `weir sql`, answered as JSON rows or as an Arrow IPC stream (`Accept:
//! application/vnd.apache.arrow.stream`), and the lake's tables with their details,
//! history and quality verdicts.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::AppState;
use crate::error::{ErrorBody, Result, ServerError};

/// The media type of an Arrow IPC stream.
const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// A query to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One read-only statement (a query, `SHOW`, `DESCRIBE`, `EXPLAIN`).
    pub query: String,
}

/// A column of a result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnView {
    pub name: String,
    /// The Arrow type, as DataFusion prints it.
    #[serde(rename = "type")]
    pub data_type: String,
}

/// A result as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResult {
    pub columns: Vec<ColumnView>,
    /// One object per row, by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, Value>>,
    pub row_count: usize,
    /// Planning and running, in ms.
    pub elapsed_ms: f64,
}

/// `batches` as JSON objects, one per row.
fn json_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer
        .write_batches(&refs)
        .and_then(|()| writer.finish())
        .map_err(|e| {
            ServerError::BadRequest(format!("the result cannot be written as JSON: {e}"))
        })?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ServerError::BadRequest(format!("the result cannot be written as JSON: {e}")))
}

fn columns(schema: &SchemaRef) -> Vec<ColumnView> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnView {
            name: f.name().clone(),
            data_type: f.data_type().to_string(),
        })
        .collect()
}

/// Runs `sql` (one or more statements) read-only over the lake; the last statement's
/// result.
async fn run(state: &AppState, sql: &str) -> Result<weir_sql::QueryOutput> {
    state.sessions.run(sql).await
}

/// Runs a read-only query over the lake, with the time and memory limits of `weir sql`.
#[utoipa::path(
    post, path = "/api/v1/sql", request_body = QueryRequest,
    responses(
        (status = 200, description = "JSON rows, or an Arrow IPC stream by `Accept`", body = QueryResult),
        (status = 400, description = "Not read-only, or not valid SQL, with the reason", body = ErrorBody),
    )
)]
pub async fn query(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let request: QueryRequest = serde_json::from_slice(&body)
        .map_err(|e| ServerError::BadRequest(format!("the body is not a query request: {e}")))?;
    let started = Instant::now();
    let output = run(&state, &request.query).await?;
    let arrow = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(ARROW_STREAM));
    if arrow {
        let mut bytes = Vec::new();
        {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut bytes, &output.schema)
                .map_err(|e| ServerError::BadRequest(e.to_string()))?;
            for batch in &output.batches {
                writer
                    .write(batch)
                    .map_err(|e| ServerError::BadRequest(e.to_string()))?;
            }
            writer
                .finish()
                .map_err(|e| ServerError::BadRequest(e.to_string()))?;
        }
        return Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], bytes).into_response());
    }
    let result = QueryResult {
        columns: columns(&output.schema),
        rows: json_rows(&output.batches)?,
        row_count: output.rows(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    Ok((StatusCode::OK, Json(result)).into_response())
}

/// A table of the lake, with its current version's details (`table_details`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TableSummary {
    pub name: String,
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

/// A table in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableView {
    pub name: String,
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    /// `table_history`, newest version first.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Map<String, Value>>,
    /// `table_quality`: one row per version, epoch and rule.
    #[schema(value_type = Vec<Object>)]
    pub quality: Vec<Map<String, Value>>,
    /// The columns of its current version.
    pub columns: Vec<ColumnView>,
}

/// `name` as a SQL string literal.
fn literal(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}

async fn rows(state: &AppState, sql: &str) -> Result<Vec<Map<String, Value>>> {
    json_rows(&run(state, sql).await?.batches)
}

async fn details(state: &AppState, name: &str) -> Result<Map<String, Value>> {
    Ok(rows(
        state,
        &format!("SELECT * FROM table_details({})", literal(name)),
    )
    .await?
    .into_iter()
    .next()
    .unwrap_or_default())
}

/// The lake's tables, each with its details (files, bytes, rows, version, clustering,
/// last compaction).
#[utoipa::path(get, path = "/api/v1/tables", responses((status = 200, body = [TableSummary])))]
pub async fn tables(State(state): State<Arc<AppState>>) -> Result<Json<Vec<TableSummary>>> {
    let mut tables = Vec::new();
    for table in state.sessions.lake().tables().await? {
        let name = table.qualified_name();
        let details = details(&state, &name).await?;
        tables.push(TableSummary { name, details });
    }
    Ok(Json(tables))
}

/// One table: its details, history, quality verdicts per version and columns.
#[utoipa::path(
    get, path = "/api/v1/tables/{name}",
    responses((status = 200, body = TableView), (status = 404, body = ErrorBody))
)]
pub async fn table(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<TableView>> {
    let known = state
        .sessions
        .lake()
        .tables()
        .await?
        .iter()
        .any(|t| t.qualified_name() == name);
    if !known {
        return Err(ServerError::NotFound(format!(
            "no table '{name}' in the lake"
        )));
    }
    let quoted = literal(&name);
    let identifier: Vec<String> = name
        .split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect();
    let schema = run(
        &state,
        &format!("SELECT * FROM {} LIMIT 0", identifier.join(".")),
    )
    .await?
    .schema;
    Ok(Json(TableView {
        details: details(&state, &name).await?,
        history: rows(
            &state,
            &format!("SELECT * FROM table_history({quoted}) ORDER BY version DESC"),
        )
        .await?,
        quality: rows(
            &state,
            &format!("SELECT * FROM table_quality({quoted}) ORDER BY version DESC"),
        )
        .await?,
        columns: columns(&schema),
        name,
    }))
}
