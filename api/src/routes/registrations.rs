//! `/api/v1/registrations`: a learner on a course version, its launch
//! links, launches, progress and runtime log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::course::CourseId;
use domain::registration::{Learner, RegistrationCommand};
use projections::registrations::{RegistrationFilter, RegistrationRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, Consistent};
use crate::error::{ApiError, ErrorBody};
use crate::routes::{ApiJson, ApiQuery, MaybeJson};
use crate::state::AppState;

#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct LearnerBody {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistration {
    /// Client-chosen; drawn when absent. Creating the same id again with
    /// the same course and learner is a no-op.
    pub registration_id: Option<String>,
    pub course_id: String,
    pub learner: LearnerBody,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegistrationBody {
    pub id: String,
    pub course_id: String,
    /// The course version this registration uses (pinned at creation).
    pub course_version: i64,
    pub learner: LearnerBody,
    pub tags: Vec<String>,
    pub attempt: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RegistrationRow> for RegistrationBody {
    fn from(r: RegistrationRow) -> Self {
        RegistrationBody {
            id: r.registration_id,
            course_id: r.course_id,
            course_version: r.course_version,
            learner: LearnerBody {
                id: r.learner_id,
                first_name: r.first_name,
                last_name: r.last_name,
                email: r.email,
            },
            tags: r.tags,
            attempt: r.attempt,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(
        "registration_not_found",
        format!("no registration {id} in this environment"),
    )
}

async fn row(state: &AppState, caller: &Caller, id: &str) -> Result<RegistrationRow, ApiError> {
    projections::registrations::registration(&state.platform.db, &caller.scope, id)
        .await?
        .ok_or_else(|| not_found(id))
}

/// Registers a learner on a course: the registration uses the course's
/// current version for good (new versions don't change it).
#[utoipa::path(post, path = "/registrations", tag = "registrations", request_body = CreateRegistration,
    responses(
        (status = 201, description = "created", body = RegistrationBody),
        (status = 200, description = "it existed already, with this course and learner", body = RegistrationBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such course", body = ErrorBody),
        (status = 409, description = "the id is taken by another course or learner", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn create_registration(
    caller: Caller,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateRegistration>,
) -> Result<(StatusCode, Json<RegistrationBody>), ApiError> {
    let db = &state.platform.db;
    let course = projections::courses::course(db, &caller.scope, &body.course_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "course_not_found",
                format!("no course {} in this environment", body.course_id),
            )
        })?;
    let version =
        projections::courses::version(db, &caller.scope, &course.course_id, course.current_version)
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "course {} has no current version",
                    course.course_id
                ))
            })?;
    let activities: Vec<String> = version
        .structure
        .launchable()
        .iter()
        .map(|a| a.id.clone())
        .collect();
    let id = body
        .registration_id
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let existed = projections::registrations::registration(db, &caller.scope, &id)
        .await?
        .is_some();
    let checkpoint = state
        .platform
        .commands
        .registration(
            &caller.scope.aggregate_id(&id),
            RegistrationCommand::Create {
                registration_id: id.clone(),
                course_id: CourseId::parse(&course.course_id).map_err(ApiError::internal)?,
                course_version: course.current_version as u32,
                activities,
                learner: Learner {
                    id: body.learner.id,
                    first_name: body.learner.first_name,
                    last_name: body.learner.last_name,
                    email: body.learner.email,
                },
                tags: body.tags,
                at: Utc::now(),
            },
            &caller.metadata(),
        )
        .await?;
    state.settle("registrations", checkpoint).await;
    let status = if existed || checkpoint.is_none() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(row(&state, &caller, &id).await?.into())))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub course_id: Option<String>,
    pub learner_id: Option<String>,
    /// Created or changed at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub min_position: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RegistrationPage {
    pub registrations: Vec<RegistrationBody>,
    pub next_cursor: Option<String>,
}

/// Registrations of the caller's scope, oldest first, paged.
#[utoipa::path(get, path = "/registrations", tag = "registrations", params(ListQuery),
    responses((status = 200, body = RegistrationPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_registrations(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RegistrationPage>, ApiError> {
    let limit = super::page_limit(query.limit, 50, 500)?;
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
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|b| serde_json::from_slice::<(String, String)>(&b).ok())
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave")
                })?,
        ),
        None => None,
    };
    let filter = RegistrationFilter {
        course_id: query.course_id,
        learner_id: query.learner_id,
        since,
        after,
    };
    let mut rows = projections::registrations::registrations(
        &state.platform.db,
        &caller.scope,
        &filter,
        limit + 1,
    )
    .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&(&r.created_at, &r.registration_id)).unwrap_or_default(),
            )
        })
    } else {
        None
    };
    Ok(Json(RegistrationPage {
        registrations: rows.into_iter().map(RegistrationBody::from).collect(),
        next_cursor,
    }))
}

/// A registration of the caller's scope.
#[utoipa::path(get, path = "/registrations/{id}", tag = "registrations",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = RegistrationBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_registration(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RegistrationBody>, ApiError> {
    Ok(Json(row(&state, &caller, &id).await?.into()))
}

/// Deletes a registration: it can no longer be launched; its history stays
/// in the event log.
#[utoipa::path(delete, path = "/registrations/{id}", tag = "registrations",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_registration(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    row(&state, &caller, &id).await?;
    let checkpoint = state
        .platform
        .commands
        .registration(
            &caller.scope.aggregate_id(&id),
            RegistrationCommand::Delete { at: Utc::now() },
            &caller.metadata(),
        )
        .await?;
    state.settle("registrations", checkpoint).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a new attempt: progress starts over; the history stays.
#[utoipa::path(post, path = "/registrations/{id}/reset", tag = "registrations",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = RegistrationBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn reset_registration(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RegistrationBody>, ApiError> {
    row(&state, &caller, &id).await?;
    let checkpoint = state
        .platform
        .commands
        .registration(
            &caller.scope.aggregate_id(&id),
            RegistrationCommand::Reset { at: Utc::now() },
            &caller.metadata(),
        )
        .await?;
    state.settle("registrations", checkpoint).await;
    Ok(Json(row(&state, &caller, &id).await?.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LaunchLinkRequest {
    /// How long the link works, in seconds (1 to 2,592,000; default 3,600).
    pub expiry_seconds: Option<u64>,
    /// Where the player goes when the course ends.
    pub redirect_url: Option<String>,
    /// The activity to start with.
    pub start_activity: Option<String>,
    /// `false`: a preview that records nothing.
    pub tracking: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct LaunchLink {
    /// Opens the player on the content origin.
    pub launch_url: String,
    pub expires_at: String,
}

/// A signed link that opens the player for this registration.
#[utoipa::path(post, path = "/registrations/{id}/launch-link", tag = "registrations", request_body = LaunchLinkRequest,
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = LaunchLink),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = [])))]
pub async fn launch_link(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    MaybeJson(body): MaybeJson<LaunchLinkRequest>,
) -> Result<Json<LaunchLink>, ApiError> {
    let body = body.unwrap_or_default();
    let registration = row(&state, &caller, &id).await?;
    let expiry = body.expiry_seconds.unwrap_or(3600);
    if !(1..=2_592_000).contains(&expiry) {
        return Err(ApiError::bad_request(
            "invalid_expiry",
            "expiry_seconds must be between 1 and 2592000 (30 days)",
        ));
    }
    if let Some(url) = &body.redirect_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(ApiError::bad_request(
            "invalid_redirect_url",
            "redirect_url must be an http or https URL",
        ));
    }
    let expires = Utc::now() + chrono::Duration::seconds(expiry as i64);
    let claims = player::tokens::LaunchClaims {
        scope: caller.scope,
        registration: registration.registration_id,
        learner: registration.learner_id,
        exp: expires.timestamp(),
        tracking: body.tracking.unwrap_or(true),
        redirect: body.redirect_url,
        start: body.start_activity,
    };
    let token = state.player.signer.sign(&claims);
    Ok(Json(LaunchLink {
        launch_url: format!("{}/launch/{token}", state.player.settings.content_url),
        expires_at: projections::workspaces::timestamp(&expires),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct LaunchBody {
    pub session_id: String,
    pub attempt: i64,
    /// An earlier session of the attempt had left data.
    pub resumed: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub started_at: String,
    pub last_seen_at: String,
    /// A newer launch took over this one at that time.
    pub superseded_at: Option<String>,
    pub batches: i64,
    pub refused_batches: i64,
    /// Time on task the server measured.
    pub measured_seconds: i64,
    /// The exit the content set last (`suspend`, `logout`, `normal`…).
    pub exit: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LaunchList {
    pub launches: Vec<LaunchBody>,
}

/// Every launch (player session) of a registration.
#[utoipa::path(get, path = "/registrations/{id}/launches", tag = "registrations",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = LaunchList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn launches(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LaunchList>, ApiError> {
    row(&state, &caller, &id).await?;
    let rows = projections::registrations::launches(&state.platform.db, &caller.scope, &id).await?;
    Ok(Json(LaunchList {
        launches: rows
            .into_iter()
            .map(|r| LaunchBody {
                session_id: r.session_id,
                attempt: r.attempt,
                resumed: r.resumed,
                user_agent: r.user_agent,
                ip: r.ip,
                started_at: r.started_at,
                last_seen_at: r.last_seen_at,
                superseded_at: r.superseded_at,
                batches: r.batches,
                refused_batches: r.refused_batches,
                measured_seconds: r.measured_seconds,
                exit: r.exit,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Score {
    pub scaled: Option<f64>,
    pub raw: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityProgress {
    pub id: String,
    /// `completed`, `incomplete`, `not_attempted`, `unknown`.
    pub completion: String,
    /// `passed`, `failed`, `unknown`.
    pub success: String,
    pub score: Score,
    pub total_time_seconds: Option<f64>,
    /// SCORM 1.2 `lesson_status`.
    pub lesson_status: Option<String>,
    pub exit: String,
    pub suspended: bool,
    /// Every data model value the content stored: location, suspend data,
    /// interactions, objectives, comments, preferences.
    #[schema(value_type = Object)]
    pub runtime: serde_json::Value,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProgressBody {
    pub registration_id: String,
    pub course_id: String,
    pub course_version: i64,
    pub learner_id: String,
    pub attempt: i64,
    /// `completed`, `incomplete`, `not_attempted`, `unknown`.
    pub completion: String,
    /// `passed`, `failed`, `unknown`.
    pub success: String,
    pub score: Score,
    /// Time the content reported (`session_time` summed into `total_time`).
    pub total_time_seconds: f64,
    /// Time on task the server measured from the player's heartbeats.
    pub measured_time_seconds: i64,
    pub first_access: Option<String>,
    pub last_access: Option<String>,
    pub completed_at: Option<String>,
    pub activities: Vec<ActivityProgress>,
}

/// A registration's progress: status, score, times and each activity's
/// results with its runtime data.
#[utoipa::path(get, path = "/registrations/{id}/progress", tag = "registrations",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = ProgressBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn progress(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProgressBody>, ApiError> {
    let registration = row(&state, &caller, &id).await?;
    // One moment of the view: the totals are those of the activities.
    let mut db = state.platform.db.snapshot().await?;
    let progress = projections::registrations::progress(&mut db, &caller.scope, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let activities = projections::registrations::activities(&mut db, &caller.scope, &id).await?;
    Ok(Json(ProgressBody {
        registration_id: registration.registration_id,
        course_id: registration.course_id,
        course_version: registration.course_version,
        learner_id: registration.learner_id,
        attempt: progress.attempt,
        completion: progress.completion,
        success: progress.success,
        score: Score {
            scaled: progress.score_scaled,
            raw: progress.score_raw,
            min: progress.score_min,
            max: progress.score_max,
        },
        total_time_seconds: progress.total_time_seconds,
        measured_time_seconds: progress.measured_seconds,
        first_access: progress.first_access,
        last_access: progress.last_access,
        completed_at: progress.completed_at,
        activities: activities
            .into_iter()
            .map(|a| ActivityProgress {
                id: a.activity_id,
                completion: a.completion,
                success: a.success,
                score: Score {
                    scaled: a.score_scaled,
                    raw: a.score_raw,
                    min: a.score_min,
                    max: a.score_max,
                },
                total_time_seconds: a.total_time_seconds,
                lesson_status: a.summary.lesson_status,
                exit: a.summary.exit,
                suspended: a.summary.suspended,
                runtime: a.data,
                updated_at: a.updated_at,
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// At most this many calls (default 1000, at most 10000).
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LogEntryBody {
    pub session_id: String,
    pub activity_id: String,
    pub batch: Option<i64>,
    pub seq: i64,
    /// `Initialize`, `GetValue`, `SetValue`, `Commit`, `Terminate`, … (the
    /// SCORM 1.2 names are the `LMS`-prefixed ones).
    #[serde(rename = "fn")]
    pub call_fn: String,
    pub element: Option<String>,
    pub value: Option<String>,
    /// What the call returned in the browser.
    pub result: String,
    /// The error code it left (`GetLastError`).
    pub error: i64,
    /// The server's answer, when it differed from the browser's.
    pub server_result: Option<String>,
    pub server_error: Option<i64>,
    /// The browser's clock, then the server's.
    pub client_at: Option<String>,
    pub server_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct RuntimeLog {
    pub calls: Vec<LogEntryBody>,
    pub next_cursor: Option<String>,
}

/// Every runtime call of every session of a registration, in order.
#[utoipa::path(get, path = "/registrations/{id}/runtime-log", tag = "registrations",
    params(("id" = String, Path, description = "registration id"), LogQuery),
    responses((status = 200, body = RuntimeLog), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn runtime_log(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<RuntimeLog>, ApiError> {
    row(&state, &caller, &id).await?;
    let limit = super::page_limit(query.limit, 1000, 10_000)?;
    let after = match &query.cursor {
        Some(cursor) => cursor
            .split_once('.')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave")
            })?,
        None => (-1, -1),
    };
    let rows = projections::registrations::runtime_log::runtime_log(
        &state.platform.log,
        &caller.scope,
        &id,
        after,
        limit,
    )
    .await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|((d, s), _)| format!("{d}.{s}")))
        .flatten();
    Ok(Json(RuntimeLog {
        calls: rows
            .into_iter()
            .map(|(_, e)| LogEntryBody {
                session_id: e.session_id,
                activity_id: e.activity_id,
                batch: e.batch,
                seq: e.seq,
                call_fn: e.call_fn,
                element: e.element,
                value: e.value,
                result: e.result,
                error: e.error,
                server_result: e.server_result,
                server_error: e.server_error,
                client_at: e.client_at,
                server_at: e.server_at,
            })
            .collect(),
        next_cursor,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SequencingQuery {
    /// The `next_cursor` of the previous page of decisions.
    pub cursor: Option<String>,
    /// At most this many decisions (default 1000, at most 10000).
    pub limit: Option<u32>,
    pub min_position: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SequencingActivityBody {
    pub id: String,
    pub attempt_count: i64,
    pub active: bool,
    pub suspended: bool,
    /// `completed`, `incomplete`, `not_attempted`.
    pub completion: String,
    /// `passed`, `failed`, `unknown`.
    pub success: String,
    /// Primary objective normalized measure.
    pub measure: Option<f64>,
    pub progress_measure: Option<f64>,
    /// The activity's objectives, read through their objective maps.
    #[schema(value_type = Object)]
    pub objectives: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct DecisionBody {
    /// The log position of the decision.
    pub position: i64,
    pub attempt: i64,
    pub session_id: String,
    /// `navigate`, `commit`, `terminate` or `load_global_objectives`.
    pub input: String,
    /// The navigation request processed (`continue`, `{target=i2}choice`, …).
    pub request: Option<String>,
    /// The activity whose runtime data the input carried.
    pub activity_id: Option<String>,
    /// `delivered`, `session_ended`, `nothing_delivered`, `exception`, `recorded`.
    pub outcome: String,
    pub delivered: Option<String>,
    /// The SN book's exception code (`SB.2.2-1`, …).
    pub exception: Option<String>,
    pub current_activity: Option<String>,
    /// How many activities' tracking data changed.
    pub changed_activities: i64,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SequencingBody {
    pub registration_id: String,
    pub attempt: i64,
    pub current_activity: Option<String>,
    pub suspended_activity: Option<String>,
    /// Decisions in this attempt.
    pub decision_count: i64,
    /// Every activity of the tree, in tree order, the course (root) first.
    pub activities: Vec<SequencingActivityBody>,
    /// The sequencer's decisions of every attempt, oldest first (a page).
    pub decisions: Vec<DecisionBody>,
    pub next_cursor: Option<String>,
}

/// The SCORM 2004 sequencer's view of a registration: each activity's
/// rolled-up status and every decision it made (what was delivered and
/// why, or which exception it raised). 404 `not_sequenced` for a course
/// without sequencing or one not launched yet.
#[utoipa::path(get, path = "/registrations/{id}/sequencing", tag = "registrations",
    params(("id" = String, Path, description = "registration id"), SequencingQuery),
    responses((status = 200, body = SequencingBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn sequencing(
    caller: Caller,
    _: Consistent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<SequencingQuery>,
) -> Result<Json<SequencingBody>, ApiError> {
    row(&state, &caller, &id).await?;
    let limit = super::page_limit(query.limit, 1000, 10_000)?;
    let after = match &query.cursor {
        Some(cursor) => cursor.parse::<i64>().map_err(|_| {
            ApiError::bad_request("invalid_cursor", "the cursor is not one this API gave")
        })?,
        None => -1,
    };
    let db = &state.platform.db;
    use projections::registrations::sequencing as views;
    let sequencing = views::state(db, &caller.scope, &id).await?.ok_or_else(|| {
        ApiError::not_found(
            "not_sequenced",
            format!("registration {id} has no sequencing state: its course is not SCORM 2004, or it was not launched"),
        )
    })?;
    let rows = views::log(db, &caller.scope, &id, after, i64::from(limit)).await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.position.to_string()))
        .flatten();
    Ok(Json(SequencingBody {
        registration_id: id,
        attempt: sequencing.attempt,
        current_activity: sequencing.current_activity,
        suspended_activity: sequencing.suspended_activity,
        decision_count: sequencing.decisions,
        activities: sequencing
            .activities
            .into_iter()
            .map(|a| SequencingActivityBody {
                id: a.activity_id,
                attempt_count: a.attempt_count,
                active: a.active,
                suspended: a.suspended,
                completion: a.completion,
                success: a.success,
                measure: a.measure,
                progress_measure: a.progress_measure,
                objectives: a.objectives,
            })
            .collect(),
        decisions: rows
            .into_iter()
            .map(|r| DecisionBody {
                position: r.position,
                attempt: r.attempt,
                session_id: r.session_id,
                input: r.input,
                request: r.request,
                activity_id: r.activity_id,
                outcome: r.outcome,
                delivered: r.delivered,
                exception: r.exception,
                current_activity: r.current_activity,
                changed_activities: r.changed,
                at: r.at,
            })
            .collect(),
        next_cursor,
    }))
}
