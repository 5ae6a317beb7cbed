//! An SMS provider on 127.0.0.1 for the tests: a real HTTP server that
//! speaks Brevo's transactional SMS endpoint as documented
//! (`POST /v3/transactionalSMS/send`, the `api-key` header, a JSON body
//! with `sender`, `recipient`, `content`, `type`), records every request,
//! and answers 201 `{"messageId": …}` — or, while scripted, the statuses
//! it was given, one per request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

pub const API_KEY: &str = "xkeysib-test-0123456789";

/// One request as the provider got it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub path: String,
    pub api_key: String,
    pub body: serde_json::Value,
    pub answered: u16,
}

#[derive(Default)]
struct Shared {
    sent: Mutex<Vec<Sent>>,
    script: Mutex<VecDeque<u16>>,
}

pub struct SmsProvider {
    /// The API's base, as `AVIP_SMS_URL` takes it.
    pub url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl SmsProvider {
    pub fn start() -> SmsProvider {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move { answer(&state, &req, &body) }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("a free port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        SmsProvider {
            url: format!("http://127.0.0.1:{port}"),
            shared,
            handle,
        }
    }

    /// The settings that send SMS here.
    pub fn settings(&self) -> [(&'static str, String); 3] {
        [
            ("AVIP_SMS_URL", self.url.clone()),
            ("AVIP_SMS_API_KEY", API_KEY.to_owned()),
            ("AVIP_SMS_SENDER", "CrecheAVIP".to_owned()),
        ]
    }

    /// The next requests are answered with these statuses, in turn.
    pub fn script(&self, statuses: &[u16]) {
        self.shared.script.lock().unwrap().extend(statuses);
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.shared.sent.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was sent, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
        crate::wait_until(timeout, || self.sent(), done).await
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

fn answer(state: &Shared, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let api_key = (req.headers().get("api-key"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let documented =
        req.method() == actix_web::http::Method::POST && req.path() == "/v3/transactionalSMS/send";
    let answered = if !documented {
        404
    } else if api_key != API_KEY {
        401
    } else {
        state.script.lock().unwrap().pop_front().unwrap_or(201)
    };
    let mut sent = state.sent.lock().unwrap();
    sent.push(Sent {
        path: req.path().to_owned(),
        api_key,
        body: json,
        answered,
    });
    let status = actix_web::http::StatusCode::from_u16(answered).unwrap();
    let reply = match answered {
        201 => serde_json::json!({"reference": format!("ref-{}", sent.len()),
            "messageId": 1000 + sent.len(), "smsCount": 1, "usedCredits": 1.0,
            "remainingCredits": 99.0}),
        400..=499 => serde_json::json!({"code": "invalid_parameter",
            "message": format!("Invalid phone number {}", "33612345678")}),
        _ => serde_json::json!({"code": "internal_error", "message": "try again"}),
    };
    HttpResponse::build(status).json(reply)
}
