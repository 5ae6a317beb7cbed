//! A first meeting the parent books from her phone (issue 35, point 4),
//! end to end: the crèche's slots, the invitation by SMS or e-mail with a
//! link that needs no account, the page where the parent picks a slot
//! (asks to be called back, or no longer needs a place), the confirmation
//! (an `.ics` by e-mail), the reminder the day before by the engine, once
//! across a restart, the meeting recorded not honoured; every link that
//! should not open (forged, another's, expired, used, revoked) answered
//! with the same page.

use std::time::Duration;

use avip_db::schema::{meeting_invitations, meeting_slots};
use avip_sla_engine::clock::paris_midnight;
use avip_tests::sms::{Sent, SmsProvider};
use avip_tests::smtp::SmtpSink;
use avip_tests::{TestApp, spawn_app, spawn_app_with_engine, today};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::family::{family, with_both, with_phone};
use crate::referrals::{Territory, territory};

/// `days` from today (Paris) at `hour`:`minute`, Paris time.
fn at(days: u64, hour: i64, minute: i64) -> DateTime<Utc> {
    paris_midnight(today() + chrono::Days::new(days))
        + chrono::Duration::hours(hour)
        + chrono::Duration::minutes(minute)
}

async fn slots(app: &TestApp, t: &Territory, starts: &[DateTime<Utc>]) -> Vec<String> {
    let body = json!({"slots": starts.iter().map(|s| json!({"starts_at": s, "minutes": 45})).collect::<Vec<_>>()});
    let path = format!("/api/v1/creches/{}/meeting-slots", t.creche);
    let made = app
        .expect(&t.coordinator, "POST", &path, Some(body), 201)
        .await;
    (made["items"].as_array().unwrap().iter())
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The invitation; its `link` made to reach this test's server (the
/// service writes its public URL, kept as `sent`).
async fn invite(app: &TestApp, t: &Territory, referral: &str, slots: &[&String]) -> Value {
    let path = format!("/api/v1/referrals/{referral}/meeting-invitations");
    let body = json!({"slot_ids": slots});
    let mut invitation = app
        .expect(&t.coordinator, "POST", &path, Some(body), 201)
        .await;
    let link = invitation["link"].as_str().unwrap().to_owned();
    let path = &link[link.find("/app/").unwrap()..];
    invitation["sent"] = json!(link);
    invitation["link"] = json!(app.url(path));
    invitation
}

/// What the family's phone or browser gets: no cookie, no token.
async fn open(link: &str) -> (u16, String) {
    let response = reqwest::get(link).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn choose(link: &str, choice: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(link)
        .form(&[("choix", choice)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn contents(sent: &[Sent]) -> Vec<String> {
    (sent.iter())
        .filter(|s| s.answered == 201)
        .map(|s| s.body["content"].as_str().unwrap().to_owned())
        .collect()
}

async fn timeline(app: &TestApp, t: &Territory, referral: &str) -> Vec<Value> {
    let path = format!("/api/v1/referrals/{referral}/events?limit=200");
    let page = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_family_books_its_first_meeting_from_the_link_and_is_reminded_the_day_before() {
    let (sink, sms) = (SmtpSink::start(), SmsProvider::start());
    let app = spawn_app_with_engine(with_both(&sink, &sms, &[])).await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let by_sms = family(&app, &t, "Yanis", Some("sms")).await;
    let by_email = family(&app, &t, "Lina", Some("email")).await;
    let ids = slots(&app, &t, &[at(1, 9, 30), at(2, 14, 0), at(3, 10, 0)]).await;

    let invitation = invite(&app, &t, &by_sms, &[&ids[0], &ids[1]]).await;
    let link = invitation["link"].as_str().unwrap().to_owned();
    assert!(link.contains("/app/rendez-vous/"), "{invitation}");
    let referral = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{by_sms}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        referral["status"], "contacted",
        "the invitation answered the family"
    );
    let sent = sms
        .wait_for(Duration::from_secs(30), |s| !contents(s).is_empty())
        .await;
    let sent_link = invitation["sent"].as_str().unwrap();
    assert!(
        contents(&sent)[0].contains(sent_link),
        "{:?}",
        contents(&sent)
    );

    let (status, page) = open(&link).await;
    assert_eq!(status, 200, "{page}");
    for shown in [
        "Bonjour Amina",
        "Les Petits Pas",
        "Yanis",
        "04 94 00 00 01",
        "carnet de santé",
    ] {
        assert!(page.contains(shown), "{shown}: {page}");
    }
    for hidden in ["Benali", "612345678", "AVIP-83", "amina.b@"] {
        assert!(!page.contains(hidden), "{hidden} shown: {page}");
    }
    assert_eq!(
        page.matches("type=\"radio\"").count(),
        4,
        "two slots, call back, no need"
    );
    let (status, done) = choose(&link, &ids[0]).await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Votre rendez-vous est le"), "{done}");
    // Confirmed, then reminded: the meeting is tomorrow.
    let sent = sms
        .wait_for(Duration::from_secs(30), |s| contents(s).len() >= 3)
        .await;
    let said = contents(&sent);
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(
        said[1].contains("votre rendez-vous à la crèche Les Petits Pas est le"),
        "{said:?}"
    );
    assert!(said[2].contains("nous vous attendons demain"), "{said:?}");
    let (status, used) = open(&link).await;
    assert_eq!(status, 404);
    assert!(used.contains("Ce lien n’est pas ou plus valable"));

    // By e-mail, the confirmation carries the calendar invitation.
    let invitation = invite(&app, &t, &by_email, &[&ids[1]]).await;
    let link = invitation["link"].as_str().unwrap().to_owned();
    assert_eq!(choose(&link, &ids[1]).await.0, 200);
    let mails = sink
        .wait_for(Duration::from_secs(30), |r| {
            r.iter()
                .any(|m| m.decoded().0.contains("votre rendez-vous"))
        })
        .await;
    let confirmation = mails
        .iter()
        .find(|m| m.decoded().0.contains("votre rendez-vous"))
        .expect("the confirmation e-mail");
    assert!(
        confirmation.raw.contains("text/calendar"),
        "{}",
        confirmation.raw
    );
    assert!(confirmation.raw.contains("rendez-vous.ics"));

    // The reminder is sent once, across a restart.
    let app = app.restart(with_both(&sink, &sms, &[]), true).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(contents(&sms.sent()).len(), 3);

    // The meeting is recorded once it has begun.
    let path = format!("/api/v1/referrals/{by_sms}/meeting");
    let early = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(json!({"outcome": "no_show"})),
            422,
        )
        .await;
    assert_eq!(early["errors"][0]["field"], "outcome");
    let mut conn = app.db.connect();
    diesel::update(meeting_slots::table.find(&ids[0]))
        .set(meeting_slots::starts_at.eq((Utc::now() - chrono::Duration::hours(1)).naive_utc()))
        .execute(&mut conn)
        .unwrap();
    let recorded = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(json!({"outcome": "no_show"})),
            200,
        )
        .await;
    assert_eq!(recorded["outcome"], "no_show");
    // The indicators count it, the crèche's row and the month's alike.
    let path = format!(
        "/api/v1/exports/indicators?from={}&to={}&group_by=creche&format=json",
        today() - chrono::Days::new(1),
        today()
    );
    let response = app.call(&t.caf, "GET", &path, None).await;
    assert_eq!(response.status(), 200);
    let rows: Vec<Value> = response.json().await.unwrap();
    let row = rows
        .iter()
        .find(|r| r["group"] == t.creche.as_str())
        .unwrap();
    assert_eq!(row["first_meetings_no_show"], 1, "{row}");
    assert_eq!(row["first_meetings_held"], 0);
    assert_eq!(row["median_days_to_first_meeting"], Value::Null);
    // The family's access answer holds its invitations and meetings.
    let path = format!("/api/v1/referrals/{by_sms}/personal-data");
    let data = app.expect(&t.admin, "GET", &path, None, 200).await;
    assert_eq!(data["invitations"][0]["choice"], "slot", "{data}");
    assert_eq!(data["meetings"][0]["outcome"], "no_show");
    assert_eq!(data["messages"].as_array().unwrap().len(), 3);
    let events = timeline(&app, &t, &by_sms).await;
    for kind in ["meeting_invited", "meeting_booked", "meeting_recorded"] {
        assert!(events.iter().any(|e| e["kind"] == kind), "{kind}");
    }
    app.stop().await;
    sms.stop().await;
}

#[tokio::test]
async fn links_that_should_not_open_all_answer_the_same_plain_page() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let (first, second) = (
        family(&app, &t, "Yanis", Some("sms")).await,
        family(&app, &t, "Lina", Some("sms")).await,
    );
    let third = family(&app, &t, "Noa", Some("email")).await;
    let ids = slots(&app, &t, &[at(2, 9, 0), at(2, 10, 0)]).await;
    let one = invite(&app, &t, &first, &[&ids[0], &ids[1]]).await;
    let two = invite(&app, &t, &second, &[&ids[0]]).await;
    let three = invite(&app, &t, &third, &[&ids[1]]).await;
    let link = |v: &Value| v["link"].as_str().unwrap().to_owned();
    let (one_link, two_link, three_link) = (link(&one), link(&two), link(&three));
    let (_, refused) = open(&format!("{}x", one_link)).await;

    let token_of = |l: &str| l.rsplit('/').next().unwrap().to_owned();
    let base = one_link.rsplit_once('/').unwrap().0.to_owned();
    let expiry = token_of(&one_link).split('.').next().unwrap().to_owned();
    let forged = format!("{base}/{expiry}.{}", "0".repeat(64));
    let another = format!("{base}/{}", token_of(&two_link));
    // The first family takes the slot the second was offered too.
    assert_eq!(choose(&one_link, &ids[0]).await.0, 200);
    let (status, taken) = choose(&two_link, &ids[0]).await;
    assert_eq!(status, 422);
    assert!(taken.contains("Cet horaire vient d’être pris"), "{taken}");
    let (status, _) = choose(&two_link, "plus-besoin").await;
    assert_eq!(status, 200);
    let events = timeline(&app, &t, &second).await;
    assert!(events.iter().any(|e| e["kind"] == "withdrawal_requested"));
    // Revoked, and expired.
    let path = format!(
        "/api/v1/referrals/{third}/meeting-invitations/{}",
        three["id"].as_str().unwrap()
    );
    app.expect(&t.coordinator, "DELETE", &path, None, 204).await;
    let four = invite(&app, &t, &third, &[&ids[1]]).await;
    let mut conn = app.db.connect();
    diesel::update(meeting_invitations::table.find(four["id"].as_str().unwrap()))
        .set(
            meeting_invitations::expires_at
                .eq((Utc::now() - chrono::Duration::minutes(1)).naive_utc()),
        )
        .execute(&mut conn)
        .unwrap();

    for (what, dead) in [
        ("used", one_link.clone()),
        ("used by a withdrawal", two_link),
        ("forged", forged),
        ("another invitation's token", another),
        ("revoked", three_link),
        ("expired", link(&four)),
        ("unknown", format!("{base}x/{}", token_of(&one_link))),
    ] {
        let (status, page) = open(&dead).await;
        assert_eq!((what, status), (what, 404));
        assert_eq!(page, refused, "{what}: the same page, whatever the reason");
        let (status, _) = choose(&dead, &ids[1]).await;
        assert_eq!((what, status), (what, 404));
    }
    assert!(refused.contains("Ce lien n’est pas ou plus valable"));
    app.stop().await;
}

#[tokio::test]
async fn slots_and_invitations_are_checked() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let path = format!("/api/v1/creches/{}/meeting-slots", t.creche);
    let past = json!({"slots": [{"starts_at": Utc::now() - chrono::Duration::hours(1), "minutes": 45},
        {"starts_at": at(2, 9, 0), "minutes": 5}]});
    let refused = app
        .expect(&t.coordinator, "POST", &path, Some(past), 422)
        .await;
    let fields: Vec<&str> = (refused["errors"].as_array().unwrap().iter())
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slots[0].starts_at", "slots[1].minutes"]);
    let body = json!({"slots": [{"starts_at": at(2, 9, 0), "minutes": 45}]});
    app.expect(&t.prescriber, "POST", &path, Some(body.clone()), 403)
        .await;
    let other = format!("/api/v1/creches/{}/meeting-slots", t.other_creche);
    let elsewhere = app.expect(&t.admin, "POST", &other, Some(body), 201).await;
    let elsewhere = elsewhere["items"][0]["id"].as_str().unwrap().to_owned();
    let referral = family(&app, &t, "Yanis", Some("sms")).await;
    let invitations = format!("/api/v1/referrals/{referral}/meeting-invitations");
    let refused = app
        .expect(
            &t.coordinator,
            "POST",
            &invitations,
            Some(json!({"slot_ids": [elsewhere]})),
            422,
        )
        .await;
    assert_eq!(refused["errors"][0]["field"], "slot_ids[0]");
    let ids = slots(&app, &t, &[at(2, 9, 0)]).await;
    let listed = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let slot = format!("{path}/{}", ids[0]);
    app.expect(&t.coordinator, "DELETE", &slot, None, 204).await;
    app.expect(&t.coordinator, "DELETE", &slot, None, 404).await;
    app.stop().await;
}

#[tokio::test]
async fn a_flood_of_link_requests_from_one_address_is_slowed_down() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let referral = family(&app, &t, "Yanis", Some("sms")).await;
    let ids = slots(&app, &t, &[at(2, 9, 0)]).await;
    let invitation = invite(&app, &t, &referral, &[&ids[0]]).await;
    let link = invitation["link"].as_str().unwrap().to_owned();
    let forged = format!("{}/{}", link.rsplit_once('/').unwrap().0, "1.00");
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(open(&forged).await.0);
    }
    assert!(statuses[..30].iter().all(|s| *s == 404), "{statuses:?}");
    assert_eq!(statuses[34], 429, "{statuses:?}");
    // The family's own link too, from that address, until the minute passes.
    assert_eq!(open(&link).await.0, 429);
    app.stop().await;
}
