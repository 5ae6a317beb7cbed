use avip_db::Backend;
use avip_tests::spawn_app;
use diesel::connection::SimpleConnection;
use serde_json::Value;

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn ready_reports_the_backend_in_use() {
    let app = spawn_app().await;
    let response = app.get("/ready").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let expected = match app.db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
    assert_eq!(body["migrations"], "up_to_date");
}

#[tokio::test]
async fn ready_is_503_while_a_migration_is_missing() {
    let app = spawn_app().await;
    // As if this build embedded a migration the database has not run yet.
    app.db
        .connect()
        .batch_execute("DELETE FROM __diesel_schema_migrations")
        .unwrap();
    let response = app.get("/ready").await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "migrations_pending");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn the_served_openapi_document_is_the_checked_in_file() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let file = std::fs::read_to_string(path).expect("openapi/openapi.json exists");
    assert_eq!(
        file,
        avip_api::http::openapi::document_json(),
        "openapi/openapi.json is stale: regenerate it with `cargo run -q -- openapi > openapi/openapi.json`"
    );
    assert_eq!(served, serde_json::from_str::<Value>(&file).unwrap());
}

#[tokio::test]
async fn every_operation_is_documented_with_a_response_example() {
    let doc: Value = serde_json::from_str(&avip_api::http::openapi::document_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                !responses.is_empty(),
                "{method} {path} documents no response"
            );
            for (status, response) in responses {
                let Some(content) = response.get("content").and_then(Value::as_object) else {
                    continue;
                };
                for (media, body) in content {
                    let has_example = body.get("example").is_some()
                        || body.get("examples").is_some()
                        || schema_has_example(&body["schema"], schemas);
                    assert!(
                        has_example,
                        "{method} {path} {status} {media} has no example"
                    );
                }
            }
        }
    }
}

/// A schema shows an example itself, through its `$ref`, or (a list, or a
/// bare array) through the schema of its items.
fn schema_has_example(schema: &Value, schemas: &Value) -> bool {
    if schema.get("example").is_some() {
        return true;
    }
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return schema_has_example(&schemas[name], schemas);
    }
    let items = match schema["type"].as_str() {
        Some("array") => &schema["items"],
        _ => &schema["properties"]["items"]["items"],
    };
    !items.is_null() && schema_has_example(items, schemas)
}

#[tokio::test]
async fn the_docs_page_works_offline() {
    let app = spawn_app().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs/");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // The page's script and its configuration come from the service itself.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads something from outside: {html}"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let config = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("/openapi.json"), "{config}");
    // No outside validator is asked about the document.
    assert!(config.contains("\"validatorUrl\": \"none\""), "{config}");
}

#[test]
fn every_operation_has_its_own_id_naming_the_action() {
    let doc: Value = serde_json::from_str(&avip_api::http::openapi::document_json()).unwrap();
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                id.len() > 4 && id.starts_with(char::is_lowercase),
                "{method} {path}: {id:?}"
            );
            ids.push(id.to_owned());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids repeat: {ids:?}");
}

#[test]
fn the_documents_enums_are_the_values_on_the_wire() {
    use avip_db::model::*;
    fn wire<T: std::fmt::Display>(all: &[T]) -> Vec<Value> {
        all.iter().map(|v| Value::from(v.to_string())).collect()
    }
    let doc: Value = serde_json::from_str(&avip_api::http::openapi::document_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (name, values) in [
        ("ReferralStatus", wire(ReferralStatus::ALL)),
        ("OrganizationKind", wire(OrganizationKind::ALL)),
        ("Role", wire(Role::ALL)),
        ("ParentSituation", wire(ParentSituation::ALL)),
        ("ProjectKind", wire(ProjectKind::ALL)),
        ("EmploymentStatus", wire(EmploymentStatus::ALL)),
        ("ExitReason", wire(ExitReason::ALL)),
        ("ChildcareSolution", wire(ChildcareSolution::ALL)),
        ("Participant", wire(Participant::ALL)),
        ("EventKind", wire(EventKind::ALL)),
        ("ActorKind", wire(ActorKind::ALL)),
        ("SlaStage", wire(SlaStage::ALL)),
    ] {
        assert_eq!(
            schemas[name]["enum"].as_array().unwrap(),
            &values,
            "{name} in the document"
        );
    }
    // The reasons a move may give: every decline and withdraw reason.
    let reasons = schemas["TransitionReason"]["enum"].as_array().unwrap();
    for reason in wire(DeclineReason::ALL)
        .into_iter()
        .chain(wire(WithdrawReason::ALL))
    {
        assert!(reasons.contains(&reason), "{reason}");
    }
}

#[tokio::test]
async fn answers_carry_security_headers() {
    let app = spawn_app().await;
    let api = app.get("/api/v1/me").await;
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(api.headers()["referrer-policy"], "no-referrer");
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let health = app.get("/health").await;
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}
