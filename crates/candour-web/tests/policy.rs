//! The generated privacy notice and its machine-readable twin say what the server does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{spawn_app, spawn_with};

#[tokio::test]
async fn privacy_json_matches_the_running_registry() {
    let app = spawn_app().await;
    let json: serde_json::Value = app.get("/privacy.json").await.json().await.unwrap();
    let names: Vec<&str> = json["cookie_categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["cookies"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "candour_consent",
            "clientvars",
            "PollTimeout-{poll_id}",
            "candour_preferences",
            "candour_no_stats",
            "site_stats"
        ]
    );
    // The statistics are described from the same facts the counting follows.
    assert_eq!(json["statistics"]["objection_page"], "/statistics/object");
    assert_eq!(json["statistics"]["retention_months"], 25);
    assert_eq!(json["organisation"]["name"], "Testshire Police");
    assert_eq!(json["consent_mode"], "opt-in");
    assert_eq!(json["honours_global_privacy_control"], true);
    assert_eq!(json["gated_scripts"][0]["src"], "/static/stats.js");
    let version = json["policy_version"].as_str().unwrap();
    let html = app.get("/privacy").await.text().await.unwrap();
    assert!(html.contains(&format!("Version <code>{version}</code>")));
    assert!(html.contains("<code>site_stats</code>"));
    assert!(html.contains("/static/stats.js"));
    assert!(html.contains("Remembering and proving your cookie choices"));
    // The route to the regulator is a link, with its telephone number.
    assert!(html.contains("<a href=\"https://ico.org.uk/make-a-complaint/\">"));
    assert!(html.contains("<a href=\"tel:+443031231113\">by telephone on 0303 123 1113</a>"));
    let complain = json["rights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Complain")
        .unwrap();
    assert_eq!(complain["links"][1]["href"], "tel:+443031231113");
}

#[tokio::test]
async fn switching_a_script_off_removes_it_and_its_cookies_from_the_pages() {
    let app = spawn_with(|c| {
        c.scripts.clear();
        c.cookies.declared.clear();
    })
    .await;
    let json: serde_json::Value = app.get("/privacy.json").await.json().await.unwrap();
    assert_eq!(json["gated_scripts"].as_array().unwrap().len(), 0);
    let html = app.get("/privacy").await.text().await.unwrap();
    assert!(!html.contains("site_stats"));
    assert!(!html.contains("stats.js"));
    let html = app.get("/cookies").await.text().await.unwrap();
    assert!(!html.contains("site_stats"));
}
