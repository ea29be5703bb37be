//! Why a run-time API call is refused, and the code each version reports.
//!
//! [`CmiError`] names the rule that was broken, independent of version;
//! [`CmiError::code`] is the one place that turns a rule into the number the
//! SCO reads back through `GetLastError()`. SCORM 1.2 has far fewer codes
//! than SCORM 2004, so several rules share a 1.2 code.

use serde::Serialize;

use super::{ApiFamily, ScormVersion};

/// A rule of the run-time API or data model that a call broke.
///
/// The variants are fieldless so that the browser runtime can be given the
/// same list ([`CmiError::ALL`] and their codes); the element and value
/// involved are kept in the session's diagnostic text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
pub enum CmiError {
    /// Something failed outside the data model's rules; the browser runtime
    /// reports an exception caught in its own code this way.
    #[error("the runtime failed unexpectedly")]
    General,
    /// `Initialize` while the session is running.
    #[error("the session is already initialized")]
    AlreadyInitialized,
    /// `Initialize` after `Terminate`: a content instance is initialized once.
    #[error("the content instance is terminated")]
    InitializeAfterTerminate,
    /// The host could not start the session.
    #[error("the host could not initialize the session")]
    InitializationFailed,
    /// The host could not end the session (it could not persist the data).
    #[error("the host could not terminate the session")]
    TerminationFailed,
    /// `Terminate` before `Initialize`.
    #[error("terminate called before initialize")]
    TerminateBeforeInitialize,
    /// `Terminate` after `Terminate`.
    #[error("terminate called after terminate")]
    TerminateAfterTerminate,
    /// `GetValue` before `Initialize`.
    #[error("get value called before initialize")]
    GetBeforeInitialize,
    /// `GetValue` after `Terminate`.
    #[error("get value called after terminate")]
    GetAfterTerminate,
    /// `SetValue` before `Initialize`.
    #[error("set value called before initialize")]
    SetBeforeInitialize,
    /// `SetValue` after `Terminate`.
    #[error("set value called after terminate")]
    SetAfterTerminate,
    /// `Commit` before `Initialize`.
    #[error("commit called before initialize")]
    CommitBeforeInitialize,
    /// `Commit` after `Terminate`.
    #[error("commit called after terminate")]
    CommitAfterTerminate,
    /// The host could not persist the data on `Commit`.
    #[error("the host could not commit the data")]
    CommitFailed,
    /// `Initialize`, `Terminate` or `Commit` was given something other than `""`.
    #[error("the argument must be an empty string")]
    NonEmptyArgument,
    /// `GetValue("")`.
    #[error("no element was named")]
    GetWithoutElement,
    /// `SetValue("", …)`.
    #[error("no element was named")]
    SetWithoutElement,
    /// The name is not a data model element (SCORM 1.2: not even its category
    /// is known, e.g. `cmi.bogus.x`).
    #[error("the element is not defined by the data model")]
    UndefinedElement,
    /// SCORM 1.2: the category is known but the element inside it is not
    /// (`cmi.core.bogus`), or the name stops at a category (`cmi.core`).
    #[error("the element is not defined in its category")]
    UnknownChild,
    /// `X._children` where X has no `_children` keyword.
    #[error("the element has no children")]
    NoChildren,
    /// `X._count` where X is not a collection.
    #[error("the element is not a collection and has no count")]
    NoCount,
    /// `X._version` where X is not `cmi`.
    #[error("only cmi has a version")]
    NoVersion,
    /// `SetValue` on `_children`, `_count` or `_version`.
    #[error("keywords are read only")]
    KeywordIsReadOnly,
    /// `SetValue` on a read-only element.
    #[error("the element is read only")]
    ReadOnly,
    /// `GetValue` on a write-only element.
    #[error("the element is write only")]
    WriteOnly,
    /// The element is defined but this host does not implement it. No element
    /// of either data model is left unimplemented; the code exists for the
    /// mapping to be complete.
    #[error("the element is not implemented")]
    NotImplemented,
    /// `GetValue` on an element that has no value yet and no default.
    #[error("the element has no value yet")]
    NotInitialized,
    /// The value does not have the element's format or vocabulary.
    #[error("the value does not have the element's type")]
    TypeMismatch,
    /// The value is a number outside the element's range.
    #[error("the value is out of range")]
    OutOfRange,
    /// `SetValue` on an element whose prerequisite (an `id` or a `type`) is
    /// not set yet.
    #[error("a prerequisite element is not set")]
    DependencyNotEstablished,
    /// `GetValue` on a record at or beyond `_count`.
    #[error("the index is beyond the collection's count")]
    IndexOutOfRange,
    /// `SetValue` on a record beyond `_count` (records are appended at `_count`).
    #[error("the index skips records")]
    IndexOutOfOrder,
    /// An identifier or pattern that must be unique in its collection is not.
    #[error("the value is not unique")]
    NotUnique,
    /// `cmi.objectives.n.id` may be set once; a different value was sent.
    #[error("the identifier is already set to another value")]
    IdentifierOverwrite,
    /// A collection that allows one record (the correct response of a
    /// true-false, likert, numeric or other interaction) already has it.
    #[error("the collection is full")]
    CollectionFull,
    /// The SCO may not append to this collection (`adl.data`).
    #[error("the collection cannot be appended to")]
    NotAppendable,
    /// `adl.nav.request_valid.choice` or `.jump` without a valid `{target=…}`.
    #[error("the request needs a target")]
    MissingTarget,
    /// The value is longer than the host's configured limit for the element.
    #[error("the value is longer than the host allows")]
    ValueTooLong,
    /// The collection already holds as many records as the host allows.
    #[error("the collection holds as many records as the host allows")]
    TooManyRecords,
}

impl CmiError {
    /// Every rule, in a stable order.
    pub const ALL: [CmiError; 39] = [
        CmiError::General,
        CmiError::AlreadyInitialized,
        CmiError::InitializeAfterTerminate,
        CmiError::InitializationFailed,
        CmiError::TerminationFailed,
        CmiError::TerminateBeforeInitialize,
        CmiError::TerminateAfterTerminate,
        CmiError::GetBeforeInitialize,
        CmiError::GetAfterTerminate,
        CmiError::SetBeforeInitialize,
        CmiError::SetAfterTerminate,
        CmiError::CommitBeforeInitialize,
        CmiError::CommitAfterTerminate,
        CmiError::CommitFailed,
        CmiError::NonEmptyArgument,
        CmiError::GetWithoutElement,
        CmiError::SetWithoutElement,
        CmiError::UndefinedElement,
        CmiError::UnknownChild,
        CmiError::NoChildren,
        CmiError::NoCount,
        CmiError::NoVersion,
        CmiError::KeywordIsReadOnly,
        CmiError::ReadOnly,
        CmiError::WriteOnly,
        CmiError::NotImplemented,
        CmiError::NotInitialized,
        CmiError::TypeMismatch,
        CmiError::OutOfRange,
        CmiError::DependencyNotEstablished,
        CmiError::IndexOutOfRange,
        CmiError::IndexOutOfOrder,
        CmiError::NotUnique,
        CmiError::IdentifierOverwrite,
        CmiError::CollectionFull,
        CmiError::NotAppendable,
        CmiError::MissingTarget,
        CmiError::ValueTooLong,
        CmiError::TooManyRecords,
    ];

    /// Returns the code the SCO reads back through `GetLastError()`.
    ///
    /// SCORM 1.2 has no codes for the call-order errors of SCORM 2004: a call
    /// before `LMSInitialize` is 301 and a call after `LMSFinish` is 101. It
    /// has no out-of-range code either: a number outside its range is 405.
    pub fn code(self, version: ScormVersion) -> u16 {
        match (self, version.family()) {
            (CmiError::General, ApiFamily::Scorm12) => 101,
            (CmiError::General, ApiFamily::Scorm2004) => 101,
            (CmiError::AlreadyInitialized, ApiFamily::Scorm12) => 101,
            (CmiError::AlreadyInitialized, ApiFamily::Scorm2004) => 103,
            (CmiError::InitializeAfterTerminate, ApiFamily::Scorm12) => 101,
            (CmiError::InitializeAfterTerminate, ApiFamily::Scorm2004) => 104,
            (CmiError::InitializationFailed, ApiFamily::Scorm12) => 101,
            (CmiError::InitializationFailed, ApiFamily::Scorm2004) => 102,
            (CmiError::TerminationFailed, ApiFamily::Scorm12) => 101,
            (CmiError::TerminationFailed, ApiFamily::Scorm2004) => 111,
            (CmiError::TerminateBeforeInitialize, ApiFamily::Scorm12) => 301,
            (CmiError::TerminateBeforeInitialize, ApiFamily::Scorm2004) => 112,
            (CmiError::TerminateAfterTerminate, ApiFamily::Scorm12) => 101,
            (CmiError::TerminateAfterTerminate, ApiFamily::Scorm2004) => 113,
            (CmiError::GetBeforeInitialize, ApiFamily::Scorm12) => 301,
            (CmiError::GetBeforeInitialize, ApiFamily::Scorm2004) => 122,
            (CmiError::GetAfterTerminate, ApiFamily::Scorm12) => 101,
            (CmiError::GetAfterTerminate, ApiFamily::Scorm2004) => 123,
            (CmiError::SetBeforeInitialize, ApiFamily::Scorm12) => 301,
            (CmiError::SetBeforeInitialize, ApiFamily::Scorm2004) => 132,
            (CmiError::SetAfterTerminate, ApiFamily::Scorm12) => 101,
            (CmiError::SetAfterTerminate, ApiFamily::Scorm2004) => 133,
            (CmiError::CommitBeforeInitialize, ApiFamily::Scorm12) => 301,
            (CmiError::CommitBeforeInitialize, ApiFamily::Scorm2004) => 142,
            (CmiError::CommitAfterTerminate, ApiFamily::Scorm12) => 101,
            (CmiError::CommitAfterTerminate, ApiFamily::Scorm2004) => 143,
            (CmiError::CommitFailed, ApiFamily::Scorm12) => 101,
            (CmiError::CommitFailed, ApiFamily::Scorm2004) => 391,
            (CmiError::NonEmptyArgument, ApiFamily::Scorm12) => 201,
            (CmiError::NonEmptyArgument, ApiFamily::Scorm2004) => 201,
            (CmiError::GetWithoutElement, ApiFamily::Scorm12) => 201,
            (CmiError::GetWithoutElement, ApiFamily::Scorm2004) => 301,
            (CmiError::SetWithoutElement, ApiFamily::Scorm12) => 201,
            (CmiError::SetWithoutElement, ApiFamily::Scorm2004) => 351,
            (CmiError::UndefinedElement, ApiFamily::Scorm12) => 401,
            (CmiError::UndefinedElement, ApiFamily::Scorm2004) => 401,
            (CmiError::UnknownChild, ApiFamily::Scorm12) => 201,
            (CmiError::UnknownChild, ApiFamily::Scorm2004) => 401,
            (CmiError::NoChildren, ApiFamily::Scorm12) => 202,
            (CmiError::NoChildren, ApiFamily::Scorm2004) => 301,
            (CmiError::NoCount, ApiFamily::Scorm12) => 203,
            (CmiError::NoCount, ApiFamily::Scorm2004) => 301,
            (CmiError::NoVersion, ApiFamily::Scorm12) => 201,
            (CmiError::NoVersion, ApiFamily::Scorm2004) => 301,
            (CmiError::KeywordIsReadOnly, ApiFamily::Scorm12) => 402,
            (CmiError::KeywordIsReadOnly, ApiFamily::Scorm2004) => 404,
            (CmiError::ReadOnly, ApiFamily::Scorm12) => 403,
            (CmiError::ReadOnly, ApiFamily::Scorm2004) => 404,
            (CmiError::WriteOnly, ApiFamily::Scorm12) => 404,
            (CmiError::WriteOnly, ApiFamily::Scorm2004) => 405,
            (CmiError::NotImplemented, ApiFamily::Scorm12) => 401,
            (CmiError::NotImplemented, ApiFamily::Scorm2004) => 402,
            // SCORM 1.2 elements all start with a value, so this never
            // happens there; 101 rather than 301, which means "LMS not
            // initialized" in SCORM 1.2.
            (CmiError::NotInitialized, ApiFamily::Scorm12) => 101,
            (CmiError::NotInitialized, ApiFamily::Scorm2004) => 403,
            (CmiError::TypeMismatch, ApiFamily::Scorm12) => 405,
            (CmiError::TypeMismatch, ApiFamily::Scorm2004) => 406,
            (CmiError::OutOfRange, ApiFamily::Scorm12) => 405,
            (CmiError::OutOfRange, ApiFamily::Scorm2004) => 407,
            // SCORM 1.2 has no dependencies between elements; ADL's mapping.
            (CmiError::DependencyNotEstablished, ApiFamily::Scorm12) => 405,
            (CmiError::DependencyNotEstablished, ApiFamily::Scorm2004) => 408,
            (CmiError::IndexOutOfRange, ApiFamily::Scorm12) => 101,
            (CmiError::IndexOutOfRange, ApiFamily::Scorm2004) => 301,
            (CmiError::IndexOutOfOrder, ApiFamily::Scorm12) => 101,
            (CmiError::IndexOutOfOrder, ApiFamily::Scorm2004) => 351,
            (CmiError::NotUnique, ApiFamily::Scorm12) => 101,
            (CmiError::NotUnique, ApiFamily::Scorm2004) => 351,
            (CmiError::IdentifierOverwrite, ApiFamily::Scorm12) => 101,
            (CmiError::IdentifierOverwrite, ApiFamily::Scorm2004) => 351,
            (CmiError::CollectionFull, ApiFamily::Scorm12) => 405,
            (CmiError::CollectionFull, ApiFamily::Scorm2004) => 351,
            (CmiError::NotAppendable, ApiFamily::Scorm12) => 101,
            (CmiError::NotAppendable, ApiFamily::Scorm2004) => 351,
            (CmiError::MissingTarget, ApiFamily::Scorm12) => 201,
            (CmiError::MissingTarget, ApiFamily::Scorm2004) => 301,
            (CmiError::ValueTooLong, ApiFamily::Scorm12) => 405,
            (CmiError::ValueTooLong, ApiFamily::Scorm2004) => 351,
            (CmiError::TooManyRecords, ApiFamily::Scorm12) => 101,
            (CmiError::TooManyRecords, ApiFamily::Scorm2004) => 351,
        }
    }

    /// The variant's name, as the browser runtime's tables spell it.
    pub fn name(self) -> &'static str {
        match self {
            CmiError::General => "General",
            CmiError::AlreadyInitialized => "AlreadyInitialized",
            CmiError::InitializeAfterTerminate => "InitializeAfterTerminate",
            CmiError::InitializationFailed => "InitializationFailed",
            CmiError::TerminationFailed => "TerminationFailed",
            CmiError::TerminateBeforeInitialize => "TerminateBeforeInitialize",
            CmiError::TerminateAfterTerminate => "TerminateAfterTerminate",
            CmiError::GetBeforeInitialize => "GetBeforeInitialize",
            CmiError::GetAfterTerminate => "GetAfterTerminate",
            CmiError::SetBeforeInitialize => "SetBeforeInitialize",
            CmiError::SetAfterTerminate => "SetAfterTerminate",
            CmiError::CommitBeforeInitialize => "CommitBeforeInitialize",
            CmiError::CommitAfterTerminate => "CommitAfterTerminate",
            CmiError::CommitFailed => "CommitFailed",
            CmiError::NonEmptyArgument => "NonEmptyArgument",
            CmiError::GetWithoutElement => "GetWithoutElement",
            CmiError::SetWithoutElement => "SetWithoutElement",
            CmiError::UndefinedElement => "UndefinedElement",
            CmiError::UnknownChild => "UnknownChild",
            CmiError::NoChildren => "NoChildren",
            CmiError::NoCount => "NoCount",
            CmiError::NoVersion => "NoVersion",
            CmiError::KeywordIsReadOnly => "KeywordIsReadOnly",
            CmiError::ReadOnly => "ReadOnly",
            CmiError::WriteOnly => "WriteOnly",
            CmiError::NotImplemented => "NotImplemented",
            CmiError::NotInitialized => "NotInitialized",
            CmiError::TypeMismatch => "TypeMismatch",
            CmiError::OutOfRange => "OutOfRange",
            CmiError::DependencyNotEstablished => "DependencyNotEstablished",
            CmiError::IndexOutOfRange => "IndexOutOfRange",
            CmiError::IndexOutOfOrder => "IndexOutOfOrder",
            CmiError::NotUnique => "NotUnique",
            CmiError::IdentifierOverwrite => "IdentifierOverwrite",
            CmiError::CollectionFull => "CollectionFull",
            CmiError::NotAppendable => "NotAppendable",
            CmiError::MissingTarget => "MissingTarget",
            CmiError::ValueTooLong => "ValueTooLong",
            CmiError::TooManyRecords => "TooManyRecords",
        }
    }
}

/// The SCORM 1.2 error codes and their `LMSGetErrorString` texts (RTE 1.2 §3.3).
pub const SCORM12_ERROR_STRINGS: [(u16, &str); 11] = [
    (0, "No error"),
    (101, "General exception"),
    (201, "Invalid argument error"),
    (202, "Element cannot have children"),
    (203, "Element not an array - cannot have count"),
    (301, "Not initialized"),
    (401, "Not implemented error"),
    (402, "Invalid set value, element is a keyword"),
    (403, "Element is read only"),
    (404, "Element is write only"),
    (405, "Incorrect data type"),
];

/// The SCORM 2004 error codes and their `GetErrorString` texts (RTE 4th ed. §3.1.7).
pub const SCORM2004_ERROR_STRINGS: [(u16, &str); 26] = [
    (0, "No Error"),
    (101, "General Exception"),
    (102, "General Initialization Failure"),
    (103, "Already Initialized"),
    (104, "Content Instance Terminated"),
    (111, "General Termination Failure"),
    (112, "Termination Before Initialization"),
    (113, "Termination After Termination"),
    (122, "Retrieve Data Before Initialization"),
    (123, "Retrieve Data After Termination"),
    (132, "Store Data Before Initialization"),
    (133, "Store Data After Termination"),
    (142, "Commit Before Initialization"),
    (143, "Commit After Termination"),
    (201, "General Argument Error"),
    (301, "General Get Failure"),
    (351, "General Set Failure"),
    (391, "General Commit Failure"),
    (401, "Undefined Data Model Element"),
    (402, "Unimplemented Data Model Element"),
    (403, "Data Model Element Value Not Initialized"),
    (404, "Data Model Element Is Read Only"),
    (405, "Data Model Element Is Write Only"),
    (406, "Data Model Element Type Mismatch"),
    (407, "Data Model Element Value Out Of Range"),
    (408, "Data Model Dependency Not Established"),
];

/// The codes of a version with their `GetErrorString` texts.
pub fn error_strings(version: ScormVersion) -> &'static [(u16, &'static str)] {
    match version.family() {
        ApiFamily::Scorm12 => &SCORM12_ERROR_STRINGS,
        ApiFamily::Scorm2004 => &SCORM2004_ERROR_STRINGS,
    }
}

/// Returns what `GetErrorString(code)` answers: the text of a code of this
/// version, or `""` for anything else (including `""`, `"001"` and codes of
/// the other version). The code must be written exactly as `GetLastError`
/// writes it.
pub fn error_string(version: ScormVersion, code: &str) -> &'static str {
    error_strings(version)
        .iter()
        .find(|(known, _)| known.to_string() == code)
        .map_or("", |(_, text)| text)
}

/// Why a launch context cannot start a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// A launch value does not have the type of the element it feeds.
    #[error("launch value for {element} is invalid: {value:?}")]
    InvalidValue {
        /// The element the value is for.
        element: String,
        /// The value as given.
        value: String,
    },
    /// Two manifest objectives or shared data buckets have the same id.
    #[error("duplicate identifier {id:?} for {element}")]
    DuplicateId {
        /// The collection the id is for.
        element: String,
        /// The repeated id.
        id: String,
    },
    /// A preference was given for an element that is not a learner preference.
    #[error("unknown learner preference {0:?}")]
    UnknownPreference(String),
    /// The prior data was written for another version.
    #[error("prior data is for scorm {found}, the package is scorm {expected}")]
    PriorVersionMismatch {
        /// The version of the package being launched.
        expected: ScormVersion,
        /// The version recorded in the prior data.
        found: ScormVersion,
    },
    /// The prior data names an element or record the data model does not have.
    #[error("prior data is inconsistent at {0}")]
    PriorData(String),
    /// A limit is below the smallest permitted maximum of the element it limits.
    #[error("limit {limit} for {element} is below the required minimum {minimum}")]
    LimitTooLow {
        /// The limited element.
        element: String,
        /// The limit as configured.
        limit: usize,
        /// The smallest permitted maximum the spec requires.
        minimum: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_each_version_is_produced_by_some_rule() {
        for version in [ScormVersion::Scorm12, ScormVersion::Scorm2004Fourth] {
            for (code, _) in error_strings(version) {
                // 0 is success; the rest must each be reachable from a rule.
                if *code == 0 {
                    continue;
                }
                assert!(
                    CmiError::ALL.iter().any(|e| e.code(version) == *code),
                    "{version}: no rule maps to {code}"
                );
            }
            for error in CmiError::ALL {
                let code = error.code(version);
                assert!(
                    error_strings(version).iter().any(|(c, _)| *c == code),
                    "{version}: {error:?} maps to unknown code {code}"
                );
            }
        }
    }

    #[test]
    fn codes_match_the_spec_tables() {
        let cases = [
            (CmiError::ReadOnly, 403, 404),
            (CmiError::WriteOnly, 404, 405),
            (CmiError::TypeMismatch, 405, 406),
            (CmiError::OutOfRange, 405, 407),
            (CmiError::KeywordIsReadOnly, 402, 404),
            (CmiError::NoChildren, 202, 301),
            (CmiError::NoCount, 203, 301),
            (CmiError::GetBeforeInitialize, 301, 122),
            (CmiError::SetAfterTerminate, 101, 133),
            (CmiError::TerminateBeforeInitialize, 301, 112),
            (CmiError::AlreadyInitialized, 101, 103),
            (CmiError::DependencyNotEstablished, 405, 408),
            (CmiError::IndexOutOfOrder, 101, 351),
            (CmiError::UnknownChild, 201, 401),
        ];
        for (error, v12, v2004) in cases {
            assert_eq!(error.code(ScormVersion::Scorm12), v12, "{error:?}");
            assert_eq!(error.code(ScormVersion::Scorm2004Third), v2004, "{error:?}");
        }
    }

    #[test]
    fn error_strings_answer_only_exact_codes() {
        let v = ScormVersion::Scorm2004Fourth;
        assert_eq!(error_string(v, "0"), "No Error");
        assert_eq!(error_string(v, "406"), "Data Model Element Type Mismatch");
        assert_eq!(error_string(v, "001"), "");
        assert_eq!(error_string(v, ""), "");
        assert_eq!(error_string(v, "202"), "");
        assert_eq!(
            error_string(ScormVersion::Scorm12, "202"),
            "Element cannot have children"
        );
        assert_eq!(error_string(ScormVersion::Scorm12, "406"), "");
    }

    #[test]
    fn names_are_distinct() {
        let mut names: Vec<_> = CmiError::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CmiError::ALL.len());
        assert_eq!(format!("{:?}", CmiError::ALL[7]), CmiError::ALL[7].name());
    }
}
