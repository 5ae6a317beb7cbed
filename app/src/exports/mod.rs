//! The CAF's evaluation exports (docs/product.md §7): pseudonymised rows and
//! indicators, written as CSV for a French Excel, JSON or XLSX.
//!
//! A table is columns and rows of typed [`Cell`]s; one writer per format
//! turns them into bytes. Rows are read from the database a chunk at a time
//! and sent through a small channel to the response, so memory holds a
//! chunk, not the export, and a client that goes away stops the reading.
//!
//! By concern: [`pseudonym`] (the keyed hashes, the age brackets),
//! [`table`] (typed cells and the CSV, JSON and XLSX writers), [`rows`] (the
//! CAF's rows, read a chunk at a time) and [`indicators`] (the statistics).

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use avip_db::blocking::checkout;
use avip_db::exports::{self, ExportRow, ExportScope, TallyRow};
use avip_db::model::{
    CrecheId, OrganizationId, OrganizationKind, ReferralId, ReferralStatus, from_db_time,
};
use avip_db::places::{self, Period};
use avip_db::{DbConnection, Pool, QueryError};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

pub mod french;
mod indicators;
mod pseudonym;
mod rows;
mod table;

pub use french::{age_bracket_label, header, month_group, organization_kind};
pub use indicators::*;
pub use pseudonym::*;
use rows::in_chunks;
pub use rows::*;
pub use table::*;
use table::{column, nullable};

/// How many referrals one database read brings.
pub const CHUNK: i64 = 1_000;
/// Bytes gathered before they are sent on.
const FLUSH: usize = 64 * 1024;

/// Set once whoever asked for the work has gone (its request dropped): the
/// indicators stop at the next referral instead of finishing for no one.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels the work when dropped: keep it in the future
    /// that awaits the work.
    pub fn guard(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// See [`Cancel::guard`].
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}
