//! "À traiter": what needs a coordinator's action now, most urgent first,
//! across her crèches — families awaiting their first answer (time left
//! before the deadline, or how late), overdue follow-ups, contracts ending —
//! and the referrals in progress.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::{CrecheId, ReferralId, ReferralStatus};
use avip_db::page::PageRequest;
use avip_db::referrals::{ListOrder, ReferralFilter};
use avip_sla_engine::attention::AttentionKind;
use chrono::Utc;
use serde::Deserialize;

use crate::shared::State;
use crate::web::session::Visitor;
use crate::web::{Layout, Section, WebError, fr, ok_page};
use avip_app::auth::Principal;
use avip_app::domain::DomainError;
use avip_app::views::referral::ReferralBody;
use avip_app::workflow::{referrals, sla};

/// The most rows the two lists of referrals show, the most urgent first;
/// a link leads to the whole list (a crèche has a handful at a time; 200
/// full records rendered every minute cost the page most of its time:
/// BENCHMARKS.md, session 21).
const ROWS: i64 = 50;
/// The most follow-ups and contracts shown (light rows, no full record).
const ATTENTION_ROWS: usize = 200;

pub struct Row {
    pub id: String,
    pub reference: String,
    pub family: String,
    pub creche: String,
    pub status: &'static str,
    /// The status's code, which gives its badge its colour.
    pub status_code: &'static str,
    /// When it is due, in words.
    pub due: String,
    /// `reste 5 h 12 min`, `en retard de 2 j 3 h`.
    pub delay: String,
    /// `late`, `soon` or empty.
    pub class: &'static str,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    layout: Layout,
    creches: Vec<Choice>,
    statuses: Vec<Choice>,
    first_responses: Vec<Row>,
    follow_ups: Vec<Row>,
    contracts: Vec<Row>,
    /// Offers expired without an answer, families waiting too long,
    /// meetings to note, families' requests.
    decisions: Vec<Row>,
    /// First meetings booked in the next two weeks.
    meetings: Vec<Row>,
    in_progress: Vec<Row>,
    /// What a form just did, when it led here.
    done: Option<&'static str>,
    /// Where the whole list of each is, when it has more than shown.
    more_first_responses: Option<String>,
    more_in_progress: Option<String>,
    /// This page with its filters: the lists are read again every minute
    /// while it is open.
    refresh: String,
}

#[derive(Deserialize)]
pub struct Filters {
    creche: Option<String>,
    statut: Option<String>,
    /// `transfert`: a family was just handed to another crèche.
    fait: Option<String>,
}

fn class_of(seconds_left: i64) -> &'static str {
    if seconds_left < 0 {
        "late"
    } else if seconds_left < 24 * 3600 {
        "soon"
    } else {
        ""
    }
}

/// What the page reads, for one visitor and her filters.
struct Lists {
    names: Vec<avip_db::creches::CrecheName>,
    unanswered: Vec<avip_db::referrals::ReferralRecord>,
    more_unanswered: bool,
    attention: Vec<avip_sla_engine::attention::AttentionItem>,
    decisions: Vec<sla::Decision>,
    /// The first meetings booked in the next two weeks.
    meetings: Vec<sla::Decision>,
    /// The parent's name for each referral of `attention`, `decisions`
    /// and `meetings`.
    families: HashMap<ReferralId, String>,
    open: Vec<avip_db::referrals::ReferralRecord>,
    more_open: bool,
}

async fn read(
    state: &State,
    who: &Principal,
    creche: Option<CrecheId>,
    status: Option<ReferralStatus>,
    now: chrono::DateTime<Utc>,
) -> Result<Lists, WebError> {
    let (who, policy, review) = (
        who.clone(),
        state.policy.policy.clone(),
        state.waiting_review,
    );
    let lists = state
        .run(move |conn| {
            let scoped = |statuses: Vec<ReferralStatus>| ReferralFilter {
                statuses,
                creche_id: creche.clone(),
                ..ReferralFilter::default()
            };
            let first = PageRequest {
                after: None,
                limit: ROWS,
            };
            let received = ReferralFilter {
                order: ListOrder::Deadline,
                ..scoped(vec![ReferralStatus::Received])
            };
            let unanswered = referrals::list(conn, &who, received, &first)?;
            let mut attention = sla::worklist(conn, &who, &policy, now, ATTENTION_ROWS)?;
            // The crèche asked for only: the families read are those shown.
            attention.retain(|i| creche.as_ref().is_none_or(|c| *c == i.creche_id));
            let mut decisions = sla::decisions(conn, &who, review, now)?;
            decisions.retain(|d| creche.as_ref().is_none_or(|c| *c == d.creche_id));
            decisions.truncate(ATTENTION_ROWS);
            let mut meetings = sla::upcoming_meetings(conn, &who, now)?;
            meetings.retain(|d| creche.as_ref().is_none_or(|c| *c == d.creche_id));
            meetings.truncate(ATTENTION_ROWS);
            let ids = (attention.iter().map(|i| i.referral_id.clone()))
                .chain(decisions.iter().map(|d| d.referral_id.clone()))
                .chain(meetings.iter().map(|d| d.referral_id.clone()));
            let families = sla::families_of(conn, &ids.collect::<Vec<_>>())?;
            let open_statuses = match status {
                Some(s) => vec![s],
                None => IN_PROGRESS.to_vec(),
            };
            let open = referrals::list(conn, &who, scoped(open_statuses), &first)?;
            Ok::<_, DomainError>(Lists {
                names: avip_app::workflow::creches::names(conn, &who)?,
                more_unanswered: unanswered.next_cursor.is_some(),
                unanswered: unanswered.items,
                attention,
                decisions,
                meetings,
                families,
                more_open: open.next_cursor.is_some(),
                open: open.items,
            })
        })
        .await?;
    Ok(lists)
}

/// The statuses of a referral in progress (the filter's choices).
const IN_PROGRESS: [ReferralStatus; 3] = [
    ReferralStatus::Contacted,
    ReferralStatus::Offered,
    ReferralStatus::Waitlisted,
];

/// A referral as a row of the page; `due` and `left` say what its row
/// shows in the "due" and "delay" columns.
fn referral_row(body: ReferralBody, creche: String, due: String, left: Option<i64>) -> Row {
    Row {
        id: body.id.to_string(),
        family: format!("{} {}", body.parent.first_name, body.parent.last_name),
        reference: body.reference,
        creche,
        status: fr::status(body.status),
        status_code: body.status.as_str(),
        due,
        delay: left.map(fr::time_left).unwrap_or_default(),
        class: left.map_or("", class_of),
    }
}

/// The follow-ups and the contracts that need attention, as rows.
fn attention_rows(
    attention: Vec<avip_sla_engine::attention::AttentionItem>,
    creche_name: impl Fn(&CrecheId) -> String,
    families: &HashMap<ReferralId, String>,
) -> (Vec<Row>, Vec<Row>) {
    let (mut follow_ups, mut contracts) = (Vec::new(), Vec::new());
    for item in attention {
        let row = Row {
            id: item.referral_id.to_string(),
            reference: item.reference.clone(),
            family: families.get(&item.referral_id).cloned().unwrap_or_default(),
            creche: creche_name(&item.creche_id),
            status: fr::status(ReferralStatus::Enrolled),
            status_code: ReferralStatus::Enrolled.as_str(),
            due: fr::datetime(item.due_at),
            delay: fr::time_left(item.seconds_left),
            class: class_of(item.seconds_left),
        };
        match item.kind {
            AttentionKind::FollowUp => follow_ups.push(row),
            AttentionKind::ContractEnd => contracts.push(row),
            AttentionKind::FirstResponse => {}
        }
    }
    (follow_ups, contracts)
}

/// The decisions waiting, as rows: why, and since when.
fn decision_rows(
    decisions: Vec<sla::Decision>,
    creche_name: impl Fn(&CrecheId) -> String,
    families: &HashMap<ReferralId, String>,
    now: chrono::DateTime<Utc>,
) -> Vec<Row> {
    (decisions.into_iter())
        .map(|d| {
            let due = match d.kind {
                sla::DecisionKind::OfferExpired => format!(
                    "Offre expirée sans réponse le {}",
                    fr::date(avip_sla_engine::clock::paris_date(d.since),)
                ),
                sla::DecisionKind::LongWait => format!(
                    "En liste d’attente sans nouvelle depuis {} jours",
                    (now - d.since).num_days()
                ),
                sla::DecisionKind::MeetingToNote => {
                    format!("Rendez-vous du {} à noter", fr::datetime(d.since))
                }
                sla::DecisionKind::CallbackAsked => format!(
                    "Demande à être rappelée depuis le {}",
                    fr::datetime(d.since)
                ),
                sla::DecisionKind::WithdrawalAsked => format!(
                    "Dit ne plus avoir besoin de place (le {})",
                    fr::datetime(d.since)
                ),
            };
            decision_row(d, due, &creche_name, families)
        })
        .collect()
}

/// A referral waiting for the coordinator as a row: `due` says why.
fn decision_row(
    d: sla::Decision,
    due: String,
    creche_name: &impl Fn(&CrecheId) -> String,
    families: &HashMap<ReferralId, String>,
) -> Row {
    Row {
        id: d.referral_id.to_string(),
        family: families.get(&d.referral_id).cloned().unwrap_or_default(),
        creche: creche_name(&d.creche_id),
        status: fr::status(d.status),
        status_code: d.status.as_str(),
        reference: d.reference,
        due,
        delay: String::new(),
        class: "",
    }
}

/// The choices of a list's filters: the visitor's crèches, and `statuses`.
pub fn filter_choices(
    names: &[avip_db::creches::CrecheName],
    creche: Option<&CrecheId>,
    statuses: &[ReferralStatus],
    status: Option<ReferralStatus>,
) -> (Vec<Choice>, Vec<Choice>) {
    let creches = (names.iter())
        .map(|c| Choice {
            value: c.id.to_string(),
            label: c.name.clone(),
            selected: creche == Some(&c.id),
        })
        .collect();
    let statuses = (statuses.iter())
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            label: fr::status(*s).to_owned(),
            selected: status == Some(*s),
        })
        .collect();
    (creches, statuses)
}

/// `GET /app/a-traiter`.
pub async fn show(
    req: HttpRequest,
    visitor: Visitor,
    state: State,
    filters: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Worklist.require(&who)?;
    let (creche, status) = filters.read();
    let now = Utc::now();
    let lists = read(&state, &who, creche.clone(), status, now).await?;
    let read: Vec<_> = (lists.unanswered.iter().chain(lists.open.iter()))
        .map(|r| r.referral.id.clone())
        .chain(lists.families.keys().cloned())
        .collect();
    crate::shared::record_read(&req, &state, &who, &read, "list_referrals");
    let by_id: HashMap<&CrecheId, &str> = lists
        .names
        .iter()
        .map(|c| (&c.id, c.name.as_str()))
        .collect();
    let creche_name = |id: &CrecheId| by_id.get(id).copied().unwrap_or("—").to_owned();
    let policy = &state.policy.policy;
    // Read soonest deadline first: the most urgent first.
    let first_responses: Vec<Row> = (lists.unanswered.into_iter())
        .map(|record| {
            let body = ReferralBody::new(record, policy, now);
            let left = body.sla.seconds_left.unwrap_or(0);
            let due = body.sla.due_at.map(fr::datetime).unwrap_or_default();
            let creche = creche_name(&body.creche_id);
            referral_row(body, creche, due, Some(left))
        })
        .collect();
    let (follow_ups, contracts) = attention_rows(lists.attention, creche_name, &lists.families);
    let decisions = decision_rows(lists.decisions, creche_name, &lists.families, now);
    let meetings = (lists.meetings.into_iter())
        .map(|m| {
            let when = fr::datetime(m.since);
            decision_row(m, when, &creche_name, &lists.families)
        })
        .collect();
    let in_progress = (lists.open.into_iter())
        .map(|record| {
            let body = ReferralBody::new(record, policy, now);
            let (creche, due) = (creche_name(&body.creche_id), fr::datetime(body.updated_at));
            referral_row(body, creche, due, None)
        })
        .collect();
    let (creches, statuses) = filter_choices(&lists.names, creche.as_ref(), &IN_PROGRESS, status);
    let layout = Layout::load(&state, &visitor, Section::Worklist, "À traiter").await?;
    ok_page(&WorklistPage {
        layout,
        creches,
        statuses,
        first_responses,
        follow_ups,
        contracts,
        meetings,
        decisions,
        in_progress,
        done: (filters.fait.as_deref() == Some("transfert")).then_some(
            "L’orientation est transférée ; la crèche qui la reçoit et le référent en sont informés.",
        ),
        more_first_responses: lists
            .more_unanswered
            .then(|| whole_list(Some(ReferralStatus::Received), creche.as_ref(), "echeance")),
        more_in_progress: lists
            .more_open
            .then(|| whole_list(status, creche.as_ref(), "anciennes")),
        refresh: format!(
            "/app/a-traiter?creche={}&statut={}",
            creche.as_ref().map(CrecheId::to_string).unwrap_or_default(),
            status.map(ReferralStatus::as_str).unwrap_or_default()
        ),
    })
}

impl Filters {
    /// The crèche and the status asked for (an unknown one is none).
    fn read(&self) -> (Option<CrecheId>, Option<ReferralStatus>) {
        let creche = (self.creche.as_deref())
            .filter(|c| !c.is_empty())
            .and_then(CrecheId::parse);
        let status = (self.statut.as_deref()).and_then(|s| s.parse::<ReferralStatus>().ok());
        (creche, status)
    }
}

/// The list of referrals with these filters, in this order (`ordre`).
fn whole_list(status: Option<ReferralStatus>, creche: Option<&CrecheId>, order: &str) -> String {
    format!(
        "/app/orientations?statut={}&creche={}&ordre={order}",
        status.map(ReferralStatus::as_str).unwrap_or_default(),
        creche.map(CrecheId::to_string).unwrap_or_default(),
    )
}
