/* libFuzzer: the HDF5 dataset and checkpoint loaders (runtime/dataset.c,
 * runtime/checkpoint.c). Structure-aware: the input is not an HDF5 image
 * (byte-flipping one mostly exercises libhdf5's own parser) but a recipe
 * of datasets and attributes, with names, dtypes, shapes and values drawn
 * from the layouts' vocabulary, written with the HDF5 API to a temp file
 * that the loader under test then reads. Optionally the recipe asks for
 * correct checksums, so that inputs reach the checks behind them.
 *
 * Recipe: byte 0 flags (bit 1: fill in the dataset checksum attribute,
 * bit 2: per-tensor checksum attributes, bit 3: the dataset checksum in
 * the format-1 formula); then records: op (0 dataset, 1 root attribute,
 * 2 attribute of the last dataset), name index, type (low nibble: f32,
 * f64, i32, i64, u64, u8, bool enum, vlen string, fixed string; bit 7:
 * one byte per element holding a small value), rank (0..4; attributes
 * 0..1), one byte per dimension (0..8), then the element bytes.
 * Built twice: HG_FUZZ_CHECKPOINT 0 (hg_dataset_load) and 1
 * (hg_checkpoint_load). */
#include <hdf5.h>
#include <malloc.h>

#include "runtime/h5_internal.h"
#include "tests/fuzz/fuzz_util.h"

#ifndef HG_FUZZ_CHECKPOINT
#define HG_FUZZ_CHECKPOINT 0
#endif

static const char *names[] = {
    "halos", "counts", "cosmology", "split/train", "split/val", "split/test", "state/score/kernel",
    "state/opt/m/score/kernel", "state/x", "norm/mean", "norm/std", "state", "split", "format", "box_size",
    "redshift", "feature_names", "feature_units", "source", "licence", "split_seed", "split_fractions",
    "checksum", "names", "step", "seed", "config", "dataset_checksum", "rng_counter_names", "rng_counters",
};
#define N_NAMES ((int)(sizeof names / sizeof names[0]))

static const char *strings[] = {
    "halograph-dataset-2", "halograph-dataset-1", "halograph-dataset-3", "halograph-checkpoint-2",
    "halograph-checkpoint-1", "halograph-checkpoint-x", "x", "y", "z", "vx", "vy", "vz", "M", "Omega_m",
    "sigma_8", "score/kernel", "opt/m/score/kernel", "x/../y", "", "score:\n  d_model: 16\n", "Mpc/h", "x",
};
#define N_STRINGS ((int)(sizeof strings / sizeof strings[0]))

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static int next(reader *r) {
    if (!r->n) return -1;
    r->n--;
    return *r->p++;
}

static hid_t bool_t(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t f = 0, tr = 1;
    H5Tenum_insert(t, "FALSE", &f);
    H5Tenum_insert(t, "TRUE", &tr);
    return t;
}

/* Element type `k` as (file and memory type, element size); *own set when
 * the caller must close it. */
static hid_t type_of(int k, size_t *size, int *own) {
    *own = 0;
    switch (k) {
    case 0: *size = 4; return H5T_NATIVE_FLOAT;
    case 1: *size = 8; return H5T_NATIVE_DOUBLE;
    case 2: *size = 4; return H5T_NATIVE_INT32;
    case 3: *size = 8; return H5T_NATIVE_INT64;
    case 4: *size = 8; return H5T_NATIVE_UINT64;
    case 5: *size = 1; return H5T_NATIVE_UINT8;
    case 6: *own = 1; *size = 1; return bool_t();
    case 7: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        *own = 1;
        *size = sizeof(char *);
        return t;
    }
    default: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 8);
        *own = 1;
        *size = 8;
        return t;
    }
    }
}

/* Fills buf with `count` elements of type k from the recipe. */
static void fill(reader *r, int k, int small, size_t size, int64_t count, uint8_t *buf) {
    for (int64_t i = 0; i < count; i++) {
        uint8_t *e = buf + i * size;
        if (k == 7) {
            int v = next(r);
            *(const char **)e = strings[(v < 0 ? 0 : v) % N_STRINGS];
        } else if (k >= 8) {
            int v = next(r);
            strncpy((char *)e, strings[(v < 0 ? 0 : v) % N_STRINGS], 8);
        } else if (small) {
            int v = next(r);
            v = v < 0 ? 0 : v;
            switch (k) {
            case 0: *(float *)e = (float)v / 4.0f; break;
            case 1: *(double *)e = (double)v / 4.0; break;
            case 2: *(int32_t *)e = v - 16; break;
            case 3: *(int64_t *)e = v - 16; break;
            case 4: *(uint64_t *)e = (uint64_t)v; break;
            default: *e = (uint8_t)v; break;
            }
        } else {
            for (size_t j = 0; j < size; j++) {
                int v = next(r);
                e[j] = (uint8_t)(v < 0 ? 0 : v);
            }
        }
    }
}

static void record(reader *r, hid_t f, int tensor_sums, char *last) {
    int op = next(r), ni = next(r), ty = next(r), rk = next(r);
    if (rk < 0) return;
    op %= 3;
    const char *name = names[ni % N_NAMES];
    int k = (ty & 0x0f) % 9, small = ty & 0x80;
    int rank = op == 0 ? rk % 5 : rk % 2;
    hsize_t d[4];
    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        int v = next(r);
        d[i] = (hsize_t)((v < 0 ? 1 : v) % 9);
        count *= (int64_t)d[i];
    }
    size_t size;
    int own;
    hid_t t = type_of(k, &size, &own);
    uint8_t *buf = calloc((size_t)(count ? count : 1), size);
    if (!buf) abort();
    fill(r, k, small, size, count, buf);
    hid_t sp = rank ? H5Screate_simple(rank, d, NULL) : H5Screate(H5S_SCALAR);
    if (op == 0) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t ds = H5Dcreate2(f, name, t, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (ds >= 0) {
            if (count) H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            if (tensor_sums && k != 7) {
                uint64_t h = hg_fnv1a64(HG_FNV_OFFSET, buf, (size_t)count * size);
                hid_t as = H5Screate(H5S_SCALAR);
                hid_t a = H5Acreate2(ds, HG_H5_SUM_ATTR, H5T_NATIVE_UINT64, as, H5P_DEFAULT, H5P_DEFAULT);
                if (a >= 0) {
                    H5Awrite(a, H5T_NATIVE_UINT64, &h);
                    H5Aclose(a);
                }
                H5Sclose(as);
            }
            H5Dclose(ds);
            snprintf(last, 64, "%s", name);
        }
        H5Pclose(lcpl);
    } else {
        hid_t obj = op == 1 || !last[0] ? f : H5Oopen(f, last, H5P_DEFAULT);
        if (obj >= 0) {
            if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
            hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
            if (a >= 0) {
                H5Awrite(a, t, buf);
                H5Aclose(a);
            }
            if (obj != f) H5Oclose(obj);
        }
    }
    H5Sclose(sp);
    if (own) H5Tclose(t);
    free(buf);
}

/* The dataset checksum attribute over what the file holds. */
static void dataset_sum(const char *path, hid_t f, int v1) {
    static const char *parts[] = {"halos", "cosmology", "counts", "split/train", "split/val", "split/test"};
    uint64_t h = HG_FNV_OFFSET;
    for (int i = 0; i < (v1 ? 2 : 6); i++) {
        hg_tensor t;
        if (hg_h5_read_tensor(path, f, parts[i], &t).code) continue;
        h = hg_fnv1a64(h, t.data, hg_tensor_bytes(&t));
        hg_tensor_free(&t);
    }
    hg_h5_attr_u64(path, f, "checksum", h);
}

/* HDF5 callocs about a megabyte of cache per open file; keep glibc from
 * returning it to the kernel after every input (page faults were half the
 * time of the UBSan-only build). No effect under ASan. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (n < 1 || n > 4096) return 0;
    hg_h5_quiet();
    reader r = {data + 1, n - 1};
    int flags = data[0];
    const char *path = hg_fuzz_path(".h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) abort();
    char last[64] = "";
    while (r.n) record(&r, f, flags & 4, last);
    if (flags & 2) dataset_sum(path, f, flags & 8);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
#if HG_FUZZ_CHECKPOINT
    hg_checkpoint ck;
    hg_checkpoint_init(&ck);
    hg_status s = hg_checkpoint_load(path, NULL, NULL, &ck);
    if (s.code == HG_OK) {
        for (int i = 0; i < ck.state.n; i++) HG_FUZZ_ASSERT(ck.state.e[i].t.data != NULL);
        HG_FUZZ_ASSERT(ck.step >= 0 && ck.n_counters <= HG_CK_MAX_COUNTERS);
    } else {
        HG_FUZZ_ASSERT(s.msg[0] != 0 && ck.state.n == 0);
    }
    hg_checkpoint_free(&ck);
#else
    hg_dataset ds;
    hg_dataset_init(&ds);
    hg_status s = hg_dataset_load(path, &ds);
    if (s.code == HG_OK) {
        /* what every command relies on after a load */
        HG_FUZZ_ASSERT(ds.counts.data && ds.halos.data && ds.cosmology.data);
        HG_FUZZ_ASSERT(hg_dataset_validate(&ds).code == HG_OK);
        for (int k = 0; k < HG_NUM_SPLITS; k++) HG_FUZZ_ASSERT(ds.split_n[k] == 0 || ds.split[k]);
    } else {
        HG_FUZZ_ASSERT(s.msg[0] != 0 && ds.halos.data == NULL);
    }
    hg_dataset_free(&ds);
#endif
    unlink(path);
    return 0;
}
