#!/usr/bin/env python3
"""Kernel time of the ROW fusion groups in one step, before and after.

usage: bench/row_kernels.py BEFORE.txt AFTER.txt

Both files are `halograph profile ... --top 0` outputs of the same graph
(same node ids): AFTER's ROW kernels ("row:" rows) define a node set; the
script prints the summed time per step of those kernels in AFTER and of the
kernels of BEFORE whose members all lie in that set (in a schedule without
ROW groups: the layer_norm kernels, their epilogue loops, the prologue adds),
and the ratio before / after. Used by bench/row.sh.
"""
import re
import sys


def parse(path):
    rows, iters = [], None
    for line in open(path):
        m = re.search(r"(\d+) warm-up \+ (\d+) iterations", line)
        if m:
            iters = int(m.group(2))
        p = line.split()
        if len(p) > 9 and p[0].isdigit() and re.match(r"^[\d.]+$", p[1]):
            rows.append((float(p[1]), p[8], set(int(x) for x in re.findall(r"%(\d+)", p[-1]))))
    if not iters:
        sys.exit("%s: no profile header" % path)
    return rows, iters


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, ib = parse(sys.argv[1])
    after, ia = parse(sys.argv[2])
    nodes = set()
    for _, name, mem in after:
        if name.startswith("row:"):
            nodes |= mem
    a_rows = [t for t, name, _ in after if name.startswith("row:")]
    b_rows = [t for t, _, mem in before if mem and mem <= nodes]
    a, b = sum(a_rows) / ia, sum(b_rows) / ib
    print("row-group nodes %d: before %.3f ms/step (%d kernels) after %.3f ms/step (%d kernels)"
          " before/after %.2f" % (len(nodes), b, len(b_rows), a, len(a_rows), b / a if a else 0))


main()
