//! checkpoint: versioned run state (owned by load).
