//! AICC course structure files (`.crs`, `.au`, `.des`, `.cst`, and `.pre`,
//! `.ort`, `.cmp` when present). Keys, section names, file extensions and
//! system ids are case-insensitive.

use std::collections::HashMap;

use super::course::{
    Activity, AiccAu, AiccCourse, CompletionRequirement, Course, CourseObjective, GlobalScopes,
    Launch, LaunchContent, LaunchUrl, RuntimeInit, Standard, TimeLimitAction,
};
use super::finding::{FindingCode, Location};
use super::path::PackagePath;
use super::{Context, parse_decimal, tool, url};

/// The `.crs` file among `files` (one folder's files): one that has `.au`,
/// `.des` and `.cst` siblings with the same base name wins.
pub(crate) fn find_course_file(files: &[&PackagePath]) -> Option<PackagePath> {
    let course_files: Vec<&PackagePath> = files
        .iter()
        .copied()
        .filter(|path| extension(path).as_deref() == Some("crs"))
        .collect();
    let complete = course_files.iter().find(|crs| {
        let base = base_name(crs).to_ascii_lowercase();
        ["au", "des", "cst"].iter().all(|ext| {
            files.iter().any(|path| {
                base_name(path).eq_ignore_ascii_case(&base)
                    && extension(path).as_deref() == Some(ext)
            })
        })
    });
    complete
        .or(course_files.first())
        .map(|path| (*path).clone())
}

fn extension(path: &PackagePath) -> Option<String> {
    path.file_name()
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
}

fn base_name(path: &PackagePath) -> &str {
    let name = path.file_name();
    name.rsplit_once('.').map_or(name, |(base, _)| base)
}

/// An INI file: sections (lowercased) with keys (lowercased) and raw lines.
#[derive(Debug, Default)]
struct Ini {
    sections: HashMap<String, Vec<(String, String)>>,
    raw: HashMap<String, Vec<String>>,
}

impl Ini {
    fn parse(text: &str) -> Ini {
        let mut ini = Ini::default();
        let mut section = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(name) = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = name.trim().to_ascii_lowercase();
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with(';') {
                continue;
            }
            ini.raw
                .entry(section.clone())
                .or_default()
                .push(trimmed.to_owned());
            if let Some((key, value)) = trimmed.split_once('=') {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                ini.sections
                    .entry(section.clone())
                    .or_default()
                    .push((key.trim().to_ascii_lowercase(), value.to_owned()));
            }
        }
        ini
    }

    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Parses CSV: comma-separated, fields optionally in double quotes with `""`
/// for a quote; quoted fields may span lines; blank lines are skipped;
/// unquoted fields are trimmed.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let end_field = |field: &mut String, quoted: &mut bool, record: &mut Vec<String>| {
        let value = if *quoted {
            field.clone()
        } else {
            field.trim().to_owned()
        };
        record.push(value);
        field.clear();
        *quoted = false;
    };
    while let Some(ch) = chars.next() {
        if in_quotes {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                other => field.push(other),
            }
            continue;
        }
        match ch {
            '"' if field.trim().is_empty() && !quoted => {
                field.clear();
                quoted = true;
                in_quotes = true;
            }
            ',' => end_field(&mut field, &mut quoted, &mut record),
            '\r' => {}
            '\n' => {
                end_field(&mut field, &mut quoted, &mut record);
                if record.iter().any(|value| !value.is_empty()) {
                    records.push(std::mem::take(&mut record));
                } else {
                    record.clear();
                }
            }
            other => {
                if !quoted {
                    field.push(other);
                }
            }
        }
    }
    end_field(&mut field, &mut quoted, &mut record);
    if record.iter().any(|value| !value.is_empty()) {
        records.push(record);
    }
    records
}

/// A CSV table with its header lowercased.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(text: &str) -> Table {
        let mut records = parse_csv(text).into_iter();
        let header = records
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        Table {
            header,
            rows: records.collect(),
        }
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn value<'r>(&self, row: &'r [String], name: &str) -> Option<&'r str> {
        let at = self.column(name)?;
        row.get(at).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

struct AuRecord {
    id: String,
    row: Vec<String>,
    line: usize,
}

struct Descriptor {
    id: String,
    title: Option<String>,
    description: Option<String>,
    developer_id: Option<String>,
}

/// Imports the AICC course the context was recognised as.
pub(crate) fn import(ctx: &mut Context<'_>) -> Option<Course> {
    let crs_zip = ctx.recognition.manifest.clone();
    let crs = PackagePath::parse(crs_zip.file_name()).ok()?;
    let base = base_name(&crs).to_owned();
    let sibling = |ctx: &Context<'_>, ext: &str| -> Option<PackagePath> {
        ctx.relative_files()
            .into_iter()
            .find(|path| {
                path.parent().is_none()
                    && base_name(path).eq_ignore_ascii_case(&base)
                    && extension(path).as_deref() == Some(ext)
            })
            .cloned()
    };
    let crs_text = ctx.read_text(&crs)?;
    let ini = Ini::parse(&crs_text);
    let mut texts: HashMap<&str, (String, String)> = HashMap::new();
    for (ext, required) in [
        ("au", true),
        ("des", true),
        ("cst", true),
        ("pre", false),
        ("ort", false),
        ("cmp", false),
    ] {
        match sibling(ctx, ext) {
            Some(path) => {
                let shown = ctx.zip_path(&path).as_str().to_owned();
                if let Some(text) = ctx.read_text(&path) {
                    texts.insert(ext, (shown, text));
                }
            }
            None if required => ctx.push(
                FindingCode::AiccFileMissing,
                format!("the aicc course has no {base}.{ext} file"),
                Location::file(crs_zip.as_str()),
            ),
            None => {}
        }
    }
    let (au_file, au_text) = texts.get("au")?.clone();
    let (des_file, des_text) = texts.get("des")?.clone();
    let (cst_file, cst_text) = texts.get("cst")?.clone();

    let au_table = Table::parse(&au_text);
    let mut aus: Vec<AuRecord> = Vec::new();
    for (index, row) in au_table.rows.iter().enumerate() {
        match au_table.value(row, "system_id") {
            Some(id) => aus.push(AuRecord {
                id: id.to_owned(),
                row: row.clone(),
                line: index + 2,
            }),
            None => ctx.push(
                FindingCode::AiccMalformedRecord,
                "au record without system_id skipped",
                record_location(&au_file, index + 2),
            ),
        }
    }
    let des_table = Table::parse(&des_text);
    let mut descriptors: HashMap<String, Descriptor> = HashMap::new();
    for (index, row) in des_table.rows.iter().enumerate() {
        let Some(id) = des_table.value(row, "system_id") else {
            ctx.push(
                FindingCode::AiccMalformedRecord,
                "descriptor record without system_id skipped",
                record_location(&des_file, index + 2),
            );
            continue;
        };
        descriptors.insert(
            id.to_ascii_uppercase(),
            Descriptor {
                id: id.to_owned(),
                title: des_table.value(row, "title").map(str::to_owned),
                description: des_table.value(row, "description").map(str::to_owned),
                developer_id: des_table.value(row, "developer_id").map(str::to_owned),
            },
        );
    }
    let member_lists = |text: &str| -> Vec<(String, Vec<String>)> {
        let mut records = parse_csv(text).into_iter();
        records.next();
        records
            .filter_map(|mut row| {
                if row.is_empty() {
                    return None;
                }
                let head = row.remove(0).trim().to_owned();
                let members = row
                    .into_iter()
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                (!head.is_empty()).then_some((head, members))
            })
            .collect()
    };
    let structure = member_lists(&cst_text);
    let objectives_of: HashMap<String, Vec<String>> = texts
        .get("ort")
        .map(|(_, text)| {
            member_lists(text)
                .into_iter()
                .map(|(element, members)| (element.to_ascii_uppercase(), members))
                .collect()
        })
        .unwrap_or_default();
    let mut prerequisites: HashMap<String, String> = HashMap::new();
    if let Some((_, text)) = texts.get("pre") {
        let table = Table::parse(text);
        for row in &table.rows {
            let element = table
                .value(row, "structure_element")
                .or_else(|| row.first().map(String::as_str));
            let prerequisite = table
                .value(row, "prerequisite")
                .or_else(|| row.get(1).map(String::as_str));
            if let (Some(element), Some(prerequisite)) = (element, prerequisite) {
                prerequisites.insert(
                    element.trim().to_ascii_uppercase(),
                    prerequisite.trim().to_owned(),
                );
            }
        }
    }
    let mut requirements: HashMap<String, Vec<CompletionRequirement>> = HashMap::new();
    if let Some((_, text)) = texts.get("cmp") {
        let table = Table::parse(text);
        for row in &table.rows {
            let Some(element) = row.first().map(|e| e.trim().to_ascii_uppercase()) else {
                continue;
            };
            let requirement = table
                .value(row, "requirement")
                .or_else(|| row.get(1).map(|v| v.trim()))
                .unwrap_or("")
                .to_owned();
            let result = table
                .value(row, "result")
                .or_else(|| row.get(2).map(|v| v.trim()))
                .filter(|v| !v.is_empty())
                .map(str::to_owned);
            let used = [
                Some(0),
                table.column("requirement").or(Some(1)),
                table.column("result").or(Some(2)),
            ];
            let extra = row
                .iter()
                .enumerate()
                .filter(|(at, value)| !used.contains(&Some(*at)) && !value.trim().is_empty())
                .map(|(at, value)| {
                    let name = table
                        .header
                        .get(at)
                        .cloned()
                        .unwrap_or_else(|| format!("column_{}", at + 1));
                    format!("{name}={}", value.trim())
                })
                .collect();
            requirements
                .entry(element)
                .or_default()
                .push(CompletionRequirement {
                    requirement,
                    result,
                    extra,
                });
        }
    }

    let mut builder = Builder {
        ctx,
        au_table: &au_table,
        aus: &aus,
        au_file: &au_file,
        cst_file: &cst_file,
        descriptors: &descriptors,
        structure: &structure,
        objectives_of: &objectives_of,
        prerequisites: &prerequisites,
        requirements: &requirements,
        placed: Vec::new(),
    };
    let course_id = ini
        .get("course", "course_id")
        .map(str::to_owned)
        .unwrap_or_else(|| base.clone());
    let title = ini
        .get("course", "course_title")
        .map(str::to_owned)
        .unwrap_or_else(|| course_id.clone());
    let mut root = Activity::new(course_id.clone(), title.clone());
    match structure
        .iter()
        .position(|(head, _)| head.eq_ignore_ascii_case("root"))
    {
        Some(at) => {
            let members = structure[at].1.clone();
            root.children = builder.members(&members, &mut vec!["ROOT".to_owned()]);
        }
        None => builder.ctx.push(
            FindingCode::AiccMalformedRecord,
            "the course structure has no root record; every au is placed under the course",
            Location::file(&cst_file),
        ),
    }
    for au in &aus {
        if !builder.placed.contains(&au.id.to_ascii_uppercase()) {
            if structure
                .iter()
                .any(|(head, _)| head.eq_ignore_ascii_case("root"))
            {
                builder.ctx.push(
                    FindingCode::AiccUnplacedAu,
                    format!(
                        "au {:?} is not in the course structure; it is added under the course",
                        au.id
                    ),
                    record_location(&au_file, au.line),
                );
            }
            let id = au.id.clone();
            if let Some(activity) = builder.member(&id, &mut vec!["ROOT".to_owned()]) {
                root.children.push(activity);
            }
        }
    }
    root.prerequisites = prerequisites.get("ROOT").cloned();
    root.completion_requirements = requirements.get("ROOT").cloned().unwrap_or_default();
    if root
        .children
        .iter()
        .all(|child| child.launch.is_none() && child.children.is_empty())
    {
        builder.ctx.push(
            FindingCode::NoLaunchableActivity,
            "the aicc course has no assignable unit",
            Location::file(&au_file),
        );
    }
    let mut objectives: Vec<CourseObjective> = descriptors
        .values()
        .filter(|descriptor| descriptor.id.to_ascii_uppercase().starts_with('J'))
        .map(|descriptor| CourseObjective {
            id: descriptor.id.clone(),
            title: descriptor.title.clone(),
            description: descriptor.description.clone(),
        })
        .collect();
    for members in objectives_of.values() {
        for member in members {
            if !objectives.iter().any(|o| o.id.eq_ignore_ascii_case(member)) {
                objectives.push(CourseObjective {
                    id: member.clone(),
                    title: None,
                    description: None,
                });
            }
        }
    }
    objectives.sort_by(|a, b| a.id.cmp(&b.id));
    let description = ini
        .raw
        .get("course_description")
        .map(|lines| lines.join("\n"))
        .filter(|text| !text.is_empty());
    let aicc = AiccCourse {
        creator: ini.get("course", "course_creator").map(str::to_owned),
        system: ini.get("course", "course_system").map(str::to_owned),
        level: ini.get("course", "level").map(str::to_owned),
        version: ini.get("course", "version").map(str::to_owned),
        max_normal: ini
            .get("course_behavior", "max_normal")
            .and_then(|v| v.trim().parse().ok()),
    };
    let files = builder.ctx.relative_files();
    let mut hints = vec![title.as_str()];
    if let Some(creator) = &aicc.creator {
        hints.push(creator);
    }
    let authoring_tool = tool::recognize(&files, &hints);
    Some(Course {
        standard: Standard::Aicc,
        identifier: course_id,
        title,
        description,
        package_root: builder.ctx.recognition.package_root.clone(),
        authoring_tool,
        scopes: GlobalScopes::default(),
        root,
        resources: Vec::new(),
        objectives,
        activity_definitions: Vec::new(),
        aicc: Some(aicc),
    })
}

fn record_location(file: &str, line: usize) -> Location {
    Location {
        file: Some(file.to_owned()),
        line: u32::try_from(line).ok(),
        column: None,
        path: None,
    }
}

struct Builder<'c, 'a, 't> {
    ctx: &'c mut Context<'a>,
    au_table: &'t Table,
    aus: &'t [AuRecord],
    au_file: &'t str,
    cst_file: &'t str,
    descriptors: &'t HashMap<String, Descriptor>,
    structure: &'t [(String, Vec<String>)],
    objectives_of: &'t HashMap<String, Vec<String>>,
    prerequisites: &'t HashMap<String, String>,
    requirements: &'t HashMap<String, Vec<CompletionRequirement>>,
    placed: Vec<String>,
}

impl Builder<'_, '_, '_> {
    fn members(&mut self, members: &[String], stack: &mut Vec<String>) -> Vec<Activity> {
        members
            .iter()
            .filter_map(|member| self.member(member, stack))
            .collect()
    }

    fn member(&mut self, id: &str, stack: &mut Vec<String>) -> Option<Activity> {
        let key = id.to_ascii_uppercase();
        if stack.contains(&key) {
            self.ctx.push(
                FindingCode::AiccStructureCycle,
                format!(
                    "block {id:?} contains itself: {} -> {id}",
                    stack.join(" -> ")
                ),
                Location::file(self.cst_file),
            );
            return None;
        }
        let descriptor = self.descriptors.get(&key);
        let title = descriptor
            .and_then(|d| d.title.clone())
            .unwrap_or_else(|| id.to_owned());
        let mut activity = Activity::new(id, title);
        activity.description = descriptor.and_then(|d| d.description.clone());
        activity.prerequisites = self.prerequisites.get(&key).cloned();
        activity.completion_requirements = self.requirements.get(&key).cloned().unwrap_or_default();
        if let Some(au) = self.aus.iter().find(|au| au.id.eq_ignore_ascii_case(id)) {
            if self.placed.contains(&key) {
                return None;
            }
            self.placed.push(key.clone());
            activity.launch = self.launch(au, descriptor);
            return Some(activity);
        }
        if let Some((_, members)) = self
            .structure
            .iter()
            .find(|(head, _)| head.eq_ignore_ascii_case(id))
        {
            stack.push(key);
            activity.children = self.members(members, stack);
            stack.pop();
            return Some(activity);
        }
        if key.starts_with('J') {
            return None;
        }
        self.ctx.push(
            FindingCode::AiccUnknownMember,
            format!("the course structure names {id:?}, which is neither an au nor a block"),
            Location::file(self.cst_file),
        );
        None
    }

    fn launch(&mut self, au: &AuRecord, descriptor: Option<&Descriptor>) -> Option<Launch> {
        let table = self.au_table;
        let value = |name: &str| table.value(&au.row, name).map(str::to_owned);
        let location = record_location(self.au_file, au.line);
        let Some(file_name) = value("file_name") else {
            self.ctx.push(
                FindingCode::MissingRequired,
                format!("au {:?} has no file_name", au.id),
                location,
            );
            return None;
        };
        let with_parameters = match value("web_launch") {
            Some(web_launch) => url::append_parameters(&file_name, &web_launch),
            None => file_name.clone(),
        };
        let url = match url::resolve(&with_parameters) {
            Ok(LaunchUrl::Package {
                path,
                query,
                fragment,
            }) => {
                let path = match self.ctx.locate(&path, &location) {
                    Some(actual) => actual,
                    None => {
                        self.ctx.push(
                            FindingCode::LaunchFileMissing,
                            format!(
                                "au {:?} launches {path}, which is not in the package",
                                au.id
                            ),
                            location.clone(),
                        );
                        path
                    }
                };
                LaunchUrl::Package {
                    path,
                    query,
                    fragment,
                }
            }
            Ok(absolute) => absolute,
            Err(err) => {
                self.ctx
                    .push(FindingCode::UnsafePath, err.to_string(), location);
                return None;
            }
        };
        let mut runtime = RuntimeInit {
            launch_data: value("core_vendor").map(|vendor| replace_cr(&vendor)),
            max_time_allowed: value("max_time_allowed"),
            objective_ids: self
                .objectives_of
                .get(&au.id.to_ascii_uppercase())
                .cloned()
                .unwrap_or_default(),
            ..RuntimeInit::default()
        };
        if let Some(score) = value("mastery_score") {
            match parse_decimal(&score) {
                Some(score) if (0.0..=100.0).contains(&score) => {
                    runtime.mastery_score = Some(score)
                }
                _ => self.ctx.push(
                    FindingCode::InvalidValue,
                    format!(
                        "au {:?} mastery_score {score:?} is not a number in 0..100; ignored",
                        au.id
                    ),
                    location.clone(),
                ),
            }
        }
        if let Some(action) = value("time_limit_action") {
            runtime.time_limit_action = TimeLimitAction::parse_lenient(&action);
            if runtime.time_limit_action.is_none() {
                self.ctx.push(
                    FindingCode::InvalidValue,
                    format!(
                        "au {:?} time_limit_action {action:?} is not a known value; ignored",
                        au.id
                    ),
                    location,
                );
            }
        }
        Some(Launch {
            url,
            content: LaunchContent::AiccAu(AiccAu {
                au_type: value("type"),
                command_line: value("command_line"),
                max_score: value("max_score"),
                system_vendor: value("system_vendor"),
                au_password: value("au_password"),
                developer_id: descriptor.and_then(|d| d.developer_id.clone()),
            }),
            runtime,
        })
    }
}

/// `<cr>` in `Core_Vendor` stands for a line break (CRLF).
fn replace_cr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find("<cr>") {
        out.push_str(&rest[..at]);
        out.push_str("\r\n");
        rest = &rest[at + 4..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_commas() {
        let text = "\"System_ID\",\"Title\"\r\n\"A1\",\"Hello, \"\"world\"\"\"\r\n\r\nA2 , plain \n\"B1\",\"multi\nline\"";
        assert_eq!(
            parse_csv(text),
            vec![
                vec!["System_ID".to_owned(), "Title".to_owned()],
                vec!["A1".to_owned(), "Hello, \"world\"".to_owned()],
                vec!["A2".to_owned(), "plain".to_owned()],
                vec!["B1".to_owned(), "multi\nline".to_owned()],
            ]
        );
    }

    #[test]
    fn ini_is_case_insensitive() {
        let ini = Ini::parse(
            "[COURSE]\r\nCourse_ID = C1\r\ncourse_title=\"T\"\r\n[course_description]\r\nFree text = yes\r\n",
        );
        assert_eq!(ini.get("course", "course_id"), Some("C1"));
        assert_eq!(ini.get("course", "course_title"), Some("T"));
        assert_eq!(
            ini.raw["course_description"],
            vec!["Free text = yes".to_owned()]
        );
    }

    #[test]
    fn core_vendor_line_breaks() {
        assert_eq!(replace_cr("a<CR>b<cr>"), "a\r\nb\r\n");
    }
}
