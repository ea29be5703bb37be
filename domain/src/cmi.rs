//! cmi (to be written)
