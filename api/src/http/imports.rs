//! Spreadsheet imports (`/imports`): upload a CSV, XLSX or ODS, check the
//! mapping and the rows, correct them, then commit (docs/imports.md).

use actix_multipart::Multipart;
use actix_web::{HttpResponse, get, patch, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Bearer};
use crate::http::referrals::now;
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::domain::DomainError;
use avip_app::imports::{self, CorrectionRequest, ImportKind, ImportView, MappingRequest};

/// The import's routes, in the API's scope.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // Before `/imports/{id}`, which would take `template` for an id.
    cfg.service(template)
        .service(upload)
        .service(get_one)
        .service(mapping)
        .service(correct)
        .service(commit);
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The upload's form (`multipart/form-data`).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "kind": "referrals",
    "file": "Date de réception;Nom de la mère;…"}))]
#[allow(dead_code)]
pub struct ImportUpload {
    /// The crèche the rows belong to.
    #[schema(format = Uuid)]
    creche_id: String,
    /// What the rows are: `referrals` (with their history, the default)
    /// or `places` (the crèche's AVIP places over time).
    kind: ImportKind,
    /// The spreadsheet: CSV (UTF-8 or Windows-1252, `;` or `,`), XLSX,
    /// ODS or XLS; 10 MB and 20,000 rows at most.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn invalid(field: &str, reason: &str) -> ApiError {
    DomainError::invalid(field, reason).into()
}

/// Upload a spreadsheet for a crèche (its coordinators, admins): it is
/// read, its columns matched to fields by their names, every row checked.
/// Nothing is written to the referrals before the commit.
#[utoipa::path(operation_id = "uploadImport", tag = "imports",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    security(("oauth2" = [])), responses(
    (status = 201, body = ImportView), Forbidden, Unprocessable,
))]
#[post("/imports")]
pub async fn upload(
    Bearer(who): Bearer,
    state: State,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let parts = crate::shared::upload::read(form).await?;
    let creche = parts
        .creche_id
        .ok_or_else(|| invalid("creche_id", "is required"))?;
    let kind = match parts.kind.as_deref() {
        None | Some("referrals") => ImportKind::Referrals,
        Some("places") => ImportKind::Places,
        Some(_) => return Err(invalid("kind", "must be referrals or places")),
    };
    let (name, bytes) = parts.file.ok_or_else(|| invalid("file", "is required"))?;
    let view = state
        .write(move |conn| imports::upload(conn, &who, (&creche, kind), (&name, &bytes), now()))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `?kind=` of the template.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// `referrals` (the default) or `places`.
    kind: Option<ImportKind>,
}

/// The template to fill in (XLSX, in French): the columns with an example
/// row, and a sheet saying what each column takes.
#[utoipa::path(operation_id = "importTemplate", tag = "imports", params(TemplateQuery),
    security(("oauth2" = [])), responses(
    (status = 200, description = "The template",
        content((String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            example = json!("(an XLSX workbook: the sheets \"Orientations\" and \"Colonnes\")")))),
))]
#[get("/imports/template")]
pub async fn template(
    Bearer(_who): Bearer,
    query: crate::http::extract::ApiQuery<TemplateQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = query.0.kind.unwrap_or(ImportKind::Referrals);
    let bytes = imports::template::template(kind)
        .map_err(|e| ApiError::from(DomainError::Unexpected(e.into())))?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"modele-import-avip.xlsx\"",
        ))
        .body(bytes))
}

/// The import: its mapping and the rows that are not ready as they are
/// (invalid, duplicates, updates), or once committed what it did.
#[utoipa::path(operation_id = "getImport", tag = "imports", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = ImportView), Forbidden, NotFound,
))]
#[get("/imports/{id}")]
pub async fn get_one(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ImportView>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(
        state
            .run(move |conn| imports::get(conn, &who, &id, now()))
            .await?,
    ))
}

/// Change the field each column holds (`null` ignores a column); every
/// row is checked again.
#[utoipa::path(operation_id = "mapImportColumns", tag = "imports", params(("id" = String, Path, format = Uuid)),
    request_body = MappingRequest, security(("oauth2" = [])), responses(
    (status = 200, body = ImportView), Forbidden, NotFound, Unprocessable,
))]
#[put("/imports/{id}/mapping")]
pub async fn mapping(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<MappingRequest>,
) -> Result<web::Json<ImportView>, ApiError> {
    let (id, body) = (id.into_inner(), body.0);
    Ok(web::Json(
        state
            .write(move |conn| imports::remap(conn, &who, &id, body, now()))
            .await?,
    ))
}

/// Correct cells of one row (by field), or leave the row out; the row is
/// checked again. `row` is its number in the spreadsheet (headers: 1).
#[utoipa::path(operation_id = "correctImportRow", tag = "imports",
    params(("id" = String, Path, format = Uuid), ("row" = u32, Path, minimum = 2)),
    request_body = CorrectionRequest, security(("oauth2" = [])), responses(
    (status = 200, body = ImportView), Forbidden, NotFound, Unprocessable,
))]
#[patch("/imports/{id}/rows/{row}")]
pub async fn correct(
    Bearer(who): Bearer,
    state: State,
    path: web::Path<(String, String)>,
    body: ApiJson<CorrectionRequest>,
) -> Result<web::Json<ImportView>, ApiError> {
    let ((id, row), body) = (path.into_inner(), body.0);
    // A row that is no number is no row of the import.
    let row = row
        .parse::<u32>()
        .map_err(|_| ApiError::from(DomainError::NotFound))?;
    Ok(web::Json(
        state
            .write(move |conn| imports::correct(conn, &who, (&id, row as usize), body, now()))
            .await?,
    ))
}

/// Write every ready row and rewrite every updated one, in one
/// transaction, as the caller; refused (422 on `rows`) while a row is
/// invalid. The rows are not kept afterwards: only the file's name and
/// the counts.
#[utoipa::path(operation_id = "commitImport", tag = "imports", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = ImportView), Forbidden, NotFound, Unprocessable,
))]
#[post("/imports/{id}/commit")]
pub async fn commit(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ImportView>, ApiError> {
    let id = id.into_inner();
    let policy = state.policy.clone();
    Ok(web::Json(
        state
            .write(move |conn| imports::commit(conn, &who, &id, &policy, now()))
            .await?,
    ))
}
