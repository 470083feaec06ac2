//! The cookie registry: every cookie the site can set, declared once.
//!
//! Architecture invariant: the server sets cookies only through [`CookieRegistry::set`],
//! which takes a [`CookieId`]. A [`SetCookie`] cannot be built any other way, and an id whose
//! capability is switched off is refused, so an undeclared cookie cannot be set. The policy
//! pages are generated from the same declarations, and their hash is the policy version.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a cookie exists, in the categories visitors are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Needed for the site to work or to keep it secure; no consent is asked.
    Necessary,
    /// Remember choices the visitor makes, such as settings.
    Preferences,
    /// Count visits to understand how the site is used.
    Statistics,
    /// Used to show or measure promotional material, often by other companies.
    Marketing,
    /// Set by the companies whose videos, photos or presentations a page embeds, only once the
    /// visitor loads one. Chosen per company ("always load"), not as a category.
    Media,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Necessary,
        Category::Preferences,
        Category::Statistics,
        Category::Marketing,
        Category::Media,
    ];
    /// The categories a visitor chooses about.
    pub const OPTIONAL: [Category; 3] = [
        Category::Preferences,
        Category::Statistics,
        Category::Marketing,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Category::Necessary => "necessary",
            Category::Preferences => "preferences",
            Category::Statistics => "statistics",
            Category::Marketing => "marketing",
            Category::Media => "media",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Necessary => "strictly necessary",
            Category::Preferences => "preferences",
            Category::Statistics => "statistics",
            Category::Marketing => "marketing",
            Category::Media => "embedded media",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Category::Necessary => "Strictly necessary cookies",
            Category::Preferences => "Cookies that remember your settings",
            Category::Statistics => "Cookies that measure website use",
            Category::Marketing => "Cookies that help with communications and marketing",
            Category::Media => "Cookies from other websites’ videos, photos and presentations",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Category::Necessary => {
                "These make the site work and keep it secure. They are always on, because the site cannot work without them."
            }
            Category::Preferences => {
                "These remember choices you make on the site so you do not have to make them again."
            }
            Category::Statistics => {
                "These count visits and show which pages are used, so the site can be improved."
            }
            Category::Marketing => {
                "These may be set by other organisations whose content or services we use, to show or measure messages."
            }
            Category::Media => {
                "Some pages show a video, photo or presentation from another website. Nothing is loaded from that website until you choose to load it, once or always; only then can its company set cookies, on its own website's address."
            }
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// How long a cookie lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Lifetime {
    /// Deleted when the browser is closed.
    Session,
    /// Kept for this many seconds.
    Seconds { seconds: u64 },
    /// Chosen by another company, which says how long in its own notice.
    Provider,
}

impl Lifetime {
    pub fn days(days: u32) -> Lifetime {
        Lifetime::Seconds {
            seconds: u64::from(days) * 86_400,
        }
    }

    /// In plain English, for the cookie table.
    pub fn describe(self) -> String {
        match self {
            Lifetime::Session => "until you close your browser".to_owned(),
            Lifetime::Provider => "as the company decides (see its notice)".to_owned(),
            Lifetime::Seconds { seconds } => {
                let plural = |n: u64, unit: &str| {
                    if n == 1 {
                        format!("1 {unit}")
                    } else {
                        format!("{n} {unit}s")
                    }
                };
                if seconds % (365 * 86_400) == 0 {
                    plural(seconds / (365 * 86_400), "year")
                } else if seconds % 86_400 == 0 {
                    plural(seconds / 86_400, "day")
                } else if seconds % 3_600 == 0 {
                    plural(seconds / 3_600, "hour")
                } else {
                    plural(seconds.div_ceil(60), "minute")
                }
            }
        }
    }
}

/// The cookies Candour itself sets. Each capability adds its own when it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CookieId {
    /// Remembers the visitor's cookie choice and the id of its receipt.
    Consent,
    /// Keeps a person signed in (`clientvars` unless configured otherwise).
    Session,
    /// `PollTimeout-<poll id>`: set on voting, so the poll shows its results instead.
    PollTimeout,
    /// Keeps a preference-centre visit opened from an emailed link.
    Preferences,
    /// Set only when a visitor turns the site statistics off for their browser.
    StatsObjection,
}

/// One declared cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieDecl {
    /// The exact name, or for a family of cookies a pattern such as `PollTimeout-{poll_id}`.
    pub name: String,
    #[serde(skip)]
    id: Option<CookieId>,
    pub category: Category,
    pub purpose: String,
    pub lifetime: Lifetime,
    /// `None` when the organisation's own site sets it; otherwise who does.
    pub provider: Option<String>,
    /// Where the company that sets it explains it, for another company's cookies.
    pub policy_url: Option<String>,
    /// The capability that sets it ("cookie consent", or "script" for an added script).
    pub set_by: String,
    #[serde(skip)]
    http_only: bool,
}

impl CookieDecl {
    /// Whether a cookie the browser holds under `name` is this declaration's.
    pub fn matches(&self, name: &str) -> bool {
        match self.name.split_once('{') {
            Some((prefix, _)) => name.len() > prefix.len() && name.starts_with(prefix),
            None => self.name == name,
        }
    }

    pub fn lifetime_text(&self) -> String {
        self.lifetime.describe()
    }
}

/// The family of poll cookies, one per poll.
pub const POLL_COOKIE_PATTERN: &str = "PollTimeout-{poll_id}";

/// The name of the cookie that keeps a preference-centre visit open.
pub const PREFERENCES_COOKIE: &str = "candour_preferences";

/// The name of the cookie that says this browser's visits are not to be counted.
pub const STATS_OBJECTION_COOKIE: &str = "candour_no_stats";

/// The name Candour uses for its consent cookie.
pub const CONSENT_COOKIE: &str = "candour_consent";

/// Names that configuration may not declare because Candour's own cookies use them.
pub fn is_reserved_name(name: &str) -> bool {
    name == CONSENT_COOKIE
        || name == PREFERENCES_COOKIE
        || name == STATS_OBJECTION_COOKIE
        || name == "clientvars"
        || name.starts_with("PollTimeout-")
}

/// A cookie name as RFC 6265 allows it (an HTTP token).
pub fn is_valid_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A name the sign-in cookie may be given: a cookie name that does not start with `__` (the
/// browser's prefixes come from `host_prefix`) and is not the consent cookie's.
pub fn is_valid_session_cookie_name(name: &str) -> bool {
    is_valid_cookie_name(name) && !name.starts_with("__") && name != CONSENT_COOKIE
}

fn is_valid_cookie_value(value: &str) -> bool {
    value.len() <= 3000
        && value
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// How consent to non-essential cookies is obtained (`[cookies] consent_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum ConsentMode {
    /// Nothing non-essential happens before the visitor chooses; Reject is as easy as Accept.
    #[serde(rename = "opt-in")]
    OptIn,
    /// The older practice: a notice that continuing to browse is agreement. Not valid consent
    /// under current UK guidance; kept for fidelity and flagged by `config check`.
    #[serde(rename = "implied")]
    Implied,
}

impl ConsentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentMode::OptIn => "opt-in",
            ConsentMode::Implied => "implied",
        }
    }
}

/// A cookie set by a script that the organisation adds (not by Candour itself), as
/// `[[cookies.declared]]` declares it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredCookie {
    pub name: String,
    pub category: Category,
    pub purpose: String,
    pub lifetime_days: u32,
    /// Who sets it, such as "Example Analytics Ltd"; empty when it is the organisation itself.
    #[serde(default)]
    pub provider: String,
}

/// What the registry needs to know about the running site: the settings that change a
/// declared fact, and whether visitors come over https.
#[derive(Debug, Clone)]
pub struct Site<'a> {
    pub consent_lifetime_days: u32,
    /// The sign-in cookie's name as the browser sees it.
    pub session_cookie_name: String,
    /// How long a poll cookie lasts, in hours; `None` when polls are off.
    pub poll_cookie_hours: Option<u32>,
    pub preference_visit_minutes: u32,
    pub declared: &'a [DeclaredCookie],
    pub secure: bool,
    /// The providers whose media the site's pages embed; their cookies are declared.
    pub media: Vec<crate::media::Provider>,
    /// Whether the site statistics are on (and so the cookie that turns them off exists).
    pub statistics: bool,
}

/// Why a cookie could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("the cookie {0:?} is not declared in the cookie registry")]
    Undeclared(CookieId),
    #[error("the value for cookie {0:?} contains characters a cookie cannot carry")]
    BadValue(CookieId),
}

/// A `Set-Cookie` instruction, built only by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    name: String,
    value: String,
    max_age: Option<u64>,
    http_only: bool,
    secure: bool,
}

impl SetCookie {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header value, with `Path=/` and `SameSite=Lax` always.
    pub fn header_value(&self) -> String {
        let mut out = format!("{}={}; Path=/; SameSite=Lax", self.name, self.value);
        if let Some(age) = self.max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out
    }
}

/// Every cookie the running configuration can lead to, in a fixed order.
#[derive(Debug, Clone)]
pub struct CookieRegistry {
    decls: Vec<CookieDecl>,
    /// The providers whose media pages embed (their cookies are among `decls`).
    media: Vec<crate::media::Provider>,
    secure: bool,
    version: PolicyVersion,
}

/// A short hash of everything the cookie policy says; a change asks visitors again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyVersion(String);

impl PolicyVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CookieRegistry {
    /// The registry for a site: Candour's own cookies for the capabilities that are on, then
    /// the cookies the organisation declared for its added scripts. A `&Config` converts
    /// into the [`Site`] it describes.
    pub fn from_config<'a>(site: impl Into<Site<'a>>) -> CookieRegistry {
        let mut site = site.into();
        let mut decls = vec![CookieDecl {
            name: CONSENT_COOKIE.to_owned(),
            id: Some(CookieId::Consent),
            category: Category::Necessary,
            purpose: "Remembers whether you accepted or rejected optional cookies, and the \
                      reference of the record of that choice, so you are not asked on every page."
                .to_owned(),
            lifetime: Lifetime::days(site.consent_lifetime_days),
            provider: None,
            policy_url: None,
            set_by: "cookie consent".to_owned(),
            http_only: false,
        }];
        decls.push(CookieDecl {
            name: site.session_cookie_name.clone(),
            id: Some(CookieId::Session),
            category: Category::Necessary,
            purpose: "Keeps you signed in as you move from page to page. It holds a random \
                      reference only; it is set when you sign in and removed when you sign out."
                .to_owned(),
            lifetime: Lifetime::Session,
            provider: None,
            policy_url: None,
            set_by: "sign-in".to_owned(),
            http_only: true,
        });
        if let Some(hours) = site.poll_cookie_hours {
            decls.push(CookieDecl {
                name: POLL_COOKIE_PATTERN.to_owned(),
                id: Some(CookieId::PollTimeout),
                category: Category::Necessary,
                purpose: "Set only when you vote in a poll, one for each poll, so the poll shows \
                          you its results instead of asking you again. It holds no information \
                          about you."
                    .to_owned(),
                lifetime: Lifetime::Seconds {
                    seconds: u64::from(hours) * 3600,
                },
                provider: None,
                policy_url: None,
                set_by: "polls".to_owned(),
                http_only: true,
            });
        }
        decls.push(CookieDecl {
            name: PREFERENCES_COOKIE.to_owned(),
            id: Some(CookieId::Preferences),
            category: Category::Necessary,
            purpose: "Set only when you open the preference centre from a link we emailed you, \
                      so you can change your choices without an account. It holds a signed \
                      reference to your record and ends when you leave or after a short time."
                .to_owned(),
            lifetime: Lifetime::Seconds {
                seconds: u64::from(site.preference_visit_minutes) * 60,
            },
            provider: None,
            policy_url: None,
            set_by: "preference centre".to_owned(),
            http_only: true,
        });
        if site.statistics {
            decls.push(CookieDecl {
                name: STATS_OBJECTION_COOKIE.to_owned(),
                id: Some(CookieId::StatsObjection),
                category: Category::Necessary,
                purpose: "Set only when you turn off the site statistics for this browser, so \
                          your visits are not counted. It holds no information about you; \
                          turning statistics back on removes it."
                    .to_owned(),
                lifetime: Lifetime::days(365),
                provider: None,
                policy_url: None,
                set_by: "site statistics".to_owned(),
                http_only: true,
            });
        }
        decls.extend(site.declared.iter().map(|d| CookieDecl {
            name: d.name.clone(),
            id: None,
            category: d.category,
            purpose: d.purpose.clone(),
            lifetime: Lifetime::days(d.lifetime_days),
            provider: (!d.provider.trim().is_empty()).then(|| d.provider.clone()),
            policy_url: None,
            set_by: "script".to_owned(),
            http_only: false,
        }));
        let mut media = site.media.clone();
        media.sort();
        media.dedup();
        site.media = media;
        decls.extend(site.media.iter().map(|p| CookieDecl {
            name: format!("{}’s cookies", p.name()),
            id: None,
            category: Category::Media,
            purpose: format!(
                "Set by {} on its own website's address, only after you choose to load one of \
                 its {} here (once, or always). {} decides what they are and what they do.",
                p.company(),
                p.kind().plural(),
                p.name()
            ),
            lifetime: Lifetime::Provider,
            provider: Some(p.company().to_owned()),
            policy_url: Some(p.privacy_url().to_owned()),
            set_by: "embedded media".to_owned(),
            http_only: false,
        }));
        let mut registry = CookieRegistry::new(decls, site.secure);
        registry.media = site.media;
        registry
    }

    /// A registry of exactly these declarations.
    pub fn new(decls: Vec<CookieDecl>, secure: bool) -> CookieRegistry {
        let mut hash = Sha256::new();
        hash.update(b"candour-cookie-policy-1");
        for d in &decls {
            // Fields are length-prefixed so that no two registries hash alike by accident.
            for field in [
                d.name.as_str(),
                d.category.slug(),
                d.purpose.as_str(),
                &d.lifetime.describe(),
                d.provider.as_deref().unwrap_or(""),
            ] {
                hash.update((field.len() as u64).to_be_bytes());
                hash.update(field.as_bytes());
            }
            // Hashed only when present, so registries without media keep their version.
            if let Some(url) = &d.policy_url {
                hash.update(b"policy");
                hash.update((url.len() as u64).to_be_bytes());
                hash.update(url.as_bytes());
            }
        }
        let version = PolicyVersion(hex::encode(&hash.finalize()[..6]));
        CookieRegistry {
            decls,
            media: Vec::new(),
            secure,
            version,
        }
    }

    /// The providers whose media the site embeds, each declared with its cookies.
    pub fn media_providers(&self) -> &[crate::media::Provider] {
        &self.media
    }

    pub fn declarations(&self) -> &[CookieDecl] {
        &self.decls
    }

    pub fn in_category(&self, category: Category) -> impl Iterator<Item = &CookieDecl> {
        self.decls.iter().filter(move |d| d.category == category)
    }

    pub fn policy_version(&self) -> &PolicyVersion {
        &self.version
    }

    /// The declaration a cookie in the browser belongs to, if any.
    pub fn declaration_for(&self, name: &str) -> Option<&CookieDecl> {
        self.decls.iter().find(|d| d.matches(name))
    }

    fn decl(&self, id: CookieId) -> Result<&CookieDecl, CookieError> {
        self.decls
            .iter()
            .find(|d| d.id == Some(id))
            .ok_or(CookieError::Undeclared(id))
    }

    /// Set a declared cookie to `value`, for its declared lifetime.
    pub fn set(&self, id: CookieId, value: &str) -> Result<SetCookie, CookieError> {
        self.set_in_family(id, None, value)
    }

    /// Set one cookie of a declared family (such as `PollTimeout-{poll_id}`): `key` fills the
    /// pattern and must be a number.
    pub fn set_member(
        &self,
        id: CookieId,
        key: i64,
        value: &str,
    ) -> Result<SetCookie, CookieError> {
        self.set_in_family(id, Some(key), value)
    }

    fn set_in_family(
        &self,
        id: CookieId,
        key: Option<i64>,
        value: &str,
    ) -> Result<SetCookie, CookieError> {
        let decl = self.decl(id)?;
        let name = match (decl.name.split_once('{'), key) {
            (Some((prefix, _)), Some(k)) if k >= 0 => format!("{prefix}{k}"),
            (None, None) => decl.name.clone(),
            _ => return Err(CookieError::Undeclared(id)),
        };
        if !is_valid_cookie_value(value) {
            return Err(CookieError::BadValue(id));
        }
        Ok(SetCookie {
            name,
            value: value.to_owned(),
            max_age: match decl.lifetime {
                Lifetime::Session | Lifetime::Provider => None,
                Lifetime::Seconds { seconds } => Some(seconds),
            },
            http_only: decl.http_only,
            secure: self.secure,
        })
    }

    /// Remove a declared cookie from the browser.
    pub fn clear(&self, id: CookieId) -> Result<SetCookie, CookieError> {
        let decl = self.decl(id)?;
        Ok(SetCookie {
            name: decl.name.clone(),
            value: String::new(),
            max_age: Some(0),
            http_only: decl.http_only,
            secure: self.secure,
        })
    }
}

/// The value of the named cookie in a `Cookie` request header, if present once.
pub fn read_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    let mut found = None;
    for pair in header.split(';') {
        let Some((k, v)) = pair.trim().split_once('=') else {
            continue;
        };
        if k == name {
            if found.is_some() {
                // Two cookies of one name mean someone planted one; trust neither.
                return None;
            }
            found = Some(v.trim_matches('"'));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_missing_from_the_registry_cannot_be_set() {
        let r = CookieRegistry::new(Vec::new(), false);
        assert_eq!(
            r.set(CookieId::Consent, "x"),
            Err(CookieError::Undeclared(CookieId::Consent))
        );
        assert!(r.clear(CookieId::Consent).is_err());
    }

    #[test]
    fn patterns_match_a_family_of_names() {
        let d = CookieDecl {
            name: "PollTimeout-{poll_id}".into(),
            id: None,
            category: Category::Necessary,
            purpose: String::new(),
            lifetime: Lifetime::days(1),
            provider: None,
            policy_url: None,
            set_by: String::new(),
            http_only: false,
        };
        assert!(d.matches("PollTimeout-42"));
        assert!(!d.matches("PollTimeout-"));
        assert!(!d.matches("Poll-42"));
    }

    #[test]
    fn lifetimes_read_as_english() {
        assert_eq!(Lifetime::days(365).describe(), "1 year");
        assert_eq!(Lifetime::days(1).describe(), "1 day");
        assert_eq!(Lifetime::days(30).describe(), "30 days");
        assert_eq!(Lifetime::Seconds { seconds: 7200 }.describe(), "2 hours");
        assert_eq!(Lifetime::Session.describe(), "until you close your browser");
    }

    #[test]
    fn reading_a_cookie_header() {
        assert_eq!(read_cookie("a=1; b=2", "b"), Some("2"));
        assert_eq!(read_cookie("a=1;b=2", "a"), Some("1"));
        assert_eq!(read_cookie("a=1; a=2", "a"), None);
        assert_eq!(read_cookie("garbage", "a"), None);
        assert_eq!(read_cookie("ab=1", "a"), None);
    }
}
