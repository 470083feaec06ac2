//! Importing people from a CSV file: the whole file is checked before anything is stored,
//! and every row that cannot be used is reported with its line, column and reason.

use std::collections::HashMap;

use crate::account::{EmailAddress, Phone, Postcode, plain_text};
use time::OffsetDateTime;

use crate::forms::PersonPatch;
use crate::people::{ConsentEvent, ConsentRefused, Method, NewConsent, check_consents};
use crate::purposes::{Channel, Purpose};

/// The columns a file may have; `email` is required.
pub const COLUMNS: &[&str] = &[
    "email",
    "name",
    "job_title",
    "phone",
    "postal_address",
    "postcode",
    "interests",
];

/// The most data rows one import takes; larger lists are split into several files.
pub const MAX_ROWS: usize = 50_000;

/// A row that can be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line of the file it came from (the header is line 1).
    pub line: u64,
    pub email: EmailAddress,
    pub patch: PersonPatch,
}

/// A row that cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub message: String,
}

/// The result of checking a whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportCheck {
    pub rows: Vec<ImportRow>,
    pub errors: Vec<RowError>,
}

/// Why a file cannot be imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefused {
    #[error(
        "The file is not UTF-8 text (the first bad byte is at position {0}). Save it as \"CSV UTF-8\" and try again"
    )]
    NotUtf8(usize),
    #[error("The file is empty")]
    Empty,
    #[error("{0}")]
    Header(String),
    #[error(
        "The file has {0} rows; one import takes at most {MAX_ROWS}. Split it into smaller files"
    )]
    TooManyRows(usize),
    #[error("The file is not valid CSV: {0}")]
    Csv(String),
}

/// Check a file. `topics` are the topic ids interests may name.
pub fn check(bytes: &[u8], topics: &[String]) -> Result<ImportCheck, ImportRefused> {
    let text = std::str::from_utf8(bytes).map_err(|e| ImportRefused::NotUtf8(e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportRefused::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| ImportRefused::Csv(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut index = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        if !COLUMNS.contains(&h.as_str()) {
            return Err(ImportRefused::Header(format!(
                "The header names a column `{}` that cannot be imported. Allowed columns: {}",
                h.chars().take(40).collect::<String>(),
                COLUMNS.join(", ")
            )));
        }
        if index.insert(h.as_str(), i).is_some() {
            return Err(ImportRefused::Header(format!(
                "The header names the column `{h}` twice"
            )));
        }
    }
    if !index.contains_key("email") {
        return Err(ImportRefused::Header(format!(
            "The first line must be a header with an `email` column. Allowed columns: {}",
            COLUMNS.join(", ")
        )));
    }
    let lines = LineIndex::new(text);
    let mut out = ImportCheck::default();
    let mut seen: HashMap<EmailAddress, u64> = HashMap::new();
    let mut count = 0usize;
    for record in reader.records() {
        count += 1;
        if count > MAX_ROWS {
            // Count the rest so the report says how big the file is.
            let rest = text.lines().count().saturating_sub(1);
            return Err(ImportRefused::TooManyRows(rest.max(count)));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                out.errors.push(RowError {
                    line,
                    column: String::new(),
                    message: format!("This row cannot be read: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let cell = |name: &str| -> &str {
            index
                .get(name)
                .and_then(|i| record.get(*i))
                .map_or("", str::trim)
        };
        let mut fail = |column: &str, message: String| {
            out.errors.push(RowError {
                line,
                column: column.to_owned(),
                message,
            });
        };
        let email = match EmailAddress::parse(cell("email")) {
            Ok(e) => e,
            Err(e) => {
                fail("email", e.0);
                continue;
            }
        };
        if let Some(first) = seen.get(&email) {
            fail(
                "email",
                format!("This address is already on line {first} of the file"),
            );
            continue;
        }
        let mut patch = PersonPatch::default();
        let mut ok = true;
        for column in ["name", "job_title", "postal_address"] {
            if !index.contains_key(column) {
                continue;
            }
            match plain_text(cell(column), 300, column) {
                Ok(v) => match column {
                    "name" => patch.name = Some(v),
                    "job_title" => patch.job_title = Some(v),
                    _ => patch.postal_address = Some(v),
                },
                Err(e) => {
                    fail(column, e.0);
                    ok = false;
                }
            }
        }
        if !cell("phone").is_empty() {
            match Phone::parse(cell("phone")) {
                Ok(p) => patch.phone = Some(p),
                Err(e) => {
                    fail("phone", e.0);
                    ok = false;
                }
            }
        }
        if !cell("postcode").is_empty() {
            match Postcode::parse(cell("postcode")) {
                Ok(p) => patch.postcode = Some(p),
                Err(e) => {
                    fail("postcode", e.0);
                    ok = false;
                }
            }
        }
        if index.contains_key("interests") {
            let wanted: Vec<String> = cell("interests")
                .split([';', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            match wanted.iter().find(|w| !topics.contains(w)) {
                Some(bad) => {
                    fail(
                        "interests",
                        format!(
                            "`{}` is not a topic. Topics: {}",
                            bad.chars().take(40).collect::<String>(),
                            topics.join(", ")
                        ),
                    );
                    ok = false;
                }
                None => patch.interests = Some(wanted),
            }
        }
        if ok {
            seen.insert(email.clone(), line);
            out.rows.push(ImportRow { line, email, patch });
        }
    }
    if count == 0 {
        return Err(ImportRefused::Empty);
    }
    Ok(out)
}

/// Line numbers as a spreadsheet or an editor shows them, whatever the line endings
/// (`\n`, `\r\n` or a lone `\r`).
struct LineIndex {
    /// Byte offsets where each line after the first starts.
    starts: Vec<u64>,
    /// Where each line break is, so a position the reader gives on the break before a record
    /// (as it does after `\r\n`) counts as the record's own line.
    breaks: Vec<bool>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let breaks = bytes.iter().map(|b| *b == b'\r' || *b == b'\n').collect();
        let mut starts = Vec::new();
        for (i, b) in bytes.iter().enumerate() {
            let ends_line = *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends_line {
                starts.push(i as u64 + 1);
            }
        }
        LineIndex { starts, breaks }
    }

    /// The 1-based line holding byte `offset`.
    fn line_at(&self, offset: u64) -> u64 {
        let mut at = offset;
        while usize::try_from(at)
            .ok()
            .and_then(|i| self.breaks.get(i))
            .copied()
            .unwrap_or(false)
        {
            at += 1;
        }
        self.starts.partition_point(|s| *s <= at) as u64 + 1
    }
}

/// Evidence an import carries for its people's consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEvidence {
    /// The purposes and channels the file's source recorded consent to.
    pub consents: Vec<(String, Option<Channel>)>,
    /// Where the file came from and when its people agreed, in staff's words.
    pub source: String,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    pub created: u64,
    pub updated: u64,
    pub consents: u64,
    /// Consents the file claimed for addresses that objected to direct marketing: not
    /// recorded.
    pub suppressed: u64,
    /// Consents the file claimed for people who had already made their own choice about
    /// that purpose and channel: not recorded.
    pub kept: u64,
}

/// The consent events an import appends for one row, and the claims it leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowConsents {
    pub events: Vec<NewConsent>,
    /// Claims for an address that objected to direct marketing on the channel.
    pub suppressed: u64,
    /// Claims for a purpose and channel the person already made their own choice about.
    pub kept: u64,
}

impl ImportEvidence {
    /// Decide the consents import `import` appends for one person: `known` is their ledger
    /// (empty for a person the import created) and `suppressed` their address's suppression
    /// list. A choice the person already made (given or withdrawn) is newer than anything a
    /// file can prove, so the import never overrides it; a claim on a channel the address
    /// objected to is left out and counted; any other refusal refuses the import.
    pub fn row_consents(
        &self,
        import: i64,
        purposes: &[Purpose],
        known: &[ConsentEvent],
        suppressed: &[Channel],
    ) -> Result<RowConsents, ConsentRefused> {
        let mut out = RowConsents::default();
        for (purpose, channel) in &self.consents {
            if known
                .iter()
                .any(|e| &e.purpose == purpose && e.channel == *channel)
            {
                out.kept += 1;
                continue;
            }
            let event = NewConsent {
                purpose: purpose.clone(),
                channel: *channel,
                granted: true,
                method: Method::Import { import },
                wording: None,
                actor: None,
                note: self.source.clone(),
            };
            match check_consents(purposes, std::slice::from_ref(&event), suppressed) {
                Ok(_) => out.events.push(event),
                Err(ConsentRefused::Suppressed(_)) => out.suppressed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl ImportOutcome {
    /// Count one imported row: its person `created` or updated, and its consents when the
    /// import carried evidence.
    pub fn count(&mut self, created: bool, consents: Option<&RowConsents>) {
        if created {
            self.created += 1;
        } else {
            self.updated += 1;
        }
        if let Some(c) = consents {
            self.consents += c.events.len() as u64;
            self.suppressed += c.suppressed;
            self.kept += c.kept;
        }
    }
}

/// A staged import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedImport {
    pub id: i64,
    pub actor: i64,
    pub csv: String,
    pub created_at: OffsetDateTime,
    pub committed_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Vec<String> {
        vec!["roads".to_owned(), "events".to_owned()]
    }

    #[test]
    fn good_rows_are_kept_and_bad_rows_are_reported() {
        let file = "\u{feff}Email,name,postcode,interests\n\
                    jo@example.org,Jo,sw1a1aa,roads;events\n\
                    not-an-email,Al,,\n\
                    sam@example.org,Sam,XYZ,\n\
                    JO@example.org,Jo again,,\n\
                    kit@example.org,\"=HYPERLINK(\"\"x\"\")\",,\n";
        let c = check(file.as_bytes(), &topics()).unwrap();
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.rows[0].email.as_str(), "jo@example.org");
        assert_eq!(
            c.rows[0].patch.postcode.as_ref().unwrap().as_str(),
            "SW1A 1AA"
        );
        assert_eq!(c.rows[1].patch.name.as_deref(), Some("=HYPERLINK(\"x\")"));
        let e: Vec<(u64, &str)> = c
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(e, vec![(3, "email"), (4, "postcode"), (5, "email")]);
        assert!(c.errors[2].message.contains("line 2"));
    }

    #[test]
    fn a_file_that_cannot_be_used_is_refused_whole() {
        assert!(matches!(
            check(b"email,name\njo@example.org,\xff\xfe", &topics()),
            Err(ImportRefused::NotUtf8(_))
        ));
        assert!(matches!(check(b"", &topics()), Err(ImportRefused::Empty)));
        assert!(matches!(
            check(b"email\n", &topics()),
            Err(ImportRefused::Empty)
        ));
        let e = check(b"mail,name\nx@example.org,X\n", &topics()).unwrap_err();
        assert!(e.to_string().contains("`mail`"), "{e}");
        let e = check(b"name\nX\n", &topics()).unwrap_err();
        assert!(e.to_string().contains("email"), "{e}");
        let mut big = String::from("email\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("p{i}@example.org\n"));
        }
        assert_eq!(
            check(big.as_bytes(), &topics()),
            Err(ImportRefused::TooManyRows(MAX_ROWS + 1))
        );
    }

    #[test]
    fn line_numbers_do_not_depend_on_line_endings() {
        for eol in ["\n", "\r\n", "\r"] {
            let file = [
                "email,postcode",
                "jo@example.org,",
                "al@example.org,XYZ",
                "bad,",
                "jo@example.org,",
            ]
            .join(eol);
            let c = check(file.as_bytes(), &topics()).unwrap();
            assert_eq!(c.rows.len(), 1, "{eol:?}");
            assert_eq!(c.rows[0].line, 2, "{eol:?}");
            let lines: Vec<u64> = c.errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![3, 4, 5], "{eol:?}");
            assert!(c.errors[2].message.contains("line 2"), "{eol:?}");
        }
        // A quoted field over two lines: the next row keeps its real line number.
        let c = check(
            b"email,name\n\"jo@example.org\",\"Jo\nSmith\"\nbad,x\n",
            &topics(),
        )
        .unwrap();
        let lines: Vec<(u64, &str)> = c
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(lines, vec![(2, "name"), (4, "email")]);
    }

    #[test]
    fn a_ragged_row_is_reported_not_fatal() {
        let c = check(
            b"email,name\njo@example.org,Jo,extra\nal@example.org,Al\n",
            &topics(),
        )
        .unwrap();
        assert_eq!(c.rows.len(), 1);
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].line, 2);
    }

    #[test]
    fn an_import_keeps_the_persons_own_choice_and_leaves_out_suppressed_channels() {
        use crate::config::{Config, PurposeConfig};
        use crate::purposes::{LawfulBasis, registry};
        let mut c = Config::default();
        c.purposes.push(PurposeConfig {
            id: "news".to_owned(),
            name: "News".to_owned(),
            description: "News".to_owned(),
            data: "Email".to_owned(),
            lawful_basis: LawfulBasis::Consent,
            retention_days: 365,
            channels: vec![Channel::Email, Channel::Post, Channel::Phone],
            direct_marketing: true,
            consent_label: "Send me news".to_owned(),
        });
        let purposes = registry(&c);
        let evidence = ImportEvidence {
            consents: vec![
                ("news".to_owned(), Some(Channel::Email)),
                ("news".to_owned(), Some(Channel::Post)),
                ("news".to_owned(), Some(Channel::Phone)),
            ],
            source: "Signed up at the fair".to_owned(),
        };
        let withdrew = NewConsent {
            purpose: "news".to_owned(),
            channel: Some(Channel::Post),
            granted: false,
            method: Method::PreferenceCentre,
            wording: None,
            actor: None,
            note: String::new(),
        }
        .appended(1, 1, OffsetDateTime::UNIX_EPOCH);
        let row = evidence
            .row_consents(4, &purposes, &[withdrew], &[Channel::Phone])
            .unwrap();
        assert_eq!((row.kept, row.suppressed), (1, 1));
        assert_eq!(row.events.len(), 1);
        assert_eq!(row.events[0].channel, Some(Channel::Email));
        assert_eq!(row.events[0].method, Method::Import { import: 4 });
        assert_eq!(row.events[0].note, "Signed up at the fair");
        let mut out = ImportOutcome::default();
        out.count(false, Some(&row));
        out.count(true, None);
        assert_eq!(
            out,
            ImportOutcome {
                created: 1,
                updated: 1,
                consents: 1,
                suppressed: 1,
                kept: 1
            }
        );
        // A claim the registry does not know refuses the whole import.
        let unknown = ImportEvidence {
            consents: vec![("nope".to_owned(), None)],
            source: String::new(),
        };
        assert!(matches!(
            unknown.row_consents(4, &purposes, &[], &[]),
            Err(ConsentRefused::UnknownPurpose(_))
        ));
    }
}
