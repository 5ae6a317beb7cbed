//! A referral handed to another crèche of its département (issue 34,
//! point 1), end to end: the API, both crèches' views, the timeline, the
//! e-mails through a real SMTP server and the webhook to a real receiver.

use std::time::Duration;

use avip_tests::receiver::Receiver;
use avip_tests::smtp::SmtpSink;
use avip_tests::{TestApp, spawn_app_with_engine};
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, new_referral, territory};

async fn transfer(app: &TestApp, token: &str, r: &str, body: Value, status: u16) -> Value {
    let path = format!("/api/v1/referrals/{r}/transfer");
    app.expect(token, "POST", &path, Some(body), status).await
}

/// A crèche of another département (13), with its operator.
async fn creche_elsewhere(app: &TestApp, t: &Territory) -> String {
    let body = json!({"kind": "creche_operator", "name": "Crèches des Bouches-du-Rhône",
        "departement": "13"});
    let op = app
        .expect(&t.admin, "POST", "/api/v1/organizations", Some(body), 201)
        .await;
    crate::referrals::creche(app, &t.admin, op["id"].as_str().unwrap(), "Les Calanques").await
}

fn field_errors(problem: &Value) -> Vec<(String, String)> {
    (problem["errors"].as_array().unwrap().iter())
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("field"), text("message"))
        })
        .collect()
}

#[tokio::test]
async fn a_family_handed_to_another_creche_keeps_its_file_and_deadline_and_everyone_is_told() {
    let (receiver, sink) = (Receiver::start(), SmtpSink::start());
    // The outbox is sent every second.
    let app = spawn_app_with_engine(crate::territory::every_second(&sink, &[])).await;
    let t = territory(&app).await;
    let system = crate::webhooks::partner_system(&app, &t).await;
    let hook = json!({"url": receiver.url, "events": ["referral.transferred"]});
    app.expect(&system, "POST", "/api/v1/webhooks", Some(hook), 201)
        .await;
    let created = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let r = id(&created);
    let get = format!("/api/v1/referrals/{r}");
    app.expect(&t.other_coordinator, "GET", &get, None, 404)
        .await;

    // Refused, each naming the field and the reason, nothing moved.
    let elsewhere = creche_elsewhere(&app, &t).await;
    let body = json!({"creche_id": elsewhere, "reason": "no_place_on_days"});
    let refused = transfer(&app, &t.coordinator, &r, body, 422).await;
    let errors = field_errors(&refused);
    assert_eq!(errors[0].0, "creche_id", "{refused}");
    assert!(errors[0].1.contains("département 13"), "{refused}");
    let unknown =
        json!({"creche_id": "0193a5f2-7c4e-7d1a-9b2c-3d4e5f6a7b8c", "reason": "family_request"});
    let refused = transfer(&app, &t.coordinator, &r, unknown, 422).await;
    assert_eq!(field_errors(&refused)[0].0, "creche_id", "{refused}");
    let unexplained = json!({"creche_id": "not an id", "reason": "other"});
    let refused = transfer(&app, &t.coordinator, &r, unexplained, 422).await;
    let fields: Vec<String> = field_errors(&refused).into_iter().map(|e| e.0).collect();
    assert_eq!(fields, ["creche_id", "note"], "{refused}");
    let same = json!({"creche_id": t.creche, "reason": "family_request"});
    transfer(&app, &t.coordinator, &r, same, 422).await;
    let body = json!({"creche_id": t.other_creche, "reason": "family_request"});
    // Neither another prescriber nor a crèche that does not hold it.
    transfer(&app, &t.other_prescriber, &r, body.clone(), 404).await;
    transfer(&app, &t.other_coordinator, &r, body, 404).await;
    transfer(
        &app,
        &t.caf,
        &r,
        json!({"creche_id": t.other_creche, "reason": "other", "note": "x"}),
        403,
    )
    .await;

    // The crèche holding it hands it over.
    let body = json!({"creche_id": t.other_creche, "reason": "no_place_on_days",
        "note": "pas de place le lundi ici"});
    let done = transfer(&app, &t.coordinator, &r, body, 200).await;
    assert_eq!(done["from_creche_id"], t.creche.as_str());
    assert_eq!(done["to_creche_id"], t.other_creche.as_str());
    assert_eq!(done["status"], "received");
    assert_eq!(done["reference"], created["reference"]);
    // Not an answer to the family: the deadline is the one it had.
    assert_eq!(done["sla_due_at"], created["sla"]["due_at"], "{done}");

    // The crèche it left sees it no more; the new one sees all of it.
    app.expect(&t.coordinator, "GET", &get, None, 404).await;
    let there = app
        .expect(&t.other_coordinator, "GET", &get, None, 200)
        .await;
    assert_eq!(there["creche_id"], t.other_creche.as_str());
    assert_eq!(there["sla"]["due_at"], created["sla"]["due_at"]);
    assert!(there["first_response_at"].is_null());
    assert_eq!(there["parent"], created["parent"]);
    assert_eq!(there["children"], created["children"]);
    assert_eq!(there["needs"], created["needs"]);
    let events = app
        .expect(
            &t.other_coordinator,
            "GET",
            &format!("{get}/events"),
            None,
            200,
        )
        .await;
    let items = events["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.contains(&"created"), "{kinds:?}");
    let moved = items.iter().find(|e| e["kind"] == "transferred").unwrap();
    assert_eq!(moved["reason"], "no_place_on_days");
    assert_eq!(moved["note"], "pas de place le lundi ici");
    assert_eq!(moved["data"]["from_creche_id"], t.creche.as_str());
    assert_eq!(moved["data"]["to_creche_id"], t.other_creche.as_str());
    assert_eq!(moved["actor"]["kind"], "user", "{moved}");
    // The prescriber still follows it, and may hand it back herself.
    let back = json!({"creche_id": t.creche, "reason": "closer_to_home_or_work"});
    transfer(&app, &t.prescriber, &r, back, 200).await;
    app.expect(&t.coordinator, "GET", &get, None, 200).await;

    // Told by e-mail: the new crèche's coordinator, the referent, each
    // once per transfer (two transfers); the arrival at intake besides.
    let mails = sink
        .wait_for(Duration::from_secs(20), |m| m.len() >= 5)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.received().len(), mails.len(), "nothing twice");
    let to = |who: &str, words: &str| {
        (mails.iter())
            .filter(|m| m.to == [who] && m.decoded().0.contains(words))
            .count()
    };
    let seen: Vec<(Vec<String>, String)> = mails
        .iter()
        .map(|m| (m.to.clone(), m.decoded().0))
        .collect();
    assert_eq!(
        to("b.roux@example.org", "famille transférée vers votre crèche"),
        1,
        "{seen:?}"
    );
    assert_eq!(
        to(
            "c.martin@example.org",
            "famille transférée vers votre crèche"
        ),
        1
    );
    assert_eq!(
        to("p.durand@example.org", "transférée vers une autre crèche"),
        2
    );
    // And the prescriber's information system by its webhook, signed.
    let hits = receiver
        .wait_for(Duration::from_secs(20), |h| h.len() >= 2)
        .await;
    let types: Vec<String> = hits.iter().map(|h| h.json()["type"].to_string()).collect();
    assert!(
        types.iter().all(|t| t == "\"referral.transferred\""),
        "{types:?}"
    );

    // The indicators count each crèche's transfers in and out (there and
    // back: one each way for both); prescriber groups have none.
    let today = crate::referrals::today();
    let period = format!("from={}&to={}", today - chrono::Duration::days(1), today);
    let path = format!("/api/v1/exports/indicators?{period}&group_by=creche");
    let rows = app.expect(&t.caf, "GET", &path, None, 200).await;
    for creche in [&t.creche, &t.other_creche] {
        let row = (rows.as_array().unwrap().iter())
            .find(|r| r["group"] == creche.as_str())
            .unwrap();
        assert_eq!(
            (&row["transfers_in"], &row["transfers_out"]),
            (&json!(1), &json!(1)),
            "{row}"
        );
    }
    let path = format!("/api/v1/exports/indicators?{period}&group_by=month");
    let rows = app.expect(&t.caf, "GET", &path, None, 200).await;
    let ins: i64 = (rows.as_array().unwrap().iter())
        .map(|r| r["transfers_in"].as_i64().unwrap())
        .sum();
    assert_eq!(ins, 2, "{rows}");
    let path = format!("/api/v1/exports/indicators?{period}&group_by=prescriber");
    let rows = app.expect(&t.caf, "GET", &path, None, 200).await;
    assert!(rows[0]["transfers_in"].is_null(), "{rows}");

    // Only an open referral moves: one offered, or closed, is refused.
    let other = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
    let declined = json!({"to": "declined", "reason": "no_place_available"});
    move_to(&app, &t.coordinator, &other, declined, 200).await;
    let body = json!({"creche_id": t.other_creche, "reason": "no_place_on_days"});
    let refused = transfer(&app, &t.coordinator, &other, body, 409).await;
    assert_eq!(refused["code"], "invalid_transition", "{refused}");
}

/// One waiting list across a coordinator's crèches (issue 34, point 2):
/// the waitlisted families only, with their week, how long they have
/// waited, and the crèches of the same operator free on their days.
#[tokio::test]
async fn the_waiting_list_shows_each_family_and_where_its_operator_has_room() {
    let app = avip_tests::spawn_app().await;
    let t = territory(&app).await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let operator = me["organization"]["id"].as_str().unwrap().to_owned();
    let sister = crate::referrals::creche(&app, &t.admin, &operator, "Les Mimosas").await;
    let waiting = crate::referrals::monday_tuesday_referral(&app, &t).await;
    move_to(
        &app,
        &t.coordinator,
        &id(&waiting),
        json!({"to": "waitlisted"}),
        200,
    )
    .await;
    new_referral(&app, &t.prescriber, &t.creche, "Lina").await;

    let list = app
        .expect(&t.coordinator, "GET", "/api/v1/waiting-list", None, 200)
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let entry = &items[0];
    assert_eq!(entry["reference"], waiting["reference"]);
    assert_eq!(entry["creche_name"], "Les Petits Pas");
    assert_eq!(entry["family"], "Amina Benali");
    assert_eq!(entry["days"], json!(["mon", "tue"]));
    assert_eq!(entry["days_waiting"], 0);
    assert!(entry["waitlisted_at"].is_string());
    // Its operator's other crèche has room; another operator's is not offered.
    let room: Vec<&str> = (entry["could_take"].as_array().unwrap().iter())
        .map(|c| c["creche_id"].as_str().unwrap())
        .collect();
    assert_eq!(room, [sister.as_str()], "{entry}");

    // Scoped like the lists; the others have no business there.
    let other = app
        .expect(
            &t.other_coordinator,
            "GET",
            "/api/v1/waiting-list",
            None,
            200,
        )
        .await;
    assert_eq!(other["items"], json!([]));
    for token in [&t.prescriber, &t.caf] {
        app.expect(token, "GET", "/api/v1/waiting-list", None, 403)
            .await;
    }
    let elsewhere = app
        .expect(
            &t.coordinator,
            "GET",
            "/api/v1/waiting-list?departement=13",
            None,
            200,
        )
        .await;
    assert_eq!(elsewhere["items"], json!([]));
    let refused = app
        .expect(
            &t.coordinator,
            "GET",
            "/api/v1/waiting-list?creche=nope",
            None,
            400,
        )
        .await;
    assert_eq!(refused["errors"][0]["field"], "creche", "{refused}");
}
