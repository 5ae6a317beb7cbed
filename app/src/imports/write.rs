//! The commit's writes: each row's referral as the service would hold it
//! had it been entered day by day, its dates as given. No e-mail, no
//! webhook, no timer for what is past: the first-response verdict comes
//! from the recorded dates, the clock runs only for a referral still
//! waiting before its deadline.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};

use avip_db::DbConnection;
use avip_db::imports::{self as stored, Import};
use avip_db::model::{BookingKind, EventKind, ReferralId, ReferralStatus, to_db_time};
use avip_db::places::Booking;
use avip_db::referrals::{self, Enrollment, Event, FirstResponseClock, NewReferral, Referral};
use avip_sla_engine::{ActivePolicy, timers};

use super::columns::moment;
use super::rows::Checked;
use super::{Assessed, RowStatus};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::referral::default_contract_end;
use crate::workflow::referrals::{actor, children_of, event_by, family_of, needs_of, referral_of};

/// Writes the ready rows (a few hundred per statement) and rewrites the
/// updated ones: `[created, updated, unchanged, skipped]`.
pub(super) fn all(
    conn: &mut DbConnection,
    who: &Principal,
    (import, assessed): (&Import, &Assessed),
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> Result<[i32; 4], DomainError> {
    let creche = avip_db::creches::find(
        conn,
        &import.creche_id,
        avip_sla_engine::clock::paris_date(now),
    )?
    .ok_or(DomainError::NotFound)?;
    let mut counts = [0; 4];
    let mut written: Vec<(usize, &Checked)> = Vec::new();
    for (i, (status, _, checked)) in assessed.rows.iter().enumerate() {
        match (checked, status) {
            (Ok(super::Parsed::Referral(row)), RowStatus::Ready | RowStatus::Update) => {
                written.push((i, row));
            }
            (_, RowStatus::Unchanged) => counts[2] += 1,
            _ => counts[3] += 1,
        }
    }
    let mut numbers = references(conn, &creche.departement, &written, &assessed.targets)?;
    let mut fresh = Vec::new();
    for (i, row) in written {
        let target = assessed.targets.get(&i);
        let (id, reference) = match target {
            Some((id, reference)) => (id.clone(), reference.clone()),
            None => (
                ReferralId::generate(),
                numbers.next(row.history.received.year()),
            ),
        };
        let new = referral(who, row, (&id, reference), policy, now);
        let mut events = history(who, row, &new.referral, import);
        let mut ev = event_by(actor(who), &id, EventKind::Imported, now);
        ev.data = Some(
            serde_json::json!({
                "import": import.id, "file": import.file_name, "row": i + 2,
                "fingerprint": row.fingerprint,
                "action": if target.is_some() { "updated" } else { "created" },
            })
            .to_string(),
        );
        events.push(ev);
        let enrollment = enrollment(row, &new.referral);
        let rows = stored::Written {
            new,
            events,
            enrollment,
        };
        match target {
            Some(_) => {
                stored::rewrite(conn, &rows)?;
                counts[1] += 1;
            }
            None => {
                fresh.push(rows);
                counts[0] += 1;
            }
        }
    }
    stored::insert_all(conn, &fresh)?;
    Ok(counts)
}

/// The references of an import's new referrals: each year's numbers
/// reserved at once, in the file's order.
struct Numbers {
    departement: String,
    next: BTreeMap<i32, i32>,
}

impl Numbers {
    fn next(&mut self, year: i32) -> String {
        let n = self.next.entry(year).or_insert(1);
        let reference = format!("AVIP-{}-{year}-{:05}", self.departement, *n);
        *n += 1;
        reference
    }
}

fn references(
    conn: &mut DbConnection,
    departement: &str,
    written: &[(usize, &Checked)],
    targets: &std::collections::HashMap<usize, (ReferralId, String)>,
) -> Result<Numbers, DomainError> {
    let mut per_year: BTreeMap<i32, i32> = BTreeMap::new();
    for (i, row) in written {
        if !targets.contains_key(i) {
            *per_year.entry(row.history.received.year()).or_insert(0) += 1;
        }
    }
    let mut next = BTreeMap::new();
    for (year, n) in per_year {
        let first = referrals::reserve_reference_numbers(conn, departement, year, n)?;
        next.insert(year, first);
    }
    Ok(Numbers {
        departement: departement.to_owned(),
        next,
    })
}

/// The referral's row, family, children, needs and `created` event.
fn referral(
    who: &Principal,
    row: &Checked,
    (id, reference): (&ReferralId, String),
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> NewReferral {
    let h = &row.history;
    let received = moment(h.received);
    let draft = &row.draft;
    let due = timers::due_at(&policy.policy, received);
    // The clock runs only for a referral still waiting before its
    // deadline: an imported past fires nothing.
    let next_at = (h.status == ReferralStatus::Received && due > now)
        .then(|| timers::next_at(&policy.policy, received, None))
        .flatten()
        .map(to_db_time);
    let referral = Referral {
        status: h.status,
        first_response_at: h.first_response.map(|d| to_db_time(moment(d))),
        closed_at: h.closed.map(|d| to_db_time(moment(d))),
        updated_at: to_db_time(now),
        closing_reason: match h.status {
            ReferralStatus::Exited => h.exit.as_ref().map(|e| e.reason.as_str().to_owned()),
            _ => h.closing_reason.clone(),
        },
        sla: FirstResponseClock {
            due_at: Some(to_db_time(due)),
            stage: None,
            policy_version: Some(policy.version),
            next_at,
        },
        ..referral_of(
            draft,
            (id, reference),
            (row.prescriber.clone(), who.subject.to_claim()),
            to_db_time(received),
        )
    };
    let mut created = event_by(actor(who), id, EventKind::Created, received);
    created.to_status = Some(ReferralStatus::Received);
    created.data = Some(serde_json::json!({"import": true}).to_string());
    NewReferral {
        family: family_of(draft, id),
        children: children_of(draft, id),
        needs: needs_of(draft, id),
        // Only an open referral claims its child at the crèche.
        child_keys: if h.status.is_closed() {
            Vec::new()
        } else {
            draft.child_keys()
        },
        event: created,
        referral,
    }
}

/// The moves the spreadsheet's dates tell, on their days, and the
/// enrollment with its booked place.
fn history(who: &Principal, row: &Checked, referral: &Referral, import: &Import) -> Vec<Event> {
    use ReferralStatus::*;
    let h = &row.history;
    let id = &referral.id;
    let mut moves: Vec<(EventKind, ReferralStatus, chrono::NaiveDate)> = Vec::new();
    let first = h.first_response;
    let answered = match h.status {
        Waitlisted => Waitlisted,
        Declined if first == h.closed => Declined,
        Withdrawn if first.is_none() => Withdrawn,
        _ => Contacted,
    };
    if let Some(day) = first.or(h.closed).filter(|_| h.status != Received) {
        moves.push((EventKind::Transition, answered, day));
    }
    if matches!(h.status, Offered | Enrolled | Exited)
        && let Some(day) = first
    {
        moves.push((EventKind::Transition, Offered, day));
    }
    if let (Declined | Withdrawn, Some(day)) = (h.status, h.closed)
        && answered != h.status
    {
        moves.push((EventKind::Transition, h.status, day));
    }
    if let (Enrolled | Exited, Some(start)) = (h.status, h.start) {
        moves.push((EventKind::Enrollment, Enrolled, start));
    }
    if let Some(exit) = &h.exit {
        moves.push((EventKind::Exit, Exited, exit.date));
    }
    let mut from = Received;
    let mut events = Vec::with_capacity(moves.len());
    for (kind, to, day) in moves {
        let mut ev: Event = event_by(actor(who), id, kind, moment(day));
        ev.from_status = Some(from);
        ev.to_status = Some(to);
        ev.reason = match to {
            Exited => h.exit.as_ref().map(|e| e.reason.as_str().to_owned()),
            Declined | Withdrawn => h.closing_reason.clone(),
            _ => None,
        };
        ev.data = Some(serde_json::json!({"import": import.id}).to_string());
        events.push(ev);
        from = to;
    }
    events
}

/// The enrollment as the spreadsheet gives it (the needed days, Monday
/// to Friday when none are named; the contract's end the default one or
/// the exit), and its place booked until the child's last day.
fn enrollment(row: &Checked, referral: &Referral) -> Option<(Enrollment, Booking)> {
    use crate::domain::Weekday;
    let start = row.history.start.filter(|_| {
        matches!(
            row.history.status,
            ReferralStatus::Enrolled | ReferralStatus::Exited
        )
    })?;
    let days = row
        .days
        .clone()
        .unwrap_or_else(|| Weekday::ALL[..5].to_vec());
    let exit = row.history.exit.as_ref();
    let end = exit
        .map_or_else(|| default_contract_end(start), |e| e.date)
        .max(start);
    let at = referral.updated_at;
    let enrollment = Enrollment {
        referral_id: referral.id.clone(),
        start_date: start,
        contract_end_date: end,
        days: serde_json::to_string(&days).unwrap_or_default(),
        hours_from: None,
        hours_to: None,
        renewals: 0,
        exit_date: exit.map(|e| e.date),
        exit_reason: exit.map(|e| e.reason),
        exit_employment_status: exit.map(|e| e.employment_status),
        positive_exit: exit.map(|e| e.is_positive()),
        childcare_solution: exit.map(|e| e.childcare_solution),
        exit_note: None,
        created_at: at,
        updated_at: at,
    };
    let booking = Booking {
        referral_id: referral.id.clone(),
        kind: BookingKind::Enrollment,
        creche_id: referral.creche_id.clone(),
        places: 1,
        starts_on: start,
        ends_before: end.succ_opt().unwrap_or(end),
        days: crate::workflow::calendar::mask(&days),
    };
    Some((enrollment, booking))
}
