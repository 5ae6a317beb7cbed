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

/// The lists sort by the first-response deadline and by the contract's
/// end, soonest first, those without one last; page by page the same.
#[tokio::test]
async fn the_lists_sort_by_deadline_and_by_contract_end_page_by_page() {
    use avip_db::model::ReferralId;
    use avip_db::schema::referrals;
    use diesel::prelude::*;
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut ids = Vec::new();
    for child in ["Yanis", "Lina", "Inès", "Noé", "Jade"] {
        ids.push(id(
            &send(&app, &t, &t.creche, ("Amina", "Benali"), child).await
        ));
    }
    // Deadlines in the other order than receipt.
    {
        let mut conn = app.db.connect();
        for (n, rid) in ids.iter().take(3).enumerate() {
            // As the service stores times: to the microsecond.
            let due = avip_db::model::to_db_time(
                chrono::Utc::now() + chrono::Duration::hours(30 - 10 * n as i64),
            );
            diesel::update(referrals::table.find(ReferralId::parse(rid).unwrap()))
                .set(referrals::sla_due_at.eq(due))
                .execute(&mut conn)
                .unwrap();
        }
    }
    // Two enrolled: the later received ends first.
    for (rid, days) in [(&ids[3], 200), (&ids[4], 100)] {
        let offer = json!({"to": "offered", "force": true, "force_reason": "test"});
        let path = format!("/api/v1/referrals/{rid}/transitions");
        app.expect(&t.coordinator, "POST", &path, Some(offer), 200)
            .await;
        let today = crate::referrals::today();
        let enrollment = json!({"start_date": today.to_string(), "days": ["mon", "tue"],
            "contract_end_date": (today + chrono::Duration::days(days)).to_string(),
            "force": true, "force_reason": "test"});
        let path = format!("/api/v1/referrals/{rid}/enrollment");
        app.expect(&t.coordinator, "POST", &path, Some(enrollment), 201)
            .await;
    }
    let all = app
        .expect(&t.coordinator, "GET", "/api/v1/referrals", None, 200)
        .await;
    let items = all["items"].as_array().unwrap().clone();
    for (sort, key) in [
        ("sla_due_at", ["sla", "due_at"]),
        ("contract_end_date", ["enrollment", "contract_end_date"]),
    ] {
        // What the answers themselves say, soonest first, none last.
        let mut expected = items.clone();
        expected.sort_by_key(|r| {
            let k = r[key[0]][key[1]].as_str().map(str::to_owned);
            (k.is_none(), k, id(r))
        });
        let expected: Vec<String> = expected.iter().map(id).collect();
        assert_eq!(
            found(&app, &t.coordinator, &format!("sort={sort}")).await,
            expected
        );
        let mut paged = Vec::new();
        let mut query = format!("sort={sort}&limit=1");
        for _ in 0..=items.len() {
            let path = format!("/api/v1/referrals?{query}");
            let page = app.expect(&t.coordinator, "GET", &path, None, 200).await;
            paged.extend(page["items"].as_array().unwrap().iter().map(id));
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("sort={sort}&limit=1&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(paged, expected, "{sort}, page by page");
    }
    let by_deadline = found(&app, &t.coordinator, "sort=sla_due_at").await;
    let place = |rid: &String| by_deadline.iter().position(|x| x == rid).unwrap();
    assert!(place(&ids[2]) < place(&ids[1]) && place(&ids[1]) < place(&ids[0]));
    let by_end = found(&app, &t.coordinator, "sort=contract_end_date").await;
    assert_eq!(by_end[..2], [ids[4].clone(), ids[3].clone()]);
}

/// A search does not tell accented letters from plain ones, in either
/// case, on both databases (SQLite's `lower` knows only ASCII).
#[tokio::test]
async fn a_search_finds_names_whatever_their_accents() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let accented = id(&send(&app, &t, &t.creche, ("Hélène", "ÉLOÏSE-Œuvray"), "Zoé").await);
    let plain = id(&send(&app, &t, &t.creche, ("Helene", "Martin"), "Noe").await);
    for (q, expected) in [
        ("helene", vec![accented.clone(), plain.clone()]),
        ("HÉLÈNE", vec![accented.clone(), plain.clone()]),
        ("eloise", vec![accented.clone()]),
        ("éloïse-oeuvray", vec![accented.clone()]),
        ("œuvray", vec![accented.clone()]),
        ("zoe", vec![accented.clone()]),
        ("noé", vec![plain.clone()]),
    ] {
        let query = format!(
            "q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        assert_eq!(found(&app, &t.coordinator, &query).await, expected, "{q}");
    }

    // The migration that added the search's text wrote, for the families
    // already there, what every intake writes since.
    use avip_db::schema::referral_families as f;
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    let read = |conn: &mut avip_db::DbConnection| -> Vec<String> {
        f::table
            .order(f::referral_id)
            .select(f::search_text)
            .load(conn)
            .unwrap()
    };
    let written = read(&mut conn);
    assert!(
        written.contains(&"helene eloise-oeuvray\nzoe".to_owned()),
        "{written:?}"
    );
    avip_db::migrations::revert_last(&mut conn).unwrap();
    avip_db::migrations::run_pending(&mut conn).unwrap();
    assert_eq!(read(&mut conn), written);
}
