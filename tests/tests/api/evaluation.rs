//! Evaluation the CAF can trust: exits that cannot contradict themselves.

use avip_tests::spawn_app;
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, new_referral, territory, today};

/// An enrolled child at the territory's crèche.
pub(crate) async fn enrolled(app: &avip_tests::TestApp, t: &Territory, child: &str) -> String {
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

pub(crate) fn exit_on(date: chrono::NaiveDate, reason: &str, status: &str) -> Value {
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

pub(crate) async fn kinds(app: &avip_tests::TestApp, token: &str, r: &str) -> Vec<String> {
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
    // A renewal meanwhile does not book past the planned exit.
    app.expect(
        &t.coordinator,
        "PATCH",
        &format!("/api/v1/referrals/{r}/enrollment"),
        Some(json!({"renew": true})),
        200,
    )
    .await;
    assert_eq!(
        booked_until(&app, &r),
        later + chrono::Days::new(1),
        "still until that day"
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
    let id = avip_db::model::ReferralId::parse(r).unwrap();
    avip_db::tallies::changed(&mut conn, &id).unwrap();
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

/// The outbox rows under `key`: their text bodies.
pub(crate) fn outbox_bodies(app: &avip_tests::TestApp, key: &str) -> Vec<String> {
    use avip_db::schema::notifications as n;
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    n::table
        .filter(n::dedup_key.eq(key))
        .select(n::body_text)
        .load(&mut conn)
        .unwrap()
}

/// One run of the engine's outcome job at `at`: e-mails written.
pub(crate) fn ask_at(app: &avip_tests::TestApp, at: chrono::DateTime<chrono::Utc>) -> usize {
    let mut conn = app.db.connect();
    avip_app::workflow::outcomes::run_due_batch(&mut conn, "http://localhost", at, 100).unwrap()
}

pub(crate) fn noon(day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
    avip_sla_engine::clock::paris_midnight(day) + chrono::Duration::hours(12)
}

/// The link in an e-mail: its path.
pub(crate) fn link_in(body: &str) -> String {
    let start = body
        .find("/app/suivi/")
        .expect("a link to the outcome page");
    body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['>', ')', '.'])
        .to_owned()
}

pub(crate) async fn page(
    app: &avip_tests::TestApp,
    path: &str,
    answer: Option<&str>,
) -> (u16, String) {
    let client = reqwest::Client::new();
    let url = app.url(path);
    let response = match answer {
        None => client.get(url).send().await.unwrap(),
        Some(situation) => client
            .post(url)
            .form(&[("employment_status", situation)])
            .send()
            .await
            .unwrap(),
    };
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_referent_is_asked_3_and_6_months_after_once_reminded_once_and_each_link_answers_once()
{
    use chrono::Months;
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = enrolled(&app, &t, "Yanis").await;
    let other = enrolled(&app, &t, "Inès").await;
    for id in [&r, &other] {
        app.expect(
            &t.coordinator,
            "POST",
            &format!("/api/v1/referrals/{id}/exit"),
            Some(exit_on(today(), "employment", "employed_permanent")),
            200,
        )
        .await;
    }
    let outcomes = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{r}/outcomes"),
            None,
            200,
        )
        .await;
    let (three, six) = (today() + Months::new(3), today() + Months::new(6));
    assert_eq!(
        outcomes["items"][0]["due_on"],
        three.to_string(),
        "{outcomes}"
    );
    assert_eq!(outcomes["items"][1]["due_on"], six.to_string());
    assert_eq!(
        ask_at(&app, noon(three - chrono::Days::new(1))),
        0,
        "not before its day"
    );

    // On its day, once per referral, whatever the number of runs.
    assert_eq!(ask_at(&app, noon(three)), 2);
    assert_eq!(ask_at(&app, noon(three) + chrono::Duration::hours(1)), 0);
    let asked = outbox_bodies(&app, &format!("referent:outcome_request:3_months:{r}"));
    assert_eq!(asked.len(), 1);
    assert!(
        !asked[0].contains("Benali") && !asked[0].contains("Yanis"),
        "no family data: {}",
        asked[0]
    );
    let link = link_in(&asked[0]);
    let other_link =
        link_in(&outbox_bodies(&app, &format!("referent:outcome_request:3_months:{other}"))[0]);

    // The page shows the reference, never the family; a forged token,
    // another referral's, another date's: the same refusal.
    let (status, body) = page(&app, &link, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("AVIP-") && !body.contains("Benali") && !body.contains("Yanis"));
    let token = link.rsplit('/').next().unwrap();
    let forged = format!(
        "{}{}",
        &link[..link.len() - 1],
        if link.ends_with('0') { "1" } else { "0" }
    );
    let foreign = link.replace(&r, &other);
    let swapped = format!("/app/suivi/{other}/3_months/{token}");
    let later = link.replace("3_months", "6_months");
    let unknown = link.replace(&r, "01890000-0000-7000-8000-000000000000");
    let mut refusals = Vec::new();
    for path in [&forged, &foreign, &swapped, &later, &unknown] {
        refusals.push(page(&app, path, None).await);
    }
    for (status, body) in &refusals {
        assert_eq!(*status, 404);
        assert_eq!(body, &refusals[0].1, "every refusal reads the same");
    }
    assert!(refusals[0].1.contains("Ce lien n’est pas ou plus valable"));

    // One reminder after ten days, with the same link; none after that.
    let reminder_day = noon(three) + chrono::Duration::days(10);
    assert_eq!(ask_at(&app, reminder_day), 2);
    assert_eq!(ask_at(&app, reminder_day + chrono::Duration::days(5)), 0);
    let reminded = outbox_bodies(&app, &format!("referent:outcome_reminder:3_months:{r}"));
    assert_eq!(link_in(&reminded[0]), link);

    // Answered once, by the link; a second answer is refused.
    let (status, body) = page(&app, &link, Some("employed_fixed_term")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Merci"));
    assert_eq!(page(&app, &link, Some("training")).await.0, 404);
    assert_eq!(page(&app, &link, None).await.0, 404, "a used link");
    let outcomes = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}/outcomes"),
            None,
            200,
        )
        .await;
    assert_eq!(
        outcomes["items"][0]["employment_status"],
        "employed_fixed_term"
    );
    assert_eq!(outcomes["items"][0]["answered_via"], "link");
    assert!(
        kinds(&app, &t.coordinator, &r)
            .await
            .contains(&"outcome_recorded".to_owned())
    );

    // An expired link: thirty days after the request.
    {
        use avip_db::schema::exit_outcomes as eo;
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        let month_ago = (chrono::Utc::now() - chrono::Duration::days(31)).naive_utc();
        diesel::update(eo::table.find((&other, "3_months")))
            .set(eo::requested_at.eq(month_ago))
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(
        page(&app, &other_link, None).await.0,
        404,
        "an expired link"
    );

    // The prescriber's system answers the 6-month one, from its day on.
    let six_months = json!({"at": "6_months", "employment_status": "training"});
    let path = format!("/api/v1/referrals/{r}/outcomes");
    let early = app
        .expect(&t.prescriber, "POST", &path, Some(six_months.clone()), 409)
        .await;
    assert!(
        early["detail"].as_str().unwrap().contains("due from"),
        "{early}"
    );
    app.expect(&t.coordinator, "POST", &path, Some(six_months.clone()), 403)
        .await;
    app.expect(
        &t.other_prescriber,
        "POST",
        &path,
        Some(six_months.clone()),
        404,
    )
    .await;
    // Its day comes (moved here): asked, answered by the API, not reminded.
    {
        use avip_db::schema::exit_outcomes as eo;
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        diesel::update(eo::table.find((&r, "6_months")))
            .set(eo::due_on.eq(today()))
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(ask_at(&app, chrono::Utc::now()), 1);
    let answered = app
        .expect(&t.prescriber, "POST", &path, Some(six_months.clone()), 201)
        .await;
    assert_eq!(answered["employment_status"], "training", "{answered}");
    assert_eq!(answered["answered_via"], "api");
    app.expect(&t.prescriber, "POST", &path, Some(six_months), 409)
        .await;
    assert_eq!(
        ask_at(&app, chrono::Utc::now() + chrono::Duration::days(11)),
        0,
        "no reminder after an answer"
    );
    assert!(outbox_bodies(&app, &format!("referent:outcome_reminder:6_months:{r}")).is_empty());
}

#[tokio::test]
async fn a_referent_who_turned_outcome_requests_off_gets_no_email_but_her_system_is_told() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    app.expect(
        &t.prescriber,
        "PUT",
        "/api/v1/me/notification-preferences",
        Some(json!({"outcome_request": "off"})),
        200,
    )
    .await;
    let r = enrolled(&app, &t, "Yanis").await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{r}/exit"),
        Some(exit_on(today(), "training", "training")),
        200,
    )
    .await;
    let three = today() + chrono::Months::new(3);
    // Asked (the question stands, the timeline says so), but no e-mail.
    assert_eq!(ask_at(&app, noon(three)), 1);
    assert!(outbox_bodies(&app, &format!("referent:outcome_request:3_months:{r}")).is_empty());
    let outcomes = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{r}/outcomes"),
            None,
            200,
        )
        .await;
    assert_ne!(outcomes["items"][0]["requested_at"], Value::Null);
    assert!(
        kinds(&app, &t.prescriber, &r)
            .await
            .contains(&"outcome_requested".to_owned())
    );
}
