//! No family lost in the territory (issue 34, points 4 and 5), run on the
//! SLA engine's schedule: an offer's hold ends (the coordinators reminded
//! the day before; at its end the `offer_expired` event, the place freed,
//! the referent told, a decision on "À traiter"), and a family waiting a
//! whole period without a move (the coordinators reminded once per period,
//! the referent told). Each fact takes its mark in its own transaction, so
//! two engines or a restart never say it twice; nothing is refused
//! automatically.

use std::time::Duration;

use avip_db::model::{
    BookingKind, EventKind, FreedCause, ReferralId, ReferralStatus, from_db_time, to_db_time,
};
use avip_db::referrals::Referral;
use avip_db::territory::{self, OfferEnd, StillWaiting};
use avip_db::{DbConnection, Pool, WriteGate, referrals};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::mail::{AS_COORDINATOR, Notice};
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, Days, NaiveDate, Utc};

use super::notices::{self, News};
use super::referrals::record_system_event;
use crate::domain::DomainError;
use crate::labels as fr;

/// What the territory's jobs need to know.
#[derive(Clone, Debug)]
pub struct Rules {
    /// `AVIP_PUBLIC_URL`, the base of the links.
    pub public_url: String,
    /// `AVIP_WAITING_REVIEW`.
    pub waiting_review: Duration,
    pub zone: HolidayZone,
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub offers_reminded: usize,
    pub offers_expired: usize,
    pub waiting_reviewed: usize,
    pub places_matched: usize,
}

impl Done {
    pub fn any(&self) -> bool {
        *self != Done::default()
    }
}

/// Everything due at `now`: offers, waiting families, freed places (the
/// offers first, since an expiry frees a place).
pub fn run_due(
    pool: &Pool,
    gate: &WriteGate,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<Done, DomainError> {
    let mut done = Done::default();
    let today = paris_date(now);
    let ending = {
        let mut conn = avip_db::blocking::checkout(pool)?;
        let ending = territory::offers_ending(&mut conn, None, next_day(today))?;
        untaken(&mut conn, ending, |o| offer_key(o, today))?
    };
    for (offer, key) in ending {
        let links = rules.public_url.clone();
        let expired = offer.ends_before <= today;
        let settled = avip_db::blocking::write_blocking(pool, gate, move |conn| {
            settle_offer(conn, &offer, &key, &links, now)
        })?;
        match (settled, expired) {
            (true, true) => done.offers_expired += 1,
            (true, false) => done.offers_reminded += 1,
            _ => {}
        }
    }
    let period = rules.waiting_review;
    let waiting = {
        let mut conn = avip_db::blocking::checkout(pool)?;
        let before = before(now, period);
        let waiting = territory::still_waiting(&mut conn, None, to_db_time(before))?;
        untaken(&mut conn, waiting, |w| waiting_key(w, period, now))?
    };
    for (family, key) in waiting {
        let links = rules.public_url.clone();
        if avip_db::blocking::write_blocking(pool, gate, move |conn| {
            review_waiting(conn, &family, &key, &links, now)
        })? {
            done.waiting_reviewed += 1;
        }
    }
    done.places_matched = super::freed::match_waiting(pool, gate, rules, now)?;
    Ok(done)
}

/// `now` less `period` (the earliest instant, when it goes further back).
pub fn before(now: DateTime<Utc>, period: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(period)
        .ok()
        .and_then(|p| now.checked_sub_signed(p))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn next_day(day: NaiveDate) -> NaiveDate {
    day.checked_add_days(Days::new(1)).unwrap_or(day)
}

/// The items whose mark nobody took yet, each with its mark.
fn untaken<T>(
    conn: &mut DbConnection,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> Result<Vec<(T, String)>, DomainError> {
    let keyed: Vec<(T, String)> = items
        .into_iter()
        .map(|i| {
            let k = key(&i);
            (i, k)
        })
        .collect();
    let keys: Vec<String> = keyed.iter().map(|(_, k)| k.clone()).collect();
    let taken = territory::marks_taken(conn, &keys)?;
    Ok(keyed
        .into_iter()
        .filter(|(_, k)| !taken.contains(k))
        .collect())
}

/// The offer's mark: its reminder while it still holds, its expiry after.
fn offer_key(offer: &OfferEnd, today: NaiveDate) -> String {
    let fact = if offer.ends_before <= today {
        "offer_expired"
    } else {
        "offer_reminder"
    };
    format!("{fact}:{}:{}", offer.referral_id, offer.ends_before)
}

/// The family's mark for the period it is in: counted from its last move.
fn waiting_key(family: &StillWaiting, period: Duration, now: DateTime<Utc>) -> String {
    let since = from_db_time(family.last_move);
    let n = periods(since, period, now);
    format!(
        "waiting_review:{}:{}:{n}",
        family.referral_id,
        since.timestamp()
    )
}

/// How many whole periods have passed since `since`.
fn periods(since: DateTime<Utc>, period: Duration, now: DateTime<Utc>) -> u64 {
    let elapsed = u64::try_from((now - since).num_milliseconds()).unwrap_or(0);
    let period = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
    elapsed / period
}

/// Takes `key` and reads the referral, if nobody took the key first and
/// the referral still is as the job read it (`still`).
fn claim(
    conn: &mut DbConnection,
    key: &str,
    id: &ReferralId,
    still: impl Fn(&Referral) -> bool,
    now: DateTime<Utc>,
) -> Result<Option<Referral>, DomainError> {
    if !territory::take_mark(conn, key, to_db_time(now))? {
        return Ok(None);
    }
    let referral = referrals::get_referral(conn, id)?;
    Ok(still(&referral).then_some(referral))
}

/// Tells the referral's crèche's coordinators (`title`, `intro`, and one
/// row after the crèche's name), under `key`.
fn tell_its_coordinators(
    conn: &mut DbConnection,
    referral: &Referral,
    (title, intro, row): (&str, &str, (String, String)),
    (key, links): (&str, &str),
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let creche = avip_db::creches::name_of(conn, &referral.creche_id)?;
    let notice = Notice {
        reference: referral.reference.clone(),
        title: format!("Orientation {} : {title}", referral.reference),
        intro: intro.to_owned(),
        rows: vec![("Crèche".to_owned(), creche), row],
        link: format!("{links}/app/orientations/{}", referral.id),
        why: AS_COORDINATOR,
    };
    let at = (&referral.creche_id, Some(&referral.id));
    notices::tell_coordinators(conn, at, key, &notice, now)?;
    Ok(())
}

/// The reminder (the hold's last day is today) or the expiry of one
/// offer, if nobody did it first and the offer is still open.
fn settle_offer(
    conn: &mut DbConnection,
    offer: &OfferEnd,
    key: &str,
    links: &str,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let open =
            |r: &Referral| r.status == ReferralStatus::Offered && r.creche_id == offer.creche_id;
        let Some(referral) = claim(conn, key, &offer.referral_id, open, now)? else {
            return Ok(false);
        };
        let last_day = offer.ends_before.pred_opt().unwrap_or(offer.ends_before);
        let expired = offer.ends_before <= paris_date(now);
        let (title, intro) = if expired {
            (
                "l’offre de place a expiré",
                "La famille n’a pas répondu à la place proposée dans le délai : la place \
                 n’est plus réservée. Décidez de la suite depuis sa fiche : l’accueillir si \
                 une place est libre, lui proposer une place à nouveau, l’inscrire sur la \
                 liste d’attente ou refuser.",
            )
        } else {
            (
                "l’offre de place expire demain",
                "La place proposée à cette famille n’est réservée que jusqu’à ce soir. \
                 Sans réponse, elle sera libérée demain.",
            )
        };
        let row = ("Place réservée jusqu’au".to_owned(), fr::date(last_day));
        tell_its_coordinators(conn, &referral, (title, intro, row), (key, links), now)?;
        let id = &referral.id;
        if expired {
            let data = serde_json::json!({"held_until": last_day});
            record_system_event(conn, id, EventKind::OfferExpired, data, now)?;
            let (freed, at) = ((id, BookingKind::Offer), to_db_time(now));
            let cause = FreedCause::OfferExpired;
            territory::record_booking_freed(conn, freed, offer.ends_before, cause, at)?;
            let news = News::OfferExpired { last_day };
            notices::tell_referent(conn, &referral, &news, links, now)?;
        }
        tracing::info!(referral = %id, expired, "offer reminded or expired");
        Ok(true)
    })
}

/// One period's review of a family still waiting, if nobody did it first
/// and it is still on the list.
fn review_waiting(
    conn: &mut DbConnection,
    family: &StillWaiting,
    key: &str,
    links: &str,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let waiting = |r: &Referral| r.status == ReferralStatus::Waitlisted;
        let Some(referral) = claim(conn, key, &family.referral_id, waiting, now)? else {
            return Ok(false);
        };
        let since = from_db_time(family.last_move);
        let days = (now - since).num_days();
        let title = format!("famille en liste d’attente depuis {days} jours");
        let intro = "Cette famille attend sur la liste d’attente sans nouvelle depuis \
                     longtemps. Revoyez sa situation : une place s’est-elle libérée sur ses \
                     jours, ici ou dans une autre crèche du territoire ? Une note sur sa \
                     fiche, une proposition ou un transfert arrête ce rappel pour la période.";
        let row = ("Dernier mouvement le".to_owned(), fr::datetime(since));
        tell_its_coordinators(conn, &referral, (&title, intro, row), (key, links), now)?;
        let data = serde_json::json!({"since": since, "days": days});
        record_system_event(conn, &referral.id, EventKind::WaitingReminder, data, now)?;
        let news = News::StillWaiting { days, period: key };
        notices::tell_referent(conn, &referral, &news, links, now)?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_counted_from_the_last_move() {
        let since = DateTime::parse_from_rfc3339("2026-11-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let month = Duration::from_secs(30 * 86_400);
        let at = |days: i64| since + chrono::Duration::days(days);
        assert_eq!(periods(since, month, at(29)), 0);
        assert_eq!(periods(since, month, at(30)), 1);
        assert_eq!(periods(since, month, at(59)), 1);
        assert_eq!(periods(since, month, at(60)), 2);
        assert_eq!(periods(since, Duration::ZERO, at(1)), 86_400_000);
    }
}
