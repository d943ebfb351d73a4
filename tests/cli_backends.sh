#!/bin/bash
# labels: fast
# The backend registry (runtime/backend.h) and the CLI agree: the list in
# the unknown-backend message, the help of every command taking --backend
# (each backend named on its own line with "NAME: summary", the default
# marked), and `profile` accepting each one.
set -u
BIN=$1 SRC=$2 TMP=$3
mkdir -p "$TMP"
fail() { echo "FAIL: $*"; exit 1; }
msg=$("$BIN" profile --config "$SRC/configs/tiny-test.yaml" --graph score --backend no-such 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unknown backend: exit $rc ($msg)"
list=$(echo "$msg" | sed -n 's/.*(available: \([a-z0-9,_-]*\)).*/\1/p')
[ -n "$list" ] || fail "no backend list in: $msg"
case ",$list," in *,ref,*) ;; *) fail "ref not listed: $list" ;; esac
case ",$list," in *,fast,*) ;; *) fail "fast not listed: $list" ;; esac
n=$(echo "$list" | tr ',' '\n' | wc -l)
for cmd in train sample likelihood nelbo profile; do
    help=$("$BIN" $cmd --help) || fail "$cmd --help exited $?"
    for b in $(echo "$list" | tr ',' ' '); do
        echo "$help" | grep -Eq "(--backend NAME +| {10,})$b( \(default\))?: " || fail "$cmd --help lacks backend $b"
    done
    got=$(echo "$help" | grep -Ec "(--backend NAME +| {10,})[a-z][a-z0-9_-]*( \(default\))?: ")
    [ "$got" -eq "$n" ] || fail "$cmd --help lists $got backends, registry has $n"
    [ "$(echo "$help" | grep -c ' (default): ')" -eq 1 ] || fail "$cmd --help: not exactly one default"
done
for b in $(echo "$list" | tr ',' ' '); do
    out=$("$BIN" profile --config "$SRC/configs/tiny-test.yaml" --graph score --batch 1 --backend "$b" \
          --iters 1 --warmup 0 2>&1) || fail "profile --backend $b: $out"
    echo "$out" | grep -q "backend $b," || fail "profile header lacks backend $b: $(echo "$out" | head -2)"
done
echo ok
