# %% [markdown]
# # halograph in a notebook: sample a universe and compare it with the simulation
#
# Cells are marked `# %%` (Jupyter, VS Code, `jupytext --to ipynb`); the file
# also runs as a plain script (`tests/cli_api.sh` executes it headless).
# Settings come from the environment so the test can keep it tiny:
#
# | variable | default | meaning |
# |---|---|---|
# | `HG_NOTEBOOK_RUN` | `data/pretrained/default` next to this file | the model: the shipped weights, or any training run |
# | `HG_NOTEBOOK_DATA` | (unset) | a dataset made by `halograph import`: the simulation is its first test cloud |
# | `HG_NOTEBOOK_SIM` | `0` | without HG_NOTEBOOK_DATA: the simulation of the bundled `data/fastpm-lh` (read with numpy) |
# | `HG_NOTEBOOK_SAMPLE_STEPS` | `500` | sampler steps (the paper's T) |
# | `HG_NOTEBOOK_OUT` | `universe.png` | the figure |

# %%
import csv
import os

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt
import numpy as np

import halograph as hg

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.environ.get("HG_NOTEBOOK_RUN", os.path.join(HERE, "..", "data", "pretrained", "default"))
DATA = os.environ.get("HG_NOTEBOOK_DATA")
SIM = int(os.environ.get("HG_NOTEBOOK_SIM", "0"))
SAMPLE_STEPS = int(os.environ.get("HG_NOTEBOOK_SAMPLE_STEPS", "500"))
OUT = os.environ.get("HG_NOTEBOOK_OUT", "universe.png")
print("halograph", hg.version())

# %% [markdown]
# ## The model: the shipped weights
# `data/pretrained/default` is the demo transformer trained on the bundled
# FastPM simulations (its COMMANDS file says how); `hg.Run` opens it like any
# training run directory.

# %%
run = hg.Run(RUN)
print(run)

# %% [markdown]
# ## The simulation
# Either a dataset file (`hg.Dataset`: numpy views of the haloes in physical
# units, Mpc/h, km/s, Msun/h, their counts, cosmologies and splits), or the
# bundled catalogues read directly with numpy. (The shipped model was trained
# on a 216-simulation split of these; give HG_NOTEBOOK_DATA, imported as its
# COMMANDS file says, to compare with a held-out simulation.)

# %%
if DATA:
    ds = hg.Dataset(DATA)
    print(ds)
    sim = int(ds.splits["test"][0])
    truth = np.array(ds.cloud(sim))
    theta = dict(zip(ds.param_names, map(float, ds.cosmology[sim])))
else:
    bundled = os.path.join(HERE, "..", "data", "fastpm-lh")
    sim = SIM
    truth = np.load(os.path.join(bundled, "halos.npy"), mmap_mode="r")[sim].copy()
    with open(os.path.join(bundled, "cosmology.csv")) as f:
        theta = {k: float(v) for k, v in list(csv.DictReader(f))[sim].items()}
print(f"simulation {sim}: {len(truth)} haloes, cosmology {theta}")

# %% [markdown]
# ## Sample a universe at the test simulation's cosmology

# %%
cond = {name: theta[name] for name in run.cond_names}
universe = run.sample(n=1, steps=SAMPLE_STEPS, cond=cond, seed=0)[0]
print("sampled", universe.shape, "haloes x features; log10 M range",
      np.log10(universe[:, 6]).min().round(2), "-", np.log10(universe[:, 6]).max().round(2))

# %% [markdown]
# ## Compare: positions, masses and the two-point correlation function

# %%
L = run.box
edges = np.linspace(5, min(150.0, L / 2), 12)
r = 0.5 * (edges[1:] + edges[:-1])
xi_true = hg.xi(np.ascontiguousarray(truth[: run.n_points]), box=L, bins=edges)
xi_gen = hg.xi(universe, box=L, bins=edges)

fig, ax = plt.subplots(1, 4, figsize=(17, 4))
for a, cloud, title in ((ax[0], truth[: run.n_points], f"simulation {sim}"), (ax[1], universe, "halograph sample")):
    a.scatter(cloud[:, 0], cloud[:, 1], s=4 * (np.log10(cloud[:, 6]) - 12).clip(0.3), alpha=0.6)
    a.set(xlim=(0, L), ylim=(0, L), aspect="equal", title=title, xlabel="x [Mpc/h]", ylabel="y [Mpc/h]")
bins = np.linspace(np.log10(truth[:, 6]).min() - 0.5, np.log10(truth[:, 6]).max() + 0.5, 15)
ax[2].hist(np.log10(truth[: run.n_points, 6]), bins, histtype="step", label="simulation")
ax[2].hist(np.log10(universe[:, 6]), bins, histtype="step", label="sample")
ax[2].set(xlabel="log10 M [Msun/h]", ylabel="haloes", title="mass function")
ax[2].legend()
ax[3].plot(r, r ** 2 * xi_true, "o-", label="simulation")
ax[3].plot(r, r ** 2 * xi_gen, "s--", label="sample")
ax[3].set(xlabel="r [Mpc/h]", ylabel="r^2 xi(r)", title="two-point correlation")
ax[3].legend()
fig.suptitle(", ".join(f"{k} = {v:.3f}" for k, v in cond.items()))
fig.tight_layout()
fig.savefig(OUT, dpi=80)
print("wrote", OUT)

# %% [markdown]
# ## How well does the model know the cosmology? A likelihood profile
# (few steps and replicas here; the paper's are 50 and 16.)

# %%
grid = np.linspace(0.1, 0.5, 5)
x = np.zeros((run.n_points, run.n_features), np.float32)  # the simulation's N heaviest haloes, padded rows masked
x[: min(len(truth), run.n_points)] = truth[: run.n_points]
mask = (np.arange(run.n_points) < len(truth)).astype(np.float32)
logl = run.likelihood_profile(x, param="Omega_m", grid=grid, cond=cond, mask=mask, steps=10, replicas=2)
print("Omega_m grid", grid.round(3), "log L", logl.round(2), "max at", grid[np.argmax(logl)])
