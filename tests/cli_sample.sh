#!/bin/bash
# CLI test of `halograph sample`: output shapes, units and ranges, the
# conditioning (--cond, --cond-from with and without --index), seeds,
# provenance, bad inputs; then `halograph eval` reads the samples.
# A tiny model (configs/tiny-test.yaml, 3 training steps) on 4 FastPM clouds x 64 haloes.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_sample: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_sample: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
tiny_run "$T" "$SRC/configs/tiny-test.yaml"

# usage errors: exit 2
"$HG" sample --help | grep -q "usage: halograph sample" || fail "--help"
"$HG" sample --run "$T/run" --n 2 --out "$T/s.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --steps should exit 2"
"$HG" sample --run "$T/run" --n 0 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/s.h5" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--n 0"
"$HG" sample --run "$T/run" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --cond-from "$T/d.h5:test" --out "$T/s.h5" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--cond with --cond-from should exit 2"
"$HG" sample --run "$T/run" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --index 0 --out "$T/s.h5" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--index without --cond-from should exit 2"

# bad input: exit 1 with a message
expect1() { # expect1 WHAT PATTERN ARGS...
    local what=$1 pat=$2; shift 2
    local msg; msg=$("$HG" sample "$@" 2>&1); local rc=$?
    [ $rc -eq 1 ] || fail "$what: exit $rc, expected 1 ($msg)"
    echo "$msg" | grep -q -- "$pat" || fail "$what: message '$msg' lacks '$pat'"
}
expect1 "missing run" "no-run" --run "$T/no-run" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/s.h5"
mkdir -p "$T/empty"
expect1 "not a run" "not a training run" --run "$T/empty" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/s.h5"
expect1 "no conditioning" "--cond" --run "$T/run" --n 2 --steps 2 --out "$T/s.h5"
expect1 "unknown parameter" "'h' is not a conditioning" --run "$T/run" --n 2 --steps 2 --cond Omega_m=0.3,h=0.7 --out "$T/s.h5"
expect1 "missing parameter" "no value for sigma_8" --run "$T/run" --n 2 --steps 2 --cond Omega_m=0.3 --out "$T/s.h5"
msg=$("$HG" sample --run "$T/run" --n 2 --steps 2 --cond-from "$T/d.h5:tset" --out "$T/s.h5" 2>&1)
[ $? -eq 2 ] || fail "bad split: a malformed --cond-from should exit 2 ($msg)"
echo "$msg" | grep -q "unknown split" || fail "bad split: message '$msg'"
expect1 "index out of range" "has 1 clouds" --run "$T/run" --n 2 --steps 2 --cond-from "$T/d.h5:test" --index 5 --out "$T/s.h5"
expect1 "data not HDF5" "c.csv" --run "$T/run" --n 2 --steps 2 --cond-from "$T/c.csv:test" --out "$T/s.h5"
expect1 "unwritable output" "cannot create" --run "$T/run" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/no/dir/s.h5"
sed 's/n_heads: 2/n_heads: 4/' "$T/run/config.yaml" >"$T/cfg4.yaml"
cp -r "$T/run" "$T/run4" && cp "$T/cfg4.yaml" "$T/run4/config.yaml"
expect1 "checkpoint vs config" "score.n_heads" --run "$T/run4" --n 2 --steps 2 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/s.h5"
[ ! -e "$T/s.h5" ] || fail "a failed command left $T/s.h5"

# samples
"$HG" sample --run "$T/run" --n 3 --steps 5 --batch 2 --seed 4 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/a.h5" >/dev/null || fail "sample --cond"
"$HG" sample --run "$T/run" --n 3 --steps 5 --batch 2 --seed 4 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/a2.h5" --threads 1 >/dev/null || fail "sample again"
"$HG" sample --run "$T/run" --n 3 --steps 5 --seed 5 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/b.h5" >/dev/null || fail "sample seed 5"
"$HG" sample --run "$T/run" --n 3 --steps 5 --cond-from "$T/d.h5:train" --out "$T/c.h5" >/dev/null || fail "sample --cond-from"
"$HG" sample --run "$T/run" --n 2 --steps 5 --cond-from "$T/d.h5:test" --index 0 --out "$T/t.h5" >/dev/null || fail "sample --index"
ls "$T" | grep -q "tmp\." && fail "temporary files left: $(ls "$T")"
$PY - "$T" <<'EOF' || fail "samples files"
import sys, h5py, numpy as np
t = sys.argv[1]
a, a2, b = (h5py.File(t + n) for n in ("/a.h5", "/a2.h5", "/b.h5"))
s = a["samples"][:]
assert s.shape == (3, 64, 7) and s.dtype == np.float32, s.shape
assert (s[..., :3] >= 0).all() and (s[..., :3] < 500).all()
assert np.isfinite(s).all() and (np.abs(s[..., 3:6]) < 1e5).all()
assert (s[..., 6] > 1e11).all() and (s[..., 6] < 1e18).all(), (s[..., 6].min(), s[..., 6].max())  # linear Msun/h
assert np.array_equal(s, a2["samples"][:]), "same seed, other thread count: different clouds"
assert not np.array_equal(s, b["samples"][:]), "another seed gave the same clouds"
assert a["cond"].shape == (3, 2) and list(a["cond"].attrs["names"]) == ["Omega_m", "sigma_8"]
assert np.allclose(a["cond"][:], [[0.3, 0.8]] * 3)
assert list(a["sims"][:]) == [-1, -1, -1]
for k, v in (("box_size", 500.0), ("redshift", 0.0), ("seed", 4), ("steps", 5), ("checkpoint_step", 3)):
    assert a.attrs[k] == v, (k, a.attrs[k])
assert "d_model: 16" in a.attrs["config"] and a.attrs["run_dir"].endswith("/run")
assert a.attrs["dataset"].endswith("d.h5") and int(a.attrs["dataset_checksum"]) > 0
d = h5py.File(t + "/d.h5")
train, test = list(d["split/train"][:]), list(d["split/test"][:])
c = h5py.File(t + "/c.h5")
assert list(c["sims"][:]) == [train[0], train[1], train[0]], (list(c["sims"][:]), train)
assert np.array_equal(c["cond"][:], d["cosmology"][:][c["sims"][:]][:, [0, 1]])
tt = h5py.File(t + "/t.h5")
assert list(tt["sims"][:]) == [test[0]] * 2
EOF
# halograph eval reads the samples (when it exists)
if "$HG" --help | grep -q "^  eval "; then
    "$HG" eval --samples "$T/t.h5" --data "$T/d.h5" --split test --index 0 --knn-queries 500 --out "$T/ev" >/dev/null 2>&1 ||
        fail "eval of the samples: $("$HG" eval --samples "$T/t.h5" --data "$T/d.h5" --split test --index 0 --knn-queries 500 --out "$T/ev" 2>&1 | tail -2)"
    [ -s "$T/ev/stats.h5" ] || fail "eval wrote no stats.h5"
fi

# --profile (issue 8): tables of the sample-step (T calls) and sample-decode graphs
"$HG" sample --run "$T/run" --n 2 --steps 4 --cond Omega_m=0.3,sigma_8=0.8 --threads 1 --profile \
    --out "$T/sp.h5" >"$T/prof.log" 2>&1 || { cat "$T/prof.log"; fail "sample --profile"; }
grep -q "profile of the sample-step graph (batch 2" "$T/prof.log" || fail "no sample-step profile: $(tail -5 "$T/prof.log")"
grep -q "profile of the sample-decode graph (batch 2)" "$T/prof.log" || fail "no sample-decode profile"
grep -Eq "^ +[0-9]+ .* 4 +.* matmul[ :]" "$T/prof.log" || fail "no matmul row with 4 calls (T = 4)"
[ -s "$T/sp.h5" ] || fail "sample --profile wrote no samples"
echo "PASS cli_sample"
