//! Content pages: Markdown files in the configured folder, rendered once at start-up and
//! served at their paths. Raw HTML in them is sanitised; links to other sites are marked.
//! Files under `static/` are served as they are at `/static/…`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use askama::Template;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use candour_core::fields::is_slug;
use candour_core::media::{EmbedLine, Provider};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::AppState;
use crate::kit::error::AppError;
use crate::kit::frame::{Frame, render};
use crate::kit::nav::NavLink;
use crate::kit::respond::no_store;

/// The largest file served from `static/`.
const MAX_STATIC_BYTES: u64 = 5 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("could not read the content folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

#[derive(Debug, Clone)]
pub struct ContentPage {
    pub title: String,
    pub description: String,
    /// Sanitised HTML.
    pub html: String,
    /// Topic ids from the organisation's list, for people who follow them.
    pub topics: Vec<String>,
    /// The providers whose media the page embeds: only their players may ever be framed, and
    /// only on a response that renders them.
    pub providers: Vec<Provider>,
    /// Whether the page shows share links (`share: yes` in its front matter).
    pub share: bool,
}

struct StaticFile {
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// Every content page and static file, loaded at start-up.
#[derive(Default)]
pub struct Site {
    pages: HashMap<String, ContentPage>,
    nav: Vec<NavLink>,
    statics: HashMap<String, StaticFile>,
    /// Every embed of every page, by the number in its `[[media:N]]` marker.
    embeds: Vec<EmbedLine>,
}

impl Site {
    pub fn load(dir: &Path) -> Result<Site, ContentError> {
        let mut site = Site::default();
        let mut nav = Vec::new();
        walk(dir, &mut |file| {
            let rel = file.strip_prefix(dir).unwrap_or(file);
            let rel_str = rel.to_string_lossy().replace('\\', "/");
            if let Some(static_path) = rel_str.strip_prefix("static/") {
                let content_type = content_type_for(static_path).ok_or_else(|| {
                    invalid(
                        file,
                        "static files may be .css, .js, .png, .jpg, .svg, .ico, .txt or .pdf",
                    )
                })?;
                let meta = std::fs::metadata(file).map_err(|e| io(file, e))?;
                if meta.len() > MAX_STATIC_BYTES {
                    return Err(invalid(file, "static files may be at most 5 MiB"));
                }
                let bytes = std::fs::read(file).map_err(|e| io(file, e))?;
                site.statics.insert(
                    static_path.to_owned(),
                    StaticFile {
                        content_type,
                        bytes,
                    },
                );
                return Ok(());
            }
            let Some(stem) = rel_str.strip_suffix(".md") else {
                return Ok(());
            };
            let url = url_for(stem).ok_or_else(|| {
                invalid(
                    file,
                    "page file names may use only a-z, 0-9 and -, in folders named the same way",
                )
            })?;
            let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
            let (front, body) = front_matter(&text).map_err(|p| invalid(file, &p))?;
            let first = site.embeds.len();
            let body = embeds_to_markers(body, &mut site.embeds).map_err(|p| invalid(file, &p))?;
            let mut providers: Vec<Provider> = site.embeds[first..]
                .iter()
                .map(|e| e.media.provider())
                .collect();
            providers.sort();
            providers.dedup();
            let body = body.as_str();
            let html = markdown_to_html(body);
            let title = front.title.or_else(|| first_heading(body)).ok_or_else(|| {
                invalid(
                    file,
                    "the page needs a title: a `title:` line in front matter or a # heading",
                )
            })?;
            if let Some(order) = front.nav {
                nav.push((
                    order,
                    NavLink {
                        href: url.clone(),
                        label: title.clone(),
                    },
                ));
            }
            site.pages.insert(
                url,
                ContentPage {
                    title,
                    description: front.description.unwrap_or_default(),
                    html,
                    topics: front.topics,
                    providers,
                    share: front.share,
                },
            );
            Ok(())
        })?;
        nav.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.label.cmp(&b.1.label)));
        site.nav = nav.into_iter().map(|(_, link)| link).collect();
        for embed in &site.embeds {
            if let Some(poster) = &embed.poster {
                let file = poster.strip_prefix("/static/").unwrap_or(poster);
                if !site.statics.contains_key(file) {
                    return Err(invalid(
                        dir,
                        &format!("the poster `{poster}` of an embed is not a file in static/"),
                    ));
                }
            }
        }
        Ok(site)
    }

    /// The embed of a `[[media:N]]` marker.
    pub fn embed(&self, n: usize) -> Option<&EmbedLine> {
        self.embeds.get(n)
    }

    /// The providers any page embeds, for the cookie registry and the privacy notice.
    pub fn media_providers(&self) -> Vec<Provider> {
        let mut all: Vec<Provider> = self.embeds.iter().map(|e| e.media.provider()).collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn nav(&self) -> &[NavLink] {
        &self.nav
    }

    pub fn has_page(&self, path: &str) -> bool {
        self.pages.contains_key(path)
    }

    pub fn page(&self, path: &str) -> Option<&ContentPage> {
        self.pages.get(path)
    }

    /// Pages tagged with any of `topics`, those on the first topic first, then by title.
    pub fn pages_on(&self, topics: &[String]) -> Vec<NavLink> {
        let mut found: Vec<(usize, &str, &ContentPage)> = self
            .pages
            .iter()
            .filter_map(|(path, page)| {
                let rank = topics.iter().position(|t| page.topics.contains(t))?;
                Some((rank, path.as_str(), page))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.title.cmp(&b.2.title)));
        found
            .into_iter()
            .map(|(_, path, page)| NavLink {
                href: path.to_owned(),
                label: page.title.clone(),
            })
            .collect()
    }

    /// Topic ids used by pages that are not in `known`, with the page that uses each.
    pub fn unknown_topics(&self, known: &[String]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .pages
            .iter()
            .flat_map(|(path, page)| {
                page.topics
                    .iter()
                    .filter(|t| !known.contains(t))
                    .map(move |t| (path.clone(), t.clone()))
            })
            .collect();
        out.sort();
        out
    }
}

fn io(path: &Path, source: std::io::Error) -> ContentError {
    ContentError::Io {
        path: path.to_owned(),
        source,
    }
}

fn invalid(path: &Path, problem: &str) -> ContentError {
    ContentError::Invalid {
        path: path.to_owned(),
        problem: problem.to_owned(),
    }
}

fn walk(
    dir: &Path,
    f: &mut dyn FnMut(&Path) -> Result<(), ContentError>,
) -> Result<(), ContentError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        if kind.is_symlink() {
            // A link could point outside the folder; content is real files only.
            continue;
        }
        if kind.is_dir() {
            walk(&path, f)?;
        } else if kind.is_file() {
            f(&path)?;
        }
    }
    Ok(())
}

/// `index` → `/`, `about` → `/about`, `news/index` → `/news`.
fn url_for(stem: &str) -> Option<String> {
    let segments: Vec<&str> = stem.split('/').collect();
    // A segment's length is bounded by the file name, not by this rule.
    if !segments.iter().all(|s| is_slug(s, usize::MAX)) {
        return None;
    }
    let segments = match segments.split_last() {
        Some((&"index", rest)) => rest,
        _ => &segments[..],
    };
    Some(format!("/{}", segments.join("/")))
}

fn content_type_for(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

#[derive(Debug, Default)]
struct FrontMatter {
    title: Option<String>,
    description: Option<String>,
    nav: Option<u32>,
    topics: Vec<String>,
    share: bool,
}

/// An optional block between `---` lines at the top: `title:`, `description:` and `nav:` (a
/// number placing the page in the main navigation).
fn front_matter(text: &str) -> Result<(FrontMatter, &str), String> {
    let mut fm = FrontMatter::default();
    let Some(rest) = text.strip_prefix("---\n") else {
        return Ok((fm, text));
    };
    let end = rest
        .find("\n---\n")
        .ok_or("front matter opened with --- is never closed")?;
    for line in rest[..end].lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| format!("front matter line `{line}` is not `key: value`"))?;
        let value = value.trim().to_owned();
        match key.trim() {
            "title" => fm.title = Some(value),
            "description" => fm.description = Some(value),
            "nav" => {
                fm.nav = Some(
                    value
                        .parse()
                        .map_err(|_| format!("`nav` must be a whole number, not `{value}`"))?,
                )
            }
            "share" => {
                fm.share = match value.as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("`share` must be yes or no, not `{value}`")),
                }
            }
            "topics" => {
                fm.topics = value
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            other => {
                return Err(format!(
                    "unknown front matter key `{other}`; allowed: title, description, nav, topics, share"
                ));
            }
        }
    }
    Ok((fm, &rest[end + 5..]))
}

/// Each line that is a provider's address alone (see `candour_core::media::EmbedLine`)
/// becomes a `[[media:N]]` block marker, its embed kept in `embeds` at `N`. Lines inside
/// fenced code blocks and indented lines are left as they are.
fn embeds_to_markers(body: &str, embeds: &mut Vec<EmbedLine>) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut fenced = false;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        }
        let indented = line.starts_with("    ") || line.starts_with('\t');
        if fenced || indented {
            out.push_str(line);
            continue;
        }
        match EmbedLine::parse(trimmed)? {
            Some(embed) => {
                out.push_str(&format!("\n[[media:{}]]\n\n", embeds.len()));
                embeds.push(embed);
            }
            None => out.push_str(line),
        }
    }
    Ok(out)
}

fn first_heading(md: &str) -> Option<String> {
    md.lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_owned())
}

fn is_external(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("//")
}

/// Markdown to sanitised HTML. Links to other sites say so, for every reader.
pub fn markdown_to_html(md: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut external_depth = Vec::new();
    let events = Parser::new_ext(md, options).map(|event| match event {
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            external_depth.push(is_external(dest_url));
            event
        }
        Event::End(TagEnd::Link) => {
            if external_depth.pop() == Some(true) {
                Event::Html(CowStr::Borrowed(
                    "<span class=\"visually-hidden\"> (on another website)</span></a>",
                ))
            } else {
                event
            }
        }
        other => other,
    });
    let mut raw = String::new();
    pulldown_cmark::html::push_html(&mut raw, events);
    let mut classes = HashMap::new();
    classes.insert("span", ["visually-hidden"].into_iter().collect());
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .allowed_classes(classes)
        .clean(&raw)
        .to_string()
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageView<'a> {
    frame: Frame,
    page: &'a ContentPage,
    /// The page's HTML with any embedded polls filled in.
    body: String,
    /// On the home page, for a signed-in person who chose topics: pages on those topics.
    for_you: Vec<NavLink>,
    share: Option<crate::kit::share::ShareLinks>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct DefaultHome {
    frame: Frame,
}

/// The query parameter that asks a page to load one provider's embedded media.
pub(crate) const LOAD_PARAM: &str = "load";

/// The provider a page's `?load=` asks for: none without the parameter; one the page embeds,
/// named by its slug, given once; anything else is refused, naming the parameter and never
/// repeating the value. Other parameters are not this page's business and are ignored.
fn requested_load(
    query: Option<&str>,
    embedded: &[Provider],
) -> Result<Option<Provider>, AppError> {
    let mut values = query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(key, _)| *key == LOAD_PARAM)
        .map(|(_, value)| value);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let allowed: Vec<&str> = embedded.iter().map(|p| p.slug()).collect();
    let refuse = |why: &str| {
        AppError::BadRequest(if allowed.is_empty() {
            format!("The `{LOAD_PARAM}` parameter {why}: this page embeds no media.")
        } else {
            format!(
                "The `{LOAD_PARAM}` parameter {why}: it may name one provider this page embeds ({}).",
                allowed.join(", ")
            )
        })
    };
    if values.next().is_some() {
        return Err(refuse("is given more than once"));
    }
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8();
    match decoded.ok().as_deref().and_then(Provider::parse) {
        Some(p) if embedded.contains(&p) => Ok(Some(p)),
        _ => Err(refuse("names no provider this page embeds")),
    }
}

/// Any path no route claimed: a content page, or 404.
pub(crate) async fn page(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    mut frame: Frame,
) -> Result<Response, AppError> {
    if method != Method::GET && method != Method::HEAD {
        let mut res = StatusCode::METHOD_NOT_ALLOWED.into_response();
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(res);
    }
    let path = frame.path.clone();
    let key = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        &path
    };
    match state.inner.site.page(key) {
        Some(page) => {
            frame.load = requested_load(uri.query(), &page.providers)?;
            // Only the players this response renders may be framed: none before the visitor
            // asks (a click on "Load", or "Always" for that provider).
            let playing: Vec<Provider> = page
                .providers
                .iter()
                .copied()
                .filter(|p| frame.plays(*p))
                .collect();
            let for_you = match (&frame.visitor.account, key) {
                (Some(account), "/") => state.inner.site.pages_on(&account.profile.interests),
                _ => Vec::new(),
            };
            let body = crate::kit::blocks::fill(&state, &frame, &headers, &page.html).await?;
            let share = page
                .share
                .then(|| crate::kit::share::links_for(&state, key, &page.title))
                .flatten();
            let mut res = no_store(render(&PageView {
                frame,
                page,
                body,
                for_you,
                share,
            })?)
            .into_response();
            if !playing.is_empty() {
                res.extensions_mut()
                    .insert(crate::kit::edge::FrameOrigins::of(&playing));
            }
            Ok(res)
        }
        None if key == "/" => Ok(no_store(render(&DefaultHome { frame })?)),
        None => Err(AppError::NotFound),
    }
}

pub(crate) async fn static_file(
    State(state): State<AppState>,
    UrlPath(path): UrlPath<String>,
) -> Result<Response, AppError> {
    let file = state
        .inner
        .site
        .statics
        .get(&path)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        file.bytes.clone(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_paths() {
        assert_eq!(url_for("index").as_deref(), Some("/"));
        assert_eq!(url_for("about").as_deref(), Some("/about"));
        assert_eq!(url_for("news/index").as_deref(), Some("/news"));
        assert_eq!(
            url_for("news/road-safety").as_deref(),
            Some("/news/road-safety")
        );
        assert_eq!(url_for("Bad Name"), None);
        assert_eq!(url_for("../etc"), None);
    }

    #[test]
    fn raw_html_is_sanitised_and_external_links_marked() {
        let html = markdown_to_html(
            "Hi <script>alert(1)</script><img src=x onerror=alert(1)>\n\n[Out](https://example.org) and [in](/about)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(html.contains("(on another website)"), "{html}");
        assert_eq!(html.matches("another website").count(), 1, "{html}");
        assert!(html.contains("rel=\"noopener noreferrer\""), "{html}");
    }

    #[test]
    fn front_matter_is_strict() {
        let (fm, body) = front_matter("---\ntitle: A\nnav: 2\n---\n# B\n").unwrap();
        assert_eq!(fm.title.as_deref(), Some("A"));
        assert_eq!(fm.nav, Some(2));
        assert_eq!(body, "# B\n");
        assert!(
            front_matter("---\ncolour: red\n---\n")
                .unwrap_err()
                .contains("colour")
        );
        assert!(
            front_matter("---\nnav: first\n---\n")
                .unwrap_err()
                .contains("nav")
        );
        assert!(front_matter("---\ntitle: A\n").is_err());
    }
}
