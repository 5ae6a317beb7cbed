//! A large spreadsheet brought in, for BENCHMARKS.md (a measurement, not an
//! assertion). Run in release mode:
//!
//!     cargo bench -p avip-tests --bench imports
//!
//! A fresh database (SQLite, or PostgreSQL when `AVIP_TEST_DATABASE_URL`
//! is set), one crèche, then `BENCH_ROWS` rows (default 10,000) of
//! referrals with their history as a Windows-1252 CSV with `;` (as French
//! Excel writes it): every status, one child per row, each child unique.
//! Over real HTTP, as the crèche's coordinator: the upload with its
//! preview (3 times, fresh imports), one correction of a row (the whole
//! file checked again), then the commit of one of them.

use std::time::{Duration, Instant};

use avip_tests::spawn_app;
use serde_json::{Value, json};

const PASSWORD: &str = "a long passphrase";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

const HEADERS: &str = "Date de réception;Prescripteur;Référent;Mail du référent;Prénom de la mère;Nom de la mère;Téléphone;Mail;CP;Ville;Situation;Famille monoparentale;QPV;Prénom de l'enfant;Date de naissance de l'enfant;Jours;Projet;Statut;Date de première réponse;Date d'entrée;Date de sortie;Motif de sortie;Situation à la sortie;Solution de garde;Motif de clôture";

/// Row `n`: its dates in 2025, its status by `n % 6`.
fn row(n: usize) -> String {
    let day = 1 + n % 27;
    let month = 1 + (n / 27) % 6;
    let received = format!("{day:02}/{month:02}/2025");
    let answered = format!("{:02}/{month:02}/2025", day + 1);
    let start = format!("{day:02}/{:02}/2025", month + 1);
    let exit = format!("{day:02}/{:02}/2025", month + 4);
    let birth = format!("{:02}/{:02}/2024", 1 + n % 28, 1 + (n / 28) % 12);
    let (status, first, entry, out, why, situation, solution, closing) = match n % 6 {
        0 => ("Reçue", "", "", "", "", "", "", ""),
        1 => ("Famille contactée", &*answered, "", "", "", "", "", ""),
        2 => (
            "Refusée",
            &*answered,
            "",
            "",
            "",
            "",
            "",
            "Pas de place disponible",
        ),
        3 => ("Accueil en cours", &*answered, &*start, "", "", "", "", ""),
        4 => (
            "Sortie",
            &*answered,
            &*start,
            &*exit,
            "Accès à l'emploi",
            "En emploi (CDI)",
            "Dans la même crèche",
            "",
        ),
        _ => (
            "Sortie",
            &*answered,
            &*start,
            &*exit,
            "Choix de la famille",
            "En recherche d'emploi",
            "Aucune",
            "",
        ),
    };
    format!(
        "{received};france_travail;Paul Durand;p.durand@example.org;Mère{n};Famille{n};06{:08};;83000;Toulon;\
         Demandeur d'emploi;oui;non;Enfant{n};{birth};lun, mar, jeu;Formation;{status};{first};{entry};{out};{why};{situation};{solution};{closing}",
        n % 100_000_000
    )
}

async fn run() {
    let rows: usize = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let app = spawn_app().await;
    let admin = app.bootstrap().await;
    let post = |path: &'static str, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { app.expect(&admin, "POST", path, Some(body), 201).await }
    };
    let org = |kind: &str| json!({"kind": kind, "name": kind, "departement": "83"});
    post("/api/v1/organizations", org("france_travail")).await;
    let op = post("/api/v1/organizations", org("creche_operator")).await;
    let creche = post("/api/v1/creches", json!({"operator_id": op["id"], "name": "A", "address": "1 rue",
        "postal_code": "83000", "commune": "Toulon", "avip_places": 60,
        "opening_hours": {"opens": "07:00", "closes": "19:00", "days": ["mon","tue","wed","thu","fri"]}})).await;
    post(
        "/api/v1/users",
        json!({"email": "c@example.org", "name": "C", "role": "coordinator",
        "organization_id": op["id"], "password": PASSWORD, "creche_ids": [creche["id"]]}),
    )
    .await;
    let coordinator = app.password_token("c@example.org", PASSWORD).await;

    let mut csv = String::from(HEADERS);
    for n in 0..rows {
        csv.push_str("\r\n");
        csv.push_str(&row(n));
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&csv);
    let bytes = bytes.into_owned();
    println!(
        "imports: {rows} rows, {} kB (Windows-1252 CSV)",
        bytes.len() / 1024
    );

    let mut times = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        let form = reqwest::multipart::Form::new()
            .text("creche_id", creche["id"].as_str().unwrap().to_owned())
            .text("kind", "referrals")
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes.clone()).file_name("grand.csv"),
            );
        let started = Instant::now();
        let answer = app
            .client
            .post(app.url("/api/v1/imports"))
            .bearer_auth(&coordinator)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 201);
        last = answer.json().await.unwrap();
        times.push(started.elapsed());
    }
    assert_eq!(last["counts"]["ready"], rows, "{}", last["counts"]);
    report("upload and preview", &times);

    let id = last["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let path = format!("/api/v1/imports/{id}/rows/2");
    app.expect(
        &coordinator,
        "PATCH",
        &path,
        Some(json!({"cells": {"parent.commune": "La Seyne-sur-Mer"}})),
        200,
    )
    .await;
    report(
        "one correction (every row checked again)",
        &[started.elapsed()],
    );

    let started = Instant::now();
    let path = format!("/api/v1/imports/{id}/commit");
    let done = app.expect(&coordinator, "POST", &path, None, 200).await;
    report("commit", &[started.elapsed()]);
    assert_eq!(done["result"]["created"], rows);
}

fn report(what: &str, times: &[Duration]) {
    let ms: Vec<String> = times
        .iter()
        .map(|t| format!("{:.0} ms", t.as_secs_f64() * 1000.0))
        .collect();
    println!("imports: {what}: {}", ms.join(", "));
}
