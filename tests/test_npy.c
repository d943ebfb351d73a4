/* .npy reader/writer (runtime/npy.c): round trips, numpy's exact header
 * bytes, versions 2/3 and every refused kind of file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "tests/hg_test.h"

HG_LABELS(fast)

/* Writes a .npy by hand: magic, version, header text padded to 64, data. */
static void write_raw(const char *path, int major, const char *dict, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    size_t pre = major == 1 ? 10 : 12;
    size_t hl = strlen(dict) + 1;
    size_t total = (pre + hl + 63) / 64 * 64;
    size_t hlen = total - pre;
    unsigned char p[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    p[8] = hlen & 0xff;
    p[9] = (hlen >> 8) & 0xff;
    p[10] = p[11] = 0;
    fwrite(p, 1, pre, f);
    fputs(dict, f);
    for (size_t i = hl; i < hlen; i++) fputc(' ', f);
    fputc('\n', f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static long file_bytes(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

HG_TEST(write_matches_numpy_header_bytes) {
    /* numpy.save of np.arange(6, dtype='<f4').reshape(2, 3) writes: magic,
     * version 1.0, header length 118 (little-endian u16), the dict, spaces
     * (20 for the first axis to grow to 21 digits, then up to byte 127),
     * '\n' at byte 127, then the 24 data bytes (as numpy 1.24 writes it). */
    float v[6] = {0, 1, 2, 3, 4, 5};
    hg_tensor t = {HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)3), v, 0};
    const char *p = hg_test_path("h.npy");
    HG_CHECK_OK(hg_npy_write(p, &t));
    unsigned char buf[256];
    long n = file_bytes(p, buf, sizeof buf);
    HG_CHECK(n == 128 + 24);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    HG_CHECK(!memcmp(buf, "\x93NUMPY\x01\x00", 8));
    HG_CHECK(buf[8] == 118 && buf[9] == 0);
    HG_CHECK(!memcmp(buf + 10, dict, strlen(dict)));
    for (size_t i = 10 + strlen(dict); i < 127; i++) HG_CHECK(buf[i] == ' ');
    HG_CHECK(buf[127] == '\n');
    HG_CHECK(!memcmp(buf + 128, v, 24));
    /* rank 1 uses the one-element tuple "(5,)" */
    int32_t w[5] = {1, -2, 3, -4, 5};
    hg_tensor t1 = {HG_I32, hg_shape_of(1, (int64_t)5), w, 0};
    HG_CHECK_OK(hg_npy_write(p, &t1));
    n = file_bytes(p, buf, sizeof buf);
    buf[n < 255 ? n : 255] = 0;
    HG_CHECK(strstr((char *)buf + 10, "'descr': '<i4', 'fortran_order': False, 'shape': (5,), }") != NULL);
}

HG_TEST(round_trip_every_dtype_and_rank) {
    const char *p = hg_test_path("rt.npy");
    hg_dtype types[4] = {HG_F32, HG_F64, HG_I32, HG_BOOL};
    hg_shape shapes[4] = {hg_shape_scalar(), hg_shape_of(1, (int64_t)7), hg_shape_of(2, (int64_t)3, (int64_t)4),
                          hg_shape_of(3, (int64_t)2, (int64_t)1, (int64_t)5)};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++) {
            hg_tensor t, r;
            HG_CHECK_OK(hg_tensor_alloc(&t, types[a], shapes[b]));
            for (int64_t i = 0; i < hg_shape_numel(shapes[b]); i++)
                hg_tensor_set(&t, i, types[a] == HG_BOOL ? (double)(i % 3 == 0) : (double)i * 1.5 - 4);
            HG_CHECK_OK(hg_npy_write(p, &t));
            HG_CHECK_OK(hg_npy_read(p, &r));
            HG_CHECK(r.dtype == t.dtype);
            HG_CHECK(hg_shape_eq(r.shape, t.shape));
            HG_CHECK(!memcmp(r.data, t.data, hg_tensor_bytes(&t)));
            hg_tensor_free(&t);
            hg_tensor_free(&r);
        }
}

HG_TEST(reads_versions_2_and_3) {
    double d[3] = {1.25, -2.5, 1e300};
    for (int major = 2; major <= 3; major++) {
        const char *p = hg_test_path("v23.npy");
        write_raw(p, major, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d, sizeof d);
        hg_tensor r;
        HG_CHECK_OK(hg_npy_read(p, &r));
        HG_CHECK(r.dtype == HG_F64 && r.shape.rank == 1 && r.shape.dim[0] == 3);
        HG_CHECK(((double *)r.data)[0] == 1.25 && ((double *)r.data)[2] == 1e300);
        hg_tensor_free(&r);
    }
    /* double-quoted keys, no trailing comma, bool dtype */
    unsigned char b[4] = {1, 0, 0, 1};
    const char *p = hg_test_path("b.npy");
    write_raw(p, 1, "{\"descr\": \"|b1\", \"fortran_order\": False, \"shape\": (2, 2)}", b, 4);
    hg_tensor r;
    HG_CHECK_OK(hg_npy_read(p, &r));
    HG_CHECK(r.dtype == HG_BOOL && r.shape.rank == 2 && ((unsigned char *)r.data)[3] == 1);
    hg_tensor_free(&r);
}

HG_TEST(refuses_bad_files_by_name) {
    float v[4] = {1, 2, 3, 4};
    hg_tensor r;
    const char *p = hg_test_path("bad.npy");
    write_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "big-endian");
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "Fortran");
    /* Fortran order of a 1-D array is the same bytes: accepted */
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", v, 16);
    HG_CHECK_OK(hg_npy_read(p, &r));
    hg_tensor_free(&r);
    write_raw(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "'<i8' is not supported");
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 8);
    HG_CHECK_ERR(hg_npy_read(p, &r), "truncated");
    HG_CHECK(hg_npy_read(p, &r).code == HG_ERR_FORMAT);
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "trailing bytes");
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "missing 'shape'");
    write_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "bad .npy header");
    write_raw(p, 1, "['descr', '<f4']", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "bad .npy header");
    write_raw(p, 9, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", v, 16);
    HG_CHECK_ERR(hg_npy_read(p, &r), "version 9");
    FILE *f = fopen(p, "wb");
    fputs("PK\x03\x04 this is a zip, not npy", f);
    fclose(f);
    HG_CHECK_ERR(hg_npy_read(p, &r), "bad magic");
    HG_CHECK_ERR(hg_npy_read(p, &r), p); /* names the file */
    f = fopen(p, "wb");
    fwrite("\x93NUMPY\x01\x00\x76\x00{'descr'", 1, 17, f);
    fclose(f);
    HG_CHECK_ERR(hg_npy_read(p, &r), "truncated .npy header");
    HG_CHECK(hg_npy_read(hg_test_path("does-not-exist.npy"), &r).code == HG_ERR_IO);
    unsigned char b[2] = {1, 7};
    write_raw(p, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", b, 2);
    HG_CHECK_ERR(hg_npy_read(p, &r), "byte value 7");
}

HG_TEST(numpy_reads_what_we_write) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("skipped: /usr/bin/python3 not found\n");
        return;
    }
    float v[6] = {0.5f, 1, 2, 3, 4, 1e-30f};
    hg_tensor t = {HG_F32, hg_shape_of(3, (int64_t)1, (int64_t)2, (int64_t)3), v, 0};
    const char *p = hg_test_path("np.npy");
    HG_CHECK_OK(hg_npy_write(p, &t));
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import sys\ntry:\n import numpy as np\nexcept ImportError:\n sys.exit(77)\n"
             "a=np.load('%s'); sys.exit(0 if a.shape==(1,2,3) and a.dtype=='<f4' and a[0,1,2]==np.float32(1e-30) "
             "and a.sum()==np.float32(10.5) else 1)\"",
             p);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("skipped: numpy missing\n");
        return;
    }
    HG_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
}
