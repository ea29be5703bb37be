//! `/xapi`: the integrated LRS of every workspace, 1.0.x and 2.0.
//!
//! Every handler reads the request into an [`XapiRequest`] (applying the 1.0.x alternate
//! request syntax, `POST ?method=…` with a form body, where it is used), authenticates it
//! with [`LrsCaller`], checks the version header, and hands it to its resource:
//! [`statements`], [`documents`] or [`resources`]. The xAPI rules are `domain::xapi`'s; the
//! writes go through [`crate::lrs::Lrs`]; the reads through the LRS views.

pub mod documents;
pub mod resources;
pub mod statements;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::xapi::{XapiError, XapiVersion};
use tower_http::cors::{Any, CorsLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::lrs::auth::LrsCaller;
use crate::state::AppState;

pub const VERSION_HEADER: HeaderName = HeaderName::from_static("x-experience-api-version");
pub const CONSISTENT_THROUGH: HeaderName =
    HeaderName::from_static("x-experience-api-consistent-through");

/// Largest request body the LRS accepts (statements with attachments).
pub const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Which xAPI resource a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Statements,
    /// A further page of a statement query.
    More,
    State,
    ActivityProfile,
    AgentProfile,
    Activities,
    Agents,
}

/// An LRS request after the alternate request syntax is undone.
#[derive(Debug, Clone)]
pub struct XapiRequest {
    pub method: Method,
    /// Decoded query parameters (or form fields), in order.
    pub params: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
}

impl XapiRequest {
    async fn read(request: Request, state: &AppState) -> Result<XapiRequest, ApiError> {
        let request_id = request
            .extensions()
            .get::<tower_http::request_id::RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or("-")
            .to_owned();
        let method = request.method().clone();
        let params = request
            .uri()
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|_| crate::error::payload_too_large())?;
        Ok(XapiRequest {
            method,
            params,
            headers,
            body,
            request_id,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The request's xAPI version; required everywhere but `/about`.
    pub fn version(&self) -> Result<XapiVersion, ApiError> {
        let raw = self.header("x-experience-api-version").ok_or_else(|| {
            ApiError::bad_request(
                "missing_version",
                "send the X-Experience-API-Version header (1.0.x or 2.0.0)",
            )
        })?;
        XapiVersion::parse_header(raw).map_err(xapi_error)
    }

    /// Undoes the 1.0.x alternate request syntax: `POST ?method=PUT` with a form whose
    /// fields are headers, parameters and the `content`.
    fn alternate(self) -> Result<XapiRequest, ApiError> {
        let Some(method) = self
            .params
            .iter()
            .find(|(n, _)| n == "method")
            .map(|(_, v)| v.clone())
        else {
            return Ok(self);
        };
        let refuse =
            |message: &str| ApiError::bad_request("invalid_alternate_request", message.to_owned());
        if self.method != Method::POST {
            return Err(refuse("the alternate request syntax is only for POST"));
        }
        if self.params.len() != 1 {
            return Err(refuse(
                "an alternate request carries its parameters in the form body, not the query",
            ));
        }
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "HEAD" => Method::HEAD,
            "PUT" => Method::PUT,
            "POST" => Method::POST,
            "DELETE" => Method::DELETE,
            _ => return Err(refuse("method must be GET, HEAD, PUT, POST or DELETE")),
        };
        let form_type = self
            .content_type()
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        if !form_type {
            return Err(refuse(
                "an alternate request must be application/x-www-form-urlencoded",
            ));
        }
        let mut headers = self.headers.clone();
        headers.remove(CONTENT_TYPE);
        let mut params = Vec::new();
        let mut body = Bytes::new();
        for (name, value) in form_urlencoded::parse(&self.body).into_owned() {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                "authorization"
                | "x-experience-api-version"
                | "content-type"
                | "content-length"
                | "if-match"
                | "if-none-match" => {
                    let value = HeaderValue::from_str(&value)
                        .map_err(|_| refuse("a form header value is not a valid header"))?;
                    headers.insert(
                        HeaderName::from_bytes(lower.as_bytes()).expect("known name"),
                        value,
                    );
                }
                "content" => body = Bytes::from(value),
                _ => params.push((name, value)),
            }
        }
        if matches!(method, Method::PUT | Method::POST) && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = XapiRequest {
            method,
            params,
            headers,
            body,
            request_id: self.request_id,
        };
        if request.version()?.is_2_0() {
            return Err(refuse("xapi 2.0 has no alternate request syntax"));
        }
        Ok(request)
    }
}

/// An xAPI validation error as an API error (400).
pub fn xapi_error(error: XapiError) -> ApiError {
    ApiError::bad_request(
        error.code.as_str(),
        format!("{} ({})", error.message, error.path),
    )
}

/// An HTTP date (`Last-Modified`).
pub fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .expect("an http date is a valid header")
}

/// Runs one LRS request: read, undo the alternate syntax, authenticate, dispatch. `more` is
/// the token of a further statement page.
async fn handle(
    state: AppState,
    resource: Resource,
    request: Request,
    more: Option<String>,
) -> Response {
    let read = XapiRequest::read(request, &state)
        .await
        .and_then(XapiRequest::alternate);
    let requested = read.as_ref().ok().and_then(|r| r.version().ok());
    let (mut response, caller) = match read {
        Ok(request) => dispatch(&state, resource, request, more).await,
        Err(err) => (err.into_response(), None),
    };
    // A request without a usable version header is answered in the family its credential
    // last spoke (a 1.0.x client keeps hearing 1.0.3), else 2.0.0.
    let lrs = &state.platform.lrs;
    let version = match (requested, &caller) {
        (Some(version), Some(caller)) => {
            lrs.remember_version(caller, version);
            version
        }
        (Some(version), None) => version,
        (None, Some(caller)) => lrs.last_version(caller).unwrap_or(XapiVersion::V2_0_0),
        (None, None) => XapiVersion::V2_0_0,
    };
    let headers = response.headers_mut();
    headers.insert(
        VERSION_HEADER,
        HeaderValue::from_static(version.response_header()),
    );
    if matches!(resource, Resource::Statements | Resource::More)
        && !headers.contains_key(CONSISTENT_THROUGH)
    {
        // No query ran (the request was refused before it).
        let through = lrs.consistent_through(Utc::now()).await;
        headers.insert(CONSISTENT_THROUGH, consistent_through_header(through));
    }
    response
}

/// Authenticates and runs a request; returns the response and who asked (the caller's
/// actor), when authentication succeeded.
async fn dispatch(
    state: &AppState,
    resource: Resource,
    request: XapiRequest,
    more: Option<String>,
) -> (Response, Option<String>) {
    let caller = match LrsCaller::authenticate(
        state,
        request.header("authorization"),
        request.request_id.clone(),
    )
    .await
    {
        Ok(caller) => caller,
        Err(err) => return (err.into_response(), None),
    };
    let version = match request.version() {
        Ok(version) => version,
        Err(err) => return (err.into_response(), Some(caller.actor)),
    };
    let reads_statements = matches!(
        resource,
        Resource::Statements | Resource::More | Resource::Activities | Resource::Agents
    );
    let lrs = &state.platform.lrs;
    if reads_statements && matches!(request.method, Method::GET | Method::HEAD) {
        // Writes answer before the statement views show them; a client reads its own.
        lrs.see_own_writes(&caller.actor, state.settings.consistency_timeout)
            .await;
    }
    // Taken before the request runs, so that it holds for what a query returns.
    let through = match resource {
        Resource::Statements | Resource::More => Some(lrs.consistent_through(Utc::now()).await),
        _ => None,
    };
    let result = match resource {
        Resource::Statements | Resource::More => {
            statements::handle(state, &caller, version, request, more).await
        }
        Resource::State | Resource::ActivityProfile | Resource::AgentProfile => {
            documents::handle(state, &caller, version, resource, request).await
        }
        Resource::Activities => resources::activities(state, &caller, version, request).await,
        Resource::Agents => resources::agents(state, &caller, version, request).await,
    };
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    if let Some(through) = through {
        response
            .headers_mut()
            .insert(CONSISTENT_THROUGH, consistent_through_header(through));
    }
    (response, Some(caller.actor))
}

fn consistent_through_header(through: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&domain::xapi::syntax::format_utc(through))
        .expect("a timestamp is a valid header")
}

/// An empty 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The `/xapi` routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            statements::get_statements,
            statements::put_statement,
            statements::post_statements
        ))
        .routes(routes!(statements::more_statements))
        .routes(routes!(
            documents::get_state,
            documents::put_state,
            documents::post_state,
            documents::delete_state
        ))
        .routes(routes!(
            documents::get_activity_profile,
            documents::put_activity_profile,
            documents::post_activity_profile,
            documents::delete_activity_profile
        ))
        .routes(routes!(
            documents::get_agent_profile,
            documents::put_agent_profile,
            documents::post_agent_profile,
            documents::delete_agent_profile
        ))
        .routes(routes!(resources::get_activities))
        .routes(routes!(resources::get_agents))
        .routes(routes!(resources::about))
}

/// Browser content reaches the LRS from other origins.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            CONTENT_TYPE,
            axum::http::header::IF_MATCH,
            axum::http::header::IF_NONE_MATCH,
            VERSION_HEADER,
        ])
        .expose_headers([
            axum::http::header::ETAG,
            axum::http::header::LAST_MODIFIED,
            VERSION_HEADER,
            CONSISTENT_THROUGH,
        ])
}
