//! A campaign's Markdown rendered once into the HTML and plain-text parts of its message,
//! with its links collected; each recipient's message only fills the placeholders in.

use std::fmt::Write as _;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::template::{
    Escape, Piece, Placeholder, Recipient, Template, escape_html, fill, parse_placeholders,
};
use crate::fields::{FieldError, FieldErrors};

/// The most distinct links one campaign may hold.
pub const LINKS_MAX: usize = 200;

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
        let body = media_as_links(body).map_err(FieldErrors::from)?;
        let (html, text, links) = render_markdown(&body).map_err(FieldErrors::from)?;
        Ok(Compiled {
            subject,
            preheader,
            html,
            text,
            links,
        })
    }

    /// Tag the links that lead to this site (`site`: its address, such as
    /// `https://www.example.org`) with campaign tags, so the site statistics count the
    /// visits they bring as their own source: `utm_source=email-campaigns`,
    /// `utm_medium=email`, `utm_campaign=` the campaign's name. A link that already has
    /// `utm_` tags is left as it is.
    pub fn tag_site_links(&mut self, site: &str, campaign: &str) {
        let Ok(site) = url::Url::parse(site) else {
            return;
        };
        for link in &mut self.links {
            let Ok(mut url) = url::Url::parse(link) else {
                continue;
            };
            if url.origin() != site.origin()
                || url.query_pairs().any(|(k, _)| k.starts_with("utm_"))
            {
                continue;
            }
            url.query_pairs_mut()
                .append_pair("utm_source", "email-campaigns")
                .append_pair("utm_medium", "email")
                .append_pair("utm_campaign", campaign.trim());
            *link = url.to_string();
        }
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

/// One rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub html: String,
    pub text: String,
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

/// A provider's address alone on a line (as on a content page) becomes a plain link to the
/// media on the provider's site, naming the provider: no frame and no image in an email.
fn media_as_links(body: &str) -> Result<String, FieldError> {
    let mut out = String::with_capacity(body.len());
    for line in body.split_inclusive('\n') {
        match crate::media::EmbedLine::parse(line) {
            Ok(Some(embed)) => {
                let provider = embed.media.provider();
                let title: String = embed
                    .accessible_title()
                    .chars()
                    .flat_map(|c| {
                        let escape = "\\`*_[]<>!#".contains(c);
                        escape.then_some('\\').into_iter().chain([c])
                    })
                    .collect();
                out.push_str(&format!(
                    "\n[{} on {}: {}]({})\n\n",
                    match provider.kind() {
                        crate::media::Kind::Video => "Watch the video",
                        crate::media::Kind::Photo => "See the photo",
                        crate::media::Kind::Presentation => "See the presentation",
                    },
                    provider.name(),
                    title,
                    embed.media.page_url()
                ));
            }
            Ok(None) => out.push_str(line),
            Err(problem) => return Err(FieldError::new("body", problem)),
        }
    }
    Ok(out)
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
