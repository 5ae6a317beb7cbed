//! What a rule or a use case can refuse, free of HTTP: the HTTP layer maps
//! each variant to its status and problem document in one place
//! (`http/error.rs`), the command line prints it, the pages show it
//! next to the field.

use avip_db::model::{ReferralId, ReferralStatus, Role};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid part of a command: where it is and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `parent.phone` or `children[0].birth_date`.
    #[schema(example = "parent.phone")]
    pub field: String,
    #[schema(example = "is not a French phone number")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Its `Display` names the kind and the invalid fields only: messages may
/// quote what a client sent (a family's name in a wrong place), and errors
/// are logged.
#[derive(thiserror::Error)]
pub enum DomainError {
    /// Fields of a command are invalid.
    #[error("invalid ({})", fields(.0))]
    Invalid(Vec<FieldError>),
    /// A filter or parameter of a read is invalid.
    #[error("invalid parameter ({})", .0.field)]
    InvalidParameter(FieldError),
    /// This role may never do this.
    #[error("forbidden to {role}")]
    Forbidden { role: Role },
    /// The role may do this, but not over this scope (another département).
    #[error("out of scope")]
    OutOfScope(String),
    /// It does not exist, or it is not the caller's to see.
    #[error("not found")]
    NotFound,
    /// The lifecycle does not allow this move.
    #[error("invalid transition {current} -> {requested}")]
    InvalidTransition {
        current: ReferralStatus,
        requested: ReferralStatus,
        detail: String,
        /// The move exists, but through a step of its own (`enrolled`
        /// through the enrollment, `exited` through the exit).
        own_step: bool,
    },
    /// The child already has an active referral at this crèche; its id is
    /// given to the organisation that holds it only.
    #[error("duplicate referral")]
    DuplicateReferral { existing: Option<ReferralId> },
    /// An idempotency key came back with another body.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// No AVIP place is free on `first_full_day`.
    #[error("no free place on {first_full_day}")]
    NoFreePlace {
        first_full_day: NaiveDate,
        places: i32,
    },
    /// A person with this e-mail exists.
    #[error("e-mail taken")]
    EmailTaken,
    /// The family's personal data is already blanked.
    #[error("already anonymised")]
    AlreadyAnonymised,
    /// Another row holds a unique value, named by its constraint: a race
    /// that a second look usually resolves.
    #[error("duplicate ({constraint})")]
    Duplicate { constraint: String },
    /// A reference to something that does not exist.
    #[error("missing reference")]
    MissingReference,
    /// Too much at once from this caller (a rate limit, a bound on work
    /// running at once): try again in `retry_after` seconds.
    #[error("too many requests ({code})")]
    TooManyRequests {
        code: &'static str,
        detail: String,
        retry_after: u64,
    },
    /// The database cannot be reached now; try again.
    #[error("database unavailable")]
    Unavailable,
    /// A fault of ours.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Debug for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DomainError::Unexpected(e) => write!(f, "Unexpected({e:?})"),
            other => write!(f, "{other}"),
        }
    }
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> DomainError {
        DomainError::Invalid(vec![FieldError::new(field, message)])
    }

    pub fn parameter(field: &str, message: &str) -> DomainError {
        DomainError::InvalidParameter(FieldError::new(field, message))
    }

    /// The whole reason, field messages included, for the operator at the
    /// command line (who typed what it may quote).
    pub fn explain(&self) -> String {
        match self {
            DomainError::Invalid(errors) => {
                let mut text = "invalid values:".to_owned();
                for e in errors {
                    text.push_str(&format!("\n  {}: {}", e.field, e.message));
                }
                text
            }
            DomainError::InvalidParameter(e) => format!("{}: {}", e.field, e.message),
            DomainError::InvalidTransition { detail, .. } => detail.clone(),
            DomainError::NotFound => "no such resource".to_owned(),
            DomainError::Forbidden { role } => format!("the {role} role may not do this"),
            DomainError::OutOfScope(detail) => detail.clone(),
            DomainError::EmailTaken => "a user with this e-mail exists".to_owned(),
            DomainError::Unexpected(e) => format!("{e:#}"),
            other => other.to_string(),
        }
    }
}

/// Query failures: a missing row is not found, a unique violation a typed
/// duplicate with its constraint, a lost connection unavailable.
impl From<avip_db::QueryError> for DomainError {
    fn from(e: avip_db::QueryError) -> DomainError {
        match avip_db::Error::from(e) {
            avip_db::Error::NotFound => DomainError::NotFound,
            avip_db::Error::Duplicate { constraint } => DomainError::Duplicate { constraint },
            avip_db::Error::MissingReference => DomainError::MissingReference,
            avip_db::Error::Unavailable(reason) => {
                tracing::warn!(%reason, "the database is not reachable");
                DomainError::Unavailable
            }
            avip_db::Error::Other(e) => DomainError::Unexpected(anyhow::Error::new(e)),
        }
    }
}
