//! Who coordinates which crèche (`creche_coordinators`). This module is the
//! table's only writer; the rule of who may be assigned is the application's
//! (`avip_app::workflow::coordinators`).

use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, UserId};
use crate::schema::creche_coordinators;

/// One side of the assignment, replaced whole.
pub enum Assignment<'a> {
    /// A crèche's coordinators.
    Creche(&'a CrecheId, &'a [UserId]),
    /// The crèches a person coordinates.
    User(&'a UserId, &'a [CrecheId]),
}

/// Replaces one side of the assignment.
pub fn replace(conn: &mut DbConnection, assignment: Assignment<'_>) -> QueryResult<()> {
    let pairs: Vec<(&CrecheId, &UserId)> = match assignment {
        Assignment::Creche(creche, users) => {
            diesel::delete(
                creche_coordinators::table.filter(creche_coordinators::creche_id.eq(creche)),
            )
            .execute(conn)?;
            users.iter().map(|user| (creche, user)).collect()
        }
        Assignment::User(user, creches) => {
            diesel::delete(
                creche_coordinators::table.filter(creche_coordinators::user_id.eq(user)),
            )
            .execute(conn)?;
            creches.iter().map(|creche| (creche, user)).collect()
        }
    };
    for (creche, user) in pairs {
        diesel::insert_into(creche_coordinators::table)
            .values((
                creche_coordinators::creche_id.eq(creche),
                creche_coordinators::user_id.eq(user),
            ))
            .execute(conn)?;
    }
    Ok(())
}
