//! The French words of the workspace: the labels of the fixed lists, the
//! messages of what a use case refuses, durations and dates as a
//! coordinator reads them.

use avip_db::model::{
    ChildcareSolution, DeclineReason, EmploymentStatus, EventKind, ExitReason, NotificationKind,
    OutcomeAt, OutcomeSituation, ParentSituation, Participant, ProjectKind, ReferralStatus, Role,
    TransferReason, WithdrawReason,
};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Paris;

use crate::domain::Weekday;

pub fn role(r: Role) -> &'static str {
    match r {
        Role::Prescriber => "Prescripteur",
        Role::Coordinator => "Coordinatrice AVIP",
        Role::Caf => "CAF",
        Role::Admin => "Administration",
    }
}

pub fn status(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Received => "Reçue",
        ReferralStatus::Contacted => "Famille contactée",
        ReferralStatus::Offered => "Place proposée",
        ReferralStatus::Waitlisted => "Liste d’attente",
        ReferralStatus::Enrolled => "Accueil en cours",
        ReferralStatus::Declined => "Refusée",
        ReferralStatus::Withdrawn => "Retirée",
        ReferralStatus::Exited => "Sortie",
    }
}

/// The verb of a move, on its button.
pub fn move_to(s: ReferralStatus) -> &'static str {
    match s {
        ReferralStatus::Received => "Remettre en reçue",
        ReferralStatus::Contacted => "Famille contactée",
        ReferralStatus::Offered => "Proposer une place",
        ReferralStatus::Waitlisted => "Mettre en liste d’attente",
        ReferralStatus::Enrolled => "Inscrire",
        ReferralStatus::Declined => "Refuser",
        ReferralStatus::Withdrawn => "Retirer l’orientation",
        ReferralStatus::Exited => "Enregistrer la sortie",
    }
}

pub fn situation(s: ParentSituation) -> &'static str {
    match s {
        ParentSituation::JobSeeker => "Demandeur d’emploi",
        ParentSituation::Rsa => "Bénéficiaire du RSA",
        ParentSituation::YoungUnder26 => "Jeune de moins de 26 ans",
        ParentSituation::Training => "En formation",
        ParentSituation::Other => "Autre",
    }
}

pub fn project(p: ProjectKind) -> &'static str {
    match p {
        ProjectKind::JobSearch => "Recherche d’emploi",
        ProjectKind::Training => "Formation",
        ProjectKind::JobInterview => "Entretien d’embauche",
        ProjectKind::BusinessCreation => "Création d’entreprise",
        ProjectKind::Other => "Autre",
    }
}

pub fn employment(e: EmploymentStatus) -> &'static str {
    match e {
        EmploymentStatus::JobSearch => "En recherche d’emploi",
        EmploymentStatus::Training => "En formation",
        EmploymentStatus::EmployedFixedTerm => "En emploi (CDD)",
        EmploymentStatus::EmployedPermanent => "En emploi (CDI)",
        EmploymentStatus::TempWork => "Intérim",
        EmploymentStatus::BusinessCreation => "Création d’entreprise",
        EmploymentStatus::Other => "Autre",
    }
}

pub fn outcome(s: OutcomeSituation) -> &'static str {
    match s {
        OutcomeSituation::JobSearch => "En recherche d’emploi",
        OutcomeSituation::Training => "En formation",
        OutcomeSituation::EmployedFixedTerm => "En emploi (CDD)",
        OutcomeSituation::EmployedPermanent => "En emploi (CDI)",
        OutcomeSituation::TempWork => "Intérim",
        OutcomeSituation::BusinessCreation => "Création d’entreprise",
        OutcomeSituation::Other => "Autre",
        OutcomeSituation::Unknown => "Je ne sais pas",
    }
}

/// `3 mois`, `6 mois`: when the situation after the exit is asked.
pub fn after_exit(at: OutcomeAt) -> &'static str {
    match at {
        OutcomeAt::ThreeMonths => "3 mois",
        OutcomeAt::SixMonths => "6 mois",
    }
}

pub fn transfer_reason(r: TransferReason) -> &'static str {
    match r {
        TransferReason::NoPlaceOnDays => "Pas de place les jours demandés",
        TransferReason::HoursNotCovered => "Horaires non couverts",
        TransferReason::CloserToHomeOrWork => "Plus proche du domicile ou du travail",
        TransferReason::FamilyRequest => "À la demande de la famille",
        TransferReason::Other => "Autre",
    }
}

pub fn decline(r: DeclineReason) -> &'static str {
    match r {
        DeclineReason::NoPlaceAvailable => "Pas de place disponible",
        DeclineReason::NoPlaceMatchingHours => "Pas de place aux horaires demandés",
        DeclineReason::OutsideCatchmentArea => "Hors secteur",
        DeclineReason::ChildAgeNotEligible => "Âge de l’enfant non éligible",
        DeclineReason::NotEligible => "Famille non éligible",
        DeclineReason::FamilyUnreachable => "Famille injoignable",
        DeclineReason::FamilyRefusedOffer => "La famille a refusé la place",
        DeclineReason::Other => "Autre",
    }
}

pub fn withdraw(r: WithdrawReason) -> &'static str {
    match r {
        WithdrawReason::OtherChildcareFound => "Autre mode de garde trouvé",
        WithdrawReason::FamilyMoved => "La famille a déménagé",
        WithdrawReason::ProjectAbandoned => "Projet abandonné",
        WithdrawReason::FamilyNoLongerInterested => "La famille n’est plus intéressée",
        WithdrawReason::ReferralError => "Orientation faite par erreur",
        WithdrawReason::Other => "Autre",
    }
}

pub fn exit_reason(r: ExitReason) -> &'static str {
    match r {
        ExitReason::Employment => "Accès à l’emploi",
        ExitReason::Training => "Entrée en formation",
        ExitReason::ContractEnd => "Fin du contrat d’accueil",
        ExitReason::ChildEntersSchool => "Entrée à l’école",
        ExitReason::FamilyMoved => "Déménagement",
        ExitReason::FamilyChoice => "Choix de la famille",
        ExitReason::Other => "Autre",
    }
}

pub fn childcare(c: ChildcareSolution) -> &'static str {
    match c {
        ChildcareSolution::SameCreche => "Dans la même crèche",
        ChildcareSolution::OtherEaje => "Autre établissement d’accueil",
        ChildcareSolution::AssistanteMaternelle => "Assistante maternelle",
        ChildcareSolution::RelaisPetiteEnfance => "Via le relais petite enfance",
        ChildcareSolution::None => "Aucune",
        ChildcareSolution::Other => "Autre",
    }
}

pub fn participant(p: Participant) -> &'static str {
    match p {
        Participant::Coordinator => "Coordinatrice",
        Participant::Referent => "Référent",
        Participant::Parent => "Parent",
        Participant::Other => "Autre",
    }
}

pub fn event(k: EventKind) -> &'static str {
    match k {
        EventKind::Created => "Orientation reçue",
        EventKind::Transition => "Changement de statut",
        EventKind::Note => "Note",
        EventKind::FollowUp => "Suivi du parcours",
        EventKind::Enrollment => "Inscription",
        EventKind::Renewal => "Renouvellement du contrat",
        EventKind::EnrollmentAmended => "Contrat modifié",
        EventKind::Exit => "Sortie",
        EventKind::ExitPlanned => "Sortie prévue",
        EventKind::ExitPlanCancelled => "Sortie prévue annulée",
        EventKind::ExitCorrected => "Sortie corrigée",
        EventKind::OutcomeRequested => "Situation du parent demandée au référent",
        EventKind::OutcomeRecorded => "Situation du parent après la sortie",
        EventKind::SlaWarning => "Alerte : délai de réponse bientôt atteint",
        EventKind::SlaBreach => "Délai de 72 h dépassé",
        EventKind::SlaEscalation => "Escalade du retard",
        EventKind::FollowUpOverdue => "Suivi en retard",
        EventKind::ContractEnding => "Fin de contrat proche",
        EventKind::EmailSent => "E-mail envoyé",
        EventKind::Exported => "Exporté",
        EventKind::CapacityOverride => "Accueil au-delà des places AVIP",
        EventKind::Anonymised => "Données personnelles effacées",
        EventKind::Transferred => "Transférée vers une autre crèche",
        EventKind::OfferExpired => "Offre de place expirée sans réponse",
        EventKind::WaitingReminder => "Rappel : famille en liste d’attente sans nouvelle",
        EventKind::FamilyMessage => "Message à la famille",
        EventKind::FamilyMessageSent => "Message à la famille remis",
        EventKind::FamilyMessageFailed => "Message à la famille refusé",
        EventKind::ContactPreferenceChanged => "Moyen de contact de la famille modifié",
        EventKind::MeetingInvited => "Famille invitée à choisir son premier rendez-vous",
        EventKind::MeetingInvitationRevoked => "Invitation au rendez-vous annulée",
        EventKind::MeetingBooked => "Premier rendez-vous choisi par la famille",
        EventKind::CallbackRequested => "La famille demande à être rappelée",
        EventKind::WithdrawalRequested => "La famille dit ne plus avoir besoin de place",
        EventKind::MeetingRecorded => "Premier rendez-vous",
        EventKind::Imported => "Importée d’un tableur",
    }
}

/// To whom an e-mail of this kind about a referral went.
pub fn email_recipients(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::ReferentNotice => "au référent",
        NotificationKind::FirstResponseEscalation => {
            "à la coordination et à la direction de la crèche"
        }
        NotificationKind::WebhookDisabled => "à l’organisation",
        NotificationKind::FamilyMessage => "à la famille",
        NotificationKind::FirstResponseWarning
        | NotificationKind::FirstResponseBreach
        | NotificationKind::FollowUpOverdue
        | NotificationKind::ContractEnding
        | NotificationKind::Digest
        | NotificationKind::ArrivalNotice
        | NotificationKind::CoordinatorNotice => "à la coordination de la crèche",
    }
}

/// `lundi et mardi`, `lundi, mardi et jeudi`.
pub fn days(days: &[Weekday]) -> String {
    let names: Vec<&str> = days.iter().map(|d| weekday(*d)).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} et {last}", rest.join(", ")),
    }
}

/// How the family wants to be reached.
pub fn contact_preference(p: avip_db::model::ContactPreference) -> &'static str {
    use avip_db::model::ContactPreference::*;
    match p {
        Sms => "par SMS",
        Email => "par e-mail",
        PhoneCall => "par téléphone seulement",
        Referent => "par son référent",
    }
}

/// The name of a message to the family, as the coordinator picks it.
pub fn message_template(t: avip_db::model::MessageTemplate) -> &'static str {
    use avip_db::model::MessageTemplate::*;
    match t {
        Acknowledgment => "Accusé de réception",
        MeetingInvitation => "Invitation au premier rendez-vous",
        Reminder => "Relance de l’invitation",
        PlaceOffer => "Proposition de place",
        Documents => "Documents à apporter",
        FreeText => "Message libre",
        MeetingConfirmation => "Confirmation du rendez-vous",
        MeetingReminder => "Rappel du rendez-vous",
    }
}

/// SMS or e-mail.
pub fn channel(c: avip_db::model::Channel) -> &'static str {
    match c {
        avip_db::model::Channel::Sms => "SMS",
        avip_db::model::Channel::Email => "e-mail",
    }
}

/// Why a place became free.
pub fn freed_cause(cause: avip_db::model::FreedCause) -> &'static str {
    use avip_db::model::FreedCause::*;
    match cause {
        Exit => "un enfant quitte sa place",
        ContractEnd => "un contrat d’accueil se termine",
        OfferRefused => "une offre de place n’a pas été retenue",
        OfferExpired => "une offre de place a expiré sans réponse",
        Capacity => "la crèche réserve plus de places AVIP",
        ClosureRemoved => "une fermeture de la crèche est annulée",
    }
}

pub fn weekday(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "lundi",
        Weekday::Tue => "mardi",
        Weekday::Wed => "mercredi",
        Weekday::Thu => "jeudi",
        Weekday::Fri => "vendredi",
        Weekday::Sat => "samedi",
        Weekday::Sun => "dimanche",
    }
}

/// A reason's label, whichever list it comes from.
pub fn reason(code: &str) -> String {
    if let Ok(r) = code.parse::<DeclineReason>() {
        return decline(r).to_owned();
    }
    if let Ok(r) = code.parse::<WithdrawReason>() {
        return withdraw(r).to_owned();
    }
    if let Ok(r) = code.parse::<ExitReason>() {
        return exit_reason(r).to_owned();
    }
    if let Ok(r) = code.parse::<TransferReason>() {
        return transfer_reason(r).to_owned();
    }
    code.to_owned()
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// `mars 2026`.
pub fn month(year: i32, month: u32) -> String {
    format!("{} {year}", MONTHS[(month as usize).clamp(1, 12) - 1])
}

/// `8 h 30`, `17 h` from `08:30`, `17:00`; anything else as it is.
pub fn hour(hh_mm: &str) -> String {
    match hh_mm.split_once(':') {
        Some((h, m)) if h.len() == 2 && m.len() == 2 => {
            let h = h.trim_start_matches('0');
            let h = if h.is_empty() { "0" } else { h };
            if m == "00" {
                format!("{h} h")
            } else {
                format!("{h} h {m}")
            }
        }
        _ => hh_mm.to_owned(),
    }
}

/// `de 8 h 30 à 17 h`.
pub fn hours(from: &str, to: &str) -> String {
    format!("de {} à {}", hour(from), hour(to))
}

/// `14/03/2025`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `14/03/2025 à 16 h 05`, Paris time.
pub fn datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&Paris)
        .format("%d/%m/%Y à %H h %M")
        .to_string()
}

/// `2 j 5 h`, `5 h 12 min`, `12 min`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        format!("{days} j {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else {
        format!("{minutes} min")
    }
}

/// Time left before a deadline, or how late.
pub fn time_left(seconds: i64) -> String {
    if seconds >= 0 {
        format!("reste {}", duration(seconds))
    } else {
        format!("en retard de {}", duration(seconds))
    }
}

/// The domain's messages and their French, word for word.
const EXACT: &[(&str, &str)] = &[
    (
        "give one of departement, creche and operator, not several",
        "Choisissez un seul périmètre : un département, une crèche ou un gestionnaire.",
    ),
    (
        "employment needs a situation of work (employed, temping, business created)",
        "« Accès à l’emploi » demande une situation d’emploi (contrat, intérim, création d’entreprise).",
    ),
    (
        "training needs the situation training",
        "« Formation » demande la situation « en formation ».",
    ),
    (
        "does not match the reason",
        "Cette situation ne correspond pas au motif de sortie.",
    ),
    (
        "contradicts employment_status: work, training or a business created is a positive exit",
        "Une sortie vers l’emploi, la formation ou une création d’entreprise est positive.",
    ),
    (
        "contradicts employment_status: only work, training or a business created is a positive exit",
        "Seules les sorties vers l’emploi, la formation ou une création d’entreprise sont positives.",
    ),
    (
        "a corrected exit is dated up to today: plan a future exit before it is recorded",
        "Une sortie corrigée est datée d’aujourd’hui au plus tard.",
    ),
    (
        "nothing to correct: give a date, reason, employment_status or childcare_solution that differs from the recorded exit",
        "Rien à corriger : changez la date, le motif, la situation du parent ou la solution d’accueil.",
    ),
    ("is required", "Ce champ est obligatoire."),
    ("must not be empty", "Ce champ ne peut pas être vide."),
    (
        "must not contain control characters",
        "Ce champ contient des caractères interdits.",
    ),
    (
        "must not contain control characters (such as U+0000)",
        "Ce champ contient des caractères interdits.",
    ),
    ("is in the future", "Cette date est dans le futur."),
    (
        "is not an e-mail address",
        "Ce n’est pas une adresse e-mail valide.",
    ),
    ("is listed twice", "Cet élément figure deux fois."),
    (
        "is not a French phone number",
        "Ce n’est pas un numéro de téléphone français (ex. 06 12 34 56 78).",
    ),
    (
        "is not a French phone number (e.g. 06 12 34 56 78 or +33 6 12 34 56 78)",
        "Ce n’est pas un numéro de téléphone français (ex. 06 12 34 56 78).",
    ),
    (
        "is not a French postal code (five digits)",
        "Le code postal compte cinq chiffres.",
    ),
    (
        "is not a France Travail identifier (seven digits and a letter or digit, e.g. 1234567A)",
        "Identifiant France Travail invalide (sept chiffres puis une lettre ou un chiffre, ex. 1234567A).",
    ),
    (
        "give a phone number or an e-mail, so that the crèche can answer the family",
        "Indiquez un téléphone ou une adresse e-mail, pour que la crèche puisse répondre à la famille.",
    ),
    (
        "the family's consent to the data sharing is required",
        "Le consentement de la famille au partage des données est obligatoire.",
    ),
    (
        "the child will be of school age (école maternelle) at the desired start date",
        "L’enfant aura l’âge d’entrer à l’école maternelle à la date d’accueil souhaitée.",
    ),
    ("must be between 1 and 6", "Entre 1 et 6."),
    ("is not an id", "Choisissez une valeur dans la liste."),
    (
        "is not a registered crèche",
        "Cette crèche n’est pas enregistrée : choisissez-en une autre.",
    ),
    (
        "is the crèche the referral is already at",
        "La famille est déjà orientée vers cette crèche : choisissez-en une autre.",
    ),
    (
        "no such crèche in your département",
        "Cette crèche n’est pas dans votre département.",
    ),
    (
        "is not a time of day written HH:MM",
        "Heure attendue au format HH:MM.",
    ),
    (
        "must be after hours.from",
        "L’heure de fin doit suivre l’heure de début.",
    ),
    (
        "must be after needs.hours.from",
        "L’heure de fin doit suivre l’heure de début.",
    ),
    (
        "disagrees with needs.days_per_week",
        "Ne correspond pas au nombre de jours par semaine.",
    ),
    (
        "is only with days",
        "Indiquez les nouveaux jours avec leur date d’effet.",
    ),
    (
        "must be within the contract",
        "Cette date doit être comprise dans le contrat.",
    ),
    (
        "is only for offered",
        "Seule une proposition de place peut être forcée.",
    ),
    (
        "disagrees with needs.days",
        "Ne correspond pas aux jours cochés.",
    ),
    (
        "must be after start_date",
        "Doit être après la date de début.",
    ),
    (
        "must be after the start date",
        "Doit être après la date de début.",
    ),
    ("must be after date", "Doit être après la date du suivi."),
    ("must name at least one day", "Cochez au moins un jour."),
    ("a day is listed twice", "Un jour est coché deux fois."),
    (
        "is before the enrollment started",
        "Cette date précède le début de l’accueil.",
    ),
    (
        "is before the referral was received",
        "Cette date précède la réception de l’orientation.",
    ),
    (
        "is more than a month ahead",
        "Cette date est à plus d’un mois.",
    ),
    (
        "is more than a month in the past",
        "Cette date remonte à plus d’un mois.",
    ),
    (
        "is more than a year in the past",
        "Cette date remonte à plus d’un an.",
    ),
    (
        "is more than a year old",
        "Cette date remonte à plus d’un an.",
    ),
    (
        "is more than two years ahead",
        "Cette date est à plus de deux ans.",
    ),
    (
        "is more than three years after start_date",
        "Cette date est trop éloignée du début de l’accueil.",
    ),
    (
        "is more than five years after the start date",
        "Cette date est trop éloignée du début de l’accueil.",
    ),
    (
        "is only for declined or withdrawn",
        "Un motif n’accompagne qu’un refus ou un retrait.",
    ),
    (
        "is required with force: say why the child is enrolled over capacity",
        "Expliquez pourquoi l’enfant est accueilli au-delà des places AVIP.",
    ),
    (
        "must be true when a force_reason is given",
        "Cochez « accueillir malgré tout » pour donner ce motif.",
    ),
    (
        "must list at most 4 participants",
        "Quatre participants au plus.",
    ),
    (
        "at least one participant is required",
        "Cochez au moins un participant.",
    ),
    (
        "at least one child is required",
        "Indiquez au moins un enfant.",
    ),
    ("at least one day is required", "Cochez au moins un jour."),
    (
        "explain the reason when it is \"other\"",
        "Expliquez le motif « Autre » dans la note.",
    ),
    (
        "is not a creche_operator organisation",
        "Ce n’est pas un gestionnaire de crèches.",
    ),
    (
        "is not a French département code (e.g. 83, 2A, 974)",
        "Ce n’est pas un numéro de département (ex. 83, 2A, 974).",
    ),
    (
        "is not a coordinator of the crèche's operator",
        "Cette personne ne coordonne pas les crèches de ce gestionnaire.",
    ),
    (
        "is not a crèche of the user's organisation",
        "Cette crèche n’appartient pas à l’organisation de la personne.",
    ),
    (
        "must be 1 to 255 visible ASCII characters",
        "De 1 à 255 caractères ASCII visibles.",
    ),
    (
        "must be after opens",
        "L’heure de fermeture doit suivre l’heure d’ouverture.",
    ),
    ("must not be before from", "La fin doit suivre le début."),
    ("no such organisation", "Cette organisation n’existe pas."),
    ("must name at most seven days", "Sept jours au plus."),
    (
        "a renewal must end after the current contract",
        "Le renouvellement doit finir après le contrat en cours.",
    ),
    (
        "nothing to change: give renew, contract_end_date, days or hours",
        "Rien à changer : renouvelez, ou modifiez la date de fin, les jours ou les horaires.",
    ),
    (
        "is in the past: only today or a later day can change",
        "Seuls aujourd’hui et les jours suivants peuvent changer.",
    ),
    (
        "sms needs the parent's mobile phone number",
        "Un SMS demande le numéro de portable du parent.",
    ),
    (
        "email needs the parent's e-mail",
        "Un e-mail demande l’adresse e-mail du parent.",
    ),
    ("is required with free_text", "Écrivez le message."),
    (
        "is only for free_text",
        "Un texte ne s’écrit qu’avec « Message libre ».",
    ),
    (
        "the family has not said how it wants to be reached: record its contact preference first",
        "La famille n’a pas dit comment la joindre : enregistrez d’abord son moyen de contact.",
    ),
    (
        "the family asked to be reached by a phone call only",
        "La famille souhaite être jointe par téléphone seulement.",
    ),
    (
        "the family asked to be reached through its referent",
        "La famille souhaite être jointe par son référent.",
    ),
    (
        "the family asked to be reached by sms",
        "La famille souhaite être jointe par SMS.",
    ),
    (
        "the family asked to be reached by email",
        "La famille souhaite être jointe par e-mail.",
    ),
    (
        "the crèche has no phone number for the family to call back: add it to the crèche first",
        "La crèche n’a pas de numéro de téléphone à donner à la famille : ajoutez-le d’abord.",
    ),
    ("must be in the future", "Choisissez un moment à venir."),
    (
        "is not a free slot to come at the referral's crèche",
        "Ce créneau n’est pas libre, ou il est passé.",
    ),
    (
        "is booked by a family: record the meeting instead",
        "Une famille a choisi ce créneau : notez plutôt si le rendez-vous a eu lieu.",
    ),
    (
        "the family has booked no meeting",
        "La famille n’a pas choisi de rendez-vous.",
    ),
    (
        "the meeting has not begun yet",
        "Le rendez-vous n’a pas encore commencé.",
    ),
    (
        "the meeting is recorded already",
        "Ce rendez-vous est déjà noté.",
    ),
    ("choose a slot", "Choisissez un créneau."),
    ("is larger than 10 MB", "Le fichier dépasse 10 Mo."),
    (
        "its name is empty or too long",
        "Le nom du fichier est vide ou trop long.",
    ),
    ("is empty", "Le fichier est vide."),
    (
        "has no header row: its first row is empty",
        "La première ligne doit porter les titres des colonnes : elle est vide.",
    ),
    (
        "has headers but no rows",
        "Le fichier a des titres de colonnes mais aucune ligne.",
    ),
    (
        "has more than 20000 rows",
        "Le fichier dépasse 20 000 lignes : découpez-le.",
    ),
    (
        "is protected by a password",
        "Le classeur est protégé par un mot de passe : enregistrez-le sans mot de passe.",
    ),
    (
        "is not a spreadsheet that can be read (CSV, XLSX, ODS or XLS)",
        "Ce fichier n’est pas un tableur lisible (CSV, XLSX, ODS ou XLS).",
    ),
    (
        "has no sheet with content",
        "Le classeur n’a aucune feuille remplie.",
    ),
    (
        "is not a date: write it as DD/MM/YYYY",
        "Ce n’est pas une date : écrivez-la JJ/MM/AAAA.",
    ),
    ("is neither yes nor no (oui / non)", "Écrivez oui ou non."),
    (
        "names a day that is not a weekday (lun, mar, mer, jeu, ven, sam, dim)",
        "Un des jours n’est pas un jour de la semaine (lun, mar, mer, jeu, ven, sam, dim).",
    ),
    ("is in the future", "Cette date est dans le futur."),
    (
        "names no prescriber organisation of the département",
        "Aucun organisme prescripteur du département ne porte ce nom.",
    ),
    (
        "names a kind with several organisations in the département: write the organisation's name",
        "Il y a plusieurs organismes de ce type dans le département : écrivez le nom de l’organisme.",
    ),
    (
        "is before the referral was received",
        "Cette date précède la réception de l’orientation.",
    ),
    (
        "is required for this status",
        "Ce champ est obligatoire pour ce statut.",
    ),
    (
        "does not fit the status: a refusal's reason for Refusée, a withdrawal's for Retirée",
        "Ce motif ne correspond pas au statut : un motif de refus pour « Refusée », de retrait pour « Retirée ».",
    ),
    (
        "must be empty for a referral still waiting for its first response",
        "Laissez vide pour une orientation encore sans réponse.",
    ),
    (
        "is only for a child who left (status Sortie)",
        "Seulement pour un enfant sorti (statut « Sortie »).",
    ),
    (
        "is in the future: plan a coming exit in the service",
        "Cette sortie est à venir : planifiez-la dans le service.",
    ),
    (
        "no such crèche among yours",
        "Cette crèche n’est pas l’une des vôtres.",
    ),
    (
        "the import is committed already",
        "Cet import est déjà enregistré.",
    ),
    (
        "is not a field an import knows",
        "Ce champ n’existe pas dans un import.",
    ),
    (
        "is given to another column already",
        "Ce champ est déjà donné à une autre colonne.",
    ),
    (
        "this slot was just taken: choose another one",
        "Ce créneau vient d’être pris : choisissez-en un autre.",
    ),
    (
        "place_offer is for a referral with an offer (status offered)",
        "La proposition de place suppose une offre en cours.",
    ),
];

/// A message of the domain, in French.
pub fn message(english: &str) -> String {
    if let Some((_, french)) = EXACT.iter().find(|(e, _)| *e == english) {
        return (*french).to_owned();
    }
    if let Some(french) = counted(english) {
        return french;
    }
    if let Some(range) = english.strip_prefix("must be a date of the years ") {
        return format!(
            "L’année doit être comprise entre {}.",
            range.replace(" to ", " et ")
        );
    }
    if english.starts_with("its local part ") || english.starts_with("its domain ") {
        if english.contains("mixes scripts") {
            return "Cette adresse mêle des alphabets différents (par exemple des lettres latines et cyrilliques).".to_owned();
        }
        if english.contains("look like other letters") {
            return "Cette adresse utilise des lettres qui en imitent d’autres.".to_owned();
        }
    }
    if let Some(french) = about_a_spreadsheet(english) {
        return french;
    }
    if let Some(range) = english.strip_prefix("must be between ") {
        return format!("Entre {}.", range.replace(" and ", " et "));
    }
    if let Some(rest) = english.strip_prefix("the SMS would take ") {
        let n = rest.split(' ').next().unwrap_or("plus de 3");
        return format!("Ce SMS ferait {n} messages (3 au plus) : raccourcissez le texte.");
    }
    if english.starts_with("the referral is ") && english.ends_with("gets no more messages") {
        return "L’orientation est close : la famille ne reçoit plus de message.".to_owned();
    }
    if english.starts_with("is in département ") {
        return "Une orientation ne peut être transférée qu’à une crèche de son département."
            .to_owned();
    }
    if english.starts_with("is required to make a referral") {
        return "Ce champ est obligatoire.".to_owned();
    }
    if english.starts_with("unknown variant") || english.starts_with("invalid type") {
        return "Choisissez une valeur dans la liste.".to_owned();
    }
    if english.starts_with("input contains invalid characters")
        || english.starts_with("premature end of input")
        || english.contains("invalid digit")
        || english.contains("trailing input")
    {
        return "Valeur mal formée.".to_owned();
    }
    "Valeur refusée.".to_owned()
}

/// What an import says of a file or a cell, with its numbers.
fn about_a_spreadsheet(english: &str) -> Option<String> {
    if let Some(list) = english.strip_prefix("is not one of: ") {
        return Some(format!("Valeur inconnue : choisissez parmi {list}."));
    }
    if let Some(rest) = english.strip_prefix("has formulas (cell ") {
        let cell = rest.split(')').next().unwrap_or_default();
        return Some(format!(
            "Le fichier contient des formules (cellule {cell}) : collez-en les valeurs."
        ));
    }
    if let Some(rest) = english.strip_prefix("has merged header cells (") {
        let cells = rest.split(')').next().unwrap_or_default();
        return Some(format!(
            "Des titres de colonnes sont fusionnés ({cells}) : donnez à chaque colonne son propre titre."
        ));
    }
    if let Some(rest) = english.strip_prefix("line ") {
        let n = rest.split(' ').next().unwrap_or_default();
        return Some(format!("La ligne {n} du fichier ne peut pas être lue."));
    }
    if let Some(rest) = english.strip_suffix(" columns, one per header") {
        let n = rest.trim_start_matches("must list ");
        return Some(format!(
            "Donnez un champ (ou aucun) à chacune des {n} colonnes."
        ));
    }
    if english.ends_with("correct or remove them") {
        let n = english.split(' ').next().unwrap_or_default();
        let first = english
            .split("row ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap_or_default();
        return Some(format!(
            "{n} lignes ne sont pas valides (la première : ligne {first}) : corrigez-les ou retirez-les."
        ));
    }
    None
}

/// A message that carries a number ("must be at most 20 characters").
fn counted(english: &str) -> Option<String> {
    if let Some(max) = english
        .strip_prefix("must be at most ")
        .and_then(|m| m.strip_suffix(" characters"))
    {
        return Some(format!("{max} caractères au plus."));
    }
    let between = |prefix: &str, suffix: &str| {
        english
            .strip_prefix(prefix)
            .and_then(|m| m.strip_suffix(suffix))
            .map(str::to_owned)
    };
    if let Some(n) = between("at most ", " children per referral") {
        return Some(format!("{n} enfants au plus par orientation."));
    }
    if let Some(n) = between("must be at least ", " characters long") {
        return Some(format!("{n} caractères au moins."));
    }
    if let Some(n) = between("must be at most ", " characters long") {
        return Some(format!("{n} caractères au plus."));
    }
    if let Some(n) = between("must be at most ", " bytes long") {
        return Some(format!("{n} octets au plus."));
    }
    if let Some(n) = between("must list 1 to ", " slots") {
        return Some(format!("Choisissez ou ajoutez de 1 à {n} créneaux."));
    }
    if let Some(n) = between("must list at most ", " ids") {
        return Some(format!("{n} éléments au plus."));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sources whose refusals the pages show next to a field.
    const SOURCES: &[&str] = &[
        include_str!("domain/mod.rs"),
        include_str!("domain/referral.rs"),
        include_str!("workflow/referrals.rs"),
        include_str!("workflow/places.rs"),
        include_str!("workflow/users.rs"),
        include_str!("workflow/creches.rs"),
        include_str!("workflow/coordinators.rs"),
        include_str!("workflow/exports.rs"),
        include_str!("workflow/transfers.rs"),
        include_str!("workflow/family.rs"),
        include_str!("workflow/meetings.rs"),
        include_str!("imports/read.rs"),
        include_str!("imports/columns.rs"),
        include_str!("imports/rows.rs"),
        include_str!("imports/mod.rs"),
    ];

    /// Every string literal that reads like a field's refusal, with each
    /// `{placeholder}` replaced by a number.
    fn messages() -> Vec<String> {
        let starts = [
            "is ",
            "must ",
            "give ",
            "at least",
            "at most",
            "a day",
            "a renewal",
            "explain ",
            "nothing ",
            "the child",
            "the family",
            "the crèche",
            "the SMS",
            "sms needs",
            "email needs",
            "place_offer",
            "the meeting",
            "the family has",
            "this slot",
            "choose a",
            "has ",
            "names ",
            "no such",
            "the import",
            "line ",
            "does ",
        ];
        let mut found = Vec::new();
        for source in SOURCES {
            let source = source.split("#[cfg(test)]").next().unwrap_or(source);
            let source = source.replace("\\\"", "\u{1}");
            for (i, piece) in source.split('"').enumerate() {
                if i % 2 == 1
                    && starts.iter().any(|s| piece.starts_with(s))
                    && !piece.contains('\n')
                {
                    let mut text = String::new();
                    let mut inside = false;
                    for c in piece.chars() {
                        match c {
                            '{' => {
                                inside = true;
                                text.push('1');
                            }
                            '}' => inside = false,
                            c if !inside => text.push(c),
                            _ => {}
                        }
                    }
                    found.push(text.replace('\u{1}', "\""));
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    #[test]
    fn hours_read_as_the_french_write_them() {
        assert_eq!(hour("08:30"), "8 h 30");
        assert_eq!(hour("17:00"), "17 h");
        assert_eq!(hour("00:15"), "0 h 15");
        assert_eq!(hours("08:00", "17:30"), "de 8 h à 17 h 30");
        assert_eq!(hour("midi"), "midi");
    }

    #[test]
    fn every_refusal_a_page_shows_reads_in_french() {
        let messages = messages();
        assert!(
            messages.len() > 30,
            "the scan finds the messages: {messages:?}"
        );
        let missing: Vec<&String> = messages
            .iter()
            .filter(|m| message(m) == "Valeur refusée.")
            .collect();
        assert!(missing.is_empty(), "no French for: {missing:#?}");
    }
}
