//! A real SMTP server on 127.0.0.1 (mailin-embedded, in this process) that
//! keeps what it receives, and can be told to refuse mail for a while.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{self, Response};

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope's recipients.
    pub to: Vec<String>,
    /// The message as sent, headers and body.
    pub raw: String,
}

impl Received {
    /// A header's value (unfolded), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    pub fn message_id(&self) -> String {
        self.header("Message-ID").unwrap_or_default()
    }

    /// The decoded subject, text body and HTML body.
    pub fn decoded(&self) -> (String, String, String) {
        let parsed = mail_parser::MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("the message parses");
        let text = parsed.body_text(0).map(|t| t.into_owned());
        let html = parsed.body_html(0).map(|t| t.into_owned());
        (
            parsed.subject().unwrap_or_default().to_owned(),
            text.unwrap_or_default(),
            html.unwrap_or_default(),
        )
    }
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    refusing: AtomicBool,
    /// Attempts refused while refusing.
    refused: Mutex<usize>,
    /// Milliseconds between a message's end and the answer to it.
    slow: std::sync::atomic::AtomicU64,
}

#[derive(Clone)]
struct Handler {
    state: Arc<State>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for Handler {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        if self.state.refusing.load(Ordering::SeqCst) {
            *self.state.refused.lock().unwrap() += 1;
            return response::INTERNAL_ERROR;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&self.data).into_owned();
        self.state.received.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            raw,
        });
        // Received before it is answered, so that a test sees it in flight.
        let slow = self.state.slow.load(Ordering::SeqCst);
        if slow > 0 {
            std::thread::sleep(Duration::from_millis(slow));
        }
        response::OK
    }
}

/// The server; it runs on its own threads until the test process ends.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<State>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port for SMTP");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let handler = Handler {
            state: state.clone(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("sink.test")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { port, state }
    }

    /// `AVIP_SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// While refusing, every message is answered 451 (a temporary failure).
    pub fn refuse(&self, refusing: bool) {
        self.state.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Each message is answered `delay` after its end.
    pub fn slow(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.slow.store(millis, Ordering::SeqCst);
    }

    pub fn refused(&self) -> usize {
        *self.state.refused.lock().unwrap()
    }

    /// Waits until `done` holds for what was received, or `timeout` passes;
    /// returns what was received either way.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        crate::wait_until(timeout, || self.received(), done).await
    }
}
