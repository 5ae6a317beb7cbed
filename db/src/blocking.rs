//! Database work from async code, off the async threads: the one helper the
//! HTTP handlers, the web pages and the SLA engine share.
//!
//! Failures come back as [`QueryError`]s the callers already map: no
//! connection is a `ClosedConnection` error (503 to retry, for the API),
//! work that panicked or was cancelled an `Unknown` one (a fault of ours).

use diesel::result::DatabaseErrorKind;

use crate::{DbConnection, Pool, PooledConn, QueryError, WriteGate};

/// A pooled connection, or a `ClosedConnection` error when none can be had.
pub fn checkout(pool: &Pool) -> Result<PooledConn, QueryError> {
    pool.get().map_err(|e| {
        tracing::warn!(error = %e, "no database connection available");
        QueryError::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new(format!("no database connection: {e}")),
        )
    })
}

fn incomplete(e: &dyn std::fmt::Display) -> QueryError {
    QueryError::DatabaseError(
        DatabaseErrorKind::Unknown,
        Box::new(format!("database work did not complete: {e}")),
    )
}

/// Checks out a connection and runs `work` on the blocking thread pool.
pub async fn run<T, E>(
    pool: &Pool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    blocking(pool, None, work).await
}

/// A short read (a few rows found by key). On SQLite it runs at once on
/// the calling thread when a connection is idle: handing it to the
/// blocking pool costs more than the read itself (two thread switches;
/// BENCHMARKS.md, session 9). On PostgreSQL, whose reads wait on the
/// network, and when no connection is idle, it goes through [`run`]. Only
/// for reads bounded by a key: a long one would hold up every request of
/// the async thread it runs on.
pub async fn read_short<T, E>(
    pool: &Pool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    match pool.try_get() {
        Some(mut conn) if conn.backend() == crate::Backend::Sqlite => work(&mut conn),
        Some(mut conn) => off_thread(move || work(&mut conn)).await,
        None => run(pool, work).await,
    }
}

/// [`run`] in the process's write turn (see [`WriteGate::turn`]), so that
/// queued writers do not hold connections readers need.
pub async fn in_turn<T, E>(
    pool: &Pool,
    gate: &WriteGate,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    blocking(pool, Some(gate.clone()), work).await
}

async fn blocking<T, E>(
    pool: &Pool,
    turn: Option<WriteGate>,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    let pool = pool.clone();
    off_thread(move || {
        let _turn = turn.as_ref().map(WriteGate::turn);
        let mut conn = checkout(&pool)?;
        work(&mut conn)
    })
    .await
}

/// Runs `work` on the blocking thread pool.
async fn off_thread<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| E::from(incomplete(&e)))?
}

/// Work that writes. On SQLite it goes to the process's writer thread,
/// which commits it together with the other writes waiting (see
/// [`WriteGate`]); elsewhere it runs like [`in_turn`].
pub async fn write<T, E>(
    pool: &Pool,
    gate: &WriteGate,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    match gate.submit(work) {
        Ok(answer) => answer.await.map_err(|e| E::from(incomplete(&e)))?,
        Err(work) => in_turn(pool, gate, work).await,
    }
}

/// [`write`] from a thread that may block (not an async task): waits for
/// the writer thread's answer, or runs the work in the write turn.
pub fn write_blocking<T, E>(
    pool: &Pool,
    gate: &WriteGate,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<QueryError> + Send + 'static,
{
    match gate.submit(work) {
        Ok(answer) => answer
            .blocking_recv()
            .map_err(|e| E::from(incomplete(&e)))?,
        Err(work) => {
            let _turn = gate.turn();
            let mut conn = checkout(pool)?;
            work(&mut conn)
        }
    }
}
