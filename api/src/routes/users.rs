//! `/api/v1/users`: admins manage people.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::{CrecheId, OrganizationId, Role, UserId, to_db_time};
use avip_db::users::{self, NewUser, User, UserChanges};
use avip_db::{DbConnection, Pool, creches, organizations};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{List, PageQuery, path_id, time};
use crate::access::{Action, Resource, require};
use crate::auth::{Principal, password};
use crate::domain::{self, Problems};
use crate::error::{ApiError, Problem, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "email": "c.martin@example.org",
    "name": "Claire Martin", "role": "coordinator", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "active": true, "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z", "last_login_at": null}))]
pub struct UserBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub active: bool,
    #[schema(value_type = Vec<String>)]
    pub creche_ids: Vec<CrecheId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserBody {
    pub fn new(u: User, creche_ids: Vec<CrecheId>) -> Self {
        UserBody {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            organization_id: u.organization_id,
            active: u.active,
            creche_ids,
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
            last_login_at: u.last_login_at.map(time),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "c.martin@example.org", "name": "Claire Martin", "role": "coordinator",
    "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "password": "a long passphrase",
    "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"]}))]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    /// Must be the role of the organisation's kind: prescriber (France
    /// Travail, CD, mission locale), coordinator (crèche operator), caf, admin.
    pub role: Role,
    pub organization_id: String,
    /// At least 12 characters.
    pub password: String,
    /// Coordinators only: crèches of their operator.
    #[serde(default)]
    pub creche_ids: Vec<String>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UpdateUser {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    /// `false` disables the account: its tokens stop working at once.
    pub active: Option<bool>,
    /// Coordinators only: replaces their crèches.
    pub creche_ids: Option<Vec<String>>,
}

fn parse_creche_ids(raw: &[String], problems: &mut Problems) -> Vec<CrecheId> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            problems.check(
                &format!("creche_ids[{i}]"),
                CrecheId::parse(id).ok_or_else(|| "is not an id".to_owned()),
            )
        })
        .collect()
}

/// Crèches given to a coordinator must be run by the coordinator's operator.
fn check_creches(
    conn: &mut DbConnection,
    role: Role,
    org: &OrganizationId,
    ids: &[CrecheId],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    if role != Role::Coordinator {
        return Err(ApiError::validation(vec![crate::error::FieldError::new(
            "creche_ids",
            "only coordinators are attached to crèches",
        )]));
    }
    let known = creches::of_operator(conn, org, ids)?;
    let errors: Vec<_> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, _)| {
            crate::error::FieldError::new(
                format!("creche_ids[{i}]"),
                "is not a crèche of the user's organisation",
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Creates a person (shared by the API and `avip admin create-user`).
pub fn create_user(
    conn: &mut DbConnection,
    body: CreateUser,
    now: DateTime<Utc>,
) -> Result<(User, Vec<CrecheId>), ApiError> {
    let mut problems = Problems::default();
    let email = problems.check("email", domain::email(&body.email));
    let name = problems.check("name", domain::text(&body.name, 200));
    let secret = problems.check("password", domain::password(&body.password));
    let organization_id = problems.check(
        "organization_id",
        OrganizationId::parse(&body.organization_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let creche_ids = parse_creche_ids(&body.creche_ids, &mut problems);
    if let Some(org_id) = &organization_id {
        match organizations::find(conn, org_id)? {
            None => problems.push("organization_id", "no such organisation"),
            Some(org) if org.kind.member_role() != body.role => problems.push(
                "role",
                format!(
                    "members of a {} organisation have the {} role",
                    org.kind,
                    org.kind.member_role()
                ),
            ),
            Some(_) => {}
        }
    }
    problems.into_result()?;
    let (Some(email), Some(name), Some(secret), Some(organization_id)) =
        (email, name, secret, organization_id)
    else {
        unreachable!("checked above")
    };
    check_creches(conn, body.role, &organization_id, &creche_ids)?;
    if users::find_by_email(conn, &email)?.is_some() {
        return Err(ApiError::Conflict(
            Problem::new("email_taken", "a user with this e-mail exists").with_errors(vec![
                crate::error::FieldError::new("email", "is already used"),
            ]),
        ));
    }
    let now = to_db_time(now);
    let new = NewUser {
        id: UserId::generate(),
        organization_id,
        email,
        name,
        role: body.role,
        password_hash: password::hash(&secret)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let user = avip_db::transaction(conn, |conn| users::insert(conn, &new, &creche_ids))?;
    Ok((user, creche_ids))
}

/// List people (admin).
#[utoipa::path(tag = "users", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<UserBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/users")]
pub async fn list(
    who: Principal,
    pool: web::Data<Pool>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<UserBody>>, ApiError> {
    require(&who, Action::List, Resource::Users)?;
    let page = query.0.request()?;
    let rows = crate::db::run(&pool, move |conn| {
        let page = users::list(conn, None, &page)?;
        let mut items = Vec::with_capacity(page.items.len());
        for user in page.items {
            let creches = users::creche_ids(conn, &user.id)?;
            items.push(UserBody::new(user, creches));
        }
        Ok::<_, ApiError>(List {
            items,
            next_cursor: page.next_cursor,
        })
    })
    .await?;
    Ok(web::Json(rows))
}

/// Create a person (admin). The password is stored as an argon2id hash.
#[utoipa::path(tag = "users", request_body = CreateUser, security(("bearer" = [])), responses(
    (status = 201, body = UserBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/users")]
pub async fn create(
    who: Principal,
    pool: web::Data<Pool>,
    body: ApiJson<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Create, Resource::Users)?;
    let body = body.0;
    let (user, creches) =
        crate::db::run(&pool, move |conn| create_user(conn, body, Utc::now())).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", user.id)))
        .json(UserBody::new(user, creches)))
}

/// Change a person: name, e-mail, password, crèches, or disable them (admin).
#[utoipa::path(tag = "users", params(("id" = String, Path, format = Uuid)), request_body = UpdateUser,
    security(("bearer" = [])), responses(
    (status = 200, body = UserBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/users/{id}")]
pub async fn update(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
    body: ApiJson<UpdateUser>,
) -> Result<web::Json<UserBody>, ApiError> {
    require(&who, Action::Update, Resource::Users)?;
    let id = path_id(&id, UserId::parse)?;
    let body = body.0;
    let body = crate::db::run(&pool, move |conn| {
        let (user, creches) = update_user(conn, &id, body, Utc::now())?;
        Ok::<_, ApiError>(UserBody::new(user, creches))
    })
    .await?;
    Ok(web::Json(body))
}

/// Applies a person update (REST and `avip admin update-user`/`disable-user`).
pub fn update_user(
    conn: &mut DbConnection,
    id: &UserId,
    body: UpdateUser,
    now: DateTime<Utc>,
) -> Result<(User, Vec<CrecheId>), ApiError> {
    let mut problems = Problems::default();
    let name = body
        .name
        .and_then(|v| problems.check("name", domain::text(&v, 200)));
    let email = body
        .email
        .and_then(|v| problems.check("email", domain::email(&v)));
    let secret = body
        .password
        .and_then(|v| problems.check("password", domain::password(&v)));
    let creche_ids = body
        .creche_ids
        .as_deref()
        .map(|ids| parse_creche_ids(ids, &mut problems));
    problems.into_result()?;
    let user = users::get(conn, id)?;
    if let Some(ids) = &creche_ids {
        check_creches(conn, user.role, &user.organization_id, ids)?;
    }
    let password_hash = secret.map(|s| password::hash(&s)).transpose()?;
    let changes = UserChanges {
        name,
        email,
        password_hash,
        active: body.active,
        updated_at: Some(to_db_time(now)),
    };
    let user = avip_db::transaction(conn, |conn| {
        if let Some(ids) = &creche_ids {
            users::set_creches(conn, id, ids)?;
        }
        users::update(conn, id, &changes)
    })?;
    let creches = users::creche_ids(conn, id)?;
    Ok((user, creches))
}
