//! `avip admin …`: what an administrator does over REST, for scripting, plus
//! the bootstrap of the first administrator. Each command calls the same
//! functions as the API, so the same rules apply.

use avip_db::model::{ApiClientId, CrecheId, OrganizationId, OrganizationKind, Role, UserId};
use chrono::Utc;
use clap::{Args, Subcommand};

use avip_app::auth::TokenKeys;
use avip_app::domain::{DomainError, OpeningHours, Weekday};
use avip_app::settings::Settings;
use avip_app::views::{ApiClientBody, CreatedApiClient, CrecheBody, OrganizationBody, UserBody};
use avip_app::workflow::Caller::Operator;
use avip_app::workflow::api_clients::{self, CreateApiClient};
use avip_app::workflow::creches::{self, CreateCreche, UpdateCreche};
use avip_app::workflow::organizations::{self as orgs, CreateOrganization, UpdateOrganization};
use avip_app::workflow::sign_in::{self, Named};
use avip_app::workflow::users::{self as people, CreateUser, UpdateUser};

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create the admin organisation and a first admin, unless an admin exists.
    Bootstrap {
        #[arg(long)]
        email: String,
        #[arg(long, env = "AVIP_BOOTSTRAP_PASSWORD")]
        password: String,
        #[arg(long, default_value = "Administrateur AVIP")]
        name: String,
    },
    /// Create an organisation; prints it as JSON.
    CreateOrganization {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        departement: String,
    },
    /// Create a crèche; prints it as JSON.
    CreateCreche(NewCreche),
    /// Create a person; prints them as JSON.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        organization_id: String,
        #[arg(long, env = "AVIP_USER_PASSWORD")]
        password: String,
        /// Coordinators: a crèche id (repeat for several).
        #[arg(long = "creche-id")]
        creche_ids: Vec<String>,
    },
    /// Create an API client; prints its client_id and client_secret (shown once).
    CreateApiClient {
        #[arg(long)]
        organization_id: String,
        #[arg(long)]
        label: String,
    },
    /// Change an organisation's name, département, SIRET or whether its
    /// people must sign in through ProConnect; prints it as JSON.
    UpdateOrganization {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        departement: Option<String>,
        /// `true`: its people sign in through the OpenID Connect provider
        /// only; `false`: passwords again.
        #[arg(long)]
        oidc_required: Option<bool>,
        /// Its SIRET (14 digits), which the provider's `siret` must match.
        #[arg(long)]
        siret: Option<String>,
    },
    /// Change a crèche; prints it as JSON. Only the options given change.
    UpdateCreche(CrecheChanges),
    /// Change a person; prints them as JSON. Only the options given change.
    UpdateUser {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// A new password (or the AVIP_USER_PASSWORD variable).
        #[arg(long, env = "AVIP_USER_PASSWORD")]
        password: Option<String>,
        /// Re-enable a disabled account.
        #[arg(long)]
        enable: bool,
        /// Coordinators: replaces their crèches (repeat for several).
        #[arg(long = "creche-id")]
        creche_ids: Option<Vec<String>>,
    },
    /// Disable a person: their tokens stop working at once.
    DisableUser { id: String },
    /// Disable an API client: its tokens stop working at once.
    DisableApiClient { id: String },
    /// Print an access token for a person (by e-mail) or an API client.
    Token {
        #[arg(
            long,
            conflicts_with = "client_id",
            required_unless_present = "client_id"
        )]
        email: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
    },
}

/// `avip admin create-creche`'s options.
#[derive(Args, Debug)]
pub struct NewCreche {
    #[arg(long)]
    pub operator_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub postal_code: String,
    #[arg(long)]
    pub commune: String,
    #[arg(long)]
    pub avip_places: i32,
    #[arg(long, default_value = "07:30")]
    pub opens: String,
    #[arg(long, default_value = "18:30")]
    pub closes: String,
    /// Comma-separated: mon,tue,wed,thu,fri
    #[arg(long, default_value = "mon,tue,wed,thu,fri", value_delimiter = ',')]
    pub days: Vec<String>,
    #[arg(long)]
    pub escalation_email: Option<String>,
}

/// `avip admin update-creche`'s options.
#[derive(Args, Debug)]
pub struct CrecheChanges {
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub address: Option<String>,
    #[arg(long)]
    pub postal_code: Option<String>,
    #[arg(long)]
    pub commune: Option<String>,
    #[arg(long)]
    pub avip_places: Option<i32>,
    /// Opening hours as JSON: {"opens":"07:00","closes":"19:30","days":["mon",…]}
    #[arg(long)]
    pub opening_hours: Option<String>,
    #[arg(long, conflicts_with = "no_escalation_email")]
    pub escalation_email: Option<String>,
    /// Remove the escalation address.
    #[arg(long)]
    pub no_escalation_email: bool,
    /// Replaces the coordinators: a user id (repeat for several).
    #[arg(long = "coordinator-id")]
    pub coordinator_ids: Option<Vec<String>>,
    /// Remove every coordinator.
    #[arg(long, conflicts_with = "coordinator_ids")]
    pub no_coordinators: bool,
}

/// Runs one admin command; what it prints goes to standard output.
pub fn run(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let mut conn = avip_db::connect(&settings.database_url)?;
    let oidc = orgs::OidcConfigured(settings.oidc.is_some());
    avip_db::migrations::run_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot apply migrations: {e}"))?;
    let now = Utc::now();
    let out = match command {
        AdminCommand::Bootstrap {
            email,
            password,
            name,
        } => {
            match explain(people::bootstrap(&mut conn, email, password, name, now))? {
                None => println!("an administrator already exists: nothing was changed"),
                Some((user, org)) => println!(
                    "created the administrator {} ({}) in organisation {org}",
                    user.email, user.id
                ),
            }
            return Ok(());
        }
        AdminCommand::Token { email, client_id } => {
            token(settings, &mut conn, email, client_id, now)?
        }
        command => write(&mut conn, command, oidc, now)?,
    };
    println!("{out}");
    Ok(())
}

/// A command that creates something; the others go to [`change`].
fn write(
    conn: &mut avip_db::DbConnection,
    command: AdminCommand,
    oidc: orgs::OidcConfigured,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<String> {
    Ok(match command {
        AdminCommand::CreateOrganization {
            kind,
            name,
            departement,
        } => {
            let kind = kind
                .parse::<OrganizationKind>()
                .map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
            let command = CreateOrganization {
                kind,
                name,
                departement,
                oidc_required: false,
                siret: None,
            };
            serde_json::to_string_pretty(&OrganizationBody::from(explain(orgs::create(
                conn, Operator, command, oidc, now,
            ))?))?
        }
        AdminCommand::CreateCreche(options) => {
            let body = options.into_body()?;
            serde_json::to_string_pretty(&CrecheBody::from(explain(creches::create(
                conn, Operator, body, now,
            ))?))?
        }
        AdminCommand::CreateUser {
            email,
            name,
            role,
            organization_id,
            password,
            creche_ids,
        } => {
            let role = role
                .parse::<Role>()
                .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let body = CreateUser {
                email,
                name,
                role,
                organization_id,
                password,
                creche_ids,
            };
            let (user, creches) = explain(people::create(conn, Operator, body, now))?;
            serde_json::to_string_pretty(&UserBody::new(user, creches))?
        }
        AdminCommand::CreateApiClient {
            organization_id,
            label,
        } => {
            let created = explain(api_clients::create(
                conn,
                Operator,
                CreateApiClient {
                    organization_id,
                    label,
                },
                now,
            ))?;
            serde_json::to_string_pretty(&CreatedApiClient {
                client: created.client.into(),
                client_secret: created.secret,
            })?
        }
        other => change(conn, other, oidc, now)?,
    })
}

/// A command that changes or disables something.
fn change(
    conn: &mut avip_db::DbConnection,
    command: AdminCommand,
    oidc: orgs::OidcConfigured,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<String> {
    Ok(match command {
        AdminCommand::UpdateOrganization {
            id,
            name,
            departement,
            oidc_required,
            siret,
        } => {
            let id = parse_id(&id, OrganizationId::parse)?;
            let body = UpdateOrganization {
                name,
                departement,
                notification_defaults: None,
                oidc_required,
                siret: siret.map(Some),
            };
            serde_json::to_string_pretty(&OrganizationBody::from(explain(orgs::update(
                conn, Operator, &id, body, oidc, now,
            ))?))?
        }
        AdminCommand::UpdateCreche(changes) => {
            let (id, body) = changes.into_body()?;
            serde_json::to_string_pretty(&CrecheBody::from(explain(creches::update(
                conn, Operator, &id, body, now,
            ))?))?
        }
        AdminCommand::UpdateUser {
            id,
            name,
            email,
            password,
            enable,
            creche_ids,
        } => {
            let id = parse_id(&id, UserId::parse)?;
            let body = UpdateUser {
                name,
                email,
                password,
                active: enable.then_some(true),
                creche_ids,
            };
            let (user, creches) = explain(people::update(conn, Operator, &id, body, now))?;
            serde_json::to_string_pretty(&UserBody::new(user, creches))?
        }
        AdminCommand::DisableUser { id } => {
            let id = parse_id(&id, UserId::parse)?;
            let body = UpdateUser {
                active: Some(false),
                ..UpdateUser::default()
            };
            let (user, creches) = explain(people::update(conn, Operator, &id, body, now))?;
            serde_json::to_string_pretty(&UserBody::new(user, creches))?
        }
        AdminCommand::DisableApiClient { id } => {
            let id = parse_id(&id, ApiClientId::parse)?;
            serde_json::to_string_pretty(&ApiClientBody::from(explain(api_clients::disable(
                conn, Operator, &id, now,
            ))?))?
        }
        other => anyhow::bail!("not a change: {other:?}"),
    })
}

/// An access token for a person or an API client, signed as the service does.
fn token(
    settings: &Settings,
    conn: &mut avip_db::DbConnection,
    email: Option<String>,
    client_id: Option<String>,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<String> {
    if settings.jwt_secret_generated {
        anyhow::bail!(
            "set AVIP_JWT_SECRET (the one the service uses), or the token will not be accepted"
        );
    }
    let (named, unknown) = match (&email, &client_id) {
        (Some(email), _) => (Named::Email(email), "no user with this e-mail"),
        (None, Some(id)) => (Named::ClientId(id), "no API client with this client_id"),
        (None, None) => anyhow::bail!("give --email or --client-id"),
    };
    let (principal, version) = match sign_in::named(conn, named) {
        Err(DomainError::NotFound) => anyhow::bail!(unknown),
        other => explain(other)?,
    }
    .ok_or_else(|| anyhow::anyhow!("this identity is disabled"))?;
    let keys = TokenKeys::from_settings(settings)?;
    keys.issue(
        principal.subject.to_claim(),
        principal.organization_id.to_string(),
        principal.role.to_string(),
        version,
        now,
    )
}

impl NewCreche {
    fn into_body(self) -> anyhow::Result<CreateCreche> {
        let days = self
            .days
            .iter()
            .map(|d| {
                serde_json::from_value::<Weekday>(serde_json::Value::String(d.trim().to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| anyhow::anyhow!("--days: use mon,tue,wed,thu,fri,sat,sun"))?;
        Ok(CreateCreche {
            operator_id: self.operator_id,
            name: self.name,
            address: self.address,
            postal_code: self.postal_code,
            commune: self.commune,
            avip_places: self.avip_places,
            opening_hours: OpeningHours {
                opens: self.opens,
                closes: self.closes,
                days,
            },
            escalation_email: self.escalation_email,
            phone: None,
            auto_acknowledgment: false,
            coordinator_ids: Vec::new(),
        })
    }
}

impl CrecheChanges {
    fn into_body(self) -> anyhow::Result<(CrecheId, UpdateCreche)> {
        let id = parse_id(&self.id, CrecheId::parse)?;
        let opening_hours = self
            .opening_hours
            .map(|raw| serde_json::from_str::<OpeningHours>(&raw))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--opening-hours: {e}"))?;
        let body = UpdateCreche {
            name: self.name,
            address: self.address,
            postal_code: self.postal_code,
            commune: self.commune,
            avip_places: self.avip_places,
            opening_hours,
            escalation_email: if self.no_escalation_email {
                Some(None)
            } else {
                self.escalation_email.map(Some)
            },
            phone: None,
            auto_acknowledgment: None,
            coordinator_ids: if self.no_coordinators {
                Some(Vec::new())
            } else {
                self.coordinator_ids
            },
        };
        Ok((id, body))
    }
}

fn parse_id<T>(raw: &str, parse: impl Fn(&str) -> Option<T>) -> anyhow::Result<T> {
    parse(raw).ok_or_else(|| anyhow::anyhow!("{raw:?} is not an id"))
}

/// A refusal as an operator reads it: the reason and each invalid field.
fn explain<T>(result: Result<T, DomainError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!(e.explain()))
}
