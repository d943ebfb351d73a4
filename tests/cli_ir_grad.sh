#!/bin/bash
# labels: fast
# `halograph ir-grad` end to end: the gradient graph is valid text, runs
# (ir-run) to the analytic gradients, and can be differentiated again.
# Args: $1 = halograph binary, $2 = source dir, $3 = scratch dir.
set -u
HG=$1
SRC=$2
TMP=$3
. "$SRC/tests/common_cli.sh"
rm -rf "$TMP"
mkdir -p "$TMP"
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# loss = sum(w * x^3) + sum(exp(b)); d/dx = 3 w x^2, d/dw = x^3, d/db = exp(b)
cat >"$TMP/f.hg" <<'EOF'
%0 = input f64[3] name="x"
%1 = state f64[3] name="w"
%2 = input f64[] name="b"
%3 = square f64[3] %0
%4 = mul f64[3] %3 %0
%5 = mul f64[3] %1 %4
%6 = sum f64[] %5 axes=[] keepdims=0
%7 = exp f64[] %2
%8 = add f64[] %6 %7
output "loss" %8
EOF

run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x,w,b
expect_rc 0 "ir-grad to stdout"
for n in x w b; do
    case "$OUT" in *"output \"grad/$n\""*) ;; *) fail "ir-grad output lacks grad/$n: $OUT" ;; esac
done
case "$OUT" in *'output "loss"'*) ;; *) fail "ir-grad dropped the output loss" ;; esac

run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x,w,b --out "$TMP/g.hg"
expect_rc 0 "ir-grad --out"
[ -z "$OUT" ] || fail "ir-grad --out also printed: $OUT"
run "$HG" ir-check "$TMP/g.hg"
expect_rc 0 "ir-check of the gradient graph"

# second order: d/dx sum(grad/x) = d/dx sum(3 w x^2) = 6 w x
run "$HG" ir-grad "$TMP/g.hg" --loss grad/x --wrt x --out "$TMP/h.hg"
expect_rc 0 "ir-grad of a gradient"

# errors
run "$HG" ir-grad "$TMP/f.hg" --loss nope --wrt x
expect_rc 1 "unknown --loss"
case "$ERR" in *nope*) ;; *) fail "unknown loss not named: $ERR" ;; esac
run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x,zz
expect_rc 1 "unknown --wrt"
case "$ERR" in *zz*) ;; *) fail "unknown wrt not named: $ERR" ;; esac
run "$HG" ir-grad "$TMP/missing.hg" --loss loss --wrt x
expect_rc 1 "missing file"
run "$HG" ir-grad "$TMP/f.hg" --wrt x
expect_rc 2 "no --loss"
run "$HG" ir-grad "$TMP/f.hg" --loss loss
expect_rc 2 "no --wrt"
run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x --bogus
expect_rc 2 "unknown option"
run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x,,w
expect_rc 2 "empty name in --wrt"
run "$HG" ir-grad "$TMP/f.hg" --loss loss --wrt x --out "$TMP/no/such/dir/g.hg"
expect_rc 1 "unwritable --out"
case "$ERR" in *"no/such/dir/g.hg: cannot create "*) ;; *) fail "unwritable --out: $ERR" ;; esac
# a parse error names FILE:LINE once (not "FILE: FILE:LINE")
printf '%%0 = input f64[3] name="x"\n%%1 = exp f64[2] %%0\noutput "l" %%1\n' >"$TMP/bad.hg"
run "$HG" ir-grad "$TMP/bad.hg" --loss l --wrt x
expect_rc 1 "invalid graph"
case "$ERR" in "halograph ir-grad: $TMP/bad.hg:2: node %1:"*) ;; *) fail "invalid graph message: $ERR" ;; esac
# an i32 --wrt or --loss is named in the error
printf '%%0 = input i32[3] name="k"\n%%1 = input f64[] name="x"\noutput "l" %%1\noutput "kl" %%0\n' >"$TMP/int.hg"
run "$HG" ir-grad "$TMP/int.hg" --loss l --wrt k
expect_rc 1 "i32 --wrt"
case "$ERR" in *"--wrt k: %0 is i32, not a float value"*) ;; *) fail "i32 --wrt message: $ERR" ;; esac
run "$HG" ir-grad "$TMP/int.hg" --loss kl --wrt x
expect_rc 1 "i32 --loss"
case "$ERR" in *"--loss kl: output %0 is i32"*) ;; *) fail "i32 --loss message: $ERR" ;; esac
run "$HG" ir-grad --help
expect_rc 0 "--help"
case "$OUT" in *"usage: halograph ir-grad"*) ;; *) fail "--help: $OUT" ;; esac

# values (needs numpy in Debian's python)
PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import numpy" 2>/dev/null; then
    "$PY" - "$TMP" <<'EOF' || fail "could not write .npy inputs"
import sys, numpy as np
d = sys.argv[1]
np.save(d + "/x.npy", np.array([0.5, -1.25, 2.0]))
np.save(d + "/w.npy", np.array([1.5, 0.25, -0.75]))
np.save(d + "/b.npy", np.array(0.3))
EOF
    run "$HG" ir-run "$TMP/g.hg" --input "x=$TMP/x.npy" --input "b=$TMP/b.npy" --state "w=$TMP/w.npy" --out "$TMP/go"
    expect_rc 0 "ir-run of the gradient graph"
    run "$HG" ir-run "$TMP/h.hg" --input "x=$TMP/x.npy" --input "b=$TMP/b.npy" --state "w=$TMP/w.npy" --out "$TMP/ho"
    expect_rc 0 "ir-run of the second-order graph"
    "$PY" - "$TMP" <<'EOF' || fail "gradient values differ from the analytic ones"
import sys, numpy as np
d = sys.argv[1]
x = np.load(d + "/x.npy"); w = np.load(d + "/w.npy"); b = float(np.load(d + "/b.npy"))
gx = np.load(d + "/go/grad/x.npy"); gw = np.load(d + "/go/grad/w.npy"); gb = np.load(d + "/go/grad/b.npy")
hx = np.load(d + "/ho/grad/x.npy")
ok = np.allclose(gx, 3 * w * x**2, rtol=1e-15, atol=0) and np.allclose(gw, x**3, rtol=1e-15, atol=0)
ok = ok and abs(float(gb) - np.exp(b)) < 1e-15 and np.allclose(hx, 6 * w * x, rtol=1e-15, atol=0)
if not ok:
    print("gx", gx, "gw", gw, "gb", gb, "hx", hx)
    sys.exit(1)
EOF
else
    echo "numpy not available: skipping the value checks"
fi

[ "$fails" = 0 ] || exit 1
echo "cli_ir_grad: all passed"
