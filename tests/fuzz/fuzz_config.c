/* libFuzzer: the YAML config loader (models/config.c via libyaml). Any
 * input is parsed or refused with a message; an accepted config written
 * back as YAML (hg_config_to_yaml) parses again to the same YAML. */
#include "models/models.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char *text = hg_fuzz_string(data, n);
    hg_config c;
    hg_status s = hg_config_parse(text, "fuzz.yaml", &c);
    if (s.code == HG_OK) {
        char *a = hg_config_to_yaml(&c);
        HG_FUZZ_ASSERT(a != NULL);
        hg_config c2;
        hg_status s2 = hg_config_parse(a, "again.yaml", &c2);
        if (s2.code != HG_OK) fprintf(stderr, "re-parse failed: %s\n", s2.msg);
        HG_FUZZ_ASSERT(s2.code == HG_OK);
        char *b = hg_config_to_yaml(&c2);
        HG_FUZZ_ASSERT(b && !strcmp(a, b));
        /* the size estimate is total (checked arithmetic) on any valid config */
        hg_model_size est;
        hg_model_estimate(&c, c.batch_size, 1, &est);
        HG_FUZZ_ASSERT(est.params >= 0 && est.total_bytes >= est.state_bytes);
        free(a);
        free(b);
    } else {
        HG_FUZZ_ASSERT(s.msg[0] != 0);
    }
    free(text);
    return 0;
}
