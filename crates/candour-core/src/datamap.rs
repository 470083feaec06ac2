//! The data map: every table, and for each one that holds personal data, whose data it is,
//! how to find a person's rows, and what erasure does to them.
//!
//! Invariant: every table of the schema is listed here, either in [`PERSONAL`] or in
//! [`NOT_PERSONAL`] with the reason. The conformance suite reads each backend's schema and
//! fails when a table is missing, or when a table refers to `people` or `accounts` and is
//! not in [`PERSONAL`]. The export of a person's data and their erasure are driven by this
//! list, so a mapped table is exported and erased without further code.

/// Whose data a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A row of `people`.
    Person,
    /// A row of `accounts`.
    Account,
}

/// What erasing the subject does to their rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erasure {
    /// The rows are deleted.
    Delete,
    /// The column that points at the subject is cleared; the rest (counts, aggregate
    /// answers) is not personal once unlinked.
    Unlink,
}

/// A table that refers to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub table: &'static str,
    pub subject: Subject,
    /// The column holding the subject's id (`id` for the subject's own table).
    pub column: &'static str,
    pub erasure: Erasure,
    /// What the rows are, for the data map page and the subject-access export.
    pub holds: &'static str,
}

/// Tables with personal data. Erasure deletes the subject's own row first (its cascades
/// remove what depends on it; the consent ledger allows deletion only then), then deletes or
/// unlinks the subject's rows in every other mapped table, and checks that none is left.
pub const PERSONAL: &[Mapped] = &[
    Mapped {
        table: "consent_events",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "The consent ledger: every consent given or withdrawn, how and when.",
    },
    Mapped {
        table: "form_responses",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Answers given on forms and surveys.",
    },
    Mapped {
        table: "preference_links",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Single-use links to the preference centre (only their hashes).",
    },
    Mapped {
        table: "consent_confirmations",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Consent given on a public form and not yet confirmed from the address: what was \
                agreed to, its wording and when. Forgotten when the link expires.",
    },
    Mapped {
        table: "deliveries",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "Each campaign email sent to the person: when, whether it was tracked, whether it \
                bounced or they unsubscribed through it. Once unlinked it only counts towards the \
                campaign's figures.",
    },
    Mapped {
        table: "tracking_events",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "When the person opened a campaign email and which of its links they clicked, \
                only with their consent to tracking; reduced to totals that name nobody after \
                the retention period.",
    },
    Mapped {
        table: "people",
        subject: Subject::Person,
        column: "id",
        erasure: Erasure::Delete,
        holds: "Contact details, interests, where the record came from.",
    },
    Mapped {
        table: "sessions",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Current sign-ins (only hashes of their secrets).",
    },
    Mapped {
        table: "email_links",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Single-use links sent to confirm an address or reset a password.",
    },
    Mapped {
        table: "recovery_codes",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Hashes of second-factor recovery codes.",
    },
    Mapped {
        table: "poll_votes",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Unlink,
        holds: "That the account voted in a poll; the vote itself stays counted.",
    },
    Mapped {
        table: "people_imports",
        subject: Subject::Account,
        column: "actor_id",
        erasure: Erasure::Delete,
        holds: "Files staff uploaded to import people, until confirmed or a day old.",
    },
    Mapped {
        table: "accounts",
        subject: Subject::Account,
        column: "id",
        erasure: Erasure::Delete,
        holds: "Sign-in details and the profile.",
    },
];

/// Tables that hold no personal data, and why.
pub const NOT_PERSONAL: &[(&str, &str)] = &[
    ("server_keys", "signing keys"),
    (
        "readiness",
        "one row with the time the readiness check last wrote",
    ),
    (
        "consent_receipts",
        "cookie choices under a random reference; nothing identifies the visitor",
    ),
    (
        "audit_log",
        "staff actions; it names staff (kept for accountability) and records only ids of people",
    ),
    (
        "rate_limits",
        "counters under keyed hashes of addresses, forgotten within the hour",
    ),
    ("polls", "questions"),
    ("poll_options", "answers and their counts"),
    (
        "poll_salts",
        "the day's secret for anonymous voter codes, deleted with the codes",
    ),
    (
        "consent_wordings",
        "the exact words consent boxes showed, shared by every event that used them",
    ),
    (
        "suppressions",
        "objections to direct marketing, under a one-way code of the address (kept after erasure so the objection still holds)",
    ),
    (
        "mailbox_refusals",
        "how many campaigns in a row an address refused as unavailable, under the suppression list's one-way code of the address; deleted by a delivery to it or when it is suppressed",
    ),
    ("forms", "form settings"),
    ("form_versions", "form questions"),
    (
        "campaigns",
        "campaign text written by staff, its audience filters and its schedule; recipients are in deliveries",
    ),
    (
        "campaign_totals",
        "counts of opens and clicks per campaign and link, left after per-recipient events are reduced",
    ),
];

/// The mapped entry for `table`, if any.
pub fn mapped(table: &str) -> Option<&'static Mapped> {
    PERSONAL.iter().find(|m| m.table == table)
}

/// Whether `table` is listed at all.
pub fn is_listed(table: &str) -> bool {
    mapped(table).is_some() || NOT_PERSONAL.iter().any(|(t, _)| *t == table)
}

/// A table of the schema and the tables its columns refer to, for the data-map check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    /// (column, referenced table)
    pub references: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_table_is_listed_twice() {
        let mut names: Vec<&str> = PERSONAL
            .iter()
            .map(|m| m.table)
            .chain(NOT_PERSONAL.iter().map(|(t, _)| *t))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn each_subject_has_its_own_table_mapped_by_id() {
        for (subject, table) in [(Subject::Person, "people"), (Subject::Account, "accounts")] {
            let own: Vec<_> = PERSONAL
                .iter()
                .filter(|m| m.subject == subject && m.column == "id")
                .collect();
            assert_eq!(own.len(), 1);
            assert_eq!(own[0].table, table);
        }
    }
}
