/* Run directories (hg_run_open) and the drivers' small atomic HDF5 writer
 * (models/drivers.h). */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/drivers.h"
#include "runtime/h5file.h"

/* ------------------------------------------------------------ HDF5 writer */

struct hg_out {
    hid_t f;
    char path[HG_PATH_MAX];
};

static hg_status out_err(const hg_out *o, const char *fmt, const char *name) {
    return hg_error(HG_ERR_IO, "%s: cannot write %s %s", o->path, fmt, name);
}

hg_status hg_out_create(const char *path, hg_out **out) {
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hg_out *o = calloc(1, sizeof *o);
    if (!o) return hg_error(HG_ERR_NOMEM, "%s", path);
    snprintf(o->path, sizeof o->path, "%s", path);
    /* fail early on a destination that cannot be replaced (the file itself
     * is built in memory and written at hg_out_close) */
    hg_status s = hg_output_check(path, NULL, 0);
    if (s.code == HG_OK) s = hg_h5_mem_create(path, &o->f);
    if (s.code != HG_OK) {
        free(o);
        return s;
    }
    *out = o;
    return hg_ok();
}

static hid_t h5_type(hg_dtype t) {
    switch (t) {
    case HG_F32: return H5T_IEEE_F32LE;
    case HG_F64: return H5T_IEEE_F64LE;
    case HG_I32: return H5T_STD_I32LE;
    default: return H5T_STD_U8LE;
    }
}
static hid_t mem_type(hg_dtype t) {
    switch (t) {
    case HG_F32: return H5T_NATIVE_FLOAT;
    case HG_F64: return H5T_NATIVE_DOUBLE;
    case HG_I32: return H5T_NATIVE_INT32;
    default: return H5T_NATIVE_UINT8;
    }
}

hg_status hg_out_tensor(hg_out *o, const char *name, const hg_tensor *t) {
    hsize_t dims[HG_MAX_RANK];
    for (int i = 0; i < t->shape.rank; i++) dims[i] = (hsize_t)t->shape.dim[i];
    hid_t sp = t->shape.rank ? H5Screate_simple(t->shape.rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(o->f, name, h5_type(t->dtype), sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, mem_type(t->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data);
    if (d >= 0) H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(sp);
    return e < 0 ? out_err(o, "dataset", name) : hg_ok();
}

static hg_status write_attr(hg_out *o, const char *obj, const char *name, hid_t ftype, hid_t mtype,
                            hid_t space, const void *buf) {
    hid_t h = H5Oopen(o->f, obj, H5P_DEFAULT);
    if (h < 0) return out_err(o, "attribute of missing object", obj);
    if (H5Aexists(h, name) > 0) H5Adelete(h, name);
    hid_t a = H5Acreate2(h, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, mtype, buf);
    if (a >= 0) H5Aclose(a);
    H5Oclose(h);
    return e < 0 ? out_err(o, "attribute", name) : hg_ok();
}

static hid_t vlen_str(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hg_status hg_out_attr_str(hg_out *o, const char *obj, const char *name, const char *v) {
    hid_t t = vlen_str(), sp = H5Screate(H5S_SCALAR);
    hg_status s = write_attr(o, obj, name, t, t, sp, &v);
    H5Sclose(sp);
    H5Tclose(t);
    return s;
}

hg_status hg_out_attr_strs(hg_out *o, const char *obj, const char *name, const char *const *v, int n) {
    hsize_t d = (hsize_t)n;
    hid_t t = vlen_str(), sp = H5Screate_simple(1, &d, NULL);
    hg_status s = write_attr(o, obj, name, t, t, sp, v);
    H5Sclose(sp);
    H5Tclose(t);
    return s;
}

hg_status hg_out_attr_f64(hg_out *o, const char *obj, const char *name, double v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hg_status s = write_attr(o, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sp, &v);
    H5Sclose(sp);
    return s;
}

hg_status hg_out_attr_i64(hg_out *o, const char *obj, const char *name, int64_t v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hg_status s = write_attr(o, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, sp, &v);
    H5Sclose(sp);
    return s;
}

hg_status hg_out_provenance(hg_out *o, const hg_run *r) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->dataset_checksum);
    HG_TRY(hg_out_attr_str(o, "/", "run_dir", r->dir));
    HG_TRY(hg_out_attr_str(o, "/", "config", r->config_yaml ? r->config_yaml : ""));
    HG_TRY(hg_out_attr_i64(o, "/", "checkpoint_step", r->step));
    HG_TRY(hg_out_attr_str(o, "/", "dataset", r->dataset_path));
    HG_TRY(hg_out_attr_str(o, "/", "dataset_checksum", buf));
    HG_TRY(hg_out_attr_f64(o, "/", "box_size", r->norm.box));
    return hg_out_attr_f64(o, "/", "redshift", r->redshift);
}

hg_status hg_out_close(hg_out *o, int ok) {
    if (!o) return hg_ok();
    hg_status s = ok ? hg_ok() : hg_error(HG_ERR_INVALID, "%s: not written", o->path);
    s = hg_h5_mem_commit(o->f, o->path, s);
    free(o);
    return ok ? s : hg_ok();
}

/* ---------------------------------------------------------- run directory */

/* Reads "key: value" lines of RUN/run.yaml (the format train writes). */
static hg_status read_run_yaml(const char *path, hg_run *r) {
    char *text = NULL;
    HG_TRY(hg_read_text_file(path, HG_TEXT_MAX_BYTES, &text, NULL));
    int have_z = 0, have_fmt = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = 0;
        char *colon = strchr(line, ':');
        if (!colon || line[0] == '#') continue;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ') v++;
        if (!strcmp(line, "format")) have_fmt = !strcmp(v, "halograph-run-1");
        else if (!strcmp(line, "dataset")) snprintf(r->dataset_path, sizeof r->dataset_path, "%s", v);
        else if (!strcmp(line, "redshift")) have_z = sscanf(v, "%lf", &r->redshift) == 1;
        else if (!strcmp(line, "features")) {
            int i = 0;
            char *fs = NULL;
            for (char *tok = strtok_r(v, "[], ", &fs); tok && i < HG_MAX_FEATURES; tok = strtok_r(NULL, "[], ", &fs))
                snprintf(r->feature_names[i++], HG_DS_NAME_MAX, "%s", tok);
        }
    }
    free(text);
    if (!have_fmt) return hg_error(HG_ERR_FORMAT, "%s: not a halograph run file (format: halograph-run-1)", path);
    if (!have_z) return hg_error(HG_ERR_FORMAT, "%s: no redshift", path);
    return hg_ok();
}


hg_status hg_run_build(const hg_run *r, const char *kind, int batch, const hg_model_opts *opts,
                       hg_model *out) {
    hg_model_opts o;
    if (opts) o = *opts;
    else hg_model_opts_default(&o, &r->cfg);
    o.norm = r->norm;
    return hg_model_build(&r->cfg, kind, batch, HG_F32, &o, out);
}

/* Every parameter of the model must be in the state with its shape (the
 * "loss" graph holds them all: schedule, encoder/decoder, embedding, score). */
static hg_status check_params(hg_run *r) {
    hg_model m;
    HG_TRY(hg_run_build(r, "loss", 1, NULL, &m));
    char msg[400] = "";
    size_t used = 0;
    int bad = 0;
    for (int i = 0; i < m.mb.n_params; i++) {
        const hg_param *p = &m.mb.params[i];
        const hg_tensor *t = hg_map_get(&r->state, p->path);
        char a[64], b[64];
        int n = 0;
        if (!t) n = snprintf(msg + used, sizeof msg - used, "%smissing %s", bad ? "; " : "", p->path);
        else if (t->dtype != HG_F32 || !hg_shape_eq(t->shape, p->shape))
            n = snprintf(msg + used, sizeof msg - used, "%s%s: stored %s %s vs model f32 %s", bad ? "; " : "",
                         p->path, hg_dtype_name(t->dtype), hg_shape_str(t->shape, a, 64),
                         hg_shape_str(p->shape, b, 64));
        else continue;
        bad++;
        if (n > 0 && used + (size_t)n < sizeof msg) used += (size_t)n;
    }
    hg_status s = hg_ok();
    if (bad)
        s = hg_error(HG_ERR_INVALID, "%s/checkpoint.h5 does not fit its config (%d parameters): %s", r->dir, bad,
                     msg);
    /* training.ema_decay on: the readers use the EMA weights (exported
     * weights already are them) */
    if (s.code == HG_OK && r->cfg.ema_decay > 0 && !r->weights_only) {
        char where[HG_PATH_MAX + 32];
        snprintf(where, sizeof where, "%s/checkpoint.h5", r->dir);
        s = hg_ema_apply(&m.mb, &r->state, where);
        r->ema = s.code == HG_OK;
    } else if (s.code == HG_OK) {
        r->ema = r->cfg.ema_decay > 0;
    }
    hg_model_free(&m);
    return s;
}

int hg_run_files(const char *dir, char paths[][HG_PATH_MAX], int max) {
    static const char *const names[HG_RUN_MAX_FILES] = {"checkpoint.h5", "config.yaml", "run.yaml", "norm.h5",
                                                        "metrics.csv"};
    int n = 0;
    for (int i = 0; i < HG_RUN_MAX_FILES && n < max; i++)
        if (snprintf(paths[n], HG_PATH_MAX, "%s/%s", dir, names[i]) < HG_PATH_MAX) n++;
    return n;
}

hg_status hg_run_open(const char *dir, hg_run *r) {
    memset(r, 0, sizeof *r);
    hg_map_init(&r->state);
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode))
        return hg_error(HG_ERR_IO, "run directory %s: %s", dir,
                        stat(dir, &st) ? strerror(errno) : "not a directory");
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    char path[HG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    if (access(path, F_OK))
        return hg_error(HG_ERR_IO, "%s: no checkpoint.h5 (not a training run directory; "
                        "make one with `halograph train`)", dir);
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    hg_status s = hg_checkpoint_load(path, NULL, NULL, &ck);
    if (s.code == HG_OK && !ck.config_yaml)
        s = hg_error(HG_ERR_FORMAT, "%s: checkpoint has no config", path);
    if (s.code == HG_OK && !ck.has_norm)
        s = hg_error(HG_ERR_FORMAT, "%s: checkpoint has no normalisation statistics", path);
    if (s.code == HG_OK) s = hg_config_parse(ck.config_yaml, path, &r->cfg);
    if (s.code) {
        hg_checkpoint_free(&ck);
        return s;
    }
    r->config_yaml = ck.config_yaml;
    ck.config_yaml = NULL;
    r->state = ck.state;
    hg_map_init(&ck.state);
    r->step = ck.step;
    r->norm = ck.norm;
    r->dataset_checksum = ck.dataset_checksum;
    for (int i = 0; i < ck.n_counters; i++)
        if (!strcmp(ck.counter_names[i], HG_WEIGHTS_ONLY_COUNTER)) r->weights_only = ck.counters[i] != 0;
    hg_checkpoint_free(&ck);
    if (r->norm.n_features != r->cfg.n_features)
        return hg_error(HG_ERR_INVALID, "%s: normalisation has %d features, config %d", path,
                        r->norm.n_features, r->cfg.n_features);
    if (!(r->norm.box > 0)) return hg_error(HG_ERR_FORMAT, "%s: no box size with the normalisation", path);
    /* RUN/config.yaml must agree with the checkpoint's config */
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    char *yaml = NULL;
    if (access(path, F_OK) == 0) {
        HG_TRY(hg_read_text_file(path, HG_TEXT_MAX_BYTES, &yaml, NULL));
        s = hg_config_compatible(r->config_yaml, yaml);
        free(yaml);
        if (s.code) return hg_status_prefix(s, "%s/checkpoint.h5 vs %s", dir, path);
    }
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    HG_TRY(read_run_yaml(path, r));
    return check_params(r);
}

void hg_run_free(hg_run *r) {
    if (!r) return;
    free(r->config_yaml);
    r->config_yaml = NULL;
    hg_map_free(&r->state);
}
