//! `/api/v1/jobs`: submit, list, show, stop, cancel, resume and delete jobs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use weir_jobs::sinks::SinkConfig;
use weir_jobs::JobDefinition;

use super::AppState;
use crate::backfills::{BackfillRequest, BackfillView};
use crate::error::{ErrorBody, Result, ServerError};
use crate::view::{CheckpointView, JobDetail, JobSummary};

/// How a submitted job file is named in its mistakes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubmitParams {
    /// The file name mistakes are reported at (`job.yaml:3:5`); `submitted.yaml` when
    /// absent.
    file: Option<String>,
}

/// Submits a job file (YAML): validated as `weir validate` does, stored and started.
#[utoipa::path(
    post, path = "/api/v1/jobs", params(SubmitParams),
    request_body(content = String, content_type = "application/yaml"),
    responses(
        (status = 201, description = "Stored and started", body = JobDetail),
        (status = 400, description = "The job file's mistakes, at their lines", body = ErrorBody),
        (status = 409, description = "A job of that name exists", body = ErrorBody),
    )
)]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    Query(params): Query<SubmitParams>,
    body: String,
) -> Result<impl IntoResponse> {
    let file = params.file.unwrap_or_else(|| "submitted.yaml".into());
    let detail = state.jobs.submit(&body, &file).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Every job, with its status, rate and last checkpoint.
#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = [JobSummary])))]
pub async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<JobSummary>> {
    Json(state.jobs.list())
}

/// One job: its graph with per-node counters, checkpoints and history.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}",
    responses((status = 200, body = JobDetail), (status = 404, body = ErrorBody))
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>> {
    let mut detail = state.jobs.detail(&id)?;
    detail.sink_tables = sink_tables(state.sessions.lake(), &detail.definition);
    Ok(Json(detail))
}

/// The lake table each Delta sink of the job file `text` writes, by sink; none when the
/// file no longer reads (a variable unset now).
fn sink_tables(lake: &weir_sql::Lake, text: &str) -> BTreeMap<String, String> {
    let Ok(job) = JobDefinition::from_yaml(text, "job.yaml", |name| std::env::var(name).ok())
    else {
        return BTreeMap::new();
    };
    job.sinks
        .iter()
        .filter_map(|(name, sink)| match &sink.connector {
            SinkConfig::Delta(config) => Some((name.clone(), lake.table_name_of(&config.table)?)),
            _ => None,
        })
        .collect()
}

/// Where a stop copies its final checkpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StopParams {
    /// A savepoint location the final checkpoint is copied to.
    savepoint: Option<String>,
}

/// Stops a job with a final checkpoint; answers once it stopped.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/stop", params(StopParams),
    responses((status = 200, body = JobDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn stop(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<StopParams>,
) -> Result<Json<JobDetail>> {
    Ok(Json(
        state.jobs.stop(&id, params.savepoint.as_deref()).await?,
    ))
}

/// Cancels a job at once; it resumes from its last completed checkpoint.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/cancel",
    responses((status = 200, body = JobDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>> {
    Ok(Json(state.jobs.cancel(&id).await?))
}

/// Starts a stopped, cancelled, failed or finished job again from its newest checkpoint.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/resume",
    responses((status = 200, body = JobDetail), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn resume(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>> {
    Ok(Json(state.jobs.resume(&id).await?))
}

/// Forgets a job that is not running.
#[utoipa::path(
    delete, path = "/api/v1/jobs/{id}",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    state.jobs.delete(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The completed checkpoints of a job's current run.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/checkpoints",
    responses((status = 200, body = [CheckpointView]), (status = 404, body = ErrorBody))
)]
pub async fn checkpoints(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Vec<CheckpointView>>> {
    Ok(Json(state.jobs.checkpoints(&id)?))
}

/// Starts a backfill: the job's file run once per date from `from` to `to` with
/// `${DATE}` set, each run replacing its date's partition; resumes an interrupted one.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/backfills",
    request_body = BackfillRequest,
    responses(
        (status = 202, description = "Started", body = BackfillView),
        (status = 400, description = "Dates or job file unfit for a backfill", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The same backfill is running", body = ErrorBody),
    )
)]
pub async fn start_backfill(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse> {
    let request: BackfillRequest = serde_json::from_slice(&body)
        .map_err(|e| ServerError::BadRequest(format!("the backfill request: {e}")))?;
    let view = state.jobs.backfill(&id, request)?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// A job's backfills with each date's state.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/backfills",
    responses((status = 200, body = [BackfillView]), (status = 404, body = ErrorBody))
)]
pub async fn backfills(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Vec<BackfillView>>> {
    Ok(Json(state.jobs.backfills(&id)?))
}
