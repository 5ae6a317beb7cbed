//! What the referent who sent a referral is told, by e-mail through the
//! outbox, in the transaction of the fact itself: each decision of the
//! crèche, the enrollment and the exit (the SLA breach is told by the
//! sweep). One row per fact, kept unique by its deduplication key, so a
//! retried request never tells twice. No family name, phone or birth date:
//! the reference and the link lead to the rest.

use avip_db::model::{ChildcareSolution, DeclineReason, ExitReason, TransferReason};
use avip_db::model::{DeliveryMode, EventId, NoticeKind, ReferralId, ReferralStatus};
use avip_db::referrals::Referral;
use avip_db::{DbConnection, QueryError};
use avip_sla_engine::daily;
use avip_sla_engine::mail::Notice;
use chrono::{DateTime, NaiveDate, Utc};

use crate::labels as fr;

/// What happened to the referral.
pub enum News<'a> {
    /// The crèche contacted the family, offered a place, put it on the
    /// waiting list or declined (with its reason code).
    Decision {
        to: ReferralStatus,
        reason: Option<&'a str>,
    },
    Enrolled {
        start: NaiveDate,
    },
    Exited(ExitNews),
    /// The exit was corrected; `event`: the correction's timeline entry,
    /// so that each correction is told once.
    ExitCorrected {
        exit: ExitNews,
        why: &'a str,
        event: &'a EventId,
    },
    /// The referral was handed from the crèche `from` to its crèche now;
    /// `event`: the transfer's timeline entry.
    Transferred {
        from: &'a str,
        reason: TransferReason,
        status: ReferralStatus,
        event: &'a EventId,
    },
    /// The offer's hold ended on `last_day` without an answer.
    OfferExpired {
        last_day: NaiveDate,
    },
    /// The family is still on the waiting list after `days` days without
    /// a move; `period`: which period of the review, so that each is told
    /// once.
    StillWaiting {
        days: i64,
        period: &'a str,
    },
}

/// An exit as the referent reads it.
pub struct ExitNews {
    pub date: NaiveDate,
    pub reason: ExitReason,
    pub positive: bool,
    pub solution: ChildcareSolution,
}

impl ExitNews {
    fn rows(&self) -> Vec<(String, String)> {
        vec![
            ("Date de sortie".to_owned(), fr::date(self.date)),
            ("Motif".to_owned(), fr::exit_reason(self.reason).to_owned()),
            (
                "Sortie positive".to_owned(),
                if self.positive { "oui" } else { "non" }.to_owned(),
            ),
            (
                "Solution de garde durable".to_owned(),
                fr::childcare(self.solution).to_owned(),
            ),
        ]
    }
}

impl News<'_> {
    /// What the referent is told: the fact's name, the title, the
    /// introduction and the rows particular to it.
    fn wording(
        &self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        Vec<(String, String)>,
    ) {
        match self {
            News::Decision { to, reason } => {
                let (title, intro, rows) = decision(*to, *reason);
                (to.as_str(), title, intro, rows)
            }
            News::Enrolled { start } => (
                "enrolled",
                "l’enfant est accueilli",
                "L’enfant de la famille que vous avez orientée est accueilli sur une place AVIP.",
                vec![("Début de l’accueil".to_owned(), fr::date(*start))],
            ),
            News::Exited(exit) => (
                "exited",
                "sortie du dispositif AVIP",
                "L’accueil sur la place AVIP de l’enfant de la famille que vous avez orientée a pris fin.",
                exit.rows(),
            ),
            News::ExitCorrected { exit, why, .. } => {
                let mut rows = exit.rows();
                rows.push(("Motif de la correction".to_owned(), (*why).to_owned()));
                (
                    "exit_corrected",
                    "sortie corrigée",
                    "La crèche a corrigé la sortie du dispositif AVIP de l’enfant de la famille que vous avez orientée. Voici la sortie telle qu’elle est maintenant enregistrée.",
                    rows,
                )
            }
            News::Transferred { from, reason, .. } => (
                "transferred",
                "transférée vers une autre crèche",
                "La famille que vous avez orientée a été transférée vers une autre crèche AVIP du territoire, qui la suit désormais. Son dossier et son historique la suivent.",
                vec![
                    ("Crèche précédente".to_owned(), (*from).to_owned()),
                    (
                        "Motif du transfert".to_owned(),
                        fr::transfer_reason(*reason).to_owned(),
                    ),
                ],
            ),
            News::OfferExpired { last_day } => (
                "offer_expired",
                "l’offre de place a expiré",
                "La place proposée à la famille que vous avez orientée n’a pas reçu de \
                 réponse dans le délai prévu : elle n’est plus réservée. La crèche décide \
                 de la suite (une nouvelle proposition, la liste d’attente ou une autre \
                 solution) et vous en serez informé.",
                vec![("Place réservée jusqu’au".to_owned(), fr::date(*last_day))],
            ),
            News::StillWaiting { days, .. } => (
                "still_waiting",
                "famille toujours sur liste d’attente",
                "La famille que vous avez orientée est toujours sur la liste d’attente de \
                 la crèche : aucune place ne s’est encore libérée sur ses jours. La crèche \
                 garde sa demande et revoit sa situation.",
                vec![("En attente depuis".to_owned(), format!("{days} jours"))],
            ),
        }
    }

    /// The referral's status after the news.
    fn status(&self) -> ReferralStatus {
        match self {
            News::Decision { to, .. } => *to,
            News::Enrolled { .. } => ReferralStatus::Enrolled,
            News::Exited(_) | News::ExitCorrected { .. } => ReferralStatus::Exited,
            News::Transferred { status, .. } => *status,
            News::OfferExpired { .. } => ReferralStatus::Offered,
            News::StillWaiting { .. } => ReferralStatus::Waitlisted,
        }
    }

    /// The notice the referent's preferences are asked about.
    fn kind(&self) -> NoticeKind {
        match self {
            News::Decision { .. }
            | News::Transferred { .. }
            | News::OfferExpired { .. }
            | News::StillWaiting { .. } => NoticeKind::ReferralDecision,
            News::Enrolled { .. } => NoticeKind::ReferralEnrollment,
            News::Exited(_) | News::ExitCorrected { .. } => NoticeKind::ReferralExit,
        }
    }

    /// What tells one fact from another of the same name on a referral.
    fn key(&self, fact: &str, referral: &ReferralId) -> String {
        match self {
            News::ExitCorrected { event, .. } | News::Transferred { event, .. } => {
                format!("referent:{fact}:{referral}:{event}")
            }
            News::OfferExpired { last_day } => format!("referent:{fact}:{referral}:{last_day}"),
            News::StillWaiting { period, .. } => format!("referent:{fact}:{referral}:{period}"),
            _ => format!("referent:{fact}:{referral}"),
        }
    }
}

/// The title, introduction and rows of a coordinator's decision.
fn decision(
    to: ReferralStatus,
    reason: Option<&str>,
) -> (&'static str, &'static str, Vec<(String, String)>) {
    let (title, intro) = match to {
        ReferralStatus::Contacted => (
            "la crèche a contacté la famille",
            "La crèche a pris contact avec la famille que vous avez orientée.",
        ),
        ReferralStatus::Offered => (
            "une place est proposée",
            "La crèche propose une place d’accueil à la famille que vous avez orientée.",
        ),
        ReferralStatus::Waitlisted => (
            "famille sur liste d’attente",
            "La crèche a inscrit la famille que vous avez orientée sur sa liste \
             d’attente.",
        ),
        _ => (
            "orientation refusée",
            "La crèche ne peut pas accueillir la famille que vous avez orientée.",
        ),
    };
    let mut rows = Vec::new();
    if to == ReferralStatus::Declined {
        let reason = reason
            .and_then(|r| r.parse::<DeclineReason>().ok())
            .map_or("Non précisé", fr::decline);
        rows.push(("Motif".to_owned(), reason.to_owned()));
    }
    (title, intro, rows)
}

/// Queues the e-mail telling `referral`'s referent of `news`.
/// `public_url`: `AVIP_PUBLIC_URL`, the base of the link.
pub fn tell_referent(
    conn: &mut DbConnection,
    referral: &Referral,
    news: &News<'_>,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    let creche = avip_db::creches::name_of(conn, &referral.creche_id)?;
    let reference = &referral.reference;
    let (fact, title, intro, mut rows) = news.wording();
    rows.insert(0, ("Crèche".to_owned(), creche));
    rows.insert(
        1,
        ("Statut".to_owned(), fr::status(news.status()).to_owned()),
    );
    let notice = Notice {
        reference: reference.clone(),
        title: format!("Orientation {reference} : {title}"),
        intro: intro.to_owned(),
        rows,
        link: format!(
            "{}/app/orientations/{}",
            public_url.trim_end_matches('/'),
            referral.id
        ),
        why: avip_sla_engine::mail::AS_REFERENT,
    };
    let kind = news.kind();
    let dedup_key = news.key(fact, &referral.id);
    let mode = daily::mode_for(
        conn,
        &referral.referent_email,
        kind,
        Some(&referral.prescriber_organization_id),
        DeliveryMode::Immediate,
    )?;
    daily::tell_referent(
        conn,
        mode,
        &dedup_key,
        &referral.referent_email,
        kind,
        &referral.id,
        &notice,
        now,
    )?;
    Ok(())
}

/// How a family came to a crèche.
pub enum Arrival<'a> {
    /// Sent by its prescriber.
    Intake,
    /// Handed over by another crèche (`from`, its name); `event`: the
    /// transfer's timeline entry, so that each transfer is told once.
    Transfer {
        from: &'a str,
        reason: TransferReason,
        event: &'a EventId,
    },
}

/// Tells each coordinator of `referral`'s crèche that the family arrived
/// (`referral_received`), as each chose: at once (nobody chose), in the
/// daily digest, or not at all. In the intake's (or the transfer's)
/// transaction; it is not a first response. Returns how many e-mails were
/// queued now.
pub fn tell_coordinators_of_arrival(
    conn: &mut DbConnection,
    referral: &Referral,
    arrival: &Arrival<'_>,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<usize, QueryError> {
    let contacts = avip_db::sla::creche_contacts(conn, std::slice::from_ref(&referral.creche_id))?;
    let Some(creche) = contacts.get(&referral.creche_id) else {
        return Ok(0);
    };
    let reference = &referral.reference;
    let prescriber = avip_db::organizations::get(conn, &referral.prescriber_organization_id)?.name;
    let mut rows = vec![
        ("Crèche".to_owned(), creche.name.clone()),
        ("Prescripteur".to_owned(), prescriber),
        (
            "Reçue le".to_owned(),
            fr::datetime(referral.received_at.and_utc()),
        ),
    ];
    let waiting = referral.first_response_at.is_none();
    if let (Some(due), true) = (referral.sla.due_at, waiting) {
        rows.push((
            "Réponse à la famille avant le".to_owned(),
            fr::datetime(due.and_utc()),
        ));
    }
    let (title, intro) = arrival_words(arrival, waiting, &mut rows);
    let notice = Notice {
        reference: reference.clone(),
        title: format!("Orientation {reference} : {title}"),
        intro,
        rows,
        link: format!(
            "{}/app/orientations/{}",
            public_url.trim_end_matches('/'),
            referral.id
        ),
        why: avip_sla_engine::mail::AS_COORDINATOR,
    };
    let mut queued = 0;
    for email in &creche.coordinators {
        let kind = NoticeKind::ReferralReceived;
        let mode = daily::mode_for(conn, email, kind, None, DeliveryMode::Immediate)?;
        let key = match arrival {
            Arrival::Intake => format!("coordinator:referral_received:{}:{email}", referral.id),
            Arrival::Transfer { event, .. } => {
                format!(
                    "coordinator:referral_transferred:{}:{event}:{email}",
                    referral.id
                )
            }
        };
        let outbox = (mode, avip_db::model::NotificationKind::ArrivalNotice);
        if daily::tell(
            conn,
            outbox,
            &key,
            email,
            kind,
            Some(&referral.id),
            &notice,
            now,
        )? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The title and introduction of an arrival notice; a transfer adds who
/// handed the family over and why to `rows`.
fn arrival_words(
    arrival: &Arrival<'_>,
    waiting: bool,
    rows: &mut Vec<(String, String)>,
) -> (String, String) {
    match arrival {
        Arrival::Intake => (
            "nouvelle famille orientée".to_owned(),
            "Une famille vient d’être orientée vers votre crèche. Elle attend une \
             première réponse de votre part avant l’échéance indiquée ci-dessous."
                .to_owned(),
        ),
        Arrival::Transfer { from, reason, .. } => {
            rows.push(("Transférée par".to_owned(), (*from).to_owned()));
            rows.push((
                "Motif du transfert".to_owned(),
                fr::transfer_reason(*reason).to_owned(),
            ));
            let then = if waiting {
                "Elle attend toujours une première réponse : l’échéance court depuis \
                 son orientation et reste celle indiquée ci-dessous."
            } else {
                "Elle a déjà reçu une première réponse de l’autre crèche."
            };
            (
                "famille transférée vers votre crèche".to_owned(),
                format!("La crèche {from} vous transfère une famille. {then}"),
            )
        }
    }
}

/// Tells each coordinator of `creche` of `notice` (about `referral`, if
/// about one) as each chose for the engine's e-mails (`sla_alert`): at once
/// (nobody chose), in the daily digest, or not at all; a crèche without a
/// coordinator has its escalation address told instead. Each under
/// `key` and her address, so it is told once. Returns how many e-mails
/// were queued now.
pub fn tell_coordinators(
    conn: &mut DbConnection,
    (creche, referral): (&avip_db::model::CrecheId, Option<&ReferralId>),
    key: &str,
    notice: &Notice,
    now: DateTime<Utc>,
) -> Result<usize, QueryError> {
    let contacts = avip_db::sla::creche_contacts(conn, std::slice::from_ref(creche))?;
    let Some(contacts) = contacts.get(creche) else {
        return Ok(0);
    };
    let outbox = avip_db::model::NotificationKind::CoordinatorNotice;
    let mut queued = 0;
    for email in avip_sla_engine::sweep::recipients(outbox, contacts) {
        let kind = NoticeKind::SlaAlert;
        let mode = daily::mode_for(conn, &email, kind, None, DeliveryMode::Immediate)?;
        let key = format!("{key}:{email}");
        if daily::tell(
            conn,
            (mode, outbox),
            &key,
            &email,
            kind,
            referral,
            notice,
            now,
        )? {
            queued += 1;
        }
    }
    Ok(queued)
}
