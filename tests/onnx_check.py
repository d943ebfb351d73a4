#!/usr/bin/python3
"""Checks ONNX files written by `halograph export-onnx` / hg_onnx_export with
the reference ONNX checker (Debian python3-onnx; run with /usr/bin/python3):
onnx.checker.check_model(full_check=True) (structure, op schemas of opset 17,
and shape inference in strict mode), plus the interface halograph promises:
opset 17 of the default domain, IR version 8, every graph input and output
has a doc string, and optionally named inputs/initializers are present.

usage: onnx_check.py M.onnx [--input NAME]... [--initializer NAME]...
                            [--output NAME]...
Exit status: 0 ok, 1 check failed (the reason on stderr), 77 onnx missing.
"""
import sys


def main(argv):
    try:
        import onnx
    except ImportError:
        print("onnx_check: python3-onnx is not installed", file=sys.stderr)
        return 77
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 1
    path = argv[1]
    want = {"--input": [], "--initializer": [], "--output": []}
    i = 2
    while i < len(argv):
        if argv[i] in want and i + 1 < len(argv):
            want[argv[i]].append(argv[i + 1])
            i += 2
        else:
            print("onnx_check: bad argument %r" % argv[i], file=sys.stderr)
            return 1
    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # checker and strict shape inference errors
        print("onnx_check: %s: checker failed: %s" % (path, e), file=sys.stderr)
        return 1
    if model.ir_version != 8:
        print("onnx_check: ir_version %d, expected 8" % model.ir_version, file=sys.stderr)
        return 1
    ops = {o.domain: o.version for o in model.opset_import}
    if ops.get("", None) != 17 or len(ops) != 1:
        print("onnx_check: opset imports %r, expected only {'': 17}" % ops, file=sys.stderr)
        return 1
    g = model.graph
    for kind, vals in (("input", g.input), ("output", g.output)):
        for v in vals:
            if not v.doc_string:
                print("onnx_check: %s %s has no doc string" % (kind, v.name), file=sys.stderr)
                return 1
    names = {"--input": {v.name for v in g.input},
             "--initializer": {t.name for t in g.initializer},
             "--output": {v.name for v in g.output}}
    for k, lst in want.items():
        for n in lst:
            if n not in names[k]:
                print("onnx_check: %s lacks %s %s" % (path, k[2:], n), file=sys.stderr)
                return 1
    if not model.doc_string:
        print("onnx_check: the model has no doc string", file=sys.stderr)
        return 1
    print("onnx_check: %s ok (%d nodes, %d initializers, %d inputs, %d outputs)"
          % (path, len(g.node), len(g.initializer), len(g.input), len(g.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
