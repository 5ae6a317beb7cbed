//! The exit on the referral page: the exit planned for a later day (and
//! its cancellation), the check of what will be recorded before it is, and
//! the correction of a recorded exit.

use avip_db::model::{ReferralStatus, Role};
use chrono::NaiveDate;

use crate::web::fr;
use crate::web::referral_view::Fact;
use avip_app::auth::Principal;
use avip_app::domain::exit::CORRECTION_DAYS;
use avip_app::domain::referral::ExitRequest;
use avip_app::views::referral::{ExitOut, ReferralBody};

/// What the page shows of the exit besides the recorded one.
#[derive(Default)]
pub struct ExitPanel {
    /// The exit planned for a later day, in words.
    pub planned: Vec<Fact>,
    pub planned_date: String,
    /// Whether the visitor may correct the recorded exit now.
    pub can_correct: bool,
    /// The recorded exit's codes, to fill the correction form.
    pub current: [(&'static str, String); 4],
}

impl ExitPanel {
    /// `may_correct`: the visitor's role may correct this referral's exit.
    pub fn of(who: &Principal, body: &ReferralBody, may_correct: bool, today: NaiveDate) -> Self {
        let mut panel = ExitPanel::default();
        if let Some(planned) = &body.planned_exit {
            panel.planned = facts(planned);
            panel.planned_date = fr::date(planned.date);
        }
        if let (Some(exit), ReferralStatus::Exited, None) =
            (&body.exit, body.status, body.anonymised_at)
        {
            let in_time = today <= exit.date + chrono::Duration::days(CORRECTION_DAYS);
            panel.can_correct = may_correct && (in_time || who.role == Role::Admin);
            panel.current = [
                ("date", exit.date.to_string()),
                ("reason", exit.reason.as_str().to_owned()),
                (
                    "employment_status",
                    exit.employment_status.as_str().to_owned(),
                ),
                (
                    "childcare_solution",
                    exit.childcare_solution.as_str().to_owned(),
                ),
            ];
        }
        panel
    }

    /// The recorded exit's value of `field`, for the correction form.
    pub fn current(&self, field: &str) -> &str {
        self.current
            .iter()
            .find(|(name, _)| *name == field)
            .map_or("", |(_, value)| value.as_str())
    }
}

fn facts(exit: &ExitOut) -> Vec<Fact> {
    vec![
        Fact {
            label: "Date de sortie",
            value: fr::date(exit.date),
        },
        Fact {
            label: "Motif",
            value: fr::exit_reason(exit.reason).to_owned(),
        },
        Fact {
            label: "Situation du parent",
            value: fr::employment(exit.employment_status).to_owned(),
        },
        Fact {
            label: "Sortie positive",
            value: positive(exit.positive),
        },
        Fact {
            label: "Solution d’accueil durable",
            value: fr::childcare(exit.childcare_solution).to_owned(),
        },
    ]
}

fn positive(yes: bool) -> String {
    if yes {
        "oui : le parent travaille, crée son activité ou se forme".to_owned()
    } else {
        "non : le parent ne travaille pas et n’est pas en formation".to_owned()
    }
}

/// What an exit checked by the service will record, in words, before it
/// is confirmed; `today`: whether it is recorded now or planned.
pub fn confirmation(exit: &ExitRequest, today: NaiveDate) -> Vec<Fact> {
    let mut facts = facts(&ExitOut {
        date: exit.date,
        reason: exit.reason,
        employment_status: exit.employment_status,
        positive: exit.is_positive(),
        childcare_solution: exit.childcare_solution,
        note: None,
    });
    facts.push(Fact {
        label: "Enregistrement",
        value: if exit.date > today {
            format!(
                "prévue : l’enfant reste inscrit et sa place réservée jusqu’au {} ; la sortie sera enregistrée ce jour-là",
                fr::date(exit.date)
            )
        } else {
            "dès maintenant : la place est libérée après le dernier jour".to_owned()
        },
    });
    facts
}
