//! Policy versions: the policy in the settings becomes a numbered version
//! the first time a process starts with it. Open deadlines then move to the
//! new policy; verdicts already reached stay as they were.

use chrono::{DateTime, Utc};

use avip_db::model::ReferralId;
use avip_db::sla::{self, PolicyVersion};
use avip_db::{DbConnection, QueryError};

use crate::policy::{ActivePolicy, Policy};
use crate::timers::{self, from_db, to_db};

/// Rows moved per statement batch when a policy changes.
const BATCH: i64 = 1000;

/// Makes `policy` the one in force and returns its version: the latest
/// version if it has the same settings, else a new version, with every
/// running clock recomputed in the same transaction.
pub fn activate(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ActivePolicy, QueryError> {
    // Two instances starting at once may both try to create the version;
    // the loser finds it made and uses it.
    match activate_once(conn, policy, now) {
        Err(QueryError::DatabaseError(avip_db::QueryErrorKind::UniqueViolation, _)) => {
            activate_once(conn, policy, now)
        }
        other => other,
    }
}

fn activate_once(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ActivePolicy, QueryError> {
    let fingerprint = policy.fingerprint();
    avip_db::write_transaction(conn, |conn| {
        let latest = sla::latest_policy(conn)?;
        if let Some(latest) = &latest
            && latest.fingerprint == fingerprint
        {
            return Ok(ActivePolicy {
                version: latest.version,
                policy: policy.clone(),
            });
        }
        let version = latest.map_or(1, |l| l.version + 1);
        sla::insert_policy(
            conn,
            &PolicyVersion {
                version,
                fingerprint,
                policy: serde_json::to_string(policy).unwrap_or_default(),
                activated_at: to_db(now),
            },
        )?;
        let moved = recompute(conn, policy, version)?;
        tracing::info!(
            version,
            clocks = moved.0,
            enrollments = moved.1,
            "SLA policy activated"
        );
        Ok(ActivePolicy {
            version,
            policy: policy.clone(),
        })
    })
}

/// Moves every running clock and enrollment timer to `policy`. A deadline
/// already missed (stage breach or escalation) keeps its date; a timer that
/// already fired stays fired.
fn recompute(
    conn: &mut DbConnection,
    policy: &Policy,
    version: i32,
) -> Result<(usize, usize), QueryError> {
    let mut clocks = 0;
    let mut after: Option<ReferralId> = None;
    loop {
        let batch = sla::open_clocks(conn, after.as_ref(), BATCH)?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        for clock in &batch {
            let received = from_db(clock.received_at);
            let due = match clock.sla_stage {
                Some(stage) if stage.is_breached() => clock.sla_due_at,
                _ => Some(to_db(timers::due_at(policy, received))),
            };
            let next = timers::next_at(policy, received, clock.sla_stage).map(to_db);
            sla::reschedule(conn, &clock.id, due, next, version)?;
            clocks += 1;
        }
    }
    let running = sla::running_enrollments(conn, None)?;
    for e in &running {
        let follow_up = e.follow_up_notice_at.map(|_| {
            to_db(timers::follow_up_due(
                policy,
                e.start_date,
                e.last_follow_up,
            ))
        });
        let notice = e
            .contract_notice_at
            .map(|_| to_db(timers::contract_notice_at(policy, e.contract_end_date)));
        sla::set_enrollment_timers(conn, &e.referral_id, follow_up, notice)?;
    }
    Ok((clocks, running.len()))
}
