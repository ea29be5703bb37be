//! Data-driven import tests: every folder under `tests/data/package/` is a
//! package (the folder is the ZIP root), every `*.xml` file there is a bare
//! cmi5.xml upload. Each is imported and rendered; the rendering is compared
//! with the `.txt` file of the same name (`UPDATE_EXPECT=1` rewrites them).
//! An optional `<name>.options` file sets import options.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use domain::package::{
    Activity, Course, FindingCode, ImportOptions, ImportRejected, ImportedPackage, MemoryPackage,
    RuntimeInit, StandardKind, import_cmi5_xml, import_package,
};
use domain::sequencing::definition::SequencingDefinition;
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/package")
}

fn load_package(root: &Path) -> MemoryPackage {
    fn walk(dir: &Path, root: &Path, package: &mut MemoryPackage) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, package);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                *package = std::mem::take(package).with(&relative, fs::read(&path).unwrap());
            }
        }
    }
    let mut package = MemoryPackage::new();
    walk(root, root, &mut package);
    package
}

fn options_for(path: &Path) -> ImportOptions {
    let mut options = ImportOptions::default();
    let Ok(text) = fs::read_to_string(path.with_extension("options")) else {
        return options;
    };
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let (key, value) = line.split_once('=').expect("options lines are key=value");
        match (key.trim(), value.trim()) {
            ("expected_standard", "cmi5") => options.expected_standard = Some(StandardKind::Cmi5),
            ("expected_standard", "scorm") => options.expected_standard = Some(StandardKind::Scorm),
            ("expected_standard", "aicc") => options.expected_standard = Some(StandardKind::Aicc),
            ("expected_standard", "xapi") => options.expected_standard = Some(StandardKind::Xapi),
            ("manifest_size_limit", limit) => options.manifest_size_limit = limit.parse().unwrap(),
            other => panic!("unknown option {other:?}"),
        }
    }
    options
}

/// Every fixture: (name, result).
fn import_all() -> Vec<(String, Result<ImportedPackage, ImportRejected>)> {
    let mut entries: Vec<PathBuf> = fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut results = Vec::new();
    for path in entries {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if path.is_dir() {
            let package = load_package(&path);
            results.push((name, import_package(&package, &options_for(&path))));
        } else if path.extension().is_some_and(|ext| ext == "xml") {
            let bytes = fs::read(&path).unwrap();
            let name = name.trim_end_matches(".xml").to_owned();
            results.push((name, import_cmi5_xml(&bytes, &options_for(&path))));
        }
    }
    results
}

/// JSON fields of `value` that differ from `default`, as `key=json` pairs.
fn diff(value: &impl serde::Serialize, default: &impl serde::Serialize) -> Vec<String> {
    let (Value::Object(value), Value::Object(default)) = (
        serde_json::to_value(value).unwrap(),
        serde_json::to_value(default).unwrap(),
    ) else {
        panic!("structs serialise as objects");
    };
    value
        .into_iter()
        .filter(|(key, field)| default.get(key) != Some(field))
        .map(|(key, field)| format!("{key}={field}"))
        .collect()
}

fn render_activity(out: &mut String, activity: &Activity, depth: usize) {
    let indent = "  ".repeat(depth);
    let hidden = if activity.visible { "" } else { " [hidden]" };
    writeln!(
        out,
        "{indent}- {} {:?}{hidden}",
        activity.id, activity.title
    )
    .unwrap();
    let detail = format!("{indent}    ");
    if let Some(description) = &activity.description {
        writeln!(out, "{detail}description: {description:?}").unwrap();
    }
    if let Some(launch) = &activity.launch {
        writeln!(out, "{detail}launch: {}", launch.url.to_url_string()).unwrap();
        writeln!(
            out,
            "{detail}content: {}",
            serde_json::to_string(&launch.content).unwrap()
        )
        .unwrap();
        let runtime = diff(&launch.runtime, &RuntimeInit::default());
        if !runtime.is_empty() {
            writeln!(out, "{detail}runtime: {}", runtime.join(" ")).unwrap();
        }
    }
    if let Some(threshold) = &activity.completion_threshold {
        writeln!(
            out,
            "{detail}completion_threshold: {}",
            serde_json::to_string(threshold).unwrap()
        )
        .unwrap();
    }
    if let Some(prerequisites) = &activity.prerequisites {
        writeln!(out, "{detail}prerequisites: {prerequisites:?}").unwrap();
    }
    for requirement in &activity.completion_requirements {
        writeln!(
            out,
            "{detail}completion_requirement: {}",
            serde_json::to_string(requirement).unwrap()
        )
        .unwrap();
    }
    if let Some(sequencing) = &activity.sequencing {
        let changes = diff(sequencing, &SequencingDefinition::default());
        if changes.is_empty() {
            writeln!(out, "{detail}sequencing: defaults").unwrap();
        }
        for change in changes {
            writeln!(out, "{detail}sequencing.{change}").unwrap();
        }
    }
    for child in &activity.children {
        render_activity(out, child, depth + 1);
    }
}

fn render_course(out: &mut String, course: &Course) {
    writeln!(
        out,
        "standard: {}",
        serde_json::to_string(&course.standard).unwrap()
    )
    .unwrap();
    writeln!(out, "identifier: {:?}", course.identifier).unwrap();
    writeln!(out, "title: {:?}", course.title).unwrap();
    if let Some(description) = &course.description {
        writeln!(out, "description: {description:?}").unwrap();
    }
    if let Some(root) = &course.package_root {
        writeln!(out, "package_root: {root}").unwrap();
    }
    if let Some(tool) = &course.authoring_tool {
        writeln!(
            out,
            "authoring_tool: {}",
            serde_json::to_string(tool).unwrap()
        )
        .unwrap();
    }
    let scopes = diff(&course.scopes, &domain::package::GlobalScopes::default());
    if !scopes.is_empty() {
        writeln!(out, "scopes: {}", scopes.join(" ")).unwrap();
    }
    if let Some(aicc) = &course.aicc {
        writeln!(out, "aicc: {}", serde_json::to_string(aicc).unwrap()).unwrap();
    }
    for objective in &course.objectives {
        writeln!(
            out,
            "objective: {}",
            serde_json::to_string(objective).unwrap()
        )
        .unwrap();
    }
    for definition in &course.activity_definitions {
        writeln!(
            out,
            "activity_definition: {}",
            serde_json::to_string(definition).unwrap()
        )
        .unwrap();
    }
    for resource in &course.resources {
        writeln!(
            out,
            "resource {} type={} scorm_type={} href={} files=[{}] dependencies=[{}] required_files=[{}]",
            resource.identifier,
            resource.resource_type,
            resource.scorm_type,
            resource.href.as_ref().map_or("-".to_owned(), |href| href.to_url_string()),
            resource.files.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "),
            resource.dependencies.join(", "),
            resource.required_files.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "),
        )
        .unwrap();
    }
    writeln!(out, "tree:").unwrap();
    render_activity(out, &course.root, 0);
}

fn render(result: &Result<ImportedPackage, ImportRejected>) -> String {
    let mut out = String::new();
    let report = match result {
        Ok(imported) => {
            writeln!(out, "outcome: imported").unwrap();
            &imported.report
        }
        Err(rejected) => {
            writeln!(out, "outcome: rejected").unwrap();
            &rejected.report
        }
    };
    for finding in &report.findings {
        writeln!(out, "{finding}").unwrap();
    }
    if let Ok(imported) = result {
        render_course(&mut out, &imported.course);
    }
    out
}

#[test]
fn fixtures() {
    let results = import_all();
    assert!(
        results.len() >= 30,
        "fixtures went missing: {}",
        results.len()
    );
    for (name, result) in &results {
        let expected = data_dir().join(format!("{name}.txt"));
        expect_test::expect_file![expected].assert_eq(&render(result));
    }
}

#[test]
fn every_finding_code_is_produced_by_some_fixture_or_api_test() {
    let mut seen: BTreeSet<FindingCode> = BTreeSet::new();
    for (_, result) in import_all() {
        let report = match &result {
            Ok(imported) => &imported.report,
            Err(rejected) => &rejected.report,
        };
        seen.extend(report.codes());
    }
    // Produced only through `PackageFiles` errors and options, covered in package_api.rs.
    let api_only = [
        FindingCode::ManifestTooLarge,
        FindingCode::ManifestUnreadable,
        FindingCode::StandardMismatch,
    ];
    let missing: Vec<&str> = FindingCode::ALL
        .iter()
        .filter(|code| !seen.contains(code) && !api_only.contains(code))
        .map(|code| code.as_str())
        .collect();
    assert!(missing.is_empty(), "no fixture produces {missing:?}");
}

#[test]
fn rejected_fixtures_have_errors_and_imported_ones_do_not() {
    for (name, result) in import_all() {
        match result {
            Ok(imported) => assert!(!imported.report.has_errors(), "{name}"),
            Err(rejected) => {
                assert!(rejected.report.has_errors(), "{name}");
                assert!(
                    rejected.to_string().starts_with("package rejected: error["),
                    "{name}: {rejected}"
                );
            }
        }
    }
}

fn import_fixture(name: &str) -> Course {
    let package = load_package(&data_dir().join(name));
    import_package(&package, &ImportOptions::default())
        .unwrap_or_else(|rejected| panic!("{name} was rejected: {rejected}"))
        .course
}

#[test]
fn course_wire_format_is_stable() {
    let course = import_fixture("scorm2004_4th_full");
    let json = serde_json::to_string_pretty(&course).unwrap();
    expect_test::expect_file![data_dir().join("scorm2004_4th_full.json")].assert_eq(&json);
    let back: Course = serde_json::from_str(&json).unwrap();
    assert_eq!(back, course);
}

#[test]
fn every_standard_round_trips_through_json() {
    for name in [
        "scorm12_basic",
        "aicc_full",
        "tincan_basic",
        "cmi5_basic",
        "scorm2004_3rd",
    ] {
        let course = import_fixture(name);
        let back: Course = serde_json::from_str(&serde_json::to_string(&course).unwrap()).unwrap();
        assert_eq!(back, course, "{name}");
    }
}

#[test]
fn sequencing_defaults_are_pinned() {
    let json = serde_json::to_string_pretty(&SequencingDefinition::default()).unwrap();
    expect_test::expect_file![data_dir().join("sequencing_defaults.json")].assert_eq(&json);
}
