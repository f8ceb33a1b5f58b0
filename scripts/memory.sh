#!/usr/bin/env bash
# Peak RSS (VmHWM) with 100 simulated groups and every history buffer full (600 raw
# points and 24 h of 1-minute aggregates per series), after rendering the console once.
# Target: under 60 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example memory
