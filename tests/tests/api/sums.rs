//! The indicators' daily sums: kept in the transactions that change a
//! referral, they give exactly what counting every referral gives.

use avip_db::schema::{indicator_days, indicator_state, referrals};
use avip_tests::{TestApp, spawn_app};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::evaluation::{ask_at, enrolled, exit_on, link_in, noon, outbox_bodies, page};
use crate::referrals::{Territory, id, move_to, new_referral, territory, today};

/// The year's indicators as the CAF downloads them, by every grouping.
async fn figures(app: &TestApp, t: &Territory) -> Vec<Value> {
    let year = chrono::Datelike::year(&today());
    let mut all = Vec::new();
    for group in ["month", "creche", "prescriber_kind", "prescriber"] {
        let path = format!(
            "/api/v1/exports/indicators?from={year}-01-01&to={year}-12-31&group_by={group}&format=json"
        );
        all.push(app.expect(&t.caf, "GET", &path, None, 200).await);
    }
    all
}

type DayRow = (
    chrono::NaiveDate,
    String,
    String,
    avip_db::tallies::Counts,
    String,
);

/// The days' sums as stored, the days some referral still counts in.
fn sums(app: &TestApp) -> Vec<DayRow> {
    use indicator_days as d;
    let mut conn = app.db.connect();
    d::table
        .filter(d::received.gt(0))
        .select((
            d::day,
            d::creche_id,
            d::prescriber_organization_id,
            avip_db::tallies::Counts::as_select(),
            d::response_seconds,
        ))
        .order((d::day, d::creche_id, d::prescriber_organization_id))
        .load(&mut conn)
        .unwrap()
}

/// A referral at each stage of its life, and changes of every kind: a
/// first response, a decline, a withdrawal before any answer, an offer,
/// enrollments, exits, a correction, an outcome asked and answered.
async fn a_year_of_referrals(app: &TestApp, t: &Territory) {
    let waiting = id(&new_referral(app, &t.prescriber, &t.creche, "Waiting").await);
    {
        // Received at half past midnight on the 1st in Paris: still the
        // previous month in UTC. The month is Paris's, in the sums and in
        // the waits the clock decides, on both databases.
        use chrono::Datelike;
        let first = today().with_day(1).unwrap();
        // 23:30 UTC the day before: 00:30 in winter, 01:30 in summer.
        let at = first.and_hms_opt(0, 30, 0).unwrap() - chrono::Duration::hours(1);
        assert_eq!(avip_sla_engine::clock::paris_date(at.and_utc()), first);
        assert_ne!(at.month(), first.month(), "{at} is the month before in UTC");
        let mut conn = app.db.connect();
        let waiting = avip_db::model::ReferralId::parse(&waiting).unwrap();
        diesel::update(referrals::table.find(&waiting))
            .set(referrals::received_at.eq(at))
            .execute(&mut conn)
            .unwrap();
        avip_db::tallies::changed(&mut conn, &waiting).unwrap();
    }
    let late = id(&new_referral(app, &t.other_prescriber, &t.other_creche, "Late").await);
    {
        // Its deadline passed (the clock's part, counted from the referral).
        let mut conn = app.db.connect();
        let past = (chrono::Utc::now() - chrono::Duration::hours(1)).naive_utc();
        diesel::update(referrals::table.find(&late))
            .set(referrals::sla_due_at.eq(past))
            .execute(&mut conn)
            .unwrap();
    }
    let contacted = id(&new_referral(app, &t.prescriber, &t.creche, "Contacted").await);
    move_to(
        app,
        &t.coordinator,
        &contacted,
        json!({"to": "contacted"}),
        200,
    )
    .await;
    let declined = id(&new_referral(app, &t.prescriber, &t.creche, "Declined").await);
    let decline = json!({"to": "declined", "reason": "no_place_matching_hours"});
    move_to(app, &t.coordinator, &declined, decline, 200).await;
    let withdrawn = id(&new_referral(app, &t.prescriber, &t.creche, "Withdrawn").await);
    let withdraw = json!({"to": "withdrawn", "reason": "family_moved"});
    move_to(app, &t.prescriber, &withdrawn, withdraw, 200).await;
    enrolled(app, t, "Enrolled").await;
    let exits = [
        ("employment", "employed_permanent"),
        ("family_moved", "job_search"),
        ("employment", "temp_work"),
    ];
    let mut exited = Vec::new();
    for (n, (reason, status)) in exits.into_iter().enumerate() {
        let r = enrolled(app, t, &format!("Exited{n}")).await;
        let path = format!("/api/v1/referrals/{r}/exit");
        let body = exit_on(today(), reason, status);
        app.expect(&t.coordinator, "POST", &path, Some(body), 200)
            .await;
        exited.push(r);
    }
    let correction = json!({"employment_status": "training", "reason": "training",
        "correction_reason": "formation qualifiante, saisie par erreur"});
    let path = format!("/api/v1/referrals/{}/exit/corrections", exited[1]);
    app.expect(&t.coordinator, "POST", &path, Some(correction), 200)
        .await;
    let three = today() + chrono::Months::new(3);
    assert_eq!(ask_at(app, noon(three)), 3);
    let key = format!("referent:outcome_request:3_months:{}", exited[0]);
    let link = link_in(&outbox_bodies(app, &key)[0]);
    assert_eq!(page(app, &link, Some("employed_fixed_term")).await.0, 200);
}

#[tokio::test]
async fn the_days_sums_give_what_counting_every_referral_gives() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    a_year_of_referrals(&app, &t).await;
    let from_sums = figures(&app, &t).await;

    // Added up from scratch: the same rows as kept change by change.
    let kept = sums(&app);
    let counted = {
        let mut conn = app.db.connect();
        avip_db::tallies::rebuild(&mut conn, chrono::Utc::now().naive_utc()).unwrap()
    };
    assert_eq!(counted, 9);
    assert_eq!(sums(&app), kept);
    assert_eq!(figures(&app, &t).await, from_sums);

    // Without the sums, the indicators count every referral: the same.
    {
        let mut conn = app.db.connect();
        diesel::delete(indicator_state::table)
            .execute(&mut conn)
            .unwrap();
    }
    let counted_one_by_one = figures(&app, &t).await;
    assert_eq!(counted_one_by_one, from_sums);
    let this_month = today().format("%Y-%m").to_string();
    let months = from_sums[0].as_array().unwrap();
    let month = months.iter().find(|g| g["group"] == this_month).unwrap();
    for (column, expected) in [
        ("received", 9),
        ("answered", 6),
        ("pending_first_response", 1),
        ("answered_late", 1),
        ("enrollments", 4),
        ("exits", 3),
        ("positive_exits", 3),
        ("exits_in_work", 2),
        ("exits_in_training", 1),
        ("outcomes_3_months_asked", 3),
        ("outcomes_3_months_answered", 1),
        ("in_work_at_3_months", 1),
    ] {
        assert_eq!(month[column], expected, "{column}: {month}");
    }
}

/// The places taken, read from the steps the triggers keep, are those read
/// from every booking: after offers, enrollments, exits and a correction
/// through the API, then bookings written, moved, cut, given other days and
/// deleted straight in the database, for periods before, across and after
/// them.
#[tokio::test]
async fn the_places_taken_from_the_steps_are_those_of_every_booking() {
    use avip_db::model::{BookingKind, CrecheId, ReferralId};
    use avip_db::places::{self, Booking, Period};
    let app = spawn_app().await;
    let t = territory(&app).await;
    a_year_of_referrals(&app, &t).await;
    let creches = vec![
        CrecheId::parse(&t.creche).unwrap(),
        CrecheId::parse(&t.other_creche).unwrap(),
    ];
    let day = |n: i64| today() + chrono::Duration::days(n);
    let ids: Vec<ReferralId> = {
        let mut conn = app.db.connect();
        referrals::table
            .filter(referrals::creche_id.eq(&creches[0]))
            .select(referrals::id)
            .load(&mut conn)
            .unwrap()
    };
    let mut conn = app.db.connect();
    avip_db::write_transaction(&mut conn, |conn| {
        for (n, referral) in ids.iter().enumerate() {
            let n = n as i64;
            let booking = Booking {
                referral_id: referral.clone(),
                kind: if n % 3 == 0 {
                    BookingKind::Offer
                } else {
                    BookingKind::Enrollment
                },
                creche_id: creches[0].clone(),
                places: 1 + (n % 2) as i32,
                starts_on: day(-200 + 37 * n),
                ends_before: day(-100 + 53 * n),
                days: [127, 3, 21, 96, 1][n as usize % 5],
            };
            places::book(conn, &booking)?;
            places::change_days(conn, referral, booking.kind, day(-150 + 41 * n), 10)?;
            if n % 2 == 0 {
                places::set_end(conn, referral, booking.kind, day(-120 + 29 * n))?;
            }
        }
        // A booking that ends before it starts takes nothing either way.
        places::book(
            conn,
            &Booking {
                referral_id: ids[0].clone(),
                kind: BookingKind::Offer,
                creche_id: creches[0].clone(),
                places: 2,
                starts_on: day(10),
                ends_before: day(10),
                days: 127,
            },
        )?;
        Ok::<_, avip_db::QueryError>(())
    })
    .unwrap();
    // Deleted (a trigger takes its steps away).
    diesel::delete(
        avip_db::schema::place_bookings::table
            .filter(avip_db::schema::place_bookings::referral_id.eq(&ids[1])),
    )
    .execute(&mut conn)
    .unwrap();
    let open = |_: usize, _: chrono::NaiveDate| None;
    for (from, to) in [
        (-400, -250),
        (-300, 0),
        (-130, 200),
        (-1, 1),
        (100, 465),
        (500, 800),
    ] {
        let period = Period {
            from: day(from),
            to: day(to),
        };
        let stepped = places::availability(&mut conn, &creches, period, &[], &open).unwrap();
        let counted =
            places::availability_by_bookings(&mut conn, &creches, period, &[], &open).unwrap();
        assert_eq!(stepped, counted, "{from}..{to}");
        assert!(
            counted.iter().flatten().any(|d| d.occupied + d.held > 0) || from >= 500 || to <= -250,
            "the period {from}..{to} sees some booking"
        );
    }
}
