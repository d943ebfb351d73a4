"""The Python module halograph against the CLI (run by tests/cli_api.sh from a
clean directory with PYTHONPATH set to an installed prefix's site directory).

args: HALOGRAPH_CLI SRC_DIR SCRATCH (holding d.h5 and run/ of tiny_run)

Checks: sample, nelbo, likelihood profile, xi, export-onnx and train give the
CLI's results bit for bit on the same seeds; Dataset equals the file read
with h5py; xi of two points equals the natural estimator worked out by hand;
bad arguments raise ValueError (OSError for files) with the library's
message and write nothing; progress callbacks count and can stop a call.
"""
import hashlib
import math
import os
import subprocess
import sys
import threading

import h5py
import numpy as np

import halograph as hg

CLI, SRC, T = sys.argv[1:4]
RUN, DATA = os.path.join(T, "run"), os.path.join(T, "d.h5")
COND = {"Omega_m": 0.3, "sigma_8": 0.8}
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL", what, file=sys.stderr)


def cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: halograph {' '.join(args)}: {r.stderr}")
    return r.stdout


def raises(exc, pattern, fn, *a, **k):
    try:
        fn(*a, **k)
    except exc as e:
        check(pattern in str(e), f"{fn.__name__}: message {str(e)!r} lacks {pattern!r}")
        return
    except BaseException as e:  # noqa: B036
        check(False, f"{fn.__name__}: raised {type(e).__name__} ({e}), expected {exc.__name__}")
        return
    check(False, f"{fn.__name__}: no {exc.__name__} (expected {pattern!r})")


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# the module comes from the prefix, the library from next to it
check(hg.__file__.startswith(os.environ["PYTHONPATH"]), f"halograph imported from {hg.__file__}")
check(os.path.realpath(hg._lib.lib._name).startswith(os.path.realpath(os.path.join(os.environ["PYTHONPATH"], "../../.."))),
      f"library {hg._lib.lib._name} is not the prefix's")

run = hg.Run(RUN)
check((run.n_points, run.n_features, run.cond_names) == (64, 7, ["Omega_m", "sigma_8"]), repr(run))
check(run.feature_names == ["x", "y", "z", "vx", "vy", "vz", "M"], f"feature names {run.feature_names}")
check(run.box == 500.0 and run.steps_done == 3, repr(run))

# ---- sample == `halograph sample` (bit-identical), other seed differs
cli("sample", "--run", RUN, "--n", "3", "--steps", "4", "--cond", "Omega_m=0.3,sigma_8=0.8", "--seed", "7",
    "--out", os.path.join(T, "s.h5"))
with h5py.File(os.path.join(T, "s.h5")) as f:
    s_cli = f["samples"][...]
counts = []
s_py = run.sample(n=3, steps=4, cond=COND, seed=7, progress=lambda d, t, l: counts.append((d, t)) and False)
check(s_py.dtype == np.float32 and s_py.shape == (3, 64, 7), f"sample shape {s_py.shape} {s_py.dtype}")
check(s_py.tobytes() == s_cli.tobytes(), "sample: not bit-identical to the CLI")
# the tiny config's batch_size is 2: 3 clouds are 2 batches of 4 sampler steps
check(counts == [(d, 8) for d in range(1, 9)], f"sample progress {counts}")
check(not np.array_equal(run.sample(n=3, steps=4, cond=COND, seed=8), s_py), "seed 8 gives seed 7's clouds")
cond_arr = np.tile(np.array([0.3, 0.8], np.float32), (3, 1))
check(run.sample(n=3, steps=4, cond=cond_arr, seed=7).tobytes() == s_cli.tobytes(), "sample: array cond differs")
check(((s_py[..., :3] >= 0) & (s_py[..., :3] < 500)).all() and (s_py[..., 6] > 1e9).all(), "sample units")

# ---- kernel profile of sample calls: the CLI's tables, written to a file; samples unchanged
prof = os.path.join(T, "profile.txt")
run.set_profile(prof)
check(run.sample(n=3, steps=4, cond=COND, seed=7).tobytes() == s_cli.tobytes(), "sample with a profile differs")
run.set_profile(None)
text = open(prof).read() if os.path.exists(prof) else ""
check("profile of the sample-step graph (batch 2" in text and "profile of the sample-decode graph" in text
      and "matmul" in text, f"profile tables: {text[:200]!r}")
raises(ValueError, "", run.set_profile, os.path.join(RUN, "metrics.csv"))

# ---- Dataset == the file (h5py)
ds = hg.Dataset(DATA)
with h5py.File(DATA) as f:
    check(np.array_equal(ds.halos, f["halos"][...]), "Dataset.halos")
    check(np.array_equal(ds.counts, f["counts"][...]), "Dataset.counts")
    check(np.array_equal(ds.cosmology, f["cosmology"][...]), "Dataset.cosmology")
    for k in ("train", "val", "test"):
        check(np.array_equal(ds.splits[k], f["split/" + k][...]), f"Dataset.splits[{k}]")
    check(ds.box == f.attrs["box_size"], "Dataset.box")
check(ds.param_names == ["Omega_m", "sigma_8"], f"param names {ds.param_names}")
check(not ds.halos.flags.writeable, "Dataset.halos is writeable")
test = ds.splits["test"]
cols = [ds.param_names.index(c) for c in run.cond_names]

# ---- nelbo == `halograph nelbo` on the test split
cli("nelbo", "--run", RUN, "--data", DATA, "--split", "test", "--steps", "5", "--replicas", "2", "--seed", "3",
    "--out", os.path.join(T, "e.h5"))
with h5py.File(os.path.join(T, "e.h5")) as f:
    e_cli = f["nelbo"][...]
x_test = np.ascontiguousarray(ds.halos[test, :64])
mask = (np.arange(64)[None, :] < ds.counts[test][:, None]).astype(np.float32)
e_py = run.nelbo(x_test, cond=np.ascontiguousarray(ds.cosmology[test][:, cols]), mask=mask, steps=5, replicas=2,
                 seed=3)
check(e_py.tobytes() == e_cli.tobytes(), f"nelbo: {e_py} != CLI {e_cli}")

# ---- likelihood profile == `halograph likelihood`
cli("likelihood", "--run", RUN, "--data", DATA, "--split", "test", "--index", "0", "--param", "sigma_8",
    "--grid", "0.6:1.0:3", "--steps", "5", "--replicas", "2", "--seed", "1", "--out", os.path.join(T, "p.h5"))
with h5py.File(os.path.join(T, "p.h5")) as f:
    grid, l_cli, r_cli = f["grid"][...], f["loglik"][...], f["loglik_replicas"][...]
sim = test[0]
theta = {n: float(ds.cosmology[sim, c]) for n, c in zip(run.cond_names, cols)}
l_py, r_py = run.likelihood_profile(ds.cloud(sim), param="sigma_8", grid=grid, cond=theta, steps=5, replicas=2,
                                    seed=1, return_replicas=True)
check(l_py.tobytes() == l_cli.tobytes() and r_py.tobytes() == r_cli.tobytes(), f"likelihood: {l_py} != {l_cli}")

# ---- xi == `halograph xi`; and by hand for two points
cli("xi", "--data", DATA, "--split", "test", "--index", "0", "--out", os.path.join(T, "x.h5"))
with h5py.File(os.path.join(T, "x.h5")) as f:
    edges, xi_cli = f["r_edges"][...], f["xi"][...]
xi_py = hg.xi(np.ascontiguousarray(ds.cloud(sim)), box=ds.box, bins=edges)
check(xi_py.tobytes() == xi_cli.tobytes(), "xi: differs from the CLI")
# two points 3 apart across the periodic boundary of a box of 10: one pair counted twice in bin [2, 4)
two = np.array([[0.5, 1, 1], [7.5, 1, 1]], np.float32)
V = 4 / 3 * math.pi * (4 ** 3 - 2 ** 3)
want = 2 / (2 * 1 * V / 10 ** 3) - 1
got = hg.xi(two, box=10, bins=[0.5, 2, 4])
check(abs(got[1] - want) < 1e-12 * abs(want) and got[0] == -1, f"xi of two points {got}, expected [-1, {want}]")

# ---- export_onnx == `halograph export-onnx --run` (byte-identical file)
run.export_onnx(os.path.join(T, "py.onnx"), kind="sample-step", batch=2)
cli("export-onnx", "--run", RUN, "--graph", "sample-step", "--batch", "2", "--out", os.path.join(T, "cli.onnx"))
check(sha(os.path.join(T, "py.onnx")) == sha(os.path.join(T, "cli.onnx")), "export_onnx: differs from the CLI")

# ---- bad arguments: ValueError with the library's message; nothing written or changed
before = sha(os.path.join(RUN, "checkpoint.h5"))
raises(ValueError, "'h' is not a conditioning", run.sample, n=2, steps=2, cond={"Omega_m": 0.3, "h": 0.7})
raises(ValueError, "no value for sigma_8", run.sample, n=2, steps=2, cond={"Omega_m": 0.3})
raises(ValueError, "sigma_8", run.sample, n=2, steps=2, cond={"Omega_m": 0.3, "sigma_8": float("nan")})
raises(ValueError, "not finite", run.sample, n=2, steps=2, cond=np.array([0.3, np.nan], np.float32))
raises(ValueError, "dtype float64, expected float32", run.nelbo, s_py.astype(np.float64), cond=COND)
raises(ValueError, "the run's are [64, 7]", run.nelbo, np.ascontiguousarray(s_py[:, :32]), cond=COND)
bad = s_py.copy()
bad[1, 5, 2] = np.nan
raises(ValueError, "cloud 1, halo 5, feature z: nan is not finite", run.nelbo, bad, cond=COND)
bad = s_py.copy()
bad[0, 0, 6] = -1
raises(ValueError, "mass -1 is not > 0", run.nelbo, bad, cond=COND)
raises(ValueError, "param 'h' is not a conditioning parameter of the model (Omega_m, sigma_8)",
       run.likelihood_profile, s_py[0], param="h", grid=[0.1, 0.2], cond=COND)
raises(ValueError, "grid point 1: nan", run.likelihood_profile, s_py[0], param="Omega_m", grid=[0.1, np.nan],
       cond=COND)
raises(ValueError, "unknown backend 'nope'", hg.Run, RUN, backend="nope")
raises(ValueError, "not one of score", run.export_onnx, os.path.join(T, "k.onnx"), kind="loss")
raises(ValueError, "", run.export_onnx, os.path.join(RUN, "checkpoint.h5"), kind="score")
raises(OSError, "no-such-run", hg.Run, os.path.join(T, "no-such-run"))
raises(OSError, "no-such.h5", hg.Dataset, os.path.join(T, "no-such.h5"))
raises(ValueError, "positions: dtype float64", hg.xi, np.zeros((4, 3)), box=10)
check(not os.path.exists(os.path.join(T, "k.onnx")), "a refused export wrote a file")
check(sha(os.path.join(RUN, "checkpoint.h5")) == before, "a refused export changed the run's checkpoint")


# ---- the shipped weights: hg.Run("data/pretrained/default") samples the CLI's bits
shipped = os.path.join(SRC, "data", "pretrained", "default")
pre = hg.Run(shipped)
check((pre.n_points, pre.n_features, pre.cond_names) == (640, 7, ["Omega_m", "sigma_8"]), repr(pre))
cli("sample", "--run", shipped, "--n", "1", "--steps", "2", "--cond", "Omega_m=0.3,sigma_8=0.8", "--seed", "5",
    "--out", os.path.join(T, "pre.h5"))
with h5py.File(os.path.join(T, "pre.h5")) as f:
    check(pre.sample(n=1, steps=2, cond=COND, seed=5).tobytes() == f["samples"][...].tobytes(),
          "shipped weights: sample not bit-identical to the CLI")
pre.close()

# ---- profile of each graph kind == `halograph profile --config RUN/config.yaml` (same kernels), timings sane
def table_rows(text):
    """Sorted (kernel, shape) of the rows of a profile table (hg_profile_print)."""
    lines = text.splitlines()
    head = next(i for i, l in enumerate(lines) if "total_ms" in l)
    rows = []
    for l in lines[head + 1:]:
        f = l.split()
        if not f or not f[0].isdigit():
            break
        rows.append((f[8], f[-2]))
    return sorted(rows)


def cli_profile_kernels(kind):
    """(kernel count, table rows) of `halograph profile` of the run's config."""
    out = cli("profile", "--config", os.path.join(RUN, "config.yaml"), "--graph", kind, "--iters", "2", "--top", "0")
    n = int(next(l.split()[0] for l in out.splitlines() if l.endswith("kernels (fused kernels list their member nodes)")))
    return n, table_rows(out)


for kind in ("train", "sample-step", "score", "nelbo"):
    seen_pg = []
    p = run.profile(kind, iters=2, warmup=1, progress=lambda d, t, l: seen_pg.append((d, t)))
    n_cli, rows_cli = cli_profile_kernels(kind)
    check(p.n_kernels == n_cli and len(p.rows) == p.n_kernels > 0,
          f"profile {kind}: {len(p.rows)} rows, {p.n_kernels} kernels; the CLI's schedule has {n_cli}")
    check(sorted((r["name"], r["shape"]) for r in p.rows) == rows_cli, f"profile {kind}: kernels differ from the CLI's")
    check(all(r["calls"] == 2 for r in p.rows), f"profile {kind}: calls {set(r['calls'] for r in p.rows)} != 2")
    check(all(r["total_seconds"] > 0 and r["min_seconds"] <= r["mean_seconds"] <= r["max_seconds"] for r in p.rows),
          f"profile {kind}: non-positive or inconsistent kernel times")
    check(p.step_seconds.shape == (2,) and (p.step_seconds > 0).all(), f"profile {kind}: steps {p.step_seconds}")
    check(sum(r["total_seconds"] for r in p.rows) <= p.step_seconds.sum(), f"profile {kind}: kernels outlast the steps")
    check([r["total_seconds"] for r in p.rows] == sorted((r["total_seconds"] for r in p.rows), reverse=True),
          f"profile {kind}: rows not sorted by time")
    check(seen_pg == [(1, 3), (2, 3), (3, 3)], f"profile {kind}: progress {seen_pg}")
    check(p.batch == 2 and p.flops_per_step > 0 and p.backend == "jit", repr(p))
check(sha(os.path.join(RUN, "checkpoint.h5")) == before, "profiling the train graph changed the run's checkpoint")
p = run.profile("score", iters=3, trace=True)
p.write(os.path.join(T, "table.txt"))
table = open(os.path.join(T, "table.txt")).read()
check(table_rows(table) == sorted((r["name"], r["shape"]) for r in p.rows), f"profile table: {table[:300]!r}")
p.write_trace(os.path.join(T, "trace.json"))
import json  # noqa: E402

ev = json.load(open(os.path.join(T, "trace.json")))["traceEvents"]
check(sum(e.get("cat") == "kernel" and e["ph"] == "B" for e in ev) == 3 * len(p.rows), "profile trace: kernel spans")
raises(ValueError, "character device", p.write, "/dev/null")
raises(ValueError, "directory", p.write, T)
raises(ValueError, "the output is the input", p.write, os.path.join(RUN, "metrics.csv"))
raises(ValueError, "not set", run.profile("score", iters=1).write_trace, os.path.join(T, "t2.json"))
raises(ValueError, "unknown graph kind 'loss' (train, sample-step, score or nelbo)", run.profile, "loss")
raises(ValueError, "iters: 0 is outside", run.profile, "score", iters=0)
check(not os.path.exists(os.path.join(T, "t2.json")), "a refused trace wrote a file")

# ---- a hostile user: nothing crashes, nothing is clobbered, every refusal is a ValueError naming the problem
import stat  # noqa: E402

raises(ValueError, "n: 4294967297 is outside", run.sample, n=2**32 + 1, steps=2, cond=COND)  # ctypes would wrap to 1
raises(ValueError, "seed: -1 is outside", run.sample, n=1, steps=2, cond=COND, seed=-1)
raises(ValueError, "expected an integer, got 2.5", run.sample, n=1, steps=2.5, cond=COND)
raises(ValueError, "expected an integer, got True", run.sample, n=True, steps=2, cond=COND)
raises(ValueError, "is not a parameter name", run.sample, n=1, steps=2, cond={"Omega_m=0.3,sigma_8": 0.8})
raises(ValueError, "'abc' is not a number", run.sample, n=1, steps=2, cond={"Omega_m": "abc", "sigma_8": 0.8})
raises(ValueError, "Omega_m: inf is not finite", run.sample, n=1, steps=2, cond={"Omega_m": 1e40, "sigma_8": 0.8})
raises(ValueError, "grid of shape [1, 2]", run.likelihood_profile, s_py[0], param="Omega_m", grid=[[0.1, 0.2]],
       cond=COND)
raises(ValueError, "point 2, coordinate 0: 600 is outside the box [0, 10)", hg.xi,
       np.array([[1, 1, 1], [2, 2, 2], [600, 1, 1]], np.float32), box=10, bins=[0.5, 1, 2])
raises(ValueError, "box size inf", hg.xi, two, box=float("inf"), bins=[0.5, 1, 2])
raises(ValueError, "contains a NUL byte", run.export_onnx, os.path.join(T, "a\0b.onnx"))
raises(ValueError, "character device", run.export_onnx, "/dev/null")
raises(ValueError, "character device", run.set_profile, "/dev/null")
raises(ValueError, "is a directory", run.export_onnx, T)
check(stat.S_ISCHR(os.stat("/dev/null").st_mode), "/dev/null is no longer a device")
data_sha = sha(DATA)
raises(ValueError, "the output directory exists and is a regular file", hg.train,
       os.path.join(SRC, "configs/tiny-test.yaml"), DATA, DATA, steps=1)  # run directory = the dataset
raises(OSError, "not a regular file", hg.train, os.path.join(SRC, "configs/tiny-test.yaml"), RUN,
       os.path.join(T, "run-x"), steps=1)  # dataset = a run directory
check(sha(DATA) == data_sha and not os.path.exists(os.path.join(T, "run-x")), "a refused train touched its files")
m0 = np.ones((3, 64), np.float32)
m0[2] = 0
raises(ValueError, "cloud 2 has no real halo", run.nelbo, s_py, cond=COND, mask=m0)
check(np.array_equal(run.nelbo(np.asfortranarray(s_py), cond=COND), run.nelbo(s_py, cond=COND)),
      "nelbo of a Fortran-ordered copy differs")
# the C API refuses a NULL handle instead of crashing
check(lib_rc := hg._lib.lib.halograph_sample(None, 1, 1, 0, None, None, hg._lib.PROGRESS(), None),
      "halograph_sample(NULL run) returned 0")
check(lib_rc == hg._lib.ERR_INVALID and "NULL run" in hg._lib.lib.halograph_last_error().decode(),
      f"halograph_sample(NULL run): {lib_rc}")
# a closed run refuses every call; closing twice is harmless
r4 = hg.Run(RUN)
r4.close()
r4.close()
for call in (lambda: r4.sample(n=1, steps=1, cond=COND), lambda: r4.nelbo(s_py, cond=COND),
             lambda: r4.profile("score"), lambda: r4.export_onnx(os.path.join(T, "closed.onnx"))):
    raises(ValueError, "is closed", call)
# dataset views outlive Dataset.close() and the Dataset itself (the memory is freed with the last view)
import gc  # noqa: E402

ds2 = hg.Dataset(DATA)
halos2, test2 = ds2.halos, ds2.splits["test"]
ds2.close()
del ds2
gc.collect()
with h5py.File(DATA) as f:
    check(np.array_equal(halos2, f["halos"][...]) and np.array_equal(test2, f["split/test"][...]),
          "a dataset view changed after close")
del halos2, test2
gc.collect()
# Ctrl-C (SIGINT) stops a long call within a step: KeyboardInterrupt; the run stays usable
import signal  # noqa: E402
import time  # noqa: E402

timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
t0 = time.perf_counter()
timer.start()
raises(KeyboardInterrupt, "interrupted", run.sample, n=1, steps=10**7, cond=COND)
check(time.perf_counter() - t0 < 20, f"Ctrl-C took {time.perf_counter() - t0:.1f} s to stop a sample")
check(run.sample(n=3, steps=4, cond=COND, seed=7).tobytes() == s_cli.tobytes(), "sample after Ctrl-C differs")

# ---- two handles used from two threads at once, compiling the same new graph (batch 3): both succeed
# (both threads miss the JIT's in-process table and load the same object; before the fix in
# codegen/jit/jit_llvm.c the second load failed with "Duplicate definition of symbol")
pair, got = [hg.Run(RUN), hg.Run(RUN)], []


def profile_on(r):
    try:
        got.append(len(r.profile("train", batch=3, iters=1).rows))
    except Exception as e:  # noqa: BLE001 -- reported below
        got.append(str(e))


workers = [threading.Thread(target=profile_on, args=(r,)) for r in pair]
for w in workers:
    w.start()
for w in workers:
    w.join()
check(len(got) == 2 and got[0] == got[1] and isinstance(got[0], int), f"concurrent profiles: {got}")

# ---- the last error is per thread: a failure on one thread leaves another's message alone
barrier, seen = threading.Barrier(2), {}


def fail_then_read(name):
    h = hg._lib.ctypes.c_void_p()
    rc = hg._lib.lib.halograph_run_open(os.path.join(T, name).encode(), hg._lib.ctypes.byref(h))
    barrier.wait()  # both threads have failed
    seen[name] = (rc, hg._lib.lib.halograph_last_error().decode())


threads = [threading.Thread(target=fail_then_read, args=(n,)) for n in ("missing-a", "missing-b")]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(all(rc != 0 and name in msg and ("missing-b" if name == "missing-a" else "missing-a") not in msg
          for name, (rc, msg) in seen.items()) and len(seen) == 2, f"per-thread last error: {seen}")

# ---- the GIL is released during a call: this thread keeps running while another samples
# (with the GIL held, this thread would stop for the whole call: its longest pause ~ the call)
inside, span = threading.Event(), []


def long_call():
    inside.set()
    t0 = time.perf_counter()
    run.sample(n=2, steps=40, cond=COND)
    span.append(time.perf_counter() - t0)
    inside.clear()


t = threading.Thread(target=long_call)
t.start()
inside.wait()
last, longest = time.perf_counter(), 0.0
while inside.is_set():
    now = time.perf_counter()
    longest, last = max(longest, now - last), now
t.join()
check(longest < 0.5 * span[0], f"this thread paused {longest:.3f} s during a {span[0]:.3f} s call: GIL held?")

# ---- progress: a truthy return stops (KeyboardInterrupt); an exception propagates
def stop_at_2(d, t, l):
    return d >= 2


raises(KeyboardInterrupt, "interrupted", run.sample, n=1, steps=5, cond=COND, progress=stop_at_2)


class Boom(Exception):
    pass


def boom(d, t, l):
    raise Boom("from the callback")


raises(Boom, "from the callback", run.sample, n=1, steps=5, cond=COND, progress=boom)

# ---- a tqdm bar as progress: the module sets its total and advances it (tqdm itself when installed)
class Bar:
    """What the module uses of tqdm.tqdm: n, total, update(k), refresh(), set_postfix()."""

    def __init__(self):
        self.n, self.total, self.updates, self.postfix = 0, None, [], None

    def update(self, k):
        self.n += k
        self.updates.append(k)

    def refresh(self):
        pass

    def set_postfix(self, **kw):
        self.postfix = kw


bars = [Bar()]
try:
    import io  # noqa: E402

    from tqdm import tqdm  # noqa: E402

    bars.append(tqdm(file=io.StringIO()))
except ImportError:
    pass
for bar in bars:
    run.sample(n=3, steps=4, cond=COND, seed=7, progress=bar)
    check(bar.n == 8 and bar.total == 8, f"{type(bar).__name__} progress: n {bar.n}, total {bar.total}")
check(bars[0].updates == [1] * 8 and bars[0].postfix is None, f"bar updates {bars[0].updates}")
raises(ValueError, "progress: expected a callable", run.sample, n=1, steps=1, cond=COND, progress=123)

# ---- train == `halograph train` (same samples from both runs), with progress
losses, tbar = [], Bar()
r2 = hg.train(os.path.join(SRC, "configs/tiny-test.yaml"), DATA, os.path.join(T, "run-py"), steps=2,
              progress=lambda step, total, loss: losses.append((step, total, loss)))
cli("train", "--config", os.path.join(SRC, "configs/tiny-test.yaml"), "--data", DATA, "--out",
    os.path.join(T, "run-cli"), "--steps", "2")
r3 = hg.Run(os.path.join(T, "run-cli"))
check([(s, t) for s, t, _ in losses] == [(1, 2), (2, 2)] and all(math.isfinite(l) for _, _, l in losses),
      f"train progress {losses}")
check(r2.sample(n=1, steps=3, cond=COND).tobytes() == r3.sample(n=1, steps=3, cond=COND).tobytes(),
      "train: the Python run samples differently from the CLI run")
raises(ValueError, "", hg.train, os.path.join(SRC, "configs/tiny-test.yaml"), DATA, os.path.join(T, "run-py"),
       steps=2)  # a fresh run into a directory holding a checkpoint
hg.train(None, DATA, os.path.join(T, "run-py"), steps=3, resume=True, progress=tbar)
check(tbar.n == tbar.total == 3 and math.isfinite(float(tbar.postfix["loss"])), f"train bar {tbar.__dict__}")

if failures:
    raise SystemExit(f"FAIL api_check: {len(failures)} failures")
print("PASS api_check")
