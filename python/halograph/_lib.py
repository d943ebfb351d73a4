"""ctypes bindings of libhalograph (api/halograph.h): loading the shared
library, the function prototypes, errors and progress callbacks.

The library is found, in order, at $HALOGRAPH_LIBRARY, next to the installed
package (PREFIX/lib/libhalograph.so for PREFIX/lib/python3/dist-packages/
halograph/), or by ctypes.util.find_library("halograph").

ctypes releases the GIL for the duration of every foreign call, so other
Python threads run while the library samples, trains or computes NELBOs; a
progress callback re-acquires it while it runs.
"""
import ctypes
import ctypes.util
import os
import signal
import threading

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def _find():
    env = os.environ.get("HALOGRAPH_LIBRARY")
    if env:
        return env
    installed = os.path.normpath(os.path.join(_HERE, "..", "..", "..", "libhalograph.so"))
    if os.path.exists(installed):
        return installed
    found = ctypes.util.find_library("halograph")
    if found:
        return found
    raise ImportError("halograph: libhalograph.so not found: set HALOGRAPH_LIBRARY to its path, or install "
                      "halograph (cmake --install build --prefix P) and use P/lib/python3/dist-packages")


lib = ctypes.CDLL(_find())

# return codes of halograph.h -> Python exceptions
OK, ERR_INVALID, ERR_IO, ERR_FORMAT, ERR_NUMERIC, ERR_UNSUPPORTED, ERR_NOMEM, ERR_INTERRUPTED = range(8)
_EXCEPTIONS = {ERR_INVALID: ValueError, ERR_IO: OSError, ERR_FORMAT: ValueError, ERR_NUMERIC: ValueError,
               ERR_UNSUPPORTED: NotImplementedError, ERR_NOMEM: MemoryError, ERR_INTERRUPTED: KeyboardInterrupt}

c_int, c_i64, c_u32, c_double, c_char_p, c_void_p = (ctypes.c_int, ctypes.c_int64, ctypes.c_uint32,
                                                     ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p)
P_f32 = ctypes.POINTER(ctypes.c_float)
P_f64 = ctypes.POINTER(ctypes.c_double)
P_i32 = ctypes.POINTER(ctypes.c_int32)
P_i64 = ctypes.POINTER(ctypes.c_int64)
P_int = ctypes.POINTER(ctypes.c_int)
PROGRESS = ctypes.CFUNCTYPE(c_int, c_void_p, c_i64, c_i64, c_double)

_PROTOTYPES = {
    "halograph_version": (c_char_p, []),
    "halograph_last_error": (c_char_p, []),
    "halograph_set_threads": (c_int, [c_int]),
    "halograph_run_open": (c_int, [c_char_p, ctypes.POINTER(c_void_p)]),
    "halograph_run_close": (None, [c_void_p]),
    "halograph_run_info": (None, [c_void_p, P_int, P_int, P_int, P_f64, P_f64, P_i64]),
    "halograph_run_cond_name": (c_char_p, [c_void_p, c_int]),
    "halograph_run_feature_name": (c_char_p, [c_void_p, c_int]),
    "halograph_run_set_backend": (c_int, [c_void_p, c_char_p]),
    "halograph_run_set_profile": (c_int, [c_void_p, c_char_p]),
    "halograph_run_parse_cond": (c_int, [c_void_p, c_char_p, P_f32]),
    "halograph_sample": (c_int, [c_void_p, c_int, c_int, c_u32, P_f32, P_f32, PROGRESS, c_void_p]),
    "halograph_nelbo": (c_int, [c_void_p, P_f32, c_i64, c_i64, c_i64, P_f32, P_f32, c_int, c_int, c_u32, P_f64,
                                PROGRESS, c_void_p]),
    "halograph_likelihood_profile": (c_int, [c_void_p, P_f32, c_i64, c_i64, P_f32, P_f32, c_char_p, P_f64, c_int,
                                             c_int, c_int, c_u32, P_f64, P_f64, PROGRESS, c_void_p]),
    "halograph_export_onnx": (c_int, [c_void_p, c_char_p, c_int, c_int, c_char_p]),
    "halograph_train": (c_int, [c_char_p, c_char_p, c_char_p, c_i64, c_int, c_char_p, PROGRESS, c_void_p]),
    "halograph_dataset_open": (c_int, [c_char_p, ctypes.POINTER(c_void_p)]),
    "halograph_dataset_close": (None, [c_void_p]),
    "halograph_dataset_info": (None, [c_void_p, P_i64, P_i64, P_int, P_int, P_f64, P_f64]),
    "halograph_dataset_halos": (P_f32, [c_void_p]),
    "halograph_dataset_counts": (P_i32, [c_void_p]),
    "halograph_dataset_cosmology": (P_f32, [c_void_p]),
    "halograph_dataset_split": (P_i32, [c_void_p, c_char_p, P_i64]),
    "halograph_dataset_feature_name": (c_char_p, [c_void_p, c_int]),
    "halograph_dataset_param_name": (c_char_p, [c_void_p, c_int]),
    "halograph_xi": (c_int, [P_f32, c_i64, c_int, c_double, P_f64, c_int, P_f64, P_i64]),
    "halograph_profile_graph": (c_int, [c_void_p, c_char_p, c_int, c_int, c_int, c_i64, c_int, c_int,
                                        ctypes.POINTER(c_void_p), PROGRESS, c_void_p]),
    "halograph_profile_close": (None, [c_void_p]),
    "halograph_profile_info": (None, [c_void_p, P_int, P_int, P_int, P_int, P_i64, P_f64,
                                      ctypes.POINTER(c_char_p)]),
    "halograph_profile_step_seconds": (P_f64, [c_void_p]),
    "halograph_profile_row_get": (c_int, [c_void_p, c_int, c_void_p]),
    "halograph_profile_write": (c_int, [c_void_p, c_char_p, c_int]),
    "halograph_profile_write_trace": (c_int, [c_void_p, c_char_p]),
}


class ProfileRow(ctypes.Structure):
    """halograph_profile_row of api/halograph.h."""
    _fields_ = [("name", c_char_p), ("shape", c_char_p), ("kernel", c_int), ("n_members", c_int),
                ("calls", c_i64), ("total_seconds", c_double), ("mean_seconds", c_double),
                ("min_seconds", c_double), ("max_seconds", c_double), ("flops_per_call", c_i64),
                ("bytes_per_call", c_i64), ("gflops", c_double), ("gbytes", c_double), ("share", c_double)]
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args


def check(rc):
    """Raises the exception of a non-zero return code with the library's message."""
    if rc != OK:
        raise _EXCEPTIONS.get(rc, RuntimeError)(lib.halograph_last_error().decode("utf-8", "replace"))


def encode(s, what="path"):
    """A str/bytes/PathLike argument as bytes for C (None stays None); a
    NUL byte (which C would silently cut at) raises ValueError."""
    if s is None:
        return None
    try:
        b = os.fsencode(s)
    except TypeError:
        raise ValueError(f"{what}: expected a str or path, got {type(s).__name__}") from None
    if b"\0" in b:
        raise ValueError(f"{what}: {s!r} contains a NUL byte")
    return b


INT32_MAX, UINT32_MAX, INT64_MAX = 2**31 - 1, 2**32 - 1, 2**63 - 1


def int_arg(v, what, lo, hi):
    """v as a Python int in [lo, hi]: ValueError for a non-integer (2.5, "3",
    True) or a value out of range, which ctypes would otherwise wrap
    silently (2**32 + 1 -> 1)."""
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise ValueError(f"{what}: expected an integer, got {v!r}")
    i = v.__index__()
    if not lo <= i <= hi:
        raise ValueError(f"{what}: {i} is outside [{lo}, {hi}]")
    return i


def ptr(a, ctype):
    """Pointer to the data of a contiguous numpy array (None for None)."""
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctype))


def f32_array(a, what, ndims):
    """a as a C-contiguous float32 numpy array of one of the ranks `ndims`,
    without a copy when it already is one. Other dtypes are refused (no
    silent conversion of the user's data): ValueError."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{what}: expected a numpy float32 array, got {type(a).__name__}")
    if a.dtype != np.float32:
        raise ValueError(f"{what}: dtype {a.dtype}, expected float32")
    if a.ndim not in ndims:
        raise ValueError(f"{what}: {a.ndim} dimensions {list(a.shape)}, expected "
                         + " or ".join(str(d) for d in ndims))
    return np.ascontiguousarray(a)


def bar_progress(bar):
    """A progress callable driving a tqdm-like bar (attributes n and total,
    methods update, optionally refresh and set_postfix): total set from the
    library's count, the bar advanced to `done`, the training loss shown."""
    def f(done, total, loss):
        if getattr(bar, "total", None) != total:
            bar.total = total
            if hasattr(bar, "refresh"):
                bar.refresh()
        if loss == loss and hasattr(bar, "set_postfix"):  # not NaN: a training step
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(done - bar.n)
    return f


class Progress:
    """Adapts a Python callable progress(done, total, loss) to the C
    callback. A truthy return value stops the call; an exception raised by
    the callable stops it too and is re-raised by invoke().

    Ctrl-C: Python runs signal handlers only between bytecodes, i.e. inside
    a callback, where a KeyboardInterrupt would be lost in ctypes. So
    invoke() (called from the main thread, with Python's default SIGINT
    handler in place) swaps in a handler that only records the signal; the
    callback (a no-op one when no callable is given) then stops the call,
    and invoke() raises KeyboardInterrupt once the library has returned
    (training saves its checkpoint first)."""

    def __init__(self, fn):
        if fn is not None and not callable(fn):
            if not hasattr(fn, "update"):
                raise ValueError(f"progress: expected a callable(done, total, loss) or a tqdm bar, got {fn!r}")
            fn = bar_progress(fn)
        self.fn, self.error, self.sigint = fn, None, False

        def call(_user, done, total, loss):
            if self.sigint:
                return 1
            try:
                return 1 if self.fn is not None and self.fn(int(done), int(total), float(loss)) else 0
            except BaseException as e:  # noqa: B036 -- re-raised after the C call returns
                self.error = e
                return 1

        self.c = PROGRESS(call)

    def _on_sigint(self, signum, frame):
        self.sigint = True

    def invoke(self, cfn, *args):
        """cfn(*args) (args include self.c), then raises the error of a
        nonzero return code (the callback's exception, KeyboardInterrupt
        after Ctrl-C, or the library's error)."""
        swap = (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if swap:
            signal.signal(signal.SIGINT, self._on_sigint)
        try:
            rc = cfn(*args)
        finally:
            if swap:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.error is not None:
            raise self.error
        if self.sigint:
            raise KeyboardInterrupt(lib.halograph_last_error().decode("utf-8", "replace") if rc else "")
        check(rc)
