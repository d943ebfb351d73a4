#!/bin/bash
# Exhaustive accuracy sweep of the JIT's vector math (codegen/jit/jit_vmath.c):
# every one of the 2^32 f32 bit patterns (plus the special values) through
# each f32 function compiled as a one-op LOOP kernel, compared with the f64
# C library (error in ulps of the correctly rounded f32 result), by running
# tests/test_jit_vmath with HG_JIT_SWEEP_STRIDE=1 (the test itself checks
# every 1021st pattern). pow: x over every 64th pattern (capped at 2^20
# values) times 22 exponents including the Annex F special cases.
# Usage: bench/jit_vmath_sweep.sh [BUILD_DIR]   (default build; ~10-20 min)
set -eu
B=${1:-build}
export HG_JIT_SWEEP_STRIDE=1 HG_JIT_SWEEP_REPORT=1
for t in vmath_unary_ulp vmath_sincos_ulp vmath_pow_ulp; do
    "$B/tests/test_jit_vmath" $t
done
