//! Accounts: who may sign in, the values they give us, and the rules those values follow.
//! Every value from outside is parsed into a type here; after that the type is the proof.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::fields::is_dns_label;
use crate::secret::REDACTED;

/// Why a submitted value was refused: the message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: &str) -> Invalid {
    Invalid(message.to_owned())
}

/// An email address, normalised to lower case and trimmed. It can never hold a line break,
/// so it can never add a header to an email.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, Invalid> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(invalid("Enter an email address"));
        }
        if s.len() > 254 {
            return Err(invalid("Email address must be 254 characters or fewer"));
        }
        let format =
            || invalid("Enter an email address in the correct format, like name@example.org");
        let (local, domain) = s.rsplit_once('@').ok_or_else(format)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        let domain_ok = domain.contains('.') && domain.split('.').all(is_dns_label);
        if !(local_ok && domain_ok) {
            return Err(format());
        }
        Ok(EmailAddress(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest password accepted, and the length the hint recommends.
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_RECOMMENDED_CHARS: usize = 15;
/// Long enough for any passphrase; short enough that hashing it is cheap.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Check a new password: a length, and not one that is easy to guess (a common password, a
/// keyboard pattern, or the person's own details). No rules about character classes.
pub fn check_new_password(password: &str, own_details: &[&str]) -> Result<(), Invalid> {
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(Invalid(format!(
            "Password must be at least {PASSWORD_MIN_CHARS} characters; {PASSWORD_RECOMMENDED_CHARS} or more is better"
        )));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(Invalid(format!(
            "Password must be {PASSWORD_MAX_CHARS} characters or fewer"
        )));
    }
    let estimate = zxcvbn::zxcvbn(password, own_details);
    if u8::from(estimate.score()) < 2 {
        return Err(invalid(
            "This password is too common or too easy to guess. Try a few unrelated words together",
        ));
    }
    Ok(())
}

/// A UK postcode, normalised to upper case with one space before the inward code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Postcode(String);

impl Postcode {
    pub fn parse(raw: &str) -> Result<Postcode, Invalid> {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bad = || invalid("Enter a real UK postcode, like SW1A 1AA");
        if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
            return Err(bad());
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        let i = inward.as_bytes();
        let inward_ok = i[0].is_ascii_digit()
            && i[1].is_ascii_alphabetic()
            && i[2].is_ascii_alphabetic()
            && !b"CIKMOV".contains(&i[1])
            && !b"CIKMOV".contains(&i[2]);
        // Outward code shapes: A9, A99, AA9, AA99, A9A, AA9A.
        let shape: String = outward
            .bytes()
            .map(|b| {
                if b.is_ascii_digit() {
                    '9'
                } else if b.is_ascii_alphabetic() {
                    'A'
                } else {
                    '?'
                }
            })
            .collect();
        let outward_ok = matches!(
            shape.as_str(),
            "A9" | "A99" | "AA9" | "AA99" | "A9A" | "AA9A"
        ) || outward == "GIR" && inward == "0AA";
        if !(inward_ok && outward_ok) {
            return Err(bad());
        }
        Ok(Postcode(format!("{outward} {inward}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The outward code, such as `SW1A` (the area a campaign can be narrowed to).
    pub fn outward(&self) -> &str {
        self.0.split(' ').next().unwrap_or("")
    }
}

/// A UK telephone number: digits, spaces, and an optional leading +, 10 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, Invalid> {
        let s = raw.trim();
        let bad = || invalid("Enter a telephone number, like 01632 960 001 or +44 808 157 0192");
        let (plus, rest) = match s.strip_prefix('+') {
            Some(r) => (true, r),
            None => (false, s),
        };
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-' || c == '(' || c == ')')
        {
            return Err(bad());
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        if !(10..=15).contains(&digits.len()) || (!plus && !digits.starts_with('0')) {
            return Err(bad());
        }
        Ok(Phone(if plus { format!("+{digits}") } else { digits }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text given by a person (a name, a job title, an address line): trimmed, one line,
/// no control characters, at most `max` characters.
pub fn plain_text(raw: &str, max: usize, what: &str) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Invalid(format!("{what} must be plain text on one line")));
    }
    if s.chars().count() > max {
        return Err(Invalid(format!("{what} must be {max} characters or fewer")));
    }
    Ok(s.to_owned())
}

/// Text over several lines: no control characters other than line breaks and tabs.
pub fn multi_line(raw: &str, max: usize, what: &str) -> Result<String, Invalid> {
    let s = raw.trim().replace("\r\n", "\n");
    if s.chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
    {
        return Err(Invalid(format!(
            "{what} must be plain text (control characters are not allowed)"
        )));
    }
    if s.chars().count() > max {
        return Err(Invalid(format!("{what} must be {max} characters or fewer")));
    }
    Ok(s)
}

/// Characters that reorder text when shown (used to disguise what a string says).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Staff roles. A member of the public has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, including staff accounts and sending campaigns.
    Admin,
    /// Content: polls, forms, campaigns (drafting).
    Editor,
    /// People's data, requests about it, and the audit log.
    PrivacyOfficer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::PrivacyOfficer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::PrivacyOfficer => "privacy-officer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Administrator",
            Role::Editor => "Editor",
            Role::PrivacyOfficer => "Privacy officer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a staff member may do. Each admin route asks for one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See the admin console at all.
    Console,
    /// See the audit log.
    ReadAudit,
    /// Create staff accounts and change roles.
    ManageStaff,
    /// See counts of consent choices.
    ReadConsentStatistics,
    /// Create, change, open, close and delete polls, and see their results.
    ManagePolls,
    /// Build forms and surveys, and see summaries of their answers.
    ManageForms,
    /// Read and export individual form responses, which can hold names, addresses and other
    /// personal data: administrators, and the roles in `people.response_readers` (privacy
    /// officers unless configured otherwise). See `Role::may`.
    ReadResponses,
    /// Find, see, change, export and erase people's records, record consents and
    /// objections, and import people.
    ManagePeople,
    /// Write email campaigns, preview them, send tests and see their reports. Sending to the
    /// audience also needs the administrator role or a place among the configured approvers.
    ManageCampaigns,
    /// Work on requests people make about their own data: the queue, each case's steps,
    /// assignment and notes.
    ManageRequests,
    /// See the site statistics dashboard. The figures are totals that name no one, so
    /// every staff role may: editors run the site, privacy officers answer for what it
    /// counts.
    ViewStatistics,
    /// Import page views from an earlier analytics service into the statistics: it changes
    /// the history everyone reads, so administrators only.
    ImportStatistics,
}

impl Role {
    /// Whether this role has permission `p`, where `response_readers` are the roles the
    /// configuration lets read individual form responses (besides administrators).
    pub fn may(self, p: Permission, response_readers: &[Role]) -> bool {
        match p {
            Permission::ReadResponses => self == Role::Admin || response_readers.contains(&self),
            _ => self.allows(p),
        }
    }

    /// The permissions that come with the role whatever the configuration says.
    pub fn allows(self, p: Permission) -> bool {
        matches!(
            (self, p),
            (_, Permission::Console | Permission::ViewStatistics)
                | (Role::Admin, _)
                | (
                    Role::PrivacyOfficer,
                    Permission::ReadAudit
                        | Permission::ReadConsentStatistics
                        | Permission::ManagePeople
                        | Permission::ManageRequests
                )
                | (
                    Role::Editor,
                    Permission::ReadConsentStatistics
                        | Permission::ManagePolls
                        | Permission::ManageForms
                        | Permission::ManageCampaigns
                )
        )
    }
}

/// A person's profile, as they keep it on their account page.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Profile {
    pub name: String,
    pub job_title: String,
    pub phone: Option<Phone>,
    /// Lines of a postal address, without the postcode.
    pub postal_address: String,
    pub postcode: Option<Postcode>,
    /// Topic ids from the organisation's list.
    pub interests: Vec<String>,
}

/// A stored account. Its `Debug` leaves out the password hash and the authenticator secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub email: EmailAddress,
    pub email_verified: bool,
    /// A PHC string (argon2id).
    pub password_hash: String,
    pub role: Option<Role>,
    pub profile: Profile,
    /// The authenticator-app secret, when the second factor is on.
    pub totp_secret: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
}

/// An account to create. Its `Debug` leaves out the password hash.
#[derive(Clone)]
pub struct NewAccount {
    pub email: EmailAddress,
    pub password_hash: String,
    pub name: String,
    pub role: Option<Role>,
    pub email_verified: bool,
    pub created_at: OffsetDateTime,
}

/// Shown in `Debug` where a secret is.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("password_hash", &Redacted)
            .field("role", &self.role)
            .field("profile", &self.profile)
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| Redacted))
            .field("created_at", &self.created_at)
            .finish()
    }
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("email", &self.email)
            .field("password_hash", &Redacted)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("email_verified", &self.email_verified)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_debug_leaves_its_secrets_out() {
        let account = Account {
            id: 1,
            email: EmailAddress::parse("jo@example.org").unwrap(),
            email_verified: true,
            password_hash: "$argon2id$v=19$secret-hash".to_owned(),
            role: None,
            profile: Profile::default(),
            totp_secret: Some(b"totp-secret-bytes".to_vec()),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let shown = format!("{account:?}");
        assert!(shown.contains("jo@example.org"), "{shown}");
        assert!(shown.contains("totp_secret: Some([redacted])"), "{shown}");
        assert!(!shown.contains("argon2id"), "{shown}");
        assert!(
            !shown.contains(&format!("{:?}", b"totp-secret-bytes".to_vec())),
            "{shown}"
        );
        let new = NewAccount {
            email: account.email.clone(),
            password_hash: account.password_hash.clone(),
            name: String::new(),
            role: None,
            email_verified: false,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{new:?}").contains("argon2id"));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse("  Jo.Smith@Example.ORG ")
                .unwrap()
                .as_str(),
            "jo.smith@example.org"
        );
        for bad in [
            "",
            "plainaddress",
            "@example.org",
            "jo@",
            "jo@example",
            "jo..x@example.org",
            "jo@-example.org",
            "jo smith@example.org",
            "jo@example.org\r\nBcc: x@evil.example",
            "jo@example.org\n",
            "jo@exa_mple.org",
        ] {
            if bad.ends_with('\n') && !bad.contains("\r") {
                // A trailing newline is trimmed; the result must not contain it.
                let e = EmailAddress::parse(bad).unwrap();
                assert!(!e.as_str().contains('\n'));
                continue;
            }
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_length_and_must_not_be_common() {
        assert!(check_new_password("short", &[]).is_err());
        assert!(check_new_password("password", &[]).is_err());
        assert!(check_new_password("password1", &[]).is_err());
        assert!(check_new_password("qwertyuiop", &[]).is_err());
        assert!(check_new_password("12345678", &[]).is_err());
        assert!(check_new_password("jo.smith@example.org", &["jo.smith@example.org"]).is_err());
        assert!(check_new_password("lantern orbit cabbage", &[]).is_ok());
        assert!(check_new_password(&"x".repeat(300), &[]).is_err());
    }

    #[test]
    fn postcodes_follow_the_uk_shapes() {
        for (raw, norm) in [
            ("sw1a1aa", "SW1A 1AA"),
            ("M1 1AE", "M1 1AE"),
            ("B33 8TH", "B33 8TH"),
            ("cr2 6xh", "CR2 6XH"),
            ("DN55 1PT", "DN55 1PT"),
            ("W1A 0AX", "W1A 0AX"),
            ("EC1A 1BB", "EC1A 1BB"),
        ] {
            assert_eq!(Postcode::parse(raw).unwrap().as_str(), norm, "{raw}");
        }
        assert_eq!(Postcode::parse("SW1A 1AA").unwrap().outward(), "SW1A");
        for bad in [
            "",
            "SW1A",
            "12345",
            "SW1A 1AAA",
            "SW1A 1CA",
            "ÄW1 1AA",
            "S 1AA",
            "<b>1AA",
        ] {
            assert!(Postcode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_are_digits() {
        assert_eq!(
            Phone::parse("01632 960 001").unwrap().as_str(),
            "01632960001"
        );
        assert_eq!(
            Phone::parse("+44 808 157 0192").unwrap().as_str(),
            "+448081570192"
        );
        for bad in ["101", "phone me", "01632 960 001 ext 4", "1632960001"] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plain_text_refuses_control_and_reordering_characters() {
        assert_eq!(plain_text("  Jo  ", 10, "Name").unwrap(), "Jo");
        assert!(plain_text("Jo\r\nBcc: x", 100, "Name").is_err());
        assert!(plain_text("abc\u{202E}def", 100, "Name").is_err());
        assert!(
            plain_text(&"a".repeat(11), 10, "Name")
                .unwrap_err()
                .0
                .contains("10 characters")
        );
    }

    #[test]
    fn reading_form_responses_is_for_administrators_and_configured_roles() {
        let default = [Role::PrivacyOfficer];
        assert!(Role::Admin.may(Permission::ReadResponses, &default));
        assert!(Role::Admin.may(Permission::ReadResponses, &[]));
        assert!(Role::PrivacyOfficer.may(Permission::ReadResponses, &default));
        assert!(!Role::PrivacyOfficer.may(Permission::ReadResponses, &[]));
        assert!(!Role::Editor.may(Permission::ReadResponses, &default));
        assert!(Role::Editor.may(Permission::ReadResponses, &[Role::Editor]));
        // The configuration adds nothing else.
        assert!(!Role::Editor.may(Permission::ManagePeople, &[Role::Editor]));
        assert!(Role::Editor.may(Permission::ManageForms, &default));
    }

    #[test]
    fn roles_grant_least_privilege() {
        assert!(Role::Admin.allows(Permission::ManageStaff));
        assert!(!Role::Editor.allows(Permission::ManageStaff));
        assert!(!Role::Editor.allows(Permission::ReadAudit));
        assert!(Role::PrivacyOfficer.allows(Permission::ReadAudit));
        assert!(!Role::PrivacyOfficer.allows(Permission::ManageStaff));
        assert!(Role::PrivacyOfficer.allows(Permission::ManagePeople));
        assert!(!Role::Editor.allows(Permission::ManagePeople));
        assert!(Role::Editor.allows(Permission::ManageForms));
        assert!(!Role::PrivacyOfficer.allows(Permission::ManageForms));
        for r in Role::ALL {
            assert!(r.allows(Permission::Console));
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn well_formed_emails_are_accepted(
                local in "[a-zA-Z0-9+_-]{1,20}(\\.[a-z0-9]{1,5})?",
                labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..4),
                tld in "[a-z]{2,6}",
            ) {
                let raw = format!("{local}@{}.{tld}", labels.join("."));
                let e = EmailAddress::parse(&raw);
                prop_assert!(e.is_ok(), "{raw}");
                prop_assert_eq!(e.unwrap().as_str().to_owned(), raw.to_ascii_lowercase());
            }

            #[test]
            fn header_injection_never_parses(a in "[a-z]{1,10}", b in "[a-z]{1,10}", sep in "[\\r\\n]{1,2}") {
                let raw = format!("{a}@example.org{sep}Bcc: {b}@example.org");
                prop_assert!(EmailAddress::parse(&raw).is_err());
            }

            #[test]
            fn every_uk_shape_is_accepted(
                outward in "([A-Z][0-9]|[A-Z][0-9][0-9]|[A-Z][A-Z][0-9]|[A-Z][A-Z][0-9][0-9]|[A-Z][0-9][A-Z]|[A-Z][A-Z][0-9][A-Z])",
                inward in "[0-9][ABD-HJLNP-UW-Z]{2}",
                spaced in any::<bool>(),
                lower in any::<bool>(),
            ) {
                let mut raw = if spaced { format!("{outward} {inward}") } else { format!("{outward}{inward}") };
                if lower { raw = raw.to_ascii_lowercase(); }
                let p = Postcode::parse(&raw);
                prop_assert!(p.is_ok(), "{raw}");
                prop_assert_eq!(p.unwrap().as_str().to_owned(), format!("{outward} {inward}"));
            }

            #[test]
            fn uk_numbers_in_any_layout_are_accepted(
                digits in "0[1-9][0-9]{8,9}",
                spaces in proptest::collection::vec(0usize..11, 0..3),
            ) {
                let mut raw = digits.clone();
                for at in spaces {
                    if at < raw.len() { raw.insert(at, ' '); }
                }
                let p = Phone::parse(&raw);
                prop_assert!(p.is_ok(), "{raw:?}");
                prop_assert_eq!(p.unwrap().as_str().to_owned(), digits);
            }
        }

        /// Run a property over 256 generated inputs and print how many of them reached the
        /// assertions (`check` returns whether its input did). A property over inputs
        /// that are almost never valid would pass without checking anything, so at least a
        /// quarter of the inputs must reach them.
        fn reaching<S: Strategy>(
            what: &str,
            strategy: S,
            check: impl Fn(S::Value) -> Result<bool, TestCaseError>,
        ) {
            let cases = 256;
            let reached = std::cell::Cell::new(0u32);
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
            runner
                .run(&strategy, |value| {
                    if check(value)? {
                        reached.set(reached.get() + 1);
                    }
                    Ok(())
                })
                .unwrap();
            let reached = reached.get();
            eprintln!("{what}: {reached} of {cases} generated inputs reached the assertions");
            assert!(
                reached >= cases / 4,
                "{what}: only {reached} of {cases} inputs were valid"
            );
        }

        /// Something valid, then possibly damaged: a character inserted at some position.
        fn damaged(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
            (
                valid,
                proptest::option::weighted(0.25, ("\\PC", any::<prop::sample::Index>())),
            )
                .prop_map(|(mut raw, damage)| {
                    if let Some((junk, at)) = damage {
                        let at = raw
                            .char_indices()
                            .map(|(i, _)| i)
                            .nth(at.index(raw.chars().count().max(1)))
                            .unwrap_or(raw.len());
                        raw.insert_str(at, &junk);
                    }
                    raw
                })
        }

        fn some_email() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => damaged(
                    ("[a-zA-Z0-9+_.-]{1,20}", "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]{1,12}){0,2}", "[a-zA-Z]{2,6}", "[ \\t]{0,2}")
                        .prop_map(|(local, domain, tld, pad)| format!("{pad}{local}@{domain}.{tld}{pad}"))
                ),
                1 => "\\PC{0,80}",
            ]
        }

        #[test]
        fn email_parsing_is_total_and_idempotent() {
            reaching("email addresses", some_email(), |raw| {
                let Ok(e) = EmailAddress::parse(&raw) else {
                    return Ok(false);
                };
                prop_assert!(
                    !e.as_str()
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control())
                );
                prop_assert_eq!(e.as_str().to_ascii_lowercase(), e.as_str());
                prop_assert_eq!(EmailAddress::parse(e.as_str()), Ok(e.clone()));
                Ok(true)
            });
        }

        #[test]
        fn postcode_parsing_is_total_and_idempotent() {
            let shaped = (
                "[A-Za-z]{1,2}[0-9][0-9A-Za-z]?",
                "[ ]{0,2}",
                "[0-9][ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}",
            )
                .prop_map(|(outward, gap, inward)| format!("{outward}{gap}{inward}"));
            let raw = prop_oneof![3 => damaged(shaped), 1 => "\\PC{0,12}"];
            reaching("postcodes", raw, |raw| {
                let Ok(p) = Postcode::parse(&raw) else {
                    return Ok(false);
                };
                let s = p.as_str();
                prop_assert!(s.len() <= 8 && s.contains(' '));
                prop_assert!(
                    s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
                );
                prop_assert_eq!(Postcode::parse(s), Ok(p.clone()));
                Ok(true)
            });
        }

        #[test]
        fn phone_parsing_is_total_and_idempotent() {
            let shaped = (
                "(\\+44 ?|0|\\(0)",
                "[1-9][0-9]{3}\\)?[ -]?[0-9]{3}[ -]?[0-9]{3}",
            )
                .prop_map(|(lead, rest)| format!("{lead}{rest}"));
            let raw = prop_oneof![3 => damaged(shaped), 1 => "\\PC{0,30}"];
            reaching("phone numbers", raw, |raw| {
                let Ok(p) = Phone::parse(&raw) else {
                    return Ok(false);
                };
                let s = p.as_str();
                let digits = s.trim_start_matches('+');
                prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!((10..=15).contains(&digits.len()));
                prop_assert_eq!(Phone::parse(s), Ok(p.clone()));
                Ok(true)
            });
        }
    }
}
