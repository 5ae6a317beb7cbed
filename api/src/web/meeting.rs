//! The family's page, without an account: its first meeting at the crèche,
//! from the link in its SMS or e-mail. It shows the parent's and the
//! child's first names, the crèche, its address and phone, the slots still
//! free and the documents to bring; it writes nothing but the choice.
//! Whatever is wrong with a link (forged, expired, used, revoked, another
//! referral's), the page says the same, so it tells nothing of the
//! referrals it does not open.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::MeetingChoice;
use chrono::Utc;

use crate::shared::State;
use crate::web::WebError;
use crate::web::forms::Form;
use crate::web::outcome::respond;
use avip_app::domain::DomainError;
use avip_app::workflow::meetings::{self, Answered, LinkView};

#[derive(Template)]
#[template(path = "rendez_vous.html")]
struct MeetingPage {
    view: Option<LinkView>,
    error: Option<&'static str>,
    done: Option<String>,
}

fn not_valid(e: DomainError) -> Result<HttpResponse, WebError> {
    match e {
        DomainError::NotFound => {
            let page = MeetingPage {
                view: None,
                error: None,
                done: None,
            };
            Ok(respond(StatusCode::NOT_FOUND, &page))
        }
        other => Err(other.into()),
    }
}

fn limited(req: &HttpRequest, state: &State) -> Result<(), WebError> {
    let address = crate::shared::client_address(&state.limits, req);
    state.limits.link_request(address).map_err(WebError::from)
}

async fn read(state: &State, id: String, token: String) -> Result<LinkView, DomainError> {
    state
        .run(move |conn| meetings::read_link(conn, &id, &token, Utc::now()))
        .await
}

/// `GET /app/rendez-vous/{id}/{token}`.
pub async fn show(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    limited(&req, &state)?;
    let (id, token) = path.into_inner();
    match read(&state, id, token).await {
        Ok(view) => {
            let page = MeetingPage {
                view: Some(view),
                error: None,
                done: None,
            };
            Ok(respond(StatusCode::OK, &page))
        }
        Err(e) => not_valid(e),
    }
}

/// `POST /app/rendez-vous/{id}/{token}`: the family's answer, once.
pub async fn answer(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    limited(&req, &state)?;
    let (id, token) = path.into_inner();
    let form = Form::read(&body)?;
    let choice = form.get("choix").to_owned();
    let (choice, slot) = match choice.as_str() {
        "" => return again(&state, id, token, "Choisissez une réponse.").await,
        "rappel" => (MeetingChoice::Callback, None),
        "plus-besoin" => (MeetingChoice::Withdraw, None),
        _ => (MeetingChoice::Slot, Some(choice)),
    };
    let links = state.app.public_url.clone();
    let (link_id, link_token) = (id.clone(), token.clone());
    let answered = state
        .write(move |conn| {
            let link = (link_id.as_str(), link_token.as_str());
            meetings::answer_link(conn, link, (choice, slot.as_deref()), &links, Utc::now())
        })
        .await;
    let (view, answered) = match answered {
        Ok(done) => done,
        Err(DomainError::Invalid(_)) => {
            let taken = "Cet horaire vient d’être pris : choisissez-en un autre.";
            return again(&state, id, token, taken).await;
        }
        Err(e) => return not_valid(e),
    };
    let done = match answered {
        Answered::Booked { when } => format!(
            "Votre rendez-vous est le {when}. Vous allez recevoir une confirmation. La veille, nous vous le rappellerons."
        ),
        Answered::Callback => {
            "La crèche va vous rappeler pour trouver un autre moment.".to_owned()
        }
        Answered::Withdraw => {
            "La crèche est prévenue que vous n’avez plus besoin de place. Elle pourra vous appeler pour le confirmer.".to_owned()
        }
    };
    let page = MeetingPage {
        view: Some(view),
        error: None,
        done: Some(done),
    };
    Ok(respond(StatusCode::OK, &page))
}

/// The page again, with what to correct.
async fn again(
    state: &State,
    id: String,
    token: String,
    error: &'static str,
) -> Result<HttpResponse, WebError> {
    match read(state, id, token).await {
        Ok(view) => {
            let page = MeetingPage {
                view: Some(view),
                error: Some(error),
                done: None,
            };
            Ok(respond(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => not_valid(e),
    }
}
