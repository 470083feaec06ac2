//! Campaign text as a template: the fixed set of placeholders a campaign may name, the text
//! split at them, and one recipient's values filled in, each escaped for the part it goes
//! into.

use crate::fields::FieldError;

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

    pub(super) fn parse(s: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub(super) fn is_url(self) -> bool {
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
pub(super) enum Piece {
    Text(String),
    Value(Placeholder),
    /// The campaign's n-th link (its address, or its tracked address).
    Link(usize),
}

/// Text with holes, filled in per recipient.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Template(pub(super) Vec<Piece>);

/// Split `text` at its placeholders, refusing anything else in braces.
pub(super) fn parse_placeholders(
    field: &str,
    text: &str,
) -> Result<Vec<(bool, String)>, FieldError> {
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

#[derive(Clone, Copy)]
pub(super) enum Escape {
    None,
    Html,
}

pub(super) fn fill(t: &Template, r: &Recipient<'_>, escape: Escape) -> String {
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
