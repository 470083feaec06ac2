//! What a user agent says about the visitor's software: a crawler or not, the browser, the
//! operating system and the class of device. Read with `woothee` (browsers, systems,
//! devices and the crawlers it knows) and `isbot` (a maintained list of bot agents); nothing
//! else of the agent is kept.

use super::{Device, clip};

/// The parts of a user agent the statistics keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// A crawler, a bot or a program: never counted.
    pub bot: bool,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub device: Option<Device>,
}

/// Reads user agents; built once (the bot list compiles into one large pattern).
pub struct AgentReader {
    bots: isbot::Bots,
    parser: woothee::parser::Parser,
}

impl Default for AgentReader {
    fn default() -> Self {
        AgentReader {
            bots: isbot::Bots::default(),
            parser: woothee::parser::Parser::new(),
        }
    }
}

impl std::fmt::Debug for AgentReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentReader")
    }
}

fn known(s: &str) -> Option<String> {
    (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| clip(s))
}

impl AgentReader {
    pub fn read(&self, user_agent: &str) -> Agent {
        let ua = user_agent.trim();
        if ua.is_empty() || self.bots.is_bot(ua) {
            return Agent {
                bot: true,
                browser: None,
                os: None,
                device: None,
            };
        }
        let Some(parsed) = self.parser.parse(ua) else {
            return Agent {
                bot: false,
                browser: None,
                os: None,
                device: Some(Device::Other),
            };
        };
        let tablet = parsed.os == "iPad"
            || ua.contains("Tablet")
            || (parsed.os == "Android" && !ua.contains("Mobile"));
        let device = match parsed.category {
            "crawler" => None,
            _ if tablet => Some(Device::Tablet),
            "pc" => Some(Device::Desktop),
            "smartphone" | "mobilephone" => Some(Device::Mobile),
            _ => Some(Device::Other),
        };
        Agent {
            bot: parsed.category == "crawler",
            browser: known(parsed.name),
            os: known(parsed.os),
            device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) \
         AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) \
         AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1";
    const CHROME_ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 14; SM-X710) \
         AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";
    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) \
         AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";

    #[test]
    fn browsers_systems_and_devices_are_read() {
        let r = AgentReader::default();
        let a = r.read(FIREFOX_LINUX);
        assert!(!a.bot);
        assert_eq!(a.browser.as_deref(), Some("Firefox"));
        assert_eq!(a.os.as_deref(), Some("Linux"));
        assert_eq!(a.device, Some(Device::Desktop));
        let a = r.read(SAFARI_IPHONE);
        assert_eq!(a.browser.as_deref(), Some("Safari"));
        assert_eq!(a.os.as_deref(), Some("iPhone"));
        assert_eq!(a.device, Some(Device::Mobile));
        assert_eq!(r.read(SAFARI_IPAD).device, Some(Device::Tablet));
        assert_eq!(r.read(CHROME_ANDROID_TABLET).device, Some(Device::Tablet));
        let a = r.read(CHROME_WINDOWS);
        assert_eq!(a.browser.as_deref(), Some("Chrome"));
        assert_eq!(a.device, Some(Device::Desktop));
    }

    #[test]
    fn crawlers_bots_and_programs_are_bots() {
        let r = AgentReader::default();
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
            "curl/8.5.0",
            "python-requests/2.32.3",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/141.0.0.0 Safari/537.36",
            "",
        ] {
            assert!(r.read(ua).bot, "{ua:?}");
        }
        assert!(!r.read(FIREFOX_LINUX).bot);
    }
}
