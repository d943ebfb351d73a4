#!/usr/bin/python3
"""Writes the seed corpora of the fuzzers into tests/fuzz/corpus/<fuzzer>/.

usage: tests/fuzz/make_seeds.py   (from anywhere; needs numpy; deterministic)

Seeds are small valid inputs (and a few near-misses) of each reader: IR
text (tests/data/ir), configs (configs/*.yaml), .npy files of every
accepted dtype and version, CSV and Quijote tables, and recipes for the
HDF5 fuzzers (format in fuzz_h5.c) describing a valid format-2 and
format-1 dataset and a valid checkpoint.
"""
import io
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def put(fuzzer, name, data):
    d = os.path.join(OUT, fuzzer)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


# names / strings: indices into fuzz_h5.c's tables
N = {n: i for i, n in enumerate([
    "halos", "counts", "cosmology", "split/train", "split/val", "split/test", "state/score/kernel",
    "state/opt/m/score/kernel", "state/x", "norm/mean", "norm/std", "state", "split", "format", "box_size",
    "redshift", "feature_names", "feature_units", "source", "licence", "split_seed", "split_fractions",
    "checksum", "names", "step", "seed", "config", "dataset_checksum", "rng_counter_names", "rng_counters"])}
S = {s: i for i, s in enumerate([
    "halograph-dataset-2", "halograph-dataset-1", "halograph-dataset-3", "halograph-checkpoint-2",
    "halograph-checkpoint-1", "halograph-checkpoint-x", "x", "y", "z", "vx", "vy", "vz", "M", "Omega_m",
    "sigma_8", "score/kernel", "opt/m/score/kernel", "x/../y", "", "score:\n  d_model: 16\n", "Mpc/h"])}
F32, F64, I32, I64, U64, VSTR = 0, 1, 2, 3, 4, 7
SMALL = 0x80


def rec(op, name, ty, dims, vals):
    return bytes([op, N[name], ty, len(dims)] + list(dims) + list(vals))


def dataset_recipe(fmt, flags):
    r = bytes([flags])
    r += rec(0, "halos", SMALL | F32, [2, 2, 3], [4, 8, 12, 1, 2, 3, 20, 24, 28, 5, 6, 7])  # positions v/4 in [0, 10)
    r += rec(0, "counts", SMALL | I32, [2], [18, 17])          # counts 2, 1 (v - 16)
    r += rec(0, "cosmology", SMALL | F32, [2, 2], [1, 3, 2, 3])
    r += rec(2, "names", VSTR, [2], [S["Omega_m"], S["sigma_8"]])
    r += rec(0, "split/train", SMALL | I32, [1], [16])          # sim 0
    r += rec(0, "split/val", SMALL | I32, [1], [17])            # sim 1
    r += rec(0, "split/test", SMALL | I32, [0], [])
    r += rec(1, "format", VSTR, [], [S[fmt]])
    r += rec(1, "box_size", SMALL | F64, [], [40])              # 10.0
    r += rec(1, "redshift", SMALL | F64, [], [0])
    r += rec(1, "feature_names", VSTR, [3], [S["x"], S["y"], S["z"]])
    return r


def checkpoint_recipe(fmt, flags):
    r = bytes([flags])
    r += rec(1, "format", VSTR, [], [S[fmt]])
    r += rec(1, "step", SMALL | I64, [], [21])                  # step 5
    r += rec(1, "seed", SMALL | U64, [], [52])
    r += rec(1, "dataset_checksum", SMALL | U64, [], [7])
    r += rec(1, "config", VSTR, [], [S["score:\n  d_model: 16\n"]])
    r += rec(0, "state/score/kernel", SMALL | F32, [2, 2], [1, 2, 3, 4])
    r += rec(0, "state/x", SMALL | F32, [3], [5, 6, 7])
    r += rec(0, "norm/mean", SMALL | F64, [2], [1, 2])
    r += rec(0, "norm/std", SMALL | F64, [2], [3, 4])
    return r


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for f in sorted(os.listdir(os.path.join(ROOT, "tests/data/ir"))):
        put("fuzz_ir_text", f, open(os.path.join(ROOT, "tests/data/ir", f), "rb").read())
    for f in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        put("fuzz_config", f, open(os.path.join(ROOT, "configs", f), "rb").read())
    put("fuzz_config", "flow.yaml", "score: {d_model: 32, n_heads: 4}\ndata: {conditioning: [Omega_m]}\n")
    put("fuzz_config", "empty.yaml", "")
    rng = np.random.default_rng(0)
    put("fuzz_npy", "f4_rank3.npy", npy(rng.random((2, 3, 4), dtype=np.float32)))
    put("fuzz_npy", "f8_rank2.npy", npy(rng.random((3, 2))))
    put("fuzz_npy", "i4_rank1.npy", npy(np.arange(5, dtype="<i4")))
    put("fuzz_npy", "b1_rank1.npy", npy(np.array([True, False, True])))
    put("fuzz_npy", "f4_rank0.npy", npy(np.float32(1.5)))
    put("fuzz_npy", "f4_v2.npy", npy(np.ones((2, 2), dtype=np.float32), version=(2, 0)))
    put("fuzz_npy", "f4_fortran.npy", npy(np.asfortranarray(np.ones((2, 3), dtype=np.float32))))
    put("fuzz_npy", "f4_bigendian.npy", npy(np.ones(3, dtype=">f4")))
    lines = open(os.path.join(ROOT, "data/fastpm-lh/cosmology.csv")).read().splitlines()[:5]
    put("fuzz_tables", "cosmology.csv", "\n".join(lines) + "\n")
    put("fuzz_tables", "indexed.csv", ",Omega_m,sigma_8\r\n0,0.3,0.8\r\n1,0.25,0.9\r\n")
    put("fuzz_tables", "quijote.txt", "#Omega_m   Omega_b  h   n_s  sigma_8\n0.1 0.04 0.6 0.9 0.7\n"
        "0.2  0.05 0.7 1.0 0.8\n# comment\n0.3\t0.06 0.8 1.1 0.9\n")
    put("fuzz_dataset", "v2.bin", dataset_recipe("halograph-dataset-2", 2))
    put("fuzz_dataset", "v1.bin", dataset_recipe("halograph-dataset-1", 2 | 8))
    put("fuzz_dataset", "v3.bin", dataset_recipe("halograph-dataset-3", 2))
    put("fuzz_dataset", "nosum.bin", dataset_recipe("halograph-dataset-2", 0))
    put("fuzz_checkpoint", "v2.bin", checkpoint_recipe("halograph-checkpoint-2", 4))
    put("fuzz_checkpoint", "v1.bin", checkpoint_recipe("halograph-checkpoint-1", 0))
    put("fuzz_checkpoint", "v2_nosum.bin", checkpoint_recipe("halograph-checkpoint-2", 0))


if __name__ == "__main__":
    main()
