//! The CAF's rows: one per referral of the scope, pseudonymised and
//! minimised, read from the database a chunk at a time.

use super::*;

/// The columns of the CAF's rows: what the evaluation needs and no more
/// (docs/data-protection.md, "The CAF's rows"): no prescriber agency, no
/// instant, no exact date; months, durations and categories.
pub const ROW_COLUMNS: &[Column] = &[
    column(
        "referral_key",
        34.0,
        Kind::Text,
        "Keyed hash of the referral's id: stable from one export to the next.",
    ),
    column(
        "family_id",
        34.0,
        Kind::Text,
        "Keyed hash (HMAC-SHA-256 with `AVIP_PSEUDONYM_KEY`) of the family's\n\
         France Travail identifier, or else of the parent's names with the\n\
         phone (or e-mail): the same family has the same id across referrals\n\
         and exports (and after its personal data is anonymised), and it\n\
         cannot be recomputed from a known name without the key.",
    ),
    column(
        "prescriber_kind",
        22.0,
        Kind::Text,
        "`france_travail`, `conseil_departemental` or `mission_locale`.",
    ),
    column("creche_id", 38.0, Kind::Text, ""),
    column("creche_name", 26.0, Kind::Text, ""),
    column("departement", 12.0, Kind::Text, ""),
    column(
        "received_month",
        12.0,
        Kind::Date,
        "The first day of the month of reception (Paris).",
    ),
    nullable(
        "hours_to_first_response",
        12.0,
        Kind::Number,
        "Calendar hours from reception to the first response (the first move\n\
         out of `received` but `withdrawn`), one decimal; `null` when none came.",
    ),
    nullable(
        "answered_within_deadline",
        12.0,
        Kind::Boolean,
        "The first response came by the deadline of the SLA policy in force\n\
         (`AVIP_SLA_BREACH`, 72 h by default); `null` when none came.",
    ),
    column("status", 12.0, Kind::Text, ""),
    column(
        "outcome",
        14.0,
        Kind::Text,
        "`in_progress`, `enrolled`, `exited`, `declined` or `withdrawn`.",
    ),
    nullable(
        "refusal_reason",
        24.0,
        Kind::Text,
        "The decline reason, when the crèche declined.",
    ),
    nullable(
        "withdrawal_reason",
        24.0,
        Kind::Text,
        "The withdraw reason, when the referral was withdrawn.",
    ),
    nullable(
        "enrollment_start_month",
        12.0,
        Kind::Date,
        "The first day of the month the child started.",
    ),
    nullable(
        "contract_days",
        10.0,
        Kind::Integer,
        "Days from the start to the contract's end, both counted.",
    ),
    nullable("renewals", 10.0, Kind::Integer, ""),
    nullable(
        "days_enrolled",
        10.0,
        Kind::Integer,
        "Days from the start to the exit, both counted (exited children).",
    ),
    nullable("exit_reason", 20.0, Kind::Text, ""),
    nullable("exit_employment_status", 20.0, Kind::Text, ""),
    nullable("positive_exit", 10.0, Kind::Boolean, ""),
    nullable(
        "childcare_solution",
        22.0,
        Kind::Text,
        "The lasting childcare solution after the exit.",
    ),
    column("parent_situation", 16.0, Kind::Text, ""),
    column("single_parent", 10.0, Kind::Boolean, ""),
    column("qpv_resident", 10.0, Kind::Boolean, ""),
    nullable(
        "child_age_bracket",
        12.0,
        Kind::Text,
        "The first child's age when referred: `under_1`, `1_to_2`, `2_to_3`, `3_and_over`.",
    ),
    column("children", 10.0, Kind::Integer, ""),
    column("insertion_project_kind", 18.0, Kind::Text, ""),
    nullable(
        "exit_corrected",
        10.0,
        Kind::Boolean,
        "Whether the exit was corrected after it was recorded (the row shows\n\
         the corrected exit); `null` without an exit.",
    ),
    nullable(
        "situation_3_months",
        20.0,
        Kind::Text,
        "The parent's situation 3 months after the exit, as the referent\n\
         answered (an employment status, or `unknown`); `null` unanswered.",
    ),
    nullable(
        "situation_6_months",
        20.0,
        Kind::Text,
        "The same, 6 months after the exit.",
    ),
];

/// One evaluation row (the JSON shape; CSV and XLSX have the same columns
/// in this order). What the evaluation needs and no more: no name, contact,
/// address, France Travail identifier or birth date, no prescriber agency,
/// no instant; months, durations and categories
/// (docs/data-protection.md, "The CAF's rows").
///
/// Its schema is made from [`ROW_COLUMNS`], the columns the files are written
/// with.
pub struct EvaluationRow;

impl utoipa::PartialSchema for EvaluationRow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema(
            ROW_COLUMNS,
            "One evaluation row (the JSON shape; CSV and XLSX have the same columns\n\
     in this order). What the evaluation needs and no more: no name, contact,\n\
     address, France Travail identifier or birth date, no prescriber agency,\n\
     no instant; months, durations and categories\n\
     (docs/data-protection.md, \"The CAF's rows\").",
            serde_json::json!({"referral_key": "5be0c0b0f4b1f3a2c1d1e0f9a8b7c6d5",
    "family_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "prescriber_kind": "france_travail",
    "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "creche_name": "Les Petits Pas", "departement": "83", "received_month": "2026-11-01",
    "hours_to_first_response": 25.5,
    "answered_within_deadline": true, "status": "exited", "outcome": "exited", "refusal_reason": null,
    "withdrawal_reason": null, "enrollment_start_month": "2026-12-01", "contract_days": 182,
    "renewals": 0, "days_enrolled": 182, "exit_reason": "employment",
    "exit_employment_status": "employed_permanent", "positive_exit": true,
    "childcare_solution": "same_creche", "parent_situation": "job_seeker", "single_parent": true,
    "qpv_resident": false, "child_age_bracket": "1_to_2", "children": 1, "insertion_project_kind": "training",
    "exit_corrected": false, "situation_3_months": "employed_permanent", "situation_6_months": null}),
        )
    }
}

impl utoipa::ToSchema for EvaluationRow {}

/// What the rows need besides the database row.
pub struct Names {
    pub creches: BTreeMap<CrecheId, (String, String)>,
    pub organizations: std::collections::HashMap<OrganizationId, (OrganizationKind, String)>,
}

pub(super) fn hours_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

/// `enrolled`, `exited`, `declined`, `withdrawn`, or `in_progress`.
pub fn outcome(row: &ExportRow) -> &'static str {
    match (row.referral.status, &row.enrollment) {
        (ReferralStatus::Declined, _) => "declined",
        (ReferralStatus::Withdrawn, _) => "withdrawn",
        (_, Some(e)) if e.exit_date.is_some() => "exited",
        (_, Some(_)) => "enrolled",
        _ => "in_progress",
    }
}

/// Whether the first response came by the deadline; `None` while it has
/// not come (or never will: withdrawn unanswered).
pub fn within_deadline(
    first_response_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
) -> Option<bool> {
    match (first_response_at, due_at) {
        (Some(at), Some(due)) => Some(at <= due),
        _ => None,
    }
}

/// The first day of `date`'s month: what the rows say of a date.
fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Days from `from` to `to`, both counted.
fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

pub fn row_cells(row: &ExportRow, key: &PseudonymKey, names: &Names) -> Vec<Cell> {
    use crate::labels as fr;
    let r = &row.referral;
    let e = row.enrollment.as_ref();
    let (creche_name, departement) = names.creches.get(&r.creche_id).cloned().unwrap_or_default();
    let kind = names
        .organizations
        .get(&r.prescriber_organization_id)
        .map_or(Cell::Empty, |(k, _)| {
            Cell::Code(k.as_str().to_owned(), organization_kind(*k).to_owned())
        });
    let received = paris_date(from_db_time(r.received_at));
    let code = |code: &str, label: &str| Cell::Code(code.to_owned(), label.to_owned());
    let reason = |status| {
        Cell::opt(
            (r.status == status)
                .then(|| r.closing_reason.clone())
                .flatten(),
            |c| {
                let label = fr::reason(&c);
                Cell::Code(c, label)
            },
        )
    };
    let outcome = outcome(row);
    let mut cells = vec![
        Cell::Text(key.id(&format!("referral:{}", r.id))),
        Cell::Text(family_id(row, key)),
        kind,
        Cell::text(&r.creche_id),
        Cell::Text(creche_name),
        Cell::Text(departement),
        Cell::Month(month_of(received)),
        Cell::opt(r.first_response_at, |t| {
            Cell::Num(hours_between(r.received_at, t), 1)
        }),
        Cell::opt(
            within_deadline(r.first_response_at, r.sla.due_at),
            Cell::Bool,
        ),
        code(r.status.as_str(), fr::status(r.status)),
        code(outcome, super::french::outcome(outcome)),
        reason(ReferralStatus::Declined),
        reason(ReferralStatus::Withdrawn),
        Cell::opt(e.map(|e| month_of(e.start_date)), Cell::Month),
        Cell::opt(
            e.map(|e| days_between(e.start_date, e.contract_end_date)),
            Cell::Int,
        ),
        Cell::opt(e.map(|e| i64::from(e.renewals)), Cell::Int),
        Cell::opt(
            e.and_then(|e| e.exit_date.map(|x| days_between(e.start_date, x))),
            Cell::Int,
        ),
    ];
    cells.extend(exit_cells(e));
    cells.extend(profile_cells(row, received));
    cells.extend([Cell::opt(
        e.and_then(|e| e.exit_date).map(|_| row.exit_corrected),
        Cell::Bool,
    )]);
    cells.extend(row.outcomes.iter().map(|(_, answer)| {
        Cell::opt(*answer, |s| {
            Cell::Code(s.as_str().to_owned(), fr::outcome(s).to_owned())
        })
    }));
    cells
}

/// The family's profile: situation, single parent, QPV, the child's age,
/// the children, the insertion project.
fn profile_cells(row: &ExportRow, received: NaiveDate) -> [Cell; 6] {
    use crate::labels as fr;
    let r = &row.referral;
    [
        Cell::Code(
            r.parent_situation.as_str().to_owned(),
            fr::situation(r.parent_situation).to_owned(),
        ),
        Cell::Bool(r.single_parent),
        Cell::Bool(r.qpv_resident),
        Cell::opt(child_age_bracket(row, received), |b| {
            let label = age_bracket_label(&b).to_owned();
            Cell::Code(b, label)
        }),
        Cell::Int(row.children),
        Cell::Code(
            r.insertion_project_kind.as_str().to_owned(),
            fr::project(r.insertion_project_kind).to_owned(),
        ),
    ]
}

/// The exit's reason, situation, positive flag and lasting solution.
fn exit_cells(e: Option<&avip_db::referrals::Enrollment>) -> [Cell; 4] {
    use crate::labels as fr;
    [
        Cell::opt(e.and_then(|e| e.exit_reason), |x| {
            Cell::Code(x.as_str().to_owned(), fr::exit_reason(x).to_owned())
        }),
        Cell::opt(e.and_then(|e| e.exit_employment_status), |x| {
            Cell::Code(x.as_str().to_owned(), fr::employment(x).to_owned())
        }),
        Cell::opt(e.and_then(|e| e.positive_exit), Cell::Bool),
        Cell::opt(e.and_then(|e| e.childcare_solution), |x| {
            Cell::Code(x.as_str().to_owned(), fr::childcare(x).to_owned())
        }),
    ]
}

/// Reads every referral of the scope, a chunk at a time, in received order,
/// each chunk on a connection of its own: no connection is held while `f`
/// runs (it may be waiting on a slow reader).
pub fn each_row(
    pool: &Pool,
    scope: &ExportScope,
    f: impl FnMut(&ExportRow) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    in_chunks(
        |after| exports::chunk(&mut *checkout(pool)?, scope, after, CHUNK),
        |row| (row.referral.received_at, row.referral.id.clone()),
        f,
    )
}

/// Pages through `fetch` by keyset, `CHUNK` rows at a time, calling `f` on
/// each row; returns how many there were.
pub(super) fn in_chunks<R>(
    mut fetch: impl FnMut(Option<&(NaiveDateTime, ReferralId)>) -> Result<Vec<R>, QueryError>,
    key: impl Fn(&R) -> (NaiveDateTime, ReferralId),
    mut f: impl FnMut(&R) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut after = None;
    let mut count = 0;
    loop {
        let rows = fetch(after.as_ref())?;
        for row in &rows {
            f(row)?;
            count += 1;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == CHUNK => after = Some(key(last)),
            _ => return Ok(count),
        }
    }
}

/// Loads the names the rows show.
pub fn names(conn: &mut DbConnection) -> Result<Names, QueryError> {
    Ok(Names {
        creches: exports::creches(conn)?
            .into_iter()
            .map(|c| (c.id, (c.name, c.departement)))
            .collect(),
        organizations: exports::organizations(conn)?,
    })
}

/// The referral rows of the scope, written to `out` (see [`each_row`]).
pub fn write_rows<O: Out>(
    pool: &Pool,
    names: &Names,
    scope: &ExportScope,
    key: &PseudonymKey,
    format: Format,
    out: &mut O,
) -> Result<u64, ExportError> {
    let mut writer = Writer::start(format, ROW_COLUMNS, out)?;
    let count = each_row(pool, scope, |row| writer.row(&row_cells(row, key, names)))?;
    writer.finish()?;
    Ok(count)
}
