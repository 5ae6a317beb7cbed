//! The number that moves whenever an identity changes (see the migration
//! `identity_epoch`): database triggers move it; instances read it to know
//! when the identities they keep in memory are out of date.

use diesel::prelude::*;

use crate::schema::identity_epoch;
use crate::{DbConnection, QueryResult};

/// The epoch now.
pub fn current(conn: &mut DbConnection) -> QueryResult<i64> {
    identity_epoch::table.select(identity_epoch::n).first(conn)
}
