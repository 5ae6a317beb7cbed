//! The referent's page, without an account: the parent's situation 3 or 6
//! months after the exit, from the link in the e-mail. It shows only the
//! reference, the crèche and the exit date. Whatever is wrong with a link
//! (forged, expired, used, another referral's), the page says the same, so
//! it tells nothing of the referrals it does not open.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue, REFERRER_POLICY};
use actix_web::{HttpResponse, web};
use askama::Template;
use avip_db::model::OutcomeSituation;
use chrono::Utc;

use crate::shared::State;
use crate::web::forms::Form;
use crate::web::referral_view::{Opt, options};
use crate::web::{WebError, fr, html};
use avip_app::domain::DomainError;
use avip_app::workflow::outcomes::{self, LinkView};

/// The question as the page asks it.
struct Question {
    reference: String,
    creche: String,
    exit_date: String,
    months: &'static str,
}

#[derive(Template)]
#[template(path = "outcome.html")]
struct OutcomePage {
    question: Option<Question>,
    situations: Vec<Opt>,
    invalid: bool,
    thanks: bool,
}

fn page(view: Option<LinkView>, invalid: bool, thanks: bool) -> OutcomePage {
    OutcomePage {
        question: view.map(|v| Question {
            reference: v.reference,
            creche: v.creche,
            exit_date: v.exit_date.map(fr::date).unwrap_or_default(),
            months: fr::after_exit(v.at),
        }),
        situations: options(OutcomeSituation::ALL, OutcomeSituation::as_str, fr::outcome),
        invalid,
        thanks,
    }
}

/// The answer: the page, never cached and never sent on as a referrer
/// (the link is the key).
pub(crate) fn respond(status: StatusCode, page: &impl askama::Template) -> HttpResponse {
    let mut response = html(status, page);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// A link that does not open: the same page, whatever the reason.
fn not_valid(e: DomainError) -> Result<HttpResponse, WebError> {
    match e {
        DomainError::NotFound => Ok(respond(StatusCode::NOT_FOUND, &page(None, false, false))),
        other => Err(other.into()),
    }
}

/// `GET /app/suivi/{id}/{at}/{token}`.
pub async fn show(
    state: State,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (id, at, token) = path.into_inner();
    match state
        .run(move |conn| outcomes::read_link(conn, &id, &at, &token, Utc::now()))
        .await
    {
        Ok(view) => Ok(respond(StatusCode::OK, &page(Some(view), false, false))),
        Err(e) => not_valid(e),
    }
}

/// `POST /app/suivi/{id}/{at}/{token}`: the answer, once.
pub async fn answer(
    state: State,
    path: web::Path<(String, String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let (id, at, token) = path.into_inner();
    let form = Form::read(&body)?;
    let Ok(situation) = form.get("employment_status").parse::<OutcomeSituation>() else {
        return match state
            .run(move |conn| outcomes::read_link(conn, &id, &at, &token, Utc::now()))
            .await
        {
            Ok(view) => Ok(respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(Some(view), true, false),
            )),
            Err(e) => not_valid(e),
        };
    };
    match state
        .write(move |conn| outcomes::answer_link(conn, &id, &at, &token, situation, Utc::now()))
        .await
    {
        Ok(view) => Ok(respond(StatusCode::OK, &page(Some(view), false, true))),
        Err(e) => not_valid(e),
    }
}
