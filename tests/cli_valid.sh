#!/usr/bin/env bash
# Reader validation end to end (issue 14, defects 3, 6-10): every command
# refuses a malformed dataset, checkpoint or config with exit 1 and ONE
# line naming the file and the dataset / tensor / key, leaves its inputs
# byte-identical and writes nothing.
# usage: cli_valid.sh HALOGRAPH SOURCE_DIR SCRATCH_DIR
# labels: fast
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
rm -rf "$T" && mkdir -p "$T"
TMP=$T
. "$SRC/tests/common_cli.sh"
fail() { echo "FAIL cli_valid: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_valid: /usr/bin/python3 lacks h5py/numpy"; exit 77
fi
tiny_run "$T" "$SRC/configs/tiny-test.yaml"
CFG=$SRC/configs/tiny-test.yaml

# refuse WHAT PATTERN INPUT_FILES -- CMD...: exit 1, exactly one line on
# stderr containing PATTERN, nothing on stdout, the INPUT_FILES unchanged,
# and no file named out* / o.* left in $T/o.
refuse() {
    local what=$1 pat=$2; shift 2
    local inputs=()
    while [ "$1" != "--" ]; do inputs+=("$1"); shift; done
    shift
    local sums; sums=$(md5sum "${inputs[@]}")
    rm -rf "$T/o" && mkdir -p "$T/o"
    run timeout 120 "$@"
    expect_rc 1 "$what"
    [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "$what: not one line: $ERR"
    printf '%s' "$ERR" | grep -qF -- "$pat" || fail "$what: message '$ERR' lacks '$pat'"
    [ -z "$OUT" ] || fail "$what: printed '$OUT'"
    [ "$sums" = "$(md5sum "${inputs[@]}")" ] || fail "$what: an input changed"
    [ -z "$(ls -A "$T/o")" ] || fail "$what: left $(ls -A "$T/o")"
}

h5edit() { # h5edit FILE PYTHON: runs PYTHON with f = h5py.File(FILE, "r+")
    $PY - "$1" "$2" <<'PYEOF' || fail "h5edit $1"
import sys, h5py, numpy as np
def fnv(b, h=0xCBF29CE484222325):
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
def dataset_sum(f):  # format 2: halos, cosmology, counts, split/train, val, test
    raw = b"".join(f[k][...].tobytes() for k in ("halos", "cosmology", "counts", "split/train", "split/val", "split/test"))
    f.attrs["checksum"] = np.uint64(fnv(raw))
with h5py.File(sys.argv[1], "r+") as f:
    exec(sys.argv[2])
PYEOF
}

# ---- defect 3: a dataset without /counts (eval and xi crashed; the rest accepted it)
cp "$T/d.h5" "$T/nocounts.h5"
h5edit "$T/nocounts.h5" 'del f["counts"]'
"$HG" sample --run "$T/run" --n 2 --steps 2 --cond-from "$T/d.h5:test" --out "$T/s.h5" >/dev/null 2>&1 || fail "sample"
N=$T/nocounts.h5
refuse "xi, no /counts" "nocounts.h5: missing dataset 'counts'" "$N" -- "$HG" xi --data "$N" --index 0 --out "$T/o/x.h5"
refuse "eval, no /counts" "missing dataset 'counts'" "$N" "$T/s.h5" -- "$HG" eval --samples "$T/s.h5" --data "$N" --out "$T/o/ev"
refuse "train, no /counts" "missing dataset 'counts'" "$N" -- "$HG" train --config "$CFG" --data "$N" --out "$T/o/r" --steps 1
refuse "sample, no /counts" "missing dataset 'counts'" "$N" -- "$HG" sample --run "$T/run" --n 1 --steps 1 --cond-from "$N:test" --out "$T/o/s.h5"
refuse "likelihood, no /counts" "missing dataset 'counts'" "$N" -- "$HG" likelihood --run "$T/run" --data "$N" --index 0 --param Omega_m --out "$T/o/p.h5"
refuse "nelbo, no /counts" "missing dataset 'counts'" "$N" -- "$HG" nelbo --run "$T/run" --data "$N" --out "$T/o/e.h5"
refuse "inspect, no /counts" "missing dataset 'counts'" "$N" -- "$HG" inspect "$N"
# wrong dtype of a required dataset
cp "$T/d.h5" "$T/f64.h5"
h5edit "$T/f64.h5" 'c = f["cosmology"][...]; n = f["cosmology"].attrs["names"]; del f["cosmology"]; f["cosmology"] = c.astype("f8"); f["cosmology"].attrs["names"] = n'
refuse "cosmology f64" "/cosmology must be float32" "$T/f64.h5" -- "$HG" inspect "$T/f64.h5"

# ---- a dataset naming an unknown format version is refused like a checkpoint
cp "$T/d.h5" "$T/v9.h5"
h5edit "$T/v9.h5" 'f.attrs["format"] = "halograph-dataset-9"'
refuse "dataset format 9" "dataset format 'halograph-dataset-9' is not supported" "$T/v9.h5" -- "$HG" inspect "$T/v9.h5"

# ---- defect 9: the checksum covers /counts; clouds without haloes are refused
cp "$T/d.h5" "$T/zero.h5"
h5edit "$T/zero.h5" 'f["counts"][...] = 0'
refuse "counts edited" "checksum mismatch" "$T/zero.h5" -- "$HG" nelbo --run "$T/run" --data "$T/zero.h5" --out "$T/o/e.h5"
h5edit "$T/zero.h5" 'dataset_sum(f)'   # a consistent file whose clouds are all empty
refuse "likelihood, empty clouds" "has no haloes" "$T/zero.h5" -- "$HG" likelihood --run "$T/run" --data "$T/zero.h5" --index 0 --param Omega_m --out "$T/o/p.h5"
refuse "nelbo, empty clouds" "has no haloes" "$T/zero.h5" -- "$HG" nelbo --run "$T/run" --data "$T/zero.h5" --out "$T/o/e.h5"
refuse "train, empty clouds" "has no haloes" "$T/zero.h5" -- "$HG" train --config "$CFG" --data "$T/zero.h5" --out "$T/o/r" --steps 1
refuse "xi, empty cloud" "at least 2 points" "$T/zero.h5" -- "$HG" xi --data "$T/zero.h5" --index 0 --out "$T/o/x.h5"

# ---- defect 10: one flipped bit in a kernel is caught by sample and train --resume
cp -r "$T/run" "$T/flip"
K=$($PY -c "
import h5py; f = h5py.File('$T/flip/checkpoint.h5')
n = []; f['state'].visititems(lambda k, o: n.append(k) if hasattr(o, 'shape') and k.endswith('kernel') and not k.startswith('opt') else None)
print(n[0])")
h5edit "$T/flip/checkpoint.h5" "d = f['state/$K']; a = d[...]; b = a.view(np.uint32); b.flat[0] ^= 1 << 20; d[...] = a"
refuse "sample, flipped bit" "tensor '$K' is corrupted" "$T/flip/checkpoint.h5" -- "$HG" sample --run "$T/flip" --n 1 --steps 1 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/o/s.h5"
refuse "train --resume, flipped bit" "tensor '$K' is corrupted" "$T/flip/checkpoint.h5" "$T/d.h5" -- "$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/flip" --steps 4 --resume
# an unknown checkpoint version
cp -r "$T/run" "$T/v7"
h5edit "$T/v7/checkpoint.h5" 'f.attrs["format"] = "halograph-checkpoint-7"'
refuse "checkpoint format 7" "'halograph-checkpoint-7' is not supported" "$T/v7/checkpoint.h5" -- "$HG" sample --run "$T/v7" --n 1 --steps 1 --cond Omega_m=0.3,sigma_8=0.8 --out "$T/o/s.h5"

# ---- export-onnx refuses non-finite weights (checksum consistent: a NaN trained in, not a corruption)
cp -r "$T/run" "$T/nan"
h5edit "$T/nan/checkpoint.h5" "d = f['state/$K']; a = d[...]; a.flat[0] = np.nan; d[...] = a; d.attrs['checksum'] = np.uint64(fnv(a.tobytes()))"
refuse "export-onnx, NaN weight" "must be finite" "$T/nan/checkpoint.h5" -- "$HG" export-onnx --run "$T/nan" --graph score --batch 1 --out "$T/o/m.onnx"

# ---- defect 6: deeply nested YAML is refused at once
$PY -c "print('data: ' + '[' * 200000 + ']' * 200000)" > "$T/deep.yaml"
start=$(date +%s%N)
refuse "deep YAML" "deep.yaml:1: nesting deeper than 32 levels" "$T/deep.yaml" -- "$HG" info --config "$T/deep.yaml"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 10000 ] || fail "deep YAML took $ms ms (was 126 s)"
head -c 2000000 /dev/zero | tr '\0' '#' > "$T/big.yaml"
refuse "2 MB YAML" "larger than 1048576 bytes" "$T/big.yaml" -- "$HG" info --config "$T/big.yaml"

# ---- defects 7, 8: sizes bounded, arithmetic checked, memory estimated before building
cfg() { printf "score:\n  %s\n" "$1" > "$T/c.yaml"; }
cfg "n_layers: 100000"
refuse "n_layers 100000 (info)" "score.n_layers: 100000 outside the supported range [0, 64]" "$T/c.yaml" -- "$HG" info --config "$T/c.yaml"
refuse "n_layers 100000 (train)" "score.n_layers: 100000 outside" "$T/c.yaml" -- "$HG" train --config "$T/c.yaml" --data "$T/d.h5" --out "$T/o/r" --steps 1
cfg "d_model: 1000000000"
refuse "d_model 1e9" "score.d_model: 1000000000 outside" "$T/c.yaml" -- "$HG" info --config "$T/c.yaml"
printf "score:\n  d_model: 16384\n  d_mlp: 65536\n  n_layers: 64\n" > "$T/c.yaml"
refuse "a model no machine holds" "score.d_model: the model needs at least" "$T/c.yaml" -- "$HG" info --config "$T/c.yaml"
printf "data:\n  n_particles: 1048576\nscore:\n  n_layers: 64\ntraining:\n  batch_size: 65536\n" > "$T/c.yaml"
refuse "activations beyond memory" "the model needs at least" "$T/c.yaml" -- "$HG" info --config "$T/c.yaml"
cfg "n_layers: 64"
run timeout 300 "$HG" info --config "$T/c.yaml"
expect_rc 0 "n_layers 64 (the bound) works"
printf '%s' "$OUT" | grep -qE "total +[0-9]+$" || fail "n_layers 64: no total: $OUT"
printf '%s' "$OUT" | grep -q -- "-[0-9]" && fail "negative number printed: $OUT"
echo "cli_valid: ok"
