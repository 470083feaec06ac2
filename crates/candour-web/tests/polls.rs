//! Polls over HTTP: voting with and without an account, one vote per person, the cookie, the
//! errors the issue names, the admin console, and votes racing each other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::Role;
use candour_core::poll::{PollDraft, ResultsShown};
use common::{TestApp, cookie_pair, set_cookie_header, spawn_app, spawn_with};
use time::Duration;

async fn poll(app: &TestApp, results: ResultsShown) -> (i64, i64, i64) {
    let d = PollDraft::parse(
        "Which road needs a speed check?",
        &["Moor Lane", "High Street"],
        None,
        None,
        results,
    )
    .unwrap();
    let id = app
        .stores
        .polls
        .create_poll(&d, app.clock.now_at())
        .await
        .unwrap();
    let p = app.stores.polls.poll(id).await.unwrap().unwrap();
    (id, p.options[0].id, p.options[1].id)
}

async fn vote(app: &TestApp, id: i64, option: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let (_, _, token) = app.page(&format!("/polls/{id}"), "").await;
    let mut all = headers.to_vec();
    if !headers.iter().any(|(k, _)| *k == "user-agent") {
        all.push(("user-agent", "Browser A"));
    }
    app.post_form(
        &format!("/polls/{id}/vote"),
        &[("csrf", &token), ("option", option)],
        &all,
    )
    .await
}

async fn total(app: &TestApp, id: i64) -> u64 {
    app.stores.polls.poll(id).await.unwrap().unwrap().total()
}

#[tokio::test]
async fn an_anonymous_vote_sets_the_cookie_only_on_voting_and_shows_the_results() {
    let app = spawn_app().await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    let res = app.get(&format!("/polls/{id}")).await;
    assert!(
        res.headers().get("set-cookie").is_none(),
        "viewing sets nothing"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"option\"") && !html.contains("<caption>Results"));
    assert!(
        app.get("/polls")
            .await
            .text()
            .await
            .unwrap()
            .contains(&format!("href=\"/polls/{id}\""))
    );

    let res = vote(&app, id, &a.to_string(), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/polls/{id}#poll-{id}"));
    let header = set_cookie_header(&res, &format!("PollTimeout-{id}")).unwrap();
    assert!(
        header.contains("Max-Age=86400") && header.contains("HttpOnly"),
        "{header}"
    );
    let cookie = cookie_pair(&res, &format!("PollTimeout-{id}")).unwrap();
    assert_eq!(total(&app, id).await, 1);

    let (_, html, _) = app.page(&format!("/polls/{id}"), &cookie).await;
    assert!(html.contains("your vote has been counted"));
    assert!(html.contains("<caption>Results: 1 vote"));
    assert!(
        html.contains("<th scope=\"row\">Moor Lane</th>\n        <td>1</td>"),
        "{html}"
    );
    assert!(!html.contains("name=\"option\""), "no second form");
}

#[tokio::test]
async fn people_sharing_a_connection_each_vote_up_to_the_ceiling_for_the_address() {
    let app = spawn_with(|c| c.polls.votes_per_address = 3).await;
    let (id, a, b) = poll(&app, ResultsShown::AfterVoting).await;
    // The same browser make, the same address: an office, a library, a mobile network.
    let first = vote(&app, id, &a.to_string(), &[]).await;
    assert_eq!(first.status(), 303);
    let cookie = cookie_pair(&first, &format!("PollTimeout-{id}")).unwrap();
    // A second press moments later, before the cookie arrived, is the same person.
    let res = vote(&app, id, &a.to_string(), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text().await.unwrap().contains("counted moments ago"),
        "the page says why"
    );
    // Colleagues vote a little later, each from their own browser.
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(1));
        assert_eq!(vote(&app, id, &b.to_string(), &[]).await.status(), 303);
    }
    assert_eq!(total(&app, id).await, 3, "three people, three votes");
    app.clock.advance(Duration::minutes(1));
    // The browser that voted is told so.
    let res = vote(&app, id, &b.to_string(), &[("cookie", &cookie)]).await;
    assert_eq!(res.status(), 409);
    // Past the ceiling, nothing more from that address today.
    let res = vote(&app, id, &a.to_string(), &[]).await;
    assert_eq!(res.status(), 429);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("from your internet connection today"),
        "{html}"
    );
    assert_eq!(total(&app, id).await, 3);
    // The next day the ceiling starts again.
    app.clock.advance(Duration::days(1));
    assert_eq!(vote(&app, id, &b.to_string(), &[]).await.status(), 303);
}

#[tokio::test]
async fn a_poll_for_account_holders_offers_sign_in_and_counts_one_vote_per_account() {
    let app = spawn_app().await;
    let mut d = PollDraft::parse(
        "Members only?",
        &["Yes", "No"],
        None,
        None,
        ResultsShown::AfterVoting,
    )
    .unwrap();
    d.voters = candour_core::poll::Voters::PerAccount;
    let id = app
        .stores
        .polls
        .create_poll(&d, app.clock.now_at())
        .await
        .unwrap();
    let yes = app.stores.polls.poll(id).await.unwrap().unwrap().options[0].id;
    let (_, html, _) = app.page(&format!("/polls/{id}"), "").await;
    assert!(html.contains("Sign in to vote"), "{html}");
    assert!(!html.contains("name=\"option\""), "no form for a visitor");
    let res = vote(&app, id, &yes.to_string(), &[]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(total(&app, id).await, 0);
    app.register_verified("jo@example.org", common::PASSWORD)
        .await;
    let jo = app.sign_in("jo@example.org", common::PASSWORD).await;
    let (_, _, token) = app.page(&format!("/polls/{id}"), &jo).await;
    for expected in [303, 409] {
        let res = app
            .post_form(
                &format!("/polls/{id}/vote"),
                &[("csrf", &token), ("option", &yes.to_string())],
                &[("cookie", &jo)],
            )
            .await;
        assert_eq!(res.status(), expected);
    }
    assert_eq!(total(&app, id).await, 1);
}

#[tokio::test]
async fn a_forged_cookie_is_ignored() {
    let app = spawn_app().await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    let forged = format!("PollTimeout-{id}=99999999999.00000000000000000000000000000000");
    let res = vote(&app, id, &a.to_string(), &[("cookie", &forged)]).await;
    assert_eq!(
        res.status(),
        303,
        "a forged 'already voted' cookie does not block"
    );
    let real = cookie_pair(&res, &format!("PollTimeout-{id}")).unwrap();
    let res = vote(&app, id, &a.to_string(), &[("cookie", &real)]).await;
    assert_eq!(res.status(), 409, "the real one does");
    assert_eq!(total(&app, id).await, 1);
}

#[tokio::test]
async fn a_signed_in_person_votes_once_whatever_the_browser() {
    let app = spawn_app().await;
    let (id, a, b) = poll(&app, ResultsShown::AfterClose).await;
    app.register_verified("jo@example.org", common::PASSWORD)
        .await;
    let session = app.sign_in("jo@example.org", common::PASSWORD).await;
    let (_, _, token) = app.page(&format!("/polls/{id}"), &session).await;
    let cast = |option: i64, agent: &'static str| {
        let (token, session) = (token.clone(), session.clone());
        let app = &app;
        async move {
            app.post_form(
                &format!("/polls/{id}/vote"),
                &[("csrf", &token), ("option", &option.to_string())],
                &[("cookie", &session), ("user-agent", agent)],
            )
            .await
        }
    };
    assert_eq!(cast(a, "Phone").await.status(), 303);
    let res = cast(b, "Laptop").await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains("You have already voted in this poll."));
    assert!(
        !html.contains("<caption>Results"),
        "results only after the poll closes"
    );
    assert_eq!(total(&app, id).await, 1);
}

#[tokio::test]
async fn closed_not_yet_open_and_unknown_polls_store_nothing() {
    let app = spawn_app().await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    app.stores
        .polls
        .close_poll(id, app.clock.now_at())
        .await
        .unwrap();
    let res = vote(&app, id, &a.to_string(), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("This poll has closed."));
    let later = app.clock.now_at() + Duration::days(2);
    let d = PollDraft::parse(
        "Later?",
        &["x", "y"],
        Some(later),
        None,
        ResultsShown::AfterVoting,
    )
    .unwrap();
    let future = app
        .stores
        .polls
        .create_poll(&d, app.clock.now_at())
        .await
        .unwrap();
    let x = app
        .stores
        .polls
        .poll(future)
        .await
        .unwrap()
        .unwrap()
        .options[0]
        .id;
    let res = vote(&app, future, &x.to_string(), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Voting opens on 3 June 2026 at 10:00am")
    );
    assert_eq!(total(&app, id).await + total(&app, future).await, 0);
    assert_eq!(app.get("/polls/999").await.status(), 404);
    assert_eq!(app.get("/polls/abc").await.status(), 404);
    let (_, _, token) = app.page("/", "").await;
    let res = app
        .post_form("/polls/999/vote", &[("csrf", &token), ("option", "1")], &[])
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn bad_options_and_tokens_are_refused() {
    let app = spawn_app().await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    let (other, foreign, _) = poll(&app, ResultsShown::AfterVoting).await;
    let _ = other;
    let res = vote(&app, id, &foreign.to_string(), &[]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("not one of this poll&#39;s options")
    );
    let res = vote(&app, id, "", &[]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Select an answer"));
    let res = app
        .post_form(
            &format!("/polls/{id}/vote"),
            &[("csrf", "forged.token"), ("option", &a.to_string())],
            &[],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(
            &format!("/polls/{id}/vote"),
            &[("option", &a.to_string())],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(total(&app, id).await, 0);
}

#[tokio::test]
async fn results_follow_the_visibility_setting_and_small_counts_can_be_hidden() {
    let app = spawn_with(|c| c.polls.suppress_below = 3).await;
    let (staff_only, a, _) = poll(&app, ResultsShown::StaffOnly).await;
    let res = vote(&app, staff_only, &a.to_string(), &[]).await;
    assert_eq!(res.status(), 303);
    let cookie = cookie_pair(&res, &format!("PollTimeout-{staff_only}")).unwrap();
    let (_, html, _) = app.page(&format!("/polls/{staff_only}"), &cookie).await;
    assert!(!html.contains("<caption>Results"));
    let (open, a, b) = poll(&app, ResultsShown::AfterVoting).await;
    for agent in ["1", "2", "3"] {
        vote(&app, open, &a.to_string(), &[("user-agent", agent)]).await;
    }
    let res = vote(&app, open, &b.to_string(), &[("user-agent", "4")]).await;
    let cookie = cookie_pair(&res, &format!("PollTimeout-{open}")).unwrap();
    let (_, html, _) = app.page(&format!("/polls/{open}"), &cookie).await;
    assert!(html.contains("<td>3</td>"), "{html}");
    assert!(
        html.contains("<td>fewer than 3</td>"),
        "one vote for b is hidden"
    );
    assert!(html.contains("(counts under 3 are not shown)"));
}

#[tokio::test]
async fn staff_manage_polls_and_script_stays_inert_everywhere() {
    let app = spawn_app().await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    assert_eq!(
        app.get_with_cookie("/admin/polls", &officer).await.status(),
        403
    );
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let (status, _, token) = app.page("/admin/polls/new", &editor).await;
    assert_eq!(status, 200);
    let res = app
        .post_form(
            "/admin/polls",
            &[
                ("csrf", &token),
                ("question", "Evil \u{202E}question"),
                ("options", "a\nb"),
                ("opens_at", ""),
                ("closes_at", ""),
                ("results", "after-voting"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 422, "a right-to-left override is refused");
    assert!(res.text().await.unwrap().contains("plain text on one line"));
    let res = app
        .post_form(
            "/admin/polls",
            &[
                ("csrf", &token),
                ("question", "Only one"),
                ("options", "a"),
                ("opens_at", "tomorrow"),
                ("closes_at", ""),
                ("results", "after-voting"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"#options\">Give between 2 and 20 options"));
    assert!(html.contains("href=\"#opens_at\">Enter a date and time"));
    assert!(
        html.contains("value=\"Only one\""),
        "what was typed is kept"
    );

    let res = app
        .post_form(
            "/admin/polls",
            &[
                ("csrf", &token),
                ("question", "<script>alert(1)</script> Best day?"),
                ("options", "<b>Monday</b>\nTuesday"),
                ("opens_at", ""),
                ("closes_at", "2026-07-01T12:00"),
                ("results", "after-voting"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id: i64 = location
        .trim_start_matches("/admin/polls/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for (path, cookie) in [
        (format!("/polls/{id}"), ""),
        (location.clone(), editor.as_str()),
        ("/admin/polls".to_owned(), editor.as_str()),
    ] {
        let (_, html, _) = app.page(&path, cookie).await;
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62; Best day?"),
            "{path}"
        );
        assert!(!html.contains("<b>Monday</b>"), "{path}");
    }
    let p = app.stores.polls.poll(id).await.unwrap().unwrap();
    // The form takes UK time: midday in July is 11:00 UTC.
    assert_eq!(
        p.closes_at.unwrap().to_string(),
        "2026-07-01 11:00:00.0 +00:00:00"
    );

    vote(&app, id, &p.options[1].id.to_string(), &[]).await;
    let (_, _, token) = app.page(&location, &editor).await;
    let res = app
        .post_form(
            &format!("/admin/polls/{id}"),
            &[
                ("csrf", &token),
                ("question", "Best day?"),
                ("options", "Monday\nTuesday\nWednesday"),
                ("opens_at", ""),
                ("closes_at", ""),
                ("results", "after-voting"),
            ],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(
        res.status(),
        409,
        "options are locked once people have voted"
    );
    assert_eq!(
        app.stores
            .polls
            .poll(id)
            .await
            .unwrap()
            .unwrap()
            .options
            .len(),
        2
    );
    let res = app
        .post_form(
            &format!("/admin/polls/{id}/close"),
            &[("csrf", &token)],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.stores
            .polls
            .poll(id)
            .await
            .unwrap()
            .unwrap()
            .closed_at
            .is_some()
    );
    let res = app
        .post_form(
            &format!("/admin/polls/{id}/delete"),
            &[("csrf", &token)],
            &[("cookie", &editor)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(app.stores.polls.poll(id).await.unwrap().is_none());
    let admin = app.staff("admin@example.org", Role::Admin).await;
    let (_, html, _) = app.page("/admin/audit", &admin).await;
    // The log's rows, not its list of actions to filter by.
    let rows = html.split("<tbody>").nth(1).unwrap_or_default();
    for action in ["Created a poll", "Closed a poll", "Deleted a poll"] {
        assert!(rows.contains(action), "{action}: {html}");
    }
}

#[tokio::test]
async fn a_poll_embedded_in_a_content_page_works_from_there() {
    let app = spawn_app().await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    assert_eq!(id, 1, "the page below embeds poll 1");
    let (_, html, token) = app.page("/vote", "").await;
    assert!(html.contains(&format!("id=\"poll-{id}\"")));
    assert!(html.contains("name=\"return_to\" value=\"/vote\""));
    assert!(!html.contains("[[poll:"));
    assert!(
        !html.contains("[[poll:999]]"),
        "an unknown poll leaves nothing"
    );
    let res = app
        .post_form(
            &format!("/polls/{id}/vote"),
            &[
                ("csrf", &token),
                ("option", &a.to_string()),
                ("return_to", "/vote"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.headers()["location"], format!("/vote#poll-{id}"));
    let res = app
        .post_form(
            &format!("/polls/{id}/vote"),
            &[
                ("csrf", &token),
                ("option", &a.to_string()),
                ("return_to", "https://evil.example/"),
            ],
            &[("user-agent", "other")],
        )
        .await;
    assert_eq!(
        res.headers()["location"],
        format!("/polls/{id}#poll-{id}"),
        "never off-site"
    );
    let (_, frag, _) = app.page(&format!("/polls/{id}/embed"), "").await;
    assert!(frag.starts_with("<section class=\"poll\""));
}

#[tokio::test]
async fn many_votes_at_once_are_counted_exactly() {
    // Everyone is on one address here: the ceiling is lifted so that only repeats are refused.
    let app = spawn_with(|c| c.polls.votes_per_address = 1000).await;
    let (id, a, b) = poll(&app, ResultsShown::AfterVoting).await;
    let (_, _, token) = app.page(&format!("/polls/{id}"), "").await;
    let mut tasks = tokio::task::JoinSet::new();
    // 60 people, each pressing the button three times at once.
    for person in 0..60 {
        for _ in 0..3 {
            let (client, url, token) = (app.client.clone(), app.url.clone(), token.clone());
            let option = if person % 3 == 0 { b } else { a };
            tasks.spawn(async move {
                client
                    .post(format!("{url}/polls/{id}/vote"))
                    .header("sec-fetch-site", "same-origin")
                    .header("user-agent", format!("person {person}"))
                    .form(&[("csrf", token.as_str()), ("option", &option.to_string())])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
        }
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 60);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 120);
    let p = app.stores.polls.poll(id).await.unwrap().unwrap();
    assert_eq!((p.options[0].votes, p.options[1].votes), (40, 20));
}

#[tokio::test]
async fn closed_polls_are_listed_with_their_results_and_cannot_be_closed_again() {
    let app = spawn_app().await;
    let closes = app.clock.now_at() + Duration::days(1);
    let draft = |question: &str, results| {
        PollDraft::parse(question, &["Yes", "No"], None, Some(closes), results).unwrap()
    };
    let public = app
        .stores
        .polls
        .create_poll(
            &draft("Was the advice useful?", ResultsShown::AfterClose),
            app.clock.now_at(),
        )
        .await
        .unwrap();
    app.stores
        .polls
        .create_poll(
            &draft("Staff only question?", ResultsShown::StaffOnly),
            app.clock.now_at(),
        )
        .await
        .unwrap();
    let yes = app
        .stores
        .polls
        .poll(public)
        .await
        .unwrap()
        .unwrap()
        .options[0]
        .id;
    for agent in ["1", "2"] {
        let res = vote(&app, public, &yes.to_string(), &[("user-agent", agent)]).await;
        assert_eq!(res.status(), 303);
    }
    // Its own page has the question as its heading.
    let (_, html, _) = app.page(&format!("/polls/{public}"), "").await;
    assert!(
        html.contains("<h1 class=\"poll__question\""),
        "the poll page needs an h1: {html}"
    );
    let (_, list, _) = app.page("/polls", "").await;
    assert!(!list.contains("Past polls"), "nothing has closed yet");
    app.clock.advance(Duration::days(2));
    let (_, list, _) = app.page("/polls", "").await;
    assert!(list.contains("<h2>Past polls</h2>"), "{list}");
    assert!(list.contains("Was the advice useful?"));
    assert!(list.contains("Results: 2 votes"), "{list}");
    assert!(
        !list.contains("Staff only question?"),
        "a poll whose results are for staff is not listed"
    );
    // The console offers no "Close now" for a poll its closing time has closed.
    let editor = app.staff("editor@example.org", Role::Editor).await;
    let (status, page, _) = app.page(&format!("/admin/polls/{public}"), &editor).await;
    assert_eq!(status, 200);
    assert!(page.contains("<strong>Closed</strong>"), "{page}");
    assert!(!page.contains("Close now"), "{page}");
    assert!(page.contains("It closed at its closing time"));
}

#[tokio::test]
async fn votes_sent_at_once_cannot_pass_the_ceiling_together() {
    let app = spawn_with(|c| c.polls.votes_per_address = 20).await;
    let (id, a, _) = poll(&app, ResultsShown::AfterVoting).await;
    let (_, _, token) = app.page(&format!("/polls/{id}"), "").await;
    let mut tasks = tokio::task::JoinSet::new();
    for person in 0..60 {
        let (client, url, token) = (app.client.clone(), app.url.clone(), token.clone());
        tasks.spawn(async move {
            client
                .post(format!("{url}/polls/{id}/vote"))
                .header("sec-fetch-site", "same-origin")
                .header("user-agent", format!("person {person}"))
                .form(&[("csrf", token.as_str()), ("option", &a.to_string())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 303).count(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40);
    assert_eq!(total(&app, id).await, 20);
}

/// With the PostgreSQL server gone (the network to it cut), a vote answers 503 within the
/// configured wait for a connection, even when it queues behind an earlier vote whose write
/// is failing: no request waits behind every failing batch before its own.
#[tokio::test]
async fn a_vote_answers_503_in_time_when_postgres_is_gone() {
    if std::env::var("CANDOUR_TEST_BACKEND").as_deref() != Ok("postgres") {
        return; // Only a server over the network can go away like this.
    }
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let db_url = common::fresh_database_url(dir.path()).await;
    let relay = common::Relay::start(common::postgres_server(&db_url)).await;
    let through_relay = common::with_postgres_server(&db_url, relay.addr);
    let bound_ms = 500;
    let bound = std::time::Duration::from_millis(bound_ms);
    let app = common::spawn_on(dir, through_relay, |c| {
        c.database.acquire_timeout_ms = bound_ms;
    })
    .await;
    let (id, yes, _) = poll(&app, ResultsShown::AfterVoting).await;
    // One vote while the database is there, so the poll and the day's key are in memory.
    assert_eq!(vote(&app, id, &yes.to_string(), &[]).await.status(), 303);
    let (_, _, token) = app.page(&format!("/polls/{id}"), "").await;

    relay.cut().await;
    let send = |agent: &'static str| {
        let (app, token, option) = (&app, token.clone(), yes.to_string());
        async move {
            let started = std::time::Instant::now();
            let res = app
                .post_form(
                    &format!("/polls/{id}/vote"),
                    &[("csrf", &token), ("option", &option)],
                    &[("user-agent", agent)],
                )
                .await;
            (res.status(), started.elapsed())
        }
    };
    // The second vote arrives while the first one's write is failing.
    let (first, second) = tokio::join!(send("Browser B"), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        send("Browser C").await
    });
    for (status, took) in [first, second] {
        assert_eq!(status, 503);
        assert!(
            took < bound + std::time::Duration::from_secs(1),
            "took {took:?}"
        );
    }
}
