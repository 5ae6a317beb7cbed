//! The bilan d'activité (issue 37): a crèche's history brought in by the
//! import, then its bilan in DOCX and XLSX read back (the DOCX's XML, the
//! XLSX by calamine): the figures those of the indicators endpoint for the
//! same period and scope, the previous period's beside them, counts from 1
//! to 4 written « moins de 5 »; the scope rules; an empty period; a period
//! too long.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use avip_tests::TestApp;
use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};

use crate::imports::upload_kind;
use crate::referrals::{Territory, territory};

const HEADER: &str = "Référence;Date de réception;Prescripteur;Référent;Mail du référent;\
Prénom de la mère;Nom de la mère;Téléphone;Mail;CP;Ville;Situation;Famille monoparentale;QPV;\
Prénom de l'enfant;Date de naissance de l'enfant;Jours;Projet;Statut;Date de première réponse;\
Date d'entrée;Date de sortie;Motif de sortie;Situation à la sortie;Solution de garde;Motif de clôture";

/// One row of a crèche's spreadsheet: received on `day`/`month` of `year`.
fn row(n: usize, (year, month, day): (i32, u32, u32), prescriber: &str, story: &str) -> String {
    let received = format!("{day:02}/{month:02}/{year}");
    let next = format!("{:02}/{month:02}/{year}", day + 1);
    let late = format!("{:02}/{month:02}/{year}", day + 7);
    let (situation, single, qpv) = match n % 3 {
        0 => ("Demandeur d'emploi", "oui", "non"),
        1 => ("Bénéficiaire du RSA", "oui", "oui"),
        _ => ("Jeune de moins de 26 ans", "non", "non"),
    };
    let entry = format!("01/{:02}/{year}", month + 1);
    let exit = format!("28/{:02}/{year}", month + 4);
    let end = match story {
        "emploi" => format!(
            "Sortie;{next};{entry};{exit};Accès à l'emploi;En emploi (CDI);Dans la même crèche;"
        ),
        "formation" => format!(
            "Sortie;{next};{entry};{exit};Entrée en formation;En formation;Assistante maternelle;"
        ),
        "choix" => {
            format!(
                "Sortie;{next};{entry};{exit};Choix de la famille;En recherche d'emploi;Aucune;"
            )
        }
        "accueil" => format!("Accueil en cours;{next};{entry};;;;;"),
        "refus" => format!("Refusée;{next};;;;;;Pas de place disponible"),
        "tard" => format!("Famille contactée;{late};;;;;;"),
        "contact" => format!("Famille contactée;{next};;;;;;"),
        _ => "Reçue;;;;;;;".to_owned(),
    };
    format!(
        ";{received};{prescriber};Paul Durand;p.durand@example.org;Mère{n};Famille{n};0612345678;;\
         83000;Toulon;{situation};{single};{qpv};Enfant{n};14/01/{};lun, mar;Formation;{end}",
        year - 1
    )
}

/// 2025: 14 referrals (11 from France Travail, 3 from the mission locale),
/// 6 exits (5 positive); 2024: 6 referrals, 5 answered in time.
fn history() -> String {
    let ft = "France Travail Toulon Est";
    let ml = "Mission locale Toulon";
    let stories_2025 = [
        (ft, "emploi"),
        (ft, "emploi"),
        (ft, "emploi"),
        (ft, "emploi"),
        (ft, "formation"),
        (ft, "choix"),
        (ft, "accueil"),
        (ft, "accueil"),
        (ft, "refus"),
        (ft, "tard"),
        (ft, "tard"),
        (ml, "accueil"),
        (ml, "refus"),
        (ml, "contact"),
    ];
    let mut lines = vec![HEADER.to_owned()];
    for (i, (who, story)) in stories_2025.iter().enumerate() {
        let month = 1 + (i as u32 % 6);
        lines.push(row(i, (2025, month, 3 + i as u32), who, story));
    }
    for i in 0..6 {
        let story = if i == 5 { "tard" } else { "contact" };
        lines.push(row(100 + i, (2024, 2 + i as u32, 10), ft, story));
    }
    lines.join("\r\n")
}

/// The crèche's AVIP places since 2024.
const PLACES: &str = "Date d'effet;Places AVIP\r\n01/01/2024;6\r\n";

async fn imported(app: &TestApp, t: &Territory) {
    for (kind, name, file) in [
        ("places", "places.csv", PLACES.to_owned()),
        ("referrals", "historique.csv", history()),
    ] {
        let (status, body) = upload_kind(
            app,
            &t.coordinator,
            (&t.creche, kind),
            name,
            file.into_bytes(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["counts"]["invalid"], 0, "{body}");
        let path = format!("/api/v1/imports/{}/commit", body["id"].as_str().unwrap());
        app.expect(&t.coordinator, "POST", &path, None, 200).await;
    }
}

/// `GET` a file: its status, content type and bytes.
async fn download(app: &TestApp, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let response = reqwest::Client::new()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// A part of a zip (DOCX, XLSX) as text.
fn part(bytes: &[u8], name: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut file = zip.by_name(name).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    Some(text)
}

fn names(bytes: &[u8]) -> Vec<String> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    zip.file_names().map(|n| n.unwrap().into_owned()).collect()
}

/// The DOCX's paragraphs (table cells included), with their style.
fn paragraphs(docx: &[u8]) -> Vec<(String, String)> {
    let xml = part(docx, "word/document.xml").expect("word/document.xml");
    xml.split("</w:p>")
        .map(|p| {
            let style = p
                .split("<w:pStyle w:val=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("")
                .to_owned();
            // `<w:t>` or `<w:t xml:space="preserve">`, not `<w:tbl>`, `<w:tc>`…
            let text: String = p
                .split("<w:t")
                .skip(1)
                .filter(|t| t.starts_with('>') || t.starts_with(' '))
                .filter_map(|t| t.split_once('>').map(|(_, rest)| rest))
                .filter_map(|t| t.split("</w:t>").next())
                .collect();
            let text = text
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'");
            (style, text)
        })
        .filter(|(_, t)| !t.is_empty())
        .collect()
}

/// The cells after `label` in the DOCX (its row's values), `n` of them.
fn docx_row(paragraphs: &[(String, String)], label: &str, n: usize) -> Vec<String> {
    let at = (paragraphs.iter())
        .position(|(_, t)| t == label)
        .unwrap_or_else(|| panic!("{label:?} not in the DOCX"));
    paragraphs[at + 1..=at + n]
        .iter()
        .map(|(_, t)| t.clone())
        .collect()
}

/// Each sheet's rows, as calamine reads them.
fn sheets(xlsx: &[u8]) -> HashMap<String, Vec<Vec<Data>>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.to_vec())).unwrap();
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (name, rows)
        })
        .collect()
}

/// The row of `sheet` whose first cell is `label` (the first one).
fn xlsx_row<'a>(
    sheets: &'a HashMap<String, Vec<Vec<Data>>>,
    sheet: &str,
    label: &str,
) -> &'a [Data] {
    sheets[sheet]
        .iter()
        .find(|r| {
            r.first()
                .is_some_and(|c| matches!(c, Data::String(s) if s == label))
        })
        .unwrap_or_else(|| panic!("{label:?} not in sheet {sheet}"))
}

/// How the bilan writes a count: « moins de 5 » from 1 to 4.
fn count(n: &Value) -> String {
    match n.as_i64().unwrap() {
        1..=4 => "moins de 5".to_owned(),
        n => n.to_string(),
    }
}

/// How the XLSX holds a count: a number, or the text.
fn cell_count(n: &Value) -> Data {
    match n.as_i64().unwrap() {
        1..=4 => Data::String("moins de 5".to_owned()),
        n => Data::Float(n as f64),
    }
}

/// A percentage or hours as the DOCX writes them: one decimal, a comma.
fn decimal(v: &Value) -> String {
    let v = (v.as_f64().unwrap() * 10.0).round() / 10.0;
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

async fn indicators(app: &TestApp, token: &str, query: &str) -> Value {
    let path = format!("/api/v1/exports/indicators?group_by=creche&{query}");
    let rows = app.expect(token, "GET", &path, None, 200).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "one crèche: {rows}");
    rows[0].clone()
}

#[tokio::test]
async fn a_bilan_writes_the_indicators_figures_in_word_and_excel_with_the_previous_year_beside() {
    let app = avip_tests::spawn_app().await;
    let t = territory(&app).await;
    imported(&app, &t).await;
    let scope = format!("creche={}", t.creche);
    let year = indicators(
        &app,
        &t.coordinator,
        &format!("from=2025-01-01&to=2025-12-31&{scope}"),
    )
    .await;
    let before = indicators(
        &app,
        &t.coordinator,
        &format!("from=2024-01-01&to=2024-12-31&{scope}"),
    )
    .await;
    assert_eq!(year["received"], 14, "{year}");
    assert_eq!(year["exits"], 6, "{year}");
    assert_eq!(before["received"], 6, "{before}");

    let query = format!("/api/v1/reports/activity?from=2025-01-01&to=2025-12-31&{scope}");
    let (status, kind, docx) = download(&app, &t.coordinator, &query).await;
    assert_eq!(status, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let p = paragraphs(&docx);
    let headings: Vec<&str> = (p.iter())
        .filter(|(s, _)| s == "Heading1")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        headings,
        [
            "Synthèse",
            "Orientations reçues",
            "Réponses aux familles sous 72 heures",
            "Propositions, inscriptions et transferts",
            "Sorties du dispositif",
            "Situation des parents après la sortie",
            "Places AVIP et occupation",
            "Profil des familles orientées",
            "Actions menées",
            "Partenariats",
            "Perspectives",
            "Méthode"
        ]
    );
    assert!(
        p.iter().any(|(_, t)| t == "Crèche Les Petits Pas"),
        "the scope"
    );
    // The key figures: the year, the year before, as the indicators say.
    for (label, key) in [
        ("Orientations reçues", "received"),
        ("Places proposées", "offers"),
        ("Inscriptions", "enrollments"),
        ("Sorties", "exits"),
        ("Sorties positives", "positive_exits"),
    ] {
        let cells = docx_row(&p, label, 2);
        assert_eq!(cells, [count(&year[key]), count(&before[key])], "{label}");
    }
    let in_time = docx_row(&p, "Réponses sous 72 heures (part)", 2);
    assert_eq!(
        in_time,
        [
            format!("{}\u{a0}%", decimal(&year["answered_within_deadline_pct"])),
            format!(
                "{}\u{a0}%",
                decimal(&before["answered_within_deadline_pct"])
            )
        ]
    );
    let text: String = p.iter().map(|(_, t)| format!("{t}\n")).collect();
    assert!(
        text.contains(&format!(
            "Sur la période, {}\u{a0}% des familles ont reçu une réponse en moins de 72 heures, \
             contre {}\u{a0}% l’année précédente.",
            decimal(&year["answered_within_deadline_pct"]),
            decimal(&before["answered_within_deadline_pct"])
        )),
        "{text}"
    );
    assert_eq!(
        docx_row(&p, "Délai médian de réponse (heures)", 1),
        [decimal(&year["median_hours_to_first_response"])]
    );
    assert_eq!(
        docx_row(&p, "Délai de réponse, 90e centile (heures)", 1),
        [decimal(&year["p90_hours_to_first_response"])]
    );
    // The families' profile, counted in the database apart from the
    // indicators, adds up to the same referrals.
    assert_eq!(
        docx_row(&p, "Familles orientées", 2),
        [count(&year["received"]), "100\u{a0}%".to_owned()]
    );
    // A breakdown under 5 is masked: three referrals of the mission locale.
    assert_eq!(docx_row(&p, "Mission locale", 1), ["moins de 5"]);
    assert_eq!(docx_row(&p, "France Travail", 1), ["11"]);
    assert_eq!(
        docx_row(&p, "Accès à l’emploi", 2),
        ["moins de 5", "moins de 5"]
    );
    assert!(
        text.contains("contre 6 orientations l’année précédente")
            || text.contains(", contre 6 l’année précédente"),
        "{text}"
    );
    // No family's name anywhere.
    assert!(
        !text.contains("Famille1") && !text.contains("Enfant1"),
        "{text}"
    );
    // Page numbers, a table of contents, the charts as images.
    let footer = names(&docx)
        .into_iter()
        .find(|n| n.starts_with("word/footer"))
        .expect("a footer");
    assert!(part(&docx, &footer).unwrap().contains("PAGE"));
    assert!(
        part(&docx, "word/document.xml")
            .unwrap()
            .contains("TOC \\o")
    );
    let images: Vec<String> = names(&docx)
        .into_iter()
        .filter(|n| n.starts_with("word/media/") && n.ends_with(".png"))
        .collect();
    // AVIP_BILAN_OUT=<folder> keeps both files (docs/screenshots' pages).
    if let Ok(dir) = std::env::var("AVIP_BILAN_OUT") {
        std::fs::write(format!("{dir}/bilan.docx"), &docx).unwrap();
    }
    let images = images.len();
    assert_eq!(images, 4, "one image per chart");

    let (status, kind, xlsx) =
        download(&app, &t.coordinator, &format!("{query}&format=xlsx")).await;
    assert_eq!(status, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    if let Ok(dir) = std::env::var("AVIP_BILAN_OUT") {
        std::fs::write(format!("{dir}/bilan.xlsx"), &xlsx).unwrap();
    }
    let s = sheets(&xlsx);
    for sheet in [
        "Synthèse",
        "Orientations",
        "Réponses 72 h",
        "Sorties",
        "Places et occupation",
        "Profil des familles",
        "Actions",
    ] {
        assert!(s.contains_key(sheet), "sheet {sheet}: {:?}", s.keys());
    }
    for (label, key) in [("Orientations reçues", "received"), ("Sorties", "exits")] {
        let r = xlsx_row(&s, "Synthèse", label);
        assert_eq!(r[1], cell_count(&year[key]), "{label}");
        assert_eq!(r[2], cell_count(&before[key]), "{label}");
    }
    let r = xlsx_row(&s, "Réponses 72 h", "Part répondue dans les 72 heures");
    let pct = (year["answered_within_deadline_pct"].as_f64().unwrap() * 10.0).round() / 10.0;
    assert_eq!(r[1], Data::Float(pct));
    assert_eq!(
        xlsx_row(&s, "Orientations", "Mission locale")[1],
        Data::String("moins de 5".into())
    );
    let r = xlsx_row(&s, "Places et occupation", "Par mois");
    assert_eq!(r.len(), s["Places et occupation"][0].len());
    let occupancy: f64 = year["occupancy_pct"].as_f64().unwrap();
    assert!(occupancy > 0.0, "{year}");
    let charts = names(&xlsx)
        .into_iter()
        .filter(|n| n.starts_with("xl/charts/chart"))
        .count();
    assert_eq!(charts, 4, "native charts");
}

#[tokio::test]
async fn a_bilan_is_scoped_as_the_indicators_are_and_an_empty_period_still_reads() {
    let app = avip_tests::spawn_app().await;
    let t = territory(&app).await;
    let creche = app
        .expect(
            &t.admin,
            "GET",
            &format!("/api/v1/creches/{}", t.creche),
            None,
            200,
        )
        .await;
    let operator = creche["operator_id"].as_str().unwrap().to_owned();
    let period = "from=2030-01-01&to=2030-03-31";
    let get = |token: &str, query: String| {
        let app = &app;
        let token = token.to_owned();
        async move {
            download(
                app,
                &token,
                &format!("/api/v1/reports/activity?{period}&{query}"),
            )
            .await
            .0
        }
    };
    // Another operator's coordinator: neither the crèche nor the operator.
    assert_eq!(
        get(&t.other_coordinator, format!("creche={}", t.creche)).await,
        404
    );
    assert_eq!(
        get(&t.other_coordinator, format!("operator={operator}")).await,
        404
    );
    assert_eq!(
        get(&t.coordinator, format!("operator={operator}")).await,
        200
    );
    // The CAF: its département, not another; a prescriber: nothing.
    assert_eq!(get(&t.caf, "departement=83".into()).await, 200);
    assert_eq!(get(&t.caf, "departement=13".into()).await, 403);
    assert_eq!(get(&t.prescriber, String::new()).await, 403);
    let other_caf = {
        let body = json!({"kind": "caf", "name": "CAF des Bouches-du-Rhône", "departement": "13"});
        let org = app
            .expect(&t.admin, "POST", "/api/v1/organizations", Some(body), 201)
            .await;
        crate::referrals::person(
            &app,
            &t.admin,
            "analyste@caf13.example.org",
            "caf",
            org["id"].as_str().unwrap(),
            &[],
        )
        .await
    };
    assert_eq!(get(&other_caf, format!("creche={}", t.creche)).await, 404);
    assert_eq!(get(&t.admin, "departement=13".into()).await, 200);

    // An empty quarter: a readable document, every section, no error.
    let (status, _, docx) = download(
        &app,
        &t.coordinator,
        &format!("/api/v1/reports/activity?{period}"),
    )
    .await;
    assert_eq!(status, 200);
    let p = paragraphs(&docx);
    assert!(
        p.iter()
            .any(|(_, t)| t.contains("0 orientations ont été reçues")),
        "{p:?}"
    );
    assert_eq!(p.iter().filter(|(s, _)| s == "Heading1").count(), 12);
    let (status, _, xlsx) = download(
        &app,
        &t.coordinator,
        &format!("/api/v1/reports/activity?{period}&format=xlsx"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        xlsx_row(&sheets(&xlsx), "Synthèse", "Orientations reçues")[1],
        Data::Float(0.0)
    );

    // Bad asks are named.
    for (query, field) in [
        ("from=2015-01-01&to=2025-12-31", "to"),
        ("from=2025-01-01&to=2024-12-31", "to"),
        ("from=2025-01-01&to=2025-12-31&format=pdf", "format"),
        ("from=2025-01-01&to=2025-12-31&creche=nope", "creche"),
        (
            "from=2025-01-01&to=2025-12-31&departement=83&creche=0193a5b0-7c1e-7d2a-9b1e-000000000001",
            "creche",
        ),
    ] {
        let path = format!("/api/v1/reports/activity?{query}");
        let problem = app.expect(&t.admin, "GET", &path, None, 400).await;
        assert!(problem.to_string().contains(field), "{query}: {problem}");
    }
}
