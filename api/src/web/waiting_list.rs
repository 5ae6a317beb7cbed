//! "Liste d'attente": one waiting list across the coordinator's crèches
//! (issue 34, point 2), the longest waiting first, each family with its
//! week and the crèches of the same operator that could take it now.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::CrecheId;
use chrono::Utc;
use serde::Deserialize;

use crate::shared::State;
use crate::web::session::Visitor;
use crate::web::worklist::{Choice, filter_choices};
use crate::web::{Layout, Section, WebError, fr, ok_page};
use avip_app::domain::DomainError;
use avip_app::workflow::waiting_list::{WaitingEntry, waiting_list};

pub struct Line {
    pub id: String,
    pub reference: String,
    pub family: String,
    pub creche: String,
    pub since: String,
    pub waited: String,
    pub days: String,
    pub hours: String,
    pub start: String,
    /// The crèches of the operator free on the family's days, in words.
    pub room: Vec<String>,
}

#[derive(Template)]
#[template(path = "waiting_list.html")]
struct WaitingPage {
    layout: Layout,
    creches: Vec<Choice>,
    lines: Vec<Line>,
}

#[derive(Deserialize)]
pub struct Filters {
    creche: Option<String>,
}

fn line(e: WaitingEntry) -> Line {
    let days: Vec<&str> = e.days.iter().map(|d| fr::weekday(*d)).collect();
    Line {
        id: e.referral_id.to_string(),
        reference: e.reference,
        family: e.family,
        creche: e.creche_name,
        since: fr::date(e.waitlisted_at.date_naive()),
        waited: match e.days_waiting {
            0 => "aujourd’hui".to_owned(),
            1 => "1 jour".to_owned(),
            n => format!("{n} jours"),
        },
        days: if days.is_empty() {
            "—".to_owned()
        } else {
            days.join(", ")
        },
        hours: e
            .hours
            .map(|h| fr::hours(&h.from, &h.to))
            .unwrap_or_else(|| "—".to_owned()),
        start: e.desired_start_date.map(fr::date).unwrap_or_default(),
        room: (e.could_take.into_iter())
            .map(|c| format!("{} ({})", c.name, c.commune))
            .collect(),
    }
}

/// `GET /app/liste-attente`.
pub async fn show(
    req: HttpRequest,
    visitor: Visitor,
    state: State,
    filters: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::WaitingList.require(&who)?;
    let creche = (filters.creche.as_deref())
        .filter(|c| !c.is_empty())
        .and_then(CrecheId::parse);
    let (zone, reader, chosen) = (state.zone(), who.clone(), creche.clone());
    let (names, entries) = state
        .run(move |conn| {
            let entries = waiting_list(conn, &reader, (chosen, None), zone, Utc::now())?;
            let names = avip_app::workflow::creches::names(conn, &reader)?;
            Ok::<_, DomainError>((names, entries))
        })
        .await?;
    let read: Vec<_> = entries.iter().map(|e| e.referral_id.clone()).collect();
    crate::shared::record_read(&req, &state, &who, &read, "list_referrals");
    let (creches, _) = filter_choices(&names, creche.as_ref(), &[], None);
    let layout = Layout::load(&state, &visitor, Section::WaitingList, "Liste d’attente").await?;
    ok_page(&WaitingPage {
        layout,
        creches,
        lines: entries.into_iter().map(line).collect(),
    })
}
