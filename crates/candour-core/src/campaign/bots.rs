//! Telling a person's opens and clicks from those of mail servers, privacy proxies and link
//! scanners.

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
