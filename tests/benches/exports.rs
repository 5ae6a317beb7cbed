//! The CAF's evaluation exports over a large year, for BENCHMARKS.md (a
//! measurement, not an assertion). Run in release mode:
//!
//!     cargo bench -p avip-tests --bench exports
//!
//! Builds a département over real HTTP on a fresh database (SQLite, or
//! PostgreSQL when `AVIP_TEST_DATABASE_URL` is set): three prescribers, an
//! operator with 20 crèches, the CAF. Then writes `BENCH_ROWS` referrals
//! (default 100,000) received over the last 365 days straight through
//! diesel, as the workflow leaves them: every status, first responses from
//! an hour to five days, the timeline's transitions, enrollments with their
//! place bookings, exits with reasons. Then, as the CAF over HTTP:
//!
//! - the year as CSV, three times: time, size, and the process's peak
//!   resident memory above what it was before (sampled every 5 ms; the
//!   service and this client share the process);
//! - the year as XLSX, once, the same way;
//! - the year's indicators by month, by crèche, by prescriber kind and by
//!   prescriber, 20 times each, from the days' sums (median, p95, max);
//!   ten years by month;
//! - the year's bilan d'activité of the département, DOCX and XLSX, 5 times
//!   each (median, max);
//! - as the coordinator of one crèche in the workspace, the worklist, a
//!   referral's page and a search by name, 50 times each;
//! - the year by month counted from every referral (the sums dropped, as
//!   before them), the time to add every referral up again
//!   (`avip indicators rebuild`), and the year by month after it.
//!
//! `BENCH_PAGES=only` seeds, then measures the coordinator's pages and
//! nothing else (`BENCH_PAGES=bilans`: the bilans and nothing else); `BENCH_KEEP=/tmp/bench.sqlite` keeps a copy of the seeded
//! SQLite database, to read a query's plan with `sqlite3`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use avip_db::model::{
    ActorKind, BookingKind, ChildId, ChildcareSolution, CrecheId, EmploymentStatus, EventId,
    EventKind, ExitReason, OrganizationId, ParentSituation, ProjectKind, ReferralId,
    ReferralStatus, to_db_time,
};
use avip_db::places::Booking;
use avip_db::referrals::{Child, Enrollment, Event, Family, NewReferral, Referral};
use avip_tests::{TestApp, spawn_app};
use chrono::{DateTime, Duration as Span, NaiveDateTime, Utc};
use serde_json::{Value, json};

const CRECHES: usize = 20;
const PASSWORD: &str = "a long passphrase";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// A fixed pseudo-random number for row `n` and purpose `salt` (splitmix64).
fn mix(n: u64, salt: u64) -> u64 {
    let mut z = n
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// This process's resident memory, in kB.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The statuses of the seeded year, by share of 100.
fn status_of(n: u64) -> ReferralStatus {
    match mix(n, 1) % 100 {
        0..10 => ReferralStatus::Received,
        10..18 => ReferralStatus::Contacted,
        18..24 => ReferralStatus::Offered,
        24..30 => ReferralStatus::Waitlisted,
        30..55 => ReferralStatus::Enrolled,
        55..67 => ReferralStatus::Declined,
        67..75 => ReferralStatus::Withdrawn,
        _ => ReferralStatus::Exited,
    }
}

/// The statuses a referral went through to reach `status`.
fn path_to(status: ReferralStatus) -> &'static [ReferralStatus] {
    use ReferralStatus::*;
    match status {
        Received => &[],
        Contacted => &[Contacted],
        Offered => &[Contacted, Offered],
        Waitlisted => &[Contacted, Waitlisted],
        Enrolled => &[Contacted, Offered, Enrolled],
        Declined => &[Declined],
        Withdrawn => &[Contacted, Withdrawn],
        Exited => &[Contacted, Offered, Enrolled, Exited],
    }
}

struct Territory {
    creches: Vec<CrecheId>,
    prescribers: Vec<OrganizationId>,
    /// The crèches' operator and the administrator's token, for the
    /// coordinator of the pages' measurements.
    operator: String,
    admin: String,
}

fn event(
    id: &ReferralId,
    kind: EventKind,
    at: NaiveDateTime,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
) -> Event {
    Event {
        id: EventId::generate(),
        referral_id: id.clone(),
        kind,
        occurred_at: at,
        actor_kind: ActorKind::User,
        actor_id: None,
        from_status: from,
        to_status: Some(to),
        reason: None,
        note: None,
        data: None,
    }
}

/// Writes referral `n` and everything the workflow would have written.
fn seed_one(
    conn: &mut avip_db::DbConnection,
    t: &Territory,
    n: u64,
    rows: u64,
    start: DateTime<Utc>,
) -> Result<(), avip_db::QueryError> {
    let id = ReferralId::generate();
    let received = start + Span::seconds((n * 365 * 86_400 / rows) as i64);
    let at = to_db_time(received);
    let status = status_of(n);
    let path = path_to(status);
    let answered = to_db_time(received + Span::minutes(60 + (mix(n, 2) % 7_200) as i64));
    let creche = t.creches[(mix(n, 3) % CRECHES as u64) as usize].clone();
    let twins = mix(n, 4).is_multiple_of(10);
    let birth = at.date() - Span::days(120 + (mix(n, 5) % 900) as i64);
    let mut events = vec![event(
        &id,
        EventKind::Created,
        at,
        None,
        ReferralStatus::Received,
    )];
    let mut when = answered;
    let mut from = ReferralStatus::Received;
    for step in path {
        let kind = match step {
            ReferralStatus::Enrolled => EventKind::Enrollment,
            ReferralStatus::Exited => EventKind::Exit,
            _ => EventKind::Transition,
        };
        events.push(event(&id, kind, when, Some(from), *step));
        from = *step;
        when += Span::days(3);
    }
    let enrolled_on = (answered + Span::days(6)).date();
    let exit_on = enrolled_on + Span::days(20 + (mix(n, 6) % 160) as i64);
    let exited = status == ReferralStatus::Exited;
    let referral = Referral {
        id: id.clone(),
        reference: format!("AVIP-83-BENCH-{n:07}"),
        prescriber_organization_id: t.prescribers[(n % 3) as usize].clone(),
        creche_id: creche.clone(),
        created_by: "seed".into(),
        idempotency_key: None,
        request_fingerprint: None,
        referent_name: "Paul Durand".into(),
        referent_email: "p.durand@example.org".into(),
        referent_phone: Some("0494000000".into()),
        parent_situation: ParentSituation::ALL[(mix(n, 7) % 5) as usize],
        single_parent: mix(n, 8).is_multiple_of(2),
        qpv_resident: mix(n, 9).is_multiple_of(3),
        desired_start_date: Some(at.date() + Span::days(15)),
        days_per_week: Some(4),
        atypical_hours: mix(n, 10).is_multiple_of(7),
        insertion_project_kind: ProjectKind::ALL[(mix(n, 11) % 5) as usize],
        consent_given: true,
        consent_date: at.date(),
        status,
        received_at: at,
        first_response_at: (!path.is_empty()).then_some(answered),
        closed_at: status.is_closed().then_some(when),
        updated_at: when,
        sla: avip_db::referrals::FirstResponseClock {
            due_at: Some(at + Span::hours(72)),
            stage: None,
            policy_version: Some(1),
            next_at: None,
        },
        anonymised_at: None,
        closing_reason: match status {
            ReferralStatus::Declined => Some("no_place_available".into()),
            ReferralStatus::Withdrawn => Some("other_childcare_found".into()),
            _ => None,
        },
    };
    let mut children = vec![Child {
        id: ChildId::generate(),
        referral_id: id.clone(),
        position: 0,
        first_name: "Yanis".into(),
        birth_date: birth,
    }];
    if twins {
        children.push(Child {
            id: ChildId::generate(),
            referral_id: id.clone(),
            position: 1,
            first_name: "Lina".into(),
            birth_date: birth,
        });
    }
    let new = NewReferral {
        needs: None,
        family: Family {
            referral_id: id.clone(),
            parent_first_name: "Amina".into(),
            parent_last_name: format!("Famille {n}"),
            parent_phone: Some(format!("06{:08}", n % 100_000_000)),
            parent_email: (n.is_multiple_of(2)).then(|| format!("parent{n}@example.org")),
            parent_postal_code: "83000".into(),
            parent_commune: "Toulon".into(),
            france_travail_id: (n.is_multiple_of(3)).then(|| format!("{:07}A", n % 10_000_000)),
            needs_notes: None,
            insertion_project_description: None,
            pseudonym: None,
            age_bracket: None,
            parent_contact: None,
        },
        children,
        child_keys: if status.is_closed() {
            Vec::new()
        } else {
            vec![format!("bench-{n}")]
        },
        event: events.remove(0),
        referral,
    };
    avip_db::referrals::insert(conn, &new)?;
    for e in &events {
        avip_db::referrals::insert_event(conn, e)?;
    }
    if matches!(status, ReferralStatus::Enrolled | ReferralStatus::Exited) {
        let contract_end = enrolled_on + Span::days(182);
        let positive = mix(n, 12) % 100 < 55;
        avip_db::referrals::insert_enrollment(
            conn,
            &Enrollment {
                referral_id: id.clone(),
                start_date: enrolled_on,
                contract_end_date: contract_end,
                days: r#"["mon","tue","wed","thu"]"#.into(),
                hours_from: None,
                hours_to: None,
                renewals: 0,
                exit_date: exited.then_some(exit_on),
                exit_reason: exited.then(|| ExitReason::ALL[(mix(n, 13) % 7) as usize]),
                exit_employment_status: exited
                    .then(|| EmploymentStatus::ALL[(mix(n, 14) % 7) as usize]),
                positive_exit: exited.then_some(positive),
                childcare_solution: exited
                    .then(|| ChildcareSolution::ALL[(mix(n, 15) % 6) as usize]),
                exit_note: None,
                created_at: answered,
                updated_at: when,
            },
        )?;
        let last = if exited { exit_on } else { contract_end };
        avip_db::places::book(
            conn,
            &Booking {
                referral_id: id,
                kind: BookingKind::Enrollment,
                creche_id: creche,
                places: if twins { 2 } else { 1 },
                starts_on: enrolled_on,
                ends_before: last + Span::days(1),
                days: avip_db::places::EVERY_DAY,
            },
        )?;
    }
    Ok(())
}

async fn territory(app: &TestApp) -> (Territory, String) {
    let admin = app.bootstrap().await;
    let org = |kind: &str, name: &str| json!({"kind": kind, "name": name, "departement": "83"});
    let mut prescribers = Vec::new();
    for (kind, name) in [
        ("france_travail", "France Travail Toulon"),
        ("conseil_departemental", "Conseil départemental du Var"),
        ("mission_locale", "Mission locale Toulon"),
    ] {
        let o = app
            .expect(
                &admin,
                "POST",
                "/api/v1/organizations",
                Some(org(kind, name)),
                201,
            )
            .await;
        prescribers.push(OrganizationId::parse(o["id"].as_str().unwrap()).unwrap());
    }
    let op = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(org("creche_operator", "Ville de Toulon")),
            201,
        )
        .await;
    let mut creches = Vec::new();
    for n in 0..CRECHES {
        let c = app
            .expect(
                &admin,
                "POST",
                "/api/v1/creches",
                Some(json!({"operator_id": op["id"], "name": format!("Crèche {n:02}"),
                    "address": "1 rue", "postal_code": "83000", "commune": "Toulon", "avip_places": 400,
                    "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon"]}})),
                201,
            )
            .await;
        creches.push(CrecheId::parse(c["id"].as_str().unwrap()).unwrap());
    }
    let caf = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(org("caf", "CAF du Var")),
            201,
        )
        .await;
    let body = json!({"email": "caf@example.org", "name": "CAF", "role": "caf",
        "organization_id": caf["id"], "password": PASSWORD});
    app.expect(&admin, "POST", "/api/v1/users", Some(body), 201)
        .await;
    let token = app.password_token("caf@example.org", PASSWORD).await;
    (
        Territory {
            creches,
            prescribers,
            operator: op["id"].as_str().unwrap().to_owned(),
            admin,
        },
        token,
    )
}

/// Downloads `path` as the CAF: (rows, bytes, seconds, peak memory growth in MB).
async fn download(app: &TestApp, caf: &str, path: &str) -> (usize, usize, f64, f64) {
    let baseline = rss_kb();
    let peak = Arc::new(AtomicU64::new(baseline));
    let stop = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while stop.load(Ordering::Relaxed) == 0 {
                peak.fetch_max(rss_kb(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let started = Instant::now();
    let mut response = app.call(caf, "GET", path, None).await;
    assert_eq!(response.status(), 200, "{path}");
    let (mut bytes, mut lines) = (0, 0);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.store(1, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew = peak.load(Ordering::Relaxed).saturating_sub(baseline) as f64 / 1024.0;
    (lines.saturating_sub(1), bytes, seconds, grew)
}

async fn run() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let app = spawn_app().await;
    println!("database: {}", app.db.backend.name());
    let (territory, caf) = territory(&app).await;

    let started = Instant::now();
    let now = Utc::now();
    let start = now - Span::days(365);
    let mut conn = app.db.connect();
    let batch = 2_000;
    for first in (0..rows).step_by(batch) {
        avip_db::write_transaction(&mut conn, |conn| {
            for n in first..(first + batch as u64).min(rows) {
                seed_one(conn, &territory, n, rows, start)?;
            }
            Ok::<_, avip_db::QueryError>(())
        })
        .unwrap();
    }
    println!(
        "seeded {rows} referrals over 365 days through diesel in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // A database in service has been vacuumed and analysed by autovacuum
    // long since; right after a bulk load it would be at work during the
    // measurements, with plans made on no statistics.
    if let avip_db::DbConnection::Pg(pg) = &mut conn {
        use diesel::RunQueryDsl;
        diesel::sql_query("VACUUM ANALYZE").execute(pg).unwrap();
    }
    // `BENCH_KEEP=/tmp/bench.sqlite` keeps a copy of the seeded database
    // (SQLite) to read its query plans with `sqlite3`.
    if let (Ok(path), avip_db::DbConnection::Sqlite(lite)) =
        (std::env::var("BENCH_KEEP"), &mut conn)
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!("VACUUM INTO '{}'", path.replace('\'', "''")))
            .execute(lite)
            .unwrap();
        println!("kept the seeded database in {path}");
    }
    drop(conn);
    // `BENCH_PAGES=only` measures the coordinator's pages and nothing else.
    if std::env::var("BENCH_PAGES").as_deref() == Ok("only") {
        pages(&app, &territory).await;
        return;
    }

    let today = avip_sla_engine::clock::paris_date(now);
    let period = format!("from={}&to={today}", today - Span::days(365));
    // `BENCH_PAGES=bilans` measures the year's bilans and nothing else.
    if std::env::var("BENCH_PAGES").as_deref() == Ok("bilans") {
        bilans(&app, &caf, &period).await;
        return;
    }
    for run in 1..=3 {
        let (lines, bytes, seconds, grew) = download(
            &app,
            &caf,
            &format!("/api/v1/exports/referrals?{period}&format=csv"),
        )
        .await;
        println!(
            "CSV export, run {run}: {lines} rows, {:.1} MB in {seconds:.2} s; peak resident memory +{grew:.1} MB",
            bytes as f64 / 1e6
        );
    }
    let (_, bytes, seconds, grew) = download(
        &app,
        &caf,
        &format!("/api/v1/exports/referrals?{period}&format=xlsx"),
    )
    .await;
    println!(
        "XLSX export: {:.1} MB in {seconds:.2} s; peak resident memory +{grew:.1} MB",
        bytes as f64 / 1e6
    );

    // From the days' sums, kept as the referrals were written.
    for (group, runs) in [
        ("month", 20),
        ("creche", 20),
        ("prescriber_kind", 20),
        ("prescriber", 20),
    ] {
        indicators(&app, &caf, &format!("{period}&group_by={group}"), runs, "").await;
    }
    // Ten years of indicators by month: one pass over the days (issue 16).
    let decade = format!("from={}&to={today}", today - Span::days(3652));
    indicators(
        &app,
        &caf,
        &format!("{decade}&group_by=month"),
        10,
        " over ten years",
    )
    .await;

    // The year's bilan of the département, in each format.
    bilans(&app, &caf, &period).await;

    // The coordinator's day over the same year.
    pages(&app, &territory).await;

    // The same year counted from every referral, as before the sums (and
    // as after an upgrade until they are added up); then the adding up.
    {
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        diesel::delete(avip_db::schema::indicator_state::table)
            .execute(&mut conn)
            .unwrap();
    }
    let period_by_month = format!("{period}&group_by=month");
    indicators(
        &app,
        &caf,
        &period_by_month,
        3,
        " counted from every referral",
    )
    .await;
    let started = Instant::now();
    let counted = {
        let mut conn = app.db.connect();
        avip_db::tallies::rebuild(&mut conn, to_db_time(Utc::now())).unwrap()
    };
    println!(
        "adding up {counted} referrals from scratch (avip indicators rebuild): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    indicators(&app, &caf, &period_by_month, 20, " after the rebuild").await;

    uniqueness(&app, &caf, &period).await;
}

/// The year's bilan d'activité of the CAF's département (issue 37), DOCX
/// then XLSX, 5 times each: median and max, and the file's size.
async fn bilans(app: &TestApp, caf: &str, period: &str) {
    for format in ["docx", "xlsx"] {
        let runs = 5;
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let response = app
                .client
                .get(app.url(&format!(
                    "/api/v1/reports/activity?{period}&format={format}"
                )))
                .bearer_auth(caf)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200, "{format}");
            size = response.bytes().await.unwrap().len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "bilan of the year, {format} ({} kB), {runs} runs: median {:.0} ms, max {:.0} ms",
            size / 1000,
            times[runs / 2],
            times[runs - 1]
        );
    }
}

/// The coordinator's pages over the year (issue 33): as the coordinator
/// of one of the 20 crèches (about 5,000 referrals), signed in to the
/// workspace, 50 times each: the worklist, a referral's page, a search by
/// the family's name. Median, p95 (nearest rank) and max.
async fn pages(app: &TestApp, t: &Territory) {
    let body = json!({"email": "coordination@example.org", "name": "Coordination",
        "role": "coordinator", "organization_id": t.operator,
        "creche_ids": [t.creches[0].to_string()], "password": PASSWORD});
    app.expect(&t.admin, "POST", "/api/v1/users", Some(body), 201)
        .await;
    let token = app
        .password_token("coordination@example.org", PASSWORD)
        .await;
    let one: Value = app
        .expect(
            &token,
            "GET",
            "/api/v1/referrals?limit=1&sort=-received_at",
            None,
            200,
        )
        .await;
    let referral = &one["items"][0];
    let family = referral["parent"]["last_name"].as_str().unwrap().to_owned();
    // Signed in as a browser is: the sign-in form's token, then the cookie.
    let form = app
        .client
        .get(app.url("/app/connexion"))
        .send()
        .await
        .unwrap();
    let cookies = |r: &reqwest::Response| -> String {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let before = cookies(&form);
    let html = form.text().await.unwrap();
    let start = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = &html[start..start + html[start..].find('"').unwrap()];
    let signed = app
        .client
        .post(app.url("/app/connexion"))
        .header("cookie", &before)
        .form(&[
            ("csrf", csrf),
            ("suite", "/app/"),
            ("email", "coordination@example.org"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303, "signed in");
    let cookie = cookies(&signed);
    let q: String = family.to_lowercase().replace(' ', "+");
    for (what, path) in [
        ("the worklist", "/app/a-traiter".to_owned()),
        (
            "a referral's page",
            format!("/app/orientations/{}", referral["id"].as_str().unwrap()),
        ),
        ("a search by name", format!("/app/orientations?q={q}")),
    ] {
        let runs: usize = 50;
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let page = app
                .client
                .get(app.url(&path))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(page.status().as_u16(), 200, "{path}");
            size = page.bytes().await.unwrap().len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let p95 = times[(runs * 95).div_ceil(100) - 1];
        println!(
            "{what} ({} kB), {runs} runs: median {:.1} ms, p95 {p95:.1} ms, max {:.1} ms",
            size / 1000,
            times[runs / 2],
            times[runs - 1]
        );
    }
}

/// `runs` downloads of the indicators (`query`): median, 95th percentile
/// (nearest rank) and max.
async fn indicators(app: &TestApp, caf: &str, query: &str, runs: usize, what: &str) {
    let mut times = Vec::new();
    let mut groups = 0;
    for _ in 0..runs {
        let started = Instant::now();
        let path = format!("/api/v1/exports/indicators?{query}");
        let body: Value = app.expect(caf, "GET", &path, None, 200).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        groups = body.as_array().unwrap().len();
    }
    times.sort_by(f64::total_cmp);
    let p95 = times[(runs * 95).div_ceil(100) - 1];
    let by = query.rsplit("group_by=").next().unwrap_or_default();
    println!(
        "indicators by {by}{what} ({groups} groups), {runs} runs: median {:.0} ms, p95 {p95:.0} ms, max {:.0} ms",
        times[runs / 2],
        times[runs - 1]
    );
}

/// How many rows are the only one of their kind on what someone holding
/// other files could match them with (quasi-identifiers), before and after
/// the rows were minimised (issue 18).
async fn uniqueness(app: &TestApp, caf: &str, period: &str) {
    use std::collections::HashMap;
    fn unique<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> (usize, usize) {
        let mut counts: HashMap<K, usize> = HashMap::new();
        let mut total = 0;
        for k in keys {
            *counts.entry(k).or_default() += 1;
            total += 1;
        }
        (counts.values().filter(|c| **c == 1).count(), total)
    }
    let report = |what: &str, (alone, total): (usize, usize)| {
        println!(
            "unique rows on {what}: {alone} of {total} ({:.1} %)",
            100.0 * alone as f64 / total.max(1) as f64
        );
    };
    // What the rows carried before: crèche, prescriber agency, day received.
    let before: Vec<(String, String, NaiveDateTime)> = {
        use avip_db::schema::referrals as r;
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        r::table
            .select((r::creche_id, r::prescriber_organization_id, r::received_at))
            .load::<(CrecheId, OrganizationId, NaiveDateTime)>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|(c, o, at)| (c.to_string(), o.to_string(), at))
            .collect()
    };
    report(
        "crèche + agency + day received (the rows before)",
        unique(before.iter().map(|(c, o, at)| {
            (
                c.clone(),
                o.clone(),
                avip_sla_engine::clock::paris_date(at.and_utc()),
            )
        })),
    );
    let rows: Value = app
        .expect(
            caf,
            "GET",
            &format!("/api/v1/exports/referrals?{period}&format=json"),
            None,
            200,
        )
        .await;
    let rows = rows.as_array().unwrap();
    let field = |row: &Value, name: &str| row[name].to_string();
    let profile = [
        "creche_id",
        "prescriber_kind",
        "received_month",
        "parent_situation",
        "single_parent",
        "qpv_resident",
        "child_age_bracket",
        "children",
        "insertion_project_kind",
    ];
    report(
        "crèche + prescriber kind + month + the parent's profile (the rows now)",
        unique(rows.iter().map(|row| profile.map(|f| field(row, f)))),
    );
    let with_path: Vec<&str> = profile
        .iter()
        .copied()
        .chain([
            "outcome",
            "enrollment_start_month",
            "days_enrolled",
            "exit_reason",
        ])
        .collect();
    report(
        "the same + outcome, start month, days enrolled, exit reason",
        unique(
            rows.iter()
                .map(|row| with_path.iter().map(|f| field(row, f)).collect::<Vec<_>>()),
        ),
    );
}
