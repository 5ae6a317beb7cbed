//! `/api/v1/me/notification-preferences`: how each kind of notice reaches
//! the signed-in person (people only; an API client has no mailbox).

use actix_web::{get, put, web};
use chrono::Utc;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::extract::Bearer;
use crate::http::responses::{Forbidden, Unprocessable};
use crate::shared::State;
use avip_app::workflow::preferences::{self, Choices, Preferences};

/// How each kind of notice reaches you: at once, in one e-mail a day
/// (`AVIP_DIGEST_SCHEDULE`, 8:00 Paris time by default), or not at all; and
/// who chose it (you, your organisation's default, or nobody: at once).
#[utoipa::path(operation_id = "getNotificationPreferences", tag = "auth", security(("oauth2" = [])), responses(
    (status = 200, body = Preferences), Forbidden,
))]
#[get("/me/notification-preferences")]
pub async fn read(Bearer(who): Bearer, state: State) -> Result<web::Json<Preferences>, ApiError> {
    let digest = state.schedule.digest;
    let answer = state
        .run(move |conn| preferences::read(conn, &who, digest))
        .await?;
    Ok(web::Json(answer))
}

/// Replace your choices: each kind named gets its mode; a kind left out
/// follows your organisation's default again.
#[utoipa::path(operation_id = "setNotificationPreferences", tag = "auth", request_body = Choices, security(("oauth2" = [])), responses(
    (status = 200, body = Preferences), Forbidden, Unprocessable,
))]
#[put("/me/notification-preferences")]
pub async fn replace(
    Bearer(who): Bearer,
    state: State,
    body: ApiJson<Choices>,
) -> Result<web::Json<Preferences>, ApiError> {
    let (choices, digest) = (body.0, state.schedule.digest);
    let answer = state
        .write(move |conn| preferences::replace(conn, &who, &choices, digest, Utc::now()))
        .await?;
    Ok(web::Json(answer))
}
