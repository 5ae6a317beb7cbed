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
