#!/usr/bin/env bash
# CPU used by an idle console on the demo fleet (one snapshot a second, no input),
# averaged over a window (default 60 s), read from /proc/PID/stat. Target: < 1 % of a core.
# Usage: scripts/idle-cpu.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
cargo build --release --quiet
sock="fleetdeck-idle-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
home=$(mktemp -d)
tmux -L "$sock" -f /dev/null new-session -d -s main -x 120 -y 40 \
    "exec env HOME=$home XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state ./target/release/fleetdeck"
pid=$(tmux -L "$sock" display-message -p -t main '#{pane_pid}')
for _ in $(seq 1 300); do
    tmux -L "$sock" capture-pane -p -t main | grep -q embeddings && break
    sleep 0.1
done
sleep 2 # let start-up settle before measuring
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s%N)
sleep "$window"
t1=$(ticks); s1=$(date +%s%N)
awk -v dt="$((t1 - t0))" -v hz="$hz" -v ns="$((s1 - s0))" \
    'BEGIN { printf "idle console: %.2f %% of one core over %.0f s\n", 100 * (dt / hz) / (ns / 1e9), ns / 1e9 }'
