//! The problem answers every operation documents, written once: list them
//! in a `responses(...)` after the success answers.

use utoipa::IntoResponses;

use crate::http::error::ProblemDocument;

/// A malformed query or body.
#[derive(IntoResponses)]
#[response(status = 400, content_type = "application/problem+json")]
pub struct BadRequest(pub ProblemDocument);

/// No token, or an invalid, expired or revoked one.
#[derive(IntoResponses)]
#[response(status = 401, content_type = "application/problem+json")]
pub struct Unauthorized(pub ProblemDocument);

/// This role may never do this.
#[derive(IntoResponses)]
#[response(status = 403, content_type = "application/problem+json")]
pub struct Forbidden(pub ProblemDocument);

/// No such resource, or not the caller's to see.
#[derive(IntoResponses)]
#[response(status = 404, content_type = "application/problem+json")]
pub struct NotFound(pub ProblemDocument);

/// The state of the resource does not allow it.
#[derive(IntoResponses)]
#[response(status = 409, content_type = "application/problem+json")]
pub struct Conflict(pub ProblemDocument);

/// Fields are invalid; `errors[]` names each one.
#[derive(IntoResponses)]
#[response(status = 422, content_type = "application/problem+json")]
pub struct Unprocessable(pub ProblemDocument);

/// Too many requests from this caller: wait the seconds of `Retry-After`.
#[derive(IntoResponses)]
#[response(status = 429, content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))]
pub struct TooManyRequests(pub ProblemDocument);
