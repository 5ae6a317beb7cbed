//! What can stop a sweep, a delivery or the scheduler.

use avip_db::QueryError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database refused or could not be reached (a `ClosedConnection`
    /// error: no connection could be had).
    #[error("database error: {0}")]
    Db(#[from] QueryError),
    #[error("scheduler error: {0}")]
    Scheduler(String),
}
