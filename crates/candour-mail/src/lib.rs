//! Outgoing email. With a relay configured, messages go over SMTP (TLS for `smtps://`);
//! without one, each message is written as a file to the outbox folder, and the log says
//! where. Either way the message is built by lettre, whose header encoding keeps what a
//! person typed out of the headers' structure.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod campaigns;
mod metrics;
pub mod relay;
pub mod test_sink;

use std::path::PathBuf;
use std::time::Duration;

use candour_core::account::EmailAddress;
use candour_core::config::{DkimAlgorithm, DkimSettings, MailSettings, SmtpTls, SmtpUrl};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey, dkim_sign,
};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail settings are not usable: {0}")]
    Settings(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the mail relay did not accept the message")]
    Relay(#[source] lettre::transport::smtp::Error),
    #[error("the mail relay could not be reached: {0}")]
    Unreachable(String),
    #[error("could not write to the outbox")]
    Outbox(#[source] std::io::Error),
}

impl MailError {
    /// Whether trying again later may work (the relay was down or said "try later").
    pub fn is_transient(&self) -> bool {
        match self {
            MailError::Relay(e) => !e.is_permanent(),
            MailError::Outbox(_) | MailError::Unreachable(_) => true,
            _ => false,
        }
    }
}

/// One plain-text message to one person.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: EmailAddress,
    pub subject: String,
    pub text: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends email as configured.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    dkim: Option<DkimConfig>,
}

/// The headers a DKIM signature covers, where the message has them: who it is from and to,
/// what it is, and the unsubscribe headers (RFC 8058 asks that they be signed).
/// `Content-Type` is left out: lettre writes a multipart message's `Content-Type` with the
/// body, so the signer would not see the header that receivers check, and every campaign
/// message's signature would fail.
const DKIM_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The signing configuration for `[mail.dkim]`, with its key read from the file.
fn dkim_config(settings: &DkimSettings) -> Result<DkimConfig, MailError> {
    let key_file = settings.key_file.display();
    let text = std::fs::read_to_string(&settings.key_file).map_err(|e| {
        MailError::Settings(format!(
            "mail.dkim.key_file: could not read {key_file}: {e}"
        ))
    })?;
    let (algorithm, expected) = match settings.algorithm {
        DkimAlgorithm::RsaSha256 => (
            DkimSigningAlgorithm::Rsa,
            "an RSA private key in PKCS#1 PEM (-----BEGIN RSA PRIVATE KEY-----)",
        ),
        DkimAlgorithm::Ed25519Sha256 => (
            DkimSigningAlgorithm::Ed25519,
            "an Ed25519 private key: the base64 of its 32 secret bytes",
        ),
    };
    let key = DkimSigningKey::new(text.trim(), algorithm).map_err(|_| {
        MailError::Settings(format!(
            "mail.dkim.key_file: {key_file} does not hold {expected}"
        ))
    })?;
    Ok(DkimConfig::new(
        settings.selector.clone(),
        settings.domain.clone(),
        key,
        DKIM_HEADERS
            .into_iter()
            .map(HeaderName::new_from_ascii_str)
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

/// Check what `Mailer::from_settings` reads besides the configuration itself (the DKIM key
/// file), without setting up a transport: for `candour config check`.
pub fn check_files(settings: &MailSettings) -> Result<(), MailError> {
    settings.dkim.as_ref().map(dkim_config).transpose()?;
    Ok(())
}

/// lettre's transport for the relay `mail.smtp_url` names, from the URL the configuration
/// parsed (the same values the campaign worker's connections use).
fn smtp_builder(
    url: &SmtpUrl,
) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, MailError> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    let tls_parameters = || {
        TlsParameters::new(url.host().to_owned())
            .map_err(|e| MailError::Settings(format!("mail.smtp_url: {e}")))
    };
    let tls = match url.tls() {
        SmtpTls::None => Tls::None,
        SmtpTls::Opportunistic => Tls::Opportunistic(tls_parameters()?),
        SmtpTls::Required => Tls::Required(tls_parameters()?),
        SmtpTls::Implicit => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host())
        .port(url.port())
        .tls(tls);
    if let Some(name) = url.hello() {
        builder = builder.hello_name(ClientId::Domain(name.to_owned()));
    }
    if let Some((user, password)) = url.credentials() {
        builder = builder.credentials(Credentials::new(
            user.to_owned(),
            password.expose().to_owned(),
        ));
    }
    Ok(builder)
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings) -> Result<Mailer, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| MailError::Settings(format!("mail.from: {e}")))?;
        let transport = if let Some(url) = &settings.smtp_url {
            let smtp = smtp_builder(url)?
                .timeout(Some(Duration::from_secs(20)))
                .pool_config(
                    lettre::transport::smtp::PoolConfig::new()
                        .max_size(2)
                        .idle_timeout(Duration::from_secs(30)),
                )
                .build();
            Transport::Smtp(smtp)
        } else {
            Transport::Outbox(settings.outbox_dir.clone())
        };
        let dkim = settings.dkim.as_ref().map(dkim_config).transpose()?;
        Ok(Mailer {
            transport,
            from,
            dkim,
        })
    }

    /// Whether messages are DKIM-signed.
    pub fn signs(&self) -> bool {
        self.dkim.is_some()
    }

    /// Add a DKIM signature, when signing is configured. Call it on the finished message:
    /// a header added afterwards is not covered.
    pub fn sign(&self, message: &mut Message) {
        if let Some(dkim) = &self.dkim {
            dkim_sign(message, dkim);
        }
    }

    /// Where messages go, for the start-up log.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "the SMTP relay".to_owned(),
            Transport::Outbox(dir) => format!("files in {}", dir.display()),
        }
    }

    fn build(&self, email: &Email) -> Result<Message, MailError> {
        if email.subject.chars().any(char::is_control) {
            return Err(MailError::Build(
                "the subject holds a control character".to_owned(),
            ));
        }
        let to: Mailbox = email
            .to
            .as_str()
            .parse()
            .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|e| MailError::Build(e.to_string()))
    }

    /// The sender, as configured.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.build(email)?;
        self.send_message(message).await
    }

    /// Send a message built elsewhere (campaign messages, with their own headers), signing
    /// it first when signing is configured.
    pub async fn send_message(&self, mut message: Message) -> Result<(), MailError> {
        self.sign(&mut message);
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(MailError::Relay)?;
            }
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(MailError::Outbox)?;
                let name = format!("{:016x}.eml", rand::random::<u64>());
                let path = dir.join(name);
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(MailError::Outbox)?;
                tracing::info!(path = %path.display(), "Wrote an email to the outbox instead of sending it.");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(smtp_url: &str, outbox: PathBuf) -> MailSettings {
        MailSettings {
            smtp_url: (!smtp_url.is_empty()).then(|| smtp_url.parse().unwrap()),
            from: "Northmoor Police <noreply@northmoor.example>".to_owned(),
            outbox_dir: outbox,
            dkim: None,
        }
    }

    fn email() -> Email {
        Email {
            to: EmailAddress::parse("jo@example.org").unwrap(),
            subject: "Confirm your email address".to_owned(),
            text: "Hello\r\n.\r\nA line with a lone dot above.".to_owned(),
        }
    }

    #[tokio::test]
    async fn without_a_relay_messages_land_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::from_settings(&settings("", dir.path().join("out"))).unwrap();
        mailer.send(&email()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains("To: jo@example.org"));
        assert!(text.contains("Subject: Confirm your email address"));
    }

    #[tokio::test]
    async fn over_smtp_the_message_arrives_whole() {
        let sink = test_sink::TestSink::start().await;
        let mailer = Mailer::from_settings(&settings(&sink.url(), PathBuf::new())).unwrap();
        mailer.send(&email()).await.unwrap();
        let got = sink.wait_for(1).await;
        assert_eq!(got[0].from, "noreply@northmoor.example");
        assert_eq!(got[0].to, ["jo@example.org"]);
        assert!(got[0].data.contains("Subject: Confirm your email address"));
        assert!(
            got[0]
                .data
                .contains("\r\n.\r\nA line with a lone dot above."),
            "{}",
            got[0].data
        );
    }

    #[tokio::test]
    async fn a_subject_cannot_smuggle_a_header() {
        let sink = test_sink::TestSink::start().await;
        let mailer = Mailer::from_settings(&settings(&sink.url(), PathBuf::new())).unwrap();
        let mut e = email();
        e.subject = "Hello\r\nBcc: victim@example.org".to_owned();
        assert!(matches!(mailer.send(&e).await, Err(MailError::Build(_))));
        assert!(sink.messages().await.is_empty());
    }

    #[tokio::test]
    async fn permanent_and_transient_refusals_are_told_apart() {
        let sink = test_sink::TestSink::start().await;
        let mailer = Mailer::from_settings(&settings(&sink.url(), PathBuf::new())).unwrap();
        sink.reply_to_next_rcpt("550 5.1.1 no such user").await;
        let err = mailer.send(&email()).await.unwrap_err();
        assert!(!err.is_transient(), "{err:?}");
        sink.reply_to_next_rcpt("451 4.3.0 try again later").await;
        let err = mailer.send(&email()).await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        mailer.send(&email()).await.unwrap();
        assert_eq!(sink.messages().await.len(), 1);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let err = Mailer::from_settings(&MailSettings {
            from: "not an address".to_owned(),
            ..MailSettings::default()
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("mail.from"), "{err}");
    }
}
