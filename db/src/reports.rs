//! What a bilan adds to the indicators: the period's referrals counted by
//! the family's profile, their exits by reason and situation, and the
//! parent's situation asked after the exit. Counts only, grouped in the
//! database: no row about a family leaves it.

use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::DbConnection;
use crate::exports::ExportScope;
use crate::model::{EmploymentStatus, ExitReason, OutcomeAt, OutcomeSituation, ParentSituation};
use crate::schema::{exit_outcomes, referral_enrollments, referrals};

/// Referrals of one profile: the parent's situation, single parent, QPV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileCount {
    pub parent_situation: ParentSituation,
    pub single_parent: bool,
    pub qpv_resident: bool,
    pub count: i64,
}

/// Exits of one kind: the reason, the parent's situation then, positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitCount {
    pub reason: Option<ExitReason>,
    pub employment: Option<EmploymentStatus>,
    pub positive: Option<bool>,
    pub count: i64,
}

/// Answers about the parent's situation some months after the exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutcomeCount {
    pub at: OutcomeAt,
    pub situation: OutcomeSituation,
    pub count: i64,
}

/// The scope's referrals received in the period, by profile.
pub fn profiles(conn: &mut DbConnection, scope: &ExportScope) -> QueryResult<Vec<ProfileCount>> {
    let mut query = referrals::table
        .filter(referrals::received_at.ge(scope.from))
        .filter(referrals::received_at.lt(scope.before))
        .group_by((
            referrals::parent_situation,
            referrals::single_parent,
            referrals::qpv_resident,
        ))
        .select((
            referrals::parent_situation,
            referrals::single_parent,
            referrals::qpv_resident,
            count_star(),
        ))
        .into_boxed();
    if let Some(ids) = &scope.creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    let rows: Vec<(ParentSituation, bool, bool, i64)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(parent_situation, single_parent, qpv_resident, count)| ProfileCount {
                parent_situation,
                single_parent,
                qpv_resident,
                count,
            },
        )
        .collect())
}

/// The exits of the scope's referrals received in the period (the
/// indicators' cohort), by reason, situation and verdict.
pub fn exits(conn: &mut DbConnection, scope: &ExportScope) -> QueryResult<Vec<ExitCount>> {
    let mut query = referrals::table
        .inner_join(referral_enrollments::table)
        .filter(referrals::received_at.ge(scope.from))
        .filter(referrals::received_at.lt(scope.before))
        .filter(referral_enrollments::exit_date.is_not_null())
        .group_by((
            referral_enrollments::exit_reason,
            referral_enrollments::exit_employment_status,
            referral_enrollments::positive_exit,
        ))
        .select((
            referral_enrollments::exit_reason,
            referral_enrollments::exit_employment_status,
            referral_enrollments::positive_exit,
            count_star(),
        ))
        .into_boxed();
    if let Some(ids) = &scope.creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    type Row = (
        Option<ExitReason>,
        Option<EmploymentStatus>,
        Option<bool>,
        i64,
    );
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reason, employment, positive, count)| ExitCount {
            reason,
            employment,
            positive,
            count,
        })
        .collect())
}

/// The answers about the parent's situation 3 and 6 months after the exit,
/// of the same exits, by situation.
pub fn outcomes(conn: &mut DbConnection, scope: &ExportScope) -> QueryResult<Vec<OutcomeCount>> {
    let mut query = referrals::table
        .inner_join(referral_enrollments::table)
        .inner_join(exit_outcomes::table)
        .filter(referrals::received_at.ge(scope.from))
        .filter(referrals::received_at.lt(scope.before))
        .filter(referral_enrollments::exit_date.is_not_null())
        .filter(exit_outcomes::situation.is_not_null())
        .group_by((exit_outcomes::at, exit_outcomes::situation))
        .select((
            exit_outcomes::at,
            exit_outcomes::situation.assume_not_null(),
            count_star(),
        ))
        .into_boxed();
    if let Some(ids) = &scope.creches {
        query = query.filter(referrals::creche_id.eq_any(ids.clone()));
    }
    let rows: Vec<(OutcomeAt, OutcomeSituation, i64)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(at, situation, count)| OutcomeCount {
            at,
            situation,
            count,
        })
        .collect())
}
