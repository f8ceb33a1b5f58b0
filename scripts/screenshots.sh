#!/usr/bin/env bash
# Regenerates screenshots/*.png from the simulated demo fleet at a fixed seed: the release
# binary runs in a 120x40 tmux pane, keys are sent as a person would, each screen is
# captured with its colours and rendered to PNG (Pillow in a venv under target/).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
venv=target/screenshot-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import PIL' 2>/dev/null || "$venv/bin/pip" install --quiet Pillow
mkdir -p screenshots
sock="fleetdeck-shots-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true' EXIT
home=$(mktemp -d)
printf 'set -g default-terminal tmux-256color\n' > "$home/tmux.conf"
tmux -L "$sock" -f "$home/tmux.conf" new-session -d -s main -x 120 -y 40 \
    "env HOME=$home XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state COLORTERM=truecolor ./target/release/fleetdeck --seed 7"
wait_for() {
    for _ in $(seq 1 300); do
        tmux -L "$sock" capture-pane -p -t main | grep -q "$1" && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$1'" >&2; return 1
}
shot() {
    tmux -L "$sock" capture-pane -e -p -t main > "$home/$1.ansi"
    "$venv/bin/python" scripts/ansi2png.py "$home/$1.ansi" "screenshots/$1.png" --cols 120 --rows 40
    echo "screenshots/$1.png"
}
wait_for embeddings
# The demo config spikes llm-chat x3 at 45 s: by 75 s the charts show it building up.
sleep 75
shot overview
tmux -L "$sock" send-keys -t main j
sleep 1
shot detail-vision
tmux -L "$sock" send-keys -t main Enter
sleep 1
shot table
# A confirmation dialog: force-scale vision, one more than now, held 20 minutes.
tmux -L "$sock" send-keys -t main s
wait_for "scale vision to"
shot dialog-scale
tmux -L "$sock" send-keys -t main n
# The decision log: everything, then the changes of desired only with the newest expanded.
tmux -L "$sock" send-keys -t main 4
wait_for "decisions:"
shot decision-log
tmux -L "$sock" send-keys -t main a Enter
wait_for "actions only"
wait_for "proposals"
shot decision-entry
tmux -L "$sock" send-keys -t main q
sleep 1
# The war-room screen on the same state, 75 s into its own run (the spike again).
tmux -L "$sock" kill-server 2>/dev/null || true
tmux -L "$sock" -f "$home/tmux.conf" new-session -d -s main -x 120 -y 40 \
    "env HOME=$home XDG_CONFIG_HOME=$home/config XDG_STATE_HOME=$home/state2 COLORTERM=truecolor ./target/release/fleetdeck --seed 7 --war-room"
wait_for "WAR ROOM"
sleep 75
shot war-room
