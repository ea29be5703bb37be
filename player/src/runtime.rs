//! The runtime endpoints (PROTOCOL.md §2–§6): sessions, deliveries, commits,
//! navigation and time on task. They decide nothing themselves: every rule
//! is in the `Registration` aggregate and the navigator; these read a
//! token, load what the rule needs, run the command and answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::Utc;
use domain::cmi::{LaunchContext, RuntimeSummary, ScormVersion};
use domain::events::EventMetadata;
use domain::package::{Activity, Course, LaunchContent, LaunchUrl, Standard};
use domain::registration::{ClientCall, Registration, RegistrationCommand, RegistrationError};
use domain::tenancy::Scope;
use projections::registrations::RegistrationRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::commands::CommandError;
use store::log::Checkpoint;

use crate::navigation::{self, Navigation, Request, Tree};
use crate::tokens::{ContentClaims, LaunchClaims, SessionClaims};
use crate::{PlayerError, PlayerState};

/// Who is calling: the browser's user agent and address.
pub struct Client {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let forwarded = header("x-forwarded-for")
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_owned()));
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Client {
            user_agent: header("user-agent"),
            ip: forwarded.or(peer),
            request_id: header("x-request-id"),
        })
    }
}

fn forbidden(message: impl Into<String>) -> PlayerError {
    PlayerError::new(StatusCode::FORBIDDEN, "invalid_session_token", message)
}

fn session_claims(state: &PlayerState, token: &str) -> Result<SessionClaims, PlayerError> {
    state
        .signer
        .verify::<SessionClaims>(token, Utc::now())
        .map_err(|e| forbidden(format!("the player session is not valid: {e}")))
}

fn metadata(scope: Scope, learner: &str, client: &Client) -> EventMetadata {
    let metadata = EventMetadata::scoped(scope).with_actor(format!("learner:{learner}"));
    match &client.request_id {
        Some(id) => metadata.with_request_id(id).with_correlation_id(id),
        None => metadata,
    }
}

fn command_error(err: CommandError<RegistrationError>) -> PlayerError {
    match err {
        CommandError::Rejected(err) => {
            let status = match err {
                RegistrationError::NotFound | RegistrationError::UnknownSession(_) => {
                    StatusCode::NOT_FOUND
                }
                RegistrationError::InvalidContext { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            PlayerError::new(status, err.code(), err.to_string())
        }
        CommandError::Conflict => PlayerError::new(
            StatusCode::CONFLICT,
            "concurrent_update",
            "the registration changed concurrently; retry",
        ),
        CommandError::Internal(err) => PlayerError::internal(err),
    }
}

/// A registration's course version, as the player needs it.
pub struct Loaded {
    pub row: RegistrationRow,
    pub course: Course,
    pub version: i64,
}

/// Loads the registration (view) and its pinned course version.
pub async fn load(
    state: &PlayerState,
    scope: &Scope,
    registration: &str,
) -> Result<Loaded, PlayerError> {
    let row = projections::registrations::registration(&state.db, scope, registration)
        .await?
        .ok_or_else(|| {
            PlayerError::new(
                StatusCode::NOT_FOUND,
                "registration_not_found",
                "this registration no longer exists",
            )
        })?;
    let version =
        projections::courses::version(&state.db, scope, &row.course_id, row.course_version)
            .await?
            .ok_or_else(|| {
                PlayerError::new(
                    StatusCode::NOT_FOUND,
                    "course_not_found",
                    "the course of this registration was deleted",
                )
            })?;
    Ok(Loaded {
        row,
        course: version.structure,
        version: version.version,
    })
}

async fn aggregate(
    state: &PlayerState,
    scope: &Scope,
    registration: &str,
) -> Result<Registration, PlayerError> {
    state
        .commands
        .load_registration(&scope.aggregate_id(registration))
        .await
        .map_err(command_error)
}

/// The runtime version of a course's standard, or why it has none.
pub fn scorm_version(standard: &Standard) -> Result<ScormVersion, PlayerError> {
    match standard {
        Standard::Scorm12 => Ok(ScormVersion::Scorm12),
        Standard::Scorm2004 { edition } => Ok(match edition {
            domain::package::Scorm2004Edition::Second => ScormVersion::Scorm2004Second,
            domain::package::Scorm2004Edition::Third => ScormVersion::Scorm2004Third,
            domain::package::Scorm2004Edition::Fourth => ScormVersion::Scorm2004Fourth,
        }),
        other => Err(PlayerError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_standard",
            format!("the player runs SCORM content; this course is {other:?}"),
        )),
    }
}

fn find<'a>(activity: &'a Activity, id: &str) -> Option<&'a Activity> {
    if activity.id == id {
        return Some(activity);
    }
    activity.children.iter().find_map(|child| find(child, id))
}

fn decimal(value: f64) -> String {
    format!("{value}")
}

/// The launch context of an activity, but for `prior`.
pub fn context_for(
    version: ScormVersion,
    row: &RegistrationRow,
    activity: &Activity,
    suspend_data_limit: Option<usize>,
) -> LaunchContext {
    let name = domain::registration::Learner {
        id: row.learner_id.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        email: row.email.clone(),
    }
    .scorm_name();
    let mut context = LaunchContext::new(version, &row.learner_id, &name);
    if let Some(launch) = &activity.launch {
        let runtime = &launch.runtime;
        context.mastery_score = runtime.mastery_score.map(decimal);
        context.scaled_passing_score = runtime.scaled_passing_score.map(decimal);
        context.completion_threshold = runtime.completion_threshold.map(decimal);
        context.launch_data = runtime.launch_data.clone();
        context.max_time_allowed = runtime.max_time_allowed.clone();
        context.time_limit_action = runtime.time_limit_action.map(|t| t.as_token().to_owned());
        context.objective_ids = runtime.objective_ids.clone();
    }
    context.suspend_data_limit = suspend_data_limit;
    context
}

fn summaries(registration: &Registration) -> BTreeMap<String, RuntimeSummary> {
    registration
        .summaries()
        .map(|(id, s)| (id.to_owned(), s.clone()))
        .collect()
}

async fn wait(state: &PlayerState, checkpoint: Option<Checkpoint>) {
    if let Some(checkpoint) = checkpoint
        && let Err(err) = state
            .projections
            .wait_for(
                "registrations",
                checkpoint,
                state.settings.consistency_timeout,
            )
            .await
    {
        tracing::warn!(error = %err, "runtime write answered before its view caught up");
    }
}

// ---------------------------------------------------------------- sessions

#[derive(Deserialize)]
pub struct StartSession {
    pub launch_token: String,
}

#[derive(Serialize)]
pub struct SessionStarted {
    pub session_token: String,
    pub session_id: String,
    pub attempt: u32,
    pub resumed: bool,
    pub navigation: Navigation,
}

pub async fn start_session(
    State(state): State<PlayerState>,
    client: Client,
    Json(body): Json<StartSession>,
) -> Result<Json<SessionStarted>, PlayerError> {
    let launch: LaunchClaims = state
        .signer
        .verify(&body.launch_token, Utc::now())
        .map_err(|e| {
            PlayerError::new(
                StatusCode::FORBIDDEN,
                "invalid_launch_token",
                format!("the launch link is not valid: {e}"),
            )
        })?;
    let scope = launch.scope;
    let loaded = load(&state, &scope, &launch.registration).await?;
    scorm_version(&loaded.course.standard)?;
    let session_id = uuid::Uuid::now_v7().to_string();
    let before = aggregate(&state, &scope, &launch.registration).await?;
    let resumed = before.summaries().next().is_some();
    let metadata = metadata(scope, &launch.learner, &client);
    let id = scope.aggregate_id(&launch.registration);
    if launch.tracking {
        state
            .commands
            .registration(
                &id,
                RegistrationCommand::StartSession {
                    session_id: session_id.clone(),
                    user_agent: client.user_agent.clone(),
                    ip: client.ip.clone(),
                    at: Utc::now(),
                },
                &metadata,
            )
            .await
            .map_err(command_error)?;
    }
    let registration = aggregate(&state, &scope, &launch.registration).await?;
    let tree = Tree::of(&loaded.course);
    let (request, target) = match &launch.start {
        Some(start) if tree.is_launchable(start) => (Request::Choice, Some(start.as_str())),
        _ => (Request::Start, None),
    };
    let navigation = navigation::navigate(&tree, &summaries(&registration), None, &request, target);
    if launch.tracking {
        record_navigation(
            &state,
            &id,
            &session_id,
            &request,
            target,
            &navigation,
            &metadata,
        )
        .await?;
    }
    let claims = SessionClaims {
        scope,
        registration: launch.registration.clone(),
        session: session_id.clone(),
        exp: Utc::now().timestamp() + state.settings.session_lifetime.as_secs() as i64,
        tracking: launch.tracking,
        redirect: launch.redirect.clone(),
    };
    Ok(Json(SessionStarted {
        session_token: state.signer.sign(&claims),
        session_id,
        attempt: registration.attempt(),
        resumed,
        navigation,
    }))
}

async fn record_navigation(
    state: &PlayerState,
    id: &str,
    session_id: &str,
    request: &Request,
    target: Option<&str>,
    navigation: &Navigation,
    metadata: &EventMetadata,
) -> Result<(), PlayerError> {
    state
        .commands
        .registration(
            id,
            RegistrationCommand::Navigate {
                session_id: session_id.to_owned(),
                request: request.as_str().to_owned(),
                target: target.map(str::to_owned),
                delivered: navigation.deliver.clone(),
                exception: navigation.exception.clone(),
                ended: navigation.ended,
                at: Utc::now(),
            },
            metadata,
        )
        .await
        .map_err(command_error)?;
    Ok(())
}

// ---------------------------------------------------------------- delivery

#[derive(Deserialize)]
pub struct Deliver {
    pub activity_id: String,
}

#[derive(Serialize)]
pub struct Delivered {
    pub activity_id: String,
    pub title: String,
    pub url: String,
    pub scorm: bool,
    pub context: LaunchContext,
}

pub async fn deliver(
    State(state): State<PlayerState>,
    Path(token): Path<String>,
    client: Client,
    Json(body): Json<Deliver>,
) -> Result<Json<Delivered>, PlayerError> {
    let claims = session_claims(&state, &token)?;
    let scope = claims.scope;
    let loaded = load(&state, &scope, &claims.registration).await?;
    let version = scorm_version(&loaded.course.standard)?;
    let activity = find(&loaded.course.root, &body.activity_id)
        .filter(|a| a.launch.is_some())
        .ok_or_else(|| {
            PlayerError::new(
                StatusCode::NOT_FOUND,
                "activity_not_found",
                format!(
                    "{} is not a launchable activity of this course",
                    body.activity_id
                ),
            )
        })?;
    let launch = activity.launch.as_ref().expect("filtered on launch");
    let id = scope.aggregate_id(&claims.registration);
    let metadata = metadata(scope, &loaded.row.learner_id, &client);
    let mut attempt = 0;
    let context = loop {
        attempt += 1;
        let registration = aggregate(&state, &scope, &claims.registration).await?;
        let mut context = context_for(
            version,
            &loaded.row,
            activity,
            state.settings.suspend_data_limit,
        );
        context.prior = registration.prior_for(&activity.id);
        if !claims.tracking {
            break context;
        }
        let delivered = state
            .commands
            .registration(
                &id,
                RegistrationCommand::Deliver {
                    session_id: claims.session.clone(),
                    activity_id: activity.id.clone(),
                    context: Box::new(context.clone()),
                    at: Utc::now(),
                },
                &metadata,
            )
            .await;
        match delivered {
            Ok(checkpoint) => {
                wait(&state, checkpoint).await;
                break context;
            }
            Err(CommandError::Rejected(RegistrationError::StaleDelivery(_))) if attempt < 3 => {
                continue;
            }
            Err(err) => return Err(command_error(err)),
        }
    };
    let content = ContentClaims {
        scope,
        course: loaded.row.course_id.clone(),
        version: loaded.version,
        exp: claims.exp,
    };
    let url = match &launch.url {
        LaunchUrl::Package { .. } => format!(
            "/content/{}/{}",
            state.signer.sign(&content),
            launch.url.to_url_string()
        ),
        LaunchUrl::Absolute { url } => url.clone(),
    };
    Ok(Json(Delivered {
        activity_id: activity.id.clone(),
        title: activity.title.clone(),
        url,
        scorm: matches!(launch.content, LaunchContent::Sco { .. }),
        context,
    }))
}

// ---------------------------------------------------------------- commits

#[derive(Deserialize)]
pub struct Commit {
    pub batch: u64,
    pub activity_id: String,
    #[serde(default)]
    pub calls: Vec<ClientCall>,
    #[serde(default, rename = "final")]
    pub final_batch: bool,
    #[serde(default)]
    pub page_hide: bool,
}

/// `POST /runtime/{token}/commit`. The body may come from `sendBeacon`,
/// so any content type is read as JSON.
pub async fn commit(
    State(state): State<PlayerState>,
    Path(token): Path<String>,
    client: Client,
    body: Bytes,
) -> Result<Json<serde_json::Value>, PlayerError> {
    let claims = session_claims(&state, &token)?;
    let body: Commit = serde_json::from_slice(&body).map_err(|e| {
        PlayerError::new(
            StatusCode::BAD_REQUEST,
            "invalid_batch",
            format!("the batch is not valid JSON: {e}"),
        )
    })?;
    if !claims.tracking {
        return Ok(Json(json!({"acked": body.batch})));
    }
    let scope = claims.scope;
    let id = scope.aggregate_id(&claims.registration);
    let metadata = metadata(scope, "player", &client);
    let registration = aggregate(&state, &scope, &claims.registration).await?;
    if let Some(refusal) = registration.commit_refusal(&claims.session, body.batch) {
        return Err(refuse(&state, &id, &claims.session, body.batch, refusal, &metadata).await);
    }
    if registration
        .last_batch(&claims.session)
        .is_some_and(|last| body.batch <= last)
    {
        // A retry of a stored batch: nothing is appended.
        return Ok(Json(json!({"acked": body.batch})));
    }
    let committed = state
        .commands
        .registration(
            &id,
            RegistrationCommand::Commit {
                session_id: claims.session.clone(),
                batch: body.batch,
                activity_id: body.activity_id,
                calls: body.calls,
                final_batch: body.final_batch,
                page_hide: body.page_hide,
                at: Utc::now(),
            },
            &metadata,
        )
        .await;
    match committed {
        // `position`: pass it as `min_position` to an API read to see the batch.
        Ok(checkpoint) => Ok(Json(
            json!({"acked": body.batch, "position": checkpoint.map_or(0, |c| c.position)}),
        )),
        Err(CommandError::Rejected(err)) if err.is_recorded_refusal() => {
            Err(refuse(&state, &id, &claims.session, body.batch, err, &metadata).await)
        }
        Err(err) => Err(command_error(err)),
    }
}

/// Records a refused batch, then says why it was refused.
async fn refuse(
    state: &PlayerState,
    id: &str,
    session_id: &str,
    batch: u64,
    refusal: RegistrationError,
    metadata: &EventMetadata,
) -> PlayerError {
    if refusal.is_recorded_refusal()
        && let Err(err) = state
            .commands
            .registration(
                id,
                RegistrationCommand::RecordRefusal {
                    session_id: session_id.to_owned(),
                    batch,
                    code: refusal.code().to_owned(),
                    at: Utc::now(),
                },
                metadata,
            )
            .await
    {
        tracing::warn!(error = %err, "a refused batch could not be recorded");
    }
    command_error(CommandError::Rejected(refusal))
}

// ---------------------------------------------------------------- navigation

#[derive(Deserialize)]
pub struct Navigate {
    pub request: Request,
    #[serde(default)]
    pub target: Option<String>,
}

pub async fn navigate(
    State(state): State<PlayerState>,
    Path(token): Path<String>,
    client: Client,
    Json(body): Json<Navigate>,
) -> Result<Json<Navigation>, PlayerError> {
    let claims = session_claims(&state, &token)?;
    let scope = claims.scope;
    let loaded = load(&state, &scope, &claims.registration).await?;
    let registration = aggregate(&state, &scope, &claims.registration).await?;
    let tree = Tree::of(&loaded.course);
    let current = registration.delivered(&claims.session).map(str::to_owned);
    let navigation = navigation::navigate(
        &tree,
        &summaries(&registration),
        current.as_deref(),
        &body.request,
        body.target.as_deref(),
    );
    if claims.tracking {
        let metadata = metadata(scope, &loaded.row.learner_id, &client);
        record_navigation(
            &state,
            &scope.aggregate_id(&claims.registration),
            &claims.session,
            &body.request,
            body.target.as_deref(),
            &navigation,
            &metadata,
        )
        .await?;
    }
    Ok(Json(navigation))
}

// ---------------------------------------------------------------- time on task

#[derive(Deserialize)]
pub struct Heartbeat {
    #[serde(default)]
    pub activity_id: Option<String>,
}

pub async fn heartbeat(
    State(state): State<PlayerState>,
    Path(token): Path<String>,
    client: Client,
    Json(body): Json<Heartbeat>,
) -> Result<Json<serde_json::Value>, PlayerError> {
    let claims = session_claims(&state, &token)?;
    if claims.tracking {
        let scope = claims.scope;
        state
            .commands
            .registration(
                &scope.aggregate_id(&claims.registration),
                RegistrationCommand::Heartbeat {
                    session_id: claims.session.clone(),
                    activity_id: body.activity_id,
                    max_gap_seconds: 2 * state.settings.heartbeat_seconds as i64,
                    at: Utc::now(),
                },
                &metadata(scope, "player", &client),
            )
            .await
            .map_err(command_error)?;
    }
    Ok(Json(json!({})))
}
