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
        let mut conn = checkout(&pool)?;
        work(&mut conn).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("database work did not complete: {e}")))?
}

/// A pooled connection, or 503 when the database cannot be reached.
pub fn checkout(pool: &Pool) -> Result<avip_db::PooledConn, ApiError> {
    pool.get().map_err(|e| {
        tracing::warn!(error = %e, "no database connection available");
        ApiError::Unavailable(Problem::new(
            "database_unavailable",
            "the database is not reachable; try again",
        ))
    })
}

pub use avip_db::WriteGate;

/// [`run`] for work that writes. On SQLite it goes to the process's writer
/// thread, which commits it together with the other writes waiting (see
/// [`WriteGate`]); elsewhere it runs on the blocking pool in the gate's
/// turn, so that queued writers do not hold connections readers need.
pub async fn write<T, E>(
    pool: &Pool,
    gate: &WriteGate,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let incomplete = |e: &dyn std::fmt::Display| {
        ApiError::Unexpected(anyhow::anyhow!("database work did not complete: {e}"))
    };
    let work = move |conn: &mut DbConnection| work(conn).map_err(ApiError::from);
    let work = match gate.submit(work) {
        Ok(answer) => return answer.await.map_err(|e| incomplete(&e))?,
        Err(work) => work,
    };
    let pool = pool.clone();
    let gate = gate.clone();
    web::block(move || {
        let _turn = gate.turn();
        let mut conn = checkout(&pool)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| incomplete(&e))?
}
