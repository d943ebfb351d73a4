#!/bin/bash
# labels: fast
# `halograph info`: parameter counts (SPEC 7: 4,776,281 for the paper
# transformer), FLOPs lines, and usage/config errors.
set -u
BIN=$1 SRC=$2 TMP=$3
mkdir -p "$TMP"
fail() { echo "FAIL: $*"; exit 1; }
out=$("$BIN" info --config "$SRC/configs/paper-transformer.yaml") || fail "info exited $?"
echo "$out" | grep -Eq '^  total +4776281$' || fail "total parameters: $out"
echo "$out" | grep -Eq '^  score/layer_5 +789760 ' || fail "layer_5 count"
echo "$out" | grep -Eq '^  training step +[0-9]+' || fail "training FLOPs line"
echo "$out" | grep -Eq '^  sampling step +[0-9]+' || fail "sampling FLOPs line"
# sampling FLOPs of the paper transformer, batch 1: dominated by attention,
# 6 layers x 2 B H N^2 (D + Dv) = 6 x 2 x 4 x 5000^2 x 128 = 1.536e11
s=$("$BIN" info --config "$SRC/configs/paper-transformer.yaml" --batch 1 | awk '/sampling step/ {print $3}')
[ "$s" -gt 153600000000 ] && [ "$s" -lt 250000000000 ] || fail "sampling FLOPs $s"
"$BIN" info --config "$SRC/configs/demo-graph.yaml" >/dev/null || fail "demo-graph"
printf 'score: {d_model: 100, n_heads: 3}\n' > "$TMP/bad.yaml"
err=$("$BIN" info --config "$TMP/bad.yaml" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "bad config exit $rc"
echo "$err" | grep -q 'score.n_heads' || fail "bad config message: $err"
err=$("$BIN" info 2>&1); [ $? -eq 2 ] || fail "usage exit"
[ "$err" = "halograph info: --config FILE is required (see --help)" ] || fail "usage message: $err"
err=$("$BIN" info --config "$SRC/configs/demo-graph.yaml" --frob 2>&1); [ $? -eq 2 ] || fail "unknown option exit"
echo "$err" | grep -q "unexpected argument '--frob'" || fail "unknown option message: $err"
err=$("$BIN" info --config 2>&1); [ $? -eq 2 ] || fail "--config without a value"
echo "$err" | grep -q -- "--config needs a value" || fail "--config without a value: $err"
printf 'training:\n  seed: 1\n  seed: 2\n' > "$TMP/dup.yaml"
err=$("$BIN" info --config "$TMP/dup.yaml" 2>&1); [ $? -eq 1 ] || fail "repeated key exit"
echo "$err" | grep -q 'dup.yaml:3: training.seed: key appears twice' || fail "repeated key: $err"
echo ok
