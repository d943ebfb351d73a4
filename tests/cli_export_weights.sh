#!/bin/bash
# CLI test of `halograph export-weights` and of the shipped pretrained
# weights (data/pretrained/default):
# - a tiny EMA run (configs/tiny-test.yaml, ema_decay 0.9, 5 steps) exported:
#   only the parameters (= the run's EMA weights) are in the checkpoint, the
#   config/norm/metrics/COMMANDS files are there, a sample from the export is
#   bit-identical to one from the run; outputs never replace inputs (exit 2);
# - the shipped weights: their parameter count (824,409: configs/demo-transformer.yaml,
#   README) and the SHA-256 of their files (data/pretrained/NAME/SHA256SUMS),
#   a one-cloud sample at T = 10 that is finite with positions inside the box,
#   and nelbo, likelihood and export-onnx on them.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_export_weights: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_export_weights: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
tiny_dataset "$T"
sed 's/^\( *ema_decay:\).*/\1 0.9/' "$SRC/configs/tiny-test.yaml" >"$T/ema.yaml"
"$HG" train --config "$T/ema.yaml" --data "$T/d.h5" --out "$T/run" --steps 5 >/dev/null 2>&1 || fail "train"
echo "halograph train --config ema.yaml --data d.h5 --out run --steps 5" >"$T/cmds"

"$HG" export-weights --help | grep -q "usage: halograph export-weights" || fail "--help"
"$HG" export-weights --run "$T/run" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --out should exit 2"
sum0=$(cat "$T/run"/* | md5sum)
"$HG" export-weights --run "$T/run" --out "$T/run" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--out = --run should exit 2"
[ "$sum0" = "$(cat "$T/run"/* | md5sum)" ] || fail "the run was modified"
msg=$("$HG" export-weights --run "$T/none" --out "$T/pt" 2>&1); [ $? -eq 1 ] || fail "missing run: $msg"
[ ! -e "$T/pt" ] || fail "a failed export left its directory"

"$HG" export-weights --run "$T/run" --out "$T/pt" --commands "$T/cmds" >"$T/x.log" 2>&1 || { cat "$T/x.log"; fail "export"; }
grep -q "EMA weights" "$T/x.log" || fail "export did not report the EMA weights: $(cat "$T/x.log")"
for f in checkpoint.h5 config.yaml norm.h5 run.yaml metrics.csv COMMANDS; do [ -s "$T/pt/$f" ] || fail "no $f"; done
grep -q "^halograph train --config ema.yaml" "$T/pt/COMMANDS" && grep -q "^halograph export-weights" "$T/pt/COMMANDS" ||
    fail "COMMANDS: $(cat "$T/pt/COMMANDS")"
cmp -s "$T/run/metrics.csv" "$T/pt/metrics.csv" || fail "metrics.csv not copied"
for r in run pt; do
    "$HG" sample --run "$T/$r" --n 2 --steps 5 --cond Omega_m=0.3,sigma_8=0.8 --seed 3 --out "$T/s_$r.h5" >/dev/null 2>&1 ||
        fail "sample --run $r"
done
$PY - "$T" <<'PYEOF' || fail "exported checkpoint"
import sys, h5py, numpy as np
t = sys.argv[1]
run, pt = h5py.File(t + "/run/checkpoint.h5"), h5py.File(t + "/pt/checkpoint.h5")
def leaves(g, pre=""):
    out = {}
    for k, v in g.items():
        out.update(leaves(v, pre + k + "/") if isinstance(v, h5py.Group) else {pre + k: v[()]})
    return out
a, b = leaves(run["state"]), leaves(pt["state"])
params = {k: v for k, v in a.items() if not k.startswith(("opt/", "ema/"))}
assert any(k.startswith("ema/") for k in a) and any(k.startswith("opt/") for k in a)
assert set(b) == set(params), sorted(set(b) ^ set(params))
# the exported parameters are the run's EMA weights, which differ from its raw parameters
assert all(np.array_equal(b[k], a["ema/" + k]) for k in b)
assert any(not np.array_equal(b[k], params[k]) for k in b)
assert pt.attrs["step"] == run.attrs["step"] == 5
assert np.array_equal(h5py.File(t + "/s_run.h5")["samples"][:], h5py.File(t + "/s_pt.h5")["samples"][:])
PYEOF

# the shipped weights
P=$SRC/data/pretrained/default
if [ ! -e "$P/checkpoint.h5" ]; then echo "PASS cli_export_weights (no shipped weights)"; exit 0; fi
( cd "$P" && sha256sum --quiet -c SHA256SUMS ) || fail "checksums of $P (SHA256SUMS)"
$PY - "$P" <<'PYEOF' || fail "parameter count of the shipped weights"
import sys, h5py, numpy as np
c = h5py.File(sys.argv[1] + "/checkpoint.h5")
n = []
c["state"].visititems(lambda k, v: n.append(v.size) if isinstance(v, h5py.Dataset) else None)
assert sum(n) == 824409, sum(n)
c["state"].visititems(lambda k, v: None if not isinstance(v, h5py.Dataset) else
                      (_ for _ in ()).throw(AssertionError(k)) if k.startswith(("opt", "ema")) else None)
PYEOF
"$HG" sample --run "$P" --n 1 --steps 10 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/s.h5" >/dev/null 2>&1 || fail "sample --run $P"
$PY - "$T/s.h5" <<'PYEOF' || fail "sample of the shipped weights"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1])
x, L = f["samples"][:], f.attrs["box_size"]
assert x.shape[0] == 1 and np.isfinite(x).all()
assert (x[..., :3] >= 0).all() and (x[..., :3] < L).all(), (x[..., :3].min(), x[..., :3].max(), L)
PYEOF
"$HG" import --halos "$SRC/data/fastpm-lh/halos.npy" --cosmology "$SRC/data/fastpm-lh/cosmology.csv" --box 500 \
    --split 0.8,0.1,0.1 --seed 1 --out "$T/fastpm.h5" >/dev/null || fail "import fastpm"
"$HG" likelihood --run "$P" --data "$T/fastpm.h5" --index 0 --param Omega_m --grid 0.2:0.4:2 --steps 2 --replicas 1 \
    --out "$T/p.h5" >/dev/null 2>&1 || fail "likelihood --run $P"
"$HG" nelbo --run "$P" --data "$T/fastpm.h5" --steps 2 --out "$T/e.h5" >/dev/null 2>&1 || fail "nelbo --run $P"
"$HG" export-onnx --run "$P" --graph score --batch 1 --out "$T/m.onnx" >/dev/null 2>&1 || fail "export-onnx --run $P"
[ -s "$T/m.onnx" ] || fail "no ONNX written"
echo "PASS cli_export_weights"
