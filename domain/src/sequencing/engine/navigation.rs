//! The Navigation Request Process (NB.2.1): is a navigation request valid
//! now, and which termination and sequencing requests carry it out.

use super::request::{NavigationRequest, SequencingRequest, TerminationRequest};
use super::{Engine, SequencingException};

/// What NB.2.1 turns a navigation request into.
pub(crate) type Requests = (Option<TerminationRequest>, Option<SequencingRequest>);

impl Engine {
    /// Navigation Request Process (NB.2.1).
    pub(crate) fn navigation_request(
        &self,
        request: &NavigationRequest,
    ) -> Result<Requests, SequencingException> {
        use SequencingException as E;
        let current = self.current;
        let exit_if_active = |current: usize| {
            self.acts[current]
                .active
                .then_some(TerminationRequest::Exit)
        };
        match request {
            NavigationRequest::Start => match current {
                None => Ok((None, Some(SequencingRequest::Start))),
                Some(_) => Err(E::NavigationSessionAlreadyBegun),
            },
            NavigationRequest::ResumeAll => match (current, self.suspended) {
                (Some(_), _) => Err(E::NavigationSessionAlreadyBegun),
                (None, None) => Err(E::NavigationNoSuspendedActivity),
                (None, Some(_)) => Ok((None, Some(SequencingRequest::ResumeAll))),
            },
            NavigationRequest::Continue => {
                let current = current.ok_or(E::NavigationSessionNotBegun)?;
                match self.parent(current) {
                    Some(parent) if self.flow(parent) => {
                        Ok((exit_if_active(current), Some(SequencingRequest::Continue)))
                    }
                    _ => Err(E::NavigationFlowViolation),
                }
            }
            NavigationRequest::Previous => {
                let current = current.ok_or(E::NavigationSessionNotBegun)?;
                let parent = self.parent(current).ok_or(E::NavigationNothingBeforeRoot)?;
                if self.flow(parent) && !self.forward_only(parent) {
                    Ok((exit_if_active(current), Some(SequencingRequest::Previous)))
                } else {
                    Err(E::NavigationFlowOrForwardOnlyViolation)
                }
            }
            NavigationRequest::Forward | NavigationRequest::Backward => {
                Err(E::NavigationUnsupported)
            }
            NavigationRequest::Choice { target } => {
                let target = self.index(target).ok_or(E::NavigationTargetMissing)?;
                if let Some(parent) = self.parent(target)
                    && !self.tree.nodes[parent].sequencing.control_mode.choice
                {
                    return Err(E::NavigationChoiceViolation);
                }
                let Some(current) = current else {
                    return Ok((None, Some(SequencingRequest::Choice(target))));
                };
                // An active current activity that forbids choice exit allows
                // no choice at all until it ends (as ADL's sample RTE does,
                // which then offers no table of contents; test CM-07a).
                let state = &self.acts[current];
                let choice_exit = self.tree.nodes[current].sequencing.control_mode.choice_exit;
                if state.active && !choice_exit {
                    return Err(E::NavigationChoiceExitViolation);
                }
                if self.parent(current) != self.parent(target) {
                    self.check_choice_exit(current, target)?;
                }
                Ok((
                    exit_if_active(current),
                    Some(SequencingRequest::Choice(target)),
                ))
            }
            NavigationRequest::Jump { target } => {
                let target = self.index(target).ok_or(E::NavigationTargetMissing)?;
                let termination = current.and_then(exit_if_active);
                Ok((termination, Some(SequencingRequest::Jump(target))))
            }
            NavigationRequest::Exit => {
                let current = current.ok_or(E::NavigationSessionNotBegun)?;
                if self.acts[current].active {
                    Ok((
                        Some(TerminationRequest::Exit),
                        Some(SequencingRequest::Exit),
                    ))
                } else {
                    Err(E::NavigationAlreadyTerminated)
                }
            }
            NavigationRequest::ExitAll => {
                current.ok_or(E::NavigationSessionNotBegun)?;
                Ok((
                    Some(TerminationRequest::ExitAll),
                    Some(SequencingRequest::Exit),
                ))
            }
            NavigationRequest::Abandon => {
                let current = current.ok_or(E::NavigationSessionNotBegun)?;
                if self.acts[current].active {
                    Ok((
                        Some(TerminationRequest::Abandon),
                        Some(SequencingRequest::Exit),
                    ))
                } else {
                    Err(E::NavigationAlreadyTerminated)
                }
            }
            NavigationRequest::AbandonAll => {
                current.ok_or(E::NavigationSessionNotBegun)?;
                Ok((
                    Some(TerminationRequest::AbandonAll),
                    Some(SequencingRequest::Exit),
                ))
            }
            NavigationRequest::SuspendAll => {
                current.ok_or(E::NavigationSessionNotBegun)?;
                Ok((
                    Some(TerminationRequest::SuspendAll),
                    Some(SequencingRequest::Exit),
                ))
            }
        }
    }

    /// NB.2.1 step 7 for targets that are not siblings of the current
    /// activity: no active activity between the current activity and the
    /// common ancestor may forbid choice exit.
    fn check_choice_exit(&self, current: usize, target: usize) -> Result<(), SequencingException> {
        let common = self.tree.common_ancestor(current, target);
        let mut walk = Some(current);
        while let Some(activity) = walk {
            if activity == common {
                break;
            }
            let state = &self.acts[activity];
            if state.active
                && !self.tree.nodes[activity]
                    .sequencing
                    .control_mode
                    .choice_exit
            {
                return Err(SequencingException::NavigationChoiceExitViolation);
            }
            walk = self.parent(activity);
        }
        Ok(())
    }

    pub(crate) fn flow(&self, activity: usize) -> bool {
        self.tree.nodes[activity].sequencing.control_mode.flow
    }

    pub(crate) fn forward_only(&self, activity: usize) -> bool {
        self.tree.nodes[activity]
            .sequencing
            .control_mode
            .forward_only
    }
}
