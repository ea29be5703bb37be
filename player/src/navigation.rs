//! Navigation on the activity tree without a sequencing engine: flow
//! (previous/continue over the launchable activities in tree order) and
//! choice (any visible launchable activity), start and resume. The
//! SCORM 2004 sequencing engine answers the same questions for courses
//! that have sequencing rules; both answer in [`Navigation`].

use std::collections::BTreeMap;

use domain::cmi::{NavValidity, RuntimeSummary, Tristate};
use domain::package::{Activity, Course, HideLmsUi, Standard};
use domain::sequencing::engine::{ControlState, Engine, NavigationRequest, RequestValid};
use serde::{Deserialize, Serialize};

/// A navigation request from the player (PROTOCOL.md §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Request {
    Start,
    ResumeAll,
    Continue,
    Previous,
    Choice,
    Jump,
    Exit,
    ExitAll,
    SuspendAll,
    Abandon,
    AbandonAll,
    /// After the SCO terminated: apply its `adl.nav.request`, if any.
    Auto,
}

impl Request {
    pub fn as_str(&self) -> &'static str {
        match self {
            Request::Start => "start",
            Request::ResumeAll => "resumeAll",
            Request::Continue => "continue",
            Request::Previous => "previous",
            Request::Choice => "choice",
            Request::Jump => "jump",
            Request::Exit => "exit",
            Request::ExitAll => "exitAll",
            Request::SuspendAll => "suspendAll",
            Request::Abandon => "abandon",
            Request::AbandonAll => "abandonAll",
            Request::Auto => "auto",
        }
    }

    /// The sequencer's navigation request; `Ok(None)` is "auto" (the
    /// terminated SCO's `adl.nav.request`, if any).
    pub fn sequencing(&self, target: Option<&str>) -> Result<Option<NavigationRequest>, String> {
        let target = || {
            target
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("a {} request needs a target activity", self.as_str()))
        };
        Ok(Some(match self {
            Request::Start => NavigationRequest::Start,
            Request::ResumeAll => NavigationRequest::ResumeAll,
            Request::Continue => NavigationRequest::Continue,
            Request::Previous => NavigationRequest::Previous,
            Request::Choice => NavigationRequest::Choice { target: target()? },
            Request::Jump => NavigationRequest::Jump { target: target()? },
            Request::Exit => NavigationRequest::Exit,
            Request::ExitAll => NavigationRequest::ExitAll,
            Request::SuspendAll => NavigationRequest::SuspendAll,
            Request::Abandon => NavigationRequest::Abandon,
            Request::AbandonAll => NavigationRequest::AbandonAll,
            Request::Auto => return Ok(None),
        }))
    }
}

/// A control's state in the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Control {
    Hidden,
    Disabled,
    Enabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Controls {
    pub r#continue: Control,
    pub previous: Control,
    pub exit: Control,
    pub exit_all: Control,
    pub suspend_all: Control,
    pub abandon: Control,
    pub abandon_all: Control,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TocItem {
    pub id: String,
    pub title: String,
    pub depth: usize,
    pub hidden: bool,
    pub selectable: bool,
    pub disabled: bool,
    pub current: bool,
    pub completed: bool,
    pub satisfied: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Valid {
    pub r#continue: &'static str,
    pub previous: &'static str,
    pub choice: BTreeMap<String, &'static str>,
    pub jump: BTreeMap<String, &'static str>,
}

/// The answer to a navigation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Navigation {
    pub deliver: Option<String>,
    pub ended: bool,
    pub exception: Option<String>,
    pub controls: Controls,
    /// Whether the table of contents offers anything (a single-SCO course,
    /// or one whose tree allows no choice, needs none).
    pub toc_visible: bool,
    pub toc: Vec<TocItem>,
    pub valid: Valid,
}

struct Node {
    id: String,
    title: String,
    depth: usize,
    visible: bool,
    launchable: bool,
    hide: Vec<HideLmsUi>,
}

/// The activity tree as navigation sees it.
pub struct Tree {
    nodes: Vec<Node>,
    scorm2004: bool,
}

impl Tree {
    pub fn of(course: &Course) -> Tree {
        fn walk(activity: &Activity, depth: usize, out: &mut Vec<Node>) {
            out.push(Node {
                id: activity.id.clone(),
                title: activity.title.clone(),
                depth,
                visible: activity.visible,
                launchable: activity.launch.is_some(),
                hide: activity
                    .launch
                    .as_ref()
                    .map(|l| l.runtime.hide_lms_ui.clone())
                    .unwrap_or_default(),
            });
            for child in &activity.children {
                walk(child, depth + 1, out);
            }
        }
        let mut nodes = Vec::new();
        // The root (organization) is not an item of the table of contents,
        // unless it is the only activity and launchable.
        if course.root.children.is_empty() {
            walk(&course.root, 1, &mut nodes);
        } else {
            for child in &course.root.children {
                walk(child, 1, &mut nodes);
            }
        }
        Tree {
            nodes,
            scorm2004: matches!(course.standard, Standard::Scorm2004 { .. }),
        }
    }

    /// Launchable activities, in tree order.
    pub fn leaves(&self) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|n| n.launchable)
            .map(|n| n.id.as_str())
            .collect()
    }

    pub fn is_launchable(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id && n.launchable)
    }

    fn selectable(&self, id: &str) -> bool {
        self.nodes
            .iter()
            .any(|n| n.id == id && n.launchable && n.visible)
    }
}

fn completed(summaries: &BTreeMap<String, RuntimeSummary>, id: &str) -> bool {
    summaries
        .get(id)
        .is_some_and(|s| s.completion_status == "completed")
}

/// Decides a request. `current` is the activity delivered now.
pub fn navigate(
    tree: &Tree,
    summaries: &BTreeMap<String, RuntimeSummary>,
    current: Option<&str>,
    request: &Request,
    target: Option<&str>,
) -> Navigation {
    let leaves = tree.leaves();
    let at = current.and_then(|c| leaves.iter().position(|l| *l == c));
    let suspended = leaves
        .iter()
        .find(|l| summaries.get(**l).is_some_and(|s| s.suspended));
    let mut exception = None;
    let (deliver, ended) = match request {
        Request::Start | Request::ResumeAll => {
            let first_open = leaves.iter().find(|l| !completed(summaries, l));
            (
                suspended
                    .or(first_open)
                    .or(leaves.first())
                    .map(|s| (*s).to_owned()),
                false,
            )
        }
        Request::Continue => match at {
            Some(i) if i + 1 < leaves.len() => (Some(leaves[i + 1].to_owned()), false),
            Some(_) => (None, true),
            None => (leaves.first().map(|s| (*s).to_owned()), false),
        },
        Request::Previous => match at {
            Some(i) if i > 0 => (Some(leaves[i - 1].to_owned()), false),
            _ => {
                exception = Some("SB.2.1-3".to_owned());
                (None, false)
            }
        },
        Request::Choice | Request::Jump => match target {
            Some(t)
                if tree.selectable(t) || (*request == Request::Jump && tree.is_launchable(t)) =>
            {
                (Some(t.to_owned()), false)
            }
            _ => {
                exception = Some("NB.2.1-11".to_owned());
                (None, false)
            }
        },
        Request::Exit
        | Request::ExitAll
        | Request::SuspendAll
        | Request::Abandon
        | Request::AbandonAll => (None, true),
        Request::Auto => {
            let nav = current
                .and_then(|c| summaries.get(c))
                .and_then(|s| s.nav_request.clone())
                .unwrap_or_default();
            if let Some(choice) = nav
                .strip_prefix("{target=")
                .and_then(|rest| rest.split_once('}'))
            {
                let (target, kind) = choice;
                let request = if kind == "jump" {
                    Request::Jump
                } else {
                    Request::Choice
                };
                return navigate(tree, summaries, current, &request, Some(target));
            }
            let request = match nav.as_str() {
                "continue" => Request::Continue,
                "previous" => Request::Previous,
                "exit" => Request::Exit,
                "exitAll" => Request::ExitAll,
                "suspendAll" => Request::SuspendAll,
                "abandon" => Request::Abandon,
                "abandonAll" => Request::AbandonAll,
                // No request (or `_none_`): the learner chooses.
                _ => {
                    return state(tree, summaries, current, None, false, None);
                }
            };
            return navigate(tree, summaries, current, &request, None);
        }
    };
    let shown = deliver.as_deref().or(current);
    state(tree, summaries, shown, deliver.clone(), ended, exception)
}

fn state(
    tree: &Tree,
    summaries: &BTreeMap<String, RuntimeSummary>,
    current: Option<&str>,
    deliver: Option<String>,
    ended: bool,
    exception: Option<String>,
) -> Navigation {
    let leaves = tree.leaves();
    let at = current.and_then(|c| leaves.iter().position(|l| *l == c));
    let has_next = at.is_some_and(|i| i + 1 < leaves.len());
    let has_previous = at.is_some_and(|i| i > 0);
    let hidden: Vec<HideLmsUi> = current
        .and_then(|c| tree.nodes.iter().find(|n| n.id == c))
        .map(|n| n.hide.clone())
        .unwrap_or_default();
    let control = |hide: HideLmsUi, enabled: bool| {
        if hidden.contains(&hide) {
            Control::Hidden
        } else if enabled {
            Control::Enabled
        } else {
            Control::Disabled
        }
    };
    let only_2004 = |hide: HideLmsUi| {
        if tree.scorm2004 {
            control(hide, true)
        } else {
            Control::Hidden
        }
    };
    let controls = Controls {
        r#continue: control(HideLmsUi::Continue, has_next),
        previous: control(HideLmsUi::Previous, has_previous),
        exit: control(HideLmsUi::Exit, true),
        exit_all: only_2004(HideLmsUi::ExitAll),
        suspend_all: only_2004(HideLmsUi::SuspendAll),
        abandon: Control::Hidden,
        abandon_all: Control::Hidden,
    };
    let toc = tree
        .nodes
        .iter()
        .map(|n| TocItem {
            id: n.id.clone(),
            title: n.title.clone(),
            depth: n.depth,
            hidden: !n.visible,
            selectable: n.launchable && n.visible,
            disabled: false,
            current: Some(n.id.as_str()) == current,
            completed: completed(summaries, &n.id),
            satisfied: summaries
                .get(&n.id)
                .and_then(|s| match s.success_status.as_str() {
                    "passed" => Some(true),
                    "failed" => Some(false),
                    _ => None,
                }),
        })
        .collect();
    let valid = Valid {
        r#continue: truth(has_next),
        previous: truth(has_previous),
        choice: leaves
            .iter()
            .map(|l| ((*l).to_owned(), truth(tree.selectable(l))))
            .collect(),
        jump: leaves.iter().map(|l| ((*l).to_owned(), "true")).collect(),
    };
    Navigation {
        deliver,
        ended,
        exception,
        controls,
        toc_visible: leaves.len() > 1,
        toc,
        valid,
    }
}

fn control(state: ControlState) -> Control {
    match state {
        ControlState::Hidden => Control::Hidden,
        ControlState::Disabled => Control::Disabled,
        ControlState::Enabled => Control::Enabled,
    }
}

fn truth(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// The navigation of a sequenced course, as the SCORM 2004 sequencer sees
/// it now: its controls (control modes and `hideLMSUI`), its table of
/// contents (hidden and disabled activities, what a choice can reach) and
/// `adl.nav.request_valid`.
pub fn sequenced(
    engine: &Engine,
    deliver: Option<String>,
    ended: bool,
    exception: Option<String>,
) -> Navigation {
    let state = engine.navigation_state();
    let c = state.controls;
    let controls = Controls {
        r#continue: control(c.continue_),
        previous: control(c.previous),
        exit: control(c.exit),
        exit_all: control(c.exit_all),
        suspend_all: control(c.suspend_all),
        abandon: control(c.abandon),
        abandon_all: control(c.abandon_all),
    };
    // The root (organization) is not an item of the table of contents,
    // unless it is the only activity.
    let single = state.tree.len() == 1;
    let toc: Vec<TocItem> = state
        .tree
        .iter()
        .filter(|item| single || item.depth > 0)
        .map(|item| TocItem {
            id: item.id.clone(),
            title: item.title.clone(),
            depth: item.depth.max(1),
            hidden: item.hidden,
            selectable: item.selectable && !item.hidden,
            disabled: item.disabled,
            current: item.current,
            completed: item.completed == Some(true),
            satisfied: item.satisfied,
        })
        .collect();
    let valid = &state.request_valid;
    let map = |m: &BTreeMap<String, bool>| {
        m.iter()
            .map(|(id, v)| (id.clone(), truth(*v)))
            .collect::<BTreeMap<_, _>>()
    };
    Navigation {
        deliver,
        ended,
        exception,
        controls,
        toc_visible: state.table_of_contents
            && toc
                .iter()
                .any(|item| item.selectable && !item.hidden && !item.current),
        toc,
        valid: Valid {
            r#continue: truth(valid.continue_),
            previous: truth(valid.previous),
            choice: map(&valid.choice),
            jump: map(&valid.jump),
        },
    }
}

/// `adl.nav.request_valid.*` for a SCO's launch context.
pub fn nav_validity(valid: &RequestValid) -> NavValidity {
    let tri = |b: bool| if b { Tristate::True } else { Tristate::False };
    let map = |m: &BTreeMap<String, bool>| m.iter().map(|(id, v)| (id.clone(), tri(*v))).collect();
    NavValidity {
        continue_request: tri(valid.continue_),
        previous: tri(valid.previous),
        choice: map(&valid.choice),
        jump: map(&valid.jump),
    }
}
