//! `imsmanifest.xml` for SCORM 1.2 and SCORM 2004 (2nd–4th edition).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::LazyLock;

use regex::Regex;

use super::course::{
    Activity, CompletionThreshold, Course, GlobalScopes, HideLmsUi, Launch, LaunchContent,
    LaunchUrl, Resource, RuntimeInit, Scorm2004Edition, ScormType, SharedDataMap, Standard,
    TimeLimitAction,
};
use super::finding::{FindingCode, Location};
use super::imsss;
use super::path::PackagePath;
use super::xml::{Document, Element};
use super::{Context, parse_bool, parse_decimal, tool, url};

const IMSCP_12: &str = "http://www.imsproject.org/xsd/imscp_rootv1p1p2";
const IMSCP_2004: &str = "http://www.imsglobal.org/xsd/imscp_v1p1";
const ADLCP_12: &str = "http://www.adlnet.org/xsd/adlcp_rootv1p2";
const ADLCP_2004: &str = "http://www.adlnet.org/xsd/adlcp_v1p3";
const ADLNAV: &str = "http://www.adlnet.org/xsd/adlnav_v1p3";

/// Imports the SCORM package the context was recognised as.
pub(crate) fn import(ctx: &mut Context<'_>) -> Option<Course> {
    let manifest = PackagePath::parse(ctx.recognition.manifest.file_name()).ok()?;
    let text = ctx.read_text(&manifest)?;
    let name = ctx.manifest_name();
    let document = ctx.parse_xml(&text, &name)?;
    parse(ctx, &document)
}

fn same_uri(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/').eq_ignore_ascii_case(b)
}

/// Which SCORM family the manifest's markers point to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Scorm12,
    Scorm2004,
}

fn markers(document: &Document) -> (bool, bool) {
    let namespaces = &document.declared_namespaces;
    let mut is_12 = namespaces
        .iter()
        .any(|ns| same_uri(ns, ADLCP_12) || same_uri(ns, IMSCP_12));
    let mut is_2004 = namespaces.iter().any(|ns| {
        same_uri(ns, ADLCP_2004)
            || same_uri(ns, imsss::IMSSS)
            || same_uri(ns, imsss::ADLSEQ)
            || same_uri(ns, ADLNAV)
    });
    document.root.walk(&mut |element| {
        for attribute in &element.attributes {
            if attribute.local == "scormtype" {
                is_12 = true;
            } else if attribute.local == "scormType" {
                is_2004 = true;
            }
        }
        if element.is("sequencing") || element.is("sequencingCollection") {
            is_2004 = true;
        }
    });
    (is_12, is_2004)
}

fn detect_standard(ctx: &mut Context<'_>, document: &Document) -> Standard {
    let root = &document.root;
    let schema_version = root
        .child("metadata")
        .and_then(|metadata| metadata.child("schemaversion"))
        .map(|element| element.trimmed_text().to_owned())
        .filter(|version| !version.is_empty());
    let (is_12, is_2004) = markers(document);
    let inferred = match (is_12, is_2004) {
        (true, false) => Family::Scorm12,
        (false, true) => Family::Scorm2004,
        _ => match &root.namespace {
            Some(ns) if same_uri(ns, IMSCP_2004) => Family::Scorm2004,
            _ => Family::Scorm12,
        },
    };
    let location = Location {
        file: Some(ctx.manifest_name()),
        line: Some(root.line),
        column: Some(root.column),
        path: Some("/manifest/metadata/schemaversion".to_owned()),
    };
    let declared = schema_version.as_deref().map(|version| {
        let lower = version.to_ascii_lowercase();
        match lower.as_str() {
            "1.2" | "1.1" => Some(Standard::Scorm12),
            "cam 1.3" | "2004 2nd edition" => Some(Standard::Scorm2004 {
                edition: Scorm2004Edition::Second,
            }),
            "2004 3rd edition" => Some(Standard::Scorm2004 {
                edition: Scorm2004Edition::Third,
            }),
            "2004 4th edition" => Some(Standard::Scorm2004 {
                edition: Scorm2004Edition::Fourth,
            }),
            _ => None,
        }
    });
    match (declared, schema_version) {
        (Some(Some(standard)), Some(version)) => {
            let declared_family = match standard {
                Standard::Scorm12 => Family::Scorm12,
                _ => Family::Scorm2004,
            };
            let contradicted = match declared_family {
                Family::Scorm12 => is_2004 && !is_12,
                Family::Scorm2004 => is_12 && !is_2004,
            };
            if contradicted {
                ctx.push(
                    FindingCode::EditionMarkersConflict,
                    format!(
                        "schemaversion {version:?} disagrees with the namespaces and attributes; schemaversion wins"
                    ),
                    location,
                );
            }
            standard
        }
        (_, version) => {
            let family = match version.as_deref().map(str::to_ascii_lowercase) {
                Some(v) if v.contains("2004") || v.starts_with("cam") || v.starts_with("1.3") => {
                    Family::Scorm2004
                }
                Some(v) if v.starts_with("1.") => Family::Scorm12,
                _ => inferred,
            };
            let (standard, name) = match family {
                Family::Scorm12 => (Standard::Scorm12, "scorm 1.2"),
                Family::Scorm2004 => (
                    Standard::Scorm2004 {
                        edition: Scorm2004Edition::Fourth,
                    },
                    "scorm 2004 4th edition",
                ),
            };
            let message = match version {
                Some(version) => {
                    format!("schemaversion {version:?} is not a known edition; imported as {name}")
                }
                None => format!("no schemaversion; imported as {name} from the namespaces"),
            };
            ctx.push(FindingCode::UnknownEdition, message, location);
            standard
        }
    }
}

/// A resource before its files are checked, with the bases that apply to it.
struct RawResource<'d> {
    element: &'d Element,
    path: String,
    bases: Vec<String>,
    identifier: String,
}

struct Parser<'c, 'a, 'd> {
    ctx: &'c mut Context<'a>,
    standard: Standard,
    resources: HashMap<String, RawResource<'d>>,
    resource_order: Vec<String>,
    sub_manifests: HashMap<String, (&'d Element, Vec<String>)>,
    collection: HashMap<String, Element>,
    launched: BTreeSet<String>,
    generated_ids: usize,
}

fn parse(ctx: &mut Context<'_>, document: &Document) -> Option<Course> {
    let root = &document.root;
    if !root.is("manifest") {
        let location = ctx.at(root, &format!("/{}", root.local));
        ctx.push(
            FindingCode::UnexpectedRootElement,
            format!("the root element is <{}>, not <manifest>", root.local),
            location,
        );
        return None;
    }
    match &root.namespace {
        Some(ns) if same_uri(ns, IMSCP_12) || same_uri(ns, IMSCP_2004) => {}
        other => {
            let location = ctx.at(root, "/manifest");
            ctx.push(
                FindingCode::UnexpectedNamespace,
                match other {
                    Some(ns) => format!("<manifest> is in namespace {ns:?}, not ims content packaging; read by local names"),
                    None => "<manifest> has no namespace; read by local names".to_owned(),
                },
                location,
            );
        }
    }
    let standard = detect_standard(ctx, document);
    let mut parser = Parser {
        ctx,
        standard,
        resources: HashMap::new(),
        resource_order: Vec::new(),
        sub_manifests: HashMap::new(),
        collection: HashMap::new(),
        launched: BTreeSet::new(),
        generated_ids: 0,
    };
    parser.check_identifiers(root);
    let manifest_base: Vec<String> = root.xml_base().map(str::to_owned).into_iter().collect();
    parser.collect_resources(root, "/manifest", &manifest_base);
    if parser.is_2004() {
        parser.collect_sequencing_collection(root);
    }
    let identifier = match root
        .attr("identifier")
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        Some(id) => id.to_owned(),
        None => {
            let location = parser.ctx.at(root, "/manifest");
            parser.ctx.push(
                FindingCode::MissingIdentifier,
                "<manifest> has no identifier",
                location,
            );
            "manifest".to_owned()
        }
    };
    let (organization_element, organization_path) =
        parser.default_organization(root, "/manifest")?;
    let organization = parser.organization(organization_element, &organization_path);
    let scopes = if parser.is_2004() {
        GlobalScopes {
            objectives_global_to_system: parser.flag(
                organization_element,
                &organization_path,
                "objectivesGlobalToSystem",
                true,
            ),
            shared_data_global_to_system: parser.flag(
                organization_element,
                &organization_path,
                "sharedDataGlobalToSystem",
                true,
            ),
        }
    } else {
        GlobalScopes::default()
    };
    if organization.children.is_empty() {
        let location = parser.ctx.at(organization_element, &organization_path);
        parser.ctx.push(
            FindingCode::EmptyOrganization,
            format!("organization {:?} has no items", organization.id),
            location,
        );
    } else if !has_launch(&organization) {
        let location = parser.ctx.at(organization_element, &organization_path);
        parser.ctx.push(
            FindingCode::NoLaunchableActivity,
            format!(
                "no item of organization {:?} launches a resource",
                organization.id
            ),
            location,
        );
    }
    let resources = parser.resources();
    let description = lom_text(root.child("metadata"), &["general", "description"]);
    let title = if organization.title.is_empty() {
        identifier.clone()
    } else {
        organization.title.clone()
    };
    let mut hints: Vec<&str> = document.comments.iter().map(String::as_str).collect();
    let generator_texts = generator_texts(root);
    hints.extend(generator_texts.iter().map(String::as_str));
    hints.push(&identifier);
    let files = parser.ctx.relative_files();
    let authoring_tool = tool::recognize(&files, &hints);
    Some(Course {
        standard: parser.standard,
        identifier,
        title,
        description,
        package_root: parser.ctx.recognition.package_root.clone(),
        authoring_tool,
        scopes,
        root: organization,
        resources,
        objectives: Vec::new(),
        activity_definitions: Vec::new(),
        aicc: None,
    })
}

fn has_launch(activity: &Activity) -> bool {
    activity.launch.is_some() || activity.children.iter().any(has_launch)
}

/// Text of `metadata/…/lom/general/description` (any string child).
fn lom_text(metadata: Option<&Element>, path: &[&str]) -> Option<String> {
    let mut found = None;
    metadata?.walk(&mut |element| {
        if found.is_none() && element.is(path[0]) {
            let mut current = Some(element);
            for step in &path[1..] {
                current = current.and_then(|element| element.child(step));
            }
            if let Some(target) = current {
                let mut text = target.trimmed_text().to_owned();
                if text.is_empty() {
                    target.walk(&mut |inner| {
                        if text.is_empty() && !inner.trimmed_text().is_empty() {
                            text = inner.trimmed_text().to_owned();
                        }
                    });
                }
                if !text.is_empty() {
                    found = Some(text);
                }
            }
        }
    });
    found
}

/// Free texts in the manifest's metadata that tools sign (LOM contribute
/// entities, technical format/requirements, "generator" elements).
fn generator_texts(root: &Element) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(metadata) = root.child("metadata") {
        metadata.walk(&mut |element| {
            let interesting = element.is("entity")
                || element.is("generator")
                || element.is("otherPlatformRequirements")
                || element.is("installationRemarks")
                || element.is("name");
            if interesting {
                let mut text = String::new();
                element.walk(&mut |inner| {
                    text.push_str(inner.trimmed_text());
                    text.push(' ');
                });
                if !text.trim().is_empty() {
                    texts.push(text.trim().to_owned());
                }
            }
        });
    }
    texts
}

impl<'d> Parser<'_, '_, 'd> {
    fn is_2004(&self) -> bool {
        matches!(self.standard, Standard::Scorm2004 { .. })
    }

    fn edition(&self) -> Option<Scorm2004Edition> {
        match self.standard {
            Standard::Scorm2004 { edition } => Some(edition),
            _ => None,
        }
    }

    fn location(&self, element: &Element, path: &str) -> Location {
        self.ctx.at(element, path)
    }

    fn invalid(&mut self, element: &Element, path: &str, message: String) {
        let location = self.location(element, path);
        self.ctx.push(FindingCode::InvalidValue, message, location);
    }

    fn flag(&mut self, element: &Element, path: &str, name: &str, default: bool) -> bool {
        match element.attr(name) {
            None => default,
            Some(value) => parse_bool(value).unwrap_or_else(|| {
                self.invalid(
                    element,
                    path,
                    format!("{name}={value:?} is not a boolean; {default} is used"),
                );
                default
            }),
        }
    }

    /// Reports duplicates among organizations, items, resources and
    /// sub-manifests, anywhere in the manifest.
    fn check_identifiers(&mut self, root: &Element) {
        let mut seen: HashMap<String, (&'static str, u32)> = HashMap::new();
        let mut findings = Vec::new();
        fn visit(
            element: &Element,
            path: &str,
            seen: &mut HashMap<String, (&'static str, u32)>,
            findings: &mut Vec<(FindingCode, String, u32, u32, String)>,
        ) {
            let kind = if element.is("organization") {
                Some("organization")
            } else if element.is("item") {
                Some("item")
            } else if element.is("resource") {
                Some("resource")
            } else if element.is("manifest") && !path.is_empty() {
                Some("manifest")
            } else {
                None
            };
            let own_path = if path.is_empty() {
                "/manifest".to_owned()
            } else {
                match element.attr("identifier") {
                    Some(id) => format!("{path}/{}[@identifier='{}']", element.local, id.trim()),
                    None => format!("{path}/{}", element.local),
                }
            };
            if let (Some(kind), Some(id)) = (kind, element.attr("identifier")) {
                let id = id.trim().to_owned();
                match seen.get(&id) {
                    Some((other_kind, other_line)) if *other_kind == kind => findings.push((
                        FindingCode::DuplicateIdentifier,
                        format!("{kind} identifier {id:?} is already used on line {other_line}"),
                        element.line,
                        element.column,
                        own_path.clone(),
                    )),
                    Some((other_kind, _)) => findings.push((
                        FindingCode::IdentifierReusedAcrossKinds,
                        format!(
                            "{kind} identifier {id:?} is also the identifier of {} {other_kind}",
                            if other_kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                                "an"
                            } else {
                                "a"
                            }
                        ),
                        element.line,
                        element.column,
                        own_path.clone(),
                    )),
                    None => {
                        seen.insert(id, (kind, element.line));
                    }
                }
            }
            let descend = path.is_empty()
                || element.is("organizations")
                || element.is("organization")
                || element.is("item")
                || element.is("resources")
                || element.is("manifest");
            if descend {
                for child in &element.children {
                    visit(child, &own_path, seen, findings);
                }
            }
        }
        visit(root, "", &mut seen, &mut findings);
        for (code, message, line, column, path) in findings {
            let location = Location {
                file: Some(self.ctx.manifest_name()),
                line: Some(line),
                column: Some(column),
                path: Some(path),
            };
            self.ctx.push(code, message, location);
        }
    }

    /// Collects the resources of `manifest` and of its sub-manifests.
    fn collect_resources(&mut self, manifest: &'d Element, path: &str, bases: &[String]) {
        if let Some(resources) = manifest.child("resources") {
            let mut resources_bases = bases.to_vec();
            resources_bases.extend(resources.xml_base().map(str::to_owned));
            let resources_path = format!("{path}/resources");
            for (index, resource) in resources.children_named("resource").enumerate() {
                let identifier = match resource.attr("identifier").map(str::trim) {
                    Some(id) if !id.is_empty() => id.to_owned(),
                    _ => {
                        let location = self.location(resource, &resources_path);
                        self.ctx.push(
                            FindingCode::MissingIdentifier,
                            format!(
                                "resource {} has no identifier and cannot be referenced",
                                index + 1
                            ),
                            location,
                        );
                        continue;
                    }
                };
                if self.resources.contains_key(&identifier) {
                    continue;
                }
                let mut resource_bases = resources_bases.clone();
                resource_bases.extend(resource.xml_base().map(str::to_owned));
                let resource_path =
                    format!("{resources_path}/resource[@identifier='{identifier}']");
                self.resource_order.push(identifier.clone());
                self.resources.insert(
                    identifier.clone(),
                    RawResource {
                        element: resource,
                        path: resource_path,
                        bases: resource_bases,
                        identifier,
                    },
                );
            }
        }
        for sub in manifest.children_named("manifest") {
            let id = sub
                .attr("identifier")
                .map(str::trim)
                .unwrap_or("")
                .to_owned();
            let mut sub_bases = bases.to_vec();
            sub_bases.extend(sub.xml_base().map(str::to_owned));
            let sub_path = format!("{path}/manifest[@identifier='{id}']");
            self.collect_resources(sub, &sub_path, &sub_bases);
            if !id.is_empty() {
                self.sub_manifests.insert(id, (sub, sub_bases));
            }
        }
    }

    fn collect_sequencing_collection(&mut self, root: &Element) {
        for collection in root.children_named("sequencingCollection") {
            for sequencing in collection.children_named("sequencing") {
                let Some(id) = sequencing
                    .attr("ID")
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                else {
                    let location =
                        self.location(sequencing, "/manifest/sequencingCollection/sequencing");
                    self.ctx.push(
                        FindingCode::InvalidValue,
                        "sequencing in the collection without ID ignored",
                        location,
                    );
                    continue;
                };
                self.collection.insert(id.to_owned(), sequencing.clone());
            }
        }
    }

    fn default_organization(
        &mut self,
        manifest: &'d Element,
        path: &str,
    ) -> Option<(&'d Element, String)> {
        let organizations_element = manifest.child("organizations");
        let organizations: Vec<&Element> = organizations_element
            .map(|element| element.children_named("organization").collect())
            .unwrap_or_default();
        let Some(first) = organizations.first().copied() else {
            let location = match organizations_element {
                Some(element) => self.location(element, &format!("{path}/organizations")),
                None => self.location(manifest, path),
            };
            self.ctx.push(
                FindingCode::NoOrganization,
                "the manifest has no organization",
                location,
            );
            return None;
        };
        let default = organizations_element
            .and_then(|element| element.attr("default"))
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let chosen = match default {
            None => first,
            Some(default) => match organizations
                .iter()
                .find(|org| org.attr("identifier").map(str::trim) == Some(default))
            {
                Some(org) => org,
                None => {
                    let element = organizations_element.unwrap_or(manifest);
                    let location = self.location(element, &format!("{path}/organizations"));
                    self.ctx.push(
                        FindingCode::DefaultOrganizationDangling,
                        format!("default organization {default:?} does not exist; the first organization is used"),
                        location,
                    );
                    first
                }
            },
        };
        let position = organizations
            .iter()
            .position(|org| std::ptr::eq(*org, chosen))
            .unwrap_or(0);
        let step = match chosen
            .attr("identifier")
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            Some(id) => format!("organization[@identifier='{id}']"),
            None => format!("organization[{}]", position + 1),
        };
        Some((chosen, format!("{path}/organizations/{step}")))
    }

    fn next_generated_id(&mut self, prefix: &str) -> String {
        self.generated_ids += 1;
        format!("{prefix}-{}", self.generated_ids)
    }

    fn identifier(&mut self, element: &Element, path: &str, kind: &str) -> String {
        match element
            .attr("identifier")
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            Some(id) => id.to_owned(),
            None => {
                let generated = self.next_generated_id(kind);
                let location = self.location(element, path);
                self.ctx.push(
                    FindingCode::MissingIdentifier,
                    format!("<{kind}> has no identifier; {generated:?} is used"),
                    location,
                );
                generated
            }
        }
    }

    fn title(&mut self, element: &Element, path: &str, id: &str) -> String {
        match element.child("title").map(Element::trimmed_text) {
            Some(title) if !title.is_empty() => title.to_owned(),
            _ => {
                let location = self.location(element, path);
                self.ctx.push(
                    FindingCode::MissingTitle,
                    format!("{id:?} has no title; its identifier is used"),
                    location,
                );
                id.to_owned()
            }
        }
    }

    fn organization(&mut self, element: &'d Element, path: &str) -> Activity {
        let id = self.identifier(element, path, "organization");
        let title = self.title(element, path, &id);
        let mut activity = Activity::new(id, title);
        if self.is_2004() {
            activity.sequencing = Some(self.sequencing(element, path));
        }
        activity.children = self.items(element, path);
        activity
    }

    fn items(&mut self, parent: &'d Element, path: &str) -> Vec<Activity> {
        let mut children = Vec::new();
        for (index, item) in parent.children_named("item").enumerate() {
            let item_path = match item.attr("identifier") {
                Some(id) => format!("{path}/item[@identifier='{}']", id.trim()),
                None => format!("{path}/item[{}]", index + 1),
            };
            children.push(self.item(item, &item_path));
        }
        children
    }

    fn sequencing(
        &mut self,
        element: &Element,
        path: &str,
    ) -> crate::sequencing::definition::SequencingDefinition {
        let Some(sequencing) = element.child("sequencing") else {
            return crate::sequencing::definition::SequencingDefinition::default();
        };
        let sequencing_path = format!("{path}/sequencing");
        let reference = sequencing
            .attr("IDRef")
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let merged = match reference {
            None => None,
            Some(reference) => {
                match self.collection.get(reference) {
                    Some(base) => Some(imsss::merge(base, sequencing)),
                    None => {
                        let location = self.location(sequencing, &sequencing_path);
                        self.ctx.push(
                        FindingCode::DanglingSequencingRef,
                        format!("IDRef {reference:?} names no sequencing in the sequencingCollection"),
                        location,
                    );
                        None
                    }
                }
            }
        };
        imsss::read(
            self.ctx,
            merged.as_ref().unwrap_or(sequencing),
            &sequencing_path,
        )
    }

    fn item(&mut self, element: &'d Element, path: &str) -> Activity {
        let id = self.identifier(element, path, "item");
        let title = self.title(element, path, &id);
        let mut activity = Activity::new(id.clone(), title);
        activity.visible = self.flag(element, path, "isvisible", true);
        activity.children = self.items(element, path);
        if self.is_2004() {
            activity.sequencing = Some(self.sequencing(element, path));
            activity.completion_threshold = self.completion_threshold(element, path);
        } else {
            activity.prerequisites = element
                .child("prerequisites")
                .map(|p| p.trimmed_text().to_owned())
                .filter(|p| !p.is_empty());
        }
        let reference = element
            .attr("identifierref")
            .map(str::trim)
            .filter(|r| !r.is_empty());
        match reference {
            None => {
                if activity.children.is_empty() {
                    let location = self.location(element, path);
                    self.ctx.push(
                        FindingCode::LeafNotLaunchable,
                        format!("item {id:?} has no children and no identifierref"),
                        location,
                    );
                }
            }
            Some(reference) if self.is_2004() && !activity.children.is_empty() => {
                let location = self.location(element, path);
                self.ctx.push(
                    FindingCode::ClusterWithIdentifierref,
                    format!(
                        "item {id:?} has children, so its identifierref {reference:?} is ignored"
                    ),
                    location,
                );
            }
            Some(reference) => {
                if self.resources.contains_key(reference) {
                    activity.launch = self.launch(element, path, reference, &activity);
                } else if let Some((sub, _)) = self.sub_manifests.get(reference).cloned() {
                    if let Some((organization, organization_path)) = self.default_organization(
                        sub,
                        &format!("/manifest/manifest[@identifier='{reference}']"),
                    ) {
                        activity.children = self.items(organization, &organization_path);
                    }
                } else {
                    let location = self.location(element, path);
                    self.ctx.push(
                        FindingCode::DanglingIdentifierref,
                        format!(
                            "item {id:?} refers to resource {reference:?}, which is not declared"
                        ),
                        location,
                    );
                }
            }
        }
        activity
    }

    fn completion_threshold(
        &mut self,
        element: &Element,
        path: &str,
    ) -> Option<CompletionThreshold> {
        let threshold = element.child("completionThreshold")?;
        let threshold_path = format!("{path}/completionThreshold");
        let has_attributes = ["completedByMeasure", "minProgressMeasure", "progressWeight"]
            .iter()
            .any(|name| threshold.attr(name).is_some());
        let decimal = |parser: &mut Self, name: &str, text: Option<&str>| -> f64 {
            match text {
                None => 1.0,
                Some(text) => match parse_decimal(text) {
                    Some(value) if (0.0..=1.0).contains(&value) => value,
                    _ => {
                        parser.invalid(
                            threshold,
                            &threshold_path,
                            format!("{name} {text:?} is not a decimal in 0..1; 1.0 is used"),
                        );
                        1.0
                    }
                },
            }
        };
        if has_attributes {
            let completed_by_measure =
                self.flag(threshold, &threshold_path, "completedByMeasure", false);
            let min_progress_measure = decimal(
                self,
                "minProgressMeasure",
                threshold.attr("minProgressMeasure"),
            );
            let progress_weight = decimal(self, "progressWeight", threshold.attr("progressWeight"));
            Some(CompletionThreshold {
                completed_by_measure,
                min_progress_measure,
                progress_weight,
            })
        } else if threshold.trimmed_text().is_empty() {
            Some(CompletionThreshold::default())
        } else {
            let min_progress_measure =
                decimal(self, "completionThreshold", Some(threshold.trimmed_text()));
            Some(CompletionThreshold {
                min_progress_measure,
                ..CompletionThreshold::default()
            })
        }
    }

    fn launch(
        &mut self,
        item: &Element,
        path: &str,
        reference: &str,
        activity: &Activity,
    ) -> Option<Launch> {
        let (resource_element, resource_path, bases) = {
            let raw = &self.resources[reference];
            (raw.element, raw.path.clone(), raw.bases.clone())
        };
        self.launched.insert(reference.to_owned());
        let scorm_type = match resource_element.attr("scormtype") {
            None => {
                let location = self.location(resource_element, &resource_path);
                self.ctx.push(
                    FindingCode::ScormTypeMissing,
                    format!("resource {reference:?} has no scormType; it is treated as an asset"),
                    location,
                );
                ScormType::Asset
            }
            Some(value) => ScormType::from_token(value).unwrap_or_else(|| {
                self.invalid(
                    resource_element,
                    &resource_path,
                    format!("scormType {value:?} is neither sco nor asset; asset is used"),
                );
                ScormType::Asset
            }),
        };
        let Some(href) = resource_element
            .attr("href")
            .map(str::trim)
            .filter(|h| !h.is_empty())
        else {
            let location = self.location(resource_element, &resource_path);
            self.ctx.push(
                FindingCode::ResourceWithoutHref,
                format!(
                    "item {:?} launches resource {reference:?}, which has no href",
                    activity.id
                ),
                location,
            );
            return None;
        };
        let mut parts: Vec<&str> = bases.iter().map(String::as_str).collect();
        parts.push(href);
        let joined = url::join(&parts);
        let parameters = item.attr("parameters").unwrap_or("");
        let with_parameters = url::append_parameters(&joined, parameters);
        let url = match url::resolve(&with_parameters) {
            Ok(url) => url,
            Err(err) => {
                let location = self.location(resource_element, &resource_path);
                self.ctx
                    .push(FindingCode::UnsafePath, err.to_string(), location);
                return None;
            }
        };
        let url = match url {
            LaunchUrl::Package {
                path: file,
                query,
                fragment,
            } => {
                let location = self.location(resource_element, &resource_path);
                match self.ctx.locate(&file, &location) {
                    Some(actual) => LaunchUrl::Package {
                        path: actual,
                        query,
                        fragment,
                    },
                    None => {
                        self.ctx.push(
                            FindingCode::LaunchFileMissing,
                            format!(
                                "item {:?} launches {file}, which is not in the package",
                                activity.id
                            ),
                            location,
                        );
                        LaunchUrl::Package {
                            path: file,
                            query,
                            fragment,
                        }
                    }
                }
            }
            absolute => absolute,
        };
        let content = match scorm_type {
            ScormType::Sco => LaunchContent::Sco {
                resource: reference.to_owned(),
            },
            ScormType::Asset => LaunchContent::Asset {
                resource: reference.to_owned(),
            },
        };
        let runtime = self.runtime(item, path, activity);
        Some(Launch {
            url,
            content,
            runtime,
        })
    }

    fn runtime(&mut self, item: &Element, path: &str, activity: &Activity) -> RuntimeInit {
        let mut runtime = RuntimeInit::default();
        let text = |name: &str| {
            item.child(name)
                .map(|element| element.trimmed_text().to_owned())
                .filter(|text| !text.is_empty())
        };
        if self.is_2004() {
            runtime.launch_data = text("dataFromLMS");
            runtime.time_limit_action = self.time_limit_action(item, path, text("timeLimitAction"));
            if let Some(sequencing) = &activity.sequencing {
                runtime.max_time_allowed = sequencing
                    .limit_conditions
                    .attempt_absolute_duration_limit
                    .clone();
                let primary = &sequencing.objectives.primary;
                if primary.satisfied_by_measure {
                    runtime.scaled_passing_score = Some(primary.min_normalized_measure);
                }
                runtime.objective_ids = sequencing.objectives.ids();
            }
            runtime.completion_threshold = activity
                .completion_threshold
                .map(|threshold| threshold.min_progress_measure);
            runtime.shared_data = self.shared_data(item, path);
            runtime.hide_lms_ui = self.hide_lms_ui(item, path);
        } else {
            runtime.launch_data = text("datafromlms");
            runtime.time_limit_action = self.time_limit_action(item, path, text("timelimitaction"));
            if let Some(value) = text("maxtimeallowed") {
                if is_cmi_timespan(&value) {
                    runtime.max_time_allowed = Some(value);
                } else {
                    self.invalid(
                        item,
                        path,
                        format!(
                            "maxtimeallowed {value:?} is not a CMITimespan (hhhh:mm:ss.ss); ignored"
                        ),
                    );
                }
            }
            if let Some(value) = text("masteryscore") {
                match parse_decimal(&value) {
                    Some(score) if (0.0..=100.0).contains(&score) => {
                        runtime.mastery_score = Some(score)
                    }
                    _ => self.invalid(
                        item,
                        path,
                        format!("masteryscore {value:?} is not a number in 0..100; ignored"),
                    ),
                }
            }
        }
        runtime
    }

    fn time_limit_action(
        &mut self,
        item: &Element,
        path: &str,
        value: Option<String>,
    ) -> Option<TimeLimitAction> {
        let value = value?;
        let parsed = TimeLimitAction::parse_lenient(&value);
        if parsed.is_none() {
            self.invalid(
                item,
                path,
                format!("timeLimitAction {value:?} is not a known value; ignored"),
            );
        }
        parsed
    }

    fn shared_data(&mut self, item: &Element, path: &str) -> Vec<SharedDataMap> {
        let mut maps = Vec::new();
        if self.edition() != Some(Scorm2004Edition::Fourth) {
            return maps;
        }
        for data in item.children_named("data") {
            for (index, map) in data.children_named("map").enumerate() {
                let map_path = format!("{path}/data/map[{}]", index + 1);
                let Some(target) = map
                    .attr("targetID")
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                else {
                    self.invalid(
                        map,
                        &map_path,
                        "adlcp:map without targetID ignored".to_owned(),
                    );
                    continue;
                };
                maps.push(SharedDataMap {
                    target_id: target.to_owned(),
                    read_shared_data: self.flag(map, &map_path, "readSharedData", true),
                    write_shared_data: self.flag(map, &map_path, "writeSharedData", false),
                });
            }
        }
        maps
    }

    fn hide_lms_ui(&mut self, item: &Element, path: &str) -> Vec<HideLmsUi> {
        let mut hidden = Vec::new();
        for presentation in item.children_named("presentation") {
            for interface in presentation.children_named("navigationInterface") {
                for hide in interface.children_named("hideLMSUI") {
                    match HideLmsUi::from_token(hide.trimmed_text()) {
                        Some(value) => {
                            if !hidden.contains(&value) {
                                hidden.push(value);
                            }
                        }
                        None => self.invalid(
                            hide,
                            &format!("{path}/presentation/navigationInterface/hideLMSUI"),
                            format!(
                                "hideLMSUI {:?} is not a known control; ignored",
                                hide.trimmed_text()
                            ),
                        ),
                    }
                }
            }
        }
        hidden
    }

    /// Builds the resource list, checking files and dependencies.
    fn resources(&mut self) -> Vec<Resource> {
        let order = self.resource_order.clone();
        let mut built: Vec<Resource> = Vec::new();
        for identifier in &order {
            let (element, path, bases, id) = {
                let raw = &self.resources[identifier];
                (
                    raw.element,
                    raw.path.clone(),
                    raw.bases.clone(),
                    raw.identifier.clone(),
                )
            };
            let base_parts: Vec<&str> = bases.iter().map(String::as_str).collect();
            let href = element
                .attr("href")
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .and_then(|href| {
                    let mut parts = base_parts.clone();
                    parts.push(href);
                    match url::resolve(&url::join(&parts)) {
                        Ok(url) => Some(url),
                        Err(err) => {
                            if !self.launched.contains(&id) {
                                let location = self.location(element, &path);
                                self.ctx
                                    .push(FindingCode::UnsafePath, err.to_string(), location);
                            }
                            None
                        }
                    }
                });
            let href = match href {
                Some(LaunchUrl::Package {
                    path: file,
                    query,
                    fragment,
                }) => {
                    let location = self.location(element, &path);
                    let actual = match self.ctx.locate(&file, &location) {
                        Some(actual) => actual,
                        None => {
                            if !self.launched.contains(&id) {
                                self.ctx.push(
                                    FindingCode::ResourceFileMissing,
                                    format!("resource {id:?} href {file} is not in the package"),
                                    location,
                                );
                            }
                            file
                        }
                    };
                    Some(LaunchUrl::Package {
                        path: actual,
                        query,
                        fragment,
                    })
                }
                other => other,
            };
            let mut files = Vec::new();
            for (index, file) in element.children_named("file").enumerate() {
                let file_path = format!("{path}/file[{}]", index + 1);
                let Some(file_href) = file.attr("href").map(str::trim).filter(|h| !h.is_empty())
                else {
                    self.invalid(file, &file_path, "<file> without href ignored".to_owned());
                    continue;
                };
                let mut parts = base_parts.clone();
                parts.push(file_href);
                match url::resolve(&url::join(&parts)) {
                    Ok(LaunchUrl::Package { path: relative, .. }) => {
                        let location = self.location(file, &file_path);
                        match self.ctx.locate(&relative, &location) {
                            Some(actual) => files.push(actual),
                            None => self.ctx.push(
                                FindingCode::ResourceFileMissing,
                                format!(
                                    "resource {id:?} lists {relative}, which is not in the package"
                                ),
                                location,
                            ),
                        }
                    }
                    Ok(LaunchUrl::Absolute { .. }) => {}
                    Err(err) => {
                        let location = self.location(file, &file_path);
                        self.ctx
                            .push(FindingCode::UnsafePath, err.to_string(), location);
                    }
                }
            }
            let mut dependencies = Vec::new();
            for (index, dependency) in element.children_named("dependency").enumerate() {
                let dependency_path = format!("{path}/dependency[{}]", index + 1);
                let Some(target) = dependency
                    .attr("identifierref")
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                else {
                    self.invalid(
                        dependency,
                        &dependency_path,
                        "<dependency> without identifierref ignored".to_owned(),
                    );
                    continue;
                };
                if !self.resources.contains_key(target) {
                    let location = self.location(dependency, &dependency_path);
                    self.ctx.push(
                        FindingCode::DanglingDependency,
                        format!("resource {id:?} depends on {target:?}, which is not declared"),
                        location,
                    );
                    continue;
                }
                dependencies.push(target.to_owned());
            }
            let scorm_type = element
                .attr("scormtype")
                .and_then(ScormType::from_token)
                .unwrap_or(ScormType::Asset);
            built.push(Resource {
                identifier: id,
                resource_type: element.attr("type").unwrap_or("").trim().to_owned(),
                scorm_type,
                href,
                files,
                dependencies,
                required_files: Vec::new(),
            });
        }
        let index: HashMap<String, usize> = built
            .iter()
            .enumerate()
            .map(|(at, resource)| (resource.identifier.clone(), at))
            .collect();
        let mut required_files = Vec::with_capacity(built.len());
        for resource in &built {
            let mut files: BTreeSet<PackagePath> = BTreeSet::new();
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            let mut queue: VecDeque<&Resource> = VecDeque::from([resource]);
            while let Some(current) = queue.pop_front() {
                if !seen.insert(current.identifier.as_str()) {
                    continue;
                }
                files.extend(current.files.iter().cloned());
                if let Some(LaunchUrl::Package { path, .. }) = &current.href {
                    files.insert(path.clone());
                }
                for dependency in &current.dependencies {
                    if let Some(&at) = index.get(dependency) {
                        queue.push_back(&built[at]);
                    }
                }
            }
            required_files.push(files.into_iter().collect());
        }
        for (resource, files) in built.iter_mut().zip(required_files) {
            resource.required_files = files;
        }
        built
    }
}

/// Whether `value` is a SCORM 1.2 CMITimespan (`HHHH:MM:SS.SS`).
fn is_cmi_timespan(value: &str) -> bool {
    static TIMESPAN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?$").expect("a valid regex"));
    TIMESPAN.is_match(value)
}
