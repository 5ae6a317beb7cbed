//! `GET /api/v1/data-inclusion/services`: each crèche's AVIP places as a
//! service in the data·inclusion schema (v1), the national repository of
//! the inclusion offer that DORA and les emplois de l'inclusion read. Public
//! facts only: no family, no person.

use actix_web::http::header;
use actix_web::{HttpResponse, get};
use avip_sla_engine::clock::paris_date;
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::shared::State;
use avip_app::workflow::data_inclusion::{self, Published};

/// The `source` of everything this service publishes.
const SOURCE: &str = "avip";

/// One crèche's AVIP places, as a data·inclusion `Service` (schema v1). The
/// field names and values are the schema's.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({
    "source": "avip", "structure_id": "avip--0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "id": "avip--0193a5b0-7c1e-7d2a-9b1e-000000000001--places-avip",
    "nom": "Places AVIP – Les Petits Pas",
    "description": "Crèche à vocation d’insertion professionnelle (AVIP) : des places d’accueil réservées aux enfants de moins de trois ans dont le parent cherche un emploi ou se forme, pour qu’il puisse reprendre une activité. Places AVIP libres aujourd’hui : 3 sur 6.",
    "date_maj": "2026-11-29", "type": "accompagnement", "thematiques": ["famille--garde-denfants"],
    "frais": "payant", "frais_precisions": "Participation familiale selon le barème national de la CAF.",
    "publics": ["demandeurs-emploi", "familles"],
    "publics_precisions": "Parents d’enfants de moins de trois ans en recherche d’emploi ou en formation.",
    "conditions_acces": "Sur orientation d’un prescripteur : France Travail, le Conseil départemental ou une mission locale.",
    "commune": "Toulon", "code_postal": "83000", "adresse": "1 place de la Liberté",
    "courriel": "avip@petits-pas.example.org", "modes_accueil": ["en-presentiel"], "zone_eligibilite": ["83"],
    "lien_mobilisation": "https://avip.example.org/app/", "modes_mobilisation": ["utiliser-lien-mobilisation", "envoyer-un-courriel"],
    "mobilisable_par": ["professionnels"],
    "mobilisation_precisions": "Le référent France Travail, du Conseil départemental ou de la mission locale oriente la famille depuis l’espace AVIP ou par l’API de son système d’information ; la crèche répond sous 72 heures.",
    "horaires_accueil": "Mo-Fr 07:00-19:00; PH off"}))]
pub struct DataInclusionService {
    pub source: String,
    /// `avip--<crèche id>`.
    pub structure_id: String,
    /// `avip--<crèche id>--places-avip`.
    pub id: String,
    pub nom: String,
    /// What AVIP places are, and how many are free today.
    pub description: String,
    /// Today (UTC): the places free are counted on the day of the answer.
    pub date_maj: NaiveDate,
    #[serde(rename = "type")]
    pub kind: String,
    pub thematiques: Vec<String>,
    pub frais: String,
    pub frais_precisions: String,
    pub publics: Vec<String>,
    pub publics_precisions: String,
    pub conditions_acces: String,
    pub commune: String,
    pub code_postal: String,
    pub adresse: String,
    /// The crèche's escalation address, when it has one.
    pub courriel: Option<String>,
    pub modes_accueil: Vec<String>,
    /// The operator's département: prescribers refer to crèches of theirs.
    pub zone_eligibilite: Vec<String>,
    /// Where a prescriber refers a family: the workspace of this service.
    pub lien_mobilisation: String,
    pub modes_mobilisation: Vec<String>,
    pub mobilisable_par: Vec<String>,
    pub mobilisation_precisions: String,
    /// OpenStreetMap `opening_hours`, closed on public holidays.
    pub horaires_accueil: Option<String>,
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The schema's name is 3 to 150 characters.
fn name_of(creche: &str) -> String {
    let name: String = format!("Places AVIP – {creche}")
        .chars()
        .take(150)
        .collect();
    name.trim_end_matches('.').to_owned()
}

impl DataInclusionService {
    fn new(p: Published, public_url: &str, today: NaiveDate) -> DataInclusionService {
        let creche_id = p.creche.id.to_string();
        let mut modes = strings(&["utiliser-lien-mobilisation"]);
        if p.creche.escalation_email.is_some() {
            modes.push("envoyer-un-courriel".into());
        }
        DataInclusionService {
            source: SOURCE.into(),
            structure_id: format!("{SOURCE}--{creche_id}"),
            id: format!("{SOURCE}--{creche_id}--places-avip"),
            nom: name_of(&p.creche.name),
            description: format!(
                "Crèche à vocation d’insertion professionnelle (AVIP) : des places d’accueil \
                 réservées aux enfants de moins de trois ans dont le parent cherche un emploi ou \
                 se forme, pour qu’il puisse reprendre une activité. Places AVIP libres \
                 aujourd’hui : {} sur {}.",
                p.free, p.capacity
            ),
            date_maj: today,
            kind: "accompagnement".into(),
            thematiques: strings(&["famille--garde-denfants"]),
            frais: "payant".into(),
            frais_precisions: "Participation familiale selon le barème national de la CAF.".into(),
            publics: strings(&["demandeurs-emploi", "familles"]),
            publics_precisions: "Parents d’enfants de moins de trois ans en recherche d’emploi \
                                 ou en formation."
                .into(),
            conditions_acces: "Sur orientation d’un prescripteur : France Travail, le Conseil \
                               départemental ou une mission locale."
                .into(),
            commune: p.creche.commune,
            code_postal: p.creche.postal_code,
            adresse: p.creche.address,
            courriel: p.creche.escalation_email,
            modes_accueil: strings(&["en-presentiel"]),
            zone_eligibilite: vec![p.departement],
            lien_mobilisation: format!("{public_url}/app/"),
            modes_mobilisation: modes,
            mobilisable_par: strings(&["professionnels"]),
            mobilisation_precisions: "Le référent France Travail, du Conseil départemental ou de \
                                      la mission locale oriente la famille depuis l’espace AVIP \
                                      ou par l’API de son système d’information ; la crèche \
                                      répond sous 72 heures."
                .into(),
            horaires_accueil: p.hours.as_ref().and_then(data_inclusion::osm_opening_hours),
        }
    }
}

/// Every crèche's AVIP places as data·inclusion services (schema v1), with
/// the places free today (Paris). Public: no token, no personal data.
/// Directories may fetch it every few minutes (`Cache-Control: max-age=300`).
#[utoipa::path(operation_id = "listDataInclusionServices", tag = "data-inclusion", responses(
    (status = 200, body = Vec<DataInclusionService>),
))]
#[get("/data-inclusion/services")]
pub async fn services(state: State) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let rows = state
        .run(move |conn| data_inclusion::published(conn, paris_date(now)))
        .await?;
    let public_url = state.public_url.clone();
    let body: Vec<DataInclusionService> = rows
        .into_iter()
        // `date_maj` is the UTC day, not Paris's: data·inclusion's own
        // validator refuses a date after its `date.today()`, and a reader
        // on UTC would see Paris's date as in the future before 1 a.m.
        .map(|p| DataInclusionService::new(p, &public_url, now.date_naive()))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(body))
}
