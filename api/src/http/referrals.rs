//! `/api/v1/referrals`: intake from prescribers, the coordinator's workflow
//! and the timeline. Each handler extracts, calls one use case of
//! `avip_app::workflow::referrals`, and renders.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use avip_db::model::{CrecheId, OrganizationId, ReferralId, ReferralStatus, to_db_time};
use avip_db::referrals::{ChangePosition, ListOrder, ReferralFilter};
use avip_sla_engine::clock::paris_midnight;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::{ApiError, ProblemDocument};
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::page::{Cursor, List, TimePageQuery, page_request, path_id};
use crate::http::responses::{
    BadRequest, Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, Unprocessable,
};
use crate::shared::{State, record_read};
use avip_app::domain::DomainError;
use avip_app::domain::referral::TransferRequest;
use avip_app::domain::referral::{
    EnrollmentChange, EnrollmentRequest, FollowUpRequest, NoteRequest, ReferralRequest,
    TransitionRequest, idempotency_key,
};
use avip_app::views::referral::{EventBody, FollowUpBody, ReferralBody};
use avip_app::workflow::acts;
use avip_app::workflow::referrals as referral;
use avip_app::workflow::transfers::Transfer;

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

pub(crate) fn referral_id(raw: &str) -> Result<ReferralId, DomainError> {
    path_id(raw, ReferralId::parse)
}

/// The `Idempotency-Key` header, checked.
pub(crate) fn key_of(req: &HttpRequest) -> Result<Option<String>, DomainError> {
    req.headers()
        .get("idempotency-key")
        .map(|value| {
            idempotency_key(value.to_str().unwrap_or("\u{0}"))
                .map_err(|message| DomainError::invalid("Idempotency-Key", message))
        })
        .transpose()
}

/// Post a referral (prescribers). The same `Idempotency-Key` with the same
/// body returns the referral already created (200); with another body, 422.
#[utoipa::path(operation_id = "createReferral", tag = "referrals", request_body = ReferralRequest, security(("oauth2" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "Any string up to 255 visible ASCII characters; a retry with the same key and body returns the same referral.")),
    responses(
    (status = 201, body = ReferralBody, description = "Created"),
    (status = 200, body = ReferralBody, description = "Already created under this Idempotency-Key"),
    BadRequest, Unauthorized, Forbidden,
    (status = 409, body = ProblemDocument, content_type = "application/problem+json",
        description = "An active referral exists for this child at this crèche; `existing_referral_id` names it when it is the caller's organisation's"),
    Unprocessable,
    TooManyRequests,
))]
#[post("/referrals")]
pub async fn create(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    body: ApiJson<ReferralRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = key_of(&req)?;
    let now = now();
    let intake = referral::create(&state.app, &who, body.0, key, now).await?;
    let location = format!("/api/v1/referrals/{}", intake.record.referral.id);
    let mut response = match intake.replayed {
        true => HttpResponse::Ok(),
        false => HttpResponse::Created(),
    };
    if intake.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response
        .insert_header(("Location", location))
        .json(ReferralBody::new(intake.record, &state.policy.policy, now)))
}

#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// One status or several separated by commas: `received,contacted`.
    #[param(
        pattern = "^(received|contacted|offered|waitlisted|enrolled|declined|withdrawn|exited)(,(received|contacted|offered|waitlisted|enrolled|declined|withdrawn|exited))*$"
    )]
    pub status: Option<String>,
    #[param(format = Uuid)]
    pub creche_id: Option<String>,
    #[param(format = Uuid)]
    pub prescriber_organization_id: Option<String>,
    /// Received on or after this day (Paris), `YYYY-MM-DD`.
    pub received_from: Option<NaiveDate>,
    /// Received on or before this day (Paris), `YYYY-MM-DD`.
    pub received_to: Option<NaiveDate>,
    /// `true`: only unanswered referrals past their first-response deadline.
    pub overdue: Option<bool>,
    /// Changed at or after this instant (RFC 3339). A filter on the list,
    /// which stays in the order referrals were received: to follow every
    /// change without missing one, read `GET /api/v1/referrals/changes`.
    pub updated_after: Option<DateTime<Utc>>,
    /// Find a family: words found, whatever their case and accents
    /// ("helene" finds "Hélène"), in the reference, the parent's first or
    /// last name or a child's first name (2 to 100
    /// characters, not only spaces). Each search is written to the access
    /// log with the referrals it returned.
    #[param(min_length = 2, max_length = 100, pattern = "\\S", example = "benali")]
    pub q: Option<String>,
    /// `received_at`: oldest first (the default); `-received_at`: newest
    /// first; `sla_due_at`: the first-response deadline, soonest first
    /// (referrals without one last); `contract_end_date`: the contract's
    /// end, soonest first (referrals without a contract last). The cursor
    /// follows the order asked for.
    #[param(pattern = "^(-?received_at|sla_due_at|contract_end_date)$")]
    pub sort: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,18}\\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

impl ReferralQuery {
    /// The filters asked for (the use case adds the caller's scope).
    fn filter(self, now: DateTime<Utc>) -> Result<ReferralFilter, DomainError> {
        let bad = DomainError::parameter;
        let mut statuses = Vec::new();
        for part in self.status.iter().flat_map(|s| s.split(',')) {
            statuses.push(
                part.trim()
                    .parse::<ReferralStatus>()
                    .map_err(|m| bad("status", &m))?,
            );
        }
        let creche_id = self
            .creche_id
            .map(|c| CrecheId::parse(&c).ok_or_else(|| bad("creche_id", "is not an id")))
            .transpose()?;
        let prescriber_organization_id = self
            .prescriber_organization_id
            .map(|c| {
                OrganizationId::parse(&c)
                    .ok_or_else(|| bad("prescriber_organization_id", "is not an id"))
            })
            .transpose()?;
        if let (Some(from), Some(to)) = (self.received_from, self.received_to)
            && to < from
        {
            return Err(bad("received_to", "is before received_from"));
        }
        let search = match self.q.as_deref() {
            None => None,
            Some(q) if (2..=100).contains(&q.chars().count()) && !q.trim().is_empty() => {
                Some(avip_db::referrals::Search::new(q))
            }
            Some(_) => return Err(bad("q", "must be 2 to 100 characters, not only spaces")),
        };
        let order = match self.sort.as_deref() {
            None | Some("received_at") => ListOrder::Received,
            Some("-received_at") => ListOrder::ReceivedNewest,
            Some("sla_due_at") => ListOrder::Deadline,
            Some("contract_end_date") => ListOrder::ContractEnd,
            Some(_) => {
                return Err(bad(
                    "sort",
                    "must be received_at, -received_at, sla_due_at or contract_end_date",
                ));
            }
        };
        Ok(ReferralFilter {
            search,
            order,
            within_creches: None,
            within_prescriber: None,
            statuses,
            creche_id,
            prescriber_organization_id,
            received_from: self.received_from.map(|d| to_db_time(paris_midnight(d))),
            received_before: self
                .received_to
                .and_then(|d| d.succ_opt())
                .map(|d| to_db_time(paris_midnight(d))),
            overdue_at: self.overdue.unwrap_or(false).then(|| to_db_time(now)),
            updated_after: self.updated_after.map(to_db_time),
        })
    }
}

/// List referrals: a prescriber sees its organisation's, a coordinator those
/// addressed to its crèches, an admin all. Oldest first (`sort=-received_at`:
/// newest first); the cursor neither skips nor repeats while new referrals
/// arrive. `q` finds a family by name, child's first name or reference.
#[utoipa::path(operation_id = "listReferrals", tag = "referrals", params(ReferralQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<ReferralBody>), BadRequest, Unauthorized, Forbidden,
))]
#[get("/referrals")]
pub async fn list(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<ReferralQuery>,
) -> Result<web::Json<List<ReferralBody>>, ApiError> {
    let now = now();
    let page = page_request(query.0.limit, query.0.cursor.as_deref(), Cursor::Time)?;
    let searched = query.0.q.is_some();
    let filter = query.0.filter(now)?;
    let reader = who.clone();
    let rows = state
        .run(move |conn| referral::list(conn, &reader, filter, &page))
        .await?;
    record_read(
        &req,
        &state,
        &who,
        rows.items.iter().map(|r| &r.referral.id),
        if searched {
            "search_referrals"
        } else {
            "list_referrals"
        },
    );
    let policy = &state.policy.policy;
    Ok(web::Json(List::from_page(rows, |r| {
        ReferralBody::new(r, policy, now)
    })))
}

#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// `next_cursor` of the previous answer; without it, the feed starts
    /// from the beginning.
    #[param(pattern = "^[0-9]{1,18}\\.[0-9]{1,18}$", example = "0.1042")]
    pub cursor: Option<String>,
    /// Referrals per answer, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of the change feed.
#[derive(Serialize, ToSchema)]
pub struct ChangeFeed {
    /// Each referral as it is now, in the order of its last change.
    pub items: Vec<ReferralBody>,
    /// Where to read next: store it, and send it as `cursor` on the next
    /// call. Never null: when nothing changed, it is the cursor sent.
    #[schema(example = "0.1042")]
    pub next_cursor: String,
    /// `true`: more changes can be read at once; `false`: this was the end
    /// of the feed for now (poll again later).
    pub has_more: bool,
}

/// The change feed: the referrals the caller may see (a prescriber its
/// organisation's, a coordinator its crèches', an admin all), each in the
/// order of its last change. Every change (intake, transition, note,
/// follow-up, enrollment, exit, SLA stage, anonymisation) moves the
/// referral to the end of the feed. A client that stores `next_cursor` and
/// polls with it misses no change and never reads a referral in an older
/// state after a newer one; a referral changed several times between two
/// polls comes once, as it is now.
#[utoipa::path(operation_id = "listReferralChanges", tag = "referrals", params(ChangesQuery), security(("oauth2" = [])), responses(
    (status = 200, body = ChangeFeed), BadRequest, Unauthorized, Forbidden,
))]
#[get("/referrals/changes")]
pub async fn changes(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<ChangesQuery>,
) -> Result<web::Json<ChangeFeed>, ApiError> {
    let now = now();
    let query = query.0;
    // Only the limit's bounds matter here; the cursor is the feed's own.
    let limit = page_request(query.limit, None, Cursor::Id)?.limit;
    let after = match query.cursor.as_deref() {
        None => ChangePosition::default(),
        Some(text) => ChangePosition::parse(text)
            .ok_or_else(|| DomainError::parameter("cursor", "is not a cursor this feed gave"))?,
    };
    let reader = who.clone();
    let page = state
        .run(move |conn| referral::changes(conn, &reader, after, limit))
        .await?;
    record_read(
        &req,
        &state,
        &who,
        page.items.iter().map(|r| &r.referral.id),
        "referral_changes",
    );
    let policy = &state.policy.policy;
    Ok(web::Json(ChangeFeed {
        items: page
            .items
            .into_iter()
            .map(|r| ReferralBody::new(r, policy, now))
            .collect(),
        next_cursor: page.next.encode(),
        has_more: page.more,
    }))
}

/// One referral with its SLA state.
#[utoipa::path(operation_id = "getReferral", tag = "referrals", params(("id" = String, Path, format = Uuid)), security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound,
))]
#[get("/referrals/{id}")]
pub async fn get_one(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let reader = who.clone();
    let record = state
        .read_short(move |conn| referral::get(conn, &reader, &id))
        .await?;
    record_read(&req, &state, &who, [&record.referral.id], "get_referral");
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now(),
    )))
}

/// Move a referral along its lifecycle (coordinators; prescribers may only
/// withdraw). A move the lifecycle does not allow is 409 with
/// `allowed_next_states`.
#[utoipa::path(operation_id = "transitionReferral", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = TransitionRequest,
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/transitions")]
pub async fn transitions(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<TransitionRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::transition(&state.app, &who, &id, body.0, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}

/// Hand an open referral (received, contacted, waitlisted) to another
/// crèche of the same département: the crèche holding it, or the
/// prescriber organisation that sent it. The family, children, needs,
/// follow-ups, history and reference go with it; the first-response
/// deadline is unchanged (a transfer is not an answer to the family). The
/// new crèche's coordinators and the referent are told, a
/// `referral.transferred` webhook is delivered, and the crèche it leaves
/// no longer sees it (404). 409 for a referral offered, enrolled or
/// closed; 422 for a crèche of another département.
#[utoipa::path(operation_id = "transferReferral", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = TransferRequest,
    security(("oauth2" = [])), responses(
    (status = 200, body = Transfer), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/transfer")]
pub async fn transfer(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<TransferRequest>,
) -> Result<web::Json<Transfer>, ApiError> {
    let id = referral_id(&id)?;
    Ok(web::Json(
        acts::transfer(&state.app, &who, &id, body.0, now()).await?,
    ))
}

/// The timeline, in the order things happened, with who and when. It
/// includes an `exported` entry for each download of evaluation rows
/// (`GET /exports/referrals`) that included the referral: its id is the
/// export's, `data` gives the format and the period exported.
#[utoipa::path(operation_id = "listReferralEvents", tag = "referrals", params(("id" = String, Path, format = Uuid), TimePageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<EventBody>), NotFound,
))]
#[get("/referrals/{id}/events")]
pub async fn events(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    query: ApiQuery<TimePageQuery>,
) -> Result<web::Json<List<EventBody>>, ApiError> {
    let id = referral_id(&id)?;
    let page = query.0.request()?;
    let (reader, read_id) = (who.clone(), id.clone());
    let rows = state
        .run(move |conn| referral::timeline(conn, &reader, &read_id, &page))
        .await?;
    record_read(&req, &state, &who, [&id], "timeline");
    Ok(web::Json(List::from_page(rows, EventBody::from)))
}

/// Add a note to the timeline (coordinators and prescribers).
#[utoipa::path(operation_id = "addReferralNote", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = NoteRequest,
    security(("oauth2" = [])), responses(
    (status = 201, body = EventBody), Forbidden, NotFound, Unprocessable,
))]
#[post("/referrals/{id}/notes")]
pub async fn notes(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let event = acts::add_note(&state.app, &who, &id, body.0, now()).await?;
    Ok(HttpResponse::Created().json(EventBody::from(event)))
}

/// The follow-ups of the parent's path, by date, paged like every list.
#[utoipa::path(operation_id = "listFollowUps", tag = "referrals", params(("id" = String, Path, format = Uuid), TimePageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<FollowUpBody>), NotFound,
))]
#[get("/referrals/{id}/follow-ups")]
pub async fn follow_ups(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    query: ApiQuery<TimePageQuery>,
) -> Result<web::Json<List<FollowUpBody>>, ApiError> {
    let id = referral_id(&id)?;
    let page = query.0.request()?;
    let (reader, read_id) = (who.clone(), id.clone());
    let rows = state
        .run(move |conn| referral::follow_ups(conn, &reader, &read_id, &page))
        .await?;
    record_read(&req, &state, &who, [&id], "follow_ups");
    Ok(web::Json(List::from_page(rows, FollowUpBody::from)))
}

/// Record an exchange with the prescriber's referent about the parent's path.
#[utoipa::path(operation_id = "addFollowUp", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = FollowUpRequest,
    security(("oauth2" = [])), responses(
    (status = 201, body = FollowUpBody), Forbidden, NotFound, Unprocessable,
))]
#[post("/referrals/{id}/follow-ups")]
pub async fn create_follow_up(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<FollowUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let follow_up = acts::add_follow_up(&state.app, &who, &id, body.0, now()).await?;
    Ok(HttpResponse::Created().json(FollowUpBody::from(follow_up)))
}

/// Enroll the child: `offered → enrolled` with the contract (six months by default).
#[utoipa::path(operation_id = "enrollChild", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = EnrollmentRequest,
    security(("oauth2" = [])), responses(
    (status = 201, body = ReferralBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/enrollment")]
pub async fn create_enrollment(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<EnrollmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::enroll(&state.app, &who, &id, body.0, now).await?;
    Ok(HttpResponse::Created().json(ReferralBody::new(record, &state.policy.policy, now)))
}

/// Renew (`{"renew": true}` or a later `contract_end_date`) or amend the contract.
#[utoipa::path(operation_id = "updateEnrollment", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = EnrollmentChange,
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[patch("/referrals/{id}/enrollment")]
pub async fn update_enrollment(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<EnrollmentChange>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::change_enrollment(&state.app, &who, &id, body.0, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}
