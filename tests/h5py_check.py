#!/usr/bin/python3
"""Independent check, with h5py + numpy, that halograph's HDF5 files read
naturally and hold what runtime/runtime.h documents.

usage: h5py_check.py FILE [--expect-sum PATH=VALUE ...] [--expect-attr NAME=VALUE ...]

FILE is a dataset (attribute format "halograph-dataset-1" or "-2") or a
checkpoint ("halograph-checkpoint-1" or "-2"). Format-2 checksums are
recomputed here: the dataset's over halos, cosmology, counts and the
train/val/test index lists; a checkpoint's per tensor. --expect-sum checks the sum of dataset PATH,
--expect-attr a root attribute (compared as text, or as numbers when both
parse). Exit status 0 when every check passes, 1 otherwise, 77 when h5py
is not installed (the caller reports a skip).
"""
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # the caller treats 77 as "skipped"
    print(f"h5py_check: skipped: {e}")
    sys.exit(77)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def fnv1a64(data: bytes, h: int = 0xCBF29CE484222325) -> int:
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def check_dataset(f, version):
    h = f["halos"]
    check(h.dtype == np.float32 and h.ndim == 3, f"/halos is float32 rank 3 (got {h.dtype} {h.shape})")
    S, N, F = h.shape
    x = h[...]
    c = f["cosmology"]
    check(c.dtype == np.float32 and c.shape[0] == S, f"/cosmology float32 [{S}, C] (got {c.dtype} {c.shape})")
    names = [text(n) for n in c.attrs["names"]]
    check(len(names) == c.shape[1], "cosmology names match its columns")
    fn = [text(n) for n in f.attrs["feature_names"]]
    fu = [text(n) for n in f.attrs["feature_units"]]
    check(len(fn) == F and len(fu) == F, "feature_names/feature_units have F entries")
    L = float(f.attrs["box_size"])
    check(L > 0, "box_size > 0")
    for a in ("redshift", "source", "licence", "split_seed", "checksum"):
        check(a in f.attrs, f"attribute {a} present")
    counts = f["counts"][...]
    check(counts.dtype == np.int32 and counts.shape == (S,), "/counts int32 [n_sims]")
    seen = np.zeros(S, dtype=int)
    for k in ("train", "val", "test"):
        idx = f["split/" + k][...]
        check(idx.dtype == np.int32 and idx.ndim == 1, f"/split/{k} int32 list")
        check(np.all((idx >= 0) & (idx < S)), f"/split/{k} in range")
        seen[idx] += 1
    check(np.all(seen <= 1), "splits are disjoint")
    for s in range(S):
        real = x[s, : counts[s]]
        check(np.all(np.isfinite(real)), f"sim {s} finite")
        if F >= 3:
            check(np.all((real[:, :3] >= 0) & (real[:, :3] < L)), f"sim {s} positions in [0, L)")
        if F == 7:
            m = real[:, 6]
            check(np.all(m > 0), f"sim {s} masses > 0")
            check(np.all(np.diff(m) <= 0), f"sim {s} sorted by mass descending")
    nbytes = x.nbytes + c.size * 4
    if nbytes <= (1 << 20):
        raw = x.astype("<f4").tobytes() + c[...].astype("<f4").tobytes()
        if version >= 2:
            raw += counts.astype("<i4").tobytes()
            for k in ("train", "val", "test"):
                raw += f["split/" + k][...].astype("<i4").tobytes()
        want = fnv1a64(raw)
        check(int(f.attrs["checksum"]) == want, f"checksum {int(f.attrs['checksum']):016x} == FNV-1a {want:016x}")
    print(f"dataset: halos {x.shape}, cosmology {c.shape} {names}, box {L}, features {fn}")


def check_checkpoint(f, version):
    for a in ("step", "seed", "config", "dataset_checksum"):
        check(a in f.attrs, f"attribute {a} present")
    check(isinstance(f.attrs["config"], str), "config is a text attribute")
    n = []
    f["state"].visititems(lambda k, o: n.append(k) if isinstance(o, h5py.Dataset) else None)
    order = [text(s) for s in f["state"].attrs.get("names", [])]
    check(sorted(order) == sorted(n), "/state names attribute lists every stored tensor")
    if "norm" in f:
        check(f["norm/mean"].shape == f["norm/std"].shape, "norm mean/std shapes")
    if version >= 2:
        tensors = ["state/" + k for k in n] + (["norm/mean", "norm/std"] if "norm" in f else [])
        for k in tensors:
            d = f[k]
            if d.size * d.dtype.itemsize > (1 << 20):
                continue
            raw = d[...].astype(d.dtype.newbyteorder("<")).tobytes()
            check("checksum" in d.attrs and int(d.attrs["checksum"]) == fnv1a64(raw), f"checksum of /{k}")
    print(f"checkpoint: step {int(f.attrs['step'])}, {len(n)} tensors, config {len(f.attrs['config'])} chars")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    path = argv[1]
    with h5py.File(path, "r") as f:
        kind = text(f.attrs.get("format", ""))
        if kind in ("halograph-dataset-1", "halograph-dataset-2"):
            check_dataset(f, int(kind[-1]))
        elif kind in ("halograph-checkpoint-1", "halograph-checkpoint-2"):
            check_checkpoint(f, int(kind[-1]))
        else:
            check(False, f"unknown format attribute '{kind}'")
        i = 2
        while i < len(argv):
            opt, val = argv[i], argv[i + 1] if i + 1 < len(argv) else ""
            i += 2
            key, _, want = val.partition("=")
            if opt == "--expect-sum":
                got = float(np.asarray(f[key][...], dtype=np.float64).sum())
                check(abs(got - float(want)) <= 1e-6 * max(1.0, abs(float(want))), f"sum of {key}: {got} == {want}")
            elif opt == "--expect-attr":
                got = f.attrs[key]
                got_t = text(got.item() if hasattr(got, "item") else got)
                try:
                    ok = float(got_t) == float(want)
                except ValueError:
                    ok = got_t == want
                check(ok, f"attribute {key}: {got_t!r} == {want!r}")
            else:
                check(False, f"unknown option {opt}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("h5py_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
