//! Rollup: the Overall Rollup Process (RB.1.5) and its parts — Measure Rollup
//! (RB.1.1a), Completion Measure Rollup (RB.1.1b), Objective Rollup (RB.1.2 a
//! using measure, b using rules, c default rules), Activity Progress Rollup
//! (RB.1.3 a using measure, b using rules), the Rollup Rule Check Subprocess
//! (RB.1.4), Evaluate Rollup Conditions (RB.1.4.1) and Check Child for Rollup
//! (RB.1.4.2).

use std::collections::BinaryHeap;
use std::sync::LazyLock;

use super::Engine;
use super::rules::{SKIP, Truth};
use super::state::Value;
use crate::sequencing::definition::{
    ChildActivitySet, ConditionCombination, ConditionOperator, RollupAction, RollupCondition,
    RollupConsideration, RollupRule, RollupRuleCondition,
};

impl Engine {
    /// Overall Rollup Process (RB.1.5): rolls up every activity from
    /// `activity` to the root, deepest first, each once. As in ADL's sample
    /// RTE, the set also holds the ancestors of every activity whose primary
    /// objective reads a global objective that an activity on the path (or
    /// any objective of `activity`) writes, so shared objectives reach their
    /// readers; the set is fixed before rollup starts, so two activities
    /// writing the same global objective cannot feed each other forever.
    pub(crate) fn overall_rollup(&mut self, activity: usize) {
        let mut queue = RollupQueue::new(self.acts.len());
        queue.push_path(self, Some(activity));
        let mut walk = Some(activity);
        while let Some(on_path) = walk {
            self.queue_readers_of_writes(&mut queue, on_path, on_path == activity);
            walk = self.parent(on_path);
        }
        while let Some(next) = queue.pop() {
            self.rollup_activity(next);
        }
    }

    /// Queues the parents of the readers of every global objective written
    /// by `activity`'s primary objective (or by any of its objectives).
    fn queue_readers_of_writes(&self, queue: &mut RollupQueue, activity: usize, all: bool) {
        let objectives = &self.tree.nodes[activity].objectives;
        let count = if all { objectives.len() } else { 1 };
        for objective in &objectives[..count] {
            let writes = &objective.write;
            for &g in writes
                .satisfied
                .iter()
                .chain(&writes.measure)
                .chain(&writes.completion)
                .chain(&writes.progress)
            {
                for &reader in &self.tree.global_readers[g] {
                    queue.push_path(self, self.parent(reader));
                }
            }
        }
    }

    /// Rolls up one cluster: measure, completion measure, objective and
    /// progress rollup, each value written through to its global objectives.
    fn rollup_activity(&mut self, activity: usize) {
        if self.is_leaf(activity) || !self.tree.tracked(activity) {
            return;
        }
        let measure = self.measure_rollup(activity);
        self.write_number(activity, 0, Value::Measure, measure);
        let progress = self.completion_measure_rollup(activity);
        self.write_number(activity, 0, Value::Progress, progress);
        self.objective_rollup(activity);
        self.activity_progress_rollup(activity);
    }

    /// Measure Rollup Process (RB.1.1a): the average of the tracked
    /// children's measures weighted by their `objectiveMeasureWeight`
    /// (unknown measures count as 0); unknown when no child has one.
    fn measure_rollup(&self, activity: usize) -> Option<f64> {
        let mut total = 0.0;
        let mut counted = 0.0;
        let mut valid = false;
        for &child in &self.avail[activity] {
            if !self.tree.tracked(child) {
                continue;
            }
            let weight = self.tree.nodes[child]
                .sequencing
                .rollup_rules
                .objective_measure_weight;
            counted += weight;
            if let Some(measure) = self.objective_value(child, 0, Value::Measure) {
                total += measure * weight;
                valid = true;
            }
        }
        (valid && counted > 0.0).then(|| rounded(total / counted))
    }

    /// Completion Measure Rollup Process (RB.1.1b, 4th edition): the average
    /// of the tracked children's attempt completion amounts weighted by their
    /// `progressWeight`.
    fn completion_measure_rollup(&self, activity: usize) -> Option<f64> {
        let mut total = 0.0;
        let mut counted = 0.0;
        let mut valid = false;
        for &child in &self.avail[activity] {
            if !self.tree.tracked(child) {
                continue;
            }
            let weight = self.tree.nodes[child].progress_weight;
            counted += weight;
            if let Some(amount) = self.attempt_progress(child) {
                total += amount * weight;
                valid = true;
            }
        }
        (valid && counted > 0.0).then(|| rounded(total / counted))
    }

    /// Objective Rollup Process (RB.1.2): using measure when the primary
    /// objective is satisfied by measure (RB.1.2a; the status is derived from
    /// the measure when read), else using rules (RB.1.2b), with the default
    /// rules when the activity has no satisfied or not satisfied rule
    /// (RB.1.2c).
    fn objective_rollup(&mut self, activity: usize) {
        let node = &self.tree.nodes[activity];
        if node.objectives[0].satisfied_by_measure {
            return;
        }
        let rules = &node.sequencing.rollup_rules.rules;
        let has_rules = rules.iter().any(|rule| {
            matches!(
                rule.action,
                RollupAction::Satisfied | RollupAction::NotSatisfied
            )
        });
        let (not_satisfied, satisfied) = if has_rules {
            (
                self.rollup_rule_check(activity, rules, RollupAction::NotSatisfied),
                self.rollup_rule_check(activity, rules, RollupAction::Satisfied),
            )
        } else {
            (
                self.rollup_rule_check(activity, &DEFAULT_RULES[..], RollupAction::NotSatisfied),
                self.rollup_rule_check(activity, &DEFAULT_RULES[..], RollupAction::Satisfied),
            )
        };
        let outcome = if satisfied {
            Some(true)
        } else if not_satisfied {
            Some(false)
        } else {
            None
        };
        if let Some(value) = outcome {
            self.write_satisfied(activity, 0, Some(value), false);
        }
    }

    /// Activity Progress Rollup Process (RB.1.3): using measure when the
    /// activity is completed by measure (RB.1.3a; derived when read), else
    /// using rules (RB.1.3b) with the default rules when there are none.
    fn activity_progress_rollup(&mut self, activity: usize) {
        let node = &self.tree.nodes[activity];
        if node.completed_by_measure {
            return;
        }
        let rules = &node.sequencing.rollup_rules.rules;
        let has_rules = rules.iter().any(|rule| {
            matches!(
                rule.action,
                RollupAction::Completed | RollupAction::Incomplete
            )
        });
        let (incomplete, completed) = if has_rules {
            (
                self.rollup_rule_check(activity, rules, RollupAction::Incomplete),
                self.rollup_rule_check(activity, rules, RollupAction::Completed),
            )
        } else {
            (
                self.rollup_rule_check(activity, &DEFAULT_RULES[..], RollupAction::Incomplete),
                self.rollup_rule_check(activity, &DEFAULT_RULES[..], RollupAction::Completed),
            )
        };
        let outcome = if completed {
            Some(true)
        } else if incomplete {
            Some(false)
        } else {
            None
        };
        if let Some(value) = outcome {
            self.write_completed(activity, 0, Some(value), false);
        }
    }

    /// Rollup Rule Check Subprocess (RB.1.4): whether a rule with `action`
    /// fires for the children of `activity`.
    fn rollup_rule_check(
        &self,
        activity: usize,
        rules: &[RollupRule],
        action: RollupAction,
    ) -> bool {
        rules
            .iter()
            .filter(|rule| rule.action == action)
            .any(|rule| self.rollup_rule_fires(activity, rule))
    }

    fn rollup_rule_fires(&self, activity: usize, rule: &RollupRule) -> bool {
        let mut contributing = 0usize;
        let mut trues = 0usize;
        let mut unknowns = 0usize;
        for &child in &self.avail[activity] {
            if !self.tree.tracked(child) || !self.check_child_for_rollup(child, rule.action) {
                continue;
            }
            contributing += 1;
            match self.evaluate_rollup_conditions(child, rule) {
                Truth::True => trues += 1,
                Truth::Unknown => unknowns += 1,
                Truth::False => {}
            }
        }
        // As in ADL's sample RTE (its conformance test RU-11 depends on it):
        // with no contributing child, `all` and `none` hold; a set whose
        // values are all unknown satisfies no `all`, count or percent rule.
        let all_unknown = unknowns == contributing;
        match rule.child_activity_set {
            ChildActivitySet::All => contributing == 0 || (trues == contributing && !all_unknown),
            ChildActivitySet::Any => trues > 0,
            ChildActivitySet::None => trues == 0 && unknowns == 0,
            ChildActivitySet::AtLeastCount => !all_unknown && trues >= rule.minimum_count as usize,
            ChildActivitySet::AtLeastPercent => {
                !all_unknown && trues as f64 >= rule.minimum_percent * contributing as f64 - 1e-9
            }
        }
    }

    /// Evaluate Rollup Conditions Subprocess (RB.1.4.1).
    fn evaluate_rollup_conditions(&self, child: usize, rule: &RollupRule) -> Truth {
        Truth::combine(
            rule.condition_combination,
            rule.conditions
                .iter()
                .map(|condition| self.rollup_condition(child, condition)),
        )
    }

    fn rollup_condition(&self, child: usize, condition: &RollupCondition) -> Truth {
        let value = match condition.condition {
            RollupRuleCondition::Satisfied => Truth::from_option(self.rollup_satisfied(child)),
            RollupRuleCondition::ObjectiveStatusKnown => {
                Truth::from_bool(self.rollup_satisfied(child).is_some())
            }
            RollupRuleCondition::ObjectiveMeasureKnown => {
                Truth::from_bool(self.rollup_measure(child).is_some())
            }
            RollupRuleCondition::Completed => Truth::from_option(self.rollup_completed(child)),
            RollupRuleCondition::ActivityProgressKnown => {
                Truth::from_bool(self.rollup_completed(child).is_some())
            }
            RollupRuleCondition::Attempted => self.attempted(child),
            RollupRuleCondition::AttemptLimitExceeded => {
                Truth::from_bool(self.attempt_limit_exceeded(child))
            }
            RollupRuleCondition::TimeLimitExceeded => {
                Truth::from_bool(self.time_limit_exceeded(child))
            }
            RollupRuleCondition::OutsideAvailableTimeRange => {
                Truth::from_bool(self.outside_available_time(child))
            }
        };
        match condition.operator {
            ConditionOperator::Not => value.not(),
            ConditionOperator::NoOp => value,
        }
    }

    /// Check Child for Rollup Subprocess (RB.1.4.2): whether `child` takes
    /// part in a rollup with `action`, by its `rollupObjectiveSatisfied` /
    /// `rollupProgressCompletion` and its rollup considerations.
    fn check_child_for_rollup(&self, child: usize, action: RollupAction) -> bool {
        let sequencing = &self.tree.nodes[child].sequencing;
        let considerations = &sequencing.rollup_considerations;
        let (contributes, consideration) = match action {
            RollupAction::Satisfied => (
                sequencing.rollup_rules.rollup_objective_satisfied,
                considerations.required_for_satisfied,
            ),
            RollupAction::NotSatisfied => (
                sequencing.rollup_rules.rollup_objective_satisfied,
                considerations.required_for_not_satisfied,
            ),
            RollupAction::Completed => (
                sequencing.rollup_rules.rollup_progress_completion,
                considerations.required_for_completed,
            ),
            RollupAction::Incomplete => (
                sequencing.rollup_rules.rollup_progress_completion,
                considerations.required_for_incomplete,
            ),
        };
        if !contributes {
            return false;
        }
        let state = &self.acts[child];
        match consideration {
            RollupConsideration::Always => true,
            RollupConsideration::IfAttempted => state.attempt_count > 0,
            RollupConsideration::IfNotSkipped => !self.pre_condition_fires(child, SKIP),
            RollupConsideration::IfNotSuspended => state.attempt_count > 0 && !state.suspended,
        }
    }
}

/// Rounds a rolled-up average to ten decimal places (CMI reals carry seven),
/// so 0.1 + 0.2 style noise neither decides a threshold nor breaks a JSON
/// round trip of the stored state.
fn rounded(value: f64) -> f64 {
    (value * 1e10).round() / 1e10
}

/// Activities waiting for rollup, deepest first, each once.
struct RollupQueue {
    heap: BinaryHeap<(usize, usize)>,
    queued: Vec<bool>,
}

impl RollupQueue {
    fn new(activities: usize) -> RollupQueue {
        RollupQueue {
            heap: BinaryHeap::new(),
            queued: vec![false; activities],
        }
    }

    /// Queues `start` and every ancestor.
    fn push_path(&mut self, engine: &Engine, start: Option<usize>) {
        let mut walk = start;
        while let Some(activity) = walk {
            if !self.queued[activity] {
                self.queued[activity] = true;
                self.heap
                    .push((engine.tree.nodes[activity].depth, activity));
            }
            walk = engine.parent(activity);
        }
    }

    fn pop(&mut self) -> Option<usize> {
        let (_, activity) = self.heap.pop()?;
        self.queued[activity] = false;
        Some(activity)
    }
}

/// The default rollup rules (SN book 4.6.x): not satisfied when every child's
/// status is known, satisfied when every child is satisfied, incomplete when
/// every child's progress is known, completed when every child is completed.
static DEFAULT_RULES: LazyLock<[RollupRule; 4]> = LazyLock::new(|| {
    [
        default_rule(
            RollupRuleCondition::ObjectiveStatusKnown,
            RollupAction::NotSatisfied,
        ),
        default_rule(RollupRuleCondition::Satisfied, RollupAction::Satisfied),
        default_rule(
            RollupRuleCondition::ActivityProgressKnown,
            RollupAction::Incomplete,
        ),
        default_rule(RollupRuleCondition::Completed, RollupAction::Completed),
    ]
});

fn default_rule(condition: RollupRuleCondition, action: RollupAction) -> RollupRule {
    RollupRule {
        child_activity_set: ChildActivitySet::All,
        minimum_count: 0,
        minimum_percent: 0.0,
        condition_combination: ConditionCombination::Any,
        conditions: vec![RollupCondition {
            condition,
            operator: ConditionOperator::NoOp,
        }],
        action,
    }
}
