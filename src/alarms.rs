//! Alarm evaluation. PLACEHOLDER being written.
