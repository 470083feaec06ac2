//! Email campaigns: what staff write, how it becomes one message per recipient, the signed
//! tokens in tracking and unsubscribe links, and when a failed delivery is tried again.
//!
//! Campaign text is data, not code: Markdown with a fixed set of placeholders, nothing else.
//! The Markdown is rendered once per campaign; each recipient's message only fills the
//! placeholders in, escaping each value for the part it goes into, so nothing a person typed
//! (their name, say) is ever read as Markdown, HTML or a placeholder.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use time::OffsetDateTime;

use crate::account::is_bidi_control;
use crate::fields::{FieldError, FieldErrors};
use crate::signer::{Purpose, Signer};

/// The purpose recipients consent to before their opens and clicks are recorded one by one.
pub const TRACKING_PURPOSE: &str = crate::purposes::EMAIL_TRACKING;

pub const SUBJECT_MAX: usize = 200;
pub const PREHEADER_MAX: usize = 200;
pub const BODY_MAX: usize = 100_000;
pub const NAME_MAX: usize = 200;
/// The most distinct links one campaign may hold.
pub const LINKS_MAX: usize = 200;

/// A value a campaign's text may name in `{{ }}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The recipient's name, or "there" when we have none ("Hello {{name}}").
    Name,
    /// The organisation's name.
    Organisation,
    UnsubscribeUrl,
    PreferencesUrl,
}

impl Placeholder {
    pub const ALL: [Placeholder; 4] = [
        Placeholder::Name,
        Placeholder::Organisation,
        Placeholder::UnsubscribeUrl,
        Placeholder::PreferencesUrl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Name => "name",
            Placeholder::Organisation => "organisation",
            Placeholder::UnsubscribeUrl => "unsubscribe_url",
            Placeholder::PreferencesUrl => "preferences_url",
        }
    }

    fn parse(s: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn is_url(self) -> bool {
        matches!(
            self,
            Placeholder::UnsubscribeUrl | Placeholder::PreferencesUrl
        )
    }

    /// "{{name}}, {{organisation}}, …", for error messages and the editor's hint.
    pub fn list() -> String {
        Placeholder::ALL
            .iter()
            .map(|p| format!("{{{{{}}}}}", p.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
    /// The campaign's n-th link (its address, or its tracked address).
    Link(usize),
}

/// Text with holes, filled in per recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Template(Vec<Piece>);

/// Split `text` at its placeholders, refusing anything else in braces.
fn parse_placeholders(field: &str, text: &str) -> Result<Vec<(bool, String)>, FieldError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{").or_else(|| rest.find("{%")) {
        if rest[start..].starts_with("{%") {
            return Err(FieldError::new(
                field,
                "holds {% … %}: campaign text has no template tags, only the placeholders "
                    .to_owned()
                    + &Placeholder::list(),
            ));
        }
        out.push((false, rest[..start].to_owned()));
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(FieldError::new(
                field,
                "has a {{ that is not closed with }}".to_owned(),
            ));
        };
        let name = after[..end].trim();
        if Placeholder::parse(name).is_none() {
            let shown: String = name.chars().take(40).collect();
            return Err(FieldError::new(
                field,
                format!(
                    "names {{{{{shown}}}}}, which is not a placeholder; the placeholders are {}",
                    Placeholder::list()
                ),
            ));
        }
        out.push((true, name.to_owned()));
        rest = &after[end + 2..];
    }
    if rest.contains("{%") {
        return Err(FieldError::new(
            field,
            "holds {% … %}: campaign text has no template tags".to_owned(),
        ));
    }
    out.push((false, rest.to_owned()));
    Ok(out)
}

/// What staff write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CampaignDraft {
    /// For staff only: how the campaign is listed.
    pub name: String,
    pub subject: String,
    /// The line mail programs show after the subject.
    pub preheader: String,
    /// Markdown.
    pub body: String,
    /// The direct-marketing purpose whose email consent the audience has.
    pub purpose: String,
    /// Topic ids: when not empty, only people interested in at least one of them.
    pub interests: Vec<String>,
    /// Postcode areas or districts ("NM", "NM1"): when not empty, only people in one of them.
    pub postcode_areas: Vec<String>,
    /// For a follow-up: only recipients of that campaign who consented to tracking and did
    /// not click within the days given.
    pub follow_up: Option<FollowUp>,
}

/// Which earlier campaign's non-clickers a follow-up goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUp {
    pub campaign: i64,
    /// Days after each message was sent within which a click counts.
    pub days: u32,
}

pub const FOLLOW_UP_DAYS_MAX: u32 = 90;

/// A postcode area ("NM") or district ("NM1", "NM1A"), upper-case.
pub fn parse_postcode_area(raw: &str) -> Option<String> {
    let s = raw.trim().to_ascii_uppercase();
    let letters = s.chars().take_while(char::is_ascii_alphabetic).count();
    let rest = &s[letters..];
    let ok = (1..=2).contains(&letters)
        && rest.len() <= 2
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
        && rest.chars().next().is_none_or(|c| c.is_ascii_digit());
    ok.then_some(s)
}

impl CampaignDraft {
    /// A digest of everything that decides what is sent and to whom, so an approver's
    /// decision can be tied to the version they read.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for part in [
            self.subject.as_str(),
            self.preheader.as_str(),
            self.body.as_str(),
            self.purpose.as_str(),
            &self.interests.join(" "),
            &self.postcode_areas.join(" "),
            &self
                .follow_up
                .map(|f| format!("{}:{}", f.campaign, f.days))
                .unwrap_or_default(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Check every field; the errors name the field and say what is allowed.
    pub fn check(
        &self,
        marketing_purposes: &[&str],
        topics: &[&str],
    ) -> Result<Compiled, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut text_field = |field: &str, value: &str, max: usize, required: bool| {
            if required && value.trim().is_empty() {
                errors.push(FieldError::new(field, "is required".to_owned()));
            } else if value.chars().count() > max {
                errors.push(FieldError::new(
                    field,
                    format!("is too long: at most {max} characters"),
                ));
            } else if field == "body" {
                if !is_multi_line_text(value) {
                    errors.push(FieldError::new(
                        field,
                        "must be plain text: line breaks and tabs are allowed, other control \
                         characters and characters that reorder text are not"
                            .to_owned(),
                    ));
                }
            } else if value.chars().any(|c| c.is_control() || is_bidi_control(c)) {
                errors.push(FieldError::new(
                    field,
                    "must be one line of plain text, without control characters or \
                     characters that reorder text"
                        .to_owned(),
                ));
            }
        };
        text_field("name", &self.name, NAME_MAX, true);
        text_field("subject", &self.subject, SUBJECT_MAX, true);
        text_field("preheader", &self.preheader, PREHEADER_MAX, false);
        text_field("body", &self.body, BODY_MAX, true);
        if !marketing_purposes.contains(&self.purpose.as_str()) {
            errors.push(FieldError::new(
                "purpose",
                format!(
                    "must be one of the purposes that send direct marketing by email: {}",
                    if marketing_purposes.is_empty() {
                        "(none is configured)".to_owned()
                    } else {
                        marketing_purposes.join(", ")
                    }
                ),
            ));
        }
        for topic in &self.interests {
            if !topics.contains(&topic.as_str()) {
                errors.push(FieldError::new(
                    "interests",
                    "must be topics from the organisation's list".to_owned(),
                ));
                break;
            }
        }
        for area in &self.postcode_areas {
            if parse_postcode_area(area).as_deref() != Some(area.as_str()) {
                errors.push(FieldError::new(
                    "postcode_areas",
                    format!(
                        "has {area:?}, which is not a postcode area or district: use the first part of a postcode, such as NM or NM1"
                    ),
                ));
                break;
            }
        }
        if let Some(f) = self.follow_up
            && !(1..=FOLLOW_UP_DAYS_MAX).contains(&f.days)
        {
            errors.push(FieldError::new(
                "follow_up_days",
                format!("must be a whole number of days from 1 to {FOLLOW_UP_DAYS_MAX}"),
            ));
        }
        let compiled = Compiled::new(&self.subject, &self.preheader, &self.body);
        match compiled {
            Ok(c) if errors.is_empty() => Ok(c),
            Ok(_) => Err(errors),
            Err(more) => {
                // A field already reported (too long, empty) need not be reported twice.
                let more: Vec<FieldError> = more
                    .into_iter()
                    .filter(|e| errors.of(&e.field).next().is_none())
                    .collect();
                errors.extend(more);
                Err(errors)
            }
        }
    }
}

/// The rule every multi-line text field follows: line breaks (`\n` or `\r\n`) and tabs,
/// no other control character (a lone CR, NUL, ESC, vertical tab, form feed) and no
/// character that reorders text.
fn is_multi_line_text(value: &str) -> bool {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\n' | '\t' => true,
            '\r' => chars.next_if_eq(&'\n').is_some(),
            c => !c.is_control() && !is_bidi_control(c),
        };
        if !allowed {
            return false;
        }
    }
    true
}

/// A campaign's text, rendered once and ready to be filled in for each recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    subject: Template,
    preheader: Template,
    html: Template,
    text: Template,
    /// The addresses its links go to, in order; the only places a click link redirects to.
    pub links: Vec<String>,
}

/// Whether a link's address may appear in a campaign.
fn link_allowed(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

impl Compiled {
    pub fn new(subject: &str, preheader: &str, body: &str) -> Result<Compiled, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut plain = |field: &str, text: &str| match parse_placeholders(field, text) {
            Ok(parts) => {
                let mut pieces = Vec::new();
                for (is_value, s) in parts {
                    match Placeholder::parse(&s) {
                        Some(p) if is_value => pieces.push(Piece::Value(p)),
                        _ if !s.is_empty() => pieces.push(Piece::Text(s)),
                        _ => {}
                    }
                }
                Template(pieces)
            }
            Err(e) => {
                errors.push(e);
                Template::default()
            }
        };
        let subject = plain("subject", subject);
        let preheader = plain("preheader", preheader);
        if let Err(e) = parse_placeholders("body", body) {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (html, text, links) = render_markdown(body).map_err(FieldErrors::from)?;
        Ok(Compiled {
            subject,
            preheader,
            html,
            text,
            links,
        })
    }

    /// The message for one recipient.
    pub fn render(&self, r: &Recipient<'_>) -> Message {
        let subject = fill(&self.subject, r, Escape::None);
        let preheader = fill(&self.preheader, r, Escape::None);
        let body_html = fill(&self.html, r, Escape::Html);
        let body_text = fill(&self.text, r, Escape::None);
        let mut html = String::with_capacity(body_html.len() + 1500);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n</head>\n\
             <body style=\"margin:0;padding:0;background:#ffffff;color:#0b0c0c;font-family:Arial,sans-serif;font-size:19px;line-height:1.4\">\n",
            escape_html(&subject)
        );
        if !preheader.is_empty() {
            let _ = writeln!(
                html,
                "<div style=\"display:none;max-height:0;overflow:hidden\">{}</div>",
                escape_html(&preheader)
            );
        }
        let _ = write!(
            html,
            "<div role=\"article\" aria-label=\"{}\" lang=\"en\" style=\"max-width:40em;margin:0 auto;padding:1em\">\n{}\
             <hr>\n<p style=\"font-size:16px\">You get these emails because you agreed to hear from {} by email. \
             <a href=\"{}\" style=\"color:#1d70b8\">Unsubscribe</a> or \
             <a href=\"{}\" style=\"color:#1d70b8\">choose what you get</a>.</p>\n</div>\n",
            escape_html(&subject),
            body_html,
            escape_html(r.organisation),
            escape_html(r.unsubscribe_url),
            escape_html(r.preferences_url),
        );
        if let Some(pixel) = r.pixel_url {
            let _ = writeln!(
                html,
                "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0\">",
                escape_html(pixel)
            );
        }
        html.push_str("</body>\n</html>\n");
        let mut text = body_text;
        let _ = write!(
            text,
            "\n\n--\nYou get these emails because you agreed to hear from {} by email.\nUnsubscribe: {}\nChoose what you get: {}\n",
            r.organisation, r.unsubscribe_url, r.preferences_url
        );
        Message {
            subject,
            html,
            text,
        }
    }
}

/// One recipient's values.
pub struct Recipient<'a> {
    pub name: &'a str,
    pub organisation: &'a str,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
    /// Per-link addresses: for a tracked recipient, signed click links; otherwise the
    /// campaign's own links.
    pub links: &'a [String],
    /// The open pixel's address, for a tracked recipient.
    pub pixel_url: Option<&'a str>,
}

/// One rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Clone, Copy)]
enum Escape {
    None,
    Html,
}

fn fill(t: &Template, r: &Recipient<'_>, escape: Escape) -> String {
    let mut out = String::new();
    let push = |s: &str, out: &mut String| match escape {
        Escape::None => out.push_str(s),
        Escape::Html => out.push_str(&escape_html(s)),
    };
    for piece in &t.0 {
        match piece {
            // Text pieces of the HTML part are already HTML.
            Piece::Text(s) => out.push_str(s),
            Piece::Value(p) => {
                let value = match p {
                    Placeholder::Name if r.name.trim().is_empty() => "there",
                    Placeholder::Name => r.name,
                    Placeholder::Organisation => r.organisation,
                    Placeholder::UnsubscribeUrl => r.unsubscribe_url,
                    Placeholder::PreferencesUrl => r.preferences_url,
                };
                // A name never reaches a header with a line break in it.
                let value: String = value
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                push(&value, &mut out);
            }
            Piece::Link(i) => push(r.links.get(*i).map_or("", String::as_str), &mut out),
        }
    }
    out
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds a template from rendered output, turning `{{…}}` back into holes.
#[derive(Default)]
struct Builder {
    pieces: Vec<Piece>,
}

impl Builder {
    fn text(&mut self, s: &str) {
        if let Some(Piece::Text(last)) = self.pieces.last_mut() {
            last.push_str(s);
        } else if !s.is_empty() {
            self.pieces.push(Piece::Text(s.to_owned()));
        }
    }

    /// Text that may hold placeholders (already checked), escaped with `esc`.
    fn with_values(&mut self, s: &str, esc: fn(&str) -> String) {
        let parts = parse_placeholders("body", s).unwrap_or_else(|_| vec![(false, s.to_owned())]);
        for (is_value, part) in parts {
            match Placeholder::parse(&part) {
                Some(p) if is_value => self.pieces.push(Piece::Value(p)),
                _ => self.text(&esc(&part)),
            }
        }
    }

    fn piece(&mut self, p: Piece) {
        self.pieces.push(p);
    }

    fn done(self) -> Template {
        Template(self.pieces)
    }
}

fn keep(s: &str) -> String {
    s.to_owned()
}

/// Render Markdown to the HTML and plain-text parts. Raw HTML in the Markdown is shown as
/// text, never passed through; links must be http(s) or mailto, or a URL placeholder.
fn render_markdown(body: &str) -> Result<(Template, Template, Vec<String>), FieldError> {
    let mut html = Builder::default();
    let mut text = Builder::default();
    let mut links: Vec<String> = Vec::new();
    let mut list_depth: Vec<Option<u64>> = Vec::new();
    // The address of each link being written, for the plain-text part at its end.
    let mut open_links: Vec<Piece> = Vec::new();
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let link_style = "color:#1d70b8;text-decoration:underline";
    for event in Parser::new_ext(body, options) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => html.text("<p>"),
                Tag::Heading { level, .. } => html.text(&format!("<{level}>")),
                Tag::BlockQuote(_) => {
                    html.text("<blockquote>");
                    text.text("> ");
                }
                Tag::CodeBlock(_) => html.text("<pre>"),
                Tag::List(start) => {
                    list_depth.push(start);
                    html.text(if start.is_some() { "<ol>" } else { "<ul>" });
                }
                Tag::Item => {
                    html.text("<li>");
                    let marker = match list_depth.last_mut() {
                        Some(Some(n)) => {
                            let m = format!("{n}. ");
                            *n += 1;
                            m
                        }
                        _ => "- ".to_owned(),
                    };
                    text.text(&marker);
                }
                Tag::Emphasis => html.text("<em>"),
                Tag::Strong => html.text("<strong>"),
                Tag::Strikethrough => html.text("<s>"),
                Tag::Link { dest_url, .. } => {
                    let url = dest_url.trim();
                    let placeholder = url
                        .strip_prefix("{{")
                        .and_then(|u| u.strip_suffix("}}"))
                        .and_then(|u| Placeholder::parse(u.trim()))
                        .filter(|p| p.is_url());
                    html.text("<a href=\"");
                    match placeholder {
                        Some(p) => {
                            html.piece(Piece::Value(p));
                            open_links.push(Piece::Value(p));
                        }
                        None => {
                            if !link_allowed(url) {
                                let shown: String = url.chars().take(60).collect();
                                return Err(FieldError::new(
                                    "body",
                                    format!(
                                        "links to {shown:?}: links must start with https://, http:// or mailto:, or be {{{{unsubscribe_url}}}} or {{{{preferences_url}}}}"
                                    ),
                                ));
                            }
                            // Addresses go into headers (a click's Location): anything
                            // outside ASCII is percent-encoded, as a browser would (control
                            // characters were refused above).
                            let url = percent_encoding::utf8_percent_encode(
                                url,
                                percent_encoding::CONTROLS,
                            )
                            .to_string();
                            let index = match links.iter().position(|l| *l == url) {
                                Some(i) => i,
                                None => {
                                    links.push(url);
                                    links.len() - 1
                                }
                            };
                            if links.len() > LINKS_MAX {
                                return Err(FieldError::new(
                                    "body",
                                    format!("has more than {LINKS_MAX} different links"),
                                ));
                            }
                            html.piece(Piece::Link(index));
                            open_links.push(Piece::Link(index));
                        }
                    }
                    html.text(&format!("\" style=\"{link_style}\">"));
                    // The plain-text part gives the address after the link's words.
                    text.text("");
                }
                Tag::Image { dest_url, .. } => {
                    // Images are not fetched from the email (that would be tracking); the
                    // alternative text stands in, linked to the image.
                    let url = dest_url.trim();
                    if !link_allowed(url) || url.to_ascii_lowercase().starts_with("mailto:") {
                        return Err(FieldError::new(
                            "body",
                            "has an image whose address does not start with https://".to_owned(),
                        ));
                    }
                    html.text(&format!(
                        "<a href=\"{}\" style=\"{link_style}\">[image: ",
                        escape_html(url)
                    ));
                    text.text("[image: ");
                }
                Tag::Table(_) => html.text("<table>"),
                Tag::TableHead => html.text("<thead><tr>"),
                Tag::TableRow => html.text("<tr>"),
                Tag::TableCell => html.text("<td>"),
                _ => {}
            },
            Event::End(end) => match end {
                TagEnd::Paragraph => {
                    html.text("</p>\n");
                    text.text("\n\n");
                }
                TagEnd::Heading(level) => {
                    html.text(&format!("</{level}>\n"));
                    text.text("\n\n");
                }
                TagEnd::BlockQuote(_) => html.text("</blockquote>\n"),
                TagEnd::CodeBlock => {
                    html.text("</pre>\n");
                    text.text("\n");
                }
                TagEnd::List(ordered) => {
                    list_depth.pop();
                    html.text(if ordered { "</ol>\n" } else { "</ul>\n" });
                    text.text("\n");
                }
                TagEnd::Item => {
                    html.text("</li>\n");
                    text.text("\n");
                }
                TagEnd::Emphasis => html.text("</em>"),
                TagEnd::Strong => html.text("</strong>"),
                TagEnd::Strikethrough => html.text("</s>"),
                TagEnd::Link => {
                    html.text("</a>");
                    if let Some(p) = open_links.pop() {
                        text.text(" (");
                        text.piece(p);
                        text.text(")");
                    }
                }
                TagEnd::Image => {
                    html.text("]</a>");
                    text.text("]");
                }
                TagEnd::Table => html.text("</table>\n"),
                TagEnd::TableHead => html.text("</tr></thead>\n"),
                TagEnd::TableRow => {
                    html.text("</tr>\n");
                    text.text("\n");
                }
                TagEnd::TableCell => {
                    html.text("</td>");
                    text.text("\t");
                }
                _ => {}
            },
            Event::Text(t) | Event::Code(t) => {
                html.with_values(&t, escape_html);
                text.with_values(&t, keep);
            }
            // Raw HTML is shown as the text it is, never interpreted.
            Event::Html(t) | Event::InlineHtml(t) => {
                html.with_values(&t, escape_html);
                text.with_values(&t, keep);
            }
            Event::SoftBreak => {
                html.text("\n");
                text.text("\n");
            }
            Event::HardBreak => {
                html.text("<br>\n");
                text.text("\n");
            }
            Event::Rule => {
                html.text("<hr>\n");
                text.text("----\n\n");
            }
            _ => {}
        }
    }
    let mut text = text.done();
    if let Some(Piece::Text(last)) = text.0.last_mut() {
        let trimmed = last.trim_end().len();
        last.truncate(trimmed);
    }
    Ok((html.done(), text, links))
}

// ---------- tracking and unsubscribe tokens ----------

/// What a signed link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Open = 1,
    Click = 2,
    Unsubscribe = 3,
}

/// The contents of a signed link: which message, and for clicks which of its links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub campaign: i64,
    /// The delivery (one row of the outbox).
    pub delivery: i64,
    pub link: u16,
    /// When the message was rendered, in Unix seconds: how soon after delivery an open or a
    /// click came, without a database read.
    pub issued: i64,
}

/// Campaign, delivery, link and issue time, before base64.
const TOKEN_BODY: usize = 8 + 8 + 2 + 8;

/// Longer texts are refused before anything is decoded (a token is 59 characters).
const TOKEN_TEXT_MAX: usize = 64;

impl TokenKind {
    /// Each kind is signed under its own purpose, so one cannot stand for another.
    fn purpose(self) -> Purpose {
        match self {
            TokenKind::Open => Purpose::CampaignOpen,
            TokenKind::Click => Purpose::CampaignClick,
            TokenKind::Unsubscribe => Purpose::CampaignUnsubscribe,
        }
    }
}

impl Token {
    /// The numbers in base64, a dot and the signer's tag: all URL-path-safe characters. The
    /// token has no expiry: a link in an email works as long as the key.
    pub fn sign(&self, signer: &Signer) -> String {
        let mut bytes = Vec::with_capacity(TOKEN_BODY);
        bytes.extend_from_slice(&self.campaign.to_be_bytes());
        bytes.extend_from_slice(&self.delivery.to_be_bytes());
        bytes.extend_from_slice(&self.link.to_be_bytes());
        bytes.extend_from_slice(&self.issued.to_be_bytes());
        signer.sign(self.kind.purpose(), &URL_SAFE_NO_PAD.encode(bytes), None)
    }

    /// The token, if it is one this signer signed for `kind`; `None` for anything tampered,
    /// truncated or of another kind.
    pub fn verify(
        signer: &Signer,
        kind: TokenKind,
        text: &str,
        now: OffsetDateTime,
    ) -> Option<Token> {
        if text.len() > TOKEN_TEXT_MAX {
            return None;
        }
        let body = signer.verify(kind.purpose(), text, now).ok()?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let num = |r: std::ops::Range<usize>| -> Option<[u8; 8]> { body.get(r)?.try_into().ok() };
        if body.len() != TOKEN_BODY {
            return None;
        }
        Some(Token {
            kind,
            campaign: i64::from_be_bytes(num(0..8)?),
            delivery: i64::from_be_bytes(num(8..16)?),
            link: u16::from_be_bytes(body.get(16..18)?.try_into().ok()?),
            issued: i64::from_be_bytes(num(18..26)?),
        })
    }
}

/// Links in messages sent before campaign tokens moved to the [`Signer`]: the kind, the
/// numbers and a 16-byte HMAC-SHA-256 tag in one base64 run, under the key the server kept as
/// `campaign-links`. They are only read, never issued, so an unsubscribe or tracking link in
/// a message already delivered keeps working.
pub mod earlier_links {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::{Token, TokenKind};

    const BODY: usize = 1 + 8 + 8 + 2 + 8;
    const TAG: usize = 16;

    /// The token, if `key` signed it for `kind` in the earlier format.
    pub fn verify(key: &[u8], kind: TokenKind, text: &str) -> Option<Token> {
        if text.len() > 64 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() != BODY + TAG {
            return None;
        }
        let (body, tag) = bytes.split_at(BODY);
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(body);
        mac.verify_truncated_left(tag).ok()?;
        if body[0] != kind as u8 {
            return None;
        }
        let num = |at: usize| -> Option<[u8; 8]> { body.get(at..at + 8)?.try_into().ok() };
        Some(Token {
            kind,
            campaign: i64::from_be_bytes(num(1)?),
            delivery: i64::from_be_bytes(num(9)?),
            link: u16::from_be_bytes(body.get(17..19)?.try_into().ok()?),
            issued: i64::from_be_bytes(num(19)?),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A link as the earlier code wrote it.
        fn earlier(key: &[u8], t: &Token) -> String {
            let mut bytes = vec![t.kind as u8];
            bytes.extend_from_slice(&t.campaign.to_be_bytes());
            bytes.extend_from_slice(&t.delivery.to_be_bytes());
            bytes.extend_from_slice(&t.link.to_be_bytes());
            bytes.extend_from_slice(&t.issued.to_be_bytes());
            let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
            mac.update(&bytes);
            bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG]);
            URL_SAFE_NO_PAD.encode(bytes)
        }

        #[test]
        fn a_link_already_sent_still_reads_and_nothing_else_does() {
            let t = Token {
                kind: TokenKind::Unsubscribe,
                campaign: 4,
                delivery: 99,
                link: 0,
                issued: 1_700_000_000,
            };
            let text = earlier(b"stored key", &t);
            assert_eq!(
                verify(b"stored key", TokenKind::Unsubscribe, &text),
                Some(t)
            );
            assert_eq!(verify(b"stored key", TokenKind::Click, &text), None);
            assert_eq!(verify(b"other key", TokenKind::Unsubscribe, &text), None);
            assert_eq!(
                verify(b"stored key", TokenKind::Unsubscribe, &text[1..]),
                None
            );
        }
    }
}

// ---------- machine opens and bot clicks ----------

/// Opens this soon after the message went out are taken to be a mail server or privacy
/// proxy fetching every image, not a person reading.
pub const MACHINE_OPEN_SECONDS: i64 = 2;
/// Clicks this soon after the message went out are taken to be a link scanner.
pub const BOT_CLICK_SECONDS: i64 = 10;

const PROXY_AGENTS: [&str; 4] = [
    "googleimageproxy",
    "yahoomailproxy",
    "ymailproxy",
    "via ggpht.com",
];

/// User agents of programs and mail-security link scanners, never a person's click.
const BOT_AGENTS: [&str; 20] = [
    "bot",
    "crawler",
    "spider",
    "scanner",
    "preview",
    "headless",
    "python",
    "curl",
    "wget",
    "java/",
    "go-http",
    "okhttp",
    "libwww",
    "barracuda",
    "mimecast",
    "proofpoint",
    "safelinks",
    "forcepoint",
    "symantec",
    "trendmicro",
];

/// Whether an open came from a machine rather than a person. Apple's Mail Privacy
/// Protection fetches with a bare `Mozilla/5.0`; Gmail and Yahoo fetch through their proxies.
pub fn is_machine_open(user_agent: &str, seconds_after_send: i64) -> bool {
    let ua = user_agent.trim().to_ascii_lowercase();
    seconds_after_send < MACHINE_OPEN_SECONDS
        || ua.is_empty()
        || ua == "mozilla/5.0"
        || PROXY_AGENTS.iter().any(|p| ua.contains(p))
}

/// What the click redirect knows about one request for a tracked link.
#[derive(Debug, Clone, Copy)]
pub struct ClickRequest<'a> {
    pub user_agent: &'a str,
    pub seconds_after_send: i64,
    /// A `HEAD` request, or one marked as a prefetch: it only looks at the link.
    pub inspection: bool,
    /// The browser says a person started this navigation (`Sec-Fetch-User: ?1`), which
    /// browsers send only for a click, a tap or an address typed or opened by the person.
    pub user_activated: bool,
}

/// Whether a click came from a link scanner or another program rather than a person. A
/// scanner follows every link of a message within seconds of its delivery, often with a
/// `HEAD` request or a program's user agent; a person's browser marks the navigation as
/// theirs. So: a `HEAD` or prefetch, an empty or known program's user agent is a machine; a
/// navigation the browser marks as the person's is a person, however soon after sending
/// (someone who reads the message at once, or tests it); anything else within
/// `BOT_CLICK_SECONDS` of sending is a scanner.
pub fn is_bot_click(c: &ClickRequest<'_>) -> bool {
    let ua = c.user_agent.trim().to_ascii_lowercase();
    if c.inspection || ua.is_empty() || BOT_AGENTS.iter().any(|b| ua.contains(b)) {
        return true;
    }
    !c.user_activated && c.seconds_after_send < BOT_CLICK_SECONDS
}

// ---------- retries ----------

/// How failed deliveries are spaced out and when they are given up (`[campaigns]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait before the first retry, in seconds; it doubles with each further attempt.
    pub first_seconds: u32,
    /// The longest wait between retries, in seconds.
    pub max_seconds: u32,
    /// How long after it was queued a message is given up, in hours.
    pub give_up_hours: u32,
}

/// When a message that failed for the `attempts`-th time (temporarily) is tried again, or
/// `None` when it was first queued so long ago that it is given up (as RFC 5321 §4.5.4.1
/// advises: retries spaced out, giving up after days).
pub fn retry_at(
    queued_at: OffsetDateTime,
    attempts: u32,
    now: OffsetDateTime,
    schedule: &RetrySchedule,
) -> Option<OffsetDateTime> {
    let first = u64::from(schedule.first_seconds);
    let max = u64::from(schedule.max_seconds);
    let shift = attempts.saturating_sub(1).min(30);
    let delay = first.saturating_mul(1u64 << shift).min(max);
    let at = now + time::Duration::seconds(i64::try_from(delay).unwrap_or(i64::MAX / 2));
    let give_up = queued_at + time::Duration::hours(i64::from(schedule.give_up_hours));
    (at <= give_up).then_some(at)
}

/// What a relay's permanent refusal of a recipient says about the address, which decides
/// whether the address goes on the suppression list (a careful sender's rule: suppress only
/// what is known to be dead, and never for the relay's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An enhanced status `5.1.x` about the destination address (not 5.1.7 or 5.1.8, which
    /// are about the sender): the address does not exist. Suppressed at once.
    BadAddress,
    /// A plain 550, 551 or 553 with no enhanced status ("mailbox unavailable"): it may be
    /// temporary or a misconfigured relay. Suppressed when the previous campaign that tried
    /// the address was refused the same way, so only after two campaigns in a row.
    Unavailable,
    /// An enhanced status `5.7.x`: refused by the relay's or recipient's policy (relaying
    /// denied, spam filter, authentication). Says nothing about the address; never
    /// suppresses.
    Policy,
    /// Anything else (other enhanced statuses, other reply codes): never suppresses.
    Other,
}

/// How many campaigns in a row must refuse an address with [`Refusal::Unavailable`] before
/// it is suppressed.
pub const UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS: u32 = 2;

impl Refusal {
    /// Classify a permanent refusal from its reply `code` and the reply's text. The
    /// enhanced status (RFC 3463), when a relay sends one, is the first word of the text and
    /// is more precise than the basic code, so it decides; only without one does the basic
    /// code count.
    pub fn classify(code: u16, text: &str) -> Refusal {
        if !(500..600).contains(&code) {
            return Refusal::Other;
        }
        match enhanced_status(text) {
            Some((5, 1, detail)) if detail != 7 && detail != 8 => Refusal::BadAddress,
            Some((5, 7, _)) => Refusal::Policy,
            Some(_) => Refusal::Other,
            None if matches!(code, 550 | 551 | 553) => Refusal::Unavailable,
            None => Refusal::Other,
        }
    }
}

/// The enhanced status code (class, subject, detail) at the start of a reply's text, if it
/// has one (RFC 3463: class 2, 4 or 5; subject and detail of one to three digits).
fn enhanced_status(text: &str) -> Option<(u16, u16, u16)> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let mut number = |max_len: usize| -> Option<u16> {
        let p = parts.next()?;
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let class = number(1)?;
    let subject = number(3)?;
    let detail = number(3)?;
    (parts.next().is_none() && matches!(class, 2 | 4 | 5)).then_some((class, subject, detail))
}

/// A Message-ID that stays the same for a delivery across retries, so a receiving server
/// (and the report) can tell a repeat from a new message.
pub fn message_id(campaign: i64, delivery: i64, domain: &str) -> String {
    format!("<c{campaign}.d{delivery}@{domain}>")
}

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignState {
    /// Being written; it can be changed or deleted.
    Draft,
    /// Approved and waiting for its time; it can be taken back to a draft.
    Scheduled,
    /// Its messages are queued and going out.
    Sending,
    /// Every message was sent, failed or skipped.
    Sent,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Sending => "sending",
            CampaignState::Sent => "sent",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignState> {
        [
            CampaignState::Draft,
            CampaignState::Scheduled,
            CampaignState::Sending,
            CampaignState::Sent,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub draft: CampaignDraft,
    pub state: CampaignState,
    pub scheduled_at: Option<OffsetDateTime>,
    /// The addresses of its links, fixed when it is scheduled.
    pub links: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// When its per-recipient opens and clicks were reduced to totals.
    pub reduced_at: Option<OffsetDateTime>,
}

/// One message claimed for sending, with what the send-time check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub campaign: i64,
    /// `None` once the person was erased.
    pub person: Option<i64>,
    pub email: Option<crate::account::EmailAddress>,
    pub name: String,
    /// Counting this one.
    pub attempts: u32,
    pub queued_at: OffsetDateTime,
    /// Taken over from a worker whose lease ran out: it may have been sent already.
    pub reclaimed: bool,
    /// The person's current consent to the campaign's purpose by email, from the ledger.
    pub marketing_consent: bool,
    /// Their current consent to email tracking.
    pub tracking_consent: bool,
    /// Their address is on the suppression list for email.
    pub suppressed: bool,
}

/// What became of a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The relay took it; a successful delivery to `to` clears the address's record of
    /// plain refusals (see [`Bounce::Unavailable`]).
    Sent {
        tracked: bool,
        to: crate::account::EmailAddress,
    },
    /// A temporary failure: try again at `at`.
    Retry { at: OffsetDateTime, error: String },
    /// A permanent failure; `bounce` is what the refusal says about the address.
    Failed {
        error: String,
        bounce: Option<Bounce>,
    },
    /// Not sent: consent withdrawn, address suppressed, person erased.
    Skipped { reason: String },
}

/// A refusal that puts, or may put, the address on the suppression list for email
/// (`campaign::Refusal` decides which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bounce {
    /// The address does not exist: suppressed at once.
    BadAddress(crate::account::EmailAddress),
    /// A plain "mailbox unavailable": the store remembers it under the address's one-way
    /// code, and suppresses the address when the last campaign before this one that was
    /// refused for it is a different campaign with no successful delivery since
    /// (`campaign::UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS` campaigns in a row).
    Unavailable(crate::account::EmailAddress),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedDelivery {
    pub id: i64,
    pub result: DeliveryResult,
    /// How many tries in this claim may have left a copy with the relay: the message's
    /// final `.` was sent and the answer was `250` or never came (RFC 1047). The store adds
    /// them up per message; two or more make it a possible duplicate.
    pub handed_over: u32,
}

/// Counts of a campaign's messages by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Progress {
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Messages that may have gone twice: taken over from a worker that stopped mid-send, or
    /// sent again after a try whose final `.` reached the relay with no answer.
    pub possible_duplicates: u64,
    /// Sent in the last minute.
    pub sent_last_minute: u64,
    /// Sent to recipients who consented to tracking.
    pub tracked: u64,
    /// Failed messages whose refusal put the address on the suppression list.
    pub bounced: u64,
    pub unsubscribed: u64,
}

impl Progress {
    pub fn total(&self) -> u64 {
        self.queued + self.sending + self.sent + self.failed + self.skipped
    }

    pub fn remaining(&self) -> u64 {
        self.queued + self.sending
    }
}

/// An open or a click, as the hot path records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackingEvent {
    pub delivery: i64,
    pub campaign: i64,
    pub click: bool,
    /// The link's index, for clicks.
    pub link: u16,
    pub at: OffsetDateTime,
    /// A machine open or a bot click: counted in the raw figures only.
    pub machine: bool,
}

/// Opens or clicks: all of them, the reliable ones, and how many recipients made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Engagement {
    pub events: u64,
    pub reliable_events: u64,
    pub recipients: u64,
    pub reliable_recipients: u64,
}

/// A campaign's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CampaignReport {
    pub progress: Progress,
    pub opens: Engagement,
    pub clicks: Engagement,
    /// Per link, in the order of `Campaign::links`.
    pub links: Vec<Engagement>,
    /// Reliable opens and clicks per hour since sending began: (hour start, opens, clicks).
    pub hourly: Vec<(OffsetDateTime, u64, u64)>,
}

/// One message a person was sent, for their record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonDelivery {
    pub campaign: i64,
    pub campaign_name: String,
    pub subject: String,
    pub state: String,
    pub sent_at: Option<OffsetDateTime>,
    pub tracked: bool,
    /// Their opens and clicks (link index), only when tracked: (at, click, link, machine).
    pub events: Vec<(OffsetDateTime, bool, u16, bool)>,
}

/// Who a delivery went to, for unsubscribing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecipient {
    pub campaign: i64,
    pub person: Option<i64>,
    pub purpose: String,
    pub unsubscribed: bool,
}

/// How the row of a finished message is written, whatever the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRow<'a> {
    /// `sent`, `queued` (to try again), `failed` or `skipped`.
    pub state: &'static str,
    /// When to try again; `None` keeps the time the row has.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The error or the reason, empty when sent.
    pub outcome: &'a str,
    pub tracked: bool,
    /// The refusal put the address on the suppression list at once.
    pub bounced: bool,
}

/// What a recorded outcome says about the address it went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressNews<'a> {
    /// Delivered: the address's run of plain refusals is over.
    Delivered(&'a crate::account::EmailAddress),
    /// It does not exist: suppressed at once.
    BadAddress(&'a crate::account::EmailAddress),
    /// A plain refusal: counted once per campaign, suppressed after
    /// [`UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS`] campaigns in a row ([`refusals_suppress`]).
    Unavailable(&'a crate::account::EmailAddress),
}

impl DeliveryResult {
    /// The row this outcome writes.
    pub fn row(&self) -> DeliveryRow<'_> {
        let row = |state, outcome| DeliveryRow {
            state,
            next_attempt_at: None,
            outcome,
            tracked: false,
            bounced: false,
        };
        match self {
            DeliveryResult::Sent { tracked, .. } => DeliveryRow {
                tracked: *tracked,
                ..row("sent", "")
            },
            DeliveryResult::Retry { at, error } => DeliveryRow {
                next_attempt_at: Some(*at),
                ..row("queued", error.as_str())
            },
            DeliveryResult::Failed { error, bounce } => DeliveryRow {
                bounced: matches!(bounce, Some(Bounce::BadAddress(_))),
                ..row("failed", error.as_str())
            },
            DeliveryResult::Skipped { reason } => row("skipped", reason.as_str()),
        }
    }

    /// What the outcome says about the address, for a store to act on once the outcome
    /// was recorded (an outcome reported too late to record says nothing).
    pub fn address_news(&self) -> Option<AddressNews<'_>> {
        match self {
            DeliveryResult::Sent { to, .. } => Some(AddressNews::Delivered(to)),
            DeliveryResult::Failed {
                bounce: Some(Bounce::BadAddress(email)),
                ..
            } => Some(AddressNews::BadAddress(email)),
            DeliveryResult::Failed {
                bounce: Some(Bounce::Unavailable(email)),
                ..
            } => Some(AddressNews::Unavailable(email)),
            _ => None,
        }
    }
}

/// Whether a postcode filter of a draft is a district ("NM1": the part of a postcode before
/// its space) rather than an area ("NM": the letters it starts with).
pub fn is_postcode_district(filter: &str) -> bool {
    filter.chars().any(|c| c.is_ascii_digit())
}

/// Whether an address that this many campaigns in a row refused as plainly unavailable is
/// put on the suppression list.
pub fn refusals_suppress(campaigns_in_a_row: i64) -> bool {
    campaigns_in_a_row >= i64::from(UNAVAILABLE_CAMPAIGNS_TO_SUPPRESS)
}

impl std::ops::AddAssign for Engagement {
    fn add_assign(&mut self, b: Engagement) {
        self.events += b.events;
        self.reliable_events += b.reliable_events;
        self.recipients += b.recipients;
        self.reliable_recipients += b.reliable_recipients;
    }
}

impl CampaignState {
    /// Why a change that needs `self` cannot be made to `campaign` (`what` says what needs
    /// it), or `None` when it can.
    pub fn refusal(self, campaign: Option<&Campaign>, what: &str) -> Option<String> {
        match campaign {
            None => Some("there is no such campaign".to_owned()),
            Some(c) if c.state != self => {
                Some(format!("the campaign is {}: {what}", c.state.as_str()))
            }
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
