//! The referral page: the family, the needs, the insertion project, the
//! SLA, the timeline and the follow-ups, with exactly the moves the
//! lifecycle and the visitor's role allow as forms; and the handler of
//! those forms, which calls the API's use cases and shows what they refuse
//! next to its field.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::{
    ChildcareSolution, DeclineReason, EmploymentStatus, ExitReason, Participant, ReferralId,
    ReferralStatus, WithdrawReason,
};
use avip_db::page::PageRequest;
use avip_sla_engine::clock::paris_date;
use chrono::{Datelike, NaiveDate, Utc};

use crate::shared::State;
use crate::web::forms::{Errors, Form, Kind};
use crate::web::session::Visitor;
use crate::web::{Layout, Section, WebError, fr, html, see_other};
use avip_app::access::{Action, ReferralOwners, Resource, require};
use avip_app::auth::Principal;
use avip_app::domain::referral::{
    EnrollmentChange, EnrollmentRequest, ExitRequest, FollowUpRequest, NoteRequest,
    TransitionRequest, Via, allowed_next,
};
use avip_app::domain::{DomainError, Weekday};
use avip_app::views::referral::{EventBody, FollowUpBody, ReferralBody};
use avip_app::workflow::acts;

/// A value of a fixed list and its French label.
pub struct Opt {
    pub value: &'static str,
    pub label: &'static str,
}

fn options<T: Copy>(
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

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    layout: Layout,
    id: String,
    reference: String,
    status: &'static str,
    creche: String,
    received: String,
    sla: String,
    sla_class: &'static str,
    anonymised: Option<String>,
    closing: Option<String>,
    parent: Vec<Fact>,
    referent: Vec<Fact>,
    children: Vec<Fact>,
    needs: Vec<Fact>,
    atypical_hours: bool,
    project: Vec<Fact>,
    contract: Vec<Fact>,
    exit: Vec<Fact>,
    moves: Vec<MoveOffer>,
    can_decline: bool,
    can_withdraw: bool,
    can_enroll: bool,
    can_change_contract: bool,
    can_exit: bool,
    can_annotate: bool,
    timeline: Vec<TimelineItem>,
    follow_ups: Vec<FollowUpItem>,
    decline_reasons: Vec<Opt>,
    withdraw_reasons: Vec<Opt>,
    exit_reasons: Vec<Opt>,
    employment: Vec<Opt>,
    childcare: Vec<Opt>,
    participants: Vec<Opt>,
    weekdays: Vec<Opt>,
    /// The form that was sent and refused, its values and its errors.
    open: String,
    form: Form,
    errors: Errors,
    done: Option<&'static str>,
}

impl ReferralPage {
    /// The message for `field` of form `name`, if that form was refused.
    fn err(&self, name: &str, field: &str) -> Option<&str> {
        (self.open == name)
            .then(|| self.errors.get(field))
            .flatten()
    }

    /// `aria-invalid` and the link to the message, for a refused field.
    fn invalid(&self, name: &str, field: &str) -> String {
        if self.err(name, field).is_some() {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"{}\"",
                error_id(name, field)
            )
        } else {
            String::new()
        }
    }

    /// The value sent in form `name`, to fill it again.
    fn val(&self, name: &str, field: &str) -> &str {
        if self.open == name {
            self.form.get(field)
        } else {
            ""
        }
    }

    fn ticked(&self, name: &str, field: &str, value: &str) -> bool {
        self.open == name && self.form.has(field, value)
    }

    /// The summary's links: each message and the id of its field.
    fn summary(&self) -> Vec<(String, String)> {
        self.errors
            .all()
            .into_iter()
            .map(|(field, message)| (input_id(&self.open, &field), message))
            .collect()
    }

    fn is_open(&self, name: &str) -> bool {
        self.open == name
    }
}

/// The id of a field's input in form `form`: `inscription-hours-from`.
fn input_id(form: &str, field: &str) -> String {
    format!("{form}-{}", crate::web::forms::input_id(field))
}

fn error_id(form: &str, field: &str) -> String {
    format!("{}-err", input_id(form, field))
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
            format!("Famille répondue le {} (dans les 72 h)", fr::datetime(at)),
            "ok",
        ),
        (Some(false), _, Some(at)) => (
            format!(
                "Famille répondue le {}, après l’échéance du {due}",
                fr::datetime(at)
            ),
            "late",
        ),
        _ => ("Pas de délai de réponse en cours".to_owned(), ""),
    }
}

fn describe_event(e: &EventBody) -> (String, String) {
    let what = match (e.from_status, e.to_status) {
        (Some(from), Some(to)) => format!("{} → {}", fr::status(from), fr::status(to)),
        _ => fr::event(e.kind).to_owned(),
    };
    let mut detail = Vec::new();
    if let Some(reason) = &e.reason {
        detail.push(format!("Motif : {}", fr::reason(reason)));
    }
    if let Some(data) = &e.data {
        if let Some(start) = data.get("start_date").and_then(|v| v.as_str()) {
            detail.push(format!("Début : {start}"));
        }
        if let Some(end) = data.get("contract_end_date").and_then(|v| v.as_str()) {
            detail.push(format!("Fin du contrat : {end}"));
        }
        if let Some(day) = data.get("first_full_day").and_then(|v| v.as_str()) {
            detail.push(format!("Premier jour complet : {day}"));
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

/// Everything the page shows, read for `who`.
struct Loaded {
    body: ReferralBody,
    creche: String,
    timeline: Vec<EventBody>,
    follow_ups: Vec<FollowUpBody>,
}

async fn load(state: &State, who: &Principal, id: &ReferralId) -> Result<Loaded, WebError> {
    let (who, id) = (who.clone(), id.clone());
    let policy = state.policy.policy.clone();
    state
        .run(move |conn| {
            let record = avip_app::workflow::referrals::get(conn, &who, &id)?;
            let everything = PageRequest {
                after: None,
                limit: 500,
            };
            let timeline = avip_app::workflow::referrals::timeline(conn, &who, &id, &everything)?;
            let follow_ups =
                match avip_app::workflow::referrals::follow_ups(conn, &who, &id, &everything) {
                    Ok(page) => page.items,
                    Err(DomainError::Forbidden { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                };
            let creche =
                avip_db::creches::find(conn, &record.referral.creche_id, paris_date(Utc::now()))?
                    .map(|c| c.creche.name)
                    .unwrap_or_default();
            Ok::<_, DomainError>(Loaded {
                body: ReferralBody::new(record, &policy, Utc::now()),
                creche,
                timeline: timeline.items.into_iter().map(EventBody::from).collect(),
                follow_ups: follow_ups.into_iter().map(FollowUpBody::from).collect(),
            })
        })
        .await
        .map_err(WebError::from)
}

fn build(
    layout: Layout,
    who: &Principal,
    loaded: Loaded,
    open: &str,
    form: Form,
    errors: Errors,
    done: Option<&'static str>,
) -> ReferralPage {
    let Loaded {
        body,
        creche,
        timeline,
        follow_ups,
    } = loaded;
    let today = paris_date(Utc::now());
    let (sla, sla_class) = sla_text(&body);
    let p = &body.parent;
    let parent = vec![
        Fact {
            label: "Parent",
            value: format!("{} {}", p.first_name, p.last_name),
        },
        Fact {
            label: "Téléphone",
            value: p.phone.clone().unwrap_or_default(),
        },
        Fact {
            label: "E-mail",
            value: p.email.clone().unwrap_or_default(),
        },
        Fact {
            label: "Commune",
            value: format!("{} {}", p.postal_code, p.commune),
        },
        Fact {
            label: "Situation",
            value: fr::situation(p.situation).to_owned(),
        },
        Fact {
            label: "Parent isolé",
            value: yes_no(p.single_parent),
        },
        Fact {
            label: "Habite en QPV",
            value: yes_no(p.qpv_resident),
        },
        Fact {
            label: "Identifiant France Travail",
            value: p.france_travail_id.clone().unwrap_or_default(),
        },
    ];
    let referent = vec![
        Fact {
            label: "Référent",
            value: body.referent.name.clone(),
        },
        Fact {
            label: "E-mail",
            value: body.referent.email.clone(),
        },
        Fact {
            label: "Téléphone",
            value: body.referent.phone.clone().unwrap_or_default(),
        },
    ];
    let children = body
        .children
        .iter()
        .map(|c| Fact {
            label: "Enfant",
            value: format!(
                "{}, né(e) le {} ({})",
                c.first_name,
                fr::date(c.birth_date),
                age(c.birth_date, today)
            ),
        })
        .collect();
    let n = &body.needs;
    let needs = vec![
        Fact {
            label: "Accueil souhaité à partir du",
            value: fr::date(n.desired_start_date),
        },
        Fact {
            label: "Jours par semaine",
            value: n.days_per_week.map(|d| d.to_string()).unwrap_or_default(),
        },
        Fact {
            label: "Précisions",
            value: n.notes.clone().unwrap_or_default(),
        },
    ];
    let project = vec![
        Fact {
            label: "Projet",
            value: fr::project(body.insertion_project.kind).to_owned(),
        },
        Fact {
            label: "Description",
            value: body
                .insertion_project
                .description
                .clone()
                .unwrap_or_default(),
        },
    ];
    let contract = body
        .enrollment
        .as_ref()
        .map(|e| {
            vec![
                Fact {
                    label: "Début de l’accueil",
                    value: fr::date(e.start_date),
                },
                Fact {
                    label: "Fin du contrat",
                    value: fr::date(e.contract_end_date),
                },
                Fact {
                    label: "Jours",
                    value: e
                        .days
                        .iter()
                        .map(|d| fr::weekday(*d))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                Fact {
                    label: "Horaires",
                    value: e
                        .hours
                        .as_ref()
                        .map(|h| format!("{} – {}", h.from, h.to))
                        .unwrap_or_default(),
                },
                Fact {
                    label: "Renouvellements",
                    value: e.renewals.to_string(),
                },
            ]
        })
        .unwrap_or_default();
    let exit = body
        .exit
        .as_ref()
        .map(|x| {
            vec![
                Fact {
                    label: "Date de sortie",
                    value: fr::date(x.date),
                },
                Fact {
                    label: "Motif",
                    value: fr::exit_reason(x.reason).to_owned(),
                },
                Fact {
                    label: "Situation du parent",
                    value: fr::employment(x.employment_status).to_owned(),
                },
                Fact {
                    label: "Sortie positive",
                    value: yes_no(x.positive),
                },
                Fact {
                    label: "Solution d’accueil durable",
                    value: fr::childcare(x.childcare_solution).to_owned(),
                },
            ]
        })
        .unwrap_or_default();
    let open_referral = body.anonymised_at.is_none();
    let next = allowed_next(body.status);
    let act = open_referral && may(who, Action::Act, &body);
    let moves = next
        .iter()
        .filter(|to| {
            act && Via::to(**to) == Via::Transitions
                && !matches!(to, ReferralStatus::Declined | ReferralStatus::Withdrawn)
        })
        .map(|to| MoveOffer {
            to: to.as_str(),
            label: fr::move_to(*to),
        })
        .collect();
    let timeline = timeline
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
        .collect();
    let follow_ups = follow_ups
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
        .collect();
    ReferralPage {
        layout,
        id: body.id.to_string(),
        reference: body.reference.clone(),
        status: fr::status(body.status),
        creche,
        received: fr::datetime(body.received_at),
        sla,
        sla_class,
        anonymised: body.anonymised_at.map(fr::datetime),
        closing: body.closing_reason.as_deref().map(fr::reason),
        parent,
        referent,
        children,
        needs,
        atypical_hours: n.atypical_hours,
        project,
        contract,
        exit,
        moves,
        can_decline: act && next.contains(&ReferralStatus::Declined),
        can_withdraw: open_referral
            && next.contains(&ReferralStatus::Withdrawn)
            && may(who, Action::Withdraw, &body),
        can_enroll: act && next.contains(&ReferralStatus::Enrolled),
        can_change_contract: act && body.status == ReferralStatus::Enrolled,
        can_exit: act && next.contains(&ReferralStatus::Exited),
        can_annotate: open_referral && may(who, Action::Annotate, &body),
        timeline,
        follow_ups,
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
        weekdays: [
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
        .collect(),
        open: open.to_owned(),
        form,
        errors,
        done,
    }
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

fn parse_id(raw: &str) -> Result<ReferralId, WebError> {
    ReferralId::parse(raw).ok_or(WebError::NotFound)
}

#[derive(serde::Deserialize)]
pub struct Done {
    fait: Option<String>,
}

/// What a successful form says on the page it returns to.
fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "transition" => "Le statut de l’orientation a été mis à jour.",
        "retrait" => "L’orientation est retirée.",
        "inscription" => "L’inscription est enregistrée.",
        "contrat" => "Le contrat est mis à jour.",
        "sortie" => "La sortie est enregistrée.",
        "note" => "La note est ajoutée.",
        "suivi" => "Le suivi est enregistré.",
        "creee" => {
            "L’orientation est envoyée à la crèche ; elle doit répondre à la famille sous 72 heures."
        }
        _ => return None,
    })
}

/// `GET /app/orientations/{id}`.
pub async fn show(
    req: HttpRequest,
    visitor: Visitor,
    state: State,
    id: web::Path<String>,
    done: web::Query<Done>,
) -> Result<HttpResponse, WebError> {
    let id = parse_id(&id)?;
    render(
        &req,
        &visitor,
        &state,
        &id,
        "",
        Form::default(),
        Errors::default(),
        done.fait.as_deref().and_then(done_message),
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render(
    req: &HttpRequest,
    visitor: &Visitor,
    state: &State,
    id: &ReferralId,
    open: &str,
    form: Form,
    errors: Errors,
    done: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let who = &visitor.who;
    let loaded = load(state, who, id).await?;
    crate::shared::record_read(req, state, who, [id], "get_referral");
    crate::shared::record_read(req, state, who, [id], "timeline");
    let title = format!("Orientation {}", loaded.body.reference);
    let layout = Layout::load(state, visitor, Section::Referrals, title).await?;
    Ok(html(
        status,
        &build(layout, who, loaded, open, form, errors, done),
    ))
}

const TRANSITION: &[(&str, Kind)] = &[
    ("to", Kind::Required),
    ("reason", Kind::Text),
    ("note", Kind::Text),
];
const ENROLLMENT: &[(&str, Kind)] = &[
    ("start_date", Kind::Required),
    ("contract_end_date", Kind::Text),
    ("days", Kind::Many),
    ("hours.from", Kind::Text),
    ("hours.to", Kind::Text),
    ("note", Kind::Text),
    ("force", Kind::Flag),
    ("force_reason", Kind::Text),
];
const CONTRACT: &[(&str, Kind)] = &[
    ("renew", Kind::Flag),
    ("contract_end_date", Kind::Text),
    ("note", Kind::Text),
    ("force", Kind::Flag),
    ("force_reason", Kind::Text),
];
const EXIT: &[(&str, Kind)] = &[
    ("date", Kind::Required),
    ("reason", Kind::Required),
    ("employment_status", Kind::Required),
    ("positive", Kind::Flag),
    ("childcare_solution", Kind::Required),
    ("note", Kind::Text),
];
const NOTE: &[(&str, Kind)] = &[("note", Kind::Required)];
const FOLLOW_UP: &[(&str, Kind)] = &[
    ("date", Kind::Required),
    ("participants", Kind::Many),
    ("employment_status", Kind::Required),
    ("next_steps", Kind::Text),
    ("next_date", Kind::Text),
];

/// `POST /app/orientations/{id}/{action}`: one of the page's forms.
pub async fn act(
    req: HttpRequest,
    visitor: Visitor,
    state: State,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let (raw_id, action) = path.into_inner();
    let id = parse_id(&raw_id)?;
    let form = Form::read(&body)?;
    visitor.check_csrf(form.csrf())?;
    let who = visitor.who.clone();
    let (app, now) = (&state.app, Utc::now());
    let outcome: Result<(), Errors> = match action.as_str() {
        "transition" | "retrait" => match form.parse::<TransitionRequest>(TRANSITION) {
            Ok(request) => refused(acts::transition(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "inscription" => match form.parse::<EnrollmentRequest>(ENROLLMENT) {
            Ok(request) => refused(acts::enroll(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "contrat" => match form.parse::<EnrollmentChange>(CONTRACT) {
            Ok(change) => refused(acts::change_enrollment(app, &who, &id, change, now).await)?,
            Err(e) => Err(e),
        },
        "sortie" => match form.parse::<ExitRequest>(EXIT) {
            Ok(request) => refused(acts::exit(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "note" => match form.parse::<NoteRequest>(NOTE) {
            Ok(request) => refused(acts::add_note(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "suivi" => match form.parse::<FollowUpRequest>(FOLLOW_UP) {
            Ok(request) => refused(acts::add_follow_up(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        _ => return Err(WebError::NotFound),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/app/orientations/{id}?fait={action}"))),
        Err(errors) => {
            render(
                &req,
                &visitor,
                &state,
                &id,
                &action,
                form,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// What a use case refused about the form comes back as the form's errors
/// (`Ok(Err(errors))`), anything else as the page's error.
fn refused<T>(done: Result<T, DomainError>) -> Result<Result<(), Errors>, DomainError> {
    match done {
        Ok(_) => Ok(Ok(())),
        Err(e) => Errors::of(e).map(Err),
    }
}
