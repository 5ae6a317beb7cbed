//! Each endpoint as a fraction of the HTTP limit of this machine, for
//! BENCHMARKS.md (measurements, not assertions). The release binary
//! `avip serve` runs on SQLite, then on PostgreSQL when a server is named,
//! and `wrk` (2 threads, 16 connections) loads, in turn:
//!
//! - `GET /health`, the service's trivial JSON handler: the limit;
//! - `GET /api/v1/me`;
//! - `GET /api/v1/referrals/{id}` (which also writes the access log);
//! - a list page of 50 referrals, filtered by crèche and status;
//! - `POST /api/v1/referrals`, every body a new family.
//!
//! The resident memory of the idle service is read after start.
//!
//!     scripts/bench-limits        # installs wrk, builds the release binary, runs this
//!
//! Settings: `BENCH_SECONDS` per measurement (default 10), `BENCH_ROWS`
//! referrals seeded before the reads (default 100,000), and
//! `AVIP_TEST_DATABASE_URL` (a PostgreSQL server) for the second backend.

use std::process::Command;

use avip_db::model::{CrecheId, OrganizationId};
use avip_tests::TestDatabase;
use avip_tests::served::{Served, territory};
use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// What `wrk` said of one run.
struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Answers other than 2xx/3xx, and socket errors.
    failures: u64,
}

fn millis(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        _ => f64::NAN,
    }
}

fn parse(output: &str) -> Run {
    let mut run = Run {
        per_second: 0.0,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        failures: 0,
    };
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => run.per_second = n.parse().unwrap_or(0.0),
            ["50%", t] => run.p50_ms = millis(t),
            ["99%", t] => run.p99_ms = millis(t),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.failures += n.parse().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                run.failures += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    run
}

fn wrk(url: &str, token: Option<&str>, script: Option<&std::path::Path>, seconds: usize) -> Run {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c16", &format!("-d{seconds}s"), "--latency"]);
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk is missing: run scripts/bench-limits, which installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// A wrk script posting a new family each time, to one of `creches`.
fn intake_script(dir: &std::path::Path, creches: &[String], token: &str) -> std::path::PathBuf {
    let today = Utc::now().date_naive();
    let body = json!({"creche_id": "@CRECHE@",
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org"},
        "parent": {"first_name": "Amina", "last_name": "@FAMILY@", "phone": "0612345678",
                   "postal_code": "83000", "commune": "Toulon", "situation": "job_seeker"},
        "children": [{"first_name": "@CHILD@", "birth_date": (today - Days::days(400)).to_string()}],
        "needs": {"desired_start_date": (today + Days::days(10)).to_string(), "days_per_week": 4},
        "insertion_project": {"kind": "training"},
        "consent": {"given": true, "date": today.to_string()}});
    let creches: Vec<String> = creches.iter().map(|c| format!("{c:?}")).collect();
    let script = format!(
        r#"local template = [[{body}]]
local creches = {{{creches}}}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
request = function()
  counter = counter + 1
  local n = "T" .. tid .. "N" .. counter
  local body = template:gsub("@CRECHE@", creches[counter % #creches + 1])
  body = body:gsub("@FAMILY@", "Famille" .. n)
  body = body:gsub("@CHILD@", "Enfant" .. n)
  return wrk.format("POST", "/api/v1/referrals",
    {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}"}}, body)
end
"#,
        creches = creches.join(", "),
    );
    let path = dir.join("intake.lua");
    std::fs::write(&path, script).unwrap();
    path
}

async fn measure(db: TestDatabase, rows: usize, seconds: usize) {
    println!("\n## {} ({rows} referrals seeded)\n", db.backend.name());
    let server = Served::start(&db.url, &[]).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    println!(
        "resident memory of the idle service after start: {:.1} MB",
        server.rss_kib() as f64 / 1024.0
    );
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let t = territory(&client, &base).await;
    {
        let url = db.url.clone();
        let creches: Vec<CrecheId> = t
            .creches
            .iter()
            .map(|c| CrecheId::parse(c).unwrap())
            .collect();
        let org = OrganizationId::parse(&t.france_travail).unwrap();
        tokio::task::spawn_blocking(move || avip_tests::seed_referrals(&url, rows, &creches, &org))
            .await
            .unwrap();
    }
    let list = format!(
        "{base}/api/v1/referrals?creche_id={}&status=received&limit=50",
        t.creches[0]
    );
    let page: Value = client
        .get(&list)
        .bearer_auth(&t.coordinator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert!(rows < 10_000 || items.len() == 50, "a full page to read");
    let one = format!(
        "{base}/api/v1/referrals/{}",
        items[0]["id"].as_str().unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let script = intake_script(dir.path(), &t.creches, &t.prescriber);

    let limit = wrk(&format!("{base}/health"), None, None, seconds);
    let runs = [
        ("`GET /health` (the limit)", limit),
        (
            "`GET /api/v1/me`",
            wrk(
                &format!("{base}/api/v1/me"),
                Some(&t.coordinator),
                None,
                seconds,
            ),
        ),
        (
            "`GET /api/v1/referrals/{id}`",
            wrk(&one, Some(&t.coordinator), None, seconds),
        ),
        (
            "list page of 50 (crèche + status)",
            wrk(&list, Some(&t.coordinator), None, seconds),
        ),
        (
            "`POST /api/v1/referrals`",
            wrk(
                &format!("{base}/api/v1/referrals"),
                None,
                Some(&script),
                seconds,
            ),
        ),
    ];
    let limit = runs[0].1.per_second;
    println!("| request | per second | of the limit | p50 | p99 | failures |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, run) in &runs {
        println!(
            "| {name} | {:.0} | {:.1} % | {:.2} ms | {:.2} ms | {} |",
            run.per_second,
            100.0 * run.per_second / limit,
            run.p50_ms,
            run.p99_ms,
            run.failures
        );
    }
    println!(
        "resident memory after the runs: {:.1} MB",
        server.rss_kib() as f64 / 1024.0
    );
}

#[tokio::main]
async fn main() {
    let rows = env_usize("BENCH_ROWS", 100_000);
    let seconds = env_usize("BENCH_SECONDS", 10);
    println!(
        "wrk -t2 -c16 -d{seconds}s, release avip serve, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    measure(TestDatabase::sqlite(), rows, seconds).await;
    match std::env::var("AVIP_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            measure(TestDatabase::postgres(&server), rows, seconds).await
        }
        _ => println!("\n(PostgreSQL: set AVIP_TEST_DATABASE_URL to a server to measure it too)"),
    }
}
