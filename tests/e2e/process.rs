//! The real binary: crash safety, clean shutdown, configuration errors,
//! the command line, replay.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::process::{ProcessEnv, free_port};
use serde_json::Value;
use store::testing::TestDb;

struct Fixture {
    env: ProcessEnv,
    dir: tempfile::TempDir,
    _db: TestDb,
}

async fn fixture() -> Fixture {
    e2e::init();
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    Fixture {
        env: ProcessEnv {
            binary: env!("CARGO_BIN_EXE_ac-e2e-server").into(),
            data_dir: dir.path().join("data"),
            database_url: db.url().to_owned(),
        },
        dir,
        _db: db,
    }
}

async fn create_workspace(env: &ProcessEnv, name: &str) -> Value {
    let out = env.run(&["workspace", "create", name]).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "workspace create must print one JSON object: {out}"
    );
    serde_json::from_str(lines[0]).unwrap()
}

async fn wait_for_key(client: &reqwest::Client, address: &str, key: &str) {
    for _ in 0..200 {
        let r = client
            .get(format!("{address}/api/v1/workspace"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the key of a workspace created by the command line never worked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_appends_loses_no_acknowledged_write() {
    let f = fixture().await;
    let ws = create_workspace(&f.env, "Crash").await;
    let key = ws["live_key"].as_str().unwrap().to_owned();
    let server = f.env.serve(&f.dir.path().join("server-1.log")).await;
    let client = reqwest::Client::new();
    wait_for_key(&client, &server.address, &key).await;

    // Writers create keys as fast as they can; every 201 is an acknowledged append.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(String, i64)>();
    let mut writers = Vec::new();
    for w in 0..8 {
        let client = client.clone();
        let address = server.address.clone();
        let key = key.clone();
        let acked = acked_tx.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let response = client
                    .post(format!("{address}/api/v1/api-keys"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({ "label": format!("w{w}-{i}") }))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 201 => {
                        let Ok(body) = r.json::<Value>().await else {
                            return;
                        };
                        let _ = acked.send((
                            body["id"].as_str().unwrap().to_owned(),
                            body["position"].as_i64().unwrap(),
                        ));
                    }
                    // The server died under us: the write was not acknowledged.
                    _ => return,
                }
            }
        }));
    }
    drop(acked_tx);
    // Let appends flow, then pull the plug mid-stream.
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 60 {
        acknowledged.push(acked_rx.recv().await.expect("writers stopped early"));
    }
    server.kill_9().await;
    for writer in writers {
        writer.await.unwrap();
    }
    while let Ok(more) = acked_rx.try_recv() {
        acknowledged.push(more);
    }

    // After a restart every acknowledged key is in the log and in the view.
    let server = f.env.serve(&f.dir.path().join("server-2.log")).await;
    let events = e2e::all_events(&client, &server.address, &key).await;
    let in_log: BTreeSet<String> = events
        .iter()
        .filter(|e| e["type"] == "ApiKeyCreated")
        .map(|e| e["data"]["key_id"].as_str().unwrap().to_owned())
        .collect();
    // Read the view at the log's head: a write may have committed without
    // being acknowledged, after the last acknowledged one.
    let max_position = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .max()
        .unwrap();
    let listed: Value = client
        .get(format!(
            "{}/api/v1/api-keys?min_position={max_position}",
            server.address
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let in_view: BTreeSet<String> = listed["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    for (id, position) in &acknowledged {
        assert!(
            in_log.contains(id),
            "acknowledged key {id} (position {position}) is not in the log"
        );
        assert!(
            in_view.contains(id),
            "acknowledged key {id} is not in the view after restart"
        );
    }
    if in_log != in_view {
        let missing: Vec<&Value> = events
            .iter()
            .filter(|e| {
                e["type"] == "ApiKeyCreated"
                    && !in_view.contains(e["data"]["key_id"].as_str().unwrap())
            })
            .collect();
        let ready = client
            .get(format!("{}/readyz", server.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let log = std::fs::read_to_string(f.dir.path().join("server-2.log")).unwrap_or_default();
        panic!(
            "the view after restart differs from the log; read at {max_position}; missing {missing:?}; readyz {ready}; log {log}"
        );
    }
    server.kill_9().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let f = fixture().await;
    let server = f.env.serve(&f.dir.path().join("server.log")).await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_end_the_process_with_one_line() {
    let f = fixture().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("ALLURECONNECT_LISTEN", "not-an-address")],
            "invalid socket address",
        ),
        (
            &[("ALLURECONNECT_DATABASE_URL", "mysql://x")],
            "database url must start with",
        ),
        (
            &[(
                "ALLURECONNECT_DATABASE_URL",
                "postgres://nobody:secret@127.0.0.1:1/none",
            )],
            "cannot open the database",
        ),
        (
            &[("ALLURECONNECT_SQLITE_DURABILITY", "sometimes")],
            "sqlite durability",
        ),
        (
            &[("ALLURECONNECT_BLOB_STORE", "gs://bucket")],
            "blob store url",
        ),
        (&[("ALLURECONNECT_PUBLIC_URL", "ftp://x")], "public url"),
        (
            &[("ALLURECONNECT_WEBHOOKS_RETRY_SCALE", "0")],
            "webhooks retry scale",
        ),
        (
            &[("ALLURECONNECT_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "maybe")],
            "webhooks-allow-private-targets",
        ),
    ];
    for (vars, expected) in cases {
        let mut command = f.env.command(&["serve"]);
        command.env("ALLURECONNECT_LISTEN", format!("127.0.0.1:{}", free_port()));
        for (name, value) in *vars {
            command.env(name, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .expect("the process did not exit")
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{vars:?} was accepted");
        let reason: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("allureconnect: "))
            .collect();
        assert_eq!(
            reason.len(),
            1,
            "{vars:?}: expected one reason line, got: {stderr}"
        );
        assert!(reason[0].contains(expected), "{vars:?}: {}", reason[0]);
        assert!(
            !reason[0].contains("secret"),
            "the password leaked: {}",
            reason[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_rebuilds_the_views_the_server_built() {
    let f = fixture().await;
    let a = create_workspace(&f.env, "Replay A").await;
    let b = create_workspace(&f.env, "Replay B").await;
    let server = f.env.serve(&f.dir.path().join("server.log")).await;
    let client = reqwest::Client::new();
    let mut last = 0;
    for ws in [&a, &b] {
        let key = ws["live_key"].as_str().unwrap();
        wait_for_key(&client, &server.address, key).await;
        for i in 0..3 {
            let r: Value = client
                .post(format!("{}/api/v1/api-keys", server.address))
                .bearer_auth(key)
                .json(&serde_json::json!({ "label": format!("r{i}") }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            last = r["position"].as_i64().unwrap();
        }
    }
    let key = a["live_key"].as_str().unwrap();
    // Courses too: an import, a failed import, a second version, an update, a delete.
    for (id, package) in [
        ("r-course", e2e::packages::scorm12()),
        ("r-course", e2e::packages::scorm2004(2)),
        ("r-other", e2e::packages::cmi5()),
        ("r-bad", b"not a zip".to_vec()),
    ] {
        let status = client
            .post(format!("{}/api/v1/courses?course_id={id}", server.address))
            .bearer_auth(key)
            .header("content-type", "application/zip")
            .body(package)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status == 201 || status == 422, "{id}: {status}");
    }
    let patched = client
        .patch(format!("{}/api/v1/courses/r-course", server.address))
        .bearer_auth(key)
        .json(&serde_json::json!({"tags": ["replayed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let deleted = client
        .delete(format!("{}/api/v1/courses/r-other", server.address))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // A registration with a runtime session: deliveries, batches, a refusal.
    let registered = client
        .post(format!("{}/api/v1/registrations", server.address))
        .bearer_auth(key)
        .json(&serde_json::json!({"registration_id": "r-replay", "course_id": "r-course", "learner": {"id": "l1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let link: Value = client
        .post(format!(
            "{}/api/v1/registrations/r-replay/launch-link",
            server.address
        ))
        .bearer_auth(key)
        .json(&serde_json::json!({"expiry_seconds": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let launch_token = link["launch_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let session: Value = client
        .post(format!("{}/runtime/sessions", server.content))
        .json(&serde_json::json!({"launch_token": launch_token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["session_token"].as_str().unwrap();
    let runtime = |path: &str| format!("{}/runtime/{token}/{path}", server.content);
    let deliver = client
        .post(runtime("deliver"))
        .json(&serde_json::json!({"activity_id": "i1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(deliver.status(), 200);
    let calls = serde_json::json!([
        {"seq": 0, "fn": "Initialize", "arg": "", "result": "true", "error": 0},
        {"seq": 1, "fn": "SetValue", "element": "cmi.location", "value": "p3", "result": "true", "error": 0},
        {"seq": 2, "fn": "SetValue", "element": "cmi.score.scaled", "value": "0.5", "result": "true", "error": 0},
        {"seq": 3, "fn": "GetValue", "element": "cmi.location", "result": "p3", "error": 0},
        {"seq": 4, "fn": "Commit", "arg": "", "result": "true", "error": 0}
    ]);
    let committed = client
        .post(runtime("commit"))
        .json(&serde_json::json!({"batch": 1, "activity_id": "i1", "calls": calls}))
        .send()
        .await
        .unwrap();
    assert_eq!(committed.status(), 200);
    // The course's latest version is SCORM 2004: the sequencer decides.
    let terminated = client
        .post(runtime("commit"))
        .json(&serde_json::json!({"batch": 2, "activity_id": "i1", "final": true, "calls": [
            {"seq": 5, "fn": "SetValue", "element": "cmi.success_status", "value": "passed", "result": "true", "error": 0},
            {"seq": 6, "fn": "SetValue", "element": "adl.nav.request", "value": "continue", "result": "true", "error": 0},
            {"seq": 7, "fn": "Terminate", "arg": "", "result": "true", "error": 0}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(terminated.status(), 200);
    let navigation: Value = client
        .post(runtime("navigate"))
        .json(&serde_json::json!({"request": "auto"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(navigation["deliver"], "i2", "{navigation}");
    let refused = client
        .post(runtime("commit"))
        .json(&serde_json::json!({"batch": 5, "activity_id": "i1", "calls": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let to_revoke = client
        .post(format!("{}/api/v1/api-keys", server.address))
        .bearer_auth(key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let revoked = client
        .delete(format!(
            "{}/api/v1/api-keys/{}",
            server.address,
            to_revoke["id"].as_str().unwrap()
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let _ = client
        .get(format!(
            "{}/api/v1/api-keys?min_position={last}",
            server.address
        ))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    server.terminate().await;

    let db = store::db::Database::connect(&f.env.database_url, &store::db::DbOptions::default())
        .await
        .unwrap();
    let dump = || async {
        let mut out = Vec::new();
        for projection in projections::all() {
            out.push(
                projections::dump::projection(&db, projection.as_ref())
                    .await
                    .unwrap(),
            );
        }
        out
    };
    let live = dump().await;
    assert!(
        live.iter().flatten().any(|(_, rows)| rows.len() >= 10),
        "the live views are nearly empty: {live:?}"
    );
    let out = f.env.run(&["replay", "--all"]).await;
    let reports: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), projections::all().len());
    assert!(reports.iter().all(|r| r["events"].as_u64().unwrap() > 0));
    assert_eq!(
        dump().await,
        live,
        "replayed views differ from the live ones"
    );
    let one = f.env.run(&["replay", "workspaces"]).await;
    assert_eq!(one.lines().count(), 1);
    assert_eq!(dump().await, live);
    let unknown = f.env.command(&["replay", "nope"]).output().await.unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no projection named"));
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_imports_a_package() {
    let f = fixture().await;
    let ws = create_workspace(&f.env, "CLI import").await;
    let workspace = ws["workspace_id"].as_str().unwrap();
    let package = f.dir.path().join("course.zip");
    std::fs::write(&package, e2e::packages::scorm2004(2)).unwrap();
    let out = f
        .env
        .run(&[
            "import",
            package.to_str().unwrap(),
            "--workspace",
            workspace,
            "--course-id",
            "from-cli",
            "--title",
            "CLI Course",
        ])
        .await;
    let result: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["status"], "complete", "{result}");
    assert_eq!(result["version"], 1);

    // A refused package: a non-zero exit, the reason on both streams.
    let bad = f.dir.path().join("bad.zip");
    std::fs::write(&bad, b"not a zip").unwrap();
    let output = f
        .env
        .command(&["import", bad.to_str().unwrap(), "--workspace", workspace])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["error"]["code"], "not_a_zip");
    assert!(String::from_utf8_lossy(&output.stderr).contains("not_a_zip"));
    let unknown = f
        .env
        .command(&[
            "import",
            package.to_str().unwrap(),
            "--workspace",
            &uuid::Uuid::new_v4().to_string(),
        ])
        .output()
        .await
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no workspace"));

    // The server shows the course.
    let server = f.env.serve(&f.dir.path().join("server.log")).await;
    let client = reqwest::Client::new();
    let key = ws["live_key"].as_str().unwrap();
    wait_for_key(&client, &server.address, key).await;
    // The courses view of a fresh process catches up after the key works.
    let mut course = Value::Null;
    for _ in 0..200 {
        let response = client
            .get(format!("{}/api/v1/courses/from-cli", server.address))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            course = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(course["title"], "CLI Course");
    assert_eq!(course["standard"], "scorm2004");
    server.terminate().await;
}
