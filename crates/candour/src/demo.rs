//! `candour demo`: a populated site for a fictional police force, on a fresh database in a
//! temporary folder, so anyone can see every capability in one command.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use candour_core::Clock;
use candour_core::account::NewAccount;
use candour_core::account::{EmailAddress, Role};
use candour_core::config::{
    Config, DatabaseUrl, DeclaredCookie, GatedScript, Organisation, PurposeConfig, ScriptSrc, Topic,
};
use candour_core::cookies::Category;
use candour_core::forms::{Field, FieldKind, FormDefinition, PersonAttr};
use candour_core::poll::NewVote;
use candour_core::poll::{PollDraft, ResultsShown};
use candour_core::purposes::{Channel, LawfulBasis};
use candour_core::store::Stores;

/// The demo's content, compiled in so the binary needs no files beside it.
const CONTENT: &[(&str, &str)] = &[
    ("index.md", include_str!("../demo/content/index.md")),
    ("report.md", include_str!("../demo/content/report.md")),
    ("contact.md", include_str!("../demo/content/contact.md")),
    (
        "accessibility.md",
        include_str!("../demo/content/accessibility.md"),
    ),
    (
        "news/index.md",
        include_str!("../demo/content/news/index.md"),
    ),
    (
        "news/road-safety-week.md",
        include_str!("../demo/content/news/road-safety-week.md"),
    ),
    (
        "news/open-day.md",
        include_str!("../demo/content/news/open-day.md"),
    ),
    (
        "news/open-day-transcript.md",
        include_str!("../demo/content/news/open-day-transcript.md"),
    ),
    (
        "static/open-day-poster.svg",
        include_str!("../demo/content/static/open-day-poster.svg"),
    ),
    (
        "static/visit-counter.js",
        include_str!("../demo/content/static/visit-counter.js"),
    ),
];

pub struct DemoSite {
    /// Removed, with the demo database in it, when the demo stops.
    dir: tempfile::TempDir,
    pub config: Config,
    /// The demo administrator's password, made up afresh for each run.
    staff_password: String,
}

/// The demo administrator's sign-in.
pub const STAFF_EMAIL: &str = "admin@northmoor.police.example";

/// Write the demo's content and configuration; `fresh_db` puts a new SQLite file in the
/// temporary folder (otherwise the caller supplies a database URL).
pub fn prepare(base: Config, fresh_db: bool) -> anyhow::Result<DemoSite> {
    let dir = tempfile::Builder::new()
        .prefix("candour-demo-")
        .tempdir()
        .context("could not create a temporary folder for the demo")?;
    let content = dir.path().join("content");
    for (rel, text) in CONTENT {
        write(&content.join(rel), text)?;
    }
    let mut config = base;
    if fresh_db {
        config.database_url = DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("demo.db").display()
        ))
        .map_err(anyhow::Error::msg)?;
    }
    config.content_dir = Some(content);
    config.organisation = Organisation {
        name: "Northmoor Police".to_owned(),
        phone: "101".to_owned(),
        emergency_note:
            "In an emergency, when life is in danger or a crime is in progress, call 999."
                .to_owned(),
        email: "webmaster@northmoor.police.example".to_owned(),
        postal_address: vec![
            "Northmoor Police Headquarters".to_owned(),
            "1 Moor Lane".to_owned(),
            "Northmoor".to_owned(),
            "NM1 2AB".to_owned(),
        ],
        dpo_name: "Jo Whitfield".to_owned(),
        dpo_email: "data.protection@northmoor.police.example".to_owned(),
        ico_registration: "Z0000000".to_owned(),
    };
    config.mail.outbox_dir = dir.path().join("outbox");
    config.mail.from = "Northmoor Police <noreply@northmoor.police.example>".to_owned();
    config.topics = [
        ("road-safety", "Road safety"),
        ("rural-crime", "Rural and farm crime"),
        ("fraud", "Fraud and scams"),
        ("community", "Community events and meetings"),
    ]
    .into_iter()
    .map(|(id, label)| Topic {
        id: id.to_owned(),
        label: label.to_owned(),
    })
    .collect();
    config.purposes = demo_purposes();
    config.scripts = vec![GatedScript {
        src: ScriptSrc::parse("/static/visit-counter.js").map_err(anyhow::Error::msg)?,
        category: Category::Statistics,
    }];
    config.cookies.declared = vec![DeclaredCookie {
        name: "northmoor_visits".to_owned(),
        category: Category::Statistics,
        purpose: "Counts how many times this browser has visited, so we can tell new visitors \
                  from returning ones."
            .to_owned(),
        lifetime_days: 30,
        provider: String::new(),
    }];
    // Four random words are easy to type from the terminal and pass the password check.
    let staff_password = {
        const WORDS: &[&str] = &[
            "amber", "badger", "canal", "dune", "ember", "fjord", "granite", "heron", "island",
            "juniper", "kestrel", "lantern", "meadow", "nettle", "orchard", "pebble", "quarry",
            "rowan", "saddle", "thistle", "upland", "valley", "willow", "yarrow",
        ];
        (0..4)
            .map(|_| WORDS[rand::random_range(0..WORDS.len())])
            .collect::<Vec<_>>()
            .join("-")
    };
    Ok(DemoSite {
        dir,
        config,
        staff_password,
    })
}

/// The organisation's own purposes: what its old privacy notice listed, each with its
/// lawful basis, channels and retention.
fn demo_purposes() -> Vec<PurposeConfig> {
    let purpose = |id: &str,
                   name: &str,
                   description: &str,
                   data: &str,
                   lawful_basis: LawfulBasis,
                   retention_days: u32| PurposeConfig {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        data: data.to_owned(),
        lawful_basis,
        retention_days,
        channels: Vec::new(),
        direct_marketing: false,
        consent_label: String::new(),
    };
    vec![
        purpose(
            "records",
            "Keeping a record of our contact with you",
            "To know what you asked us and what we told you, so we can follow it up.",
            "Your name, contact details and what you sent us on a form.",
            LawfulBasis::PublicTask,
            365 * 6,
        ),
        purpose(
            "service-improvement",
            "Improving our services",
            "To learn from what people tell us in surveys, and change how we work.",
            "Your answers to surveys; counts and summaries are kept without your name.",
            LawfulBasis::PublicTask,
            365 * 2,
        ),
        PurposeConfig {
            channels: vec![Channel::Email],
            direct_marketing: true,
            consent_label: "Send me news, appeals and safety advice".to_owned(),
            ..purpose(
                "news",
                "News, appeals and safety advice",
                "Occasional emails about our work, appeals for information and advice on staying \
                 safe, chosen by the interests you tell us.",
                "Your email address, name and interests.",
                LawfulBasis::Consent,
                365 * 2,
            )
        },
        PurposeConfig {
            channels: vec![Channel::Email, Channel::Phone, Channel::Post, Channel::Fax],
            consent_label: "Ask me to take part in research about policing here".to_owned(),
            ..purpose(
                "research",
                "Research about our services",
                "Now and then, to invite you to take part in research, such as a survey or a \
                 discussion group, in the way you choose.",
                "Your name and the contact details you choose to give.",
                LawfulBasis::Consent,
                365 * 2,
            )
        },
        PurposeConfig {
            channels: vec![Channel::Email],
            direct_marketing: true,
            consent_label: "Send me information from partner agencies that may interest me"
                .to_owned(),
            ..purpose(
                "partner-information",
                "Information from partner agencies",
                "To pass on news from agencies we work with, such as the fire service and \
                 victim support. We send it ourselves: your details are not given to them.",
                "Your email address and interests.",
                LawfulBasis::Consent,
                365 * 2,
            )
        },
    ]
}

/// The demo's forms: a sign-up with consent boxes, and a survey.
fn demo_forms() -> Vec<FormDefinition> {
    let q = |key: &str, label: &str, kind: FieldKind| Field {
        key: key.to_owned(),
        label: label.to_owned(),
        hint: String::new(),
        kind,
        required: false,
        choices: Vec::new(),
        saves_to: None,
        purpose: None,
    };
    let choices = |items: &[&str]| items.iter().map(|c| (*c).to_owned()).collect();
    let stay = FormDefinition {
        title: "Stay in touch".to_owned(),
        intro: "Tell us how you would like to hear from us. Every box is optional, and you can \
                change your mind at any time."
            .to_owned(),
        fields: vec![
            Field {
                required: true,
                saves_to: Some(PersonAttr::Email),
                ..q("q1", "Email address", FieldKind::Email)
            },
            Field {
                saves_to: Some(PersonAttr::Name),
                ..q("q2", "Your name", FieldKind::ShortText)
            },
            Field {
                saves_to: Some(PersonAttr::Postcode),
                hint: "So we can tell you about your area.".to_owned(),
                ..q("q3", "Postcode", FieldKind::Postcode)
            },
            Field {
                purpose: Some("news".to_owned()),
                ..q("q4", "News, appeals and safety advice", FieldKind::Consent)
            },
            Field {
                purpose: Some("research".to_owned()),
                ..q("q5", "Research about our services", FieldKind::Consent)
            },
            Field {
                purpose: Some(candour_core::campaign::TRACKING_PURPOSE.to_owned()),
                hint: "Without this, our emails carry no tracking image or tracked links."
                    .to_owned(),
                ..q("q6", "Which of our emails you read", FieldKind::Consent)
            },
        ],
        purposes: vec![
            "records".to_owned(),
            "news".to_owned(),
            "research".to_owned(),
            candour_core::campaign::TRACKING_PURPOSE.to_owned(),
        ],
    };
    let survey = FormDefinition {
        title: "How did we do?".to_owned(),
        intro: "A short survey about your last contact with us. You do not have to give your \
                name."
            .to_owned(),
        fields: vec![
            Field {
                required: true,
                choices: choices(&["Telephone (101)", "Online", "In person", "Other"]),
                ..q("q1", "How did you contact us?", FieldKind::SingleChoice)
            },
            Field {
                required: true,
                ..q("q2", "How satisfied were you?", FieldKind::Rating)
            },
            Field {
                choices: choices(&["Speed", "Politeness", "Follow-up", "Clear advice"]),
                ..q("q3", "What went well?", FieldKind::MultipleChoice)
            },
            q("q4", "When was it?", FieldKind::Date),
            q(
                "q5",
                "Anything else you want to tell us?",
                FieldKind::LongText,
            ),
        ],
        purposes: vec!["service-improvement".to_owned()],
    };
    vec![stay, survey]
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

impl DemoSite {
    /// Add the demo's staff account; returns whether it was created (a database given with
    /// `--database-url` may have it already, with its own password).
    pub async fn populate(&self, stores: &Stores, clock: &dyn Clock) -> anyhow::Result<bool> {
        let email = EmailAddress::parse(STAFF_EMAIL).map_err(|e| anyhow::anyhow!("{e}"))?;
        if stores.accounts.account_by_email(&email).await?.is_some() {
            return Ok(false);
        }
        let password = self.staff_password.clone();
        let hash =
            tokio::task::spawn_blocking(move || candour_core::password::hash(&password)).await??;
        let staff = stores
            .accounts
            .create_account(&NewAccount {
                email,
                password_hash: hash,
                name: "Demo Administrator".to_owned(),
                role: Some(Role::Admin),
                email_verified: true,
                created_at: clock.now(),
            })
            .await?;
        let now = clock.now();
        let open = PollDraft::parse(
            "What should our neighbourhood teams focus on this summer?",
            &[
                "Speeding on village roads",
                "Farm and machinery theft",
                "Anti-social behaviour in town centres",
                "Online scams",
            ],
            None,
            None,
            ResultsShown::AfterVoting,
        )
        .map_err(|e| anyhow::anyhow!("demo poll: {e:?}"))?;
        stores.polls.create_poll(&open, now).await?;
        let closed = PollDraft::parse(
            "Did you find our winter road safety advice useful?",
            &["Yes", "Somewhat", "No"],
            Some(now - time::Duration::days(30)),
            Some(now - time::Duration::days(1)),
            ResultsShown::AfterClose,
        )
        .map_err(|e| anyhow::anyhow!("demo poll: {e:?}"))?;
        let id = stores
            .polls
            .create_poll(&closed, now - time::Duration::days(31))
            .await?;
        if let Some(poll) = stores.polls.poll(id).await? {
            // Some votes from past days, so the closed poll has results to show. Each is an
            // anonymous voter of its own (a vote without a voter is refused).
            let votes: Vec<NewVote> = poll
                .options
                .iter()
                .zip([23u8, 9, 4])
                .flat_map(|(option, n)| {
                    (0..n).map(move |i: u8| NewVote {
                        poll: id,
                        option: option.id,
                        account: None,
                        voter_hash: Some(rand::random()),
                        day: candour_core::poll::vote_day(
                            now - time::Duration::days(10 + i64::from(i)),
                        ),
                        at: now - time::Duration::days(10),
                    })
                })
                .collect();
            let outcomes = stores.votes.record_votes(&votes).await?;
            anyhow::ensure!(
                outcomes
                    .iter()
                    .all(|o| *o == candour_core::poll::VoteOutcome::Counted),
                "the demo's closed poll did not count its votes: {outcomes:?}"
            );
        }
        for form in demo_forms() {
            stores.forms.create_form(&form, now).await?;
        }
        if self.config.requests.enabled {
            self.demo_requests(stores, staff, now).await?;
        }
        if self.config.stats.enabled {
            crate::demo_stats::fill(stores, now).await?;
        }
        Ok(true)
    }

    /// A few requests about personal data in different states, made and moved on as the
    /// front door and the privacy officer would, so the queue has something to show.
    async fn demo_requests(
        &self,
        stores: &Stores,
        staff: i64,
        now: time::OffsetDateTime,
    ) -> anyhow::Result<()> {
        use candour_core::requests::{Change, Confirmation, Kind, NewCase, NewRequest, case};
        // The same holidays the server moves due dates by, the configured file's included.
        let holidays = candour_web::load_holidays(&self.config)?;
        let today = candour_core::uk_time::uk_local(now).date();
        let day = time::Duration::days;
        // (kind, name, email, what they asked, received this many days ago, the steps taken
        // with how many days ago each was taken)
        let demo = [
            (
                Kind::Access,
                "Sam Okafor",
                "sam.okafor@example.org",
                "A copy of everything you hold about me from the survey and the newsletter.",
                0,
                Vec::new(),
            ),
            (
                Kind::Erasure,
                "Priya Natarajan",
                "priya.n@example.org",
                "Please delete my details; I no longer want to hear from you.",
                3,
                vec![(Change::AskForIdentity, 2)],
            ),
            (
                Kind::Access,
                REES.0,
                REES.1,
                "Everything about me, including the records of my calls to 101 since 2019.",
                20,
                vec![
                    (Change::Start, 19),
                    (
                        Change::Extend {
                            months: 2,
                            reasons: "The request covers six years of call records held in \
                                      three systems."
                                .to_owned(),
                        },
                        12,
                    ),
                ],
            ),
            (
                Kind::Portability,
                "Morag Campbell",
                "morag.campbell@example.org",
                "My answers to your forms, in a file I can use elsewhere.",
                26,
                vec![(Change::Start, 25), (Change::Answer, 5)],
            ),
            (
                Kind::Erasure,
                "Tom Baxter",
                "tom.baxter@example.net",
                "Delete the record of my report about the stolen quad bike.",
                15,
                vec![(
                    Change::Refuse {
                        reasons: "The report is part of an open investigation, which the law \
                                  requires us to keep."
                            .to_owned(),
                    },
                    4,
                )],
            ),
            (
                Kind::Correction,
                "Alex Moore",
                "alex.moore@example.org",
                "My postcode is wrong on your records.",
                45,
                vec![(Change::Start, 44)],
            ),
        ];
        // Two of them are from people Candour holds a record of, so their cases have an
        // answer panel: one still being worked on, one answered (its answer now fixed).
        let mut people = Vec::new();
        for (name, email) in [
            (REES.0, REES.1),
            ("Morag Campbell", "morag.campbell@example.org"),
        ] {
            let address = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let person = stores
                .people
                .ensure_person(
                    &address,
                    candour_core::people::Source::Staff,
                    now - day(400),
                )
                .await?;
            let mut details = person.details.clone();
            details.name = name.to_owned();
            stores
                .people
                .update_person(person.id, &details, now - day(400))
                .await?;
            people.push((email, person.id));
        }
        let mut rees_case = None;
        for (kind, name, email, details, received, steps) in demo {
            let correction = if kind == Kind::Correction {
                "NM2 4CD"
            } else {
                ""
            };
            let request = NewRequest::parse(kind.code(), name, email, details, correction, false)
                .map_err(|e| anyhow::anyhow!("demo request: {e}"))?;
            let id = stores
                .requests
                .create_request(&NewCase {
                    request,
                    person: people.iter().find(|(e, _)| *e == email).map(|(_, p)| *p),
                    at: now - day(received),
                    confirmation: Confirmation::Verified {
                        received_on: today - day(received),
                    },
                })
                .await?;
            for (change, ago) in steps {
                let Some(case) = stores.requests.request(id).await? else {
                    anyhow::bail!("the demo's request {id} was not stored");
                };
                let planned = case::plan(
                    case.status,
                    &case.timeline,
                    &change,
                    today - day(ago),
                    &holidays,
                )
                .map_err(|e| anyhow::anyhow!("demo request {id}: {e}"))?;
                stores
                    .requests
                    .change_request(id, case.status, &planned, staff, now - day(ago))
                    .await?;
            }
            if email == REES.1 {
                rees_case = Some(id);
            }
        }
        let (Some(case), Some((_, rees))) = (rees_case, people.first().copied()) else {
            anyhow::bail!("the demo's request from {} was not made", REES.0);
        };
        demo_answer_items(stores, staff, case, now).await?;
        demo_disclosures(stores, staff, rees, now).await?;
        Ok(())
    }

    /// Tell the person who started the demo where it is and how to sign in.
    pub fn announce(&self, addr: SocketAddr, staff_created: bool) {
        let sign_in = if staff_created {
            format!("{STAFF_EMAIL} with the password {}", self.staff_password)
        } else {
            format!("{STAFF_EMAIL} (already in that database, with its own password)")
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Candour demo for {} (a fictional police force)\n  Site:     http://{addr}/\n  Staff:    {sign_in}\n  Email:    written to {} instead of being sent\n  Files:    {} (removed when the demo stops)\n  Stop it with Ctrl-C.",
            self.config.organisation.name,
            self.config.mail.outbox_dir.display(),
            self.dir.path().display(),
        );
        let _ = out.flush();
    }
}

/// The demo's person with an open request for a copy of their data: name and address.
const REES: (&str, &str) = ("Dafydd Rees", "d.rees@example.net");

/// On the open request for a copy: a file from another system added to the answer, and a
/// second one withheld because it is about someone else, as staff would do on the case page.
async fn demo_answer_items(
    stores: &Stores,
    staff: i64,
    case: i64,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    use candour_core::requests::items::{NewRequestFile, NewWithholding, Withhold};
    let at = now - time::Duration::days(2);
    stores
        .request_items
        .add_request_file(&NewRequestFile {
            request: case,
            name: "101-calls-2019-2025.csv".to_owned(),
            content: b"date,reference,subject\n2019-03-14,NM-19-0311,Report of a stolen bicycle\n\
                       2023-11-02,NM-23-8820,Noise from a neighbouring property\n"
                .to_vec(),
            by: staff,
            at,
        })
        .await?;
    let statement = stores
        .request_items
        .add_request_file(&NewRequestFile {
            request: case,
            name: "witness-statement-NM-23-8820.txt".to_owned(),
            content: b"Statement given by a neighbour about the noise complaint.\n".to_vec(),
            by: staff,
            at,
        })
        .await?;
    let w = Withhold::parse(
        candour_core::requests::items::FILES_TABLE,
        &statement.to_string(),
        "other-person",
        "A neighbour's witness statement: it is about them and names them.",
    )
    .map_err(|e| anyhow::anyhow!("demo withholding: {e:?}"))?;
    stores
        .request_items
        .withhold(&NewWithholding {
            request: case,
            item: w.item,
            ground: w.ground,
            note: w.note,
            by: staff,
            at,
        })
        .await?;
    Ok(())
}

/// The register of recipients (two active, one retired) and a few disclosures, so the
/// register, the privacy notice and a person's copy of their data each list some.
async fn demo_disclosures(
    stores: &Stores,
    staff: i64,
    person: i64,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    use candour_core::disclosures::{ForWhom, NewDisclosure, RecipientDraft, kind};
    let day = time::Duration::days;
    let mut ids = Vec::new();
    for (name, purpose, basis) in [
        (
            "Northmoor County Council, community safety team",
            "Working with us on reports of anti-social behaviour in your area",
            "public-task",
        ),
        (
            "Crown Prosecution Service",
            "Deciding whether to charge in cases we refer to them",
            "legal-obligation",
        ),
        (
            "Northmoor Print and Post Ltd",
            "Printing and posting our community newsletter",
            "legitimate-interests",
        ),
    ] {
        let draft = RecipientDraft::parse(name, purpose, basis)
            .map_err(|e| anyhow::anyhow!("demo recipient {name}: {e:?}"))?;
        ids.push(
            stores
                .disclosures
                .add_recipient(&draft, now - day(300))
                .await?,
        );
    }
    // The printer no longer receives anything: retired, kept for the disclosures naming it.
    if let Some(printer) = ids.get(2) {
        stores
            .disclosures
            .set_recipient_active(*printer, false)
            .await?;
    }
    let council = ids.first().copied().unwrap_or_default();
    for (for_whom, what, description, ago) in [
        (
            ForWhom::Recipient(council),
            kind::PERSON,
            format!("person {person}"),
            40,
        ),
        (
            ForWhom::Internal("Reviewing the noise complaint with the neighbourhood team".into()),
            kind::PERSON,
            format!("person {person}"),
            9,
        ),
    ] {
        stores
            .disclosures
            .record_disclosure(&NewDisclosure {
                for_whom,
                actor: Some(staff),
                kind: what.to_owned(),
                description,
                people: vec![person],
                at: now - day(ago),
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_purposes_and_forms_are_valid() {
        let c = Config {
            purposes: demo_purposes(),
            ..Config::default()
        };
        assert!(c.warnings().iter().all(|w| !w.contains("purposes")));
        let purposes = candour_core::purposes::registry(&c);
        for f in demo_forms() {
            assert_eq!(
                f.check(&purposes),
                candour_core::fields::FieldErrors::new(),
                "{}",
                f.title
            );
        }
    }
}
