//! xapi (to be written)
