//! Referrals over HTTP: intake, the coordinator's workflow, the timeline,
//! lists, and who may see and do what.

use std::collections::HashSet;

use avip_tests::{TestApp, spawn_app, spawn_app_with};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "a long passphrase";

pub(crate) struct Territory {
    pub(crate) admin: String,
    pub(crate) coordinator: String,
    pub(crate) other_coordinator: String,
    pub(crate) prescriber: String,
    pub(crate) other_prescriber: String,
    pub(crate) caf: String,
    pub(crate) creche: String,
    pub(crate) other_creche: String,
}

pub(crate) async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    app.expect(token, "POST", path, Some(body), 201).await
}

pub(crate) async fn org(app: &TestApp, admin: &str, kind: &str, name: &str) -> String {
    let body = json!({"kind": kind, "name": name, "departement": "83"});
    create(app, admin, "/api/v1/organizations", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn creche(app: &TestApp, admin: &str, operator: &str, name: &str) -> String {
    let body = json!({"operator_id": operator, "name": name, "address": "1 place de la Liberté",
        "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
        "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon","tue","wed","thu","fri"]}});
    create(app, admin, "/api/v1/creches", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn person(
    app: &TestApp,
    admin: &str,
    email: &str,
    role: &str,
    org: &str,
    creches: &[&str],
) -> String {
    let mut body = json!({"email": email, "name": email, "role": role, "organization_id": org, "password": PASSWORD});
    if role == "coordinator" {
        body["creche_ids"] = json!(creches);
    }
    create(app, admin, "/api/v1/users", body).await;
    app.password_token(email, PASSWORD).await
}

pub(crate) async fn territory(app: &TestApp) -> Territory {
    let admin = app.bootstrap().await;
    let ft = org(app, &admin, "france_travail", "France Travail Toulon Est").await;
    let ml = org(app, &admin, "mission_locale", "Mission locale Toulon").await;
    let caf = org(app, &admin, "caf", "CAF du Var").await;
    let op = org(app, &admin, "creche_operator", "Ville de Toulon").await;
    let op2 = org(app, &admin, "creche_operator", "Crèches du Var").await;
    let creche_id = creche(app, &admin, &op, "Les Petits Pas").await;
    let other_creche = creche(app, &admin, &op2, "Les Lucioles").await;
    Territory {
        coordinator: person(
            app,
            &admin,
            "c.martin@example.org",
            "coordinator",
            &op,
            &[&creche_id],
        )
        .await,
        other_coordinator: person(
            app,
            &admin,
            "b.roux@example.org",
            "coordinator",
            &op2,
            &[&other_creche],
        )
        .await,
        prescriber: person(app, &admin, "p.durand@example.org", "prescriber", &ft, &[]).await,
        other_prescriber: person(app, &admin, "l.nguyen@example.org", "prescriber", &ml, &[]).await,
        caf: person(app, &admin, "analyste@caf.example.org", "caf", &caf, &[]).await,
        creche: creche_id,
        other_creche,
        admin,
    }
}

pub(crate) use avip_tests::today;

/// Turns the coordinators' arrival notices off: for the tests that follow
/// other e-mails one by one (the arrival notice has its own, `arrival.rs`).
pub(crate) async fn without_arrival_notices(app: &TestApp, t: &Territory) {
    for token in [&t.coordinator, &t.other_coordinator] {
        let off = json!({"referral_received": "off"});
        let path = "/api/v1/me/notification-preferences";
        app.expect(token, "PUT", path, Some(off), 200).await;
    }
}

/// The body of docs/product.md §6, for `child` (a first name), with dates near today.
pub(crate) fn referral(creche: &str, child: &str) -> Value {
    json!({"creche_id": creche,
        "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "04 94 00 00 00"},
        "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "06 12 34 56 78",
                   "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
                   "situation": "job_seeker", "single_parent": true, "qpv_resident": false,
                   "france_travail_id": "1234567A"},
        "children": [{"first_name": child, "birth_date": (today() - Duration::days(400)).to_string()}],
        "needs": {"desired_start_date": (today() + Duration::days(10)).to_string(), "days_per_week": 4,
                  "atypical_hours": false, "notes": "formation de 9h à 17h"},
        "insertion_project": {"kind": "training", "description": "CAP petite enfance"},
        "consent": {"given": true, "date": (today() - Duration::days(2)).to_string()}})
}

async fn post_referral(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(token, "POST", "/api/v1/referrals", Some(body))
        .await
}

/// A referral for a family that needs Monday and Tuesday.
pub(crate) async fn monday_tuesday_referral(app: &TestApp, t: &Territory) -> Value {
    let mut body = referral(&t.creche, "Yanis");
    body["needs"]["days"] = json!(["mon", "tue"]);
    body["needs"]["days_per_week"] = json!(2);
    create(app, &t.prescriber, "/api/v1/referrals", body).await
}

pub(crate) async fn new_referral(app: &TestApp, token: &str, creche: &str, child: &str) -> Value {
    create(app, token, "/api/v1/referrals", referral(creche, child)).await
}

pub(crate) fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn move_to(
    app: &TestApp,
    token: &str,
    referral: &str,
    body: Value,
    status: u16,
) -> Value {
    let path = format!("/api/v1/referrals/{referral}/transitions");
    app.expect(token, "POST", &path, Some(body), status).await
}

#[tokio::test]
async fn a_prescriber_posts_a_referral_and_follows_it() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let before = Utc::now();
    let response = post_referral(&app, &t.prescriber, referral(&t.creche, "Yanis")).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/referrals/{}", id(&created)));
    let year = chrono::Datelike::year(&today());
    assert_eq!(created["reference"], format!("AVIP-83-{year}-00001"));
    assert_eq!(created["status"], "received");
    assert_eq!(
        created["parent"]["phone"], "+33612345678",
        "stored normalised"
    );
    assert_eq!(created["children"][0]["first_name"], "Yanis");
    assert_eq!(created["first_response_at"], Value::Null);
    let received: DateTime<Utc> = created["received_at"].as_str().unwrap().parse().unwrap();
    let due: DateTime<Utc> = created["sla"]["due_at"].as_str().unwrap().parse().unwrap();
    assert!(received >= before - Duration::seconds(1));
    assert_eq!(due - received, Duration::hours(72));
    assert_eq!(created["sla"]["clock"], "calendar");
    assert_eq!(created["sla"]["met"], Value::Null);
    let left = created["sla"]["seconds_left"].as_i64().unwrap();
    assert!((259_100..=259_200).contains(&left), "{left}");

    let fetched = app.expect(&t.prescriber, "GET", &location, None, 200).await;
    assert_eq!(fetched["reference"], created["reference"]);
    let events = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("{location}/events"),
            None,
            200,
        )
        .await;
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "created");
    assert_eq!(events[0]["actor"]["kind"], "user");

    let second = new_referral(&app, &t.prescriber, &t.creche, "Lina").await;
    assert_eq!(second["reference"], format!("AVIP-83-{year}-00002"));
}

#[tokio::test]
async fn every_invalid_field_is_named() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut body = referral(&t.creche, "Yanis");
    body["referent"]["email"] = json!("not an e-mail");
    body["parent"]["phone"] = json!("12345");
    body["parent"]["postal_code"] = json!("8300");
    body["parent"]["france_travail_id"] = json!("ABC");
    body["children"] = json!([
        {"first_name": "Yanis", "birth_date": (today() + Duration::days(30)).to_string()},
        {"first_name": "Sarah", "birth_date": (today() - Duration::days(5 * 365)).to_string()},
        {"first_name": "", "birth_date": (today() - Duration::days(100)).to_string()},
    ]);
    body["needs"]["days_per_week"] = json!(9);
    body["consent"]["given"] = json!(false);
    let response = post_referral(&app, &t.prescriber, body).await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed");
    let mut got = fields(&problem);
    got.sort();
    assert_eq!(
        got,
        [
            "children[0].birth_date",
            "children[1].birth_date",
            "children[2].first_name",
            "consent.given",
            "needs.days_per_week",
            "parent.france_travail_id",
            "parent.phone",
            "parent.postal_code",
            "referent.email",
        ]
    );

    // Shapes serde refuses: each is a 4xx naming the field, never a 500.
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|b| b["parent"]["situation"] = json!("unemployed")),
            "parent.situation",
        ),
        (
            Box::new(|b| b["needs"]["desired_start_date"] = json!("2026-02-30")),
            "needs.desired_start_date",
        ),
        (
            Box::new(|b| b["children"][0]["birth_date"] = json!(20250314)),
            "children[0].birth_date",
        ),
        (
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("consent");
            }),
            "consent",
        ),
        (
            Box::new(|b| b["insertion_project"]["kind"] = json!("holiday")),
            "insertion_project.kind",
        ),
        (
            Box::new(|b| b["parent"]["nickname"] = json!("x")),
            "parent.nickname",
        ),
    ];
    for (change, field) in cases {
        let mut body = referral(&t.creche, "Yanis");
        change(&mut body);
        let response = post_referral(&app, &t.prescriber, body).await;
        assert_eq!(response.status(), 422, "{field}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(fields(&problem), [field], "{problem}");
    }

    for (change, field, message) in [
        (json!({"children": []}), "children", "at least one child"),
        (
            json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e"}),
            "creche_id",
            "no such crèche",
        ),
        (json!({"creche_id": "42"}), "creche_id", "is not an id"),
    ] {
        let mut body = referral(&t.creche, "Yanis");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let problem = app
            .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 422)
            .await;
        assert_eq!(fields(&problem), [field]);
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{problem}"
        );
    }

    // A parent the crèche cannot reach, and a child already at school age.
    let mut body = referral(&t.creche, "Yanis");
    body["parent"]["phone"] = Value::Null;
    body["parent"]["email"] = json!("");
    body["children"][0]["birth_date"] = json!((today() - Duration::days(4 * 366)).to_string());
    let problem = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 422)
        .await;
    assert_eq!(fields(&problem), ["parent.phone", "children[0].birth_date"]);

    // Nothing half-written: the list is still empty.
    let list = app
        .expect(&t.admin, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn idempotency_keys_and_duplicate_children() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let send = |key: &'static str, body: Value| {
        let request = app
            .client
            .post(app.url("/api/v1/referrals"))
            .bearer_auth(&t.prescriber)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = send("si-ft-000123", referral(&t.creche, "Yanis")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send("si-ft-000123", referral(&t.creche, "Yanis")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["reference"], first["reference"]);

    let other = send("si-ft-000123", referral(&t.creche, "Lina")).await;
    assert_eq!(other.status(), 422);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["code"], "idempotency_key_reused");
    assert_eq!(fields(&other), ["Idempotency-Key"]);

    // The same child at the same crèche, under another key: 409 with its id.
    let duplicate = send("si-ft-000124", referral(&t.creche, "  yanis ")).await;
    assert_eq!(duplicate.status(), 409);
    let duplicate: Value = duplicate.json().await.unwrap();
    assert_eq!(duplicate["code"], "duplicate_referral");
    assert_eq!(duplicate["existing_referral_id"], first["id"]);
    // …even from another prescriber, since it is the same family; but that
    // organisation learns only that the child is referred, not the id.
    let problem = app
        .expect(
            &t.other_prescriber,
            "POST",
            "/api/v1/referrals",
            Some(referral(&t.creche, "Yanis")),
            409,
        )
        .await;
    assert_eq!(problem["code"], "duplicate_referral");
    assert!(problem.get("existing_referral_id").is_none(), "{problem}");
    assert!(
        !problem.to_string().contains(first["id"].as_str().unwrap()),
        "{problem}"
    );

    // Once that referral is closed, the child can be referred again.
    move_to(
        &app,
        &t.prescriber,
        &id(&first),
        json!({"to": "withdrawn", "reason": "referral_error", "note": "doublon"}),
        200,
    )
    .await;
    new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;

    let bad_key = app
        .client
        .post(app.url("/api/v1/referrals"))
        .bearer_auth(&t.prescriber)
        .header("Idempotency-Key", "x".repeat(256))
        .json(&referral(&t.creche, "Noah"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 422);
}

#[tokio::test]
async fn references_have_no_gaps_or_duplicates_under_concurrency() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let n = 24;
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = app.client.clone();
        let url = app.url("/api/v1/referrals");
        let token = t.prescriber.clone();
        // Every fourth request repeats a child: exactly one of each pair wins.
        let child = format!("Enfant{}", i - i % 2 * usize::from(i % 4 == 1));
        let body = referral(&t.creche, &child);
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut references = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => references.push(body["reference"].as_str().unwrap().to_owned()),
            409 => conflicts += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let expected_conflicts = (0..n).filter(|i| i % 4 == 1).count();
    assert_eq!(conflicts, expected_conflicts);
    let mut numbers: Vec<u32> = references
        .iter()
        .map(|r| r.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    let expected: Vec<u32> = (1..=u32::try_from(n - expected_conflicts).unwrap()).collect();
    assert_eq!(numbers, expected, "{references:?}");
}

#[tokio::test]
async fn a_coordinator_carries_a_referral_from_received_to_exited() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let rid = id(&r);
    let path = format!("/api/v1/referrals/{rid}");

    let contacted = move_to(
        &app,
        &t.coordinator,
        &rid,
        json!({"to": "contacted", "note": "appel à la mère"}),
        200,
    )
    .await;
    assert_eq!(contacted["status"], "contacted");
    assert_ne!(contacted["first_response_at"], Value::Null);
    assert_eq!(contacted["sla"]["met"], true);
    assert_eq!(contacted["sla"]["seconds_left"], Value::Null);
    let first_response = contacted["first_response_at"].clone();

    // Not in the table: 409 listing where it may go.
    let problem = move_to(&app, &t.coordinator, &rid, json!({"to": "received"}), 409).await;
    assert_eq!(problem["code"], "invalid_transition");
    assert_eq!(problem["current_status"], "contacted");
    assert_eq!(
        problem["allowed_next_states"],
        json!(["offered", "waitlisted", "declined", "withdrawn"])
    );
    let problem = move_to(&app, &t.coordinator, &rid, json!({"to": "declined"}), 422).await;
    assert_eq!(fields(&problem), ["reason"]);
    let problem = move_to(
        &app,
        &t.coordinator,
        &rid,
        json!({"to": "declined", "reason": "too_far"}),
        422,
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no_place_matching_hours")
    );

    move_to(&app, &t.coordinator, &rid, json!({"to": "waitlisted"}), 200).await;
    let offered = move_to(&app, &t.coordinator, &rid, json!({"to": "offered"}), 200).await;
    assert_eq!(
        offered["first_response_at"], first_response,
        "only the first answer counts"
    );
    let problem = move_to(&app, &t.coordinator, &rid, json!({"to": "enrolled"}), 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("/enrollment"));

    let start = today() + Duration::days(7);
    let enrolled = app
        .expect(
            &t.coordinator,
            "POST",
            &format!("{path}/enrollment"),
            Some(
                json!({"start_date": start.to_string(), "days": ["mon","tue","thu","fri"],
                        "hours": {"from": "08:30", "to": "17:30"}}),
            ),
            201,
        )
        .await;
    assert_eq!(enrolled["status"], "enrolled");
    let end = start
        .checked_add_months(chrono::Months::new(6))
        .unwrap()
        .pred_opt()
        .unwrap();
    assert_eq!(enrolled["enrollment"]["contract_end_date"], end.to_string());
    assert_eq!(enrolled["enrollment"]["renewals"], 0);
    app.expect(
        &t.coordinator,
        "POST",
        &format!("{path}/enrollment"),
        Some(json!({"start_date": start.to_string(), "days": ["mon"]})),
        409,
    )
    .await;

    let renewed = app
        .expect(
            &t.coordinator,
            "PATCH",
            &format!("{path}/enrollment"),
            Some(json!({"renew": true})),
            200,
        )
        .await;
    let renewed_end = end.checked_add_months(chrono::Months::new(6)).unwrap();
    assert_eq!(
        renewed["enrollment"]["contract_end_date"],
        renewed_end.to_string()
    );
    assert_eq!(renewed["enrollment"]["renewals"], 1);
    let amended = app
        .expect(
            &t.coordinator,
            "PATCH",
            &format!("{path}/enrollment"),
            Some(json!({"days": ["mon","tue"]})),
            200,
        )
        .await;
    assert_eq!(amended["enrollment"]["days"], json!(["mon", "tue"]));
    assert_eq!(amended["enrollment"]["renewals"], 1);

    let follow_up = app
        .expect(
            &t.prescriber,
            "POST",
            &format!("{path}/follow-ups"),
            Some(
                json!({"date": today().to_string(), "participants": ["referent", "coordinator"],
                        "employment_status": "training", "next_steps": "point à mi-formation",
                        "next_date": (today() + Duration::days(60)).to_string()}),
            ),
            201,
        )
        .await;
    assert_eq!(follow_up["employment_status"], "training");
    let problem = app
        .expect(
            &t.coordinator,
            "POST",
            &format!("{path}/follow-ups"),
            Some(
                json!({"date": (today() + Duration::days(3)).to_string(), "participants": [],
                        "employment_status": "training"}),
            ),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["date", "participants"]);
    let list = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("{path}/follow-ups"),
            None,
            200,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    app.expect(
        &t.coordinator,
        "POST",
        &format!("{path}/notes"),
        Some(json!({"note": "la maman a trouvé un CDI"})),
        201,
    )
    .await;

    let planned = app
        .expect(&t.coordinator, "POST", &format!("{path}/exit"),
            Some(json!({"date": start.to_string(), "reason": "employment", "employment_status": "employed_permanent",
                        "positive": true, "childcare_solution": "same_creche", "note": "CDI aide-soignante"})), 200)
        .await;
    // A week ahead: planned, recorded by the engine on its day.
    assert_eq!(planned["status"], "enrolled");
    assert_eq!(crate::evaluation::engine_on(&app, start).len(), 1);
    let exited = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    assert_eq!(exited["status"], "exited");
    assert_eq!(exited["closing_reason"], "employment");
    assert_eq!(exited["exit"]["positive"], true);
    assert_ne!(exited["closed_at"], Value::Null);
    let problem = move_to(
        &app,
        &t.coordinator,
        &rid,
        json!({"to": "withdrawn", "reason": "family_moved"}),
        409,
    )
    .await;
    assert_eq!(problem["allowed_next_states"], json!([]));

    let events = app
        .expect(&t.coordinator, "GET", &format!("{path}/events"), None, 200)
        .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "transition",
            "transition",
            "transition",
            "enrollment",
            "renewal",
            "enrollment_amended",
            "follow_up",
            "note",
            "exit_planned",
            "exit"
        ]
    );
    let statuses: Vec<(&Value, &Value)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["from_status"], &e["to_status"]))
        .collect();
    assert_eq!(statuses[1], (&json!("received"), &json!("contacted")));
    assert_eq!(statuses[4], (&json!("offered"), &json!("enrolled")));
    assert_eq!(statuses[10], (&json!("enrolled"), &json!("exited")));
    let times: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["occurred_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    // Paged, the timeline is the same.
    let page = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("{path}/events?limit=4"),
            None,
            200,
        )
        .await;
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("{path}/events?limit=50&cursor={next}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        page["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len(),
        11
    );
    assert_eq!(rest["items"][0]["kind"], "enrollment");
}

#[tokio::test]
async fn prescribers_may_only_withdraw_and_foreign_referrals_are_hidden() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let rid = id(&r);
    let path = format!("/api/v1/referrals/{rid}");
    move_to(&app, &t.prescriber, &rid, json!({"to": "contacted"}), 403).await;
    for token in [&t.other_coordinator, &t.other_prescriber] {
        app.expect(token, "GET", &path, None, 404).await;
        app.expect(token, "GET", &format!("{path}/events"), None, 404)
            .await;
        move_to(
            &app,
            token,
            &rid,
            json!({"to": "withdrawn", "reason": "family_moved"}),
            404,
        )
        .await;
        app.expect(
            token,
            "POST",
            &format!("{path}/notes"),
            Some(json!({"note": "x"})),
            404,
        )
        .await;
    }
    app.expect(&t.caf, "GET", &path, None, 403).await;
    app.expect(&t.caf, "GET", "/api/v1/referrals", None, 403)
        .await;
    app.expect(
        &t.coordinator,
        "POST",
        "/api/v1/referrals",
        Some(referral(&t.creche, "Noah")),
        403,
    )
    .await;
    app.expect(
        &t.admin,
        "POST",
        "/api/v1/referrals",
        Some(referral(&t.creche, "Noah")),
        403,
    )
    .await;
    app.expect(&t.admin, "GET", &path, None, 200).await;
    move_to(&app, &t.admin, &rid, json!({"to": "contacted"}), 403).await;
    app.expect(
        &t.prescriber,
        "GET",
        "/api/v1/referrals/not-an-id",
        None,
        404,
    )
    .await;

    let withdrawn = move_to(&app, &t.prescriber, &rid,
        json!({"to": "withdrawn", "reason": "other_childcare_found", "note": "assistante maternelle trouvée"}), 200).await;
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(
        withdrawn["first_response_at"],
        Value::Null,
        "a withdrawal is not an answer"
    );
    assert_eq!(withdrawn["sla"]["met"], Value::Null);
    assert_eq!(
        withdrawn["sla"]["seconds_left"],
        Value::Null,
        "the clock stopped"
    );
    assert_eq!(withdrawn["closing_reason"], "other_childcare_found");
    let problem = move_to(
        &app,
        &t.prescriber,
        &rid,
        json!({"to": "withdrawn", "reason": "other"}),
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["note"]);
}

#[tokio::test]
async fn of_two_concurrent_transitions_exactly_one_wins() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    for round in 0..5 {
        let rid =
            id(&new_referral(&app, &t.prescriber, &t.creche, &format!("Enfant{round}")).await);
        let url = app.url(&format!("/api/v1/referrals/{rid}/transitions"));
        let bodies = [
            json!({"to": "contacted"}),
            json!({"to": "declined", "reason": "no_place_available", "note": "complet"}),
            json!({"to": "offered"}),
        ];
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let request = app
                    .client
                    .post(url.clone())
                    .bearer_auth(&t.coordinator)
                    .json(&body);
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
        // contacted → offered is allowed, so two may succeed one after the
        // other; what never happens is two moves out of `received`.
        let events = app
            .expect(
                &t.coordinator,
                "GET",
                &format!("/api/v1/referrals/{rid}/events"),
                None,
                200,
            )
            .await;
        let from_received = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["from_status"] == "received")
            .count();
        assert_eq!(from_received, 1, "{statuses:?} {events}");
        let ok = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(
            events["items"].as_array().unwrap().len(),
            1 + ok,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 409),
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn lists_are_scoped_filtered_and_paged_without_skips_or_repeats() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_SLA_WARNING".into(), "1s".into());
        env.insert("AVIP_SLA_BREACH".into(), "2s".into());
        env.insert("AVIP_SLA_ESCALATION".into(), "3s".into());
    })
    .await;
    let t = territory(&app).await;
    let mut mine = Vec::new();
    for i in 0..5 {
        mine.push(id(&new_referral(
            &app,
            &t.prescriber,
            &t.creche,
            &format!("A{i}"),
        )
        .await));
    }
    let theirs = id(&new_referral(&app, &t.other_prescriber, &t.other_creche, "B0").await);
    let answered = mine[0].clone();
    move_to(
        &app,
        &t.coordinator,
        &answered,
        json!({"to": "contacted"}),
        200,
    )
    .await;

    let ids = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(id).collect()
    };
    let coordinator = app
        .expect(&t.coordinator, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(ids(&coordinator), mine, "oldest first, own crèche only");
    let prescriber = app
        .expect(&t.other_prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(ids(&prescriber), [theirs]);
    let all = app
        .expect(&t.admin, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(ids(&all).len(), 6);

    let path = format!("/api/v1/referrals?status=contacted&creche_id={}", t.creche);
    assert_eq!(
        ids(&app.expect(&t.admin, "GET", &path, None, 200).await),
        std::slice::from_ref(&answered)
    );
    let path = "/api/v1/referrals?status=received,contacted&limit=200";
    assert_eq!(
        ids(&app.expect(&t.coordinator, "GET", path, None, 200).await).len(),
        5
    );
    let path = format!("/api/v1/referrals?creche_id={}", t.other_creche);
    assert_eq!(
        ids(&app.expect(&t.coordinator, "GET", &path, None, 200).await),
        Vec::<String>::new()
    );
    let today = today().to_string();
    let path = format!("/api/v1/referrals?received_from={today}&received_to={today}");
    assert_eq!(
        ids(&app.expect(&t.admin, "GET", &path, None, 200).await).len(),
        6
    );
    let tomorrow = (super::referrals::today() + Duration::days(2)).to_string();
    let path = format!("/api/v1/referrals?received_from={tomorrow}");
    assert_eq!(
        ids(&app.expect(&t.admin, "GET", &path, None, 200).await).len(),
        0
    );

    // updated_after is inclusive: the answered referral's own update time finds it.
    let changed = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/referrals/{answered}"),
            None,
            200,
        )
        .await;
    let stamp = changed["updated_at"].as_str().unwrap();
    let path = format!(
        "/api/v1/referrals?updated_after={}",
        stamp.replace('+', "%2B")
    );
    assert_eq!(
        ids(&app.expect(&t.admin, "GET", &path, None, 200).await),
        std::slice::from_ref(&answered)
    );

    for bad in [
        "status=lost",
        "creche_id=42",
        "limit=0",
        "cursor=abc",
        "overdue=maybe",
        "received_from=2026-13-01",
    ] {
        let problem = app
            .expect(
                &t.admin,
                "GET",
                &format!("/api/v1/referrals?{bad}"),
                None,
                400,
            )
            .await;
        assert_eq!(fields(&problem), [bad.split('=').next().unwrap()], "{bad}");
    }

    // Overdue: unanswered referrals past their 2-second deadline.
    assert_eq!(
        ids(&app
            .expect(
                &t.coordinator,
                "GET",
                "/api/v1/referrals?overdue=true",
                None,
                200
            )
            .await)
        .len(),
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let overdue = app
        .expect(
            &t.coordinator,
            "GET",
            "/api/v1/referrals?overdue=true",
            None,
            200,
        )
        .await;
    assert_eq!(ids(&overdue), mine[1..].to_vec());
    assert_eq!(overdue["items"][0]["sla"]["met"], false);
    assert!(overdue["items"][0]["sla"]["seconds_left"].as_i64().unwrap() <= 0);

    // Paging while new referrals arrive: every referral once, none twice.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut added = 0;
    loop {
        let path = match &cursor {
            None => "/api/v1/referrals?limit=2".to_owned(),
            Some(c) => format!("/api/v1/referrals?limit=2&cursor={c}"),
        };
        let page = app.expect(&t.admin, "GET", &path, None, 200).await;
        seen.extend(ids(&page));
        if added < 3 {
            new_referral(&app, &t.prescriber, &t.creche, &format!("C{added}")).await;
            added += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a referral was listed twice");
    assert_eq!(seen.len(), 9, "a referral was skipped");
}

#[tokio::test]
async fn follow_ups_page_like_every_list() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let referral = new_referral(&app, &t.prescriber, &t.creche, "Léo").await;
    let path = format!("/api/v1/referrals/{}", id(&referral));
    for steps in [
        "premier échange",
        "bilan intermédiaire",
        "entretien d'embauche",
    ] {
        app.expect(
            &t.coordinator,
            "POST",
            &format!("{path}/follow-ups"),
            Some(
                json!({"date": today().to_string(), "participants": ["coordinator"],
                        "employment_status": "job_search", "next_steps": steps}),
            ),
            201,
        )
        .await;
    }
    let first = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("{path}/follow-ups?limit=2"),
            None,
            200,
        )
        .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("{path}/follow-ups?limit=2&cursor={cursor}"),
            None,
            200,
        )
        .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let mut ids: Vec<&Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|f| &f["id"])
        .collect();
    ids.sort_by_key(|v| v.to_string());
    ids.dedup();
    assert_eq!(ids.len(), 3);
    app.expect(
        &t.coordinator,
        "GET",
        &format!("{path}/follow-ups?cursor=not-a-cursor"),
        None,
        400,
    )
    .await;
}

#[tokio::test]
async fn every_unknown_value_of_a_referral_is_named() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut body = referral(&t.creche, "Zoé");
    body["parent"]["situation"] = json!("chomeur");
    body["insertion_project"]["kind"] = json!("stage");
    let response = post_referral(&app, &t.prescriber, body).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let mut named = fields(&problem);
    named.sort();
    assert_eq!(named, ["insertion_project.kind", "parent.situation"]);
}
