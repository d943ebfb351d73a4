/* libhalograph runs: open, metadata, sampling, NELBO, likelihood profiles
 * and ONNX export over models/drivers.h (the drivers of the CLI's
 * sample, nelbo, likelihood and export-onnx commands). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "codegen/onnx.h"
#include "ir/atomic.h"
#include "runtime/backend.h"

int halograph_run_open(const char *dir, halograph_run **out) {
    if (!out) return hg_api_fail(HALOGRAPH_ERR_INVALID, "run: NULL output handle");
    *out = NULL;
    if (!dir) return hg_api_fail(HALOGRAPH_ERR_INVALID, "run: NULL directory");
    halograph_run *h = calloc(1, sizeof *h);
    if (!h) return hg_api_fail(HALOGRAPH_ERR_NOMEM, "run %s: out of memory", dir);
    hg_status s = hg_run_open(dir, &h->run);
    if (s.code) {
        hg_run_free(&h->run);
        free(h);
        return hg_api_status(s);
    }
    *out = h;
    return HALOGRAPH_OK;
}

void halograph_run_close(halograph_run *run) {
    if (!run) return;
    hg_run_free(&run->run);
    free(run);
}

void halograph_run_info(const halograph_run *run, int *n_points, int *n_features, int *n_cond, double *box,
                        double *redshift, int64_t *steps_done) {
    const hg_run *r = &run->run;
    if (n_points) *n_points = r->cfg.n_particles;
    if (n_features) *n_features = r->cfg.n_features;
    if (n_cond) *n_cond = r->cfg.n_cond;
    if (box) *box = r->norm.box;
    if (redshift) *redshift = r->redshift;
    if (steps_done) *steps_done = r->step;
}

const char *halograph_run_cond_name(const halograph_run *run, int i) {
    return i >= 0 && i < run->run.cfg.n_cond ? run->run.cfg.conditioning[i] : NULL;
}

const char *halograph_run_feature_name(const halograph_run *run, int i) {
    return i >= 0 && i < run->run.cfg.n_features ? run->run.feature_names[i] : NULL;
}

int halograph_run_set_backend(halograph_run *run, const char *backend) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "backend: NULL run");
    if (backend && !hg_backend_find(backend))
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "backend: unknown backend '%s' (available: %s)", backend,
                           hg_program_backends());
    snprintf(run->backend, sizeof run->backend, "%s", backend ? backend : "");
    return HALOGRAPH_OK;
}

static const char *backend_of(const halograph_run *run) { return run->backend[0] ? run->backend : NULL; }

/* Refuses an output path that is the run directory or one of its files. */
static hg_status check_output(const hg_run *r, const char *path) {
    char files[HG_RUN_MAX_FILES + 1][HG_PATH_MAX];
    const char *inputs[HG_RUN_MAX_FILES + 1];
    int nf = hg_run_files(r->dir, files, HG_RUN_MAX_FILES);
    snprintf(files[nf], HG_PATH_MAX, "%s", r->dir);
    for (int i = 0; i <= nf; i++) inputs[i] = files[i];
    return hg_output_check(path, inputs, nf + 1);
}

int halograph_run_set_profile(halograph_run *run, const char *path) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: NULL run");
    if (path) {
        if (strlen(path) >= sizeof run->profile)
            return hg_api_fail(HALOGRAPH_ERR_INVALID, "profile: path longer than %d bytes", HG_PATH_MAX - 1);
        hg_status s = check_output(&run->run, path);
        if (s.code) return hg_api_status(s);
    }
    snprintf(run->profile, sizeof run->profile, "%s", path ? path : "");
    return HALOGRAPH_OK;
}

int halograph_run_parse_cond(const halograph_run *run, const char *spec, float *cond) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "cond: NULL run");
    if (!spec || !cond) return hg_api_fail(HALOGRAPH_ERR_INVALID, "cond: NULL %s", spec ? "output" : "spec");
    double v[HG_MAX_COND];
    hg_status s = hg_parse_cond(spec, &run->run.cfg, v);
    if (s.code) return hg_api_status(s);
    for (int k = 0; k < run->run.cfg.n_cond; k++) cond[k] = (float)v[k];
    return HALOGRAPH_OK;
}

int halograph_sample(halograph_run *run, int n, int steps, uint32_t seed, const float *cond, float *out,
                     halograph_progress_fn progress, void *user) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: NULL run");
    const hg_config *c = &run->run.cfg;
    if (n < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: n = %d clouds (need at least 1)", n);
    if (steps < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: steps = %d (need at least 1)", steps);
    if (!out) return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: NULL output");
    if (c->n_cond > 0 && !cond)
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: the model is conditioned on %d parameters: cond is NULL",
                           c->n_cond);
    for (int64_t i = 0; i < (int64_t)n * c->n_cond; i++)
        if (!isfinite(cond[i]))
            return hg_api_fail(HALOGRAPH_ERR_NUMERIC, "cond: cloud %lld, %s: %g is not finite",
                               (long long)(i / c->n_cond), c->conditioning[i % c->n_cond], (double)cond[i]);
    hg_api_progress pg;
    hg_api_progress_init(&pg, progress, user);
    hg_sample_options o;
    memset(&o, 0, sizeof o);
    o.n = n;
    o.steps = steps;
    o.seed = seed;
    o.backend = backend_of(run);
    o.cond = c->n_cond ? cond : NULL;
    o.interrupt = &pg.stop;
    o.progress = hg_api_progress_count;
    o.user = &pg;
    char *table = NULL;
    size_t table_len = 0;
    FILE *prof = NULL;
    if (run->profile[0] && !(prof = open_memstream(&table, &table_len)))
        return hg_api_fail(HALOGRAPH_ERR_NOMEM, "profile: cannot buffer the profile tables");
    o.profile = prof;
    hg_tensor smp;
    memset(&smp, 0, sizeof smp);
    hg_status s = hg_sample_generate(&run->run, &o, &smp);
    if (s.code == HG_OK) memcpy(out, smp.data, hg_tensor_bytes(&smp));
    hg_tensor_free(&smp);
    if (prof) {
        fclose(prof);
        if (s.code == HG_OK) s = hg_atomic_write(run->profile, table, table_len);
        free(table);
    }
    return hg_api_status(s);
}

/* The NELBO options and the pipeline of the n given clouds, shared by
 * halograph_nelbo and halograph_likelihood_profile; pg adapts progress.
 * On success the caller frees *pl with hg_pipeline_free. */
static hg_status prepare_nelbo(const halograph_run *run, const float *x, int64_t n, int64_t N, int64_t F,
                               const float *mask, const float *cond, int steps, int replicas, uint32_t seed,
                               halograph_progress_fn progress, void *user, hg_api_progress *pg,
                               hg_nelbo_options *o, hg_pipeline *pl) {
    if (steps < 1) return hg_error(HG_ERR_INVALID, "nelbo: steps = %d (need at least 1)", steps);
    if (replicas < 1) return hg_error(HG_ERR_INVALID, "nelbo: replicas = %d (need at least 1)", replicas);
    hg_api_progress_init(pg, progress, user);
    hg_nelbo_options_default(o);
    o->steps = steps;
    o->replicas = replicas;
    o->seed = seed;
    o->backend = backend_of(run);
    o->interrupt = &pg->stop;
    o->progress = hg_api_progress_count;
    o->user = pg;
    return hg_api_clouds_pipeline(&run->run, x, n, N, F, mask, cond, pl);
}

int halograph_nelbo(halograph_run *run, const float *x, int64_t n, int64_t N, int64_t F, const float *mask,
                    const float *cond, int steps, int replicas, uint32_t seed, double *out,
                    halograph_progress_fn progress, void *user) {
    if (!run || !out) return hg_api_fail(HALOGRAPH_ERR_INVALID, "nelbo: NULL %s", run ? "output" : "run");
    hg_api_progress pg;
    hg_nelbo_options o;
    hg_pipeline pl;
    hg_status s = prepare_nelbo(run, x, n, N, F, mask, cond, steps, replicas, seed, progress, user, &pg, &o, &pl);
    if (s.code) return hg_api_status(s);
    s = hg_nelbo_split(&run->run, &pl, &o, out, NULL, NULL);
    hg_pipeline_free(&pl);
    return hg_api_status(s);
}

int halograph_likelihood_profile(halograph_run *run, const float *x, int64_t N, int64_t F, const float *mask,
                                 const float *theta, const char *param, const double *grid, int n_grid,
                                 int steps, int replicas, uint32_t seed, double *logl, double *logl_rep,
                                 halograph_progress_fn progress, void *user) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "sample: NULL run");
    if (!run || !logl) return hg_api_fail(HALOGRAPH_ERR_INVALID, "likelihood: NULL %s", run ? "output" : "run");
    const hg_config *c = &run->run.cfg;
    int k = -1;
    for (int i = 0; param && i < c->n_cond; i++)
        if (!strcmp(param, c->conditioning[i])) k = i;
    if (k < 0) {
        char have[256] = "";
        for (int i = 0; i < c->n_cond; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", c->conditioning[i]);
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "likelihood: param '%s' is not a conditioning parameter of the "
                           "model (%s)", param ? param : "(null)", have);
    }
    if (!grid || n_grid < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "likelihood: empty grid");
    for (int g = 0; g < n_grid; g++)
        if (!isfinite(grid[g]))
            return hg_api_fail(HALOGRAPH_ERR_NUMERIC, "likelihood: grid point %d: %g is not finite", g, grid[g]);
    /* the cloud standardised exactly as `halograph likelihood` does: eval batch 0 of a one-cloud pipeline */
    hg_api_progress pg;
    hg_nelbo_options o;
    hg_pipeline pl;
    hg_status s = prepare_nelbo(run, x, 1, N, F, mask, theta, steps, replicas, seed, progress, user, &pg, &o, &pl);
    if (s.code) return hg_api_status(s);
    hg_batch bt;
    memset(&bt, 0, sizeof bt);
    s = hg_pipeline_eval_batch(&pl, 0, 1, &bt);
    if (s.code == HG_OK)
        s = hg_likelihood_profile(&run->run, bt.x.data, bt.mask.data, bt.cond.data, k, grid, n_grid, &o, logl,
                                  logl_rep);
    hg_batch_free(&bt);
    hg_pipeline_free(&pl);
    return hg_api_status(s);
}

int halograph_export_onnx(halograph_run *run, const char *kind, int batch, int nelbo_steps, const char *path) {
    if (!run) return hg_api_fail(HALOGRAPH_ERR_INVALID, "export_onnx: NULL run");
    static const char *kinds[] = {"score", "sample-step", "sample-decode", "nelbo"};
    int known = 0;
    for (int i = 0; i < 4; i++) known |= kind && !strcmp(kind, kinds[i]);
    if (!known)
        return hg_api_fail(HALOGRAPH_ERR_INVALID, "export_onnx: kind '%s' is not one of score, sample-step, "
                           "sample-decode, nelbo", kind ? kind : "(null)");
    if (batch < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "export_onnx: batch %d < 1", batch);
    if (nelbo_steps < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "export_onnx: nelbo_steps %d < 1", nelbo_steps);
    if (!path) return hg_api_fail(HALOGRAPH_ERR_INVALID, "export_onnx: NULL path");
    const hg_run *r = &run->run;
    hg_status s = check_output(r, path);
    if (s.code) return hg_api_status(s);
    hg_model_opts mo;
    hg_model_opts_default(&mo, &r->cfg);
    mo.nelbo_steps = nelbo_steps;
    hg_model m;
    memset(&m, 0, sizeof m);
    s = hg_run_build(r, kind, batch, &mo, &m);
    char doc[HG_PATH_MAX + 128];
    snprintf(doc, sizeof doc, "halograph %s graph of the training run %s (after %lld steps), batch %d.", kind,
             r->dir, (long long)r->step, batch);
    if (s.code == HG_OK) {
        hg_onnx_options oo;
        hg_onnx_options_default(&oo);
        oo.graph_name = kind;
        oo.model_doc = doc;
        s = hg_onnx_export(m.g, &r->state, &oo, path);
    }
    hg_model_free(&m);
    return hg_api_status(s);
}
