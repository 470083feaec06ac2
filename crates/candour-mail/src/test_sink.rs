//! A small SMTP server for tests: it speaks enough of RFC 5321 for a real client (lettre, or
//! any MTA) to deliver to it over loopback, keeps what it receives, and can be told to refuse
//! the next recipient with a given reply, to exercise retries and bounces, or drop the
//! connection around a message's final `.`, to exercise what a lost connection leaves behind.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA, with dot-stuffing undone.
    pub data: String,
}

#[derive(Default)]
struct Shared {
    messages: Vec<Received>,
    rcpt_replies: Vec<String>,
    /// Sessions still to be turned away at the greeting, with this reply.
    refusals: Vec<String>,
    /// Messages still to be kept and then left unanswered: the connection is closed where
    /// the `250` to their final `.` would be.
    drops_after_data: usize,
    /// `DATA` commands still to be answered by closing the connection, before any of the
    /// message is read.
    drops_at_data: usize,
    /// Messages still to be kept and never answered, the connection left open until the
    /// client closes it.
    stalls_after_data: usize,
    /// How long to wait before answering each message's final `.`: a slow relay.
    delay_after_data: Duration,
    /// Sessions the client ended with `QUIT`.
    quits: usize,
    /// A reply for every `RCPT TO` while set (after any scripted ones).
    rcpt_standing: Option<String>,
    /// `RCPT TO` commands seen.
    rcpts: usize,
}

/// A running sink; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct TestSink {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl TestSink {
    pub async fn start() -> TestSink {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic_free_abort(&e),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = session(stream, state).await;
                });
            }
        });
        TestSink { port, shared }
    }

    /// `smtp://127.0.0.1:PORT`, for `mail.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub async fn messages(&self) -> Vec<Received> {
        self.shared.lock().await.messages.clone()
    }

    /// Answer the next `RCPT TO` with `reply` (such as `550 5.1.1 no such user`).
    pub async fn reply_to_next_rcpt(&self, reply: &str) {
        self.shared.lock().await.rcpt_replies.push(reply.to_owned());
    }

    /// Greet the next `n` connections with `reply` (such as `421 4.3.2 busy`) and close
    /// them, as a relay that is overloaded or shutting down does.
    pub async fn refuse_sessions(&self, n: usize, reply: &str) {
        let mut s = self.shared.lock().await;
        s.refusals.extend(std::iter::repeat_n(reply.to_owned(), n));
    }

    /// Keep the next `n` messages, and close each one's connection instead of answering its
    /// final `.`: the relay has the message and the client cannot know it (RFC 1047).
    pub async fn drop_after_data(&self, n: usize) {
        self.shared.lock().await.drops_after_data += n;
    }

    /// Close the connection at the next `n` `DATA` commands, before the message is sent:
    /// nothing is kept.
    pub async fn drop_at_data(&self, n: usize) {
        self.shared.lock().await.drops_at_data += n;
    }

    /// Keep the next `n` messages and never answer their final `.`, as a relay that hangs
    /// after storing them: the client gives up when its own time runs out.
    pub async fn stall_after_data(&self, n: usize) {
        self.shared.lock().await.stalls_after_data += n;
    }

    /// Wait `delay` before answering each message's final `.` from now on, as a slow relay
    /// does (`Duration::ZERO` for no wait).
    pub async fn delay_after_data(&self, delay: Duration) {
        self.shared.lock().await.delay_after_data = delay;
    }

    /// Answer every `RCPT TO` with `reply` from now on (`None`: accept again).
    pub async fn reply_to_every_rcpt(&self, reply: Option<&str>) {
        self.shared.lock().await.rcpt_standing = reply.map(str::to_owned);
    }

    /// How many `RCPT TO` commands have arrived, accepted or not.
    pub async fn rcpts(&self) -> usize {
        self.shared.lock().await.rcpts
    }

    /// How many sessions the client ended cleanly with `QUIT`.
    pub async fn quits(&self) -> usize {
        self.shared.lock().await.quits
    }

    /// Wait (up to ten seconds) until at least `n` messages have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let got = self.messages().await;
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.messages().await
    }
}

fn panic_free_abort(e: &std::io::Error) -> ! {
    eprintln!("the test SMTP sink could not listen: {e}");
    std::process::abort()
}

async fn session(stream: tokio::net::TcpStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let refusal = {
        let mut s = shared.lock().await;
        (!s.refusals.is_empty()).then(|| s.refusals.remove(0))
    };
    if let Some(reply) = refusal {
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
        return Ok(());
    }
    let mut lines = BufReader::new(read);
    write.write_all(b"220 candour-test-sink ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-candour-test-sink\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
        } else if upper.starts_with("HELO") {
            "250 candour-test-sink".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            to.clear();
            "250 2.1.0 ok".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            let scripted = {
                let mut s = shared.lock().await;
                s.rcpts += 1;
                if s.rcpt_replies.is_empty() {
                    s.rcpt_standing.clone()
                } else {
                    Some(s.rcpt_replies.remove(0))
                }
            };
            match scripted {
                Some(r) => r,
                None => {
                    to.push(address(&command["RCPT TO:".len()..]));
                    "250 2.1.5 ok".to_owned()
                }
            }
        } else if upper == "DATA" {
            if take_one(&mut shared.lock().await.drops_at_data) {
                return Ok(());
            }
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let mut s = shared.lock().await;
            s.messages.push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            if take_one(&mut s.drops_after_data) {
                return Ok(());
            }
            if take_one(&mut s.stalls_after_data) {
                drop(s);
                while lines.read_line(&mut line).await? > 0 {
                    line.clear();
                }
                return Ok(());
            }
            let delay = s.delay_after_data;
            drop(s);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            "250 2.0.0 queued".to_owned()
        } else if upper == "RSET" {
            to.clear();
            "250 2.0.0 ok".to_owned()
        } else if upper == "NOOP" {
            "250 2.0.0 ok".to_owned()
        } else if upper == "QUIT" {
            shared.lock().await.quits += 1;
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 not implemented".to_owned()
        };
        write.write_all(reply.as_bytes()).await?;
        write.write_all(b"\r\n").await?;
    }
}

/// Use up one of `left`, if any is left.
fn take_one(left: &mut usize) -> bool {
    let some = *left > 0;
    *left = left.saturating_sub(1);
    some
}

fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg
        .strip_prefix('<')
        .and_then(|a| a.split_once('>'))
        .map_or(arg, |(a, _)| a);
    inner.to_owned()
}
