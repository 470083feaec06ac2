//! Connections to the SMTP relay for bulk sending, kept open and reused.
//!
//! lettre's pooled transport leaves Nagle's algorithm on: it writes a message's body and its
//! final `.` in two writes, and the second waits for the relay's delayed acknowledgement,
//! about 40 ms per message on Linux. Campaigns therefore open their own connections with
//! `TCP_NODELAY` and hand them to lettre's SMTP client, which still speaks the protocol
//! (EHLO, STARTTLS, AUTH, each command, dot-stuffing). Implicit TLS (`smtps://`) is left
//! to lettre, which opens that socket itself.
//!
//! Each transaction (MAIL, RCPT, DATA, the message) is driven here, one lettre command at a
//! time, so that a lost connection can be placed before or after the message's final `.`:
//! after it, the relay may have kept the message without saying so (RFC 1047), and sending
//! it again may deliver a second copy, which the campaign report must count.

use std::time::{Duration, Instant};

use candour_core::config::{SmtpTls as Security, SmtpUrl};
use lettre::Message;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::sync::Mutex;

use crate::MailError;

/// Where and how to connect, from `mail.smtp_url`.
#[derive(Debug, Clone)]
pub struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
}

/// A connection that has been idle this long is closed rather than reused: relays drop idle
/// clients, and a message sent down a dropped connection would wait for its retry.
const MAX_IDLE: Duration = Duration::from_secs(20);

impl Relay {
    /// The relay `mail.smtp_url` names, parsed when the configuration was read.
    pub fn new(url: &SmtpUrl) -> Relay {
        Relay {
            host: url.host().to_owned(),
            port: url.port(),
            security: url.tls(),
            credentials: url.credentials().map(|(user, password)| {
                Credentials::new(user.to_owned(), password.expose().to_owned())
            }),
            hello: url
                .hello()
                .map_or_else(ClientId::default, |name| ClientId::Domain(name.to_owned())),
            timeout: Duration::from_secs(20),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let tls = || {
            TlsParameters::new(self.host.clone()).map_err(|e| MailError::Settings(e.to_string()))
        };
        let mut conn = if self.security == Security::Implicit {
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                Some(tls()?),
                None,
            )
            .await
            .map_err(MailError::Relay)?
        } else {
            let tcp = tokio::time::timeout(
                self.timeout,
                tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| MailError::Unreachable("the relay did not answer in time".to_owned()))?
            .map_err(|e| MailError::Unreachable(e.to_string()))?;
            tcp.set_nodelay(true)
                .map_err(|e| MailError::Unreachable(e.to_string()))?;
            let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                .await
                .map_err(MailError::Relay)?;
            let wants_tls = matches!(self.security, Security::Opportunistic | Security::Required);
            if wants_tls && conn.can_starttls() {
                conn.starttls(tls()?, &self.hello)
                    .await
                    .map_err(MailError::Relay)?;
            } else if self.security == Security::Required {
                return Err(MailError::Settings(
                    "mail.smtp_url asks for TLS, and the relay does not offer STARTTLS".to_owned(),
                ));
            }
            conn
        };
        if let Some(credentials) = &self.credentials {
            // A password crosses only an encrypted connection, or the machine's own loopback.
            let loopback = self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
                || self.host == "localhost";
            if !conn.is_encrypted() && !loopback {
                return Err(MailError::Settings(
                    "mail.smtp_url has a password, and the connection to the relay is not encrypted; use smtps:// or ?tls=required".to_owned(),
                ));
            }
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(MailError::Relay)?;
        }
        Ok(conn)
    }
}

/// Open connections to the relay, each used by one send at a time.
pub struct RelayPool {
    relay: Relay,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl RelayPool {
    pub fn new(relay: Relay) -> RelayPool {
        RelayPool {
            relay,
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn take(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().await;
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE && !conn.has_broken() {
                return Some(conn);
            }
            conn.abort().await;
        }
        None
    }

    /// Send one message on a pooled connection, or a new one, within `limit`. A reused
    /// connection that turns out to be closed is replaced at once, so the message does not
    /// wait for a retry. Failing to open a connection (refused, greeting 4xx/5xx, STARTTLS,
    /// AUTH) says nothing about this message, so it is reported as the relay being
    /// unreachable: the message is retried, never failed for good.
    ///
    /// The answer also counts the tries that may have left a copy with the relay: those
    /// whose final `.` was sent and whose answer was `250` or never came (RFC 1047). A try
    /// cut off earlier, or refused, left none.
    pub async fn send(&self, message: &Message, limit: Duration) -> Sent {
        let mut tries = Tries::default();
        let result = match tokio::time::timeout(limit, self.send_now(message, &mut tries)).await {
            Ok(result) => result,
            Err(_) => Err(MailError::Unreachable(
                "the relay did not finish the exchange in time".to_owned(),
            )),
        };
        tries.settle();
        Sent {
            result,
            handed_over: tries.handed_over,
        }
    }

    async fn send_now(&self, message: &Message, tries: &mut Tries) -> Result<(), MailError> {
        let body = message.formatted();
        let envelope = message.envelope();
        if let Some(mut conn) = self.take().await {
            match deliver(&mut conn, envelope, &body, tries).await {
                Ok(()) => {
                    self.put_back(conn).await;
                    return Ok(());
                }
                // The connection broke: send again on a new one. If the final `.` had gone
                // out, `tries` counts this copy, and the next one makes a possible duplicate.
                Err(MailError::Relay(e)) if e.status().is_none() => {}
                // A reply from the relay is an answer about this message: keep it.
                Err(e) => return Err(e),
            }
        }
        let mut conn = self.relay.connect().await.map_err(|e| {
            tracing::warn!(error = %e, "Could not open a connection to the mail relay.");
            MailError::Unreachable(e.to_string())
        })?;
        let result = deliver(&mut conn, envelope, &body, tries).await;
        self.put_back(conn).await;
        result
    }

    /// End every idle connection with `QUIT`, as a stopping worker should; a relay that
    /// does not answer within a couple of seconds is simply disconnected.
    pub async fn close(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().await);
        for (mut conn, _) in idle {
            if tokio::time::timeout(Duration::from_secs(2), conn.quit())
                .await
                .is_err()
            {
                conn.abort().await;
            }
        }
    }

    async fn put_back(&self, conn: AsyncSmtpConnection) {
        if !conn.has_broken() {
            self.idle.lock().await.push((conn, Instant::now()));
        }
    }
}

/// What became of one message at the relay.
#[derive(Debug)]
pub struct Sent {
    pub result: Result<(), MailError>,
    /// Tries whose final `.` was sent and whose answer was `250` or never came.
    pub handed_over: u32,
}

/// The tries of one message so far.
#[derive(Debug, Default)]
struct Tries {
    handed_over: u32,
    /// The current try's final `.` has been sent and its answer not read yet.
    awaiting_answer: bool,
}

impl Tries {
    /// Count the current try if it ended waiting for the answer to its final `.`.
    fn settle(&mut self) {
        if std::mem::take(&mut self.awaiting_answer) {
            self.handed_over += 1;
        }
    }
}

/// One SMTP transaction on `conn`: MAIL, RCPT, DATA and the message, as lettre's
/// `AsyncSmtpConnection::send` does it, but noting in `tries` the moment the message's final
/// `.` is handed to the connection (lettre's own error cannot tell a connection lost before
/// that moment from one lost after it). Any failure aborts the connection, as lettre does.
async fn deliver(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    body: &[u8],
    tries: &mut Tries,
) -> Result<(), MailError> {
    tries.settle();
    let result = transaction(conn, envelope, body, &mut tries.awaiting_answer).await;
    match &result {
        Ok(()) => {
            tries.awaiting_answer = false;
            tries.handed_over += 1;
        }
        // The relay answered the final `.` with a refusal: it kept nothing.
        Err(MailError::Relay(e)) if e.status().is_some() => tries.awaiting_answer = false,
        Err(_) => {}
    }
    if result.is_err() {
        conn.abort().await;
    }
    tries.settle();
    result
}

async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    body: &[u8],
    awaiting_answer: &mut bool,
) -> Result<(), MailError> {
    let info = conn.server_info();
    let mut options = Vec::new();
    // As lettre does: international addresses need SMTPUTF8, 8-bit text needs 8BITMIME.
    let non_ascii_address = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii_address {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            return Err(MailError::Build(
                "the address is not ASCII and the relay does not offer SMTPUTF8".to_owned(),
            ));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            return Err(MailError::Build(
                "the message is not ASCII and the relay does not offer 8BITMIME".to_owned(),
            ));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let relay = MailError::Relay;
    conn.command(Mail::new(envelope.from().cloned(), options))
        .await
        .map_err(relay)?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), Vec::new()))
            .await
            .map_err(relay)?;
    }
    conn.command(Data).await.map_err(relay)?;
    // lettre writes each part the iterator gives, then the final `.`, then reads the answer.
    // When the iterator runs out, the whole body has been written, and the `.` goes next.
    let parts = std::iter::once(body).chain(std::iter::from_fn(|| {
        *awaiting_answer = true;
        None
    }));
    conn.message_iter(parts).await.map_err(relay)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_sink::TestSink;

    fn message(subject: &str) -> Message {
        Message::builder()
            .from("news@example.org".parse().unwrap())
            .to("ann@example.org".parse().unwrap())
            .subject(subject)
            .body("Hello".to_owned())
            .unwrap()
    }

    async fn pool(sink: &TestSink) -> RelayPool {
        RelayPool::new(from_url(&sink.url()).unwrap())
    }

    const LIMIT: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_message_accepted_at_once_left_one_copy() {
        let sink = TestSink::start().await;
        let pool = pool(&sink).await;
        let sent = pool.send(&message("One"), LIMIT).await;
        assert!(sent.result.is_ok(), "{:?}", sent.result);
        assert_eq!(sent.handed_over, 1);
        // Refused at RCPT: the relay kept nothing.
        sink.reply_to_next_rcpt("550 5.1.1 no such mailbox").await;
        let sent = pool.send(&message("Two"), LIMIT).await;
        assert!(sent.result.is_err());
        assert_eq!(sent.handed_over, 0);
        assert_eq!(sink.messages().await.len(), 1);
    }

    #[tokio::test]
    async fn an_unanswered_end_on_a_reused_connection_is_sent_again_and_both_copies_count() {
        let sink = TestSink::start().await;
        let pool = pool(&sink).await;
        assert!(pool.send(&message("Warm"), LIMIT).await.result.is_ok());
        sink.drop_after_data(1).await;
        let sent = pool.send(&message("Twice"), LIMIT).await;
        assert!(sent.result.is_ok(), "{:?}", sent.result);
        assert_eq!(sent.handed_over, 2);
        assert_eq!(sink.messages().await.len(), 3);
    }

    #[tokio::test]
    async fn a_connection_lost_before_the_end_left_no_copy() {
        let sink = TestSink::start().await;
        let pool = pool(&sink).await;
        // A new connection lost at DATA: the message waits for its retry.
        sink.drop_at_data(1).await;
        let sent = pool.send(&message("Lost"), LIMIT).await;
        assert!(sent.result.as_ref().is_err_and(MailError::is_transient));
        assert_eq!(sent.handed_over, 0);
        // A reused one: sent again at once, one copy.
        assert!(pool.send(&message("Warm"), LIMIT).await.result.is_ok());
        sink.drop_at_data(1).await;
        let sent = pool.send(&message("Again"), LIMIT).await;
        assert!(sent.result.is_ok(), "{:?}", sent.result);
        assert_eq!(sent.handed_over, 1);
        assert_eq!(sink.messages().await.len(), 2);
    }

    #[tokio::test]
    async fn an_end_unanswered_when_the_time_runs_out_counts_as_a_copy() {
        let sink = TestSink::start().await;
        let pool = pool(&sink).await;
        sink.stall_after_data(1).await;
        let sent = pool
            .send(&message("Hangs"), Duration::from_millis(500))
            .await;
        assert!(matches!(sent.result, Err(MailError::Unreachable(_))));
        assert_eq!(sent.handed_over, 1);
        assert_eq!(sink.messages().await.len(), 1);
    }

    #[tokio::test]
    async fn a_slow_relay_is_given_up_at_the_time_limit_and_closing_says_quit() {
        let sink = TestSink::start().await;
        let pool = pool(&sink).await;
        assert!(pool.send(&message("Warm"), LIMIT).await.result.is_ok());
        sink.delay_after_data(Duration::from_secs(5)).await;
        let started = Instant::now();
        let sent = pool
            .send(&message("Slow"), Duration::from_millis(300))
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(sent.result, Err(MailError::Unreachable(_))));
        assert_eq!(sent.handed_over, 1, "kept by the relay, unanswered");
        sink.delay_after_data(Duration::ZERO).await;
        assert!(pool.send(&message("Again"), LIMIT).await.result.is_ok());
        assert_eq!(sink.quits().await, 0);
        pool.close().await;
        assert_eq!(sink.quits().await, 1, "the idle connection ended with QUIT");
    }

    fn from_url(raw: &str) -> Result<Relay, String> {
        SmtpUrl::parse(raw).map(|u| Relay::new(&u))
    }

    #[test]
    fn relay_urls_follow_lettre_defaults() {
        let r = from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((r.port, r.security), (2525, Security::None));
        let r = from_url("smtp://relay.example?tls=required").unwrap();
        assert_eq!((r.port, r.security), (587, Security::Required));
        let r = from_url("smtps://user:p%40ss@relay.example").unwrap();
        assert_eq!((r.port, r.security), (465, Security::Implicit));
        assert!(r.credentials.is_some());
        for bad in [
            "http://relay.example",
            "smtp://relay.example?tls=maybe",
            "nonsense",
        ] {
            assert!(from_url(bad).is_err(), "{bad}");
        }
    }
}
