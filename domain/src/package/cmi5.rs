//! `cmi5.xml` course structures (cmi5 Quartz, `CourseStructure.xsd`).

use std::collections::HashMap;

use super::course::{
    Activity, Cmi5Au, Course, CourseObjective, GlobalScopes, Launch, LaunchContent, LaunchMethod,
    LaunchUrl, MoveOn, RuntimeInit, Standard,
};
use super::finding::{FindingCode, Location};
use super::path::PackagePath;
use super::xml::{self, Element};
use super::{Context, tool, url};

const CMI5_NAMESPACE: &str = "https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd";

/// Query parameter names the LMS adds to every AU launch.
pub const LAUNCH_PARAMETERS: [&str; 5] =
    ["endpoint", "fetch", "actor", "registration", "activityId"];

/// Imports a cmi5 course structure: from the package, or from `bare` bytes
/// when the upload is a lone `cmi5.xml`.
pub(crate) fn import(ctx: &mut Context<'_>, bare: Option<&[u8]>) -> Option<Course> {
    let name = ctx.manifest_name();
    let text = match bare {
        Some(bytes) => {
            if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > ctx.options.manifest_size_limit {
                let limit = ctx.options.manifest_size_limit;
                ctx.push(
                    FindingCode::ManifestTooLarge,
                    format!("cmi5.xml is larger than the limit of {limit} bytes"),
                    Location::file(&name),
                );
                return None;
            }
            let decoded = xml::decode(bytes);
            if let Some(mismatch) = decoded.mismatch {
                ctx.push(
                    FindingCode::EncodingMismatch,
                    mismatch,
                    Location::file(&name),
                );
            }
            decoded.text
        }
        None => {
            let manifest = PackagePath::parse(ctx.recognition.manifest.file_name()).ok()?;
            ctx.read_text(&manifest)?
        }
    };
    let document = ctx.parse_xml(&text, &name)?;
    let root = &document.root;
    if !root.is("courseStructure") {
        let location = ctx.at(root, &format!("/{}", root.local));
        ctx.push(
            FindingCode::UnexpectedRootElement,
            format!(
                "the root element is <{}>, not <courseStructure>",
                root.local
            ),
            location,
        );
        return None;
    }
    if root.namespace.as_deref() != Some(CMI5_NAMESPACE) {
        let location = ctx.at(root, "/courseStructure");
        ctx.push(
            FindingCode::UnexpectedNamespace,
            format!(
                "<courseStructure> is in namespace {:?}, not {CMI5_NAMESPACE:?}; read by local names",
                root.namespace.as_deref().unwrap_or("")
            ),
            location,
        );
    }
    let mut parser = Parser {
        ctx,
        namespaced: root.namespace.is_some(),
        ids: HashMap::new(),
        objective_ids: Vec::new(),
        au_count: 0,
    };
    let Some(course_element) = root.child("course") else {
        let location = parser.ctx.at(root, "/courseStructure");
        parser.ctx.push(
            FindingCode::MissingRequired,
            "<courseStructure> has no <course>",
            location,
        );
        return None;
    };
    parser.check_sequence(root, "/courseStructure", &COURSE_STRUCTURE);
    let course_path = "/courseStructure/course";
    parser.check_sequence(course_element, course_path, &COURSE);
    let course_id = parser.id(course_element, course_path, "id", "course");
    let title = langstring(course_element, "title").unwrap_or_else(|| course_id.clone());
    let description = langstring(course_element, "description");
    let mut objectives = Vec::new();
    if let Some(list) = root.child("objectives") {
        for (index, objective) in list.children_named("objective").enumerate() {
            let path = format!("/courseStructure/objectives/objective[{}]", index + 1);
            let id = parser.id(objective, &path, "id", "objective");
            parser.check_sequence(objective, &path, &OBJECTIVE);
            parser.objective_ids.push(id.clone());
            objectives.push(CourseObjective {
                id,
                title: langstring(objective, "title"),
                description: langstring(objective, "description"),
            });
        }
    }
    let mut course_activity = Activity::new(course_id.clone(), title.clone());
    course_activity.description = description.clone();
    course_activity.children = parser.members(root, "/courseStructure");
    if parser.au_count == 0 {
        let location = parser.ctx.at(root, "/courseStructure");
        parser.ctx.push(
            FindingCode::NoLaunchableActivity,
            "the course structure has no au",
            location,
        );
    }
    let files = parser.ctx.relative_files();
    let mut hints: Vec<&str> = document.comments.iter().map(String::as_str).collect();
    hints.push(&course_id);
    let authoring_tool = tool::recognize(&files, &hints);
    Some(Course {
        standard: Standard::Cmi5,
        identifier: course_id,
        title,
        description,
        package_root: parser.ctx.recognition.package_root.clone(),
        authoring_tool,
        scopes: GlobalScopes::default(),
        root: course_activity,
        resources: Vec::new(),
        objectives,
        activity_definitions: Vec::new(),
        aicc: None,
    })
}

/// Whether `value` is an absolute IRI: a scheme, a non-empty rest, and no
/// whitespace or characters IRIs exclude.
pub fn is_iri(value: &str) -> bool {
    let Some(scheme) = url::scheme(value) else {
        return false;
    };
    let rest = &value[scheme.len() + 1..];
    !rest.is_empty()
        && !value.chars().any(|ch| {
            ch.is_whitespace()
                || ch.is_control()
                || matches!(ch, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

/// Whether `value` can be a URL (IRI) reference: no whitespace, control
/// characters or characters URLs exclude.
fn is_url_reference(value: &str) -> bool {
    !value.chars().any(|ch| {
        ch.is_whitespace()
            || ch.is_control()
            || matches!(ch, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
    })
}

/// The best `<langstring>` of the `local` child: `en-US`, any `en`, the first.
fn langstring(element: &Element, local: &str) -> Option<String> {
    let container = element.child(local)?;
    super::tincan::lang_text(container, "langstring").or_else(|| {
        let text = container.trimmed_text();
        (!text.is_empty()).then(|| text.to_owned())
    })
}

/// One particle of an `xs:sequence`: element names, minimum and maximum count.
struct Particle {
    names: &'static [&'static str],
    min: usize,
    max: usize,
}

const fn one(names: &'static [&'static str]) -> Particle {
    Particle {
        names,
        min: 1,
        max: 1,
    }
}

const fn optional(names: &'static [&'static str]) -> Particle {
    Particle {
        names,
        min: 0,
        max: 1,
    }
}

const fn many(names: &'static [&'static str]) -> Particle {
    Particle {
        names,
        min: 1,
        max: usize::MAX,
    }
}

const COURSE_STRUCTURE: [Particle; 3] = [
    one(&["course"]),
    optional(&["objectives"]),
    many(&["au", "block"]),
];
const COURSE: [Particle; 2] = [one(&["title"]), one(&["description"])];
const OBJECTIVE: [Particle; 2] = [one(&["title"]), one(&["description"])];
const BLOCK: [Particle; 4] = [
    one(&["title"]),
    one(&["description"]),
    optional(&["objectives"]),
    many(&["au", "block"]),
];
const AU: [Particle; 6] = [
    one(&["title"]),
    one(&["description"]),
    optional(&["objectives"]),
    one(&["url"]),
    optional(&["launchParameters"]),
    optional(&["entitlementKey"]),
];
const TEXT: [Particle; 1] = [many(&["langstring"])];

struct Parser<'c, 'a> {
    ctx: &'c mut Context<'a>,
    /// Whether the document uses the cmi5 namespace (else every unqualified
    /// element counts as cmi5).
    namespaced: bool,
    /// Every id seen (course, blocks, AUs, objectives), with where.
    ids: HashMap<String, String>,
    objective_ids: Vec<String>,
    au_count: usize,
}

impl Parser<'_, '_> {
    /// Reads a required IRI id attribute, reporting non-IRIs and duplicates.
    fn id(&mut self, element: &Element, path: &str, attribute: &str, kind: &str) -> String {
        let location = self.ctx.at(element, path);
        let Some(id) = element
            .attr(attribute)
            .map(str::trim)
            .filter(|id| !id.is_empty())
        else {
            self.ctx.push(
                FindingCode::MissingRequired,
                format!("{kind} has no {attribute}"),
                location,
            );
            return String::new();
        };
        if !is_iri(id) {
            self.ctx.push(
                FindingCode::Cmi5InvalidId,
                format!("{kind} id {id:?} is not an iri"),
                location.clone(),
            );
        }
        if let Some(first) = self.ids.get(id) {
            self.ctx.push(
                FindingCode::DuplicateIdentifier,
                format!("{kind} id {id:?} is already used at {first}"),
                location,
            );
        } else {
            self.ids.insert(id.to_owned(), path.to_owned());
        }
        id.to_owned()
    }

    /// Whether `element` belongs to the cmi5 vocabulary (other namespaces are
    /// extensions and may appear anywhere).
    fn is_cmi5(&self, element: &Element) -> bool {
        match &element.namespace {
            Some(namespace) => namespace == CMI5_NAMESPACE,
            None => !self.namespaced,
        }
    }

    /// Checks the cmi5 children of `element` against an `xs:sequence`.
    fn check_sequence(&mut self, element: &Element, path: &str, sequence: &[Particle]) {
        let mut at = 0;
        let mut count = 0;
        let mut problems = Vec::new();
        for child in element.children.iter().filter(|child| self.is_cmi5(child)) {
            while at < sequence.len() && !sequence[at].names.contains(&child.local.as_str()) {
                if count < sequence[at].min {
                    problems.push(format!(
                        "<{}> is missing before <{}>",
                        sequence[at].names.join("|"),
                        child.local
                    ));
                }
                at += 1;
                count = 0;
            }
            if at == sequence.len() {
                problems.push(format!("<{}> is not expected here", child.local));
                break;
            }
            count += 1;
            if count > sequence[at].max {
                problems.push(format!("<{}> appears more than once", child.local));
            }
        }
        for (index, particle) in sequence.iter().enumerate().skip(at) {
            let seen = if index == at { count } else { 0 };
            if seen < particle.min {
                problems.push(format!("<{}> is missing", particle.names.join("|")));
            }
        }
        // Later problems are usually consequences of the first one.
        if let Some(problem) = problems.into_iter().next() {
            self.error(
                FindingCode::Cmi5SchemaViolation,
                element,
                path,
                format!("<{}>: {problem}", element.local),
            );
        }
        let texts: Vec<&Element> = element
            .children
            .iter()
            .filter(|child| self.is_cmi5(child))
            .collect();
        for child in texts {
            if matches!(child.local.as_str(), "title" | "description") {
                let child_path = format!("{path}/{}", child.local);
                self.check_sequence(child, &child_path, &TEXT);
            }
        }
    }

    fn error(&mut self, code: FindingCode, element: &Element, path: &str, message: String) {
        let location = self.ctx.at(element, path);
        self.ctx.push(code, message, location);
    }

    /// The `au` and `block` children of `parent`, in order.
    fn members(&mut self, parent: &Element, path: &str) -> Vec<Activity> {
        let mut members = Vec::new();
        let (mut aus, mut blocks) = (0, 0);
        for child in &parent.children {
            if child.is("au") {
                aus += 1;
                let au_path = format!("{path}/au[{aus}]");
                members.push(self.au(child, &au_path));
            } else if child.is("block") {
                blocks += 1;
                let block_path = format!("{path}/block[{blocks}]");
                members.push(self.block(child, &block_path));
            }
        }
        members
    }

    fn block(&mut self, element: &Element, path: &str) -> Activity {
        let id = self.id(element, path, "id", "block");
        self.check_sequence(element, path, &BLOCK);
        let title = langstring(element, "title").unwrap_or_else(|| id.clone());
        let mut activity = Activity::new(id, title);
        activity.description = langstring(element, "description");
        self.objective_references(element, path);
        activity.children = self.members(element, path);
        activity
    }

    fn objective_references(&mut self, element: &Element, path: &str) -> Vec<String> {
        let mut references = Vec::new();
        let Some(list) = element.child("objectives") else {
            return references;
        };
        for (index, objective) in list.children_named("objective").enumerate() {
            let objective_path = format!("{path}/objectives/objective[{}]", index + 1);
            let Some(reference) = objective
                .attr("idref")
                .map(str::trim)
                .filter(|r| !r.is_empty())
            else {
                self.error(
                    FindingCode::MissingRequired,
                    objective,
                    &objective_path,
                    "objective reference without idref".to_owned(),
                );
                continue;
            };
            if !self.objective_ids.iter().any(|id| id == reference) {
                self.error(
                    FindingCode::Cmi5UnknownObjective,
                    objective,
                    &objective_path,
                    format!("objective {reference:?} is not declared in the course objectives"),
                );
            }
            references.push(reference.to_owned());
        }
        references
    }

    fn au(&mut self, element: &Element, path: &str) -> Activity {
        self.au_count += 1;
        let id = self.id(element, path, "id", "au");
        self.check_sequence(element, path, &AU);
        let title = langstring(element, "title").unwrap_or_else(|| id.clone());
        let mut activity = Activity::new(id.clone(), title);
        activity.description = langstring(element, "description");
        let objective_ids = self.objective_references(element, path);
        let move_on = match element.attr("moveOn") {
            None => MoveOn::NotApplicable,
            Some(value) => MoveOn::from_token(value)
                .filter(|parsed| parsed.as_token() == value.trim())
                .unwrap_or_else(|| {
                    self.error(
                        FindingCode::Cmi5InvalidValue,
                        element,
                        path,
                        format!("moveOn {value:?} is not one of NotApplicable, Passed, Completed, CompletedAndPassed, CompletedOrPassed"),
                    );
                    MoveOn::NotApplicable
                }),
        };
        let launch_method = match element.attr("launchMethod") {
            None => LaunchMethod::AnyWindow,
            Some(value) => LaunchMethod::from_token(value)
                .filter(|parsed| parsed.as_token() == value.trim())
                .unwrap_or_else(|| {
                    self.error(
                        FindingCode::Cmi5InvalidValue,
                        element,
                        path,
                        format!("launchMethod {value:?} is not AnyWindow or OwnWindow"),
                    );
                    LaunchMethod::AnyWindow
                }),
        };
        let mastery_score = element.attr("masteryScore").and_then(|value| {
            let trimmed = value.trim();
            let decimals = trimmed
                .split_once('.')
                .map_or(0, |(_, fraction)| fraction.trim_end_matches('0').len());
            match trimmed.parse::<f64>() {
                Ok(score) if (0.0..=1.0).contains(&score) && decimals <= 4 => Some(score),
                _ => {
                    self.error(
                        FindingCode::Cmi5InvalidValue,
                        element,
                        path,
                        format!("masteryScore {value:?} is not a decimal in 0..1 with at most 4 decimals"),
                    );
                    None
                }
            }
        });
        let activity_type = element
            .attr("activityType")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if let Some(activity_type) = &activity_type
            && !is_iri(activity_type)
        {
            self.error(
                FindingCode::Cmi5InvalidValue,
                element,
                path,
                format!("activityType {activity_type:?} is not an iri"),
            );
        }
        let text = |local: &str| {
            element
                .child(local)
                .map(|child| child.trimmed_text().to_owned())
                .filter(|text| !text.is_empty())
        };
        let launch_parameters = text("launchParameters");
        let entitlement_key = text("entitlementKey");
        let url_path = format!("{path}/url");
        let Some(url_element) = element.child("url") else {
            // Reported by the schema check.
            return activity;
        };
        let Some(raw_url) = text("url") else {
            self.error(
                FindingCode::MissingRequired,
                url_element,
                &url_path,
                format!("au {id:?} has an empty url"),
            );
            return activity;
        };
        if !is_url_reference(&raw_url) {
            self.error(
                FindingCode::Cmi5InvalidValue,
                url_element,
                &url_path,
                format!("au {id:?} url {raw_url:?} is not a valid url"),
            );
            return activity;
        }
        let query = raw_url
            .split('#')
            .next()
            .and_then(|before| before.split_once('?'))
            .map(|(_, query)| query.to_owned());
        if let Some(query) = &query {
            let collisions: Vec<String> = url::query_names(query)
                .into_iter()
                .filter(|name| LAUNCH_PARAMETERS.contains(&name.as_str()))
                .collect();
            if !collisions.is_empty() {
                self.error(
                    FindingCode::Cmi5LaunchParameterCollision,
                    url_element,
                    &url_path,
                    format!(
                        "au {id:?} url already has the launch parameters {}",
                        collisions.join(", ")
                    ),
                );
            }
        }
        let url = if url::is_absolute(&raw_url) {
            LaunchUrl::Absolute { url: raw_url }
        } else if !self.ctx.has_package() {
            self.error(
                FindingCode::Cmi5RelativeUrlWithoutPackage,
                url_element,
                &url_path,
                format!(
                    "au {id:?} url {raw_url:?} is relative, but a lone cmi5.xml needs absolute urls"
                ),
            );
            return activity;
        } else {
            match url::resolve(&raw_url) {
                Ok(LaunchUrl::Package {
                    path: file,
                    query,
                    fragment,
                }) => {
                    let location = self.ctx.at(url_element, &url_path);
                    let file = match self.ctx.locate(&file, &location) {
                        Some(actual) => actual,
                        None => {
                            self.ctx.push(
                                FindingCode::LaunchFileMissing,
                                format!("au {id:?} launches {file}, which is not in the package"),
                                location,
                            );
                            file
                        }
                    };
                    LaunchUrl::Package {
                        path: file,
                        query,
                        fragment,
                    }
                }
                Ok(absolute) => absolute,
                Err(err) => {
                    self.error(
                        FindingCode::UnsafePath,
                        url_element,
                        &url_path,
                        err.to_string(),
                    );
                    return activity;
                }
            }
        };
        activity.launch = Some(Launch {
            url,
            content: LaunchContent::Cmi5Au(Cmi5Au {
                au_id: id,
                move_on,
                mastery_score,
                launch_method,
                launch_parameters,
                entitlement_key,
                activity_type,
            }),
            runtime: RuntimeInit {
                objective_ids,
                ..RuntimeInit::default()
            },
        });
        activity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris() {
        for valid in [
            "https://example.com/au/1",
            "urn:uuid:6b1b0f3e",
            "tag:x.org,2024:a",
        ] {
            assert!(is_iri(valid), "{valid}");
        }
        for invalid in ["au1", "/au/1", "https://ex ample.com", "C:/x", "http:", ""] {
            assert!(!is_iri(invalid), "{invalid}");
        }
    }
}
