//! Logs: `tracing` to standard error, filtered by `RUST_LOG` (default `info`).
//! The HTTP front-end adds each request's span (`shared::request_span`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,actix_server=warn,actix_web::middleware::logger=warn")
    });
    // A second call (as in tests) finds a subscriber already set: fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
