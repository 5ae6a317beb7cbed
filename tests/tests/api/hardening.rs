//! Findings of an attacker's review (issue 29) that each got a test: HSTS
//! in production, addresses that pass for others, dates beyond the bounds.

use avip_tests::{spawn_app, spawn_app_with};
use serde_json::{Value, json};

use crate::referrals::{create, referral, territory};

/// The settings of a production instance (https, real SMTP, a strong key).
pub(crate) fn production(env: &mut std::collections::HashMap<String, String>) {
    for (k, v) in [
        ("AVIP_ENV", "production"),
        ("AVIP_PUBLIC_URL", "https://avip.example.org"),
        ("AVIP_SMTP_URL", "smtp://127.0.0.1:2525"),
        (
            "AVIP_PSEUDONYM_KEY",
            "fedcba9876543210fedcba9876543210-prod",
        ),
        ("AVIP_OPERATOR_NAME", "Communauté d’agglomération Exemple"),
        (
            "AVIP_OPERATOR_ADDRESS",
            "1 place de la Mairie, 83000 Toulon",
        ),
        ("AVIP_PUBLICATION_DIRECTOR", "Camille Martin, présidente"),
        (
            "AVIP_HOSTING",
            "Hébergeur Exemple, 2 rue des Serveurs, 75000 Paris",
        ),
        ("AVIP_DPO_EMAIL", "dpo@example.org"),
        ("AVIP_SUPPORT_EMAIL", "avip@example.org"),
    ] {
        env.insert(k.into(), v.into());
    }
}

#[tokio::test]
async fn production_tells_browsers_to_keep_to_https_for_a_year_at_least() {
    let app = spawn_app_with(production).await;
    for path in ["/health", "/app/connexion", "/api/v1/me", "/docs/"] {
        let response = app.get(path).await;
        let hsts = response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .to_owned();
        let max_age: u64 = hsts
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(max_age >= 31_536_000, "{path}: {hsts}");
        assert!(hsts.contains("includeSubDomains"), "{path}: {hsts}");
    }
    // The sign-in form's CSRF cookie is host-only there.
    let form = app.get("/app/connexion").await;
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-avip_sign_in="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    // Development (plain http on a laptop) sends none.
    let dev = spawn_app().await;
    assert!(
        !dev.get("/health")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect()
}

/// `аdmin@…` with a Cyrillic а beside `admin@…`: refused for people, for
/// referents and for crèches' escalation addresses, naming the field.
#[tokio::test]
async fn addresses_in_mixed_or_look_alike_scripts_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let me = app.expect(&t.admin, "GET", "/api/v1/me", None, 200).await;
    let organization = me["organization"]["id"].as_str().unwrap();
    for email in [
        "\u{430}dmin@example.org",
        "admin@ex\u{430}mple.org",
        "\u{430}\u{435}@example.org",
    ] {
        let problem = app
            .expect(
                &t.admin,
                "POST",
                "/api/v1/users",
                Some(json!({"email": email, "name": "Faux", "role": "admin",
                    "organization_id": organization, "password": "a long passphrase"})),
                422,
            )
            .await;
        assert_eq!(fields(&problem), ["email"], "{email}: {problem}");
        let mut body = referral(&t.creche, "Zoé");
        body["referent"]["email"] = json!(email);
        let problem = app
            .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 422)
            .await;
        assert_eq!(fields(&problem), ["referent.email"], "{email}: {problem}");
    }
    // Accents of one script are names, not tricks.
    create(
        &app,
        &t.admin,
        "/api/v1/users",
        json!({"email": "élodie.brûlé@mairie-fréjus.fr", "name": "Élodie", "role": "admin",
            "organization_id": organization, "password": "a long passphrase"}),
    )
    .await;
}

#[tokio::test]
async fn a_capacity_change_far_beyond_the_years_of_the_service_is_refused() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    for from in ["+10000-01-01", "2101-01-01"] {
        let problem = app
            .expect(
                &t.coordinator,
                "POST",
                &path,
                Some(json!({"from": from, "avip_places": 8})),
                422,
            )
            .await;
        assert_eq!(fields(&problem), ["from"], "{from}: {problem}");
    }
    app.expect(
        &t.coordinator,
        "POST",
        &path,
        Some(json!({"from": "2099-12-31", "avip_places": 8})),
        201,
    )
    .await;
}

/// A coordinator listed twice for a crèche was a 409 "unique value" found
/// by schemathesis: now a 422 naming the second mention (the document says
/// `uniqueItems`).
#[tokio::test]
async fn an_id_listed_twice_is_a_422_naming_the_second_one() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let users = app
        .expect(&t.admin, "GET", "/api/v1/users?limit=100", None, 200)
        .await;
    let coordinator = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["role"] == "coordinator"
                && u["creche_ids"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(t.creche))
        })
        .unwrap()["id"]
        .clone();
    let problem = app
        .expect(
            &t.admin,
            "PATCH",
            &format!("/api/v1/creches/{}", t.creche),
            Some(json!({"coordinator_ids": [coordinator, coordinator]})),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["coordinator_ids[1]"], "{problem}");
    let problem = app
        .expect(
            &t.admin,
            "PATCH",
            &format!("/api/v1/users/{}", coordinator.as_str().unwrap()),
            Some(json!({"creche_ids": [t.creche, t.creche]})),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["creche_ids[1]"], "{problem}");
}

/// JSON Schema's `integer` is any number without a fraction: `8.0` is
/// accepted where an integer is asked, `8.5` is refused naming the field.
#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_an_integer() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    let from = (avip_tests::today() + chrono::Duration::days(30)).to_string();
    let changed = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(json!({"from": from, "avip_places": 8.0})),
            201,
        )
        .await;
    assert_eq!(
        changed["changes"].as_array().unwrap().last().unwrap()["avip_places"],
        8
    );
    let problem = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(json!({"from": from, "avip_places": 8.5})),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["avip_places"], "{problem}");
}
