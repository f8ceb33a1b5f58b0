#!/usr/bin/env bash
# Time from start to the first frame showing the demo fleet, measured as a person would
# see it: the release binary in a tmux pane, polled until the group names appear.
# Usage: scripts/first-frame.sh [extra fleetdeck args]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
sock="fleetdeck-first-frame-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
home=$(mktemp -d)
start=$(date +%s%N)
tmux -L "$sock" -f /dev/null new-session -d -s main -x 120 -y 40 \
    "env HOME=$home XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state ./target/release/fleetdeck $*"
for _ in $(seq 1 3000); do
    if tmux -L "$sock" capture-pane -p -t main 2>/dev/null | grep -q 'embeddings'; then
        end=$(date +%s%N)
        echo "first frame with the fleet after $(( (end - start) / 1000000 )) ms"
        tmux -L "$sock" send-keys -t main q
        exit 0
    fi
    sleep 0.01
done
echo "no frame with the fleet within 30 s" >&2
tmux -L "$sock" capture-pane -p -t main >&2 || true
exit 1
