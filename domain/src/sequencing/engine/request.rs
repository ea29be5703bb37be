//! Navigation requests (from the player's UI or the SCO's `adl.nav.request`)
//! and the termination and sequencing requests the navigation request process
//! turns them into.

use serde::{Deserialize, Serialize};

/// A navigation request (SN book, Table 4.4.3a), as the player or the SCO
/// issues it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum NavigationRequest {
    /// Start the sequencing session.
    Start,
    /// Resume a suspended sequencing session.
    ResumeAll,
    /// Go to the next activity (flow).
    Continue,
    /// Go to the previous activity (flow).
    Previous,
    /// Not supported by SCORM 2004; always answered with NB.2.1-7.
    Forward,
    /// Not supported by SCORM 2004; always answered with NB.2.1-7.
    Backward,
    /// Choose an activity (table of contents or `{target=ID}choice`).
    Choice {
        /// Identifier of the target activity.
        target: String,
    },
    /// Jump to an activity regardless of control modes (4th edition, `{target=ID}jump`).
    Jump {
        /// Identifier of the target activity.
        target: String,
    },
    /// End the current activity.
    Exit,
    /// End every activity and the sequencing session.
    ExitAll,
    /// End the current activity without recording its attempt.
    Abandon,
    /// End every activity without recording, and the sequencing session.
    AbandonAll,
    /// Suspend every active activity and end the sequencing session.
    SuspendAll,
}

impl NavigationRequest {
    /// Parses an `adl.nav.request` value. `Ok(None)` is `_none_`; `Err` holds
    /// a value that is not a navigation request.
    ///
    /// ```
    /// use domain::sequencing::engine::NavigationRequest;
    ///
    /// assert_eq!(
    ///     NavigationRequest::from_adl("{target=intro}choice"),
    ///     Ok(Some(NavigationRequest::Choice { target: "intro".into() }))
    /// );
    /// assert_eq!(NavigationRequest::from_adl("_none_"), Ok(None));
    /// assert!(NavigationRequest::from_adl("sideways").is_err());
    /// ```
    pub fn from_adl(value: &str) -> Result<Option<NavigationRequest>, InvalidNavigationRequest> {
        let value = value.trim();
        let plain = match value {
            "_none_" => return Ok(None),
            "start" => Some(NavigationRequest::Start),
            "resumeAll" => Some(NavigationRequest::ResumeAll),
            "continue" => Some(NavigationRequest::Continue),
            "previous" => Some(NavigationRequest::Previous),
            "exit" => Some(NavigationRequest::Exit),
            "exitAll" => Some(NavigationRequest::ExitAll),
            "abandon" => Some(NavigationRequest::Abandon),
            "abandonAll" => Some(NavigationRequest::AbandonAll),
            "suspendAll" => Some(NavigationRequest::SuspendAll),
            _ => None,
        };
        if let Some(request) = plain {
            return Ok(Some(request));
        }
        let invalid = || InvalidNavigationRequest(value.to_owned());
        let rest = value.strip_prefix("{target=").ok_or_else(invalid)?;
        let (target, verb) = rest.split_once('}').ok_or_else(invalid)?;
        if target.is_empty() {
            return Err(invalid());
        }
        let target = target.to_owned();
        match verb {
            "choice" => Ok(Some(NavigationRequest::Choice { target })),
            "jump" => Ok(Some(NavigationRequest::Jump { target })),
            _ => Err(invalid()),
        }
    }

    /// The `adl.nav.request` spelling of the request.
    pub fn to_adl(&self) -> String {
        match self {
            NavigationRequest::Start => "start".to_owned(),
            NavigationRequest::ResumeAll => "resumeAll".to_owned(),
            NavigationRequest::Continue => "continue".to_owned(),
            NavigationRequest::Previous => "previous".to_owned(),
            NavigationRequest::Forward => "forward".to_owned(),
            NavigationRequest::Backward => "backward".to_owned(),
            NavigationRequest::Choice { target } => format!("{{target={target}}}choice"),
            NavigationRequest::Jump { target } => format!("{{target={target}}}jump"),
            NavigationRequest::Exit => "exit".to_owned(),
            NavigationRequest::ExitAll => "exitAll".to_owned(),
            NavigationRequest::Abandon => "abandon".to_owned(),
            NavigationRequest::AbandonAll => "abandonAll".to_owned(),
            NavigationRequest::SuspendAll => "suspendAll".to_owned(),
        }
    }
}

/// An `adl.nav.request` value that is not a navigation request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a navigation request")]
pub struct InvalidNavigationRequest(pub String);

/// A termination request (SN book 4.4.3b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TerminationRequest {
    Exit,
    ExitAll,
    SuspendAll,
    Abandon,
    AbandonAll,
}

/// A sequencing request (SN book 4.4.3c); targets are activity indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequencingRequest {
    Start,
    ResumeAll,
    Continue,
    Previous,
    Choice(usize),
    Jump(usize),
    Retry,
    Exit,
}

#[cfg(test)]
mod tests {
    use super::NavigationRequest;

    #[test]
    fn adl_spelling_round_trips() {
        for request in [
            NavigationRequest::Start,
            NavigationRequest::ResumeAll,
            NavigationRequest::Continue,
            NavigationRequest::Previous,
            NavigationRequest::Choice { target: "a".into() },
            NavigationRequest::Jump { target: "b".into() },
            NavigationRequest::Exit,
            NavigationRequest::ExitAll,
            NavigationRequest::Abandon,
            NavigationRequest::AbandonAll,
            NavigationRequest::SuspendAll,
        ] {
            assert_eq!(
                NavigationRequest::from_adl(&request.to_adl()),
                Ok(Some(request))
            );
        }
        assert!(NavigationRequest::from_adl("{target=}choice").is_err());
        assert!(NavigationRequest::from_adl("{target=a}leap").is_err());
    }
}
