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
            other => Error::Other(other),
        }
    }
}
