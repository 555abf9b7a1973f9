//! The server's errors, and the HTTP answers they become: a JSON body
//! `{"error": "...", "mistakes": [...]}` with the status that says whose fault it is.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// One mistake of a job file, at its `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MistakeView {
    pub location: String,
    pub message: String,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// Every mistake of a refused job file, in the order of the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mistakes: Vec<MistakeView>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A job file with mistakes (the same ones `weir validate` reports).
    #[error("the job file has {} mistake(s)", .0.len())]
    Invalid(Vec<MistakeView>),
    /// A request the server cannot make sense of.
    #[error("{0}")]
    BadRequest(String),
    #[error("no job '{0}'")]
    NoSuchJob(String),
    #[error("{0}")]
    NotFound(String),
    /// A request that does not fit the job's state (stopping a stopped job, a second job
    /// of the same name).
    #[error("{0}")]
    Conflict(String),
    #[error("this request needs the server's token: send `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("the server's store: {0}")]
    Store(String),
    #[error(transparent)]
    Sql(#[from] weir_sql::SqlError),
    #[error(transparent)]
    Job(#[from] weir_jobs::JobError),
    #[error("{0}")]
    Startup(String),
}

pub type Result<T, E = ServerError> = std::result::Result<T, E>;

impl ServerError {
    fn status(&self) -> StatusCode {
        match self {
            ServerError::Invalid(_) | ServerError::BadRequest(_) | ServerError::Sql(_) => {
                StatusCode::BAD_REQUEST
            }
            ServerError::NoSuchJob(_) | ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServerError::Store(_) | ServerError::Job(_) | ServerError::Startup(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mistakes = match &self {
            ServerError::Invalid(mistakes) => mistakes.clone(),
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: self.to_string(),
            mistakes,
        };
        (status, Json(body)).into_response()
    }
}
