//! Pseudonymisation: family ids and referral keys as keyed hashes, the
//! child's age as a bracket.

use super::*;

/// The key of the keyed hash behind family ids (`AVIP_PSEUDONYM_KEY`, or a
/// random key drawn once per database in development).
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(***)")
    }
}

impl PseudonymKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> PseudonymKey {
        PseudonymKey(bytes.into())
    }

    /// The configured key, or the database's own (drawn on first use).
    pub fn load(
        conn: &mut DbConnection,
        configured: Option<&secrecy::SecretString>,
    ) -> Result<PseudonymKey, QueryError> {
        if let Some(key) = configured {
            return Ok(PseudonymKey::new(key.expose_secret().as_bytes()));
        }
        let drawn = exports::service_key(
            conn,
            "pseudonym_key",
            || {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).expect("the system has a random source");
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            },
            avip_db::model::to_db_time(Utc::now()),
        )?;
        Ok(PseudonymKey::new(drawn.into_bytes()))
    }

    /// HMAC-SHA-256 of `material` under the key, as 32 hex digits: the same
    /// input gives the same id, and without the key no one can compute it
    /// from a known name.
    pub fn id(&self, material: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(material.as_bytes());
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What identifies a family across referrals: its France Travail
/// identifier when it has one, otherwise the parent's names with the phone
/// (or e-mail).
pub fn family_material(row: &ExportRow) -> String {
    let f = &row.family;
    match &f.france_travail_id {
        Some(id) => format!("ft:{}", normal(id)),
        None => format!(
            "parent:{}|{}|{}",
            normal(&f.parent_last_name),
            normal(&f.parent_first_name),
            normal(
                f.parent_phone
                    .as_deref()
                    // Stored as ten digits before E.164: a family keeps
                    // its pseudonym across that change.
                    .map(|p| crate::domain::referral::national_digits(p)
                        .unwrap_or_else(|| p.to_owned()))
                    .as_deref()
                    .or(f.parent_email.as_deref())
                    .unwrap_or("")
            )
        ),
    }
}

/// The family's pseudonymous id: the one fixed when its personal data was
/// blanked, else the keyed hash of [`family_material`].
pub fn family_id(row: &ExportRow, key: &PseudonymKey) -> String {
    match &row.family.pseudonym {
        Some(kept) => kept.clone(),
        None => key.id(&family_material(row)),
    }
}

/// The first child's age bracket when referred (`received`, Paris): the
/// one kept when the personal data was blanked, else from the birth date.
pub fn child_age_bracket(row: &ExportRow, received: NaiveDate) -> Option<String> {
    match &row.family.age_bracket {
        Some(kept) => Some(kept.clone()),
        None => row
            .first_birth_date
            .map(|b| age_bracket(b, received).to_owned()),
    }
}

/// The child's age when the family was referred, as a bracket.
pub fn age_bracket(birth: NaiveDate, at: NaiveDate) -> &'static str {
    let months = (at.year() - birth.year()) * 12 + at.month() as i32
        - birth.month() as i32
        - i32::from(at.day() < birth.day());
    match months {
        ..12 => "under_1",
        12..24 => "1_to_2",
        24..36 => "2_to_3",
        _ => "3_and_over",
    }
}
