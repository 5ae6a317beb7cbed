//! Anonymisation: the queries of the retention job and of an erasure
//! request. What is blanked and what is kept is docs/data-protection.md.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{ContactPreference, ReferralId, ReferralStatus};
use crate::schema::{
    notifications, referral_child_claims, referral_children, referral_enrollments, referral_events,
    referral_families, referral_follow_ups, referrals,
};

/// The statuses a referral ends in.
pub const CLOSED: [ReferralStatus; 3] = [
    ReferralStatus::Declined,
    ReferralStatus::Withdrawn,
    ReferralStatus::Exited,
];

/// Up to `limit` referrals closed at or before `closed_before` and not
/// anonymised yet, oldest closure first.
pub fn due(
    conn: &mut DbConnection,
    closed_before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(ReferralId, String, NaiveDateTime)>> {
    referrals::table
        .filter(referrals::status.eq_any(CLOSED))
        .filter(referrals::closed_at.le(closed_before))
        .filter(referrals::anonymised_at.is_null())
        .order((referrals::closed_at.asc(), referrals::id.asc()))
        .limit(limit)
        .select((
            referrals::id,
            referrals::reference,
            referrals::closed_at.assume_not_null(),
        ))
        .load(conn)
}

/// What the evaluation keeps of a family once its personal data is gone:
/// the pseudonymous family id the exports gave, and the first child's age
/// bracket when referred.
pub struct Kept {
    pub pseudonym: String,
    pub age_bracket: Option<String>,
}

/// Blanks the personal data of one referral (in the caller's transaction):
/// the family's names, contacts, address and France Travail id, the
/// referent's contacts, the children's first names and birth dates (each
/// set to the first day of its month, the bracket being kept), every free
/// text (needs, project, notes of the timeline, follow-ups' next steps, the
/// exit note), the idempotency key and fingerprint; releases the child
/// claims. `false` when it was already anonymised (by another instance):
/// nothing is changed then.
pub fn anonymise(
    conn: &mut DbConnection,
    id: &ReferralId,
    kept: &Kept,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let claimed = diesel::update(referrals::table.find(id))
        .filter(referrals::anonymised_at.is_null())
        .set((
            referrals::anonymised_at.eq(now),
            referrals::referent_name.eq(""),
            referrals::referent_email.eq(""),
            referrals::referent_phone.eq(None::<String>),
            referrals::idempotency_key.eq(None::<String>),
            referrals::request_fingerprint.eq(None::<String>),
        ))
        .execute(conn)?;
    if claimed == 0 {
        return Ok(false);
    }
    diesel::update(referral_families::table.find(id))
        .set((
            referral_families::parent_first_name.eq(""),
            referral_families::parent_last_name.eq(""),
            referral_families::parent_phone.eq(None::<String>),
            referral_families::parent_email.eq(None::<String>),
            referral_families::parent_postal_code.eq(""),
            referral_families::parent_commune.eq(""),
            referral_families::france_travail_id.eq(None::<String>),
            referral_families::needs_notes.eq(None::<String>),
            referral_families::insertion_project_description.eq(None::<String>),
            referral_families::search_text.eq(""),
            referral_families::pseudonym.eq(&kept.pseudonym),
            referral_families::age_bracket.eq(&kept.age_bracket),
            referral_families::parent_contact.eq(None::<ContactPreference>),
        ))
        .execute(conn)?;
    let children: Vec<(String, NaiveDate)> = referral_children::table
        .filter(referral_children::referral_id.eq(id))
        .select((referral_children::id, referral_children::birth_date))
        .load(conn)?;
    for (child, birth) in children {
        let month = birth.with_day0(0).unwrap_or(birth);
        diesel::update(referral_children::table.find(child))
            .set((
                referral_children::first_name.eq(""),
                referral_children::birth_date.eq(month),
            ))
            .execute(conn)?;
    }
    diesel::update(referral_events::table.filter(referral_events::referral_id.eq(id)))
        .set(referral_events::note.eq(None::<String>))
        .execute(conn)?;
    forget_recipients(conn, id)?;
    forget_messages(conn, id, now)?;
    diesel::update(referral_follow_ups::table.filter(referral_follow_ups::referral_id.eq(id)))
        .set(referral_follow_ups::next_steps.eq(None::<String>))
        .execute(conn)?;
    diesel::update(referral_enrollments::table.find(id))
        .set(referral_enrollments::exit_note.eq(None::<String>))
        .execute(conn)?;
    diesel::delete(referral_child_claims::table.filter(referral_child_claims::referral_id.eq(id)))
        .execute(conn)?;
    crate::exits::remove(conn, id)?;
    Ok(true)
}

/// The messages to the family (its phone or address, its first name, the
/// coordinator's words) go with its data: their kind, channel and dates
/// stay; one not delivered yet never will be.
fn forget_messages(
    conn: &mut DbConnection,
    id: &ReferralId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    use crate::model::{NotificationKind, NotificationStatus};
    let theirs = notifications::table
        .filter(notifications::referral_id.eq(id))
        .filter(notifications::kind.eq(NotificationKind::FamilyMessage));
    diesel::update(theirs.filter(notifications::status.eq(NotificationStatus::Pending)))
        .set((
            notifications::status.eq(NotificationStatus::Failed),
            notifications::last_error.eq(Some("erased with the family's data")),
            notifications::next_attempt_at.eq(now),
        ))
        .execute(conn)?;
    diesel::update(theirs)
        .set((
            notifications::recipients.eq("[]"),
            notifications::subject.eq(""),
            notifications::body_text.eq(""),
            notifications::body_html.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

/// The addresses the referral's e-mails went to (the referent's among
/// them), kept on the timeline for the people who follow the family,
/// go with the family's data; the kind of e-mail and its date stay.
fn forget_recipients(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<()> {
    use crate::model::EventKind;
    let sent: Vec<(String, Option<String>)> = referral_events::table
        .filter(referral_events::referral_id.eq(id))
        .filter(referral_events::kind.eq(EventKind::EmailSent))
        .filter(referral_events::data.is_not_null())
        .select((referral_events::id, referral_events::data))
        .load(conn)?;
    for (event, data) in sent {
        let Some(Ok(serde_json::Value::Object(mut map))) =
            data.map(|d| serde_json::from_str::<serde_json::Value>(&d))
        else {
            continue;
        };
        if map.remove("to").is_some() {
            diesel::update(referral_events::table.find(&event))
                .set(referral_events::data.eq(serde_json::Value::Object(map).to_string()))
                .execute(conn)?;
        }
    }
    Ok(())
}
