//! The AVIP referral tracking service: HTTP API, settings and start-up.

pub mod access;
pub mod admin;
pub mod auth;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod exports;
pub mod extract;
pub mod openapi;
pub mod places;
pub mod referral;
pub mod routes;
pub mod settings;
pub mod sla;
pub mod startup;
pub mod telemetry;

pub use settings::Settings;
pub use startup::{Application, ServerOptions};
