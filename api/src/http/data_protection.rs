//! The family's rights and the access log: `GET
//! /referrals/{id}/personal-data` (RGPD art. 15), `POST
//! /referrals/{id}/erasure` (art. 17) and `GET /access-log`.

use actix_web::{HttpRequest, get, post, web};
use avip_db::access_log::{Access, Filter};
use avip_db::model::ReferralId;
use avip_sla_engine::clock::paris_midnight;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::page::{Cursor, List, page_request, path_id};
use crate::http::responses::{BadRequest, Conflict, Forbidden, NotFound, Unprocessable};
use crate::shared::{State, request_id};
use avip_app::access_log::Operation;
use avip_app::domain::DomainError;
use avip_app::views::referral::{EventBody, FollowUpBody, ReferralBody};
use avip_app::workflow::{referrals, retention};

/// Everything held about a family.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"referral": {"id": "0193a5b0-7c1e-7d2a-9b1e-000000000010", "reference": "AVIP-83-2026-00042",
    "status": "received", "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003",
    "prescriber_organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "0494000000"},
    "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "0612345678",
               "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
               "situation": "job_seeker", "single_parent": true, "qpv_resident": false,
               "france_travail_id": "1234567A"},
    "children": [{"first_name": "Yanis", "birth_date": "2025-03-14"}],
    "needs": {"desired_start_date": "2026-12-01", "days_per_week": 4, "atypical_hours": false, "notes": null},
    "insertion_project": {"kind": "training", "description": null},
    "consent": {"given": true, "date": "2026-11-20"},
    "received_at": "2026-11-22T16:00:00Z", "first_response_at": null, "updated_at": "2026-11-22T16:00:00Z",
    "closed_at": null, "closing_reason": null, "anonymised_at": null,
    "sla": {"clock": "calendar", "policy_version": 1, "due_at": "2026-11-25T16:00:00Z",
            "stage": null, "met": null, "seconds_left": 259200},
    "enrollment": null, "exit": null},
    "timeline": [{"id": "0193a5b0-7c1e-7d2a-9b1e-000000000011", "kind": "created",
        "occurred_at": "2026-11-22T16:00:00Z",
        "actor": {"kind": "user", "id": "0193a5b0-7c1e-7d2a-9b1e-000000000005"}, "from_status": null, "to_status": "received",
        "reason": null, "note": null, "data": null}],
    "follow_ups": []}))]
pub struct PersonalData {
    pub referral: ReferralBody,
    /// Every entry of the timeline, in order.
    pub timeline: Vec<EventBody>,
    /// Every follow-up of the parent's path.
    pub follow_ups: Vec<FollowUpBody>,
    /// Every message sent to the family, with its words and delivery.
    pub messages: Vec<avip_app::workflow::family::MessageOut>,
    /// The invitations to book a first meeting, and what the family chose.
    pub invitations: Vec<avip_app::workflow::meetings::InvitationRecord>,
    /// The meetings the family booked, and what became of them.
    pub meetings: Vec<avip_app::workflow::meetings::SlotOut>,
}

/// Everything this service holds about the family of a referral, in one
/// answer, for an access request (RGPD article 15): the referral with its
/// family, children, needs and project, the whole timeline and the
/// follow-ups, the messages sent to the family, its meeting invitations
/// and bookings. Admins, and the coordinators of the referral's crèche. The
/// read is in the access log.
#[utoipa::path(operation_id = "getPersonalData", tag = "data protection",
    params(("id" = String, Path, format = Uuid)), security(("oauth2" = [])), responses(
    (status = 200, body = PersonalData), Forbidden, NotFound,
))]
#[get("/referrals/{id}/personal-data")]
pub async fn personal_data(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<PersonalData>, ApiError> {
    let id = path_id(&id, ReferralId::parse)?;
    let reader = who.clone();
    let data = state
        .run(move |conn| referrals::personal_data(conn, &reader, &id))
        .await?;
    let request_id = request_id(&req);
    state.access.record(
        &who,
        [&data.record.referral.id],
        Operation {
            name: "personal_data",
            request_id: request_id.as_deref(),
        },
    );
    let now = Utc::now();
    Ok(web::Json(PersonalData {
        referral: ReferralBody::new(data.record, &state.policy.policy, now),
        timeline: data.timeline.into_iter().map(EventBody::from).collect(),
        follow_ups: data
            .follow_ups
            .into_iter()
            .map(FollowUpBody::from)
            .collect(),
        messages: data.messages,
        invitations: data.invitations,
        meetings: data.meetings,
    }))
}

/// Why the family asked to be erased.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "demande de la famille reçue par courrier le 2026-11-20"}))]
pub struct ErasureRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Erase a family now, on its request (RGPD article 17; admins): an open
/// referral is withdrawn first (an enrolled child's exit is recorded
/// first: 409 otherwise), then its personal data is blanked as the
/// retention job does, keeping what the evaluation needs. The timeline
/// shows one `anonymised` entry with the reason.
#[utoipa::path(operation_id = "eraseReferral", tag = "data protection",
    params(("id" = String, Path, format = Uuid)), request_body = ErasureRequest,
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody, description = "The referral, anonymised"),
    Forbidden, NotFound,
    Conflict,
    Unprocessable,
))]
#[post("/referrals/{id}/erasure")]
pub async fn erasure(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ErasureRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = path_id(&id, ReferralId::parse)?;
    let (eraser, key, reason) = (who.clone(), state.pseudonym_key.clone(), body.0.reason);
    let now = Utc::now();
    let erased = id.clone();
    let record = state
        .write(move |conn| {
            retention::erase(conn, &eraser, &erased, &reason, &key, now)?;
            avip_app::workflow::referrals::get(conn, &eraser, &erased)
        })
        .await?;
    state.run(retention::forget_old_pages).await?;
    let request_id = request_id(&req);
    state.access.record(
        &who,
        [&id],
        Operation {
            name: "erasure",
            request_id: request_id.as_deref(),
        },
    );
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}

/// One read of families' personal data.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000099", "at": "2026-11-29T08:00:00Z",
    "actor_kind": "user", "actor_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003",
    "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "referral_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000010"], "operation": "get_referral",
    "request_id": "7f1c6a52-1f0e-4c3e-9a55-2f7a0e1d3b44"}))]
pub struct AccessBody {
    pub id: String,
    pub at: DateTime<Utc>,
    /// `user` or `api_client`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub organization_id: String,
    /// The referrals whose family's data was read: one for a referral, its
    /// timeline, follow-ups, personal data or erasure; each one of the page
    /// for a list, in the order shown.
    pub referral_ids: Vec<String>,
    /// `get_referral`, `list_referrals`, `search_referrals`, `referral_changes`, `timeline`,
    /// `follow_ups`, `personal_data` or `erasure`.
    pub operation: String,
    /// The `x-request-id` of the read.
    pub request_id: Option<String>,
}

impl From<Access> for AccessBody {
    fn from(a: Access) -> AccessBody {
        AccessBody {
            referral_ids: a.referrals().map(str::to_owned).collect(),
            id: a.id,
            at: a.at.and_utc(),
            actor_kind: a.actor_kind,
            actor_id: a.actor_id,
            organization_id: a.organization_id,
            operation: a.operation,
            request_id: a.request_id,
        }
    }
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    /// Reads of this referral only.
    #[param(format = Uuid)]
    pub referral_id: Option<String>,
    /// Reads by this person or API client only.
    #[param(format = Uuid)]
    pub actor_id: Option<String>,
    /// First day (Paris), included.
    pub from: Option<NaiveDate>,
    /// Last day (Paris), included.
    pub to: Option<NaiveDate>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,18}\\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

fn uuid_param(value: Option<String>, field: &str) -> Result<Option<String>, DomainError> {
    value
        .map(|v| {
            uuid::Uuid::parse_str(&v)
                .map(|u| u.to_string())
                .map_err(|_| DomainError::parameter(field, "is not an id"))
        })
        .transpose()
}

/// Who read which families' personal data, newest first (admins): every
/// read of a referral, a list page (one entry naming each referral shown),
/// a timeline, the follow-ups, a personal-data answer and an erasure.
/// `referral_id` finds every read that named that referral.
#[utoipa::path(operation_id = "listAccessLog", tag = "data protection", params(AccessQuery),
    security(("oauth2" = [])), responses(
    (status = 200, body = List<AccessBody>), BadRequest, Forbidden,
))]
#[get("/access-log")]
pub async fn access_log(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<AccessQuery>,
) -> Result<web::Json<List<AccessBody>>, ApiError> {
    let q = query.0;
    let page = page_request(q.limit, q.cursor.as_deref(), Cursor::Time)?;
    if let (Some(from), Some(to)) = (q.from, q.to)
        && to < from
    {
        return Err(DomainError::parameter("to", "must not be before from").into());
    }
    let filter = Filter {
        referral_id: uuid_param(q.referral_id, "referral_id")?,
        actor_id: uuid_param(q.actor_id, "actor_id")?,
        from: q
            .from
            .map(|d| avip_db::model::to_db_time(paris_midnight(d))),
        before: q
            .to
            .and_then(|d| d.succ_opt())
            .map(|d| avip_db::model::to_db_time(paris_midnight(d))),
    };
    // What was read a moment ago is in the answer.
    let recorder = state.access.clone();
    web::block(move || recorder.flush())
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("access log flush: {e}")))?;
    let rows = state
        .run(move |conn| retention::access_log(conn, &who, &filter, &page))
        .await?;
    Ok(web::Json(List::from_page(rows, AccessBody::from)))
}
