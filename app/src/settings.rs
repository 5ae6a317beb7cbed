//! Typed settings, read once at start from the environment (and an optional
//! `.env` file) with exactly the variable names of docs/product.md §9.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use avip_sla_engine::policy::{self, ClockKind, HolidayZone, Policy};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Every setting of the service. Secrets are `SecretString`: their `Debug`
/// prints nothing.
#[derive(Clone, Debug)]
pub struct Settings {
    pub env: Environment,
    pub bind: String,
    pub database_url: String,
    pub db_pool_size: u32,
    pub public_url: Url,
    pub jwt_secret: SecretString,
    /// True when no `AVIP_JWT_SECRET` was given and one was drawn at start.
    pub jwt_secret_generated: bool,
    /// EdDSA or RS256 key files; `None` means HS256 with `jwt_secret`.
    pub jwt_key_files: Option<JwtKeyFiles>,
    pub token_ttl: Duration,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub mail_dir: PathBuf,
    /// Brevo's transactional SMS API; `None`: SMS are `.sms` files in
    /// `mail_dir`.
    pub sms: Option<SmsSettings>,
    pub sla: Policy,
    pub sla_schedule: String,
    pub sla_digest: bool,
    /// The wait before an e-mail that failed is tried again; it doubles at
    /// each failure up to `mail_retry_max`.
    pub mail_retry: Duration,
    pub mail_retry_max: Duration,
    /// The waits between a webhook delivery's attempts; after the last, the
    /// delivery has failed and its subscription is disabled.
    pub webhook_retry: Vec<Duration>,
    /// When the daily digests go out (cron, seconds first, Paris time).
    pub digest_schedule: String,
    /// How long a dispatcher holds an e-mail it is sending before another
    /// may take it over.
    pub mail_lease: Duration,
    pub retention: Duration,
    /// When the retention job runs (cron, seconds first).
    pub retention_schedule: String,
    /// How long the access log keeps a read.
    pub access_log_retention: Duration,
    pub offer_hold: Duration,
    /// How long a waitlisted family waits without a move before the
    /// coordinators are reminded (then once per period), `AVIP_WAITING_REVIEW`.
    pub waiting_review: Duration,
    pub pseudonym_key: Option<SecretString>,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where `GET /metrics` is served instead of the main address.
    pub metrics_bind: Option<String>,
    /// Token requests per minute from one client address.
    pub token_rate_limit: u32,
    /// Referrals per minute from one prescriber organisation.
    pub intake_rate_limit: u32,
    /// Downloads of evaluation rows one identity may run at once.
    pub exports_per_identity: u32,
    /// How long a download may wait on a client that does not read.
    pub write_timeout: Duration,
    /// Sign-in to the workspace through an OpenID Connect provider
    /// (ProConnect), when `AVIP_OIDC_ISSUER` is set.
    pub oidc: Option<OidcSettings>,
    /// Who publishes the service, as its legal pages name them.
    pub publisher: Publisher,
}

/// Who runs the service, as the pages a public service owes name them
/// (legal notice, accessibility statement, personal data, help). Production
/// requires each; in development a missing one reads "à renseigner".
#[derive(Clone, Debug)]
pub struct Publisher {
    /// `AVIP_OPERATOR_NAME`: the organisation that runs the service for the
    /// territory (the controller of the processing).
    pub operator_name: String,
    /// `AVIP_OPERATOR_ADDRESS`: its postal address.
    pub operator_address: String,
    /// `AVIP_PUBLICATION_DIRECTOR`: the publication director (name, title).
    pub publication_director: String,
    /// `AVIP_HOSTING`: the host (name, address, phone).
    pub hosting: String,
    /// `AVIP_DPO_EMAIL`: the data protection officer's address.
    pub dpo_email: String,
    /// `AVIP_SUPPORT_EMAIL`: where people write for help, and about
    /// accessibility.
    pub support_email: String,
}

/// The longest text a publisher setting may hold.
const MAX_PUBLISHER_TEXT: usize = 500;

/// An address as the pages link to it: one `@` between a local part and a
/// domain with a dot, no space, at most 254 characters.
fn email_address(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    value.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The OpenID Connect provider the workspace's people may sign in with.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `AVIP_OIDC_ISSUER`: its metadata is at
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The scopes asked for (`openid` among them).
    pub scopes: Vec<String>,
}

/// Asymmetric signing keys (PEM files) and their algorithm.
#[derive(Clone, Debug)]
pub struct JwtKeyFiles {
    /// `EdDSA` or `RS256`.
    pub algorithm: String,
    pub private_key: PathBuf,
    pub public_key: PathBuf,
}

/// One problem per variable; the message names each variable.
#[derive(Debug, PartialEq, Eq)]
pub struct SettingsError(pub Vec<(&'static str, String)>);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(var, why)| format!("{var}: {why}"))
            .collect();
        write!(f, "invalid configuration: {}", parts.join("; "))
    }
}

impl std::error::Error for SettingsError {}

/// Shortest HS256 secret accepted: 32 bytes, the size of the hash.
const MIN_SECRET_LEN: usize = 32;

/// The longest access token a production service issues.
const MAX_PRODUCTION_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A production secret: long enough (checked when read), made of at least
/// ten different characters of at least two kinds (a hex string from
/// `openssl rand -hex 32` passes; `aaaa…` or `abab…` does not).
fn strong(secret: &str) -> Result<(), String> {
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let kinds = [
        secret.chars().any(|c| c.is_ascii_lowercase()),
        secret.chars().any(|c| c.is_ascii_uppercase()),
        secret.chars().any(|c| c.is_ascii_digit()),
        secret.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    if distinct.len() < 10 || kinds < 2 {
        Err(
            "is too weak for production: use at least ten different characters of at least \
             two kinds, e.g. `openssl rand -hex 32`"
                .to_owned(),
        )
    } else {
        Ok(())
    }
}

/// An `smtp://` URL without required TLS to a server on another machine:
/// passwords and families' mail would cross the network in clear.
fn plaintext_to_another_host(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    let tls = url.scheme() == "smtps"
        || url
            .query_pairs()
            .any(|(k, v)| k == "tls" && (v == "required" || v == "wrapper"));
    let local = matches!(
        url.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    );
    !tls && !local
}

impl Settings {
    /// Reads the process environment (after `.env` has been loaded).
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads from a map: what tests use to build settings as an operator would.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut r = Reader {
            lookup: &lookup,
            errors: Vec::new(),
        };
        // Read in a fixed order: errors are listed in it.
        let env = r.parse("AVIP_ENV", "development", environment);
        let server = r.server();
        let tokens = r.tokens();
        let mail = r.mail();
        let sla = r.sla();
        let delivery = r.delivery();
        let keeping = r.keeping();
        let edge = r.edge();
        let oidc = r.oidc(env);
        if env == Some(Environment::Production) {
            r.production(&server, &tokens, &mail, &keeping);
        }
        let publisher = r.publisher(env);
        if !r.errors.is_empty() {
            return Err(SettingsError(r.errors));
        }
        // Every group is present once no error was recorded.
        let (
            Some(env),
            Some(server),
            Some(tokens),
            Some(mail),
            Some(sla),
            Some(delivery),
            Some(keeping),
            Some(edge),
            Some(oidc),
            Some(publisher),
        ) = (
            env, server, tokens, mail, sla, delivery, keeping, edge, oidc, publisher,
        )
        else {
            let unread = ("AVIP_ENV", "internal: a setting was not read".to_owned());
            return Err(SettingsError(vec![unread]));
        };
        let jwt_secret_generated = tokens.jwt_secret.is_none() && tokens.jwt_key_files.is_none();
        Ok(Settings {
            env,
            bind: server.bind,
            database_url: server.database_url,
            db_pool_size: server.db_pool_size,
            public_url: server.public_url,
            jwt_secret: tokens.jwt_secret.unwrap_or_else(random_secret),
            jwt_secret_generated,
            jwt_key_files: tokens.jwt_key_files,
            token_ttl: tokens.token_ttl,
            smtp_url: mail.smtp_url,
            mail_from: mail.mail_from,
            mail_dir: mail.mail_dir,
            sms: mail.sms,
            sla: sla.policy,
            sla_schedule: sla.schedule,
            sla_digest: sla.digest,
            digest_schedule: sla.digest_schedule,
            mail_retry: delivery.mail_retry,
            mail_retry_max: delivery.mail_retry_max,
            webhook_retry: delivery.webhook_retry,
            mail_lease: delivery.mail_lease,
            retention: keeping.retention,
            retention_schedule: keeping.retention_schedule,
            access_log_retention: keeping.access_log_retention,
            offer_hold: keeping.offer_hold,
            waiting_review: keeping.waiting_review,
            pseudonym_key: keeping.pseudonym_key,
            trusted_proxies: edge.trusted_proxies,
            metrics_bind: edge.metrics_bind,
            token_rate_limit: edge.token_rate_limit,
            intake_rate_limit: edge.intake_rate_limit,
            exports_per_identity: edge.exports_per_identity,
            write_timeout: edge.write_timeout,
            oidc,
            publisher,
        })
    }
}

/// Where the service listens and keeps its data.
struct Server {
    bind: String,
    database_url: String,
    db_pool_size: u32,
    public_url: Url,
}

/// How access tokens are signed and how long they live.
struct Tokens {
    jwt_secret: Option<SecretString>,
    jwt_key_files: Option<JwtKeyFiles>,
    token_ttl: Duration,
}

/// How e-mail leaves.
struct Mail {
    smtp_url: Option<SecretString>,
    mail_from: String,
    mail_dir: PathBuf,
    sms: Option<SmsSettings>,
}

/// Where SMS go: `AVIP_SMS_URL` (the API's base, `https://api.brevo.com`),
/// `AVIP_SMS_API_KEY`, `AVIP_SMS_SENDER` (what the phone shows: up to 11
/// letters and digits, or up to 15 digits). All three, or none.
#[derive(Clone, Debug)]
pub struct SmsSettings {
    pub url: Url,
    pub api_key: SecretString,
    pub sender: String,
}

/// The deadlines' policy and the jobs that watch them.
struct Sla {
    policy: Policy,
    schedule: String,
    digest: bool,
    digest_schedule: String,
}

/// The retries of e-mails and webhooks.
struct Delivery {
    mail_retry: Duration,
    mail_retry_max: Duration,
    webhook_retry: Vec<Duration>,
    mail_lease: Duration,
}

/// How long data is kept, and the key that pseudonymises what leaves.
struct Keeping {
    retention: Duration,
    retention_schedule: String,
    access_log_retention: Duration,
    offer_hold: Duration,
    waiting_review: Duration,
    pseudonym_key: Option<SecretString>,
}

/// What protects the service at its edge.
struct Edge {
    trusted_proxies: Vec<std::net::IpAddr>,
    metrics_bind: Option<String>,
    token_rate_limit: u32,
    intake_rate_limit: u32,
    exports_per_identity: u32,
    write_timeout: Duration,
}

fn environment(v: &str) -> Result<Environment, String> {
    match v {
        "development" => Ok(Environment::Development),
        "production" => Ok(Environment::Production),
        _ => Err("expected development or production".to_owned()),
    }
}

/// A cron schedule (seconds first) the scheduler accepts.
fn schedule(v: &str) -> Result<String, String> {
    policy::check_schedule(v).map(|()| v.to_owned())
}

/// A secret long enough to be one.
fn long_secret(v: &str) -> Result<(), String> {
    if v.len() < MIN_SECRET_LEN {
        Err(format!("must be at least {MIN_SECRET_LEN} characters long"))
    } else {
        Ok(())
    }
}

/// An address and port, or nothing.
fn optional_socket(v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<std::net::SocketAddr>()
        .map(|_| Some(v.to_owned()))
        .map_err(|_| format!("{v:?} is not an address and port (e.g. 127.0.0.1:9464)"))
}

/// An issuer's URL without its trailing `/`, or nothing.
fn optional_issuer(v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    Url::parse(v)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.query().is_none())
        .map(|_| Some(v.trim_end_matches('/').to_owned()))
        .ok_or_else(|| format!("{v:?} is not an http(s) URL without a query"))
}

/// A count between `low` and `high`.
fn count(v: &str, low: u32, high: u32) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a number between {low} and {high}")),
    }
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn server(&mut self) -> Option<Server> {
        let bind = self.parse("AVIP_BIND", "127.0.0.1:8080", |v| {
            v.rsplit_once(':')
                .and_then(|(host, port)| (!host.is_empty()).then_some(port))
                .and_then(|port| port.parse::<u16>().ok())
                .map(|_| v.to_owned())
                .ok_or_else(|| format!("{v:?} is not host:port"))
        });
        let database_url = self.parse("DATABASE_URL", "avip.db", |v| {
            avip_db::pool::Target::parse(v)
                .map(|_| v.to_owned())
                .map_err(|e| e.to_string())
        });
        let db_pool_size = self.parse("AVIP_DB_POOL_SIZE", "8", |v| count(v, 1, 512));
        let public_url = self.parse("AVIP_PUBLIC_URL", "http://127.0.0.1:8080", |v| {
            Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| format!("{v:?} is not an http(s) URL"))
        });
        Some(Server {
            bind: bind?,
            database_url: database_url?,
            db_pool_size: db_pool_size?,
            public_url: public_url?,
        })
    }

    fn tokens(&mut self) -> Option<Tokens> {
        let jwt_secret = self.secret("AVIP_JWT_SECRET", long_secret);
        let algorithm = self.parse("AVIP_JWT_ALGORITHM", "HS256", |v| match v {
            "HS256" | "EdDSA" | "RS256" => Ok(v.to_owned()),
            _ => Err(format!("{v:?} is not one of HS256, EdDSA, RS256")),
        });
        let private_key =
            (self.lookup)("AVIP_JWT_PRIVATE_KEY_FILE").filter(|v| !v.trim().is_empty());
        let public_key = (self.lookup)("AVIP_JWT_PUBLIC_KEY_FILE").filter(|v| !v.trim().is_empty());
        let jwt_key_files = match (algorithm.as_deref(), private_key, public_key) {
            (Some("HS256") | None, None, None) => None,
            (Some("HS256"), _, _) => {
                self.errors.push((
                    "AVIP_JWT_ALGORITHM",
                    "set EdDSA or RS256 to sign with key files".into(),
                ));
                None
            }
            (Some(algorithm), Some(private), Some(public)) => Some(JwtKeyFiles {
                algorithm: algorithm.to_owned(),
                private_key: PathBuf::from(private.trim()),
                public_key: PathBuf::from(public.trim()),
            }),
            (Some(_), _, _) => {
                self.errors.push((
                    "AVIP_JWT_PRIVATE_KEY_FILE",
                    "EdDSA and RS256 need AVIP_JWT_PRIVATE_KEY_FILE and AVIP_JWT_PUBLIC_KEY_FILE"
                        .into(),
                ));
                None
            }
            (None, _, _) => None,
        };
        let token_ttl = self.parse("AVIP_TOKEN_TTL", "1h", duration);
        Some(Tokens {
            jwt_secret: jwt_secret?,
            jwt_key_files,
            token_ttl: token_ttl?,
        })
    }

    fn mail(&mut self) -> Option<Mail> {
        let smtp_url = self.secret("AVIP_SMTP_URL", |v| match Url::parse(v) {
            Ok(u) if matches!(u.scheme(), "smtp" | "smtps") => Ok(()),
            _ => Err("expected smtp://… or smtps://…".to_owned()),
        });
        let mail_from = self.parse("AVIP_MAIL_FROM", "AVIP <no-reply@localhost>", |v| {
            if v.contains('@') {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a mailbox"))
            }
        });
        let mail_dir = self.parse("AVIP_MAIL_DIR", "mail-out", |v| Ok(PathBuf::from(v)));
        let sms = self.sms();
        Some(Mail {
            smtp_url: smtp_url?,
            mail_from: mail_from?,
            mail_dir: mail_dir?,
            sms: sms?,
        })
    }

    fn sms(&mut self) -> Option<Option<SmsSettings>> {
        let url = self.parse("AVIP_SMS_URL", "", |v| {
            if v.is_empty() {
                return Ok(None);
            }
            match Url::parse(v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u)),
                _ => Err("expected the SMS API's https:// URL".to_owned()),
            }
        });
        let api_key = self.secret("AVIP_SMS_API_KEY", |_| Ok(()));
        let sender = self.parse("AVIP_SMS_SENDER", "", |v| {
            let letters = v.len() <= 11 && v.chars().all(|c| c.is_ascii_alphanumeric());
            let digits = v.len() <= 15 && v.chars().all(|c| c.is_ascii_digit());
            if letters || digits {
                Ok(v.to_owned())
            } else {
                Err("expected up to 11 letters and digits, or up to 15 digits".to_owned())
            }
        });
        let (url, api_key, sender) = (url?, api_key?, sender?);
        let given = [url.is_some(), api_key.is_some(), !sender.is_empty()];
        if given.iter().all(|g| !g) {
            return Some(None);
        }
        for (name, present) in ["AVIP_SMS_URL", "AVIP_SMS_API_KEY", "AVIP_SMS_SENDER"]
            .into_iter()
            .zip(given)
        {
            if !present {
                self.errors.push((
                    name,
                    "is required with the other AVIP_SMS_ settings".to_owned(),
                ));
            }
        }
        match (url, api_key) {
            (Some(url), Some(api_key)) if !sender.is_empty() => Some(Some(SmsSettings {
                url,
                api_key,
                sender,
            })),
            _ => None,
        }
    }

    fn sla(&mut self) -> Option<Sla> {
        let clock = self.parse("AVIP_SLA_CLOCK", "calendar", |v| {
            v.parse::<ClockKind>().map_err(|e| e.to_string())
        });
        let zone = self.parse("AVIP_HOLIDAY_ZONE", "metropole", |v| {
            v.parse::<HolidayZone>().map_err(|e| e.to_string())
        });
        let stages = [
            self.parse("AVIP_SLA_WARNING", "48h", duration),
            self.parse("AVIP_SLA_BREACH", "72h", duration),
            self.parse("AVIP_SLA_ESCALATION", "96h", duration),
            self.parse("AVIP_SLA_FOLLOW_UP", "60d", duration),
            self.parse("AVIP_SLA_CONTRACT_NOTICE", "30d", duration),
        ];
        let sla_schedule = self.parse("AVIP_SLA_SCHEDULE", "0 * * * * *", schedule);
        let digest = self.parse("AVIP_SLA_DIGEST", "false", boolean);
        let digest_schedule = self.parse("AVIP_DIGEST_SCHEDULE", "0 0 8 * * *", schedule);
        let [Some(w), Some(b), Some(e), Some(f), Some(c)] = stages else {
            return None;
        };
        let policy = match Policy::new(clock?, zone?, [w, b, e, f, c]) {
            Ok(policy) => policy,
            Err(err) => {
                self.errors.push(("AVIP_SLA_WARNING", err.to_string()));
                return None;
            }
        };
        Some(Sla {
            policy,
            schedule: sla_schedule?,
            digest: digest?,
            digest_schedule: digest_schedule?,
        })
    }

    fn delivery(&mut self) -> Option<Delivery> {
        let mail_retry = self.parse("AVIP_MAIL_RETRY", "30s", duration);
        let mail_retry_max = self.parse("AVIP_MAIL_RETRY_MAX", "1h", duration);
        // Standard Webhooks' suggested schedule: 27 h 35 min from the first
        // attempt to the last.
        let webhook_retry = self.parse("AVIP_WEBHOOK_RETRY", "5s,5m,30m,2h,5h,10h,10h", |v| {
            v.split(',')
                .map(|d| duration(d.trim()))
                .collect::<Result<Vec<_>, _>>()
        });
        let mail_lease = self.parse("AVIP_MAIL_LEASE", "5m", duration);
        Some(Delivery {
            mail_retry: mail_retry?,
            mail_retry_max: mail_retry_max?,
            webhook_retry: webhook_retry?,
            mail_lease: mail_lease?,
        })
    }

    fn keeping(&mut self) -> Option<Keeping> {
        let retention = self.parse("AVIP_RETENTION", "730d", duration);
        let retention_schedule = self.parse("AVIP_RETENTION_SCHEDULE", "0 30 3 * * *", schedule);
        let access_log_retention = self.parse("AVIP_ACCESS_LOG_RETENTION", "365d", duration);
        let offer_hold = self.parse("AVIP_OFFER_HOLD", "7d", duration);
        let waiting_review = self.parse("AVIP_WAITING_REVIEW", "30d", |v| {
            duration(v).and_then(|d| {
                if d.is_zero() {
                    Err("must be longer than 0".to_owned())
                } else {
                    Ok(d)
                }
            })
        });
        let pseudonym_key = self.secret("AVIP_PSEUDONYM_KEY", long_secret);
        Some(Keeping {
            retention: retention?,
            retention_schedule: retention_schedule?,
            access_log_retention: access_log_retention?,
            offer_hold: offer_hold?,
            waiting_review: waiting_review?,
            pseudonym_key: pseudonym_key?,
        })
    }

    fn edge(&mut self) -> Option<Edge> {
        let trusted_proxies = self.parse("AVIP_TRUSTED_PROXIES", "", |v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<std::net::IpAddr>()
                        .map_err(|_| format!("{p:?} is not an IP address"))
                })
                .collect()
        });
        let metrics_bind = self.parse("AVIP_METRICS_BIND", "", optional_socket);
        let token_rate_limit = self.parse("AVIP_TOKEN_RATE_LIMIT", "30", per_minute);
        let intake_rate_limit = self.parse("AVIP_INTAKE_RATE_LIMIT", "300", per_minute);
        let exports_per_identity =
            self.parse("AVIP_EXPORTS_PER_IDENTITY", "2", |v| count(v, 1, 64));
        let write_timeout = self.parse("AVIP_WRITE_TIMEOUT", "60s", duration);
        Some(Edge {
            trusted_proxies: trusted_proxies?,
            metrics_bind: metrics_bind?,
            token_rate_limit: token_rate_limit?,
            intake_rate_limit: intake_rate_limit?,
            exports_per_identity: exports_per_identity?,
            write_timeout: write_timeout?,
        })
    }

    /// `Some(None)` when no provider is configured.
    fn oidc(&mut self, env: Option<Environment>) -> Option<Option<OidcSettings>> {
        let issuer = self.parse("AVIP_OIDC_ISSUER", "", optional_issuer);
        let client_id = self.parse("AVIP_OIDC_CLIENT_ID", "", |v| Ok(v.trim().to_owned()));
        let secret = self.secret("AVIP_OIDC_CLIENT_SECRET", |_| Ok(()));
        let scopes = self.parse(
            "AVIP_OIDC_SCOPES",
            "openid email given_name usual_name siret uid",
            |v| {
                let scopes: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
                if scopes.iter().any(|s| s == "openid") && scopes.iter().any(|s| s == "email") {
                    Ok(scopes)
                } else {
                    Err("must include the scopes openid and email".to_owned())
                }
            },
        );
        let (issuer, client_id, secret, scopes) = (issuer?, client_id?, secret?, scopes?);
        let Some(issuer) = issuer else {
            return Some(None);
        };
        if client_id.is_empty() {
            self.errors.push((
                "AVIP_OIDC_CLIENT_ID",
                "is required when AVIP_OIDC_ISSUER is set".to_owned(),
            ));
        }
        if secret.is_none() {
            self.errors.push((
                "AVIP_OIDC_CLIENT_SECRET",
                "is required when AVIP_OIDC_ISSUER is set".to_owned(),
            ));
        }
        if env == Some(Environment::Production) && !issuer.starts_with("https://") {
            self.errors.push((
                "AVIP_OIDC_ISSUER",
                "must be an https:// URL in production".to_owned(),
            ));
        }
        Some(secret.map(|client_secret| OidcSettings {
            issuer,
            client_id,
            client_secret,
            scopes,
        }))
    }

    /// Who publishes the service: required in production, each setting
    /// named when missing; in development a missing one says where to set it.
    fn publisher(&mut self, env: Option<Environment>) -> Option<Publisher> {
        let production = env == Some(Environment::Production);
        let operator_name = self.publisher_text("AVIP_OPERATOR_NAME", production, false);
        let operator_address = self.publisher_text("AVIP_OPERATOR_ADDRESS", production, false);
        let publication_director =
            self.publisher_text("AVIP_PUBLICATION_DIRECTOR", production, false);
        let hosting = self.publisher_text("AVIP_HOSTING", production, false);
        let dpo_email = self.publisher_text("AVIP_DPO_EMAIL", production, true);
        let support_email = self.publisher_text("AVIP_SUPPORT_EMAIL", production, true);
        Some(Publisher {
            operator_name: operator_name?,
            operator_address: operator_address?,
            publication_director: publication_director?,
            hosting: hosting?,
            dpo_email: dpo_email?,
            support_email: support_email?,
        })
    }

    fn publisher_text(
        &mut self,
        name: &'static str,
        production: bool,
        email: bool,
    ) -> Option<String> {
        let value = (self.lookup)(name).unwrap_or_default().trim().to_owned();
        let why = if value.is_empty() {
            if !production {
                return Some(format!("à renseigner ({name})"));
            }
            "is required when AVIP_ENV=production: the legal pages name it"
        } else if value.chars().count() > MAX_PUBLISHER_TEXT {
            "must be at most 500 characters"
        } else if value.chars().any(|c| c.is_control()) {
            "must not hold control characters"
        } else if email && !email_address(&value) {
            "must be an e-mail address"
        } else {
            return Some(value);
        };
        self.errors.push((name, why.to_owned()));
        None
    }

    /// What production refuses: missing or weak secrets, mail in clear to
    /// another machine, long-lived tokens, a public URL without TLS.
    fn production(
        &mut self,
        server: &Option<Server>,
        tokens: &Option<Tokens>,
        mail: &Option<Mail>,
        keeping: &Option<Keeping>,
    ) {
        let jwt_secret = tokens.as_ref().map(|t| &t.jwt_secret);
        let pseudonym_key = keeping.as_ref().map(|k| &k.pseudonym_key);
        let smtp_url = mail.as_ref().map(|m| &m.smtp_url);
        for (name, secret) in [
            ("AVIP_JWT_SECRET", jwt_secret),
            ("AVIP_SMTP_URL", smtp_url),
            ("AVIP_PSEUDONYM_KEY", pseudonym_key),
        ] {
            if secret.is_some_and(Option::is_none) {
                self.errors
                    .push((name, "is required when AVIP_ENV=production".to_owned()));
            }
        }
        for (name, secret) in [
            ("AVIP_JWT_SECRET", jwt_secret),
            ("AVIP_PSEUDONYM_KEY", pseudonym_key),
        ] {
            if let Some(Some(secret)) = secret
                && let Err(message) = strong(secret.expose_secret())
            {
                self.errors.push((name, message));
            }
        }
        if let Some(Some(url)) = smtp_url
            && plaintext_to_another_host(url.expose_secret())
        {
            self.errors.push((
                "AVIP_SMTP_URL",
                "must use TLS in production (smtps://… or ?tls=required) unless the server \
                 is on this machine"
                    .to_owned(),
            ));
        }
        if let Some(Some(sms)) = mail.as_ref().map(|m| &m.sms)
            && sms.url.scheme() != "https"
        {
            self.errors.push((
                "AVIP_SMS_URL",
                "must be an https:// URL in production: it carries the API key and the \
                 families' numbers"
                    .to_owned(),
            ));
        }
        if let Some(t) = tokens
            && t.token_ttl > MAX_PRODUCTION_TOKEN_TTL
        {
            self.errors.push((
                "AVIP_TOKEN_TTL",
                "must be 24h or less in production".to_owned(),
            ));
        }
        if let Some(s) = server
            && s.public_url.scheme() != "https"
        {
            self.errors.push((
                "AVIP_PUBLIC_URL",
                "must be an https:// URL in production".to_owned(),
            ));
        }
    }
}

struct Reader<'a, F: Fn(&str) -> Option<String>> {
    lookup: &'a F,
    errors: Vec<(&'static str, String)>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    /// The variable's value (or its default) parsed; `None` after recording
    /// why it could not be.
    fn parse<T>(
        &mut self,
        name: &'static str,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = (self.lookup)(name).filter(|v| !v.trim().is_empty());
        let value = raw.as_deref().unwrap_or(default).trim();
        match parse(value) {
            Ok(v) => Some(v),
            Err(why) => {
                self.errors.push((name, why));
                None
            }
        }
    }

    /// `Some(None)` when unset; the value itself never enters a message.
    fn secret(
        &mut self,
        name: &'static str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Option<Option<SecretString>> {
        match (self.lookup)(name).filter(|v| !v.trim().is_empty()) {
            None => Some(None),
            Some(value) => match check(value.trim()) {
                Ok(()) => Some(Some(SecretString::from(value.trim().to_owned()))),
                Err(why) => {
                    self.errors.push((name, why));
                    None
                }
            },
        }
    }
}

fn duration(v: &str) -> Result<Duration, String> {
    policy::parse_duration(v).map_err(|e| e.to_string())
}

/// A rate in requests per minute: 1 to a million.
fn per_minute(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{v:?} is not a number of requests per minute (1 to 1000000)"
        )),
    }
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{v:?} is not true or false")),
    }
}

fn random_secret() -> SecretString {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// Who publishes a production service (the legal pages).
    const PUBLISHER: [(&str, &str); 6] = [
        ("AVIP_OPERATOR_NAME", "Communauté d’agglomération Exemple"),
        (
            "AVIP_OPERATOR_ADDRESS",
            "1 place de la Mairie, 83000 Toulon",
        ),
        ("AVIP_PUBLICATION_DIRECTOR", "Camille Martin, présidente"),
        (
            "AVIP_HOSTING",
            "Hébergeur Exemple, 2 rue des Serveurs, 75000 Paris",
        ),
        ("AVIP_DPO_EMAIL", "dpo@example.org"),
        ("AVIP_SUPPORT_EMAIL", "avip@example.org"),
    ];

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&map)
    }

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.env, Environment::Development);
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url, "avip.db");
        assert_eq!(s.db_pool_size, 8);
        assert!(s.jwt_secret_generated);
        assert_eq!(s.jwt_secret.expose_secret().len(), 64);
        assert_eq!(s.token_ttl, Duration::from_secs(3600));
        assert!(s.smtp_url.is_none());
        assert_eq!(s.mail_dir, PathBuf::from("mail-out"));
        assert_eq!(s.sla, Policy::default());
        assert_eq!(s.sla_schedule, "0 * * * * *");
        assert!(!s.sla_digest);
        assert_eq!(s.retention, Duration::from_secs(730 * 86400));
        assert_eq!(s.offer_hold, Duration::from_secs(7 * 86400));
        assert_eq!(s.waiting_review, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn each_wrong_value_is_named() {
        let err = settings(&[
            ("AVIP_SLA_BREACH", "three days"),
            ("AVIP_DB_POOL_SIZE", "0"),
            ("DATABASE_URL", "mysql://x/y"),
            ("AVIP_BIND", "8080"),
            ("AVIP_SLA_CLOCK", "weekdays"),
        ])
        .unwrap_err();
        let names: Vec<_> = err.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "AVIP_BIND",
                "DATABASE_URL",
                "AVIP_DB_POOL_SIZE",
                "AVIP_SLA_CLOCK",
                "AVIP_SLA_BREACH"
            ]
        );
        assert!(
            err.to_string()
                .contains("AVIP_SLA_BREACH: \"three days\" is not a duration"),
            "{err}"
        );
    }

    #[test]
    fn production_refuses_to_start_without_its_secrets() {
        let err = settings(&[("AVIP_ENV", "production")]).unwrap_err();
        let names: Vec<_> = err.0.iter().map(|(n, _)| *n).collect();
        // The default public URL (http://127.0.0.1:8080) is not one either;
        // then who publishes the service, for its legal pages.
        assert_eq!(
            names,
            [
                "AVIP_JWT_SECRET",
                "AVIP_SMTP_URL",
                "AVIP_PSEUDONYM_KEY",
                "AVIP_PUBLIC_URL",
                "AVIP_OPERATOR_NAME",
                "AVIP_OPERATOR_ADDRESS",
                "AVIP_PUBLICATION_DIRECTOR",
                "AVIP_HOSTING",
                "AVIP_DPO_EMAIL",
                "AVIP_SUPPORT_EMAIL",
            ]
        );
        let production = [
            ("AVIP_ENV", "production"),
            ("AVIP_PUBLIC_URL", "https://avip.example.org"),
            ("AVIP_JWT_SECRET", "0123456789abcdef0123456789abcdef-prod"),
            ("AVIP_SMTP_URL", "smtp://mail.example.org:587?tls=required"),
            (
                "AVIP_PSEUDONYM_KEY",
                "fedcba9876543210fedcba9876543210-prod",
            ),
        ];
        let ok = settings(&[&production[..], &PUBLISHER[..]].concat()).unwrap();
        assert_eq!(ok.publisher.dpo_email, "dpo@example.org");
        assert_eq!(ok.publisher.operator_name, PUBLISHER[0].1);
        assert!(ok.sms.is_none());
        let sms = |url: &'static str| {
            [
                ("AVIP_SMS_URL", url),
                ("AVIP_SMS_API_KEY", "xkeysib-secret"),
                ("AVIP_SMS_SENDER", "CrecheAVIP"),
            ]
        };
        let plain = settings(
            &[
                &production[..],
                &PUBLISHER[..],
                &sms("http://sms.example.org")[..],
            ]
            .concat(),
        )
        .unwrap_err();
        assert_eq!(plain.0.len(), 1, "{plain}");
        assert_eq!(plain.0[0].0, "AVIP_SMS_URL");
        let tls = settings(
            &[
                &production[..],
                &PUBLISHER[..],
                &sms("https://api.brevo.com")[..],
            ]
            .concat(),
        )
        .unwrap();
        assert_eq!(tls.sms.map(|s| s.sender).as_deref(), Some("CrecheAVIP"));
    }

    #[test]
    fn sms_settings_come_together() {
        let err = settings(&[("AVIP_SMS_URL", "https://api.brevo.com")]).unwrap_err();
        let names: Vec<_> = err.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["AVIP_SMS_API_KEY", "AVIP_SMS_SENDER"]);
        let err = settings(&[
            ("AVIP_SMS_URL", "https://api.brevo.com"),
            ("AVIP_SMS_API_KEY", "k"),
            ("AVIP_SMS_SENDER", "Crèche AVIP Toulon"),
        ])
        .unwrap_err();
        assert_eq!(err.0[0].0, "AVIP_SMS_SENDER");
        assert!(!format!("{err}").contains("xkeysib"));
    }

    #[test]
    fn who_publishes_the_service_is_checked_and_said_missing_in_development() {
        let dev = settings(&[]).unwrap();
        assert_eq!(
            dev.publisher.operator_name,
            "à renseigner (AVIP_OPERATOR_NAME)"
        );
        for (name, value, why) in [
            (
                "AVIP_DPO_EMAIL",
                "dpo at example.org",
                "must be an e-mail address",
            ),
            (
                "AVIP_SUPPORT_EMAIL",
                "avip@localhost",
                "must be an e-mail address",
            ),
            (
                "AVIP_SUPPORT_EMAIL",
                "a b@example.org",
                "must be an e-mail address",
            ),
            (
                "AVIP_HOSTING",
                "Hébergeur\u{7}",
                "must not hold control characters",
            ),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert_eq!(err.0, [(name, why.to_owned())], "{value}");
        }
        let long = "x".repeat(501);
        let err = settings(&[("AVIP_OPERATOR_ADDRESS", &long)]).unwrap_err();
        assert_eq!(err.0[0].0, "AVIP_OPERATOR_ADDRESS");
    }

    #[test]
    fn an_openid_connect_provider_needs_its_client_and_https_in_production() {
        assert!(
            settings(&[]).unwrap().oidc.is_none(),
            "no provider by default"
        );
        let s = settings(&[
            ("AVIP_OIDC_ISSUER", "http://127.0.0.1:9000/"),
            ("AVIP_OIDC_CLIENT_ID", "avip"),
            ("AVIP_OIDC_CLIENT_SECRET", "s3cret"),
        ])
        .unwrap();
        let oidc = s.oidc.unwrap();
        assert_eq!(
            oidc.issuer, "http://127.0.0.1:9000",
            "without its trailing /"
        );
        assert_eq!(
            oidc.scopes.join(" "),
            "openid email given_name usual_name siret uid"
        );
        let err = settings(&[("AVIP_OIDC_ISSUER", "https://proconnect.example")]).unwrap_err();
        let names: Vec<_> = err.0.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["AVIP_OIDC_CLIENT_ID", "AVIP_OIDC_CLIENT_SECRET"]);
        let err = settings(&[
            ("AVIP_OIDC_ISSUER", "https://proconnect.example"),
            ("AVIP_OIDC_CLIENT_ID", "avip"),
            ("AVIP_OIDC_CLIENT_SECRET", "s3cret"),
            ("AVIP_OIDC_SCOPES", "email siret"),
        ])
        .unwrap_err();
        assert_eq!(err.0[0].0, "AVIP_OIDC_SCOPES");
        let err = settings(&[("AVIP_OIDC_ISSUER", "ftp://x.example")]).unwrap_err();
        assert_eq!(err.0[0].0, "AVIP_OIDC_ISSUER");
        let production = [
            ("AVIP_ENV", "production"),
            ("AVIP_PUBLIC_URL", "https://avip.example.org"),
            (
                "AVIP_JWT_SECRET",
                "Xk3-long-and-varied-production-secret-9Qz!",
            ),
            (
                "AVIP_PSEUDONYM_KEY",
                "Yw7-another-long-varied-production-key-2Lp#",
            ),
            ("AVIP_SMTP_URL", "smtps://mail.example.org"),
            ("AVIP_OIDC_CLIENT_ID", "avip"),
            ("AVIP_OIDC_CLIENT_SECRET", "s3cret"),
        ];
        let production = [&production[..], &PUBLISHER[..]].concat();
        let mut http = production.to_vec();
        http.push(("AVIP_OIDC_ISSUER", "http://proconnect.example"));
        let err = settings(&http).unwrap_err();
        assert_eq!(
            err.0,
            [(
                "AVIP_OIDC_ISSUER",
                "must be an https:// URL in production".to_owned()
            )]
        );
        let mut https = production.to_vec();
        https.push(("AVIP_OIDC_ISSUER", "https://proconnect.example"));
        assert!(settings(&https).unwrap().oidc.is_some());
    }

    #[test]
    fn production_refuses_weak_settings_and_names_each() {
        let base = [
            ("AVIP_ENV", "production"),
            ("AVIP_PUBLIC_URL", "https://avip.example.org"),
            ("AVIP_JWT_SECRET", "0123456789abcdef0123456789abcdef-prod"),
            ("AVIP_SMTP_URL", "smtp://mail.example.org:587?tls=required"),
            (
                "AVIP_PSEUDONYM_KEY",
                "fedcba9876543210fedcba9876543210-prod",
            ),
        ];
        let base = [&base[..], &PUBLISHER[..]].concat();
        let with = |name: &'static str, value: &'static str| {
            let mut vars: Vec<(&str, &str)> =
                base.iter().copied().filter(|(n, _)| *n != name).collect();
            vars.push((name, value));
            settings(&vars)
        };
        for (name, value) in [
            ("AVIP_JWT_SECRET", "abababababababababababababababab"),
            ("AVIP_PSEUDONYM_KEY", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ("AVIP_SMTP_URL", "smtp://mail.example.org:25"),
            (
                "AVIP_SMTP_URL",
                "smtp://mail.example.org:587?tls=opportunistic",
            ),
            ("AVIP_TOKEN_TTL", "3650d"),
            ("AVIP_PUBLIC_URL", "http://avip.example.org"),
        ] {
            let err = with(name, value).unwrap_err();
            let names: Vec<_> = err.0.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, [name], "{value}");
            assert!(
                !err.to_string().contains(value)
                    || name == "AVIP_PUBLIC_URL"
                    || name == "AVIP_TOKEN_TTL"
            );
        }
        // A relay on the same machine may speak plain SMTP; 24 h is allowed.
        assert!(with("AVIP_SMTP_URL", "smtp://localhost:25").is_ok());
        assert!(with("AVIP_TOKEN_TTL", "24h").is_ok());
        assert!(with("AVIP_SMTP_URL", "smtps://mail.example.org:465").is_ok());
        // Development takes anything.
        assert!(settings(&[("AVIP_JWT_SECRET", "abababababababababababababababab")]).is_ok());
    }

    #[test]
    fn secrets_never_appear_in_messages_or_debug_output() {
        let err = settings(&[("AVIP_JWT_SECRET", "short-but-secret")]).unwrap_err();
        assert!(!err.to_string().contains("short-but-secret"));
        let s = settings(&[(
            "AVIP_JWT_SECRET",
            "a-very-long-secret-value-of-forty-characters",
        )])
        .unwrap();
        assert!(!format!("{s:?}").contains("a-very-long-secret"));
    }

    #[test]
    fn stages_out_of_order_are_a_configuration_error() {
        let err = settings(&[("AVIP_SLA_WARNING", "80h")]).unwrap_err();
        assert_eq!(err.0[0].0, "AVIP_SLA_WARNING");
    }
}
