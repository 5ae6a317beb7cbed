//! The shared model of the AVIP service: the diesel schema, rows and queries,
//! the connection pool over SQLite or PostgreSQL, and the embedded migrations.
//! Diesel appears in this crate only.

pub mod api_clients;
pub mod creches;
pub mod error;
pub mod migrations;
pub mod model;
pub mod organizations;
pub mod page;
pub mod pool;
pub mod schema;
pub mod throttle;
pub mod users;

pub use diesel::result::{Error as QueryError, QueryResult};
pub use error::{Error, Result};
pub use pool::{Backend, DbConnection, DbError, Pool, PooledConn, connect, open_pool};

/// Runs `work` in one transaction: everything it wrote is kept, or nothing.
pub fn transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> std::result::Result<T, E>,
) -> std::result::Result<T, E>
where
    E: From<QueryError>,
{
    use diesel::Connection;
    conn.transaction(work)
}
