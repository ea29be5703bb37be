//! `tincan.xml` (xAPI / Tin Can packages).

use super::course::{
    Activity, ActivityDefinition, Course, GlobalScopes, Launch, LaunchContent, LaunchUrl,
    RuntimeInit, Standard,
};
use super::finding::FindingCode;
use super::path::PackagePath;
use super::xml::Element;
use super::{Context, tool, url};

/// Imports the Tin Can package the context was recognised as.
pub(crate) fn import(ctx: &mut Context<'_>) -> Option<Course> {
    let manifest = PackagePath::parse(ctx.recognition.manifest.file_name()).ok()?;
    let text = ctx.read_text(&manifest)?;
    let name = ctx.manifest_name();
    let document = ctx.parse_xml(&text, &name)?;
    let root = &document.root;
    if !root.is("tincan") {
        let location = ctx.at(root, &format!("/{}", root.local));
        ctx.push(
            FindingCode::UnexpectedRootElement,
            format!("the root element is <{}>, not <tincan>", root.local),
            location,
        );
        return None;
    }
    let mut launch_activity: Option<(Activity, String)> = None;
    let mut definitions = Vec::new();
    let activities: Vec<&Element> = root
        .children_named("activities")
        .flat_map(|activities| activities.children_named("activity"))
        .collect();
    for (index, element) in activities.iter().enumerate() {
        let path = format!("/tincan/activities/activity[{}]", index + 1);
        let Some(id) = element
            .attr("id")
            .map(str::trim)
            .filter(|id| !id.is_empty())
        else {
            let location = ctx.at(element, &path);
            ctx.push(
                FindingCode::InvalidValue,
                "activity without id ignored",
                location,
            );
            continue;
        };
        let activity_type = element
            .attr("type")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let name = lang_text(element, "name");
        let description = lang_text(element, "description");
        let launch_text = element
            .children_named("launch")
            .map(|launch| launch.trimmed_text())
            .find(|text| !text.is_empty());
        match launch_text {
            Some(launch) if launch_activity.is_none() => {
                let location = ctx.at(element, &path);
                let url = match url::resolve(launch) {
                    Ok(LaunchUrl::Package {
                        path: file,
                        query,
                        fragment,
                    }) => {
                        let file = match ctx.locate(&file, &location) {
                            Some(actual) => actual,
                            None => {
                                ctx.push(
                                    FindingCode::LaunchFileMissing,
                                    format!("activity {id:?} launches {file}, which is not in the package"),
                                    location.clone(),
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
                        ctx.push(FindingCode::UnsafePath, err.to_string(), location);
                        continue;
                    }
                };
                let mut activity = Activity::new(id, name.clone().unwrap_or_else(|| id.to_owned()));
                activity.description = description.clone();
                activity.launch = Some(Launch {
                    url,
                    content: LaunchContent::Xapi {
                        activity_id: id.to_owned(),
                        activity_type: activity_type.clone(),
                    },
                    runtime: RuntimeInit::default(),
                });
                launch_activity = Some((activity, path));
            }
            Some(_) => {
                let location = ctx.at(element, &path);
                ctx.push(
                    FindingCode::TincanMultipleLaunches,
                    format!(
                        "activity {id:?} also has a launch; only the first launch activity is used"
                    ),
                    location,
                );
                definitions.push(ActivityDefinition {
                    id: id.to_owned(),
                    activity_type,
                    name,
                    description,
                });
            }
            None => definitions.push(ActivityDefinition {
                id: id.to_owned(),
                activity_type,
                name,
                description,
            }),
        }
    }
    let Some((root_activity, _)) = launch_activity else {
        let location = ctx.at(root, "/tincan");
        ctx.push(
            FindingCode::TincanNoLaunch,
            "no activity in tincan.xml has a launch",
            location,
        );
        return None;
    };
    let files = ctx.relative_files();
    let mut hints: Vec<&str> = document.comments.iter().map(String::as_str).collect();
    hints.push(&root_activity.id);
    let authoring_tool = tool::recognize(&files, &hints);
    Some(Course {
        standard: Standard::Xapi,
        identifier: root_activity.id.clone(),
        title: root_activity.title.clone(),
        description: root_activity.description.clone(),
        package_root: ctx.recognition.package_root.clone(),
        authoring_tool,
        scopes: GlobalScopes::default(),
        root: root_activity,
        resources: Vec::new(),
        objectives: Vec::new(),
        activity_definitions: definitions,
        aicc: None,
    })
}

/// The text of the best `local` child: `en-US`, then any `en`, then the first.
pub(crate) fn lang_text(element: &Element, local: &str) -> Option<String> {
    let candidates: Vec<&Element> = element.children_named(local).collect();
    let pick = candidates
        .iter()
        .find(|c| {
            c.attr("lang")
                .is_some_and(|l| l.eq_ignore_ascii_case("en-US"))
        })
        .or_else(|| {
            candidates.iter().find(|c| {
                c.attr("lang")
                    .is_some_and(|l| l.to_ascii_lowercase().starts_with("en"))
            })
        })
        .or(candidates.first())?;
    let text = pick.trimmed_text();
    (!text.is_empty()).then(|| text.to_owned())
}
