#!/bin/bash
# CLI test of `halograph export-onnx`: a tiny trained run (configs/tiny-test.yaml,
# 3 steps on 4 FastPM clouds x 64 haloes) exported as score, sample-step and
# nelbo graphs, and a config exported with initial weights. Checks: the
# reference checker (tests/onnx_check.py, full_check), initializers named by
# parameter paths holding the checkpoint's values (h5py), doc strings with
# shapes and units, the noise inputs, ONNX Runtime runs of the exported score
# graph (tests/ort_run.js), usage errors (exit 2), bad input (exit 1) and the
# atomic write (a failed export leaves an existing file untouched, no temp).
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_onnx: $*"; exit 1; }
if ! $PY -c "import h5py, numpy, onnx" 2>/dev/null; then
    echo "SKIP cli_onnx: /usr/bin/python3 lacks h5py/numpy/onnx"; exit 0
fi

# usage errors: exit 2
"$HG" export-onnx --help | grep -q "usage: halograph export-onnx" || fail "--help"
expect2() { # expect2 WHAT PATTERN ARGS...
    local what=$1 pat=$2; shift 2
    local msg; msg=$("$HG" export-onnx "$@" 2>&1); local rc=$?
    [ $rc -eq 2 ] || fail "$what: exit $rc, expected 2 ($msg)"
    echo "$msg" | grep -q -- "$pat" || fail "$what: message '$msg' lacks '$pat'"
}
C="$SRC/configs/tiny-test.yaml"
expect2 "no source" "exactly one of --run" --graph score --batch 1 --out "$T/m.onnx"
expect2 "both sources" "exactly one of --run" --run "$T" --config "$C" --graph score --batch 1 --out "$T/m.onnx"
expect2 "no --out" "are required" --config "$C" --graph score --batch 1
expect2 "bad kind" "'train' is not one of" --config "$C" --graph train --batch 1 --out "$T/m.onnx"
expect2 "bad batch" "--batch: '0'" --config "$C" --graph score --batch 0 --out "$T/m.onnx"
expect2 "unknown option" "unknown option '--frob'" --config "$C" --frob
expect2 "missing value" "--out needs a value" --config "$C" --graph score --batch 1 --out
expect2 "terms" "must divide" --config "$C" --graph nelbo --batch 1 --nelbo-steps 5 --nelbo-terms 2 --out "$T/m.onnx"

# bad input: exit 1 with a message
msg=$("$HG" export-onnx --run "$T/nope" --graph score --batch 1 --out "$T/m.onnx" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing run: exit $rc"
echo "$msg" | grep -q "nope" || fail "missing run message: $msg"
[ ! -e "$T/m.onnx" ] || fail "a failed export wrote $T/m.onnx"

# --config: initial weights, checker, paths and docs
"$HG" export-onnx --config "$C" --graph sample-step --batch 2 --out "$T/cfg.onnx" >/dev/null \
    || fail "export --config"
$PY "$SRC/tests/onnx_check.py" "$T/cfg.onnx" --input z --input t --input s --input cond \
    --input mask --initializer score/cond_mlp/dense_0/kernel --output z_next >/dev/null \
    || fail "checker on cfg.onnx"

# a trained run
tiny_run "$T" "$C"
for k in score sample-step nelbo; do
    out=$("$HG" export-onnx --run "$T/run" --graph $k --batch 2 --nelbo-steps 4 --nelbo-terms 2 \
          --out "$T/$k.onnx") || fail "export --run $k"
    echo "$out" | grep -q "wrote $T/$k.onnx ($k graph, batch 2" || fail "export $k output: $out"
    $PY "$SRC/tests/onnx_check.py" "$T/$k.onnx" --input mask >/dev/null || fail "checker on $k"
done
ls "$T"/*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind"

# initializers = the checkpoint's parameters, by path; doc strings; noise inputs
$PY - "$T" <<'EOF' || fail "checkpoint values / docs"
import sys, h5py, numpy as np, onnx
from onnx import numpy_helper
t = sys.argv[1]
m = onnx.load(t + "/score.onnx")
inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
with h5py.File(t + "/run/checkpoint.h5", "r") as f:
    params = []
    f["state"].visititems(lambda n, o: params.append(n) if isinstance(o, h5py.Dataset) else None)
    used = [p for p in params if p in inits]
    assert any(p.startswith("score/") for p in used), "no score parameters by path"
    for p in used:
        assert np.array_equal(inits[p], f["state/" + p][()]), "values of " + p
    assert not any(p.startswith("opt/") for p in inits), "optimiser state exported"
docs = {v.name: v.doc_string for v in list(m.graph.input) + list(m.graph.output)}
assert docs["z"].startswith("f32[2,64,7]: ") and "normalised units" in docs["z"], docs["z"]
assert "log-SNR" in docs["gamma"] and docs["gamma"].startswith("f32[2]: "), docs["gamma"]
assert docs["e_hat"].startswith("f32[2,64,7]: "), docs["e_hat"]
assert "Inputs:" in m.doc_string and "after 3 steps" in m.doc_string, m.doc_string
s = onnx.load(t + "/sample-step.onnx")
noise = [i for i in s.graph.input if i.name.startswith("noise_")]
assert len(noise) == 1 and "standard normal" in noise[0].doc_string, [i.name for i in s.graph.input]
n = onnx.load(t + "/nelbo.onnx")
assert len([i for i in n.graph.input if i.name.startswith("noise_")]) == 2
assert "nats" in {v.name: v.doc_string for v in n.graph.output}["nelbo"]
assert not any(node.op_type == "RandomNormal" for node in s.graph.node)
EOF

# the exported score graph runs in ONNX Runtime (values: tests/test_onnx.c)
if (cd "$SRC" && node -e "try{require('onnxruntime-node')}catch(e){require('./build/npm/node_modules/onnxruntime-node')}") >/dev/null 2>&1; then
    mkdir -p "$T/in"
    $PY - "$T" <<'EOF' || fail "writing inputs"
import sys, numpy as np
t = sys.argv[1]
r = np.random.default_rng(1)
np.save(t + "/in/z.npy", r.standard_normal((2, 64, 7)).astype(np.float32))
np.save(t + "/in/gamma.npy", np.array([-3.0, 5.0], np.float32))
np.save(t + "/in/cond.npy", np.array([[0.3, 0.8], [0.2, 0.7]], np.float32))
np.save(t + "/in/mask.npy", np.ones((2, 64), np.float32))
for k in ("seed", "step", "replica"):
    np.save(t + "/in/%s.npy" % k, np.array(0, np.int32))
EOF
    (cd "$SRC" && node tests/ort_run.js "$T/score.onnx" "$T/in" "$T/out") >/dev/null || fail "ort_run"
    $PY -c "import numpy as np, sys; a = np.load('$T/out/e_hat.npy'); sys.exit(0 if a.shape == (2, 64, 7) and np.isfinite(a).all() else 1)" \
        || fail "e_hat from ONNX Runtime"
else
    echo "skipped ONNX Runtime run: node or onnxruntime-node not available"
fi

# atomic write: a failing export leaves the existing file as it was
cp "$T/score.onnx" "$T/keep.onnx"
sum=$(md5sum < "$T/keep.onnx")
"$HG" export-onnx --run "$T/run" --graph score --batch 2 --out "$T/nodir/keep.onnx" >/dev/null 2>&1 \
    && fail "export into a missing directory succeeded"
msg=$("$HG" export-onnx --config "$SRC/configs/demo-graph.yaml" --graph score --batch 1 --out "$T/keep.onnx" --box -1 2>&1)
[ "$(md5sum < "$T/keep.onnx")" = "$sum" ] || fail "keep.onnx changed"
ls "$T"/*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind"
echo ok
