//! Bringing a crèche's spreadsheet in (issue 36): files made by real tools
//! (`tests/fixtures/imports/make.py`: a Windows-1252 CSV, LibreOffice's
//! XLSX and ODS of it, a UTF-8 CSV with mistakes, a workbook with a
//! formula) read, mapped, previewed, corrected and committed; the commit
//! all or nothing; a re-import that updates; no e-mail or webhook for the
//! imported past; the indicators those of the history as counted by hand.

use std::time::Duration;

use avip_db::schema::{notifications, webhook_deliveries};
use avip_tests::receiver::Receiver;
use avip_tests::smtp::SmtpSink;
use avip_tests::{TestApp, spawn_app, spawn_app_with_engine};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::referrals::{Territory, territory};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/imports/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `POST /api/v1/imports` as a browser's form sends it.
async fn upload(
    app: &TestApp,
    token: &str,
    creche: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    upload_kind(app, token, (creche, "referrals"), name, bytes).await
}

pub(crate) async fn upload_kind(
    app: &TestApp,
    token: &str,
    (creche, kind): (&str, &str),
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("creche_id", creche.to_owned())
        .text("kind", kind.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    let response = reqwest::Client::new()
        .post(app.url("/api/v1/imports"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn uploaded(app: &TestApp, t: &Territory, name: &str) -> Value {
    let (status, body) = upload(app, &t.coordinator, &t.creche, name, fixture(name)).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn commit(app: &TestApp, t: &Territory, import: &Value, status: u16) -> Value {
    let path = format!("/api/v1/imports/{}/commit", import["id"].as_str().unwrap());
    app.expect(&t.coordinator, "POST", &path, None, status)
        .await
}

async fn referrals(app: &TestApp, t: &Territory) -> Vec<Value> {
    let list = app
        .expect(
            &t.coordinator,
            "GET",
            "/api/v1/referrals?limit=100",
            None,
            200,
        )
        .await;
    list["items"].as_array().unwrap().clone()
}

fn counts(import: &Value) -> Value {
    import["counts"].clone()
}

#[tokio::test]
async fn a_clean_spreadsheet_in_each_format_is_previewed_then_committed_without_a_word_sent() {
    let sink = SmtpSink::start();
    let smtp = sink.url();
    let app = spawn_app_with_engine(move |env| {
        env.insert("AVIP_SMTP_URL".into(), smtp);
        env.insert("AVIP_SLA_SCHEDULE".into(), "* * * * * *".into());
    })
    .await;
    let t = territory(&app).await;
    // France Travail's system listens for every event: nothing imported
    // is announced.
    let receiver = Receiver::start();
    let system = crate::webhooks::partner_system(&app, &t).await;
    let hook = json!({"url": receiver.url, "events": crate::webhooks::ALL_EVENTS});
    app.expect(&system, "POST", "/api/v1/webhooks", Some(hook), 201)
        .await;

    let csv = uploaded(&app, &t, "clean.csv").await;
    assert_eq!(csv["format"]["kind"], "csv");
    assert_eq!(
        csv["format"]["encoding"], "windows-1252",
        "detected, and said"
    );
    assert_eq!(csv["format"]["separator"], ";");
    let mapped: Vec<&str> = (csv["columns"].as_array().unwrap().iter())
        .map(|c| c["field"].as_str().unwrap_or("-"))
        .collect();
    assert!(!mapped.contains(&"-"), "every header is known: {mapped:?}");
    assert_eq!(
        csv["columns"][6],
        json!({"header": "Nom de la mère", "field": "parent.last_name"})
    );
    assert_eq!(counts(&csv)["ready"], 6, "{csv}");
    for name in ["clean.xlsx", "clean.ods"] {
        let book = uploaded(&app, &t, name).await;
        assert_eq!(book["format"]["kind"], &name[6..], "{book}");
        assert_eq!(counts(&book)["ready"], 6, "{name}: {book}");
    }
    assert!(
        referrals(&app, &t).await.is_empty(),
        "nothing written before the commit"
    );

    let done = commit(&app, &t, &csv, 200).await;
    assert_eq!(
        done["result"],
        json!({"created": 6, "updated": 0, "unchanged": 0, "skipped": 0})
    );
    assert_eq!(done["rows"], json!([]), "the rows are not kept");
    let mut conn = app.db.connect();
    let sheet: Option<String> = avip_db::schema::imports::table
        .find(done["id"].as_str().unwrap())
        .select(avip_db::schema::imports::sheet)
        .first(&mut conn)
        .unwrap();
    assert_eq!(sheet, None, "the file's rows are gone once committed");

    let all = referrals(&app, &t).await;
    let mut statuses: Vec<&str> = all.iter().map(|r| r["status"].as_str().unwrap()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            "contacted",
            "declined",
            "enrolled",
            "exited",
            "exited",
            "received"
        ]
    );
    let exited = all
        .iter()
        .find(|r| r["status"] == "exited" && r["closing_reason"] == "employment");
    let exited = exited.unwrap_or_else(|| panic!("{all:?}"));
    assert!(
        exited["reference"]
            .as_str()
            .unwrap()
            .starts_with("AVIP-83-2025-")
    );
    assert_eq!(
        exited["received_at"], "2025-01-15T11:00:00Z",
        "its day, at noon in Paris"
    );
    let path = format!(
        "/api/v1/referrals/{}/events",
        exited["id"].as_str().unwrap()
    );
    let timeline = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    let kinds: Vec<&str> = (timeline["items"].as_array().unwrap().iter())
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "transition",
            "transition",
            "enrollment",
            "exit",
            "imported"
        ],
        "{timeline}"
    );
    let imported = timeline["items"].as_array().unwrap().last().unwrap();
    assert!(
        imported["data"].to_string().contains("clean.csv"),
        "{imported}"
    );
    assert!(
        imported["data"].to_string().contains(r#""row":2"#),
        "{imported}"
    );

    // The engine sweeps every second: the past stays quiet.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(sink.received().is_empty(), "{:?}", sink.received());
    assert!(receiver.hits().is_empty());
    let outbox: i64 = notifications::table.count().get_result(&mut conn).unwrap();
    let deliveries: i64 = webhook_deliveries::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!((outbox, deliveries), (0, 0));

    // What the coordinator counted by hand for 2025.
    let path = "/api/v1/exports/indicators?from=2025-01-01&to=2025-12-31&group_by=creche";
    let indicators = app.expect(&t.admin, "GET", path, None, 200).await;
    let row = &indicators[0];
    assert_eq!(row["label"], "Les Petits Pas");
    let got: Vec<i64> = [
        "received",
        "answered",
        "answered_within_deadline",
        "answered_late",
        "offers",
        "enrollments",
        "exits",
        "positive_exits",
        "lasting_solutions",
    ]
    .iter()
    .map(|k| row[k].as_i64().unwrap_or(-1))
    .collect();
    assert_eq!(got, [6, 5, 4, 2, 3, 3, 2, 1, 1], "{indicators}");
}

#[tokio::test]
async fn each_invalid_cell_is_named_corrected_in_place_and_the_commit_is_all_or_nothing() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let import = uploaded(&app, &t, "errors.csv").await;
    assert_eq!(import["format"]["encoding"], "utf-8");
    assert_eq!(import["format"]["separator"], ",");
    assert_eq!(counts(&import)["ready"], 1, "{import}");
    assert_eq!(counts(&import)["invalid"], 3);
    assert_eq!(counts(&import)["duplicate"], 1);
    let rows = import["rows"].as_array().unwrap();
    let errors = |n: u64| -> Vec<(String, String)> {
        let row = rows.iter().find(|r| r["row"] == n).unwrap();
        (row["errors"].as_array().unwrap().iter())
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let fields = |n| errors(n).into_iter().map(|e| e.0).collect::<Vec<_>>();
    assert_eq!(
        fields(3),
        ["child.birth_date", "parent.situation"],
        "{:?}",
        errors(3)
    );
    assert!(
        errors(3)[0].1.contains("JJ/MM/AAAA"),
        "in French: {:?}",
        errors(3)
    );
    assert!(
        fields(4).contains(&"exit.reason".to_owned()),
        "{:?}",
        errors(4)
    );
    assert!(
        fields(5).contains(&"prescriber".to_owned()),
        "{:?}",
        errors(5)
    );
    assert!(
        fields(5).contains(&"parent.phone".to_owned()),
        "{:?}",
        errors(5)
    );
    let duplicate = rows.iter().find(|r| r["row"] == 6).unwrap();
    assert_eq!(
        (duplicate["status"].as_str(), duplicate["detail"].as_str()),
        (Some("duplicate"), Some("row 2"))
    );
    let column = &rows.iter().find(|r| r["row"] == 3).unwrap()["errors"][0];
    assert_eq!(
        (column["column"].as_str(), column["value"].as_str()),
        (Some("Date de naissance de l'enfant"), Some("31/02/2024"))
    );

    // While a row is invalid nothing is written.
    let refused = commit(&app, &t, &import, 422).await;
    assert_eq!(refused["errors"][0]["field"], "rows", "{refused}");
    assert!(referrals(&app, &t).await.is_empty());

    let id = import["id"].as_str().unwrap();
    let fix = |row: u32, body: Value| {
        let (app, t) = (&app, &t);
        async move {
            let path = format!("/api/v1/imports/{id}/rows/{row}");
            app.expect(&t.coordinator, "PATCH", &path, Some(body), 200)
                .await
        }
    };
    fix(3, json!({"cells": {"child.birth_date": "28/02/2024", "parent.situation": "Demandeur d'emploi"}})).await;
    fix(4, json!({"cells": {"exit.reason": "Choix de la famille"}})).await;
    let still = fix(5, json!({"cells": {"prescriber": "France Travail"}})).await;
    assert_eq!(
        counts(&still)["invalid"],
        1,
        "the phone is still missing: {still}"
    );
    let bad = app
        .expect(
            &t.coordinator,
            "PATCH",
            &format!("/api/v1/imports/{id}/rows/5"),
            Some(json!({"cells": {"couleur": "bleu"}})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "cells.couleur");
    // A withdrawal's reason on a refused referral is not the refusal's.
    let closing =
        json!({"cells": {"status": "Refusée", "closing_reason": "Autre mode de garde trouvé"}});
    let mismatch = fix(5, closing).await;
    let row = (mismatch["rows"].as_array().unwrap().iter())
        .find(|r| r["row"] == 5)
        .unwrap();
    let named: Vec<&str> = (row["errors"].as_array().unwrap().iter())
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(named.contains(&"closing_reason"), "{row}");
    let left = fix(5, json!({"removed": true})).await;
    assert_eq!(
        counts(&left),
        json!({"total": 5, "ready": 3, "update": 0, "unchanged": 0, "duplicate": 1, "invalid": 0, "removed": 1})
    );

    // Two commits at once (a double click, two tabs): one writes, the
    // other is told it is done already.
    let path = format!("/api/v1/imports/{id}/commit");
    let (a, b) = tokio::join!(
        app.call(&t.coordinator, "POST", &path, None),
        app.call(&t.coordinator, "POST", &path, None)
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 422]);
    let done = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/imports/{id}"),
            None,
            200,
        )
        .await;
    assert_eq!(
        done["result"],
        json!({"created": 3, "updated": 0, "unchanged": 0, "skipped": 2})
    );
    assert_eq!(referrals(&app, &t).await.len(), 3);
    // Committed once.
    commit(&app, &t, &import, 422).await;
}

#[tokio::test]
async fn a_reimport_updates_what_changed_and_leaves_the_services_own_referrals_alone() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    // Julie Petit's Hugo was referred through the service meanwhile.
    let mut body = crate::referrals::referral(&t.creche, "Hugo");
    body["parent"]["first_name"] = json!("Julie");
    body["parent"]["last_name"] = json!("Petit");
    body["children"][0]["birth_date"] = json!("2024-11-11");
    app.expect(&t.prescriber, "POST", "/api/v1/referrals", Some(body), 201)
        .await;

    let first = uploaded(&app, &t, "clean.csv").await;
    assert_eq!(counts(&first)["ready"], 5);
    assert_eq!(counts(&first)["duplicate"], 1, "{first}");
    commit(&app, &t, &first, 200).await;

    // The same file again, Sarah Martin's Léo now gone from the crèche.
    let text = String::from_utf8(fixture("errors.csv")).unwrap();
    let _ = text;
    let mut csv = encoding_rs::WINDOWS_1252
        .decode(&fixture("clean.csv"))
        .0
        .into_owned();
    csv = csv.replace(
        "Accueil en cours;11/02/2025;03/03/2025;;;;;",
        "Sortie;11/02/2025;03/03/2025;30/09/2025;Entrée en formation;En formation;Assistante maternelle;",
    );
    let (encoded, _, _) = encoding_rs::WINDOWS_1252.encode(&csv);
    let (status, again) = upload(
        &app,
        &t.coordinator,
        &t.creche,
        "clean-septembre.csv",
        encoded.into_owned(),
    )
    .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(counts(&again)["update"], 1, "{again}");
    assert_eq!(counts(&again)["unchanged"], 4);
    assert_eq!(counts(&again)["duplicate"], 1);
    let done = commit(&app, &t, &again, 200).await;
    assert_eq!(
        done["result"],
        json!({"created": 0, "updated": 1, "unchanged": 4, "skipped": 1})
    );
    let all = referrals(&app, &t).await;
    assert_eq!(all.len(), 6, "nothing twice");
    let leo = all
        .iter()
        .find(|r| r["status"] == "exited" && r["closing_reason"] == "training");
    let leo = leo.unwrap_or_else(|| panic!("{all:?}"));
    let path = format!("/api/v1/referrals/{}/events", leo["id"].as_str().unwrap());
    let timeline = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    let imported = (timeline["items"].as_array().unwrap().iter())
        .filter(|e| e["kind"] == "imported")
        .count();
    assert_eq!(imported, 2, "one per import: {timeline}");

    // A row that gives the reference is matched by it, even with the
    // child's name corrected in the file.
    let reference = leo["reference"].as_str().unwrap();
    let renamed = csv.replace(";Léo;", ";Léon;").replacen(
        "\r\n;10/02/2025;",
        &format!("\r\n{reference};10/02/2025;"),
        1,
    );
    let (encoded, _, _) = encoding_rs::WINDOWS_1252.encode(&renamed);
    let (_, third) = upload(
        &app,
        &t.coordinator,
        &t.creche,
        "clean-leon.csv",
        encoded.into_owned(),
    )
    .await;
    let update = (third["rows"].as_array().unwrap().iter())
        .find(|r| r["status"] == "update")
        .unwrap_or_else(|| panic!("{third}"));
    assert_eq!(update["detail"], reference, "{third}");
    assert_eq!(counts(&third)["ready"], 0, "{third}");
}

#[tokio::test]
async fn bad_files_are_refused_with_their_reason_and_nothing_is_kept() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let mut too_many = String::from("Nom;Prénom\n");
    for i in 0..20_001 {
        too_many.push_str(&format!("Nom{i};Prénom\n"));
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("vide.csv", Vec::new(), "empty"),
        (
            "photo.png",
            b"\x89PNG\r\n\x1a\n\x00\x00".to_vec(),
            "not a spreadsheet",
        ),
        ("entetes.csv", "Nom;Prénom\n".as_bytes().to_vec(), "no rows"),
        (
            "formules.xlsx",
            fixture("formulas.xlsx"),
            "formulas (cell J2)",
        ),
        ("grand.csv", too_many.into_bytes(), "more than 20000 rows"),
        ("protege.xlsx", fixture("protected.xlsx"), "password"),
        (
            "fusion.xlsx",
            fixture("merged.xlsx"),
            "merged header cells (A1:B1)",
        ),
        (
            "faux.xlsx",
            b"PK\x03\x04not really a zip".to_vec(),
            "not a spreadsheet",
        ),
    ];
    for (name, bytes, why) in cases {
        let (status, body) = upload(&app, &t.coordinator, &t.creche, name, bytes).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["errors"][0]["field"], "file", "{name}: {body}");
        assert!(
            body["errors"][0]["message"].as_str().unwrap().contains(why),
            "{name}: {body}"
        );
    }
    let mut conn = app.db.connect();
    let kept: i64 = avip_db::schema::imports::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(kept, 0);

    // Another operator's crèche, and the import of another's.
    let (status, body) = upload(
        &app,
        &t.coordinator,
        &t.other_creche,
        "clean.csv",
        fixture("clean.csv"),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["field"].as_str()),
        (422, Some("creche_id"))
    );
    let mine = uploaded(&app, &t, "clean.csv").await;
    let path = format!("/api/v1/imports/{}", mine["id"].as_str().unwrap());
    app.expect(&t.other_coordinator, "GET", &path, None, 404)
        .await;
    app.expect(&t.prescriber, "GET", &path, None, 404).await;
    let template = app
        .call(&t.coordinator, "GET", "/api/v1/imports/template", None)
        .await;
    assert_eq!(template.status().as_u16(), 200);
    let bytes = template.bytes().await.unwrap();
    let (status, body) = upload(
        &app,
        &t.coordinator,
        &t.creche,
        "modele.xlsx",
        bytes.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "the template reads back: {body}");
    let fields: Vec<&str> = (body["columns"].as_array().unwrap().iter())
        .map(|c| c["field"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(fields.len(), avip_app::imports::columns::fields().len());
    assert!(!fields.contains(&"-"), "{fields:?}");

    // Imports left uncommitted keep their rows a week, no longer.
    let week = (chrono::Utc::now() + chrono::Duration::days(6)).to_rfc3339();
    avip_app::retention::run(&app.settings, Some(week), false).unwrap();
    app.expect(&t.coordinator, "GET", &path, None, 200).await;
    let later = (chrono::Utc::now() + chrono::Duration::days(8)).to_rfc3339();
    avip_app::retention::run(&app.settings, Some(later), false).unwrap();
    app.expect(&t.coordinator, "GET", &path, None, 404).await;
}

/// The indicators' counts of an import equal those of the same six
/// families' history entered step by step through the service (today, as
/// the API cannot write the past): one computation, whatever wrote the
/// history. The deadlines' verdicts depend on the dates, so they are
/// checked by hand in the first test.
#[tokio::test]
async fn the_imported_history_counts_as_the_same_history_entered_through_the_service() {
    use crate::evaluation::enrolled;
    use crate::referrals::{id, move_to, new_referral, today};
    let counted = [
        "received",
        "answered",
        "offers",
        "enrollments",
        "exits",
        "positive_exits",
        "lasting_solutions",
        "exits_in_work",
        "exits_in_training",
    ];
    let of = |indicators: &Value| -> Vec<i64> {
        let row = (indicators.as_array().unwrap().iter())
            .find(|r| r["label"] == "Les Petits Pas")
            .unwrap();
        counted
            .iter()
            .map(|k| row[k].as_i64().unwrap_or(-1))
            .collect()
    };

    let imported = spawn_app().await;
    let t = territory(&imported).await;
    let import = uploaded(&imported, &t, "clean.csv").await;
    commit(&imported, &t, &import, 200).await;
    let path = "/api/v1/exports/indicators?from=2025-01-01&to=2025-12-31&group_by=creche";
    let by_import = of(&imported.expect(&t.admin, "GET", path, None, 200).await);

    let entered = spawn_app().await;
    let t = territory(&entered).await;
    let exit = |reason: &str, status: &str, solution: &str| {
        json!({"date": today().to_string(), "reason": reason, "employment_status": status,
               "childcare_solution": solution})
    };
    for (child, left) in [
        (
            "Yanis",
            Some(exit("employment", "employed_permanent", "same_creche")),
        ),
        ("Léo", None),
        ("Lina", Some(exit("family_choice", "job_search", "none"))),
    ] {
        let r = enrolled(&entered, &t, child).await;
        if let Some(body) = left {
            let path = format!("/api/v1/referrals/{r}/exit");
            entered
                .expect(&t.coordinator, "POST", &path, Some(body), 200)
                .await;
        }
    }
    let ines = id(&new_referral(&entered, &t.prescriber, &t.creche, "Inès").await);
    move_to(
        &entered,
        &t.coordinator,
        &ines,
        json!({"to": "declined", "reason": "no_place_available"}),
        200,
    )
    .await;
    let hugo = id(&new_referral(&entered, &t.prescriber, &t.creche, "Hugo").await);
    move_to(
        &entered,
        &t.coordinator,
        &hugo,
        json!({"to": "contacted"}),
        200,
    )
    .await;
    new_referral(&entered, &t.prescriber, &t.creche, "Adam").await;
    let path = format!(
        "/api/v1/exports/indicators?from={0}&to={0}&group_by=creche",
        today()
    );
    let by_hand = of(&entered.expect(&t.admin, "GET", &path, None, 200).await);

    assert_eq!(by_import, by_hand, "{counted:?}");
    assert_eq!(by_import, [6, 5, 3, 3, 2, 1, 1, 1, 0]);
}

/// A crèche's AVIP places over time, from LibreOffice's ODS: each change on
/// its day (the past too), a day twice in the file a duplicate, a
/// re-import correcting one; the occupancy's available place-days follow.
#[tokio::test]
async fn the_places_history_is_imported_day_by_day_and_the_occupancy_follows() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let indicators = "/api/v1/exports/indicators?from=2025-01-01&to=2025-12-31&group_by=creche";
    let available = |v: &Value| {
        (v.as_array().unwrap().iter())
            .find(|r| r["label"] == "Les Petits Pas")
            .map(|r| r["available_place_days"].as_i64().unwrap())
            .unwrap()
    };
    let before = available(&app.expect(&t.admin, "GET", indicators, None, 200).await);

    let what = (t.creche.as_str(), "places");
    let (status, import) = upload_kind(
        &app,
        &t.coordinator,
        what,
        "places.ods",
        fixture("places.ods"),
    )
    .await;
    assert_eq!(status, 201, "{import}");
    assert_eq!(import["kind"], "places");
    assert_eq!(
        import["columns"][1]["field"], "places.avip_places",
        "{import}"
    );
    assert_eq!(counts(&import)["ready"], 3, "{import}");
    assert_eq!(counts(&import)["duplicate"], 1);
    let done = commit(&app, &t, &import, 200).await;
    assert_eq!(
        done["result"],
        json!({"created": 3, "updated": 0, "unchanged": 0, "skipped": 1})
    );

    let path = format!("/api/v1/creches/{}/capacity", t.creche);
    let history = app.expect(&t.coordinator, "GET", &path, None, 200).await;
    let changes: Vec<(String, i64)> = (history["changes"].as_array().unwrap().iter())
        .filter(|c| c["from"].as_str().unwrap() < "2026-06-01")
        .map(|c| {
            (
                c["from"].as_str().unwrap().to_owned(),
                c["avip_places"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("2025-01-01".into(), 6),
            ("2025-09-01".into(), 8),
            ("2026-01-01".into(), 6)
        ],
        "{history}"
    );
    let after = available(&app.expect(&t.admin, "GET", indicators, None, 200).await);
    assert!(
        after > before,
        "the crèche had places in 2025: {before} then {after}"
    );

    // The same file with September at 7: one update, the rest unchanged.
    let mut csv =
        String::from("Date d'effet;Nombre de places\n01/01/2025;6\n01/09/2025;7\n01/01/2026;6\n");
    csv.push_str("15/13/2025;6\n");
    let (_, again) = upload_kind(&app, &t.coordinator, what, "places.csv", csv.into_bytes()).await;
    assert_eq!(counts(&again)["invalid"], 1, "{again}");
    let row_5 = |v: &Value| {
        (v["rows"].as_array().unwrap().iter())
            .find(|r| r["row"] == 5)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row_5(&again)["errors"][0]["field"],
        "places.from",
        "{again}"
    );
    let update = (again["rows"].as_array().unwrap().iter())
        .find(|r| r["row"] == 3)
        .unwrap();
    assert_eq!(
        (update["status"].as_str(), update["detail"].as_str()),
        (Some("update"), Some("8 places"))
    );
    let id = again["id"].as_str().unwrap();
    let fixed = app
        .expect(
            &t.coordinator,
            "PATCH",
            &format!("/api/v1/imports/{id}/rows/5"),
            Some(json!({"cells": {"places.avip_places": "501"}})),
            200,
        )
        .await;
    let fixed = row_5(&fixed);
    let fields: Vec<&str> = (fixed["errors"].as_array().unwrap().iter())
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["places.from", "places.avip_places"], "{fixed}");
    app.expect(
        &t.coordinator,
        "PATCH",
        &format!("/api/v1/imports/{id}/rows/5"),
        Some(json!({"removed": true})),
        200,
    )
    .await;
    let done = commit(&app, &t, &again, 200).await;
    assert_eq!(
        done["result"],
        json!({"created": 0, "updated": 1, "unchanged": 2, "skipped": 1})
    );
    // A referral's field is no field of a places import.
    let (_, third) = upload_kind(
        &app,
        &t.coordinator,
        what,
        "places.ods",
        fixture("places.ods"),
    )
    .await;
    let path = format!("/api/v1/imports/{}/rows/2", third["id"].as_str().unwrap());
    let refused = app
        .expect(
            &t.coordinator,
            "PATCH",
            &path,
            Some(json!({"cells": {"child.first_name": "Léo"}})),
            422,
        )
        .await;
    assert_eq!(refused["errors"][0]["field"], "cells.child.first_name");
}
