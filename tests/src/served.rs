//! The release binary `avip serve` as an operator runs it, for the benches
//! that measure it from outside (`soak`, `limits`): started on a database
//! of the bench's choosing with a clean environment, its resident memory
//! read from `/proc`, and a small territory set up through its API.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{password_token, post_ok};

/// Every account's password.
pub const PASSWORD: &str = "a long passphrase";

/// The release binary: `AVIP_BIN`, or `target/release/avip`.
pub fn release_binary() -> String {
    let bin = std::env::var("AVIP_BIN").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
        format!("{target}/release/avip")
    });
    assert!(
        std::path::Path::new(&bin).exists(),
        "{bin} is missing: cargo build --release --bin avip"
    );
    bin
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `avip serve`, killed when dropped.
pub struct Served {
    child: Child,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Bootstraps `admin@example.org` on `database_url`, then serves it
    /// with `settings` added to the environment, and waits until ready.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Served {
        let bin = release_binary();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let command = || {
            let mut cmd = Command::new(&bin);
            cmd.current_dir(dir.path())
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("DATABASE_URL", database_url)
                .env("AVIP_JWT_SECRET", "bench-secret-0123456789abcdef0123456789")
                .env("AVIP_BIND", format!("127.0.0.1:{port}"))
                .env("AVIP_TOKEN_RATE_LIMIT", "1000000")
                .env("AVIP_INTAKE_RATE_LIMIT", "1000000")
                .env("RUST_LOG", "warn")
                .envs(settings.iter().copied());
            cmd
        };
        let out = command()
            .args(["admin", "bootstrap", "--email", "admin@example.org"])
            .args(["--password", PASSWORD])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let child = command()
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let served = Served {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let ready = client.get(format!("{}/ready", served.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return served;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("avip serve did not become ready");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`territory`] made, with a token for each role.
pub struct Territory {
    pub prescriber: String,
    pub coordinator: String,
    pub caf: String,
    /// The prescriber's organisation.
    pub france_travail: String,
    /// Four crèches of one operator, all the coordinator's.
    pub creches: Vec<String>,
}

/// One prescriber organisation, one operator with four crèches, a CAF,
/// and a person of each role, made through the API.
pub async fn territory(client: &reqwest::Client, base: &str) -> Territory {
    let token = |email: &'static str| password_token(client, base, email, PASSWORD);
    let admin = token("admin@example.org").await;
    let post = |path: &str, body: Value| {
        let (url, admin) = (format!("{base}{path}"), admin.clone());
        async move { post_ok(client, &url, &admin, &body).await }
    };
    let org = |kind: &str| json!({"kind": kind, "name": kind, "departement": "83"});
    let ft = post("/api/v1/organizations", org("france_travail")).await;
    let op = post("/api/v1/organizations", org("creche_operator")).await;
    let caf = post("/api/v1/organizations", org("caf")).await;
    let mut creches = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let c = post("/api/v1/creches", json!({"operator_id": op["id"], "name": name, "address": "1 rue",
            "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
            "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon","tue","wed","thu","fri"]}})).await;
        creches.push(c["id"].as_str().unwrap().to_owned());
    }
    for (email, role, org) in [
        ("p@example.org", "prescriber", &ft),
        ("caf@example.org", "caf", &caf),
    ] {
        post(
            "/api/v1/users",
            json!({"email": email, "name": email, "role": role,
            "organization_id": org["id"], "password": PASSWORD}),
        )
        .await;
    }
    post(
        "/api/v1/users",
        json!({"email": "c@example.org", "name": "C", "role": "coordinator",
        "organization_id": op["id"], "password": PASSWORD, "creche_ids": creches}),
    )
    .await;
    Territory {
        prescriber: token("p@example.org").await,
        coordinator: token("c@example.org").await,
        caf: token("caf@example.org").await,
        france_travail: ft["id"].as_str().unwrap().to_owned(),
        creches,
    }
}
