//! What callers outside this crate need to know about a failed query,
//! without naming diesel.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the row (`constraint` names it when the
    /// backend says).
    #[error("already exists ({constraint})")]
    Duplicate { constraint: String },
    /// A foreign key refused the row.
    #[error("refers to something that does not exist")]
    MissingReference,
    /// The database could not be reached, or the connection was lost: try
    /// again later.
    #[error("the database is not reachable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(DieselError),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The messages of SQLite's storage failures (`SQLITE_FULL`,
/// `SQLITE_READONLY`, `SQLITE_IOERR`, `SQLITE_CANTOPEN`).
const STORAGE_FAILURES: &[&str] = &[
    "database or disk is full",
    "attempt to write a readonly database",
    "disk I/O error",
    "unable to open database file",
];

impl From<DieselError> for Error {
    fn from(e: DieselError) -> Error {
        match e {
            DieselError::NotFound => Error::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Error::Duplicate {
                    constraint: info
                        .constraint_name()
                        .map(str::to_owned)
                        .unwrap_or_else(|| info.message().to_owned()),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Error::MissingReference
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Error::Unavailable(info.message().to_owned())
            }
            // SQLite's storage refused the write (a full disk, a read-only
            // file or file system, an I/O error): reads may still work,
            // and the write can be tried again once the operator acts.
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if STORAGE_FAILURES.iter().any(|m| info.message().contains(m)) =>
            {
                Error::Unavailable(info.message().to_owned())
            }
            other => Error::Other(other),
        }
    }
}
