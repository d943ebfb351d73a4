/* The training driver (SPEC 5; models/drivers.h): the host loop around the
 * "train" graph, validation with the "loss" graph, checkpoints, metrics,
 * interruption, NaN detection and bit-identical resume. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "models/drivers.h"

void hg_train_options_default(hg_train_options *o) {
    memset(o, 0, sizeof *o);
    o->val_every = 100;
    o->ckpt_every = 100;
    o->val_replicas = 4;
}

double hg_train_lr(const hg_config *c, int64_t k) {
    double peak = c->learning_rate;
    int64_t W = c->warmup_steps, D = c->n_train_steps;
    if (W > 0 && k < W) return peak * (double)k / (double)W;
    if (D <= W) return peak;
    int64_t a = k - W < D - W ? k - W : D - W;
    return peak * 0.5 * (1.0 + cos(M_PI * (double)a / (double)(D - W)));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Everything one training invocation holds. */
typedef struct {
    const hg_train_options *o;
    hg_config cfg;
    char *yaml;
    hg_dataset ds;
    hg_pipeline train, val;
    int have_val;
    int val_batch;
    hg_norm norm;
    hg_model tm, lm;
    hg_program *tp, *lp;
    hg_profile prof;   /* kernels of the train graph (with options.profile) */
    int have_prof;
    hg_tensor_map state;
    hg_tensor_map in, out;
    char ck_path[HG_PATH_MAX + 32];
    char metrics_path[HG_PATH_MAX + 32];
    int64_t ck_step; /* step of the last good checkpoint, -1 none */
    FILE *metrics;
    hg_mkdirs_record made; /* directories this invocation created */
    /* data-parallel (issue 15): P ranks; P = 1: the fused "train" graph */
    const hg_comm *comm;
    int P, rank;
    int64_t shard_off, shard_n; /* this rank's rows of each global batch */
    hg_program *up;             /* the update graph (P > 1; tp = "grad") */
    float *fused;               /* [n_grad + FUSED_TAIL] the allreduce buffer */
    int64_t n_grad;
    int stop;                   /* P > 1: some rank was interrupted */
} trainer;

/* tail of the fused buffer: loss, diff, klz, recon (shard-weighted), the
 * number of ranks whose step failed, the number interrupted */
enum { FUSED_LOSS = 0, FUSED_ERR = 4, FUSED_INTR = 5, FUSED_TAIL = 6 };

static hg_status agree(const trainer *tr, hg_status s, const char *what) {
    return hg_comm_agree(tr->P > 1 ? tr->comm : NULL, s, what);
}

/* Stop requested: this process's flag (P = 1) or any rank's (P > 1, as
 * reduced with the last step). */
static int stopping(const trainer *tr) {
    if (tr->P > 1) return tr->stop;
    return tr->o->interrupt && *tr->o->interrupt;
}

/* 1 if a and b name the same existing file. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Writes text to path atomically. */
static hg_status write_text(const char *path, const char *text) {
    return hg_atomic_write(path, text, strlen(text));
}

void hg_run_pipeline_config(const hg_config *c, hg_pipeline_config *pc) {
    hg_pipeline_config_default(pc);
    pc->n_particles = c->n_particles;
    pc->n_features = c->n_features;
    pc->n_cond = c->n_cond;
    for (int i = 0; i < c->n_cond && i < HG_PIPE_MAX_COND; i++)
        snprintf(pc->cond_names[i], HG_DS_NAME_MAX, "%s", c->conditioning[i]);
    pc->augment_rotations = c->augment_rotations;
    pc->augment_translations = c->augment_translations;
    pc->rotation_per_cloud = c->augment_per_cloud;
    pc->augment_in_normalised_coords = c->augment_in_normalised_coords;
    pc->seed = (uint32_t)c->seed ^ HG_PIPELINE_SEED_XOR;
}

static hg_status put_i32(hg_tensor_map *m, const char *name, int64_t v) {
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, name, HG_I32, hg_shape_scalar(), &t));
    ((int32_t *)t->data)[0] = (int32_t)v;
    return hg_ok();
}

/* Feeds a batch (shallow: the map entries borrow the batch's data). */
static hg_status feed_batch(hg_tensor_map *in, const hg_batch *b, int with_cond) {
    hg_tensor x = b->x, mk = b->mask, c = b->cond;
    x.owned = mk.owned = c.owned = 0;
    HG_TRY(hg_map_put(in, "x", &x));
    HG_TRY(hg_map_put(in, "mask", &mk));
    if (with_cond) HG_TRY(hg_map_put(in, "cond", &c));
    return hg_ok();
}

static double out_scalar(const hg_tensor_map *m, const char *name) {
    const hg_tensor *t = hg_map_get(m, name);
    return t ? hg_tensor_get(t, 0) : NAN;
}

/* 1 if every float tensor of the state is finite; else names the first bad one. */
static int state_finite(const hg_tensor_map *st, const char **bad) {
    for (int i = 0; i < st->n; i++) {
        const hg_tensor *t = &st->e[i].t;
        if (!hg_dtype_is_float(t->dtype)) continue;
        int64_t n = hg_shape_numel(t->shape);
        for (int64_t j = 0; j < n; j++)
            if (!isfinite(hg_tensor_get(t, j))) {
                *bad = st->e[i].name;
                return 0;
            }
    }
    return 1;
}

/* Makes every metrics row written so far durable (before a checkpoint). */
static hg_status sync_metrics(trainer *tr) {
    if (!tr->metrics) return hg_ok();
    if (fflush(tr->metrics) != 0 || ferror(tr->metrics) || fsync(fileno(tr->metrics)) != 0)
        return hg_error(HG_ERR_IO, "%s: write failed: %s", tr->metrics_path, strerror(errno));
    return hg_ok();
}

static hg_status save_checkpoint(trainer *tr, int64_t step) {
    HG_TRY(sync_metrics(tr));
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    ck.state = tr->state; /* borrowed: not freed below */
    ck.step = step;
    ck.seed = (uint64_t)tr->cfg.seed;
    ck.has_norm = 1;
    ck.norm = tr->norm;
    ck.dataset_checksum = tr->ds.checksum;
    hg_status s = hg_checkpoint_set_config(&ck, tr->yaml);
    if (s.code == HG_OK) s = hg_checkpoint_set_counter(&ck, "pipeline_seed", (int64_t)(uint32_t)tr->train.cfg.seed);
    if (s.code == HG_OK) s = hg_checkpoint_save(tr->ck_path, &ck);
    hg_map_init(&ck.state);
    hg_checkpoint_free(&ck);
    if (s.code == HG_OK) tr->ck_step = step;
    return s;
}

/* save_checkpoint on rank 0, the outcome agreed by every rank (each then
 * knows the last good checkpoint's step). */
static hg_status checkpoint_all(trainer *tr, int64_t step) {
    HG_TRY(agree(tr, tr->rank == 0 ? save_checkpoint(tr, step) : hg_ok(), "checkpoint"));
    tr->ck_step = step;
    return hg_ok();
}

/* Validation loss: mean over the val split and R noise replicas, fixed
 * noise (replica inputs 1..R, step = batch index). */
static hg_status validate(trainer *tr, double *val) {
    int64_t nb = hg_pipeline_n_eval_batches(&tr->val, tr->val_batch);
    int R = tr->o->val_replicas > 0 ? tr->o->val_replicas : 1;
    double sum = 0;
    hg_tensor_map in;
    hg_map_init(&in);
    hg_status s = hg_ok();
    for (int64_t b = tr->rank; b < nb && s.code == HG_OK; b += tr->P) {
        if (tr->o->interrupt && *tr->o->interrupt) {
            s = hg_error(HG_ERR_INTERRUPTED, "interrupted during validation");
            break;
        }
        hg_batch bt;
        memset(&bt, 0, sizeof bt);
        s = hg_pipeline_eval_batch(&tr->val, b, tr->val_batch, &bt);
        if (s.code == HG_OK) s = feed_batch(&in, &bt, tr->cfg.n_cond > 0);
        if (s.code == HG_OK) s = put_i32(&in, "seed", tr->cfg.seed);
        if (s.code == HG_OK) s = put_i32(&in, "step", b);
        for (int r = 0; r < R && s.code == HG_OK; r++) {
            s = put_i32(&in, "replica", 1 + r);
            if (s.code == HG_OK) s = hg_program_run(tr->lp, &tr->state, &in, &tr->out);
            if (s.code == HG_OK) sum += out_scalar(&tr->out, "loss");
        }
        hg_batch_free(&bt);
    }
    hg_map_free(&in);
    if (tr->P > 1) {
        /* validation batches are dealt round-robin: sum the parts */
        double red[3] = {sum, s.code == HG_ERR_INTERRUPTED, s.code && s.code != HG_ERR_INTERRUPTED};
        hg_status c = hg_comm_sum_f64(tr->comm, red, 3, "validation allreduce");
        if (c.code) return c;
        sum = red[0];
        if (s.code == HG_OK && red[2] > 0) s = hg_error(HG_ERR_INVALID, "validation failed on another rank");
        else if (s.code == HG_OK && red[1] > 0) s = hg_error(HG_ERR_INTERRUPTED, "interrupted during validation");
    }
    *val = sum / (double)(nb * R);
    return s;
}

/* Keeps the header and the rows of metrics.csv with step <= upto. */
static hg_status truncate_metrics(const char *path, int64_t upto) {
    FILE *f = fopen(path, "r");
    if (!f) return hg_ok(); /* no metrics yet: a fresh file is started */
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap), line[1024];
    int first = 1;
    while (buf && fgets(line, sizeof line, f)) {
        long long st;
        if (!first && (sscanf(line, "%lld,", &st) != 1 || st > upto)) continue;
        first = 0;
        size_t l = strlen(line);
        if (n + l + 1 > cap) {
            char *nb = realloc(buf, cap * 2 + l);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = cap * 2 + l;
        }
        memcpy(buf + n, line, l);
        n += l;
    }
    fclose(f);
    if (!buf) return hg_error(HG_ERR_NOMEM, "%s", path);
    buf[n] = 0;
    hg_status s = write_text(path, buf);
    free(buf);
    return s;
}

/* Points the batch's tensors at rows off..off+n of themselves (n rows);
 * shard_rows(b, -off, B) restores the whole batch before hg_batch_free. */
static void shard_rows(hg_batch *b, int64_t off, int64_t n) {
    hg_tensor *ts[3] = {&b->x, &b->mask, &b->cond};
    for (int i = 0; i < 3; i++) {
        hg_tensor *t = ts[i];
        if (!t->data || t->shape.rank < 1) continue;
        int64_t row = hg_shape_numel(t->shape) / t->shape.dim[0];
        t->data = (char *)t->data + off * row * (int64_t)hg_dtype_size(t->dtype);
        t->shape.dim[0] = n;
    }
}

/* The data-parallel half of a step (P > 1): packs this rank's gradients
 * (shard mean times shard/B) and loss parts with its error and interrupt
 * flags into the fused buffer, sums it over the ranks in one allreduce,
 * and applies the update graph to the summed gradients (the batch mean)
 * on every rank. s is this rank's status of the grad step. */
static hg_status dp_update(trainer *tr, hg_status s, int64_t step, hg_train_progress *p) {
    float *f = tr->fused, w = (float)((double)tr->shard_n / (double)tr->cfg.batch_size);
    int64_t at = 0;
    memset(f, 0, sizeof(float) * (size_t)(tr->n_grad + FUSED_TAIL));
    char name[HG_NAME_MAX + 8];
    for (int i = 0; i < tr->tm.mb.n_params && s.code == HG_OK; i++) {
        snprintf(name, sizeof name, "grad/%s", tr->tm.mb.params[i].path);
        const hg_tensor *g = hg_map_get(&tr->out, name);
        int64_t n = hg_shape_numel(tr->tm.mb.params[i].shape);
        if (!g || g->dtype != HG_F32 || hg_shape_numel(g->shape) != n) {
            s = hg_error(HG_ERR_INVALID, "train: grad graph output %s missing or not f32", name);
            break;
        }
        const float *gd = g->data;
        for (int64_t j = 0; j < n; j++) f[at + j] = gd[j] * w;
        at += n;
    }
    static const char *parts[4] = {"loss", "loss_diff", "loss_klz", "loss_recon"};
    float *tail = f + tr->n_grad;
    for (int i = 0; i < 4 && s.code == HG_OK; i++) tail[FUSED_LOSS + i] = (float)out_scalar(&tr->out, parts[i]) * w;
    tail[FUSED_ERR] = s.code != HG_OK;
    tail[FUSED_INTR] = tr->o->interrupt && *tr->o->interrupt;
    char what[64];
    snprintf(what, sizeof what, "gradient allreduce of step %lld", (long long)step + 1);
    HG_TRY(hg_comm_sum_f32(tr->comm, f, tr->n_grad + FUSED_TAIL, what));
    if (s.code) return s;
    if (tail[FUSED_ERR] > 0)
        return hg_error(HG_ERR_INVALID, "step %lld failed on another rank (its message above)", (long long)step + 1);
    tr->stop = tail[FUSED_INTR] > 0;
    p->loss = tail[FUSED_LOSS];
    p->diff = tail[FUSED_LOSS + 1];
    p->klz = tail[FUSED_LOSS + 2];
    p->recon = tail[FUSED_LOSS + 3];
    hg_tensor_map in;
    hg_map_init(&in);
    at = 0;
    for (int i = 0; i < tr->tm.mb.n_params && s.code == HG_OK; i++) {
        snprintf(name, sizeof name, "grad/%s", tr->tm.mb.params[i].path);
        hg_tensor t = {HG_F32, tr->tm.mb.params[i].shape, f + at, 0};
        s = hg_map_put(&in, name, &t);
        at += hg_shape_numel(t.shape);
    }
    hg_tensor_map none;
    hg_map_init(&none);
    if (s.code == HG_OK) s = hg_program_run(tr->up, &tr->state, &in, &none);
    hg_map_free(&none);
    hg_map_free(&in);
    return s;
}

static const char METRICS_HEADER[] = "step,loss,loss_diff,loss_klz,loss_recon,val_loss,lr,seconds\n";

static hg_status open_metrics(trainer *tr, int fresh) {
    if (fresh) HG_TRY(write_text(tr->metrics_path, METRICS_HEADER));
    else {
        HG_TRY(truncate_metrics(tr->metrics_path, tr->ck_step));
        if (access(tr->metrics_path, F_OK)) HG_TRY(write_text(tr->metrics_path, METRICS_HEADER));
    }
    tr->metrics = fopen(tr->metrics_path, "a");
    if (!tr->metrics) return hg_error(HG_ERR_IO, "%s: cannot append (%s)", tr->metrics_path, strerror(errno));
    return hg_ok();
}

static hg_status write_run_yaml(trainer *tr, const char *run_dir) {
    char path[HG_PATH_MAX + 32], data[HG_PATH_MAX];
    snprintf(path, sizeof path, "%s/run.yaml", run_dir);
    if (!realpath(tr->o->data_path, data)) snprintf(data, sizeof data, "%s", tr->o->data_path);
    size_t cap = 8192;
    char *b = malloc(cap);
    if (!b) return hg_error(HG_ERR_NOMEM, "run.yaml");
    int n = snprintf(b, cap,
                     "# halograph training run: where the data came from (written by halograph train)\n"
                     "format: halograph-run-1\n"
                     "dataset: %s\n"
                     "dataset_checksum: %llu\n"
                     "box_size: %.17g\n"
                     "redshift: %.17g\n"
                     "features: [",
                     data, (unsigned long long)tr->ds.checksum, tr->ds.box_size, tr->ds.redshift);
    for (int f = 0; f < tr->cfg.n_features; f++)
        n += snprintf(b + n, cap - (size_t)n, "%s%s", f ? ", " : "", tr->ds.feature_names[f]);
    n += snprintf(b + n, cap - (size_t)n, "]\nconditioning: [");
    for (int c = 0; c < tr->cfg.n_cond; c++)
        n += snprintf(b + n, cap - (size_t)n, "%s%s", c ? ", " : "", tr->cfg.conditioning[c]);
    snprintf(b + n, cap - (size_t)n, "]\n");
    hg_status s = write_text(path, b);
    free(b);
    return s;
}

/* Largest divisor of n that is <= cap (>= 1). */
static int divisor_at_most(int64_t n, int cap) {
    for (int d = cap; d > 1; d--)
        if (n % d == 0) return d;
    return 1;
}

static void trainer_free(trainer *tr) {
    if (tr->metrics) fclose(tr->metrics);
    if (tr->have_prof) hg_profile_free(&tr->prof);
    hg_program_free(tr->tp);
    hg_program_free(tr->up);
    free(tr->fused);
    hg_program_free(tr->lp);
    hg_model_free(&tr->tm);
    hg_model_free(&tr->lm);
    hg_map_free(&tr->state);
    hg_map_free(&tr->in); /* x, mask, cond entries borrow batch data (not owned) */
    hg_map_free(&tr->out);
    hg_pipeline_free(&tr->train);
    if (tr->have_val) hg_pipeline_free(&tr->val);
    hg_dataset_free(&tr->ds);
    free(tr->yaml);
}

/* The checkpoint's state has exactly the names, dtypes and shapes of the
 * freshly initialised one; lists the first differences. */
static hg_status same_layout(const char *path, const hg_tensor_map *have, const hg_tensor_map *want) {
    char msg[400] = "";
    size_t used = 0;
    int bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        const hg_tensor_map *a = pass ? have : want, *b = pass ? want : have;
        for (int i = 0; i < a->n; i++) {
            const hg_tensor *ta = &a->e[i].t, *tb = hg_map_get(b, a->e[i].name);
            char x[64], y[64];
            int n = 0;
            if (!tb) n = snprintf(msg + used, sizeof msg - used, "%s%s %s", bad ? "; " : "",
                                  pass ? "unexpected" : "missing", a->e[i].name);
            else if (!pass && (ta->dtype != tb->dtype || !hg_shape_eq(ta->shape, tb->shape)))
                n = snprintf(msg + used, sizeof msg - used, "%s%s: stored %s%s vs model %s%s", bad ? "; " : "",
                             a->e[i].name, hg_dtype_name(tb->dtype), hg_shape_str(tb->shape, x, 64),
                             hg_dtype_name(ta->dtype), hg_shape_str(ta->shape, y, 64));
            else continue;
            bad++;
            if (n > 0 && used + (size_t)n < sizeof msg) used += (size_t)n;
        }
    }
    if (bad) return hg_error(HG_ERR_INVALID, "%s does not fit the model (%d differences): %s", path, bad, msg);
    return hg_ok();
}

static hg_status setup(trainer *tr, int64_t *start, int64_t *target) {
    const hg_train_options *o = tr->o;
    if (!o->run_dir || !*o->run_dir) return hg_error(HG_ERR_INVALID, "train: no run directory (--out)");
    if (!o->data_path) return hg_error(HG_ERR_INVALID, "train: no dataset (--data)");
    if (o->steps < 0) return hg_error(HG_ERR_INVALID, "train: --steps %lld < 0", (long long)o->steps);
    if (o->val_every < 0 || o->ckpt_every < 0)
        return hg_error(HG_ERR_INVALID, "train: --val-every and --ckpt-every must be >= 0");
    snprintf(tr->ck_path, sizeof tr->ck_path, "%s/checkpoint.h5", o->run_dir);
    snprintf(tr->metrics_path, sizeof tr->metrics_path, "%s/metrics.csv", o->run_dir);
    int have_ck = access(tr->ck_path, F_OK) == 0;
    if (o->resume && !have_ck)
        return hg_error(HG_ERR_INVALID, "train --resume: %s does not exist (nothing to resume)", tr->ck_path);
    if (!o->resume && have_ck)
        return hg_error(HG_ERR_INVALID,
                        "train: %s already holds a checkpoint; use --resume to continue it, or another --out",
                        o->run_dir);
    if (!o->resume) HG_TRY(hg_output_dir_foreign_check(o->run_dir, "checkpoint.h5"));
    /* config */
    char cpath[HG_PATH_MAX + 32];
    const char *config_path = o->config_path;
    if (!config_path) {
        if (!o->resume) return hg_error(HG_ERR_INVALID, "train: no config (--config)");
        snprintf(cpath, sizeof cpath, "%s/config.yaml", o->run_dir);
        config_path = cpath;
    }
    HG_TRY(hg_config_load(config_path, &tr->cfg));
    tr->yaml = hg_config_to_yaml(&tr->cfg);
    if (!tr->yaml) return hg_error(HG_ERR_NOMEM, "train: config text");
    /* data */
    hg_dataset_init(&tr->ds);
    HG_TRY(hg_dataset_load(o->data_path, &tr->ds));
    hg_pipeline_config pc;
    hg_run_pipeline_config(&tr->cfg, &pc);
    HG_TRY(hg_status_prefix(hg_pipeline_init(&tr->train, &tr->ds, HG_SPLIT_TRAIN, &pc, NULL),
                            "%s vs %s", o->data_path, config_path));
    tr->norm = tr->train.norm;
    tr->norm.box = tr->ds.box_size;
    if (tr->ds.split_n[HG_SPLIT_VAL] > 0) {
        HG_TRY(hg_pipeline_init(&tr->val, &tr->ds, HG_SPLIT_VAL, &pc, &tr->norm));
        tr->have_val = 1;
        tr->val_batch = divisor_at_most(tr->val.n_clouds, tr->cfg.batch_size);
    }
    /* graphs */
    hg_model_opts mo;
    hg_model_opts_default(&mo, &tr->cfg);
    mo.norm = tr->norm;
    hg_graph *ug = NULL;
    if (tr->P > 1) {
        /* data-parallel: this rank's rows through the "grad" graph, the
         * summed gradients through the update graph */
        hg_comm_shard(tr->cfg.batch_size, tr->rank, tr->P, &tr->shard_off, &tr->shard_n);
        if (tr->cfg.batch_size < tr->P)
            return hg_error(HG_ERR_INVALID, "train: training.batch_size %d is smaller than the %d MPI ranks",
                            tr->cfg.batch_size, tr->P);
        mo.batch_total = (int)tr->cfg.batch_size;
        mo.batch_offset = (int)tr->shard_off;
        HG_TRY(hg_model_build(&tr->cfg, "grad", (int)tr->shard_n, HG_F32, &mo, &tr->tm));
        mo.batch_total = mo.batch_offset = 0;
        HG_TRY(hg_model_build_update(&tr->cfg, &tr->tm, &ug));
        hg_status us = hg_program_compile(ug, o->backend, &tr->up);
        if (us.code == HG_OK) us = hg_optim_init_state(ug, &tr->state);
        hg_graph_free(ug);
        HG_TRY(us);
        for (int i = 0; i < tr->tm.mb.n_params; i++) tr->n_grad += hg_shape_numel(tr->tm.mb.params[i].shape);
        tr->fused = malloc(sizeof(float) * (size_t)(tr->n_grad + FUSED_TAIL));
        if (!tr->fused) return hg_error(HG_ERR_NOMEM, "train: allreduce buffer");
    } else {
        HG_TRY(hg_model_build(&tr->cfg, "train", tr->cfg.batch_size, HG_F32, &mo, &tr->tm));
    }
    HG_TRY(hg_program_compile(tr->tm.g, o->backend, &tr->tp));
    if (o->profile) {
        HG_TRY(hg_profile_init_schedule(&tr->prof, hg_program_graph(tr->tp),
                                        hg_program_schedule(tr->tp), 0));
        tr->have_prof = 1;
        hg_exec_hooks hooks = hg_profile_hooks(&tr->prof);
        hg_program_set_hooks(tr->tp, &hooks);
    }
    if (tr->have_val) {
        HG_TRY(hg_model_build(&tr->cfg, "loss", tr->val_batch, HG_F32, &mo, &tr->lm));
        HG_TRY(hg_program_compile(tr->lm.g, o->backend, &tr->lp));
    }
    /* state: fresh initialisation (also the expected layout on resume) */
    HG_TRY(hg_mb_init_params(&tr->tm.mb, (uint32_t)tr->cfg.seed, &tr->state));
    if (tr->P < 2) HG_TRY(hg_optim_init_state(tr->tm.g, &tr->state));
    if (tr->cfg.ema_decay > 0) HG_TRY(hg_ema_init(&tr->tm.mb, &tr->state));
    *start = 0;
    tr->ck_step = -1;
    if (o->resume) {
        hg_checkpoint ck;
        hg_checkpoint_init(&ck);
        hg_status s = hg_checkpoint_load(tr->ck_path, NULL, NULL, &ck);
        if (s.code == HG_OK)
            s = hg_status_prefix(hg_config_compatible(ck.config_yaml ? ck.config_yaml : "", tr->yaml),
                                 "%s vs config %s", tr->ck_path, config_path);
        if (s.code == HG_OK) s = same_layout(tr->ck_path, &ck.state, &tr->state);
        if (s.code == HG_OK && ck.dataset_checksum != tr->ds.checksum)
            s = hg_error(HG_ERR_INVALID,
                         "%s was trained on another dataset (checksum %llu) than %s (checksum %llu)", tr->ck_path,
                         (unsigned long long)ck.dataset_checksum, o->data_path,
                         (unsigned long long)tr->ds.checksum);
        if (s.code == HG_OK) {
            const hg_tensor *k = hg_map_get(&ck.state, "opt/step");
            if (k && (int64_t)hg_tensor_get(k, 0) != ck.step)
                s = hg_error(HG_ERR_FORMAT, "%s: optimiser step %lld differs from checkpoint step %lld", tr->ck_path,
                             (long long)hg_tensor_get(k, 0), (long long)ck.step);
        }
        if (s.code) {
            hg_checkpoint_free(&ck);
            return s;
        }
        hg_map_free(&tr->state);
        tr->state = ck.state;
        hg_map_init(&ck.state);
        *start = ck.step;
        tr->ck_step = ck.step;
        hg_checkpoint_free(&ck);
    }
    *target = o->steps ? o->steps : tr->cfg.n_train_steps;
    if (*target > tr->cfg.n_train_steps)
        return hg_error(HG_ERR_INVALID,
                        "train: --steps %lld exceeds training.n_train_steps %ld of the config: the learning "
                        "rate (SPEC 5 cosine) is 0 from step %ld on; raise n_train_steps instead",
                        (long long)*target, tr->cfg.n_train_steps, tr->cfg.n_train_steps);
    if (*target <= *start)
        return hg_error(HG_ERR_INVALID, "train: target step %lld is not beyond the checkpoint's step %lld",
                        (long long)*target, (long long)*start);
    return hg_ok();
}

/* The run directory's files (rank 0 alone). */
static hg_status setup_files(trainer *tr) {
    const hg_train_options *o = tr->o;
    HG_TRY(hg_mkdirs(o->run_dir, &tr->made));
    /* temporary files of writers killed before their rename */
    HG_TRY(hg_atomic_remove_stale(o->run_dir, NULL));
    char path[HG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", o->run_dir);
    /* --config RUN/config.yaml is kept as given (never rewritten: an input) */
    if ((!o->resume || o->config_path) && !(o->config_path && same_file(o->config_path, path)))
        HG_TRY(write_text(path, tr->yaml));
    if (!o->resume) HG_TRY(write_run_yaml(tr, o->run_dir));
    snprintf(path, sizeof path, "%s/norm.h5", o->run_dir);
    HG_TRY(hg_norm_save(path, &tr->norm));
    if (!o->resume) HG_TRY(save_checkpoint(tr, 0));
    return open_metrics(tr, !o->resume);
}

static hg_status last_good(const trainer *tr, hg_code code, const char *what) {
    if (tr->ck_step >= 0)
        return hg_error(code, "%s; last good checkpoint: %s (step %lld)", what, tr->ck_path,
                        (long long)tr->ck_step);
    return hg_error(code, "%s; no checkpoint was written", what);
}

hg_status hg_train(const hg_train_options *o, hg_train_result *res) {
    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.o = o;
    hg_map_init(&tr.state);
    hg_map_init(&tr.in);
    hg_map_init(&tr.out);
    memset(res, 0, sizeof *res);
    res->last_loss = res->last_val_loss = NAN;
    int64_t step = 0, target = 0;
    tr.comm = o->comm;
    tr.P = o->comm && o->comm->size > 1 ? o->comm->size : 1;
    tr.rank = tr.P > 1 ? o->comm->rank : 0;
    hg_status s = agree(&tr, setup(&tr, &step, &target), "training setup");
    if (s.code == HG_OK && tr.rank == 0) s = setup_files(&tr);
    s = agree(&tr, s, "run directory setup");
    if (s.code == HG_OK && !o->resume) tr.ck_step = 0;
    if (s.code != HG_OK && tr.made.n > 0) {
        /* the run directory is new: remove the files setup wrote, then it */
        if (tr.metrics) fclose(tr.metrics);
        tr.metrics = NULL;
        char files[HG_RUN_MAX_FILES][HG_PATH_MAX];
        int nf = hg_run_files(o->run_dir, files, HG_RUN_MAX_FILES);
        for (int i = 0; i < nf; i++) unlink(files[i]);
        hg_mkdirs_undo(&tr.made);
    }
    hg_mkdirs_keep(&tr.made);
    double t0 = now_s();
    int64_t first = step;
    while (s.code == HG_OK && step < target) {
        if (stopping(&tr)) break;
        hg_batch b;
        memset(&b, 0, sizeof b);
        s = hg_pipeline_train_batch(&tr.train, step, tr.cfg.batch_size, &b);
        int sharded = s.code == HG_OK && tr.P > 1;
        if (sharded) shard_rows(&b, tr.shard_off, tr.shard_n);
        if (s.code == HG_OK) s = feed_batch(&tr.in, &b, tr.cfg.n_cond > 0);
        if (s.code == HG_OK) s = put_i32(&tr.in, "seed", tr.cfg.seed);
        if (s.code == HG_OK) s = put_i32(&tr.in, "step", step);
        if (s.code == HG_OK) s = put_i32(&tr.in, "replica", 0);
        if (tr.have_prof) hg_profile_step_begin(&tr.prof);
        if (s.code == HG_OK) s = hg_program_run(tr.tp, &tr.state, &tr.in, &tr.out);
        if (tr.have_prof) hg_profile_step_end(&tr.prof);
        if (sharded) shard_rows(&b, -tr.shard_off, tr.cfg.batch_size);
        hg_batch_free(&b);
        hg_train_progress p;
        memset(&p, 0, sizeof p);
        if (tr.P > 1) s = dp_update(&tr, s, step, &p);
        /* the EMA follows the parameters this step's update wrote (every rank alike) */
        if (s.code == HG_OK && tr.cfg.ema_decay > 0) s = hg_ema_update(&tr.tm.mb, tr.cfg.ema_decay, &tr.state);
        if (s.code) break;
        if (tr.P < 2) {
            p.loss = out_scalar(&tr.out, "loss");
            p.diff = out_scalar(&tr.out, "loss_diff");
            p.klz = out_scalar(&tr.out, "loss_klz");
            p.recon = out_scalar(&tr.out, "loss_recon");
        }
        p.lr = hg_train_lr(&tr.cfg, step);
        step++;
        if (!isfinite(p.loss)) {
            char what[128];
            snprintf(what, sizeof what, "non-finite loss %g at step %lld", p.loss, (long long)step);
            s = last_good(&tr, HG_ERR_NUMERIC, what);
            break;
        }
        res->last_loss = p.loss;
        p.val_loss = NAN;
        int last = step == target || stopping(&tr);
        if (tr.have_val && ((o->val_every && step % o->val_every == 0) || step == target)) {
            s = validate(&tr, &p.val_loss);
            if (s.code == HG_ERR_INTERRUPTED) {
                /* the step itself is done: its row and a checkpoint follow */
                s = hg_ok();
                p.val_loss = NAN;
                last = 1;
                tr.stop = 1;
            } else if (s.code) {
                break;
            } else {
                res->last_val_loss = p.val_loss;
            }
        }
        p.step = step;
        p.first_step = first;
        p.total = target;
        p.seconds = now_s() - t0;
        p.steps_per_s = p.seconds > 0 ? (double)(step - first) / p.seconds : 0;
        /* the row first: save_checkpoint makes it durable before the
         * checkpoint of this step is committed (metrics and checkpoint
         * agree after any crash; rows after the checkpoint are rewritten
         * on resume) */
        char val[40] = "";
        if (!isnan(p.val_loss)) snprintf(val, sizeof val, "%.9g", p.val_loss);
        if (tr.metrics) {
            fprintf(tr.metrics, "%lld,%.9g,%.9g,%.9g,%.9g,%s,%.9g,%.3f\n", (long long)step, p.loss, p.diff,
                    p.klz, p.recon, val, p.lr, p.seconds);
            fflush(tr.metrics);
        }
        if ((o->ckpt_every && step % o->ckpt_every == 0) || last) {
            const char *bad = NULL;
            if (!state_finite(&tr.state, &bad)) {
                char what[HG_NAME_MAX + 96];
                snprintf(what, sizeof what, "non-finite parameter %s after step %lld", bad, (long long)step);
                s = last_good(&tr, HG_ERR_NUMERIC, what);
                break;
            }
            s = checkpoint_all(&tr, step);
            if (s.code) break;
            p.checkpointed = 1;
        }
        if (o->progress && tr.rank == 0) o->progress(o->user, &p);
    }
    if (s.code == HG_OK && stopping(&tr)) {
        if (tr.ck_step != step) {
            const char *bad = NULL;
            if (!state_finite(&tr.state, &bad)) s = last_good(&tr, HG_ERR_NUMERIC, "non-finite parameters");
            else s = checkpoint_all(&tr, step);
        }
        if (s.code == HG_OK)
            s = hg_error(HG_ERR_INTERRUPTED, "interrupted at step %lld; checkpoint saved: %s", (long long)step,
                         tr.ck_path);
    } else if (s.code == HG_ERR_INTERRUPTED) {
        /* interrupted during validation: the state after `step` is good */
        hg_status s2 = checkpoint_all(&tr, step);
        s = s2.code ? s2
                    : hg_error(HG_ERR_INTERRUPTED, "interrupted at step %lld; checkpoint saved: %s",
                               (long long)step, tr.ck_path);
    }
    res->step = step;
    snprintf(res->checkpoint, sizeof res->checkpoint, "%s", tr.ck_path);
    if (tr.have_prof && step > first) {
        fprintf(o->profile, "\nprofile of the train graph (%lld steps, backend %s)\n", (long long)(step - first),
                hg_program_backend(tr.tp));
        hg_status ps = hg_profile_print(&tr.prof, o->profile, 0, 40);
        if (s.code == HG_OK) s = ps;
    }
    trainer_free(&tr);
    return s;
}
