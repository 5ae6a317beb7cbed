//! "S’identifier avec ProConnect": the workspace's pages of the OpenID
//! Connect sign-in (`web::oidc` speaks to the provider). The `state` goes
//! both to the provider and into a cookie of this browser; the attempt
//! (`nonce`, PKCE verifier, the page to go back to) is kept in the database
//! under the `state`'s SHA-256 and taken once, so that an answer meant for
//! another browser, replayed or late finds nothing. Every refusal is a page
//! in French; none is a 500.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use crate::shared::State;
use crate::web::session::{self, same_secret};
use crate::web::{WebError, see_other};
use avip_app::auth::oidc::{OidcError, Verified};
use avip_app::workflow::sign_in::{Unmatched, person_of};

/// The cookie holding the `state` of the sign-in under way in this browser.
const STATE_COOKIE: &str = "avip_oidc";
/// The cookie holding the `state` of the sign-out at the provider.
const SIGN_OUT_COOKIE: &str = "avip_oidc_out";
use avip_app::workflow::sign_in::{ATTEMPT_TTL, remember_attempt, take_attempt};

fn refused(status: StatusCode, title: &str, message: &str, detail: Option<String>) -> HttpResponse {
    crate::web::error_page(
        status,
        title,
        message,
        detail,
        ("/app/connexion", "Revenir à la page de connexion"),
    )
}

fn unavailable() -> HttpResponse {
    refused(
        StatusCode::BAD_GATEWAY,
        "ProConnect ne répond pas",
        "La connexion avec ProConnect est impossible pour le moment. Réessayez dans quelques \
         minutes, ou connectez-vous avec votre mot de passe si votre organisation le permet.",
        None,
    )
}

fn not_verified() -> HttpResponse {
    refused(
        StatusCode::BAD_REQUEST,
        "Connexion refusée",
        "La réponse reçue de ProConnect n’a pas pu être vérifiée ; vous n’êtes pas connecté. \
         Recommencez la connexion depuis la page de connexion.",
        None,
    )
}

fn cookie(state: &State, name: &'static str, path: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .secure(state.web.secure_cookies)
        // Lax: the provider sends the browser back with a top-level GET
        // from its own site.
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::minutes(ATTEMPT_TTL.num_minutes()))
        .finish()
}

fn removal(state: &State, name: &'static str, path: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, path, String::new());
    c.make_removal();
    c
}

#[derive(Deserialize)]
pub struct StartQuery {
    suite: Option<String>,
}

/// `GET /app/connexion/proconnect`: sends the browser to the provider.
pub async fn start(
    req: HttpRequest,
    state: State,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, WebError> {
    let Some(provider) = state.web.oidc.clone() else {
        return Err(WebError::NotFound);
    };
    if state
        .limits
        .token_request(crate::shared::client_address(&state.limits, &req))
        .is_err()
    {
        return Ok(refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Trop de tentatives de connexion",
            "Trop de tentatives de connexion depuis cette adresse. Réessayez dans une minute.",
            None,
        ));
    }
    let next = session::next_or_home(query.suite.as_deref());
    let started = match provider.start().await {
        Ok(started) => started,
        Err(e) => {
            tracing::warn!(error = %e, "ProConnect sign-in could not start");
            avip_app::metrics::oidc_sign_in("unavailable");
            return Ok(unavailable());
        }
    };
    let now = Utc::now();
    let (sent, secrets) = (
        started.state.clone(),
        (started.nonce, started.pkce_verifier),
    );
    state
        .write(move |conn| remember_attempt(conn, &sent, secrets, next, now))
        .await?;
    let mut response = see_other(started.url.as_str());
    response
        .add_cookie(&cookie(
            &state,
            STATE_COOKIE,
            "/app/connexion/proconnect",
            started.state,
        ))
        .map_err(anyhow::Error::from)?;
    Ok(response)
}

#[derive(Deserialize)]
pub struct BackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// The provider that answers (RFC 9207), when it says.
    iss: Option<String>,
}

/// `GET /app/connexion/proconnect/retour`: the provider's answer.
pub async fn back(
    req: HttpRequest,
    state: State,
    query: web::Query<BackQuery>,
) -> Result<HttpResponse, WebError> {
    let Some(provider) = state.web.oidc.clone() else {
        return Err(WebError::NotFound);
    };
    let query = query.into_inner();
    let mut response = answer(&req, &state, &provider, query).await?;
    // The attempt is over, whatever its outcome.
    let _ = response.add_cookie(&removal(&state, STATE_COOKIE, "/app/connexion/proconnect"));
    Ok(response)
}

async fn answer(
    req: &HttpRequest,
    state: &State,
    provider: &avip_app::auth::oidc::Provider,
    query: BackQuery,
) -> Result<HttpResponse, WebError> {
    let Some(sent) = this_browsers_state(req, query.state) else {
        return Ok(not_this_browser());
    };
    let now = Utc::now();
    let attempt = state
        .write(move |conn| take_attempt(conn, &sent, now))
        .await?;
    let Some(attempt) = attempt else {
        return Ok(expired());
    };
    if query
        .iss
        .as_deref()
        .is_some_and(|iss| iss.trim_end_matches('/') != provider.issuer())
    {
        // An answer from another provider (a mix-up attack).
        tracing::warn!(
            reason = "the answer names another issuer",
            "ProConnect sign-in refused"
        );
        avip_app::metrics::oidc_sign_in("refused");
        return Ok(not_verified());
    }
    if let Some(error) = query.error {
        return Ok(provider_error(error, query.error_description));
    }
    let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 2000) else {
        tracing::warn!(reason = "no code", "ProConnect sign-in refused");
        avip_app::metrics::oidc_sign_in("refused");
        return Ok(not_verified());
    };
    let verified = match provider
        .finish(code, attempt.nonce, attempt.pkce_verifier)
        .await
    {
        Ok(verified) => verified,
        Err(e @ OidcError::Unavailable(_)) => {
            tracing::warn!(error = %e, "ProConnect sign-in failed");
            avip_app::metrics::oidc_sign_in("unavailable");
            return Ok(unavailable());
        }
        Err(e @ OidcError::Refused(_)) => {
            tracing::warn!(error = %e, "ProConnect sign-in refused");
            avip_app::metrics::oidc_sign_in("refused");
            return Ok(not_verified());
        }
    };
    let Verified {
        email,
        siret,
        id_token,
    } = verified;
    let secure = state.web.secure_cookies;
    let opened = state
        .write(
            move |conn| match person_of(conn, &email, siret.as_deref(), now)? {
                Ok((user, version)) => {
                    session::open(conn, (&user, version), Some(id_token), secure, now).map(Ok)
                }
                Err(why) => Ok(Err(why)),
            },
        )
        .await?;
    match opened {
        Ok(cookie) => {
            avip_app::metrics::oidc_sign_in("signed_in");
            let mut response = see_other(&attempt.next);
            response.add_cookie(&cookie).map_err(anyhow::Error::from)?;
            Ok(response)
        }
        Err(why) => Ok(unmatched(why)),
    }
}

/// After the session is closed here: the provider's sign-out address (with
/// the session's id_token as hint), or `None` when the session was not
/// opened through the provider or the provider cannot be reached.
pub async fn sign_out_at_provider(state: &State, id_token: Option<&str>) -> Option<HttpResponse> {
    let provider = state.web.oidc.clone()?;
    let id_token = id_token?;
    match provider.sign_out(id_token).await {
        Ok(Some((url, sign_out_state))) => {
            let mut response = see_other(url.as_str());
            let _ = response.add_cookie(&cookie(
                state,
                SIGN_OUT_COOKIE,
                "/app/deconnexion",
                sign_out_state,
            ));
            Some(response)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the sign-out at ProConnect could not start");
            None
        }
    }
}

#[derive(Deserialize)]
pub struct SignedOutQuery {
    state: Option<String>,
}

/// `GET /app/deconnexion/fin`: back from the provider's sign-out.
pub async fn signed_out(
    req: HttpRequest,
    state: State,
    query: web::Query<SignedOutQuery>,
) -> HttpResponse {
    let expected = req.cookie(SIGN_OUT_COOKIE).map(|c| c.value().to_owned());
    let ours = match (expected, query.state.as_deref()) {
        (Some(e), Some(s)) => !e.is_empty() && same_secret(&e, s),
        _ => false,
    };
    let mut response = see_other(if ours {
        "/app/connexion?fin=1"
    } else {
        "/app/connexion"
    });
    let _ = response.add_cookie(&removal(&state, SIGN_OUT_COOKIE, "/app/deconnexion"));
    response
}

/// ProConnect answered with an error (`access_denied` when the person
/// cancelled): a page saying so, with the provider's words.
fn provider_error(error: String, description: Option<String>) -> HttpResponse {
    tracing::info!(error = %error, "ProConnect answered with an error");
    avip_app::metrics::oidc_sign_in("provider_error");
    let detail: String = match description {
        Some(d) => format!("{error} ({d})"),
        None => error.clone(),
    }
    .chars()
    .filter(|c| !c.is_control())
    .take(300)
    .collect();
    let message = if error == "access_denied" {
        "La connexion a été annulée ou refusée sur ProConnect ; vous n’êtes pas connecté."
    } else {
        "ProConnect n’a pas pu vous identifier ; vous n’êtes pas connecté. Recommencez, ou \
         contactez l’assistance de ProConnect si cela se reproduit."
    };
    refused(
        StatusCode::BAD_REQUEST,
        "Connexion impossible",
        message,
        Some(detail),
    )
}

/// ProConnect identified the person, but she has no account here.
fn unmatched(why: Unmatched) -> HttpResponse {
    // No e-mail, no SIRET, no subject: the reason only.
    tracing::warn!(reason = why.reason(), "ProConnect sign-in refused");
    avip_app::metrics::oidc_sign_in(match why {
        Unmatched::NoPerson => "unknown_person",
        Unmatched::OtherSiret => "other_siret",
    });
    let message = match why {
        Unmatched::NoPerson => {
            "ProConnect vous a bien identifié, mais aucun compte actif de Suivi AVIP ne \
             correspond à votre adresse e-mail. Demandez à l’administrateur AVIP de \
             votre territoire (ou à la coordinatrice AVIP de votre crèche) de vous ouvrir \
             un compte avec l’adresse que vous utilisez sur ProConnect."
        }
        Unmatched::OtherSiret => {
            "ProConnect vous a bien identifié, mais l’établissement (SIRET) qu’il indique \
             n’est pas celui que Suivi AVIP connaît pour votre organisation. Demandez à \
             l’administrateur AVIP de votre territoire de vérifier le SIRET de votre \
             organisation."
        }
    };
    refused(
        StatusCode::FORBIDDEN,
        "Aucun compte pour cette identité",
        message,
        None,
    )
}

/// The `state` sent back, when it is the one this browser was sent with.
fn this_browsers_state(req: &HttpRequest, sent: Option<String>) -> Option<String> {
    let sent = sent.unwrap_or_default();
    let expected = req.cookie(STATE_COOKIE).map(|c| c.value().to_owned());
    let ours = !sent.is_empty()
        && sent.len() <= 200
        && expected.is_some_and(|e| !e.is_empty() && same_secret(&e, &sent));
    ours.then_some(sent)
}

fn not_this_browser() -> HttpResponse {
    tracing::warn!(
        reason = "state missing or not this browser's",
        "ProConnect sign-in refused"
    );
    avip_app::metrics::oidc_sign_in("refused");
    refused(
        StatusCode::BAD_REQUEST,
        "Connexion refusée",
        "Cette réponse de ProConnect ne correspond à aucune connexion commencée dans ce \
         navigateur. Recommencez la connexion depuis la page de connexion.",
        None,
    )
}

fn expired() -> HttpResponse {
    tracing::warn!(
        reason = "state expired or already used",
        "ProConnect sign-in refused"
    );
    avip_app::metrics::oidc_sign_in("refused");
    refused(
        StatusCode::BAD_REQUEST,
        "Connexion expirée",
        "Cette connexion a expiré ou a déjà servi. Recommencez la connexion depuis la page \
         de connexion.",
        None,
    )
}
