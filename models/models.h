/* halograph models: the config (SPEC 7), the parameter/module builder,
 * layers (SPEC 4), score networks (SPEC 4.1 transformer, 4.2 graph
 * network), the VDM (SPEC 3) and the graph kinds `train`, `score`,
 * `sample-step`, `nelbo`.
 *
 * Shapes: B batch, N points per cloud, F features, C raw conditioning size.
 */
#ifndef HG_MODELS_H
#define HG_MODELS_H

#include "ir/ir.h"
#include "runtime/runtime.h"
#include "passes/passes.h"

/* ------------------------------------------------------------ config (SPEC 7) */

#define HG_MAX_COND 8

/* Documented bounds of a config (checked by hg_config_validate; each
 * integer key's range is in the key table of models/config.c):
 * data.n_particles <= HG_CFG_MAX_POINTS; score.n_layers, num_mlp_layers,
 * message_passing_steps and vdm.encdec_n_layers <= HG_CFG_MAX_LAYERS;
 * score.d_model <= 16384, d_mlp <= 65536, n_heads <= 1024, k <= 1024,
 * hidden_size, latent_size, vdm.encdec_d_hidden <= 16384,
 * n_inducing_points <= 65536, vdm.d_context_embedding, d_t_embedding,
 * encdec_d_embedding <= 4096, vdm.timesteps <= 10^6, training.batch_size
 * <= 65536, n_train_steps and warmup_steps <= 10^12. Within them every
 * size product fits in int64 (hg_model_estimate checks it anyway); what
 * the machine cannot hold is refused by hg_model_check_size.
 * The YAML text itself: at most HG_CONFIG_MAX_BYTES bytes and
 * HG_CONFIG_MAX_DEPTH levels of nested mappings/sequences, refused
 * before the document is built. */
#define HG_CFG_MAX_POINTS (1 << 20)
#define HG_CFG_MAX_LAYERS 64
#define HG_CONFIG_MAX_BYTES (1 << 20)
#define HG_CONFIG_MAX_DEPTH 32

typedef enum { HG_SCHED_LINEAR, HG_SCHED_LEARNED_LINEAR, HG_SCHED_LEARNED_NET } hg_noise_schedule;
typedef enum { HG_SCORE_TRANSFORMER, HG_SCORE_GRAPH } hg_score_kind;

typedef struct {
    /* data */
    int n_particles;               /* N (5000) */
    int n_features;                /* F (7): x,y,z[,vx,vy,vz[,log10 M]] */
    int n_cond;                    /* C (2) */
    char conditioning[HG_MAX_COND][32]; /* ["Omega_m", "sigma_8"] */
    int augment_rotations;         /* 1 */
    int augment_translations;      /* 1 */
    int augment_in_normalised_coords; /* 0 (SPEC 2 option: the reference form) */
    int augment_per_cloud;         /* 0 (SPEC 2 option: one draw per cloud) */
    /* vdm */
    hg_noise_schedule noise_schedule;    /* learned_linear */
    double gamma_min, gamma_max;   /* -8, 14 */
    double noise_scale;            /* 1e-3 */
    int timesteps;                 /* 0 = continuous time */
    int antithetic_time_sampling;  /* 1 */
    int embed_context;             /* 1 */
    int d_context_embedding;       /* 16 */
    int d_t_embedding;             /* 16 */
    int use_encdec;                /* 0 */
    int encdec_d_embedding, encdec_d_hidden, encdec_n_layers; /* SPEC 3.4 sizes */
    /* score */
    hg_score_kind score;           /* transformer */
    int d_model, d_mlp, n_layers, n_heads;      /* 256, 1024, 6, 4 */
    int induced_attention, n_inducing_points;   /* 0, 32 */
    int adanorm;                                /* 0 */
    int k, hidden_size, latent_size, num_mlp_layers, message_passing_steps; /* 20,128,16,4,4 */
    int attention, relative_updates, use_pbc;   /* 1, 1, 1 */
    int layer_norm;                             /* norm: layer -> 1, none -> 0 */
    /* training */
    int batch_size;                /* 16 */
    long n_train_steps;            /* 301000 */
    long warmup_steps;             /* 5000 */
    double learning_rate;          /* 3e-4 */
    double weight_decay;           /* 1e-4 */
    double grad_clip;              /* 0.5 (elementwise) */
    int grad_clip_global_norm;     /* 0 (SPEC 5 option) */
    double ema_decay;              /* 0 = off (SPEC 5 option: EMA of the parameters) */
    long seed;                     /* 52 */
} hg_config;

/* SPEC 7 defaults (the paper's halo run). */
void hg_config_default(hg_config *c);
/* Reads a YAML config (four sections data/vdm/score/training; keys of the
 * graph score net live in `score` too). Unknown keys, wrong types and
 * impossible values are errors naming the key, e.g. "cfg.yaml: score.n_heads:
 * d_model 100 is not divisible by n_heads 3". Missing keys keep defaults. */
hg_status hg_config_load(const char *path, hg_config *c);
hg_status hg_config_parse(const char *yaml_text, const char *what, hg_config *c);
/* Cross-field checks (also run by load/parse). */
hg_status hg_config_validate(const hg_config *c, const char *what);
/* The full config as YAML text (every key written out); malloc'd, caller frees. */
char *hg_config_to_yaml(const hg_config *c);

/* ------------------------------------------- parameters and module builder */

typedef enum {
    HG_INIT_ZEROS,
    HG_INIT_ONES,
    HG_INIT_LECUN_NORMAL,   /* truncated normal (+-2 sd), variance 1/fan_in (then the
                               sd is corrected for truncation as jax does: / .87962566) */
    HG_INIT_XAVIER_UNIFORM, /* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
    HG_INIT_NORMAL,         /* N(0, a^2), a = param_a */
    HG_INIT_CONST           /* all equal to param_a */
} hg_init;

typedef struct {
    char path[HG_NAME_MAX]; /* "score/layer_0/mha/query/kernel" */
    hg_shape shape;
    hg_init init;
    double a;               /* HG_INIT_NORMAL sd / HG_INIT_CONST value */
    int64_t fan_in, fan_out;
    hg_value node;          /* the state node in the graph */
} hg_param;

/* Builds a model graph: the graph, the current parameter path prefix, the
 * parameter list, and the RNG inputs of the graph (i32 scalars). */
typedef struct {
    hg_graph *g;
    char prefix[HG_NAME_MAX];
    hg_param *params;
    int n_params, cap_params;
    hg_value seed, step, replica; /* i32 scalar inputs "seed", "step", "replica" */
    hg_dtype dtype;               /* F32 normally, F64 for gradient checks */
    int64_t rows_total, rows_offset; /* hg_model_opts batch_total/offset (0: this batch) */
} hg_mb;

/* Starts a builder on graph g (creates the seed/step/replica inputs unless
 * they exist). */
hg_status hg_mb_init(hg_mb *mb, hg_graph *g, hg_dtype dtype);
void hg_mb_free(hg_mb *mb); /* frees the parameter list, not the graph */
/* Enters / leaves a path component ("layer_%d"). */
void hg_mb_push(hg_mb *mb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hg_mb_pop(hg_mb *mb);
/* A parameter `prefix/name`: a state node (created once; a second request
 * for the same path returns the same node, shape must match). */
hg_value hg_mb_param(hg_mb *mb, const char *name, hg_shape shape, hg_init init,
                     double a, int64_t fan_in, int64_t fan_out);
/* Fills `state` with initial values for every parameter (existing entries
 * are replaced), in the builder's dtype, from the counter-based RNG: the
 * parameter with path P uses seed `seed` and stream 0x40000000 | (FNV-1a(P)
 * & 0x3fffffff) (so its values do not depend on build order or graph kind),
 * element j its j-th draw (truncated normal: redraw at step 1, 2, ... of
 * the counter until within +-2 sd); same seed -> same bits. */
hg_status hg_mb_init_params(const hg_mb *mb, uint32_t seed, hg_tensor_map *state);
int64_t hg_mb_param_count(const hg_mb *mb); /* total scalars */

/* ------------------------------------------------------ layers (SPEC 4) */

/* Dense: x[..., in] -> [..., out]; kernel [in, out] ("kernel"), bias [out]
 * ("bias", zeros) under prefix/name. kernel init as given. */
hg_value hg_dense(hg_mb *mb, const char *name, hg_value x, int64_t out,
                  int use_bias, hg_init kernel_init);
/* LayerNorm over the last axis, eps 1e-6, learned "scale" (1) and "bias" (0). */
hg_value hg_layer_norm_p(hg_mb *mb, const char *name, hg_value x);
/* MLP: Dense(widths[0]) gelu Dense(widths[1]) ... gelu Dense(widths[n-1]),
 * no activation after the last; names "dense_0".. under prefix/name. */
hg_value hg_mlp(hg_mb *mb, const char *name, hg_value x, int n, const int64_t *widths);

/* ---------------------------------------------------------- score networks */

/* Everything a score network needs besides z: SPEC 4 inputs. */
typedef struct {
    hg_value z;        /* [B, N, F] noisy (normalised) features */
    hg_value gamma_t;  /* [B] log-SNR */
    hg_value cond;     /* [B, d_c] conditioning after the embedding, or HG_NONE */
    hg_value mask;     /* [B, N] 1 = real point */
    /* normalisation of the first three features (graph network: positions in
     * physical units p = z[..., 0:3] std + mean), and the box side (Mpc/h). */
    double mean[3], std[3];
    double box;
} hg_score_in;

/* SPEC 4 shared prefix: t-embedding of gamma_t concat cond, through the MLP
 * [4 d_cc, 4 d_cc, d_cc]. Returns cc [B, d_cc]. Path "score/cond_mlp". */
hg_value hg_score_cond(hg_mb *mb, const hg_config *c, const hg_score_in *in);
/* SPEC 4.1 transformer; returns e_hat [B, N, F]. Parameters under "score/". */
hg_value hg_transformer_score(hg_mb *mb, const hg_config *c, const hg_score_in *in, hg_value cc);
/* SPEC 4.2 graph network; returns e_hat [B, N, F]. Parameters under "score/". */
hg_value hg_gnn_score(hg_mb *mb, const hg_config *c, const hg_score_in *in, hg_value cc);
/* Dispatch on c->score (calls hg_score_cond then the network).
 * Path convention: hg_score, hg_score_cond, hg_transformer_score and
 * hg_gnn_score are called with the builder at the model root (prefix "")
 * and each pushes "score" itself (and pops it before returning). */
hg_value hg_score(hg_mb *mb, const hg_config *c, const hg_score_in *in);

/* --------------------------------------------------------- more layers */

/* Multi-head attention (SPEC 4.1): xq [B, Nq, Dq], xkv [B, Nk, Dk] ->
 * [B, Nq, d_model]; "query", "key", "value", "out" Dense layers with bias,
 * Xavier-uniform kernels (fan_in = input width, fan_out = d_model), biases
 * zero; logits scaled by 1/sqrt(d_model / n_heads). mask: float, broadcastable
 * to [B, 1, Nq, Nk] (nonzero = attend), or HG_NONE for none. */
hg_value hg_mha(hg_mb *mb, const char *name, hg_value xq, hg_value xkv, hg_value mask,
                int64_t d_model, int n_heads);
/* The conditioned residual MLP of the encoder/decoder (SPEC 3.4), z [B, N, D],
 * cond [B, dc] or HG_NONE: n_layers times (per layer l under "layer_l":
 * h = gelu(LN(z)); h = Dense(d_hidden)(h) [+ Dense(d_hidden, no bias)(cond)];
 * h = gelu(LN(h)); h = Dense(D, zero-init)(h); z += h). As the reference,
 * each layer has its own conditioning projection. */
hg_value hg_resnet_cond(hg_mb *mb, const char *name, hg_value z, hg_value cond,
                        int64_t d_hidden, int n_layers);

/* ----------------------------------------------------------- VDM (SPEC 3) */

/* Log-SNR schedule gamma(t) (SPEC 3.1) for t of any shape (same shape out);
 * learned parameters under "vdm/gamma" ("w", "b" for learned_linear;
 * "l1/kernel" [1,1], "l1/bias" [1], "l2/kernel" [1,1024], "l2/bias" [1024],
 * "l3/kernel" [1024,1] for learned_net). */
hg_value hg_vdm_gamma(hg_mb *mb, const hg_config *c, hg_value t);
/* d gamma / d t, exact (closed form of the same parameters), shape of t. */
hg_value hg_vdm_gamma_dt(hg_mb *mb, const hg_config *c, hg_value t);
/* SPEC 3.3: theta [B, C] -> c [B, d_context_embedding] ("cond_embed" Dense)
 * if embed_context, theta itself otherwise; HG_NONE if C = 0. */
hg_value hg_vdm_embed_cond(hg_mb *mb, const hg_config *c, hg_value theta);
/* Width of the embedded conditioning (0 without conditioning). */
int hg_vdm_cond_width(const hg_config *c);
/* Width of the diffused features: encdec_d_embedding with use_encdec, else F. */
int hg_vdm_latent_width(const hg_config *c);
/* SPEC 3.4 encoder x [B,N,F] -> f [B,N,D] (identity without use_encdec) and
 * decoder mean z [B,N,D] -> [B,N,F] (identity without use_encdec); paths
 * "encoder", "decoder". cemb: the embedded conditioning or HG_NONE. */
hg_value hg_vdm_encode(hg_mb *mb, const hg_config *c, hg_value x, hg_value cemb);
hg_value hg_vdm_decode(hg_mb *mb, const hg_config *c, hg_value z, hg_value cemb);

/* Data normalisation (SPEC 1) the graphs need: per-feature train mean/std
 * (normalised x' = (x - mean + 1e-7) / (std + 1e-7)) and the box side L. */
#define HG_MAX_FEATURES 7
/* hg_norm (per-feature train mean/std, n_features, and the box side `box`
 * in Mpc/h) is the runtime's type, declared in runtime/runtime.h. */
/* mean 0, std 1 for F features, box side `box`. */
void hg_norm_identity(hg_norm *n, int n_features, double box);

/* Batch loss of SPEC 3.2. x [B,N,F] normalised, theta [B,C] raw (HG_NONE if
 * C = 0), mask [B,N]. Random draws (in this order of streams): e0 [B,N,D],
 * t0 (scalar, antithetic) or t [B], e [B,N,D], from mb's seed/step/replica.
 * Outputs rank-0 batch means: loss = diff + klz + recon, each part being
 * mean_b of (masked sum over n, f) / sum_n m. */
typedef struct {
    hg_value loss, diff, klz, recon; /* rank 0 */
    hg_value t;                      /* [B] the sampled times (after discretisation) */
} hg_vdm_loss_out;
hg_status hg_vdm_loss(hg_mb *mb, const hg_config *c, const hg_norm *norm, hg_value x,
                      hg_value theta, hg_value mask, hg_vdm_loss_out *out);

/* One ancestral step (SPEC 3.5) as pure math on graph values (any shapes
 * that broadcast against z_t): a = sigmoid(g_s), b = sigmoid(g_t),
 * k = -expm1(g_t - g_s), z_s = sqrt(a/b) (z_t - sigma(g_t) k e_hat)
 * + sqrt((1 - a) k) eps. Lets tests drive the sampler with any e_hat. */
hg_value hg_vdm_ancestral_step(hg_graph *g, hg_value z_t, hg_value g_t, hg_value g_s,
                               hg_value e_hat, hg_value eps);

/* ---------------------------------------------------- graph kinds (DESIGN) */

/* A built model graph and its parameter list. */
typedef struct {
    hg_graph *g;
    hg_mb mb;
    char kind[16];
    int batch;
} hg_model;

typedef struct {
    hg_norm norm;            /* data normalisation; box needed by the graph net */
    int nelbo_steps;         /* S of SPEC 3.6 (50 if 0) */
    int nelbo_terms_per_call;/* M: diffusion terms per nelbo call (0: all S; must divide S) */
    /* Data-parallel shards (issue 15, "loss" and "grad"): this graph's B
     * rows are rows batch_offset.. of a global batch of batch_total rows,
     * and draw that batch's noise and times (the draws are made for
     * batch_total rows and sliced), so the shards of P ranks see exactly
     * the random numbers of the one-process batch. 0, 0: the whole batch. */
    int batch_total, batch_offset;
} hg_model_opts;
/* Defaults: identity normalisation of c->n_features features, box 1000,
 * nelbo_steps 50, all terms in one call. */
void hg_model_opts_default(hg_model_opts *o, const hg_config *c);

/* Builds one graph kind for batch size `batch` (B), dtype F32 (F64 for
 * gradient checks). Every graph has i32 scalar inputs "seed", "step",
 * "replica" (the RNG counter) and parameters as state nodes named by path.
 * Kinds, inputs -> outputs (N = c->n_particles, F = c->n_features,
 * C = c->n_cond; cond is omitted when C = 0):
 *  "loss"          x [B,N,F], cond [B,C], mask [B,N] -> "loss", "loss_diff",
 *                  "loss_klz", "loss_recon" (rank 0; SPEC 3.2), "t" [B].
 *  "train"         the loss graph plus gradients, elementwise clipping and
 *                  AdamW (SPEC 5) through hg_train_step_graph: same inputs,
 *                  the same outputs, parameters and optimiser state updated.
 *  "grad"          the loss graph plus the gradients of "loss" w.r.t. every
 *                  parameter, outputs "grad/<path>" (no clipping, no update;
 *                  data-parallel training, hg_model_build_update).
 *  "score"         z [B,N,D], gamma [B], cond, mask -> "e_hat" [B,N,D].
 *  "sample-step"   z [B,N,D], t, s (f32 scalars), cond, mask -> "z_next"
 *                  (SPEC 3.5; noise e from random_normal with the step input:
 *                  feed step = i for step i).
 *  "sample-decode" z [B,N,D] (= z_0), cond, mask -> "x" [B,N,F] normalised
 *                  (z_0 / alpha(gamma(0)) through the decoder mean) and
 *                  "x_phys" (un-normalised, positions wrapped into [0, L)).
 *  "nelbo"         x, cond, mask -> "nelbo" [B] per cloud (SPEC 3.6), and its
 *                  parts "nelbo_recon", "nelbo_klz", "nelbo_diff" [B]. With
 *                  M = opts->nelbo_terms_per_call = S (default) one call
 *                  (step = 0) gives the whole NELBO; with M < S the `step`
 *                  input is the chunk index k: the call adds the diffusion
 *                  terms i = kM..kM+M-1 (at t = i/S) and recon + prior only
 *                  when k = 0, so the sum over k = 0..S/M-1 is the NELBO.
 *                  Common random numbers: the noise of batch row b and term
 *                  i is element (i mod M, b, ...) of draws keyed by (seed,
 *                  replica input, k, stream) only, never by x or theta: feed
 *                  the same seed/replica at every theta. Rows of a batch
 *                  draw different noise (K replicas of one cloud = K rows,
 *                  or one row per call with replica = r).
 * out->mb lists the parameters. Errors: unknown kind, invalid config. */
/* The SPEC 5 optimiser settings of config c (AdamW, elementwise or
 * global-norm clipping, warmup-cosine schedule). */
void hg_model_optim_config(const hg_config *c, hg_optim_config *oc);

/* The update half of the "train" graph for data-parallel training (issue
 * 15): inputs "grad/<path>" (dtype and shape of each parameter of `grad`,
 * a "grad" model: the batch-mean gradients), parameters and optimiser
 * state as state nodes; clipping and AdamW of SPEC 5 (hg_clip_gradients,
 * hg_optim_apply, as hg_train_step_graph) update them in place. No
 * outputs. *out: caller frees with hg_graph_free. Errors: HG_ERR_INVALID
 * (grad is not a "grad" model), HG_ERR_NOMEM. */
hg_status hg_model_build_update(const hg_config *c, const hg_model *grad, hg_graph **out);
hg_status hg_model_build(const hg_config *c, const char *kind, int batch, hg_dtype dtype,
                         const hg_model_opts *opts, hg_model *out);

/* ------------------------------------------------------------ model size */

/* A lower-bound estimate of a model's memory, from the config alone (no
 * graph built): the leading terms of the parameter count (transformer:
 * n_layers (4 d_model^2 + 2 d_model d_mlp) + 2 F d_model + 24 d_cc^2 +
 * d_cc d_model, d_cc = d_t_embedding + d_context_embedding (n_cond without
 * embed_context), the conditioning MLP and projection; graph network:
 * 2 message_passing_steps num_mlp_layers hidden_size^2; encoder/decoder:
 * 4 encdec_n_layers encdec_d_embedding encdec_d_hidden), f32 state bytes
 * (training: parameters, gradients and the two AdamW moments, 16 bytes
 * per parameter; inference 4), and activation bytes (training: the
 * residual stream of every layer, B N d_model (n_layers + 1), or the edge
 * features of every step, B N k hidden_size (steps + 1), plus the largest
 * single intermediate; inference: that intermediate). Every product is
 * checked: a value that does not fit in int64 saturates at INT64_MAX. */
typedef struct {
    int64_t params;
    int64_t state_bytes;
    int64_t activation_bytes;
    int64_t total_bytes; /* state + activations */
} hg_model_size;

void hg_model_estimate(const hg_config *c, int64_t batch, int training, hg_model_size *out);
/* Physical memory of the machine (sysconf), INT64_MAX when unknown. */
int64_t hg_machine_memory_bytes(void);
/* HG_ERR_INVALID when the estimate exceeds limit_bytes (<= 0: the
 * machine's memory), naming the config key whose default value would
 * shrink the estimate most ("score.n_layers: the model needs at least
 * ... bytes to train ... but this machine has ... bytes"). Called by
 * hg_model_build before it builds anything. */
hg_status hg_model_check_size(const hg_config *c, int64_t batch, int training, int64_t limit_bytes);
void hg_model_free(hg_model *m);

#endif
