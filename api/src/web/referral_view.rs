//! What the referral page shows, in French: the view of one referral for
//! one visitor, made from the API's shapes with no request and no template
//! (its tests read it as the coordinator would). `referral.rs` adds the
//! frame, the forms' state and the template.

use avip_db::model::{
    ChildcareSolution, DeclineReason, EmploymentStatus, ExitReason, Participant, ReferralStatus,
    WithdrawReason,
};
use chrono::{Datelike, NaiveDate};

use crate::web::fr;
use avip_app::access::{Action, ReferralOwners, Resource, require};
use avip_app::auth::Principal;
use avip_app::domain::Weekday;
use avip_app::domain::referral::{CONTRACT_MONTHS, Via, allowed_next};
use avip_app::views::referral::{EventBody, FollowUpBody, ReferralBody};

/// A value of a fixed list and its French label.
pub struct Opt {
    pub value: &'static str,
    pub label: &'static str,
}

pub fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<Opt> {
    all.iter()
        .map(|v| Opt {
            value: code(*v),
            label: label(*v),
        })
        .collect()
}

pub struct Fact {
    pub label: &'static str,
    pub value: String,
}

impl Fact {
    /// A phone number or an address as a link (`tel:`, `mailto:`), so a
    /// phone calls or writes with one touch.
    pub fn href(&self) -> Option<String> {
        if self.value.is_empty() {
            return None;
        }
        match self.label {
            "Téléphone" => {
                let number: String = self
                    .value
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                (!number.is_empty()).then(|| format!("tel:{number}"))
            }
            "E-mail" => Some(format!("mailto:{}", self.value)),
            _ => None,
        }
    }
}

pub struct TimelineItem {
    pub when: String,
    pub what: String,
    pub detail: String,
    pub note: String,
}

pub struct FollowUpItem {
    pub date: String,
    pub participants: String,
    pub employment: &'static str,
    pub next_steps: String,
    pub next_date: String,
}

/// A move offered as a button (with an optional note).
pub struct MoveOffer {
    pub to: &'static str,
    pub label: &'static str,
}

/// The page's content for one visitor.
pub struct View {
    pub id: String,
    pub reference: String,
    /// The parent's name, for the heading (empty once anonymised).
    pub family: String,
    pub status: String,
    /// The status's code, which gives its badge its colour.
    pub status_code: &'static str,
    pub creche: String,
    pub received: String,
    pub sla: String,
    pub sla_class: &'static str,
    pub anonymised: Option<String>,
    pub closing: Option<String>,
    pub parent: Vec<Fact>,
    pub referent: Vec<Fact>,
    pub children: Vec<Fact>,
    pub needs: Vec<Fact>,
    pub atypical_hours: bool,
    pub project: Vec<Fact>,
    pub contract: Vec<Fact>,
    pub exit: Vec<Fact>,
    pub exit_panel: crate::web::exit_view::ExitPanel,
    pub moves: Vec<MoveOffer>,
    pub can_decline: bool,
    pub can_withdraw: bool,
    pub can_enroll: bool,
    pub can_change_contract: bool,
    pub can_exit: bool,
    pub can_annotate: bool,
    pub timeline: Vec<TimelineItem>,
    pub follow_ups: Vec<FollowUpItem>,
    pub decline_reasons: Vec<Opt>,
    pub withdraw_reasons: Vec<Opt>,
    pub exit_reasons: Vec<Opt>,
    pub employment: Vec<Opt>,
    pub childcare: Vec<Opt>,
    pub participants: Vec<Opt>,
    pub weekdays: Vec<Opt>,
    /// The enrollment form as the family's needs fill it: the start, the
    /// days and the hours asked for.
    pub enroll_defaults: Vec<(&'static str, String)>,
    /// The contract's current end and its end six months later, for the
    /// renewal form (empty without a contract).
    pub contract_end: String,
    pub renewed_end: String,
}

/// What the visitor may do from the page: the lifecycle's next moves,
/// filtered by the rules (`access::decide`).
struct Allowed {
    moves: Vec<MoveOffer>,
    decline: bool,
    withdraw: bool,
    enroll: bool,
    change_contract: bool,
    exit: bool,
    annotate: bool,
}

fn allowed(who: &Principal, body: &ReferralBody, timeline: &[EventBody]) -> Allowed {
    let open_referral = body.anonymised_at.is_none();
    // Offered again only once the offer expired.
    let again = avip_app::views::referral::offer_expired(timeline);
    let next = allowed_next(body.status);
    let act = open_referral && may(who, Action::Act, body);
    let moves = next
        .iter()
        .filter(|to| {
            act && Via::to(**to) == Via::Transitions
                && !matches!(to, ReferralStatus::Declined | ReferralStatus::Withdrawn)
                && (**to != body.status || again)
        })
        .map(|to| MoveOffer {
            to: to.as_str(),
            label: if *to == body.status {
                "Proposer la place à nouveau"
            } else {
                fr::move_to(*to)
            },
        })
        .collect();
    Allowed {
        moves,
        decline: act && next.contains(&ReferralStatus::Declined),
        withdraw: open_referral
            && next.contains(&ReferralStatus::Withdrawn)
            && may(who, Action::Withdraw, body),
        enroll: act && next.contains(&ReferralStatus::Enrolled),
        change_contract: act && body.status == ReferralStatus::Enrolled,
        exit: act && next.contains(&ReferralStatus::Exited),
        annotate: open_referral && may(who, Action::Annotate, body),
    }
}

impl View {
    /// The view of `body` for `who` on `today` (Paris).
    pub fn of(
        who: &Principal,
        body: &ReferralBody,
        creche: String,
        timeline: &[EventBody],
        follow_ups: &[FollowUpBody],
        today: NaiveDate,
    ) -> View {
        let (sla, sla_class) = sla_text(body);
        let allowed = allowed(who, body, timeline);
        View {
            id: body.id.to_string(),
            reference: body.reference.clone(),
            family: format!("{} {}", body.parent.first_name, body.parent.last_name)
                .trim()
                .to_owned(),
            status: status_words(body, today),
            status_code: body.status.as_str(),
            creche,
            received: fr::datetime(body.received_at),
            sla,
            sla_class,
            anonymised: body.anonymised_at.map(fr::datetime),
            closing: body.closing_reason.as_deref().map(fr::reason),
            parent: parent_facts(body),
            referent: referent_facts(body),
            children: children_facts(body, today),
            needs: needs_facts(body),
            atypical_hours: body.needs.atypical_hours,
            project: project_facts(body),
            contract: contract_facts(body),
            exit: exit_facts(body),
            exit_panel: crate::web::exit_view::ExitPanel::of(
                who,
                body,
                may(who, Action::Correct, body),
                today,
            ),
            moves: allowed.moves,
            can_decline: allowed.decline,
            can_withdraw: allowed.withdraw,
            can_enroll: allowed.enroll,
            can_change_contract: allowed.change_contract,
            can_exit: allowed.exit,
            can_annotate: allowed.annotate,
            timeline: timeline_items(timeline),
            follow_ups: follow_up_items(follow_ups),
            decline_reasons: options(DeclineReason::ALL, DeclineReason::as_str, fr::decline),
            withdraw_reasons: options(WithdrawReason::ALL, WithdrawReason::as_str, fr::withdraw),
            exit_reasons: options(ExitReason::ALL, ExitReason::as_str, fr::exit_reason),
            employment: options(
                EmploymentStatus::ALL,
                EmploymentStatus::as_str,
                fr::employment,
            ),
            childcare: options(
                ChildcareSolution::ALL,
                ChildcareSolution::as_str,
                fr::childcare,
            ),
            participants: options(Participant::ALL, Participant::as_str, fr::participant),
            weekdays: weekday_options(),
            enroll_defaults: enroll_defaults(body, today),
            contract_end: body
                .enrollment
                .as_ref()
                .map(|e| fr::date(e.contract_end_date))
                .unwrap_or_default(),
            renewed_end: body
                .enrollment
                .as_ref()
                .and_then(|e| {
                    e.contract_end_date
                        .checked_add_months(chrono::Months::new(CONTRACT_MONTHS))
                })
                .map(fr::date)
                .unwrap_or_default(),
        }
    }
}

/// The enrollment as the family asked for it: from the wished start (or
/// today, once it has passed), on the wished days, at the wished hours.
fn enroll_defaults(body: &ReferralBody, today: NaiveDate) -> Vec<(&'static str, String)> {
    let n = &body.needs;
    let mut out = vec![(
        "start_date",
        n.desired_start_date
            .max(today)
            .format("%Y-%m-%d")
            .to_string(),
    )];
    for day in n.days.iter().flatten() {
        out.push(("days", weekday_code(*day).to_owned()));
    }
    if let Some(h) = &n.hours {
        out.push(("hours.from", h.from.clone()));
        out.push(("hours.to", h.to.clone()));
    }
    out
}

/// The status in words; an enrolled child whose care has not started yet
/// reads "Inscrit, accueil à partir du …", not "Accueil en cours".
fn status_words(body: &ReferralBody, today: NaiveDate) -> String {
    match &body.enrollment {
        Some(e) if body.status == ReferralStatus::Enrolled && e.start_date > today => {
            format!("Inscrit, accueil à partir du {}", fr::date(e.start_date))
        }
        _ => fr::status(body.status).to_owned(),
    }
}

fn follow_up_items(follow_ups: &[FollowUpBody]) -> Vec<FollowUpItem> {
    follow_ups
        .iter()
        .map(|f| FollowUpItem {
            date: fr::date(f.date),
            participants: f
                .participants
                .iter()
                .map(|p| fr::participant(*p))
                .collect::<Vec<_>>()
                .join(", "),
            employment: fr::employment(f.employment_status),
            next_steps: f.next_steps.clone().unwrap_or_default(),
            next_date: f.next_date.map(fr::date).unwrap_or_default(),
        })
        .collect()
}

fn weekday_options() -> Vec<Opt> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
    ]
    .iter()
    .map(|d| Opt {
        value: weekday_code(*d),
        label: fr::weekday(*d),
    })
    .collect()
}

fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn yes_no(b: bool) -> String {
    if b { "oui" } else { "non" }.to_owned()
}

fn age(birth: NaiveDate, today: NaiveDate) -> String {
    let months = (today.year() - birth.year()) * 12 + today.month() as i32
        - birth.month() as i32
        - i32::from(today.day() < birth.day());
    match months {
        m if m < 0 => "à naître".to_owned(),
        m if m < 24 => format!("{m} mois"),
        m => format!("{} ans {} mois", m / 12, m % 12),
    }
}

fn owners(body: &ReferralBody) -> Resource<'_> {
    Resource::Referral(Some(ReferralOwners {
        creche_id: &body.creche_id,
        prescriber: &body.prescriber_organization_id,
    }))
}

fn may(who: &Principal, action: Action, body: &ReferralBody) -> bool {
    require(who, action, owners(body)).is_ok()
}

fn sla_text(body: &ReferralBody) -> (String, &'static str) {
    let due = body.sla.due_at.map(fr::datetime).unwrap_or_default();
    match (body.sla.met, body.sla.seconds_left, body.first_response_at) {
        (_, Some(left), None) if body.status == ReferralStatus::Received => (
            format!("Réponse attendue avant le {due} — {}", fr::time_left(left)),
            if left < 0 {
                "late"
            } else if left < 24 * 3600 {
                "soon"
            } else {
                "ok"
            },
        ),
        (Some(true), _, Some(at)) => (
            format!(
                "Réponse à la famille le {} (dans les 72 h)",
                fr::datetime(at)
            ),
            "ok",
        ),
        (Some(false), _, Some(at)) => (
            format!(
                "Réponse à la famille le {}, après l’échéance du {due}",
                fr::datetime(at)
            ),
            "late",
        ),
        _ => ("Pas de délai de réponse en cours".to_owned(), ""),
    }
}

mod facts;
mod timeline;
use facts::{
    children_facts, contract_facts, exit_facts, needs_facts, parent_facts, project_facts,
    referent_facts,
};
#[cfg(test)]
use timeline::describe_event;
use timeline::timeline_items;

#[cfg(test)]
mod tests;
