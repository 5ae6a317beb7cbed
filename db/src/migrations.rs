//! The embedded migrations, one folder per backend, kept in step.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::DbConnection;

pub const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Any fixed number: the PostgreSQL advisory lock that serialises instances
/// migrating the same database at once.
const PG_MIGRATION_LOCK: i64 = 0x0041_5649_5000;

/// Applies pending migrations; returns the versions applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    let applied = match conn {
        DbConnection::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))?;
            let result = c.run_pending_migrations(POSTGRES).map(versions);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))?;
            result?
        }
        DbConnection::Sqlite(c) => versions(c.run_pending_migrations(SQLITE)?),
    };
    Ok(applied)
}

/// Whether the database lacks a migration that this build embeds.
pub fn has_pending(conn: &mut DbConnection) -> Result<bool, MigrationError> {
    match conn {
        DbConnection::Pg(c) => c.has_pending_migration(POSTGRES),
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE),
    }
}

/// Reverts every applied migration (for the up → down → up test).
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    Ok(match conn {
        DbConnection::Pg(c) => versions(c.revert_all_migrations(POSTGRES)?),
        DbConnection::Sqlite(c) => versions(c.revert_all_migrations(SQLITE)?),
    })
}

/// Reverts the last applied migration (for the tests of a migration's data).
pub fn revert_last(conn: &mut DbConnection) -> Result<String, MigrationError> {
    Ok(match conn {
        DbConnection::Pg(c) => c.revert_last_migration(POSTGRES)?.to_string(),
        DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE)?.to_string(),
    })
}

fn versions(list: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    list.into_iter().map(|v| v.to_string()).collect()
}
