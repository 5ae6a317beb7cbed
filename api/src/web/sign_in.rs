//! Sign-in with e-mail and password (the accounts, throttle and rate limit
//! of the token endpoint), sign-out, and the home page that sends each
//! role to its first page.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use avip_app::auth::Subject;

use crate::shared::State;
use crate::web::forms::Form;
use crate::web::session::{self, Visitor, same_secret};
use crate::web::{WebError, html, see_other};
use avip_app::domain::DomainError;
use avip_app::workflow::sign_in::{Account, Outcome};

/// The cookie that carries the sign-in form's CSRF token (no session yet:
/// the form's hidden field must equal it).
/// The sign-in form's CSRF cookie: in production with the `__Host-`
/// prefix (the browser then takes it only from this host, over https, for
/// the whole site: no sub-domain can plant one), in development scoped to
/// the sign-in page.
fn form_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-avip_sign_in"
    } else {
        "avip_sign_in"
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
    signed_out: bool,
    expired: bool,
    /// The "S’identifier avec ProConnect" button (`AVIP_OIDC_ISSUER` set).
    proconnect: bool,
}

#[derive(Deserialize)]
pub struct SignInQuery {
    suite: Option<String>,
    fin: Option<String>,
}

fn form_cookie(state: &State, value: &str) -> Cookie<'static> {
    build_form_cookie(state.web.secure_cookies, value)
}

fn build_form_cookie(secure: bool, value: &str) -> Cookie<'static> {
    Cookie::build(form_cookie_name(secure), value.to_owned())
        .path(if secure { "/" } else { "/app/connexion" })
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn render(state: &State, page: SignInPage, status: actix_web::http::StatusCode) -> HttpResponse {
    let mut response = html(status, &page);
    let _ = response.add_cookie(&form_cookie(state, &page.csrf));
    response
}

/// `GET /app/connexion`.
pub async fn form(req: HttpRequest, state: State, query: web::Query<SignInQuery>) -> HttpResponse {
    let next = session::next_or_home(query.suite.as_deref());
    let csrf = req
        .cookie(form_cookie_name(state.web.secure_cookies))
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
        .unwrap_or_else(session::random_token);
    let page = SignInPage {
        csrf,
        expired: query.suite.is_some() && query.fin.is_none(),
        signed_out: query.fin.is_some(),
        next,
        email: String::new(),
        error: None,
        proconnect: state.web.oidc.is_some(),
    };
    render(&state, page, actix_web::http::StatusCode::OK)
}

/// `POST /app/connexion`.
pub async fn submit(
    req: HttpRequest,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = Form::read(&body)?;
    let field = |name: &str| form.get(name);
    let expected = req
        .cookie(form_cookie_name(state.web.secure_cookies))
        .map(|c| c.value().to_owned());
    if !expected.is_some_and(|e| !e.is_empty() && same_secret(&e, field("csrf"))) {
        return Err(WebError::Csrf);
    }
    let next = session::next_or_home(Some(field("suite")));
    let email = field("email").trim().to_lowercase();
    let password = field("password").to_owned();
    let again = |error: String, status| {
        render(
            &state,
            SignInPage {
                csrf: session::random_token(),
                next: next.clone(),
                email: email.chars().take(254).collect(),
                error: Some(error),
                signed_out: false,
                expired: false,
                proconnect: state.web.oidc.is_some(),
            },
            status,
        )
    };
    use actix_web::http::StatusCode;
    if email.is_empty() || password.is_empty() || email.len() > 254 || password.len() > 1024 {
        return Ok(again(
            "Saisissez votre adresse e-mail et votre mot de passe.".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let outcome = match check(&state, &req, email.clone(), password).await {
        Ok(outcome) => outcome,
        Err(DomainError::TooManyRequests { retry_after, .. }) => {
            return Ok(again(
                try_again_in(retry_after),
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    match outcome {
        Outcome::Granted {
            subject: Subject::User(user),
            version,
            ..
        } => signed_in(&state, user, version.unwrap_or_default(), &next).await,
        Outcome::Locked { seconds } => {
            Ok(again(try_again_in(seconds), StatusCode::TOO_MANY_REQUESTS))
        }
        Outcome::OidcRequired => Ok(again(
            "Votre organisation demande de vous connecter avec ProConnect : \
             utilisez le bouton « S’identifier avec ProConnect »."
                .to_owned(),
            StatusCode::FORBIDDEN,
        )),
        _ => Ok(again(
            "Adresse e-mail ou mot de passe incorrect.".to_owned(),
            StatusCode::UNAUTHORIZED,
        )),
    }
}

/// The address's rate of sign-ins, then the password.
async fn check(
    state: &State,
    req: &HttpRequest,
    email: String,
    password: String,
) -> Result<Outcome, DomainError> {
    let address = crate::shared::client_address(&state.limits, req);
    state.limits.token_request(address)?;
    let account = Account::Person { email };
    avip_app::workflow::sign_in::check(&state.app, address, account, password).await
}

/// "Try again in …", at least a minute.
fn try_again_in(seconds: u64) -> String {
    format!(
        "Trop de tentatives de connexion. Réessayez dans {}.",
        crate::web::fr::duration(i64::try_from(seconds.max(60)).unwrap_or(60))
    )
}

/// The password was right: the session opens, the sign-in form's cookie is
/// spent, and the person goes where she was going.
async fn signed_in(
    state: &State,
    user: avip_db::model::UserId,
    version: i32,
    next: &str,
) -> Result<HttpResponse, WebError> {
    let secure = state.web.secure_cookies;
    let cookie = state
        .write(move |conn| session::open(conn, (&user, version), None, secure, Utc::now()))
        .await?;
    let mut response = see_other(next);
    response.add_cookie(&cookie).map_err(anyhow::Error::from)?;
    let mut spent = form_cookie(state, "");
    spent.make_removal();
    let _ = response.add_cookie(&spent);
    Ok(response)
}

/// `POST /app/deconnexion`.
pub async fn sign_out(
    visitor: Visitor,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    visitor.check_csrf(Form::read(&body)?.csrf())?;
    visitor.close(&state).await?;
    // Opened through ProConnect: its session ends too, at its end-session
    // endpoint, which sends the browser back to /app/deconnexion/fin.
    let mut response =
        crate::web::proconnect::sign_out_at_provider(&state, visitor.id_token.as_deref())
            .await
            .unwrap_or_else(|| see_other("/app/connexion?fin=1"));
    let _ = response.add_cookie(&session::removal(state.web.secure_cookies));
    Ok(response)
}

/// `GET /app/`: each role's first page.
pub async fn home(visitor: Visitor) -> HttpResponse {
    see_other(crate::web::Section::home(&visitor.who).path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_production_form_cookie_is_host_only() {
        let c = build_form_cookie(true, "x").to_string();
        assert!(c.starts_with("__Host-avip_sign_in=x"), "{c}");
        for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(part), "{part} in {c}");
        }
        assert!(!c.contains("Domain") && !c.contains("Path=/app"), "{c}");
        let dev = build_form_cookie(false, "x").to_string();
        assert!(
            dev.starts_with("avip_sign_in=x") && !dev.contains("Secure"),
            "{dev}"
        );
    }
}
