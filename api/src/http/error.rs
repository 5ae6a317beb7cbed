//! One error type for the whole API, rendered as `application/problem+json`
//! (RFC 9457) with a stable `code` and the invalid fields in `errors[]`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use http_api_problem::HttpApiProblem;
use serde::Serialize;
use utoipa::ToSchema;

use avip_app::domain::DomainError;
pub use avip_app::domain::FieldError;
use avip_app::domain::referral::{Via, allowed_next};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a problem says besides its status.
pub struct Problem {
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extension members (RFC 9457 §3.2), e.g. `allowed_next_states`.
    /// Boxed: most problems have none, and an `ApiError` stays small.
    pub members: Box<serde_json::Map<String, serde_json::Value>>,
}

impl Problem {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            members: Box::default(),
        }
    }

    pub fn with_member(mut self, name: &str, value: impl Serialize) -> Problem {
        self.members.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or_default(),
        );
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = errors;
        self
    }
}

/// Its `Display` and `Debug` show the code and the names of invalid fields
/// only: the detail of a client error may quote what the client sent (a
/// family's name in a wrong place), and errors are logged.
#[derive(thiserror::Error)]
pub enum ApiError {
    #[error("bad request ({})", .0)]
    BadRequest(Problem),
    #[error("unauthorized ({})", .0)]
    Unauthorized(Problem),
    #[error("forbidden ({})", .0)]
    Forbidden(Problem),
    #[error("not found ({})", .0)]
    NotFound(Problem),
    #[error("conflict ({})", .0)]
    Conflict(Problem),
    #[error("unprocessable ({})", .0)]
    Unprocessable(Problem),
    #[error("unavailable ({})", .0)]
    Unavailable(Problem),
    #[error("too many requests ({problem})")]
    TooManyRequests { problem: Problem, retry_after: u64 },
    /// 405, with the methods the resource answers (RFC 9110 `Allow`).
    #[error("method not allowed ({problem})")]
    MethodNotAllowed { problem: Problem, allow: String },
    /// Any other HTTP status the framework produces (405, 413, 415…).
    #[error("{status} ({})", .1, status = .0)]
    Status(StatusCode, Problem),
    /// A fault of ours: logged with its whole chain, answered as an opaque 500.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code)?;
        if !self.errors.is_empty() {
            let fields: Vec<&str> = self.errors.iter().map(|e| e.field.as_str()).collect();
            write!(f, "; fields: {}", fields.join(", "))?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unexpected(e) => write!(f, "Unexpected({e:?})"),
            other => write!(f, "{other}"),
        }
    }
}

impl ApiError {
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::NotFound(Problem::new("not_found", what))
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError::Unprocessable(Problem::new("validation_failed", detail).with_errors(errors))
    }

    /// The problem for a bare status produced outside our handlers.
    pub fn from_status(status: StatusCode, method: &str, path: &str) -> ApiError {
        let problem = match status {
            StatusCode::NOT_FOUND => Problem::new("not_found", format!("no resource at {path}")),
            StatusCode::METHOD_NOT_ALLOWED => Problem::new(
                "method_not_allowed",
                format!("{method} is not allowed on {path}"),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                Problem::new("payload_too_large", "the request body is too large")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Problem::new(
                "unsupported_media_type",
                "send the body as application/json",
            ),
            s if s.is_server_error() => {
                Problem::new("internal_error", "the server could not answer")
            }
            s => Problem::new("bad_request", s.canonical_reason().unwrap_or("bad request")),
        };
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound(problem),
            s if s.is_server_error() => {
                ApiError::Unexpected(anyhow::anyhow!("{s} from the framework"))
            }
            s => ApiError::Status(s, problem),
        }
    }

    fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::BadRequest(p)
            | ApiError::Unauthorized(p)
            | ApiError::Forbidden(p)
            | ApiError::NotFound(p)
            | ApiError::Conflict(p)
            | ApiError::Unprocessable(p)
            | ApiError::Unavailable(p)
            | ApiError::Status(_, p)
            | ApiError::TooManyRequests { problem: p, .. }
            | ApiError::MethodNotAllowed { problem: p, .. } => Some(p),
            ApiError::Unexpected(_) => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Status(status, _) => *status,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let fallback;
        let problem = match self.problem() {
            Some(p) => p,
            None => {
                tracing::error!(error = ?self, "unexpected error");
                fallback = Problem::new(
                    "internal_error",
                    "the server could not answer; the error is logged",
                );
                &fallback
            }
        };
        let mut body = HttpApiProblem::try_new(status.as_u16())
            .unwrap_or_else(|_| HttpApiProblem::empty())
            .type_url(format!("urn:avip:problem:{}", problem.code))
            .title(status.canonical_reason().unwrap_or("Error"))
            .detail(problem.detail.clone());
        body.set_value("code", &problem.code);
        body.set_value("errors", &problem.errors);
        for (name, value) in problem.members.iter() {
            body.set_value(name.as_str(), value);
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let ApiError::TooManyRequests { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"avip\""));
        }
        response.body(body.json_bytes())
    }
}

/// The problem+json body, as documented in the OpenAPI description.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:avip:problem:validation_failed",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "parent.phone: is not a French phone number",
    "code": "validation_failed",
    "errors": [{"field": "parent.phone", "message": "is not a French phone number"}]
}))]
pub struct ProblemDocument {
    /// A URI naming the kind of problem: `urn:avip:problem:<code>`.
    #[serde(rename = "type")]
    pub type_url: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `not_found`, `validation_failed`.
    pub code: String,
    pub errors: Vec<FieldError>,
    /// 409 `duplicate_referral`: the active referral for the same child at
    /// the same crèche, when the caller's organisation holds it.
    #[schema(nullable = false)]
    pub existing_referral_id: Option<String>,
    /// 409 `invalid_transition`: where the referral stands now.
    #[schema(nullable = false)]
    pub current_status: Option<String>,
    /// 409 `invalid_transition`: the states it may move to from there.
    #[schema(nullable = false)]
    pub allowed_next_states: Option<Vec<String>>,
    /// 409 `no_free_place`: the first open day of the period, on a weekday
    /// asked for, on which no AVIP place is free (`YYYY-MM-DD`).
    #[schema(nullable = false)]
    pub first_full_day: Option<String>,
    /// 409 `no_free_place`: that day's weekday (`mon` … `sun`).
    #[schema(nullable = false, pattern = "^(mon|tue|wed|thu|fri|sat|sun)$")]
    pub first_full_weekday: Option<String>,
}

/// Query failures, through the domain's reading of them.
impl From<avip_db::QueryError> for ApiError {
    fn from(e: avip_db::QueryError) -> ApiError {
        DomainError::from(e).into()
    }
}

/// The one place where what a rule or a use case refuses becomes an HTTP
/// answer.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::Invalid(errors) => ApiError::validation(errors),
            DomainError::InvalidParameter(error) => ApiError::BadRequest(
                Problem::new(
                    "invalid_query",
                    format!("{}: {}", error.field, error.message),
                )
                .with_errors(vec![error]),
            ),
            DomainError::Forbidden { role } => ApiError::Forbidden(Problem::new(
                "forbidden",
                format!("the {role} role may not do this"),
            )),
            DomainError::OutOfScope(detail) => {
                ApiError::Forbidden(Problem::new("forbidden", detail))
            }
            DomainError::NotFound => ApiError::not_found("no such resource"),
            DomainError::InvalidTransition {
                current,
                requested,
                detail,
                own_step,
            } => invalid_transition(current, requested, detail, own_step),
            DomainError::DuplicateReferral { existing } => duplicate_referral(existing),
            DomainError::IdempotencyKeyReused => ApiError::Unprocessable(
                Problem::new(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request body",
                )
                .with_errors(vec![FieldError::new(
                    "Idempotency-Key",
                    "was already used with a different body",
                )]),
            ),
            DomainError::NoFreePlace {
                first_full_day,
                places,
            } => no_free_place(first_full_day, places),
            DomainError::AlreadyAnonymised => ApiError::Conflict(Problem::new(
                "already_anonymised",
                "this family's personal data is already anonymised",
            )),
            DomainError::EmailTaken => ApiError::Conflict(
                Problem::new("email_taken", "a user with this e-mail exists")
                    .with_errors(vec![FieldError::new("email", "is already used")]),
            ),
            DomainError::Duplicate { constraint } => {
                // The constraint's name is the database's business: logged,
                // never answered.
                tracing::info!(%constraint, "a unique constraint refused a write");
                ApiError::Conflict(Problem::new(
                    "conflict",
                    "this already exists: another record holds the same unique value",
                ))
            }
            DomainError::MissingReference => ApiError::Unprocessable(Problem::new(
                "validation_failed",
                "refers to something that does not exist",
            )),
            DomainError::TooManyRequests {
                code,
                detail,
                retry_after,
            } => ApiError::TooManyRequests {
                problem: Problem::new(code, detail),
                retry_after,
            },
            DomainError::Unavailable => ApiError::Unavailable(Problem::new(
                "database_unavailable",
                "the database is not reachable; try again",
            )),
            DomainError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// 409: the lifecycle does not allow this move; the answer lists the moves
/// it allows, or the endpoint of the move's own step.
fn invalid_transition(
    current: avip_db::model::ReferralStatus,
    requested: avip_db::model::ReferralStatus,
    detail: String,
    own_step: bool,
) -> ApiError {
    let detail = match own_step {
        true => format!(
            "to become {requested}, use {}",
            endpoint(Via::to(requested))
        ),
        false => detail,
    };
    let allowed: Vec<&str> = allowed_next(current).iter().map(|s| s.as_str()).collect();
    ApiError::Conflict(
        Problem::new("invalid_transition", detail)
            .with_member("current_status", current.as_str())
            .with_member("requested_status", requested.as_str())
            .with_member("allowed_next_states", allowed),
    )
}

/// 409: the child already has an active referral at this crèche (named
/// when it is the caller's organisation's).
fn duplicate_referral(existing: Option<avip_db::model::ReferralId>) -> ApiError {
    match existing {
        Some(existing) => ApiError::Conflict(
            Problem::new(
                "duplicate_referral",
                format!("this child already has an active referral at this crèche: {existing}"),
            )
            .with_member("existing_referral_id", existing.as_str()),
        ),
        None => ApiError::Conflict(Problem::new(
            "duplicate_referral",
            "this child already has an active referral at this crèche",
        )),
    }
}

/// 409: no AVIP place is free on a day the contract needs.
fn no_free_place(first_full_day: chrono::NaiveDate, places: i32) -> ApiError {
    let needed = if places == 1 {
        "a place".to_owned()
    } else {
        format!("{places} places")
    };
    use chrono::Datelike;
    let weekday = avip_app::domain::Weekday::of(first_full_day.weekday()).code();
    ApiError::Conflict(
        Problem::new(
            "no_free_place",
            format!(
                "the crèche has no room for {needed} on {first_full_day} ({weekday}): every \
                 AVIP place of that day is occupied or held; to go ahead anyway, send \
                 \"force\": true with a \"force_reason\""
            ),
        )
        .with_member("first_full_day", first_full_day.to_string())
        .with_member("first_full_weekday", weekday),
    )
}

/// Where a move that has its own step is asked for.
fn endpoint(via: Via) -> &'static str {
    match via {
        Via::Enrollment => "POST /api/v1/referrals/{id}/enrollment",
        Via::Exit => "POST /api/v1/referrals/{id}/exit",
        Via::Transitions => "POST /api/v1/referrals/{id}/transitions",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::{BoxBody, MessageBody};

    fn body_of(err: ApiError) -> (StatusCode, serde_json::Value, HttpResponse) {
        let response = err.error_response();
        let status = response.status();
        let (response, body) = response.into_parts();
        let bytes = body.try_into_bytes().unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap(),
            response.set_body(BoxBody::new(())),
        )
    }

    #[test]
    fn a_validation_problem_names_each_field() {
        let (status, body, _) = body_of(ApiError::validation(vec![
            FieldError::new("parent.phone", "is not a French phone number"),
            FieldError::new("consent.given", "must be true"),
        ]));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], "urn:avip:problem:validation_failed");
        assert_eq!(body["errors"][1]["field"], "consent.given");
    }

    #[test]
    fn an_unexpected_error_reveals_nothing() {
        let (status, body, _) = body_of(ApiError::Unexpected(anyhow::anyhow!(
            "disk /var/lib/x full"
        )));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("/var/lib"));
    }

    #[test]
    fn a_lost_database_is_a_503_to_retry_and_other_database_errors_a_500() {
        use avip_db::QueryErrorKind::{ClosedConnection, Unknown};
        let error = |kind| {
            ApiError::from(avip_db::QueryError::DatabaseError(
                kind,
                Box::new("the write was not kept: no database connection".to_owned()),
            ))
        };
        let (status, body, _) = body_of(error(ClosedConnection));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "database_unavailable");
        let (status, body, _) = body_of(error(Unknown));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("no database connection"));
    }

    #[test]
    fn a_duplicate_does_not_quote_the_database() {
        let (status, body, _) = body_of(ApiError::from(DomainError::Duplicate {
            constraint: "referral_child_claims_creche_id_child_key_key".into(),
        }));
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], "conflict");
        assert!(
            !body.to_string().contains("referral_child_claims"),
            "{body}"
        );
    }

    #[test]
    fn logs_see_codes_and_field_names_never_details() {
        let err = ApiError::validation(vec![FieldError::new(
            "children[0].first_name",
            "invalid type: string \"Yanis\"",
        )]);
        assert_eq!(
            format!("{err}"),
            "unprocessable (validation_failed; fields: children[0].first_name)"
        );
        assert!(!format!("{err:?}").contains("Yanis"));
    }

    #[test]
    fn unauthorized_says_how_to_authenticate() {
        let (_, _, response) = body_of(ApiError::Unauthorized(Problem::new(
            "unauthorized",
            "no token",
        )));
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"avip\""
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
    }
}
