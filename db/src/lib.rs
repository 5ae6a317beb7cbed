//! The shared model of the AVIP service: the diesel schema, rows and queries,
//! the connection pool over SQLite or PostgreSQL, and the embedded migrations.
//! Diesel appears in this crate only.

pub mod access_log;
pub mod api_clients;
pub mod backup;
pub mod blocking;
pub mod closures;
pub mod coordinators;
pub mod creches;
pub mod error;
pub mod exits;
pub mod exports;
pub mod gate;
pub mod identity_epoch;
pub mod imports;
pub mod meetings;
pub mod migrations;
pub mod model;
pub mod notifications;
pub mod oidc_attempts;
pub mod organizations;
pub mod outcomes;
pub mod page;
pub mod places;
pub mod pool;
pub mod preferences;
pub mod referrals;
pub mod reports;
pub mod retention;
pub mod schema;
pub mod sla;
pub mod tallies;
pub mod territory;
pub mod throttle;
pub mod timeline;
pub mod users;
pub mod web_sessions;
pub mod webhooks;

pub use diesel::result::{DatabaseErrorKind as QueryErrorKind, Error as QueryError, QueryResult};
pub use error::{Error, Result};
pub use gate::WriteGate;
pub use pool::{Backend, DbConnection, DbError, Pool, PooledConn, connect, open_pool};

/// Runs `work` in one transaction that writes: everything it wrote is kept,
/// or nothing. On SQLite it takes the write lock first (`BEGIN IMMEDIATE`):
/// a deferred transaction that reads before it writes fails at once with
/// "database is locked" when another connection wrote since its read
/// (SQLite cannot upgrade a stale snapshot, and does not wait for it). Every
/// transaction of this service writes, so there is no deferred one.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<QueryError>,
{
    use diesel::Connection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    // Inside a transaction already (which holds the lock): a savepoint, the
    // outermost one adds the indicators' sums up.
    let nested = Manager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    if nested {
        return conn.transaction(work);
    }
    let collecting = tallies::Collecting::start();
    let work = |conn: &mut DbConnection| {
        let value = work(conn)?;
        collecting.flush(conn)?;
        Ok(value)
    };
    match conn {
        DbConnection::Pg(_) => conn.transaction(work),
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match work(conn) {
                Ok(value) => {
                    Manager::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(error) => match Manager::rollback_transaction(conn) {
                    Ok(()) | Err(QueryError::BrokenTransactionManager) => Err(error),
                    Err(rollback) => Err(rollback.into()),
                },
            }
        }
    }
}
