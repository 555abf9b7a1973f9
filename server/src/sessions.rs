//! Query sessions kept between the requests of `POST /sql` and the table pages: a session
//! keeps the Delta tables it loaded and brings them up to date by reading only the log
//! versions written since, where a new session would replay each table's log. A request
//! takes an idle session (or opens one), and gives it back unless it changed a setting
//! (`SET`), so no request sees another's settings. Each session runs one statement at a
//! time within the server's limits, as a new one would.

use std::sync::Mutex;

use weir_sql::{changes_settings, Lake, Limits, QueryOutput, QuerySession};

use crate::error::{Result, ServerError};

/// The most idle sessions kept.
const MAX_IDLE: usize = 16;

/// The idle sessions of one lake.
pub struct SessionPool {
    lake: Lake,
    limits: Limits,
    idle: Mutex<Vec<QuerySession>>,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |idle| idle.len());
        f.debug_struct("SessionPool")
            .field("lake", &self.lake)
            .field("idle", &idle)
            .finish()
    }
}

impl SessionPool {
    pub fn new(lake: Lake, limits: Limits) -> Self {
        Self {
            lake,
            limits,
            idle: Mutex::default(),
        }
    }

    /// The lake the sessions query.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Runs `sql` (one or more read-only statements); the last statement's result.
    pub async fn run(&self, sql: &str) -> Result<QueryOutput> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let session = match idle {
            Some(session) => session,
            None => self.lake.query_session(self.limits).await?,
        };
        let statements = session.parse(sql)?;
        let sets = statements.iter().any(changes_settings);
        let mut last = None;
        for statement in statements {
            last = Some(session.run(statement).await?);
        }
        if !sets {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(session);
            }
        }
        last.ok_or_else(|| ServerError::BadRequest("no statement to run".into()))
    }
}
