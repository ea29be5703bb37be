//! The server: bind, build the router, run until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Settings;
use crate::error::{ApiError, json_errors};
use crate::openapi::ApiDoc;
use crate::platform::Platform;
use crate::routes;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Largest JSON body the API accepts.
const JSON_BODY_LIMIT: usize = 1024 * 1024;

pub struct Application {
    listener: TcpListener,
    content_listener: TcpListener,
    router: Router,
    content_router: Router,
    state: AppState,
}

impl Application {
    /// Opens the platform and binds the listen address.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let signer = match &settings.launch_keys {
            Some(keys) => player::Signer::parse(keys)?,
            None => player::Signer::from_file(&settings.data_dir.join("launch-keys"))?,
        };
        let platform = Platform::open(&settings.storage).await?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let content_listener = TcpListener::bind(settings.content_listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (the content origin)",
                    settings.content_listen
                )
            })?;
        let mut settings = settings;
        // Bound to port 0 (tests): the public URLs are the bound addresses.
        if settings.public_url.is_empty() {
            settings.public_url = format!("http://{}", listener.local_addr()?);
        }
        if settings.player.content_url.is_empty() {
            settings.player.content_url = format!("http://{}", content_listener.local_addr()?);
        }
        settings.player.api_url = settings.public_url.clone();
        let state = AppState::new(platform, settings, signer);
        Ok(Application {
            listener,
            content_listener,
            router: router(state.clone()),
            content_router: content_router(state.player.clone()),
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The content origin's address.
    pub fn content_addr(&self) -> SocketAddr {
        self.content_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes the requests in
    /// flight, stops the projections and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop_projections = CancellationToken::new();
        let mut runners = self
            .state
            .platform
            .projections
            .spawn(stop_projections.clone());
        let platform = &self.state.platform;
        runners.push(
            crate::lrs::forwarder::Forwarder::new(
                platform.db.clone(),
                platform.log.clone(),
                platform.blobs.clone(),
            )
            .spawn(stop_projections.clone()),
        );
        if self.state.settings.webhooks.dispatch {
            runners.push(
                crate::webhooks::Dispatcher::new(
                    &self.state.platform,
                    &self.state.settings.webhooks,
                )
                .context("cannot start the webhook dispatcher")?
                .spawn(stop_projections.clone()),
            );
        }
        runners.push(tokio::spawn(sweep_imports(
            self.state.clone(),
            stop_projections.clone(),
        )));
        tracing::info!(
            address = %self.local_addr(),
            public_url = %self.state.settings.public_url,
            content = %self.content_addr(),
            content_url = %self.state.settings.player.content_url,
            "serving"
        );
        let stop_content = CancellationToken::new();
        let content = {
            let stop = stop_content.clone();
            axum::serve(
                self.content_listener,
                self.content_router
                    .into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
        };
        let content = tokio::spawn(async move { content.await });
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the server failed");
        stop_content.cancel();
        let _ = content.await;
        served?;
        stop_projections.cancel();
        for runner in runners {
            let _ = runner.await;
        }
        self.state.platform.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Fails imports whose process died, now and then.
async fn sweep_imports(state: AppState, stop: CancellationToken) {
    loop {
        match state.importer.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                imports = n,
                "failed imports interrupted by a stopped server"
            ),
            Err(err) => tracing::warn!(error = %err, "import sweep failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", routes::api_v1())
        .split_for_parts();
    let (health, health_doc) = routes::health().split_for_parts();
    openapi.merge(health_doc);
    let (xapi, xapi_doc) = routes::xapi::router().split_for_parts();
    openapi.merge(xapi_doc);
    let xapi = xapi
        .layer(DefaultBodyLimit::max(routes::xapi::BODY_LIMIT))
        .layer(routes::xapi::cors());
    let openapi = Json(openapi);
    Router::new()
        .merge(api)
        .merge(health)
        .merge(xapi)
        .route(
            "/api/v1/openapi.json",
            get(move || async move { openapi.clone() }),
        )
        .fallback(|| async { ApiError::not_found("not_found", "no such resource") })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(axum::middleware::map_response(json_errors))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The content origin: the player and course files, with the same
/// request ids, tracing and JSON errors as the API.
pub fn content_router(player: player::PlayerState) -> Router {
    player::router(player)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "content",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received, finishing requests in flight");
}
