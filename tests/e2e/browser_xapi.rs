//! A Tin Can package in headless Chromium against the real server: the
//! player on the content origin delivers the course with the launch
//! parameters, the course's own JavaScript reports to the LRS on the API
//! origin (CORS) with the launch token, and the registration's progress
//! shows what it reported.

use std::time::Duration;

use e2e::browser::{Browser, wait_for};
use e2e::{TestApp, packages};

use crate::lrs_launch::{COURSE_IRI, progress, registered};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tincan_course_reports_its_progress_from_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Browser").await;
    let launch = registered(
        &app,
        &ws.live_key,
        packages::tincan_reporting(),
        "browser-1",
    )
    .await;
    assert!(launch.starts_with(&app.content), "{launch}");
    let before = progress(&app, &ws.live_key, "browser-1").await;
    assert_eq!(before["completion"], "not_attempted");
    browser
        .run(async |client| {
            client.goto(&launch).await.unwrap();
            let frame = "document.getElementById('ac-frame')";
            let outcome = wait_for(
                client,
                &format!(
                    "(() => {{ const body = {frame}.contentDocument.body; \
                     return body && (body.dataset.results || (body.dataset.error && 'error: ' + body.dataset.error)); }})()"
                ),
                "the course's reports",
                Duration::from_secs(30),
            )
            .await;
            assert_eq!(
                outcome, "200,204,200",
                "initialized, the State document, completed + passed"
            );
            let lang = wait_for(
                client,
                &format!("{frame}.contentDocument.body.dataset.lang"),
                "the package's own query parameter",
                Duration::from_secs(5),
            )
            .await;
            assert_eq!(lang, "en");
        })
        .await;
    let reported = progress(&app, &ws.live_key, "browser-1").await;
    assert_eq!(reported["completion"], "completed", "{reported}");
    assert_eq!(reported["success"], "passed");
    assert_eq!(reported["score"]["scaled"], 0.85);
    assert_eq!(reported["score"]["raw"], 85.0);
    assert_eq!(reported["activities"][0]["id"], COURSE_IRI);
    let launches = e2e::json(
        app.get(&ws.live_key, "/api/v1/registrations/browser-1/launches")
            .await,
        200,
    )
    .await;
    assert_eq!(launches["launches"].as_array().unwrap().len(), 1);
    app.stop().await;
}
