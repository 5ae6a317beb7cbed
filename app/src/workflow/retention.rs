//! Data protection: the retention job (daily, and `avip retention run`) and
//! a family's erasure request. Both blank the same personal data
//! (`avip_db::retention::anonymise`) and keep what the evaluation needs,
//! the family's pseudonymous id first: a year's exports give the same
//! figures and the same family ids before and after.

use std::time::Duration;

use avip_db::model::{ActorKind, EventId, EventKind, ReferralId, to_db_time};
use avip_db::referrals::Event;
use avip_db::retention::{self, Kept};
use avip_db::{DbConnection, Pool, WriteGate, access_log, exports as rows};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Utc};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::exports::{PseudonymKey, child_age_bracket, family_id};
use crate::workflow::referrals::{self, actor};

/// Referrals anonymised per transaction.
const BATCH: i64 = 100;

/// How long what is kept.
#[derive(Clone, Copy, Debug)]
pub struct Periods {
    /// `AVIP_RETENTION`: after a referral closes.
    pub families: Duration,
    /// `AVIP_ACCESS_LOG_RETENTION`.
    pub access_log: Duration,
}

/// What a run did, or (dry run) would do.
#[derive(Debug, Default)]
pub struct Report {
    /// References of the referrals anonymised (or due, in a dry run).
    pub anonymised: Vec<String>,
    /// Access-log rows deleted (or due).
    pub access_log_purged: usize,
    /// Spreadsheet imports left uncommitted for a week, deleted (or due).
    pub imports_forgotten: usize,
}

/// How long an import waits for its commit before its rows are deleted.
pub const IMPORT_WAIT: chrono::TimeDelta = chrono::TimeDelta::days(7);

fn cutoff(at: DateTime<Utc>, period: Duration) -> chrono::NaiveDateTime {
    let period = chrono::TimeDelta::from_std(period).unwrap_or(chrono::TimeDelta::MAX);
    to_db_time(
        at.checked_sub_signed(period)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    )
}

/// What the evaluation keeps of a referral's family, computed from its data
/// before it is blanked.
fn kept(conn: &mut DbConnection, id: &ReferralId, key: &PseudonymKey) -> Result<Kept, DomainError> {
    let row = rows::rows_of(conn, std::slice::from_ref(id))?
        .pop()
        .ok_or(DomainError::NotFound)?;
    let received = paris_date(row.referral.received_at.and_utc());
    Ok(Kept {
        pseudonym: family_id(&row, key),
        age_bracket: child_age_bracket(&row, received),
    })
}

fn anonymised_event(id: &ReferralId, at: DateTime<Utc>, by: (ActorKind, Option<String>)) -> Event {
    Event {
        id: EventId::generate(),
        referral_id: id.clone(),
        kind: EventKind::Anonymised,
        occurred_at: to_db_time(at),
        actor_kind: by.0,
        actor_id: by.1,
        from_status: None,
        to_status: None,
        reason: None,
        note: None,
        data: None,
    }
}

/// Blanks one referral's personal data and writes its `anonymised` entry,
/// in one transaction; `false` when it already was.
fn anonymise(
    conn: &mut DbConnection,
    id: &ReferralId,
    key: &PseudonymKey,
    at: DateTime<Utc>,
    by: (ActorKind, Option<String>),
) -> Result<bool, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let kept = kept(conn, id, key)?;
        if !retention::anonymise(conn, id, &kept, to_db_time(at))? {
            return Ok(false);
        }
        avip_db::referrals::insert_event(conn, &anonymised_event(id, at, by))?;
        Ok(true)
    })
}

/// The retention job at `at`: the families of referrals closed for longer
/// than `periods.families` are anonymised, a batch per transaction, and the
/// access log's rows older than `periods.access_log` deleted. Safe to run on
/// two instances at once (a referral another one took is skipped) and again
/// (what is done stays done). A dry run reads and writes nothing.
pub fn run(
    pool: &Pool,
    gate: &WriteGate,
    key: &PseudonymKey,
    periods: Periods,
    at: DateTime<Utc>,
    dry_run: bool,
) -> Result<Report, DomainError> {
    let families_before = cutoff(at, periods.families);
    let log_before = cutoff(at, periods.access_log);
    let mut report = Report::default();
    if dry_run {
        let mut conn = avip_db::blocking::checkout(pool)?;
        report.anonymised = retention::due(&mut conn, families_before, i64::MAX)?
            .into_iter()
            .map(|(_, reference, _)| reference)
            .collect();
        report.access_log_purged = access_log::count_before(&mut conn, log_before)?;
        report.imports_forgotten =
            avip_db::imports::forget_abandoned(&mut conn, to_db_time(at - IMPORT_WAIT), true)?;
        return Ok(report);
    }
    loop {
        let due = {
            let mut conn = avip_db::blocking::checkout(pool)?;
            retention::due(&mut conn, families_before, BATCH)?
        };
        if due.is_empty() {
            break;
        }
        let key = key.clone();
        let batch: Vec<(ReferralId, String)> = due
            .into_iter()
            .map(|(id, reference, _)| (id, reference))
            .collect();
        let done = avip_db::blocking::write_blocking(pool, gate, move |conn| {
            let mut done = Vec::new();
            for (id, reference) in batch {
                if anonymise(conn, &id, &key, at, (ActorKind::System, None))? {
                    done.push(reference);
                }
            }
            Ok::<_, DomainError>(done)
        })?;
        tracing::info!(
            referrals = done.len(),
            "retention: a batch of families anonymised"
        );
        report.anonymised.extend(done);
    }
    (report.access_log_purged, report.imports_forgotten) =
        avip_db::blocking::write_blocking(pool, gate, move |conn| {
            let before = to_db_time(at - IMPORT_WAIT);
            let imports = avip_db::imports::forget_abandoned(conn, before, false)?;
            Ok::<_, DomainError>((access_log::purge(conn, log_before)?, imports))
        })?;
    if !report.anonymised.is_empty() || report.access_log_purged > 0 || report.imports_forgotten > 0
    {
        // SQLite keeps erased text in the WAL until a checkpoint.
        let mut conn = avip_db::blocking::checkout(pool)?;
        avip_db::pool::checkpoint(&mut conn)?;
    }
    tracing::info!(
        anonymised = report.anonymised.len(),
        access_log_purged = report.access_log_purged,
        "retention run done"
    );
    Ok(report)
}

/// An erasure request (RGPD art. 17, admins): the referral is withdrawn if
/// still open (an enrolled child's exit is recorded first), then its family
/// anonymised now, the reason on its `anonymised` entry.
pub fn erase(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    reason: &str,
    key: &PseudonymKey,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    require(who, Action::Erase, Resource::Referral(None))?;
    let reason = crate::domain::text(reason, 2000)
        .map_err(|message| DomainError::invalid("reason", message))?;
    let referral = avip_db::referrals::get_referral(conn, id)?;
    if referral.anonymised_at.is_some() {
        return Err(DomainError::AlreadyAnonymised);
    }
    if !retention::CLOSED.contains(&referral.status) {
        referrals::withdraw_for_erasure(conn, who, id, now)?;
    }
    avip_db::write_transaction(conn, |conn| {
        let kept = kept(conn, id, key)?;
        retention::anonymise(conn, id, &kept, to_db_time(now))?;
        let mut event = anonymised_event(id, now, actor(who));
        event.note = Some(reason.clone());
        event.data = Some(serde_json::json!({"erasure": true}).to_string());
        avip_db::referrals::insert_event(conn, &event)?;
        Ok::<_, DomainError>(())
    })?;
    tracing::info!(referral = %id, "family erased on request");
    Ok(())
}

/// After an erasure (outside its transaction): on SQLite, the WAL's old
/// pages that still hold the erased data are emptied.
pub fn forget_old_pages(conn: &mut DbConnection) -> Result<(), DomainError> {
    Ok(avip_db::pool::checkpoint(conn)?)
}

/// A page of the access log (admins), newest first.
pub fn access_log(
    conn: &mut DbConnection,
    who: &Principal,
    filter: &access_log::Filter,
    page: &avip_db::page::PageRequest,
) -> Result<avip_db::page::Page<access_log::Access>, DomainError> {
    require(who, Action::List, Resource::AccessLog)?;
    Ok(access_log::page(conn, filter, page)?)
}
