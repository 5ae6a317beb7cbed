//! Helpers for the black-box tests: a fresh database per test and the real
//! application on port 0.
//!
//! The backend comes from `AVIP_TEST_DATABASE_URL`: unset means SQLite (a new
//! file per test); a `postgres://…` URL names a server on which each test
//! creates, and finally drops, a database of its own.

use std::collections::HashMap;

use avip_api::{Application, ServerOptions, Settings};
use avip_db::{Backend, DbConnection};
use diesel::connection::SimpleConnection;

pub const TEST_JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

/// A database of this test's own, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    server_url: Option<String>,
    name: String,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub fn new() -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let name = format!("avip_test_{}", uuid::Uuid::now_v7().simple());
        match std::env::var("AVIP_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(server_url) if server_url.starts_with("postgres") => {
                let mut admin = avip_db::connect(&server_url)
                    .unwrap_or_else(|e| panic!("AVIP_TEST_DATABASE_URL is set but unusable: {e}"));
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("CREATE DATABASE");
                let mut url =
                    url::Url::parse(&server_url).expect("AVIP_TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDatabase {
                    url: url.to_string(),
                    backend: Backend::Postgres,
                    server_url: Some(server_url),
                    name,
                    _dir: dir,
                }
            }
            Some(other) => {
                panic!("AVIP_TEST_DATABASE_URL must be a postgres:// URL, not {other:?}")
            }
            None => {
                let path = dir.path().join("avip.db");
                TestDatabase {
                    url: path.to_string_lossy().into_owned(),
                    backend: Backend::Sqlite,
                    server_url: None,
                    name,
                    _dir: dir,
                }
            }
        }
    }

    /// A direct connection, outside the application's pool.
    pub fn connect(&self) -> DbConnection {
        avip_db::connect(&self.url).expect("the test database accepts connections")
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        TestDatabase::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(server_url) = &self.server_url
            && let Ok(mut admin) = avip_db::connect(server_url)
        {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The settings an operator would give, as environment variables, with the
/// test's database and port 0.
pub fn test_env(db: &TestDatabase, mail_dir: &std::path::Path) -> HashMap<String, String> {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("AVIP_BIND", "127.0.0.1:0"),
        ("AVIP_DB_POOL_SIZE", "4"),
        ("AVIP_JWT_SECRET", TEST_JWT_SECRET),
        ("AVIP_MAIL_DIR", &mail_dir.to_string_lossy()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The application running in this process, reached over real HTTP.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub mail_dir: tempfile::TempDir,
    handle: avip_api::startup::ServerHandle,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request is sent")
    }

    /// Stops the server (as SIGTERM would) and waits for it.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// Starts the real application on port 0 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Same, after `adjust` has changed the environment it is configured from.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    let db = TestDatabase::new();
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let mut env = test_env(&db, mail_dir.path());
    adjust(&mut env);
    let settings = Settings::from_map(&env).expect("the test settings are valid");
    let app = Application::build_with(
        settings,
        ServerOptions {
            workers: Some(1),
            handle_signals: false,
        },
    )
    .await
    .expect("the application starts");
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        mail_dir,
        handle,
    }
}
