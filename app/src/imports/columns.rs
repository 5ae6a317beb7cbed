//! The columns an import knows: each field's French header (the
//! template's), the other names offices give it, and how its cells are
//! read (dates in French formats or Excel serials, yes/no, the lists'
//! French labels or codes, weekdays).

use chrono::{Duration, NaiveDate};

use avip_db::model::{
    ChildcareSolution, ContactPreference, DeclineReason, EmploymentStatus, ExitReason,
    ParentSituation, ProjectKind, ReferralStatus, WithdrawReason,
};

use crate::domain::Weekday;
use crate::labels;

/// How a column's cells are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    YesNo,
    /// One of a list: its French labels or its codes.
    Choice(&'static [(&'static str, &'static str)]),
    Days,
    Phone,
}

/// A field a column can hold.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Its name in the import's answers and corrections.
    pub id: &'static str,
    /// The template's header.
    pub header: &'static str,
    /// Other headers offices write, compared without case or accents.
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// The template's example, and what the person is told.
    pub example: &'static str,
    pub help: &'static str,
}

macro_rules! choices {
    ($name:ident, $ty:ty, $label:path) => {
        fn $name() -> &'static [(&'static str, &'static str)] {
            static LIST: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
                std::sync::OnceLock::new();
            LIST.get_or_init(|| {
                <$ty>::ALL
                    .iter()
                    .map(|v| (v.as_str(), $label(*v)))
                    .collect()
            })
        }
    };
}
choices!(situations, ParentSituation, labels::situation);
choices!(projects, ProjectKind, labels::project);
choices!(employments, EmploymentStatus, labels::employment);
choices!(exit_reasons, ExitReason, labels::exit_reason);
choices!(childcare, ChildcareSolution, labels::childcare);
choices!(statuses, ReferralStatus, labels::status);
choices!(contacts, ContactPreference, labels::contact_preference);

/// Declined and withdrawn referrals' reasons, in one list.
fn closing_reasons() -> &'static [(&'static str, &'static str)] {
    static LIST: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
        std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let declined = DeclineReason::ALL
            .iter()
            .map(|r| (r.as_str(), labels::decline(*r)));
        let withdrawn = WithdrawReason::ALL
            .iter()
            .filter(|r| **r != WithdrawReason::Other)
            .map(|r| (r.as_str(), labels::withdraw(*r)));
        declined.chain(withdrawn).collect()
    })
}

const fn f(
    id: &'static str,
    header: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    example: &'static str,
    help: &'static str,
) -> Field {
    Field {
        id,
        header,
        aliases,
        kind,
        example,
        help,
    }
}

/// Every field, in the template's order.
pub fn fields() -> &'static [Field] {
    static FIELDS: std::sync::OnceLock<Vec<Field>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| {
        use Kind::*;
        vec![
            f("reference", "Référence", &["reference", "ref", "numero", "n orientation", "numero d orientation"], Text, "", "La référence AVIP d’une orientation déjà importée (pour la mettre à jour) ; vide pour une nouvelle."),
            f("received_on", "Date de réception", &["date de reception", "recu le", "reçue le", "date d orientation", "date de l orientation", "date", "received on"], Date, "15/01/2025", "Obligatoire. JJ/MM/AAAA."),
            f("prescriber", "Prescripteur", &["organisme prescripteur", "orienteur", "oriente par", "orientee par", "structure", "prescriber"], Text, "France Travail", "Le nom de l’organisme (tel qu’il est enregistré), ou son type s’il n’y en a qu’un dans le département : France Travail, Conseil départemental, Mission locale."),
            f("referent.name", "Nom du référent", &["referent", "conseiller", "nom du conseiller", "referent name"], Text, "Paul Durand", "Obligatoire."),
            f("referent.email", "E-mail du référent", &["mail du referent", "courriel du referent", "email referent", "mail referent", "referent email"], Text, "p.durand@example.org", "Obligatoire."),
            f("referent.phone", "Téléphone du référent", &["tel referent", "telephone referent", "referent phone"], Phone, "", ""),
            f("parent.first_name", "Prénom du parent", &["prenom de la mere", "prenom du pere", "prenom parent", "prenom", "parent first name"], Text, "Amina", "Obligatoire."),
            f("parent.last_name", "Nom du parent", &["nom de la mere", "nom du pere", "nom parent", "nom de famille", "nom", "parent last name"], Text, "Benali", "Obligatoire."),
            f("parent.phone", "Téléphone du parent", &["telephone", "tel", "portable", "mobile", "telephone de la mere", "phone"], Phone, "06 12 34 56 78", "Un téléphone ou un e-mail."),
            f("parent.email", "E-mail du parent", &["email", "e mail", "mail", "courriel", "adresse mail", "adresse e mail"], Text, "amina.b@example.org", "Un téléphone ou un e-mail."),
            f("parent.postal_code", "Code postal", &["cp", "postal code"], Text, "83000", "Obligatoire."),
            f("parent.commune", "Commune", &["ville", "commune de residence", "city"], Text, "Toulon", "Obligatoire."),
            f("parent.situation", "Situation du parent", &["situation", "statut du parent", "situation familiale professionnelle"], Choice(situations()), "Demandeur d’emploi", "Obligatoire."),
            f("parent.single_parent", "Parent isolé", &["famille monoparentale", "monoparentale", "monoparental", "parent seul", "single parent"], YesNo, "oui", "oui ou non (vide : non)."),
            f("parent.qpv_resident", "Résident QPV", &["qpv", "quartier prioritaire", "habite un qpv"], YesNo, "non", "oui ou non (vide : non)."),
            f("parent.france_travail_id", "Identifiant France Travail", &["id france travail", "identifiant pole emploi", "numero france travail", "numero pole emploi"], Text, "", ""),
            f("parent.contact_preference", "Moyen de contact", &["contact", "joindre par", "contact preference"], Choice(contacts()), "par SMS", "Comment la famille veut être jointe (vide : non renseigné)."),
            f("child.first_name", "Prénom de l’enfant", &["prenom enfant", "enfant", "prenom de l enfant", "child first name"], Text, "Yanis", "Obligatoire ; un enfant par ligne."),
            f("child.birth_date", "Date de naissance de l’enfant", &["date de naissance", "naissance", "ne le", "nee le", "ddn", "date naissance enfant", "birth date"], Date, "14/03/2024", "Obligatoire."),
            f("needs.desired_start_date", "Date d’accueil souhaitée", &["date souhaitee", "debut souhaite", "accueil souhaite le", "desired start date"], Date, "01/02/2025", "Vide : la date de réception."),
            f("needs.days", "Jours d’accueil", &["jours", "jours souhaites", "jours d accueil souhaites", "days"], Days, "lun, mar, jeu", "Les jours de la semaine (lun, mar…) ; vide : non précisés."),
            f("insertion_project.kind", "Projet d’insertion", &["projet", "type de projet", "projet professionnel"], Choice(projects()), "Formation", "Obligatoire."),
            f("consent.date", "Date du consentement", &["consentement", "consent date"], Date, "15/01/2025", "Vide : la date de réception."),
            f("status", "Statut", &["etat", "statut de l orientation", "status"], Choice(statuses()), "Sortie", "Vide : déduit des dates."),
            f("first_response_on", "Date de première réponse", &["premiere reponse", "date de reponse", "date de premiere reponse", "date de contact", "contacte le", "repondu le"], Date, "16/01/2025", "Le jour où la crèche a répondu à la famille (contact, liste d’attente ou refus)."),
            f("closed_on", "Date de clôture", &["date de refus", "date de cloture", "date de retrait", "cloture le"], Date, "", "Pour une orientation refusée ou retirée ; vide : la date de première réponse."),
            f("closing_reason", "Motif de clôture", &["motif de refus", "motif de retrait", "motif de cloture"], Choice(closing_reasons()), "", "Pour une orientation refusée ou retirée."),
            f("enrollment.start_date", "Date d’entrée", &["date d entree", "entree", "entree le", "debut d accueil", "date d inscription", "date de debut d accueil"], Date, "03/02/2025", "Pour un enfant accueilli."),
            f("exit.date", "Date de sortie", &["sortie", "sortie le", "date de fin d accueil", "fin d accueil"], Date, "30/06/2025", "Pour un enfant sorti."),
            f("exit.reason", "Motif de sortie", &["raison de sortie", "motif sortie"], Choice(exit_reasons()), "Accès à l’emploi", "Pour un enfant sorti."),
            f("exit.employment_status", "Situation à la sortie", &["situation a la sortie", "situation sortie", "situation du parent a la sortie", "situation professionnelle a la sortie"], Choice(employments()), "En emploi (CDI)", "Pour un enfant sorti ; dit si la sortie est positive."),
            f("exit.childcare_solution", "Solution de garde", &["solution d accueil", "mode de garde", "solution de garde a la sortie", "mode de garde a la sortie"], Choice(childcare()), "Dans la même crèche", "Pour un enfant sorti."),
        ]
    })
}

/// The fields of a crèche's AVIP places history: from which day, how many.
pub fn place_fields() -> &'static [Field] {
    const PLACES: &[Field] = &[
        f(
            "places.from",
            "Date d’effet",
            &[
                "a partir du",
                "depuis le",
                "date de debut",
                "date",
                "debut",
                "from",
            ],
            Kind::Date,
            "01/01/2025",
            "Obligatoire. Le premier jour de ce nombre de places.",
        ),
        f(
            "places.avip_places",
            "Places AVIP",
            &[
                "places",
                "nombre de places",
                "nombre de places avip",
                "capacite",
                "capacite avip",
                "avip places",
            ],
            Kind::Text,
            "6",
            "Obligatoire. De 0 à 500.",
        ),
    ];
    PLACES
}

/// The fields of an import of this kind.
pub fn fields_of(kind: super::ImportKind) -> &'static [Field] {
    match kind {
        super::ImportKind::Referrals => fields(),
        super::ImportKind::Places => place_fields(),
    }
}

pub fn field(id: &str) -> Option<&'static Field> {
    (fields().iter().chain(place_fields())).find(|f| f.id == id)
}

/// Lower case, without accents, apostrophes or punctuation, single spaces:
/// how headers and labels are compared.
pub fn normal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'œ' => 'o',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The field of an import of `kind` a header names, if one does.
pub fn guess(header: &str, kind: super::ImportKind) -> Option<&'static str> {
    let h = normal(header);
    if h.is_empty() {
        return None;
    }
    let fields = fields_of(kind);
    (fields.iter())
        .find(|f| normal(f.header) == h || normal(f.id) == h)
        .or_else(|| {
            fields
                .iter()
                .find(|f| f.aliases.iter().any(|a| normal(a) == h))
        })
        .map(|f| f.id)
}

/// A date as French offices write it: `15/01/2025`, `15/1/25`,
/// `15-01-2025`, `15.01.2025`, `2025-01-15` (a time after it is ignored)
/// or an Excel serial (`45672`).
pub fn date(value: &str) -> Result<NaiveDate, String> {
    let v = value.trim();
    let day_part = v.split([' ', 'T']).next().unwrap_or(v);
    if let Ok(d) = NaiveDate::parse_from_str(day_part, "%Y-%m-%d") {
        return Ok(d);
    }
    for sep in ['/', '-', '.'] {
        let parts: Vec<&str> = day_part.split(sep).collect();
        if let [d, m, y] = parts[..] {
            let (Ok(d), Ok(m), Ok(mut y)) = (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>())
            else {
                continue;
            };
            if y < 100 {
                y += 2000;
            }
            if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                return Ok(date);
            }
        }
    }
    if let Ok(serial) = v.parse::<f64>()
        && (20_000.0..80_000.0).contains(&serial)
    {
        let base = NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default();
        return Ok(base + Duration::days(serial.trunc() as i64));
    }
    Err("is not a date: write it as DD/MM/YYYY".into())
}

/// A day as the moment it stands for: noon in Paris, so that a day's
/// deadline arithmetic does not depend on an hour nobody wrote.
pub fn moment(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    avip_sla_engine::clock::paris_midnight(day) + Duration::hours(12)
}

pub fn yes_no(value: &str) -> Result<bool, String> {
    match normal(value).as_str() {
        "" | "non" | "n" | "no" | "false" | "faux" | "0" => Ok(false),
        "oui" | "o" | "yes" | "y" | "true" | "vrai" | "1" | "x" => Ok(true),
        _ => Err("is neither yes nor no (oui / non)".into()),
    }
}

/// A list's value by its French label or its code.
pub fn choice(value: &str, list: &[(&'static str, &'static str)]) -> Result<&'static str, String> {
    let v = normal(value);
    list.iter()
        .find(|(code, label)| normal(code) == v || normal(label) == v)
        .map(|(code, _)| *code)
        .ok_or_else(|| {
            format!(
                "is not one of: {}",
                list.iter().map(|(_, l)| *l).collect::<Vec<_>>().join(", ")
            )
        })
}

/// Weekdays written `lun, mar, jeu`, `lundi mardi`, `mon;tue`.
pub fn days(value: &str) -> Result<Vec<Weekday>, String> {
    let names = [
        ["lun", "lundi", "mon"],
        ["mar", "mardi", "tue"],
        ["mer", "mercredi", "wed"],
        ["jeu", "jeudi", "thu"],
        ["ven", "vendredi", "fri"],
        ["sam", "samedi", "sat"],
        ["dim", "dimanche", "sun"],
    ];
    let mut out = Vec::new();
    for word in normal(value).split_whitespace() {
        let Some(i) = names.iter().position(|n| n.contains(&word)) else {
            return Err(
                "names a day that is not a weekday (lun, mar, mer, jeu, ven, sam, dim)".into(),
            );
        };
        if !out.contains(&Weekday::ALL[i]) {
            out.push(Weekday::ALL[i]);
        }
    }
    out.sort();
    Ok(out)
}

/// A phone as a spreadsheet keeps it: a number whose leading 0 was
/// dropped (`612345678`) gets it back.
pub fn phone(value: &str) -> String {
    let v = value.trim();
    if v.len() == 9 && v.bytes().all(|b| b.is_ascii_digit()) {
        format!("0{v}")
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_by_their_french_names_and_variants() {
        use crate::imports::ImportKind::{Places, Referrals};
        assert_eq!(guess("Nom de la mère", Referrals), Some("parent.last_name"));
        let birth = guess("Date de naissance de l'enfant", Referrals);
        assert_eq!(birth, Some("child.birth_date"));
        assert_eq!(guess("PRESCRIPTEUR", Referrals), Some("prescriber"));
        assert_eq!(
            guess("Date d’entrée", Referrals),
            Some("enrollment.start_date")
        );
        assert_eq!(guess("Couleur préférée", Referrals), None);
        assert_eq!(
            guess("Nombre de places", Places),
            Some("places.avip_places")
        );
        assert_eq!(guess("Date", Places), Some("places.from"));
    }

    #[test]
    fn dates_are_read_in_french_formats_and_as_excel_serials() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 15).unwrap();
        for v in [
            "15/01/2025",
            "15/1/25",
            "15-01-2025",
            "15.01.2025",
            "2025-01-15",
            "2025-01-15 00:00",
            "45672",
        ] {
            assert_eq!(date(v), Ok(d), "{v}");
        }
        assert!(date("31/02/2025").is_err());
        assert!(date("demain").is_err());
    }

    #[test]
    fn lists_take_labels_or_codes() {
        assert_eq!(choice("demandeur d'emploi", situations()), Ok("job_seeker"));
        assert_eq!(choice("RSA", situations()), Ok("rsa"), "its code");
        assert!(choice("salariée", situations()).is_err());
        assert_eq!(choice("Bénéficiaire du RSA", situations()), Ok("rsa"));
        assert_eq!(
            days("Lundi, mar; JEU"),
            Ok(vec![Weekday::Mon, Weekday::Tue, Weekday::Thu])
        );
        assert_eq!(yes_no("Oui"), Ok(true));
        assert_eq!(phone("612345678"), "0612345678");
    }
}
