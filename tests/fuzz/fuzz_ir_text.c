/* libFuzzer: the IR text parser (ir/text.c, hg_parse). Any input either
 * parses into a verified graph or is refused with a message; a graph that
 * parses prints to text that parses again into the same text. */
#include "ir/ir.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = hg_fuzz_string(data, n);
    hg_graph *g = NULL;
    hg_status s = hg_parse(text, &g);
    if (s.code == HG_OK) {
        HG_FUZZ_ASSERT(g != NULL);
        char *a = hg_print_string(g);
        HG_FUZZ_ASSERT(a != NULL);
        hg_graph *g2 = NULL;
        hg_status s2 = hg_parse(a, &g2);
        if (s2.code != HG_OK) fprintf(stderr, "re-parse failed: %s\n", s2.msg);
        HG_FUZZ_ASSERT(s2.code == HG_OK);
        char *b = hg_print_string(g2);
        HG_FUZZ_ASSERT(b && !strcmp(a, b));
        free(a);
        free(b);
        hg_graph_free(g2);
    } else {
        HG_FUZZ_ASSERT(s.msg[0] != 0);
    }
    if (g) hg_graph_free(g);
    free(text);
    return 0;
}
