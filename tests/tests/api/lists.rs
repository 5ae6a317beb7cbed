//! Lists that find things (issue 33, point 2): a search by the family's
//! name, a child's first name or the reference, within what the person may
//! see, newest first when asked, the searches in the access log.

use avip_tests::{TestApp, spawn_app};
use serde_json::{Value, json};

use crate::referrals::{Territory, create, id, referral, territory};

async fn send(
    app: &TestApp,
    t: &Territory,
    creche: &str,
    parent: (&str, &str),
    child: &str,
) -> Value {
    let mut body = referral(creche, child);
    body["parent"]["first_name"] = json!(parent.0);
    body["parent"]["last_name"] = json!(parent.1);
    create(app, &t.prescriber, "/api/v1/referrals", body).await
}

/// The ids a list answers, in its order.
async fn found(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let list = app
        .expect(
            token,
            "GET",
            &format!("/api/v1/referrals?{query}"),
            None,
            200,
        )
        .await;
    list["items"].as_array().unwrap().iter().map(id).collect()
}

#[tokio::test]
async fn a_search_finds_a_family_by_name_child_or_reference_within_what_one_may_see() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let a = send(&app, &t, &t.creche, ("Amina", "Benali"), "Yanis").await;
    let b = send(&app, &t, &t.creche, ("Sophie", "Dupont"), "Lina").await;
    let elsewhere = send(&app, &t, &t.other_creche, ("Nadia", "Benali"), "Inès").await;
    let (a, b, c) = (id(&a), id(&b), id(&elsewhere));
    let reference = elsewhere["reference"].as_str().unwrap().to_owned();

    // By name, whatever the case; the other crèche's family is not hers.
    assert_eq!(
        found(&app, &t.coordinator, "q=benali").await,
        vec![a.clone()]
    );
    assert_eq!(
        found(&app, &t.coordinator, "q=BENALI").await,
        vec![a.clone()]
    );
    assert_eq!(
        found(&app, &t.other_coordinator, "q=Benali").await,
        vec![c.clone()]
    );
    // The prescriber who sent all three finds both Benali families.
    assert_eq!(
        found(&app, &t.prescriber, "q=benal").await,
        [a.clone(), c.clone()]
    );
    // By a child's first name, by the parent's first name, by reference.
    assert_eq!(found(&app, &t.coordinator, "q=lin").await, vec![b.clone()]);
    assert_eq!(
        found(&app, &t.coordinator, "q=sophie").await,
        vec![b.clone()]
    );
    let by_reference = format!("q={}", &reference[reference.len() - 5..]);
    assert_eq!(
        found(&app, &t.prescriber, &by_reference).await,
        vec![c.clone()]
    );
    // Wildcards are taken literally.
    assert!(found(&app, &t.prescriber, "q=%25%25").await.is_empty());
    assert!(found(&app, &t.prescriber, "q=__").await.is_empty());
    // Too short, only spaces, too long: refused, naming `q`.
    for q in ["b", "%20%20", &"x".repeat(101)] {
        let problem = app
            .expect(
                &t.prescriber,
                "GET",
                &format!("/api/v1/referrals?q={q}"),
                None,
                400,
            )
            .await;
        assert!(problem.to_string().contains("\"q\""), "{problem}");
    }

    // Newest first, page by page.
    let newest = found(&app, &t.prescriber, "sort=-received_at").await;
    assert_eq!(newest, [c.clone(), b.clone(), a.clone()]);
    let mut paged = Vec::new();
    let mut query = "sort=-received_at&limit=1".to_owned();
    loop {
        let page = app
            .expect(
                &t.prescriber,
                "GET",
                &format!("/api/v1/referrals?{query}"),
                None,
                200,
            )
            .await;
        paged.extend(page["items"].as_array().unwrap().iter().map(id));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("sort=-received_at&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, newest);
    let problem = app
        .expect(
            &t.prescriber,
            "GET",
            "/api/v1/referrals?sort=deadline",
            None,
            400,
        )
        .await;
    assert!(problem.to_string().contains("\"sort\""), "{problem}");

    // The search that returned a family is in the access log.
    let log = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/access-log?referral_id={a}"),
            None,
            200,
        )
        .await;
    let operations: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert!(operations.contains(&"search_referrals"), "{operations:?}");
}
