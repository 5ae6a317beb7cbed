//! First meetings: the slots a crèche proposes, the invitations sent to
//! families (one link each) and the booking a family makes through its
//! link. A slot is taken once (compare-and-set on `referral_id`), an
//! invitation used once (on `used_at`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{ActorKind, CrecheId, EventKind, MeetingChoice, MeetingOutcome, ReferralId};
use crate::schema::{meeting_invitations, meeting_slots, referral_events};

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = meeting_slots)]
pub struct Slot {
    pub id: String,
    pub creche_id: CrecheId,
    pub starts_at: NaiveDateTime,
    pub minutes: i32,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    /// The family that booked it.
    pub referral_id: Option<ReferralId>,
    pub booked_at: Option<NaiveDateTime>,
    pub outcome: Option<MeetingOutcome>,
    pub outcome_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = meeting_invitations)]
pub struct Invitation {
    pub id: String,
    pub referral_id: ReferralId,
    /// JSON array of the slots' ids.
    pub slot_ids: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub used_at: Option<NaiveDateTime>,
    pub choice: Option<MeetingChoice>,
    pub slot_id: Option<String>,
}

impl Invitation {
    pub fn slots(&self) -> Vec<String> {
        serde_json::from_str(&self.slot_ids).unwrap_or_default()
    }
}

pub fn insert_slots(conn: &mut DbConnection, slots: &[Slot]) -> QueryResult<()> {
    // One row at a time: a batch insert is not one statement on both backends.
    for slot in slots {
        diesel::insert_into(meeting_slots::table)
            .values(slot)
            .execute(conn)?;
    }
    Ok(())
}

/// The crèche's slots starting at or after `from`, by time.
pub fn slots_of(
    conn: &mut DbConnection,
    creche: &CrecheId,
    from: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    meeting_slots::table
        .filter(meeting_slots::creche_id.eq(creche))
        .filter(meeting_slots::starts_at.ge(from))
        .order((meeting_slots::starts_at, meeting_slots::id))
        .select(Slot::as_select())
        .limit(500)
        .load(conn)
}

pub fn slots_by_id(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<Slot>> {
    meeting_slots::table
        .filter(meeting_slots::id.eq_any(ids))
        .order((meeting_slots::starts_at, meeting_slots::id))
        .select(Slot::as_select())
        .load(conn)
}

pub fn find_slot(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Slot>> {
    meeting_slots::table
        .find(id)
        .select(Slot::as_select())
        .first(conn)
        .optional()
}

/// Removes a slot nobody booked; `false` when it was booked (or is gone).
pub fn remove_free_slot(conn: &mut DbConnection, creche: &CrecheId, id: &str) -> QueryResult<bool> {
    let removed = diesel::delete(
        meeting_slots::table
            .filter(meeting_slots::id.eq(id))
            .filter(meeting_slots::creche_id.eq(creche))
            .filter(meeting_slots::referral_id.is_null()),
    )
    .execute(conn)?;
    Ok(removed == 1)
}

/// The family takes the slot, if nobody took it first.
pub fn book(
    conn: &mut DbConnection,
    slot: &str,
    referral: &ReferralId,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let taken = diesel::update(
        meeting_slots::table
            .filter(meeting_slots::id.eq(slot))
            .filter(meeting_slots::referral_id.is_null()),
    )
    .set((
        meeting_slots::referral_id.eq(referral),
        meeting_slots::booked_at.eq(at),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Every slot the family booked, oldest first.
pub fn booked_by(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<Vec<Slot>> {
    meeting_slots::table
        .filter(meeting_slots::referral_id.eq(referral))
        .order((meeting_slots::starts_at, meeting_slots::id))
        .select(Slot::as_select())
        .load(conn)
}

/// The family's latest booking.
pub fn booking_of(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<Option<Slot>> {
    meeting_slots::table
        .filter(meeting_slots::referral_id.eq(referral))
        .order((meeting_slots::starts_at.desc(), meeting_slots::id.desc()))
        .select(Slot::as_select())
        .first(conn)
        .optional()
}

/// What became of the meeting, once.
pub fn record_outcome(
    conn: &mut DbConnection,
    slot: &str,
    outcome: MeetingOutcome,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let recorded = diesel::update(
        meeting_slots::table
            .filter(meeting_slots::id.eq(slot))
            .filter(meeting_slots::outcome.is_null()),
    )
    .set((
        meeting_slots::outcome.eq(outcome),
        meeting_slots::outcome_at.eq(at),
    ))
    .execute(conn)?;
    Ok(recorded == 1)
}

/// The booked meetings starting in `[from, to)`: tomorrow's, for their
/// reminder.
pub fn booked_between(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Slot>> {
    meeting_slots::table
        .filter(meeting_slots::referral_id.is_not_null())
        .filter(meeting_slots::outcome.is_null())
        .filter(meeting_slots::starts_at.ge(from))
        .filter(meeting_slots::starts_at.lt(to))
        .order((meeting_slots::starts_at, meeting_slots::id))
        .select(Slot::as_select())
        .load(conn)
}

/// The booked meetings of these crèches (all when `None`) in `[from, to)`,
/// by time, of referrals still open (the worklist's), at most 200.
pub fn upcoming(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<Waiting>> {
    booked(conn, within, (Some(from), to), false)
}

pub fn insert_invitation(conn: &mut DbConnection, invitation: &Invitation) -> QueryResult<()> {
    diesel::insert_into(meeting_invitations::table)
        .values(invitation)
        .execute(conn)
        .map(drop)
}

pub fn find_invitation(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Invitation>> {
    meeting_invitations::table
        .find(id)
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

pub fn invitations_of(
    conn: &mut DbConnection,
    referral: &ReferralId,
) -> QueryResult<Vec<Invitation>> {
    meeting_invitations::table
        .filter(meeting_invitations::referral_id.eq(referral))
        .order((meeting_invitations::created_at, meeting_invitations::id))
        .select(Invitation::as_select())
        .load(conn)
}

/// Revokes an invitation not used yet; `false` otherwise.
pub fn revoke(
    conn: &mut DbConnection,
    referral: &ReferralId,
    id: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        meeting_invitations::table
            .filter(meeting_invitations::id.eq(id))
            .filter(meeting_invitations::referral_id.eq(referral))
            .filter(meeting_invitations::used_at.is_null())
            .filter(meeting_invitations::revoked_at.is_null()),
    )
    .set(meeting_invitations::revoked_at.eq(at))
    .execute(conn)?;
    Ok(revoked == 1)
}

/// The family's choice, once: `false` when the invitation was used or
/// revoked first.
pub fn answer(
    conn: &mut DbConnection,
    id: &str,
    (choice, slot): (MeetingChoice, Option<&str>),
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let answered = diesel::update(
        meeting_invitations::table
            .filter(meeting_invitations::id.eq(id))
            .filter(meeting_invitations::used_at.is_null())
            .filter(meeting_invitations::revoked_at.is_null()),
    )
    .set((
        meeting_invitations::used_at.eq(at),
        meeting_invitations::choice.eq(choice),
        meeting_invitations::slot_id.eq(slot),
    ))
    .execute(conn)?;
    Ok(answered == 1)
}

/// What waits for the coordinators of these crèches (all when `None`)
/// about first meetings: a meeting begun and not noted, a family that
/// asked through its link to be called back or said it no longer needs a
/// place (its referral still open, no newer invitation).
#[derive(Clone, Debug)]
pub struct Waiting {
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub status: crate::model::ReferralStatus,
    /// `None`: a meeting to note (since it began); else what was asked.
    pub asked: Option<MeetingChoice>,
    pub since: NaiveDateTime,
}

pub fn waiting(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Waiting>> {
    let mut found = to_note(conn, within, now)?;
    found.extend(asked(conn, within)?);
    Ok(found)
}

/// The referrals still open.
const OPEN: [crate::model::ReferralStatus; 5] = {
    use crate::model::ReferralStatus::*;
    [Received, Contacted, Offered, Waitlisted, Enrolled]
};

/// Meetings begun and not noted.
fn to_note(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Waiting>> {
    booked(
        conn,
        within,
        (None, now + chrono::Duration::seconds(1)),
        true,
    )
}

/// The booked meetings of open referrals of these crèches (all when
/// `None`) starting in `[from, to)`, by time (200 at most); only those
/// not noted yet when `unnoted`.
fn booked(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    (from, to): (Option<NaiveDateTime>, NaiveDateTime),
    unnoted: bool,
) -> QueryResult<Vec<Waiting>> {
    use crate::model::ReferralStatus;
    use crate::schema::referrals;
    let mut query = meeting_slots::table
        .inner_join(referrals::table.on(meeting_slots::referral_id.eq(referrals::id.nullable())))
        .filter(meeting_slots::starts_at.lt(to))
        .filter(referrals::status.eq_any(OPEN))
        .order((meeting_slots::starts_at, meeting_slots::id))
        .select((
            referrals::id,
            referrals::reference,
            referrals::creche_id,
            referrals::status,
            meeting_slots::starts_at,
        ))
        .limit(200)
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(meeting_slots::starts_at.ge(from));
    }
    if unnoted {
        query = query.filter(meeting_slots::outcome.is_null());
    }
    if let Some(within) = within {
        query = query.filter(referrals::creche_id.eq_any(within));
    }
    Ok(query
        .load::<(ReferralId, String, CrecheId, ReferralStatus, NaiveDateTime)>(conn)?
        .into_iter()
        .map(
            |(referral_id, reference, creche_id, status, since)| Waiting {
                referral_id,
                reference,
                creche_id,
                status,
                asked: None,
                since,
            },
        )
        .collect())
}

/// Families that asked through their link to be called back or said they
/// no longer need a place, not answered since.
fn asked(conn: &mut DbConnection, within: Option<&[CrecheId]>) -> QueryResult<Vec<Waiting>> {
    use crate::model::ReferralStatus;
    use crate::schema::referrals;
    let mut query = meeting_invitations::table
        .inner_join(referrals::table)
        .filter(
            meeting_invitations::choice.eq_any([MeetingChoice::Callback, MeetingChoice::Withdraw]),
        )
        .filter(referrals::status.eq_any(OPEN))
        .select((
            meeting_invitations::referral_id,
            referrals::reference,
            referrals::creche_id,
            referrals::status,
            meeting_invitations::choice,
            meeting_invitations::used_at,
        ))
        .into_boxed();
    if let Some(within) = within {
        query = query.filter(referrals::creche_id.eq_any(within));
    }
    type Answer = (
        ReferralId,
        String,
        CrecheId,
        ReferralStatus,
        Option<MeetingChoice>,
        Option<NaiveDateTime>,
    );
    let answers: Vec<Answer> = query.load(conn)?;
    let mut found = Vec::new();
    for (referral_id, reference, creche_id, status, choice, used_at) in answers {
        let (Some(choice), Some(since)) = (choice, used_at) else {
            continue;
        };
        if !answered_since(conn, &referral_id, since)? {
            found.push(Waiting {
                referral_id,
                reference,
                creche_id,
                status,
                asked: Some(choice),
                since,
            });
        }
    }
    Ok(found)
}

/// A newer invitation, or a person's note or move (the call made, a
/// decision) since the family's answer.
fn answered_since(
    conn: &mut DbConnection,
    referral: &ReferralId,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    let newer = meeting_invitations::table
        .filter(meeting_invitations::referral_id.eq(referral))
        .filter(meeting_invitations::created_at.gt(since))
        .count()
        .get_result::<i64>(conn)?;
    let acted = referral_events::table
        .filter(referral_events::referral_id.eq(referral))
        .filter(referral_events::occurred_at.gt(since))
        .filter(referral_events::actor_kind.ne(ActorKind::System))
        .filter(referral_events::kind.eq_any([EventKind::Note, EventKind::Transition]))
        .count()
        .get_result::<i64>(conn)?;
    Ok(newer + acted > 0)
}

/// A first meeting recorded, with its referral's reception.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub received_at: NaiveDateTime,
    pub creche_id: CrecheId,
    pub prescriber_organization_id: crate::model::OrganizationId,
    pub outcome: MeetingOutcome,
    pub starts_at: NaiveDateTime,
}

/// The recorded meetings of the referrals of these crèches received in
/// `[from, to)`, each referral's first one only.
pub fn recorded_of_received(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<Recorded>> {
    use crate::schema::referrals;
    let rows: Vec<(
        ReferralId,
        NaiveDateTime,
        CrecheId,
        crate::model::OrganizationId,
        Option<MeetingOutcome>,
        NaiveDateTime,
    )> = meeting_slots::table
        .inner_join(referrals::table.on(meeting_slots::referral_id.eq(referrals::id.nullable())))
        .filter(meeting_slots::outcome.is_not_null())
        .filter(referrals::received_at.ge(from))
        .filter(referrals::received_at.lt(to))
        .filter(referrals::creche_id.eq_any(creches))
        .order((referrals::id, meeting_slots::starts_at))
        .select((
            referrals::id,
            referrals::received_at,
            referrals::creche_id,
            referrals::prescriber_organization_id,
            meeting_slots::outcome,
            meeting_slots::starts_at,
        ))
        .load(conn)?;
    let mut first: Vec<Recorded> = Vec::new();
    let mut last: Option<ReferralId> = None;
    for (referral, received_at, creche_id, prescriber_organization_id, outcome, starts_at) in rows {
        let (Some(outcome), false) = (outcome, last.as_ref() == Some(&referral)) else {
            continue;
        };
        last = Some(referral);
        first.push(Recorded {
            received_at,
            creche_id,
            prescriber_organization_id,
            outcome,
            starts_at,
        });
    }
    Ok(first)
}
