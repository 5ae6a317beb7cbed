//! The workspace in the browser, under `/app/`: server-rendered pages in
//! French (askama templates, checked when the crate compiles), a little
//! htmx for partial updates, every asset embedded in the binary. A page
//! handler authenticates the visitor (`session`), calls the same use cases
//! as the API (`avip_app::workflow`) and renders a template; what a use case
//! refuses is shown next to its field, in French (`fr`).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use avip_app::domain::DomainError;

pub mod assets;
pub mod bilan;
pub mod exit_view;
pub mod family_view;
pub mod forms;
pub use avip_app::labels as fr;
pub use sections::Section;
pub mod imports;
pub mod indicators;
pub mod legal;
pub mod meeting;
pub mod outcome;
pub mod planning;
pub mod proconnect;
mod ranking;
pub mod referral;
pub mod referral_forms;
pub mod referral_view;
pub mod referrals;
pub mod sections;
pub mod session;
pub mod sign_in;
pub mod transfer_view;
pub mod waiting_list;
pub mod worklist;

/// What a page cannot show: a redirect to sign in, or a page saying why.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not signed in")]
    SignIn { next: String, htmx: bool },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("form too large")]
    TooLarge,
    /// A form field or a query parameter holds a control character.
    #[error("a control character in {field}")]
    ControlCharacter { field: String },
    #[error("database unavailable")]
    Unavailable,
    /// Too much at once (a rate limit); try again.
    #[error("too many requests")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DomainError> for WebError {
    fn from(e: DomainError) -> WebError {
        match e {
            DomainError::NotFound => WebError::NotFound,
            DomainError::Forbidden { .. } | DomainError::OutOfScope(_) => WebError::Forbidden,
            DomainError::Unavailable => WebError::Unavailable,
            DomainError::TooManyRequests { .. } => WebError::Busy,
            other => WebError::Unexpected(anyhow::anyhow!("{}", other.explain())),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// What the OpenID Connect provider answered, when it refused.
    detail: Option<String>,
    /// The link out of the page: its address and text.
    back: (&'a str, &'a str),
}

const HOME: (&str, &str) = ("/app/", "Retour à l’accueil");

/// A page that says why something could not be done, with a link out.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    detail: Option<String>,
    back: (&str, &str),
) -> HttpResponse {
    html(
        status,
        &ErrorPage {
            title,
            message,
            detail,
            back,
        },
    )
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::ControlCharacter { .. } => StatusCode::BAD_REQUEST,
            WebError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Busy => StatusCode::TOO_MANY_REQUESTS,
            WebError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            WebError::SignIn { next, htmx } => {
                let to = format!("/app/connexion?suite={}", urlencode(next));
                // htmx follows HX-Redirect with a full page load.
                return if *htmx {
                    HttpResponse::Unauthorized()
                        .insert_header(("HX-Redirect", to))
                        .finish()
                } else {
                    HttpResponse::SeeOther()
                        .insert_header((header::LOCATION, to))
                        .finish()
                };
            }
            WebError::Forbidden => (
                "Accès refusé",
                "Votre rôle ne permet pas d’ouvrir cette page.",
            ),
            WebError::NotFound => (
                "Page introuvable",
                "Cette page n’existe pas, ou elle ne vous est pas accessible.",
            ),
            WebError::Csrf => (
                "Formulaire expiré",
                "Ce formulaire n’est plus valable (session renouvelée ou page trop ancienne). \
                 Revenez à la page précédente, rechargez-la et recommencez.",
            ),
            WebError::TooLarge => (
                "Formulaire trop long",
                "Le formulaire envoyé est trop long.",
            ),
            WebError::ControlCharacter { field } => {
                let message = format!(
                    "Le champ « {field} » contient un caractère invisible non autorisé \
                     (caractère de contrôle). Revenez à la page précédente, corrigez-le et recommencez."
                );
                return error_page(
                    self.status_code(),
                    "Formulaire refusé",
                    &message,
                    None,
                    HOME,
                );
            }
            WebError::Busy => (
                "Trop de demandes",
                "Trop de demandes à la fois. Patientez une minute et réessayez.",
            ),
            WebError::Unavailable => (
                "Service momentanément indisponible",
                "La base de données ne répond pas. Réessayez dans quelques instants.",
            ),
            WebError::Unexpected(e) => {
                tracing::error!(error = %format!("{e:#}"), "a page failed");
                (
                    "Erreur inattendue",
                    "Une erreur inattendue s’est produite ; elle a été enregistrée. Réessayez.",
                )
            }
        };
        error_page(self.status_code(), title, message, None, HOME)
    }
}

/// The page for an error the framework answered without a body (a query
/// string that does not parse, a method the path does not answer…).
pub fn bare_error(status: StatusCode) -> HttpResponse {
    let (title, message) = match status {
        StatusCode::NOT_FOUND => (
            "Page introuvable",
            "Cette page n’existe pas, ou elle ne vous est pas accessible.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Action impossible",
            "Cette page ne répond pas à cette action.",
        ),
        s if s.is_server_error() => (
            "Erreur inattendue",
            "Une erreur inattendue s’est produite ; elle a été enregistrée. Réessayez.",
        ),
        _ => (
            "Demande incorrecte",
            "L’adresse ou le formulaire envoyé n’est pas valable. Revenez à la page précédente.",
        ),
    };
    error_page(status, title, message, None, HOME)
}

/// A rendered page with its status.
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Erreur inattendue.")
        }
    }
}

/// A page rendered with 200.
pub fn ok_page(page: &impl Template) -> Result<HttpResponse, WebError> {
    Ok(html(StatusCode::OK, page))
}

/// A redirect after a form (Post/Redirect/Get).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The routes of the workspace.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { see_other("/app/") }))
        .route("/app", web::get().to(|| async { see_other("/app/") }))
        .service(
            web::scope("/app")
                .wrap(actix_web::middleware::from_fn(refuse_control_characters))
                .route("/", web::get().to(sign_in::home))
                .route("/static/{file}", web::get().to(assets::serve))
                .route("/connexion", web::get().to(sign_in::form))
                .route("/connexion", web::post().to(sign_in::submit))
                .route("/deconnexion", web::post().to(sign_in::sign_out))
                .route("/connexion/proconnect", web::get().to(proconnect::start))
                .route(
                    "/connexion/proconnect/retour",
                    web::get().to(proconnect::back),
                )
                .route("/deconnexion/fin", web::get().to(proconnect::signed_out))
                .route("/mentions-legales", web::get().to(legal::legal))
                .route("/accessibilite", web::get().to(legal::accessibility))
                .route("/donnees-personnelles", web::get().to(legal::personal_data))
                .route("/aide", web::get().to(legal::help))
                .route("/suivi/{id}/{at}/{token}", web::get().to(outcome::show))
                .route("/suivi/{id}/{at}/{token}", web::post().to(outcome::answer))
                .route("/rendez-vous/{id}/{token}", web::get().to(meeting::show))
                .route("/rendez-vous/{id}/{token}", web::post().to(meeting::answer))
                .route("/a-traiter", web::get().to(worklist::show))
                .route("/orientations", web::get().to(referrals::list))
                .route("/orientations/nouvelle", web::get().to(referrals::new_form))
                .route("/orientations/nouvelle", web::post().to(referrals::create))
                .route("/orientations/{id}", web::get().to(referral::show))
                .route("/orientations/{id}/{action}", web::post().to(referral::act))
                .route("/liste-attente", web::get().to(waiting_list::show))
                .route("/places", web::get().to(planning::creche))
                .route("/places/territoire", web::get().to(planning::territory))
                .route("/places/fermetures", web::post().to(planning::add_closure))
                .route(
                    "/places/fermetures/{id}/suppression",
                    web::post().to(planning::remove_closure),
                )
                .route("/indicateurs", web::get().to(indicators::page))
                .route("/bilan", web::get().to(bilan::page))
                .route("/import", web::get().to(imports::form))
                .route("/import", web::post().to(imports::upload))
                .route("/import/modele.xlsx", web::get().to(imports::template))
                .route("/import/{id}", web::get().to(imports::show))
                .route("/import/{id}/colonnes", web::post().to(imports::map))
                .route(
                    "/import/{id}/lignes/{row}",
                    web::post().to(imports::correct),
                )
                .route("/import/{id}/enregistrer", web::post().to(imports::commit))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(WebError::NotFound)
                })),
        );
}

/// A page asked with a control character in its query string is refused
/// before any page reads it (forms are checked by [`forms::Form::read`]).
async fn refuse_control_characters(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let pairs: Vec<_> = form_urlencoded::parse(req.query_string().as_bytes()).collect();
    if let Some(field) = avip_app::domain::input::first_refused_pair(
        pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
    ) {
        let response = WebError::ControlCharacter { field }.error_response();
        return Ok(req.into_response(response));
    }
    next.call(req).await.map(|r| r.map_into_boxed_body())
}

/// One entry of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub count: Option<usize>,
    pub current: bool,
}

/// What every page's frame shows: who is signed in, the navigation (with
/// the count of what awaits action), the CSRF token of the sign-out form.
pub struct Layout {
    pub title: String,
    pub name: String,
    pub organization: String,
    pub role: &'static str,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

impl Layout {
    /// The frame for `visitor` on a page of `section`.
    pub async fn load(
        state: &crate::shared::State,
        visitor: &session::Visitor,
        section: Section,
        title: impl Into<String>,
    ) -> Result<Layout, WebError> {
        use avip_db::model::Role;
        let who = visitor.who.clone();
        let (policy, review) = (state.policy.policy.clone(), state.waiting_review);
        let (identity, org, waiting) = state
            .run(move |conn| {
                let (identity, org) = avip_app::workflow::sign_in::me(conn, &who)?;
                let waiting = if Section::Worklist.open_to(&who) {
                    Some(avip_app::workflow::sla::awaiting(
                        conn,
                        &who,
                        (&policy, review),
                        chrono::Utc::now(),
                    )?)
                } else {
                    None
                };
                Ok::<_, DomainError>((identity, org, waiting))
            })
            .await?;
        let role = visitor.who.role;
        let nav = Section::ALL
            .into_iter()
            .filter(|s| s.open_to(&visitor.who))
            .map(|s| NavItem {
                href: s.path(),
                label: match s {
                    Section::Worklist => "À traiter",
                    Section::Referrals if role == Role::Prescriber => "Mes orientations",
                    Section::Referrals => "Orientations",
                    Section::NewReferral => "Nouvelle orientation",
                    Section::Places => "Planning des places",
                    Section::Territory => "Places du territoire",
                    Section::WaitingList => "Liste d’attente",
                    Section::Indicators => "Indicateurs",
                    Section::Bilan => "Bilan",
                    Section::Import => "Importer",
                },
                count: if s == Section::Worklist {
                    waiting
                } else {
                    None
                },
                current: s == section,
            })
            .collect();
        Ok(Layout {
            title: title.into(),
            name: identity.name,
            organization: org.name,
            role: fr::role(role),
            csrf: visitor.csrf.clone(),
            nav,
        })
    }
}
