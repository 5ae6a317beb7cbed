//! Referrals: the facts, the family's personal data, the children, the
//! timeline, follow-ups and the enrollment. Callers open the transactions.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{
    ActorKind, ChildId, ChildcareSolution, ContactPreference, CrecheId, EmploymentStatus, EventId,
    EventKind, ExitReason, FollowUpId, OrganizationId, ParentSituation, ProjectKind, ReferralId,
    ReferralStatus, SlaStage,
};
use crate::page::{Page, PageRequest, TimeCursor};
use crate::schema::{
    reference_counters, referral_child_claims, referral_children, referral_enrollments,
    referral_events, referral_families, referral_follow_ups, referral_needs, referrals,
};

/// The facts of a referral: what the evaluation keeps after retention.
#[derive(Queryable, Selectable, Insertable, Identifiable, AsChangeset, Clone, Debug)]
#[diesel(table_name = referrals, treat_none_as_null = true)]
pub struct Referral {
    pub id: ReferralId,
    pub reference: String,
    pub prescriber_organization_id: OrganizationId,
    pub creche_id: CrecheId,
    /// `user:<id>` or `client:<id>`.
    pub created_by: String,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
    pub referent_name: String,
    pub referent_email: String,
    pub referent_phone: Option<String>,
    pub parent_situation: ParentSituation,
    pub single_parent: bool,
    pub qpv_resident: bool,
    pub desired_start_date: Option<NaiveDate>,
    pub days_per_week: Option<i32>,
    pub atypical_hours: bool,
    pub insertion_project_kind: ProjectKind,
    pub consent_given: bool,
    pub consent_date: NaiveDate,
    pub status: ReferralStatus,
    pub received_at: NaiveDateTime,
    pub first_response_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub anonymised_at: Option<NaiveDateTime>,
    pub closing_reason: Option<String>,
    /// The first-response clock: armed and moved by the SLA engine only.
    #[diesel(embed)]
    pub sla: FirstResponseClock,
}

/// The first-response clock's columns on a referral. Only the SLA engine
/// (`avip_sla_engine::lifecycle`, the sweep and a policy change) decides
/// what they hold.
#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug, Default, PartialEq, Eq)]
#[diesel(table_name = referrals, treat_none_as_null = true)]
pub struct FirstResponseClock {
    /// The deadline (the breach stage).
    #[diesel(column_name = sla_due_at)]
    pub due_at: Option<NaiveDateTime>,
    /// The last stage reached.
    #[diesel(column_name = sla_stage)]
    pub stage: Option<SlaStage>,
    #[diesel(column_name = sla_policy_version)]
    pub policy_version: Option<i32>,
    /// When the next stage fires (the sweep's index); `None` once answered.
    #[diesel(column_name = sla_next_at)]
    pub next_at: Option<NaiveDateTime>,
}

/// The family's personal data (blanked by the retention job).
#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = referral_families, primary_key(referral_id), treat_none_as_null = true)]
pub struct Family {
    pub referral_id: ReferralId,
    pub parent_first_name: String,
    pub parent_last_name: String,
    pub parent_phone: Option<String>,
    pub parent_email: Option<String>,
    pub parent_postal_code: String,
    pub parent_commune: String,
    pub france_travail_id: Option<String>,
    pub needs_notes: Option<String>,
    pub insertion_project_description: Option<String>,
    /// Set when the personal data is blanked: the family id the exports
    /// gave, and the first child's age bracket when referred.
    pub pseudonym: Option<String>,
    pub age_bracket: Option<String>,
    /// How the family wants to be reached; `None`: nobody asked, so the
    /// crèche sends it no message.
    pub parent_contact: Option<ContactPreference>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = referral_children)]
pub struct Child {
    pub id: ChildId,
    pub referral_id: ReferralId,
    pub position: i32,
    pub first_name: String,
    pub birth_date: NaiveDate,
}

/// One line of the append-only timeline.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = referral_events)]
pub struct Event {
    pub id: EventId,
    pub referral_id: ReferralId,
    pub kind: EventKind,
    pub occurred_at: NaiveDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub from_status: Option<ReferralStatus>,
    pub to_status: Option<ReferralStatus>,
    pub reason: Option<String>,
    pub note: Option<String>,
    /// JSON details of the event (a follow-up, a contract…).
    pub data: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = referral_follow_ups)]
pub struct FollowUp {
    pub id: FollowUpId,
    pub referral_id: ReferralId,
    pub date: NaiveDate,
    /// JSON array of participants.
    pub participants: String,
    pub employment_status: EmploymentStatus,
    pub next_steps: Option<String>,
    pub next_date: Option<NaiveDate>,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = referral_enrollments, treat_none_as_null = true)]
pub struct Enrollment {
    pub referral_id: ReferralId,
    pub start_date: NaiveDate,
    pub contract_end_date: NaiveDate,
    /// JSON array of weekdays.
    pub days: String,
    pub hours_from: Option<String>,
    pub hours_to: Option<String>,
    pub renewals: i32,
    pub exit_date: Option<NaiveDate>,
    pub exit_reason: Option<ExitReason>,
    pub exit_employment_status: Option<EmploymentStatus>,
    pub positive_exit: Option<bool>,
    pub childcare_solution: Option<ChildcareSolution>,
    pub exit_note: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A referral with everything its responses show.
/// The weekdays a family needs (a mask: Monday 1 … Sunday 64) and the
/// hours, when the prescriber named them.
#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = referral_needs, treat_none_as_null = true)]
pub struct Needs {
    pub referral_id: ReferralId,
    pub days: i32,
    pub hours_from: Option<String>,
    pub hours_to: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ReferralRecord {
    pub referral: Referral,
    pub family: Family,
    pub children: Vec<Child>,
    pub enrollment: Option<Enrollment>,
    /// `None` for a referral that gave a number of days a week only.
    pub needs: Option<Needs>,
    /// An exit recorded ahead of its day, the child still enrolled.
    pub planned_exit: Option<crate::exits::PlannedExit>,
}

/// Everything one intake writes, in the caller's transaction.
#[derive(Debug)]
pub struct NewReferral {
    pub referral: Referral,
    pub family: Family,
    pub children: Vec<Child>,
    pub needs: Option<Needs>,
    /// One digest per child, claimed at the crèche while the referral is active.
    pub child_keys: Vec<String>,
    pub event: Event,
}

/// Draws the next number of a département's year, without gaps: the counter
/// moves in the caller's transaction and rolls back with it.
pub fn next_reference_number(
    conn: &mut DbConnection,
    departement: &str,
    year: i32,
) -> QueryResult<i32> {
    reserve_reference_numbers(conn, departement, year, 1)
}

/// Reserves `n` numbers of a département's year at once (an import's new
/// referrals), without gaps: the first of them.
pub fn reserve_reference_numbers(
    conn: &mut DbConnection,
    departement: &str,
    year: i32,
    n: i32,
) -> QueryResult<i32> {
    use reference_counters as rc;
    let values = (
        rc::departement.eq(departement),
        rc::year.eq(year),
        rc::last_value.eq(n),
    );
    let last: i32 = match conn {
        DbConnection::Pg(c) => diesel::insert_into(rc::table)
            .values(values)
            .on_conflict((rc::departement, rc::year))
            .do_update()
            .set(rc::last_value.eq(rc::last_value + n))
            .returning(rc::last_value)
            .get_result(c),
        DbConnection::Sqlite(c) => diesel::insert_into(rc::table)
            .values(values)
            .on_conflict((rc::departement, rc::year))
            .do_update()
            .set(rc::last_value.eq(rc::last_value + n))
            .returning(rc::last_value)
            .get_result(c),
    }?;
    Ok(last - n + 1)
}

/// The referral a prescriber organisation already posted under this key,
/// with the fingerprint of the request that created it.
pub fn find_by_idempotency_key(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    key: &str,
) -> QueryResult<Option<(ReferralId, Option<String>)>> {
    referrals::table
        .filter(referrals::prescriber_organization_id.eq(organization))
        .filter(referrals::idempotency_key.eq(key))
        .select((referrals::id, referrals::request_fingerprint))
        .first(conn)
        .optional()
}

/// The active referral that already claims one of these children at the crèche.
pub fn find_claim(
    conn: &mut DbConnection,
    creche: &CrecheId,
    child_keys: &[String],
) -> QueryResult<Option<ReferralId>> {
    referral_child_claims::table
        .filter(referral_child_claims::creche_id.eq(creche))
        .filter(referral_child_claims::child_key.eq_any(child_keys))
        .select(referral_child_claims::referral_id)
        .first(conn)
        .optional()
}

/// Frees the children of a closed referral for a new one.
pub fn release_claims(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<usize> {
    diesel::delete(referral_child_claims::table)
        .filter(referral_child_claims::referral_id.eq(referral))
        .execute(conn)
}

pub fn insert(conn: &mut DbConnection, new: &NewReferral) -> QueryResult<()> {
    diesel::insert_into(referrals::table)
        .values(&new.referral)
        .execute(conn)?;
    diesel::insert_into(referral_families::table)
        .values((
            &new.family,
            referral_families::search_text.eq(search_text(&new.family, &new.children)),
        ))
        .execute(conn)?;
    insert_parts(conn, new)
}

/// The children, needs, claims and first event of a referral whose row
/// and family are written.
pub(crate) fn insert_parts(conn: &mut DbConnection, new: &NewReferral) -> QueryResult<()> {
    for child in &new.children {
        diesel::insert_into(referral_children::table)
            .values(child)
            .execute(conn)?;
    }
    if let Some(needs) = &new.needs {
        diesel::insert_into(referral_needs::table)
            .values(needs)
            .execute(conn)?;
    }
    for key in &new.child_keys {
        diesel::insert_into(referral_child_claims::table)
            .values((
                referral_child_claims::creche_id.eq(&new.referral.creche_id),
                referral_child_claims::child_key.eq(key),
                referral_child_claims::referral_id.eq(&new.referral.id),
            ))
            .execute(conn)?;
    }
    insert_event(conn, &new.event)
}

pub fn get_referral(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Referral> {
    referrals::table
        .find(id)
        .select(Referral::as_select())
        .first(conn)
}

/// A referral with its family, children and enrollment: two queries (the
/// one-to-one rows joined, then the children). They run on the backend's
/// own connection, not through `DbConnection`: there a statement is found
/// in the connection's cache by its type, whereas through `DbConnection`
/// its SQL text is written out on every call to look it up (a fifth of the
/// time of `GET /referrals/{id}` on SQLite, BENCHMARKS.md session 10).
/// The parent's name of each of these referrals (first and last), for
/// lists that show the family beside a reference.
pub fn family_names(
    conn: &mut DbConnection,
    ids: &[ReferralId],
) -> QueryResult<std::collections::HashMap<ReferralId, String>> {
    use crate::schema::referral_families as f;
    let rows: Vec<(ReferralId, String, String)> = f::table
        .filter(f::referral_id.eq_any(ids.to_vec()))
        .select((f::referral_id, f::parent_first_name, f::parent_last_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, first, last)| (id, format!("{first} {last}").trim().to_owned()))
        .collect())
}

pub fn get(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<ReferralRecord> {
    macro_rules! read {
        ($c:expr) => {{
            let (referral, family, enrollment, needs, planned_exit) = referrals::table
                .inner_join(referral_families::table)
                .left_join(referral_enrollments::table)
                .left_join(referral_needs::table)
                .left_join(crate::schema::planned_exits::table)
                .filter(referrals::id.eq(id))
                .select((
                    Referral::as_select(),
                    Family::as_select(),
                    Option::<Enrollment>::as_select(),
                    Option::<Needs>::as_select(),
                    Option::<crate::exits::PlannedExit>::as_select(),
                ))
                .first($c)?;
            let children = referral_children::table
                .filter(referral_children::referral_id.eq(id))
                .order(referral_children::position)
                .select(Child::as_select())
                .load($c)?;
            ReferralRecord {
                children,
                enrollment,
                family,
                referral,
                needs,
                planned_exit,
            }
        }};
    }
    Ok(match conn {
        DbConnection::Pg(c) => read!(c),
        DbConnection::Sqlite(c) => read!(c),
    })
}

fn children_of(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Vec<Child>> {
    referral_children::table
        .filter(referral_children::referral_id.eq(id))
        .order(referral_children::position)
        .select(Child::as_select())
        .load(conn)
}

/// The record of a referral row already read: its family, children and
/// enrollment. One referral's family, children and enrollment, by queries whose
/// statements the connection keeps prepared (a list's `IN (…)` is prepared
/// again on every call).
pub fn record(conn: &mut DbConnection, referral: Referral) -> QueryResult<ReferralRecord> {
    let family = referral_families::table
        .find(&referral.id)
        .select(Family::as_select())
        .first(conn)?;
    let children = children_of(conn, &referral.id)?;
    let enrollment = referral_enrollments::table
        .find(&referral.id)
        .select(Enrollment::as_select())
        .first(conn)
        .optional()?;
    let needs = referral_needs::table
        .find(&referral.id)
        .select(Needs::as_select())
        .first(conn)
        .optional()?;
    let planned_exit = crate::exits::of(conn, &referral.id)?;
    Ok(ReferralRecord {
        children,
        enrollment,
        family,
        referral,
        needs,
        planned_exit,
    })
}

/// Adds the family, the children and the enrollment to referral rows.
fn complete(conn: &mut DbConnection, rows: Vec<Referral>) -> QueryResult<Vec<ReferralRecord>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<ReferralId> = rows.iter().map(|r| r.id.clone()).collect();
    let families: Vec<Family> = referral_families::table
        .filter(referral_families::referral_id.eq_any(&ids))
        .select(Family::as_select())
        .load(conn)?;
    let children: Vec<Child> = referral_children::table
        .filter(referral_children::referral_id.eq_any(&ids))
        .order((referral_children::referral_id, referral_children::position))
        .select(Child::as_select())
        .load(conn)?;
    let enrollments: Vec<Enrollment> = referral_enrollments::table
        .filter(referral_enrollments::referral_id.eq_any(&ids))
        .select(Enrollment::as_select())
        .load(conn)?;
    let mut needs: std::collections::HashMap<ReferralId, Needs> = referral_needs::table
        .filter(referral_needs::referral_id.eq_any(&ids))
        .select(Needs::as_select())
        .load::<Needs>(conn)?
        .into_iter()
        .map(|n| (n.referral_id.clone(), n))
        .collect();
    let mut planned: std::collections::HashMap<ReferralId, crate::exits::PlannedExit> =
        crate::exits::of_each(conn, &ids)?
            .into_iter()
            .map(|p| (p.referral_id.clone(), p))
            .collect();
    let mut families: std::collections::HashMap<ReferralId, Family> = families
        .into_iter()
        .map(|f| (f.referral_id.clone(), f))
        .collect();
    let mut enrollments: std::collections::HashMap<ReferralId, Enrollment> = enrollments
        .into_iter()
        .map(|e| (e.referral_id.clone(), e))
        .collect();
    let mut by_referral: std::collections::HashMap<ReferralId, Vec<Child>> =
        std::collections::HashMap::new();
    for child in children {
        by_referral
            .entry(child.referral_id.clone())
            .or_default()
            .push(child);
    }
    rows.into_iter()
        .map(|referral| {
            let family = families
                .remove(&referral.id)
                .ok_or(diesel::result::Error::NotFound)?;
            Ok(ReferralRecord {
                children: by_referral.remove(&referral.id).unwrap_or_default(),
                enrollment: enrollments.remove(&referral.id),
                needs: needs.remove(&referral.id),
                planned_exit: planned.remove(&referral.id),
                family,
                referral,
            })
        })
        .collect()
}

/// Which referrals a list shows. `None` is no restriction.
#[derive(Clone, Debug, Default)]
pub struct ReferralFilter {
    /// The caller's scope: a coordinator's crèches.
    pub within_creches: Option<Vec<CrecheId>>,
    /// The caller's scope: a prescriber's organisation.
    pub within_prescriber: Option<OrganizationId>,
    pub statuses: Vec<ReferralStatus>,
    pub creche_id: Option<CrecheId>,
    pub prescriber_organization_id: Option<OrganizationId>,
    pub received_from: Option<NaiveDateTime>,
    /// Exclusive.
    pub received_before: Option<NaiveDateTime>,
    /// Unanswered referrals whose first-response deadline is before this instant.
    pub overdue_at: Option<NaiveDateTime>,
    /// Inclusive.
    pub updated_after: Option<NaiveDateTime>,
    /// Words found, whatever their case, in the reference, the parent's
    /// first or last name or a child's first name (see [`Search`]).
    pub search: Option<Search>,
    /// The list's order (received, oldest first, unless asked otherwise).
    pub order: ListOrder,
}

/// The order of a list; each has its cursor, so paging neither skips nor
/// repeats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Received, oldest first.
    #[default]
    Received,
    /// Received, newest first.
    ReceivedNewest,
    /// The first-response deadline, soonest first; those without one last.
    Deadline,
    /// The contract's end, soonest first; those without a contract last.
    ContractEnd,
}

/// Where a list without the key puts a row: after every real value.
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

diesel::define_sql_function!(
    /// `COALESCE` of a time: the deadline, or [`last_day`].
    #[sql_name = "COALESCE"]
    fn time_or(x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, y: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp
);

diesel::define_sql_function!(
    /// `COALESCE` of a day: the contract's end, or [`last_day`].
    #[sql_name = "COALESCE"]
    fn day_or(x: diesel::sql_types::Nullable<diesel::sql_types::Date>, y: diesel::sql_types::Date) -> diesel::sql_types::Date
);

/// The deadline key of a row: its first-response deadline, or the last day.
macro_rules! deadline_key {
    () => {
        time_or(
            referrals::sla_due_at,
            last_day().and_time(chrono::NaiveTime::MIN),
        )
    };
}

/// The contract-end key of a row: its contract's end, or the last day.
macro_rules! contract_end_key {
    () => {
        day_or(
            referral_enrollments::table
                .filter(referral_enrollments::referral_id.eq(referrals::id))
                .select(referral_enrollments::contract_end_date)
                .single_value(),
            last_day(),
        )
    };
}

/// A search of the lists: the text as typed, each `%`, `_` and `\` taken
/// literally, its letters folded ([`fold`]).
#[derive(Clone, Debug)]
pub struct Search(String);

impl Search {
    pub fn new(text: &str) -> Search {
        Search(fold(text.trim()))
    }

    /// The `LIKE` pattern (escape `\`) of a text containing the search.
    fn pattern(&self) -> String {
        let mut escaped = String::with_capacity(self.0.len() + 2);
        escaped.push('%');
        for c in self.0.chars() {
            if matches!(c, '%' | '_' | '\\') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        escaped.push('%');
        escaped
    }
}

/// A condition on `referrals`, for a boxed query.
type Condition = Box<
    dyn BoxableExpression<
            referrals::table,
            <DbConnection as diesel::Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        >,
>;

/// The letters a search does not tell from their plain form, in both
/// cases ("Hélène" is found by "helene", "Œuvray" by "oeuvray"); the rest
/// is lowered. One list for the search and for the names it reads.
const FOLDS: &[(&str, &str)] = &[
    ("à", "a"),
    ("À", "a"),
    ("á", "a"),
    ("Á", "a"),
    ("â", "a"),
    ("Â", "a"),
    ("ä", "a"),
    ("Ä", "a"),
    ("ã", "a"),
    ("å", "a"),
    ("ç", "c"),
    ("Ç", "c"),
    ("è", "e"),
    ("È", "e"),
    ("é", "e"),
    ("É", "e"),
    ("ê", "e"),
    ("Ê", "e"),
    ("ë", "e"),
    ("Ë", "e"),
    ("ì", "i"),
    ("í", "i"),
    ("î", "i"),
    ("Î", "i"),
    ("ï", "i"),
    ("Ï", "i"),
    ("ñ", "n"),
    ("Ñ", "n"),
    ("ò", "o"),
    ("ó", "o"),
    ("ô", "o"),
    ("Ô", "o"),
    ("ö", "o"),
    ("Ö", "o"),
    ("õ", "o"),
    ("ù", "u"),
    ("ú", "u"),
    ("û", "u"),
    ("Û", "u"),
    ("ü", "u"),
    ("Ü", "u"),
    ("ý", "y"),
    ("ÿ", "y"),
    ("Ÿ", "y"),
    ("œ", "oe"),
    ("Œ", "oe"),
    ("æ", "ae"),
    ("Æ", "ae"),
];

/// A text as the search compares it: lowered, the accents of [`FOLDS`]
/// taken off.
pub fn fold(text: &str) -> String {
    FOLDS
        .iter()
        .fold(text.to_lowercase(), |t, (from, to)| t.replace(from, to))
}

/// What a search reads of a family (`referral_families.search_text`):
/// the parent's first and last names, then each child's first name on its
/// own line, folded. The migration that added it wrote the same for the
/// families already there.
pub fn search_text(family: &Family, children: &[Child]) -> String {
    let mut text = format!("{} {}\n", family.parent_first_name, family.parent_last_name);
    let mut ordered: Vec<&Child> = children.iter().collect();
    ordered.sort_by_key(|c| c.position);
    text.push_str(
        &ordered
            .iter()
            .map(|c| c.first_name.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    fold(&text)
}

/// The referrals whose reference, parent's name or child's first name
/// contains the search, accents and case aside. The family's text is read
/// for each referral the list walks (by its key), not for every family of
/// every crèche first: the list walks one crèche's referrals.
fn matching(search: &Search) -> Condition {
    let pattern = search.pattern();
    let family = referral_families::table
        .filter(referral_families::referral_id.eq(referrals::id))
        .filter(
            referral_families::search_text
                .like(pattern.clone())
                .escape('\\'),
        );
    Box::new(
        lower(referrals::reference)
            .like(pattern)
            .escape('\\')
            .or(diesel::dsl::exists(family)),
    )
}

/// The referrals after the cursor, in the list's order.
fn beyond(after: TimeCursor, order: ListOrder) -> Condition {
    let id = after.id;
    match order {
        ListOrder::Received => Box::new(
            referrals::received_at
                .gt(after.at)
                .or(referrals::received_at
                    .eq(after.at)
                    .and(referrals::id.gt(id))),
        ),
        ListOrder::ReceivedNewest => Box::new(
            referrals::received_at
                .lt(after.at)
                .or(referrals::received_at
                    .eq(after.at)
                    .and(referrals::id.lt(id))),
        ),
        ListOrder::Deadline => Box::new(
            deadline_key!()
                .gt(after.at)
                .or(deadline_key!().eq(after.at).and(referrals::id.gt(id))),
        ),
        ListOrder::ContractEnd => {
            let day = after.at.date();
            Box::new(
                contract_end_key!()
                    .gt(day)
                    .or(contract_end_key!().eq(day).and(referrals::id.gt(id))),
            )
        }
    }
}

/// A row's place in the list's order, as its cursor says it.
fn position(r: &Referral, contract_end: Option<NaiveDate>, order: ListOrder) -> TimeCursor {
    let at = match order {
        ListOrder::Received | ListOrder::ReceivedNewest => r.received_at,
        ListOrder::Deadline => r
            .sla
            .due_at
            .unwrap_or_else(|| last_day().and_time(chrono::NaiveTime::MIN)),
        ListOrder::ContractEnd => contract_end
            .unwrap_or_else(last_day)
            .and_time(chrono::NaiveTime::MIN),
    };
    TimeCursor {
        at,
        id: r.id.to_string(),
    }
}

diesel::define_sql_function!(
    /// `lower(text)`: both databases lower ASCII letters alike (SQLite
    /// leaves the others as they are).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// A position in the change feed: just after the change numbered `seq` in
/// transaction `xid` (0 on SQLite). Written `<xid>.<seq>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangePosition {
    pub xid: i64,
    pub seq: i64,
}

impl ChangePosition {
    pub fn encode(self) -> String {
        format!("{}.{}", self.xid, self.seq)
    }

    /// Each number has at most 18 digits (the document's pattern): every
    /// such number fits an `i64`, so what the pattern lets through parses.
    pub fn parse(text: &str) -> Option<ChangePosition> {
        let (xid, seq) = text.split_once('.')?;
        let number = |t: &str| {
            (!t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<i64>().ok())
                .flatten()
        };
        Some(ChangePosition {
            xid: number(xid)?,
            seq: number(seq)?,
        })
    }
}

/// A page of the change feed.
pub struct Changes {
    /// Each referral as it is now, in the order of its last change.
    pub items: Vec<ReferralRecord>,
    /// Where the next page starts: after the last item, or where this one
    /// started when it is empty.
    pub next: ChangePosition,
    /// More changes are readable now.
    pub more: bool,
}

/// The oldest transaction id that may still write this database's
/// referrals: every change numbered before it is committed or rolled back.
///
/// Transaction ids are the server's, shared by all its databases, so
/// `pg_snapshot_xmin` alone would wait for transactions of other databases
/// too (another application's, a `pg_dump` of another database), which can
/// never write here. So: the transactions running when a snapshot is taken
/// (first statement), kept only if they belong to this database
/// (`pg_stat_activity` and `pg_prepared_xacts`, read in a later statement:
/// a transaction of the snapshot missing there has ended since, and the
/// feed's own query, later still, sees it). With none, everything before
/// the snapshot's `xmax` is settled. Must run outside a transaction (each
/// statement its own snapshot), as the feed does.
fn change_horizon(c: &mut diesel::PgConnection) -> QueryResult<i64> {
    use diesel::sql_types::{BigInt, Text};
    let snapshot: String =
        diesel::select(diesel::dsl::sql::<Text>("pg_current_snapshot()::text")).get_result(c)?;
    let (xmax, running) = parse_snapshot(&snapshot).ok_or_else(|| {
        diesel::result::Error::DeserializationError(
            format!("unexpected snapshot {snapshot:?}").into(),
        )
    })?;
    if running.is_empty() {
        return Ok(xmax);
    }
    #[derive(QueryableByName)]
    struct Xid {
        #[diesel(sql_type = BigInt)]
        xid: i64,
    }
    let here: Vec<i64> = diesel::sql_query(
        "SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity \
         WHERE datname = current_database() AND backend_xid IS NOT NULL \
         UNION ALL SELECT transaction::text::bigint FROM pg_prepared_xacts \
         WHERE database = current_database()",
    )
    .load::<Xid>(c)?
    .into_iter()
    .map(|x| x.xid)
    .collect();
    Ok(horizon_of(xmax, &running, &here))
}

/// `xmin:xmax:xip,…` (`pg_snapshot`'s text): `xmax` and the running ids.
fn parse_snapshot(text: &str) -> Option<(i64, Vec<i64>)> {
    let mut parts = text.split(':');
    let (_xmin, xmax, xip) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
    let running = xip
        .split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().ok())
        .collect::<Option<Vec<i64>>>()?;
    Some((xmax.parse().ok()?, running))
}

/// The snapshot's oldest running id (64-bit) whose low 32 bits are a
/// transaction of this database (`backend_xid` has no epoch), else `xmax`.
fn horizon_of(xmax: i64, running: &[i64], here: &[i64]) -> i64 {
    running
        .iter()
        .copied()
        .filter(|x| here.contains(&(x & 0xffff_ffff)))
        .min()
        .map_or(xmax, |oldest| oldest.min(xmax))
}

/// The referrals that changed after `after`, in the order of their last
/// change, up to the oldest change that may still be uncommitted (see the
/// `change_feed` migration of each backend): what is returned can no longer
/// be overtaken by a change numbered before it.
pub fn changes(
    conn: &mut DbConnection,
    scope: &ReferralFilter,
    after: ChangePosition,
    limit: i64,
) -> QueryResult<Changes> {
    let horizon: i64 = match conn {
        DbConnection::Pg(c) => change_horizon(c)?,
        // One writer at a time: what a reader sees is committed, in order.
        DbConnection::Sqlite(_) => i64::MAX,
    };
    let mut query = referrals::table
        .select((
            Referral::as_select(),
            referrals::change_xid,
            referrals::change_seq,
        ))
        .filter(referrals::change_xid.lt(horizon))
        .filter(
            referrals::change_xid.gt(after.xid).or(referrals::change_xid
                .eq(after.xid)
                .and(referrals::change_seq.gt(after.seq))),
        )
        .order((referrals::change_xid, referrals::change_seq))
        .limit(limit + 1)
        .into_boxed();
    if let Some(ids) = &scope.within_creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    if let Some(org) = &scope.within_prescriber {
        query = query.filter(referrals::prescriber_organization_id.eq(org.clone()));
    }
    let mut rows: Vec<(Referral, i64, i64)> = query.load(conn)?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(0);
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = rows
        .last()
        .map_or(after, |&(_, xid, seq)| ChangePosition { xid, seq });
    let items = complete(conn, rows.into_iter().map(|(r, _, _)| r).collect())?;
    Ok(Changes { items, next, more })
}

/// Referrals in the order they were received (oldest first), after the
/// cursor: rows that arrive while a client pages come after its cursor, so
/// nothing is skipped or repeated.
pub fn list(
    conn: &mut DbConnection,
    filter: &ReferralFilter,
    page: &PageRequest,
) -> QueryResult<Page<ReferralRecord>> {
    let mut query = referrals::table.select(Referral::as_select()).into_boxed();
    query = match filter.order {
        ListOrder::Received => query.order((referrals::received_at, referrals::id)),
        ListOrder::ReceivedNewest => {
            query.order((referrals::received_at.desc(), referrals::id.desc()))
        }
        ListOrder::Deadline => query.order((deadline_key!(), referrals::id)),
        ListOrder::ContractEnd => query.order((contract_end_key!(), referrals::id)),
    };
    if let Some(search) = &filter.search {
        query = query.filter(matching(search));
    }
    if let Some(ids) = &filter.within_creches {
        // One crèche, said as such: PostgreSQL then walks the crèche's
        // index in the list's order and stops at the page's end, which it
        // does not do for `= ANY(…)` (BENCHMARKS.md, session 21).
        query = match ids.as_slice() {
            [one] => query.filter(referrals::creche_id.eq(one.clone())),
            _ => query.filter(referrals::creche_id.eq_any(ids.clone())),
        };
    }
    if let Some(org) = &filter.within_prescriber {
        query = query.filter(referrals::prescriber_organization_id.eq(org.clone()));
    }
    if !filter.statuses.is_empty() {
        query = query.filter(referrals::status.eq_any(filter.statuses.clone()));
    }
    if let Some(id) = &filter.creche_id {
        query = query.filter(referrals::creche_id.eq(id.clone()));
    }
    if let Some(id) = &filter.prescriber_organization_id {
        query = query.filter(referrals::prescriber_organization_id.eq(id.clone()));
    }
    if let Some(t) = filter.received_from {
        query = query.filter(referrals::received_at.ge(t));
    }
    if let Some(t) = filter.received_before {
        query = query.filter(referrals::received_at.lt(t));
    }
    if let Some(t) = filter.overdue_at {
        query = query
            .filter(referrals::status.eq(ReferralStatus::Received))
            .filter(referrals::sla_due_at.lt(t));
    }
    if let Some(t) = filter.updated_after {
        query = query.filter(referrals::updated_at.ge(t));
    }
    if let Some(after) = page.after.as_deref().and_then(TimeCursor::parse) {
        query = query.filter(beyond(after, filter.order));
    }
    let rows: Vec<Referral> = query.limit(page.limit + 1).load(conn)?;
    let page = Page::from_rows(rows, page.limit, |r| r.id.to_string());
    let items = complete(conn, page.items)?;
    // The cursor is the last row's key in the order asked for.
    let next_cursor = page.next_cursor.and_then(|_| {
        items.last().map(|last| {
            let end = last.enrollment.as_ref().map(|e| e.contract_end_date);
            position(&last.referral, end, filter.order).encode()
        })
    });
    Ok(Page { items, next_cursor })
}

/// A status change, applied only if the referral is still in `from`.
#[derive(Clone, Debug)]
pub struct StatusChange {
    pub from: ReferralStatus,
    pub to: ReferralStatus,
    pub at: NaiveDateTime,
    /// This move is the first response to the family.
    pub first_response: bool,
    pub closing_reason: Option<String>,
    /// Stop the first-response clock (the SLA engine says when).
    pub stop_first_response_clock: bool,
}

#[derive(AsChangeset)]
#[diesel(table_name = referrals)]
struct StatusChangeset<'a> {
    status: ReferralStatus,
    updated_at: NaiveDateTime,
    first_response_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    closing_reason: Option<&'a str>,
    /// `Some(None)` stops the first-response clock.
    sla_next_at: Option<Option<NaiveDateTime>>,
}

/// `Ok(false)` when another request moved the referral first: of two
/// concurrent transitions, exactly one updates the row.
pub fn change_status(
    conn: &mut DbConnection,
    id: &ReferralId,
    change: &StatusChange,
) -> QueryResult<bool> {
    let target = referrals::table
        .filter(referrals::id.eq(id))
        .filter(referrals::status.eq(change.from));
    let updated = diesel::update(target)
        .set(StatusChangeset {
            status: change.to,
            updated_at: change.at,
            first_response_at: change.first_response.then_some(change.at),
            closed_at: change.to.is_closed().then_some(change.at),
            closing_reason: change.closing_reason.as_deref(),
            sla_next_at: change.stop_first_response_clock.then_some(None),
        })
        .execute(conn)?;
    crate::tallies::changed(conn, id)?;
    Ok(updated == 1)
}

/// A referral handed from one crèche to another.
#[derive(Clone, Debug)]
pub struct CrecheChange<'a> {
    pub from: &'a CrecheId,
    pub to: &'a CrecheId,
    /// The statuses it may be in (it is refused in any other).
    pub open: &'a [ReferralStatus],
    pub at: NaiveDateTime,
}

/// Moves a referral to another crèche with its claims on the children,
/// only if it is still at `from` and in one of `open`: `Ok(false)` when
/// another request moved it first. The reference, the family, the needs,
/// the history and the first-response clock stay as they are.
pub fn change_creche(
    conn: &mut DbConnection,
    id: &ReferralId,
    change: &CrecheChange<'_>,
) -> QueryResult<bool> {
    let target = referrals::table
        .filter(referrals::id.eq(id))
        .filter(referrals::creche_id.eq(change.from))
        .filter(referrals::status.eq_any(change.open));
    let updated = diesel::update(target)
        .set((
            referrals::creche_id.eq(change.to),
            referrals::updated_at.eq(change.at),
        ))
        .execute(conn)?;
    if updated == 1 {
        diesel::update(referral_child_claims::table)
            .filter(referral_child_claims::referral_id.eq(id))
            .set(referral_child_claims::creche_id.eq(change.to))
            .execute(conn)?;
        crate::tallies::changed(conn, id)?;
    }
    Ok(updated == 1)
}

/// The child keys a referral claims (at its crèche).
pub fn claimed_keys(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Vec<String>> {
    referral_child_claims::table
        .filter(referral_child_claims::referral_id.eq(id))
        .select(referral_child_claims::child_key)
        .load(conn)
}

/// Marks the referral as changed now (a note, a follow-up…), for pollers.
pub fn touch(conn: &mut DbConnection, id: &ReferralId, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(referrals::table.find(id))
        .set(referrals::updated_at.eq(at))
        .execute(conn)
        .map(drop)
}

pub fn insert_event(conn: &mut DbConnection, event: &Event) -> QueryResult<()> {
    diesel::insert_into(referral_events::table)
        .values(event)
        .execute(conn)?;
    // Every change of a referral is on its timeline: the indicators' sums
    // follow (see `tallies`).
    crate::tallies::changed(conn, &event.referral_id)
}

/// The referral's events of one kind, oldest first.
pub fn events_of_kind(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: EventKind,
) -> QueryResult<Vec<Event>> {
    referral_events::table
        .filter(referral_events::referral_id.eq(referral))
        .filter(referral_events::kind.eq(kind))
        .select(Event::as_select())
        .order((referral_events::occurred_at, referral_events::id))
        .load(conn)
}

/// Records how the family wants to be reached.
pub fn set_contact(
    conn: &mut DbConnection,
    referral: &ReferralId,
    preference: Option<ContactPreference>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(referral_families::table.find(referral))
        .set(referral_families::parent_contact.eq(preference))
        .execute(conn)?;
    diesel::update(referrals::table.find(referral))
        .set(referrals::updated_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// The referral's own events in (time, id) order, after `after`, at most
/// `limit` of them (the timeline merges the exports in, see `timeline`).
pub fn events_after(
    conn: &mut DbConnection,
    referral: &ReferralId,
    after: Option<&TimeCursor>,
    limit: i64,
) -> QueryResult<Vec<Event>> {
    let mut query = referral_events::table
        .filter(referral_events::referral_id.eq(referral))
        .select(Event::as_select())
        .order((referral_events::occurred_at, referral_events::id))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(
            referral_events::occurred_at
                .gt(after.at)
                .or(referral_events::occurred_at
                    .eq(after.at)
                    .and(referral_events::id.gt(after.id.clone()))),
        );
    }
    query.limit(limit).load(conn)
}

pub fn insert_follow_up(conn: &mut DbConnection, follow_up: &FollowUp) -> QueryResult<()> {
    diesel::insert_into(referral_follow_ups::table)
        .values(follow_up)
        .execute(conn)
        .map(drop)
}

/// A page of follow-ups by date (then id); the cursor is the last one's
/// date (at midnight) and id.
pub fn follow_ups(
    conn: &mut DbConnection,
    referral: &ReferralId,
    page: &PageRequest,
) -> QueryResult<Page<FollowUp>> {
    let mut query = referral_follow_ups::table
        .filter(referral_follow_ups::referral_id.eq(referral))
        .order((referral_follow_ups::date, referral_follow_ups::id))
        .select(FollowUp::as_select())
        .into_boxed();
    if let Some(after) = page.after.as_deref().and_then(TimeCursor::parse) {
        let day = after.at.date();
        query = query.filter(
            referral_follow_ups::date
                .gt(day)
                .or(referral_follow_ups::date
                    .eq(day)
                    .and(referral_follow_ups::id.gt(after.id))),
        );
    }
    let rows = query.limit(page.limit + 1).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |f: &FollowUp| {
        TimeCursor {
            at: f.date.and_time(chrono::NaiveTime::MIN),
            id: f.id.to_string(),
        }
        .encode()
    }))
}

pub fn insert_enrollment(conn: &mut DbConnection, enrollment: &Enrollment) -> QueryResult<()> {
    diesel::insert_into(referral_enrollments::table)
        .values(enrollment)
        .execute(conn)?;
    crate::tallies::changed(conn, &enrollment.referral_id)
}

pub fn save_enrollment(conn: &mut DbConnection, enrollment: &Enrollment) -> QueryResult<()> {
    diesel::update(referral_enrollments::table.find(&enrollment.referral_id))
        .set(enrollment)
        .execute(conn)?;
    crate::tallies::changed(conn, &enrollment.referral_id)
}

pub fn enrollment(
    conn: &mut DbConnection,
    referral: &ReferralId,
) -> QueryResult<Option<Enrollment>> {
    referral_enrollments::table
        .find(referral)
        .select(Enrollment::as_select())
        .first(conn)
        .optional()
}

/// How many children the referral is for.
pub fn child_count(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<i64> {
    referral_children::table
        .filter(referral_children::referral_id.eq(referral))
        .count()
        .get_result(conn)
}

/// The weekdays and hours the family needs, when the referral named them.
pub fn needs_of(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Option<Needs>> {
    referral_needs::table
        .find(id)
        .select(Needs::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod horizon_tests {
    use super::*;

    #[test]
    fn only_this_databases_running_transactions_hold_the_feed() {
        assert_eq!(parse_snapshot("740:745:"), Some((745, vec![])));
        assert_eq!(
            parse_snapshot("740:745:740,743"),
            Some((745, vec![740, 743]))
        );
        assert_eq!(parse_snapshot("garbage"), None);
        // 740 runs in another database, 743 here.
        assert_eq!(horizon_of(745, &[740, 743], &[743]), 743);
        // Only other databases' transactions run: nothing is held back.
        assert_eq!(horizon_of(745, &[740, 743], &[]), 745);
        // After a wraparound the ids carry an epoch; backend_xid does not.
        let epoch = 1_i64 << 32;
        assert_eq!(
            horizon_of(epoch + 90, &[epoch + 5, epoch + 7], &[7]),
            epoch + 7
        );
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn a_search_folds_case_and_accents_and_takes_wildcards_literally() {
        for (typed, folded) in [
            ("Hélène", "helene"),
            ("ÉLOÏSE", "eloise"),
            ("Œuvray", "oeuvray"),
            ("François-Noël", "francois-noel"),
            ("plain", "plain"),
        ] {
            assert_eq!(fold(typed), folded, "{typed}");
        }
        assert_eq!(Search::new(" 50%_x\\ ").pattern(), "%50\\%\\_x\\\\%");
        // Every letter the SQL side replaces is folded the same way here.
        for (from, to) in FOLDS {
            assert_eq!(fold(from), *to, "{from}");
        }
    }
}

/// When each of these referrals was last put on the waiting list.
pub fn waitlisted_since(
    conn: &mut DbConnection,
    ids: &[ReferralId],
) -> QueryResult<std::collections::HashMap<ReferralId, NaiveDateTime>> {
    let rows: Vec<(ReferralId, Option<NaiveDateTime>)> = referral_events::table
        .filter(referral_events::referral_id.eq_any(ids))
        .filter(referral_events::to_status.eq(ReferralStatus::Waitlisted))
        .group_by(referral_events::referral_id)
        .select((
            referral_events::referral_id,
            diesel::dsl::max(referral_events::occurred_at),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| Some((id, at?)))
        .collect())
}
