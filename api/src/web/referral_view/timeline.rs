//! The referral page's timeline in French: each event in words, with its
//! details (dates as the page writes them, to whom an e-mail went).

use avip_db::model::{EmploymentStatus, EventKind, NotificationKind};
use chrono::NaiveDate;

use super::TimelineItem;
use crate::web::fr;
use avip_app::views::referral::EventBody;

pub(super) fn timeline_items(timeline: &[EventBody]) -> Vec<TimelineItem> {
    timeline
        .iter()
        .map(|e| {
            let (what, detail) = describe_event(e);
            TimelineItem {
                when: fr::datetime(e.occurred_at),
                what,
                detail,
                note: e.note.clone().unwrap_or_default(),
            }
        })
        .collect()
}

pub(super) fn describe_event(e: &EventBody) -> (String, String) {
    let what = match (e.from_status, e.to_status) {
        (Some(from), Some(to)) => format!("{} → {}", fr::status(from), fr::status(to)),
        _ => fr::event(e.kind).to_owned(),
    };
    if e.kind == EventKind::EmailSent {
        return email_sent(e, what);
    }
    let mut detail = Vec::new();
    let text = |key: &str| e.data.as_ref()?.get(key)?.as_str();
    if let (Some(from), Some(to)) = (text("from_creche"), text("to_creche")) {
        detail.push(format!("{from} → {to}"));
    }
    if let Some(reason) = &e.reason {
        detail.push(format!("Motif : {}", fr::reason(reason)));
    }
    if let Some(data) = &e.data {
        // A date the event recorded (`2027-01-04`), as the page writes
        // dates (`04/01/2027`).
        let day = |key: &str| {
            data.get(key).and_then(|v| v.as_str()).map(|text| {
                text.parse::<NaiveDate>()
                    .map(fr::date)
                    .unwrap_or_else(|_| text.to_owned())
            })
        };
        if let Some(start) = day("start_date") {
            detail.push(format!("Début : {start}"));
        }
        if let Some(end) = day("contract_end_date") {
            detail.push(format!("Fin du contrat : {end}"));
        }
        if let Some(first) = day("first_full_day") {
            detail.push(format!("Premier jour complet : {first}"));
        }
        if let Some(status) = data
            .get("employment_status")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<EmploymentStatus>().ok())
        {
            detail.push(format!("Situation du parent : {}", fr::employment(status)));
        }
    }
    (what, detail.join(" · "))
}

/// "E-mail envoyé au référent", with the addresses while the family's
/// data is kept.
fn email_sent(e: &EventBody, what: String) -> (String, String) {
    let data = e.data.as_ref();
    let to = data
        .and_then(|d| d.get("kind"))
        .and_then(|k| k.as_str())
        .and_then(|k| k.parse::<NotificationKind>().ok())
        .map(fr::email_recipients);
    let addresses: Vec<&str> = data
        .and_then(|d| d.get("to"))
        .and_then(|t| t.as_array())
        .map(|list| list.iter().filter_map(|a| a.as_str()).collect())
        .unwrap_or_default();
    let what = match to {
        Some(to) => format!("{what} {to}"),
        None => what,
    };
    (what, addresses.join(", "))
}
