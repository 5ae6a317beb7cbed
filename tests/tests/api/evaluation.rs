//! Evaluation the CAF can trust: exits that cannot contradict themselves.

use avip_tests::spawn_app;
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, new_referral, territory, today};

/// An enrolled child at the territory's crèche.
async fn enrolled(app: &avip_tests::TestApp, t: &Territory, child: &str) -> String {
    let r = id(&new_referral(app, &t.prescriber, &t.creche, child).await);
    move_to(app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let path = format!("/api/v1/referrals/{r}/enrollment");
    let contract = json!({"start_date": today().to_string(), "days": ["mon", "tue", "wed", "thu", "fri"],
        "force": true, "force_reason": "test"});
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    r
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_exit_cannot_contradict_itself_and_its_positive_flag_follows_the_situation() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = enrolled(&app, &t, "Yanis").await;
    let path = format!("/api/v1/referrals/{r}/exit");
    let exit = |reason: &str, status: &str| {
        json!({"date": today().to_string(), "reason": reason, "employment_status": status,
               "childcare_solution": "same_creche"})
    };
    // "Work found" with a parent still looking for work; "training" without it.
    for (reason, status) in [
        ("employment", "job_search"),
        ("training", "employed_permanent"),
    ] {
        let problem = app
            .expect(
                &t.coordinator,
                "POST",
                &path,
                Some(exit(reason, status)),
                422,
            )
            .await;
        assert_eq!(
            fields(&problem),
            ["reason", "employment_status"],
            "{problem}"
        );
    }
    // A positive flag that contradicts the situation, either way.
    for (status, positive) in [("employed_permanent", false), ("job_search", true)] {
        let mut body = exit("other", status);
        body["positive"] = json!(positive);
        let problem = app
            .expect(&t.coordinator, "POST", &path, Some(body), 422)
            .await;
        assert_eq!(fields(&problem), ["positive"], "{problem}");
    }
    let read = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "enrolled", "nothing was recorded");
    // Without the flag it is derived: a CDI is a positive exit.
    let done = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(exit("employment", "employed_permanent")),
            200,
        )
        .await;
    assert_eq!(done["exit"]["positive"], true);

    // A move with no solution is not positive, and says so.
    let other = enrolled(&app, &t, "Inès").await;
    let done = app
        .expect(
            &t.coordinator,
            "POST",
            &format!("/api/v1/referrals/{other}/exit"),
            Some(exit("family_moved", "job_search")),
            200,
        )
        .await;
    assert_eq!(done["exit"]["positive"], false);
}

/// The engine's job on `day` (Paris), when an exit planned for it is recorded.
pub(crate) fn engine_on(app: &avip_tests::TestApp, day: chrono::NaiveDate) -> Vec<String> {
    engine_at(
        app,
        avip_sla_engine::clock::paris_midnight(day) + chrono::Duration::hours(1),
    )
}

fn exit_on(date: chrono::NaiveDate, reason: &str, status: &str) -> Value {
    json!({"date": date.to_string(), "reason": reason, "employment_status": status,
           "childcare_solution": "same_creche"})
}

/// When the referral's enrollment booking stops taking places.
fn booked_until(app: &avip_tests::TestApp, r: &str) -> chrono::NaiveDate {
    use avip_db::schema::place_bookings as pb;
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    pb::table
        .filter(pb::referral_id.eq(r))
        .filter(pb::kind.eq("enrollment"))
        .select(diesel::dsl::max(pb::ends_before))
        .first::<Option<chrono::NaiveDate>>(&mut conn)
        .unwrap()
        .unwrap()
}

/// One run of the engine's job at `at`: the references it recorded.
pub(crate) fn engine_at(
    app: &avip_tests::TestApp,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let mut conn = app.db.connect();
    avip_app::workflow::exits::record_due_batch(&mut conn, "http://localhost", at, 100).unwrap()
}

async fn kinds(app: &avip_tests::TestApp, token: &str, r: &str) -> Vec<String> {
    let events = app
        .expect(
            token,
            "GET",
            &format!("/api/v1/referrals/{r}/events"),
            None,
            200,
        )
        .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_planned_exit_keeps_the_child_enrolled_until_its_day_when_the_engine_records_it() {
    use avip_sla_engine::clock::paris_midnight;
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = enrolled(&app, &t, "Yanis").await;
    let path = format!("/api/v1/referrals/{r}/exit");
    let contract_end = booked_until(&app, &r);
    let (soon, later) = (
        today() + chrono::Days::new(7),
        today() + chrono::Days::new(10),
    );

    let planned = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(exit_on(soon, "training", "training")),
            200,
        )
        .await;
    assert_eq!(planned["status"], "enrolled", "{planned}");
    assert_eq!(planned["exit"], Value::Null);
    assert_eq!(planned["planned_exit"]["date"], soon.to_string());
    assert_eq!(planned["planned_exit"]["positive"], true);
    // Changed: posted again, the plan is replaced.
    let changed = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(exit_on(later, "employment", "employed_fixed_term")),
            200,
        )
        .await;
    assert_eq!(changed["planned_exit"]["date"], later.to_string());
    assert_eq!(changed["planned_exit"]["reason"], "employment");
    assert_eq!(
        booked_until(&app, &r),
        later + chrono::Days::new(1),
        "booked until that day"
    );
    let timeline = kinds(&app, &t.coordinator, &r).await;
    assert_eq!(
        timeline.iter().filter(|k| *k == "exit_planned").count(),
        2,
        "{timeline:?}"
    );

    // The day before, the engine leaves it; on its day, records it.
    let eve = paris_midnight(later) - chrono::Duration::minutes(1);
    assert!(engine_at(&app, eve).is_empty());
    let read = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "enrolled");
    let recorded = engine_at(&app, paris_midnight(later) + chrono::Duration::minutes(1));
    assert_eq!(recorded, [read["reference"].as_str().unwrap()]);
    assert!(
        engine_at(&app, paris_midnight(later) + chrono::Duration::hours(1)).is_empty(),
        "once"
    );
    let read = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "exited", "{read}");
    assert_eq!(read["exit"]["date"], later.to_string());
    assert_eq!(read["exit"]["reason"], "employment");
    assert_eq!(read["planned_exit"], Value::Null);
    assert_eq!(booked_until(&app, &r), later + chrono::Days::new(1));
    let events = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}/events"),
            None,
            200,
        )
        .await;
    let exit = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "exit")
        .unwrap();
    assert_eq!(exit["to_status"], "exited");
    assert_eq!(
        exit["actor"]["kind"], "user",
        "recorded as the coordinator planned it: {exit}"
    );

    // Cancelled: the child stays to the end of her contract.
    let other = enrolled(&app, &t, "Inès").await;
    let other_path = format!("/api/v1/referrals/{other}/exit");
    app.expect(
        &t.coordinator,
        "POST",
        &other_path,
        Some(exit_on(soon, "other", "job_search")),
        200,
    )
    .await;
    assert_eq!(booked_until(&app, &other), soon + chrono::Days::new(1));
    app.expect(&t.prescriber, "DELETE", &other_path, None, 403)
        .await;
    let cancelled = app
        .expect(&t.coordinator, "DELETE", &other_path, None, 200)
        .await;
    assert_eq!(cancelled["planned_exit"], Value::Null);
    assert_eq!(cancelled["status"], "enrolled");
    assert_eq!(booked_until(&app, &other), contract_end);
    assert!(
        kinds(&app, &t.coordinator, &other)
            .await
            .contains(&"exit_plan_cancelled".to_owned())
    );
    let problem = app
        .expect(&t.coordinator, "DELETE", &other_path, None, 409)
        .await;
    assert_eq!(problem["code"], "invalid_transition", "{problem}");
    assert!(engine_at(&app, paris_midnight(soon) + chrono::Duration::hours(1)).is_empty());
}

/// Moves a recorded exit back in time, and its enrollment's start (the
/// service records exits up to today).
fn exit_dated(app: &avip_tests::TestApp, r: &str, date: chrono::NaiveDate) {
    use avip_db::schema::referral_enrollments as e;
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    diesel::update(e::table.find(r))
        .set((
            e::exit_date.eq(date),
            e::start_date.eq(date - chrono::Days::new(30)),
        ))
        .execute(&mut conn)
        .unwrap();
}

fn outbox_keys(app: &avip_tests::TestApp, like: &str) -> Vec<String> {
    use avip_db::schema::notifications as n;
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    n::table
        .filter(n::dedup_key.like(like))
        .select(n::dedup_key)
        .load(&mut conn)
        .unwrap()
}

#[tokio::test]
async fn a_correction_keeps_before_and_after_tells_the_referent_and_changes_the_export_row() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = enrolled(&app, &t, "Yanis").await;
    let exited = app
        .expect(
            &t.coordinator,
            "POST",
            &format!("/api/v1/referrals/{r}/exit"),
            Some(exit_on(today(), "family_moved", "job_search")),
            200,
        )
        .await;
    assert_eq!(exited["exit"]["positive"], false);
    let path = format!("/api/v1/referrals/{r}/exit/corrections");
    let why = "CDI signé avant la sortie, saisi par erreur";

    app.expect(
        &t.prescriber,
        "POST",
        &path,
        Some(json!({"employment_status": "training", "correction_reason": why})),
        403,
    )
    .await;
    // Nothing new, no reason, a contradiction: each refused, naming the field.
    for (body, named) in [
        (
            json!({"reason": "family_moved", "correction_reason": why}),
            vec!["correction_reason"],
        ),
        (
            json!({"employment_status": "training", "correction_reason": " "}),
            vec!["correction_reason"],
        ),
        (
            json!({"reason": "employment", "correction_reason": why}),
            vec!["reason", "employment_status"],
        ),
        (
            json!({"date": (today() + chrono::Days::new(1)).to_string(), "correction_reason": why}),
            vec!["date"],
        ),
    ] {
        let problem = app
            .expect(&t.coordinator, "POST", &path, Some(body.clone()), 422)
            .await;
        assert_eq!(fields(&problem), named, "{body}: {problem}");
    }
    let corrected = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(
                json!({"reason": "employment", "employment_status": "employed_permanent",
                        "correction_reason": why}),
            ),
            200,
        )
        .await;
    assert_eq!(corrected["exit"]["positive"], true, "{corrected}");
    assert_eq!(corrected["exit"]["reason"], "employment");
    assert_eq!(corrected["status"], "exited");

    let events = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}/events"),
            None,
            200,
        )
        .await;
    let trail = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "exit_corrected")
        .expect("a correction event");
    assert_eq!(trail["note"], why);
    assert_eq!(trail["data"]["before"]["employment_status"], "job_search");
    assert_eq!(trail["data"]["before"]["positive"], false);
    assert_eq!(
        trail["data"]["after"]["employment_status"],
        "employed_permanent"
    );
    assert_eq!(trail["data"]["after"]["positive"], true);
    assert_eq!(
        outbox_keys(&app, &format!("referent:exit_corrected:{r}:%")).len(),
        1
    );

    // The CAF's row counts the corrected exit.
    let rows = app
        .expect(
            &t.caf,
            "GET",
            &format!(
                "/api/v1/exports/referrals?format=json&from={}&to={}",
                today() - chrono::Days::new(1),
                today()
            ),
            None,
            200,
        )
        .await;
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["outcome"] == "exited")
        .unwrap();
    assert_eq!(row["positive_exit"], true);
    assert_eq!(row["exit_reason"], "employment");

    // After 60 days, only an administrator can.
    exit_dated(&app, &r, today() - chrono::Days::new(61));
    let late = json!({"childcare_solution": "other_eaje", "correction_reason": why});
    let problem = app
        .expect(&t.coordinator, "POST", &path, Some(late.clone()), 403)
        .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("administrator"),
        "{problem}"
    );
    let by_admin = app.expect(&t.admin, "POST", &path, Some(late), 200).await;
    assert_eq!(by_admin["exit"]["childcare_solution"], "other_eaje");
    assert_eq!(
        outbox_keys(&app, &format!("referent:exit_corrected:{r}:%")).len(),
        2
    );
}
