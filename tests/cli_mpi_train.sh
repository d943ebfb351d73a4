#!/bin/bash
# Data-parallel training under mpirun (issue 15): P = 2 and P = 3 ranks on
# loopback give the parameters of one process after 20 steps (relative L2
# 1e-5 per tensor) with a global batch of 5 (not divisible by 2 or 3);
# rank 0 alone writes the run's files; --resume with another P equals an
# uninterrupted run of that P (and with the same P, bit for bit).
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
fail() { echo "FAIL cli_mpi_train: $*"; exit 1; }
mpi_ready cli_mpi_train
rm -rf "$T" && mkdir -p "$T"
tiny_dataset "$T"
sed 's/batch_size: 2/batch_size: 5/' "$SRC/configs/tiny-test.yaml" >"$T/c5.yaml"
grep -q "batch_size: 5" "$T/c5.yaml" || fail "config"
A="--config $T/c5.yaml --data $T/d.h5 --threads 1 --val-every 10 --ckpt-every 10"

"$HG" train $A --out "$T/p1" --steps 20 >"$T/p1.log" 2>&1 || { cat "$T/p1.log"; fail "1 process"; }
for P in 2 3; do
    $MPIRUN -np $P "$HG" train $A --out "$T/p$P" --steps 20 >"$T/p$P.log" 2>&1 || { cat "$T/p$P.log"; fail "P=$P"; }
    [ "$(grep -c "trained to step 20" "$T/p$P.log")" = 1 ] || fail "P=$P: the final line should be printed once (rank 0): $(cat "$T/p$P.log")"
    ls "$T/p$P" | grep -q tmp && fail "P=$P: temporary files left: $(ls "$T/p$P")"
done
# resume: P=2 to step 10 then P=3 to 20; P=3 to 10 then P=3 to 20
$MPIRUN -np 2 "$HG" train $A --out "$T/h23" --steps 10 >"$T/h.log" 2>&1 || { cat "$T/h.log"; fail "P=2 half"; }
$MPIRUN -np 3 "$HG" train --resume --data "$T/d.h5" --threads 1 --val-every 10 --ckpt-every 10 --out "$T/h23" \
    --steps 20 >"$T/h.log" 2>&1 || { cat "$T/h.log"; fail "resume P=3 from P=2"; }
$MPIRUN -np 3 "$HG" train $A --out "$T/h33" --steps 10 >"$T/h.log" 2>&1 || { cat "$T/h.log"; fail "P=3 half"; }
$MPIRUN -np 3 "$HG" train --resume --data "$T/d.h5" --threads 1 --val-every 10 --ckpt-every 10 --out "$T/h33" \
    --steps 20 >"$T/h.log" 2>&1 || { cat "$T/h.log"; fail "resume P=3 from P=3"; }

# batch 5 > P but a config batch below P is refused by every rank
sed 's/batch_size: 2/batch_size: 1/' "$SRC/configs/tiny-test.yaml" >"$T/c1.yaml"
msg=$($MPIRUN -np 2 "$HG" train --config "$T/c1.yaml" --data "$T/d.h5" --threads 1 --out "$T/bad" --steps 2 2>&1)
[ $? -ne 0 ] || fail "batch 1 on 2 ranks should fail"
echo "$msg" | grep -q "batch_size 1 is smaller than the 2 MPI ranks" || fail "batch < P message: $msg"
[ ! -e "$T/bad/checkpoint.h5" ] || fail "a refused start left a checkpoint"

$PY - "$T" <<'PYEOF' || fail "parameters"
import sys, h5py, numpy as np
t = sys.argv[1]
def load(run):
    f = h5py.File(run + "/checkpoint.h5", "r")
    d = {}
    f.visit(lambda n: d.__setitem__(n, np.asarray(f[n], dtype=np.float64)) if isinstance(f[n], h5py.Dataset) else None)
    return d
# The attention key bias (and its AdamW moments) is left out: softmax is
# invariant to adding q.b_k to every logit of a row, so its gradient is 0
# in exact arithmetic and what AdamW sees is rounding noise normalised to
# +-lr (|p| grows ~ lr per step in every run, differently for each order
# of summation). Every other tensor must agree to 1e-5.
def compare(a, b, tol, what):
    worst, wn, n = 0.0, "", 0
    assert a.keys() == b.keys(), what
    for k in a:
        if "mha/key/bias" in k:
            assert np.abs(b[k]).max() <= 20 * 3e-3 * 1.01, (what, k)  # at most lr per step
            continue
        x, y = a[k], b[k]
        assert x.shape == y.shape, (what, k)
        n += 1
        r = np.linalg.norm(x - y) / max(np.linalg.norm(x), 1e-30)
        if r > worst: worst, wn = r, k
    print("%s: %d tensors, max relative L2 difference %.3g %s" % (what, n, worst, wn))
    assert n > 50 and worst <= tol, what
p1, p2, p3 = load(t + "/p1"), load(t + "/p2"), load(t + "/p3")
compare(p1, p2, 1e-5, "P=2 vs 1 process")
compare(p1, p3, 1e-5, "P=3 vs 1 process")
compare(p3, load(t + "/h23"), 1e-5, "P=2 then --resume P=3 vs P=3")
h33 = load(t + "/h33")
for k in p3: assert np.array_equal(p3[k], h33[k]), ("P=3 resumed vs uninterrupted must be bit-identical", k)
# rank 0 alone wrote metrics.csv: every step once; losses agree with 1 process
def metrics(run):
    rows = [l.split(",") for l in open(run + "/metrics.csv").read().splitlines()[1:]]
    assert [int(r[0]) for r in rows] == list(range(1, 21)), (run, [r[0] for r in rows])
    return np.array([[float(v) for v in r[1:5]] for r in rows])
m1 = metrics(t + "/p1")
for run in ("p2", "p3", "h23", "h33"):
    m = metrics(t + "/" + run)
    assert np.allclose(m, m1, rtol=1e-4, atol=1e-6), (run, np.abs(m - m1).max())
PYEOF
echo "PASS cli_mpi_train"
