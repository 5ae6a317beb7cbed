//! `/api/v1/exports`: the CAF's evaluation rows and the indicators
//! (docs/product.md §7), pseudonymised, as CSV for a French Excel, JSON or XLSX.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use avip_app::auth::Principal;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::Bearer;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::error::TrySendError;

use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::responses::{BadRequest, Forbidden, NotFound, TooManyRequests};
use crate::shared::{Front, State};
use avip_app::exports::{
    EvaluationRow, ExportError, Format, Gone, GroupBy, IndicatorRow, Names, Out, write_rows,
};
use avip_app::limits::ExportSlot;
use avip_app::workflow::exports::{self, Ask, RowsExport};

/// The exports' routes, in the API's scope.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(referrals).service(indicators_handler);
}

#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[default]
    Csv,
    Json,
    Xlsx,
}

#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    /// `;`, what a French Excel expects; decimals then use a comma.
    #[default]
    Semicolon,
    /// `,`; decimals use a point.
    Comma,
}

/// What a CSV's header row and cells say: the codes, for scripts
/// (default), or French headers and labels, for people (`fr`). XLSX is
/// always French, JSON always codes.
#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Headers {
    #[default]
    Codes,
    Fr,
}

#[derive(Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    #[default]
    Month,
    Creche,
    PrescriberKind,
    Prescriber,
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// First day of reception, `YYYY-MM-DD` (Paris), included.
    pub from: NaiveDate,
    /// Last day of reception, included; at most ten years (3653 days,
    /// both counted) after `from`.
    pub to: NaiveDate,
    /// `csv` (default), `json` or `xlsx`.
    #[param(inline)]
    pub format: Option<FileFormat>,
    /// CSV separator: `semicolon` (default) or `comma`.
    #[param(inline)]
    pub sep: Option<Separator>,
    /// CSV: `codes` (default: the column names and codes, for scripts) or
    /// `fr` (French headers, labels, months, dates).
    #[param(inline)]
    pub headers: Option<Headers>,
    /// Admins: only this département's crèches. The CAF sees its own
    /// département only (another is 403).
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IndicatorQuery {
    /// First day of reception, `YYYY-MM-DD` (Paris), included.
    pub from: NaiveDate,
    /// Last day of reception, included; at most ten years (3653 days,
    /// both counted) after `from`.
    pub to: NaiveDate,
    /// `month` (default, of reception), `creche`, `prescriber_kind` or `prescriber`.
    #[param(inline)]
    pub group_by: Option<Grouping>,
    /// `json` (default), `csv` or `xlsx`.
    #[param(inline)]
    pub format: Option<FileFormat>,
    /// CSV separator: `semicolon` (default) or `comma`.
    #[param(inline)]
    pub sep: Option<Separator>,
    /// CSV: `codes` (default) or `fr` (French headers and labels).
    #[param(inline)]
    pub headers: Option<Headers>,
    /// Admins: only this département's crèches. The CAF sees its own only.
    /// At most one of `departement`, `creche` and `operator`.
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
    /// Only this crèche, among those the caller sees (404 otherwise).
    #[param(format = Uuid)]
    pub creche: Option<String>,
    /// Only this operator's crèches, among those the caller sees (404 when
    /// it sees none of them).
    #[param(format = Uuid)]
    pub operator: Option<String>,
}

fn format_of(
    format: Option<FileFormat>,
    default: FileFormat,
    (sep, headers): (Option<Separator>, Option<Headers>),
) -> Format {
    match format.unwrap_or(default) {
        FileFormat::Csv => Format::Csv {
            comma: sep == Some(Separator::Comma),
            french: headers == Some(Headers::Fr),
        },
        FileFormat::Json => Format::Json,
        FileFormat::Xlsx => Format::Xlsx,
    }
}

impl From<Grouping> for GroupBy {
    fn from(g: Grouping) -> GroupBy {
        match g {
            Grouping::Month => GroupBy::Month,
            Grouping::Creche => GroupBy::Creche,
            Grouping::PrescriberKind => GroupBy::PrescriberKind,
            Grouping::Prescriber => GroupBy::Prescriber,
        }
    }
}

/// `avip-<what>-<from>-<to>.<extension>` as a download.
fn attachment(name: &str) -> (header::HeaderName, String) {
    (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    )
}

/// Sends bytes to the response as they come. Fails once the client is
/// gone, or when it has not taken a chunk for `timeout` (a reader that
/// stalls: the download is then ended, so that it holds nothing longer).
struct Channel {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    timeout: Duration,
    stalled: bool,
}

impl Channel {
    fn put(&mut self, chunk: Chunk) -> Result<(), Gone> {
        let deadline = Instant::now() + self.timeout;
        let mut chunk = chunk;
        let mut pause = Duration::from_millis(1);
        loop {
            match self.tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(_)) => return Err(Gone),
                Err(TrySendError::Full(back)) => chunk = back,
            }
            if Instant::now() >= deadline {
                self.stalled = true;
                return Err(Gone);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Out for Channel {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), Gone> {
        self.put(Chunk::Bytes(bytes))
    }
}

/// The evaluation rows: one per referral received in the period at the
/// crèches in scope, pseudonymised and minimised (see `EvaluationRow`),
/// oldest first.
/// Streamed from the database: memory stays flat whatever the period, and
/// the work stops when the client disconnects. CSV: UTF-8 with a BOM, `;`
/// and decimal commas (or `sep=comma`), ISO dates, CRLF. XLSX: typed cells,
/// a bold header row, frozen panes. The CAF (its département) and admins.
#[utoipa::path(operation_id = "exportReferrals", tag = "exports", params(ExportQuery), security(("oauth2" = [])), responses(
    (status = 200, description = "CSV (`text/csv`, the default), XLSX or JSON (an array of `EvaluationRow`), as `format` asks",
        content(
            (String = "text/csv", example = json!("\u{feff}referral_key;family_id;prescriber_kind;creche_id;…\r\n5be0c0b0f4b1f3a2c1d1e0f9a8b7c6d5;0a1b2c3d4e5f60718293a4b5c6d7e8f9;france_travail;0193a5b0-7c1e-7d2a-9b1e-000000000001;…\r\n")),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                example = json!("(an XLSX workbook: one sheet \"AVIP\", the same columns)")),
            (Vec<EvaluationRow> = "application/json", example = json!([{"referral_key": "5be0c0b0f4b1f3a2c1d1e0f9a8b7c6d5",
                "family_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "prescriber_kind": "france_travail",
                "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
                "creche_name": "Les Petits Pas", "departement": "83", "received_month": "2026-11-01",
                "hours_to_first_response": 25.5,
                "answered_within_deadline": true, "status": "declined", "outcome": "declined",
                "refusal_reason": "no_place_matching_hours", "withdrawal_reason": null,
                "enrollment_start_month": null, "contract_days": null, "renewals": null, "days_enrolled": null,
                "exit_reason": null, "exit_employment_status": null, "positive_exit": null,
                "childcare_solution": null, "parent_situation": "job_seeker", "single_parent": true,
                "qpv_resident": false, "child_age_bracket": "1_to_2", "children": 1,
                "insertion_project_kind": "training"}])))),
    BadRequest,
    Forbidden,
    TooManyRequests,
))]
#[get("/exports/referrals")]
pub async fn referrals(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = format_of(q.format, FileFormat::Csv, (q.sep, q.headers));
    let ask = Ask {
        departement: q.departement,
        ..Ask::period_only(q.from, q.to)
    };
    let slot = state.limits.export_slot(&who.subject.to_claim())?;
    let asker = who.clone();
    let (export, names) = state
        .run(move |conn| {
            let export = exports::start_rows(conn, &asker, &ask, format, Utc::now())?;
            let names = avip_app::exports::names(conn)?;
            Ok::<_, avip_app::domain::DomainError>((export, names))
        })
        .await?;
    let period = export.period;
    let reading = Reading {
        export,
        names,
        format,
        subject: who.subject.to_claim(),
        slot,
    };
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(attachment(&exports::file_name("referrals", period, format)))
        .streaming(stream_rows(&state, reading)))
}

/// One download of rows about to be read.
struct Reading {
    export: RowsExport,
    names: Names,
    format: Format,
    subject: String,
    /// The caller's place among its running downloads, freed at the end.
    slot: ExportSlot,
}

/// The rows as the database gives them, through a small channel: memory
/// stays flat, each chunk of rows is read on a connection taken for it and
/// given back before the bytes are sent (a slow reader holds no
/// connection), and the reading stops when the client disconnects or stops
/// reading for `AVIP_WRITE_TIMEOUT`. The file ends with its last chunk only
/// once complete and recorded as an export: a failure, a stall or a fault
/// midway aborts the transfer (the client sees a broken download, not a
/// short file).
fn stream_rows(
    state: &Front,
    reading: Reading,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> + use<> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let (key, pool, gate) = (
        state.pseudonym_key.clone(),
        state.pool.clone(),
        state.gate.clone(),
    );
    let timeout = state.limits.write_timeout;
    tokio::task::spawn_blocking(move || {
        let Reading {
            export,
            names,
            format,
            subject,
            slot,
        } = reading;
        let started = Instant::now();
        let mut out = Channel {
            tx,
            timeout,
            stalled: false,
        };
        let written = write_rows(&pool, &names, &export.scope, &key, format, &mut out);
        let failure = match written {
            Ok(rows) => {
                let recorded = exports::record_rows_blocking(&pool, &gate, export);
                match recorded {
                    Ok(()) => {
                        tracing::info!(by = %subject, rows,
                            ms = started.elapsed().as_millis() as u64, "evaluation rows exported");
                        let _ = out.put(Chunk::Done);
                        return;
                    }
                    Err(e) => format!("the export could not be recorded: {e}"),
                }
            }
            Err(ExportError::Gone) if out.stalled => {
                tracing::warn!(by = %subject, timeout_s = timeout.as_secs(),
                    "export ended: the client stopped reading");
                return;
            }
            Err(ExportError::Gone) => {
                tracing::info!(by = %subject, "export stopped: the client disconnected");
                return;
            }
            Err(e) => e.to_string(),
        };
        tracing::error!(by = %subject, error = %failure, "export failed midway; the transfer is aborted");
        let _ = out.put(Chunk::Failed(failure));
        drop(slot);
    });
    body_of(rx)
}

/// What the reading thread hands the response.
enum Chunk {
    Bytes(Vec<u8>),
    /// The file is complete.
    Done,
    /// The file cannot be completed, for this reason.
    Failed(String),
}

/// The response body: the chunks as they come. The file ends only after
/// [`Chunk::Done`]; a failure, or a reader that stopped without finishing,
/// ends the transfer with an error, without its final chunk, so that the
/// client knows the file is cut.
fn body_of(
    rx: tokio::sync::mpsc::Receiver<Chunk>,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    let aborted = |reason: &str| {
        actix_web::error::ErrorInternalServerError(format!("export aborted: {reason}"))
    };
    futures_util::stream::unfold(Some(rx), move |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Chunk::Bytes(bytes)) => Some((Ok(web::Bytes::from(bytes)), Some(rx))),
            Some(Chunk::Done) => None,
            Some(Chunk::Failed(reason)) => Some((Err(aborted(&reason)), None)),
            None => Some((Err(aborted("the export stopped before its end")), None)),
        }
    })
}

/// The indicators of the referrals received in the period, by group (see
/// `IndicatorRow` for each definition). Coordinators get their crèches'; the
/// CAF its département's; admins all (or `departement`). `creche` or
/// `operator` narrow them to one crèche or one operator's crèches among
/// those (404 for one the caller does not see).
#[utoipa::path(operation_id = "exportIndicators", tag = "exports", params(IndicatorQuery), security(("oauth2" = [])), responses(
    (status = 200, description = "JSON (an array of `IndicatorRow`), CSV or XLSX",
        content(
            (Vec<IndicatorRow> = "application/json", example = json!([{"group": "2026-11", "label": "2026-11",
                "received": 12, "answered": 10, "answered_within_deadline": 9, "answered_within_deadline_pct": 75.0,
                "median_hours_to_first_response": 20.5, "p90_hours_to_first_response": 70.2, "offers": 6,
                "enrollments": 4, "exits": 2, "positive_exits": 1, "positive_exit_pct": 50.0,
                "lasting_solutions": 2, "occupied_place_days": 310, "available_place_days": 540,
                "occupancy_pct": 57.4}])),
            (String = "text/csv", example = json!("\u{feff}group;label;received;answered;…\r\n2026-11;2026-11;12;10;…\r\n")),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                example = json!("(an XLSX workbook: one sheet \"AVIP\", the same columns)")))),
    BadRequest,
    Forbidden,
    NotFound,
))]
#[get("/exports/indicators")]
pub async fn indicators_handler(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<IndicatorQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.0;
    let format = format_of(q.format, FileFormat::Json, (q.sep, q.headers));
    let group_by = q.group_by.unwrap_or_default().into();
    let ask = scoped_ask(q.from, q.to, (q.departement, q.creche, q.operator))?;
    indicators_file(&state, who, ask, group_by, format).await
}

/// A period and one scope among the caller's (`departement`, `creche` or
/// `operator`), the ids checked.
pub fn scoped_ask(
    from: NaiveDate,
    to: NaiveDate,
    (departement, creche, operator): (Option<String>, Option<String>, Option<String>),
) -> Result<Ask, ApiError> {
    use avip_db::model::{CrecheId, OrganizationId};
    let not_an_id = |name| avip_app::domain::DomainError::parameter(name, "is not an id");
    let creche = (creche.as_deref())
        .map(|c| CrecheId::parse(c).ok_or_else(|| not_an_id("creche")))
        .transpose()?;
    let operator = (operator.as_deref())
        .map(|o| OrganizationId::parse(o).ok_or_else(|| not_an_id("operator")))
        .transpose()?;
    Ok(Ask {
        departement,
        creche,
        operator,
        ..Ask::period_only(from, to)
    })
}

/// The indicators as a response in `format` (a download for CSV and XLSX).
async fn indicators_file(
    state: &State,
    who: Principal,
    ask: Ask,
    group_by: avip_app::exports::GroupBy,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let file = exports::indicators_file(&state.app, who, ask, group_by, format).await?;
    Ok(crate::shared::download(file))
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    async fn body(chunks: Vec<Chunk>) -> Vec<Result<web::Bytes, String>> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
        for chunk in chunks {
            tx.send(chunk).await.unwrap();
        }
        drop(tx);
        body_of(rx)
            .map(|item| item.map_err(|e| e.to_string()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_failure_after_the_first_bytes_ends_the_body_with_an_error() {
        let items = body(vec![
            Chunk::Bytes(b"referral_key;family_id\r\n".to_vec()),
            Chunk::Failed("database gone".into()),
        ])
        .await;
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].as_ref().unwrap(),
            &web::Bytes::from_static(b"referral_key;family_id\r\n")
        );
        assert!(items[1].as_ref().unwrap_err().contains("database gone"));
    }

    #[tokio::test]
    async fn a_complete_file_ends_when_the_reader_is_done() {
        let items = body(vec![Chunk::Bytes(b"a".to_vec()), Chunk::Done]).await;
        assert_eq!(items.len(), 1);
        assert!(items[0].is_ok());
    }

    #[tokio::test]
    async fn a_reader_that_stops_without_finishing_aborts_the_file() {
        let items = body(vec![Chunk::Bytes(b"a".to_vec())]).await;
        assert_eq!(items.len(), 2);
        assert!(items[1].as_ref().unwrap_err().contains("before its end"));
    }

    #[test]
    fn a_reader_that_takes_nothing_ends_the_export_after_the_timeout() {
        let (tx, _rx) = tokio::sync::mpsc::channel::<Chunk>(1);
        let mut out = Channel {
            tx,
            timeout: Duration::from_millis(50),
            stalled: false,
        };
        assert!(out.send(b"a".to_vec()).is_ok());
        assert!(out.send(b"b".to_vec()).is_err());
        assert!(out.stalled);
    }
}
