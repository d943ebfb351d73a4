#!/bin/bash
# CLI test of `halograph xi` and `halograph eval` on the embedded FastPM set,
# checked against independent numpy brute force, then tools/plot_eval.py
# (tests/test_plot.py) on a synthetic and on the real stats.h5.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_eval: $*"; exit 1; }

# 1. plots from a small synthetic stats file (skips itself only without matplotlib)
$PY "$SRC/tests/test_plot.py" "$SRC" "$T/plot-synthetic" >"$T/plot1.log" 2>&1 || { cat "$T/plot1.log"; fail "test_plot.py (synthetic)"; }
tail -1 "$T/plot1.log"

if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_eval: /usr/bin/python3 lacks h5py/numpy, the CLI checks need them"; exit 0
fi
if ! "$HG" --help | grep -q "^  import "; then
    echo "SKIP cli_eval: 'halograph import' is not available yet, CLI checks on data/fastpm-lh skipped"; exit 0
fi
"$HG" import --halos "$SRC/data/fastpm-lh/halos.npy" --cosmology "$SRC/data/fastpm-lh/cosmology.csv" \
    --box 500 --out "$T/d.h5" >/dev/null || fail "import of data/fastpm-lh"

# 2. usage errors
"$HG" xi --data "$T/d.h5" --out "$T/x.h5" 2>/dev/null; [ $? -eq 2 ] || fail "xi without --index should exit 2"
"$HG" xi --data "$T/d.h5" --index 0 --bins 5:1:3 --out "$T/x.h5" 2>/dev/null; [ $? -eq 2 ] || fail "bad --bins should exit 2"
msg=$("$HG" xi --data "$T/d.h5" --split test --index 999 --out "$T/x.h5" 2>&1); [ $? -eq 1 ] || fail "index out of range should exit 1"
echo "$msg" | grep -q "split 'test' has" || fail "out-of-range message: $msg"
msg=$("$HG" xi --data "$T/d.h5" --index 0 --bins 1:300:5 --out "$T/x.h5" 2>&1); [ $? -eq 1 ] || fail "r > L/2 should fail"
echo "$msg" | grep -q "half the box" || fail "r > L/2 message: $msg"
msg=$("$HG" eval --samples "$T/none.h5" --data "$T/d.h5" --out "$T/ev" 2>&1); [ $? -eq 1 ] || fail "missing samples should exit 1"
echo "$msg" | grep -q "none.h5" || fail "missing samples message: $msg"

# 3. xi of test simulation 2, real and redshift space, vs numpy brute force
"$HG" xi --data "$T/d.h5" --split test --index 2 --out "$T/x.h5" >/dev/null || fail "xi"
"$HG" xi --data "$T/d.h5" --split test --index 2 --rsd --bins 1:60:13 --out "$T/xr.h5" >/dev/null || fail "xi --rsd"
"$HG" xi --data "$T/d.h5" --index 5 --out "$T/x5.h5" >/dev/null || fail "xi without --split"
$PY - "$T" <<'EOF' || fail "xi output check"
import sys, h5py, numpy as np
T = sys.argv[1]
d = h5py.File(T + "/d.h5", "r")
L = float(d.attrs["box_size"])
names = [n.decode() if isinstance(n, bytes) else n for n in d["cosmology"].attrs["names"]]

def counts(p, e, nmu=0):
    dx = p[None, :, :].astype(np.float64) - p[:, None, :].astype(np.float64)
    dx -= L * np.round(dx / L)
    r = np.sqrt((dx ** 2).sum(-1))
    off = ~np.eye(len(p), dtype=bool)
    r, dz = r[off], dx[..., 2][off]
    if not nmu:
        return np.histogram(r, bins=e)[0]
    mu = np.where(r > 0, dz / np.where(r > 0, r, 1), 0)
    return np.histogram2d(r, mu, bins=[e, np.linspace(-1, 1, nmu + 1)])[0]

def xi_nat(c, n, e):
    v = 4 / 3 * np.pi * (e[1:] ** 3 - e[:-1] ** 3)
    return c / (n * (n - 1) * v / L ** 3) - 1

sim = int(d["split/test"][2])
cloud = d["halos"][sim]
n = len(cloud)
x = h5py.File(T + "/x.h5", "r")
e = x["r_edges"][()]
assert np.allclose(e, np.linspace(0.5, 120, 60)), "default edges"
assert x.attrs["simulation"] == sim, (x.attrs["simulation"], sim)
c = counts(cloud[:, :3], e)
assert (x["npairs"][()] == c).all(), "npairs differ from brute force"
assert np.allclose(x["xi"][()], xi_nat(c, n, e), rtol=1e-12, atol=1e-12)

xr = h5py.File(T + "/xr.h5", "r")
e = xr["r_edges"][()]
assert np.allclose(e, np.linspace(1, 60, 13))
om = float(d["cosmology"][sim][names.index("Omega_m")])
z = float(d.attrs["redshift"])
H = 100 * np.sqrt(om * (1 + z) ** 3 + 1 - om)
pr = cloud[:, :3].astype(np.float64).copy()
pr[:, 2] = np.mod(pr[:, 2] + cloud[:, 5].astype(np.float64) / (H / (1 + z)), L)
pr = pr.astype(np.float32)  # the command works on float positions
dd = counts(pr, e, 200)
got = xr["npairs_smu"][()]
assert got.shape == (12, 200), got.shape
# mu exactly on a bin edge may be binned differently by numpy's floating bins: allow none
assert (got.sum(1) == dd.sum(1)).all(), "redshift-space r counts differ"
assert np.abs(got - dd).sum() <= 4, "mu binning differs: %d" % np.abs(got - dd).sum()
mu = np.linspace(-1, 1, 201)
rr = (n * (n - 1) * 4 / 3 * np.pi * (e[1:] ** 3 - e[:-1] ** 3) / L ** 3)[:, None] / 200
xsm = got / rr - 1
P2int = 0.5 * ((mu[1:] ** 3 - mu[1:]) - (mu[:-1] ** 3 - mu[:-1]))
assert np.allclose(xr["xi_0"][()], 0.5 * (xsm * np.diff(mu)).sum(1), rtol=1e-9, atol=1e-9)
assert np.allclose(xr["xi_2"][()], 2.5 * (xsm * P2int).sum(1), rtol=1e-9, atol=1e-9)
x5 = h5py.File(T + "/x5.h5", "r")
assert x5.attrs["simulation"] == 5
print("ok xi: counts equal numpy brute force (real and redshift space)")

# samples for eval: 5 train clouds (300 most massive haloes) labelled with
# test simulation 1's conditioning, plus 1 cloud at another cosmology
ts = int(d["split/test"][1])
cols = [names.index("Omega_m"), names.index("sigma_8")]
cond = d["cosmology"][ts][cols]
tr = d["split/train"][:6]
S = d["halos"][tr][:, :300, :]
C = np.tile(cond, (6, 1)).astype("f4")
C[5] = d["cosmology"][tr[5]][cols]
with h5py.File(T + "/s.h5", "w") as f:
    f["samples"] = S
    c = f.create_dataset("cond", data=C)
    c.attrs["names"] = ["Omega_m", "sigma_8"]
    f.attrs["box_size"] = L
    f.attrs["redshift"] = z
EOF

# 4. eval
msg=$("$HG" eval --samples "$T/s.h5" --data "$T/d.h5" --out "$T/ev" 2>&1); [ $? -eq 1 ] || fail "mixed conditionings without --index should fail"
echo "$msg" | grep -q "several conditionings" || fail "mixed conditioning message: $msg"
"$HG" eval --samples "$T/s.h5" --data "$T/d.h5" --split test --index 1 --knn-queries 20000 --out "$T/ev" >"$T/eval.log" 2>&1 || { cat "$T/eval.log"; fail "eval"; }
[ -s "$T/ev/summary.txt" ] || fail "summary.txt missing"
grep -q "^xi0 " "$T/ev/summary.txt" || fail "summary.txt lacks xi0"
$PY - "$T" <<'EOF' || fail "stats.h5 check"
import sys, h5py, numpy as np
T = sys.argv[1]
d = h5py.File(T + "/d.h5", "r")
L = float(d.attrs["box_size"])
f = h5py.File(T + "/ev/stats.h5", "r")
sim = int(d["split/test"][1])
assert f.attrs["simulation"] == sim and f.attrs["n_generated"] == 5, dict(f.attrs)
np.seterr(divide="ignore", invalid="ignore")
expect = ["xi0", "xi0_rsd", "xi2_rsd", "vel_x", "vel_y", "vel_z", "mass_diff", "mass_cum"] + \
    ["knn_k%d" % k for k in range(1, 9)]
for g in expect:
    assert g in f, "missing group " + g
    t, gen, m, s, r = (f[g][k][()] for k in ["true", "gen", "mean", "std", "residual"])
    assert gen.shape == (5, t.size), (g, gen.shape)
    assert np.allclose(m, gen.mean(0)) and np.allclose(s, gen.std(0)), g
    ok = s > 0
    assert np.allclose(r[ok], ((t - m) / s)[ok]) and np.isnan(r[~ok]).all(), g
    dist = f[g].attrs["summary_distance"]
    assert np.isclose(dist, np.mean(r[ok] ** 2)), (g, dist)
    assert f[g].attrs["n_bins_used"] == ok.sum()
# the truth: the 300 most massive haloes of the test simulation
cloud = d["halos"][sim][:300]
e = f["xi0/edges"][()]
dx = cloud[None, :, :3].astype(np.float64) - cloud[:, None, :3].astype(np.float64)
dx -= L * np.round(dx / L)
r = np.sqrt((dx ** 2).sum(-1))[~np.eye(300, dtype=bool)]
c = np.histogram(r, bins=e)[0]
xi = c / (300 * 299 * 4 / 3 * np.pi * (e[1:] ** 3 - e[:-1] ** 3) / L ** 3) - 1
assert np.allclose(f["xi0/true"][()], xi), "true xi0 differs from brute force"
me = f["mass_diff/edges"][()]
lm = np.log10(cloud[:, 6].astype(np.float64))
assert np.allclose(f["mass_diff/true"][()], np.histogram(lm, bins=me)[0])
assert np.allclose(f["mass_cum/true"][()], [(lm >= x).sum() for x in me[:-1]])
assert f["vel_x/true"][()].sum() == 300
assert f["positions/true"].shape == (300, 3) and f["positions/generated"].shape == (300, 3)
cdf = f["knn_k1/true"][()]
assert (np.diff(cdf) >= 0).all() and cdf[-1] > 0.9
print("ok eval: stats.h5 consistent with numpy")
EOF

# 5. plots from the real stats.h5
$PY "$SRC/tests/test_plot.py" "$SRC" "$T/plot-real" "$T/ev/stats.h5" >"$T/plot2.log" 2>&1 || { cat "$T/plot2.log"; fail "test_plot.py (real stats.h5)"; }
tail -1 "$T/plot2.log"
echo "ok cli_eval"
