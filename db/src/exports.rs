//! What the evaluation exports read: referrals received in a period, in
//! chunks along the `(received_at, id)` order, with what pseudonymisation
//! and the indicators need. Callers page with the last row of a chunk, so
//! memory holds one chunk whatever the period.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, OrganizationId, OrganizationKind, ReferralId, ReferralStatus};
use crate::referrals::{Enrollment, Family, Referral};
use crate::schema::{
    creches, organizations, referral_children, referral_enrollments, referral_events,
    referral_families, referrals,
};

/// One referral as the exports read it.
#[derive(Clone, Debug)]
pub struct ExportRow {
    pub referral: Referral,
    pub family: Family,
    pub enrollment: Option<Enrollment>,
    /// The first child's birth date (the exports show an age bracket).
    pub first_birth_date: Option<NaiveDate>,
    pub children: i64,
    /// Whether the referral was ever offered a place.
    pub offered: bool,
}

/// Which referrals: received in `[from, before)` (UTC instants), at these
/// crèches (`None`: every crèche).
#[derive(Clone, Debug)]
pub struct ExportScope {
    pub from: NaiveDateTime,
    pub before: NaiveDateTime,
    pub creches: Option<Vec<CrecheId>>,
}

/// The next chunk after `after` (`(received_at, id)` of the last row read).
pub fn chunk(
    conn: &mut DbConnection,
    scope: &ExportScope,
    after: Option<&(NaiveDateTime, ReferralId)>,
    limit: i64,
) -> QueryResult<Vec<ExportRow>> {
    let mut query = referrals::table
        .inner_join(referral_families::table)
        .left_join(referral_enrollments::table)
        .filter(referrals::received_at.ge(scope.from))
        .filter(referrals::received_at.lt(scope.before))
        .select((
            Referral::as_select(),
            Family::as_select(),
            Option::<Enrollment>::as_select(),
        ))
        .order((referrals::received_at, referrals::id))
        .limit(limit)
        .into_boxed();
    if let Some(ids) = &scope.creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    if let Some((at, id)) = after {
        query = query.filter(
            referrals::received_at.gt(*at).or(referrals::received_at
                .eq(*at)
                .and(referrals::id.gt(id.clone()))),
        );
    }
    let rows: Vec<(Referral, Family, Option<Enrollment>)> = query.load(conn)?;
    let ids: Vec<ReferralId> = rows.iter().map(|r| r.0.id.clone()).collect();
    let children: Vec<(ReferralId, i32, NaiveDate)> = referral_children::table
        .filter(referral_children::referral_id.eq_any(ids.clone()))
        .select((
            referral_children::referral_id,
            referral_children::position,
            referral_children::birth_date,
        ))
        .load(conn)?;
    let mut kids: HashMap<ReferralId, (i32, NaiveDate, i64)> = HashMap::new();
    for (id, position, birth) in children {
        let entry = kids.entry(id).or_insert((position, birth, 0));
        if position < entry.0 {
            (entry.0, entry.1) = (position, birth);
        }
        entry.2 += 1;
    }
    let offered: HashSet<ReferralId> = referral_events::table
        .filter(referral_events::referral_id.eq_any(ids))
        .filter(referral_events::to_status.eq(ReferralStatus::Offered))
        .select(referral_events::referral_id)
        .load::<ReferralId>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(referral, family, enrollment)| {
            let k = kids.get(&referral.id);
            ExportRow {
                offered: offered.contains(&referral.id),
                first_birth_date: k.map(|k| k.1),
                children: k.map_or(0, |k| k.2),
                referral,
                family,
                enrollment,
            }
        })
        .collect())
}

/// A crèche as the exports name it.
#[derive(Clone, Debug)]
pub struct CrecheInfo {
    pub id: CrecheId,
    pub name: String,
    pub departement: String,
}

/// Every crèche (a few hundred at most), with its operator's département.
pub fn creches(conn: &mut DbConnection) -> QueryResult<Vec<CrecheInfo>> {
    let rows: Vec<(CrecheId, String, String)> = creches::table
        .inner_join(organizations::table)
        .select((creches::id, creches::name, organizations::departement))
        .order(creches::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, departement)| CrecheInfo {
            id,
            name,
            departement,
        })
        .collect())
}

/// Every organisation's kind and name, by id.
pub fn organizations(
    conn: &mut DbConnection,
) -> QueryResult<HashMap<OrganizationId, (OrganizationKind, String)>> {
    let rows: Vec<(OrganizationId, OrganizationKind, String)> = organizations::table
        .select((organizations::id, organizations::kind, organizations::name))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, k, n)| (id, (k, n))).collect())
}

/// The service's own key `name`: the one stored, or `draw()` stored now.
/// Two processes starting together store one; both read it.
pub fn service_key(
    conn: &mut DbConnection,
    name: &str,
    draw: impl FnOnce() -> String,
    now: NaiveDateTime,
) -> QueryResult<String> {
    use crate::schema::service_keys as sk;
    if let Some(value) = sk::table
        .find(name)
        .select(sk::value)
        .first::<String>(conn)
        .optional()?
    {
        return Ok(value);
    }
    let row = (
        sk::name.eq(name),
        sk::value.eq(draw()),
        sk::created_at.eq(now),
    );
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(sk::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        DbConnection::Sqlite(c) => diesel::insert_into(sk::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }?;
    sk::table.find(name).select(sk::value).first(conn)
}
