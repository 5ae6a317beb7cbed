//! The parent's situation 3 and 6 months after the exit. On each due day
//! the engine asks the referent named on the referral, by an e-mail with a
//! link that needs no account (signed for that referral and that date,
//! valid 30 days, good for one answer), then reminds her once after 10
//! days; the prescriber's systems are told by `referral.outcome_requested`
//! and may answer through the API. The answer goes on the timeline.

use avip_db::model::{
    ActorKind, DeliveryMode, EventKind, NoticeKind, OutcomeAt, OutcomeSituation, ReferralId,
    ReferralStatus, WebhookEvent, to_db_time,
};
use avip_db::outcomes::{self, Outcome};
use avip_db::referrals::{self, Referral};
use avip_db::{DbConnection, Pool, QueryError, WriteGate, webhooks};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::daily;
use avip_sla_engine::mail::Notice;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::labels as fr;
use crate::workflow::links::LinkKey;
use crate::workflow::referrals::{actor, event_by, load_for, record_system_event};

/// How long a link answers after the request was sent.
pub const LINK_DAYS: i64 = 30;
/// When an unanswered request is reminded, once.
pub const REMIND_AFTER_DAYS: i64 = 10;
const KEY_NAME: &str = "outcome_link_key";
const BATCH: i64 = 200;

/// When the links of a request sent at `requested` stop answering.
fn expiry(requested: chrono::NaiveDateTime) -> i64 {
    (requested.and_utc() + Duration::days(LINK_DAYS)).timestamp()
}

fn link(
    public_url: &str,
    key: &LinkKey,
    outcome: &Outcome,
    requested: chrono::NaiveDateTime,
) -> String {
    let token = key.sign(
        &format!("outcome:{}:{}", outcome.referral_id, outcome.at),
        expiry(requested),
    );
    format!(
        "{}/app/suivi/{}/{}/{token}",
        public_url.trim_end_matches('/'),
        outcome.referral_id,
        outcome.at
    )
}

/// The e-mail to the referent (the request or its reminder), as she chose
/// to receive this kind of notice; nothing when she chose `off`.
fn tell(
    conn: &mut DbConnection,
    referral: &Referral,
    outcome: &Outcome,
    link: String,
    reminder: bool,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    let creche = avip_db::creches::name_of(conn, &referral.creche_id)?;
    let exit = referrals::enrollment(conn, &referral.id)?.and_then(|e| e.exit_date);
    let (word, key) = if reminder {
        ("rappel : ", "outcome_reminder")
    } else {
        ("", "outcome_request")
    };
    let notice = Notice {
        reference: referral.reference.clone(),
        title: format!(
            "Orientation {} : {word}où en est le parent {} après la sortie ?",
            referral.reference,
            fr::after_exit(outcome.at)
        ),
        intro: format!(
            "L’enfant de la famille que vous avez orientée a quitté sa place AVIP. Pour évaluer le \
             dispositif, dites-nous où en est le parent aujourd’hui, {} après la sortie : une seule \
             question, sans compte, en une minute. Le lien est valable {LINK_DAYS} jours et sert une fois.",
            fr::after_exit(outcome.at)
        ),
        rows: vec![
            ("Crèche".to_owned(), creche),
            (
                "Date de sortie".to_owned(),
                exit.map(fr::date).unwrap_or_default(),
            ),
        ],
        link,
        why: avip_sla_engine::mail::AS_REFERENT,
    };
    let mode = daily::mode_for(
        conn,
        &referral.referent_email,
        NoticeKind::OutcomeRequest,
        Some(&referral.prescriber_organization_id),
        DeliveryMode::Immediate,
    )?;
    let dedup_key = format!("referent:{key}:{}:{}", outcome.at, referral.id);
    daily::tell_referent(
        conn,
        mode,
        &dedup_key,
        &referral.referent_email,
        NoticeKind::OutcomeRequest,
        &referral.id,
        &notice,
        now,
    )?;
    Ok(())
}

/// The engine's job: every request due by `now` is sent, every request
/// unanswered for [`REMIND_AFTER_DAYS`] reminded, each once, in its own
/// transaction, a batch at a time through the writer. Returns how many
/// e-mails (requests and reminders) were written.
pub fn run_due(
    pool: &Pool,
    gate: &WriteGate,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let mut done = 0;
    loop {
        // A read first: the writer's turn is taken only when something is due.
        let mut conn = avip_db::blocking::checkout(pool)?;
        let sent_by = to_db_time(now - Duration::days(REMIND_AFTER_DAYS));
        let due = !outcomes::due_requests(&mut conn, paris_date(now), 1)?.is_empty()
            || !outcomes::due_reminders(&mut conn, sent_by, 1)?.is_empty();
        drop(conn);
        if !due {
            return Ok(done);
        }
        let links = public_url.to_owned();
        let batch = avip_db::blocking::write_blocking(pool, gate, move |conn| {
            run_due_batch(conn, &links, now, BATCH)
        })?;
        if batch == 0 {
            return Ok(done);
        }
        done += batch;
    }
}

/// Up to `limit` requests and `limit` reminders due at `now`, on `conn`
/// (one run of [`run_due`]'s loop).
pub fn run_due_batch(
    conn: &mut DbConnection,
    public_url: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<usize, DomainError> {
    let key = LinkKey::load(conn, KEY_NAME, now)?;
    let mut done = 0;
    for (id, at) in outcomes::due_requests(conn, paris_date(now), limit)? {
        done += usize::from(ask(conn, &key, &id, at, public_url, now, false)?);
    }
    let sent_by = to_db_time(now - Duration::days(REMIND_AFTER_DAYS));
    for (id, at) in outcomes::due_reminders(conn, sent_by, limit)? {
        done += usize::from(ask(conn, &key, &id, at, public_url, now, true)?);
    }
    Ok(done)
}

/// Sends one request (or its reminder), if nobody did first.
fn ask(
    conn: &mut DbConnection,
    key: &LinkKey,
    id: &ReferralId,
    at: OutcomeAt,
    public_url: &str,
    now: DateTime<Utc>,
    reminder: bool,
) -> Result<bool, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let marked = if reminder {
            outcomes::mark_reminded(conn, id, at, to_db_time(now))?
        } else {
            outcomes::mark_requested(conn, id, at, to_db_time(now))?
        };
        let Some(outcome) = outcomes::get(conn, id, at)?.filter(|_| marked) else {
            return Ok(false);
        };
        let referral = referrals::get_referral(conn, id)?;
        if referral.status != ReferralStatus::Exited {
            return Ok(false);
        }
        let requested = outcome.requested_at.unwrap_or(to_db_time(now));
        tell(
            conn,
            &referral,
            &outcome,
            link(public_url, key, &outcome, requested),
            reminder,
            now,
        )?;
        if !reminder {
            webhooks::enqueue(conn, id, WebhookEvent::OutcomeRequested, to_db_time(now))?;
        }
        let data = serde_json::json!({"at": at, "reminder": reminder});
        record_system_event(conn, id, EventKind::OutcomeRequested, data, now)?;
        Ok(true)
    })
}

/// What the referent's page shows: no family data.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub reference: String,
    pub creche: String,
    pub exit_date: Option<NaiveDate>,
    pub at: OutcomeAt,
}

/// The request a link answers, if the link is good now: signed for that
/// referral and date, not expired, not used. Anything else is `NotFound`,
/// whatever the reason, so a link tells nothing of other referrals.
fn open(
    conn: &mut DbConnection,
    id: &str,
    at: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Referral, Outcome), DomainError> {
    let (Some(id), Ok(at)) = (ReferralId::parse(id), at.parse::<OutcomeAt>()) else {
        return Err(DomainError::NotFound);
    };
    let key = LinkKey::stored(conn, KEY_NAME)?.ok_or(DomainError::NotFound)?;
    if !key.verify(&format!("outcome:{id}:{at}"), token, now) {
        return Err(DomainError::NotFound);
    }
    let outcome = outcomes::get(conn, &id, at)?
        .filter(|o| o.answered_at.is_none())
        .filter(|o| o.requested_at.is_some_and(|r| expiry(r) >= now.timestamp()))
        .ok_or(DomainError::NotFound)?;
    let referral = referrals::get_referral(conn, &id)?;
    if referral.status != ReferralStatus::Exited {
        return Err(DomainError::NotFound);
    }
    Ok((referral, outcome))
}

fn view(
    conn: &mut DbConnection,
    referral: &Referral,
    at: OutcomeAt,
) -> Result<LinkView, DomainError> {
    Ok(LinkView {
        reference: referral.reference.clone(),
        creche: avip_db::creches::name_of(conn, &referral.creche_id)?,
        exit_date: referrals::enrollment(conn, &referral.id)?.and_then(|e| e.exit_date),
        at,
    })
}

/// `GET /app/suivi/{id}/{at}/{token}`: the question, if the link is good.
pub fn read_link(
    conn: &mut DbConnection,
    id: &str,
    at: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<LinkView, DomainError> {
    let (referral, outcome) = open(conn, id, at, token, now)?;
    view(conn, &referral, outcome.at)
}

/// The answer through the link, once.
pub fn answer_link(
    conn: &mut DbConnection,
    id: &str,
    at: &str,
    token: &str,
    situation: OutcomeSituation,
    now: DateTime<Utc>,
) -> Result<LinkView, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let (referral, outcome) = open(conn, id, at, token, now)?;
        record(
            conn,
            &referral.id,
            outcome.at,
            situation,
            "link",
            (ActorKind::System, None),
            now,
        )?;
        view(conn, &referral, outcome.at)
    })
}

fn record(
    conn: &mut DbConnection,
    id: &ReferralId,
    at: OutcomeAt,
    situation: OutcomeSituation,
    via: &str,
    (actor_kind, actor_id): (ActorKind, Option<String>),
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if !outcomes::answer(conn, id, at, situation, via, to_db_time(now))? {
        return Err(DomainError::NotFound);
    }
    let mut ev = event_by((actor_kind, actor_id), id, EventKind::OutcomeRecorded, now);
    ev.data =
        Some(serde_json::json!({"at": at, "employment_status": situation, "via": via}).to_string());
    referrals::insert_event(conn, &ev)?;
    referrals::touch(conn, id, to_db_time(now))?;
    Ok(())
}

/// `POST /api/v1/referrals/{id}/outcomes`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "6_months", "employment_status": "employed_permanent"}))]
pub struct OutcomeRequest {
    pub at: OutcomeAt,
    /// The parent's situation then; `unknown` when the referent cannot say.
    pub employment_status: OutcomeSituation,
}

/// One of the two situations after the exit, as the API shows it.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"at": "6_months", "due_on": "2027-11-30",
    "requested_at": "2027-11-30T06:00:00Z", "answered_at": "2027-12-02T09:12:00Z",
    "employment_status": "employed_permanent", "answered_via": "api"}))]
pub struct OutcomeBody {
    pub at: OutcomeAt,
    /// The day the referent is asked.
    pub due_on: NaiveDate,
    pub requested_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub employment_status: Option<OutcomeSituation>,
    /// `link` (the referent's page) or `api`.
    pub answered_via: Option<String>,
}

impl From<Outcome> for OutcomeBody {
    fn from(o: Outcome) -> OutcomeBody {
        OutcomeBody {
            at: o.at,
            due_on: o.due_on,
            requested_at: o.requested_at.map(|t| t.and_utc()),
            answered_at: o.answered_at.map(|t| t.and_utc()),
            employment_status: o.situation,
            answered_via: o.answered_via,
        }
    }
}

/// The prescriber organisation answers for its referral, from its due day
/// on, once (`409` before it is due or once answered).
pub fn answer_api(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: OutcomeRequest,
    now: DateTime<Utc>,
) -> Result<Outcome, DomainError> {
    require(who, Action::ReportOutcome, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::ReportOutcome)?;
        let outcome = outcomes::get(conn, id, request.at)?
            .filter(|_| referral.status == ReferralStatus::Exited)
            .ok_or_else(|| {
                conflict(
                    &referral,
                    "the referral has no recorded exit to report on".into(),
                )
            })?;
        if outcome.answered_at.is_some() {
            return Err(conflict(
                &referral,
                format!("the {} situation is already recorded", request.at),
            ));
        }
        if outcome.due_on > paris_date(now) {
            return Err(conflict(
                &referral,
                format!(
                    "the {} situation is due from {}",
                    request.at, outcome.due_on
                ),
            ));
        }
        record(
            conn,
            id,
            request.at,
            request.employment_status,
            "api",
            actor(who),
            now,
        )?;
        outcomes::get(conn, id, request.at)?.ok_or(DomainError::NotFound)
    })
}

/// The referral's two situations after the exit.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
) -> Result<Vec<Outcome>, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    load_for(conn, who, id, Action::Read)?;
    Ok(outcomes::of_referral(conn, id)?)
}

fn conflict(referral: &Referral, detail: String) -> DomainError {
    crate::domain::referral::invalid_transition(referral.status, referral.status, detail)
}
