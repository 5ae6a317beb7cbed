//! A flood from one account or one address slows that account or address,
//! and nobody else: the token endpoint's throttle and rate limits, the
//! intake rate limit, and tokens that stop working when a password changes.

use std::net::IpAddr;

use avip_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};

use crate::referrals::{PASSWORD, referral, territory};

/// An HTTP client whose connections come from `address` (any of 127/8 on
/// the loopback): another machine, as the service sees it.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn grant(app: &TestApp, client: &reqwest::Client, email: &str, password: &str) -> u16 {
    client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn problem(response: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_stranger_elsewhere_cannot_lock_a_known_person_out() {
    let app = spawn_app().await;
    app.bootstrap().await;
    let stranger = client_from("127.0.0.2");
    for _ in 0..6 {
        grant(&app, &stranger, ADMIN_EMAIL, "wrong password!").await;
    }
    assert_eq!(
        grant(&app, &stranger, ADMIN_EMAIL, ADMIN_PASSWORD).await,
        429,
        "the stranger's address is locked out of this account"
    );
    assert_eq!(
        grant(&app, &app.client, ADMIN_EMAIL, ADMIN_PASSWORD).await,
        200,
        "the admin, from her own address, signs in"
    );
}

#[tokio::test]
async fn concurrent_wrong_passwords_are_counted_one_by_one() {
    let app = spawn_app().await;
    app.bootstrap().await;
    let attempts = (0..16).map(|_| app.password_grant(ADMIN_EMAIL, "wrong password!"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 400).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, locked),
        (5, 11),
        "five passwords checked, then locked: {statuses:?}"
    );
}

#[tokio::test]
async fn the_throttle_stores_fixed_size_keys_refuses_long_input_and_forgets_old_rows() {
    let app = spawn_app().await;
    app.bootstrap().await;
    // An old row, from before the window, as another instance may have left it.
    {
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        diesel::sql_query(
            "INSERT INTO login_throttle (account, failures, first_failure_at, locked_until) \
             VALUES ('old', 3, '2020-01-01 00:00:00', NULL)",
        )
        .execute(&mut conn)
        .unwrap();
    }
    let long = "x".repeat(200 * 1024);
    let (status, _, body) = problem(app.password_grant(&long, "wrong password!").await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, _, body) = problem(
        app.password_grant(&format!("{}@example.org", "x".repeat(300)), "x")
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "username");
    assert_eq!(
        app.password_grant("someone@example.org", "wrong password!")
            .await
            .status(),
        400
    );
    let keys: Vec<String> = {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Key {
            #[diesel(sql_type = diesel::sql_types::Text)]
            account: String,
        }
        let mut conn = app.db.connect();
        diesel::sql_query("SELECT account FROM login_throttle")
            .load::<Key>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|k| k.account)
            .collect()
    };
    assert_eq!(keys.len(), 1, "the old row is purged: {keys:?}");
    assert_eq!(keys[0].len(), 64);
    assert!(!keys[0].contains("someone"), "{}", keys[0]);
}

#[tokio::test]
async fn too_many_token_requests_from_one_address_slow_that_address_only() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_TOKEN_RATE_LIMIT".into(), "4".into());
        env.insert("AVIP_TRUSTED_PROXIES".into(), "127.0.0.3".into());
    })
    .await;
    let flood = client_from("127.0.0.2");
    for n in 0..4 {
        let email = format!("nobody{n}@example.org");
        assert_eq!(grant(&app, &flood, &email, "x").await, 400);
    }
    let response = flood
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "a@example.org"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    let (status, retry, body) = problem(response).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "too_many_requests");
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Another address is not slowed down.
    assert_eq!(grant(&app, &app.client, "else@example.org", "x").await, 400);
    // Behind the trusted proxy, each client is its own address...
    let proxy = client_from("127.0.0.3");
    let through = |from: &'static str| {
        proxy
            .post(app.url("/api/v1/auth/token"))
            .header("x-forwarded-for", format!("198.51.100.7, {from}"))
            .form(&[
                ("grant_type", "password"),
                ("username", "p@example.org"),
                ("password", "x"),
            ])
            .send()
    };
    for _ in 0..4 {
        assert_eq!(through("203.0.113.1").await.unwrap().status(), 400);
    }
    assert_eq!(through("203.0.113.1").await.unwrap().status(), 429);
    assert_eq!(
        through("203.0.113.2").await.unwrap().status(),
        400,
        "another client behind the same proxy"
    );
}

#[tokio::test]
async fn tokens_issued_before_a_password_change_stop_working() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let me = app
        .expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    let id = me["id"].as_str().unwrap().to_owned();
    // Tokens carry whole seconds: change the password in a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.expect(
        &t.admin,
        "PATCH",
        &format!("/api/v1/users/{id}"),
        Some(json!({"password": "another long passphrase"})),
        200,
    )
    .await;
    let (status, _, body) =
        problem(app.call(&t.coordinator, "GET", "/api/v1/me", None).await).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("password changed")
    );
    assert_eq!(
        app.password_grant("c.martin@example.org", PASSWORD)
            .await
            .status(),
        400,
        "the old password"
    );
    let fresh = app
        .password_token("c.martin@example.org", "another long passphrase")
        .await;
    app.expect(&fresh, "GET", "/api/v1/me", None, 200).await;
    // Other people's tokens are untouched.
    app.expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await;
}

#[tokio::test]
async fn one_organisation_flooding_intake_is_slowed_and_not_the_others() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_INTAKE_RATE_LIMIT".into(), "3".into());
    })
    .await;
    let t = territory(&app).await;
    for n in 0..3 {
        app.expect(
            &t.prescriber,
            "POST",
            "/api/v1/referrals",
            Some(referral(&t.creche, &format!("Enfant{n}"))),
            201,
        )
        .await;
    }
    let response = app
        .call(
            &t.prescriber,
            "POST",
            "/api/v1/referrals",
            Some(referral(&t.creche, "Enfant9")),
        )
        .await;
    let (status, retry, body) = problem(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "too_many_requests");
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // The family was not written: the same child goes through later.
    app.expect(
        &t.other_prescriber,
        "POST",
        "/api/v1/referrals",
        Some(referral(&t.creche, "Enfant9")),
        201,
    )
    .await;
}
