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
    // No wait: a change in the same second as the token revokes it too.
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

/// Opens a download and reads its head only, then stops reading: a client
/// that stalls. Its receive buffer is small and fixed (no autotuning), so
/// that what the kernel can hold for it does not depend on the machine's
/// settings.
async fn stalled_download(app: &TestApp, token: &str, path: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut stream = socket
        .connect(([127, 0, 0, 1], app.port).into())
        .await
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

/// The most a sending socket's buffer may grow to here (the third field of
/// `net.ipv4.tcp_wmem`; Linux's default, 4 MiB, where it cannot be read).
/// What a stalled client has not read waits there, so a download must be
/// larger than this (plus the stalled client's small receive buffer and the
/// server's own) to stall at all: on a machine tuned for large buffers, a
/// fixed size would be held whole by the kernel and end complete.
fn send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// Seeds enough referrals at the territory's crèche for their export as JSON
/// (750 to 900 bytes a row) to exceed what the sockets can hold (at least
/// 8,000 rows, about 7 MB), and returns the path of that export.
async fn a_large_export(app: &TestApp, t: &crate::referrals::Territory) -> String {
    let me = app
        .expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await;
    let org =
        avip_db::model::OrganizationId::parse(me["organization"]["id"].as_str().unwrap()).unwrap();
    let creche = avip_db::model::CrecheId::parse(&t.creche).unwrap();
    let url = app.db.url.clone();
    let rows = ((send_buffer_max() + (2 << 20)) / 700).max(8_000);
    println!(
        "{rows} referrals, for sockets whose send buffer may grow to {} bytes",
        send_buffer_max()
    );
    tokio::task::spawn_blocking(move || avip_tests::seed_referrals(&url, rows, &[creche], &org))
        .await
        .unwrap();
    let today = avip_tests::today();
    format!(
        "/api/v1/exports/referrals?from={}&to={today}&format=json",
        today - chrono::Duration::days(401)
    )
}

#[tokio::test]
async fn downloads_nobody_reads_hold_no_connection_and_end_after_the_write_timeout() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_DB_POOL_SIZE".into(), "2".into());
        env.insert("AVIP_WRITE_TIMEOUT".into(), "2s".into());
        env.insert("AVIP_EXPORTS_PER_IDENTITY".into(), "2".into());
    })
    .await;
    let t = territory(&app).await;
    let path = a_large_export(&app, &t).await;
    let first = stalled_download(&app, &t.caf, &path).await;
    let second = stalled_download(&app, &t.caf, &path).await;
    // Two stalled downloads, a pool of two connections: everyone else is served.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for token in [&t.coordinator, &t.prescriber, &t.caf] {
        app.expect(token, "GET", "/api/v1/me", None, 200).await;
    }
    app.expect(
        &t.coordinator,
        "GET",
        "/api/v1/referrals?limit=5",
        None,
        200,
    )
    .await;
    // A third download by the same identity waits its turn...
    let (status, retry, body) = problem(app.call(&t.caf, "GET", &path, None).await).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("too_many_exports"))
    );
    assert!(retry.is_some());
    // ...another identity's does not.
    let admin = app.call(&t.admin, "GET", &path, None).await;
    assert_eq!(admin.status(), 200);
    let size = admin.bytes().await.unwrap().len();
    let held = send_buffer_max() + (1 << 20);
    assert!(
        size > held,
        "the export ({size} bytes) must be larger than what the kernel can hold for a client that stopped reading ({held} bytes), or it does not stall"
    );
    // Once the write timeout has passed, the stalled downloads are over (the
    // bound, 30 s, leaves room for a loaded machine whose kernel first fills
    // a large send buffer).
    let mut freed = false;
    for _ in 0..120 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let response = app.call(&t.caf, "GET", &path, None).await;
        if response.status() == 200 {
            freed = true;
            break;
        }
    }
    assert!(freed, "the stalled downloads still hold their places");
    // And what a stalled client finally reads is a cut file, not a short one.
    for mut stream in [first, second] {
        use tokio::io::AsyncReadExt;
        let mut rest = Vec::new();
        let read = stream.read_to_end(&mut rest).await;
        assert!(
            read.is_err() || !rest.ends_with(b"0\r\n\r\n"),
            "a stalled download must not end like a complete one"
        );
    }
}

#[tokio::test]
async fn a_stalled_download_does_not_hold_a_stop_past_its_grace_period() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_WRITE_TIMEOUT".into(), "600s".into());
    })
    .await;
    let t = territory(&app).await;
    let path = a_large_export(&app, &t).await;
    let _stalled = stalled_download(&app, &t.caf, &path).await;
    let started = std::time::Instant::now();
    let grace = avip_api::startup::SHUTDOWN_GRACE + std::time::Duration::from_secs(5);
    tokio::time::timeout(grace, app.stop())
        .await
        .expect("the server stops within its grace period");
    assert!(started.elapsed() <= grace);
}

/// The schema `schema` stands for, through its `$ref`.
fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Every unbounded string or list under `schema`, as `path`s.
fn unbounded(schema: &Value, doc: &Value, path: &str, out: &mut Vec<String>) {
    let schema = resolve(schema, doc);
    for key in ["oneOf", "anyOf", "allOf"] {
        for (i, s) in schema[key].as_array().into_iter().flatten().enumerate() {
            unbounded(s, doc, &format!("{path}/{key}{i}"), out);
        }
    }
    let t = types(schema);
    if t.contains(&"string")
        && ["maxLength", "enum", "format", "pattern"]
            .iter()
            .all(|k| schema.get(k).is_none())
    {
        out.push(path.to_owned());
    }
    if t.contains(&"array") {
        if schema.get("maxItems").is_none() {
            out.push(format!("{path} (list)"));
        }
        unbounded(&schema["items"], doc, &format!("{path}[]"), out);
    }
    for (name, s) in schema["properties"].as_object().into_iter().flatten() {
        unbounded(s, doc, &format!("{path}.{name}"), out);
    }
}

#[test]
fn every_string_and_list_a_client_sends_is_bounded_in_the_document() {
    let doc: Value = serde_json::from_str(&avip_api::http::openapi::document_json()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let at = format!("{method} {path} {}", p["name"].as_str().unwrap());
                unbounded(&p["schema"], &doc, &at, &mut out);
            }
            for (media, body) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                unbounded(
                    &body["schema"],
                    &doc,
                    &format!("{method} {path} {media}"),
                    &mut out,
                );
            }
        }
    }
    assert!(out.is_empty(), "unbounded inputs:\n{}", out.join("\n"));
}

/// Each string leaf of `value` (a body) with the `maxLength` the document
/// gives it, and each list with its `maxItems`, by dotted field name.
fn bounds(value: &Value, schema: &Value, doc: &Value, field: &str, out: &mut Vec<(String, Value)>) {
    let schema = resolve(schema, doc);
    let schema = schema["oneOf"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s.get("type") != Some(&json!("null"))))
        .map_or(schema, |s| resolve(s, doc));
    match value {
        Value::String(_) => {
            if let Some(max) = schema["maxLength"].as_u64() {
                out.push((field.to_owned(), json!("x".repeat(max as usize + 1))));
            }
        }
        Value::Array(items) => {
            if let (Some(max), Some(first)) = (schema["maxItems"].as_u64(), items.first()) {
                out.push((
                    field.to_owned(),
                    json!(vec![first.clone(); max as usize + 1]),
                ));
            }
        }
        Value::Object(map) => {
            for (name, v) in map {
                let sub = if field.is_empty() {
                    name.clone()
                } else {
                    format!("{field}.{name}")
                };
                bounds(v, &schema["properties"][name], doc, &sub, out);
            }
        }
        _ => {}
    }
}

fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    let mut at = &mut body;
    for part in field.split('.') {
        at = &mut at[part];
    }
    *at = value;
    body
}

#[tokio::test]
async fn a_value_over_its_documented_bound_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let doc: Value = serde_json::from_str(&avip_api::http::openapi::document_json()).unwrap();
    let schema = &doc["components"]["schemas"]["ReferralRequest"];
    let body = referral(&t.creche, "Yanis");
    let mut cases = Vec::new();
    bounds(&body, schema, &doc, "", &mut cases);
    let fields: Vec<&str> = cases.iter().map(|(f, _)| f.as_str()).collect();
    for expected in [
        "parent.last_name",
        "needs.notes",
        "children",
        "referent.phone",
    ] {
        assert!(fields.contains(&expected), "{fields:?}");
    }
    for (field, value) in cases {
        let response = app
            .call(
                &t.prescriber,
                "POST",
                "/api/v1/referrals",
                Some(with(&body, &field, value)),
            )
            .await;
        let (status, _, problem) = problem(response).await;
        assert_eq!(status, 422, "{field}: {problem}");
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(named.contains(&field.as_str()), "{field}: {problem}");
    }
    // Nothing of these was written.
    let list = app
        .expect(&t.prescriber, "GET", "/api/v1/referrals", None, 200)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}
