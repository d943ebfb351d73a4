#!/bin/bash
# CLI test of the benchmark harness (issue 13): `bench/run --quick` on tiny
# sizes (configs/tiny-test.yaml and its graph-network variant) runs every
# agreement check of the peers against halograph (PyTorch: loss and its
# parts, AdamW moments and updates, sample step, NELBO; ONNX Runtime on the
# PyTorch export and on halograph's export) and a sabotage check (the
# PyTorch peer with one weight changed by 1e-3 must be reported as
# disagreeing), then times every side. Checks: exit 0, the results file with
# its header, table rows for every case, every agreement check passed and
# none failed; usage errors exit 2.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
BUILD=$(dirname "$HG")
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_bench: $*"; exit 1; }
[ -x "$BUILD/bench/hg_bench" ] || fail "$BUILD/bench/hg_bench not built"
/usr/bin/python3 -c "import torch, h5py, numpy, yaml" || fail "/usr/bin/python3 lacks torch/h5py/numpy/yaml (tools/install-deps installs them)"

# usage errors
"$SRC/bench/run" --quick --cases no-such-case --build "$BUILD" --work "$T/w" >"$T/u.out" 2>&1
[ $? -eq 2 ] || fail "unknown case: expected exit 2"
grep -q "unknown case" "$T/u.out" || fail "unknown case: message"
"$SRC/bench/run" --quick --backend no-such-backend --build "$BUILD" --work "$T/w" >"$T/u.out" 2>&1
[ $? -eq 2 ] || fail "unknown backend: expected exit 2"

"$SRC/bench/run" --quick --iters 2 --warmup 1 --build "$BUILD" --work "$T/w" --out "$T/results.md" >"$T/log" 2>&1
rc=$?
[ $rc -eq 0 ] || { tail -30 "$T/log"; fail "bench/run --quick exited $rc"; }
grep -q "reported as disagreeing (ok)" "$T/log" || fail "the sabotaged peer was not reported"
grep -q "every agreement check passed" "$T/log" || fail "no 'every agreement check passed'"
if grep -q "DISAGREES" "$T/results.md"; then fail "a disagreement in results.md"; fi
for h in "- date:" "- command:" "- CPU:" "- f32 peak" "## Time per step" "## Agreement"; do
    grep -qF -- "$h" "$T/results.md" || fail "results.md lacks '$h'"
done
for c in tiny-transformer-train tiny-transformer-sample tiny-transformer-nelbo10 tiny-graph-train tiny-graph-sample; do
    grep -q "^| $c (B " "$T/results.md" || fail "no timing row for $c"
    grep -q "^| $c | agrees" "$T/results.md" || fail "PyTorch agreement row of $c"
done
[ -s "$T/results.json" ] || fail "no results.json"
echo "PASS cli_bench"
