#!/bin/bash
# Every issue-11 compiler figure in one run, for the idle machine (2 threads
# by default; THREADS=1 on a loaded one):
#  1. `dump-ir --stats` of the demo transformer training graph: kernels vs
#     nodes (target >= 4x fewer kernels) and arena vs lower bound (<= 1.15x);
#  2. bench/jit_figures.sh: memory bandwidth (triad), per-kernel GB/s of the
#     LOOP kernels moving >= 1 MB (target >= half the bandwidth) and ns per
#     element of the transcendental ones (<= 1 ns), compile time of the demo
#     training program cold (< 3 s) and from the disk cache (< 100 ms);
#  3. bench/jit_vs_fast.sh: demo graph network training step, jit vs fast
#     (target 3x), and the demo transformer's for reference.
# usage: [THREADS=N] bench/jit_issue11.sh [BUILD_DIR]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$here/build}
export THREADS=${THREADS:-2}
cd "$here"
echo "== $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $THREADS threads, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== dump-ir --stats (demo transformer, train, scheduled)"
"$B/halograph" dump-ir --config configs/demo-transformer.yaml --graph train --stage scheduled --stats |
    awk '/^nodes:|^kernels:|^arena_bytes|^lower_bound|^arena_over|^nodes_per_kernel/'
echo "== bench/jit_figures.sh"
bash bench/jit_figures.sh "$B"
for cfg in demo-graph demo-transformer; do
    echo "== bench/jit_vs_fast.sh $cfg train"
    CONFIG=configs/$cfg.yaml GRAPH=train ITERS=${ITERS:-3} ROUNDS=${ROUNDS:-3} bash bench/jit_vs_fast.sh "$B/halograph"
done
