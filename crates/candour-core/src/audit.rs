//! The audit log as a data protection officer reads it: each action code in plain words.
//! (Its times and the dates its filter takes are in `uk_time`.)

use time::OffsetDateTime;

/// Every action code the server writes to the audit log, with what it means in plain words.
/// The code stays in the log and in exports; the words are for people reading the page.
pub const ACTIONS: &[(&str, &str)] = &[
    ("audit.exported", "Exported the audit log"),
    ("campaign.changed", "Changed a campaign"),
    ("campaign.created", "Created a campaign"),
    ("campaign.deleted", "Deleted a campaign"),
    ("campaign.scheduled", "Scheduled a campaign to send"),
    ("campaign.test-sent", "Sent a test of a campaign"),
    ("campaign.unscheduled", "Stopped a scheduled campaign"),
    (
        "disclosure.recipient-added",
        "Added a recipient to the register of disclosures",
    ),
    (
        "disclosure.recipient-changed",
        "Changed a recipient in the register of disclosures",
    ),
    (
        "disclosure.recipient-restored",
        "Brought back a retired recipient of disclosures",
    ),
    (
        "disclosure.recipient-retired",
        "Retired a recipient of disclosures",
    ),
    ("form.changed", "Changed a form"),
    ("form.closed", "Closed a form"),
    ("form.created", "Created a form"),
    ("form.deleted", "Deleted a form"),
    ("form.opened", "Opened a form"),
    ("form.responses-exported", "Exported a form's responses"),
    ("form.responses-viewed", "Viewed a form's responses"),
    (
        "people.import-uploaded",
        "Uploaded a file of people to import",
    ),
    ("people.imported", "Imported people from a file"),
    ("people.searched", "Searched for people"),
    ("person.changed", "Changed a person's record"),
    ("person.consent-recorded", "Recorded a person's consent"),
    ("person.erased", "Erased a person's record"),
    ("person.exported", "Exported a person's data"),
    ("person.objection-recorded", "Recorded a person's objection"),
    (
        "person.restriction-lifted",
        "Lifted the restriction of a person's record",
    ),
    ("person.viewed", "Viewed a person's record"),
    ("poll.changed", "Changed a poll"),
    ("poll.closed", "Closed a poll"),
    ("poll.created", "Created a poll"),
    ("poll.deleted", "Deleted a poll"),
    ("poll.reopened", "Reopened a poll"),
    (
        "request.answer-downloaded",
        "The person downloaded the answer to their request",
    ),
    (
        "request.answer-link-renewed",
        "Sent a fresh download link for the answer to a request",
    ),
    (
        "request.answer-released",
        "Released the answer to a request to the person",
    ),
    ("request.answered", "Marked a request about data answered"),
    ("request.assigned", "Assigned a request about data"),
    (
        "request.bundle-built",
        "Built the copy of a person's data for a request",
    ),
    (
        "request.bundle-checked",
        "Downloaded a request's bundle to check it before release",
    ),
    (
        "request.bundle-written",
        "Wrote the copy of a person's data that answers a request",
    ),
    (
        "request.clarification-asked",
        "Asked a person to clarify their request",
    ),
    (
        "request.clarified",
        "Recorded a person's clarification of their request",
    ),
    (
        "request.extended",
        "Extended the time for a request about data",
    ),
    (
        "request.identity-asked",
        "Asked a person for proof of identity",
    ),
    (
        "request.identity-verified",
        "Recorded that a person's identity was checked",
    ),
    ("request.noted", "Added a note to a request about data"),
    (
        "request.own-data-downloaded",
        "Downloaded a copy of their own data from their account",
    ),
    ("request.refused", "Refused a request about data"),
    ("request.started", "Started work on a request about data"),
    ("request.viewed", "Viewed a request about data"),
    ("request.erased", "Erased a person's data on their request"),
    (
        "request.erasure-kept",
        "Kept a person's data under a legal duty, on their erasure request",
    ),
    (
        "request.corrected",
        "Corrected a person's record on their request",
    ),
    (
        "request.correction-rejected",
        "Rejected a correction a person asked for",
    ),
    (
        "request.restricted",
        "Restricted a person's record on their request",
    ),
    (
        "request.objection-applied",
        "Stopped direct marketing on a person's objection",
    ),
    (
        "request.fee-recorded",
        "Recorded a fee on a request about data",
    ),
    (
        "request.file-added",
        "Added a file to the answer to a request",
    ),
    (
        "request.file-removed",
        "Removed a file from the answer to a request",
    ),
    (
        "request.item-withheld",
        "Withheld an item from the answer to a request",
    ),
    (
        "request.withholding-lifted",
        "Put a withheld item back into the answer to a request",
    ),
    (
        "request.template-saved",
        "Changed the wording of an email about requests",
    ),
    (
        "request.template-reset",
        "Put back the built-in wording of an email about requests",
    ),
    ("staff.account-deleted", "Deleted their own account"),
    ("staff.role-changed", "Changed a staff member's role"),
    ("staff.role-given", "Gave an account a staff role"),
    (
        "staff.second-factor-off",
        "Turned off their second sign-in step",
    ),
    (
        "staff.second-factor-on",
        "Turned on their second sign-in step",
    ),
    ("staff.signed-in", "Signed in"),
    (
        "statistics.history-imported",
        "Imported page views from Google Analytics",
    ),
];

/// What `code` means in plain words; a code this version does not know reads as itself.
pub fn action_words(code: &str) -> &str {
    ACTIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, words)| words)
}

/// Whether `code` is an action this version writes.
pub fn is_known_action(code: &str) -> bool {
    ACTIONS.iter().any(|(c, _)| *c == code)
}
/// One staff action, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// The staff account, or `None` for the command line.
    pub actor: Option<i64>,
    /// The actor's email at the time, kept so the log reads even after the account is gone.
    pub actor_email: String,
    /// What was done, such as `staff.role-changed`.
    pub action: String,
    /// What it was done to, such as `account:42`.
    pub target: String,
    pub detail: String,
}

/// Which audit entries to find: every filter given must match. Times are UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// What it was done to, exactly, such as `person:12`.
    pub target: Option<String>,
    /// The staff account that did it.
    pub actor: Option<i64>,
    /// The action code, such as `person.viewed`.
    pub action: Option<String>,
    /// At or after this time.
    pub from: Option<OffsetDateTime>,
    /// Before this time.
    pub until: Option<OffsetDateTime>,
    /// How many of the matching entries (newest first) to skip.
    pub offset: u64,
    /// How many to return at most.
    pub limit: u32,
}

/// A page of audit entries and how many match in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_words_and_unknown_codes_as_themselves() {
        assert_eq!(action_words("person.viewed"), "Viewed a person's record");
        assert_eq!(action_words("person.exported"), "Exported a person's data");
        assert_eq!(action_words("something.new"), "something.new");
        assert!(is_known_action("audit.exported"));
        assert!(!is_known_action("something.new"));
        let mut codes: Vec<&str> = ACTIONS.iter().map(|(c, _)| *c).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "each code once");
    }
}
