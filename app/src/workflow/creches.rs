//! Crèches: the administrators register them; coordinators read and change
//! their own.

use avip_db::creches::{self, CrecheChanges, CrecheView, NewCreche};
use avip_db::model::{CrecheId, OrganizationId, OrganizationKind, UserId, to_db_time};
use avip_db::page::{Page, PageRequest};
use avip_db::places::{self, CapacityChange};
use avip_db::{DbConnection, organizations};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource, creche_scope};
use crate::auth::Principal;
use crate::domain::{self, DomainError, OpeningHours, Problems};
use crate::workflow::places::MAX_PLACES;
use crate::workflow::{Caller, coordinators};

/// The crèches the caller may see (a coordinator's own; all for admins).
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    page: &PageRequest,
    today: chrono::NaiveDate,
) -> Result<Page<CrecheView>, DomainError> {
    crate::access::require(who, Action::List, Resource::Creche(None))?;
    Ok(creches::list(conn, creche_scope(who), page, today)?)
}

pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    today: chrono::NaiveDate,
) -> Result<CrecheView, DomainError> {
    crate::access::require(who, Action::Read, Resource::Creche(Some(id)))?;
    Ok(creches::get(conn, id, today)?)
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operator_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "name": "Les Petits Pas",
    "address": "12 rue Victor Hugo", "postal_code": "83000", "commune": "Toulon", "avip_places": 6,
    "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
    "escalation_email": "direction.petite-enfance@example.org"}))]
pub struct CreateCreche {
    /// A `creche_operator` organisation.
    #[schema(format = Uuid)]
    pub operator_id: String,
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 300)]
    pub address: String,
    #[schema(max_length = 5)]
    pub postal_code: String,
    #[schema(max_length = 200)]
    pub commune: String,
    pub avip_places: i32,
    pub opening_hours: OpeningHours,
    #[schema(max_length = 254)]
    pub escalation_email: Option<String>,
    /// The crèche's phone, given to the families in their messages; a
    /// French number, stored in E.164.
    #[schema(max_length = 30, example = "04 94 00 00 00")]
    pub phone: Option<String>,
    /// Whether a family that asked for SMS or e-mail gets an
    /// acknowledgment at intake (not a first response).
    #[serde(default)]
    pub auto_acknowledgment: bool,
    /// Coordinators (users of the operator with the coordinator role).
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<uuid::Uuid>)]
    pub coordinator_ids: Vec<String>,
}

#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"avip_places": 8}))]
pub struct UpdateCreche {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 300)]
    pub address: Option<String>,
    #[schema(max_length = 5)]
    pub postal_code: Option<String>,
    #[schema(max_length = 200)]
    pub commune: Option<String>,
    pub avip_places: Option<i32>,
    pub opening_hours: Option<OpeningHours>,
    /// `null` removes it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, max_length = 254)]
    pub escalation_email: Option<Option<String>>,
    /// `null` removes it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, max_length = 30)]
    pub phone: Option<Option<String>>,
    pub auto_acknowledgment: Option<bool>,
    /// Admins only: replaces the crèche's coordinators.
    #[schema(max_items = 100, value_type = Option<Vec<uuid::Uuid>>)]
    pub coordinator_ids: Option<Vec<String>>,
}

fn places(value: i32) -> Result<i32, String> {
    if (0..=MAX_PLACES).contains(&value) {
        Ok(value)
    } else {
        Err(format!("must be between 0 and {MAX_PLACES}"))
    }
}

/// A crèche is run by a `creche_operator` organisation.
fn check_operator(
    conn: &mut DbConnection,
    operator: &OrganizationId,
    problems: &mut Problems,
) -> Result<(), DomainError> {
    match organizations::find(conn, operator)? {
        Some(org) if org.kind == OrganizationKind::CrecheOperator => {}
        Some(_) => problems.push("operator_id", "is not a creche_operator organisation"),
        None => problems.push("operator_id", "no such organisation"),
    }
    Ok(())
}

/// Creates a crèche (shared by the API and `avip admin create-creche`);
/// `by`: the subject claim of who asks, kept with its places.
/// Registers a crèche with its AVIP places from today.
pub fn create(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    body: CreateCreche,
    now: DateTime<Utc>,
) -> Result<CrecheView, DomainError> {
    caller.require(Action::Create, Resource::Creche(None))?;
    let by = caller.claim();
    let Checked {
        operator_id,
        name,
        address,
        postal_code,
        commune,
        avip_places,
        escalation_email,
        phone,
        coordinators,
    } = check_new(conn, &body)?;
    let id = CrecheId::generate();
    let assignment = coordinators::Assignment::Creche {
        id: &id,
        operator: &operator_id.clone(),
        users: &coordinators,
    };
    coordinators::check(conn, &assignment)?;
    let today = paris_date(now);
    let now = to_db_time(now);
    let new = NewCreche {
        id: id.clone(),
        operator_id,
        name,
        address,
        postal_code,
        commune,
        opening_hours: body.opening_hours.to_json(),
        escalation_email,
        phone,
        auto_acknowledgment: body.auto_acknowledgment,
        created_at: now,
        updated_at: now,
    };
    avip_db::write_transaction(conn, |conn| {
        creches::insert(conn, &new, today, avip_places, by)?;
        coordinators::write(conn, &assignment)?;
        Ok(creches::get(conn, &id, today)?)
    })
}

/// A new crèche's fields, each checked.
struct Checked {
    operator_id: OrganizationId,
    name: String,
    address: String,
    postal_code: String,
    commune: String,
    avip_places: i32,
    escalation_email: Option<String>,
    phone: Option<String>,
    coordinators: Vec<UserId>,
}

/// Checks every field of a new crèche, and names each one refused.
fn check_new(conn: &mut DbConnection, body: &CreateCreche) -> Result<Checked, DomainError> {
    let mut problems = Problems::default();
    let operator_id = problems.check(
        "operator_id",
        OrganizationId::parse(&body.operator_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let name = problems.check("name", domain::text(&body.name, 200));
    let address = problems.check("address", domain::text(&body.address, 300));
    let postal_code = problems.check("postal_code", domain::postal_code(&body.postal_code));
    let commune = problems.check("commune", domain::text(&body.commune, 200));
    let avip_places = problems.check("avip_places", places(body.avip_places));
    body.opening_hours.check("opening_hours", &mut problems);
    let escalation_email = match &body.escalation_email {
        None => Some(None),
        Some(e) => problems
            .check("escalation_email", domain::email(e))
            .map(Some),
    };
    let phone = match &body.phone {
        None => Some(None),
        Some(v) => problems
            .check("phone", crate::domain::referral::phone(v))
            .map(Some),
    };
    let coordinators = domain::ids(
        "coordinator_ids",
        &body.coordinator_ids,
        UserId::parse,
        &mut problems,
    );
    if let Some(op) = &operator_id {
        check_operator(conn, op, &mut problems)?;
    }
    problems.into_result()?;
    let missing = || DomainError::Unexpected(anyhow::anyhow!("a checked field is missing"));
    Ok(Checked {
        operator_id: operator_id.ok_or_else(missing)?,
        name: name.ok_or_else(missing)?,
        address: address.ok_or_else(missing)?,
        postal_code: postal_code.ok_or_else(missing)?,
        commune: commune.ok_or_else(missing)?,
        avip_places: avip_places.ok_or_else(missing)?,
        escalation_email: escalation_email.ok_or_else(missing)?,
        phone: phone.ok_or_else(missing)?,
        coordinators,
    })
}

/// Changes a crèche. Its coordinators and its escalation address are the
/// administrators' business; a new number of AVIP places takes effect today.
pub fn update(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &CrecheId,
    body: UpdateCreche,
    now: DateTime<Utc>,
) -> Result<CrecheView, DomainError> {
    caller.require(Action::Update, Resource::Creche(Some(id)))?;
    // Who coordinates a crèche, and whom its late answers escalate to, are
    // the administrators' business: a coordinator cannot silence the alert
    // about its own crèche.
    if body.coordinator_ids.is_some() || body.escalation_email.is_some() {
        caller.require(Action::Administer, Resource::Creche(Some(id)))?;
    }
    let by = caller.claim();
    let today = paris_date(now);
    let mut problems = Problems::default();
    if let Some(hours) = &body.opening_hours {
        hours.check("opening_hours", &mut problems);
    }
    let changes = changes_of(&body, &mut problems, now);
    let avip_places = body
        .avip_places
        .and_then(|v| problems.check("avip_places", places(v)));
    let coordinators = body
        .coordinator_ids
        .as_deref()
        .map(|ids| domain::ids("coordinator_ids", ids, UserId::parse, &mut problems));
    problems.into_result()?;
    let current = creches::get(conn, id, today)?;
    let assignment = coordinators
        .as_deref()
        .map(|users| coordinators::Assignment::Creche {
            id,
            operator: &current.creche.operator_id,
            users,
        });
    if let Some(assignment) = &assignment {
        coordinators::check(conn, assignment)?;
    }
    avip_db::write_transaction(conn, |conn| {
        if let Some(assignment) = &assignment {
            coordinators::write(conn, assignment)?;
        }
        if let Some(avip_places) = avip_places {
            let change = CapacityChange {
                creche_id: id.clone(),
                effective_from: today,
                avip_places,
                recorded_at: to_db_time(now),
                recorded_by: by.clone(),
            };
            places::record_capacity(conn, &change)?;
        }
        Ok(creches::update(conn, id, &changes, today)?)
    })
}

/// The crèche's fields a change names, each checked.
fn changes_of(body: &UpdateCreche, problems: &mut Problems, now: DateTime<Utc>) -> CrecheChanges {
    CrecheChanges {
        name: (body.name.as_deref()).and_then(|v| problems.check("name", domain::text(v, 200))),
        address: (body.address.as_deref())
            .and_then(|v| problems.check("address", domain::text(v, 300))),
        postal_code: (body.postal_code.as_deref())
            .and_then(|v| problems.check("postal_code", domain::postal_code(v))),
        commune: (body.commune.as_deref())
            .and_then(|v| problems.check("commune", domain::text(v, 200))),
        opening_hours: body.opening_hours.as_ref().map(OpeningHours::to_json),
        escalation_email: match &body.escalation_email {
            None => None,
            Some(None) => Some(None),
            Some(Some(e)) => problems
                .check("escalation_email", domain::email(e))
                .map(Some),
        },
        phone: match &body.phone {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => problems
                .check("phone", crate::domain::referral::phone(v))
                .map(Some),
        },
        auto_acknowledgment: body.auto_acknowledgment,
        updated_at: Some(to_db_time(now)),
    }
}

/// The crèches a person works with, by name: a coordinator's own, every
/// crèche of the département for the others.
pub fn names(
    conn: &mut DbConnection,
    who: &Principal,
) -> Result<Vec<avip_db::creches::CrecheName>, DomainError> {
    let mut names = creches::in_departement(conn, &who.departement)?;
    if who.role == avip_db::model::Role::Coordinator {
        names.retain(|c| who.creche_ids.contains(&c.id));
    }
    Ok(names)
}

/// The crèches a prescriber may refer a family to: every crèche of her
/// département.
pub fn of_departement(
    conn: &mut DbConnection,
    who: &Principal,
) -> Result<Vec<avip_db::creches::CrecheName>, DomainError> {
    Ok(creches::in_departement(conn, &who.departement)?)
}

/// The name of a crèche (empty when it is gone).
pub fn name(
    conn: &mut DbConnection,
    id: &CrecheId,
    today: chrono::NaiveDate,
) -> Result<String, DomainError> {
    Ok(creches::find(conn, id, today)?
        .map(|c| c.creche.name)
        .unwrap_or_default())
}
