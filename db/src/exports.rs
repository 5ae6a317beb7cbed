//! What the evaluation exports read: referrals received in a period, in
//! chunks along the `(received_at, id)` order, with what pseudonymisation
//! and the indicators need. Callers page with the last row of a chunk, so
//! memory holds one chunk whatever the period.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{
    ActorKind, ChildcareSolution, CrecheId, EmploymentStatus, EventId, EventKind, OrganizationId,
    OrganizationKind, OutcomeAt, OutcomeSituation, ReferralId, ReferralStatus,
};
use crate::page::TimeCursor;
use crate::referrals::{Enrollment, Event, Family, Referral};
use crate::schema::{
    creches, evaluation_export_creches, evaluation_exports, organizations, referral_children,
    referral_enrollments, referral_events, referral_families, referrals,
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
    /// Whether its exit was corrected after it was recorded.
    pub exit_corrected: bool,
    /// The parent's situation 3 and 6 months after the exit, as asked.
    pub outcomes: Outcomes,
}

/// The two questions after the exit: each asked or not, and its answer.
pub type Outcomes = [(bool, Option<OutcomeSituation>); 2];

/// Which referrals: received in `[from, before)` (UTC instants), at these
/// crèches (`None`: every crèche).
#[derive(Clone, Debug)]
pub struct ExportScope {
    pub from: NaiveDateTime,
    pub before: NaiveDateTime,
    pub creches: Option<Vec<CrecheId>>,
}

/// Restricts a boxed query on `referrals` to the scope, after the keyset
/// position, in `(received_at, id)` order.
macro_rules! in_scope {
    ($query:expr, $scope:expr, $after:expr, $limit:expr) => {{
        let scope: &ExportScope = $scope;
        let mut query = $query
            .filter(referrals::received_at.ge(scope.from))
            .filter(referrals::received_at.lt(scope.before))
            .order((referrals::received_at, referrals::id))
            .limit($limit);
        if let Some(ids) = &scope.creches {
            // `creche_id || ''`, not `creche_id`: on the bare column SQLite
            // prefers the `(creche_id, status, …)` index and sorts every
            // row of the scope again for each chunk (100,000 rows: 6 s
            // instead of 1.6). On the expression it walks the
            // `(received_at, id)` index in order, stops at the chunk's
            // end, and tests the crèche on the way.
            query = query.filter(referrals::creche_id.concat("").eq_any(ids.clone()));
        }
        if let Some((at, id)) = $after {
            // A row value, which both databases walk the index from; the
            // `a > x OR (a = x AND b > y)` spelling makes PostgreSQL scan
            // from the period's start again for every chunk.
            use diesel::sql_types::{Bool, Text, Timestamp};
            query = query.filter(
                diesel::dsl::sql::<Bool>("(referrals.received_at, referrals.id) > (")
                    .bind::<Timestamp, _>(*at)
                    .sql(", ")
                    .bind::<Text, _>(id.clone())
                    .sql(")"),
            );
        }
        query
    }};
}

/// The next chunk after `after` (`(received_at, id)` of the last row read).
pub fn chunk(
    conn: &mut DbConnection,
    scope: &ExportScope,
    after: Option<&(NaiveDateTime, ReferralId)>,
    limit: i64,
) -> QueryResult<Vec<ExportRow>> {
    let query = in_scope!(
        referrals::table
            .inner_join(referral_families::table)
            .left_join(referral_enrollments::table)
            .select((
                Referral::as_select(),
                Family::as_select(),
                Option::<Enrollment>::as_select(),
            ))
            .into_boxed(),
        scope,
        after,
        limit
    );
    let rows: Vec<(Referral, Family, Option<Enrollment>)> = query.load(conn)?;
    complete(conn, rows)
}

/// The export rows of these referrals (any order).
pub fn rows_of(conn: &mut DbConnection, ids: &[ReferralId]) -> QueryResult<Vec<ExportRow>> {
    let rows: Vec<(Referral, Family, Option<Enrollment>)> = referrals::table
        .inner_join(referral_families::table)
        .left_join(referral_enrollments::table)
        .filter(referrals::id.eq_any(ids.to_vec()))
        .select((
            Referral::as_select(),
            Family::as_select(),
            Option::<Enrollment>::as_select(),
        ))
        .load(conn)?;
    complete(conn, rows)
}

/// Adds the children and offers to loaded rows.
fn complete(
    conn: &mut DbConnection,
    rows: Vec<(Referral, Family, Option<Enrollment>)>,
) -> QueryResult<Vec<ExportRow>> {
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
    let offered = offered(conn, ids.clone())?;
    let corrected = corrected(conn, ids.clone())?;
    let mut outcomes = outcomes_of(conn, ids)?;
    Ok(rows
        .into_iter()
        .map(|(referral, family, enrollment)| {
            let k = kids.get(&referral.id);
            ExportRow {
                offered: offered.contains(&referral.id),
                exit_corrected: corrected.contains(&referral.id),
                outcomes: outcomes.remove(&referral.id).unwrap_or_default(),
                first_birth_date: k.map(|k| k.1),
                children: k.map_or(0, |k| k.2),
                referral,
                family,
                enrollment,
            }
        })
        .collect())
}

/// Which of `ids` were ever offered a place. One indexed lookup per id:
/// a correlated `EXISTS` in the chunk's query makes PostgreSQL hash every
/// offer of the database again for each chunk.
fn offered(conn: &mut DbConnection, ids: Vec<ReferralId>) -> QueryResult<HashSet<ReferralId>> {
    Ok(referral_events::table
        .filter(referral_events::referral_id.eq_any(ids))
        .filter(referral_events::to_status.eq(ReferralStatus::Offered))
        .select(referral_events::referral_id)
        .load::<ReferralId>(conn)?
        .into_iter()
        .collect())
}

/// Which of `ids` had their exit corrected.
fn corrected(conn: &mut DbConnection, ids: Vec<ReferralId>) -> QueryResult<HashSet<ReferralId>> {
    Ok(referral_events::table
        .filter(referral_events::referral_id.eq_any(ids))
        .filter(referral_events::kind.eq(EventKind::ExitCorrected))
        .select(referral_events::referral_id)
        .load::<ReferralId>(conn)?
        .into_iter()
        .collect())
}

/// The questions after the exit of `ids` (those with an exit).
fn outcomes_of(
    conn: &mut DbConnection,
    ids: Vec<ReferralId>,
) -> QueryResult<HashMap<ReferralId, Outcomes>> {
    use crate::schema::exit_outcomes as eo;
    let rows: Vec<(
        ReferralId,
        OutcomeAt,
        Option<NaiveDateTime>,
        Option<OutcomeSituation>,
    )> = eo::table
        .filter(eo::referral_id.eq_any(ids))
        .select((eo::referral_id, eo::at, eo::requested_at, eo::situation))
        .load(conn)?;
    let mut out: HashMap<ReferralId, Outcomes> = HashMap::new();
    for (id, at, requested, situation) in rows {
        let slot = match at {
            OutcomeAt::ThreeMonths => 0,
            OutcomeAt::SixMonths => 1,
        };
        out.entry(id).or_default()[slot] = (requested.is_some() || situation.is_some(), situation);
    }
    Ok(out)
}

/// What the indicators read of one referral: no personal data, no text
/// to decode beyond ids, a third of a full row's cost.
#[derive(Clone, Debug)]
pub struct TallyRow {
    pub id: ReferralId,
    pub received_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub sla_due_at: Option<NaiveDateTime>,
    /// When it was closed (declined, withdrawn, exited), if it is.
    pub closed_at: Option<NaiveDateTime>,
    pub creche_id: CrecheId,
    pub prescriber_organization_id: OrganizationId,
    /// Whether the referral was ever offered a place.
    pub offered: bool,
    /// Whether the child was enrolled.
    pub enrolled: bool,
    pub exit_date: Option<NaiveDate>,
    pub positive_exit: Option<bool>,
    pub childcare_solution: Option<ChildcareSolution>,
    /// The parent's situation at exit.
    pub exit_employment_status: Option<EmploymentStatus>,
    /// The parent's situation 3 and 6 months after the exit, as asked.
    pub outcomes: Outcomes,
}

/// What the indicators read of a referral, joined to its enrollment.
macro_rules! tally_select {
    () => {
        referrals::table
            .left_join(referral_enrollments::table)
            .select((
                referrals::id,
                referrals::received_at,
                referrals::first_response_at,
                referrals::sla_due_at,
                referrals::closed_at,
                referrals::creche_id,
                referrals::prescriber_organization_id,
                referral_enrollments::referral_id.nullable(),
                referral_enrollments::exit_date.nullable(),
                referral_enrollments::positive_exit.nullable(),
                referral_enrollments::childcare_solution.nullable(),
                referral_enrollments::exit_employment_status.nullable(),
            ))
    };
}

type TallyRead = (
    ReferralId,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    CrecheId,
    OrganizationId,
    Option<ReferralId>,
    Option<NaiveDate>,
    Option<bool>,
    Option<ChildcareSolution>,
    Option<EmploymentStatus>,
);

/// The next chunk of [`TallyRow`]s after `after`, in the order of [`chunk`].
pub fn tally_chunk(
    conn: &mut DbConnection,
    scope: &ExportScope,
    after: Option<&(NaiveDateTime, ReferralId)>,
    limit: i64,
) -> QueryResult<Vec<TallyRow>> {
    let rows: Vec<TallyRead> =
        in_scope!(tally_select!().into_boxed(), scope, after, limit).load(conn)?;
    tally_rows_of(conn, rows)
}

/// The [`TallyRow`]s of these referrals (those that exist).
pub fn tally_rows(conn: &mut DbConnection, ids: &[ReferralId]) -> QueryResult<Vec<TallyRow>> {
    let rows: Vec<TallyRead> = tally_select!()
        .filter(referrals::id.eq_any(ids))
        .load(conn)?;
    tally_rows_of(conn, rows)
}

fn tally_rows_of(conn: &mut DbConnection, rows: Vec<TallyRead>) -> QueryResult<Vec<TallyRow>> {
    let offered = offered(conn, rows.iter().map(|r| r.0.clone()).collect())?;
    let exited: Vec<ReferralId> = rows
        .iter()
        .filter(|r| r.8.is_some())
        .map(|r| r.0.clone())
        .collect();
    let mut outcomes = outcomes_of(conn, exited)?;
    Ok(rows
        .into_iter()
        .map(|r| TallyRow {
            offered: offered.contains(&r.0),
            outcomes: outcomes.remove(&r.0).unwrap_or_default(),
            exit_employment_status: r.11,
            id: r.0,
            received_at: r.1,
            first_response_at: r.2,
            sla_due_at: r.3,
            closed_at: r.4,
            creche_id: r.5,
            prescriber_organization_id: r.6,
            enrolled: r.7.is_some(),
            exit_date: r.8,
            positive_exit: r.9,
            childcare_solution: r.10,
        })
        .collect())
}

/// One download of evaluation rows, kept so that the timeline of each
/// referral it included shows it (docs/product.md §2).
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = evaluation_exports)]
pub struct ExportLog {
    pub id: EventId,
    pub exported_at: NaiveDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    /// `csv`, `json` or `xlsx`.
    pub format: String,
    pub received_from: NaiveDateTime,
    pub received_before: NaiveDateTime,
}

/// Records an export of the referrals received in its period at `creches`.
pub fn record_export(
    conn: &mut DbConnection,
    log: &ExportLog,
    creches: &[CrecheId],
) -> QueryResult<()> {
    diesel::insert_into(evaluation_exports::table)
        .values(log)
        .execute(conn)?;
    for creche in creches {
        diesel::insert_into(evaluation_export_creches::table)
            .values((
                evaluation_export_creches::export_id.eq(&log.id),
                evaluation_export_creches::creche_id.eq(creche),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The exports that included `referral` (received in their period, at one
/// of their crèches, before they started), as `exported` timeline events
/// after `after`, in timeline order.
pub fn exported_events(
    conn: &mut DbConnection,
    referral: &Referral,
    after: Option<&TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    let mut query = evaluation_exports::table
        .inner_join(evaluation_export_creches::table)
        .filter(evaluation_export_creches::creche_id.eq(&referral.creche_id))
        .filter(evaluation_exports::received_from.le(referral.received_at))
        .filter(evaluation_exports::received_before.gt(referral.received_at))
        .filter(evaluation_exports::exported_at.ge(referral.received_at))
        .select(ExportLog::as_select())
        .order((evaluation_exports::exported_at, evaluation_exports::id))
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(
            evaluation_exports::exported_at
                .gt(after.at)
                .or(evaluation_exports::exported_at
                    .eq(after.at)
                    .and(evaluation_exports::id.gt(after.id.clone()))),
        );
    }
    Ok(query
        .load(conn)?
        .into_iter()
        .map(|log| Event {
            referral_id: referral.id.clone(),
            kind: EventKind::Exported,
            occurred_at: log.exported_at,
            actor_kind: log.actor_kind,
            actor_id: log.actor_id,
            from_status: None,
            to_status: None,
            reason: None,
            note: None,
            data: Some(
                serde_json::json!({
                    "export_id": log.id,
                    "format": log.format,
                    "received_from": log.received_from.and_utc(),
                    "received_before": log.received_before.and_utc(),
                })
                .to_string(),
            ),
            id: log.id,
        })
        .collect())
}

/// A crèche as the exports name it.
#[derive(Clone, Debug)]
pub struct CrecheInfo {
    pub id: CrecheId,
    pub name: String,
    pub departement: String,
    /// The organisation that runs it (its operator).
    pub operator: OrganizationId,
}

/// Every crèche (a few hundred at most), with its operator's département.
pub fn creches(conn: &mut DbConnection) -> QueryResult<Vec<CrecheInfo>> {
    let rows: Vec<(CrecheId, String, String, OrganizationId)> = creches::table
        .inner_join(organizations::table)
        .select((
            creches::id,
            creches::name,
            organizations::departement,
            creches::operator_id,
        ))
        .order(creches::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, departement, operator)| CrecheInfo {
            id,
            name,
            departement,
            operator,
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

/// The service's own key `name`, if it was drawn.
pub fn stored_service_key(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    use crate::schema::service_keys as sk;
    sk::table
        .find(name)
        .select(sk::value)
        .first::<String>(conn)
        .optional()
}

/// A referral's transfer to another crèche, for the indicators: when the
/// referral was received, by whom it was sent, and the transfer event's
/// `data` (`from_creche_id`, `to_creche_id`).
#[derive(Clone, Debug)]
pub struct TransferRow {
    pub received_at: NaiveDateTime,
    pub prescriber_organization_id: OrganizationId,
    pub data: Option<String>,
}

/// The transfers of the referrals received in `[from, before)`: a few
/// rows, one per transfer (few families change crèche).
pub fn transfers_of_received(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    before: NaiveDateTime,
) -> QueryResult<Vec<TransferRow>> {
    use crate::schema::referral_events;
    let rows: Vec<(NaiveDateTime, OrganizationId, Option<String>)> = referral_events::table
        .inner_join(referrals::table)
        .filter(referral_events::kind.eq(crate::model::EventKind::Transferred))
        .filter(referrals::received_at.ge(from))
        .filter(referrals::received_at.lt(before))
        .select((
            referrals::received_at,
            referrals::prescriber_organization_id,
            referral_events::data,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(received_at, prescriber_organization_id, data)| TransferRow {
                received_at,
                prescriber_organization_id,
                data,
            },
        )
        .collect())
}
