//! The SCORM run-time data models (SCORM 1.2 `cmi.*`; SCORM 2004 `cmi.*`,
//! `adl.nav.*` and `adl.data.*`) and the run-time API state machine, pure.
//!
//! # Shape
//!
//! - [`model`] holds one static table per API family: every element, its
//!   access, value type, default, dependency and uniqueness rule, plus the
//!   groups and collections that answer `_children` and `_count`. The table
//!   is the single source of truth: the validator reads it, and
//!   [`js_model`] exports it for the browser runtime.
//! - [`types`] holds the value types and the regular expressions. Every
//!   pattern is written in the common subset of Rust `regex` and ECMAScript,
//!   and the Rust validator compiles exactly the exported strings.
//! - [`time`] parses, adds and formats SCORM 1.2 `CMITimespan` and SCORM 2004
//!   ISO 8601 durations without losing a centisecond.
//! - [`session`] is the API state machine for one SCO attempt:
//!   [`RuntimeSession`] is created from a [`LaunchContext`], answers the eight
//!   API functions, records every call that changes or fails, and exposes the
//!   data to persist as [`RuntimeData`].
//! - [`error`] maps each refusal to the exact code of each version
//!   ([`CmiError::code`]) and holds the `GetErrorString` texts.
//!
//! # Invariants
//!
//! - Nothing here reads a clock, does I/O or draws random numbers; elapsed
//!   time arrives as an argument where it is needed.
//! - A value is stored exactly as the SCO sent it. Nothing is truncated: a
//!   value above a smallest permitted maximum (SPM) is accepted and flagged,
//!   and a value above a configured hard limit is refused with an error.

pub mod error;
mod js;
pub mod model;
pub mod session;
pub mod time;
pub mod types;

pub use error::{CmiError, LaunchError, error_string};
pub use js::js_model;
pub use model::{Access, Collection, Element, Group, Model};
pub use session::{
    ApiCall, CallOutcome, Credit, LaunchContext, LmsComment, Mode, NavValidity, ObjectiveSeed,
    RecordedCall, ReplayMismatch, RuntimeData, RuntimeSession, RuntimeSummary, Scorm12Policy,
    SessionState, SharedDataBucket, Tristate, UnsetStatusAtFinish,
};
pub use time::{IsoDuration, TimeError, Timespan12};

use serde::{Deserialize, Serialize};

/// The SCORM version a package was written for, including the SCORM 2004
/// edition where the editions differ.
///
/// Serialized as `"1.2"`, `"2004-2"`, `"2004-3"` and `"2004-4"`; `"2004"`
/// is accepted as the 4th edition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScormVersion {
    /// SCORM 1.2 (`window.API`, data model version `3.4`).
    #[serde(rename = "1.2")]
    Scorm12,
    /// SCORM 2004 2nd edition: `cmi.suspend_data` SPM 4,000; no `adl.data`,
    /// no `jump` navigation request.
    #[serde(rename = "2004-2")]
    Scorm2004Second,
    /// SCORM 2004 3rd edition: as the 2nd edition for this data model.
    #[serde(rename = "2004-3")]
    Scorm2004Third,
    /// SCORM 2004 4th edition: `cmi.suspend_data` SPM 64,000, `adl.data.*`
    /// shared data and `jump` navigation requests.
    #[serde(rename = "2004-4", alias = "2004")]
    Scorm2004Fourth,
}

/// The API family of a version: the two families differ in error codes,
/// function names and data model; the 2004 editions share one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiFamily {
    /// `window.API`, `LMSInitialize` … `LMSGetDiagnostic`.
    Scorm12,
    /// `window.API_1484_11`, `Initialize` … `GetDiagnostic`.
    Scorm2004,
}

impl ScormVersion {
    /// Every version, oldest first.
    pub const ALL: [ScormVersion; 4] = [
        ScormVersion::Scorm12,
        ScormVersion::Scorm2004Second,
        ScormVersion::Scorm2004Third,
        ScormVersion::Scorm2004Fourth,
    ];

    /// Returns the API family whose error codes and data model apply.
    pub fn family(self) -> ApiFamily {
        match self {
            ScormVersion::Scorm12 => ApiFamily::Scorm12,
            ScormVersion::Scorm2004Second
            | ScormVersion::Scorm2004Third
            | ScormVersion::Scorm2004Fourth => ApiFamily::Scorm2004,
        }
    }

    /// Returns the name this version has in JSON (`"1.2"`, `"2004-4"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ScormVersion::Scorm12 => "1.2",
            ScormVersion::Scorm2004Second => "2004-2",
            ScormVersion::Scorm2004Third => "2004-3",
            ScormVersion::Scorm2004Fourth => "2004-4",
        }
    }

    /// True for the SCORM 2004 4th edition, which alone defines `adl.data`
    /// and the `jump` navigation request.
    pub fn is_fourth_edition(self) -> bool {
        self == ScormVersion::Scorm2004Fourth
    }

    /// The name of the JavaScript object the content looks for.
    pub fn api_object_name(self) -> &'static str {
        match self.family() {
            ApiFamily::Scorm12 => "API",
            ApiFamily::Scorm2004 => "API_1484_11",
        }
    }

    /// The value of `cmi._version`.
    pub fn data_model_version(self) -> &'static str {
        match self.family() {
            ApiFamily::Scorm12 => "3.4",
            ApiFamily::Scorm2004 => "1.0",
        }
    }
}

impl std::fmt::Display for ScormVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
