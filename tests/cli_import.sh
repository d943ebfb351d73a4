#!/usr/bin/env bash
# `halograph import` / `inspect` end to end: the embedded FastPM dataset,
# the shared Quijote boxes when present (both cosmology layouts), and bad
# inputs (exit codes, messages, no output left behind).
# usage: cli_import.sh HALOGRAPH SOURCE_DIR SCRATCH_DIR
set -u
HG=$1
SRC=$2
TMP=$3
rm -rf "$TMP"
mkdir -p "$TMP"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE SUBSTRING -- command...: exit status and stderr substring
expect() {
    local code=$1 sub=$2
    shift 3
    "$@" >"$TMP/out.txt" 2>"$TMP/err.txt"
    local rc=$?
    [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, expected $code ($(cat "$TMP/err.txt"))"
    grep -qF -- "$sub" "$TMP/err.txt" "$TMP/out.txt" || fail "'$*': output lacks '$sub': $(cat "$TMP/err.txt")"
}

FP=$SRC/data/fastpm-lh
# ---- the embedded dataset
expect 0 "270 simulations x 640 haloes x 7 features" -- \
    "$HG" import --halos "$FP/halos.npy" --cosmology "$FP/cosmology.csv" --box 500 \
    --source "FastPM LH (data/fastpm-lh)" --licence "project data" --out "$TMP/fastpm.h5"
expect 0 "float32 [270, 640, 7]" -- "$HG" inspect "$TMP/fastpm.h5"
grep -q "train 216 val 27 test 27" "$TMP/out.txt" || fail "inspect: splits 216/27/27 missing"
grep -q "box size   500 Mpc/h" "$TMP/out.txt" || fail "inspect: box size missing"
grep -q "log10 13.611 .. 15.890" "$TMP/out.txt" || fail "inspect: log10 mass range (README: 13.61 .. 15.89) missing"
grep -q "Omega_m    0.1005 .. 0.4993" "$TMP/out.txt" || fail "inspect: Omega_m range missing"
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
    /usr/bin/python3 "$SRC/tests/h5py_check.py" "$TMP/fastpm.h5" --expect-attr box_size=500 >"$TMP/py.txt" 2>&1 ||
        fail "h5py_check on fastpm.h5: $(cat "$TMP/py.txt")"
else
    echo "skipped h5py check: h5py not installed for /usr/bin/python3"
fi

# ---- the shared Quijote boxes (ascending masses, CSV with index column)
Q=$SRC/../shared/data/quijote-lh14
if [ -d "$Q" ]; then
    expect 0 "14 simulations x 5000 haloes x 7 features" -- \
        "$HG" import --halos "$Q/halos.npy" --cosmology "$Q/cosmology.csv" --box 1000 --out "$TMP/q.h5"
    sum1=$(grep -o "checksum [0-9a-f]*" "$TMP/out.txt")
    expect 0 "14 simulations" -- "$HG" import --halos "$Q/halos.npy" \
        --params-table "$Q/quijote_latin_hypercube_params.txt" --box 1000 --out "$TMP/q2.h5"
    sum2=$(grep -o "checksum [0-9a-f]*" "$TMP/out.txt")
    [ "$sum1" = "$sum2" ] || fail "CSV and parameter-table imports differ: $sum1 vs $sum2"
    expect 0 "log10 14.048 .. 15.971" -- "$HG" inspect "$TMP/q.h5"
    if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
        /usr/bin/python3 "$SRC/tests/h5py_check.py" "$TMP/q.h5" >"$TMP/py.txt" 2>&1 ||
            fail "h5py_check on q.h5 (sorted descending?): $(cat "$TMP/py.txt")"
    fi
else
    echo "skipped Quijote part: $Q not found"
fi

# ---- bad inputs: exit code, message, nothing written
OUT=$TMP/never.h5
expect 2 "--box is required" -- "$HG" import --halos "$FP/halos.npy" --cosmology "$FP/cosmology.csv" --out "$OUT"
expect 2 "unknown option '--colour'" -- "$HG" import --colour red --box 1 --out "$OUT"
expect 2 "--box: 'abc' is not a positive number" -- "$HG" import --halos "$FP/halos.npy" \
    --cosmology "$FP/cosmology.csv" --box abc --out "$OUT"
expect 2 "exactly one of --cosmology and --params-table" -- "$HG" import --halos "$FP/halos.npy" --box 500 --out "$OUT"
expect 1 "cannot open" -- "$HG" import --halos "$TMP/nope.npy" --cosmology "$FP/cosmology.csv" --box 500 --out "$OUT"
head -n 11 "$FP/cosmology.csv" >"$TMP/short.csv"
expect 1 "row-count mismatch: 10 cosmology rows" -- "$HG" import --halos "$FP/halos.npy" \
    --cosmology "$TMP/short.csv" --box 500 --out "$OUT"
head -c 5000 "$FP/halos.npy" >"$TMP/trunc.npy"
expect 1 "truncated" -- "$HG" import --halos "$TMP/trunc.npy" --cosmology "$FP/cosmology.csv" --box 500 --out "$OUT"
expect 1 "outside the box [0, 250]" -- "$HG" import --halos "$FP/halos.npy" --cosmology "$FP/cosmology.csv" \
    --box 250 --out "$OUT"
sed '5s/0\.[0-9]*,/oops,/' "$FP/cosmology.csv" | sed 's/$/\r/' >"$TMP/nonnum.csv"
expect 1 "nonnum.csv:5: column Omega_m: non-numeric value 'oops'" -- "$HG" import --halos "$FP/halos.npy" \
    --cosmology "$TMP/nonnum.csv" --box 500 --out "$OUT"
cut -d, -f1-4,6 "$FP/cosmology.csv" >"$TMP/nosigma.csv"
expect 1 "missing column 'sigma_8'" -- "$HG" import --halos "$FP/halos.npy" --cosmology "$TMP/nosigma.csv" \
    --box 500 --out "$OUT"
# big-endian .npy made by hand: 10-byte preamble + 118-byte header, no data needed
{
    printf '\x93NUMPY\x01\x00\x76\x00'
    printf "%-117s\n" "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1, 7), }"
} >"$TMP/be.npy"
expect 1 "big-endian" -- "$HG" import --halos "$TMP/be.npy" --cosmology "$FP/cosmology.csv" --box 500 --out "$OUT"
[ -e "$OUT" ] && fail "a failed import left $OUT behind"
ls "$TMP" | grep -q "\.tmp\." && fail "a failed import left a temporary file: $(ls "$TMP")"
expect 1 "not an HDF5 file" -- "$HG" inspect "$TMP/short.csv"
expect 2 "usage: halograph inspect" -- "$HG" inspect

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "cli_import: ok"
