//! The referral page: the family, the needs, the insertion project, the
//! SLA, the timeline and the follow-ups, with exactly the moves the
//! lifecycle and the visitor's role allow as forms; and the handler of
//! those forms, which calls the API's use cases and shows what they refuse
//! next to its field.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::{ReferralId, Role};
use avip_db::page::PageRequest;
use avip_sla_engine::clock::paris_date;
use chrono::Utc;

use crate::shared::State;
use crate::web::exit_view::confirmation;
use crate::web::family_view;
use crate::web::forms::{Errors, Form};
use crate::web::referral_forms::{
    CONTACT, CONTRACT, CORRECTION, ENROLLMENT, EXIT, FOLLOW_UP, FORM_LABELS, MESSAGE, NOTE,
    TRANSFER, TRANSITION, contract_form,
};
use crate::web::referral_view::{Fact, View};
use crate::web::session::Visitor;
use crate::web::{Layout, Section, WebError, html, see_other};
use avip_app::auth::Principal;
use avip_app::domain::DomainError;
use avip_app::domain::exit::ExitCorrection;
use avip_app::domain::referral::{
    EnrollmentChange, EnrollmentRequest, ExitRequest, FollowUpRequest, NoteRequest,
    TransferRequest, TransitionRequest,
};
use avip_app::views::referral::{EventBody, FollowUpBody, ReferralBody};
use avip_app::workflow::acts;
use avip_app::workflow::family::{ContactPreferenceRequest, MessageRequest};

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    layout: Layout,
    /// The crèche's week from the family's start, for the offer and the
    /// enrollment.
    week: Vec<crate::web::planning::WeekdayLine>,
    week_from: String,
    elsewhere: Vec<String>,
    /// The form that hands the family to another crèche, when allowed.
    transfer: Option<crate::web::transfer_view::TransferPanel>,
    /// How the family is reached, and the messages sent to it.
    reach: Option<crate::web::family_view::FamilyPanel>,
    /// What the page shows (the template reads its fields through `Deref`).
    view: View,
    /// The form that was sent and refused, its values and its errors.
    open: String,
    form: Form,
    errors: Errors,
    done: Option<&'static str>,
    /// The exit the service checked, shown to be confirmed.
    confirm: Vec<Fact>,
    /// The enrollment form before it is sent: the family's needs.
    defaults: Form,
}

/// What the page shows besides the referral: the form sent and refused (or
/// to confirm), its values and errors, the message of a form done.
#[derive(Default)]
struct Shown {
    open: String,
    form: Form,
    errors: Errors,
    done: Option<&'static str>,
    confirm: Vec<Fact>,
}

impl std::ops::Deref for ReferralPage {
    type Target = View;
    fn deref(&self) -> &View {
        &self.view
    }
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

    /// The value sent in form `name`, to fill it again; before anything
    /// is sent, the enrollment form holds what the family asked for.
    fn val(&self, name: &str, field: &str) -> &str {
        if self.open == name {
            self.form.get(field)
        } else if name == "inscription" {
            self.defaults.get(field)
        } else {
            ""
        }
    }

    fn ticked(&self, name: &str, field: &str, value: &str) -> bool {
        if self.open == name {
            self.form.has(field, value)
        } else {
            name == "inscription" && self.defaults.has(field, value)
        }
    }

    /// The summary's links, in the refused form's order: the id of each
    /// field and its message, naming the field's label.
    fn summary(&self) -> Vec<(String, String)> {
        let labels = FORM_LABELS
            .iter()
            .find(|(form, _)| *form == self.open)
            .map(|(_, labels)| *labels)
            .unwrap_or_default();
        self.errors.summary(labels, |field| {
            if self.open == "note" && !self.moves.is_empty() {
                // The note goes with the next step's form.
                input_id("transition", field)
            } else {
                input_id(&self.open, field)
            }
        })
    }

    /// Whether one of the next step's moves offers a place (the week and
    /// the override then go with it).
    fn offers_a_place(&self) -> bool {
        self.moves.iter().any(|m| m.to == "offered")
    }

    /// An enrolled child's next step is the follow-up of the parent's path.
    fn follow_up_first(&self) -> bool {
        self.can_annotate && self.status_code == "enrolled"
    }

    /// The next step's note, shared by its moves and "note only".
    fn step_note(&self) -> &str {
        match self.open.as_str() {
            "transition" | "note" => self.form.get("note"),
            _ => "",
        }
    }

    fn step_note_err(&self) -> Option<&str> {
        self.err("transition", "note")
            .or_else(|| self.err("note", "note"))
    }

    fn step_note_invalid(&self) -> String {
        if self.step_note_err().is_some() {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"{}\"",
                error_id("transition", "note")
            )
        } else {
            String::new()
        }
    }

    fn is_open(&self, name: &str) -> bool {
        self.open == name
    }

    /// The correction form's value: as sent, else the recorded exit's.
    fn corrected(&self, field: &str) -> &str {
        if self.open == "correction" {
            self.form.get(field)
        } else {
            self.exit_panel.current(field)
        }
    }
}

/// The id of a field's input in form `form`: `inscription-hours-from`.
fn input_id(form: &str, field: &str) -> String {
    format!("{form}-{}", crate::web::forms::input_id(field))
}

fn error_id(form: &str, field: &str) -> String {
    format!("{}-err", input_id(form, field))
}

/// Everything the page shows, read for `who`.
struct Loaded {
    body: ReferralBody,
    creche: String,
    timeline: Vec<EventBody>,
    follow_ups: Vec<FollowUpBody>,
    /// The crèche's free places per weekday over the four weeks from the
    /// family's start (or today), and that first day.
    week: Vec<crate::web::planning::WeekdayLine>,
    week_from: chrono::NaiveDate,
    /// The other crèches of the territory that can take the family on its
    /// days, best first, in words (for an open referral the crèche may
    /// have to send elsewhere), and the transfer's choices.
    elsewhere: crate::web::transfer_view::Elsewhere,
    reach: Option<crate::web::family_view::FamilyPanel>,
}

async fn load(state: &State, who: &Principal, id: &ReferralId) -> Result<Loaded, WebError> {
    let (who, id) = (who.clone(), id.clone());
    let policy = state.policy.policy.clone();
    let zone = state.zone();
    state
        .run(move |conn| {
            let record = avip_app::workflow::referrals::get(conn, &who, &id)?;
            let today = paris_date(Utc::now());
            let week_from = record
                .referral
                .desired_start_date
                .unwrap_or(today)
                .max(today);
            let period = avip_db::places::Period {
                from: week_from,
                to: week_from + chrono::Days::new(27),
            };
            let creche_id = &record.referral.creche_id;
            let days =
                match avip_app::workflow::places::availability(conn, &who, creche_id, period, zone)
                {
                    Ok(days) => days,
                    Err(DomainError::Forbidden { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                };
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
                avip_app::workflow::creches::name(conn, &record.referral.creche_id, today)?;
            let elsewhere =
                crate::web::transfer_view::elsewhere(conn, &who, &record, week_from, zone)?;
            let reach = crate::web::family_view::panel(conn, &who, &record)?;
            Ok::<_, DomainError>(Loaded {
                elsewhere,
                reach,
                week: if days.is_empty() {
                    Vec::new()
                } else {
                    crate::web::planning::summary(&days)
                },
                week_from,
                body: ReferralBody::new(record, &policy, Utc::now()),
                creche,
                timeline: timeline.items.into_iter().map(EventBody::from).collect(),
                follow_ups: follow_ups.into_iter().map(FollowUpBody::from).collect(),
            })
        })
        .await
        .map_err(WebError::from)
}

fn build(layout: Layout, who: &Principal, loaded: Loaded, shown: Shown) -> ReferralPage {
    let today = paris_date(Utc::now());
    let (week, week_from) = (loaded.week, avip_app::labels::date(loaded.week_from));
    let elsewhere = loaded.elsewhere;
    let view = View::of(
        who,
        &loaded.body,
        loaded.creche,
        &loaded.timeline,
        &loaded.follow_ups,
        today,
    );
    let defaults = Form::with(
        &view
            .enroll_defaults
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    );
    ReferralPage {
        defaults,
        layout,
        week,
        week_from,
        elsewhere: elsewhere.lines,
        transfer: elsewhere.transfer,
        reach: loaded.reach,
        view,
        open: shown.open,
        form: shown.form,
        errors: shown.errors,
        done: shown.done,
        confirm: shown.confirm,
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
        "refus" => "L’orientation est refusée ; le référent en est informé.",
        "retrait" => "L’orientation est retirée.",
        "inscription" => "L’inscription est enregistrée.",
        "contrat" => "Le contrat est mis à jour.",
        "sortie" => "La sortie est enregistrée.",
        "sortie-prevue" => {
            "La sortie est prévue : l’enfant reste inscrit jusqu’à ce jour-là, puis la sortie est enregistrée."
        }
        "sortie-annulee" => "La sortie prévue est annulée : l’enfant reste inscrit.",
        "correction" => "La sortie est corrigée ; le référent en est informé.",
        "note" => "La note est ajoutée.",
        "suivi" => "Le suivi est enregistré.",
        "message" => "Le message part vers la famille ; il apparaît ci-dessous avec son envoi.",
        "contact" => "Le moyen de contact de la famille est enregistré.",
        "rendez-vous" => {
            "L’invitation part vers la famille : elle choisira son rendez-vous avec le lien reçu."
        }
        "rendez-vous-note" => "Le rendez-vous est noté.",
        "transfert" => {
            "L’orientation est transférée ; la crèche qui la reçoit et le référent en sont informés."
        }
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
    let shown = Shown {
        done: done.fait.as_deref().and_then(done_message),
        ..Shown::default()
    };
    render(&req, &visitor, &state, &id, shown, StatusCode::OK).await
}

async fn render(
    req: &HttpRequest,
    visitor: &Visitor,
    state: &State,
    id: &ReferralId,
    shown: Shown,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let who = &visitor.who;
    let loaded = load(state, who, id).await?;
    crate::shared::record_read(req, state, who, [id], "get_referral");
    crate::shared::record_read(req, state, who, [id], "timeline");
    if loaded
        .reach
        .as_ref()
        .is_some_and(|r| !r.messages.is_empty())
    {
        crate::shared::record_read(req, state, who, [id], "family_messages");
    }
    let title = format!("Orientation {}", loaded.body.reference);
    let layout = Layout::load(state, visitor, Section::Referrals, title).await?;
    Ok(html(status, &build(layout, who, loaded, shown)))
}

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
        "transition" | "refus" | "retrait" => match form.parse::<TransitionRequest>(TRANSITION) {
            Ok(request) => refused(acts::transition(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "inscription" => match form.parse::<EnrollmentRequest>(ENROLLMENT) {
            Ok(request) => refused(acts::enroll(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        "contrat" => match contract_form(&form).and_then(|f| f.parse::<EnrollmentChange>(CONTRACT))
        {
            Ok(change) => refused(acts::change_enrollment(app, &who, &id, change, now).await)?,
            Err(e) => Err(e),
        },
        "sortie" => match exit_form(app, &who, &id, &form).await? {
            Ok(Exit::Confirm(confirm)) => {
                let shown = Shown {
                    open: "sortie".to_owned(),
                    form,
                    confirm,
                    ..Shown::default()
                };
                return render(&req, &visitor, &state, &id, shown, StatusCode::OK).await;
            }
            Ok(Exit::Done(fait)) => {
                return Ok(see_other(&format!("/app/orientations/{id}?fait={fait}")));
            }
            Err(e) => Err(e),
        },
        "sortie-annulee" => refused(acts::cancel_planned_exit(app, &who, &id, now).await)?,
        "correction" => match form.parse::<ExitCorrection>(CORRECTION) {
            Ok(correction) => refused(acts::correct_exit(app, &who, &id, correction, now).await)?,
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
        "message" => message_form(app, &who, &id, &form).await?,
        "rendez-vous" => family_view::invitation_form(app, &who, &id, &form).await?,
        "rendez-vous-note" => family_view::record_form(app, &who, &id, &form).await?,
        "contact" => match form.parse::<ContactPreferenceRequest>(CONTACT) {
            Ok(request) => {
                refused(acts::set_contact_preference(app, &who, &id, request, now).await)?
            }
            Err(e) => Err(e),
        },
        "transfert" => match form.parse::<TransferRequest>(TRANSFER) {
            Ok(request) => refused(acts::transfer(app, &who, &id, request, now).await)?,
            Err(e) => Err(e),
        },
        _ => return Err(WebError::NotFound),
    };
    let sent = Shown {
        open: action,
        form,
        ..Shown::default()
    };
    answer(&req, &visitor, &state, &id, sent, outcome).await
}

/// Where a form sent leads: done, back to the page saying so (the
/// crèche that handed a family to another one, which sees it no more, to
/// its worklist); refused, the page with the form as sent and its errors.
async fn answer(
    req: &HttpRequest,
    visitor: &Visitor,
    state: &State,
    id: &ReferralId,
    sent: Shown,
    outcome: Result<(), Errors>,
) -> Result<HttpResponse, WebError> {
    match outcome {
        Ok(()) if sent.open == "transfert" && visitor.who.role == Role::Coordinator => {
            Ok(see_other("/app/a-traiter?fait=transfert"))
        }
        Ok(()) => Ok(see_other(&format!(
            "/app/orientations/{id}?fait={}",
            sent.open
        ))),
        Err(errors) => {
            let shown = Shown { errors, ..sent };
            render(
                req,
                visitor,
                state,
                id,
                shown,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// What the exit form leads to: the check of what will be recorded, or
/// (confirmed) the exit recorded or planned.
enum Exit {
    Confirm(Vec<Fact>),
    Done(&'static str),
}

/// The exit form: first checked by the service and shown to be confirmed,
/// then, with `confirm`, recorded (or planned for a later day).
async fn exit_form(
    app: &avip_app::App,
    who: &Principal,
    id: &ReferralId,
    form: &Form,
) -> Result<Result<Exit, Errors>, DomainError> {
    let now = Utc::now();
    let request = match form.parse::<ExitRequest>(EXIT) {
        Ok(request) => request,
        Err(errors) => return Ok(Err(errors)),
    };
    let planned = request.date > paris_date(now);
    if !form.checked("confirm") {
        return match acts::preview_exit(app, who, id, request, now).await {
            Ok(checked) => Ok(Ok(Exit::Confirm(confirmation(&checked, paris_date(now))))),
            Err(e) => Errors::of(e).map(Err),
        };
    }
    Ok(
        match refused(acts::exit(app, who, id, request, now).await)? {
            Ok(()) if planned => Ok(Exit::Done("sortie-prevue")),
            Ok(()) => Ok(Exit::Done("sortie")),
            Err(errors) => Err(errors),
        },
    )
}

/// A message to the family, once per form (its key `cle`).
async fn message_form(
    app: &avip_app::App,
    who: &Principal,
    id: &ReferralId,
    form: &Form,
) -> Result<Result<(), Errors>, DomainError> {
    let request = match form.parse::<MessageRequest>(MESSAGE) {
        Ok(request) => request,
        Err(errors) => return Ok(Err(errors)),
    };
    let key = Some(form.get("cle").to_owned()).filter(|k| !k.is_empty());
    refused(acts::send_message(app, who, id, request, key, Utc::now()).await)
}

/// What a use case refused about the form comes back as the form's errors
/// (`Ok(Err(errors))`), anything else as the page's error.
pub(crate) fn refused<T>(done: Result<T, DomainError>) -> Result<Result<(), Errors>, DomainError> {
    match done {
        Ok(_) => Ok(Ok(())),
        Err(e) => Errors::of(e).map(Err),
    }
}
