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
use crate::runtime::{load, playable};
use crate::tokens::{LaunchClaims, TokenError};

/// The player's files: `player/static/`.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The placeholders of `player.html`: the course title (HTML-escaped) and
/// the configuration JSON (script-safe).
const TITLE: &str = "{{title}}";
const CONFIG: &str = "{{config}}";

/// JSON that cannot end the `<script>` element it sits in, nor a line of
/// JavaScript: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes.
fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Fills the placeholders in one pass, so a title that contains a
/// placeholder's text stays text.
fn fill(template: &str, title: &str, config: &str) -> String {
    let mut out = String::with_capacity(template.len() + config.len());
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix(TITLE) {
            out.push_str(title);
            rest = after;
        } else if let Some(after) = tail.strip_prefix(CONFIG) {
            out.push_str(config);
            rest = after;
        } else {
            out.push_str("{{");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

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
    let version = match playable(&loaded.course.standard) {
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
        // xAPI content has neither: it reports to the LRS itself.
        "scorm_version": version,
        "model_url": version.map(|v| format!("/player/model/{}.json", version_name(v))),
        "tracking": claims.tracking,
        "redirect_url": claims.redirect,
        "heartbeat_seconds": state.settings.heartbeat_seconds,
    });
    let Some(template) = Assets::get("player.html") else {
        return message_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The player is missing",
            "This server was built without its player files.",
        );
    };
    let page = fill(
        &String::from_utf8_lossy(&template.data),
        &escape(&loaded.course.title),
        &script_safe(&config.to_string()),
    );
    let mut response = Html(page).into_response();
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
    // The player's own tests and notes are not served.
    let served = !file.starts_with("test/") && !file.ends_with(".md") && file != "player.html";
    let Some(asset) = Assets::get(&file).filter(|_| served) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_filled_once_and_nothing_ends_its_script() {
        let config = json!({"course_title": "</script><script>alert(1)</script> \u{2028}&"});
        let page = fill(
            "<title>{{title}}</title><script type=\"application/json\">{{config}}</script>{{other}}",
            &escape("A {{config}} <b>course</b>"),
            &script_safe(&config.to_string()),
        );
        assert!(!page.contains("</script><script>"), "{page}");
        assert!(
            page.contains("<title>A {{config}} &lt;b&gt;course&lt;/b&gt;</title>"),
            "{page}"
        );
        assert!(page.contains("{{other}}"));
        let json = page
            .split("application/json\">")
            .nth(1)
            .unwrap()
            .split("</script>")
            .next()
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, config, "the escapes are still the same JSON");
    }
}
