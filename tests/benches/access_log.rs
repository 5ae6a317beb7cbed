//! What the access log costs list pages, for BENCHMARKS.md (a measurement,
//! not an assertion). Run in release mode:
//!
//!     cargo bench -p avip-tests --bench access_log
//!
//! Two servers run in this process on the same SQLite file: one records
//! every read in the access log (as the service always does), the other is
//! built with `ServerOptions::record_reads = false` (which no setting
//! reaches). Rounds of list requests alternate between them (A B B A A B …)
//! so that the machine's drift falls on both alike; the medians are
//! compared. Settings: `BENCH_ROWS` (referrals seeded, default 100,000),
//! `BENCH_ROUNDS` (rounds per server, default 6), `BENCH_REQUESTS` (per
//! round, default 2,000), 4 connections.

use std::time::{Duration, Instant};

use avip_db::model::{CrecheId, ReferralStatus};
use avip_tests::bench::{ADMIN, PASSWORD};
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    avip_tests::client::post_ok(client, &url, token, &body).await
}

/// `requests` list pages over 4 connections; requests per second.
async fn round(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    creches: &[String],
    requests: usize,
) -> f64 {
    let connections = 4;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..connections {
        let (client, base, token, creches) = (
            client.clone(),
            base.to_owned(),
            token.to_owned(),
            creches.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..requests / connections {
                let k = i * connections + t;
                let creche = &creches[k % creches.len()];
                let status = ReferralStatus::ALL[(k / 4) % ReferralStatus::ALL.len()];
                let url =
                    format!("{base}/api/v1/referrals?creche_id={creche}&status={status}&limit=50");
                let r = client.get(url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _: Value = r.json().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    let rows = env_usize("BENCH_ROWS", 100_000);
    let rounds = env_usize("BENCH_ROUNDS", 6);
    let requests = env_usize("BENCH_REQUESTS", 2_000);
    let (db, _mail, settings) = avip_tests::bench::settings(|env| {
        env.insert("AVIP_TOKEN_RATE_LIMIT".into(), "1000000".into());
    });
    let recording = avip_tests::bench::start(&settings, true).await;
    let silent = avip_tests::bench::start(&settings, false).await;
    let (recording, h1, silent, h2) =
        (recording.base, recording.handle, silent.base, silent.handle);
    avip_tests::bench::bootstrap(&settings).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(8)
        .build()
        .unwrap();
    let token = |email: &'static str| {
        let (client, base) = (client.clone(), recording.clone());
        async move { avip_tests::client::password_token(&client, &base, email, PASSWORD).await }
    };
    let admin = token(ADMIN).await;
    let org = |kind: &str| json!({"kind": kind, "name": kind, "departement": "83"});
    let ft = post(
        &client,
        format!("{recording}/api/v1/organizations"),
        &admin,
        org("france_travail"),
    )
    .await;
    let op = post(
        &client,
        format!("{recording}/api/v1/organizations"),
        &admin,
        org("creche_operator"),
    )
    .await;
    let mut creches = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let c = post(&client, format!("{recording}/api/v1/creches"), &admin, json!({"operator_id": op["id"],
            "name": name, "address": "1 rue", "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
            "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon"]}})).await;
        creches.push(c["id"].as_str().unwrap().to_owned());
    }
    post(&client, format!("{recording}/api/v1/users"), &admin, json!({"email": "c@example.org", "name": "C",
        "role": "coordinator", "organization_id": op["id"], "password": PASSWORD, "creche_ids": creches})).await;
    let coordinator = token("c@example.org").await;
    {
        let ids: Vec<CrecheId> = creches
            .iter()
            .map(|c| CrecheId::parse(c).unwrap())
            .collect();
        let org = avip_db::model::OrganizationId::parse(ft["id"].as_str().unwrap()).unwrap();
        let url = db.url.clone();
        tokio::task::spawn_blocking(move || avip_tests::seed_referrals(&url, rows, &ids, &org))
            .await
            .unwrap();
    }
    // Warm both servers' caches and connections.
    round(&client, &recording, &coordinator, &creches, 400).await;
    round(&client, &silent, &coordinator, &creches, 400).await;

    let (mut with, mut without) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        // A B B A …: each server goes first every other round.
        let order: [(&str, bool); 2] = if r % 2 == 0 {
            [(&recording, true), (&silent, false)]
        } else {
            [(&silent, false), (&recording, true)]
        };
        for (base, records) in order {
            let rate = round(&client, base, &coordinator, &creches, requests).await;
            // Let the log's last batch (at most 200 ms old) be written
            // before the other server's round.
            tokio::time::sleep(Duration::from_millis(400)).await;
            println!(
                "round {r}: {} {rate:.0} req/s",
                if records {
                    "access log on "
                } else {
                    "access log off"
                }
            );
            if records {
                with.push(rate)
            } else {
                without.push(rate)
            }
        }
    }
    let (a, b) = (median(with.clone()), median(without.clone()));
    println!(
        "GET /api/v1/referrals, page of 50, {rows} referrals, 4 connections, {rounds} rounds of {requests}: \
         median {a:.0} req/s with the access log, {b:.0} req/s without: cost {:.1} %",
        100.0 * (1.0 - a / b)
    );
    let mut conn = avip_db::connect(&db.url).unwrap();
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let logged: Vec<Count> = diesel::sql_query("SELECT COUNT(*) AS n FROM access_log")
        .load(&mut conn)
        .unwrap();
    println!("access log rows written: {}", logged[0].n);
    h1.stop(true).await;
    h2.stop(true).await;
}
