//! Value types of both data models, their validators, and the regular
//! expressions they use.
//!
//! Every pattern in [`Pattern`] is written in the common subset of Rust
//! `regex` and ECMAScript (no flags, no look-around, no `\d`/`\s`/`\w`, no
//! `.`, no class set operations, named groups as `(?<name>…)`), and the Rust
//! validator compiles exactly the strings the browser runtime receives, so
//! the two runtimes cannot disagree on a format. Lengths count Unicode scalar
//! values (`chars()` in Rust, `Array.from(s).length` in JavaScript).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use super::error::CmiError;
use super::time::IsoDuration;

/// A regular expression shared with the browser runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// A decimal number: `CMIDecimal` (1.2) and `real(10,7)` (2004).
    Decimal,
    /// A signed integer: `CMISInteger`.
    SignedInteger,
    /// SCORM 1.2 `CMIIdentifier`: 1–255 printable ASCII characters, no space.
    Identifier12,
    /// SCORM 1.2 `CMITime`: `HH:MM:SS[.S[S]]`.
    Time12,
    /// SCORM 1.2 `CMITimespan`: `HHHH:MM:SS[.S[S]]`, two to four hour digits.
    Timespan12,
    /// SCORM 2004 `timeinterval (second,10,2)`. A match must also not be `P`
    /// alone nor end in `T`.
    Duration,
    /// SCORM 2004 `time (second,10,0)`. A match must also pass the range
    /// checks of [`validate_timestamp`].
    Timestamp,
    /// A language tag (RFC 3066/5646 shape), as in `{lang=…}`.
    Language,
    /// A URI reference as SCORM 2004 identifiers use it: no whitespace or
    /// control characters, none of `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`,
    /// `|`, `}`, `[`, `]`, and `%` only in escapes.
    Uri,
    /// Identifiers that start like a URN must be a whole [`Pattern::Urn`].
    UrnPrefix,
    /// `urn:<nid>:<nss>` with a 1–31 character namespace id.
    Urn,
    /// `{target=ID}choice` or `{target=ID}jump` for `adl.nav.request`.
    TargetedNavRequest,
    /// An array index in an element name.
    Index,
}

impl Pattern {
    /// Every pattern.
    pub const ALL: [Pattern; 13] = [
        Pattern::Decimal,
        Pattern::SignedInteger,
        Pattern::Identifier12,
        Pattern::Time12,
        Pattern::Timespan12,
        Pattern::Duration,
        Pattern::Timestamp,
        Pattern::Language,
        Pattern::Uri,
        Pattern::UrnPrefix,
        Pattern::Urn,
        Pattern::TargetedNavRequest,
        Pattern::Index,
    ];

    /// The pattern's name in the exported tables.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Decimal => "decimal",
            Pattern::SignedInteger => "signed_integer",
            Pattern::Identifier12 => "identifier_12",
            Pattern::Time12 => "time_12",
            Pattern::Timespan12 => "timespan_12",
            Pattern::Duration => "duration",
            Pattern::Timestamp => "timestamp",
            Pattern::Language => "language",
            Pattern::Uri => "uri",
            Pattern::UrnPrefix => "urn_prefix",
            Pattern::Urn => "urn",
            Pattern::TargetedNavRequest => "targeted_nav_request",
            Pattern::Index => "index",
        }
    }

    /// The source text, identical for Rust and JavaScript.
    pub fn source(self) -> &'static str {
        match self {
            Pattern::Decimal => r"^-?[0-9]+(\.[0-9]+)?$",
            Pattern::SignedInteger => r"^-?[0-9]+$",
            Pattern::Identifier12 => r"^[!-~]{1,255}$",
            Pattern::Time12 => r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,2})?$",
            Pattern::Timespan12 => {
                r"^(?<hours>[0-9]{2,4}):(?<minutes>[0-5][0-9]):(?<seconds>[0-5][0-9])(\.(?<fraction>[0-9]{1,2}))?$"
            }
            Pattern::Duration => {
                r"^P((?<years>[0-9]+)Y)?((?<months>[0-9]+)M)?((?<days>[0-9]+)D)?(T((?<hours>[0-9]+)H)?((?<minutes>[0-9]+)M)?((?<seconds>[0-9]+)(\.(?<fraction>[0-9]{1,2}))?S)?)?$"
            }
            Pattern::Timestamp => {
                r"^(?<year>[0-9]{4})(-(?<month>[0-9]{2})(-(?<day>[0-9]{2})(T(?<hour>[0-9]{2})(:(?<minute>[0-9]{2})(:(?<second>[0-9]{2})(\.[0-9]{1,2})?(Z|[+-](?<zone_hour>[0-9]{2})(:(?<zone_minute>[0-9]{2}))?)?)?)?)?)?)?$"
            }
            Pattern::Language => r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$",
            Pattern::Uri => r#"^([^\x00-\x20"<>\\^`{|}\x7F%\[\]]|%[0-9A-Fa-f]{2})+$"#,
            Pattern::UrnPrefix => r"^[uU][rR][nN]:",
            Pattern::Urn => {
                r#"^[uU][rR][nN]:[A-Za-z0-9][A-Za-z0-9-]{0,30}:([^\x00-\x20"<>\\^`{|}\x7F%\[\]]|%[0-9A-Fa-f]{2})+$"#
            }
            Pattern::TargetedNavRequest => r"^\{target=(?<target>[^}]*)\}(?<request>choice|jump)$",
            Pattern::Index => r"^[0-9]+$",
        }
    }

    /// The compiled pattern.
    pub fn regex(self) -> &'static Regex {
        static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
            Pattern::ALL
                .iter()
                .map(|p| Regex::new(p.source()).expect("shared patterns are valid rust regexes"))
                .collect()
        });
        let position = Pattern::ALL
            .iter()
            .position(|p| *p == self)
            .expect("every pattern is listed in ALL");
        &COMPILED[position]
    }

    /// True when `text` matches the whole pattern.
    pub fn matches(self, text: &str) -> bool {
        self.regex().is_match(text)
    }
}

/// The separators of SCORM 2004 interaction responses.
pub mod separators {
    /// Between the items of a list.
    pub const LIST: &str = "[,]";
    /// Between a matching source and target, or a step name and answer.
    pub const PAIR: &str = "[.]";
    /// Between the bounds of a numeric range.
    pub const RANGE: &str = "[:]";
}

/// The type and format a value must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueType {
    /// SCORM 1.2 `CMIString255`/`CMIString4096`: at most `max` characters;
    /// longer is a type error.
    String12 {
        /// The maximum length.
        max: usize,
    },
    /// SCORM 1.2 `cmi.suspend_data`: `CMIString4096`, a limit the host may raise.
    SuspendData12,
    /// SCORM 1.2 `CMIIdentifier`.
    Identifier12,
    /// SCORM 1.2 `CMIDecimal` or blank.
    Decimal12,
    /// SCORM 1.2 score: blank, or a `CMIDecimal` in 0..=100.
    Score12,
    /// SCORM 1.2 `CMISInteger` in `min..=max`.
    SignedInteger12 {
        /// The smallest value allowed.
        min: i32,
        /// The largest value allowed.
        max: i32,
    },
    /// SCORM 1.2 `CMITime`.
    Time12,
    /// SCORM 1.2 `CMITimespan`, blank allowed.
    Timespan12,
    /// One of a fixed list of strings, compared exactly.
    Vocabulary(&'static [&'static str]),
    /// SCORM 1.2 interaction result: a vocabulary word or a `CMIDecimal`.
    Result12,
    /// SCORM 1.2 `CMIFeedback`: validated for length only (at most 255),
    /// because most content does not follow the per-type formats.
    Feedback12,
    /// SCORM 2004 `characterstring` with a smallest permitted maximum.
    CharacterString {
        /// The SPM in characters (longer values are kept, and flagged).
        spm: usize,
    },
    /// SCORM 2004 `cmi.suspend_data`: 64,000 characters in the 4th edition,
    /// 4,000 before; the host's limit decides what is refused.
    SuspendData2004,
    /// SCORM 2004 `localized_string_type`: an optional `{lang=…}` then text.
    LocalizedString {
        /// The SPM of the text in characters.
        spm: usize,
    },
    /// SCORM 2004 `language_type`, blank allowed.
    Language,
    /// SCORM 2004 `long_identifier_type` (a URI, SPM 4,000).
    LongIdentifier,
    /// SCORM 2004 `real (10,7)` within optional inclusive bounds.
    Real {
        /// The smallest value allowed.
        min: Option<f64>,
        /// The largest value allowed.
        max: Option<f64>,
    },
    /// SCORM 2004 `time (second,10,0)`.
    Timestamp,
    /// SCORM 2004 `timeinterval (second,10,2)`.
    Duration,
    /// SCORM 2004 interaction result: a vocabulary word or a `real`.
    Result2004,
    /// `cmi.interactions.n.learner_response`: format set by the interaction's type.
    LearnerResponse,
    /// `cmi.interactions.n.correct_responses.n.pattern`: format set by the type.
    CorrectResponsePattern,
    /// `adl.nav.request`.
    NavRequest,
}

/// The interaction result words of SCORM 1.2.
pub const RESULT_12: &[&str] = &["correct", "wrong", "unanticipated", "neutral"];
/// The interaction result words of SCORM 2004.
pub const RESULT_2004: &[&str] = &["correct", "incorrect", "unanticipated", "neutral"];
/// The navigation requests of `adl.nav.request` that take no target.
pub const NAV_REQUESTS: &[&str] = &[
    "continue",
    "previous",
    "exit",
    "exitAll",
    "abandon",
    "abandonAll",
    "suspendAll",
    "_none_",
];

/// What a validator needs to know besides the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationContext {
    /// SCORM 2004 4th edition (enables `jump` and the 64,000 suspend data SPM).
    pub fourth_edition: bool,
    /// The type of the interaction whose response is checked, if set.
    pub interaction_type: Option<InteractionType>,
}

/// A value the validator accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Accepted {
    /// The value (or an item or count in it) is above a smallest permitted
    /// maximum: kept as is, and worth a warning.
    pub spm_exceeded: bool,
}

/// A value the validator refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The rule broken: [`CmiError::TypeMismatch`] or [`CmiError::OutOfRange`].
    pub error: CmiError,
    /// A lowercase explanation for `GetDiagnostic`.
    pub reason: String,
}

fn mismatch(reason: impl Into<String>) -> Refused {
    Refused {
        error: CmiError::TypeMismatch,
        reason: reason.into(),
    }
}

fn out_of_range(reason: impl Into<String>) -> Refused {
    Refused {
        error: CmiError::OutOfRange,
        reason: reason.into(),
    }
}

fn spm(value: &str, spm: usize) -> Accepted {
    Accepted {
        spm_exceeded: value.chars().count() > spm,
    }
}

impl ValueType {
    /// Checks `value` against the type.
    pub fn validate(self, value: &str, context: ValidationContext) -> Result<Accepted, Refused> {
        match self {
            ValueType::String12 { max } => {
                if value.chars().count() > max {
                    Err(mismatch(format!("longer than {max} characters")))
                } else {
                    Ok(Accepted::default())
                }
            }
            ValueType::SuspendData12 => Ok(spm(value, 4096)),
            ValueType::Identifier12 => {
                require(Pattern::Identifier12, value, "not a cmi identifier")
            }
            ValueType::Decimal12 => {
                if value.is_empty() {
                    Ok(Accepted::default())
                } else {
                    require(Pattern::Decimal, value, "not a decimal number")
                }
            }
            ValueType::Score12 => {
                if value.is_empty() {
                    return Ok(Accepted::default());
                }
                real_in(value, Some(0.0), Some(100.0))
            }
            ValueType::SignedInteger12 { min, max } => {
                require(Pattern::SignedInteger, value, "not an integer")?;
                in_range(value, Some(f64::from(min)), Some(f64::from(max)))
            }
            ValueType::Time12 => require(Pattern::Time12, value, "not a cmi time"),
            ValueType::Timespan12 => {
                if value.is_empty() {
                    Ok(Accepted::default())
                } else {
                    require(Pattern::Timespan12, value, "not a cmi timespan")
                }
            }
            ValueType::Vocabulary(words) => {
                if words.contains(&value) {
                    Ok(Accepted::default())
                } else {
                    Err(mismatch(format!("not one of {}", words.join(", "))))
                }
            }
            ValueType::Result12 => vocabulary_or_decimal(RESULT_12, value),
            ValueType::Result2004 => vocabulary_or_decimal(RESULT_2004, value),
            ValueType::Feedback12 => ValueType::String12 { max: 255 }.validate(value, context),
            ValueType::CharacterString { spm: limit } => Ok(spm(value, limit)),
            ValueType::SuspendData2004 => Ok(spm(value, suspend_data_spm_2004(context))),
            ValueType::LocalizedString { spm: limit } => {
                let text = strip_delimiters(value, &[Delimiter::Lang])?.text;
                Ok(spm(text, limit))
            }
            ValueType::Language => {
                if value.is_empty() {
                    Ok(Accepted::default())
                } else {
                    require(Pattern::Language, value, "not a language tag")?;
                    Ok(spm(value, 250))
                }
            }
            ValueType::LongIdentifier => validate_identifier(value, 4000),
            ValueType::Real { min, max } => real_in(value, min, max),
            ValueType::Timestamp => validate_timestamp(value),
            ValueType::Duration => IsoDuration::parse(value)
                .map(|_| Accepted::default())
                .map_err(|_| mismatch("not an iso 8601 duration")),
            ValueType::LearnerResponse | ValueType::CorrectResponsePattern => {
                let Some(kind) = context.interaction_type else {
                    return Err(Refused {
                        error: CmiError::DependencyNotEstablished,
                        reason: "the interaction type is not set".to_owned(),
                    });
                };
                let format = if self == ValueType::LearnerResponse {
                    kind.format().learner_response
                } else {
                    kind.format().pattern
                };
                format.validate(value)
            }
            ValueType::NavRequest => validate_nav_request(value, context),
        }
    }

    /// Describes the type for the browser runtime.
    pub fn to_json(self) -> Value {
        match self {
            ValueType::String12 { max } => json!({"kind": "string_12", "max": max}),
            ValueType::SuspendData12 => json!({"kind": "suspend_data_12", "spm": 4096}),
            ValueType::Identifier12 => json!({"kind": "identifier_12", "pattern": "identifier_12"}),
            ValueType::Decimal12 => {
                json!({"kind": "decimal_12", "pattern": "decimal", "blank": true})
            }
            ValueType::Score12 => {
                json!({"kind": "score_12", "pattern": "decimal", "blank": true, "min": 0, "max": 100})
            }
            ValueType::SignedInteger12 { min, max } => {
                json!({"kind": "signed_integer_12", "pattern": "signed_integer", "min": min, "max": max})
            }
            ValueType::Time12 => json!({"kind": "time_12", "pattern": "time_12"}),
            ValueType::Timespan12 => {
                json!({"kind": "timespan_12", "pattern": "timespan_12", "blank": true})
            }
            ValueType::Vocabulary(words) => json!({"kind": "vocabulary", "words": words}),
            ValueType::Result12 => {
                json!({"kind": "result", "words": RESULT_12, "pattern": "decimal"})
            }
            ValueType::Result2004 => {
                json!({"kind": "result", "words": RESULT_2004, "pattern": "decimal"})
            }
            ValueType::Feedback12 => json!({"kind": "feedback_12", "max": 255}),
            ValueType::CharacterString { spm } => json!({"kind": "characterstring", "spm": spm}),
            ValueType::SuspendData2004 => json!({"kind": "suspend_data_2004"}),
            ValueType::LocalizedString { spm } => {
                json!({"kind": "localized_string", "spm": spm, "delimiters": ["lang"]})
            }
            ValueType::Language => {
                json!({"kind": "language", "pattern": "language", "blank": true, "spm": 250})
            }
            ValueType::LongIdentifier => json!({"kind": "identifier", "spm": 4000}),
            ValueType::Real { min, max } => {
                json!({"kind": "real", "pattern": "decimal", "min": min, "max": max})
            }
            ValueType::Timestamp => json!({"kind": "timestamp", "pattern": "timestamp"}),
            ValueType::Duration => json!({"kind": "duration", "pattern": "duration"}),
            ValueType::LearnerResponse => json!({"kind": "learner_response"}),
            ValueType::CorrectResponsePattern => json!({"kind": "correct_response_pattern"}),
            ValueType::NavRequest => json!({
                "kind": "nav_request",
                "words": NAV_REQUESTS,
                "pattern": "targeted_nav_request",
            }),
        }
    }
}

/// The SPM of SCORM 2004 `cmi.suspend_data` for an edition.
pub fn suspend_data_spm_2004(context: ValidationContext) -> usize {
    if context.fourth_edition {
        64_000
    } else {
        4_000
    }
}

fn require(pattern: Pattern, value: &str, reason: &str) -> Result<Accepted, Refused> {
    if pattern.matches(value) {
        Ok(Accepted::default())
    } else {
        Err(mismatch(reason))
    }
}

fn vocabulary_or_decimal(words: &[&str], value: &str) -> Result<Accepted, Refused> {
    if words.contains(&value) || Pattern::Decimal.matches(value) {
        Ok(Accepted::default())
    } else {
        Err(mismatch(format!(
            "not one of {} nor a number",
            words.join(", ")
        )))
    }
}

/// A decimal number within inclusive bounds.
fn real_in(value: &str, min: Option<f64>, max: Option<f64>) -> Result<Accepted, Refused> {
    require(Pattern::Decimal, value, "not a decimal number")?;
    in_range(value, min, max)
}

/// Compares a string that matched a number pattern against inclusive bounds.
fn in_range(value: &str, min: Option<f64>, max: Option<f64>) -> Result<Accepted, Refused> {
    let number: f64 = value
        .parse()
        .map_err(|_| mismatch("not a decimal number"))?;
    let below = min.is_some_and(|min| number < min);
    let above = max.is_some_and(|max| number > max);
    if below || above {
        let bound = |b: Option<f64>| b.map_or(String::new(), |b| b.to_string());
        Err(out_of_range(format!(
            "outside {}..{}",
            bound(min),
            bound(max)
        )))
    } else {
        Ok(Accepted::default())
    }
}

/// A SCORM 2004 identifier (`long_identifier_type`/`short_identifier_type`):
/// non-empty, a URI reference, and a whole URN when it starts with `urn:`.
fn validate_identifier(value: &str, spm_chars: usize) -> Result<Accepted, Refused> {
    if value.is_empty() {
        return Err(mismatch("an identifier cannot be empty"));
    }
    require(Pattern::Uri, value, "not a uri")?;
    if Pattern::UrnPrefix.matches(value) {
        require(Pattern::Urn, value, "not a urn")?;
    }
    Ok(spm(value, spm_chars))
}

/// Checks a SCORM 2004 timestamp: the pattern, then year 1970–2038, a real
/// calendar day, hours below 24, minutes and seconds below 60, and a zone
/// offset below 24 hours.
pub fn validate_timestamp(value: &str) -> Result<Accepted, Refused> {
    let Some(caps) = Pattern::Timestamp.regex().captures(value) else {
        return Err(mismatch("not an iso 8601 timestamp"));
    };
    let field = |name: &str| {
        caps.name(name)
            .map(|m| m.as_str().parse::<u32>().unwrap_or(u32::MAX))
    };
    let year = field("year").unwrap_or(0);
    if !(1970..=2038).contains(&year) {
        return Err(mismatch("year outside 1970..2038"));
    }
    if let Some(month) = field("month") {
        if !(1..=12).contains(&month) {
            return Err(mismatch("month outside 1..12"));
        }
        if let Some(day) = field("day")
            && (day < 1 || day > days_in_month(year, month))
        {
            return Err(mismatch("no such day in that month"));
        }
    }
    let below = |name: &str, limit: u32| field(name).is_none_or(|v| v < limit);
    if !(below("hour", 24)
        && below("minute", 60)
        && below("second", 60)
        && below("zone_hour", 24)
        && below("zone_minute", 60))
    {
        return Err(mismatch("time of day out of range"));
    }
    Ok(Accepted::default())
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

fn validate_nav_request(value: &str, context: ValidationContext) -> Result<Accepted, Refused> {
    if NAV_REQUESTS.contains(&value) {
        return Ok(Accepted::default());
    }
    let Some(caps) = Pattern::TargetedNavRequest.regex().captures(value) else {
        return Err(mismatch("not a navigation request"));
    };
    if &caps["request"] == "jump" && !context.fourth_edition {
        return Err(mismatch("jump requests need scorm 2004 4th edition"));
    }
    validate_identifier(&caps["target"], 4000)
        .map_err(|refused| mismatch(format!("target: {}", refused.reason)))
}

/// The types of a SCORM 2004 interaction (SCORM 1.2 has the same names
/// except `long-fill-in` and `other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InteractionType {
    /// `true-false`
    TrueFalse,
    /// `choice`
    Choice,
    /// `fill-in`
    FillIn,
    /// `long-fill-in`
    LongFillIn,
    /// `likert`
    Likert,
    /// `matching`
    Matching,
    /// `performance`
    Performance,
    /// `sequencing`
    Sequencing,
    /// `numeric`
    Numeric,
    /// `other`
    Other,
}

/// A leading `{name=value}` delimiter a response may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delimiter {
    /// `{case_matters=true|false}`
    CaseMatters,
    /// `{order_matters=true|false}`
    OrderMatters,
    /// `{lang=<language tag>}`
    Lang,
}

impl Delimiter {
    /// The name inside the braces.
    pub fn name(self) -> &'static str {
        match self {
            Delimiter::CaseMatters => "case_matters",
            Delimiter::OrderMatters => "order_matters",
            Delimiter::Lang => "lang",
        }
    }

    fn validate(self, value: &str) -> Result<(), Refused> {
        let ok = match self {
            Delimiter::CaseMatters | Delimiter::OrderMatters => value == "true" || value == "false",
            Delimiter::Lang => Pattern::Language.matches(value),
        };
        if ok {
            Ok(())
        } else {
            Err(mismatch(format!("invalid {{{}={value}}}", self.name())))
        }
    }
}

/// The format of one item of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFormat {
    /// `true` or `false`.
    Boolean,
    /// A `short_identifier_type` (SPM 250).
    Identifier,
    /// Text with an optional `{lang=…}` prefix, SPM in characters.
    LocalizedText(usize),
    /// Any text, SPM in characters.
    Text(usize),
    /// `source[.]target`, both identifiers.
    MatchingPair,
    /// `step_name[.]step_answer`: the name an identifier, the answer text
    /// (SPM 250) or a range `min[:]max`; either side may be empty, not both.
    PerformanceStep,
    /// A `real (10,7)`.
    Real,
    /// `min[:]max`, either bound optional, `min <= max`.
    NumericRange,
}

impl ItemFormat {
    fn name(self) -> &'static str {
        match self {
            ItemFormat::Boolean => "boolean",
            ItemFormat::Identifier => "identifier",
            ItemFormat::LocalizedText(_) => "localized_text",
            ItemFormat::Text(_) => "text",
            ItemFormat::MatchingPair => "matching_pair",
            ItemFormat::PerformanceStep => "performance_step",
            ItemFormat::Real => "real",
            ItemFormat::NumericRange => "numeric_range",
        }
    }

    fn spm(self) -> Option<usize> {
        match self {
            ItemFormat::LocalizedText(spm) | ItemFormat::Text(spm) => Some(spm),
            ItemFormat::Identifier | ItemFormat::MatchingPair | ItemFormat::PerformanceStep => {
                Some(250)
            }
            ItemFormat::Boolean | ItemFormat::Real | ItemFormat::NumericRange => None,
        }
    }

    fn validate(self, item: &str) -> Result<Accepted, Refused> {
        match self {
            ItemFormat::Boolean => {
                if item == "true" || item == "false" {
                    Ok(Accepted::default())
                } else {
                    Err(mismatch("not true or false"))
                }
            }
            ItemFormat::Identifier => validate_identifier(item, 250),
            ItemFormat::LocalizedText(limit) => {
                let text = match item
                    .strip_prefix("{lang=")
                    .and_then(|rest| rest.split_once('}'))
                {
                    Some((lang, text)) => {
                        Delimiter::Lang.validate(lang)?;
                        text
                    }
                    None => item,
                };
                Ok(spm(text, limit))
            }
            ItemFormat::Text(limit) => Ok(spm(item, limit)),
            ItemFormat::MatchingPair => {
                let (source, target) = split_once_exactly(item, separators::PAIR)
                    .ok_or_else(|| mismatch("a matching pair needs exactly one [.]"))?;
                let source = validate_identifier(source, 250)?;
                let target = validate_identifier(target, 250)?;
                Ok(Accepted {
                    spm_exceeded: source.spm_exceeded || target.spm_exceeded,
                })
            }
            ItemFormat::PerformanceStep => {
                let (name, answer) = split_once_exactly(item, separators::PAIR)
                    .ok_or_else(|| mismatch("a performance step needs exactly one [.]"))?;
                if name.is_empty() && answer.is_empty() {
                    return Err(mismatch("a performance step needs a name or an answer"));
                }
                let mut accepted = Accepted::default();
                if !name.is_empty() {
                    accepted = validate_identifier(name, 250)?;
                }
                let answer = if answer.contains(separators::RANGE) {
                    ItemFormat::NumericRange.validate(answer)?
                } else {
                    spm(answer, 250)
                };
                Ok(Accepted {
                    spm_exceeded: accepted.spm_exceeded || answer.spm_exceeded,
                })
            }
            ItemFormat::Real => require(Pattern::Decimal, item, "not a decimal number"),
            ItemFormat::NumericRange => {
                let (min, max) = split_once_exactly(item, separators::RANGE)
                    .ok_or_else(|| mismatch("a numeric range needs exactly one [:]"))?;
                let bound = |text: &str| -> Result<Option<f64>, Refused> {
                    if text.is_empty() {
                        return Ok(None);
                    }
                    require(Pattern::Decimal, text, "a range bound is not a number")?;
                    Ok(text.parse().ok())
                };
                if let (Some(min), Some(max)) = (bound(min)?, bound(max)?)
                    && min > max
                {
                    return Err(mismatch("the range minimum exceeds its maximum"));
                }
                Ok(Accepted::default())
            }
        }
    }
}

/// Splits at `separator`, which must occur exactly once.
fn split_once_exactly<'a>(text: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let (left, right) = text.split_once(separator)?;
    if right.contains(separator) {
        None
    } else {
        Some((left, right))
    }
}

/// The format of a learner response or a correct response pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseFormat {
    /// Leading `{name=value}` delimiters the value may start with (each at
    /// most once, in any order). An unknown or repeated one ends the
    /// delimiters and is part of the value.
    pub delimiters: &'static [Delimiter],
    /// The value is a list of items separated by `[,]`.
    pub list: bool,
    /// The value (after its delimiters) may be empty.
    pub allow_empty: bool,
    /// The format of each item (of the whole value if not a list).
    pub item: ItemFormat,
    /// An item of a list may be empty (`fill-in`: `a[,][,]b`).
    pub empty_items: bool,
    /// No two items may be equal.
    pub unique_items: bool,
    /// The SPM of the number of items.
    pub items_spm: Option<usize>,
}

impl ResponseFormat {
    /// Checks a response against the format.
    pub fn validate(&self, value: &str) -> Result<Accepted, Refused> {
        let text = strip_delimiters(value, self.delimiters)?.text;
        if text.is_empty() {
            return if self.allow_empty {
                Ok(Accepted::default())
            } else {
                Err(mismatch("the response cannot be empty"))
            };
        }
        let items: Vec<&str> = if self.list {
            text.split(separators::LIST).collect()
        } else {
            vec![text]
        };
        let mut accepted = Accepted {
            spm_exceeded: self.items_spm.is_some_and(|spm| items.len() > spm),
        };
        for (position, item) in items.iter().enumerate() {
            if self.unique_items && items[..position].contains(item) {
                return Err(mismatch(format!("item {item:?} is repeated")));
            }
            if item.is_empty() && !self.empty_items {
                return Err(mismatch("an item of the list is empty"));
            }
            accepted.spm_exceeded |= self.item.validate(item)?.spm_exceeded;
        }
        Ok(accepted)
    }

    /// Describes the format for the browser runtime.
    pub fn to_json(&self) -> Value {
        json!({
            "delimiters": self.delimiters.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "list": self.list,
            "allow_empty": self.allow_empty,
            "item": self.item.name(),
            "item_spm": self.item.spm(),
            "empty_items": self.empty_items,
            "unique_items": self.unique_items,
            "items_spm": self.items_spm,
        })
    }
}

/// How correct response patterns of one interaction must differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternUniqueness {
    /// Patterns may repeat.
    None,
    /// No two patterns may hold the same set of items (`choice`).
    Set,
    /// No two patterns may be the same string (`sequencing`).
    Exact,
}

impl PatternUniqueness {
    fn name(self) -> &'static str {
        match self {
            PatternUniqueness::None => "none",
            PatternUniqueness::Set => "set",
            PatternUniqueness::Exact => "exact",
        }
    }

    /// True when the two patterns count as the same.
    pub fn same(self, a: &str, b: &str) -> bool {
        match self {
            PatternUniqueness::None => false,
            PatternUniqueness::Exact => a == b,
            PatternUniqueness::Set => {
                let mut left: Vec<&str> = a.split(separators::LIST).collect();
                let mut right: Vec<&str> = b.split(separators::LIST).collect();
                left.sort_unstable();
                left.dedup();
                right.sort_unstable();
                right.dedup();
                left == right
            }
        }
    }
}

/// The response rules of one interaction type (RTE 4th ed. §4.2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InteractionFormat {
    /// The format of `learner_response`.
    pub learner_response: ResponseFormat,
    /// The format of `correct_responses.n.pattern`.
    pub pattern: ResponseFormat,
    /// The SPM of `correct_responses._count`.
    pub patterns_spm: usize,
    /// The SPM is also the maximum: one more pattern is refused.
    pub patterns_max: bool,
    /// How patterns must differ from each other.
    pub unique_patterns: PatternUniqueness,
}

const fn list(item: ItemFormat, allow_empty: bool, items_spm: usize) -> ResponseFormat {
    ResponseFormat {
        delimiters: &[],
        list: true,
        allow_empty,
        item,
        empty_items: false,
        unique_items: false,
        items_spm: Some(items_spm),
    }
}

const fn single(item: ItemFormat, allow_empty: bool) -> ResponseFormat {
    ResponseFormat {
        delimiters: &[],
        list: false,
        allow_empty,
        item,
        empty_items: false,
        unique_items: false,
        items_spm: None,
    }
}

const TRUE_FALSE: InteractionFormat = InteractionFormat {
    learner_response: single(ItemFormat::Boolean, false),
    pattern: single(ItemFormat::Boolean, false),
    patterns_spm: 1,
    patterns_max: true,
    unique_patterns: PatternUniqueness::None,
};

const CHOICE_RESPONSE: ResponseFormat = ResponseFormat {
    unique_items: true,
    ..list(ItemFormat::Identifier, true, 36)
};

const CHOICE: InteractionFormat = InteractionFormat {
    learner_response: CHOICE_RESPONSE,
    pattern: CHOICE_RESPONSE,
    patterns_spm: 10,
    patterns_max: false,
    unique_patterns: PatternUniqueness::Set,
};

const FILL_IN_RESPONSE: ResponseFormat = ResponseFormat {
    empty_items: true,
    ..list(ItemFormat::LocalizedText(250), true, 10)
};

const FILL_IN: InteractionFormat = InteractionFormat {
    learner_response: FILL_IN_RESPONSE,
    pattern: ResponseFormat {
        delimiters: &[Delimiter::CaseMatters, Delimiter::OrderMatters],
        ..FILL_IN_RESPONSE
    },
    patterns_spm: 5,
    patterns_max: false,
    unique_patterns: PatternUniqueness::None,
};

const LONG_FILL_IN: InteractionFormat = InteractionFormat {
    learner_response: ResponseFormat {
        delimiters: &[Delimiter::Lang],
        ..single(ItemFormat::Text(4000), true)
    },
    pattern: ResponseFormat {
        delimiters: &[Delimiter::CaseMatters, Delimiter::Lang],
        ..single(ItemFormat::Text(4000), true)
    },
    patterns_spm: 5,
    patterns_max: false,
    unique_patterns: PatternUniqueness::None,
};

const LIKERT: InteractionFormat = InteractionFormat {
    learner_response: single(ItemFormat::Identifier, false),
    pattern: single(ItemFormat::Identifier, false),
    patterns_spm: 1,
    patterns_max: true,
    unique_patterns: PatternUniqueness::None,
};

const MATCHING: InteractionFormat = InteractionFormat {
    learner_response: list(ItemFormat::MatchingPair, true, 36),
    pattern: list(ItemFormat::MatchingPair, false, 36),
    patterns_spm: 5,
    patterns_max: false,
    unique_patterns: PatternUniqueness::None,
};

const PERFORMANCE: InteractionFormat = InteractionFormat {
    learner_response: list(ItemFormat::PerformanceStep, false, 250),
    pattern: ResponseFormat {
        delimiters: &[Delimiter::OrderMatters],
        ..list(ItemFormat::PerformanceStep, false, 250)
    },
    patterns_spm: 5,
    patterns_max: false,
    unique_patterns: PatternUniqueness::None,
};

const SEQUENCING: InteractionFormat = InteractionFormat {
    learner_response: list(ItemFormat::Identifier, false, 36),
    pattern: list(ItemFormat::Identifier, false, 36),
    patterns_spm: 5,
    patterns_max: false,
    unique_patterns: PatternUniqueness::Exact,
};

const NUMERIC: InteractionFormat = InteractionFormat {
    learner_response: single(ItemFormat::Real, false),
    pattern: single(ItemFormat::NumericRange, false),
    patterns_spm: 1,
    patterns_max: true,
    unique_patterns: PatternUniqueness::None,
};

const OTHER: InteractionFormat = InteractionFormat {
    learner_response: single(ItemFormat::Text(4000), true),
    pattern: single(ItemFormat::Text(4000), true),
    patterns_spm: 1,
    patterns_max: true,
    unique_patterns: PatternUniqueness::None,
};

impl InteractionType {
    /// Every SCORM 2004 interaction type.
    pub const ALL: [InteractionType; 10] = [
        InteractionType::TrueFalse,
        InteractionType::Choice,
        InteractionType::FillIn,
        InteractionType::LongFillIn,
        InteractionType::Likert,
        InteractionType::Matching,
        InteractionType::Performance,
        InteractionType::Sequencing,
        InteractionType::Numeric,
        InteractionType::Other,
    ];

    /// The vocabulary word.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionType::TrueFalse => "true-false",
            InteractionType::Choice => "choice",
            InteractionType::FillIn => "fill-in",
            InteractionType::LongFillIn => "long-fill-in",
            InteractionType::Likert => "likert",
            InteractionType::Matching => "matching",
            InteractionType::Performance => "performance",
            InteractionType::Sequencing => "sequencing",
            InteractionType::Numeric => "numeric",
            InteractionType::Other => "other",
        }
    }

    /// Reads a vocabulary word.
    pub fn parse(word: &str) -> Option<InteractionType> {
        InteractionType::ALL
            .into_iter()
            .find(|t| t.as_str() == word)
    }

    /// The response rules of the type.
    pub fn format(self) -> &'static InteractionFormat {
        match self {
            InteractionType::TrueFalse => &TRUE_FALSE,
            InteractionType::Choice => &CHOICE,
            InteractionType::FillIn => &FILL_IN,
            InteractionType::LongFillIn => &LONG_FILL_IN,
            InteractionType::Likert => &LIKERT,
            InteractionType::Matching => &MATCHING,
            InteractionType::Performance => &PERFORMANCE,
            InteractionType::Sequencing => &SEQUENCING,
            InteractionType::Numeric => &NUMERIC,
            InteractionType::Other => &OTHER,
        }
    }
}

impl InteractionFormat {
    /// Describes the rules for the browser runtime.
    pub fn to_json(&self) -> Value {
        json!({
            "learner_response": self.learner_response.to_json(),
            "pattern": self.pattern.to_json(),
            "patterns_spm": self.patterns_spm,
            "patterns_max": self.patterns_max,
            "unique_patterns": self.unique_patterns.name(),
        })
    }
}

/// A value split into its leading delimiters and the text after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delimited<'a> {
    /// The recognised delimiters, in order, with their values.
    pub delimiters: Vec<(Delimiter, &'a str)>,
    /// What follows them.
    pub text: &'a str,
}

/// Reads the leading `{name=value}` delimiters of `value` that are in
/// `allowed`, validating each; stops at the first one that is not allowed or
/// is repeated, which then belongs to the text.
pub fn strip_delimiters<'a>(
    value: &'a str,
    allowed: &[Delimiter],
) -> Result<Delimited<'a>, Refused> {
    let mut delimiters: Vec<(Delimiter, &str)> = Vec::new();
    let mut rest = value;
    while let Some(inner) = rest.strip_prefix('{') {
        let Some((body, after)) = inner.split_once('}') else {
            break;
        };
        let Some((name, delimiter_value)) = body.split_once('=') else {
            break;
        };
        let Some(delimiter) = allowed.iter().copied().find(|d| d.name() == name) else {
            break;
        };
        if delimiters.iter().any(|(seen, _)| *seen == delimiter) {
            break;
        }
        delimiter.validate(delimiter_value)?;
        delimiters.push((delimiter, delimiter_value));
        rest = after;
    }
    Ok(Delimited {
        delimiters,
        text: rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ValidationContext = ValidationContext {
        fourth_edition: true,
        interaction_type: None,
    };

    fn check(ty: ValueType, value: &str) -> Result<bool, CmiError> {
        ty.validate(value, CTX)
            .map(|a| a.spm_exceeded)
            .map_err(|r| r.error)
    }

    #[test]
    fn every_pattern_compiles() {
        for pattern in Pattern::ALL {
            assert!(!pattern.regex().as_str().is_empty(), "{}", pattern.name());
        }
    }

    #[test]
    fn patterns_stay_in_the_rust_and_ecmascript_subset() {
        // Constructs whose meaning differs between the engines, or that one
        // of them lacks.
        let forbidden = [
            r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\b", r"\B", r"\p", r"\P", r"\A", r"\z",
            "(?=", "(?!", "(?<=", "(?<!", "(?i", "(?m", "(?s", "(?x", "(?P<", "&&", "--", "~~",
            "[[",
        ];
        for pattern in Pattern::ALL {
            let source = pattern.source();
            for construct in forbidden {
                assert!(
                    !source.contains(construct),
                    "{}: {construct}",
                    pattern.name()
                );
            }
            // An unescaped `.` matches different characters in each engine.
            let unescaped_dot = source
                .char_indices()
                .any(|(i, c)| c == '.' && !source[..i].ends_with('\\'));
            assert!(!unescaped_dot, "{}: unescaped dot", pattern.name());
            assert!(source.starts_with('^'), "{} is anchored", pattern.name());
        }
    }

    #[test]
    fn scorm12_types() {
        let cases: &[(ValueType, &str, Result<bool, CmiError>)] = &[
            (
                ValueType::String12 { max: 255 },
                &"x".repeat(255),
                Ok(false),
            ),
            (
                ValueType::String12 { max: 255 },
                &"x".repeat(256),
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Identifier12, "obj_1", Ok(false)),
            (
                ValueType::Identifier12,
                "obj 1",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Identifier12, "", Err(CmiError::TypeMismatch)),
            (
                ValueType::Identifier12,
                &"i".repeat(256),
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Score12, "", Ok(false)),
            (ValueType::Score12, "0", Ok(false)),
            (ValueType::Score12, "100", Ok(false)),
            (ValueType::Score12, "99.5", Ok(false)),
            (ValueType::Score12, "100.01", Err(CmiError::OutOfRange)),
            (ValueType::Score12, "-1", Err(CmiError::OutOfRange)),
            (ValueType::Score12, "abc", Err(CmiError::TypeMismatch)),
            (ValueType::Score12, "1e2", Err(CmiError::TypeMismatch)),
            (ValueType::Decimal12, "-12.5", Ok(false)),
            (ValueType::Decimal12, "", Ok(false)),
            (ValueType::Decimal12, ".5", Err(CmiError::TypeMismatch)),
            (
                ValueType::SignedInteger12 { min: -1, max: 100 },
                "-1",
                Ok(false),
            ),
            (
                ValueType::SignedInteger12 { min: -1, max: 100 },
                "101",
                Err(CmiError::OutOfRange),
            ),
            (
                ValueType::SignedInteger12 { min: -1, max: 100 },
                "1.5",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Time12, "23:59:59.99", Ok(false)),
            (ValueType::Time12, "24:00:00", Err(CmiError::TypeMismatch)),
            (ValueType::Time12, "9:00:00", Err(CmiError::TypeMismatch)),
            (ValueType::Timespan12, "0000:00:30.5", Ok(false)),
            (ValueType::Timespan12, "", Ok(false)),
            (
                ValueType::Timespan12,
                "30 minutes",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timespan12,
                "99:99:99",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Result12, "wrong", Ok(false)),
            (ValueType::Result12, "0.5", Ok(false)),
            (
                ValueType::Result12,
                "incorrect",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Feedback12, "anything, really", Ok(false)),
            (
                ValueType::Feedback12,
                &"f".repeat(256),
                Err(CmiError::TypeMismatch),
            ),
        ];
        for (ty, value, expected) in cases {
            assert_eq!(&check(*ty, value), expected, "{ty:?} {value:?}");
        }
    }

    #[test]
    fn scorm2004_scalar_types() {
        let real01 = ValueType::Real {
            min: Some(0.0),
            max: Some(1.0),
        };
        let cases: &[(ValueType, &str, Result<bool, CmiError>)] = &[
            (real01, "0", Ok(false)),
            (real01, "1.0", Ok(false)),
            (real01, "1.0000001", Err(CmiError::OutOfRange)),
            (real01, "-0.1", Err(CmiError::OutOfRange)),
            (real01, "", Err(CmiError::TypeMismatch)),
            (real01, "0,5", Err(CmiError::TypeMismatch)),
            (ValueType::CharacterString { spm: 3 }, "abcd", Ok(true)),
            (ValueType::CharacterString { spm: 3 }, "abc", Ok(false)),
            (
                ValueType::LocalizedString { spm: 3 },
                "{lang=de}abc",
                Ok(false),
            ),
            (
                ValueType::LocalizedString { spm: 3 },
                "{lang=}abc",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::LocalizedString { spm: 3 },
                "{lang=1x}abc",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::LocalizedString { spm: 99 },
                "{foo=bar}abc",
                Ok(false),
            ),
            (
                ValueType::LocalizedString { spm: 99 },
                "{lang=en",
                Ok(false),
            ),
            (ValueType::Language, "", Ok(false)),
            (ValueType::Language, "en-US", Ok(false)),
            (ValueType::Language, "zh-Hant-TW", Ok(false)),
            (ValueType::Language, "en_US", Err(CmiError::TypeMismatch)),
            (ValueType::LongIdentifier, "urn:adl:objective:1", Ok(false)),
            (
                ValueType::LongIdentifier,
                "http://example.com/q?x=1#f",
                Ok(false),
            ),
            (ValueType::LongIdentifier, "obj-1", Ok(false)),
            (ValueType::LongIdentifier, "Übung_1", Ok(false)),
            (ValueType::LongIdentifier, "a%20b", Ok(false)),
            (
                ValueType::LongIdentifier,
                "a b",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::LongIdentifier,
                "a%2",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::LongIdentifier, "", Err(CmiError::TypeMismatch)),
            (
                ValueType::LongIdentifier,
                "a{b}",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::LongIdentifier,
                "urn:",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::LongIdentifier,
                "urn::x",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::LongIdentifier, &"i".repeat(4001), Ok(true)),
            (ValueType::Timestamp, "2005", Ok(false)),
            (
                ValueType::Timestamp,
                "2005-02-28T23:59:59.99+05:30",
                Ok(false),
            ),
            (ValueType::Timestamp, "2004-02-29", Ok(false)),
            (
                ValueType::Timestamp,
                "2005-02-29",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timestamp,
                "1969-12-31",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timestamp,
                "2039-01-01",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timestamp,
                "2005-13-01",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timestamp,
                "2005-01-01T24:00:00",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::Timestamp,
                "2005-01-01T10Z",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Timestamp, "2005-01-01T10:00:00Z", Ok(false)),
            (
                ValueType::Timestamp,
                "2005-01-01T10:00:00.123",
                Err(CmiError::TypeMismatch),
            ),
            (ValueType::Duration, "PT1H", Ok(false)),
            (ValueType::Duration, "PT", Err(CmiError::TypeMismatch)),
            (ValueType::Result2004, "incorrect", Ok(false)),
            (ValueType::Result2004, "wrong", Err(CmiError::TypeMismatch)),
            (ValueType::Result2004, "-3.25", Ok(false)),
            (ValueType::NavRequest, "continue", Ok(false)),
            (ValueType::NavRequest, "{target=intro}choice", Ok(false)),
            (ValueType::NavRequest, "{target=intro}jump", Ok(false)),
            (ValueType::NavRequest, "choice", Err(CmiError::TypeMismatch)),
            (
                ValueType::NavRequest,
                "{target=}choice",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::NavRequest,
                "{target=a b}choice",
                Err(CmiError::TypeMismatch),
            ),
            (
                ValueType::NavRequest,
                "Continue",
                Err(CmiError::TypeMismatch),
            ),
        ];
        for (ty, value, expected) in cases {
            assert_eq!(&check(*ty, value), expected, "{ty:?} {value:?}");
        }
        let third = ValidationContext {
            fourth_edition: false,
            interaction_type: None,
        };
        assert!(
            ValueType::NavRequest
                .validate("{target=intro}jump", third)
                .is_err()
        );
    }

    #[test]
    fn interaction_responses() {
        use InteractionType as T;
        // (type, learner response?, value, spm exceeded or error)
        let cases: &[(T, bool, &str, Result<bool, CmiError>)] = &[
            (T::TrueFalse, true, "true", Ok(false)),
            (T::TrueFalse, true, "t", Err(CmiError::TypeMismatch)),
            (T::Choice, true, "", Ok(false)),
            (T::Choice, true, "a[,]b[,]c", Ok(false)),
            (T::Choice, true, "a[,]a", Err(CmiError::TypeMismatch)),
            (T::Choice, true, "a[,]", Err(CmiError::TypeMismatch)),
            (T::Choice, true, "a,b", Ok(false)),
            (T::Choice, true, "a b", Err(CmiError::TypeMismatch)),
            (T::FillIn, true, "{lang=de}Hund[,]cat", Ok(false)),
            (
                T::FillIn,
                true,
                "{lang=!!}Hund",
                Err(CmiError::TypeMismatch),
            ),
            (
                T::FillIn,
                false,
                "{case_matters=true}{order_matters=false}a[,]b",
                Ok(false),
            ),
            (
                T::FillIn,
                false,
                "{case_matters=yes}a",
                Err(CmiError::TypeMismatch),
            ),
            (T::FillIn, true, &"w".repeat(251), Ok(true)),
            (
                T::LongFillIn,
                true,
                "{lang=fr}Une longue réponse",
                Ok(false),
            ),
            (
                T::LongFillIn,
                false,
                "{case_matters=false}{lang=en}text",
                Ok(false),
            ),
            (T::Likert, true, "strongly_agree", Ok(false)),
            (T::Likert, true, "", Err(CmiError::TypeMismatch)),
            (T::Matching, true, "1[.]a[,]2[.]b", Ok(false)),
            (T::Matching, true, "", Ok(false)),
            (T::Matching, false, "", Err(CmiError::TypeMismatch)),
            (T::Matching, true, "1[.]a[.]b", Err(CmiError::TypeMismatch)),
            (T::Matching, true, "1.a", Err(CmiError::TypeMismatch)),
            (T::Matching, true, "1[.]", Err(CmiError::TypeMismatch)),
            (T::Performance, true, "step1[.]answer[,][.]5[:]7", Ok(false)),
            (
                T::Performance,
                false,
                "{order_matters=false}step1[.]1[:]",
                Ok(false),
            ),
            (T::Performance, true, "[.]", Err(CmiError::TypeMismatch)),
            (
                T::Performance,
                true,
                "step1[.]7[:]5",
                Err(CmiError::TypeMismatch),
            ),
            (T::Performance, true, "", Err(CmiError::TypeMismatch)),
            (T::Sequencing, true, "c[,]b[,]a", Ok(false)),
            (T::Sequencing, true, "", Err(CmiError::TypeMismatch)),
            (T::Sequencing, true, "a[,][,]b", Err(CmiError::TypeMismatch)),
            (T::Numeric, true, "3.14", Ok(false)),
            (T::Numeric, true, "[:]", Err(CmiError::TypeMismatch)),
            (T::Numeric, false, "1[:]2", Ok(false)),
            (T::Numeric, false, "[:]2", Ok(false)),
            (T::Numeric, false, "1[:]", Ok(false)),
            (T::Numeric, false, "3", Err(CmiError::TypeMismatch)),
            (T::Numeric, false, "2[:]1", Err(CmiError::TypeMismatch)),
            (T::Other, true, "", Ok(false)),
            (T::Other, false, "{anything}", Ok(false)),
        ];
        for (kind, learner, value, expected) in cases {
            let context = ValidationContext {
                fourth_edition: true,
                interaction_type: Some(*kind),
            };
            let ty = if *learner {
                ValueType::LearnerResponse
            } else {
                ValueType::CorrectResponsePattern
            };
            let actual = ty
                .validate(value, context)
                .map(|a| a.spm_exceeded)
                .map_err(|r| r.error);
            assert_eq!(&actual, expected, "{kind:?} learner={learner} {value:?}");
        }
    }

    #[test]
    fn choice_patterns_compare_as_sets() {
        let set = PatternUniqueness::Set;
        assert!(set.same("a[,]b", "b[,]a"));
        assert!(!set.same("a[,]b", "a"));
        assert!(PatternUniqueness::Exact.same("a[,]b", "a[,]b"));
        assert!(!PatternUniqueness::Exact.same("a[,]b", "b[,]a"));
        assert!(!PatternUniqueness::None.same("a", "a"));
    }

    #[test]
    fn delimiters_stop_at_unknown_or_repeated_names() {
        let all = [Delimiter::CaseMatters, Delimiter::OrderMatters];
        let parsed = strip_delimiters("{case_matters=true}{lang=en}x", &all).unwrap();
        assert_eq!(parsed.delimiters, vec![(Delimiter::CaseMatters, "true")]);
        assert_eq!(parsed.text, "{lang=en}x");
        let parsed = strip_delimiters("{case_matters=true}{case_matters=false}x", &all).unwrap();
        assert_eq!(parsed.text, "{case_matters=false}x");
    }
}
