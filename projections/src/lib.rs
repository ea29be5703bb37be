//! Read models of AllureConnect: each one a function of the event log.
//!
//! A [`Projection`] owns some tables and applies events to them. The
//! [`runtime`] keeps every projection caught up: it reads the log after the
//! projection's checkpoint and applies a batch of events and the new
//! checkpoint in one transaction, so a crash never applies an event twice or
//! loses one. `replay` empties a projection's tables and rebuilds them from
//! position zero; the result must equal what was built live.
//!
//! Invariants:
//! - a projection reads nothing but the events it is given and its own
//!   tables, and never the clock: replaying the log gives the same rows;
//! - an event that cannot be decoded stops the projection at that position
//!   (reported in `/readyz` and the log); it is never skipped;
//! - every query of a view takes a [`domain::tenancy::Scope`], except the
//!   API-key lookup that finds the scope in the first place.

pub mod courses;
pub mod dump;
pub mod lrs;
pub mod registrations;
pub mod runtime;
pub mod webhooks;
pub mod workspaces;

use std::sync::Arc;

pub use runtime::{Envelope, Projection, ProjectionError, Projections, Status, WaitError};

/// Every projection of the platform, in the order they are listed by `replay`.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(workspaces::WorkspacesView),
        Arc::new(courses::CoursesView),
        Arc::new(registrations::RegistrationsView::default()),
        Arc::new(webhooks::WebhooksView),
        Arc::new(lrs::statements::StatementsView),
        Arc::new(lrs::objects::ObjectsView),
        Arc::new(lrs::documents::DocumentsView),
        Arc::new(lrs::credentials::CredentialsView),
        Arc::new(lrs::forwarding::ForwardingView),
    ]
}
