//! The parts of a person's record a correction can name, each read with the profile's own
//! rules.

use crate::account::{Phone, Postcode, Profile, multi_line, plain_text};

/// A part of a person's record that a correction can name. Each reads its new value with
/// the profile's own rules, so a corrected record is one the profile page could have saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CorrectionField {
    Name,
    JobTitle,
    Phone,
    PostalAddress,
    Postcode,
}

/// The longest line of a profile's text (as the profile page allows).
const LINE_MAX: usize = 100;
/// The most lines a postal address has.
const ADDRESS_LINES: usize = 6;

impl CorrectionField {
    pub const ALL: [CorrectionField; 5] = [
        CorrectionField::Name,
        CorrectionField::JobTitle,
        CorrectionField::Phone,
        CorrectionField::PostalAddress,
        CorrectionField::Postcode,
    ];

    /// The stored and submitted code.
    pub fn code(self) -> &'static str {
        match self {
            CorrectionField::Name => "name",
            CorrectionField::JobTitle => "job-title",
            CorrectionField::Phone => "phone",
            CorrectionField::PostalAddress => "postal-address",
            CorrectionField::Postcode => "postcode",
        }
    }

    pub fn parse(code: &str) -> Option<CorrectionField> {
        CorrectionField::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            CorrectionField::Name => "Name",
            CorrectionField::JobTitle => "Job title",
            CorrectionField::Phone => "Phone number",
            CorrectionField::PostalAddress => "Postal address",
            CorrectionField::Postcode => "Postcode",
        }
    }

    /// Reads a proposed value as the profile would, giving the form it is stored in
    /// ("sw1a1aa" reads as "SW1A 1AA"). An empty value is refused: a correction says what
    /// the data should be.
    pub fn read(self, raw: &str) -> Result<String, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(format!("Enter the {}", self.label().to_lowercase()));
        }
        match self {
            CorrectionField::Name => plain_text(raw, LINE_MAX, "Name").map_err(|e| e.0),
            CorrectionField::JobTitle => plain_text(raw, LINE_MAX, "Job title").map_err(|e| e.0),
            CorrectionField::Phone => Phone::parse(raw)
                .map(|p| p.as_str().to_owned())
                .map_err(|e| e.0),
            CorrectionField::Postcode => Postcode::parse(raw)
                .map(|p| p.as_str().to_owned())
                .map_err(|e| e.0),
            CorrectionField::PostalAddress => {
                let text =
                    multi_line(raw, LINE_MAX * ADDRESS_LINES, "Postal address").map_err(|e| e.0)?;
                let mut lines = Vec::new();
                for line in text.lines() {
                    let line =
                        plain_text(line, LINE_MAX, "Each line of the address").map_err(|e| e.0)?;
                    if !line.is_empty() {
                        lines.push(line);
                    }
                }
                if lines.len() > ADDRESS_LINES {
                    return Err(format!(
                        "Postal address must be {ADDRESS_LINES} lines or fewer"
                    ));
                }
                Ok(lines.join("\n"))
            }
        }
    }

    /// What the record says now.
    pub fn current(self, profile: &Profile) -> String {
        match self {
            CorrectionField::Name => profile.name.clone(),
            CorrectionField::JobTitle => profile.job_title.clone(),
            CorrectionField::Phone => profile
                .phone
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            CorrectionField::PostalAddress => profile.postal_address.clone(),
            CorrectionField::Postcode => profile
                .postcode
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    /// The record with the value in place (read again, so a stored proposal that no longer
    /// reads is refused rather than written).
    pub fn apply(self, profile: &Profile, value: &str) -> Result<Profile, String> {
        let value = self.read(value)?;
        let mut out = profile.clone();
        match self {
            CorrectionField::Name => out.name = value,
            CorrectionField::JobTitle => out.job_title = value,
            CorrectionField::Phone => out.phone = Some(Phone::parse(&value).map_err(|e| e.0)?),
            CorrectionField::PostalAddress => out.postal_address = value,
            CorrectionField::Postcode => {
                out.postcode = Some(Postcode::parse(&value).map_err(|e| e.0)?)
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrections_read_with_the_profiles_rules() {
        assert_eq!(
            CorrectionField::Postcode.read(" sw1a1aa ").unwrap(),
            "SW1A 1AA"
        );
        assert!(CorrectionField::Postcode.read("nowhere").is_err());
        assert!(CorrectionField::Phone.read("call me").is_err());
        assert!(CorrectionField::Name.read("  ").is_err());
        assert!(CorrectionField::Name.read("Ann\u{202e}Lee").is_err());
        assert_eq!(
            CorrectionField::PostalAddress
                .read("1 High Street\r\n\r\nTown")
                .unwrap(),
            "1 High Street\nTown"
        );
        assert!(
            CorrectionField::PostalAddress
                .read("a\nb\nc\nd\ne\nf\ng")
                .is_err()
        );
        let before = Profile {
            name: "Ann Lee".into(),
            ..Profile::default()
        };
        let after = CorrectionField::Postcode.apply(&before, "nm1 2ab").unwrap();
        assert_eq!(CorrectionField::Postcode.current(&after), "NM1 2AB");
        assert_eq!(after.name, "Ann Lee");
        assert_eq!(CorrectionField::Postcode.current(&before), "");
        for f in CorrectionField::ALL {
            assert_eq!(CorrectionField::parse(f.code()), Some(f));
        }
    }
}
