//! `/api/v1/creches`: admins manage crèches; coordinators read and edit
//! their own.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::creches::{self, CrecheChanges, CrecheView, NewCreche};
use avip_db::model::{
    CrecheId, OrganizationId, OrganizationKind, Role, UserId, paris_date, to_db_time,
};
use avip_db::places::{self, CapacityChange};
use avip_db::{DbConnection, Pool, organizations, users};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{List, PageQuery, path_id, time};
use crate::access::{Action, Resource, creche_scope, require};
use crate::auth::Principal;
use crate::domain::{self, Problems};
use crate::error::{ApiError, FieldError, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"opens": "07:00", "closes": "19:30", "days": ["mon", "tue", "wed", "thu", "fri"]}))]
pub struct OpeningHours {
    /// `HH:MM`; hours before 07:00 or after 19:00 are atypical hours.
    pub opens: String,
    pub closes: String,
    pub days: Vec<Weekday>,
}

impl OpeningHours {
    fn check(&self, field: &str, problems: &mut Problems) {
        let opens = problems.check(&format!("{field}.opens"), domain::clock_time(&self.opens));
        let closes = problems.check(&format!("{field}.closes"), domain::clock_time(&self.closes));
        if let (Some(o), Some(c)) = (opens, closes)
            && o >= c
        {
            problems.push(format!("{field}.closes"), "must be after opens");
        }
        if self.days.is_empty() {
            problems.push(format!("{field}.days"), "must name at least one day");
        }
    }

    fn to_json(&self) -> String {
        let mut days = self.days.clone();
        days.sort();
        days.dedup();
        serde_json::json!({"opens": self.opens, "closes": self.closes, "days": days}).to_string()
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "operator_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "name": "Les Petits Pas",
    "address": "12 rue Victor Hugo", "postal_code": "83000", "commune": "Toulon", "departement": "83",
    "avip_places": 6, "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
    "escalation_email": "direction.petite-enfance@example.org",
    "coordinator_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000003"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"}))]
pub struct CrecheBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: CrecheId,
    #[schema(value_type = String, format = Uuid)]
    pub operator_id: OrganizationId,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    /// The operator's département.
    pub departement: String,
    /// The AVIP places reserved today; dated changes are under
    /// `/creches/{id}/capacity`.
    pub avip_places: i32,
    pub opening_hours: OpeningHours,
    pub escalation_email: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub coordinator_ids: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CrecheView> for CrecheBody {
    fn from(v: CrecheView) -> Self {
        let c = v.creche;
        let opening_hours = serde_json::from_str(&c.opening_hours).unwrap_or(OpeningHours {
            opens: String::new(),
            closes: String::new(),
            days: Vec::new(),
        });
        CrecheBody {
            id: c.id,
            operator_id: c.operator_id,
            name: c.name,
            address: c.address,
            postal_code: c.postal_code,
            commune: c.commune,
            departement: v.departement,
            avip_places: v.avip_places,
            opening_hours,
            escalation_email: c.escalation_email,
            coordinator_ids: v.coordinator_ids,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

pub const MAX_PLACES: i32 = 500;

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operator_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "name": "Les Petits Pas",
    "address": "12 rue Victor Hugo", "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
    "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
    "escalation_email": "direction.petite-enfance@example.org"}))]
pub struct CreateCreche {
    /// A `creche_operator` organisation.
    pub operator_id: String,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    pub avip_places: i32,
    pub opening_hours: OpeningHours,
    pub escalation_email: Option<String>,
    /// Coordinators (users of the operator with the coordinator role).
    #[serde(default)]
    pub coordinator_ids: Vec<String>,
}

#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"avip_places": 8}))]
pub struct UpdateCreche {
    pub name: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub commune: Option<String>,
    pub avip_places: Option<i32>,
    pub opening_hours: Option<OpeningHours>,
    /// `null` removes it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>)]
    pub escalation_email: Option<Option<String>>,
    /// Admins only: replaces the crèche's coordinators.
    pub coordinator_ids: Option<Vec<String>>,
}

fn places(value: i32) -> Result<i32, String> {
    if (0..=MAX_PLACES).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between 0 and {MAX_PLACES}"))
    }
}

fn parse_user_ids(field: &str, raw: &[String], problems: &mut Problems) -> Vec<UserId> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            problems.check(
                &format!("{field}[{i}]"),
                UserId::parse(id).ok_or_else(|| "is not an id".to_owned()),
            )
        })
        .collect()
}

/// Coordinators must be active coordinator users of the crèche's operator.
fn check_coordinators(
    conn: &mut DbConnection,
    operator: &OrganizationId,
    ids: &[UserId],
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let ok = users::find(conn, id)?
            .is_some_and(|u| u.role == Role::Coordinator && &u.organization_id == operator);
        if !ok {
            errors.push(FieldError::new(
                format!("coordinator_ids[{i}]"),
                "is not a coordinator of the crèche's operator",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Creates a crèche (shared by the API and `avip admin create-creche`);
/// `by`: the subject claim of who asks, kept with its places.
pub fn create_creche(
    conn: &mut DbConnection,
    body: CreateCreche,
    by: Option<String>,
    now: DateTime<Utc>,
) -> Result<CrecheView, ApiError> {
    let mut problems = Problems::default();
    let operator_id = problems.check(
        "operator_id",
        OrganizationId::parse(&body.operator_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let name = problems.check("name", domain::text(&body.name, 200));
    let address = problems.check("address", domain::text(&body.address, 300));
    let postal_code = problems.check("postal_code", domain::postal_code(&body.postal_code));
    let commune = problems.check("commune", domain::text(&body.commune, 200));
    let avip_places = problems.check("avip_places", places(body.avip_places));
    body.opening_hours.check("opening_hours", &mut problems);
    let escalation_email = match &body.escalation_email {
        None => Some(None),
        Some(e) => problems
            .check("escalation_email", domain::email(e))
            .map(Some),
    };
    let coordinators = parse_user_ids("coordinator_ids", &body.coordinator_ids, &mut problems);
    if let Some(op) = &operator_id {
        match organizations::find(conn, op)? {
            Some(org) if org.kind == OrganizationKind::CrecheOperator => {}
            Some(_) => problems.push("operator_id", "is not a creche_operator organisation"),
            None => problems.push("operator_id", "no such organisation"),
        }
    }
    problems.into_result()?;
    let (
        Some(operator_id),
        Some(name),
        Some(address),
        Some(postal_code),
        Some(commune),
        Some(avip_places),
        Some(escalation_email),
    ) = (
        operator_id,
        name,
        address,
        postal_code,
        commune,
        avip_places,
        escalation_email,
    )
    else {
        unreachable!("checked above")
    };
    check_coordinators(conn, &operator_id, &coordinators)?;
    let now = to_db_time(now);
    let new = NewCreche {
        id: CrecheId::generate(),
        operator_id,
        name,
        address,
        postal_code,
        commune,
        opening_hours: body.opening_hours.to_json(),
        escalation_email,
        created_at: now,
        updated_at: now,
    };
    Ok(avip_db::transaction(conn, |conn| {
        creches::insert(conn, &new, avip_places, by, &coordinators)
    })?)
}

/// List crèches: all of them for admins, their own for coordinators.
#[utoipa::path(tag = "creches", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<CrecheBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches")]
pub async fn list(
    who: Principal,
    pool: web::Data<Pool>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<CrecheBody>>, ApiError> {
    require(&who, Action::List, Resource::Creche(None))?;
    let page = query.0.request()?;
    let scope = creche_scope(&who).map(<[CrecheId]>::to_vec);
    let rows = crate::db::run(&pool, move |conn| {
        creches::list(conn, scope.as_deref(), &page)
    })
    .await?;
    Ok(web::Json(List::from_page(rows, CrecheBody::from)))
}

/// Create a crèche (admin).
#[utoipa::path(tag = "creches", request_body = CreateCreche, security(("bearer" = [])), responses(
    (status = 201, body = CrecheBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/creches")]
pub async fn create(
    who: Principal,
    pool: web::Data<Pool>,
    body: ApiJson<CreateCreche>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Create, Resource::Creche(None))?;
    let body = body.0;
    let by = Some(who.subject.to_claim());
    let created =
        crate::db::run(&pool, move |conn| create_creche(conn, body, by, Utc::now())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/creches/{}", created.creche.id)))
        .json(CrecheBody::from(created)))
}

/// One crèche (admin; coordinators their own).
#[utoipa::path(tag = "creches", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = CrecheBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches/{id}")]
pub async fn get_one(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
) -> Result<web::Json<CrecheBody>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    require(&who, Action::Read, Resource::Creche(Some(&id)))?;
    let view = crate::db::run(&pool, move |conn| creches::get(conn, &id)).await?;
    Ok(web::Json(view.into()))
}

/// Edit a crèche: its places, hours, address or escalation address
/// (admin; coordinators their own). Only admins change its coordinators.
#[utoipa::path(tag = "creches", params(("id" = String, Path, format = Uuid)), request_body = UpdateCreche,
    security(("bearer" = [])), responses(
    (status = 200, body = CrecheBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/creches/{id}")]
pub async fn update(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
    body: ApiJson<UpdateCreche>,
) -> Result<web::Json<CrecheBody>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    require(&who, Action::Update, Resource::Creche(Some(&id)))?;
    let body = body.0;
    if body.coordinator_ids.is_some() {
        require(&who, Action::Administer, Resource::Creche(Some(&id)))?;
    }
    let by = Some(who.subject.to_claim());
    let view = crate::db::run(&pool, move |conn| {
        update_creche(conn, &id, body, by, Utc::now())
    })
    .await?;
    Ok(web::Json(view.into()))
}

/// Applies a crèche update (REST and `avip admin update-creche`); the caller
/// has checked who may change the coordinators. New `avip_places` take
/// effect today (Paris), as a dated change in the crèche's capacity history.
pub fn update_creche(
    conn: &mut DbConnection,
    id: &CrecheId,
    body: UpdateCreche,
    by: Option<String>,
    now: DateTime<Utc>,
) -> Result<CrecheView, ApiError> {
    let mut problems = Problems::default();
    if let Some(hours) = &body.opening_hours {
        hours.check("opening_hours", &mut problems);
    }
    let changes = CrecheChanges {
        name: body
            .name
            .and_then(|v| problems.check("name", domain::text(&v, 200))),
        address: body
            .address
            .and_then(|v| problems.check("address", domain::text(&v, 300))),
        postal_code: body
            .postal_code
            .and_then(|v| problems.check("postal_code", domain::postal_code(&v))),
        commune: body
            .commune
            .and_then(|v| problems.check("commune", domain::text(&v, 200))),
        opening_hours: body.opening_hours.as_ref().map(OpeningHours::to_json),
        escalation_email: match body.escalation_email {
            None => None,
            Some(None) => Some(None),
            Some(Some(e)) => problems
                .check("escalation_email", domain::email(&e))
                .map(Some),
        },
        updated_at: Some(to_db_time(now)),
    };
    let avip_places = body
        .avip_places
        .and_then(|v| problems.check("avip_places", places(v)));
    let coordinators = body
        .coordinator_ids
        .as_deref()
        .map(|ids| parse_user_ids("coordinator_ids", ids, &mut problems));
    problems.into_result()?;
    let current = creches::get(conn, id)?;
    if let Some(ids) = &coordinators {
        check_coordinators(conn, &current.creche.operator_id, ids)?;
    }
    Ok(avip_db::transaction(conn, |conn| {
        if let Some(ids) = &coordinators {
            creches::set_coordinators(conn, id, ids)?;
        }
        if let Some(avip_places) = avip_places {
            places::record_capacity(
                conn,
                &CapacityChange {
                    creche_id: id.clone(),
                    effective_from: paris_date(now),
                    avip_places,
                    recorded_at: to_db_time(now),
                    recorded_by: by.clone(),
                },
            )?;
        }
        creches::update(conn, id, &changes)
    })?)
}
