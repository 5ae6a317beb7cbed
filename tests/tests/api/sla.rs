//! The SLA engine end to end: the real application with its scheduler, a
//! real SMTP server on 127.0.0.1, durations of seconds.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use avip_tests::smtp::{Received, SmtpSink};
use avip_tests::{TestApp, spawn_app_with_engine};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::referrals::{id, move_to, new_referral, territory, without_arrival_notices};

const COORDINATOR: &str = "c.martin@example.org";
const DIRECTION: &str = "direction.petite-enfance@example.org";

/// Seconds-long stages, a sweep every second, retries after one second.
fn fast(
    sink: &SmtpSink,
    warning: u32,
    breach: u32,
    escalation: u32,
) -> impl FnOnce(&mut HashMap<String, String>) {
    let url = sink.url();
    move |env| {
        for (k, v) in [
            ("AVIP_SMTP_URL", url),
            ("AVIP_SLA_WARNING", format!("{warning}s")),
            ("AVIP_SLA_BREACH", format!("{breach}s")),
            ("AVIP_SLA_ESCALATION", format!("{escalation}s")),
            ("AVIP_SLA_SCHEDULE", "* * * * * *".into()),
            ("AVIP_MAIL_RETRY", "1s".into()),
            ("AVIP_MAIL_RETRY_MAX", "2s".into()),
            ("AVIP_MAIL_LEASE", "5s".into()),
        ] {
            env.insert(k.into(), v);
        }
    }
}

/// The Message-ID the service derives from a deduplication key (sender
/// `no-reply@localhost`, the default).
fn message_id(key: &str) -> String {
    let hex: String = Sha256::digest(key.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{hex}.avip@localhost>")
}

fn stage_ids(referrals: &[&str], stages: &[&str], version: i32) -> HashSet<String> {
    referrals
        .iter()
        .flat_map(|r| {
            stages
                .iter()
                .map(move |s| message_id(&format!("first_response:{r}:{s}:{version}")))
        })
        .collect()
}

fn ids(received: &[Received]) -> Vec<String> {
    received.iter().map(Received::message_id).collect()
}

/// The referent named on the test referrals (`referrals::referral`).
pub(crate) const REFERENT: &str = "p.durand@example.org";

/// The mails to the crèches' people, not to the referent.
fn to_staff(received: &[Received]) -> Vec<Received> {
    received
        .iter()
        .filter(|m| m.to != [REFERENT] && !is_arrival(m))
        .cloned()
        .collect()
}

/// The arrival notice of a new referral (`arrival.rs` tests it in full),
/// not one of the SLA engine's e-mails.
fn is_arrival(mail: &Received) -> bool {
    mail.decoded().0.contains("nouvelle famille orientée")
}

/// The mails to the referent.
fn to_referent(received: &[Received]) -> Vec<Received> {
    received
        .iter()
        .filter(|m| m.to == [REFERENT])
        .cloned()
        .collect()
}

async fn set_escalation_address(app: &TestApp, admin: &str, creche: &str) {
    app.expect(
        admin,
        "PATCH",
        &format!("/api/v1/creches/{creche}"),
        Some(json!({"escalation_email": DIRECTION})),
        200,
    )
    .await;
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    app.expect(token, "GET", path, None, 200).await
}

#[tokio::test]
async fn every_stage_of_a_late_referral_is_mailed_once_to_the_right_people() {
    let sink = SmtpSink::start();
    let app = spawn_app_with_engine(fast(&sink, 3, 5, 7)).await;
    let t = territory(&app).await;
    set_escalation_address(&app, &t.admin, &t.creche).await;
    let late = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    let late2 = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
    let answered = id(&new_referral(&app, &t.prescriber, &t.creche, "Noa").await);
    let withdrawn = id(&new_referral(&app, &t.prescriber, &t.creche, "Inès").await);
    move_to(
        &app,
        &t.coordinator,
        &answered,
        json!({"to": "contacted", "note": "appel"}),
        200,
    )
    .await;
    move_to(
        &app,
        &t.prescriber,
        &withdrawn,
        json!({"to": "withdrawn", "reason": "other_childcare_found", "note": "nounou"}),
        200,
    )
    .await;

    let expected = stage_ids(&[&late, &late2], &["warning", "breach", "escalation"], 1);
    sink.wait_for(Duration::from_secs(40), |r| {
        to_staff(r).len() >= expected.len()
    })
    .await;
    // A few more sweeps: nothing else may arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let everything = sink.received();
    // The coordinator heard of each arrival once, at once.
    let arrivals: Vec<Received> = everything
        .iter()
        .filter(|m| is_arrival(m))
        .cloned()
        .collect();
    let expected_arrivals: HashSet<String> = [&late, &late2, &answered, &withdrawn]
        .iter()
        .map(|r| message_id(&format!("coordinator:referral_received:{r}:{COORDINATOR}")))
        .collect();
    assert_eq!(ids(&arrivals).len(), 4);
    assert_eq!(
        ids(&arrivals).into_iter().collect::<HashSet<_>>(),
        expected_arrivals
    );
    // The referent hears of each breach once, and of the answer, not of
    // the warning, the escalation or their own withdrawal.
    let told: HashSet<String> = ids(&to_referent(&everything)).into_iter().collect();
    let expected_told: HashSet<String> = [
        format!("referent:sla_breach:{late}"),
        format!("referent:sla_breach:{late2}"),
        format!("referent:contacted:{answered}"),
    ]
    .iter()
    .map(|k| message_id(k))
    .collect();
    assert_eq!(to_referent(&everything).len(), 3, "{told:?}");
    assert_eq!(told, expected_told);
    for mail in to_referent(&everything) {
        let (subject, text, _) = mail.decoded();
        assert!(text.contains("Crèche : Les Petits Pas"), "{text}");
        assert!(text.contains("/app/orientations/"), "{text}");
        for secret in ["612345678", "Benali", "Amina", "Yanis", "Lina", "Noa"] {
            assert!(!mail.raw.contains(secret), "{secret} in {subject}");
        }
    }
    let received = to_staff(&everything);
    let got = ids(&received);
    assert_eq!(
        got.len(),
        expected.len(),
        "each stage exactly once: {got:?}"
    );
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), expected);

    for mail in &received {
        let (subject, text, html) = mail.decoded();
        let escalation = subject.contains("Escalade");
        let mut to = mail.to.clone();
        to.sort();
        if escalation {
            assert_eq!(to, [COORDINATOR, DIRECTION], "{subject}");
        } else {
            assert_eq!(to, [COORDINATOR], "{subject}");
        }
        assert!(subject.starts_with("[AVIP] "), "{subject}");
        assert!(text.contains("Crèche : Les Petits Pas"), "{text}");
        assert!(text.contains("/api/v1/referrals/"), "{text}");
        // No family data: no phone number, no birth date, no names.
        for secret in [
            "06 12 34 56 78",
            "612345678",
            "Benali",
            "Amina",
            "Yanis",
            "Lina",
        ] {
            assert!(
                !mail.raw.contains(secret) && !text.contains(secret) && !html.contains(secret),
                "{secret} in {subject}"
            );
        }
        let birth = (super::referrals::today() - chrono::Duration::days(400)).to_string();
        assert!(!text.contains(&birth));
    }

    let r = get(&app, &t.coordinator, &format!("/api/v1/referrals/{late}")).await;
    let r_late = r.clone();
    assert_eq!(r["sla"]["stage"], "escalation");
    assert_eq!(r["sla"]["met"], false);
    assert_eq!(r["sla"]["policy_version"], 1);
    assert!(r["sla"]["seconds_left"].as_i64().unwrap() < 0);
    let r = get(
        &app,
        &t.coordinator,
        &format!("/api/v1/referrals/{answered}"),
    )
    .await;
    assert_eq!(r["sla"]["met"], true);
    assert_eq!(r["sla"]["stage"], Value::Null);
    let r = get(
        &app,
        &t.coordinator,
        &format!("/api/v1/referrals/{withdrawn}"),
    )
    .await;
    assert_eq!(r["sla"]["met"], Value::Null);
    assert_eq!(r["sla"]["stage"], Value::Null);

    let events = get(
        &app,
        &t.coordinator,
        &format!("/api/v1/referrals/{late}/events"),
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["sla_warning", "sla_breach", "sla_escalation"] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kinds:?}");
    }
    // The arrival and three stages to the crèche, one (the breach) to the
    // referent.
    assert_eq!(
        kinds.iter().filter(|k| **k == "email_sent").count(),
        5,
        "{kinds:?}"
    );
    // Each e-mail says to whom it went: the breach to the referent, the
    // stages to the crèche.
    let sent: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "email_sent")
        .collect();
    let to = |kind: &str| -> Vec<Value> {
        sent.iter()
            .filter(|e| e["data"]["kind"] == kind)
            .map(|e| e["data"]["to"].clone())
            .collect()
    };
    assert_eq!(
        to("referent_notice"),
        [serde_json::json!(["p.durand@example.org"])],
        "{sent:?}"
    );
    assert!(
        to("first_response_warning")
            .iter()
            .all(|list| list.as_array().is_some_and(|a| !a.is_empty())),
        "{sent:?}"
    );
    // Never early: each stage fired once its delay after receipt had passed
    // (the upper bound only catches a stuck scheduler).
    let time =
        |v: &Value| -> chrono::DateTime<chrono::Utc> { v.as_str().unwrap().parse().unwrap() };
    let received = time(&r_late["received_at"]);
    for event in events["items"].as_array().unwrap() {
        let delay = match event["kind"].as_str().unwrap() {
            "sla_warning" => 3,
            "sla_breach" => 5,
            "sla_escalation" => 7,
            _ => continue,
        };
        let fired = time(&event["occurred_at"]);
        assert!(
            fired - received >= chrono::Duration::seconds(delay),
            "{event}"
        );
        assert!(
            fired - received < chrono::Duration::seconds(delay + 30),
            "late: {event}"
        );
    }

    let overdue = get(&app, &t.coordinator, "/api/v1/sla/overdue").await;
    let listed: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["referral_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [late.as_str(), late2.as_str()], "most urgent first");
    assert_eq!(overdue["items"][0]["kind"], "first_response");
    assert_eq!(overdue["items"][0]["stage"], "escalation");
    let other = get(&app, &t.other_coordinator, "/api/v1/sla/overdue").await;
    assert_eq!(other["items"], json!([]));
    let page = get(&app, &t.admin, "/api/v1/sla/overdue?limit=1").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = get(
        &app,
        &t.admin,
        &format!("/api/v1/sla/overdue?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(next["items"][0]["referral_id"], late2.as_str());
    assert_eq!(next["next_cursor"], Value::Null);
    app.expect(&t.prescriber, "GET", "/api/v1/sla/overdue", None, 403)
        .await;
    app.expect(&t.admin, "GET", "/api/v1/sla/overdue?limit=0", None, 400)
        .await;
    app.expect(
        &t.admin,
        "GET",
        "/api/v1/sla/overdue?cursor=nope",
        None,
        400,
    )
    .await;

    let policy = get(&app, &t.prescriber, "/api/v1/sla/policy").await;
    assert_eq!(policy["version"], 1);
    assert_eq!(policy["breach_seconds"], 5);
    assert_eq!(policy["breach"], "5s");
    assert_eq!(policy["clock"], "calendar");
    assert_eq!(policy["schedule"], "* * * * * *");
}

#[tokio::test]
async fn a_refusing_smtp_server_delays_mail_but_never_loses_it() {
    let sink = SmtpSink::start();
    sink.refuse(true);
    let app = spawn_app_with_engine(fast(&sink, 1, 3600, 7200)).await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let referrals = [
        id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await),
        id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await),
        id(&new_referral(&app, &t.prescriber, &t.creche, "Noa").await),
    ];
    // Several sweeps and retries refused.
    let start = std::time::Instant::now();
    while sink.refused() < 9 && start.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        sink.refused() >= 9,
        "the dispatcher kept trying: {}",
        sink.refused()
    );
    assert!(sink.received().is_empty());
    let mut conn = app.db.connect();
    assert_eq!(avip_db::notifications::pending_count(&mut conn).unwrap(), 3);
    let rows = avip_db::notifications::for_referral(
        &mut conn,
        &avip_db::model::ReferralId::parse(&referrals[0]).unwrap(),
    )
    .unwrap();
    assert!(rows[0].attempts >= 2, "{rows:?}");
    assert!(rows[0].last_error.is_some());
    // The operator sees it in the metrics: three e-mails waiting, and at
    // least the refusals counted so far (the dispatcher goes on meanwhile).
    let tried = attempts_so_far(&mut conn, &referrals);
    let metrics = crate::metrics::scrape(&app).await;
    let gauge = |name: &str| crate::metrics::value(&metrics, &format!("{name}{{kind=\"email\"}}"));
    assert_eq!(gauge("avip_outbox_pending"), 3.0, "{metrics}");
    assert!(
        gauge("avip_outbox_failed_attempts") >= tried.0 as f64,
        "{metrics}"
    );
    assert!(gauge("avip_outbox_oldest_pending_age_seconds") >= 0.0);

    sink.refuse(false);
    let refs: Vec<&str> = referrals.iter().map(String::as_str).collect();
    let expected = stage_ids(&refs, &["warning"], 1);
    sink.wait_for(Duration::from_secs(30), |r| r.len() >= 3)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = ids(&sink.received());
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
    assert_eq!(avip_db::notifications::pending_count(&mut conn).unwrap(), 0);
    // Every attempt but each e-mail's last one failed.
    let (tried, sent) = attempts_so_far(&mut conn, &referrals);
    assert_eq!(sent, 3);
    let metrics = crate::metrics::scrape(&app).await;
    let gauge = |name: &str| crate::metrics::value(&metrics, &format!("{name}{{kind=\"email\"}}"));
    assert_eq!(gauge("avip_outbox_pending"), 0.0, "{metrics}");
    assert_eq!(
        gauge("avip_outbox_failed_attempts"),
        (tried - sent) as f64,
        "{metrics}"
    );
}

/// The attempts made for these referrals' e-mails, and how many were sent.
fn attempts_so_far(conn: &mut avip_db::DbConnection, referrals: &[String]) -> (i64, i64) {
    let mut rows = Vec::new();
    for r in referrals {
        let id = avip_db::model::ReferralId::parse(r).unwrap();
        rows.extend(avip_db::notifications::for_referral(conn, &id).unwrap());
    }
    let tried = rows.iter().map(|n| i64::from(n.attempts)).sum();
    let sent = rows
        .iter()
        .filter(|n| n.status == avip_db::model::NotificationStatus::Sent)
        .count();
    (tried, sent as i64)
}

#[tokio::test]
async fn two_engines_on_one_database_send_nothing_twice() {
    let sink = SmtpSink::start();
    let app = spawn_app_with_engine(fast(&sink, 2, 4, 6)).await;
    let second = app.another_instance(fast(&sink, 2, 4, 6), true).await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let names = [
        "Yanis", "Lina", "Noa", "Inès", "Adam", "Jade", "Liam", "Rose",
    ];
    let mut referrals = Vec::new();
    for name in names {
        referrals.push(id(&new_referral(&app, &t.prescriber, &t.creche, name).await));
    }
    let refs: Vec<&str> = referrals.iter().map(String::as_str).collect();
    let expected = stage_ids(&refs, &["warning", "breach", "escalation"], 1);
    sink.wait_for(Duration::from_secs(40), |r| {
        to_staff(r).len() >= expected.len()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = ids(&to_staff(&sink.received()));
    assert_eq!(got.len(), expected.len(), "nothing twice: {got:?}");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), expected);
    // The referent hears of each breach once, whichever engine saw it.
    let told = ids(&to_referent(&sink.received()));
    assert_eq!(told.len(), referrals.len(), "nothing twice: {told:?}");
    assert_eq!(
        told.into_iter().collect::<HashSet<_>>(),
        referrals
            .iter()
            .map(|r| message_id(&format!("referent:sla_breach:{r}")))
            .collect()
    );
    second.stop(true).await;
}

#[tokio::test]
async fn a_new_policy_moves_open_deadlines_and_keeps_verdicts() {
    let sink = SmtpSink::start();
    let app = spawn_app_with_engine(fast(&sink, 1, 2, 36000)).await;
    let t = territory(&app).await;
    let breached = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    let answered = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
    move_to(
        &app,
        &t.coordinator,
        &answered,
        json!({"to": "contacted"}),
        200,
    )
    .await;
    let path = format!("/api/v1/referrals/{breached}");
    let start = std::time::Instant::now();
    while get(&app, &t.coordinator, &path).await["sla"]["stage"] != "breach" {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the breach was recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = get(&app, &t.coordinator, &path).await;
    let answered_before = get(
        &app,
        &t.coordinator,
        &format!("/api/v1/referrals/{answered}"),
    )
    .await;

    // Version 2: hours instead of seconds.
    let hours = |w: u32, b: u32, e: u32| {
        move |env: &mut HashMap<String, String>| {
            env.insert("AVIP_SLA_WARNING".into(), format!("{w}h"));
            env.insert("AVIP_SLA_BREACH".into(), format!("{b}h"));
            env.insert("AVIP_SLA_ESCALATION".into(), format!("{e}h"));
        }
    };
    let app = app.restart(hours(10, 20, 30), false).await;
    let token = app
        .password_token(COORDINATOR, super::referrals::PASSWORD)
        .await;
    let policy = get(&app, &token, "/api/v1/sla/policy").await;
    assert_eq!(policy["version"], 2);
    let after = get(&app, &token, &path).await;
    assert_eq!(
        after["sla"]["due_at"], before["sla"]["due_at"],
        "a missed deadline stays missed"
    );
    assert_eq!(after["sla"]["stage"], "breach");
    assert_eq!(after["sla"]["met"], false);
    assert_eq!(after["sla"]["policy_version"], 2);
    let answered_after = get(&app, &token, &format!("/api/v1/referrals/{answered}")).await;
    assert_eq!(
        answered_after["sla"], answered_before["sla"],
        "an answered referral keeps its verdict"
    );

    let prescriber = app
        .password_token("p.durand@example.org", super::referrals::PASSWORD)
        .await;
    let open = new_referral(&app, &prescriber, &t.creche, "Noa").await;
    let received: chrono::DateTime<chrono::Utc> =
        open["received_at"].as_str().unwrap().parse().unwrap();
    let due = |v: &Value| -> chrono::DateTime<chrono::Utc> {
        v["sla"]["due_at"].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(due(&open) - received, chrono::Duration::hours(20));
    assert_eq!(open["sla"]["policy_version"], 2);

    // Version 3: the open deadline moves; the same settings again keep version 3.
    let app = app.restart(hours(30, 40, 50), false).await;
    let token = app
        .password_token(COORDINATOR, super::referrals::PASSWORD)
        .await;
    let moved = get(&app, &token, &format!("/api/v1/referrals/{}", id(&open))).await;
    assert_eq!(due(&moved) - received, chrono::Duration::hours(40));
    assert_eq!(moved["sla"]["policy_version"], 3);
    assert_eq!(
        get(&app, &token, &path).await["sla"]["due_at"],
        before["sla"]["due_at"]
    );
    let app = app.restart(hours(30, 40, 50), false).await;
    let token = app
        .password_token(COORDINATOR, super::referrals::PASSWORD)
        .await;
    assert_eq!(get(&app, &token, "/api/v1/sla/policy").await["version"], 3);
    assert!(
        sink.received()
            .iter()
            .all(|m| m.message_id() != message_id(&format!("first_response:{answered}:warning:1")))
    );
}

#[tokio::test]
async fn digest_mode_sends_one_mail_per_person_per_sweep_with_follow_ups_and_contract_ends() {
    let sink = SmtpSink::start();
    let settings = fast(&sink, 2, 3600, 7200);
    let app = spawn_app_with_engine(move |env| {
        settings(env);
        env.insert("AVIP_SLA_DIGEST".into(), "true".into());
        env.insert("AVIP_SLA_FOLLOW_UP".into(), "1s".into());
        env.insert("AVIP_SLA_CONTRACT_NOTICE".into(), "30d".into());
    })
    .await;
    let t = territory(&app).await;
    without_arrival_notices(&app, &t).await;
    let waiting = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    let enrolled = new_referral(&app, &t.prescriber, &t.creche, "Lina").await;
    let e = id(&enrolled);
    move_to(&app, &t.coordinator, &e, json!({"to": "offered"}), 200).await;
    let today = super::referrals::today();
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{e}/enrollment"),
        Some(json!({"start_date": today.to_string(),
            "contract_end_date": (today + chrono::Duration::days(20)).to_string(),
            "days": ["mon", "tue"]})),
        201,
    )
    .await;

    let texts = |received: &[Received]| -> String {
        received
            .iter()
            .map(|m| m.decoded().1)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let all = sink
        .wait_for(Duration::from_secs(30), |r| {
            let text = texts(&to_staff(r));
            text.contains("réponse attendue bientôt")
                && text.contains("suivi du parcours en retard")
                && text.contains("fin de contrat")
        })
        .await;
    let all = to_staff(&all);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The referent hears of the offer and the enrollment at once: the
    // coordinators' digest mode is theirs.
    let told: Vec<String> = to_referent(&sink.received())
        .iter()
        .map(|m| m.decoded().0)
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told.iter().any(|s| s.contains("une place est proposée")),
        "{told:?}"
    );
    assert!(
        told.iter().any(|s| s.contains("l’enfant est accueilli")),
        "{told:?}"
    );
    let all_after = to_staff(&sink.received());
    assert_eq!(all_after.len(), all.len(), "timers that fired stay quiet");
    let text = texts(&all_after);
    let waiting_ref = waiting["reference"].as_str().unwrap();
    let enrolled_ref = enrolled["reference"].as_str().unwrap();
    assert_eq!(
        text.matches(&format!("réponse attendue bientôt : {waiting_ref}"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("suivi du parcours en retard : {enrolled_ref}"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches(&format!("fin de contrat d'accueil proche : {enrolled_ref}"))
            .count(),
        1,
        "{text}"
    );
    for mail in &all_after {
        assert_eq!(mail.to, [COORDINATOR], "one digest per person");
        assert!(mail.decoded().0.contains("demande"), "{}", mail.decoded().0);
    }
    // The list of what needs attention shows the same three things.
    let overdue = get(&app, &t.coordinator, "/api/v1/sla/overdue").await;
    let mut kinds: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["contract_end", "first_response", "follow_up"]);
    // Each notice is on the enrolled referral's timeline.
    let events = get(
        &app,
        &t.coordinator,
        &format!("/api/v1/referrals/{e}/events"),
    )
    .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"follow_up_overdue") && kinds.contains(&"contract_ending"),
        "{kinds:?}"
    );
}

/// `SIGTERM` while an e-mail is being sent: the send finishes and is
/// recorded before the process ends, even though everything still running
/// on its runtime is dropped then (as when `avip serve` returns from
/// `main`). Cut short, the e-mail would stay claimed for the lease (five
/// minutes), then be sent again though the server had accepted it.
#[tokio::test]
async fn a_stop_lets_the_email_being_sent_finish_and_be_recorded() {
    use avip_api::startup::{Application, ServerOptions};
    use avip_db::schema::notifications;
    use diesel::prelude::*;

    let sink = SmtpSink::start();
    sink.slow(Duration::from_secs(2));
    // The API without an engine; the engine in a process of its own.
    let app = avip_tests::spawn_app_with(fast(&sink, 1, 3600, 7200)).await;
    let mut env = avip_tests::test_env(&app.db, app.mail_dir.path());
    fast(&sink, 1, 3600, 7200)(&mut env);
    env.remove("AVIP_MAIL_LEASE");
    let settings = avip_app::settings::Settings::from_map(&env).unwrap();
    let (tell, told) = tokio::sync::oneshot::channel();
    let process = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let engine = Application::build_with(
                settings,
                ServerOptions {
                    workers: Some(1),
                    handle_signals: false,
                    sla_engine: true,
                    record_reads: false,
                },
            )
            .await
            .expect("the engine's process starts");
            tell.send(engine.handle()).ok();
            engine.run_until_stopped().await.unwrap();
        });
        // `main` returns: the runtime goes, with whatever still runs on it.
        drop(runtime);
    });
    let engine = told.await.unwrap();

    let t = territory(&app).await;
    // Three warnings, claimed together: the first is being sent at the
    // stop, the two others are given back untried.
    for name in ["Yanis", "Lina", "Noa"] {
        new_referral(&app, &t.prescriber, &t.creche, name).await;
    }
    let arrived = sink
        .wait_for(Duration::from_secs(30), |r| !r.is_empty())
        .await;
    assert!(!arrived.is_empty(), "the warning reached the SMTP server");
    // The server has the message and has not answered yet: SIGTERM.
    engine.stop(true).await;
    tokio::task::spawn_blocking(move || process.join())
        .await
        .unwrap()
        .expect("the engine's process ends cleanly");

    let rows: Vec<(String, chrono::NaiveDateTime)> = notifications::table
        .select((notifications::status, notifications::next_attempt_at))
        .load(&mut app.db.connect())
        .unwrap();
    let sent = rows.iter().filter(|(status, _)| status == "sent").count();
    assert_eq!(sent, sink.received().len(), "{rows:?}");
    // Nothing is left claimed: what was not sent may go at once.
    let soon = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(60);
    assert!(
        rows.iter()
            .all(|(status, at)| status != "pending" || *at < soon),
        "{rows:?}"
    );
}
