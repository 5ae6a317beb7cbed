//! The sweep (docs/product.md §4): finds what has become due and, for each item, in
//! one transaction, records the stage, writes the timeline event and puts
//! the e-mail in the outbox under a unique deduplication key.
//!
//! Reads go through the timer indexes only (`sla_next_at` on referrals, the
//! two notice columns on enrollments), so a sweep costs what is due. Every
//! write is a compare-and-set on the timer as it was read: of two engines,
//! or of an engine and a coordinator answering the family, exactly one wins,
//! and the loser writes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use avip_db::model::{
    ActorKind, CrecheId, DeliveryMode, EventId, EventKind, NoticeKind, NotificationKind,
    OrganizationId, ReferralId, SlaStage,
};
use avip_db::notifications::{self, Notification};
use avip_db::preferences;
use avip_db::referrals::{self as db_referrals, Event};
use avip_db::sla::{self, CrecheContacts, EnrollmentDue, EnrollmentTimer, OpenClock};
use avip_db::{DbConnection, QueryError, WriteGate};

use crate::daily;
use crate::mail::{MailItem, Notice, Rendered, render_digest, render_item};
use crate::policy::ActivePolicy;
use crate::timers::{self, from_db, to_db};

#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Base of the links in e-mails (`AVIP_PUBLIC_URL`).
    pub public_url: String,
    /// One e-mail per person per sweep instead of one per item.
    pub digest: bool,
    /// Items written per transaction (digest mode writes one transaction).
    pub batch: i64,
    /// Items taken by one sweep; the rest waits for the next one.
    pub max_items: usize,
}

impl SweepOptions {
    pub fn new(public_url: &str, digest: bool) -> SweepOptions {
        SweepOptions {
            public_url: public_url.trim_end_matches('/').to_owned(),
            digest,
            batch: 500,
            max_items: 50_000,
        }
    }
}

/// One thing that fired (or, in a dry run, would fire).
#[derive(Clone, Debug, Serialize)]
pub struct Fired {
    pub kind: NotificationKind,
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche: String,
    pub stage: Option<SlaStage>,
    /// The deadline, the follow-up's due time or the contract's end.
    pub due_at: DateTime<Utc>,
    pub recipients: Vec<String>,
    /// The outbox key (`None` when nobody can be told).
    pub dedup_key: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SweepReport {
    pub fired: Vec<Fired>,
    /// Outbox rows written (digests count once per person).
    pub notifications: usize,
    /// Items another engine or a coordinator changed first.
    pub lost_races: usize,
}

/// What a sweep found due.
#[derive(Clone, Debug)]
enum Due {
    /// `reached` fired; the clock moves to `next_at`.
    Stage {
        clock: OpenClock,
        read_next_at: chrono::NaiveDateTime,
        reached: SlaStage,
        next_at: Option<DateTime<Utc>>,
    },
    /// The timer was early for its stage (a policy changed under it): it
    /// only moves.
    Move {
        clock: OpenClock,
        read_next_at: chrono::NaiveDateTime,
        next_at: Option<DateTime<Utc>>,
    },
    Enrollment {
        timer: EnrollmentTimer,
        due: EnrollmentDue,
    },
}

/// Runs one sweep at `at`. With `dry_run`, reports what would fire and
/// writes nothing.
pub fn sweep(
    conn: &mut DbConnection,
    gate: &WriteGate,
    active: &ActivePolicy,
    options: &SweepOptions,
    at: DateTime<Utc>,
    dry_run: bool,
) -> Result<SweepReport, QueryError> {
    let due = find_due(conn, active, options, at)?;
    let mut contacts: HashMap<CrecheId, CrecheContacts> = HashMap::new();
    let creches: Vec<CrecheId> = {
        let mut ids: Vec<CrecheId> = due.iter().map(|d| creche_of(d).clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    for chunk in creches.chunks(500) {
        contacts.extend(sla::creche_contacts(conn, chunk)?);
    }
    let mut sweep = Sweep {
        active,
        options,
        at,
        contacts: &contacts,
        sweep_id: uuid::Uuid::now_v7(),
        report: SweepReport::default(),
        digest: BTreeMap::new(),
        modes: HashMap::new(),
    };
    if dry_run {
        for item in &due {
            if let Some(fired) = sweep.describe(item) {
                sweep.report.fired.push(fired);
            }
        }
        return Ok(sweep.report);
    }
    let chunk = if options.digest {
        due.len().max(1)
    } else {
        usize::try_from(options.batch.max(1)).unwrap_or(500)
    };
    for items in due.chunks(chunk) {
        let _turn = gate.turn();
        avip_db::write_transaction(conn, |conn| {
            for item in items {
                sweep.apply(conn, item)?;
            }
            sweep.write_digests(conn)
        })?;
    }
    Ok(sweep.report)
}

fn creche_of(due: &Due) -> &CrecheId {
    match due {
        Due::Stage { clock, .. } | Due::Move { clock, .. } => &clock.creche_id,
        Due::Enrollment { due, .. } => &due.creche_id,
    }
}

fn find_due(
    conn: &mut DbConnection,
    active: &ActivePolicy,
    options: &SweepOptions,
    at: DateTime<Utc>,
) -> Result<Vec<Due>, QueryError> {
    let policy = &active.policy;
    let mut due = Vec::new();
    let mut after = None;
    while due.len() < options.max_items {
        let batch = sla::first_responses_due(conn, to_db(at), after.as_ref(), options.batch)?;
        let Some(last) = batch.last() else { break };
        after = last.sla_next_at.map(|t| (t, last.id.clone()));
        let full = batch.len() as i64 == options.batch;
        for clock in batch {
            let Some(read_next_at) = clock.sla_next_at else {
                continue;
            };
            let received = from_db(clock.received_at);
            match timers::reached_by(policy, received, at) {
                Some(reached) if Some(reached) > clock.sla_stage => due.push(Due::Stage {
                    next_at: timers::next_at(policy, received, Some(reached)),
                    clock,
                    read_next_at,
                    reached,
                }),
                _ => due.push(Due::Move {
                    next_at: timers::next_at(policy, received, clock.sla_stage),
                    clock,
                    read_next_at,
                }),
            }
        }
        if !full {
            break;
        }
    }
    for timer in [EnrollmentTimer::FollowUp, EnrollmentTimer::ContractNotice] {
        let mut after = None;
        while due.len() < options.max_items {
            let batch =
                sla::enrollments_due(conn, timer, to_db(at), after.as_ref(), options.batch)?;
            let Some(last) = batch.last() else { break };
            after = Some((last.due_at, last.referral_id.clone()));
            let full = batch.len() as i64 == options.batch;
            due.extend(batch.into_iter().map(|due| Due::Enrollment { timer, due }));
            if !full {
                break;
            }
        }
    }
    Ok(due)
}

struct Sweep<'a> {
    active: &'a ActivePolicy,
    options: &'a SweepOptions,
    at: DateTime<Utc>,
    contacts: &'a HashMap<CrecheId, CrecheContacts>,
    sweep_id: uuid::Uuid,
    report: SweepReport,
    /// Digest mode: each person's items of this sweep, in the order found.
    digest: BTreeMap<String, Vec<(ReferralId, MailItem)>>,
    /// The delivery modes read during this sweep, by address, kind of
    /// notice and fallback organisation: read once per sweep, not once per
    /// item.
    modes: HashMap<(String, NoticeKind, Option<OrganizationId>), Option<DeliveryMode>>,
}

/// What one item announces, computed the same way for a dry run and a sweep.
struct Announcement {
    fired: Fired,
    event: EventKind,
    mail: MailItem,
}

/// What an item is about, before its recipients are known.
struct Facts<'i> {
    kind: NotificationKind,
    event: EventKind,
    referral_id: &'i ReferralId,
    reference: &'i String,
    creche_id: &'i CrecheId,
    received: DateTime<Utc>,
    stage: Option<SlaStage>,
    due_at: DateTime<Utc>,
}

impl Sweep<'_> {
    /// What `email` chose for `notice` (see `preferences::mode_for`),
    /// remembered for the rest of the sweep.
    fn mode_for(
        &mut self,
        conn: &mut DbConnection,
        email: &str,
        notice: NoticeKind,
        fallback: Option<&OrganizationId>,
    ) -> Result<Option<DeliveryMode>, QueryError> {
        let key = (email.to_owned(), notice, fallback.cloned());
        if let Some(mode) = self.modes.get(&key) {
            return Ok(*mode);
        }
        let mode = preferences::mode_for(conn, email, notice, fallback)?;
        self.modes.insert(key, mode);
        Ok(mode)
    }

    /// What an item announces: its kind, its referral and its deadline.
    fn facts<'i>(&self, item: &'i Due) -> Option<Facts<'i>> {
        let (kind, event, referral_id, reference, creche_id, received, stage, due_at) = match item {
            Due::Move { .. } => return None,
            Due::Stage { clock, reached, .. } => {
                let (kind, event) = match reached {
                    SlaStage::Warning => (
                        NotificationKind::FirstResponseWarning,
                        EventKind::SlaWarning,
                    ),
                    SlaStage::Breach => {
                        (NotificationKind::FirstResponseBreach, EventKind::SlaBreach)
                    }
                    SlaStage::Escalation => (
                        NotificationKind::FirstResponseEscalation,
                        EventKind::SlaEscalation,
                    ),
                };
                let received = from_db(clock.received_at);
                let due_at = clock
                    .sla_due_at
                    .map(from_db)
                    .unwrap_or_else(|| timers::due_at(&self.active.policy, received));
                (
                    kind,
                    event,
                    &clock.id,
                    &clock.reference,
                    &clock.creche_id,
                    received,
                    Some(*reached),
                    due_at,
                )
            }
            Due::Enrollment { timer, due } => {
                let (kind, event, due_at) = match timer {
                    EnrollmentTimer::FollowUp => (
                        NotificationKind::FollowUpOverdue,
                        EventKind::FollowUpOverdue,
                        from_db(due.due_at),
                    ),
                    EnrollmentTimer::ContractNotice => (
                        NotificationKind::ContractEnding,
                        EventKind::ContractEnding,
                        crate::clock::paris_midnight(due.contract_end_date),
                    ),
                };
                (
                    kind,
                    event,
                    &due.referral_id,
                    &due.reference,
                    &due.creche_id,
                    from_db(due.received_at),
                    None,
                    due_at,
                )
            }
        };
        Some(Facts {
            kind,
            event,
            referral_id,
            reference,
            creche_id,
            received,
            stage,
            due_at,
        })
    }

    fn announce(&self, item: &Due) -> Option<Announcement> {
        let Facts {
            kind,
            event,
            referral_id,
            reference,
            creche_id,
            received,
            stage,
            due_at,
        } = self.facts(item)?;
        let contacts = self.contacts.get(creche_id).cloned().unwrap_or_default();
        let recipients = recipients(kind, &contacts);
        let dedup_key = (!recipients.is_empty()).then(|| self.dedup_key(item, referral_id, stage));
        let link = format!("{}/api/v1/referrals/{referral_id}", self.options.public_url);
        let mail = MailItem::new(
            kind,
            reference,
            &contacts.name,
            received,
            due_at,
            link,
            self.at,
        );
        Some(Announcement {
            fired: Fired {
                kind,
                referral_id: referral_id.clone(),
                reference: reference.clone(),
                creche: contacts.name.clone(),
                stage,
                due_at,
                recipients,
                dedup_key,
            },
            event,
            mail,
        })
    }

    /// The key under which an item's notice is written once.
    fn dedup_key(&self, item: &Due, referral_id: &ReferralId, stage: Option<SlaStage>) -> String {
        match item {
            Due::Enrollment {
                timer: EnrollmentTimer::FollowUp,
                due,
            } => format!("follow_up:{}:{}", due.referral_id, due.due_at.date()),
            Due::Enrollment {
                timer: EnrollmentTimer::ContractNotice,
                due,
            } => format!("contract_end:{}:{}", due.referral_id, due.contract_end_date),
            _ => format!(
                "first_response:{referral_id}:{}:{}",
                stage.map_or("", SlaStage::as_str),
                self.active.version
            ),
        }
    }

    fn describe(&self, item: &Due) -> Option<Fired> {
        self.announce(item).map(|a| a.fired)
    }

    /// Writes one item: the compare-and-set first, so that a lost race
    /// writes nothing else.
    fn apply(&mut self, conn: &mut DbConnection, item: &Due) -> Result<(), QueryError> {
        let won = match item {
            Due::Move {
                clock,
                read_next_at,
                next_at,
            } => {
                sla::move_clock(conn, &clock.id, *read_next_at, next_at.map(to_db))?;
                return Ok(());
            }
            Due::Stage {
                clock,
                read_next_at,
                reached,
                next_at,
            } => sla::record_stage(
                conn,
                &clock.id,
                *read_next_at,
                *reached,
                next_at.map(to_db),
                to_db(self.at),
            )?,
            Due::Enrollment { timer, due } => {
                sla::clear_enrollment_timer(conn, *timer, &due.referral_id, due.due_at)?
            }
        };
        if !won {
            self.report.lost_races += 1;
            return Ok(());
        }
        if let Due::Enrollment {
            timer: EnrollmentTimer::ContractNotice,
            due,
        } = item
        {
            // The place the contract's end frees, for the waiting families.
            let after = due
                .contract_end_date
                .succ_opt()
                .unwrap_or(due.contract_end_date);
            avip_db::territory::record_booking_freed(
                conn,
                (&due.referral_id, avip_db::model::BookingKind::Enrollment),
                after,
                avip_db::model::FreedCause::ContractEnd,
                to_db(self.at),
            )?;
        }
        let Some(announcement) = self.announce(item) else {
            return Ok(());
        };
        let Some(queued) = self.deliver(conn, &announcement)? else {
            // Announced before (the same key): nothing more to say.
            self.report.lost_races += 1;
            return Ok(());
        };
        if let Due::Stage {
            clock,
            reached: SlaStage::Breach,
            ..
        } = item
        {
            self.tell_referent_of_breach(conn, clock, &announcement)?;
            avip_db::webhooks::enqueue(
                conn,
                &clock.id,
                avip_db::model::WebhookEvent::SlaBreached,
                to_db(self.at),
            )?;
        }
        self.record(conn, &announcement, queued)?;
        self.report.fired.push(announcement.fired);
        Ok(())
    }

    /// Queues an announcement's mail to each recipient as they chose:
    /// `Some(queued)`, or `None` when the same notice was written before.
    fn deliver(
        &mut self,
        conn: &mut DbConnection,
        announcement: &Announcement,
    ) -> Result<Option<bool>, QueryError> {
        let fired = &announcement.fired;
        let mut queued = false;
        if let Some(key) = &fired.dedup_key {
            // Each person as they chose (`sla_alert`); nobody chose: the
            // per-sweep digest of AVIP_SLA_DIGEST, or at once.
            let default = if self.options.digest {
                None
            } else {
                Some(DeliveryMode::Immediate)
            };
            let mut now_to = Vec::new();
            for to in &fired.recipients {
                let chosen = self.mode_for(conn, to, NoticeKind::SlaAlert, None)?;
                match chosen.or(default) {
                    Some(DeliveryMode::Immediate) => now_to.push(to.clone()),
                    Some(DeliveryMode::DailyDigest) => {
                        let title = format!(
                            "Orientation {} ({}) : {}",
                            fired.reference, fired.creche, announcement.mail.label
                        );
                        daily::hold(
                            conn,
                            key,
                            to,
                            NoticeKind::SlaAlert,
                            Some(&fired.referral_id),
                            &title,
                            &announcement.mail.link,
                            self.at,
                        )?;
                        queued = true;
                    }
                    Some(DeliveryMode::Off) => {}
                    None => {
                        self.digest
                            .entry(to.clone())
                            .or_default()
                            .push((fired.referral_id.clone(), announcement.mail.clone()));
                        queued = true;
                    }
                }
            }
            if !now_to.is_empty() {
                let rendered = render_item(&announcement.mail);
                queued = notifications::insert(
                    conn,
                    &self.outbox_row(
                        key.clone(),
                        fired.kind,
                        Some(fired.referral_id.clone()),
                        &now_to,
                        rendered,
                    ),
                )?;
                if !queued {
                    return Ok(None);
                }
                self.report.notifications += 1;
            }
        } else {
            tracing::warn!(
                referral = %fired.referral_id,
                reference = %fired.reference,
                kind = %fired.kind,
                "nobody to tell: the crèche has no active coordinator and no escalation address"
            );
        }
        Ok(Some(queued))
    }

    /// The referral's history says what was announced and to how many.
    fn record(
        &self,
        conn: &mut DbConnection,
        announcement: &Announcement,
        queued: bool,
    ) -> Result<(), QueryError> {
        let fired = &announcement.fired;
        let data = serde_json::json!({
            "stage": fired.stage,
            "due_at": fired.due_at,
            "policy_version": self.active.version,
            "notification": fired.dedup_key,
            "recipients": fired.recipients.len(),
            "digest": self.options.digest,
            "queued": queued,
        });
        db_referrals::insert_event(
            conn,
            &Event {
                id: EventId::generate(),
                referral_id: fired.referral_id.clone(),
                kind: announcement.event,
                occurred_at: to_db(self.at),
                actor_kind: ActorKind::System,
                actor_id: None,
                from_status: None,
                to_status: None,
                reason: None,
                note: None,
                data: Some(data.to_string()),
            },
        )?;
        Ok(())
    }

    /// The referent hears that the crèche has not answered in time, once
    /// per referral (whatever the policy version), at once whatever the
    /// coordinators' mode: a closed referral has no clock, so nothing is
    /// said once it is answered.
    fn tell_referent_of_breach(
        &mut self,
        conn: &mut DbConnection,
        clock: &OpenClock,
        announcement: &Announcement,
    ) -> Result<(), QueryError> {
        let notice = Notice {
            reference: clock.reference.clone(),
            title: format!(
                "Orientation {} : la crèche n'a pas encore répondu",
                clock.reference
            ),
            intro: "La crèche n'a pas répondu à la famille que vous avez orientée dans le \
                    délai prévu. La coordination AVIP de la crèche a été relancée."
                .to_owned(),
            rows: vec![
                ("Crèche".to_owned(), announcement.fired.creche.clone()),
                ("Reçue le".to_owned(), announcement.mail.received.clone()),
                (
                    "Échéance dépassée".to_owned(),
                    announcement.mail.due.clone(),
                ),
            ],
            link: format!("{}/app/orientations/{}", self.options.public_url, clock.id),
            why: crate::mail::AS_REFERENT,
        };
        let key = format!("referent:sla_breach:{}", clock.id);
        let mode = self
            .mode_for(
                conn,
                &clock.referent_email,
                NoticeKind::ReferralSlaBreach,
                Some(&clock.prescriber_organization_id),
            )?
            .unwrap_or(DeliveryMode::Immediate);
        if daily::tell_referent(
            conn,
            mode,
            &key,
            &clock.referent_email,
            NoticeKind::ReferralSlaBreach,
            &clock.id,
            &notice,
            self.at,
        )? {
            self.report.notifications += 1;
        }
        Ok(())
    }

    /// Digest mode: one outbox row per person for everything of this sweep.
    fn write_digests(&mut self, conn: &mut DbConnection) -> Result<(), QueryError> {
        for (to, items) in std::mem::take(&mut self.digest) {
            let mails: Vec<MailItem> = items.iter().map(|(_, m)| m.clone()).collect();
            let key = format!("digest:{to}:{}", self.sweep_id);
            if notifications::insert(
                conn,
                &self.outbox_row(
                    key,
                    NotificationKind::Digest,
                    None,
                    std::slice::from_ref(&to),
                    render_digest(&mails),
                ),
            )? {
                self.report.notifications += 1;
            }
        }
        Ok(())
    }

    fn outbox_row(
        &self,
        dedup_key: String,
        kind: NotificationKind,
        referral_id: Option<ReferralId>,
        recipients: &[String],
        rendered: Rendered,
    ) -> Notification {
        Notification::pending(dedup_key, kind, recipients, rendered, to_db(self.at))
            .about(referral_id)
    }
}

/// Who is told (docs/product.md §4): the crèche's coordinators; for an escalation,
/// also its escalation address. A crèche without an active coordinator has
/// its escalation address told instead, so that nothing goes unheard.
pub fn recipients(kind: NotificationKind, contacts: &CrecheContacts) -> Vec<String> {
    let mut to = contacts.coordinators.clone();
    let escalation = kind == NotificationKind::FirstResponseEscalation;
    if (escalation || to.is_empty())
        && let Some(address) = &contacts.escalation_email
    {
        to.push(address.clone());
    }
    to.sort();
    to.dedup();
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalations_also_go_to_the_direction() {
        let contacts = CrecheContacts {
            name: "Les Petits Pas".into(),
            escalation_email: Some("direction@example.org".into()),
            coordinators: vec!["b@example.org".into(), "a@example.org".into()],
        };
        assert_eq!(
            recipients(NotificationKind::FirstResponseBreach, &contacts),
            ["a@example.org", "b@example.org"]
        );
        assert_eq!(
            recipients(NotificationKind::FirstResponseEscalation, &contacts),
            ["a@example.org", "b@example.org", "direction@example.org"]
        );
        let alone = CrecheContacts {
            coordinators: vec![],
            ..contacts.clone()
        };
        assert_eq!(
            recipients(NotificationKind::FirstResponseWarning, &alone),
            ["direction@example.org"]
        );
        let nobody = CrecheContacts {
            escalation_email: None,
            ..alone
        };
        assert!(recipients(NotificationKind::ContractEnding, &nobody).is_empty());
    }
}
