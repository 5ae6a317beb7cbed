//! A webhook receiver on 127.0.0.1 for the tests: a real HTTP server that
//! records every request it gets and answers 204, or 503 while it is
//! "down", after a delay while it is "slow".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as the receiver got it.
#[derive(Clone, Debug)]
pub struct Hit {
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub answered: u16,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The headers as the `http` crate's map, for `standardwebhooks`.
    pub fn http_headers(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            ) {
                map.append(n, v);
            }
        }
        map
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    down: AtomicBool,
    /// Milliseconds to wait before answering.
    slow: AtomicU64,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1; `url` ends in `/hook`.
    pub fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let state = shared.clone();
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move {
                    let answered = if state.down.load(Ordering::SeqCst) {
                        503
                    } else {
                        204
                    };
                    // Recorded as it arrives, so that a test sees it in flight.
                    state.hits.lock().unwrap().push(Hit {
                        headers: req.headers().clone(),
                        body: body.to_vec(),
                        answered,
                    });
                    let slow = state.slow.load(Ordering::SeqCst);
                    if slow > 0 {
                        tokio::time::sleep(Duration::from_millis(slow)).await;
                    }
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap())
                        .finish()
                }
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
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            shared,
            handle,
        }
    }

    /// While down, every request is answered 503.
    pub fn down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Each answer comes `delay` after its request.
    pub fn slow(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.slow.store(millis, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the hits, or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        crate::wait_until(timeout, || self.hits(), done).await
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}
