//! The facts the referral page lists, section by section.

use chrono::NaiveDate;

use super::{Fact, age, yes_no};
use crate::web::fr;
use avip_app::domain::referral::phone_as_written;
use avip_app::views::referral::ReferralBody;

pub(super) fn parent_facts(body: &ReferralBody) -> Vec<Fact> {
    let p = &body.parent;
    vec![
        Fact {
            label: "Parent",
            value: format!("{} {}", p.first_name, p.last_name),
        },
        Fact {
            label: "Téléphone",
            value: p.phone.as_deref().map(phone_as_written).unwrap_or_default(),
        },
        Fact {
            label: "E-mail",
            value: p.email.clone().unwrap_or_default(),
        },
        Fact {
            label: "Moyen de contact",
            value: p
                .contact_preference
                .map_or("non renseigné", fr::contact_preference)
                .to_owned(),
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
    ]
}

pub(super) fn referent_facts(body: &ReferralBody) -> Vec<Fact> {
    vec![
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
            value: body
                .referent
                .phone
                .as_deref()
                .map(phone_as_written)
                .unwrap_or_default(),
        },
    ]
}

pub(super) fn children_facts(body: &ReferralBody, today: NaiveDate) -> Vec<Fact> {
    body.children
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
        .collect()
}

pub(super) fn needs_facts(body: &ReferralBody) -> Vec<Fact> {
    let n = &body.needs;
    vec![
        Fact {
            label: "Accueil souhaité à partir du",
            value: fr::date(n.desired_start_date),
        },
        match &n.days {
            Some(days) => Fact {
                label: "Jours souhaités",
                value: days
                    .iter()
                    .map(|d| fr::weekday(*d))
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            None => Fact {
                label: "Jours par semaine",
                value: n.days_per_week.map(|d| d.to_string()).unwrap_or_default(),
            },
        },
        Fact {
            label: "Horaires souhaités",
            value: n
                .hours
                .as_ref()
                .map(|h| fr::hours(&h.from, &h.to))
                .unwrap_or_default(),
        },
        Fact {
            label: "Précisions",
            value: n.notes.clone().unwrap_or_default(),
        },
    ]
}

pub(super) fn project_facts(body: &ReferralBody) -> Vec<Fact> {
    vec![
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
    ]
}

pub(super) fn contract_facts(body: &ReferralBody) -> Vec<Fact> {
    body.enrollment
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
                        .map(|h| fr::hours(&h.from, &h.to))
                        .unwrap_or_default(),
                },
                Fact {
                    label: "Renouvellements",
                    value: e.renewals.to_string(),
                },
            ]
        })
        .unwrap_or_default()
}

pub(super) fn exit_facts(body: &ReferralBody) -> Vec<Fact> {
    body.exit
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
        .unwrap_or_default()
}
