//! How partners hear back: the referent's e-mails, the change feed
//! (`GET /api/v1/referrals/changes`) and the places published for
//! data·inclusion.

use std::collections::HashMap;

use avip_tests::smtp::{Received, SmtpSink};
use avip_tests::{TestApp, spawn_app, spawn_app_with_engine};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::referrals::{id, move_to, new_referral, referral, territory};

/// One call of the feed; asserts 200.
async fn feed(app: &TestApp, token: &str, cursor: Option<&str>, limit: u32) -> Value {
    let mut path = format!("/api/v1/referrals/changes?limit={limit}");
    if let Some(cursor) = cursor {
        path.push_str(&format!("&cursor={cursor}"));
    }
    app.expect(token, "GET", &path, None, 200).await
}

/// The feed once it shows `expected`: a change comes once every
/// transaction of this database older than it has ended (the engine's, the
/// access log's), which a loaded machine may delay. Fails after 30 s with
/// what it showed.
async fn feed_showing(
    app: &TestApp,
    token: &str,
    cursor: Option<&str>,
    limit: u32,
    expected: &[&str],
) -> Value {
    let started = std::time::Instant::now();
    loop {
        let page = feed(app, token, cursor, limit).await;
        if ids(&page) == expected || started.elapsed() > std::time::Duration::from_secs(30) {
            assert_eq!(
                ids(&page),
                expected,
                "the feed after {:?}",
                started.elapsed()
            );
            return page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(id).collect()
}

fn cursor(page: &Value) -> String {
    page["next_cursor"].as_str().unwrap().to_owned()
}

async fn note(app: &TestApp, token: &str, referral: &str, text: &str) -> Value {
    let path = format!("/api/v1/referrals/{referral}/notes");
    app.expect(token, "POST", &path, Some(json!({"note": text})), 201)
        .await
}

#[tokio::test]
async fn the_change_feed_moves_each_changed_referral_to_the_end_within_the_callers_scope() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let a = id(&new_referral(&app, &t.prescriber, &t.creche, "Anis").await);
    let b = id(&new_referral(&app, &t.prescriber, &t.creche, "Binta").await);
    let c = id(&new_referral(&app, &t.prescriber, &t.creche, "Chloé").await);
    let d = id(&new_referral(&app, &t.other_prescriber, &t.other_creche, "Dylan").await);

    // The first call starts from the beginning.
    let first = feed_showing(
        &app,
        &t.prescriber,
        None,
        50,
        &[a.as_str(), b.as_str(), c.as_str()],
    )
    .await;
    assert_eq!(first["has_more"], false);
    assert_eq!(first["items"][0]["status"], "received");
    let stored = cursor(&first);
    // Nothing changed: nothing, and the same cursor to store.
    let idle = feed(&app, &t.prescriber, Some(&stored), 50).await;
    assert_eq!(ids(&idle), Vec::<String>::new());
    assert_eq!(cursor(&idle), stored);

    // A decision and a note move their referrals to the end, as they are now.
    move_to(&app, &t.coordinator, &a, json!({"to": "contacted"}), 200).await;
    note(&app, &t.coordinator, &b, "rappel prévu lundi").await;
    let next = feed_showing(
        &app,
        &t.prescriber,
        Some(&stored),
        50,
        &[a.as_str(), b.as_str()],
    )
    .await;
    assert_eq!(next["items"][0]["status"], "contacted");
    // A second change before the next poll: the referral comes once more.
    move_to(&app, &t.coordinator, &a, json!({"to": "offered"}), 200).await;
    note(&app, &t.coordinator, &a, "la famille rappelle demain").await;
    let later = feed_showing(&app, &t.prescriber, Some(&cursor(&next)), 50, &[a.as_str()]).await;
    assert_eq!(later["items"][0]["status"], "offered");

    // From the beginning, a page at a time: each referral at its last change.
    let mut seen = Vec::new();
    let mut at: Option<String> = None;
    loop {
        let page = feed(&app, &t.prescriber, at.as_deref(), 1).await;
        seen.extend(ids(&page));
        at = Some(cursor(&page));
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, [c.as_str(), b.as_str(), a.as_str()]);

    // Scope: a coordinator its crèches', an admin all.
    feed_showing(
        &app,
        &t.coordinator,
        None,
        50,
        &[c.as_str(), b.as_str(), a.as_str()],
    )
    .await;
    feed_showing(&app, &t.other_coordinator, None, 50, &[d.as_str()]).await;
    feed_showing(&app, &t.other_prescriber, None, 50, &[d.as_str()]).await;
    feed_showing(
        &app,
        &t.admin,
        None,
        50,
        &[c.as_str(), d.as_str(), b.as_str(), a.as_str()],
    )
    .await;
    let refused = app
        .call(&t.caf, "GET", "/api/v1/referrals/changes", None)
        .await;
    assert_eq!(refused.status(), 403);

    // A cursor the feed did not give, or a limit out of range: 400 naming it.
    for (query, field) in [
        ("cursor=abc", "cursor"),
        ("cursor=1.2.3", "cursor"),
        ("cursor=-1.5", "cursor"),
        ("cursor=99999999999999999999.1", "cursor"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
    ] {
        let path = format!("/api/v1/referrals/changes?{query}");
        let problem = app.expect(&t.prescriber, "GET", &path, None, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }

    // Each page is a read of personal data: it is in the access log.
    let log = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?referral_id={a}"),
            None,
            200,
        )
        .await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["operation"] == "referral_changes"),
        "{log}"
    );
}

fn updated_at(item: &Value) -> DateTime<Utc> {
    item["updated_at"].as_str().unwrap().parse().unwrap()
}

/// Eight writers change referrals (six add notes, two post referrals and
/// answer them) while a partner polls the feed. Every referral's last state
/// reaches the partner, and no referral ever comes back in an older state.
#[tokio::test]
async fn the_change_feed_polled_while_eight_writers_change_referrals_misses_nothing() {
    const ROUNDS: usize = 12;
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut owned: Vec<Vec<String>> = Vec::new();
    for writer in 0..6 {
        let mut mine = Vec::new();
        for k in 0..3 {
            let child = format!("Enfant{writer}x{k}");
            mine.push(id(
                &new_referral(&app, &t.prescriber, &t.creche, &child).await
            ));
        }
        owned.push(mine);
    }
    let done = std::sync::atomic::AtomicUsize::new(0);
    let annotate = |mine: Vec<String>| {
        let (app, t, done) = (&app, &t, &done);
        async move {
            for round in 0..ROUNDS {
                let target = &mine[round % mine.len()];
                note(app, &t.coordinator, target, &format!("note {round}")).await;
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let post_and_answer = |writer: usize| {
        let (app, t, done) = (&app, &t, &done);
        async move {
            for round in 0..ROUNDS / 2 {
                let body = referral(&t.creche, &format!("Nouveau{writer}x{round}"));
                let created = app
                    .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
                    .await;
                move_to(
                    app,
                    &t.coordinator,
                    &id(&created),
                    json!({"to": "contacted"}),
                    200,
                )
                .await;
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    };
    // The partner: polls while the writers write, then until it has seen
    // every referral as it ended (a change shows once the transactions
    // that started before it have ended, so the end of the feed now is not
    // yet everything committed), or 15 s.
    let poll = async {
        let mut stream: Vec<(String, DateTime<Utc>)> = Vec::new();
        let mut at: Option<String> = None;
        let mut deadline = None;
        loop {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst) == 8;
            let page = feed(&app, &t.admin, at.as_deref(), 7).await;
            for item in page["items"].as_array().unwrap() {
                stream.push((id(item), updated_at(item)));
            }
            at = Some(cursor(&page));
            if !finished || page["has_more"] == true {
                continue;
            }
            let deadline = *deadline.get_or_insert_with(|| {
                std::time::Instant::now() + std::time::Duration::from_secs(15)
            });
            let seen: HashMap<&String, &DateTime<Utc>> =
                stream.iter().map(|(r, at)| (r, at)).collect();
            let now = app
                .expect(&t.admin, "GET", "/api/v1/referrals?limit=200", None, 200)
                .await;
            let caught_up = now["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|item| seen.get(&id(item)) == Some(&&updated_at(item)));
            if caught_up || std::time::Instant::now() > deadline {
                return stream;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let writers = futures_util::future::join_all(
        owned
            .clone()
            .into_iter()
            .map(|mine| Box::pin(annotate(mine)) as std::pin::Pin<Box<dyn Future<Output = ()>>>)
            .chain((0..2).map(|w| {
                Box::pin(post_and_answer(w)) as std::pin::Pin<Box<dyn Future<Output = ()>>>
            })),
    );
    let ((), stream) = futures_util::future::join(
        async {
            writers.await;
        },
        poll,
    )
    .await;

    // Never older after newer, never the same state twice.
    let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
    for (referral, at) in &stream {
        if let Some(before) = last.insert(referral.clone(), *at) {
            assert!(*at > before, "{referral} came back at {at} after {before}");
        }
    }
    // Every referral, as it is at the end.
    let all = app
        .expect(&t.admin, "GET", "/api/v1/referrals?limit=200", None, 200)
        .await;
    let all = all["items"].as_array().unwrap();
    assert_eq!(all.len(), 6 * 3 + 2 * (ROUNDS / 2));
    for item in all {
        assert_eq!(
            last.get(&id(item)),
            Some(&updated_at(item)),
            "the feed's last state of {} is not the referral's: {item}",
            id(item)
        );
    }
    // The writers' changes did come while the partner polled, not only at
    // the end: the feed gave referrals more than once.
    assert!(stream.len() > all.len(), "{} items", stream.len());
}

/// The AVIP places published to data·inclusion: every crèche, public, with
/// the places free today, and nothing about a family. (The schema's own
/// package validates this output in scripts/contract.)
#[tokio::test]
async fn avip_places_are_published_for_data_inclusion_without_personal_data() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let offered = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
    move_to(
        &app,
        &t.coordinator,
        &offered,
        json!({"to": "offered"}),
        200,
    )
    .await;

    // No token: a directory reads it as anyone would.
    let response = app.get("/api/v1/data-inclusion/services").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let text = response.text().await.unwrap();
    let services: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(services.len(), 2, "{text}");
    let of = |creche: &str| {
        services
            .iter()
            .find(|s| s["structure_id"] == format!("avip--{creche}"))
            .unwrap_or_else(|| panic!("{creche} is not published: {text}"))
    };
    let petits_pas = of(&t.creche);
    assert_eq!(petits_pas["source"], "avip");
    assert_eq!(petits_pas["id"], format!("avip--{}--places-avip", t.creche));
    assert_eq!(petits_pas["nom"], "Places AVIP – Les Petits Pas");
    assert_eq!(
        petits_pas["thematiques"],
        json!(["famille--garde-denfants"])
    );
    assert_eq!(petits_pas["zone_eligibilite"], json!(["83"]));
    assert_eq!(petits_pas["code_postal"], "83000");
    assert_eq!(petits_pas["mobilisable_par"], json!(["professionnels"]));
    assert!(
        petits_pas["lien_mobilisation"]
            .as_str()
            .unwrap()
            .ends_with("/app/")
    );
    // The UTC day, never ahead of a reader's (data·inclusion refuses a
    // `date_maj` in the future).
    assert_eq!(
        petits_pas["date_maj"],
        chrono::Utc::now().date_naive().to_string()
    );
    // The offer holds one of the six places; the other crèche has all six.
    let description = petits_pas["description"].as_str().unwrap();
    assert!(
        description.contains("libres aujourd’hui : 5 sur 6."),
        "{description}"
    );
    let lucioles = of(&t.other_creche)["description"].as_str().unwrap();
    assert!(
        lucioles.contains("libres aujourd’hui : 6 sur 6."),
        "{lucioles}"
    );
    // OpenStreetMap's syntax, read back by a parser of it.
    let hours = petits_pas["horaires_accueil"].as_str().unwrap();
    assert_eq!(hours, "Mo-Fr 07:00-19:00; PH off");
    opening_hours_syntax::parse(hours).unwrap_or_else(|e| panic!("{hours}: {e}"));
    // Nothing of the family or of the people who work on it.
    for private in [
        "Benali",
        "Amina",
        "Yanis",
        "612345678",
        "p.durand",
        "c.martin",
    ] {
        assert!(!text.contains(private), "{private} is published: {text}");
    }
}

/// PostgreSQL numbers changes when they are made, not when they commit. A
/// transaction that changed referral A and has not committed yet must hold
/// back the changes numbered after it (B's, committed), or a partner that
/// read B and stored its cursor would never see A. On SQLite there is one
/// writer at a time, so no change can commit behind another.
#[tokio::test]
async fn a_change_committed_late_is_not_skipped_by_a_cursor_stored_meanwhile() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    if app.db.backend != avip_db::Backend::Postgres {
        eprintln!("PostgreSQL only: set AVIP_TEST_DATABASE_URL=postgres://… (scripts/test does)");
        return;
    }
    let t = territory(&app).await;
    let a = id(&new_referral(&app, &t.prescriber, &t.creche, "Anis").await);
    let b = id(&new_referral(&app, &t.prescriber, &t.creche, "Binta").await);
    let start = cursor(&feed(&app, &t.prescriber, None, 50).await);

    // Another writer changes A and keeps its transaction open.
    let (changed, wait_changed) = std::sync::mpsc::channel();
    let (commit, wait_commit) = std::sync::mpsc::channel::<()>();
    let mut conn = app.db.connect();
    let sql = format!("BEGIN; UPDATE referrals SET updated_at = updated_at WHERE id = '{a}'");
    let slow = std::thread::spawn(move || {
        conn.batch_execute(&sql).unwrap();
        changed.send(()).unwrap();
        wait_commit.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    wait_changed.recv().unwrap();
    // B changes after A and commits first.
    note(&app, &t.coordinator, &b, "rappel").await;
    let meanwhile = feed(&app, &t.prescriber, Some(&start), 50).await;
    assert_eq!(
        ids(&meanwhile),
        Vec::<String>::new(),
        "B is numbered after A's open change: showing it would move the cursor past A"
    );
    commit.send(()).unwrap();
    slow.join().unwrap();
    // Both come, A first, once every transaction older than them has ended
    // (other tests' transactions on the same server count too).
    let mut after = Value::Null;
    for _ in 0..300 {
        after = feed(&app, &t.prescriber, Some(&cursor(&meanwhile)), 50).await;
        if ids(&after).len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ids(&after), [a.as_str(), b.as_str()]);
}

/// The referent named on a referral (not a person of the service) hears of
/// each decision of the crèche, the enrollment and the exit, once each,
/// through a real SMTP server; not of their own withdrawal.
#[tokio::test]
async fn the_referent_hears_of_each_decision_once_by_email() {
    let sink = SmtpSink::start();
    let smtp = sink.url();
    let app = spawn_app_with_engine(move |env| {
        env.insert("AVIP_SMTP_URL".into(), smtp);
        env.insert("AVIP_SLA_SCHEDULE".into(), "* * * * * *".into());
    })
    .await;
    let t = territory(&app).await;
    crate::referrals::without_arrival_notices(&app, &t).await;
    let mut body = referral(&t.creche, "Yanis");
    body["referent"]["email"] = json!("referente.sans.compte@ft.example.org");
    let followed = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;
    let (f, reference) = (
        id(&followed),
        followed["reference"].as_str().unwrap().to_owned(),
    );
    let declined = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
    let withdrawn = id(&new_referral(&app, &t.prescriber, &t.creche, "Noa").await);

    move_to(&app, &t.coordinator, &f, json!({"to": "contacted"}), 200).await;
    move_to(&app, &t.coordinator, &f, json!({"to": "offered"}), 200).await;
    // A decision sent twice is refused the second time, and told once.
    move_to(&app, &t.coordinator, &f, json!({"to": "offered"}), 409).await;
    let today = crate::referrals::today();
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{f}/enrollment"),
        Some(json!({"start_date": today.to_string(),
            "contract_end_date": (today + chrono::Duration::days(90)).to_string(),
            "days": ["mon", "tue", "thu"]})),
        201,
    )
    .await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{f}/exit"),
        Some(json!({"date": today.to_string(), "reason": "employment",
            "employment_status": "employed_permanent", "positive": true,
            "childcare_solution": "same_creche"})),
        200,
    )
    .await;
    move_to(
        &app,
        &t.coordinator,
        &declined,
        json!({"to": "declined", "reason": "no_place_available"}),
        200,
    )
    .await;
    move_to(
        &app,
        &t.prescriber,
        &withdrawn,
        json!({"to": "withdrawn", "reason": "other_childcare_found"}),
        200,
    )
    .await;

    let received = sink
        .wait_for(std::time::Duration::from_secs(20), |r| r.len() >= 5)
        .await;
    // Nothing more comes: no second mail for anything, none for the withdrawal.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(sink.received().len(), received.len());
    let to_followed: Vec<(String, String)> = received
        .iter()
        .filter(|m| m.to == ["referente.sans.compte@ft.example.org"])
        .map(|m| {
            let (subject, text, _) = m.decoded();
            (subject, text)
        })
        .collect();
    let subjects: Vec<&str> = to_followed.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("[AVIP] Orientation {reference} : la crèche a contacté la famille"),
            format!("[AVIP] Orientation {reference} : une place est proposée"),
            format!("[AVIP] Orientation {reference} : l’enfant est accueilli"),
            format!("[AVIP] Orientation {reference} : sortie du dispositif AVIP"),
        ],
        "in the order it happened"
    );
    let text = |i: usize| to_followed[i].1.as_str();
    assert!(text(0).contains("Crèche : Les Petits Pas"), "{}", text(0));
    assert!(
        text(0).contains("Statut : Famille contactée"),
        "{}",
        text(0)
    );
    assert!(
        text(0).contains(&format!("/app/orientations/{f}")),
        "{}",
        text(0)
    );
    assert!(
        text(2).contains(&format!(
            "Début de l’accueil : {}",
            today.format("%d/%m/%Y")
        )),
        "{}",
        text(2)
    );
    assert!(text(3).contains("Sortie positive : oui"), "{}", text(3));
    assert!(text(3).contains("Motif : Accès à l’emploi"), "{}", text(3));
    let refusal: Vec<(String, String)> = received
        .iter()
        .filter(|m| m.to == ["p.durand@example.org"])
        .map(|m| {
            let (subject, text, _) = m.decoded();
            (subject, text)
        })
        .collect();
    assert_eq!(
        refusal.len(),
        1,
        "the decline only, not the withdrawal: {refusal:?}"
    );
    assert!(
        refusal[0].0.contains("orientation refusée"),
        "{}",
        refusal[0].0
    );
    assert!(
        refusal[0].1.contains("Motif : Pas de place disponible"),
        "{}",
        refusal[0].1
    );
    for mail in &received {
        for private in ["Benali", "Amina", "Yanis", "Lina", "612345678"] {
            assert!(!mail.raw.contains(private), "{private} in {}", mail.raw);
        }
        let birth = (today - chrono::Duration::days(400)).to_string();
        assert!(!mail.raw.contains(&birth));
    }
}

/// Each person's choice holds: the organisation's default for a referent
/// without an account (`daily_digest`: one e-mail gathering its notices),
/// a person's own `off`, and a coordinator's daily digest of the SLA
/// engine's e-mails; what nobody chose goes out at once.
#[tokio::test]
async fn notices_reach_each_person_as_they_chose_at_once_in_a_daily_digest_or_not_at_all() {
    let sink = SmtpSink::start();
    let smtp = sink.url();
    let app = spawn_app_with_engine(move |env| {
        env.insert("AVIP_SMTP_URL".into(), smtp);
        env.insert("AVIP_SLA_SCHEDULE".into(), "* * * * * *".into());
        env.insert("AVIP_SLA_WARNING".into(), "2s".into());
        env.insert("AVIP_DIGEST_SCHEDULE".into(), "*/4 * * * * *".into());
    })
    .await;
    let t = territory(&app).await;
    let me = app
        .expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await;
    let ft = me["organization"]["id"].as_str().unwrap().to_owned();
    // The organisation's default: decisions in a daily digest.
    app.expect(
        &t.admin,
        "PATCH",
        &format!("/api/v1/organizations/{ft}"),
        Some(json!({"notification_defaults": {"referral_decision": "daily_digest"}})),
        200,
    )
    .await;
    // The prescriber (who has an account) wants no decision at all.
    let mine = app
        .expect(
            &t.prescriber,
            "PUT",
            "/api/v1/me/notification-preferences",
            Some(json!({"referral_decision": "off"})),
            200,
        )
        .await;
    let item = |prefs: &Value, notice: &str| -> (String, String) {
        let i = prefs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["notice"] == notice)
            .unwrap();
        (
            i["mode"].as_str().unwrap().to_owned(),
            i["chosen_by"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        item(&mine, "referral_decision"),
        ("off".into(), "you".into())
    );
    assert_eq!(
        item(&mine, "referral_enrollment"),
        ("immediate".into(), "service".into())
    );
    let read = app
        .expect(
            &t.prescriber,
            "GET",
            "/api/v1/me/notification-preferences",
            None,
            200,
        )
        .await;
    assert_eq!(read["organization"]["referral_decision"], "daily_digest");
    // The coordinator: the SLA engine's e-mails once a day, no arrival
    // notice at all.
    app.expect(
        &t.coordinator,
        "PUT",
        "/api/v1/me/notification-preferences",
        Some(json!({"sla_alert": "daily_digest", "referral_received": "off"})),
        200,
    )
    .await;
    // An unknown mode or kind is named.
    let bad = app
        .expect(
            &t.coordinator,
            "PUT",
            "/api/v1/me/notification-preferences",
            Some(json!({"sla_alert": "weekly"})),
            422,
        )
        .await;
    assert!(bad.to_string().contains("sla_alert"), "{bad}");

    // A referent without an account, and one who is the prescriber.
    let mut body = referral(&t.creche, "Yanis");
    body["referent"]["email"] = json!("sans.compte@ft.example.org");
    let r1 = id(&app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await);
    let r2 = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
    move_to(&app, &t.coordinator, &r1, json!({"to": "contacted"}), 200).await;
    move_to(&app, &t.coordinator, &r1, json!({"to": "offered"}), 200).await;
    move_to(&app, &t.coordinator, &r2, json!({"to": "contacted"}), 200).await;
    move_to(&app, &t.coordinator, &r2, json!({"to": "offered"}), 200).await;
    let today = crate::referrals::today();
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{r2}/enrollment"),
        Some(json!({"start_date": today.to_string(),
            "contract_end_date": (today + chrono::Duration::days(60)).to_string(),
            "days": ["mon"]})),
        201,
    )
    .await;
    // A third referral stays unanswered: its warning goes to the
    // coordinator's digest.
    new_referral(&app, &t.prescriber, &t.creche, "Noa").await;

    let mails = |r: &[Received], to: &str| -> Vec<(String, String)> {
        r.iter()
            .filter(|m| m.to == [to])
            .map(|m| {
                let (subject, text, _) = m.decoded();
                (subject, text)
            })
            .collect()
    };
    let received = sink
        .wait_for(std::time::Duration::from_secs(30), |r| {
            let digest_of = |to: &str| -> String {
                mails(r, to)
                    .iter()
                    .filter(|(s, _)| s.contains("récapitulatif"))
                    .map(|(_, t)| t.clone())
                    .collect()
            };
            digest_of("sans.compte@ft.example.org").contains("une place est proposée")
                && digest_of("c.martin@example.org").contains("réponse attendue bientôt")
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let received = {
        let after = sink.received();
        assert!(after.len() >= received.len());
        after
    };
    // The referent without an account: no e-mail per decision, its
    // organisation's digest with both, each once.
    let theirs = mails(&received, "sans.compte@ft.example.org");
    assert!(
        theirs.iter().all(|(s, _)| s.contains("récapitulatif")),
        "{theirs:?}"
    );
    let text: String = theirs.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        text.matches("la crèche a contacté la famille").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("une place est proposée").count(), 1, "{text}");
    assert!(text.contains(&format!("/app/orientations/{r1}")), "{text}");
    // The prescriber turned decisions off: only the enrollment, at once.
    let prescriber: Vec<String> = mails(&received, "p.durand@example.org")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(prescriber.len(), 1, "{prescriber:?}");
    assert!(
        prescriber[0].contains("l’enfant est accueilli"),
        "{prescriber:?}"
    );
    // The coordinator: the warning in a digest, no e-mail of its own.
    let coordinator = mails(&received, "c.martin@example.org");
    assert!(
        coordinator.iter().all(|(s, _)| s.contains("récapitulatif")),
        "{coordinator:?}"
    );
    // Nothing held is sent twice; nobody with nothing gets a digest.
    let digests = received
        .iter()
        .filter(|m| m.decoded().0.contains("récapitulatif"))
        .count();
    let recipients: std::collections::HashSet<Vec<String>> = received
        .iter()
        .filter(|m| m.decoded().0.contains("récapitulatif"))
        .map(|m| m.to.clone())
        .collect();
    assert!(digests >= 2 && recipients.len() == 2, "{recipients:?}");
}

/// A transaction of another database on the same server (another
/// application, a `pg_dump` of another database) can never write here: it
/// does not hold the feed back. (Its id is older than the change, so
/// `pg_snapshot_xmin` alone held the change until it ended.)
#[tokio::test]
async fn a_transaction_of_another_database_does_not_hold_the_feed_back() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let Some(server) = std::env::var("AVIP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    else {
        eprintln!("PostgreSQL only: set AVIP_TEST_DATABASE_URL=postgres://… (scripts/test does)");
        return;
    };
    let t = territory(&app).await;
    let start = cursor(&feed(&app, &t.prescriber, None, 50).await);
    // The server's own database: a transaction that took an id, left open.
    let mut elsewhere = avip_db::connect(&server).unwrap();
    elsewhere
        .batch_execute("BEGIN; SELECT pg_current_xact_id();")
        .unwrap();
    let a = id(&new_referral(&app, &t.prescriber, &t.creche, "Anis").await);
    // (The wait only rides out this database's own short transactions;
    // the other one stays open throughout.)
    feed_showing(&app, &t.prescriber, Some(&start), 50, &[a.as_str()]).await;
    elsewhere.batch_execute("COMMIT").unwrap();
}
