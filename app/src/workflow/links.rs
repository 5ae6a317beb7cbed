//! Links that need no account (the referent's outcome page, the family's
//! booking page): `<expiry>.<HMAC-SHA256>` over what the link opens, with
//! a key of the database's own, drawn on first use, so every process of
//! the service signs and checks alike. Each use case keeps its own key
//! (its name) and says what a link may open beyond its signature.

use avip_db::model::to_db_time;
use avip_db::{DbConnection, QueryError};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) struct LinkKey(Vec<u8>);

impl LinkKey {
    /// The key called `name`, drawn now if there is none yet.
    pub(crate) fn load(
        conn: &mut DbConnection,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkKey, QueryError> {
        let drawn = avip_db::exports::service_key(
            conn,
            name,
            || {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).expect("the system has a random source");
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            },
            to_db_time(now),
        )?;
        Ok(LinkKey(drawn.into_bytes()))
    }

    /// The key called `name`, if one was drawn (no link was signed else).
    pub(crate) fn stored(
        conn: &mut DbConnection,
        name: &str,
    ) -> Result<Option<LinkKey>, QueryError> {
        Ok(avip_db::exports::stored_service_key(conn, name)?.map(|k| LinkKey(k.into_bytes())))
    }

    fn mac(&self, message: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(format!("{message}:{expires}").as_bytes());
        mac
    }

    /// `<expiry>.<signature>`, the expiry in Unix seconds.
    pub(crate) fn sign(&self, message: &str, expires: i64) -> String {
        let tag = self.mac(message, expires).finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        format!("{expires}.{hex}")
    }

    /// Whether `token` was signed for `message` and is still valid at `now`
    /// (compared in constant time).
    pub(crate) fn verify(&self, message: &str, token: &str, now: DateTime<Utc>) -> bool {
        let Some((expires, hex)) = token.split_once('.') else {
            return false;
        };
        let (Ok(expires), Some(tag)) = (expires.parse::<i64>(), from_hex(hex)) else {
            return false;
        };
        expires >= now.timestamp() && self.mac(message, expires).verify_slice(&tag).is_ok()
    }
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}
