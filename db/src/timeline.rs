//! A referral's timeline: its own events merged with the evaluation exports
//! that included it, in the order things happened, paged by (time, id).

use crate::DbConnection;
use crate::QueryResult;
use crate::exports;
use crate::page::{Page, PageRequest, TimeCursor};
use crate::referrals::{self, Event, Referral};

pub fn page(
    conn: &mut DbConnection,
    referral: &Referral,
    page: &PageRequest,
) -> QueryResult<Page<Event>> {
    let after = page.after.as_deref().and_then(TimeCursor::parse);
    let mut rows = referrals::events_after(conn, &referral.id, after.as_ref(), page.limit + 1)?;
    rows.extend(exports::exported_events(
        conn,
        referral,
        after.as_ref(),
        page.limit + 1,
    )?);
    rows.sort_by(|a, b| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
    rows.truncate(usize::try_from(page.limit + 1).unwrap_or(usize::MAX));
    Ok(Page::from_rows(rows, page.limit, |e: &Event| {
        TimeCursor {
            at: e.occurred_at,
            id: e.id.to_string(),
        }
        .encode()
    }))
}
