//! The pages a public service owes, open to anyone and linked from the
//! footer of every page: the legal notice, the accessibility statement, the
//! personal data page (the processing register in plain French, with the
//! retention durations the service runs with) and help. What they name (the
//! operator, its address, the publication director, the host, the data
//! protection officer's and the support's addresses) comes from the
//! settings, which production requires.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use crate::shared::{About, State};
use crate::web::html;

/// Which of the pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicPage {
    Legal,
    Accessibility,
    PersonalData,
    Help,
}

impl PublicPage {
    fn title(self) -> &'static str {
        match self {
            PublicPage::Legal => "Mentions légales",
            PublicPage::Accessibility => "Déclaration d’accessibilité",
            PublicPage::PersonalData => "Données personnelles",
            PublicPage::Help => "Aide et contact",
        }
    }
}

#[derive(Template)]
#[template(path = "public.html")]
struct Page<'a> {
    title: &'static str,
    page: PublicPage,
    about: &'a About,
    /// When this accessibility statement was written (its last review).
    statement_date: &'static str,
}

fn show(state: &State, page: PublicPage) -> HttpResponse {
    html(
        StatusCode::OK,
        &Page {
            title: page.title(),
            page,
            about: &state.web.about,
            statement_date: "7 décembre 2026",
        },
    )
}

pub async fn legal(state: State) -> HttpResponse {
    show(&state, PublicPage::Legal)
}

pub async fn accessibility(state: State) -> HttpResponse {
    show(&state, PublicPage::Accessibility)
}

pub async fn personal_data(state: State) -> HttpResponse {
    show(&state, PublicPage::PersonalData)
}

pub async fn help(state: State) -> HttpResponse {
    show(&state, PublicPage::Help)
}
