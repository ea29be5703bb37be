//! The launch page (`GET /launch/{token}`), the player's static files
//! (`/player/...`, embedded in the binary) and the data model tables
//! (`/player/model/{version}.json`, from `domain::cmi::js_model`).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use domain::cmi::ScormVersion;
use rust_embed::RustEmbed;
use serde_json::json;

use crate::PlayerState;
use crate::runtime::{load, scorm_version};
use crate::tokens::{LaunchClaims, TokenError};

/// The player's files: `player/static/`.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Where the server writes the configuration in `player.html`.
pub const CONFIG_PLACEHOLDER: &str = "__ALLURECONNECT_CONFIG__";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page that explains, in words, why the player cannot open.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}}</style></head><body><h1>{}</h1><p>{}</p></body></html>",
        escape(title),
        escape(title),
        escape(text)
    );
    (status, Html(body)).into_response()
}

pub async fn launch(State(state): State<PlayerState>, Path(token): Path<String>) -> Response {
    let claims: LaunchClaims = match state.signer.verify(&token, Utc::now()) {
        Ok(claims) => claims,
        Err(TokenError::Expired) => {
            return message_page(
                StatusCode::FORBIDDEN,
                "This link has expired",
                "Launch links are valid for a limited time. Go back to where you found it and open the course again.",
            );
        }
        Err(_) => {
            return message_page(
                StatusCode::FORBIDDEN,
                "This link is not valid",
                "The launch link is incomplete or has been changed. Open the course again from where you found it.",
            );
        }
    };
    let loaded = match load(&state, &claims.scope, &claims.registration).await {
        Ok(loaded) => loaded,
        Err(err) => return message_page(err.status, "This course cannot be opened", &err.message),
    };
    let version = match scorm_version(&loaded.course.standard) {
        Ok(version) => version,
        Err(err) => {
            return message_page(
                err.status,
                "This course cannot be opened here",
                &err.message,
            );
        }
    };
    let config = json!({
        "launch_token": token,
        "course_title": loaded.course.title,
        "standard": projections::courses::standard_name(&loaded.course.standard),
        "scorm_version": version,
        "model_url": format!("/player/model/{}.json", version_name(version)),
        "tracking": claims.tracking,
        "redirect_url": claims.redirect,
        "heartbeat_seconds": state.settings.heartbeat_seconds,
    });
    // In a <script type="application/json"> element, "</" must not appear.
    let config = config.to_string().replace("</", "<\\/");
    let template = Assets::get("player.html")
        .map(|file| String::from_utf8_lossy(&file.data).into_owned())
        .unwrap_or_else(|| {
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Player</title></head><body>\
                 <script type=\"application/json\" id=\"ac-config\">{CONFIG_PLACEHOLDER}</script>\
                 <script type=\"module\" src=\"/player/player.js\"></script></body></html>"
            )
        });
    let mut response = Html(template.replace(CONFIG_PLACEHOLDER, &config)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn version_name(version: ScormVersion) -> &'static str {
    match version {
        ScormVersion::Scorm12 => "1.2",
        ScormVersion::Scorm2004Second => "2004-2",
        ScormVersion::Scorm2004Third => "2004-3",
        ScormVersion::Scorm2004Fourth => "2004-4",
    }
}

pub async fn model(Path(version): Path<String>) -> Response {
    let version = match version.trim_end_matches(".json") {
        "1.2" => ScormVersion::Scorm12,
        "2004-2" => ScormVersion::Scorm2004Second,
        "2004-3" => ScormVersion::Scorm2004Third,
        "2004-4" => ScormVersion::Scorm2004Fourth,
        _ => return (StatusCode::NOT_FOUND, "no such data model").into_response(),
    };
    let mut response = axum::Json(domain::cmi::js_model(version)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(asset) = Assets::get(&file) else {
        return (StatusCode::NOT_FOUND, "no such player file").into_response();
    };
    let mime = mime_for(&file);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        asset.data.into_owned(),
    )
        .into_response()
}

fn mime_for(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}
