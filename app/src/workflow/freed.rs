//! A freed place finds its family (issue 34, point 3). Where places free
//! (an exit, a contract's end, an offer refused or expired, more AVIP
//! places, a closure removed), the fact is recorded in its transaction, once
//! per booking released; the scheduled job then matches each against the
//! waitlisted families of that crèche and of its operator's other crèches
//! (their weekdays, hours and start), and tells the crèche's coordinators
//! once, with the families that fit, longest waiting first. Nothing is sent
//! when none fits.

use avip_db::creches::Creche;
use avip_db::model::{
    BookingKind, CrecheId, FreedCause, ReferralId, ReferralStatus, from_db_time, to_db_time,
};
use avip_db::page::PageRequest;
use avip_db::places::EVERY_DAY;
use avip_db::referrals::{ReferralFilter, ReferralRecord};
use avip_db::territory::{self, FreedPlace};
use avip_db::{DbConnection, Pool, WriteGate};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::mail::{AS_COORDINATOR, Notice};
use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::weekdays;
use super::matching::{Wanted, fits_at};
use super::territory::Rules;
use crate::domain::DomainError;
use crate::labels as fr;

/// Freed places matched per transaction.
const BATCH: i64 = 20;
/// The most families one e-mail names.
const MOST: usize = 10;
/// The waitlisted families read per freed place.
const CANDIDATES: i64 = 500;
/// Monday to Friday.
const WEEK: i32 = 0b1_1111;

/// The referral's booking of `kind` frees its places from `from` (or from
/// its end, when it ended before): recorded once per booking released. An
/// enrollment's only when it ends earlier than it did (call it before the
/// end moves).
pub fn booking_freed(
    conn: &mut DbConnection,
    (referral, kind): (&ReferralId, BookingKind),
    from: NaiveDate,
    cause: FreedCause,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let end = avip_db::places::booking_end(conn, referral, kind)?;
    if end.is_none_or(|end| kind == BookingKind::Enrollment && end <= from) {
        return Ok(());
    }
    territory::record_booking_freed(conn, (referral, kind), from, cause, to_db_time(now))?;
    Ok(())
}

/// Every weekday of `creche` frees from `from` (more places, a closure
/// removed), recorded once under `key`.
pub fn creche_freed(
    conn: &mut DbConnection,
    creche: &CrecheId,
    (key, cause): (String, FreedCause),
    from: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    territory::record_freed(
        conn,
        &FreedPlace {
            key,
            creche_id: creche.clone(),
            days: EVERY_DAY,
            free_from: from,
            cause,
            recorded_at: to_db_time(now),
            matched_at: None,
        },
    )?;
    Ok(())
}

/// Matches the freed places waiting; returns how many were told.
pub fn match_waiting(
    pool: &Pool,
    gate: &WriteGate,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let mut told = 0;
    loop {
        // A read first: the writer's turn is taken only when something waits.
        let mut conn = avip_db::blocking::checkout(pool)?;
        let waiting = territory::freed_waiting(&mut conn, BATCH)?;
        drop(conn);
        if waiting.is_empty() {
            return Ok(told);
        }
        let rules = rules.clone();
        told += avip_db::blocking::write_blocking(pool, gate, move |conn| {
            let creches = avip_db::creches::all_with_departement(conn)?;
            let mut told = 0;
            for place in &waiting {
                told += usize::from(match_one(conn, place, (&creches, &rules), now)?);
            }
            Ok::<_, DomainError>(told)
        })?;
    }
}

/// A waitlisted family that fits a freed place.
struct Fit {
    reference: String,
    creche: String,
    days: i32,
    since: DateTime<Utc>,
}

/// Matches one freed place, if nobody did first: `true` when its
/// coordinators were told.
fn match_one(
    conn: &mut DbConnection,
    place: &FreedPlace,
    (creches, rules): (&[(Creche, String)], &Rules),
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        if !territory::mark_matched(conn, &place.key, to_db_time(now))? {
            return Ok(false);
        }
        let fits = families_that_fit(conn, place, (creches, rules), now)?;
        if fits.is_empty() {
            return Ok(false);
        }
        let creche = avip_db::creches::name_of(conn, &place.creche_id)?;
        let notice = notice(place, &creche, &fits, (&rules.public_url, now));
        let key = format!("freed:{}", place.key);
        let at = (&place.creche_id, None);
        super::notices::tell_coordinators(conn, at, &key, &notice, now)?;
        tracing::info!(place = %place.key, families = fits.len(), "a freed place fits waiting families");
        Ok(true)
    })
}

/// The waitlisted families of the place's crèche and of its operator's
/// other crèches (`all`: every crèche and its département) that it can
/// take, longest waiting first.
fn families_that_fit(
    conn: &mut DbConnection,
    place: &FreedPlace,
    (all, rules): (&[(Creche, String)], &Rules),
    now: DateTime<Utc>,
) -> Result<Vec<Fit>, DomainError> {
    let Some((here, departement)) = all.iter().find(|(c, _)| c.id == place.creche_id) else {
        return Ok(Vec::new());
    };
    let ours: Vec<CrecheId> = (all.iter())
        .filter(|(c, _)| c.operator_id == here.operator_id)
        .map(|(c, _)| c.id.clone())
        .collect();
    let filter = ReferralFilter {
        within_creches: Some(ours),
        statuses: vec![ReferralStatus::Waitlisted],
        ..ReferralFilter::default()
    };
    let first = PageRequest {
        after: None,
        limit: CANDIDATES,
    };
    let records = avip_db::referrals::list(conn, &filter, &first)?.items;
    let ids: Vec<ReferralId> = records.iter().map(|r| r.referral.id.clone()).collect();
    let since = avip_db::referrals::waitlisted_since(conn, &ids)?;
    let today = paris_date(now);
    let mut fits = Vec::new();
    for record in records {
        let days = family_days(&record, place.days);
        if days & place.days == 0 {
            continue;
        }
        let wanted = wanted(&record, departement, days, place.free_from.max(today));
        if !fits_at(conn, here.clone(), &wanted, rules.zone)? {
            continue;
        }
        let r = &record.referral;
        let creche = (all.iter())
            .find(|(c, _)| c.id == r.creche_id)
            .map_or_else(String::new, |(c, _)| c.name.clone());
        fits.push(Fit {
            reference: r.reference.clone(),
            creche,
            days,
            since: from_db_time(since.get(&r.id).copied().unwrap_or(r.updated_at)),
        });
    }
    fits.sort_by(|a, b| (a.since, &a.reference).cmp(&(b.since, &b.reference)));
    Ok(fits)
}

/// The weekdays the family needs; one that named none takes the freed
/// place's weekdays, Monday to Friday.
fn family_days(record: &ReferralRecord, freed: i32) -> i32 {
    match record.needs.as_ref().map(|n| n.days) {
        Some(days) if days != 0 => days,
        _ => freed & WEEK,
    }
}

/// What the family needs, from `from` (or its own start, when later).
fn wanted(record: &ReferralRecord, departement: &str, days: i32, from: NaiveDate) -> Wanted {
    let needs = record.needs.as_ref();
    Wanted {
        departement: departement.to_owned(),
        start: record.referral.desired_start_date.unwrap_or(from).max(from),
        days: weekdays(days),
        hours: needs.and_then(|n| n.hours_from.clone().zip(n.hours_to.clone())),
        weeks: 8,
        places: i32::try_from(record.children.len()).unwrap_or(1).max(1),
        postal_code: None,
        commune: None,
    }
}

/// The coordinators' e-mail: the place, then the families (references,
/// days, time waiting, crèche; no names), longest waiting first.
fn notice(
    place: &FreedPlace,
    creche: &str,
    fits: &[Fit],
    (links, now): (&str, DateTime<Utc>),
) -> Notice {
    let n = fits.len();
    let title = if n == 1 {
        format!("Place libérée à {creche} : une famille en attente correspond")
    } else {
        format!("Place libérée à {creche} : {n} familles en attente correspondent")
    };
    let mut rows = vec![
        ("Crèche".to_owned(), creche.to_owned()),
        ("Libre à partir du".to_owned(), fr::date(place.free_from)),
        ("Jours libérés".to_owned(), fr::days(&weekdays(place.days))),
        (
            "Pourquoi".to_owned(),
            fr::freed_cause(place.cause).to_owned(),
        ),
    ];
    for fit in fits.iter().take(MOST) {
        let waited = (now - fit.since).num_days().max(0);
        rows.push((
            fit.reference.clone(),
            format!(
                "{} · en attente depuis {waited} jours · {}",
                fr::days(&weekdays(fit.days)),
                fit.creche
            ),
        ));
    }
    if n > MOST {
        rows.push(("Et encore".to_owned(), format!("{} familles", n - MOST)));
    }
    Notice {
        reference: String::new(),
        title,
        intro: "Une place AVIP se libère. Ces familles de la liste d’attente peuvent y être \
                accueillies sur leurs jours, de celle qui attend depuis le plus longtemps à la \
                plus récente. Une famille d’une autre crèche peut être transférée depuis sa \
                fiche."
            .to_owned(),
        rows,
        link: format!("{links}/app/liste-attente"),
        why: AS_COORDINATOR,
    }
}
