//! The set-up the in-process benches share (`load`, `access_log`,
//! `webhooks`): the service on a fresh database, started on port 0 in the
//! bench's own process, and its first administrator.

use std::collections::HashMap;

use avip_api::startup::ServerHandle;
use avip_api::{Application, ServerOptions, Settings};
use avip_db::{Backend, Pool};

use crate::{TestDatabase, test_env};

/// The administrator [`bootstrap`] creates.
pub const ADMIN: &str = "admin@example.org";
/// The password of every person the benches create.
pub const PASSWORD: &str = "a long passphrase";

/// A fresh database and the settings of a service on it, after `adjust`
/// has changed the environment. Keep the database and the mail directory
/// as long as the service runs.
pub fn settings(
    adjust: impl FnOnce(&mut HashMap<String, String>),
) -> (TestDatabase, tempfile::TempDir, Settings) {
    let db = TestDatabase::new();
    let mail = tempfile::tempdir().expect("a temporary directory");
    let mut env = test_env(&db, mail.path());
    adjust(&mut env);
    let settings = Settings::from_map(&env).expect("valid bench settings");
    (db, mail, settings)
}

/// The service, running in this process.
pub struct InProcess {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub handle: ServerHandle,
    pub pool: Pool,
    pub backend: Backend,
}

/// Starts the service on port 0 (no SLA engine; `record_reads` as the
/// access log's A/B wants).
pub async fn start(settings: &Settings, record_reads: bool) -> InProcess {
    let app = Application::build_with(
        settings.clone(),
        ServerOptions {
            workers: None,
            handle_signals: false,
            sla_engine: false,
            record_reads,
        },
    )
    .await
    .expect("the service starts");
    let started = InProcess {
        base: format!("http://127.0.0.1:{}", app.port()),
        handle: app.handle(),
        pool: app.pool().clone(),
        backend: app.backend(),
    };
    tokio::spawn(app.run_until_stopped());
    started
}

/// Creates the first administrator, [`ADMIN`] with [`PASSWORD`], as
/// `avip admin bootstrap` does.
pub async fn bootstrap(settings: &Settings) {
    crate::bootstrap_admin(settings, ADMIN, PASSWORD).await;
}
