/* libFuzzer: the .npy reader (runtime/npy.c). Any file is read into a
 * tensor whose byte size matches the file's payload, or refused with a
 * message; an accepted tensor written back reads back identical. */
#include "runtime/runtime.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *p = hg_fuzz_file(data, n, ".npy");
    hg_tensor t = {0};
    hg_status s = hg_npy_read(p, &t);
    if (s.code == HG_OK) {
        HG_FUZZ_ASSERT(hg_tensor_bytes(&t) <= n);
        const char *q = hg_fuzz_path(".out.npy");
        HG_FUZZ_ASSERT(hg_npy_write(q, &t).code == HG_OK);
        hg_tensor u = {0};
        HG_FUZZ_ASSERT(hg_npy_read(q, &u).code == HG_OK);
        HG_FUZZ_ASSERT(u.dtype == t.dtype && hg_shape_eq(u.shape, t.shape));
        HG_FUZZ_ASSERT(!memcmp(u.data, t.data, hg_tensor_bytes(&t)));
        hg_tensor_free(&u);
        hg_tensor_free(&t);
        unlink(q);
    } else {
        HG_FUZZ_ASSERT(s.msg[0] != 0 && t.data == NULL);
    }
    unlink(p);
    return 0;
}
