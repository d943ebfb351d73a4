#!/bin/bash
# sample, likelihood and nelbo under mpirun (issue 15): 2 and 3 ranks split
# the clouds (chunks of --batch), grid points and batches, rank 0 gathers
# and writes; the results are bit-identical to one process.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
fail() { echo "FAIL cli_mpi_sample: $*"; exit 1; }
mpi_ready cli_mpi_sample
rm -rf "$T" && mkdir -p "$T"
tiny_run "$T" "$SRC/configs/tiny-test.yaml"
S="sample --run $T/run --n 5 --batch 2 --steps 4 --seed 3 --cond-from $T/d.h5:train --threads 1"
L="likelihood --run $T/run --data $T/d.h5 --split train --index 1 --param Omega_m --grid 0.2:0.4:5 --steps 4 --replicas 2 --threads 1"
N="nelbo --run $T/run --data $T/d.h5 --split train --steps 4 --replicas 2 --batch 1 --threads 1"
for c in S L N; do
    "$HG" ${!c} --out "$T/$c.1.h5" >"$T/$c.1.log" 2>&1 || { cat "$T/$c.1.log"; fail "$c, one process"; }
    for P in 2 3; do
        $MPIRUN -np $P "$HG" ${!c} --out "$T/$c.$P.h5" >"$T/$c.$P.log" 2>&1 || { cat "$T/$c.$P.log"; fail "$c, P=$P"; }
        [ "$(grep -c "^wrote" "$T/$c.$P.log")" = 1 ] || fail "$c, P=$P: rank 0 alone should write: $(cat "$T/$c.$P.log")"
    done
done
$PY - "$T" <<'PYEOF' || fail "results differ from one process"
import sys, h5py, numpy as np
t = sys.argv[1]
for c, keys in (("S", ["samples", "cond", "sims"]), ("L", ["grid", "loglik", "loglik_replicas"]),
                ("N", ["nelbo", "nelbo_parts", "nelbo_replicas", "sims"])):
    one = h5py.File("%s/%s.1.h5" % (t, c), "r")
    for P in (2, 3):
        f = h5py.File("%s/%s.%d.h5" % (t, c, P), "r")
        for k in keys:
            a, b = np.asarray(one[k]), np.asarray(f[k])
            assert a.shape == b.shape and a.size > 1, (c, P, k, a.shape, b.shape)
            assert np.array_equal(a, b), (c, P, k, "not bit-identical", np.abs(a - b).max())
        for k in ("best", "lo68", "hi68") if c == "L" else ():
            assert one.attrs[k] == f.attrs[k], (c, P, k)
    print(c, "bit-identical for P = 2, 3")
PYEOF
echo "PASS cli_mpi_sample"
