//! Validation errors: a stable code, a human message and the JSON path of the offending value.

use std::fmt;

/// The stable, machine-readable reason a statement or parameter was rejected.
///
/// The string form ([`ErrorCode::as_str`]) is part of the LRS's public API: clients and tests
/// match on it, so a variant's string never changes once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not JSON.
    InvalidJson,
    /// A JSON object repeats a key.
    DuplicateKey,
    /// A value has the wrong JSON type (string for number, object for string, …).
    WrongType,
    /// A `null` where the spec does not allow one (anywhere outside extension values).
    NullValue,
    /// A key the spec does not define at this place, including keys of the wrong case.
    UnknownProperty,
    /// A required property is absent.
    MissingProperty,
    /// A property that is not allowed in this combination (e.g. `revision` with an Agent object).
    PropertyNotAllowed,
    /// Not a UUID in canonical string form.
    InvalidUuid,
    /// Not an absolute IRI (RFC 3987).
    InvalidIri,
    /// Not a `mailto:` IRI with an address.
    InvalidMbox,
    /// `mbox_sha1sum` is not 40 hex digits.
    InvalidSha1sum,
    /// `sha2` is not a hex SHA-2 digest (224, 256, 384 or 512 bits).
    InvalidSha2,
    /// Not a well-formed RFC 5646 language tag.
    InvalidLanguageTag,
    /// Not an acceptable ISO 8601 / RFC 3339 timestamp.
    InvalidTimestamp,
    /// Not an ISO 8601 duration (section 4.4.3.2 format).
    InvalidDuration,
    /// A statement `version` (or version header) the LRS does not accept.
    InvalidVersion,
    /// `objectType` is not one of the values allowed at this place.
    InvalidObjectType,
    /// `interactionType` is not one of the ten interaction types (exact case).
    InvalidInteractionType,
    /// An Agent has zero or several inverse functional identifiers.
    InvalidIfiCount,
    /// An anonymous Group has no members.
    AnonymousGroupWithoutMembers,
    /// A Group member is not an Agent.
    GroupMemberNotAgent,
    /// `authority` is a Group that is not an anonymous Group of exactly two Agents.
    InvalidAuthorityGroup,
    /// `score.scaled` outside −1..1, `raw` outside min..max, or `min` ≥ `max`.
    ScoreOutOfRange,
    /// An interaction component list (choices/scale/source/target/steps) that the interaction type does not allow.
    InteractionComponentNotAllowed,
    /// Two interaction components in one list share an id.
    DuplicateComponentId,
    /// A SubStatement carries `id`, `stored`, `version` or `authority`.
    SubStatementPropertyNotAllowed,
    /// A SubStatement inside a SubStatement.
    NestedSubStatement,
    /// An array that must not be empty is empty.
    EmptyArray,
    /// A negative or fractional attachment `length`.
    InvalidLength,
    /// A voiding statement whose object is not a StatementRef.
    InvalidVoidingObject,
    /// Two statements in one batch use the same id.
    DuplicateStatementId,
    /// `contentType` is not an Internet Media Type.
    InvalidContentType,
    /// An unknown query or document parameter, or one in the wrong case.
    UnknownParameter,
    /// A parameter value that is malformed (limit, boolean, format, …).
    InvalidParameter,
    /// Two parameters that cannot be used together.
    ConflictingParameters,
    /// A required parameter is missing.
    MissingParameter,
    /// A signed statement whose signature is malformed or does not match the statement.
    InvalidSignature,
}

impl ErrorCode {
    /// Returns the snake_case wire name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::WrongType => "wrong_type",
            ErrorCode::NullValue => "null_value",
            ErrorCode::UnknownProperty => "unknown_property",
            ErrorCode::MissingProperty => "missing_property",
            ErrorCode::PropertyNotAllowed => "property_not_allowed",
            ErrorCode::InvalidUuid => "invalid_uuid",
            ErrorCode::InvalidIri => "invalid_iri",
            ErrorCode::InvalidMbox => "invalid_mbox",
            ErrorCode::InvalidSha1sum => "invalid_sha1sum",
            ErrorCode::InvalidSha2 => "invalid_sha2",
            ErrorCode::InvalidLanguageTag => "invalid_language_tag",
            ErrorCode::InvalidTimestamp => "invalid_timestamp",
            ErrorCode::InvalidDuration => "invalid_duration",
            ErrorCode::InvalidVersion => "invalid_version",
            ErrorCode::InvalidObjectType => "invalid_object_type",
            ErrorCode::InvalidInteractionType => "invalid_interaction_type",
            ErrorCode::InvalidIfiCount => "invalid_ifi_count",
            ErrorCode::AnonymousGroupWithoutMembers => "anonymous_group_without_members",
            ErrorCode::GroupMemberNotAgent => "group_member_not_agent",
            ErrorCode::InvalidAuthorityGroup => "invalid_authority_group",
            ErrorCode::ScoreOutOfRange => "score_out_of_range",
            ErrorCode::InteractionComponentNotAllowed => "interaction_component_not_allowed",
            ErrorCode::DuplicateComponentId => "duplicate_component_id",
            ErrorCode::SubStatementPropertyNotAllowed => "substatement_property_not_allowed",
            ErrorCode::NestedSubStatement => "nested_substatement",
            ErrorCode::EmptyArray => "empty_array",
            ErrorCode::InvalidLength => "invalid_length",
            ErrorCode::InvalidVoidingObject => "invalid_voiding_object",
            ErrorCode::DuplicateStatementId => "duplicate_statement_id",
            ErrorCode::InvalidContentType => "invalid_content_type",
            ErrorCode::UnknownParameter => "unknown_parameter",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::ConflictingParameters => "conflicting_parameters",
            ErrorCode::MissingParameter => "missing_parameter",
            ErrorCode::InvalidSignature => "invalid_signature",
        }
    }

    /// Every code, for documentation and exhaustiveness tests.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::DuplicateKey,
        ErrorCode::WrongType,
        ErrorCode::NullValue,
        ErrorCode::UnknownProperty,
        ErrorCode::MissingProperty,
        ErrorCode::PropertyNotAllowed,
        ErrorCode::InvalidUuid,
        ErrorCode::InvalidIri,
        ErrorCode::InvalidMbox,
        ErrorCode::InvalidSha1sum,
        ErrorCode::InvalidSha2,
        ErrorCode::InvalidLanguageTag,
        ErrorCode::InvalidTimestamp,
        ErrorCode::InvalidDuration,
        ErrorCode::InvalidVersion,
        ErrorCode::InvalidObjectType,
        ErrorCode::InvalidInteractionType,
        ErrorCode::InvalidIfiCount,
        ErrorCode::AnonymousGroupWithoutMembers,
        ErrorCode::GroupMemberNotAgent,
        ErrorCode::InvalidAuthorityGroup,
        ErrorCode::ScoreOutOfRange,
        ErrorCode::InteractionComponentNotAllowed,
        ErrorCode::DuplicateComponentId,
        ErrorCode::SubStatementPropertyNotAllowed,
        ErrorCode::NestedSubStatement,
        ErrorCode::EmptyArray,
        ErrorCode::InvalidLength,
        ErrorCode::InvalidVoidingObject,
        ErrorCode::DuplicateStatementId,
        ErrorCode::InvalidContentType,
        ErrorCode::UnknownParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::ConflictingParameters,
        ErrorCode::MissingParameter,
        ErrorCode::InvalidSignature,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a statement, document or parameter was rejected (always HTTP 400 Bad Request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} at {path}: {message}")]
pub struct XapiError {
    /// The stable code.
    pub code: ErrorCode,
    /// A lowercase human explanation.
    pub message: String,
    /// A JSON path into the offending document (`$.context.instructor.mbox`), or the
    /// parameter name for request parameters (`agent`, `since`).
    pub path: String,
}

impl XapiError {
    /// Creates an error.
    pub fn new(code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> XapiError {
        XapiError {
            code,
            message: message.into(),
            path: path.into(),
        }
    }
}

/// All the problems found in one statement (or batch), in document order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} (and {} more)", .errors[0], .errors.len() - 1)]
pub struct ValidationErrors {
    /// The individual errors; the first is the one to show when only one fits.
    pub errors: Vec<XapiError>,
}

impl ValidationErrors {
    /// The first error.
    pub fn first(&self) -> &XapiError {
        &self.errors[0]
    }

    /// Whether some error has `code` at `path`.
    pub fn contains(&self, code: ErrorCode, path: &str) -> bool {
        self.errors.iter().any(|e| e.code == code && e.path == path)
    }
}

impl From<XapiError> for ValidationErrors {
    fn from(error: XapiError) -> Self {
        ValidationErrors {
            errors: vec![error],
        }
    }
}
