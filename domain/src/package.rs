//! package (to be written)
