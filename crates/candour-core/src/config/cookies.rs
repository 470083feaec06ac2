//! `[cookies]`: how consent is asked, how long choices and receipts are kept, and the cookies
//! that added scripts set. The registry itself is `crate::cookies`; a `&Config` converts into
//! the [`Site`] it is built from.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Config;
use crate::cookies::{
    Category, ConsentMode, DeclaredCookie, Site, is_reserved_name, is_valid_cookie_name,
};
use crate::fields::FieldErrors;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CookieSettings {
    pub consent_mode: ConsentMode,
    /// How long the visitor's cookie choice is remembered, in days.
    pub consent_lifetime_days: u32,
    /// How long consent receipts are kept after they are made, in days.
    pub receipt_retention_days: u32,
    /// Cookies that scripts listed under `[[scripts]]` set, declared so the policy lists them.
    pub declared: Vec<DeclaredCookie>,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            consent_mode: ConsentMode::OptIn,
            consent_lifetime_days: 365,
            receipt_retention_days: 365 * 2,
            declared: Vec::new(),
        }
    }
}

impl CookieSettings {
    /// How long a choice is remembered.
    pub(super) fn check_lifetime(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        if !(1..=395).contains(&self.consent_lifetime_days) {
            errors.add(
                "consent_lifetime_days",
                "must be between 1 and 395 days (13 months)",
            );
        }
        errors
    }

    /// The declared cookies: `session_cookie` is the sign-in cookie's name as browsers see it.
    pub(super) fn check_declared(&self, session_cookie: &str) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let mut names = BTreeSet::new();
        for (i, cookie) in self.declared.iter().enumerate() {
            let key = format!("declared[{i}]");
            if !is_valid_cookie_name(&cookie.name) {
                errors.add(
                    format!("{key}.name"),
                    "must be a cookie name (letters, digits and -_.!#$%&'*+^`|~)",
                );
            } else if is_reserved_name(&cookie.name)
                || cookie.name == session_cookie
                || !names.insert(&cookie.name)
            {
                errors.add(
                    format!("{key}.name"),
                    format!("`{}` is declared twice", cookie.name),
                );
            }
            if cookie.category == Category::Necessary {
                errors.add(
                    format!("{key}.category"),
                    "a cookie set by an added script cannot be strictly necessary; use preferences, statistics or marketing",
                );
            }
            if cookie.purpose.trim().is_empty() {
                errors.add(format!("{key}.purpose"), "must say what the cookie is for");
            }
        }
        errors
    }

    pub(super) fn consent_mode_warning(&self, out: &mut Vec<String>) {
        if self.consent_mode == ConsentMode::Implied {
            out.push(
                "cookies.consent_mode = \"implied\" treats browsing as agreement to non-essential \
                 cookies; that is not valid consent under UK GDPR and PECR as the ICO applies them. \
                 Use \"opt-in\"."
                    .to_owned(),
            );
        }
    }

    pub(super) fn retention_warning(&self, out: &mut Vec<String>) {
        if self.receipt_retention_days < self.consent_lifetime_days {
            out.push(
                "cookies.receipt_retention_days is shorter than cookies.consent_lifetime_days: a \
                 choice still in force could not be proved."
                    .to_owned(),
            );
        }
    }
}

impl<'a> From<&'a Config> for Site<'a> {
    fn from(config: &'a Config) -> Self {
        Site {
            consent_lifetime_days: config.cookies.consent_lifetime_days,
            session_cookie_name: config.accounts.cookie_name(),
            poll_cookie_hours: config.polls.enabled.then_some(config.polls.cookie_hours),
            preference_visit_minutes: config.people.preference_visit_minutes,
            declared: &config.cookies.declared,
            secure: config.served_over_https(),
            media: Vec::new(),
            statistics: config.stats.enabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use crate::cookies::{CONSENT_COOKIE, CookieError, CookieId, CookieRegistry, Lifetime};

    fn config() -> Config {
        Config::default()
    }

    #[test]
    fn consent_cookie_is_declared_strictly_necessary_with_the_configured_lifetime() {
        let mut c = config();
        c.cookies.consent_lifetime_days = 180;
        let r = CookieRegistry::from_config(&c);
        let d = r.declaration_for(CONSENT_COOKIE).unwrap();
        assert_eq!(d.category, Category::Necessary);
        assert_eq!(d.lifetime, Lifetime::days(180));
        let set = r.set(CookieId::Consent, "abc").unwrap();
        assert_eq!(
            set.header_value(),
            "candour_consent=abc; Path=/; SameSite=Lax; Max-Age=15552000"
        );
    }

    #[test]
    fn the_session_cookie_is_http_only_and_ends_with_the_browser() {
        let r = CookieRegistry::from_config(&config());
        let d = r.declaration_for("clientvars").unwrap();
        assert_eq!(d.category, Category::Necessary);
        assert_eq!(d.lifetime, Lifetime::Session);
        assert_eq!(
            r.set(CookieId::Session, "t").unwrap().header_value(),
            "clientvars=t; Path=/; SameSite=Lax; HttpOnly"
        );
        let mut c = config();
        c.public_url = Some("https://example.org".parse().unwrap());
        c.accounts.host_prefix = true;
        let r = CookieRegistry::from_config(&c);
        assert!(
            r.set(CookieId::Session, "t")
                .unwrap()
                .header_value()
                .starts_with("__Host-clientvars=t; Path=/;")
        );
    }

    #[test]
    fn secure_flag_follows_https() {
        let mut c = config();
        c.public_url = Some("https://example.org".parse().unwrap());
        let r = CookieRegistry::from_config(&c);
        assert!(
            r.set(CookieId::Consent, "x")
                .unwrap()
                .header_value()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn values_that_would_break_the_header_are_refused() {
        let r = CookieRegistry::from_config(&config());
        for bad in ["a;b", "a b", "a\r\nSet-Cookie: x=y", "a,b", "\"q\""] {
            assert_eq!(
                r.set(CookieId::Consent, bad),
                Err(CookieError::BadValue(CookieId::Consent)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn policy_version_changes_with_any_declared_fact_and_only_then() {
        let a = CookieRegistry::from_config(&config());
        let b = CookieRegistry::from_config(&config());
        assert_eq!(a.policy_version(), b.policy_version());
        assert_eq!(a.policy_version().as_str().len(), 12);

        let mut c = config();
        c.cookies.consent_lifetime_days = 30;
        assert_ne!(
            CookieRegistry::from_config(&c).policy_version(),
            a.policy_version()
        );

        let mut c = config();
        c.cookies.declared.push(DeclaredCookie {
            name: "_stats".into(),
            category: Category::Statistics,
            purpose: "Counts visits".into(),
            lifetime_days: 30,
            provider: "Stats Ltd".into(),
        });
        let with = CookieRegistry::from_config(&c);
        assert_ne!(with.policy_version(), a.policy_version());
        c.cookies.declared[0].purpose = "Counts visits.".into();
        assert_ne!(
            CookieRegistry::from_config(&c).policy_version(),
            with.policy_version()
        );
        // Settings that the policy does not describe leave the version alone.
        let mut c = config();
        c.listen = "127.0.0.1:1".parse().unwrap();
        c.organisation.phone = "101".into();
        assert_eq!(
            CookieRegistry::from_config(&c).policy_version(),
            a.policy_version()
        );
    }

    #[test]
    fn poll_cookies_are_set_per_poll_and_only_when_polls_are_on() {
        let r = CookieRegistry::from_config(&config());
        let set = r.set_member(CookieId::PollTimeout, 42, "v").unwrap();
        assert_eq!(
            set.header_value(),
            "PollTimeout-42=v; Path=/; SameSite=Lax; Max-Age=86400; HttpOnly"
        );
        assert!(r.declaration_for("PollTimeout-42").is_some());
        assert!(
            r.set(CookieId::PollTimeout, "v").is_err(),
            "a family needs its key"
        );
        assert!(
            r.set_member(CookieId::Consent, 1, "v").is_err(),
            "a single cookie has none"
        );
        let mut c = config();
        c.polls.enabled = false;
        let r = CookieRegistry::from_config(&c);
        assert!(r.set_member(CookieId::PollTimeout, 42, "v").is_err());
        assert!(r.declaration_for("PollTimeout-42").is_none());
    }
}
