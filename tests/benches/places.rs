//! Availability of a département's AVIP places, and matching a family's
//! week over a larger one, for BENCHMARKS.md (a measurement, not an
//! assertion). Run in release mode:
//!
//!     cargo bench -p avip-tests --bench places
//!
//! Builds, over real HTTP on a fresh database (SQLite, or PostgreSQL when
//! `AVIP_TEST_DATABASE_URL` is set), a département of 50 crèches with a
//! capacity change each, and 5,000 children enrolled through the API
//! (referral → offer → enrollment, contracts of 3 to 12 months starting
//! from a year ago to two years ahead, on four weekdays) plus 250 open
//! offers, and a closure (Christmas week) per crèche; then asks for a year
//! of daily availability of the whole département 50 times, over HTTP and
//! through `avip_app::workflow::places::days` alone. Then a second
//! département of 300 crèches (10 places, a summer closure each, 3,000
//! children on two to five weekdays) is asked 50 times which crèches can
//! take a child on Mondays and Tuesdays for eight weeks
//! (`GET /api/v1/availability/match`).

use std::time::{Duration, Instant};

use avip_tests::{TestApp, spawn_app_with};
use chrono::{Datelike, Days, Utc};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

const CRECHES: usize = 50;
const ENROLLMENTS: usize = 5_000;
const MATCH_CRECHES: usize = 300;
const MATCH_ENROLLMENTS: usize = 3_000;
const OPEN_OFFERS: usize = 250;
const RUNS: usize = 50;
const PASSWORD: &str = "a long passphrase";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

fn summary(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: {} runs, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1])
    );
}

async fn run() {
    // Thousands of referrals from one organisation in a few seconds: the
    // intake and token limits are not what is measured here.
    let app = spawn_app_with(|env| {
        env.insert("AVIP_INTAKE_RATE_LIMIT".into(), "1000000".into());
        env.insert("AVIP_TOKEN_RATE_LIMIT".into(), "1000000".into());
    })
    .await;
    println!("database: {}", app.db.backend.name());
    let admin = app.bootstrap().await;
    let org = |kind: &str| json!({"kind": kind, "name": kind, "departement": "83"});
    let ft = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(org("france_travail")),
            201,
        )
        .await;
    let op = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(org("creche_operator")),
            201,
        )
        .await;
    let today = avip_sla_engine::clock::paris_date(Utc::now());
    let mut creches = Vec::new();
    for n in 0..CRECHES {
        let c = app
            .expect(
                &admin,
                "POST",
                "/api/v1/creches",
                Some(json!({"operator_id": op["id"], "name": format!("Crèche {n:02}"),
                    "address": "1 rue", "postal_code": "83000", "commune": "Toulon", "avip_places": 40,
                    "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon"]}})),
                201,
            )
            .await;
        let id = c["id"].as_str().unwrap().to_owned();
        let change =
            json!({"from": (today + Days::new(30 + n as u64 * 3)).to_string(), "avip_places": 45});
        let path = format!("/api/v1/creches/{id}/capacity");
        app.expect(&admin, "POST", &path, Some(change), 201).await;
        let christmas = avip_tests::today()
            .with_month(12)
            .unwrap()
            .with_day(21)
            .unwrap();
        let closure = json!({"from": christmas.to_string(), "to": (christmas + Days::new(11)).to_string(),
            "label": "Fermeture de fin d'année"});
        let path = format!("/api/v1/creches/{id}/closures");
        app.expect(&admin, "POST", &path, Some(closure), 201).await;
        creches.push(id);
    }
    for (email, role, organization) in [
        ("p@example.org", "prescriber", &ft["id"]),
        ("c@example.org", "coordinator", &op["id"]),
    ] {
        let mut body = json!({"email": email, "name": email, "role": role,
            "organization_id": organization, "password": PASSWORD});
        if role == "coordinator" {
            body["creche_ids"] = json!(creches);
        }
        app.expect(&admin, "POST", "/api/v1/users", Some(body), 201)
            .await;
    }
    let prescriber = app.password_token("p@example.org", PASSWORD).await;
    let coordinator = app.password_token("c@example.org", PASSWORD).await;

    let started = Instant::now();
    stream::iter(0..ENROLLMENTS + OPEN_OFFERS)
        .for_each_concurrent(8, |n| {
            let (app, prescriber, coordinator) = (&app, &prescriber, &coordinator);
            let creche = &creches[n % CRECHES];
            async move {
                let days = json!(["mon", "tue", "thu", "fri"]);
                family(
                    app,
                    (prescriber, coordinator),
                    creche,
                    n,
                    &days,
                    ENROLLMENTS,
                )
                .await
            }
        })
        .await;
    println!(
        "seeded {ENROLLMENTS} enrollments and {OPEN_OFFERS} open offers over HTTP in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let to = today + Days::new(365);
    let path = format!("/api/v1/availability?departement=83&from={today}&to={to}");
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = app.call(&prescriber, "GET", &path, None).await;
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        times.push(started.elapsed());
        bytes = body.len();
        let parsed: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["items"].as_array().unwrap().len(), CRECHES);
        assert_eq!(parsed["items"][0]["days"].as_array().unwrap().len(), 366);
    }
    summary(
        &format!(
            "GET /api/v1/availability, {CRECHES} crèches x 366 days ({} kB)",
            bytes / 1024
        ),
        times,
    );

    let url = app.db.url.clone();
    let ids: Vec<avip_db::model::CrecheId> = creches
        .iter()
        .map(|c| avip_db::model::CrecheId::parse(c).unwrap())
        .collect();
    let times = tokio::task::spawn_blocking(move || {
        let mut conn = avip_db::connect(&url).unwrap();
        let period = avip_db::places::Period { from: today, to };
        (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let zone = avip_sla_engine::policy::HolidayZone::Metropole;
                let days =
                    avip_app::workflow::places::days(&mut conn, &ids, period, &[], zone).unwrap();
                let elapsed = started.elapsed();
                assert_eq!(days.len(), CRECHES);
                elapsed
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    summary(
        "avip_app::workflow::places::days alone (same queries, calendars included)",
        times,
    );
    let (url, ids) = (app.db.url.clone(), creches_ids(&creches));
    let times = tokio::task::spawn_blocking(move || {
        let mut conn = avip_db::connect(&url).unwrap();
        let period = avip_db::places::Period { from: today, to };
        (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let days =
                    avip_db::places::availability(&mut conn, &ids, period, &[], &|_, _| None)
                        .unwrap();
                let elapsed = started.elapsed();
                assert_eq!(days.len(), CRECHES);
                elapsed
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    summary("avip_db::places::availability alone (no calendar)", times);
    matching(&app, &admin).await;
}

fn creches_ids(creches: &[String]) -> Vec<avip_db::model::CrecheId> {
    creches
        .iter()
        .map(|c| avip_db::model::CrecheId::parse(c).unwrap())
        .collect()
}

/// A département of 300 crèches, asked which can take a child on Mondays
/// and Tuesdays for eight weeks.
async fn matching(app: &TestApp, admin: &str) {
    let org = |kind: &str| json!({"kind": kind, "name": kind, "departement": "13"});
    let ft = app
        .expect(
            admin,
            "POST",
            "/api/v1/organizations",
            Some(org("france_travail")),
            201,
        )
        .await;
    let op = app
        .expect(
            admin,
            "POST",
            "/api/v1/organizations",
            Some(org("creche_operator")),
            201,
        )
        .await;
    let today = avip_sla_engine::clock::paris_date(Utc::now());
    let summer = today.with_month(7).unwrap().with_day(28).unwrap() + chrono::Months::new(12);
    let mut creches = Vec::new();
    for n in 0..MATCH_CRECHES {
        let c = app
            .expect(
                admin,
                "POST",
                "/api/v1/creches",
                Some(json!({"operator_id": op["id"], "name": format!("Crèche 13-{n:03}"),
                    "address": "1 rue", "postal_code": format!("13{:03}", n % 20), "commune": "Marseille",
                    "avip_places": 10,
                    "opening_hours": {"opens": "07:30", "closes": "18:30", "days": ["mon", "tue", "wed", "thu", "fri"]}})),
                201,
            )
            .await;
        let id = c["id"].as_str().unwrap().to_owned();
        let closure = json!({"from": summer.to_string(), "to": (summer + Days::new(20)).to_string(),
            "label": "Fermeture estivale"});
        let path = format!("/api/v1/creches/{id}/closures");
        app.expect(admin, "POST", &path, Some(closure), 201).await;
        creches.push(id);
    }
    let body = json!({"email": "p13@example.org", "name": "p13", "role": "prescriber",
        "organization_id": ft["id"], "password": PASSWORD});
    app.expect(admin, "POST", "/api/v1/users", Some(body), 201)
        .await;
    let prescriber = app.password_token("p13@example.org", PASSWORD).await;
    // A coordinator for each hundred crèches (a person coordinates 100 at most).
    let mut coordinators = Vec::new();
    for (i, theirs) in creches.chunks(100).enumerate() {
        let email = format!("c13-{i}@example.org");
        let body = json!({"email": email, "name": email, "role": "coordinator",
            "organization_id": op["id"], "password": PASSWORD, "creche_ids": theirs});
        app.expect(admin, "POST", "/api/v1/users", Some(body), 201)
            .await;
        coordinators.push(app.password_token(&email, PASSWORD).await);
    }
    const WEEKS: [&[&str]; 4] = [
        &["mon", "tue"],
        &["tue", "thu"],
        &["mon", "wed", "fri"],
        &["mon", "tue", "wed", "thu", "fri"],
    ];
    let started = Instant::now();
    stream::iter(0..MATCH_ENROLLMENTS)
        .for_each_concurrent(8, |n| {
            let (app, prescriber) = (app, &prescriber);
            let creche = &creches[n % MATCH_CRECHES];
            let coordinator = &coordinators[(n % MATCH_CRECHES) / 100];
            async move {
                let days = json!(WEEKS[n % WEEKS.len()]);
                let who = (prescriber.as_str(), coordinator.as_str());
                family(app, who, creche, n, &days, MATCH_ENROLLMENTS).await
            }
        })
        .await;
    println!(
        "seeded {MATCH_CRECHES} crèches and {MATCH_ENROLLMENTS} enrollments in département 13 in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let start = today + Days::new(14);
    let path = format!(
        "/api/v1/availability/match?departement=13&start={start}&days=mon,tue&from=08:00&to=18:00&weeks=8&postal_code=13004"
    );
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = app.call(&prescriber, "GET", &path, None).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        times.push(started.elapsed());
        assert_eq!(body["items"].as_array().unwrap().len(), MATCH_CRECHES);
    }
    summary(
        &format!(
            "GET /api/v1/availability/match, {MATCH_CRECHES} crèches, 8 weeks (+26 looked ahead)"
        ),
        times,
    );
}

/// One family needing `days`: a referral, an offer, and (for the first
/// `enrolled`) an enrollment on those days with a contract of 3 to 12
/// months.
async fn family(
    app: &TestApp,
    (prescriber, coordinator): (&str, &str),
    creche: &str,
    n: usize,
    days: &Value,
    enrolled: usize,
) {
    let today = avip_sla_engine::clock::paris_date(Utc::now());
    let body = json!({"creche_id": creche,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org"},
        "parent": {"first_name": "Parent", "last_name": format!("Famille {n}"), "phone": "0612345678",
                   "postal_code": "83000", "commune": "Toulon", "situation": "job_seeker"},
        "children": [{"first_name": format!("Enfant {n}"), "birth_date": (today - Days::new(300)).to_string()}],
        "needs": {"desired_start_date": (today + Days::new(10)).to_string(), "days": days},
        "insertion_project": {"kind": "training"},
        "consent": {"given": true, "date": today.to_string()}});
    let created = app
        .expect(prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/referrals/{id}/transitions");
    app.expect(
        coordinator,
        "POST",
        &path,
        Some(json!({"to": "offered", "force": true, "force_reason": "benchmark"})),
        200,
    )
    .await;
    if n >= enrolled {
        return;
    }
    // Spread without a random generator: starts over three years, lengths
    // from 90 to 365 days.
    let start = today - Days::new(360) + Days::new((n as u64 * 7919) % 1080);
    let end = start + Days::new(90 + (n as u64 * 104_729) % 276);
    let contract = json!({"start_date": start.to_string(), "contract_end_date": end.to_string(),
        "days": days, "force": true, "force_reason": "benchmark"});
    let path = format!("/api/v1/referrals/{id}/enrollment");
    app.expect(coordinator, "POST", &path, Some(contract), 201)
        .await;
}
