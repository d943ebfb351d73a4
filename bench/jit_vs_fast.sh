#!/bin/bash
# Training (or other graph kind) step time of the jit backend against fast,
# in the same run (issue 11: the demo graph network's training step at
# least 3x faster on jit than on fast). For ROUNDS rounds, alternately
#   halograph profile --config C --graph G --backend jit  --threads T --iters I --no-profile
#   halograph profile --config C --graph G --backend fast --threads T --iters I --no-profile
# (one warm-up step, then I timed steps; `step_median_ms` of each), so load
# drifts hit both; prints each round, the median of the rounds' medians per
# backend, their ratio fast / jit and the load average before and after.
# On a loaded machine use THREADS=1 (one core each) and read the ratio.
#
# usage: bench/jit_vs_fast.sh [BIN]
#   env: CONFIG (default configs/demo-graph.yaml), GRAPH (train),
#        THREADS (2), ITERS (3), ROUNDS (3)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$here/build/halograph}
CONFIG=${CONFIG:-$here/configs/demo-graph.yaml}
GRAPH=${GRAPH:-train}
THREADS=${THREADS:-2}
ITERS=${ITERS:-3}
ROUNDS=${ROUNDS:-3}
step() { # BACKEND -> median step ms
    "$BIN" profile --config "$CONFIG" --graph "$GRAPH" --backend "$1" --threads "$THREADS" \
        --iters "$ITERS" --no-profile | awk '$1 == "step_median_ms" { print $2 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "config $CONFIG, graph $GRAPH, $THREADS threads, $ITERS iters x $ROUNDS rounds"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
J=() F=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then j=$(step jit); f=$(step fast); else f=$(step fast); j=$(step jit); fi
    J+=("$j") F+=("$f")
    printf "round %d: jit %.1f ms, fast %.1f ms\n" "$r" "$j" "$f"
done
jm=$(printf "%s\n" "${J[@]}" | median)
fm=$(printf "%s\n" "${F[@]}" | median)
printf "median: jit %.1f ms, fast %.1f ms, fast/jit %.2fx\n" "$jm" "$fm" "$(echo "$fm / $jm" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
