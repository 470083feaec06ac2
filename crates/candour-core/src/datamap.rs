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
    /// The columns whose stored form differs between the backends, and how each reads in an
    /// export (see [`export_rows`]). Every other column is text or a number on both and is
    /// exported as read.
    pub shaped: &'static [(&'static str, Shape)],
}

/// How a column reads in a person's export, whatever the backend stores.
///
/// The backends keep some values in their own idiom (SQLite: times as Unix seconds, flags as
/// 0 or 1, lists as space-separated words; PostgreSQL: `timestamptz`, `boolean`, `text[]`,
/// `bytea`). A person's copy of their data must not depend on which one the organisation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A moment, exported in RFC 3339 in UTC to the second: `"2026-06-01T09:00:00Z"`.
    Time,
    /// `true` or `false`.
    Flag,
    /// A list of words (interests), exported as an array of strings.
    Words,
    /// Bytes (hashes, secrets), exported as lowercase hex without a prefix.
    Bytes,
    /// JSON kept as text (form answers, pending grants), exported as the JSON itself rather
    /// than a string holding it.
    Json,
    /// A secret that signs someone in or opens a link (a password hash, the authenticator
    /// secret, the hash of a session, link or recovery code): never given out, not even to
    /// the person, since a copy in a downloaded file could be used to act as them. Exported
    /// as [`WITHHELD`] (or `null` when there is none), so the export still says it is held.
    Withheld,
}

/// What a person's export shows in place of a [`Shape::Withheld`] value.
pub const WITHHELD: &str = "withheld: a sign-in or link secret, never given out";

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
        shaped: &[
            ("at", Shape::Time),
            ("granted", Shape::Flag),
            ("wording_hash", Shape::Bytes),
        ],
    },
    Mapped {
        table: "form_responses",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Answers given on forms and surveys.",
        shaped: &[("answers", Shape::Json), ("submitted_at", Shape::Time)],
    },
    Mapped {
        table: "preference_links",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Single-use links to the preference centre (only their hashes).",
        shaped: &[
            ("hash", Shape::Withheld),
            ("expires_at", Shape::Time),
            ("used_at", Shape::Time),
        ],
    },
    Mapped {
        table: "consent_confirmations",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Consent given on a public form and not yet confirmed from the address: what was \
                agreed to, its wording and when. Forgotten when the link expires.",
        shaped: &[
            ("hash", Shape::Withheld),
            ("grants", Shape::Json),
            ("submitted_at", Shape::Time),
            ("expires_at", Shape::Time),
        ],
    },
    Mapped {
        table: "deliveries",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "Each campaign email sent to the person: when, whether it was tracked, whether it \
                bounced or they unsubscribed through it. Once unlinked it only counts towards the \
                campaign's figures.",
        shaped: &[
            ("queued_at", Shape::Time),
            ("next_attempt_at", Shape::Time),
            ("lease_until", Shape::Time),
            ("sent_at", Shape::Time),
            ("unsubscribed_at", Shape::Time),
            ("tracked", Shape::Flag),
            ("bounced", Shape::Flag),
            ("begun", Shape::Flag),
        ],
    },
    Mapped {
        table: "tracking_events",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "When the person opened a campaign email and which of its links they clicked, \
                only with their consent to tracking; reduced to totals that name nobody after \
                the retention period.",
        shaped: &[("at", Shape::Time), ("machine", Shape::Flag)],
    },
    Mapped {
        table: "data_requests",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "Requests the person made about their data (a copy, a correction, erasure, …) \
                and how each was handled. After erasure the case is kept, unlinked, as the \
                record that the request was answered.",
        shaped: &[
            ("elsewhere", Shape::Flag),
            ("submitted_at", Shape::Time),
            ("confirm_hash", Shape::Withheld),
            ("confirm_expires_at", Shape::Time),
            ("confirmed_at", Shape::Time),
            ("closed_at", Shape::Time),
        ],
    },
    Mapped {
        table: "data_request_waits",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "When the person was asked to clarify a request, and when they answered.",
        shaped: &[],
    },
    Mapped {
        table: "data_request_events",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "The history of the person's requests: each step, and staff notes about them.",
        shaped: &[("at", Shape::Time)],
    },
    Mapped {
        table: "request_answers",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "The copy of their data staff prepared to answer the person's request: when it \
                was built, its size, when it was sent and when it was downloaded.",
        shaped: &[
            ("built_at", Shape::Time),
            ("link_hash", Shape::Withheld),
            ("link_expires_at", Shape::Time),
            ("released_at", Shape::Time),
            ("downloaded_at", Shape::Time),
        ],
    },
    Mapped {
        table: "request_files",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "Files from other systems that staff added to the answer to the person's \
                request: the name, size and when each was added (the files themselves are in \
                the bundle's files folder).",
        shaped: &[("added_at", Shape::Time)],
    },
    Mapped {
        table: "request_withholdings",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Unlink,
        holds: "What staff left out of the answer to the person's request, and on what ground.",
        shaped: &[("withheld_at", Shape::Time)],
    },
    Mapped {
        table: "people",
        subject: Subject::Person,
        column: "id",
        erasure: Erasure::Delete,
        holds: "Contact details, interests, where the record came from.",
        shaped: &[
            ("interests", Shape::Words),
            ("created_at", Shape::Time),
            ("updated_at", Shape::Time),
            ("restricted_since", Shape::Time),
        ],
    },
    Mapped {
        table: "sessions",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Current sign-ins (only hashes of their secrets).",
        shaped: &[
            ("hash", Shape::Withheld),
            ("created_at", Shape::Time),
            ("last_seen_at", Shape::Time),
        ],
    },
    Mapped {
        table: "email_links",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Single-use links sent to confirm an address or reset a password.",
        shaped: &[
            ("hash", Shape::Withheld),
            ("expires_at", Shape::Time),
            ("used_at", Shape::Time),
        ],
    },
    Mapped {
        table: "recovery_codes",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Delete,
        holds: "Hashes of second-factor recovery codes.",
        shaped: &[("hash", Shape::Withheld)],
    },
    Mapped {
        table: "poll_votes",
        subject: Subject::Account,
        column: "account_id",
        erasure: Erasure::Unlink,
        holds: "That the account voted in a poll; the vote itself stays counted.",
        shaped: &[("voter_hash", Shape::Bytes), ("created_at", Shape::Time)],
    },
    Mapped {
        table: "people_imports",
        subject: Subject::Account,
        column: "actor_id",
        erasure: Erasure::Delete,
        holds: "Files staff uploaded to import people, until confirmed or a day old.",
        shaped: &[("created_at", Shape::Time), ("committed_at", Shape::Time)],
    },
    Mapped {
        table: "disclosure_people",
        subject: Subject::Person,
        column: "person_id",
        erasure: Erasure::Delete,
        holds: "That an export of personal data from the console covered the person: which \
                disclosure (its recipient, basis, date and kind are in the register).",
        shaped: &[],
    },
    Mapped {
        table: "accounts",
        subject: Subject::Account,
        column: "id",
        erasure: Erasure::Delete,
        holds: "Sign-in details and the profile.",
        shaped: &[
            ("password_hash", Shape::Withheld),
            ("email_verified", Shape::Flag),
            ("interests", Shape::Words),
            ("totp_secret", Shape::Withheld),
            ("created_at", Shape::Time),
        ],
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
        "stats_salts",
        "the day's secret for visitors' day hashes in the site statistics, deleted when the day is over",
    ),
    (
        "stats_hits",
        "page views and events waiting minutes to be counted: a path, a referring host, campaign tags, browser, system, device class and country, under a day hash that nothing links to a person once its salt is gone; no address",
    ),
    (
        "stats_visits",
        "visits not yet ended under a visitor's day hash (no address), deleted when they end",
    ),
    (
        "stats_seen",
        "one-way marks that a day hash was already counted in a row of totals, deleted with the day's salt",
    ),
    (
        "stats_totals",
        "counts of visitors, visits, page views and events per hour or day and value",
    ),
    (
        "stats_pairs",
        "daily counts of one value among the visits that had another value",
    ),
    (
        "stats_pair_spans",
        "weekly and monthly counts of one value among the visits that had another value",
    ),
    (
        "stats_pairs_rolled",
        "the first day whose counts are not yet in the weekly and monthly counts",
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
        "campaign_queuing",
        "how far a campaign's audience is queued: a number to continue after, deleted once the whole audience is queued",
    ),
    (
        "disclosure_recipients",
        "the register of organisations personal data may be passed to, and why",
    ),
    (
        "disclosures",
        "each export of personal data: who on the staff made it, for whom, what and how many people; the people covered are in disclosure_people",
    ),
    (
        "request_templates",
        "the wording of the requests room's emails as staff edited it; names staff by account id only",
    ),
    (
        "request_digests",
        "the days the digest of due requests was sent",
    ),
    (
        "request_file_contents",
        "the bytes of each file in request_files (a mapped table), deleted with its row; the person receives them as files in their bundle",
    ),
    (
        "request_item_versions",
        "how many changes a case's added files and withheld items had, and at which one its bundle was built",
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

/// A stored value that does not read as its column's [`Shape`]: the database holds something
/// Candour never writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table}.{column} holds {found}, which does not read as {shape:?}")]
pub struct ExportError {
    pub table: String,
    pub column: String,
    pub shape: Shape,
    pub found: String,
}

/// The shape of `table.column` in an export, if it is not exported as read.
pub fn shape(table: &str, column: &str) -> Option<Shape> {
    mapped(table)?
        .shaped
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, s)| *s)
}

/// A person's rows of `table` as their export shows them, from the rows as a backend read
/// them (a JSON array of objects, one key per column).
///
/// The one rule for how a stored value reads in an export: each column of [`Mapped::shaped`]
/// is brought to its [`Shape`] from either backend's form, `null` stays `null`, and every other
/// value is kept. Rows come ordered by `id` where the table has one, otherwise by their
/// content, so the same data gives the same export on every backend.
pub fn export_rows(table: &str, rows: serde_json::Value) -> Result<serde_json::Value, ExportError> {
    use serde_json::Value;
    let rows = match rows {
        Value::Array(rows) => rows,
        Value::Null => Vec::new(),
        other => {
            return Err(ExportError {
                table: table.to_owned(),
                column: String::new(),
                shape: Shape::Json,
                found: format!("{other} instead of a list of rows"),
            });
        }
    };
    export_batch(table, rows).map(Value::Array)
}

/// [`export_rows`] on rows already apart: a batch of a table's rows as their export shows
/// them. A table's rows may come in several batches when each comes by `id` and the batches
/// follow one another.
pub fn export_batch(
    table: &str,
    rows: Vec<serde_json::Value>,
) -> Result<Vec<serde_json::Value>, ExportError> {
    use serde_json::Value;
    // Each row is reshaped where it lies: only the columns the map shapes are touched.
    let shaped = mapped(table).map_or(&[][..], |m| m.shaped);
    let mut out = rows;
    for row in &mut out {
        let Some(fields) = row.as_object_mut() else {
            return Err(ExportError {
                table: table.to_owned(),
                column: String::new(),
                shape: Shape::Json,
                found: format!("{row} instead of a row"),
            });
        };
        for &(column, shape) in shaped {
            if let Some(value) = fields.get_mut(column) {
                shape_in_place(table, column, shape, value)?;
            }
        }
    }
    let id = |row: &Value| row.get("id").and_then(Value::as_i64);
    order_rows(&mut out, id, Value::to_string);
    Ok(out)
}

/// `value` of `table.column` brought to `shape` where it lies (see [`export_rows`]).
pub(crate) fn shape_in_place(
    table: &str,
    column: &str,
    shape: Shape,
    value: &mut serde_json::Value,
) -> Result<(), ExportError> {
    *value = export_value(shape, value.take()).map_err(|found| ExportError {
        table: table.to_owned(),
        column: column.to_owned(),
        shape,
        found,
    })?;
    Ok(())
}

/// The one order of an export's rows (see [`export_rows`]): pages of a table with ids come
/// ordered by id already and are left as they are; other rows are ordered by id, then by
/// their content (`content`: the row as JSON text).
pub(crate) fn order_rows<R>(
    rows: &mut [R],
    id: impl Fn(&R) -> Option<i64>,
    content: impl Fn(&R) -> String,
) {
    let by_id = rows.iter().all(|r| id(r).is_some()) && rows.is_sorted_by_key(&id);
    if !by_id {
        rows.sort_by_cached_key(|row| (id(row), content(row)));
    }
}

/// One stored value brought to `shape`; the error describes what was found instead.
fn export_value(shape: Shape, value: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    use time::format_description::well_known::Rfc3339;
    let odd = |v: &Value| v.to_string();
    if value.is_null() {
        return Ok(Value::Null);
    }
    match shape {
        Shape::Time => {
            let at = match &value {
                Value::Number(n) => n
                    .as_i64()
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()),
                Value::String(s) => time::OffsetDateTime::parse(s, &Rfc3339).ok(),
                _ => None,
            }
            .ok_or_else(|| odd(&value))?;
            at.to_offset(time::UtcOffset::UTC)
                .replace_nanosecond(0)
                .ok()
                .and_then(|at| at.format(&Rfc3339).ok())
                .map(Value::String)
                .ok_or_else(|| odd(&value))
        }
        Shape::Flag => match &value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
            _ => Err(odd(&value)),
        },
        Shape::Words => match value {
            Value::String(s) => Ok(Value::Array(
                s.split_whitespace()
                    .map(|w| Value::String(w.to_owned()))
                    .collect(),
            )),
            Value::Array(words) if words.iter().all(Value::is_string) => Ok(Value::Array(words)),
            other => Err(odd(&other)),
        },
        Shape::Bytes => {
            let Value::String(s) = &value else {
                return Err(odd(&value));
            };
            let hex = s.strip_prefix("\\x").unwrap_or(s);
            if hex.len() % 2 == 0 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Value::String(hex.to_ascii_lowercase()))
            } else {
                Err(odd(&value))
            }
        }
        Shape::Withheld => Ok(Value::String(WITHHELD.to_owned())),
        Shape::Json => match value {
            Value::String(s) => serde_json::from_str(&s).map_err(|_| odd(&Value::String(s))),
            other => Ok(other),
        },
    }
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

    fn one(table: &str, row: serde_json::Value) -> serde_json::Value {
        let rows = export_rows(table, serde_json::json!([row])).unwrap();
        rows[0].clone()
    }

    #[test]
    fn a_row_reads_the_same_from_either_backend() {
        use serde_json::json;
        // As SQLite reads it: Unix seconds, 0/1, space-separated words, uppercase hex, text.
        let sqlite = one(
            "people",
            json!({"id": 1, "interests": "road-safety parks", "created_at": 1780304400,
                   "updated_at": 1780304400, "phone": null}),
        );
        // As PostgreSQL reads it: `timestamptz` with an offset, `text[]`.
        let postgres = one(
            "people",
            json!({"id": 1, "interests": ["road-safety", "parks"],
                   "created_at": "2026-06-01T10:00:00+01:00",
                   "updated_at": "2026-06-01T09:00:00.654321+00:00", "phone": null}),
        );
        let want = json!({"id": 1, "interests": ["road-safety", "parks"],
                          "created_at": "2026-06-01T09:00:00Z",
                          "updated_at": "2026-06-01T09:00:00Z", "phone": null});
        assert_eq!(sqlite, want);
        assert_eq!(postgres, want);
    }

    #[test]
    fn flags_bytes_and_json_text_take_one_form() {
        use serde_json::json;
        let sqlite = one(
            "consent_events",
            json!({"granted": 1, "wording_hash": "0A1B", "at": 0}),
        );
        let postgres = one(
            "consent_events",
            json!({"granted": true, "wording_hash": "\\x0a1b", "at": "1970-01-01T00:00:00+00:00"}),
        );
        let want = json!({"granted": true, "wording_hash": "0a1b", "at": "1970-01-01T00:00:00Z"});
        assert_eq!(sqlite, want);
        assert_eq!(postgres, want);
        assert_eq!(
            one("tracking_events", json!({"machine": 0}))["machine"],
            false
        );
        assert_eq!(
            one("people", json!({"interests": ""}))["interests"],
            json!([])
        );
        let answers = one(
            "form_responses",
            json!({"answers": "[[\"q1\",\"erin@example.org\"]]"}),
        );
        assert_eq!(answers["answers"], json!([["q1", "erin@example.org"]]));
    }

    #[test]
    fn a_value_candour_never_writes_is_refused_with_its_column() {
        use serde_json::json;
        for (table, row) in [
            ("consent_events", json!({"granted": 2})),
            ("consent_events", json!({"at": "yesterday"})),
            ("poll_votes", json!({"voter_hash": "xyz"})),
            ("poll_votes", json!({"voter_hash": "abc"})),
            ("form_responses", json!({"answers": "[unclosed"})),
            ("people", json!({"interests": 3})),
        ] {
            let err = export_rows(table, json!([row])).unwrap_err();
            assert_eq!(err.table, table);
            assert!(!err.column.is_empty(), "{err}");
        }
        assert!(export_rows("people", json!({"id": 1})).is_err());
    }

    #[test]
    fn rows_come_in_one_order() {
        use serde_json::json;
        let rows = export_rows("form_responses", json!([{"id": 2}, {"id": 1}])).unwrap();
        assert_eq!(rows, json!([{"id": 1}, {"id": 2}]));
        let rows = export_rows(
            "poll_votes",
            json!([{"voter_hash": "BB"}, {"voter_hash": "\\xaa"}]),
        )
        .unwrap();
        assert_eq!(rows, json!([{"voter_hash": "aa"}, {"voter_hash": "bb"}]));
        assert_eq!(export_rows("sessions", json!(null)).unwrap(), json!([]));
    }

    #[test]
    fn sign_in_and_link_secrets_are_never_exported() {
        let rows = serde_json::json!([
            {"id": 1, "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "totp_secret": "\\xabab"},
            {"id": 2, "password_hash": "$argon2id$…", "totp_secret": null},
        ]);
        let out = export_rows("accounts", rows).unwrap();
        assert_eq!(out[0]["password_hash"], WITHHELD);
        assert_eq!(out[0]["totp_secret"], WITHHELD);
        assert_eq!(
            out[1]["totp_secret"],
            serde_json::Value::Null,
            "none held: none said"
        );
        for table in [
            "sessions",
            "email_links",
            "recovery_codes",
            "preference_links",
        ] {
            let out = export_rows(table, serde_json::json!([{"id": 1, "hash": "00ff"}])).unwrap();
            assert_eq!(out[0]["hash"], WITHHELD, "{table}");
        }
    }

    #[test]
    fn every_shaped_column_is_named_once() {
        for m in PERSONAL {
            let mut columns: Vec<&str> = m.shaped.iter().map(|(c, _)| *c).collect();
            let n = columns.len();
            columns.sort_unstable();
            columns.dedup();
            assert_eq!(columns.len(), n, "{}", m.table);
        }
    }
}
