#!/bin/bash
# The JIT figures of issue 11 on this machine:
#  1. memory bandwidth: a STREAM-style triad a[i] = b[i] + s c[i] over three
#     2^26-float (256 MiB) arrays with THREADS OpenMP threads, best of 5 (gcc -O3
#     -march=native, compiled here from the snippet below), counting 3
#     arrays moved (no write-allocate);
#  2. per fusion-group kernel of the demo graphs on the jit backend
#     (`halograph profile --config C --graph G --backend jit --threads THREADS`):
#     every loop kernel signature (--by-shape) moving at least 1 MB with its
#     GB/s (inputs read once + outputs written once) against half the
#     bandwidth, and those with a transcendental member with their ns per
#     output element;
#  3. compile time of the demo training program, cold (empty cache
#     directory) and from the disk cache (the `compile:` line of profile).
# Usage: [THREADS=N] bench/jit_figures.sh [BUILD_DIR]   (THREADS default 2;
# on a loaded machine use THREADS=1: the triad and the kernels then run on
# one core each)
set -eu
B=${1:-build}
TH=${THREADS:-2}
T=$(mktemp -d)
cat > "$T/triad.c" <<'C'
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    long n = 1L << 26;
    float *a = malloc(n * 4), *b = malloc(n * 4), *c = malloc(n * 4);
#pragma omp parallel for
    for (long i = 0; i < n; i++) { a[i] = 0; b[i] = 1; c[i] = 2; }
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t = omp_get_wtime();
#pragma omp parallel for
        for (long i = 0; i < n; i++) a[i] = b[i] + 3.0f * c[i];
        t = omp_get_wtime() - t;
        if (t < best) best = t;
    }
    printf("%.2f\n", 3.0 * n * 4 / best / 1e9 + a[7] * 0);
    return 0;
}
C
gcc -O3 -march=native -fopenmp "$T/triad.c" -o "$T/triad"
BW=$(OMP_NUM_THREADS=$TH "$T/triad")
echo "memory bandwidth (triad, $TH threads): $BW GB/s; half: $(echo "$BW / 2" | bc -l | cut -c1-6) GB/s"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for cfg in demo-transformer demo-graph; do
    for g in train sample-step; do
        echo "== $cfg $g"
        XDG_CACHE_HOME=$T/cache "$B/halograph" profile --config configs/$cfg.yaml --graph $g \
            --backend jit --threads $TH --iters 3 --by-shape --top 100000 > "$T/p.txt"
        grep -E "^compile:|^step time" "$T/p.txt"
        # rows (--by-shape: one per kernel signature, mean over its calls):
        # # total_ms share calls mean_us GFLOP/s GB/s MFLOP/call kernel shape instances
        # Only LOOP kernels (the JIT's elementwise fusion groups) moving >= 1 MB;
        # ns/element per element of the output shape (the iteration space of
        # every kernel without a reduction).
        awk -v bw="$BW" '
          $1 ~ /^[0-9]+$/ && NF >= 10 && $9 ~ /^loop:/ {
            mean_us = $5; gbs = $7; name = $9; shape = $10;
            bytes = gbs * 1e3 * mean_us;
            if (bytes < 1e6) next;
            s = shape; sub(/^[a-z0-9]+\[/, "", s); sub(/\]$/, "", s);
            n = split(s, d, ","); numel = 1; for (i = 1; i <= n; i++) numel *= d[i];
            trans = name ~ /(exp|log|tanh|gelu|sigmoid|softplus|erf|sin|cos|pow)/;
            bad = gbs < bw / 2; nb += bad; nk++;
            printf "%-44s %-18s %7.2f MB %7.2f GB/s %s\n", substr(name, 1, 44), shape, bytes / 1e6, gbs,
                   (bad ? "BELOW half bandwidth" : "ok");
            if (trans && numel > 0) {
              ns = mean_us * 1e3 / numel; slow = ns > 1; nt++; ns_bad += slow;
              printf "%-44s %-18s %7.3f ns/element %s\n", substr(name, 1, 44), shape, ns,
                     (slow ? "SLOWER than 1 ns" : "ok");
            }
          }
          END { printf "summary: %d loop kernels >= 1 MB, %d below half bandwidth; %d transcendental, %d slower than 1 ns/element\n", nk, nb, nt, ns_bad }' "$T/p.txt"
    done
done
rm -rf "$T/cache"
for i in cold cached; do
    XDG_CACHE_HOME=$T/cache2 "$B/halograph" profile --config configs/demo-transformer.yaml --graph train \
        --backend jit --threads $TH --iters 1 --warmup 0 --no-profile | grep -E "^compile:" | sed "s/^/$i /"
done
rm -rf "$T"
