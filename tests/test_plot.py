#!/usr/bin/python3
"""tools/plot_eval.py produces every PNG from a small stats file.

usage: /usr/bin/python3 tests/test_plot.py SRC_DIR SCRATCH_DIR [STATS.h5 ...]

Without STATS.h5 arguments a small synthetic stats.h5 in the layout written
by `halograph eval` (tools/cmd_eval.c) is made here; each given file is
plotted too. Exits 0 with a SKIP message only when matplotlib (or h5py) is
missing; any missing or empty PNG fails.
"""
import os
import sys

try:
    import h5py
    import matplotlib  # noqa: F401
    import numpy as np
except ImportError as e:  # the one allowed skip
    print("SKIP test_plot: %s (install Debian's python3-matplotlib and python3-h5py)" % e)
    sys.exit(0)

EXPECTED = ["xi0.png", "xi_rsd.png", "velocities.png", "mass_function.png", "knn.png", "slab.png", "loss.png"]


def group(f, name, xname, x, truth, gen, label, unit):
    g = f.create_group(name)
    g[xname] = x
    g["true"] = truth
    g["gen"] = gen
    m, s = gen.mean(0), gen.std(0)
    g["mean"], g["std"] = m, s
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(s > 0, (truth - m) / s, np.nan)
    g["residual"] = r
    g.attrs["summary_distance"] = float(np.nanmean(r * r))
    g.attrs["n_bins_used"] = int(np.isfinite(r).sum())
    g.attrs["label"], g.attrs["x_unit"] = label, unit


def make_stats(path):
    rng = np.random.default_rng(3)
    M, L = 4, 100.0
    re = np.linspace(0.5, 40, 12)
    rc = 0.5 * (re[1:] + re[:-1])
    ve = np.linspace(-1500, 1500, 61)
    me = np.round(np.arange(13.5, 15.01, 0.1), 1)
    with h5py.File(path, "w") as f:
        xi = (rc / 10.0) ** -1.8
        group(f, "xi0", "edges", re, xi, xi * (1 + 0.1 * rng.standard_normal((M, 11))), "xi", "Mpc/h")
        group(f, "xi0_rsd", "edges", re, 1.2 * xi, 1.2 * xi * (1 + 0.1 * rng.standard_normal((M, 11))), "", "")
        group(f, "xi2_rsd", "edges", re, -0.3 * xi, -0.3 * xi + 0.05 * rng.standard_normal((M, 11)), "", "")
        vc = 0.5 * (ve[1:] + ve[:-1])
        h = 50 * np.exp(-0.5 * (vc / 300) ** 2)
        for c in "xyz":
            group(f, "vel_" + c, "edges", ve, h, h + rng.poisson(3, (M, 60)), "", "km/s")
        mc = 0.5 * (me[1:] + me[:-1])
        d = np.floor(300 * 10 ** (-(mc - 13.5)))
        group(f, "mass_diff", "edges", me, d, d + rng.poisson(2, (M, d.size)), "", "")
        cum = d[::-1].cumsum()[::-1]
        group(f, "mass_cum", "edges", me, cum, cum + rng.poisson(2, (M, d.size)), "", "")
        for k in range(1, 9):
            cdf = 1 - np.exp(-((re / (5.0 * k ** 0.4)) ** 3))
            gen = np.clip(cdf + 0.01 * rng.standard_normal((M, re.size)), 0, 1)
            group(f, "knn_k%d" % k, "r", re, cdf, gen, "", "Mpc/h")
        names = [n for n in f]
        f["summary/distance"] = np.array([f[n].attrs["summary_distance"] for n in names])
        f["summary/distance"].attrs["statistics"] = names
        f["positions/true"] = (L * rng.random((300, 3))).astype("f4")
        f["positions/generated"] = (L * rng.random((300, 3))).astype("f4")
        f.attrs["cosmology_names"] = ["Omega_m", "sigma_8"]
        f.attrs["cosmology"] = np.array([0.3175, 0.834])
        f.attrs["box_size"] = L
        f.attrs["redshift"] = 0.0


def check_pngs(out, expected):
    bad = []
    for n in expected:
        p = os.path.join(out, n)
        if not os.path.exists(p):
            bad.append("%s missing" % p)
            continue
        with open(p, "rb") as fh:
            head = fh.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(p) < 2000:
            bad.append("%s is not a plausible PNG (%d bytes)" % (p, os.path.getsize(p)))
    return bad


def main():
    src, scratch = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(src, "tools"))
    import plot_eval

    os.makedirs(scratch, exist_ok=True)
    files = sys.argv[3:]
    if not files:
        files = [os.path.join(scratch, "synthetic_stats.h5")]
        make_stats(files[0])
    failures = []
    for i, stats in enumerate(files):
        # a run with a metrics.csv with rows (including empty val_loss cells) ...
        run = os.path.join(scratch, "run%d" % i)
        os.makedirs(run, exist_ok=True)
        with open(os.path.join(run, "metrics.csv"), "w") as fh:
            fh.write("step,loss,loss_diff,loss_klz,loss_recon,val_loss\n")
            for s in range(1, 51):
                fh.write("%d,%g,%g,%g,%g,%s\n" % (s, 5 / s ** 0.3, 4 / s ** 0.3, 0.5, 0.5,
                                                  "%g" % (5.2 / s ** 0.3) if s % 10 == 0 else ""))
        out = os.path.join(scratch, "png%d" % i)
        rc = plot_eval.main([stats, "--out", out, "--run", run])
        if rc != 0:
            failures.append("plot_eval returned %d for %s" % (rc, stats))
        failures += check_pngs(out, EXPECTED)
        # ... and an empty metrics.csv (a run that has not logged yet)
        run_e = os.path.join(scratch, "run_empty%d" % i)
        os.makedirs(run_e, exist_ok=True)
        open(os.path.join(run_e, "metrics.csv"), "w").close()
        out_e = os.path.join(scratch, "png_empty%d" % i)
        plot_eval.main([stats, "--out", out_e, "--run", run_e])
        failures += check_pngs(out_e, ["loss.png"])
    if failures:
        print("FAIL test_plot:\n  " + "\n  ".join(failures))
        return 1
    print("ok test_plot: %d PNG files from each of %d stats file(s)" % (len(EXPECTED), len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
