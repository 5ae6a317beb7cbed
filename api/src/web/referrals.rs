//! The referrals a visitor may see ("Mes orientations" for a prescriber),
//! with their status and time to answer, and the prescriber's referral
//! form, checked by the same rules as `POST /api/v1/referrals`.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use avip_db::model::{CrecheId, ParentSituation, ProjectKind, ReferralStatus, Role};
use avip_db::page::PageRequest;
use avip_db::referrals::{ListOrder, ReferralFilter};
use chrono::Utc;
use serde::Deserialize;

use crate::shared::State;
use crate::web::forms::{Errors, Form, Kind, input_id};
use crate::web::referral_view::Opt;
use crate::web::session::{Visitor, random_token};
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, fr, html, ok_page, see_other, urlencode};
use avip_app::domain::DomainError;
use avip_app::domain::referral::ReferralRequest;
use avip_app::views::referral::ReferralBody;

const PAGE: i64 = 50;

pub struct ListRow {
    pub id: String,
    pub reference: String,
    pub family: String,
    pub creche: String,
    pub status: &'static str,
    /// The status's code, which gives its badge its colour.
    pub status_code: &'static str,
    pub received: String,
    /// `répondu en 5 h 12 min`, `reste 2 j 3 h`, `en retard de 3 h`.
    pub answer: String,
    pub class: &'static str,
    /// The contract's end, for an enrolled child (`dd/mm/yyyy`).
    pub contract_end: String,
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ListPage {
    layout: Layout,
    heading: &'static str,
    rows: Vec<ListRow>,
    creches: Vec<Choice>,
    statuses: Vec<Choice>,
    next: Option<String>,
    is_prescriber: bool,
    /// The search as typed.
    q: String,
    orders: Vec<Choice>,
    /// The order in words, for the table's caption.
    order_words: &'static str,
}

#[derive(Deserialize)]
pub struct ListQuery {
    statut: Option<String>,
    creche: Option<String>,
    suite: Option<String>,
    /// A family name, a child's first name or a reference.
    q: Option<String>,
    /// `anciennes` (oldest first), `recentes`, `echeance` (deadline) or
    /// `fin-contrat` (contract end).
    ordre: Option<String>,
}

/// A referral as a row of the list: when it came, and how it was answered
/// (or the time left to answer it).
fn list_row(body: ReferralBody, creche: String) -> ListRow {
    let (answer, class) = match (body.first_response_at, body.sla.seconds_left) {
        (Some(at), _) => {
            let took = (at - body.received_at).num_seconds();
            let late = body.sla.met == Some(false);
            (
                format!("répondu en {}", fr::duration(took)),
                if late { "late" } else { "ok" },
            )
        }
        (None, Some(left)) if body.status == ReferralStatus::Received => {
            (fr::time_left(left), if left < 0 { "late" } else { "" })
        }
        _ => (String::new(), ""),
    };
    let contract_end = match (&body.enrollment, body.status) {
        (Some(e), ReferralStatus::Enrolled) => fr::date(e.contract_end_date),
        _ => String::new(),
    };
    ListRow {
        contract_end,
        id: body.id.to_string(),
        family: format!("{} {}", body.parent.first_name, body.parent.last_name),
        reference: body.reference,
        creche,
        status: fr::status(body.status),
        status_code: body.status.as_str(),
        received: fr::datetime(body.received_at),
        answer,
        class,
    }
}

/// The list's orders: the value in the address, the words of the choice
/// and of the table's caption.
const ORDERS: &[(&str, ListOrder, &str, &str)] = &[
    (
        "anciennes",
        ListOrder::Received,
        "Reçues, les plus anciennes d’abord",
        "par ordre de réception, les plus anciennes d’abord",
    ),
    (
        "recentes",
        ListOrder::ReceivedNewest,
        "Reçues, les plus récentes d’abord",
        "par ordre de réception, les plus récentes d’abord",
    ),
    (
        "echeance",
        ListOrder::Deadline,
        "Échéance de réponse la plus proche d’abord",
        "par échéance de la réponse à la famille, la plus proche d’abord",
    ),
    (
        "fin-contrat",
        ListOrder::ContractEnd,
        "Fin de contrat la plus proche d’abord",
        "par fin de contrat, la plus proche d’abord",
    ),
];

/// The search as typed (at most 100 characters) and the order: as asked,
/// else for a prescriber the newest first (she follows what she just
/// sent), for the crèche the oldest first (who waited longest).
fn search_and_order(query: &ListQuery, role: Role) -> (String, ListOrder) {
    let q = query.q.as_deref().unwrap_or_default().trim();
    let asked = ORDERS
        .iter()
        .find(|(value, ..)| Some(*value) == query.ordre.as_deref())
        .map(|(_, order, ..)| *order);
    let order = asked.unwrap_or(if role == Role::Prescriber {
        ListOrder::ReceivedNewest
    } else {
        ListOrder::Received
    });
    (q.chars().take(100).collect(), order)
}

fn order_entry(order: ListOrder) -> &'static (&'static str, ListOrder, &'static str, &'static str) {
    ORDERS
        .iter()
        .find(|(_, o, ..)| *o == order)
        .unwrap_or(&ORDERS[0])
}

/// The link to the next page, with the same filters, search and order.
fn next_link(
    cursor: &str,
    (status, creche): (Option<ReferralStatus>, Option<&CrecheId>),
    q: &str,
    order: ListOrder,
) -> String {
    let mut link = format!("/app/orientations?suite={}", urlencode(cursor));
    if let Some(s) = status {
        link.push_str(&format!("&statut={s}"));
    }
    if let Some(c) = creche {
        link.push_str(&format!("&creche={c}"));
    }
    if !q.is_empty() {
        link.push_str(&format!("&q={}", urlencode(q)));
    }
    link.push_str(&format!("&ordre={}", order_entry(order).0));
    link
}

/// The list's orders, the current one selected.
fn order_choices(current: ListOrder) -> Vec<Choice> {
    ORDERS
        .iter()
        .map(|(value, order, label, _)| Choice {
            value: (*value).to_owned(),
            label: (*label).to_owned(),
            selected: *order == current,
        })
        .collect()
}

/// `GET /app/orientations`.
pub async fn list(
    req: HttpRequest,
    visitor: Visitor,
    state: State,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    Section::Referrals.require(&who)?;
    let status = query
        .statut
        .as_deref()
        .and_then(|s| s.parse::<ReferralStatus>().ok());
    let creche = query
        .creche
        .as_deref()
        .filter(|c| !c.is_empty())
        .and_then(CrecheId::parse);
    let (q, order) = search_and_order(&query, who.role);
    let filter = ReferralFilter {
        statuses: status.into_iter().collect(),
        creche_id: creche.clone(),
        search: (q.chars().count() >= 2).then(|| avip_db::referrals::Search::new(&q)),
        order,
        ..ReferralFilter::default()
    };
    let page_request = PageRequest {
        after: query.suite.clone().filter(|s| s.len() <= 200),
        limit: PAGE,
    };
    let (names, page) = {
        let who = who.clone();
        state
            .run(move |conn| {
                let page = avip_app::workflow::referrals::list(conn, &who, filter, &page_request)?;
                Ok::<_, DomainError>((avip_app::workflow::creches::names(conn, &who)?, page))
            })
            .await?
    };
    crate::shared::record_read(
        &req,
        &state,
        &who,
        page.items.iter().map(|r| &r.referral.id),
        ["search_referrals", "list_referrals"][usize::from(q.is_empty())],
    );
    let by_id: HashMap<&CrecheId, &str> = names.iter().map(|c| (&c.id, c.name.as_str())).collect();
    let now = Utc::now();
    let rows = (page.items.into_iter())
        .map(|record| {
            let body = ReferralBody::new(record, &state.policy.policy, now);
            let creche = by_id.get(&body.creche_id).copied().unwrap_or("—");
            list_row(body, creche.to_owned())
        })
        .collect();
    let next = page
        .next_cursor
        .map(|cursor| next_link(&cursor, (status, creche.as_ref()), &q, order));
    let is_prescriber = who.role == Role::Prescriber;
    let heading = ["Orientations", "Mes orientations"][usize::from(is_prescriber)];
    let (creches, statuses) =
        super::worklist::filter_choices(&names, creche.as_ref(), ReferralStatus::ALL, status);
    let layout = Layout::load(&state, &visitor, Section::Referrals, heading).await?;
    ok_page(&ListPage {
        layout,
        heading,
        rows,
        creches,
        statuses,
        next,
        is_prescriber,
        q,
        orders: order_choices(order),
        order_words: order_entry(order).3,
    })
}

/// How many children the form offers.
const CHILD_ROWS: usize = 3;

#[derive(Template)]
#[template(path = "referral_form.html")]
struct FormPage {
    layout: Layout,
    /// The crèches come ranked for the family's days.
    ranked: bool,
    creches: Vec<Choice>,
    weekdays: Vec<Opt>,
    situations: Vec<Opt>,
    contacts: Vec<Opt>,
    projects: Vec<Opt>,
    child_rows: Vec<usize>,
    form: Form,
    errors: Errors,
    key: String,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    fn invalid(&self, field: &str) -> String {
        if self.errors.get(field).is_some() {
            format!(
                " aria-invalid=\"true\" aria-describedby=\"{}-err\"",
                input_id(field)
            )
        } else {
            String::new()
        }
    }

    fn val(&self, field: &str) -> &str {
        self.form.get(field)
    }

    fn id(&self, field: &str) -> String {
        input_id(field)
    }

    fn child(&self, i: &usize, field: &str) -> String {
        format!("children[{i}].{field}")
    }

    fn summary(&self) -> Vec<(String, String)> {
        self.errors.summary(LABELS, input_id)
    }
}

/// The form's fields and labels, top to bottom, for its error summary.
const LABELS: &[(&str, &str)] = &[
    ("creche_id", "Crèche AVIP"),
    ("parent.first_name", "Prénom du parent"),
    ("parent.last_name", "Nom du parent"),
    ("parent.phone", "Téléphone du parent"),
    ("parent.email", "E-mail du parent"),
    (
        "parent.contact_preference",
        "Comment la famille veut être jointe",
    ),
    ("parent.postal_code", "Code postal"),
    ("parent.commune", "Commune"),
    ("parent.situation", "Situation du parent"),
    ("parent.single_parent", "Parent isolé"),
    ("parent.qpv_resident", "Habite un QPV"),
    ("parent.france_travail_id", "Identifiant France Travail"),
    ("children", "Enfants"),
    ("children[0].first_name", "Prénom du 1er enfant"),
    ("children[0].birth_date", "Date de naissance du 1er enfant"),
    ("children[1].first_name", "Prénom du 2e enfant"),
    ("children[1].birth_date", "Date de naissance du 2e enfant"),
    ("children[2].first_name", "Prénom du 3e enfant"),
    ("children[2].birth_date", "Date de naissance du 3e enfant"),
    ("needs.desired_start_date", "Accueil souhaité à partir du"),
    ("needs.days", "Jours d’accueil souhaités"),
    ("needs.days_per_week", "Jours d’accueil souhaités"),
    ("needs.hours.from", "Arrivée de l’enfant"),
    ("needs.hours.to", "Départ de l’enfant"),
    ("needs.hours", "Horaires"),
    ("needs.atypical_hours", "Horaires atypiques"),
    ("needs.notes", "Précisions sur les besoins"),
    ("insertion_project.kind", "Projet d’insertion"),
    ("insertion_project.description", "Description du projet"),
    ("referent.name", "Nom du référent"),
    ("referent.email", "E-mail du référent"),
    ("referent.phone", "Téléphone du référent"),
    ("consent.given", "Accord de la famille"),
    ("consent.date", "Date de l’accord"),
];

const FIELDS: &[(&str, Kind)] = &[
    ("creche_id", Kind::Required),
    ("referent.name", Kind::Required),
    ("referent.email", Kind::Required),
    ("referent.phone", Kind::Text),
    ("parent.first_name", Kind::Required),
    ("parent.last_name", Kind::Required),
    ("parent.phone", Kind::Text),
    ("parent.email", Kind::Text),
    ("parent.contact_preference", Kind::Text),
    ("parent.postal_code", Kind::Required),
    ("parent.commune", Kind::Required),
    ("parent.situation", Kind::Required),
    ("parent.single_parent", Kind::Flag),
    ("parent.qpv_resident", Kind::Flag),
    ("parent.france_travail_id", Kind::Text),
    ("children[0].first_name", Kind::Required),
    ("children[0].birth_date", Kind::Required),
    ("children[1].first_name", Kind::Text),
    ("children[1].birth_date", Kind::Text),
    ("children[2].first_name", Kind::Text),
    ("children[2].birth_date", Kind::Text),
    ("needs.desired_start_date", Kind::Required),
    ("needs.days", Kind::Many),
    ("needs.hours.from", Kind::Text),
    ("needs.hours.to", Kind::Text),
    ("needs.atypical_hours", Kind::Flag),
    ("needs.notes", Kind::Text),
    ("insertion_project.kind", Kind::Required),
    ("insertion_project.description", Kind::Text),
    ("consent.given", Kind::Flag),
    ("consent.date", Kind::Required),
];

/// The crèche choice: ranked with what each can offer once the family's
/// days are known, by name before.
fn creche_choices(
    chosen: &str,
    names: Vec<avip_db::creches::CrecheName>,
    ranked: &[avip_app::workflow::matching::Match],
    wanted: Option<&avip_app::workflow::matching::Wanted>,
) -> Vec<Choice> {
    match wanted {
        Some(w) if !ranked.is_empty() => ranked
            .iter()
            .map(|m| Choice {
                selected: m.creche.id.to_string() == chosen,
                value: m.creche.id.to_string(),
                label: format!(
                    "{} ({}) — {}",
                    m.creche.name,
                    m.creche.commune,
                    crate::web::ranking::offer(m, w)
                ),
            })
            .collect(),
        _ => names
            .into_iter()
            .map(|c| Choice {
                selected: c.id.to_string() == chosen,
                value: c.id.to_string(),
                label: format!("{} ({})", c.name, c.commune),
            })
            .collect(),
    }
}

async fn form_page(
    state: &State,
    visitor: &Visitor,
    form: Form,
    errors: Errors,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let who = visitor.who.clone();
    let wanted = crate::web::ranking::wanted(&form, &who.departement);
    let asked = wanted.clone();
    let zone = state.zone();
    let (names, ranked) = state
        .run(move |conn| {
            let names = avip_app::workflow::creches::of_departement(conn, &who)?;
            let ranked = match &asked {
                Some(w) => avip_app::workflow::matching::matches(conn, &who, w, zone)?,
                None => Vec::new(),
            };
            Ok::<_, DomainError>((names, ranked))
        })
        .await?;
    let creches = creche_choices(form.get("creche_id"), names, &ranked, wanted.as_ref());
    let key = Some(form.get("cle"))
        .filter(|k| k.len() == 43)
        .map(str::to_owned)
        .unwrap_or_else(random_token);
    let layout = Layout::load(state, visitor, Section::NewReferral, "Nouvelle orientation").await?;
    Ok(html(
        status,
        &FormPage {
            layout,
            ranked: !ranked.is_empty(),
            creches,
            weekdays: avip_app::domain::Weekday::ALL
                .into_iter()
                .map(|d| Opt {
                    value: d.code(),
                    label: fr::weekday(d),
                })
                .collect(),
            situations: ParentSituation::ALL
                .iter()
                .map(|s| Opt {
                    value: s.as_str(),
                    label: fr::situation(*s),
                })
                .collect(),
            contacts: crate::web::referral_view::options(
                avip_db::model::ContactPreference::ALL,
                avip_db::model::ContactPreference::as_str,
                fr::contact_preference,
            ),
            projects: ProjectKind::ALL
                .iter()
                .map(|p| Opt {
                    value: p.as_str(),
                    label: fr::project(*p),
                })
                .collect(),
            child_rows: (0..CHILD_ROWS).collect(),
            form,
            errors,
            key,
        },
    ))
}

/// `GET /app/orientations/nouvelle`.
pub async fn new_form(visitor: Visitor, state: State) -> Result<HttpResponse, WebError> {
    Section::NewReferral.require(&visitor.who)?;
    let today = avip_sla_engine::clock::paris_date(Utc::now()).to_string();
    // The referent is, unless she says otherwise, the person signed in.
    let who = visitor.who.clone();
    let (me, _) = state
        .run(move |conn| avip_app::workflow::sign_in::me(conn, &who))
        .await?;
    let email = me.email.unwrap_or_default();
    let form = Form::with(&[
        ("consent.date", &today),
        ("referent.name", &me.name),
        ("referent.email", &email),
    ]);
    form_page(&state, &visitor, form, Errors::default(), StatusCode::OK).await
}

/// `POST /app/orientations/nouvelle`.
pub async fn create(
    visitor: Visitor,
    state: State,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = Form::read(&body)?;
    visitor.check_csrf(form.csrf())?;
    if form.checked("classer") {
        // "Classer les crèches": the same form, its crèches ranked for the
        // days given so far; nothing is sent.
        return form_page(&state, &visitor, form, Errors::default(), StatusCode::OK).await;
    }
    let who = visitor.who.clone();
    let now = Utc::now();
    let request = match form.parse::<ReferralRequest>(FIELDS) {
        Ok(request) => request,
        Err(errors) => {
            return form_page(
                &state,
                &visitor,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let key = Some(form.get("cle"))
        .filter(|k| k.len() == 43)
        .map(|k| format!("web-{k}"));
    let outcome = avip_app::workflow::referrals::create(&state.app, &who, request, key, now).await;
    if let Err(DomainError::TooManyRequests { .. }) = outcome {
        let mut errors = Errors::default();
        errors.general.push(
            "Votre organisation a envoyé beaucoup d’orientations en une minute. Réessayez dans \
             un instant."
                .to_owned(),
        );
        return form_page(
            &state,
            &visitor,
            form,
            errors,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    match outcome {
        Ok(intake) => Ok(see_other(&format!(
            "/app/orientations/{}?fait=creee",
            intake.record.referral.id
        ))),
        Err(e) => {
            let errors = Errors::of(e)?;
            form_page(
                &state,
                &visitor,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
