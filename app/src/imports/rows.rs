//! A row checked as the API checks a referral, plus its history: the
//! referral's fields through [`ReferralDraft::parse`] (as of the day it was
//! received), the dates and the status against each other, the exit as
//! [`ExitRequest::check`] checks it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use avip_db::model::{
    ChildcareSolution, CrecheId, EmploymentStatus, ExitReason, OrganizationId, OrganizationKind,
    ParentSituation, ProjectKind, ReferralStatus,
};

use super::columns::{self, Kind};
use crate::domain::referral::{
    ChildIn, ConsentIn, ExitRequest, NeedsIn, ParentIn, ProjectIn, ReferentIn, ReferralDraft,
    ReferralRequest,
};
use crate::domain::{DomainError, FieldError, Problems, Weekday};

/// The cells of one row by field (those the mapping gives).
pub type Values = BTreeMap<&'static str, String>;

/// What a row is checked against.
pub struct Context {
    pub creche_id: CrecheId,
    /// The département's prescribers: id, name, kind.
    pub prescribers: Vec<(OrganizationId, String, OrganizationKind)>,
    pub today: NaiveDate,
}

/// The referral's life as the spreadsheet tells it.
#[derive(Clone, Debug)]
pub struct History {
    pub received: NaiveDate,
    pub first_response: Option<NaiveDate>,
    pub status: ReferralStatus,
    pub closed: Option<NaiveDate>,
    pub closing_reason: Option<String>,
    pub start: Option<NaiveDate>,
    pub exit: Option<ExitRequest>,
}

/// A row that can be written.
#[derive(Clone, Debug)]
pub struct Checked {
    pub draft: ReferralDraft,
    pub prescriber: OrganizationId,
    pub history: History,
    pub days: Option<Vec<Weekday>>,
    pub reference: Option<String>,
    /// The child as matched against the crèche's referrals and the file's
    /// other rows: first name, birth date, parent's last name.
    pub child: String,
    /// The row's values: an unchanged row is not rewritten.
    pub fingerprint: String,
}

/// The match key of a child: first name, birth date, parent's last name.
pub fn child_key(first: &str, birth: NaiveDate, last: &str) -> String {
    format!(
        "{}|{birth}|{}",
        columns::normal(first),
        columns::normal(last)
    )
}

fn text(values: &Values, id: &str) -> String {
    values
        .get(id)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

fn optional(values: &Values, id: &str) -> Option<String> {
    Some(text(values, id)).filter(|v| !v.is_empty())
}

/// Reads each typed cell; `None` (with the reason) when it cannot be.
struct Reader<'a> {
    values: &'a Values,
    p: Problems,
}

impl Reader<'_> {
    fn date(&mut self, id: &str, required: bool) -> Option<NaiveDate> {
        match optional(self.values, id) {
            None if required => {
                self.p.push(id, "is required");
                None
            }
            None => None,
            Some(v) => self.p.check(id, columns::date(&v)),
        }
    }

    fn choice(&mut self, id: &str, required: bool) -> Option<&'static str> {
        let list = match columns::field(id).map(|f| f.kind) {
            Some(Kind::Choice(list)) => list,
            _ => return None,
        };
        match optional(self.values, id) {
            None if required => {
                self.p.push(id, "is required");
                None
            }
            None => None,
            Some(v) => self.p.check(id, columns::choice(&v, list)),
        }
    }

    fn parsed<T: std::str::FromStr>(&mut self, id: &str, required: bool) -> Option<T> {
        self.choice(id, required).and_then(|code| code.parse().ok())
    }

    fn yes_no(&mut self, id: &str) -> bool {
        self.p
            .check(id, columns::yes_no(&text(self.values, id)))
            .unwrap_or(false)
    }
}

/// Checks one row, naming each invalid cell by its field.
pub fn check(values: &Values, ctx: &Context) -> Result<Checked, Vec<FieldError>> {
    let mut r = Reader {
        values,
        p: Problems::default(),
    };
    let received = r.date("received_on", true);
    if received.is_some_and(|d| d > ctx.today) {
        r.p.push("received_on", "is in the future");
    }
    let birth = r.date("child.birth_date", true);
    let desired = r.date("needs.desired_start_date", false);
    let consent = r.date("consent.date", false);
    let situation = r.parsed("parent.situation", true);
    let project = r.parsed("insertion_project.kind", true);
    let contact = r.parsed("parent.contact_preference", false);
    let single_parent = r.yes_no("parent.single_parent");
    let qpv_resident = r.yes_no("parent.qpv_resident");
    let days =
        optional(values, "needs.days").and_then(|v| r.p.check("needs.days", columns::days(&v)));
    let prescriber = prescriber(values, ctx, &mut r.p);
    let history = received.and_then(|received| history(&mut r, received, ctx.today));
    // The API's own checks run even when a typed cell failed (a stand-in
    // in its place), so that every invalid cell of the row is named.
    let fallback = received.unwrap_or(ctx.today);
    let typed = Typed {
        birth: birth.unwrap_or(fallback),
        desired: desired.unwrap_or(fallback),
        consent: consent.unwrap_or(fallback),
        situation: situation.unwrap_or(ParentSituation::Other),
        project: project.unwrap_or(ProjectKind::Other),
        contact,
        single_parent,
        qpv_resident,
        days: days.clone(),
    };
    let request = request(values, ctx, typed);
    let draft = match ReferralDraft::parse(request, fallback) {
        Ok(draft) => Some(draft),
        Err(DomainError::Invalid(errors)) => {
            for e in errors.into_iter().map(renamed) {
                if !r.p.0.iter().any(|known| known.field == e.field) {
                    r.p.0.push(e);
                }
            }
            None
        }
        Err(other) => {
            r.p.push("received_on", other.to_string());
            None
        }
    };
    let (Some(draft), Some(_), Some(_), Some(_), Some(prescriber), Some(history), true) = (
        draft,
        birth,
        situation,
        project,
        prescriber,
        history,
        r.p.0.is_empty(),
    ) else {
        return Err(r.p.0);
    };
    let (name, birth) = draft.children[0].clone();
    Ok(Checked {
        child: child_key(&name, birth, &draft.parent_last_name),
        reference: optional(values, "reference"),
        fingerprint: fingerprint(values),
        draft,
        prescriber,
        history,
        days: days.filter(|d| !d.is_empty()),
    })
}

/// The typed cells of a row (stand-ins where a cell failed).
struct Typed {
    birth: NaiveDate,
    desired: NaiveDate,
    consent: NaiveDate,
    situation: ParentSituation,
    project: ProjectKind,
    contact: Option<avip_db::model::ContactPreference>,
    single_parent: bool,
    qpv_resident: bool,
    days: Option<Vec<Weekday>>,
}

/// The row as the API's request for the same referral.
fn request(values: &Values, ctx: &Context, t: Typed) -> ReferralRequest {
    ReferralRequest {
        creche_id: ctx.creche_id.to_string(),
        referent: ReferentIn {
            name: text(values, "referent.name"),
            email: text(values, "referent.email"),
            phone: optional(values, "referent.phone").map(|v| columns::phone(&v)),
        },
        parent: ParentIn {
            first_name: text(values, "parent.first_name"),
            last_name: text(values, "parent.last_name"),
            phone: optional(values, "parent.phone").map(|v| columns::phone(&v)),
            email: optional(values, "parent.email"),
            postal_code: text(values, "parent.postal_code"),
            commune: text(values, "parent.commune"),
            situation: t.situation,
            single_parent: t.single_parent,
            qpv_resident: t.qpv_resident,
            france_travail_id: optional(values, "parent.france_travail_id"),
            contact_preference: t.contact,
        },
        children: vec![ChildIn {
            first_name: text(values, "child.first_name"),
            birth_date: t.birth,
        }],
        needs: NeedsIn {
            desired_start_date: t.desired,
            days_per_week: None,
            days: t.days.filter(|d| !d.is_empty()),
            hours: None,
            atypical_hours: false,
            notes: None,
        },
        insertion_project: ProjectIn {
            kind: t.project,
            description: None,
        },
        consent: ConsentIn {
            given: true,
            date: t.consent,
        },
    }
}

/// The API's field names as the import names them (one child per row).
fn renamed(mut e: FieldError) -> FieldError {
    e.field = match e.field.as_str() {
        "children" | "children[0].birth_date" => "child.birth_date".into(),
        "children[0].first_name" => "child.first_name".into(),
        "needs.days_per_week" => "needs.days".into(),
        "consent.given" => "consent.date".into(),
        other => other.to_owned(),
    };
    e
}

fn prescriber(values: &Values, ctx: &Context, p: &mut Problems) -> Option<OrganizationId> {
    let Some(name) = optional(values, "prescriber") else {
        p.push("prescriber", "is required");
        return None;
    };
    let wanted = columns::normal(&name);
    if let Some((id, _, _)) = ctx
        .prescribers
        .iter()
        .find(|(_, n, _)| columns::normal(n) == wanted)
    {
        return Some(id.clone());
    }
    let of_kind: Vec<_> = ctx
        .prescribers
        .iter()
        .filter(|(_, _, k)| {
            columns::normal(crate::exports::french::organization_kind(*k)) == wanted
                || k.as_str().replace('_', " ") == wanted
        })
        .collect();
    match of_kind[..] {
        [(id, _, _)] => Some(id.clone()),
        [] => {
            p.push(
                "prescriber",
                "names no prescriber organisation of the département",
            );
            None
        }
        _ => {
            p.push("prescriber", "names a kind with several organisations in the département: write the organisation's name");
            None
        }
    }
}

/// The dates and the status, checked against each other.
fn history(r: &mut Reader<'_>, received: NaiveDate, today: NaiveDate) -> Option<History> {
    use ReferralStatus::*;
    let first = r.date("first_response_on", false);
    let closed = r.date("closed_on", false);
    let start = r.date("enrollment.start_date", false);
    let exit_date = r.date("exit.date", false);
    let given: Option<ReferralStatus> = r.parsed("status", false);
    let closing_reason = r.choice("closing_reason", false).map(str::to_owned);
    let status = given.unwrap_or(match (exit_date, start, first) {
        (Some(_), _, _) => Exited,
        (None, Some(_), _) => Enrolled,
        (None, None, Some(_)) => Contacted,
        _ => Received,
    });
    for (id, day) in [
        ("first_response_on", first),
        ("closed_on", closed),
        ("enrollment.start_date", start),
    ] {
        if day.is_some_and(|d| d < received) {
            r.p.push(id, "is before the referral was received");
        }
        if day.is_some_and(|d| d > today) && id != "enrollment.start_date" {
            r.p.push(id, "is in the future");
        }
    }
    required_by(r, status, (first, start, exit_date));
    closing_fits(r, status, closing_reason.as_deref());
    if status != Exited && exit_date.is_some() {
        r.p.push("exit.date", "is only for a child who left (status Sortie)");
    }
    let exit = if status == Exited {
        exit(r, exit_date, start, today)
    } else {
        None
    };
    let closed = match status {
        Declined | Withdrawn => closed.or(first).or(Some(received)),
        Exited => exit.as_ref().map(|e| e.date),
        _ => None,
    };
    if !r.p.0.is_empty() {
        return None;
    }
    Some(History {
        received,
        first_response: match status {
            Declined => first.or(closed),
            _ => first,
        },
        status,
        closed,
        closing_reason,
        start,
        exit,
    })
}

/// What a status needs of the dates, and what it forbids.
fn required_by(
    r: &mut Reader<'_>,
    status: ReferralStatus,
    (first, start, exit_date): (Option<NaiveDate>, Option<NaiveDate>, Option<NaiveDate>),
) {
    use ReferralStatus::*;
    let needs = |id: &'static str, present: bool, r: &mut Reader<'_>| {
        if !present {
            r.p.push(id, "is required for this status");
        }
    };
    match status {
        Received => {
            for (id, present) in [
                ("first_response_on", first.is_some()),
                ("enrollment.start_date", start.is_some()),
                ("exit.date", exit_date.is_some()),
            ] {
                if present {
                    r.p.push(
                        id,
                        "must be empty for a referral still waiting for its first response",
                    );
                }
            }
        }
        Contacted | Offered | Waitlisted => needs("first_response_on", first.is_some(), r),
        Enrolled | Exited => {
            needs("first_response_on", first.is_some(), r);
            needs("enrollment.start_date", start.is_some(), r);
        }
        Declined | Withdrawn => {}
    }
}

/// A closing reason is a refusal's for a declined referral, a
/// withdrawal's for a withdrawn one, as the transitions take them.
fn closing_fits(r: &mut Reader<'_>, status: ReferralStatus, reason: Option<&str>) {
    use avip_db::model::{DeclineReason, WithdrawReason};
    let Some(reason) = reason else {
        return;
    };
    let fits = match status {
        ReferralStatus::Declined => reason.parse::<DeclineReason>().is_ok(),
        ReferralStatus::Withdrawn => reason.parse::<WithdrawReason>().is_ok(),
        _ => false,
    };
    if !fits {
        r.p.push(
            "closing_reason",
            "does not fit the status: a refusal's reason for Refusée, a withdrawal's for Retirée",
        );
    }
}

fn exit(
    r: &mut Reader<'_>,
    date: Option<NaiveDate>,
    start: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<ExitRequest> {
    let reason: Option<ExitReason> = r.parsed("exit.reason", true);
    let employment: Option<EmploymentStatus> = r.parsed("exit.employment_status", true);
    let solution: Option<ChildcareSolution> = r.parsed("exit.childcare_solution", true);
    let Some(date) = date else {
        r.p.push("exit.date", "is required for this status");
        return None;
    };
    if date > today {
        r.p.push(
            "exit.date",
            "is in the future: plan a coming exit in the service",
        );
        return None;
    }
    let request = ExitRequest {
        date,
        reason: reason?,
        employment_status: employment?,
        positive: None,
        childcare_solution: solution?,
        note: None,
    };
    match request.check(start?, today) {
        Ok(request) => Some(request),
        Err(DomainError::Invalid(errors)) => {
            for e in errors {
                r.p.push(format!("exit.{}", e.field), e.message);
            }
            None
        }
        Err(_) => None,
    }
}

fn fingerprint(values: &Values) -> String {
    let mut hash = Sha256::new();
    for (id, value) in values {
        hash.update(id.as_bytes());
        hash.update([0]);
        hash.update(value.trim().as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
