//! The evaluation: which crèches a caller may export, each download of
//! pseudonymised rows recorded (the timelines of the referrals it includes
//! show it), and the indicators. The rows themselves and the file formats
//! are `crate::exports`.

use std::collections::BTreeMap;

use avip_db::exports::{self as queries, ExportScope};
use avip_db::model::{CrecheId, EventId, OrganizationId, Role, to_db_time};
use avip_db::places::Period;
use avip_db::{DbConnection, Pool, WriteGate};
use avip_sla_engine::clock::paris_midnight;
use chrono::{DateTime, NaiveDate, Utc};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::exports::{Cancel, ExportError, Format, GroupBy, Tally};
use crate::workflow::referrals::actor;

/// What a caller asks for: referrals received from `from` to `to` (both
/// included, Paris days), and, within what the caller may see, one
/// `departement`, one `creche` or one `operator`'s crèches.
pub struct Ask {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub departement: Option<String>,
    pub creche: Option<CrecheId>,
    pub operator: Option<OrganizationId>,
}

/// The longest period one export may cover: ten years, leap days included.
/// The work grows with the period, and an evaluation spans a few years.
pub const MAX_DAYS: usize = 3_653;

impl Ask {
    /// Referrals received from `from` to `to`, in whatever the caller sees.
    pub fn period_only(from: NaiveDate, to: NaiveDate) -> Ask {
        Ask {
            from,
            to,
            departement: None,
            creche: None,
            operator: None,
        }
    }

    pub(crate) fn period(&self) -> Result<Period, DomainError> {
        if self.to < self.from {
            return Err(DomainError::parameter("to", "must not be before from"));
        }
        let period = Period {
            from: self.from,
            to: self.to,
        };
        if period.days() > MAX_DAYS {
            return Err(DomainError::parameter(
                "to",
                "the period is longer than ten years (3653 days at most)",
            ));
        }
        Ok(period)
    }

    fn departement(&self) -> Result<Option<String>, DomainError> {
        self.departement
            .as_deref()
            .map(|d| {
                crate::domain::departement(d).map_err(|m| DomainError::parameter("departement", &m))
            })
            .transpose()
    }
}

/// A download of evaluation rows about to start.
pub struct RowsExport {
    pub period: Period,
    pub scope: ExportScope,
    log: queries::ExportLog,
}

/// Starts a download of evaluation rows: the caller's scope. The rows are
/// then read with [`crate::exports::write_rows`], and the export is
/// recorded for the timelines by [`record_rows`] once the whole file went
/// out, never before.
pub fn start_rows(
    conn: &mut DbConnection,
    who: &Principal,
    ask: &Ask,
    format: Format,
    now: DateTime<Utc>,
) -> Result<RowsExport, DomainError> {
    require(who, Action::Read, Resource::ExportRows)?;
    let period = ask.period()?;
    let scope = scope(period, creches(conn, who, ask)?);
    let (actor_kind, actor_id) = actor(who);
    let log = queries::ExportLog {
        id: EventId::generate(),
        exported_at: to_db_time(now),
        actor_kind,
        actor_id,
        format: format.extension().to_owned(),
        received_from: scope.from,
        received_before: scope.before,
    };
    Ok(RowsExport { period, scope, log })
}

/// [`record_rows`] through the writer, from a thread that may block (the
/// one that streams the rows).
pub fn record_rows_blocking(
    pool: &avip_db::Pool,
    gate: &avip_db::WriteGate,
    export: RowsExport,
) -> Result<(), DomainError> {
    avip_db::blocking::write_blocking(pool, gate, move |conn| record_rows(conn, &export))
}

/// Records a complete download of rows: the timelines of the referrals it
/// included show it from now on.
pub fn record_rows(conn: &mut DbConnection, export: &RowsExport) -> Result<(), DomainError> {
    let creches = export.scope.creches.as_deref().unwrap_or_default();
    Ok(queries::record_export(conn, &export.log, creches)?)
}

/// The indicators of the caller's scope over the period, by group; they
/// stop early (and fail) once `cancel` is set.
pub fn indicators(
    conn: &mut DbConnection,
    who: &Principal,
    ask: &Ask,
    group_by: GroupBy,
    (now, zone): (DateTime<Utc>, avip_sla_engine::policy::HolidayZone),
    cancel: &Cancel,
) -> Result<(Period, BTreeMap<String, Tally>), DomainError> {
    require(who, Action::Read, Resource::Indicators)?;
    let period = ask.period()?;
    let creches = creches(conn, who, ask)?;
    let scope = scope(period, creches.clone());
    let when = (avip_db::model::to_db_time(now), zone);
    let groups =
        crate::exports::indicators(conn, &scope, &creches, period, group_by, when, cancel)?;
    Ok((period, groups))
}

/// A file built whole for the API's download and the workspace's buttons
/// (the indicators, a bilan): its bytes, its type, and the name it
/// downloads under (none for JSON, which is shown, not saved).
pub struct Download {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub file_name: Option<String>,
}

/// The indicators as a file in `format`. Dropping the future (the client
/// left) stops the work.
pub async fn indicators_file(
    app: &crate::App,
    who: Principal,
    ask: Ask,
    group_by: GroupBy,
    format: crate::exports::Format,
) -> Result<Download, DomainError> {
    let cancel = Cancel::default();
    let _cancel_if_gone = cancel.guard();
    let zone = app.zone();
    let (period, groups) = app
        .run(move |conn| indicators(conn, &who, &ask, group_by, (Utc::now(), zone), &cancel))
        .await?;
    let mut out = Buffer(Vec::new());
    crate::exports::write_indicators(&groups, format, &mut out).map_err(failed)?;
    let file_name =
        (format != crate::exports::Format::Json).then(|| file_name("indicators", period, format));
    Ok(Download {
        bytes: out.0,
        content_type: format.content_type(),
        file_name,
    })
}

/// What a download is saved as: `avip-<what>-<from>-<to>.<extension>`.
pub fn file_name(what: &str, period: Period, format: crate::exports::Format) -> String {
    format!(
        "avip-{what}-{}-{}.{}",
        period.from,
        period.to,
        format.extension()
    )
}

/// Bytes kept in memory (a file small enough to build whole).
struct Buffer(Vec<u8>);

impl crate::exports::Out for Buffer {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), crate::exports::Gone> {
        self.0.extend_from_slice(&bytes);
        Ok(())
    }
}

impl From<ExportError> for DomainError {
    fn from(e: ExportError) -> DomainError {
        match e {
            ExportError::Query(e) => e.into(),
            other => failed(other),
        }
    }
}

/// A document that could not be written: a fault of ours.
pub fn failed_to_write(e: String) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!("document not written: {e}"))
}

/// An export that could not be written: a fault of ours.
pub fn failed(e: ExportError) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!("export failed: {e}"))
}

/// The crèches the caller may export: the CAF its département's, a
/// coordinator its own, an admin all (or one département's); then the one
/// crèche or the operator's crèches asked for, among them. A crèche or an
/// operator the caller does not see is not found, as it would be anywhere.
pub(crate) fn creches(
    conn: &mut DbConnection,
    who: &Principal,
    ask: &Ask,
) -> Result<Vec<CrecheId>, DomainError> {
    let asked = [
        ("departement", ask.departement.is_some()),
        ("creche", ask.creche.is_some()),
        ("operator", ask.operator.is_some()),
    ];
    if let Some((name, _)) = asked.iter().filter(|(_, given)| *given).nth(1) {
        return Err(DomainError::parameter(
            name,
            "give one of departement, creche and operator, not several",
        ));
    }
    let departement = ask.departement()?;
    let all = queries::creches(conn)?;
    let seen = seen(&all, who, departement.as_deref())?;
    if let Some(id) = &ask.creche {
        if !seen.contains(id) {
            return Err(DomainError::NotFound);
        }
        return Ok(vec![id.clone()]);
    }
    if let Some(operator) = &ask.operator {
        let run: Vec<CrecheId> = all
            .iter()
            .filter(|c| &c.operator == operator && seen.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        if run.is_empty() {
            return Err(DomainError::NotFound);
        }
        return Ok(run);
    }
    Ok(seen)
}

/// The crèches the caller's role sees, in one département when asked.
pub(crate) fn seen(
    all: &[queries::CrecheInfo],
    who: &Principal,
    departement: Option<&str>,
) -> Result<Vec<CrecheId>, DomainError> {
    let in_dep = |dep: &str| -> Vec<CrecheId> {
        all.iter()
            .filter(|c| c.departement == dep)
            .map(|c| c.id.clone())
            .collect()
    };
    Ok(match who.role {
        Role::Caf => match departement {
            Some(d) if d != who.departement => {
                return Err(DomainError::OutOfScope(format!(
                    "the CAF sees its own département ({}) only",
                    who.departement
                )));
            }
            _ => in_dep(&who.departement),
        },
        Role::Coordinator => all
            .iter()
            .filter(|c| who.creche_ids.contains(&c.id))
            .filter(|c| departement.is_none_or(|d| c.departement == d))
            .map(|c| c.id.clone())
            .collect(),
        _ => match departement {
            Some(d) => in_dep(d),
            None => all.iter().map(|c| c.id.clone()).collect(),
        },
    })
}

/// Referrals received on the period's days in Paris, at these crèches.
pub(crate) fn scope(period: Period, creches: Vec<CrecheId>) -> ExportScope {
    ExportScope {
        from: to_db_time(paris_midnight(period.from)),
        before: to_db_time(paris_midnight(
            period.to.succ_opt().unwrap_or(NaiveDate::MAX),
        )),
        creches: Some(creches),
    }
}

/// Adds every referral up for the indicators when the days' sums do not
/// hold them yet (the first start after the upgrade that brought them, or
/// `force`: `avip indicators rebuild`); the number of referrals counted, or
/// `None` when there was nothing to do. The indicators count from the
/// referrals meanwhile: slower, the same figures.
pub fn ensure_sums(
    pool: &Pool,
    gate: &WriteGate,
    force: bool,
) -> Result<Option<usize>, DomainError> {
    if !force {
        let mut conn = avip_db::blocking::checkout(pool)?;
        if avip_db::tallies::is_built(&mut conn)? {
            return Ok(None);
        }
    }
    let counted = avip_db::blocking::write_blocking(pool, gate, |conn| {
        avip_db::tallies::rebuild(conn, to_db_time(Utc::now()))
    })?;
    tracing::info!(referrals = counted, "the indicators' sums were added up");
    Ok(Some(counted))
}
