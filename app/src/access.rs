//! Every permission decision of the service, in one pure function of who
//! asks (role, organisation, crèches), what they want to do and to what.
//! Use cases ask; they never decide.
//!
//! A role that may never do an action is refused with 403; a role that may,
//! but not on this instance (another organisation's), gets 404, so that ids
//! cannot be probed.

use avip_db::model::{CrecheId, OrganizationId, Role};

use crate::auth::Principal;
use crate::domain::DomainError;

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
    /// A coordinator's work on a referral: transitions, enrollment, exit.
    Act,
    /// Withdraw a referral (its prescriber, or the crèche on the family's word).
    Withdraw,
    /// Notes and follow-ups on a referral's timeline.
    Annotate,
    /// Anonymise a family now, on its request (admins).
    Erase,
    /// Correct a recorded exit: the crèche's coordinators, and admins (the
    /// 60-day limit is the use case's rule).
    Correct,
    /// Report the parent's situation after the exit: the prescriber
    /// organisation that sent the referral.
    ReportOutcome,
    /// Hand an open referral to another crèche: the crèche holding it, or
    /// the prescriber organisation that sent it.
    Transfer,
}

/// Whose a referral is: the crèche it is addressed to and its prescriber.
#[derive(Clone, Copy, Debug)]
pub struct ReferralOwners<'a> {
    pub creche_id: &'a CrecheId,
    pub prescriber: &'a OrganizationId,
}

#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    /// Organisations, people and API clients: the administrators' business.
    Organizations,
    Users,
    ApiClients,
    /// The crèches collection (`id: None`) or one crèche.
    Creche(Option<&'a CrecheId>),
    /// The referrals collection (`None`) or one referral.
    Referral(Option<ReferralOwners<'a>>),
    /// Who am I.
    Me,
    /// The SLA policy in force: any token may read it.
    SlaPolicy,
    /// What needs attention now: coordinators (their crèches) and admins.
    SlaOverdue,
    /// Free AVIP places per day: prescribers, coordinators and admins, for
    /// every crèche (it holds no personal data).
    Availability,
    /// A crèche's dated AVIP places: admins, and its coordinators.
    Capacity(&'a CrecheId),
    /// The pseudonymised evaluation rows: the CAF (its département) and admins.
    ExportRows,
    /// The indicators: the CAF (its département), admins, and coordinators
    /// (their crèches).
    Indicators,
    /// Everything held about a family, for an access request: admins, and
    /// the coordinators of the referral's crèche.
    PersonalData(ReferralOwners<'a>),
    /// Who read which family's data: admins.
    AccessLog,
    /// Webhook subscriptions (`None`: the collection; `Some`: one
    /// organisation's): admins any, a prescriber organisation's API clients
    /// their own organisation's.
    Webhooks(Option<&'a OrganizationId>),
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
        (Me | SlaPolicy, _) => Ok(()),
        (SlaOverdue, Role::Admin | Role::Coordinator) if action == List => Ok(()),
        (SlaOverdue, _) => Err(Denial::Forbidden),
        (Availability, Role::Prescriber | Role::Coordinator | Role::Admin) if action == Read => {
            Ok(())
        }
        (Availability, _) => Err(Denial::Forbidden),
        (Capacity(_), Role::Admin) if matches!(action, Read | Update) => Ok(()),
        (Capacity(id), Role::Coordinator) if matches!(action, Read | Update) => {
            if who.creche_ids.contains(id) {
                Ok(())
            } else {
                Err(Denial::Hidden)
            }
        }
        (Capacity(_), _) => Err(Denial::Forbidden),
        (ExportRows, Role::Caf | Role::Admin) if action == Read => Ok(()),
        (Indicators, Role::Caf | Role::Admin | Role::Coordinator) if action == Read => Ok(()),
        (ExportRows | Indicators, _) => Err(Denial::Forbidden),
        (PersonalData(_), Role::Admin) if action == Read => Ok(()),
        (PersonalData(owners), Role::Coordinator) if action == Read => {
            if who.creche_ids.contains(owners.creche_id) {
                Ok(())
            } else {
                Err(Denial::Hidden)
            }
        }
        (PersonalData(_), _) => Err(Denial::Forbidden),
        (AccessLog, Role::Admin) if action == List => Ok(()),
        (AccessLog, _) => Err(Denial::Forbidden),
        (Webhooks(_), Role::Admin) => Ok(()),
        (Webhooks(org), Role::Prescriber)
            if matches!(who.subject, crate::auth::Subject::Client(_)) =>
        {
            match org {
                Some(org) if *org != who.organization_id => Err(Denial::Hidden),
                _ => Ok(()),
            }
        }
        (Webhooks(_), _) => Err(Denial::Forbidden),
        (Referral(owners), _) => decide_referral(who, action, owners),
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

/// docs/product.md §5 for referrals: prescribers post, read, withdraw and annotate
/// their organisation's; coordinators read and act on those addressed to
/// their crèches; admins read everything; the CAF sees only exports.
fn decide_referral(
    who: &Principal,
    action: Action,
    owners: Option<ReferralOwners<'_>>,
) -> Result<(), Denial> {
    use Action::*;
    let may = match who.role {
        Role::Admin => matches!(action, List | Read | Erase | Correct),
        Role::Coordinator => matches!(
            action,
            List | Read | Act | Withdraw | Annotate | Correct | Transfer
        ),
        Role::Prescriber => matches!(
            action,
            List | Read | Create | Withdraw | Annotate | ReportOutcome | Transfer
        ),
        Role::Caf => false,
    };
    if !may {
        return Err(Denial::Forbidden);
    }
    let Some(owners) = owners else {
        return Ok(());
    };
    let visible = match who.role {
        Role::Admin => true,
        Role::Coordinator => who.creche_ids.contains(owners.creche_id),
        Role::Prescriber => owners.prescriber == &who.organization_id,
        Role::Caf => false,
    };
    if visible { Ok(()) } else { Err(Denial::Hidden) }
}

/// [`decide`], as the error a use case returns.
pub fn require(who: &Principal, action: Action, resource: Resource<'_>) -> Result<(), DomainError> {
    decide(who, action, resource).map_err(|denial| match denial {
        Denial::Forbidden => DomainError::Forbidden { role: who.role },
        Denial::Hidden => DomainError::NotFound,
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
            (&prescriber, Read, Availability, Ok(())),
            (&coordinator, Read, Availability, Ok(())),
            (&admin, Read, Availability, Ok(())),
            (&caf, Read, Availability, Err(Forbidden)),
            (&prescriber, Update, Availability, Err(Forbidden)),
            (&coordinator, Update, Capacity(&own), Ok(())),
            (&coordinator, Update, Capacity(&other), Err(Hidden)),
            (&admin, Update, Capacity(&other), Ok(())),
            (&prescriber, Read, Capacity(&own), Err(Forbidden)),
            (&caf, Read, Capacity(&own), Err(Forbidden)),
            (&caf, Read, ExportRows, Ok(())),
            (&admin, Read, ExportRows, Ok(())),
            (&coordinator, Read, ExportRows, Err(Forbidden)),
            (&prescriber, Read, ExportRows, Err(Forbidden)),
            (&coordinator, Read, Indicators, Ok(())),
            (&caf, Read, Indicators, Ok(())),
            (&prescriber, Read, Indicators, Err(Forbidden)),
        ];
        check(cases);
    }

    #[test]
    fn the_referral_matrix() {
        let own = CrecheId::generate();
        let other = CrecheId::generate();
        let admin = who(Role::Admin, &[]);
        let coordinator = who(Role::Coordinator, &[&own]);
        let prescriber = who(Role::Prescriber, &[]);
        let caf = who(Role::Caf, &[]);
        let foreign_org = OrganizationId::generate();
        let at_own_by_prescriber = ReferralOwners {
            creche_id: &own,
            prescriber: &prescriber.organization_id,
        };
        let at_other_by_other = ReferralOwners {
            creche_id: &other,
            prescriber: &foreign_org,
        };
        use Action::*;
        use Denial::*;
        use Resource::*;
        let cases: &[(&Principal, Action, Resource, Result<(), Denial>)] = &[
            (&prescriber, Create, Referral(None), Ok(())),
            (&coordinator, Create, Referral(None), Err(Forbidden)),
            (&admin, Create, Referral(None), Err(Forbidden)),
            (&caf, List, Referral(None), Err(Forbidden)),
            (&admin, List, Referral(None), Ok(())),
            (&admin, Read, Referral(Some(at_other_by_other)), Ok(())),
            (
                &admin,
                Act,
                Referral(Some(at_other_by_other)),
                Err(Forbidden),
            ),
            (
                &prescriber,
                Read,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &prescriber,
                Withdraw,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &prescriber,
                Annotate,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &prescriber,
                Act,
                Referral(Some(at_own_by_prescriber)),
                Err(Forbidden),
            ),
            (
                &prescriber,
                Read,
                Referral(Some(at_other_by_other)),
                Err(Hidden),
            ),
            (
                &prescriber,
                Withdraw,
                Referral(Some(at_other_by_other)),
                Err(Hidden),
            ),
            (
                &coordinator,
                Read,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &coordinator,
                Act,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &coordinator,
                Annotate,
                Referral(Some(at_own_by_prescriber)),
                Ok(()),
            ),
            (
                &coordinator,
                Read,
                Referral(Some(at_other_by_other)),
                Err(Hidden),
            ),
            (
                &coordinator,
                Act,
                Referral(Some(at_other_by_other)),
                Err(Hidden),
            ),
            (
                &caf,
                Read,
                Referral(Some(at_own_by_prescriber)),
                Err(Forbidden),
            ),
        ];
        check(cases);
    }

    fn check(cases: &[(&Principal, Action, Resource, Result<(), Denial>)]) {
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
