//! The `avip` binary as an operator runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn avip(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_avip"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Ok(url) = std::fs::read_to_string(dir.join(DATABASE_FILE)) {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// Where a place on PostgreSQL notes its database's URL.
const DATABASE_FILE: &str = ".database_url";

/// Whether this run is the PostgreSQL pass of `scripts/test`.
fn on_postgres() -> bool {
    std::env::var("AVIP_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

/// A test's working directory and its database: `./avip.db` in it on
/// SQLite (the default an operator gets); in the PostgreSQL pass, a
/// database of its own that every command run there uses (dropped at the
/// end).
struct Place {
    dir: tempfile::TempDir,
    _db: Option<avip_tests::TestDatabase>,
}

impl Place {
    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

fn temp_dir() -> Place {
    let dir = tempfile::tempdir().unwrap();
    let db = on_postgres().then(avip_tests::TestDatabase::new);
    if let Some(db) = &db {
        std::fs::write(dir.path().join(DATABASE_FILE), &db.url).unwrap();
    }
    Place { dir, _db: db }
}

/// The database the commands run in `dir` use.
fn database_url(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join(DATABASE_FILE))
        .unwrap_or_else(|_| dir.join("avip.db").to_string_lossy().into_owned())
}

#[test]
fn an_unreachable_database_fails_fast_with_the_reason_on_one_line() {
    let dir = temp_dir();
    let dir = dir.path();
    for (url, expected) in [
        ("postgres://avip:pw@127.0.0.1:1/avip", "Connection refused"),
        ("/nonexistent-dir/avip.db", "/nonexistent-dir/avip.db"),
    ] {
        for command in ["migrate", "serve"] {
            let started = Instant::now();
            let output = avip(dir)
                .arg(command)
                .env("DATABASE_URL", url)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{command} {url}: {stderr}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{command} {url} took {:?}",
                started.elapsed()
            );
            let last = stderr.lines().last().unwrap_or_default();
            assert!(
                last.starts_with("avip: ") && last.contains(expected),
                "{command} {url}: {stderr}"
            );
            assert!(
                !stderr.contains(":pw@"),
                "the password was printed: {stderr}"
            );
        }
    }
}

#[test]
fn an_unsupported_database_url_is_a_configuration_error() {
    let output = avip(temp_dir().path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root@h/db")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn production_names_each_missing_secret() {
    let output = avip(temp_dir().path())
        .arg("serve")
        .env("AVIP_ENV", "production")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for name in [
        "AVIP_JWT_SECRET",
        "AVIP_SMTP_URL",
        "AVIP_PSEUDONYM_KEY",
        "AVIP_OPERATOR_NAME",
        "AVIP_DPO_EMAIL",
        "AVIP_SUPPORT_EMAIL",
    ] {
        assert!(stderr.contains(name), "{name} not named: {stderr}");
    }
}

#[test]
fn demo_refuses_a_production_service() {
    let output = avip(temp_dir().path())
        .arg("demo")
        .env("AVIP_ENV", "production")
        .env("AVIP_PUBLIC_URL", "https://avip.example.org")
        .env("AVIP_JWT_SECRET", "0123456789abcdef0123456789abcdef-prod")
        .env("AVIP_SMTP_URL", "smtp://localhost:25")
        .env(
            "AVIP_PSEUDONYM_KEY",
            "fedcba9876543210fedcba9876543210-prod",
        )
        .envs([
            ("AVIP_OPERATOR_NAME", "Communauté d’agglomération Exemple"),
            (
                "AVIP_OPERATOR_ADDRESS",
                "1 place de la Mairie, 83000 Toulon",
            ),
            ("AVIP_PUBLICATION_DIRECTOR", "Camille Martin, présidente"),
            ("AVIP_HOSTING", "Hébergeur Exemple, Paris"),
            ("AVIP_DPO_EMAIL", "dpo@example.org"),
            ("AVIP_SUPPORT_EMAIL", "avip@example.org"),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("AVIP_ENV=production"), "{stderr}");
    assert!(!stderr.contains("invalid configuration"), "{stderr}");
}

#[test]
fn migrate_applies_then_reports_up_to_date() {
    let dir = temp_dir();
    let dir = dir.path();
    let first = avip(dir).arg("migrate").output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).starts_with("applied "));
    if !on_postgres() {
        assert!(
            dir.join("avip.db").exists(),
            "DATABASE_URL unset should mean ./avip.db"
        );
    }
    let second = avip(dir).arg("migrate").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&second.stdout).trim(),
        "the database is up to date"
    );
}

#[test]
fn serve_logs_request_ids_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir();
    let dir = dir.path();
    let mut child = avip(dir)
        .env("AVIP_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split(" port=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .expect("the service logs the port it listens on");

    let request_id = http_get(port, "/nope");
    assert!(!request_id.is_empty());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains(&format!("request_id={request_id}"))),
        "no log line carries the request id {request_id}: {rest:#?}"
    );
}

/// A bare HTTP/1.1 GET; returns the `x-request-id` response header.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .map(str::to_owned)
        .unwrap_or_default()
}

#[test]
fn passwords_and_secrets_never_reach_the_logs() {
    let dir = temp_dir();
    let dir = dir.path();
    let secret = "jwt-secret-that-must-not-be-logged-0123456789";
    let password = "admin passphrase never logged";
    let bootstrap = avip(dir)
        .args([
            "admin",
            "bootstrap",
            "--email",
            "admin@example.org",
            "--password",
            password,
        ])
        .env("AVIP_JWT_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        bootstrap.status.success(),
        "{}",
        String::from_utf8_lossy(&bootstrap.stderr)
    );
    let mut child = avip(dir)
        .env("AVIP_BIND", "127.0.0.1:0")
        .env("AVIP_JWT_SECRET", secret)
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|l| seen.push(l.clone()))
        .find_map(|line| {
            line.split(" port=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .expect("the service logs the port it listens on");
    for attempt in [password, "wrong passphrase never logged"] {
        let body = format!(
            "grant_type=password&username=admin%40example.org&password={}",
            attempt.replace(' ', "+")
        );
        http_post_form(port, "/api/v1/auth/token", &body);
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    seen.extend(lines.map_while(Result::ok));
    let logs = seen.join("\n");
    assert!(
        logs.contains("/api/v1/auth/token"),
        "the requests were not logged at all: {logs}"
    );
    for needle in [secret, password, "never logged", "passphrase"] {
        assert!(!logs.contains(needle), "{needle:?} appears in the logs");
    }
}

fn http_post_form(port: u16, path: &str, body: &str) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
}

const CLI_SECRET: &str = "cli-test-secret-0123456789abcdef0123456789";

/// Runs `avip admin …` in `dir`; returns stdout, failing with stderr.
fn admin(dir: &std::path::Path, args: &[&str]) -> String {
    let out = avip(dir)
        .arg("admin")
        .args(args)
        .env("AVIP_JWT_SECRET", CLI_SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "avip admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn admin_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = admin(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn an_operator_scripts_every_admin_resource_from_the_command_line() {
    let dir = temp_dir();
    let dir = dir.path();
    admin(
        dir,
        &[
            "bootstrap",
            "--email",
            "admin@example.org",
            "--password",
            "a long admin passphrase",
        ],
    );
    let ft = admin_json(
        dir,
        &[
            "create-organization",
            "--kind",
            "france_travail",
            "--name",
            "France Travail Toulon",
            "--departement",
            "83",
        ],
    );
    let ft_id = ft["id"].as_str().unwrap();
    let renamed = admin_json(
        dir,
        &[
            "update-organization",
            ft_id,
            "--name",
            "France Travail Toulon Est",
        ],
    );
    assert_eq!(renamed["name"], "France Travail Toulon Est");
    assert_eq!(renamed["departement"], "83");

    let operator = admin_json(
        dir,
        &[
            "create-organization",
            "--kind",
            "creche_operator",
            "--name",
            "Ville de Toulon",
            "--departement",
            "83",
        ],
    );
    let operator_id = operator["id"].as_str().unwrap();
    let creche = admin_json(
        dir,
        &[
            "create-creche",
            "--operator-id",
            operator_id,
            "--name",
            "Les Petits Pas",
            "--address",
            "12 rue Victor Hugo",
            "--postal-code",
            "83000",
            "--commune",
            "Toulon",
            "--avip-places",
            "6",
        ],
    );
    let creche_id = creche["id"].as_str().unwrap();
    let coordinator = admin_json(
        dir,
        &[
            "create-user",
            "--email",
            "c.martin@example.org",
            "--name",
            "Claire Martin",
            "--role",
            "coordinator",
            "--organization-id",
            operator_id,
            "--password",
            "a long coordinator passphrase",
        ],
    );
    let coordinator_id = coordinator["id"].as_str().unwrap();
    let coordinator = admin_json(
        dir,
        &[
            "update-user",
            coordinator_id,
            "--creche-id",
            creche_id,
            "--name",
            "Claire Martin-Durand",
        ],
    );
    assert_eq!(coordinator["creche_ids"], serde_json::json!([creche_id]));
    assert_eq!(coordinator["name"], "Claire Martin-Durand");

    let creche = admin_json(
        dir,
        &[
            "update-creche",
            creche_id,
            "--avip-places",
            "8",
            "--escalation-email",
            "direction@example.org",
            "--opening-hours",
            r#"{"opens":"06:30","closes":"21:00","days":["mon","tue","wed","thu","fri","sat"]}"#,
        ],
    );
    assert_eq!(creche["avip_places"], 8);
    assert_eq!(creche["escalation_email"], "direction@example.org");
    assert_eq!(creche["opening_hours"]["closes"], "21:00");
    assert_eq!(
        creche["coordinator_ids"],
        serde_json::json!([coordinator_id])
    );
    let creche = admin_json(dir, &["update-creche", creche_id, "--no-escalation-email"]);
    assert_eq!(creche["escalation_email"], serde_json::Value::Null);
    assert_eq!(creche["avip_places"], 8);

    // A token works while the person is active, and is refused once disabled.
    assert!(admin(dir, &["token", "--email", "c.martin@example.org"]).starts_with("ey"));
    let disabled = admin_json(dir, &["disable-user", coordinator_id]);
    assert_eq!(disabled["active"], false);
    let refused = avip(dir)
        .args(["admin", "token", "--email", "c.martin@example.org"])
        .env("AVIP_JWT_SECRET", CLI_SECRET)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("disabled"));
    let enabled = admin_json(dir, &["update-user", coordinator_id, "--enable"]);
    assert_eq!(enabled["active"], true);

    let client = admin_json(
        dir,
        &[
            "create-api-client",
            "--organization-id",
            ft_id,
            "--label",
            "SI France Travail",
        ],
    );
    assert!(client["client_secret"].as_str().unwrap().len() >= 32);
    let client_id = client["client_id"].as_str().unwrap();
    assert!(admin(dir, &["token", "--client-id", client_id]).starts_with("ey"));
    let disabled = admin_json(dir, &["disable-api-client", client["id"].as_str().unwrap()]);
    assert_eq!(disabled["active"], false);
    assert!(disabled.get("client_secret").is_none());
}

#[test]
fn admin_commands_name_each_invalid_field_and_exit_non_zero() {
    let dir = temp_dir();
    let dir = dir.path();
    let org = admin_json(
        dir,
        &[
            "create-organization",
            "--kind",
            "mission_locale",
            "--name",
            "Mission locale Toulon",
            "--departement",
            "83",
        ],
    );
    let out = avip(dir)
        .args([
            "admin",
            "update-organization",
            org["id"].as_str().unwrap(),
            "--departement",
            "999",
            "--name",
            "",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("departement:"), "{stderr}");
    assert!(stderr.contains("name:"), "{stderr}");

    let out = avip(dir)
        .args(["admin", "disable-user", "not-an-id"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an id"));

    let out = avip(dir)
        .args([
            "admin",
            "disable-api-client",
            "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such resource"));
}

/// A bare HTTP/1.1 request with a bearer token; returns the whole response.
fn http_with_token(port: u16, method: &str, path: &str, token: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn demo_fills_an_empty_database_once_and_no_family_data_reaches_the_logs() {
    use avip_db::model::ReferralStatus;
    use avip_db::referrals::{ReferralFilter, list};
    let dir = temp_dir();
    let dir = dir.path();
    let secret = CLI_SECRET;
    let demo = avip(dir)
        .arg("demo")
        .env("RUST_LOG", "debug")
        .env("AVIP_JWT_SECRET", secret)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout);
    let mut logs = String::from_utf8_lossy(&demo.stderr).into_owned();
    assert!(demo.status.success(), "{logs}");
    assert!(stdout.contains("36 referrals"), "{stdout}");
    assert!(stdout.contains("coordination@toulon.demo.avip.example"));
    assert!(stdout.contains("curl -s -d grant_type=password"));

    // Every status is there, some referrals were answered late and some
    // are still waiting past their deadline.
    let mut conn = avip_db::connect(&database_url(dir)).unwrap();
    let page = avip_db::page::PageRequest {
        after: None,
        limit: 1000,
    };
    let all = list(&mut conn, &ReferralFilter::default(), &page)
        .unwrap()
        .items;
    assert_eq!(all.len(), 36);
    for status in ReferralStatus::ALL {
        assert!(
            all.iter().any(|r| r.referral.status == *status),
            "no demo referral is {status}"
        );
    }
    let late = all.iter().filter(|r| {
        matches!((r.referral.first_response_at, r.referral.sla.due_at), (Some(a), Some(d)) if a > d)
    });
    assert!(late.count() >= 1, "no referral was answered late");
    let overdue = ReferralFilter {
        overdue_at: Some(chrono::Utc::now().naive_utc()),
        ..ReferralFilter::default()
    };
    assert!(!list(&mut conn, &overdue, &page).unwrap().items.is_empty());

    let again = avip(dir).arg("demo").output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));

    // The service at debug level, read and moved over HTTP.
    let token = admin(
        dir,
        &["token", "--email", "coordination@toulon.demo.avip.example"],
    );
    let token = token.trim();
    let mut child = KillOnDrop(
        avip(dir)
            .env("AVIP_BIND", "127.0.0.1:0")
            .env("AVIP_JWT_SECRET", secret)
            .env("RUST_LOG", "debug")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let port: u16 = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|l| seen.push(l.clone()))
        .find_map(|line| {
            line.split(" port=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
        .unwrap();
    let listed = http_with_token(port, "GET", "/api/v1/referrals?status=received", token, "");
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    let id = listed
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let moved = http_with_token(
        port,
        "POST",
        &format!("/api/v1/referrals/{id}/transitions"),
        token,
        r#"{"to": "contacted", "note": "appel à la famille"}"#,
    );
    assert!(moved.starts_with("HTTP/1.1 200"), "{moved}");
    let refused = http_with_token(
        port,
        "POST",
        "/api/v1/referrals",
        token,
        r#"{"creche_id": "x", "parent": {"last_name": "Benali"}}"#,
    );
    assert!(refused.starts_with("HTTP/1.1 4"), "{refused}");
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    child.0.wait().unwrap();
    seen.extend(lines.map_while(Result::ok));
    logs.push_str(&seen.join("\n"));
    assert!(logs.contains("referral received") && logs.contains("referral moved"));
    assert_no_demo_family(&logs, "the logs");
    assert!(!logs.contains("appel à la"), "a note appears in the logs");
}

/// A server process that a failing test does not leave behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sweep_lines(stdout: &[u8]) -> Vec<(String, String)> {
    // "  <stage> <reference> <crèche> due <t>  -> <recipients>"
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let mut words = l.split_whitespace();
            (
                words.next().unwrap_or_default().to_owned(),
                words.next().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn sla_sweep_dry_run_predicts_what_a_sweep_then_fires() {
    let dir = temp_dir();
    let dir = dir.path();
    let demo = avip(dir).arg("demo").output().unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let refused = avip(dir)
        .args(["sla", "sweep", "--at", "2030-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("requires --dry-run"));
    let bad = avip(dir)
        .args(["sla", "sweep", "--dry-run", "--at", "next tuesday"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    let preview = avip(dir)
        .args(["sla", "sweep", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        preview.status.success(),
        "{}",
        String::from_utf8_lossy(&preview.stderr)
    );
    let predicted = sweep_lines(&preview.stdout);
    // The demo's two families waiting past their deadline (80 h and 100 h).
    let stages: Vec<&str> = predicted.iter().map(|(s, _)| s.as_str()).collect();
    assert!(
        stages.contains(&"breach") && stages.contains(&"escalation"),
        "{stages:?}"
    );
    // A dry run writes nothing: the same preview again.
    let again = avip(dir)
        .args(["sla", "sweep", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(sweep_lines(&again.stdout), predicted);
    // In ten days every family still waiting is escalated.
    let later = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let future = avip(dir)
        .args(["sla", "sweep", "--dry-run", "--at", &later])
        .output()
        .unwrap();
    let escalations = sweep_lines(&future.stdout)
        .into_iter()
        .filter(|(s, _)| s == "escalation")
        .count();
    assert_eq!(
        escalations,
        4,
        "{}",
        String::from_utf8_lossy(&future.stdout)
    );

    let sweep = avip(dir).args(["sla", "sweep"]).output().unwrap();
    assert!(
        sweep.status.success(),
        "{}",
        String::from_utf8_lossy(&sweep.stderr)
    );
    assert_eq!(
        sweep_lines(&sweep.stdout),
        predicted,
        "the sweep fired what the preview said"
    );
    let out = String::from_utf8_lossy(&sweep.stdout);
    // Each breach is also told to the referral's referent.
    let mails = predicted.len() + predicted.iter().filter(|(s, _)| s == "breach").count();
    assert!(out.contains(&format!("{mails} e-mail(s) queued")), "{out}");
    // The sweep also asks the referents of the demo's old exits the
    // parent's situation 3 months after (the engine's other work).
    let asked: usize = out
        .split("outcome requests and reminders: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the sweep says what else it did");
    let mails = mails + asked;
    assert!(out.contains(&format!("delivery: {mails} sent")), "{out}");
    let emls = std::fs::read_dir(dir.join("mail-out"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
        })
        .count();
    assert_eq!(emls, mails);
    // Fired once: a second sweep finds none of them again.
    let second = avip(dir).args(["sla", "sweep"]).output().unwrap();
    for item in sweep_lines(&second.stdout) {
        assert!(!predicted.contains(&item), "{item:?} fired twice");
    }
}

#[test]
fn a_killed_engine_restarted_sends_nothing_twice_and_loses_nothing() {
    use avip_tests::smtp::SmtpSink;
    let dir = temp_dir();
    let dir = dir.path();
    let demo = avip(dir).arg("demo").output().unwrap();
    assert!(demo.status.success());
    let sink = SmtpSink::start();
    sink.refuse(true);
    let serve = || {
        KillOnDrop(
            avip(dir)
                .arg("serve")
                .env("AVIP_BIND", "127.0.0.1:0")
                .env("AVIP_SMTP_URL", sink.url())
                .env("AVIP_SLA_SCHEDULE", "* * * * * *")
                .env("AVIP_MAIL_RETRY", "1s")
                .env("AVIP_MAIL_RETRY_MAX", "1s")
                .env("AVIP_MAIL_LEASE", "2s")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = serve();
    wait("refused attempts", &|| sink.refused() >= 3);
    drop(first); // SIGKILL, in the middle of retrying
    let mut conn = avip_db::connect(&database_url(dir)).unwrap();
    let queued = avip_db::notifications::pending_count(&mut conn).unwrap() as usize;
    assert!(
        queued >= 2,
        "the sweep queued the late families' e-mails: {queued}"
    );
    assert!(sink.received().is_empty());

    sink.refuse(false);
    let _second = serve();
    wait("every queued e-mail", &|| sink.received().len() >= queued);
    std::thread::sleep(Duration::from_secs(3));
    let received = sink.received();
    let ids: std::collections::HashSet<String> = received.iter().map(|m| m.message_id()).collect();
    assert_eq!(ids.len(), received.len(), "nothing twice");
    assert_eq!(
        avip_db::notifications::pending_count(&mut conn).unwrap(),
        0,
        "nothing lost"
    );
    assert!(received.len() >= queued);
}

#[test]
fn sla_run_alone_sweeps_and_writes_eml_files_until_sigterm() {
    let dir = temp_dir();
    let dir = dir.path();
    let demo = avip(dir).arg("demo").output().unwrap();
    assert!(demo.status.success());
    let mut child = KillOnDrop(
        avip(dir)
            .args(["sla", "run"])
            .env("AVIP_SLA_SCHEDULE", "* * * * * *")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let emls = || {
        std::fs::read_dir(dir.join("mail-out"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    };
    let start = Instant::now();
    while emls() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no e-mail written"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "avip sla run did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
}

/// The references `avip retention run` printed.
fn retention_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn retention_run_previews_then_anonymises_and_logs_no_family_data() {
    let dir = temp_dir();
    let dir = dir.path();
    let demo = avip(dir)
        .arg("demo")
        .env("AVIP_JWT_SECRET", CLI_SECRET)
        .output()
        .unwrap();
    assert!(demo.status.success());
    let run = |dry_run: bool| {
        let mut cmd = avip(dir);
        cmd.args(["retention", "run", "--at", "2100-01-01T00:00:00Z"])
            .env("RUST_LOG", "debug")
            .env("AVIP_JWT_SECRET", CLI_SECRET);
        if dry_run {
            cmd.arg("--dry-run");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let preview = run(true);
    let due = retention_lines(&preview.stdout);
    assert!(!due.is_empty(), "the demo has closed referrals");
    assert!(due.iter().all(|r| r.starts_with("AVIP-83-")), "{due:?}");
    let done = run(false);
    assert_eq!(
        retention_lines(&done.stdout),
        due,
        "the preview named exactly what was done"
    );
    assert!(
        retention_lines(&run(false).stdout).is_empty(),
        "a second run finds nothing"
    );
    let mut conn = avip_db::connect(&database_url(dir)).unwrap();
    let page = avip_db::page::PageRequest {
        after: None,
        limit: 1000,
    };
    let all = avip_db::referrals::list(&mut conn, &Default::default(), &page)
        .unwrap()
        .items;
    let anonymised: Vec<_> = all
        .iter()
        .filter(|r| r.referral.anonymised_at.is_some())
        .collect();
    assert_eq!(anonymised.len(), due.len());
    assert!(
        anonymised
            .iter()
            .all(|r| r.family.parent_last_name.is_empty())
    );
    let logs = [preview, done]
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout)
        })
        .collect::<String>();
    assert_no_demo_family(&logs, "the retention's output");
}

/// Fails if `text` names any of the demo's families (names, e-mails, phones).
fn assert_no_demo_family(text: &str, what: &str) {
    for family in [
        "Benali",
        "Cherif",
        "Amina",
        "Yasmine",
        "Yanis",
        "famille.demo",
        "0612345",
    ] {
        assert!(!text.contains(family), "{family:?} appears in {what}");
    }
}

/// The retention job as `avip serve` runs it, on its schedule: the closed
/// families are anonymised, and nothing the service logged meanwhile (debug
/// level) names a family.
#[test]
fn the_served_retention_job_anonymises_on_schedule_and_logs_no_family_data() {
    let dir = temp_dir();
    let dir = dir.path();
    let demo = avip(dir)
        .arg("demo")
        .env("AVIP_JWT_SECRET", CLI_SECRET)
        .output()
        .unwrap();
    assert!(demo.status.success());
    let mut child = avip(dir)
        .arg("serve")
        .env("AVIP_BIND", "127.0.0.1:0")
        .env("AVIP_JWT_SECRET", CLI_SECRET)
        .env("RUST_LOG", "debug")
        .env("AVIP_RETENTION", "1d")
        .env("AVIP_RETENTION_SCHEDULE", "*/2 * * * * *")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let collected = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let url = database_url(dir);
    let anonymised = || -> usize {
        let mut conn = avip_db::connect(&url).unwrap();
        let page = avip_db::page::PageRequest {
            after: None,
            limit: 1000,
        };
        avip_db::referrals::list(&mut conn, &Default::default(), &page)
            .unwrap()
            .items
            .iter()
            .filter(|r| r.referral.anonymised_at.is_some())
            .count()
    };
    let started = Instant::now();
    while anonymised() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the scheduled job anonymised nothing in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // One more run, which finds nothing left to do.
    std::thread::sleep(Duration::from_millis(2500));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let logs = collected.join().unwrap().join("\n") + &stdout;
    assert!(
        logs.contains("retention: a batch of families anonymised")
            && logs.contains("retention run done"),
        "the job's progress is logged: {logs}"
    );
    assert_no_demo_family(&logs, "the service's log");
}

#[test]
fn backup_copies_sqlite_never_overwrites_and_points_postgresql_to_pg_dump() {
    let dir = temp_dir();
    let dir = dir.path();
    assert!(
        avip(dir)
            .arg("demo")
            .env("AVIP_JWT_SECRET", CLI_SECRET)
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = avip(dir).args(["backup", "copy.db"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if on_postgres() {
        assert_eq!(out.status.code(), Some(2), "nothing copied on PostgreSQL");
        assert!(
            stdout.starts_with("pg_dump --format=custom --file='copy.db' 'postgres://"),
            "{stdout}"
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("backup written: copy.db (")
            && stdout.contains("36 referrals), integrity check ok"),
        "{stdout}"
    );
    let again = avip(dir).args(["backup", "copy.db"]).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    let pg = avip(dir)
        .args(["backup", "avip.dump"])
        .env(
            "DATABASE_URL",
            "postgres://avip:s3cret@db.internal:5432/avip",
        )
        .output()
        .unwrap();
    assert_eq!(pg.status.code(), Some(2), "nothing was copied");
    let command = String::from_utf8_lossy(&pg.stdout);
    assert_eq!(
        command.trim(),
        "pg_dump --format=custom --file='avip.dump' 'postgres://avip@db.internal:5432/avip'"
    );
    assert!(!String::from_utf8_lossy(&pg.stderr).contains("s3cret"));
    assert!(!dir.join("avip.dump").exists());
}
