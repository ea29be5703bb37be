//! The exception codes of the SN book's pseudo code (SCORM 2004 4th edition
//! Sequencing and Navigation, Appendix C), one variant per code.
//!
//! A sequencing exception is not an engine failure: it is the documented
//! answer of a process to a request that cannot be honoured (a Previous
//! request at the first activity, a Choice of a hidden activity). The engine
//! records it in the [`Decision`](super::Decision) and leaves the tracking
//! state as the process left it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! exceptions {
    ( $( $(#[$doc:meta])* $variant:ident => $code:literal, $message:literal; )+ ) => {
        /// A sequencing exception, named after the process that raises it.
        ///
        /// Serialises as its code (`"NB.2.1-1"`); the message is lowercase text
        /// paraphrasing the SN book.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum SequencingException {
            $( $(#[$doc])* #[error($message)] $variant, )+
        }

        impl SequencingException {
            /// Every exception, in code order.
            pub const ALL: &'static [SequencingException] = &[$(SequencingException::$variant),+];

            /// The SN book's code, e.g. `"SB.2.9-4"`.
            pub fn code(self) -> &'static str {
                match self {
                    $( SequencingException::$variant => $code, )+
                }
            }

            /// The exception with `code`.
            pub fn from_code(code: &str) -> Option<SequencingException> {
                match code {
                    $( $code => Some(SequencingException::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

exceptions! {
    /// NB.2.1-1: Start or Resume All while a session is under way.
    NavigationSessionAlreadyBegun => "NB.2.1-1", "current activity is already defined; the sequencing session has already begun";
    /// NB.2.1-2: a request that needs a current activity before Start.
    NavigationSessionNotBegun => "NB.2.1-2", "current activity is not defined; the sequencing session has not begun";
    /// NB.2.1-3: Resume All without a suspended activity.
    NavigationNoSuspendedActivity => "NB.2.1-3", "suspended activity is not defined";
    /// NB.2.1-4: Continue from the root or where the parent does not allow flow.
    NavigationFlowViolation => "NB.2.1-4", "flow sequencing control mode violation";
    /// NB.2.1-5: Previous where the parent does not allow flow or is forward only.
    NavigationFlowOrForwardOnlyViolation => "NB.2.1-5", "flow or forward only sequencing control mode violation";
    /// NB.2.1-6: Previous from the root.
    NavigationNothingBeforeRoot => "NB.2.1-6", "no activity is previous to the root";
    /// NB.2.1-7: Forward and Backward are not supported.
    NavigationUnsupported => "NB.2.1-7", "unsupported navigation request";
    /// NB.2.1-8: Choice would leave an active activity whose choice exit is false.
    NavigationChoiceExitViolation => "NB.2.1-8", "choice exit sequencing control mode violation";
    /// NB.2.1-9: the activity path of a Choice is empty.
    NavigationNoActivitiesToConsider => "NB.2.1-9", "no activities to consider";
    /// NB.2.1-10: the parent of the target does not allow choice.
    NavigationChoiceViolation => "NB.2.1-10", "choice sequencing control mode violation";
    /// NB.2.1-11: the target of a Choice or Jump is not in the activity tree.
    NavigationTargetMissing => "NB.2.1-11", "target activity does not exist";
    /// NB.2.1-12: Exit or Abandon of an activity that is not active.
    NavigationAlreadyTerminated => "NB.2.1-12", "current activity already terminated";
    /// NB.2.1-13: a request the process does not know.
    NavigationUndefined => "NB.2.1-13", "undefined navigation request";
    /// TB.2.3-1: termination without a current activity.
    TerminationNoCurrentActivity => "TB.2.3-1", "current activity is not defined; the sequencing session has not begun";
    /// TB.2.3-2: Exit or Abandon of an activity that is not active.
    TerminationAlreadyTerminated => "TB.2.3-2", "current activity already terminated";
    /// TB.2.3-3: Suspend All of an inactive root.
    TerminationNothingToSuspend => "TB.2.3-3", "cannot suspend an inactive root";
    /// TB.2.3-4: an exit parent post-condition at the root.
    TerminationRootHasNoParent => "TB.2.3-4", "activity tree root has no parent";
    /// TB.2.3-5: Suspend All found no activity to suspend.
    TerminationNoActiveActivities => "TB.2.3-5", "nothing to suspend; no active activities";
    /// TB.2.3-6: Abandon found no activity to abandon.
    TerminationNothingToAbandon => "TB.2.3-6", "nothing to abandon; no active activities";
    /// TB.2.3-7: a termination request the process does not know.
    TerminationUndefined => "TB.2.3-7", "undefined termination request";
    /// SB.2.1-1: flowing forward from the last activity (3rd edition; the
    /// 4th edition ends the sequencing session instead, as this engine does).
    FlowLastActivity => "SB.2.1-1", "last activity in the tree";
    /// SB.2.1-2: flowing into a cluster without available children.
    FlowNoAvailableChildren => "SB.2.1-2", "cluster has no available children";
    /// SB.2.1-3: flowing backward from the root.
    FlowNothingBeforeRoot => "SB.2.1-3", "no activity is previous to the root";
    /// SB.2.1-4: flowing backward among forward-only siblings.
    FlowForwardOnlyViolation => "SB.2.1-4", "forward only sequencing control mode violation";
    /// SB.2.2-1: the parent of a flow candidate does not allow flow.
    FlowActivityFlowViolation => "SB.2.2-1", "flow sequencing control mode violation";
    /// SB.2.2-2: the flow candidate is disabled or over a limit.
    FlowActivityUnavailable => "SB.2.2-2", "activity unavailable";
    /// SB.2.4-1: a stop forward traversal rule blocks a Choice.
    ChoiceTraversalForwardBlocked => "SB.2.4-1", "forward traversal blocked";
    /// SB.2.4-2: a Choice backward among forward-only siblings.
    ChoiceTraversalForwardOnlyViolation => "SB.2.4-2", "forward only sequencing control mode violation";
    /// SB.2.4-3: a Choice traversal backward from the root.
    ChoiceTraversalNothingBeforeRoot => "SB.2.4-3", "no activity is previous to the root";
    /// SB.2.5-1: Start while a session is under way.
    StartSessionAlreadyBegun => "SB.2.5-1", "current activity is defined; the sequencing session has already begun";
    /// SB.2.6-1: Resume All while a session is under way.
    ResumeAllSessionAlreadyBegun => "SB.2.6-1", "current activity is defined; the sequencing session has already begun";
    /// SB.2.6-2: Resume All without a suspended activity.
    ResumeAllNoSuspendedActivity => "SB.2.6-2", "no suspended activity is defined";
    /// SB.2.7-1: Continue before Start.
    ContinueSessionNotBegun => "SB.2.7-1", "current activity is not defined; the sequencing session has not begun";
    /// SB.2.7-2: Continue where the parent does not allow flow.
    ContinueFlowViolation => "SB.2.7-2", "flow sequencing control mode violation";
    /// SB.2.8-1: Previous before Start.
    PreviousSessionNotBegun => "SB.2.8-1", "current activity is not defined; the sequencing session has not begun";
    /// SB.2.8-2: Previous where the parent does not allow flow.
    PreviousFlowViolation => "SB.2.8-2", "flow sequencing control mode violation";
    /// SB.2.9-1: Choice without a target.
    ChoiceNoTarget => "SB.2.9-1", "no target for choice";
    /// SB.2.9-2: the target (or an ancestor) is not among the available children.
    ChoiceTargetUnavailable => "SB.2.9-2", "target activity does not exist or is unavailable";
    /// SB.2.9-3: the target (or an ancestor) is hidden from choice.
    ChoiceHiddenFromChoice => "SB.2.9-3", "target activity hidden from choice";
    /// SB.2.9-4: the parent of the target does not allow choice.
    ChoiceControlViolation => "SB.2.9-4", "choice sequencing control mode violation";
    /// SB.2.9-5: the activity path of a Choice is empty.
    ChoiceNothingToConsider => "SB.2.9-5", "no activities to consider";
    /// SB.2.9-6: a Choice would start an attempt that prevent activation forbids.
    ChoicePreventActivation => "SB.2.9-6", "unable to activate target; target is not a child of the current activity";
    /// SB.2.9-7: a Choice would leave an activity whose choice exit is false.
    ChoiceExitViolation => "SB.2.9-7", "choice exit sequencing control mode violation";
    /// SB.2.9-8: a constrained choice forbids the target.
    ChoiceConstrained => "SB.2.9-8", "unable to choose target activity; constrained choice";
    /// SB.2.9-9: the target cluster holds nothing to deliver.
    ChoiceNothingToDeliver => "SB.2.9-9", "choice request prevented by flow-only activity";
    /// SB.2.10-1: Retry before Start.
    RetrySessionNotBegun => "SB.2.10-1", "current activity is not defined; the sequencing session has not begun";
    /// SB.2.10-2: Retry of an active or suspended activity.
    RetryActiveOrSuspended => "SB.2.10-2", "current activity is active or suspended";
    /// SB.2.10-3: Retry of a cluster that holds nothing to deliver.
    RetryFlowViolation => "SB.2.10-3", "flow sequencing control mode violation";
    /// SB.2.11-1: Exit before Start.
    ExitSessionNotBegun => "SB.2.11-1", "current activity is not defined; the sequencing session has not begun";
    /// SB.2.11-2: Exit of an activity that is still active.
    ExitNotTerminated => "SB.2.11-2", "current activity has not been terminated";
    /// SB.2.12-1: a sequencing request the process does not know.
    SequencingUndefined => "SB.2.12-1", "undefined sequencing request";
    /// SB.2.13-1: Jump before Start.
    JumpSessionNotBegun => "SB.2.13-1", "current activity is not defined; the sequencing session has not begun";
    /// DB.1.1-1: delivery of a cluster.
    DeliveryNotLeaf => "DB.1.1-1", "cannot deliver a non-leaf activity";
    /// DB.1.1-2: delivery with an empty activity path.
    DeliveryNothingToDeliver => "DB.1.1-2", "nothing to deliver";
    /// DB.1.1-3: an activity on the path is disabled or over a limit.
    DeliveryUnavailable => "DB.1.1-3", "activity unavailable";
    /// DB.2-1: delivery of an activity that is already active.
    DeliveryAlreadyActive => "DB.2-1", "identified activity is already active";
}

impl Serialize for SequencingException {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for SequencingException {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        SequencingException::from_code(&code).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown sequencing exception {code:?}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SequencingException;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for exception in SequencingException::ALL {
            assert!(seen.insert(exception.code()), "{} twice", exception.code());
            assert_eq!(
                SequencingException::from_code(exception.code()),
                Some(*exception)
            );
            let message = exception.to_string();
            assert_eq!(message, message.to_lowercase(), "{message}");
            let json = serde_json::to_string(exception).unwrap();
            assert_eq!(json, format!("\"{}\"", exception.code()));
        }
    }
}
