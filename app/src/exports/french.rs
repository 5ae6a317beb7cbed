//! The French of the files people open: column headers, and the labels of
//! the codes the exports carry that the workspace does not already name.

use avip_db::model::OrganizationKind;

/// Each column's French header (XLSX, and CSV with `headers=fr`).
const HEADERS: &[(&str, &str)] = &[
    // The evaluation rows.
    ("referral_key", "Clé de l’orientation"),
    ("family_id", "Identifiant de la famille"),
    ("prescriber_kind", "Type de prescripteur"),
    ("creche_id", "Identifiant de la crèche"),
    ("creche_name", "Crèche"),
    ("departement", "Département"),
    ("received_month", "Mois de réception"),
    (
        "hours_to_first_response",
        "Heures jusqu’à la première réponse",
    ),
    // (A row's flag, and the indicators' count.)
    ("answered_within_deadline", "Répondue(s) sous 72 h"),
    ("status", "Statut"),
    ("outcome", "Issue"),
    ("refusal_reason", "Motif du refus"),
    ("withdrawal_reason", "Motif du retrait"),
    ("enrollment_start_month", "Mois du début de l’accueil"),
    ("contract_days", "Durée du contrat (jours)"),
    ("renewals", "Renouvellements"),
    ("days_enrolled", "Durée de l’accueil (jours)"),
    ("exit_reason", "Motif de sortie"),
    ("exit_employment_status", "Situation du parent à la sortie"),
    ("positive_exit", "Sortie positive"),
    ("childcare_solution", "Solution d’accueil durable"),
    ("parent_situation", "Situation du parent à l’orientation"),
    ("single_parent", "Parent isolé"),
    ("qpv_resident", "Habite en QPV"),
    ("child_age_bracket", "Âge de l’enfant"),
    ("children", "Enfants"),
    ("insertion_project_kind", "Projet d’insertion"),
    ("exit_corrected", "Sortie corrigée"),
    ("situation_3_months", "Situation à 3 mois"),
    ("situation_6_months", "Situation à 6 mois"),
    // The indicators.
    ("group", "Groupe"),
    ("label", "Libellé"),
    ("received", "Orientations reçues"),
    ("answered", "Répondues"),
    (
        "answered_late",
        "Répondues en retard ou sans réponse à temps",
    ),
    ("pending_first_response", "En cours (délai non échu)"),
    ("answered_within_deadline_pct", "Part répondue sous 72 h"),
    (
        "median_hours_to_first_response",
        "Délai médian de réponse (heures)",
    ),
    (
        "p90_hours_to_first_response",
        "Délai de réponse, 90e centile (heures)",
    ),
    ("offers", "Places proposées"),
    ("transfers_in", "Transferts reçus d’une autre crèche"),
    ("transfers_out", "Transferts vers une autre crèche"),
    ("first_meetings_held", "Premiers rendez-vous honorés"),
    ("first_meetings_no_show", "Rendez-vous non honorés"),
    (
        "median_days_to_first_meeting",
        "Délai médian jusqu’au premier rendez-vous (jours)",
    ),
    ("enrollments", "Inscriptions"),
    ("exits", "Sorties"),
    ("positive_exits", "Sorties positives"),
    ("positive_exit_pct", "Part de sorties positives"),
    ("lasting_solutions", "Solutions d’accueil durables"),
    ("occupied_place_days", "Jours-places occupés"),
    ("available_place_days", "Jours-places disponibles"),
    ("occupancy_pct", "Taux d’occupation"),
    ("exits_in_work", "Sorties en emploi"),
    ("exits_in_training", "Sorties en formation"),
    ("outcomes_3_months_asked", "Demandes à 3 mois"),
    ("outcomes_3_months_answered", "Réponses à 3 mois"),
    ("in_work_at_3_months", "En emploi à 3 mois"),
    ("in_training_at_3_months", "En formation à 3 mois"),
    ("in_work_at_3_months_pct", "Part en emploi à 3 mois"),
    ("in_training_at_3_months_pct", "Part en formation à 3 mois"),
    ("outcomes_6_months_asked", "Demandes à 6 mois"),
    ("outcomes_6_months_answered", "Réponses à 6 mois"),
    ("in_work_at_6_months", "En emploi à 6 mois"),
    ("in_training_at_6_months", "En formation à 6 mois"),
    ("in_work_at_6_months_pct", "Part en emploi à 6 mois"),
    ("in_training_at_6_months_pct", "Part en formation à 6 mois"),
    ("outcome_answer_pct", "Taux de réponse des référents"),
];

/// `name`'s French header (the name itself for a column without one,
/// which the tests forbid).
pub fn header(name: &'static str) -> &'static str {
    HEADERS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, french)| french)
}

pub fn organization_kind(kind: OrganizationKind) -> &'static str {
    match kind {
        OrganizationKind::FranceTravail => "France Travail",
        OrganizationKind::ConseilDepartemental => "Conseil départemental",
        OrganizationKind::MissionLocale => "Mission locale",
        OrganizationKind::Caf => "CAF",
        OrganizationKind::CrecheOperator => "Gestionnaire de crèche",
        OrganizationKind::Admin => "Administration",
    }
}

/// The rows' `outcome`.
pub fn outcome(code: &str) -> &'static str {
    match code {
        "in_progress" => "En cours",
        "enrolled" => "Enfant accueilli",
        "exited" => "Sortie",
        "declined" => "Refusée",
        "withdrawn" => "Retirée",
        _ => "",
    }
}

/// The rows' `child_age_bracket`.
pub fn age_bracket_label(code: &str) -> &'static str {
    match code {
        "under_1" => "Moins d’un an",
        "1_to_2" => "1 à 2 ans",
        "2_to_3" => "2 à 3 ans",
        "3_and_over" => "3 ans et plus",
        _ => "",
    }
}

/// An indicator month group (`2026-01`) in words (`janvier 2026`).
pub fn month_group(key: &str) -> String {
    let mut parts = key.splitn(2, '-');
    match (
        parts.next().and_then(|y| y.parse::<i32>().ok()),
        parts.next().and_then(|m| m.parse::<u32>().ok()),
    ) {
        (Some(year), Some(month)) => crate::labels::month(year, month),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_french_header() {
        for c in super::super::ROW_COLUMNS
            .iter()
            .chain(super::super::INDICATOR_COLUMNS)
        {
            assert_ne!(header(c.name), c.name, "{} has no French header", c.name);
        }
    }
}
