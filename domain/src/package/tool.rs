//! Recognising the authoring tool that produced a package.
//!
//! File fingerprints are checked first (they are the clearest), then free
//! texts: XML comments, generator metadata, identifiers.

use super::course::{AuthoringTool, AuthoringToolKind};
use super::path::PackagePath;

/// Recognises the tool from package files (relative to the package root) and
/// free texts of the manifest.
pub(crate) fn recognize(files: &[&PackagePath], hints: &[&str]) -> Option<AuthoringTool> {
    by_files(files).or_else(|| by_hints(hints))
}

fn found(tool: AuthoringToolKind, evidence: impl Into<String>) -> Option<AuthoringTool> {
    Some(AuthoringTool {
        tool,
        evidence: evidence.into(),
    })
}

fn by_files(files: &[&PackagePath]) -> Option<AuthoringTool> {
    let lower: Vec<(String, &PackagePath)> = files
        .iter()
        .map(|path| (path.as_str().to_ascii_lowercase(), *path))
        .collect();
    let find = |test: &dyn Fn(&str) -> bool| {
        lower
            .iter()
            .find(|(l, _)| test(l))
            .map(|(_, p)| p.as_str().to_owned())
    };
    let segment = |path: &str, name: &str| path.split('/').any(|s| s == name);
    let file_name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_owned();

    if let Some(path) = find(&|p| segment(p, "scormcontent")) {
        return found(AuthoringToolKind::ArticulateRise, path);
    }
    if let Some(path) = find(&|p| {
        segment(p, "story_content")
            || matches!(file_name(p).as_str(), "story.html" | "story_html5.html")
    }) {
        return found(AuthoringToolKind::ArticulateStoryline, path);
    }
    if let Some(path) = find(&|p| {
        matches!(
            file_name(p).as_str(),
            "cpm.js" | "cpxhrloader.js" | "captivate.css"
        )
    }) {
        return found(AuthoringToolKind::AdobeCaptivate, path);
    }
    if let Some(path) = find(&|p| p.contains("ispring")) {
        return found(AuthoringToolKind::Ispring, path);
    }
    // iSpring's HTML5 output: res/index.html with res/data/slideN.js.
    let ispring_slides = find(&|p| {
        p.strip_prefix("res/data/slide")
            .and_then(|rest| rest.strip_suffix(".js"))
            .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
    });
    if let (Some(path), true) = (
        ispring_slides,
        lower.iter().any(|(l, _)| l == "res/index.html"),
    ) {
        return found(AuthoringToolKind::Ispring, path);
    }
    if let Some(path) =
        find(&|p| file_name(p).contains("trivantis") || file_name(p) == "a001index.html")
    {
        return found(AuthoringToolKind::Lectora, path);
    }
    let adapt = find(&|p| file_name(p) == "adapt.min.js" || p.ends_with("adapt/css/adapt.css"));
    if let Some(adapt) = adapt {
        if let Some(path) = find(&|p| p.split('/').any(|s| s.starts_with("evolve"))) {
            return found(AuthoringToolKind::Evolve, path);
        }
        return found(AuthoringToolKind::Adapt, adapt);
    }
    None
}

fn by_hints(hints: &[&str]) -> Option<AuthoringTool> {
    const SIGNATURES: [(&str, AuthoringToolKind); 9] = [
        ("rise 360", AuthoringToolKind::ArticulateRise),
        ("articulate rise", AuthoringToolKind::ArticulateRise),
        ("storyline", AuthoringToolKind::ArticulateStoryline),
        ("captivate", AuthoringToolKind::AdobeCaptivate),
        ("ispring", AuthoringToolKind::Ispring),
        ("lectora", AuthoringToolKind::Lectora),
        ("trivantis", AuthoringToolKind::Lectora),
        ("evolve authoring", AuthoringToolKind::Evolve),
        ("adapt framework", AuthoringToolKind::Adapt),
    ];
    for hint in hints {
        let lower = hint.to_lowercase();
        for (signature, tool) in SIGNATURES {
            if lower.contains(signature) {
                let evidence: String = hint.chars().take(120).collect();
                return found(tool, evidence);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(files: &[&str], hints: &[&str]) -> Option<AuthoringToolKind> {
        let paths: Vec<PackagePath> = files
            .iter()
            .map(|f| PackagePath::parse(f).unwrap())
            .collect();
        let refs: Vec<&PackagePath> = paths.iter().collect();
        recognize(&refs, hints).map(|tool| tool.tool)
    }

    #[test]
    fn fingerprints() {
        use AuthoringToolKind::*;
        let cases: [(&[&str], &[&str], Option<AuthoringToolKind>); 13] = [
            (&["a001index.html", "images/x.png"], &[], Some(Lectora)),
            (
                &["res/index.html", "res/data/slide4.js"],
                &[],
                Some(Ispring),
            ),
            (&["res/index.html", "res/data/slides.js"], &[], None),
            (
                &["scormcontent/index.html", "scormdriver/indexAPI.html"],
                &[],
                Some(ArticulateRise),
            ),
            (
                &["story.html", "story_content/user.js"],
                &[],
                Some(ArticulateStoryline),
            ),
            (
                &["index_lms.html", "story_content/frame.xml"],
                &[],
                Some(ArticulateStoryline),
            ),
            (
                &["index_scorm.html", "assets/js/CPXHRLoader.js"],
                &[],
                Some(AdobeCaptivate),
            ),
            (&["res/index.html", "data/ispring.js"], &[], Some(Ispring)),
            (
                &["a001index.html", "trivantis-titlemgr.js"],
                &[],
                Some(Lectora),
            ),
            (
                &["adapt/js/adapt.min.js", "course/en/course.json"],
                &[],
                Some(Adapt),
            ),
            (
                &["adapt/js/adapt.min.js", "evolve-theme/x.css"],
                &[],
                Some(Evolve),
            ),
            (
                &["index.html"],
                &["Generated by iSpring Suite 11"],
                Some(Ispring),
            ),
            (&["index.html"], &["hand written"], None),
        ];
        for (files, hints, expected) in cases {
            assert_eq!(check(files, hints), expected, "{files:?} {hints:?}");
        }
    }
}
