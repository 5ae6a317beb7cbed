//! A family arrives: each coordinator of the crèche is told at once, as
//! she chose (issue 33, point 1). The notice is not a first response.

use avip_db::schema::{digest_items, notifications};
use avip_tests::spawn_app;
use diesel::prelude::*;
use serde_json::json;

use crate::referrals::{id, person, referral, territory};

#[tokio::test]
async fn a_new_referral_tells_each_coordinator_once_or_holds_it_for_her_digest() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let operator = me["organization"]["id"].as_str().unwrap().to_owned();
    // A second coordinator of the same crèche reads her notices once a day.
    let second = person(
        &app,
        &t.admin,
        "s.garcia@example.org",
        "coordinator",
        &operator,
        &[&t.creche],
    )
    .await;
    app.expect(
        &second,
        "PUT",
        "/api/v1/me/notification-preferences",
        Some(json!({"referral_received": "daily_digest"})),
        200,
    )
    .await;

    // Posted twice with one idempotency key: one referral, one notice each.
    let body = referral(&t.creche, "Yanis");
    let mut created = None;
    for status in [201, 200] {
        let response = app
            .client
            .post(app.url("/api/v1/referrals"))
            .bearer_auth(&t.prescriber)
            .header("Idempotency-Key", "arrival-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        created = Some(response.json::<serde_json::Value>().await.unwrap());
    }
    let created = created.unwrap();
    let r = id(&created);
    assert_eq!(created["status"], "received");
    assert!(
        created["first_response_at"].is_null(),
        "not a first response"
    );

    let mut conn = app.db.connect();
    let sent: Vec<(String, String, String, String)> = notifications::table
        .filter(notifications::kind.eq("arrival_notice"))
        .select((
            notifications::recipients,
            notifications::subject,
            notifications::body_text,
            notifications::dedup_key,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (to, subject, text, key) = &sent[0];
    assert_eq!(to, r#"["c.martin@example.org"]"#);
    assert_eq!(
        key,
        &format!("coordinator:referral_received:{r}:c.martin@example.org")
    );
    let reference = created["reference"].as_str().unwrap();
    assert!(subject.contains(reference) && subject.contains("nouvelle famille orientée"));
    for expected in [
        "Les Petits Pas",
        "France Travail Toulon Est",
        "Réponse à la famille avant le",
        &format!("/app/orientations/{r}"),
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        text.contains("vous coordonnez") && !text.contains("référent de cette"),
        "{text}"
    );
    let family = created["parent"]["last_name"].as_str().unwrap();
    assert!(!text.contains(family), "no family name by e-mail: {text}");

    let held: Vec<(String, String)> = digest_items::table
        .filter(digest_items::notice.eq("referral_received"))
        .select((digest_items::recipient, digest_items::title))
        .load(&mut conn)
        .unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].0, "s.garcia@example.org");
    assert!(held[0].1.contains(reference));

    // Her preference reads back; the other crèche's coordinator hears
    // nothing of it.
    let prefs = app
        .expect(
            &second,
            "GET",
            "/api/v1/me/notification-preferences",
            None,
            200,
        )
        .await;
    assert_eq!(prefs["yours"]["referral_received"], "daily_digest");
    let elsewhere: i64 = notifications::table
        .filter(notifications::recipients.like("%b.roux%"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(elsewhere, 0);
}
