//! `GET /metrics`: the Prometheus exposition moves with the service's work,
//! carries no id, and can be served off the main address.

use avip_tests::{TestApp, spawn_app, spawn_app_with};
use serde_json::json;

use crate::referrals::{id, new_referral, territory};

pub(crate) async fn scrape(app: &TestApp) -> String {
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    r.text().await.unwrap()
}

/// The value of the sample whose name and labels start with `series`.
pub(crate) fn value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn a_referral_posted_and_moved_moves_the_counters_and_no_id_is_a_label() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let before = scrape(&app).await;
    assert!(
        before.contains("avip_build_info{version=\"0.1.0\"} 1"),
        "{before}"
    );
    for family in [
        "# TYPE avip_http_requests_total counter",
        "# TYPE avip_http_request_duration_seconds histogram",
        "avip_outbox_pending{kind=\"email\"}",
        "avip_outbox_oldest_pending_age_seconds{kind=\"email\"}",
        "avip_outbox_failed_attempts{kind=\"email\"}",
        "avip_sla_open_breaches",
        "avip_db_pool_connections{state=\"in_use\"}",
        "avip_sqlite_writer_queue_depth",
    ] {
        assert!(before.contains(family), "{family} in {before}");
    }

    let r = new_referral(&app, &t.prescriber, &t.creche, "Yanis").await;
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{}/transitions", id(&r)),
        Some(json!({"to": "contacted"})),
        200,
    )
    .await;
    let after = scrape(&app).await;
    // Other tests of this process add to the same counters: at least ours.
    assert!(
        value(&after, "avip_referrals_received_total")
            >= value(&before, "avip_referrals_received_total") + 1.0
    );
    let moved = "avip_referral_moves_total{to=\"contacted\"}";
    assert!(
        value(&after, moved) >= value(&before, moved) + 1.0,
        "{after}"
    );
    let posted =
        "avip_http_requests_total{method=\"POST\",route=\"/api/v1/referrals\",status=\"201\"}";
    assert!(value(&after, posted) >= 1.0, "{after}");
    assert!(
        after.contains("route=\"/api/v1/referrals/{id}/transitions\""),
        "routes are templates: {after}"
    );
    for id in [id(&r), t.creche.clone()] {
        assert!(!after.contains(&id), "an id in the metrics: {id}");
    }
    assert!(!after.contains("Benali"));
}

#[tokio::test]
async fn metrics_bind_serves_them_off_the_main_address() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_METRICS_BIND".into(), "127.0.0.1:0".into());
    })
    .await;
    let main = app.get("/metrics").await;
    assert_eq!(main.status(), 404);
    let port = app.metrics_port.expect("a metrics port");
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("avip_build_info"));
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "only the metrics there");
}
