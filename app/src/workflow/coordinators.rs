//! Who coordinates which crèche: the one use case that assigns
//! coordinators, from a crèche's side (its `coordinator_ids`, by an
//! administrator) or from a person's (her `creche_ids`), with the one rule
//! of [`may_coordinate`]. `avip_db::coordinators` is the table's only
//! writer and this module its only caller.

use avip_db::coordinators::Assignment as Side;
use avip_db::model::{CrecheId, OrganizationId, Role, UserId};
use avip_db::{DbConnection, creches, users};

use crate::domain::{DomainError, FieldError, Problems};

/// The rule: a person coordinates a crèche only if she has the coordinator
/// role in the organisation that runs it.
pub fn may_coordinate(
    role: Role,
    organization: &OrganizationId,
    operator: &OrganizationId,
) -> bool {
    role == Role::Coordinator && organization == operator
}

/// One side of the assignment, replaced whole.
pub enum Assignment<'a> {
    /// The crèche's coordinators (field `coordinator_ids`).
    Creche {
        id: &'a CrecheId,
        operator: &'a OrganizationId,
        users: &'a [UserId],
    },
    /// The person's crèches (field `creche_ids`).
    User {
        id: &'a UserId,
        role: Role,
        organization: &'a OrganizationId,
        creches: &'a [CrecheId],
    },
}

/// Checks the assignment against the rule, naming each refused entry.
pub fn check(conn: &mut DbConnection, assignment: &Assignment<'_>) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    match assignment {
        Assignment::Creche {
            operator,
            users: ids,
            ..
        } => {
            for (i, id) in ids.iter().enumerate() {
                let ok = users::find(conn, id)?
                    .is_some_and(|u| may_coordinate(u.role, &u.organization_id, operator));
                if !ok {
                    errors.push(FieldError::new(
                        format!("coordinator_ids[{i}]"),
                        "is not a coordinator of the crèche's operator",
                    ));
                }
            }
        }
        Assignment::User { creches: [], .. } => {}
        Assignment::User { role, .. } if *role != Role::Coordinator => {
            return Err(DomainError::invalid(
                "creche_ids",
                "only coordinators are attached to crèches",
            ));
        }
        Assignment::User {
            role,
            organization,
            creches: ids,
            ..
        } => {
            let operators = creches::operators(conn, ids)?;
            for (i, id) in ids.iter().enumerate() {
                let ok = operators
                    .iter()
                    .find(|(creche, _)| creche == id)
                    .is_some_and(|(_, operator)| may_coordinate(*role, organization, operator));
                if !ok {
                    errors.push(FieldError::new(
                        format!("creche_ids[{i}]"),
                        "is not a crèche of the user's organisation",
                    ));
                }
            }
        }
    }
    Problems(errors).into_result()
}

/// Writes a checked assignment, in the caller's transaction.
pub fn write(conn: &mut DbConnection, assignment: &Assignment<'_>) -> Result<(), DomainError> {
    let side = match assignment {
        Assignment::Creche { id, users, .. } => Side::Creche(id, users),
        Assignment::User { id, creches, .. } => Side::User(id, creches),
    };
    Ok(avip_db::coordinators::replace(conn, side)?)
}
