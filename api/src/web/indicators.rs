//! The indicators of the evaluation (the CAF, coordinators for their
//! crèches, admins): the export's figures by month, crèche or prescriber
//! kind, with charts drawn on the server, and the CSV and XLSX downloads.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::Deserialize;

use crate::shared::State;
use crate::shared::charts::{Chart, Series};
use crate::web::forms::Errors;
use crate::web::session::Visitor;
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, ok_page, urlencode};
use avip_app::domain::DomainError;
use avip_app::exports::{Cancel, Format, GroupBy, Tally, percentile};
use avip_app::workflow::exports::Ask;

#[derive(Deserialize)]
pub struct IndicatorsQuery {
    du: Option<String>,
    au: Option<String>,
    groupe: Option<String>,
    departement: Option<String>,
    format: Option<String>,
}

pub struct TableRow {
    pub label: String,
    pub received: i64,
    pub answered: i64,
    pub within: String,
    /// Referrals whose deadline still runs: not counted in `within`.
    pub pending: i64,
    pub median: String,
    pub p90: String,
    pub enrollments: i64,
    pub exits: i64,
    pub positive: String,
    pub occupancy: String,
    /// At exit, then at 3 and at 6 months: in work and in training.
    pub at_exit: String,
    pub after: Vec<String>,
}

/// "2 en emploi (50,0 %), 1 en formation" out of `of`; "—" without any.
fn situations(work: i64, training: i64, of: i64) -> String {
    if of == 0 {
        return "—".to_owned();
    }
    format!(
        "{work} en emploi ({}), {training} en formation ({})",
        shown(pct(work, of), " %"),
        shown(pct(training, of), " %")
    )
}

#[derive(Template)]
#[template(path = "indicators.html")]
struct IndicatorsPage {
    layout: Layout,
    from: String,
    to: String,
    groups: Vec<Choice>,
    group_label: &'static str,
    departement: String,
    admin: bool,
    errors: Errors,
    rows: Vec<TableRow>,
    /// Each chart's visible title and its SVG.
    charts: Vec<(String, String)>,
    csv: String,
    xlsx: String,
}

fn grouping(raw: Option<&str>) -> (GroupBy, &'static str, &'static str) {
    match raw {
        Some("creche") => (GroupBy::Creche, "creche", "Crèche"),
        Some("prescripteur") => (
            GroupBy::PrescriberKind,
            "prescripteur",
            "Type de prescripteur",
        ),
        _ => (GroupBy::Month, "mois", "Mois de réception"),
    }
}

fn pct(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| 100.0 * n as f64 / d as f64)
}

fn shown(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{:.1}{unit}", v).replace('.', ","))
        .unwrap_or_else(|| "—".to_owned())
}

fn hours(t: &Tally) -> Vec<f64> {
    let mut h = t.hours.clone();
    h.sort_by(f64::total_cmp);
    h
}

fn row(t: &Tally) -> TableRow {
    let h = hours(t);
    let c = &t.counts;
    let n = i64::from;
    TableRow {
        label: t.label.clone(),
        received: n(c.received),
        answered: n(c.answered),
        within: shown(
            pct(n(c.within_deadline), n(c.within_deadline + c.late)),
            " %",
        ),
        pending: t.pending,
        median: shown(percentile(&h, 0.5), " h"),
        p90: shown(percentile(&h, 0.9), " h"),
        enrollments: n(c.enrollments),
        exits: n(c.exits),
        positive: shown(pct(n(c.positive_exits), n(c.exits)), " %"),
        occupancy: shown(t.place_days.and_then(|(o, a)| pct(o, a)), " %"),
        at_exit: situations(n(c.exits_in_work), n(c.exits_in_training), n(c.exits)),
        after: [c.after(0), c.after(1)]
            .iter()
            .flat_map(|a| {
                [
                    format!("{} sur {}", a.answered, a.asked),
                    situations(n(a.in_work), n(a.in_training), n(a.answered)),
                ]
            })
            .collect(),
    }
}

fn charts(months: &BTreeMap<String, Tally>) -> Result<Vec<(String, String)>, WebError> {
    let labels: Vec<String> = months.keys().cloned().collect();
    let tallies: Vec<&Tally> = months.values().collect();
    let series = |name: &str, class, f: &dyn Fn(&Tally) -> Option<f64>| Series {
        name: name.to_owned(),
        class,
        values: tallies.iter().map(|t| f(t)).collect(),
    };
    let list = [
        Chart::bars(
            "recues",
            "Orientations reçues et répondues sous 72 h, par mois",
            "Barres : pour chaque mois, le nombre d’orientations reçues et le nombre de celles \
             auxquelles la crèche a répondu dans le délai de 72 heures.",
            &labels,
            &[
                series("Reçues", "bar1", &|t| Some(f64::from(t.counts.received))),
                series("Répondues sous 72 h", "bar2", &|t| {
                    Some(f64::from(t.counts.within_deadline))
                }),
            ],
            "",
        ),
        Chart::lines(
            "delais",
            "Délai de première réponse (médiane et 90e centile), en heures",
            "Deux courbes : le délai médian et le délai sous lequel 90 % des familles ont eu \
             une réponse, mois par mois.",
            &labels,
            &[
                series("Médiane", "line1", &|t| percentile(&hours(t), 0.5)),
                series("90e centile", "line2", &|t| percentile(&hours(t), 0.9)),
            ],
            " h",
        ),
        Chart::bars(
            "sorties",
            "Sorties et sorties positives, par mois de réception",
            "Barres : le nombre d’enfants sortis du dispositif et, parmi eux, ceux dont le \
             parent a trouvé un emploi ou une formation.",
            &labels,
            &[
                series("Sorties", "bar1", &|t| Some(f64::from(t.counts.exits))),
                series("Sorties positives", "bar2", &|t| {
                    Some(f64::from(t.counts.positive_exits))
                }),
            ],
            "",
        ),
        Chart::lines(
            "occupation",
            "Taux d’occupation des places AVIP, par mois",
            "Une courbe : la part des journées-places AVIP occupées par des enfants inscrits.",
            &labels,
            &[series("Occupation", "line1", &|t| {
                t.place_days.and_then(|(o, a)| pct(o, a))
            })],
            " %",
        ),
    ];
    list.iter()
        .map(|c| {
            let svg = c.render().map_err(|e| WebError::Unexpected(e.into()))?;
            Ok((c.title.clone(), svg))
        })
        .collect()
}

/// The period asked for, or the last twelve months; French errors otherwise.
fn period(q: &IndicatorsQuery, errors: &mut Errors) -> (NaiveDate, NaiveDate) {
    let today = avip_sla_engine::clock::paris_date(Utc::now());
    let default_from = (today.with_day(1).unwrap_or(today)) - Months::new(11);
    crate::web::forms::period(
        (q.du.as_deref(), q.au.as_deref()),
        (default_from, today),
        errors,
    )
}

/// The indicators as a file to save (CSV or XLSX).
async fn download(
    state: &State,
    who: avip_app::auth::Principal,
    ask: Ask,
    group_by: GroupBy,
    format: Format,
) -> Result<HttpResponse, WebError> {
    let file = avip_app::workflow::exports::indicators_file(&state.app, who, ask, group_by, format)
        .await?;
    Ok(crate::shared::download(file))
}

type Groups = BTreeMap<String, avip_app::exports::Tally>;

/// The indicators by month (for the charts) and by the chosen grouping.
async fn tallies(
    state: &State,
    who: &avip_app::auth::Principal,
    ask: Ask,
    group_by: GroupBy,
) -> Result<(Groups, Groups), WebError> {
    let who = who.clone();
    let zone = state.zone();
    Ok(state
        .run(move |conn| {
            let cancel = Cancel::default();
            let now = (Utc::now(), zone);
            let (_, months) = avip_app::workflow::exports::indicators(
                conn,
                &who,
                &ask,
                GroupBy::Month,
                now,
                &cancel,
            )?;
            let groups = if group_by == GroupBy::Month {
                months.clone()
            } else {
                avip_app::workflow::exports::indicators(conn, &who, &ask, group_by, now, &cancel)?.1
            };
            Ok::<_, DomainError>((months, groups))
        })
        .await?)
}

/// The groupings offered, the chosen one selected.
fn group_choices(chosen: &str) -> Vec<Choice> {
    [
        ("mois", "Mois"),
        ("creche", "Crèche"),
        ("prescripteur", "Type de prescripteur"),
    ]
    .iter()
    .map(|(v, l)| Choice {
        value: (*v).to_owned(),
        label: (*l).to_owned(),
        selected: *v == chosen,
    })
    .collect()
}

/// `GET /app/indicateurs` (and, with `format=csv|xlsx`, the download).
pub async fn page(
    visitor: Visitor,
    state: State,
    query: web::Query<IndicatorsQuery>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Indicators.require(&who)?;
    let mut errors = Errors::default();
    let (from, to) = period(&query, &mut errors);
    let (group_by, group_code, group_label) = grouping(query.groupe.as_deref());
    let admin = who.role == avip_db::model::Role::Admin;
    let departement = query
        .departement
        .clone()
        .filter(|d| admin && avip_app::domain::departement(d).is_ok());
    let ask = || Ask {
        departement: departement.clone(),
        ..Ask::period_only(from, to)
    };
    if let Some(format) = query.format.as_deref()
        && errors.is_empty()
    {
        let format = match format {
            "xlsx" => Format::Xlsx,
            "csv" => Format::Csv {
                comma: false,
                french: true,
            },
            _ => return Err(WebError::NotFound),
        };
        return download(&state, who, ask(), group_by, format).await;
    }
    let (months, groups) = if errors.is_empty() {
        tallies(&state, &who, ask(), group_by).await?
    } else {
        (BTreeMap::new(), BTreeMap::new())
    };
    let link = |format: &str| {
        let mut l =
            format!("/app/indicateurs?format={format}&du={from}&au={to}&groupe={group_code}");
        if let Some(d) = &departement {
            l.push_str(&format!("&departement={}", urlencode(d)));
        }
        l
    };
    let (csv, xlsx) = (link("csv"), link("xlsx"));
    let layout = Layout::load(&state, &visitor, Section::Indicators, "Indicateurs").await?;
    ok_page(&IndicatorsPage {
        layout,
        from: from.to_string(),
        to: to.to_string(),
        groups: group_choices(group_code),
        group_label,
        departement: departement.unwrap_or_default(),
        admin,
        rows: groups.values().map(row).collect(),
        charts: charts(&months)?,
        csv,
        xlsx,
        errors,
    })
}
