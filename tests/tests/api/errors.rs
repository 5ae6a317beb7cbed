use avip_tests::spawn_app;
use serde_json::Value;

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    for path in ["/nope", "/api/v1/nothing-here", "/api/v2/referrals"] {
        let (status, body) = problem(app.get(path).await).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["type"], "urn:avip:problem:not_found");
        assert_eq!(body["status"], 404);
        assert!(body["title"].is_string() && body["detail"].is_string());
        assert!(body["errors"].is_array());
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    for path in ["/health", "/ready", "/openapi.json"] {
        let response = app.client.delete(app.url(path)).send().await.unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(status, 405, "{path}");
        assert_eq!(body["code"], "method_not_allowed");
        assert!(
            body["detail"].as_str().unwrap().contains("DELETE"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_405_says_which_methods_the_resource_answers() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/health", "GET"),
        (reqwest::Method::PUT, "/api/v1/referrals", "GET, POST"),
        (
            reqwest::Method::DELETE,
            "/api/v1/referrals/0193a5b0-7c1e-7d2a-9b1e-000000000010/enrollment",
            "POST, PATCH",
        ),
        (
            reqwest::Method::GET,
            "/api/v1/api-clients/0193a5b0-7c1e-7d2a-9b1e-000000000010",
            "DELETE",
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method} {path}");
        let mut allowed: Vec<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_owned)
            .collect();
        allowed.sort();
        let mut expected: Vec<&str> = allow.split(", ").collect();
        expected.sort();
        assert_eq!(allowed, expected, "{method} {path}");
    }
}

/// Every string leaf of `value`, as (path the API names, JSON pointer).
fn string_leaves(value: &Value, path: String, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(_) => out.push((path, pointer)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, format!("{path}[{i}]"), format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                string_leaves(item, child, format!("{pointer}/{name}"), out);
            }
        }
        _ => {}
    }
}

/// A NUL byte in any string field of any operation of openapi.json (the
/// body's example with one field changed, or one query parameter) is a 4xx
/// naming that field, the same on both backends: never a 500 (PostgreSQL
/// refuses NUL in text) nor a stored value (SQLite keeps it).
#[tokio::test]
async fn a_nul_byte_in_any_string_field_of_any_operation_is_a_4xx_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.bootstrap().await;
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let schemas = &document["components"]["schemas"];
    let some_id = "0193a5b0-7c1e-7d2a-9b1e-000000000009";
    let mut tried = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        let path = template
            .split('/')
            .map(|part| if part.starts_with('{') { some_id } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for (method, operation) in item.as_object().unwrap() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let what = format!("{method} {template}");
            // Each query parameter in turn.
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["in"] != "query" {
                    continue;
                }
                let name = parameter["name"].as_str().unwrap();
                let response = app
                    .client
                    .request(method.clone(), app.url(&format!("{path}?{name}=a%00b")))
                    .bearer_auth(&admin)
                    .send()
                    .await
                    .unwrap();
                let (status, body) = problem(response).await;
                assert!(
                    (400..500).contains(&status),
                    "{what} ?{name}: {status} {body}"
                );
                assert_eq!(body["errors"][0]["field"], name, "{what} ?{name}: {body}");
                tried += 1;
            }
            // Each string of the body's example in turn.
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            for (media_type, content) in content {
                let example = match content["schema"]["$ref"].as_str() {
                    Some(reference) => &schemas[reference.rsplit('/').next().unwrap()]["example"],
                    None => &content["schema"]["example"],
                };
                let example = if content["example"].is_null() {
                    example
                } else {
                    &content["example"]
                };
                assert!(example.is_object(), "{what}: no example of the body");
                let mut leaves = Vec::new();
                string_leaves(example, String::new(), String::new(), &mut leaves);
                for (field, pointer) in leaves {
                    let mut body = example.clone();
                    let slot = body.pointer_mut(&pointer).unwrap();
                    *slot = Value::String(format!("{}\u{0}", slot.as_str().unwrap()));
                    let request = app.client.request(method.clone(), app.url(&path));
                    let request = if media_type == "multipart/form-data" {
                        let mut form = reqwest::multipart::Form::new();
                        for (k, v) in body.as_object().unwrap() {
                            let v = v.as_str().unwrap_or_default().to_owned();
                            form = form.part(
                                k.clone(),
                                reqwest::multipart::Part::text(v).file_name(format!("{k}.csv")),
                            );
                        }
                        request.bearer_auth(&admin).multipart(form)
                    } else if media_type == "application/x-www-form-urlencoded" {
                        let pairs: Vec<(String, String)> = body
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect();
                        request.form(&pairs)
                    } else {
                        request.bearer_auth(&admin).json(&body)
                    };
                    let (status, problem) = problem(request.send().await.unwrap()).await;
                    assert!(
                        status == 400 || status == 422,
                        "{what} {field}: {status} {problem}"
                    );
                    let named: Vec<&str> = problem["errors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|e| e["field"].as_str())
                        .collect();
                    assert_eq!(named, [field.as_str()], "{what}: {problem}");
                    tried += 1;
                }
            }
        }
    }
    assert!(tried > 120, "only {tried} fields tried");
    // Nothing was stored: the only person is the administrator, and no
    // organisation but hers exists.
    let users = app.expect(&admin, "GET", "/api/v1/users", None, 200).await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let organizations = app
        .expect(&admin, "GET", "/api/v1/organizations", None, 200)
        .await;
    assert_eq!(organizations["items"].as_array().unwrap().len(), 1);
}
