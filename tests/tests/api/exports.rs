//! The CAF's exports over HTTP: indicators worked out by hand on a small
//! fixture, the same rows in CSV, JSON and XLSX, no personal data, scoping.

use std::io::Cursor;

use avip_db::schema::referrals;
use avip_tests::{TestApp, spawn_app};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::referrals::{Territory, create, id, move_to, referral, territory};

/// Moves the referral's reception back so that its first response came
/// `hours` after it (the deadline stays 72 h after reception).
fn answered_after(app: &TestApp, referral: &Value, hours: i64) {
    let first: DateTime<Utc> = referral["first_response_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let received = (first - Duration::hours(hours)).naive_utc();
    let mut conn = app.db.connect();
    diesel::update(referrals::table.find(id(referral)))
        .set((
            referrals::received_at.eq(received),
            referrals::sla_due_at.eq(received + Duration::hours(72)),
        ))
        .execute(&mut conn)
        .unwrap();
    // Written behind the service's back: the indicators' sums are told, as
    // every write of the service tells them.
    let changed = avip_db::model::ReferralId::parse(&id(referral)).unwrap();
    avip_db::tallies::changed(&mut conn, &changed).unwrap();
}

struct Fixture {
    t: Territory,
    query: String,
}

/// Five referrals, all received in the last five days:
/// - A (France Travail, Petits Pas): answered after 10 h, offered, enrolled, left (positive, same crèche);
/// - B (France Travail, Petits Pas): declined after 30 h;
/// - C (mission locale, Petits Pas, another family): withdrawn unanswered;
/// - D (France Travail, Lucioles): never answered;
/// - E (mission locale, Lucioles): offered after 80 h (late), enrolled from today.
async fn fixture(app: &TestApp) -> Fixture {
    let t = territory(app).await;
    let today = avip_tests::today();
    let post = |token: &str, creche: &str, child: &str| {
        let body = referral(creche, child);
        let token = token.to_owned();
        async move { create(app, &token, "/api/v1/referrals", body).await }
    };
    let a = post(&t.prescriber, &t.creche, "Anaïs").await;
    let a = move_to(
        app,
        &t.coordinator,
        &id(&a),
        json!({"to": "contacted"}),
        200,
    )
    .await;
    answered_after(app, &a, 10);
    move_to(app, &t.coordinator, &id(&a), json!({"to": "offered"}), 200).await;
    let enroll = |r: &Value, start: chrono::NaiveDate| {
        let path = format!("/api/v1/referrals/{}/enrollment", id(r));
        let body = json!({"start_date": start.to_string(),
            "contract_end_date": (start + Duration::days(60)).to_string(),
            "days": ["mon", "tue", "wed", "thu", "fri"]});
        let coordinator = if r["creche_id"] == t.creche.as_str() {
            t.coordinator.clone()
        } else {
            t.other_coordinator.clone()
        };
        async move {
            app.expect(&coordinator, "POST", &path, Some(body), 201)
                .await
        }
    };
    enroll(&a, today + Duration::days(1)).await;
    let exit_day = today + Duration::days(5);
    let exit = json!({"date": exit_day.to_string(), "reason": "employment",
        "employment_status": "employed_permanent", "positive": true, "childcare_solution": "same_creche"});
    app.expect(
        &t.coordinator,
        "POST",
        &format!("/api/v1/referrals/{}/exit", id(&a)),
        Some(exit),
        200,
    )
    .await;
    // Planned, then recorded by the engine on its day.
    assert_eq!(crate::evaluation::engine_on(app, exit_day).len(), 1);

    let b = post(&t.prescriber, &t.creche, "Bastien").await;
    let b = move_to(
        app,
        &t.coordinator,
        &id(&b),
        json!({"to": "declined", "reason": "no_place_matching_hours"}),
        200,
    )
    .await;
    answered_after(app, &b, 30);

    let mut c = referral(&t.creche, "Capucine");
    c["parent"]["first_name"] = json!("Zoé");
    c["parent"]["last_name"] = json!("Marchetti");
    c["parent"]["phone"] = json!("0698765432");
    c["parent"]["email"] = json!("zoe.m@example.org");
    c["parent"]["france_travail_id"] = Value::Null;
    let c = create(app, &t.other_prescriber, "/api/v1/referrals", c).await;
    move_to(
        app,
        &t.other_prescriber,
        &id(&c),
        json!({"to": "withdrawn", "reason": "family_moved"}),
        200,
    )
    .await;

    post(&t.prescriber, &t.other_creche, "Diane").await;

    let e = post(&t.other_prescriber, &t.other_creche, "Elias").await;
    let e = move_to(
        app,
        &t.other_coordinator,
        &id(&e),
        json!({"to": "offered"}),
        200,
    )
    .await;
    answered_after(app, &e, 80);
    enroll(&e, today).await;

    let query = format!("from={}&to={today}", today - Duration::days(5));
    Fixture { t, query }
}

async fn get_text(app: &TestApp, token: &str, path: &str) -> (String, Vec<u8>) {
    let response = app.call(token, "GET", path, None).await;
    assert_eq!(response.status(), 200, "{path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.bytes().await.unwrap().to_vec())
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let (kind, bytes) = get_text(app, token, path).await;
    assert!(kind.starts_with("application/json"), "{kind}");
    serde_json::from_slice(&bytes).unwrap()
}

/// The occupancy of the fixture's six days (five days ago to today),
/// worked out from the calendar: 6 places on each open day, and E's place
/// today when the crèche opens today.
struct SixDays {
    occupied: i64,
    available: i64,
}

impl SixDays {
    fn pct(&self) -> f64 {
        (1000.0 * self.occupied as f64 / self.available as f64).round() / 10.0
    }
}

fn six_days(today: chrono::NaiveDate) -> SixDays {
    let open = (0..6)
        .filter(|i| crate::places::closed(today - Duration::days(5 - i)).is_none())
        .count() as i64;
    SixDays {
        occupied: i64::from(crate::places::closed(today).is_none()),
        available: 6 * open,
    }
}

fn group<'a>(rows: &'a [Value], key: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["group"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {rows:?}"))
}

/// The situation indicators of a prescriber group whose `in_work` exits
/// nobody was asked about yet (and its transfers, which such a group does
/// not count).
fn after_exits(group: &mut Value, in_work: i64) {
    let object = group.as_object_mut().unwrap();
    object.insert("exits_in_work".into(), json!(in_work));
    object.insert("exits_in_training".into(), json!(0));
    for months in ["3_months", "6_months"] {
        for count in [
            "outcomes_{}_asked",
            "outcomes_{}_answered",
            "in_work_at_{}",
            "in_training_at_{}",
        ] {
            object.insert(count.replace("{}", months), json!(0));
        }
        for share in ["in_work_at_{}_pct", "in_training_at_{}_pct"] {
            object.insert(share.replace("{}", months), Value::Null);
        }
    }
    object.insert("outcome_answer_pct".into(), Value::Null);
    object.insert("transfers_in".into(), Value::Null);
    object.insert("transfers_out".into(), Value::Null);
    object.insert("first_meetings_held".into(), json!(0));
    object.insert("first_meetings_no_show".into(), json!(0));
    object.insert("median_days_to_first_meeting".into(), Value::Null);
}

#[tokio::test]
async fn indicators_match_what_was_worked_out_by_hand() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let t = &f.t;
    let path = |g: &str| format!("/api/v1/exports/indicators?{}&group_by={g}", f.query);

    let kinds = json_of(&app, &t.caf, &path("prescriber_kind")).await;
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    let ft = group(&kinds, "france_travail");
    let mut expected_ft = json!({"group": "france_travail", "label": "France Travail",
        "received": 3, "answered": 2, "answered_within_deadline": 2,
        // D's deadline still runs: pending, not missed.
        "answered_late": 0, "pending_first_response": 1,
        "answered_within_deadline_pct": 100.0, "median_hours_to_first_response": 20.0,
        "p90_hours_to_first_response": 28.0, "offers": 1, "enrollments": 1, "exits": 1,
        "positive_exits": 1, "positive_exit_pct": 100.0, "lasting_solutions": 1,
        "occupied_place_days": null, "available_place_days": null, "occupancy_pct": null});
    // A's exit: in work; nobody asked after it yet.
    after_exits(&mut expected_ft, 1);
    assert_eq!(ft, &expected_ft);
    let ml = group(&kinds, "mission_locale");
    let mut expected_ml = json!({"group": "mission_locale", "label": "Mission locale",
        "received": 2, "answered": 1, "answered_within_deadline": 0,
        // E answered late; C was withdrawn before its deadline: neither.
        "answered_late": 1, "pending_first_response": 0,
        "answered_within_deadline_pct": 0.0, "median_hours_to_first_response": 80.0,
        "p90_hours_to_first_response": 80.0, "offers": 1, "enrollments": 1, "exits": 0,
        "positive_exits": 0, "positive_exit_pct": null, "lasting_solutions": 0,
        "occupied_place_days": null, "available_place_days": null, "occupancy_pct": null});
    after_exits(&mut expected_ml, 0);
    assert_eq!(ml, &expected_ml);

    // By crèche, with the occupancy of the six days: E occupies one place
    // today at Les Lucioles when it is open; A starts tomorrow. 6 places
    // on each of the six days the crèches open.
    let six = six_days(avip_tests::today());
    let creches = json_of(&app, &t.admin, &path("creche")).await;
    let ours = group(&creches, &t.creche);
    assert_eq!(ours["label"], "Les Petits Pas");
    assert_eq!(
        (
            &ours["received"],
            &ours["answered"],
            &ours["median_hours_to_first_response"]
        ),
        (&json!(3), &json!(2), &json!(20.0))
    );
    assert_eq!(
        (
            &ours["occupied_place_days"],
            &ours["available_place_days"],
            &ours["occupancy_pct"]
        ),
        (&json!(0), &json!(six.available), &json!(0.0))
    );
    let theirs = group(&creches, &t.other_creche);
    assert_eq!(
        (
            &theirs["received"],
            &theirs["answered"],
            &theirs["answered_within_deadline_pct"]
        ),
        (&json!(2), &json!(1), &json!(0.0))
    );
    assert_eq!(
        (
            &theirs["occupied_place_days"],
            &theirs["available_place_days"],
            &theirs["occupancy_pct"]
        ),
        (
            &json!(six.occupied),
            &json!(six.available),
            &json!(six.pct())
        )
    );

    // By month: whatever the months, they add up to the five referrals,
    // three answered (10 h, 30 h, 80 h), two within the deadline.
    let months = json_of(&app, &t.caf, &path("month")).await;
    let sum = |field: &str| {
        months
            .iter()
            .map(|m| m[field].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(
        (
            sum("received"),
            sum("answered"),
            sum("answered_within_deadline"),
            sum("offers")
        ),
        (5, 3, 2, 2)
    );
    assert_eq!(sum("occupied_place_days"), six.occupied);
    if months.len() == 1 {
        let m = &months[0];
        assert_eq!(m["median_hours_to_first_response"], 30.0);
        assert_eq!(m["p90_hours_to_first_response"], 70.0);
        assert_eq!(m["answered_within_deadline_pct"], 66.7, "2 of 3 decided");
        assert_eq!(m["pending_first_response"], 1);
    }

    // A coordinator sees its crèches' indicators only.
    let own = json_of(&app, &t.coordinator, &path("creche")).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["group"], t.creche.as_str());
}

fn csv_records(bytes: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// A JSON value as the CSV writes it (`;` and decimal commas).
fn as_csv(value: &Value, decimal_comma: bool) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => match s.parse::<DateTime<Utc>>() {
            Ok(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            Err(_) => s.clone(),
        },
        Value::Number(n) if n.is_f64() => {
            let text = format!("{:.1}", n.as_f64().unwrap());
            if decimal_comma {
                text.replace('.', ",")
            } else {
                text
            }
        }
        Value::Bool(b) => match (b, decimal_comma) {
            (true, true) => "VRAI".to_owned(),
            (false, true) => "FAUX".to_owned(),
            (true, false) => "TRUE".to_owned(),
            (false, false) => "FALSE".to_owned(),
        },
        other => other.to_string(),
    }
}

#[tokio::test]
async fn the_rows_are_the_same_in_csv_json_and_xlsx_and_carry_no_personal_data() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let t = &f.t;
    let base = format!("/api/v1/exports/referrals?{}", f.query);
    let rows = json_of(&app, &t.caf, &format!("{base}&format=json")).await;
    assert_eq!(rows.len(), 5);
    let mut keys: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();

    // The same family (France Travail id) has one id; another family another.
    let families: Vec<&str> = rows
        .iter()
        .map(|r| r["family_id"].as_str().unwrap())
        .collect();
    let distinct: std::collections::HashSet<&&str> = families.iter().collect();
    assert_eq!(distinct.len(), 2, "{families:?}");
    let a = rows
        .iter()
        .find(|r| r["hours_to_first_response"] == 10.0)
        .unwrap();
    assert_eq!(a["outcome"], "exited");
    assert_eq!(a["positive_exit"], true);
    assert_eq!(a["answered_within_deadline"], true);
    assert_eq!(a["child_age_bracket"], "1_to_2");
    let b = rows.iter().find(|r| r["status"] == "declined").unwrap();
    assert_eq!(b["refusal_reason"], "no_place_matching_hours");
    let c = rows.iter().find(|r| r["status"] == "withdrawn").unwrap();
    assert_eq!(c["withdrawal_reason"], "family_moved");
    assert_eq!(c["hours_to_first_response"], Value::Null);
    assert_eq!(c["answered_within_deadline"], Value::Null);

    // CSV, `;` and decimal commas by default, `,` and points on request.
    let (kind, bytes) = get_text(&app, &t.caf, &base).await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    for (bytes, delimiter) in [
        (bytes, b';'),
        (
            get_text(&app, &t.caf, &format!("{base}&sep=comma")).await.1,
            b',',
        ),
    ] {
        let records = csv_records(&bytes, delimiter);
        let columns = records[0].clone();
        let mut sorted = columns.clone();
        sorted.sort();
        assert_eq!(sorted, keys, "the CSV has the JSON's fields");
        assert_eq!(records.len(), 6);
        for (record, row) in records[1..].iter().zip(&rows) {
            let expected: Vec<String> = columns
                .iter()
                .map(|c| as_csv(&row[c], delimiter == b';'))
                .collect();
            assert_eq!(record, &expected);
        }
    }

    // XLSX, for people: French headers in the columns' order; typed cells
    // read back equal the JSON, texts are the French CSV's labels.
    let (_, french) = get_text(&app, &t.caf, &format!("{base}&headers=fr")).await;
    let french = csv_records(&french, b';');
    let headers: Vec<&str> = avip_app::exports::ROW_COLUMNS
        .iter()
        .map(|c| avip_app::exports::header(c.name))
        .collect();
    assert_eq!(french[0], headers, "the French CSV's headers");
    assert!(
        french[1..].iter().flatten().all(|v| !v.contains('_')),
        "labels, not codes: {french:?}"
    );
    let (kind, bytes) = get_text(&app, &t.caf, &format!("{base}&format=xlsx")).await;
    assert!(kind.contains("spreadsheetml"), "{kind}");
    use calamine::{Data, Reader};
    let mut book = calamine::Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let sheet = book.worksheet_range("AVIP").unwrap();
    let mut cells = sheet.rows();
    let columns: Vec<String> = cells
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(columns, headers, "the XLSX speaks French");
    let names: Vec<&str> = avip_app::exports::ROW_COLUMNS
        .iter()
        .map(|c| c.name)
        .collect();
    for ((cells, row), labels) in cells.zip(&rows).zip(&french[1..]) {
        for ((cell, column), label) in cells.iter().zip(&names).zip(labels) {
            let want = &row[*column];
            let got = match cell {
                Data::Empty => Value::Null,
                // A code is shown by its label; a text as it is.
                Data::String(s) => {
                    assert_eq!(s, label, "{column}");
                    continue;
                }
                Data::Bool(b) => json!(b),
                Data::Float(x) if want.is_i64() => json!(*x as i64),
                Data::Float(x) => json!((x * 10.0).round() / 10.0),
                Data::Int(n) => json!(n),
                Data::DateTime(d) => json!(d.as_datetime().unwrap().date().to_string()),
                other => panic!("unexpected cell {other:?}"),
            };
            assert_eq!(&got, want, "{column}");
        }
    }

    // No personal value of the fixture appears in any format.
    let personal = [
        "Amina",
        "Benali",
        "612345678",
        "06 12 34 56 78",
        "amina.b@example.org",
        "1234567A",
        "Zoé",
        "Marchetti",
        "0698765432",
        "zoe.m@example.org",
        "Anaïs",
        "Bastien",
        "Capucine",
        "Diane",
        "Elias",
        "Paul Durand",
        "p.durand@example.org",
        "494000000",
        "formation de 9h à 17h",
        "CAP petite enfance",
        // Minimised: no prescriber agency.
        "France Travail Toulon Est",
        "Mission locale Toulon",
    ];
    // Minimised: months and durations, no instant or exact date.
    for gone in [
        "received_at",
        "first_response_at",
        "prescriber_organization",
        "exit_date",
    ] {
        assert!(!keys.contains(&gone.to_owned()), "{gone} is still exported");
    }
    for row in &rows {
        assert!(
            row["received_month"].as_str().unwrap().ends_with("-01"),
            "{row}"
        );
    }
    assert_eq!(
        a["days_enrolled"].as_i64().map(|d| d > 0),
        Some(true),
        "{a}"
    );
    let birth = (avip_tests::today() - Duration::days(400)).to_string();
    let mut texts = vec![
        serde_json::to_string(&rows).unwrap(),
        String::from_utf8(get_text(&app, &t.caf, &base).await.1).unwrap(),
    ];
    let mut book = calamine::Xlsx::new(Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("AVIP").unwrap();
    texts.push(
        sheet
            .rows()
            .flat_map(|r| r.iter().map(|c| c.to_string()))
            .collect::<Vec<_>>()
            .join("|"),
    );
    for text in &texts {
        for value in personal.iter().copied().chain([birth.as_str()]) {
            assert!(!text.contains(value), "{value} leaked into an export");
        }
    }
}

#[tokio::test]
async fn who_may_export_what() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let rows = "/api/v1/exports/referrals?from=2026-01-01&to=2026-12-31";
    let indicators = "/api/v1/exports/indicators?from=2026-01-01&to=2026-12-31";
    app.expect(&t.prescriber, "GET", rows, None, 403).await;
    app.expect(&t.prescriber, "GET", indicators, None, 403)
        .await;
    app.expect(&t.coordinator, "GET", rows, None, 403).await;
    app.expect(&t.coordinator, "GET", indicators, None, 200)
        .await;
    assert_eq!(app.call(&t.caf, "GET", rows, None).await.status(), 200);
    app.expect(&t.caf, "GET", indicators, None, 200).await;
    assert_eq!(app.call(&t.admin, "GET", rows, None).await.status(), 200);
    // The CAF's own system, with a client-credentials token, downloads the
    // year as CSV and XLSX.
    let orgs = app
        .expect(&t.admin, "GET", "/api/v1/organizations?kind=caf", None, 200)
        .await;
    let caf_org = orgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "caf")
        .unwrap();
    let client = app
        .expect(
            &t.admin,
            "POST",
            "/api/v1/api-clients",
            Some(json!({"organization_id": caf_org["id"], "label": "Entrepôt de données CAF"})),
            201,
        )
        .await;
    let grant: Value = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let machine = grant["access_token"].as_str().unwrap();
    for (format, content_type) in [
        ("csv", "text/csv; charset=utf-8"),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ] {
        let response = app
            .call(machine, "GET", &format!("{rows}&format={format}"), None)
            .await;
        assert_eq!(response.status(), 200, "{format}");
        assert_eq!(response.headers()["content-type"], content_type);
        // Read to the end, as the CAF's system does: a download left
        // unread holds one of the identity's two export slots until the
        // service notices.
        assert!(!response.bytes().await.unwrap().is_empty());
    }
    app.expect(machine, "GET", &format!("{rows}&departement=13"), None, 403)
        .await;
    // The CAF sees its own département only.
    let other = format!("{indicators}&departement=13");
    let problem = app.expect(&t.caf, "GET", &other, None, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("83"));
    // Bad parameters name themselves.
    for (query, field) in [
        ("from=2026-01-01", "to"),
        ("from=2026-02-30&to=2026-03-01", "from"),
        ("from=2026-03-01&to=2026-02-01", "to"),
        ("from=2026-01-01&to=2026-02-01&format=pdf", "format"),
        ("from=2026-01-01&to=2026-02-01&group_by=week", "group_by"),
        ("from=2026-01-01&to=2026-02-01&sep=tab", "sep"),
    ] {
        let path = format!("/api/v1/exports/indicators?{query}");
        let problem = app.expect(&t.caf, "GET", &path, None, 400).await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
}

/// Paging by `(received_at, id)` in small chunks neither skips nor repeats
/// a referral, even when several were received at the same instant, and
/// the rows and the indicators read the same referrals in the same order.
#[tokio::test]
async fn chunks_neither_skip_nor_repeat_ties() {
    use avip_db::exports::{ExportScope, chunk, tally_chunk};
    use avip_db::model::{CrecheId, ReferralId};
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let mut conn = app.db.connect();
    // Three of the five at the same instant.
    let ids: Vec<ReferralId> = referrals::table
        .select(referrals::id)
        .order(referrals::id)
        .load(&mut conn)
        .unwrap();
    let instant = (Utc::now() - Duration::days(1)).naive_utc();
    diesel::update(referrals::table.filter(referrals::id.eq_any(&ids[1..4])))
        .set(referrals::received_at.eq(instant))
        .execute(&mut conn)
        .unwrap();
    let mut expected: Vec<(chrono::NaiveDateTime, ReferralId)> = referrals::table
        .select((referrals::received_at, referrals::id))
        .load(&mut conn)
        .unwrap();
    expected.sort();
    let week = Duration::days(7);
    for creches in [
        None,
        Some(vec![
            CrecheId::parse(&f.t.creche).unwrap(),
            CrecheId::parse(&f.t.other_creche).unwrap(),
        ]),
    ] {
        let scope = ExportScope {
            from: instant - week,
            before: instant + week,
            creches,
        };
        let (mut rows, mut tallies) = (Vec::new(), Vec::new());
        let mut after = None;
        loop {
            let page = chunk(&mut conn, &scope, after.as_ref(), 2).unwrap();
            let light = tally_chunk(&mut conn, &scope, after.as_ref(), 2).unwrap();
            rows.extend(
                page.iter()
                    .map(|r| (r.referral.received_at, r.referral.id.clone())),
            );
            tallies.extend(light.iter().map(|r| (r.received_at, r.id.clone())));
            match page.last() {
                Some(last) if page.len() == 2 => {
                    after = Some((last.referral.received_at, last.referral.id.clone()))
                }
                _ => break,
            }
        }
        assert_eq!(rows, expected);
        assert_eq!(tallies, expected);
    }
}

async fn exported_entries(app: &TestApp, token: &str, referral: &str) -> Vec<Value> {
    let events = app
        .expect(
            token,
            "GET",
            &format!("/api/v1/referrals/{referral}/events?limit=200"),
            None,
            200,
        )
        .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "exported")
        .cloned()
        .collect()
}

/// docs/product.md §2: the timeline shows the exports that included the referral,
/// and only those.
#[tokio::test]
async fn the_timeline_shows_each_export_of_rows_that_included_the_referral() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let t = &f.t;
    let (ids, own): (Vec<String>, String) = {
        let mut conn = app.db.connect();
        let rows: Vec<(avip_db::model::ReferralId, avip_db::model::CrecheId)> = referrals::table
            .select((referrals::id, referrals::creche_id))
            .order(referrals::received_at)
            .load(&mut conn)
            .unwrap();
        let own = rows
            .iter()
            .find(|r| r.1.as_str() == t.creche)
            .unwrap()
            .0
            .to_string();
        (rows.into_iter().map(|r| r.0.to_string()).collect(), own)
    };
    assert_eq!(ids.len(), 5);
    // Indicators, another département, and a period before the referrals
    // include no referral's row.
    let rows = "/api/v1/exports/referrals";
    app.expect(
        &t.caf,
        "GET",
        &format!("/api/v1/exports/indicators?{}", f.query),
        None,
        200,
    )
    .await;
    assert_eq!(
        app.call(
            &t.admin,
            "GET",
            &format!("{rows}?{}&departement=13", f.query),
            None
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.call(
            &t.caf,
            "GET",
            &format!("{rows}?from=2020-01-01&to=2020-12-31"),
            None
        )
        .await
        .status(),
        200
    );
    for id in &ids {
        assert!(exported_entries(&app, &t.admin, id).await.is_empty());
    }
    // The CAF's download of the period includes all five.
    let response = app
        .call(
            &t.caf,
            "GET",
            &format!("{rows}?{}&format=xlsx", f.query),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    let later = create(
        &app,
        &t.prescriber,
        "/api/v1/referrals",
        referral(&t.creche, "Gaspard"),
    )
    .await;
    for id in &ids {
        let entries = exported_entries(&app, &t.admin, id).await;
        assert_eq!(entries.len(), 1, "{id}: {entries:?}");
        assert_eq!(entries[0]["actor"]["kind"], "user");
        assert_eq!(entries[0]["data"]["format"], "xlsx");
    }
    // Seen by whoever may read the timeline; not on a referral received
    // after the export started.
    assert_eq!(exported_entries(&app, &t.coordinator, &own).await.len(), 1);
    assert!(
        exported_entries(&app, &t.admin, &id(&later))
            .await
            .is_empty()
    );
    // The entries take their place in the timeline's pages.
    let first = &ids[0];
    let all = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/referrals/{first}/events?limit=200"),
            None,
            200,
        )
        .await["items"]
        .as_array()
        .unwrap()
        .clone();
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/referrals/{first}/events?limit=1"),
            Some(c) => format!("/api/v1/referrals/{first}/events?limit=1&cursor={c}"),
        };
        let page = app.expect(&t.admin, "GET", &path, None, 200).await;
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(all.last().unwrap()["kind"], "exported");
}

#[tokio::test]
async fn occupancy_counts_the_days_that_have_happened_only() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let today = avip_tests::today();
    // The same six days as the hand-worked fixture, then a month to come:
    // A's contract (from tomorrow) and E's days ahead must not count.
    let query = format!(
        "/api/v1/exports/indicators?from={}&to={}&group_by=creche",
        today - Duration::days(5),
        today + Duration::days(30)
    );
    let creches = json_of(&app, &f.t.admin, &query).await;
    let six = six_days(today);
    let theirs = group(&creches, &f.t.other_creche);
    assert_eq!(
        (
            &theirs["occupied_place_days"],
            &theirs["available_place_days"]
        ),
        (&json!(six.occupied), &json!(six.available))
    );
    let ours = group(&creches, &f.t.creche);
    assert_eq!(
        (&ours["occupied_place_days"], &ours["available_place_days"]),
        (&json!(0), &json!(six.available))
    );
    // A period wholly to come has no occupancy yet.
    let ahead = format!(
        "/api/v1/exports/indicators?from={}&to={}&group_by=creche",
        today + Duration::days(1),
        today + Duration::days(30)
    );
    let creches = json_of(&app, &f.t.admin, &ahead).await;
    let ours = group(&creches, &f.t.creche);
    assert_eq!(ours["occupied_place_days"], json!(0));
    assert_eq!(ours["available_place_days"], json!(0));
    assert!(ours["occupancy_pct"].is_null(), "{ours}");
}

#[tokio::test]
async fn a_name_a_spreadsheet_would_run_reaches_the_csv_as_text() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let formula = "=HYPERLINK(\"http://example.org\";\"Les Petits Pas\")";
    app.expect(
        &f.t.admin,
        "PATCH",
        &format!("/api/v1/creches/{}", f.t.creche),
        Some(json!({"name": formula})),
        200,
    )
    .await;
    for path in [
        format!("/api/v1/exports/referrals?{}", f.query),
        format!(
            "/api/v1/exports/indicators?{}&group_by=creche&format=csv",
            f.query
        ),
    ] {
        let (_, bytes) = get_text(&app, &f.t.caf, &path).await;
        let rows = csv_records(&bytes, b';');
        let column = rows[0]
            .iter()
            .position(|h| h == "creche_name" || h == "label")
            .unwrap();
        let names: Vec<&str> = rows[1..].iter().map(|r| r[column].as_str()).collect();
        assert!(
            names.contains(&format!("'{formula}").as_str()),
            "{path}: {names:?}"
        );
        assert!(!names.contains(&formula), "{path}");
    }
}
