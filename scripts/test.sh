#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then format check,
# lint, and every test (unit, property, snapshot, CLI and tmux end-to-end).
# Prints its build and test minutes so the shared CI budget stays visible.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
# Runs one step and records how long it took, for the summary at the end.
timings=()
step() {
    local name=$1 start
    shift
    say "$name"
    start=$(date +%s)
    "$@"
    timings+=("$(printf '%-48s %s' "$name" "$(elapsed "$start")")")
}

# --- tools the tests need -------------------------------------------------------
missing=()
command -v tmux >/dev/null || missing+=(tmux)
# A real Prometheus scrapes the daemon's /metrics in the end-to-end tests.
command -v prometheus >/dev/null || missing+=(prometheus)
# Installed in the background while the lint and the build run (they need none of it);
# the tests wait for it below.
install_pid=""
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} (in the background)"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    (
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
    ) > /tmp/fleetdeck-test-install.log 2>&1 &
    install_pid=$!
fi
if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# A suite run (as in CI) builds from scratch, where incremental compilation only adds
# work; everyday `cargo test` keeps it.
export CARGO_INCREMENTAL=0

# Snapshot tests must fail on a difference, never rewrite the snapshot.
export INSTA_UPDATE=no
export CI="${CI:-}"

total_start=$(date +%s)

step "cargo fmt --check" cargo fmt --check

build_start=$(date +%s)
step "cargo clippy --all-targets -- -D warnings" cargo clippy --all-targets -- -D warnings
# The sim-only build, without any backend feature (DESIGN.md: backends behind features).
# All targets, so the tests build without the backends too, and so the dependencies keep
# the features the first lint gave them (tokio's test-util) instead of being checked again.
step "cargo clippy --no-default-features --all-targets" \
    cargo clippy --no-default-features --all-targets -- -D warnings
step "building tests" cargo test --no-run --quiet
build_time=$(elapsed "$build_start")

if [ -n "$install_pid" ]; then
    say "waiting for ${missing[*]}"
    if ! wait "$install_pid"; then
        cat /tmp/fleetdeck-test-install.log
        echo "installing ${missing[*]} failed" >&2
        exit 1
    fi
fi

test_start=$(date +%s)
step "cargo test" cargo test --no-fail-fast
test_time=$(elapsed "$test_start")

say "timing: build ${build_time}, tests ${test_time}, total $(elapsed "$total_start")"
printf '    %s\n' "${timings[@]}"
