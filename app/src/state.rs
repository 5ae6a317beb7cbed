//! The one application state both front-ends run with (`App`), and its
//! helpers for database work off the async threads. Its errors are
//! [`DomainError`]s: each front-end says them its own way.

use avip_db::{DbConnection, Pool, QueryError, WriteGate};
use avip_sla_engine::ActivePolicy;

use crate::auth::TokenKeys;
use crate::domain::DomainError;
use crate::exports::PseudonymKey;
use crate::limits::Limits;
use crate::workflow::places::OfferHold;

/// What the service runs with, shared by every worker.
pub struct App {
    pub pool: Pool,
    pub gate: WriteGate,
    /// The SLA policy in force and its version.
    pub policy: ActivePolicy,
    pub schedule: SlaSchedule,
    pub hold: OfferHold,
    /// `AVIP_WAITING_REVIEW`: a family waiting this long without a move
    /// needs the coordinator's look.
    pub waiting_review: std::time::Duration,
    pub pseudonym_key: PseudonymKey,
    pub keys: TokenKeys,
    /// Rate limits and bounds on concurrent work.
    pub limits: Limits,
    /// Where reads of families' personal data are recorded.
    pub access: crate::access_log::Recorder,
    /// The identities authenticated lately (see `auth::cache`).
    pub identities: std::sync::Arc<crate::auth::cache::Identities>,
    /// `AVIP_PUBLIC_URL` without its trailing `/`: links to this service.
    pub public_url: String,
    /// Where webhooks may point: public `https` only in production.
    pub webhook_targets: crate::webhooks::Targets,
}

impl App {
    /// The public holidays' zone of the policy in force: the crèches'
    /// calendars close on them.
    pub fn zone(&self) -> avip_sla_engine::policy::HolidayZone {
        self.policy.policy.holiday_zone
    }

    /// What offers need to know of places.
    pub fn rules(&self) -> crate::workflow::places::Rules {
        crate::workflow::places::Rules {
            hold: self.hold,
            zone: self.zone(),
        }
    }

    /// Database work on the blocking pool (reads, and the few writes that need no turn).
    pub async fn run<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, DomainError>
    where
        T: Send + 'static,
        E: From<QueryError> + Into<DomainError> + Send + 'static,
    {
        avip_db::blocking::run(&self.pool, work)
            .await
            .map_err(Into::into)
    }

    /// A read of a few rows by key: see `avip_db::blocking::read_short`.
    pub async fn read_short<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, DomainError>
    where
        T: Send + 'static,
        E: From<QueryError> + Into<DomainError> + Send + 'static,
    {
        avip_db::blocking::read_short(&self.pool, work)
            .await
            .map_err(Into::into)
    }

    /// Database work that writes: on SQLite through the writer thread.
    pub async fn write<T, E>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, DomainError>
    where
        T: Send + 'static,
        E: From<QueryError> + Into<DomainError> + Send + 'static,
    {
        avip_db::blocking::write(&self.pool, &self.gate, work)
            .await
            .map_err(Into::into)
    }
}

/// The schedule and delivery settings shown with the policy.
#[derive(Clone, Debug)]
pub struct SlaSchedule {
    pub schedule: String,
    pub digest: bool,
}
