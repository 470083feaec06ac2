//! Email campaigns end to end: composing in the console, delivery over SMTP to a real server
//! on loopback, consented tracking, one-click unsubscribe, retries, bounces, a worker that
//! stops mid-campaign, and two workers sharing one database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use candour_core::Clock;
use candour_core::account::Profile;
use candour_core::account::{EmailAddress, Role};
use candour_core::campaign::CampaignState;
use candour_core::campaign::TRACKING_PURPOSE;
use candour_core::config::{Config, PurposeConfig};
use candour_core::people::ConsentChange;
use candour_core::people::{Method, NewConsent, Source, has_consent};
use candour_core::purposes::{Channel, LawfulBasis, Purpose};
use candour_mail::test_sink::Received;
use common::*;

fn with_news(c: &mut Config) {
    c.purposes = vec![PurposeConfig {
        id: "news".into(),
        name: "News and appeals".into(),
        description: "Emails about our work.".into(),
        data: "Your email address.".into(),
        lawful_basis: LawfulBasis::Consent,
        retention_days: 730,
        channels: vec![Channel::Email, Channel::Post],
        direct_marketing: true,
        consent_label: "Send me news and appeals".into(),
    }];
}

fn purposes() -> Vec<Purpose> {
    let mut c = Config::default();
    with_news(&mut c);
    candour_core::purposes::registry(&c)
}

fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

fn consent(purpose: &str, channel: Option<Channel>, granted: bool) -> NewConsent {
    NewConsent {
        purpose: purpose.into(),
        channel,
        granted,
        method: Method::PreferenceCentre,
        wording: None,
        actor: None,
        note: String::new(),
    }
}

const BODY: &str = "Hello {{name}},\n\n<script>alert(1)</script>\n\nRead [our news](https://example.org/news) \
or [the appeal](https://example.org/appeal).\n\nChange your mind: [your choices]({{preferences_url}}).\n";

impl TestApp {
    /// A person who agreed to news by email, and to tracking when `tracked`.
    async fn subscriber(&self, address: &str, name: &str, tracked: bool) -> i64 {
        let now = self.clock.now();
        let p = self
            .stores
            .people
            .ensure_person(&email(address), Source::Staff, now)
            .await
            .unwrap();
        let profile = Profile {
            name: name.into(),
            ..Profile::default()
        };
        self.stores
            .people
            .update_person(p.id, &profile, now)
            .await
            .unwrap();
        let mut events = vec![consent("news", Some(Channel::Email), true)];
        if tracked {
            events.push(consent(TRACKING_PURPOSE, None, true));
        }
        self.change(p.id, &events).await;
        p.id
    }

    async fn change(&self, person: i64, events: &[NewConsent]) {
        self.stores
            .ledger
            .append_consents(ConsentChange {
                person,
                events,
                objections: &[],
                actor: None,
                purposes: &purposes(),
                at: self.clock.now(),
            })
            .await
            .unwrap();
    }

    /// Write a campaign as `cookie` through the console; returns its id.
    async fn write_campaign(&self, cookie: &str, subject: &str, body: &str) -> i64 {
        let (status, _, token) = self.page("/admin/campaigns/new", cookie).await;
        assert_eq!(status, 200);
        let res = self
            .post_form(
                "/admin/campaigns",
                &[
                    ("csrf", &token),
                    ("name", "Spring news"),
                    ("subject", subject),
                    ("preheader", "What we did this spring"),
                    ("body", body),
                    ("purpose", "news"),
                    ("postcode_areas", ""),
                ],
                &[("cookie", cookie)],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        location
            .trim_start_matches("/admin/campaigns/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn send_now(&self, cookie: &str, id: i64) -> reqwest::Response {
        let (_, html, token) = self.page(&format!("/admin/campaigns/{id}"), cookie).await;
        let content = hidden(&html, "content").unwrap_or_default();
        let fields = [
            ("csrf", token.as_str()),
            ("when", "now"),
            ("at", ""),
            ("content", content.as_str()),
        ];
        // First the question: how many people, and now.
        let res = self
            .post_form(
                &format!("/admin/campaigns/{id}/schedule"),
                &fields,
                &[("cookie", cookie)],
            )
            .await;
        if res.status() != 200 {
            return res;
        }
        let html = res.text().await.unwrap();
        assert!(
            html.contains("<h1>Send to ") && html.contains(" now?</h1>"),
            "{html}"
        );
        let mut confirmed = fields.to_vec();
        confirmed.push(("confirm", "yes"));
        self.post_form(
            &format!("/admin/campaigns/{id}/schedule"),
            &confirmed,
            &[("cookie", cookie)],
        )
        .await
    }

    async fn progress(&self, id: i64) -> candour_core::campaign::Progress {
        self.stores
            .campaigns
            .progress(id, self.clock.now())
            .await
            .unwrap()
    }

    async fn campaign(&self, id: i64) -> candour_core::campaign::Campaign {
        self.stores.campaigns.campaign(id).await.unwrap().unwrap()
    }

    /// Run the worker until it finds nothing to do.
    async fn drain(&self) {
        for _ in 0..1000 {
            if self.sender.tick().await.unwrap() == 0 {
                return;
            }
        }
        panic!("the worker never ran out of work");
    }

    async fn campaign_mail(&self, subject_has: &str) -> Vec<Received> {
        self.sink
            .messages()
            .await
            .into_iter()
            .filter(|m| m.data.contains(subject_has))
            .collect()
    }
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    let head = data.split("\r\n\r\n").next().unwrap_or("");
    head.split("\r\n")
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

fn message_to<'a>(mail: &'a [Received], address: &str) -> &'a Received {
    mail.iter()
        .find(|m| m.to == vec![address.to_owned()])
        .unwrap_or_else(|| panic!("no message to {address}"))
}

#[tokio::test]
async fn a_campaign_reaches_only_consenting_people_with_the_right_headers_and_parts() {
    let app = spawn_with(with_news).await;
    let ann = app.subscriber("ann@example.org", "Ann", true).await;
    app.subscriber("bob@example.org", "Bob", false).await;
    let cat = app.subscriber("cat@example.org", "Cat", false).await;
    app.change(cat, &[consent("news", Some(Channel::Email), false)])
        .await;
    app.stores
        .people
        .ensure_person(&email("dan@example.org"), Source::Staff, app.clock.now())
        .await
        .unwrap();
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "News for {{name}}", BODY).await;

    let (status, html, _) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 people"), "{html}");
    assert!(html.contains("sandbox=\"\""));
    let preview = app
        .get_with_cookie(&format!("/admin/campaigns/{id}/preview"), &admin)
        .await;
    let csp = preview.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("sandbox;") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let preview = preview.text().await.unwrap();
    assert!(!preview.contains("<script"));
    assert!(preview.contains("&lt;script&gt;"));

    let res = app.send_now(&admin, id).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    app.drain().await;
    let mail = app.campaign_mail("Subject: News for").await;
    assert_eq!(mail.len(), 2, "{mail:?}");

    let to_ann = message_to(&mail, "ann@example.org");
    let data = &to_ann.data;
    assert_eq!(header(data, "Subject"), Some("News for Ann"));
    let unsubscribe = header(data, "List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with("<http://") && unsubscribe.contains("/unsubscribe/"),
        "{unsubscribe}"
    );
    assert_eq!(
        header(data, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let message_id = header(data, "Message-ID").unwrap();
    assert!(
        message_id.starts_with(&format!("<c{id}.d")) && message_id.ends_with("@testshire.example>"),
        "{message_id}"
    );
    assert!(
        header(data, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let decoded = decode_qp(data);
    assert!(decoded.contains("Content-Type: text/plain"));
    assert!(decoded.contains("Content-Type: text/html"));
    assert!(decoded.contains("/t/o/"), "a pixel for Ann");
    assert!(decoded.contains("/t/c/"));
    assert!(!decoded.contains("href=\"https://example.org/news\""));

    let to_bob = decode_qp(&message_to(&mail, "bob@example.org").data);
    assert!(!to_bob.contains("/t/o/"), "no pixel without consent");
    assert!(!to_bob.contains("/t/c/"));
    assert!(to_bob.contains("href=\"https://example.org/news\""));
    assert!(to_bob.contains("Hello Bob"));

    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Sent);
    let p = app.progress(id).await;
    assert_eq!((p.sent, p.tracked, p.remaining()), (2, 1, 0));
    let deliveries = app.stores.deliveries.person_deliveries(ann).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert!(deliveries[0].tracked);
}

#[tokio::test]
async fn bad_campaign_input_is_refused_with_the_field_and_nothing_reaches_a_header() {
    let app = spawn_with(with_news).await;
    let editor = app.staff("editor@testshire.example", Role::Editor).await;
    let (_, _, token) = app.page("/admin/campaigns/new", &editor).await;
    for (subject, body, field, needle) in [
        ("Hi\r\nBcc: x@example.org", "Hello", "subject", "one line"),
        ("Hi", "{{ config.secret }}", "body", "not a placeholder"),
        ("Hi", "{% for x in people %}", "body", "template tags"),
        ("Hi", "[x](javascript:alert(1))", "body", "links must start"),
        ("", "Hello", "subject", "is required"),
    ] {
        let res = app
            .post_form(
                "/admin/campaigns",
                &[
                    ("csrf", &token),
                    ("name", "Bad"),
                    ("subject", subject),
                    ("preheader", ""),
                    ("body", body),
                    ("purpose", "news"),
                    ("postcode_areas", ""),
                ],
                &[("cookie", &editor)],
            )
            .await;
        assert_eq!(res.status(), 422, "{subject:?} {body:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("href=\"#{field}\"")), "{html}");
        assert!(html.contains(needle), "{needle}: {html}");
    }
    assert!(app.stores.campaigns.campaigns().await.unwrap().is_empty());

    // An editor writes; only an administrator or an approver sends.
    let mal = app
        .subscriber("mal@example.org", "Mal\r\nBcc: evil@example.org", false)
        .await;
    let id = app
        .write_campaign(&editor, "Hello {{name}}", "Hi {{name}}")
        .await;
    let res = app.send_now(&editor, id).await;
    assert_eq!(res.status(), 403);
    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Draft);

    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    // An approval of a version changed since the approver read it is refused.
    let (_, _, token) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    let res = app
        .post_form(
            &format!("/admin/campaigns/{id}/schedule"),
            &[
                ("csrf", &token),
                ("when", "now"),
                ("at", ""),
                ("content", "an-older-version"),
            ],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 409);
    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Draft);
    // Sending asks first, with the number of people; nothing is queued until the answer.
    let (_, html, token) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    let content = hidden(&html, "content").unwrap();
    let res = app
        .post_form(
            &format!("/admin/campaigns/{id}/schedule"),
            &[
                ("csrf", &token),
                ("when", "now"),
                ("at", ""),
                ("content", &content),
            ],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let question = res.text().await.unwrap();
    assert!(
        question.contains("<h1>Send to 1 person now?</h1>"),
        "{question}"
    );
    assert!(question.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(app.campaign(id).await.state, CampaignState::Draft);
    assert_eq!(app.send_now(&admin, id).await.status(), 303);
    app.drain().await;
    let mail = app.campaign_mail("Subject: Hello").await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, vec!["mal@example.org".to_owned()]);
    let head = mail[0].data.split("\r\n\r\n").next().unwrap();
    assert!(
        !head
            .split("\r\n")
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{head}"
    );
    let to = header(&mail[0].data, "To").unwrap();
    assert!(to.ends_with("<mal@example.org>"), "{head}");
    let _ = mal;
}

/// The first link in a message that starts with `prefix`, as a path on the test server.
fn path_in(m: &Received, prefix: &str) -> String {
    let text = decode_qp(&m.data);
    let start = text.find(prefix).unwrap();
    let end = text[start..]
        .find(|c: char| matches!(c, '"' | ')' | '>') || c.is_whitespace())
        .unwrap();
    path_of(&text[start..start + end])
}

#[tokio::test]
async fn opens_and_clicks_count_only_for_tracked_recipients_and_links_stay_inside_the_campaign() {
    let app = spawn_with(with_news).await;
    let ann = app.subscriber("ann@example.org", "Ann", true).await;
    let bob = app.subscriber("bob@example.org", "Bob", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "News for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    app.drain().await;
    let mail = app.campaign_mail("Subject: News for").await;
    let to_ann = message_to(&mail, "ann@example.org");
    let pixel = path_in(to_ann, "/t/o/");
    let click = path_in(to_ann, "/t/c/");
    app.clock.advance(time::Duration::minutes(5));

    let person = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    let res = app
        .client
        .get(format!("{}{pixel}", app.url))
        .header("user-agent", person)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");
    assert_eq!(res.bytes().await.unwrap().len(), 43);
    // Apple's privacy proxy fetches with a bare agent: a machine open.
    app.client
        .get(format!("{}{pixel}", app.url))
        .header("user-agent", "Mozilla/5.0")
        .send()
        .await
        .unwrap();
    let res = app
        .client
        .get(format!("{}{click}?url=https://evil.example/", app.url))
        .header("user-agent", person)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "https://example.org/news");
    // The destination never sees the signed token in a Referer.
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(res.headers().get("set-cookie").is_none());

    // A tampered or truncated token: no redirect, no state change, nothing reflected.
    let mut tampered = click.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        tampered,
        click[..click.len() - 4].to_owned(),
        "/t/c/<script>".to_owned(),
    ] {
        let res = app.get(&bad).await;
        assert_eq!(res.status(), 404, "{bad}");
        assert!(res.headers().get("location").is_none());
        let body = res.text().await.unwrap();
        assert!(
            !body.contains(&bad[5..]) && !body.contains("&lt;script&gt;"),
            "{body}"
        );
    }
    let bad_pixel = app.get("/t/o/nonsense").await;
    assert_eq!(bad_pixel.status(), 200);

    app.flush_queues().await;
    let r = app
        .stores
        .campaigns
        .report(id, app.clock.now())
        .await
        .unwrap();
    assert!(
        r.opens.events == 2 && r.clicks.events == 1,
        "the events were recorded: {r:?}"
    );
    assert_eq!(r.opens.reliable_events, 1);
    assert_eq!(r.opens.recipients, 1);
    assert_eq!(r.clicks.reliable_recipients, 1);
    assert_eq!(r.links.len(), 2);
    assert_eq!(r.links[0].events, 1);
    assert_eq!(r.links[1].events, 0);

    let (_, html, _) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    assert!(html.contains("Clicks per link"));
    assert!(html.contains("https://example.org/appeal"));
    let priv_officer = app
        .staff("privacy@testshire.example", Role::PrivacyOfficer)
        .await;
    let (_, ann_page, _) = app
        .page(&format!("/admin/people/{ann}"), &priv_officer)
        .await;
    assert!(
        ann_page.contains("https://example.org/news ("),
        "{ann_page}"
    );
    let (_, bob_page, _) = app
        .page(&format!("/admin/people/{bob}"), &priv_officer)
        .await;
    assert!(bob_page.contains("Not tracked"));

    // Withdrawing consent to tracking stops the recording at once.
    app.change(ann, &[consent(TRACKING_PURPOSE, None, false)])
        .await;
    app.client
        .get(format!("{}{pixel}", app.url))
        .header("user-agent", person)
        .send()
        .await
        .unwrap();
    app.flush_queues().await;
    let r = app
        .stores
        .campaigns
        .report(id, app.clock.now())
        .await
        .unwrap();
    assert_eq!(r.opens.events, 2);
}

#[tokio::test]
async fn a_persons_click_straight_after_sending_is_reliable_and_a_scanners_is_not() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", true).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "News for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    app.drain().await;
    let mail = app.campaign_mail("Subject: News for").await;
    let to_ann = message_to(&mail, "ann@example.org");
    // The message's tracked links, in order (the first is the news, the second the appeal).
    let text = decode_qp(&to_ann.data);
    let mut links: Vec<String> = Vec::new();
    for rest in text.split("/t/c/").skip(1) {
        let token: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        let link = format!("/t/c/{token}");
        if !links.contains(&link) {
            links.push(link);
        }
    }
    assert!(links.len() >= 2, "{text}");
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                  Gecko) Chrome/142.0.0.0 Safari/537.36";
    // Within seconds of sending (the clock has not moved): a scanner's HEAD on the first
    // link, and a person's click on the second, which the browser marks as theirs.
    let head = app
        .client
        .head(format!("{}{}", app.url, links[0]))
        .header("user-agent", chrome)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 302);
    let res = app
        .client
        .get(format!("{}{}", app.url, links[1]))
        .header("user-agent", chrome)
        .header("sec-fetch-user", "?1")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    app.flush_queues().await;
    let r = app
        .stores
        .campaigns
        .report(id, app.clock.now())
        .await
        .unwrap();
    assert_eq!(r.clicks.events, 2, "both clicks were recorded");
    assert_eq!(r.clicks.reliable_events, 1, "{r:?}");
    assert_eq!(r.links[0].reliable_events, 0, "the scanner's HEAD");
    assert_eq!(r.links[1].reliable_events, 1, "the person's click");
    // The report says what "reliable" means.
    let (_, html, _) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    assert!(
        html.contains("What \u{201c}reliable\u{201d} means"),
        "{html}"
    );
}

#[tokio::test]
async fn a_campaign_is_scheduled_in_uk_time_and_the_question_says_when() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "News for {{name}}", BODY).await;
    let (_, html, token) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    assert!(html.contains("Time to send (UK time)"), "{html}");
    let content = hidden(&html, "content").unwrap();
    // The test clock reads 1 June 2026 09:00 UTC, 10:00am in the UK (summer time). Midday
    // on UK clocks is 11:00 UTC.
    let fields = [
        ("csrf", token.as_str()),
        ("when", "later"),
        ("at", "2026-06-01T12:00"),
        ("content", content.as_str()),
    ];
    let res = app
        .post_form(
            &format!("/admin/campaigns/{id}/schedule"),
            &fields,
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let question = res.text().await.unwrap();
    assert!(
        question.contains("<h1>Send to 1 person at 1 June 2026 at midday?</h1>"),
        "{question}"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm", "yes"));
    let res = app
        .post_form(
            &format!("/admin/campaigns/{id}/schedule"),
            &confirmed,
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let c = app.campaign(id).await;
    assert_eq!(
        c.scheduled_at,
        Some(time::macros::datetime!(2026-06-01 11:00 UTC))
    );
    let (_, page, _) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    assert!(page.contains("1 June 2026 at midday"), "{page}");
    assert!(!page.contains(" UTC<"), "no UTC times: {page}");
}

#[tokio::test]
async fn one_click_unsubscribe_needs_no_cookie_and_the_emailed_page_only_asks() {
    let app = spawn_with(with_news).await;
    let ann = app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let first = app.write_campaign(&admin, "First for {{name}}", BODY).await;
    app.send_now(&admin, first).await;
    app.drain().await;
    let mail = app.campaign_mail("Subject: First for").await;
    let link = header(&mail[0].data, "List-Unsubscribe")
        .unwrap()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned();
    let path = path_of(&link);
    let link = format!("{}{path}", app.url);

    // A second campaign is already queued when the person unsubscribes.
    let second = app
        .write_campaign(&admin, "Second for {{name}}", BODY)
        .await;
    app.send_now(&admin, second).await;
    app.stores
        .deliveries
        .start_due_campaigns(app.clock.now(), 1000)
        .await
        .unwrap();

    // A scanner following the link changes nothing.
    let res = app.get(&path).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{path}\"")));
    assert!(html.contains("href=\"/preferences\""));
    let events = app.stores.ledger.consent_events(ann).await.unwrap();
    assert!(has_consent(&events, "news", Some(Channel::Email)));

    // The mail provider's POST: no cookie, no origin, no form token.
    let res = app
        .client
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = app.stores.ledger.consent_events(ann).await.unwrap();
    assert!(!has_consent(&events, "news", Some(Channel::Email)));
    let withdrawal = events.last().unwrap();
    assert_eq!(withdrawal.method, Method::Unsubscribe);
    // Again: no second event.
    app.client
        .post(&link)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.stores.ledger.consent_events(ann).await.unwrap().len(),
        events.len()
    );
    let mut forged = link.clone();
    forged.truncate(forged.len() - 3);
    let res = app.client.post(&forged).send().await.unwrap();
    assert_eq!(res.status(), 404);

    // The queued message of the other campaign is not sent.
    app.drain().await;
    assert!(app.campaign_mail("Subject: Second for").await.is_empty());
    let p = app.progress(second).await;
    assert_eq!((p.sent, p.skipped), (0, 1));
    let p = app.progress(first).await;
    assert_eq!(p.unsubscribed, 1);
}

#[tokio::test]
async fn a_relay_that_says_try_later_is_retried_and_a_hard_bounce_suppresses() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "Retry for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    app.sink
        .refuse_sessions(1, "421 4.3.2 busy, try later")
        .await;
    app.drain().await;
    assert!(app.campaign_mail("Subject: Retry for").await.is_empty());
    let p = app.progress(id).await;
    assert_eq!((p.queued, p.sent, p.failed), (1, 0, 0));
    // Not before its time comes.
    app.clock.advance(time::Duration::minutes(4));
    app.drain().await;
    assert!(app.campaign_mail("Subject: Retry for").await.is_empty());
    app.clock.advance(time::Duration::minutes(2));
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Retry for").await.len(), 1);
    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Sent);

    // 550: the message fails and the address is suppressed, so later campaigns skip it.
    let bounce = app
        .write_campaign(&admin, "Bounce for {{name}}", BODY)
        .await;
    app.send_now(&admin, bounce).await;
    app.sink
        .reply_to_next_rcpt("550 5.1.1 no such mailbox")
        .await;
    app.drain().await;
    let p = app.progress(bounce).await;
    assert_eq!((p.failed, p.bounced, p.sent), (1, 1, 0));
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&email("ann@example.org"))
            .await
            .unwrap(),
        vec![Channel::Email]
    );
    let after = app.write_campaign(&admin, "After for {{name}}", BODY).await;
    app.send_now(&admin, after).await;
    app.drain().await;
    let p = app.progress(after).await;
    assert_eq!(p.sent, 0);
    assert!(app.campaign_mail("Subject: After for").await.is_empty());
}

#[tokio::test]
async fn a_relay_that_says_try_later_for_an_hour_then_refuses_is_backed_off_then_failed_and_suppressed()
 {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "Later for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    // Each try is told to come back later; the waits double from retry_first_seconds.
    app.sink
        .reply_to_every_rcpt(Some("451 4.3.0 try again later"))
        .await;
    let started = app.clock.now();
    let mut tries_at = Vec::new();
    while app.clock.now() - started <= time::Duration::hours(1) {
        let before = app.sink.rcpts().await;
        app.drain().await;
        if app.sink.rcpts().await > before {
            tries_at.push((app.clock.now() - started).whole_minutes());
        }
        assert_eq!(app.campaign(id).await.state, CampaignState::Sending);
        app.clock.advance(time::Duration::minutes(1));
    }
    // retry_first_seconds is 300 by default: 5, 10, then 20 minutes between tries.
    assert_eq!(tries_at, vec![0, 5, 15, 35], "backed off");
    let p = app.progress(id).await;
    assert_eq!((p.queued, p.sent, p.failed), (1, 0, 0));
    assert!(app.campaign_mail("Subject: Later for").await.is_empty());
    // Then the relay refuses the address for good: failed, and suppressed at once.
    app.sink
        .reply_to_every_rcpt(Some("550 5.1.1 no such mailbox"))
        .await;
    app.clock.advance(time::Duration::hours(1));
    app.drain().await;
    let p = app.progress(id).await;
    assert_eq!((p.queued, p.sent, p.failed, p.bounced), (0, 0, 1, 1));
    assert_eq!(
        app.stores
            .ledger
            .suppressed_channels(&email("ann@example.org"))
            .await
            .unwrap(),
        vec![Channel::Email]
    );
    assert_eq!(app.campaign(id).await.state, CampaignState::Sent);
}

/// The campaign page's figure for messages that may have gone twice.
async fn shown_duplicates(app: &TestApp, cookie: &str, id: i64) -> String {
    let (status, html, _) = app.page(&format!("/admin/campaigns/{id}"), cookie).await;
    assert_eq!(status, 200);
    html.split("data-field=\"possible_duplicates\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_message_kept_by_the_relay_without_an_answer_and_sent_again_is_counted_as_a_possible_duplicate()
 {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    // A first campaign leaves an open connection to the relay for the next one.
    let warm = app.write_campaign(&admin, "Warm for {{name}}", BODY).await;
    app.send_now(&admin, warm).await;
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Warm for").await.len(), 1);

    // The relay keeps the message and drops the connection instead of answering its final
    // `.`: the worker sends it again at once on a new connection, and the second copy is
    // accepted.
    let id = app.write_campaign(&admin, "Twice for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    app.sink.drop_after_data(1).await;
    app.drain().await;
    let copies = app.campaign_mail("Subject: Twice for").await;
    assert_eq!(copies.len(), 2, "the relay holds both copies");
    assert_eq!(
        header(&copies[0].data, "Message-ID"),
        header(&copies[1].data, "Message-ID")
    );
    let p = app.progress(id).await;
    assert_eq!((p.sent, p.failed, p.queued), (1, 0, 0));
    assert_eq!(p.possible_duplicates, 1);
    assert_eq!(shown_duplicates(&app, &admin, id).await, "1");
    assert_eq!(app.campaign(id).await.state, CampaignState::Sent);

    // Lost at DATA, before any of the message was sent: sent again at once, one copy, no
    // possible duplicate.
    let once = app.write_campaign(&admin, "Once for {{name}}", BODY).await;
    app.send_now(&admin, once).await;
    app.sink.drop_at_data(1).await;
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Once for").await.len(), 1);
    let p = app.progress(once).await;
    assert_eq!((p.sent, p.possible_duplicates), (1, 0));
    assert_eq!(shown_duplicates(&app, &admin, once).await, "0");
}

#[tokio::test]
async fn a_message_kept_by_the_relay_without_an_answer_and_retried_later_is_counted_as_a_possible_duplicate()
 {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "Later for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    // On a new connection, a lost answer is not sent again at once: it waits for its retry.
    app.sink.drop_after_data(1).await;
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Later for").await.len(), 1);
    let p = app.progress(id).await;
    assert_eq!((p.queued, p.sent, p.possible_duplicates), (1, 0, 0));
    app.clock.advance(time::Duration::minutes(6));
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Later for").await.len(), 2);
    let p = app.progress(id).await;
    assert_eq!((p.queued, p.sent, p.possible_duplicates), (0, 1, 1));
    assert_eq!(shown_duplicates(&app, &admin, id).await, "1");

    // Lost before the final `.` on the open connection and again on a new one: retried
    // later, and only one copy exists.
    let once = app.write_campaign(&admin, "Once for {{name}}", BODY).await;
    app.send_now(&admin, once).await;
    app.sink.drop_at_data(2).await;
    app.drain().await;
    assert!(app.campaign_mail("Subject: Once for").await.is_empty());
    assert_eq!(app.progress(once).await.queued, 1);
    app.clock.advance(time::Duration::minutes(6));
    app.drain().await;
    assert_eq!(app.campaign_mail("Subject: Once for").await.len(), 1);
    let p = app.progress(once).await;
    assert_eq!((p.sent, p.possible_duplicates), (1, 0));
}

#[tokio::test]
async fn a_plain_mailbox_refusal_suppresses_after_two_campaigns_and_a_policy_refusal_never() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let suppressed = |address: &'static str| {
        let ledger = app.stores.ledger.clone();
        async move {
            !ledger
                .suppressed_channels(&email(address))
                .await
                .unwrap()
                .is_empty()
        }
    };
    // Each campaign goes to whoever is subscribed; the relay refuses its one recipient.
    let refused = |subject: &'static str, reply: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let id = app.write_campaign(&admin, subject, BODY).await;
            app.send_now(&admin, id).await;
            app.sink.reply_to_next_rcpt(reply).await;
            app.drain().await;
            (id, app.progress(id).await)
        }
    };

    let (_, p) = refused("First for {{name}}", "550 mailbox unavailable").await;
    assert_eq!((p.failed, p.bounced), (1, 0));
    assert!(
        !suppressed("ann@example.org").await,
        "one campaign is not enough"
    );
    let (second, p) = refused("Second for {{name}}", "550 mailbox unavailable").await;
    assert_eq!((p.failed, p.bounced), (1, 1));
    assert!(
        suppressed("ann@example.org").await,
        "two campaigns in a row"
    );
    // The report says the figure and the rule behind it.
    let (_, html, _) = app
        .page(&format!("/admin/campaigns/{second}"), &admin)
        .await;
    assert!(html.contains("data-field=\"bounced\">1<"), "{html}");
    let rule = html.split("id=\"bounce-rule\">").nth(1).unwrap();
    for words in [
        "does not exist (status 5.1.x), at once",
        "a plain 550, 551 or 553) for two campaigns in a row",
        "policy (status 5.7.x",
    ] {
        assert!(rule.contains(words), "{words}");
    }
    let after = app.write_campaign(&admin, "After for {{name}}", BODY).await;
    app.send_now(&admin, after).await;
    app.drain().await;
    let p = app.progress(after).await;
    assert_eq!((p.sent, p.skipped), (0, 1));

    // A relay's policy refusal says nothing about the address, however often it comes.
    app.subscriber("ben@example.org", "Ben", false).await;
    for subject in [
        "Policy one {{name}}",
        "Policy two {{name}}",
        "Policy three {{name}}",
    ] {
        let (_, p) = refused(subject, "550 5.7.1 message refused by policy").await;
        assert_eq!((p.failed, p.bounced), (1, 0));
    }
    assert!(!suppressed("ben@example.org").await);
    // A delivery in between starts the count of plain refusals again.
    let (_, p) = refused("Plain one {{name}}", "550 mailbox unavailable").await;
    assert_eq!(p.bounced, 0);
    let ok = app.write_campaign(&admin, "Fine for {{name}}", BODY).await;
    app.send_now(&admin, ok).await;
    app.drain().await;
    assert_eq!(app.progress(ok).await.sent, 1);
    let (_, p) = refused("Plain two {{name}}", "551 user not local").await;
    assert_eq!(p.bounced, 0);
    assert!(!suppressed("ben@example.org").await);
    let (_, p) = refused("Plain three {{name}}", "553 mailbox name not allowed").await;
    assert_eq!(p.bounced, 1);
    assert!(suppressed("ben@example.org").await);
}

#[tokio::test]
async fn a_worker_stopped_mid_campaign_loses_no_recipient() {
    let app = spawn_with(|c| {
        with_news(c);
        c.campaigns.batch_size = 5;
        c.campaigns.concurrency = 1;
        c.campaigns.rate_per_second = 40;
    })
    .await;
    let mut everyone = Vec::new();
    for i in 0..60 {
        let address = format!("p{i}@example.org");
        app.subscriber(&address, "", i % 2 == 0).await;
        everyone.push(address);
    }
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "Crash for {{name}}", BODY).await;
    app.send_now(&admin, id).await;
    let worker = tokio::spawn(app.sender.clone().run());
    loop {
        if app.campaign_mail("Subject: Crash for").await.len() >= 12 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    worker.abort();
    let _ = worker.await;
    let p = app.progress(id).await;
    assert!(p.remaining() > 0, "{p:?}");
    assert_eq!(p.total(), 60);
    let c = app.campaign(id).await;
    assert_eq!(
        c.state,
        CampaignState::Sending,
        "not finished while rows are unsent"
    );

    // Once the stopped worker's lease runs out, a worker takes its messages over.
    app.clock.advance(time::Duration::minutes(6));
    app.drain().await;
    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Sent);
    let p = app.progress(id).await;
    assert_eq!(p.sent, 60);
    let mail = app.campaign_mail("Subject: Crash for").await;
    let mut per_person: HashMap<String, usize> = HashMap::new();
    for m in &mail {
        *per_person.entry(m.to[0].clone()).or_default() += 1;
    }
    for address in &everyone {
        assert!(per_person.contains_key(address), "{address} was skipped");
    }
    let repeats = mail.len() - 60;
    assert!(
        repeats as u64 <= p.possible_duplicates,
        "{repeats} repeats, {} counted",
        p.possible_duplicates
    );
}

#[tokio::test]
async fn with_dkim_configured_every_campaign_message_is_signed_over_its_unsubscribe_headers() {
    use base64::Engine;
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("dkim.key");
    let secret: [u8; 32] = rand::random();
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode(secret),
    )
    .unwrap();
    let app = spawn_with(|c| {
        with_news(c);
        c.mail.from = "Testshire Police <news@testshire.example>".into();
        c.mail.dkim = Some(candour_core::config::DkimSettings {
            domain: "testshire.example".into(),
            selector: "news2026".into(),
            key_file,
            algorithm: candour_core::config::DkimAlgorithm::Ed25519Sha256,
        });
    })
    .await;
    for i in 0..6 {
        app.subscriber(&format!("s{i}@example.org"), "", i % 2 == 0)
            .await;
    }
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app
        .write_campaign(&admin, "Signed for {{name}}", BODY)
        .await;
    app.send_now(&admin, id).await;
    app.drain().await;
    let mail = app.campaign_mail("Subject: Signed for").await;
    assert_eq!(mail.len(), 6);
    for m in &mail {
        let head = m
            .data
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .replace("\r\n ", " ");
        let signature = head
            .split("\r\n")
            .find(|l| l.starts_with("DKIM-Signature:"))
            .unwrap_or_else(|| panic!("unsigned: {head}"));
        assert!(
            signature.contains("a=ed25519-sha256; d=testshire.example; s=news2026;"),
            "{signature}"
        );
        assert!(
            signature.contains("list-unsubscribe:list-unsubscribe-post"),
            "{signature}"
        );
        assert_eq!(head.matches("DKIM-Signature:").count(), 1, "signed once");
    }
    assert_eq!(app.campaign(id).await.state, CampaignState::Sent);
}

#[tokio::test]
async fn two_workers_on_one_database_send_each_message_exactly_once() {
    let tweak = |c: &mut Config| {
        with_news(c);
        c.campaigns.batch_size = 7;
    };
    let app = spawn_with(tweak).await;
    let sink_url = app.sink.url();
    let other = spawn_on(app.dir.clone(), app.db_url.clone(), move |c| {
        tweak(c);
        c.mail.smtp_url = Some(sink_url.parse().unwrap());
    })
    .await;
    for i in 0..150 {
        app.subscriber(&format!("r{i}@example.org"), "", i % 3 == 0)
            .await;
    }
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app
        .write_campaign(&admin, "Shared for {{name}}", BODY)
        .await;
    app.send_now(&admin, id).await;
    let (a, b) = tokio::join!(app.drain(), other.drain());
    let ((), ()) = (a, b);
    let mail = app.campaign_mail("Subject: Shared for").await;
    assert_eq!(mail.len(), 150);
    let mut seen: Vec<&str> = mail.iter().map(|m| m.to[0].as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 150, "every recipient exactly once");
    let c = app.campaign(id).await;
    assert_eq!(c.state, CampaignState::Sent);
}

#[tokio::test]
async fn a_follow_up_goes_to_tracked_recipients_who_did_not_click() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", true).await;
    app.subscriber("amy@example.org", "Amy", true).await;
    app.subscriber("bob@example.org", "Bob", false).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app
        .write_campaign(&admin, "Appeal for {{name}}", BODY)
        .await;
    app.send_now(&admin, id).await;
    app.drain().await;
    let mail = app.campaign_mail("Subject: Appeal for").await;
    let click = path_in(message_to(&mail, "ann@example.org"), "/t/c/");
    app.clock.advance(time::Duration::hours(1));
    let res = app
        .client
        .get(format!("{}{click}", app.url))
        .header("user-agent", "Mozilla/5.0 (Macintosh) Safari/605")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    app.flush_queues().await;
    let r = app
        .stores
        .campaigns
        .report(id, app.clock.now())
        .await
        .unwrap();
    assert_eq!(r.clicks.events, 1, "the click was recorded");
    app.clock.advance(time::Duration::days(3));
    // Three days on, the earlier sign-in has run out.
    let admin = app.sign_in("admin@testshire.example", PASSWORD).await;
    let (_, _, token) = app.page(&format!("/admin/campaigns/{id}"), &admin).await;
    let res = app
        .post_form(
            &format!("/admin/campaigns/{id}/follow-up"),
            &[("csrf", &token), ("days", "2")],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, html, _) = app.page(&location, &admin).await;
    let count = html.split("id=\"audience-count\">").nth(1).unwrap_or("");
    assert!(count.starts_with("1 person<"), "{count}");
    let follow = app
        .stores
        .campaigns
        .campaigns()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.draft.follow_up.is_some())
        .unwrap();
    app.send_now(&admin, follow.id).await;
    app.drain().await;
    let followed: Vec<_> = app
        .sink
        .messages()
        .await
        .into_iter()
        .filter(|m| m.data.contains("Subject: Appeal for"))
        .skip(3)
        .collect();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].to, vec!["amy@example.org".to_owned()]);
}

/// A sent message with what changes from run to run (the date, the MIME boundary, the signed
/// tokens, the test server's port) replaced by a fixed word.
fn stable_message(raw: &str) -> String {
    let mut text = decode_qp(raw).replace("\r\n", "\n");
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned);
    if let Some(boundary) = boundary {
        text = text.replace(&boundary, "BOUNDARY");
    }
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("Date: ") {
            out.push_str("Date: DATE\n");
            continue;
        }
        let mut line = line.to_owned();
        for marker in ["/t/o/", "/t/c/", "/unsubscribe/", "unsubscribe%20"] {
            let mut at = 0;
            while let Some(found) = line[at..].find(marker) {
                let start = at + found + marker.len();
                let end = line[start..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.=".contains(c)))
                    .map_or(line.len(), |e| start + e);
                line.replace_range(start..end, "TOKEN");
                at = start + "TOKEN".len();
            }
        }
        while let Some(start) = line.find("http://127.0.0.1:") {
            let port_start = start + "http://127.0.0.1:".len();
            let end = line[port_start..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(line.len(), |e| port_start + e);
            line.replace_range(start..end, "http://candour.test");
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn a_campaign_message_as_its_recipient_receives_it() {
    let app = spawn_with(with_news).await;
    app.subscriber("ann@example.org", "Ann", true).await;
    let admin = app.staff("admin@testshire.example", Role::Admin).await;
    let id = app.write_campaign(&admin, "News for {{name}}", BODY).await;
    let res = app.send_now(&admin, id).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    app.drain().await;
    let mail = app.campaign_mail("Subject: News for").await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    // Headers, both parts, the tracked links and the pixel, reviewed as a whole.
    insta::assert_snapshot!(stable_message(&mail[0].data));
}
