//! Every permission decision of the service, in one pure function of who
//! asks (role, organisation, crèches), what they want to do and to what.
//! Handlers ask; they never decide.
//!
//! A role that may never do an action is refused with 403; a role that may,
//! but not on this instance (another organisation's), gets 404, so that ids
//! cannot be probed.

use avip_db::model::{CrecheId, Role};

use crate::auth::Principal;
use crate::error::{ApiError, Problem};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    List,
    Read,
    Create,
    Update,
    /// Changes that belong to the administrators only, such as which
    /// organisation runs a crèche and who coordinates it.
    Administer,
    Disable,
}

#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    /// Organisations, people and API clients: the administrators' business.
    Organizations,
    Users,
    ApiClients,
    /// The crèches collection (`id: None`) or one crèche.
    Creche(Option<&'a CrecheId>),
    /// Who am I.
    Me,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// 403: this role never may.
    Forbidden,
    /// 404: not this caller's to see.
    Hidden,
}

pub fn decide(who: &Principal, action: Action, resource: Resource<'_>) -> Result<(), Denial> {
    use Action::*;
    use Resource::*;
    let role = who.role;
    match (resource, role) {
        (Me, _) => Ok(()),
        (_, Role::Admin) => Ok(()),
        (Organizations | Users | ApiClients, _) => Err(Denial::Forbidden),
        (Creche(_), Role::Coordinator) => match (action, resource) {
            (List, Creche(None)) => Ok(()),
            (Read | Update, Creche(Some(id))) if who.creche_ids.contains(id) => Ok(()),
            (Read | Update, Creche(Some(_))) => Err(Denial::Hidden),
            _ => Err(Denial::Forbidden),
        },
        (Creche(_), Role::Prescriber | Role::Caf) => Err(Denial::Forbidden),
    }
}

/// [`decide`], as the error a handler returns.
pub fn require(who: &Principal, action: Action, resource: Resource<'_>) -> Result<(), ApiError> {
    decide(who, action, resource).map_err(|denial| match denial {
        Denial::Forbidden => ApiError::Forbidden(Problem::new(
            "forbidden",
            format!("the {} role may not do this", who.role),
        )),
        Denial::Hidden => ApiError::not_found("no such resource"),
    })
}

/// The crèches a caller's lists are limited to: `None` means all of them.
pub fn creche_scope(who: &Principal) -> Option<&[CrecheId]> {
    match who.role {
        Role::Admin => None,
        _ => Some(&who.creche_ids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Subject;
    use avip_db::model::{OrganizationId, OrganizationKind, UserId};

    fn who(role: Role, creches: &[&CrecheId]) -> Principal {
        Principal {
            subject: Subject::User(UserId::generate()),
            organization_id: OrganizationId::generate(),
            organization_kind: OrganizationKind::CrecheOperator,
            departement: "83".into(),
            role,
            creche_ids: creches.iter().map(|c| (*c).clone()).collect(),
        }
    }

    #[test]
    fn the_matrix() {
        let own = CrecheId::generate();
        let other = CrecheId::generate();
        let admin = who(Role::Admin, &[]);
        let coordinator = who(Role::Coordinator, &[&own]);
        let prescriber = who(Role::Prescriber, &[]);
        let caf = who(Role::Caf, &[]);
        use Action::*;
        use Denial::*;
        use Resource::*;
        let cases: &[(&Principal, Action, Resource, Result<(), Denial>)] = &[
            (&admin, Create, Organizations, Ok(())),
            (&admin, Administer, Creche(Some(&other)), Ok(())),
            (&coordinator, List, Organizations, Err(Forbidden)),
            (&prescriber, Create, Users, Err(Forbidden)),
            (&caf, List, ApiClients, Err(Forbidden)),
            (&coordinator, List, Creche(None), Ok(())),
            (&coordinator, Read, Creche(Some(&own)), Ok(())),
            (&coordinator, Update, Creche(Some(&own)), Ok(())),
            (&coordinator, Read, Creche(Some(&other)), Err(Hidden)),
            (&coordinator, Update, Creche(Some(&other)), Err(Hidden)),
            (&coordinator, Administer, Creche(Some(&own)), Err(Forbidden)),
            (&coordinator, Create, Creche(None), Err(Forbidden)),
            (&prescriber, Read, Creche(Some(&own)), Err(Forbidden)),
            (&caf, List, Creche(None), Err(Forbidden)),
            (&caf, Read, Me, Ok(())),
        ];
        for (who, action, resource, expected) in cases {
            assert_eq!(
                decide(who, *action, *resource),
                *expected,
                "{:?} {action:?} {resource:?}",
                who.role
            );
        }
    }
}
