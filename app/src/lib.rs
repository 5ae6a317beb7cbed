//! The AVIP application layer, beneath both front-ends (the JSON API and the
//! workspace's pages of the `avip` crate). Layers, from the outside in: the
//! use cases of `workflow` (one entry point per action), the rules of
//! `domain` and `access`, who is calling (`auth`), and below them the
//! `avip_sla_engine` and `avip_db` crates. `state` is what the service runs
//! with; `process` wires the jobs. It knows nothing of HTTP: this crate does
//! not depend on actix-web. docs/ARCHITECTURE.md is the map.

pub mod access;
pub mod access_log;
pub mod auth;
pub mod digests;
pub mod domain;
pub mod exports;
pub mod imports;
pub mod labels;
pub mod limits;
pub mod metrics;
pub mod process;
pub mod reports;
pub mod retention;
pub mod settings;
pub mod sla;
pub mod state;
pub mod views;
pub mod webhooks;
pub mod workflow;

pub use settings::Settings;
pub use state::App;
