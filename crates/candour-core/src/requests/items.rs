//! What staff add to a person's bundle and leave out of it before it is released.
//!
//! An *added file* is a document from another system (a letter, a scan, an export from a
//! case-management tool) that becomes part of the answer: it sits in the bundle's `files/`
//! folder and its row in `request_files` says what it is. A *withheld item* is one of:
//! a whole kind of data (a table of the data map), one row of a kind by its `id`, or an added
//! file (a row of `request_files`). Each is left out with a ground the law allows and a
//! note; the released bundle says what was left out and why, because the person must be told.

use serde::Serialize;
use time::OffsetDateTime;

use crate::datamap;
use crate::fields::{FieldError, FieldErrors};

/// The table whose rows are the added files, so a file is withheld like any other row.
pub const FILES_TABLE: &str = "request_files";
/// The table of withheld items: never itself withheld, since it is how the person is told.
pub const WITHHELD_TABLE: &str = "request_withholdings";

/// Why an item is left out: the common exemptions of the Data Protection Act 2018 and the
/// rule on other people's data, or another reason staff write out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ground {
    /// Another person's data, without their consent and where it is not reasonable to
    /// disclose it (DPA 2018 Sch 2 para 16).
    OtherPerson,
    /// Crime and taxation (Sch 2 para 2).
    Crime,
    /// Legal professional privilege (Sch 2 para 19).
    LegalPrivilege,
    /// Self-incrimination (Sch 2 para 20).
    SelfIncrimination,
    /// Management forecasts (Sch 2 para 22).
    ManagementForecasts,
    /// Negotiations with the person (Sch 2 para 23).
    Negotiations,
    /// Confidential references (Sch 2 para 24).
    References,
    /// Health data whose disclosure would be likely to cause serious harm (Sch 3 para 5).
    SeriousHarmHealth,
    /// Social work data, serious harm (Sch 3 Part 3).
    SocialWork,
    /// Education data, serious harm (Sch 3 Part 4).
    Education,
    /// Another reason, written in the note.
    Other,
}

impl Ground {
    pub const ALL: [Ground; 11] = [
        Ground::OtherPerson,
        Ground::Crime,
        Ground::LegalPrivilege,
        Ground::SelfIncrimination,
        Ground::ManagementForecasts,
        Ground::Negotiations,
        Ground::References,
        Ground::SeriousHarmHealth,
        Ground::SocialWork,
        Ground::Education,
        Ground::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Ground::OtherPerson => "other-person",
            Ground::Crime => "crime",
            Ground::LegalPrivilege => "legal-privilege",
            Ground::SelfIncrimination => "self-incrimination",
            Ground::ManagementForecasts => "management-forecasts",
            Ground::Negotiations => "negotiations",
            Ground::References => "references",
            Ground::SeriousHarmHealth => "health-serious-harm",
            Ground::SocialWork => "social-work",
            Ground::Education => "education",
            Ground::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Ground> {
        Ground::ALL.into_iter().find(|g| g.code() == code)
    }

    /// The ground as the person reads it in their bundle.
    pub fn label(self) -> &'static str {
        match self {
            Ground::OtherPerson => {
                "It is another person's data (Data Protection Act 2018, Schedule 2, paragraph 16)"
            }
            Ground::Crime => {
                "Disclosing it would be likely to prejudice the prevention or detection of crime \
                 (Data Protection Act 2018, Schedule 2, paragraph 2)"
            }
            Ground::LegalPrivilege => {
                "It is covered by legal professional privilege (Data Protection Act 2018, \
                 Schedule 2, paragraph 19)"
            }
            Ground::SelfIncrimination => {
                "Disclosing it would reveal evidence of an offence by us (Data Protection Act \
                 2018, Schedule 2, paragraph 20)"
            }
            Ground::ManagementForecasts => {
                "It is a management forecast whose disclosure would prejudice our business \
                 (Data Protection Act 2018, Schedule 2, paragraph 22)"
            }
            Ground::Negotiations => {
                "It records our intentions in negotiations with you (Data Protection Act 2018, \
                 Schedule 2, paragraph 23)"
            }
            Ground::References => {
                "It is a reference given in confidence (Data Protection Act 2018, Schedule 2, \
                 paragraph 24)"
            }
            Ground::SeriousHarmHealth => {
                "It is health data whose disclosure would be likely to cause serious harm \
                 (Data Protection Act 2018, Schedule 3, paragraph 5)"
            }
            Ground::SocialWork => {
                "It is social work data whose disclosure would be likely to cause serious harm \
                 (Data Protection Act 2018, Schedule 3, Part 3)"
            }
            Ground::Education => {
                "It is education data whose disclosure would be likely to cause serious harm \
                 (Data Protection Act 2018, Schedule 3, Part 4)"
            }
            Ground::Other => "Another reason, given below",
        }
    }

    /// A short name for the console's list.
    pub fn short(self) -> &'static str {
        match self {
            Ground::OtherPerson => "Another person's data (Sch 2 para 16)",
            Ground::Crime => "Crime and taxation (Sch 2 para 2)",
            Ground::LegalPrivilege => "Legal professional privilege (Sch 2 para 19)",
            Ground::SelfIncrimination => "Self-incrimination (Sch 2 para 20)",
            Ground::ManagementForecasts => "Management forecasts (Sch 2 para 22)",
            Ground::Negotiations => "Negotiations (Sch 2 para 23)",
            Ground::References => "Confidential references (Sch 2 para 24)",
            Ground::SeriousHarmHealth => "Health data, serious harm (Sch 3 para 5)",
            Ground::SocialWork => "Social work data, serious harm (Sch 3 Part 3)",
            Ground::Education => "Education data, serious harm (Sch 3 Part 4)",
            Ground::Other => "Other (say why)",
        }
    }
}

/// What is left out: a whole kind, or one row of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub table: String,
    /// `None`: every row of the kind.
    pub row: Option<i64>,
}

impl Item {
    /// Whether a row of `table` with `id` is covered by this item.
    pub fn covers(&self, table: &str, id: Option<i64>) -> bool {
        self.table == table && (self.row.is_none() || self.row == id)
    }

    /// The item in words: "every row of consent_events", "row 12 of consent_events", "the
    /// added file 3".
    pub fn describe(&self) -> String {
        match (self.table.as_str(), self.row) {
            (FILES_TABLE, Some(id)) => format!("the added file {id}"),
            (FILES_TABLE, None) => "every added file".to_owned(),
            (table, Some(id)) => format!("row {id} of {table}"),
            (table, None) => format!("every row of {table}"),
        }
    }
}

/// The longest note on a withheld item.
pub const NOTE_MAX: usize = 1000;

/// A decision to leave an item out, read from the case page's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withhold {
    pub item: Item,
    pub ground: Ground,
    pub note: String,
}

impl Withhold {
    /// `table` a kind of the data map (or `request_files`), `row` empty for the whole kind or
    /// a row's number, `ground` a [`Ground`] code, `note` required for [`Ground::Other`].
    pub fn parse(
        table: &str,
        row: &str,
        ground: &str,
        note: &str,
    ) -> Result<Withhold, FieldErrors> {
        let mut errors = FieldErrors::new();
        let table = table.trim();
        let kinds = || {
            datamap::PERSONAL
                .iter()
                .map(|m| m.table)
                .filter(|t| *t != WITHHELD_TABLE)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let known = datamap::mapped(table).is_some() && table != WITHHELD_TABLE;
        if !known {
            errors.push(
                FieldError::new("table", "is not a kind of data the bundle holds")
                    .with_allowed(kinds()),
            );
        }
        let row = row.trim();
        let row = if row.is_empty() {
            None
        } else {
            match row.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push(
                        FieldError::new("row", "is not a row number")
                            .with_allowed("a whole number from 1, or empty for the whole kind"),
                    );
                    None
                }
            }
        };
        let ground = Ground::parse(ground);
        if ground.is_none() {
            errors.push(
                FieldError::new("ground", "Choose why the item is withheld").with_allowed(
                    Ground::ALL
                        .iter()
                        .map(|g| g.code())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            );
        }
        let note = note.trim().replace("\r\n", "\n");
        if note.chars().count() > NOTE_MAX {
            errors.add("note", format!("must be {NOTE_MAX} characters or fewer"));
        } else if note.chars().any(|c| c.is_control() && c != '\n') {
            errors.add("note", "holds a control character; use plain text");
        } else if ground == Some(Ground::Other) && note.is_empty() {
            errors.add(
                "note",
                "Say why the item is withheld: the person is told this reason",
            );
        }
        match ground {
            Some(ground) if errors.is_empty() => Ok(Withhold {
                item: Item {
                    table: table.to_owned(),
                    row,
                },
                ground,
                note,
            }),
            _ => Err(errors),
        }
    }
}

/// An item withheld from a case's bundle, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withholding {
    pub id: i64,
    pub request: i64,
    pub item: Item,
    /// The ground's code (see [`Ground`]).
    pub ground: String,
    pub note: String,
    pub by: i64,
    pub at: OffsetDateTime,
}

impl Withholding {
    /// What the person is told about it in their bundle.
    pub fn told(&self) -> Told {
        Told {
            item: self.item.describe(),
            table: self.item.table.clone(),
            row: self.item.row,
            reason: Ground::parse(&self.ground)
                .map_or_else(|| self.ground.clone(), |g| g.label().to_owned()),
            note: self.note.clone(),
        }
    }
}

/// A withheld item as the bundle's `data.json` and summary give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Told {
    pub item: String,
    pub table: String,
    pub row: Option<i64>,
    pub reason: String,
    pub note: String,
}

/// A new item to withhold from a case's bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWithholding {
    pub request: i64,
    pub item: Item,
    pub ground: Ground,
    pub note: String,
    pub by: i64,
    pub at: OffsetDateTime,
}

/// A file staff added to a case's bundle (its content is read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFile {
    pub id: i64,
    pub request: i64,
    pub name: String,
    pub bytes: i64,
    pub by: i64,
    pub at: OffsetDateTime,
}

impl RequestFile {
    /// Where the file sits in the bundle: its number keeps two files of one name apart.
    pub fn entry(&self) -> String {
        format!("files/{}-{}", self.id, self.name)
    }
}

/// A file to add to a case's bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequestFile {
    pub request: i64,
    pub name: String,
    pub content: Vec<u8>,
    pub by: i64,
    pub at: OffsetDateTime,
}

/// How many changes a case's added files and withheld items have had, and at which of them
/// its bundle was last built: a bundle built before the latest change must be built again
/// before it is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemVersions {
    pub current: i64,
    pub built: Option<i64>,
}

impl ItemVersions {
    /// The built bundle leaves out something changed since (or the case never had a change
    /// recorded at a build).
    pub fn stale(self) -> bool {
        self.current > 0 && self.built != Some(self.current)
    }
}

/// The longest file name kept.
pub const NAME_MAX: usize = 100;

/// A file name from an upload made safe to keep and to put in a ZIP: only the last part of
/// any path, letters, digits, `.`, `-`, `_` and spaces (anything else becomes `_`), never
/// starting with a dot, at most [`NAME_MAX`] characters with the extension kept.
pub fn file_name(raw: &str) -> Result<String, FieldError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    name = name.trim().trim_start_matches(['.', ' ']).to_owned();
    if name.chars().count() > NAME_MAX {
        let ext: String = match name.rsplit_once('.') {
            Some((_, ext)) if ext.chars().count() <= 10 => format!(".{ext}"),
            _ => String::new(),
        };
        let keep = NAME_MAX - ext.chars().count();
        name = name.chars().take(keep).collect::<String>() + &ext;
    }
    if name.trim_matches(['_', '.', ' ']).is_empty() {
        return Err(FieldError::new("file", "has no usable name")
            .with_allowed("a file name with letters or digits, such as letter.pdf"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_odd_characters() {
        assert_eq!(file_name("letter.pdf").unwrap(), "letter.pdf");
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("C:\\Users\\x\\Scan 1.png").unwrap(), "Scan 1.png");
        assert_eq!(file_name(".htaccess").unwrap(), "htaccess");
        assert_eq!(file_name("a<b>\"c\".html").unwrap(), "a_b__c_.html");
        assert_eq!(file_name("naïve.txt").unwrap(), "naïve.txt");
        assert!(file_name("").is_err());
        assert!(file_name("../").is_err());
        assert!(file_name("???").is_err());
        let long = format!("{}.docx", "x".repeat(300));
        let kept = file_name(&long).unwrap();
        assert_eq!(kept.chars().count(), NAME_MAX);
        assert!(kept.ends_with(".docx"));
    }

    #[test]
    fn a_withheld_item_needs_a_known_kind_a_row_number_and_a_ground() {
        let w = Withhold::parse("consent_events", "12", "other-person", "").unwrap();
        assert_eq!(
            w.item,
            Item {
                table: "consent_events".into(),
                row: Some(12)
            }
        );
        assert_eq!(w.ground, Ground::OtherPerson);
        let whole = Withhold::parse("form_responses", " ", "crime", "Police enquiry").unwrap();
        assert_eq!(whole.item.row, None);
        let e = Withhold::parse("pg_catalog", "x", "because", "").unwrap_err();
        assert!(e.problem("table").is_some());
        assert!(e.problem("row").is_some());
        assert!(e.problem("ground").is_some());
        let e = Withhold::parse(WITHHELD_TABLE, "", "crime", "").unwrap_err();
        assert!(e.problem("table").is_some());
        let e = Withhold::parse("people", "-1", "crime", "").unwrap_err();
        assert!(e.problem("row").is_some());
        // "Other" says why, in words the person reads.
        let e = Withhold::parse("people", "", "other", "  ").unwrap_err();
        assert!(e.problem("note").is_some());
        let e = Withhold::parse("people", "", "crime", &"x".repeat(NOTE_MAX + 1)).unwrap_err();
        assert!(e.problem("note").is_some());
        assert!(Withhold::parse("people", "", "crime", "a\u{7}").is_err());
        assert!(Withhold::parse(FILES_TABLE, "3", "references", "").is_ok());
    }

    #[test]
    fn an_item_covers_its_rows_only() {
        let whole = Item {
            table: "consent_events".into(),
            row: None,
        };
        let one = Item {
            table: "consent_events".into(),
            row: Some(4),
        };
        assert!(whole.covers("consent_events", Some(9)));
        assert!(whole.covers("consent_events", None));
        assert!(!whole.covers("people", Some(9)));
        assert!(one.covers("consent_events", Some(4)));
        assert!(!one.covers("consent_events", Some(5)));
        assert!(!one.covers("consent_events", None));
        assert_eq!(one.describe(), "row 4 of consent_events");
        for g in Ground::ALL {
            assert_eq!(Ground::parse(g.code()), Some(g));
        }
    }

    #[test]
    fn a_bundle_is_stale_after_a_change_it_did_not_see() {
        assert!(!ItemVersions::default().stale());
        assert!(
            ItemVersions {
                current: 2,
                built: Some(1)
            }
            .stale()
        );
        assert!(
            ItemVersions {
                current: 1,
                built: None
            }
            .stale()
        );
        assert!(
            !ItemVersions {
                current: 3,
                built: Some(3)
            }
            .stale()
        );
    }
}
