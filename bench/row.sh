#!/bin/bash
# ROW fusion groups (issue 11 items 2 and 4): two measurements, with the
# load average before and after (the machine is shared; compare ratios of
# one run).
#
# 1. build/bench/hg_bench_row --threads T --iters K: layer norm on the demo
#    transformer's [8, 640, 128] and softmax on [2560, 640], forward and
#    forward + backward, the jit backend's ROW kernels (the JIT's code)
#    against oneDNN 2.6's layer normalization and softmax primitives,
#    medians of K samples of 20 calls, ratios (see bench/row.c).
# 2. The demo transformer's train and sample-step step times, BEFORE (a
#    halograph binary built from main) and AFTER (this tree's), ROUNDS
#    alternating rounds of
#      halograph profile --config configs/demo-transformer.yaml
#        --graph train|sample-step --backend jit --threads T --iters 5 --no-profile
#    prints step_median_ms of each and the median over the rounds.
# 3. With HALOGRAPH_BEFORE: ROUNDS alternating profiles (--iters 5 --top 0,
#    the profiler on) of each graph and binary, and per round the kernel
#    time per step of the ROW groups' nodes before and after
#    (bench/row_kernels.py): the step time moves by less than the load's
#    noise, the kernels' sum does not.
#
# usage: bench/row.sh [HALOGRAPH_BEFORE]
#   HALOGRAPH_BEFORE: main's binary (default: skip part 2's "before")
#   env: BUILD (default build), THREADS (default 1), ITERS (default 9),
#        ROUNDS (default 3)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
BEFORE=${1:-}
THREADS=${THREADS:-1}
ITERS=${ITERS:-9}
ROUNDS=${ROUNDS:-3}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/hg_bench_row" --threads "$THREADS" --iters "$ITERS"
step() {
    "$1" profile --config "$here/configs/demo-transformer.yaml" --graph "$2" --backend jit \
        --threads "$THREADS" --iters 5 --no-profile | awk '/^step_median_ms/ {print $2}'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for g in sample-step train; do
    b_all="" a_all=""
    for r in $(seq "$ROUNDS"); do
        if [ -n "$BEFORE" ]; then b=$(step "$BEFORE" "$g"); b_all="$b_all $b"; fi
        a=$(step "$BUILD/halograph" "$g"); a_all="$a_all $a"
        echo "demo $g round $r: ${b:+before_ms $b }after_ms $a"
    done
    if [ -n "$BEFORE" ]; then
        bm=$(echo "$b_all" | median) am=$(echo "$a_all" | median)
        printf "demo %-11s median before_ms %9s after_ms %9s before/after %.3f\n" "$g" "$bm" "$am" \
            "$(echo "$bm / $am" | bc -l)"
    else
        printf "demo %-11s median after_ms %9s\n" "$g" "$(echo "$a_all" | median)"
    fi
done
if [ -n "$BEFORE" ]; then
    tmp=$(mktemp -d)
    for g in sample-step train; do
        for r in $(seq "$ROUNDS"); do
            for w in before after; do
                bin=$BEFORE; [ $w = after ] && bin=$BUILD/halograph
                "$bin" profile --config "$here/configs/demo-transformer.yaml" --graph "$g" \
                    --backend jit --threads "$THREADS" --iters 5 --top 0 > "$tmp/$w.txt"
            done
            echo "demo $g round $r: $(python3 "$here/bench/row_kernels.py" "$tmp/before.txt" "$tmp/after.txt")"
        done
    done
    rm -rf "$tmp"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
