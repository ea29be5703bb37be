//! Sequencing rules and limits: the Sequencing Rules Check Process (UP.2) and
//! its Sequencing Rule Check Subprocess (UP.2.1), the Limit Conditions Check
//! Process (UP.1) and the Check Activity Process (UP.5).

use super::Engine;
use super::state::Value;
use crate::sequencing::definition::{
    ConditionCombination, ConditionOperator, ExitConditionAction, PostConditionAction,
    PreConditionAction, RuleCondition, SequencingRule, SequencingRuleCondition,
};

/// A three-valued truth (SN book 4.2.6: rule conditions are unknown when the
/// tracking data they test is unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    pub(crate) fn from_option(value: Option<bool>) -> Truth {
        match value {
            Some(true) => Truth::True,
            Some(false) => Truth::False,
            None => Truth::Unknown,
        }
    }

    pub(crate) fn from_bool(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }

    /// The `not` operator: unknown stays unknown.
    pub(crate) fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }

    /// Combines condition values with `all` (and) or `any` (or).
    pub(crate) fn combine(
        combination: ConditionCombination,
        values: impl Iterator<Item = Truth>,
    ) -> Truth {
        let mut unknown = false;
        match combination {
            ConditionCombination::All => {
                for value in values {
                    match value {
                        Truth::False => return Truth::False,
                        Truth::Unknown => unknown = true,
                        Truth::True => {}
                    }
                }
                if unknown { Truth::Unknown } else { Truth::True }
            }
            ConditionCombination::Any => {
                for value in values {
                    match value {
                        Truth::True => return Truth::True,
                        Truth::Unknown => unknown = true,
                        Truth::False => {}
                    }
                }
                if unknown {
                    Truth::Unknown
                } else {
                    Truth::False
                }
            }
        }
    }
}

/// Which pre-condition actions a check looks for.
pub(crate) type PreActions = &'static [PreConditionAction];

pub(crate) const SKIP: PreActions = &[PreConditionAction::Skip];
pub(crate) const DISABLED: PreActions = &[PreConditionAction::Disabled];
pub(crate) const HIDDEN: PreActions = &[PreConditionAction::HiddenFromChoice];
pub(crate) const STOP_FORWARD: PreActions = &[PreConditionAction::StopForwardTraversal];

impl Engine {
    /// Sequencing Rules Check Process (UP.2) over the pre-condition rules
    /// whose action is in `actions`: whether one of them fires.
    pub(crate) fn pre_condition_fires(&self, activity: usize, actions: PreActions) -> bool {
        let rules = &self.tree.nodes[activity]
            .sequencing
            .sequencing_rules
            .pre_condition;
        rules
            .iter()
            .filter(|rule| actions.contains(&rule.action))
            .any(|rule| self.rule_check(activity, rule) == Truth::True)
    }

    /// Sequencing Rules Check Process (UP.2) over the exit condition rules.
    pub(crate) fn exit_rule_fires(&self, activity: usize) -> bool {
        self.tree.nodes[activity]
            .sequencing
            .sequencing_rules
            .exit_condition
            .iter()
            .filter(|rule| rule.action == ExitConditionAction::Exit)
            .any(|rule| self.rule_check(activity, rule) == Truth::True)
    }

    /// Sequencing Rules Check Process (UP.2) over the post-condition rules:
    /// the action of the first rule that fires.
    pub(crate) fn post_condition_action(&self, activity: usize) -> Option<PostConditionAction> {
        self.tree.nodes[activity]
            .sequencing
            .sequencing_rules
            .post_condition
            .iter()
            .find(|rule| self.rule_check(activity, rule) == Truth::True)
            .map(|rule| rule.action)
    }

    /// Sequencing Rule Check Subprocess (UP.2.1): the rule's conditions
    /// combined by its condition combination.
    fn rule_check<A>(&self, activity: usize, rule: &SequencingRule<A>) -> Truth {
        Truth::combine(
            rule.condition_combination,
            rule.conditions
                .iter()
                .map(|condition| self.rule_condition(activity, condition)),
        )
    }

    fn rule_condition(&self, activity: usize, condition: &RuleCondition) -> Truth {
        let objective = self.objective_index(activity, condition.referenced_objective.as_deref());
        let value = match condition.condition {
            SequencingRuleCondition::Always => Truth::True,
            SequencingRuleCondition::Satisfied => {
                Truth::from_option(objective.and_then(|o| self.objective_satisfied(activity, o)))
            }
            SequencingRuleCondition::ObjectiveStatusKnown => Truth::from_bool(
                objective.is_some_and(|o| self.objective_satisfied(activity, o).is_some()),
            ),
            SequencingRuleCondition::ObjectiveMeasureKnown => Truth::from_bool(
                objective
                    .is_some_and(|o| self.objective_value(activity, o, Value::Measure).is_some()),
            ),
            SequencingRuleCondition::ObjectiveMeasureGreaterThan => Truth::from_option(
                objective
                    .and_then(|o| self.objective_value(activity, o, Value::Measure))
                    .map(|measure| measure > condition.measure_threshold),
            ),
            SequencingRuleCondition::ObjectiveMeasureLessThan => Truth::from_option(
                objective
                    .and_then(|o| self.objective_value(activity, o, Value::Measure))
                    .map(|measure| measure < condition.measure_threshold),
            ),
            SequencingRuleCondition::Completed => {
                Truth::from_option(objective.and_then(|o| self.objective_completed(activity, o)))
            }
            SequencingRuleCondition::ActivityProgressKnown => Truth::from_bool(
                objective.is_some_and(|o| self.objective_completed(activity, o).is_some()),
            ),
            SequencingRuleCondition::Attempted => self.attempted(activity),
            SequencingRuleCondition::AttemptLimitExceeded => {
                Truth::from_bool(self.attempt_limit_exceeded(activity))
            }
            SequencingRuleCondition::TimeLimitExceeded => {
                Truth::from_bool(self.time_limit_exceeded(activity))
            }
            SequencingRuleCondition::OutsideAvailableTimeRange => {
                Truth::from_bool(self.outside_available_time(activity))
            }
        };
        match condition.operator {
            ConditionOperator::Not => value.not(),
            ConditionOperator::NoOp => value,
        }
    }

    /// The `attempted` condition: Activity Progress Status with an attempt.
    pub(crate) fn attempted(&self, activity: usize) -> Truth {
        Truth::from_bool(self.acts[activity].attempt_count > 0)
    }

    /// The attempt limit, honouring [`EngineOptions::attempt_limit_zero_is_unlimited`](super::EngineOptions).
    fn attempt_limit(&self, activity: usize) -> Option<u32> {
        let limit = self.tree.nodes[activity].limits.attempt_limit?;
        if limit == 0 && self.options.attempt_limit_zero_is_unlimited {
            return None;
        }
        Some(limit)
    }

    pub(crate) fn attempt_limit_exceeded(&self, activity: usize) -> bool {
        self.attempt_limit(activity)
            .is_some_and(|limit| self.acts[activity].attempt_count >= limit)
    }

    /// Whether an attempt or activity duration limit is reached.
    pub(crate) fn time_limit_exceeded(&self, activity: usize) -> bool {
        let limits = &self.tree.nodes[activity].limits;
        let state = &self.acts[activity];
        let running = match (state.attempt_started_at, self.now) {
            (Some(started), Some(now)) if state.active => {
                u64::try_from((now - started).num_milliseconds()).unwrap_or(0)
            }
            _ => 0,
        };
        let reached = |limit: Option<u64>, used: u64| limit.is_some_and(|limit| used >= limit);
        reached(
            limits.attempt_absolute_ms,
            state.attempt_absolute_ms + running,
        ) || reached(limits.attempt_experienced_ms, state.attempt_experienced_ms)
            || reached(
                limits.activity_absolute_ms,
                state.activity_absolute_ms + running,
            )
            || reached(
                limits.activity_experienced_ms,
                state.activity_experienced_ms,
            )
    }

    /// Whether now is before `beginTimeLimit` or after `endTimeLimit`.
    pub(crate) fn outside_available_time(&self, activity: usize) -> bool {
        let limits = &self.tree.nodes[activity].limits;
        let Some(now) = self.now else { return false };
        limits.begin.is_some_and(|begin| now < begin) || limits.end.is_some_and(|end| now > end)
    }

    /// Limit Conditions Check Process (UP.1): whether a limit forbids a new
    /// attempt. Active and suspended activities are never over a limit. The
    /// attempt limit, the activity duration limits and the begin and end
    /// times are enforced; attempt duration limits govern a running attempt
    /// (`cmi.max_time_allowed`), not the next one.
    pub(crate) fn limit_conditions_violated(&self, activity: usize) -> bool {
        if !self.tree.tracked(activity) {
            return false;
        }
        let state = &self.acts[activity];
        if state.active || state.suspended {
            return false;
        }
        let limits = &self.tree.nodes[activity].limits;
        self.attempt_limit_exceeded(activity)
            || limits
                .activity_absolute_ms
                .is_some_and(|limit| state.activity_absolute_ms >= limit)
            || limits
                .activity_experienced_ms
                .is_some_and(|limit| state.activity_experienced_ms >= limit)
            || self.outside_available_time(activity)
    }

    /// Check Activity Process (UP.5): whether the activity is disabled by a
    /// rule or over a limit.
    pub(crate) fn check_activity(&self, activity: usize) -> bool {
        self.pre_condition_fires(activity, DISABLED) || self.limit_conditions_violated(activity)
    }
}
