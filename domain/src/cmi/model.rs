//! The element tables of both data models and the parser of element names.
//!
//! Names in the tables use `n` for an array index:
//! `cmi.interactions.n.objectives.n.id`. A table row is the only place an
//! element's access, type, default, dependency and uniqueness are written.

use super::error::CmiError;
use super::types::ValueType;
use super::{ApiFamily, ScormVersion};

/// What the SCO may do with an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// `GetValue` only.
    ReadOnly,
    /// `SetValue` only.
    WriteOnly,
    /// Both.
    ReadWrite,
}

impl Access {
    /// True when `GetValue` is allowed.
    pub fn readable(self) -> bool {
        self != Access::WriteOnly
    }

    /// True when `SetValue` is allowed.
    pub fn writable(self) -> bool {
        self != Access::ReadOnly
    }

    /// `"ro"`, `"wo"` or `"rw"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::ReadOnly => "ro",
            Access::WriteOnly => "wo",
            Access::ReadWrite => "rw",
        }
    }
}

/// Where an element's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// In the attempt's run-time data: set by the SCO, or kept by the LMS
    /// across sessions (`total_time`), and persisted.
    Data,
    /// Given by the launch context for each session (learner, credit, mode,
    /// manifest values, comments from the LMS); never persisted.
    Launch,
    /// Answered from the navigation validity the host supplies.
    Navigation,
    /// A shared data bucket (`adl.data`), read from and written to the
    /// buckets the host supplies.
    SharedData,
}

impl Source {
    /// The name the exported tables use.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Data => "data",
            Source::Launch => "launch",
            Source::Navigation => "navigation",
            Source::SharedData => "shared_data",
        }
    }
}

/// One element of a data model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Element {
    /// The name, `n` standing for each index.
    pub path: &'static str,
    /// What the SCO may do.
    pub access: Access,
    /// The value's type and format.
    pub ty: ValueType,
    /// The value before anything is set; `None` means `GetValue` reports
    /// "not initialized" (SCORM 2004 error 403) until it is set.
    pub default: Option<&'static str>,
    /// An element (same indices) that must hold a value before this one is
    /// set (SCORM 2004 error 408).
    pub depends_on: Option<&'static str>,
    /// No two records of the innermost collection may hold the same value.
    pub unique: bool,
    /// Once set, the value may only be set again to the same value.
    pub write_once: bool,
    /// Exists only in SCORM 2004 4th edition.
    pub fourth_edition_only: bool,
    /// Where the value lives.
    pub source: Source,
}

/// An element with children that is not an array (`cmi.core`, `cmi.score`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The name, `n` standing for each index.
    pub path: &'static str,
    /// The answer to `_children`; `None` when the data model defines no
    /// `_children` for it.
    pub children: Option<&'static str>,
    /// Exists only in SCORM 2004 4th edition.
    pub fourth_edition_only: bool,
}

/// An array of records (`cmi.objectives`), which answers `_count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// The name, `n` standing for each outer index.
    pub path: &'static str,
    /// The answer to `_children`; `None` when the data model defines no
    /// `_children` for it.
    pub children: Option<&'static str>,
    /// The smallest permitted maximum number of records (for correct
    /// responses, see [`super::types::InteractionType::format`]).
    pub spm: usize,
    /// Where the records live.
    pub source: Source,
    /// Exists only in SCORM 2004 4th edition.
    pub fourth_edition_only: bool,
}

/// One data model: the elements, groups and collections of an API family.
#[derive(Debug)]
pub struct Model {
    /// The family the model belongs to.
    pub family: ApiFamily,
    /// Every element.
    pub elements: &'static [Element],
    /// Every group.
    pub groups: &'static [Group],
    /// Every collection.
    pub collections: &'static [Collection],
}

const fn el(
    path: &'static str,
    access: Access,
    ty: ValueType,
    default: Option<&'static str>,
) -> Element {
    Element {
        path,
        access,
        ty,
        default,
        depends_on: None,
        unique: false,
        write_once: false,
        fourth_edition_only: false,
        source: Source::Data,
    }
}

const fn launch(path: &'static str, ty: ValueType, default: Option<&'static str>) -> Element {
    Element {
        source: Source::Launch,
        ..el(path, Access::ReadOnly, ty, default)
    }
}

const fn after(element: Element, depends_on: &'static str) -> Element {
    Element {
        depends_on: Some(depends_on),
        ..element
    }
}

const fn group(path: &'static str, children: Option<&'static str>) -> Group {
    Group {
        path,
        children,
        fourth_edition_only: false,
    }
}

const fn collection(path: &'static str, children: Option<&'static str>, spm: usize) -> Collection {
    Collection {
        path,
        children,
        spm,
        source: Source::Data,
        fourth_edition_only: false,
    }
}

use Access::{ReadOnly as RO, ReadWrite as RW, WriteOnly as WO};

/// `cmi.core.lesson_status` values a SCO may set (`not attempted` is refused).
pub const LESSON_STATUS_SET: &[&str] = &["passed", "completed", "failed", "incomplete", "browsed"];
/// `cmi.core.lesson_status` and `cmi.objectives.n.status` values.
pub const LESSON_STATUS: &[&str] = &[
    "passed",
    "completed",
    "failed",
    "incomplete",
    "browsed",
    "not attempted",
];
/// `credit` values.
pub const CREDIT: &[&str] = &["credit", "no-credit"];
/// `entry` values.
pub const ENTRY: &[&str] = &["ab-initio", "resume", ""];
/// `lesson_mode` / `mode` values.
pub const MODE: &[&str] = &["normal", "review", "browse"];
/// SCORM 1.2 `cmi.core.exit` values.
pub const EXIT_12: &[&str] = &["time-out", "suspend", "logout", ""];
/// SCORM 2004 `cmi.exit` values.
pub const EXIT_2004: &[&str] = &["time-out", "suspend", "logout", "normal", ""];
/// `time_limit_action` values.
pub const TIME_LIMIT_ACTION: &[&str] = &[
    "exit,message",
    "exit,no message",
    "continue,message",
    "continue,no message",
];
/// SCORM 1.2 interaction types.
pub const INTERACTION_TYPE_12: &[&str] = &[
    "true-false",
    "choice",
    "fill-in",
    "matching",
    "performance",
    "sequencing",
    "likert",
    "numeric",
];
/// SCORM 2004 interaction types.
pub const INTERACTION_TYPE_2004: &[&str] = &[
    "true-false",
    "choice",
    "fill-in",
    "long-fill-in",
    "likert",
    "matching",
    "performance",
    "sequencing",
    "numeric",
    "other",
];
/// SCORM 2004 `completion_status` values.
pub const COMPLETION_STATUS: &[&str] = &["completed", "incomplete", "not attempted", "unknown"];
/// SCORM 2004 `success_status` values.
pub const SUCCESS_STATUS: &[&str] = &["passed", "failed", "unknown"];
/// `audio_captioning` values.
pub const AUDIO_CAPTIONING: &[&str] = &["-1", "0", "1"];
/// `adl.nav.request_valid.*` values.
pub const NAV_VALIDITY: &[&str] = &["true", "false", "unknown"];

const STRING255: ValueType = ValueType::String12 { max: 255 };
const STRING4096: ValueType = ValueType::String12 { max: 4096 };

const SCORM12_ELEMENTS: &[Element] = &[
    launch("cmi.core.student_id", ValueType::Identifier12, None),
    launch("cmi.core.student_name", STRING255, None),
    el("cmi.core.lesson_location", RW, STRING255, Some("")),
    launch(
        "cmi.core.credit",
        ValueType::Vocabulary(CREDIT),
        Some("credit"),
    ),
    el(
        "cmi.core.lesson_status",
        RW,
        ValueType::Vocabulary(LESSON_STATUS_SET),
        Some("not attempted"),
    ),
    launch(
        "cmi.core.entry",
        ValueType::Vocabulary(ENTRY),
        Some("ab-initio"),
    ),
    el("cmi.core.score.raw", RW, ValueType::Score12, Some("")),
    el("cmi.core.score.min", RW, ValueType::Score12, Some("")),
    el("cmi.core.score.max", RW, ValueType::Score12, Some("")),
    el(
        "cmi.core.total_time",
        RO,
        ValueType::Timespan12,
        Some("0000:00:00.00"),
    ),
    launch(
        "cmi.core.lesson_mode",
        ValueType::Vocabulary(MODE),
        Some("normal"),
    ),
    el(
        "cmi.core.exit",
        WO,
        ValueType::Vocabulary(EXIT_12),
        Some(""),
    ),
    el("cmi.core.session_time", WO, ValueType::Timespan12, Some("")),
    el("cmi.suspend_data", RW, ValueType::SuspendData12, Some("")),
    launch("cmi.launch_data", STRING4096, Some("")),
    el("cmi.comments", RW, STRING4096, Some("")),
    launch("cmi.comments_from_lms", STRING4096, Some("")),
    el("cmi.objectives.n.id", RW, ValueType::Identifier12, Some("")),
    el(
        "cmi.objectives.n.score.raw",
        RW,
        ValueType::Score12,
        Some(""),
    ),
    el(
        "cmi.objectives.n.score.min",
        RW,
        ValueType::Score12,
        Some(""),
    ),
    el(
        "cmi.objectives.n.score.max",
        RW,
        ValueType::Score12,
        Some(""),
    ),
    el(
        "cmi.objectives.n.status",
        RW,
        ValueType::Vocabulary(LESSON_STATUS),
        Some("not attempted"),
    ),
    launch(
        "cmi.student_data.mastery_score",
        ValueType::Score12,
        Some(""),
    ),
    launch(
        "cmi.student_data.max_time_allowed",
        ValueType::Timespan12,
        Some(""),
    ),
    launch(
        "cmi.student_data.time_limit_action",
        ValueType::Vocabulary(TIME_LIMIT_ACTION),
        Some(""),
    ),
    el(
        "cmi.student_preference.audio",
        RW,
        ValueType::SignedInteger12 { min: -1, max: 100 },
        Some(""),
    ),
    el("cmi.student_preference.language", RW, STRING255, Some("")),
    el(
        "cmi.student_preference.speed",
        RW,
        ValueType::SignedInteger12 {
            min: -100,
            max: 100,
        },
        Some(""),
    ),
    el(
        "cmi.student_preference.text",
        RW,
        ValueType::SignedInteger12 { min: -1, max: 1 },
        Some(""),
    ),
    el(
        "cmi.interactions.n.id",
        WO,
        ValueType::Identifier12,
        Some(""),
    ),
    el(
        "cmi.interactions.n.objectives.n.id",
        WO,
        ValueType::Identifier12,
        Some(""),
    ),
    el("cmi.interactions.n.time", WO, ValueType::Time12, Some("")),
    el(
        "cmi.interactions.n.type",
        WO,
        ValueType::Vocabulary(INTERACTION_TYPE_12),
        Some(""),
    ),
    el(
        "cmi.interactions.n.correct_responses.n.pattern",
        WO,
        ValueType::Feedback12,
        Some(""),
    ),
    el(
        "cmi.interactions.n.weighting",
        WO,
        ValueType::Decimal12,
        Some(""),
    ),
    el(
        "cmi.interactions.n.student_response",
        WO,
        ValueType::Feedback12,
        Some(""),
    ),
    el(
        "cmi.interactions.n.result",
        WO,
        ValueType::Result12,
        Some(""),
    ),
    el(
        "cmi.interactions.n.latency",
        WO,
        ValueType::Timespan12,
        Some(""),
    ),
];

const SCORM12_GROUPS: &[Group] = &[
    group(
        "cmi",
        Some(
            "core,suspend_data,launch_data,comments,objectives,student_data,student_preference,interactions",
        ),
    ),
    group(
        "cmi.core",
        Some(
            "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,lesson_mode,exit,session_time",
        ),
    ),
    group("cmi.core.score", Some("raw,min,max")),
    group("cmi.objectives.n.score", Some("raw,min,max")),
    group(
        "cmi.student_data",
        Some("mastery_score,max_time_allowed,time_limit_action"),
    ),
    group("cmi.student_preference", Some("audio,language,speed,text")),
];

const SCORM12_COLLECTIONS: &[Collection] = &[
    collection("cmi.objectives", Some("id,score,status"), 100),
    collection(
        "cmi.interactions",
        Some("id,objectives,time,type,correct_responses,weighting,student_response,result,latency"),
        100,
    ),
    collection("cmi.interactions.n.objectives", None, 10),
    collection("cmi.interactions.n.correct_responses", None, 10),
];

/// The SCORM 1.2 data model (RTE 1.2 §3.4; the digest's table 2.4).
pub static SCORM12: Model = Model {
    family: ApiFamily::Scorm12,
    elements: SCORM12_ELEMENTS,
    groups: SCORM12_GROUPS,
    collections: SCORM12_COLLECTIONS,
};

const REAL: ValueType = ValueType::Real {
    min: None,
    max: None,
};
const REAL_0_1: ValueType = ValueType::Real {
    min: Some(0.0),
    max: Some(1.0),
};
const REAL_MINUS1_1: ValueType = ValueType::Real {
    min: Some(-1.0),
    max: Some(1.0),
};
const REAL_NON_NEGATIVE: ValueType = ValueType::Real {
    min: Some(0.0),
    max: None,
};
const LOCALIZED_4000: ValueType = ValueType::LocalizedString { spm: 4000 };
const LOCALIZED_250: ValueType = ValueType::LocalizedString { spm: 250 };

const INTERACTION_ID: &str = "cmi.interactions.n.id";
const INTERACTION_TYPE: &str = "cmi.interactions.n.type";
const OBJECTIVE_ID: &str = "cmi.objectives.n.id";

const SCORM2004_ELEMENTS: &[Element] = &[
    el(
        "cmi.comments_from_learner.n.comment",
        RW,
        LOCALIZED_4000,
        None,
    ),
    el(
        "cmi.comments_from_learner.n.location",
        RW,
        ValueType::CharacterString { spm: 250 },
        None,
    ),
    el(
        "cmi.comments_from_learner.n.timestamp",
        RW,
        ValueType::Timestamp,
        None,
    ),
    launch("cmi.comments_from_lms.n.comment", LOCALIZED_4000, None),
    launch(
        "cmi.comments_from_lms.n.location",
        ValueType::CharacterString { spm: 250 },
        None,
    ),
    launch(
        "cmi.comments_from_lms.n.timestamp",
        ValueType::Timestamp,
        None,
    ),
    el(
        "cmi.completion_status",
        RW,
        ValueType::Vocabulary(COMPLETION_STATUS),
        Some("unknown"),
    ),
    launch("cmi.completion_threshold", REAL_0_1, None),
    launch("cmi.credit", ValueType::Vocabulary(CREDIT), Some("credit")),
    launch("cmi.entry", ValueType::Vocabulary(ENTRY), Some("ab-initio")),
    el("cmi.exit", WO, ValueType::Vocabulary(EXIT_2004), Some("")),
    // Interaction ids may repeat: content that journals appends a record
    // per answer (ADL's sample RTE does not require them to be unique).
    el(INTERACTION_ID, RW, ValueType::LongIdentifier, None),
    after(
        el(
            INTERACTION_TYPE,
            RW,
            ValueType::Vocabulary(INTERACTION_TYPE_2004),
            None,
        ),
        INTERACTION_ID,
    ),
    Element {
        unique: true,
        ..after(
            el(
                "cmi.interactions.n.objectives.n.id",
                RW,
                ValueType::LongIdentifier,
                None,
            ),
            INTERACTION_ID,
        )
    },
    after(
        el(
            "cmi.interactions.n.timestamp",
            RW,
            ValueType::Timestamp,
            None,
        ),
        INTERACTION_ID,
    ),
    after(
        el(
            "cmi.interactions.n.correct_responses.n.pattern",
            RW,
            ValueType::CorrectResponsePattern,
            None,
        ),
        INTERACTION_TYPE,
    ),
    after(
        el("cmi.interactions.n.weighting", RW, REAL, None),
        INTERACTION_ID,
    ),
    after(
        el(
            "cmi.interactions.n.learner_response",
            RW,
            ValueType::LearnerResponse,
            None,
        ),
        INTERACTION_TYPE,
    ),
    after(
        el("cmi.interactions.n.result", RW, ValueType::Result2004, None),
        INTERACTION_ID,
    ),
    after(
        el("cmi.interactions.n.latency", RW, ValueType::Duration, None),
        INTERACTION_ID,
    ),
    after(
        el("cmi.interactions.n.description", RW, LOCALIZED_250, None),
        INTERACTION_ID,
    ),
    launch(
        "cmi.launch_data",
        ValueType::CharacterString { spm: 4000 },
        None,
    ),
    launch("cmi.learner_id", ValueType::LongIdentifier, None),
    launch("cmi.learner_name", LOCALIZED_250, None),
    el(
        "cmi.learner_preference.audio_level",
        RW,
        REAL_NON_NEGATIVE,
        Some("1"),
    ),
    el(
        "cmi.learner_preference.language",
        RW,
        ValueType::Language,
        Some(""),
    ),
    el(
        "cmi.learner_preference.delivery_speed",
        RW,
        REAL_NON_NEGATIVE,
        Some("1"),
    ),
    el(
        "cmi.learner_preference.audio_captioning",
        RW,
        ValueType::Vocabulary(AUDIO_CAPTIONING),
        Some("0"),
    ),
    el(
        "cmi.location",
        RW,
        ValueType::CharacterString { spm: 1000 },
        None,
    ),
    launch("cmi.max_time_allowed", ValueType::Duration, None),
    launch("cmi.mode", ValueType::Vocabulary(MODE), Some("normal")),
    Element {
        unique: true,
        write_once: true,
        ..el(OBJECTIVE_ID, RW, ValueType::LongIdentifier, None)
    },
    after(
        el("cmi.objectives.n.score.scaled", RW, REAL_MINUS1_1, None),
        OBJECTIVE_ID,
    ),
    after(
        el("cmi.objectives.n.score.raw", RW, REAL, None),
        OBJECTIVE_ID,
    ),
    after(
        el("cmi.objectives.n.score.min", RW, REAL, None),
        OBJECTIVE_ID,
    ),
    after(
        el("cmi.objectives.n.score.max", RW, REAL, None),
        OBJECTIVE_ID,
    ),
    after(
        el(
            "cmi.objectives.n.success_status",
            RW,
            ValueType::Vocabulary(SUCCESS_STATUS),
            Some("unknown"),
        ),
        OBJECTIVE_ID,
    ),
    after(
        el(
            "cmi.objectives.n.completion_status",
            RW,
            ValueType::Vocabulary(COMPLETION_STATUS),
            Some("unknown"),
        ),
        OBJECTIVE_ID,
    ),
    after(
        el("cmi.objectives.n.progress_measure", RW, REAL_0_1, None),
        OBJECTIVE_ID,
    ),
    after(
        el("cmi.objectives.n.description", RW, LOCALIZED_250, None),
        OBJECTIVE_ID,
    ),
    el("cmi.progress_measure", RW, REAL_0_1, None),
    launch("cmi.scaled_passing_score", REAL_MINUS1_1, None),
    el("cmi.score.scaled", RW, REAL_MINUS1_1, None),
    el("cmi.score.raw", RW, REAL, None),
    el("cmi.score.min", RW, REAL, None),
    el("cmi.score.max", RW, REAL, None),
    el("cmi.session_time", WO, ValueType::Duration, None),
    el(
        "cmi.success_status",
        RW,
        ValueType::Vocabulary(SUCCESS_STATUS),
        Some("unknown"),
    ),
    el("cmi.suspend_data", RW, ValueType::SuspendData2004, None),
    launch(
        "cmi.time_limit_action",
        ValueType::Vocabulary(TIME_LIMIT_ACTION),
        Some("continue,no message"),
    ),
    el("cmi.total_time", RO, ValueType::Duration, Some("PT0H0M0S")),
    el("adl.nav.request", RW, ValueType::NavRequest, Some("_none_")),
    Element {
        source: Source::Navigation,
        ..el(
            "adl.nav.request_valid.continue",
            RO,
            ValueType::Vocabulary(NAV_VALIDITY),
            Some("unknown"),
        )
    },
    Element {
        source: Source::Navigation,
        ..el(
            "adl.nav.request_valid.previous",
            RO,
            ValueType::Vocabulary(NAV_VALIDITY),
            Some("unknown"),
        )
    },
    Element {
        source: Source::Navigation,
        ..el(
            "adl.nav.request_valid.choice",
            RO,
            ValueType::Vocabulary(NAV_VALIDITY),
            Some("unknown"),
        )
    },
    Element {
        source: Source::Navigation,
        fourth_edition_only: true,
        ..el(
            "adl.nav.request_valid.jump",
            RO,
            ValueType::Vocabulary(NAV_VALIDITY),
            Some("unknown"),
        )
    },
    Element {
        source: Source::SharedData,
        fourth_edition_only: true,
        unique: true,
        ..el("adl.data.n.id", RO, ValueType::LongIdentifier, None)
    },
    Element {
        source: Source::SharedData,
        fourth_edition_only: true,
        ..el(
            "adl.data.n.store",
            RW,
            ValueType::CharacterString { spm: 64_000 },
            None,
        )
    },
];

const SCORM2004_GROUPS: &[Group] = &[
    group(
        "cmi.learner_preference",
        Some("audio_level,language,delivery_speed,audio_captioning"),
    ),
    group("cmi.objectives.n.score", Some("scaled,raw,min,max")),
    group("cmi.score", Some("scaled,raw,min,max")),
    group("adl.nav", None),
    group("adl.nav.request_valid", None),
];

const SCORM2004_COLLECTIONS: &[Collection] = &[
    collection(
        "cmi.comments_from_learner",
        Some("comment,location,timestamp"),
        250,
    ),
    Collection {
        source: Source::Launch,
        ..collection(
            "cmi.comments_from_lms",
            Some("comment,location,timestamp"),
            100,
        )
    },
    collection(
        "cmi.interactions",
        Some(
            "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,latency,description",
        ),
        250,
    ),
    collection("cmi.interactions.n.objectives", None, 10),
    collection("cmi.interactions.n.correct_responses", None, 10),
    collection(
        "cmi.objectives",
        Some("id,score,success_status,completion_status,progress_measure,description"),
        100,
    ),
    Collection {
        source: Source::SharedData,
        fourth_edition_only: true,
        ..collection("adl.data", Some("id,store"), 250)
    },
];

/// The SCORM 2004 data model (RTE 4th ed. §4.2 and §4.4; the digest's table 3.4).
pub static SCORM2004: Model = Model {
    family: ApiFamily::Scorm2004,
    elements: SCORM2004_ELEMENTS,
    groups: SCORM2004_GROUPS,
    collections: SCORM2004_COLLECTIONS,
};

/// The data model of a version.
pub fn model(version: ScormVersion) -> &'static Model {
    match version.family() {
        ApiFamily::Scorm12 => &SCORM12,
        ApiFamily::Scorm2004 => &SCORM2004,
    }
}

/// What an element name addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    /// An element with a value, and the index for each `n` in its path.
    Leaf {
        /// The element.
        element: &'static Element,
        /// The indices, outermost first.
        indices: Vec<usize>,
    },
    /// `X._children`.
    Children(&'static str),
    /// `X._count`, and the indices of the records X sits in.
    Count {
        /// The collection.
        collection: &'static Collection,
        /// The indices, outermost first.
        indices: Vec<usize>,
    },
    /// `cmi._version`.
    Version,
    /// `adl.nav.request_valid.choice.{target=ID}` (or `.jump.`).
    NavTarget {
        /// The `choice` or `jump` element.
        element: &'static Element,
        /// The target activity id.
        target: String,
    },
}

impl Model {
    /// The element with this path (`n` for indices), if the version has it.
    pub fn element(&self, path: &str, version: ScormVersion) -> Option<&'static Element> {
        let elements: &'static [Element] = self.elements;
        elements
            .iter()
            .find(|e| e.path == path && (!e.fourth_edition_only || version.is_fourth_edition()))
    }

    /// The collection with this path, if the version has it.
    pub fn collection(&self, path: &str, version: ScormVersion) -> Option<&'static Collection> {
        let collections: &'static [Collection] = self.collections;
        collections
            .iter()
            .find(|c| c.path == path && (!c.fourth_edition_only || version.is_fourth_edition()))
    }

    /// The group with this path, if the version has it.
    pub fn group(&self, path: &str, version: ScormVersion) -> Option<&'static Group> {
        let groups: &'static [Group] = self.groups;
        groups
            .iter()
            .find(|g| g.path == path && (!g.fourth_edition_only || version.is_fourth_edition()))
    }

    /// True when `path` names an element, group or collection of the version.
    fn knows(&self, path: &str, version: ScormVersion) -> bool {
        self.element(path, version).is_some()
            || self.collection(path, version).is_some()
            || self.group(path, version).is_some()
    }

    /// Parses an element name into what it addresses, without looking at any
    /// data: the session then checks indices against counts.
    ///
    /// The name is split at `.`; a segment of ASCII digits right after a
    /// collection becomes `n` (an index). A last segment `_version` is
    /// valid only in `cmi._version`; `_children` needs a group or collection
    /// with children; `_count` needs a collection. Anything else must be an
    /// element of the table. `adl.nav.request_valid.choice.{target=…}` (and
    /// `.jump.`) is read before splitting, since a target may hold dots.
    ///
    /// # Errors
    ///
    /// [`CmiError::NoVersion`], [`CmiError::NoChildren`] or
    /// [`CmiError::NoCount`] for a keyword a known element lacks;
    /// [`CmiError::MissingTarget`] for a malformed `{target=…}`; otherwise
    /// [`CmiError::UndefinedElement`], or in SCORM 1.2
    /// [`CmiError::UnknownChild`] when the category after `cmi.` is known.
    pub fn resolve(&self, name: &str, version: ScormVersion) -> Result<Address, CmiError> {
        if let Some(address) = self.resolve_nav_target(name, version)? {
            return Ok(address);
        }
        let mut normalized: Vec<&str> = Vec::new();
        let mut indices = Vec::new();
        for segment in name.split('.') {
            let so_far = normalized.join(".");
            let is_index = !so_far.is_empty()
                && self.collection(&so_far, version).is_some()
                && super::types::Pattern::Index.matches(segment);
            if is_index {
                normalized.push("n");
                indices.push(
                    super::time::saturating_digits(segment)
                        .try_into()
                        .unwrap_or(usize::MAX),
                );
            } else {
                normalized.push(segment);
            }
        }
        let (keyword, owner) = normalized.split_last().expect("at least one segment");
        let owner = owner.join(".");
        match *keyword {
            "_version" => {
                if name == "cmi._version" {
                    Ok(Address::Version)
                } else if self.knows(&owner, version) {
                    Err(CmiError::NoVersion)
                } else {
                    Err(self.undefined(&normalized, version))
                }
            }
            "_children" => {
                if let Some(children) = self
                    .group(&owner, version)
                    .map(|g| g.children)
                    .or_else(|| self.collection(&owner, version).map(|c| c.children))
                {
                    children.map(Address::Children).ok_or(CmiError::NoChildren)
                } else if self.knows(&owner, version) {
                    Err(CmiError::NoChildren)
                } else {
                    Err(self.undefined(&normalized, version))
                }
            }
            "_count" => {
                if let Some(collection) = self.collection(&owner, version) {
                    Ok(Address::Count {
                        collection,
                        indices,
                    })
                } else if self.knows(&owner, version) {
                    Err(CmiError::NoCount)
                } else {
                    Err(self.undefined(&normalized, version))
                }
            }
            _ => match self.element(&normalized.join("."), version) {
                Some(element) => Ok(Address::Leaf { element, indices }),
                None => Err(self.undefined(&normalized, version)),
            },
        }
    }

    /// `adl.nav.request_valid.choice.{target=…}`: the target may contain
    /// dots, so it is read before the name is split.
    fn resolve_nav_target(
        &self,
        name: &str,
        version: ScormVersion,
    ) -> Result<Option<Address>, CmiError> {
        for path in ["adl.nav.request_valid.choice", "adl.nav.request_valid.jump"] {
            let Some(argument) = name
                .strip_prefix(path)
                .and_then(|rest| rest.strip_prefix('.'))
            else {
                continue;
            };
            let Some(element) = self.element(path, version) else {
                continue;
            };
            if !argument.starts_with('{') {
                // `_children` and the like fall through to the keyword rules.
                return Ok(None);
            }
            let target = argument
                .strip_prefix("{target=")
                .and_then(|rest| rest.strip_suffix('}'))
                .filter(|target| !target.is_empty() && super::types::Pattern::Uri.matches(target))
                .ok_or(CmiError::MissingTarget)?;
            return Ok(Some(Address::NavTarget {
                element,
                target: target.to_owned(),
            }));
        }
        Ok(None)
    }

    /// The error for a name that is not in the model: in SCORM 1.2, a name
    /// inside a known category (`cmi.core.bogus`) is an invalid argument
    /// (201) and an unknown category (`cmi.bogus.x`) is not implemented (401).
    fn undefined(&self, normalized: &[&str], version: ScormVersion) -> CmiError {
        match self.family {
            ApiFamily::Scorm2004 => CmiError::UndefinedElement,
            ApiFamily::Scorm12 => {
                let category_known = match normalized {
                    ["cmi"] => true,
                    ["cmi", category, ..] => self.knows(&format!("cmi.{category}"), version),
                    _ => false,
                };
                if category_known {
                    CmiError::UnknownChild
                } else {
                    CmiError::UndefinedElement
                }
            }
        }
    }
}

/// Replaces each `n` segment of `path` with the next index.
pub fn instantiate(path: &str, indices: &[usize]) -> String {
    let mut next = indices.iter();
    path.split('.')
        .map(|segment| match segment {
            "n" => next.next().map_or_else(|| "n".to_owned(), usize::to_string),
            other => other.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The number of `n` segments in a path.
pub fn depth(path: &str) -> usize {
    path.split('.').filter(|s| *s == "n").count()
}

/// The collections a path runs through, outermost first
/// (`cmi.interactions.n.objectives.n.id` → `cmi.interactions`,
/// `cmi.interactions.n.objectives`).
pub fn collections_along(path: &str) -> Vec<&str> {
    path.match_indices(".n")
        .filter(|(at, _)| path[at + 2..].is_empty() || path[at + 2..].starts_with('.'))
        .map(|(at, _)| &path[..at])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V12: ScormVersion = ScormVersion::Scorm12;
    const V4: ScormVersion = ScormVersion::Scorm2004Fourth;
    const V3: ScormVersion = ScormVersion::Scorm2004Third;

    fn leaf(model: &Model, name: &str, version: ScormVersion) -> (String, Vec<usize>) {
        match model.resolve(name, version) {
            Ok(Address::Leaf { element, indices }) => (element.path.to_owned(), indices),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn names_resolve_to_table_rows_with_indices() {
        assert_eq!(
            leaf(&SCORM2004, "cmi.interactions.3.objectives.10.id", V4),
            ("cmi.interactions.n.objectives.n.id".to_owned(), vec![3, 10])
        );
        assert_eq!(
            leaf(&SCORM12, "cmi.objectives.0.score.raw", V12),
            ("cmi.objectives.n.score.raw".to_owned(), vec![0])
        );
        assert_eq!(leaf(&SCORM2004, "cmi.objectives.007.id", V4).1, vec![7]);
    }

    #[test]
    fn keywords_and_unknown_names_map_to_rules() {
        let cases: &[(&Model, ScormVersion, &str, Result<Address, CmiError>)] = &[
            (&SCORM2004, V4, "cmi._version", Ok(Address::Version)),
            (&SCORM12, V12, "cmi._version", Ok(Address::Version)),
            (
                &SCORM2004,
                V4,
                "cmi.location._version",
                Err(CmiError::NoVersion),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.bogus._version",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.score._children",
                Ok(Address::Children("scaled,raw,min,max")),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.location._children",
                Err(CmiError::NoChildren),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.interactions.0.objectives._children",
                Err(CmiError::NoChildren),
            ),
            (
                &SCORM2004,
                V4,
                "cmi._children",
                Err(CmiError::UndefinedElement),
            ),
            (&SCORM2004, V4, "cmi.score._count", Err(CmiError::NoCount)),
            (&SCORM2004, V4, "cmi.score", Err(CmiError::UndefinedElement)),
            (
                &SCORM2004,
                V4,
                "cmi.objectives.0",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.objectives.x.id",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.objectives.-1.id",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "cmi.Location",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V3,
                "adl.data._count",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V3,
                "adl.nav.request_valid.jump.{target=x}",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "adl.nav.request_valid.choice.{target=}",
                Err(CmiError::MissingTarget),
            ),
            (
                &SCORM2004,
                V4,
                "adl.nav.request_valid.choice.{foo=x}",
                Err(CmiError::MissingTarget),
            ),
            (
                &SCORM2004,
                V4,
                "adl.nav.request_valid.choice.bogus",
                Err(CmiError::UndefinedElement),
            ),
            (
                &SCORM2004,
                V4,
                "adl.nav._children",
                Err(CmiError::NoChildren),
            ),
            (
                &SCORM12,
                V12,
                "cmi._children",
                Ok(Address::Children(
                    "core,suspend_data,launch_data,comments,objectives,student_data,student_preference,interactions",
                )),
            ),
            (&SCORM12, V12, "cmi.core.bogus", Err(CmiError::UnknownChild)),
            (&SCORM12, V12, "cmi.core", Err(CmiError::UnknownChild)),
            (
                &SCORM12,
                V12,
                "cmi.bogus.x",
                Err(CmiError::UndefinedElement),
            ),
            (&SCORM12, V12, "bogus", Err(CmiError::UndefinedElement)),
            (&SCORM12, V12, "cmi.core._count", Err(CmiError::NoCount)),
            (
                &SCORM12,
                V12,
                "cmi.core.student_id._children",
                Err(CmiError::NoChildren),
            ),
            (&SCORM12, V12, "cmi.core._version", Err(CmiError::NoVersion)),
            (
                &SCORM12,
                V12,
                "cmi.interactions.0.objectives._children",
                Err(CmiError::NoChildren),
            ),
        ];
        for (model, version, name, expected) in cases {
            assert_eq!(&model.resolve(name, *version), expected, "{version} {name}");
        }
        match SCORM2004.resolve("adl.nav.request_valid.choice.{target=mod.1}", V4) {
            Ok(Address::NavTarget { target, .. }) => assert_eq!(target, "mod.1"),
            other => panic!("{other:?}"),
        }
        match SCORM2004.resolve("cmi.interactions.2.objectives._count", V4) {
            Ok(Address::Count {
                collection,
                indices,
            }) => {
                assert_eq!(collection.path, "cmi.interactions.n.objectives");
                assert_eq!(indices, vec![2]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(
            instantiate("cmi.interactions.n.objectives.n.id", &[4, 0]),
            "cmi.interactions.4.objectives.0.id"
        );
        assert_eq!(depth("cmi.interactions.n.objectives.n.id"), 2);
        assert_eq!(
            collections_along("cmi.interactions.n.objectives.n.id"),
            vec!["cmi.interactions", "cmi.interactions.n.objectives"]
        );
        assert_eq!(collections_along("cmi.location"), Vec::<&str>::new());
    }

    #[test]
    fn tables_are_consistent() {
        for (model, version) in [(&SCORM12, V12), (&SCORM2004, V4)] {
            let mut paths: Vec<&str> = model.elements.iter().map(|e| e.path).collect();
            paths.sort_unstable();
            let before = paths.len();
            paths.dedup();
            assert_eq!(before, paths.len(), "duplicate element");
            for element in model.elements {
                for collection in collections_along(element.path) {
                    assert!(
                        model.collection(collection, version).is_some(),
                        "{} sits in unknown collection {collection}",
                        element.path
                    );
                }
                if let Some(dependency) = element.depends_on {
                    let target = model
                        .element(dependency, version)
                        .expect("dependency exists");
                    assert!(depth(target.path) <= depth(element.path));
                }
            }
            for group in model.groups {
                if let Some(children) = group.children {
                    for child in children.split(',') {
                        let path = format!("{}.{child}", group.path);
                        assert!(model.knows(&path, version), "{path}");
                    }
                }
            }
            for collection in model.collections {
                if let Some(children) = collection.children {
                    for child in children.split(',') {
                        let path = format!("{}.n.{child}", collection.path);
                        assert!(model.knows(&path, version), "{path}");
                    }
                }
            }
        }
    }
}
