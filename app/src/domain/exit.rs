//! Corrections of a recorded exit: what may change, and the rules the
//! corrected exit keeps (those of [`ExitRequest`]).

use avip_db::model::{ChildcareSolution, EmploymentStatus, ExitReason};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::referral::ExitRequest;
use crate::domain::{self, DomainError, Problems};

/// How long after the exit date a coordinator may correct it; later, an
/// administrator only.
pub const CORRECTION_DAYS: i64 = 60;

/// `POST /api/v1/referrals/{id}/exit/corrections`: the fields that change,
/// and why.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"employment_status": "employed_permanent", "reason": "employment",
    "correction_reason": "le CDI a été signé avant la sortie, situation saisie par erreur"}))]
pub struct ExitCorrection {
    /// Up to today, not before the enrollment started.
    pub date: Option<NaiveDate>,
    pub reason: Option<ExitReason>,
    pub employment_status: Option<EmploymentStatus>,
    /// Derived from `employment_status`, as for the exit; a value that
    /// contradicts it is refused.
    pub positive: Option<bool>,
    pub childcare_solution: Option<ChildcareSolution>,
    /// Why the exit is corrected: kept on the timeline with before and after.
    #[schema(min_length = 1, max_length = 500)]
    pub correction_reason: String,
}

/// A correction, checked: the exit as it now reads, and why.
#[derive(Debug)]
pub struct CheckedCorrection {
    pub exit: ExitRequest,
    pub why: String,
}

impl ExitCorrection {
    /// `current`: the exit as recorded; `start`: the enrollment's start.
    pub fn check(
        self,
        current: &ExitRequest,
        start: NaiveDate,
        today: NaiveDate,
    ) -> Result<CheckedCorrection, DomainError> {
        let mut p = Problems::default();
        let why = p.check(
            "correction_reason",
            domain::text(&self.correction_reason, 500),
        );
        if self.date.is_some_and(|d| d > today) {
            p.push(
                "date",
                "a corrected exit is dated up to today: plan a future exit before it is recorded",
            );
        }
        let exit = ExitRequest {
            date: self.date.unwrap_or(current.date),
            reason: self.reason.unwrap_or(current.reason),
            employment_status: self.employment_status.unwrap_or(current.employment_status),
            positive: self.positive,
            childcare_solution: self
                .childcare_solution
                .unwrap_or(current.childcare_solution),
            note: current.note.clone(),
        };
        let same = exit.date == current.date
            && exit.reason == current.reason
            && exit.employment_status == current.employment_status
            && exit.childcare_solution == current.childcare_solution;
        if same {
            p.push(
                "correction_reason",
                "nothing to correct: give a date, reason, employment_status or childcare_solution that differs from the recorded exit",
            );
        }
        let checked = match exit.check(start, today) {
            Ok(exit) => Some(exit),
            Err(DomainError::Invalid(errors)) => {
                for e in errors {
                    p.push(e.field, e.message);
                }
                None
            }
            Err(other) => return Err(other),
        };
        p.into_result()?;
        match (checked, why) {
            (Some(exit), Some(why)) => Ok(CheckedCorrection { exit, why }),
            _ => Err(DomainError::Invalid(Vec::new())),
        }
    }
}
