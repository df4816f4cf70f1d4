//! progress: Reporter trait.
