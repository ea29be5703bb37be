//! Webhook delivery: the dispatcher that follows the outbox, the HTTP
//! sender, and the outbound target rules.

pub mod dispatcher;
pub mod sender;
pub mod target;

pub use dispatcher::Dispatcher;
