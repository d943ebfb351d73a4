#!/usr/bin/python3
"""Learning curves of training runs: training loss (running mean over 50 steps)
and validation loss against the step, from RUN/metrics.csv (halograph train).

usage: /usr/bin/python3 tools/plot_learning.py RUN [RUN ...] --out PLOT.png [--labels A,B]

Runs may be pretrained-weights directories (data/pretrained/NAME: their
metrics.csv is the training run's). The PNG is written atomically (temporary
file, then rename). Needs python3-matplotlib.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot_eval import read_metrics  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels")
    ap.add_argument("--window", type=int, default=50)
    a = ap.parse_args(argv)
    labels = a.labels.split(",") if a.labels else a.runs
    if len(labels) != len(a.runs):
        print("plot_learning.py: --labels needs one label per run", file=sys.stderr)
        return 2
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (run, lab) in enumerate(zip(a.runs, labels)):
        path = os.path.join(run, "metrics.csv")
        if not os.path.exists(path):
            print(f"plot_learning.py: {path} not found", file=sys.stderr)
            return 1
        m = read_metrics(path)
        step, loss, val = m["step"], m["loss"], m["val_loss"]
        w = max(1, min(a.window, len(loss)))
        run_mean = np.convolve(loss, np.ones(w) / w, mode="valid")
        ax.plot(step[w - 1:], run_mean, color=f"C{i}", lw=1, label=f"{lab}: train (mean of {w})")
        ok = np.isfinite(val)
        ax.plot(step[ok], val[ok], color=f"C{i}", marker="o", ms=3, ls="--", lw=1, label=f"{lab}: validation")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss  [nats per real point, SPEC 3.2]")
    ax.set_ylim(top=min(ax.get_ylim()[1], 40))
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = os.path.join(os.path.dirname(os.path.abspath(a.out)), os.path.basename(a.out) + f".tmp.{os.getpid()}")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, a.out)
    print("wrote", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
