#!/bin/bash
# CLI test of `halograph coverage` and tools/plot_coverage.py: on a seeded
# tiny model (configs/tiny-test.yaml, 3 steps, 4 FastPM clouds x 64 haloes)
# every cloud's profile must equal `halograph likelihood --index I` with the
# same options (common random numbers), and the intervals (68% and 95%),
# coverage fractions, bias and width are recomputed here independently from
# those `likelihood` profiles. Usage errors exit 2; outputs never replace inputs.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_coverage: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_coverage: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
tiny_run "$T" "$SRC/configs/tiny-test.yaml"
O=(--grid 0.6:1.0:7 --steps 4 --replicas 3 --seed 5)
C=("$HG" coverage --run "$T/run" --data "$T/d.h5" --split train --param sigma_8 "${O[@]}")

# usage errors: exit 2, nothing written
"$HG" coverage --help | grep -q "usage: halograph coverage" || fail "--help"
"$HG" coverage --run "$T/run" --data "$T/d.h5" --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --param should exit 2"
"${C[@]}" --max-clouds 0 --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--max-clouds 0 should exit 2"
"${C[@]}" --index 0 --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--index is not a coverage option"
"${C[@]}" --grid 1:0:3 --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "reversed grid should exit 2"
"$HG" coverage --run "$T/run" --data "$T/d.h5" --param h --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no default grid should exit 2"
sum0=$(cat "$T/d.h5" "$T/run/checkpoint.h5" | md5sum)
"${C[@]}" --out "$T/d.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "output = dataset should exit 2"
"${C[@]}" --out "$T/run/checkpoint.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "output = checkpoint should exit 2"
[ "$sum0" = "$(cat "$T/d.h5" "$T/run/checkpoint.h5" | md5sum)" ] || fail "an input was modified"
msg=$("$HG" coverage --run "$T/run" --data "$T/d.h5" --param h --grid 0.5:0.9:3 --out "$T/c.h5" 2>&1)
[ $? -eq 1 ] && echo "$msg" | grep -q "not a conditioning parameter" || fail "bad param: $msg"
[ ! -e "$T/c.h5" ] || fail "a failed command left an output"

# the coverage of the 2 training clouds, and each profile by `likelihood`
"${C[@]}" --out "$T/c.h5" >"$T/c.log" 2>&1 || { cat "$T/c.log"; fail "coverage"; }
grep -q "inside the 68% interval for a fraction" "$T/c.log" || fail "no summary printed: $(cat "$T/c.log")"
for i in 0 1; do
    "$HG" likelihood --run "$T/run" --data "$T/d.h5" --split train --index $i --param sigma_8 "${O[@]}" \
        --out "$T/p$i.h5" >/dev/null 2>&1 || fail "likelihood --index $i"
done
"${C[@]}" --max-clouds 1 --out "$T/c1.h5" >/dev/null 2>&1 || fail "coverage --max-clouds 1"
$PY - "$T" <<'PYEOF' || fail "coverage file vs independent recomputation"
import sys, h5py, numpy as np
t = sys.argv[1]
c = h5py.File(t + "/c.h5")
assert c.attrs["format"] in (b"halograph-coverage-1", "halograph-coverage-1")
g = c["grid"][:]
assert np.allclose(g, np.linspace(0.6, 1.0, 7)) and g[-1] == 1.0
L = c["loglik"][:]
assert L.shape == (2, 7)

def interval(g, l, delta):
    b = int(np.argmax(l)); d = 2 * (l - l[b]); thr = -delta
    j = b
    while j > 0 and d[j - 1] >= thr: j -= 1
    lo = g[0] if j == 0 else g[j - 1] + (thr - d[j - 1]) / (d[j] - d[j - 1]) * (g[j] - g[j - 1])
    o = j == 0
    j = b
    while j < len(g) - 1 and d[j + 1] >= thr: j += 1
    hi = g[-1] if j == len(g) - 1 else g[j] + (d[j] - thr) / (d[j] - d[j + 1]) * (g[j + 1] - g[j])
    return g[b], lo, hi, o or j == len(g) - 1

d = h5py.File(t + "/d.h5")
ins68 = ins95 = bias = width = 0.0
for i in range(2):
    p = h5py.File(t + f"/p{i}.h5")
    l = p["loglik"][:]
    # common random numbers: the same profile as `likelihood --index i`
    assert np.array_equal(L[i], l), (i, L[i], l)
    sim = int(d["split/train"][i])
    truth = float(np.float32(d["cosmology"][sim, 1]))
    assert c["sims"][i] == sim and abs(c["truth"][i] - truth) < 1e-12
    best, lo, hi, op = interval(g, l, 0.989)
    _, lo95, hi95, op95 = interval(g, l, 3.841)
    assert c["best"][i] == best
    for k, v in (("lo68", lo), ("hi68", hi), ("lo95", lo95), ("hi95", hi95)):
        assert abs(c[k][i] - v) < 1e-12, (k, i, c[k][i], v)
    assert c["open68"][i] == op and c["open95"][i] == op95
    assert lo95 <= lo and hi95 >= hi
    ins68 += (lo <= truth <= hi) / 2; ins95 += (lo95 <= truth <= hi95) / 2
    bias += (best - truth) / 2; width += (hi - lo) / 2
for k, v in (("frac68", ins68), ("frac95", ins95), ("mean_bias", bias), ("mean_width68", width)):
    assert abs(c.attrs[k] - v) < 1e-12, (k, c.attrs[k], v)
c1 = h5py.File(t + "/c1.h5")
assert c1["loglik"].shape == (1, 7) and np.array_equal(c1["loglik"][0], L[0])
PYEOF

# the plot (when matplotlib is there): written, refuses to replace its input
if $PY -c "import matplotlib" 2>/dev/null; then
    $PY "$SRC/tools/plot_coverage.py" "$T/c.h5" --out "$T/c.png" >/dev/null || fail "plot_coverage.py"
    [ -s "$T/c.png" ] && head -c 8 "$T/c.png" | grep -q PNG || fail "no PNG written"
    sum1=$(md5sum <"$T/c.h5")
    $PY "$SRC/tools/plot_coverage.py" "$T/c.h5" --out "$T/c.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "plot over its input should exit 2"
    [ "$sum1" = "$(md5sum <"$T/c.h5")" ] || fail "plot_coverage.py modified its input"
    ls "$T" | grep -q "\.tmp\." && fail "temporary file left"
fi
echo "PASS cli_coverage"
