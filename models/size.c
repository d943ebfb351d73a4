/* Model size estimate (models.h, hg_model_estimate): parameters, state
 * and activation bytes from a config alone, with checked (saturating)
 * arithmetic, and the check that a model fits in the machine's memory
 * before anything is built. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models/models.h"

/* Saturating int64 arithmetic: the result sticks at INT64_MAX. */
static int64_t sat_mul(int64_t a, int64_t b) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) return INT64_MAX;
    return r;
}
static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) return INT64_MAX;
    return r;
}
static int64_t sat_mul3(int64_t a, int64_t b, int64_t c) { return sat_mul(sat_mul(a, b), c); }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

void hg_model_estimate(const hg_config *c, int64_t batch, int training, hg_model_size *out) {
    memset(out, 0, sizeof *out);
    int64_t B = batch, N = c->n_particles, F = c->n_features;
    int64_t p = 0, keep = 0, peak = 0; /* parameters; activations kept for backward; largest live */
    if (c->score == HG_SCORE_TRANSFORMER) {
        int64_t d = c->d_model, L = c->n_layers, dm = c->d_mlp;
        int64_t per = sat_add(sat_mul(4, sat_mul(d, d)), sat_mul3(2, d, dm)); /* attention + MLP kernels */
        int64_t dcc = (int64_t)c->d_t_embedding + (c->embed_context ? c->d_context_embedding : c->n_cond);
        p = sat_add(sat_mul(L, per), sat_mul3(2, F, d));                     /* + embed and out */
        p = sat_add(p, sat_add(sat_mul3(24, dcc, dcc), sat_mul(dcc, d)));   /* + conditioning MLP, projection */
        int64_t row = sat_mul(B, N);
        keep = sat_mul3(L + 1, row, d);                 /* the residual stream of every layer */
        peak = sat_mul(row, max64(dm, 3 * d));          /* MLP hidden or q, k, v of one layer */
    } else {
        int64_t H = c->hidden_size, S = c->message_passing_steps, m = c->num_mlp_layers;
        p = sat_mul(sat_mul3(2, S, m), sat_mul(H, H)); /* edge and node MLPs of every step */
        int64_t edges = sat_mul3(B, N, c->k);
        keep = sat_mul3(S + 1, edges, H);              /* edge features of every step */
        peak = sat_mul(edges, H);
    }
    if (c->use_encdec)
        p = sat_add(p, sat_mul(sat_mul(4, c->encdec_n_layers), sat_mul(c->encdec_d_embedding, c->encdec_d_hidden)));
    out->params = p;
    /* f32 values; training adds gradients and the two AdamW moments */
    out->state_bytes = sat_mul3(p, 4, training ? 4 : 1);
    out->activation_bytes = sat_mul(4, training ? sat_add(keep, peak) : sat_add(peak, sat_mul3(2, sat_mul(B, N), 64)));
    out->total_bytes = sat_add(out->state_bytes, out->activation_bytes);
}

int64_t hg_machine_memory_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) return INT64_MAX;
    return sat_mul(pages, size);
}

/* The size keys, with the member to reset when looking for the culprit. */
typedef struct {
    const char *key;
    size_t off;
} size_key;

#define K(sec, f) {sec "." #f, offsetof(hg_config, f)}
static const size_key size_keys[] = {
    K("data", n_particles),       K("score", d_model),         K("score", d_mlp),
    K("score", n_layers),         K("score", k),               K("score", hidden_size),
    K("score", num_mlp_layers),   K("score", message_passing_steps),
    K("vdm", encdec_d_embedding), K("vdm", encdec_d_hidden),   K("vdm", encdec_n_layers),
};
#undef K

hg_status hg_model_check_size(const hg_config *c, int64_t batch, int training, int64_t limit_bytes) {
    hg_model_size est;
    hg_model_estimate(c, batch, training, &est);
    if (limit_bytes <= 0) limit_bytes = hg_machine_memory_bytes();
    if (est.total_bytes <= limit_bytes) return hg_ok();
    /* the culprit: the key whose default value shrinks the estimate most */
    hg_config def;
    hg_config_default(&def);
    const char *key = "training.batch_size";
    int64_t best = est.total_bytes;
    {
        hg_model_size e2;
        hg_model_estimate(c, def.batch_size < batch ? def.batch_size : batch, training, &e2);
        best = e2.total_bytes;
    }
    for (size_t i = 0; i < sizeof size_keys / sizeof size_keys[0]; i++) {
        hg_config t = *c;
        int *v = (int *)((char *)&t + size_keys[i].off);
        const int *dv = (const int *)((const char *)&def + size_keys[i].off);
        if (*v <= *dv) continue;
        *v = *dv;
        hg_model_size e2;
        hg_model_estimate(&t, batch, training, &e2);
        if (e2.total_bytes < best) {
            best = e2.total_bytes;
            key = size_keys[i].key;
        }
    }
    const char *why = est.total_bytes == INT64_MAX ? "more than 2^63" : NULL;
    char need[64];
    if (why) snprintf(need, sizeof need, "%s", why);
    else snprintf(need, sizeof need, "%.3g", (double)est.total_bytes);
    return hg_error(HG_ERR_INVALID,
                    "%s: the model needs at least %s bytes to %s (%.3g parameters: %.3g bytes of state, %.3g bytes of "
                    "activations at batch %lld) but %s %.3g bytes",
                    key, need, training ? "train" : "run", (double)est.params, (double)est.state_bytes,
                    (double)est.activation_bytes, (long long)batch,
                    limit_bytes == hg_machine_memory_bytes() ? "this machine has" : "the limit is",
                    (double)limit_bytes);
}
