//! The working-days clock through the service: referrals received before a
//! public holiday get the deadline a coordinator's calendar gives, in both
//! holiday zones — in their `sla` block, and in when the sweep fires
//! (`avip sla sweep --at … --dry-run` runs the same function).

use avip_db::model::{ReferralId, SlaStage};
use avip_db::schema::referrals;
use avip_tests::{TestApp, spawn_app};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::referrals::{id, new_referral, territory};

/// Moves a referral's receipt to `at` (the service cannot be asked to
/// receive in the past).
fn received_at(app: &TestApp, id: &str, at: &str) {
    let at: DateTime<Utc> = at.parse().unwrap();
    let mut conn = app.db.connect();
    let id = ReferralId::parse(id).unwrap();
    diesel::update(referrals::table.find(&id))
        .set(referrals::received_at.eq(at.naive_utc()))
        .execute(&mut conn)
        .unwrap();
    avip_db::tallies::changed(&mut conn, &id).unwrap();
}

/// What the sweep would fire for `id` at `at`: the stages reached.
fn fires(app: &TestApp, id: &str, at: &str) -> Vec<Option<SlaStage>> {
    let at: DateTime<Utc> = at.parse().unwrap();
    let mut conn = app.db.connect();
    let active =
        avip_sla_engine::store::activate(&mut conn, &app.settings.sla, Utc::now()).unwrap();
    let gate = avip_db::WriteGate::for_backend(app.db.backend);
    let options = avip_sla_engine::sweep::SweepOptions::new("http://localhost", false);
    let report =
        avip_sla_engine::sweep::sweep(&mut conn, &gate, &active, &options, at, true).unwrap();
    report
        .fired
        .iter()
        .filter(|f| f.referral_id.to_string() == id)
        .map(|f| f.stage)
        .collect()
}

async fn sla(app: &TestApp, token: &str, id: &str) -> Value {
    app.expect(token, "GET", &format!("/api/v1/referrals/{id}"), None, 200)
        .await["sla"]
        .clone()
}

fn minute_before(t: &str) -> String {
    (t.parse::<DateTime<Utc>>().unwrap() - Duration::minutes(1)).to_rfc3339()
}

fn minute_after(t: &str) -> String {
    (t.parse::<DateTime<Utc>>().unwrap() + Duration::minutes(1)).to_rfc3339()
}

#[tokio::test]
async fn working_days_skip_the_holidays_of_each_zone_in_the_sla_block_and_the_sweep() {
    // (zone, deadline of the Friday before Whit Monday, of the Thursday
    // before Good Friday)
    for (zone, whit_due, easter_due) in [
        ("metropole", "2027-05-20T13:00:00Z", "2027-03-31T13:00:00Z"),
        (
            "alsace_moselle",
            "2027-05-20T13:00:00Z",
            "2027-04-01T13:00:00Z",
        ),
    ] {
        let app = spawn_app().await;
        let t = territory(&app).await;
        // Friday 14 May 2027, 15:00 in Paris; Monday 17 is Whit Monday.
        let whit = id(&new_referral(&app, &t.prescriber, &t.creche, "Yanis").await);
        received_at(&app, &whit, "2027-05-14T13:00:00Z");
        // Thursday 25 March 2027, 15:00 in Paris; Friday 26 is Good Friday
        // (a holiday in Alsace-Moselle only), Monday 29 Easter Monday.
        let easter = id(&new_referral(&app, &t.prescriber, &t.creche, "Lina").await);
        received_at(&app, &easter, "2027-03-25T14:00:00Z");
        // The operator switches to working days: a new policy version
        // recomputes every open clock at start.
        let app = app
            .restart(
                |env| {
                    env.insert("AVIP_SLA_CLOCK".into(), "working_days".into());
                    env.insert("AVIP_HOLIDAY_ZONE".into(), zone.into());
                },
                false,
            )
            .await;
        for (referral, due) in [(&whit, whit_due), (&easter, easter_due)] {
            let block = sla(&app, &t.coordinator, referral).await;
            assert_eq!(block["clock"], "working_days", "{zone}: {block}");
            let got: DateTime<Utc> = block["due_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(
                got,
                due.parse::<DateTime<Utc>>().unwrap(),
                "{zone}: {block}"
            );
            assert!(
                fires(&app, referral, &minute_before(due))
                    .iter()
                    .all(|s| *s != Some(SlaStage::Breach)),
                "{zone}: no breach before the deadline"
            );
            assert!(
                fires(&app, referral, &minute_after(due)).contains(&Some(SlaStage::Breach)),
                "{zone}: the breach fires at the deadline {due}"
            );
        }
        // The warning (two working days) for the Friday: Wednesday 19 May,
        // 15:00 in Paris, not Sunday.
        assert!(
            fires(&app, &whit, "2027-05-16T13:30:00Z").is_empty(),
            "{zone}: nothing on Sunday"
        );
        assert!(
            fires(&app, &whit, "2027-05-19T12:59:00Z").is_empty(),
            "{zone}"
        );
        assert_eq!(
            fires(&app, &whit, "2027-05-19T13:01:00Z"),
            vec![Some(SlaStage::Warning)],
            "{zone}"
        );
    }
}
