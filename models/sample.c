/* The sampling driver (SPEC 3.5; models/drivers.h): ancestral sampling on
 * the host over T calls of the "sample-step" graph, then "sample-decode";
 * the samples file; parsing of --cond and --cond-from. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drivers.h"

hg_status hg_parse_cond(const char *s, const hg_config *c, double *cond) {
    if (c && c->n_cond == 0) return hg_error(HG_ERR_INVALID, "--cond: the model has no conditioning");
    int seen[HG_MAX_COND] = {0};
    char names_seen[HG_MAX_COND][64];
    int n_seen = 0;
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return hg_error(HG_ERR_INVALID, "--cond: too long");
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok)) tok++;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok) return hg_error(HG_ERR_INVALID, "--cond: '%s' is not NAME=VALUE", tok);
        *eq = 0;
        char *end;
        double v = strtod(eq + 1, &end);
        while (isspace((unsigned char)*end)) end++;
        if (end == eq + 1 || *end || !isfinite(v))
            return hg_error(HG_ERR_INVALID, "--cond: %s: '%s' is not a finite number", tok, eq + 1);
        for (int i = 0; i < n_seen; i++)
            if (!strcmp(names_seen[i], tok)) return hg_error(HG_ERR_INVALID, "--cond: %s given twice", tok);
        if (n_seen == HG_MAX_COND) return hg_error(HG_ERR_INVALID, "--cond: more than %d parameters", HG_MAX_COND);
        snprintf(names_seen[n_seen++], sizeof names_seen[0], "%s", tok);
        if (!c) continue; /* syntax only */
        int k = -1;
        for (int i = 0; i < c->n_cond; i++)
            if (!strcmp(tok, c->conditioning[i])) k = i;
        if (k < 0) {
            char names[256] = "";
            for (int i = 0; i < c->n_cond; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         c->conditioning[i]);
            return hg_error(HG_ERR_INVALID, "--cond: '%s' is not a conditioning parameter of the model (%s)", tok,
                            names);
        }
        cond[k] = v;
        seen[k] = 1;
    }
    if (!c) return n_seen ? hg_ok() : hg_error(HG_ERR_INVALID, "--cond: no NAME=VALUE given");
    for (int i = 0; i < c->n_cond; i++)
        if (!seen[i]) return hg_error(HG_ERR_INVALID, "--cond: no value for %s", c->conditioning[i]);
    return hg_ok();
}

hg_status hg_parse_data_split(const char *s, char *path, size_t n, hg_split *split) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return hg_error(HG_ERR_INVALID, "'%s' is not DATA.h5:SPLIT (SPLIT train, val or test)", s);
    const char *name = colon + 1;
    int k = -1;
    for (int i = 0; i < HG_NUM_SPLITS; i++)
        if (!strcmp(name, hg_split_name((hg_split)i))) k = i;
    if (k < 0) return hg_error(HG_ERR_INVALID, "'%s': unknown split '%s' (train, val or test)", s, name);
    if ((size_t)(colon - s) >= n) return hg_error(HG_ERR_INVALID, "'%s': path too long", s);
    memcpy(path, s, (size_t)(colon - s));
    path[colon - s] = 0;
    *split = (hg_split)k;
    return hg_ok();
}

static hg_status put_i32(hg_tensor_map *m, const char *name, int64_t v) {
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, name, HG_I32, hg_shape_scalar(), &t));
    ((int32_t *)t->data)[0] = (int32_t)v;
    return hg_ok();
}

static hg_status put_f32(hg_tensor_map *m, const char *name, double v) {
    hg_tensor *t;
    HG_TRY(hg_map_alloc(m, name, HG_F32, hg_shape_scalar(), &t));
    ((float *)t->data)[0] = (float)v;
    return hg_ok();
}

/* The two programs of one batch size. */
typedef struct {
    int batch;
    hg_program *step, *decode;
    hg_profile prof[2]; /* step, decode (with options.profile) */
    int have_prof;
} sampler;

static void sampler_free(sampler *s) {
    if (s->have_prof) {
        hg_profile_free(&s->prof[0]);
        hg_profile_free(&s->prof[1]);
    }
    hg_program_free(s->step);
    hg_program_free(s->decode);
    memset(s, 0, sizeof *s);
}

/* Attaches one profiler to each program of the sampler. */
static hg_status sampler_profile(sampler *sp) {
    HG_TRY(hg_profile_init_schedule(&sp->prof[0], hg_program_graph(sp->step),
                                    hg_program_schedule(sp->step), 0));
    hg_status s = hg_profile_init_schedule(&sp->prof[1], hg_program_graph(sp->decode),
                                           hg_program_schedule(sp->decode), 0);
    if (s.code) {
        hg_profile_free(&sp->prof[0]);
        return s;
    }
    sp->have_prof = 1;
    hg_exec_hooks h0 = hg_profile_hooks(&sp->prof[0]), h1 = hg_profile_hooks(&sp->prof[1]);
    hg_program_set_hooks(sp->step, &h0);
    hg_program_set_hooks(sp->decode, &h1);
    return hg_ok();
}

/* Prints the sampler's two tables (batch B) to f. */
static hg_status sampler_report(const sampler *sp, FILE *f) {
    fprintf(f, "\nprofile of the sample-step graph (batch %d, backend %s)\n", sp->batch, hg_program_backend(sp->step));
    HG_TRY(hg_profile_print(&sp->prof[0], f, 0, 30));
    fprintf(f, "\nprofile of the sample-decode graph (batch %d)\n", sp->batch);
    return hg_profile_print(&sp->prof[1], f, 0, 10);
}

static hg_status sampler_build(const hg_run *r, int B, const char *backend, sampler *sp) {
    memset(sp, 0, sizeof *sp);
    sp->batch = B;
    hg_model m;
    HG_TRY(hg_run_build(r, "sample-step", B, NULL, &m));
    hg_status s = hg_program_compile(m.g, backend, &sp->step);
    hg_model_free(&m);
    if (s.code == HG_OK) s = hg_run_build(r, "sample-decode", B, NULL, &m);
    if (s.code == HG_OK) {
        s = hg_program_compile(m.g, backend, &sp->decode);
        hg_model_free(&m);
    }
    if (s.code) sampler_free(sp);
    return s;
}

/* Samples clouds first .. first+B-1 (chunk index `chunk`) into out. */
static hg_status sample_chunk(const hg_run *r, const hg_sample_options *o, sampler *sp, int64_t chunk,
                              int64_t first, float *out, int64_t *done, int64_t total) {
    const hg_config *c = &r->cfg;
    int64_t B = sp->batch, N = c->n_particles, D = hg_vdm_latent_width(c), F = c->n_features, C = c->n_cond;
    hg_tensor_map in, res;
    hg_map_init(&in);
    hg_map_init(&res);
    hg_tensor *z, *mask, *cond = NULL;
    hg_status s = hg_map_alloc(&in, "z", HG_F32, hg_shape_of(3, B, N, D), &z);
    if (s.code == HG_OK) s = hg_map_alloc(&in, "mask", HG_F32, hg_shape_of(2, B, N), &mask);
    if (s.code == HG_OK && C > 0) s = hg_map_alloc(&in, "cond", HG_F32, hg_shape_of(2, B, C), &cond);
    if (s.code == HG_OK) s = put_i32(&in, "seed", o->seed);
    if (s.code == HG_OK) s = put_i32(&in, "replica", chunk);
    if (s.code) goto done;
    for (int64_t i = 0; i < B * N; i++) ((float *)mask->data)[i] = 1.0f;
    for (int64_t b = 0; b < B && cond; b++)
        for (int64_t k = 0; k < C; k++) ((float *)cond->data)[b * C + k] = o->cond[(first + b) * C + k];
    /* z_1 ~ N(0, I) from the counter-based generator (drivers.h) */
    for (int64_t e = 0; e < B * N * D; e++)
        ((float *)z->data)[e] = (float)hg_rng_normal(o->seed, HG_SAMPLE_Z1_STREAM, 0, (uint32_t)chunk, (uint64_t)e);
    int T = o->steps;
    for (int i = 0; i < T; i++) {
        if (o->interrupt && *o->interrupt) {
            s = hg_error(HG_ERR_INTERRUPTED, "sampling interrupted (nothing written)");
            goto done;
        }
        s = put_f32(&in, "t", (double)(T - i) / T);
        if (s.code == HG_OK) s = put_f32(&in, "s", (double)(T - i - 1) / T);
        if (s.code == HG_OK) s = put_i32(&in, "step", i);
        if (s.code == HG_OK) s = hg_program_run(sp->step, (hg_tensor_map *)&r->state, &in, &res);
        if (s.code) goto done;
        hg_tensor *zn = hg_map_get(&res, "z_next");
        memcpy(z->data, zn->data, hg_tensor_bytes(z));
        (*done)++;
        if (o->progress) o->progress(o->user, *done, total);
    }
    s = put_i32(&in, "step", 0);
    if (s.code == HG_OK) s = hg_program_run(sp->decode, (hg_tensor_map *)&r->state, &in, &res);
    if (s.code) goto done;
    const float *xp = hg_map_get(&res, "x_phys")->data;
    double L = r->norm.box;
    for (int64_t b = 0; b < B; b++) {
        float *dst = out + (first + b) * N * F;
        for (int64_t n = 0; n < N; n++)
            for (int64_t f = 0; f < F; f++) {
                double v = xp[(b * N + n) * F + f];
                if (f < 3 && L > 0) {
                    v = fmod(v, L);
                    if (v < 0) v += L;
                    if ((float)v >= (float)L) v = 0; /* float rounding of L - tiny */
                }
                if (f == 6 && F == 7) v = pow(10.0, v); /* log10 M -> Msun/h */
                if (!isfinite(v) || (f == 6 && F == 7 && !(v > 0))) {
                    s = hg_error(HG_ERR_NUMERIC,
                                 "sample: generated cloud %lld, point %lld, feature %lld is %g (the model "
                                 "diverged?)", (long long)(first + b), (long long)n, (long long)f, v);
                    goto done;
                }
                dst[n * F + f] = (float)v;
            }
    }
done:
    hg_map_free(&in);
    hg_map_free(&res);
    return s;
}

hg_status hg_sample_generate(const hg_run *r, const hg_sample_options *o, hg_tensor *out) {
    memset(out, 0, sizeof *out);
    const hg_config *c = &r->cfg;
    if (o->n < 1) return hg_error(HG_ERR_INVALID, "sample: --n %d < 1", o->n);
    if (o->steps < 1) return hg_error(HG_ERR_INVALID, "sample: --steps %d < 1", o->steps);
    if (o->batch < 0) return hg_error(HG_ERR_INVALID, "sample: --batch %d < 0", o->batch);
    if (c->n_cond > 0 && !o->cond) return hg_error(HG_ERR_INVALID, "sample: no conditioning given");
    for (int64_t i = 0; c->n_cond > 0 && i < (int64_t)o->n * c->n_cond; i++)
        if (!isfinite(o->cond[i])) return hg_error(HG_ERR_INVALID, "sample: non-finite conditioning value");
    int B = o->batch ? o->batch : (o->n < c->batch_size ? o->n : c->batch_size);
    if (B > o->n) B = o->n;
    int64_t N = c->n_particles, F = c->n_features;
    HG_TRY(hg_tensor_alloc(out, HG_F32, hg_shape_of(3, (int64_t)o->n, N, F)));
    int64_t n_full = o->n / B, rest = o->n % B;
    /* this rank's chunks [k0, k1) (all of them with one process) */
    int64_t r0, r1;
    hg_comm_my_rows(o->comm, o->n, B, &r0, &r1);
    int64_t k0 = r0 / B, k1 = (r1 + B - 1) / B;
    int64_t kf = k1 < n_full ? k1 : n_full; /* full chunks end */
    int64_t total = (k1 - k0) * o->steps, done = 0;
    sampler sp;
    hg_status s = hg_ok();
    if (kf > k0) {
        s = sampler_build(r, B, o->backend, &sp);
        if (s.code == HG_OK && o->profile) s = sampler_profile(&sp);
        for (int64_t k = k0; s.code == HG_OK && k < kf; k++)
            s = sample_chunk(r, o, &sp, k, k * B, out->data, &done, total);
        if (s.code == HG_OK && sp.have_prof) s = sampler_report(&sp, o->profile);
        sampler_free(&sp);
    }
    if (s.code == HG_OK && rest > 0 && k1 > n_full) {
        s = sampler_build(r, (int)rest, o->backend, &sp);
        if (s.code == HG_OK && o->profile) s = sampler_profile(&sp);
        if (s.code == HG_OK) s = sample_chunk(r, o, &sp, n_full, n_full * B, out->data, &done, total);
        if (s.code == HG_OK && sp.have_prof) s = sampler_report(&sp, o->profile);
        sampler_free(&sp);
    }
    s = hg_comm_agree(o->comm, s, "sampling");
    if (s.code == HG_OK)
        s = hg_comm_gather_rows(o->comm, out->data, o->n, B, N * F * (int64_t)sizeof(float), "gather of the samples");
    if (s.code) hg_tensor_free(out);
    return s;
}

hg_status hg_sample_save(const char *path, const hg_run *r, const hg_sample_options *o,
                         const hg_tensor *samples, const int32_t *sims, const char *cond_source) {
    const hg_config *c = &r->cfg;
    int64_t M = samples->shape.dim[0], C = c->n_cond;
    hg_tensor cond, sm;
    HG_TRY(hg_tensor_alloc(&cond, HG_F32, hg_shape_of(2, M, C)));
    hg_status s = hg_tensor_alloc(&sm, HG_I32, hg_shape_of(1, M));
    if (s.code) {
        hg_tensor_free(&cond);
        return s;
    }
    for (int64_t i = 0; i < M * C; i++) ((float *)cond.data)[i] = o->cond[i];
    for (int64_t i = 0; i < M; i++) ((int32_t *)sm.data)[i] = sims ? sims[i] : -1;
    const char *names[HG_MAX_COND], *feats[HG_MAX_FEATURES];
    for (int i = 0; i < C; i++) names[i] = c->conditioning[i];
    for (int f = 0; f < c->n_features; f++) feats[f] = r->feature_names[f];
    hg_out *w = NULL;
    s = hg_out_create(path, &w);
    if (s.code == HG_OK) s = hg_out_tensor(w, "samples", samples);
    if (s.code == HG_OK && r->feature_names[0][0])
        s = hg_out_attr_strs(w, "samples", "feature_names", feats, c->n_features);
    if (s.code == HG_OK) s = hg_out_tensor(w, "cond", &cond);
    if (s.code == HG_OK) s = hg_out_attr_strs(w, "cond", "names", names, (int)C);
    if (s.code == HG_OK) s = hg_out_tensor(w, "sims", &sm);
    if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "format", "halograph-samples-1");
    if (s.code == HG_OK) s = hg_out_provenance(w, r);
    if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "seed", o->seed);
    if (s.code == HG_OK) s = hg_out_attr_i64(w, "/", "steps", o->steps);
    if (s.code == HG_OK) s = hg_out_attr_str(w, "/", "cond_source", cond_source ? cond_source : "");
    if (s.code == HG_OK)
        s = hg_out_attr_str(w, "/", "units", "x, y, z: Mpc/h in [0, box_size); vx, vy, vz: km/s; M: Msun/h (linear)");
    if (w) {
        hg_status s2 = hg_out_close(w, s.code == HG_OK);
        if (s.code == HG_OK) s = s2;
    }
    hg_tensor_free(&cond);
    hg_tensor_free(&sm);
    return s;
}
