//! The JSON shapes of the resources (organisations, crèches, people, API
//! clients here; a referral, its timeline and follow-ups in [`referral`]):
//! what the API answers, what the pages read and what `avip admin` prints.

pub mod referral;

use avip_db::api_clients::ApiClient;
use avip_db::creches::CrecheView;
use avip_db::model::{
    ApiClientId, CrecheId, OrganizationId, OrganizationKind, Role, UserId, from_db_time as time,
};
use avip_db::organizations::Organization;
use avip_db::users::User;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::OpeningHours;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "kind": "france_travail",
    "name": "France Travail Toulon Est", "departement": "83",
    "oidc_required": false, "siret": "13000548100010",
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"}))]
pub struct OrganizationBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: String,
    pub departement: String,
    /// Its people sign in through the OpenID Connect provider only.
    pub oidc_required: bool,
    /// Its SIRET, which the provider's `siret` claim must match.
    pub siret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationBody {
    fn from(o: Organization) -> Self {
        OrganizationBody {
            id: o.id,
            kind: o.kind,
            name: o.name,
            departement: o.departement,
            oidc_required: o.oidc_required,
            siret: o.siret,
            created_at: time(o.created_at),
            updated_at: time(o.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "operator_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "name": "Les Petits Pas",
    "address": "12 rue Victor Hugo", "postal_code": "83000", "commune": "Toulon", "departement": "83",
    "avip_places": 6, "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
    "escalation_email": "direction.petite-enfance@example.org",
    "phone": "+33494000000", "auto_acknowledgment": false,
    "coordinator_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000003"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"}))]
pub struct CrecheBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: CrecheId,
    #[schema(value_type = String, format = Uuid)]
    pub operator_id: OrganizationId,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    /// The operator's département.
    pub departement: String,
    /// The AVIP places reserved today; dated changes are under
    /// `/creches/{id}/capacity`.
    pub avip_places: i32,
    pub opening_hours: OpeningHours,
    pub escalation_email: Option<String>,
    /// E.164; the families' messages give it.
    pub phone: Option<String>,
    /// Whether a family that asked for SMS or e-mail is acknowledged at intake.
    pub auto_acknowledgment: bool,
    #[schema(value_type = Vec<String>)]
    pub coordinator_ids: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CrecheView> for CrecheBody {
    fn from(v: CrecheView) -> Self {
        let c = v.creche;
        let opening_hours = serde_json::from_str(&c.opening_hours).unwrap_or(OpeningHours {
            opens: String::new(),
            closes: String::new(),
            days: Vec::new(),
        });
        CrecheBody {
            id: c.id,
            operator_id: c.operator_id,
            name: c.name,
            address: c.address,
            postal_code: c.postal_code,
            commune: c.commune,
            departement: v.departement,
            avip_places: v.avip_places,
            opening_hours,
            escalation_email: c.escalation_email,
            phone: c.phone,
            auto_acknowledgment: c.auto_acknowledgment,
            coordinator_ids: v.coordinator_ids,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "email": "c.martin@example.org",
    "name": "Claire Martin", "role": "coordinator", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "active": true, "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z", "last_login_at": null}))]
pub struct UserBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub active: bool,
    #[schema(value_type = Vec<String>)]
    pub creche_ids: Vec<CrecheId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserBody {
    pub fn new(u: User, creche_ids: Vec<CrecheId>) -> Self {
        UserBody {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            organization_id: u.organization_id,
            active: u.active,
            creche_ids,
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
            last_login_at: u.last_login_at.map(time),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000004", "client_id": "avip_4f1c2e9a7b3d5f60",
    "label": "SI France Travail", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "active": true,
    "created_at": "2026-11-20T09:00:00Z", "last_used_at": null}))]
pub struct ApiClientBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApiClientId,
    pub client_id: String,
    pub label: String,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiClient> for ApiClientBody {
    fn from(c: ApiClient) -> Self {
        ApiClientBody {
            id: c.id,
            client_id: c.client_id,
            label: c.label,
            organization_id: c.organization_id,
            active: c.active,
            created_at: time(c.created_at),
            last_used_at: c.last_used_at.map(time),
        }
    }
}

/// The new client with its secret: shown this once, stored only as a hash.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000004", "client_id": "avip_4f1c2e9a7b3d5f60",
    "client_secret": "9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a39c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3",
    "label": "SI France Travail", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "active": true,
    "created_at": "2026-11-20T09:00:00Z", "last_used_at": null}))]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClientBody,
    pub client_secret: String,
}
