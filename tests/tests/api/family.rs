//! Reaching the family (issue 35, points 1 to 3 and 5), end to end: the
//! coordinator's messages by SMS through a local server that speaks
//! Brevo's endpoint as documented, and by e-mail through a real SMTP
//! server, with the engine running every second; each arrives once, across
//! a restart; the first one answers the family; a provider's refusal is
//! final and shown, its outage retried; what the family did not ask for is
//! refused with the field and the reason; an erasure takes the messages'
//! words and numbers with the family's data.

use std::collections::HashMap;
use std::time::Duration;

use avip_db::schema::notifications;
use avip_tests::sms::{API_KEY, Sent, SmsProvider};
use avip_tests::smtp::{Received, SmtpSink};
use avip_tests::{TestApp, spawn_app, spawn_app_with_engine};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, referral, territory};

const TEMPLATES: [&str; 6] = [
    "acknowledgment",
    "meeting_invitation",
    "reminder",
    "documents",
    "free_text",
    "place_offer",
];
const FAMILY_EMAIL: &str = "amina.b@example.org";

/// The engine every second, mail to `sink`, SMS to `sms`.
pub(crate) fn with_both(
    sink: &SmtpSink,
    sms: &SmsProvider,
    more: &[(&str, &str)],
) -> impl Fn(&mut HashMap<String, String>) + use<> {
    let mut all: Vec<(String, String)> = (sms.settings().into_iter())
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    all.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    all.push(("AVIP_SMTP_URL".to_owned(), sink.url()));
    all.push(("AVIP_SLA_SCHEDULE".to_owned(), "* * * * * *".to_owned()));
    move |env| env.extend(all.iter().cloned())
}

/// The crèche gets a phone: the messages give it.
pub(crate) async fn with_phone(app: &TestApp, t: &Territory, more: Value) {
    let mut body = json!({"phone": "04 94 00 00 01"});
    body.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    let path = format!("/api/v1/creches/{}", t.creche);
    let creche = app.expect(&t.admin, "PATCH", &path, Some(body), 200).await;
    assert_eq!(creche["phone"], "+33494000001", "{creche}");
}

/// A family referred to the crèche, reached as it asked.
pub(crate) async fn family(
    app: &TestApp,
    t: &Territory,
    child: &str,
    contact: Option<&str>,
) -> String {
    let mut body = referral(&t.creche, child);
    body["parent"]["contact_preference"] = json!(contact);
    id(&app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await)
}

async fn send(app: &TestApp, token: &str, referral: &str, body: Value, status: u16) -> Value {
    let path = format!("/api/v1/referrals/{referral}/messages");
    app.expect(token, "POST", &path, Some(body), status).await
}

fn message(template: &str, channel: &str) -> Value {
    let mut body = json!({"template": template, "channel": channel});
    if template == "free_text" {
        body["text"] = json!("Bonjour, pouvez-vous rappeler la crèche demain matin ? Merci.");
    }
    body
}

/// Sends every template; the place offer once the place is offered.
async fn every_template(app: &TestApp, t: &Territory, referral: &str, channel: &str) {
    for template in TEMPLATES {
        if template == "place_offer" {
            move_to(app, &t.coordinator, referral, json!({"to": "offered"}), 200).await;
        }
        let sent = send(
            app,
            &t.coordinator,
            referral,
            message(template, channel),
            201,
        )
        .await;
        assert_eq!(sent["template"], template, "{sent}");
        assert_eq!(sent["channel"], channel);
        assert_eq!(sent["status"], "pending");
    }
}

async fn timeline(app: &TestApp, t: &Territory, referral: &str) -> Vec<Value> {
    let path = format!("/api/v1/referrals/{referral}/events?limit=200");
    let page = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    page["items"].as_array().unwrap().clone()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

async fn messages(app: &TestApp, t: &Territory, referral: &str) -> Vec<Value> {
    let path = format!("/api/v1/referrals/{referral}/messages");
    let list = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    list["items"].as_array().unwrap().clone()
}

/// The referral's messages once `done` holds for them, or after 30 s: the
/// dispatcher records a delivery only after the provider answered, so the
/// provider may have a message a moment before the service says it sent.
async fn messages_when(
    app: &TestApp,
    t: &Territory,
    referral: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let listed = messages(app, t, referral).await;
        if done(&listed) || start.elapsed() > Duration::from_secs(30) {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn to_family(received: &[Received]) -> Vec<&Received> {
    (received.iter())
        .filter(|m| m.to.iter().any(|t| t == FAMILY_EMAIL))
        .collect()
}

fn delivered(sent: &[Sent]) -> usize {
    sent.iter().filter(|s| s.answered == 201).count()
}

#[tokio::test]
async fn messages_reach_the_family_once_by_sms_and_by_email_and_answer_it() {
    let (sink, sms) = (SmtpSink::start(), SmsProvider::start());
    let app = spawn_app_with_engine(with_both(&sink, &sms, &[])).await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let by_sms = family(&app, &t, "Yanis", Some("sms")).await;
    let by_email = family(&app, &t, "Lina", Some("email")).await;

    every_template(&app, &t, &by_sms, "sms").await;
    // The first message answered the family: contacted, on time.
    let answered = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{by_sms}"),
            None,
            200,
        )
        .await;
    assert!(answered["first_response_at"].is_string(), "{answered}");
    assert_eq!(answered["sla"]["met"], true);
    let events = timeline(&app, &t, &by_sms).await;
    let first = events
        .iter()
        .find(|e| e["kind"] == "transition" && e["to_status"] == "contacted")
        .expect("received → contacted");
    assert_eq!(
        first["note"],
        "Accusé de réception envoyé à la famille par SMS"
    );
    // The same key sends once.
    let path = format!("/api/v1/referrals/{by_sms}/messages");
    let mut ids = Vec::new();
    for status in [201, 200] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(&t.coordinator)
            .header("Idempotency-Key", "appel-du-lundi")
            .json(&message("reminder", "sms"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        ids.push(response.json::<Value>().await.unwrap()["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    every_template(&app, &t, &by_email, "email").await;

    let sent = sms
        .wait_for(Duration::from_secs(30), |s| delivered(s) >= 7)
        .await;
    assert_eq!(delivered(&sent), 7, "{sent:?}");
    for s in &sent {
        assert_eq!(s.path, "/v3/transactionalSMS/send");
        assert_eq!(s.api_key, API_KEY);
        assert_eq!(s.body["sender"], "CrecheAVIP");
        assert_eq!(s.body["recipient"], "33612345678");
        assert_eq!(s.body["type"], "transactional");
        assert_eq!(s.body["unicodeEnabled"], false);
        let content = s.body["content"].as_str().unwrap();
        assert!(content.contains("04 94 00 00 01"), "{content}");
        assert!(content.chars().count() <= 3 * 153, "{content}");
    }
    let first = sent[0].body["content"].as_str().unwrap();
    assert!(
        first.starts_with(
            "Bonjour Amina, la crèche Les Petits Pas a bien recu votre demande de place pour Yanis."
        ),
        "{first}"
    );
    assert!(sent.iter().any(|s| {
        s.body["content"]
            .as_str()
            .unwrap()
            .contains("pouvez-vous rappeler la crèche demain matin")
    }));

    let mails = sink
        .wait_for(Duration::from_secs(30), |r| to_family(r).len() >= 6)
        .await;
    let mails = to_family(&mails);
    assert_eq!(mails.len(), 6);
    let subjects: std::collections::BTreeSet<String> =
        mails.iter().map(|m| m.decoded().0).collect();
    assert_eq!(subjects.len(), 6, "{subjects:?}");
    assert!(
        subjects.contains("Crèche Les Petits Pas : un premier rendez-vous"),
        "{subjects:?}"
    );
    let (_, text, html) = mails[0].decoded();
    assert!(text.starts_with("Bonjour Amina,"), "{text}");
    assert!(text.contains("Tél. : 04 94 00 00 01"), "{text}");
    assert!(html.contains("<p>Bonjour Amina,</p>"), "{html}");

    let listed = messages_when(&app, &t, &by_sms, |m| {
        m.len() == 7 && m.iter().all(|m| m["status"] == "sent")
    })
    .await;
    assert_eq!(listed.len(), 7);
    assert!(
        listed
            .iter()
            .all(|m| m["status"] == "sent" && m["attempts"] == 1),
        "{listed:?}"
    );
    assert_eq!(listed[0]["template"], "acknowledgment");
    let events = timeline(&app, &t, &by_sms).await;
    assert_eq!(count(&events, "family_message"), 7);
    assert_eq!(count(&events, "family_message_sent"), 7);
    assert!(
        !events.iter().any(|e| e.to_string().contains("612345678")),
        "the timeline shows the channel, not the number"
    );

    // Across a restart, nothing is sent again.
    let app = app.restart(with_both(&sink, &sms, &[]), true).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(delivered(&sms.sent()), 7);
    assert_eq!(to_family(&sink.received()).len(), 6);
    app.stop().await;
    sms.stop().await;
}

#[tokio::test]
async fn a_provider_s_refusal_is_final_and_its_outage_is_retried() {
    let (sink, sms) = (SmtpSink::start(), SmsProvider::start());
    let retry = [("AVIP_MAIL_RETRY", "1s"), ("AVIP_MAIL_RETRY_MAX", "1s")];
    let app = spawn_app_with_engine(with_both(&sink, &sms, &retry)).await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({})).await;
    let referral = family(&app, &t, "Yanis", Some("sms")).await;

    sms.script(&[400]);
    send(
        &app,
        &t.coordinator,
        &referral,
        message("acknowledgment", "sms"),
        201,
    )
    .await;
    let refused = sms
        .wait_for(Duration::from_secs(30), |s| !s.is_empty())
        .await;
    assert_eq!(refused[0].answered, 400);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sms.sent().len(), 1, "a refusal is not retried");
    let listed = messages_when(&app, &t, &referral, |m| m[0]["status"] == "failed").await;
    assert_eq!(listed[0]["status"], "failed", "{listed:?}");
    let events = timeline(&app, &t, &referral).await;
    let failed = events
        .iter()
        .find(|e| e["kind"] == "family_message_failed")
        .expect("the refusal is on the timeline");
    let reason = failed["reason"].as_str().unwrap();
    assert!(reason.contains("provider answered 400"), "{reason}");
    assert!(!reason.contains("612345678"), "no number in it: {reason}");

    sms.script(&[503]);
    send(
        &app,
        &t.coordinator,
        &referral,
        message("reminder", "sms"),
        201,
    )
    .await;
    let sent = sms
        .wait_for(Duration::from_secs(30), |s| delivered(s) == 1)
        .await;
    let answers: Vec<u16> = sent.iter().map(|s| s.answered).collect();
    assert_eq!(answers, [400, 503, 201]);
    let reminder =
        messages_when(&app, &t, &referral, |m| m[1]["status"] == "sent").await[1].clone();
    assert_eq!(reminder["template"], "reminder");
    assert_eq!(reminder["status"], "sent", "{reminder}");
    assert_eq!(reminder["attempts"], 2);
    app.stop().await;
    sms.stop().await;
}

fn field(problem: &Value) -> String {
    problem["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn messages_the_family_did_not_ask_for_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let unknown = family(&app, &t, "Yanis", None).await;
    // The crèche has no phone yet: the family could not call back.
    let no_phone = family(&app, &t, "Noa", Some("sms")).await;
    let refused = send(
        &app,
        &t.coordinator,
        &no_phone,
        message("reminder", "sms"),
        422,
    )
    .await;
    assert_eq!(field(&refused), "template", "{refused}");
    with_phone(&app, &t, json!({})).await;

    let refused = send(
        &app,
        &t.coordinator,
        &unknown,
        message("reminder", "sms"),
        422,
    )
    .await;
    assert_eq!(field(&refused), "channel", "{refused}");
    let path = format!("/api/v1/referrals/{unknown}/contact-preference");
    let changed = app
        .expect(
            &t.coordinator,
            "PUT",
            &path,
            Some(json!({"contact_preference": "phone_call"})),
            200,
        )
        .await;
    assert_eq!(changed["parent"]["contact_preference"], "phone_call");
    let refused = send(
        &app,
        &t.coordinator,
        &unknown,
        message("reminder", "sms"),
        422,
    )
    .await;
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("phone call only"),
        "{refused}"
    );
    app.expect(
        &t.prescriber,
        "PUT",
        &path,
        Some(json!({"contact_preference": "sms"})),
        200,
    )
    .await;
    let events = timeline(&app, &t, &unknown).await;
    assert_eq!(count(&events, "contact_preference_changed"), 2);

    let refused = send(
        &app,
        &t.coordinator,
        &unknown,
        message("reminder", "email"),
        422,
    )
    .await;
    assert_eq!(field(&refused), "channel");
    assert_eq!(
        refused["errors"][0]["message"],
        "the family asked to be reached by sms"
    );
    for (body, name) in [
        (json!({"template": "free_text", "channel": "sms"}), "text"),
        (json!({"template": "reminder", "text": "bonjour"}), "text"),
        (
            json!({"template": "free_text", "text": "x".repeat(481)}),
            "text",
        ),
        (json!({"template": "place_offer"}), "template"),
        (json!({"template": "bonjour"}), "template"),
    ] {
        let refused = send(&app, &t.coordinator, &unknown, body.clone(), 422).await;
        assert_eq!(field(&refused), name, "{body}: {refused}");
    }
    // An SMS of four segments.
    let long = "Merci de venir avec votre enfant. ".repeat(14);
    let refused = send(
        &app,
        &t.coordinator,
        &unknown,
        json!({"template": "free_text", "text": long.trim()}),
        422,
    )
    .await;
    assert_eq!(field(&refused), "text");
    let why = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        why.starts_with("the SMS would take 4 segments (GSM-7"),
        "{why}"
    );
    // Prescribers follow the family; the crèche writes to it.
    let response = app
        .call(
            &t.prescriber,
            "POST",
            &format!("/api/v1/referrals/{unknown}/messages"),
            Some(message("reminder", "sms")),
        )
        .await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(messages(&app, &t, &unknown).await.is_empty());

    // What the family gave decides what it may ask for.
    let mut landline = referral(&t.creche, "Sacha");
    landline["parent"]["phone"] = json!("04 94 12 34 56");
    landline["parent"]["contact_preference"] = json!("sms");
    let refused = app
        .expect(
            &t.prescriber,
            "POST",
            "/api/v1/referrals",
            Some(landline),
            422,
        )
        .await;
    assert_eq!(field(&refused), "parent.contact_preference", "{refused}");
    let mut no_email = referral(&t.creche, "Sacha");
    no_email["parent"]["email"] = Value::Null;
    let no_email = id(&app
        .expect(
            &t.prescriber,
            "POST",
            "/api/v1/referrals",
            Some(no_email),
            201,
        )
        .await);
    let path = format!("/api/v1/referrals/{no_email}/contact-preference");
    let refused = app
        .expect(
            &t.coordinator,
            "PUT",
            &path,
            Some(json!({"contact_preference": "email"})),
            422,
        )
        .await;
    assert_eq!(field(&refused), "contact_preference");
    app.stop().await;
}

#[tokio::test]
async fn the_acknowledgment_at_intake_and_the_erasure_of_the_messages() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    with_phone(&app, &t, json!({"auto_acknowledgment": true})).await;
    let acknowledged = family(&app, &t, "Yanis", Some("sms")).await;
    let quiet = family(&app, &t, "Lina", Some("phone_call")).await;
    let listed = messages(&app, &t, &acknowledged).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["template"], "acknowledgment");
    assert!(messages(&app, &t, &quiet).await.is_empty());
    let referral = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{acknowledged}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        referral["status"], "received",
        "an automatic message is no answer"
    );
    assert!(referral["first_response_at"].is_null());

    // The family's access request shows the messages; its erasure takes
    // their words and its number.
    let path = format!("/api/v1/referrals/{acknowledged}/personal-data");
    let data = app.expect(&t.admin, "GET", &path, None, 200).await;
    assert!(
        data["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Amina"),
        "{data}"
    );
    let path = format!("/api/v1/referrals/{acknowledged}/erasure");
    app.expect(
        &t.admin,
        "POST",
        &path,
        Some(json!({"reason": "demande de la famille"})),
        200,
    )
    .await;
    let mut conn = app.db.connect();
    let rows: Vec<(String, String, String)> = notifications::table
        .filter(notifications::referral_id.eq(&acknowledged))
        .filter(notifications::kind.eq("family_message"))
        .select((
            notifications::recipients,
            notifications::body_text,
            notifications::status,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        rows,
        [("[]".to_owned(), String::new(), "failed".to_owned())]
    );
    app.stop().await;
}
