//! The typed course structure every standard is imported into.
//!
//! This is a stored format (it travels in the `CourseImported` event): field
//! names and enum spellings are pinned by an expect test. Add fields only with
//! `#[serde(default)]`.

use serde::{Deserialize, Serialize};

use super::path::PackagePath;
use crate::sequencing::definition::SequencingDefinition;
use crate::sequencing::vocabulary;

/// The standard a package follows, with its edition where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Standard {
    /// SCORM 1.2 (1.1 packages are imported as 1.2).
    Scorm12,
    /// SCORM 2004.
    Scorm2004 {
        /// The edition the runtime follows.
        edition: Scorm2004Edition,
    },
    /// AICC (HACP).
    Aicc,
    /// xAPI / Tin Can (`tincan.xml`).
    Xapi,
    /// cmi5.
    Cmi5,
}

/// Kinds of standard without editions, for options and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandardKind {
    /// SCORM 1.2 or 2004.
    Scorm,
    /// AICC.
    Aicc,
    /// xAPI / Tin Can.
    Xapi,
    /// cmi5.
    Cmi5,
}

impl Standard {
    /// The kind of standard.
    pub fn kind(self) -> StandardKind {
        match self {
            Standard::Scorm12 | Standard::Scorm2004 { .. } => StandardKind::Scorm,
            Standard::Aicc => StandardKind::Aicc,
            Standard::Xapi => StandardKind::Xapi,
            Standard::Cmi5 => StandardKind::Cmi5,
        }
    }
}

/// SCORM 2004 editions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scorm2004Edition {
    /// 2nd edition (`CAM 1.3`).
    Second,
    /// 3rd edition.
    Third,
    /// 4th edition.
    Fourth,
}

/// An authoring tool recognised from its fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthoringTool {
    /// Which tool.
    pub tool: AuthoringToolKind,
    /// What gave it away (a file path, generator text, identifier).
    pub evidence: String,
}

/// Authoring tools the importer recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthoringToolKind {
    /// Articulate Storyline.
    ArticulateStoryline,
    /// Articulate Rise 360.
    ArticulateRise,
    /// Adobe Captivate.
    AdobeCaptivate,
    /// iSpring Suite / Presenter.
    Ispring,
    /// Lectora (Trivantis / ELB).
    Lectora,
    /// Adapt Framework / Authoring Tool.
    Adapt,
    /// Evolve (built on Adapt).
    Evolve,
}

/// The imported course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Course {
    /// Standard and edition.
    pub standard: Standard,
    /// Manifest identifier, cmi5 course id, Tin Can root activity id or AICC course id.
    pub identifier: String,
    /// Course title.
    pub title: String,
    /// Course description, when the package has one.
    pub description: Option<String>,
    /// Folder of the ZIP holding the manifest; `None` when it is the ZIP root.
    /// Every [`PackagePath`] in the course is relative to this folder.
    pub package_root: Option<PackagePath>,
    /// Authoring tool, when recognised.
    pub authoring_tool: Option<AuthoringTool>,
    /// Scope of global objectives and shared data (SCORM 2004).
    pub scopes: GlobalScopes,
    /// The activity tree: the organization (SCORM), the course (cmi5, AICC)
    /// or the launch activity (Tin Can).
    pub root: Activity,
    /// SCORM resources (empty for other standards).
    pub resources: Vec<Resource>,
    /// Course-level objectives (cmi5 `objectives`, AICC `J` objectives).
    pub objectives: Vec<CourseObjective>,
    /// Activities that are only pre-registered (Tin Can activities without launch).
    pub activity_definitions: Vec<ActivityDefinition>,
    /// AICC course data (`.crs`, `.cmp`), for AICC courses.
    pub aicc: Option<AiccCourse>,
}

impl Course {
    /// Every activity, depth first in tree order, root first.
    pub fn activities(&self) -> Vec<&Activity> {
        let mut out = Vec::new();
        fn visit<'a>(activity: &'a Activity, out: &mut Vec<&'a Activity>) {
            out.push(activity);
            for child in &activity.children {
                visit(child, out);
            }
        }
        visit(&self.root, &mut out);
        out
    }

    /// The activities that can be launched, in tree order.
    pub fn launchable(&self) -> Vec<&Activity> {
        self.activities()
            .into_iter()
            .filter(|activity| activity.launch.is_some())
            .collect()
    }

    /// The activity with `id`.
    pub fn activity(&self, id: &str) -> Option<&Activity> {
        self.activities()
            .into_iter()
            .find(|activity| activity.id == id)
    }
}

/// Whether global objectives and shared data are shared across courses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalScopes {
    /// `adlseq:objectivesGlobalToSystem` (default true).
    pub objectives_global_to_system: bool,
    /// `adlcp:sharedDataGlobalToSystem` (default true).
    pub shared_data_global_to_system: bool,
}

impl Default for GlobalScopes {
    fn default() -> Self {
        GlobalScopes {
            objectives_global_to_system: true,
            shared_data_global_to_system: true,
        }
    }
}

/// One node of the activity tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Identifier, unique in the course (item identifier, AU id, AICC system id).
    pub id: String,
    /// Title.
    pub title: String,
    /// Description, when the package has one.
    pub description: Option<String>,
    /// Shown in the table of contents (`isvisible`, default true).
    pub visible: bool,
    /// How to launch it; `None` for clusters and non-launchable leaves.
    pub launch: Option<Launch>,
    /// SCORM 2004 sequencing, with defaults applied; `None` for other standards.
    pub sequencing: Option<SequencingDefinition>,
    /// `adlcp:completionThreshold` (SCORM 2004).
    pub completion_threshold: Option<CompletionThreshold>,
    /// Prerequisites script (SCORM 1.2 `adlcp:prerequisites`, AICC `.pre`).
    pub prerequisites: Option<String>,
    /// AICC completion requirements (`.cmp`) for this element.
    pub completion_requirements: Vec<CompletionRequirement>,
    /// Children, in order.
    pub children: Vec<Activity>,
}

impl Activity {
    /// A non-launchable activity without children.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Activity {
        Activity {
            id: id.into(),
            title: title.into(),
            description: None,
            visible: true,
            launch: None,
            sequencing: None,
            completion_threshold: None,
            prerequisites: None,
            completion_requirements: Vec::new(),
            children: Vec::new(),
        }
    }
}

/// How an activity is launched and what its runtime starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launch {
    /// Where the content is.
    pub url: LaunchUrl,
    /// What kind of content it is.
    pub content: LaunchContent,
    /// Values the runtime is initialised with.
    pub runtime: RuntimeInit,
}

/// A launch location: a file in the package or an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchUrl {
    /// A file inside the package.
    Package {
        /// Path relative to the package root.
        path: PackagePath,
        /// Query string without `?`.
        query: Option<String>,
        /// Fragment without `#`.
        fragment: Option<String>,
    },
    /// Content hosted elsewhere.
    Absolute {
        /// The URL as written (after parameters were appended).
        url: String,
    },
}

impl LaunchUrl {
    /// The URL relative to the package root (or absolute), with query and fragment.
    pub fn to_url_string(&self) -> String {
        match self {
            LaunchUrl::Absolute { url } => url.clone(),
            LaunchUrl::Package {
                path,
                query,
                fragment,
            } => {
                let mut out = super::url::encode_path(path.as_str());
                if let Some(query) = query {
                    out.push('?');
                    out.push_str(query);
                }
                if let Some(fragment) = fragment {
                    out.push('#');
                    out.push_str(fragment);
                }
                out
            }
        }
    }
}

/// The kind of launched content, with what is specific to its standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchContent {
    /// A SCORM SCO: calls the API.
    Sco {
        /// Resource identifier.
        resource: String,
    },
    /// A SCORM asset: never calls the API.
    Asset {
        /// Resource identifier.
        resource: String,
    },
    /// An AICC assignable unit.
    AiccAu(AiccAu),
    /// A cmi5 assignable unit.
    Cmi5Au(Cmi5Au),
    /// The Tin Can launch activity.
    Xapi {
        /// Activity id (IRI) of the course's root activity.
        activity_id: String,
        /// Activity type, when declared.
        activity_type: Option<String>,
    },
}

/// Values a launchable activity's runtime is initialised with.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuntimeInit {
    /// SCORM 1.2 `adlcp:masteryscore` / AICC `Mastery_Score`, 0–100.
    pub mastery_score: Option<f64>,
    /// `cmi.launch_data` (`datafromlms`, AICC `Core_Vendor`).
    pub launch_data: Option<String>,
    /// Max time allowed: CMITimespan (1.2, AICC) or `xs:duration` (2004, from
    /// `attemptAbsoluteDurationLimit`).
    pub max_time_allowed: Option<String>,
    /// Time limit action.
    pub time_limit_action: Option<TimeLimitAction>,
    /// `cmi.completion_threshold` (SCORM 2004).
    pub completion_threshold: Option<f64>,
    /// `cmi.scaled_passing_score`: the primary objective's
    /// `minNormalizedMeasure` when `satisfiedByMeasure` (SCORM 2004).
    pub scaled_passing_score: Option<f64>,
    /// Objective ids the runtime pre-creates (`cmi.objectives.n.id`), primary first.
    pub objective_ids: Vec<String>,
    /// `adlcp:data/adlcp:map` shared data stores (4th edition).
    pub shared_data: Vec<SharedDataMap>,
    /// `adlnav:presentation` controls the player hides for this SCO.
    pub hide_lms_ui: Vec<HideLmsUi>,
}

vocabulary! {
    /// `timeLimitAction` values.
    pub enum TimeLimitAction {
        /// Exit, showing a message.
        ExitMessage => "exit,message",
        /// Exit silently.
        ExitNoMessage => "exit,no message",
        /// Continue, showing a message.
        ContinueMessage => "continue,message",
        /// Continue silently.
        ContinueNoMessage => "continue,no message",
    }
}

impl TimeLimitAction {
    /// Parses a value, also accepting spaces around the comma and the AICC
    /// abbreviations (`E`/`C` for exit/continue, `M`/`N` for message/no message).
    pub fn parse_lenient(value: &str) -> Option<TimeLimitAction> {
        let (action, message) = value.split_once(',')?;
        let exit = match action.trim().to_ascii_lowercase().as_str() {
            "exit" | "e" => true,
            "continue" | "c" => false,
            _ => return None,
        };
        let message = message.trim().to_ascii_lowercase();
        let show = match message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str()
        {
            "message" | "m" => true,
            "no message" | "nomessage" | "n" => false,
            _ => return None,
        };
        Some(match (exit, show) {
            (true, true) => TimeLimitAction::ExitMessage,
            (true, false) => TimeLimitAction::ExitNoMessage,
            (false, true) => TimeLimitAction::ContinueMessage,
            (false, false) => TimeLimitAction::ContinueNoMessage,
        })
    }
}

vocabulary! {
    /// `adlnav:hideLMSUI` values.
    pub enum HideLmsUi {
        /// Previous.
        Previous => "previous",
        /// Continue.
        Continue => "continue",
        /// Exit.
        Exit => "exit",
        /// Exit all.
        ExitAll => "exitAll",
        /// Abandon.
        Abandon => "abandon",
        /// Abandon all.
        AbandonAll => "abandonAll",
        /// Suspend all.
        SuspendAll => "suspendAll",
    }
}

/// `adlcp:completionThreshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CompletionThreshold {
    /// `@completedByMeasure` (default false; 3rd edition text form: false).
    pub completed_by_measure: bool,
    /// `@minProgressMeasure` or the 3rd edition element text (default 1).
    pub min_progress_measure: f64,
    /// `@progressWeight` (default 1).
    pub progress_weight: f64,
}

impl Default for CompletionThreshold {
    fn default() -> Self {
        CompletionThreshold {
            completed_by_measure: false,
            min_progress_measure: 1.0,
            progress_weight: 1.0,
        }
    }
}

/// `adlcp:map`: access to a shared data store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedDataMap {
    /// `@targetID`.
    pub target_id: String,
    /// `@readSharedData` (default true).
    pub read_shared_data: bool,
    /// `@writeSharedData` (default false).
    pub write_shared_data: bool,
}

/// AICC assignable unit data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AiccAu {
    /// `Type`.
    pub au_type: Option<String>,
    /// `Command_Line`.
    pub command_line: Option<String>,
    /// `Max_Score`.
    pub max_score: Option<String>,
    /// `System_Vendor`.
    pub system_vendor: Option<String>,
    /// `AU_Password`.
    pub au_password: Option<String>,
    /// `Developer_ID` from `.des`.
    pub developer_id: Option<String>,
}

vocabulary! {
    /// cmi5 `moveOn`.
    pub enum MoveOn {
        /// Satisfied at registration.
        NotApplicable => "NotApplicable",
        /// Needs passed.
        Passed => "Passed",
        /// Needs completed.
        Completed => "Completed",
        /// Needs both.
        CompletedAndPassed => "CompletedAndPassed",
        /// Needs either.
        CompletedOrPassed => "CompletedOrPassed",
    }
}

vocabulary! {
    /// cmi5 `launchMethod`.
    pub enum LaunchMethod {
        /// The LMS picks a frame, a new window or a redirect.
        AnyWindow => "AnyWindow",
        /// A new window or a redirect of the current window.
        OwnWindow => "OwnWindow",
    }
}

/// cmi5 assignable unit data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cmi5Au {
    /// Publisher AU id (IRI).
    pub au_id: String,
    /// `moveOn` (default `NotApplicable`).
    pub move_on: MoveOn,
    /// `masteryScore`, 0..1.
    pub mastery_score: Option<f64>,
    /// `launchMethod` (default `AnyWindow`).
    pub launch_method: LaunchMethod,
    /// `launchParameters`.
    pub launch_parameters: Option<String>,
    /// `entitlementKey`.
    pub entitlement_key: Option<String>,
    /// `activityType` (IRI).
    pub activity_type: Option<String>,
}

/// A SCORM resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// `@identifier`.
    pub identifier: String,
    /// `@type` (usually `webcontent`).
    pub resource_type: String,
    /// `scormType`; `asset` when absent.
    pub scorm_type: ScormType,
    /// The resolved `href`, without item parameters.
    pub href: Option<LaunchUrl>,
    /// Files the resource lists, resolved; files outside the package are left out.
    pub files: Vec<PackagePath>,
    /// Identifiers of the resources it depends on directly.
    pub dependencies: Vec<String>,
    /// Its own files and those of every resource it depends on, transitively,
    /// sorted and without duplicates.
    pub required_files: Vec<PackagePath>,
}

vocabulary! {
    /// `adlcp:scormType`.
    pub enum ScormType {
        /// Communicates through the API.
        Sco => "sco",
        /// Does not.
        Asset => "asset",
    }
}

/// A course-level objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseObjective {
    /// Id (cmi5 IRI, AICC `J…` system id).
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// A Tin Can activity that is only pre-registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityDefinition {
    /// Activity id (IRI).
    pub id: String,
    /// Activity type.
    pub activity_type: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// AICC `.crs` data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AiccCourse {
    /// `Course_Creator`.
    pub creator: Option<String>,
    /// `Course_System`.
    pub system: Option<String>,
    /// `Level`.
    pub level: Option<String>,
    /// `Version` (AICC CMI version, e.g. `2.2`).
    pub version: Option<String>,
    /// `[Course_Behavior] Max_Normal`.
    pub max_normal: Option<u32>,
}

/// An AICC `.cmp` completion requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionRequirement {
    /// `Requirement`: AICC script expression.
    pub requirement: String,
    /// `Result`: the status to assign when it holds.
    pub result: Option<String>,
    /// Further columns, in file order, as `name=value`.
    pub extra: Vec<String>,
}
