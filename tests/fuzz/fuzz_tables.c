/* libFuzzer: the CSV and Quijote (whitespace) table readers
 * (runtime/csv.c). The same bytes go to both; an accepted table has
 * finite values, 1..HG_TABLE_MAX_COLS named, distinct columns. */
#include <math.h>

#include "runtime/runtime.h"
#include "tests/fuzz/fuzz_util.h"

static void check(const hg_table *t) {
    HG_FUZZ_ASSERT(t->n_rows >= 1 && t->n_cols >= 1 && t->n_cols <= HG_TABLE_MAX_COLS);
    for (int c = 0; c < t->n_cols; c++) {
        HG_FUZZ_ASSERT(hg_table_col(t, t->names[c]) == c);
        HG_FUZZ_ASSERT(strlen(t->names[c]) < HG_TABLE_NAME_MAX);
    }
    for (int64_t i = 0; i < (int64_t)t->n_rows * t->n_cols; i++) HG_FUZZ_ASSERT(isfinite(t->values[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const char *p = hg_fuzz_file(data, n, ".csv");
    for (int kind = 0; kind < 2; kind++) {
        hg_table t;
        memset(&t, 0, sizeof t);
        hg_status s = kind ? hg_table_read_whitespace(p, &t) : hg_table_read_csv(p, &t);
        if (s.code == HG_OK) {
            check(&t);
            hg_table_free(&t);
        } else {
            HG_FUZZ_ASSERT(s.msg[0] != 0);
        }
    }
    unlink(p);
    return 0;
}
