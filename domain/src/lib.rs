//! Pure domain model of AllureConnect: identifiers and tenancy scopes, the
//! event catalogue, aggregates, the CMI data models, package manifest parsers,
//! the sequencing engine and xAPI validation.
//!
//! Nothing in this crate does I/O, reads a clock, or draws random numbers.
//! Time and identifiers arrive inside commands; bytes arrive as slices.

pub mod cmi;
pub mod course;
pub mod events;
pub mod lrs;
pub mod package;
pub mod registration;
pub mod sequencing;
pub mod tenancy;
pub mod webhook;
pub mod workspace;
pub mod xapi;
