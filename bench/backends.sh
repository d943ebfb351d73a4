#!/bin/bash
# The "fast" backend against the reference interpreter on one training step
# of configs/demo-transformer.yaml (B 8, N 640, d_model 128, 4 layers):
# for each thread count, runs
#   halograph profile --config C --graph train --backend ref  --iters 2 --threads T
#   halograph profile --config C --graph train --backend fast --iters 2 --threads T
# (one warm-up step each, then 2 profiled steps) and prints both median step
# times and their ratio ref / fast, plus the load average (the machine is
# shared: other processes slow both backends). The column ref_heap is the
# reference run with glibc told to keep freed memory in the heap
# (GLIBC_TUNABLES mmap/trim thresholds of 1 GiB); since commit e6d7695 every
# halograph command does that itself (mallopt), so ref and ref_heap agree;
# before it, `profile` ran the reference with glibc's defaults, under which
# its large per-node buffers were mmap'ed and unmapped and page-faulted on
# every step.
#
# Recorded 2026-11-29, 2 shared cores, RelWithDebInfo (-O2),
# `bench/backends.sh build-fastbackend/halograph 1 2`:
# after e6d7695 (load average 1.78 before, 1.59 after):
#  threads       ref_ms  ref_heap_ms      fast_ms  ref/fast  ref_heap/fast
#        1       2446.6       2475.6       1629.1      1.50           1.52
#        2       1462.0       1439.4        863.5      1.69           1.67
# before e6d7695 (profile's ref page-faulting; load 2.57 before, 3.25 after):
#        1      11987.4       2673.8       1917.1      6.25           1.39
#        2      11746.0       4014.6        989.0     11.88           4.06
# The fast backend has no page faults after the first step (/usr/bin/time:
# 87990 minor faults for the whole process with --iters 1 and with 4).
# Memory plan of the demo train graph: arena 322 MB (largest live set
# 322 MB), sum of separate buffers 3780 MB.
#
# usage: bench/backends.sh [HALOGRAPH] [THREADS...]
#   env: CONFIG (default configs/demo-transformer.yaml), GRAPH (default
#        train), ITERS (default 2)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$here/build/halograph}
shift || true
THREADS=("$@")
[ ${#THREADS[@]} -eq 0 ] && THREADS=(1 2)
CONFIG=${CONFIG:-$here/configs/demo-transformer.yaml}
GRAPH=${GRAPH:-train}
ITERS=${ITERS:-2}
median() {
    env ${ENVSET:-} "$BIN" profile --config "$CONFIG" --graph "$GRAPH" --backend "$1" --iters "$ITERS" \
        --threads "$2" --top 0 | awk '/^step_median_ms/ {print $2}'
}
echo "config $CONFIG, graph $GRAPH, $ITERS iterations; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%8s %12s %12s %12s %9s %14s\n" threads ref_ms ref_heap_ms fast_ms ref/fast ref_heap/fast
for t in "${THREADS[@]}"; do
    r=$(median ref "$t")
    h=$(ENVSET="GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824" median ref "$t")
    f=$(median fast "$t")
    printf "%8s %12.1f %12.1f %12.1f %9.2f %14.2f\n" "$t" "$r" "$h" "$f" "$(echo "$r / $f" | bc -l)" \
        "$(echo "$h / $f" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
