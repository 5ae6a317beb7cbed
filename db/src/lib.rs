//! The shared model of the AVIP service: the diesel schema, rows and queries,
//! the connection pool over SQLite or PostgreSQL, and the embedded migrations.
//! Diesel appears in this crate only.

pub mod migrations;
pub mod pool;
pub mod schema;

pub use pool::{Backend, DbConnection, DbError, Pool, PooledConn, connect, open_pool};
