//! Tests of the package API that fixtures on disk cannot express: safe paths,
//! limits, reader errors, recognition rules and large generated courses.

use domain::package::{
    FindingCode, ImportOptions, LaunchContent, LaunchUrl, MemoryPackage, PackageFiles, PackagePath,
    PathError, ReadError, StandardKind, append_parameters, import_cmi5_xml, import_package,
    recognize,
};

const SCORM12: &str = r#"<?xml version="1.0"?>
<manifest identifier="M" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="O"><organization identifier="O"><title>T</title>
    <item identifier="I" identifierref="R"><title>I</title></item></organization></organizations>
  <resources><resource identifier="R" type="webcontent" adlcp:scormtype="sco" href="index.html"/></resources>
</manifest>"#;

fn scorm_package() -> MemoryPackage {
    MemoryPackage::new()
        .with("imsmanifest.xml", SCORM12)
        .with("index.html", "<html/>")
}

fn codes(
    result: &Result<domain::package::ImportedPackage, domain::package::ImportRejected>,
) -> Vec<FindingCode> {
    match result {
        Ok(imported) => imported.report.codes(),
        Err(rejected) => rejected.report.codes(),
    }
}

#[test]
fn package_paths_refuse_escapes() {
    type Expected = Result<&'static str, fn(String) -> PathError>;
    let cases: [(&str, Expected); 16] = [
        ("index.html", Ok("index.html")),
        ("a/b/c.html", Ok("a/b/c.html")),
        ("a\\b.html", Ok("a/b.html")),
        ("dir with space/ü.html", Ok("dir with space/ü.html")),
        ("..", Err(PathError::ParentSegment)),
        ("../x", Err(PathError::ParentSegment)),
        ("a/../../x", Err(PathError::ParentSegment)),
        ("..\\..\\x", Err(PathError::ParentSegment)),
        ("/etc/passwd", Err(PathError::Absolute)),
        ("\\\\server\\share\\x", Err(PathError::Absolute)),
        ("C:\\windows\\win.ini", Err(PathError::DriveLetter)),
        ("c:x", Err(PathError::DriveLetter)),
        ("a//b", Err(PathError::EmptySegment)),
        ("a/./b", Err(PathError::EmptySegment)),
        ("a/", Err(PathError::EmptySegment)),
        ("a\0b", Err(PathError::Nul)),
    ];
    for (raw, expected) in cases {
        let actual = PackagePath::parse(raw);
        match expected {
            Ok(normalized) => assert_eq!(actual.unwrap().as_str(), normalized, "{raw:?}"),
            Err(make) => assert_eq!(actual, Err(make(raw.to_owned())), "{raw:?}"),
        }
    }
    assert_eq!(PackagePath::parse(""), Err(PathError::Empty));
}

#[test]
fn package_paths_deserialize_through_the_same_checks() {
    let ok: PackagePath = serde_json::from_str("\"a/b.html\"").unwrap();
    assert_eq!(ok.as_str(), "a/b.html");
    assert!(serde_json::from_str::<PackagePath>("\"../b.html\"").is_err());
}

#[test]
fn parameters_are_appended_like_adl() {
    assert_eq!(append_parameters("a.html?x=1", "?&y=2"), "a.html?x=1&y=2");
    assert_eq!(append_parameters("a.html", "#p3"), "a.html#p3");
    assert_eq!(append_parameters("a.html?x=1", "#p3"), "a.html?x=1");
}

#[test]
fn manifest_size_limit_is_enforced() {
    let options = ImportOptions {
        manifest_size_limit: 100,
        ..ImportOptions::default()
    };
    let result = import_package(&scorm_package(), &options);
    assert_eq!(codes(&result), vec![FindingCode::ManifestTooLarge]);
    let bare = import_cmi5_xml(&[b' '; 101], &options);
    assert_eq!(codes(&bare), vec![FindingCode::ManifestTooLarge]);
}

struct BrokenZip;

impl PackageFiles for BrokenZip {
    fn list(&self) -> Vec<PackagePath> {
        vec![PackagePath::parse("imsmanifest.xml").unwrap()]
    }

    fn exists(&self, _path: &PackagePath) -> bool {
        true
    }

    fn read(&self, _path: &PackagePath, _limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
        Err(ReadError::Unreadable {
            reason: "unsupported compression method".to_owned(),
        })
    }
}

#[test]
fn reader_errors_become_findings() {
    let result = import_package(&BrokenZip, &ImportOptions::default());
    let rejected = result.unwrap_err();
    assert_eq!(
        rejected.report.codes(),
        vec![FindingCode::ManifestUnreadable]
    );
    assert_eq!(
        rejected.to_string(),
        "package rejected: error[manifest_unreadable]: imsmanifest.xml: file could not be read: unsupported compression method (imsmanifest.xml)"
    );
}

#[test]
fn expected_standard_must_match() {
    let options = ImportOptions {
        expected_standard: Some(StandardKind::Aicc),
        ..ImportOptions::default()
    };
    let result = import_package(&scorm_package(), &options);
    assert_eq!(codes(&result), vec![FindingCode::StandardMismatch]);

    let cmi5 = ImportOptions {
        expected_standard: Some(StandardKind::Cmi5),
        ..ImportOptions::default()
    };
    let nothing = MemoryPackage::new().with("index.html", "<html/>");
    assert_eq!(
        codes(&import_package(&nothing, &cmi5)),
        vec![
            FindingCode::Cmi5ManifestMissing,
            FindingCode::ManifestMissing
        ]
    );
    let scorm = ImportOptions {
        expected_standard: Some(StandardKind::Scorm),
        ..ImportOptions::default()
    };
    assert!(import_package(&scorm_package(), &scorm).is_ok());
}

fn paths(raw: &[&str]) -> Vec<PackagePath> {
    raw.iter().map(|p| PackagePath::parse(p).unwrap()).collect()
}

#[test]
fn recognition_follows_single_folder_chains_only() {
    let nested = paths(&[
        "a/b/imsmanifest.xml",
        "a/b/index.html",
        "__MACOSX/a/._x",
        "Thumbs.db",
    ]);
    let found = recognize(&nested, None).unwrap();
    assert_eq!(found.kind, StandardKind::Scorm);
    assert_eq!(found.package_root.unwrap().as_str(), "a/b");
    assert_eq!(found.manifest.as_str(), "a/b/imsmanifest.xml");

    let two_folders = paths(&["a/imsmanifest.xml", "b/index.html"]);
    assert_eq!(recognize(&two_folders, None), None);
    let file_beside = paths(&["a/imsmanifest.xml", "readme.txt"]);
    assert_eq!(recognize(&file_beside, None), None);

    let uppercase = paths(&["IMSMANIFEST.XML"]);
    assert_eq!(
        recognize(&uppercase, None).unwrap().manifest.as_str(),
        "IMSMANIFEST.XML"
    );

    let all = paths(&[
        "imsmanifest.xml",
        "cmi5.xml",
        "tincan.xml",
        "c.crs",
        "c.au",
        "c.des",
        "c.cst",
    ]);
    let preferred = recognize(&all, None).unwrap();
    assert_eq!(preferred.kind, StandardKind::Cmi5);
    assert_eq!(
        preferred.also_present,
        vec![StandardKind::Xapi, StandardKind::Scorm, StandardKind::Aicc]
    );
    assert_eq!(
        recognize(&all, Some(StandardKind::Aicc)).unwrap().kind,
        StandardKind::Aicc
    );
}

fn big_cmi5(count: usize, relative: bool) -> String {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/big"><title><langstring lang="en-US">Big</langstring></title><description><langstring lang="en-US">d</langstring></description></course>
"#,
    );
    for block in 0..count / 100 {
        xml.push_str(&format!(
            "  <block id=\"https://example.com/big/block/{block}\"><title><langstring>B{block}</langstring></title><description><langstring>d</langstring></description>\n"
        ));
        for au in 0..100 {
            let n = block * 100 + au;
            let url = if relative {
                format!("au/{n}/index.html")
            } else {
                format!("https://cdn.example.com/au/{n}/index.html")
            };
            xml.push_str(&format!(
                "    <au id=\"https://example.com/big/au/{n}\" moveOn=\"Completed\"><title><langstring>AU {n}</langstring></title><description><langstring>d</langstring></description><url>{url}</url></au>\n"
            ));
        }
        xml.push_str("  </block>\n");
    }
    xml.push_str("</courseStructure>\n");
    xml
}

#[test]
fn cmi5_courses_with_more_than_a_thousand_aus_import() {
    let xml = big_cmi5(1200, true);
    let mut package = MemoryPackage::new().with("cmi5.xml", xml);
    for n in 0..1200 {
        package = package.with(&format!("au/{n}/index.html"), "<html/>");
    }
    let imported = import_package(&package, &ImportOptions::default()).unwrap();
    assert!(imported.report.findings.is_empty(), "{:?}", imported.report);
    let launchable = imported.course.launchable();
    assert_eq!(launchable.len(), 1200);
    let last = launchable.last().unwrap().launch.as_ref().unwrap();
    assert_eq!(
        last.url,
        LaunchUrl::Package {
            path: PackagePath::parse("au/1199/index.html").unwrap(),
            query: None,
            fragment: None,
        }
    );
    assert!(matches!(last.content, LaunchContent::Cmi5Au(_)));

    let bare =
        import_cmi5_xml(big_cmi5(1200, false).as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(bare.course.launchable().len(), 1200);
    assert_eq!(bare.course.root.children.len(), 12);
}

#[test]
fn doctype_is_refused_for_every_xml_standard() {
    let doctype = "<?xml version=\"1.0\"?>\n<!DOCTYPE x SYSTEM \"http://evil.example/x.dtd\">\n";
    let bare = import_cmi5_xml(
        format!("{doctype}<courseStructure/>").as_bytes(),
        &ImportOptions::default(),
    );
    assert_eq!(codes(&bare), vec![FindingCode::XmlDoctypeForbidden]);
    let tincan = MemoryPackage::new().with("tincan.xml", format!("{doctype}<tincan/>"));
    assert_eq!(
        codes(&import_package(&tincan, &ImportOptions::default())),
        vec![FindingCode::XmlDoctypeForbidden]
    );
}

#[test]
fn memory_package_reads_respect_the_limit() {
    let package = scorm_package();
    let path = PackagePath::parse("index.html").unwrap();
    assert!(package.exists(&path));
    assert_eq!(
        package.read(&path, 3),
        Err(ReadError::TooLarge { limit: 3 })
    );
    assert_eq!(package.read(&path, 100).unwrap().unwrap(), b"<html/>");
    let missing = PackagePath::parse("nope.html").unwrap();
    assert_eq!(package.read(&missing, 100), Ok(None));
}

#[test]
fn finding_codes_serialize_as_their_stable_names() {
    for code in FindingCode::ALL {
        assert_eq!(
            serde_json::to_string(code).unwrap(),
            format!("\"{}\"", code.as_str())
        );
        assert!(
            code.as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        );
    }
}

#[test]
fn crlf_and_bom_do_not_change_the_result() {
    let crlf = SCORM12.replace('\n', "\r\n");
    let with_bom = [&[0xEF, 0xBB, 0xBF][..], crlf.as_bytes()].concat();
    let package = MemoryPackage::new()
        .with("imsmanifest.xml", with_bom)
        .with("index.html", "<html/>");
    let plain = import_package(&scorm_package(), &ImportOptions::default()).unwrap();
    let sloppy = import_package(&package, &ImportOptions::default()).unwrap();
    assert_eq!(plain.course, sloppy.course);
    assert!(sloppy.report.findings.is_empty());
}

#[test]
fn time_limit_actions_accept_aicc_abbreviations() {
    use domain::package::TimeLimitAction::{self, *};
    let cases = [
        ("exit,message", Some(ExitMessage)),
        ("Exit, No Message", Some(ExitNoMessage)),
        ("continue,  message", Some(ContinueMessage)),
        ("C,N", Some(ContinueNoMessage)),
        ("e,m", Some(ExitMessage)),
        ("E,E", None),
        ("stop", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(TimeLimitAction::parse_lenient(raw), expected, "{raw}");
    }
}
