//! A consistent copy of an SQLite database while the service runs and
//! writes (`VACUUM INTO`, which reads one snapshot), checked with
//! `PRAGMA integrity_check`. PostgreSQL has its own tool: the answer is the
//! `pg_dump` command for the configured database.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::pool::{Backend, Target};
use crate::{DbConnection, DbError};

/// What `backup` did.
#[derive(Debug)]
pub enum Backup {
    /// The copy is written and passed the integrity check.
    Written {
        path: PathBuf,
        bytes: u64,
        referrals: i64,
    },
    /// A PostgreSQL database: run this command instead (the password, if
    /// any, is not in it: give it in `PGPASSWORD` or `~/.pgpass`).
    UsePgDump { command: String },
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: a backup never overwrites a file")]
    Exists(PathBuf),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the copy could not be written: {0}")]
    Copy(diesel::result::Error),
    #[error("the copy {path} fails its integrity check: {report}")]
    Corrupt { path: PathBuf, report: String },
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Copies the database at `database_url` into `to` (SQLite), or says how
/// to back it up (PostgreSQL).
pub fn backup(database_url: &str, to: &Path) -> Result<Backup, BackupError> {
    let target = Target::parse(database_url)?;
    if target.backend == Backend::Postgres {
        let command = format!(
            "pg_dump --format=custom --file='{}' '{}'",
            to.display(),
            target.display_without_password()
        );
        return Ok(Backup::UsePgDump { command });
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let mut conn = crate::connect(database_url)?;
    let DbConnection::Sqlite(sqlite) = &mut conn else {
        unreachable!("the target is SQLite");
    };
    // One read transaction: writes that commit meanwhile are not in it,
    // every write committed before it is.
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(to.to_string_lossy())
        .execute(sqlite)
        .map_err(BackupError::Copy)?;
    drop(conn);
    // The copy, opened as it is (no pragma that would change it).
    let mut copy = diesel::SqliteConnection::establish(&to.to_string_lossy())
        .map_err(|e| BackupError::Copy(diesel::result::Error::QueryBuilderError(e.into())))?;
    let report: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut copy)
        .map_err(BackupError::Copy)?;
    let report: Vec<String> = report.into_iter().map(|c| c.integrity_check).collect();
    if report != ["ok"] {
        return Err(BackupError::Corrupt {
            path: to.to_owned(),
            report: report.join("; "),
        });
    }
    let referrals: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM referrals")
        .load(&mut copy)
        .map_err(BackupError::Copy)?;
    drop(copy);
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Backup::Written {
        path: to.to_owned(),
        bytes,
        referrals: referrals.first().map_or(0, |c| c.n),
    })
}
