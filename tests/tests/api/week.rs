//! The week: bookings take their weekdays only, the crèches' calendars
//! close weekends, public holidays and recorded closures, families name
//! their days and hours, offers and enrollments check them, and matching
//! ranks the territory for a family's week.

use avip_tests::spawn_app;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde_json::{Value, json};

use crate::places::closed;
use crate::referrals::{Territory, create, id, move_to, referral, territory, today};

fn plus(day: NaiveDate, n: u64) -> NaiveDate {
    day + Days::new(n)
}

/// A Monday at least two weeks ahead whose four weeks hold no public
/// holiday, so that every weekday of them is open.
fn quiet_monday() -> NaiveDate {
    let mut monday = today() + Days::new(14);
    while monday.weekday() != Weekday::Mon {
        monday = monday.succ_opt().unwrap();
    }
    while (0..28).any(|i| i % 7 < 5 && closed(plus(monday, i)).is_some()) {
        monday = plus(monday, 7);
    }
    monday
}

async fn places(app: &avip_tests::TestApp, creche: &str, token: &str, n: i64) {
    let path = format!("/api/v1/creches/{creche}/capacity");
    let body = json!({"from": today().to_string(), "avip_places": n});
    app.expect(token, "POST", &path, Some(body), 201).await;
}

/// A referral for `child` needing `days`, sent by the prescriber.
async fn family(
    app: &avip_tests::TestApp,
    t: &Territory,
    creche: &str,
    child: &str,
    days: &[&str],
) -> String {
    let mut body = referral(creche, child);
    body["needs"] = json!({"desired_start_date": plus(today(), 14).to_string(), "days": days,
        "hours": {"from": "07:30", "to": "18:00"}});
    id(&create(app, &t.prescriber, "/api/v1/referrals", body).await)
}

async fn availability(
    app: &avip_tests::TestApp,
    token: &str,
    creche: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Value> {
    let path = format!("/api/v1/creches/{creche}/availability?from={from}&to={to}");
    app.expect(token, "GET", &path, None, 200).await["days"]
        .as_array()
        .unwrap()
        .clone()
}

fn free(days: &[Value]) -> Vec<i64> {
    days.iter().map(|d| d["free"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_monday_tuesday_thursday_child_leaves_wednesday_and_friday_free() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    places(&app, &t.creche, &t.coordinator, 1).await;
    let monday = quiet_monday();
    let r = family(&app, &t, &t.creche, "Yanis", &["mon", "tue", "thu"]).await;
    let read = app
        .expect(
            &t.prescriber,
            "GET",
            &format!("/api/v1/referrals/{r}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["needs"]["days"], json!(["mon", "tue", "thu"]));
    assert_eq!(read["needs"]["days_per_week"], 3, "derived from the days");
    assert_eq!(
        read["needs"]["hours"],
        json!({"from": "07:30", "to": "18:00"})
    );
    assert_eq!(read["needs"]["atypical_hours"], false);
    move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let contract = json!({"start_date": monday.to_string(),
        "contract_end_date": plus(monday, 27).to_string(), "days": ["mon", "tue", "thu"]});
    let path = format!("/api/v1/referrals/{r}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;

    let week = availability(&app, &t.prescriber, &t.creche, monday, plus(monday, 6)).await;
    assert_eq!(free(&week), [0, 0, 1, 0, 1, 0, 0], "{week:?}");
    let occupied: Vec<i64> = week
        .iter()
        .map(|d| d["occupied"].as_i64().unwrap())
        .collect();
    assert_eq!(occupied, [1, 1, 0, 1, 0, 0, 0]);
    assert_eq!(week[2]["open"], true);
    assert_eq!(week[5]["open"], false);
    assert_eq!(week[5]["closure"], "Fermé le samedi");
    assert_eq!(week[6]["closure"], "Fermé le dimanche");
    assert_eq!(week[6]["capacity"], 0, "a closed day has no place");

    // A Wednesday family fits; a Tuesday one does not, and is told which day.
    let wednesday = family(&app, &t, &t.creche, "Inès", &["wed", "fri"]).await;
    move_to(
        &app,
        &t.coordinator,
        &wednesday,
        json!({"to": "offered"}),
        200,
    )
    .await;
    let contract = json!({"start_date": monday.to_string(), "days": ["wed", "fri"]});
    let path = format!("/api/v1/referrals/{wednesday}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    let tuesday = family(&app, &t, &t.creche, "Léo", &["tue"]).await;
    move_to(
        &app,
        &t.coordinator,
        &tuesday,
        json!({"to": "offered"}),
        200,
    )
    .await;
    let contract = json!({"start_date": monday.to_string(), "days": ["tue"]});
    let path = format!("/api/v1/referrals/{tuesday}/enrollment");
    let refused = app
        .expect(&t.coordinator, "POST", &path, Some(contract), 409)
        .await;
    assert_eq!(refused["code"], "no_free_place");
    assert_eq!(refused["first_full_day"], plus(monday, 1).to_string());
    assert_eq!(refused["first_full_weekday"], "tue");
}

#[tokio::test]
async fn closures_holidays_and_easter_monday_are_closed_and_only_the_crèche_s_people_record_them() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let monday = quiet_monday();
    let path = format!("/api/v1/creches/{}/closures", t.creche);
    let body = json!({"from": plus(monday, 7).to_string(), "to": plus(monday, 11).to_string(),
        "label": "Semaine de formation de l’équipe"});
    app.expect(&t.prescriber, "POST", &path, Some(body.clone()), 403)
        .await;
    app.expect(&t.other_coordinator, "POST", &path, Some(body.clone()), 404)
        .await;
    let closure = create(&app, &t.coordinator, &path, body).await;
    assert_eq!(closure["label"], "Semaine de formation de l’équipe");
    assert_eq!(closure["from"], plus(monday, 7).to_string());
    let listed = app.expect(&t.prescriber, "GET", &path, None, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    app.expect(&t.caf, "GET", &path, None, 403).await;

    let days = availability(
        &app,
        &t.prescriber,
        &t.creche,
        plus(monday, 4),
        plus(monday, 12),
    )
    .await;
    let open: Vec<bool> = days.iter().map(|d| d["open"].as_bool().unwrap()).collect();
    assert_eq!(
        open,
        [true, false, false, false, false, false, false, false, false]
    );
    assert_eq!(days[3]["closure"], "Semaine de formation de l’équipe");
    assert_eq!(free(&days)[3], 0, "a closed day is never free");

    // Christmas, New Year's Day and Easter Monday 2027 are closed by default.
    let year = today().year() + 1;
    let christmas = NaiveDate::from_ymd_opt(year, 12, 25).unwrap();
    let days = availability(&app, &t.prescriber, &t.creche, christmas, christmas).await;
    assert_eq!(
        (days[0]["open"].clone(), days[0]["closure"].clone()),
        (json!(false), json!("Noël"))
    );
    let new_year = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    let days = availability(&app, &t.prescriber, &t.creche, new_year, new_year).await;
    assert_eq!(days[0]["closure"], "Jour de l’an");
    let easter_monday = NaiveDate::from_ymd_opt(2027, 3, 29).unwrap();
    let days = availability(
        &app,
        &t.prescriber,
        &t.creche,
        plus(easter_monday, 0),
        plus(easter_monday, 1),
    )
    .await;
    assert_eq!(days[0]["closure"], "Lundi de Pâques");
    assert_eq!(days[1]["open"], true, "the Tuesday after is open");

    // Bad closures name the field; removing one twice is 404 the second time.
    for (body, field) in [
        (
            json!({"from": "2027-08-10", "to": "2027-08-01", "label": "Été"}),
            "to",
        ),
        (
            json!({"from": "2027-08-01", "to": "2027-08-10", "label": "  "}),
            "label",
        ),
        (
            json!({"from": "2027-08-01", "to": "2028-08-10", "label": "Longue"}),
            "to",
        ),
    ] {
        let problem = app
            .expect(&t.coordinator, "POST", &path, Some(body), 422)
            .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let one = format!("{path}/{}", closure["id"].as_str().unwrap());
    app.expect(&t.other_coordinator, "DELETE", &one, None, 404)
        .await;
    let response = app.call(&t.coordinator, "DELETE", &one, None).await;
    assert_eq!(response.status(), 204);
    app.expect(&t.coordinator, "DELETE", &one, None, 404).await;
    let days = availability(
        &app,
        &t.prescriber,
        &t.creche,
        plus(monday, 7),
        plus(monday, 7),
    )
    .await;
    assert_eq!(
        days[0]["open"], true,
        "open again once the closure is removed"
    );
}

#[tokio::test]
async fn a_change_of_days_takes_effect_from_its_date() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    places(&app, &t.creche, &t.coordinator, 1).await;
    let monday = quiet_monday();
    let a = family(&app, &t, &t.creche, "Alice", &["mon", "tue"]).await;
    move_to(&app, &t.coordinator, &a, json!({"to": "offered"}), 200).await;
    let path = format!("/api/v1/referrals/{a}/enrollment");
    let contract = json!({"start_date": monday.to_string(),
        "contract_end_date": plus(monday, 27).to_string(), "days": ["mon", "tue"]});
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    let change = json!({"days": ["wed", "thu"], "days_from": plus(monday, 14).to_string()});
    let changed = app
        .expect(&t.coordinator, "PATCH", &path, Some(change), 200)
        .await;
    assert_eq!(changed["enrollment"]["days"], json!(["wed", "thu"]));
    let days = availability(&app, &t.prescriber, &t.creche, monday, plus(monday, 27)).await;
    let week = |w: usize| free(&days[w * 7..w * 7 + 5]);
    assert_eq!(
        week(0),
        [0, 0, 1, 1, 1],
        "Monday and Tuesday before the change"
    );
    assert_eq!(week(1), [0, 0, 1, 1, 1]);
    assert_eq!(week(2), [1, 1, 0, 0, 1], "Wednesday and Thursday from it");
    assert_eq!(week(3), [1, 1, 0, 0, 1]);

    // A Monday family fits from the change on, not before it.
    let b = family(&app, &t, &t.creche, "Bruno", &["mon"]).await;
    move_to(&app, &t.coordinator, &b, json!({"to": "offered"}), 200).await;
    let path_b = format!("/api/v1/referrals/{b}/enrollment");
    let early = json!({"start_date": monday.to_string(), "days": ["mon"]});
    let refused = app
        .expect(&t.coordinator, "POST", &path_b, Some(early), 409)
        .await;
    assert_eq!(refused["first_full_day"], monday.to_string());
    assert_eq!(refused["first_full_weekday"], "mon");
    let later = json!({"start_date": plus(monday, 14).to_string(),
        "contract_end_date": plus(monday, 27).to_string(), "days": ["mon"]});
    app.expect(&t.coordinator, "POST", &path_b, Some(later), 201)
        .await;

    // Adding Monday back to Alice's days is refused where Bruno has it.
    let back = json!({"days": ["mon", "wed", "thu"], "days_from": plus(monday, 21).to_string()});
    let refused = app
        .expect(&t.coordinator, "PATCH", &path, Some(back), 409)
        .await;
    assert_eq!(refused["first_full_day"], plus(monday, 21).to_string());
    // A start of the days outside the contract names the field.
    let outside = json!({"days": ["fri"], "days_from": plus(monday, 60).to_string()});
    let problem = app
        .expect(&t.coordinator, "PATCH", &path, Some(outside), 422)
        .await;
    assert_eq!(problem["errors"][0]["field"], "days_from");
}

#[tokio::test]
async fn an_offer_on_a_full_monday_is_refused_unless_forced_with_a_reason() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    places(&app, &t.creche, &t.coordinator, 1).await;
    let first = family(&app, &t, &t.creche, "Jules", &["mon", "tue", "thu"]).await;
    move_to(&app, &t.coordinator, &first, json!({"to": "offered"}), 200).await;
    let start = today();
    let contract = json!({"start_date": start.to_string(), "days": ["mon", "tue", "thu"]});
    let path = format!("/api/v1/referrals/{first}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;

    let second = family(&app, &t, &t.creche, "Karim", &["mon", "tue", "thu"]).await;
    // The offer holds the family's days for seven days from today.
    let full = (0..7).map(|i| plus(start, i)).find(|d| {
        closed(*d).is_none() && matches!(d.weekday(), Weekday::Mon | Weekday::Tue | Weekday::Thu)
    });
    if let Some(full) = full {
        let refused = move_to(&app, &t.coordinator, &second, json!({"to": "offered"}), 409).await;
        assert_eq!(refused["code"], "no_free_place");
        assert_eq!(refused["first_full_day"], full.to_string());
        let read = app
            .expect(
                &t.coordinator,
                "GET",
                &format!("/api/v1/referrals/{second}"),
                None,
                200,
            )
            .await;
        assert_eq!(read["status"], "received", "nothing was written");
    }
    let problem = move_to(
        &app,
        &t.coordinator,
        &second,
        json!({"to": "offered", "force": true}),
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "force_reason");
    let problem = move_to(
        &app,
        &t.coordinator,
        &second,
        json!({"to": "contacted", "force": true, "force_reason": "x"}),
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "force");
    let forced = json!({"to": "offered", "force": true,
        "force_reason": "reprise d'emploi lundi, accord de la direction"});
    let offered = move_to(&app, &t.coordinator, &second, forced, 200).await;
    assert_eq!(offered["status"], "offered");
    if full.is_some() {
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
        assert_eq!(overrides[0]["data"]["days"], json!(["mon", "tue", "thu"]));
    }
}

#[tokio::test]
async fn matching_ranks_a_crèche_free_on_the_family_s_days_first() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let monday = quiet_monday();
    // Les Lucioles keeps one place, taken on Tuesdays for eight weeks.
    places(&app, &t.other_creche, &t.other_coordinator, 1).await;
    let taken = family(&app, &t, &t.other_creche, "Chloé", &["tue"]).await;
    move_to(
        &app,
        &t.other_coordinator,
        &taken,
        json!({"to": "offered"}),
        200,
    )
    .await;
    let contract = json!({"start_date": monday.to_string(),
        "contract_end_date": plus(monday, 55).to_string(), "days": ["tue"]});
    let path = format!("/api/v1/referrals/{taken}/enrollment");
    app.expect(&t.other_coordinator, "POST", &path, Some(contract), 201)
        .await;

    let query = format!(
        "/api/v1/availability/match?departement=83&start={monday}&days=mon,tue&from=07:00&to=18:30&weeks=8"
    );
    let found = app.expect(&t.prescriber, "GET", &query, None, 200).await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{found}");
    assert_eq!(items[0]["name"], "Les Petits Pas", "{found}");
    assert_eq!(items[0]["free_on_every_day"], true);
    assert_eq!(items[0]["free_from"], monday.to_string());
    assert_eq!(items[0]["hours_cover"], true);
    assert_eq!(
        items[0]["free"],
        json!([{"day": "mon", "free": 6}, {"day": "tue", "free": 6}])
    );
    assert_eq!(items[1]["name"], "Les Lucioles");
    assert_eq!(items[1]["free_on_every_day"], false);
    let from: NaiveDate = items[1]["free_from"].as_str().unwrap().parse().unwrap();
    assert!(
        from > plus(monday, 50),
        "free once the Tuesdays are: {from}"
    );
    assert_eq!(
        items[1]["free"],
        json!([{"day": "mon", "free": 1}, {"day": "tue", "free": 0}])
    );
    assert_eq!(found["days"], json!(["mon", "tue"]));

    // Saturday: neither crèche opens; late hours: not covered.
    let query = format!("/api/v1/availability/match?start={monday}&days=sat&from=06:00&to=20:00");
    let found = app.expect(&t.coordinator, "GET", &query, None, 200).await;
    for item in found["items"].as_array().unwrap() {
        assert_eq!(item["closed_days"], json!(["sat"]));
        assert_eq!(item["hours_cover"], false);
        assert_eq!(item["free_from"], Value::Null);
    }
    app.expect(&t.caf, "GET", &query, None, 403).await;
    for (bad, field) in [
        ("days=mon,funday", "days"),
        ("days=mon,mon", "days"),
        ("days=mon&weeks=27", "weeks"),
        ("days=mon&from=08:00", "to"),
        ("days=mon&from=18:00&to=08:00", "to"),
        ("start=2027-02-30&days=mon", "start"),
        ("days=mon&departement=ZZ", "departement"),
    ] {
        let path = format!("/api/v1/availability/match?{bad}");
        let problem = app.expect(&t.prescriber, "GET", &path, None, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "{bad}: {problem}");
    }
}

#[tokio::test]
async fn days_per_week_alone_is_still_accepted_and_disagreeing_with_the_days_is_refused() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    // The former body: a number of days, no days.
    let old = create(
        &app,
        &t.prescriber,
        "/api/v1/referrals",
        referral(&t.creche, "Yanis"),
    )
    .await;
    assert_eq!(old["needs"]["days_per_week"], 4);
    assert!(old["needs"].get("days").is_none(), "{old}");
    let mut both = referral(&t.creche, "Inès");
    both["needs"]["days"] = json!(["mon", "tue"]);
    let problem = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(both), 422)
        .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["needs.days", "needs.days_per_week"], "{problem}");
    let mut twice = referral(&t.creche, "Léo");
    twice["needs"] =
        json!({"desired_start_date": plus(today(), 10).to_string(), "days": ["mon", "mon"]});
    let problem = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(twice), 422)
        .await;
    assert_eq!(problem["errors"][0]["field"], "needs.days");
    let mut hours = referral(&t.creche, "Léa");
    hours["needs"] = json!({"desired_start_date": plus(today(), 10).to_string(), "days": ["mon"],
        "hours": {"from": "18:00", "to": "08:00"}});
    let problem = app
        .expect(&t.prescriber, "POST", "/api/v1/referrals", Some(hours), 422)
        .await;
    assert_eq!(problem["errors"][0]["field"], "needs.hours.to");
    // Early hours are atypical, whatever the flag says.
    let mut early = referral(&t.creche, "Noé");
    early["needs"] = json!({"desired_start_date": plus(today(), 10).to_string(), "days": ["mon", "fri"],
        "days_per_week": 2, "hours": {"from": "06:30", "to": "15:00"}, "atypical_hours": false});
    let created = create(&app, &t.prescriber, "/api/v1/referrals", early).await;
    assert_eq!(created["needs"]["atypical_hours"], true);
    assert_eq!(created["needs"]["days_per_week"], 2);
}

#[tokio::test]
async fn enrollments_recorded_before_the_week_keep_their_days() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let t = territory(&app).await;
    let monday = quiet_monday();
    let r = family(&app, &t, &t.creche, "Yanis", &["mon", "thu"]).await;
    move_to(&app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let contract = json!({"start_date": monday.to_string(), "days": ["mon", "thu"]});
    let path = format!("/api/v1/referrals/{r}/enrollment");
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    // Back to the schema before the week (a booking had no days), then up
    // again: the migration reads the days from the enrollment.
    let url = app.db.url.clone();
    let days = tokio::task::spawn_blocking(move || {
        let mut conn = avip_db::connect(&url).unwrap();
        // Later migrations go first.
        loop {
            let reverted = avip_db::migrations::revert_last(&mut conn).unwrap();
            if reverted.contains("000017") {
                break;
            }
        }
        avip_db::migrations::run_pending(&mut conn).unwrap();
        use avip_db::schema::place_bookings as pb;
        pb::table
            .filter(pb::kind.eq(avip_db::model::BookingKind::Enrollment))
            .select(pb::days)
            .load::<i32>(&mut conn)
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(days, [1 | 8], "Monday and Thursday");
}
