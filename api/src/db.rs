//! Runs database work off the async threads.

use actix_web::web;
use avip_db::{DbConnection, Pool};

use crate::error::{ApiError, Problem};

/// Checks out a connection and runs `work` on the blocking thread pool.
pub async fn run<T, E>(
    pool: &Pool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get().map_err(|e| {
            tracing::warn!(error = %e, "no database connection available");
            ApiError::Unavailable(Problem::new(
                "database_unavailable",
                "the database is not reachable; try again",
            ))
        })?;
        work(&mut conn).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("database work did not complete: {e}")))?
}
