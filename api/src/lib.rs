//! `avip`: the front-ends of the AVIP service, over the application layer
//! of the `avip_app` crate. `http` is the JSON API (handlers, the OpenAPI
//! document, problem answers), `web` the workspace's pages; they never
//! import each other, and what both need is in `avip_app` or in `shared`.
//! `admin` and `demo` are the command line's; `startup` composes the
//! process. docs/ARCHITECTURE.md is the map.

pub mod admin;
pub mod demo;
pub mod http;
pub mod shared;
pub mod startup;
pub mod telemetry;
pub mod web;

pub use avip_app::Settings;
pub use startup::{Application, ServerOptions};
