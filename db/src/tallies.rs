//! The indicators' running sums. What a referral settles (received,
//! answered in time or late, offered, enrolled, exited, the situation
//! after) is its *tally*; the tallies are added up per day of reception
//! (Paris), crèche and prescriber in `indicator_days`, in the transaction
//! that changed the referral, so a year of indicators reads a few
//! thousand rows instead of every referral and its timeline.
//!
//! Every write that can change a tally says so ([`changed`]); the
//! outermost [`crate::write_transaction`] adds the changed referrals up
//! again just before it commits, from what the transaction wrote: the
//! order of the writes inside it does not matter. What depends on the
//! clock (an open referral not answered yet, late or still pending) is
//! not in the sums: the indicators count it from the referrals.

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::DbConnection;
use crate::exports::{ExportScope, TallyRow};
use crate::model::{
    ChildcareSolution, CrecheId, EmploymentStatus, OrganizationId, OutcomeSituation, ReferralId,
    ReferralStatus,
};
use crate::schema::{indicator_days, indicator_state, referral_tallies, referrals};

/// The settled counts of one referral, or the sums of a day.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    Queryable,
    QueryableByName,
    Selectable,
    AsChangeset,
)]
#[diesel(table_name = indicator_days)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct Counts {
    pub received: i32,
    pub answered: i32,
    pub within_deadline: i32,
    /// Answered after the deadline, or closed unanswered after it.
    pub late: i32,
    pub offers: i32,
    pub enrollments: i32,
    pub exits: i32,
    pub positive_exits: i32,
    pub lasting_solutions: i32,
    pub exits_in_work: i32,
    pub exits_in_training: i32,
    pub asked_3: i32,
    pub answered_3: i32,
    pub in_work_3: i32,
    pub in_training_3: i32,
    pub asked_6: i32,
    pub answered_6: i32,
    pub in_work_6: i32,
    pub in_training_6: i32,
}

/// The parent's situation some months after the exits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct After {
    pub asked: i32,
    pub answered: i32,
    pub in_work: i32,
    pub in_training: i32,
}

impl Counts {
    /// Adds `other` once (`sign` 1) or takes it away (`sign` -1).
    pub fn add(&mut self, other: &Counts, sign: i32) {
        let mine = self.fields_mut();
        for (a, b) in mine.into_iter().zip(other.fields()) {
            *a += sign * b;
        }
    }

    fn fields(&self) -> [i32; 19] {
        let mut copy = *self;
        copy.fields_mut().map(|f| *f)
    }

    fn fields_mut(&mut self) -> [&mut i32; 19] {
        [
            &mut self.received,
            &mut self.answered,
            &mut self.within_deadline,
            &mut self.late,
            &mut self.offers,
            &mut self.enrollments,
            &mut self.exits,
            &mut self.positive_exits,
            &mut self.lasting_solutions,
            &mut self.exits_in_work,
            &mut self.exits_in_training,
            &mut self.asked_3,
            &mut self.answered_3,
            &mut self.in_work_3,
            &mut self.in_training_3,
            &mut self.asked_6,
            &mut self.answered_6,
            &mut self.in_work_6,
            &mut self.in_training_6,
        ]
    }

    /// At 3 months (`0`) or 6 months (`1`) after the exit.
    pub fn after(&self, at: usize) -> After {
        let [asked, answered, in_work, in_training] = if at == 0 {
            [
                self.asked_3,
                self.answered_3,
                self.in_work_3,
                self.in_training_3,
            ]
        } else {
            [
                self.asked_6,
                self.answered_6,
                self.in_work_6,
                self.in_training_6,
            ]
        };
        After {
            asked,
            answered,
            in_work,
            in_training,
        }
    }
}

/// Work of any kind: a contract, temping, a business created.
pub fn in_work(status: EmploymentStatus) -> bool {
    use EmploymentStatus::*;
    matches!(
        status,
        EmployedFixedTerm | EmployedPermanent | TempWork | BusinessCreation
    )
}

fn situation_in_work(s: OutcomeSituation) -> bool {
    use OutcomeSituation::*;
    matches!(
        s,
        EmployedFixedTerm | EmployedPermanent | TempWork | BusinessCreation
    )
}

/// What one referral settles: its counts, and the seconds it took to be
/// answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub counts: Counts,
    pub seconds: Option<i64>,
}

impl Tally {
    /// The settled part of `r`: everything but an open referral's wait
    /// for its first response, which the clock decides ([`is_waiting`]).
    pub fn of(r: &TallyRow) -> Tally {
        let mut c = Counts {
            received: 1,
            ..Counts::default()
        };
        let seconds = r
            .first_response_at
            .map(|at| (at - r.received_at).num_seconds());
        c.answered = i32::from(seconds.is_some());
        match (r.first_response_at, r.sla_due_at, r.closed_at) {
            (Some(at), Some(due), _) if at <= due => c.within_deadline = 1,
            (Some(_), Some(_), _) => c.late = 1,
            (None, Some(due), Some(closed)) if due <= closed => c.late = 1,
            _ => {}
        }
        c.offers = i32::from(r.offered);
        c.enrollments = i32::from(r.enrolled);
        if r.enrolled && r.exit_date.is_some() {
            c.exits = 1;
            c.positive_exits = i32::from(r.positive_exit == Some(true));
            c.lasting_solutions = i32::from(
                r.childcare_solution
                    .is_some_and(|s| s != ChildcareSolution::None),
            );
            c.exits_in_work = i32::from(r.exit_employment_status.is_some_and(in_work));
            c.exits_in_training =
                i32::from(r.exit_employment_status == Some(EmploymentStatus::Training));
            let [(asked_3, answer_3), (asked_6, answer_6)] = r.outcomes;
            let work = |a: Option<OutcomeSituation>| i32::from(a.is_some_and(situation_in_work));
            let training = |a| i32::from(a == Some(OutcomeSituation::Training));
            (c.asked_3, c.answered_3) = (i32::from(asked_3), i32::from(answer_3.is_some()));
            (c.in_work_3, c.in_training_3) = (work(answer_3), training(answer_3));
            (c.asked_6, c.answered_6) = (i32::from(asked_6), i32::from(answer_6.is_some()));
            (c.in_work_6, c.in_training_6) = (work(answer_6), training(answer_6));
        }
        Tally { counts: c, seconds }
    }
}

/// Whether `r` is open and waits for its first response: late or pending
/// depending on the clock, so not in the sums.
pub fn is_waiting(r: &TallyRow) -> bool {
    r.first_response_at.is_none() && r.closed_at.is_none() && r.sla_due_at.is_some()
}

/// The day of reception, in Paris.
pub fn paris_day(received_at: NaiveDateTime) -> NaiveDate {
    Utc.from_utc_datetime(&received_at)
        .with_timezone(&chrono_tz::Europe::Paris)
        .date_naive()
}

thread_local! {
    /// The referrals the outermost write transaction on this thread
    /// changed; `None` outside one.
    static CHANGED: RefCell<Option<BTreeSet<ReferralId>>> = const { RefCell::new(None) };
}

/// Collects the referrals a write transaction changes, for as long as it
/// lives (an error or a panic drops what it collected).
pub(crate) struct Collecting;

impl Collecting {
    pub(crate) fn start() -> Collecting {
        CHANGED.with(|c| *c.borrow_mut() = Some(BTreeSet::new()));
        Collecting
    }

    /// Adds up the changed referrals again, inside the transaction.
    pub(crate) fn flush(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let changed = CHANGED.with(|c| c.borrow_mut().as_mut().map(std::mem::take));
        let ids: Vec<ReferralId> = changed.unwrap_or_default().into_iter().collect();
        for part in ids.chunks(500) {
            refresh(conn, part)?;
        }
        Ok(())
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        CHANGED.with(|c| *c.borrow_mut() = None);
    }
}

/// Says that `id`'s tally may have changed: added up again when the write
/// transaction commits, or at once outside one.
pub fn changed(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<()> {
    let deferred = CHANGED.with(|c| {
        c.borrow_mut()
            .as_mut()
            .map(|set| set.insert(id.clone()))
            .is_some()
    });
    if deferred {
        Ok(())
    } else {
        crate::write_transaction(conn, |conn| refresh(conn, std::slice::from_ref(id)))
    }
}

/// What a referral added, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    day: NaiveDate,
    creche_id: CrecheId,
    prescriber_organization_id: OrganizationId,
    tally: Tally,
}

impl Stored {
    fn key(&self) -> DayKey {
        (
            self.day,
            self.creche_id.clone(),
            self.prescriber_organization_id.clone(),
        )
    }

    fn row(&self, id: &ReferralId) -> TallyInsert {
        (
            referral_tallies::referral_id.eq(id.clone()),
            referral_tallies::day.eq(self.day),
            referral_tallies::creche_id.eq(self.creche_id.clone()),
            referral_tallies::prescriber_organization_id
                .eq(self.prescriber_organization_id.clone()),
            referral_tallies::tally.eq(serde_json::to_string(&self.tally).unwrap_or_default()),
        )
    }

    fn of(r: &TallyRow) -> Stored {
        Stored {
            day: paris_day(r.received_at),
            creche_id: r.creche_id.clone(),
            prescriber_organization_id: r.prescriber_organization_id.clone(),
            tally: Tally::of(r),
        }
    }
}

type DayKey = (NaiveDate, CrecheId, OrganizationId);

/// One row of `referral_tallies`, to insert.
type TallyInsert = (
    diesel::dsl::Eq<referral_tallies::referral_id, ReferralId>,
    diesel::dsl::Eq<referral_tallies::day, NaiveDate>,
    diesel::dsl::Eq<referral_tallies::creche_id, CrecheId>,
    diesel::dsl::Eq<referral_tallies::prescriber_organization_id, OrganizationId>,
    diesel::dsl::Eq<referral_tallies::tally, String>,
);

/// What a transaction changes in one day's sums.
#[derive(Default)]
struct Delta {
    counts: Counts,
    added: Vec<i64>,
    removed: Vec<i64>,
}

/// Takes the old tallies of `ids` away from their days and adds the new
/// ones. On PostgreSQL the referrals' stored tallies are locked first (in
/// id order), then the days' rows (in key order): two transactions on one
/// referral add up one after the other, each from what the other
/// committed, and two on several referrals cannot wait for each other.
fn refresh(conn: &mut DbConnection, ids: &[ReferralId]) -> QueryResult<()> {
    type Read = (ReferralId, NaiveDate, CrecheId, OrganizationId, String);
    macro_rules! stored {
        () => {
            referral_tallies::table
                .filter(referral_tallies::referral_id.eq_any(ids))
                .order(referral_tallies::referral_id)
                .select((
                    referral_tallies::referral_id,
                    referral_tallies::day,
                    referral_tallies::creche_id,
                    referral_tallies::prescriber_organization_id,
                    referral_tallies::tally,
                ))
        };
    }
    let old: Vec<Read> = match conn {
        DbConnection::Pg(c) => stored!().for_update().load(c)?,
        DbConnection::Sqlite(c) => stored!().load(c)?,
    };
    let mut old: std::collections::HashMap<ReferralId, Stored> = old
        .into_iter()
        .map(|(id, day, creche_id, prescriber_organization_id, tally)| {
            let tally = serde_json::from_str(&tally).unwrap_or_default();
            (
                id,
                Stored {
                    day,
                    creche_id,
                    prescriber_organization_id,
                    tally,
                },
            )
        })
        .collect();
    let mut deltas: std::collections::BTreeMap<DayKey, Delta> = Default::default();
    let mut move_by = |s: &Stored, sign: i32| {
        let delta = deltas.entry(s.key()).or_default();
        delta.counts.add(&s.tally.counts, sign);
        let list = if sign > 0 {
            &mut delta.added
        } else {
            &mut delta.removed
        };
        list.extend(s.tally.seconds);
    };
    for r in crate::exports::tally_rows(conn, ids)? {
        let new = Stored::of(&r);
        match old.remove(&r.id) {
            Some(old) if old == new => continue,
            Some(old) => move_by(&old, -1),
            None => {}
        }
        move_by(&new, 1);
        diesel::delete(referral_tallies::table.find(&r.id)).execute(conn)?;
        diesel::insert_into(referral_tallies::table)
            .values(new.row(&r.id))
            .execute(conn)?;
    }
    // Stored tallies of referrals that are gone.
    for (id, old) in old {
        move_by(&old, -1);
        diesel::delete(referral_tallies::table.find(&id)).execute(conn)?;
    }
    for (key, delta) in deltas {
        add_to_day(conn, &key, delta)?;
    }
    Ok(())
}

/// Adds a day's delta to its row, the row locked on PostgreSQL while it is
/// read and written.
fn add_to_day(conn: &mut DbConnection, key: &DayKey, delta: Delta) -> QueryResult<()> {
    use indicator_days as d;
    let (day, creche, org) = key;
    let new_row = (
        d::day.eq(day),
        d::creche_id.eq(creche),
        d::prescriber_organization_id.eq(org),
    );
    macro_rules! target {
        () => {
            d::table
                .filter(d::day.eq(day))
                .filter(d::creche_id.eq(creche))
                .filter(d::prescriber_organization_id.eq(org))
        };
    }
    let (mut counts, seconds): (Counts, String) = match conn {
        DbConnection::Pg(c) => {
            diesel::insert_into(d::table)
                .values(new_row)
                .on_conflict_do_nothing()
                .execute(c)?;
            target!()
                .select((Counts::as_select(), d::response_seconds))
                .for_update()
                .first(c)?
        }
        DbConnection::Sqlite(c) => {
            diesel::insert_into(d::table)
                .values(new_row)
                .on_conflict_do_nothing()
                .execute(c)?;
            target!()
                .select((Counts::as_select(), d::response_seconds))
                .first(c)?
        }
    };
    counts.add(&delta.counts, 1);
    let mut list = parse_seconds(&seconds);
    for value in delta.removed {
        let at = list.partition_point(|v| *v < value);
        if list.get(at) == Some(&value) {
            list.remove(at);
        }
    }
    for value in delta.added {
        let at = list.partition_point(|v| *v < value);
        list.insert(at, value);
    }
    // A day whose referrals all moved away keeps its row of zeros: a
    // transaction waiting to lock it finds it still there.
    diesel::update(target!())
        .set((&counts, d::response_seconds.eq(join_seconds(&list))))
        .execute(conn)?;
    Ok(())
}

fn parse_seconds(list: &str) -> Vec<i64> {
    list.split_ascii_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

fn join_seconds(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the sums hold every referral (see the migration).
pub fn is_built(conn: &mut DbConnection) -> QueryResult<bool> {
    Ok(indicator_state::table
        .select(indicator_state::id)
        .first::<i32>(conn)
        .optional()?
        .is_some())
}

/// Adds every referral up again from scratch, in one transaction: after
/// an upgrade, or when an operator asks (`avip indicators rebuild`).
/// Returns the number of referrals counted. On PostgreSQL the tallies are
/// locked meanwhile, so a write waits and adds itself to the new sums.
pub fn rebuild(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    crate::write_transaction(conn, |conn| {
        if let DbConnection::Pg(c) = conn {
            diesel::sql_query("LOCK TABLE referral_tallies, indicator_days IN EXCLUSIVE MODE")
                .execute(c)?;
        }
        diesel::delete(referral_tallies::table).execute(conn)?;
        diesel::delete(indicator_days::table).execute(conn)?;
        diesel::delete(indicator_state::table).execute(conn)?;
        // Bounds both databases compare as instants (SQLite compares the
        // text: not chrono's MIN and MAX, whose years have signs).
        let instant = |y| {
            NaiveDate::from_ymd_opt(y, 1, 1)
                .unwrap_or_default()
                .and_time(Default::default())
        };
        let everything = ExportScope {
            from: instant(1900),
            before: instant(9999),
            creches: None,
        };
        let mut days: std::collections::BTreeMap<DayKey, Day> = Default::default();
        let mut after: Option<(NaiveDateTime, ReferralId)> = None;
        let mut counted = 0;
        loop {
            let chunk = crate::exports::tally_chunk(conn, &everything, after.as_ref(), 1000)?;
            let Some(last) = chunk.last() else { break };
            after = Some((last.received_at, last.id.clone()));
            counted += chunk.len();
            let mut rows = Vec::with_capacity(chunk.len());
            for r in &chunk {
                let s = Stored::of(r);
                let day = days.entry(s.key()).or_default();
                day.counts.add(&s.tally.counts, 1);
                day.seconds.extend(s.tally.seconds);
                rows.push(s.row(&r.id));
            }
            for part in rows.chunks(200) {
                let insert = diesel::insert_into(referral_tallies::table).values(part);
                match conn {
                    DbConnection::Pg(c) => insert.execute(c)?,
                    DbConnection::Sqlite(c) => insert.execute(c)?,
                };
            }
        }
        write_days(conn, days)?;
        diesel::insert_into(indicator_state::table)
            .values((indicator_state::id.eq(1), indicator_state::built_at.eq(now)))
            .execute(conn)?;
        Ok(counted)
    })
}

/// One day's sums while they are added up.
#[derive(Default)]
struct Day {
    counts: Counts,
    seconds: Vec<i64>,
}

fn write_days(
    conn: &mut DbConnection,
    days: std::collections::BTreeMap<DayKey, Day>,
) -> QueryResult<()> {
    use indicator_days as d;
    for ((day, creche, org), mut sums) in days {
        sums.seconds.sort_unstable();
        let list = join_seconds(&sums.seconds);
        diesel::insert_into(d::table)
            .values((
                d::day.eq(day),
                d::creche_id.eq(&creche),
                d::prescriber_organization_id.eq(&org),
                d::response_seconds.eq(list),
            ))
            .execute(conn)?;
        diesel::update(
            d::table
                .filter(d::day.eq(day))
                .filter(d::creche_id.eq(&creche))
                .filter(d::prescriber_organization_id.eq(&org)),
        )
        .set(&sums.counts)
        .execute(conn)?;
    }
    Ok(())
}

/// Sums of the referrals received in one month (Paris), at one crèche,
/// from one prescriber, as the indicators read them. Several rows may share
/// a key: the caller adds them up.
#[derive(Clone, Debug)]
pub struct MonthSums {
    /// The first day of the month.
    pub month: NaiveDate,
    pub creche_id: CrecheId,
    pub prescriber_organization_id: OrganizationId,
    pub counts: Counts,
    /// The seconds to the first response of the answered referrals.
    pub seconds: Vec<i64>,
}

/// The first day of `day`'s month.
fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The sums of the days `[from, to]` at these crèches, by month. SQLite
/// reads its day rows in-process and sends each one (its month named);
/// PostgreSQL adds the days of a month up before they travel, since the
/// cost there is in the rows sent and decoded (BENCHMARKS.md, session 20).
pub fn months(
    conn: &mut DbConnection,
    (from, to): (NaiveDate, NaiveDate),
    creches: &[CrecheId],
) -> QueryResult<Vec<MonthSums>> {
    use indicator_days as d;
    if let DbConnection::Pg(pg) = conn {
        return months_in_postgres(pg, (from, to), creches);
    }
    let rows: Vec<(NaiveDate, CrecheId, OrganizationId, Counts, String)> = d::table
        .filter(d::day.ge(from))
        .filter(d::day.le(to))
        .filter(d::creche_id.eq_any(creches))
        .filter(d::received.gt(0))
        .select((
            d::day,
            d::creche_id,
            d::prescriber_organization_id,
            Counts::as_select(),
            d::response_seconds,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(day, creche_id, prescriber_organization_id, counts, list)| MonthSums {
                month: month_of(day),
                creche_id,
                prescriber_organization_id,
                counts,
                seconds: parse_seconds(&list),
            },
        )
        .collect())
}

/// The names of the counts' columns, in [`Counts`]' order.
const COUNT_COLUMNS: [&str; 19] = [
    "received",
    "answered",
    "within_deadline",
    "late",
    "offers",
    "enrollments",
    "exits",
    "positive_exits",
    "lasting_solutions",
    "exits_in_work",
    "exits_in_training",
    "asked_3",
    "answered_3",
    "in_work_3",
    "in_training_3",
    "asked_6",
    "answered_6",
    "in_work_6",
    "in_training_6",
];

/// The key PostgreSQL's grouped reads answer by: the month (its first
/// day), the crèche, the prescriber.
#[derive(QueryableByName)]
struct MonthGroup {
    #[diesel(sql_type = diesel::sql_types::Date)]
    month: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Text)]
    creche_id: CrecheId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    prescriber_organization_id: OrganizationId,
}

fn months_in_postgres(
    conn: &mut diesel::PgConnection,
    (from, to): (NaiveDate, NaiveDate),
    creches: &[CrecheId],
) -> QueryResult<Vec<MonthSums>> {
    use diesel::sql_types::{Array, Date, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        group: MonthGroup,
        #[diesel(embed)]
        counts: Counts,
        #[diesel(sql_type = Text)]
        response_seconds: String,
    }
    let sums = COUNT_COLUMNS
        .iter()
        .map(|c| format!("SUM({c})::int4 AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT date_trunc('month', day)::date AS month, creche_id, \
         prescriber_organization_id, {sums}, \
         string_agg(response_seconds, ' ') AS response_seconds \
         FROM indicator_days \
         WHERE day >= $1 AND day <= $2 AND creche_id = ANY($3) AND received > 0 \
         GROUP BY 1, 2, 3"
    );
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .bind::<Array<Text>, _>(creches)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| MonthSums {
            month: r.group.month,
            creche_id: r.group.creche_id,
            prescriber_organization_id: r.group.prescriber_organization_id,
            counts: r.counts,
            seconds: parse_seconds(&r.response_seconds),
        })
        .collect())
}

/// The open referrals received in one month (Paris), at one crèche, from
/// one prescriber, that wait for their first response: late once their
/// deadline has come, pending until then. Several rows may share a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waits {
    pub month: NaiveDate,
    pub creche_id: CrecheId,
    pub prescriber_organization_id: OrganizationId,
    pub late: i64,
    pub pending: i64,
}

/// The open referrals of the scope that wait for their first response at
/// `now`, which the sums leave to the clock ([`is_waiting`]); counted by
/// month in PostgreSQL, as [`months`] does.
pub fn waits(
    conn: &mut DbConnection,
    scope: &ExportScope,
    now: NaiveDateTime,
) -> QueryResult<Vec<Waits>> {
    if let DbConnection::Pg(pg) = conn {
        return waits_in_postgres(pg, scope, now);
    }
    let mut query = referrals::table
        .filter(referrals::status.eq(ReferralStatus::Received))
        .filter(referrals::received_at.ge(scope.from))
        .filter(referrals::received_at.lt(scope.before))
        .filter(referrals::first_response_at.is_null())
        .filter(referrals::closed_at.is_null())
        .filter(referrals::sla_due_at.is_not_null())
        .select((
            referrals::received_at,
            referrals::sla_due_at,
            referrals::creche_id,
            referrals::prescriber_organization_id,
        ))
        .into_boxed();
    if let Some(ids) = &scope.creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    let rows: Vec<(
        NaiveDateTime,
        Option<NaiveDateTime>,
        CrecheId,
        OrganizationId,
    )> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(received_at, due, creche_id, prescriber_organization_id)| {
                let late = due.is_some_and(|due| due <= now);
                Waits {
                    month: month_of(paris_day(received_at)),
                    creche_id,
                    prescriber_organization_id,
                    late: i64::from(late),
                    pending: i64::from(!late),
                }
            },
        )
        .collect())
}

fn waits_in_postgres(
    conn: &mut diesel::PgConnection,
    scope: &ExportScope,
    now: NaiveDateTime,
) -> QueryResult<Vec<Waits>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        group: MonthGroup,
        #[diesel(sql_type = BigInt)]
        late: i64,
        #[diesel(sql_type = BigInt)]
        pending: i64,
    }
    // The same conditions as the partial index `referrals_waiting`, so
    // the read stays an index-only scan; times are stored as UTC.
    let sql = "SELECT date_trunc('month', \
         (received_at AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris')::date AS month, \
         creche_id, prescriber_organization_id, \
         count(*) FILTER (WHERE sla_due_at <= $3) AS late, \
         count(*) FILTER (WHERE sla_due_at > $3) AS pending \
         FROM referrals \
         WHERE status = 'received' AND received_at >= $1 AND received_at < $2 \
         AND first_response_at IS NULL AND closed_at IS NULL AND sla_due_at IS NOT NULL \
         AND ($4 IS NULL OR creche_id = ANY($4)) \
         GROUP BY 1, 2, 3";
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<Timestamp, _>(scope.from)
        .bind::<Timestamp, _>(scope.before)
        .bind::<Timestamp, _>(now)
        .bind::<Nullable<Array<Text>>, _>(scope.creches.as_deref())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Waits {
            month: r.group.month,
            creche_id: r.group.creche_id,
            prescriber_organization_id: r.group.prescriber_organization_id,
            late: r.late,
            pending: r.pending,
        })
        .collect())
}
