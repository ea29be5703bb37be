//! The static activity tree: the course's activities in an arena (preorder
//! indices), with each activity's sequencing definition resolved for fast
//! evaluation (global objective maps as indices, limits parsed).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::EngineError;
use super::time::{parse_date_time, parse_duration_ms};
use crate::package::{Activity, Course, HideLmsUi, Standard};
use crate::sequencing::definition::{ObjectiveDefinition, SequencingDefinition};

/// The activity tree of one course.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    /// Activities in preorder; index 0 is the root (the organization).
    pub(crate) nodes: Vec<Node>,
    pub(crate) by_id: HashMap<String, usize>,
    /// Target objective IDs of every objective map, in order of appearance.
    pub(crate) global_ids: Vec<String>,
    /// For each global objective, the activities whose primary objective
    /// reads its satisfied status, measure, completion or progress.
    pub(crate) global_readers: Vec<Vec<usize>>,
    /// `adlseq:objectivesGlobalToSystem`: false scopes the global objectives
    /// to one attempt on the course.
    pub(crate) objectives_global_to_system: bool,
}

/// One activity.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) title: String,
    /// `isvisible`.
    pub(crate) visible: bool,
    pub(crate) parent: Option<usize>,
    /// Every child in manifest order (the available children are tracking state).
    pub(crate) children: Vec<usize>,
    pub(crate) depth: usize,
    /// One past the preorder index of the last descendant.
    pub(crate) subtree_end: usize,
    pub(crate) launchable: bool,
    pub(crate) sequencing: SequencingDefinition,
    /// Primary objective first, then the others in manifest order.
    pub(crate) objectives: Vec<ObjectiveNode>,
    pub(crate) completed_by_measure: bool,
    pub(crate) min_progress_measure: f64,
    pub(crate) progress_weight: f64,
    /// `cmi.completion_threshold`, applied to the reported progress measure.
    pub(crate) completion_threshold: Option<f64>,
    /// `cmi.scaled_passing_score`, applied to the reported scaled score.
    pub(crate) scaled_passing_score: Option<f64>,
    pub(crate) hide_lms_ui: Vec<HideLmsUi>,
    pub(crate) limits: Limits,
}

/// Parsed limit conditions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Limits {
    pub(crate) attempt_limit: Option<u32>,
    pub(crate) attempt_absolute_ms: Option<u64>,
    pub(crate) attempt_experienced_ms: Option<u64>,
    pub(crate) activity_absolute_ms: Option<u64>,
    pub(crate) activity_experienced_ms: Option<u64>,
    pub(crate) begin: Option<DateTime<Utc>>,
    pub(crate) end: Option<DateTime<Utc>>,
}

/// One objective with its maps resolved to global objective indices.
#[derive(Debug, Clone)]
pub(crate) struct ObjectiveNode {
    pub(crate) id: Option<String>,
    pub(crate) satisfied_by_measure: bool,
    pub(crate) min_normalized_measure: f64,
    pub(crate) read: Reads,
    pub(crate) write: Writes,
}

/// The global objective each value is read from (the last map that reads it,
/// as ADL's sample RTE does).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    pub(crate) satisfied: Option<usize>,
    pub(crate) measure: Option<usize>,
    pub(crate) raw: Option<usize>,
    pub(crate) min: Option<usize>,
    pub(crate) max: Option<usize>,
    pub(crate) completion: Option<usize>,
    pub(crate) progress: Option<usize>,
}

/// The global objectives each value is written to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes {
    pub(crate) satisfied: Vec<usize>,
    pub(crate) measure: Vec<usize>,
    pub(crate) raw: Vec<usize>,
    pub(crate) min: Vec<usize>,
    pub(crate) max: Vec<usize>,
    pub(crate) completion: Vec<usize>,
    pub(crate) progress: Vec<usize>,
}

impl Tree {
    /// Builds the tree of a SCORM 2004 course.
    pub(crate) fn build(course: &Course) -> Result<Tree, EngineError> {
        if !matches!(course.standard, Standard::Scorm2004 { .. }) {
            return Err(EngineError::NotScorm2004);
        }
        let mut tree = Tree {
            nodes: Vec::new(),
            by_id: HashMap::new(),
            global_ids: Vec::new(),
            global_readers: Vec::new(),
            objectives_global_to_system: course.scopes.objectives_global_to_system,
        };
        let mut global_index: HashMap<String, usize> = HashMap::new();
        tree.add(&course.root, None, 0, &mut global_index)?;
        tree.global_readers = vec![Vec::new(); tree.global_ids.len()];
        for (index, node) in tree.nodes.iter().enumerate() {
            let reads = &node.objectives[0].read;
            for global in [
                reads.satisfied,
                reads.measure,
                reads.completion,
                reads.progress,
            ]
            .into_iter()
            .flatten()
            {
                let readers = &mut tree.global_readers[global];
                if readers.last() != Some(&index) {
                    readers.push(index);
                }
            }
        }
        Ok(tree)
    }

    fn add(
        &mut self,
        activity: &Activity,
        parent: Option<usize>,
        depth: usize,
        globals: &mut HashMap<String, usize>,
    ) -> Result<usize, EngineError> {
        let index = self.nodes.len();
        if self.by_id.insert(activity.id.clone(), index).is_some() {
            return Err(EngineError::DuplicateActivity(activity.id.clone()));
        }
        let mut sequencing = activity.sequencing.clone().unwrap_or_default();
        normalize_referenced_objectives(&mut sequencing);
        let threshold = activity.completion_threshold.unwrap_or_default();
        let runtime = activity.launch.as_ref().map(|launch| &launch.runtime);
        let limits = &sequencing.limit_conditions;
        let parsed_limits = Limits {
            attempt_limit: limits.attempt_limit,
            attempt_absolute_ms: limits
                .attempt_absolute_duration_limit
                .as_deref()
                .and_then(parse_duration_ms),
            attempt_experienced_ms: limits
                .attempt_experienced_duration_limit
                .as_deref()
                .and_then(parse_duration_ms),
            activity_absolute_ms: limits
                .activity_absolute_duration_limit
                .as_deref()
                .and_then(parse_duration_ms),
            activity_experienced_ms: limits
                .activity_experienced_duration_limit
                .as_deref()
                .and_then(parse_duration_ms),
            begin: limits.begin_time_limit.as_deref().and_then(parse_date_time),
            end: limits.end_time_limit.as_deref().and_then(parse_date_time),
        };
        let mut objectives = vec![self.objective(&sequencing.objectives.primary, globals)];
        for other in &sequencing.objectives.others {
            let duplicate = other.id.is_some()
                && objectives
                    .iter()
                    .any(|known: &ObjectiveNode| known.id == other.id);
            if !duplicate {
                objectives.push(self.objective(other, globals));
            }
        }
        self.nodes.push(Node {
            id: activity.id.clone(),
            title: activity.title.clone(),
            visible: activity.visible,
            parent,
            children: Vec::new(),
            depth,
            subtree_end: index + 1,
            launchable: activity.launch.is_some(),
            sequencing,
            objectives,
            completed_by_measure: threshold.completed_by_measure,
            min_progress_measure: threshold.min_progress_measure,
            progress_weight: threshold.progress_weight,
            completion_threshold: runtime.and_then(|runtime| runtime.completion_threshold),
            scaled_passing_score: runtime.and_then(|runtime| runtime.scaled_passing_score),
            hide_lms_ui: runtime
                .map(|runtime| runtime.hide_lms_ui.clone())
                .unwrap_or_default(),
            limits: parsed_limits,
        });
        let mut children = Vec::with_capacity(activity.children.len());
        for child in &activity.children {
            children.push(self.add(child, Some(index), depth + 1, globals)?);
        }
        let end = self.nodes.len();
        let node = &mut self.nodes[index];
        node.children = children;
        node.subtree_end = end;
        Ok(index)
    }

    fn objective(
        &mut self,
        definition: &ObjectiveDefinition,
        globals: &mut HashMap<String, usize>,
    ) -> ObjectiveNode {
        let mut global = |id: &str| -> usize {
            let id = normalize_objective_id(id);
            if let Some(index) = globals.get(&id) {
                return *index;
            }
            let index = self.global_ids.len();
            self.global_ids.push(id.clone());
            globals.insert(id, index);
            index
        };
        let mut read = Reads::default();
        let mut write = Writes::default();
        for map in &definition.map_info {
            let g = global(&map.target_objective_id);
            if map.read_satisfied_status {
                read.satisfied = Some(g);
            }
            if map.read_normalized_measure {
                read.measure = Some(g);
            }
            if map.write_satisfied_status {
                write.satisfied.push(g);
            }
            if map.write_normalized_measure {
                write.measure.push(g);
            }
        }
        for map in &definition.extended_map_info {
            let g = global(&map.target_objective_id);
            let flags = [
                (map.read_raw_score, &mut read.raw),
                (map.read_min_score, &mut read.min),
                (map.read_max_score, &mut read.max),
                (map.read_completion_status, &mut read.completion),
                (map.read_progress_measure, &mut read.progress),
            ];
            for (on, slot) in flags {
                if on {
                    *slot = Some(g);
                }
            }
            let flags = [
                (map.write_raw_score, &mut write.raw),
                (map.write_min_score, &mut write.min),
                (map.write_max_score, &mut write.max),
                (map.write_completion_status, &mut write.completion),
                (map.write_progress_measure, &mut write.progress),
            ];
            for (on, list) in flags {
                if on {
                    list.push(g);
                }
            }
        }
        ObjectiveNode {
            id: definition.id.as_deref().map(normalize_objective_id),
            satisfied_by_measure: definition.satisfied_by_measure,
            min_normalized_measure: definition.min_normalized_measure,
            read,
            write,
        }
    }

    pub(crate) fn is_leaf(&self, activity: usize) -> bool {
        self.nodes[activity].children.is_empty()
    }

    /// Whether `descendant` is in the subtree of `ancestor` (itself included).
    pub(crate) fn contains(&self, ancestor: usize, descendant: usize) -> bool {
        ancestor <= descendant && descendant < self.nodes[ancestor].subtree_end
    }

    /// The activity path from the root down to `activity`, both included.
    pub(crate) fn path_from_root(&self, activity: usize) -> Vec<usize> {
        let mut path = Vec::with_capacity(self.nodes[activity].depth + 1);
        let mut walk = Some(activity);
        while let Some(at) = walk {
            path.push(at);
            walk = self.nodes[at].parent;
        }
        path.reverse();
        path
    }

    /// The deepest activity that contains both (ADL's common ancestor: a leaf
    /// counts from its parent).
    pub(crate) fn common_ancestor(&self, a: usize, b: usize) -> usize {
        let mut walk = if self.is_leaf(a) {
            self.nodes[a].parent.unwrap_or(a)
        } else {
            a
        };
        loop {
            if self.contains(walk, b) {
                return walk;
            }
            match self.nodes[walk].parent {
                Some(parent) => walk = parent,
                None => return walk,
            }
        }
    }

    /// The tracked flag (`deliveryControls@tracked`).
    pub(crate) fn tracked(&self, activity: usize) -> bool {
        self.nodes[activity].sequencing.delivery_controls.tracked
    }
}

/// Normalizes an objective identifier the way ADL's sample RTE does for
/// `objectiveID`, `referencedObjective` and (as its conformance test OB-02b
/// needs) `targetObjectiveID`: `%20` is a space, surrounding
/// whitespace is dropped and inner runs of spaces collapse to one. The
/// runtime's `cmi.objectives.n.id` values use the normalized form.
pub(crate) fn normalize_objective_id(id: &str) -> String {
    let decoded = id.replace("%20", " ");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn normalize_referenced_objectives(sequencing: &mut SequencingDefinition) {
    let rules = &mut sequencing.sequencing_rules;
    let conditions = rules
        .pre_condition
        .iter_mut()
        .flat_map(|rule| rule.conditions.iter_mut())
        .chain(
            rules
                .exit_condition
                .iter_mut()
                .flat_map(|rule| rule.conditions.iter_mut()),
        )
        .chain(
            rules
                .post_condition
                .iter_mut()
                .flat_map(|rule| rule.conditions.iter_mut()),
        );
    for condition in conditions {
        if let Some(id) = &condition.referenced_objective {
            condition.referenced_objective = Some(normalize_objective_id(id));
        }
    }
}
