//! The terminal console. PLACEHOLDER being written.

use crate::protocol::{Connection, Operator};

/// How the console is started.
#[derive(Clone, Debug)]
pub struct UiOptions {
    pub operator: Operator,
    /// Only shown: the engine enforces read-only itself.
    pub readonly: bool,
}

/// Runs the console until the user quits. Restores the terminal on every exit path,
/// including panics.
pub async fn run(_conn: Connection, _options: UiOptions) -> anyhow::Result<()> {
    unimplemented!("ui in progress")
}
