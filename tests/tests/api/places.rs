//! AVIP places over HTTP: dated capacity, occupancy from enrollments, offer
//! holds, the availability planning, and enrolling over capacity.

use avip_tests::{TestApp, spawn_app, spawn_app_with};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde_json::{Value, json};

use crate::referrals::{Territory, create, id, move_to, new_referral, referral, territory};

use avip_tests::today as paris_today;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn plus(day: NaiveDate, n: u64) -> NaiveDate {
    day.checked_add_days(Days::new(n)).unwrap()
}

/// The weekdays of `contract()`.
const CONTRACT_DAYS: [Weekday; 4] = [Weekday::Mon, Weekday::Tue, Weekday::Thu, Weekday::Fri];

/// Why the territory's crèches (open Monday to Friday) are closed on
/// `date`, worked out from the official calendar: `None` when open.
pub(crate) fn closed(date: NaiveDate) -> Option<String> {
    let holidays = avip_sla_engine::clock::named_holidays(
        avip_sla_engine::policy::HolidayZone::Metropole,
        date.year(),
    );
    if let Some((_, name)) = holidays.iter().find(|(d, _)| *d == date) {
        return Some((*name).to_owned());
    }
    match date.weekday() {
        Weekday::Sat => Some("Fermé le samedi".to_owned()),
        Weekday::Sun => Some("Fermé le dimanche".to_owned()),
        _ => None,
    }
}

/// What the test itself recorded, and the days it expects from it, worked
/// out one day at a time.
#[derive(Default)]
struct Recorded {
    /// (from, places), as posted.
    capacity: Vec<(NaiveDate, i64)>,
    /// (first day, last day, places) of each enrolled child, on the
    /// contract's days.
    occupied: Vec<(NaiveDate, NaiveDate, i64)>,
    /// (first day, last day, places) of each offer's hold, every day (the
    /// families name a number of days a week, not which).
    held: Vec<(NaiveDate, NaiveDate, i64)>,
}

impl Recorded {
    fn day(&self, date: NaiveDate) -> Value {
        if let Some(label) = closed(date) {
            return json!({"date": date.to_string(), "open": false, "closure": label,
                "capacity": 0, "occupied": 0, "held": 0, "free": 0});
        }
        let mut changes = self.capacity.clone();
        changes.sort();
        let capacity = changes
            .iter()
            .rev()
            .find(|(from, _)| *from <= date)
            .or(changes.first())
            .map_or(0, |c| c.1);
        let sum = |spans: &[(NaiveDate, NaiveDate, i64)]| -> i64 {
            spans
                .iter()
                .filter(|(first, last, _)| *first <= date && date <= *last)
                .map(|s| s.2)
                .sum()
        };
        let occupied = if CONTRACT_DAYS.contains(&date.weekday()) {
            sum(&self.occupied)
        } else {
            0
        };
        let held = sum(&self.held);
        json!({"date": date.to_string(), "open": true, "capacity": capacity,
               "occupied": occupied, "held": held, "free": (capacity - occupied - held).max(0)})
    }

    fn days(&self, from: NaiveDate, to: NaiveDate) -> Vec<Value> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .map(|d| self.day(d))
            .collect()
    }
}

async fn availability(
    app: &TestApp,
    token: &str,
    creche: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Value {
    let path = format!("/api/v1/creches/{creche}/availability?from={from}&to={to}");
    app.expect(token, "GET", &path, None, 200).await
}

/// A referral moved to `offered` by the coordinator.
async fn offered(app: &TestApp, t: &Territory, body: Value) -> String {
    let r = id(&create(app, &t.prescriber, "/api/v1/referrals", body).await);
    move_to(app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    r
}

fn contract(start: NaiveDate, end: NaiveDate) -> Value {
    json!({"start_date": start.to_string(), "contract_end_date": end.to_string(),
           "days": ["mon", "tue", "thu", "fri"]})
}

async fn enroll(app: &TestApp, t: &Territory, referral: &str, body: Value, status: u16) -> Value {
    let path = format!("/api/v1/referrals/{referral}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(body), status)
        .await
}

#[tokio::test]
async fn availability_follows_enrollments_renewals_exits_holds_and_capacity_changes() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_OFFER_HOLD".into(), "3d".into());
    })
    .await;
    let t = territory(&app).await;
    let today = paris_today();
    let day = |n| plus(today, n);
    let mut rec = Recorded::default();
    rec.capacity.push((today, 6));

    // Capacity changes in the middle of the period: 4 places from day 20,
    // 7 from day 30. The history keeps every change.
    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    for (from, places) in [(day(20), 4), (day(30), 7)] {
        create(
            &app,
            &t.coordinator,
            &path,
            json!({"from": from.to_string(), "avip_places": places}),
        )
        .await;
        rec.capacity.push((from, places));
    }
    let history = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    assert_eq!(history["avip_places"], 6, "today's places: {history}");
    let froms: Vec<&str> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["from"].as_str().unwrap())
        .collect();
    assert_eq!(
        froms,
        [today.to_string(), day(20).to_string(), day(30).to_string()]
    );

    // Alice: enrolled from day 2 to day 50.
    let alice = offered(&app, &t, referral(&t.creche, "Alice")).await;
    enroll(&app, &t, &alice, contract(day(2), day(50)), 201).await;
    rec.occupied.push((day(2), day(50), 1));

    // Bruno: enrolled from day 5 to day 15, renewed to day 25.
    let bruno = offered(&app, &t, referral(&t.creche, "Bruno")).await;
    enroll(&app, &t, &bruno, contract(day(5), day(15)), 201).await;
    let renewed = app
        .expect(
            &t.coordinator,
            "PATCH",
            &format!("/api/v1/referrals/{bruno}/enrollment"),
            Some(json!({"contract_end_date": day(25).to_string()})),
            200,
        )
        .await;
    assert_eq!(renewed["enrollment"]["renewals"], 1);
    rec.occupied.push((day(5), day(25), 1));

    // Chloé: contract to day 60, but she leaves on day 10.
    let chloe = offered(&app, &t, referral(&t.creche, "Chloé")).await;
    enroll(&app, &t, &chloe, contract(day(1), day(60)), 201).await;
    let exit = json!({"date": day(10).to_string(), "reason": "employment",
        "employment_status": "employed_permanent", "positive": true,
        "childcare_solution": "same_creche"});
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{chloe}/exit"),
        Some(exit),
        200,
    )
    .await;
    rec.occupied.push((day(1), day(10), 1));

    // Twins take two places, from day 3 to day 8.
    let mut twins = referral(&t.creche, "Léo");
    twins["children"] = json!([
        {"first_name": "Léo", "birth_date": "2025-06-01"},
        {"first_name": "Léa", "birth_date": "2025-06-01"}]);
    let twins = offered(&app, &t, twins).await;
    enroll(&app, &t, &twins, contract(day(3), day(8)), 201).await;
    rec.occupied.push((day(3), day(8), 2));

    // Dina's offer is not answered: it holds a place for AVIP_OFFER_HOLD
    // (3 days), then expires.
    offered(&app, &t, referral(&t.creche, "Dina")).await;
    rec.held.push((today, day(2), 1));

    // Emma's offer is declined the day it is made: it holds nothing.
    let emma = offered(&app, &t, referral(&t.creche, "Emma")).await;
    move_to(
        &app,
        &t.coordinator,
        &emma,
        json!({"to": "declined", "reason": "no_place_matching_hours"}),
        200,
    )
    .await;

    // A waitlisted family holds nothing either.
    let fanny = new_referral(&app, &t.prescriber, &t.creche, "Fanny").await;
    move_to(
        &app,
        &t.coordinator,
        &id(&fanny),
        json!({"to": "waitlisted"}),
        200,
    )
    .await;

    let (from, to) = (today, day(64));
    let got = availability(&app, &t.prescriber, &t.creche, from, to).await;
    assert_eq!(got["creche_id"], t.creche.as_str());
    assert_eq!(got["from"], from.to_string());
    assert_eq!(got["to"], to.to_string());
    let expected = rec.days(from, to);
    for (got, want) in got["days"].as_array().unwrap().iter().zip(&expected) {
        assert_eq!(got, want);
    }
    assert_eq!(got["days"].as_array().unwrap().len(), expected.len());

    // Periods that start and end inside bookings, and a single day.
    for (a, b) in [
        (day(7), day(9)),
        (day(10), day(11)),
        (day(25), day(25)),
        (day(2), day(20)),
    ] {
        let got = availability(&app, &t.coordinator, &t.creche, a, b).await;
        assert_eq!(got["days"], json!(rec.days(a, b)), "{a}..{b}");
    }

    // The département's planning says the same, crèche by crèche.
    let path = format!("/api/v1/availability?departement=83&from={from}&to={to}");
    let all = app.expect(&t.prescriber, "GET", &path, None, 200).await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    let ours = items
        .iter()
        .find(|i| i["creche_id"] == t.creche.as_str())
        .unwrap();
    assert_eq!(ours["name"], "Les Petits Pas");
    assert_eq!(ours["commune"], "Toulon");
    assert_eq!(ours["days"], json!(expected));
    let other = items
        .iter()
        .find(|i| i["creche_id"] == t.other_creche.as_str())
        .unwrap();
    let mut empty = Recorded::default();
    empty.capacity.push((today, 6));
    assert_eq!(other["days"], json!(empty.days(from, to)));
    // Without a département: the caller's own.
    let path = format!("/api/v1/availability?from={from}&to={to}");
    let own = app.expect(&t.prescriber, "GET", &path, None, 200).await;
    assert_eq!(own["departement"], "83");
    assert_eq!(own["items"], all["items"]);
}

#[tokio::test]
async fn enrolling_where_no_place_is_free_needs_a_forced_reason() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    // From the leap day on, the crèche keeps a single AVIP place.
    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    create(
        &app,
        &t.admin,
        &path,
        json!({"from": "2028-02-29", "avip_places": 1}),
    )
    .await;

    let first = offered(&app, &t, referral(&t.creche, "Hugo")).await;
    enroll(
        &app,
        &t,
        &first,
        contract(d("2028-02-27"), d("2028-02-29")),
        201,
    )
    .await;

    let second = offered(&app, &t, referral(&t.creche, "Inès")).await;
    let refused = enroll(
        &app,
        &t,
        &second,
        contract(d("2028-02-28"), d("2028-03-03")),
        409,
    )
    .await;
    assert_eq!(refused["code"], "no_free_place");
    assert_eq!(refused["first_full_day"], "2028-02-29");
    assert_eq!(refused["first_full_weekday"], "tue");
    assert!(refused["detail"].as_str().unwrap().contains("force_reason"));
    // Nothing was written: still offered, no enrollment.
    let r = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{second}"),
            None,
            200,
        )
        .await;
    assert_eq!(r["status"], "offered");
    assert_eq!(r["enrollment"], Value::Null);

    let mut forced = contract(d("2028-02-28"), d("2028-03-03"));
    forced["force"] = json!(true);
    let problem = enroll(&app, &t, &second, forced.clone(), 422).await;
    assert_eq!(problem["errors"][0]["field"], "force_reason");
    let mut reason_only = contract(d("2028-02-28"), d("2028-03-03"));
    reason_only["force_reason"] = json!("sortie d'hospitalisation");
    let problem = enroll(&app, &t, &second, reason_only, 422).await;
    assert_eq!(problem["errors"][0]["field"], "force");

    forced["force_reason"] = json!("mère en reprise d'emploi lundi, accord de la direction");
    let enrolled = enroll(&app, &t, &second, forced, 201).await;
    assert_eq!(enrolled["status"], "enrolled");
    let events = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{second}/events"),
            None,
            200,
        )
        .await;
    let overrides: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "capacity_override")
        .collect();
    assert_eq!(overrides.len(), 1, "{events}");
    assert_eq!(
        overrides[0]["note"],
        "mère en reprise d'emploi lundi, accord de la direction"
    );
    assert_eq!(overrides[0]["data"]["first_full_day"], "2028-02-29");

    // Over capacity is shown as it is: two children, one place, none free.
    // Sunday is closed; Wednesday is no contract's day.
    let got = availability(
        &app,
        &t.prescriber,
        &t.creche,
        d("2028-02-27"),
        d("2028-03-02"),
    )
    .await;
    let days: Vec<(i64, i64, i64)> = got["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["capacity"].as_i64().unwrap(),
                d["occupied"].as_i64().unwrap(),
                d["free"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [(0, 0, 0), (6, 2, 4), (1, 2, 0), (1, 0, 1), (1, 1, 0)]
    );
    assert_eq!(got["days"][0]["open"], false);
    assert_eq!(got["days"][0]["closure"], "Fermé le dimanche");
    assert_eq!(got["days"][2]["date"], "2028-02-29");

    // A renewal into full days is refused the same way.
    let patch = format!("/api/v1/referrals/{first}/enrollment");
    let refused = app
        .expect(
            &t.coordinator,
            "PATCH",
            &patch,
            Some(json!({"contract_end_date": "2028-03-03"})),
            409,
        )
        .await;
    assert_eq!(
        refused["first_full_day"], "2028-03-02",
        "Wednesday is no contract day"
    );
    assert_eq!(refused["first_full_weekday"], "thu");
    let renewed = app
        .expect(
            &t.coordinator,
            "PATCH",
            &patch,
            Some(json!({"contract_end_date": "2028-03-03", "force": true,
                        "force_reason": "continuité pendant la formation"})),
            200,
        )
        .await;
    assert_eq!(renewed["enrollment"]["contract_end_date"], "2028-03-03");
}

#[tokio::test]
async fn an_offer_holds_the_place_another_family_would_take() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let today = paris_today();
    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    create(
        &app,
        &t.coordinator,
        &path,
        json!({"from": today.to_string(), "avip_places": 1}),
    )
    .await;
    // The only place is offered to Jules: it is held for 7 days, on the
    // days the crèche opens.
    offered(&app, &t, referral(&t.creche, "Jules")).await;
    let got = availability(&app, &t.prescriber, &t.creche, today, plus(today, 7)).await;
    let held: Vec<i64> = got["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["held"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (0..8)
        .map(|i| i64::from(i < 7 && closed(plus(today, i)).is_none()))
        .collect();
    assert_eq!(held, expected);
    // Another offer finds the place held: refused, unless forced.
    let body = referral(&t.creche, "Karim");
    let karim = id(&create(&app, &t.prescriber, "/api/v1/referrals", body).await);
    let refused = move_to(&app, &t.coordinator, &karim, json!({"to": "offered"}), 409).await;
    assert_eq!(refused["code"], "no_free_place");
    let forced = json!({"to": "offered", "force": true, "force_reason": "famille prioritaire"});
    move_to(&app, &t.coordinator, &karim, forced, 200).await;
    // Karim cannot start while Jules's offer holds the place, and can once
    // it has expired.
    let first_open = (3..7)
        .map(|i| plus(today, i))
        .find(|d| closed(*d).is_none() && CONTRACT_DAYS.contains(&d.weekday()));
    if let Some(first_open) = first_open {
        let refused = enroll(
            &app,
            &t,
            &karim,
            contract(plus(today, 3), plus(today, 30)),
            409,
        )
        .await;
        assert_eq!(refused["first_full_day"], first_open.to_string());
    }
    enroll(
        &app,
        &t,
        &karim,
        contract(plus(today, 7), plus(today, 30)),
        201,
    )
    .await;
}

#[tokio::test]
async fn who_may_read_and_change_places_and_what_is_refused() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let today = paris_today();
    let avail = format!("/api/v1/creches/{}/availability", t.creche);
    // Prescribers, coordinators (any crèche) and admins read; the CAF does not.
    for token in [&t.prescriber, &t.other_coordinator, &t.admin] {
        let got = app.expect(token, "GET", &avail, None, 200).await;
        // Default period: from today, a month.
        assert_eq!(got["from"], today.to_string());
        let month = today
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
            .pred_opt()
            .unwrap();
        assert_eq!(got["to"], month.to_string());
    }
    app.expect(&t.caf, "GET", &avail, None, 403).await;
    app.expect(&t.caf, "GET", "/api/v1/availability", None, 403)
        .await;

    // Bad periods name the parameter.
    for (query, field) in [
        ("from=2027-02-30", "from"),
        ("from=2027-03-01&to=2027-02-28", "to"),
        ("from=2027-01-01&to=2028-01-02", "to"),
        ("from=2027-01-01&until=2027-02-01", "until"),
    ] {
        let problem = app
            .expect(&t.prescriber, "GET", &format!("{avail}?{query}"), None, 400)
            .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    // A year, leap day included, is fine.
    let year = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("{avail}?from=2028-01-01&to=2028-12-31"),
            None,
            200,
        )
        .await;
    assert_eq!(year["days"].as_array().unwrap().len(), 366);
    let problem = app
        .expect(
            &t.prescriber,
            "GET",
            "/api/v1/availability?departement=ZZ",
            None,
            400,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "departement");
    let unknown = "/api/v1/creches/0193a5b0-7c1e-7d2a-9b1e-00000000dead/availability";
    app.expect(&t.prescriber, "GET", unknown, None, 404).await;

    // Capacity: the crèche's coordinators and admins.
    let capacity = format!("/api/v1/creches/{}/capacity", t.creche);
    let change = json!({"from": plus(today, 30).to_string(), "avip_places": 8});
    app.expect(&t.prescriber, "POST", &capacity, Some(change.clone()), 403)
        .await;
    app.expect(&t.caf, "GET", &capacity, None, 403).await;
    app.expect(
        &t.other_coordinator,
        "POST",
        &capacity,
        Some(change.clone()),
        404,
    )
    .await;
    app.expect(&t.other_coordinator, "GET", &capacity, None, 404)
        .await;
    let problem = app
        .expect(
            &t.coordinator,
            "POST",
            &capacity,
            Some(json!({"from": (today - chrono::Duration::days(1)).to_string(), "avip_places": 501})),
            422,
        )
        .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["from", "avip_places"]);
    let problem = app
        .expect(
            &t.coordinator,
            "POST",
            &capacity,
            Some(json!({"from": "2027-01-01"})),
            422,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "avip_places");
    // Correcting a planned change replaces that day's value only.
    app.expect(&t.coordinator, "POST", &capacity, Some(change), 201)
        .await;
    let fixed = json!({"from": plus(today, 30).to_string(), "avip_places": 9});
    let history = app
        .expect(&t.admin, "POST", &capacity, Some(fixed), 201)
        .await;
    let changes = history["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{history}");
    assert_eq!(changes[0]["avip_places"], 6);
    assert_eq!(changes[1]["avip_places"], 9);
    assert!(
        changes[1]["recorded_by"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    // PATCH avip_places is a change from today; the crèche shows today's.
    let creche = format!("/api/v1/creches/{}", t.creche);
    let patched = app
        .expect(
            &t.coordinator,
            "PATCH",
            &creche,
            Some(json!({"avip_places": 5})),
            200,
        )
        .await;
    assert_eq!(patched["avip_places"], 5);
    let history = app
        .expect(&t.coordinator, "GET", &capacity, None, 200)
        .await;
    assert_eq!(history["changes"][0]["avip_places"], 5);
    assert_eq!(history["changes"][0]["from"], today.to_string());
    assert_eq!(history["changes"][1]["avip_places"], 9);
}
