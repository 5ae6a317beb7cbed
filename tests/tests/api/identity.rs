//! Identity and access: from an empty database an admin builds a territory,
//! and every token opens exactly what docs/product.md §5 says.

use avip_tests::{ADMIN_PASSWORD, TEST_JWT_SECRET, TestApp, spawn_app};
use serde_json::{Value, json};

const PASSWORD: &str = "a long passphrase";

struct Territory {
    admin: String,
    coordinator: String,
    other_coordinator: String,
    prescriber: String,
    caf: String,
    client: String,
    client_secret: String,
    client_id: String,
    client_row_id: String,
    creche: String,
    other_creche: String,
    ft_org: String,
    coordinator_id: String,
}

async fn create(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    app.expect(token, "POST", path, Some(body), 201).await
}

fn creche_body(operator: &str, name: &str) -> Value {
    json!({"operator_id": operator, "name": name, "address": "12 rue Victor Hugo", "postal_code": "83000",
           "commune": "Toulon", "avip_places": 6,
           "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
           "escalation_email": "direction.petite-enfance@example.org"})
}

async fn territory(app: &TestApp) -> Territory {
    let admin = app.bootstrap().await;
    let ft = create(
        app,
        &admin,
        "/api/v1/organizations",
        json!({"kind": "france_travail", "name": "France Travail Toulon Est", "departement": "83"}),
    )
    .await;
    let op = create(
        app,
        &admin,
        "/api/v1/organizations",
        json!({"kind": "creche_operator", "name": "Ville de Toulon", "departement": "83"}),
    )
    .await;
    let op2 = create(
        app,
        &admin,
        "/api/v1/organizations",
        json!({"kind": "creche_operator", "name": "Crèches du Var", "departement": "83"}),
    )
    .await;
    let caf = create(
        app,
        &admin,
        "/api/v1/organizations",
        json!({"kind": "caf", "name": "CAF du Var", "departement": "83"}),
    )
    .await;
    let creche = create(
        app,
        &admin,
        "/api/v1/creches",
        creche_body(op["id"].as_str().unwrap(), "Les Petits Pas"),
    )
    .await;
    let other_creche = create(
        app,
        &admin,
        "/api/v1/creches",
        creche_body(op2["id"].as_str().unwrap(), "Les Lucioles"),
    )
    .await;
    let coordinator = create(app, &admin, "/api/v1/users", json!({"email": "c.martin@example.org", "name": "Claire Martin",
        "role": "coordinator", "organization_id": op["id"], "password": PASSWORD, "creche_ids": [creche["id"]]})).await;
    create(app, &admin, "/api/v1/users", json!({"email": "b.roux@example.org", "name": "Bruno Roux",
        "role": "coordinator", "organization_id": op2["id"], "password": PASSWORD, "creche_ids": [other_creche["id"]]})).await;
    create(
        app,
        &admin,
        "/api/v1/users",
        json!({"email": "p.durand@example.org", "name": "Paul Durand",
        "role": "prescriber", "organization_id": ft["id"], "password": PASSWORD}),
    )
    .await;
    create(
        app,
        &admin,
        "/api/v1/users",
        json!({"email": "analyste@caf.example.org", "name": "Analyste CAF",
        "role": "caf", "organization_id": caf["id"], "password": PASSWORD}),
    )
    .await;
    let client = create(
        app,
        &admin,
        "/api/v1/api-clients",
        json!({"organization_id": ft["id"], "label": "SI France Travail"}),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let client_secret = client["client_secret"].as_str().unwrap().to_owned();
    let client_token = client_grant(app, &client_id, &client_secret).await;
    assert_eq!(client_token.status(), 200);
    let client_token: Value = client_token.json().await.unwrap();
    Territory {
        coordinator: app.password_token("c.martin@example.org", PASSWORD).await,
        other_coordinator: app.password_token("b.roux@example.org", PASSWORD).await,
        prescriber: app.password_token("p.durand@example.org", PASSWORD).await,
        caf: app
            .password_token("analyste@caf.example.org", PASSWORD)
            .await,
        client: client_token["access_token"].as_str().unwrap().to_owned(),
        client_secret,
        client_id,
        client_row_id: client["id"].as_str().unwrap().to_owned(),
        creche: creche["id"].as_str().unwrap().to_owned(),
        other_creche: other_creche["id"].as_str().unwrap().to_owned(),
        ft_org: ft["id"].as_str().unwrap().to_owned(),
        coordinator_id: coordinator["id"].as_str().unwrap().to_owned(),
        admin,
    }
}

async fn client_grant(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_token_opens_exactly_what_its_role_may() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let org_path = format!("/api/v1/organizations/{}", t.ft_org);
    let own = format!("/api/v1/creches/{}", t.creche);
    let foreign = format!("/api/v1/creches/{}", t.other_creche);
    let user_path = format!("/api/v1/users/{}", t.coordinator_id);
    let client_path = format!("/api/v1/api-clients/{}", t.client_row_id);
    let places = json!({"avip_places": 7});
    let org_body = json!({"kind": "mission_locale", "name": "Mission locale", "departement": "83"});
    // (method, path, body, [admin, coordinator, prescriber, caf, prescriber's API client])
    let cases: Vec<(&str, &str, Option<Value>, [u16; 5])> = vec![
        ("GET", "/api/v1/me", None, [200, 200, 200, 200, 200]),
        (
            "GET",
            "/api/v1/organizations",
            None,
            [200, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/v1/organizations",
            Some(org_body),
            [201, 403, 403, 403, 403],
        ),
        ("GET", &org_path, None, [200, 403, 403, 403, 403]),
        (
            "PATCH",
            &org_path,
            Some(json!({"name": "France Travail Toulon"})),
            [200, 403, 403, 403, 403],
        ),
        ("GET", "/api/v1/creches", None, [200, 200, 403, 403, 403]),
        ("GET", &own, None, [200, 200, 403, 403, 403]),
        (
            "PATCH",
            &own,
            Some(places.clone()),
            [200, 200, 403, 403, 403],
        ),
        ("GET", &foreign, None, [200, 404, 403, 403, 403]),
        ("PATCH", &foreign, Some(places), [200, 404, 403, 403, 403]),
        // The escalation address alerts the direction about the crèche's
        // late answers: its coordinator may not blank or redirect it.
        (
            "PATCH",
            &own,
            Some(json!({"escalation_email": "ailleurs@example.org"})),
            [200, 403, 403, 403, 403],
        ),
        (
            "PATCH",
            &own,
            Some(json!({"coordinator_ids": []})),
            [200, 403, 403, 403, 403],
        ),
        ("GET", "/api/v1/users", None, [200, 403, 403, 403, 403]),
        (
            "PATCH",
            &user_path,
            Some(json!({"name": "Claire Martin-Roux"})),
            [200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/api-clients",
            None,
            [200, 403, 403, 403, 403],
        ),
        ("DELETE", &client_path, None, [403, 403, 403, 403, 403]),
    ];
    let tokens = [&t.admin, &t.coordinator, &t.prescriber, &t.caf, &t.client];
    let names = ["admin", "coordinator", "prescriber", "caf", "api client"];
    for (method, path, body, expected) in &cases {
        // Non-admins first: the admin's PATCH of coordinators would change the coordinator's scope.
        for i in [1, 2, 3, 4, 0] {
            if *method == "DELETE" && i == 0 {
                continue;
            }
            let response = app.call(tokens[i], method, path, body.clone()).await;
            let status = response.status().as_u16();
            assert_eq!(
                status,
                expected[i],
                "{} {method} {path}: {}",
                names[i],
                response.text().await.unwrap()
            );
            if status >= 400 {
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
            }
        }
    }
    // The coordinator of the other operator sees only their crèche.
    let list = app
        .expect(&t.other_coordinator, "GET", "/api/v1/creches", None, 200)
        .await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [t.other_creche.as_str()]);
    // Who am I.
    let me = app.expect(&t.client, "GET", "/api/v1/me", None, 200).await;
    assert_eq!(
        (me["kind"].as_str(), me["role"].as_str()),
        (Some("api_client"), Some("prescriber"))
    );
    assert_eq!(me["organization"]["id"], t.ft_org.as_str());
    // Disabling the client (admin) cuts it off at once, not at expiry.
    app.expect(&t.admin, "DELETE", &client_path, None, 200)
        .await;
    let refused = app.call(&t.client, "GET", "/api/v1/me", None).await;
    assert_eq!(refused.status(), 401);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(
        client_grant(&app, &t.client_id, &t.client_secret)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_disabled_person_loses_access_at_once() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    app.expect(&t.coordinator, "GET", "/api/v1/me", None, 200)
        .await;
    app.expect(
        &t.admin,
        "PATCH",
        &format!("/api/v1/users/{}", t.coordinator_id),
        Some(json!({"active": false})),
        200,
    )
    .await;
    app.expect(&t.coordinator, "GET", "/api/v1/me", None, 401)
        .await;
    assert_eq!(
        app.password_grant("c.martin@example.org", PASSWORD)
            .await
            .status(),
        400
    );
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign_hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    use hmac::Mac;
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_and_stale_tokens_are_refused() {
    let app = spawn_app().await;
    let admin = app.bootstrap().await;
    let me = app.expect(&admin, "GET", "/api/v1/me", None, 200).await;
    let parts: Vec<&str> = admin.split('.').collect();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        c[key] = value;
        c
    };
    // A token signed correctly with these claims is accepted: the forgeries below differ in one thing.
    assert_eq!(
        app.call(
            &sign_hs256(&hs, &claims, TEST_JWT_SECRET.as_bytes()),
            "GET",
            "/api/v1/me",
            None
        )
        .await
        .status(),
        200
    );
    let forged = [
        (
            "alg none",
            format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]),
        ),
        (
            "changed claim",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(with("role", json!("caf")).to_string().as_bytes()),
                parts[2]
            ),
        ),
        (
            "wrong key",
            sign_hs256(&hs, &claims, b"another secret of thirty-two bytes!!"),
        ),
        (
            "expired",
            sign_hs256(
                &hs,
                &with("exp", json!(now - 60)),
                TEST_JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "wrong audience",
            sign_hs256(
                &hs,
                &with("aud", json!("another-api")),
                TEST_JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "wrong issuer",
            sign_hs256(
                &hs,
                &with("iss", json!("https://evil.example")),
                TEST_JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "unknown subject",
            sign_hs256(
                &hs,
                &with("sub", json!("user:0193a5b0-7c1e-7d2a-9b1e-000000000009")),
                TEST_JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "HS384",
            sign_hs256(
                &json!({"alg": "HS384", "typ": "JWT"}),
                &claims,
                TEST_JWT_SECRET.as_bytes(),
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in forged {
        let response = app.call(&token, "GET", "/api/v1/me", None).await;
        assert_eq!(response.status(), 401, "{what} was accepted");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{what}"
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    let no_token = app.client.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(me["email"], "admin@example.org");
}

#[tokio::test]
async fn repeated_wrong_passwords_slow_down_then_lock_the_account_out() {
    let app = spawn_app().await;
    app.bootstrap().await;
    let unknown = app
        .password_grant("nobody@example.org", "wrong password!")
        .await;
    let wrong = app
        .password_grant("admin@example.org", "wrong password!")
        .await;
    assert_eq!(
        (unknown.status(), wrong.status()),
        (
            reqwest::StatusCode::BAD_REQUEST,
            reqwest::StatusCode::BAD_REQUEST
        )
    );
    let (unknown, wrong): (Value, Value) =
        (unknown.json().await.unwrap(), wrong.json().await.unwrap());
    assert_eq!(
        unknown, wrong,
        "an unknown user and a wrong password must look the same"
    );
    assert_eq!(wrong["code"], "invalid_grant");
    for _ in 0..4 {
        app.password_grant("admin@example.org", "wrong password!")
            .await;
    }
    let locked = app
        .password_grant("admin@example.org", ADMIN_PASSWORD)
        .await;
    assert_eq!(locked.status(), 429, "the right password during a lock-out");
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 60, "{retry}");
    // Another account is not affected.
    assert_eq!(
        app.password_grant("nobody-else@example.org", "x")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn token_requests_accept_json_and_basic_auth_and_explain_mistakes() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let json_grant = app.client.post(app.url("/api/v1/auth/token"))
        .json(&json!({"grant_type": "password", "username": "C.Martin@example.org", "password": PASSWORD}))
        .send().await.unwrap();
    assert_eq!(json_grant.status(), 200);
    let body: Value = json_grant.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let basic = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .basic_auth(&t.client_id, Some(&t.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    for (form, field) in [
        (vec![("username", "x")], "grant_type"),
        (
            vec![("grant_type", "password"), ("password", "x")],
            "username",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", "x")],
            "client_secret",
        ),
        (vec![("grant_type", "authorization_code")], "grant_type"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(
        client_grant(&app, &t.client_id, "wrong secret")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn secrets_never_come_back() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    for path in ["/api/v1/users", "/api/v1/api-clients", "/api/v1/me"] {
        let text = app
            .call(&t.admin, "GET", path, None)
            .await
            .text()
            .await
            .unwrap();
        for secret in [
            PASSWORD,
            ADMIN_PASSWORD,
            t.client_secret.as_str(),
            "argon2",
            "password_hash",
            "secret_hash",
        ] {
            assert!(!text.contains(secret), "{path} shows {secret}: {text}");
        }
    }
}

#[tokio::test]
async fn invalid_admin_requests_name_each_field() {
    let app = spawn_app().await;
    let admin = app.bootstrap().await;
    let problem = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(json!({"kind": "france_travail", "name": " ", "departement": "20"})),
            422,
        )
        .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "departement"]);
    let problem = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(json!({"kind": "pole_emploi", "name": "x", "departement": "83"})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "kind");
    let problem = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(json!({"kind": "caf", "departement": "83"})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "name");
    let op = app
        .expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(json!({"kind": "creche_operator", "name": "Op", "departement": "83"})),
            201,
        )
        .await;
    let mut body = creche_body(op["id"].as_str().unwrap(), "X");
    body["avip_places"] = json!(-1);
    body["postal_code"] = json!("8300");
    body["opening_hours"]["closes"] = json!("06:00");
    let problem = app
        .expect(&admin, "POST", "/api/v1/creches", Some(body), 422)
        .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["postal_code", "avip_places", "opening_hours.closes"]
    );
    let problem = app
        .expect(
            &admin,
            "POST",
            "/api/v1/users",
            Some(json!({"email": "x@example.org", "name": "X",
        "role": "prescriber", "organization_id": op["id"], "password": "a long passphrase"})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "role");
    app.expect(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"email": "admin@example.org", "name": "X",
        "role": "coordinator", "organization_id": op["id"], "password": "a long passphrase"})),
        409,
    )
    .await;
    // Malformed JSON, a wrong media type, an oversized body, a bad page size, an unknown id.
    let malformed = app
        .client
        .post(app.url("/api/v1/organizations"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["code"],
        "invalid_json"
    );
    let form = app
        .client
        .post(app.url("/api/v1/organizations"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let huge = app
        .client
        .post(app.url("/api/v1/organizations"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(300_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(huge.headers()["content-type"], "application/problem+json");
    let problem = app
        .expect(&admin, "GET", "/api/v1/organizations?limit=0", None, 400)
        .await;
    assert_eq!(problem["errors"][0]["field"], "limit");
    app.expect(&admin, "GET", "/api/v1/organizations/42", None, 404)
        .await;
    app.expect(
        &admin,
        "GET",
        "/api/v1/organizations/0193a5b0-7c1e-7d2a-9b1e-000000000009",
        None,
        404,
    )
    .await;
}

#[tokio::test]
async fn lists_page_with_a_cursor_without_skipping_or_repeating() {
    let app = spawn_app().await;
    let admin = app.bootstrap().await;
    for i in 0..7 {
        app.expect(
            &admin,
            "POST",
            "/api/v1/organizations",
            Some(json!({"kind": "caf", "name": format!("CAF {i}"), "departement": "83"})),
            201,
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/organizations?limit=3&cursor={c}"),
            None => "/api/v1/organizations?limit=3".to_owned(),
        };
        let page = app.expect(&admin, "GET", &path, None, 200).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8, "7 CAFs and the admin organisation");
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen);
}

#[tokio::test]
async fn with_ed25519_key_files_an_hs256_token_made_from_the_public_key_is_refused() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let public_key = format!("{fixtures}/test-only-ed25519.pub.pem");
    let app = avip_tests::spawn_app_with(|env| {
        env.remove("AVIP_JWT_SECRET");
        env.insert("AVIP_JWT_ALGORITHM".into(), "EdDSA".into());
        env.insert(
            "AVIP_JWT_PRIVATE_KEY_FILE".into(),
            format!("{fixtures}/test-only-ed25519.pem"),
        );
        env.insert("AVIP_JWT_PUBLIC_KEY_FILE".into(), public_key.clone());
    })
    .await;
    let admin = app.bootstrap().await;
    let header: Value = {
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(admin.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["alg"], "EdDSA");
    app.expect(&admin, "GET", "/api/v1/me", None, 200).await;
    // The classic confusion: HMAC-sign the claims with the (public) verification key.
    let claims: Value = {
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(admin.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let pem = std::fs::read(&public_key).unwrap();
    let forged = sign_hs256(&json!({"alg": "HS256", "typ": "JWT"}), &claims, &pem);
    assert_eq!(
        app.call(&forged, "GET", "/api/v1/me", None).await.status(),
        401
    );
    let forged = sign_hs256(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
        TEST_JWT_SECRET.as_bytes(),
    );
    assert_eq!(
        app.call(&forged, "GET", "/api/v1/me", None).await.status(),
        401
    );
}

#[tokio::test]
async fn an_email_another_person_has_is_a_409_naming_the_field_on_update_too() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let response = app
        .call(
            &t.admin,
            "PATCH",
            &format!("/api/v1/users/{}", t.coordinator_id),
            Some(json!({"email": "P.Durand@example.org"})),
        )
        .await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "email", "{body}");
    // Her own address, in another case, is not a conflict.
    app.expect(
        &t.admin,
        "PATCH",
        &format!("/api/v1/users/{}", t.coordinator_id),
        Some(json!({"email": "C.Martin@example.org"})),
        200,
    )
    .await;
}

/// `/me` on another instance of the same database.
async fn me_on(port: u16, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Polls `/me` on `port` until `done` says so; how long it took, or a
/// failure after ten seconds. The cache's poll is 50 ms, and the time it
/// took is printed; the bound leaves room for a shared CI machine under the
/// whole suite's load, so that it fails only when a change never arrives.
async fn until_on(
    port: u16,
    token: &str,
    done: impl AsyncFn(reqwest::Response) -> bool,
) -> std::time::Duration {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        if done(me_on(port, token).await).await {
            return started.elapsed();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("the other instance still answers from before the change after 10 s");
}

#[tokio::test]
async fn identities_kept_in_memory_follow_every_change_here_at_once_and_elsewhere_soon() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let (_other, other) = app.another_instance_on_a_port(|_| {}, false).await;
    let here = app.port;
    // Both instances authenticate the tokens, then again once their
    // epoch is read: from then on they answer from memory.
    for _ in 0..2 {
        for port in [here, other] {
            for token in [&t.coordinator, &t.prescriber, &t.client] {
                assert_eq!(me_on(port, token).await.status(), 200);
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }

    // A change made here shows here at once…
    app.expect(
        &t.admin,
        "PATCH",
        &format!("/api/v1/users/{}", t.coordinator_id),
        Some(json!({"name": "Claire Martin-Roux"})),
        200,
    )
    .await;
    let me: Value = me_on(here, &t.coordinator).await.json().await.unwrap();
    assert_eq!(me["name"], "Claire Martin-Roux");
    // …and on the other instance within its poll.
    let took = until_on(other, &t.coordinator, async |r| {
        r.json::<Value>().await.unwrap()["name"] == "Claire Martin-Roux"
    })
    .await;
    eprintln!("a new name reached the other instance in {took:?}");

    // Disabled on the other instance: refused there at once, here soon.
    let prescriber_id = app
        .expect(&t.prescriber, "GET", "/api/v1/me", None, 200)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = reqwest::Client::new()
        .patch(format!(
            "http://127.0.0.1:{other}/api/v1/users/{prescriber_id}"
        ))
        .bearer_auth(&t.admin)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_eq!(me_on(other, &t.prescriber).await.status(), 401);
    let took = until_on(here, &t.prescriber, async |r| r.status() == 401).await;
    eprintln!("a disable reached the other instance in {took:?}");

    // An API client disabled here: refused here at once, there soon.
    app.expect(
        &t.admin,
        "DELETE",
        &format!("/api/v1/api-clients/{}", t.client_row_id),
        None,
        200,
    )
    .await;
    assert_eq!(me_on(here, &t.client).await.status(), 401);
    until_on(other, &t.client, async |r| r.status() == 401).await;
    // The others were not disturbed.
    assert_eq!(me_on(other, &t.coordinator).await.status(), 200);
}

/// Waits for the start of a wall-clock second, so that what follows
/// happens within one second: where a token's `iat` (whole seconds) and a
/// change recorded to the second cannot tell before from after.
async fn at_the_start_of_a_second() {
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    if millis > 20 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(1000 - millis))).await;
    }
}

/// Revocation is exact, whatever the clock's resolution: a token issued
/// before a password change, a disable or a sign-out everywhere is refused,
/// even in the same second (and millisecond window), here at once and on
/// another instance soon; re-enabling a person gives none of it back.
#[tokio::test]
async fn revocation_is_exact_within_one_second_on_every_instance_and_reenabling_gives_nothing_back()
{
    let app = spawn_app().await;
    let t = territory(&app).await;
    let (_other, other) = app.another_instance_on_a_port(|_| {}, false).await;
    let user = format!("/api/v1/users/{}", t.coordinator_id);
    let email = "c.martin@example.org";
    let mut password = PASSWORD.to_owned();
    for (n, change) in ["password", "disable", "sign-out"].into_iter().enumerate() {
        at_the_start_of_a_second().await;
        let token = app.password_token(email, &password).await;
        // Both instances know the token (the other keeps it in memory).
        assert_eq!(me_on(app.port, &token).await.status(), 200, "{change}");
        assert_eq!(me_on(other, &token).await.status(), 200, "{change}");
        match change {
            "password" => {
                password = format!("another long passphrase {n}");
                app.expect(
                    &t.admin,
                    "PATCH",
                    &user,
                    Some(json!({"password": password})),
                    200,
                )
                .await;
            }
            "disable" => {
                for active in [false, true] {
                    app.expect(
                        &t.admin,
                        "PATCH",
                        &user,
                        Some(json!({"active": active})),
                        200,
                    )
                    .await;
                }
            }
            _ => {
                let out = app
                    .call(&t.admin, "POST", &format!("{user}/sign-out"), None)
                    .await;
                assert_eq!(out.status(), 204);
            }
        }
        let seconds = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let issued = issued_at(&token);
        eprintln!(
            "{change}: token issued at {}, change done by {}",
            seconds(issued),
            chrono::Utc::now()
        );
        let refused = app.call(&token, "GET", "/api/v1/me", None).await;
        assert_eq!(
            refused.status(),
            401,
            "{change}: the old token still works here"
        );
        until_on(other, &token, async |r| r.status() == 401).await;
        // …and stays refused there.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(
            me_on(other, &token).await.status(),
            401,
            "{change} on the other instance"
        );
        // A token issued after the change works (the password is kept by
        // a disable and re-enable, and by a sign-out everywhere).
        let fresh = app.password_token(email, &password).await;
        assert_eq!(me_on(app.port, &fresh).await.status(), 200, "{change}");
        until_on(other, &fresh, async |r| r.status() == 200).await;
    }
    // Someone else's tokens were never touched.
    assert_eq!(me_on(other, &t.prescriber).await.status(), 200);
    // Signing out someone who does not exist, or as a non-admin.
    let missing = app
        .call(
            &t.admin,
            "POST",
            "/api/v1/users/0193a5b0-7c1e-7d2a-9b1e-000000000009/sign-out",
            None,
        )
        .await;
    assert_eq!(missing.status(), 404);
    let forbidden = app
        .call(&t.coordinator, "POST", &format!("{user}/sign-out"), None)
        .await;
    assert!(matches!(forbidden.status().as_u16(), 401 | 403));
    let forbidden = app
        .call(&t.prescriber, "POST", &format!("{user}/sign-out"), None)
        .await;
    assert_eq!(forbidden.status(), 403);
}

fn issued_at(token: &str) -> i64 {
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    claims["iat"].as_i64().unwrap()
}
