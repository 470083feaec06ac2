//! Accounts over HTTP: every flow, and the attacks the issue names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::{EmailAddress, Role};
use common::{
    TestApp, cookie_pair, hidden, link_in, path_of, set_cookie_header, spawn_app, spawn_with,
};
use time::Duration;

const PW: &str = "lantern orbit cabbage";

async fn signed_in(app: &TestApp, email: &str) -> String {
    app.register_verified(email, PW).await;
    app.sign_in(email, PW).await
}

#[tokio::test]
async fn register_verify_sign_in_profile_sign_out() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let mail = app.sink.messages().await;
    assert_eq!(mail[0].to, ["jo@example.org"]);
    assert!(
        mail[0]
            .data
            .contains("Subject: Confirm your email address for Testshire Police")
    );
    assert!(mail[0].from == "noreply@testshire.example");

    let (_, _, token) = app.page("/account/sign-in", "").await;
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "JO@example.org"),
                ("password", PW),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let header = set_cookie_header(&res, "clientvars").unwrap();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"),
        "{header}"
    );
    assert!(
        !header.contains("Max-Age"),
        "a browser-session cookie: {header}"
    );
    let cookie = cookie_pair(&res, "clientvars").unwrap();
    assert!(cookie.len() >= "clientvars=".len() + 43, "256 random bits");

    let (status, html, token) = app.page("/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("jo@example.org"));
    assert!(html.contains("Used for: Details you add to your profile"));
    let res = app
        .post_form(
            "/account/profile",
            &[
                ("csrf", &token),
                ("name", "Jo Bloggs"),
                ("job_title", "Parish clerk"),
                ("phone", "01632 960 001"),
                ("postal_address", "1 Church Lane\r\nNorthmoor"),
                ("postcode", "nm1 2ab"),
                ("interests", "fraud"),
                ("interests", "road-safety"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let a = app.account("jo@example.org").await;
    assert_eq!(a.profile.job_title, "Parish clerk");
    assert_eq!(a.profile.postcode.unwrap().as_str(), "NM1 2AB");
    assert_eq!(a.profile.postal_address, "1 Church Lane\nNorthmoor");
    assert_eq!(
        a.profile.interests,
        ["road-safety", "fraud"],
        "in the organisation's order"
    );

    let (_, _, token) = app.page("/account", &cookie).await;
    let res = app
        .post_form(
            "/account/sign-out",
            &[("csrf", &token)],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        set_cookie_header(&res, "clientvars")
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old value is dead on the server, not only in the browser.
    let res = app.get_with_cookie("/account", &cookie).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/account/sign-in")
    );
}

#[tokio::test]
async fn each_sign_in_gets_a_new_session_value() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let one = app.sign_in("jo@example.org", PW).await;
    let two = app.sign_in("jo@example.org", PW).await;
    assert_ne!(one, two);
    // A value the attacker planted before sign-in is not kept: the server issues its own.
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let planted = "clientvars=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &[("cookie", planted)],
        )
        .await;
    assert_ne!(cookie_pair(&res, "clientvars").unwrap(), planted);
}

#[tokio::test]
async fn unknown_and_wrong_look_the_same_and_nothing_is_revealed_by_registering() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let mut bodies = Vec::new();
    for email in ["jo@example.org", "nobody@example.org"] {
        let (_, _, token) = app.page("/account/sign-in", "").await;
        let res = app
            .post_form(
                "/account/sign-in",
                &[
                    ("csrf", &token),
                    ("email", email),
                    ("password", "wrong password here"),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status(), 422);
        bodies.push(
            res.text()
                .await
                .unwrap()
                .replace(email, "EMAIL")
                .split("name=\"csrf\"")
                .nth(1)
                .unwrap()
                .to_owned(),
        );
    }
    assert!(bodies[0].contains("The email address or password is not right"));
    assert_eq!(bodies[0].len(), bodies[1].len());

    // Registering a taken address answers as for a new one; the owner is told by email.
    let sent = app.sink.messages().await.len();
    let (_, _, token) = app.page("/account/register", "").await;
    let res = app
        .post_form(
            "/account/register",
            &[
                ("csrf", &token),
                ("name", "X"),
                ("email", "jo@example.org"),
                ("password", "another fine passphrase"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Check your email"));
    let mail = app.sink.wait_for(sent + 1).await;
    assert!(mail[sent].data.contains("you already have one"));
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let app = spawn_app().await;
    let laptop = signed_in(&app, "jo@example.org").await;
    let phone = app.sign_in("jo@example.org", PW).await;
    let (_, _, token) = app.page("/account", &laptop).await;
    let res = app
        .post_form(
            "/account/password",
            &[
                ("csrf", &token),
                ("current_password", PW),
                ("new_password", "kestrel meadow orchard"),
            ],
            &[("cookie", &laptop)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let fresh = cookie_pair(&res, "clientvars").unwrap();
    assert_ne!(fresh, laptop);
    assert_eq!(
        app.get_with_cookie("/account", &phone).await.status(),
        303,
        "other device signed out"
    );
    assert_eq!(
        app.get_with_cookie("/account", &laptop).await.status(),
        303,
        "old value dead"
    );
    assert_eq!(app.get_with_cookie("/account", &fresh).await.status(), 200);
    app.sign_in("jo@example.org", "kestrel meadow orchard")
        .await;
}

#[tokio::test]
async fn sign_out_everywhere() {
    let app = spawn_app().await;
    let one = signed_in(&app, "jo@example.org").await;
    let two = app.sign_in("jo@example.org", PW).await;
    let (_, _, token) = app.page("/account", &one).await;
    let res = app
        .post_form(
            "/account/sign-out-everywhere",
            &[("csrf", &token)],
            &[("cookie", &one)],
        )
        .await;
    assert_eq!(res.status(), 303);
    for c in [&one, &two] {
        assert_eq!(app.get_with_cookie("/account", c).await.status(), 303);
    }
}

#[tokio::test]
async fn password_reset_by_single_use_link() {
    let app = spawn_app().await;
    let old_session = signed_in(&app, "jo@example.org").await;
    let sent = app.sink.messages().await.len();
    let (_, _, token) = app.page("/account/forgot-password", "").await;
    let res = app
        .post_form(
            "/account/forgot-password",
            &[("csrf", &token), ("email", "jo@example.org")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    // Unknown addresses get the same page and no email.
    let res2 = app
        .post_form(
            "/account/forgot-password",
            &[("csrf", &token), ("email", "who@example.org")],
            &[],
        )
        .await;
    assert_eq!(res2.status(), 200);
    let link = app.emailed_link(sent, "http://").await;
    assert!(link.contains("/account/reset-password?token="));

    let (status, html, token) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 200);
    let secret = hidden(&html, "token").unwrap();
    // A weak password is refused without using up the link.
    let res = app
        .post_form(
            "/account/reset-password",
            &[
                ("csrf", &token),
                ("token", &secret),
                ("password", "password1"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_form(
            "/account/reset-password",
            &[
                ("csrf", &token),
                ("token", &secret),
                ("password", "granite heron willow"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get_with_cookie("/account", &old_session).await.status(),
        303,
        "sessions ended"
    );
    app.sign_in("jo@example.org", "granite heron willow").await;
    // Used once: a clear page, nothing changed.
    let res = app
        .post_form(
            "/account/reset-password",
            &[
                ("csrf", &token),
                ("token", &secret),
                ("password", "another new passphrase"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This link cannot be used")
    );
    app.sign_in("jo@example.org", "granite heron willow").await;
    assert_eq!(
        sent + 1,
        app.sink.messages().await.len(),
        "only the known address got mail"
    );
}

#[tokio::test]
async fn expired_and_tampered_links_change_nothing() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let sent = app.sink.messages().await.len();
    let (_, _, token) = app.page("/account/forgot-password", "").await;
    app.post_form(
        "/account/forgot-password",
        &[("csrf", &token), ("email", "jo@example.org")],
        &[],
    )
    .await;
    let link = app.emailed_link(sent, "http://").await;
    let secret = link.split("token=").nth(1).unwrap().to_owned();
    let mut tampered = secret.clone();
    tampered.replace_range(0..1, if secret.starts_with('A') { "B" } else { "A" });
    for bad in [tampered.as_str(), "short", ""] {
        let res = app
            .post_form(
                "/account/reset-password",
                &[
                    ("csrf", &token),
                    ("token", bad),
                    ("password", "granite heron willow"),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    app.clock.advance(Duration::minutes(31));
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let res = app
        .post_form(
            "/account/reset-password",
            &[
                ("csrf", &token),
                ("token", &secret),
                ("password", "granite heron willow"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 400);
    app.sign_in("jo@example.org", PW).await;
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_absolute_timeouts() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    app.clock.advance(Duration::minutes(29));
    assert_eq!(app.get_with_cookie("/account", &cookie).await.status(), 200);
    app.clock.advance(Duration::minutes(29));
    assert_eq!(
        app.get_with_cookie("/account", &cookie).await.status(),
        200,
        "activity keeps it alive"
    );
    app.clock.advance(Duration::minutes(31));
    assert_eq!(
        app.get_with_cookie("/account", &cookie).await.status(),
        303,
        "idle"
    );

    let cookie = app.sign_in("jo@example.org", PW).await;
    for _ in 0..25 {
        app.clock.advance(Duration::minutes(29));
        app.get_with_cookie("/account", &cookie).await;
    }
    assert_eq!(
        app.get_with_cookie("/account", &cookie).await.status(),
        303,
        "absolute"
    );
}

/// Activity is recorded often enough for the configured idle timeout: with a one-minute
/// timeout, a request every 40 seconds keeps the session, and a minute's silence ends it.
#[tokio::test]
async fn a_session_in_use_outlives_a_one_minute_idle_timeout() {
    let app = spawn_with(|c| c.accounts.idle_timeout_minutes = 1).await;
    let cookie = signed_in(&app, "jo@example.org").await;
    for i in 0..6 {
        app.clock.advance(Duration::seconds(40));
        assert_eq!(
            app.get_with_cookie("/account", &cookie).await.status(),
            200,
            "request {i}, 40 seconds after the one before"
        );
    }
    app.clock.advance(Duration::seconds(60));
    assert_eq!(
        app.get_with_cookie("/account", &cookie).await.status(),
        303,
        "a minute without a request"
    );
}

#[tokio::test]
async fn mass_assignment_changes_nothing() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let other = signed_in(&app, "sam@example.org").await;
    let _ = other;
    let before = app.account("jo@example.org").await;
    for extra in [
        ("role", "admin"),
        ("email_verified", "true"),
        ("id", "2"),
        ("email", "sam@example.org"),
    ] {
        let (_, _, token) = app.page("/account", &cookie).await;
        let res = app
            .post_form(
                "/account/profile",
                &[("csrf", &token), ("name", "Changed"), extra],
                &[("cookie", &cookie)],
            )
            .await;
        assert_eq!(res.status(), 422, "{extra:?}");
        assert!(res.text().await.unwrap().contains(extra.0));
    }
    let after = app
        .stores
        .accounts
        .account(before.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before);
    let sam = app.account("sam@example.org").await;
    assert_eq!(sam.profile.name, "Jo Bloggs");
    assert_eq!(sam.role, None);
}

#[tokio::test]
async fn cross_site_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, _, token) = app.page("/account", &cookie).await;
    let res = app
        .client
        .post(format!("{}/account/profile", app.url))
        .header("origin", "https://evil.example")
        .header("cookie", &cookie)
        .form(&[("csrf", token.as_str()), ("name", "Pwned")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A token from an anonymous page is not valid for a signed-in session.
    let (_, _, anon) = app.page("/", "").await;
    let res = app
        .post_form(
            "/account/profile",
            &[("csrf", &anon), ("name", "Pwned")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 403);
    let a = app.account("jo@example.org").await;
    assert_eq!(a.profile.name, "Jo Bloggs");
}

#[tokio::test]
async fn bad_fields_are_named_and_what_was_typed_is_kept() {
    let app = spawn_app().await;
    let (_, _, token) = app.page("/account/register", "").await;
    let long = "x".repeat(101);
    let res = app
        .post_form(
            "/account/register",
            &[
                ("csrf", &token),
                ("name", &long),
                ("email", "jo@example.org\r\nBcc: victim@example.org"),
                ("password", "pass"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("href=\"#name\">Name must be 100 characters or fewer"),
        "{html}"
    );
    assert!(html.contains("href=\"#email\">Enter an email address in the correct format"));
    assert!(html.contains("href=\"#password\">Password must be at least 8 characters"));
    assert!(
        html.contains(&format!("value=\"{long}\"")),
        "the name is kept"
    );
    assert!(
        !html.contains("value=\"pass\""),
        "passwords are never shown again"
    );
    let res = app
        .post_form(
            "/account/register",
            &[
                ("csrf", &token),
                ("name", "Jo\r\nBcc: x@example.org"),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        app.sink.messages().await.is_empty(),
        "nothing reached the mail relay"
    );

    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, _, token) = app.page("/account", &cookie).await;
    let res = app
        .post_form(
            "/account/profile",
            &[
                ("csrf", &token),
                ("phone", "call me"),
                ("postcode", "ABC"),
                ("name", "Jo"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("href=\"#phone\">")
            && html.contains("href=\"#postcode\">Enter a real UK postcode")
    );
    assert!(html.contains("value=\"call me\""));
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_account_and_address_only() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let attacker = [("x-forwarded-for", "203.0.113.9")];
    for _ in 0..10 {
        let (_, _, token) = app.page("/account/sign-in", "").await;
        let res = app
            .post_form(
                "/account/sign-in",
                &[
                    ("csrf", &token),
                    ("email", "jo@example.org"),
                    ("password", "guess guess guess"),
                ],
                &attacker,
            )
            .await;
        assert_eq!(res.status(), 422);
    }
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &attacker,
        )
        .await;
    assert_eq!(
        res.status(),
        429,
        "the attacker's address is stopped, even with the right password"
    );
    // The real person, elsewhere, is not locked out.
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &[("x-forwarded-for", "198.51.100.7")],
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn registrations_per_address_follow_the_configured_limit() {
    let app = spawn_with(|c| c.accounts.registrations_per_address_per_hour = 3).await;
    let (_, _, token) = app.page("/account/register", "").await;
    let register_from = |n: u32, address: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let email = format!("reg{n}@example.org");
            let res = app
                .post_form(
                    "/account/register",
                    &[
                        ("csrf", &token),
                        ("name", "Jo Bloggs"),
                        ("email", &email),
                        ("password", PW),
                    ],
                    &[("x-forwarded-for", address)],
                )
                .await;
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    for n in 0..3 {
        assert_eq!(
            register_from(n, "203.0.113.9").await.0,
            200,
            "registration {n}"
        );
    }
    let (status, page) = register_from(3, "203.0.113.9").await;
    assert_eq!(status, 429, "the fourth from one address in the hour");
    assert!(page.contains("too many attempts"), "{page}");
    let refused = EmailAddress::parse("reg3@example.org").unwrap();
    assert!(
        app.stores
            .accounts
            .account_by_email(&refused)
            .await
            .unwrap()
            .is_none(),
        "the refused registration made no account"
    );
    assert_eq!(
        register_from(4, "198.51.100.7").await.0,
        200,
        "another address"
    );
}

/// A sign-in POST from `address` (the test server trusts the loopback proxy); the status.
async fn sign_in_from(
    app: &TestApp,
    token: &str,
    email: &str,
    password: &str,
    address: &str,
) -> u16 {
    app.post_form(
        "/account/sign-in",
        &[("csrf", token), ("email", email), ("password", password)],
        &[("x-forwarded-for", address)],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn correct_sign_ins_never_use_up_the_limits() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let (_, _, token) = app.page("/account/sign-in", "").await;
    for i in 0..12 {
        assert_eq!(
            sign_in_from(&app, &token, "jo@example.org", PW, "203.0.113.5").await,
            303,
            "sign-in {i} in one window"
        );
    }
    // Wrong passwords still count: with the ten allowed used up, the account is refused
    // from this address, even with the right password.
    for _ in 0..10 {
        let status = sign_in_from(&app, &token, "jo@example.org", "wrong wrong", "203.0.113.5");
        assert_eq!(status.await, 422);
    }
    assert_eq!(
        sign_in_from(&app, &token, "jo@example.org", PW, "203.0.113.5").await,
        429
    );
}

#[tokio::test]
async fn correct_second_factor_codes_never_use_up_the_limit() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let res = set_up_authenticator(&app, &cookie, None).await;
    assert_eq!(res.status(), 200);
    let secret = app
        .account("jo@example.org")
        .await
        .totp_secret
        .and_then(candour_core::totp::TotpSecret::from_bytes)
        .unwrap();
    let (_, _, token) = app.page("/account/sign-in", "").await;
    for i in 0..7 {
        // Each sign-in uses a new time step: a code is accepted once.
        app.clock.advance(Duration::seconds(30));
        let res = app
            .post_form(
                "/account/sign-in",
                &[
                    ("csrf", &token),
                    ("email", "jo@example.org"),
                    ("password", PW),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status(), 200, "sign-in {i}: a code is asked for");
        let html = res.text().await.unwrap();
        let step = hidden(&html, "step").unwrap();
        let code = candour_core::totp::code_at(&secret, app.clock.now_unix());
        let res = app
            .post_form(
                "/account/sign-in/code",
                &[("csrf", &token), ("step", &step), ("code", &code)],
                &[],
            )
            .await;
        assert_eq!(res.status(), 303, "sign-in {i}: the right code");
    }
}

#[tokio::test]
async fn correct_passwords_after_sign_in_never_use_up_the_limit() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, _, token) = app.page("/account", &cookie).await;
    let change_email = |new: String, password: &'static str| {
        let (app, token, cookie) = (&app, token.clone(), cookie.clone());
        async move {
            app.post_form(
                "/account/email",
                &[
                    ("csrf", &token),
                    ("new_email", &new),
                    ("password", password),
                ],
                &[("cookie", &cookie)],
            )
            .await
            .status()
            .as_u16()
        }
    };
    for i in 0..7 {
        let status = change_email(format!("jo.{i}@example.org"), PW).await;
        assert_eq!(status, 303, "change {i} with the right password");
    }
    // Five wrong passwords use up the allowance.
    for i in 0..5 {
        let status = change_email(format!("x.{i}@example.org"), "wrong wrong").await;
        assert_eq!(status, 422);
    }
    assert_eq!(change_email("y@example.org".into(), PW).await, 429);
}

#[tokio::test]
async fn failures_from_a_shared_address_do_not_lock_out_a_person_with_the_right_password() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    app.register_verified("sam@example.org", PW).await;
    let office = "198.51.100.20";
    let (_, _, token) = app.page("/account/sign-in", "").await;
    // Someone at the office guesses across many accounts, and Sam mistypes once.
    assert_eq!(
        sign_in_from(&app, &token, "sam@example.org", "not it", office).await,
        422
    );
    for i in 0..55 {
        let email = format!("person{i}@example.org");
        let status = sign_in_from(&app, &token, &email, "Password1", office).await;
        assert!(status == 422 || status == 429, "{status}");
    }
    // Jo, at the same office, has not failed: her right password lets her in.
    assert_eq!(
        sign_in_from(&app, &token, "jo@example.org", PW, office).await,
        303
    );
    // Past the address's ceiling, an account that has failed from it is refused...
    assert_eq!(
        sign_in_from(&app, &token, "sam@example.org", PW, office).await,
        429
    );
    // ...and an account not yet tried gets one guess, no more.
    assert_eq!(
        sign_in_from(&app, &token, "new@example.org", "Password1", office).await,
        422
    );
    assert_eq!(
        sign_in_from(&app, &token, "new@example.org", "Password2", office).await,
        429
    );
    // From another address, Sam is not affected.
    assert_eq!(
        sign_in_from(&app, &token, "sam@example.org", PW, "192.0.2.1").await,
        303
    );
}

#[tokio::test]
async fn guesses_sent_together_cannot_pass_the_limit() {
    let app = spawn_app().await;
    app.register_verified("jo@example.org", PW).await;
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url, token) = (app.client.clone(), app.url.clone(), token.clone());
        tasks.spawn(async move {
            client
                .post(format!("{url}/account/sign-in"))
                .header("origin", &url)
                .header("sec-fetch-site", "same-origin")
                .header("x-forwarded-for", "203.0.113.66")
                .form(&[
                    ("csrf", token.as_str()),
                    ("email", "jo@example.org"),
                    ("password", &format!("guess {i}")),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut checked = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            422 => checked += 1,
            429 => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        checked, 10,
        "exactly the allowance of passwords was checked"
    );
}

#[tokio::test]
async fn changing_the_email_address_needs_the_password_and_the_new_inbox() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, _, token) = app.page("/account", &cookie).await;
    let res = app
        .post_form(
            "/account/email",
            &[
                ("csrf", &token),
                ("new_email", "jo.new@example.org"),
                ("password", "wrong wrong wrong"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let sent = app.sink.messages().await.len();
    let res = app
        .post_form(
            "/account/email",
            &[
                ("csrf", &token),
                ("new_email", "jo.new@example.org"),
                ("password", PW),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let mail = app.sink.wait_for(sent + 2).await;
    let to_new = mail[sent..]
        .iter()
        .find(|m| m.to == ["jo.new@example.org"])
        .unwrap();
    assert!(
        mail[sent..].iter().any(|m| m.to == ["jo@example.org"]),
        "the old address is told"
    );
    let link = link_in(&to_new.data, "http://");
    let (_, html, token) = app.page(&path_of(&link), "").await;
    let secret = hidden(&html, "token").unwrap();
    let res = app
        .post_form(
            "/account/email/confirm",
            &[("csrf", &token), ("token", &secret)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    app.sign_in("jo.new@example.org", PW).await;
}

#[tokio::test]
async fn deleting_the_account_ends_everything() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, _, token) = app.page("/account/delete", &cookie).await;
    let res = app
        .post_form(
            "/account/delete",
            &[("csrf", &token), ("password", "not it at all")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post_form(
            "/account/delete",
            &[("csrf", &token), ("password", PW)],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        set_cookie_header(&res, "clientvars")
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(
        app.stores
            .accounts
            .account_by_email(&EmailAddress::parse("jo@example.org").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.get_with_cookie("/account", &cookie).await.status(), 303);
}

#[tokio::test]
async fn unverified_accounts_are_sent_a_new_link_instead_of_a_session() {
    let app = spawn_app().await;
    let (_, _, token) = app.page("/account/register", "").await;
    app.post_form(
        "/account/register",
        &[
            ("csrf", &token),
            ("name", "Jo"),
            ("email", "jo@example.org"),
            ("password", PW),
        ],
        &[],
    )
    .await;
    app.sink.wait_for(1).await;
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Confirm your email address first")
    );
    assert_eq!(app.sink.wait_for(2).await.len(), 2);
}

#[tokio::test]
async fn the_admin_console_checks_the_role_on_every_route() {
    let app = spawn_app().await;
    let public = signed_in(&app, "public@example.org").await;
    for path in ["/admin", "/admin/audit", "/admin/staff", "/admin/consent"] {
        assert_eq!(
            app.get_with_cookie(path, &public).await.status(),
            403,
            "{path}"
        );
        assert_eq!(
            app.get(path).await.status(),
            303,
            "{path} anonymous → sign in"
        );
    }
    let editor = app.staff("editor@example.org", Role::Editor).await;
    assert_eq!(app.get_with_cookie("/admin", &editor).await.status(), 200);
    let (status, html, _) = app.page("/admin/consent", &editor).await;
    assert_eq!(status, 200);
    // Only the kinds of optional cookie the site has: the test site's statistics.
    assert!(html.contains("<th scope=\"col\">Statistics</th>"), "{html}");
    assert!(!html.contains(">Marketing<"), "{html}");
    assert!(!html.contains(">Preferences<"), "{html}");
    assert_eq!(
        app.get_with_cookie("/admin/audit", &editor).await.status(),
        403
    );
    assert_eq!(
        app.get_with_cookie("/admin/staff", &editor).await.status(),
        403
    );
    let (_, _, token) = app.page("/admin", &editor).await;
    let res = app
        .post_form(
            "/admin/staff",
            &[
                ("csrf", &token),
                ("email", "public@example.org"),
                ("role", "admin"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 403, "an editor cannot make admins");

    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    assert_eq!(
        app.get_with_cookie("/admin/audit", &officer).await.status(),
        200
    );
    assert_eq!(
        app.get_with_cookie("/admin/staff", &officer).await.status(),
        403
    );

    let admin = app.staff("admin@example.org", Role::Admin).await;
    let (status, html, token) = app.page("/admin/staff", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("editor@example.org"));
    let res = app
        .post_form(
            "/admin/staff",
            &[
                ("csrf", &token),
                ("email", "public@example.org"),
                ("role", "editor"),
            ],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get_with_cookie("/admin", &public).await.status(),
        200,
        "now staff"
    );
    let pid = app.account_id("public@example.org").await;
    let res = app
        .post_form(
            &format!("/admin/staff/{pid}/role"),
            &[("csrf", &token), ("role", "none")],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get_with_cookie("/admin", &public).await.status(),
        303,
        "losing the role ends the sessions"
    );

    let (_, html, _) = app.page("/admin/audit", &admin).await;
    // Actions read in words (the codes are kept for the CSV export).
    assert!(
        html.contains("<td>Gave an account a staff role</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>Changed a staff member&#39;s role</td>"),
        "{html}"
    );
    assert!(html.contains(&format!("account:{pid}")));
    // The only admin cannot be demoted.
    let aid = app.account_id("admin@example.org").await;
    let res = app
        .post_form(
            &format!("/admin/staff/{aid}/role"),
            &[("csrf", &token), ("role", "editor")],
            &[("cookie", &admin)],
        )
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn the_second_factor_protects_sign_in_and_codes_cannot_be_replayed() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, html, token) = app.page("/account/two-factor", &cookie).await;
    let field = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let (secret_b32, sig) = (field("secret"), field("sig"));
    let secret = candour_core::totp::TotpSecret::from_base32(&secret_b32).unwrap();
    let now = app.clock.now_unix();
    let code = candour_core::totp::code_at(&secret, now);
    // A swapped secret is refused.
    let other = candour_core::totp::TotpSecret::from_random([3; 20]);
    let res = app
        .post_form(
            "/account/two-factor",
            &[
                ("csrf", &token),
                ("secret", &other.base32()),
                ("sig", &sig),
                ("code", &code),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .post_form(
            "/account/two-factor",
            &[
                ("csrf", &token),
                ("secret", &secret_b32),
                ("sig", &sig),
                ("code", &code),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let recovery: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);

    let sign_in_step = |app: &TestApp| {
        let app_url = app.url.clone();
        let _ = app_url;
    };
    sign_in_step(&app);
    let (_, _, token) = app.page("/account/sign-in", "").await;
    let res = app
        .post_form(
            "/account/sign-in",
            &[
                ("csrf", &token),
                ("email", "jo@example.org"),
                ("password", PW),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200, "a code is asked for");
    assert!(res.headers().get("set-cookie").is_none(), "no session yet");
    let html = res.text().await.unwrap();
    let step = hidden(&html, "step").unwrap();
    // The code used to turn it on cannot be used again.
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", &step), ("code", &code)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    app.clock.advance(Duration::seconds(30));
    let next = candour_core::totp::code_at(&secret, app.clock.now_unix());
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", &step), ("code", &next)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(cookie_pair(&res, "clientvars").is_some());
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", &step), ("code", &next)],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422, "replayed");
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", &step), ("code", &recovery[0])],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303, "a recovery code works");
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", &step), ("code", &recovery[0])],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422, "once");
    // A forged step token gets nowhere.
    let res = app
        .post_form(
            "/account/sign-in/code",
            &[("csrf", &token), ("step", "1.2.3"), ("code", &recovery[1])],
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Sign in again"));
}

#[tokio::test]
async fn staff_can_be_required_to_use_a_second_factor() {
    let app = spawn_with(|c| c.accounts.require_staff_totp = true).await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let res = app.get_with_cookie("/admin", &editor).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/account/two-factor?required=staff"
    );
}

#[tokio::test]
async fn the_home_page_lists_pages_on_the_topics_a_person_follows() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    let (_, html, token) = app.page("/", &cookie).await;
    assert!(
        !html.contains("On the topics you follow"),
        "no topics chosen yet"
    );
    let res = app
        .post_form(
            "/account/profile",
            &[("csrf", &token), ("interests", "road-safety")],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, html, _) = app.page("/", &cookie).await;
    let aside = html
        .split("On the topics you follow")
        .nth(1)
        .expect("the list is shown");
    assert!(
        aside
            .split("</aside>")
            .next()
            .unwrap()
            .contains("href=\"/about\"")
    );
    let (_, html, _) = app.page("/", "").await;
    assert!(
        !html.contains("On the topics you follow"),
        "nothing personal for visitors"
    );
}

#[tokio::test]
async fn a_page_naming_an_unknown_topic_stops_start_up_with_a_clear_error() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let mut config = common::site_config(dir.path());
    config.database_url = format!("sqlite://{}", dir.path().join("t.db").display())
        .parse()
        .unwrap();
    config.topics.clear();
    let store = candour_store_sqlite::SqliteStore::open(config.database_url.expose())
        .await
        .unwrap();
    let clock = std::sync::Arc::new(candour_core::clock::FixedClock(
        time::OffsetDateTime::UNIX_EPOCH,
    ));
    let err = candour_web::AppState::new(config, store.stores(), clock)
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "the page /about names the topic `road-safety`, which is not in the configuration's [[topics]]"
    );
}

async fn set_up_authenticator(
    app: &TestApp,
    cookie: &str,
    password: Option<&str>,
) -> reqwest::Response {
    let (_, html, token) = app.page("/account/two-factor", cookie).await;
    let field = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let (b32, sig) = (field("secret"), field("sig"));
    let secret = candour_core::totp::TotpSecret::from_base32(&b32).unwrap();
    let code = candour_core::totp::code_at(&secret, app.clock.now_unix());
    let mut form = vec![
        ("csrf", token.as_str()),
        ("secret", b32.as_str()),
        ("sig", sig.as_str()),
        ("code", code.as_str()),
    ];
    if let Some(p) = password {
        form.push(("password", p));
    }
    app.post_form("/account/two-factor", &form, &[("cookie", cookie)])
        .await
}

#[tokio::test]
async fn replacing_an_authenticator_needs_the_password() {
    let app = spawn_app().await;
    let cookie = signed_in(&app, "jo@example.org").await;
    assert_eq!(
        set_up_authenticator(&app, &cookie, None).await.status(),
        200
    );
    let before = app.account("jo@example.org").await;
    let res = set_up_authenticator(&app, &cookie, None).await;
    assert_eq!(
        res.status(),
        422,
        "a session alone cannot move the second factor"
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your password is not right")
    );
    let same = app
        .stores
        .accounts
        .account(before.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.totp_secret, before.totp_secret);
    assert_eq!(
        set_up_authenticator(&app, &cookie, Some(PW)).await.status(),
        200
    );
    let after = app
        .stores
        .accounts
        .account(before.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(after.totp_secret, before.totp_secret);
}

#[tokio::test]
async fn a_session_started_on_one_instance_works_on_another() {
    let first = spawn_app().await;
    let cookie = signed_in(&first, "jo@example.org").await;
    // A second server on the same database, as behind a load balancer.
    let second = common::spawn_on(first.dir.clone(), first.db_url.clone(), |_| {}).await;
    let (status, html, _) = second.page("/account", &cookie).await;
    assert_eq!(status, 200);
    assert!(html.contains("jo@example.org"));
    // A form rendered by one instance is accepted by the other: the keys are shared.
    let (_, _, token) = first.page("/account", &cookie).await;
    let res = second
        .post_form(
            "/account/sign-out",
            &[("csrf", &token)],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        first.get_with_cookie("/account", &cookie).await.status(),
        303,
        "ended for both"
    );
}
