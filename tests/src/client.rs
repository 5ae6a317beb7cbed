//! What the benchmarks ask of a service they reach over HTTP (an in-process
//! application or the release binary): a password token, and a POST whose
//! success is asserted.

use serde_json::Value;

/// `POST {base}/api/v1/auth/token` with a password grant; the access token.
pub async fn password_token(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> String {
    let r: Value = client
        .post(format!("{base}/api/v1/auth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap().to_owned()
}

/// A JSON POST with a bearer token that must succeed; its JSON answer.
pub async fn post_ok(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Value {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}
