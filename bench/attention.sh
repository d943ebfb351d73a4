#!/bin/bash
# Fused attention (issue 12): two measurements, with the load average
# before and after (the machine is shared; compare ratios of one run).
#
# 1. Attention forward + backward at N 640, d_head 32, 4 heads, batch 8:
#    fused (attention + attention_lse + attention_grad, FlashAttention-2)
#    against the decomposed matmul-softmax-matmul form differentiated by
#    autodiff, same backend, same process, ITERS alternating rounds
#    (build/bench/hg_bench_attention; prints the medians and the ratio
#    decomposed / fused, and both arenas).
# 2. The demo transformer's train and sample-step step times, BEFORE (a
#    halograph binary built from main) and AFTER (this tree's), each
#      halograph profile --config configs/demo-transformer.yaml
#        --graph train|sample-step --backend jit --threads THREADS --iters 5 --no-profile
#    alternating before/after per graph; prints step_median_ms of each.
#
# usage: bench/attention.sh [HALOGRAPH_BEFORE]
#   HALOGRAPH_BEFORE: main's binary (default: skip part 2's "before")
#   env: BUILD (default build), BACKEND (default jit), THREADS (default 2),
#        ITERS (default 7)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
BEFORE=${1:-}
BACKEND=${BACKEND:-jit}
THREADS=${THREADS:-2}
ITERS=${ITERS:-7}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/hg_bench_attention" --batch 8 --heads 4 --n 640 --dhead 32 --backend "$BACKEND" \
    --threads "$THREADS" --iters "$ITERS"
step() {
    "$1" profile --config "$here/configs/demo-transformer.yaml" --graph "$2" --backend jit \
        --threads "$THREADS" --iters 5 --no-profile | awk '/^step_median_ms/ {print $2}'
}
for g in train sample-step; do
    after=$(step "$BUILD/halograph" "$g")
    if [ -n "$BEFORE" ]; then
        before=$(step "$BEFORE" "$g")
        printf "demo %-11s before_ms %9s after_ms %9s before/after %.2f\n" "$g" "$before" "$after" \
            "$(echo "$before / $after" | bc -l)"
    else
        printf "demo %-11s after_ms %9s\n" "$g" "$after"
    fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
