#!/bin/bash
# Graph-network step times and peak resident memory, before vs after a
# change, in the same run (the machine is shared: compare ratios).
# For each graph kind G (train, sample-step) and each binary, runs
#   /usr/bin/time -v BIN profile --config C --graph G --backend jit \
#       --threads 2 --iters 5 --no-profile
# (1 warm-up step, then 5 timed steps: the median is `step_median_ms`;
# peak RSS is the process's "Maximum resident set size", compile included).
# The binaries alternate per graph kind so load drifts hit both.
#
# Recorded 2026-12-02 15:49-16:02 UTC, 2 shared cores, load average 9-12
# (about 5x idle times: compare ratios), Release build; BEFORE = main
# 04b26eb, AFTER = branch gnn (jit column reductions tiled):
#   bench/gnn.sh /tmp/gnn-before/build/halograph build/halograph
#   graph           before_ms     after_ms    ratio  before_rss_MB   after_rss_MB
#   train             29712.2      20003.2     1.49           2553           2553
#   sample-step        5691.8       6535.3     0.87            200            216
#   GRAPHS=sample-step bench/gnn.sh ... (twice more):
#   sample-step        5870.7       5700.8     1.03            200            200
#   sample-step        5405.5       6118.7     0.88            200            200
# sample-step has no column reduction among its slow kernels (profile
# --by-shape of both binaries: 4414 vs 4296 ms median, same kernel list),
# so its spread is the load. The 216 MB is a cold JIT cache (LLVM's
# compile counts toward peak RSS).
#
# usage: bench/gnn.sh BEFORE_BIN AFTER_BIN
#   env: CONFIG (default configs/demo-graph.yaml), ITERS (default 5),
#        THREADS (default 2), GRAPHS (default "train sample-step")
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: bench/gnn.sh BEFORE_BIN AFTER_BIN" >&2; exit 2; }
BEFORE=$1
AFTER=$2
CONFIG=${CONFIG:-$here/configs/demo-graph.yaml}
ITERS=${ITERS:-5}
THREADS=${THREADS:-2}
GRAPHS=${GRAPHS:-train sample-step}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
run() { # BIN GRAPH -> "median_ms peak_rss_mb"
    /usr/bin/time -v "$1" profile --config "$CONFIG" --graph "$2" --backend jit \
        --threads "$THREADS" --iters "$ITERS" --no-profile >"$tmp" 2>&1
    awk '/^step_median_ms/ {m = $2} /Maximum resident set size/ {r = $6 / 1024}
         END {printf "%.1f %.0f\n", m, r}' "$tmp"
}
echo "config $CONFIG, jit, $THREADS threads, median of $ITERS steps"
echo "uptime before: $(uptime)"
printf "%-12s %12s %12s %8s %14s %14s\n" graph before_ms after_ms ratio before_rss_MB after_rss_MB
for g in $GRAPHS; do
    read -r bm br < <(run "$BEFORE" "$g")
    read -r am ar < <(run "$AFTER" "$g")
    printf "%-12s %12.1f %12.1f %8.2f %14s %14s\n" "$g" "$bm" "$am" \
        "$(echo "$bm / $am" | bc -l)" "$br" "$ar"
done
echo "uptime after: $(uptime)"
