//! The SLA engine of the AVIP service: the policy and its clocks, deadline
//! arithmetic, sweeps, the notification outbox and mail. It knows nothing of
//! HTTP.

pub mod attention;
pub mod clock;
pub mod daily;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod lifecycle;
pub mod mail;
pub mod policy;
pub mod sms;
pub mod store;
pub mod sweep;
pub mod timers;

pub use engine::Engine;
pub use error::EngineError;
pub use policy::{ActivePolicy, ClockKind, HolidayZone, Policy, PolicyError};
