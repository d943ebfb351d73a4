#!/bin/bash
# labels: fast
# `halograph ir-check` and `halograph ir-run` end to end.
# Args: $1 = halograph binary, $2 = source dir, $3 = scratch dir.
# Exits non-zero on failure, printing what failed.
set -u
HG=$1
SRC=$2
TMP=$3
. "$SRC/tests/common_cli.sh"
DATA=$SRC/tests/data/ir
rm -rf "$TMP"
mkdir -p "$TMP"
fails=0

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# --- ir-check
run "$HG" ir-check "$DATA/mlp.hg"
expect_rc 0 "ir-check mlp.hg"
[ "$OUT" = "ok" ] || fail "ir-check mlp.hg printed '$OUT', expected 'ok'"

run "$HG" ir-check "$DATA/update.hg"
expect_rc 0 "ir-check update.hg"

run "$HG" ir-check "$DATA/broken.hg"
expect_rc 1 "ir-check broken.hg"
case "$ERR" in
    "$DATA/broken.hg:4: node %2: add shapes [2,3] and [4] do not broadcast"*) ;;
    *) fail "ir-check broken.hg: message '$ERR' is not 'FILE:4: node %2: add shapes ... do not broadcast'" ;;
esac

printf '# bad op\n%%0 = input f32[2] name="x"\n%%1 = frobnicate f32[2] %%0\n' >"$TMP/badop.hg"
run "$HG" ir-check "$TMP/badop.hg"
expect_rc 1 "ir-check badop.hg"
[ "$ERR" = "$TMP/badop.hg:3: node %1: unknown op 'frobnicate'" ] ||
    fail "ir-check badop.hg: message '$ERR'"

printf '%%0 = input f32[2] name="x"\n%%1 = neg f32[2] %%4\n' >"$TMP/undef.hg"
run "$HG" ir-check "$TMP/undef.hg"
expect_rc 1 "ir-check undef.hg"
case "$ERR" in
    "$TMP/undef.hg:2: node %1: input %4 is not defined"*) ;;
    *) fail "ir-check undef.hg: message '$ERR'" ;;
esac

run "$HG" ir-check "$TMP/does-not-exist.hg"
expect_rc 1 "ir-check on a missing file"
case "$ERR" in *does-not-exist.hg*) ;; *) fail "missing file not named: '$ERR'" ;; esac

run "$HG" ir-check
expect_rc 2 "ir-check without a file"
case "$ERR" in "halograph ir-check: missing FILE"*) ;; *) fail "ir-check without a file: '$ERR'" ;; esac
run "$HG" ir-check a.hg b.hg
expect_rc 2 "ir-check with two files"
[ "$ERR" = "halograph ir-check: one FILE expected, got an extra argument 'b.hg'" ] ||
    fail "ir-check with two files: '$ERR'"
run "$HG" ir-check --help
expect_rc 0 "ir-check --help"
case "$OUT" in *"usage: halograph ir-check"*) ;; *) fail "ir-check --help: '$OUT'" ;; esac
run "$HG" ir-run --help
expect_rc 0 "ir-run --help"
case "$OUT" in *"usage: halograph ir-run"*) ;; *) fail "ir-run --help: '$OUT'" ;; esac
run "$HG" ir-run "$DATA/mlp.hg" --input x="$TMP/x.npy"
expect_rc 2 "ir-run without --out"
[ "$ERR" = "halograph ir-run: --out DIR is required (see --help)" ] || fail "ir-run without --out: '$ERR'"
run "$HG" ir-run "$DATA/mlp.hg" --input bogus --out "$TMP/o"
expect_rc 2 "ir-run with --input lacking '='"
run "$HG" ir-run "$DATA/mlp.hg" --frobnicate --out "$TMP/o"
expect_rc 2 "ir-run with an unknown option"
run "$HG" ir-run "$DATA/broken.hg" --out "$TMP/o"
expect_rc 1 "ir-run on an invalid graph"

# --- ir-run (needs numpy in Debian's python)
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import numpy" 2>/dev/null; then
    "$PY" - "$TMP" <<'EOF' || fail "could not write input .npy files"
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/x.npy", np.array([[0.3, -0.7, 1.2], [2.0, 0.0, -1.5]], dtype=np.float32))
np.save(d + "/x64.npy", np.zeros((2, 3), dtype=np.float64))
np.save(d + "/w.npy", np.array([1.0, -2.0, 0.25], dtype=np.float32))
np.save(d + "/grad.npy", np.array([0.5, 4.0, -1.0], dtype=np.float32))
EOF
    # every backend (the default is jit) against numpy, same tolerances
    for B in default ref fast jit; do
    BO=""; [ "$B" = default ] || BO="--backend $B"
    rm -rf "$TMP/mlp"
    run "$HG" ir-run "$DATA/mlp.hg" --input "x=$TMP/x.npy" --out "$TMP/mlp" $BO
    expect_rc 0 "ir-run mlp.hg ($B)"
    "$PY" - "$TMP" <<'EOF' || fail "ir-run mlp.hg ($B): outputs differ from numpy"
import sys, numpy as np
d = sys.argv[1]
x = np.load(d + "/x.npy").astype(np.float64)
W = np.array([[0.5, -1], [0.25, 2], [-0.75, 0.125]])
b = np.array([0.1, -0.2])
y = np.tanh(x @ W + b)
loss = (y ** 2).sum()
gy = np.load(d + "/mlp/y.npy")
gl = np.load(d + "/mlp/loss.npy")
ok = gy.dtype == np.float32 and gy.shape == (2, 2) and gl.shape == () and gl.dtype == np.float32
ok = ok and np.allclose(gy, y, rtol=0, atol=2e-6) and abs(float(gl) - loss) <= 1e-5 * max(1, loss)
if not ok:
    print("y", gy, "expected", y, "loss", gl, "expected", loss)
    sys.exit(1)
EOF
    done
    run "$HG" ir-run "$DATA/mlp.hg" --input "x=$TMP/x.npy" --out "$TMP/mlpx" --backend nosuch
    expect_rc 2 "ir-run --backend nosuch"
    case "$ERR" in *"unknown backend 'nosuch'"*) ;; *) fail "ir-run unknown backend: '$ERR'" ;; esac
    [ ! -e "$TMP/mlpx" ] || fail "ir-run --backend nosuch created its --out"

    for B in ref jit; do
    rm -rf "$TMP/upd"
    run "$HG" ir-run "$DATA/update.hg" --state "w=$TMP/w.npy" --input "grad=$TMP/grad.npy" \
        --out "$TMP/upd" --state-out "$TMP/upd/state" --backend $B
    expect_rc 0 "ir-run update.hg ($B)"
    "$PY" - "$TMP" <<'EOF' || fail "ir-run update.hg: outputs or state differ from numpy"
import sys, numpy as np
d = sys.argv[1]
w = np.array([1.0, -2.0, 0.25]) - 0.5 * np.array([0.5, 4.0, -1.0])
gw = np.load(d + "/upd/state/w.npy")
gs = np.load(d + "/upd/wsum.npy")
if not (gw.shape == (3,) and np.array_equal(gw, w.astype(np.float32)) and float(gs) == w.sum()):
    print("w", gw, "expected", w, "wsum", gs, "expected", w.sum())
    sys.exit(1)
EOF
    done

    run "$HG" ir-run "$DATA/mlp.hg" --out "$TMP/o2"
    expect_rc 1 "ir-run without the graph's input"
    run "$HG" ir-run "$DATA/mlp.hg" --input "x=$TMP/x64.npy" --out "$TMP/o3"
    expect_rc 1 "ir-run with an f64 tensor for an f32 input"
    run "$HG" ir-run "$DATA/mlp.hg" --input "x=$TMP/x.npy" --input "nope=$TMP/x.npy" --out "$TMP/o4"
    expect_rc 1 "ir-run with an input the graph lacks"
    case "$ERR" in *'no input named "nope"'*) ;; *) fail "unknown input not named: '$ERR'" ;; esac
else
    echo "SKIP: /usr/bin/python3 with numpy not found; ir-run value checks skipped"
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all ir-check / ir-run checks passed"
