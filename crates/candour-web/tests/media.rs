//! Embedded media and share links over HTTP: the placeholder loads nothing from a provider,
//! a page's CSP frames a provider only when the page renders its player (asked for with
//! `?load=`, or loaded always), "Always load" is a recorded consent choice
//! that the settings page withdraws, and the share route only ever sends a visitor to a
//! network's own share address for a page of this site.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestApp, cookie_pair, csrf_in, spawn_with};

const MEDIA_PAGE: &str = "---\ntitle: Open day\nshare: yes\n---\n# Open day\n\n\
https://www.youtube.com/watch?v=aqz-KE-bpKQ | The welcome | poster: poster.svg | transcript: /about\n\n\
https://vimeo.com/76979871\n\n\
Just a link: https://youtube.com@evil.example/watch?v=aqz-KE-bpKQ\n\n\
https://www.youtube.com.evil.example/watch?v=aqz-KE-bpKQ\n\n\
```\nhttps://www.flickr.com/photos/someone/123/\n```\n";

async fn media_app() -> TestApp {
    spawn_with(|c| {
        let dir = c.content_dir.clone().unwrap();
        std::fs::write(dir.join("open-day.md"), MEDIA_PAGE).unwrap();
        std::fs::write(
            dir.join("static/poster.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        std::fs::write(dir.join("plain.md"), "# Plain\n\nNo media here.\n").unwrap();
    })
    .await
}

fn csp(res: &reqwest::Response) -> String {
    res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn frame_src(policy: &str) -> &str {
    policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("frame-src"))
        .unwrap()
}

#[tokio::test]
async fn before_a_click_a_page_with_embeds_holds_no_frame_and_its_csp_frames_no_provider() {
    let app = media_app().await;
    let res = app.get("/open-day").await;
    assert_eq!(res.status(), 200);
    assert_eq!(frame_src(&csp(&res)), "frame-src 'self'");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<iframe"), "{html}");
    // "Load" is a GET form to this page asking for that provider, back at its player.
    assert!(
        html.contains(
            "<form method=\"get\" action=\"/open-day#player-0\" class=\"embed__load\">\n          \
             <input type=\"hidden\" name=\"load\" value=\"youtube\">\n          \
             <button type=\"submit\" class=\"button\" aria-label=\"Load this video: The welcome\">Load this video</button>"
        ),
        "{html}"
    );
    assert!(
        html.contains("action=\"/open-day#player-1\" class=\"embed__load\">\n          <input type=\"hidden\" name=\"load\" value=\"vimeo\">"),
        "{html}"
    );
    // Nothing on the page is loaded from a provider: only links point there.
    for attr in [
        "src=\"http",
        "srcset",
        "<link rel=\"preconnect",
        "<link rel=\"prefetch",
    ] {
        assert!(!html.contains(attr), "{attr} in {html}");
    }
    assert!(html.contains("Always load videos from YouTube"));
    assert!(html.contains("Always load videos from Vimeo"));
    assert!(html.contains("href=\"https://www.youtube.com/watch?v=aqz-KE-bpKQ\""));
    assert!(html.contains("src=\"/static/poster.svg\" alt=\"Still from the video: The welcome\""));
    assert!(html.contains("href=\"/about\">Transcript of “The welcome”"));
    // Look-alikes stay text or ordinary links, and an address in a code block stays code.
    assert_eq!(html.matches("data-embed").count(), 2, "{html}");
    assert!(html.contains("youtube.com@evil.example"));
    assert!(html.contains("https://www.flickr.com/photos/someone/123/"));

    for path in ["/plain", "/", "/cookies", "/privacy"] {
        let res = app.get(path).await;
        assert_eq!(frame_src(&csp(&res)), "frame-src 'self'", "{path}");
    }
}

#[tokio::test]
async fn load_renders_that_providers_player_and_frames_that_provider_alone() {
    let app = media_app().await;
    let res = app.get("/open-day?load=youtube").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        frame_src(&csp(&res)),
        "frame-src 'self' https://www.youtube-nocookie.com"
    );
    // The variant with a player is never kept by a shared cache, so it cannot reach a
    // visitor who asked for nothing (content pages are all `no-store`).
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("<iframe").count(), 1, "{html}");
    // Asked for, it loads at once (not lazily), in its narrow frame.
    assert!(html.contains(
        "<iframe id=\"player-0\" src=\"https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ\" title=\"The welcome (YouTube video)\" referrerpolicy=\"strict-origin\" sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-presentation\" allow=\"fullscreen; picture-in-picture; encrypted-media\" allowfullscreen></iframe>"
    ), "{html}");
    // The link back shows the placeholder again; Vimeo still waits, its own "Load" intact.
    assert!(
        html.contains("href=\"/open-day#media-0\">Show the placeholder instead"),
        "{html}"
    );
    assert!(html.contains("name=\"load\" value=\"vimeo\""), "{html}");
    assert!(!html.contains("player.vimeo.com"), "{html}");

    // The same without the page: the base page's CSP never changed.
    let res = app.get("/open-day").await;
    assert_eq!(frame_src(&csp(&res)), "frame-src 'self'");
    // Other parameters are not the page's business: ignored, nothing framed.
    let res = app.get("/open-day?utm_source=news&x").await;
    assert_eq!(res.status(), 200);
    assert_eq!(frame_src(&csp(&res)), "frame-src 'self'");
    assert!(!res.text().await.unwrap().contains("<iframe"));
    // Percent-encoding is decoded before the strict match.
    let res = app.get("/open-day?load=vim%65o").await;
    assert_eq!(
        frame_src(&csp(&res)),
        "frame-src 'self' https://player.vimeo.com"
    );
}

#[tokio::test]
async fn a_bad_load_parameter_is_refused_by_name_and_never_repeated() {
    let app = media_app().await;
    for query in [
        "load=myspace",
        "load=YouTube",
        "load=",
        "load",
        "load=youtube%20",
        "load=%FF",
        // A provider this page does not embed.
        "load=flickr",
        "load=youtube&load=vimeo",
        "load=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "load=<b>bold</b>",
    ] {
        let res = app.get(&format!("/open-day?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(frame_src(&csp(&res)), "frame-src 'self'", "{query}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("The `load` parameter") && html.contains("(youtube, vimeo)"),
            "{query}: {html}"
        );
        assert!(!html.contains("<iframe"), "{query}");
        assert!(
            !html.contains("<script>alert") && !html.contains("<b>bold"),
            "{query}"
        );
    }
    let res = app.get("/plain?load=youtube").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains(
        "The `load` parameter names no provider this page embeds: this page embeds no media."
    ));
}

#[tokio::test]
async fn always_load_is_a_recorded_choice_the_settings_page_withdraws() {
    let app = media_app().await;
    let html = app.get("/open-day").await.text().await.unwrap();
    let csrf = csrf_in(&html);
    let res = app
        .post_form(
            "/media/always",
            &[
                ("csrf", &csrf),
                ("provider", "vimeo"),
                ("return_to", "/open-day"),
                ("embed", "1"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/open-day#player-1");
    let cookie = cookie_pair(&res, "candour_consent").expect("the consent cookie");

    let res = app.get_with_cookie("/open-day", &cookie).await;
    // Vimeo now loads directly, lazily, in its narrow frame, and is the one provider framed;
    // YouTube still waits.
    assert_eq!(
        frame_src(&csp(&res)),
        "frame-src 'self' https://player.vimeo.com"
    );
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("<iframe").count(), 1, "{html}");
    assert!(html.contains(
        "<iframe id=\"player-1\" src=\"https://player.vimeo.com/video/76979871?dnt=1\" title=\"Vimeo video (Vimeo video)\" loading=\"lazy\" referrerpolicy=\"strict-origin\" sandbox=\"allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-presentation\""
    ), "{html}");
    assert!(html.contains("Always load videos from YouTube"));

    // The receipt says so.
    let settings = app.page("/cookies", &cookie).await.1;
    assert!(
        settings.contains("id=\"always_vimeo-yes\" name=\"always_vimeo\" value=\"yes\" checked"),
        "{settings}"
    );
    let receipt_id = settings
        .split("<code id=\"receipt-id\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let receipt = app
        .stores
        .consent
        .find_receipt(&candour_core::consent::ReceiptId::parse(receipt_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.choice.always_load.slugs(), "vimeo");
    assert_eq!(receipt.method, candour_core::consent::Method::Embed);

    // Withdrawn on the settings page: the placeholder is back.
    let res = app
        .post_form(
            "/cookies",
            &[
                ("csrf", &csrf_in(&settings)),
                ("preferences", "no"),
                ("statistics", "no"),
                ("marketing", "no"),
                ("always_youtube", "no"),
                ("always_vimeo", "no"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let cookie = cookie_pair(&res, "candour_consent").unwrap();
    let res = app.get_with_cookie("/open-day", &cookie).await;
    assert_eq!(frame_src(&csp(&res)), "frame-src 'self'");
    let html = res.text().await.unwrap();
    assert!(!html.contains("<iframe"), "{html}");
}

#[tokio::test]
async fn always_load_refuses_an_unknown_provider_and_a_missing_token() {
    let app = media_app().await;
    let csrf = app.csrf().await;
    let res = app
        .post_form(
            "/media/always",
            &[("csrf", &csrf), ("provider", "myspace")],
            &[],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("youtube, vimeo, flickr or slideshare")
    );
    let res = app
        .post_form(
            "/media/always",
            &[("csrf", "x"), ("provider", "vimeo")],
            &[],
        )
        .await;
    assert!(res.status().is_client_error());
    assert!(cookie_pair(&res, "candour_consent").is_none());
    // The return address stays on this site.
    let res = app
        .post_form(
            "/media/always",
            &[
                ("csrf", &csrf),
                ("provider", "vimeo"),
                ("return_to", "//evil.example/"),
            ],
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
}

#[tokio::test]
async fn the_policy_names_the_providers_and_their_cookies() {
    let app = media_app().await;
    let json: serde_json::Value = app.get("/privacy.json").await.json().await.unwrap();
    let recipients: Vec<&str> = json["media_recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert_eq!(recipients, ["YouTube", "Vimeo"]);
    let media = json["cookie_categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "media")
        .unwrap();
    assert_eq!(media["cookies"][0]["provider"], "Google LLC (YouTube)");
    assert_eq!(
        media["cookies"][0]["policy_url"],
        "https://policies.google.com/privacy"
    );
    let privacy = app.get("/privacy").await.text().await.unwrap();
    assert!(privacy.contains("Vimeo.com, Inc.") && privacy.contains("outside the UK"));

    // A site that embeds nothing declares no provider and keeps its policy version.
    let plain = common::spawn_app().await;
    let json: serde_json::Value = plain.get("/privacy.json").await.json().await.unwrap();
    assert_eq!(json["media_recipients"], serde_json::json!([]));
}

#[tokio::test]
async fn share_links_go_only_to_the_networks_own_addresses() {
    let app = media_app().await;
    let html = app.get("/open-day").await.text().await.unwrap();
    assert!(
        html.contains("href=\"/share/bluesky?page=%2Fopen%2Dday\""),
        "{html}"
    );
    assert!(html.contains("mailto:?subject=Open%20day"));
    // A page that does not ask for share links has none, and cannot be shared through them.
    assert!(
        !app.get("/plain")
            .await
            .text()
            .await
            .unwrap()
            .contains("Share this page")
    );

    let res = app.get("/share/facebook?page=/open-day").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!(
            "https://www.facebook.com/sharer/sharer.php?u={}",
            // Links name the site's configured address, never the request's Host.
            percent_encode(&format!("http://{}/open-day", app.state.config().listen))
        )
    );
    for (path, status) in [
        ("/share/myspace?page=/open-day", 404),
        ("/share/email?page=/open-day", 404),
        ("/share/facebook", 422),
        ("/share/facebook?page=https://evil.example/", 422),
        ("/share/facebook?page=//evil.example/", 422),
        ("/share/facebook?page=/plain", 422),
        ("/share/facebook?page=/nowhere", 422),
        (
            "/share/facebook?page=/open-day&next=https://evil.example/",
            422,
        ),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert!(res.headers().get("location").is_none(), "{path}");
    }
}

#[tokio::test]
async fn the_configured_networks_are_the_only_ones() {
    let app = spawn_with(|c| {
        let dir = c.content_dir.clone().unwrap();
        std::fs::write(
            dir.join("open-day.md"),
            "---\nshare: yes\n---\n# Open day\n",
        )
        .unwrap();
        c.share.networks = vec![candour_core::share::Network::Bluesky];
    })
    .await;
    let html = app.get("/open-day").await.text().await.unwrap();
    assert!(html.contains("Share on Bluesky"));
    assert!(!html.contains("Share on X") && !html.contains("Share by email"));
    assert_eq!(app.get("/share/x?page=/open-day").await.status(), 404);
    assert_eq!(app.get("/share/bluesky?page=/open-day").await.status(), 303);
}

#[test]
fn a_bad_embed_line_stops_the_start_with_the_file_and_the_problem() {
    for (line, expected) in [
        (
            "https://youtu.be/aqz-KE-bpKQ | poster: missing.jpg",
            "missing.jpg",
        ),
        ("https://youtu.be/aqz-KE-bpKQ | poster: ../x.jpg", "static/"),
        (
            "https://youtu.be/aqz-KE-bpKQ | transcript: javascript:alert(1)",
            "transcript",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("bad.md"), format!("# Bad\n\n{line}\n")).unwrap();
        let err = match candour_web::content::Site::load(dir.path()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{line} should stop the start"),
        };
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("bad.md") || expected == "missing.jpg", "{err}");
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn poll_pages_show_share_links_unless_configured_off() {
    let app = media_app().await;
    let d = candour_core::poll::PollDraft::parse(
        "Which road needs a speed check?",
        &["Moor Lane", "High Street"],
        None,
        None,
        candour_core::poll::ResultsShown::AfterVoting,
    )
    .unwrap();
    let id = app
        .stores
        .polls
        .create_poll(&d, app.clock.now_at())
        .await
        .unwrap();
    let html = app.get(&format!("/polls/{id}")).await.text().await.unwrap();
    assert!(
        html.contains(&format!("href=\"/share/x?page=%2Fpolls%2F{id}\"")),
        "{html}"
    );
    let res = app.get(&format!("/share/x?page=/polls/{id}")).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("https://x.com/intent/post?url=")
            && to.ends_with("&text=Which%20road%20needs%20a%20speed%20check%3F"),
        "{to}"
    );
    assert_eq!(app.get("/share/x?page=/polls/999").await.status(), 422);

    let off = spawn_with(|c| c.share.polls = false).await;
    let id = off
        .stores
        .polls
        .create_poll(&d, off.clock.now_at())
        .await
        .unwrap();
    let html = off.get(&format!("/polls/{id}")).await.text().await.unwrap();
    assert!(!html.contains("Share this page"));
    assert_eq!(
        off.get(&format!("/share/x?page=/polls/{id}"))
            .await
            .status(),
        422
    );
}
