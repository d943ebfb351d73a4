"""halograph for Python: diffusion models of halo point clouds (issue 17).

A thin ctypes layer over libhalograph (api/halograph.h, docs/api.md); no
build step. numpy arrays go in and out without copies where the layout
allows (C-contiguous float32 in; results are fresh arrays, dataset arrays
are read-only views of the library's memory).

    import halograph as hg
    run = hg.Run("run/")
    x = run.sample(n=4, steps=500, cond={"Omega_m": 0.3, "sigma_8": 0.8}, seed=0)  # [n, N, F]
    nelbo = run.nelbo(x, cond={"Omega_m": 0.3, "sigma_8": 0.8})                     # [n]
    logl = run.likelihood_profile(x[0], param="Omega_m", grid=np.linspace(0.1, 0.5, 30),
                                  cond={"Omega_m": 0.3, "sigma_8": 0.8})
    xi = hg.xi(x[0, :, :3], box=run.box, bins=np.linspace(0.5, 120, 60))
    ds = hg.Dataset("d.h5"); ds.halos, ds.counts, ds.cosmology, ds.splits["test"]

Units are the dataset's (SPEC 1): positions Mpc/h in [0, L), velocities
km/s, mass Msun/h (linear). Errors raise ValueError (bad arguments, shapes,
names, NaN), OSError (files) or RuntimeError with the library's message.
Long calls release the GIL and take progress=callable(done, total, loss)
(a truthy return stops the call: KeyboardInterrupt) or a tqdm bar, which
the module drives (total, position, training loss):
    from tqdm import tqdm; run.sample(n=4, steps=500, cond=..., progress=tqdm())
Ctrl-C stops a long call within a step (KeyboardInterrupt).
"""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib, check, encode, ptr, f32_array, int_arg, Progress, INT32_MAX, UINT32_MAX, INT64_MAX

__all__ = ["Run", "Dataset", "Profile", "train", "xi", "set_threads", "version"]

# SPEC 6 default r bins: linspace(0.5, 120, 60) Mpc/h (models/eval.h HG_EVAL_R_*)
DEFAULT_XI_BINS = np.linspace(0.5, 120.0, 60)


def version():
    """The library's version string."""
    return lib.halograph_version().decode()


def set_threads(n):
    """OpenMP threads of the library's later calls (n >= 1)."""
    check(lib.halograph_set_threads(int_arg(n, "threads", 1, INT32_MAX)))


class _Handle:
    """An owned library handle self._h, freed by the library function named
    _free on close() (also at garbage collection and on leaving a `with`
    block); `handle` raises ValueError once it is closed."""
    _free = None

    @property
    def handle(self):
        if not getattr(self, "_h", None):
            raise ValueError(f"{self._name()} is closed")
        return self._h

    def _name(self):
        return type(self).__name__.lower()

    def close(self):
        """Frees the library's object; later calls raise ValueError."""
        if getattr(self, "_h", None):
            getattr(lib, self._free)(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Run(_Handle):
    """A trained model: a run directory written by `halograph train` (or
    halograph.train). Attributes: n_points N, n_features F, cond_names,
    feature_names, box (L, Mpc/h), redshift, steps_done."""

    _free = "halograph_run_close"

    def _name(self):
        return f"run {getattr(self, 'path', '?')!r}"

    def __init__(self, path, backend=None):
        self._h = None
        h = ctypes.c_void_p()
        check(lib.halograph_run_open(encode(path), ctypes.byref(h)))
        self._h, self.path = h, str(path)
        N, F, C = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        box, z, steps = ctypes.c_double(), ctypes.c_double(), ctypes.c_int64()
        lib.halograph_run_info(h, ctypes.byref(N), ctypes.byref(F), ctypes.byref(C), ctypes.byref(box),
                               ctypes.byref(z), ctypes.byref(steps))
        self.n_points, self.n_features, self.box, self.redshift = N.value, F.value, box.value, z.value
        self.steps_done = steps.value
        self.cond_names = [lib.halograph_run_cond_name(h, i).decode() for i in range(C.value)]
        self.feature_names = [lib.halograph_run_feature_name(h, i).decode() for i in range(F.value)]
        if backend is not None:
            check(lib.halograph_run_set_backend(h, encode(backend)))

    def __repr__(self):
        return (f"halograph.Run({self.path!r}: N={self.n_points}, F={self.n_features}, "
                f"cond={self.cond_names}, box={self.box:g}, steps_done={self.steps_done})")

    def set_profile(self, path):
        """Later sample calls write their per-kernel profile tables (as
        `halograph sample --profile` prints them) to the text file `path`,
        replaced atomically after each successful call; None turns it off."""
        check(lib.halograph_run_set_profile(self.handle, encode(path)))

    def _cond(self, cond, n):
        """cond as float32 [n, C]: a dict {name: value} (every parameter once,
        parsed by the library exactly as the CLI's --cond) or an array of
        shape [C] or [n, C]."""
        C = len(self.cond_names)
        if cond is None:
            if C:
                raise ValueError(f"cond: the model is conditioned on {', '.join(self.cond_names)}: give cond")
            return None
        if isinstance(cond, dict):
            one = np.zeros(C, np.float32)
            for k, v in cond.items():  # the spec's separators may not hide in a name; values are numbers
                if not isinstance(k, str) or any(ch in k for ch in ",= \t\n\0"):
                    raise ValueError(f"cond: {k!r} is not a parameter name ({', '.join(self.cond_names)})")
                if isinstance(v, (str, bytes, bool)) or not isinstance(v, (int, float, np.number)):
                    raise ValueError(f"cond: {k}: {v!r} is not a number")
            spec = ",".join(f"{k}={float(v)!r}" for k, v in cond.items())
            check(lib.halograph_run_parse_cond(self.handle, encode(spec, "cond"), ptr(one, ctypes.c_float)))
            return np.ascontiguousarray(np.broadcast_to(one, (n, C)))
        a = np.asarray(cond)
        if a.dtype.kind != "f":
            raise ValueError(f"cond: dtype {a.dtype}, expected floating point values")
        if a.shape not in ((C,), (n, C)):
            raise ValueError(f"cond: shape {list(a.shape)}, expected [{C}] or [{n}, {C}] "
                             f"({', '.join(self.cond_names)})")
        return np.ascontiguousarray(np.broadcast_to(a.astype(np.float32), (n, C)))

    def sample(self, n=1, steps=500, cond=None, seed=0, progress=None):
        """n clouds by ancestral sampling over `steps` steps (SPEC 3.5) with
        `seed`: float32 [n, N, F] in physical units, bit-identical to
        `halograph sample --n n --steps steps --seed seed --cond ...`."""
        h = self.handle
        n, steps = int_arg(n, "sample: n", 1, INT32_MAX), int_arg(steps, "sample: steps", 1, INT32_MAX)
        seed = int_arg(seed, "sample: seed", 0, UINT32_MAX)
        c = self._cond(cond, n)
        out = np.empty((n, self.n_points, self.n_features), np.float32)
        pg = Progress(progress)
        pg.invoke(lib.halograph_sample, h, n, steps, seed, ptr(c, ctypes.c_float), ptr(out, ctypes.c_float),
                  pg.c, None)
        return out

    def _clouds(self, x, mask, batched):
        x = f32_array(x, "x", (3,) if batched else (2,))
        if mask is not None:
            mask = f32_array(mask, "mask", (2,) if batched else (1,))
            if mask.shape != x.shape[:-1]:
                raise ValueError(f"mask: shape {list(mask.shape)}, expected {list(x.shape[:-1])}")
        return x, mask

    def nelbo(self, x, cond, mask=None, steps=50, replicas=1, seed=0, progress=None):
        """NELBO (SPEC 3.6) of each cloud of x float32 [n, N, F] (physical
        units) at its conditioning, averaged over `replicas` noise replicas
        with `steps` diffusion terms: float64 [n]. Equal to `halograph
        nelbo` on the same clouds. mask float32 [n, N] (1 real, 0 padding)."""
        h = self.handle
        steps = int_arg(steps, "nelbo: steps", 1, INT32_MAX)
        replicas = int_arg(replicas, "nelbo: replicas", 1, INT32_MAX)
        seed = int_arg(seed, "nelbo: seed", 0, UINT32_MAX)
        x, mask = self._clouds(x, mask, True)
        n = x.shape[0]
        c = self._cond(cond, n)
        out = np.empty(n, np.float64)
        pg = Progress(progress)
        pg.invoke(lib.halograph_nelbo, h, ptr(x, ctypes.c_float), n, x.shape[1], x.shape[2],
                  ptr(mask, ctypes.c_float), ptr(c, ctypes.c_float), steps, replicas,
                  seed, ptr(out, ctypes.c_double), pg.c, None)
        return out

    def likelihood_profile(self, x, param, grid, cond, mask=None, steps=50, replicas=16, seed=0,
                           return_replicas=False, progress=None):
        """Likelihood profile (SPEC 3.6) of one cloud x float32 [N, F] over
        parameter `param` at the points of `grid`, the other parameters at
        `cond`: log L float64 [len(grid)] (and [len(grid), replicas] per
        replica with return_replicas). Equal to `halograph likelihood`."""
        h = self.handle
        steps = int_arg(steps, "likelihood: steps", 1, INT32_MAX)
        replicas = int_arg(replicas, "likelihood: replicas", 1, INT32_MAX)
        seed = int_arg(seed, "likelihood: seed", 0, UINT32_MAX)
        x, mask = self._clouds(x, mask, False)
        c = self._cond(cond, 1)
        try:
            g = np.ascontiguousarray(np.asarray(grid, dtype=np.float64))
        except (TypeError, ValueError) as e:
            raise ValueError(f"likelihood: grid: {e}") from None
        if g.ndim != 1 or len(g) > INT32_MAX:
            raise ValueError(f"likelihood: grid of shape {list(g.shape)}, expected 1 dimension (the values of {param})")
        logl = np.empty(len(g), np.float64)
        rep = np.empty((len(g), replicas), np.float64)
        pg = Progress(progress)
        pg.invoke(lib.halograph_likelihood_profile, h, ptr(x, ctypes.c_float), x.shape[0], x.shape[1],
                  ptr(mask, ctypes.c_float), ptr(c, ctypes.c_float),
                  encode(param, "param"), ptr(g, ctypes.c_double), len(g), steps,
                  replicas, seed, ptr(logl, ctypes.c_double), ptr(rep, ctypes.c_double),
                  pg.c, None)
        return (logl, rep) if return_replicas else logl

    def export_onnx(self, path, kind="score", batch=1, nelbo_steps=50):
        """Writes graph `kind` (score, sample-step, sample-decode, nelbo) for
        batch `batch` as an ONNX model at `path` (atomically)."""
        h = self.handle
        batch = int_arg(batch, "export_onnx: batch", 1, INT32_MAX)
        nelbo_steps = int_arg(nelbo_steps, "export_onnx: nelbo_steps", 1, INT32_MAX)
        check(lib.halograph_export_onnx(h, encode(kind, "kind"), batch, nelbo_steps, encode(path)))

    def profile(self, kind="train", batch=0, iters=5, warmup=1, seed=None, nelbo_steps=0, trace=False,
                progress=None):
        """Profiles the kernels of graph `kind` ("train", "sample-step",
        "score", "nelbo") of this run's model for batch `batch` (0: the
        training batch size) as `halograph profile --config RUN/config.yaml
        --graph kind` does: parameters initialised from `seed` (None: the
        config's), seeded random inputs, `warmup` untimed and `iters` timed
        steps. Returns a Profile (rows per kernel, step times; write() and,
        with trace=True, write_trace())."""
        h = self.handle
        batch = int_arg(batch, "profile: batch", 0, INT32_MAX)
        iters = int_arg(iters, "profile: iters", 1, INT32_MAX)
        warmup = int_arg(warmup, "profile: warmup", 0, INT32_MAX)
        seed = -1 if seed is None else int_arg(seed, "profile: seed", 0, UINT32_MAX)
        nelbo_steps = int_arg(nelbo_steps, "profile: nelbo_steps", 0, INT32_MAX)
        p = ctypes.c_void_p()
        pg = Progress(progress)
        try:
            pg.invoke(lib.halograph_profile_graph, h, encode(kind, "kind"), batch, iters, warmup, seed,
                      nelbo_steps, 1 if trace else 0, ctypes.byref(p), pg.c, None)
        except BaseException:
            lib.halograph_profile_close(p)  # made when the callback failed after the last step
            raise
        return Profile(p, kind)


def train(config, data, run_dir, steps=0, resume=False, backend=None, progress=None):
    """Trains (SPEC 5) with the YAML `config` on dataset `data` into
    `run_dir` until `steps` updates (0: the config's n_train_steps), like
    `halograph train`; resume=True continues the run's checkpoint.
    progress(step, total, loss). Returns the Run."""
    steps = int_arg(steps, "train: steps", 0, INT64_MAX)
    pg = Progress(progress)
    pg.invoke(lib.halograph_train, encode(config), encode(data), encode(run_dir), steps, 1 if resume else 0,
              encode(backend, "backend"), pg.c, None)
    return Run(run_dir, backend=backend)


def xi(positions, box, bins=None):
    """Real-space two-point correlation function (SPEC 6) of positions
    float32 [n, >=3] (Mpc/h; columns 0..2 used) in a periodic box of side
    `box`: float64 [len(bins) - 1] for the separation bins of the edges
    `bins` (default linspace(0.5, 120, 60) Mpc/h)."""
    p = f32_array(positions, "positions", (2,))
    if p.shape[1] > INT32_MAX:
        raise ValueError(f"positions: {p.shape[1]} columns")
    try:
        edges = np.ascontiguousarray(np.asarray(DEFAULT_XI_BINS if bins is None else bins, dtype=np.float64))
        box = float(box)
    except (TypeError, ValueError) as e:
        raise ValueError(f"xi: {e}") from None
    if edges.ndim != 1 or len(edges) > INT32_MAX:
        raise ValueError(f"bins: shape {list(edges.shape)}, expected 1 dimension (bin edges)")
    out = np.empty(max(len(edges) - 1, 0), np.float64)
    check(lib.halograph_xi(ptr(p, ctypes.c_float), p.shape[0], p.shape[1], box, ptr(edges, ctypes.c_double),
                           len(edges), ptr(out, ctypes.c_double), None))
    return out


class Profile(_Handle):
    """Kernel profile of one graph kind (Run.profile; `halograph profile`):
    rows, one dict per kernel of the backend's schedule sorted by total
    time (name, shape, kernel, n_members, calls, total_seconds,
    mean_seconds, min_seconds, max_seconds, flops_per_call,
    bytes_per_call, gflops, gbytes, share); step_seconds float64 [iters];
    n_kernels, batch, flops_per_step, compile_seconds, backend. write(path)
    writes the CLI's table, write_trace(path) the Chrome trace."""

    _free = "halograph_profile_close"

    def __init__(self, h, kind):
        self._h, self.kind = h, kind
        nk, nr, it, b = ctypes.c_int(), ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        fl, cs, be = ctypes.c_int64(), ctypes.c_double(), ctypes.c_char_p()
        lib.halograph_profile_info(h, ctypes.byref(nk), ctypes.byref(nr), ctypes.byref(it), ctypes.byref(b),
                                   ctypes.byref(fl), ctypes.byref(cs), ctypes.byref(be))
        self.n_kernels, self.batch, self.flops_per_step = nk.value, b.value, fl.value
        self.compile_seconds, self.backend = cs.value, be.value.decode()
        self.step_seconds = np.ctypeslib.as_array(lib.halograph_profile_step_seconds(h), (it.value,)).copy()
        self.rows = []
        r = _lib.ProfileRow()
        for i in range(nr.value):
            check(lib.halograph_profile_row_get(h, i, ctypes.byref(r)))
            d = {k: getattr(r, k) for k, _ in _lib.ProfileRow._fields_}
            d["name"], d["shape"] = r.name.decode(), r.shape.decode()
            self.rows.append(d)

    def write(self, path, by_shape=False):
        """The table `halograph profile` prints, to the text file `path` (atomically)."""
        check(lib.halograph_profile_write(self.handle, encode(path), 1 if by_shape else 0))

    def write_trace(self, path):
        """The Chrome trace event file (Perfetto); needs Run.profile(trace=True)."""
        check(lib.halograph_profile_write_trace(self.handle, encode(path)))

    def __repr__(self):
        return (f"halograph.Profile({self.kind}: {self.n_kernels} kernels, batch {self.batch}, backend "
                f"{self.backend}, median step {1e3 * float(np.median(self.step_seconds)):.3f} ms)")


class _DatasetMemory:
    """Owns a dataset handle: freed when the last of the Dataset and its
    array views is gone, so no view can outlive the memory it shows."""

    def __init__(self, h):
        self.h = h

    def __del__(self):
        if self.h:
            lib.halograph_dataset_close(self.h)
            self.h = None


class Dataset:
    """A halo dataset file (SPEC 1, `halograph import`), checked on load.
    halos float32 [n_sims, n_points, F] (rows >= counts[s] are padding),
    counts int32 [n_sims], cosmology float32 [n_sims, P]: read-only numpy
    views of the library's memory, which lives as long as the Dataset or
    any view of it; splits {"train"|"val"|"test": int32 indices};
    param_names, feature_names, box, redshift; cloud(s) -> the real rows
    of cloud s."""

    def __init__(self, path):
        h = ctypes.c_void_p()
        check(lib.halograph_dataset_open(encode(path), ctypes.byref(h)))
        self._mem, self.path = _DatasetMemory(h), str(path)
        ns, npts, F, P = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int(), ctypes.c_int()
        box, z = ctypes.c_double(), ctypes.c_double()
        lib.halograph_dataset_info(h, ctypes.byref(ns), ctypes.byref(npts), ctypes.byref(F), ctypes.byref(P),
                                   ctypes.byref(box), ctypes.byref(z))
        self.box, self.redshift = box.value, z.value
        self.feature_names = [lib.halograph_dataset_feature_name(h, i).decode() for i in range(F.value)]
        self.param_names = [lib.halograph_dataset_param_name(h, i).decode() for i in range(P.value)]
        self.halos = self._view(lib.halograph_dataset_halos(h), (ns.value, npts.value, F.value))
        self.counts = self._view(lib.halograph_dataset_counts(h), (ns.value,))
        self.cosmology = self._view(lib.halograph_dataset_cosmology(h), (ns.value, P.value))
        self.splits = {}
        for name in ("train", "val", "test"):
            n = ctypes.c_int64()
            p = lib.halograph_dataset_split(h, name.encode(), ctypes.byref(n))
            self.splits[name] = self._view(p, (n.value,)) if n.value else np.zeros(0, np.int32)

    def _view(self, p, shape):
        if 0 in shape or not p:
            return np.zeros(shape, np.dtype(p._type_))
        a = np.ctypeslib.as_array(p, shape)
        a.flags.writeable = False
        # the view's base chain ends at an _Owner holding the memory's owner
        return np.asarray(_Owner(a, self._mem))

    def cloud(self, s):
        """The real haloes of cloud s: halos[s, :counts[s]] (a view)."""
        return self.halos[s, : self.counts[s]]

    def close(self):
        """Drops this object's arrays; the library's memory is freed once no
        view of it is left (views taken before stay valid)."""
        for k in ("halos", "counts", "cosmology", "splits", "_mem"):
            self.__dict__.pop(k, None)

    def __repr__(self):
        if "halos" not in self.__dict__:
            return f"halograph.Dataset({self.path!r}: closed)"
        return (f"halograph.Dataset({self.path!r}: {self.halos.shape[0]} clouds x {self.halos.shape[1]} x "
                f"{self.halos.shape[2]}, params {self.param_names}, box {self.box:g})")


class _Owner:
    """A buffer exporting a view of library memory while holding its owner."""

    def __init__(self, arr, owner):
        self._arr, self._owner = arr, owner
        self.__array_interface__ = arr.__array_interface__
