//! Answering a request for a copy of one's data, over HTTP: staff build the bundle on the
//! case page and release it; the person downloads it once from the emailed link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use candour_core::account::Role;
use candour_core::bundle::{DATA_JSON, read_stored};
use candour_core::requests::Status;
use common::*;

/// An app whose bundles go to the test's own folder, with Robin's signed-in request for a
/// copy of their data (a case at once) and a privacy officer. Returns the case's number.
async fn case_with_officer() -> (TestApp, tempfile::TempDir, i64, String, String) {
    let bundles = tempfile::tempdir().unwrap();
    let dir = bundles.path().to_path_buf();
    let app = spawn_with(move |c| c.requests.bundle_dir = Some(dir)).await;
    // Staff first: the request's acknowledgement is sent in the background, and counting
    // messages while it is on its way would pick the wrong one.
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    let editor = app.staff("editor@example.org", Role::Editor).await;
    app.register_verified("robin@example.org", PASSWORD).await;
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    let (_, _, token) = app.page("/requests", &cookie).await;
    let res = app
        .post_form(
            "/requests",
            &[
                ("csrf", token.as_str()),
                ("kind", "access"),
                ("name", "Robin Example"),
                ("email", "robin@example.org"),
                ("details", "Everything you hold"),
            ],
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let open = app.stores.requests.open_requests().await.unwrap();
    assert_eq!(open.len(), 1);
    // The acknowledgement has arrived (the fourth message), before any step counts them.
    app.sink.wait_for(4).await;
    (app, bundles, open[0].id, officer, editor)
}

/// Press a button of the case page: a POST to `/admin/requests/{id}/{what}`.
async fn press(app: &TestApp, id: i64, what: &str, cookie: &str) -> reqwest::Response {
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), cookie).await;
    let mut form = vec![("csrf", token.as_str())];
    if what == "bundle" {
        // Building the bundle is an export: it says for whom.
        form.extend([
            ("for", "internal"),
            ("for_purpose", "Answering the request"),
        ]);
    }
    app.post_form(
        &format!("/admin/requests/{id}/{what}"),
        &form,
        &[("cookie", cookie)],
    )
    .await
}

/// Build and release; returns the emailed download link.
async fn build_and_release(app: &TestApp, id: i64, officer: &str) -> String {
    let res = press(app, id, "bundle", officer).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/admin/requests/{id}?done=built").as_str()
    );
    let before = app.sink.messages().await.len();
    let res = press(app, id, "release", officer).await;
    assert_eq!(res.status(), 303);
    let link = app.emailed_link(before, "http").await;
    assert!(link.contains("/requests/answer?token="), "{link}");
    link
}

async fn actions(app: &TestApp) -> Vec<(String, String)> {
    app.stores
        .audit
        .recent(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.target))
        .collect()
}

#[tokio::test]
async fn a_released_bundle_downloads_once_from_the_emailed_link() {
    let (app, _bundles, id, officer, _) = case_with_officer().await;
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("Build the bundle"), "{page}");
    assert!(page.contains("Not built yet"));

    let link = build_and_release(&app, id, &officer).await;
    let mail = app.sink.messages().await.last().unwrap().data.clone();
    let mail = decode_qp(&mail);
    assert!(mail.contains("robin@example.org"));
    assert!(mail.contains("works once"), "{mail}");
    // Releasing answers the case, through the same rules as the other steps.
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    assert_eq!(case.status, Status::Answered);

    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("Bundle built"), "{page}");
    assert!(page.contains("Link works until"));
    assert!(page.contains("Send a new download link"));

    // Opening the link spends nothing: opening it twice still shows the button.
    let (status, html, _) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 200);
    assert!(html.contains("Download your data"), "{html}");
    let res = app.press_link_button(&link, "/requests/answer").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let length: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let zip = res.bytes().await.unwrap();
    assert_eq!(zip.len(), length);
    let entries = read_stored(&zip).expect("a whole ZIP");
    let data = &entries.iter().find(|(n, _)| n == DATA_JSON).unwrap().1;
    let data: serde_json::Value = serde_json::from_slice(data).unwrap();
    assert_eq!(data["person"], case.person.unwrap());

    // Used: the page says so and how to get another; the download is refused.
    let (status, html, token) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 410);
    assert!(html.contains("This link has been used"), "{html}");
    assert!(html.contains("send a new link"));
    let secret = link.split("token=").nth(1).unwrap();
    let again = app
        .post_form(
            "/requests/answer",
            &[("csrf", token.as_str()), ("token", secret)],
            &[],
        )
        .await;
    assert_eq!(again.status(), 410);

    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(!page.contains("<dt>Downloaded</dt><dd>Not yet"), "{page}");

    let log = actions(&app).await;
    let target = format!("request:{id}");
    for action in [
        "request.bundle-built",
        "request.answer-released",
        "request.answer-downloaded",
    ] {
        assert!(
            log.iter().any(|(a, t)| a == action && *t == target),
            "{action} missing from {log:?}"
        );
    }
    assert_eq!(
        log.iter()
            .filter(|(a, _)| a == "request.answer-downloaded")
            .count(),
        1
    );

    // Staff send a fresh link: it works once more, and the spent one stays spent.
    let before = app.sink.messages().await.len();
    assert_eq!(press(&app, id, "release", &officer).await.status(), 303);
    let fresh = app.emailed_link(before, "http").await;
    assert_ne!(fresh, link);
    let res = app.press_link_button(&fresh, "/requests/answer").await;
    assert_eq!(res.status(), 200);
    assert!(
        actions(&app)
            .await
            .iter()
            .any(|(a, _)| a == "request.answer-link-renewed")
    );
}

#[tokio::test]
async fn an_answer_link_expires() {
    let (app, _bundles, id, officer, _) = case_with_officer().await;
    let link = build_and_release(&app, id, &officer).await;
    app.clock.advance(time::Duration::days(7));
    let (status, html, _) = app.page(&path_of(&link), "").await;
    assert_eq!(status, 410);
    assert!(html.contains("This link has expired"), "{html}");
    assert!(html.contains("send a new one"));
    let answer = app.stores.answers.answer(id).await.unwrap().unwrap();
    assert_eq!(answer.downloaded_at, None);
}

#[tokio::test]
async fn a_link_not_genuine_for_its_case_is_not_found() {
    let (app, _bundles, id, officer, editor) = case_with_officer().await;
    let link = build_and_release(&app, id, &officer).await;
    let token = link.split("token=").nth(1).unwrap();
    // Another case's number in the same token, a cut token, nothing at all.
    let moved = token.replacen(&format!("{id}-"), &format!("{}-", id + 1), 1);
    let cut = &token[..token.len() - 3];
    for path in [
        format!("/requests/answer?token={moved}"),
        format!("/requests/answer?token={cut}"),
        "/requests/answer?token=1-abc".to_owned(),
        "/requests/answer".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    // The real link still works: none of that spent it.
    assert_eq!(
        app.press_link_button(&link, "/requests/answer")
            .await
            .status(),
        200
    );
    // Staff without the permission cannot build or release, and a case that does not exist
    // is a 404.
    assert_eq!(press(&app, id, "bundle", &editor).await.status(), 403);
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    let missing = app
        .post_form(
            &format!("/admin/requests/{}/bundle", id + 50),
            &[("csrf", token.as_str())],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_case_that_is_not_for_a_copy_has_no_bundle() {
    let (app, _bundles, id, officer, _) = case_with_officer().await;
    // Nothing to release before a bundle is built.
    assert_eq!(press(&app, id, "release", &officer).await.status(), 422);
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    let (_, _, token) = app.page("/requests", &cookie).await;
    app.post_form(
        "/requests",
        &[
            ("csrf", token.as_str()),
            ("kind", "erasure"),
            ("name", "Robin Example"),
            ("email", "robin@example.org"),
            ("details", "Please erase me"),
        ],
        &[("cookie", &cookie)],
    )
    .await;
    let erasure = app
        .stores
        .requests
        .open_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id != id)
        .unwrap();
    assert_eq!(
        press(&app, erasure.id, "bundle", &officer).await.status(),
        422
    );
    assert_eq!(app.stores.answers.answer(erasure.id).await.unwrap(), None);
}

/// Upload `bytes` as `name` to the case's answer.
async fn add_file(
    app: &TestApp,
    id: i64,
    cookie: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), cookie).await;
    let form = reqwest::multipart::Form::new().text("csrf", token).part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    app.client
        .post(format!("{}/admin/requests/{id}/files", app.url))
        .header("origin", &app.url)
        .header("sec-fetch-site", "same-origin")
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Post the withholding form; returns the status and the page (or the redirect's target).
async fn withhold(app: &TestApp, id: i64, cookie: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), cookie).await;
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let res = app
        .post_form(
            &format!("/admin/requests/{id}/withhold"),
            &form,
            &[("cookie", cookie)],
        )
        .await;
    let status = res.status().as_u16();
    if status == 303 {
        let to = res.headers()["location"].to_str().unwrap().to_owned();
        (status, to)
    } else {
        (status, res.text().await.unwrap())
    }
}

#[tokio::test]
async fn added_files_and_withheld_items_shape_the_released_bundle_which_says_what_was_left_out() {
    let (app, _bundles, id, officer, editor) = case_with_officer().await;
    let person = app
        .stores
        .requests
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .person
        .unwrap();
    // A hostile name loses its path and markup; the content is kept byte for byte.
    let script = b"<script>alert(1)</script>".to_vec();
    let res = add_file(
        &app,
        id,
        &officer,
        "../../evil<script>.html",
        script.clone(),
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = add_file(&app, id, &officer, "notes.txt", b"internal notes".to_vec()).await;
    assert_eq!(res.status(), 303);
    let files = app.stores.request_items.request_files(id).await.unwrap();
    assert_eq!(
        files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["evil_script_.html", "notes.txt"]
    );
    let (evil, notes) = (files[0].id, files[1].id);

    // Withheld: the whole history of the person's requests, one row (the case itself), and
    // the second file.
    let (status, to) = withhold(
        &app,
        id,
        &officer,
        &[
            ("table", "data_request_events"),
            ("row", ""),
            ("ground", "crime"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(
        (status, to.as_str()),
        (
            303,
            &*format!("/admin/requests/{id}?done=withheld#answer-heading")
        )
    );
    let case_row = id.to_string();
    let (status, _) = withhold(
        &app,
        id,
        &officer,
        &[
            ("table", "data_requests"),
            ("row", &case_row),
            ("ground", "other"),
            ("note", "Held for an open complaint"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let notes_row = notes.to_string();
    let (status, _) = withhold(
        &app,
        id,
        &officer,
        &[
            ("table", "request_files"),
            ("row", &notes_row),
            ("ground", "other-person"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("evil_script_.html"), "{page}");
    assert!(!page.contains("evil<script>"), "{page}");
    assert!(page.contains("every row of data_request_events"), "{page}");
    assert!(page.contains("Crime and taxation (Sch 2 para 2)"), "{page}");
    assert!(page.contains("Held for an open complaint"), "{page}");

    // A file added and taken away again is not in the answer.
    let res = add_file(&app, id, &officer, "old.txt", b"superseded".to_vec()).await;
    assert_eq!(res.status(), 303);
    let old = app.stores.request_items.request_files(id).await.unwrap()[2].id;
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    let res = app
        .post_form(
            &format!("/admin/requests/{id}/files/{old}/remove"),
            &[("csrf", token.as_str())],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 303);

    // A change after the build: release waits until the bundle is built again.
    assert_eq!(press(&app, id, "bundle", &officer).await.status(), 303);
    let w = app.stores.request_items.withholdings(id).await.unwrap();
    assert_eq!(w[1].item.table, "data_requests");
    let res = app
        .post_form(
            &format!("/admin/requests/{id}/withheld/{}/lift", w[1].id),
            &[("csrf", token.as_str())],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(
        page.contains("build it again before releasing it"),
        "{page}"
    );
    let res = press(&app, id, "release", &officer).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("build it again"));
    assert_ne!(
        app.stores
            .requests
            .request(id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Status::Answered
    );

    let link = build_and_release(&app, id, &officer).await;
    let mail = decode_qp(&app.sink.messages().await.last().unwrap().data);
    assert!(mail.contains("Your data is ready to download"), "{mail}");
    assert!(mail.contains("left some information out"), "{mail}");
    let res = app.press_link_button(&link, "/requests/answer").await;
    assert_eq!(res.status(), 200);
    let zip = res.bytes().await.unwrap();
    let entries = read_stored(&zip).expect("a whole ZIP");
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let entry = |name: &str| entries.iter().find(|(n, _)| n == name).map(|(_, d)| d);
    // The first file is in, as it was sent; the withheld and the removed ones are not.
    assert_eq!(
        entry(&format!("files/{evil}-evil_script_.html")),
        Some(&script)
    );
    assert_eq!(
        names.iter().filter(|n| n.starts_with("files/")).count(),
        1,
        "{names:?}"
    );
    let data: serde_json::Value = serde_json::from_slice(entry(DATA_JSON).unwrap()).unwrap();
    let tables = &data["tables"];
    // A withheld kind stays a key, empty; the row put back is there again.
    assert_eq!(tables["data_request_events"], serde_json::json!([]));
    assert!(
        tables["data_requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id),
        "{tables:#}"
    );
    let file_rows: Vec<i64> = tables["request_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(file_rows, [evil]);
    assert_eq!(tables["people"][0]["id"], person);
    // The person is told what was left out and why.
    let withheld = data["withheld"].as_array().unwrap();
    assert_eq!(withheld.len(), 2, "{withheld:?}");
    assert_eq!(withheld[0]["item"], "every row of data_request_events");
    assert!(
        withheld[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Schedule 2, paragraph 2")
    );
    assert_eq!(withheld[1]["item"], format!("the added file {notes}"));
    assert!(
        withheld[1]["reason"]
            .as_str()
            .unwrap()
            .contains("another person's data")
    );
    let index = String::from_utf8(entry("index.html").unwrap().clone()).unwrap();
    assert!(index.contains("What we left out and why"), "{index}");
    assert!(index.contains("every row of data_request_events"));
    assert!(index.contains(&format!("files/{evil}-evil_script_.html")));
    // The file's markup is never in the summary as markup.
    assert!(!index.contains("<script>"));

    let log = actions(&app).await;
    for action in [
        "request.file-added",
        "request.file-removed",
        "request.item-withheld",
        "request.withholding-lifted",
    ] {
        assert!(log.iter().any(|(a, _)| a == action), "{action} in {log:?}");
    }
    // Answered: the answer's items are settled, and the page says why.
    let (status, page) = withhold(
        &app,
        id,
        &officer,
        &[
            ("table", "people"),
            ("row", ""),
            ("ground", "crime"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("its answer is fixed"), "{page}");

    // Staff without the permission can do none of it.
    assert_eq!(
        add_file(&app, id, &editor, "a.txt", b"a".to_vec())
            .await
            .status(),
        403
    );
    let (status, _) = withhold(
        &app,
        id,
        &editor,
        &[
            ("table", "people"),
            ("row", ""),
            ("ground", "crime"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn bad_files_and_withholdings_are_refused_on_their_field_and_nothing_is_stored() {
    let bundles = tempfile::tempdir().unwrap();
    let dir = bundles.path().to_path_buf();
    let app = spawn_with(move |c| {
        c.requests.bundle_dir = Some(dir);
        c.requests.file_limit_mib = 1;
    })
    .await;
    let officer = app.staff("dpo@example.org", Role::PrivacyOfficer).await;
    app.register_verified("robin@example.org", PASSWORD).await;
    let cookie = app.sign_in("robin@example.org", PASSWORD).await;
    let (_, _, token) = app.page("/requests", &cookie).await;
    app.post_form(
        "/requests",
        &[
            ("csrf", token.as_str()),
            ("kind", "access"),
            ("name", "Robin Example"),
            ("email", "robin@example.org"),
        ],
        &[("cookie", &cookie)],
    )
    .await;
    let id = app.stores.requests.open_requests().await.unwrap()[0].id;

    // Over the limit, empty, or with no usable name.
    let res = add_file(&app, id, &officer, "big.bin", vec![7; 1024 * 1024 + 1]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("larger than 1 MiB"));
    let res = add_file(&app, id, &officer, "empty.txt", Vec::new()).await;
    assert_eq!(res.status(), 422);
    let res = add_file(&app, id, &officer, "../", b"x".to_vec()).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("no usable name"));
    // Exactly the limit is accepted.
    let res = add_file(&app, id, &officer, "max.bin", vec![7; 1024 * 1024]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.stores
            .request_items
            .request_files(id)
            .await
            .unwrap()
            .len(),
        1
    );

    for (fields, problem) in [
        (
            [
                ("table", "pg_user"),
                ("row", ""),
                ("ground", "crime"),
                ("note", ""),
            ],
            "is not a kind of data the bundle holds",
        ),
        (
            [
                ("table", "people"),
                ("row", "x"),
                ("ground", "crime"),
                ("note", ""),
            ],
            "is not a row number",
        ),
        (
            [
                ("table", "people"),
                ("row", "99999"),
                ("ground", "crime"),
                ("note", ""),
            ],
            "has no row 99999 of people",
        ),
        (
            [
                ("table", "people"),
                ("row", ""),
                ("ground", "whim"),
                ("note", ""),
            ],
            "Choose why the item is withheld",
        ),
        (
            [
                ("table", "people"),
                ("row", ""),
                ("ground", "other"),
                ("note", " "),
            ],
            "Say why the item is withheld",
        ),
        (
            [
                ("table", "request_withholdings"),
                ("row", ""),
                ("ground", "crime"),
                ("note", ""),
            ],
            "is not a kind of data the bundle holds",
        ),
    ] {
        let (status, page) = withhold(&app, id, &officer, &fields).await;
        assert_eq!(status, 422, "{fields:?}");
        assert!(page.contains(problem), "{fields:?}: {page}");
    }
    // An unknown field is refused.
    let (status, _) = withhold(
        &app,
        id,
        &officer,
        &[("table", "people"), ("ground", "crime"), ("role", "admin")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        app.stores
            .request_items
            .withholdings(id)
            .await
            .unwrap()
            .is_empty()
    );
    // The same item twice.
    let once = [
        ("table", "people"),
        ("row", ""),
        ("ground", "crime"),
        ("note", ""),
    ];
    assert_eq!(withhold(&app, id, &officer, &once).await.0, 303);
    let (status, page) = withhold(&app, id, &officer, &once).await;
    assert_eq!(status, 422);
    assert!(page.contains("withheld already"), "{page}");
    assert_eq!(
        app.stores
            .request_items
            .withholdings(id)
            .await
            .unwrap()
            .len(),
        1
    );
    // Another case's file or withholding, or no such case: not found.
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    for path in [
        format!("/admin/requests/{id}/files/999/remove"),
        format!("/admin/requests/{id}/withheld/999/lift"),
        format!("/admin/requests/{}/withheld/1/lift", id + 7),
    ] {
        let res = app
            .post_form(&path, &[("csrf", token.as_str())], &[("cookie", &officer)])
            .await;
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_download_email_is_the_answer_ready_wording_and_must_carry_the_link() {
    let (app, _bundles, id, officer, _) = case_with_officer().await;
    let path = "/admin/requests/templates/answer-ready";
    let save = async |subject: &str, body: &str| {
        let (status, _, token) = app.page(path, &officer).await;
        assert_eq!(status, 200);
        app.post_form(
            path,
            &[
                ("csrf", token.as_str()),
                ("action", "save"),
                ("subject", subject),
                ("body", body),
            ],
            &[("cookie", &officer)],
        )
        .await
    };
    // Without the link (or its expiry) the person could not get their data: refused.
    let res = save("Ready", "Your data is ready. {{until}}").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("{{download_link}}"));
    let res = save(
        "Request {{request_number}}: your copy",
        "Hello {{name}}. Fetch it here: {{download_link}} (until {{until}}).",
    )
    .await;
    assert_eq!(res.status(), 303);
    let link = build_and_release(&app, id, &officer).await;
    let mail = decode_qp(&app.sink.messages().await.last().unwrap().data);
    assert!(mail.contains(&format!("Request {id}: your copy")), "{mail}");
    assert!(
        mail.contains("Hello Robin Example. Fetch it here: http"),
        "{mail}"
    );
    assert!(mail.contains(&link), "{mail}");
}

#[tokio::test]
async fn building_a_bundle_is_a_disclosure_and_the_bundle_lists_the_persons_disclosures() {
    use candour_core::Clock;
    use candour_core::bundle::INDEX_HTML;
    let (app, bundles, id, officer, _) = case_with_officer().await;
    let person = app
        .stores
        .requests
        .request(id)
        .await
        .unwrap()
        .unwrap()
        .person
        .unwrap();
    let add = |name: &'static str| {
        let app = &app;
        async move {
            app.stores
                .disclosures
                .add_recipient(
                    &candour_core::disclosures::RecipientDraft {
                        name: name.into(),
                        purpose: "Acting for the person".into(),
                        basis: candour_core::purposes::LawfulBasis::LegalObligation,
                    },
                    app.clock.now(),
                )
                .await
                .unwrap()
        }
    };
    let solicitor = add("Their solicitor").await;
    let retired = add("Old solicitor").await;
    app.stores
        .disclosures
        .set_recipient_active(retired, false)
        .await
        .unwrap();
    let (_, page, token) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("Who is this export for?"), "{page}");
    let build = |fields: Vec<(&'static str, String)>| {
        let mut body = vec![("csrf", token.clone())];
        body.extend(fields);
        let app = &app;
        let officer = officer.clone();
        async move {
            let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_form(
                &format!("/admin/requests/{id}/bundle"),
                &body,
                &[("cookie", &officer)],
            )
            .await
        }
    };
    // Refused: no bundle written, none recorded, no disclosure.
    for (fields, words) in [
        (vec![], "Choose who the export is for"),
        (
            vec![("for", retired.to_string())],
            "not an active one in the register",
        ),
    ] {
        let res = build(fields).await;
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        // The case page again, the problem beside the field.
        assert!(page.contains(&format!("Request {id}: ")), "{page}");
        assert_field_error(&page, "for", words);
    }
    let res = build(vec![("for", "internal".into())]).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert_field_error(&page, "for_purpose", "Say what the export is for");
    assert!(
        page.contains("<option value=\"internal\" selected>"),
        "{page}"
    );
    assert_eq!(app.stores.answers.answer(id).await.unwrap(), None);
    assert_eq!(std::fs::read_dir(bundles.path()).unwrap().count(), 0);
    assert!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .is_empty()
    );

    // Built for the solicitor: recorded, covering the person.
    let res = build(vec![("for", solicitor.to_string())]).await;
    assert_eq!(res.status(), 303);
    let made = app.stores.disclosures.latest_disclosures(5).await.unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].recipient, Some(solicitor));
    assert_eq!(made[0].kind, "request-bundle");
    assert_eq!(made[0].description, format!("request {id}"));
    assert_eq!(
        app.stores
            .disclosures
            .disclosed_people(made[0].id)
            .await
            .unwrap(),
        [person]
    );
    // Built again, the new bundle lists that disclosure: to whom, why, on what basis, what.
    let res = build(vec![
        ("for", "internal".into()),
        ("for_purpose", "Answering the request".into()),
    ])
    .await;
    assert_eq!(res.status(), 303);
    let answer = app.stores.answers.answer(id).await.unwrap().unwrap();
    let zip = std::fs::read(bundles.path().join(&answer.file)).unwrap();
    let entries = read_stored(&zip).unwrap();
    let entry = |name: &str| {
        String::from_utf8(entries.iter().find(|(n, _)| n == name).unwrap().1.clone()).unwrap()
    };
    let data: serde_json::Value = serde_json::from_str(&entry(DATA_JSON)).unwrap();
    let listed = data["supplementary"]["disclosures"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["to"], "Their solicitor");
    assert_eq!(listed[0]["purpose"], "Acting for the person");
    assert_eq!(listed[0]["basis"], "a legal obligation");
    assert!(
        listed[0]["what"]
            .as_str()
            .unwrap()
            .contains("a copy of your data")
    );
    let index = entry(INDEX_HTML);
    assert!(index.contains("Each time your data was exported"));
    assert!(
        index.contains(
            "<td>Their solicitor</td><td>Acting for the person</td><td>a legal obligation</td>"
        ),
        "{index}"
    );
    assert_eq!(
        app.stores
            .disclosures
            .latest_disclosures(5)
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The ids of the case's added files and withholdings.
async fn item_ids(app: &TestApp, id: i64) -> (Vec<i64>, Vec<i64>) {
    let items = &app.stores.request_items;
    (
        items
            .request_files(id)
            .await
            .unwrap()
            .iter()
            .map(|f| f.id)
            .collect(),
        items
            .withholdings(id)
            .await
            .unwrap()
            .iter()
            .map(|w| w.id)
            .collect(),
    )
}

#[tokio::test]
async fn staff_download_a_built_bundle_to_check_it_which_is_audited_and_no_disclosure() {
    let (app, _bundles, id, officer, editor) = case_with_officer().await;
    // Nothing to check yet: the case page says so beside the answer.
    let res = press(&app, id, "bundle/check", &officer).await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<a href=\"#bundle\">No bundle has been built"),
        "{page}"
    );
    assert!(page.contains("id=\"bundle\""), "{page}");

    assert_eq!(press(&app, id, "bundle", &officer).await.status(), 303);
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("Download the bundle to check it"), "{page}");
    let disclosed = app.stores.disclosures.latest_disclosures(10).await.unwrap();
    assert_eq!(disclosed.len(), 1, "building it is the disclosure");

    let res = press(&app, id, "bundle/check", &officer).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"request-{id}-bundle.zip\"").as_str()
    );
    let zip = res.bytes().await.unwrap();
    let entries = read_stored(&zip).expect("a whole ZIP");
    let data = &entries.iter().find(|(n, _)| n == DATA_JSON).unwrap().1;
    let data: serde_json::Value = serde_json::from_slice(data).unwrap();
    let case = app.stores.requests.request(id).await.unwrap().unwrap();
    assert_eq!(data["person"], case.person.unwrap());
    // Audited as a check, and not recorded as a disclosure.
    let audit = app.stores.audit.recent(20).await.unwrap();
    let checked = audit
        .iter()
        .find(|e| e.action == "request.bundle-checked")
        .expect("the check is audited");
    assert_eq!(checked.target, format!("request:{id}"));
    assert_eq!(checked.actor_email, "dpo@example.org");
    assert!(
        checked.detail.contains("not a disclosure"),
        "{}",
        checked.detail
    );
    assert_eq!(
        app.stores.disclosures.latest_disclosures(10).await.unwrap(),
        disclosed
    );
    // Nor does it move the case or spend anything.
    assert!(case.status.is_open(), "{:?}", case.status);
    assert!(
        app.stores
            .answers
            .answer(id)
            .await
            .unwrap()
            .unwrap()
            .released_at
            .is_none()
    );

    // Only staff who manage requests; only a confirmed case of this number.
    assert_eq!(press(&app, id, "bundle/check", &editor).await.status(), 403);
    let (_, _, token) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    let res = app
        .post_form(
            &format!("/admin/requests/{}/bundle/check", id + 7),
            &[("csrf", token.as_str())],
            &[("cookie", &officer)],
        )
        .await;
    assert_eq!(res.status(), 404);

    // A bundle out of date can be checked (and says so in the log), not released.
    let res = add_file(&app, id, &officer, "notes.txt", b"notes".to_vec()).await;
    assert_eq!(res.status(), 303);
    let res = press(&app, id, "bundle/check", &officer).await;
    assert_eq!(res.status(), 200);
    let audit = app.stores.audit.recent(5).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "request.bundle-checked" && e.detail.contains("out of date"))
    );
    let res = press(&app, id, "release", &officer).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<a href=\"#bundle\">The added files"),
        "{page}"
    );

    // Built again and released: the person's link still downloads it once.
    let link = build_and_release(&app, id, &officer).await;
    let res = press(&app, id, "bundle/check", &officer).await;
    assert_eq!(res.status(), 200, "staff can still read what was sent");
    let res = app.press_link_button(&link, "/requests/answer").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        read_stored(&res.bytes().await.unwrap())
            .unwrap()
            .iter()
            .filter(|(n, _)| n.starts_with("files/"))
            .count(),
        1
    );
}

#[tokio::test]
async fn an_answered_case_keeps_its_answer_and_the_page_says_why() {
    let (app, _bundles, id, officer, _) = case_with_officer().await;
    assert_eq!(
        add_file(&app, id, &officer, "notes.txt", b"notes".to_vec())
            .await
            .status(),
        303
    );
    let (status, _) = withhold(
        &app,
        id,
        &officer,
        &[
            ("table", "data_request_events"),
            ("row", ""),
            ("ground", "crime"),
            ("note", ""),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(!page.contains("its answer is fixed"), "{page}");
    build_and_release(&app, id, &officer).await;
    let (files, withheld) = item_ids(&app, id).await;
    assert_eq!((files.len(), withheld.len()), (1, 1));

    // The page shows the items as they stand, says why they cannot change, and offers no
    // form that would change them; a new link can still be sent.
    let (_, page, _) = app.page(&format!("/admin/requests/{id}"), &officer).await;
    assert!(page.contains("id=\"items-locked\""), "{page}");
    assert!(page.contains("its answer is fixed"), "{page}");
    assert!(page.contains("notes.txt"));
    assert!(page.contains("every row of data_request_events"));
    for gone in [
        "Add the file",
        "Withhold it",
        "Remove notes.txt",
        "Put back",
        "Build the bundle",
    ] {
        assert!(!page.contains(gone), "{gone} is still offered: {page}");
    }
    assert!(page.contains("Send a new download link"));

    // Each change is refused with the case page saying why, and changes nothing.
    let check = |res: (u16, String), anchor: &'static str| {
        assert_eq!(res.0, 409, "{}", res.1);
        assert!(
            res.1.contains(&format!(
                "<a href=\"#{anchor}\">This request has been answered"
            )),
            "{}",
            res.1
        );
        assert!(res.1.contains(&format!("id=\"{anchor}\"")), "{}", res.1);
    };
    let res = add_file(&app, id, &officer, "late.txt", b"late".to_vec()).await;
    check((res.status().as_u16(), res.text().await.unwrap()), "items");
    check(
        withhold(
            &app,
            id,
            &officer,
            &[
                ("table", "people"),
                ("row", ""),
                ("ground", "crime"),
                ("note", ""),
            ],
        )
        .await,
        "items",
    );
    for what in [
        format!("files/{}/remove", files[0]),
        format!("withheld/{}/lift", withheld[0]),
        "bundle".to_owned(),
    ] {
        let res = press(&app, id, &what, &officer).await;
        let anchor = if what == "bundle" { "bundle" } else { "items" };
        check((res.status().as_u16(), res.text().await.unwrap()), anchor);
    }
    assert_eq!(item_ids(&app, id).await, (files, withheld));
    assert!(
        !app.stores
            .request_items
            .item_versions(id)
            .await
            .unwrap()
            .stale()
    );
    // A new link to the same bundle is still sent.
    assert_eq!(press(&app, id, "release", &officer).await.status(), 303);
}
