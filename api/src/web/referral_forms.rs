//! The referral page's forms: each one's fields as the use cases take
//! them, and their labels in the page's order for the error summary.

use crate::web::forms::{Errors, Form, Kind};

pub const TRANSITION: &[(&str, Kind)] = &[
    ("to", Kind::Required),
    ("reason", Kind::Text),
    ("note", Kind::Text),
    ("force", Kind::Flag),
    ("force_reason", Kind::Text),
];
pub const ENROLLMENT: &[(&str, Kind)] = &[
    ("start_date", Kind::Required),
    ("contract_end_date", Kind::Text),
    ("days", Kind::Many),
    ("hours.from", Kind::Text),
    ("hours.to", Kind::Text),
    ("note", Kind::Text),
    ("force", Kind::Flag),
    ("force_reason", Kind::Text),
];
pub const MESSAGE: &[(&str, Kind)] = &[("template", Kind::Required), ("text", Kind::Text)];
pub const CONTACT: &[(&str, Kind)] = &[("contact_preference", Kind::Text)];
/// Each form's fields and labels, top to bottom, for its error summary.
pub const FORM_LABELS: &[(&str, &[(&str, &str)])] = &[
    (
        "message",
        &[
            ("template", "Message"),
            ("channel", "Moyen de contact"),
            ("text", "Votre message"),
        ],
    ),
    ("contact", &[("contact_preference", "Moyen de contact")]),
    (
        "rendez-vous",
        &[
            ("slot_ids", "Créneaux proposés"),
            ("slot_ids[0]", "Créneaux proposés"),
            ("nouveau[0].starts_at", "Nouveau créneau 1"),
            ("nouveau[1].starts_at", "Nouveau créneau 2"),
            ("nouveau[0].minutes", "Durée"),
            ("channel", "Moyen de contact"),
            ("template", "Message"),
        ],
    ),
    ("rendez-vous-note", &[("outcome", "Premier rendez-vous")]),
    (
        "transition",
        &[
            ("to", "Étape"),
            ("note", "Note"),
            ("force", "Proposer malgré tout"),
            ("force_reason", "Raison"),
        ],
    ),
    ("refus", &[("reason", "Motif du refus"), ("note", "Note")]),
    (
        "retrait",
        &[("reason", "Motif du retrait"), ("note", "Note")],
    ),
    (
        "inscription",
        &[
            ("start_date", "Début de l’accueil"),
            ("contract_end_date", "Fin du contrat"),
            ("days", "Jours d’accueil"),
            ("hours.from", "Arrivée"),
            ("hours.to", "Départ"),
            ("hours", "Horaires"),
            ("note", "Note"),
            ("force", "Accueillir malgré tout"),
            ("force_reason", "Raison de l’accueil au-delà des places"),
        ],
    ),
    (
        "contrat",
        &[
            ("choix", "Renouvellement"),
            ("renew", "Renouvellement"),
            ("contract_end_date", "Nouvelle date de fin"),
            ("note", "Note"),
            ("force", "Prolonger malgré tout"),
            ("force_reason", "Raison"),
        ],
    ),
    (
        "sortie",
        &[
            ("date", "Date de sortie"),
            ("reason", "Motif"),
            ("employment_status", "Situation du parent à la sortie"),
            ("childcare_solution", "Solution d’accueil durable"),
            ("note", "Note"),
        ],
    ),
    (
        "correction",
        &[
            ("date", "Date de sortie"),
            ("reason", "Motif de sortie"),
            ("employment_status", "Situation du parent à la sortie"),
            ("childcare_solution", "Solution d’accueil durable"),
            ("correction_reason", "Motif de la correction"),
        ],
    ),
    ("note", &[("note", "Note")]),
    (
        "transfert",
        &[
            ("creche_id", "Crèche qui reçoit la famille"),
            ("reason", "Motif du transfert"),
            ("note", "Note"),
        ],
    ),
    (
        "suivi",
        &[
            ("date", "Date de l’échange"),
            ("participants", "Participants"),
            ("employment_status", "Situation du parent"),
            ("next_steps", "Prochaines étapes"),
            ("next_date", "Prochain point le"),
        ],
    ),
];

/// The renewal form: "six mois de plus" or a new end date, one or the
/// other (never both silently), as the change the API takes.
pub fn contract_form(form: &Form) -> Result<Form, Errors> {
    let mut errors = Errors::default();
    match form.get("choix") {
        "six_mois" => {
            return Ok(form
                .set("contract_end_date", None)
                .set("renew", Some("true")));
        }
        "date" if !form.get("contract_end_date").trim().is_empty() => {
            return Ok(form.set("renew", None));
        }
        "date" => errors.field("contract_end_date", "Indiquez la nouvelle date de fin."),
        _ => errors.field(
            "choix",
            "Choisissez « six mois de plus » ou une nouvelle date de fin.",
        ),
    }
    Err(errors)
}

pub const CONTRACT: &[(&str, Kind)] = &[
    ("renew", Kind::Flag),
    ("contract_end_date", Kind::Text),
    ("note", Kind::Text),
    ("force", Kind::Flag),
    ("force_reason", Kind::Text),
];
pub const EXIT: &[(&str, Kind)] = &[
    ("date", Kind::Required),
    ("reason", Kind::Required),
    ("employment_status", Kind::Required),
    ("childcare_solution", Kind::Required),
    ("note", Kind::Text),
];
pub const CORRECTION: &[(&str, Kind)] = &[
    ("date", Kind::Text),
    ("reason", Kind::Text),
    ("employment_status", Kind::Text),
    ("childcare_solution", Kind::Text),
    ("correction_reason", Kind::Required),
];
pub const NOTE: &[(&str, Kind)] = &[("note", Kind::Required)];
pub const TRANSFER: &[(&str, Kind)] = &[
    ("creche_id", Kind::Required),
    ("reason", Kind::Required),
    ("note", Kind::Text),
];
pub const FOLLOW_UP: &[(&str, Kind)] = &[
    ("date", Kind::Required),
    ("participants", Kind::Many),
    ("employment_status", Kind::Required),
    ("next_steps", Kind::Text),
    ("next_date", Kind::Text),
];
