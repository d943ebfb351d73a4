#!/bin/bash
# Failures of a data-parallel run (issue 15), 2 ranks on loopback: a hung
# rank (SIGSTOP) makes rank 0 end the job after --step-timeout naming it;
# a killed rank (SIGKILL) ends the job (mpirun names it); SIGTERM to the
# ranks (what mpirun sends on Ctrl-C) makes rank 0 save a checkpoint and
# the job exit non-zero. After each, the checkpoint is valid: --resume
# continues it.
# args: $1 halograph binary, $2 source dir, $3 scratch dir
set -u
HG=$1 SRC=$2 T=$3
PY=/usr/bin/python3
. "$SRC/tests/common_cli.sh"
fail() { echo "FAIL cli_mpi_fail: $*"; [ -n "${MP:-}" ] && kill -KILL "$MP" 2>/dev/null; exit 1; }
mpi_ready cli_mpi_fail
rm -rf "$T" && mkdir -p "$T"
tiny_dataset "$T"
# a long schedule, so that the run is still going when the test strikes
sed -e 's/batch_size: 2/batch_size: 4/' -e 's/n_train_steps: 200/n_train_steps: 1000000/' \
    "$SRC/configs/tiny-test.yaml" >"$T/c.yaml"

# rank_pid R: the pid of rank R among mpirun's children (their environment)
rank_pid() {
    local p
    for p in $(ps -o pid= --ppid "$MP"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$p"; return; }
    done
}
# start RUN: a 2-rank run in the background (MP = mpirun's pid); returns once
# 3 checkpointed steps are in RUN/metrics.csv
start() {
    $MPIRUN -np 2 "$HG" train --config "$T/c.yaml" --data "$T/d.h5" --out "$T/$1" --threads 1 --ckpt-every 2 \
        --val-every 0 --step-timeout 3 --steps 1000000 >"$T/$1.log" 2>&1 &
    MP=$!
    for i in $(seq 600); do
        [ "$(cat "$T/$1/metrics.csv" 2>/dev/null | wc -l)" -ge 4 ] && break
        kill -0 "$MP" 2>/dev/null || { cat "$T/$1.log"; fail "$1: the run ended early"; }
        sleep 0.1
    done
    R0=$(rank_pid 0) R1=$(rank_pid 1)
    [ -n "$R0" ] && [ -n "$R1" ] || fail "$1: ranks not found among the children of mpirun $MP"
}
# finish RUN MAXSECONDS: waits for mpirun; its status in RC; fails after MAXSECONDS
finish() {
    local t0=$SECONDS
    while kill -0 "$MP" 2>/dev/null; do
        [ $((SECONDS - t0)) -le "$2" ] || fail "$1: the job did not end within $2 s: $(tail -5 "$T/$1.log")"
        sleep 0.2
    done
    wait "$MP"; RC=$?
    MP=
}
# resumable RUN: the checkpoint left behind is valid and --resume continues it
resumable() {
    "$HG" train --resume --data "$T/d.h5" --out "$T/$1" --threads 1 --steps 1000000 >"$T/$1.resume.log" 2>&1 &
    local p=$! i
    for i in $(seq 300); do
        grep -q "^step " "$T/$1.resume.log" && break
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p"; local rc=$?
    [ $rc -eq 130 ] || { cat "$T/$1.resume.log"; fail "$1: resume after the failure (exit $rc)"; }
    grep -q "checkpoint saved" "$T/$1.resume.log" || fail "$1: resume log: $(cat "$T/$1.resume.log")"
}

# 1. a hung rank: rank 0 names it after the step timeout (3 s) and ends the job
start hung
kill -STOP "$R1"
finish hung 30
[ $RC -ne 0 ] || fail "hung: mpirun should exit non-zero"
# (stopped before it arrived at the allreduce, or inside it)
grep -q "rank 1 did not \(reach\|complete\) the gradient allreduce of step [0-9]* within 3 s.*(hung or dead)" "$T/hung.log" ||
    fail "hung: message: $(cat "$T/hung.log")"
# mpirun's SIGTERM stays pending in a stopped process: end it (ours)
kill -KILL "$R1" 2>/dev/null
resumable hung

# 2. a killed rank: mpirun ends the job and names it
start killed
kill -KILL "$R1"
finish killed 30
[ $RC -ne 0 ] || fail "killed: mpirun should exit non-zero"
grep -qi "rank 1" "$T/killed.log" || fail "killed: the message should name rank 1: $(cat "$T/killed.log")"
for i in $(seq 100); do kill -0 "$R0" 2>/dev/null || break; sleep 0.1; done
kill -0 "$R0" 2>/dev/null && { kill -KILL "$R0"; fail "killed: rank 0 still running 10 s after mpirun ended"; }
resumable killed

# 3. SIGTERM to every rank (mpirun's Ctrl-C): rank 0 saves, the job exits non-zero
start term
kill -TERM "$R1"; sleep 0.3; kill -TERM "$R0" 2>/dev/null  # may have stopped already
finish term 30
[ $RC -ne 0 ] || fail "term: mpirun should exit non-zero"
grep -q "interrupted at step [0-9]*; checkpoint saved" "$T/term.log" || fail "term: message: $(cat "$T/term.log")"
ls "$T/term" | grep -q tmp && fail "term: temporary files left: $(ls "$T/term")"
resumable term
echo "PASS cli_mpi_fail"
