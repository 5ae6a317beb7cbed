//! "Importer": a crèche's spreadsheet brought in from the browser (issue
//! 36): the upload, the columns' fields to confirm or correct, every row
//! that is not ready with its cells' reasons in French and a form to
//! correct them or leave the row out, then the one commit.

use actix_multipart::Multipart;
use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use chrono::Utc;

use crate::shared::State;
use crate::web::forms::Form;
use crate::web::session::Visitor;
use crate::web::worklist::Choice;
use crate::web::{Layout, Section, WebError, html, ok_page, see_other};
use avip_app::domain::DomainError;
use avip_app::imports::{
    self, CorrectionRequest, ImportKind, ImportView, MappingRequest, RowStatus, columns,
};
use avip_app::labels;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The rows shown at once (the invalid ones come first in the file's order).
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "import.html")]
struct UploadPage {
    layout: Layout,
    creches: Vec<Choice>,
    error: Option<String>,
}

pub struct FieldChoice {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub struct ColumnLine {
    pub index: usize,
    pub header: String,
    pub choices: Vec<FieldChoice>,
}

pub struct CellLine {
    pub field: String,
    pub label: String,
    pub value: String,
    pub message: String,
}

pub struct RowLine {
    pub row: usize,
    pub status: &'static str,
    pub status_code: &'static str,
    pub detail: String,
    pub cells: Vec<CellLine>,
    pub removed: bool,
}

#[derive(Template)]
#[template(path = "import_preview.html")]
struct PreviewPage {
    layout: Layout,
    id: String,
    file_name: String,
    read_as: String,
    committed: Option<String>,
    summary: Vec<String>,
    columns: Vec<ColumnLine>,
    rows: Vec<RowLine>,
    hidden: usize,
    to_write: usize,
    invalid: usize,
    error: Option<String>,
    /// An import of the crèche's places, not of referrals.
    places: bool,
}

/// `GET /app/import`.
pub async fn form(visitor: Visitor, state: State) -> Result<HttpResponse, WebError> {
    upload_page(&state, &visitor, None, StatusCode::OK).await
}

async fn upload_page(
    state: &State,
    visitor: &Visitor,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    Section::Import.require(&visitor.who)?;
    let who = visitor.who.clone();
    let names = state
        .run(move |conn| avip_app::workflow::creches::names(conn, &who))
        .await?;
    let creches = (names.into_iter())
        .map(|c| Choice {
            value: c.id.to_string(),
            label: format!("{} ({})", c.name, c.commune),
            selected: false,
        })
        .collect();
    let layout = Layout::load(state, visitor, Section::Import, "Importer un tableur").await?;
    Ok(html(
        status,
        &UploadPage {
            layout,
            creches,
            error,
        },
    ))
}

/// The French of a refusal: each field's message.
fn french(e: &DomainError) -> Option<String> {
    match e {
        DomainError::Invalid(errors) => Some(
            errors
                .iter()
                .map(|e| labels::message(&e.message))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// `POST /app/import`.
pub async fn upload(
    visitor: Visitor,
    state: State,
    form: Multipart,
) -> Result<HttpResponse, WebError> {
    Section::Import.require(&visitor.who)?;
    let upload = match crate::shared::upload::read(form).await {
        Ok(upload) => upload,
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return upload_page(&state, &visitor, french(&e), status).await;
        }
    };
    visitor.check_csrf(upload.csrf.as_deref())?;
    let creche = upload.creche_id.unwrap_or_default();
    let kind = upload.kind.unwrap_or_default();
    let Some((name, bytes)) = upload.file.filter(|(_, b)| !b.is_empty()) else {
        let error = Some("Choisissez le fichier à importer.".to_owned());
        return upload_page(&state, &visitor, error, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let who = visitor.who.clone();
    let done = state
        .write(move |conn| {
            let what = (creche.as_str(), kind_named(&kind));
            imports::upload(conn, &who, what, (&name, &bytes), Utc::now())
        })
        .await;
    match done {
        Ok(view) => Ok(see_other(&format!("/app/import/{}", view.id))),
        Err(e) => match french(&e) {
            Some(message) => {
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                upload_page(&state, &visitor, Some(message), status).await
            }
            None => Err(e.into()),
        },
    }
}

#[derive(serde::Deserialize)]
pub struct TemplateQuery {
    #[serde(default)]
    type_: Option<String>,
}

fn kind_named(name: &str) -> ImportKind {
    if name == "places" {
        ImportKind::Places
    } else {
        ImportKind::Referrals
    }
}

/// `GET /app/import/modele.xlsx` (`?type_=places` for the places').
pub async fn template(
    visitor: Visitor,
    query: web::Query<TemplateQuery>,
) -> Result<HttpResponse, WebError> {
    Section::Import.require(&visitor.who)?;
    let kind = kind_named(query.type_.as_deref().unwrap_or_default());
    let bytes = imports::template::template(kind).map_err(|e| WebError::Unexpected(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"modele-import-avip-{}.xlsx\"",
                kind.as_str()
            ),
        ))
        .body(bytes))
}

/// `GET /app/import/{id}`.
pub async fn show(
    visitor: Visitor,
    state: State,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    Section::Import.require(&visitor.who)?;
    let (who, id) = (visitor.who.clone(), id.into_inner());
    let view = state
        .run(move |conn| imports::get(conn, &who, &id, Utc::now()))
        .await?;
    preview(&state, &visitor, view, None).await
}

fn status_words(s: RowStatus) -> (&'static str, &'static str) {
    match s {
        RowStatus::Ready => ("prête", "enrolled"),
        RowStatus::Update => ("mise à jour", "offered"),
        RowStatus::Unchanged => ("inchangée", "exited"),
        RowStatus::Duplicate => ("doublon", "exited"),
        RowStatus::Invalid => ("à corriger", "declined"),
        RowStatus::Removed => ("retirée", "exited"),
    }
}

fn detail(status: RowStatus, detail: Option<String>) -> String {
    match (status, detail) {
        (RowStatus::Duplicate, Some(d)) if d.starts_with("row ") => {
            format!("Même enfant que la ligne {}", &d[4..])
        }
        (RowStatus::Duplicate, Some(d)) => format!("Déjà suivie dans le service : {d}"),
        (RowStatus::Update, Some(d)) if d.ends_with(" places") => {
            format!("Enregistré jusqu’ici à cette date : {d}")
        }
        (RowStatus::Update | RowStatus::Unchanged, Some(d)) => format!("Orientation {d}"),
        _ => String::new(),
    }
}

fn field_label(field: &str) -> String {
    columns::field(field).map_or_else(|| field.to_owned(), |f| f.header.to_owned())
}

fn summary(v: &ImportView) -> Vec<String> {
    let c = &v.counts;
    let lines = if c.total == 1 {
        "ligne lue"
    } else {
        "lignes lues"
    };
    let mut out = vec![format!("{} {lines}", c.total)];
    for (n, one, many) in [
        (c.ready, "prête à importer", "prêtes à importer"),
        (
            c.update,
            "met à jour ce qu’un import précédent a écrit",
            "mettent à jour ce qu’un import précédent a écrit",
        ),
        (
            c.unchanged,
            "inchangée depuis le dernier import",
            "inchangées depuis le dernier import",
        ),
        (
            c.duplicate,
            "en double (non importée)",
            "en double (non importées)",
        ),
        (c.invalid, "à corriger", "à corriger"),
        (c.removed, "retirée", "retirées"),
    ] {
        match n {
            0 => {}
            1 => out.push(format!("1 {one}")),
            n => out.push(format!("{n} {many}")),
        }
    }
    out
}

/// How the file was read, in words.
fn read_as(f: &imports::Format) -> String {
    match f.kind.as_str() {
        "csv" => format!(
            "Fichier CSV lu en {}, colonnes séparées par « {} ».",
            if f.encoding.as_deref() == Some("utf-8") {
                "UTF-8"
            } else {
                "Windows-1252 (Excel)"
            },
            f.separator.as_deref().unwrap_or(";")
        ),
        kind => format!(
            "Classeur {} : feuille « {} ».",
            kind.to_uppercase(),
            f.sheet.as_deref().unwrap_or_default()
        ),
    }
}

/// The rows to look at, at most [`SHOWN`].
fn row_lines(v: &ImportView) -> Vec<RowLine> {
    (v.rows.iter().take(SHOWN))
        .map(|r| {
            let (status, status_code) = status_words(r.status);
            RowLine {
                row: r.row,
                status,
                status_code,
                detail: detail(r.status, r.detail.clone()),
                cells: (r.errors.iter())
                    .map(|e| CellLine {
                        label: field_label(&e.field),
                        field: e.field.clone(),
                        value: e.value.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
                removed: r.status == RowStatus::Removed,
            }
        })
        .collect()
}

async fn preview(
    state: &State,
    visitor: &Visitor,
    v: ImportView,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let committed = v.result.as_ref().map(|r| match v.kind {
        ImportKind::Places => format!(
            "Import enregistré : {} changements de places ajoutés, {} corrigés, {} inchangés, {} lignes non importées.",
            r.created, r.updated, r.unchanged, r.skipped
        ),
        ImportKind::Referrals => format!(
            "Import enregistré : {} orientations créées, {} mises à jour, {} inchangées, {} lignes non importées (doublons ou retirées). Le fichier n’est pas conservé.",
            r.created, r.updated, r.unchanged, r.skipped
        ),
    });
    let read_as = v.format.as_ref().map_or_else(String::new, read_as);
    let columns = (v.columns.iter().enumerate())
        .map(|(index, c)| ColumnLine {
            index,
            header: c.header.clone(),
            choices: (columns::fields_of(v.kind).iter())
                .map(|f| FieldChoice {
                    value: f.id,
                    label: f.header,
                    selected: c.field.as_deref() == Some(f.id),
                })
                .collect(),
        })
        .collect();
    let hidden = v.rows.len().saturating_sub(SHOWN);
    let rows = row_lines(&v);
    let title = format!("Importer {}", v.file_name);
    let layout = Layout::load(state, visitor, Section::Import, title).await?;
    let page = PreviewPage {
        layout,
        id: v.id.clone(),
        file_name: v.file_name.clone(),
        read_as,
        committed,
        summary: summary(&v),
        columns,
        rows,
        hidden,
        to_write: v.counts.ready + v.counts.update,
        invalid: v.counts.invalid,
        error,
        places: v.kind == ImportKind::Places,
    };
    let status = if page.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    if status == StatusCode::OK {
        ok_page(&page)
    } else {
        Ok(html(status, &page))
    }
}

/// The page again after a form: its refusal shown above the rows.
async fn after(
    state: &State,
    visitor: &Visitor,
    id: String,
    done: Result<ImportView, DomainError>,
) -> Result<HttpResponse, WebError> {
    match done {
        Ok(_) => Ok(see_other(&format!("/app/import/{id}"))),
        Err(e) => {
            let Some(message) = french(&e) else {
                return Err(e.into());
            };
            let who = visitor.who.clone();
            let view = state
                .run(move |conn| imports::get(conn, &who, &id, Utc::now()))
                .await?;
            preview(state, visitor, view, Some(message)).await
        }
    }
}

/// A form of the import's page, from someone who may import, with the
/// session's token.
fn posted(visitor: &Visitor, body: &web::Bytes) -> Result<Form, WebError> {
    Section::Import.require(&visitor.who)?;
    let form = Form::read(body)?;
    visitor.check_csrf(form.csrf())?;
    Ok(form)
}

/// `POST /app/import/{id}/colonnes`.
pub async fn map(
    visitor: Visitor,
    state: State,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = posted(&visitor, &body)?;
    let count: usize = form
        .get("colonnes")
        .parse()
        .map_err(|_| WebError::NotFound)?;
    let request = MappingRequest {
        columns: (0..count.min(200))
            .map(|i| Some(form.get(&format!("col{i}")).to_owned()).filter(|f| !f.is_empty()))
            .collect(),
    };
    let (who, id) = (visitor.who.clone(), id.into_inner());
    let key = id.clone();
    let done = state
        .write(move |conn| imports::remap(conn, &who, &key, request, Utc::now()))
        .await;
    after(&state, &visitor, id, done).await
}

/// `POST /app/import/{id}/lignes/{row}`: the row's cells corrected, or
/// the row left out or taken back.
pub async fn correct(
    visitor: Visitor,
    state: State,
    path: web::Path<(String, usize)>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let form = posted(&visitor, &body)?;
    let (id, row) = path.into_inner();
    let request = CorrectionRequest {
        cells: (columns::fields().iter().chain(columns::place_fields()))
            .filter(|f| form.checked(&format!("champ:{}", f.id)))
            .map(|f| {
                (
                    f.id.to_owned(),
                    form.get(&format!("champ:{}", f.id)).to_owned(),
                )
            })
            .collect(),
        removed: match form.get("action") {
            "retirer" => Some(true),
            "reprendre" => Some(false),
            _ => None,
        },
    };
    let (who, key) = (visitor.who.clone(), id.clone());
    let done = state
        .write(move |conn| imports::correct(conn, &who, (&key, row), request, Utc::now()))
        .await;
    after(&state, &visitor, id, done).await
}

/// `POST /app/import/{id}/enregistrer`.
pub async fn commit(
    visitor: Visitor,
    state: State,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    posted(&visitor, &body)?;
    let (who, id) = (visitor.who.clone(), id.into_inner());
    let (key, policy) = (id.clone(), state.policy.clone());
    let done = state
        .write(move |conn| imports::commit(conn, &who, &key, &policy, Utc::now()))
        .await;
    after(&state, &visitor, id, done).await
}
