//! Delivery: the Delivery Request Process (DB.1.1), the Content Delivery
//! Environment Process (DB.2) with its Clear Suspended Activity Subprocess
//! (DB.2.1), and the Select Children (SR.1) and Randomize Children (SR.2)
//! processes that set each cluster's available children.

use super::random::SplitMix64;
use super::state::ObjectiveState;
use super::{Engine, Entry, Outcome, SequencingException};
use crate::sequencing::definition::RandomizationTiming;

/// Purposes of random draws, so selection and ordering draw independently.
const SELECT: u64 = 1;
const REORDER: u64 = 2;

impl Engine {
    /// Delivery Request Process (DB.1.1): only a leaf can be delivered, and
    /// no activity on its path may be disabled or over a limit (UP.5).
    pub(crate) fn delivery_request(&self, activity: usize) -> Result<(), SequencingException> {
        if !self.is_leaf(activity) {
            return Err(SequencingException::DeliveryNotLeaf);
        }
        let mut walk = Some(activity);
        while let Some(on_path) = walk {
            if self.check_activity(on_path) {
                return Err(SequencingException::DeliveryUnavailable);
            }
            walk = self.parent(on_path);
        }
        Ok(())
    }

    /// Content Delivery Environment Process (DB.2): ends the attempts the
    /// delivery leaves, starts (or resumes) attempts on the path to the
    /// activity and makes it the current activity.
    pub(crate) fn content_delivery(&mut self, activity: usize) -> Outcome {
        if self.acts[activity].active {
            return Outcome::Exception {
                exception: SequencingException::DeliveryAlreadyActive,
            };
        }
        let entry = if self.acts[activity].suspended {
            Entry::Resume
        } else {
            Entry::AbInitio
        };
        if self
            .suspended
            .is_some_and(|suspended| suspended != activity)
        {
            self.clear_suspended_activity(activity);
        }
        self.terminate_descendent_attempts(activity);
        let now = self.now;
        for on_path in self.tree.path_from_root(activity) {
            if self.acts[on_path].active {
                continue;
            }
            if self.tree.tracked(on_path) {
                if self.acts[on_path].suspended {
                    self.act_mut(on_path).suspended = false;
                } else {
                    self.begin_attempt(on_path);
                }
            }
            let state = self.act_mut(on_path);
            state.active = true;
            state.attempt_started_at = now;
        }
        self.current = Some(activity);
        self.suspended = None;
        Outcome::Delivered {
            activity: self.id(activity).to_owned(),
            entry,
            attempt: self.acts[activity].attempt_count,
        }
    }

    /// A new attempt: the attempt count goes up and the attempt's objective
    /// and progress data start unknown (global objectives keep theirs).
    fn begin_attempt(&mut self, activity: usize) {
        let objectives = self.acts[activity].objectives.len();
        let state = self.act_mut(activity);
        state.attempt_count += 1;
        state.objectives = vec![ObjectiveState::default(); objectives];
        state.attempt_absolute_ms = 0;
        state.attempt_experienced_ms = 0;
        state.stale_objectives = false;
        state.stale_progress = false;
        state.completion_set_by_content = false;
        state.success_set_by_content = false;
        let control = self.tree.nodes[activity].sequencing.control_mode;
        for position in 0..self.avail[activity].len() {
            self.mark_stale(
                self.avail[activity][position],
                control.use_current_attempt_objective_info,
                control.use_current_attempt_progress_info,
            );
        }
    }

    /// Marks an activity's data as belonging to an earlier attempt of its
    /// parent, and its descendants' likewise where it uses current-attempt
    /// information itself (as ADL's sample RTE does).
    fn mark_stale(&mut self, activity: usize, objectives: bool, progress: bool) {
        if !objectives && !progress {
            return;
        }
        let state = &self.acts[activity];
        // Only data from an earlier attempt can be stale.
        let attempted = state.attempt_count > 0;
        if attempted
            && ((objectives && !state.stale_objectives) || (progress && !state.stale_progress))
        {
            let state = self.act_mut(activity);
            state.stale_objectives |= objectives;
            state.stale_progress |= progress;
        }
        let control = self.tree.nodes[activity].sequencing.control_mode;
        for position in 0..self.avail[activity].len() {
            self.mark_stale(
                self.avail[activity][position],
                objectives && control.use_current_attempt_objective_info,
                progress && control.use_current_attempt_progress_info,
            );
        }
    }

    /// Clear Suspended Activity Subprocess (DB.2.1): un-suspends the
    /// activities between the suspended activity and its common ancestor with
    /// the activity being delivered, keeping clusters that still hold a
    /// suspended child suspended.
    fn clear_suspended_activity(&mut self, activity: usize) {
        let Some(suspended) = self.suspended else {
            return;
        };
        let common = self.tree.common_ancestor(activity, suspended);
        let mut walk = Some(suspended);
        while let Some(on_path) = walk {
            let keep = !self.is_leaf(on_path)
                && self.avail[on_path]
                    .iter()
                    .any(|&child| self.acts[child].suspended);
            if self.acts[on_path].suspended != keep {
                self.act_mut(on_path).suspended = keep;
            }
            if on_path == common {
                break;
            }
            walk = self.parent(on_path);
        }
        self.suspended = None;
    }

    /// Selects and orders the children of every cluster whose timing asks for
    /// it, once, when the registration begins.
    pub(crate) fn prepare_clusters(&mut self) {
        for activity in 0..self.acts.len() {
            if self.is_leaf(activity) {
                continue;
            }
            let controls = self.tree.nodes[activity].sequencing.randomization_controls;
            if controls.selection_timing != RandomizationTiming::Never
                && !self.acts[activity].selection_done
            {
                self.select_children(activity);
            }
            if controls.randomization_timing != RandomizationTiming::Never
                && !self.acts[activity].randomization_done
            {
                self.randomize_children(activity);
            }
        }
    }

    /// Select Children Process (SR.1): `selectCount` children drawn at
    /// random, kept in manifest order.
    pub(crate) fn select_children(&mut self, activity: usize) {
        let node = &self.tree.nodes[activity];
        let count = node.children.len();
        let Some(select) = node.sequencing.randomization_controls.select_count else {
            self.act_mut(activity).selection_done = true;
            return;
        };
        let select = select as usize;
        let mut positions: Vec<u32> = (0..count as u32).collect();
        if select < count {
            let mut random = SplitMix64::for_activity(
                self.options.seed,
                &node.id,
                self.acts[activity].attempt_count,
                SELECT,
            );
            random.shuffle(&mut positions);
            positions.truncate(select);
            positions.sort_unstable();
        }
        let state = self.act_mut(activity);
        state.available_children = (select < count).then_some(positions);
        state.selection_done = true;
        self.refresh_available(activity);
    }

    /// Randomize Children Process (SR.2): the available children in a random
    /// order, when `reorderChildren` is set.
    pub(crate) fn randomize_children(&mut self, activity: usize) {
        let node = &self.tree.nodes[activity];
        if !node.sequencing.randomization_controls.reorder_children {
            self.act_mut(activity).randomization_done = true;
            return;
        }
        let mut positions = self.acts[activity]
            .available_children
            .clone()
            .unwrap_or_else(|| (0..node.children.len() as u32).collect());
        let mut random = SplitMix64::for_activity(
            self.options.seed,
            &node.id,
            self.acts[activity].attempt_count,
            REORDER,
        );
        random.shuffle(&mut positions);
        let state = self.act_mut(activity);
        state.available_children = Some(positions);
        state.randomization_done = true;
        self.refresh_available(activity);
    }

    /// Recomputes the derived available-children tables of one cluster.
    pub(crate) fn refresh_available(&mut self, activity: usize) {
        let children = &self.tree.nodes[activity].children;
        for &child in children {
            self.avail_pos[child] = None;
        }
        let available: Vec<usize> = match &self.acts[activity].available_children {
            None => children.clone(),
            Some(positions) => positions.iter().map(|&p| children[p as usize]).collect(),
        };
        for (position, &child) in available.iter().enumerate() {
            self.avail_pos[child] = Some(position);
        }
        self.avail[activity] = available;
    }
}
