//! Package recognition and manifest parsing for course import.
//!
//! The server reads the uploaded ZIP and hands this module a [`PackageFiles`]
//! view of it; [`import_package`] recognises the standard (SCORM 1.2, SCORM
//! 2004 2nd–4th edition, AICC, xAPI/Tin Can, cmi5), parses its manifest into
//! one typed [`Course`] and returns it with a [`ValidationReport`], or refuses
//! the package when the report has errors. A bare `cmi5.xml` upload goes
//! through [`import_cmi5_xml`].
//!
//! ```
//! use domain::package::{import_package, ImportOptions, LaunchUrl, MemoryPackage, Standard};
//!
//! let manifest = r#"<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
//!     xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
//!   <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
//!   <organizations default="O"><organization identifier="O"><title>Course</title>
//!     <item identifier="I" identifierref="R" parameters="?page=2"><title>Lesson</title></item>
//!   </organization></organizations>
//!   <resources>
//!     <resource identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html"/>
//!   </resources>
//! </manifest>"#;
//! let package = MemoryPackage::new()
//!     .with("course/imsmanifest.xml", manifest)
//!     .with("course/index.html", "<html></html>");
//!
//! let imported = import_package(&package, &ImportOptions::default()).expect("imports");
//! assert_eq!(imported.course.standard, Standard::Scorm12);
//! assert_eq!(imported.course.package_root.as_ref().unwrap().as_str(), "course");
//! let launch = imported.course.launchable()[0].launch.as_ref().unwrap();
//! assert_eq!(launch.url.to_url_string(), "index.html?page=2");
//! // The nested root folder is reported, but does not stop the import.
//! assert!(!imported.report.has_errors());
//! ```
//!
//! Invariants:
//! - no I/O: bytes arrive through [`PackageFiles::read`], bounded by
//!   [`ImportOptions::manifest_size_limit`];
//! - no DTD is processed and no entity is expanded;
//! - every path in a [`Course`] is a [`PackagePath`]: relative, never
//!   escaping the package root.

mod aicc;
mod cmi5;
mod course;
mod finding;
mod imsss;
mod path;
mod scorm;
mod tincan;
mod tool;
mod url;
mod xml;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use cmi5::{LAUNCH_PARAMETERS as CMI5_LAUNCH_PARAMETERS, is_iri};
pub use course::{
    Activity, ActivityDefinition, AiccAu, AiccCourse, AuthoringTool, AuthoringToolKind, Cmi5Au,
    CompletionRequirement, CompletionThreshold, Course, CourseObjective, GlobalScopes, HideLmsUi,
    Launch, LaunchContent, LaunchMethod, LaunchUrl, MoveOn, Resource, RuntimeInit,
    Scorm2004Edition, ScormType, SharedDataMap, Standard, StandardKind, TimeLimitAction,
};
pub use finding::{Finding, FindingCode, Location, Severity, ValidationReport};
pub use path::{PackagePath, PathError};
pub use url::append_parameters;

/// Default for [`ImportOptions::manifest_size_limit`]: 16 MiB.
pub const DEFAULT_MANIFEST_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// The files of an uploaded package, as the server reads them from the ZIP.
pub trait PackageFiles {
    /// Every file (not folder) in the package.
    fn list(&self) -> Vec<PackagePath>;

    /// Whether `path` is a file in the package.
    fn exists(&self, path: &PackagePath) -> bool;

    /// The contents of `path`, or `None` if there is no such file. Reading
    /// stops after `limit` bytes with [`ReadError::TooLarge`].
    fn read(&self, path: &PackagePath, limit: u64) -> Result<Option<Vec<u8>>, ReadError>;
}

/// Why [`PackageFiles::read`] could not return a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file is larger than the limit.
    #[error("file is larger than {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: u64,
    },
    /// The archive entry could not be read (corrupt, unsupported compression).
    #[error("file could not be read: {reason}")]
    Unreadable {
        /// Lowercase reason from the reader.
        reason: String,
    },
}

/// A package held in memory: for tests and for small synthetic packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryPackage {
    files: BTreeMap<PackagePath, Vec<u8>>,
}

impl MemoryPackage {
    /// An empty package.
    pub fn new() -> MemoryPackage {
        MemoryPackage::default()
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: PackagePath, contents: impl Into<Vec<u8>>) {
        self.files.insert(path, contents.into());
    }

    /// Adds a file at `path`, which must be a valid [`PackagePath`].
    pub fn with(mut self, path: &str, contents: impl Into<Vec<u8>>) -> MemoryPackage {
        let path = PackagePath::parse(path).expect("test paths are valid package paths");
        self.insert(path, contents);
        self
    }
}

impl PackageFiles for MemoryPackage {
    fn list(&self) -> Vec<PackagePath> {
        self.files.keys().cloned().collect()
    }

    fn exists(&self, path: &PackagePath) -> bool {
        self.files.contains_key(path)
    }

    fn read(&self, path: &PackagePath, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
        match self.files.get(path) {
            None => Ok(None),
            Some(bytes) if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit => {
                Err(ReadError::TooLarge { limit })
            }
            Some(bytes) => Ok(Some(bytes.clone())),
        }
    }
}

/// Settings of one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Largest manifest (or AICC course file) read, in bytes.
    pub manifest_size_limit: u64,
    /// The standard the uploader said the package is; a package of another
    /// standard is refused (`standard_mismatch`, `cmi5_manifest_missing`).
    pub expected_standard: Option<StandardKind>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            manifest_size_limit: DEFAULT_MANIFEST_SIZE_LIMIT,
            expected_standard: None,
        }
    }
}

/// A package that imported: the course and the warnings found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedPackage {
    /// The course.
    pub course: Course,
    /// Warnings only.
    pub report: ValidationReport,
}

/// A package that was refused; the report has at least one error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("package rejected: {}", first_error(.report))]
pub struct ImportRejected {
    /// Every finding, errors and warnings.
    pub report: ValidationReport,
}

fn first_error(report: &ValidationReport) -> String {
    report
        .errors()
        .next()
        .map_or_else(|| "no error recorded".to_owned(), ToString::to_string)
}

/// Where a package's manifest was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognition {
    /// The standard chosen.
    pub kind: StandardKind,
    /// Folder holding the manifest; `None` for the ZIP root.
    pub package_root: Option<PackagePath>,
    /// The manifest (for AICC the `.crs` file), relative to the ZIP root.
    pub manifest: PackagePath,
    /// Other standards whose manifests are also present.
    pub also_present: Vec<StandardKind>,
}

/// Files that archivers add and that do not count as content when looking
/// for a single nested root folder.
fn is_archive_noise(path: &PackagePath) -> bool {
    path.segments().any(|segment| segment == "__MACOSX")
        || matches!(
            path.file_name().to_ascii_lowercase().as_str(),
            ".ds_store" | "thumbs.db" | "desktop.ini"
        )
}

/// Finds the manifest: at the ZIP root, or under a chain of folders that each
/// contain nothing but one sub-folder. Preference when several standards are
/// present: `expected`, then cmi5, Tin Can, SCORM, AICC.
pub fn recognize(files: &[PackagePath], expected: Option<StandardKind>) -> Option<Recognition> {
    let mut prefix: Option<String> = None;
    loop {
        let here: Vec<&PackagePath> = files
            .iter()
            .filter(|path| !is_archive_noise(path))
            .filter(|path| match &prefix {
                None => true,
                Some(prefix) => path
                    .as_str()
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/')),
            })
            .collect();
        let relative = |path: &PackagePath| -> String {
            match &prefix {
                None => path.as_str().to_owned(),
                Some(prefix) => path.as_str()[prefix.len() + 1..].to_owned(),
            }
        };
        let mut direct: Vec<&PackagePath> = Vec::new();
        let mut folders: Vec<String> = Vec::new();
        for path in &here {
            let rest = relative(path);
            match rest.split_once('/') {
                None => direct.push(path),
                Some((folder, _)) => {
                    if !folders.iter().any(|known| known == folder) {
                        folders.push(folder.to_owned());
                    }
                }
            }
        }
        let mut found: Vec<(StandardKind, PackagePath)> = Vec::new();
        let named = |name: &str| {
            direct
                .iter()
                .find(|path| path.file_name() == name)
                .or_else(|| {
                    direct
                        .iter()
                        .find(|path| path.file_name().eq_ignore_ascii_case(name))
                })
                .map(|path| (*path).clone())
        };
        if let Some(path) = named("cmi5.xml") {
            found.push((StandardKind::Cmi5, path));
        }
        if let Some(path) = named("tincan.xml") {
            found.push((StandardKind::Xapi, path));
        }
        if let Some(path) = named("imsmanifest.xml") {
            found.push((StandardKind::Scorm, path));
        }
        if let Some(path) = aicc::find_course_file(&direct) {
            found.push((StandardKind::Aicc, path));
        }
        if !found.is_empty() {
            let chosen = expected
                .and_then(|kind| found.iter().position(|(found, _)| *found == kind))
                .unwrap_or(0);
            let (kind, manifest) = found.remove(chosen);
            let package_root = prefix.as_deref().map(|prefix| {
                PackagePath::parse(prefix).expect("prefixes are built from package paths")
            });
            return Some(Recognition {
                kind,
                package_root,
                manifest,
                also_present: found.into_iter().map(|(kind, _)| kind).collect(),
            });
        }
        if direct.is_empty() && folders.len() == 1 {
            let folder = folders.remove(0);
            prefix = Some(match prefix {
                None => folder,
                Some(prefix) => format!("{prefix}/{folder}"),
            });
        } else {
            return None;
        }
    }
}

/// Imports a package read from a ZIP.
pub fn import_package(
    files: &impl PackageFiles,
    options: &ImportOptions,
) -> Result<ImportedPackage, ImportRejected> {
    let listing = files.list();
    let mut report = ValidationReport::default();
    let Some(recognition) = recognize(&listing, options.expected_standard) else {
        if options.expected_standard == Some(StandardKind::Cmi5) {
            report.push(
                FindingCode::Cmi5ManifestMissing,
                "the package is declared as cmi5 but has no cmi5.xml at its root",
                Location::default(),
            );
        }
        let deeper: Vec<&str> = listing
            .iter()
            .filter(|path| {
                let name = path.file_name().to_ascii_lowercase();
                matches!(name.as_str(), "imsmanifest.xml" | "cmi5.xml" | "tincan.xml")
            })
            .map(PackagePath::as_str)
            .take(3)
            .collect();
        let message = if deeper.is_empty() {
            "no imsmanifest.xml, cmi5.xml, tincan.xml or aicc course files found".to_owned()
        } else {
            format!(
                "no manifest at the package root or in a single root folder (found {})",
                deeper.join(", ")
            )
        };
        report.push(FindingCode::ManifestMissing, message, Location::default());
        return Err(ImportRejected { report });
    };
    if let Some(expected) = options.expected_standard
        && expected != recognition.kind
    {
        let code = if expected == StandardKind::Cmi5 {
            FindingCode::Cmi5ManifestMissing
        } else {
            FindingCode::StandardMismatch
        };
        report.push(
            code,
            format!(
                "the package is declared as {} but is {}",
                kind_name(expected),
                kind_name(recognition.kind)
            ),
            Location::file(recognition.manifest.as_str()),
        );
    }
    if let Some(root) = &recognition.package_root {
        report.push(
            FindingCode::NestedPackageRoot,
            format!(
                "the manifest is in folder {:?}, used as the package root",
                root.as_str()
            ),
            Location::file(recognition.manifest.as_str()),
        );
    }
    if !recognition.also_present.is_empty() {
        let others: Vec<&str> = recognition
            .also_present
            .iter()
            .map(|kind| kind_name(*kind))
            .collect();
        report.push(
            FindingCode::MultipleStandards,
            format!(
                "imported as {}; the package also has manifests for {}",
                kind_name(recognition.kind),
                others.join(", ")
            ),
            Location::file(recognition.manifest.as_str()),
        );
    }
    let mut context = Context::new(
        Some(files as &dyn PackageFiles),
        &listing,
        &recognition,
        options,
        report,
    );
    let course = match recognition.kind {
        StandardKind::Scorm => scorm::import(&mut context),
        StandardKind::Cmi5 => cmi5::import(&mut context, None),
        StandardKind::Xapi => tincan::import(&mut context),
        StandardKind::Aicc => aicc::import(&mut context),
    };
    context.finish(course)
}

/// Imports a bare `cmi5.xml` upload: every AU URL must be absolute.
pub fn import_cmi5_xml(
    bytes: &[u8],
    options: &ImportOptions,
) -> Result<ImportedPackage, ImportRejected> {
    let manifest = PackagePath::parse("cmi5.xml").expect("a valid literal path");
    let recognition = Recognition {
        kind: StandardKind::Cmi5,
        package_root: None,
        manifest,
        also_present: Vec::new(),
    };
    let mut context = Context::new(
        None,
        &[],
        &recognition,
        options,
        ValidationReport::default(),
    );
    let course = cmi5::import(&mut context, Some(bytes));
    context.finish(course)
}

fn kind_name(kind: StandardKind) -> &'static str {
    match kind {
        StandardKind::Scorm => "scorm",
        StandardKind::Aicc => "aicc",
        StandardKind::Xapi => "xapi (tin can)",
        StandardKind::Cmi5 => "cmi5",
    }
}

/// State shared by the parsers of one import.
pub(crate) struct Context<'a> {
    files: Option<&'a dyn PackageFiles>,
    /// Files relative to the package root.
    relative: HashSet<PackagePath>,
    lowercase: HashMap<String, PackagePath>,
    /// Case mismatches already reported.
    reported_case: HashSet<PackagePath>,
    pub(crate) recognition: &'a Recognition,
    pub(crate) options: &'a ImportOptions,
    pub(crate) report: ValidationReport,
}

impl<'a> Context<'a> {
    fn new(
        files: Option<&'a dyn PackageFiles>,
        listing: &[PackagePath],
        recognition: &'a Recognition,
        options: &'a ImportOptions,
        report: ValidationReport,
    ) -> Context<'a> {
        let relative: HashSet<PackagePath> = listing
            .iter()
            .filter_map(|path| match &recognition.package_root {
                None => Some(path.clone()),
                Some(root) => path.strip_prefix(root),
            })
            .collect();
        let mut lowercase = HashMap::new();
        for path in &relative {
            lowercase
                .entry(path.as_str().to_lowercase())
                .or_insert_with(|| path.clone());
        }
        Context {
            files,
            relative,
            lowercase,
            reported_case: HashSet::new(),
            recognition,
            options,
            report,
        }
    }

    fn finish(mut self, course: Option<Course>) -> Result<ImportedPackage, ImportRejected> {
        match course {
            Some(course) if !self.report.has_errors() => Ok(ImportedPackage {
                course,
                report: self.report,
            }),
            _ => {
                if !self.report.has_errors() {
                    self.report.push(
                        FindingCode::ManifestUnreadable,
                        "the manifest could not be imported",
                        Location::file(self.recognition.manifest.as_str()),
                    );
                }
                Err(ImportRejected {
                    report: self.report,
                })
            }
        }
    }

    /// Whether the import reads from a package (false for a bare cmi5.xml).
    pub(crate) fn has_package(&self) -> bool {
        self.files.is_some()
    }

    /// The manifest's path as shown in locations.
    pub(crate) fn manifest_name(&self) -> String {
        self.recognition.manifest.as_str().to_owned()
    }

    /// A path relative to the package root, as a ZIP path.
    pub(crate) fn zip_path(&self, relative: &PackagePath) -> PackagePath {
        match &self.recognition.package_root {
            None => relative.clone(),
            Some(root) => relative.under(root),
        }
    }

    /// Files relative to the package root, sorted.
    pub(crate) fn relative_files(&self) -> Vec<&PackagePath> {
        let mut files: Vec<&PackagePath> = self.relative.iter().collect();
        files.sort();
        files
    }

    /// Finds `relative` in the package; a match that differs only in case is
    /// accepted with a `path_case_mismatch` warning and returned.
    pub(crate) fn locate(
        &mut self,
        relative: &PackagePath,
        location: &Location,
    ) -> Option<PackagePath> {
        let files = self.files?;
        if files.exists(&self.zip_path(relative)) {
            return Some(relative.clone());
        }
        let actual = self
            .lowercase
            .get(&relative.as_str().to_lowercase())
            .cloned()?;
        if self.reported_case.insert(relative.clone()) {
            self.report.push(
                FindingCode::PathCaseMismatch,
                format!("{relative} is in the package as {actual}"),
                location.clone(),
            );
        }
        Some(actual)
    }

    /// Reads a text file relative to the package root and decodes it; size,
    /// read and encoding problems become findings and give `None`.
    pub(crate) fn read_text(&mut self, relative: &PackagePath) -> Option<String> {
        let zip_path = self.zip_path(relative);
        let shown = zip_path.as_str().to_owned();
        let files = self.files?;
        match files.read(&zip_path, self.options.manifest_size_limit) {
            Ok(Some(bytes)) => {
                let decoded = xml::decode(&bytes);
                if let Some(mismatch) = decoded.mismatch {
                    self.report.push(
                        FindingCode::EncodingMismatch,
                        mismatch,
                        Location::file(&shown),
                    );
                }
                Some(decoded.text)
            }
            Ok(None) => {
                self.report.push(
                    FindingCode::ManifestUnreadable,
                    format!("{shown} is listed but could not be found"),
                    Location::file(&shown),
                );
                None
            }
            Err(ReadError::TooLarge { limit }) => {
                self.report.push(
                    FindingCode::ManifestTooLarge,
                    format!("{shown} is larger than the limit of {limit} bytes"),
                    Location::file(&shown),
                );
                None
            }
            Err(err @ ReadError::Unreadable { .. }) => {
                self.report.push(
                    FindingCode::ManifestUnreadable,
                    format!("{shown}: {err}"),
                    Location::file(&shown),
                );
                None
            }
        }
    }

    /// Decodes and parses XML text, reporting refusals; `file` names it in locations.
    pub(crate) fn parse_xml(&mut self, text: &str, file: &str) -> Option<xml::Document> {
        match xml::parse(text) {
            Ok(document) => {
                if !document.unknown_entities.is_empty() {
                    self.report.push(
                        FindingCode::XmlUnknownEntity,
                        format!(
                            "undeclared entities kept as text: {}",
                            document
                                .unknown_entities
                                .iter()
                                .map(|name| format!("&{name};"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        Location::file(file),
                    );
                }
                Some(document)
            }
            Err(xml::XmlError::Doctype { line, column }) => {
                self.report.push(
                    FindingCode::XmlDoctypeForbidden,
                    "the xml declares a doctype; dtds and entity declarations are refused",
                    Location {
                        file: Some(file.to_owned()),
                        line: Some(line),
                        column: Some(column),
                        path: None,
                    },
                );
                None
            }
            Err(xml::XmlError::NotWellFormed {
                message,
                line,
                column,
            }) => {
                self.report.push(
                    FindingCode::ManifestNotWellFormed,
                    format!("xml is not well-formed: {}", message.to_lowercase()),
                    Location {
                        file: Some(file.to_owned()),
                        line: Some(line),
                        column: Some(column),
                        path: None,
                    },
                );
                None
            }
        }
    }

    /// A location in the manifest at `element`, with an XPath-like `path`.
    pub(crate) fn at(&self, element: &xml::Element, path: &str) -> Location {
        Location {
            file: Some(self.manifest_name()),
            line: Some(element.line),
            column: Some(element.column),
            path: Some(path.to_owned()),
        }
    }

    /// Adds a finding.
    pub(crate) fn push(
        &mut self,
        code: FindingCode,
        message: impl Into<String>,
        location: Location,
    ) {
        self.report.push(code, message, location);
    }
}

/// Parses a decimal, tolerating surrounding whitespace and a decimal comma.
pub(crate) fn parse_decimal(text: &str) -> Option<f64> {
    let text = text.trim();
    let value: f64 = text
        .parse()
        .ok()
        .or_else(|| text.replace(',', ".").parse().ok())?;
    value.is_finite().then_some(value)
}

/// Parses an `xs:boolean`, tolerating case and whitespace.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}
