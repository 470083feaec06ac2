//! Embedded media: recognising a provider's address, and the facts each provider carries.
//!
//! A YouTube, Vimeo, Flickr or SlideShare address alone on a line of content becomes an
//! embed. Recognising one is strict: the address is parsed as a URL, must be http(s) with no
//! user name, password or port, on one of the provider's exact hosts (so look-alike hosts,
//! IDN look-alikes and userinfo tricks fail), with a path of exactly the known shape and an id
//! of exactly the provider's alphabet and length. Anything else stays an ordinary link.
//!
//! Nothing here fetches anything: the player's address is built from the id alone.

use serde::Serialize;

/// The providers whose media can be embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    YouTube,
    Vimeo,
    Flickr,
    SlideShare,
}

/// What kind of thing a provider shows, for the placeholder's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video,
    Photo,
    Presentation,
}

impl Kind {
    /// "video", "photo", "presentation".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Video => "video",
            Kind::Photo => "photo",
            Kind::Presentation => "presentation",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Video => "videos",
            Kind::Photo => "photos",
            Kind::Presentation => "presentations",
        }
    }
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::YouTube,
        Provider::Vimeo,
        Provider::Flickr,
        Provider::SlideShare,
    ];

    /// A stable short name: in forms, the consent cookie's order and the receipt.
    pub fn slug(self) -> &'static str {
        match self {
            Provider::YouTube => "youtube",
            Provider::Vimeo => "vimeo",
            Provider::Flickr => "flickr",
            Provider::SlideShare => "slideshare",
        }
    }

    pub fn parse(slug: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.slug() == slug)
    }

    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            Provider::YouTube => "YouTube",
            Provider::Vimeo => "Vimeo",
            Provider::Flickr => "Flickr",
            Provider::SlideShare => "SlideShare",
        }
    }

    /// The company that receives what a visitor's browser sends when the media loads.
    pub fn company(self) -> &'static str {
        match self {
            Provider::YouTube => "Google LLC (YouTube)",
            Provider::Vimeo => "Vimeo.com, Inc.",
            Provider::Flickr => "Flickr, Inc.",
            Provider::SlideShare => "Scribd, Inc. (SlideShare)",
        }
    }

    /// Where the company says what it does with what it receives.
    pub fn privacy_url(self) -> &'static str {
        match self {
            Provider::YouTube => "https://policies.google.com/privacy",
            Provider::Vimeo => "https://vimeo.com/privacy",
            Provider::Flickr => "https://www.flickr.com/help/privacy",
            Provider::SlideShare => "https://www.scribd.com/privacy",
        }
    }

    /// Where the company is, for the privacy notice's transfers outside the UK.
    pub fn country(self) -> &'static str {
        "the United States"
    }

    pub fn kind(self) -> Kind {
        match self {
            Provider::YouTube | Provider::Vimeo => Kind::Video,
            Provider::Flickr => Kind::Photo,
            Provider::SlideShare => Kind::Presentation,
        }
    }

    /// The one origin the player is framed from; it enters a page's CSP only on pages that
    /// embed this provider.
    pub fn frame_origin(self) -> &'static str {
        match self {
            Provider::YouTube => "https://www.youtube-nocookie.com",
            Provider::Vimeo => "https://player.vimeo.com",
            Provider::Flickr => "https://www.flickr.com",
            Provider::SlideShare => "https://www.slideshare.net",
        }
    }

    /// The `allow` attribute of the player's frame: only what playing needs.
    pub fn frame_allow(self) -> &'static str {
        match self {
            Provider::YouTube | Provider::Vimeo => {
                "fullscreen; picture-in-picture; encrypted-media"
            }
            Provider::Flickr | Provider::SlideShare => "fullscreen",
        }
    }

    /// The `sandbox` attribute: scripts and the provider's own origin (players do not run
    /// without them), opening its site in a new tab, nothing else (no top navigation, no
    /// forms, no downloads).
    pub fn frame_sandbox(self) -> &'static str {
        "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-presentation"
    }

    fn hosts(self) -> &'static [&'static str] {
        match self {
            Provider::YouTube => &[
                "youtube.com",
                "www.youtube.com",
                "m.youtube.com",
                "youtu.be",
                "www.youtube-nocookie.com",
            ],
            Provider::Vimeo => &["vimeo.com", "www.vimeo.com", "player.vimeo.com"],
            Provider::Flickr => &["flickr.com", "www.flickr.com"],
            Provider::SlideShare => &["slideshare.net", "www.slideshare.net"],
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of media: the provider and what identifies it there. Built only by
/// [`Media::recognise`], so every value holds an id of the provider's exact shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Media {
    provider: Provider,
    id: MediaId,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum MediaId {
    YouTube(String),
    /// The video number and, for an unlisted video, its hash.
    Vimeo(String, Option<String>),
    /// The owner's path name and the photo number.
    Flickr(String, String),
    /// The presentation's number and its name in the address.
    SlideShare(String, String),
}

const MAX_ADDRESS: usize = 300;

fn all(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(ok)
}

fn is_digits(s: &str, max: usize) -> bool {
    s.len() <= max && all(s, |b| b.is_ascii_digit())
}

fn is_youtube_id(s: &str) -> bool {
    s.len() == 11 && all(s, |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_name(s: &str, max: usize) -> bool {
    s.len() <= max
        && all(s, |b| {
            b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'@'
        })
}

impl Media {
    /// The media an address points at, or `None` when it is anything but a plain address of
    /// a known provider in a known shape.
    pub fn recognise(address: &str) -> Option<Media> {
        let address = address.trim();
        if address.len() > MAX_ADDRESS
            || address
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii() || c == '\\')
        {
            return None;
        }
        let url = url::Url::parse(address).ok()?;
        if !matches!(url.scheme(), "https" | "http")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.port().is_some()
            || url
                .fragment()
                .is_some_and(|f| !f.is_empty() && !f.starts_with("t="))
        {
            return None;
        }
        let host = match url.host()? {
            url::Host::Domain(d) => d,
            _ => return None,
        };
        let provider = Provider::ALL
            .into_iter()
            .find(|p| p.hosts().contains(&host))?;
        let path = url.path();
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        // A trailing slash is allowed; empty segments elsewhere are not.
        let segments: Vec<&str> = match segments.split_last() {
            Some((&"", rest)) if !rest.is_empty() => rest.to_vec(),
            _ => segments,
        };
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let id = match (provider, host, segments.as_slice()) {
            (Provider::YouTube, "youtu.be", [id]) if is_youtube_id(id) => {
                MediaId::YouTube((*id).to_owned())
            }
            (Provider::YouTube, "youtu.be", _) => return None,
            (Provider::YouTube, _, ["watch"]) => {
                let v = query("v")?;
                if !is_youtube_id(&v) || url.query_pairs().filter(|(k, _)| k == "v").count() != 1 {
                    return None;
                }
                MediaId::YouTube(v)
            }
            (Provider::YouTube, _, ["embed" | "shorts" | "live", id]) if is_youtube_id(id) => {
                MediaId::YouTube((*id).to_owned())
            }
            (Provider::Vimeo, "player.vimeo.com", ["video", id]) if is_digits(id, 12) => {
                MediaId::Vimeo((*id).to_owned(), query("h").filter(|h| is_hash(h)))
            }
            (Provider::Vimeo, "player.vimeo.com", _) => return None,
            (Provider::Vimeo, _, [id]) if is_digits(id, 12) => {
                MediaId::Vimeo((*id).to_owned(), None)
            }
            (Provider::Vimeo, _, [id, hash]) if is_digits(id, 12) && is_hash(hash) => {
                MediaId::Vimeo((*id).to_owned(), Some((*hash).to_owned()))
            }
            (Provider::Flickr, _, ["photos", owner, photo])
                if is_name(owner, 64) && is_digits(photo, 20) =>
            {
                MediaId::Flickr((*owner).to_owned(), (*photo).to_owned())
            }
            (Provider::SlideShare, _, ["slideshow", name, number])
                if is_name(name, 200) && is_digits(number, 12) =>
            {
                MediaId::SlideShare((*number).to_owned(), (*name).to_owned())
            }
            _ => return None,
        };
        Some(Media { provider, id })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The address of the media on the provider's own site: the link without JavaScript,
    /// and in emails.
    pub fn page_url(&self) -> String {
        match &self.id {
            MediaId::YouTube(id) => format!("https://www.youtube.com/watch?v={id}"),
            MediaId::Vimeo(id, None) => format!("https://vimeo.com/{id}"),
            MediaId::Vimeo(id, Some(hash)) => format!("https://vimeo.com/{id}/{hash}"),
            MediaId::Flickr(owner, photo) => {
                format!("https://www.flickr.com/photos/{owner}/{photo}/")
            }
            MediaId::SlideShare(number, name) => {
                format!("https://www.slideshare.net/slideshow/{name}/{number}")
            }
        }
    }

    /// The player in its privacy-enhanced form: YouTube's no-cookie host, Vimeo with
    /// "do not track", the embed forms of Flickr and SlideShare. Always on
    /// [`Provider::frame_origin`].
    pub fn player_url(&self) -> String {
        let origin = self.provider.frame_origin();
        match &self.id {
            MediaId::YouTube(id) => format!("{origin}/embed/{id}"),
            MediaId::Vimeo(id, None) => format!("{origin}/video/{id}?dnt=1"),
            MediaId::Vimeo(id, Some(hash)) => format!("{origin}/video/{id}?h={hash}&dnt=1"),
            MediaId::Flickr(owner, photo) => format!("{origin}/photos/{owner}/{photo}/player/"),
            MediaId::SlideShare(number, _) => format!("{origin}/slideshow/embed_code/{number}"),
        }
    }
}

fn is_hash(s: &str) -> bool {
    (6..=20).contains(&s.len()) && all(s, |b| b.is_ascii_hexdigit())
}

/// A line of content that is an embed: the address alone, or followed by parts separated
/// by ` | `: a title (a part with no key), `poster: file.jpg` (a file in `static/`) and
/// `transcript: address` (a page or file with a transcript or captions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedLine {
    pub media: Media,
    pub title: Option<String>,
    /// A path inside `static/`, checked to be a plain relative file name.
    pub poster: Option<String>,
    /// A local path (`/…`) or an https address.
    pub transcript: Option<String>,
}

impl EmbedLine {
    /// `Ok(None)` when the line is not an embed at all (not a provider address); an error
    /// when it starts with one but an extra part is wrong, so staff learn at start-up.
    pub fn parse(line: &str) -> Result<Option<EmbedLine>, String> {
        let mut parts = line.trim().split(" | ");
        let Some(media) = parts.next().and_then(Media::recognise) else {
            return Ok(None);
        };
        let mut embed = EmbedLine {
            media,
            title: None,
            poster: None,
            transcript: None,
        };
        for part in parts.map(str::trim) {
            let (key, value) = match part.split_once(':') {
                Some((k @ ("poster" | "transcript" | "captions"), v)) => (k, v.trim()),
                _ => ("title", part),
            };
            if value.is_empty() || value.chars().any(char::is_control) || value.len() > 300 {
                return Err(format!(
                    "the embed's {key} must be between 1 and 300 characters"
                ));
            }
            let slot = match key {
                "poster" => {
                    if !is_static_file(value) {
                        return Err(format!(
                            "the poster `{value}` must be a .jpg, .png or .svg file in static/, \
                             named with a-z, 0-9, - and _ (folders allowed)"
                        ));
                    }
                    &mut embed.poster
                }
                "transcript" | "captions" => {
                    if !is_transcript(value) {
                        return Err(format!(
                            "the transcript `{value}` must be a path on this site (/…) or an \
                             https:// address"
                        ));
                    }
                    &mut embed.transcript
                }
                _ => &mut embed.title,
            };
            if slot.is_some() {
                return Err(format!("the embed gives its {key} twice"));
            }
            *slot = Some(value.to_owned());
        }
        Ok(Some(embed))
    }

    /// The name the placeholder and the frame carry.
    pub fn accessible_title(&self) -> String {
        match &self.title {
            Some(t) => t.clone(),
            None => format!(
                "{} {}",
                self.media.provider.name(),
                self.media.provider.kind().noun()
            ),
        }
    }
}

fn is_static_file(path: &str) -> bool {
    let path = path.strip_prefix("/static/").unwrap_or(path);
    let ext_ok = [".jpg", ".jpeg", ".png", ".svg"]
        .iter()
        .any(|e| path.ends_with(e));
    ext_ok
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        })
}

fn is_transcript(value: &str) -> bool {
    if value.starts_with('/') {
        return !value.starts_with("//")
            && !value
                .chars()
                .any(|c| c.is_whitespace() || c == '\\' || c == '"' || c == '<');
    }
    url::Url::parse(value)
        .is_ok_and(|u| u.scheme() == "https" && u.username().is_empty() && u.password().is_none())
}

/// The poster's path as served, from what staff wrote.
pub fn poster_path(poster: &str) -> String {
    format!(
        "/static/{}",
        poster.strip_prefix("/static/").unwrap_or(poster)
    )
}

/// Which providers a visitor has chosen to load always: a set kept in the consent cookie and
/// its receipt beside the cookie categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize)]
#[serde(transparent)]
pub struct AlwaysLoad(u8);

impl AlwaysLoad {
    pub const NONE: AlwaysLoad = AlwaysLoad(0);

    fn bit(p: Provider) -> u8 {
        match p {
            Provider::YouTube => 1,
            Provider::Vimeo => 2,
            Provider::Flickr => 4,
            Provider::SlideShare => 8,
        }
    }

    pub fn allows(self, p: Provider) -> bool {
        self.0 & AlwaysLoad::bit(p) != 0
    }

    pub fn with(self, p: Provider, on: bool) -> AlwaysLoad {
        if on {
            AlwaysLoad(self.0 | AlwaysLoad::bit(p))
        } else {
            AlwaysLoad(self.0 & !AlwaysLoad::bit(p))
        }
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn from_bits(b: u8) -> Option<AlwaysLoad> {
        (b < 16).then_some(AlwaysLoad(b))
    }

    /// The providers in the set, as slugs separated by spaces (for the receipt and pages).
    pub fn slugs(self) -> String {
        Provider::ALL
            .into_iter()
            .filter(|p| self.allows(*p))
            .map(Provider::slug)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The reverse of [`AlwaysLoad::slugs`]; an unknown name is `None`.
    pub fn parse_slugs(s: &str) -> Option<AlwaysLoad> {
        s.split_whitespace()
            .try_fold(AlwaysLoad::NONE, |set, slug| {
                Provider::parse(slug).map(|p| set.with(p, true))
            })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn provider_of(s: &str) -> Option<Provider> {
        Media::recognise(s).map(|m| m.provider())
    }

    #[test]
    fn each_providers_addresses_are_recognised() {
        for (address, provider, player) in [
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
                Provider::YouTube,
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            ),
            (
                "https://youtu.be/dQw4w9WgXcQ?si=abc",
                Provider::YouTube,
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            ),
            (
                "https://youtube.com/shorts/dQw4w9WgXcQ/",
                Provider::YouTube,
                "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            ),
            (
                "https://vimeo.com/76979871",
                Provider::Vimeo,
                "https://player.vimeo.com/video/76979871?dnt=1",
            ),
            (
                "https://vimeo.com/76979871/abcdef1234",
                Provider::Vimeo,
                "https://player.vimeo.com/video/76979871?h=abcdef1234&dnt=1",
            ),
            (
                "https://www.flickr.com/photos/west-police/53210987654/",
                Provider::Flickr,
                "https://www.flickr.com/photos/west-police/53210987654/player/",
            ),
            (
                "https://www.slideshare.net/slideshow/annual-report-2025/271234567",
                Provider::SlideShare,
                "https://www.slideshare.net/slideshow/embed_code/271234567",
            ),
        ] {
            let m = Media::recognise(address).unwrap_or_else(|| panic!("{address}"));
            assert_eq!(m.provider(), provider, "{address}");
            assert_eq!(m.player_url(), player, "{address}");
            assert!(m.player_url().starts_with(provider.frame_origin()));
            // The page address is itself recognised as the same media.
            assert_eq!(Media::recognise(&m.page_url()), Some(m.clone()));
        }
    }

    #[test]
    fn look_alikes_are_not_media() {
        for bad in [
            "javascript:alert(1)//https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtube.com@evil.example/watch?v=dQw4w9WgXcQ",
            "https://user:pw@www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://evil.example/?https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
            "https://evilyoutube.com/watch?v=dQw4w9WgXcQ",
            "https://xn--yutube-wqf.com/watch?v=dQw4w9WgXcQ",
            "https://yоutube.com/watch?v=dQw4w9WgXcQ", // a Cyrillic o
            "https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQx",
            "https://www.youtube.com/watch?v=dQw4w9WgXc",
            "https://www.youtube.com/watch?v=dQw4w9W\"XcQ",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&v=aaaaaaaaaaa",
            "https://www.youtube.com/watch/extra?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ/extra",
            "https://www.youtube.com/embed/dQw4w9WgXcQ/extra",
            "https://www.youtube.com//watch?v=dQw4w9WgXcQ",
            "ftp://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "data:text/html,https://vimeo.com/1",
            "https://vimeo.com/1234567890123",
            "https://vimeo.com/channels/staff",
            "https://vimeo.com/123/456/789",
            "https://player.vimeo.com/video/12x",
            "https://www.flickr.com/photos/west-police/",
            "https://www.flickr.com/photos/west%20police/5321/",
            "https://www.flickr.com/photos/a/123456789012345678901/",
            "https://www.slideshare.net/someone/a-talk",
            "https://www.slideshare.net/slideshow/a-talk/12345/extra",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ#<script>",
            "https://192.168.0.1/watch?v=dQw4w9WgXcQ",
            "https://www.youtube.com\\@evil.example/watch?v=dQw4w9WgXcQ",
            " https://www.youtube.com/watch?v=dQw4w9WgXcQ extra",
            "",
        ] {
            assert_eq!(provider_of(bad), None, "{bad:?}");
        }
        let long = format!("https://vimeo.com/1?{}", "a".repeat(400));
        assert_eq!(provider_of(&long), None);
    }

    #[test]
    fn embed_lines_carry_title_poster_and_transcript() {
        let e = EmbedLine::parse(
            "https://vimeo.com/76979871 | The new station | poster: news/station.jpg | transcript: /news/station-transcript",
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.title.as_deref(), Some("The new station"));
        assert_eq!(e.poster.as_deref(), Some("news/station.jpg"));
        assert_eq!(e.transcript.as_deref(), Some("/news/station-transcript"));
        assert_eq!(poster_path("news/station.jpg"), "/static/news/station.jpg");
        let bare = EmbedLine::parse("https://youtu.be/dQw4w9WgXcQ")
            .unwrap()
            .unwrap();
        assert_eq!(bare.accessible_title(), "YouTube video");
        assert_eq!(EmbedLine::parse("Some words").unwrap(), None);
        assert_eq!(
            EmbedLine::parse("https://evil.example/x | poster: a.jpg").unwrap(),
            None
        );
        for bad in [
            "https://youtu.be/dQw4w9WgXcQ | poster: ../secret.jpg",
            "https://youtu.be/dQw4w9WgXcQ | poster: a.gif",
            "https://youtu.be/dQw4w9WgXcQ | transcript: javascript:alert(1)",
            "https://youtu.be/dQw4w9WgXcQ | transcript: //evil.example/",
            "https://youtu.be/dQw4w9WgXcQ | A | B",
        ] {
            assert!(EmbedLine::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn always_load_sets_round_trip() {
        for bits in 0..16 {
            let set = AlwaysLoad::from_bits(bits).unwrap();
            assert_eq!(AlwaysLoad::parse_slugs(&set.slugs()), Some(set));
        }
        assert_eq!(AlwaysLoad::from_bits(16), None);
        assert_eq!(AlwaysLoad::parse_slugs("youtube myspace"), None);
    }

    proptest! {
        /// Whatever is put before, after or inside a good address, anything recognised is on
        /// the provider's player origin with an id of its exact alphabet.
        #[test]
        fn anything_recognised_frames_only_the_providers_origin(
            prefix in "[a-z:/@.%-]{0,12}",
            host in prop::sample::select(vec![
                "www.youtube.com", "youtu.be", "vimeo.com", "player.vimeo.com", "www.flickr.com",
                "www.slideshare.net", "evil.example", "youtube.com@evil.example",
                "youtube.com.evil.example", "xn--youtube-abc.com",
            ]),
            path in "[a-zA-Z0-9/?=&_.@%-]{0,40}",
        ) {
            let address = format!("{prefix}https://{host}/{path}");
            if let Some(m) = Media::recognise(&address) {
                let player = m.player_url();
                let origin = format!("{}/", m.provider().frame_origin());
                prop_assert!(player.starts_with(&origin), "{}", player);
                let rest = &player[m.provider().frame_origin().len()..];
                prop_assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"/?=&_-@".contains(&b)), "{player}");
                prop_assert!(!host.contains("evil") && !host.starts_with("xn--"));
                prop_assert!(prefix.is_empty());
            }
        }

        #[test]
        fn youtube_ids_of_the_wrong_length_are_refused(id in "[A-Za-z0-9_-]{0,30}") {
            let address = format!("https://www.youtube.com/watch?v={id}");
            prop_assert_eq!(Media::recognise(&address).is_some(), id.len() == 11);
        }
    }
}
