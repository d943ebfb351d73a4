/* Importer, CSV/whitespace tables and HDF5 datasets (runtime/import.c,
 * csv.c, dataset.c): good files of both reference layouts and every kind
 * of bad file, made here from tiny arrays. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Tiny catalogue: S=4 sims, N=5 haloes, 7 features; masses in ASCENDING
 * order (Quijote layout) M = (s+1) * 1e13 * (r+1); positions 10 s + r + 1,
 * velocities 100 r - 200; box 100. Halo r=2 of sim 3 has x exactly 100
 * (must wrap to 0). */
#define S_ 4
#define N_ 5
static void make_halos(float *h) {
    for (int s = 0; s < S_; s++)
        for (int r = 0; r < N_; r++) {
            float *row = h + (s * N_ + r) * 7;
            row[0] = (float)(10 * s + r + 1);
            row[1] = (float)(10 * s + r + 2);
            row[2] = (float)(10 * s + r + 3);
            row[3] = (float)(100 * r - 200);
            row[4] = (float)(-100 * r);
            row[5] = (float)(s);
            row[6] = (float)((s + 1) * 1e13 * (r + 1));
        }
    h[((3 * N_) + 2) * 7 + 0] = 100.0f;
}

static const char *write_halos(const char *name, const float *h) {
    const char *p = hg_test_path(name);
    hg_tensor t = {HG_F32, hg_shape_of(3, (int64_t)S_, (int64_t)N_, (int64_t)7), (void *)h, 0};
    hg_status s = hg_npy_write(p, &t);
    if (s.code) fprintf(stderr, "%s\n", s.msg);
    return p;
}

static const char *GOOD_CSV = ",Omega_m,Omega_b,h,n_s,sigma_8\r\n"
                              "0,0.1,0.04,0.6,0.9,0.7\r\n"
                              "1,0.2,0.05,0.7,1.0,0.8\r\n"
                              "2,0.3,0.06,0.8,1.1,0.9\r\n"
                              "3,0.4,0.07,0.9,1.2,1.0\r\n";

static void opts(hg_import_options *o, const char *h, const char *c) {
    hg_import_options_default(o);
    o->halos_path = h;
    o->cosmology_path = c;
    o->box_size = 100;
    o->split[0] = 0.5;
    o->split[1] = 0.25;
    o->split[2] = 0.25;
    o->seed = 3;
}

HG_TEST(import_quijote_layout_resorts_and_wraps) {
    float h[S_ * N_ * 7];
    make_halos(h);
    const char *hp = write_halos("q.npy", h);
    const char *cp = hg_test_path("q.csv");
    write_text(cp, GOOD_CSV); /* index column + CRLF */
    hg_import_options o;
    opts(&o, hp, cp);
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_OK(hg_import(&o, &ds));
    HG_CHECK(hg_dataset_n_sims(&ds) == 4 && hg_dataset_n_points(&ds) == 5 && ds.n_features == 7);
    HG_CHECK(ds.n_params == 5);
    HG_CHECK(!strcmp(ds.param_names[0], "Omega_m") && !strcmp(ds.param_names[4], "sigma_8"));
    HG_CHECK(!strcmp(ds.feature_names[6], "M") && !strcmp(ds.feature_units[3], "km/s"));
    const float *x = ds.halos.data;
    for (int s = 0; s < S_; s++)
        for (int r = 0; r < N_; r++) {
            const float *row = x + (s * N_ + r) * 7;
            int src = N_ - 1 - r; /* descending order = reversed input */
            HG_CHECK_REL(row[6], (s + 1) * 1e13 * (src + 1), 1e-6);
            float want_x = (s == 3 && src == 2) ? 0.0f : (float)(10 * s + src + 1);
            HG_CHECK(row[0] == want_x);
            HG_CHECK(row[3] == (float)(100 * src - 200)); /* rows move whole */
            HG_CHECK(row[5] == (float)s);
        }
    HG_CHECK(((float *)ds.cosmology.data)[2 * 5 + 0] == 0.3f);
    HG_CHECK(((float *)ds.cosmology.data)[3 * 5 + 4] == 1.0f);
    /* split 0.5/0.25/0.25 of 4: 2/1/1, disjoint, covering 0..3 */
    HG_CHECK(ds.split_n[0] == 2 && ds.split_n[1] == 1 && ds.split_n[2] == 1);
    int seen[4] = {0};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < ds.split_n[k]; i++) seen[ds.split[k][i]]++;
    for (int i = 0; i < 4; i++) HG_CHECK(seen[i] == 1);
    HG_CHECK(!strcmp(ds.source, "imported from q.npy"));
    hg_dataset_free(&ds);
}

HG_TEST(import_fastpm_layout_and_params_table) {
    /* fastpm layout: already descending, CSV without index column, LF */
    float h[S_ * N_ * 7];
    make_halos(h);
    for (int s = 0; s < S_; s++) /* reverse rows -> descending */
        for (int r = 0; r < N_ / 2; r++)
            for (int f = 0; f < 7; f++) {
                float t = h[(s * N_ + r) * 7 + f];
                h[(s * N_ + r) * 7 + f] = h[(s * N_ + N_ - 1 - r) * 7 + f];
                h[(s * N_ + N_ - 1 - r) * 7 + f] = t;
            }
    const char *hp = write_halos("f.npy", h);
    const char *cp = hg_test_path("f.csv");
    write_text(cp, "Omega_m,Omega_b,h,n_s,sigma_8,seed\n0.1,0.04,0.6,0.9,0.7,1000\n0.2,0.05,0.7,1.0,0.8,1001\n"
                   "0.3,0.06,0.8,1.1,0.9,1002\n0.4,0.07,0.9,1.2,1.0,1003\n\n");
    hg_import_options o;
    opts(&o, hp, cp);
    hg_dataset a, b;
    hg_dataset_init(&a);
    hg_dataset_init(&b);
    HG_CHECK_OK(hg_import(&o, &a));
    HG_CHECK(a.n_params == 6 && !strcmp(a.param_names[5], "seed"));
    HG_CHECK(((float *)a.cosmology.data)[3 * 6 + 5] == 1003.0f);
    /* Quijote's whitespace table, rows 2..5 for the 4 sims (offset 2) */
    const char *tp = hg_test_path("lh.txt");
    write_text(tp, "#Omega_m   Omega_b  h   n_s  sigma_8\n"
                   "9 9 9 9 9\n8 8 8 8 8\n"
                   "1.000000000000000056e-01 4.0e-02 0.6 0.9 0.7\n"
                   "0.2  0.05 0.7 1.0 0.8\n0.3\t0.06 0.8 1.1 0.9\n0.4 0.07 0.9 1.2 1.0\n7 7 7 7 7\n");
    o.cosmology_path = NULL;
    o.params_path = tp;
    o.params_offset = 2;
    HG_CHECK_OK(hg_import(&o, &b));
    HG_CHECK(b.n_params == 5);
    for (int s = 0; s < 4; s++)
        for (int j = 0; j < 5; j++)
            HG_CHECK(((float *)b.cosmology.data)[s * 5 + j] == ((float *)a.cosmology.data)[s * 6 + j]);
    /* same haloes after re-sorting either layout */
    hg_dataset q;
    hg_dataset_init(&q);
    float hq[S_ * N_ * 7];
    make_halos(hq);
    o.halos_path = write_halos("q2.npy", hq);
    HG_CHECK_OK(hg_import(&o, &q));
    HG_CHECK(!memcmp(q.halos.data, b.halos.data, hg_tensor_bytes(&b.halos)));
    o.params_offset = 4; /* rows 4..7 do not exist */
    HG_CHECK_ERR(hg_import(&o, &q), "row-count mismatch");
    hg_dataset_free(&a);
    hg_dataset_free(&b);
    hg_dataset_free(&q);
}

/* Imports with one defect; the error must contain `want`. */
static int bad_case(const float *h, hg_dtype dt, int rank3, const char *csv, double box, const char *want) {
    const char *hp = hg_test_path("bad.npy");
    if (dt == HG_F32 && rank3) {
        write_halos("bad.npy", h);
    } else if (dt == HG_F64) {
        double d[S_ * N_ * 7];
        for (int i = 0; i < S_ * N_ * 7; i++) d[i] = h[i];
        hg_tensor t = {HG_F64, hg_shape_of(3, (int64_t)S_, (int64_t)N_, (int64_t)7), d, 0};
        hg_npy_write(hp, &t);
    } else if (!rank3) {
        hg_tensor t = {HG_F32, hg_shape_of(2, (int64_t)(S_ * N_), (int64_t)7), (void *)h, 0};
        hg_npy_write(hp, &t);
    } else {
        int32_t iv[S_ * N_ * 7] = {0};
        hg_tensor t = {HG_I32, hg_shape_of(3, (int64_t)S_, (int64_t)N_, (int64_t)7), iv, 0};
        hg_npy_write(hp, &t);
    }
    const char *cp = hg_test_path("bad.csv");
    write_text(cp, csv);
    hg_import_options o;
    opts(&o, hp, cp);
    o.box_size = box;
    hg_dataset ds;
    hg_dataset_init(&ds);
    hg_status s = hg_import(&o, &ds);
    int ok = s.code != HG_OK && strstr(s.msg, want) != NULL && ds.halos.data == NULL;
    if (!ok) fprintf(stderr, "want \"%s\", got code %d \"%s\"\n", want, s.code, s.msg);
    hg_dataset_free(&ds);
    return ok;
}

HG_TEST(import_rejects_wrong_dtype) {
    float h[S_ * N_ * 7];
    make_halos(h);
    HG_CHECK(bad_case(h, HG_I32, 1, GOOD_CSV, 100, "wrong dtype i32"));
}

HG_TEST(import_rejects_bad_values) {
    float h[S_ * N_ * 7];
    make_halos(h);
    HG_CHECK(bad_case(h, HG_F32, 0, GOOD_CSV, 100, "wrong rank"));
    float g[S_ * N_ * 7];
    memcpy(g, h, sizeof g);
    g[(1 * N_ + 2) * 7 + 4] = NAN;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "sim 1, halo 2, column vy: NaN"));
    memcpy(g, h, sizeof g);
    g[(2 * N_ + 0) * 7 + 6] = INFINITY;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "sim 2, halo 0, column M: infinite"));
    memcpy(g, h, sizeof g);
    g[(0 * N_ + 4) * 7 + 1] = 100.5f;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "column y = 100.5 outside the box [0, 100]"));
    memcpy(g, h, sizeof g);
    g[(0 * N_ + 1) * 7 + 2] = -0.25f;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "column z = -0.25 outside"));
    memcpy(g, h, sizeof g);
    g[(3 * N_ + 3) * 7 + 6] = 0;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "sim 3, halo 3, column M = 0: mass must be > 0"));
    g[(3 * N_ + 3) * 7 + 6] = -5e13f;
    HG_CHECK(bad_case(g, HG_F32, 1, GOOD_CSV, 100, "mass must be > 0"));
    /* float64 input is accepted (and a value overflowing float32 refused) */
    HG_CHECK(!bad_case(h, HG_F64, 1, GOOD_CSV, 100, "x"));
    HG_CHECK(bad_case(h, HG_F32, 1, GOOD_CSV, 0, "box size is required"));
}

HG_TEST(import_rejects_bad_tables) {
    float h[S_ * N_ * 7];
    make_halos(h);
    HG_CHECK(bad_case(h, HG_F32, 1,
                      ",Omega_m,sigma_8\n0,0.1,0.7\n1,0.2,0.8\n2,0.3,0.9\n", 100,
                      "row-count mismatch: 3 cosmology rows"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,h\n0.1,0.7\n0.2,0.8\n0.3,0.9\n0.4,1\n", 100,
                      "missing column 'sigma_8'"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,sigma_8\n0.1,0.7\n0.2,0.8\nabc,0.9\n0.4,1\n", 100,
                      "bad.csv:4: column Omega_m: non-numeric value 'abc'"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,sigma_8\n0.1,0.7\n0.2\n0.3,0.9\n0.4,1\n", 100,
                      "bad.csv:3: 1 fields, the header has 2"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,sigma_8\n0.1,0.7\n0.2,\n0.3,0.9\n0.4,1\n", 100,
                      "bad.csv:3: column sigma_8: empty value"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,sigma_8\n0.1,0.7\n0.2,nan\n0.3,0.9\n0.4,1\n", 100,
                      "column sigma_8: non-finite value 'nan'"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,Omega_m,sigma_8\n", 100, "duplicate column name 'Omega_m'"));
    HG_CHECK(bad_case(h, HG_F32, 1, "", 100, "empty file"));
    HG_CHECK(bad_case(h, HG_F32, 1, "Omega_m,sigma_8\r\n", 100, "no data rows"));
}

HG_TEST(import_rejects_bad_npy_files) {
    const char *hp = hg_test_path("broken.npy");
    const char *cp = hg_test_path("ok.csv");
    write_text(cp, GOOD_CSV);
    hg_import_options o;
    opts(&o, hp, cp);
    hg_dataset ds;
    hg_dataset_init(&ds);
    float h[S_ * N_ * 7];
    make_halos(h);
    write_halos("broken.npy", h);
    HG_CHECK_OK(truncate(hp, 128 + 100) == 0 ? hg_ok() : hg_error(HG_ERR_IO, "truncate"));
    HG_CHECK_ERR(hg_import(&o, &ds), "truncated");
    static const char hdr[] = "\x93NUMPY\x01\x00\x10\x00{'descr': 5}   \n";
    FILE *hf = fopen(hp, "wb");
    fwrite(hdr, 1, sizeof hdr - 1, hf);
    fclose(hf);
    HG_CHECK_ERR(hg_import(&o, &ds), "bad .npy header");
    write_text(hp, "x,y,z\n1,2,3\n");
    HG_CHECK_ERR(hg_import(&o, &ds), "bad magic");
    HG_CHECK_ERR(hg_import(&o, &ds), "broken.npy");
    o.halos_path = hg_test_path("nothing-here.npy");
    HG_CHECK(hg_import(&o, &ds).code == HG_ERR_IO);
    HG_CHECK(ds.halos.data == NULL);
}

/* FNV-1a 64 written out here from its definition (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3), to check the library's. */
static uint64_t fnv(uint64_t h, const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

HG_TEST(save_load_round_trip_and_checksum) {
    float h[S_ * N_ * 7];
    make_halos(h);
    const char *cp = hg_test_path("rt.csv");
    write_text(cp, GOOD_CSV);
    hg_import_options o;
    opts(&o, write_halos("rt.npy", h), cp);
    o.redshift = 0.5;
    o.licence = "MIT";
    hg_dataset a, b;
    hg_dataset_init(&a);
    hg_dataset_init(&b);
    HG_CHECK_OK(hg_import(&o, &a));
    const char *dp = hg_test_path("rt.h5");
    HG_CHECK_OK(hg_dataset_save(dp, &a));
    HG_CHECK_OK(hg_dataset_load(dp, &b));
    HG_CHECK(!memcmp(a.halos.data, b.halos.data, hg_tensor_bytes(&a.halos)));
    HG_CHECK(!memcmp(a.cosmology.data, b.cosmology.data, hg_tensor_bytes(&a.cosmology)));
    HG_CHECK(b.box_size == 100 && b.redshift == 0.5 && b.split_seed == 3);
    HG_CHECK(!strcmp(b.licence, "MIT") && !strcmp(b.feature_units[6], "Msun/h") && !strcmp(b.param_names[1], "Omega_b"));
    for (int k = 0; k < 3; k++) {
        HG_CHECK(a.split_n[k] == b.split_n[k]);
        HG_CHECK(!memcmp(a.split[k], b.split[k], sizeof(int32_t) * a.split_n[k]));
    }
    /* format 2: halos, cosmology, counts, then the three index lists */
    uint64_t want = fnv(0xcbf29ce484222325ULL, a.halos.data, hg_tensor_bytes(&a.halos));
    want = fnv(want, a.cosmology.data, hg_tensor_bytes(&a.cosmology));
    want = fnv(want, a.counts.data, hg_tensor_bytes(&a.counts));
    for (int k = 0; k < 3; k++) want = fnv(want, (const unsigned char *)a.split[k], sizeof(int32_t) * (size_t)a.split_n[k]);
    HG_CHECK(hg_dataset_checksum(&a) == want && b.checksum == want);
    /* edit one value behind the library's back: the load notices */
    hid_t f = H5Fopen(dp, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "halos", H5P_DEFAULT);
    float *x = a.halos.data;
    x[3] += 1;
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d);
    H5Fclose(f);
    HG_CHECK_ERR(hg_dataset_load(dp, &b), "checksum mismatch");
    HG_CHECK(b.halos.data == NULL);
    /* a truncated file is refused, and so is a missing one */
    FILE *src = fopen(dp, "rb");
    char buf[600];
    size_t n = fread(buf, 1, sizeof buf, src);
    fclose(src);
    const char *tp = hg_test_path("trunc.h5");
    FILE *dst = fopen(tp, "wb");
    fwrite(buf, 1, n, dst);
    fclose(dst);
    HG_CHECK(hg_dataset_load(tp, &b).code != HG_OK);
    HG_CHECK(hg_dataset_load(hg_test_path("none.h5"), &b).code == HG_ERR_IO);
    hg_dataset_free(&a);
    hg_dataset_free(&b);
}

HG_TEST(save_refuses_invalid_and_leaves_no_file) {
    float h[S_ * N_ * 7];
    make_halos(h);
    const char *cp = hg_test_path("inv.csv");
    write_text(cp, GOOD_CSV);
    hg_import_options o;
    opts(&o, write_halos("inv.npy", h), cp);
    hg_dataset a;
    hg_dataset_init(&a);
    HG_CHECK_OK(hg_import(&o, &a));
    ((float *)a.halos.data)[0] = 150; /* x outside the box */
    const char *dp = hg_test_path("inv.h5");
    HG_CHECK_ERR(hg_dataset_save(dp, &a), "outside [0, 100)");
    HG_CHECK(access(dp, F_OK) != 0);
    ((float *)a.halos.data)[0] = 1;
    float *m0 = (float *)a.halos.data + 6, *m1 = (float *)a.halos.data + 7 + 6;
    float t = *m0;
    *m0 = *m1 / 2; /* first halo lighter than the second */
    HG_CHECK_ERR(hg_dataset_save(dp, &a), "not sorted by mass descending");
    *m0 = t;
    a.split[1][0] = a.split[0][0];
    HG_CHECK_ERR(hg_dataset_save(dp, &a), "in two splits");
    HG_CHECK(access(dp, F_OK) != 0);
    hg_dataset_free(&a);
}

HG_TEST(splits_are_seeded_and_sized) {
    hg_dataset ds;
    hg_dataset_init(&ds);
    HG_CHECK_OK(hg_tensor_alloc(&ds.halos, HG_F32, hg_shape_of(3, (int64_t)270, (int64_t)1, (int64_t)3)));
    double f[3] = {0.8, 0.1, 0.1};
    HG_CHECK_OK(hg_dataset_make_splits(&ds, f, 52));
    HG_CHECK(ds.split_n[0] == 216 && ds.split_n[1] == 27 && ds.split_n[2] == 27);
    int32_t first[27];
    memcpy(first, ds.split[1], sizeof first);
    HG_CHECK_OK(hg_dataset_make_splits(&ds, f, 52));
    HG_CHECK(!memcmp(first, ds.split[1], sizeof first)); /* same seed, same split */
    HG_CHECK_OK(hg_dataset_make_splits(&ds, f, 53));
    HG_CHECK(memcmp(first, ds.split[1], sizeof first) != 0);
    for (int i = 1; i < 27; i++) HG_CHECK(ds.split[1][i] > ds.split[1][i - 1]);
    double bad[3] = {0.5, 0.2, 0.2};
    HG_CHECK_ERR(hg_dataset_make_splits(&ds, bad, 1), "do not sum to 1");
    double empty[3] = {0, 0.5, 0.5};
    HG_CHECK_ERR(hg_dataset_make_splits(&ds, empty, 1), "train split empty");
    hg_dataset_free(&ds);
}
