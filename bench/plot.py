#!/usr/bin/python3
"""bench/plot.py [RESULTS.json] [--out PNG]: time per step per case of
bench/run's results (default bench/results.json -> bench/results.png),
halograph against each peer, grouped bars on a log scale, with min-max
whiskers. Sides that failed or do not apply are left out of their group."""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIDES = [("halograph", "halograph"), ("torch", "PyTorch eager"), ("ort-torch", "ONNX Runtime (torch export)"),
         ("ort-hg", "ONNX Runtime (halograph export)")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", nargs="?", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    with open(a.results) as f:
        r = json.load(f)
    out = a.out or os.path.splitext(a.results)[0] + ".png"
    cases = r["cases"]
    w = 0.8 / len(SIDES)
    fig, ax = plt.subplots(figsize=(max(8, 1.4 * len(cases)), 5))
    for j, (key, label) in enumerate(SIDES):
        xs, ys, lo, hi = [], [], [], []
        for i, c in enumerate(cases):
            s = c["sides"].get(key)
            if not s or "median_ms" not in s:
                continue
            xs.append(i + (j - (len(SIDES) - 1) / 2) * w)
            ys.append(s["median_ms"] / 1e3)
            lo.append((s["median_ms"] - s["min_ms"]) / 1e3)
            hi.append((s["max_ms"] - s["median_ms"]) / 1e3)
        if key == "halograph":
            label += f" ({r['backend']})"
        ax.bar(xs, ys, w, yerr=[lo, hi], capsize=2, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("time per step (s, log scale; median, min-max)")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([f"{c['case']}\n(B {c['batch']})" for c in cases], rotation=30, ha="right", fontsize=8)
    ax.set_title(f"halograph vs peers, {r['threads']} threads, {r['cpu']} ({r['date']})"
                 + ("\n" + r["note"].replace("*", "")[:90] if r.get("note") else ""), fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out + ".tmp.png", dpi=110)
    os.replace(out + ".tmp.png", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
