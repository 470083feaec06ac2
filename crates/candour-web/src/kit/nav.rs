//! Navigation that every page shares: the site's links, and the console's sections with the
//! permission and feature each needs. Kept apart from the console so that the frame and the
//! extractors can list sections without importing the console's handlers.

use candour_core::account::{Permission, Role};
use candour_core::config::Config;

/// A link in the site's navigation, from the content pages' front matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavLink {
    pub href: String,
    pub label: String,
}

/// A section of the console and what it needs.
pub(crate) struct Section {
    pub href: &'static str,
    pub label: &'static str,
    pub about: &'static str,
    permission: Permission,
    /// Another permission that also opens the section (reading form responses opens the
    /// forms section, where the responses are).
    also: Option<Permission>,
    /// The feature it belongs to, when that can be switched off in the configuration.
    feature: Option<Feature>,
}

/// Parts of Candour that the configuration can switch off; their console sections and
/// routes are then gone.
#[derive(Clone, Copy)]
pub(crate) enum Feature {
    Polls,
    Campaigns,
    Requests,
    Statistics,
}

impl Feature {
    pub(crate) fn enabled(self, config: &Config) -> bool {
        match self {
            Feature::Polls => config.polls.enabled,
            Feature::Campaigns => config.campaigns.enabled,
            Feature::Requests => config.requests.enabled,
            Feature::Statistics => config.stats.enabled,
        }
    }
}

const SECTIONS: &[Section] = &[
    Section {
        href: "/admin/polls",
        label: "Polls",
        about: "Create polls, open and close them, and see their results.",
        permission: Permission::ManagePolls,
        feature: Some(Feature::Polls),
        also: None,
    },
    Section {
        href: "/admin/forms",
        label: "Forms and surveys",
        about: "Build forms and surveys, open and close them, and see their answers.",
        permission: Permission::ManageForms,
        also: Some(Permission::ReadResponses),
        feature: None,
    },
    Section {
        href: "/admin/campaigns",
        label: "Campaigns",
        about: "Write campaign emails, send them to people who agreed, and see how they did.",
        permission: Permission::ManageCampaigns,
        also: None,
        feature: Some(Feature::Campaigns),
    },
    Section {
        href: "/admin/people",
        label: "People",
        about: "Find a person's record, their consents and objections; import people from a file.",
        permission: Permission::ManagePeople,
        also: None,
        feature: None,
    },
    Section {
        href: "/admin/requests",
        label: "Requests about data",
        about: "Requests people made about their own data, by due date: each case's steps and answer.",
        permission: Permission::ManageRequests,
        also: None,
        feature: Some(Feature::Requests),
    },
    Section {
        href: "/admin/statistics",
        label: "Statistics",
        about: "Visitors, pages, sources and goals, counted without cookies; history from Google Analytics.",
        permission: Permission::ViewStatistics,
        also: None,
        feature: Some(Feature::Statistics),
    },
    Section {
        href: "/admin/consent",
        label: "Cookie choices",
        about: "How many visitors accepted or rejected each kind of optional cookie.",
        permission: Permission::ReadConsentStatistics,
        also: None,
        feature: None,
    },
    Section {
        href: "/admin/staff",
        label: "Staff",
        about: "Who can use this console, and in which role.",
        permission: Permission::ManageStaff,
        also: None,
        feature: None,
    },
    Section {
        href: "/admin/audit",
        label: "Audit log",
        about: "What staff have done, newest first.",
        permission: Permission::ReadAudit,
        also: None,
        feature: None,
    },
];

/// The sections `role` may use, of the features switched on.
pub(crate) fn sections(config: &Config, role: Role) -> Vec<&'static Section> {
    SECTIONS
        .iter()
        .filter(|s| {
            let readers = &config.people.response_readers;
            (role.may(s.permission, readers) || s.also.is_some_and(|p| role.may(p, readers)))
                && s.feature.is_none_or(|f| f.enabled(config))
        })
        .collect()
}
