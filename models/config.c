/* The model/training config (SPEC 7): defaults, YAML reading with libyaml,
 * validation and YAML writing. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "models/models.h"

void hg_config_default(hg_config *c) {
    memset(c, 0, sizeof *c);
    c->n_particles = 5000;
    c->n_features = 7;
    c->n_cond = 2;
    snprintf(c->conditioning[0], sizeof c->conditioning[0], "Omega_m");
    snprintf(c->conditioning[1], sizeof c->conditioning[1], "sigma_8");
    c->augment_rotations = 1;
    c->augment_translations = 1;
    c->noise_schedule = HG_SCHED_LEARNED_LINEAR;
    c->gamma_min = -8.0;
    c->gamma_max = 14.0;
    c->noise_scale = 1.0e-3;
    c->timesteps = 0;
    c->antithetic_time_sampling = 1;
    c->embed_context = 1;
    c->d_context_embedding = 16;
    c->d_t_embedding = 16;
    c->use_encdec = 0;
    /* the reference VDM's encoder/decoder sizes */
    c->encdec_d_embedding = 8;
    c->encdec_d_hidden = 256;
    c->encdec_n_layers = 4;
    c->score = HG_SCORE_TRANSFORMER;
    c->d_model = 256;
    c->d_mlp = 1024;
    c->n_layers = 6;
    c->n_heads = 4;
    c->induced_attention = 0;
    c->n_inducing_points = 32;
    c->adanorm = 0;
    c->k = 20;
    c->hidden_size = 128;
    c->latent_size = 16;
    c->num_mlp_layers = 4;
    c->message_passing_steps = 4;
    c->attention = 1;
    c->relative_updates = 1;
    c->use_pbc = 1;
    c->layer_norm = 1;
    c->batch_size = 16;
    c->n_train_steps = 301000;
    c->warmup_steps = 5000;
    c->learning_rate = 3.0e-4;
    c->weight_decay = 1.0e-4;
    c->grad_clip = 0.5;
    c->grad_clip_global_norm = 0;
    c->ema_decay = 0;
    c->seed = 52;
}

/* ------------------------------------------------------------- key table */

typedef enum { K_INT, K_LONG, K_DOUBLE, K_BOOL, K_SCHED, K_KIND, K_NORM, K_CONDLIST } ktype;

typedef struct {
    const char *section, *key;
    ktype type;
    size_t off;
    long lo, hi; /* documented bounds of K_INT / K_LONG values (models.h) */
} kdesc;

#define O(f) offsetof(hg_config, f)
static const kdesc keys[] = {
    {"data", "n_particles", K_INT, O(n_particles), 1, HG_CFG_MAX_POINTS},
    {"data", "n_features", K_INT, O(n_features), 3, 7},
    {"data", "conditioning", K_CONDLIST, 0, 0, 0},
    {"data", "augment_rotations", K_BOOL, O(augment_rotations), 0, 0},
    {"data", "augment_translations", K_BOOL, O(augment_translations), 0, 0},
    {"data", "augment_in_normalised_coords", K_BOOL, O(augment_in_normalised_coords), 0, 0},
    {"data", "augment_per_cloud", K_BOOL, O(augment_per_cloud), 0, 0},
    {"vdm", "noise_schedule", K_SCHED, O(noise_schedule), 0, 0},
    {"vdm", "gamma_min", K_DOUBLE, O(gamma_min), 0, 0},
    {"vdm", "gamma_max", K_DOUBLE, O(gamma_max), 0, 0},
    {"vdm", "noise_scale", K_DOUBLE, O(noise_scale), 0, 0},
    {"vdm", "timesteps", K_INT, O(timesteps), 0, 1000000},
    {"vdm", "antithetic_time_sampling", K_BOOL, O(antithetic_time_sampling), 0, 0},
    {"vdm", "embed_context", K_BOOL, O(embed_context), 0, 0},
    {"vdm", "d_context_embedding", K_INT, O(d_context_embedding), 1, 4096},
    {"vdm", "d_t_embedding", K_INT, O(d_t_embedding), 4, 4096},
    {"vdm", "use_encdec", K_BOOL, O(use_encdec), 0, 0},
    {"vdm", "encdec_d_embedding", K_INT, O(encdec_d_embedding), 1, 4096},
    {"vdm", "encdec_d_hidden", K_INT, O(encdec_d_hidden), 1, 16384},
    {"vdm", "encdec_n_layers", K_INT, O(encdec_n_layers), 0, HG_CFG_MAX_LAYERS},
    {"score", "kind", K_KIND, O(score), 0, 0},
    {"score", "d_model", K_INT, O(d_model), 1, 16384},
    {"score", "d_mlp", K_INT, O(d_mlp), 1, 65536},
    {"score", "n_layers", K_INT, O(n_layers), 0, HG_CFG_MAX_LAYERS},
    {"score", "n_heads", K_INT, O(n_heads), 1, 1024},
    {"score", "induced_attention", K_BOOL, O(induced_attention), 0, 0},
    {"score", "n_inducing_points", K_INT, O(n_inducing_points), 1, 65536},
    {"score", "adanorm", K_BOOL, O(adanorm), 0, 0},
    {"score", "k", K_INT, O(k), 1, 1024},
    {"score", "hidden_size", K_INT, O(hidden_size), 1, 16384},
    {"score", "latent_size", K_INT, O(latent_size), 1, 16384},
    {"score", "num_mlp_layers", K_INT, O(num_mlp_layers), 1, HG_CFG_MAX_LAYERS},
    {"score", "message_passing_steps", K_INT, O(message_passing_steps), 0, HG_CFG_MAX_LAYERS},
    {"score", "attention", K_BOOL, O(attention), 0, 0},
    {"score", "relative_updates", K_BOOL, O(relative_updates), 0, 0},
    {"score", "use_pbc", K_BOOL, O(use_pbc), 0, 0},
    {"score", "norm", K_NORM, O(layer_norm), 0, 0},
    {"training", "batch_size", K_INT, O(batch_size), 1, 65536},
    {"training", "n_train_steps", K_LONG, O(n_train_steps), 1, 1000000000000L},
    {"training", "warmup_steps", K_LONG, O(warmup_steps), 0, 1000000000000L},
    {"training", "learning_rate", K_DOUBLE, O(learning_rate), 0, 0},
    {"training", "weight_decay", K_DOUBLE, O(weight_decay), 0, 0},
    {"training", "grad_clip", K_DOUBLE, O(grad_clip), 0, 0},
    {"training", "grad_clip_global_norm", K_BOOL, O(grad_clip_global_norm), 0, 0},
    {"training", "ema_decay", K_DOUBLE, O(ema_decay), 0, 0},
    {"training", "seed", K_LONG, O(seed), 0, 0xffffffffL},
};
#undef O
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))
static const char *sections[] = {"data", "vdm", "score", "training"};

static const char *sched_name(hg_noise_schedule s) {
    return s == HG_SCHED_LINEAR ? "linear" : s == HG_SCHED_LEARNED_NET ? "learned_net" : "learned_linear";
}

/* ------------------------------------------------------------ validation */

hg_status hg_config_validate(const hg_config *c, const char *what) {
#define BAD(key, ...)                                                         \
    do {                                                                      \
        char m_[400];                                                         \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                 \
        return hg_error(HG_ERR_INVALID, "%s: %s: %s", what, key, m_);         \
    } while (0)
    if (c->n_particles < 1) BAD("data.n_particles", "%d < 1", c->n_particles);
    if (c->n_features != 3 && c->n_features != 4 && c->n_features != 6 && c->n_features != 7)
        BAD("data.n_features", "%d is not one of 3, 4, 6, 7", c->n_features);
    if (c->n_cond < 0 || c->n_cond > HG_MAX_COND)
        BAD("data.conditioning", "%d names (at most %d)", c->n_cond, HG_MAX_COND);
    for (int i = 0; i < c->n_cond; i++) {
        if (!c->conditioning[i][0]) BAD("data.conditioning", "entry %d is empty", i);
        for (int j = 0; j < i; j++)
            if (!strcmp(c->conditioning[i], c->conditioning[j]))
                BAD("data.conditioning", "'%s' appears twice", c->conditioning[i]);
    }
    if (!isfinite(c->gamma_min) || !isfinite(c->gamma_max) || !(c->gamma_min < c->gamma_max))
        BAD("vdm.gamma_min", "gamma_min %g must be below gamma_max %g", c->gamma_min, c->gamma_max);
    if (!(c->noise_scale > 0) || !isfinite(c->noise_scale))
        BAD("vdm.noise_scale", "%g is not positive", c->noise_scale);
    if (c->timesteps < 0) BAD("vdm.timesteps", "%d < 0", c->timesteps);
    if (c->d_context_embedding < 1) BAD("vdm.d_context_embedding", "%d < 1", c->d_context_embedding);
    if (c->d_t_embedding < 4) BAD("vdm.d_t_embedding", "%d < 4", c->d_t_embedding);
    if (c->encdec_d_embedding < 1) BAD("vdm.encdec_d_embedding", "%d < 1", c->encdec_d_embedding);
    if (c->encdec_d_hidden < 1) BAD("vdm.encdec_d_hidden", "%d < 1", c->encdec_d_hidden);
    if (c->encdec_n_layers < 0) BAD("vdm.encdec_n_layers", "%d < 0", c->encdec_n_layers);
    if (c->d_model < 1) BAD("score.d_model", "%d < 1", c->d_model);
    if (c->d_mlp < 1) BAD("score.d_mlp", "%d < 1", c->d_mlp);
    if (c->n_layers < 0) BAD("score.n_layers", "%d < 0", c->n_layers);
    if (c->n_heads < 1) BAD("score.n_heads", "%d < 1", c->n_heads);
    if (c->d_model % c->n_heads)
        BAD("score.n_heads", "d_model %d is not divisible by n_heads %d", c->d_model, c->n_heads);
    if (c->n_inducing_points < 1) BAD("score.n_inducing_points", "%d < 1", c->n_inducing_points);
    if (c->adanorm && c->induced_attention)
        BAD("score.adanorm", "adanorm supports self-attention only (induced_attention is on)");
    if (c->k < 1) BAD("score.k", "%d < 1", c->k);
    if (c->hidden_size < 1) BAD("score.hidden_size", "%d < 1", c->hidden_size);
    if (c->latent_size < 1) BAD("score.latent_size", "%d < 1", c->latent_size);
    if (c->num_mlp_layers < 1) BAD("score.num_mlp_layers", "%d < 1", c->num_mlp_layers);
    if (c->message_passing_steps < 0)
        BAD("score.message_passing_steps", "%d < 0", c->message_passing_steps);
    if (c->score == HG_SCORE_GRAPH) {
        if (c->k >= c->n_particles)
            BAD("score.k", "k %d must be below n_particles %d", c->k, c->n_particles);
        if (c->use_encdec)
            BAD("vdm.use_encdec", "the graph score network needs positions: use_encdec must be false");
    }
    if (c->batch_size < 1) BAD("training.batch_size", "%d < 1", c->batch_size);
    if (c->n_train_steps < 1) BAD("training.n_train_steps", "%ld < 1", c->n_train_steps);
    if (c->warmup_steps < 0 || c->warmup_steps >= c->n_train_steps)
        BAD("training.warmup_steps", "%ld must be in [0, n_train_steps %ld)", c->warmup_steps,
            c->n_train_steps);
    if (!(c->learning_rate >= 0) || !isfinite(c->learning_rate))
        BAD("training.learning_rate", "%g is negative", c->learning_rate);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        BAD("training.weight_decay", "%g is negative", c->weight_decay);
    if (!(c->grad_clip >= 0) || !isfinite(c->grad_clip))
        BAD("training.grad_clip", "%g is negative", c->grad_clip);
    if (!(c->ema_decay >= 0 && c->ema_decay < 1))
        BAD("training.ema_decay", "%g must be in [0, 1) (0 = off)", c->ema_decay);
    if (c->seed < 0 || c->seed > 0xffffffffL) BAD("training.seed", "%ld out of [0, 2^32)", c->seed);
    /* the documented bounds of every integer key (after the specific
     * messages above) */
    for (int i = 0; i < N_KEYS; i++) {
        const kdesc *k = &keys[i];
        if (k->type != K_INT && k->type != K_LONG) continue;
        const void *p = (const char *)c + k->off;
        long v = k->type == K_INT ? *(const int *)p : *(const long *)p;
        if (v < k->lo || v > k->hi) {
            char key[64];
            snprintf(key, sizeof key, "%s.%s", k->section, k->key);
            BAD(key, "%ld outside the supported range [%ld, %ld]", v, k->lo, k->hi);
        }
    }
    return hg_ok();
#undef BAD
}

/* --------------------------------------------------------------- reading */

static hg_status key_err(const char *what, const char *sec, const char *key, const yaml_node_t *n,
                         const char *msg) {
    return hg_error(HG_ERR_INVALID, "%s:%lu: %s.%s: %s", what,
                    (unsigned long)(n ? n->start_mark.line + 1 : 0), sec, key, msg);
}

static int is_plain_scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }

static hg_status set_value(hg_config *c, const kdesc *k, yaml_document_t *doc, yaml_node_t *v,
                           const char *what) {
    char msg[300];
    if (k->type == K_CONDLIST) {
        if (v->type != YAML_SEQUENCE_NODE)
            return key_err(what, k->section, k->key, v, "expected a list of names");
        int n = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            yaml_node_t *e = yaml_document_get_node(doc, *it);
            if (!is_plain_scalar(e))
                return key_err(what, k->section, k->key, e, "entries must be names");
            if (n >= HG_MAX_COND) {
                snprintf(msg, sizeof msg, "more than %d names", HG_MAX_COND);
                return key_err(what, k->section, k->key, e, msg);
            }
            const char *s = (const char *)e->data.scalar.value;
            if (!*s || strlen(s) >= sizeof c->conditioning[0])
                return key_err(what, k->section, k->key, e, "empty or too long name");
            snprintf(c->conditioning[n++], sizeof c->conditioning[0], "%s", s);
        }
        c->n_cond = n;
        return hg_ok();
    }
    if (!is_plain_scalar(v)) return key_err(what, k->section, k->key, v, "expected a scalar value");
    const char *s = (const char *)v->data.scalar.value;
    char *end;
    void *p = (char *)c + k->off;
    switch (k->type) {
    case K_INT:
    case K_LONG: {
        errno = 0;
        long x = strtol(s, &end, 10);
        if (!*s || *end || errno) {
            snprintf(msg, sizeof msg, "'%s' is not an integer", s);
            return key_err(what, k->section, k->key, v, msg);
        }
        if (k->type == K_INT) {
            if (x < -2147483647L || x > 2147483647L)
                return key_err(what, k->section, k->key, v, "integer out of range");
            *(int *)p = (int)x;
        } else {
            *(long *)p = x;
        }
        return hg_ok();
    }
    case K_DOUBLE: {
        errno = 0;
        double x = strtod(s, &end);
        if (!*s || *end || errno || !isfinite(x)) {
            snprintf(msg, sizeof msg, "'%s' is not a finite number", s);
            return key_err(what, k->section, k->key, v, msg);
        }
        *(double *)p = x;
        return hg_ok();
    }
    case K_BOOL: {
        static const char *yes[] = {"true", "True", "TRUE", "yes", "Yes", "on"};
        static const char *no[] = {"false", "False", "FALSE", "no", "No", "off"};
        for (int i = 0; i < 6; i++) {
            if (!strcmp(s, yes[i])) { *(int *)p = 1; return hg_ok(); }
            if (!strcmp(s, no[i])) { *(int *)p = 0; return hg_ok(); }
        }
        snprintf(msg, sizeof msg, "'%s' is not a boolean (true/false)", s);
        return key_err(what, k->section, k->key, v, msg);
    }
    case K_SCHED:
        if (!strcmp(s, "linear")) c->noise_schedule = HG_SCHED_LINEAR;
        else if (!strcmp(s, "learned_linear")) c->noise_schedule = HG_SCHED_LEARNED_LINEAR;
        else if (!strcmp(s, "learned_net")) c->noise_schedule = HG_SCHED_LEARNED_NET;
        else {
            snprintf(msg, sizeof msg, "'%s' is not one of linear, learned_linear, learned_net", s);
            return key_err(what, k->section, k->key, v, msg);
        }
        return hg_ok();
    case K_KIND:
        if (!strcmp(s, "transformer")) c->score = HG_SCORE_TRANSFORMER;
        else if (!strcmp(s, "graph")) c->score = HG_SCORE_GRAPH;
        else {
            snprintf(msg, sizeof msg, "'%s' is not one of transformer, graph", s);
            return key_err(what, k->section, k->key, v, msg);
        }
        return hg_ok();
    case K_NORM:
        if (!strcmp(s, "layer")) c->layer_norm = 1;
        else if (!strcmp(s, "none")) c->layer_norm = 0;
        else {
            snprintf(msg, sizeof msg, "'%s' is not one of layer, none", s);
            return key_err(what, k->section, k->key, v, msg);
        }
        return hg_ok();
    case K_CONDLIST: break;
    }
    return hg_ok();
}

static hg_status parse_doc(yaml_document_t *doc, const char *what, hg_config *c) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return hg_ok(); /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE)
        return hg_error(HG_ERR_INVALID, "%s: the top level must be a mapping of the sections data, vdm, score, training", what);
    /* a repeated section or key is an error (YAML leaves it to the reader;
     * silently keeping the last value hides typos) */
    int sec_seen[4] = {0}, key_seen[N_KEYS];
    memset(key_seen, 0, sizeof key_seen);
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(doc, pr->value);
        if (!is_plain_scalar(kn))
            return hg_error(HG_ERR_INVALID, "%s: section names must be plain words", what);
        const char *sec = (const char *)kn->data.scalar.value;
        int known = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(sec, sections[i])) known = i;
        if (known < 0)
            return hg_error(HG_ERR_INVALID, "%s:%lu: %s: unknown section (data, vdm, score, training)",
                            what, (unsigned long)kn->start_mark.line + 1, sec);
        if (sec_seen[known]++)
            return hg_error(HG_ERR_INVALID, "%s:%lu: %s: section appears twice", what,
                            (unsigned long)kn->start_mark.line + 1, sec);
        if (vn->type == YAML_SCALAR_NODE && !vn->data.scalar.length) continue; /* empty section */
        if (vn->type != YAML_MAPPING_NODE)
            return hg_error(HG_ERR_INVALID, "%s:%lu: %s: expected a mapping of keys", what,
                            (unsigned long)vn->start_mark.line + 1, sec);
        for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < vn->data.mapping.pairs.top;
             q++) {
            yaml_node_t *k2 = yaml_document_get_node(doc, q->key);
            yaml_node_t *v2 = yaml_document_get_node(doc, q->value);
            if (!is_plain_scalar(k2))
                return hg_error(HG_ERR_INVALID, "%s: %s: keys must be plain words", what, sec);
            const char *key = (const char *)k2->data.scalar.value;
            int ki = -1;
            for (int i = 0; i < N_KEYS; i++)
                if (!strcmp(keys[i].section, sec) && !strcmp(keys[i].key, key)) ki = i;
            if (ki < 0) return key_err(what, sec, key, k2, "unknown key");
            if (key_seen[ki]++) return key_err(what, sec, key, k2, "key appears twice");
            const kdesc *kd = &keys[ki];
            HG_TRY(set_value(c, kd, doc, v2, what));
        }
    }
    return hg_ok();
}

static hg_status syntax_error(const yaml_parser_t *p, const char *what) {
    return hg_error(HG_ERR_FORMAT, "%s:%lu: YAML syntax error: %s", what, (unsigned long)p->problem_mark.line + 1,
                    p->problem ? p->problem : "unknown");
}

/* Streams the events of the text once, refusing nesting deeper than
 * HG_CONFIG_MAX_DEPTH as soon as it is seen: libyaml's document loader
 * (and its scanner's simple-key bookkeeping) costs time quadratic in the
 * depth, so a deep document must never reach it. */
static hg_status check_depth(const char *text, size_t n, const char *what) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return hg_error(HG_ERR_NOMEM, "%s: yaml parser", what);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
    hg_status s = hg_ok();
    int depth = 0, done = 0;
    while (!done && s.code == HG_OK) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            s = syntax_error(&p, what);
            break;
        }
        switch (e.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > HG_CONFIG_MAX_DEPTH)
                s = hg_error(HG_ERR_FORMAT, "%s:%lu: nesting deeper than %d levels", what,
                             (unsigned long)e.start_mark.line + 1, HG_CONFIG_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: done = 1; break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    return s;
}

hg_status hg_config_parse(const char *yaml_text, const char *what, hg_config *c) {
    hg_config_default(c);
    if (!what) what = "config";
    size_t len = strnlen(yaml_text, (size_t)HG_CONFIG_MAX_BYTES + 1);
    if (len > HG_CONFIG_MAX_BYTES)
        return hg_error(HG_ERR_FORMAT, "%s: larger than %d bytes: not a config", what, HG_CONFIG_MAX_BYTES);
    HG_TRY(check_depth(yaml_text, len, what));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return hg_error(HG_ERR_NOMEM, "%s: yaml parser", what);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        hg_status s = syntax_error(&parser, what);
        yaml_parser_delete(&parser);
        return s;
    }
    hg_status s = parse_doc(&doc, what, c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    HG_TRY(s);
    return hg_config_validate(c, what);
}

hg_status hg_config_load(const char *path, hg_config *c) {
    char *buf = NULL;
    HG_TRY(hg_read_text_file(path, HG_TEXT_MAX_BYTES, &buf, NULL));
    hg_status s = hg_config_parse(buf, path, c);
    free(buf);
    return s;
}

/* --------------------------------------------------------------- writing */

char *hg_config_to_yaml(const hg_config *c) {
    size_t cap = 8192;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = 0;
#define PUT(...) n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__)
    for (int si = 0; si < 4; si++) {
        PUT("%s:\n", sections[si]);
        for (int i = 0; i < N_KEYS; i++) {
            const kdesc *k = &keys[i];
            if (strcmp(k->section, sections[si])) continue;
            const void *p = (const char *)c + k->off;
            PUT("  %s: ", k->key);
            switch (k->type) {
            case K_INT: PUT("%d\n", *(const int *)p); break;
            case K_LONG: PUT("%ld\n", *(const long *)p); break;
            case K_DOUBLE: {
                /* shortest of %.15g..%.17g that reads back exactly */
                double d = *(const double *)p;
                char b[40];
                for (int prec = 15; prec <= 17; prec++) {
                    snprintf(b, sizeof b, "%.*g", prec, d);
                    if (strtod(b, NULL) == d) break;
                }
                /* YAML 1.1 floats need a dot or exponent to stay floats */
                if (!strpbrk(b, ".eEn")) strcat(b, ".0");
                PUT("%s\n", b);
                break;
            }
            case K_BOOL: PUT("%s\n", *(const int *)p ? "true" : "false"); break;
            case K_SCHED: PUT("%s\n", sched_name(c->noise_schedule)); break;
            case K_KIND: PUT("%s\n", c->score == HG_SCORE_GRAPH ? "graph" : "transformer"); break;
            case K_NORM: PUT("%s\n", c->layer_norm ? "layer" : "none"); break;
            case K_CONDLIST:
                PUT("[");
                for (int j = 0; j < c->n_cond; j++) PUT("%s%s", j ? ", " : "", c->conditioning[j]);
                PUT("]\n");
                break;
            }
        }
    }
#undef PUT
    if (n >= cap) { /* cannot happen with the fixed key set; be safe */
        free(out);
        return NULL;
    }
    return out;
}
