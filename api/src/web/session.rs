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
use avip_db::model::{UserId, from_db_time, to_db_time};
use avip_db::web_sessions::{self, WebSession};
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::shared::State;
use crate::web::WebError;
use avip_app::auth::principal::Issued;
use avip_app::auth::{Principal, Subject};
use avip_app::domain::DomainError;

/// A session ends after this long without a request.
pub const IDLE: chrono::TimeDelta = chrono::TimeDelta::hours(8);
/// The expiry moves at most once in this interval (one write a minute, not
/// one per page).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The session cookie's name: with the `__Host-` prefix when it is `Secure`
/// (the browser then refuses it from another path or a sub-domain).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-avip_session"
    } else {
        "avip_session"
    }
}

/// A random secret, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    let secret = random_token();
    let at = to_db_time(now);
    web_sessions::purge(conn, at)?;
    web_sessions::insert(
        conn,
        &WebSession {
            id_hash: digest(&secret),
            user_id: user.clone(),
            csrf: random_token(),
            created_at: at,
            last_seen_at: at,
            expires_at: to_db_time(now + IDLE),
            id_token,
            credentials_version: version,
        },
    )?;
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
            .write(move |conn| web_sessions::delete(conn, &hash).map_err(DomainError::from))
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
/// page of the workspace read with GET.
pub fn back_to(req: &HttpRequest) -> String {
    let target = if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    next_or_home(Some(&target))
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
                    .run(move |conn| {
                        let Some(session) = web_sessions::find(conn, &hash, to_db_time(now))?
                        else {
                            return Ok::<_, DomainError>(None);
                        };
                        let issued = Issued {
                            at: from_db_time(session.created_at).timestamp(),
                            version: Some(session.credentials_version),
                        };
                        let who = avip_app::auth::principal::load(
                            conn,
                            Subject::User(session.user_id.clone()),
                            Some(issued),
                        )?;
                        Ok(who.map(|who| (session, who)))
                    })
                    .await?
            };
            let Some((session, who)) = found else {
                return Err(sign_in());
            };
            if now - from_db_time(session.last_seen_at) >= TOUCH_EVERY {
                let hash = hash.clone();
                state
                    .write(move |conn| {
                        web_sessions::touch(conn, &hash, to_db_time(now), to_db_time(now + IDLE))
                            .map_err(DomainError::from)
                    })
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
