//! The LRS at `/xapi`: statements, as the xAPI spec (1.0.3 and 2.0) and the ADL conformance
//! suite require them. The suite itself is not run here; these are the checks that keep the
//! LRS conformant between its runs.

use e2e::{TestApp, XapiClient, error, json};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

pub(crate) const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
pub(crate) const ATTEMPTED: &str = "http://adlnet.gov/expapi/verbs/attempted";
pub(crate) const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

pub(crate) fn agent(name: &str) -> Value {
    json!({"objectType": "Agent", "name": name, "mbox": format!("mailto:{name}@example.com")})
}

/// A minimal valid statement.
pub(crate) fn statement(actor: &str, verb: &str, activity: &str) -> Value {
    json!({
        "actor": agent(actor),
        "verb": {"id": verb, "display": {"en-US": verb.rsplit('/').next().unwrap()}},
        "object": {"objectType": "Activity", "id": activity},
    })
}

pub(crate) fn with_id(mut statement: Value) -> (String, Value) {
    let id = Uuid::new_v4().to_string();
    statement["id"] = json!(id);
    (id, statement)
}

/// Ids of the statements of a StatementResult.
pub(crate) fn ids_of(result: &Value) -> Vec<String> {
    result["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acceptance_flow_put_get_conflict_filter_tenancy_auth() {
    let app = TestApp::spawn().await;
    let a = app.create_workspace("A").await;
    let b = app.create_workspace("B").await;
    let lrs = app.xapi_key(&a.live_key);
    let (id, st) = with_id(statement("ada", COMPLETED, "http://example.com/acc/course"));
    for version in ["2.0.0", "1.0.3"] {
        let put = lrs.version(version).put_statement(&id, &st).await;
        assert_eq!(put.status(), 204, "{version}");
        assert_eq!(
            put.headers()["x-experience-api-version"],
            if version == "2.0.0" { "2.0.0" } else { "1.0.3" }
        );
    }
    // display is not part of statement identity.
    let mut redisplayed = st.clone();
    redisplayed["verb"]["display"] = json!({"fr": "terminé"});
    assert_eq!(lrs.put_statement(&id, &redisplayed).await.status(), 204);
    let mut changed = st.clone();
    changed["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/passed");
    error(
        lrs.put_statement(&id, &changed).await,
        409,
        "statement_conflict",
    )
    .await;

    let got = lrs.statement(&id).await;
    assert_eq!(got["id"], id);
    assert_eq!(
        got["verb"]["display"],
        json!({"en-US": "completed"}),
        "the first one stays"
    );
    assert_eq!(lrs.ids(&[("verb", COMPLETED)]).await, vec![id.clone()]);

    let other = app.xapi_key(&b.live_key);
    assert_eq!(
        other.get_statements(&[("statementId", &id)]).await.status(),
        404
    );
    assert!(other.ids(&[("verb", COMPLETED)]).await.is_empty());
    // The sandbox of the same workspace is another LRS too.
    assert!(
        app.xapi_key(&a.test_key)
            .ids(&[("verb", COMPLETED)])
            .await
            .is_empty()
    );
    let anonymous = app
        .client
        .get(app.url("/xapi/statements"))
        .header("X-Experience-API-Version", "2.0.0")
        .query(&[("statementId", &id)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let about = json(
        app.client.get(app.url("/xapi/about")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(about["version"][0], "2.0.0");
    assert!(
        about["version"]
            .as_array()
            .unwrap()
            .contains(&json!("1.0.3"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_headers() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("V").await;
    let lrs = app.xapi_key(&ws.live_key);
    let missing = app
        .client
        .get(app.url("/xapi/statements"))
        .bearer_auth(&ws.live_key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.headers()["x-experience-api-version"], "2.0.0");
    error(missing, 400, "missing_version").await;
    for bad in ["0.9", "0.95", "1.1.0", "3.0.0", "latest"] {
        let response = lrs.version(bad).get_statements(&[]).await;
        assert_eq!(response.status(), 400, "{bad}");
    }
    // Authoring tools still send 1.0.0–1.0.2; the answer speaks 1.0.3.
    for old in ["1.0.0", "1.0.1", "1.0.2", "1.0"] {
        let (id, st) = with_id(statement("ann", COMPLETED, "http://example.com/a"));
        let response = lrs.version(old).put_statement(&id, &st).await;
        assert_eq!(response.status(), 204, "{old}");
        assert_eq!(response.headers()["x-experience-api-version"], "1.0.3");
    }
    // A client that spoke 1.0.x and then forgets the header hears 1.0.3.
    let forgot = app
        .client
        .get(app.url("/xapi/statements"))
        .bearer_auth(&ws.live_key)
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status(), 400);
    assert_eq!(forgot.headers()["x-experience-api-version"], "1.0.3");
    // About needs neither credentials nor a version.
    let about = app.client.get(app.url("/xapi/about")).send().await.unwrap();
    assert_eq!(about.status(), 200);
    assert_eq!(about.headers()["x-experience-api-version"], "2.0.0");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lrs_sets_id_stored_authority_version_and_timestamp() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("S").await;
    let lrs = app.lrs_client(&ws.live_key, &["all"], "1.0.3").await;
    let mut st = statement("bob", COMPLETED, "http://example.com/a");
    st["authority"] = json!({"mbox": "mailto:someone-else@example.com"});
    let ids = lrs.store(&json!([st])).await;
    let got = lrs.statement(&ids[0]).await;
    assert_eq!(got["version"], "1.0.0", "1.0.x default");
    assert_eq!(
        got["timestamp"], got["stored"],
        "timestamp defaults to stored"
    );
    assert!(
        got["stored"].as_str().unwrap().ends_with('Z'),
        "{}",
        got["stored"]
    );
    let authority = &got["authority"];
    assert_eq!(authority["objectType"], "Agent");
    assert!(
        authority["account"]["name"]
            .as_str()
            .unwrap()
            .starts_with("lrs_"),
        "the credential is the authority, not what was sent: {authority}"
    );
    let two = lrs.version("2.0.0");
    let ids = two
        .store(&statement("bob", COMPLETED, "http://example.com/a"))
        .await;
    assert_eq!(two.statement(&ids[0]).await["version"], "2.0.0");
    // 2.0 returns timestamps in UTC; 1.0.3 as sent.
    let mut offset = statement("bob", COMPLETED, "http://example.com/a");
    offset["timestamp"] = json!("2024-05-04T12:00:00.000+02:00");
    let ids = two.store(&offset).await;
    assert_eq!(
        two.statement(&ids[0]).await["timestamp"],
        "2024-05-04T10:00:00.000Z"
    );
    assert_eq!(
        lrs.statement(&ids[0]).await["timestamp"],
        "2024-05-04T12:00:00.000+02:00"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("B").await;
    let lrs = app.xapi_key(&ws.live_key);
    let (good_id, good) = with_id(statement("cy", COMPLETED, "http://example.com/a"));
    let mut bad = statement("cy", COMPLETED, "http://example.com/a");
    bad["actor"]["mbox"] = json!("cy@example.com");
    let refused = error(
        lrs.post_statements(&json!([good.clone(), bad])).await,
        400,
        "invalid_mbox",
    )
    .await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("$[1].actor.mbox")
    );
    assert_eq!(
        lrs.get_statements(&[("statementId", &good_id)])
            .await
            .status(),
        404,
        "nothing of a refused batch is stored"
    );
    let (twice, st) = with_id(statement("cy", COMPLETED, "http://example.com/b"));
    error(
        lrs.post_statements(&json!([st.clone(), st])).await,
        400,
        "duplicate_statement_id",
    )
    .await;
    assert_eq!(
        lrs.get_statements(&[("statementId", &twice)])
            .await
            .status(),
        404
    );
    // An identical statement already stored is fine; a changed one refuses the batch.
    assert_eq!(lrs.store(&good).await, vec![good_id.clone()]);
    let (new_id, new) = with_id(statement("cy", COMPLETED, "http://example.com/c"));
    assert_eq!(
        lrs.store(&json!([new.clone(), good.clone()])).await,
        vec![new_id.clone(), good_id.clone()]
    );
    let (other_id, other) = with_id(statement("cy", COMPLETED, "http://example.com/d"));
    let mut changed = good.clone();
    changed["object"]["id"] = json!("http://example.com/elsewhere");
    error(
        lrs.post_statements(&json!([other, changed])).await,
        409,
        "statement_conflict",
    )
    .await;
    assert_eq!(
        lrs.get_statements(&[("statementId", &other_id)])
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_break_the_spec_are_refused() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Invalid").await;
    let lrs = app.xapi_key(&ws.live_key).version("1.0.3");
    let base = statement("dee", COMPLETED, "http://example.com/a");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no actor",
            json!({"verb": base["verb"], "object": base["object"]}),
            "missing_property",
        ),
        (
            "two ifis",
            {
                let mut s = base.clone();
                s["actor"]["openid"] = json!("http://openid.example.com/dee");
                s
            },
            "invalid_ifi_count",
        ),
        (
            "verb id not an iri",
            {
                let mut s = base.clone();
                s["verb"]["id"] = json!("completed");
                s
            },
            "invalid_iri",
        ),
        (
            "key of the wrong case",
            {
                let mut s = base.clone();
                s["Actor"] = s["actor"].take();
                s.as_object_mut().unwrap().remove("actor");
                s
            },
            "unknown_property",
        ),
        (
            "null",
            {
                let mut s = base.clone();
                s["verb"]["display"] = Value::Null;
                s
            },
            "null_value",
        ),
        (
            "bad language tag",
            {
                let mut s = base.clone();
                s["verb"]["display"] = json!({"not a tag": "x"});
                s
            },
            "invalid_language_tag",
        ),
        (
            "scaled score out of range",
            {
                let mut s = base.clone();
                s["result"] = json!({"score": {"scaled": 1.5}});
                s
            },
            "score_out_of_range",
        ),
        (
            "bad timestamp",
            {
                let mut s = base.clone();
                s["timestamp"] = json!("yesterday");
                s
            },
            "invalid_timestamp",
        ),
        (
            "correct responses without an interaction type",
            {
                let mut s = base.clone();
                s["object"]["definition"] = json!({"correctResponsesPattern": ["a"]});
                s
            },
            "missing_property",
        ),
        (
            "2.0 context agents in 1.0.3",
            {
                let mut s = base.clone();
                s["context"] = json!({"contextAgents": [{"objectType": "contextAgent", "agent": agent("eve")}]});
                s
            },
            "unknown_property",
        ),
    ];
    for (name, statement, code) in cases {
        let response = lrs.post_statements(&statement).await;
        let body = json(response, 400).await;
        assert_eq!(body["error"]["code"], code, "{name}: {body}");
    }
    // The same context agents are fine in 2.0.
    let mut two = base.clone();
    two["context"] =
        json!({"contextAgents": [{"objectType": "contextAgent", "agent": agent("eve")}]});
    assert_eq!(
        lrs.version("2.0.0").post_statements(&two).await.status(),
        200
    );
    // Duplicate keys in the JSON text are refused too.
    let text = r#"{"actor": {"mbox": "mailto:a@example.com"}, "actor": {"mbox": "mailto:b@example.com"},
        "verb": {"id": "http://example.com/v"}, "object": {"id": "http://example.com/o"}}"#;
    let response = lrs
        .request(Method::POST, "/statements")
        .header("Content-Type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voiding() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Void").await;
    let lrs = app.xapi_key(&ws.live_key);
    let target_verb = "http://example.com/verbs/to-void";
    let (target, st) = with_id(statement("fay", target_verb, "http://example.com/a"));
    lrs.store(&st).await;
    let voiding = |id: &str| {
        json!({
            "actor": agent("fay"),
            "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": id},
        })
    };
    let (voider, v) = with_id(voiding(&target));
    lrs.store(&v).await;
    assert_eq!(
        lrs.get_statements(&[("statementId", &target)])
            .await
            .status(),
        404
    );
    let voided = json(
        lrs.get_statements(&[("voidedStatementId", &target)]).await,
        200,
    )
    .await;
    assert_eq!(voided["id"], target);
    assert_eq!(
        lrs.get_statements(&[("voidedStatementId", &voider)])
            .await
            .status(),
        404,
        "a statement that is not voided is not found by voidedStatementId"
    );
    // Filters leave the voided statement out, and match the voiding one through it.
    assert_eq!(
        lrs.ids(&[("verb", target_verb)]).await,
        vec![voider.clone()]
    );
    // A voiding statement cannot be voided.
    error(
        lrs.post_statements(&voiding(&voider)).await,
        400,
        "invalid_voiding_object",
    )
    .await;
    // Voiding a statement that arrives later hides it when it comes.
    let later = Uuid::new_v4().to_string();
    lrs.store(&voiding(&later)).await;
    let mut late = statement(
        "fay",
        "http://example.com/verbs/late",
        "http://example.com/a",
    );
    late["id"] = json!(later);
    lrs.store(&late).await;
    assert_eq!(
        lrs.get_statements(&[("statementId", &later)])
            .await
            .status(),
        404
    );
    assert_eq!(
        json(
            lrs.get_statements(&[("voidedStatementId", &later)]).await,
            200
        )
        .await["id"],
        later
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_order_and_paging() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Filters").await;
    let lrs = app.xapi_key(&ws.live_key);
    let registration = Uuid::new_v4().to_string();
    let course = "http://example.com/course";
    let mut stored = Vec::new();
    for i in 0..7 {
        let actor = if i % 2 == 0 { "gil" } else { "hal" };
        let verb = if i < 4 { COMPLETED } else { ATTEMPTED };
        let mut st = statement(actor, verb, &format!("http://example.com/lesson/{i}"));
        st["context"] = json!({
            "contextActivities": {"parent": [{"id": course}]},
            "instructor": agent("ivy"),
        });
        if i >= 3 {
            st["context"]["registration"] = json!(registration);
        }
        stored.push(lrs.store(&st).await.remove(0));
    }
    let newest_first: Vec<String> = stored.iter().rev().cloned().collect();
    let gil = json!({"mbox": "mailto:gil@example.com"}).to_string();
    let ivy = json!({"mbox": "mailto:ivy@example.com"}).to_string();
    let pick = |indexes: &[usize]| -> Vec<String> {
        indexes.iter().rev().map(|i| stored[*i].clone()).collect()
    };
    assert_eq!(lrs.ids(&[]).await, newest_first);
    assert_eq!(lrs.ids(&[("agent", &gil)]).await, pick(&[0, 2, 4, 6]));
    assert_eq!(lrs.ids(&[("agent", &ivy)]).await, Vec::<String>::new());
    assert_eq!(
        lrs.ids(&[("agent", &ivy), ("related_agents", "true")])
            .await,
        newest_first
    );
    assert_eq!(lrs.ids(&[("verb", COMPLETED)]).await, pick(&[0, 1, 2, 3]));
    assert_eq!(
        lrs.ids(&[
            ("verb", COMPLETED),
            ("activity", "http://example.com/lesson/2")
        ])
        .await,
        pick(&[2])
    );
    assert_eq!(lrs.ids(&[("activity", course)]).await, Vec::<String>::new());
    assert_eq!(
        lrs.ids(&[("activity", course), ("related_activities", "true")])
            .await,
        newest_first
    );
    assert_eq!(
        lrs.ids(&[("registration", &registration)]).await,
        pick(&[3, 4, 5, 6])
    );
    assert_eq!(
        lrs.ids(&[
            ("registration", &registration),
            ("agent", &gil),
            ("verb", ATTEMPTED)
        ])
        .await,
        pick(&[4, 6])
    );
    // mbox_sha1sum finds the statements of the mbox.
    let sha1 = json!({"mbox_sha1sum": sha1_hex("mailto:gil@example.com")}).to_string();
    assert_eq!(lrs.ids(&[("agent", &sha1)]).await, pick(&[0, 2, 4, 6]));
    // Oldest first, and pages of two that follow `more` to the end.
    let ascending = lrs.ids(&[("ascending", "true"), ("limit", "2")]).await;
    assert_eq!(ascending, stored);
    let first = json(lrs.get_statements(&[("limit", "2")]).await, 200).await;
    assert_eq!(ids_of(&first), pick(&[5, 6]));
    assert!(
        first["more"]
            .as_str()
            .unwrap()
            .starts_with("/xapi/statements/more/")
    );
    assert_eq!(lrs.ids(&[("limit", "3")]).await, newest_first);
    // since is exclusive and until inclusive, on stored.
    let mut stored_at = Vec::new();
    for id in &stored {
        stored_at.push(
            lrs.statement(id).await["stored"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let pivot = stored_at[3].clone();
    let expect = |keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        (0..stored.len())
            .rev()
            .filter(|i| keep(&stored_at[*i]))
            .map(|i| stored[i].clone())
            .collect()
    };
    assert_eq!(
        lrs.ids(&[("since", &pivot)]).await,
        expect(&|at| at > pivot.as_str())
    );
    assert_eq!(
        lrs.ids(&[("until", &pivot)]).await,
        expect(&|at| at <= pivot.as_str())
    );
    // Bad parameters are refused.
    for query in [
        vec![("verb", "not an iri")],
        vec![("limit", "-1")],
        vec![("Verb", COMPLETED)],
        vec![("statementId", stored[0].as_str()), ("verb", COMPLETED)],
        vec![("agent", r#"{"name": "no ifi"}"#)],
        vec![("since", "yesterday")],
    ] {
        assert_eq!(lrs.get_statements(&query).await.status(), 400, "{query:?}");
    }
    app.stop().await;
}

fn sha1_hex(text: &str) -> String {
    // The domain crate indexes mbox statements under this key too.
    domain::xapi::agent::Ifi::of(&json!({"mbox": text}))
        .unwrap()
        .index_keys()[1]
        .trim_start_matches("mbox_sha1sum:")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_refs_match_the_filters_of_their_targets() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Refs").await;
    let lrs = app.xapi_key(&ws.live_key);
    let verb = "http://example.com/verbs/targeted";
    let reference = |id: &str| {
        json!({
            "actor": agent("jo"),
            "verb": {"id": "http://example.com/verbs/comments-on"},
            "object": {"objectType": "StatementRef", "id": id},
        })
    };
    // Target first.
    let (target, st) = with_id(statement("kim", verb, "http://example.com/t"));
    lrs.store(&st).await;
    let first_ref = lrs.store(&reference(&target)).await.remove(0);
    // Then a chain whose end arrives last: a → b → c.
    let c = Uuid::new_v4().to_string();
    let (b, b_statement) = with_id(reference(&c));
    lrs.store(&b_statement).await;
    let a = lrs.store(&reference(&b)).await.remove(0);
    let mut c_statement = statement("kim", verb, "http://example.com/t");
    c_statement["id"] = json!(c);
    lrs.store(&c_statement).await;
    let expected = vec![
        c.clone(),
        a.clone(),
        b.clone(),
        first_ref.clone(),
        target.clone(),
    ];
    assert_eq!(lrs.ids(&[("verb", verb)]).await, expected);
    let kim = json!({"mbox": "mailto:kim@example.com"}).to_string();
    assert_eq!(lrs.ids(&[("agent", &kim)]).await, expected);
    // The time filters apply to the referring statement itself.
    let stored_a = lrs.statement(&a).await["stored"]
        .as_str()
        .unwrap()
        .to_owned();
    let since = lrs.ids(&[("verb", verb), ("since", &stored_a)]).await;
    assert!(since.contains(&c) && !since.contains(&b), "{since:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_ids_exact_and_canonical() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Formats").await;
    let lrs = app.xapi_key(&ws.live_key);
    let activity = "http://example.com/meeting";
    let mut first = statement("lee", COMPLETED, activity);
    first["object"]["definition"] = json!({"name": {"en-US": "meeting"}});
    let mut second = statement("lee", COMPLETED, activity);
    second["object"]["definition"] = json!({"name": {"fr-FR": "réunion"}});
    let id = lrs.store(&first).await.remove(0);
    lrs.store(&second).await;
    let ids = json(
        lrs.get_statements(&[("statementId", &id), ("format", "ids")])
            .await,
        200,
    )
    .await;
    assert_eq!(
        ids["actor"],
        json!({"objectType": "Agent", "mbox": "mailto:lee@example.com"})
    );
    assert_eq!(ids["verb"], json!({"id": COMPLETED}));
    assert_eq!(ids["object"], json!({"id": activity}));
    let canonical = json(
        lrs.request(Method::GET, "/statements")
            .query(&[("statementId", id.as_str()), ("format", "canonical")])
            .header("Accept-Language", "fr-FR")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        canonical["object"]["definition"]["name"],
        json!({"fr-FR": "réunion"}),
        "the canonical definition, in the asked language"
    );
    let exact = lrs.statement(&id).await;
    assert_eq!(exact["object"]["definition"], first["object"]["definition"]);
    let activity_object = json(
        lrs.request(Method::GET, "/activities")
            .query(&[("activityId", activity)])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        activity_object["definition"]["name"],
        json!({"en-US": "meeting", "fr-FR": "réunion"})
    );
    error(
        lrs.get_statements(&[("format", "full")]).await,
        400,
        "invalid_parameter",
    )
    .await;
    app.stop().await;
}

pub(crate) fn multipart(boundary: &str, statements: &Value, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body =
        format!("--{boundary}\r\nContent-Type: application/json\r\n\r\n{statements}").into_bytes();
    for (hash, content) in parts {
        body.extend(
            format!(
                "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {hash}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
    }
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

pub(crate) fn attachment_statement(content: &[u8]) -> (String, Value) {
    let sha2 = domain::xapi::attachment::sha256_hex(content);
    let mut st = statement("max", COMPLETED, "http://example.com/a");
    st["attachments"] = json!([{
        "usageType": "http://example.com/attachment-usage/test",
        "display": {"en-US": "a text"},
        "contentType": "text/plain",
        "length": content.len(),
        "sha2": sha2,
    }]);
    (sha2, st)
}

async fn post_multipart(lrs: &XapiClient, body: Vec<u8>) -> reqwest::Response {
    lrs.request(Method::POST, "/statements")
        .header("Content-Type", "multipart/mixed; boundary=b-1")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_travel_in_multipart_mixed() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Attachments").await;
    let lrs = app.xapi_key(&ws.live_key);
    let content = b"here is a simple attachment\r\n--b-1 is not a boundary here";
    let (sha2, st) = attachment_statement(content);
    let response = post_multipart(&lrs, multipart("b-1", &st, &[(&sha2, content)])).await;
    let id = json(response, 200).await[0].as_str().unwrap().to_owned();
    let response = lrs
        .get_statements(&[("statementId", &id), ("attachments", "true")])
        .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("multipart/mixed; boundary="),
        "{content_type}"
    );
    let boundary = content_type.split("boundary=").nth(1).unwrap().to_owned();
    let body = response.bytes().await.unwrap();
    let parts = api::lrs::multipart::parse(&body, &boundary).unwrap();
    assert_eq!(parts.len(), 2);
    let returned: Value = serde_json::from_slice(&parts[0].body).unwrap();
    assert_eq!(returned["id"], id);
    assert_eq!(
        parts[1].header("x-experience-api-hash"),
        Some(sha2.as_str())
    );
    assert_eq!(&parts[1].body[..], content);
    // Without attachments=true the answer is JSON with the attachment metadata only.
    let plain = lrs.statement(&id).await;
    assert_eq!(plain["attachments"][0]["sha2"], sha2);

    // A part whose bytes do not match its hash, a missing part, a stray part.
    let (sha2, st) = attachment_statement(b"other content");
    let wrong = post_multipart(&lrs, multipart("b-1", &st, &[(&sha2, b"tampered")])).await;
    assert_eq!(wrong.status(), 400);
    let missing = post_multipart(&lrs, multipart("b-1", &st, &[])).await;
    assert_eq!(missing.status(), 400);
    let stray_bytes = b"nobody asked";
    let stray_hash = domain::xapi::attachment::sha256_hex(stray_bytes);
    let stray = post_multipart(
        &lrs,
        multipart(
            "b-1",
            &statement("max", COMPLETED, "http://example.com/a"),
            &[(&stray_hash, stray_bytes)],
        ),
    )
    .await;
    assert_eq!(stray.status(), 400);
    // Raw attachment data needs multipart: plain JSON is refused.
    assert_eq!(lrs.post_statements(&st).await.status(), 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_statements_are_verified() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Signed").await;
    let lrs = app.xapi_key(&ws.live_key);
    let fixture: Value = serde_json::from_str(include_str!(
        "../../domain/tests/data/xapi/signed_statement.json"
    ))
    .unwrap();
    let jws = fixture["jws_rs256"].as_str().unwrap().as_bytes().to_vec();
    let sign = |statement: &Value, jws: &[u8]| {
        let sha2 = domain::xapi::attachment::sha256_hex(jws);
        let mut statement = statement.clone();
        statement["attachments"] = json!([{
            "usageType": "http://adlnet.gov/expapi/attachments/signature",
            "display": {"en-US": "signature"},
            "contentType": "application/octet-stream",
            "length": jws.len(),
            "sha2": sha2,
        }]);
        (sha2, statement)
    };
    let statement = fixture["statement"].clone();
    let (sha2, signed) = sign(&statement, &jws);
    let body = multipart("b-1", &signed, &[(&sha2, &jws)]);
    let accepted = post_multipart(&lrs, body).await;
    assert_eq!(accepted.status(), 200, "{}", accepted.text().await.unwrap());
    let mut tampered = statement.clone();
    tampered["verb"]["id"] = json!("http://example.com/verbs/forged");
    let (sha2, forged) = sign(&tampered, &jws);
    let refused = post_multipart(&lrs, multipart("b-1", &forged, &[(&sha2, &jws)])).await;
    let body = json(refused, 400).await;
    assert_eq!(body["error"]["code"], "invalid_signature", "{body}");
    app.stop().await;
}

/// A statement write answers once it is in the log; the statement views follow. Here they
/// run only when the test moves them: until then `Consistent-Through` stays before the
/// write, and the writer's own reads wait for it while other callers' do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_before_the_views_which_consistent_through_and_own_reads_follow() {
    use api::lrs::STATEMENT_VIEWS;
    use domain::events::EventMetadata;
    use domain::tenancy::{Environment, Scope, WorkspaceId};
    use domain::xapi::XapiVersion;
    use domain::xapi::statement::{PrepareContext, prepare_post};
    use std::time::Duration;

    e2e::init();
    let db = store::testing::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = e2e::test_settings(db.url(), dir.path());
    let platform = api::platform::Platform::open(&settings.storage)
        .await
        .unwrap();
    for view in STATEMENT_VIEWS {
        platform.projections.catch_up(view).await.unwrap();
    }
    let lrs = platform.lrs.clone();
    let scope = Scope::new(WorkspaceId::from_uuid(Uuid::new_v4()), Environment::Live);
    let stored_at = chrono::Utc::now();
    let write = lrs.in_flight(stored_at, "lrs:writer");
    let context = PrepareContext {
        version: XapiVersion::V2_0_0,
        stored: stored_at,
        authority: None,
    };
    let prepared = prepare_post(
        statement("ned", COMPLETED, "http://example.com/a"),
        &context,
        Uuid::new_v4,
    )
    .unwrap();
    let metadata = EventMetadata::scoped(scope).with_actor("lrs:writer");
    let stored = lrs
        .store_statements(&scope, prepared, vec![], None, &metadata, write)
        .await
        .unwrap();
    let id = stored.ids[0];
    let by_id = || projections::lrs::statements::by_id(&platform.db, &scope, id);
    assert!(by_id().await.unwrap().is_none(), "the views have not run");

    let later = stored_at + chrono::Duration::seconds(5);
    assert!(
        lrs.consistent_through(later).await < stored_at,
        "not consistent through a write the views do not show"
    );
    assert!(
        lrs.see_own_writes("lrs:reader", Duration::from_secs(60))
            .await,
        "another caller reads at once"
    );
    assert!(
        !lrs.see_own_writes("lrs:writer", Duration::from_millis(50))
            .await,
        "the writer's read waits for the views"
    );
    let own_read = tokio::spawn({
        let lrs = lrs.clone();
        async move {
            lrs.see_own_writes("lrs:writer", Duration::from_secs(60))
                .await
        }
    });
    for view in STATEMENT_VIEWS {
        platform.projections.catch_up(view).await.unwrap();
    }
    assert!(
        own_read.await.unwrap(),
        "the writer's read goes on once the views show the write"
    );
    assert!(by_id().await.unwrap().is_some());
    assert_eq!(lrs.consistent_through(later).await, later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_reads_say_how_consistent_they_are() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Headers").await;
    let lrs = app.xapi_key(&ws.live_key);
    let id = lrs
        .store(&statement("ned", COMPLETED, "http://example.com/a"))
        .await
        .remove(0);
    let stored = lrs.statement(&id).await["stored"]
        .as_str()
        .unwrap()
        .to_owned();
    for query in [
        vec![("statementId", id.as_str())],
        vec![],
        vec![("verb", "bad")],
    ] {
        let response = lrs.get_statements(&query).await;
        let through = response.headers()["x-experience-api-consistent-through"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            through.as_str() >= stored.as_str(),
            "consistent through {through}, but {stored} is readable ({query:?})"
        );
    }
    let response = lrs.get_statements(&[("statementId", &id)]).await;
    let last_modified = response.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned();
    let parsed = chrono::DateTime::parse_from_rfc2822(&last_modified).unwrap();
    assert_eq!(
        parsed.timestamp(),
        chrono::DateTime::parse_from_rfc3339(&stored)
            .unwrap()
            .timestamp()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alternate_request_syntax_of_1_0() {
    let app = TestApp::spawn().await;
    let ws = app.create_workspace("Alternate").await;
    let one = app.xapi_key(&ws.live_key).version("1.0.3");
    let form = form_urlencoded_pairs;
    let id = Uuid::new_v4().to_string();
    let st = statement("oli", COMPLETED, "http://example.com/a").to_string();
    let post = |query: &'static str, body: String| {
        app.client
            .post(app.url(&format!("/xapi/statements{query}")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let put = post(
        "?method=PUT",
        form(&[
            ("statementId", &id),
            ("content", &st),
            ("Authorization", &one.auth),
            ("X-Experience-API-Version", "1.0.3"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(put.status(), 204);
    let get = post(
        "?method=GET",
        form(&[
            ("statementId", &id),
            ("Authorization", &one.auth),
            ("X-Experience-API-Version", "1.0.3"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(json(get, 200).await["id"], id);
    // Parameters belong in the form, not the query.
    let extra = post(
        "?method=GET&limit=1",
        form(&[
            ("Authorization", &one.auth),
            ("X-Experience-API-Version", "1.0.3"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(extra.status(), 400);
    // 2.0 has no alternate syntax.
    let two = post(
        "?method=GET",
        form(&[
            ("Authorization", &one.auth),
            ("X-Experience-API-Version", "2.0.0"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(two.status(), 400);
    // Only POST carries it.
    let not_post = one
        .request(Method::PUT, "/statements?method=GET")
        .send()
        .await
        .unwrap();
    assert_eq!(not_post.status(), 400);
    app.stop().await;
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_may_call_the_lrs_from_other_origins() {
    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/xapi/statements"))
        .header("Origin", "https://content.example.com")
        .header("Access-Control-Request-Method", "PUT")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,x-experience-api-version",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("x-experience-api-version"), "{allowed}");
    app.stop().await;
}
