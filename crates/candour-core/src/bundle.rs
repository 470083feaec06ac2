//! The answer to a request for a copy of one's data (UK GDPR Art 15) or for it in a
//! machine-readable form (Art 20): what goes in the bundle and how it is encoded.
//!
//! The bundle is one ZIP file: `data.json` (every table of the data map that holds the
//! person's data, plus the supplementary information Art 15 requires), one CSV per kind of
//! row (`csv/<table>.csv`, cells a spreadsheet would read as formulas neutralised) and
//! `index.html`, a readable summary. Entries are stored (not compressed) and written with a
//! data descriptor, so each is streamed once without knowing its size first: the writer holds
//! one entry's running CRC and the list of names, never the data.
//!
//! No I/O here: the writer takes any `std::io::Write`; the web crate gives it a temporary
//! file and renames it only when it is whole.

use std::io::{self, Write};

use serde::Serialize;
use time::OffsetDateTime;

use crate::datamap;
use crate::policy::Policy;

/// The entry holding everything, machine-readable.
pub const DATA_JSON: &str = "data.json";
/// The readable summary.
pub const INDEX_HTML: &str = "index.html";

/// The CSV entry of a table.
pub fn csv_name(table: &str) -> String {
    format!("csv/{table}.csv")
}

/// CRC-32 (IEEE), as ZIP stores it, continued from `crc` over `bytes` (start from 0).
pub fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(crc);
    hasher.update(bytes);
    hasher.finalize()
}

/// Bytes of entry data gathered before their CRC is taken and they are passed on: the JSON
/// and CSV writers write a few bytes at a time.
const CHUNK: usize = 64 * 1024;

/// A ZIP archive written front to back, one stored entry at a time.
pub struct ZipWriter<W: Write> {
    out: W,
    /// Data of the open entry not yet counted in its CRC nor passed to `out`.
    pending: Vec<u8>,
    /// Bytes written so far: the offset of whatever comes next.
    offset: u64,
    entries: Vec<Entry>,
    open: Option<Entry>,
    /// DOS date and time of every entry.
    stamp: (u16, u16),
}

struct Entry {
    name: String,
    offset: u64,
    crc: u32,
    size: u64,
}

/// ZIP without its 64-bit extension holds entries and archives under 4 GiB; a bundle larger
/// than that is refused rather than written wrong.
fn small(n: u64) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::other("the bundle is larger than 4 GiB"))
}

/// Flags: bit 3, sizes and CRC follow the data; bit 11, names are UTF-8.
const FLAGS: u16 = (1 << 3) | (1 << 11);

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W, at: OffsetDateTime) -> Self {
        let date = (((at.year() - 1980).clamp(0, 127) as u16) << 9)
            | ((u8::from(at.month()) as u16) << 5)
            | u16::from(at.day());
        let time = (u16::from(at.hour()) << 11)
            | (u16::from(at.minute()) << 5)
            | (u16::from(at.second()) / 2);
        ZipWriter {
            out,
            pending: Vec::with_capacity(CHUNK),
            offset: 0,
            entries: Vec::new(),
            open: None,
            stamp: (time, date),
        }
    }

    /// Count the pending data in the open entry's CRC and size, and pass it on.
    fn drain(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let Some(entry) = self.open.as_mut() else {
            return Err(io::Error::other("no entry is open"));
        };
        entry.crc = crc32(entry.crc, &self.pending);
        entry.size += self.pending.len() as u64;
        self.out.write_all(&self.pending)?;
        self.offset += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.drain()?;
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Begin the entry `name`, closing any open one.
    pub fn start(&mut self, name: &str) -> io::Result<()> {
        self.end()?;
        let offset = self.offset;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // stored
        h.extend_from_slice(&self.stamp.0.to_le_bytes());
        h.extend_from_slice(&self.stamp.1.to_le_bytes());
        h.extend_from_slice(&[0; 12]); // CRC and sizes: in the descriptor
        h.extend_from_slice(&small(name.len() as u64)?.to_le_bytes()[..2]);
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        self.put(&h)?;
        self.open = Some(Entry {
            name: name.to_owned(),
            offset,
            crc: 0,
            size: 0,
        });
        Ok(())
    }

    /// Close the open entry with its data descriptor.
    fn end(&mut self) -> io::Result<()> {
        self.drain()?;
        let Some(entry) = self.open.take() else {
            return Ok(());
        };
        let size = small(entry.size)?;
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
        d.extend_from_slice(&entry.crc.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        self.put(&d)?;
        self.entries.push(entry);
        Ok(())
    }

    /// Close the last entry, write the central directory and hand back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.end()?;
        let start = self.offset;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let mut c = Vec::with_capacity(46 + e.name.len());
            c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            c.extend_from_slice(&20u16.to_le_bytes()); // made by
            c.extend_from_slice(&20u16.to_le_bytes()); // needed
            c.extend_from_slice(&FLAGS.to_le_bytes());
            c.extend_from_slice(&0u16.to_le_bytes());
            c.extend_from_slice(&self.stamp.0.to_le_bytes());
            c.extend_from_slice(&self.stamp.1.to_le_bytes());
            c.extend_from_slice(&e.crc.to_le_bytes());
            c.extend_from_slice(&small(e.size)?.to_le_bytes());
            c.extend_from_slice(&small(e.size)?.to_le_bytes());
            c.extend_from_slice(&small(e.name.len() as u64)?.to_le_bytes()[..2]);
            c.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
            c.extend_from_slice(&small(e.offset)?.to_le_bytes());
            c.extend_from_slice(e.name.as_bytes());
            self.put(&c)?;
        }
        let size = small(self.offset - start)?;
        let count = u16::try_from(entries.len())
            .map_err(|_| io::Error::other("too many entries for one ZIP"))?;
        let mut z = Vec::with_capacity(22);
        z.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        z.extend_from_slice(&[0; 4]); // this disk, the directory's disk
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&count.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&small(start)?.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        self.put(&z)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ZipWriter<W> {
    /// Data of the open entry.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.open.is_none() {
            return Err(io::Error::other("no entry is open"));
        }
        if self.pending.is_empty() && buf.len() >= CHUNK {
            // Large enough to pass on as it is, without a copy.
            let Some(entry) = self.open.as_mut() else {
                return Err(io::Error::other("no entry is open"));
            };
            entry.crc = crc32(entry.crc, buf);
            entry.size += buf.len() as u64;
            self.out.write_all(buf)?;
            self.offset += buf.len() as u64;
            return Ok(buf.len());
        }
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.drain()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

/// Read back an archive of stored entries by its central directory, as an unzip tool would,
/// checking each entry's CRC: how the tests see what a person receives. `None` when it is not such an archive, or is damaged.
pub fn read_stored(zip: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let u16_at = |i: usize| -> Option<usize> {
        Some(u16::from_le_bytes([*zip.get(i)?, *zip.get(i + 1)?]) as usize)
    };
    let u32_at =
        |i: usize| -> Option<u32> { Some(u32::from_le_bytes(zip.get(i..i + 4)?.try_into().ok()?)) };
    let end = zip.len().checked_sub(22)?;
    if u32_at(end)? != 0x0605_4b50 {
        return None;
    }
    let count = u16_at(end + 10)?;
    let mut at = u32_at(end + 16)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 || u16_at(at + 10)? != 0 {
            return None;
        }
        let crc = u32_at(at + 16)?;
        let size = u32_at(at + 20)? as usize;
        let name_len = u16_at(at + 28)?;
        let local = u32_at(at + 42)? as usize;
        let name = String::from_utf8(zip.get(at + 46..at + 46 + name_len)?.to_vec()).ok()?;
        if u32_at(local)? != 0x0403_4b50 {
            return None;
        }
        let data_at = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = zip.get(data_at..data_at + size)?.to_vec();
        if crc32(0, &data) != crc {
            return None;
        }
        out.push((name, data));
        at += 46 + name_len + u16_at(at + 30)? + u16_at(at + 32)?;
    }
    Some(out)
}

/// One CSV cell of a bundle, into `out` (cleared first): text as it is, other values as JSON,
/// nothing for `null`, made safe to open in a spreadsheet. The bundle writes every cell of
/// every row through one buffer rather than a string each.
pub fn csv_cell(value: Option<&serde_json::Value>, out: &mut Vec<u8>) {
    out.clear();
    match value {
        None | Some(serde_json::Value::Null) => return,
        Some(serde_json::Value::String(s)) => out.extend_from_slice(s.as_bytes()),
        // Writing a JSON value into a Vec cannot fail.
        Some(other) => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
    // As `spreadsheet_safe`: a cell a spreadsheet would read as a formula gets a quote first.
    if matches!(out.first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')) {
        out.insert(0, b'\'');
    }
}

/// A kind of data held about the person, with how many rows of it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Kind {
    pub table: &'static str,
    pub holds: &'static str,
    pub rows: u64,
}

/// The kinds the bundle holds, one per table of the data map, in its order.
pub fn kinds(counts: &[(&'static str, u64)]) -> Vec<Kind> {
    datamap::PERSONAL
        .iter()
        .map(|m| Kind {
            table: m.table,
            holds: m.holds,
            rows: counts
                .iter()
                .find(|(t, _)| *t == m.table)
                .map_or(0, |(_, n)| *n),
        })
        .collect()
}

/// A purpose the data is used for, as Art 15(1)(a) and (d) ask: why, on what basis, for how long.
#[derive(Debug, Clone, Serialize)]
pub struct PurposeLine {
    pub name: String,
    pub description: String,
    pub data: String,
    pub lawful_basis: &'static str,
    pub retention: String,
}

/// Someone the data went to or may go to (Art 15(1)(c)).
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    pub name: String,
    pub why: String,
}

/// One disclosure of the person's data (an export from our console), as their bundle lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DisclosureLine {
    /// When, in RFC 3339.
    pub at: String,
    /// To whom: a recipient's name, or our own use.
    pub to: String,
    /// What for: the recipient's purpose, or the stated internal one.
    pub purpose: String,
    /// The lawful basis, in the notice's words; empty for our own use.
    pub basis: String,
    /// What was exported, in words, and its description.
    pub what: String,
}

/// The disclosures about a person as lines of their bundle, naming recipients from the
/// register (a retired one still by its name).
pub fn disclosure_lines(
    disclosures: &[crate::disclosures::Disclosure],
    register: &[crate::disclosures::Recipient],
) -> Vec<DisclosureLine> {
    disclosures
        .iter()
        .map(|d| {
            let at =
                d.at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
            let what = format!(
                "{} ({})",
                crate::disclosures::kind_words(&d.kind),
                d.description
            );
            match d
                .recipient
                .and_then(|id| register.iter().find(|r| r.id == id))
            {
                Some(r) => DisclosureLine {
                    at,
                    to: r.name.clone(),
                    purpose: r.purpose.clone(),
                    basis: r.basis.label().to_owned(),
                    what,
                },
                None => DisclosureLine {
                    at,
                    to: match d.recipient {
                        Some(id) => format!("recipient {id}"),
                        None => "no one outside: our own use".to_owned(),
                    },
                    purpose: d.internal_purpose.clone(),
                    basis: String::new(),
                    what,
                },
            }
        })
        .collect()
}

/// The information Art 15(1) and (2) require beside the copy, from the same registries as
/// `/privacy`, so the bundle and the notice never disagree.
#[derive(Debug, Clone, Serialize)]
pub struct Supplementary {
    pub controller: String,
    pub purposes: Vec<PurposeLine>,
    /// Art 15(1)(b): the categories, with what each holds.
    pub categories: Vec<Kind>,
    pub recipients: Vec<Recipient>,
    /// Art 15(1)(c): each time the person's data was exported, to whom and why.
    pub disclosures: Vec<DisclosureLine>,
    /// Art 15(1)(d), for records of people without an account.
    pub retention: String,
    /// Art 15(1)(g).
    pub source: String,
    /// Art 15(1)(e) and (f).
    pub rights: Vec<String>,
    pub complaint: String,
    /// Art 15(1)(h).
    pub automated_decisions: &'static str,
}

impl Supplementary {
    pub fn new(policy: &Policy, categories: Vec<Kind>, recipients: Vec<Recipient>) -> Self {
        let people_retention = policy.people_retention.describe();
        Supplementary {
            controller: policy.organisation.name.clone(),
            purposes: policy
                .purposes
                .iter()
                .map(|p| PurposeLine {
                    name: p.name.clone(),
                    description: p.description.clone(),
                    data: p.data.clone(),
                    lawful_basis: p.lawful_basis.label(),
                    retention: p.retention.describe(),
                })
                .collect(),
            categories,
            recipients,
            disclosures: Vec::new(),
            retention: format!(
                "The record of someone without an account is kept for {people_retention} after \
                 they were last in touch; each purpose above says how long its data is kept."
            ),
            source: "From you: what you typed on our forms, your account and the preference \
                     centre, and what you asked of us; from our staff, when you wrote to us or we \
                     imported a list you were on (the `source` of your record says which); and \
                     from your use of our emails, only if you agreed to it being measured."
                .to_owned(),
            rights: policy.rights.iter().map(right_in_words).collect(),
            complaint: "You can complain to the Information Commissioner's Office, the UK's \
                        regulator for data protection: online at ico.org.uk/make-a-complaint or \
                        by telephone on 0303 123 1113."
                .to_owned(),
            automated_decisions: "We make no decisions about you by automated means alone.",
        }
    }
}

/// A right as one sentence: the notice's words, then where to go, as text (the summary is
/// read offline, so each place is written out).
fn right_in_words(right: &crate::policy::Right) -> String {
    let places: Vec<String> = right
        .links
        .iter()
        .map(|l| match l.href.strip_prefix("tel:") {
            Some(_) => l.text.to_owned(),
            None => format!("{} ({})", l.text, l.href),
        })
        .collect();
    if places.is_empty() {
        format!("{}: {}", right.name, right.how)
    } else {
        format!("{}: {} {}.", right.name, right.how, places.join(" or "))
    }
}

/// The recipients the privacy notice already names: the companies whose media pages embed.
pub fn media_recipients(policy: &Policy) -> Vec<Recipient> {
    policy
        .media_recipients
        .iter()
        .map(|m| Recipient {
            name: m.company.to_owned(),
            why: format!(
                "receives what your browser sends when you choose to load {} from {} ({})",
                m.what, m.provider, m.country
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(crc32(0, b"1234"), b"56789"), 0xCBF4_3926);
        assert_eq!(crc32(0, b""), 0);
    }

    #[test]
    fn a_written_archive_reads_back_entry_by_entry() {
        let at = time::macros::datetime!(2026-12-02 10:30:08 UTC);
        let mut zip = ZipWriter::new(Vec::new(), at);
        zip.start("data.json").unwrap();
        zip.write_all(b"{\"a\":").unwrap();
        zip.write_all(b"1}").unwrap();
        zip.start("csv/people.csv").unwrap();
        zip.write_all("name\nZoë\n".as_bytes()).unwrap();
        zip.start("empty.txt").unwrap();
        let bytes = zip.finish().unwrap();
        let got = read_stored(&bytes).unwrap();
        assert_eq!(
            got,
            vec![
                ("data.json".to_owned(), b"{\"a\":1}".to_vec()),
                (
                    "csv/people.csv".to_owned(),
                    "name\nZoë\n".as_bytes().to_vec()
                ),
                ("empty.txt".to_owned(), Vec::new()),
            ]
        );
    }

    #[test]
    fn a_damaged_archive_is_not_read() {
        let mut zip = ZipWriter::new(Vec::new(), OffsetDateTime::UNIX_EPOCH);
        zip.start("a.txt").unwrap();
        zip.write_all(b"hello").unwrap();
        let mut bytes = zip.finish().unwrap();
        assert!(read_stored(&bytes).is_some());
        bytes[31 + 5] ^= 1; // a byte of the data
        assert!(read_stored(&bytes).is_none());
        assert!(read_stored(b"PK").is_none());
        assert!(read_stored(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn data_outside_an_entry_is_refused() {
        let mut zip = ZipWriter::new(Vec::new(), OffsetDateTime::UNIX_EPOCH);
        assert!(zip.write_all(b"x").is_err());
    }

    #[test]
    fn large_and_small_writes_make_the_same_entry() {
        let data: Vec<u8> = (0..3 * CHUNK as u32 + 5).map(|i| (i % 251) as u8).collect();
        let mut one = ZipWriter::new(Vec::new(), OffsetDateTime::UNIX_EPOCH);
        one.start("a").unwrap();
        one.write_all(&data).unwrap();
        let mut many = ZipWriter::new(Vec::new(), OffsetDateTime::UNIX_EPOCH);
        many.start("a").unwrap();
        for piece in data.chunks(1000) {
            many.write_all(piece).unwrap();
        }
        let (one, many) = (one.finish().unwrap(), many.finish().unwrap());
        assert_eq!(one, many);
        assert_eq!(read_stored(&one).unwrap(), vec![("a".to_owned(), data)]);
    }

    #[test]
    fn a_cell_is_quoted_exactly_when_the_people_export_quotes_it() {
        let mut cell = Vec::new();
        for text in [
            "", "=1+1", "+44 20", "-3", "@SUM", "\tx", "\rx", "Zoë", "a=b", "'x",
        ] {
            csv_cell(Some(&serde_json::Value::from(text)), &mut cell);
            assert_eq!(
                cell,
                crate::people::spreadsheet_safe(text).into_bytes(),
                "{text:?}"
            );
        }
        csv_cell(Some(&serde_json::json!(-2.5)), &mut cell);
        assert_eq!(cell, b"'-2.5");
        csv_cell(Some(&serde_json::json!(["a", 1])), &mut cell);
        assert_eq!(cell, br#"["a",1]"#);
        csv_cell(None, &mut cell);
        assert!(cell.is_empty());
    }

    #[test]
    fn csv_cells_are_safe_in_a_spreadsheet() {
        let row = [
            serde_json::json!(-3),
            serde_json::json!("=HYPERLINK(\"x\")"),
            serde_json::Value::Null,
            serde_json::json!(true),
        ];
        let mut cell = Vec::new();
        let cells: Vec<String> = row
            .iter()
            .map(|value| {
                csv_cell(Some(value), &mut cell);
                String::from_utf8_lossy(&cell).into_owned()
            })
            .collect();
        assert_eq!(cells, ["'-3", "'=HYPERLINK(\"x\")", "", "true"]);
    }

    #[test]
    fn a_disclosure_names_its_recipient_or_our_own_use() {
        use crate::disclosures::{Disclosure, Recipient as Registered, kind};
        use crate::purposes::LawfulBasis;
        let at = time::macros::datetime!(2026-05-04 09:30 UTC);
        let register = [Registered {
            id: 4,
            name: "Mail house".into(),
            purpose: "posting our newsletter".into(),
            basis: LawfulBasis::LegitimateInterests,
            active: false,
        }];
        let made = |recipient, internal: &str, kind: &str| Disclosure {
            id: 1,
            recipient,
            internal_purpose: internal.into(),
            actor: Some(2),
            kind: kind.into(),
            description: "Newsletter sign-up".into(),
            people_count: 3,
            at,
        };
        let lines = disclosure_lines(
            &[
                made(Some(4), "", kind::FORM_RESPONSES),
                made(None, "checking the list", kind::PERSON),
            ],
            &register,
        );
        assert_eq!(
            lines[0],
            DisclosureLine {
                at: "2026-05-04T09:30:00Z".into(),
                to: "Mail house".into(),
                purpose: "posting our newsletter".into(),
                basis: "our legitimate interests".into(),
                what: "your answers to one of our forms (Newsletter sign-up)".into(),
            },
            "a retired recipient is still named"
        );
        assert_eq!(lines[1].to, "no one outside: our own use");
        assert_eq!(lines[1].purpose, "checking the list");
        assert_eq!(lines[1].basis, "");
    }

    #[test]
    fn every_table_of_the_data_map_is_a_kind_of_the_bundle() {
        let kinds = kinds(&[("people", 1), ("consent_events", 4)]);
        let tables: Vec<_> = kinds.iter().map(|k| k.table).collect();
        let mapped: Vec<_> = datamap::PERSONAL.iter().map(|m| m.table).collect();
        assert_eq!(tables, mapped);
        assert_eq!(kinds.iter().map(|k| k.rows).sum::<u64>(), 5);
    }
}
