//! Access tokens: JWTs signed by the service (HS256 from `AVIP_JWT_SECRET`,
//! or EdDSA/RS256 from key files), short-lived, checked strictly.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::settings::{JwtKeyFiles, Settings};

pub const AUDIENCE: &str = "avip-api";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// `user:<id>` or `client:<id>`.
    pub sub: String,
    pub org: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    /// A person's credentials' number when the token was issued: another
    /// number now (password changed, disabled, signed out everywhere)
    /// means it is revoked. Absent from API clients' tokens and from
    /// tokens issued before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i32>,
}

pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl: Duration,
}

impl TokenKeys {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<TokenKeys> {
        let issuer = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let (algorithm, encoding, decoding) = match &settings.jwt_key_files {
            None => {
                let secret = settings.jwt_secret.expose_secret().as_bytes();
                (
                    Algorithm::HS256,
                    EncodingKey::from_secret(secret),
                    DecodingKey::from_secret(secret),
                )
            }
            Some(JwtKeyFiles {
                algorithm,
                private_key,
                public_key,
            }) => {
                let private = std::fs::read(private_key).with_context(|| {
                    format!(
                        "AVIP_JWT_PRIVATE_KEY_FILE: cannot read {}",
                        private_key.display()
                    )
                })?;
                let public = std::fs::read(public_key).with_context(|| {
                    format!(
                        "AVIP_JWT_PUBLIC_KEY_FILE: cannot read {}",
                        public_key.display()
                    )
                })?;
                match algorithm.as_str() {
                    "EdDSA" => (
                        Algorithm::EdDSA,
                        EncodingKey::from_ed_pem(&private)
                            .context("AVIP_JWT_PRIVATE_KEY_FILE: not an Ed25519 PEM key")?,
                        DecodingKey::from_ed_pem(&public)
                            .context("AVIP_JWT_PUBLIC_KEY_FILE: not an Ed25519 PEM key")?,
                    ),
                    _ => (
                        Algorithm::RS256,
                        EncodingKey::from_rsa_pem(&private)
                            .context("AVIP_JWT_PRIVATE_KEY_FILE: not an RSA PEM key")?,
                        DecodingKey::from_rsa_pem(&public)
                            .context("AVIP_JWT_PUBLIC_KEY_FILE: not an RSA PEM key")?,
                    ),
                }
            }
        };
        Ok(TokenKeys {
            algorithm,
            encoding,
            decoding,
            issuer,
            ttl: settings.token_ttl,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        sub: String,
        org: String,
        role: String,
        version: Option<i32>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            sub,
            org,
            role,
            iat,
            exp: iat + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            ver: version,
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .context("cannot sign a token")
    }

    /// The claims of a token this service signed with its configured
    /// algorithm, for this audience and issuer, and not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(self.algorithm);
        validation.algorithms = vec![self.algorithm];
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|data| data.claims)
    }
}
