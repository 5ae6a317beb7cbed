//! Webhooks end to end: a prescriber's information system subscribes with
//! its API client and a real HTTP receiver on 127.0.0.1 gets every event,
//! signed per the Standard Webhooks specification, once delivered, after
//! being down for several attempts and across a restart of the service.
//! (scripts/contract checks the same signatures with the reference Python
//! library.)

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use avip_tests::receiver::{Hit, Receiver};
use avip_tests::{TestApp, spawn_app_with, spawn_app_with_engine};
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, new_referral, territory};

pub(crate) const ALL_EVENTS: [&str; 6] = [
    "referral.created",
    "referral.status_changed",
    "referral.enrolled",
    "referral.exited",
    "referral.follow_up_added",
    "referral.sla_breached",
];

/// A token of an API client of the prescriber's organisation.
pub(crate) async fn partner_system(app: &TestApp, t: &Territory) -> String {
    let me = app
        .expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await;
    let client = app
        .expect(
            &t.admin,
            "POST",
            "/api/v1/api-clients",
            Some(
                json!({"organization_id": me["organization"]["id"], "label": "SI France Travail"}),
            ),
            201,
        )
        .await;
    let answer = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = answer.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Fast retries: one second between attempts, five attempts in all.
fn fast(env: &mut HashMap<String, String>) {
    env.insert("AVIP_WEBHOOK_RETRY".into(), "1s,1s,1s,1s".into());
}

fn verified(hit: &Hit, secret: &str) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&hit.body, &hit.http_headers())
        .is_ok()
}

/// The events delivered (answered 2xx), by `webhook-id`.
fn delivered(hits: &[Hit]) -> HashMap<String, Value> {
    hits.iter()
        .filter(|h| h.answered < 300)
        .map(|h| (h.header("webhook-id"), h.json()))
        .collect()
}

#[tokio::test]
async fn a_partner_gets_every_event_signed_once_even_after_its_receiver_was_down() {
    let receiver = Receiver::start();
    let app = spawn_app_with_engine(fast).await;
    let t = territory(&app).await;
    let system = partner_system(&app, &t).await;

    // Only an API client (or an admin) subscribes; a person may not.
    let body = json!({"url": receiver.url, "events": ALL_EVENTS});
    let refused = app
        .call(
            &t.prescriber,
            "POST",
            "/api/v1/webhooks",
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let created = app
        .expect(&system, "POST", "/api/v1/webhooks", Some(body), 201)
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    let hook = id(&created);
    // The secret is shown once: never in the list.
    let listed = app
        .expect(&system, "GET", "/api/v1/webhooks", None, 200)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));
    // Neither a coordinator nor the CAF has any business there.
    for token in [&t.coordinator, &t.caf] {
        let refused = app.call(token, "GET", "/api/v1/webhooks", None).await;
        assert_eq!(refused.status(), 403);
    }

    // The receiver is down while the referral moves: attempts fail.
    receiver.down(true);
    let r = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    move_to(&app, &t.coordinator, &r, json!({"to": "contacted"}), 200).await;
    move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let today = crate::referrals::today();
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{r}/enrollment"),
        Some(json!({"start_date": today.to_string(),
            "contract_end_date": (today + chrono::Duration::days(60)).to_string(),
            "days": ["mon", "tue"]})),
        201,
    )
    .await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{r}/follow-ups"),
        Some(
            json!({"date": today.to_string(), "participants": ["coordinator", "parent"],
            "employment_status": "training"}),
        ),
        201,
    )
    .await;
    // Another organisation's referral is not this subscription's.
    new_referral(&app, &t.other_prescriber, &t.other_creche, "Lina").await;
    let failing = receiver
        .wait_for(Duration::from_secs(20), |h| {
            let first = h.first().map(|h| h.header("webhook-id"));
            h.iter()
                .filter(|h| Some(h.header("webhook-id")) == first)
                .count()
                >= 2
        })
        .await;
    assert!(
        failing.len() >= 2,
        "the dispatcher tried: {}",
        failing.len()
    );
    assert!(failing.iter().all(|h| h.answered == 503));
    // Up again, then a restart of the service: nothing is lost.
    let app = app.restart(fast, true).await;
    receiver.down(false);
    // created, 3 status changes (contacted, offered, enrolled), enrolled,
    // follow-up added.
    let hits = receiver
        .wait_for(Duration::from_secs(30), |h| delivered(h).len() >= 6)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hits_after = receiver.hits();
    let events = delivered(&hits_after);
    assert_eq!(events.len(), 6, "{:?}", events.values().collect::<Vec<_>>());
    assert!(hits.len() <= hits_after.len());
    // Once delivered, never again; every attempt is signed and verifies.
    let mut seen = HashSet::new();
    for hit in hits_after.iter().filter(|h| h.answered < 300) {
        assert!(seen.insert(hit.header("webhook-id")), "delivered twice");
    }
    for hit in &hits_after {
        assert!(verified(hit, &secret), "{:?}", hit.headers);
        assert_eq!(hit.header("content-type"), "application/json");
    }
    // The same webhook-id on every attempt of a delivery.
    let ids: HashSet<String> = hits_after.iter().map(|h| h.header("webhook-id")).collect();
    assert_eq!(ids.len(), 6);
    let mut kinds: Vec<(String, String)> = events
        .values()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("referral.created".into(), "received".into()),
            ("referral.enrolled".into(), "enrolled".into()),
            ("referral.follow_up_added".into(), "enrolled".into()),
            ("referral.status_changed".into(), "contacted".into()),
            ("referral.status_changed".into(), "enrolled".into()),
            ("referral.status_changed".into(), "offered".into()),
        ]
    );
    for event in events.values() {
        assert_eq!(event["data"]["referral_id"], json!(r));
        // No personal data in the payload.
        for private in ["Benali", "Amina", "Yanis", "612345678"] {
            assert!(!event.to_string().contains(private));
        }
    }

    // The deliveries show their attempts and the last answer.
    let list = app
        .expect(
            &system,
            "GET",
            &format!("/api/v1/webhooks/{hook}/deliveries"),
            None,
            200,
        )
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    assert!(
        items
            .iter()
            .all(|d| d["status"] == "delivered" && d["last_status_code"] == 204)
    );
    assert!(
        items.iter().any(|d| d["attempts"].as_i64().unwrap() >= 3),
        "{list}"
    );
    // The metrics count the failed attempts: all but each delivery's last.
    let tried: i64 = items.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    let metrics = crate::metrics::scrape(&app).await;
    let gauge =
        |name: &str| crate::metrics::value(&metrics, &format!("{name}{{kind=\"webhook\"}}"));
    assert_eq!(gauge("avip_outbox_pending"), 0.0, "{metrics}");
    assert_eq!(
        gauge("avip_outbox_failed_attempts"),
        (tried - 6) as f64,
        "{metrics}"
    );
    // Sent again on request, with the same webhook-id.
    let again = items[0]["id"].as_str().unwrap();
    app.expect(
        &system,
        "POST",
        &format!("/api/v1/webhooks/{hook}/deliveries/{again}/retry"),
        None,
        202,
    )
    .await;
    let resent = receiver
        .wait_for(Duration::from_secs(10), |h| {
            h.iter()
                .filter(|h| h.header("webhook-id") == again && h.answered < 300)
                .count()
                >= 2
        })
        .await;
    assert_eq!(
        resent
            .iter()
            .filter(|h| h.header("webhook-id") == again && h.answered < 300)
            .count(),
        2
    );
    receiver.stop().await;
}

#[tokio::test]
async fn a_receiver_down_past_the_last_attempt_disables_the_subscription_and_says_so() {
    let receiver = Receiver::start();
    receiver.down(true);
    let app = spawn_app_with_engine(|env| {
        env.insert("AVIP_WEBHOOK_RETRY".into(), "1s,1s".into());
    })
    .await;
    let t = territory(&app).await;
    let system = partner_system(&app, &t).await;
    let created = app
        .expect(
            &system,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": receiver.url, "events": ["referral.created"]})),
            201,
        )
        .await;
    let hook = id(&created);
    new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    receiver
        .wait_for(Duration::from_secs(20), |h| h.len() >= 3)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.hits().len(), 3, "three attempts, then no more");
    let listed = app
        .expect(&system, "GET", "/api/v1/webhooks", None, 200)
        .await;
    let item = &listed["items"][0];
    assert_eq!(item["active"], false, "{listed}");
    assert!(item["disabled_reason"].as_str().unwrap().contains("failed"));
    let deliveries = app
        .expect(
            &system,
            "GET",
            &format!("/api/v1/webhooks/{hook}/deliveries"),
            None,
            200,
        )
        .await;
    assert_eq!(deliveries["items"][0]["status"], "failed");
    assert_eq!(deliveries["items"][0]["attempts"], 3);
    assert_eq!(deliveries["items"][0]["last_status_code"], 503);
    // The organisation's people were told (the outbox holds the e-mail).
    let mut conn = app.db.connect();
    let pending: i64 = {
        use diesel::prelude::*;
        avip_db::schema::notifications::table
            .filter(avip_db::schema::notifications::kind.eq("webhook_disabled"))
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(pending, 1);
    // Nothing more is sent while disabled; on again, new events flow.
    new_referral(&app, &t.prescriber, &t.creche, "Lina").await;
    receiver.down(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.hits().len(), 3);
    app.expect(
        &system,
        "PATCH",
        &format!("/api/v1/webhooks/{hook}"),
        Some(json!({"active": true})),
        200,
    )
    .await;
    new_referral(&app, &t.prescriber, &t.creche, "Noa").await;
    let hits = receiver
        .wait_for(Duration::from_secs(10), |h| {
            h.iter().any(|h| h.answered == 204)
        })
        .await;
    assert_eq!(hits.iter().filter(|h| h.answered == 204).count(), 1);
    receiver.stop().await;
}

#[tokio::test]
async fn in_production_only_https_to_public_addresses_is_accepted() {
    let app = spawn_app_with(crate::hardening::production).await;
    let t = territory(&app).await;
    let system = partner_system(&app, &t).await;
    for url in [
        "http://hooks.example.org/avip",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        // IPv6 forms that embed a loopback or private IPv4 address.
        "https://[64:ff9b::7f00:1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "https://[64:ff9b:1::a00:1]/hook",
        "https://[2002:7f00:1::]/hook",
        "https://[2002:c0a8:114::1]/hook",
        "https://[::127.0.0.1]/hook",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
        "https://[2001:db8::1]/hook",
        "https://[fd00::1]/hook",
    ] {
        let problem = app
            .expect(
                &system,
                "POST",
                "/api/v1/webhooks",
                Some(json!({"url": url, "events": ["referral.created"]})),
                422,
            )
            .await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    // A public address passes; an unknown event is named.
    let problem = app
        .expect(
            &system,
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://93.184.216.34/avip", "events": ["referral.deleted"]})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "events[0]", "{problem}");
    app.expect(
        &system,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": "https://93.184.216.34/avip", "events": ["referral.created"]})),
        201,
    )
    .await;
}

/// A stop (SIGTERM) while a partner's receiver is still answering lets that
/// attempt finish and be recorded. Cut short, the delivery would stay
/// claimed for a minute before anyone tried it again.
#[tokio::test]
async fn a_stop_lets_the_attempt_in_flight_finish_and_be_recorded() {
    let receiver = Receiver::start();
    receiver.slow(Duration::from_secs(2));
    let app = spawn_app_with_engine(fast).await;
    let t = territory(&app).await;
    let system = partner_system(&app, &t).await;
    let body = json!({"url": receiver.url, "events": ["referral.created"]});
    let created = app
        .expect(&system, "POST", "/api/v1/webhooks", Some(body), 201)
        .await;
    let hook = id(&created);
    new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let arrived = receiver
        .wait_for(Duration::from_secs(20), |h| !h.is_empty())
        .await;
    assert_eq!(arrived.len(), 1, "the attempt reached the receiver");
    // Stopped while the receiver has not answered; the new process sends
    // nothing (no engine), so only the stopped one can record the answer.
    let app = app.restart(fast, false).await;
    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    let mut delivery = Value::Null;
    for _ in 0..100 {
        let list = app.expect(&system, "GET", &path, None, 200).await;
        delivery = list["items"][0].clone();
        if delivery["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"], 1, "{delivery}");
    assert_eq!(delivery["last_status_code"], 204, "{delivery}");
    assert_eq!(receiver.hits().len(), 1);
}
