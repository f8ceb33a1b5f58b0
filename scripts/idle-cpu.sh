#!/usr/bin/env bash
# CPU used by an idle console on the demo fleet (one snapshot a second, no input),
# averaged over a window (default 60 s), read from /proc/PID/stat. Target: < 1 % of a
# core, and no more than htop (1 s refresh) at the same size in the same window, which
# is measured beside it when htop is installed.
# Usage: scripts/idle-cpu.sh [seconds] [COLSxROWS]    (default: 60 200x50)
set -euo pipefail
cd "$(dirname "$0")/.."
window=${1:-60}
size=${2:-200x50}
cols=${size%x*} rows=${size#*x}
cargo build --release --quiet
sock="fleetdeck-idle-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
home=$(mktemp -d)
tmux -L "$sock" -f /dev/null new-session -d -s main -x "$cols" -y "$rows" \
    "exec env HOME=$home XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state ./target/release/fleetdeck"
pid=$(tmux -L "$sock" display-message -p -t main '#{pane_pid}')
htop_pid=
if command -v htop >/dev/null; then
    # -d 10: htop's refresh in tenths of a second, 1 s as the console's snapshots.
    tmux -L "$sock" new-session -d -s htop -x "$cols" -y "$rows" "exec env HOME=$home htop -d 10"
    htop_pid=$(tmux -L "$sock" display-message -p -t htop '#{pane_pid}')
fi
for _ in $(seq 1 300); do
    tmux -L "$sock" capture-pane -p -t main | grep -q embeddings && break
    sleep 0.1
done
sleep 2 # let start-up settle before measuring
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$pid"); h0=${htop_pid:+$(ticks "$htop_pid")}; s0=$(date +%s%N)
sleep "$window"
t1=$(ticks "$pid"); h1=${htop_pid:+$(ticks "$htop_pid")}; s1=$(date +%s%N)
share() {
    awk -v dt="$1" -v hz="$hz" -v ns="$((s1 - s0))" -v what="$2" \
        'BEGIN { printf "%s: %.2f %% of one core over %.0f s at '"$size"'\n", what, 100 * (dt / hz) / (ns / 1e9), ns / 1e9 }'
}
share "$((t1 - t0))" "idle console"
if [[ -n $htop_pid ]]; then
    share "$((h1 - h0))" "htop -d 10   "
fi
