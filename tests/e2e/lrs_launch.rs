//! xAPI (Tin Can) packages launched through the player: the launch
//! parameters, the launch-scoped token and what it may do, statements as
//! registration progress, and the registrations view rebuilt by replay.
//! `browser_xapi` runs the same launch in Chromium.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use e2e::{TestApp, error, json, packages};
use reqwest::Method;
use serde_json::{Value, json};

use crate::lrs::{COMPLETED, agent};

pub(crate) const COURSE_IRI: &str = "http://example.com/tests/tincan-course";
const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
const INITIALIZED: &str = "http://adlnet.gov/expapi/verbs/initialized";

/// A Tin Can course and a registration of learner `l1` on it; returns the
/// player's launch URL.
pub(crate) async fn registered(
    app: &TestApp,
    key: &str,
    package: Vec<u8>,
    registration: &str,
) -> String {
    let import = app.import(key, "tincan", package).await;
    assert_eq!(import["status"], "complete", "{import}");
    json(
        app.post(
            key,
            "/api/v1/registrations",
            &json!({"registration_id": registration, "course_id": "tincan",
                "learner": {"id": "l1", "first_name": "Ada", "last_name": "Lovelace"}}),
        )
        .await,
        201,
    )
    .await;
    let link = json(
        app.post(
            key,
            &format!("/api/v1/registrations/{registration}/launch-link"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    link["launch_url"].as_str().unwrap().to_owned()
}

/// Starts a player session for `launch_url` and delivers the course, as
/// player.js does; returns the delivery.
async fn deliver(app: &TestApp, launch_url: &str) -> Value {
    let token = launch_url.rsplit('/').next().unwrap();
    let started = json(
        app.client
            .post(format!("{}/runtime/sessions", app.content))
            .json(&json!({"launch_token": token}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        started["navigation"]["deliver"], COURSE_IRI,
        "the course activity is delivered first: {started}"
    );
    let session = started["session_token"].as_str().unwrap();
    json(
        app.client
            .post(format!("{}/runtime/{session}/deliver", app.content))
            .json(&json!({"activity_id": COURSE_IRI}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// The query parameters of a delivered URL.
fn parameters(app: &TestApp, url: &str) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(&format!("{}{url}", app.content)).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Waits until every view has applied every event appended so far: statement writes
/// answer before the views show them, and a read by another caller (the workspace key
/// after the launch token wrote) does not wait for them. On PostgreSQL `head()` may
/// still lag behind a committed append (an older transaction open), so this waits for
/// the newest event in the table.
pub(crate) async fn settled(app: &TestApp) {
    let platform = &app.state.platform;
    let newest = platform
        .db
        .fetch_optional(store::db::sql("SELECT max(position) FROM events"))
        .await
        .unwrap()
        .and_then(|row| row.get::<Option<i64>>(0).unwrap());
    let Some(newest) = newest else { return };
    let checkpoint = platform.log.checkpoint_of(newest).await.unwrap().unwrap();
    platform
        .projections
        .wait_all(checkpoint, Duration::from_secs(20))
        .await
        .unwrap();
}

pub(crate) async fn progress(app: &TestApp, key: &str, registration: &str) -> Value {
    settled(app).await;
    json(
        app.get(
            key,
            &format!("/api/v1/registrations/{registration}/progress"),
        )
        .await,
        200,
    )
    .await
}

fn as_learner(actor: &Value, registration: &str, verb: &str, result: Value) -> Value {
    json!({
        "actor": actor,
        "verb": {"id": verb},
        "object": {"id": COURSE_IRI, "objectType": "Activity"},
        "result": result,
        "context": {"registration": registration},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tincan_launch_reports_progress_with_a_token_of_its_own() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Tin Can").await;
    let launch = registered(&app, &ws.live_key, packages::tincan(), "enrolment-1").await;
    let delivery = deliver(&app, &launch).await;
    assert_eq!(delivery["scorm"], false);
    assert!(delivery.get("context").is_none(), "{delivery}");
    let url = delivery["url"].as_str().unwrap();
    assert!(
        url.starts_with("/content/"),
        "served from the content origin: {url}"
    );
    let params = parameters(&app, url);

    // The launch convention's parameters.
    assert_eq!(params["endpoint"], format!("{}/xapi/", app.address));
    assert_eq!(params["activity_id"], COURSE_IRI);
    let registration = domain::lrs::launch::registration_uuid("enrolment-1").to_string();
    assert_eq!(params["registration"], registration);
    let actor: Value = serde_json::from_str(&params["actor"]).unwrap();
    assert_eq!(
        actor,
        json!({"objectType": "Agent", "name": "Ada Lovelace",
            "account": {"homePage": app.address, "name": "l1"}})
    );
    // `auth` is a launch token, never a workspace credential.
    let auth = &params["auth"];
    let basic = auth.strip_prefix("Basic ").expect("Basic auth");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .unwrap();
    let user = String::from_utf8(decoded).unwrap();
    assert!(user.starts_with("launch_"), "{user}");
    assert!(!auth.contains(&ws.live_key) && !auth.contains(&ws.test_key));

    let content = app.xapi(auth, "1.0.3");
    let before = progress(&app, &ws.live_key, "enrolment-1").await;
    assert_eq!(before["completion"], "not_attempted");

    // What the token may not do.
    let other_actor = as_learner(&agent("mallory"), &registration, COMPLETED, json!({}));
    error(
        content.post_statements(&other_actor).await,
        403,
        "forbidden",
    )
    .await;
    let other_registration = as_learner(
        &actor,
        &uuid::Uuid::new_v4().to_string(),
        COMPLETED,
        json!({}),
    );
    error(
        content.post_statements(&other_registration).await,
        403,
        "forbidden",
    )
    .await;
    let mut no_registration = as_learner(&actor, &registration, COMPLETED, json!({}));
    no_registration["context"] = json!({});
    error(
        content.post_statements(&no_registration).await,
        403,
        "forbidden",
    )
    .await;
    let actor_text = actor.to_string();
    let profile = content
        .document(
            Method::PUT,
            "/agents/profile",
            &[("agent", &actor_text), ("profileId", "prefs")],
        )
        .json(&json!({"language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 403, "content writes State only");
    let elsewhere = content
        .document(
            Method::PUT,
            "/activities/state",
            &[
                ("activityId", COURSE_IRI),
                ("agent", &actor_text),
                ("stateId", "bookmark"),
                ("registration", &uuid::Uuid::new_v4().to_string()),
            ],
        )
        .json(&json!({"page": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403, "another registration's State");
    let other_ws = app.create_workspace("Other").await;
    let key_elsewhere = app.xapi(&format!("Bearer {}", other_ws.live_key), "1.0.3");
    assert!(
        key_elsewhere
            .ids(&[("registration", &registration)])
            .await
            .is_empty()
    );
    let refused = progress(&app, &ws.live_key, "enrolment-1").await;
    assert_eq!(
        refused["completion"], "not_attempted",
        "refused statements report nothing"
    );

    // What it may do: State of its registration, statements of its learner.
    let bookmark = content
        .document(
            Method::PUT,
            "/activities/state",
            &[
                ("activityId", COURSE_IRI),
                ("agent", &actor_text),
                ("stateId", "bookmark"),
                ("registration", &registration),
            ],
        )
        .json(&json!({"page": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(bookmark.status(), 204);
    content
        .store(&as_learner(&actor, &registration, INITIALIZED, json!({})))
        .await;
    let started = progress(&app, &ws.live_key, "enrolment-1").await;
    assert_eq!(started["completion"], "incomplete", "{started}");
    assert_eq!(started["success"], "unknown");
    assert!(started["first_access"].is_string());

    // Statements about another activity, or of another registration (a
    // workspace key may write those), are not this registration's.
    content
        .store(&json!({"actor": actor, "verb": {"id": COMPLETED},
            "object": {"id": "http://example.com/tests/some-page"},
            "context": {"registration": registration}}))
        .await;
    app.xapi_key(&ws.live_key)
        .store(&as_learner(
            &actor,
            &uuid::Uuid::new_v4().to_string(),
            PASSED,
            json!({}),
        ))
        .await;
    assert_eq!(
        progress(&app, &ws.live_key, "enrolment-1").await["completion"],
        "incomplete"
    );

    content
        .store(&json!([
            as_learner(&actor, &registration, COMPLETED, json!({})),
            as_learner(
                &actor,
                &registration,
                FAILED,
                json!({"score": {"raw": 4, "max": 10}})
            ),
        ]))
        .await;
    let failed = progress(&app, &ws.live_key, "enrolment-1").await;
    assert_eq!(failed["completion"], "completed");
    assert_eq!(failed["success"], "failed");
    assert_eq!(failed["score"]["raw"], 4.0);
    assert_eq!(failed["score"]["scaled"], 0.4);
    assert!(failed["completed_at"].is_string());

    content
        .store(&as_learner(
            &actor,
            &registration,
            PASSED,
            json!({"score": {"scaled": 0.9, "raw": 9, "min": 0, "max": 10}}),
        ))
        .await;
    let passed = progress(&app, &ws.live_key, "enrolment-1").await;
    assert_eq!(passed["completion"], "completed");
    assert_eq!(passed["success"], "passed");
    assert_eq!(passed["score"]["scaled"], 0.9);
    let activity = &passed["activities"][0];
    assert_eq!(activity["id"], COURSE_IRI);
    assert_eq!(activity["completion"], "completed");
    assert_eq!(activity["success"], "passed");
    assert_eq!(activity["score"]["max"], 10.0);

    // The statements are the learner's in the LRS, readable with the key.
    let lrs = app.xapi_key(&ws.live_key);
    assert_eq!(
        lrs.ids(&[("registration", &registration), ("activity", COURSE_IRI)])
            .await
            .len(),
        4
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_starts_the_progress_again_and_replay_rebuilds_it() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Replay").await;
    let id = uuid::Uuid::now_v7().to_string();
    let launch = registered(&app, &ws.live_key, packages::tincan(), &id).await;
    let delivery = deliver(&app, &launch).await;
    let params = parameters(&app, delivery["url"].as_str().unwrap());
    assert_eq!(
        params["registration"], id,
        "a UUID id is its own registration"
    );
    let actor: Value = serde_json::from_str(&params["actor"]).unwrap();
    let content = app.xapi(&params["auth"], "2.0.0");
    content
        .store(&as_learner(
            &actor,
            &id,
            PASSED,
            json!({"score": {"scaled": 0.7}}),
        ))
        .await;
    assert_eq!(progress(&app, &ws.live_key, &id).await["success"], "passed");
    let reset = app
        .post(
            &ws.live_key,
            &format!("/api/v1/registrations/{id}/reset"),
            &json!({}),
        )
        .await;
    assert!(reset.status().is_success(), "{}", reset.status());
    let again = progress(&app, &ws.live_key, &id).await;
    assert_eq!(again["completion"], "not_attempted");
    assert_eq!(again["attempt"], 2);
    content
        .store(&as_learner(&actor, &id, COMPLETED, json!({})))
        .await;
    let second = progress(&app, &ws.live_key, &id).await;
    assert_eq!(second["completion"], "completed");
    assert_eq!(
        second["success"], "unknown",
        "the first attempt's success is gone"
    );

    // The view is a function of the log.
    let platform = &app.state.platform;
    settled(&app).await;
    let view = projections::all()
        .into_iter()
        .find(|p| p.name() == "registrations")
        .unwrap();
    let live = projections::dump::projection(&platform.db, view.as_ref())
        .await
        .unwrap();
    let xapi_rows = live
        .iter()
        .find(|(table, _)| table == "registration_xapi")
        .map(|(_, rows)| rows.len());
    assert_eq!(xapi_rows, Some(1), "{live:?}");
    let mut app = app;
    app.halt().await;
    let offline = api::platform::Platform::open(&app.storage()).await.unwrap();
    let report = offline.projections.replay("registrations").await.unwrap();
    assert!(report.events > 0);
    let rebuilt = projections::dump::projection(&offline.db, view.as_ref())
        .await
        .unwrap();
    assert_eq!(live, rebuilt, "the registrations view rebuilt differently");
    offline.db.close().await;
}
