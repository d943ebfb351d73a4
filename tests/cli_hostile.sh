#!/bin/bash
# Hostile-user cases of issue 14 (file safety half), each asserting the
# outcome: exit code, a one-line message naming the problem, every file of
# the workspace byte-identical (checksums before and after), no file left.
#  1. an output that is an input (same path, symlink, hard link, a file of
#     a run the command reads) is refused by every command;
#  2. an output that is a device, FIFO, socket or directory is refused; a
#     symbolic link is written through to its target (as root: replicas of
#     /dev/null and /dev/full made with mknod, then the real ones);
#  4. disk full (the writer's fault-injection point, and a full tmpfs as
#     root): one message, exit 1, no crash, no file or directory left;
#  5. endless or oversized text inputs (/dev/zero, /dev/urandom, FIFOs, a
#     65 MiB file) and a .npy header claiming more than the file holds;
# 11. a training killed just before committing a checkpoint: metrics.csv
#     and the checkpoint agree on resume, the stale temporary file is gone;
# and usage errors: unknown flags, missing values, extra arguments and
# malformed values print one line and exit 2.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 S=$3
PY=/usr/bin/python3
rm -rf "$S" && mkdir -p "$S"
T=$S/w       # the workspace whose files must not change
TMP=$S       # run() of common_cli.sh keeps its captures here
mkdir -p "$T"
. "$SRC/tests/common_cli.sh"
fails=0
fail() { echo "FAIL cli_hostile: $*"; fails=$((fails + 1)); }
if ! $PY -c "import h5py, numpy" 2>/dev/null; then
    echo "SKIP cli_hostile: /usr/bin/python3 lacks h5py/numpy"; exit 0
fi
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
MNT=$S/full
cleanup() { mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; }
trap cleanup EXIT

# ------------------------------------------------------------------ fixtures
tiny_run "$T" "$SRC/configs/tiny-test.yaml"
cp "$SRC/configs/tiny-test.yaml" "$T/t.yaml"
COND=Omega_m=0.3,sigma_8=0.8
"$HG" sample --run "$T/run" --n 2 --steps 2 --cond-from "$T/d.h5:test" --index 0 --out "$T/s.h5" >/dev/null ||
    fail "sample fixture"
cat >"$T/f.hg" <<'EOF'
%0 = input f64[3] name="x"
%1 = state f64[3] name="w"
%2 = mul f64[3] %0 %1
%3 = sum f64[] %2 axes=[] keepdims=0
output "loss" %3
EOF
$PY - "$T" <<'EOF' || fail "npy fixtures"
import sys, numpy as np
t = sys.argv[1]
np.save(t + "/x.npy", np.array([1.0, 2.0, 3.0]))
np.save(t + "/w.npy", np.array([0.5, 0.25, 2.0]))
# a header claiming 10^12 x 64 x 7 float32 (1.8 TB) over 28 data bytes
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 64, 7), }"
hdr += " " * (118 - len(hdr)) + "\n"
open(t + "/huge.npy", "wb").write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + bytes(28))
EOF
mkdir -p "$T/o" && cp "$T/x.npy" "$T/o/loss.npy"
mkdir -p "$T/ev" && cp "$T/s.h5" "$T/ev/stats.h5"
ln -s d.h5 "$T/link.h5"
ln "$T/d.h5" "$T/hard.h5"
ln -s nowhere/x.h5 "$T/dangling.h5"
mkdir -p "$T/adir"
mkfifo "$T/fifo"
$PY -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$T/sock" || fail "socket fixture"
if [ $ROOT = 1 ]; then
    mkdir -p "$T/dev"
    mknod "$T/dev/null" c 1 3 && mknod "$T/dev/full" c 1 7 || fail "mknod"
    ln -s dev/null "$T/to-null"
fi

# snapshot: checksums of the regular files and the kind of everything else
snapshot() {
    (cd "$T" && find . -type f -exec md5sum {} + | sort && find . ! -type f -printf '%p %y %l\n' | sort)
}
# refuse RC PATTERN CMD...: CMD exits RC, prints exactly one line to
# stderr containing PATTERN, and no file of the workspace changes.
refuse() {
    local want=$1 pat=$2; shift 2
    local before; before=$(snapshot)
    timeout 120 "$@" >"$S/out" 2>"$S/err"; local rc=$?
    local err; err=$(cat "$S/err")
    [ "$rc" = "$want" ] || fail "$*: exit $rc, expected $want ($err)"
    [ "$(wc -l <"$S/err")" = 1 ] || fail "$*: stderr is not one line: $err"
    case "$err" in *"$pat"*) ;; *) fail "$*: message '$err' lacks '$pat'" ;; esac
    local after; after=$(snapshot)
    [ "$after" = "$before" ] || fail "$*: the workspace changed: $(diff <(echo "$before") <(echo "$after") | head -5)"
}
IMP=("$HG" import --halos "$T/h.npy" --cosmology "$T/c.csv" --box 500 --split 0.5,0.25,0.25)
SMP=("$HG" sample --run "$T/run" --n 1 --steps 2 --cond $COND)
XI=("$HG" xi --data "$T/d.h5" --index 0)
LIK=("$HG" likelihood --run "$T/run" --data "$T/d.h5" --index 0 --param Omega_m --grid 0.2:0.4:2 --steps 2 --replicas 1)
NEL=("$HG" nelbo --run "$T/run" --data "$T/d.h5" --steps 2)
ONX=("$HG" export-onnx --graph score --batch 1)
EVL=("$HG" eval --data "$T/d.h5" --split test --index 0 --knn-queries 100)

# ------------------------------------- 1. an output that is one of the inputs
IS="is the input"
refuse 2 "$IS" "${IMP[@]}" --out "$T/h.npy"
refuse 2 "$IS" "${IMP[@]}" --out "$T/c.csv"
for f in checkpoint.h5 config.yaml run.yaml norm.h5 metrics.csv; do
    refuse 2 "$IS" "${SMP[@]}" --out "$T/run/$f"
    refuse 2 "$IS" "${LIK[@]}" --out "$T/run/$f"
    refuse 2 "$IS" "${NEL[@]}" --out "$T/run/$f"
    refuse 2 "$IS" "${ONX[@]}" --run "$T/run" --out "$T/run/$f"
done
refuse 2 "$IS" "$HG" sample --run "$T/run" --n 1 --steps 2 --cond-from "$T/d.h5:train" --out "$T/d.h5"
refuse 2 "$IS" "${XI[@]}" --out "$T/d.h5"
refuse 2 "$IS" "${XI[@]}" --out "$T/link.h5"      # a symbolic link to the input
refuse 2 "$IS" "${XI[@]}" --out "$T/hard.h5"      # a hard link to the input
refuse 2 "$IS" "${LIK[@]}" --out "$T/d.h5"
refuse 2 "$IS" "${NEL[@]}" --out "$T/d.h5"
refuse 2 "$IS" "${ONX[@]}" --config "$T/t.yaml" --out "$T/t.yaml"
refuse 2 "$IS" "$HG" profile --config "$T/t.yaml" --graph score --batch 1 --iters 1 --warmup 0 --trace "$T/t.yaml"
refuse 2 "$IS" "$HG" ir-grad "$T/f.hg" --loss loss --wrt x --out "$T/f.hg"
refuse 2 "$IS" "$HG" ir-run "$T/f.hg" --input "x=$T/o/loss.npy" --state "w=$T/w.npy" --out "$T/o"
refuse 2 "$IS" "$HG" ir-run "$T/f.hg" --input "x=$T/x.npy" --state "w=$T/w.npy" --out "$T/o2" --state-out "$T"
refuse 2 "$IS" "${EVL[@]}" --samples "$T/ev/stats.h5" --out "$T/ev"
refuse 2 "$IS" "$HG" train --config "$T/t.yaml" --data "$T/run/norm.h5" --out "$T/run" --resume
refuse 2 "the output directory exists and is a regular file" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$T/d.h5"
# an existing directory of the user's (files, no checkpoint.h5) is not a
# run: train and export-weights would replace its config.yaml, metrics.csv
mkdir -p "$T/proj" && echo "my notes" >"$T/proj/metrics.csv" && echo "my config" >"$T/proj/config.yaml"
FOREIGN="already holds files (e.g. '"
refuse 1 "$FOREIGN" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$T/proj" --steps 1
refuse 1 "$FOREIGN" "$HG" export-weights --run "$T/run" --out "$T/proj"
refuse 2 "the output path is empty" "${SMP[@]}" --out ""
refuse 2 "the output path is empty" "${XI[@]}" --out ""
# train --resume --config RUN/config.yaml reads it and leaves it as it is
before=$(md5sum <"$T/run/config.yaml")
cp -r "$T/run" "$S/run-copy"
"$HG" train --config "$S/run-copy/config.yaml" --data "$T/d.h5" --out "$S/run-copy" --resume --steps 4 >/dev/null 2>&1 ||
    fail "train --resume --config RUN/config.yaml"
[ "$(md5sum <"$S/run-copy/config.yaml")" = "$before" ] || fail "train rewrote the --config it read"

# ------------------------------- 2. special files are never replaced by a file
for kind in "adir:is a directory" "fifo:is a FIFO" "sock:is a socket" "dangling.h5:symbolic link whose target"; do
    f=${kind%%:*} pat=${kind#*:}
    refuse 2 "$pat" "${IMP[@]}" --out "$T/$f"
    refuse 2 "$pat" "${SMP[@]}" --out "$T/$f"
    refuse 2 "$pat" "${XI[@]}" --out "$T/$f"
done
refuse 2 "is a FIFO" "$HG" profile --config "$T/t.yaml" --graph score --batch 1 --iters 1 --warmup 0 --trace "$T/fifo"
refuse 2 "is a FIFO" "$HG" ir-grad "$T/f.hg" --loss loss --wrt x --out "$T/fifo"
refuse 2 "is a FIFO" "${ONX[@]}" --config "$T/t.yaml" --out "$T/fifo"
# a symbolic link to a regular file is written through: the link stays
cp "$T/d.h5" "$S/target.h5" && ln -s "$S/target.h5" "$S/via-link.h5"
"${IMP[@]}" --out "$S/via-link.h5" >/dev/null 2>&1 || fail "import through a symbolic link"
[ -L "$S/via-link.h5" ] && [ -f "$S/target.h5" ] || fail "the symbolic link was replaced by a file"
"$HG" inspect "$S/target.h5" >/dev/null 2>&1 || fail "the link target is not the new dataset"
if [ $ROOT = 1 ]; then
    dev_ok=1
    for d in null full; do
        for c in IMP SMP XI; do
            eval "cmdv=(\"\${$c[@]}\")"
            n0=$fails
            refuse 2 "is a character device" "${cmdv[@]}" --out "$T/dev/$d"
            [ -c "$T/dev/$d" ] || { fail "$c --out dev/$d replaced the device"; dev_ok=0; }
            [ $fails = "$n0" ] || dev_ok=0
        done
    done
    refuse 2 "is a character device" "${SMP[@]}" --out "$T/to-null"  # a link to a device
    # the real ones, only once the replicas proved safe, and only while
    # they are devices (another process on the machine may have broken one)
    if [ $dev_ok = 1 ]; then
        for d in /dev/null /dev/full; do
            for c in IMP SMP; do
                eval "cmdv=(\"\${$c[@]}\")"
                [ -c $d ] || { echo "cli_hostile: $d is not a device on this machine: not tried"; break; }
                out=$("${cmdv[@]}" --out $d 2>&1); rc=$?
                [ $rc = 2 ] && [ -c $d ] || fail "$c --out $d: exit $rc ($out); $(ls -l $d)"
            done
        done
        ls /dev | grep -q '\.tmp\.' && fail "temporary files left in /dev"
    fi
else
    echo "cli_hostile: not root: device outputs (/dev/null, /dev/full) not tried"
fi

# ---------------------------------------------------------------- 4. disk full
# full_case WHAT OUT CMD...: CMD fails with one line naming OUT and ENOSPC,
# exit 1 (no crash), and neither OUT nor a temporary file remains.
full_case() {
    local what=$1 out=$2; shift 2
    "$@" >"$S/out" 2>"$S/err"; local rc=$?
    local err; err=$(cat "$S/err")
    [ $rc = 1 ] || fail "disk full ($what): exit $rc, expected 1 ($err)"
    [ "$(wc -l <"$S/err")" = 1 ] || fail "disk full ($what): stderr is not one line: $err"
    case "$err" in *"No space left on device"*) ;; *) fail "disk full ($what): message '$err'" ;; esac
    [ ! -e "$out" ] || fail "disk full ($what): $out was left"
    ls "$(dirname "$out")" | grep -q '\.tmp\.' && fail "disk full ($what): temporary file left in $(dirname "$out")"
}
disk_full_cases() { # disk_full_cases DIR [ENV...]
    local D=$1; shift
    full_case "import $*" "$D/d.h5" env "$@" "${IMP[@]}" --out "$D/d.h5"
    full_case "sample $*" "$D/s.h5" env "$@" "${SMP[@]}" --out "$D/s.h5"
    full_case "xi $*" "$D/x.h5" env "$@" "${XI[@]}" --out "$D/x.h5"
    full_case "likelihood $*" "$D/p.h5" env "$@" "${LIK[@]}" --out "$D/p.h5"
    full_case "nelbo $*" "$D/e.h5" env "$@" "${NEL[@]}" --out "$D/e.h5"
    full_case "export-onnx $*" "$D/m.onnx" env "$@" "${ONX[@]}" --config "$T/t.yaml" --out "$D/m.onnx"
    full_case "ir-grad $*" "$D/g.hg" env "$@" "$HG" ir-grad "$T/f.hg" --loss loss --wrt x --out "$D/g.hg"
    full_case "eval $*" "$D/ev" env "$@" "$HG" eval --samples "$T/s.h5" --data "$T/d.h5" --index 0 --knn-queries 100 --out "$D/ev/sub"
    [ ! -e "$D/ev" ] || fail "disk full (eval $*): the output directory it created was left"
    full_case "ir-run $*" "$D/r" env "$@" "$HG" ir-run "$T/f.hg" --input "x=$T/x.npy" --state "w=$T/w.npy" --out "$D/r/o"
    [ ! -e "$D/r" ] || fail "disk full (ir-run $*): the output directory it created was left"
}
mkdir -p "$S/fi"
before=$(snapshot)
disk_full_cases "$S/fi" HG_FAULT_INJECT=enospc@100
[ "$(snapshot)" = "$before" ] || fail "disk full (fault injection): the workspace changed"
if [ $ROOT = 1 ] && mkdir -p "$MNT" && mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null; then
    dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null # until the disk is full
    disk_full_cases "$MNT"
    # train: a new run directory on a full disk is removed again
    full_case "train" "$MNT/run" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$MNT/run" --steps 2
    umount "$MNT"
else
    echo "cli_hostile: no tmpfs (not root or mount refused): disk full tried by fault injection only"
fi

# ----------------------------------------------- 5. endless and oversized input
truncate -s 65M "$S/big.yaml"
endless_case() { # endless_case PATTERN CMD... (bounded time: a hang fails)
    local pat=$1; shift
    timeout 60 "$@" >"$S/out" 2>"$S/err"; local rc=$?
    local err; err=$(cat "$S/err")
    [ $rc = 1 ] || fail "$*: exit $rc, expected 1 ($err)"
    [ "$(wc -l <"$S/err")" = 1 ] || fail "$*: stderr is not one line: $err"
    case "$err" in *"$pat"*) ;; *) fail "$*: message '$err' lacks '$pat'" ;; esac
}
for z in /dev/zero /dev/urandom; do
    endless_case "NUL byte" "$HG" import --halos "$T/h.npy" --cosmology $z --box 500 --out "$S/x.h5"
    endless_case "NUL byte" "$HG" import --halos "$T/h.npy" --params-table $z --box 500 --out "$S/x.h5"
    endless_case "NUL byte" "$HG" info --config $z
    endless_case "NUL byte" "$HG" ir-check $z
    endless_case "NUL byte" "$HG" train --config $z --data "$T/d.h5" --out "$S/r"
    endless_case "not a regular file" "$HG" import --halos $z --cosmology "$T/c.csv" --box 500 --out "$S/x.h5"
    endless_case "not a regular file" "$HG" xi --data $z --index 0 --out "$S/x.h5"
done
endless_case "over the" "$HG" info --config "$S/big.yaml"
endless_case "over the" "$HG" import --halos "$T/h.npy" --cosmology "$S/big.yaml" --box 500 --out "$S/x.h5"
yes "a: 1" | endless_case "over the limit" "$HG" info --config /dev/stdin
mkfifo "$S/nowriter"
endless_case "" "$HG" import --halos "$T/h.npy" --cosmology "$S/nowriter" --box 500 --out "$S/x.h5"
endless_case "truncated: shape needs" "$HG" import --halos "$T/huge.npy" --cosmology "$T/c.csv" --box 500 --out "$S/x.h5"
[ ! -e "$S/x.h5" ] || fail "a refused import left $S/x.h5"

# -------------------------- 11. metrics.csv and the checkpoint after a kill
R=$S/kr
"$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$R" --steps 2 --ckpt-every 1 --val-every 1 >/dev/null 2>&1 || fail "train 2 steps"
{ (HG_FAULT_INJECT=kill-before-rename:checkpoint.h5 exec "$HG" train --data "$T/d.h5" --out "$R" --resume --steps 4 \
    --ckpt-every 1 --val-every 1 >/dev/null 2>&1); rc=$?; } 2>/dev/null
[ $rc = 137 ] || fail "the injected kill did not happen (exit $rc)"
ls "$R" | grep -q 'checkpoint.h5.tmp.' || fail "no temporary checkpoint left by the killed writer: $(ls "$R")"
grep -q '^3,' "$R/metrics.csv" || fail "row 3 was not durable before its checkpoint: $(cat "$R/metrics.csv")"
"$HG" train --data "$T/d.h5" --out "$R" --resume --steps 4 --ckpt-every 1 --val-every 1 >/dev/null 2>&1 || fail "resume"
ls "$R" | grep -q '\.tmp\.' && fail "the stale temporary file was not removed: $(ls "$R")"
steps=$(tail -n +2 "$R/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
[ "$steps" = "1 2 3 4 " ] || fail "metrics.csv steps '$steps', expected 1 2 3 4 once each"
"$HG" inspect "$R/checkpoint.h5" 2>&1 | grep -q "^  step 4," || fail "checkpoint not at step 4: $("$HG" inspect "$R/checkpoint.h5" 2>&1 | head -3)"

# ------------------------------------------------ usage errors: one line, exit 2
U="$S/u.h5"
usage_case() { # usage_case PATTERN CMD...: exit 2, one line, no output file
    refuse 2 "$@"
    [ ! -e "$U" ] || fail "$*: left $U"
}
usage_case "unknown option '--bogus'" "${IMP[@]}" --out "$U" --bogus x
usage_case "option --out needs a value" "${IMP[@]}" --out
usage_case "unexpected argument 'extra'" "${IMP[@]}" --out "$U" extra
usage_case "--split" "$HG" import --halos "$T/h.npy" --cosmology "$T/c.csv" --box 500 --split 0.5,0.5,0.5 --out "$U"
usage_case "--split" "$HG" import --halos "$T/h.npy" --cosmology "$T/c.csv" --box 500 --split bogus --out "$U"
usage_case "unknown option '--bogus'" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$S/r" --bogus
usage_case "option --config needs a value" "$HG" train --data "$T/d.h5" --out "$S/r" --config
usage_case "unexpected argument 'extra'" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$S/r" extra
usage_case "--backend: unknown backend 'gpu'" "$HG" train --config "$T/t.yaml" --data "$T/d.h5" --out "$S/r" --backend gpu
[ ! -e "$S/r" ] || fail "a refused train left $S/r"
usage_case "unknown option '--bogus'" "${SMP[@]}" --out "$U" --bogus
usage_case "option --run needs a value" "$HG" sample --n 1 --steps 2 --out "$U" --run
usage_case "unexpected argument 'extra'" "${SMP[@]}" --out "$U" extra
usage_case "'nan' is not a finite number" "$HG" sample --run "$T/run" --n 1 --steps 2 --cond Omega_m=nan,sigma_8=0.8 --out "$U"
usage_case "--backend: unknown backend 'gpu'" "${SMP[@]}" --out "$U" --backend gpu
usage_case "unknown split" "$HG" sample --run "$T/run" --n 1 --steps 2 --cond-from "$T/d.h5:bogus" --out "$U"
for c in LIK NEL; do
    eval "cmdv=(\"\${$c[@]}\")"
    usage_case "unknown option '--frob'" "${cmdv[@]}" --out "$U" --frob
    usage_case "option --out needs a value" "${cmdv[@]}" --out
    usage_case "unexpected argument 'extra'" "${cmdv[@]}" --out "$U" extra
    usage_case "--split: expected train, val or test" "${cmdv[@]}" --out "$U" --split bogus
    usage_case "--backend: unknown backend 'gpu'" "${cmdv[@]}" --out "$U" --backend gpu
done
usage_case "unknown option '--frob'" "$HG" ir-grad "$T/f.hg" --loss loss --wrt x --frob
usage_case "option --loss needs a value" "$HG" ir-grad "$T/f.hg" --wrt x --loss
usage_case "unexpected argument 'extra.hg'" "$HG" ir-grad "$T/f.hg" extra.hg --loss loss --wrt x
usage_case "--split: expected train, val or test" "${XI[@]}" --split bogus --out "$U"
usage_case "unknown option '--frob'" "${XI[@]}" --out "$U" --frob
usage_case "--split: expected train, val or test" "$HG" eval --samples "$T/s.h5" --data "$T/d.h5" --split bogus --out "$S/e"
usage_case "--bins" "$HG" eval --samples "$T/s.h5" --data "$T/d.h5" --index 0 --bins 100:1:10 --out "$S/e"
[ ! -e "$S/e" ] || fail "a refused eval left $S/e"
usage_case "unknown option '--frob'" "${ONX[@]}" --config "$T/t.yaml" --out "$U" --frob
usage_case "--backend: unknown backend 'gpu'" "$HG" profile --config "$T/t.yaml" --graph score --backend gpu
usage_case "unknown option '--frob'" "$HG" ir-run "$T/f.hg" --out "$S/o" --frob
usage_case "unknown command 'bogus'" "$HG" bogus --out "$U"

# ------------------------- standard output that cannot be written (/dev/full)
# a command whose result is what it prints must not exit 0 having printed
# nothing: exit 1, one line naming standard output and the reason
if [ -c /dev/full ]; then
    for c in "info --config $T/t.yaml" "inspect $T/d.h5" "ir-check $T/f.hg" "--version" "--help" "sample --help" \
             "dump-ir --config $T/t.yaml --graph score --stage built --stats"; do
        # shellcheck disable=SC2086
        "$HG" $c >/dev/full 2>"$S/err"; rc=$?
        [ $rc = 1 ] || fail "halograph $c >/dev/full: exit $rc, expected 1 ($(cat "$S/err"))"
        [ "$(wc -l <"$S/err")" = 1 ] && grep -q "write error on standard output: No space left on device" "$S/err" ||
            fail "halograph $c >/dev/full: message '$(cat "$S/err")'"
    done
fi

# ------------------------------------------------------------- nothing left
left=$(find "$T" "$S" -name '*.tmp.*' 2>/dev/null)
[ -z "$left" ] || fail "temporary files left: $left"
[ $fails = 0 ] || { echo "cli_hostile: $fails failures"; exit 1; }
echo "cli_hostile: ok"
