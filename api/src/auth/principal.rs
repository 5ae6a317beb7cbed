//! The extractor that authenticates every `/api/v1` request: a valid token,
//! and an identity that is still active now (a disabled person or client
//! loses access at once, not when its token expires).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use avip_db::model::{ApiClientId, CrecheId, OrganizationId, OrganizationKind, Role, UserId};
use avip_db::{DbConnection, Pool, QueryResult, api_clients, creches, organizations, users};

use super::TokenKeys;
use crate::error::{ApiError, Problem};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    User(UserId),
    Client(ApiClientId),
}

impl Subject {
    pub fn to_claim(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_claim(claim: &str) -> Option<Subject> {
        match claim.split_once(':')? {
            ("user", id) => UserId::parse(id).map(Subject::User),
            ("client", id) => ApiClientId::parse(id).map(Subject::Client),
            _ => None,
        }
    }
}

/// Who is calling, as the database says now.
#[derive(Clone, Debug)]
pub struct Principal {
    pub subject: Subject,
    pub organization_id: OrganizationId,
    pub organization_kind: OrganizationKind,
    pub departement: String,
    pub role: Role,
    /// The crèches a coordinator acts for (an operator's API client: all of
    /// the operator's crèches); empty for other roles.
    pub creche_ids: Vec<CrecheId>,
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized(Problem::new("unauthorized", detail))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        let keys = req.app_data::<web::Data<TokenKeys>>().cloned();
        let pool = req.app_data::<web::Data<Pool>>().cloned();
        Box::pin(async move {
            let token = token.ok_or_else(|| {
                unauthorized("send an access token: Authorization: Bearer <token>")
            })?;
            let (keys, pool) = match (keys, pool) {
                (Some(k), Some(p)) => (k, p),
                _ => {
                    return Err(ApiError::Unexpected(anyhow::anyhow!(
                        "token keys or pool not configured"
                    )));
                }
            };
            let claims = keys.verify(&token).map_err(|e| {
                tracing::info!(reason = %e, "token refused");
                unauthorized("the access token is invalid or expired")
            })?;
            let subject = Subject::from_claim(&claims.sub)
                .ok_or_else(|| unauthorized("the access token is invalid"))?;
            let principal = crate::db::run(&pool, move |conn| load(conn, subject)).await?;
            principal.ok_or_else(|| unauthorized("this identity is disabled or no longer exists"))
        })
    }
}

/// The active identity behind `subject`, or `None`.
pub fn load(conn: &mut DbConnection, subject: Subject) -> QueryResult<Option<Principal>> {
    let (organization_id, role, user) = match &subject {
        Subject::User(id) => match users::find(conn, id)? {
            Some(user) if user.active => (user.organization_id.clone(), user.role, Some(user.id)),
            _ => return Ok(None),
        },
        Subject::Client(id) => match api_clients::find(conn, id)? {
            Some(client) if client.active => (client.organization_id, Role::Admin, None),
            _ => return Ok(None),
        },
    };
    let Some(organization) = organizations::find(conn, &organization_id)? else {
        return Ok(None);
    };
    // An API client holds the role of its organisation's members.
    let role = if user.is_some() {
        role
    } else {
        organization.kind.member_role()
    };
    let creche_ids = match (role, &user) {
        (Role::Coordinator, Some(user)) => users::creche_ids(conn, user)?,
        (Role::Coordinator, None) => creches::ids_of_operator(conn, &organization.id)?,
        _ => Vec::new(),
    };
    Ok(Some(Principal {
        subject,
        organization_id: organization.id,
        organization_kind: organization.kind,
        departement: organization.departement,
        role,
        creche_ids,
    }))
}
