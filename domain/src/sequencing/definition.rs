//! The static sequencing definition of one activity: everything an
//! `imsss:sequencing` element (plus the ADL `adlseq` extensions) can say, with
//! the IMS SS / SCORM 2004 defaults applied where the manifest is silent.
//!
//! These types carry no tracking state; the sequencing engine keeps that
//! separately and reads these definitions. `Default` on each type is the value
//! the spec prescribes when the element is absent.

use serde::{Deserialize, Serialize};

/// The complete sequencing definition of one activity (organization or item).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SequencingDefinition {
    /// `imsss:controlMode`.
    pub control_mode: ControlMode,
    /// `imsss:sequencingRules`.
    pub sequencing_rules: SequencingRules,
    /// `imsss:limitConditions`.
    pub limit_conditions: LimitConditions,
    /// `imsss:auxiliaryResources` (informational only).
    pub auxiliary_resources: Vec<AuxiliaryResource>,
    /// `imsss:rollupRules`.
    pub rollup_rules: RollupRules,
    /// `imsss:objectives`, with the 4th edition `adlseq:objectives` map
    /// information attached to the objective it names.
    pub objectives: Objectives,
    /// `imsss:randomizationControls`.
    pub randomization_controls: RandomizationControls,
    /// `imsss:deliveryControls`.
    pub delivery_controls: DeliveryControls,
    /// `adlseq:constrainedChoiceConsiderations`.
    pub constrained_choice_considerations: ConstrainedChoiceConsiderations,
    /// `adlseq:rollupConsiderations`.
    pub rollup_considerations: RollupConsiderations,
}

/// `imsss:controlMode`: how the learner may move among this activity's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlMode {
    /// Choice requests may target the children (default true).
    pub choice: bool,
    /// Choice may leave this activity's subtree while it is active (default true).
    pub choice_exit: bool,
    /// Continue/Previous are allowed among the children (default false).
    pub flow: bool,
    /// Previous and backward choice among the children are forbidden (default false).
    pub forward_only: bool,
    /// Rollup uses only the children's current-attempt objective data (default true).
    pub use_current_attempt_objective_info: bool,
    /// Rollup uses only the children's current-attempt progress data (default true).
    pub use_current_attempt_progress_info: bool,
}

impl Default for ControlMode {
    fn default() -> Self {
        ControlMode {
            choice: true,
            choice_exit: true,
            flow: false,
            forward_only: false,
            use_current_attempt_objective_info: true,
            use_current_attempt_progress_info: true,
        }
    }
}

/// `imsss:sequencingRules`, split by kind; each list is in manifest order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SequencingRules {
    /// `imsss:preConditionRule`.
    pub pre_condition: Vec<SequencingRule<PreConditionAction>>,
    /// `imsss:exitConditionRule`.
    pub exit_condition: Vec<SequencingRule<ExitConditionAction>>,
    /// `imsss:postConditionRule`.
    pub post_condition: Vec<SequencingRule<PostConditionAction>>,
}

/// One sequencing rule: conditions and the action taken when they hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequencingRule<A> {
    /// `imsss:ruleConditions@conditionCombination` (default `all`).
    pub condition_combination: ConditionCombination,
    /// `imsss:ruleCondition` elements, in manifest order.
    pub conditions: Vec<RuleCondition>,
    /// `imsss:ruleAction@action`.
    pub action: A,
}

/// One `imsss:ruleCondition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCondition {
    /// `@condition` (required).
    pub condition: SequencingRuleCondition,
    /// `@operator` (default `noOp`).
    pub operator: ConditionOperator,
    /// `@referencedObjective`: an objective ID of this activity; `None` means
    /// the primary objective.
    pub referenced_objective: Option<String>,
    /// `@measureThreshold`, −1..1 (default 0).
    pub measure_threshold: f64,
}

vocabulary! {
    /// How a rule's conditions combine.
    pub enum ConditionCombination {
        /// Every condition must be true.
        All => "all",
        /// At least one condition must be true.
        Any => "any",
    }
}

vocabulary! {
    /// A condition's operator.
    pub enum ConditionOperator {
        /// Negate the condition (unknown stays unknown).
        Not => "not",
        /// Use the condition as is.
        NoOp => "noOp",
    }
}

vocabulary! {
    /// Conditions a sequencing rule can test.
    pub enum SequencingRuleCondition {
        /// The objective is satisfied.
        Satisfied => "satisfied",
        /// The objective's status is known.
        ObjectiveStatusKnown => "objectiveStatusKnown",
        /// The objective's measure is known.
        ObjectiveMeasureKnown => "objectiveMeasureKnown",
        /// The objective's measure exceeds the threshold.
        ObjectiveMeasureGreaterThan => "objectiveMeasureGreaterThan",
        /// The objective's measure is below the threshold.
        ObjectiveMeasureLessThan => "objectiveMeasureLessThan",
        /// The attempt is completed.
        Completed => "completed",
        /// The activity's progress is known.
        ActivityProgressKnown => "activityProgressKnown",
        /// The activity has been attempted.
        Attempted => "attempted",
        /// The attempt limit is exceeded.
        AttemptLimitExceeded => "attemptLimitExceeded",
        /// A time limit is exceeded.
        TimeLimitExceeded => "timeLimitExceeded",
        /// The current time is outside the begin/end time limits.
        OutsideAvailableTimeRange => "outsideAvailableTimeRange",
        /// Always true.
        Always => "always",
    }
}

vocabulary! {
    /// Actions of pre-condition rules.
    pub enum PreConditionAction {
        /// Skip the activity during flow.
        Skip => "skip",
        /// The activity cannot be delivered.
        Disabled => "disabled",
        /// The activity cannot be chosen.
        HiddenFromChoice => "hiddenFromChoice",
        /// Forward traversal stops at this activity.
        StopForwardTraversal => "stopForwardTraversal",
    }
}

vocabulary! {
    /// Actions of exit-condition rules.
    pub enum ExitConditionAction {
        /// Exit the activity.
        Exit => "exit",
    }
}

vocabulary! {
    /// Actions of post-condition rules.
    pub enum PostConditionAction {
        /// Exit the parent activity.
        ExitParent => "exitParent",
        /// Exit every activity.
        ExitAll => "exitAll",
        /// Retry this activity.
        Retry => "retry",
        /// Retry from the root.
        RetryAll => "retryAll",
        /// Continue to the next activity.
        Continue => "continue",
        /// Go back to the previous activity.
        Previous => "previous",
    }
}

/// `imsss:limitConditions`. Durations are kept as the `xs:duration` text of the
/// manifest and times as the `xs:dateTime` text; `None` means no limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LimitConditions {
    /// `@attemptLimit`. ADL's sequencer treats an explicit `0` as a limit.
    pub attempt_limit: Option<u32>,
    /// `@attemptAbsoluteDurationLimit`; also initialises `cmi.max_time_allowed`.
    pub attempt_absolute_duration_limit: Option<String>,
    /// `@attemptExperiencedDurationLimit`.
    pub attempt_experienced_duration_limit: Option<String>,
    /// `@activityAbsoluteDurationLimit`.
    pub activity_absolute_duration_limit: Option<String>,
    /// `@activityExperiencedDurationLimit`.
    pub activity_experienced_duration_limit: Option<String>,
    /// `@beginTimeLimit`.
    pub begin_time_limit: Option<String>,
    /// `@endTimeLimit`.
    pub end_time_limit: Option<String>,
}

/// One `imsss:auxiliaryResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuxiliaryResource {
    /// `@auxiliaryResourceID`.
    pub id: String,
    /// `@purpose`.
    pub purpose: String,
}

/// `imsss:rollupRules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollupRules {
    /// `@rollupObjectiveSatisfied` (default true).
    pub rollup_objective_satisfied: bool,
    /// `@rollupProgressCompletion` (default true).
    pub rollup_progress_completion: bool,
    /// `@objectiveMeasureWeight`, 0..1 (default 1).
    pub objective_measure_weight: f64,
    /// `imsss:rollupRule` elements, in manifest order.
    pub rules: Vec<RollupRule>,
}

impl Default for RollupRules {
    fn default() -> Self {
        RollupRules {
            rollup_objective_satisfied: true,
            rollup_progress_completion: true,
            objective_measure_weight: 1.0,
            rules: Vec::new(),
        }
    }
}

/// One `imsss:rollupRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollupRule {
    /// `@childActivitySet` (default `all`).
    pub child_activity_set: ChildActivitySet,
    /// `@minimumCount` (default 0).
    pub minimum_count: u32,
    /// `@minimumPercent`, 0..1 (default 0).
    pub minimum_percent: f64,
    /// `imsss:rollupConditions@conditionCombination` (default `any`).
    pub condition_combination: ConditionCombination,
    /// `imsss:rollupCondition` elements.
    pub conditions: Vec<RollupCondition>,
    /// `imsss:rollupAction@action`.
    pub action: RollupAction,
}

/// One `imsss:rollupCondition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupCondition {
    /// `@condition` (required).
    pub condition: RollupRuleCondition,
    /// `@operator` (default `noOp`).
    pub operator: ConditionOperator,
}

vocabulary! {
    /// Which children a rollup rule looks at.
    pub enum ChildActivitySet {
        /// Every child.
        All => "all",
        /// At least one child.
        Any => "any",
        /// No child.
        None => "none",
        /// At least `minimum_count` children.
        AtLeastCount => "atLeastCount",
        /// At least `minimum_percent` of the children.
        AtLeastPercent => "atLeastPercent",
    }
}

vocabulary! {
    /// Conditions a rollup rule can test on a child.
    pub enum RollupRuleCondition {
        /// The child is satisfied.
        Satisfied => "satisfied",
        /// The child's objective status is known.
        ObjectiveStatusKnown => "objectiveStatusKnown",
        /// The child's objective measure is known.
        ObjectiveMeasureKnown => "objectiveMeasureKnown",
        /// The child is completed.
        Completed => "completed",
        /// The child's progress is known.
        ActivityProgressKnown => "activityProgressKnown",
        /// The child has been attempted.
        Attempted => "attempted",
        /// The child's attempt limit is exceeded.
        AttemptLimitExceeded => "attemptLimitExceeded",
        /// A time limit of the child is exceeded.
        TimeLimitExceeded => "timeLimitExceeded",
        /// The current time is outside the child's available range.
        OutsideAvailableTimeRange => "outsideAvailableTimeRange",
    }
}

vocabulary! {
    /// What a rollup rule sets when it fires.
    pub enum RollupAction {
        /// Objective satisfied.
        Satisfied => "satisfied",
        /// Objective not satisfied.
        NotSatisfied => "notSatisfied",
        /// Attempt completed.
        Completed => "completed",
        /// Attempt incomplete.
        Incomplete => "incomplete",
    }
}

/// `imsss:objectives`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Objectives {
    /// `imsss:primaryObjective`. When the manifest declares none, this is an
    /// objective without ID and with default values: every activity has a
    /// primary objective that contributes to rollup.
    pub primary: ObjectiveDefinition,
    /// Whether the manifest declared the primary objective.
    pub primary_declared: bool,
    /// `imsss:objective` elements, in manifest order.
    pub others: Vec<ObjectiveDefinition>,
}

impl Objectives {
    /// IDs of every objective that has one, primary first: the runtime
    /// pre-creates `cmi.objectives.n.id` for each.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.primary)
            .chain(&self.others)
            .filter_map(|objective| objective.id.clone())
            .collect()
    }
}

/// One objective (`imsss:primaryObjective` or `imsss:objective`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveDefinition {
    /// `@objectiveID`; required for non-primary objectives.
    pub id: Option<String>,
    /// `@satisfiedByMeasure` (default false).
    pub satisfied_by_measure: bool,
    /// `imsss:minNormalizedMeasure`, −1..1 (default 1).
    pub min_normalized_measure: f64,
    /// `imsss:mapInfo` elements.
    pub map_info: Vec<MapInfo>,
    /// `adlseq:objectives/adlseq:objective/adlseq:mapInfo` for this objective
    /// (4th edition).
    pub extended_map_info: Vec<ExtendedMapInfo>,
}

impl Default for ObjectiveDefinition {
    fn default() -> Self {
        ObjectiveDefinition {
            id: None,
            satisfied_by_measure: false,
            min_normalized_measure: 1.0,
            map_info: Vec::new(),
            extended_map_info: Vec::new(),
        }
    }
}

/// `imsss:mapInfo`: how a local objective reads and writes a global objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapInfo {
    /// `@targetObjectiveID` (required).
    pub target_objective_id: String,
    /// `@readSatisfiedStatus` (default true).
    pub read_satisfied_status: bool,
    /// `@readNormalizedMeasure` (default true).
    pub read_normalized_measure: bool,
    /// `@writeSatisfiedStatus` (default false).
    pub write_satisfied_status: bool,
    /// `@writeNormalizedMeasure` (default false).
    pub write_normalized_measure: bool,
}

impl MapInfo {
    /// A map to `target_objective_id` with the default read/write flags.
    pub fn new(target_objective_id: impl Into<String>) -> MapInfo {
        MapInfo {
            target_objective_id: target_objective_id.into(),
            read_satisfied_status: true,
            read_normalized_measure: true,
            write_satisfied_status: false,
            write_normalized_measure: false,
        }
    }
}

/// `adlseq:mapInfo` (4th edition): the extra objective data shared with a
/// global objective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedMapInfo {
    /// `@targetObjectiveID` (required).
    pub target_objective_id: String,
    /// `@readRawScore` (default true).
    pub read_raw_score: bool,
    /// `@readMinScore` (default true).
    pub read_min_score: bool,
    /// `@readMaxScore` (default true).
    pub read_max_score: bool,
    /// `@readCompletionStatus` (default true).
    pub read_completion_status: bool,
    /// `@readProgressMeasure` (default true).
    pub read_progress_measure: bool,
    /// `@writeRawScore` (default false).
    pub write_raw_score: bool,
    /// `@writeMinScore` (default false).
    pub write_min_score: bool,
    /// `@writeMaxScore` (default false).
    pub write_max_score: bool,
    /// `@writeCompletionStatus` (default false).
    pub write_completion_status: bool,
    /// `@writeProgressMeasure` (default false).
    pub write_progress_measure: bool,
}

impl ExtendedMapInfo {
    /// A map to `target_objective_id` with the default read/write flags.
    pub fn new(target_objective_id: impl Into<String>) -> ExtendedMapInfo {
        ExtendedMapInfo {
            target_objective_id: target_objective_id.into(),
            read_raw_score: true,
            read_min_score: true,
            read_max_score: true,
            read_completion_status: true,
            read_progress_measure: true,
            write_raw_score: false,
            write_min_score: false,
            write_max_score: false,
            write_completion_status: false,
            write_progress_measure: false,
        }
    }
}

/// `imsss:randomizationControls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomizationControls {
    /// `@randomizationTiming` (default `never`).
    pub randomization_timing: RandomizationTiming,
    /// `@selectCount`; `None` selects every child.
    pub select_count: Option<u32>,
    /// `@reorderChildren` (default false).
    pub reorder_children: bool,
    /// `@selectionTiming` (default `never`).
    pub selection_timing: RandomizationTiming,
}

impl Default for RandomizationControls {
    fn default() -> Self {
        RandomizationControls {
            randomization_timing: RandomizationTiming::Never,
            select_count: None,
            reorder_children: false,
            selection_timing: RandomizationTiming::Never,
        }
    }
}

vocabulary! {
    /// When selection or randomization happens.
    pub enum RandomizationTiming {
        /// Never.
        Never => "never",
        /// Once, on the first attempt.
        Once => "once",
        /// On each new attempt.
        OnEachNewAttempt => "onEachNewAttempt",
    }
}

/// `imsss:deliveryControls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryControls {
    /// `@tracked` (default true).
    pub tracked: bool,
    /// `@completionSetByContent` (default false).
    pub completion_set_by_content: bool,
    /// `@objectiveSetByContent` (default false).
    pub objective_set_by_content: bool,
}

impl Default for DeliveryControls {
    fn default() -> Self {
        DeliveryControls {
            tracked: true,
            completion_set_by_content: false,
            objective_set_by_content: false,
        }
    }
}

/// `adlseq:constrainedChoiceConsiderations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConstrainedChoiceConsiderations {
    /// `@preventActivation` (default false).
    pub prevent_activation: bool,
    /// `@constrainChoice` (default false).
    pub constrain_choice: bool,
}

/// `adlseq:rollupConsiderations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupConsiderations {
    /// `@requiredForSatisfied` (default `always`).
    pub required_for_satisfied: RollupConsideration,
    /// `@requiredForNotSatisfied` (default `always`).
    pub required_for_not_satisfied: RollupConsideration,
    /// `@requiredForCompleted` (default `always`).
    pub required_for_completed: RollupConsideration,
    /// `@requiredForIncomplete` (default `always`).
    pub required_for_incomplete: RollupConsideration,
    /// `@measureSatisfactionIfActive` (default true).
    pub measure_satisfaction_if_active: bool,
}

impl Default for RollupConsiderations {
    fn default() -> Self {
        RollupConsiderations {
            required_for_satisfied: RollupConsideration::Always,
            required_for_not_satisfied: RollupConsideration::Always,
            required_for_completed: RollupConsideration::Always,
            required_for_incomplete: RollupConsideration::Always,
            measure_satisfaction_if_active: true,
        }
    }
}

vocabulary! {
    /// When a child takes part in a rollup.
    pub enum RollupConsideration {
        /// Always.
        Always => "always",
        /// Only if attempted.
        IfAttempted => "ifAttempted",
        /// Only if not skipped.
        IfNotSkipped => "ifNotSkipped",
        /// Only if not suspended.
        IfNotSuspended => "ifNotSuspended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_tokens_round_trip() {
        for condition in SequencingRuleCondition::ALL {
            assert_eq!(
                SequencingRuleCondition::from_token(condition.as_token()),
                Some(*condition)
            );
        }
        assert_eq!(
            PostConditionAction::from_token(" EXITPARENT "),
            Some(PostConditionAction::ExitParent)
        );
        assert_eq!(RollupAction::from_token("done"), None);
    }

    #[test]
    fn defaults_follow_the_spec_table() {
        let definition = SequencingDefinition::default();
        assert!(definition.control_mode.choice);
        assert!(definition.control_mode.choice_exit);
        assert!(!definition.control_mode.flow);
        assert!(definition.delivery_controls.tracked);
        assert_eq!(definition.rollup_rules.objective_measure_weight, 1.0);
        assert_eq!(definition.objectives.primary.min_normalized_measure, 1.0);
        assert!(definition.objectives.ids().is_empty());
        assert!(
            definition
                .rollup_considerations
                .measure_satisfaction_if_active
        );
    }
}
