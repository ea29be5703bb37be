//! Content packages for tests, written here from scratch: one builder per
//! standard, and byte-level tamperings that ZIP writers refuse to produce.

use std::io::Write;

use zip::write::SimpleFileOptions;

/// A ZIP of `(path, bytes)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (path, bytes) in entries {
            writer.start_file(*path, options).expect("a test entry");
            writer.write_all(bytes).expect("test bytes");
        }
        writer.finish().expect("a test zip");
    }
    buffer.into_inner()
}

/// A SCO that reports to whichever API it finds.
pub const SCO_12: &str = "<html><head><title>SCO</title></head><body>SCO 1.2</body></html>";

pub fn manifest_12(mastery: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="test12" version="1"
 xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>Test Course 1.2</title>
  <item identifier="i1" identifierref="r1" parameters="?lesson=1"><title>Lesson</title><adlcp:masteryscore>{mastery}</adlcp:masteryscore></item>
 </organization></organizations>
 <resources><resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="index.html">
  <file href="index.html"/><file href="shared/style.css"/></resource></resources>
</manifest>"#
    )
}

/// A SCORM 1.2 course of one SCO.
pub fn scorm12() -> Vec<u8> {
    zip(&[
        ("imsmanifest.xml", manifest_12("80").as_bytes()),
        ("index.html", SCO_12.as_bytes()),
        ("shared/style.css", b"body { color: #333 }"),
    ])
}

pub fn manifest_2004(scos: usize) -> String {
    let items: String = (1..=scos)
        .map(|k| {
            format!(r#"<item identifier="i{k}" identifierref="r{k}"><title>SCO {k}</title></item>"#)
        })
        .collect();
    let resources: String = (1..=scos)
        .map(|k| {
            format!(r#"<resource identifier="r{k}" type="webcontent" adlcp:scormType="sco" href="sco{k}.html"><file href="sco{k}.html"/></resource>"#)
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="test2004" version="1"
 xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
 xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
 <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>Test Course 2004</title>{items}
  <imsss:sequencing><imsss:controlMode choice="false" flow="true" forwardOnly="true"/></imsss:sequencing>
 </organization></organizations>
 <resources>{resources}</resources>
</manifest>"#
    )
}

/// A SCORM 1.2 course of `scos` SCOs (1.2 has no sequencing: the player
/// navigates in tree order and by choice).
pub fn scorm12_multi(scos: usize) -> Vec<u8> {
    let items: String = (1..=scos)
        .map(|k| {
            format!(
                r#"<item identifier="i{k}" identifierref="r{k}"><title>Lesson {k}</title></item>"#
            )
        })
        .collect();
    let resources: String = (1..=scos)
        .map(|k| format!(r#"<resource identifier="r{k}" type="webcontent" adlcp:scormtype="sco" href="sco{k}.html"><file href="sco{k}.html"/></resource>"#))
        .collect();
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="multi12" version="1"
 xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>Multi 1.2</title>{items}</organization></organizations>
 <resources>{resources}</resources>
</manifest>"#
    );
    let pages: Vec<String> = (1..=scos).map(|k| format!("sco{k}.html")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("imsmanifest.xml", manifest.as_bytes())];
    for page in &pages {
        entries.push((page, SCO_12.as_bytes()));
    }
    zip(&entries)
}

/// A SCORM 2004 4th edition package of `manifest`, with an empty page at
/// each of `pages`.
pub fn scorm2004_with(manifest: &str, pages: &[&str]) -> Vec<u8> {
    let mut entries: Vec<(&str, &[u8])> = vec![("imsmanifest.xml", manifest.as_bytes())];
    for page in pages {
        entries.push((page, b"<html><body>SCO</body></html>"));
    }
    zip(&entries)
}

/// A SCORM 2004 manifest of one SCO, `item`, whose primary objective
/// `objective` maps to the global objective `global`, reading or writing
/// its satisfaction.
pub fn manifest_2004_global(course: &str, item: &str, global: &str, write: bool) -> String {
    let access = if write {
        r#"readSatisfiedStatus="false" writeSatisfiedStatus="true""#
    } else {
        r#"readSatisfiedStatus="true" writeSatisfiedStatus="false""#
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="{course}" version="1"
 xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
 xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
 <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>{course}</title>
  <item identifier="{item}" identifierref="r1"><title>{item}</title>
   <imsss:sequencing><imsss:objectives>
    <imsss:primaryObjective objectiveID="obj-{item}"><imsss:mapInfo targetObjectiveID="{global}" {access}/></imsss:primaryObjective>
   </imsss:objectives></imsss:sequencing>
  </item>
  <imsss:sequencing><imsss:controlMode flow="true"/></imsss:sequencing>
 </organization></organizations>
 <resources><resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="sco.html"><file href="sco.html"/></resource></resources>
</manifest>"#
    )
}

/// A SCORM 2004 4th edition course of `scos` SCOs in flow order.
pub fn scorm2004(scos: usize) -> Vec<u8> {
    let manifest = manifest_2004(scos);
    let pages: Vec<(String, String)> = (1..=scos)
        .map(|k| {
            (
                format!("sco{k}.html"),
                format!("<html><body>SCO {k}</body></html>"),
            )
        })
        .collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("imsmanifest.xml", manifest.as_bytes())];
    for (path, body) in &pages {
        entries.push((path, body.as_bytes()));
    }
    zip(&entries)
}

/// An AICC course: `.crs`, `.au`, `.des`, `.cst`.
pub fn aicc() -> Vec<u8> {
    let crs = "[Course]\r\nCourse_Creator=Tests\r\nCourse_ID=AICC1\r\nCourse_System=web\r\nCourse_Title=AICC Course\r\nLevel=1\r\nMax_Fields_CST=2\r\nTotal_AUs=1\r\nTotal_Blocks=0\r\nVersion=4.0\r\n[Course_Behavior]\r\nMax_Normal=1\r\n[Course_Description]\r\nAn AICC test course.\r\n";
    let au = "\"System_ID\",\"Type\",\"Command_Line\",\"File_Name\",\"Core_Vendor\",\"Mastery_Score\"\r\n\"A1\",\"lesson\",\"\",\"au1.html\",\"\",\"75\"\r\n";
    let des = "\"System_ID\",\"Developer_ID\",\"Title\",\"Description\"\r\n\"A1\",\"au-1\",\"Lesson One\",\"The lesson\"\r\n";
    let cst = "\"block\",\"member\"\r\n\"root\",\"A1\"\r\n";
    zip(&[
        ("course.crs", crs.as_bytes()),
        ("course.au", au.as_bytes()),
        ("course.des", des.as_bytes()),
        ("course.cst", cst.as_bytes()),
        ("au1.html", b"<html>AICC AU</html>"),
    ])
}

/// A Tin Can (xAPI) package.
pub fn tincan() -> Vec<u8> {
    let tincan = r#"<?xml version="1.0" encoding="utf-8"?>
<tincan xmlns="http://projecttincan.com/tincan.xsd">
 <activities>
  <activity id="http://example.com/tests/tincan-course" type="http://adlnet.gov/expapi/activities/course">
   <name>Tin Can Course</name><description lang="en-US">A test course</description>
   <launch lang="en-US">index.html</launch>
  </activity>
 </activities>
</tincan>"#;
    zip(&[
        ("tincan.xml", tincan.as_bytes()),
        ("index.html", b"<html>xAPI</html>"),
    ])
}

/// A Tin Can course whose page reports as xAPI content does: it reads the
/// launch parameters, sends `initialized`, saves a State document, then
/// `completed` and `passed` with a score, and leaves the answers' statuses
/// in `document.body.dataset.results` (or an `error`).
pub fn tincan_reporting() -> Vec<u8> {
    let tincan = r#"<?xml version="1.0" encoding="utf-8"?>
<tincan xmlns="http://projecttincan.com/tincan.xsd">
 <activities>
  <activity id="http://example.com/tests/tincan-course" type="http://adlnet.gov/expapi/activities/course">
   <name>Tin Can Course</name>
   <launch lang="en-US">lesson/index.html?lang=en</launch>
  </activity>
 </activities>
</tincan>"#;
    let page = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reporting lesson</title></head>
<body><p id="status">starting</p>
<script>
(async () => {
  const query = new URLSearchParams(location.search);
  const endpoint = query.get("endpoint");
  const actor = JSON.parse(query.get("actor"));
  const registration = query.get("registration");
  const activity = query.get("activity_id");
  const headers = {
    "Authorization": query.get("auth"),
    "X-Experience-API-Version": "1.0.3",
    "Content-Type": "application/json",
  };
  const statement = (verb, result) => ({
    actor,
    verb: {id: "http://adlnet.gov/expapi/verbs/" + verb, display: {"en-US": verb}},
    object: {objectType: "Activity", id: activity},
    context: {registration},
    ...(result ? {result} : {}),
  });
  const results = [];
  const send = async (method, path, body) => {
    const response = await fetch(endpoint + path, {method, headers, body: JSON.stringify(body)});
    results.push(response.status);
  };
  await send("POST", "statements", statement("initialized"));
  const state = new URLSearchParams({
    activityId: activity, agent: JSON.stringify(actor), stateId: "bookmark", registration,
  });
  await send("PUT", "activities/state?" + state, {page: 2});
  await send("POST", "statements", [
    statement("completed", {completion: true, duration: "PT1M30S"}),
    statement("passed", {success: true, score: {scaled: 0.85, raw: 85, min: 0, max: 100}}),
  ]);
  document.getElementById("status").textContent = "done";
  document.body.dataset.lang = query.get("lang");
  document.body.dataset.results = results.join(",");
})().catch((e) => { document.body.dataset.error = String(e); });
</script></body></html>"#;
    zip(&[
        ("tincan.xml", tincan.as_bytes()),
        ("lesson/index.html", page.as_bytes()),
    ])
}

pub fn cmi5_xml(au_ids: &[&str], url: &str) -> String {
    let aus: String = au_ids
        .iter()
        .map(|id| {
            format!(
                r#"<au id="{id}" moveOn="CompletedAndPassed" masteryScore="0.8"><title><langstring lang="en-US">AU</langstring></title>
  <description><langstring lang="en-US">d</langstring></description><url>{url}</url></au>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
 <course id="https://example.com/tests/cmi5-course"><title><langstring lang="en-US">cmi5 Course</langstring></title>
  <description><langstring lang="en-US">A test course</langstring></description></course>
 {aus}
</courseStructure>"#
    )
}

/// A cmi5 package with one AU.
pub fn cmi5() -> Vec<u8> {
    let xml = cmi5_xml(&["https://example.com/tests/au1"], "index.html");
    zip(&[
        ("cmi5.xml", xml.as_bytes()),
        ("index.html", b"<html>cmi5</html>"),
    ])
}

/// A cmi5 package whose two AUs share an id: cmi5 says reject.
pub fn cmi5_duplicate_ids() -> Vec<u8> {
    let xml = cmi5_xml(
        &[
            "https://example.com/tests/au1",
            "https://example.com/tests/au1",
        ],
        "index.html",
    );
    zip(&[
        ("cmi5.xml", xml.as_bytes()),
        ("index.html", b"<html>cmi5</html>"),
    ])
}

/// Sets the "encrypted" flag of every entry, in both headers.
pub fn mark_encrypted(mut zip: Vec<u8>) -> Vec<u8> {
    set_flags(&mut zip, 0x0001);
    zip
}

fn set_flags(zip: &mut [u8], bits: u16) {
    let mut i = 0;
    while i + 10 < zip.len() {
        let offset = match &zip[i..i + 4] {
            b"PK\x03\x04" => Some(6),
            b"PK\x01\x02" => Some(8),
            _ => None,
        };
        if let Some(offset) = offset {
            let flags = u16::from_le_bytes([zip[i + offset], zip[i + offset + 1]]) | bits;
            zip[i + offset..i + offset + 2].copy_from_slice(&flags.to_le_bytes());
        }
        i += 1;
    }
}

/// Makes the headers lie: every entry whose local and central headers say
/// it inflates to `actual` bytes is declared to inflate to `declared`.
pub fn declare_size(mut zip: Vec<u8>, actual: u32, declared: u32) -> Vec<u8> {
    let mut patched = 0;
    let mut i = 0;
    while i + 30 < zip.len() {
        let offset = match &zip[i..i + 4] {
            b"PK\x03\x04" => Some(22),
            b"PK\x01\x02" => Some(24),
            _ => None,
        };
        if let Some(offset) = offset {
            let at = i + offset;
            if zip[at..at + 4] == actual.to_le_bytes() {
                zip[at..at + 4].copy_from_slice(&declared.to_le_bytes());
                patched += 1;
            }
        }
        i += 1;
    }
    assert!(patched >= 2, "no entry of {actual} bytes to patch");
    zip
}

/// Replaces `from` by `to` (same length) in every entry name: for names
/// that are not UTF-8, which ZIP writers won't write.
pub fn patch_name(mut zip: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= zip.len() {
        if &zip[i..i + from.len()] == from {
            zip[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
    zip
}

/// A ZIP with a symbolic link entry.
pub fn with_symlink() -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = SimpleFileOptions::default();
        writer.start_file("imsmanifest.xml", options).unwrap();
        writer.write_all(manifest_12("80").as_bytes()).unwrap();
        writer.start_file("index.html", options).unwrap();
        writer.write_all(SCO_12.as_bytes()).unwrap();
        writer.add_symlink("shared", "/etc", options).unwrap();
        writer.finish().unwrap();
    }
    buffer.into_inner()
}

/// A ZIP with one entry of `size` zeros: a tiny archive that inflates huge.
pub fn bomb(size: usize) -> Vec<u8> {
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(size > u32::MAX as usize);
        writer.start_file("imsmanifest.xml", options).unwrap();
        writer.write_all(manifest_12("80").as_bytes()).unwrap();
        writer.start_file("index.html", options).unwrap();
        writer.write_all(SCO_12.as_bytes()).unwrap();
        writer.start_file("zeros.bin", options).unwrap();
        let chunk = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        writer.finish().unwrap();
    }
    buffer.into_inner()
}

/// A SCO for the browser tests, for SCORM 1.2 and 2004 alike: it finds
/// the API as content does (`window.parent` chain, then `window.opener`),
/// calls `Initialize` when it loads and `Terminate` when it is unloaded
/// (unless `sco.finishOnUnload` is false), and offers `window.sco` to the
/// test: `sco.call(fn, ...args)` makes one call by its SCORM 2004 name
/// (the `LMS…` name in 1.2) and returns `[result, GetLastError()]`;
/// `sco.run([[fn, ...args], …])` makes several.
pub const BROWSER_SCO: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SCO</title></head>
<body><h1 id="sco-name">SCO</h1><p id="sco-state">loading</p>
<script>
(function () {
  "use strict";
  var NAMES_12 = {
    Initialize: "LMSInitialize", Terminate: "LMSFinish", GetValue: "LMSGetValue",
    SetValue: "LMSSetValue", Commit: "LMSCommit", GetLastError: "LMSGetLastError",
    GetErrorString: "LMSGetErrorString", GetDiagnostic: "LMSGetDiagnostic"
  };
  function scan(win, name) {
    for (var hops = 0; win && hops < 500; hops++) {
      try {
        if (win[name]) return win[name];
      } catch (e) {
        return null;
      }
      if (win.parent === win) break;
      win = win.parent;
    }
    return null;
  }
  function find(name) {
    return scan(window, name) || (window.opener ? scan(window.opener, name) : null);
  }
  var api2004 = find("API_1484_11");
  var api12 = api2004 ? null : find("API");
  var sco = {
    name: location.pathname.split("/").pop().replace(/\.html$/, ""),
    version: api2004 ? "2004" : api12 ? "1.2" : null,
    api: api2004 || api12,
    started: false,
    terminated: false,
    finishOnUnload: true
  };
  sco.fn = function (f) {
    return sco.version === "1.2" ? NAMES_12[f] : f;
  };
  sco.call = function (f) {
    var args = Array.prototype.slice.call(arguments, 1);
    var result = sco.api[sco.fn(f)].apply(sco.api, args);
    if (f === "Terminate" && result === "true") sco.terminated = true;
    return [result, sco.api[sco.fn("GetLastError")]()];
  };
  sco.run = function (steps) {
    return steps.map(function (step) {
      return sco.call.apply(null, step);
    });
  };
  function finish() {
    if (sco.started && !sco.terminated && sco.finishOnUnload) {
      sco.terminated = true;
      sco.api[sco.fn("Terminate")]("");
    }
  }
  window.addEventListener("pagehide", finish);
  window.addEventListener("unload", finish);
  window.sco = sco;
  document.getElementById("sco-name").textContent = sco.name;
  if (sco.api) sco.started = sco.call("Initialize", "")[0] === "true";
  document.getElementById("sco-state").textContent = sco.started ? "running" : "no API";
})();
</script></body></html>"#;

/// A SCORM 1.2 course of `lessons` (`(id, title)`), each a [`BROWSER_SCO`]
/// at `<id>.html`, with a mastery score of 80 on every lesson.
pub fn scorm12_browser(title: &str, lessons: &[(&str, &str)]) -> Vec<u8> {
    let items: String = lessons
        .iter()
        .map(|(id, title)| {
            format!(
                r#"<item identifier="{id}" identifierref="r-{id}"><title>{title}</title><adlcp:masteryscore>80</adlcp:masteryscore></item>"#
            )
        })
        .collect();
    let resources: String = lessons
        .iter()
        .map(|(id, _)| {
            format!(
                r#"<resource identifier="r-{id}" type="webcontent" adlcp:scormtype="sco" href="{id}.html"><file href="{id}.html"/></resource>"#
            )
        })
        .collect();
    let manifest = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="browser12" version="1"
 xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
 <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>{title}</title>{items}</organization></organizations>
 <resources>{resources}</resources>
</manifest>"#
    );
    browser_package(&manifest, lessons.iter().map(|(id, _)| *id))
}

/// A SCORM 2004 4th edition item for [`manifest_2004_browser`]: its id,
/// title and the `<imsss:sequencing>` element inside it (or nothing).
pub struct Item2004<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub sequencing: &'a str,
}

/// A SCORM 2004 4th edition manifest whose organization holds `items`
/// (each launching `<id>.html`) and the organization's own sequencing.
pub fn manifest_2004_browser(title: &str, items: &[Item2004<'_>], sequencing: &str) -> String {
    let body: String = items
        .iter()
        .map(|item| {
            format!(
                r#"<item identifier="{id}" identifierref="r-{id}"><title>{title}</title>{sequencing}</item>"#,
                id = item.id,
                title = item.title,
                sequencing = item.sequencing
            )
        })
        .collect();
    let resources: String = items
        .iter()
        .map(|item| {
            format!(
                r#"<resource identifier="r-{id}" type="webcontent" adlcp:scormType="sco" href="{id}.html"><file href="{id}.html"/></resource>"#,
                id = item.id
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="browser2004" version="1"
 xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
 xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
 xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
 xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
 xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
 <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
 <organizations default="org"><organization identifier="org"><title>{title}</title>{body}{sequencing}</organization></organizations>
 <resources>{resources}</resources>
</manifest>"#
    )
}

/// A SCORM 2004 package of `manifest` (from [`manifest_2004_browser`]),
/// with a [`BROWSER_SCO`] at `<id>.html` for each of `ids`.
pub fn scorm2004_browser<'a>(manifest: &str, ids: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    browser_package(manifest, ids)
}

fn browser_package<'a>(manifest: &str, ids: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
    let pages: Vec<String> = ids.into_iter().map(|id| format!("{id}.html")).collect();
    let mut entries: Vec<(&str, &[u8])> = vec![("imsmanifest.xml", manifest.as_bytes())];
    for page in &pages {
        entries.push((page, BROWSER_SCO.as_bytes()));
    }
    zip(&entries)
}
