//! Resident memory under password checks, for BENCHMARKS.md (a measurement,
//! not an assertion): the release binary `avip serve` on a fresh SQLite
//! file, with no allocator setting in its environment. Six real sign-ins,
//! then a flood of 1,500 token requests for unknown e-mails from 100
//! addresses (behind a trusted proxy, 64 at a time: each costs an argon2
//! check of 19 MiB), then a rest. The server's VmRSS is sampled every
//! 50 ms.
//!
//!     cargo build --release --bin avip
//!     cargo bench -p avip-tests --bench memory
//!
//! `AVIP_BIN` names another binary (to compare allocators);
//! `MALLOC_ARENA_MAX` is passed to it when set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use avip_tests::client::password_token;
use avip_tests::served::{PASSWORD, Served};
use futures_util::StreamExt;

const FLOOD: usize = 1_500;
const ADDRESSES: usize = 100;
const CONNECTIONS: usize = 64;

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("avip.db");
    let arenas = std::env::var("MALLOC_ARENA_MAX").ok();
    let mut settings = vec![("AVIP_TRUSTED_PROXIES", "127.0.0.1")];
    if let Some(arenas) = &arenas {
        settings.push(("MALLOC_ARENA_MAX", arenas));
    }
    let server = Arc::new(Served::start(database.to_str().unwrap(), &settings).await);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let started = mb(server.rss_kib());

    // A sampler keeps the peak.
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (server, peak, stop) = (server.clone(), peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(server.rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    for _ in 0..6 {
        password_token(&client, &base, "admin@example.org", PASSWORD).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_six = mb(server.rss_kib());

    let clock = Instant::now();
    let refused = futures_util::stream::iter(0..FLOOD)
        .map(|n| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let address = format!("198.51.100.{}", n % ADDRESSES + 1);
                let r = client
                    .post(format!("{base}/api/v1/auth/token"))
                    .header("X-Forwarded-For", address)
                    .form(&[
                        ("grant_type", "password"),
                        ("username", &format!("nobody{n}@example.org")),
                        ("password", "not a password of anyone"),
                    ])
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            }
        })
        .buffer_unordered(CONNECTIONS)
        .collect::<Vec<u16>>()
        .await;
    let flood_took = clock.elapsed();
    let after_flood = mb(server.rss_kib());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rested = mb(server.rss_kib());
    stop.store(true, Ordering::Relaxed);
    sampler.await.unwrap();

    let mut statuses: Vec<(u16, usize)> = Vec::new();
    for status in refused {
        match statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((status, 1)),
        }
    }
    println!(
        "allocator setting: MALLOC_ARENA_MAX={}",
        arenas.as_deref().unwrap_or("(unset)")
    );
    println!("RSS at start: {started:.1} MB");
    println!("RSS after six sign-ins: {after_six:.1} MB");
    println!(
        "flood of {FLOOD} unknown users from {ADDRESSES} addresses, {CONNECTIONS} connections: \
         {:.1} s, answers {statuses:?}",
        flood_took.as_secs_f64()
    );
    println!("RSS right after the flood: {after_flood:.1} MB");
    println!("RSS 10 s later: {rested:.1} MB");
    println!("RSS peak: {:.1} MB", mb(peak.load(Ordering::Relaxed)));
}
