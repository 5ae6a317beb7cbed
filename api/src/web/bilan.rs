//! The bilan d'activité in the workspace (`/app/bilan`): a period and a
//! scope, a preview of the figures as the document writes them, and the
//! Word and Excel downloads.

use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Datelike, NaiveDate, Utc};
use serde::Deserialize;

use crate::shared::State;
use crate::web::forms::Errors;
use crate::web::session::Visitor;
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, ok_page, urlencode};
use avip_app::domain::DomainError;
use avip_app::exports::Cancel;
use avip_app::workflow::exports::Ask;
use avip_app::workflow::reports::{self, BilanFormat};

#[derive(Deserialize)]
pub struct BilanQuery {
    du: Option<String>,
    au: Option<String>,
    perimetre: Option<String>,
    format: Option<String>,
}

/// One section as the page shows it.
pub struct SectionView {
    id: usize,
    title: &'static str,
    text: Vec<String>,
    to_fill: bool,
    tables: Vec<TableView>,
    /// Each chart's title and its SVG.
    charts: Vec<(String, String)>,
}

pub struct TableView {
    caption: String,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

pub struct BilanView {
    scope: String,
    from: String,
    to: String,
    previous_from: String,
    previous_to: String,
    sections: Vec<SectionView>,
}

#[derive(Template)]
#[template(path = "bilan.html")]
struct BilanPage {
    layout: Layout,
    from: String,
    to: String,
    scopes: Vec<Choice>,
    errors: Errors,
    bilan: Option<BilanView>,
    docx: String,
    xlsx: String,
}

/// The period asked for, or this calendar year; French errors otherwise.
fn period(q: &BilanQuery, errors: &mut Errors) -> (NaiveDate, NaiveDate) {
    let today = avip_sla_engine::clock::paris_date(Utc::now());
    let year = (
        NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
        NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap_or(today),
    );
    crate::web::forms::period((q.du.as_deref(), q.au.as_deref()), year, errors)
}

fn view(bilan: avip_app::reports::Bilan) -> Result<BilanView, WebError> {
    let day = |d: NaiveDate| avip_app::labels::date(d);
    let sections = (bilan.sections.iter().enumerate())
        .map(|(id, s)| {
            let charts = (0..s.charts.len())
                .map(|i| {
                    let chart = crate::shared::charts::chart_of(&s.charts[i], &s.tables);
                    let svg = chart.render().map_err(|e| WebError::Unexpected(e.into()))?;
                    Ok((chart.title.clone(), svg))
                })
                .collect::<Result<Vec<_>, WebError>>()?;
            Ok(SectionView {
                id,
                title: s.title,
                text: s.text.clone(),
                to_fill: s.to_fill,
                tables: (s.tables.iter())
                    .map(|t| TableView {
                        caption: t.caption.clone(),
                        head: t.head.clone(),
                        rows: (t.rows.iter())
                            .map(|r| r.iter().map(|v| v.french()).collect())
                            .collect(),
                    })
                    .collect(),
                charts,
            })
        })
        .collect::<Result<Vec<_>, WebError>>()?;
    Ok(BilanView {
        scope: bilan.scope,
        from: day(bilan.period.from),
        to: day(bilan.period.to),
        previous_from: day(bilan.previous.from),
        previous_to: day(bilan.previous.to),
        sections,
    })
}

/// `GET /app/bilan` (and, with `format=docx|xlsx`, the download).
pub async fn page(
    visitor: Visitor,
    state: State,
    query: web::Query<BilanQuery>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Bilan.require(&who)?;
    let mut errors = Errors::default();
    let (from, to) = period(&query, &mut errors);
    let scope = query.perimetre.clone().unwrap_or_default();
    let ask = Ask::of_choice(from, to, &scope);
    if let Some(format) = query.format.as_deref()
        && errors.is_empty()
    {
        let format = match format {
            "docx" => BilanFormat::Docx,
            "xlsx" => BilanFormat::Xlsx,
            _ => return Err(WebError::NotFound),
        };
        let draw = crate::shared::charts::svg_of;
        let file = reports::bilan_file(&state.app, who, ask, (format, draw)).await?;
        return Ok(crate::shared::download(file));
    }
    let zone = state.zone();
    let asker = who.clone();
    let counted = errors.is_empty();
    let (choices, bilan) = state
        .run(move |conn| {
            let choices = reports::scopes(conn, &asker)?;
            let bilan = if counted {
                Some(reports::bilan(
                    conn,
                    &asker,
                    &ask,
                    (Utc::now(), zone),
                    &Cancel::default(),
                )?)
            } else {
                None
            };
            Ok::<_, DomainError>((choices, bilan))
        })
        .await?;
    let bilan = bilan.map(view).transpose()?;
    let link = |format: &str| {
        format!(
            "/app/bilan?format={format}&du={from}&au={to}&perimetre={}",
            urlencode(&scope)
        )
    };
    let layout = Layout::load(&state, &visitor, Section::Bilan, "Bilan d’activité").await?;
    ok_page(&BilanPage {
        layout,
        from: from.to_string(),
        to: to.to_string(),
        scopes: (choices.into_iter())
            .map(|c| Choice {
                selected: c.value == scope,
                value: c.value,
                label: c.label,
            })
            .collect(),
        errors,
        bilan,
        docx: link("docx"),
        xlsx: link("xlsx"),
    })
}
