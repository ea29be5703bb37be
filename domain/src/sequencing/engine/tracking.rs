//! Reading and writing tracking data through objective maps.
//!
//! Reads go through the read maps (SN book 4.2.1.x, objective map
//! information): a satisfied status, measure or score that an objective reads
//! from a global objective is the global's, known or unknown; a completion
//! status or progress measure is the global's when known, else the local one
//! (as ADL's sample RTE does). Writes set the local value and write it —
//! unknown included — to every global objective the objective writes to, each
//! time a value is set (runtime data, End Attempt, rollup). An objective
//! satisfied by measure has no satisfied status of its own: it is derived
//! from the measure when read, and written when the measure is.

use super::Engine;
use super::state::{ObjectiveState, Value};

/// Whose view a read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// The activity's own tracking data (none when it is not tracked).
    Current,
    /// A parent's rollup conditions: local data from an earlier attempt of
    /// the parent does not count.
    Rollup,
    /// A SCO's launch: global objectives are read even for an untracked
    /// activity (as ADL's sample RTE does).
    Launch,
}

impl Engine {
    /// The local data of an objective.
    fn local(&self, activity: usize, objective: usize) -> &ObjectiveState {
        &self.acts[activity].objectives[objective]
    }

    /// Objective Satisfied Status (`None`: Objective Progress Status false).
    pub(crate) fn objective_satisfied(&self, activity: usize, objective: usize) -> Option<bool> {
        self.satisfied_read(activity, objective, Read::Current)
    }

    /// Objective Satisfied Status as a parent's rollup sees it.
    pub(crate) fn rollup_satisfied(&self, activity: usize) -> Option<bool> {
        self.satisfied_read(activity, 0, Read::Rollup)
    }

    pub(crate) fn satisfied_read(
        &self,
        activity: usize,
        objective: usize,
        read: Read,
    ) -> Option<bool> {
        if !self.tree.tracked(activity) && read != Read::Launch {
            return None;
        }
        let node = &self.tree.nodes[activity];
        let definition = &node.objectives[objective];
        if definition.satisfied_by_measure {
            let measure_counts = !self.acts[activity].active
                || node
                    .sequencing
                    .rollup_considerations
                    .measure_satisfaction_if_active;
            if !measure_counts {
                return None;
            }
            return self
                .value_read(activity, objective, Value::Measure, read)
                .map(|measure| measure >= definition.min_normalized_measure);
        }
        if let Some(g) = definition.read.satisfied {
            return self.globals[g].satisfied;
        }
        if read == Read::Rollup && self.acts[activity].stale_objectives {
            return None;
        }
        self.local(activity, objective).satisfied
    }

    /// A numeric value of an objective, read through its read map.
    pub(crate) fn objective_value(
        &self,
        activity: usize,
        objective: usize,
        value: Value,
    ) -> Option<f64> {
        self.value_read(activity, objective, value, Read::Current)
    }

    /// The primary objective's measure as a parent's rollup conditions see it.
    pub(crate) fn rollup_measure(&self, activity: usize) -> Option<f64> {
        self.value_read(activity, 0, Value::Measure, Read::Rollup)
    }

    pub(crate) fn value_read(
        &self,
        activity: usize,
        objective: usize,
        value: Value,
        read: Read,
    ) -> Option<f64> {
        if !self.tree.tracked(activity) && read != Read::Launch {
            return None;
        }
        let maps = &self.tree.nodes[activity].objectives[objective].read;
        let map = match value {
            Value::Measure => maps.measure,
            Value::Raw => maps.raw,
            Value::Min => maps.min,
            Value::Max => maps.max,
            Value::Progress => maps.progress,
        };
        if let Some(g) = map {
            // A mapped score or measure is the global's, known or not; a
            // mapped progress measure only when known (as ADL's sample RTE).
            match self.globals[g].number(value) {
                Some(global) => return Some(global),
                None if value != Value::Progress => return None,
                None => {}
            }
        }
        let state = &self.acts[activity];
        let stale = match value {
            Value::Progress => state.stale_progress,
            _ => state.stale_objectives,
        };
        if read == Read::Rollup && stale {
            return None;
        }
        self.local(activity, objective).number(value)
    }

    /// The completion status of an objective; for the primary objective this
    /// is the activity's Attempt Completion Status, derived from the Attempt
    /// Completion Amount when the activity is completed by measure.
    pub(crate) fn objective_completed(&self, activity: usize, objective: usize) -> Option<bool> {
        self.completed_read(activity, objective, Read::Current)
    }

    pub(crate) fn completed_read(
        &self,
        activity: usize,
        objective: usize,
        read: Read,
    ) -> Option<bool> {
        if !self.tree.tracked(activity) && read != Read::Launch {
            return None;
        }
        let node = &self.tree.nodes[activity];
        // A launch reads the objective's own completion status; completion by
        // measure is the activity's view of it (as in ADL's sample RTE).
        if objective == 0 && node.completed_by_measure && read != Read::Launch {
            return self
                .value_read(activity, 0, Value::Progress, read)
                .map(|amount| amount >= node.min_progress_measure);
        }
        if let Some(g) = node.objectives[objective].read.completion
            && let Some(completed) = self.globals[g].completed
        {
            return Some(completed);
        }
        self.local(activity, objective).completed
    }

    /// Attempt Completion Status as a parent's rollup conditions see it:
    /// unknown when it is from an earlier attempt of the parent.
    pub(crate) fn rollup_completed(&self, activity: usize) -> Option<bool> {
        if self.acts[activity].stale_progress {
            return None;
        }
        self.attempt_completed(activity)
    }

    /// Attempt Completion Status (`None`: Attempt Progress Status false).
    pub(crate) fn attempt_completed(&self, activity: usize) -> Option<bool> {
        self.objective_completed(activity, 0)
    }

    /// Attempt Completion Amount.
    pub(crate) fn attempt_progress(&self, activity: usize) -> Option<f64> {
        self.objective_value(activity, 0, Value::Progress)
    }

    /// The objective a rule condition refers to: the primary objective when
    /// no objective is named; `None` when the name matches no objective.
    pub(crate) fn objective_index(&self, activity: usize, id: Option<&str>) -> Option<usize> {
        match id {
            None => Some(0),
            Some(id) => self.tree.nodes[activity]
                .objectives
                .iter()
                .position(|objective| objective.id.as_deref() == Some(id)),
        }
    }

    /// Sets an objective's satisfied status and writes it to every global
    /// objective it writes to. Unknown is written only when it clears a known
    /// local value, or when `force`d (the content set `unknown` itself), as
    /// in ADL's sample RTE. Untracked activities keep no tracking data.
    pub(crate) fn write_satisfied(
        &mut self,
        activity: usize,
        objective: usize,
        value: Option<bool>,
        force: bool,
    ) {
        if !self.tree.tracked(activity) {
            return;
        }
        let previous = self.acts[activity].objectives[objective].satisfied;
        if previous != value {
            self.act_mut(activity).objectives[objective].satisfied = value;
        }
        if value.is_some() || previous.is_some() || force {
            self.write_satisfied_maps(activity, objective, value);
        }
    }

    fn write_satisfied_maps(&mut self, activity: usize, objective: usize, value: Option<bool>) {
        for position in 0..self.tree.nodes[activity].objectives[objective]
            .write
            .satisfied
            .len()
        {
            let g = self.tree.nodes[activity].objectives[objective]
                .write
                .satisfied[position];
            if self.globals[g].satisfied != value {
                self.global_mut(g).satisfied = value;
            }
        }
    }

    /// Sets an objective's completion status (for the primary objective, the
    /// Attempt Completion Status) and writes it to its global objectives, as
    /// [`Engine::write_satisfied`] does.
    pub(crate) fn write_completed(
        &mut self,
        activity: usize,
        objective: usize,
        value: Option<bool>,
        force: bool,
    ) {
        if !self.tree.tracked(activity) {
            return;
        }
        let previous = self.acts[activity].objectives[objective].completed;
        if previous != value {
            self.act_mut(activity).objectives[objective].completed = value;
        }
        if value.is_some() || previous.is_some() || force {
            self.write_completed_maps(activity, objective, value);
        }
    }

    fn write_completed_maps(&mut self, activity: usize, objective: usize, value: Option<bool>) {
        for position in 0..self.tree.nodes[activity].objectives[objective]
            .write
            .completion
            .len()
        {
            let g = self.tree.nodes[activity].objectives[objective]
                .write
                .completion[position];
            if self.globals[g].completed != value {
                self.global_mut(g).completed = value;
            }
        }
    }

    /// Sets a numeric value and writes it to its global objectives (unknown
    /// only when it clears a known value). A measure also writes the
    /// satisfied status it decides (satisfied by measure); a primary progress
    /// measure the completion it decides (completed by measure).
    pub(crate) fn write_number(
        &mut self,
        activity: usize,
        objective: usize,
        value: Value,
        number: Option<f64>,
    ) {
        if !self.tree.tracked(activity) {
            return;
        }
        let previous = self.acts[activity].objectives[objective].number(value);
        if previous != number {
            *self.act_mut(activity).objectives[objective].number_mut(value) = number;
        }
        if number.is_none() && previous.is_none() {
            return;
        }
        let definition = &self.tree.nodes[activity].objectives[objective];
        let targets = match value {
            Value::Measure => &definition.write.measure,
            Value::Raw => &definition.write.raw,
            Value::Min => &definition.write.min,
            Value::Max => &definition.write.max,
            Value::Progress => &definition.write.progress,
        };
        for position in 0..targets.len() {
            let definition = &self.tree.nodes[activity].objectives[objective];
            let g = match value {
                Value::Measure => definition.write.measure[position],
                Value::Raw => definition.write.raw[position],
                Value::Min => definition.write.min[position],
                Value::Max => definition.write.max[position],
                Value::Progress => definition.write.progress[position],
            };
            if self.globals[g].number(value) != number {
                *self.global_mut(g).number_mut(value) = number;
            }
        }
        match value {
            Value::Measure => self.write_measure_satisfaction(activity, objective),
            Value::Progress if objective == 0 && self.tree.nodes[activity].completed_by_measure => {
                let node = &self.tree.nodes[activity];
                let completed = number.map(|amount| amount >= node.min_progress_measure);
                self.write_completed_maps(activity, 0, completed);
            }
            _ => {}
        }
    }

    /// For an objective satisfied by measure, writes the satisfied status its
    /// local measure decides (unless the activity is active and measure
    /// satisfaction does not count while active).
    pub(crate) fn write_measure_satisfaction(&mut self, activity: usize, objective: usize) {
        let node = &self.tree.nodes[activity];
        let definition = &node.objectives[objective];
        if !definition.satisfied_by_measure {
            return;
        }
        let counts = !self.acts[activity].active
            || node
                .sequencing
                .rollup_considerations
                .measure_satisfaction_if_active;
        if !counts {
            return;
        }
        let satisfied = self.acts[activity].objectives[objective]
            .measure
            .map(|measure| measure >= definition.min_normalized_measure);
        self.write_satisfied_maps(activity, objective, satisfied);
    }
}
