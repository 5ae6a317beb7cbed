//! Data protection as a data protection officer checks it: families
//! anonymised on time (by the command and by the daily job) with the
//! evaluation's figures and family ids unchanged, every read traceable,
//! access and erasure requests answered with one call.

use avip_db::Backend;
use avip_tests::{TestApp, spawn_app, spawn_app_with, spawn_app_with_engine};
use serde_json::{Value, json};

use crate::referrals::{Territory, referral, territory};

/// What the fixture's families are made of: none may survive anonymisation.
const PERSONAL: &[&str] = &[
    "Benali",
    "amina.b@example.org",
    "612345678",
    "1234567A",
    "Paul Durand",
    "p.durand@example.org",
    "494000000",
    "Zephyrin",
    "Ondine",
    "secret-note-7431",
];

/// A referral for `child`; its needs carry the fixture's secret note,
/// except for "Yanis" (the family that stays).
async fn post_referral(app: &TestApp, t: &Territory, child: &str) -> String {
    let mut body = referral(&t.creche, child);
    if child != "Yanis" {
        body["needs"]["notes"] = json!("secret-note-7431 besoins");
    }
    app.expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn decline(app: &TestApp, t: &Territory, id: &str) {
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{id}/notes"),
        Some(json!({"note": "secret-note-7431 appel de la maman"})),
        201,
    )
    .await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{id}/transitions"),
        Some(json!({"to": "declined", "reason": "no_place_matching_hours", "note": "secret-note-7431"})),
        200,
    )
    .await;
}

/// A referral's timeline entries, as an admin reads them.
async fn timeline(app: &TestApp, t: &Territory, id: &str) -> Vec<Value> {
    let page = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/referrals/{id}/events"),
            None,
            200,
        )
        .await;
    page["items"].as_array().unwrap().clone()
}

use avip_tests::today;

/// The CAF's rows (JSON) and indicators for the days around today.
async fn evaluation(app: &TestApp, t: &Territory) -> (Value, Value) {
    let (from, to) = (
        today() - chrono::Duration::days(2),
        today() + chrono::Duration::days(1),
    );
    let rows = app
        .expect(
            &t.caf,
            "GET",
            &format!("/api/v1/exports/referrals?from={from}&to={to}&format=json"),
            None,
            200,
        )
        .await;
    let indicators = app
        .expect(
            &t.caf,
            "GET",
            &format!("/api/v1/exports/indicators?from={from}&to={to}&group_by=creche"),
            None,
            200,
        )
        .await;
    (rows, indicators)
}

fn retention(app: &TestApp, dry_run: bool) {
    avip_app::retention::run(&app.settings, None, dry_run).expect("the retention command runs");
}

/// Every text an API client can read about these referrals.
async fn everything_readable(app: &TestApp, t: &Territory, ids: &[&str]) -> String {
    let mut out = String::new();
    for id in ids {
        for path in [
            format!("/api/v1/referrals/{id}"),
            format!("/api/v1/referrals/{id}/events"),
            format!("/api/v1/referrals/{id}/personal-data"),
        ] {
            out.push_str(
                &app.expect(&t.admin, "GET", &path, None, 200)
                    .await
                    .to_string(),
            );
        }
    }
    out
}

#[tokio::test]
async fn closed_families_are_anonymised_and_the_evaluation_does_not_change() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_RETENTION".into(), "2s".into());
    })
    .await;
    let t = territory(&app).await;
    let declined = post_referral(&app, &t, "Zephyrin").await;
    decline(&app, &t, &declined).await;
    let withdrawn = post_referral(&app, &t, "Ondine").await;
    app.expect(
        &t.prescriber,
        "POST",
        &format!("/api/v1/referrals/{withdrawn}/transitions"),
        Some(json!({"to": "withdrawn", "reason": "family_moved"})),
        200,
    )
    .await;
    let open = post_referral(&app, &t, "Yanis").await;
    // An e-mail to the referent, as the dispatcher records it: its
    // address goes with the family's data.
    {
        use avip_db::model::{ActorKind, EventId, EventKind, ReferralId};
        let mut conn = app.db.connect();
        avip_db::referrals::insert_event(
            &mut conn,
            &avip_db::referrals::Event {
                id: EventId::generate(),
                referral_id: ReferralId::parse(&declined).unwrap(),
                kind: EventKind::EmailSent,
                occurred_at: chrono::Utc::now().naive_utc(),
                actor_kind: ActorKind::System,
                actor_id: None,
                from_status: None,
                to_status: None,
                reason: None,
                note: None,
                data: Some(
                    json!({"kind": "referent_notice", "to": ["p.durand@example.org"]}).to_string(),
                ),
            },
        )
        .unwrap();
    }
    let before = evaluation(&app, &t).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;

    // A dry run changes nothing.
    retention(&app, true);
    let still = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/referrals/{declined}"),
            None,
            200,
        )
        .await;
    assert_eq!(still["parent"]["last_name"], "Benali");
    assert!(still["anonymised_at"].is_null());

    retention(&app, false);
    for id in [&declined, &withdrawn] {
        let r = app
            .expect(
                &t.admin,
                "GET",
                &format!("/api/v1/referrals/{id}"),
                None,
                200,
            )
            .await;
        assert!(r["anonymised_at"].is_string(), "{r}");
        assert_eq!(r["parent"]["last_name"], "");
        assert_eq!(r["children"][0]["first_name"], "");
        let timeline = timeline(&app, &t, id).await;
        let anonymised = timeline
            .iter()
            .filter(|e| e["kind"] == "anonymised")
            .count();
        assert_eq!(anonymised, 1, "{timeline:?}");
    }
    let kept = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/referrals/{open}"),
            None,
            200,
        )
        .await;
    assert!(kept["anonymised_at"].is_null());
    assert_eq!(
        kept["parent"]["last_name"], "Benali",
        "an open referral is untouched"
    );

    // The same figures and the same family ids.
    assert_eq!(evaluation(&app, &t).await, before);
    // Idempotent: a second run finds nothing, changes nothing.
    retention(&app, false);
    assert_eq!(evaluation(&app, &t).await, before);

    let readable = everything_readable(&app, &t, &[&declined, &withdrawn]).await;
    for value in PERSONAL {
        assert!(
            !readable.contains(value),
            "{value} is still readable: {readable}"
        );
    }
    if app.db.backend == Backend::Sqlite {
        // Nothing of the anonymised families left in the database files
        // (the open referral's family, "Yanis", is another family).
        let mut bytes = std::fs::read(&app.db.url).unwrap();
        if let Ok(wal) = std::fs::read(format!("{}-wal", app.db.url)) {
            bytes.extend(wal);
        }
        for value in ["Zephyrin", "Ondine", "secret-note-7431"] {
            assert!(
                !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                "{value} is still in the SQLite file"
            );
        }
    }
}

#[tokio::test]
async fn the_daily_job_anonymises_on_its_schedule() {
    let schedule = |env: &mut std::collections::HashMap<String, String>| {
        env.insert("AVIP_RETENTION".into(), "1s".into());
        env.insert("AVIP_RETENTION_SCHEDULE".into(), "* * * * * *".into());
    };
    let app = spawn_app_with_engine(schedule).await;
    // A second instance runs the same job on the same database: each
    // family is anonymised once, whoever gets there first.
    let second = app.another_instance(schedule, true).await;
    let t = territory(&app).await;
    let mut ids = Vec::new();
    for child in ["Zephyrin", "Anatole", "Berenice", "Clotaire"] {
        let id = post_referral(&app, &t, child).await;
        decline(&app, &t, &id).await;
        ids.push(id);
    }
    for id in &ids {
        let mut anonymised = false;
        for _ in 0..120 {
            let r = app
                .expect(
                    &t.admin,
                    "GET",
                    &format!("/api/v1/referrals/{id}"),
                    None,
                    200,
                )
                .await;
            if r["anonymised_at"].is_string() {
                assert_eq!(r["parent"]["last_name"], "");
                anonymised = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        assert!(anonymised, "the scheduled job did not anonymise {id}");
    }
    // Both jobs ran again meanwhile.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    second.stop(true).await;
    for id in &ids {
        let entries = timeline(&app, &t, id).await;
        let anonymised = entries.iter().filter(|e| e["kind"] == "anonymised").count();
        assert_eq!(anonymised, 1, "{id}: {entries:#?}");
    }
}

#[tokio::test]
async fn the_access_log_lists_exactly_the_reads_a_coordinator_made() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let a = post_referral(&app, &t, "Zephyrin").await;
    let b = post_referral(&app, &t, "Ondine").await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let coordinator = me["id"].as_str().unwrap();
    let one = app
        .call(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{a}"),
            None,
        )
        .await;
    let request_id = one.headers()["x-request-id"].to_str().unwrap().to_owned();
    app.expect(&t.coordinator, "GET", "/api/v1/referrals", None, 200)
        .await;
    app.expect(
        &t.coordinator,
        "GET",
        &format!("/api/v1/referrals/{a}/events"),
        None,
        200,
    )
    .await;
    app.expect(
        &t.coordinator,
        "GET",
        &format!("/api/v1/referrals/{b}/follow-ups"),
        None,
        200,
    )
    .await;
    let log = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?actor_id={coordinator}"),
            None,
            200,
        )
        .await;
    let mut reads: Vec<(String, Vec<String>)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let ids = e["referral_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect();
            (e["operation"].as_str().unwrap().to_owned(), ids)
        })
        .collect();
    reads.sort();
    let mut expected = vec![
        ("follow_ups".to_owned(), vec![b.clone()]),
        ("get_referral".to_owned(), vec![a.clone()]),
        ("list_referrals".to_owned(), vec![a.clone(), b.clone()]),
        ("timeline".to_owned(), vec![a.clone()]),
    ];
    expected.sort();
    assert_eq!(reads, expected);
    let get = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == "get_referral")
        .unwrap();
    assert_eq!(get["request_id"], request_id.as_str());
    assert_eq!(get["organization_id"], me["organization"]["id"]);
    // Filtered by referral, and paged.
    let only_b = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?referral_id={b}&limit=1"),
            None,
            200,
        )
        .await;
    assert_eq!(only_b["items"].as_array().unwrap().len(), 1);
    assert!(only_b["next_cursor"].is_string());
    // Only admins read the log.
    for token in [&t.coordinator, &t.prescriber, &t.caf] {
        app.expect(token, "GET", "/api/v1/access-log", None, 403)
            .await;
    }
}

#[tokio::test]
async fn access_and_erasure_requests_are_answered_in_one_call() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let id = post_referral(&app, &t, "Zephyrin").await;
    // Access: the admin and the crèche's coordinator; nobody else.
    let data = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{id}/personal-data"),
            None,
            200,
        )
        .await;
    assert_eq!(data["referral"]["parent"]["last_name"], "Benali");
    assert!(
        data["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "created")
    );
    app.expect(
        &t.other_coordinator,
        "GET",
        &format!("/api/v1/referrals/{id}/personal-data"),
        None,
        404,
    )
    .await;
    app.expect(
        &t.prescriber,
        "GET",
        &format!("/api/v1/referrals/{id}/personal-data"),
        None,
        403,
    )
    .await;
    // Erasure: admins only, with a reason.
    let body = json!({"reason": "demande reçue par courrier"});
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{id}/erasure"),
        Some(body.clone()),
        403,
    )
    .await;
    let missing = app
        .expect(
            &t.admin,
            "POST",
            &format!("/api/v1/referrals/{id}/erasure"),
            Some(json!({})),
            422,
        )
        .await;
    assert_eq!(missing["errors"][0]["field"], "reason", "{missing}");
    let erased = app
        .expect(
            &t.admin,
            "POST",
            &format!("/api/v1/referrals/{id}/erasure"),
            Some(body.clone()),
            200,
        )
        .await;
    assert_eq!(
        erased["status"], "withdrawn",
        "an open referral is withdrawn first"
    );
    assert!(erased["anonymised_at"].is_string());
    assert_eq!(erased["parent"]["last_name"], "");
    let entry = timeline(&app, &t, &id)
        .await
        .into_iter()
        .find(|e| e["kind"] == "anonymised")
        .expect("an anonymised entry");
    assert_eq!(entry["note"], "demande reçue par courrier");
    let again = app
        .expect(
            &t.admin,
            "POST",
            &format!("/api/v1/referrals/{id}/erasure"),
            Some(body),
            409,
        )
        .await;
    assert_eq!(again["code"], "already_anonymised");
    // Both requests are in the access log.
    let log = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?referral_id={id}"),
            None,
            200,
        )
        .await;
    let operations: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert!(
        operations.contains(&"personal_data") && operations.contains(&"erasure"),
        "{operations:?}"
    );
}
