//! Courses and their imports: the `Import` aggregate (one upload, from
//! start to success or failure) and the `Course` aggregate (its versions,
//! title, tags, deletion).
//!
//! An import's completion is a `Course` event (`CourseImported`, with the
//! `import_id`), so a course version exists exactly when its import is
//! complete: nothing half-imported is ever visible.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::package::{AuthoringTool, Course as Structure, Finding, Standard};

/// Longest course title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Most tags on one course.
pub const MAX_TAGS: usize = 50;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// A course id: client-chosen (like SCORM Cloud's) or drawn by the server;
/// 1–128 of `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CourseId(String);

/// A string that is not a valid [`CourseId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "course id must be 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-': {0:?}"
)]
pub struct InvalidCourseId(pub String);

impl CourseId {
    pub fn parse(raw: &str) -> Result<CourseId, InvalidCourseId> {
        let valid = (1..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !raw.starts_with(['.', '-']);
        if valid {
            Ok(CourseId(raw.to_owned()))
        } else {
            Err(InvalidCourseId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CourseId {
    type Error = InvalidCourseId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        CourseId::parse(&value)
    }
}

impl From<CourseId> for String {
    fn from(id: CourseId) -> String {
        id.0
    }
}

impl fmt::Display for CourseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One file of a course version, stored content-addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the package root (the folder holding the manifest).
    pub path: String,
    /// SHA-256 of the bytes: the blob key.
    pub blob: String,
    pub size: u64,
    pub content_type: String,
}

/// Where an import's package came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportSource {
    Upload { file_name: Option<String> },
    Url { url: String },
    Cli { file_name: String },
}

/// The uploaded package itself, kept for download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageBlob {
    /// SHA-256 of the ZIP: its blob key.
    pub blob: String,
    pub size: u64,
}

/// Why an archive was refused before (or while) its manifest was read. Each
/// has a stable code; manifest problems use the parser's finding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveProblem {
    NotAZip,
    EncryptedZip,
    UnsafePath,
    SymlinkEntry,
    InvalidFileName,
    DuplicateEntry,
    TooManyEntries,
    EntryTooLarge,
    PackageTooLarge,
    ZipBomb,
    UnsupportedCompression,
    CorruptZip,
    UploadTooLarge,
    DownloadFailed,
    Interrupted,
}

impl ArchiveProblem {
    pub fn code(self) -> &'static str {
        match self {
            ArchiveProblem::NotAZip => "not_a_zip",
            ArchiveProblem::EncryptedZip => "encrypted_zip",
            ArchiveProblem::UnsafePath => "unsafe_path",
            ArchiveProblem::SymlinkEntry => "symlink_entry",
            ArchiveProblem::InvalidFileName => "invalid_file_name",
            ArchiveProblem::DuplicateEntry => "duplicate_entry",
            ArchiveProblem::TooManyEntries => "too_many_entries",
            ArchiveProblem::EntryTooLarge => "entry_too_large",
            ArchiveProblem::PackageTooLarge => "package_too_large",
            ArchiveProblem::ZipBomb => "zip_bomb",
            ArchiveProblem::UnsupportedCompression => "unsupported_compression",
            ArchiveProblem::CorruptZip => "corrupt_zip",
            ArchiveProblem::UploadTooLarge => "upload_too_large",
            ArchiveProblem::DownloadFailed => "download_failed",
            ArchiveProblem::Interrupted => "import_interrupted",
        }
    }
}

/// A course version ready to be recorded: everything the import found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedVersion {
    pub structure: Structure,
    pub warnings: Vec<Finding>,
    pub files: Vec<FileEntry>,
    pub package: PackageBlob,
}

// ---------------------------------------------------------------- Import

#[derive(Debug, Clone, PartialEq)]
pub enum ImportCommand {
    Start {
        import_id: String,
        course_id: CourseId,
        title: Option<String>,
        source: ImportSource,
        at: DateTime<Utc>,
    },
    Fail {
        code: String,
        message: String,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImportEvent {
    CourseImportStarted {
        import_id: String,
        course_id: CourseId,
        title: Option<String>,
        source: ImportSource,
        at: DateTime<Utc>,
    },
    CourseImportFailed {
        import_id: String,
        course_id: CourseId,
        code: String,
        message: String,
        findings: Vec<Finding>,
        at: DateTime<Utc>,
    },
}

impl ImportEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            ImportEvent::CourseImportStarted { .. } => "CourseImportStarted",
            ImportEvent::CourseImportFailed { .. } => "CourseImportFailed",
        }
    }
}

impl DomainEvent for ImportEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("import {0} was already started")]
    AlreadyStarted(String),
    #[error("no such import")]
    NotStarted,
    #[error("import {0} has already failed")]
    AlreadyFailed(String),
    #[error("course title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    started: Option<(String, CourseId)>,
    failed: bool,
}

impl Import {
    pub fn decide(&self, command: ImportCommand) -> Result<Vec<ImportEvent>, ImportError> {
        match command {
            ImportCommand::Start {
                import_id,
                course_id,
                title,
                source,
                at,
            } => {
                if self.started.is_some() {
                    return Err(ImportError::AlreadyStarted(import_id));
                }
                Ok(vec![ImportEvent::CourseImportStarted {
                    import_id,
                    course_id,
                    title: valid_title(title)?,
                    source,
                    at,
                }])
            }
            ImportCommand::Fail {
                code,
                message,
                findings,
                at,
            } => {
                let (import_id, course_id) = self.started.clone().ok_or(ImportError::NotStarted)?;
                if self.failed {
                    return Err(ImportError::AlreadyFailed(import_id));
                }
                Ok(vec![ImportEvent::CourseImportFailed {
                    import_id,
                    course_id,
                    code,
                    message,
                    findings,
                    at,
                }])
            }
        }
    }
}

fn valid_title(title: Option<String>) -> Result<Option<String>, ImportError> {
    let title = title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if title
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS)
    {
        return Err(ImportError::TitleTooLong);
    }
    Ok(title)
}

impl Aggregate for Import {
    const TYPE: &'static str = "import";
    type Command = ImportCommand;
    type Event = ImportEvent;
    type Error = ImportError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            ImportEvent::CourseImportStarted {
                import_id,
                course_id,
                ..
            } => self.started = Some((import_id, course_id)),
            ImportEvent::CourseImportFailed { .. } => self.failed = true,
        }
    }
}

// ---------------------------------------------------------------- Course

#[derive(Debug, Clone, PartialEq)]
pub enum CourseCommand {
    /// Records a new version from a finished import and publishes it: new
    /// registrations use it; existing ones keep theirs.
    Import {
        import_id: String,
        course_id: CourseId,
        /// The uploader's title; the manifest's otherwise.
        title: Option<String>,
        version: Box<ImportedVersion>,
        at: DateTime<Utc>,
    },
    Update {
        title: Option<String>,
        tags: Option<Vec<String>>,
        at: DateTime<Utc>,
    },
    Delete {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CourseEvent {
    CourseImported {
        import_id: String,
        course_id: CourseId,
        version: u32,
        title: String,
        standard: Standard,
        authoring_tool: Option<AuthoringTool>,
        structure: Box<Structure>,
        warnings: Vec<Finding>,
        files: Vec<FileEntry>,
        package: PackageBlob,
        at: DateTime<Utc>,
    },
    CourseVersionPublished {
        course_id: CourseId,
        version: u32,
        at: DateTime<Utc>,
    },
    CourseUpdated {
        course_id: CourseId,
        title: String,
        tags: Vec<String>,
        at: DateTime<Utc>,
    },
    CourseDeleted {
        course_id: CourseId,
        at: DateTime<Utc>,
    },
}

impl CourseEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            CourseEvent::CourseImported { .. } => "CourseImported",
            CourseEvent::CourseVersionPublished { .. } => "CourseVersionPublished",
            CourseEvent::CourseUpdated { .. } => "CourseUpdated",
            CourseEvent::CourseDeleted { .. } => "CourseDeleted",
        }
    }
}

impl DomainEvent for CourseEvent {
    fn event_type(&self) -> String {
        self.kind().to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CourseError {
    #[error("no such course")]
    NotFound,
    #[error("course title must not be empty")]
    EmptyTitle,
    #[error("course title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("a course has at most {MAX_TAGS} tags")]
    TooManyTags,
    #[error("tags must be 1 to {MAX_TAG_CHARS} characters: {0:?}")]
    InvalidTag(String),
}

/// The write model of a course.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Course {
    id: Option<CourseId>,
    versions: u32,
    title: String,
    tags: Vec<String>,
    deleted: bool,
}

impl Course {
    pub fn decide(&self, command: CourseCommand) -> Result<Vec<CourseEvent>, CourseError> {
        match command {
            CourseCommand::Import {
                import_id,
                course_id,
                title,
                version,
                at,
            } => {
                let title = match title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
                    Some(title) => title,
                    // A new version of a live course keeps its title.
                    None if self.id.is_some() && !self.deleted => self.title.clone(),
                    None if !version.structure.title.trim().is_empty() => {
                        version.structure.title.trim().to_owned()
                    }
                    None => course_id.to_string(),
                };
                if title.chars().count() > MAX_TITLE_CHARS {
                    return Err(CourseError::TitleTooLong);
                }
                let number = self.versions + 1;
                let ImportedVersion {
                    structure,
                    warnings,
                    files,
                    package,
                } = *version;
                Ok(vec![
                    CourseEvent::CourseImported {
                        import_id,
                        course_id: course_id.clone(),
                        version: number,
                        title,
                        standard: structure.standard,
                        authoring_tool: structure.authoring_tool.clone(),
                        structure: Box::new(structure),
                        warnings,
                        files,
                        package,
                        at,
                    },
                    CourseEvent::CourseVersionPublished {
                        course_id,
                        version: number,
                        at,
                    },
                ])
            }
            CourseCommand::Update { title, tags, at } => {
                let course_id = self.live_id()?;
                let title = match title {
                    None => self.title.clone(),
                    Some(title) => {
                        let title = title.trim().to_owned();
                        if title.is_empty() {
                            return Err(CourseError::EmptyTitle);
                        }
                        if title.chars().count() > MAX_TITLE_CHARS {
                            return Err(CourseError::TitleTooLong);
                        }
                        title
                    }
                };
                let tags = match tags {
                    None => self.tags.clone(),
                    Some(tags) => valid_tags(tags)?,
                };
                if title == self.title && tags == self.tags {
                    return Ok(vec![]);
                }
                Ok(vec![CourseEvent::CourseUpdated {
                    course_id,
                    title,
                    tags,
                    at,
                }])
            }
            CourseCommand::Delete { at } => {
                let course_id = self.live_id()?;
                Ok(vec![CourseEvent::CourseDeleted { course_id, at }])
            }
        }
    }

    fn live_id(&self) -> Result<CourseId, CourseError> {
        match &self.id {
            Some(id) if !self.deleted => Ok(id.clone()),
            _ => Err(CourseError::NotFound),
        }
    }
}

/// Tags trimmed, de-duplicated, in first-seen order.
fn valid_tags(tags: Vec<String>) -> Result<Vec<String>, CourseError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
            return Err(CourseError::InvalidTag(tag));
        }
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(CourseError::TooManyTags);
    }
    Ok(out)
}

impl Aggregate for Course {
    const TYPE: &'static str = "course";
    type Command = CourseCommand;
    type Event = CourseEvent;
    type Error = CourseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CourseEvent::CourseImported {
                course_id,
                version,
                title,
                ..
            } => {
                self.id = Some(course_id);
                self.versions = version;
                self.title = title;
                // A new version of a deleted course brings it back.
                self.deleted = false;
            }
            CourseEvent::CourseVersionPublished { .. } => {}
            CourseEvent::CourseUpdated { title, tags, .. } => {
                self.title = title;
                self.tags = tags;
            }
            CourseEvent::CourseDeleted { .. } => self.deleted = true,
        }
    }
}
