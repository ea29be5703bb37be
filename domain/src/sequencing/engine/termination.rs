//! Ending attempts: the Termination Request Process (TB.2.3) with its
//! Sequencing Exit Action Rules Subprocess (TB.2.1) and Sequencing Post
//! Condition Rules Subprocess (TB.2.2), the End Attempt Process (UP.4) and the
//! Terminate Descendent Attempts Process (UP.3).

use super::request::{SequencingRequest, TerminationRequest};
use super::{Engine, SequencingException};
use crate::sequencing::definition::{PostConditionAction, RandomizationTiming};

/// A termination request raised by a post-condition rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PostTermination {
    ExitParent,
    ExitAll,
}

impl Engine {
    /// Termination Request Process (TB.2.3). Returns the sequencing request
    /// that replaces the pending one, if any.
    pub(crate) fn termination_request(
        &mut self,
        request: TerminationRequest,
    ) -> Result<Option<SequencingRequest>, SequencingException> {
        use SequencingException as E;
        let current = self.current.ok_or(E::TerminationNoCurrentActivity)?;
        if matches!(
            request,
            TerminationRequest::Exit | TerminationRequest::Abandon
        ) && !self.acts[current].active
        {
            return Err(E::TerminationAlreadyTerminated);
        }
        match request {
            TerminationRequest::Exit => self.terminate_exit(current),
            TerminationRequest::ExitAll => Ok(Some(self.terminate_exit_all(None))),
            TerminationRequest::SuspendAll => self.terminate_suspend_all(current),
            TerminationRequest::Abandon => {
                self.abandon(current);
                Ok(None)
            }
            TerminationRequest::AbandonAll => {
                let mut walk = Some(current);
                while let Some(activity) = walk {
                    self.abandon(activity);
                    walk = self.parent(activity);
                }
                self.current = Some(0);
                Ok(Some(SequencingRequest::Exit))
            }
        }
    }

    /// Abandon: the activity is no longer active; its attempt is not ended,
    /// so nothing is completed or rolled up.
    fn abandon(&mut self, activity: usize) {
        let now = self.now;
        self.close_attempt_clock(activity, now);
        if self.acts[activity].active {
            self.act_mut(activity).active = false;
        }
    }

    /// TB.2.3 for Exit: end the attempt, apply exit action rules, then
    /// post-condition rules until no exit parent is left.
    fn terminate_exit(
        &mut self,
        current: usize,
    ) -> Result<Option<SequencingRequest>, SequencingException> {
        self.end_attempt(current);
        self.sequencing_exit_action_rules();
        loop {
            let (termination, sequencing) = self.sequencing_post_condition_rules();
            match termination {
                Some(PostTermination::ExitAll) => {
                    return Ok(Some(self.terminate_exit_all(sequencing)));
                }
                Some(PostTermination::ExitParent) => {
                    let current = self.current.expect("termination keeps a current activity");
                    let parent = self
                        .parent(current)
                        .ok_or(SequencingException::TerminationRootHasNoParent)?;
                    self.current = Some(parent);
                    self.end_attempt(parent);
                }
                None => {
                    let at_root = self.current == Some(0);
                    if at_root && sequencing != Some(SequencingRequest::Retry) {
                        return Ok(Some(SequencingRequest::Exit));
                    }
                    return Ok(sequencing);
                }
            }
        }
    }

    /// TB.2.3 for Exit All: end every attempt and make the root current. A
    /// retry all post-condition keeps its Retry request.
    fn terminate_exit_all(
        &mut self,
        post_condition: Option<SequencingRequest>,
    ) -> SequencingRequest {
        if let Some(current) = self.current
            && self.acts[current].active
        {
            self.end_attempt(current);
        }
        self.terminate_descendent_attempts(0);
        self.end_attempt(0);
        self.current = Some(0);
        if post_condition == Some(SequencingRequest::Retry) {
            SequencingRequest::Retry
        } else {
            SequencingRequest::Exit
        }
    }

    /// TB.2.3 for Suspend All.
    fn terminate_suspend_all(
        &mut self,
        current: usize,
    ) -> Result<Option<SequencingRequest>, SequencingException> {
        let state = &self.acts[current];
        let suspended = if state.active || state.suspended {
            self.overall_rollup(current);
            current
        } else {
            self.parent(current)
                .ok_or(SequencingException::TerminationNothingToSuspend)?
        };
        self.suspended = Some(suspended);
        let now = self.now;
        let mut walk = Some(suspended);
        while let Some(activity) = walk {
            self.close_attempt_clock(activity, now);
            let state = self.act_mut(activity);
            state.active = false;
            state.suspended = true;
            walk = self.parent(activity);
        }
        self.current = Some(0);
        Ok(Some(SequencingRequest::Exit))
    }

    /// Sequencing Exit Action Rules Subprocess (TB.2.1): the first ancestor
    /// of the current activity, from the root down, whose exit rule fires
    /// ends its attempt and becomes the current activity.
    fn sequencing_exit_action_rules(&mut self) {
        let Some(current) = self.current else { return };
        let Some(parent) = self.parent(current) else {
            return;
        };
        let path = self.tree.path_from_root(parent);
        let exit_target = path
            .into_iter()
            .find(|&activity| self.exit_rule_fires(activity));
        if let Some(target) = exit_target {
            self.terminate_descendent_attempts(target);
            self.end_attempt(target);
            self.current = Some(target);
        }
    }

    /// Sequencing Post Condition Rules Subprocess (TB.2.2).
    fn sequencing_post_condition_rules(
        &self,
    ) -> (Option<PostTermination>, Option<SequencingRequest>) {
        let Some(current) = self.current else {
            return (None, None);
        };
        if self.acts[current].suspended {
            return (None, None);
        }
        match self.post_condition_action(current) {
            None => (None, None),
            Some(PostConditionAction::Retry) => (None, Some(SequencingRequest::Retry)),
            Some(PostConditionAction::Continue) => (None, Some(SequencingRequest::Continue)),
            Some(PostConditionAction::Previous) => (None, Some(SequencingRequest::Previous)),
            Some(PostConditionAction::ExitParent) => (Some(PostTermination::ExitParent), None),
            Some(PostConditionAction::ExitAll) => (Some(PostTermination::ExitAll), None),
            Some(PostConditionAction::RetryAll) => (
                Some(PostTermination::ExitAll),
                Some(SequencingRequest::Retry),
            ),
        }
    }

    /// Terminate Descendent Attempts Process (UP.3): ends the attempts of the
    /// current activity's ancestors below the common ancestor of the current
    /// activity and `activity` (the current activity itself has already
    /// ended).
    pub(crate) fn terminate_descendent_attempts(&mut self, activity: usize) {
        let Some(current) = self.current else { return };
        let common = self.tree.common_ancestor(current, activity);
        let mut walk = self.parent(current).filter(|_| current != common);
        while let Some(ancestor) = walk {
            if ancestor == common {
                break;
            }
            self.end_attempt(ancestor);
            walk = self.parent(ancestor);
        }
    }

    /// End Attempt Process (UP.4): a tracked leaf that is not suspended is
    /// completed and satisfied unless its content set them; a cluster is
    /// suspended when a child is. The activity is no longer active, its
    /// durations are updated, and the tree rolls up. A cluster then draws the
    /// children of its next attempt when its timing says so (after rollup,
    /// so the ending attempt is judged on its own children).
    pub(crate) fn end_attempt(&mut self, activity: usize) {
        let mut reselect = false;
        if self.is_leaf(activity) {
            let node = &self.tree.nodes[activity];
            let controls = node.sequencing.delivery_controls;
            let by_measure = (
                node.completed_by_measure,
                node.objectives[0].satisfied_by_measure,
            );
            if controls.tracked && !self.acts[activity].suspended {
                let state = &self.acts[activity];
                let (completion_reported, success_reported) = (
                    state.completion_set_by_content,
                    state.success_set_by_content,
                );
                if !controls.completion_set_by_content
                    && !by_measure.0
                    && !completion_reported
                    && self.attempt_completed(activity).is_none()
                {
                    self.write_completed(activity, 0, Some(true), false);
                }
                if !controls.objective_set_by_content
                    && !by_measure.1
                    && !success_reported
                    && self.objective_satisfied(activity, 0).is_none()
                {
                    self.write_satisfied(activity, 0, Some(true), false);
                }
            }
        } else {
            let suspended = self.avail[activity]
                .iter()
                .any(|&child| self.acts[child].suspended);
            if self.acts[activity].suspended != suspended {
                self.act_mut(activity).suspended = suspended;
            }
            reselect = !suspended && self.acts[activity].active;
        }
        let now = self.now;
        self.close_attempt_clock(activity, now);
        if self.acts[activity].active {
            self.act_mut(activity).active = false;
        }
        let measured = self.acts[activity].objectives[0].measure.is_some();
        if self.tree.tracked(activity) && measured {
            // Measure satisfaction that did not count while active now does.
            self.write_measure_satisfaction(activity, 0);
        }
        self.overall_rollup(activity);
        if reselect {
            self.reselect_for_new_attempt(activity);
        }
    }

    /// Adds the running time of an attempt to its absolute durations.
    pub(crate) fn close_attempt_clock(
        &mut self,
        activity: usize,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let Some(started) = self.acts[activity].attempt_started_at else {
            return;
        };
        let elapsed = now
            .map(|now| u64::try_from((now - started).num_milliseconds()).unwrap_or(0))
            .unwrap_or(0);
        let state = self.act_mut(activity);
        state.attempt_started_at = None;
        state.attempt_absolute_ms += elapsed;
        state.activity_absolute_ms += elapsed;
    }

    /// Selection and randomization timed `onEachNewAttempt` happen when an
    /// attempt on the cluster ends, so the next attempt flows into the new
    /// order (as ADL's sample RTE does).
    fn reselect_for_new_attempt(&mut self, activity: usize) {
        let controls = self.tree.nodes[activity].sequencing.randomization_controls;
        if controls.selection_timing == RandomizationTiming::OnEachNewAttempt {
            self.select_children(activity);
        }
        if controls.randomization_timing == RandomizationTiming::OnEachNewAttempt {
            self.randomize_children(activity);
        }
    }
}
