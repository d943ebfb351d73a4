/* Tests of the drivers (models/drivers.h) and the program executor
 * (runtime/program.h): training lowers the loss, bit-identical resume,
 * interruption and NaN paths, sample shapes/units/ranges, likelihood grids,
 * common random numbers, the 68% interval, bad inputs. A tiny model
 * (configs/tiny-test.yaml) on 4 FastPM clouds x 64 haloes (2 train, 1 val,
 * 1 test). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hg_test.h"
#include "models/drivers.h"

/* ------------------------------------------------------------- fixtures */

/* Writes a 4-simulation x 64-halo dataset (the first clouds of the bundled
 * FastPM set, most massive haloes) to DIR/tiny.h5; returns its path. */
static const char *tiny_dataset(void) {
    static char path[1024];
    if (path[0]) return path;
    char npy[1024], csv[1024], src[1024];
    snprintf(src, sizeof src, "%s/data/fastpm-lh/halos.npy", hg_test_srcdir());
    snprintf(npy, sizeof npy, "%s/tiny_halos.npy", hg_test_tmpdir());
    snprintf(csv, sizeof csv, "%s/tiny_cosmo.csv", hg_test_tmpdir());
    hg_tensor all, sub;
    if (hg_npy_read(src, &all).code) return NULL;
    int64_t S = 4, N = 64, F = all.shape.dim[2], NP = all.shape.dim[1];
    if (hg_tensor_alloc(&sub, HG_F32, hg_shape_of(3, S, N, F)).code) return NULL;
    for (int64_t s = 0; s < S; s++)
        memcpy((float *)sub.data + s * N * F, (float *)all.data + s * NP * F, sizeof(float) * (size_t)(N * F));
    hg_status st = hg_npy_write(npy, &sub);
    hg_tensor_free(&all);
    hg_tensor_free(&sub);
    if (st.code) return NULL;
    FILE *f = fopen(csv, "w");
    fprintf(f, "Omega_m,sigma_8\n0.1755,0.6641\n0.2139,0.8619\n0.3000,0.8000\n0.4149,0.6283\n");
    fclose(f);
    hg_import_options o;
    hg_import_options_default(&o);
    o.halos_path = npy;
    o.cosmology_path = csv;
    o.box_size = 500;
    o.split[0] = 0.5, o.split[1] = 0.25, o.split[2] = 0.25;
    o.seed = 1;
    hg_dataset ds;
    hg_dataset_init(&ds);
    snprintf(path, sizeof path, "%s/tiny.h5", hg_test_tmpdir());
    st = hg_import(&o, &ds);
    if (!st.code) st = hg_dataset_save(path, &ds);
    hg_dataset_free(&ds);
    if (st.code) {
        fprintf(stderr, "tiny dataset: %s\n", st.msg);
        path[0] = 0;
        return NULL;
    }
    return path;
}

/* configs/tiny-test.yaml with `key: old` lines replaced (pairs of
 * "  key: value" strings), written to DIR/NAME; returns the path. */
static const char *tiny_config(const char *name, int n, const char *const *repl) {
    static char out[8][1024];
    static int k;
    char *path = out[k++ % 8];
    char src[1024];
    snprintf(src, sizeof src, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    snprintf(path, 1024, "%s/%s", hg_test_tmpdir(), name);
    FILE *in = fopen(src, "r"), *o = fopen(path, "w");
    if (!in || !o) return NULL;
    char line[512];
    while (fgets(line, sizeof line, in)) {
        int done = 0;
        for (int i = 0; i < n && !done; i++) {
            const char *key = repl[2 * i];
            char *p = line;
            while (*p == ' ') p++;
            if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == ':') {
                fprintf(o, "  %s: %s\n", key, repl[2 * i + 1]);
                done = 1;
            }
        }
        if (!done) fputs(line, o);
    }
    fclose(in);
    fclose(o);
    return path;
}

static const char *run_dir(const char *name) {
    static char out[8][1024];
    static int k;
    char *p = out[k++ % 8];
    snprintf(p, 1024, "%s/%s", hg_test_tmpdir(), name);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd)) return NULL;
    return p;
}

typedef struct {
    double val[64];
    int64_t val_step[64];
    int n_val;
    int64_t stop_at;
    volatile sig_atomic_t *flag;
} capture;

static void cap_progress(void *user, const hg_train_progress *p) {
    capture *c = user;
    if (!isnan(p->val_loss) && c->n_val < 64) {
        c->val_step[c->n_val] = p->step;
        c->val[c->n_val++] = p->val_loss;
    }
    if (c->flag && p->step == c->stop_at) *c->flag = 1;
}

/* Trains cfg in dir on `backend` (NULL: the default) to `steps`. */
static hg_status train_tiny_on(const char *backend, const char *cfg, const char *data, const char *dir,
                               int64_t steps, int resume, capture *cap, hg_train_result *res) {
    hg_train_options o;
    hg_train_options_default(&o);
    o.backend = backend;
    o.config_path = cfg;
    o.data_path = data;
    o.run_dir = dir;
    o.steps = steps;
    o.resume = resume;
    o.val_every = 4;
    o.ckpt_every = 4;
    if (cap) {
        o.progress = cap_progress;
        o.user = cap;
        o.interrupt = cap->flag;
    }
    return hg_train(&o, res);
}

static hg_status train_tiny(const char *cfg, const char *data, const char *dir, int64_t steps, int resume,
                            capture *cap, hg_train_result *res) {
    return train_tiny_on(NULL, cfg, data, dir, steps, resume, cap, res);
}

/* ------------------------------------------------------------- training */

HG_TEST(train_lowers_validation_loss) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    const char *dir = run_dir("run_lower");
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    capture cap;
    memset(&cap, 0, sizeof cap);
    hg_train_result res;
    HG_CHECK_OK(train_tiny(cfgp, data, dir, 40, 0, &cap, &res));
    HG_CHECK(res.step == 40);
    HG_CHECK(cap.n_val == 10);
    HG_CHECK(cap.val_step[0] == 4 && cap.val_step[9] == 40);
    /* the validation loss uses fixed noise: comparable across steps */
    fprintf(stderr, "val loss: step 4 %g, step 40 %g\n", cap.val[0], cap.val[9]);
    HG_CHECK(cap.val[9] < cap.val[0]);
    /* run directory contents */
    char p[1200];
    const char *files[] = {"checkpoint.h5", "config.yaml", "run.yaml", "norm.h5", "metrics.csv"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        HG_CHECK(access(p, F_OK) == 0);
    }
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    hg_table t;
    /* val_loss is empty on most rows: count lines and check the header */
    FILE *f = fopen(p, "r");
    char line[512];
    HG_CHECK(fgets(line, sizeof line, f) != NULL);
    HG_CHECK(!strcmp(line, "step,loss,loss_diff,loss_klz,loss_recon,val_loss,lr,seconds\n"));
    int rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    HG_CHECK(rows == 40);
    (void)t;
    /* the run opens, at step 40, with the dataset's box */
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    HG_CHECK(r.step == 40);
    HG_CHECK(r.norm.box == 500.0);
    HG_CHECK(r.cfg.n_particles == 64);
    hg_run_free(&r);
}

/* Every tensor of two checkpoints is bitwise equal. */
static int same_checkpoints(const char *a, const char *b, char *why, size_t n) {
    hg_checkpoint ca, cb;
    hg_checkpoint_init(&ca);
    hg_checkpoint_init(&cb);
    int ok = !hg_checkpoint_load(a, NULL, NULL, &ca).code && !hg_checkpoint_load(b, NULL, NULL, &cb).code;
    if (!ok) snprintf(why, n, "load failed");
    ok = ok && ca.step == cb.step && ca.state.n == cb.state.n;
    if (!ok && !why[0]) snprintf(why, n, "step %lld vs %lld / count", (long long)ca.step, (long long)cb.step);
    for (int i = 0; ok && i < ca.state.n; i++) {
        const hg_tensor *ta = &ca.state.e[i].t, *tb = hg_map_get(&cb.state, ca.state.e[i].name);
        ok = tb && ta->dtype == tb->dtype && hg_shape_eq(ta->shape, tb->shape) &&
             !memcmp(ta->data, tb->data, hg_tensor_bytes(ta));
        if (!ok) snprintf(why, n, "tensor %s differs", ca.state.e[i].name);
    }
    hg_checkpoint_free(&ca);
    hg_checkpoint_free(&cb);
    return ok;
}

/* metrics.csv without the seconds column. */
static char *metrics_wo_time(const char *dir) {
    char p[1200], line[512];
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    FILE *f = fopen(p, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    while (fgets(line, sizeof line, f)) {
        char *last = strrchr(line, ',');
        if (last) *last = 0;
        strcat(buf, line);
        strcat(buf, "\n");
    }
    fclose(f);
    return buf;
}

/* Trains cfg to `steps` in dir, interrupted (as by Ctrl-C) after step
 * stop_at; returns the interrupted call's status. */
static hg_status train_interrupted_on(const char *backend, const char *cfg, const char *data,
                                      const char *dir, int64_t steps, int64_t stop_at,
                                      hg_train_result *res) {
    volatile sig_atomic_t flag = 0;
    capture cap;
    memset(&cap, 0, sizeof cap);
    cap.flag = &flag;
    cap.stop_at = stop_at;
    return train_tiny_on(backend, cfg, data, dir, steps, 0, &cap, res);
}

static hg_status train_interrupted(const char *cfg, const char *data, const char *dir, int64_t steps,
                                   int64_t stop_at, hg_train_result *res) {
    return train_interrupted_on(NULL, cfg, data, dir, steps, stop_at, res);
}

HG_TEST(resume_is_bit_identical) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    const char *a = run_dir("run_straight"), *b = run_dir("run_interrupted");
    hg_train_result res;
    HG_CHECK_OK(train_tiny(cfgp, data, a, 14, 0, NULL, &res));
    /* interrupted after step 7 (between checkpoints 4 and 8), then resumed */
    hg_status s = train_interrupted(cfgp, data, b, 14, 7, &res);
    HG_CHECK(s.code == HG_ERR_INTERRUPTED);
    HG_CHECK(strstr(s.msg, "step 7") && strstr(s.msg, "checkpoint.h5"));
    HG_CHECK(res.step == 7);
    /* the interrupted run's checkpoint is loadable and at step 7 */
    hg_run r;
    HG_CHECK_OK(hg_run_open(b, &r));
    HG_CHECK(r.step == 7);
    hg_run_free(&r);
    HG_CHECK_OK(train_tiny(NULL, data, b, 14, 1, NULL, &res));
    HG_CHECK(res.step == 14);
    char pa[1200], pb[1200], why[256] = "";
    snprintf(pa, sizeof pa, "%s/checkpoint.h5", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.h5", b);
    if (!same_checkpoints(pa, pb, why, sizeof why)) HG_FAIL("checkpoints differ: %s", why);
    char *ma = metrics_wo_time(a), *mb = metrics_wo_time(b);
    HG_CHECK(ma && mb);
    if (strcmp(ma, mb)) HG_FAIL("metrics differ:\n%s\nvs\n%s", ma, mb);
    free(ma);
    free(mb);
    /* a different seed gives different parameters (the comparison can fail) */
    const char *rp[] = {"seed", "53"};
    const char *cfg53 = tiny_config("seed53.yaml", 1, rp);
    const char *c = run_dir("run_seed53");
    HG_CHECK_OK(train_tiny(cfg53, data, c, 14, 0, NULL, &res));
    snprintf(pb, sizeof pb, "%s/checkpoint.h5", c);
    why[0] = 0;
    HG_CHECK(!same_checkpoints(pa, pb, why, sizeof why));
}

/* `train --resume` on each backend named explicitly, for both score
 * kinds: 12 steps straight on 2 threads equal 6 steps on 1 thread
 * (interrupted) then 6 resumed on 2 threads, bit for bit (checkpoint
 * tensors and metrics.csv but its seconds column); the jit backend's
 * fusion groups (random draws of the noise inside LOOP kernels, oneDNN
 * post-ops) must not depend on the thread count or on where the run was
 * cut. */
static void resume_on(const char *backend, const char *kind) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    const char *rp[] = {"kind", kind};
    char name[64];
    snprintf(name, sizeof name, "resume-%s-%s.yaml", backend, kind);
    const char *cfg = tiny_config(name, 1, rp);
    HG_CHECK(cfg);
    char da[256], db[256];
    snprintf(da, sizeof da, "run_rs_%s_%s_a", backend, kind);
    snprintf(db, sizeof db, "run_rs_%s_%s_b", backend, kind);
    const char *a = run_dir(da), *b = run_dir(db);
    int nt = omp_get_max_threads();
    hg_train_result res;
    omp_set_num_threads(2);
    HG_CHECK_OK(train_tiny_on(backend, cfg, data, a, 12, 0, NULL, &res));
    omp_set_num_threads(1);
    hg_status s = train_interrupted_on(backend, cfg, data, b, 12, 6, &res);
    HG_CHECK(s.code == HG_ERR_INTERRUPTED && res.step == 6);
    omp_set_num_threads(2);
    HG_CHECK_OK(train_tiny_on(backend, NULL, data, b, 12, 1, NULL, &res));
    omp_set_num_threads(nt);
    HG_CHECK(res.step == 12);
    char pa[1200], pb[1200], why[256] = "";
    snprintf(pa, sizeof pa, "%s/checkpoint.h5", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.h5", b);
    if (!same_checkpoints(pa, pb, why, sizeof why))
        HG_FAIL("%s %s: checkpoints differ: %s", backend, kind, why);
    char *ma = metrics_wo_time(a), *mb = metrics_wo_time(b);
    HG_CHECK(ma && mb);
    if (ma && mb && strcmp(ma, mb)) HG_FAIL("%s %s: metrics differ:\n%s\nvs\n%s", backend, kind, ma, mb);
    free(ma);
    free(mb);
}

HG_TEST(resume_is_bit_identical_on_every_backend) {
    const char *be[] = {"ref", "fast", "jit"};
    for (int i = 0; i < 3; i++) resume_on(be[i], "transformer");
    resume_on("jit", "graph");
}

/* ------------------------------------------------- EMA (training.ema_decay) */

/* The state of RUN/checkpoint.h5 (loaded; caller frees). */
static void load_state(const char *dir, hg_checkpoint *ck) {
    char p[1200];
    snprintf(p, sizeof p, "%s/checkpoint.h5", dir);
    hg_checkpoint_init(ck);
    hg_status s = hg_checkpoint_load(p, NULL, NULL, ck);
    if (s.code) fprintf(stderr, "load %s: %s\n", p, s.msg);
}

HG_TEST(ema_matches_hand_computation_over_three_steps) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    const char *rp[] = {"ema_decay", "0.9"};
    const char *cfg = tiny_config("ema.yaml", 1, rp);
    const double d = 0.9;
    /* p_0: the initial parameters of the config's seed */
    hg_config c;
    HG_CHECK_OK(hg_config_load(cfg, &c));
    HG_CHECK(c.ema_decay == 0.9);
    hg_model_opts mo;
    hg_model_opts_default(&mo, &c);
    hg_model m;
    HG_CHECK_OK(hg_model_build(&c, "loss", 1, HG_F32, &mo, &m));
    hg_tensor_map p0;
    hg_map_init(&p0);
    HG_CHECK_OK(hg_mb_init_params(&m.mb, (uint32_t)c.seed, &p0));
    /* p_1, p_2, p_3 and ema_3: three one-step pieces */
    const char *dir = run_dir("run_ema3");
    hg_train_result res;
    hg_checkpoint ck[3];
    for (int k = 1; k <= 3; k++) {
        HG_CHECK_OK(train_tiny(k == 1 ? cfg : NULL, data, dir, k, k > 1, NULL, &res));
        load_state(dir, &ck[k - 1]);
        HG_CHECK(ck[k - 1].step == k);
    }
    /* ema_3 = d^3 p0 + d^2 (1-d) p1 + d (1-d) p2 + (1-d) p3, and
     * ema_1 = d p0 + (1-d) p1 */
    double w[4] = {d * d * d, d * d * (1 - d), d * (1 - d), 1 - d};
    int64_t checked = 0, moved = 0;
    for (int i = 0; i < m.mb.n_params; i++) {
        const char *path = m.mb.params[i].path;
        char en[HG_NAME_MAX + 8];
        snprintf(en, sizeof en, "ema/%s", path);
        const hg_tensor *a = hg_map_get(&p0, path), *e1 = hg_map_get(&ck[0].state, en),
                        *e3 = hg_map_get(&ck[2].state, en);
        const hg_tensor *ps[4] = {a, hg_map_get(&ck[0].state, path), hg_map_get(&ck[1].state, path),
                                  hg_map_get(&ck[2].state, path)};
        HG_CHECK(a && e1 && e3 && ps[1] && ps[2] && ps[3]);
        int64_t n = hg_shape_numel(a->shape);
        for (int64_t j = 0; j < n; j++) {
            double want3 = 0, want1 = d * hg_tensor_get(ps[0], j) + (1 - d) * hg_tensor_get(ps[1], j);
            for (int k = 0; k < 4; k++) want3 += w[k] * hg_tensor_get(ps[k], j);
            double got3 = hg_tensor_get(e3, j), got1 = hg_tensor_get(e1, j);
            double tol = 1e-6 * (1 + fabs(want3));
            if (fabs(got3 - want3) > tol || fabs(got1 - want1) > tol)
                HG_FAIL("%s[%lld]: ema_1 %.9g vs %.9g, ema_3 %.9g vs %.9g", path, (long long)j, got1, want1, got3,
                        want3);
            /* the comparison can fail: the parameters moved, so ema_3 is neither p_0 nor p_3 */
            if (fabs(hg_tensor_get(ps[3], j) - hg_tensor_get(ps[0], j)) > 100 * tol) moved++;
            checked++;
        }
    }
    HG_CHECK(checked == hg_mb_param_count(&m.mb));
    HG_CHECK(moved > checked / 10);
    /* the run's readers use the EMA weights */
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    HG_CHECK(r.ema == 1);
    for (int i = 0; i < m.mb.n_params; i++) {
        char en[HG_NAME_MAX + 8];
        snprintf(en, sizeof en, "ema/%s", m.mb.params[i].path);
        const hg_tensor *pr = hg_map_get(&r.state, m.mb.params[i].path), *e3 = hg_map_get(&ck[2].state, en);
        HG_CHECK(pr && e3 && !memcmp(pr->data, e3->data, hg_tensor_bytes(e3)));
    }
    hg_run_free(&r);
    for (int k = 0; k < 3; k++) hg_checkpoint_free(&ck[k]);
    hg_map_free(&p0);
    hg_model_free(&m);
}

HG_TEST(ema_resume_is_bit_identical_and_off_by_default) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    const char *rp[] = {"ema_decay", "0.99"};
    const char *cfg = tiny_config("ema99.yaml", 1, rp);
    const char *a = run_dir("run_ema_straight"), *b = run_dir("run_ema_pieces");
    hg_train_result res;
    HG_CHECK_OK(train_tiny(cfg, data, a, 10, 0, NULL, &res));
    /* interrupted after step 5 (between checkpoints 4 and 8), then resumed */
    HG_CHECK(train_interrupted(cfg, data, b, 10, 5, &res).code == HG_ERR_INTERRUPTED);
    HG_CHECK_OK(train_tiny(NULL, data, b, 10, 1, NULL, &res));
    char pa[1200], pb[1200], why[256] = "";
    snprintf(pa, sizeof pa, "%s/checkpoint.h5", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.h5", b);
    if (!same_checkpoints(pa, pb, why, sizeof why)) HG_FAIL("checkpoints differ: %s", why);
    hg_checkpoint ck;
    load_state(a, &ck);
    int n_ema = 0;
    for (int i = 0; i < ck.state.n; i++) n_ema += !strncmp(ck.state.e[i].name, "ema/", 4);
    HG_CHECK(n_ema > 0);
    hg_checkpoint_free(&ck);
    /* off (the config's default 0): no ema/ tensors, the readers use the raw parameters */
    char cfg0[1024];
    snprintf(cfg0, sizeof cfg0, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    const char *c0 = run_dir("run_ema_off");
    HG_CHECK_OK(train_tiny(cfg0, data, c0, 2, 0, NULL, &res));
    load_state(c0, &ck);
    for (int i = 0; i < ck.state.n; i++) HG_CHECK(strncmp(ck.state.e[i].name, "ema/", 4));
    hg_run r;
    HG_CHECK_OK(hg_run_open(c0, &r));
    HG_CHECK(r.ema == 0);
    hg_run_free(&r);
    hg_checkpoint_free(&ck);
    /* resuming an EMA-less checkpoint with EMA on is refused by name */
    hg_status s = train_tiny(cfg, data, c0, 4, 1, NULL, &res);
    HG_CHECK_ERR(s, "ema/");
    /* out of range */
    const char *bad[] = {"ema_decay", "1.0"};
    hg_config c;
    HG_CHECK_ERR(hg_config_load(tiny_config("ema_bad.yaml", 1, bad), &c), "training.ema_decay");
}

HG_TEST(nan_loss_names_step_and_checkpoint) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    const char *rp[] = {"learning_rate", "1.0e+30", "warmup_steps", "1"};
    const char *cfg = tiny_config("nan.yaml", 2, rp);
    const char *dir = run_dir("run_nan");
    hg_train_result res;
    hg_train_options o;
    hg_train_options_default(&o);
    o.config_path = cfg;
    o.data_path = data;
    o.run_dir = dir;
    o.steps = 20;
    o.ckpt_every = 100;
    o.val_every = 0;
    hg_status s = hg_train(&o, &res);
    HG_CHECK(s.code == HG_ERR_NUMERIC);
    fprintf(stderr, "%s\n", s.msg);
    HG_CHECK(strstr(s.msg, "non-finite") && strstr(s.msg, "at step") ? 1 : strstr(s.msg, "after step") != NULL);
    HG_CHECK(strstr(s.msg, "last good checkpoint") && strstr(s.msg, "checkpoint.h5 (step 0)"));
    /* the named checkpoint is the good one: finite and at step 0 */
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    HG_CHECK(r.step == 0);
    hg_run_free(&r);
}

HG_TEST(train_bad_inputs) {
    const char *data = tiny_dataset();
    HG_CHECK(data);
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    const char *dir = run_dir("run_bad");
    hg_train_result res;
    HG_CHECK_ERR(train_tiny(NULL, data, dir, 2, 1, NULL, &res), "nothing to resume");
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/no-such.h5", hg_test_tmpdir());
    HG_CHECK_ERR(train_tiny(cfgp, missing, dir, 2, 0, NULL, &res), "no-such.h5");
    HG_CHECK_ERR(train_tiny(cfgp, cfgp, dir, 2, 0, NULL, &res), "tiny-test.yaml"); /* not HDF5 */
    HG_CHECK_ERR(train_tiny(data, data, dir, 2, 0, NULL, &res), "tiny.h5");         /* not YAML */
    HG_CHECK_OK(train_tiny(cfgp, data, dir, 2, 0, NULL, &res));
    HG_CHECK_ERR(train_tiny(cfgp, data, dir, 4, 0, NULL, &res), "--resume");       /* fresh into a run */
    HG_CHECK_ERR(train_tiny(NULL, data, dir, 2, 1, NULL, &res), "not beyond");     /* target <= step */
    const char *rp[] = {"d_model", "32"};
    const char *other = tiny_config("wide.yaml", 1, rp);
    HG_CHECK_ERR(train_tiny(other, data, dir, 4, 1, NULL, &res), "score.d_model"); /* incompatible */
    hg_train_options o;
    hg_train_options_default(&o);
    o.config_path = cfgp;
    o.data_path = data;
    o.run_dir = run_dir("run_bad_backend");
    o.backend = "nosuch";
    HG_CHECK_ERR(hg_train(&o, &res), "available: ref");
}

/* ------------------------------------------------------------- sampling */

/* A run trained for 2 steps (fast), shared by the tests below. */
static const char *small_run(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    const char *data = tiny_dataset();
    if (!data) return NULL;
    char cfgp[1024];
    snprintf(cfgp, sizeof cfgp, "%s/configs/tiny-test.yaml", hg_test_srcdir());
    snprintf(dir, sizeof dir, "%s", run_dir("run_small"));
    hg_train_result res;
    hg_status s = train_tiny(cfgp, data, dir, 3, 0, NULL, &res);
    if (s.code) {
        fprintf(stderr, "small run: %s\n", s.msg);
        dir[0] = 0;
        return NULL;
    }
    return dir;
}

HG_TEST(sample_shapes_units_ranges) {
    const char *dir = small_run();
    HG_CHECK(dir);
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    float cond[3 * 2] = {0.3f, 0.8f, 0.2f, 0.7f, 0.4f, 0.9f};
    hg_sample_options o;
    memset(&o, 0, sizeof o);
    o.n = 3;
    o.steps = 4;
    o.batch = 2; /* one full chunk and a remainder of 1 */
    o.seed = 7;
    o.cond = cond;
    hg_tensor x, y;
    HG_CHECK_OK(hg_sample_generate(&r, &o, &x));
    HG_CHECK(x.shape.rank == 3 && x.shape.dim[0] == 3 && x.shape.dim[1] == 64 && x.shape.dim[2] == 7);
    const float *v = x.data;
    double mmin = 1e300, mmax = 0;
    for (int64_t i = 0; i < 3 * 64; i++) {
        for (int f = 0; f < 3; f++) HG_CHECK(v[i * 7 + f] >= 0.0f && v[i * 7 + f] < 500.0f);
        for (int f = 3; f < 6; f++) HG_CHECK(isfinite(v[i * 7 + f]) && fabsf(v[i * 7 + f]) < 1e5f);
        mmin = fmin(mmin, v[i * 7 + 6]);
        mmax = fmax(mmax, v[i * 7 + 6]);
    }
    /* linear mass in Msun/h: the bundled haloes have log10 M in 13.6..15.9 */
    fprintf(stderr, "mass range %g .. %g\n", mmin, mmax);
    HG_CHECK(mmin > 1e11 && mmax < 1e18);
    /* same seed: the same clouds; another seed: different ones */
    HG_CHECK_OK(hg_sample_generate(&r, &o, &y));
    HG_CHECK(!memcmp(x.data, y.data, hg_tensor_bytes(&x)));
    hg_tensor_free(&y);
    o.seed = 8;
    HG_CHECK_OK(hg_sample_generate(&r, &o, &y));
    HG_CHECK(memcmp(x.data, y.data, hg_tensor_bytes(&x)) != 0);
    hg_tensor_free(&y);
    /* the file: written atomically, no temp left behind */
    char path[1200];
    snprintf(path, sizeof path, "%s/s.h5", hg_test_tmpdir());
    int32_t sims[3] = {-1, -1, -1};
    o.seed = 7;
    HG_CHECK_OK(hg_sample_save(path, &r, &o, &x, sims, "test"));
    HG_CHECK(access(path, F_OK) == 0);
    /* bad options */
    o.steps = 0;
    HG_CHECK_ERR(hg_sample_generate(&r, &o, &y), "--steps");
    o.steps = 2;
    o.n = 0;
    HG_CHECK_ERR(hg_sample_generate(&r, &o, &y), "--n");
    o.n = 3;
    o.cond = NULL;
    HG_CHECK_ERR(hg_sample_generate(&r, &o, &y), "conditioning");
    char nodir[1200];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/s.h5", hg_test_tmpdir());
    o.cond = cond;
    HG_CHECK_ERR(hg_sample_save(nodir, &r, &o, &x, sims, "x"), "cannot create");
    hg_tensor_free(&x);
    hg_run_free(&r);
}

HG_TEST(parse_cond_and_data_split) {
    hg_config c;
    hg_config_default(&c);
    double v[HG_MAX_COND];
    HG_CHECK_OK(hg_parse_cond("Omega_m=0.3,sigma_8=0.81", &c, v));
    HG_CHECK(v[0] == 0.3 && v[1] == 0.81);
    HG_CHECK_OK(hg_parse_cond("sigma_8=0.7, Omega_m=0.25", &c, v));
    HG_CHECK(v[0] == 0.25 && v[1] == 0.7);
    HG_CHECK_ERR(hg_parse_cond("Omega_m=0.3", &c, v), "no value for sigma_8");
    HG_CHECK_ERR(hg_parse_cond("Omega_m=0.3,sigma_8=0.8,h=0.7", &c, v), "'h' is not a conditioning");
    HG_CHECK_ERR(hg_parse_cond("Omega_m=0.3,Omega_m=0.2", &c, v), "twice");
    HG_CHECK_ERR(hg_parse_cond("Omega_m=abc,sigma_8=0.8", &c, v), "not a finite number");
    HG_CHECK_ERR(hg_parse_cond("Omega_m,sigma_8=0.8", &c, v), "NAME=VALUE");
    char p[256];
    hg_split sp;
    HG_CHECK_OK(hg_parse_data_split("a/b:c.h5:test", p, sizeof p, &sp));
    HG_CHECK(!strcmp(p, "a/b:c.h5") && sp == HG_SPLIT_TEST);
    HG_CHECK_ERR(hg_parse_data_split("d.h5", p, sizeof p, &sp), "DATA.h5:SPLIT");
    HG_CHECK_ERR(hg_parse_data_split("d.h5:tests", p, sizeof p, &sp), "unknown split");
}

/* ----------------------------------------------------------- likelihood */

HG_TEST(grid_parsing) {
    double lo, hi;
    int n;
    HG_CHECK_OK(hg_parse_grid("0.1:0.5:30", &lo, &hi, &n));
    HG_CHECK(lo == 0.1 && hi == 0.5 && n == 30);
    HG_CHECK_OK(hg_parse_grid("-1:2e-1:2", &lo, &hi, &n));
    HG_CHECK(lo == -1 && hi == 0.2 && n == 2);
    HG_CHECK_ERR(hg_parse_grid("0.5:0.1:3", &lo, &hi, &n), "below");
    HG_CHECK_ERR(hg_parse_grid("0.1:0.5:1", &lo, &hi, &n), "N = 1");
    HG_CHECK_ERR(hg_parse_grid("0.1:0.5", &lo, &hi, &n), "LO:HI:N");
    HG_CHECK_ERR(hg_parse_grid("0.1:0.5:3:4", &lo, &hi, &n), "LO:HI:N");
    HG_CHECK_ERR(hg_parse_grid("a:0.5:3", &lo, &hi, &n), "LO:HI:N");
    HG_CHECK_ERR(hg_parse_grid("0.1:0.5:3.5", &lo, &hi, &n), "LO:HI:N");
    HG_CHECK_ERR(hg_parse_grid("0.1:inf:3", &lo, &hi, &n), "LO:HI:N");
    HG_CHECK(hg_default_grid("Omega_m", &lo, &hi, &n) == 0 && lo == 0.1 && hi == 0.5 && n == 30);
    HG_CHECK(hg_default_grid("sigma_8", &lo, &hi, &n) == 0 && lo == 0.6 && hi == 1.0 && n == 30);
    HG_CHECK(hg_default_grid("h", &lo, &hi, &n) == -1);
}

HG_TEST(interval_of_parabola) {
    /* coarse grid, worked by hand: d = 2 (logl - max) = -4, -0.5, 0, -0.5, -4;
     * lo = 0 + (-0.989 + 4) / 3.5, hi = 3 + (0.989 - 0.5) / 3.5 */
    double g[5] = {0, 1, 2, 3, 4}, l[5] = {-2, -0.25, 0, -0.25, -2};
    hg_interval iv;
    HG_CHECK_OK(hg_profile_interval(g, l, 5, &iv));
    HG_CHECK(iv.best_index == 2 && iv.best == 2 && iv.max_logl == 0);
    HG_CHECK_NEAR(iv.lo, 3.011 / 3.5, 1e-12);
    HG_CHECK_NEAR(iv.hi, 3 + 0.489 / 3.5, 1e-12);
    HG_CHECK(!iv.lo_open && !iv.hi_open);
    /* a fine parabola logl = -(t - 0.3)^2 / (2 0.05^2) - 17: interval
     * 0.3 -+ 0.05 sqrt(0.989) within the interpolation error */
    double G[401], L[401];
    for (int i = 0; i < 401; i++) {
        G[i] = 0.1 + 0.4 * i / 400.0;
        L[i] = -(G[i] - 0.3) * (G[i] - 0.3) / (2 * 0.0025) - 17;
    }
    HG_CHECK_OK(hg_profile_interval(G, L, 401, &iv));
    HG_CHECK_NEAR(iv.best, 0.3, 1e-12);
    HG_CHECK_NEAR(iv.lo, 0.3 - 0.05 * sqrt(0.989), 2e-5);
    HG_CHECK_NEAR(iv.hi, 0.3 + 0.05 * sqrt(0.989), 2e-5);
    /* monotone profile: the interval reaches the grid edge */
    double m[4] = {0, -0.1, -0.2, -3};
    HG_CHECK_OK(hg_profile_interval(g, m, 4, &iv));
    HG_CHECK(iv.best_index == 0 && iv.lo_open && iv.lo == 0 && !iv.hi_open);
    HG_CHECK_NEAR(iv.hi, 2 + (0.989 - 0.4) / (6 - 0.4), 1e-12);
    double bad[2] = {0, NAN};
    HG_CHECK_ERR(hg_profile_interval(g, bad, 2, &iv), "log-likelihood");
    double dec[2] = {1, 0};
    HG_CHECK_ERR(hg_profile_interval(dec, l, 2, &iv), "not increasing");
}

/* The cloud of the test split, standardised, from a pipeline. */
static hg_status test_cloud(const hg_run *r, hg_pipeline *pl, hg_batch *b) {
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_TRY(hg_dataset_load(tiny_dataset(), &ds));
    hg_pipeline_config pc;
    hg_run_pipeline_config(&r->cfg, &pc);
    hg_status s = hg_pipeline_init(pl, &ds, HG_SPLIT_TEST, &pc, &r->norm);
    hg_dataset_free(&ds);
    if (s.code == HG_OK) s = hg_pipeline_eval_batch(pl, 0, 1, b);
    return s;
}

HG_TEST(profile_common_random_numbers) {
    const char *dir = small_run();
    HG_CHECK(dir);
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    hg_pipeline pl;
    hg_batch b;
    memset(&b, 0, sizeof b);
    HG_CHECK_OK(test_cloud(&r, &pl, &b));
    hg_nelbo_options o;
    hg_nelbo_options_default(&o);
    o.steps = 4;
    o.replicas = 2;
    o.terms_per_call = 2; /* two chunk calls per grid point */
    double grid[4] = {0.1, 0.2, 0.3, 0.4}, l[4], rep[8];
    /* the trained model depends on Omega_m: the profile is not flat */
    HG_CHECK_OK(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, grid, 4, &o, l, rep));
    HG_CHECK(l[0] != l[3]);
    HG_CHECK(rep[0] != rep[1]); /* replicas draw different noise */
    HG_CHECK_NEAR(l[2], 0.5 * (rep[4] + rep[5]), 1e-9 * fabs(l[2]));
    /* the same theta twice: identical (common random numbers) */
    double same[2] = {0.25, 0.25}, ls[2], rs[4];
    HG_CHECK_OK(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, same, 2, &o, ls, rs));
    HG_CHECK(ls[0] == ls[1] && rs[0] == rs[2] && rs[1] == rs[3]);
    /* a model that ignores the conditioning (zero embedding kernel): exactly flat */
    int zeroed = 0;
    for (int i = 0; i < r.state.n; i++)
        if (!strncmp(r.state.e[i].name, "cond_embed/", 11) && strstr(r.state.e[i].name, "kernel")) {
            memset(r.state.e[i].t.data, 0, hg_tensor_bytes(&r.state.e[i].t));
            zeroed++;
        }
    HG_CHECK(zeroed == 1);
    HG_CHECK_OK(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, grid, 4, &o, l, rep));
    for (int g = 1; g < 4; g++) HG_CHECK(l[g] == l[0]);
    for (int g = 1; g < 4; g++) HG_CHECK(rep[2 * g] == rep[0] && rep[2 * g + 1] == rep[1]);
    /* bad options */
    o.terms_per_call = 3;
    HG_CHECK_ERR(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, grid, 4, &o, l, rep), "divide");
    o.terms_per_call = 0;
    o.replicas = 0;
    HG_CHECK_ERR(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, grid, 4, &o, l, rep), "replicas");
    o.replicas = 2;
    HG_CHECK_ERR(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 5, grid, 4, &o, l, rep), "parameter");
    hg_batch_free(&b);
    hg_pipeline_free(&pl);
    hg_run_free(&r);
}

HG_TEST(nelbo_of_split) {
    const char *dir = small_run();
    HG_CHECK(dir);
    hg_run r;
    HG_CHECK_OK(hg_run_open(dir, &r));
    hg_pipeline pl;
    hg_batch b;
    memset(&b, 0, sizeof b);
    HG_CHECK_OK(test_cloud(&r, &pl, &b));
    hg_nelbo_options o;
    hg_nelbo_options_default(&o);
    o.steps = 4;
    o.replicas = 2;
    double nel[1], parts[3], rep[2];
    HG_CHECK_OK(hg_nelbo_split(&r, &pl, &o, nel, parts, rep));
    HG_CHECK(isfinite(nel[0]));
    HG_CHECK_NEAR(nel[0], 0.5 * (rep[0] + rep[1]), 1e-9 * fabs(nel[0]));
    HG_CHECK_NEAR(nel[0], parts[0] + parts[1] + parts[2], 1e-6 * fabs(nel[0]));
    /* the profile at the true conditioning with one replica (batch row 0,
     * replica input 0: the noise of nelbo_split's replica 0) gives -NELBO */
    double th[1] = {((float *)b.cond.data)[0]}, l[1], lr[1];
    o.terms_per_call = 4;
    o.replicas = 1;
    HG_CHECK_OK(hg_likelihood_profile(&r, b.x.data, b.mask.data, b.cond.data, 0, th, 1, &o, l, lr));
    HG_CHECK(-lr[0] == rep[0] && l[0] == lr[0]);
    hg_batch_free(&b);
    hg_pipeline_free(&pl);
    hg_run_free(&r);
}

/* ---------------------------------------------------------------- runs */

HG_TEST(run_open_bad_inputs) {
    hg_run r;
    char p[1200];
    snprintf(p, sizeof p, "%s/no-such-run", hg_test_tmpdir());
    HG_CHECK_ERR(hg_run_open(p, &r), "no-such-run");
    hg_run_free(&r);
    const char *empty = run_dir("empty_run");
    mkdir(empty, 0755);
    HG_CHECK_ERR(hg_run_open(empty, &r), "not a training run directory");
    hg_run_free(&r);
    /* a copy of a run whose config.yaml disagrees with its checkpoint */
    const char *dir = small_run();
    HG_CHECK(dir);
    const char *copy = run_dir("run_copy");
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", dir, copy);
    HG_CHECK(system(cmd) == 0);
    const char *rp[] = {"n_heads", "4"};
    const char *other = tiny_config("heads.yaml", 1, rp);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/config.yaml'", other, copy);
    HG_CHECK(system(cmd) == 0);
    HG_CHECK_ERR(hg_run_open(copy, &r), "score.n_heads");
    hg_run_free(&r);
    /* a checkpoint that is not one */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/checkpoint.h5'", other, copy);
    HG_CHECK(system(cmd) == 0);
    HG_CHECK_ERR(hg_run_open(copy, &r), "checkpoint.h5");
    hg_run_free(&r);
}

/* ------------------------------------------------------------- program */

HG_TEST(program_backends) {
    hg_graph *g = hg_graph_new();
    hg_value x = hg_input(g, "x", HG_F32, hg_shape_of(1, (int64_t)3));
    hg_value s = hg_state(g, "w", HG_F32, hg_shape_of(1, (int64_t)3));
    hg_value y = hg_add(g, x, s);
    hg_set_output(g, "y", y);
    hg_set_update(g, s, y);
    hg_program *p = NULL;
    HG_CHECK_ERR(hg_program_compile(g, "nosuch", &p), "unknown backend 'nosuch' (available: ref,fast,jit)");
    HG_CHECK(p == NULL);
    HG_CHECK_OK(hg_program_compile(g, NULL, &p));
    HG_CHECK(!strcmp(hg_program_backend(p), "jit"));
    hg_graph_free(g); /* the program holds its own copy */
    hg_tensor_map st, in, out;
    hg_map_init(&st);
    hg_map_init(&in);
    hg_map_init(&out);
    hg_tensor *t;
    HG_CHECK_OK(hg_map_alloc(&in, "x", HG_F32, hg_shape_of(1, (int64_t)3), &t));
    for (int i = 0; i < 3; i++) ((float *)t->data)[i] = (float)(i + 1);
    HG_CHECK_OK(hg_map_alloc(&st, "w", HG_F32, hg_shape_of(1, (int64_t)3), &t));
    HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
    HG_CHECK_OK(hg_program_run(p, &st, &in, &out));
    /* w = 0 + x + x after two runs; y of the second run = w */
    for (int i = 0; i < 3; i++) HG_CHECK(((float *)hg_map_get(&st, "w")->data)[i] == 2.0f * (float)(i + 1));
    for (int i = 0; i < 3; i++) HG_CHECK(((float *)hg_map_get(&out, "y")->data)[i] == 2.0f * (float)(i + 1));
    hg_map_free(&in);
    HG_CHECK_ERR(hg_program_run(p, &st, &in, &out), "x");
    hg_map_free(&st);
    hg_map_free(&out);
    hg_program_free(p);
}
