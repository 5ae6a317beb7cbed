//! A soak, for BENCHMARKS.md (a measurement, not an assertion): the release
//! binary `avip serve` on a fresh SQLite file, under mixed traffic for
//! `BENCH_SECONDS` (default 600) — intake, lists, transitions, follow-ups,
//! the SLA engine sweeping every 5 s, a CAF export every minute — counting
//! every answer that is not the one expected and sampling the server's
//! resident memory (VmRSS) every 10 s. Loopback only.
//!
//!     cargo build --release --bin avip
//!     cargo bench -p avip-tests --bench soak
//!
//! `AVIP_BIN` names another binary; `MALLOC_ARENA_MAX` is passed to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use avip_tests::served::{Served, Territory, territory};
use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    errors: AtomicUsize,
}

impl Tally {
    fn note(&self, what: &str, status: u16, expected: &[u16]) {
        if expected.contains(&status) {
            self.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("unexpected {status} for {what}");
        }
    }
}

fn referral(creche: &str, n: usize) -> Value {
    let today = Utc::now().date_naive();
    json!({"creche_id": creche,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org"},
        "parent": {"first_name": "Amina", "last_name": format!("Soak{n}"), "phone": "0612345678",
                   "postal_code": "83000", "commune": "Toulon", "situation": "job_seeker"},
        "children": [{"first_name": format!("Enfant{n}"), "birth_date": (today - Days::days(400)).to_string()}],
        "needs": {"desired_start_date": (today + Days::days(10)).to_string(), "days_per_week": 4},
        "insertion_project": {"kind": "training"},
        "consent": {"given": true, "date": today.to_string()}})
}

#[tokio::main]
async fn main() {
    let seconds = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600u64);
    // A fresh SQLite file; glibc's malloc arenas as asked, to tell them
    // from a leak.
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("avip.db");
    let arenas = std::env::var("MALLOC_ARENA_MAX").ok();
    let mut settings = vec![("AVIP_SLA_SCHEDULE", "*/5 * * * * *")];
    if let Some(arenas) = &arenas {
        settings.push(("MALLOC_ARENA_MAX", arenas));
    }
    let server = Served::start(database.to_str().unwrap(), &settings).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let Territory {
        prescriber,
        coordinator,
        caf: caf_token,
        creches,
        ..
    } = territory(&client, &base).await;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let mut tasks = Vec::new();
    // Intake, and a follow-up from the prescriber on each fourth referral.
    for worker in 0..2usize {
        let (client, base, stop, tally, token, creches) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            tally.clone(),
            prescriber.clone(),
            creches.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = worker;
            while !stop.load(Ordering::Relaxed) {
                let body = referral(&creches[n % creches.len()], n);
                let r = client.post(format!("{base}/api/v1/referrals")).bearer_auth(&token)
                    .json(&body).send().await.unwrap();
                let status = r.status().as_u16();
                tally.note("intake", status, &[201]);
                if status == 201 && n % 4 == 0 {
                    let v: Value = r.json().await.unwrap();
                    let f = client.post(format!("{base}/api/v1/referrals/{}/follow-ups", v["id"].as_str().unwrap()))
                        .bearer_auth(&token)
                        .json(&json!({"date": Utc::now().date_naive().to_string(), "participants": ["referent"],
                            "employment_status": "job_search"}))
                        .send().await.unwrap();
                    tally.note("follow-up", f.status().as_u16(), &[201]);
                }
                n += 2;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // The coordinator answers: lists of received referrals, each moved on.
    {
        let (client, base, stop, tally, token) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            tally.clone(),
            coordinator.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .get(format!("{base}/api/v1/referrals?status=received&limit=20"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                tally.note("list", r.status().as_u16(), &[200]);
                let page: Value = r.json().await.unwrap_or_default();
                for item in page["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .take(5)
                {
                    k += 1;
                    let to = match k % 3 {
                        0 => json!({"to": "contacted"}),
                        1 => json!({"to": "waitlisted"}),
                        _ => json!({"to": "declined", "reason": "no_place_available"}),
                    };
                    let m = client
                        .post(format!(
                            "{base}/api/v1/referrals/{}/transitions",
                            item["id"].as_str().unwrap()
                        ))
                        .bearer_auth(&token)
                        .json(&to)
                        .send()
                        .await
                        .unwrap();
                    tally.note("transition", m.status().as_u16(), &[200]);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    // Plain reads: lists with a cursor.
    {
        let (client, base, stop, tally, token) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            tally.clone(),
            coordinator.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut cursor: Option<String> = None;
            while !stop.load(Ordering::Relaxed) {
                let mut url = format!("{base}/api/v1/referrals?limit=50");
                if let Some(c) = &cursor {
                    url.push_str(&format!("&cursor={c}"));
                }
                let r = client.get(url).bearer_auth(&token).send().await.unwrap();
                tally.note("read", r.status().as_u16(), &[200]);
                let page: Value = r.json().await.unwrap_or_default();
                cursor = page["next_cursor"].as_str().map(str::to_owned);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    // The CAF's export of the year, each minute.
    {
        let (client, base, stop, tally, token) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            tally.clone(),
            caf_token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let today = Utc::now().date_naive();
                let r = client
                    .get(format!(
                        "{base}/api/v1/exports/referrals?from={}&to={today}",
                        today - Days::days(365)
                    ))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body = r.bytes().await.map(|b| b.len()).unwrap_or(0);
                tally.note("export", status, &[200]);
                assert!(body > 0);
                for _ in 0..60 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
    }
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        samples.push((started.elapsed().as_secs(), server.rss_kib()));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    samples.push((started.elapsed().as_secs(), server.rss_kib()));
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let figure = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or("")
            .to_owned()
    };
    println!("resident memory of avip serve (VmRSS), every minute:");
    for (t, kib) in samples.iter().filter(|(t, _)| t % 60 < 10) {
        println!("  {t:>4} s  {:.1} MB", *kib as f64 / 1024.0);
    }
    let warm = samples.iter().find(|(t, _)| *t >= 60).map_or(0, |s| s.1);
    let last = samples.last().map_or(0, |s| s.1);
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    println!(
        "soak: {seconds} s, {} answers as expected, {} errors; RSS after the first minute {:.1} MB, \
         at the end {:.1} MB (growth {:+.1} MB), peak {:.1} MB",
        tally.ok.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        warm as f64 / 1024.0,
        last as f64 / 1024.0,
        (last as f64 - warm as f64) / 1024.0,
        peak as f64 / 1024.0
    );
    println!("  {}", figure("avip_referrals_received_total"));
    println!("  {}", figure("avip_sla_sweeps_total"));
    println!("  {}", figure("avip_outbox_sent{"));
}
