//! `/api/v1/reports/activity`: the bilan d'activité of a period, as a DOCX
//! to edit or an XLSX with charts (docs/bilans.md).

use actix_web::{HttpResponse, get};
use avip_app::workflow::reports::{BilanFormat, bilan_file};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;
use crate::http::exports::scoped_ask;
use crate::http::extract::{ApiQuery, Bearer};
use crate::http::responses::{BadRequest, Forbidden, NotFound};
use crate::shared::State;

/// The reports' routes, in the API's scope.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(activity);
}

#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    /// Word (default): to edit and send.
    #[default]
    Docx,
    /// Excel: one sheet per section, native charts.
    Xlsx,
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// First day of reception, `YYYY-MM-DD` (Paris), included.
    pub from: NaiveDate,
    /// Last day of reception, included; at most ten years (3653 days,
    /// both counted) after `from`.
    pub to: NaiveDate,
    /// Only this crèche, among those the caller sees (404 otherwise). At
    /// most one of `creche`, `operator` and `departement`.
    #[param(format = Uuid)]
    pub creche: Option<String>,
    /// Only this operator's crèches, among those the caller sees (404 when
    /// it sees none of them).
    #[param(format = Uuid)]
    pub operator: Option<String>,
    /// Only this département's crèches (admins; the CAF its own, another
    /// is 403).
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
    /// `docx` (default) or `xlsx`.
    #[param(inline)]
    pub format: Option<DocumentFormat>,
}

/// The bilan d'activité of the referrals received in the period, in
/// French, for the institutions: the figures of the indicators of the same
/// period and scope (received by prescriber kind and by month, answers
/// within 72 hours, offers, enrollments, transfers, exits by reason, the
/// parents' situations, places and occupancy by month and weekday, the
/// families' profile), each section with a sentence written from them and
/// a comparison with the previous period of the same length, then three
/// sections for the coordinator to write. No personal data; any count from
/// 1 to 4 is written « moins de 5 ». Coordinators get their crèches'; the
/// CAF its département's; admins any.
#[utoipa::path(operation_id = "activityReport", tag = "exports", params(ActivityQuery), security(("oauth2" = [])), responses(
    (status = 200, description = "The bilan, as a download (`Content-Disposition: attachment`)",
        content(
            (String = "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                example = json!("(a DOCX document: headings, tables, charts, page numbers)")),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                example = json!("(an XLSX workbook: one sheet per section, with charts)")))),
    BadRequest,
    Forbidden,
    NotFound,
))]
#[get("/reports/activity")]
pub async fn activity(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<ActivityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let ask = scoped_ask(q.from, q.to, (q.departement, q.creche, q.operator))?;
    let format = match q.format.unwrap_or_default() {
        DocumentFormat::Docx => BilanFormat::Docx,
        DocumentFormat::Xlsx => BilanFormat::Xlsx,
    };
    let draw = crate::shared::charts::svg_of;
    let file = bilan_file(&state.app, who, ask, (format, draw)).await?;
    Ok(crate::shared::download(file))
}
