//! Course import and the catalogue: every standard, every refusal, versions,
//! storage, the catalogue API.

use std::collections::BTreeSet;

use e2e::packages::{self, zip};
use e2e::{TestApp, error, json};
use serde_json::Value;
use store::testing::noise;

async fn complete(app: &TestApp, key: &str, id: &str, package: Vec<u8>) -> Value {
    let import = app.import(key, id, package).await;
    assert_eq!(import["status"], "complete", "{import}");
    json(app.course(key, id).await, 200).await
}

/// Launch URLs in a course structure, depth first.
fn launch_urls(node: &Value, out: &mut Vec<String>) {
    if let Some(url) = node["launch"]["url"].as_object() {
        out.push(serde_json::to_string(url).unwrap());
    }
    for child in node["children"].as_array().into_iter().flatten() {
        launch_urls(child, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_standard_imports_with_its_structure() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Standards").await;
    let key = &ws.live_key;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("c12", packages::scorm12(), "scorm12", "index.html"),
        ("c2004", packages::scorm2004(2), "scorm2004", "sco2.html"),
        ("caicc", packages::aicc(), "aicc", "au1.html"),
        ("ctincan", packages::tincan(), "xapi", "index.html"),
        ("ccmi5", packages::cmi5(), "cmi5", "index.html"),
    ];
    for (id, package, standard, launch) in cases {
        let course = complete(&app, key, id, package).await;
        assert_eq!(course["id"], id);
        assert_eq!(course["standard"], standard, "{course}");
        assert_eq!(course["version"], 1);
        let mut urls = Vec::new();
        launch_urls(&course["structure"]["root"], &mut urls);
        assert!(
            urls.iter().any(|u| u.contains(launch)),
            "{id}: no launch of {launch} in {urls:?}"
        );
        let files = json(
            app.get(key, &format!("/api/v1/courses/{id}/versions/1/files"))
                .await,
            200,
        )
        .await;
        let paths: Vec<&str> = files["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&launch), "{id}: files {paths:?}");
    }
    // SCORM 1.2 details: mastery score, parameters, content types.
    let c12 = json(app.course(key, "c12").await, 200).await;
    assert_eq!(c12["title"], "Test Course 1.2");
    let lesson = &c12["structure"]["root"]["children"][0];
    assert_eq!(
        lesson["launch"]["runtime"]["mastery_score"], 80.0,
        "{lesson}"
    );
    assert!(
        lesson["launch"]["url"].to_string().contains("lesson=1"),
        "{lesson}"
    );
    let files = json(
        app.get(key, "/api/v1/courses/c12/versions/1/files").await,
        200,
    )
    .await;
    let css = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "shared/style.css")
        .unwrap();
    assert_eq!(css["content_type"], "text/css");
    assert_eq!(css["size"], 20);
    // SCORM 2004: the edition and the sequencing of the organization.
    let c2004 = json(app.course(key, "c2004").await, 200).await;
    assert_eq!(
        c2004["standard_detail"]["edition"], "fourth",
        "{}",
        c2004["standard_detail"]
    );
    assert_eq!(
        c2004["structure"]["root"]["sequencing"]["control_mode"]["flow"],
        true
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_root_folder_and_a_storyline_fingerprint_are_recognised() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Nested").await;
    let manifest = packages::manifest_12("70");
    let package = zip(&[
        ("My Course/imsmanifest.xml", manifest.as_bytes()),
        ("My Course/index.html", b"<html>x</html>"),
        ("My Course/shared/style.css", b"body {}"),
        ("My Course/story_content/user.js", b"// storyline"),
        ("__MACOSX/My Course/._index.html", b"junk"),
    ]);
    let import = app.import(&ws.live_key, "nested", package).await;
    assert_eq!(import["status"], "complete", "{import}");
    let codes: Vec<&str> = import["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"nested_package_root"), "{codes:?}");
    let course = json(app.course(&ws.live_key, "nested").await, 200).await;
    assert_eq!(course["authoring_tool"], "articulate_storyline");
    let files = json(
        app.get(&ws.live_key, "/api/v1/courses/nested/versions/1/files")
            .await,
        200,
    )
    .await;
    let paths: BTreeSet<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    // Paths are relative to the folder holding the manifest; archive junk is dropped.
    assert_eq!(
        paths,
        BTreeSet::from([
            "imsmanifest.xml",
            "index.html",
            "shared/style.css",
            "story_content/user.js"
        ])
    );
    app.stop().await;
}

/// Each refused package: its code, and nothing left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_packages_leave_nothing_behind() {
    let app = TestApp::spawn_with(|s| {
        s.import.limits.max_entries = 20;
        s.import.limits.max_entry_size = 1024 * 1024;
        s.import.limits.max_total_size = 3 * 1024 * 1024;
    })
    .await;
    let ws = app.create_workspace("Refusals").await;
    let key = &ws.live_key;
    let manifest = packages::manifest_12("80");
    let sco = packages::SCO_12.as_bytes();
    let many: Vec<(String, Vec<u8>)> = (0..25)
        .map(|i| (format!("f{i}.html"), b"x".to_vec()))
        .collect();
    let mut many_entries: Vec<(&str, &[u8])> = vec![
        ("imsmanifest.xml", manifest.as_bytes()),
        ("index.html", sco),
    ];
    many_entries.extend(many.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let large = noise(1_500_000, 1);
    let parts: Vec<Vec<u8>> = (0..4).map(|i| noise(900_000, 10 + i)).collect();
    let doctype =
        r#"<?xml version="1.0"?><!DOCTYPE manifest [<!ENTITY x "y">]><manifest identifier="m"/>"#;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("notzip", b"this is not a zip at all".to_vec(), "not_a_zip"),
        (
            "traversal",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("../../evil.html", b"x"),
            ]),
            "unsafe_path",
        ),
        (
            "absolute",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("/etc/evil.html", b"x"),
            ]),
            "unsafe_path",
        ),
        (
            "drive",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("C:/evil.html", b"x"),
            ]),
            "unsafe_path",
        ),
        (
            "backslash",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("a\\..\\..\\evil.html", b"x"),
            ]),
            "unsafe_path",
        ),
        ("symlink", packages::with_symlink(), "symlink_entry"),
        (
            "encrypted",
            packages::mark_encrypted(packages::scorm12()),
            "encrypted_zip",
        ),
        ("many", zip(&many_entries), "too_many_entries"),
        ("bomb", packages::bomb(64 * 1024 * 1024), "zip_bomb"),
        (
            "large",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("video.mp4", &large),
            ]),
            "entry_too_large",
        ),
        (
            "total",
            zip(&[
                ("imsmanifest.xml", manifest.as_bytes()),
                ("index.html", sco),
                ("a.bin", &parts[0]),
                ("b.bin", &parts[1]),
                ("c.bin", &parts[2]),
                ("d.bin", &parts[3]),
            ]),
            "package_too_large",
        ),
        (
            "doctype",
            zip(&[("imsmanifest.xml", doctype.as_bytes()), ("index.html", sco)]),
            "xml_doctype_forbidden",
        ),
        (
            "nomanifest",
            zip(&[("index.html", sco)]),
            "manifest_missing",
        ),
        (
            "badxml",
            zip(&[
                ("imsmanifest.xml", b"<manifest><organizations>"),
                ("index.html", sco),
            ]),
            "manifest_not_well_formed",
        ),
        (
            "nolaunch",
            zip(&[("imsmanifest.xml", manifest.as_bytes())]),
            "launch_file_missing",
        ),
        (
            "cmi5dup",
            packages::cmi5_duplicate_ids(),
            "duplicate_identifier",
        ),
    ];
    for (id, package, code) in cases {
        let response = app.upload(key, id, package).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{id}: {body}");
        assert_eq!(body["status"], "failed", "{id}: {body}");
        assert_eq!(body["error"]["code"], code, "{id}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        // The import is kept, failed; the course does not exist.
        let import = json(
            app.get(
                key,
                &format!("/api/v1/imports/{}", body["import_id"].as_str().unwrap()),
            )
            .await,
            200,
        )
        .await;
        assert_eq!(import["error"]["code"], code);
        error(app.course(key, id).await, 404, "course_not_found").await;
        error(
            app.get(key, &format!("/api/v1/courses/{id}/versions/1/files"))
                .await,
            404,
            "version_not_found",
        )
        .await;
    }
    // A parser refusal says where: file and line.
    let badxml = app
        .upload(
            key,
            "badxml2",
            zip(&[
                (
                    "imsmanifest.xml",
                    b"<manifest>\n<organizations>\n</manifest>",
                ),
                ("index.html", sco),
            ]),
        )
        .await;
    let body: Value = badxml.json().await.unwrap();
    let finding = &body["findings"][0];
    assert_eq!(finding["location"]["file"], "imsmanifest.xml", "{body}");
    assert!(finding["location"]["line"].as_u64().is_some(), "{body}");
    let list = json(app.get(key, "/api/v1/courses").await, 200).await;
    assert_eq!(list["courses"].as_array().unwrap().len(), 0, "{list}");
    app.stop().await;
}

/// Every blob file in the local store, and every temp file (in the temp
/// area, or dot-named in a blob folder).
fn blob_files(app: &TestApp) -> (BTreeSet<String>, Vec<String>) {
    let temp_area = app.state.platform.blobs.spool_dir();
    let root = temp_area.parent().unwrap().to_owned();
    let mut blobs = BTreeSet::new();
    let mut temps: Vec<String> = std::fs::read_dir(&temp_area)
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap();
        if dir.path() == temp_area || !dir.file_type().unwrap().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                temps.push(name);
            } else {
                blobs.insert(name);
            }
        }
    }
    (blobs, temps)
}

/// Headers that lie about sizes pass the checks on opening; the lie shows
/// while inflating, part-way through extraction, after other files were
/// staged. The import fails, no course or version appears, no file of the
/// failed import is left in the store (stored or temp), and nothing stored
/// before is lost, even blobs the failed package shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lie_found_during_extraction_leaves_the_store_as_it_was() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Lies").await;
    let key = &ws.live_key;
    let manifest = packages::manifest_12("80");
    let sco = packages::SCO_12.as_bytes();
    // 900,001 bytes each: a size no other entry has.
    let parts: Vec<Vec<u8>> = (0..4).map(|i| noise(900_001, 20 + i)).collect();
    // A course that shares its launch file and one part with the refused
    // packages below.
    complete(
        &app,
        key,
        "kept",
        zip(&[
            ("imsmanifest.xml", manifest.as_bytes()),
            ("index.html", sco),
            ("a.bin", &parts[0]),
        ]),
    )
    .await;
    let kept = json(
        app.get(key, "/api/v1/courses/kept/versions/1/files").await,
        200,
    )
    .await;
    let (before, temps) = blob_files(&app);
    assert!(temps.is_empty(), "{temps:?}");
    // 3 files and the package.
    assert_eq!(before.len(), 4, "{before:?}");

    // Extraction takes the largest entries first: the parts are staged
    // before the small entry that lies is reached.
    let lie = packages::declare_size(
        zip(&[
            ("imsmanifest.xml", manifest.as_bytes()),
            ("index.html", sco),
            ("a.bin", &parts[0]),
            ("b.bin", &parts[1]),
            ("c.bin", &parts[2]),
            ("d.bin", &parts[3]),
            ("z.bin", &noise(5_003, 7)),
        ]),
        5_003,
        100,
    );
    // 8 MiB of zeros said to be 1,000 bytes.
    let bomb = packages::declare_size(packages::bomb(8 * 1024 * 1024), 8 * 1024 * 1024, 1_000);
    for (id, package, said) in [
        ("lie", lie, "z.bin cannot be extracted"),
        ("bomb", bomb, "zeros.bin cannot be extracted"),
    ] {
        let response = app.upload(key, id, package).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{id}: {body}");
        assert_eq!(body["error"]["code"], "corrupt_zip", "{id}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(said), "{id}: {body}");
        error(app.course(key, id).await, 404, "course_not_found").await;
        let (after, temps) = blob_files(&app);
        assert_eq!(after, before, "{id}: the store changed");
        assert!(temps.is_empty(), "{id}: temp files left: {temps:?}");
    }

    // The course that shared blobs with them is whole.
    for file in kept["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        let blob = app
            .state
            .platform
            .blobs
            .get(&file["blake3"].as_str().unwrap().parse().unwrap())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{path} lost"));
        let expected: &[u8] = match path {
            "imsmanifest.xml" => manifest.as_bytes(),
            "index.html" => sco,
            "a.bin" => &parts[0],
            other => panic!("unexpected file {other}"),
        };
        assert_eq!(blob.bytes().await.unwrap(), expected, "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_are_not_utf8_are_read_as_cp437() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("CP437").await;
    let manifest = packages::manifest_12("80");
    // "caf\x82.txt" is café.txt in CP437; written as "cafX.txt" and patched.
    let package = packages::patch_name(
        zip(&[
            ("imsmanifest.xml", manifest.as_bytes()),
            ("index.html", packages::SCO_12.as_bytes()),
            ("cafX.txt", b"menu"),
        ]),
        b"cafX.txt",
        b"caf\x82.txt",
    );
    let import = app.import(&ws.live_key, "cp437", package).await;
    assert_eq!(import["status"], "complete", "{import}");
    let files = json(
        app.get(&ws.live_key, "/api/v1/courses/cp437/versions/1/files")
            .await,
        200,
    )
    .await;
    assert!(
        files["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "café.txt"),
        "{files}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reupload_is_a_new_version_and_identical_files_are_stored_once() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Versions").await;
    let key = &ws.live_key;
    let first = packages::scorm12();
    complete(&app, key, "v", first.clone()).await;
    let manifest = packages::manifest_12("90");
    let second = zip(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        ("index.html", packages::SCO_12.as_bytes()),
        ("shared/style.css", b"body { color: #333 }"),
    ]);
    let course = complete(&app, key, "v", second).await;
    assert_eq!(course["version"], 2);
    let versions: Vec<i64> = course["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2]);
    assert_eq!(
        course["structure"]["root"]["children"][0]["launch"]["runtime"]["mastery_score"],
        90.0
    );
    let sha = |files: &Value, path: &str| {
        files["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap()["blake3"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let v1 = json(
        app.get(key, "/api/v1/courses/v/versions/1/files").await,
        200,
    )
    .await;
    let v2 = json(
        app.get(key, "/api/v1/courses/v/versions/2/files").await,
        200,
    )
    .await;
    assert_eq!(
        sha(&v1, "index.html"),
        sha(&v2, "index.html"),
        "identical files have one blob"
    );
    assert_ne!(sha(&v1, "imsmanifest.xml"), sha(&v2, "imsmanifest.xml"));
    // One object per content in the blob store.
    let key_of = sha(&v1, "index.html");
    let blob = app
        .state
        .platform
        .blobs
        .get(&key_of.parse().unwrap())
        .await
        .unwrap()
        .expect("the blob exists");
    assert_eq!(blob.bytes().await.unwrap(), packages::SCO_12.as_bytes());
    // Version 1's package downloads as uploaded.
    let download = app.get(key, "/api/v1/courses/v/versions/1/package").await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/zip");
    assert_eq!(download.bytes().await.unwrap().to_vec(), first);
    error(
        app.get(key, "/api/v1/courses/v/versions/3/package").await,
        404,
        "version_not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_lists_filters_pages_updates_and_deletes() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Catalogue").await;
    let key = &ws.live_key;
    complete(&app, key, "a-12", packages::scorm12()).await;
    complete(&app, key, "b-2004", packages::scorm2004(1)).await;
    complete(&app, key, "c-cmi5", packages::cmi5()).await;

    let updated = json(
        app.client
            .patch(app.url("/api/v1/courses/b-2004"))
            .bearer_auth(key)
            .json(&serde_json::json!({"title": "Safety Basics", "tags": ["safety", "onboarding", "safety"]}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(updated["title"], "Safety Basics");
    assert_eq!(updated["tags"], serde_json::json!(["safety", "onboarding"]));

    let ids = |page: &Value| -> Vec<String> {
        page["courses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = json(app.get(key, "/api/v1/courses").await, 200).await;
    assert_eq!(ids(&all), vec!["a-12", "b-2004", "c-cmi5"]);
    assert_eq!(
        ids(&json(app.get(key, "/api/v1/courses?standard=cmi5").await, 200).await),
        vec!["c-cmi5"]
    );
    assert_eq!(
        ids(&json(app.get(key, "/api/v1/courses?tag=safety").await, 200).await),
        vec!["b-2004"]
    );
    assert_eq!(
        ids(&json(app.get(key, "/api/v1/courses?title=SAFETY").await, 200).await),
        vec!["b-2004"]
    );
    let future = json(
        app.get(key, "/api/v1/courses?since=2999-01-01T00:00:00Z")
            .await,
        200,
    )
    .await;
    assert!(ids(&future).is_empty());
    error(
        app.get(key, "/api/v1/courses?standard=pdf").await,
        400,
        "invalid_standard",
    )
    .await;
    error(
        app.get(key, "/api/v1/courses?since=yesterday").await,
        400,
        "invalid_since",
    )
    .await;
    error(
        app.get(key, "/api/v1/courses?cursor=garbage!").await,
        400,
        "invalid_cursor",
    )
    .await;

    // Paging with an opaque cursor.
    let first = json(app.get(key, "/api/v1/courses?limit=2").await, 200).await;
    assert_eq!(ids(&first), vec!["a-12", "b-2004"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json(
        app.get(key, &format!("/api/v1/courses?limit=2&cursor={cursor}"))
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&second), vec!["c-cmi5"]);
    assert!(second["next_cursor"].is_null());

    // Invalid updates.
    let bad = app
        .client
        .patch(app.url("/api/v1/courses/a-12"))
        .bearer_auth(key)
        .json(&serde_json::json!({"tags": [""]}))
        .send()
        .await
        .unwrap();
    error(bad, 422, "invalid_tags").await;

    // Delete: gone from the catalogue, 404 after, not deletable twice.
    assert_eq!(app.delete(key, "/api/v1/courses/a-12").await.status(), 204);
    error(app.course(key, "a-12").await, 404, "course_not_found").await;
    error(
        app.delete(key, "/api/v1/courses/a-12").await,
        404,
        "course_not_found",
    )
    .await;
    assert_eq!(
        ids(&json(app.get(key, "/api/v1/courses").await, 200).await),
        vec!["b-2004", "c-cmi5"]
    );
    error(
        app.get(key, "/api/v1/courses/a-12/versions/1/files").await,
        404,
        "version_not_found",
    )
    .await;
    // A new upload brings it back as version 2.
    let back = complete(&app, key, "a-12", packages::scorm12()).await;
    assert_eq!(back["version"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_may_be_multipart_and_course_ids_are_checked() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Multipart").await;
    let form = reqwest::multipart::Form::new()
        .text("course_id", "mp")
        .text("title", "From a form")
        .part(
            "file",
            reqwest::multipart::Part::bytes(packages::scorm12()).file_name("course.zip"),
        );
    let response = app
        .client
        .post(app.url("/api/v1/courses"))
        .bearer_auth(&ws.live_key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let body = json(response, 201).await;
    assert_eq!(body["status"], "complete");
    assert_eq!(body["source"]["file_name"], "course.zip");
    let course = json(app.course(&ws.live_key, "mp").await, 200).await;
    assert_eq!(course["title"], "From a form");
    // Without a course id, one is drawn.
    let drawn = app
        .client
        .post(app.url("/api/v1/courses"))
        .bearer_auth(&ws.live_key)
        .header("content-type", "application/zip")
        .body(packages::scorm12())
        .send()
        .await
        .unwrap();
    let drawn = json(drawn, 201).await;
    assert!(drawn["course_id"].as_str().unwrap().len() >= 16);
    error(
        app.upload(&ws.live_key, "bad%20id", packages::scorm12())
            .await,
        400,
        "invalid_course_id",
    )
    .await;
    let text = app
        .client
        .post(app.url("/api/v1/courses"))
        .bearer_auth(&ws.live_key)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    error(text, 415, "unsupported_media_type").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused_with_413() {
    let app = TestApp::spawn_with(|s| s.import.max_upload = 10_000).await;
    let ws = app.create_workspace("Big").await;
    let response = app.upload(&ws.live_key, "big", vec![7u8; 20_000]).await;
    error(response, 413, "upload_too_large").await;
    error(
        app.course(&ws.live_key, "big").await,
        404,
        "course_not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_import_answers_202_and_completes_in_the_background() {
    let app = TestApp::spawn_with(|s| s.import.inline_wait = std::time::Duration::ZERO).await;
    let ws = app.create_workspace("Background").await;
    let response = app.upload(&ws.live_key, "bg", packages::scorm2004(3)).await;
    assert_eq!(response.status(), 202);
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/api/v1/imports/")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "running");
    let done = app
        .wait_import(&ws.live_key, body["import_id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["version"], 1);
    json(app.course(&ws.live_key, "bg").await, 200).await;
    app.stop().await;
}

/// Serves `bytes` at `/package.zip` on a random loopback port.
async fn serve_file(bytes: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .route(
            "/package.zip",
            axum::routing::get(move || async move { bytes.clone() }),
        )
        .route(
            "/moved.zip",
            axum::routing::get(|| async { axum::response::Redirect::temporary("/package.zip") }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_import_from_a_url() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("URL").await;
    let server = serve_file(packages::scorm12()).await;
    let response = app
        .post(
            &ws.live_key,
            "/api/v1/courses/import-url",
            &serde_json::json!({"url": format!("{server}/package.zip"), "course_id": "from-url"}),
        )
        .await;
    let body = json(response, 201).await;
    assert_eq!(body["source"]["url"], format!("{server}/package.zip"));
    json(app.course(&ws.live_key, "from-url").await, 200).await;
    let redirected = app
        .post(
            &ws.live_key,
            "/api/v1/courses/import-url",
            &serde_json::json!({"url": format!("{server}/moved.zip")}),
        )
        .await;
    error(redirected, 422, "download_failed").await;
    let bad = app
        .post(
            &ws.live_key,
            "/api/v1/courses/import-url",
            &serde_json::json!({"url": "ftp://x/y.zip"}),
        )
        .await;
    error(bad, 400, "invalid_url").await;
    app.stop().await;

    // By default a server refuses to fetch from private addresses.
    let strict = TestApp::spawn_with(|s| s.import.allow_private_urls = false).await;
    let ws = strict.create_workspace("Strict").await;
    let refused = strict
        .post(
            &ws.live_key,
            "/api/v1/courses/import-url",
            &serde_json::json!({"url": format!("{server}/package.zip")}),
        )
        .await;
    error(refused, 422, "private_address").await;
    strict.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_store_their_files_on_s3() {
    let Some(s3) = store::testing::s3_config() else {
        return;
    };
    let app = TestApp::spawn_with(|s| s.storage.blobs = s3).await;
    let ws = app.create_workspace("S3").await;
    let package = packages::scorm2004(2);
    let course = complete(&app, &ws.live_key, "on-s3", package.clone()).await;
    assert_eq!(course["standard"], "scorm2004");
    let download = app
        .get(&ws.live_key, "/api/v1/courses/on-s3/versions/1/package")
        .await;
    assert_eq!(download.bytes().await.unwrap().to_vec(), package);
    let files = json(
        app.get(&ws.live_key, "/api/v1/courses/on-s3/versions/1/files")
            .await,
        200,
    )
    .await;
    let sco = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "sco2.html")
        .unwrap();
    let blob = app
        .state
        .platform
        .blobs
        .get(&sco["blake3"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        blob.bytes().await.unwrap(),
        b"<html><body>SCO 2</body></html>"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_cmi5_xml_imports_when_its_urls_are_absolute() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Bare cmi5").await;
    let upload = |xml: String, id: &str| {
        app.client
            .post(app.url(&format!("/api/v1/courses?course_id={id}")))
            .bearer_auth(&ws.live_key)
            .header("content-type", "application/xml")
            .body(xml)
            .send()
    };
    let absolute = e2e::packages::cmi5_xml(
        &["https://example.com/tests/au1"],
        "https://content.example.com/au1/index.html",
    );
    let body = json(upload(absolute, "bare").await.unwrap(), 201).await;
    assert_eq!(body["status"], "complete", "{body}");
    let course = json(app.course(&ws.live_key, "bare").await, 200).await;
    assert_eq!(course["standard"], "cmi5");
    assert!(
        course["structure"]
            .to_string()
            .contains("https://content.example.com/au1/index.html")
    );
    let files = json(
        app.get(&ws.live_key, "/api/v1/courses/bare/versions/1/files")
            .await,
        200,
    )
    .await;
    assert!(files["files"].as_array().unwrap().is_empty());
    // A relative AU URL needs a ZIP to resolve against.
    let relative = e2e::packages::cmi5_xml(&["https://example.com/tests/au1"], "index.html");
    let refused = upload(relative, "bare-relative").await.unwrap();
    let body = json(refused, 422).await;
    assert_eq!(
        body["error"]["code"], "cmi5_relative_url_without_package",
        "{body}"
    );
    app.stop().await;
}
