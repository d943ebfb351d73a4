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

/* ------------------------------------------------------------ config (SPEC 7) */

#define HG_MAX_COND 8

typedef enum { HG_SCHED_LINEAR, HG_SCHED_LEARNED_LINEAR, HG_SCHED_LEARNED_NET } hg_schedule;
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
    hg_schedule noise_schedule;    /* learned_linear */
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
/* Fills `state` with initial values for every parameter, from the
 * counter-based RNG: parameter i uses seed `seed` and stream
 * (0x40000000 + i), element j its j-th draw; same seed -> same bits. */
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
/* Dispatch on c->score (calls hg_score_cond then the network). */
hg_value hg_score(hg_mb *mb, const hg_config *c, const hg_score_in *in);

#endif
