"""The PyTorch peer of halograph's model (SPEC.md), eager, written for the
benchmark (issue 13): the same transformer (SPEC 4.1) and graph network
(SPEC 4.2) score, the VDM loss (SPEC 3.2), sampling step (SPEC 3.5), NELBO
(SPEC 3.6) and training step (SPEC 5: elementwise clipping, AdamW with the
warmup-cosine learning rate).

Parameters are a dict {path: tensor} with halograph's paths
("score/layer_0/mha/query/kernel", kernels [in, out]), loaded from a
halograph checkpoint (HDF5: /state/<path>, config YAML in the attribute
`config`, normalisation in /norm). Random draws are arguments, so the same
noise as halograph's can be fed when checking agreement; the timed steps
draw their own with torch.randn.

Options outside the benchmark's configs (adanorm, induced attention,
encoder/decoder, learned_net is supported) raise NotImplementedError.
"""
import math
import warnings

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import yaml

warnings.filterwarnings("ignore", message="scatter_reduce")

# Set by torch_peer.py export: formulations torch.onnx.export (opset 17) can
# write, as a PyTorch user deploying the model would use them: expm1(x) as
# exp(x) - 1, the k-NN without the exact tie order (a stable sort does not
# export; ties of f32 squared distances are rare), and the graph network's
# softmax shifted by the cloud's maximum logit instead of the per-receiver
# segment maximum (scatter_reduce does not export; softmax is shift
# invariant, and the logits gelu(.) of one cloud span far less than the
# f32 exp range), and segment sums by scatter_add (index_add_ with repeated
# indices does not export).
FOR_EXPORT = False


def expm1(x):
    return torch.exp(x) - 1.0 if FOR_EXPORT else torch.expm1(x)


# ------------------------------------------------------------------ config

class Config:
    """The flattened halograph config (SPEC 7): attributes by key name."""

    def __init__(self, text):
        d = yaml.safe_load(text)
        for sec in ("data", "vdm", "score", "training"):
            for k, v in (d.get(sec) or {}).items():
                setattr(self, k, v)
        self.n_cond = len(self.conditioning)
        if self.adanorm or self.induced_attention or self.use_encdec:
            raise NotImplementedError("torch peer: adanorm, induced attention and use_encdec are not implemented")
        if self.timesteps != 0:
            raise NotImplementedError("torch peer: discrete time (timesteps > 0) is not implemented")


def load_checkpoint(path, device="cpu"):
    """(Config, params dict of f32 tensors, opt state dict, norm dict)."""
    with h5py.File(path, "r") as f:
        cfg_text = f.attrs["config"]
        if isinstance(cfg_text, bytes):
            cfg_text = cfg_text.decode()
        cfg = Config(cfg_text)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["state"].attrs["names"]]
        params, opt = {}, {}
        for n in names:
            t = torch.from_numpy(np.array(f["state/" + n]))
            (opt if n.startswith("opt/") else params)[n] = t
        norm = None
        if "norm" in f:
            norm = {"mean": np.array(f["norm/mean"], dtype=np.float64),
                    "std": np.array(f["norm/std"], dtype=np.float64),
                    "box": float(f["norm"].attrs["box_size"])}
    return cfg, params, opt, norm


def load_state(path):
    """Every tensor of a checkpoint's /state as a dict of numpy arrays."""
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["state"].attrs["names"]]
        return {n: np.array(f["state/" + n]) for n in names}


# ------------------------------------------------------------------ layers

def gelu(x):
    return F.gelu(x, approximate="tanh")


def dense(P, name, x, bias=True):
    y = torch.matmul(x, P[name + "/kernel"])
    return y + P[name + "/bias"] if bias else y


def layer_norm(P, name, x):
    return F.layer_norm(x, (x.shape[-1],), P[name + "/scale"], P[name + "/bias"], eps=1e-6)


def mlp(P, name, x, n):
    for i in range(n):
        x = dense(P, f"{name}/dense_{i}", x)
        if i + 1 < n:
            x = gelu(x)
    return x


def mha(P, name, xq, xkv, pair_mask, n_heads):
    """SPEC 4.1 multi-head attention; pair_mask bool [B, 1, Nq, Nk] (True = attend)."""
    B, Nq, _ = xq.shape
    Nk = xkv.shape[1]
    q = dense(P, name + "/query", xq)
    d = q.shape[-1]
    hd = d // n_heads
    q = q.view(B, Nq, n_heads, hd).transpose(1, 2)
    k = dense(P, name + "/key", xkv).view(B, Nk, n_heads, hd).transpose(1, 2)
    v = dense(P, name + "/value", xkv).view(B, Nk, n_heads, hd).transpose(1, 2)
    logits = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    logits = logits.masked_fill(~pair_mask, torch.finfo(logits.dtype).min)
    a = torch.matmul(torch.softmax(logits, dim=-1), v)
    return dense(P, name + "/out", a.transpose(1, 2).reshape(B, Nq, d))


# ------------------------------------------------------------------ VDM

def gamma(P, cfg, t):
    """SPEC 3.1 log-SNR schedule, t any shape."""
    if cfg.noise_schedule == "linear":
        return cfg.gamma_max + (cfg.gamma_min - cfg.gamma_max) * t
    if cfg.noise_schedule == "learned_linear":
        return P["vdm/gamma/b"][0] - torch.abs(P["vdm/gamma/w"][0]) * t
    t2 = t.reshape(-1, 1)
    l1 = P["vdm/gamma/l1/bias"][0] - torch.abs(P["vdm/gamma/l1/kernel"][0, 0]) * t2
    s = torch.sigmoid(-torch.matmul(2.0 * (t2 - 0.5), torch.abs(P["vdm/gamma/l2/kernel"])) + P["vdm/gamma/l2/bias"])
    l3 = torch.matmul(2.0 * (s - 0.5), torch.abs(P["vdm/gamma/l3/kernel"])) / 1024.0
    return (l1 + l3).reshape(t.shape)


def gamma_dt(P, cfg, t):
    """d gamma / d t by autograd-free closed form (as halograph builds it)."""
    if cfg.noise_schedule == "linear":
        return torch.full_like(t, cfg.gamma_min - cfg.gamma_max)
    if cfg.noise_schedule == "learned_linear":
        return (-torch.abs(P["vdm/gamma/w"][0])).expand(t.shape)
    t2 = t.reshape(-1, 1)
    aw2 = torch.abs(P["vdm/gamma/l2/kernel"])
    s = torch.sigmoid(-torch.matmul(2.0 * (t2 - 0.5), aw2) + P["vdm/gamma/l2/bias"])
    ds = s * (1.0 - s) * aw2
    dl3 = torch.matmul(ds, torch.abs(P["vdm/gamma/l3/kernel"])) * (-4.0 / 1024.0)
    return (dl3 - torch.abs(P["vdm/gamma/l1/kernel"][0, 0])).reshape(t.shape)


def embed_cond(P, cfg, theta):
    if cfg.n_cond == 0 or theta is None:
        return None
    return dense(P, "cond_embed", theta) if cfg.embed_context else theta


def score_cond(P, cfg, g, cemb):
    """SPEC 4 shared prefix: t-embedding of the log-SNR, concat cond, MLP."""
    d = cfg.d_t_embedding
    h = d // 2
    k = np.arange(h, dtype=np.float64)
    freq = torch.tensor(1000.0 * np.exp(-k * math.log(10000.0) / (h - 1)), dtype=torch.float32)
    arg = g.reshape(-1, 1) * freq
    parts = [torch.sin(arg), torch.cos(arg)]
    if d % 2:
        parts.append(torch.zeros(arg.shape[0], 1))
    if cemb is not None:
        parts.append(cemb)
    cc = torch.cat(parts, dim=1)
    return mlp(P, "score/cond_mlp", cc, 3)


def transformer_score(P, cfg, z, cc, mask):
    B, N, _ = z.shape
    m = mask > 0
    pair = (m[:, None, :, None] & m[:, None, None, :])
    h = dense(P, "score/embed", z)
    cp = dense(P, "score/cond_proj", cc)[:, None, :]
    for l in range(cfg.n_layers):
        pre = f"score/layer_{l}"
        h = h + cp
        x = layer_norm(P, pre + "/ln_0", h)
        h = h + mha(P, pre + "/mha", x, x, pair, cfg.n_heads)
        h = h + mlp(P, pre + "/mlp", layer_norm(P, pre + "/ln_1", h), 2)
    h = layer_norm(P, "score/ln_out", h)
    return z + dense(P, "score/out", h)


# ------------------------------------------------------------ graph network

def knn(p, mask, k, box, chunk=1024):
    """SPEC 4.2 / ir.h knn: p [B, N, 3] wrapped positions (f32), mask [B, N] ->
    int64 [B, N, k] neighbour indices, -1 for missing and padded. Distances in
    f32 as halograph: dr = (p_i - p_j) + 1e-5, periodic dr -= round(dr / L) L,
    d2 = (dx^2 + dy^2) + dz^2; ties by lower index (a stable sort of a top-k
    candidate set with margin). Rows in chunks of `chunk` to bound memory."""
    B, N, _ = p.shape
    out = torch.empty(B, N, k, dtype=torch.int64)
    real = mask > 0
    kk = min(N, k + 8)
    for b in range(B):
        for i0 in range(0, N, chunk):
            pi = p[b, i0:i0 + chunk]
            dr = (pi[:, None, :] - p[b][None, :, :]) + 1e-5
            if box > 0:
                dr = dr - torch.round(dr / box) * box
            d2 = (dr[..., 0] * dr[..., 0] + dr[..., 1] * dr[..., 1]) + dr[..., 2] * dr[..., 2]
            d2 = d2.masked_fill(~real[b][None, :], float("inf"))
            vals, idx = torch.topk(d2, kk if not FOR_EXPORT else k, dim=1, largest=False, sorted=True)
            if FOR_EXPORT:
                idx = torch.where(torch.isfinite(vals), idx, torch.full_like(idx, -1))
                idx = torch.where(real[b, i0:i0 + chunk, None], idx, torch.full_like(idx, -1))
                out[b, i0:i0 + chunk] = idx
                continue
            # exact (d2, j) order among the candidates: sort by j, then stable by d2
            oj = torch.argsort(idx, dim=1)
            idx = torch.gather(idx, 1, oj)
            vals = torch.gather(vals, 1, oj)
            od = torch.sort(vals, dim=1, stable=True).indices
            idx = torch.gather(idx, 1, od)[:, :k]
            vals = torch.gather(vals, 1, od)[:, :k]
            idx = torch.where(torch.isfinite(vals), idx, torch.full_like(idx, -1))
            idx[~real[b, i0:i0 + chunk]] = -1
            out[b, i0:i0 + chunk] = idx
    return out


def segment_sum(src, flat, B, N):
    """Sum of src [B, E, D] into [B, N, D] by receiver: flat [B*E] indices into
    B*(N+1) rows (row N of each cloud collects the dropped edges), index_add_."""
    D = src.shape[2]
    if FOR_EXPORT:  # index_add_ with repeated indices does not export: scatter_add
        idx = flat.view(B, -1, 1).expand(B, -1, D) - (torch.arange(B) * (N + 1)).view(B, 1, 1)
        return torch.zeros(B, N + 1, D, dtype=src.dtype).scatter_add(1, idx, src)
    out = torch.zeros(B * (N + 1), D, dtype=src.dtype)
    out.index_add_(0, flat, src.reshape(-1, D))
    return out.view(B, N + 1, D)


def segment_softmax(a, recv, flat, keep, N):
    """Softmax of a [B, E, 1] over kept edges sharing a receiver (recv [B, E],
    dropped edges point at the dummy row N), shifted by the segment max
    (scatter_reduce amax, no gradient through the shift)."""
    B, E, _ = a.shape
    idx = recv[:, :, None]
    if FOR_EXPORT:  # scatter_reduce does not export to opset 17: shift by the cloud's max
        sh = a - a.detach().amax(dim=1, keepdim=True)
    else:
        with torch.no_grad():
            mx = torch.zeros(B, N + 1, 1).scatter_reduce(1, idx, a.detach(), reduce="amax", include_self=False)
        sh = a - torch.gather(mx, 1, idx)
    sh = torch.where(keep, sh, torch.zeros_like(sh))
    w = torch.exp(sh) * keep
    den = torch.gather(segment_sum(w, flat, B, N), 1, idx) + (1.0 - keep.float())
    return w / den


def gnn_score(P, cfg, z, cc, mask, norm):
    B, N, Fd = z.shape
    k = cfg.k
    mean = torch.tensor(norm["mean"][:3], dtype=torch.float32)
    std = torch.tensor(norm["std"][:3], dtype=torch.float32)
    box = norm["box"] if cfg.use_pbc else 0.0
    p = z[..., 0:3] * std + mean
    if box > 0:
        p = torch.remainder(p, box)
    with torch.no_grad():
        idx = knn(p.detach(), mask, k, box)                      # [B, N, k]
    keep = idx >= 0                                              # [B, N, k]
    E = N * k
    snd = torch.arange(N).view(1, N, 1).expand(B, N, k)
    snd = torch.where(keep, snd, torch.full_like(snd, N)).reshape(B, E)
    rcv = torch.where(keep, idx, torch.full_like(idx, N)).reshape(B, E)
    keep3 = keep.reshape(B, E, 1)
    # edge features: periodic dr_ij / std (differentiable in z through p_j)
    pj = torch.gather(p, 1, idx.clamp(min=0).reshape(B, E, 1).expand(B, E, 3)).reshape(B, N, k, 3)
    dr = (p[:, :, None, :] - pj) + 1e-5
    if box > 0:
        dr = dr - torch.round(dr / box) * box
    ef = torch.where(keep[..., None], dr / std, torch.zeros_like(dr)).reshape(B, E, 3)

    gE = gN = None
    if cc is not None:
        gE = cc[:, None, :].expand(B, E, cc.shape[1])
        gN = cc[:, None, :].expand(B, N, cc.shape[1])
    L = cfg.num_mlp_layers + 1
    n = mlp(P, "score/node_embed", z, L)
    e = mlp(P, "score/edge_embed", ef, L)
    zrow = torch.zeros(B, 1, n.shape[2])
    sidx = snd[:, :, None]
    ridx = rcv[:, :, None]
    flat = (rcv + torch.arange(B).view(B, 1) * (N + 1)).reshape(-1)
    for s in range(cfg.message_passing_steps):
        pre = f"score/step_{s}"
        npad = torch.cat([n, zrow], dim=1)               # row N: 0 for dropped edges
        D = n.shape[2]
        ns = torch.gather(npad, 1, sidx.expand(B, E, D))
        nr = torch.gather(npad, 1, ridx.expand(B, E, D))
        parts = [e] + ([ns - nr] if cfg.relative_updates else [ns, nr]) + ([gE] if gE is not None else [])
        e = mlp(P, pre + "/edge_mlp", torch.cat(parts, dim=2), L)
        if cfg.attention:
            parts = [e, ns, nr] + ([gE] if gE is not None else [])
            a = gelu(dense(P, pre + "/attention", torch.cat(parts, dim=2)))
            e = e * segment_softmax(a, rcv, flat, keep3, N)
        recv = segment_sum(e, flat, B, N)[:, :N]
        parts = [n, recv] + ([gN] if gN is not None else [])
        n = n + mlp(P, pre + "/node_mlp", torch.cat(parts, dim=2), L)
        if cfg.norm == "layer":
            n = layer_norm(P, pre + "/norm", n)
            if s + 1 < cfg.message_passing_steps:
                e = layer_norm(P, pre + "/norm", e)
    return z - mlp(P, "score/decoder", n, L)


def score(P, cfg, z, g, cemb, mask, norm):
    """e_hat [B, N, F] of SPEC 4 for log-SNR g [B]."""
    cc = score_cond(P, cfg, g, cemb)
    if cfg.kind == "graph":
        return gnn_score(P, cfg, z, cc, mask, norm)
    return transformer_score(P, cfg, z, cc, mask)


# ------------------------------------------------------------ losses, steps

def masked_sum(L, mask):
    return (L * mask[:, :, None]).sum(dim=(1, 2))


def recon_elem(P, cfg, x, e0):
    g0 = gamma(P, cfg, torch.zeros(()))
    al = torch.sqrt(torch.sigmoid(g0))
    sg = torch.sqrt(torch.sigmoid(-g0))
    xh = (al * x + sg * e0) / al
    ns = cfg.noise_scale
    return 0.5 * ((x - xh) * (1.0 / ns)) ** 2 + (math.log(ns) + 0.5 * math.log(2 * math.pi))


def klz_elem(P, cfg, x):
    g1 = gamma(P, cfg, torch.ones(()))
    one_m = torch.sigmoid(g1)
    return 0.5 * (one_m * x * x + (F.softplus(g1) - one_m))


def diff_elem(P, cfg, x, t, e, cemb, mask, norm):
    gt = gamma(P, cfg, t)
    g3 = gt[:, None, None]
    zt = torch.sqrt(torch.sigmoid(g3)) * x + torch.sqrt(torch.sigmoid(-g3)) * e
    eh = score(P, cfg, zt, gt, cemb, mask, norm)
    mse = (e - eh) ** 2
    return (-0.5 * gamma_dt(P, cfg, t))[:, None, None] * mse


def loss(P, cfg, x, theta, mask, norm, e0, t0, e):
    """SPEC 3.2 batch loss (loss, diff, klz, recon); t0 the antithetic draw (scalar)
    or t [B] (iid)."""
    B = x.shape[0]
    cemb = embed_cond(P, cfg, theta)
    if cfg.antithetic_time_sampling:
        off = torch.arange(B, dtype=torch.float32) * (1.0 / B)
        t = torch.remainder(t0 + off, 1.0)
    else:
        t = t0
    msum = mask.sum(dim=1)
    parts = [diff_elem(P, cfg, x, t, e, cemb, mask, norm), klz_elem(P, cfg, x), recon_elem(P, cfg, x, e0)]
    res = [(masked_sum(p, mask) / msum).mean() for p in parts]
    return res[0] + res[1] + res[2], res[0], res[1], res[2]


def sample_step(P, cfg, z, t, s, theta, mask, norm, eps):
    """SPEC 3.5 one ancestral step z_t -> z_s (t, s scalar tensors)."""
    cemb = embed_cond(P, cfg, theta)
    gt = gamma(P, cfg, t)
    gs = gamma(P, cfg, s)
    eh = score(P, cfg, z, gt.expand(z.shape[0]), cemb, mask, norm)
    a = torch.sigmoid(gs)
    b = torch.sigmoid(gt)
    k = -expm1(gt - gs)
    sig_t = torch.sqrt(torch.sigmoid(-gt))
    mean = torch.sqrt(a / b) * (z - sig_t * k * eh)
    return mean + torch.sqrt(torch.sigmoid(-gs) * k) * eps


def nelbo(P, cfg, x, theta, mask, norm, S, e0, e):
    """SPEC 3.6 per-cloud NELBO [B] with S diffusion terms in one batch of S*B
    clouds (e0 [B, N, D], e [S, B, N, D]); returns (nelbo, recon, klz, diff)."""
    B = x.shape[0]
    cemb = embed_cond(P, cfg, theta)
    rec = masked_sum(recon_elem(P, cfg, x, e0), mask)
    klz = masked_sum(klz_elem(P, cfg, x), mask)
    t = (torch.arange(S, dtype=torch.float32) * (1.0 / S))[:, None].expand(S, B).reshape(S * B)
    tile = lambda v: None if v is None else v[None].expand(S, *v.shape).reshape(S * B, *v.shape[1:])
    mrep = tile(mask)
    Ld = diff_elem(P, cfg, tile(x), t, e.reshape(S * B, *e.shape[2:]), tile(cemb), mrep, norm)
    dif = masked_sum(Ld, mrep).reshape(S, B).sum(dim=0) * (1.0 / S)
    return rec + klz + dif, rec, klz, dif


def lr_at(cfg, k):
    """SPEC 5 warmup-cosine learning rate of update k (0-based)."""
    peak, W, D = cfg.learning_rate, cfg.warmup_steps, cfg.n_train_steps
    if k < W:
        return peak * k / W
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(k - W, D - W) / (D - W)))


class Trainer:
    """SPEC 5 training step: loss, backward, elementwise (or global-norm)
    clipping, AdamW (torch.optim.AdamW, foreach) at lr(k)."""

    def __init__(self, P, cfg, norm, opt_state=None):
        self.P = {n: t.clone().requires_grad_(True) for n, t in P.items()}
        self.cfg, self.norm = cfg, norm
        self.k = int(opt_state["opt/step"].item()) if opt_state and "opt/step" in opt_state else 0
        self.opt = torch.optim.AdamW(list(self.P.values()), lr=0.0, betas=(0.9, 0.999), eps=1e-8,
                                     weight_decay=cfg.weight_decay, foreach=True)

    def step(self, x, theta, mask, e0, t0, e):
        cfg = self.cfg
        self.opt.zero_grad(set_to_none=True)
        out = loss(self.P, cfg, x, theta, mask, self.norm, e0, t0, e)
        out[0].backward()
        params = list(self.P.values())
        with torch.no_grad():
            if cfg.grad_clip > 0 and not cfg.grad_clip_global_norm:
                for p in params:
                    p.grad.clamp_(-cfg.grad_clip, cfg.grad_clip)
            elif cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        for g in self.opt.param_groups:
            g["lr"] = lr_at(cfg, self.k)
        self.opt.step()
        self.k += 1
        return [o.detach() for o in out]

    def moments(self):
        """{"opt/m/<path>": m, "opt/v/<path>": v} as numpy arrays."""
        r = {}
        for n, p in self.P.items():
            st = self.opt.state.get(p, {})
            if "exp_avg" in st:
                r["opt/m/" + n] = st["exp_avg"].numpy()
                r["opt/v/" + n] = st["exp_avg_sq"].numpy()
        return r
