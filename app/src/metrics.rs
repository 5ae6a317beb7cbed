//! `GET /metrics` in the Prometheus text format (the `prometheus` crate):
//! what an operator watches. Counters move as the service works (HTTP
//! requests, referrals received and moved, SLA sweeps, the SQLite writer's
//! batches); gauges are read at each scrape (the outbox, open breaches,
//! pool connections, the writer's queue). No label carries an id: routes
//! are templates (`/api/v1/referrals/{id}`), statuses and kinds are closed
//! lists.

use std::sync::OnceLock;
use std::time::Duration;

use avip_db::{DbConnection, Pool, WriteGate};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric of the process (one registry: several servers in one
/// process, as in the tests, add to the same counters).
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    referrals_received: IntCounter,
    referral_moves: IntCounterVec,
    family_messages: IntCounterVec,
    oidc_sign_ins: IntCounterVec,
    sweeps: IntCounter,
    sweep_duration: Histogram,
    sweep_fired: IntCounterVec,
    writer_batch: Histogram,
    writer_queue: IntGauge,
    scraped: Scraped,
}

/// The figures read from the database and the pool at each scrape.
struct Scraped {
    outbox_pending: IntGaugeVec,
    outbox_oldest: IntGaugeVec,
    outbox_sent: IntGaugeVec,
    outbox_failed_attempts: IntGaugeVec,
    open_breaches: IntGauge,
    pool_connections: IntGaugeVec,
    scrape_errors: IntCounter,
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .expect("a valid metric");
    registry
        .register(Box::new(h.clone()))
        .expect("registered once");
    h
}

/// Seconds to answer a request: from a millisecond to ten seconds.
const HTTP_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let help = "The running build: always 1, its version in a label.";
        let build = gauge_vec(r, "avip_build_info", help, &["version"]);
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "avip_http_request_duration_seconds",
                "Time to answer an HTTP request (to its first byte), by route template and method.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("a valid metric");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("registered once");
        Metrics {
            http_requests: counter_vec(
                r,
                "avip_http_requests_total",
                "HTTP requests answered, by route template, method and status.",
                &["route", "method", "status"],
            ),
            http_duration,
            referrals_received: counter(
                r,
                "avip_referrals_received_total",
                "Referrals received (intake replays not counted).",
            ),
            referral_moves: counter_vec(
                r,
                "avip_referral_moves_total",
                "Referrals moved, by the status they moved to.",
                &["to"],
            ),
            family_messages: counter_vec(r, FAMILY_MESSAGES, FAMILY_HELP, &["channel", "template"]),
            oidc_sign_ins: counter_vec(
                r,
                "avip_oidc_sign_ins_total",
                "Sign-ins to the workspace through the OpenID Connect provider (ProConnect), \
                 by outcome: signed_in, unknown_person, other_siret, provider_error (the \
                 provider answered with an error), refused (an answer that does not verify, \
                 or a state not this browser's, expired or used), unavailable (the provider \
                 could not be reached).",
                &["outcome"],
            ),
            sweeps: counter(r, "avip_sla_sweeps_total", "Scheduled SLA sweeps run."),
            sweep_duration: histogram(
                r,
                "avip_sla_sweep_duration_seconds",
                "Time a scheduled SLA sweep took.",
                vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0],
            ),
            sweep_fired: counter_vec(
                r,
                "avip_sla_fired_total",
                "Items the SLA sweeps fired, by kind (first_response_warning, first_response_breach, …).",
                &["kind"],
            ),
            writer_batch: histogram(
                r,
                "avip_sqlite_writer_batch_size",
                "Writes committed together by the SQLite writer thread, per transaction.",
                vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
            ),
            writer_queue: gauge(
                r,
                "avip_sqlite_writer_queue_depth",
                "Writes waiting for the SQLite writer thread (0 on PostgreSQL).",
            ),
            scraped: Scraped::new(r),
            registry,
        }
    }
}

impl Scraped {
    fn new(r: &Registry) -> Scraped {
        Scraped {
            outbox_pending: gauge_vec(
                r,
                "avip_outbox_pending",
                "Outbox messages waiting for delivery, by kind.",
                &["kind"],
            ),
            outbox_oldest: gauge_vec(
                r,
                "avip_outbox_oldest_pending_age_seconds",
                "Age of the oldest message waiting for delivery (0 when none), by kind.",
                &["kind"],
            ),
            outbox_sent: gauge_vec(
                r,
                "avip_outbox_sent",
                "Outbox messages delivered, as the database holds them, by kind.",
                &["kind"],
            ),
            outbox_failed_attempts: gauge_vec(
                r,
                "avip_outbox_failed_attempts",
                "Delivery attempts that failed, as the database holds them, by kind.",
                &["kind"],
            ),
            open_breaches: gauge(
                r,
                "avip_sla_open_breaches",
                "Referrals still unanswered after their 72-hour deadline.",
            ),
            pool_connections: gauge_vec(
                r,
                "avip_db_pool_connections",
                "Database connections of this process's pool, by state (in_use, idle).",
                &["state"],
            ),
            scrape_errors: counter(
                r,
                "avip_metrics_database_errors_total",
                "Scrapes whose database figures could not be read.",
            ),
        }
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// An HTTP request answered (`route`: the matched template, or `unmatched`).
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let m = get();
    // A client may send any method: only the known ones are labels.
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
        _ => "other",
    };
    m.http_requests
        .with_label_values(&[route, method, &status.to_string()])
        .inc();
    m.http_duration
        .with_label_values(&[route, method])
        .observe(took.as_secs_f64());
}

pub fn referral_received() {
    get().referrals_received.inc();
}

pub fn referral_moved(to: avip_db::model::ReferralStatus) {
    get().referral_moves.with_label_values(&[to.as_str()]).inc();
}

const FAMILY_MESSAGES: &str = "avip_family_messages_total";
const FAMILY_HELP: &str = "Messages to families queued, by channel (sms, email) and template.";

/// A message to a family queued.
pub fn family_message(channel: avip_db::model::Channel, template: avip_db::model::MessageTemplate) {
    get()
        .family_messages
        .with_label_values(&[channel.as_str(), template.as_str()])
        .inc();
}

/// The end of a sign-in through the OpenID Connect provider.
pub fn oidc_sign_in(outcome: &'static str) {
    get().oidc_sign_ins.with_label_values(&[outcome]).inc();
}

/// A scheduled sweep: its duration and what fired.
pub fn sweep(took: Duration, report: &avip_sla_engine::sweep::SweepReport) {
    let m = get();
    m.sweeps.inc();
    m.sweep_duration.observe(took.as_secs_f64());
    for fired in &report.fired {
        m.sweep_fired
            .with_label_values(&[fired.kind.as_str()])
            .inc();
    }
}

/// Makes the SQLite writer thread report its batches.
pub fn watch_writer(gate: &WriteGate) {
    gate.observe_batches(|size| get().writer_batch.observe(size as f64));
}

fn database_figures(conn: &mut DbConnection) -> avip_db::QueryResult<()> {
    use avip_db::model::Channel;
    let m = get();
    for (kind, outbox) in [
        (
            "email",
            avip_db::notifications::stats(conn, Channel::Email)?,
        ),
        ("sms", avip_db::notifications::stats(conn, Channel::Sms)?),
        ("webhook", avip_db::webhooks::stats(conn)?),
    ] {
        let kind = [kind];
        m.scraped
            .outbox_pending
            .with_label_values(&kind)
            .set(outbox.pending);
        let age = outbox.oldest_pending.map_or(0, |t| {
            (chrono::Utc::now().naive_utc() - t).num_seconds().max(0)
        });
        m.scraped.outbox_oldest.with_label_values(&kind).set(age);
        m.scraped
            .outbox_sent
            .with_label_values(&kind)
            .set(outbox.sent);
        m.scraped
            .outbox_failed_attempts
            .with_label_values(&kind)
            .set(outbox.failed_attempts);
    }
    m.scraped
        .open_breaches
        .set(avip_db::sla::open_breaches(conn)?);
    Ok(())
}

/// The exposition: the database figures read now, then every metric.
pub fn render(pool: &Pool, gate: &WriteGate) -> String {
    let m = get();
    let state = pool.state();
    let (total, idle) = (
        i64::from(state.connections),
        i64::from(state.idle_connections),
    );
    // This scrape's own connection is counted as in use.
    let figures =
        avip_db::blocking::checkout(pool).and_then(|mut conn| database_figures(&mut conn));
    if let Err(e) = figures {
        tracing::warn!(error = %e, "metrics: the database figures could not be read");
        m.scraped.scrape_errors.inc();
    }
    m.scraped
        .pool_connections
        .with_label_values(&["in_use"])
        .set(total - idle);
    m.scraped
        .pool_connections
        .with_label_values(&["idle"])
        .set(idle);
    m.writer_queue
        .set(i64::try_from(gate.queue_depth()).unwrap_or(i64::MAX));
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::error!(error = %e, "metrics: the exposition could not be written");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The content type of the exposition.
pub fn content_type() -> String {
    TextEncoder::new().format_type().to_owned()
}
