//! The SLA engine of the AVIP service: the policy and its clocks, deadline
//! arithmetic, sweeps, the notification outbox and mail. It knows nothing of
//! HTTP.

pub mod clock;
pub mod policy;

pub use policy::{ClockKind, HolidayZone, Policy, PolicyError};
