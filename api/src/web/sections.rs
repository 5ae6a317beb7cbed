//! The sections of the workspace and who may open them. A section is
//! open to whoever the rules (`avip_app::access::decide`) allow to do what
//! it shows: the pages gate on it, the navigation lists it, the home page
//! leads to the first one. No page decides a role by itself.

use avip_app::access::{self, Action, Resource};
use avip_app::auth::Principal;

use crate::web::WebError;

/// The sections of the navigation, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Worklist,
    Referrals,
    NewReferral,
    WaitingList,
    Places,
    Territory,
    Indicators,
    Bilan,
    Import,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Worklist,
        Section::Referrals,
        Section::NewReferral,
        Section::WaitingList,
        Section::Places,
        Section::Territory,
        Section::Indicators,
        Section::Bilan,
        Section::Import,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Section::Worklist => "/app/a-traiter",
            Section::Referrals => "/app/orientations",
            Section::NewReferral => "/app/orientations/nouvelle",
            Section::WaitingList => "/app/liste-attente",
            Section::Places => "/app/places",
            Section::Territory => "/app/places/territoire",
            Section::Indicators => "/app/indicateurs",
            Section::Bilan => "/app/bilan",
            Section::Import => "/app/import",
        }
    }

    /// What the section shows, as the rules name it.
    fn shows(self) -> (Action, Resource<'static>) {
        match self {
            // What awaits the coordinator: the SLA engine's list.
            // Both read what awaits the crèches (`GET /waiting-list` too).
            Section::Worklist | Section::WaitingList => (Action::List, Resource::SlaOverdue),
            Section::Referrals => (Action::List, Resource::Referral(None)),
            Section::NewReferral => (Action::Create, Resource::Referral(None)),
            Section::Places | Section::Territory => (Action::Read, Resource::Availability),
            // The bilan is the indicators written for people.
            Section::Indicators | Section::Bilan => (Action::Read, Resource::Indicators),
            // The crèches' own spreadsheets: their coordinators, admins.
            Section::Import => (Action::List, Resource::Creche(None)),
        }
    }

    /// Whether `who` may open the section.
    pub fn open_to(self, who: &Principal) -> bool {
        let (action, resource) = self.shows();
        access::decide(who, action, resource).is_ok()
    }

    /// The gate of the section's pages.
    pub fn require(self, who: &Principal) -> Result<(), WebError> {
        if self.open_to(who) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Where `who` lands after signing in: the first section open to her
    /// among what awaits her, her referrals and the indicators.
    pub fn home(who: &Principal) -> Section {
        [Section::Worklist, Section::Referrals, Section::Indicators]
            .into_iter()
            .find(|s| s.open_to(who))
            .unwrap_or(Section::Places)
    }
}
