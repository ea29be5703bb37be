//! The runtime endpoints (PROTOCOL.md §2–§6): sessions, deliveries, commits,
//! navigation and time on task. They decide nothing themselves: every rule
//! is in the `Registration` aggregate and the navigator; these read a
//! token, load what the rule needs, run the command and answer.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::Utc;
use domain::cmi::{LaunchContext, ObjectiveSeed, RuntimeSummary, ScormVersion, SharedDataBucket};
use domain::events::EventMetadata;
use domain::package::{Activity, Course, LaunchContent, LaunchUrl, Standard};
use domain::registration::{
    ClientCall, LearnerGlobals, Registration, RegistrationCommand, RegistrationError, Sequencing,
};
use domain::sequencing::engine::{CompletionStatus, Engine, ObjectiveInit, Outcome, SuccessStatus};
use domain::tenancy::Scope;
use projections::registrations::RegistrationRow;
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::commands::CommandError;
use store::log::Checkpoint;

use crate::navigation::{self, Navigation, Request, Tree};
use crate::tokens::{ContentClaims, LaunchClaims, SessionClaims};
use crate::xapi;
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
                RegistrationError::InvalidContext { .. } | RegistrationError::Sequencing(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
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
    pub course: Arc<Course>,
    pub version: i64,
}

/// Parsed course structures by scope, course and version.
pub struct CourseCache {
    capacity: usize,
    entries: Mutex<HashMap<String, Arc<Course>>>,
}

impl CourseCache {
    pub fn new(capacity: usize) -> CourseCache {
        CourseCache {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(scope: &Scope, course_id: &str, version: i64) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{course_id}\u{1f}{version}",
            scope.workspace_id(),
            scope.environment().as_str()
        )
    }

    /// The course version, from the cache or the catalogue.
    pub async fn get(
        &self,
        db: &store::db::Database,
        scope: &Scope,
        course_id: &str,
        version: i64,
    ) -> Result<Option<Arc<Course>>, PlayerError> {
        let key = CourseCache::key(scope, course_id, version);
        if let Some(course) = self.lock().get(&key) {
            return Ok(Some(course.clone()));
        }
        let Some(row) = projections::courses::version(db, scope, course_id, version).await? else {
            return Ok(None);
        };
        let course = Arc::new(row.structure);
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, course.clone());
        Ok(Some(course))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Course>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    let course = state
        .courses
        .get(&state.db, scope, &row.course_id, row.course_version)
        .await?
        .ok_or_else(course_gone)?;
    Ok(Loaded {
        version: row.course_version,
        row,
        course,
    })
}

fn course_gone() -> PlayerError {
    PlayerError::new(
        StatusCode::NOT_FOUND,
        "course_not_found",
        "the course of this registration was deleted",
    )
}

fn is_scorm2004(course: &Course) -> bool {
    matches!(course.standard, Standard::Scorm2004 { .. })
}

/// What the learner shares across registrations, once the view has every
/// event appended so far.
async fn learner_globals(
    state: &PlayerState,
    scope: &Scope,
    learner_id: &str,
) -> Result<LearnerGlobals, PlayerError> {
    let head = state.commands.log().head().await?;
    wait(state, Some(head)).await;
    Ok(projections::registrations::sequencing::learner(&state.db, scope, learner_id).await?)
}

/// The navigation answer of a sequenced registration after a request.
/// `decided`: this request made a decision (so its exception is news).
fn sequenced_navigation(
    registration: &Registration,
    course: &Course,
    session_id: &str,
    decided: bool,
) -> Result<Navigation, PlayerError> {
    let engine: Engine = registration
        .engine(course)
        .ok_or_else(|| {
            PlayerError::new(
                StatusCode::CONFLICT,
                "not_sequenced",
                RegistrationError::NotSequenced.to_string(),
            )
        })?
        .map_err(PlayerError::internal)?;
    let current = engine.current_activity();
    // The sequencer chose an activity this session has not loaded yet.
    let deliver = registration
        .delivering()
        .map(|(activity, _)| activity)
        .filter(|activity| Some(*activity) == current)
        .filter(|activity| registration.delivered(session_id) != Some(*activity))
        .map(str::to_owned);
    let ended =
        current.is_none() && matches!(registration.last_outcome(), Some(Outcome::SessionEnded));
    let exception = match registration.last_outcome() {
        Some(Outcome::Exception { exception }) if decided => Some(exception.code().to_owned()),
        _ => None,
    };
    Ok(navigation::sequenced(&engine, deliver, ended, exception))
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

/// What the player runs of a course: SCORM content with its runtime, or
/// xAPI (Tin Can) content that reports to the LRS.
pub fn playable(standard: &Standard) -> Result<Option<ScormVersion>, PlayerError> {
    match standard {
        Standard::Xapi => Ok(None),
        other => scorm_version(other).map(Some),
    }
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
            format!("the player runs SCORM and xAPI content; this course is {other:?}"),
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
    playable(&loaded.course.standard)?;
    let session_id = uuid::Uuid::now_v7().to_string();
    let before = aggregate(&state, &scope, &launch.registration).await?;
    let resumed = before.summaries().next().is_some();
    let metadata = metadata(scope, &launch.learner, &client);
    let id = scope.aggregate_id(&launch.registration);
    let tree = Tree::of(&loaded.course);
    let start = launch.start.as_deref().filter(|s| tree.is_launchable(s));
    // SCORM 2004 runs the sequencer (recorded, so not in previews).
    let sequenced = launch.tracking && is_scorm2004(&loaded.course);
    if launch.tracking {
        let sequencing = if sequenced {
            let learner_objectives = if loaded.course.scopes.objectives_global_to_system {
                Some(
                    learner_globals(&state, &scope, &loaded.row.learner_id)
                        .await?
                        .objectives,
                )
            } else {
                None
            };
            Some(Sequencing {
                course: loaded.course.clone(),
                seed: uuid::Uuid::new_v4().as_u64_pair().0,
                start: start.map(str::to_owned),
                learner_objectives,
            })
        } else {
            None
        };
        state
            .commands
            .registration(
                &id,
                RegistrationCommand::StartSession {
                    session_id: session_id.clone(),
                    user_agent: client.user_agent.clone(),
                    ip: client.ip.clone(),
                    sequencing,
                    at: Utc::now(),
                },
                &metadata,
            )
            .await
            .map_err(command_error)?;
    }
    let registration = aggregate(&state, &scope, &launch.registration).await?;
    let navigation = if sequenced {
        sequenced_navigation(&registration, &loaded.course, &session_id, true)?
    } else {
        let (request, target) = match start {
            Some(start) => (Request::Choice, Some(start)),
            None => (Request::Start, None),
        };
        let navigation =
            navigation::navigate(&tree, &summaries(&registration), None, &request, target);
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
        navigation
    };
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
    /// The SCORM launch context; absent for xAPI content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<LaunchContext>,
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
    let version = playable(&loaded.course.standard)?;
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
    let metadata = metadata(scope, &loaded.row.learner_id, &client);
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
    // An xAPI course has no SCORM runtime: its content reports to the LRS.
    let Some(version) = version else {
        return deliver_xapi(&state, &claims, &loaded, activity, &url, &metadata).await;
    };
    let id = scope.aggregate_id(&claims.registration);
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
        if registration.is_sequenced() {
            sequenced_context(
                &state,
                &scope,
                &loaded,
                &registration,
                activity,
                &mut context,
            )
            .await?;
        }
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
    Ok(Json(Delivered {
        activity_id: activity.id.clone(),
        title: activity.title.clone(),
        url,
        scorm: matches!(launch.content, LaunchContent::Sco { .. }),
        context: Some(context),
    }))
}

/// Delivers xAPI content: its URL with the launch parameters, and (unless
/// this is a preview) a launch token of its own. Nothing else is recorded:
/// the content's statements are the record.
async fn deliver_xapi(
    state: &PlayerState,
    claims: &SessionClaims,
    loaded: &Loaded,
    activity: &Activity,
    url: &str,
    metadata: &EventMetadata,
) -> Result<Json<Delivered>, PlayerError> {
    let activity_iri = match &activity.launch.as_ref().map(|l| &l.content) {
        Some(LaunchContent::Xapi { activity_id, .. }) => activity_id.clone(),
        _ => activity.id.clone(),
    };
    let actor = xapi::actor(&state.settings.api_url, &loaded.row);
    let endpoint = format!("{}/xapi/", state.settings.api_url);
    let token = if claims.tracking {
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| forbidden("the player session has no valid expiry"))?;
        Some(
            xapi::issue_token(
                state,
                &claims.scope,
                actor.clone(),
                &claims.registration,
                &activity_iri,
                expires_at,
                metadata,
            )
            .await?,
        )
    } else {
        None
    };
    let url = xapi::launch_url(
        url,
        &xapi::LaunchParameters {
            endpoint: token.as_ref().map(|_| endpoint.as_str()),
            auth: token.as_ref().map(|t| t.auth.as_str()),
            actor: &actor,
            registration: domain::lrs::launch::registration_uuid(&claims.registration),
            activity_id: &activity_iri,
        },
    );
    Ok(Json(Delivered {
        activity_id: activity.id.clone(),
        title: activity.title.clone(),
        url,
        scorm: false,
        context: None,
    }))
}

/// What a sequenced SCO starts with beyond its own data: which navigation
/// requests are valid, its objectives as the sequencer knows them (read
/// through objective maps), and its shared data stores.
async fn sequenced_context(
    state: &PlayerState,
    scope: &Scope,
    loaded: &Loaded,
    registration: &Registration,
    activity: &Activity,
    context: &mut LaunchContext,
) -> Result<(), PlayerError> {
    let engine = registration
        .engine(&loaded.course)
        .expect("sequenced")
        .map_err(PlayerError::internal)?;
    context.nav_validity = navigation::nav_validity(&engine.navigation_state().request_valid);
    if let Some(launch) = engine.launch_data(&activity.id) {
        context.objective_status = launch.objectives.iter().map(seed).collect();
    }
    let maps = activity
        .launch
        .as_ref()
        .map(|l| l.runtime.shared_data.as_slice())
        .unwrap_or_default();
    if !maps.is_empty() {
        let learner = if loaded.course.scopes.shared_data_global_to_system {
            learner_globals(state, scope, &loaded.row.learner_id).await?
        } else {
            LearnerGlobals::default()
        };
        context.shared_data = maps
            .iter()
            .map(|map| SharedDataBucket {
                id: map.target_id.clone(),
                store: registration
                    .shared_data()
                    .get(&map.target_id)
                    .or_else(|| learner.shared_data.get(&map.target_id))
                    .cloned(),
                readable: map.read_shared_data,
                writable: map.write_shared_data,
            })
            .collect();
    }
    Ok(())
}

/// A `cmi.objectives.n` record's starting values from the sequencer.
fn seed(objective: &ObjectiveInit) -> ObjectiveSeed {
    let number = |n: Option<f64>| n.map(decimal);
    ObjectiveSeed {
        id: objective.id.clone(),
        success_status: match objective.success_status {
            SuccessStatus::Passed => Some("passed".into()),
            SuccessStatus::Failed => Some("failed".into()),
            SuccessStatus::Unknown => None,
        },
        completion_status: match objective.completion_status {
            CompletionStatus::Completed => Some("completed".into()),
            CompletionStatus::Incomplete => Some("incomplete".into()),
            CompletionStatus::NotAttempted | CompletionStatus::Unknown => None,
        },
        score_scaled: number(objective.score.scaled),
        score_raw: number(objective.score.raw),
        score_min: number(objective.score.min),
        score_max: number(objective.score.max),
        progress_measure: number(objective.progress_measure),
    }
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

/// A commit request: one batch, or (from the page-hide beacon) several
/// consecutive batches that must be stored in order.
#[derive(Deserialize)]
#[serde(untagged)]
enum Commits {
    Many { batches: Vec<Commit> },
    One(Commit),
}

/// `POST /runtime/{token}/commit`. The body may come from `sendBeacon`,
/// so any content type is read as JSON. A page-hide beacon carries every
/// batch the page has not seen acknowledged, as `{"batches": [...]}`:
/// separate beacons could arrive out of order, one request cannot. They
/// are stored in order; the first refusal ends the request.
pub async fn commit(
    State(state): State<PlayerState>,
    Path(token): Path<String>,
    client: Client,
    body: Bytes,
) -> Result<Json<serde_json::Value>, PlayerError> {
    let claims = session_claims(&state, &token)?;
    let commits: Commits = serde_json::from_slice(&body).map_err(|e| {
        PlayerError::new(
            StatusCode::BAD_REQUEST,
            "invalid_batch",
            format!("the batch is not valid JSON: {e}"),
        )
    })?;
    match commits {
        Commits::One(batch) => commit_batch(&state, &claims, &client, batch).await,
        Commits::Many { batches } => {
            let mut answer = Err(PlayerError::new(
                StatusCode::BAD_REQUEST,
                "invalid_batch",
                "batches is empty",
            ));
            for batch in batches {
                answer = Ok(commit_batch(&state, &claims, &client, batch).await?);
            }
            answer
        }
    }
}

async fn commit_batch(
    state: &PlayerState,
    claims: &SessionClaims,
    client: &Client,
    body: Commit,
) -> Result<Json<serde_json::Value>, PlayerError> {
    if !claims.tracking {
        return Ok(Json(json!({"acked": body.batch})));
    }
    let scope = claims.scope;
    let id = scope.aggregate_id(&claims.registration);
    let metadata = metadata(scope, "player", client);
    // An early answer: a refusal, a retried batch, and the course a
    // sequenced registration's data goes to. What this process knows is
    // read in place; an early answer other than "go on" is checked on the
    // current state first (another server may have moved the registration
    // on), and the command decides again on the current state anyway.
    let early = |registration: &Registration| {
        let course = registration
            .course()
            .filter(|_| registration.is_sequenced())
            .map(|(course_id, version)| (course_id.clone(), version));
        (
            registration.commit_refusal(&claims.session, body.batch),
            registration
                .last_batch(&claims.session)
                .is_some_and(|last| body.batch <= last),
            course,
        )
    };
    let mut answer = state
        .commands
        .peek_registration(&id, early)
        .await
        .map_err(command_error)?;
    if answer.0.is_some() || answer.1 {
        answer = early(&aggregate(state, &scope, &claims.registration).await?);
    }
    let (refusal, stored, course) = answer;
    if let Some(refusal) = refusal {
        return Err(refuse(state, &id, &claims.session, body.batch, refusal, &metadata).await);
    }
    if stored {
        // A retry of a stored batch: nothing is appended.
        return Ok(Json(json!({"acked": body.batch})));
    }
    let course = match course {
        Some((course_id, version)) => Some(
            state
                .courses
                .get(&state.db, &scope, course_id.as_str(), i64::from(version))
                .await?
                .ok_or_else(course_gone)?,
        ),
        None => None,
    };
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
                course,
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
            Err(refuse(state, &id, &claims.session, body.batch, err, &metadata).await)
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
    /// The activity the page shows. Only a preview's is read: a preview
    /// records no deliveries, so the server cannot know it otherwise.
    #[serde(default)]
    pub current: Option<String>,
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
    if claims.tracking && registration.is_sequenced() {
        let request = body
            .request
            .sequencing(body.target.as_deref())
            .map_err(|message| {
                PlayerError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_navigation_request",
                    message,
                )
            })?;
        let decided = state
            .commands
            .registration(
                &scope.aggregate_id(&claims.registration),
                RegistrationCommand::Sequence {
                    session_id: claims.session.clone(),
                    request,
                    course: loaded.course.clone(),
                    at: Utc::now(),
                },
                &metadata(scope, &loaded.row.learner_id, &client),
            )
            .await
            .map_err(command_error)?;
        let registration = aggregate(&state, &scope, &claims.registration).await?;
        return Ok(Json(sequenced_navigation(
            &registration,
            &loaded.course,
            &claims.session,
            decided.is_some(),
        )?));
    }
    let tree = Tree::of(&loaded.course);
    let current = if claims.tracking {
        registration.delivered(&claims.session).map(str::to_owned)
    } else {
        body.current.filter(|current| tree.is_launchable(current))
    };
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
