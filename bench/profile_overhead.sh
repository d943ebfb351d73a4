#!/bin/bash
# Overhead of the kernel profiler (issue 8: below 5% of the step when on;
# none when off, since no hooks are attached then). Runs the score graph of
# configs/demo-transformer.yaml with `halograph profile --overhead`, which
# alternates steps with the profiler on (with a Chrome trace being kept)
# and off in one process (so load from other processes hits both modes
# alike), ROUNDS times, and prints each run's median on/off step ratio and
# the median of those ratios.
#
# usage: bench/profile_overhead.sh [HALOGRAPH] [ROUNDS]
#   env: CONFIG (default configs/demo-transformer.yaml), BATCH (default 1),
#        PAIRS (on/off step pairs per run, default 5), THREADS (default:
#        all cores), TRACE (1 (default): keep trace events, the costlier mode)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$here/build/halograph}
ROUNDS=${2:-3}
CONFIG=${CONFIG:-$here/configs/demo-transformer.yaml}
BATCH=${BATCH:-1}
PAIRS=${PAIRS:-5}
TRACE=${TRACE:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(profile --config "$CONFIG" --graph score --batch "$BATCH" --iters "$PAIRS" --warmup 1 --overhead)
[ -n "${THREADS:-}" ] && args+=(--threads "$THREADS")
[ "$TRACE" = 1 ] && args+=(--trace "$tmp/t.json")
echo "config $CONFIG, graph score, batch $BATCH, $PAIRS on/off step pairs x $ROUNDS runs, trace $TRACE"
: > "$tmp/ratios"
: > "$tmp/cpu"
for r in $(seq "$ROUNDS"); do
    out=$("$BIN" "${args[@]}")
    echo "$out" | grep '^overhead:'
    echo "$out" | awk '/^overhead_ratio_wall/ {print $2}' >> "$tmp/ratios"
    echo "$out" | awk '/^overhead_ratio_cpu/ {print $2}' >> "$tmp/cpu"
done
med() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
awk -v w="$(med "$tmp/ratios")" -v c="$(med "$tmp/cpu")" 'BEGIN {
    printf "median ratio on/off: wall %.4f (overhead %+.2f%% of the step), process CPU %.4f (%+.2f%%)\n",
           w, 100 * (w - 1), c, 100 * (c - 1) }'
