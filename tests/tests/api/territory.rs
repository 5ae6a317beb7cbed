//! No family lost in the territory (issue 34, points 3 to 5), end to end
//! with the engine's schedule running every second, a real SMTP server and
//! restarts: an offer reminded then expired, once; a freed place matched to
//! the waiting families that fit, once; a family waiting a whole period
//! reviewed once per period. Where a day must pass, the test moves the
//! stored day back, as the calendar would.

use std::collections::HashMap;
use std::time::Duration;

use avip_db::schema::{place_bookings, referral_events};
use avip_tests::smtp::{Received, SmtpSink};
use avip_tests::{TestApp, spawn_app_with_engine, today};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::referrals::{
    Territory, id, monday_tuesday_referral, move_to, referral, territory, without_arrival_notices,
};

const COORDINATOR: &str = "c.martin@example.org";
const REFERENT: &str = "p.durand@example.org";

/// The engine and the territory's jobs every second, mail to `sink`.
pub(crate) fn every_second(
    sink: &SmtpSink,
    more: &[(&str, &str)],
) -> impl Fn(&mut HashMap<String, String>) {
    let smtp = sink.url();
    let more: Vec<(String, String)> = (more.iter())
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |env| {
        env.insert("AVIP_SMTP_URL".into(), smtp.clone());
        env.insert("AVIP_SLA_SCHEDULE".into(), "* * * * * *".into());
        env.extend(more.iter().cloned());
    }
}

/// The messages to `to` whose subject has `words`.
fn about<'a>(received: &'a [Received], to: &str, words: &str) -> Vec<&'a Received> {
    (received.iter())
        .filter(|m| m.to.iter().any(|t| t == to) && m.decoded().0.contains(words))
        .collect()
}

async fn wait_for_one(sink: &SmtpSink, to: &str, words: &str) -> Received {
    let received =
        (sink.wait_for(Duration::from_secs(30), |r| !about(r, to, words).is_empty())).await;
    let found = about(&received, to, words);
    assert!(!found.is_empty(), "no message to {to} about {words:?}");
    found[0].clone()
}

/// Several runs of the jobs later, still exactly one message about `words`.
async fn still_one(sink: &SmtpSink, to: &str, words: &str) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(about(&sink.received(), to, words).len(), 1, "{words:?}");
}

/// The engine again after a restart, on the same database.
async fn restarted(app: TestApp, sink: &SmtpSink, more: &[(&str, &str)]) -> TestApp {
    app.restart(every_second(sink, more), true).await
}

#[tokio::test]
async fn an_offer_left_unanswered_is_reminded_then_expires_once_and_waits_for_a_decision() {
    let sink = SmtpSink::start();
    let hold = [("AVIP_OFFER_HOLD", "1d")];
    let app = spawn_app_with_engine(every_second(&sink, &hold)).await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let created = monday_tuesday_referral(&app, &t).await;
    let (r, reference) = (
        id(&created),
        created["reference"].as_str().unwrap().to_owned(),
    );
    move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;

    // A hold of one day: today is its last, the coordinator is reminded.
    let reminder = wait_for_one(&sink, COORDINATOR, "l’offre de place expire demain").await;
    let (subject, text, _) = reminder.decoded();
    assert!(subject.contains(&reference), "{subject}");
    assert!(text.contains("Les Petits Pas"), "{text}");
    still_one(&sink, COORDINATOR, "expire demain").await;
    let app = restarted(app, &sink, &hold).await;
    still_one(&sink, COORDINATOR, "expire demain").await;

    // The next day: the hold has ended.
    let mut conn = app.db.connect();
    diesel::update(place_bookings::table.filter(place_bookings::referral_id.eq(&r)))
        .set(place_bookings::ends_before.eq(today()))
        .execute(&mut conn)
        .unwrap();
    wait_for_one(&sink, COORDINATOR, "l’offre de place a expiré").await;
    let told = wait_for_one(&sink, REFERENT, "l’offre de place a expiré").await;
    let (_, text, _) = told.decoded();
    assert!(
        !text.contains("Amina"),
        "no family data to the referent: {text}"
    );
    still_one(&sink, REFERENT, "a expiré").await;
    let app = restarted(app, &sink, &hold).await;
    still_one(&sink, COORDINATOR, "a expiré").await;
    let timeline = crate::evaluation::kinds(&app, &t.coordinator, &r).await;
    let expired = timeline.iter().filter(|k| *k == "offer_expired").count();
    assert_eq!(expired, 1, "{timeline:?}");

    // Still `offered`, waiting for a decision: offered again (a new hold),
    // or the waiting list.
    let again = move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    assert_eq!(again["status"], "offered");
    let listed = move_to(&app, &t.coordinator, &r, json!({"to": "waitlisted"}), 200).await;
    assert_eq!(listed["status"], "waitlisted");
    app.stop().await;
}

/// `n` AVIP places at `creche` from today.
async fn places(app: &TestApp, t: &Territory, creche: &str, n: i64) {
    let path = format!("/api/v1/creches/{creche}/capacity");
    let body = json!({"from": today().to_string(), "avip_places": n});
    app.expect(&t.admin, "POST", &path, Some(body), 201).await;
}

/// A family for `child` at `creche` needing `days`, put on its waiting
/// list by `coordinator`.
async fn waiting(
    app: &TestApp,
    (t, coordinator): (&Territory, &str),
    creche: &str,
    child: &str,
    days: &[&str],
) -> Value {
    let mut body = referral(creche, child);
    body["needs"]["days"] = json!(days);
    body["needs"]["days_per_week"] = json!(days.len());
    let created = crate::referrals::create(app, &t.prescriber, "/api/v1/referrals", body).await;
    let r = id(&created);
    move_to(app, coordinator, &r, json!({"to": "waitlisted"}), 200).await;
    created
}

/// Waits until the jobs matched every freed place recorded so far.
async fn matched(app: &TestApp) {
    use avip_db::schema::freed_places;
    for _ in 0..300 {
        let mut conn = app.db.connect();
        let waiting: i64 = (freed_places::table.filter(freed_places::matched_at.is_null()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("a freed place was not matched in 30 s");
}

#[tokio::test]
async fn a_freed_place_is_matched_once_to_the_families_that_fit_longest_waiting_first() {
    let sink = SmtpSink::start();
    let app = spawn_app_with_engine(every_second(&sink, &[])).await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let operator = me["organization"]["id"].as_str().unwrap().to_owned();
    let sister = crate::referrals::creche(&app, &t.admin, &operator, "Les Mimosas").await;
    let email = "s.garcia@example.org";
    let theirs =
        crate::referrals::person(&app, &t.admin, email, "coordinator", &operator, &[&sister]).await;
    // More places where nobody waits for them: nothing to say (below).
    places(&app, &t, &t.other_creche, 7).await;
    matched(&app).await;
    places(&app, &t, &t.creche, 1).await;
    // One child takes the crèche's only place on Monday and Tuesday.
    let a = id(&monday_tuesday_referral(&app, &t).await);
    move_to(&app, &t.coordinator, &a, json!({"to": "offered"}), 200).await;
    let contract = json!({"start_date": today().to_string(),
        "contract_end_date": (today() + chrono::Duration::days(300)).to_string(),
        "days": ["mon", "tue"]});
    let path = format!("/api/v1/referrals/{a}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    // Waiting: here and at the operator's other crèche on Monday and
    // Tuesday; here on Wednesday only; at another operator's crèche.
    let first = waiting(
        &app,
        (&t, &t.coordinator),
        &t.creche,
        "Lina",
        &["mon", "tue"],
    )
    .await;
    let second = waiting(&app, (&t, &theirs), &sister, "Noé", &["mon"]).await;
    let wednesday = waiting(&app, (&t, &t.coordinator), &t.creche, "Ilyes", &["wed"]).await;
    let elsewhere = waiting(
        &app,
        (&t, &t.other_coordinator),
        &t.other_creche,
        "Sacha",
        &["mon", "tue"],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let freed = |m: &&Received| m.decoded().0.contains("Place libérée");
    assert_eq!(sink.received().iter().filter(freed).count(), 0);

    // The child leaves today: the place is free from tomorrow.
    let exit = json!({"date": today().to_string(), "reason": "employment",
        "employment_status": "employed_permanent", "childcare_solution": "same_creche"});
    let path = format!("/api/v1/referrals/{a}/exit");
    app.expect(&t.coordinator, "POST", &path, Some(exit), 200)
        .await;
    let told = wait_for_one(&sink, COORDINATOR, "Place libérée à Les Petits Pas").await;
    let (subject, text, _) = told.decoded();
    assert!(
        subject.contains("2 familles en attente correspondent"),
        "{subject}"
    );
    let at = |v: &Value| text.find(v["reference"].as_str().unwrap());
    let (first_at, second_at) = (at(&first), at(&second));
    assert!(first_at.is_some() && second_at.is_some(), "{text}");
    assert!(first_at < second_at, "longest waiting first: {text}");
    assert!(at(&wednesday).is_none(), "{text}");
    assert!(at(&elsewhere).is_none(), "{text}");
    assert!(
        !text.contains("Lina") && !text.contains("Benali"),
        "no names: {text}"
    );
    still_one(&sink, COORDINATOR, "Place libérée").await;
    let app = restarted(app, &sink, &[]).await;
    still_one(&sink, COORDINATOR, "Place libérée").await;

    app.stop().await;
}

/// The referral's moves `days` ago (not the service's own reminders), as
/// if that time had passed.
fn moved_back(app: &TestApp, r: &str, days: i64) {
    let mut conn = app.db.connect();
    let events = referral_events::table
        .filter(referral_events::referral_id.eq(r))
        .filter(referral_events::kind.ne("waiting_reminder"));
    let at = (chrono::Utc::now() - chrono::Duration::days(days)).naive_utc();
    diesel::update(events)
        .set(referral_events::occurred_at.eq(at))
        .execute(&mut conn)
        .unwrap();
}

#[tokio::test]
async fn a_family_waiting_a_whole_period_is_reviewed_once_per_period() {
    let sink = SmtpSink::start();
    let review = [("AVIP_WAITING_REVIEW", "30d")];
    let app = spawn_app_with_engine(every_second(&sink, &review)).await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let family = waiting(
        &app,
        (&t, &t.coordinator),
        &t.creche,
        "Lina",
        &["mon", "tue"],
    )
    .await;
    let r = id(&family);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(about(&sink.received(), COORDINATOR, "liste d’attente depuis").is_empty());

    // Its last move 31 days ago: one reminder, one word to the referent.
    moved_back(&app, &r, 31);
    let reminder = wait_for_one(&sink, COORDINATOR, "liste d’attente depuis 31 jours").await;
    assert!(
        reminder
            .decoded()
            .0
            .contains(family["reference"].as_str().unwrap())
    );
    wait_for_one(&sink, REFERENT, "famille toujours sur liste d’attente").await;
    still_one(&sink, COORDINATOR, "liste d’attente depuis").await;
    let app = restarted(app, &sink, &review).await;
    still_one(&sink, REFERENT, "toujours sur liste d’attente").await;

    // A second period: a second reminder. Nothing was refused.
    moved_back(&app, &r, 61);
    wait_for_one(&sink, COORDINATOR, "liste d’attente depuis 61 jours").await;
    let get = format!("/api/v1/referrals/{r}");
    let now = app.expect(&t.coordinator, "GET", &get, None, 200).await;
    assert_eq!(now["status"], "waitlisted");
    let reminders = crate::evaluation::kinds(&app, &t.coordinator, &r).await;
    let n = reminders
        .iter()
        .filter(|k| *k == "waiting_reminder")
        .count();
    assert_eq!(n, 2, "{reminders:?}");
    app.stop().await;
}
