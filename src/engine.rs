//! The engine. PLACEHOLDER being written.
