//! Integration tests, one binary (each test binary relinks every dependency, and CI
//! time is shared): the real `fleetdeck` binary driven from its command line and, in
//! tmux, as a person would use it.

mod cli;
mod daemon;
mod decide;
mod mutants;
mod notifiers;
mod prometheus;
mod support;
mod tui;
