//! The exit's use cases: recording it (now, or planned for a later day
//! that the engine records when it comes), cancelling a plan, and
//! correcting a recorded exit with a trail. Each runs in one transaction.

use avip_db::exits::{self, PlannedExit};
use avip_db::model::{ActorKind, EventKind, ReferralId, ReferralStatus, Role, to_db_time};
use avip_db::referrals::{self, Enrollment, Referral, ReferralRecord};
use avip_db::{DbConnection, Pool, WriteGate};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::lifecycle;
use chrono::{DateTime, Duration, Utc};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::exit::{CORRECTION_DAYS, ExitCorrection};
use crate::domain::referral::{ExitRequest, Via, invalid_transition, plan_move};
use crate::workflow::notices::{self, ExitNews, News};
use crate::workflow::places;
use crate::workflow::referrals::{actor, apply_move, event_by, load_for, not_enrolled};

type Actor = (ActorKind, Option<String>);

fn exit_json(exit: &ExitRequest) -> serde_json::Value {
    serde_json::json!({
        "date": exit.date,
        "reason": exit.reason,
        "employment_status": exit.employment_status,
        "positive": exit.is_positive(),
        "childcare_solution": exit.childcare_solution,
    })
}

fn news(exit: &ExitRequest) -> ExitNews {
    ExitNews {
        date: exit.date,
        reason: exit.reason,
        positive: exit.is_positive(),
        solution: exit.childcare_solution,
    }
}

/// `POST /referrals/{id}/exit`: an exit dated up to today is recorded now;
/// a later one is planned (replacing the plan before), the child enrolled
/// and her place booked until that day.
pub fn exit(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: ExitRequest,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        plan_move(referral.status, ReferralStatus::Exited, Via::Exit)?;
        let enrollment =
            referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
        let today = paris_date(now);
        let request = request.check(enrollment.start_date, today)?;
        if request.date > today {
            plan(conn, &actor(who), &enrollment, &request, now)?;
        } else {
            record(
                conn,
                &actor(who),
                &referral,
                enrollment,
                &request,
                public_url,
                now,
            )?;
        }
        Ok(referrals::get(conn, id)?)
    })
}

/// The exit as [`exit`] would record or plan it, checked, writing nothing
/// (the page shows it to be confirmed).
pub fn preview(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: ExitRequest,
    now: DateTime<Utc>,
) -> Result<ExitRequest, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let referral = load_for(conn, who, id, Action::Act)?;
    plan_move(referral.status, ReferralStatus::Exited, Via::Exit)?;
    let enrollment =
        referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
    request.check(enrollment.start_date, paris_date(now))
}

fn plan(
    conn: &mut DbConnection,
    by: &Actor,
    enrollment: &Enrollment,
    request: &ExitRequest,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = &enrollment.referral_id;
    let before = exits::plan(
        conn,
        &PlannedExit {
            referral_id: id.clone(),
            exit_date: request.date,
            reason: request.reason,
            employment_status: request.employment_status,
            positive: request.is_positive(),
            childcare_solution: request.childcare_solution,
            note: request.note.clone(),
            actor_kind: by.0,
            actor_id: by.1.clone(),
            planned_at: to_db_time(now),
        },
    )?;
    places::occupy_until(
        conn,
        id,
        request.date.min(enrollment.contract_end_date),
        now,
    )?;
    let mut ev = event_by(by.clone(), id, EventKind::ExitPlanned, now);
    ev.reason = Some(request.reason.as_str().to_owned());
    ev.note = request.note.clone();
    let mut data = exit_json(request);
    if let Some(before) = before {
        data["replaces"] = exit_json(&planned_request(&before));
    }
    ev.data = Some(data.to_string());
    referrals::insert_event(conn, &ev)?;
    referrals::touch(conn, id, to_db_time(now))?;
    Ok(())
}

/// Records the exit: the enrollment's outcome, the place freed after its
/// last day, the timers stopped, `enrolled → exited`, the referent told.
fn record(
    conn: &mut DbConnection,
    by: &Actor,
    referral: &Referral,
    mut enrollment: Enrollment,
    request: &ExitRequest,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = &referral.id;
    let step = plan_move(referral.status, ReferralStatus::Exited, Via::Exit)?;
    enrollment.exit_date = Some(request.date);
    enrollment.exit_reason = Some(request.reason);
    enrollment.exit_employment_status = Some(request.employment_status);
    enrollment.positive_exit = Some(request.is_positive());
    enrollment.childcare_solution = Some(request.childcare_solution);
    enrollment.exit_note = request.note.clone();
    enrollment.updated_at = to_db_time(now);
    referrals::save_enrollment(conn, &enrollment)?;
    places::occupy_until(
        conn,
        id,
        request.date.min(enrollment.contract_end_date),
        now,
    )?;
    lifecycle::on_exit(conn, id)?;
    exits::remove(conn, id)?;
    avip_db::outcomes::schedule(conn, id, request.date)?;
    let mut ev = event_by(by.clone(), id, EventKind::Exit, now);
    ev.note = request.note.clone();
    ev.data = Some(exit_json(request).to_string());
    apply_move(conn, id, step, Some(request.reason.as_str().to_owned()), ev)?;
    notices::tell_referent(
        conn,
        referral,
        &News::Exited(news(request)),
        public_url,
        now,
    )?;
    Ok(())
}

fn planned_request(plan: &PlannedExit) -> ExitRequest {
    ExitRequest {
        date: plan.exit_date,
        reason: plan.reason,
        employment_status: plan.employment_status,
        positive: Some(plan.positive),
        childcare_solution: plan.childcare_solution,
        note: plan.note.clone(),
    }
}

/// `DELETE /referrals/{id}/exit`: the planned exit is cancelled, the child
/// stays enrolled to the end of her contract.
pub fn cancel_planned(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let Some(plan) = exits::of(conn, id)? else {
            return Err(invalid_transition(
                referral.status,
                ReferralStatus::Enrolled,
                "no exit is planned for this referral".to_owned(),
            ));
        };
        let enrollment =
            referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
        exits::remove(conn, id)?;
        places::occupy_until(conn, id, enrollment.contract_end_date, now)?;
        let mut ev = event_by(actor(who), id, EventKind::ExitPlanCancelled, now);
        ev.data = Some(serde_json::json!({"date": plan.exit_date}).to_string());
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        Ok(referrals::get(conn, id)?)
    })
}

/// Planned exits recorded by one run of the engine's job.
const BATCH: i64 = 200;

/// The engine's job: every planned exit whose day has come by `at` is
/// recorded as it was planned, by whom it was planned, each in its own
/// transaction, a batch at a time through the writer. Returns the
/// references recorded.
pub fn record_due(
    pool: &Pool,
    gate: &WriteGate,
    public_url: &str,
    at: DateTime<Utc>,
) -> Result<Vec<String>, DomainError> {
    let mut recorded = Vec::new();
    loop {
        // A read first: the writer's turn is taken only when a plan is due.
        let due = {
            let mut conn = avip_db::blocking::checkout(pool)?;
            !exits::due(&mut conn, paris_date(at), 1)?.is_empty()
        };
        if !due {
            return Ok(recorded);
        }
        let links = public_url.to_owned();
        let done = avip_db::blocking::write_blocking(pool, gate, move |conn| {
            record_due_batch(conn, &links, at, BATCH)
        })?;
        if done.is_empty() {
            return Ok(recorded);
        }
        recorded.extend(done);
    }
}

/// Up to `limit` planned exits due by `at`, recorded on `conn` (one run of
/// [`record_due`]'s loop); the references recorded.
pub fn record_due_batch(
    conn: &mut DbConnection,
    public_url: &str,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, DomainError> {
    let mut done = Vec::new();
    for id in exits::due(conn, paris_date(at), limit)? {
        done.extend(record_planned(conn, &id, public_url, at)?);
    }
    Ok(done)
}

/// Records one planned exit; a plan left on a referral that is no longer
/// enrolled is dropped.
fn record_planned(
    conn: &mut DbConnection,
    id: &ReferralId,
    public_url: &str,
    at: DateTime<Utc>,
) -> Result<Option<String>, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let Some(plan) = exits::of(conn, id)? else {
            return Ok(None);
        };
        let referral = referrals::get_referral(conn, id)?;
        let enrollment = referrals::enrollment(conn, id)?;
        let (ReferralStatus::Enrolled, Some(enrollment)) = (referral.status, enrollment) else {
            exits::remove(conn, id)?;
            return Ok(None);
        };
        let by = (plan.actor_kind, plan.actor_id.clone());
        let request = planned_request(&plan);
        record(conn, &by, &referral, enrollment, &request, public_url, at)?;
        tracing::info!(referral = %id, date = %plan.exit_date, "planned exit recorded");
        Ok(Some(referral.reference))
    })
}

/// The exit as recorded on the enrollment.
fn recorded(enrollment: &Enrollment) -> Option<ExitRequest> {
    Some(ExitRequest {
        date: enrollment.exit_date?,
        reason: enrollment.exit_reason?,
        employment_status: enrollment.exit_employment_status?,
        positive: enrollment.positive_exit,
        childcare_solution: enrollment.childcare_solution?,
        note: enrollment.exit_note.clone(),
    })
}

/// `POST /referrals/{id}/exit/corrections`: a coordinator (within
/// [`CORRECTION_DAYS`] of the exit date) or an administrator corrects a
/// recorded exit; the timeline keeps before and after, the referent is told.
pub fn correct(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    correction: ExitCorrection,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Correct)?;
        let mut enrollment = referrals::enrollment(conn, id)?
            .filter(|_| referral.status == ReferralStatus::Exited)
            .ok_or_else(|| {
                invalid_transition(
                    referral.status,
                    ReferralStatus::Exited,
                    format!(
                        "the referral is {}: only a recorded exit can be corrected",
                        referral.status
                    ),
                )
            })?;
        let current = recorded(&enrollment).ok_or(DomainError::NotFound)?;
        let today = paris_date(now);
        if who.role != Role::Admin && today > current.date + Duration::days(CORRECTION_DAYS) {
            return Err(DomainError::OutOfScope(format!(
                "the exit is more than {CORRECTION_DAYS} days old: only an administrator can correct it"
            )));
        }
        let checked = correction.check(&current, enrollment.start_date, today)?;
        let after = checked.exit;
        enrollment.exit_date = Some(after.date);
        enrollment.exit_reason = Some(after.reason);
        enrollment.exit_employment_status = Some(after.employment_status);
        enrollment.positive_exit = Some(after.is_positive());
        enrollment.childcare_solution = Some(after.childcare_solution);
        enrollment.updated_at = to_db_time(now);
        referrals::save_enrollment(conn, &enrollment)?;
        if after.date != current.date {
            places::occupy_until(conn, id, after.date.min(enrollment.contract_end_date), now)?;
            avip_db::outcomes::schedule(conn, id, after.date)?;
        }
        let mut ev = event_by(actor(who), id, EventKind::ExitCorrected, now);
        ev.reason = Some(after.reason.as_str().to_owned());
        ev.note = Some(checked.why.clone());
        ev.data = Some(
            serde_json::json!({"before": exit_json(&current), "after": exit_json(&after)})
                .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        let told = News::ExitCorrected {
            exit: news(&after),
            why: &checked.why,
            event: &ev.id,
        };
        notices::tell_referent(conn, &referral, &told, public_url, now)?;
        Ok(referrals::get(conn, id)?)
    })
}
