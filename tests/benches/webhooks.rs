//! What webhooks cost, for BENCHMARKS.md (measurements, not assertions):
//!
//! 1. intake over HTTP without any subscription, then with one active
//!    subscription to `referral.created` (each intake then writes a
//!    delivery row in its transaction);
//! 2. 10,000 queued deliveries sent by the dispatcher to a receiver on
//!    127.0.0.1 that answers 204.
//!
//!     cargo bench -p avip-tests --bench webhooks
//!     # AVIP_TEST_DATABASE_URL=postgres://… for PostgreSQL
//!
//! Settings: `BENCH_INTAKE` referrals per intake run (default 3,000),
//! `BENCH_CONNECTIONS` (default 16), `BENCH_DELIVERIES` (default 10,000).

use std::time::{Duration, Instant};

use avip_tests::bench::{ADMIN, PASSWORD};
use avip_tests::client::post_ok as post;
use avip_tests::receiver::Receiver;
use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn body(creche: &str, n: usize) -> Value {
    let today = Utc::now().date_naive();
    json!({"creche_id": creche,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org"},
        "parent": {"first_name": "Amina", "last_name": format!("Famille{n}"), "phone": "0612345678",
                   "postal_code": "83000", "commune": "Toulon",
                   "situation": "job_seeker", "single_parent": true, "qpv_resident": false},
        "children": [{"first_name": format!("Enfant{n}"), "birth_date": (today - Days::days(400)).to_string()}],
        "needs": {"desired_start_date": (today + Days::days(10)).to_string(), "days_per_week": 4},
        "insertion_project": {"kind": "training"},
        "consent": {"given": true, "date": today.to_string()}})
}

/// Posts `n` referrals from `connections` tasks; returns referrals per second.
async fn intake(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    creches: &[String],
    first: usize,
    n: usize,
    connections: usize,
) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, url, token) = (
                client.clone(),
                format!("{base}/api/v1/referrals"),
                token.to_owned(),
            );
            let creches = creches.to_vec();
            tokio::spawn(async move {
                for i in (c..n).step_by(connections) {
                    let k = first + i;
                    let answer = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body(&creches[k % creches.len()], k))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(answer.status(), 201, "{}", answer.text().await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let (n, connections, deliveries) = (
        env_usize("BENCH_INTAKE", 3_000),
        env_usize("BENCH_CONNECTIONS", 16),
        env_usize("BENCH_DELIVERIES", 10_000),
    );
    let (db, _mail, settings) = avip_tests::bench::settings(|env| {
        env.insert("AVIP_INTAKE_RATE_LIMIT".into(), "1000000".into());
        env.insert("AVIP_TOKEN_RATE_LIMIT".into(), "1000000".into());
    });
    let app = avip_tests::bench::start(&settings, true).await;
    let (base, pool, backend) = (app.base, app.pool, app.backend);
    println!("database: {}", db.backend.name());
    avip_tests::bench::bootstrap(&settings).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let admin = avip_tests::client::password_token(&client, &base, ADMIN, PASSWORD).await;
    let url = |p: &str| format!("{base}{p}");
    let ft = post(
        &client,
        &url("/api/v1/organizations"),
        &admin,
        &json!({"kind": "france_travail", "name": "France Travail", "departement": "83"}),
    )
    .await;
    let op = post(
        &client,
        &url("/api/v1/organizations"),
        &admin,
        &json!({"kind": "creche_operator", "name": "Ville", "departement": "83"}),
    )
    .await;
    let mut creches = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let c = post(
            &client,
            &url("/api/v1/creches"),
            &admin,
            &json!({"operator_id": op["id"], "name": name,
            "address": "1 rue", "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
            "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon"]}}),
        )
        .await;
        creches.push(c["id"].as_str().unwrap().to_owned());
    }
    post(
        &client,
        &url("/api/v1/users"),
        &admin,
        &json!({"email": "p@example.org", "name": "P",
        "role": "prescriber", "organization_id": ft["id"], "password": PASSWORD}),
    )
    .await;
    let prescriber =
        avip_tests::client::password_token(&client, &base, "p@example.org", PASSWORD).await;

    // 1. Intake without, then with, one subscription.
    let without = intake(&client, &base, &prescriber, &creches, 0, n, connections).await;
    let api_client = post(
        &client,
        &url("/api/v1/api-clients"),
        &admin,
        &json!({"organization_id": ft["id"], "label": "SI"}),
    )
    .await;
    let answer: Value = client
        .post(url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", api_client["client_id"].as_str().unwrap()),
            (
                "client_secret",
                api_client["client_secret"].as_str().unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let system = answer["access_token"].as_str().unwrap().to_owned();
    let receiver = Receiver::start();
    let hook = post(
        &client,
        &url("/api/v1/webhooks"),
        &system,
        &json!({"url": receiver.url, "events": ["referral.created"]}),
    )
    .await;
    let with = intake(&client, &base, &prescriber, &creches, n, n, connections).await;
    // The same again without: how much of the difference is the database
    // having grown.
    client
        .patch(url(&format!(
            "/api/v1/webhooks/{}",
            hook["id"].as_str().unwrap()
        )))
        .bearer_auth(&system)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    let again = intake(&client, &base, &prescriber, &creches, 2 * n, n, connections).await;
    println!(
        "intake, {n} referrals per run, {connections} connections: {without:.0}/s without a subscription, \
         {with:.0}/s with one active ({:+.1} %), {again:.0}/s without again (after the database grew)",
        (with / without - 1.0) * 100.0
    );

    client
        .patch(url(&format!(
            "/api/v1/webhooks/{}",
            hook["id"].as_str().unwrap()
        )))
        .bearer_auth(&system)
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    // 2. Queue deliveries up to `deliveries` (the intake above queued n),
    //    then let the dispatcher send them all.
    let mut conn = avip_db::connect(&db.url).unwrap();
    let ids: Vec<String> = {
        use diesel::prelude::*;
        avip_db::schema::referrals::table
            .select(avip_db::schema::referrals::id)
            .load(&mut conn)
            .unwrap()
    };
    let mut queued = n;
    let at = avip_db::model::to_db_time(Utc::now());
    avip_db::write_transaction(&mut conn, |conn| {
        for id in ids.iter().cycle() {
            if queued >= deliveries {
                break;
            }
            let id = avip_db::model::ReferralId::parse(id).unwrap();
            let written = avip_db::webhooks::enqueue(
                conn,
                &id,
                avip_db::model::WebhookEvent::ReferralCreated,
                at,
            )?;
            assert_eq!(written, 1, "the subscription is active");
            queued += written;
        }
        Ok::<_, avip_db::QueryError>(())
    })
    .unwrap();
    let dispatcher = avip_app::webhooks::Dispatcher::new(
        pool,
        avip_db::WriteGate::for_backend(backend),
        avip_app::webhooks::Targets::AlsoLoopback,
        vec![Duration::from_secs(1)],
        "http://127.0.0.1",
    )
    .unwrap();
    let start = Instant::now();
    let mut sent = 0;
    loop {
        let round = dispatcher.round(Utc::now()).await.unwrap();
        if round == 0 {
            break;
        }
        sent += round;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let received = receiver.hits().iter().filter(|h| h.answered == 204).count();
    println!(
        "dispatch: {sent} deliveries in {elapsed:.1} s = {:.0}/s; the receiver acknowledged {received}",
        sent as f64 / elapsed
    );
    receiver.stop().await;
}
