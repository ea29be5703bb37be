//! The xAPI data types below the statement level: IRIs, mailto IRIs, UUIDs, language tags,
//! timestamps, durations, hashes, and a strict JSON reader that refuses repeated keys.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use regex::Regex;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::version::XapiVersion;

/// Whether `s` is an absolute IRI (RFC 3987: a scheme, then a valid hierarchical part).
pub fn is_iri(s: &str) -> bool {
    oxiri::Iri::parse(s).is_ok()
}

/// Whether `s` is an IRL: an absolute IRI that can be dereferenced (a scheme and an authority
/// or path). xAPI gives no stricter definition; `homePage`, `moreInfo` and `fileUrl` use it.
pub fn is_irl(s: &str) -> bool {
    is_iri(s)
}

/// Whether `s` is a `mailto:` IRI naming one address (`mailto:someone@example.org`).
/// The scheme is matched case-insensitively.
pub fn is_mbox(s: &str) -> bool {
    let Some(address) = strip_prefix_ignore_case(s, "mailto:") else {
        return false;
    };
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty() && !domain.is_empty() && !address.contains(['?', ' ', ',']) && is_iri(s)
}

/// Normalizes a `mailto:` IRI for comparison and indexing: lowercase scheme and domain.
pub fn normalize_mbox(s: &str) -> String {
    let address = strip_prefix_ignore_case(s, "mailto:").unwrap_or(s);
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("mailto:{local}@{}", domain.to_ascii_lowercase()),
        None => format!("mailto:{address}"),
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// Normalizes an IRI for comparison (RFC 3987 §5.3.2 syntax-based normalization, case part):
/// lowercase scheme and host. Invalid IRIs are returned unchanged.
pub fn normalize_iri(s: &str) -> String {
    let Ok(iri) = oxiri::Iri::parse(s) else {
        return s.to_owned();
    };
    let scheme = iri.scheme().to_ascii_lowercase();
    let rest = &s[iri.scheme().len()..];
    match iri.authority() {
        Some(authority) => {
            // `rest` is `://authority…`; lowercase the host part (after any userinfo).
            let host_start = authority.rfind('@').map(|i| i + 1).unwrap_or(0);
            let (user, host) = authority.split_at(host_start);
            let after = &rest[3 + authority.len()..];
            format!("{scheme}://{user}{}{after}", host.to_lowercase())
        }
        None => format!("{scheme}{rest}"),
    }
}

/// Parses a UUID in its canonical 8-4-4-4-12 hex form (either case). Other RFC 4122 spellings
/// (braces, URN prefix, no hyphens) are refused, as the spec requires the standard string form.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    static CANONICAL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
            .expect("valid regex")
    });
    if !CANONICAL.is_match(s) {
        return None;
    }
    Uuid::parse_str(s).ok()
}

/// Whether `s` is 40 hex digits (a SHA-1 digest such as `mbox_sha1sum`).
pub fn is_sha1_hex(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` is a hex SHA-2 digest: 56, 64, 96 or 128 hex digits.
pub fn is_sha2_hex(s: &str) -> bool {
    matches!(s.len(), 56 | 64 | 96 | 128) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `s` looks like an Internet Media Type (`type/subtype` with optional parameters).
pub fn is_media_type(s: &str) -> bool {
    static MEDIA: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\s*(;.*)?$")
            .expect("valid regex")
    });
    MEDIA.is_match(s)
}

/// Whether `s` is a well-formed RFC 5646 language tag without repeated variants or
/// extension singletons (both make a tag invalid per RFC 5646 §2.2.5 and §2.2.6).
pub fn is_language_tag(s: &str) -> bool {
    let Ok(tag) = oxilangtag::LanguageTag::parse(s) else {
        return false;
    };
    let mut variants: Vec<String> = tag
        .variant_subtags()
        .map(|v| v.to_ascii_lowercase())
        .collect();
    let variant_count = variants.len();
    variants.sort();
    variants.dedup();
    if variants.len() != variant_count {
        return false;
    }
    // Extension singletons are the one-character subtags before any private-use `x`.
    let mut singletons: Vec<char> = Vec::new();
    if let Some(extension) = tag.extension() {
        for subtag in extension.split('-') {
            if subtag.len() == 1 {
                let c = subtag.chars().next().unwrap_or('x').to_ascii_lowercase();
                if singletons.contains(&c) {
                    return false;
                }
                singletons.push(c);
            }
        }
    }
    true
}

/// A point in time read from an xAPI timestamp, remembering the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub DateTime<FixedOffset>);

impl Timestamp {
    /// The instant in UTC.
    pub fn to_utc(self) -> DateTime<Utc> {
        self.0.with_timezone(&Utc)
    }

    /// The instant truncated to milliseconds, the precision the spec asks an LRS to keep.
    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    /// RFC 3339 in UTC with millisecond precision (`2024-05-04T17:00:00.000Z`), the form
    /// this LRS uses when it writes a timestamp.
    pub fn to_utc_string(self) -> String {
        format_utc(self.to_utc())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_utc_string())
    }
}

/// Formats an instant as RFC 3339 UTC with milliseconds.
pub fn format_utc(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an xAPI timestamp.
///
/// Both versions accept ISO 8601 extended (`2024-05-04T12:00:00.123+02:00`) and basic
/// (`20240504T120000Z`) date-times, with `Z`, `±hh:mm`, `±hhmm` or `±hh` offsets, and refuse the
/// "unknown local offset" forms `-00:00`, `-0000` and `-00`. Without an offset 1.0.x reads the
/// time as UTC; 2.0 follows RFC 3339 and requires an offset, and also accepts a space or a
/// lowercase `t` as the separator.
pub fn parse_timestamp(s: &str, version: XapiVersion) -> Option<Timestamp> {
    static EXTENDED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(\d{4})-(\d{2})-(\d{2})([Tt ])(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$",
        )
        .expect("valid regex")
    });
    static BASIC: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(\d{4})(\d{2})(\d{2})([Tt])(\d{2})(\d{2})(?:(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}(?:\d{2})?)?$",
        )
        .expect("valid regex")
    });
    let caps = EXTENDED.captures(s).or_else(|| BASIC.captures(s))?;
    let number = |i: usize| -> Option<u32> {
        caps.get(i)
            .map(|m| m.as_str().parse().ok())
            .unwrap_or(Some(0))
    };
    let year: i32 = caps[1].parse().ok()?;
    let separator = &caps[4];
    if version.is_2_0() {
        // RFC 3339 allows `T`, `t` and (section 5.6 note) a space.
    } else if separator != "T" {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, number(2)?, number(3)?)?;
    let nanos = match caps.get(8) {
        Some(fraction) => {
            let digits = fraction.as_str();
            let mut padded: String = digits.chars().take(9).collect();
            while padded.len() < 9 {
                padded.push('0');
            }
            padded.parse().ok()?
        }
        None => 0,
    };
    let seconds = number(7)?;
    if seconds > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(number(5)?, number(6)?, seconds, nanos)?;
    let naive = NaiveDateTime::new(date, time);
    let offset = match caps.get(9).map(|m| m.as_str()) {
        None => {
            if version.is_2_0() {
                return None;
            }
            FixedOffset::east_opt(0)?
        }
        Some("Z" | "z") => FixedOffset::east_opt(0)?,
        Some(offset) => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
            let hours: i32 = digits[..2].parse().ok()?;
            let minutes: i32 = if digits.len() > 2 {
                digits[2..].parse().ok()?
            } else {
                0
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            if sign < 0 && hours == 0 && minutes == 0 {
                // RFC 3339 §4.3: "-00:00" means "offset unknown"; xAPI rejects it in every form.
                return None;
            }
            FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))?
        }
    };
    let datetime = naive.and_local_timezone(offset).single()?;
    Some(Timestamp(datetime))
}

/// Whether `s` is an ISO 8601:2004 §4.4.3.2 duration (`PnYnMnDTnHnMnS` or `PnW`), with a
/// decimal fraction allowed on the last component.
pub fn is_duration(s: &str) -> bool {
    static DURATION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$",
        )
        .expect("valid regex")
    });
    static WEEKS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^P\d+(?:[.,]\d+)?W$").expect("valid regex"));
    if WEEKS.is_match(s) {
        return true;
    }
    let Some(caps) = DURATION.captures(s) else {
        return false;
    };
    let present: Vec<&str> = (1..=6)
        .filter_map(|i| caps.get(i).map(|m| m.as_str()))
        .collect();
    if present.is_empty() || s.ends_with('T') {
        return false;
    }
    // Only the smallest given component may carry a fraction.
    present[..present.len() - 1]
        .iter()
        .all(|component| !component.contains(['.', ',']))
}

/// A duration string with the seconds fraction cut to hundredths: the form durations are
/// compared in (xAPI 2.0 §4.2.7; 1.0.3 compares durations as strings).
pub fn duration_for_comparison(s: &str) -> String {
    static SECONDS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\d+)[.,](\d+)S$").expect("valid regex"));
    let Some(caps) = SECONDS.captures(s) else {
        return s.to_owned();
    };
    let whole = caps.get(0).expect("group 0 always matches");
    let hundredths: String = caps[2].chars().take(2).collect();
    let hundredths = hundredths.trim_end_matches('0');
    let seconds = if hundredths.is_empty() {
        format!("{}S", &caps[1])
    } else {
        format!("{}.{hundredths}S", &caps[1])
    };
    format!("{}{seconds}", &s[..whole.start()])
}

/// Errors from [`parse_json_strict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// The bytes are not JSON (or not UTF-8).
    #[error("body is not valid json: {0}")]
    Syntax(String),
    /// An object repeats a key.
    #[error("json object repeats the key {0:?}")]
    DuplicateKey(String),
}

/// Parses JSON like `serde_json::from_slice`, but refuses objects that repeat a key
/// (the spec forbids a property from being repeated; serde_json keeps the last silently).
pub fn parse_json_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut deserializer).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix(DUPLICATE_MARKER) {
            Some(rest) => {
                JsonError::DuplicateKey(rest.split(" at line").next().unwrap_or(rest).to_owned())
            }
            None => JsonError::Syntax(text),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| JsonError::Syntax(e.to_string()))?;
    Ok(value)
}

const DUPLICATE_MARKER: &str = "duplicate key: ";

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(StrictValue)?;
            if seen.insert(key.clone(), value).is_some() {
                return Err(de::Error::custom(format!("{DUPLICATE_MARKER}{key}")));
            }
        }
        Ok(Value::Object(
            seen.into_iter().collect::<Map<String, Value>>(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: XapiVersion = XapiVersion::V1_0_3;
    const V2: XapiVersion = XapiVersion::V2_0_0;

    #[test]
    fn timestamps() {
        let ok = |s: &str, v| parse_timestamp(s, v).map(|t| t.to_utc_string());
        assert_eq!(
            ok("2023-05-04T12:00:00-05:00", V2).as_deref(),
            Some("2023-05-04T17:00:00.000Z")
        );
        assert_eq!(
            ok("2008-09-15T15:53:00.601+00:00", V2).as_deref(),
            Some("2008-09-15T15:53:00.601Z")
        );
        assert_eq!(
            ok("2008-09-15T15:53:00.601+0100", V1).as_deref(),
            Some("2008-09-15T14:53:00.601Z")
        );
        assert_eq!(
            ok("2008-09-15T15:53:00.601+01", V1).as_deref(),
            Some("2008-09-15T14:53:00.601Z")
        );
        assert_eq!(
            ok("20080915T155300Z", V1).as_deref(),
            Some("2008-09-15T15:53:00.000Z")
        );
        assert_eq!(
            ok("2008-09-15T15:53:00", V1).as_deref(),
            Some("2008-09-15T15:53:00.000Z")
        );
        assert_eq!(ok("2008-09-15T15:53:00", V2), None);
        assert_eq!(
            ok("2008-09-15 15:53:00Z", V2).as_deref(),
            Some("2008-09-15T15:53:00.000Z")
        );
        assert_eq!(ok("2008-09-15 15:53:00Z", V1), None);
        for bad in [
            "2008-09-15T15:53:00.601-00",
            "2008-09-15T15:53:00.601-0000",
            "2008-09-15T15:53:00.601-00:00",
            "01/011/2015",
            "should fail",
            "2008-13-15T15:53:00Z",
            "2008-02-30T15:53:00Z",
            "",
        ] {
            assert_eq!(ok(bad, V1), None, "{bad}");
            assert_eq!(ok(bad, V2), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        for good in [
            "PT1H0M0.1S",
            "P1DT12H36M0.12567S",
            "P3Y6M4DT12H30M5S",
            "PT0S",
            "P4W",
            "P1D",
            "PT1.5H",
        ] {
            assert!(is_duration(good), "{good}");
        }
        for bad in [
            "PA1H0M0S",
            "P",
            "PT",
            "P1DT",
            "should fail",
            "1H",
            "PT1.5H3M",
            "P1W2D",
        ] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert_eq!(
            duration_for_comparison("P1DT12H36M0.12567S"),
            "P1DT12H36M0.12S"
        );
        assert_eq!(duration_for_comparison("PT0.10S"), "PT0.1S");
        assert_eq!(duration_for_comparison("PT5.001S"), "PT5S");
        assert_eq!(duration_for_comparison("PT1H"), "PT1H");
    }

    #[test]
    fn language_tags() {
        for good in [
            "de",
            "de-DE",
            "zh-Hant",
            "sr-Latn-RS",
            "cmn",
            "es-419",
            "zh-Hans-CN",
            "ase",
            "en-US-x-twain",
            "und",
        ] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in [
            "something",
            "a12345678",
            "a12345",
            "zh-z-aaa-z-bbb-c-ccc",
            "",
            "en_US",
            "de-DE-1996-1996",
        ] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }

    #[test]
    fn iris_and_mboxes() {
        assert!(is_iri("http://adlnet.gov/expapi/verbs/attended"));
        assert!(is_iri("urn:uuid:fd41c918-b88b-4b20-a0a5-a4c32391aaa0"));
        assert!(!is_iri("abc"));
        assert!(!is_iri("ab=c://should.fail.com"));
        assert!(!is_iri(""));
        assert!(is_mbox("mailto:xapi@adlnet.gov"));
        assert!(is_mbox("MAILTO:xapi@adlnet.gov"));
        assert!(!is_mbox("mailto:should.fail.com"));
        assert!(!is_mbox("http://should.fail.com"));
        assert_eq!(
            normalize_mbox("MailTo:Bob@Example.COM"),
            "mailto:Bob@example.com"
        );
        assert_eq!(
            normalize_iri("HTTP://Example.COM/Path"),
            "http://example.com/Path"
        );
    }

    #[test]
    fn uuids() {
        assert!(parse_uuid("fd41c918-b88b-4b20-a0a5-a4c32391aaa0").is_some());
        assert!(parse_uuid("FD41C918-B88B-4B20-A0A5-A4C32391AAA0").is_some());
        assert!(parse_uuid("AA97B177-9383-4934-8543-0F91A7A028368").is_none());
        assert!(parse_uuid("MA97B177-9383-4934-8543-0F91A7A02836").is_none());
        assert!(parse_uuid("fd41c918b88b4b20a0a5a4c32391aaa0").is_none());
    }

    #[test]
    fn strict_json() {
        assert_eq!(
            parse_json_strict(br#"{"a":1,"b":[{"c":null}]}"#).unwrap()["b"][0]["c"],
            Value::Null
        );
        assert_eq!(
            parse_json_strict(br#"{"a":1,"b":{"c":1,"c":2}}"#),
            Err(JsonError::DuplicateKey("c".to_owned()))
        );
        assert!(matches!(parse_json_strict(b"{"), Err(JsonError::Syntax(_))));
        assert!(matches!(
            parse_json_strict(b"{} x"),
            Err(JsonError::Syntax(_))
        ));
    }
}
