#!/bin/bash
# Reference-interpreter kernel benchmark: one training step of
# configs/demo-transformer.yaml (batch 8 x 640 points, d_model 128, 4 layers)
# under `halograph profile --by-shape`, with 1 and 2 OpenMP threads, plus
# the CPU time of the run and the load average (the machine is shared).
# usage: bench/ref_kernels.sh [HALOGRAPH_BINARY]   (default build/halograph)
#
# Results, 2 shared cores (AMD EPYC, PVM guest), load average ~3 (noisy):
# before = 22d2480 (double scratch chunks), after = the typed fast paths
# (ref_elementwise.c, ref_composite.c, ref_reduce.c, AVX2 gemm clones).
#   profile, 1 thread:   before 13.6 s/step (user 10.0 s, sys 3.7 s)
#                        after  12.6 s/step (user  8.5 s, sys 4.2 s)
#   profile, 2 threads:  before 15.8 s/step   after 14.2 s/step
#   `halograph train --steps 2` (2 steps + validation; the CLI keeps freed
#   memory in the heap, so few page faults), 1 thread:
#                        before 12.8 s wall (user 12.1 s)
#                        after   9.8 s wall (user  8.4 s)
#                        2 threads: before 26.5 s, after 20.4 s (load ~3)
# The profile numbers are dominated by first-touch page faults of freshly
# mmapped outputs (~20 us per 4 KiB page in this VM: a new f32[8,4,640,640]
# buffer costs ~250 ms to fault in versus ~5 ms to compute an elementwise op
# into a reused one), which buffer reuse in the runtime removes. On a warm
# output buffer (kernel called directly, 1 thread) f32[8,4,640,640] mul by a
# scalar went from 20.5 ms to 5.1 ms and where from 28.4 ms to 8.3 ms. After this change the step is led by the gemm (~33% of CPU
# in `train`, AVX2, ~40-50 GFLOP/s single-threaded on 640x640x32), attention,
# and libm tanh/exp (bit-identity requires the scalar double libm calls).
# Every result is bit-identical to the old kernels (checked on whole
# checkpoints after 2 training steps, 1 and 2 threads).
set -u
HG=${1:-build/halograph}
CFG=configs/demo-transformer.yaml
for t in 1 2; do
    echo "== $t thread(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -f "cpu: user %U s, sys %S s, wall %e s" env OMP_NUM_THREADS=$t \
        "$HG" profile --config "$CFG" --graph train --iters 1 --warmup 0 \
        --by-shape --top 25 || exit 1
done
