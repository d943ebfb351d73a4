# Shared pieces of the CLI test scripts (tests/cli_*.sh), sourced by them
# with `. "$SRC/tests/common_cli.sh"`. Not a test itself: its name is outside
# the cli_*.sh pattern that tests/CMakeLists.txt turns into tests.
# The functions use the caller's variables HG (halograph binary), SRC
# (source dir) and PY (/usr/bin/python3), and report through the caller's
# fail() (which either exits or counts).

# tiny_dataset DIR: the tiny dataset of the CLI tests, the first 4 FastPM
# clouds with their 64 most massive haloes (rows are sorted by mass):
# DIR/h.npy, DIR/c.csv (their cosmologies), imported to DIR/d.h5 (box 500,
# split 0.5,0.25,0.25, seed 1). Needs numpy.
tiny_dataset() {
    $PY - "$SRC" "$1" <<'PYEOF' || fail "making the tiny dataset"
import sys, numpy as np
src, t = sys.argv[1:3]
np.save(t + "/h.npy", np.load(src + "/data/fastpm-lh/halos.npy")[:4, :64])
open(t + "/c.csv", "w").write("Omega_m,sigma_8\n0.1755,0.6641\n0.2139,0.8619\n0.3,0.8\n0.4149,0.6283\n")
PYEOF
    "$HG" import --halos "$1/h.npy" --cosmology "$1/c.csv" --box 500 --split 0.5,0.25,0.25 --seed 1 \
        --out "$1/d.h5" >/dev/null || fail "import"
}

# tiny_run DIR CONFIG: tiny_dataset DIR, then a run DIR/run trained 3 steps
# with CONFIG on DIR/d.h5.
tiny_run() {
    tiny_dataset "$1"
    "$HG" train --config "$2" --data "$1/d.h5" --out "$1/run" --steps 3 >/dev/null 2>&1 || fail "train"
}

# run CMD...: runs CMD, capturing stdout, stderr and the exit code in OUT,
# ERR and RC (through files in the caller's scratch dir TMP).
run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# expect_rc WANT WHAT: fail unless the last run exited with WANT.
expect_rc() {
    [ "$RC" = "$1" ] || fail "$2: exit code $RC, expected $1 (stdout: $OUT; stderr: $ERR)"
}

# mpi_ready NAME: exits 77 (ctest skip) with a message unless mpirun exists,
# halograph was built with MPI and $PY has numpy and h5py; sets MPIRUN to the launcher command for
# loopback runs (OMP_NUM_THREADS=1 per rank; CI runs as root).
mpi_ready() {
    command -v mpirun >/dev/null 2>&1 || { echo "SKIP $1: mpirun not found (install openmpi-bin)"; exit 77; }
    "$HG" --version | grep -q "^mpi: yes" || { echo "SKIP $1: halograph built without MPI (libopenmpi-dev)"; exit 77; }
    $PY -c "import h5py, numpy" 2>/dev/null || { echo "SKIP $1: $PY lacks h5py/numpy"; exit 77; }
    export OMP_NUM_THREADS=1
    MPIRUN="mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -x OMP_NUM_THREADS"
}
