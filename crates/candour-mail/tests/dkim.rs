//! DKIM signing, checked the way a receiving server checks it: the body hash, then the
//! Ed25519 signature over the relaxed-canonical headers the signature names (RFC 6376,
//! RFC 8463). The verifier below is written from the RFCs, independently of the signer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use candour_core::config::{DkimAlgorithm, DkimSettings, MailSettings};
use candour_mail::Mailer;
use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use sha2::{Digest, Sha256};

/// Collapse runs of spaces and tabs to one space.
fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if c == ' ' || c == '\t' {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

fn relaxed_body(body: &str) -> String {
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|l| squeeze(l).trim_end_matches(' ').to_owned())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.join("\r\n") + "\r\n"
}

fn relaxed_header(name: &str, value: &str) -> String {
    let unfolded = value.replace("\r\n", "");
    format!(
        "{}:{}",
        name.to_ascii_lowercase(),
        squeeze(&unfolded).trim()
    )
}

/// The message's headers (unfolded into name and raw value) and its body.
fn split(raw: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push_str("\r\n");
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    (headers, body.to_owned())
}

fn tags(value: &str) -> Vec<(String, String)> {
    value
        .replace("\r\n", "")
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.split_whitespace().collect()))
        .collect()
}

/// Check the message's DKIM signature with `key`; returns its tags when it holds.
fn verify(raw: &str, key: &VerifyingKey) -> Result<Vec<(String, String)>, String> {
    let (headers, body) = split(raw);
    let (sig_name, sig_value) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("DKIM-Signature"))
        .ok_or("no DKIM-Signature header")?;
    let tags = tags(sig_value);
    let tag = |k: &str| {
        tags.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let body_hash = STANDARD.encode(Sha256::digest(relaxed_body(&body)));
    if tag("bh") != body_hash {
        return Err("the body hash does not match".to_owned());
    }
    let mut data = String::new();
    for name in tag("h").split(':') {
        if let Some((n, v)) = headers.iter().find(|(n, _)| {
            n.eq_ignore_ascii_case(name) && !n.eq_ignore_ascii_case("DKIM-Signature")
        }) {
            data.push_str(&relaxed_header(n, v));
            data.push_str("\r\n");
        }
    }
    // The signature header itself, with its b= value emptied and no line end.
    let b_at = sig_value.find("b=").filter(|&i| {
        let before = sig_value[..i].trim_end_matches([' ', '\t', '\r', '\n']);
        before.is_empty() || before.ends_with(';')
    });
    let mut emptied = sig_value.to_owned();
    if let Some(i) = b_at {
        let end = sig_value[i..].find(';').map_or(sig_value.len(), |j| i + j);
        emptied.replace_range(i + 2..end, "");
    }
    data.push_str(&relaxed_header(sig_name, &emptied));
    let signature = STANDARD
        .decode(tag("b"))
        .map_err(|e| format!("b= is not base64: {e}"))?;
    let signature = Signature::from_slice(&signature).map_err(|e| e.to_string())?;
    key.verify(&Sha256::digest(data.as_bytes()), &signature)
        .map_err(|_| "the signature does not hold".to_owned())?;
    Ok(tags)
}

fn mailer(dir: &std::path::Path, secret: &[u8; 32]) -> Mailer {
    let key_file = dir.join("dkim.key");
    std::fs::write(&key_file, format!("{}\n", STANDARD.encode(secret))).unwrap();
    Mailer::from_settings(&MailSettings {
        from: "Northmoor Police <news@northmoor.example>".to_owned(),
        outbox_dir: dir.join("outbox"),
        dkim: Some(DkimSettings {
            domain: "northmoor.example".to_owned(),
            selector: "mail2026".to_owned(),
            key_file,
            algorithm: DkimAlgorithm::Ed25519Sha256,
        }),
        ..MailSettings::default()
    })
    .unwrap()
}

fn campaign_message(mailer: &Mailer, list_unsubscribe: &str) -> Message {
    let to: Mailbox = "Jo Bloggs <jo@example.org>".parse().unwrap();
    Message::builder()
        .from(mailer.from().clone())
        .to(to)
        .subject("Spring news from the force")
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe"),
            list_unsubscribe.to_owned(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click".to_owned(),
        ))
        .multipart(MultiPart::alternative_plain_html(
            "Hello Jo,\n\nThe station  opens   late on Thursdays.  \n\n\n".to_owned(),
            "<p>Hello Jo,</p><p>The station opens late on Thursdays.</p>".to_owned(),
        ))
        .unwrap()
}

#[test]
fn signed_messages_verify_and_cover_the_unsubscribe_headers() {
    let dir = tempfile::tempdir().unwrap();
    let secret: [u8; 32] = rand::random();
    let public = SigningKey::from_bytes(&secret).verifying_key();
    let mailer = mailer(dir.path(), &secret);

    let mut message = campaign_message(&mailer, "<https://northmoor.example/unsubscribe/abc>");
    mailer.sign(&mut message);
    let raw = String::from_utf8(message.formatted()).unwrap();
    let tags = verify(&raw, &public).unwrap();
    let tag = |k: &str| tags.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(tag("d"), "northmoor.example");
    assert_eq!(tag("s"), "mail2026");
    assert_eq!(tag("a"), "ed25519-sha256");
    assert_eq!(tag("c"), "relaxed/relaxed");
    let signed: Vec<String> = tag("h").split(':').map(str::to_ascii_lowercase).collect();
    for name in [
        "from",
        "to",
        "subject",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ] {
        assert!(
            signed.iter().any(|h| h == name),
            "{name} is not signed: {signed:?}"
        );
    }

    // A signature from another key, or a changed unsubscribe header, does not hold.
    let other = SigningKey::from_bytes(&rand::random()).verifying_key();
    assert!(verify(&raw, &other).is_err());
    let tampered = raw.replace("/unsubscribe/abc", "/unsubscribe/abd");
    assert_ne!(tampered, raw);
    assert_eq!(
        verify(&tampered, &public).unwrap_err(),
        "the signature does not hold"
    );
    let tampered_body = raw.replace("late on Thursdays", "early on Thursdays");
    assert_eq!(
        verify(&tampered_body, &public).unwrap_err(),
        "the body hash does not match"
    );
}

#[tokio::test]
async fn plain_messages_are_signed_too() {
    let dir = tempfile::tempdir().unwrap();
    let secret: [u8; 32] = rand::random();
    let public = SigningKey::from_bytes(&secret).verifying_key();
    let mailer = mailer(dir.path(), &secret);
    mailer
        .send(&candour_mail::Email {
            to: candour_core::account::EmailAddress::parse("jo@example.org").unwrap(),
            subject: "Confirm your email address".to_owned(),
            text: "Follow the link to confirm.".to_owned(),
        })
        .await
        .unwrap();
    let file = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let raw = std::fs::read_to_string(file).unwrap();
    verify(&raw, &public).unwrap();
}

#[test]
fn a_bad_key_file_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dkim.key");
    std::fs::write(&key_file, "not a key").unwrap();
    let settings = |algorithm| MailSettings {
        dkim: Some(DkimSettings {
            domain: "northmoor.example".to_owned(),
            selector: "mail2026".to_owned(),
            key_file: key_file.clone(),
            algorithm,
        }),
        ..MailSettings::default()
    };
    for algorithm in [DkimAlgorithm::RsaSha256, DkimAlgorithm::Ed25519Sha256] {
        let err = Mailer::from_settings(&settings(algorithm)).err().unwrap();
        assert!(err.to_string().contains("mail.dkim.key_file"), "{err}");
    }
    let missing = MailSettings {
        dkim: Some(DkimSettings {
            key_file: dir.path().join("absent.key"),
            ..settings(DkimAlgorithm::RsaSha256).dkim.unwrap()
        }),
        ..MailSettings::default()
    };
    let err = Mailer::from_settings(&missing).err().unwrap();
    assert!(err.to_string().contains("could not read"), "{err}");
}
