//! The pure xAPI layer of the LRS: every xAPI rule lives here, for 1.0.0–1.0.3 and 2.0.0.
//!
//! The server parses the request, calls into this module, and stores or renders what it gets
//! back; it decides no xAPI rule itself. Nothing here does I/O, reads a clock or draws ids:
//! `stored` times and new statement ids arrive as arguments.
//!
//! - [`version`]: the `X-Experience-API-Version` header and the per-version differences.
//! - [`validate`]: statement validation with stable error codes and JSON paths.
//! - [`statement`]: preparation for storage (id, stored, authority, version, arrays), index
//!   facts for projections, voiding decisions.
//! - [`compare`]: "same statement" for immutability and signatures.
//! - [`render`]: `format=exact|ids|canonical` and language selection.
//! - [`query`]: `GET /statements` parameters and filter matching.
//! - [`document`]: ETags, preconditions, JSON merge and parameters of the document resources.
//! - [`agent`]: IFIs, the `agent` parameter and the Person object.
//! - [`attachment`]: matching attachment objects to multipart parts by SHA-2.
//! - [`signature`]: signed statements (JWS), crypto behind a trait.
//! - [`syntax`]: the small data types (IRI, UUID, language tag, timestamp, duration, strict JSON).
//!
//! Invariant: a statement that [`statement::prepare_post`] or [`statement::prepare_put`]
//! accepts is valid for the request's version, and its stored form renders in every format.

pub mod agent;
pub mod attachment;
pub mod compare;
pub mod document;
pub mod error;
pub mod query;
pub mod render;
pub mod signature;
pub mod statement;
pub mod syntax;
pub mod validate;
pub mod version;

pub use error::{ErrorCode, ValidationErrors, XapiError};
pub use version::XapiVersion;
