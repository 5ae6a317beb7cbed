//! The referral's rules as plain functions on plain types: what a valid
//! intake is, the lifecycle of docs/product.md §3, and what each step requires.
//! Requests are parsed here into values that cannot hold invalid data.

use avip_db::model::{
    ChildcareSolution, ContactPreference, DeclineReason, EmploymentStatus, ExitReason,
    ParentSituation, Participant, ProjectKind, ReferralStatus, TransferReason, WithdrawReason,
};
use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::{self, DomainError, Problems, Weekday};

pub const MAX_CHILDREN: usize = 6;
const MAX_FREE_TEXT: usize = 2000;

/// The regions whose numbers a French crèche receives: metropolitan
/// France and the overseas départements (their own country codes).
const FRENCH_REGIONS: [phonenumber::country::Id; 6] = {
    use phonenumber::country::Id;
    [Id::FR, Id::RE, Id::YT, Id::GP, Id::MQ, Id::GF]
};

/// A French phone number as people write it: ten digits led by 0 (not
/// 00), or +33 / 0033 and nine digits (`+33 (0)6…` too), or an overseas
/// département's own code (+262, +590, +594, +596, +269) and nine digits;
/// spaces, dots, dashes and brackets anywhere (the OpenAPI pattern says
/// the same). Stored in E.164, as libphonenumber's metadata (the
/// `phonenumber` crate) places it: a national number is tried in
/// metropolitan France, then in each overseas département
/// (`0692 12 34 56` → `+262692123456`).
pub fn phone(value: &str) -> Result<String, String> {
    domain::at_most(value, 30)?;
    let written = french_digits(value).ok_or_else(|| {
        "is not a French phone number (e.g. 06 12 34 56 78 or +33 6 12 34 56 78)".to_owned()
    })?;
    let region = |id: phonenumber::country::Id| {
        phonenumber::parse(Some(id), &written)
            .ok()
            .filter(|n| n.is_valid())
    };
    let number = FRENCH_REGIONS
        .iter()
        .find_map(|id| region(*id))
        .or_else(|| phonenumber::parse(Some(phonenumber::country::Id::FR), &written).ok());
    Ok(number.map_or(written, |n| {
        n.format().mode(phonenumber::Mode::E164).to_string()
    }))
}

/// The number's digits as written (`0612345678`, `+262692123456`), or
/// `None` when it is no French number.
fn french_digits(value: &str) -> Option<String> {
    let compact: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let written = if let Some(rest) = compact
        .strip_prefix("+33")
        .or_else(|| compact.strip_prefix("0033"))
    {
        let rest = rest.strip_prefix('0').unwrap_or(rest);
        (rest.len() == 9 && digits(rest)).then(|| format!("0{rest}"))
    } else if let Some(rest) = compact.strip_prefix('+') {
        let overseas = ["262", "590", "594", "596", "269"];
        overseas
            .iter()
            .find(|code| rest.starts_with(*code))
            .and_then(|code| {
                let number = &rest[code.len()..];
                (number.len() == 9 && digits(number)).then(|| format!("+{code}{number}"))
            })
    } else {
        (compact.len() == 10 && digits(&compact) && compact.starts_with('0')).then_some(compact)
    };
    written.filter(|n| !n.starts_with("00"))
}

fn french_number(stored: &str) -> Option<phonenumber::PhoneNumber> {
    phonenumber::parse(None, stored).ok().filter(|n| {
        n.is_valid()
            && n.country()
                .id()
                .is_some_and(|id| FRENCH_REGIONS.contains(&id))
    })
}

/// A stored French number in the ten digits people dial in France
/// (`+33612345678` → `0612345678`, `+262692123456` → `0692123456`).
pub fn national_digits(stored: &str) -> Option<String> {
    ["+33", "+262", "+590", "+594", "+596"]
        .iter()
        .find_map(|code| stored.strip_prefix(code))
        .filter(|rest| rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_digit()))
        .map(|rest| format!("0{rest}"))
}

/// A stored number as people read it: `06 12 34 56 78`.
pub fn phone_as_written(stored: &str) -> String {
    match national_digits(stored) {
        Some(digits) => digits
            .as_bytes()
            .chunks(2)
            .map(|pair| String::from_utf8_lossy(pair).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        None => stored.to_owned(),
    }
}

/// Loads libphonenumber's metadata now (it is read on first use, which
/// takes a moment).
pub fn load_phone_metadata() {
    let _ = phone("06 12 34 56 78");
}

/// Whether a stored number (E.164) reaches a mobile phone, so an SMS.
pub fn is_mobile(stored: &str) -> bool {
    french_number(stored).is_some_and(|n| {
        matches!(
            n.number_type(&phonenumber::metadata::DATABASE),
            phonenumber::Type::Mobile | phonenumber::Type::FixedLineOrMobile
        )
    })
}

/// A France Travail identifier: seven digits and a digit or capital letter.
pub fn france_travail_id(value: &str) -> Result<String, String> {
    domain::at_most(value, 20)?;
    let value = value.trim().to_ascii_uppercase();
    let bytes = value.as_bytes();
    if bytes.len() == 8
        && bytes[..7].iter().all(u8::is_ascii_digit)
        && bytes[7].is_ascii_alphanumeric()
    {
        Ok(value)
    } else {
        Err("is not a France Travail identifier (seven digits and a letter or digit, e.g. 1234567A)".into())
    }
}

/// Optional free text: trimmed, empty means absent.
fn free_text(value: Option<String>, field: &str, problems: &mut Problems) -> Option<String> {
    let value = value?;
    if value.trim().is_empty() {
        return None;
    }
    problems.check(field, domain::text(&value, MAX_FREE_TEXT))
}

/// When a child born on `birth` must enter école maternelle: the September
/// of the year they turn three.
pub fn school_entry(birth: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(birth.year() + 3, 9, 1)
}

// ----- Intake -----

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReferentIn {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 30)]
    pub phone: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ParentIn {
    #[schema(max_length = 100)]
    pub first_name: String,
    #[schema(max_length = 100)]
    pub last_name: String,
    /// A phone or an e-mail is required, so that the crèche can answer.
    #[schema(max_length = 30)]
    pub phone: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 5)]
    pub postal_code: String,
    #[schema(max_length = 200)]
    pub commune: String,
    pub situation: ParentSituation,
    #[serde(default)]
    pub single_parent: bool,
    #[serde(default)]
    pub qpv_resident: bool,
    #[schema(max_length = 20)]
    pub france_travail_id: Option<String>,
    /// How the family wants to be reached: `sms` (needs a mobile phone),
    /// `email` (needs an e-mail), `phone_call` only, or through its
    /// `referent`. Without it the crèche sends the family no message.
    #[serde(default)]
    pub contact_preference: Option<ContactPreference>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ChildIn {
    #[schema(max_length = 100)]
    pub first_name: String,
    /// `YYYY-MM-DD`; the child must be younger than the age of school entry
    /// at the desired start date.
    pub birth_date: NaiveDate,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct NeedsIn {
    pub desired_start_date: NaiveDate,
    /// 1 to 6. With `days`, derived from them (both given must agree).
    pub days_per_week: Option<i32>,
    /// The weekdays the family needs the crèche, e.g. `["mon", "tue"]`:
    /// what availability and matching check. Each day once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 7)]
    pub days: Option<Vec<Weekday>>,
    /// The hours the family needs (`HH:MM`); `atypical_hours` is then
    /// derived: before 07:00 or after 19:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<HoursIn>,
    /// Without `hours`, as given; with them, derived from them.
    #[serde(default)]
    pub atypical_hours: bool,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ProjectIn {
    pub kind: ProjectKind,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// Must be `true`: without the family's consent nothing is stored.
    pub given: bool,
    pub date: NaiveDate,
}

/// A referral as a prescriber posts it (docs/api.md shows the body).
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003",
    "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "0494000000"},
    "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "0612345678",
               "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
               "situation": "job_seeker", "single_parent": true, "qpv_resident": false,
               "france_travail_id": "1234567A"},
    "children": [{"first_name": "Yanis", "birth_date": "2025-03-14"}],
    "needs": {"desired_start_date": "2026-12-01", "days": ["mon", "tue", "thu", "fri"],
              "hours": {"from": "08:30", "to": "17:30"}, "notes": "formation de 9h à 17h"},
    "insertion_project": {"kind": "training", "description": "CAP petite enfance"},
    "consent": {"given": true, "date": "2026-11-20"}}))]
pub struct ReferralRequest {
    #[schema(format = Uuid)]
    pub creche_id: String,
    pub referent: ReferentIn,
    pub parent: ParentIn,
    #[schema(min_items = 1, max_items = 6)]
    pub children: Vec<ChildIn>,
    pub needs: NeedsIn,
    pub insertion_project: ProjectIn,
    pub consent: ConsentIn,
}

/// A referral as posted, every field checked.
#[derive(Clone, Debug)]
pub struct ReferralDraft {
    pub creche_id: avip_db::model::CrecheId,
    pub referent_name: String,
    pub referent_email: String,
    pub referent_phone: Option<String>,
    pub parent_first_name: String,
    pub parent_last_name: String,
    pub parent_phone: Option<String>,
    pub parent_email: Option<String>,
    pub parent_contact: Option<ContactPreference>,
    pub parent_postal_code: String,
    pub parent_commune: String,
    pub situation: ParentSituation,
    pub single_parent: bool,
    pub qpv_resident: bool,
    pub france_travail_id: Option<String>,
    pub children: Vec<(String, NaiveDate)>,
    pub desired_start_date: NaiveDate,
    pub days_per_week: Option<i32>,
    /// The weekdays needed, as a mask (Monday 1 … Sunday 64).
    pub days: Option<i32>,
    pub hours: Option<HoursIn>,
    pub atypical_hours: bool,
    pub needs_notes: Option<String>,
    pub project_kind: ProjectKind,
    pub project_description: Option<String>,
    pub consent_date: NaiveDate,
    /// SHA-256 of the request as parsed: the same body under the same
    /// `Idempotency-Key` is recognised, another one refused.
    pub fingerprint: String,
}

impl ReferralDraft {
    /// Checks every field, naming each invalid one; `today` is the date in Paris.
    pub fn parse(req: ReferralRequest, today: NaiveDate) -> Result<ReferralDraft, DomainError> {
        let fingerprint = fingerprint(&req);
        let mut p = Problems::default();
        let creche_id = p.check(
            "creche_id",
            avip_db::model::CrecheId::parse(&req.creche_id).ok_or_else(|| "is not an id".into()),
        );
        let referent_name = p.check("referent.name", domain::text(&req.referent.name, 200));
        let referent_email = p.check("referent.email", domain::email(&req.referent.email));
        let referent_phone = req
            .referent
            .phone
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| p.check("referent.phone", phone(&v)));
        let parent = req.parent;
        let parent_first_name = p.check("parent.first_name", domain::text(&parent.first_name, 100));
        let parent_last_name = p.check("parent.last_name", domain::text(&parent.last_name, 100));
        let (parent_phone, parent_email) = parent_contact(&parent, &mut p);
        let parent_postal_code = p.check(
            "parent.postal_code",
            domain::postal_code(&parent.postal_code),
        );
        let parent_commune = p.check("parent.commune", domain::text(&parent.commune, 200));
        let france_travail_id = parent
            .france_travail_id
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| p.check("parent.france_travail_id", france_travail_id(&v)));

        let needs = req.needs;
        let start = needs.desired_start_date;
        check_needs(&needs, today, &mut p);
        let week = the_week(&needs, &mut p);
        let needs_notes = free_text(needs.notes, "needs.notes", &mut p);

        let children = checked_children(&req.children, start, today, &mut p);
        let project_description = free_text(
            req.insertion_project.description,
            "insertion_project.description",
            &mut p,
        );
        check_consent(&req.consent, today, &mut p);
        p.into_result()?;
        let missing = || DomainError::Unexpected(anyhow::anyhow!("a checked field is missing"));
        Ok(ReferralDraft {
            creche_id: creche_id.ok_or_else(missing)?,
            referent_name: referent_name.ok_or_else(missing)?,
            referent_email: referent_email.ok_or_else(missing)?,
            referent_phone,
            parent_first_name: parent_first_name.ok_or_else(missing)?,
            parent_last_name: parent_last_name.ok_or_else(missing)?,
            parent_phone,
            parent_email,
            parent_contact: parent.contact_preference,
            parent_postal_code: parent_postal_code.ok_or_else(missing)?,
            parent_commune: parent_commune.ok_or_else(missing)?,
            situation: parent.situation,
            single_parent: parent.single_parent,
            qpv_resident: parent.qpv_resident,
            france_travail_id,
            children,
            desired_start_date: start,
            days_per_week: week.days_per_week,
            days: week.days,
            atypical_hours: week.atypical_hours,
            hours: week.hours,
            needs_notes,
            project_kind: req.insertion_project.kind,
            project_description,
            consent_date: req.consent.date,
            fingerprint,
        })
    }

    /// One digest per child (first name, birth date, parent's last name,
    /// normalised), so that the same child cannot hold two active referrals
    /// at one crèche. The digest, not the names, is what the claim stores.
    pub fn child_keys(&self) -> Vec<String> {
        let normal = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        self.children
            .iter()
            .map(|(name, birth)| {
                let text = format!(
                    "avip-child-v1|{}|{birth}|{}",
                    normal(name),
                    normal(&self.parent_last_name)
                );
                hex(&Sha256::digest(text.as_bytes()))
            })
            .collect()
    }
}

/// What tells a replay from another request under the same key.
fn fingerprint(req: &ReferralRequest) -> String {
    hex(&Sha256::digest(serde_json::to_vec(req).unwrap_or_default()))
}

/// The children, each of whom must be born and not yet of school age at
/// the desired start.
fn checked_children(
    given: &[ChildIn],
    start: NaiveDate,
    today: NaiveDate,
    p: &mut Problems,
) -> Vec<(String, NaiveDate)> {
    if given.is_empty() {
        p.push("children", "at least one child is required");
    } else if given.len() > MAX_CHILDREN {
        p.push(
            "children",
            format!("at most {MAX_CHILDREN} children per referral"),
        );
    }
    let mut children = Vec::with_capacity(given.len());
    for (i, child) in given.iter().enumerate().take(MAX_CHILDREN) {
        let name = p.check(
            &format!("children[{i}].first_name"),
            domain::text(&child.first_name, 100),
        );
        let birth = child.birth_date;
        let field = format!("children[{i}].birth_date");
        if birth > today {
            p.push(&field, "is in the future");
        } else if school_entry(birth).is_none_or(|entry| start >= entry) {
            p.push(
                &field,
                "the child will be of school age (école maternelle) at the desired start date",
            );
        } else if let Some(name) = name {
            children.push((name, birth));
        }
    }
    children
}

/// The family's consent: given, dated within the last year.
fn check_consent(consent: &ConsentIn, today: NaiveDate, p: &mut Problems) {
    if !consent.given {
        p.push(
            "consent.given",
            "the family's consent to the data sharing is required",
        );
    }
    if consent.date > today {
        p.push("consent.date", "is in the future");
    } else if consent.date < today - chrono::Duration::days(366) {
        p.push("consent.date", "is more than a year old");
    }
}

/// The start wished for (within a month past and two years ahead) and the
/// days a week.
fn check_needs(needs: &NeedsIn, today: NaiveDate, p: &mut Problems) {
    let start = needs.desired_start_date;
    if start < today - chrono::Duration::days(31) {
        p.push(
            "needs.desired_start_date",
            "is more than a month in the past",
        );
    } else if start > today + chrono::Duration::days(2 * 366) {
        p.push("needs.desired_start_date", "is more than two years ahead");
    }
    if let Some(days) = needs.days_per_week
        && !(1..=6).contains(&days)
    {
        p.push("needs.days_per_week", "must be between 1 and 6");
    }
}

/// The family's week as the referral keeps it.
struct Week {
    days_per_week: Option<i32>,
    days: Option<i32>,
    hours: Option<HoursIn>,
    atypical_hours: bool,
}

/// The days (each once; the number a week derived from them, and refused
/// when both are given and disagree) and the hours (atypical derived).
fn the_week(needs: &NeedsIn, p: &mut Problems) -> Week {
    let mut days = None;
    let mut days_per_week = needs.days_per_week;
    if let Some(list) = &needs.days {
        let before = p.0.len();
        check_days_at("needs.days", list, p);
        if p.0.len() == before {
            let count = i32::try_from(list.len()).unwrap_or(i32::MAX);
            if needs.days_per_week.is_some_and(|n| n != count) {
                p.push("needs.days", "disagrees with needs.days_per_week");
                p.push("needs.days_per_week", "disagrees with needs.days");
            }
            days = Some(crate::workflow::calendar::mask(list));
            days_per_week = Some(count);
        }
    }
    let before = p.0.len();
    check_hours_at("needs.hours", &needs.hours, p);
    let hours = needs.hours.clone().filter(|_| p.0.len() == before);
    let atypical_hours = match &hours {
        Some(h) => h.from.as_str() < "07:00" || h.to.as_str() > "19:00",
        None => needs.atypical_hours,
    };
    Week {
        days_per_week,
        days,
        hours,
        atypical_hours,
    }
}

/// The parent's phone and e-mail, checked: one at least, and what the
/// contact preference needs.
fn parent_contact(parent: &ParentIn, p: &mut Problems) -> (Option<String>, Option<String>) {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let phone = given(&parent.phone).and_then(|v| p.check("parent.phone", phone(&v)));
    let email = given(&parent.email).and_then(|v| p.check("parent.email", domain::email(&v)));
    require_contact(phone.as_deref(), email.as_deref(), p);
    if let Some(preference) = parent.contact_preference
        && let Err(why) = reachable(preference, phone.as_deref(), email.as_deref())
    {
        p.push("parent.contact_preference", why);
    }
    (phone, email)
}

/// Whether the family can be reached as it asked: an SMS needs a mobile
/// phone, an e-mail an address.
pub fn reachable(
    preference: ContactPreference,
    phone: Option<&str>,
    email: Option<&str>,
) -> Result<(), &'static str> {
    match preference {
        ContactPreference::Sms if !phone.is_some_and(is_mobile) => {
            Err("sms needs the parent's mobile phone number")
        }
        ContactPreference::Email if email.is_none() => Err("email needs the parent's e-mail"),
        _ => Ok(()),
    }
}

/// A family the crèche can answer: a phone or an e-mail, unless one given
/// was refused already.
fn require_contact(phone: Option<&str>, email: Option<&str>, p: &mut Problems) {
    if phone.is_none()
        && email.is_none()
        && p.0
            .iter()
            .all(|e| !e.field.starts_with("parent.phone") && !e.field.starts_with("parent.email"))
    {
        p.push(
            "parent.phone",
            "give a phone number or an e-mail, so that the crèche can answer the family",
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An `Idempotency-Key` header: 1 to 255 visible ASCII characters.
pub fn idempotency_key(value: &str) -> Result<String, String> {
    if !value.is_empty() && value.len() <= 255 && value.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err("must be 1 to 255 visible ASCII characters".into())
    }
}

// ----- Lifecycle -----

/// docs/product.md §3: where a referral may go next from `from`.
pub fn allowed_next(from: ReferralStatus) -> &'static [ReferralStatus] {
    use ReferralStatus::*;
    match from {
        Received => &[Contacted, Offered, Waitlisted, Declined, Withdrawn],
        Contacted => &[Offered, Waitlisted, Declined, Withdrawn],
        Waitlisted => &[Offered, Declined, Withdrawn],
        // Offered again (a new hold) or waitlisted: what an offer that
        // expired without an answer needs.
        Offered => &[Enrolled, Offered, Waitlisted, Declined, Withdrawn],
        Enrolled => &[Exited],
        Declined | Withdrawn | Exited => &[],
    }
}

/// How a move is asked for: most through `/transitions`; `enrolled` only
/// through the enrollment endpoint and `exited` only through the exit one,
/// because they carry a contract or an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Transitions,
    Enrollment,
    Exit,
}

impl Via {
    /// The step through which a referral becomes `to`.
    pub fn to(to: ReferralStatus) -> Via {
        match to {
            ReferralStatus::Enrolled => Via::Enrollment,
            ReferralStatus::Exited => Via::Exit,
            _ => Via::Transitions,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Via::Transitions => "transitions",
            Via::Enrollment => "enrollment",
            Via::Exit => "exit",
        }
    }
}

/// What a permitted move implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: ReferralStatus,
    pub to: ReferralStatus,
    /// The first move out of `received` (except `withdrawn`) answers the family.
    pub first_response: bool,
}

/// A move the lifecycle does not allow (the answer lists the allowed next states).
pub fn invalid_transition(from: ReferralStatus, to: ReferralStatus, detail: String) -> DomainError {
    DomainError::InvalidTransition {
        current: from,
        requested: to,
        detail,
        own_step: false,
    }
}

pub fn plan_move(from: ReferralStatus, to: ReferralStatus, via: Via) -> Result<Move, DomainError> {
    if !allowed_next(from).contains(&to) {
        let detail = if from.is_closed() {
            format!("the referral is {from}: it is closed")
        } else {
            format!("a referral that is {from} cannot become {to}")
        };
        return Err(invalid_transition(from, to, detail));
    }
    let expected = Via::to(to);
    if via != expected {
        return Err(DomainError::InvalidTransition {
            current: from,
            requested: to,
            detail: format!("to become {to}, use the {} step", expected.name()),
            own_step: true,
        });
    }
    Ok(Move {
        from,
        to,
        first_response: from == ReferralStatus::Received && to != ReferralStatus::Withdrawn,
    })
}

/// `POST /api/v1/referrals/{id}/transitions`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "declined", "reason": "no_place_matching_hours",
    "note": "horaires de formation incompatibles avec l'ouverture"}))]
pub struct TransitionRequest {
    pub to: ReferralStatus,
    /// Required for `declined` (a decline reason) and `withdrawn` (a withdraw
    /// reason); refused otherwise.
    #[schema(value_type = Option<TransitionReason>)]
    pub reason: Option<String>,
    /// Free text; required when the reason is `other`.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// With `offered`: offer even where no AVIP place is free on a weekday
    /// the family needs (otherwise `409 no_free_place`).
    #[serde(default)]
    pub force: bool,
    /// Required with `force`; it goes on the timeline.
    #[schema(max_length = 2000)]
    pub force_reason: Option<String>,
}

/// The reasons a move may give, for the OpenAPI document: a decline
/// reason with `declined`, a withdraw reason with `withdrawn`.
pub struct TransitionReason;

impl utoipa::PartialSchema for TransitionReason {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let mut values: Vec<&str> = DeclineReason::ALL.iter().map(|r| r.as_str()).collect();
        for r in WithdrawReason::ALL {
            if !values.contains(&r.as_str()) {
                values.push(r.as_str());
            }
        }
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(values))
            .description(Some(
                "With `declined`: a `DeclineReason`; with `withdrawn`: a `WithdrawReason`.",
            ))
            .into()
    }
}

impl ToSchema for TransitionReason {}

/// A transition request, checked.
#[derive(Clone, Debug)]
pub struct TransitionDraft {
    pub to: ReferralStatus,
    pub reason: Option<String>,
    pub note: Option<String>,
    /// Why an offer goes over the free places, when it does.
    pub force_reason: Option<String>,
}

impl TransitionDraft {
    pub fn parse(req: TransitionRequest) -> Result<TransitionDraft, DomainError> {
        let mut p = Problems::default();
        let note = free_text(req.note, "note", &mut p);
        let reason = match (req.to, req.reason.as_deref().map(str::trim)) {
            (ReferralStatus::Declined, Some(r)) => p
                .check("reason", r.parse::<DeclineReason>())
                .map(|r| r.as_str().to_owned()),
            (ReferralStatus::Withdrawn, Some(r)) => p
                .check("reason", r.parse::<WithdrawReason>())
                .map(|r| r.as_str().to_owned()),
            (ReferralStatus::Declined | ReferralStatus::Withdrawn, None) => {
                p.push(
                    "reason",
                    format!("is required to make a referral {}", req.to),
                );
                None
            }
            (_, Some(_)) => {
                p.push("reason", "is only for declined or withdrawn");
                None
            }
            (_, None) => None,
        };
        if reason.as_deref() == Some("other") && note.is_none() {
            p.push("note", "explain the reason when it is \"other\"");
        }
        let force_reason = override_reason(req.force, req.force_reason, &mut p);
        if force_reason.is_some() && req.to != ReferralStatus::Offered {
            p.push("force", "is only for offered");
        }
        p.into_result()?;
        Ok(TransitionDraft {
            to: req.to,
            reason,
            note,
            force_reason,
        })
    }
}

/// `POST /api/v1/referrals/{id}/transfer`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"creche_id": "0193a5f2-7c4e-7d1a-9b2c-3d4e5f6a7b8c",
    "reason": "no_place_on_days", "note": "la crèche des Lilas a une place le lundi et le mardi"}))]
pub struct TransferRequest {
    /// Another crèche of the same département.
    #[schema(format = Uuid)]
    pub creche_id: String,
    pub reason: TransferReason,
    /// Free text; required when the reason is `other`.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// A transfer request, checked.
#[derive(Clone, Debug)]
pub struct TransferDraft {
    pub creche_id: avip_db::model::CrecheId,
    pub reason: TransferReason,
    pub note: Option<String>,
}

impl TransferDraft {
    pub fn parse(req: TransferRequest) -> Result<TransferDraft, DomainError> {
        let mut p = Problems::default();
        let note = free_text(req.note, "note", &mut p);
        let creche_id = avip_db::model::CrecheId::parse(req.creche_id.trim());
        if creche_id.is_none() {
            p.push("creche_id", "is not an id");
        }
        if req.reason == TransferReason::Other && note.is_none() {
            p.push("note", "explain the reason when it is \"other\"");
        }
        p.into_result()?;
        Ok(TransferDraft {
            creche_id: creche_id.ok_or_else(|| DomainError::invalid("creche_id", "is required"))?,
            reason: req.reason,
            note,
        })
    }
}

// ----- Enrollment and exit -----

#[derive(Deserialize, Serialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HoursIn {
    /// `HH:MM`
    #[schema(max_length = 5)]
    pub from: String,
    /// `HH:MM`, after `from`
    #[schema(max_length = 5)]
    pub to: String,
}

/// `POST /api/v1/referrals/{id}/enrollment`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start_date": "2026-12-01", "contract_end_date": "2027-05-31",
    "days": ["mon","tue","thu","fri"], "hours": {"from": "08:30", "to": "17:30"}}))]
pub struct EnrollmentRequest {
    pub start_date: NaiveDate,
    /// Default: six months after the start (the day before).
    pub contract_end_date: Option<NaiveDate>,
    #[schema(max_items = 7)]
    pub days: Vec<Weekday>,
    pub hours: Option<HoursIn>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Enrol even where no AVIP place is free on some day of the contract
    /// (otherwise `409 no_free_place` names the first full day).
    #[serde(default)]
    pub force: bool,
    /// Required with `force`: why the crèche takes the child over capacity;
    /// it goes on the timeline.
    #[schema(max_length = 2000)]
    pub force_reason: Option<String>,
}

/// `force` and `force_reason`, checked: the reason to enrol over capacity.
fn override_reason(force: bool, reason: Option<String>, p: &mut Problems) -> Option<String> {
    let reason = free_text(reason, "force_reason", p);
    match (force, reason) {
        (true, None) => {
            p.push(
                "force_reason",
                "is required with force: say why the child is enrolled over capacity",
            );
            None
        }
        (false, Some(_)) => {
            p.push("force", "must be true when a force_reason is given");
            None
        }
        (_, reason) => reason,
    }
}

/// An enrollment request, checked.
#[derive(Clone, Debug)]
pub struct EnrollmentDraft {
    pub contract: Contract,
    pub note: Option<String>,
    /// Set when the coordinator enrols even without a free place.
    pub force_reason: Option<String>,
}

/// A contract, checked.
#[derive(Clone, Debug)]
pub struct Contract {
    pub start_date: NaiveDate,
    pub contract_end_date: NaiveDate,
    pub days: Vec<Weekday>,
    pub hours: Option<HoursIn>,
}

pub const CONTRACT_MONTHS: u32 = 6;

/// The default end of a contract starting on `start`: six months, the day before.
pub fn default_contract_end(start: NaiveDate) -> NaiveDate {
    start
        .checked_add_months(Months::new(CONTRACT_MONTHS))
        .and_then(|d| d.pred_opt())
        .unwrap_or(start)
}

fn check_days(days: &[Weekday], p: &mut Problems) {
    check_days_at("days", days, p);
}

/// At least one day, each once.
fn check_days_at(field: &str, days: &[Weekday], p: &mut Problems) {
    if days.is_empty() {
        p.push(field, "at least one day is required");
    }
    let mut seen = Vec::new();
    for day in days {
        if seen.contains(day) {
            p.push(field, "a day is listed twice");
            break;
        }
        seen.push(*day);
    }
}

fn check_hours(hours: &Option<HoursIn>, p: &mut Problems) {
    check_hours_at("hours", hours, p);
}

/// Two times of day, `to` after `from`.
fn check_hours_at(field: &str, hours: &Option<HoursIn>, p: &mut Problems) {
    if let Some(h) = hours {
        let from = p.check(&format!("{field}.from"), domain::clock_time(&h.from));
        let to = p.check(&format!("{field}.to"), domain::clock_time(&h.to));
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            let message = if field == "needs.hours" {
                "must be after needs.hours.from"
            } else {
                "must be after hours.from"
            };
            p.push(format!("{field}.to"), message);
        }
    }
}

impl EnrollmentRequest {
    pub fn parse(self, today: NaiveDate) -> Result<EnrollmentDraft, DomainError> {
        let mut p = Problems::default();
        let end = self
            .contract_end_date
            .unwrap_or_else(|| default_contract_end(self.start_date));
        if self.start_date < today - chrono::Duration::days(366) {
            p.push("start_date", "is more than a year in the past");
        }
        if end <= self.start_date {
            p.push("contract_end_date", "must be after start_date");
        } else if end > self.start_date + chrono::Duration::days(3 * 366) {
            p.push(
                "contract_end_date",
                "is more than three years after start_date",
            );
        }
        check_days(&self.days, &mut p);
        check_hours(&self.hours, &mut p);
        let note = free_text(self.note, "note", &mut p);
        let force_reason = override_reason(self.force, self.force_reason, &mut p);
        p.into_result()?;
        Ok(EnrollmentDraft {
            contract: Contract {
                start_date: self.start_date,
                contract_end_date: end,
                days: self.days,
                hours: self.hours,
            },
            note,
            force_reason,
        })
    }
}

/// `PATCH /api/v1/referrals/{id}/enrollment`: renew or amend the contract.
#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"renew": true}))]
pub struct EnrollmentChange {
    /// Extend the contract by six months from its current end (unless
    /// `contract_end_date` says where to).
    #[serde(default)]
    pub renew: bool,
    /// A later end date is a renewal; an earlier one an amendment.
    pub contract_end_date: Option<NaiveDate>,
    #[schema(max_items = 7)]
    pub days: Option<Vec<Weekday>>,
    /// With `days`: the first day the new days apply (default today, or
    /// the contract's start when it is later); earlier days keep the old
    /// ones. Within the contract.
    pub days_from: Option<NaiveDate>,
    /// `null` removes the hours.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<HoursIn>)]
    pub hours: Option<Option<HoursIn>>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Extend the contract even where no AVIP place is free on some added
    /// day (otherwise `409 no_free_place`).
    #[serde(default)]
    pub force: bool,
    /// Required with `force`; it goes on the timeline.
    #[schema(max_length = 2000)]
    pub force_reason: Option<String>,
}

/// What a contract change does.
#[derive(Clone, Debug)]
pub struct ContractChange {
    pub contract: Contract,
    /// The first day of the new days (when they change).
    pub days_from: NaiveDate,
    pub renewal: bool,
    pub note: Option<String>,
    pub force_reason: Option<String>,
}

impl EnrollmentChange {
    pub fn apply(self, current: Contract, today: NaiveDate) -> Result<ContractChange, DomainError> {
        let mut p = Problems::default();
        let end = match (self.contract_end_date, self.renew) {
            (Some(end), _) => end,
            (None, true) => current
                .contract_end_date
                .checked_add_months(Months::new(CONTRACT_MONTHS))
                .unwrap_or(current.contract_end_date),
            (None, false) => current.contract_end_date,
        };
        if end <= current.start_date {
            p.push("contract_end_date", "must be after the start date");
        } else if end > current.start_date + chrono::Duration::days(5 * 366) {
            p.push(
                "contract_end_date",
                "is more than five years after the start date",
            );
        }
        if self.renew && end <= current.contract_end_date {
            p.push(
                "contract_end_date",
                "a renewal must end after the current contract",
            );
        }
        if let Some(days) = &self.days {
            check_days(days, &mut p);
        }
        let days_from = self.days_from.unwrap_or(today).max(current.start_date);
        if self.days_from.is_some() && self.days.is_none() {
            p.push("days_from", "is only with days");
        } else if days_from > end {
            p.push("days_from", "must be within the contract");
        }
        let hours = self.hours.unwrap_or_else(|| current.hours.clone());
        check_hours(&hours, &mut p);
        let note = free_text(self.note, "note", &mut p);
        let force_reason = override_reason(self.force, self.force_reason, &mut p);
        let days = self.days.unwrap_or_else(|| current.days.clone());
        let unchanged =
            end == current.contract_end_date && days == current.days && hours == current.hours;
        if unchanged && note.is_none() {
            p.push(
                "renew",
                "nothing to change: give renew, contract_end_date, days or hours",
            );
        }
        p.into_result()?;
        Ok(ContractChange {
            days_from,
            renewal: end > current.contract_end_date,
            contract: Contract {
                start_date: current.start_date,
                contract_end_date: end,
                days,
                hours,
            },
            note,
            force_reason,
        })
    }
}

/// `POST /api/v1/referrals/{id}/exit`.
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"date": "2027-05-31", "reason": "employment",
    "employment_status": "employed_permanent",
    "childcare_solution": "same_creche", "note": "CDI aide-soignante"}))]
pub struct ExitRequest {
    /// The child's last day. Up to today, the exit is recorded now; a later
    /// day (at most 31 days ahead) plans it: the child stays enrolled and
    /// her place booked until then, and the exit is recorded on that day.
    pub date: NaiveDate,
    /// `employment` needs a situation of work (`employed_*`, `temp_work`,
    /// `business_creation`); `training` needs `training`.
    pub reason: ExitReason,
    /// The parent's situation at exit: whether the exit is positive
    /// follows from it.
    pub employment_status: EmploymentStatus,
    /// Derived from `employment_status` (work of any kind, training,
    /// business creation: positive); a value that contradicts it is
    /// refused. Optional.
    #[serde(default)]
    pub positive: Option<bool>,
    /// The lasting childcare solution found.
    pub childcare_solution: ChildcareSolution,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl ExitRequest {
    /// `start`: the enrollment's start date; an exit cannot precede it.
    pub fn check(mut self, start: NaiveDate, today: NaiveDate) -> Result<ExitRequest, DomainError> {
        let mut p = Problems::default();
        if self.date < start {
            p.push("date", "is before the enrollment started");
        } else if self.date > today + chrono::Duration::days(31) {
            p.push("date", "is more than a month ahead");
        }
        self.note = free_text(self.note.take(), "note", &mut p);
        let positive = positive_exit(self.employment_status);
        if let Some(why) = mismatch(self.reason, self.employment_status) {
            p.push("reason", why);
            p.push("employment_status", "does not match the reason");
        }
        if self.positive.is_some_and(|given| given != positive) {
            p.push(
                "positive",
                if positive {
                    "contradicts employment_status: work, training or a business created is a positive exit"
                } else {
                    "contradicts employment_status: only work, training or a business created is a positive exit"
                },
            );
        }
        p.into_result()?;
        self.positive = Some(positive);
        Ok(self)
    }

    /// Whether the exit is positive, as it was checked.
    pub fn is_positive(&self) -> bool {
        self.positive
            .unwrap_or_else(|| positive_exit(self.employment_status))
    }
}

/// A positive exit: the parent works (any contract, temping, her own
/// business) or is in training.
pub fn positive_exit(status: EmploymentStatus) -> bool {
    !matches!(
        status,
        EmploymentStatus::JobSearch | EmploymentStatus::Other
    )
}

/// Why an exit's reason cannot go with the parent's situation.
fn mismatch(reason: ExitReason, status: EmploymentStatus) -> Option<&'static str> {
    use EmploymentStatus::*;
    match reason {
        ExitReason::Employment
            if !matches!(
                status,
                EmployedFixedTerm | EmployedPermanent | TempWork | BusinessCreation
            ) =>
        {
            Some("employment needs a situation of work (employed, temping, business created)")
        }
        ExitReason::Training if status != Training => Some("training needs the situation training"),
        _ => None,
    }
}

// ----- Follow-ups and notes -----

/// `POST /api/v1/referrals/{id}/follow-ups`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"date": "2027-01-15", "participants": ["coordinator", "referent"],
    "employment_status": "training", "next_steps": "point à mi-formation", "next_date": "2027-03-15"}))]
pub struct FollowUpRequest {
    pub date: NaiveDate,
    #[schema(max_items = 4)]
    pub participants: Vec<Participant>,
    /// The parent's employment status at that date.
    pub employment_status: EmploymentStatus,
    #[schema(max_length = 2000)]
    pub next_steps: Option<String>,
    pub next_date: Option<NaiveDate>,
}

impl FollowUpRequest {
    pub fn check(
        mut self,
        received: NaiveDate,
        today: NaiveDate,
    ) -> Result<FollowUpRequest, DomainError> {
        let mut p = Problems::default();
        if self.date > today {
            p.push("date", "is in the future");
        } else if self.date < received {
            p.push("date", "is before the referral was received");
        }
        if self.participants.is_empty() {
            p.push("participants", "at least one participant is required");
        } else if self.participants.len() > 4 {
            p.push("participants", "must list at most 4 participants");
        }
        self.participants.sort();
        self.participants.dedup();
        if let Some(next) = self.next_date
            && next <= self.date
        {
            p.push("next_date", "must be after date");
        }
        self.next_steps = free_text(self.next_steps.take(), "next_steps", &mut p);
        p.into_result()?;
        Ok(self)
    }
}

/// `POST /api/v1/referrals/{id}/notes`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "la maman a trouvé une formation à partir de janvier"}))]
pub struct NoteRequest {
    #[schema(max_length = 2000)]
    pub note: String,
}

impl NoteRequest {
    pub fn parse(self) -> Result<String, DomainError> {
        let mut p = Problems::default();
        let note = p.check("note", domain::text(&self.note, MAX_FREE_TEXT));
        p.into_result()?;
        note.ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("a checked note is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReferralStatus::*;

    #[test]
    fn phones() {
        for (raw, stored) in [
            ("0612345678", "+33612345678"),
            ("06 12 34 56 78", "+33612345678"),
            ("06.12.34.56.78", "+33612345678"),
            ("06-12-34-56-78", "+33612345678"),
            ("+33 6 12 34 56 78", "+33612345678"),
            ("+33 (0)6 12 34 56 78", "+33612345678"),
            ("0033612345678", "+33612345678"),
            ("04 94 00 00 00", "+33494000000"),
            ("+262 692 12 34 56", "+262692123456"),
            ("0692 12 34 56", "+262692123456"),
            ("0639 01 23 45", "+262639012345"),
            ("0690 12 34 56", "+590690123456"),
            ("0694 12 34 56", "+594694123456"),
            ("0696 12 34 56", "+596696123456"),
        ] {
            assert_eq!(phone(raw).as_deref(), Ok(stored), "{raw}");
        }
        assert_eq!(phone_as_written("+33612345678"), "06 12 34 56 78");
        assert_eq!(phone_as_written("+262692123456"), "06 92 12 34 56");
        assert_eq!(
            national_digits("+33612345678").as_deref(),
            Some("0612345678")
        );
        assert!(is_mobile("+33612345678"));
        assert!(is_mobile("+262692123456"));
        assert!(!is_mobile("+33494000000"));
        for bad in [
            "",
            "061234567",
            "06123456789",
            "6123456789",
            "+44 20 7946 0000",
            "0O12345678",
            "0012345678",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn france_travail_ids() {
        assert_eq!(france_travail_id("1234567a").as_deref(), Ok("1234567A"));
        assert!(france_travail_id("12345678").is_ok());
        for bad in ["1234567", "123456789", "A234567B", "1234567-"] {
            assert!(france_travail_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_lifecycle_table() {
        let all = ReferralStatus::ALL;
        // Exactly docs/product.md §3, and nothing else.
        let expected: &[(ReferralStatus, &[ReferralStatus])] = &[
            (
                Received,
                &[Contacted, Offered, Waitlisted, Declined, Withdrawn],
            ),
            (Contacted, &[Offered, Waitlisted, Declined, Withdrawn]),
            (Waitlisted, &[Offered, Declined, Withdrawn]),
            (
                Offered,
                &[Enrolled, Offered, Waitlisted, Declined, Withdrawn],
            ),
            (Enrolled, &[Exited]),
            (Declined, &[]),
            (Withdrawn, &[]),
            (Exited, &[]),
        ];
        for (from, next) in expected {
            for to in all {
                let via = match to {
                    Enrolled => Via::Enrollment,
                    Exited => Via::Exit,
                    _ => Via::Transitions,
                };
                assert_eq!(
                    plan_move(*from, *to, via).is_ok(),
                    next.contains(to),
                    "{from} → {to}"
                );
            }
        }
        assert!(plan_move(Offered, Enrolled, Via::Transitions).is_err());
        assert!(plan_move(Enrolled, Exited, Via::Transitions).is_err());
    }

    #[test]
    fn only_the_first_answer_out_of_received_is_a_first_response() {
        for to in [Contacted, Offered, Waitlisted, Declined] {
            assert!(
                plan_move(Received, to, Via::Transitions)
                    .unwrap()
                    .first_response
            );
        }
        assert!(
            !plan_move(Received, Withdrawn, Via::Transitions)
                .unwrap()
                .first_response
        );
        assert!(
            !plan_move(Contacted, Offered, Via::Transitions)
                .unwrap()
                .first_response
        );
    }

    #[test]
    fn school_entry_is_the_september_of_the_third_year() {
        let birth = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(school_entry(birth), NaiveDate::from_ymd_opt(2027, 9, 1));
    }

    #[test]
    fn default_contracts_last_six_months() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(default_contract_end(d("2026-12-01")), d("2027-05-31"));
        assert_eq!(default_contract_end(d("2026-08-31")), d("2027-02-27"));
    }
}
