//! `/xapi/statements`: store (`PUT`, `POST`) and query (`GET`) statements.

use std::collections::{BTreeSet, HashSet};

use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, LAST_MODIFIED};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::lrs::credential::{Access, StatementReads};
use domain::lrs::objects::activities_of;
use domain::lrs::statement::StoredAttachment;
use domain::xapi::agent::actor_keys;
use domain::xapi::query::{StatementQuery, StatementsGet, parse_statements_get, uuid_param};
use domain::xapi::render::{
    Format, RenderOptions, parse_accept_language, render_statement, statement_result,
};
use domain::xapi::statement::{PrepareContext, prepare_post, prepare_put};
use domain::xapi::syntax::{normalize_iri, parse_json_strict};
use domain::xapi::{ErrorCode, XapiError, XapiVersion};
use projections::lrs::statements::{
    Cursor, StatementFilter, StatementRow, activity_key, agent_key, authority_key,
    registration_key, verb_key,
};
use serde_json::{Value, json};
use store::blob::BlobKey;
use uuid::Uuid;

use super::{Resource, XapiRequest, handle as handle_request, http_date, no_content, xapi_error};
use crate::error::{ApiError, ErrorBody};
use crate::lrs::auth::LrsCaller;
use crate::lrs::multipart::{self, OutPart};
use crate::lrs::{LrsError, Part};
use crate::state::AppState;

/// The most statements one page returns (`limit=0` asks for this many).
pub const MAX_PAGE: u32 = 500;

/// Query statements: one by `statementId`/`voidedStatementId`, or a filtered page.
#[utoipa::path(get, path = "/xapi/statements", tag = "xapi",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0"),
        ("statementId" = Option<String>, Query), ("voidedStatementId" = Option<String>, Query),
        ("agent" = Option<String>, Query), ("verb" = Option<String>, Query),
        ("activity" = Option<String>, Query), ("registration" = Option<String>, Query),
        ("related_activities" = Option<bool>, Query), ("related_agents" = Option<bool>, Query),
        ("since" = Option<String>, Query), ("until" = Option<String>, Query),
        ("limit" = Option<u32>, Query), ("format" = Option<String>, Query),
        ("attachments" = Option<bool>, Query), ("ascending" = Option<bool>, Query),
    ),
    responses(
        (status = 200, description = "a Statement or a StatementResult"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn get_statements(State(state): State<AppState>, request: Request) -> Response {
    handle_request(state, Resource::Statements, request, None).await
}

/// Store one statement under `statementId`.
#[utoipa::path(put, path = "/xapi/statements", tag = "xapi",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0"),
        ("statementId" = String, Query),
    ),
    request_body(content = Object, description = "a Statement (application/json, or multipart/mixed with attachments)"),
    responses(
        (status = 204, description = "stored, or the same statement was already stored"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn put_statement(State(state): State<AppState>, request: Request) -> Response {
    handle_request(state, Resource::Statements, request, None).await
}

/// Store a statement or a batch (all or none); 1.0.x also takes the alternate request
/// syntax here (`?method=GET|PUT`).
#[utoipa::path(post, path = "/xapi/statements", tag = "xapi",
    params(("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0")),
    request_body(content = Object, description = "a Statement or an array of them (application/json, or multipart/mixed with attachments)"),
    responses(
        (status = 200, description = "the statement ids, in request order"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn post_statements(State(state): State<AppState>, request: Request) -> Response {
    handle_request(state, Resource::Statements, request, None).await
}

/// The next page of a statement query (the `more` link of a StatementResult).
#[utoipa::path(get, path = "/xapi/statements/more/{token}", tag = "xapi",
    params(
        ("X-Experience-API-Version" = String, Header, description = "1.0.x or 2.0.0"),
        ("token" = String, Path, description = "from the previous page's `more`"),
    ),
    responses(
        (status = 200, description = "a StatementResult"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    ),
    security(("lrs_basic" = []), ("api_key" = [])))]
pub async fn more_statements(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    handle_request(state, Resource::More, request, Some(token)).await
}

pub(super) async fn handle(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    request: XapiRequest,
    more: Option<String>,
) -> Result<Response, ApiError> {
    match (&request.method, &more) {
        (&Method::GET | &Method::HEAD, _) => get(state, caller, version, request, more).await,
        (&Method::PUT, None) => put(state, caller, version, request).await,
        (&Method::POST, None) => post(state, caller, version, request).await,
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource does not accept that method",
        )),
    }
}

fn forbidden(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        format!("these credentials may not {what}"),
    )
}

/// The statements and attachment parts of a `PUT`/`POST` body.
fn read_body(request: &XapiRequest) -> Result<(Value, Vec<Part>), ApiError> {
    let content_type = request.content_type();
    let main = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let invalid_json = |e: domain::xapi::syntax::JsonError| {
        xapi_error(XapiError::new(ErrorCode::InvalidJson, "$", e.to_string()))
    };
    match main.as_str() {
        "application/json" => Ok((
            parse_json_strict(&request.body).map_err(invalid_json)?,
            vec![],
        )),
        "multipart/mixed" => {
            let bad = |message: String| ApiError::bad_request("invalid_multipart", message);
            let boundary = multipart::boundary(content_type)
                .ok_or_else(|| bad("multipart/mixed needs a boundary".into()))?;
            let raw = multipart::parse(&request.body, &boundary).map_err(bad)?;
            let mut raw = raw.into_iter();
            let first = raw
                .next()
                .ok_or_else(|| bad("the multipart body has no statement part".into()))?;
            let first_type = first.header("content-type").unwrap_or("");
            if !first_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
            {
                return Err(bad(
                    "the first part must be the statements as application/json".into(),
                ));
            }
            let json = parse_json_strict(&first.body).map_err(invalid_json)?;
            let mut parts = Vec::new();
            for (i, part) in raw.enumerate() {
                let encoding = part.header("content-transfer-encoding").unwrap_or("");
                if !encoding.eq_ignore_ascii_case("binary") {
                    return Err(bad(format!(
                        "attachment part {i} must have Content-Transfer-Encoding: binary"
                    )));
                }
                let hash = part.header("x-experience-api-hash").ok_or_else(|| {
                    bad(format!(
                        "attachment part {i} has no X-Experience-API-Hash header"
                    ))
                })?;
                parts.push(Part {
                    content_type: part
                        .header("content-type")
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                    hash: hash.to_owned(),
                    content: part.body.clone(),
                });
            }
            Ok((json, parts))
        }
        _ => Err(ApiError::bad_request(
            "unsupported_content_type",
            "statements are application/json, or multipart/mixed with attachments",
        )),
    }
}

fn prepare_context(caller: &LrsCaller, version: XapiVersion, now: DateTime<Utc>) -> PrepareContext {
    PrepareContext {
        version,
        stored: now,
        authority: Some(caller.authority.clone()),
    }
}

async fn put(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    request: XapiRequest,
) -> Result<Response, ApiError> {
    if !caller.permissions.can(Access::WriteStatements) {
        return Err(forbidden("write statements"));
    }
    let mut id = None;
    for (name, value) in &request.params {
        match name.as_str() {
            "statementId" if id.is_none() => {
                id = Some(uuid_param(value, "statementId").map_err(xapi_error)?)
            }
            _ => {
                return Err(xapi_error(XapiError::new(
                    ErrorCode::UnknownParameter,
                    name,
                    format!("PUT /statements takes only statementId, not {name:?}"),
                )));
            }
        }
    }
    let id = id.ok_or_else(|| {
        xapi_error(XapiError::new(
            ErrorCode::MissingParameter,
            "statementId",
            "PUT /statements needs the statementId parameter",
        ))
    })?;
    let (received, parts) = read_body(&request)?;
    let now = Utc::now();
    let lrs = &state.platform.lrs;
    let write = lrs.in_flight(now, &caller.actor);
    let prepared = prepare_put(received, id, &prepare_context(caller, version, now))
        .map_err(LrsError::from)?;
    lrs.store_statements(
        &caller.scope,
        vec![prepared],
        parts,
        caller.restriction.as_ref(),
        &caller.metadata(),
        write,
    )
    .await?;
    Ok(no_content())
}

async fn post(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    request: XapiRequest,
) -> Result<Response, ApiError> {
    if !caller.permissions.can(Access::WriteStatements) {
        return Err(forbidden("write statements"));
    }
    if let Some((name, _)) = request.params.first() {
        return Err(xapi_error(XapiError::new(
            ErrorCode::UnknownParameter,
            name,
            format!("POST /statements takes no parameters, not {name:?}"),
        )));
    }
    let (received, parts) = read_body(&request)?;
    let now = Utc::now();
    let lrs = &state.platform.lrs;
    let write = lrs.in_flight(now, &caller.actor);
    let prepared = prepare_post(
        received,
        &prepare_context(caller, version, now),
        Uuid::new_v4,
    )
    .map_err(LrsError::from)?;
    let stored = lrs
        .store_statements(
            &caller.scope,
            prepared,
            parts,
            caller.restriction.as_ref(),
            &caller.metadata(),
            write,
        )
        .await?;
    let ids: Vec<String> = stored.ids.iter().map(Uuid::to_string).collect();
    Ok((StatusCode::OK, axum::Json(ids)).into_response())
}

/// A `more` token: the query's parameters and where the last page ended.
fn encode_more(params: &[(String, String)], cursor: Cursor) -> String {
    let body = json!({"p": params, "c": [cursor.stored_ms, cursor.seq]});
    URL_SAFE_NO_PAD.encode(body.to_string())
}

fn decode_more(token: &str) -> Option<(Vec<(String, String)>, Cursor)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let body: Value = serde_json::from_slice(&bytes).ok()?;
    let params = body["p"]
        .as_array()?
        .iter()
        .map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
        .collect::<Option<Vec<_>>>()?;
    let cursor = Cursor {
        stored_ms: body["c"][0].as_i64()?,
        seq: body["c"][1].as_i64()?,
    };
    Some((params, cursor))
}

/// The path prefix of the public URL (`/lms` for `https://host/lms`).
fn path_prefix(public_url: &str) -> &str {
    let rest = public_url.split_once("://").map_or(public_url, |(_, r)| r);
    rest.find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
}

async fn get(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    request: XapiRequest,
    more: Option<String>,
) -> Result<Response, ApiError> {
    let reads = caller.permissions.statement_reads();
    if reads == StatementReads::None {
        return Err(forbidden("read statements"));
    }
    let (params, after) = match &more {
        Some(token) => {
            let (params, cursor) = decode_more(token).ok_or_else(|| {
                ApiError::bad_request("invalid_more", "this more link is not one this LRS made")
            })?;
            if !request.params.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_more",
                    "a more link takes no further parameters",
                ));
            }
            (params, Some(cursor))
        }
        None => (request.params.clone(), None),
    };
    let parsed = parse_statements_get(&params, version).map_err(xapi_error)?;
    let languages = request
        .header("accept-language")
        .map(parse_accept_language)
        .unwrap_or_default();
    match parsed {
        StatementsGet::Single {
            id,
            voided,
            format,
            attachments,
        } => {
            let found = projections::lrs::statements::by_id(&state.platform.db, &caller.scope, id)
                .await?
                .filter(|s| s.voided == voided)
                .filter(|s| reads == StatementReads::All || written_by(&s.row, caller));
            let Some(found) = found else {
                return Err(ApiError::not_found(
                    "statement_not_found",
                    format!("no statement {id} here"),
                ));
            };
            let rows = [found.row];
            let rendered = render(state, caller, version, format, &languages, &rows).await?;
            let body = rendered.into_iter().next().unwrap_or(Value::Null);
            let mut response = respond(state, &body, &rows, attachments).await?;
            if let Some(at) = DateTime::from_timestamp_millis(rows[0].stored_ms) {
                response.headers_mut().insert(LAST_MODIFIED, http_date(at));
            }
            Ok(response)
        }
        StatementsGet::Query(query) => {
            let filter = filter(&query, caller, reads, after);
            let mut rows =
                projections::lrs::statements::query(&state.platform.db, &caller.scope, &filter)
                    .await?;
            let page = filter.limit as usize - 1;
            let more = if rows.len() > page {
                rows.truncate(page);
                rows.last().map(|last| {
                    format!(
                        "{}/xapi/statements/more/{}",
                        path_prefix(&state.settings.public_url),
                        encode_more(&params, last.cursor())
                    )
                })
            } else {
                None
            };
            let rendered = render(state, caller, version, query.format, &languages, &rows).await?;
            let body = statement_result(rendered, more.as_deref());
            let mut response = respond(state, &body, &rows, query.attachments).await?;
            let newest = rows.iter().map(|r| r.stored_ms).max();
            if let Some(at) = newest.and_then(DateTime::from_timestamp_millis) {
                response.headers_mut().insert(LAST_MODIFIED, http_date(at));
            }
            Ok(response)
        }
    }
}

/// Whether the caller's credential wrote the statement (`statements/read/mine`).
fn written_by(row: &StatementRow, caller: &LrsCaller) -> bool {
    serde_json::from_str::<Value>(&row.statement)
        .ok()
        .and_then(|s| s.get("authority").map(actor_keys))
        .is_some_and(|keys| keys.contains(&caller.authority_key))
}

/// The view filter of a query: the most selective key first.
fn filter(
    query: &StatementQuery,
    caller: &LrsCaller,
    reads: StatementReads,
    after: Option<Cursor>,
) -> StatementFilter {
    let mut keys = Vec::new();
    if let Some(registration) = query.registration {
        keys.push(registration_key(registration));
    }
    if let Some(agent) = &query.agent {
        keys.push(agent_key(&agent.ifi.key(), query.related_agents));
    }
    if let Some(activity) = &query.activity {
        keys.push(activity_key(activity, query.related_activities));
    }
    if let Some(verb) = &query.verb {
        keys.push(verb_key(verb));
    }
    if reads == StatementReads::Mine {
        keys.push(authority_key(&caller.authority_key));
    }
    StatementFilter {
        keys,
        since_ms: query.since.map(|t| t.millis()),
        until_ms: query.until.map(|t| t.millis()),
        ascending: query.ascending,
        after,
        // One more than the page, to know whether there is a next one.
        limit: query.effective_limit(MAX_PAGE) + 1,
    }
}

async fn render(
    state: &AppState,
    caller: &LrsCaller,
    version: XapiVersion,
    format: Format,
    languages: &[String],
    rows: &[StatementRow],
) -> Result<Vec<Value>, ApiError> {
    let statements: Vec<Value> = rows
        .iter()
        .map(|row| {
            serde_json::from_str(&row.statement).map_err(|e| {
                ApiError::internal(anyhow::anyhow!("statement at {} is not json: {e}", row.seq))
            })
        })
        .collect::<Result<_, _>>()?;
    let definitions = if format == Format::Canonical {
        let keys: BTreeSet<String> = statements
            .iter()
            .flat_map(|s| activities_of(s).into_iter().map(|a| a.key))
            .collect();
        projections::lrs::objects::definitions(&state.platform.db, &caller.scope, &keys).await?
    } else {
        Default::default()
    };
    let lookup = |id: &str| definitions.get(&normalize_iri(id)).cloned();
    let options = RenderOptions {
        format,
        version,
        languages,
        canonical_definition: Some(&lookup),
    };
    Ok(statements
        .iter()
        .map(|s| render_statement(s, &options))
        .collect())
}

/// A JSON answer, or `multipart/mixed` with the attachments of `rows` when asked for.
async fn respond(
    state: &AppState,
    body: &Value,
    rows: &[StatementRow],
    attachments: bool,
) -> Result<Response, ApiError> {
    let json = serde_json::to_vec(body).expect("json serializes");
    if !attachments {
        return Ok((
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            json,
        )
            .into_response());
    }
    let mut seen = HashSet::new();
    let mut kept: Vec<(StoredAttachment, Vec<u8>)> = Vec::new();
    for attachment in rows.iter().flat_map(StatementRow::stored_attachments) {
        if !seen.insert(attachment.sha2.clone()) {
            continue;
        }
        let key: BlobKey = attachment
            .blob
            .parse()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        let Some(blob) = state.platform.lrs.blobs().get(&key).await? else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "attachment blob {key} is missing"
            )));
        };
        kept.push((attachment, blob.bytes().await?));
    }
    let parts: Vec<OutPart<'_>> = kept
        .iter()
        .map(|(a, bytes)| OutPart {
            content_type: &a.content_type,
            sha2: &a.sha2,
            content: bytes,
        })
        .collect();
    let boundary = format!("xapi-{}", Uuid::new_v4().simple());
    let body = multipart::build(&boundary, &json, &parts);
    let content_type = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}"))
        .expect("a boundary is a valid header");
    Ok(([(CONTENT_TYPE, content_type)], body).into_response())
}
