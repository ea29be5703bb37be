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
    router: Router,
    state: AppState,
}

impl Application {
    /// Opens the platform and binds the listen address.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let platform = Platform::open(&settings.storage).await?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let state = AppState::new(platform, settings);
        Ok(Application {
            listener,
            router: router(state.clone()),
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
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
        let runners = self
            .state
            .platform
            .projections
            .spawn(stop_projections.clone());
        let dispatcher = if self.state.settings.webhooks.dispatch {
            Some(
                crate::webhooks::Dispatcher::new(
                    &self.state.platform,
                    &self.state.settings.webhooks,
                )
                .context("cannot start the webhook dispatcher")?
                .spawn(stop_projections.clone()),
            )
        } else {
            None
        };
        tracing::info!(address = %self.local_addr(), public_url = %self.state.settings.public_url, "serving");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the server failed")?;
        stop_projections.cancel();
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
        for runner in runners {
            let _ = runner.await;
        }
        self.state.platform.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", routes::api_v1())
        .split_for_parts();
    let (health, health_doc) = routes::health().split_for_parts();
    openapi.merge(health_doc);
    let openapi = Json(openapi);
    Router::new()
        .merge(api)
        .merge(health)
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
