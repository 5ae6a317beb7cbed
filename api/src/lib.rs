//! The AVIP referral tracking service. Layers, from the outside in:
//! `http` (handlers, the OpenAPI document, problem answers), the use cases
//! of `workflow`, the rules of `domain` and `access`, and below them the
//! `avip_sla_engine` and `avip_db` crates. `admin`, `demo` and `sla` are
//! the command line's; `startup` wires the process. docs/ARCHITECTURE.md is
//! the map.

pub mod access;
pub mod access_log;
pub mod admin;
pub mod auth;
pub mod demo;
pub mod digests;
pub mod domain;
pub mod exports;
pub mod http;
pub mod metrics;
pub mod retention;
pub mod settings;
pub mod sla;
pub mod startup;
pub mod telemetry;
pub mod views;
pub mod web;
pub mod webhooks;
pub mod workflow;

pub use settings::Settings;
pub use startup::{Application, ServerOptions};
