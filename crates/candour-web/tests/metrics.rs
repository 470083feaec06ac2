//! `/metrics`: the Prometheus text format, route labels from the router's templates, the
//! bearer token, and a separate listener.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{spawn_app, spawn_with};

const TOKEN: &str = "scrape-token-0123456789";

async fn scrape(app: &common::TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}/metrics", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let app = spawn_app().await;
    let res = scrape(&app, None).await;
    assert_eq!(res.status(), 404);
    assert!(!res.text().await.unwrap().contains("# TYPE"));
}

#[tokio::test]
async fn requests_show_up_by_route_template_in_the_text_format() {
    let app = spawn_with(|c| {
        c.metrics.enabled = true;
        c.metrics.token = candour_core::secret::Secret::new(TOKEN);
    })
    .await;
    assert_eq!(
        app.client
            .get(format!("{}/privacy", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A route with a parameter is counted under its template, never the value.
    app.client
        .get(format!("{}/assets/zz-secret-looking-name.css", app.url))
        .send()
        .await
        .unwrap();
    let res = scrape(&app, Some(TOKEN)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("# TYPE candour_http_requests_total counter"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE candour_http_request_duration_seconds histogram"),
        "{body}"
    );
    let line = body
        .lines()
        .find(|l| {
            l.starts_with("candour_http_requests_total{")
                && l.contains(r#"route="/privacy""#)
                && l.contains(r#"status="200""#)
                && l.contains(r#"method="GET""#)
        })
        .unwrap_or_else(|| panic!("no counter for GET /privacy 200 in:\n{body}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    assert!(
        body.lines().any(
            |l| l.starts_with("candour_http_request_duration_seconds_bucket{")
                && l.contains(r#"route="/privacy""#)
                && l.contains(r#"class="2xx""#)
                && l.contains(r#"le="+Inf""#)
        ),
        "{body}"
    );
    assert!(body.contains(r#"route="/assets/{file}""#), "{body}");
    assert!(!body.contains("zz-secret-looking-name"), "{body}");
    // The gauges read at scrape time: the queues and the pools.
    assert!(
        body.contains(r#"candour_queue_depth{queue="votes"}"#),
        "{body}"
    );
    assert!(
        body.contains(r#"candour_queue_depth{queue="tracking"}"#),
        "{body}"
    );
    assert!(body.contains("candour_db_pool_connections{"), "{body}");
    assert!(body.contains("candour_db_pool_max_connections{"), "{body}");
    assert!(
        body.contains(&format!(
            "candour_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
}

#[tokio::test]
async fn a_configured_token_is_required() {
    let app = spawn_with(|c| {
        c.metrics.enabled = true;
        c.metrics.token = candour_core::secret::Secret::new(TOKEN);
    })
    .await;
    let res = scrape(&app, None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert!(!res.text().await.unwrap().contains("candour_"));
    let res = scrape(&app, Some("scrape-token-0123456780")).await;
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(format!("{}/metrics", app.url))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(scrape(&app, Some(TOKEN)).await.status(), 200);
}

#[tokio::test]
async fn unknown_paths_share_one_label() {
    let app = spawn_with(|c| c.metrics.enabled = true).await;
    for i in 0..40 {
        let res = app
            .client
            .get(format!("{}/no-such-page-{i}/x{i}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    let body = scrape(&app, None).await.text().await.unwrap();
    assert!(!body.contains("no-such-page"), "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("candour_http_requests_total{")
                && l.contains(r#"route="(content or unmatched)""#)
                && l.contains(r#"status="404""#)),
        "{body}"
    );
    // However many paths were tried, the route labels are the router's own.
    let routes: std::collections::BTreeSet<&str> = body
        .lines()
        .filter(|l| l.starts_with("candour_http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        routes
            .iter()
            .all(|r| r.starts_with('/') || *r == "(content or unmatched)"),
        "{routes:?}"
    );
}

#[tokio::test]
async fn a_listener_of_its_own_takes_metrics_off_the_site() {
    let app = spawn_with(|c| {
        c.metrics.enabled = true;
        c.metrics.listen = Some("127.0.0.1:9464".parse().unwrap());
    })
    .await;
    // The site's listener does not serve them.
    assert_eq!(scrape(&app, None).await.status(), 404);
    let (addr, router) = candour_web::metrics_router(&app.state).unwrap();
    assert_eq!(addr, "127.0.0.1:9464".parse().unwrap());
    // Served here on a free port rather than the configured one.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    app.client
        .get(format!("{}/privacy", app.url))
        .send()
        .await
        .unwrap();
    let res = app
        .client
        .get(format!("http://{own}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"route="/privacy""#), "{body}");
}

fn with_news(c: &mut candour_core::config::Config) {
    use candour_core::config::PurposeConfig;
    use candour_core::purposes::{Channel, LawfulBasis};
    c.metrics.enabled = true;
    c.purposes = vec![PurposeConfig {
        id: "news".into(),
        name: "News and appeals".into(),
        description: "Emails about our work.".into(),
        data: "Your email address.".into(),
        lawful_basis: LawfulBasis::Consent,
        retention_days: 730,
        channels: vec![Channel::Email],
        direct_marketing: true,
        consent_label: "Send me news and appeals".into(),
    }];
}

/// The value of the sample whose line starts with `prefix` (name and labels).
fn sample(body: &str, prefix: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{body}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn campaign_outcomes_and_the_tracking_queues_batches_are_counted() {
    use candour_core::Clock;
    use candour_core::campaign::{CampaignDraft, TRACKING_PURPOSE};
    use candour_core::people::{ConsentChange, Method, NewConsent, Source};
    use candour_core::purposes::Channel;

    let app = spawn_with(with_news).await;
    let now = app.clock.now();
    let person = app
        .stores
        .people
        .ensure_person(
            &candour_core::account::EmailAddress::parse("ann@example.org").unwrap(),
            Source::Staff,
            now,
        )
        .await
        .unwrap();
    let grant = |purpose: &str, channel| NewConsent {
        purpose: purpose.into(),
        channel,
        granted: true,
        method: Method::PreferenceCentre,
        wording: None,
        actor: None,
        note: String::new(),
    };
    let mut config = candour_core::config::Config::default();
    with_news(&mut config);
    app.stores
        .ledger
        .append_consents(ConsentChange {
            person: person.id,
            events: &[
                grant("news", Some(Channel::Email)),
                grant(TRACKING_PURPOSE, None),
            ],
            objections: &[],
            actor: None,
            purposes: &candour_core::purposes::registry(&config),
            at: now,
        })
        .await
        .unwrap();
    let draft = CampaignDraft {
        name: "Spring".into(),
        subject: "Spring news".into(),
        preheader: String::new(),
        body: "Hello {{name}}, read [the news](https://example.org/news).".into(),
        purpose: "news".into(),
        interests: Vec::new(),
        postcode_areas: Vec::new(),
        follow_up: None,
    };
    let id = app
        .stores
        .campaigns
        .create_campaign(&draft, now)
        .await
        .unwrap();
    app.stores
        .campaigns
        .schedule_campaign(id, now, &["https://example.org/news".into()])
        .await
        .unwrap();
    while app.sender.tick().await.unwrap() > 0 {}

    // The open pixel goes through the tracking queue.
    let mail = app.sink.messages().await;
    let text = common::decode_qp(&mail.last().unwrap().data);
    let start = text.find("/t/o/").unwrap();
    let end = start + text[start..].find('"').unwrap();
    let pixel = &text[start..end];
    app.clock.advance(time::Duration::minutes(5));
    let res = app
        .client
        .get(format!("{}{pixel}", app.url))
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.state.flush_queues().await;

    let body = scrape(&app, None).await.text().await.unwrap();
    assert!(sample(&body, r#"candour_campaign_messages_total{outcome="sent"}"#) >= 1.0);
    assert!(sample(&body, "candour_campaign_handovers_total") >= 1.0);
    assert!(
        sample(
            &body,
            r#"candour_queue_flush_items_count{queue="tracking"}"#
        ) >= 1.0
    );
    assert!(
        sample(
            &body,
            r#"candour_queue_items_total{queue="tracking",result="written"}"#
        ) >= 1.0
    );
    assert!(body.contains(r#"candour_queue_flush_seconds_bucket{queue="tracking",le="#));
    assert!(body.contains(r#"route="/t/o/{token}""#), "{body}");
    assert!(!body.contains(pixel), "no token in a label");
}

#[tokio::test]
async fn folding_statistics_is_timed_and_counted() {
    let app = spawn_with(|c| c.metrics.enabled = true).await;
    for n in 0..3 {
        let res = app
            .client
            .get(format!("{}/", app.url))
            .header(
                "user-agent",
                format!("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.{n}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    app.flush_queues().await;
    assert_eq!(app.state.fold_statistics().await.unwrap(), 3);
    let body = scrape(&app, None).await.text().await.unwrap();
    // The recorder is the process's: other tests here may have folded hits too.
    assert!(sample(&body, "candour_stats_hits_folded_total") >= 3.0);
    assert!(sample(&body, "candour_stats_fold_seconds_count") >= 1.0);
}
