//! "Planning des places AVIP": a crèche's month, day by day — capacity,
//! occupied, held by offers, free — and the territory view of every crèche
//! of a département. Read from the bookings on every request (and every 30
//! seconds by htmx while the page is open), so an enrollment or an offer
//! shows at once.

use actix_web::{HttpResponse, web};
use askama::Template;
use avip_db::model::{CrecheId, Role};
use avip_db::places::{Day, Period};
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::Deserialize;

use crate::shared::State;
use crate::web::session::Visitor;
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, fr, ok_page};
use avip_app::domain::DomainError;

pub struct Cell {
    pub day: u32,
    pub capacity: i32,
    pub occupied: i32,
    pub held: i32,
    pub free: i32,
    /// `free`, `tight`, `full`, `closed`, or `outside` (not in the month).
    pub class: &'static str,
    /// What the colour says, in words.
    pub word: &'static str,
}

fn cell(d: &Day) -> Cell {
    let (class, word) = if d.capacity == 0 {
        ("closed", "aucune place AVIP")
    } else if d.free == 0 {
        ("full", "complet")
    } else if d.free * 4 <= d.capacity {
        ("tight", "presque complet")
    } else {
        ("free", "places libres")
    };
    Cell {
        day: d.date.day(),
        capacity: d.capacity,
        occupied: d.occupied,
        held: d.held,
        free: d.free,
        class,
        word,
    }
}

fn blank() -> Cell {
    Cell {
        day: 0,
        capacity: 0,
        occupied: 0,
        held: 0,
        free: 0,
        class: "outside",
        word: "",
    }
}

/// The month asked for (`2026-12`), or this month.
fn month_of(raw: Option<&str>) -> NaiveDate {
    raw.and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .filter(|d| (2000..=2100).contains(&d.year()))
        .unwrap_or_else(|| {
            let today = avip_sla_engine::clock::paris_date(Utc::now());
            today.with_day(1).unwrap_or(today)
        })
}

fn period_of(first: NaiveDate) -> Period {
    let next = first + Months::new(1);
    Period {
        from: first,
        to: next.pred_opt().unwrap_or(first),
    }
}

fn month_param(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

#[derive(Deserialize)]
pub struct PlanningQuery {
    creche: Option<String>,
    mois: Option<String>,
    departement: Option<String>,
    partiel: Option<String>,
}

#[derive(Template)]
#[template(path = "planning.html")]
struct PlanningPage {
    layout: Layout,
    creches: Vec<Choice>,
    creche_id: String,
    creche_name: String,
    month: String,
    month_param: String,
    previous: String,
    next: String,
    weeks: Vec<Vec<Cell>>,
}

#[derive(Template)]
#[template(path = "planning_grid.html")]
struct PlanningGrid<'a> {
    creche_name: &'a str,
    month: &'a str,
    weeks: &'a [Vec<Cell>],
}

/// `GET /app/places`.
pub async fn creche(
    visitor: Visitor,
    state: State,
    query: web::Query<PlanningQuery>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Places.require(&who)?;
    let first = month_of(query.mois.as_deref());
    let asked = query.creche.as_deref().and_then(CrecheId::parse);
    let (names, chosen, days) = state
        .run(move |conn| {
            let names = avip_app::workflow::creches::names(conn, &who)?;
            let chosen = asked
                .filter(|id| names.iter().any(|c| &c.id == id))
                .or_else(|| names.first().map(|c| c.id.clone()));
            let days = match &chosen {
                Some(id) => {
                    avip_app::workflow::places::availability(conn, &who, id, period_of(first))?
                }
                None => Vec::new(),
            };
            Ok::<_, DomainError>((names, chosen, days))
        })
        .await?;
    // Monday-first weeks; days outside the month are blank.
    let mut weeks: Vec<Vec<Cell>> = Vec::new();
    let mut week: Vec<Cell> = (0..first.weekday().num_days_from_monday())
        .map(|_| blank())
        .collect();
    for d in &days {
        week.push(cell(d));
        if week.len() == 7 {
            weeks.push(std::mem::take(&mut week));
        }
    }
    if !week.is_empty() {
        while week.len() < 7 {
            week.push(blank());
        }
        weeks.push(week);
    }
    let creche_name = names
        .iter()
        .find(|c| Some(&c.id) == chosen.as_ref())
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let month = fr::month(first.year(), first.month());
    if query.partiel.is_some() {
        return ok_page(&PlanningGrid {
            creche_name: &creche_name,
            month: &month,
            weeks: &weeks,
        });
    }
    let layout = Layout::load(
        &state,
        &visitor,
        Section::Places,
        "Planning des places AVIP",
    )
    .await?;
    ok_page(&PlanningPage {
        layout,
        creches: names
            .iter()
            .map(|c| Choice {
                value: c.id.to_string(),
                label: c.name.clone(),
                selected: Some(&c.id) == chosen.as_ref(),
            })
            .collect(),
        creche_id: chosen.map(|c| c.to_string()).unwrap_or_default(),
        creche_name,
        month,
        month_param: month_param(first),
        previous: month_param(first - Months::new(1)),
        next: month_param(first + Months::new(1)),
        weeks,
    })
}

pub struct TerritoryRow {
    pub name: String,
    pub commune: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "territory.html")]
struct TerritoryPage {
    layout: Layout,
    departement: String,
    month: String,
    month_param: String,
    previous: String,
    next: String,
    days: Vec<String>,
    rows: Vec<TerritoryRow>,
}

/// `GET /app/places/territoire`.
pub async fn territory(
    visitor: Visitor,
    state: State,
    query: web::Query<PlanningQuery>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Territory.require(&who)?;
    let departement = match (who.role, query.departement.as_deref()) {
        (Role::Admin, Some(d)) if avip_app::domain::departement(d).is_ok() => d.to_owned(),
        _ => who.departement.clone(),
    };
    let first = month_of(query.mois.as_deref());
    let period = period_of(first);
    let rows = {
        let departement = departement.clone();
        state
            .run(move |conn| {
                avip_app::workflow::places::territory(conn, &who, &departement, period)
            })
            .await?
    };
    let days = (0..=(period.to - period.from).num_days())
        .map(|i| {
            (period.from + chrono::Duration::days(i))
                .format("%d")
                .to_string()
        })
        .collect();
    let layout = Layout::load(&state, &visitor, Section::Territory, "Places du territoire").await?;
    ok_page(&TerritoryPage {
        layout,
        departement,
        month: fr::month(first.year(), first.month()),
        month_param: month_param(first),
        previous: month_param(first - Months::new(1)),
        next: month_param(first + Months::new(1)),
        days,
        rows: rows
            .into_iter()
            .map(|c| TerritoryRow {
                name: c.name,
                commune: c.commune,
                cells: c.days.iter().map(cell).collect(),
            })
            .collect(),
    })
}
