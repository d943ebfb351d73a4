#!/usr/bin/python3
"""Plots of `halograph eval` results (SPEC 6) from DIR/stats.h5.

usage: /usr/bin/python3 tools/plot_eval.py STATS.h5 --out PNGDIR [--run RUNDIR]

Writes into PNGDIR (created):
  xi0.png            real-space r^2 xi_0(r): truth vs generated mean +- std, residual panel
  xi_rsd.png         redshift-space r^2 xi_0 and r^2 xi_2 with residual panels
  velocities.png     histograms of v_x, v_y, v_z
  mass_function.png  differential and cumulative halo counts vs log10 M
  knn.png            k-NN CDFs, k = 1..8
  slab.png           a 50 Mpc/h slab (in z, about the box centre) of one true
                     and one generated cloud side by side
  loss.png           training and validation loss vs step (only with --run:
                     RUNDIR/metrics.csv, columns step,loss,loss_diff,loss_klz,
                     loss_recon,val_loss; empty cells and an empty file allowed)
Statistics absent from the file (clouds without velocities or masses) are
skipped with a message. Needs Debian's python3-matplotlib and python3-h5py.
"""
import argparse
import csv
import math
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SLAB = 50.0  # Mpc/h


def as_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def cosmology_title(f):
    names = [as_str(n) for n in f.attrs.get("cosmology_names", [])]
    vals = list(f.attrs.get("cosmology", []))
    pick = [(n, v) for n, v in zip(names, vals) if n in ("Omega_m", "sigma_8")] or list(zip(names, vals))
    cosmo = ", ".join("%s = %.4g" % (n.replace("Omega_m", r"$\Omega_m$").replace("sigma_8", r"$\sigma_8$"), v)
                      for n, v in pick)
    return "%s   (L = %g Mpc/h, z = %g)" % (cosmo, f.attrs.get("box_size", float("nan")),
                                           f.attrs.get("redshift", float("nan")))


def centres(edges):
    return 0.5 * (edges[1:] + edges[:-1])


def stat(f, name):
    if name not in f:
        return None
    g = f[name]
    d = {k: g[k][()] for k in g}
    d["distance"] = float(g.attrs.get("summary_distance", float("nan")))
    return d


def band(ax, x, s, w=1.0, label_gen="generated (mean $\\pm$ std)", label_true="true"):
    m, sd = s["mean"] * w, s["std"] * w
    ax.fill_between(x, m - sd, m + sd, color="C0", alpha=0.3, lw=0)
    ax.plot(x, m, color="C0", label=label_gen)
    ax.plot(x, s["true"] * w, color="k", lw=1.2, label=label_true)


def residual_panel(ax, x, s, xlabel):
    r = s["residual"]
    ax.axhspan(-1, 1, color="0.85")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.plot(x, r, "o-", ms=2.5, color="C3")
    ax.set_ylabel("residual\n(true$-\\mu$)/$\\sigma$")
    ax.set_xlabel(xlabel)
    fin = r[np.isfinite(r)]
    if fin.size:
        lim = max(3.0, min(20.0, 1.1 * np.max(np.abs(fin))))
        ax.set_ylim(-lim, lim)


def save(fig, out, name, written):
    p = os.path.join(out, name)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    written.append(p)


def plot_xi0(f, out, title, written):
    s = stat(f, "xi0")
    if s is None:
        print("plot_eval: no xi0 in the file, skipping xi0.png")
        return
    r = centres(s["edges"])
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.4, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    band(a, r, s, r * r)
    a.set_ylabel(r"$r^2\,\xi_0(r)$  [$(\mathrm{Mpc}/h)^2$]")
    a.legend()
    a.set_title("real-space $\\xi_0$ (distance %.3g)\n%s" % (s["distance"], title), fontsize=9)
    residual_panel(b, r, s, r"$r$  [Mpc/$h$]")
    fig.tight_layout()
    save(fig, out, "xi0.png", written)


def plot_xi_rsd(f, out, title, written):
    s0, s2 = stat(f, "xi0_rsd"), stat(f, "xi2_rsd")
    if s0 is None or s2 is None:
        print("plot_eval: no redshift-space multipoles (no velocities), skipping xi_rsd.png")
        return
    r = centres(s0["edges"])
    fig, ax = plt.subplots(2, 2, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for j, (s, l) in enumerate([(s0, 0), (s2, 2)]):
        band(ax[0, j], r, s, r * r)
        ax[0, j].set_ylabel(r"$r^2\,\xi_%d(r)$  [$(\mathrm{Mpc}/h)^2$]" % l)
        ax[0, j].set_title("redshift-space $\\xi_%d$ (distance %.3g)" % (l, s["distance"]), fontsize=9)
        ax[0, j].legend()
        residual_panel(ax[1, j], r, s, r"$s$  [Mpc/$h$]")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, out, "xi_rsd.png", written)


def plot_velocities(f, out, title, written):
    ss = [stat(f, "vel_" + c) for c in "xyz"]
    if any(s is None for s in ss):
        print("plot_eval: no velocity histograms (no velocities), skipping velocities.png")
        return
    fig, ax = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for a, s, c in zip(ax, ss, "xyz"):
        v = centres(s["edges"])
        band(a, v, s)
        a.set_xlabel(r"$v_%s$  [km/s]" % c)
        a.set_title("$v_%s$ (distance %.3g)" % (c, s["distance"]), fontsize=9)
    ax[0].set_ylabel("haloes per %.0f km/s bin" % (ss[0]["edges"][1] - ss[0]["edges"][0]))
    ax[0].legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, out, "velocities.png", written)


def plot_mass(f, out, title, written):
    sd, sc = stat(f, "mass_diff"), stat(f, "mass_cum")
    if sd is None or sc is None:
        print("plot_eval: no mass function (no mass column), skipping mass_function.png")
        return
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    band(ax[0], centres(sd["edges"]), sd)
    ax[0].set_ylabel("haloes per %.2g dex" % (sd["edges"][1] - sd["edges"][0]))
    ax[0].set_title("differential mass function (distance %.3g)" % sd["distance"], fontsize=9)
    band(ax[1], sc["edges"][:-1], sc)
    ax[1].set_ylabel(r"$N(\geq M)$")
    ax[1].set_title("cumulative mass function (distance %.3g)" % sc["distance"], fontsize=9)
    for a in ax:
        a.set_xlabel(r"$\log_{10}(M\ /\ M_\odot h^{-1})$")
        a.set_yscale("symlog", linthresh=1)
        a.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, out, "mass_function.png", written)


def plot_knn(f, out, title, written):
    ks = [k for k in range(1, 65) if "knn_k%d" % k in f]
    if not ks:
        print("plot_eval: no k-NN CDFs in the file, skipping knn.png")
        return
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for k in ks:
        s = stat(f, "knn_k%d" % k)
        r, c = s["r"], "C%d" % ((k - 1) % 10)
        a.fill_between(r, s["mean"] - s["std"], s["mean"] + s["std"], color=c, alpha=0.25, lw=0)
        a.plot(r, s["true"], color=c, lw=1.2, label="k = %d (d = %.3g)" % (k, s["distance"]))
        # peaked CDF: min(CDF, 1 - CDF) shows both tails
        pk = lambda x: np.minimum(x, 1 - x)  # noqa: E731
        b.plot(r, pk(s["mean"]), color=c, ls="--", lw=1)
        b.plot(r, pk(s["true"]), color=c, lw=1.2)
    a.set_xlabel(r"$r$  [Mpc/$h$]")
    a.set_ylabel(r"CDF$_k(r)$")
    a.set_title("k-NN CDFs: true (lines), generated mean $\\pm$ std (bands)", fontsize=9)
    a.legend(fontsize=7)
    b.set_xlabel(r"$r$  [Mpc/$h$]")
    b.set_ylabel(r"peaked CDF  min(CDF, 1 $-$ CDF)")
    b.set_yscale("log")
    b.set_ylim(1e-4, 0.6)
    b.set_title("true (solid) vs generated mean (dashed)", fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, out, "knn.png", written)


def plot_slab(f, out, title, written):
    if "positions/true" not in f or "positions/generated" not in f:
        print("plot_eval: no stored positions, skipping slab.png")
        return
    L = float(f.attrs["box_size"])
    lo, hi = L / 2 - SLAB / 2, L / 2 + SLAB / 2
    fig, ax = plt.subplots(1, 2, figsize=(11, 5.4), sharex=True, sharey=True)
    for a, key, name in zip(ax, ["true", "generated"], ["true cloud", "generated cloud"]):
        p = f["positions/" + key][()]
        sel = (p[:, 2] >= lo) & (p[:, 2] < hi)
        a.scatter(p[sel, 0], p[sel, 1], s=4, color="k" if key == "true" else "C0")
        a.set_xlim(0, L)
        a.set_ylim(0, L)
        a.set_aspect("equal")
        a.set_xlabel(r"$x$  [Mpc/$h$]")
        a.set_title("%s: %d haloes with %.0f $\\leq z <$ %.0f Mpc/$h$" % (name, sel.sum(), lo, hi), fontsize=9)
    ax[0].set_ylabel(r"$y$  [Mpc/$h$]")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, out, "slab.png", written)


def read_metrics(path):
    cols = {}
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return cols
    head = [h.strip() for h in rows[0]]
    for h in head:
        cols[h] = []
    for row in rows[1:]:
        if not row:
            continue
        for h, v in zip(head, row):
            v = v.strip()
            try:
                cols[h].append(float(v) if v else math.nan)
            except ValueError:
                cols[h].append(math.nan)
        for h in head[len(row):]:
            cols[h].append(math.nan)
    return {k: np.array(v, dtype=float) for k, v in cols.items()}


def plot_loss(run, out, title, written):
    path = os.path.join(run, "metrics.csv")
    if not os.path.exists(path):
        print("plot_eval: %s not found, skipping loss.png" % path)
        return
    m = read_metrics(path)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    step = m.get("step", np.array([]))
    drawn = 0
    for key, style in [("loss", dict(color="C0", lw=1)), ("loss_diff", dict(color="C1", lw=0.8, ls=":")),
                       ("loss_klz", dict(color="C2", lw=0.8, ls=":")),
                       ("loss_recon", dict(color="C4", lw=0.8, ls=":")),
                       ("val_loss", dict(color="C3", marker="o", ms=3, lw=1))]:
        if key in m and step.size:
            ok = np.isfinite(m[key]) & np.isfinite(step)
            if ok.any():
                ax.plot(step[ok], m[key][ok], label=key, **style)
                drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no training steps recorded yet in\n%s" % path, ha="center", va="center",
                transform=ax.transAxes)
    else:
        ax.legend()
    ax.set_xlabel("training step")
    ax.set_ylabel("loss  [nats per real point, SPEC 3.2]")
    ax.set_title("training loss: %s\n%s" % (run, title), fontsize=9)
    fig.tight_layout()
    save(fig, out, "loss.png", written)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stats", help="stats.h5 written by `halograph eval`")
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    ap.add_argument("--run", help="training run directory holding metrics.csv")
    a = ap.parse_args(argv)
    try:
        f = h5py.File(a.stats, "r")
    except OSError as e:
        print(f"plot_eval.py: {a.stats}: cannot open as HDF5 ({e})", file=sys.stderr)
        return 1
    if "summary" not in f:
        print(f"plot_eval.py: {a.stats}: not a stats.h5 written by `halograph eval` (no /summary)",
              file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    written = []
    with f:
        title = cosmology_title(f)
        plot_xi0(f, a.out, title, written)
        plot_xi_rsd(f, a.out, title, written)
        plot_velocities(f, a.out, title, written)
        plot_mass(f, a.out, title, written)
        plot_knn(f, a.out, title, written)
        plot_slab(f, a.out, title, written)
    if a.run:
        plot_loss(a.run, a.out, title, written)
    for p in written:
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
