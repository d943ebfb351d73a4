#!/bin/bash
# labels: fast
# `halograph profile` (issue 8): every graph kind of the tiny config (and
# the graph network's score), the table sorted by time with N calls per
# node kernel, the Chrome trace (valid JSON, balanced and properly nested
# B/E events per thread, non-decreasing timestamps, kernel args), and the
# usage/config errors.
set -u
BIN=$1 SRC=$2 TMP=$3
mkdir -p "$TMP"
PY=/usr/bin/python3
fail() { echo "FAIL: $*"; exit 1; }
CFG=$SRC/configs/tiny-test.yaml

# the table: rows of "# total_ms share% calls ..." sorted by total_ms, calls = iters
check_table() { # file iters
    awk -v it="$2" '
        /^ +#  +total_ms/ {t = 1; next}
        t && $1 ~ /^[0-9]+$/ {
            n++
            if (n > 1 && $2 > prev + 1e-9) { print "not sorted at row " $1; bad = 1 }
            if ($4 != it) { print "row " $1 ": calls " $4 " != " it; bad = 1 }
            prev = $2
        }
        END { if (n < 3) { print "only " n " rows"; bad = 1 } exit bad }' "$1"
}

check_trace() { # file
    $PY - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
stacks, last, nb, kern = {}, {}, 0, 0
for e in ev:
    for key in ("ph", "pid", "tid", "name"):
        assert key in e, ("missing", key, e)
    if e["ph"] == "M":
        continue
    assert e["ph"] in ("B", "E"), e
    tid = e["tid"]
    assert e["ts"] >= last.get(tid, -1.0), ("time goes back", e)
    last[tid] = e["ts"]
    st = stacks.setdefault(tid, [])
    if e["ph"] == "B":
        assert "cat" in e, e
        st.append(e["name"])
        nb += 1
        if e["cat"] == "kernel":
            kern += 1
            a = e["args"]
            assert a["flops"] >= 0 and a["bytes"] >= 0 and len(a["members"]) >= 1, e
        else:
            assert e["name"] == "step" and len(st) == 1, ("step not outermost", e)
    else:
        assert st and st.pop() == e["name"], ("unbalanced E", e)
assert all(not s for s in stacks.values()), "unclosed B events"
assert nb > 0 and kern > 0
print(nb, kern)
EOF
}

for g in train sample-step score nelbo; do
    out=$("$BIN" profile --config "$CFG" --graph $g --iters 2 --warmup 1 --top 0 --threads 1 \
          --nelbo-steps 4 --trace "$TMP/$g.json") || fail "$g exited $?"
    echo "$out" > "$TMP/$g.txt"
    echo "$out" | grep -q "^profile: 2 steps" || fail "$g: summary line"
    echo "$out" | grep -q "^step_median_ms [0-9.]*$" || fail "$g: step time"
    check_table "$TMP/$g.txt" 2 || fail "$g: table"
    counts=$(check_trace "$TMP/$g.json") || fail "$g: trace"
    # B events = 2 steps + 2 per kernel of the table
    nk=$(echo "$out" | awk '/^[0-9]+ kernels \(/ {print $1}')
    [ "$counts" = "$((2 + 2 * nk)) $((2 * nk))" ] || fail "$g: trace events $counts for $nk kernels"
done
# the train step's matmuls report their FLOPs: some row has GFLOP/s > 0
awk '$9 == "matmul" && $6 > 0 {ok = 1} END {exit !ok}' "$TMP/train.txt" || fail "train: no matmul row with GFLOP/s"

# graph network score, aggregated by signature
sed 's/kind: transformer/kind: graph/' "$CFG" > "$TMP/graph.yaml"
out=$("$BIN" profile --config "$TMP/graph.yaml" --graph score --iters 1 --warmup 0 --by-shape --top 0 \
      --threads 2 --trace "$TMP/gnn.json") || fail "graph score exited $?"
echo "$out" | grep -q "kernel signatures (identical op and shapes aggregated)" || fail "by-shape header"
echo "$out" | grep -Eq '^ +[0-9]+ .* knn +i32\[' || fail "graph table has no knn row"
check_trace "$TMP/gnn.json" >/dev/null || fail "graph trace"

# profiler off: step times only
out=$("$BIN" profile --config "$CFG" --graph score --iters 3 --no-profile --threads 1) || fail "no-profile exited $?"
echo "$out" | grep -q "step_median_ms" || fail "no-profile step time"
echo "$out" | grep -q "total_ms" && fail "no-profile printed a table"

# overhead mode: interleaved on/off steps, both ratios printed
out=$("$BIN" profile --config "$CFG" --graph score --iters 2 --overhead --threads 1 --top 1) || fail "overhead exited $?"
echo "$out" | grep -Eq '^overhead_ratio_wall [0-9.]+$' || fail "overhead wall ratio: $out"
echo "$out" | grep -Eq '^overhead_ratio_cpu [0-9.]+$' || fail "overhead cpu ratio"
echo "$out" | grep -q '^profile: 2 steps' || fail "overhead: profiled steps"

# deterministic inputs: same seed -> same FLOPs line and same kernels
a=$("$BIN" profile --config "$CFG" --graph score --iters 1 --top 0 --threads 1 | awk '$1 ~ /^[0-9]+$/ {print $9, $10, $11}' | sort)
b=$("$BIN" profile --config "$CFG" --graph score --iters 1 --top 0 --threads 1 | awk '$1 ~ /^[0-9]+$/ {print $9, $10, $11}' | sort)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "kernel lists differ between runs"

# errors: one clear line, exit 2 (usage) or 1 (config)
expect() { # code pattern args...
    local code=$1 pat=$2; shift 2
    err=$("$BIN" profile "$@" 2>&1 >/dev/null); rc=$?
    [ $rc -eq "$code" ] || fail "profile $*: exit $rc, expected $code"
    echo "$err" | grep -q -- "$pat" || fail "profile $*: message: $err"
    [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "profile $*: more than one line: $err"
}
expect 2 "unknown graph kind 'bogus'" --config "$CFG" --graph bogus
expect 2 "\-\-iters: 'zero' is not an integer" --config "$CFG" --graph score --iters zero
expect 2 "\-\-iters: '0' is not an integer" --config "$CFG" --graph score --iters 0
expect 2 "exclude each other" --config "$CFG" --graph score --overhead --no-profile
expect 2 "unknown backend 'jit9'" --config "$CFG" --graph score --backend jit9
expect 2 "\-\-config and \-\-graph are required" --graph score
expect 1 "$TMP/missing.yaml" --config "$TMP/missing.yaml" --graph score
printf 'score: {d_model: 100, n_heads: 3}\n' > "$TMP/bad.yaml"
expect 1 "score.n_heads" --config "$TMP/bad.yaml" --graph score
expect 1 "$TMP/nodir/t.json" --config "$CFG" --graph score --iters 1 --trace "$TMP/nodir/t.json"
"$BIN" profile --help | grep -q "usage: halograph profile" || fail "help"
echo ok
