//! `GET /api/v1/waiting-list`: the waitlisted families across a
//! coordinator's crèches (issue 34, point 2).

use actix_web::{HttpRequest, get, web};
use avip_db::model::CrecheId;
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Bearer};
use crate::http::page::List;
use crate::http::responses::{BadRequest, Forbidden, Unauthorized};
use crate::shared::{State, record_read};
use avip_app::domain::DomainError;
use avip_app::workflow::waiting_list::{self, WaitingEntry};

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WaitingListQuery {
    /// Only this crèche's families.
    #[param(format = Uuid)]
    pub creche: Option<String>,
    /// Only the crèches of this département.
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
}

/// The families on the waiting list of every crèche the caller may see
/// (a coordinator's crèches, every crèche for an admin), the longest
/// waiting first (200 at most), each with the weekdays, hours and start it
/// needs, how long it has waited, and the crèches of the same operator that
/// have a place on each of its days now: where a transfer
/// (`POST /referrals/{id}/transfer`) would find room.
#[utoipa::path(operation_id = "getWaitingList", tag = "referrals", params(WaitingListQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<WaitingEntry>),
    BadRequest,
    Unauthorized,
    Forbidden,
))]
#[get("/waiting-list")]
pub async fn show(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<WaitingListQuery>,
) -> Result<web::Json<List<WaitingEntry>>, ApiError> {
    let query = query.0;
    let creche = match query.creche.as_deref() {
        None => None,
        Some(raw) => Some(
            CrecheId::parse(raw).ok_or_else(|| DomainError::parameter("creche", "is not an id"))?,
        ),
    };
    if let Some(d) = query.departement.as_deref() {
        avip_app::domain::departement(d)
            .map_err(|reason| DomainError::parameter("departement", &reason))?;
    }
    let (zone, reader) = (state.zone(), who.clone());
    let entries = state
        .run(move |conn| {
            let scope = (creche, query.departement.as_deref());
            waiting_list::waiting_list(conn, &reader, scope, zone, Utc::now())
        })
        .await?;
    let read: Vec<_> = entries.iter().map(|e| &e.referral_id).collect();
    record_read(&req, &state, &who, read, "list_referrals");
    Ok(web::Json(List {
        items: entries,
        next_cursor: None,
    }))
}
