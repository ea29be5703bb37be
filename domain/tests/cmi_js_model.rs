//! The tables exported for the browser runtime, pinned as files the player
//! can embed, and the shared patterns checked against sample strings that
//! the JavaScript side checks too (`tests/data/cmi/check_patterns.mjs`).
//!
//! Regenerate the snapshots after a deliberate table change with
//! `UPDATE_EXPECT=1 cargo test -p domain --test cmi_js_model`.

use std::fs;
use std::path::Path;

use domain::cmi::types::Pattern;
use domain::cmi::{ScormVersion, js_model};
use serde_json::Value;

#[test]
fn exported_tables_match_the_snapshots() {
    let snapshots = [
        (
            ScormVersion::Scorm12,
            expect_test::expect_file!["data/cmi/js_model_1.2.json"],
        ),
        (
            ScormVersion::Scorm2004Second,
            expect_test::expect_file!["data/cmi/js_model_2004-2.json"],
        ),
        (
            ScormVersion::Scorm2004Third,
            expect_test::expect_file!["data/cmi/js_model_2004-3.json"],
        ),
        (
            ScormVersion::Scorm2004Fourth,
            expect_test::expect_file!["data/cmi/js_model_2004-4.json"],
        ),
    ];
    for (version, snapshot) in snapshots {
        let text = serde_json::to_string_pretty(&js_model(version)).expect("the model serializes");
        snapshot.assert_eq(&format!("{text}\n"));
    }
}

#[test]
fn patterns_agree_with_the_shared_samples() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cmi/pattern_samples.json");
    let samples: Value =
        serde_json::from_str(&fs::read_to_string(path).expect("samples are readable"))
            .expect("samples are json");
    for pattern in Pattern::ALL {
        let entry = &samples[pattern.name()];
        assert!(entry.is_object(), "no samples for {}", pattern.name());
        for (key, expected) in [("match", true), ("reject", false)] {
            for sample in entry[key].as_array().expect("sample list") {
                let sample = sample.as_str().expect("sample string");
                assert_eq!(
                    pattern.matches(sample),
                    expected,
                    "{} on {sample:?}",
                    pattern.name()
                );
            }
        }
    }
}
