#!/usr/bin/python3
"""Plot of `halograph coverage` results: true vs maximum-likelihood value with
the 68% and 95% intervals of every profiled cloud (the paper's calibration
figure), the diagonal, and the coverage fractions and mean bias in the title.

usage: /usr/bin/python3 tools/plot_coverage.py COVERAGE.h5 --out PLOT.png

The PNG is written atomically (PLOT.png.tmp.PID, then renamed); an output
that is the input file is refused (exit 2). Needs python3-matplotlib and
python3-h5py.
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

LABEL = {"Omega_m": r"$\Omega_m$", "sigma_8": r"$\sigma_8$"}


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("coverage", help="C.h5 written by `halograph coverage`")
    ap.add_argument("--out", required=True, help="the PNG file to write")
    a = ap.parse_args(argv)
    if os.path.exists(a.out) and os.path.exists(a.coverage) and os.path.samefile(a.out, a.coverage):
        print(f"plot_coverage.py: --out {a.out} is the input file", file=sys.stderr)
        return 2
    try:
        f = h5py.File(a.coverage, "r")
    except OSError as e:
        print(f"plot_coverage.py: {a.coverage}: cannot open as HDF5 ({e})", file=sys.stderr)
        return 1
    with f:
        if as_str(f.attrs.get("format", "")) != "halograph-coverage-1":
            print(f"plot_coverage.py: {a.coverage}: not written by `halograph coverage`", file=sys.stderr)
            return 1
        t, b = f["truth"][:], f["best"][:]
        lo68, hi68, lo95, hi95 = (f[k][:] for k in ("lo68", "hi68", "lo95", "hi95"))
        grid = f["grid"][:]
        param = as_str(f.attrs["param"])
        frac68, frac95 = f.attrs["frac68"], f.attrs["frac95"]
        bias, width = f.attrs["mean_bias"], f.attrs["mean_width68"]
        S, K = int(f.attrs["steps"]), int(f.attrs["replicas"])
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.errorbar(t, b, yerr=[b - lo95, hi95 - b], fmt="none", ecolor="0.75", elinewidth=1, label="95% interval")
    ax.errorbar(t, b, yerr=[b - lo68, hi68 - b], fmt="o", ms=3, color="C0", ecolor="C0", elinewidth=1.5,
                label="max. likelihood, 68% interval")
    ax.plot([grid[0], grid[-1]], [grid[0], grid[-1]], "k--", lw=1, label="truth")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(grid[0], grid[-1])
    lab = LABEL.get(param, param)
    ax.set_xlabel("true " + lab)
    ax.set_ylabel("inferred " + lab)
    ax.set_title(f"{len(t)} clouds, S = {S}, K = {K}: 68% coverage {frac68:.2f}, 95% {frac95:.2f}\n"
                 f"mean bias {bias:.3g}, mean 68% width {width:.3g}", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(a.out))
    tmp = os.path.join(d, os.path.basename(a.out) + f".tmp.{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=110, format="png")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, a.out)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        print(f"plot_coverage.py: {a.out}: {e}", file=sys.stderr)
        return 1
    plt.close(fig)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
