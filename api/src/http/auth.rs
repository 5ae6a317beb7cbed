//! `POST /api/v1/auth/token` (OAuth 2.0 password and client-credentials
//! grants) and `GET /api/v1/me`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use avip_db::model::{CrecheId, OrganizationId, OrganizationKind, Role};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::{ApiError, FieldError, Problem, ProblemDocument};
use crate::http::extract::Bearer;
use crate::http::extract::parse_json;
use crate::http::responses::Unauthorized;
use crate::shared::State;
use avip_app::auth::cache::Known;
use avip_app::domain::input;
use avip_app::workflow::sign_in::{self, Account, Outcome};

/// An OAuth 2.0 token request, form-encoded (or JSON).
#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"grant_type": "password", "username": "c.martin@example.org", "password": "a long passphrase"}))]
pub struct TokenRequest {
    /// `password` (people) or `client_credentials` (API clients).
    #[schema(max_length = 32)]
    pub grant_type: Option<String>,
    /// A person's e-mail.
    #[schema(max_length = 254)]
    pub username: Option<String>,
    /// At most 1024 bytes.
    #[schema(max_length = 1024)]
    pub password: Option<String>,
    /// Or HTTP Basic authentication with the client id and secret.
    #[schema(max_length = 100)]
    pub client_id: Option<String>,
    #[schema(max_length = 200)]
    pub client_secret: Option<String>,
    /// Accepted and ignored: a token carries its identity's whole role.
    #[schema(max_length = 200)]
    pub scope: Option<String>,
}

/// The largest token request read: its fields at their longest, every
/// character four bytes and percent-encoded, fit under it.
const TOKEN_BODY_LIMIT: usize = 32 * 1024;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyOjAxOTMifQ.c2lnbmF0dXJl",
    "token_type": "Bearer", "expires_in": 3600}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

fn invalid_request(field: &str, message: &str) -> ApiError {
    ApiError::BadRequest(
        Problem::new("invalid_request", format!("{field}: {message}"))
            .with_errors(vec![FieldError::new(field, message)]),
    )
}

fn invalid_grant() -> ApiError {
    ApiError::BadRequest(Problem::new(
        "invalid_grant",
        "the e-mail or the password is wrong",
    ))
}

fn invalid_client() -> ApiError {
    ApiError::Unauthorized(Problem::new(
        "invalid_client",
        "the client id or the secret is wrong",
    ))
}

fn parse_request(req: &HttpRequest, body: &[u8]) -> Result<TokenRequest, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut request: TokenRequest = if content_type.starts_with("application/json") {
        parse_json(body)?
    } else {
        let pairs: Vec<_> = form_urlencoded::parse(body).collect();
        if let Some(field) =
            input::first_refused_pair(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        {
            return Err(invalid_request(&field, input::REFUSAL));
        }
        serde_urlencoded::from_bytes(body)
            .map_err(|e| invalid_request("body", &format!("is not a form: {e}")))?
    };
    // RFC 6749 §2.3.1: client credentials may come as HTTP Basic.
    if let Some(basic) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_request("authorization", "is not valid Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid_request("authorization", "is not valid Basic credentials"))?;
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        request.client_id = decode(id);
        request.client_secret = decode(secret);
        for (field, value) in [
            ("client_id", &request.client_id),
            ("client_secret", &request.client_secret),
        ] {
            if value.as_deref().is_some_and(input::refused) {
                return Err(invalid_request(field, input::REFUSAL));
            }
        }
    }
    Ok(request)
}

/// Exchange a password (people) or client credentials (API clients) for a
/// short-lived access token. Failures for one account from one address
/// slow down, then answer 429 for a while; so do too many requests from one
/// address, whatever the account.
#[utoipa::path(operation_id = "requestToken", tag = "auth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Missing or too long field, unsupported grant type, or wrong e-mail or password (`invalid_grant`)",
            body = ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "Wrong client credentials (`invalid_client`)", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 413, description = "A body over 32 KiB (`payload_too_large`)", body = ProblemDocument,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many failures for this account from this address (`too_many_attempts`), \
            too many requests from this address (`too_many_requests`) or too many sign-ins at once \
            (`sign_in_busy`); see Retry-After", body = ProblemDocument,
            content_type = "application/problem+json"),
    ))]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let address = crate::shared::client_address(&state.limits, &req);
    state.limits.token_request(address)?;
    if body.len() > TOKEN_BODY_LIMIT {
        return Err(ApiError::Status(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            Problem::new(
                "payload_too_large",
                format!("a token request is at most {TOKEN_BODY_LIMIT} bytes"),
            ),
        ));
    }
    let grant = Grant::of(parse_request(&req, &body)?)?;
    let person = matches!(grant, Grant::Password { .. });
    let (account, secret) = grant.into_parts();
    let now = Utc::now();
    match sign_in::check(&state.app, address, account, secret).await? {
        Outcome::Granted {
            subject,
            organization_id,
            role,
            version,
        } => {
            let claims = (subject.to_claim(), organization_id.to_string());
            let access_token =
                state
                    .keys
                    .issue(claims.0, claims.1, role.to_string(), version, now)?;
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenResponse {
                    access_token,
                    token_type: "Bearer",
                    expires_in: state.keys.ttl().as_secs(),
                }))
        }
        Outcome::Refused { .. } => Err(if person {
            invalid_grant()
        } else {
            invalid_client()
        }),
        Outcome::Locked { seconds } => Err(too_many_attempts(seconds)),
        Outcome::OidcRequired => Err(ApiError::BadRequest(Problem::new(
            "invalid_grant",
            "this person's organisation requires sign-in through its OpenID Connect provider \
             (ProConnect): passwords are refused",
        ))),
    }
}

fn too_many_attempts(seconds: u64) -> ApiError {
    ApiError::TooManyRequests {
        problem: Problem::new(
            "too_many_attempts",
            format!(
                "too many failed attempts for this account from this address; try again in {seconds} s"
            ),
        ),
        retry_after: seconds,
    }
}

/// The two grants, with what each requires.
enum Grant {
    Password { username: String, password: String },
    ClientCredentials { id: String, secret: String },
}

impl Grant {
    /// Who signs in, and the secret to check.
    fn into_parts(self) -> (Account, String) {
        match self {
            Grant::Password { username, password } => (
                Account::Person {
                    email: username.trim().to_lowercase(),
                },
                password,
            ),
            Grant::ClientCredentials { id, secret } => (Account::Client { client_id: id }, secret),
        }
    }

    fn of(request: TokenRequest) -> Result<Grant, ApiError> {
        let required = |value: Option<String>, field: &str, max: usize| match value {
            None => Err(invalid_request(field, "is required")),
            Some(v) if v.is_empty() => Err(invalid_request(field, "is required")),
            // Characters, as the OpenAPI document's maxLength counts.
            Some(v) if v.chars().count() > max => Err(invalid_request(
                field,
                &format!("must be at most {max} characters long"),
            )),
            Some(v) => Ok(v),
        };
        if request
            .scope
            .as_ref()
            .is_some_and(|s| s.chars().count() > 200)
        {
            return Err(invalid_request(
                "scope",
                "must be at most 200 characters long",
            ));
        }
        match request.grant_type.as_deref() {
            None => Err(invalid_request("grant_type", "is required")),
            Some("password") => Ok(Grant::Password {
                username: required(request.username, "username", 254)?,
                password: required(request.password, "password", 1024)?,
            }),
            Some("client_credentials") => Ok(Grant::ClientCredentials {
                id: required(request.client_id, "client_id", 100)?,
                secret: required(request.client_secret, "client_secret", 200)?,
            }),
            Some(_) => Err(ApiError::BadRequest(
                Problem::new(
                    "unsupported_grant_type",
                    "grant_type must be password or client_credentials",
                )
                .with_errors(vec![FieldError::new(
                    "grant_type",
                    "must be password or client_credentials",
                )]),
            )),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"kind": "user", "id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "name": "Claire Martin",
    "email": "c.martin@example.org", "role": "coordinator",
    "organization": {"id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "kind": "creche_operator",
        "name": "Ville de Toulon", "departement": "83"},
    "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"]}))]
pub struct Me {
    /// `user` or `api_client`.
    pub kind: &'static str,
    pub id: String,
    /// A person's name or a client's label.
    pub name: String,
    /// People only.
    pub email: Option<String>,
    pub role: Role,
    pub organization: MeOrganization,
    #[schema(value_type = Vec<String>)]
    pub creche_ids: Vec<CrecheId>,
}

#[derive(Serialize, ToSchema)]
pub struct MeOrganization {
    #[schema(value_type = String, format = Uuid)]
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: String,
    pub departement: String,
}

/// Who am I: the person or client behind the token, its organisation, role
/// and crèches.
#[utoipa::path(operation_id = "getMe", tag = "auth", security(("oauth2" = [])), responses(
    (status = 200, body = Me),
    Unauthorized,
))]
#[get("/me")]
pub async fn me(
    req: actix_web::HttpRequest,
    Bearer(who): Bearer,
    state: State,
) -> Result<web::Json<Me>, ApiError> {
    use actix_web::HttpMessage;
    // The extractor leaves the identity it authenticated.
    let known = req.extensions().get::<std::sync::Arc<Known>>().cloned();
    let (identity, org) = match known {
        Some(known) => (known.identity.clone(), known.organization.clone()),
        None => state.run(move |conn| sign_in::me(conn, &who)).await?,
    };
    let me = Me {
        kind: identity.kind,
        id: identity.id,
        name: identity.name,
        email: identity.email,
        role: identity.role,
        organization: MeOrganization {
            id: org.id,
            kind: org.kind,
            name: org.name,
            departement: org.departement,
        },
        creche_ids: identity.creche_ids,
    };
    Ok(web::Json(me))
}
