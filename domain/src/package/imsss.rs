//! Reading `imsss:sequencing` (and the `adlseq` extensions) into
//! [`SequencingDefinition`]s, with the spec defaults applied.
//!
//! A local `imsss:sequencing@IDRef` is merged with the referenced definition
//! of `imsss:sequencingCollection` before it is read, element by element, as
//! ADL's sample RTE does (`ADLSeqUtilities.bulidActivityNode`): a child
//! element of the referenced definition is used only when the local
//! definition has no element of the same name; a local element replaces the
//! referenced one whole, attributes and children. ADL's conformance packages
//! CM-03b, CM-04a (an empty local `<controlMode/>` brings back every default)
//! and RU-01ab depend on exactly this.

use std::sync::LazyLock;

use regex::Regex;

use super::finding::FindingCode;
use super::xml::Element;
use super::{Context, parse_bool, parse_decimal};
use crate::sequencing::definition::{
    AuxiliaryResource, ChildActivitySet, ConditionCombination, ConditionOperator,
    ConstrainedChoiceConsiderations, ControlMode, DeliveryControls, ExitConditionAction,
    ExtendedMapInfo, LimitConditions, MapInfo, ObjectiveDefinition, Objectives,
    PostConditionAction, PreConditionAction, RandomizationControls, RandomizationTiming,
    RollupAction, RollupCondition, RollupConsideration, RollupConsiderations, RollupRule,
    RollupRuleCondition, RollupRules, RuleCondition, SequencingDefinition, SequencingRule,
    SequencingRuleCondition, SequencingRules,
};

pub(crate) const IMSSS: &str = "http://www.imsglobal.org/xsd/imsss";
pub(crate) const ADLSEQ: &str = "http://www.adlnet.org/xsd/adlseq_v1p3";

#[derive(Debug, Clone, PartialEq)]
struct AdlObjective {
    objective_id: String,
    map_info: Vec<ExtendedMapInfo>,
    path: String,
    line: u32,
    column: u32,
}

/// Merges a local `imsss:sequencing` element over the referenced one,
/// element by element (see the module docs).
pub(crate) fn merge(reference: &Element, local: &Element) -> Element {
    let mut merged = local.clone();
    let local_keys: Vec<String> = local.children.iter().map(merge_key).collect();
    merged.children = reference
        .children
        .iter()
        .filter(|child| !local_keys.contains(&merge_key(child)))
        .cloned()
        .chain(local.children.iter().cloned())
        .collect();
    merged
}

fn merge_key(element: &Element) -> String {
    let local = element.local.to_ascii_lowercase();
    if local == "objectives" && is_adlseq(element) {
        "adlseq:objectives".to_owned()
    } else {
        local
    }
}

/// Attaches `adlseq:objectives` map info to the objective it names.
fn attach_adl_objectives(
    ctx: &mut Context<'_>,
    objectives: &mut Objectives,
    adl: Vec<AdlObjective>,
) {
    for adl in adl {
        let target = std::iter::once(&mut objectives.primary)
            .chain(objectives.others.iter_mut())
            .find(|objective| objective.id.as_deref() == Some(adl.objective_id.as_str()));
        match target {
            Some(objective) => objective.extended_map_info.extend(adl.map_info),
            None => {
                let location = super::Location {
                    file: Some(ctx.manifest_name()),
                    line: Some(adl.line),
                    column: Some(adl.column),
                    path: Some(adl.path.clone()),
                };
                ctx.push(
                    FindingCode::DanglingObjectiveRef,
                    format!(
                        "adlseq:objective {:?} names no objective of this activity",
                        adl.objective_id
                    ),
                    location,
                );
            }
        }
    }
}

/// Reads attributes and reports invalid values against one element path.
struct Attrs<'c, 'a, 'e> {
    ctx: &'c mut Context<'a>,
    element: &'e Element,
    path: String,
}

impl Attrs<'_, '_, '_> {
    fn invalid(&mut self, name: &str, value: &str, expected: &str) {
        let location = self.ctx.at(self.element, &self.path);
        self.ctx.push(
            FindingCode::InvalidValue,
            format!(
                "{name}={value:?} on <{}> is not {expected}; the default is used",
                self.element.local
            ),
            location,
        );
    }

    fn bool(&mut self, name: &str, default: bool) -> bool {
        match self.element.attr(name) {
            None => default,
            Some(value) => parse_bool(value).unwrap_or_else(|| {
                self.invalid(name, value, "a boolean");
                default
            }),
        }
    }

    fn decimal(&mut self, name: &str, default: f64, min: f64, max: f64) -> f64 {
        match self.element.attr(name) {
            None => default,
            Some(value) => match parse_decimal(value) {
                Some(number) if (min..=max).contains(&number) => number,
                _ => {
                    self.invalid(name, value, &format!("a decimal in {min}..{max}"));
                    default
                }
            },
        }
    }

    fn count(&mut self, name: &str) -> Option<u32> {
        let value = self.element.attr(name)?;
        match value.trim().parse::<u32>() {
            Ok(number) => Some(number),
            Err(_) => {
                self.invalid(name, value, "a non-negative integer");
                None
            }
        }
    }

    fn token<T: Copy>(&mut self, name: &str, parse: fn(&str) -> Option<T>, default: T) -> T {
        match self.element.attr(name) {
            None => default,
            Some(value) => parse(value).unwrap_or_else(|| {
                self.invalid(name, value, "a known value");
                default
            }),
        }
    }

    fn duration(&mut self, name: &str) -> Option<String> {
        let value = self.element.attr(name)?.trim();
        if is_duration(value) {
            Some(value.to_owned())
        } else {
            let value = value.to_owned();
            self.invalid(name, &value, "an xs:duration");
            None
        }
    }

    fn date_time(&mut self, name: &str) -> Option<String> {
        let value = self.element.attr(name)?.trim().to_owned();
        let valid = chrono::DateTime::parse_from_rfc3339(&value).is_ok()
            || chrono::NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f").is_ok();
        if valid {
            Some(value)
        } else {
            self.invalid(name, &value, "an xs:dateTime");
            None
        }
    }
}

/// Whether `value` is an `xs:duration` such as `PT1H30M` or `P1DT0.5S`.
pub(crate) fn is_duration(value: &str) -> bool {
    static DURATION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^-?P(\d+Y)?(\d+M)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
            .expect("a valid regex")
    });
    DURATION.is_match(value) && value != "P" && value != "-P" && !value.ends_with('T')
}

fn attrs<'c, 'a, 'e>(
    ctx: &'c mut Context<'a>,
    element: &'e Element,
    path: &str,
) -> Attrs<'c, 'a, 'e> {
    Attrs {
        ctx,
        element,
        path: path.to_owned(),
    }
}

fn is_adlseq(element: &Element) -> bool {
    element.in_vocabulary(ADLSEQ, "adlseq")
}

/// Reads one (already merged) `imsss:sequencing` element, applying defaults.
pub(crate) fn read(
    ctx: &mut Context<'_>,
    sequencing: &Element,
    path: &str,
) -> SequencingDefinition {
    let mut definition = SequencingDefinition::default();
    let mut adl_objectives = Vec::new();
    for child in &sequencing.children {
        let child_path = if is_adlseq(child) {
            format!("{path}/adlseq:{}", child.local)
        } else {
            format!("{path}/{}", child.local)
        };
        let local = child.local.to_ascii_lowercase();
        match local.as_str() {
            "controlmode" => {
                let mut a = attrs(ctx, child, &child_path);
                definition.control_mode = ControlMode {
                    choice: a.bool("choice", true),
                    choice_exit: a.bool("choiceExit", true),
                    flow: a.bool("flow", false),
                    forward_only: a.bool("forwardOnly", false),
                    use_current_attempt_objective_info: a
                        .bool("useCurrentAttemptObjectiveInfo", true),
                    use_current_attempt_progress_info: a
                        .bool("useCurrentAttemptProgressInfo", true),
                };
            }
            "sequencingrules" => {
                definition.sequencing_rules = sequencing_rules(ctx, child, &child_path);
            }
            "limitconditions" => {
                let mut a = attrs(ctx, child, &child_path);
                definition.limit_conditions = LimitConditions {
                    attempt_limit: a.count("attemptLimit"),
                    attempt_absolute_duration_limit: a.duration("attemptAbsoluteDurationLimit"),
                    attempt_experienced_duration_limit: a
                        .duration("attemptExperiencedDurationLimit"),
                    activity_absolute_duration_limit: a.duration("activityAbsoluteDurationLimit"),
                    activity_experienced_duration_limit: a
                        .duration("activityExperiencedDurationLimit"),
                    begin_time_limit: a.date_time("beginTimeLimit"),
                    end_time_limit: a.date_time("endTimeLimit"),
                };
            }
            "auxiliaryresources" => {
                let resources = child
                    .children_named("auxiliaryResource")
                    .filter_map(|resource| {
                        Some(AuxiliaryResource {
                            id: resource.attr("auxiliaryResourceID")?.trim().to_owned(),
                            purpose: resource.attr("purpose").unwrap_or("").trim().to_owned(),
                        })
                    })
                    .collect();
                definition.auxiliary_resources = resources;
            }
            "rolluprules" => definition.rollup_rules = rollup_rules(ctx, child, &child_path),
            "objectives" if is_adlseq(child) => {
                adl_objectives = read_adl_objectives(ctx, child, &child_path);
            }
            "objectives" => definition.objectives = objectives(ctx, child, &child_path),
            "randomizationcontrols" => {
                let mut a = attrs(ctx, child, &child_path);
                definition.randomization_controls = RandomizationControls {
                    randomization_timing: a.token(
                        "randomizationTiming",
                        RandomizationTiming::from_token,
                        RandomizationTiming::Never,
                    ),
                    select_count: a.count("selectCount"),
                    reorder_children: a.bool("reorderChildren", false),
                    selection_timing: a.token(
                        "selectionTiming",
                        RandomizationTiming::from_token,
                        RandomizationTiming::Never,
                    ),
                };
            }
            "deliverycontrols" => {
                let mut a = attrs(ctx, child, &child_path);
                definition.delivery_controls = DeliveryControls {
                    tracked: a.bool("tracked", true),
                    completion_set_by_content: a.bool("completionSetByContent", false),
                    objective_set_by_content: a.bool("objectiveSetByContent", false),
                };
            }
            "constrainedchoiceconsiderations" => {
                let mut a = attrs(ctx, child, &child_path);
                definition.constrained_choice_considerations = ConstrainedChoiceConsiderations {
                    prevent_activation: a.bool("preventActivation", false),
                    constrain_choice: a.bool("constrainChoice", false),
                };
            }
            "rollupconsiderations" => {
                let mut a = attrs(ctx, child, &child_path);
                let always = RollupConsideration::Always;
                let parse = RollupConsideration::from_token;
                definition.rollup_considerations = RollupConsiderations {
                    required_for_satisfied: a.token("requiredForSatisfied", parse, always),
                    required_for_not_satisfied: a.token("requiredForNotSatisfied", parse, always),
                    required_for_completed: a.token("requiredForCompleted", parse, always),
                    required_for_incomplete: a.token("requiredForIncomplete", parse, always),
                    measure_satisfaction_if_active: a.bool("measureSatisfactionIfActive", true),
                };
            }
            _ => {}
        }
    }
    attach_adl_objectives(ctx, &mut definition.objectives, adl_objectives);
    definition
}

fn sequencing_rules(ctx: &mut Context<'_>, element: &Element, path: &str) -> SequencingRules {
    let mut rules = SequencingRules::default();
    for (index, rule) in element.children.iter().enumerate() {
        let rule_path = format!("{path}/{}[{}]", rule.local, index + 1);
        let local = rule.local.to_ascii_lowercase();
        match local.as_str() {
            "preconditionrule" => {
                if let Some(rule) =
                    sequencing_rule(ctx, rule, &rule_path, PreConditionAction::from_token)
                {
                    rules.pre_condition.push(rule);
                }
            }
            "exitconditionrule" => {
                if let Some(rule) =
                    sequencing_rule(ctx, rule, &rule_path, ExitConditionAction::from_token)
                {
                    rules.exit_condition.push(rule);
                }
            }
            "postconditionrule" => {
                if let Some(rule) =
                    sequencing_rule(ctx, rule, &rule_path, PostConditionAction::from_token)
                {
                    rules.post_condition.push(rule);
                }
            }
            _ => {}
        }
    }
    rules
}

fn skip_rule(ctx: &mut Context<'_>, element: &Element, path: &str, why: &str) {
    let location = ctx.at(element, path);
    ctx.push(
        FindingCode::InvalidValue,
        format!("<{}> ignored: {why}", element.local),
        location,
    );
}

fn sequencing_rule<A>(
    ctx: &mut Context<'_>,
    rule: &Element,
    path: &str,
    parse_action: fn(&str) -> Option<A>,
) -> Option<SequencingRule<A>> {
    let action_text = rule
        .child("ruleAction")
        .and_then(|action| action.attr("action"));
    let Some(action) = action_text.and_then(parse_action) else {
        let why = match action_text {
            Some(text) => format!("action {text:?} is not valid for this rule"),
            None => "no ruleAction".to_owned(),
        };
        skip_rule(ctx, rule, path, &why);
        return None;
    };
    let conditions_element = rule.child("ruleConditions");
    let mut condition_combination = ConditionCombination::All;
    let mut conditions = Vec::new();
    if let Some(element) = conditions_element {
        let conditions_path = format!("{path}/{}", element.local);
        condition_combination = attrs(ctx, element, &conditions_path).token(
            "conditionCombination",
            ConditionCombination::from_token,
            ConditionCombination::All,
        );
        for (index, condition) in element.children_named("ruleCondition").enumerate() {
            let condition_path = format!("{conditions_path}/{}[{}]", condition.local, index + 1);
            let Some(kind) = condition
                .attr("condition")
                .and_then(SequencingRuleCondition::from_token)
            else {
                skip_rule(
                    ctx,
                    condition,
                    &condition_path,
                    "unknown or missing condition",
                );
                continue;
            };
            let mut a = attrs(ctx, condition, &condition_path);
            conditions.push(RuleCondition {
                condition: kind,
                operator: a.token(
                    "operator",
                    ConditionOperator::from_token,
                    ConditionOperator::NoOp,
                ),
                referenced_objective: condition
                    .attr("referencedObjective")
                    .map(str::trim)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned),
                measure_threshold: a.decimal("measureThreshold", 0.0, -1.0, 1.0),
            });
        }
    }
    if conditions.is_empty() {
        skip_rule(ctx, rule, path, "no valid rule condition");
        return None;
    }
    Some(SequencingRule {
        condition_combination,
        conditions,
        action,
    })
}

fn rollup_rules(ctx: &mut Context<'_>, element: &Element, path: &str) -> RollupRules {
    let mut a = attrs(ctx, element, path);
    let mut rules = RollupRules {
        rollup_objective_satisfied: a.bool("rollupObjectiveSatisfied", true),
        rollup_progress_completion: a.bool("rollupProgressCompletion", true),
        objective_measure_weight: a.decimal("objectiveMeasureWeight", 1.0, 0.0, 1.0),
        rules: Vec::new(),
    };
    for (index, rule) in element.children_named("rollupRule").enumerate() {
        let rule_path = format!("{path}/{}[{}]", rule.local, index + 1);
        let action_text = rule
            .child("rollupAction")
            .and_then(|action| action.attr("action"));
        let Some(action) = action_text.and_then(RollupAction::from_token) else {
            skip_rule(ctx, rule, &rule_path, "unknown or missing rollup action");
            continue;
        };
        let mut a = attrs(ctx, rule, &rule_path);
        let child_activity_set = a.token(
            "childActivitySet",
            ChildActivitySet::from_token,
            ChildActivitySet::All,
        );
        let minimum_count = a.count("minimumCount").unwrap_or(0);
        let minimum_percent = a.decimal("minimumPercent", 0.0, 0.0, 1.0);
        let mut condition_combination = ConditionCombination::Any;
        let mut conditions = Vec::new();
        if let Some(element) = rule.child("rollupConditions") {
            let conditions_path = format!("{rule_path}/{}", element.local);
            condition_combination = attrs(ctx, element, &conditions_path).token(
                "conditionCombination",
                ConditionCombination::from_token,
                ConditionCombination::Any,
            );
            for (index, condition) in element.children_named("rollupCondition").enumerate() {
                let condition_path =
                    format!("{conditions_path}/{}[{}]", condition.local, index + 1);
                let Some(kind) = condition
                    .attr("condition")
                    .and_then(RollupRuleCondition::from_token)
                else {
                    skip_rule(
                        ctx,
                        condition,
                        &condition_path,
                        "unknown or missing condition",
                    );
                    continue;
                };
                let operator = attrs(ctx, condition, &condition_path).token(
                    "operator",
                    ConditionOperator::from_token,
                    ConditionOperator::NoOp,
                );
                conditions.push(RollupCondition {
                    condition: kind,
                    operator,
                });
            }
        }
        if conditions.is_empty() {
            skip_rule(ctx, rule, &rule_path, "no valid rollup condition");
            continue;
        }
        rules.rules.push(RollupRule {
            child_activity_set,
            minimum_count,
            minimum_percent,
            condition_combination,
            conditions,
            action,
        });
    }
    rules
}

fn objectives(ctx: &mut Context<'_>, element: &Element, path: &str) -> Objectives {
    let mut objectives = Objectives::default();
    let mut index = 0;
    for child in &element.children {
        if child.is("primaryObjective") {
            let child_path = format!("{path}/{}", child.local);
            objectives.primary = objective(ctx, child, &child_path);
            objectives.primary_declared = true;
        } else if child.is("objective") {
            index += 1;
            let child_path = format!("{path}/{}[{index}]", child.local);
            let objective = objective(ctx, child, &child_path);
            if objective.id.is_none() {
                let location = ctx.at(child, &child_path);
                ctx.push(
                    FindingCode::InvalidValue,
                    "objective without objectiveID ignored",
                    location,
                );
                continue;
            }
            objectives.others.push(objective);
        }
    }
    objectives
}

fn objective(ctx: &mut Context<'_>, element: &Element, path: &str) -> ObjectiveDefinition {
    let mut a = attrs(ctx, element, path);
    let satisfied_by_measure = a.bool("satisfiedByMeasure", false);
    let id = element
        .attr("objectiveID")
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let min_normalized_measure = match element.child("minNormalizedMeasure") {
        None => 1.0,
        Some(measure) => match parse_decimal(measure.trimmed_text()) {
            Some(value) if (-1.0..=1.0).contains(&value) => value,
            _ => {
                let measure_path = format!("{path}/{}", measure.local);
                let location = ctx.at(measure, &measure_path);
                ctx.push(
                    FindingCode::InvalidValue,
                    format!(
                        "minNormalizedMeasure {:?} is not a decimal in -1..1; 1.0 is used",
                        measure.trimmed_text()
                    ),
                    location,
                );
                1.0
            }
        },
    };
    let mut map_info = Vec::new();
    for (index, map) in element.children_named("mapInfo").enumerate() {
        let map_path = format!("{path}/{}[{}]", map.local, index + 1);
        let Some(target) = map
            .attr("targetObjectiveID")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            skip_rule(ctx, map, &map_path, "no targetObjectiveID");
            continue;
        };
        let mut a = attrs(ctx, map, &map_path);
        map_info.push(MapInfo {
            target_objective_id: target.to_owned(),
            read_satisfied_status: a.bool("readSatisfiedStatus", true),
            read_normalized_measure: a.bool("readNormalizedMeasure", true),
            write_satisfied_status: a.bool("writeSatisfiedStatus", false),
            write_normalized_measure: a.bool("writeNormalizedMeasure", false),
        });
    }
    ObjectiveDefinition {
        id,
        satisfied_by_measure,
        min_normalized_measure,
        map_info,
        extended_map_info: Vec::new(),
    }
}

fn read_adl_objectives(ctx: &mut Context<'_>, element: &Element, path: &str) -> Vec<AdlObjective> {
    let mut out = Vec::new();
    for (index, objective) in element.children_named("objective").enumerate() {
        let objective_path = format!("{path}/{}[{}]", objective.local, index + 1);
        let Some(objective_id) = objective
            .attr("objectiveID")
            .map(str::trim)
            .filter(|id| !id.is_empty())
        else {
            skip_rule(ctx, objective, &objective_path, "no objectiveID");
            continue;
        };
        let mut map_info = Vec::new();
        for (index, map) in objective.children_named("mapInfo").enumerate() {
            let map_path = format!("{objective_path}/{}[{}]", map.local, index + 1);
            let Some(target) = map
                .attr("targetObjectiveID")
                .map(str::trim)
                .filter(|t| !t.is_empty())
            else {
                skip_rule(ctx, map, &map_path, "no targetObjectiveID");
                continue;
            };
            let mut a = attrs(ctx, map, &map_path);
            map_info.push(ExtendedMapInfo {
                target_objective_id: target.to_owned(),
                read_raw_score: a.bool("readRawScore", true),
                read_min_score: a.bool("readMinScore", true),
                read_max_score: a.bool("readMaxScore", true),
                read_completion_status: a.bool("readCompletionStatus", true),
                read_progress_measure: a.bool("readProgressMeasure", true),
                write_raw_score: a.bool("writeRawScore", false),
                write_min_score: a.bool("writeMinScore", false),
                write_max_score: a.bool("writeMaxScore", false),
                write_completion_status: a.bool("writeCompletionStatus", false),
                write_progress_measure: a.bool("writeProgressMeasure", false),
            });
        }
        out.push(AdlObjective {
            objective_id: objective_id.to_owned(),
            map_info,
            path: objective_path,
            line: objective.line,
            column: objective.column,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_duration, merge};
    use crate::package::xml;

    fn merged(reference: &str, local: &str) -> String {
        let reference = xml::parse(reference).unwrap().root;
        let local = xml::parse(local).unwrap().root;
        let mut out = String::new();
        for child in merge(&reference, &local).children {
            let mut attributes: Vec<String> = child
                .attributes
                .iter()
                .map(|a| format!("{}={}", a.local, a.value))
                .collect();
            attributes.sort();
            let children: Vec<String> = child
                .children
                .iter()
                .map(|c| {
                    c.attr("objectiveID")
                        .or(c.attr("childActivitySet"))
                        .unwrap_or(&c.local)
                        .to_owned()
                })
                .collect();
            out.push_str(&format!(
                "{}[{}]{{{}}} ",
                child.local,
                attributes.join(","),
                children.join(",")
            ));
        }
        out.trim_end().to_owned()
    }

    #[test]
    fn idref_merge_replaces_whole_elements() {
        let reference = r#"<sequencing ID="S">
            <controlMode forwardOnly="true" choiceExit="false"/>
            <rollupRules rollupProgressCompletion="false"><rollupRule childActivitySet="any"/></rollupRules>
            <objectives><primaryObjective objectiveID="R-P"/><objective objectiveID="R-O"/></objectives>
            <adlseq:constrainedChoiceConsiderations xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3" constrainChoice="true" preventActivation="true"/>
        </sequencing>"#;
        let local = r#"<sequencing IDRef="S">
            <controlMode choice="false" flow="true"/>
            <rollupRules objectiveMeasureWeight="0.5"/>
            <objectives><primaryObjective objectiveID="L-P"/></objectives>
            <deliveryControls tracked="false"/>
        </sequencing>"#;
        // The referenced constrained choice survives (no local element);
        // every local element replaces its referenced namesake whole.
        assert_eq!(
            merged(reference, local),
            "constrainedChoiceConsiderations[constrainChoice=true,preventActivation=true]{} \
             controlMode[choice=false,flow=true]{} \
             rollupRules[objectiveMeasureWeight=0.5]{} \
             objectives[]{L-P} \
             deliveryControls[tracked=false]{}"
        );
        // CM-04a: an empty local controlMode brings back every default.
        let empty = r#"<sequencing IDRef="S"><controlMode/></sequencing>"#;
        assert!(merged(reference, empty).contains("controlMode[]{}"));
        let local_rules = r#"<sequencing IDRef="S"><rollupRules><rollupRule childActivitySet="all"/></rollupRules></sequencing>"#;
        assert!(merged(reference, local_rules).contains("rollupRules[]{all}"));
    }

    #[test]
    fn durations() {
        for valid in ["PT1H", "P1D", "PT0.5S", "P1Y2M3DT4H5M6.7S", "PT30M"] {
            assert!(is_duration(valid), "{valid}");
        }
        for invalid in ["P", "PT", "1H", "PT1X", "00:30:00", ""] {
            assert!(!is_duration(invalid), "{invalid}");
        }
    }
}
