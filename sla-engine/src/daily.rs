//! Daily digests: the notices people chose to receive once a day are held
//! (`digest_items`), then gathered at `AVIP_DIGEST_SCHEDULE` into one
//! e-mail per person, written to the outbox like any other. Nothing is sent
//! to someone with nothing held.

use chrono::{DateTime, Utc};

use avip_db::model::{DeliveryMode, NoticeKind, NotificationKind, OrganizationId, ReferralId};
use avip_db::notifications::{self, Notification};
use avip_db::preferences::{self, DigestItem};
use avip_db::{DbConnection, QueryError};

use crate::mail::{DailyLine, Notice, Rendered, render_daily, render_notice};
use crate::timers::to_db;

/// How `email` receives `notice`: what the person (or their organisation,
/// or `fallback`, the organisation that named a referent) chose, else
/// `default`.
pub fn mode_for(
    conn: &mut DbConnection,
    email: &str,
    notice: NoticeKind,
    fallback: Option<&OrganizationId>,
    default: DeliveryMode,
) -> Result<DeliveryMode, QueryError> {
    Ok(preferences::mode_for(conn, email, notice, fallback)?.unwrap_or(default))
}

/// Tells `referent` of `notice` about `referral` as she chose (`mode`): at
/// once, by a row of the outbox under `dedup_key`; in her next daily
/// digest; or not at all. Returns whether an e-mail was queued now (not when
/// the key was taken already).
#[allow(clippy::too_many_arguments)]
pub fn tell_referent(
    conn: &mut DbConnection,
    mode: DeliveryMode,
    dedup_key: &str,
    referent: &str,
    kind: NoticeKind,
    referral: &ReferralId,
    notice: &Notice,
    at: DateTime<Utc>,
) -> Result<bool, QueryError> {
    tell(
        conn,
        (mode, NotificationKind::ReferentNotice),
        dedup_key,
        referent,
        kind,
        Some(referral),
        notice,
        at,
    )
}

/// Tells `recipient` of `notice` (about `referral`, if about one) as she
/// chose (`mode`), the outbox row of kind `outbox` when at once; see
/// [`tell_referent`].
#[allow(clippy::too_many_arguments)]
pub fn tell(
    conn: &mut DbConnection,
    (mode, outbox): (DeliveryMode, NotificationKind),
    dedup_key: &str,
    recipient: &str,
    kind: NoticeKind,
    referral: Option<&ReferralId>,
    notice: &Notice,
    at: DateTime<Utc>,
) -> Result<bool, QueryError> {
    match mode {
        DeliveryMode::Off => Ok(false),
        DeliveryMode::DailyDigest => {
            hold(
                conn,
                dedup_key,
                recipient,
                kind,
                referral,
                &notice.title,
                &notice.link,
                at,
            )?;
            Ok(false)
        }
        DeliveryMode::Immediate => {
            let rendered = render_notice(notice);
            Ok(notifications::insert(
                conn,
                &Notification::pending(dedup_key, outbox, &[recipient], rendered, to_db(at))
                    .about(referral.cloned()),
            )?)
        }
    }
}

/// Holds a notice for `recipient`'s next daily digest (once per key).
#[allow(clippy::too_many_arguments)]
pub fn hold(
    conn: &mut DbConnection,
    dedup_key: &str,
    recipient: &str,
    notice: NoticeKind,
    referral: Option<&ReferralId>,
    title: &str,
    link: &str,
    at: DateTime<Utc>,
) -> Result<bool, QueryError> {
    preferences::hold(
        conn,
        &DigestItem {
            id: uuid::Uuid::now_v7().to_string(),
            dedup_key: format!("{dedup_key}:{recipient}"),
            recipient: recipient.to_owned(),
            notice,
            referral_id: referral.cloned(),
            title: title.to_owned(),
            link: link.to_owned(),
            created_at: to_db(at),
            digest_key: None,
        },
    )
}

/// Gathers what is held into one e-mail per person; returns how many
/// e-mails were written. Runs in one transaction: a second run finds
/// nothing left.
pub fn gather(conn: &mut DbConnection, at: DateTime<Utc>) -> Result<usize, QueryError> {
    let items = preferences::waiting(conn)?;
    let mut written = 0;
    let day = crate::mail::french_date(at);
    let mut start = 0;
    while start < items.len() {
        let recipient = &items[start].recipient;
        let end = items[start..]
            .iter()
            .position(|i| &i.recipient != recipient)
            .map_or(items.len(), |n| start + n);
        let mine = &items[start..end];
        let key = format!("daily_digest:{recipient}:{}", at.timestamp());
        let lines: Vec<DailyLine> = mine
            .iter()
            .map(|i| DailyLine {
                title: i.title.clone(),
                link: i.link.clone(),
            })
            .collect();
        let rendered: Rendered = render_daily(&day, &lines);
        if notifications::insert(
            conn,
            &Notification::pending(
                &key,
                NotificationKind::Digest,
                &[recipient],
                rendered,
                to_db(at),
            ),
        )? {
            written += 1;
        }
        let ids: Vec<String> = mine.iter().map(|i| i.id.clone()).collect();
        preferences::gathered(conn, &ids, &key)?;
        start = end;
    }
    Ok(written)
}
