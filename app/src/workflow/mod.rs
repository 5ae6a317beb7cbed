//! The use cases: every action of the product is one function here, taking
//! the caller, a typed command and a connection, and returning a typed
//! result or a [`DomainError`](crate::domain::DomainError). The HTTP
//! handlers, `avip admin`, `avip demo` (and the pages to come) call only
//! this layer; it knows nothing of HTTP.
//!
//! A use case checks its permission (`crate::access`), applies the rules
//! (`crate::domain`), tells the SLA engine what changed
//! (`avip_sla_engine::lifecycle`) and writes through `avip_db`, in one
//! transaction.

pub mod acts;
pub mod api_clients;
pub mod calendar;
pub mod coordinators;
pub mod creches;
pub mod data_inclusion;
pub mod exits;
pub mod exports;
pub mod family;
pub mod freed;
pub(crate) mod links;
pub mod matching;
pub mod meetings;
pub mod notices;
pub mod organizations;
pub mod outcomes;
pub mod places;
pub mod preferences;
pub mod referrals;
pub mod reports;
pub mod retention;
pub mod sign_in;
pub mod sla;
pub mod territory;
pub mod transfers;
pub mod users;
pub mod waiting_list;
pub mod webhooks;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;

/// Who asks for an administration use case: an authenticated identity, or
/// the operator at the command line, who holds the database and may do what
/// an administrator may.
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    Identity(&'a Principal),
    Operator,
}

impl Caller<'_> {
    pub fn require(self, action: Action, resource: Resource<'_>) -> Result<(), DomainError> {
        match self {
            Caller::Identity(who) => require(who, action, resource),
            Caller::Operator => Ok(()),
        }
    }

    /// Who recorded a change (`user:<id>`, `client:<id>`); `None` for the
    /// command line.
    pub fn claim(self) -> Option<String> {
        match self {
            Caller::Identity(who) => Some(who.subject.to_claim()),
            Caller::Operator => None,
        }
    }
}
