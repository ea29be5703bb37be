//! Imports and the course catalogue (projection `courses`): import status,
//! courses with their tags, versions with their structure and file index,
//! and how many versions refer to each blob.

use std::collections::BTreeSet;

use domain::course::{CourseEvent, ImportEvent, ImportSource};
use domain::events::Event;
use domain::package::{Finding, Standard};
use domain::tenancy::Scope;
use serde::{Deserialize, Serialize};
use store::StoreError;
use store::db::{Database, Row, Tx, Value, sql};

use crate::lrs::insert_rows;
use crate::runtime::{Envelope, Projection, ProjectionError};
use crate::workspaces::timestamp;

pub struct CoursesView;

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("view values serialise")
}

fn scope_of(envelope: &Envelope<'_>) -> Result<(String, String), ProjectionError> {
    let metadata = &envelope.record.metadata;
    match (metadata.workspace_id, metadata.environment) {
        (Some(workspace), Some(environment)) => {
            Ok((workspace.to_string(), environment.to_string()))
        }
        _ => Err(ProjectionError::Inconsistent(format!(
            "{} without a workspace and environment",
            envelope.record.event_type
        ))),
    }
}

/// The short name of a standard, as listed and filtered: `scorm12`,
/// `scorm2004`, `aicc`, `xapi`, `cmi5`.
pub fn standard_name(standard: &Standard) -> &'static str {
    match standard {
        Standard::Scorm12 => "scorm12",
        Standard::Scorm2004 { .. } => "scorm2004",
        Standard::Aicc => "aicc",
        Standard::Xapi => "xapi",
        Standard::Cmi5 => "cmi5",
    }
}

#[async_trait::async_trait]
impl Projection for CoursesView {
    fn name(&self) -> &'static str {
        "courses"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[
            "imports",
            "courses",
            "course_tags",
            "course_versions",
            "course_files",
            "blob_references",
        ]
    }

    fn handles(&self, event_type: &str) -> bool {
        domain::events::kind_of(event_type)
            .is_some_and(|k| matches!(k.aggregate, "import" | "course"))
    }

    async fn apply(&self, tx: &mut Tx, envelope: &Envelope<'_>) -> Result<(), ProjectionError> {
        match &envelope.event {
            Event::Import(event) => apply_import(tx, envelope, event).await,
            Event::Course(event) => apply_course(tx, envelope, event).await,
            Event::Workspace(_)
            | Event::Registration(_)
            | Event::Webhook(_)
            | Event::WebhookDelivery(_)
            | Event::LrsStatement(_)
            | Event::LrsDocument(_)
            | Event::LrsCredential(_)
            | Event::LrsLaunchToken(_)
            | Event::LrsForwarding(_) => Ok(()),
        }
    }
}

async fn apply_import(
    tx: &mut Tx,
    envelope: &Envelope<'_>,
    event: &ImportEvent,
) -> Result<(), ProjectionError> {
    let (workspace, environment) = scope_of(envelope)?;
    match event {
        ImportEvent::CourseImportStarted {
            import_id,
            course_id,
            title,
            source,
            at,
        } => {
            tx.execute(
                sql("INSERT INTO imports (workspace_id, environment, import_id, course_id, status, source, title, \
                     findings, started_at, started_position) VALUES ($1, $2, $3, $4, 'running', $5, $6, '[]', $7, $8)")
                .bind(workspace)
                .bind(environment)
                .bind(import_id)
                .bind(course_id.as_str())
                .bind(json(source))
                .bind(title.clone())
                .bind(timestamp(at))
                .bind(envelope.record.position),
            )
            .await?;
        }
        ImportEvent::CourseImportFailed {
            import_id,
            code,
            message,
            findings,
            at,
            ..
        } => {
            tx.execute(
                sql("UPDATE imports SET status = 'failed', error_code = $4, error_message = $5, findings = $6, \
                     finished_at = $7 WHERE workspace_id = $1 AND environment = $2 AND import_id = $3")
                .bind(workspace)
                .bind(environment)
                .bind(import_id)
                .bind(code)
                .bind(message)
                .bind(json(findings))
                .bind(timestamp(at)),
            )
            .await?;
        }
    }
    Ok(())
}

async fn apply_course(
    tx: &mut Tx,
    envelope: &Envelope<'_>,
    event: &CourseEvent,
) -> Result<(), ProjectionError> {
    let (workspace, environment) = scope_of(envelope)?;
    match event {
        CourseEvent::CourseImported {
            import_id,
            course_id,
            version,
            title,
            standard,
            authoring_tool,
            structure,
            warnings,
            files,
            package,
            at,
        } => {
            let at = timestamp(at);
            let tool = authoring_tool
                .as_ref()
                .map(|t| json(&t.tool).trim_matches('"').to_owned());
            // The course row: created by the first version, refreshed by
            // later ones (a deleted course comes back with a new version).
            tx.execute(
                sql("INSERT INTO courses (workspace_id, environment, course_id, title, standard, standard_detail, \
                     authoring_tool, current_version, tags, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '[]', $9, $9) \
                     ON CONFLICT (workspace_id, environment, course_id) DO UPDATE SET title = excluded.title, \
                     standard = excluded.standard, standard_detail = excluded.standard_detail, \
                     authoring_tool = excluded.authoring_tool, updated_at = excluded.updated_at, deleted_at = NULL")
                .bind(&workspace)
                .bind(&environment)
                .bind(course_id.as_str())
                .bind(title)
                .bind(standard_name(standard))
                .bind(json(standard))
                .bind(tool)
                .bind(i64::from(*version))
                .bind(&at),
            )
            .await?;
            let total: u64 = files.iter().map(|f| f.size).sum();
            tx.execute(
                sql("INSERT INTO course_versions (workspace_id, environment, course_id, version, import_id, title, \
                     standard, structure, warnings, package_blob, package_size, file_count, total_size, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                .bind(&workspace)
                .bind(&environment)
                .bind(course_id.as_str())
                .bind(i64::from(*version))
                .bind(import_id)
                .bind(title)
                .bind(standard_name(standard))
                .bind(json(structure))
                .bind(json(warnings))
                .bind(&package.blob)
                .bind(package.size as i64)
                .bind(files.len() as i64)
                .bind(total as i64)
                .bind(&at),
            )
            .await?;
            // A package holds thousands of files: multi-row statements, not one per file.
            let rows = files
                .iter()
                .map(|file| {
                    vec![
                        Value::from(&workspace),
                        Value::from(&environment),
                        course_id.as_str().into(),
                        i64::from(*version).into(),
                        (&file.path).into(),
                        (&file.blob).into(),
                        (file.size as i64).into(),
                        (&file.content_type).into(),
                    ]
                })
                .collect();
            insert_rows(
                tx,
                "INSERT INTO course_files (workspace_id, environment, course_id, version, path, blob, \
                 size, content_type)",
                8,
                rows,
                "",
            )
            .await?;
            // Each blob once (a statement may not update one row twice).
            let blobs: BTreeSet<&str> = files
                .iter()
                .map(|f| f.blob.as_str())
                .chain([package.blob.as_str()])
                .collect();
            let rows = blobs
                .into_iter()
                .map(|blob| vec![blob.into(), 1i64.into()])
                .collect();
            insert_rows(
                tx,
                "INSERT INTO blob_references (blob, refs)",
                2,
                rows,
                "ON CONFLICT (blob) DO UPDATE SET refs = blob_references.refs + 1",
            )
            .await?;
            tx.execute(
                sql("UPDATE imports SET status = 'complete', version = $4, findings = $5, finished_at = $6 \
                     WHERE workspace_id = $1 AND environment = $2 AND import_id = $3")
                .bind(&workspace)
                .bind(&environment)
                .bind(import_id)
                .bind(i64::from(*version))
                .bind(json(warnings))
                .bind(&at),
            )
            .await?;
        }
        CourseEvent::CourseVersionPublished {
            course_id,
            version,
            at,
        } => {
            tx.execute(
                sql("UPDATE courses SET current_version = $4, updated_at = $5 \
                     WHERE workspace_id = $1 AND environment = $2 AND course_id = $3")
                .bind(&workspace)
                .bind(&environment)
                .bind(course_id.as_str())
                .bind(i64::from(*version))
                .bind(timestamp(at)),
            )
            .await?;
        }
        CourseEvent::CourseUpdated {
            course_id,
            title,
            tags,
            at,
        } => {
            tx.execute(
                sql("UPDATE courses SET title = $4, tags = $5, updated_at = $6 \
                     WHERE workspace_id = $1 AND environment = $2 AND course_id = $3")
                .bind(&workspace)
                .bind(&environment)
                .bind(course_id.as_str())
                .bind(title)
                .bind(json(tags))
                .bind(timestamp(at)),
            )
            .await?;
            tx.execute(
                sql("DELETE FROM course_tags WHERE workspace_id = $1 AND environment = $2 AND course_id = $3")
                    .bind(&workspace)
                    .bind(&environment)
                    .bind(course_id.as_str()),
            )
            .await?;
            for tag in tags {
                tx.execute(
                    sql("INSERT INTO course_tags (workspace_id, environment, course_id, tag) VALUES ($1, $2, $3, $4)")
                        .bind(&workspace)
                        .bind(&environment)
                        .bind(course_id.as_str())
                        .bind(tag),
                )
                .await?;
            }
        }
        CourseEvent::CourseDeleted { course_id, at } => {
            tx.execute(
                sql("UPDATE courses SET deleted_at = $4, updated_at = $4 \
                     WHERE workspace_id = $1 AND environment = $2 AND course_id = $3")
                .bind(&workspace)
                .bind(&environment)
                .bind(course_id.as_str())
                .bind(timestamp(at)),
            )
            .await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- queries

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

fn parse_json<T: for<'de> Deserialize<'de>>(raw: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| corrupt(format!("{what}: {e}")))
}

/// An import as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub import_id: String,
    pub course_id: String,
    pub status: String,
    pub source: ImportSource,
    pub title: Option<String>,
    pub version: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub findings: Vec<Finding>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub started_position: i64,
}

const IMPORT_COLUMNS: &str = "import_id, course_id, status, source, title, version, error_code, error_message, \
     findings, started_at, finished_at, started_position";

fn import_row(row: &Row) -> Result<ImportRow, StoreError> {
    Ok(ImportRow {
        import_id: row.get(0)?,
        course_id: row.get(1)?,
        status: row.get(2)?,
        source: parse_json(&row.get::<String>(3)?, "imports.source")?,
        title: row.get(4)?,
        version: row.get(5)?,
        error_code: row.get(6)?,
        error_message: row.get(7)?,
        findings: parse_json(&row.get::<String>(8)?, "imports.findings")?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        started_position: row.get(11)?,
    })
}

pub async fn import(
    db: &Database,
    scope: &Scope,
    import_id: &str,
) -> Result<Option<ImportRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {IMPORT_COLUMNS} FROM imports WHERE workspace_id = $1 AND environment = $2 AND import_id = $3"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(import_id),
        )
        .await?;
    row.as_ref().map(import_row).transpose()
}

/// An import still running somewhere, with its scope: the sweeper fails
/// the ones that have run for too long (their process died).
#[derive(Debug, Clone)]
pub struct RunningImport {
    pub scope: Scope,
    pub import_id: String,
    pub started_at: String,
}

/// Imports running since before `before` (RFC 3339), in every workspace:
/// for the sweeper only.
pub async fn imports_running_since(
    db: &Database,
    before: &str,
) -> Result<Vec<RunningImport>, StoreError> {
    let rows = db
        .fetch_all(
            sql(
                "SELECT workspace_id, environment, import_id, started_at FROM imports \
                 WHERE status = 'running' AND started_at < $1 ORDER BY started_at",
            )
            .bind(before),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let workspace: String = row.get(0)?;
            let environment: String = row.get(1)?;
            Ok(RunningImport {
                scope: Scope::new(
                    workspace
                        .parse()
                        .map_err(|_| corrupt("imports.workspace_id"))?,
                    environment
                        .parse()
                        .map_err(|_| corrupt("imports.environment"))?,
                ),
                import_id: row.get(2)?,
                started_at: row.get(3)?,
            })
        })
        .collect()
}

/// A course in the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseRow {
    pub course_id: String,
    pub title: String,
    pub standard: String,
    pub standard_detail: Standard,
    pub authoring_tool: Option<String>,
    pub current_version: i64,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COURSE_COLUMNS: &str = "course_id, title, standard, standard_detail, authoring_tool, current_version, tags, created_at, updated_at";

fn course_row(row: &Row) -> Result<CourseRow, StoreError> {
    Ok(CourseRow {
        course_id: row.get(0)?,
        title: row.get(1)?,
        standard: row.get(2)?,
        standard_detail: parse_json(&row.get::<String>(3)?, "courses.standard_detail")?,
        authoring_tool: row.get(4)?,
        current_version: row.get(5)?,
        tags: parse_json(&row.get::<String>(6)?, "courses.tags")?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
    })
}

/// A live (not deleted) course of the scope.
pub async fn course(
    db: &Database,
    scope: &Scope,
    course_id: &str,
) -> Result<Option<CourseRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {COURSE_COLUMNS} FROM courses WHERE workspace_id = $1 AND environment = $2 \
                 AND course_id = $3 AND deleted_at IS NULL"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id),
        )
        .await?;
    row.as_ref().map(course_row).transpose()
}

/// Filters of the course list.
#[derive(Debug, Clone, Default)]
pub struct CourseFilter {
    /// Case-insensitive substring of the title.
    pub title: Option<String>,
    pub tag: Option<String>,
    /// `scorm12`, `scorm2004`, `aicc`, `xapi`, `cmi5`.
    pub standard: Option<String>,
    /// Courses updated at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Resume after this (created_at, course_id).
    pub after: Option<(String, String)>,
}

/// Live courses of the scope, oldest first, at most `limit`.
pub async fn courses(
    db: &Database,
    scope: &Scope,
    filter: &CourseFilter,
    limit: u32,
) -> Result<Vec<CourseRow>, StoreError> {
    let mut text = format!(
        "SELECT {COURSE_COLUMNS} FROM courses c WHERE workspace_id = $1 AND environment = $2 AND deleted_at IS NULL"
    );
    let mut query_args: Vec<String> = vec![
        scope.workspace_id().to_string(),
        scope.environment().as_str().to_owned(),
    ];
    let next = |text: &mut String, clause: &str, value: String, args: &mut Vec<String>| {
        args.push(value);
        text.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(title) = &filter.title {
        next(
            &mut text,
            " AND lower(title) LIKE ?",
            format!("%{}%", title.to_lowercase()),
            &mut query_args,
        );
    }
    if let Some(standard) = &filter.standard {
        next(
            &mut text,
            " AND standard = ?",
            standard.clone(),
            &mut query_args,
        );
    }
    if let Some(since) = &filter.since {
        next(
            &mut text,
            " AND updated_at >= ?",
            since.clone(),
            &mut query_args,
        );
    }
    if let Some(tag) = &filter.tag {
        next(
            &mut text,
            " AND EXISTS (SELECT 1 FROM course_tags t WHERE t.workspace_id = c.workspace_id \
              AND t.environment = c.environment AND t.course_id = c.course_id AND t.tag = ?)",
            tag.clone(),
            &mut query_args,
        );
    }
    if let Some((created_at, course_id)) = &filter.after {
        query_args.push(created_at.clone());
        let a = query_args.len();
        query_args.push(course_id.clone());
        let b = query_args.len();
        text.push_str(&format!(
            " AND (created_at > ${a} OR (created_at = ${a} AND course_id > ${b}))"
        ));
    }
    text.push_str(&format!(" ORDER BY created_at, course_id LIMIT {limit}"));
    let mut query = sql(text);
    for arg in query_args {
        query = query.bind(arg);
    }
    let rows = db.fetch_all(query).await?;
    rows.iter().map(course_row).collect()
}

/// One version of a course.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub version: i64,
    pub import_id: String,
    pub title: String,
    pub standard: String,
    pub structure: domain::package::Course,
    pub warnings: Vec<Finding>,
    pub package_blob: String,
    pub package_size: i64,
    pub file_count: i64,
    pub total_size: i64,
    pub created_at: String,
}

const VERSION_COLUMNS: &str = "version, import_id, title, standard, structure, warnings, package_blob, package_size, \
     file_count, total_size, created_at";

fn version_row(row: &Row) -> Result<VersionRow, StoreError> {
    Ok(VersionRow {
        version: row.get(0)?,
        import_id: row.get(1)?,
        title: row.get(2)?,
        standard: row.get(3)?,
        structure: parse_json(&row.get::<String>(4)?, "course_versions.structure")?,
        warnings: parse_json(&row.get::<String>(5)?, "course_versions.warnings")?,
        package_blob: row.get(6)?,
        package_size: row.get(7)?,
        file_count: row.get(8)?,
        total_size: row.get(9)?,
        created_at: row.get(10)?,
    })
}

/// Every version of a course of the scope (live or deleted), oldest first.
pub async fn versions(
    db: &Database,
    scope: &Scope,
    course_id: &str,
) -> Result<Vec<VersionRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT {VERSION_COLUMNS} FROM course_versions WHERE workspace_id = $1 AND environment = $2 \
                 AND course_id = $3 ORDER BY version"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id),
        )
        .await?;
    rows.iter().map(version_row).collect()
}

/// One version of a live course of the scope.
pub async fn version(
    db: &Database,
    scope: &Scope,
    course_id: &str,
    version: i64,
) -> Result<Option<VersionRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(format!(
                "SELECT {VERSION_COLUMNS} FROM course_versions v WHERE workspace_id = $1 AND environment = $2 \
                 AND course_id = $3 AND version = $4 AND EXISTS (SELECT 1 FROM courses c \
                 WHERE c.workspace_id = v.workspace_id AND c.environment = v.environment \
                 AND c.course_id = v.course_id AND c.deleted_at IS NULL)"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id)
            .bind(version),
        )
        .await?;
    row.as_ref().map(version_row).transpose()
}

/// A file of a course version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub path: String,
    pub blob: String,
    pub size: i64,
    pub content_type: String,
}

/// The files of a version, by path, at most `limit` after `after`.
pub async fn files(
    db: &Database,
    scope: &Scope,
    course_id: &str,
    version: i64,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<FileRow>, StoreError> {
    let rows = db
        .fetch_all(
            sql(format!(
                "SELECT path, blob, size, content_type FROM course_files WHERE workspace_id = $1 \
                 AND environment = $2 AND course_id = $3 AND version = $4 AND path > $5 ORDER BY path LIMIT {limit}"
            ))
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id)
            .bind(version)
            .bind(after.unwrap_or("")),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(FileRow {
                path: row.get(0)?,
                blob: row.get(1)?,
                size: row.get(2)?,
                content_type: row.get(3)?,
            })
        })
        .collect()
}

/// One file of a version, by path (what the player serves).
pub async fn file(
    db: &Database,
    scope: &Scope,
    course_id: &str,
    version: i64,
    path: &str,
) -> Result<Option<FileRow>, StoreError> {
    let row = db
        .fetch_optional(
            sql(
                "SELECT path, blob, size, content_type FROM course_files WHERE workspace_id = $1 \
                 AND environment = $2 AND course_id = $3 AND version = $4 AND path = $5",
            )
            .bind(scope.workspace_id().to_string())
            .bind(scope.environment().as_str())
            .bind(course_id)
            .bind(version)
            .bind(path),
        )
        .await?;
    row.map(|row| {
        Ok(FileRow {
            path: row.get(0)?,
            blob: row.get(1)?,
            size: row.get(2)?,
            content_type: row.get(3)?,
        })
    })
    .transpose()
}

/// Whether any course version, in any workspace, refers to `blob`.
pub async fn blob_referenced(db: &Database, blob: &str) -> Result<bool, StoreError> {
    let row = db
        .fetch_optional(sql("SELECT refs FROM blob_references WHERE blob = $1").bind(blob))
        .await?;
    Ok(match row {
        Some(row) => row.get::<i64>(0)? > 0,
        None => false,
    })
}
