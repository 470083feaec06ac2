//! `[mail]`: the relay, the sender and DKIM signing.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fields::{FieldErrors, is_dns_label};
use crate::secret::Secret;

/// Outgoing email.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The relay, such as `smtp://127.0.0.1:25` or `smtps://user:password@relay.example:465`,
    /// parsed once. Written empty (`None`): messages are written to `outbox_dir` instead (for
    /// development and the demo).
    #[serde(with = "super::empty_is_none")]
    pub smtp_url: Option<SmtpUrl>,
    /// The sender, such as `Example Police <noreply@example.police.uk>`.
    pub from: String,
    pub outbox_dir: PathBuf,
    /// DKIM signing of every message Candour sends, when set. Without it, sign at the relay.
    pub dkim: Option<DkimSettings>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            from: "Candour <noreply@localhost>".to_owned(),
            outbox_dir: PathBuf::from("outbox"),
            dkim: None,
        }
    }
}

/// `[mail.dkim]`: the key that signs outgoing mail, published in DNS at
/// `{selector}._domainkey.{domain}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The signing domain (`d=`), normally the domain of `mail.from` or one it belongs to.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The private key: an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), or an
    /// Ed25519 key as the base64 of its 32 secret bytes.
    pub key_file: PathBuf,
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum DkimAlgorithm {
    #[default]
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    #[serde(rename = "ed25519-sha256")]
    Ed25519Sha256,
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (`smtp://`, port 25 by default).
    None,
    /// STARTTLS when the relay offers it (`smtp://…?tls=opportunistic`, port 587).
    Opportunistic,
    /// STARTTLS or no message (`smtp://…?tls=required`, port 587).
    Required,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

/// `mail.smtp_url`, parsed: `smtp://[user:password@]host[:port][/hello-name][?tls=required|opportunistic]`
/// or `smtps://…`, with the ports lettre uses by default. The password is a [`Secret`]; the
/// URL prints with it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    tls: SmtpTls,
    /// The user name and password, when the URL has a password.
    credentials: Option<(String, Secret)>,
    /// The name to give in `EHLO`, from the URL's path.
    hello: Option<String>,
}

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        let url = url::Url::parse(raw).map_err(|e| e.to_string())?;
        let host = url
            .host_str()
            .ok_or_else(|| "has no host".to_owned())?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (tls, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (SmtpTls::None, 25),
            ("smtp", Some("opportunistic")) => (SmtpTls::Opportunistic, 587),
            ("smtp", Some("required")) => (SmtpTls::Required, 587),
            ("smtps", _) => (SmtpTls::Implicit, 465),
            _ => {
                return Err(
                    "must be empty, smtp://… or smtps://…; tls= may be required or opportunistic"
                        .to_owned(),
                );
            }
        };
        let decode = |s: &str| -> Result<String, String> {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(Cow::into_owned)
                .map_err(|_| "the user name or password is not valid UTF-8".to_owned())
        };
        let credentials = match url.password() {
            Some(password) => Some((decode(url.username())?, Secret::new(decode(password)?))),
            None => None,
        };
        let hello = (url.path().len() > 1).then(|| url.path().trim_matches('/').to_owned());
        Ok(SmtpUrl {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            credentials,
            hello,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn tls(&self) -> SmtpTls {
        self.tls
    }

    /// The user name and password to authenticate with, if any.
    pub fn credentials(&self) -> Option<(&str, &Secret)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p))
    }

    /// The name to give in `EHLO`, when the URL names one.
    pub fn hello(&self) -> Option<&str> {
        self.hello.as_deref()
    }

    /// Whether the relay is on this machine.
    pub fn is_local(&self) -> bool {
        self.host.contains("127.0.0.1") || self.host.contains("localhost")
    }
}

/// The URL again, with the password redacted.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == SmtpTls::Implicit {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://")?;
        if let Some((user, password)) = &self.credentials {
            let user =
                percent_encoding::utf8_percent_encode(user, percent_encoding::NON_ALPHANUMERIC);
            write!(f, "{user}:{password}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if let Some(hello) = &self.hello {
            write!(f, "/{hello}")?;
        }
        match self.tls {
            SmtpTls::Opportunistic => f.write_str("?tls=opportunistic"),
            SmtpTls::Required => f.write_str("?tls=required"),
            SmtpTls::None | SmtpTls::Implicit => Ok(()),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

impl std::str::FromStr for SmtpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SmtpUrl::parse(s)
    }
}

impl MailSettings {
    pub(super) fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        let from_ok = self.from.rsplit_once('<').map_or_else(
            || crate::account::EmailAddress::parse(&self.from).is_ok(),
            |(_, addr)| {
                addr.strip_suffix('>').is_some_and(|a| {
                    crate::account::EmailAddress::parse(a).is_ok() || a.ends_with("@localhost")
                })
            },
        ) && !self.from.contains(['\r', '\n']);
        if !from_ok {
            errors.add(
                "from",
                "must be an address, or a name and an address like `Example Police <noreply@example.org>`",
            );
        }
        if let Some(dkim) = &self.dkim {
            if !(dkim.domain.contains('.') && dkim.domain.split('.').all(is_dns_label)) {
                errors.add(
                    "dkim.domain",
                    "must be a domain name such as `example.police.uk`",
                );
            }
            if !dkim.selector.split('.').all(is_dns_label) {
                errors.add(
                    "dkim.selector",
                    "must be letters, digits and hyphens (dots between parts), such as `mail2026`",
                );
            }
            if dkim.key_file.as_os_str().is_empty() {
                errors.add(
                    "dkim.key_file",
                    "must name the file that holds the private key",
                );
            }
        }
        errors
    }

    pub(super) fn warnings(&self, out: &mut Vec<String>) {
        match &self.smtp_url {
            None => out.push(format!(
                "mail.smtp_url is empty: email (sign-in links, password resets) is written to {} \
                 instead of being sent. Set it to your mail relay, such as \
                 smtps://user:password@relay.example.org:465.",
                self.outbox_dir.display()
            )),
            Some(url) if url.tls() != SmtpTls::Implicit && !url.is_local() => out.push(
                "mail.smtp_url uses smtp:// to another host: messages cross the network without \
                 TLS. Use smtps://, or a relay on this machine."
                    .to_owned(),
            ),
            Some(_) => {}
        }
        if let Some(dkim) = &self.dkim {
            let from_domain = self
                .from
                .rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
                .unwrap_or_default();
            let signing = dkim.domain.to_ascii_lowercase();
            if from_domain != signing && !from_domain.ends_with(&format!(".{signing}")) {
                out.push(format!(
                    "mail.dkim.domain {} is not the domain of mail.from ({from_domain}) or one it \
                     belongs to: receivers applying DMARC will not count the signature as the \
                     sender's.",
                    dkim.domain
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_load as load;

    #[test]
    fn the_relay_url_is_parsed_once_with_the_password_kept_secret() {
        let u = SmtpUrl::parse("smtps://news%40x:p%40ss@relay.example.org/mx.example.org").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.tls()),
            ("relay.example.org", 465, SmtpTls::Implicit)
        );
        let (user, password) = u.credentials().unwrap();
        assert_eq!((user, password.expose()), ("news@x", "p@ss"));
        assert_eq!(u.hello(), Some("mx.example.org"));
        assert_eq!(
            format!("{u:?}"),
            "SmtpUrl(smtps://news%40x:[redacted]@relay.example.org:465/mx.example.org)"
        );
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525?tls=required").unwrap();
        assert_eq!(
            (u.port(), u.tls(), u.is_local()),
            (2525, SmtpTls::Required, true)
        );
        assert!(u.credentials().is_none() && u.hello().is_none());
        assert_eq!(
            SmtpUrl::parse("smtp://relay?tls=opportunistic")
                .unwrap()
                .port(),
            587
        );
        assert_eq!(SmtpUrl::parse("smtp://relay").unwrap().port(), 25);
        for bad in [
            "http://relay",
            "smtp://relay?tls=maybe",
            "smtp://",
            "relay:25",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dkim_settings_are_checked_and_misalignment_is_flagged() {
        let dkim = |domain: &str, selector: &str, extra: &str| {
            format!(
                "[mail]\nfrom = \"News <news@northmoor.example>\"\n[mail.dkim]\n\
                 domain = \"{domain}\"\nselector = \"{selector}\"\nkey_file = \"dkim.key\"\n{extra}"
            )
        };
        for (text, key) in [
            (dkim("localhost", "s1", ""), "mail.dkim.domain"),
            (dkim("bad_domain.example", "s1", ""), "mail.dkim.domain"),
            (dkim("northmoor.example", "", ""), "mail.dkim.selector"),
            (dkim("northmoor.example", "a b", ""), "mail.dkim.selector"),
            (
                dkim("northmoor.example", "s1", "algorithm = \"md5\"\n"),
                "algorithm",
            ),
        ] {
            let err = load(&text, &[]).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
        let c = load(
            &dkim(
                "northmoor.example",
                "mail2026",
                "algorithm = \"ed25519-sha256\"\n",
            ),
            &[],
        )
        .unwrap();
        let d = c.mail.dkim.as_ref().unwrap();
        assert_eq!(d.algorithm, DkimAlgorithm::Ed25519Sha256);
        assert!(!c.warnings().iter().any(|w| w.contains("mail.dkim")));
        // A parent domain aligns; another domain does not.
        let c = load(&dkim("example", "s1", ""), &[]);
        assert!(c.is_err(), "a single label is not a signing domain");
        let c = load(&dkim("other.example", "s1", ""), &[]).unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("mail.dkim.domain")));
        let sub = "[mail]\nfrom = \"news@mail.northmoor.example\"\n[mail.dkim]\n\
                   domain = \"northmoor.example\"\nselector = \"s1\"\nkey_file = \"k\"\n";
        let c = load(sub, &[]).unwrap();
        assert_eq!(
            c.mail.dkim.as_ref().unwrap().algorithm,
            DkimAlgorithm::RsaSha256
        );
        assert!(!c.warnings().iter().any(|w| w.contains("mail.dkim")));
    }
}
