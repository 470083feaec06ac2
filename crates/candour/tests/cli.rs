//! The `candour` command as an operator meets it: bad configuration, unreachable databases,
//! a taken port, migrations, the demo, and a clean stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{candour, free_port};

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_unknown_key_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("candour.toml");
    std::fs::write(&path, "[organisation]\nnmae = \"x\"\n").unwrap();
    let out = run(candour()
        .arg("--config")
        .arg(&path)
        .args(["config", "check"]));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("candour.toml") && err.contains("nmae"),
        "{err}"
    );
    assert!(err.contains("expected one of"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn share_networks_are_checked_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("candour.toml");
    for (text, expected) in [
        ("[share]\nnetworks = [\"myspace\"]\n", "myspace"),
        ("[share]\nnetworks = [\"x\", \"email\", \"x\"]\n", "twice"),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = run(candour()
            .arg("--config")
            .arg(&path)
            .args(["config", "check"]));
        assert!(!out.status.success(), "{text}");
        let err = stderr(&out);
        assert!(
            err.contains("candour.toml")
                && err.contains("share.networks")
                && err.contains(expected),
            "{err}"
        );
        assert!(
            err.contains("bluesky"),
            "the allowed names are listed: {err}"
        );
    }
}

#[test]
fn a_wrong_type_or_broken_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[cookies]\nconsent_lifetime_days = \"long\"\n").unwrap();
    let out = run(candour()
        .arg("--config")
        .arg(&path)
        .args(["config", "check"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("`cookies.consent_lifetime_days`: invalid type"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&path, "[cookies\n").unwrap();
    let out = run(candour()
        .arg("--config")
        .arg(&path)
        .args(["config", "check"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("c.toml"), "{}", stderr(&out));
    let out = run(candour().args(["--config", "/no/such/file.toml", "config", "check"]));
    assert!(
        stderr(&out).contains("could not read /no/such/file.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_check_flags_implied_consent() {
    let out = run(candour()
        .env("CANDOUR_COOKIES__CONSENT_MODE", "implied")
        .args(["config", "check"]));
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("consent_mode = \"implied\""), "{text}");
    let out = run(candour()
        .env("CANDOUR_LISTN", "x")
        .args(["config", "check"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("CANDOUR_LISTN"), "{}", stderr(&out));
}

#[test]
fn config_check_reads_the_dkim_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dkim.key");
    let check = |key: &std::path::Path| {
        run(candour()
            .env("CANDOUR_MAIL__FROM", "news@northmoor.example")
            .env("CANDOUR_MAIL__DKIM__DOMAIN", "northmoor.example")
            .env("CANDOUR_MAIL__DKIM__SELECTOR", "s1")
            .env("CANDOUR_MAIL__DKIM__ALGORITHM", "ed25519-sha256")
            .env("CANDOUR_MAIL__DKIM__KEY_FILE", key)
            .args(["config", "check"]))
    };
    let out = check(&key);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mail.dkim.key_file: could not read"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&key, "not a key").unwrap();
    let out = check(&key);
    assert!(
        stderr(&out).contains("does not hold an Ed25519 private key"),
        "{}",
        stderr(&out)
    );
    // 32 bytes of base64: a usable key; what remains are the usual warnings.
    std::fs::write(&key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let out = check(&key);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("mail.dkim"));
}

#[test]
fn unreachable_databases_are_one_clear_line() {
    let out = run(candour().args(["serve", "--database-url", "sqlite:///no/such/folder/x.db"]));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("candour: could not open the database sqlite:///no/such/folder/x.db"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let port = free_port();
    let out = run(candour().args([
        "migrate",
        "--database-url",
        &format!("postgres://app:secret@127.0.0.1:{port}/x"),
    ]));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("could not connect to the database"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is never printed: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_taken_port_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(candour()
        .current_dir(dir.path())
        .args(["serve", "--listen", &addr]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("could not listen on {addr}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn migrate_creates_the_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("site.db");
    let url = format!("sqlite://{}", db.display());
    let out = run(candour().args(["migrate", "--database-url", &url]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists());
    // Twice is fine.
    assert!(
        run(candour().args(["migrate", "--database-url", &url]))
            .status
            .success()
    );
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(body) = http_get(port, "/readyz")
            && body.starts_with("HTTP/1.1 200")
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not become ready");
}

fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no clean stop within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_defaults_to_a_sqlite_file_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = candour()
        .current_dir(dir.path())
        .env("CANDOUR_LISTEN", format!("127.0.0.1:{port}"))
        .args(["--log-format", "json", "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port);
    assert!(
        dir.path().join("candour.db").exists(),
        "created on first start"
    );
    let page = http_get(port, "/").unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let status = stop(&mut child);
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    let request_line = logs
        .lines()
        .find(|l| l.contains("Answered the request"))
        .unwrap_or_else(|| panic!("no request log in {logs}"));
    let json: serde_json::Value = serde_json::from_str(request_line).unwrap();
    assert_eq!(json["status"], 200);
    assert_eq!(
        json["span"]["id"].as_str().unwrap().len(),
        16,
        "{request_line}"
    );
    assert!(
        !logs.contains("127.0.0.1:") || !logs.contains("peer"),
        "no client addresses in logs"
    );
    assert!(logs.contains("Candour has stopped"), "{logs}");
}

#[test]
fn the_demo_prints_its_address_and_serves_the_fictional_force() {
    let port = free_port();
    // Standard output and the log on one pipe, as a terminal shows them: the demo's message
    // comes before any log line, and a log that is not a terminal carries no colour codes.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut child = candour()
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = BufReader::new(reader);
    out.read_line(&mut first).unwrap();
    let mut second = String::new();
    out.read_line(&mut second).unwrap();
    assert!(first.contains("Northmoor Police"), "{first}");
    assert!(
        second.contains(&format!("http://127.0.0.1:{port}/")),
        "{second}"
    );
    wait_ready(port);
    for path in [
        "/",
        "/report",
        "/news",
        "/news/road-safety-week",
        "/contact",
        "/accessibility",
        "/cookies",
        "/privacy",
    ] {
        let page = http_get(port, path).unwrap();
        assert!(page.starts_with("HTTP/1.1 200"), "{path}: {page}");
        assert!(page.contains("Northmoor Police"), "{path}");
    }
    // The demo's closed poll shows the votes it was seeded with, and is listed as past.
    let polls = http_get(port, "/polls").unwrap();
    assert!(polls.contains("<h2>Past polls</h2>"), "{polls}");
    assert!(polls.contains("Results: 36 votes"), "{polls}");
    assert!(stop(&mut child).success());
    drop(child);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("Candour has stopped"), "{rest}");
    assert!(!rest.contains('\u{1b}'), "no colour codes: {rest}");
}

#[test]
fn admin_create_makes_a_staff_account_from_a_password_on_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("site.db").display());
    let create = |password: &str| {
        let mut child = candour()
            .args([
                "admin",
                "create",
                "--email",
                "Chief@Example.org",
                "--role",
                "admin",
                "--database-url",
                &url,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let weak = create("password");
    assert!(!weak.status.success());
    assert!(
        stderr(&weak).contains("password: This password is too common"),
        "{}",
        stderr(&weak)
    );
    let out = create("kestrel meadow orchard");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "Created chief@example.org with the role admin."
    );
    let again = create("anything at all here");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already had an account"));
    let bad = run(candour()
        .args([
            "admin",
            "create",
            "--email",
            "not-an-email",
            "--role",
            "admin",
            "--database-url",
            &url,
        ])
        .stdin(Stdio::null()));
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("--email"), "{}", stderr(&bad));
}

#[test]
fn init_writes_a_commented_configuration_that_config_check_explains() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("candour.toml");
    let out = run(candour().current_dir(dir.path()).args(["init"]));
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# CHANGE"), "{text}");
    // Never over a file that is there.
    std::fs::write(&path, "listen = \"127.0.0.1:9999\"\n").unwrap();
    let out = run(candour().current_dir(dir.path()).args(["init"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists; nothing was written"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "listen = \"127.0.0.1:9999\"\n"
    );
    // The file as written is valid; each warning says what to do.
    let fresh = dir.path().join("new.toml");
    let out = run(candour()
        .current_dir(dir.path())
        .args(["init", "--path", "new.toml"]));
    assert!(out.status.success());
    let out = run(candour().args(["--config", fresh.to_str().unwrap(), "config", "check"]));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{report}");
    let warnings: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("- warning:"))
        .collect();
    assert!(!warnings.is_empty(), "{report}");
    for w in warnings {
        assert!(
            w.contains(" Set ") || w.contains(" Use ") || w.contains(" set "),
            "a warning should say what to do: {w}"
        );
    }
}

#[test]
fn metrics_on_a_listener_of_their_own_count_the_sites_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let metrics = free_port();
    let mut child = candour()
        .current_dir(dir.path())
        .env("CANDOUR_LISTEN", format!("127.0.0.1:{port}"))
        .env("CANDOUR_METRICS__ENABLED", "true")
        .env("CANDOUR_METRICS__LISTEN", format!("127.0.0.1:{metrics}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    let site = http_get(port, "/metrics").unwrap();
    assert!(site.starts_with("HTTP/1.1 404"), "{site}");
    let body = http_get(metrics, "/metrics").unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("candour_http_requests_total{")
                && l.contains(r#"route="/readyz""#)
                && l.contains(r#"status="200""#)),
        "{body}"
    );
    assert!(stop(&mut child).success());
}
