//! The relying party of an OpenID Connect provider (ProConnect), for the
//! workspace: the authorization code flow with PKCE, `state` and `nonce` of
//! 43 characters (ProConnect asks for at least 32), the id_token and a
//! signed userinfo answer verified by the `openidconnect` crate (signature
//! against the provider's published keys, issuer, audience, expiry, nonce),
//! and the sign-out at the provider's end-session endpoint.
//!
//! Nothing here decides who gets in: [`Provider::finish`] gives the verified
//! identity; `workflow::sign_in::person_of` matches it to a person.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreClient, CoreClientAuthMethod, CoreGenderClaim, CoreResponseType};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthType, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
    UserInfoClaims,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::settings::{Environment, OidcSettings};

/// Where the provider sends the browser back (under `AVIP_PUBLIC_URL`).
pub const CALLBACK_PATH: &str = "/app/connexion/proconnect/retour";
/// Where the provider sends the browser after its sign-out.
pub const SIGNED_OUT_PATH: &str = "/app/deconnexion/fin";
/// The provider's metadata and keys are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// An id_token signed with an unknown key makes the keys be read again,
/// if they were read at least this long ago.
const REFRESH_AFTER: Duration = Duration::from_secs(10);
/// Random values of 32 bytes: 43 characters in URL-safe base64.
const RANDOM_BYTES: u32 = 32;

type Metadata = ProviderMetadataWithLogout;

/// The claims ProConnect adds to the standard ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ProConnectClaims {
    /// The SIRET of the agent's establishment.
    pub siret: Option<String>,
    /// The agent's id at her identity provider.
    pub uid: Option<String>,
    /// The agent's usual last name.
    pub usual_name: Option<String>,
}
impl AdditionalClaims for ProConnectClaims {}

/// An error with its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The configured provider: its settings, an HTTP client that follows no
/// redirect, and its metadata once fetched.
pub struct Provider {
    settings: OidcSettings,
    redirect: RedirectUrl,
    signed_out: PostLogoutRedirectUrl,
    http: reqwest::Client,
    metadata: Mutex<Option<(Instant, Arc<Metadata>)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// A sign-in sent to the provider: the address to send the browser to, and
/// what its answer is checked against.
pub struct Started {
    pub url: Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Who the provider says came back: verified, not yet matched.
#[derive(Debug)]
pub struct Verified {
    pub email: String,
    pub siret: Option<String>,
    /// The raw id_token, the hint of the sign-out at the provider.
    pub id_token: String,
}

/// Why a sign-in through the provider failed. The messages are for the log:
/// they hold no personal data.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, or answered something unusable.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// An answer that does not verify: forged, replayed or for another
    /// client.
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
}

impl Provider {
    /// The provider of `settings`, with this service's public address.
    pub fn new(settings: OidcSettings, public_url: &str, env: Environment) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // Following a redirect would let an answer send this service's
            // requests elsewhere (the crate's documentation warns of it).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .https_only(env == Environment::Production)
            .build()?;
        Ok(Provider {
            redirect: RedirectUrl::new(format!("{public_url}{CALLBACK_PATH}"))?,
            signed_out: PostLogoutRedirectUrl::new(format!("{public_url}{SIGNED_OUT_PATH}"))?,
            settings,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// `AVIP_OIDC_ISSUER`.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The provider's metadata (discovery) and keys, fetched at most every
    /// five minutes.
    async fn metadata(&self) -> Result<Arc<Metadata>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Unavailable(format!("issuer: {e}")))?;
        let metadata = Metadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(format!("discovery: {}", chain(&e))))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// The provider's metadata and keys read again, unless `seen` (what the
    /// caller used) was read less than [`REFRESH_AFTER`] ago: an answer
    /// signed with an unknown key does not make this service fetch the
    /// provider's keys at every request.
    async fn refresh(&self, seen: &Arc<Metadata>) -> Result<Option<Arc<Metadata>>, OidcError> {
        {
            let mut cached = self.metadata.lock().await;
            match cached.as_ref() {
                Some((at, metadata)) if Arc::ptr_eq(metadata, seen) => {
                    if at.elapsed() < REFRESH_AFTER {
                        return Ok(None);
                    }
                    *cached = None;
                }
                // Already read again by another sign-in: use that.
                Some((_, metadata)) => return Ok(Some(metadata.clone())),
                None => {}
            }
        }
        self.metadata().await.map(Some)
    }

    fn client(
        &self,
        metadata: &Metadata,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        // The client authenticates as the provider allows: with HTTP Basic
        // (the default) unless only `client_secret_post` is offered.
        let methods = metadata.token_endpoint_auth_methods_supported();
        let post_only = methods.is_some_and(|m| {
            m.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(self.redirect.clone())
        .set_auth_type(if post_only {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        })
    }

    /// Starts a sign-in: the provider's authorization address with a new
    /// `state`, `nonce` and PKCE challenge.
    pub async fn start(&self) -> Result<Started, OidcError> {
        let metadata = self.metadata().await?;
        let client = self.client(&metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256_len(RANDOM_BYTES);
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                || CsrfToken::new_random_len(RANDOM_BYTES),
                || Nonce::new_random_len(RANDOM_BYTES),
            )
            .set_pkce_challenge(challenge);
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: the code exchanged (with the PKCE verifier), the
    /// id_token verified (signature, issuer, audience, expiry, `nonce`, the
    /// access token's hash), then the userinfo answer read, and verified
    /// like the id_token when it is a signed JWT.
    pub async fn finish(
        &self,
        code: String,
        nonce: String,
        pkce_verifier: String,
    ) -> Result<Verified, OidcError> {
        let metadata = self.metadata().await?;
        let mut client = self.client(&metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("code exchange: {}", chain(&e))))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::Refused("no id_token in the token response".into()))?;
        let nonce = Nonce::new(nonce);
        let mut checked = id_token.claims(&client.id_token_verifier(), &nonce);
        if matches!(
            checked,
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            ))
        ) && let Some(fresh) = self.refresh(&metadata).await?
        {
            // Signed with a key we have not read: the provider may have
            // rotated its keys since. Read them again (at most every 10
            // seconds), and check once more.
            client = self.client(&fresh);
            checked = id_token.claims(&client.id_token_verifier(), &nonce);
        }
        let claims = checked.map_err(|e| OidcError::Refused(format!("id_token: {e}")))?;
        let verifier = client.id_token_verifier();
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| OidcError::Refused(format!("id_token: {e}")))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| OidcError::Refused(format!("id_token: {e}")))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                .map_err(|e| OidcError::Refused(format!("at_hash: {e}")))?;
            if actual != *expected {
                return Err(OidcError::Refused(
                    "the access token's hash is not the id_token's at_hash".into(),
                ));
            }
        }
        let info: UserInfoClaims<ProConnectClaims, CoreGenderClaim> = client
            .user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
            .map_err(|e| OidcError::Unavailable(format!("userinfo: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("userinfo: {}", chain(&e))))?;
        if info.email_verified() == Some(false) {
            return Err(OidcError::Refused("the e-mail is not verified".into()));
        }
        let email = info
            .email()
            .or(claims.email())
            .map(|e| e.as_str().trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .ok_or_else(|| OidcError::Refused("no e-mail in the userinfo answer".into()))?;
        Ok(Verified {
            email,
            siret: info.additional_claims().siret.clone(),
            id_token: id_token.to_string(),
        })
    }

    /// The provider's sign-out address for a session opened with
    /// `id_token`, with a new `state`; `None` when the provider has no
    /// end-session endpoint.
    pub async fn sign_out(&self, id_token: &str) -> Result<Option<(Url, String)>, OidcError> {
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.additional_metadata().end_session_endpoint.clone() else {
            return Ok(None);
        };
        let hint: openidconnect::core::CoreIdToken = id_token
            .parse()
            .map_err(|e| OidcError::Refused(format!("stored id_token: {e}")))?;
        let state = CsrfToken::new_random_len(RANDOM_BYTES);
        let url = LogoutRequest::from(endpoint)
            .set_id_token_hint(&hint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(self.signed_out.clone())
            .set_state(state.clone())
            .http_get_url();
        Ok(Some((url, state.secret().clone())))
    }
}
