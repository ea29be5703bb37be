//! Renderings of stored statements for `GET /statements`: `format=exact|ids|canonical`,
//! language selection from `Accept-Language`, and the StatementResult envelope.

use serde_json::{Map, Value, json};

use super::error::{ErrorCode, XapiError};
use super::syntax;
use super::version::XapiVersion;

/// The `format` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Only what identifies Agents, Groups (and anonymous Group members), Activities and Verbs.
    Ids,
    /// As received (the default).
    #[default]
    Exact,
    /// Activities with their canonical definitions and Verbs with their display, each language
    /// map reduced to one language chosen by `Accept-Language`.
    Canonical,
}

impl Format {
    /// Parses the parameter value (exact case).
    pub fn parse(value: &str) -> Result<Format, XapiError> {
        match value {
            "ids" => Ok(Format::Ids),
            "exact" => Ok(Format::Exact),
            "canonical" => Ok(Format::Canonical),
            other => Err(XapiError::new(
                ErrorCode::InvalidParameter,
                "format",
                format!("format {other:?} is not ids, exact or canonical"),
            )),
        }
    }
}

/// Looks up the LRS's canonical Activity Definition for an activity id.
pub type DefinitionLookup<'a> = &'a dyn Fn(&str) -> Option<Value>;

/// How to render statements for one request.
#[derive(Clone, Copy)]
pub struct RenderOptions<'a> {
    /// The requested format.
    pub format: Format,
    /// The request's version. 2.0 returns `timestamp` and `stored` in UTC.
    pub version: XapiVersion,
    /// Language preferences from [`parse_accept_language`], best first (canonical only).
    pub languages: &'a [String],
    /// The LRS's canonical definition of an activity id, if it keeps one (canonical only);
    /// the statement's own definition is used otherwise.
    pub canonical_definition: Option<DefinitionLookup<'a>>,
}

impl<'a> RenderOptions<'a> {
    /// Options for `format` with no language preferences and no canonical definitions.
    pub fn new(format: Format, version: XapiVersion) -> RenderOptions<'a> {
        RenderOptions {
            format,
            version,
            languages: &[],
            canonical_definition: None,
        }
    }
}

/// Renders one stored statement.
pub fn render_statement(stored: &Value, options: &RenderOptions<'_>) -> Value {
    let mut statement = stored.clone();
    if options.version.is_2_0() {
        for key in ["timestamp", "stored"] {
            utc_field(&mut statement, key);
        }
        if let Some(object) = statement.get_mut("object") {
            utc_field(object, "timestamp");
        }
    }
    match options.format {
        Format::Exact => statement,
        Format::Ids => ids_statement(&statement),
        Format::Canonical => {
            canonical_statement(&mut statement, options);
            statement
        }
    }
}

/// The StatementResult object: `{"statements": […], "more": "<IRL or empty>"}`.
pub fn statement_result(statements: Vec<Value>, more: Option<&str>) -> Value {
    json!({ "statements": statements, "more": more.unwrap_or("") })
}

fn utc_field(value: &mut Value, key: &str) {
    let Some(Value::String(s)) = value.get(key) else {
        return;
    };
    let parsed = syntax::parse_timestamp(s, XapiVersion::V1_0_3)
        .or_else(|| syntax::parse_timestamp(s, XapiVersion::V2_0_0));
    if let Some(t) = parsed
        && let Value::Object(map) = value
    {
        map.insert(key.into(), Value::String(t.to_utc_string()));
    }
}

fn ids_statement(statement: &Value) -> Value {
    let Some(map) = statement.as_object() else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "actor" | "authority" => ids_actor(value),
            "verb" => ids_verb(value),
            "object" => ids_object(value),
            "context" => ids_context(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn ids_actor(actor: &Value) -> Value {
    let Some(map) = actor.as_object() else {
        return actor.clone();
    };
    let mut out = Map::new();
    for key in ["objectType", "mbox", "mbox_sha1sum", "openid", "account"] {
        if let Some(v) = map.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let identified = ["mbox", "mbox_sha1sum", "openid", "account"]
        .iter()
        .any(|k| map.contains_key(*k));
    if !identified && let Some(Value::Array(members)) = map.get("member") {
        out.insert(
            "member".into(),
            Value::Array(members.iter().map(ids_actor).collect()),
        );
    }
    Value::Object(out)
}

fn ids_verb(verb: &Value) -> Value {
    match verb.get("id") {
        Some(id) => json!({ "id": id }),
        None => verb.clone(),
    }
}

fn ids_activity(activity: &Value) -> Value {
    match activity.get("id") {
        Some(id) => json!({ "id": id }),
        None => activity.clone(),
    }
}

fn ids_object(object: &Value) -> Value {
    match object.get("objectType").and_then(Value::as_str) {
        None | Some("Activity") => ids_activity(object),
        Some("Agent" | "Group") => ids_actor(object),
        Some("SubStatement") => ids_statement(object),
        Some(_) => object.clone(),
    }
}

fn ids_context(context: &Value) -> Value {
    let Some(map) = context.as_object() else {
        return context.clone();
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "instructor" | "team" => ids_actor(value),
            "contextActivities" => map_activities(value, ids_activity),
            "contextAgents" => map_context_actors(value, "agent"),
            "contextGroups" => map_context_actors(value, "group"),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn map_activities(value: &Value, f: impl Fn(&Value) -> Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    let mut out = Map::new();
    for (kind, entry) in map {
        let entry = match entry {
            Value::Array(items) => Value::Array(items.iter().map(&f).collect()),
            other => Value::Array(vec![f(other)]),
        };
        out.insert(kind.clone(), entry);
    }
    Value::Object(out)
}

fn map_context_actors(value: &Value, member: &str) -> Value {
    let Some(items) = value.as_array() else {
        return value.clone();
    };
    Value::Array(
        items
            .iter()
            .map(|entry| {
                let mut entry = entry.clone();
                if let Some(actor) = entry.get(member).map(ids_actor)
                    && let Value::Object(map) = &mut entry
                {
                    map.insert(member.into(), actor);
                }
                entry
            })
            .collect(),
    )
}

fn canonical_statement(statement: &mut Value, options: &RenderOptions<'_>) {
    if let Some(display) = statement.pointer_mut("/verb/display") {
        pick_one_language(display, options.languages);
    }
    if let Some(object) = statement.get_mut("object") {
        match object.get("objectType").and_then(Value::as_str) {
            None | Some("Activity") => canonical_activity(object, options),
            Some("SubStatement") => canonical_statement(object, options),
            _ => {}
        }
    }
    if let Some(Value::Object(lists)) = statement.pointer_mut("/context/contextActivities") {
        for entry in lists.values_mut() {
            match entry {
                Value::Array(items) => {
                    for item in items {
                        canonical_activity(item, options);
                    }
                }
                other => canonical_activity(other, options),
            }
        }
    }
    if let Some(Value::Array(attachments)) = statement.get_mut("attachments") {
        for attachment in attachments {
            for key in ["display", "description"] {
                if let Some(map) = attachment.get_mut(key) {
                    pick_one_language(map, options.languages);
                }
            }
        }
    }
}

fn canonical_activity(activity: &mut Value, options: &RenderOptions<'_>) {
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let (Some(id), Some(lookup)) = (id, options.canonical_definition)
        && let Some(definition) = lookup(&id)
        && let Value::Object(map) = activity
    {
        map.insert("definition".into(), definition);
    }
    let Some(definition) = activity.get_mut("definition") else {
        return;
    };
    for key in ["name", "description"] {
        if let Some(map) = definition.get_mut(key) {
            pick_one_language(map, options.languages);
        }
    }
    for list in ["choices", "scale", "source", "target", "steps"] {
        if let Some(Value::Array(components)) = definition.get_mut(list) {
            for component in components {
                if let Some(map) = component.get_mut("description") {
                    pick_one_language(map, options.languages);
                }
            }
        }
    }
}

/// Reduces a language map to the one entry that best matches `languages`.
fn pick_one_language(map: &mut Value, languages: &[String]) {
    let Value::Object(entries) = map else {
        return;
    };
    if entries.len() <= 1 {
        return;
    }
    let chosen = choose_language(entries.keys().map(String::as_str), languages);
    if let Some(chosen) = chosen.map(str::to_owned) {
        entries.retain(|k, _| *k == chosen);
    }
}

/// Chooses the tag among `available` that best matches the preference list `languages`
/// (RFC 4647 lookup: exact match, then a tag the range is a prefix of, then the range's own
/// prefixes; `*` takes any). Falls back to `en-US`, then `en`, then the first tag.
pub fn choose_language<'t>(
    available: impl Iterator<Item = &'t str> + Clone,
    languages: &[String],
) -> Option<&'t str> {
    let lower = |s: &str| s.to_ascii_lowercase();
    for range in languages {
        if range == "*" {
            return available.clone().next();
        }
        let range = lower(range);
        if let Some(tag) = available.clone().find(|t| lower(t) == range) {
            return Some(tag);
        }
        if let Some(tag) = available
            .clone()
            .find(|t| lower(t).starts_with(&format!("{range}-")))
        {
            return Some(tag);
        }
        let mut prefix = range.as_str();
        while let Some((shorter, _)) = prefix.rsplit_once('-') {
            prefix = shorter;
            if let Some(tag) = available.clone().find(|t| lower(t) == prefix) {
                return Some(tag);
            }
        }
    }
    for fallback in ["en-us", "en"] {
        if let Some(tag) = available.clone().find(|t| lower(t) == fallback) {
            return Some(tag);
        }
    }
    available.clone().next()
}

/// Parses an `Accept-Language` header into language ranges, best first (by `q`, then order);
/// ranges with `q=0` are dropped.
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let mut ranges: Vec<(u16, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let range = pieces.next()?.trim();
            if range.is_empty() {
                return None;
            }
            let mut q = 1000u16;
            for param in pieces {
                if let Some(value) = param.trim().strip_prefix("q=") {
                    q = value
                        .trim()
                        .parse::<f32>()
                        .map(|v| (v.clamp(0.0, 1.0) * 1000.0) as u16)
                        .unwrap_or(0);
                }
            }
            (q > 0).then(|| (q, i, range.to_owned()))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.into_iter().map(|(_, _, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language() {
        assert_eq!(
            parse_accept_language("fr;q=0.5, en-GB, de;q=0.8, *;q=0"),
            vec!["en-GB", "de", "fr"]
        );
        assert_eq!(parse_accept_language(""), Vec::<String>::new());
    }

    #[test]
    fn language_choice() {
        let tags = ["de", "en-GB", "en-US", "zh-Hant-TW"];
        let pick = |prefs: &[&str]| {
            let prefs: Vec<String> = prefs.iter().map(|s| s.to_string()).collect();
            choose_language(tags.iter().copied(), &prefs)
        };
        assert_eq!(pick(&["en-GB"]), Some("en-GB"));
        assert_eq!(pick(&["en-gb"]), Some("en-GB"));
        assert_eq!(pick(&["zh"]), Some("zh-Hant-TW"));
        assert_eq!(pick(&["de-CH"]), Some("de"));
        assert_eq!(pick(&["fr", "de"]), Some("de"));
        assert_eq!(pick(&["fr"]), Some("en-US"));
        assert_eq!(pick(&["*"]), Some("de"));
        assert_eq!(pick(&[]), Some("en-US"));
    }
}
