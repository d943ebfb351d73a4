/* Training checkpoints in HDF5 (layout in runtime.h): atomic save, load
 * with a precise comparison against the expected state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/h5_internal.h"

/* Format versions: 1 (no checksums), 2 (attribute `checksum` = FNV-1a 64
 * of the raw bytes on every tensor: each /state dataset, /norm/mean and
 * /norm/std; verified on load). */
#define HG_CK_FORMAT "halograph-checkpoint-2"
#define HG_CK_FORMAT_PREFIX "halograph-checkpoint-"
#define HG_CK_VERSION 2

void hg_checkpoint_init(hg_checkpoint *ck) {
    memset(ck, 0, sizeof *ck);
    hg_map_init(&ck->state);
}

void hg_checkpoint_free(hg_checkpoint *ck) {
    hg_map_free(&ck->state);
    free(ck->config_yaml);
    hg_checkpoint_init(ck);
}

hg_status hg_checkpoint_set_config(hg_checkpoint *ck, const char *yaml) {
    char *d = yaml ? strdup(yaml) : NULL;
    if (yaml && !d) return hg_error(HG_ERR_NOMEM, "checkpoint: out of memory");
    free(ck->config_yaml);
    ck->config_yaml = d;
    return hg_ok();
}

hg_status hg_checkpoint_set_counter(hg_checkpoint *ck, const char *name, int64_t v) {
    if (!name || !*name || strlen(name) >= HG_DS_NAME_MAX)
        return hg_error(HG_ERR_INVALID, "checkpoint: bad counter name");
    for (int i = 0; i < ck->n_counters; i++)
        if (!strcmp(ck->counter_names[i], name)) {
            ck->counters[i] = v;
            return hg_ok();
        }
    if (ck->n_counters >= HG_CK_MAX_COUNTERS)
        return hg_error(HG_ERR_INVALID, "checkpoint: more than %d counters", HG_CK_MAX_COUNTERS);
    strcpy(ck->counter_names[ck->n_counters], name);
    ck->counters[ck->n_counters++] = v;
    return hg_ok();
}

/* A state name as an HDF5 path below /state: no leading '/', no empty
 * component, no "." / ".." component. */
static const char *state_key(const char *name) {
    while (*name == '/') name++;
    return name;
}

static int bad_name(const char *k) {
    if (!*k || k[strlen(k) - 1] == '/' || strstr(k, "//")) return 1;
    const char *p = k;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t L = e ? (size_t)(e - p) : strlen(p);
        if ((L == 1 && p[0] == '.') || (L == 2 && p[0] == '.' && p[1] == '.')) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static hg_status write_all(const char *path, hid_t f, const hg_checkpoint *ck) {
    HG_TRY(hg_h5_attr_str(path, f, "format", HG_CK_FORMAT));
    HG_TRY(hg_h5_attr_i64(path, f, "step", &ck->step, 1, 1));
    HG_TRY(hg_h5_attr_u64(path, f, "seed", ck->seed));
    HG_TRY(hg_h5_attr_u64(path, f, "dataset_checksum", ck->dataset_checksum));
    HG_TRY(hg_h5_attr_str(path, f, "config", ck->config_yaml ? ck->config_yaml : ""));
    if (ck->n_counters > 0) {
        const char *nm[HG_CK_MAX_COUNTERS];
        for (int i = 0; i < ck->n_counters; i++) nm[i] = ck->counter_names[i];
        HG_TRY(hg_h5_attr_strs(path, f, "rng_counter_names", nm, ck->n_counters));
        HG_TRY(hg_h5_attr_i64(path, f, "rng_counters", ck->counters, ck->n_counters, 0));
    }
    if (ck->has_norm) HG_TRY(hg_h5_write_norm(path, f, &ck->norm));
    hid_t g = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return hg_h5_error(HG_ERR_IO, path, "cannot create group /state");
    hg_status s = hg_ok();
    const char **order = malloc(sizeof(char *) * (size_t)(ck->state.n ? ck->state.n : 1));
    if (!order) s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; s.code == HG_OK && i < ck->state.n; i++) {
        const char *k = state_key(ck->state.e[i].name);
        if (bad_name(k))
            s = hg_error(HG_ERR_INVALID, "%s: state tensor name '%s' is not a valid slash path", path, ck->state.e[i].name);
        else
            s = hg_h5_write_tensor_sum(path, g, k, &ck->state.e[i].t);
        order[i] = k;
    }
    /* insertion order of the map (HDF5 lists links alphabetically) */
    if (s.code == HG_OK && ck->state.n) s = hg_h5_attr_strs(path, g, "names", order, ck->state.n);
    free(order);
    H5Gclose(g);
    return s;
}

hg_status hg_checkpoint_save(const char *path, const hg_checkpoint *ck) {
    char tmp[4096];
    hg_atomic_temp_path(path, tmp, sizeof tmp);
    hid_t f;
    HG_TRY(hg_h5_create(tmp, &f));
    hg_status s = write_all(path, f, ck);
    return hg_h5_finish(f, tmp, path, s);
}

/* ------------------------------------------------------------------ load */

typedef struct {
    const char *path;
    hid_t g;
    hg_tensor_map *m;
    hg_status s;
    int need_sum; /* format >= 2: every tensor carries a checksum */
} visit_ctx;

/* Reads /state/<name>, verifies its checksum, adds it to m. */
static hg_status read_one(const char *path, hid_t g, const char *name, int need_sum, hg_tensor_map *m) {
    hg_tensor t;
    HG_TRY(hg_h5_read_tensor(path, g, name, &t));
    hg_status s = hg_h5_verify_sum(path, g, name, &t, need_sum);
    if (s.code == HG_OK && hg_map_get(m, name))
        s = hg_error(HG_ERR_FORMAT, "%s: /state lists tensor '%s' twice", path, name);
    if (s.code == HG_OK) s = hg_map_put(m, name, &t);
    if (s.code) hg_tensor_free(&t);
    return s;
}

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    visit_ctx *c = data;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        c->s = hg_h5_error(HG_ERR_FORMAT, c->path, "cannot open /state/%s", name);
        return -1;
    }
    int is_ds = H5Iget_type(o) == H5I_DATASET;
    H5Oclose(o);
    if (!is_ds) return 0;
    if (hg_map_get(c->m, name)) return 0;
    c->s = read_one(c->path, g, name, c->need_sum, c->m);
    return c->s.code ? -1 : 0;
}

static hg_status read_state(const char *path, hid_t f, int need_sum, hg_tensor_map *m) {
    if (!hg_h5_exists(f, "state")) return hg_error(HG_ERR_FORMAT, "%s: missing group /state", path);
    hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
    if (g < 0) return hg_h5_error(HG_ERR_FORMAT, path, "/state is not a group");
    hg_status s = hg_ok();
    /* first in the stored insertion order, then anything else found */
    if (hg_h5_has_attr(g, "names")) {
        hid_t a = H5Aopen(g, "names", H5P_DEFAULT);
        hid_t sp = H5Aget_space(a);
        hssize_t n = H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        char **names = calloc((size_t)(n > 0 ? n : 1), sizeof *names);
        if (!names || H5Aread(a, mt, names) < 0) s = hg_h5_error(HG_ERR_FORMAT, path, "cannot read /state names");
        for (hssize_t i = 0; s.code == HG_OK && i < n; i++) {
            if (!names[i] || !hg_h5_exists(g, names[i])) {
                s = hg_error(HG_ERR_FORMAT, "%s: /state lists tensor '%s' that is not stored", path,
                             names[i] ? names[i] : "(null)");
                break;
            }
            s = read_one(path, g, names[i], need_sum, m);
        }
        for (hssize_t i = 0; names && i < n; i++)
            if (names[i]) H5free_memory(names[i]);
        free(names);
        H5Tclose(mt);
        H5Aclose(a);
    }
    if (s.code == HG_OK) {
        visit_ctx c = {path, g, m, hg_ok(), need_sum};
        if (H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &c) < 0)
            s = c.s.code ? c.s : hg_h5_error(HG_ERR_FORMAT, path, "cannot list /state");
    }
    H5Gclose(g);
    return s;
}

/* Appends to a bounded message, counting what did not fit. */
typedef struct {
    char buf[400];
    int n, dropped;
} diff_msg;

static void add_diff(diff_msg *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_diff(diff_msg *d, const char *fmt, ...) {
    char item[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    size_t L = strlen(d->buf);
    if (L + strlen(item) + 3 < sizeof d->buf)
        snprintf(d->buf + L, sizeof d->buf - L, "%s%s", d->n ? "; " : "", item);
    else
        d->dropped++;
    d->n++;
}

static hg_status compare_state(const char *path, const hg_tensor_map *have, const hg_tensor_map *want) {
    diff_msg d = {"", 0, 0};
    char a[96], b[96];
    for (int i = 0; i < want->n; i++) {
        const char *k = state_key(want->e[i].name);
        const hg_tensor *t = hg_map_get(have, k);
        const hg_tensor *w = &want->e[i].t;
        if (!t) add_diff(&d, "missing tensor %s", k);
        else if (t->dtype != w->dtype)
            add_diff(&d, "dtype of %s: stored %s vs expected %s", k, hg_dtype_name(t->dtype), hg_dtype_name(w->dtype));
        else if (!hg_shape_eq(t->shape, w->shape))
            add_diff(&d, "shape of %s: stored %s vs expected %s", k, hg_shape_str(t->shape, a, sizeof a),
                     hg_shape_str(w->shape, b, sizeof b));
    }
    for (int i = 0; i < have->n; i++) {
        int found = 0;
        for (int j = 0; j < want->n && !found; j++) found = !strcmp(state_key(want->e[j].name), have->e[i].name);
        if (!found) add_diff(&d, "unexpected tensor %s", have->e[i].name);
    }
    if (!d.n) return hg_ok();
    if (d.dropped) {
        size_t L = strlen(d.buf);
        snprintf(d.buf + L, sizeof d.buf - L, "; ... and %d more", d.dropped);
    }
    return hg_error(HG_ERR_INVALID, "%s: checkpoint does not match the model (%d differences): %s", path, d.n, d.buf);
}

/* The format attribute: "halograph-checkpoint-<v>", v in 1..HG_CK_VERSION. */
static hg_status check_format(const char *path, hid_t f, int *version) {
    if (!hg_h5_has_attr(f, "format"))
        return hg_error(HG_ERR_FORMAT, "%s: not a halograph checkpoint (no 'format' attribute; expected '%s')", path,
                        HG_CK_FORMAT);
    char *fmt = NULL;
    HG_TRY(hg_h5_read_attr_str(path, f, "format", &fmt));
    char got[80];
    snprintf(got, sizeof got, "%s", fmt);
    free(fmt);
    size_t L = strlen(HG_CK_FORMAT_PREFIX);
    char *end = NULL;
    long v = strncmp(got, HG_CK_FORMAT_PREFIX, L) ? -1 : strtol(got + L, &end, 10);
    if (v < 0 || !end || *end || end == got + L)
        return hg_error(HG_ERR_FORMAT, "%s: not a halograph checkpoint (format '%s', expected '%s')", path, got,
                        HG_CK_FORMAT);
    if (v < 1 || v > HG_CK_VERSION)
        return hg_error(HG_ERR_FORMAT,
                        "%s: checkpoint format '%s' is not supported by this halograph (reads versions 1 to %d)", path,
                        got, HG_CK_VERSION);
    *version = (int)v;
    return hg_ok();
}

/* /norm/mean and /norm/std: read, checksums verified (format >= 2). */
static hg_status read_norm(const char *path, hid_t f, int need_sum, hg_norm *nm) {
    HG_TRY(hg_h5_read_norm(path, f, nm));
    static const char *names[] = {"norm/mean", "norm/std"};
    for (int i = 0; i < 2; i++) {
        hg_tensor t;
        HG_TRY(hg_h5_read_tensor(path, f, names[i], &t));
        hg_status s = hg_h5_verify_sum(path, f, names[i], &t, need_sum);
        hg_tensor_free(&t);
        HG_TRY(s);
    }
    return hg_ok();
}

/* Every attribute of the layout (runtime.h), checked for presence, type
 * and range, then the tensors. */
static hg_status load_all(const char *path, hid_t f, const hg_tensor_map *expected, const char *expected_config,
                          hg_checkpoint *ck) {
    int version = 0;
    HG_TRY(check_format(path, f, &version));
    HG_TRY(hg_h5_read_attr_i64(path, f, "step", &ck->step, 1));
    if (ck->step < 0) return hg_error(HG_ERR_FORMAT, "%s: attribute 'step' = %lld is negative", path, (long long)ck->step);
    HG_TRY(hg_h5_read_attr_u64(path, f, "seed", &ck->seed));
    HG_TRY(hg_h5_read_attr_u64(path, f, "dataset_checksum", &ck->dataset_checksum));
    HG_TRY(hg_h5_read_attr_str(path, f, "config", &ck->config_yaml));
    int has_names = hg_h5_has_attr(f, "rng_counter_names"), has_vals = hg_h5_has_attr(f, "rng_counters");
    if (has_names != has_vals)
        return hg_error(HG_ERR_FORMAT, "%s: attributes 'rng_counter_names' and 'rng_counters' must come together", path);
    if (has_names) {
        HG_TRY(hg_h5_read_attr_names(path, f, "rng_counter_names", ck->counter_names, HG_CK_MAX_COUNTERS, &ck->n_counters));
        HG_TRY(hg_h5_read_attr_i64(path, f, "rng_counters", ck->counters, ck->n_counters));
    }
    if (hg_h5_exists(f, "norm")) {
        HG_TRY(read_norm(path, f, version >= 2, &ck->norm));
        ck->has_norm = 1;
    }
    HG_TRY(read_state(path, f, version >= 2, &ck->state));
    if (expected) HG_TRY(compare_state(path, &ck->state, expected));
    if (expected_config) HG_TRY(hg_status_prefix(hg_config_compatible(ck->config_yaml, expected_config), "%s", path));
    return hg_ok();
}

hg_status hg_checkpoint_load(const char *path, const hg_tensor_map *expected, const char *expected_config,
                             hg_checkpoint *ck) {
    hg_checkpoint_free(ck);
    hid_t f;
    HG_TRY(hg_h5_open_read(path, &f));
    hg_status s = load_all(path, f, expected, expected_config, ck);
    H5Fclose(f);
    if (s.code) hg_checkpoint_free(ck);
    return s;
}
