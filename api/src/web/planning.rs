//! "Planning des places AVIP": a crèche's month, day by day — capacity,
//! occupied, held by offers, free — and the territory view of every crèche
//! of a département. Read from the bookings on every request (and every 30
//! seconds by htmx while the page is open), so an enrollment or an offer
//! shows at once.

use actix_web::{HttpResponse, web};
use askama::Template;
use avip_app::access::{Action, Resource};
use avip_app::workflow::calendar::ClosureRequest;
use avip_db::model::{ClosureId, CrecheId, Role};
use avip_db::places::{Day, Period};
use chrono::{Datelike, Months, NaiveDate, Utc};
use serde::Deserialize;

use crate::shared::State;
use crate::web::forms::{Errors, Form, Kind};
use crate::web::session::Visitor;
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, fr, ok_page};
use avip_app::domain::DomainError;

pub struct Cell {
    pub day: u32,
    /// `lun.`, `mar.` … for the territory's headers.
    pub open: bool,
    /// Why the crèche is closed, on a closed day.
    pub closure: String,
    pub capacity: i32,
    pub occupied: i32,
    pub held: i32,
    pub free: i32,
    /// `free`, `tight`, `full`, `none` (no AVIP place), `closed` (the
    /// crèche is closed), or `outside` (not in the month).
    pub class: &'static str,
    /// What the colour says, in words.
    pub word: &'static str,
}

fn cell(d: &Day) -> Cell {
    let (class, word) = if !d.open {
        ("closed", "fermé")
    } else if d.capacity == 0 {
        ("none", "aucune place AVIP")
    } else if d.free == 0 {
        ("full", "complet")
    } else if d.free * 4 <= d.capacity {
        ("tight", "presque complet")
    } else {
        ("free", "places libres")
    };
    Cell {
        day: d.date.day(),
        open: d.open,
        closure: d.closure.clone().unwrap_or_default(),
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
        open: false,
        closure: String::new(),
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

/// One weekday of the month: its least free places over the days the
/// crèche opens, or closed every such day.
pub struct WeekdayLine {
    pub name: &'static str,
    pub text: String,
}

/// A closure as the page lists it.
pub struct ClosureLine {
    pub id: String,
    pub text: String,
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
    summary: Vec<WeekdayLine>,
    closures: Vec<ClosureLine>,
    /// The person may record and remove closures (admins; the crèche's
    /// coordinators).
    can_edit: bool,
    form: Form,
    errors: Errors,
}

impl PlanningPage {
    /// The closure form's refusals, in its order, each naming its field.
    fn closure_summary(&self) -> Vec<(String, String)> {
        self.errors
            .summary(CLOSURE_LABELS, |field| format!("closure-{field}"))
    }

    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    fn invalid(&self, field: &str) -> String {
        match self.errors.get(field) {
            Some(_) => format!(" aria-invalid=\"true\" aria-describedby=\"closure-{field}-err\""),
            None => String::new(),
        }
    }
}

/// The month's summary per weekday, in words.
pub fn summary(days: &[Day]) -> Vec<WeekdayLine> {
    avip_app::workflow::places::weekday_summary(days)
        .into_iter()
        .map(|(day, least)| WeekdayLine {
            name: fr::weekday(day),
            text: match least {
                None => "fermé".to_owned(),
                Some(0) => "aucune place libre".to_owned(),
                Some(1) => "1 place libre".to_owned(),
                Some(n) => format!("{n} places libres"),
            },
        })
        .collect()
}

/// Monday-first weeks of the month; days outside it are blank.
fn month_grid(first: NaiveDate, days: &[Day]) -> Vec<Vec<Cell>> {
    let mut weeks: Vec<Vec<Cell>> = Vec::new();
    let mut week: Vec<Cell> = (0..first.weekday().num_days_from_monday())
        .map(|_| blank())
        .collect();
    for d in days {
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
    weeks
}

/// What the crèche's planning reads: the crèches the person may choose,
/// the chosen one's days and closures.
struct Loaded {
    names: Vec<avip_db::creches::CrecheName>,
    chosen: Option<CrecheId>,
    days: Vec<Day>,
    closures: Vec<avip_db::closures::Closure>,
}

async fn load(
    state: &State,
    who: &avip_app::auth::Principal,
    asked: Option<CrecheId>,
    first: NaiveDate,
) -> Result<Loaded, WebError> {
    let who = who.clone();
    let zone = state.zone();
    Ok(state
        .run(move |conn| {
            let names = avip_app::workflow::creches::names(conn, &who)?;
            let chosen = asked
                .filter(|id| names.iter().any(|c| &c.id == id))
                .or_else(|| names.first().map(|c| c.id.clone()));
            let (days, closures) = match &chosen {
                Some(id) => (
                    avip_app::workflow::places::availability(
                        conn,
                        &who,
                        id,
                        period_of(first),
                        zone,
                    )?,
                    avip_app::workflow::calendar::list(conn, &who, id, first)?,
                ),
                None => (Vec::new(), Vec::new()),
            };
            Ok::<_, DomainError>(Loaded {
                names,
                chosen,
                days,
                closures,
            })
        })
        .await?)
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
    Section::Places.require(&visitor.who)?;
    let first = month_of(query.mois.as_deref());
    let asked = query.creche.as_deref().and_then(CrecheId::parse);
    let loaded = load(&state, &visitor.who, asked, first).await?;
    if query.partiel.is_some() {
        let (name, month) = (chosen_name(&loaded), fr::month(first.year(), first.month()));
        return ok_page(&PlanningGrid {
            creche_name: &name,
            month: &month,
            weeks: &month_grid(first, &loaded.days),
        });
    }
    render(
        &state,
        &visitor,
        first,
        loaded,
        Form::default(),
        Errors::default(),
    )
    .await
}

fn chosen_name(loaded: &Loaded) -> String {
    loaded
        .names
        .iter()
        .find(|c| Some(&c.id) == loaded.chosen.as_ref())
        .map(|c| c.name.clone())
        .unwrap_or_default()
}

/// The page, with the closure form as it was sent and what it refused.
async fn render(
    state: &State,
    visitor: &Visitor,
    first: NaiveDate,
    loaded: Loaded,
    form: Form,
    errors: Errors,
) -> Result<HttpResponse, WebError> {
    let layout = Layout::load(state, visitor, Section::Places, "Planning des places AVIP").await?;
    let can_edit = loaded.chosen.as_ref().is_some_and(|id| {
        avip_app::access::decide(&visitor.who, Action::Update, Resource::Capacity(id)).is_ok()
    });
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PlanningPage {
        layout,
        creches: loaded
            .names
            .iter()
            .map(|c| Choice {
                value: c.id.to_string(),
                label: c.name.clone(),
                selected: Some(&c.id) == loaded.chosen.as_ref(),
            })
            .collect(),
        creche_id: loaded
            .chosen
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        creche_name: chosen_name(&loaded),
        month: fr::month(first.year(), first.month()),
        month_param: month_param(first),
        previous: month_param(first - Months::new(1)),
        next: month_param(first + Months::new(1)),
        weeks: month_grid(first, &loaded.days),
        summary: summary(&loaded.days),
        closures: loaded
            .closures
            .into_iter()
            .map(|c| ClosureLine {
                id: c.id.to_string(),
                text: format!(
                    "{} : du {} au {}",
                    c.label,
                    fr::date(c.starts_on),
                    fr::date(c.ends_on)
                ),
            })
            .collect(),
        can_edit,
        form,
        errors,
    };
    Ok(crate::web::html(status, &page))
}

/// `POST /app/places/fermetures`: records a closure of the chosen crèche.
pub async fn add_closure(
    visitor: Visitor,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = Form::read(&body)?;
    visitor.check_csrf(form.csrf())?;
    let creche = CrecheId::parse(form.get("creche")).ok_or(WebError::NotFound)?;
    let first = month_of(Some(form.get("mois")).filter(|m| !m.is_empty()));
    let parsed = form.parse::<ClosureRequest>(CLOSURE);
    let outcome = match parsed {
        Ok(request) => {
            let (who, id) = (visitor.who.clone(), creche.clone());
            let done = state
                .write(move |conn| {
                    avip_app::workflow::calendar::create(conn, &who, &id, request, Utc::now())
                })
                .await;
            match done {
                Ok(_) => Ok(()),
                Err(e) => Err(Errors::of(e)?),
            }
        }
        Err(errors) => Err(errors),
    };
    match outcome {
        Ok(()) => Ok(back(&creche, first)),
        Err(errors) => {
            let loaded = load(&state, &visitor.who, Some(creche), first).await?;
            render(&state, &visitor, first, loaded, form, errors).await
        }
    }
}

/// `POST /app/places/fermetures/{id}/suppression`.
pub async fn remove_closure(
    visitor: Visitor,
    state: State,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = Form::read(&body)?;
    visitor.check_csrf(form.csrf())?;
    let creche = CrecheId::parse(form.get("creche")).ok_or(WebError::NotFound)?;
    let closure = ClosureId::parse(&path.into_inner()).ok_or(WebError::NotFound)?;
    let first = month_of(Some(form.get("mois")).filter(|m| !m.is_empty()));
    let (who, id) = (visitor.who.clone(), creche.clone());
    let now = Utc::now();
    state
        .write(move |conn| avip_app::workflow::calendar::delete(conn, &who, &id, &closure, now))
        .await?;
    Ok(back(&creche, first))
}

/// The closure form's fields and labels, top to bottom.
const CLOSURE_LABELS: &[(&str, &str)] = &[("from", "Du"), ("to", "Au"), ("label", "Motif affiché")];

const CLOSURE: &[(&str, Kind)] = &[
    ("from", Kind::Required),
    ("to", Kind::Required),
    ("label", Kind::Required),
];

fn back(creche: &CrecheId, first: NaiveDate) -> HttpResponse {
    crate::web::see_other(&format!(
        "/app/places?creche={creche}&mois={}#fermetures",
        month_param(first)
    ))
}

pub struct TerritoryRow {
    pub id: String,
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
    days: Vec<DayHeader>,
    rows: Vec<TerritoryRow>,
}

/// A column of the territory's month: the day and its weekday.
pub struct DayHeader {
    /// `lu`, `ma` … `di`.
    pub short: &'static str,
    /// `lundi 4`.
    pub long: String,
    pub day: u32,
    pub weekend: bool,
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
    let zone = state.zone();
    let rows = {
        let departement = departement.clone();
        state
            .run(move |conn| {
                avip_app::workflow::places::territory(conn, &who, &departement, period, zone)
            })
            .await?
    };
    let days = (0..=(period.to - period.from).num_days())
        .map(|i| {
            let date = period.from + chrono::Duration::days(i);
            let weekday = avip_app::domain::Weekday::of(date.weekday());
            let name = fr::weekday(weekday);
            DayHeader {
                short: &name[..2],
                long: format!("{name} {}", date.day()),
                day: date.day(),
                weekend: date.weekday().number_from_monday() > 5,
            }
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
                id: c.creche_id.to_string(),
                name: c.name,
                commune: c.commune,
                cells: c.days.iter().map(cell).collect(),
            })
            .collect(),
    })
}
