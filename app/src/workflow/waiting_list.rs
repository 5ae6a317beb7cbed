//! One waiting list across crèches (issue 34, point 2): the waitlisted
//! families a coordinator (or an admin) may see, longest waiting first,
//! each with its week and the crèches of the same operator that could take
//! the child now.

use avip_db::DbConnection;
use avip_db::creches::Creche;
use avip_db::model::{CrecheId, ReferralId, ReferralStatus};
use avip_db::page::PageRequest;
use avip_db::referrals::{ListOrder, ReferralFilter, ReferralRecord};
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{DomainError, Weekday};
use crate::workflow::calendar::weekdays;
use crate::workflow::matching::{Wanted, matches};

/// The most families the list shows.
pub const MOST: i64 = 200;

/// A crèche that could take the family now.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Opening {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub name: String,
    pub commune: String,
}

/// A waitlisted family.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"referral_id": "0193a5f2-7c4e-7d1a-9b2c-000000000001",
    "reference": "AVIP-2026-000042", "family": "Amina Benali", "creche_id": "0193a5f2-7c4e-7d1a-9b2c-000000000003",
    "creche_name": "Les Petits Pas", "waitlisted_at": "2026-11-02T09:30:00Z", "days_waiting": 35,
    "days": ["mon", "tue"], "hours": {"from": "08:30", "to": "17:00"},
    "desired_start_date": "2026-12-01", "children": 1,
    "could_take": [{"creche_id": "0193a5f2-7c4e-7d1a-9b2c-000000000004",
        "name": "Les Lucioles", "commune": "Toulon"}]}))]
pub struct WaitingEntry {
    #[schema(value_type = String, format = Uuid)]
    pub referral_id: ReferralId,
    pub reference: String,
    /// The parent's first and last name.
    pub family: String,
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub creche_name: String,
    /// When it was last put on the waiting list.
    pub waitlisted_at: DateTime<Utc>,
    /// Whole days since.
    pub days_waiting: i64,
    /// The weekdays the family needs (empty when the prescriber named none).
    pub days: Vec<Weekday>,
    pub hours: Option<crate::domain::referral::HoursIn>,
    pub desired_start_date: Option<NaiveDate>,
    pub children: usize,
    /// The crèches of the same operator, other than its own, with a place on
    /// every one of the family's days over the next eight weeks from its
    /// start (or today): where a transfer would find room.
    pub could_take: Vec<Opening>,
}

/// The waiting list of `creche` (or of every crèche `who` may see), only
/// the crèches of `departement` when given.
pub fn waiting_list(
    conn: &mut DbConnection,
    who: &Principal,
    (creche, departement): (Option<CrecheId>, Option<&str>),
    zone: HolidayZone,
    now: DateTime<Utc>,
) -> Result<Vec<WaitingEntry>, DomainError> {
    require(who, Action::List, Resource::SlaOverdue)?;
    let filter = ReferralFilter {
        statuses: vec![ReferralStatus::Waitlisted],
        creche_id: creche,
        order: ListOrder::Received,
        ..ReferralFilter::default()
    };
    let first = PageRequest {
        after: None,
        limit: MOST,
    };
    let records = crate::workflow::referrals::list(conn, who, filter, &first)?.items;
    let today = avip_sla_engine::clock::paris_date(now);
    let creches: Vec<(avip_db::creches::Creche, String)> =
        avip_db::creches::all_with_departement(conn)?;
    let ids: Vec<ReferralId> = records.iter().map(|r| r.referral.id.clone()).collect();
    let since = avip_db::referrals::waitlisted_since(conn, &ids)?;
    let mut entries = Vec::new();
    for record in records {
        let r = &record.referral;
        let Some((own, own_departement)) = creches.iter().find(|(c, _)| c.id == r.creche_id) else {
            continue;
        };
        if departement.is_some_and(|d| d != own_departement) {
            continue;
        }
        let at = since.get(&r.id).copied().unwrap_or(r.updated_at);
        let days = record
            .needs
            .as_ref()
            .map(|n| weekdays(n.days))
            .unwrap_or_default();
        let hours = (record.needs.as_ref())
            .and_then(|n| n.hours_from.clone().zip(n.hours_to.clone()))
            .map(|(from, to)| crate::domain::referral::HoursIn { from, to });
        let could_take = room(
            conn,
            who,
            (&record, own, own_departement),
            &days,
            today,
            zone,
        )?;
        let waitlisted_at = avip_db::model::from_db_time(at);
        entries.push(WaitingEntry {
            referral_id: r.id.clone(),
            reference: r.reference.clone(),
            family: format!(
                "{} {}",
                record.family.parent_first_name, record.family.parent_last_name
            )
            .trim()
            .to_owned(),
            creche_id: r.creche_id.clone(),
            creche_name: own.name.clone(),
            waitlisted_at,
            days_waiting: (now - waitlisted_at).num_days(),
            days,
            hours,
            desired_start_date: r.desired_start_date,
            children: record.children.len(),
            could_take,
        });
    }
    entries.sort_by_key(|e| e.waitlisted_at);
    Ok(entries)
}

/// The crèches of `own`'s operator, other than `own`, with a place on each
/// of the family's `days` over eight weeks from its start (or `today`).
fn room(
    conn: &mut DbConnection,
    who: &Principal,
    (record, own, departement): (&ReferralRecord, &Creche, &str),
    days: &[Weekday],
    today: NaiveDate,
    zone: HolidayZone,
) -> Result<Vec<Opening>, DomainError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let needs = record.needs.as_ref();
    let wanted = Wanted {
        departement: departement.to_owned(),
        start: record
            .referral
            .desired_start_date
            .unwrap_or(today)
            .max(today),
        days: days.to_vec(),
        hours: needs.and_then(|n| n.hours_from.clone().zip(n.hours_to.clone())),
        weeks: 8,
        places: i32::try_from(record.children.len()).unwrap_or(1).max(1),
        postal_code: Some(record.family.parent_postal_code.clone()),
        commune: Some(record.family.parent_commune.clone()),
    };
    Ok((matches(conn, who, &wanted, zone)?.into_iter())
        .filter(|m| {
            m.free_on_every_day && m.creche.id != own.id && m.creche.operator_id == own.operator_id
        })
        .map(|m| Opening {
            creche_id: m.creche.id,
            name: m.creche.name,
            commune: m.creche.commune,
        })
        .collect())
}
