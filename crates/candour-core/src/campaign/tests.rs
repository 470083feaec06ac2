//! The campaign rules, checked through the module's public names.

use time::OffsetDateTime;

use super::*;
use crate::signer::Signer;

fn recipient<'a>(links: &'a [String], pixel: Option<&'a str>) -> Recipient<'a> {
    Recipient {
        name: "Jo <b>Bloggs</b> {{unsubscribe_url}}",
        organisation: "Northmoor Police",
        unsubscribe_url: "https://example.org/u/TOKEN",
        preferences_url: "https://example.org/preferences",
        links,
        pixel_url: pixel,
    }
}

fn draft(body: &str) -> CampaignDraft {
    CampaignDraft {
        name: "Spring news".to_owned(),
        subject: "News for {{name}}".to_owned(),
        preheader: "What we did".to_owned(),
        body: body.to_owned(),
        purpose: "news".to_owned(),
        interests: Vec::new(),
        postcode_areas: Vec::new(),
        follow_up: None,
    }
}

#[test]
fn placeholders_are_filled_and_escaped_per_part() {
    let c = draft("Hello {{name}},\n\nRead [our news](https://example.org/news?a=1&b=2).\n\n[Leave]({{unsubscribe_url}})")
        .check(&["news"], &[])
        .unwrap();
    assert_eq!(c.links, vec!["https://example.org/news?a=1&b=2"]);
    let links = vec!["https://t.example/c/1".to_owned()];
    let m = c.render(&recipient(&links, None));
    assert!(
        m.html
            .contains("Hello Jo &lt;b&gt;Bloggs&lt;/b&gt; {{unsubscribe_url}},")
    );
    assert!(m.html.contains("<a href=\"https://t.example/c/1\""));
    assert!(m.html.contains("<a href=\"https://example.org/u/TOKEN\""));
    assert!(!m.html.contains("<img"));
    assert!(
        m.text
            .contains("Hello Jo <b>Bloggs</b> {{unsubscribe_url}},")
    );
    assert!(m.text.contains("our news (https://t.example/c/1)"));
    assert_eq!(m.subject, "News for Jo <b>Bloggs</b> {{unsubscribe_url}}");
    let tracked = c.render(&recipient(&links, Some("https://t.example/o/x.gif")));
    assert!(
        tracked
            .html
            .contains("<img src=\"https://t.example/o/x.gif\"")
    );
}

#[test]
fn the_text_part_gives_each_links_own_address() {
    let c = draft("[Leave {{unsubscribe_url}} now](https://example.org/a) and [café](https://example.org/café)")
        .check(&["news"], &[])
        .unwrap();
    assert_eq!(
        c.links,
        vec!["https://example.org/a", "https://example.org/caf%C3%A9"]
    );
    let m = c.render(&recipient(&c.links, None));
    assert!(m.text.contains("now (https://example.org/a)"), "{}", m.text);
    assert!(m.text.contains("café (https://example.org/caf%C3%A9)"));
}

#[test]
fn raw_html_and_script_are_shown_as_text() {
    let c = draft("<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)>")
        .check(&["news"], &[])
        .unwrap();
    let m = c.render(&recipient(&[], None));
    assert!(!m.html.contains("<script"));
    assert!(!m.html.contains("<img src=x"));
    assert!(m.html.contains("&lt;script&gt;"));
}

#[test]
fn template_syntax_and_bad_links_are_refused_with_the_field() {
    for (body, needle) in [
        ("{{ config.secret }}", "not a placeholder"),
        ("{% for x in y %}", "template tags"),
        ("Hi {{name", "not closed"),
        ("[x](javascript:alert(1))", "links must start"),
        ("[x](data:text/html,hi)", "links must start"),
        ("{{ name | upper }}", "not a placeholder"),
    ] {
        let errors = draft(body).check(&["news"], &[]).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.field == "body" && e.problem.contains(needle)),
            "{body}: {errors:?}"
        );
    }
    let mut d = draft("Hi");
    d.subject = "Hi\r\nBcc: x@example.org".to_owned();
    d.purpose = "research".to_owned();
    let errors = d.check(&["news"], &[]).unwrap_err();
    assert!(errors.iter().any(|e| e.field == "subject"));
    assert!(errors.iter().any(|e| e.field == "purpose"));
}

#[test]
fn campaign_text_follows_the_rules_of_every_other_text_field() {
    for bad in [
        "\u{202E}gnp.exe",
        "Hi\u{2066}there",
        "Hi\u{0}",
        "Hi\u{1b}[31m",
    ] {
        for field in ["subject", "preheader", "name"] {
            let mut d = draft("Hi");
            match field {
                "subject" => d.subject = bad.to_owned(),
                "preheader" => d.preheader = bad.to_owned(),
                _ => d.name = bad.to_owned(),
            }
            let errors = d.check(&["news"], &[]).unwrap_err();
            assert!(
                errors.iter().any(|e| e.field == field),
                "{field} {bad:?}: {errors:?}"
            );
        }
    }
    for bad in [
        "a\u{0}b",
        "a\u{1b}b",
        "a\u{b}b",
        "a\u{c}b",
        "a\rb",
        "a\u{202E}b",
    ] {
        let errors = draft(bad).check(&["news"], &[]).unwrap_err();
        assert!(
            errors.iter().any(|e| e.field == "body"),
            "{bad:?}: {errors:?}"
        );
    }
    // Line breaks as browsers send them, and tabs, are text.
    assert!(draft("One\r\nTwo\n\tThree").check(&["news"], &[]).is_ok());
}

#[test]
fn control_characters_in_names_never_reach_the_subject() {
    let c = draft("Hi").check(&["news"], &[]).unwrap();
    let mut r = recipient(&[], None);
    r.name = "Jo\r\nBcc: evil@example.org";
    let m = c.render(&r);
    assert!(!m.subject.contains('\r') && !m.subject.contains('\n'));
}

#[test]
fn tokens_verify_only_untampered_and_of_their_kind() {
    let key = Signer::new(&b"k".repeat(32));
    let now = OffsetDateTime::UNIX_EPOCH;
    let t = Token {
        kind: TokenKind::Click,
        campaign: 7,
        delivery: 123_456,
        link: 3,
        issued: 1_700_000_000,
    };
    let s = t.sign(&key);
    assert_eq!(Token::verify(&key, TokenKind::Click, &s, now), Some(t));
    assert_eq!(Token::verify(&key, TokenKind::Open, &s, now), None);
    assert_eq!(
        Token::verify(&Signer::new(b"other"), TokenKind::Click, &s, now),
        None
    );
    assert_eq!(
        Token::verify(&key, TokenKind::Click, &s[..s.len() - 1], now),
        None
    );
    let mut bytes: Vec<char> = s.chars().collect();
    bytes[5] = if bytes[5] == 'A' { 'B' } else { 'A' };
    let tampered: String = bytes.into_iter().collect();
    assert_eq!(Token::verify(&key, TokenKind::Click, &tampered, now), None);
    assert_eq!(Token::verify(&key, TokenKind::Click, "!!!", now), None);
}

#[test]
fn machine_opens_and_bot_clicks() {
    let person = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    assert!(!is_machine_open(person, 600));
    assert!(is_machine_open(person, 1));
    assert!(is_machine_open("Mozilla/5.0", 600));
    assert!(is_machine_open(
        "Mozilla/5.0 (via ggpht.com GoogleImageProxy)",
        600
    ));
    let click = |user_agent, seconds_after_send, inspection, user_activated| {
        is_bot_click(&ClickRequest {
            user_agent,
            seconds_after_send,
            inspection,
            user_activated,
        })
    };
    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";
    let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
                  (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    // A person in a real browser: counted, even straight after sending when the browser
    // marks the click as theirs.
    assert!(!click(person, 600, false, false));
    assert!(!click(chrome, 3, false, true));
    assert!(!click(safari, 600, false, true));
    assert!(!click(safari, 600, false, false));
    // Scanners: within seconds and unmarked, HEAD, or a known agent.
    assert!(click(person, 3, false, false));
    assert!(click(chrome, 600, true, false));
    assert!(click("Barracuda Sentinel", 600, false, false));
    assert!(click("Mozilla/5.0 HeadlessChrome/142.0", 600, false, true));
    assert!(click("python-requests/2.32", 600, false, false));
    assert!(click("", 600, false, true));
}

#[test]
fn an_enhanced_address_status_suppresses_at_once_and_policy_never() {
    use Refusal::*;
    assert_eq!(Refusal::classify(550, "5.1.1 no such mailbox"), BadAddress);
    assert_eq!(
        Refusal::classify(553, "5.1.3 bad address syntax"),
        BadAddress
    );
    assert_eq!(Refusal::classify(550, "5.1.10 null MX"), BadAddress);
    // The enhanced status decides over the basic code.
    assert_eq!(Refusal::classify(554, "5.1.1 no such user"), BadAddress);
    // 5.1.7 and 5.1.8 are about the sender.
    assert_eq!(Refusal::classify(550, "5.1.8 bad sender address"), Other);
    assert_eq!(Refusal::classify(553, "5.1.7 bad sender syntax"), Other);
    assert_eq!(Refusal::classify(550, "5.7.1 relaying denied"), Policy);
    assert_eq!(Refusal::classify(550, "5.7.26 DMARC failed"), Policy);
    assert_eq!(Refusal::classify(552, "5.2.2 mailbox full"), Other);
    assert_eq!(Refusal::classify(550, "5.2.1 mailbox disabled"), Other);
}

#[test]
fn a_plain_mailbox_refusal_counts_toward_suppression_and_nothing_else_does() {
    use Refusal::*;
    for code in [550, 551, 553] {
        assert_eq!(Refusal::classify(code, "mailbox unavailable"), Unavailable);
        assert_eq!(Refusal::classify(code, ""), Unavailable);
    }
    assert_eq!(Refusal::classify(554, "transaction failed"), Other);
    assert_eq!(Refusal::classify(552, "too big"), Other);
    // A status anywhere but first is text, not a status.
    assert_eq!(Refusal::classify(550, "user 5.1.1 unknown"), Unavailable);
    // Words that only look like statuses.
    assert_eq!(Refusal::classify(550, "5.1 unknown"), Unavailable);
    assert_eq!(Refusal::classify(550, "5.1.x unknown"), Unavailable);
    assert_eq!(Refusal::classify(550, "9.1.1 unknown"), Unavailable);
    assert_eq!(Refusal::classify(550, "5.1.1234 unknown"), Unavailable);
    // Not a permanent refusal at all.
    assert_eq!(Refusal::classify(450, "4.2.1 try later"), Other);
}

#[test]
fn retries_back_off_then_give_up() {
    // The defaults of `[campaigns]`.
    let s = RetrySchedule {
        first_seconds: 300,
        max_seconds: 4 * 3600,
        give_up_hours: 96,
    };
    let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let first = retry_at(t0, 1, t0, &s).unwrap();
    assert_eq!((first - t0).whole_seconds(), 300);
    let third = retry_at(t0, 3, t0, &s).unwrap();
    assert_eq!((third - t0).whole_seconds(), 1200);
    let capped = retry_at(t0, 20, t0, &s).unwrap();
    assert_eq!((capped - t0).whole_seconds(), 4 * 3600);
    assert_eq!(retry_at(t0, 5, t0 + time::Duration::hours(95), &s), None);
}

#[test]
fn postcode_areas() {
    assert_eq!(parse_postcode_area("nm1").as_deref(), Some("NM1"));
    assert_eq!(parse_postcode_area("NM").as_deref(), Some("NM"));
    assert_eq!(parse_postcode_area("1NM"), None);
    assert_eq!(parse_postcode_area("NM1 2AB"), None);
    assert_eq!(parse_postcode_area("N%"), None);
}

#[test]
fn a_finished_message_writes_its_row_and_news_of_its_address() {
    let to = crate::account::EmailAddress::parse("jo@example.org").unwrap();
    let at = OffsetDateTime::UNIX_EPOCH;
    let sent = DeliveryResult::Sent {
        tracked: true,
        to: to.clone(),
    };
    assert_eq!(
        (sent.row().state, sent.row().tracked, sent.row().bounced),
        ("sent", true, false)
    );
    assert_eq!(sent.address_news(), Some(AddressNews::Delivered(&to)));
    let retry = DeliveryResult::Retry {
        at,
        error: "421".to_owned(),
    };
    assert_eq!(
        (
            retry.row().state,
            retry.row().next_attempt_at,
            retry.row().outcome
        ),
        ("queued", Some(at), "421")
    );
    assert_eq!(retry.address_news(), None);
    let bad = DeliveryResult::Failed {
        error: "550 5.1.1".to_owned(),
        bounce: Some(Bounce::BadAddress(to.clone())),
    };
    assert!(bad.row().bounced);
    assert_eq!(bad.address_news(), Some(AddressNews::BadAddress(&to)));
    let plain = DeliveryResult::Failed {
        error: "550".to_owned(),
        bounce: Some(Bounce::Unavailable(to.clone())),
    };
    assert!(
        !plain.row().bounced,
        "a plain refusal suppresses only when counted"
    );
    assert_eq!(plain.address_news(), Some(AddressNews::Unavailable(&to)));
    let skipped = DeliveryResult::Skipped {
        reason: "consent withdrawn".to_owned(),
    };
    assert_eq!(
        (skipped.row().state, skipped.row().outcome),
        ("skipped", "consent withdrawn")
    );
    assert!(is_postcode_district("NM1") && !is_postcode_district("NM"));
    assert!(!refusals_suppress(1));
    assert!(refusals_suppress(2));
}

#[test]
fn only_a_campaign_in_the_state_a_change_needs_can_take_it() {
    assert_eq!(
        CampaignState::Draft.refusal(None, "only a draft can be changed"),
        Some("there is no such campaign".to_owned())
    );
    let mut c = Campaign {
        id: 1,
        draft: CampaignDraft::default(),
        state: CampaignState::Scheduled,
        scheduled_at: None,
        links: Vec::new(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        started_at: None,
        finished_at: None,
        reduced_at: None,
    };
    assert_eq!(
        CampaignState::Draft.refusal(Some(&c), "only a draft can be changed"),
        Some("the campaign is scheduled: only a draft can be changed".to_owned())
    );
    c.state = CampaignState::Draft;
    assert_eq!(CampaignState::Draft.refusal(Some(&c), "x"), None);
}

#[test]
fn a_media_address_on_its_own_line_becomes_a_plain_link_naming_the_provider() {
    let c = draft(
        "News.\n\nhttps://youtu.be/dQw4w9WgXcQ | Our *new* station | poster: station.jpg\n\nhttps://evil.example/watch?v=dQw4w9WgXcQ\n",
    )
    .check(&["news"], &[])
    .unwrap();
    assert_eq!(c.links, vec!["https://www.youtube.com/watch?v=dQw4w9WgXcQ"]);
    let m = c.render(&recipient(&c.links, None));
    assert!(
        m.html
            .contains("Watch the video on YouTube: Our *new* station</a>"),
        "{}",
        m.html
    );
    assert!(!m.html.contains("<iframe") && !m.html.contains("<img"));
    assert!(m.html.contains("https://evil.example/watch?v=dQw4w9WgXcQ"));
    let bad = draft("https://youtu.be/dQw4w9WgXcQ | poster: ../x.jpg").check(&["news"], &[]);
    assert!(bad.is_err());
}

#[test]
fn links_to_the_site_carry_campaign_tags_and_others_do_not() {
    let mut c = Compiled::new(
        "Hello",
        "",
        "[Our news](https://www.testshire.example/news?id=3) and [the law](https://www.legislation.gov.uk/) and [tagged](https://www.testshire.example/a?utm_source=x)",
    )
    .unwrap();
    c.tag_site_links("https://www.testshire.example", "Road safety week");
    assert_eq!(
        c.links,
        vec![
            "https://www.testshire.example/news?id=3&utm_source=email-campaigns&utm_medium=email&utm_campaign=Road+safety+week".to_owned(),
            "https://www.legislation.gov.uk/".to_owned(),
            "https://www.testshire.example/a?utm_source=x".to_owned(),
        ]
    );
}
