//! Referrals written straight into the database, many per transaction:
//! the volumes benchmarks and the slow-reader tests need, in seconds.

use std::time::{Duration, Instant};

use avip_db::model::{
    ActorKind, ChildId, CrecheId, EventId, EventKind, OrganizationId, ParentSituation, ProjectKind,
    ReferralId, ReferralStatus, to_db_time,
};
use avip_db::referrals::{Child, Event, Family, NewReferral, Referral};
use chrono::{Duration as ChronoDuration, Utc};

/// Rows as intake writes them, straight through diesel, many per transaction.
pub fn seed_referrals(
    url: &str,
    rows: usize,
    creches: &[CrecheId],
    prescriber_org: &OrganizationId,
) -> Duration {
    let mut conn = avip_db::connect(url).unwrap();
    let started = Instant::now();
    let base = Utc::now() - ChronoDuration::days(400);
    let statuses = ReferralStatus::ALL;
    let batch = 2_000;
    for chunk in 0..rows.div_ceil(batch) {
        avip_db::write_transaction(&mut conn, |conn| {
            for n in chunk * batch..((chunk + 1) * batch).min(rows) {
                let id = ReferralId::generate();
                let at = to_db_time(base + ChronoDuration::seconds(n as i64 * 30));
                let referral = Referral {
                    id: id.clone(),
                    reference: format!("AVIP-83-BENCH-{n:07}"),
                    prescriber_organization_id: prescriber_org.clone(),
                    creche_id: creches[n % creches.len()].clone(),
                    created_by: "seed".into(),
                    idempotency_key: None,
                    request_fingerprint: None,
                    referent_name: "Paul Durand".into(),
                    referent_email: "p.durand@example.org".into(),
                    referent_phone: None,
                    parent_situation: ParentSituation::JobSeeker,
                    single_parent: true,
                    qpv_resident: false,
                    desired_start_date: Some(at.date()),
                    days_per_week: Some(4),
                    atypical_hours: false,
                    insertion_project_kind: ProjectKind::Training,
                    consent_given: true,
                    consent_date: at.date(),
                    status: statuses[(n / creches.len()) % statuses.len()],
                    received_at: at,
                    first_response_at: None,
                    closed_at: None,
                    updated_at: at,
                    sla: avip_db::referrals::FirstResponseClock {
                        due_at: Some(at + ChronoDuration::hours(72)),
                        ..Default::default()
                    },
                    anonymised_at: None,
                    closing_reason: None,
                };
                let new = NewReferral {
                    needs: None,
                    family: Family {
                        referral_id: id.clone(),
                        parent_first_name: "Amina".into(),
                        parent_last_name: format!("Seed{n}"),
                        parent_phone: Some("0612345678".into()),
                        parent_email: None,
                        parent_postal_code: "83000".into(),
                        parent_commune: "Toulon".into(),
                        france_travail_id: None,
                        needs_notes: None,
                        insertion_project_description: None,
                        pseudonym: None,
                        age_bracket: None,
                        parent_contact: None,
                    },
                    children: vec![Child {
                        id: ChildId::generate(),
                        referral_id: id.clone(),
                        position: 0,
                        first_name: "Yanis".into(),
                        birth_date: at.date(),
                    }],
                    child_keys: if referral.status.is_closed() {
                        Vec::new()
                    } else {
                        vec![format!("seed-{n}")]
                    },
                    event: Event {
                        id: EventId::generate(),
                        referral_id: id.clone(),
                        kind: EventKind::Created,
                        occurred_at: at,
                        actor_kind: ActorKind::User,
                        actor_id: None,
                        from_status: None,
                        to_status: Some(ReferralStatus::Received),
                        reason: None,
                        note: None,
                        data: None,
                    },
                    referral,
                };
                avip_db::referrals::insert(conn, &new)?;
            }
            Ok::<_, avip_db::QueryError>(())
        })
        .unwrap();
        if chunk % 50 == 49 {
            eprintln!("  seeded {} rows", (chunk + 1) * batch);
        }
    }
    started.elapsed()
}
