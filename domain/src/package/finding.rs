//! The validation report: findings with stable codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Whether a finding stops the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The package imports; the finding is shown to the author.
    Warning,
    /// The package is refused.
    Error,
}

/// Where a finding was made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    /// File inside the package (relative to the ZIP root), if the finding is about one.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u32>,
    /// 1-based column (in characters) in `file`.
    pub column: Option<u32>,
    /// XPath-like path to the element, e.g.
    /// `/manifest/organizations/organization[@identifier='ORG']/item[@identifier='A']`.
    pub path: Option<String>,
}

impl Location {
    /// A location that names only a file.
    pub fn file(file: impl Into<String>) -> Location {
        Location {
            file: Some(file.into()),
            ..Location::default()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(file) = &self.file {
            f.write_str(file)?;
            wrote = true;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            wrote = true;
        }
        if let Some(path) = &self.path {
            if wrote {
                f.write_str(" ")?;
            }
            f.write_str(path)?;
        }
        Ok(())
    }
}

macro_rules! finding_codes {
    ($( $(#[$meta:meta])* $variant:ident => ($code:literal, $severity:ident), )+) => {
        /// The stable, snake_case identity of a kind of finding. Each code has a
        /// fixed severity.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum FindingCode {
            $( $(#[$meta])* $variant, )+
        }

        impl FindingCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant),+];

            /// The snake_case code.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( FindingCode::$variant => $code, )+
                }
            }

            /// Whether findings with this code stop the import.
            pub fn severity(self) -> Severity {
                match self {
                    $( FindingCode::$variant => Severity::$severity, )+
                }
            }
        }
    };
}

finding_codes! {
    // Recognition and reading.
    /// No manifest of any standard (`imsmanifest.xml`, `cmi5.xml`, `tincan.xml`, AICC files) was found.
    ManifestMissing => ("manifest_missing", Error),
    /// The manifest is larger than the configured limit.
    ManifestTooLarge => ("manifest_too_large", Error),
    /// The manifest could not be read from the package.
    ManifestUnreadable => ("manifest_unreadable", Error),
    /// The manifest is not well-formed XML.
    ManifestNotWellFormed => ("manifest_not_well_formed", Error),
    /// The XML contains a DOCTYPE, DTD or entity declaration; these are never processed.
    XmlDoctypeForbidden => ("xml_doctype_forbidden", Error),
    /// The XML refers to an entity it cannot define; the reference is kept as text.
    XmlUnknownEntity => ("xml_unknown_entity", Warning),
    /// The declared or detected encoding did not match the bytes; they were decoded as best possible.
    EncodingMismatch => ("encoding_mismatch", Warning),
    /// The root element is not the one the standard requires.
    UnexpectedRootElement => ("unexpected_root_element", Error),
    /// An element is in an unexpected or missing namespace; it was matched by local name.
    UnexpectedNamespace => ("unexpected_namespace", Warning),
    /// The manifest sits in a nested folder; that folder is the package root.
    NestedPackageRoot => ("nested_package_root", Warning),
    /// Several standards' manifests are present; one was chosen.
    MultipleStandards => ("multiple_standards", Warning),
    /// The package is not of the standard the upload claimed.
    StandardMismatch => ("standard_mismatch", Error),
    /// A file name matched only when ignoring case; the file on disk is used.
    PathCaseMismatch => ("path_case_mismatch", Warning),
    /// A path or URL in the manifest escapes the package root or is otherwise unsafe.
    UnsafePath => ("unsafe_path", Error),

    // SCORM.
    /// The SCORM edition could not be determined; the closest edition is used.
    UnknownEdition => ("unknown_edition", Warning),
    /// `schemaversion` and the namespaces or attributes disagree about the edition.
    EditionMarkersConflict => ("edition_markers_conflict", Warning),
    /// Two elements of the same kind share an identifier.
    DuplicateIdentifier => ("duplicate_identifier", Error),
    /// An item and a resource (or organization) share an identifier (xs:ID violation tolerated).
    IdentifierReusedAcrossKinds => ("identifier_reused_across_kinds", Warning),
    /// An element lacks its identifier; one was generated.
    MissingIdentifier => ("missing_identifier", Warning),
    /// An `identifierref` names no resource or sub-manifest.
    DanglingIdentifierref => ("dangling_identifierref", Error),
    /// A `dependency` names no resource.
    DanglingDependency => ("dangling_dependency", Warning),
    /// `organizations@default` names no organization; the first is used.
    DefaultOrganizationDangling => ("default_organization_dangling", Warning),
    /// The manifest has no organization.
    NoOrganization => ("no_organization", Error),
    /// The organization to launch has no items.
    EmptyOrganization => ("empty_organization", Error),
    /// No activity of the course can be launched.
    NoLaunchableActivity => ("no_launchable_activity", Error),
    /// A launched resource has no `href`.
    ResourceWithoutHref => ("resource_without_href", Error),
    /// The file an activity launches is not in the package.
    LaunchFileMissing => ("launch_file_missing", Error),
    /// A file a resource lists is not in the package.
    ResourceFileMissing => ("resource_file_missing", Warning),
    /// A launched resource has no `scormType`; it is treated as an asset.
    ScormTypeMissing => ("scorm_type_missing", Warning),
    /// In SCORM 2004 an item with children carries an `identifierref`; it is ignored.
    ClusterWithIdentifierref => ("cluster_with_identifierref", Warning),
    /// An item has neither children nor an `identifierref`.
    LeafNotLaunchable => ("leaf_not_launchable", Warning),
    /// An attribute or element value is invalid; the default is used.
    InvalidValue => ("invalid_value", Warning),
    /// A required element or attribute is missing.
    MissingRequired => ("missing_required", Error),
    /// A title is missing; the identifier is used.
    MissingTitle => ("missing_title", Warning),
    /// `imsss:sequencing@IDRef` names no sequencing in the collection.
    DanglingSequencingRef => ("dangling_sequencing_ref", Warning),
    /// An `adlseq:objective` names no objective of its activity.
    DanglingObjectiveRef => ("dangling_objective_ref", Warning),

    // AICC.
    /// A required AICC course file is missing.
    AiccFileMissing => ("aicc_file_missing", Error),
    /// An AICC record could not be parsed and was skipped.
    AiccMalformedRecord => ("aicc_malformed_record", Warning),
    /// The course structure names an element that no file defines.
    AiccUnknownMember => ("aicc_unknown_member", Warning),
    /// An AU is not placed in the course structure; it is added under the root.
    AiccUnplacedAu => ("aicc_unplaced_au", Warning),
    /// The course structure contains a cycle.
    AiccStructureCycle => ("aicc_structure_cycle", Error),

    // Tin Can.
    /// No activity of `tincan.xml` has a launch.
    TincanNoLaunch => ("tincan_no_launch", Error),
    /// Several activities of `tincan.xml` have a launch; the first is used.
    TincanMultipleLaunches => ("tincan_multiple_launches", Warning),

    // cmi5.
    /// The upload claims cmi5 but the package has no `cmi5.xml`.
    Cmi5ManifestMissing => ("cmi5_manifest_missing", Error),
    /// An id that must be an IRI is not one.
    Cmi5InvalidId => ("cmi5_invalid_id", Error),
    /// An AU URL is relative but there is no package to resolve it in.
    Cmi5RelativeUrlWithoutPackage => ("cmi5_relative_url_without_package", Error),
    /// An AU URL's query string uses a name the LMS adds at launch.
    Cmi5LaunchParameterCollision => ("cmi5_launch_parameter_collision", Error),
    /// An attribute value is outside the cmi5 schema.
    Cmi5InvalidValue => ("cmi5_invalid_value", Error),
    /// An objective reference names no course objective.
    Cmi5UnknownObjective => ("cmi5_unknown_objective", Error),
    /// Elements are missing, out of order or unknown per `CourseStructure.xsd`.
    Cmi5SchemaViolation => ("cmi5_schema_violation", Error),
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found while importing a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code.
    pub code: FindingCode,
    /// `code.severity()`, stored for readers of the report.
    pub severity: Severity,
    /// Lowercase human-readable message.
    pub message: String,
    /// Where it was found.
    pub location: Location,
}

impl Finding {
    /// A finding with the code's severity.
    pub fn new(code: FindingCode, message: impl Into<String>, location: Location) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            message: message.into(),
            location,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{severity}[{}]: {}", self.code, self.message)?;
        let location = self.location.to_string();
        if !location.is_empty() {
            write!(f, " ({location})")?;
        }
        Ok(())
    }
}

/// Every finding of one import, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The findings.
    pub findings: Vec<Finding>,
}

impl ValidationReport {
    /// Adds a finding.
    pub fn push(&mut self, code: FindingCode, message: impl Into<String>, location: Location) {
        self.findings.push(Finding::new(code, message, location));
    }

    /// Whether any finding stops the import.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The findings that stop the import.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The findings that do not.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// Whether a finding with `code` exists.
    pub fn contains(&self, code: FindingCode) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }

    /// The distinct codes, in first-seen order.
    pub fn codes(&self) -> Vec<FindingCode> {
        let mut codes = Vec::new();
        for finding in &self.findings {
            if !codes.contains(&finding.code) {
                codes.push(finding.code);
            }
        }
        codes
    }
}
