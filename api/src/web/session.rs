//! Sessions of the workspace: a random secret in an `HttpOnly`, `SameSite`
//! cookie (`Secure` in production), its SHA-256 in `web_sessions`; the
//! person behind it is loaded as the database says now on every request, so
//! that disabling a person or changing her password ends her sessions at
//! once. Every form carries the session's CSRF token.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use avip_db::model::UserId;
use chrono::{DateTime, Utc};

use crate::shared::State;
use crate::web::WebError;
use avip_app::auth::Principal;
use avip_app::auth::sessions::{self, digest};
use avip_app::domain::DomainError;

pub use avip_app::auth::sessions::{IDLE, random_token};

/// The session cookie's name: with the `__Host-` prefix when it is `Secure`
/// (the browser then refuses it from another path or a sub-domain).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-avip_session"
    } else {
        "avip_session"
    }
}

/// Compares two secrets without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Opens a session for `user` under her credentials' number as read when
/// her sign-in was checked: the row, and the cookie to set. `id_token` is
/// the provider's, when she signed in through OpenID Connect.
pub fn open(
    conn: &mut avip_db::DbConnection,
    (user, version): (&UserId, i32),
    id_token: Option<String>,
    secure: bool,
    now: DateTime<Utc>,
) -> Result<Cookie<'static>, DomainError> {
    let secret = sessions::open(conn, (user, version), id_token, now)?;
    Ok(cookie(secure, secret))
}

fn cookie(secure: bool, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        // Lax: a link from an e-mail opens the page signed in; a form
        // posted from another site carries no session.
        .same_site(SameSite::Lax)
        .finish()
}

/// The cookie that removes the session's cookie.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie(secure, String::new());
    c.set_max_age(CookieDuration::ZERO);
    c
}

/// A signed-in person of the workspace.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub who: Principal,
    pub user_id: UserId,
    /// The token every form of the session carries.
    pub csrf: String,
    /// The provider's id_token, when the session was opened through it.
    pub id_token: Option<String>,
    id_hash: String,
}

impl Visitor {
    /// Ends this session.
    pub async fn close(&self, state: &State) -> Result<(), WebError> {
        let hash = self.id_hash.clone();
        state
            .write(move |conn| sessions::close(conn, &hash))
            .await?;
        Ok(())
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), WebError> {
        match sent {
            Some(token) if same_secret(token, &self.csrf) => Ok(()),
            _ => Err(WebError::Csrf),
        }
    }
}

/// Where the sign-in page sends back to: the page asked for, when it is a
/// page of the workspace read with GET; for a form sent after the session
/// ended, the page the form is on (what was typed is kept by the browser,
/// `app.js`, and put back there).
pub fn back_to(req: &HttpRequest) -> String {
    let target = if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        form_page(req.path()).to_owned()
    };
    next_or_home(Some(&target))
}

/// The page a form posted to `path` is on.
fn form_page(path: &str) -> &str {
    const REFERRALS: &str = "/app/orientations/";
    if let Some((id, _action)) = path
        .strip_prefix(REFERRALS)
        .and_then(|rest| rest.split_once('/'))
    {
        return &path[..REFERRALS.len() + id.len()];
    }
    match path {
        "/app/orientations/nouvelle" => path,
        _ if path.starts_with("/app/places/") => "/app/places",
        _ => "/app/",
    }
}

/// Where to go after signing in: `next` when it is a page of the workspace
/// (see [`safe_next`]), else the workspace's home.
pub fn next_or_home(next: Option<&str>) -> String {
    next.and_then(safe_next).unwrap_or("/app/").to_owned()
}

/// `next` if it is a path of the workspace (never another host).
pub fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with("/app/")
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 2000
        && !next.chars().any(char::is_control))
    .then_some(next)
}

impl FromRequest for Visitor {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let secure = state.as_ref().is_some_and(|s| s.web.secure_cookies);
        let secret = req
            .cookie(cookie_name(secure))
            .map(|c| c.value().to_owned());
        let next = back_to(req);
        let htmx = req.headers().contains_key("hx-request");
        Box::pin(async move {
            let sign_in = || WebError::SignIn {
                next: next.clone(),
                htmx,
            };
            let state = state.ok_or_else(|| {
                WebError::Unexpected(anyhow::anyhow!("the application state is not configured"))
            })?;
            let Some(secret) = secret.filter(|s| !s.is_empty() && s.len() <= 100) else {
                return Err(sign_in());
            };
            let hash = digest(&secret);
            let now = Utc::now();
            let found = {
                let hash = hash.clone();
                state
                    .run(move |conn| sessions::find(conn, &hash, now))
                    .await?
            };
            let Some((session, who)) = found else {
                return Err(sign_in());
            };
            if sessions::due_for_touch(session.last_seen_at, now) {
                let hash = hash.clone();
                state
                    .write(move |conn| sessions::touch(conn, &hash, now))
                    .await?;
            }
            Ok(Visitor {
                who,
                user_id: session.user_id,
                csrf: session.csrf,
                id_token: session.id_token,
                id_hash: hash,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_cookies_are_secure_and_host_only() {
        let c = cookie(true, "x".into()).to_string();
        assert!(c.starts_with("__Host-avip_session=x"), "{c}");
        for part in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
            assert!(c.contains(part), "{part} in {c}");
        }
        let dev = cookie(false, "x".into()).to_string();
        assert!(
            dev.starts_with("avip_session=x") && !dev.contains("Secure"),
            "{dev}"
        );
        assert!(removal(true).to_string().contains("Max-Age=0"));
    }

    #[test]
    fn a_form_sent_after_the_session_ended_leads_back_to_its_page() {
        let id = "0193a5b0-7c1e-7d2a-9b1e-000000000001";
        for (posted, page) in [
            (
                format!("/app/orientations/{id}/note"),
                format!("/app/orientations/{id}"),
            ),
            (
                "/app/orientations/nouvelle".into(),
                "/app/orientations/nouvelle".into(),
            ),
            ("/app/places/fermetures".into(), "/app/places".into()),
            ("/app/deconnexion".into(), "/app/".into()),
        ] {
            assert_eq!(form_page(&posted), page);
        }
    }

    #[test]
    fn only_pages_of_the_workspace_are_destinations_after_sign_in() {
        assert_eq!(
            safe_next("/app/orientations?statut=received"),
            Some("/app/orientations?statut=received")
        );
        for bad in [
            "//evil.example/app/",
            "https://evil.example/app/",
            "/api/v1/me",
            "/app/\\evil",
            "/app//x",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}
