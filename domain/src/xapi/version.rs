//! xAPI versions: the `X-Experience-API-Version` header, statement `version` values, and the
//! `about` resource.

use std::fmt;

use serde_json::{Value, json};

use super::error::{ErrorCode, XapiError};

/// The xAPI version a request speaks, read from its `X-Experience-API-Version` header.
///
/// The server carries one per request; every rule that differs between 1.0.x and 2.0 asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XapiVersion {
    /// 1.0.0 (also what a bare `1.0` header means).
    V1_0_0,
    /// 1.0.1.
    V1_0_1,
    /// 1.0.2 (still sent by Articulate Storyline and other authoring tools).
    V1_0_2,
    /// 1.0.3, the last 1.0 patch; newer 1.0.x patch numbers are treated as 1.0.3.
    V1_0_3,
    /// 2.0.0 (IEEE 9274.1.1-2023).
    V2_0_0,
}

impl XapiVersion {
    /// The versions this LRS speaks, newest first, as the `about` resource lists them.
    pub const SUPPORTED: &'static [XapiVersion] = &[
        XapiVersion::V2_0_0,
        XapiVersion::V1_0_3,
        XapiVersion::V1_0_2,
        XapiVersion::V1_0_1,
        XapiVersion::V1_0_0,
    ];

    /// Parses an `X-Experience-API-Version` header value.
    ///
    /// Accepts `1.0`, `1.0.x` (any patch; unknown patches behave as 1.0.3), `2.0` and `2.0.x`.
    /// Everything else (`0.95`, `1.1.0`, `3.0.0`, junk, empty) is refused.
    pub fn parse_header(value: &str) -> Result<XapiVersion, XapiError> {
        let trimmed = value.trim();
        let invalid = || {
            XapiError::new(
                ErrorCode::InvalidVersion,
                "X-Experience-API-Version",
                format!("unsupported xapi version {trimmed:?}; this lrs accepts 1.0.x and 2.0.x"),
            )
        };
        let (major_minor, patch) = split_version(trimmed).ok_or_else(invalid)?;
        match (major_minor, patch) {
            ((1, 0), None | Some(0)) => Ok(XapiVersion::V1_0_0),
            ((1, 0), Some(1)) => Ok(XapiVersion::V1_0_1),
            ((1, 0), Some(2)) => Ok(XapiVersion::V1_0_2),
            ((1, 0), Some(_)) => Ok(XapiVersion::V1_0_3),
            ((2, 0), _) => Ok(XapiVersion::V2_0_0),
            _ => Err(invalid()),
        }
    }

    /// Whether this is the 2.0 family.
    pub fn is_2_0(self) -> bool {
        self == XapiVersion::V2_0_0
    }

    /// The full version string (`1.0.2`, `2.0.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            XapiVersion::V1_0_0 => "1.0.0",
            XapiVersion::V1_0_1 => "1.0.1",
            XapiVersion::V1_0_2 => "1.0.2",
            XapiVersion::V1_0_3 => "1.0.3",
            XapiVersion::V2_0_0 => "2.0.0",
        }
    }

    /// The value of the `X-Experience-API-Version` response header: the latest patch of the
    /// request's family (`1.0.3` or `2.0.0`).
    pub fn response_header(self) -> &'static str {
        if self.is_2_0() { "2.0.0" } else { "1.0.3" }
    }

    /// The `version` the LRS writes into a stored statement that arrived without one
    /// (1.0.3 Data §2.4.10: "1.0.0"; 2.0: "2.0.0").
    pub fn default_statement_version(self) -> &'static str {
        if self.is_2_0() { "2.0.0" } else { "1.0.0" }
    }

    /// Whether a request of this version may use the 1.0.3 alternate request syntax
    /// (`POST ?method=…` with a form body). 2.0 removed it.
    pub fn allows_alternate_request_syntax(self) -> bool {
        !self.is_2_0()
    }

    /// Whether statements may carry `context.contextAgents` / `context.contextGroups`.
    pub fn has_context_agents(self) -> bool {
        self.is_2_0()
    }

    /// Whether `PUT` of an existing document without `If-Match`/`If-None-Match` must be refused
    /// with 409 for this resource family (always for profiles; for State only in 2.0).
    pub fn requires_precondition_for_state(self) -> bool {
        self.is_2_0()
    }

    /// Whether a `PUT` that creates an Activity or Agent Profile document must still carry
    /// `If-Match` or `If-None-Match` (400 otherwise). 1.0.3 Communication §3.1 makes the
    /// header a client MUST and the 1.0.3 suite checks the LRS refuses its absence; 2.0
    /// leaves creation free.
    pub fn requires_precondition_to_create_profile(self) -> bool {
        !self.is_2_0()
    }

    /// Whether a statement `version` value is acceptable in a request of this version.
    ///
    /// 1.0.x requests accept `1.0` and `1.0.x`; 2.0 requests also accept `2.0` and `2.0.x`
    /// (1.0.x statements are valid 2.0 content, never down-converted).
    pub fn accepts_statement_version(self, value: &str) -> bool {
        match split_version(value) {
            Some(((1, 0), _)) => true,
            Some(((2, 0), _)) => self.is_2_0(),
            _ => false,
        }
    }
}

impl fmt::Display for XapiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Splits `M.m` or `M.m.p` (digits only, no leading `+`, no pre-release suffix).
fn split_version(value: &str) -> Option<((u32, u32), Option<u32>)> {
    let parts: Vec<&str> = value.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 9)
    {
        return None;
    }
    let number = |s: &str| s.parse::<u32>().ok();
    Some((
        (number(parts[0])?, number(parts[1])?),
        parts.get(2).and_then(|p| number(p)),
    ))
}

/// The body of `GET /about`: the versions list, plus any extensions the server adds.
pub fn about_document(extensions: Option<Value>) -> Value {
    let versions: Vec<&str> = XapiVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
    match extensions {
        Some(extensions) => json!({ "version": versions, "extensions": extensions }),
        None => json!({ "version": versions }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let parse = |s: &str| XapiVersion::parse_header(s).map_err(|e| e.code);
        assert_eq!(parse("1.0"), Ok(XapiVersion::V1_0_0));
        assert_eq!(parse("1.0.0"), Ok(XapiVersion::V1_0_0));
        assert_eq!(parse("1.0.1"), Ok(XapiVersion::V1_0_1));
        assert_eq!(parse("1.0.2"), Ok(XapiVersion::V1_0_2));
        assert_eq!(parse("1.0.3"), Ok(XapiVersion::V1_0_3));
        assert_eq!(parse("1.0.9"), Ok(XapiVersion::V1_0_3));
        assert_eq!(parse(" 2.0.0 "), Ok(XapiVersion::V2_0_0));
        assert_eq!(parse("2.0"), Ok(XapiVersion::V2_0_0));
        for bad in [
            "",
            "0.95",
            "0.9.9",
            "1.1.0",
            "1",
            "3.0.0",
            "1.0.3-rc1",
            "v1.0.3",
            "1..0",
        ] {
            assert_eq!(parse(bad), Err(ErrorCode::InvalidVersion), "{bad}");
        }
    }

    #[test]
    fn statement_versions() {
        let v1 = XapiVersion::V1_0_3;
        let v2 = XapiVersion::V2_0_0;
        assert!(v1.accepts_statement_version("1.0"));
        assert!(v1.accepts_statement_version("1.0.9"));
        assert!(!v1.accepts_statement_version("2.0.0"));
        assert!(!v1.accepts_statement_version("1.1.0"));
        assert!(!v1.accepts_statement_version("0.9.9"));
        assert!(v2.accepts_statement_version("2.0.0"));
        assert!(v2.accepts_statement_version("1.0.3"));
        assert!(!v2.accepts_statement_version("should fail"));
    }

    #[test]
    fn about() {
        assert_eq!(
            about_document(None).to_string(),
            r#"{"version":["2.0.0","1.0.3","1.0.2","1.0.1","1.0.0"]}"#
        );
    }
}
