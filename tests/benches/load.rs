//! Load measurements for BENCHMARKS.md (not assertions: timings belong here,
//! not in tests). Run in release mode:
//!
//!     cargo bench -p avip-tests --bench load
//!
//! Settings through the environment: `BENCH_ROWS` (referrals seeded before
//! the list is measured, default 1,000,000), `BENCH_SECONDS` (duration of the
//! intake run, default 10), `BENCH_CONNECTIONS` (default 32). The service
//! runs in this process on the embedded default (a SQLite file) with one
//! HTTP worker per core, and the load generator shares those cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use avip_app::auth::Subject;
use avip_app::domain::referral::{ReferralDraft, ReferralRequest};
use avip_db::model::{CrecheId, ReferralStatus};
use avip_tests::bench::{ADMIN, PASSWORD};
use avip_tests::client::post_ok as post;
use chrono::{Duration as ChronoDuration, Utc};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn report(name: &str, hist: &Histogram<u64>, elapsed: Duration) {
    let n = hist.len();
    println!(
        "{name}: {n} requests in {:.1} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
    );
}

fn body(creche: &str, n: usize) -> Value {
    let today = Utc::now().date_naive();
    json!({"creche_id": creche,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "0494000000"},
        "parent": {"first_name": "Amina", "last_name": format!("Famille{n}"), "phone": "0612345678",
                   "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
                   "situation": "job_seeker", "single_parent": true, "qpv_resident": false},
        "children": [{"first_name": "Yanis", "birth_date": (today - ChronoDuration::days(400)).to_string()}],
        "needs": {"desired_start_date": (today + ChronoDuration::days(10)).to_string(), "days_per_week": 4},
        "insertion_project": {"kind": "training"},
        "consent": {"given": true, "date": today.to_string()}})
}

/// One sweep that finds `due` first responses past their warning among
/// every seeded referral (marking, timeline, outbox in one transaction per
/// 500 items), then one that finds nothing.
fn measure_sweep(url: &str, policy: avip_sla_engine::Policy, due: usize) {
    use avip_sla_engine::sweep::{SweepOptions, sweep};
    use diesel::connection::SimpleConnection;
    let mut conn = avip_db::connect(url).unwrap();
    let active = avip_sla_engine::store::activate(&mut conn, &policy, Utc::now()).unwrap();
    // Unanswered referrals received long ago whose clock was never swept.
    conn.batch_execute(&format!(
        "UPDATE referrals SET sla_next_at = received_at, sla_stage = NULL WHERE id IN \
         (SELECT id FROM referrals WHERE status = 'received' ORDER BY id LIMIT {due})"
    ))
    .unwrap();
    let options = SweepOptions::new("http://127.0.0.1:8080", false);
    let gate = avip_db::WriteGate::for_backend(conn.backend());
    let started = Instant::now();
    let report = sweep(&mut conn, &gate, &active, &options, Utc::now(), false).unwrap();
    let elapsed = started.elapsed();
    println!(
        "SLA sweep with {due} due among all referrals: {} fired, {} outbox rows in {:.0} ms",
        report.fired.len(),
        report.notifications,
        elapsed.as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let report = sweep(&mut conn, &gate, &active, &options, Utc::now(), false).unwrap();
        times.push(started.elapsed());
        assert!(report.fired.is_empty());
    }
    times.sort();
    println!(
        "SLA sweep with nothing due (20 runs): median {:.2} ms, max {:.2} ms",
        times[10].as_secs_f64() * 1000.0,
        times[19].as_secs_f64() * 1000.0
    );
    let mut plan = String::new();
    if let avip_db::DbConnection::Sqlite(c) = &mut conn {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let rows: Vec<Row> = diesel::sql_query(
            "EXPLAIN QUERY PLAN SELECT id FROM referrals WHERE sla_next_at <= '2026-01-01' \
             ORDER BY sla_next_at, id LIMIT 500",
        )
        .load(c)
        .unwrap();
        plan = rows
            .into_iter()
            .map(|r| r.detail)
            .collect::<Vec<_>>()
            .join("; ");
    }
    println!("sweep query plan (SQLite): {plan}");
}

fn main() {
    let rows = env_usize("BENCH_ROWS", 1_000_000);
    let seconds = env_usize("BENCH_SECONDS", 10) as u64;
    let connections = env_usize("BENCH_CONNECTIONS", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(rows, seconds, connections));
}

async fn run(rows: usize, seconds: u64, connections: usize) {
    // One prescriber organisation posts everything, from one address: the
    // limits are checked on every request but set too high to refuse.
    let (db, _mail, settings) = avip_tests::bench::settings(|env| {
        env.insert("AVIP_DB_POOL_SIZE".into(), "8".into());
        env.insert("AVIP_INTAKE_RATE_LIMIT".into(), "1000000".into());
        env.insert("AVIP_TOKEN_RATE_LIMIT".into(), "1000000".into());
    });
    let app = avip_tests::bench::start(&settings, true).await;
    let (base, handle) = (app.base, app.handle);
    println!("database: {} ({})", db.backend.name(), db.url);

    // A territory: one prescriber organisation, one operator with four crèches.
    avip_tests::bench::bootstrap(&settings).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let token = |email: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move { avip_tests::client::password_token(&client, &base, email, PASSWORD).await }
    };
    let admin = token(ADMIN).await;
    let ft = post(
        &client,
        &format!("{base}/api/v1/organizations"),
        &admin,
        &json!({"kind": "france_travail", "name": "France Travail", "departement": "83"}),
    )
    .await;
    let op = post(
        &client,
        &format!("{base}/api/v1/organizations"),
        &admin,
        &json!({"kind": "creche_operator", "name": "Ville", "departement": "83"}),
    )
    .await;
    let mut creches = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let c = post(
            &client,
            &format!("{base}/api/v1/creches"),
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
        &format!("{base}/api/v1/users"),
        &admin,
        &json!({"email": "p@example.org", "name": "P",
        "role": "prescriber", "organization_id": ft["id"], "password": PASSWORD}),
    )
    .await;
    post(&client, &format!("{base}/api/v1/users"), &admin, &json!({"email": "c@example.org", "name": "C",
        "role": "coordinator", "organization_id": op["id"], "password": PASSWORD, "creche_ids": creches})).await;
    let prescriber = token("p@example.org").await;
    let coordinator = token("c@example.org").await;
    let creche_ids: Vec<CrecheId> = creches
        .iter()
        .map(|c| CrecheId::parse(c).unwrap())
        .collect();
    let ft_id = avip_db::model::OrganizationId::parse(ft["id"].as_str().unwrap()).unwrap();

    // 1. Seed.
    let elapsed = {
        let ids = creche_ids.clone();
        let org = ft_id.clone();
        let url = db.url.clone();
        tokio::task::spawn_blocking(move || avip_tests::seed_referrals(&url, rows, &ids, &org))
            .await
            .unwrap()
    };
    println!(
        "seed through diesel, 2,000 referrals per transaction: {rows} referrals in {:.1} s = {:.0}/s",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );

    // 2. The list: one page of 50 filtered by crèche and status, as a coordinator.
    let list_connections = 4;
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..list_connections {
        let client = client.clone();
        let base = base.clone();
        let token = coordinator.clone();
        let creches = creches.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let mut cursor: Option<String> = None;
            for i in 0..500usize {
                let k = i * list_connections + t;
                let creche = &creches[k % creches.len()];
                let status = ReferralStatus::ALL[(k / 4) % ReferralStatus::ALL.len()];
                let mut url =
                    format!("{base}/api/v1/referrals?creche_id={creche}&status={status}&limit=50");
                // Half the requests follow the previous page's cursor.
                if i % 2 == 1
                    && let Some(c) = &cursor
                {
                    url.push_str(&format!("&cursor={c}"));
                }
                let t0 = Instant::now();
                let r = client.get(url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let page: Value = r.json().await.unwrap();
                hist.record(t0.elapsed().as_micros() as u64).unwrap();
                assert!(page["items"].as_array().unwrap().len() == 50 || rows < 100_000);
                cursor = page["next_cursor"].as_str().map(str::to_owned);
                done.fetch_add(1, Ordering::Relaxed);
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        hist.add(t.await.unwrap()).unwrap();
    }
    report(
        &format!(
            "GET /api/v1/referrals (page of 50, crèche + status, {rows} rows, {list_connections} connections)"
        ),
        &hist,
        started.elapsed(),
    );

    // 2b. The SLA sweep over the same million referrals: 10,000 unanswered
    // ones become due, then a sweep with nothing due.
    {
        let url = db.url.clone();
        let policy = settings.sla.clone();
        tokio::task::spawn_blocking(move || measure_sweep(&url, policy, 10_000))
            .await
            .unwrap();
    }

    // 3. Intake over HTTP.
    let counter = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = format!("{base}/api/v1/referrals");
        let token = prescriber.clone();
        let creches = creches.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            let mut failures = 0usize;
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = body(&creches[n % creches.len()], n);
                let t0 = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let _ = r.bytes().await;
                if status == 201 {
                    hist.record(t0.elapsed().as_micros() as u64).unwrap();
                } else {
                    failures += 1;
                }
            }
            (hist, failures)
        }));
    }
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut failures = 0;
    for t in tasks {
        let (h, f) = t.await.unwrap();
        hist.add(h).unwrap();
        failures += f;
    }
    report(
        &format!("POST /api/v1/referrals ({connections} connections, {failures} failures)"),
        &hist,
        started.elapsed(),
    );

    // 4. The same intake without HTTP: the handler's function, one
    //    transaction per referral, from one thread.
    let n = 5_000;
    let s = settings.clone();
    let url = db.url.clone();
    let creche = creches[0].clone();
    let raw = tokio::task::spawn_blocking(move || {
        let mut conn = avip_db::connect(&url).unwrap();
        let user = avip_db::users::find_by_email(&mut conn, "p@example.org")
            .unwrap()
            .unwrap();
        let who = avip_app::auth::principal::load(&mut conn, Subject::User(user.id), None)
            .unwrap()
            .unwrap();
        let started = Instant::now();
        for i in 0..n {
            let req: ReferralRequest =
                serde_json::from_value(body(&creche, 10_000_000 + i)).unwrap();
            let draft = ReferralDraft::parse(req, Utc::now().date_naive()).unwrap();
            avip_app::workflow::referrals::intake(
                &mut conn,
                &who,
                &draft,
                (None, "http://localhost"),
                &avip_sla_engine::ActivePolicy {
                    version: 1,
                    policy: s.sla.clone(),
                },
                Utc::now(),
            )
            .unwrap();
        }
        started.elapsed()
    })
    .await
    .unwrap();
    println!(
        "intake without HTTP (workflow::referrals::intake, one transaction each, one thread): {n} in {:.1} s = {:.0}/s",
        raw.as_secs_f64(),
        n as f64 / raw.as_secs_f64()
    );

    // 5. A sign-in flood: 1,500 token requests for unknown e-mails at 64
    //    connections (each costs a password hash), while one connection
    //    reads /me: the flood must slow itself, not the others.
    let flood = Arc::new(AtomicUsize::new(0));
    let flood_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let client = client.clone();
        let url = format!("{base}/api/v1/auth/token");
        let flood = flood.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            loop {
                let n = flood.fetch_add(1, Ordering::Relaxed);
                if n >= 1_500 {
                    return statuses;
                }
                let email = format!("nobody{n}@example.org");
                let r = client
                    .post(&url)
                    .form(&[
                        ("grant_type", "password"),
                        ("username", &email),
                        ("password", "wrong password!"),
                    ])
                    .send()
                    .await
                    .unwrap();
                *statuses.entry(r.status().as_u16()).or_default() += 1;
            }
        }));
    }
    let me = {
        let client = client.clone();
        let url = format!("{base}/api/v1/me");
        let token = prescriber.clone();
        let done = flood_done.clone();
        tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).unwrap();
            while !done.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let r = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
                hist.record(t0.elapsed().as_micros() as u64).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            hist
        })
    };
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for t in tasks {
        for (status, n) in t.await.unwrap() {
            *statuses.entry(status).or_default() += n;
        }
    }
    let flood_time = started.elapsed();
    flood_done.store(true, Ordering::Relaxed);
    let me = me.await.unwrap();
    println!(
        "sign-in flood: 1,500 unknown-user token requests at 64 connections in {:.1} s, statuses {statuses:?}",
        flood_time.as_secs_f64()
    );
    report(
        "GET /api/v1/me during the flood (1 connection)",
        &me,
        flood_time,
    );
    handle.stop(true).await;
}
