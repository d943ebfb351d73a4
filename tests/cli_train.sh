#!/bin/bash
# CLI test of `halograph train`: usage and bad-input errors, a short run and
# its files, refusing to overwrite a run, Ctrl-C (SIGINT: checkpoint, exit
# 130, then --resume), the NaN path, an unknown backend.
# A tiny model (configs/tiny-test.yaml) on 4 FastPM clouds x 64 haloes.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
rm -rf "$T" && mkdir -p "$T"
fail() { echo "FAIL cli_train: $*"; exit 1; }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_train: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
CFG=$SRC/configs/tiny-test.yaml

# the tiny dataset: first 4 FastPM clouds, 64 most massive haloes
tiny_dataset "$T"

# usage errors: exit 2
"$HG" train --help | grep -q "usage: halograph train" || fail "--help"
"$HG" train >/dev/null 2>&1; [ $? -eq 2 ] || fail "no arguments should exit 2"
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --steps 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--steps 0 should exit 2"
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --threads 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--threads 0 should exit 2"
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"

# bad input: exit 1, one message naming the file
msg=$("$HG" train --config "$CFG" --data "$T/none.h5" --out "$T/r" 2>&1); [ $? -eq 1 ] || fail "missing data should exit 1"
echo "$msg" | grep -q "none.h5" || fail "missing data message: $msg"
msg=$("$HG" train --config "$CFG" --data "$CFG" --out "$T/r" 2>&1); [ $? -eq 1 ] || fail "YAML as data should exit 1"
echo "$msg" | grep -q "tiny-test.yaml" || fail "wrong-kind data message: $msg"
msg=$("$HG" train --config "$T/d.h5" --data "$T/d.h5" --out "$T/r" 2>&1); [ $? -eq 1 ] || fail "HDF5 as config should exit 1"
echo "$msg" | grep -q "d.h5" || fail "wrong-kind config message: $msg"
msg=$("$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --backend gpu 2>&1); [ $? -eq 2 ] || fail "unknown backend should exit 2"
echo "$msg" | grep -q "available: ref" || fail "backend message: $msg"
[ ! -e "$T/r/checkpoint.h5" ] || fail "a failed start left a checkpoint"
msg=$("$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --steps 5000 2>&1); [ $? -eq 1 ] || fail "--steps past the schedule should exit 1"
echo "$msg" | grep -q "exceeds training.n_train_steps 200" || fail "steps-past-schedule message: $msg"
[ ! -e "$T/r/checkpoint.h5" ] || fail "a refused start left a checkpoint"

# a short run
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --steps 6 --val-every 3 --ckpt-every 3 \
    --threads 1 >"$T/train.log" 2>&1 || { cat "$T/train.log"; fail "train"; }
grep -q "trained to step 6" "$T/train.log" || fail "final line: $(tail -3 "$T/train.log")"
for f in checkpoint.h5 config.yaml run.yaml norm.h5 metrics.csv; do [ -s "$T/r/$f" ] || fail "missing RUN/$f"; done
ls "$T/r" | grep -q tmp && fail "temporary files left in RUN: $(ls "$T/r")"
$PY - "$T/r" <<'EOF' || fail "run files"
import sys, h5py, numpy as np
r = sys.argv[1]
lines = open(r + "/metrics.csv").read().splitlines()
assert lines[0] == "step,loss,loss_diff,loss_klz,loss_recon,val_loss,lr,seconds", lines[0]
rows = [l.split(",") for l in lines[1:]]
assert [int(x[0]) for x in rows] == [1, 2, 3, 4, 5, 6], rows
for x in rows:
    loss, d, k, rc = map(float, x[1:5])
    assert abs(loss - (d + k + rc)) < 1e-3 * max(1, abs(loss)), x
assert [x[5] != "" for x in rows] == [False, False, True, False, False, True], rows
# SPEC 5 schedule of the tiny config: peak 3e-3, warmup 2, D = 200
assert float(rows[0][6]) == 0.0 and abs(float(rows[1][6]) - 1.5e-3) < 1e-12, rows
with h5py.File(r + "/checkpoint.h5") as f:
    assert int(f.attrs["step"]) == 6
    assert int(f["state/opt/step"][()]) == 6
EOF

# training into a run that has a checkpoint is refused; --resume needs one
msg=$("$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/r" --steps 8 2>&1); [ $? -eq 1 ] || fail "fresh run over a run"
echo "$msg" | grep -q -- "--resume" || fail "overwrite message: $msg"
msg=$("$HG" train --resume --data "$T/d.h5" --out "$T/nothing" 2>&1); [ $? -eq 1 ] || fail "resume of nothing"
echo "$msg" | grep -q "nothing to resume" || fail "resume message: $msg"
sed 's/d_model: 16/d_model: 32/' "$CFG" >"$T/wide.yaml"
msg=$("$HG" train --resume --config "$T/wide.yaml" --data "$T/d.h5" --out "$T/r" --steps 8 2>&1); [ $? -eq 1 ] || fail "incompatible config"
echo "$msg" | grep -q "score.d_model" || fail "incompatible config message: $msg"
"$HG" train --resume --data "$T/d.h5" --out "$T/r" --steps 8 >/dev/null 2>&1 || fail "resume to 8"
[ "$(tail -1 "$T/r/metrics.csv" | cut -d, -f1)" = 8 ] || fail "resumed metrics end at $(tail -1 "$T/r/metrics.csv")"

# Ctrl-C: SIGINT saves a checkpoint and exits 130; the run then resumes
sed 's/n_train_steps: .*/n_train_steps: 100000/' "$CFG" >"$T/long.yaml"
"$HG" train --config "$T/long.yaml" --data "$T/d.h5" --out "$T/ri" --steps 100000 --ckpt-every 0 --val-every 0 \
    >"$T/int.log" 2>&1 &
pid=$!
for i in $(seq 1 300); do
    [ -f "$T/ri/metrics.csv" ] && [ "$(wc -l <"$T/ri/metrics.csv")" -ge 4 ] && break
    sleep 0.1
done
kill -INT $pid
wait $pid; rc=$?
[ $rc -eq 130 ] || { cat "$T/int.log"; fail "SIGINT exit status $rc, expected 130"; }
grep -q "checkpoint saved" "$T/int.log" || fail "SIGINT message: $(cat "$T/int.log")"
step=$($PY -c "import h5py,sys; print(int(h5py.File(sys.argv[1]).attrs['step']))" "$T/ri/checkpoint.h5") || fail "checkpoint after SIGINT not loadable"
[ "$step" -ge 3 ] || fail "checkpoint after SIGINT at step $step"
"$HG" train --resume --data "$T/d.h5" --out "$T/ri" --steps $((step + 2)) >/dev/null 2>&1 || fail "resume after SIGINT"

# NaN: an absurd learning rate; the message names the step and the last good checkpoint
sed -e 's/learning_rate: .*/learning_rate: 1.0e+30/' -e 's/warmup_steps: .*/warmup_steps: 1/' "$CFG" >"$T/nan.yaml"
msg=$("$HG" train --config "$T/nan.yaml" --data "$T/d.h5" --out "$T/rn" --steps 20 2>&1); [ $? -eq 1 ] || fail "NaN run should exit 1"
echo "$msg" | grep -Eq "non-finite .* step [0-9]+" || fail "NaN message lacks the step: $msg"
echo "$msg" | grep -q "last good checkpoint: .*rn/checkpoint.h5 (step 0)" || fail "NaN message lacks the checkpoint: $msg"

# --profile (issue 8): the kernel table of the train graph, one call per step
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/rp" --steps 3 --val-every 0 --ckpt-every 0 \
    --threads 1 --profile >"$T/prof.log" 2>&1 || { cat "$T/prof.log"; fail "train --profile"; }
grep -q "profile of the train graph (3 steps, backend jit)" "$T/prof.log" || fail "no profile header: $(tail -5 "$T/prof.log")"
grep -Eq "^ +[0-9]+ .* 3 +.* matmul " "$T/prof.log" || fail "no matmul row with 3 calls: $(grep matmul "$T/prof.log" | head -3)"
"$HG" train --config "$CFG" --data "$T/d.h5" --out "$T/rq" --steps 1 --threads 1 >"$T/noprof.log" 2>&1 || fail "train without --profile"
grep -q "profile of" "$T/noprof.log" && fail "a profile was printed without --profile"
echo "PASS cli_train"
