//! The Sequencing Request Process (SB.2.12) and its request processes —
//! Start (SB.2.5), Resume All (SB.2.6), Continue (SB.2.7), Previous (SB.2.8),
//! Choice (SB.2.9), Retry (SB.2.10), Exit (SB.2.11), Jump (SB.2.13) — with
//! the Flow Subprocess (SB.2.3), Flow Tree Traversal (SB.2.1), Flow Activity
//! Traversal (SB.2.2), Choice Activity Traversal (SB.2.4) and the Choice Flow
//! Subprocess (SB.2.9.1) with its Choice Flow Tree Traversal (SB.2.9.2).
//!
//! These processes only read the tracking state: they decide, and the caller
//! applies the decision ([`SequencingOutcome`]), so the same code answers
//! look-ahead questions (`adl.nav.request_valid`, the table of contents).

use super::request::SequencingRequest;
use super::rules::{HIDDEN, SKIP, STOP_FORWARD};
use super::{Engine, SequencingException};

/// A traversal direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Forward,
    Backward,
}

/// Why a flow stopped without an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowStop {
    /// Forward past the last activity: the 4th edition ends the sequencing
    /// session (after terminating the descendent attempts of the root).
    EndSession,
    /// A sequencing exception.
    Exception(SequencingException),
}

impl From<SequencingException> for FlowStop {
    fn from(exception: SequencingException) -> Self {
        FlowStop::Exception(exception)
    }
}

/// What the Sequencing Request Process decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequencingOutcome {
    /// Deliver this activity (a delivery request).
    Deliver(usize),
    /// End the sequencing session.
    EndSession,
    /// Nothing to deliver; the session goes on.
    Nothing,
    /// SB.2.9 steps 14.x: a chosen cluster holds nothing to deliver. The
    /// attempts under the common ancestor end, the target becomes the current
    /// activity and SB.2.9-9 is raised.
    ChoiceIntoEmptyCluster { common: usize, target: usize },
}

impl Engine {
    /// Sequencing Request Process (SB.2.12).
    pub(crate) fn sequencing_request(
        &self,
        request: SequencingRequest,
    ) -> Result<SequencingOutcome, SequencingException> {
        match request {
            SequencingRequest::Start => self.start_sequencing(),
            SequencingRequest::ResumeAll => self.resume_all_sequencing(),
            SequencingRequest::Exit => self.exit_sequencing(),
            SequencingRequest::Retry => self.retry_sequencing(),
            SequencingRequest::Continue => self.continue_sequencing(),
            SequencingRequest::Previous => self.previous_sequencing(),
            SequencingRequest::Choice(target) => self.choice_sequencing(target),
            SequencingRequest::Jump(target) => self.jump_sequencing(target),
        }
    }

    /// Start Sequencing Request Process (SB.2.5).
    fn start_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        if self.current.is_some() {
            return Err(SequencingException::StartSessionAlreadyBegun);
        }
        if self.is_leaf(0) {
            return Ok(SequencingOutcome::Deliver(0));
        }
        flow_outcome(self.flow_subprocess(0, Direction::Forward, true))
    }

    /// Resume All Sequencing Request Process (SB.2.6).
    fn resume_all_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        if self.current.is_some() {
            return Err(SequencingException::ResumeAllSessionAlreadyBegun);
        }
        let suspended = self
            .suspended
            .ok_or(SequencingException::ResumeAllNoSuspendedActivity)?;
        Ok(SequencingOutcome::Deliver(suspended))
    }

    /// Exit Sequencing Request Process (SB.2.11): exiting the root ends the
    /// sequencing session.
    fn exit_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        let current = self
            .current
            .ok_or(SequencingException::ExitSessionNotBegun)?;
        if self.acts[current].active {
            return Err(SequencingException::ExitNotTerminated);
        }
        if current == 0 {
            Ok(SequencingOutcome::EndSession)
        } else {
            Ok(SequencingOutcome::Nothing)
        }
    }

    /// Retry Sequencing Request Process (SB.2.10).
    fn retry_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        let current = self
            .current
            .ok_or(SequencingException::RetrySessionNotBegun)?;
        let state = &self.acts[current];
        if state.active || state.suspended {
            return Err(SequencingException::RetryActiveOrSuspended);
        }
        if self.is_leaf(current) {
            return Ok(SequencingOutcome::Deliver(current));
        }
        match self.flow_subprocess(current, Direction::Forward, true) {
            Ok(activity) => Ok(SequencingOutcome::Deliver(activity)),
            Err(_) => Err(SequencingException::RetryFlowViolation),
        }
    }

    /// Continue Sequencing Request Process (SB.2.7).
    fn continue_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        let current = self
            .current
            .ok_or(SequencingException::ContinueSessionNotBegun)?;
        if let Some(parent) = self.parent(current)
            && !self.flow(parent)
        {
            return Err(SequencingException::ContinueFlowViolation);
        }
        flow_outcome(self.flow_subprocess(current, Direction::Forward, false))
    }

    /// Previous Sequencing Request Process (SB.2.8).
    fn previous_sequencing(&self) -> Result<SequencingOutcome, SequencingException> {
        let current = self
            .current
            .ok_or(SequencingException::PreviousSessionNotBegun)?;
        if let Some(parent) = self.parent(current)
            && !self.flow(parent)
        {
            return Err(SequencingException::PreviousFlowViolation);
        }
        flow_outcome(self.flow_subprocess(current, Direction::Backward, false))
    }

    /// Jump Sequencing Request Process (SB.2.13, 4th edition): the target is
    /// delivered without control mode checks.
    fn jump_sequencing(&self, target: usize) -> Result<SequencingOutcome, SequencingException> {
        if self.current.is_none() {
            return Err(SequencingException::JumpSessionNotBegun);
        }
        Ok(SequencingOutcome::Deliver(target))
    }

    /// Choice Sequencing Request Process (SB.2.9).
    pub(crate) fn choice_sequencing(
        &self,
        target: usize,
    ) -> Result<SequencingOutcome, SequencingException> {
        use SequencingException as E;
        let path = self.tree.path_from_root(target);
        // Every activity on the path must be available (selected) ...
        if path[1..]
            .iter()
            .any(|&activity| self.avail_pos[activity].is_none())
        {
            return Err(E::ChoiceTargetUnavailable);
        }
        // ... and none hidden from choice.
        if path
            .iter()
            .any(|&activity| self.pre_condition_fires(activity, HIDDEN))
        {
            return Err(E::ChoiceHiddenFromChoice);
        }
        if let Some(parent) = self.parent(target)
            && !self.tree.nodes[parent].sequencing.control_mode.choice
        {
            return Err(E::ChoiceControlViolation);
        }
        let (from, common) = match self.current {
            Some(current) => (Some(current), self.tree.common_ancestor(current, target)),
            None => (None, 0),
        };
        match from {
            Some(from) if from == target => {}
            Some(from) if self.parent(from) == self.parent(target) => {
                self.choice_among_siblings(from, target)?;
            }
            Some(from) if from != common && target == common => {
                // The target is an ancestor of the current activity: every
                // activity left on the way up must allow choice exit.
                let mut walk = self.parent(from);
                while let Some(activity) = walk {
                    if activity == target {
                        break;
                    }
                    if !self.tree.nodes[activity]
                        .sequencing
                        .control_mode
                        .choice_exit
                    {
                        return Err(E::ChoiceExitViolation);
                    }
                    walk = self.parent(activity);
                }
            }
            Some(from) if from != common => {
                self.choice_across_tree(from, common, target)?;
            }
            // No current activity, or the current activity contains the target.
            _ => self.choice_downward(common, target, true)?,
        }
        if self.is_leaf(target) {
            return Ok(SequencingOutcome::Deliver(target));
        }
        match self.flow_subprocess(target, Direction::Forward, true) {
            Ok(activity) => Ok(SequencingOutcome::Deliver(activity)),
            Err(_) => Ok(SequencingOutcome::ChoiceIntoEmptyCluster { common, target }),
        }
    }

    /// SB.2.9 case 2: the target is a sibling of the current activity; every
    /// activity from the current one towards the target must be traversable.
    fn choice_among_siblings(&self, from: usize, target: usize) -> Result<(), SequencingException> {
        let (Some(from_pos), Some(target_pos)) = (self.avail_pos[from], self.avail_pos[target])
        else {
            return Err(SequencingException::ChoiceNothingToConsider);
        };
        let parent = self.parent(target).expect("siblings have a parent");
        let siblings = &self.avail[parent];
        if target_pos > from_pos {
            for &activity in &siblings[from_pos..target_pos] {
                self.choice_activity_traversal(activity, Direction::Forward)?;
            }
        } else {
            for &activity in siblings[target_pos + 1..=from_pos].iter().rev() {
                self.choice_activity_traversal(activity, Direction::Backward)?;
            }
        }
        Ok(())
    }

    /// SB.2.9 for a target below `common` when the current activity is
    /// `common` (or there is none): the activities from the common ancestor
    /// down to the target's parent must be traversable forward, and none may
    /// prevent activation of its children while inactive.
    fn choice_downward(
        &self,
        common: usize,
        target: usize,
        traversal: bool,
    ) -> Result<(), SequencingException> {
        let path = self.tree.path_from_root(target);
        let start = path.iter().position(|&a| a == common).unwrap_or(0);
        let between = &path[start..path.len() - 1];
        if between.is_empty() && common != target {
            return Err(SequencingException::ChoiceNothingToConsider);
        }
        for &activity in between {
            if traversal {
                self.choice_activity_traversal(activity, Direction::Forward)?;
            }
            let prevents = self.tree.nodes[activity]
                .sequencing
                .constrained_choice_considerations
                .prevent_activation;
            if activity != common && !self.acts[activity].active && prevents {
                return Err(SequencingException::ChoicePreventActivation);
            }
        }
        Ok(())
    }

    /// SB.2.9 case 5: the target is elsewhere in the tree. Leaving the
    /// current activity's ancestors needs choice exit; the nearest
    /// constrained choice ancestor limits the target to its logical
    /// neighbourhood; then the way down to the target is checked.
    fn choice_across_tree(
        &self,
        from: usize,
        common: usize,
        target: usize,
    ) -> Result<(), SequencingException> {
        use SequencingException as E;
        let mut constrained = None;
        let mut walk = self.parent(from);
        while let Some(activity) = walk {
            if activity == common {
                break;
            }
            let sequencing = &self.tree.nodes[activity].sequencing;
            if !sequencing.control_mode.choice_exit {
                return Err(E::ChoiceExitViolation);
            }
            if constrained.is_none()
                && sequencing
                    .constrained_choice_considerations
                    .constrain_choice
            {
                constrained = Some(activity);
            }
            walk = self.parent(activity);
        }
        if let Some(constrained) = constrained {
            let direction = if target > constrained {
                Direction::Forward
            } else {
                Direction::Backward
            };
            let consider = self.choice_flow_subprocess(constrained, direction);
            let allowed = target == consider
                || target == constrained
                || (self.tree.contains(consider, target)
                    && self.available_in_subtree(target, consider));
            if !allowed {
                return Err(E::ChoiceConstrained);
            }
        }
        let forward = target > from;
        self.choice_downward(common, target, forward)
    }

    /// Whether every activity from `activity` up to (not including) `top` is
    /// available.
    fn available_in_subtree(&self, activity: usize, top: usize) -> bool {
        let mut walk = activity;
        while walk != top {
            if self.avail_pos[walk].is_none() {
                return false;
            }
            match self.parent(walk) {
                Some(parent) => walk = parent,
                None => return false,
            }
        }
        true
    }

    /// Choice Activity Traversal Subprocess (SB.2.4).
    fn choice_activity_traversal(
        &self,
        activity: usize,
        direction: Direction,
    ) -> Result<(), SequencingException> {
        match direction {
            Direction::Forward => {
                if self.pre_condition_fires(activity, STOP_FORWARD) {
                    return Err(SequencingException::ChoiceTraversalForwardBlocked);
                }
                Ok(())
            }
            Direction::Backward => match self.parent(activity) {
                Some(parent) if self.forward_only(parent) => {
                    Err(SequencingException::ChoiceTraversalForwardOnlyViolation)
                }
                Some(_) => Ok(()),
                None => Err(SequencingException::ChoiceTraversalNothingBeforeRoot),
            },
        }
    }

    /// Choice Flow Subprocess (SB.2.9.1): the logical neighbour of a
    /// constrained activity in `direction`, or the activity itself.
    pub(crate) fn choice_flow_subprocess(&self, activity: usize, direction: Direction) -> usize {
        self.choice_flow_tree_traversal(activity, direction)
            .unwrap_or(activity)
    }

    /// Choice Flow Tree Traversal Subprocess (SB.2.9.2).
    fn choice_flow_tree_traversal(&self, activity: usize, direction: Direction) -> Option<usize> {
        let parent = self.parent(activity)?;
        match direction {
            Direction::Forward => {
                if activity == self.last_in_preorder() {
                    return None;
                }
                match self.next_sibling(activity) {
                    Some(next) => Some(next),
                    None => self.choice_flow_tree_traversal(parent, Direction::Forward),
                }
            }
            Direction::Backward => match self.previous_sibling(activity) {
                Some(previous) => Some(previous),
                None => self.choice_flow_tree_traversal(parent, Direction::Backward),
            },
        }
    }

    /// Flow Subprocess (SB.2.3): the first deliverable activity from
    /// `activity` in `direction`.
    pub(crate) fn flow_subprocess(
        &self,
        activity: usize,
        direction: Direction,
        consider_children: bool,
    ) -> Result<usize, FlowStop> {
        let (candidate, _) =
            self.flow_tree_traversal(activity, direction, None, consider_children)?;
        self.flow_activity_traversal(candidate, direction, None)
    }

    /// Flow Tree Traversal Subprocess (SB.2.1): one step through the tree.
    /// Returns the next activity and the direction the traversal ended in.
    pub(crate) fn flow_tree_traversal(
        &self,
        activity: usize,
        direction: Direction,
        previous_direction: Option<Direction>,
        consider_children: bool,
    ) -> Result<(usize, Direction), FlowStop> {
        use SequencingException as E;
        let mut activity = activity;
        let mut direction = direction;
        let mut reversed = false;
        if previous_direction == Some(Direction::Backward)
            && self.next_sibling(activity).is_none()
            && let Some(parent) = self.parent(activity)
            && let Some(&first) = self.avail[parent].first()
        {
            direction = Direction::Backward;
            activity = first;
            reversed = true;
        }
        let enters = consider_children && !self.is_leaf(activity);
        match direction {
            Direction::Forward => {
                if activity == self.last_in_preorder() || (activity == 0 && !consider_children) {
                    return Err(FlowStop::EndSession);
                }
                if !enters {
                    let parent = self.parent(activity).ok_or(FlowStop::EndSession)?;
                    return match self.next_sibling(activity) {
                        Some(next) => Ok((next, Direction::Forward)),
                        None => self.flow_tree_traversal(parent, Direction::Forward, None, false),
                    };
                }
                match self.avail[activity].first() {
                    Some(&first) => Ok((first, Direction::Forward)),
                    None => Err(E::FlowNoAvailableChildren.into()),
                }
            }
            Direction::Backward => {
                let Some(parent) = self.parent(activity) else {
                    return Err(E::FlowNothingBeforeRoot.into());
                };
                if !enters {
                    if !reversed && self.forward_only(parent) {
                        return Err(E::FlowForwardOnlyViolation.into());
                    }
                    return match self.previous_sibling(activity) {
                        Some(previous) => Ok((previous, Direction::Backward)),
                        None => self.flow_tree_traversal(parent, Direction::Backward, None, false),
                    };
                }
                let children = &self.avail[activity];
                match (children.first(), children.last()) {
                    (Some(&first), Some(&last)) => {
                        if self.forward_only(activity) {
                            Ok((first, Direction::Forward))
                        } else {
                            Ok((last, Direction::Backward))
                        }
                    }
                    _ => Err(E::FlowNoAvailableChildren.into()),
                }
            }
        }
    }

    /// Flow Activity Traversal Subprocess (SB.2.2): skips skipped activities,
    /// refuses disabled ones and descends into clusters until a leaf is found.
    fn flow_activity_traversal(
        &self,
        activity: usize,
        direction: Direction,
        previous_direction: Option<Direction>,
    ) -> Result<usize, FlowStop> {
        use SequencingException as E;
        let mut activity = activity;
        let mut direction = direction;
        let mut previous_direction = previous_direction;
        loop {
            let flows = self
                .parent(activity)
                .is_some_and(|parent| self.flow(parent));
            if !flows {
                return Err(E::FlowActivityFlowViolation.into());
            }
            if self.pre_condition_fires(activity, SKIP) {
                let (next, traversed) =
                    self.flow_tree_traversal(activity, direction, previous_direction, false)?;
                if previous_direction == Some(Direction::Backward)
                    && traversed == Direction::Backward
                {
                    direction = Direction::Backward;
                    previous_direction = None;
                }
                activity = next;
                continue;
            }
            if self.check_activity(activity) {
                return Err(E::FlowActivityUnavailable.into());
            }
            if self.is_leaf(activity) {
                return Ok(activity);
            }
            let (next, traversed) = self.flow_tree_traversal(activity, direction, None, true)?;
            if direction == Direction::Backward && traversed == Direction::Forward {
                direction = Direction::Forward;
                previous_direction = Some(Direction::Backward);
            } else {
                previous_direction = None;
            }
            activity = next;
        }
    }

    /// The last activity of a forward preorder traversal of the available
    /// children.
    pub(crate) fn last_in_preorder(&self) -> usize {
        let mut activity = 0;
        while let Some(&last) = self.avail[activity].last() {
            activity = last;
        }
        activity
    }

    pub(crate) fn next_sibling(&self, activity: usize) -> Option<usize> {
        let parent = self.parent(activity)?;
        let position = self.avail_pos[activity]?;
        self.avail[parent].get(position + 1).copied()
    }

    pub(crate) fn previous_sibling(&self, activity: usize) -> Option<usize> {
        let parent = self.parent(activity)?;
        let position = self.avail_pos[activity]?;
        position
            .checked_sub(1)
            .and_then(|previous| self.avail[parent].get(previous).copied())
    }
}

/// Maps a flow result to a sequencing outcome: a stop at the end of the tree
/// ends the session, other stops are exceptions.
fn flow_outcome(flow: Result<usize, FlowStop>) -> Result<SequencingOutcome, SequencingException> {
    match flow {
        Ok(activity) => Ok(SequencingOutcome::Deliver(activity)),
        Err(FlowStop::EndSession) => Ok(SequencingOutcome::EndSession),
        Err(FlowStop::Exception(exception)) => Err(exception),
    }
}
