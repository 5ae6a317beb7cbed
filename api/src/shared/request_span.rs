//! The root span of each request: `tracing-actix-web`'s, with the client
//! address the rate limiter counts.

use actix_web::HttpMessage;

/// The root span of each request, as `tracing-actix-web` makes it, except
/// for `http.client_ip`: the address the rate limiter uses (the peer, or
/// behind a proxy of `AVIP_TRUSTED_PROXIES` the address it forwards), never
/// what any client writes in `X-Forwarded-For` or `Forwarded`.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let client_ip = client_ip(request);
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            http.target = %request.uri().path(),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

fn client_ip(request: &actix_web::dev::ServiceRequest) -> String {
    let limits = request
        .app_data::<super::State>()
        .map(|state| &state.limits);
    client_ip_with(request, limits)
}

fn client_ip_with(
    request: &actix_web::dev::ServiceRequest,
    limits: Option<&avip_app::limits::Limits>,
) -> String {
    match limits {
        Some(limits) => super::client_address(limits, request.request()).to_string(),
        None => request
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn limits(trusted: &str) -> avip_app::limits::Limits {
        let vars = std::collections::HashMap::from([(
            "AVIP_TRUSTED_PROXIES".to_owned(),
            trusted.to_owned(),
        )]);
        avip_app::limits::Limits::new(&avip_app::Settings::from_map(&vars).unwrap())
    }

    /// What a request's span says its client is, as the log prints it.
    fn logged_client(limits: &avip_app::limits::Limits, forwarded: &str) -> String {
        let request = actix_web::test::TestRequest::default()
            .peer_addr("10.0.0.7:40000".parse().unwrap())
            .insert_header(("x-forwarded-for", forwarded))
            .insert_header(("forwarded", format!("for={forwarded}")))
            .to_srv_request();
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Writer(writer.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "HTTP request",
                http.client_ip = %client_ip_with(&request, Some(limits))
            );
            span.in_scope(|| tracing::info!("answered"));
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text.split("http.client_ip=")
            .nth(1)
            .and_then(|rest| rest.split(['}', ' ', ':']).next())
            .unwrap_or("")
            .to_owned()
    }

    struct Writer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_logged_client_is_the_one_the_rate_limiter_counts() {
        // No trusted proxy: what the client writes is not believed.
        assert_eq!(logged_client(&limits(""), "203.0.113.9"), "10.0.0.7");
        // Behind a trusted proxy: the address it forwards.
        assert_eq!(
            logged_client(&limits("10.0.0.7"), "203.0.113.9"),
            "203.0.113.9"
        );
    }
}
