//! Look-ahead: whether a navigation request would succeed now, without
//! changing anything — `adl.nav.request_valid.*`, the navigation controls the
//! player shows and the table of contents.
//!
//! A request is valid when the Navigation Request Process accepts it and,
//! for Start, Resume All, Previous, Choice and Jump, the Sequencing Request
//! Process and the Delivery Request Process would deliver an activity.
//! Continue needs only the Navigation Request Process, as in ADL's sample
//! RTE: it is offered wherever the parent flows, and past the last activity
//! it ends the session. The termination of the current activity is not
//! simulated: its exit and post-condition rules can still redirect the
//! request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::request::SequencingRequest;
use super::rules::HIDDEN;
use super::sequencing::SequencingOutcome;
use super::{Engine, NavigationRequest};
use crate::package::HideLmsUi;

/// Answers to `adl.nav.request_valid.*` and the start buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestValid {
    /// A Start request would deliver an activity.
    pub start: bool,
    /// A Resume All request would deliver the suspended activity.
    pub resume_all: bool,
    /// `adl.nav.request_valid.continue`.
    #[serde(rename = "continue")]
    pub continue_: bool,
    /// `adl.nav.request_valid.previous`.
    pub previous: bool,
    /// `adl.nav.request_valid.choice.{target=ID}` for every activity.
    pub choice: BTreeMap<String, bool>,
    /// `adl.nav.request_valid.jump.{target=ID}` for every activity.
    pub jump: BTreeMap<String, bool>,
}

/// How the player shows one navigation control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlState {
    /// Not shown: the current SCO hides it (`adlnav:hideLMSUI`), or there is
    /// no sequencing session.
    Hidden,
    /// Shown, but the request would fail.
    Disabled,
    /// Shown and usable.
    Enabled,
}

/// The player's navigation controls for the current activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NavigationControls {
    /// Continue.
    #[serde(rename = "continue")]
    pub continue_: ControlState,
    /// Previous.
    pub previous: ControlState,
    /// Exit.
    pub exit: ControlState,
    /// Exit All.
    pub exit_all: ControlState,
    /// Suspend All.
    pub suspend_all: ControlState,
    /// Abandon.
    pub abandon: ControlState,
    /// Abandon All.
    pub abandon_all: ControlState,
}

/// One entry of the table of contents, in tree order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeItem {
    /// Activity identifier.
    pub id: String,
    /// Title.
    pub title: String,
    /// Depth (the root is 0).
    pub depth: usize,
    /// Whether it has no children.
    pub leaf: bool,
    /// Whether it launches content (a leaf with a resource).
    pub launchable: bool,
    /// Not shown: `isvisible="false"`, hidden from choice (itself or an
    /// ancestor), or not selected for this attempt.
    pub hidden: bool,
    /// A Choice request for it would succeed.
    pub selectable: bool,
    /// A disabled rule or a limit condition holds (Check Activity, UP.5).
    pub disabled: bool,
    /// It is the current activity.
    pub current: bool,
    /// It is suspended.
    pub suspended: bool,
    /// It has been attempted.
    pub attempted: bool,
    /// Attempt completion status, if known.
    pub completed: Option<bool>,
    /// Primary objective satisfied status, if known.
    pub satisfied: Option<bool>,
}

/// Everything the player needs to draw its navigation after a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NavigationState {
    /// The current activity.
    pub current_activity: Option<String>,
    /// Request validity.
    pub request_valid: RequestValid,
    /// Navigation controls.
    pub controls: NavigationControls,
    /// Whether the table of contents offers anything: a visible activity
    /// other than the current one is selectable. A single-SCO course needs
    /// none (ADL's conformance tests CM-11, SX-08 expect it hidden).
    pub table_of_contents: bool,
    /// The table of contents.
    pub tree: Vec<TreeItem>,
}

impl Engine {
    /// Whether `request` would succeed now (see the module documentation).
    pub fn request_valid(&self, request: &NavigationRequest) -> bool {
        let Ok((_, sequencing)) = self.navigation_request(request) else {
            return false;
        };
        // Continue is valid when the Navigation Request Process accepts it,
        // as in ADL's sample RTE (conformance test CM-07d expects the
        // control enabled): where it leads is decided by then-current data.
        let delivers = matches!(
            request,
            NavigationRequest::Start
                | NavigationRequest::ResumeAll
                | NavigationRequest::Previous
                | NavigationRequest::Choice { .. }
                | NavigationRequest::Jump { .. }
        );
        match sequencing {
            Some(sequencing) if delivers => self.sequencing_would_deliver(sequencing),
            _ => true,
        }
    }

    fn sequencing_would_deliver(&self, request: SequencingRequest) -> bool {
        // The current activity is ended before these run: look ahead as if
        // it were (its own active flag matters to no check below).
        match self.sequencing_request(request) {
            Ok(SequencingOutcome::Deliver(activity)) => self.delivery_request(activity).is_ok(),
            Ok(SequencingOutcome::EndSession) => matches!(request, SequencingRequest::Continue),
            Ok(SequencingOutcome::Nothing | SequencingOutcome::ChoiceIntoEmptyCluster { .. }) => {
                false
            }
            Err(_) => false,
        }
    }

    /// The request a player issues when the learner opens the course: Resume
    /// All after a Suspend All, else Start when it would deliver, else — for
    /// a course whose organization does not flow, such as a single SCO with
    /// default sequencing — a Choice of the only activity a choice can
    /// deliver. `None` leaves the choice to the learner (table of contents).
    pub fn launch_request(&self) -> Option<NavigationRequest> {
        if self.current.is_some() {
            return None;
        }
        if self.suspended.is_some() {
            return Some(NavigationRequest::ResumeAll);
        }
        if self.request_valid(&NavigationRequest::Start) {
            return Some(NavigationRequest::Start);
        }
        let mut choices = (0..self.acts.len())
            .filter(|&activity| self.is_leaf(activity))
            .map(|activity| NavigationRequest::Choice {
                target: self.id(activity).to_owned(),
            })
            .filter(|request| self.request_valid(request));
        let only = choices.next()?;
        choices.next().is_none().then_some(only)
    }

    /// Choice validity for every activity, computed once for the table of
    /// contents and `request_valid.choice`.
    fn choice_validity(&self) -> Vec<bool> {
        (0..self.acts.len())
            .map(|activity| {
                self.request_valid(&NavigationRequest::Choice {
                    target: self.id(activity).to_owned(),
                })
            })
            .collect()
    }

    /// Request validity, controls and table of contents.
    pub fn navigation_state(&self) -> NavigationState {
        let choice = self.choice_validity();
        let jump: Vec<bool> = (0..self.acts.len())
            .map(|activity| {
                self.request_valid(&NavigationRequest::Jump {
                    target: self.id(activity).to_owned(),
                })
            })
            .collect();
        let ids = |values: &[bool]| -> BTreeMap<String, bool> {
            values
                .iter()
                .enumerate()
                .map(|(activity, valid)| (self.id(activity).to_owned(), *valid))
                .collect()
        };
        let request_valid = RequestValid {
            start: self.request_valid(&NavigationRequest::Start),
            resume_all: self.request_valid(&NavigationRequest::ResumeAll),
            continue_: self.request_valid(&NavigationRequest::Continue),
            previous: self.request_valid(&NavigationRequest::Previous),
            choice: ids(&choice),
            jump: ids(&jump),
        };
        let tree = self.table_of_contents(&choice);
        let table_of_contents = tree
            .iter()
            .any(|item| item.selectable && !item.hidden && !item.current);
        NavigationState {
            current_activity: self.current_activity().map(str::to_owned),
            controls: self.controls(&request_valid),
            table_of_contents,
            tree,
            request_valid,
        }
    }

    fn controls(&self, valid: &RequestValid) -> NavigationControls {
        let hidden: &[HideLmsUi] = match self.current {
            Some(current) => &self.tree.nodes[current].hide_lms_ui,
            None => &[],
        };
        let state = |control: HideLmsUi, enabled: bool| {
            if self.current.is_none() || hidden.contains(&control) {
                ControlState::Hidden
            } else if enabled {
                ControlState::Enabled
            } else {
                ControlState::Disabled
            }
        };
        NavigationControls {
            continue_: state(HideLmsUi::Continue, valid.continue_),
            previous: state(HideLmsUi::Previous, valid.previous),
            exit: state(
                HideLmsUi::Exit,
                self.request_valid(&NavigationRequest::Exit),
            ),
            exit_all: state(
                HideLmsUi::ExitAll,
                self.request_valid(&NavigationRequest::ExitAll),
            ),
            suspend_all: state(
                HideLmsUi::SuspendAll,
                self.request_valid(&NavigationRequest::SuspendAll),
            ),
            abandon: state(
                HideLmsUi::Abandon,
                self.request_valid(&NavigationRequest::Abandon),
            ),
            abandon_all: state(
                HideLmsUi::AbandonAll,
                self.request_valid(&NavigationRequest::AbandonAll),
            ),
        }
    }

    fn table_of_contents(&self, choice: &[bool]) -> Vec<TreeItem> {
        let mut hidden = vec![false; self.acts.len()];
        let mut items = Vec::with_capacity(self.acts.len());
        for (activity, node) in self.tree.nodes.iter().enumerate() {
            let inherited = node.parent.is_some_and(|parent| hidden[parent]);
            let unavailable = node.parent.is_some() && self.avail_pos[activity].is_none();
            hidden[activity] =
                inherited || unavailable || self.pre_condition_fires(activity, HIDDEN);
            let state = &self.acts[activity];
            items.push(TreeItem {
                id: node.id.clone(),
                title: node.title.clone(),
                depth: node.depth,
                leaf: node.children.is_empty(),
                launchable: node.launchable,
                hidden: hidden[activity] || !node.visible,
                selectable: choice[activity],
                disabled: self.check_activity(activity),
                current: self.current == Some(activity),
                suspended: state.suspended,
                attempted: state.attempt_count > 0,
                completed: self.attempt_completed(activity),
                satisfied: self.objective_satisfied(activity, 0),
            });
        }
        items
    }
}
