//! Helpers for the black-box tests: a fresh database per test and the real
//! application on port 0.
//!
//! The backend comes from `AVIP_TEST_DATABASE_URL`: unset means SQLite (a new
//! file per test); a `postgres://…` URL names a server on which each test
//! creates, and finally drops, a database of its own.

use std::collections::HashMap;

pub mod bench;
pub mod client;
pub mod receiver;
pub mod seed;
pub mod served;
pub mod sms;
pub mod smtp;

pub use seed::seed_referrals;

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
        match std::env::var("AVIP_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(server_url) => TestDatabase::postgres(&server_url),
            None => TestDatabase::sqlite(),
        }
    }

    /// A new SQLite file.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("avip.db");
        TestDatabase {
            url: path.to_string_lossy().into_owned(),
            backend: Backend::Sqlite,
            server_url: None,
            name: String::new(),
            _dir: dir,
        }
    }

    /// A new database on the PostgreSQL server at `server_url`.
    pub fn postgres(server_url: &str) -> TestDatabase {
        assert!(
            server_url.starts_with("postgres"),
            "AVIP_TEST_DATABASE_URL must be a postgres:// URL, not {server_url:?}"
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let name = format!("avip_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = avip_db::connect(server_url)
            .unwrap_or_else(|e| panic!("AVIP_TEST_DATABASE_URL is set but unusable: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        let mut url = url::Url::parse(server_url).expect("AVIP_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            backend: Backend::Postgres,
            server_url: Some(server_url.to_owned()),
            name,
            _dir: dir,
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
    /// The port of `AVIP_METRICS_BIND`, when the test set it.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    pub mail_dir: tempfile::TempDir,
    pub settings: Settings,
    handle: avip_api::startup::ServerHandle,
}

pub const ADMIN_EMAIL: &str = "admin@example.org";
pub const ADMIN_PASSWORD: &str = "admin passphrase 1";

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

    /// `avip admin bootstrap`, as an operator runs it; returns an admin token.
    pub async fn bootstrap(&self) -> String {
        bootstrap_admin(&self.settings, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.password_token(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// POST /api/v1/auth/token with a password grant, form-encoded.
    pub async fn password_grant(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    pub async fn password_token(&self, email: &str, password: &str) -> String {
        let response = self.password_grant(email, password).await;
        assert_eq!(response.status(), 200, "sign-in of {email}");
        let body: serde_json::Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A request with a bearer token.
    pub async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Like [`call`](Self::call), asserting the status; returns the JSON body.
    pub async fn expect(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        status: u16,
    ) -> serde_json::Value {
        let response = self.call(token, method, path, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Stops the server (as SIGTERM would) and waits for it.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Stops this process and starts another on the same database, with the
    /// environment changed by `adjust`: an operator changing a setting and
    /// restarting.
    pub async fn restart(
        self,
        adjust: impl FnOnce(&mut HashMap<String, String>),
        sla_engine: bool,
    ) -> TestApp {
        self.stop().await;
        let mut env = test_env(&self.db, self.mail_dir.path());
        adjust(&mut env);
        start(self.db, self.mail_dir, env, sla_engine).await
    }

    /// A second instance on the same database (as behind a load balancer),
    /// with its own SLA engine when `sla_engine`. Stopped by its handle.
    pub async fn another_instance(
        &self,
        adjust: impl FnOnce(&mut HashMap<String, String>),
        sla_engine: bool,
    ) -> avip_api::startup::ServerHandle {
        self.another_instance_on_a_port(adjust, sla_engine).await.0
    }

    /// [`another_instance`](Self::another_instance), and the port it serves.
    pub async fn another_instance_on_a_port(
        &self,
        adjust: impl FnOnce(&mut HashMap<String, String>),
        sla_engine: bool,
    ) -> (avip_api::startup::ServerHandle, u16) {
        let mut env = test_env(&self.db, self.mail_dir.path());
        adjust(&mut env);
        let settings = Settings::from_map(&env).expect("the test settings are valid");
        let app = Application::build_with(
            settings,
            ServerOptions {
                workers: Some(1),
                handle_signals: false,
                sla_engine,
                record_reads: true,
            },
        )
        .await
        .expect("the second instance starts");
        let handle = app.handle();
        let port = app.port();
        tokio::spawn(app.run_until_stopped());
        (handle, port)
    }
}

/// Starts the real application on port 0 with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Same, after `adjust` has changed the environment it is configured from.
/// The SLA engine does not run: tests that want it use [`spawn_app_with_engine`].
pub async fn spawn_app_with(adjust: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn(adjust, false).await
}

/// The application with its SLA engine running, as `avip serve` runs it.
pub async fn spawn_app_with_engine(adjust: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    spawn(adjust, true).await
}

async fn spawn(adjust: impl FnOnce(&mut HashMap<String, String>), sla_engine: bool) -> TestApp {
    let db = TestDatabase::new();
    let mail_dir = tempfile::tempdir().expect("a temporary directory");
    let mut env = test_env(&db, mail_dir.path());
    adjust(&mut env);
    start(db, mail_dir, env, sla_engine).await
}

async fn start(
    db: TestDatabase,
    mail_dir: tempfile::TempDir,
    env: HashMap<String, String>,
    sla_engine: bool,
) -> TestApp {
    let settings = Settings::from_map(&env).expect("the test settings are valid");
    let app = Application::build_with(
        settings.clone(),
        ServerOptions {
            workers: Some(1),
            handle_signals: false,
            sla_engine,
            record_reads: true,
        },
    )
    .await
    .expect("the application starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        mail_dir,
        settings,
        handle,
    }
}

/// Creates the first administrator, "Admin", as `avip admin bootstrap` does.
pub async fn bootstrap_admin(settings: &Settings, email: &str, password: &str) {
    let (settings, email, password) = (settings.clone(), email.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        avip_api::admin::run(
            &settings,
            avip_api::admin::AdminCommand::Bootstrap {
                email,
                password,
                name: "Admin".into(),
            },
        )
    })
    .await
    .expect("the bootstrap task")
    .expect("bootstrap works on an empty database");
}

/// Today as the service counts days: in Paris. Between 22:00 or 23:00 UTC
/// and midnight it is already tomorrow there, so a date taken in UTC would
/// be the service's yesterday.
/// Reads `read` every 100 ms until `done` holds for what it read, or
/// `timeout` passes; returns the last reading either way.
pub async fn wait_until<T>(
    timeout: std::time::Duration,
    read: impl Fn() -> Vec<T>,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let start = std::time::Instant::now();
    loop {
        let read = read();
        if done(&read) || start.elapsed() > timeout {
            return read;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn today() -> chrono::NaiveDate {
    avip_sla_engine::clock::paris_date(chrono::Utc::now())
}
