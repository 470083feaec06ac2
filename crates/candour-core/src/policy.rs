//! The facts the privacy and cookie pages state, gathered from the running configuration.
//!
//! `/privacy`, `/cookies` and `/privacy.json` all render this one value, so what they say is
//! what the server does.

use serde::Serialize;

use crate::config::{Config, Organisation};
use crate::cookies::{Category, ConsentMode, CookieDecl, CookieRegistry, PolicyVersion};
use crate::purposes::{self, Purpose};

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub policy_version: PolicyVersion,
    pub organisation: Organisation,
    pub consent_mode: ConsentMode,
    /// Whether a `Sec-GPC: 1` request is treated as refusing optional cookies (always true).
    pub honours_global_privacy_control: bool,
    pub cookie_categories: Vec<CategoryFacts>,
    pub purposes: Vec<Purpose>,
    /// How long the record of someone without an account is kept after they were last in
    /// touch.
    pub people_retention: purposes::Retention,
    /// How long consent given on a form waits for confirmation from the address before it is
    /// forgotten, in hours (it never counts before it is confirmed).
    pub form_consent_confirmation_hours: u32,
    /// Scripts that run only after consent, with the category they wait for.
    pub gated_scripts: Vec<ScriptFacts>,
    /// The rights people have over their data and how to use them.
    pub rights: Vec<Right>,
    /// The companies that receive what a visitor's browser sends when it loads their media.
    pub media_recipients: Vec<MediaRecipient>,
    /// The site statistics, when they are on.
    pub statistics: Option<crate::stats::StatisticsFacts>,
}

/// A company whose videos, photos or presentations pages embed.
#[derive(Debug, Clone, Serialize)]
pub struct MediaRecipient {
    pub provider: &'static str,
    pub company: &'static str,
    pub privacy_url: &'static str,
    /// Where the data goes, outside the UK.
    pub country: &'static str,
    /// "videos", "photos", "presentations".
    pub what: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryFacts {
    pub category: Category,
    pub title: &'static str,
    pub explanation: &'static str,
    pub needs_consent: bool,
    pub cookies: Vec<CookieFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CookieFacts {
    pub name: String,
    pub purpose: String,
    pub lifetime: String,
    pub provider: Option<String>,
    /// Where the company that sets it explains it, when it is another company's cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_url: Option<String>,
    pub set_by: String,
}

impl From<&CookieDecl> for CookieFacts {
    fn from(d: &CookieDecl) -> Self {
        CookieFacts {
            name: d.name.clone(),
            purpose: d.purpose.clone(),
            lifetime: d.lifetime_text(),
            provider: d.provider.clone(),
            policy_url: d.policy_url.clone(),
            set_by: d.set_by.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptFacts {
    pub src: String,
    pub category: Category,
}

#[derive(Debug, Clone, Serialize)]
pub struct Right {
    pub name: &'static str,
    pub how: String,
    /// Where to go for it, read after `how`, joined by "or".
    pub links: Vec<RightLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RightLink {
    pub href: &'static str,
    pub text: &'static str,
}

impl Policy {
    /// How long a form's consent waits for confirmation, in words.
    pub fn form_consent_confirmation(&self) -> String {
        hours_in_words(self.form_consent_confirmation_hours)
    }

    pub fn new(config: &Config, cookies: &CookieRegistry) -> Policy {
        let org = &config.organisation;
        let write_to = if org.dpo_email.is_empty() {
            org.email.clone()
        } else {
            org.dpo_email.clone()
        };
        let contact = if write_to.is_empty() {
            "by writing to us at the address below".to_owned()
        } else {
            format!("by emailing {write_to} or writing to us at the address below")
        };
        // With the request form on, each right that is used by asking links to it, and the
        // sentence leads into the link.
        let form = config.requests.enabled;
        let ask_online = || {
            if form {
                vec![RightLink {
                    href: "/requests",
                    text: "use our request form",
                }]
            } else {
                Vec::new()
            }
        };
        let ending = |sentence: String| {
            if form {
                format!("{sentence} Or")
            } else {
                sentence
            }
        };
        Policy {
            policy_version: cookies.policy_version().clone(),
            organisation: org.clone(),
            consent_mode: config.cookies.consent_mode,
            honours_global_privacy_control: true,
            cookie_categories: Category::ALL
                .into_iter()
                .map(|category| CategoryFacts {
                    category,
                    title: category.title(),
                    explanation: category.explanation(),
                    needs_consent: category != Category::Necessary,
                    cookies: cookies.in_category(category).map(CookieFacts::from).collect(),
                })
                .collect(),
            purposes: purposes::registry(config),
            people_retention: purposes::Retention::Days {
                days: purposes::people_retention_days(config),
            },
            form_consent_confirmation_hours: config.people.consent_confirmation_hours,
            gated_scripts: config
                .scripts
                .iter()
                .map(|s| ScriptFacts {
                    src: s.src.to_string(),
                    category: s.category,
                })
                .collect(),
            statistics: config.stats.enabled.then(|| {
                crate::stats::StatisticsFacts::new(
                    config.stats.geoip_database.is_some(),
                    config.stats.retention_months,
                    config.stats.sites.clone(),
                )
            }),
            media_recipients: cookies
                .media_providers()
                .iter()
                .map(|p| MediaRecipient {
                    provider: p.name(),
                    company: p.company(),
                    privacy_url: p.privacy_url(),
                    country: p.country(),
                    what: p.kind().plural(),
                })
                .collect(),
            rights: vec![
                Right {
                    name: "See the personal data we hold about you",
                    how: ending(format!("Ask for a copy, free of charge, {contact}. We answer within one calendar month.")),
                    links: ask_online(),
                },
                Right {
                    name: "Have inaccurate data corrected",
                    how: ending(format!("Tell us what is wrong {contact}.")),
                    links: ask_online(),
                },
                Right {
                    name: "Have your data erased or its use restricted",
                    how: ending(format!("Ask {contact}. Where the law lets us keep something, we say why.")),
                    links: ask_online(),
                },
                Right {
                    name: "Object, and withdraw consent",
                    how: format!("Change your cookie choices at any time on the cookies page, and what you agreed to on forms in the preference centre (/preferences), where we can email you a link without an account. Withdrawing is as easy as giving consent. If you object to direct marketing, we stop at once and keep a note so that it is never sent again.{}", if config.stats.enabled { " To stop your visits being counted in the site statistics, turn them off at /statistics/object." } else { "" }),
                    links: Vec::new(),
                },
                Right {
                    name: "Complain",
                    how: "If you are unhappy with how we use your data, you can complain to the Information Commissioner's Office, the UK's regulator for data protection,".to_owned(),
                    links: vec![
                        RightLink {
                            href: "https://ico.org.uk/make-a-complaint/",
                            text: "online at ico.org.uk",
                        },
                        RightLink {
                            href: "tel:+443031231113",
                            text: "by telephone on 0303 123 1113",
                        },
                    ],
                },
            ],
        }
    }

    /// The categories that have at least one cookie, for the cookie tables.
    pub fn categories_in_use(&self) -> impl Iterator<Item = &CategoryFacts> {
        self.cookie_categories
            .iter()
            .filter(|c| !c.cookies.is_empty())
    }
}

/// A period given in hours, as people say it: "7 days", "1 day", "36 hours", "1 hour".
pub fn hours_in_words(hours: u32) -> String {
    match (hours % 24, hours / 24) {
        (0, 1) => "1 day".to_owned(),
        (0, days) if days > 0 => format!("{days} days"),
        _ if hours == 1 => "1 hour".to_owned(),
        _ => format!("{hours} hours"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeclaredCookie, GatedScript};

    #[test]
    fn periods_in_hours_read_as_people_say_them() {
        assert_eq!(hours_in_words(168), "7 days");
        assert_eq!(hours_in_words(24), "1 day");
        assert_eq!(hours_in_words(36), "36 hours");
        assert_eq!(hours_in_words(1), "1 hour");
    }

    #[test]
    fn the_policy_lists_exactly_the_registry() {
        let mut c = Config::default();
        let base = Policy::new(&c, &CookieRegistry::from_config(&c));
        assert_eq!(base.categories_in_use().count(), 1);
        c.cookies.declared.push(DeclaredCookie {
            name: "_stats".into(),
            category: Category::Statistics,
            purpose: "Counts visits".into(),
            lifetime_days: 30,
            provider: String::new(),
        });
        c.scripts.push(GatedScript {
            src: "/assets/stats.js".parse().unwrap(),
            category: Category::Statistics,
        });
        let p = Policy::new(&c, &CookieRegistry::from_config(&c));
        let stats: Vec<_> = p
            .categories_in_use()
            .filter(|c| c.category == Category::Statistics)
            .flat_map(|c| c.cookies.iter().map(|k| k.name.as_str()))
            .collect();
        assert_eq!(stats, ["_stats"]);
        assert_eq!(p.gated_scripts.len(), 1);
        assert_ne!(p.policy_version, base.policy_version);
    }

    #[test]
    fn embedded_providers_are_declared_named_as_recipients_and_change_the_version() {
        use crate::cookies::Site;
        use crate::media::Provider;
        let c = Config::default();
        let plain = CookieRegistry::from_config(&c);
        let mut site = Site::from(&c);
        site.media = vec![Provider::Vimeo, Provider::YouTube, Provider::Vimeo];
        let with = CookieRegistry::from_config(site);
        assert_ne!(with.policy_version(), plain.policy_version());
        assert_eq!(with.media_providers(), [Provider::YouTube, Provider::Vimeo]);
        let p = Policy::new(&c, &with);
        let names: Vec<_> = p.media_recipients.iter().map(|r| r.company).collect();
        assert_eq!(names, ["Google LLC (YouTube)", "Vimeo.com, Inc."]);
        let media: Vec<_> = p
            .categories_in_use()
            .filter(|c| c.category == Category::Media)
            .flat_map(|c| c.cookies.iter())
            .collect();
        assert_eq!(media.len(), 2);
        assert!(
            media
                .iter()
                .all(|k| k.provider.is_some() && k.policy_url.is_some())
        );
        // A site without embeds names no recipient.
        assert!(Policy::new(&c, &plain).media_recipients.is_empty());
    }
}
