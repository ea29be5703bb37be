//! `/api/v1/courses`: upload (raw ZIP or multipart), import from a URL, the
//! catalogue (list, get, files, package download), title and tags, delete.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::course::{CourseCommand, CourseId, ImportSource};
use domain::package::Finding;
use futures::StreamExt;
use projections::courses::{CourseFilter, CourseRow, VersionRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::import::{Outcome, SpoolError, Spooled, Started};
use crate::routes::imports::{ImportBody, import_body};
use crate::routes::{ApiJson, ApiQuery, Written};
use crate::state::AppState;

#[derive(Deserialize, IntoParams, Default)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The course id (a new version when it exists); drawn when absent.
    pub course_id: Option<String>,
    /// The title; the manifest's otherwise.
    pub title: Option<String>,
}

fn course_id_or_new(raw: Option<String>) -> Result<CourseId, ApiError> {
    match raw {
        Some(raw) => CourseId::parse(&raw)
            .map_err(|e| ApiError::bad_request("invalid_course_id", e.to_string())),
        None => Ok(CourseId::parse(&uuid::Uuid::now_v7().simple().to_string())
            .expect("a uuid is a course id")),
    }
}

fn spool_error(err: SpoolError) -> ApiError {
    match err {
        SpoolError::TooLarge { limit } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload_too_large",
            format!("the upload is larger than {limit} bytes"),
        ),
        SpoolError::Read(reason) => ApiError::bad_request(
            "upload_interrupted",
            format!("the upload could not be read: {reason}"),
        ),
        SpoolError::Io(err) => ApiError::internal(err),
    }
}

/// Starts an import of a spooled package, waits a little for it, and
/// answers with the import: 201 complete, 202 running, 422 failed.
async fn import_and_answer(
    state: &AppState,
    caller: &Caller,
    course_id: CourseId,
    title: Option<String>,
    source: ImportSource,
    spooled: Spooled,
) -> Result<Response, ApiError> {
    let importer = &state.importer;
    let started: Started = importer
        .begin(&caller.scope, &caller.metadata(), course_id, title, source)
        .await?;
    let import_id = started.import_id.clone();
    let started_at = started.checkpoint;
    let mut job = importer.run(caller.scope, caller.metadata(), started, spooled);
    let finished = tokio::time::timeout(importer.settings().inline_wait, &mut job).await;
    let status = match finished {
        Ok(Ok(Outcome::Complete { checkpoint, .. })) => {
            state.settle("courses", checkpoint).await;
            StatusCode::CREATED
        }
        Ok(Ok(Outcome::Failed { checkpoint, .. })) => {
            state.settle("courses", checkpoint).await;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Ok(Err(err)) => return Err(ApiError::internal(anyhow::anyhow!("import task: {err}"))),
        // Still running: the answer shows the import as started. (When it
        // ended, the view applying its end has applied its start too.)
        Err(_) => {
            state.settle("courses", started_at).await;
            StatusCode::ACCEPTED
        }
    };
    let body = import_body(state, caller, &import_id)
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("import {import_id} is not in its view"))
        })?;
    let mut response = (status, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/imports/{import_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Uploads a package: `Content-Type: application/zip` with the ZIP as the
/// body, or `multipart/form-data` with a `file` part (and optional
/// `course_id` and `title` parts), or `application/xml` with a bare cmi5
/// course structure whose AU URLs are absolute. Answers with the import: 201 when it
/// completed at once, 202 while it runs (poll `GET /imports/{id}`), 422
/// when the package was refused (the body says why and where).
#[utoipa::path(post, path = "/courses", tag = "courses", params(UploadQuery),
    request_body(content = Vec<u8>, description = "the package (ZIP), or multipart with a `file` part",
        content_type = "application/zip"),
    responses(
        (status = 201, description = "imported", body = ImportBody),
        (status = 202, description = "importing", body = ImportBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "the package was refused", body = ImportBody),
    ),
    security(("api_key" = [])))]
pub async fn upload_course(
    caller: Caller,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let (mut course_id, mut title) = (query.course_id, query.title);
    let file_name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let spooled = match essence.as_str() {
        "application/zip"
        | "application/x-zip-compressed"
        | "application/octet-stream"
        | "application/x-zip"
        | "application/xml"
        | "text/xml" => {
            let body = request.into_body().into_data_stream();
            let spooled = state.importer.spool(body).await.map_err(spool_error)?;
            (spooled, file_name)
        }
        "multipart/form-data" => {
            let mut multipart = Multipart::from_request(request, &state)
                .await
                .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?;
            let mut spooled = None;
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request("invalid_multipart", e.body_text()))?
            {
                match field.name().unwrap_or("") {
                    "file" => {
                        let name = field.file_name().map(str::to_owned);
                        let stream = field.map(|chunk| chunk.map_err(|e| e.body_text()));
                        spooled = Some((
                            state
                                .importer
                                .spool(Box::pin(stream))
                                .await
                                .map_err(spool_error)?,
                            name,
                        ));
                    }
                    "course_id" => {
                        course_id = Some(field.text().await.map_err(|e| {
                            ApiError::bad_request("invalid_multipart", e.body_text())
                        })?)
                    }
                    "title" => {
                        title = Some(field.text().await.map_err(|e| {
                            ApiError::bad_request("invalid_multipart", e.body_text())
                        })?)
                    }
                    other => {
                        return Err(ApiError::bad_request(
                            "invalid_multipart",
                            format!("unknown part {other:?}; send `file`, `course_id` and `title`"),
                        ));
                    }
                }
            }
            spooled.ok_or_else(|| {
                ApiError::bad_request("missing_file", "the multipart body has no `file` part")
            })?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the package as application/zip, or as multipart/form-data with a `file` part",
            ));
        }
    };
    let (spooled, file_name) = spooled;
    let course_id = course_id_or_new(course_id)?;
    import_and_answer(
        &state,
        &caller,
        course_id,
        title,
        ImportSource::Upload { file_name },
        spooled,
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportUrl {
    /// `http(s)://` URL of the package (a bucket object, a web server).
    pub url: String,
    pub course_id: Option<String>,
    pub title: Option<String>,
}

/// Whether an address is private, loopback, link-local or otherwise not
/// on the public internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64 // 100.64/10, shared
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Imports a package from a URL, with the same answers as an upload.
#[utoipa::path(post, path = "/courses/import-url", tag = "courses", request_body = ImportUrl,
    responses(
        (status = 201, description = "imported", body = ImportBody),
        (status = 202, description = "importing", body = ImportBody),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "the package was refused, or could not be fetched", body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn import_from_url(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ImportUrl>,
) -> Result<Response, ApiError> {
    let url = reqwest::Url::parse(&body.url)
        .map_err(|e| ApiError::bad_request("invalid_url", format!("{}: {e}", body.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::bad_request(
            "invalid_url",
            "only http and https URLs can be imported",
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| ApiError::bad_request("invalid_url", "the URL has no host"))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<std::net::SocketAddr> =
        tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| {
                ApiError::unprocessable(
                    "download_failed",
                    format!("{host} cannot be resolved: {e}"),
                )
            })?
            .collect();
    if addresses.is_empty() {
        return Err(ApiError::unprocessable(
            "download_failed",
            format!("{host} resolves to no address"),
        ));
    }
    if !state.importer.settings().allow_private_urls && addresses.iter().any(|a| is_private(a.ip()))
    {
        return Err(ApiError::unprocessable(
            "private_address",
            format!(
                "{host} resolves to a private, loopback or link-local address; imports fetch only public URLs"
            ),
        ));
    }
    let course_id = course_id_or_new(body.course_id)?;
    // Connect to the addresses just checked, so DNS cannot change between
    // the check and the fetch.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(3600))
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(ApiError::internal)?;
    let response = client.get(url.clone()).send().await.map_err(|e| {
        ApiError::unprocessable(
            "download_failed",
            format!("{url} could not be fetched: {e}"),
        )
    })?;
    if !response.status().is_success() {
        return Err(ApiError::unprocessable(
            "download_failed",
            format!(
                "{url} answered {} (redirects are not followed)",
                response.status()
            ),
        ));
    }
    let stream = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| e.to_string()));
    let spooled = state
        .importer
        .spool(Box::pin(stream))
        .await
        .map_err(spool_error)?;
    import_and_answer(
        &state,
        &caller,
        course_id,
        body.title,
        ImportSource::Url {
            url: url.to_string(),
        },
        spooled,
    )
    .await
}

#[derive(Serialize, ToSchema)]
pub struct VersionSummary {
    pub version: i64,
    pub import_id: String,
    pub title: String,
    pub file_count: i64,
    pub total_size: i64,
    pub package_size: i64,
    pub created_at: String,
}

impl From<&VersionRow> for VersionSummary {
    fn from(v: &VersionRow) -> Self {
        VersionSummary {
            version: v.version,
            import_id: v.import_id.clone(),
            title: v.title.clone(),
            file_count: v.file_count,
            total_size: v.total_size,
            package_size: v.package_size,
            created_at: v.created_at.clone(),
        }
    }
}

/// A course of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct CourseSummary {
    pub id: String,
    pub title: String,
    /// `scorm12`, `scorm2004`, `aicc`, `xapi` or `cmi5`.
    pub standard: String,
    /// The standard with its edition, e.g. `{"scorm2004": {"edition": "fourth"}}`.
    #[schema(value_type = Object)]
    pub standard_detail: serde_json::Value,
    /// The authoring tool recognised, e.g. `articulate_storyline`.
    pub authoring_tool: Option<String>,
    /// The version new registrations use.
    pub version: i64,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CourseRow> for CourseSummary {
    fn from(c: CourseRow) -> Self {
        CourseSummary {
            id: c.course_id,
            title: c.title,
            standard: c.standard,
            standard_detail: serde_json::to_value(c.standard_detail).unwrap_or_default(),
            authoring_tool: c.authoring_tool,
            version: c.current_version,
            tags: c.tags,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A course with its versions and the structure of its current version.
#[derive(Serialize, ToSchema)]
pub struct CourseDetail {
    #[serde(flatten)]
    pub course: CourseSummary,
    pub versions: Vec<VersionSummary>,
    /// The activity tree of the current version: activities (launchable or
    /// not), launch paths, static properties, sequencing.
    #[schema(value_type = Object)]
    pub structure: serde_json::Value,
    /// Parser warnings of the current version.
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Finding>,
}

async fn detail(state: &AppState, caller: &Caller, id: &str) -> Result<CourseDetail, ApiError> {
    let db = &state.platform.db;
    let course = projections::courses::course(db, &caller.scope, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let versions = projections::courses::versions(db, &caller.scope, id).await?;
    let current = versions
        .iter()
        .find(|v| v.version == course.current_version)
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("course {id} has no current version row"))
        })?;
    Ok(CourseDetail {
        structure: serde_json::to_value(&current.structure).map_err(ApiError::internal)?,
        warnings: current.warnings.clone(),
        versions: versions.iter().map(VersionSummary::from).collect(),
        course: course.into(),
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "course_not_found",
        format!("no course {id} in this environment"),
    )
}

/// A course of the caller's scope.
#[utoipa::path(get, path = "/courses/{id}", tag = "courses",
    params(("id" = String, Path, description = "course id")),
    responses((status = 200, body = CourseDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_course(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CourseDetail>, ApiError> {
    Ok(Json(detail(&state, &caller, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Courses whose title contains this (any case).
    pub title: Option<String>,
    /// Courses with this tag.
    pub tag: Option<String>,
    /// `scorm12`, `scorm2004`, `aicc`, `xapi` or `cmi5`.
    pub standard: Option<String>,
    /// Courses created or changed at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Wait until the views show this log position.
    pub min_position: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CoursePage {
    pub courses: Vec<CourseSummary>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The live courses of the caller's scope, oldest first, paged.
#[utoipa::path(get, path = "/courses", tag = "courses", params(ListQuery),
    responses((status = 200, body = CoursePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_courses(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CoursePage>, ApiError> {
    let limit = super::page_limit(query.limit, 50, 500)?;
    if let Some(standard) = &query.standard
        && !["scorm12", "scorm2004", "aicc", "xapi", "cmi5"].contains(&standard.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_standard",
            "standard must be scorm12, scorm2004, aicc, xapi or cmi5",
        ));
    }
    let since = match &query.since {
        Some(raw) => Some(projections::workspaces::timestamp(
            &chrono::DateTime::parse_from_rfc3339(raw)
                .map_err(|e| {
                    ApiError::bad_request(
                        "invalid_since",
                        format!("since must be an RFC 3339 time: {e}"),
                    )
                })?
                .with_timezone(&Utc),
        )),
        None => None,
    };
    let after = match &query.cursor {
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave")
        })?),
        None => None,
    };
    let filter = CourseFilter {
        title: query.title,
        tag: query.tag,
        standard: query.standard,
        since,
        after,
    };
    let mut rows =
        projections::courses::courses(&state.platform.db, &caller.scope, &filter, limit + 1)
            .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| encode_cursor(&last.created_at, &last.course_id))
    } else {
        None
    };
    Ok(Json(CoursePage {
        courses: rows.into_iter().map(CourseSummary::from).collect(),
        next_cursor,
    }))
}

fn encode_cursor(created_at: &str, course_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(created_at, course_id)).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCourse {
    pub title: Option<String>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
}

/// Sets a course's title and tags.
#[utoipa::path(patch, path = "/courses/{id}", tag = "courses", request_body = UpdateCourse,
    params(("id" = String, Path, description = "course id")),
    responses(
        (status = 200, body = inline(Written<CourseSummary>)),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn update_course(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateCourse>,
) -> Result<Json<Written<CourseSummary>>, ApiError> {
    let course_id = CourseId::parse(&id).map_err(|_| not_found(&id))?;
    let checkpoint = state
        .platform
        .commands
        .course(
            &caller.scope.aggregate_id(course_id.as_str()),
            CourseCommand::Update {
                title: body.title,
                tags: body.tags,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("courses", checkpoint).await;
    let course = projections::courses::course(&state.platform.db, &caller.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(Written {
        data: course.into(),
        position: checkpoint.map_or(0, |c| c.position),
    }))
}

/// Deletes a course: it leaves the catalogue and cannot be launched;
/// registrations and history stay.
#[utoipa::path(delete, path = "/courses/{id}", tag = "courses",
    params(("id" = String, Path, description = "course id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_course(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let course_id = CourseId::parse(&id).map_err(|_| not_found(&id))?;
    let checkpoint = state
        .platform
        .commands
        .course(
            &caller.scope.aggregate_id(course_id.as_str()),
            CourseCommand::Delete { at: Utc::now() },
            &caller.metadata(),
        )
        .await?;
    state.settle("courses", checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FilesQuery {
    /// The last `path` of the previous page.
    pub after: Option<String>,
    /// At most this many (default 1000, at most 10000).
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct FileBody {
    pub path: String,
    pub size: i64,
    pub content_type: String,
    /// BLAKE3 of the content, lowercase hex: the file's name in the blob
    /// store, shared by every version and course with the same bytes.
    pub blake3: String,
}

#[derive(Serialize, ToSchema)]
pub struct FilePage {
    pub files: Vec<FileBody>,
    pub next_after: Option<String>,
}

async fn live_version(
    state: &AppState,
    caller: &Caller,
    id: &str,
    version: i64,
) -> Result<VersionRow, ApiError> {
    projections::courses::version(&state.platform.db, &caller.scope, id, version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "version_not_found",
                format!("course {id} has no version {version}"),
            )
        })
}

/// The files of a course version, by path.
#[utoipa::path(get, path = "/courses/{id}/versions/{version}/files", tag = "courses",
    params(("id" = String, Path, description = "course id"), ("version" = i64, Path, description = "version"), FilesQuery),
    responses((status = 200, body = FilePage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_files(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path((id, version)): Path<(String, i64)>,
    ApiQuery(query): ApiQuery<FilesQuery>,
) -> Result<Json<FilePage>, ApiError> {
    live_version(&state, &caller, &id, version).await?;
    let limit = super::page_limit(query.limit, 1000, 10_000)?;
    let rows = projections::courses::files(
        &state.platform.db,
        &caller.scope,
        &id,
        version,
        query.after.as_deref(),
        limit,
    )
    .await?;
    let next_after = (rows.len() == limit as usize)
        .then(|| rows.last().map(|f| f.path.clone()))
        .flatten();
    Ok(Json(FilePage {
        files: rows
            .into_iter()
            .map(|f| FileBody {
                path: f.path,
                size: f.size,
                content_type: f.content_type,
                blake3: f.blob,
            })
            .collect(),
        next_after,
    }))
}

/// The package of a course version, as it was uploaded.
#[utoipa::path(get, path = "/courses/{id}/versions/{version}/package", tag = "courses",
    params(("id" = String, Path, description = "course id"), ("version" = i64, Path, description = "version")),
    responses(
        (status = 200, description = "the ZIP", content_type = "application/zip"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn download_package(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path((id, version)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let row = live_version(&state, &caller, &id, version).await?;
    let key = row
        .package_blob
        .parse()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("package blob key: {e}")))?;
    let body = state.platform.blobs.get(&key).await?.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "the package blob of {id} v{version} is missing"
        ))
    })?;
    let stream = tokio_util::io::ReaderStream::with_capacity(body.reader, 256 * 1024);
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.length));
    if let Ok(disposition) =
        HeaderValue::from_str(&format!("attachment; filename=\"{id}-v{version}.zip\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
