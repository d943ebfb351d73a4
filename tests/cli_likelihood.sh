#!/bin/bash
# CLI test of `halograph likelihood` and `halograph nelbo`: grids, the
# stored profile and interval (recomputed here from the stored values),
# replicas, per-cloud NELBO, bad inputs.
# A tiny model (configs/tiny-test.yaml, 3 training steps) on 4 FastPM clouds x 64 haloes.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_likelihood: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_likelihood: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
tiny_run "$T" "$SRC/configs/tiny-test.yaml"
L=("$HG" likelihood --run "$T/run" --data "$T/d.h5")

# usage errors: exit 2
"$HG" likelihood --help | grep -q "usage: halograph likelihood" || fail "likelihood --help"
"$HG" nelbo --help | grep -q "usage: halograph nelbo" || fail "nelbo --help"
"${L[@]}" --param Omega_m --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --index should exit 2"
"${L[@]}" --index 0 --param Omega_m --grid 0.5:0.1:3 --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "reversed grid should exit 2"
"${L[@]}" --index 0 --param Omega_m --grid 0.1:0.5:1 --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "1-point grid should exit 2"
"${L[@]}" --index 0 --param Omega_m --grid 0.1:0.5 --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "2-field grid should exit 2"
"${L[@]}" --index 0 --param Omega_m --replicas 0 --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--replicas 0 should exit 2"
"${L[@]}" --index 0 --param h --out "$T/p.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no default grid should exit 2"

# bad input: exit 1
expect1() { # expect1 WHAT PATTERN ARGS...
    local what=$1 pat=$2; shift 2
    local msg; msg=$("$HG" "$@" 2>&1); local rc=$?
    [ $rc -eq 1 ] || fail "$what: exit $rc, expected 1 ($msg)"
    echo "$msg" | grep -q -- "$pat" || fail "$what: message '$msg' lacks '$pat'"
}
expect1 "param not conditioning" "not a conditioning parameter" likelihood --run "$T/run" --data "$T/d.h5" --index 0 --param h --grid 0.5:0.9:3 --out "$T/p.h5"
expect1 "index out of range" "has 1 clouds" likelihood --run "$T/run" --data "$T/d.h5" --index 3 --param Omega_m --out "$T/p.h5"
msg=$("$HG" likelihood --run "$T/run" --data "$T/d.h5" --split tests --index 0 --param Omega_m --out "$T/p.h5" 2>&1)
[ $? -eq 2 ] || fail "bad split: a malformed --split should exit 2 ($msg)"
echo "$msg" | grep -q -- "--split" || fail "bad split: message '$msg' lacks '--split'"
# a dataset of another box than the run's is refused (likelihood and nelbo)
"$HG" import --halos "$T/h.npy" --cosmology "$T/c.csv" --box 1000 --split 0.5,0.25,0.25 --seed 1 \
    --out "$T/d1000.h5" >/dev/null || fail "import box 1000"
expect1 "other box (likelihood)" "differs from the box 500" likelihood --run "$T/run" --data "$T/d1000.h5" --index 0 --param Omega_m --out "$T/p.h5"
expect1 "other box (nelbo)" "differs from the box 500" nelbo --run "$T/run" --data "$T/d1000.h5" --split test --out "$T/e.h5"
expect1 "missing data" "none.h5" likelihood --run "$T/run" --data "$T/none.h5" --index 0 --param Omega_m --out "$T/p.h5"
expect1 "data not HDF5" "c.csv" nelbo --run "$T/run" --data "$T/c.csv" --out "$T/e.h5"
expect1 "missing run" "no-run" nelbo --run "$T/no-run" --data "$T/d.h5" --out "$T/e.h5"
expect1 "unwritable output" "cannot create" nelbo --run "$T/run" --data "$T/d.h5" --steps 2 --out "$T/no/dir/e.h5"
[ ! -e "$T/p.h5" ] && [ ! -e "$T/e.h5" ] || fail "a failed command left an output"

# a profile: 5 grid points, S = 4, K = 3
"${L[@]}" --index 0 --param sigma_8 --grid 0.6:1.0:5 --steps 4 --replicas 3 --seed 9 --out "$T/p.h5" >"$T/p.log" 2>&1 ||
    { cat "$T/p.log"; fail "likelihood"; }
grep -q "68% interval" "$T/p.log" || fail "no interval printed: $(cat "$T/p.log")"
"${L[@]}" --index 0 --param sigma_8 --grid 0.6:1.0:5 --steps 4 --replicas 3 --seed 9 --threads 1 --out "$T/p1.h5" >/dev/null 2>&1 || fail "likelihood --threads 1"
"$HG" nelbo --run "$T/run" --data "$T/d.h5" --split val --steps 4 --replicas 2 --out "$T/e.h5" >"$T/e.log" 2>&1 || { cat "$T/e.log"; fail "nelbo"; }
$PY - "$T" <<'EOF' || fail "profile / nelbo files"
import sys, h5py, numpy as np
t = sys.argv[1]
p = h5py.File(t + "/p.h5")
g, l, r = p["grid"][:], p["loglik"][:], p["loglik_replicas"][:]
assert np.allclose(g, np.linspace(0.6, 1.0, 5)) and g[-1] == 1.0
assert r.shape == (5, 3) and np.allclose(l, r.mean(axis=1), rtol=1e-12)
assert len(set(r[0])) == 3, "replicas should differ"
assert np.array_equal(l, h5py.File(t + "/p1.h5")["loglik"][:]), "thread count changed the profile"
# maximum and 68% interval, recomputed: 2 (l - max) >= -0.989, linear interpolation
b = int(np.argmax(l)); d = 2 * (l - l[b]); thr = -0.989
j = b
while j > 0 and d[j - 1] >= thr: j -= 1
lo = g[0] if j == 0 else g[j - 1] + (thr - d[j - 1]) / (d[j] - d[j - 1]) * (g[j] - g[j - 1])
j = b
while j < len(g) - 1 and d[j + 1] >= thr: j += 1
hi = g[-1] if j == len(g) - 1 else g[j] + (d[j] - thr) / (d[j] - d[j + 1]) * (g[j + 1] - g[j])
assert p.attrs["best"] == g[b] and p.attrs["max_loglik"] == l[b]
assert abs(p.attrs["lo68"] - lo) < 1e-12 and abs(p.attrs["hi68"] - hi) < 1e-12, (p.attrs["lo68"], lo, p.attrs["hi68"], hi)
assert p.attrs["param"] == "sigma_8" and p.attrs["steps"] == 4 and p.attrs["replicas"] == 3
d5 = h5py.File(t + "/d.h5")
sim = int(d5["split/test"][0])
assert p.attrs["simulation"] == sim and abs(p.attrs["true_value"] - d5["cosmology"][sim, 1]) < 1e-6
e = h5py.File(t + "/e.h5")
n = len(d5["split/val"][:])
assert e["nelbo"].shape == (n,) and e["nelbo_replicas"].shape == (n, 2) and e["nelbo_parts"].shape == (n, 3)
assert np.allclose(e["nelbo"][:], e["nelbo_replicas"][:].mean(axis=1), rtol=1e-12)
assert np.allclose(e["nelbo"][:], e["nelbo_parts"][:].sum(axis=1), rtol=1e-6)
assert list(e["sims"][:]) == list(d5["split/val"][:])
assert np.isfinite(e["nelbo"][:]).all()
EOF
echo "PASS cli_likelihood"
