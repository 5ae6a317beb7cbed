//! `/api/v1/sla`: what needs attention now, and the policy in force.

use actix_web::{get, web};
use avip_db::model::{CrecheId, ReferralId, SlaStage};
use avip_db::page::TimeCursor;
use avip_sla_engine::attention::{AttentionItem, AttentionKind};
use avip_sla_engine::policy::setting_text as format_duration;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::extract::Bearer;
use crate::http::page::{Cursor, List, OverduePageQuery, page_request};
use crate::http::responses::{BadRequest, Forbidden, Unauthorized};
use crate::shared::State;
use avip_app::workflow::sla;

/// The SLA policy in force (docs/product.md §4). Durations are shown as the
/// settings write them (`48h`, `60d`) and in seconds.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"version": 1, "clock": "calendar", "holiday_zone": "metropole",
    "warning": "48h", "warning_seconds": 172800, "breach": "72h", "breach_seconds": 259200,
    "escalation": "96h", "escalation_seconds": 345600, "follow_up": "60d",
    "follow_up_seconds": 5184000, "contract_notice": "30d", "contract_notice_seconds": 2592000,
    "schedule": "0 * * * * *", "digest": false}))]
pub struct PolicyBody {
    /// Changes whenever the settings change; referrals show the version
    /// their deadline was computed under.
    pub version: i32,
    /// `calendar` or `working_days`.
    pub clock: String,
    /// `metropole` or `alsace_moselle`: the public holidays the working-days clock skips.
    pub holiday_zone: String,
    pub warning: String,
    pub warning_seconds: u64,
    pub breach: String,
    pub breach_seconds: u64,
    pub escalation: String,
    pub escalation_seconds: u64,
    pub follow_up: String,
    pub follow_up_seconds: u64,
    pub contract_notice: String,
    pub contract_notice_seconds: u64,
    /// When sweeps run (cron with seconds, `AVIP_SLA_SCHEDULE`).
    pub schedule: String,
    /// One e-mail per person per sweep instead of one per item.
    pub digest: bool,
}

/// The policy in force and its version.
#[utoipa::path(operation_id = "getSlaPolicy", tag = "sla", security(("oauth2" = [])), responses(
    (status = 200, body = PolicyBody),
    Unauthorized,
))]
#[get("/sla/policy")]
pub async fn policy(_who: Bearer, state: State) -> web::Json<PolicyBody> {
    let (active, schedule) = (&state.policy, &state.schedule);
    let p = &active.policy;
    let zone = serde_json::to_value(p.holiday_zone)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    web::Json(PolicyBody {
        version: active.version,
        clock: p.clock.to_string(),
        holiday_zone: zone,
        warning: format_duration(p.warning),
        warning_seconds: p.warning.as_secs(),
        breach: format_duration(p.breach),
        breach_seconds: p.breach.as_secs(),
        escalation: format_duration(p.escalation),
        escalation_seconds: p.escalation.as_secs(),
        follow_up: format_duration(p.follow_up),
        follow_up_seconds: p.follow_up.as_secs(),
        contract_notice: format_duration(p.contract_notice),
        contract_notice_seconds: p.contract_notice.as_secs(),
        schedule: schedule.schedule.clone(),
        digest: schedule.digest,
    })
}

/// One thing that needs attention.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"kind": "first_response", "referral_id": "0193a8f0-6c1e-7d3a-9b2f-1c2d3e4f5a6b",
    "reference": "AVIP-83-2026-00042", "creche_id": "0193a8f0-6c1e-7d3a-9b2f-000000000001",
    "received_at": "2026-11-20T16:00:00Z", "stage": "breach", "due_at": "2026-11-23T16:00:00Z",
    "seconds_left": -5400}))]
pub struct AttentionBody {
    /// `first_response` (an unanswered family past the warning),
    /// `follow_up` (no follow-up within the policy's gap while enrolled) or
    /// `contract_end` (the contract ends within the notice).
    pub kind: String,
    #[schema(value_type = String, format = Uuid)]
    pub referral_id: ReferralId,
    pub reference: String,
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub received_at: DateTime<Utc>,
    /// The first-response stage reached (first responses only).
    pub stage: Option<SlaStage>,
    /// The first-response deadline, the day the follow-up was due, or the
    /// day the contract ends (midnight in Paris).
    pub due_at: DateTime<Utc>,
    /// Seconds until `due_at`; negative once it has passed.
    pub seconds_left: i64,
}

impl From<AttentionItem> for AttentionBody {
    fn from(i: AttentionItem) -> Self {
        AttentionBody {
            kind: kind_name(i.kind).to_owned(),
            referral_id: i.referral_id,
            reference: i.reference,
            creche_id: i.creche_id,
            received_at: i.received_at,
            stage: i.stage,
            due_at: i.due_at,
            seconds_left: i.seconds_left,
        }
    }
}

fn kind_name(kind: AttentionKind) -> &'static str {
    match kind {
        AttentionKind::FirstResponse => "first_response",
        AttentionKind::FollowUp => "follow_up",
        AttentionKind::ContractEnd => "contract_end",
    }
}

fn encode_cursor(item: &AttentionItem) -> String {
    let position = TimeCursor {
        at: item.due_at.naive_utc(),
        id: item.referral_id.to_string(),
    };
    format!("{}.{}", position.encode(), kind_name(item.kind))
}

fn parse_cursor(text: &str) -> Option<(DateTime<Utc>, ReferralId, AttentionKind)> {
    let (position, kind) = text.rsplit_once('.')?;
    let kind = match kind {
        "first_response" => AttentionKind::FirstResponse,
        "follow_up" => AttentionKind::FollowUp,
        "contract_end" => AttentionKind::ContractEnd,
        _ => return None,
    };
    let position = TimeCursor::parse(position)?;
    Some((
        position.at.and_utc(),
        ReferralId::parse(&position.id)?,
        kind,
    ))
}

/// What needs attention now, most urgent first: unanswered families past
/// the warning (with the stage reached), overdue follow-ups, contracts
/// ending within the notice. Coordinators see their crèches', admins all.
#[utoipa::path(operation_id = "listOverdue", tag = "sla", params(OverduePageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<AttentionBody>),
    BadRequest,
    Unauthorized,
    Forbidden,
))]
#[get("/sla/overdue")]
pub async fn overdue(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<OverduePageQuery>,
) -> Result<web::Json<List<AttentionBody>>, ApiError> {
    let cursor = Cursor::Other(|c| parse_cursor(c).is_some());
    let page = page_request(query.0.limit, query.0.cursor.as_deref(), cursor)?;
    let after = page.after.as_deref().and_then(parse_cursor);
    let limit = usize::try_from(page.limit).unwrap_or(50);
    let rules = state.policy.policy.clone();
    let (items, more) = state
        .run(move |conn| sla::overdue(conn, &who, &rules, Utc::now(), after, limit))
        .await?;
    let next_cursor = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(web::Json(List {
        items: items.into_iter().map(AttentionBody::from).collect(),
        next_cursor,
    }))
}
